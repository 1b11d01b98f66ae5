"""The independent scanners (``make scan``): checkov and the AWS Guard Rules Registry's HIPAA Security rule set.

- **checkov** runs from its own virtualenv (``.venv-checkov``, pinned by ``constraints-checkov.txt``) because
  it pins an old boto3, always with ``--skip-download`` (no calls to Bridgecrew/Prisma).  A check that does
  not apply to a resource is skipped only in that resource's Metadata, with a reason
  (``Metadata: {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "why"}]}}``; rule E9002).
- **Guard HIPAA**: the registry's HIPAA Security rule set, vendored and pinned, run with cfn-guard on every
  template as written and on every scenario's resolved template (``generator.compliance.guard``).  A rule
  that does not apply is suppressed only in the resource's Metadata, with a reason (``guard.SuppressedRules``
  plus ``hipaa-catalog.guard-suppressions``; rule E9003).

The scan fails (exit 1) on any unexplained finding: a failed checkov check; a failing Guard rule; a Guard
suppression without a reason, of a shape that silences every rule, or that hides nothing.

Scanning the built products (no paths given) also writes ``build/<product>/<version>/scan.json`` (each
scanner run: version, rule set, passed/failed/suppressed counts, failures and suppressions with their
reasons), also when the scan fails, and refreshes the compliance reports, which show it.  It names what the
results depend on (``inputs_sha256``: the template and ``scanner_inputs()``: both scanners' installed files,
the pinned rule set, the code that runs them); when every built template's scan.json passed with the same
inputs, the scanners do not run again (``--force`` runs them anyway): they read nothing else, so they would
find the same.

    python -m generator.compliance.scan                       every built template, both scanners
    python -m generator.compliance.scan t1.json t2.yaml       these files (nothing written)
    python -m generator.compliance.scan --only guard t.json   one scanner
    python -m generator.compliance.scan --json                the results as JSON
    python -m generator.compliance.scan --force               scan the build even if nothing changed
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from generator.compliance import guard
from generator.errors import CatalogError, ScanError
from generator.pipeline import manifest as manifests
from generator.pipeline.manifest import BUILD_DIR

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
RESULTS = "scan.json"
FORMAT = 1
SCANNERS = ("checkov", "guard")


@dataclass
class ScanResult:
    """checkov's verdicts on a set of templates."""

    passed: int = 0
    failed: list[dict] = field(default_factory=list)  # {check, name, resource, file, lines}
    skipped: list[dict] = field(default_factory=list)  # {check, resource, file, comment}
    passed_by_file: Counter = field(default_factory=Counter)
    version: str = ""

    @property
    def ok(self) -> bool:
        return not self.failed


def built_templates(out_dir: Path = BUILD_DIR) -> list[Path]:
    """The templates of the build's manifest (not older versions' folders left in ``out_dir``), relative to the
    working directory when below it (shorter messages)."""
    found = sorted(Path(out_dir) / e.path for e in manifests.load(out_dir).manifest.products)
    cwd = Path.cwd()
    return [p.relative_to(cwd) if p.is_relative_to(cwd) else p for p in found]


def _same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).resolve() == Path(b).resolve()


def run_checkov(paths: Sequence[Path], checkov: Path = CHECKOV) -> ScanResult:
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
        for c in res.get("passed_checks") or []:
            result.passed_by_file[str(Path(c.get("file_abs_path") or c.get("file_path") or "").resolve())] += 1
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


# --- per-template results (scan.json) ----------------------------------------------------------

def _logical_id(checkov_resource: str) -> str:
    """``AWS::S3::Bucket.LogBucket`` -> ``LogBucket``."""
    return str(checkov_resource or "").rpartition(".")[2]


def checkov_summary(result: ScanResult, path: Path) -> dict:
    """checkov's results on one template, in the shape of scan.json."""
    failed = [f for f in result.failed if _same_file(f["file"], path)]
    skipped = [s for s in result.skipped if _same_file(s["file"], path)]
    return {"scanner": "checkov", "version": result.version,
            "rule_set": "checkov's built-in CloudFormation checks (--skip-download: no platform policies)",
            "units": "check x resource", "passed": result.passed_by_file[str(Path(path).resolve())],
            "failed": len(failed), "suppressed": len(skipped),
            "failures": [{"rule": f["check"], "resource": _logical_id(f["resource"]), "message": f["name"],
                          "scope": "all scenarios"} for f in failed],
            "suppressions": [{"rule": s["check"], "resource": _logical_id(s["resource"]),
                              "reason": s["comment"], "scope": "all scenarios"} for s in skipped]}


