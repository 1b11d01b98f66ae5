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
