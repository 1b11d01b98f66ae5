"""``make bench``: build and publish benchmark with targets (see generator/devtools/bench.py)."""

import sys

from generator.devtools.bench import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
