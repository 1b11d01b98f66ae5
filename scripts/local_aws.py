"""``make local-aws``: the local AWS endpoint in the foreground (see generator/devtools/local_aws/server.py)."""

import sys

from generator.devtools.local_aws.server import run

if __name__ == "__main__":
    run(sys.argv[1:])
