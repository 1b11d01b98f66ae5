"""``hipaa-catalog report``: write the compliance reports of the catalog's products (or of any template)."""

from __future__ import annotations

import argparse
from pathlib import Path

from generator import settings as catalog_settings
from generator.cli import output
from generator.compliance import report as compliance
from generator.compliance.lint import Linter
from generator.compliance.scan import load_results as load_scan_results
from generator.errors import ConfigError, LintError
from generator.pipeline import build as pipeline, manifest as manifests

EPILOG = """\
examples:
  hipaa-catalog report                                 reports of every product into build/<product>/<version>/
  hipaa-catalog report --only healthcare-web-server    one product
  hipaa-catalog report --template t.yaml --out out/    the report of a template written elsewhere
  hipaa-catalog report --json                          verdicts per citation and scenario as JSON

Each report (compliance.md, compliance.html) lists, per HIPAA citation, the rules that check it, the verdict
in every scenario, the evidence (logical id and property), waivers, checkov skips and Guard suppressions with
their reasons, and the results of the last `make scan` (checkov, Guard HIPAA) on that template version;
the HTML shows the resources and their connections (drawn with Graphviz `dot` when it is installed).
`make build` writes the same reports.
"""


def register(sub) -> None:
    p = sub.add_parser("report", help="write the HIPAA compliance reports (markdown + HTML)",
                       description="Evaluate the HIPAA rules in every scenario and write compliance.md and "
                                   "compliance.html.", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=manifests.BUILD_DIR, help="output folder (default: build/)")
    p.add_argument("--only", action="append", metavar="PRODUCT", help="only this product (repeatable)")
    p.add_argument("--template", type=Path, metavar="PATH", help="report on this template file instead")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def _summary(rep: compliance.Report, paths) -> dict:
    return {"product": rep.product, "version": rep.version, "overall": rep.overall, "scenarios": rep.scenarios,
            "citations": {c: {s or "(single scenario)": rep.verdict(c, s) for s in rep.scenarios}
                          for c in rep.citations},
            "waivers": [{"resource": a, "rule": b, "reason": c} for a, b, c in rep.waivers],
            "checkov_skips": [{"resource": a, "check": b, "reason": c} for a, b, c in rep.checkov_skips],
            "guard_suppressions": [{"resource": a, "rule": b, "reason": c} for a, b, c in rep.guard_suppressions],
            "scan": rep.scan,
            "files": [str(p) for p in paths], "graph": "svg" if rep.svg else "dot (Graphviz missing)"}


def run(args) -> int:
    settings = catalog_settings.load(args.settings)
    progress = output.quiet if args.json else output.progress
    reports = []
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
        rep = compliance.build_report(template, result, args.template.stem, "-",
                                      sha256=pipeline.render.sha256(text))
        reports.append((rep, compliance.write(rep, args.out)))
    else:
        items = pipeline.render_all(settings, only=args.only, progress=progress)
        pipeline.validate(items, settings.regions, progress=progress)
        for item in items:
            scan = load_scan_results(Path(args.out) / item.rel_dir, item.sha256)
            rep = compliance.build_report(item.template, item.lint, item.name, item.version, item.title,
                                          item.sha256, scan=scan)
            reports.append((rep, compliance.write(rep, Path(args.out) / item.rel_dir, writer=pipeline._write)))
    failing = [r for r, _ in reports if r.overall == "FAIL"]
    if args.json:
        output.emit_json([_summary(r, p) for r, p in reports])
        return 1 if failing else 0
    rows = [(r.product, r.version, r.overall, len(r.scenarios), len(r.waivers), len(r.checkov_skips),
             len(r.guard_suppressions), r.scan.get("status", "missing"), p[0].parent) for r, p in reports]
    print(output.table(["product", "version", "verdict", "scenarios", "waivers", "checkov skips", "guard suppressions",
                        "scan", "report"], rows))
    if not any(r.svg for r, _ in reports):
        print("\nGraphviz `dot` is missing: the HTML reports embed the DOT text instead of a picture "
              "(`make build` installs Graphviz).")
    if failing:
        raise LintError(f"{len(failing)} report(s) with the verdict FAIL: "
                        + ", ".join(f"{r.product} {r.version}" for r in failing),
                        hint="the reports name each failing rule, resource, scenario and fix")
    return 0
