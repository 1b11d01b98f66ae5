"""Every product module (and the registry) imports on its own, first, in a fresh interpreter, and no
product module imports another product or the registry: products meet only in the build."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["products.web_server", "products.account_baseline", "products.launch_role", "products.registry",
           "generator.product"]


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_first_in_a_fresh_interpreter(module):
    code = (f"import {module} as m\n"
            "from products.registry import REGISTRY\n"
            "from generator.product import KINDS, ProductSpec\n"
            "assert all(isinstance(s, ProductSpec) and s.kind in KINDS for s in REGISTRY.values())\n"
            "assert getattr(m, 'SPEC', None) is None or REGISTRY[m.SPEC.name] is m.SPEC\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"import {module} first failed:\n{done.stderr}"


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "products").glob("*.py")
                                        if p.name not in ("__init__.py", "registry.py")), ids=lambda p: p.name)
def test_a_product_module_imports_no_other_product_nor_the_registry(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | \
        {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m == "products" or m.startswith("products.")}, imported
