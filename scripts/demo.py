"""``make demo``: the catalog's whole workflow against a local AWS endpoint (see generator/devtools/demo.py)."""

import sys

from generator.devtools.demo import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
