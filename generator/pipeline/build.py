"""The build pipeline: render every registered product, validate it in-process, write build/.

Writes ``build/<product>/<version>/template.json`` (canonical bytes), ``template.yaml`` and the
compliance report (``compliance.md``, ``compliance.html``: generator.compliance.report) for each product, the
catalog's compliance page (``build/compliance.md``, ``build/index.html``; by a build of every product) and
``build/manifest.json``.  A lint error or warning fails the build with every finding
named (product, logical id, rule, message); the manifest is only written for a clean build, so a
failed build can never be published.

Each template is linted once (cfn-lint's rules and the HIPAA rules in one pass); its lint result holds
the findings and the HIPAA rules' verdicts, from which the compliance report is written.  A no-change
build reuses the lint results and the derived files kept in ``build/.cache/``
(generator.pipeline.cache); what must be redone is linted and its reports written by worker processes
(generator.pipeline.workers; with one job, in the build process itself), and ``template.yaml``, which
needs no lint result, is written by the build process while they lint.  A report is not rewritten
for its generation time alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from generator import render
from generator.compliance.lint import CFN_LINT_VERSION, LintResult, blocking
from generator.compliance.scan import load_results as load_scan_results
from generator.errors import BuildError, CatalogError, ConfigError, LintError
from generator.pipeline import cache as buildcache, manifest as manifests, workers as pool
from generator.product import Rendered
from generator.settings import Settings

Progress = Callable[[str], None]


@dataclass
class Built:
    """One rendered, validated template."""

    name: str
    title: str
    kind: str
    version: str
    change_note: str
    template: dict
    json_text: str
    lint: LintResult = field(default_factory=LintResult)  # set by validate()
    extra: dict = field(default_factory=dict)
    yaml: str = ""   # template.yaml's text, when written while the template was linted (build())

    @property
    def sha256(self) -> str:
        return render.sha256(self.json_text)

    @property
    def size(self) -> int:
        return len(self.json_text.encode("utf-8"))

    @property
    def rel_dir(self) -> str:
        return f"{self.name}/{self.version}"

    def manifest_entry(self) -> manifests.Entry:
        entry = manifests.entry_for(
            self.name, self.version, self.change_note, self.json_text, kind=self.kind, title=self.title,
            resource_types=tuple(sorted({r.get("Type", "") for r in self.template.get("Resources", {}).values()})),
            parameters=tuple(self.template.get("Parameters", {})))
        return dataclasses.replace(entry, extra=dict(self.extra))


def render_all(settings: Settings, only: Iterable[str] | None = None,
               registry: Mapping | None = None, progress: Progress | None = None) -> list[Built]:
    """Render every product of the registry (pure: no linting, no files)."""
    if registry is None:
        from products.registry import REGISTRY as registry  # noqa: N811
    wanted = set(only) if only else None
    if wanted:
        unknown = wanted - set(registry)
        if unknown:
            raise ConfigError(f"unknown product(s): {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(registry)}")
    missing = [n for n in registry if n not in settings.products]
    if missing:
        raise ConfigError(f"{settings.path}: products.{missing[0]}: missing table for a registered product",
                          hint=f"add [products.{missing[0]}] with version and changes")
    extra = [n for n in settings.products if n not in registry]
    if extra:
        raise ConfigError(f"{settings.path}: products.{extra[0]}: no such product in products/registry.py; "
                          f"allowed: {', '.join(registry)}")
    built: dict[str, Rendered] = {}
    out: list[Built] = []
    for name, spec in registry.items():
        ps = settings.products[name]
        cfg = spec.make_config(settings, ps, built)
        try:
            template = spec.build(cfg)
            text = render.canonical_json(template)
        except CatalogError:
            raise
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise BuildError(f"product {name} {ps.version}: rendering failed: {exc}") from exc
        data = json.loads(text)
        built[name] = Rendered(spec.kind, ps.version, data)
        if wanted and name not in wanted:
            continue
        extra_fields = spec.manifest_extra(cfg) if spec.manifest_extra else {}
        out.append(Built(name=name, title=spec.title, kind=spec.kind, version=ps.version,
                         change_note=ps.change_note, template=data, json_text=text, extra=extra_fields))
        if progress:
            progress(f"rendered {name} {ps.version}")
    return out


def validate(items: list[Built], regions: Iterable[str], progress: Progress | None = None,
             cache: buildcache.BuildCache | None = None, jobs: int | None = None,
             workers: pool.Workers | None = None,
             while_linting: Callable[[Sequence[Built]], None] | None = None) -> None:
    """Lint every item: its lint result from ``cache`` when it has it; the rest by ``workers`` (default:
    ``jobs`` worker processes for this call, one after the other in this process without a cache).
    ``while_linting(items to lint)`` runs in this process while the workers lint them."""
    regions = list(regions)
    todo = []
    for item in items:
        cached = cache.lint_result(item.json_text, _lint_name(item)) if cache else None
        if cached is None:
            todo.append(item)
        else:
            item.lint = cached
            _report_validated(item, regions, progress, " (cached)")
    if not todo:
        return
    with _workers(workers, regions, 1 if cache is None else jobs) as run:
        results = run.lint([(i.json_text, _lint_name(i)) for i in todo],
                           (lambda: while_linting(todo)) if while_linting else None)
    for item, result in zip(todo, results):
        item.lint = result
        if cache:
            cache.store_lint_result(item.json_text, _lint_name(item), result)
        _report_validated(item, regions, progress)


@contextmanager
def _workers(workers: pool.Workers | None, regions: Sequence[str], jobs: int | None,
             timings: pool.Timings | None = None) -> Iterator[pool.Workers]:
    """``workers``, or workers of this call only (closed when it ends)."""
    if workers is not None:
        yield workers
        return
    with pool.Workers(regions, jobs, timings) as own:
        yield own


def _lint_name(item: Built) -> str:
    return f"{item.rel_dir}/template.json"


def _report_validated(item: Built, regions: list[str], progress: Progress | None, note: str = "") -> None:
    if progress:
        bad = blocking(item.lint.findings)
        progress(f"validated {item.name} {item.version}: "
                 + (f"{len(bad)} finding(s)" if bad else f"clean in {', '.join(regions)}") + note)


def derived_texts(item: Built, scan: dict | None = None, coverage: Mapping | None = None) -> dict[str, str]:
    """The files derived from a built template: template.yaml, compliance.md and compliance.html
    (``scan``: the independent scanners' results kept beside it, ``generator.compliance.scan.load_results``;
    ``coverage``: which products of the catalog each HIPAA rule has something to check in)."""
    from generator.compliance import report as compliance   # building a report loads cfn-lint

    texts = {"template.yaml": item.yaml or render.canonical_yaml(item.json_text)}
    rep = compliance.build_report(item.template, item.lint, item.name, item.version, item.title, item.sha256,
                                  scan=scan, coverage=coverage, catalog_link=CATALOG_LINK)
    compliance.write(rep, Path("."), writer=lambda path, text: texts.__setitem__(path.name, text))
    return texts


def write_yaml_texts(items: Sequence[Built]) -> None:
    """Set each item's ``template.yaml`` text (it needs no lint result: the build writes it while the
    workers lint, on the core they leave free while the rule set loads)."""
    for item in items:
        item.yaml = render.canonical_yaml(item.json_text)


def catalog_texts(items: Sequence[Built], name: str, scans: Sequence[dict | None]) -> dict[str, str]:
    """The catalog's compliance page (``compliance.md``, ``index.html``) from every product's lint result
    (``scans``: each product's scanner results, as for :func:`derived_texts`)."""
    from generator.compliance import report as compliance

    coverage = compliance.coverage((i.name, i.version, i.lint) for i in items)
    reports = [(compliance.build_report(i.template, i.lint, i.name, i.version, i.title, i.sha256, scan=scan,
                                        coverage=coverage, evidence=False), f"{i.rel_dir}/compliance.html")
               for i, scan in zip(items, scans)]
    texts: dict[str, str] = {}
    compliance.write_catalog(compliance.build_catalog(name, reports), Path("."),
                             writer=lambda path, text: texts.__setitem__(path.name, text))
    return texts


# A product's report links to the catalog page from build/<product>/<version>/.
CATALOG_LINK = "../../index.html"
CATALOG_STAMP = "catalog"   # the build cache's name for the catalog page (product stamps are <name>/<version>)


def write_derived(items: list[Built], out_dir: Path, cache: buildcache.BuildCache | None = None,
                  jobs: int | None = None, catalog: str | None = None,
                  workers: pool.Workers | None = None) -> dict[str, str]:
    """Write the derived files of every item and, given the ``catalog``'s name, the catalog page
    (``compliance.md``, ``index.html`` in ``out_dir``), all in one batch of jobs for ``workers``; each is
    skipped where the cache says it is fresh.  A report that differs only in its generation time is left
    as it is.  Returns each item's derived-files key (by ``rel_dir``; "" without a cache)."""
    from generator.compliance import report as compliance   # light: cfn-lint is loaded to build a report

    out_dir = Path(out_dir)
    coverage = compliance.coverage((i.name, i.version, i.lint) for i in items)
    scans = [load_scan_results(out_dir / i.rel_dir, i.sha256) for i in items]   # written by `make scan`
    todo, keys = [], {}
    for item, scan in zip(items, scans):
        d = out_dir / item.rel_dir
        identity = {"name": item.name, "version": item.version, "title": item.title, "sha256": item.sha256,
                    "scan": scan, "tools": compliance.tool_versions(scan), "coverage": coverage}
        key = keys[item.rel_dir] = cache.derived_key(identity, item.lint) if cache else ""
        if not (cache and cache.derived_fresh(item.rel_dir, key, d)):
            todo.append((item.rel_dir, d, key, derived_texts, (item, scan, coverage), item.size))
    if catalog is not None:
        # the products' derived-files keys cover all the catalog page is made of
        key = cache.derived_key({"catalog": catalog, "products": [keys[i.rel_dir] for i in items]},
                                LintResult()) if cache else ""
        if not (key and cache.derived_fresh(CATALOG_STAMP, key, out_dir)):
            todo.append((CATALOG_STAMP, out_dir, key, catalog_texts, (items, catalog, scans),
                         sum(i.size for i in items) // 2))
    with _workers(workers, (), jobs if cache else 1) as run:
        results = run.map("reports", _call, [(func, args) for _, _, _, func, args, _ in todo],
                          [size for *_, size in todo], [stamp for stamp, *_ in todo])
    for (stamp, d, key, _, _, _), texts in zip(todo, results):
        for name, text in texts.items():
            _write(d / name, text, compliance.same_apart_from_time if name in compliance.REPORT_FILES
                   or name in compliance.CATALOG_FILES else None)
        if cache:
            cache.record_derived(stamp, key, d, texts)
    return keys


def _call(func: Callable, args: tuple):
    return func(*args)


def write_catalog(items: list[Built], out_dir: Path, name: str) -> None:
    """Write the catalog's compliance page (``compliance.md``, ``index.html`` in ``out_dir``) from every
    product's lint result, left as it is where only its generation time would change."""
    from generator.compliance import report as compliance

    scans = [load_scan_results(Path(out_dir) / i.rel_dir, i.sha256) for i in items]
    for file, text in catalog_texts(items, name, scans).items():
        _write(Path(out_dir) / file, text, compliance.same_apart_from_time)


def _write(path: Path, text: str, same: Callable[[str, str], bool] | None = None) -> None:
    """Write ``text`` to ``path`` unless it holds it already (or, with ``same``, text that ``same`` finds
    equal): an unchanged file keeps its bytes and mtime."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and (same or str.__eq__)(path.read_text(encoding="utf-8"), text):
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def manifest(settings: Settings, items: list[Built], regions: Iterable[str]) -> manifests.Manifest:
    return manifests.Manifest(
        catalog=settings.name, regions=tuple(settings.regions), linted_regions=tuple(regions),
        ssm_prefix=settings.ssm_prefix, cfn_lint_version=CFN_LINT_VERSION,
        sources_sha256=manifests.sources_sha256(), products=tuple(i.manifest_entry() for i in items))


def build(settings: Settings, out_dir: Path = manifests.BUILD_DIR, only: Iterable[str] | None = None,
          progress: Progress | None = None, registry: Mapping | None = None, cache: bool = True,
          jobs: int | None = None, workers: pool.Workers | None = None) -> manifests.Manifest:
    """Render, validate and write everything; return the manifest.  Raises LintError on findings.

    ``cache=False`` ignores and leaves alone ``<out_dir>/.cache`` and works in this process alone;
    ``jobs`` caps the worker processes (default: ``HIPAA_CATALOG_JOBS`` or the number of cores);
    ``workers``: started by the caller, for the regions of ``settings``, and closed by it
    (``hipaa-catalog build`` starts them before it imports this module); with ``cache`` only.
    A cold build starts its workers before rendering (generator.pipeline.workers).
    """
    out_dir = Path(out_dir)
    if workers is not None and not cache:
        raise ValueError("build(cache=False) works in this process alone: it takes no workers")
    timings = workers.timings if workers is not None else pool.Timings()
    with _workers(workers, settings.regions, jobs if cache else 1, timings) as workers:
        if cache and pool.cold(out_dir, buildcache.CACHE_DIR):
            workers.start()
        items = render_all(settings, only=only, registry=registry, progress=progress)
        timings.phase("render")
        store = buildcache.BuildCache(out_dir, settings.regions) if cache else None
        validate(items, settings.regions, progress=progress, cache=store, workers=workers,
                 while_linting=write_yaml_texts)
        timings.phase("lint")
        for item in items:
            _write(out_dir / item.rel_dir / "template.json", item.json_text)
        # the catalog page covers every product: a partial build leaves it as it is
        write_derived(items, out_dir, store, catalog=None if only else settings.name, workers=workers)
        timings.phase("reports")
    bad = [(i, f) for i in items for f in blocking(i.lint.findings)]
    if bad:
        manifests.remove(out_dir)
        lines = [f"{i.name} {i.version}: {f.describe()}" for i, f in bad]
        raise LintError(f"{len(bad)} lint finding(s):\n  " + "\n  ".join(lines), [f for _, f in bad],
                        hint="fix the product module or waive the rule on the resource with a reason")
    data = manifest(settings, items, settings.regions)
    manifests.write(out_dir, data)
    timings.phase("manifest")
    timings.report()
    return data
