"""``make local-aws``: the local AWS endpoint in the foreground (see generator/devtools/local_aws/server.py)."""

import sys

from generator.devtools.local_aws.server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
