"""The ``hipaa-catalog`` command.  The one place where errors become a message and an exit code.

Subcommands live in ``generator/cli/<name>.py``; each module has ``register(subparsers)``
which adds its parser and sets ``func`` to a function ``(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
import traceback
from typing import NoReturn

from generator import __version__
from generator.cli import output
from generator.errors import CatalogError, Interrupted, UsageError

# One module per subcommand (or group of subcommands), in the order `--help` lists them.
COMMAND_MODULES = ["build", "lint", "report", "publish", "deploy", "doctor", "accounts", "developer"]

EPILOG = """\
examples:
  template author      hipaa-catalog build                 render, lint and report every product into build/
                       hipaa-catalog lint other.yaml       the same checks on any template file
  administrator        hipaa-catalog deploy-baseline -p AdministratorEmail=sec@example.org -p VpcId=vpc-0abc ...
                       hipaa-catalog deploy-launch-role
                       hipaa-catalog doctor                what a web server launch still needs in the account
                       hipaa-catalog accounts              every account of the organisation: stacks, portfolio, products
  release engineer     hipaa-catalog publish --dry-run     the plan, no write call; then without --dry-run
  developer            hipaa-catalog products
                       hipaa-catalog launch healthcare-web-server --name clinic-test -p Environment=TEST ...
                       hipaa-catalog release clinic-test --revision main --no-wait
                       hipaa-catalog status clinic-test --watch     follow the last request until it ends
                       hipaa-catalog terminate clinic-test --yes

Every subcommand has --help with examples and --json; --debug shows the traceback of an error.
Long commands show their progress on stderr; Ctrl-C stops them and says what was done and what to do next.
AWS settings come from the standard variables: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL
(set AWS_ENDPOINT_URL=http://127.0.0.1:4566 to use `make local-aws` instead of AWS).
"""


def parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given ``argv``, only the command modules up to the one that handles it are
    imported (the others load boto3 or cfn-lint, which a no-change ``build`` should not wait for)."""
    p = _Parser(
        prog="hipaa-catalog",
        description="Build, validate, publish and launch HIPAA-compliant AWS Service Catalog products.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error (anywhere on the line)")
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


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error raises ``UsageError`` (carrying the usage text), so that
    ``main`` reports it like any other error, as JSON too."""

    def error(self, message: str):
        raise UsageError(message, usage=self.format_usage(), hint=f"see `{self.prog} --help`")


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


def error_code(exc: CatalogError) -> str:
    """The ``code`` of a JSON error: AWS's error code when AWS answered, else the error's class name."""
    return getattr(exc, "code", "") or type(exc).__name__


def report_error(exc: CatalogError, as_json: bool) -> int:
    """The one place an error becomes a message: one line on stderr, or with --json a JSON object on
    stdout (``{"error": {"code", "message", "hint"}}``, beside what the command had done, ``exc.result``, if
    anything); the exit code is the error's."""
    if as_json:
        output.emit_json({**(exc.result or {}),
                          "error": {"code": error_code(exc), "message": exc.message, "hint": exc.hint or ""}})
    else:
        print(f"hipaa-catalog: error: {exc}", file=sys.stderr)
    return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # --debug and --json are honoured wherever they stand, so even a usage error can be reported as JSON.
    debug, as_json = "--debug" in argv, "--json" in argv
    argv = [a for a in argv if a != "--debug"]
    try:
        args = parser(argv).parse_args(argv)
    except UsageError as exc:
        if not as_json:
            print(exc.usage, end="", file=sys.stderr)
        return report_error(exc, as_json)
    try:
        return int(args.func(args) or 0)
    except CatalogError as exc:
        if debug:
            traceback.print_exc()
        return report_error(exc, getattr(args, "json", False))
    except KeyboardInterrupt:
        return report_error(Interrupted("interrupted"), getattr(args, "json", False))


def run() -> NoReturn:
    """The ``hipaa-catalog`` command: :func:`main`, then the process ends with its exit code.  When the command
    left nothing running (its one thread; files, pools and temporary folders are closed by then), it ends at
    once: the interpreter's usual teardown, freeing every object of boto3's and cfn-lint's modules, would add
    about 0.18 s to every command (``os._exit``: "Exit the process with status n, without calling cleanup
    handlers, flushing stdio buffers, etc.", https://docs.python.org/3/library/os.html#os._exit; so stdout and
    stderr are flushed first).  Otherwise, or when the output cannot be flushed (a closed pipe), the normal
    exit does what it does."""
    code = main()
    if threading.active_count() == 1:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            sys.exit(code)
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
