"""The manifest: the one hand-off from the build to publishing and deploying (``build/manifest.json``).

The build writes it (only for a clean build, so a failed build can never be published); ``publish``,
the ``deploy-*`` commands, the demo, the benchmark and the tests read it through :func:`load`, which
checks its shape, and :meth:`Manifest.read_template`, which checks each template's bytes against the
recorded sha256.

A build is *stale* when a source that shapes a template changed since it was built: the products,
the building blocks, the rule set that validated it, the rendering and the settings code
(:data:`TEMPLATE_SOURCES`).  The CLI, the AWS side, the report and the developer tools shape no
template, so editing them never stales a build.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from generator.errors import BuildError
from generator.pipeline.cache import RULESET_SOURCES
from generator.render import sha256 as text_sha256

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build"
MANIFEST = "manifest.json"
# Everything that shapes a rendered template, or decides whether it passed validation (the rule set).
TEMPLATE_SOURCES = ("products", "generator/blocks", "generator/product.py", "generator/render.py",
                    "generator/settings.py") + RULESET_SOURCES
SOURCE_SUFFIXES = (".py", ".toml")
REBUILD = "run `make build`"


def sources_sha256(root: Path = ROOT) -> str:
    """A hash of every source in :data:`TEMPLATE_SOURCES` (path and bytes), to tell a stale build."""
    h = hashlib.sha256()
    for rel in TEMPLATE_SOURCES:
        path = Path(root) / rel
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SOURCE_SUFFIXES
                       and "__pycache__" not in p.parts) if path.is_dir() else [path]
        for f in files:
            h.update(f.relative_to(root).as_posix().encode() + b"\0")
            h.update((f.read_bytes() if f.is_file() else b"<missing>") + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Entry:
    """One built product version."""

    name: str
    title: str
    kind: str                   # "product" (published) or "admin" (deployed by the administrator)
    version: str
    change_note: str
    sha256: str
    size: int
    path: str                   # template.json, relative to the build folder
    yaml_path: str = ""
    resource_types: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)   # product-specific fields (a launch role's covers)

    FIELDS = ("name", "title", "kind", "version", "change_note", "sha256", "size", "path")

    def to_json(self) -> dict:
        data = {"name": self.name, "title": self.title, "kind": self.kind, "version": self.version,
                "change_note": self.change_note, "sha256": self.sha256, "size": self.size, "path": self.path,
                "yaml_path": self.yaml_path, "resource_types": list(self.resource_types),
                "parameters": list(self.parameters)}
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str) -> "Entry":
        if not isinstance(data, Mapping):
            raise BuildError(f"{where}: a product entry is not an object", hint=REBUILD)
        missing = [k for k in cls.FIELDS if k not in data]
        if missing:
            raise BuildError(f"{where}: product entry {data.get('name', '?')!r} lacks {', '.join(missing)}",
                             hint=REBUILD)
        known = set(cls.FIELDS) | {"yaml_path", "resource_types", "parameters"}
        return cls(**{k: data[k] for k in cls.FIELDS}, yaml_path=data.get("yaml_path", ""),
                   resource_types=tuple(data.get("resource_types", ())), parameters=tuple(data.get("parameters", ())),
                   extra={k: v for k, v in data.items() if k not in known})


@dataclass(frozen=True)
class Manifest:
    catalog: str
    regions: tuple[str, ...]
    products: tuple[Entry, ...]
    sources_sha256: str
    linted_regions: tuple[str, ...] = ()
    ssm_prefix: str = ""
    cfn_lint_version: str = ""

    def to_json(self) -> dict:
        return {"catalog": self.catalog, "regions": list(self.regions), "linted_regions": list(self.linted_regions),
                "ssm_prefix": self.ssm_prefix, "cfn_lint_version": self.cfn_lint_version,
                "sources_sha256": self.sources_sha256, "products": [e.to_json() for e in self.products]}

    def of_kind(self, kind: str) -> tuple[Entry, ...]:
        return tuple(e for e in self.products if e.kind == kind)


@dataclass(frozen=True)
class Loaded:
    """A manifest read from a build folder."""

    manifest: Manifest
    out_dir: Path

    @property
    def path(self) -> Path:
        return self.out_dir / MANIFEST

    def entry(self, name: str) -> Entry:
        for e in self.manifest.products:
            if e.name == name:
                return e
        built = ", ".join(e.name for e in self.manifest.products) or "nothing"
        raise BuildError(f"{self.path}: no product {name!r} in the manifest; built: {built}",
                         hint="run `make build` first")

    def read_template(self, entry: Entry) -> bytes:
        """The template's bytes, which must still have the sha256 the build recorded."""
        path = self.out_dir / entry.path
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise BuildError(f"{path}: cannot read the template of {entry.name}: {exc.strerror}",
                             hint=REBUILD) from exc
        digest = text_sha256(body.decode("utf-8", errors="replace"))
        if digest != entry.sha256:
            raise BuildError(f"{path}: the template of {entry.name} changed after the build (sha256 "
                             f"{digest[:12]}…, manifest {entry.sha256[:12]}…)", hint=REBUILD)
        return body

    def check_fresh(self, root: Path = ROOT) -> None:
        if self.manifest.sources_sha256 != sources_sha256(root):
            raise BuildError(f"{self.path}: stale build: a source that shapes the templates changed since it "
                             f"was built ({', '.join(TEMPLATE_SOURCES)})",
                             hint="run `make build` (or `make publish`, which builds first)")


