"""Golden files: each rendered product is compared, as parsed JSON, with tests/golden/<product>.json.

A mismatch prints a unified diff.  To accept a change, rewrite the golden files and review the diff
like code:  make golden   (or UPDATE_GOLDEN=1 pytest tests/test_golden.py)
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from products.registry import REGISTRY

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _pretty(data) -> list[str]:
    return json.dumps(data, indent=2, sort_keys=True).splitlines(keepends=True)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_golden(name, rendered):
    path = GOLDEN / f"{name}.json"
    actual = rendered[name].template
    if UPDATE:
        path.write_text("".join(_pretty(actual)) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; create it with `make golden` and review it"
    expected = json.loads(path.read_text(encoding="utf-8"))
    if expected != actual:
        diff = "".join(difflib.unified_diff(_pretty(expected), _pretty(actual),
                                            fromfile=f"golden/{name}.json", tofile=f"rendered {name}"))
        pytest.fail(f"{name} differs from its golden file (accept with `make golden`):\n{diff}", pytrace=False)
