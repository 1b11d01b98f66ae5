"""Human output by default, machine-readable output with ``--json``; progress goes to stderr."""

from __future__ import annotations

import datetime
import json
import shutil
import sys
import textwrap
import time
from typing import Any, Iterable, Sequence


def add_json_flag(p) -> None:
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def progress(message: str) -> None:
    """One line of progress on stderr (never mixed into --json output on stdout)."""
    print(f"  {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def quiet(_message: str) -> None:
    pass


def elapsed(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Waiting:
    """Progress of a long wait on stderr.  ``line`` prints a line that stays (a stack event, a step);
    ``status(what, seconds)`` shows what is being waited for and for how long: on a terminal as one line
    rewritten in place, elsewhere (a pipe, a CI log) as a plain line when ``what`` changes and every
    ``every`` seconds.  ``end`` clears the status line.  Quiet (nothing at all) with ``--json``."""

    def __init__(self, *, quiet: bool = False, stream=None, every: float = 30.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self._shown = ""                      # the status line on the terminal now
        self._last: tuple[str, float] = ("", -every)

    def line(self, message: str) -> None:
        if self.quiet:
            return
        shown = self._shown
        self.end()
        print(f"  {time.strftime('%H:%M:%S')} {message}", file=self.stream, flush=True)
        if shown:
            self._draw(shown)

    def status(self, what: str, seconds: float) -> None:
        if self.quiet:
            return
        text = f"{what} ({elapsed(seconds)})"
        if self.tty:
            self._draw(text)
        elif what != self._last[0] or seconds - self._last[1] >= self.every:
            self._last = (what, seconds)
            self.line(text)

    def end(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = ""

    def _draw(self, text: str) -> None:
        self.stream.write(f"\r\033[K  {text}")
        self.stream.flush()
        self._shown = text


def ask(question: str) -> bool:
    """Ask a yes/no question on the terminal (stderr, stdin); Ctrl-C or end of input answers no."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    if not answer.endswith("\n"):
        print(file=sys.stderr)
    return answer.strip().lower() in ("y", "yes")


def is_terminal() -> bool:
    """Whether someone can be asked: standard input is a terminal."""
    return sys.stdin.isatty()


def emit_json(data: Any) -> None:
    """``data`` as JSON on stdout: sorted keys, times in ISO 8601 (e.g. ``2026-01-01T00:00:00+00:00``)."""
    print(json.dumps(data, indent=2, sort_keys=True, default=_json_value))


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def width() -> int:
    """Columns to wrap prose to: the terminal's, at most 100 (80 when not a terminal)."""
    return min(shutil.get_terminal_size((80, 24)).columns, 100)


def wrap(text: str, indent: str, first: str | None = None) -> str:
    """``text`` wrapped to :func:`width`, every line indented by ``indent`` (the first by ``first`` if given)."""
    return textwrap.fill(" ".join(text.split()), width=width(), initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_on_hyphens=False, break_long_words=False)