def entry_for(name: str, version: str, change_note: str, text: str, *, kind: str = "product", title: str = "",
              resource_types: tuple[str, ...] = (), parameters: tuple[str, ...] = ()) -> Entry:
    """The entry of the template ``text`` at its place in a build folder, ``<name>/<version>/template.json``."""
    rel = f"{name}/{version}"
    return Entry(name=name, title=title or name, kind=kind, version=version, change_note=change_note,
                 sha256=text_sha256(text), size=len(text.encode("utf-8")), path=f"{rel}/template.json",
                 yaml_path=f"{rel}/template.yaml", resource_types=tuple(resource_types), parameters=tuple(parameters))


def load(out_dir: Path = BUILD_DIR, *, check_fresh: bool = False) -> Loaded:
    """The manifest of ``out_dir`` (a BuildError naming the file when it is missing, corrupt or stale)."""
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BuildError(f"{path}: no manifest; run `make build` first") from exc
    except (OSError, ValueError) as exc:
        raise BuildError(f"{path}: unreadable manifest ({exc}); run `make clean build`") from exc
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        raise BuildError(f"{path}: not a hipaa-catalog manifest (no products list)", hint="run `make clean build`")
    manifest = Manifest(
        catalog=str(data.get("catalog", "")), regions=tuple(data.get("regions", ())),
        products=tuple(Entry.from_json(e, str(path)) for e in data["products"]),
        sources_sha256=str(data.get("sources_sha256", "")), linted_regions=tuple(data.get("linted_regions", ())),
        ssm_prefix=str(data.get("ssm_prefix", "")), cfn_lint_version=str(data.get("cfn_lint_version", "")))
    loaded = Loaded(manifest, out_dir)
    if check_fresh:
        loaded.check_fresh()
    return loaded


def text(manifest: Manifest) -> str:
    return json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n"


def write(out_dir: Path, manifest: Manifest) -> Path:
    """Write ``<out_dir>/manifest.json`` atomically (unchanged bytes leave the file alone)."""
    path = Path(out_dir) / MANIFEST
    body = text(manifest)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text(encoding="utf-8") == body:
        return path
    tmp = path.with_name(f".{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, path)
    return path


def remove(out_dir: Path) -> None:
    """Drop the manifest (a failed build must not leave an older one to publish)."""
    (Path(out_dir) / MANIFEST).unlink(missing_ok=True)
