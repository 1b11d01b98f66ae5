"""``hipaa-catalog lint PATH...``: cfn-lint's rules and the HIPAA rules, in every scenario, on any template."""

from __future__ import annotations

import argparse
from pathlib import Path

from generator import settings as catalog_settings
from generator.cli import output
from generator.compliance.lint import Linter, blocking, load_rules
from generator.errors import ConfigError, LintError

EPILOG = """\
examples:
  hipaa-catalog lint template.yaml                    lint a template written elsewhere (JSON or YAML)
  hipaa-catalog lint build/*/*/template.json          lint every built product
  hipaa-catalog lint --region eu-west-1 t.json        lint for other regions than the catalog's
  hipaa-catalog lint --json t.yaml                    findings as JSON (rule, path, scenarios, line, ...)

Every HIPAA rule (E9xxx/W9xxx) is evaluated in every scenario: each combination of the allowed values of
the parameters the template's Conditions depend on; a finding names the scenarios it occurs in.
Waive a HIPAA rule on the resource itself, with a reason:
  Metadata: {"hipaa-catalog": {"waivers": [{"rule": "E9502", "reason": "this is the log bucket"}]}}
Exit status: 0 clean, 1 errors or warnings found, 2 a file cannot be read.
"""


def register(sub) -> None:
    p = sub.add_parser("lint", help="lint template files with cfn-lint + the HIPAA rules in every scenario",
                       description="Run the build's validation pass (cfn-lint's rules and the project's HIPAA "
                                   "rules, in every scenario) on any CloudFormation template file.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="template file (JSON or YAML)")
    p.add_argument("--region", action="append", metavar="REGION",
                   help="lint for this region (repeatable; default: the catalog's regions)")
    output.add_json_flag(p)
    p.set_defaults(func=run)


def _regions(args) -> list[str]:
    if args.region:
        return args.region
    return list(catalog_settings.load(args.settings).regions)


def run(args) -> int:
    from generator.compliance.hipaa import REGISTRY

    linter = Linter(_regions(args), load_rules())
    results = {}
    for path in args.paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the template ({exc.__class__.__name__}: {exc})",
                              hint="pass a CloudFormation template file, JSON or YAML") from exc
        results[str(path)] = linter.lint_text(text, str(path)).findings
        if not args.json:
            output.progress(f"linted {path}: {len(results[str(path)])} finding(s)")
    bad = [f for fs in results.values() for f in blocking(fs)]
    if args.json:
        output.emit_json({"regions": linter.regions,
                          "files": {p: [f.to_dict() for f in fs] for p, fs in results.items()},
                          "blocking": len(bad)})
        return 1 if bad else 0
    for path, findings in results.items():
        if not findings:
            print(f"{path}: clean (cfn-lint + {len(REGISTRY)} HIPAA rules, regions {', '.join(linter.regions)})")
            continue
        print(f"{path}: {len(findings)} finding(s)")
        for f in findings:
            print(f"  {f.filename}:{f.line}: {f.rule_id} [{f.logical_id or '-'}] {f.message}")
            print(f"      at {f.path_text}" + (f"\n      in scenario(s): {f.scenario_text}" if f.scenarios else ""))
    if bad:
        raise LintError(f"{len(bad)} blocking finding(s) in {len({f.filename for f in bad})} file(s)", bad,
                        hint="fix the template, or waive a HIPAA rule on the resource with a reason")
    return 0