def guard_summary(result: guard.GuardResult, t: guard.TemplateResult) -> dict:
    """The Guard HIPAA rule set's results on one template, in the shape of scan.json."""
    return {"scanner": guard.NAME, "version": f"cfn-guard {result.version}", "rule_set": result.rule_set.label,
            "rule_set_pin": result.rule_set.to_json(), "units": "passed: rules; failed, suppressed: rule x resource",
            "variants": t.variants, "passed": len(t.passed), "failed": len(t.failed),
            "suppressed": len(t.suppressed), "not_applicable": t.not_applicable,
            "failures": [f.to_json() for f in t.failed], "suppressions": [s.to_json() for s in t.suppressed]}


def scanner_inputs(checkov: Path = CHECKOV, guard_exe: Path = guard.GUARD) -> str:
    """sha256 of what the scanners are, besides the template: checkov's installed distributions (the names
    and versions in its virtualenv), the cfn-guard binary, the pinned rule set, the code that runs them and
    makes the scenarios (this package, the metadata keys of ``generator.blocks.catalog``) and the cfn-lint
    version whose parser reads YAML templates for Guard."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    site = sorted(Path(checkov).resolve().parent.parent.glob("lib/python*/site-packages/*.dist-info"))
    digest.update("\n".join([*(d.name for d in site), f"cfn-lint {version('cfn-lint')}"]).encode())
    code = sorted(Path(__file__).parent.rglob("*.py")) + [ROOT / "generator" / "blocks" / "catalog.py"]
    for part in (Path(guard_exe).read_bytes() if Path(guard_exe).is_file() else b"",
                 guard.load_rule_set().text.encode(), *(f.read_bytes() for f in code)):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _inputs_sha256(template_sha256: str, scanners: str) -> str:
    return hashlib.sha256(f"{template_sha256} {scanners}".encode()).hexdigest()


def write_results(path: Path, summaries: Sequence[dict], scanners: str = "") -> Path:
    """``scan.json`` beside the template at ``path``, naming the template's sha256 and, given ``scanners``
    (``scanner_inputs()``), the sha256 of every input of the results (deterministic bytes)."""
    out = Path(path).parent / RESULTS
    sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    inputs = {"inputs_sha256": _inputs_sha256(sha256, scanners)} if scanners else {}
    body = json.dumps({"format": FORMAT, "template": Path(path).name, "template_sha256": sha256,
                       "scanners": list(summaries), **inputs}, indent=2, sort_keys=True) + "\n"
    if not (out.exists() and out.read_text(encoding="utf-8") == body):
        tmp = out.with_name(f".{RESULTS}.{os.getpid()}.tmp")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, out)
    return out


def _read_results(directory: Path) -> Mapping | None:
    """The scan.json in ``directory`` when it is one of this format, else None."""
    try:
        data = json.loads((Path(directory) / RESULTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, Mapping) or data.get("format") != FORMAT or not isinstance(data.get("scanners"), list):
        return None
    return data


def load_results(directory: Path, sha256: str) -> dict:
    """The scan results kept beside a built template, for its compliance report:
    ``{"status": "missing" | "stale" | "current", "scanners": [...]}`` (scanners only when current)."""
    data = _read_results(directory)
    if data is None:
        return {"status": "missing", "scanners": []}
    if data.get("template_sha256") != sha256:
        return {"status": "stale", "scanners": [], "template_sha256": str(data.get("template_sha256", ""))}
    return {"status": "current", "scanners": data["scanners"]}


def unchanged(paths: Sequence[Path], scanners: str) -> list[dict] | None:
    """The kept results of ``paths`` when each passed both scanners with these inputs, else None."""
    kept = []
    for path in paths:
        data = _read_results(Path(path).parent)
        sha256 = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        if data is None or data.get("inputs_sha256") != _inputs_sha256(sha256, scanners):
            return None
        runs = data["scanners"]
        if not all(isinstance(r, Mapping) for r in runs) or any(r.get("failed") for r in runs) \
                or sorted(str(r.get("scanner")) for r in runs) != sorted(["checkov", guard.NAME]):
            return None
        kept.append(dict(data))
    return kept


def refresh_reports(out_dir: Path = BUILD_DIR) -> None:
    """Rewrite the compliance reports of the built products so they show the new scan results (a no-change
    build otherwise: lint results come from the build cache)."""
    from generator import settings as catalog_settings
    from generator.pipeline import build as pipeline

    pipeline.build(catalog_settings.load(None), out_dir=out_dir)


# --- the command -------------------------------------------------------------------------------

def _print_checkov(result: ScanResult, count: int) -> None:
    for s in result.skipped:
        print(f"  skipped {s['check']} on {s['resource']} ({s['file']}): {s['comment']}")
    for f in result.failed:
        print(f"  FAILED {f['check']} {f['name']}\n      {f['resource']} in {f['file']} lines {f['lines']}")
    print(f"checkov {result.version}: {count} template(s), {result.passed} passed, {len(result.failed)} failed, "
          f"{len(result.skipped)} skipped (each skip is in the resource's Metadata with a reason)")


def _print_guard(result: guard.GuardResult) -> None:
    for t in result.templates:
        for s in t.suppressed:
            where = f" (only {s.scope.text})" if s.scope.text else ""
            print(f"  suppressed {s.rule} on {s.resource}{where} ({t.path}): {s.reason}")
        for f in t.failed:
            print(f"  FAILED {f.describe()}\n      in {t.path}")
    passed = sum(len(t.passed) for t in result.templates)
    failed = sum(len(t.failed) for t in result.templates)
    suppressed = sum(len(t.suppressed) for t in result.templates)
    variants = sum(len(t.variants) for t in result.templates)
    print(f"Guard HIPAA (cfn-guard {result.version}, {result.rule_set.label}): {len(result.templates)} template(s) "
          f"in {variants} variant(s) (as written + scenarios), {passed} rule pass(es), {failed} unexplained "
          f"finding(s), {suppressed} suppressed (each in the resource's Metadata with a reason)")


def _print_unchanged(paths: Sequence[Path], kept: Sequence[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"template": str(p), "scanners": k["scanners"]} for p, k in zip(paths, kept)], indent=2))
        return
    counts: Counter = Counter()
    for k in kept:
        for r in k["scanners"]:
            counts[r["scanner"], "passed"] += r.get("passed", 0)
            counts[r["scanner"], "suppressed"] += r.get("suppressed", 0)
    print(f"scan: {len(paths)} template(s) unchanged since they passed (same templates, scanners and rule set): "
          f"checkov {counts['checkov', 'passed']} passed, {counts['checkov', 'suppressed']} skipped; Guard HIPAA "
          f"{counts[guard.NAME, 'passed']} rule pass(es), {counts[guard.NAME, 'suppressed']} suppressed; results in "
          f"{', '.join(str(p.parent / RESULTS) for p in paths)} (--force scans again)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generator.compliance.scan", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*", type=Path, help="templates (default: build/*/*/template.json)")
    ap.add_argument("--only", choices=SCANNERS, help="run one scanner only")
    ap.add_argument("--checkov", type=Path, default=CHECKOV, help="checkov executable (default: .venv-checkov)")
    ap.add_argument("--guard", type=Path, default=guard.GUARD, help="cfn-guard executable (default: %(default)s)")
    ap.add_argument("--json", action="store_true", help="print the per-template results as JSON")
    ap.add_argument("--force", action="store_true",
                    help="scan the built templates even when their scan.json passed with the same inputs")
    args = ap.parse_args(argv)
    built = not args.paths
    wanted = [args.only] if args.only else list(SCANNERS)
    ok = True
    try:
        paths = args.paths or built_templates(BUILD_DIR)
        scanners = scanner_inputs(args.checkov, args.guard) if built and not args.only else ""
        kept = unchanged(paths, scanners) if built and not args.only and not args.force else None
        if kept is not None:
            _print_unchanged(paths, kept, as_json=args.json)
            return 0
        summaries: dict[Path, list[dict]] = {p: [] for p in paths}
        if "checkov" in wanted:
            ck = run_checkov(paths, args.checkov)
            ok &= ck.ok
            for p in paths:
                summaries[p].append(checkov_summary(ck, p))
            if not args.json:
                _print_checkov(ck, len(paths))
        if "guard" in wanted:
            gd = guard.run(paths, args.guard)
            ok &= gd.ok
            for p, t in zip(paths, gd.templates):
                summaries[p].append(guard_summary(gd, t))
            if not args.json:
                _print_guard(gd)
        if built:
            for p in paths:
                write_results(p, summaries[p], scanners)
            refresh_reports(BUILD_DIR)
    except CatalogError as exc:
        print(f"scan: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{"template": str(p), "scanners": s} for p, s in summaries.items()], indent=2))
    if not ok:
        print("scan: unexplained findings: fix the template, or skip/suppress the check in the resource's "
              "Metadata with a reason (checkov.skip with a comment; guard.SuppressedRules with "
              "hipaa-catalog.guard-suppressions)", file=sys.stderr)
    elif built and not args.json:
        print(f"scan results: {', '.join(str(p.parent / RESULTS) for p in paths)} (shown in the compliance reports)")
    return 0 if ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
