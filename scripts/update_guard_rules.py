"""``make guard-rules``: re-vendor the Guard HIPAA rule set from a registry checkout (generator/compliance/guard_vendor.py)."""

import sys

from generator.compliance.guard_vendor import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
