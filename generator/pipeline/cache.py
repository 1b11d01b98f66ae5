"""The build cache under ``build/.cache/``: what a no-change ``make build`` reuses instead of redoing.

- **Lint results** of a template (``generator.compliance.lint.LintResult``: cfn-lint's and the HIPAA
  rules' findings, and every verdict of the HIPAA rules, which the compliance report is built from),
  keyed by the template's sha256, its file name and the *rule-set version*: cfn-lint's version, the
  catalog regions and the sources of the project's rules (``generator/compliance/rules/``, ``hipaa.py``,
  ``scenarios.py``, ``lint.py``, ``guard.py``, whose suppression
  format rule E9003 checks).  Changing any of them changes the key, so the template is linted
  again; nothing is ever invalidated by time.
- **Derived files** of a product version (``template.yaml``, ``compliance.md``, ``compliance.html``
  with its Graphviz picture) are rewritten only when their inputs changed: the template, its lint
  result, the rule-set version, the report and render code, the versions of cfn-flip, PyYAML and
  cfn-lint, and the ``dot`` executable.  A stamp records the sha256 of each file written; a file that
  was deleted or edited since is written again.  Rewriting them from a cached lint result evaluates no rule.

An unreadable or corrupt entry is a miss.  Entries are written atomically (temporary file + rename),
so concurrent builds into the same folder cannot leave half an entry.  ``make clean`` removes the
cache with ``build/``.

The misses are linted and written by the build's worker processes (generator.pipeline.workers).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from generator import toolinfo

if TYPE_CHECKING:
    from generator.compliance.lint import LintResult

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ".cache"
FORMAT = 2   # bump when the layout of an entry changes
RULESET_SOURCES = ("generator/compliance/rules", "generator/compliance/hipaa.py", "generator/compliance/scenarios.py",
                   "generator/compliance/lint.py", "generator/compliance/guard.py")
DERIVED_SOURCES = ("generator/compliance/report.py", "generator/compliance/evidence.py", "generator/render.py")
DERIVED_TOOLS = ("cfn-flip", "PyYAML", "cfn-lint")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sources_hash(paths: Iterable[str], root: Path = ROOT) -> str:
    """sha256 over the Python sources at ``paths`` (files or folders, relative to ``root``)."""
    h = hashlib.sha256()
    for rel in paths:
        path = Path(root) / rel
        files = sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts) if path.is_dir() \
            else [path]
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\0")
            h.update((f.read_bytes() if f.is_file() else b"<missing>") + b"\0")
    return h.hexdigest()


def ruleset_version(regions: Sequence[str], root: Path = ROOT, cfn_lint_version: str | None = None) -> str:
    """The identity of everything that decides a template's lint result, besides the template."""
    data = {"format": FORMAT, "cfn-lint": cfn_lint_version or toolinfo.cfn_lint_version(),
            "regions": list(regions), "sources": sources_hash(RULESET_SOURCES, root)}
    return sha256_bytes(json.dumps(data, sort_keys=True).encode())


def dot_identity() -> str:
    """Which Graphviz ``dot`` draws the pictures (path, size, mtime), or "none"."""
    exe = shutil.which("dot")
    if not exe:
        return "none"
    try:
        st = os.stat(os.path.realpath(exe))
    except OSError:
        return exe
    return f"{exe}:{st.st_size}:{st.st_mtime_ns}"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class BuildCache:
    """The cache of one output folder (``<out_dir>/.cache``) for one list of regions."""

    def __init__(self, out_dir: Path, regions: Sequence[str], root: Path = ROOT,
                 cfn_lint_version: str | None = None):
        self.dir = Path(out_dir) / CACHE_DIR
        self.root = Path(root)
        self.ruleset = ruleset_version(regions, self.root, cfn_lint_version)
        self._derived_inputs: str | None = None
        self.stats = {"lint_hits": 0, "lint_misses": 0, "derived_hits": 0, "derived_misses": 0}

    # -- lint results -----------------------------------------------------------------------------
    def lint_key(self, text: str, filename: str) -> str:
        return sha256_bytes(f"{self.ruleset}\0{filename}\0{sha256_bytes(text.encode('utf-8'))}".encode())

    def _lint_path(self, key: str) -> Path:
        return self.dir / "lint" / key[:2] / f"{key}.json"

    def lint_result(self, text: str, filename: str) -> "LintResult | None":
        """The cached lint result of ``text`` linted as ``filename``, or None (a miss)."""
        from generator.compliance.lint import LintResult

        key = self.lint_key(text, filename)
        data = _read_json(self._lint_path(key))
        found = None
        if data and data.get("key") == key and isinstance(data.get("result"), dict):
            try:
                found = LintResult.from_json(data["result"])
            except (TypeError, KeyError):
                found = None
        self.stats["lint_hits" if found is not None else "lint_misses"] += 1
        return found

    def store_lint_result(self, text: str, filename: str, result: "LintResult") -> None:
        key = self.lint_key(text, filename)
        _write_atomic(self._lint_path(key), json.dumps(
            {"key": key, "result": result.to_json()}, sort_keys=True) + "\n")

    # -- derived files (YAML, compliance reports) ---------------------------------------------------
    def derived_inputs(self) -> str:
        """Everything besides the template and its lint result that shapes the derived files."""
        if self._derived_inputs is None:
            data = {"ruleset": self.ruleset, "sources": sources_hash(DERIVED_SOURCES, self.root),
                    "tools": {t: toolinfo.version(t) for t in DERIVED_TOOLS}, "dot": dot_identity()}
            self._derived_inputs = sha256_bytes(json.dumps(data, sort_keys=True).encode())
        return self._derived_inputs

    def derived_key(self, identity: Mapping, result: "LintResult") -> str:
        """``identity``: the product's name, version, title and template sha256; ``result``: its lint
        result (findings and verdicts, what the report is made of)."""
        data = {"inputs": self.derived_inputs(), "identity": dict(identity), "lint": result.to_json()}
        return sha256_bytes(json.dumps(data, sort_keys=True).encode())

    def _stamp_path(self, rel_dir: str) -> Path:
        return self.dir / "derived" / f"{rel_dir}.json"

    def derived_fresh(self, rel_dir: str, key: str, directory: Path) -> bool:
        """True if the files recorded for ``rel_dir`` under ``key`` are all still there, unchanged."""
        stamp = _read_json(self._stamp_path(rel_dir))
        fresh = bool(stamp and stamp.get("key") == key and isinstance(stamp.get("files"), dict)
                     and stamp["files"])
        if fresh:
            for name, digest in stamp["files"].items():
                try:
                    if sha256_bytes((Path(directory) / name).read_bytes()) != digest:
                        fresh = False
                        break
                except OSError:
                    fresh = False
                    break
        self.stats["derived_hits" if fresh else "derived_misses"] += 1
        return fresh

    def record_derived(self, rel_dir: str, key: str, directory: Path, names: Iterable[str]) -> None:
        files = {n: sha256_bytes((Path(directory) / n).read_bytes()) for n in sorted(names)}
        _write_atomic(self._stamp_path(rel_dir), json.dumps({"key": key, "files": files}, sort_keys=True) + "\n")
