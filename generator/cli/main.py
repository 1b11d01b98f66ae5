"""The ``hipaa-catalog`` command.  The one place where errors become a message and an exit code.

Subcommands live in ``generator/cli/<name>.py``; each module has ``register(subparsers)``
which adds its parser and sets ``func`` to a function ``(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from generator import __version__
from generator.errors import CatalogError

# One module per subcommand (or group of subcommands), in the order `--help` lists them.
COMMAND_MODULES = ["build", "lint", "report", "publish", "deploy", "developer"]

EPILOG = """\
examples:
  template author      hipaa-catalog build                 render, lint and report every product into build/
                       hipaa-catalog lint other.yaml       the same checks on any template file
  administrator        hipaa-catalog deploy-baseline -p AdministratorEmail=sec@example.org -p VpcId=vpc-0abc ...
                       hipaa-catalog deploy-launch-role
  release engineer     hipaa-catalog publish --dry-run     the plan, no write call; then without --dry-run
  developer            hipaa-catalog products
                       hipaa-catalog launch healthcare-web-server --name clinic-test -p Environment=TEST ...
                       hipaa-catalog status clinic-test --json

Every subcommand has --help with examples and --json; --debug shows the traceback of an error.
AWS settings come from the standard variables: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL
(set AWS_ENDPOINT_URL=http://127.0.0.1:4566 to use `make local-aws` instead of AWS).
"""


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the command modules up to the one that handles it are
    imported (the others load boto3 or cfn-lint, which a no-change ``build`` should not wait for)."""
    p = argparse.ArgumentParser(
        prog="hipaa-catalog",
        description="Build, validate, publish and launch HIPAA-compliant AWS Service Catalog products.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    p.add_argument("--settings", metavar="PATH", default=None,
                   help="catalog settings file (default: products/catalog.toml)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = _command_word(argv)
    for name in COMMAND_MODULES:
        importlib.import_module(f"generator.cli.{name}").register(sub)
        if wanted and wanted in sub.choices:
            break
    return p


def _command_word(argv: list[str] | None) -> str:
    """The subcommand named in ``argv`` ("" if none, or if help is asked for)."""
    words = list(argv or [])
    if any(w in ("-h", "--help", "--version") for w in words):
        return ""
    while words:
        word = words.pop(0)
        if word == "--settings":
            words = words[1:]
        elif not word.startswith("-"):
            return word
    return ""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CatalogError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"hipaa-catalog: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hipaa-catalog: interrupted; a re-run finishes the job", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
