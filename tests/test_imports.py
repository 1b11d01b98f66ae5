"""Every product module (and the registry) imports on its own, first, in a fresh interpreter.

The registry imports the product modules; a product module that imported the registry back (for
``ProductSpec``) failed with a circular import whenever it was the first one imported.
"""

from __future__ import annotations

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
            "from products.registry import REGISTRY, ProductSpec, KINDS\n"
            "from generator.product import ProductSpec as Spec\n"
            "assert ProductSpec is Spec and set(KINDS) == {'product', 'admin'}\n"
            "assert all(isinstance(s, Spec) for s in REGISTRY.values())\n"
            "assert getattr(m, 'SPEC', None) is None or REGISTRY[m.SPEC.name] is m.SPEC\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"import {module} first failed:\n{done.stderr}"
