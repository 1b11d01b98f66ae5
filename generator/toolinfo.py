"""Where the installed tools live and which versions they are, without importing them.

``import cfnlint`` costs about a second (its package ``__init__`` loads the whole linter: sympy,
networkx, jsonschema), so code that only needs cfn-lint's bundled data files or its version number
uses this module instead, and a no-change ``make build`` never pays for the linter.
"""

from __future__ import annotations

import functools
import importlib.util
from importlib import metadata
from pathlib import Path

from generator.errors import BuildError


@functools.lru_cache(maxsize=None)
def package_dir(package: str) -> Path:
    """The folder of an installed top-level package (found, not imported)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(f"the Python package {package} is not installed",
                         hint="run `make venv` to install the pinned dependencies")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


@functools.lru_cache(maxsize=None)
def version(distribution: str) -> str:
    """The installed version of a distribution (``cfn-lint``, ``troposphere`` ...); "" if not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def cfn_lint_data() -> Path:
    """cfn-lint's bundled data folder (provider schemas, instance types, IAM reference)."""
    return package_dir("cfnlint") / "data"


def cfn_lint_version() -> str:
    return version("cfn-lint")
