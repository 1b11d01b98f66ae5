"""The independent scanner: checkov over every built template (``make scan``).

checkov runs from its own virtualenv (``.venv-checkov``, pinned by ``constraints-checkov.txt``) because
it pins an old boto3, always with ``--skip-download`` (no calls to Bridgecrew/Prisma).  Any failed check
fails the scan.  A check that does not apply to a resource is skipped only in that resource's Metadata,
with a reason (``Metadata: {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "why"}]}}``; rule
E9002 enforces the reason and the compliance report lists every skip).

    python -m generator.compliance.scan                     scan build/*/*/template.json
    python -m generator.compliance.scan t1.json t2.yaml     scan these files
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from generator.errors import CatalogError, ScanError

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"


@dataclass
class ScanResult:
    passed: int = 0
    failed: list[dict] = field(default_factory=list)  # {check, name, resource, file, lines}
    skipped: list[dict] = field(default_factory=list)  # {check, resource, file, comment}
    version: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def built_templates(out_dir: Path = ROOT / "build") -> list[Path]:
    return sorted(Path(out_dir).glob("*/*/template.json"))


def run(paths: Sequence[Path], checkov: Path = CHECKOV) -> ScanResult:
    """Run checkov on ``paths`` (CloudFormation templates) and collect its verdicts."""
    if not paths:
        raise ScanError("no templates to scan", hint="run `make build` first, or name template files")
    if not Path(checkov).is_file():
        raise ScanError(f"{checkov}: checkov is not installed", hint="`make scan` creates .venv-checkov")
    # No --quiet: it drops skipped checks from the JSON, and every skip must be listed with its reason.
    cmd = [str(checkov), "--skip-download", "--framework", "cloudformation", "--output", "json", "--compact"]
    for p in paths:
        cmd += ["--file", str(p)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError as exc:
        raise ScanError(f"checkov printed no JSON (exit {proc.returncode}): {proc.stderr.strip()[-500:]}") from exc
    reports = data if isinstance(data, list) else [data]
    result = ScanResult()
    for rep in reports:
        if not isinstance(rep, dict):
            continue
        res = rep.get("results") or {}
        summary = rep.get("summary") or {}
        result.version = summary.get("checkov_version", result.version)
        if summary.get("parsing_errors"):
            raise ScanError(f"checkov could not parse {summary['parsing_errors']} template(s)")
        result.passed += int(summary.get("passed", len(res.get("passed_checks") or [])))
        for c in res.get("failed_checks") or []:
            result.failed.append({"check": c.get("check_id"), "name": c.get("check_name"),
                                  "resource": c.get("resource"), "file": c.get("file_abs_path") or c.get("file_path"),
                                  "lines": c.get("file_line_range")})
        for c in res.get("skipped_checks") or []:
            result.skipped.append({"check": c.get("check_id"), "resource": c.get("resource"),
                                   "file": c.get("file_abs_path") or c.get("file_path"),
                                   "comment": (c.get("check_result") or {}).get("suppress_comment", "")})
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not result.failed):
        raise ScanError(f"checkov failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generator.compliance.scan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, help="templates (default: build/*/*/template.json)")
    ap.add_argument("--checkov", type=Path, default=CHECKOV, help="checkov executable (default: .venv-checkov)")
    args = ap.parse_args(argv)
    paths = args.paths or built_templates()
    try:
        result = run(paths, args.checkov)
    except CatalogError as exc:
        print(f"scan: error: {exc}", file=sys.stderr)
        return 2
    for s in result.skipped:
        print(f"skipped {s['check']} on {s['resource']} ({s['file']}): {s['comment']}")
    for f in result.failed:
        print(f"FAILED {f['check']} {f['name']}\n    {f['resource']} in {f['file']} lines {f['lines']}")
    print(f"checkov {result.version}: {len(paths)} template(s), {result.passed} passed, {len(result.failed)} failed, "
          f"{len(result.skipped)} skipped (each skip is in the resource's Metadata with a reason)")
    if result.failed:
        print("fix the template, or skip the check in the resource's Metadata.checkov.skip with a comment",
              file=sys.stderr)
    return 1 if result.failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
