"""``hipaa-catalog report``: write the compliance reports of the catalog's products (or of any template)."""

from __future__ import annotations

import argparse
from pathlib import Path

from generator import settings as catalog_settings
from generator.cli import output
from generator.compliance import pdf, report as compliance
from generator.compliance.lint import Linter
from generator.compliance.scan import load_results as load_scan_results
from generator.errors import ConfigError, LintError
from generator.pipeline import build as pipeline, cache as buildcache, manifest as manifests

EPILOG = """\
examples:
  hipaa-catalog report                                 every product's report into build/<product>/<version>/,
                                                       and the catalog's page (build/index.html, build/compliance.md)
  hipaa-catalog report --only healthcare-web-server    one product (the catalog page is left as it is)
  hipaa-catalog report --template t.yaml --out out/    the report of a template written elsewhere
  hipaa-catalog report --pdf                           also compliance.pdf beside each HTML page (headless Chromium)
  hipaa-catalog report --json                          verdicts per citation and column as JSON

A report (compliance.md, compliance.html) has a header (verdict, generation time, template sha256, tool
versions, scanners), a summary of HIPAA citations by scenario column (scenarios with the same verdicts share
a column), one evidence section per rule (resource, property, value, scenarios; the fix on failures), the
rules with nothing to check and which catalog product covers them, waivers, checkov skips and Guard
suppressions with their reasons, the results of the last `make scan`, and in the HTML a picture of the
resources. Lint results come from the build cache (build/.cache) where they are current; `make build` writes
the same reports.
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write the HIPAA compliance reports (markdown + HTML)",
                       description="Write compliance.md and compliance.html of every product from the HIPAA "
                                   "rules' verdicts in every scenario, and the catalog's compliance page.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR, help="output folder (default: build/)")
    p.add_argument("--only", action="append", metavar="PRODUCT", help="only this product (repeatable)")
    p.add_argument("--template", type=Path, metavar="PATH", help="report on this template file instead")
    p.add_argument("--pdf", action="store_true",
                   help="also print each HTML page to PDF with headless Chromium (compliance.pdf, index.pdf)")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def _summary(rep: compliance.Report, paths) -> dict:
    return {"product": rep.product, "version": rep.version, "overall": rep.overall, "scenarios": rep.scenarios,
            "generated": rep.generated, "tools": dict(rep.tools),
            "columns": [{"label": label, "scenarios": list(members)} for label, members in rep.columns],
            "citations": {c: {s or "(single scenario)": rep.verdict(c, s) for s in rep.scenarios}
                          for c in rep.citations},
            "not_applicable": {r.id: rep.covered_by(r.id) for r in rep.rules.values() if not r.applies},
            "waivers": [{"resource": a, "rule": b, "reason": c} for a, b, c in rep.waivers],
            "checkov_skips": [{"resource": a, "check": b, "reason": c} for a, b, c in rep.checkov_skips],
            "guard_suppressions": [{"resource": a, "rule": b, "reason": c, "where": d}
                                   for a, b, c, d in rep.guard_suppressions],
            "scan": rep.scan,
            "files": [str(p) for p in paths], "graph": "svg" if rep.svg else "dot (Graphviz missing)"}


def _catalog(settings, out: Path, progress) -> list[pipeline.Built]:
    """Every product of the catalog, validated (lint results from the build cache in ``out``)."""
    items = pipeline.render_all(settings, progress=progress)
    pipeline.validate(items, settings.regions, progress=progress, cache=buildcache.BuildCache(out, settings.regions))
    return items


def _coverage(items) -> dict:
    return compliance.coverage((i.name, i.version, i.lint) for i in items)


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    progress = output.quiet if args.json else output.progress
    reports = []
    catalog_files: list[Path] = []
    if args.template:
        from cfnlint.decode.decode import decode_str

        try:
            text = args.template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{args.template}: cannot read the template ({exc})") from exc
        template, errors = decode_str(text)
        if errors:
            raise ConfigError(f"{args.template}: not a CloudFormation template: {errors[0].message}")
        result = Linter(settings.regions).lint_text(text, str(args.template))
        coverage = _coverage(_catalog(settings, manifests.BUILD_DIR, output.quiet))  # who covers an n/a rule
        rep = compliance.build_report(template, result, args.template.stem, "-",
                                      sha256=pipeline.render.sha256(text), coverage=coverage)
        reports.append((rep, compliance.write(rep, args.out, writer=_writer)))
    else:
        if args.only:
            pipeline.render_all(settings, only=args.only)   # names every unknown product
        items = _catalog(settings, Path(args.out), progress)
        coverage = _coverage(items)
        for item in items:
            if args.only and item.name not in args.only:
                continue
            scan = load_scan_results(Path(args.out) / item.rel_dir, item.sha256)
            rep = compliance.build_report(item.template, item.lint, item.name, item.version, item.title,
                                          item.sha256, scan=scan, coverage=coverage,
                                          catalog_link=pipeline.CATALOG_LINK)
            reports.append((rep, compliance.write(rep, Path(args.out) / item.rel_dir, writer=_writer)))
        if not args.only:
            pipeline.write_catalog(items, Path(args.out), settings.name)
            catalog_files = [Path(args.out) / name for name in compliance.CATALOG_FILES]
    pdfs = []
    if args.pdf:
        pages = [p for _, paths in reports for p in paths if p.suffix == ".html"] + \
                [p for p in catalog_files if p.suffix == ".html"]
        for page in pages:
            pdfs.append(pdf.print_pdf(page, page.with_suffix(".pdf")))
            progress(f"printed {pdfs[-1]}")
    failing = [r for r, _ in reports if r.overall == "FAIL"]
    if args.json:
        output.emit_json({"reports": [_summary(r, p) for r, p in reports],
                          "catalog": [str(p) for p in catalog_files], "pdf": [str(p) for p in pdfs]})
        return 1 if failing else 0
    rows = [(r.product, r.version, r.overall, len(r.scenarios), len(r.columns), len(r.waivers),
             len(r.checkov_skips), len(r.guard_suppressions), r.scan.get("status", "missing"), p[0].parent)
            for r, p in reports]
    print(output.table(["product", "version", "verdict", "scenarios", "columns", "waivers", "checkov skips",
                        "guard suppressions", "scan", "report"], rows))
    if catalog_files:
        print(f"\ncatalog: {', '.join(map(str, catalog_files))}")
    for p in pdfs:
        print(f"pdf: {p}")
    if not any(r.svg for r, _ in reports):
        print("\nGraphviz `dot` is missing: the HTML reports embed the DOT text instead of a picture "
              "(`make build` installs Graphviz).")
    if failing:
        raise LintError(f"{len(failing)} report(s) with the verdict FAIL: "
                        + ", ".join(f"{r.product} {r.version}" for r in failing),
                        hint="the reports name each failing rule, resource, scenario, value and fix")
    return 0


def _writer(path: Path, text: str) -> None:
    """Write a report, leaving a file that differs only in its generation time as it is."""
    pipeline._write(path, text, compliance.same_apart_from_time)
