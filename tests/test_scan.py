"""`make scan`'s Guard half: the registry's HIPAA Security rule set with cfn-guard, scenarios and suppressions.

The templates here are small and written for one finding each; cfn-guard (installed by `make scan`, which
`make test` runs first) judges them for real.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from generator.compliance import guard, guard_vendor, report, scan
from generator.compliance.lint import Linter
from generator.errors import ConfigError, ScanError
from generator.pipeline import manifest as manifests

ENCRYPTION = "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"
SSE = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


@pytest.fixture(scope="module")
def cfn_guard() -> Path:
    if not guard.GUARD.is_file():
        pytest.skip(f"{guard.GUARD} is absent: `make scan` (run by `make test`) installs cfn-guard")
    return guard.GUARD


def _template(tmp_path: Path, bucket: dict, name: str = "template.json", **extra) -> Path:
    template = {"AWSTemplateFormatVersion": "2010-09-09", **extra,
                "Resources": {"PlainBucket": {"Type": "AWS::S3::Bucket", **bucket}}}
    path = tmp_path / name
    path.write_text(json.dumps(template, indent=2), encoding="utf-8")
    return path


def _scan(capsys, *args) -> tuple[int, str]:
    code = scan.main(["--only", "guard", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_an_unencrypted_bucket_fails_the_scan_naming_rule_and_resource(cfn_guard, tmp_path, capsys):
    path = _template(tmp_path, {"Properties": {}})
    code, out = _scan(capsys, path)
    assert code == 1
    assert f"FAILED {ENCRYPTION} on PlainBucket" in out
    result = guard.run([path], cfn_guard)
    (t,) = result.templates
    failed = {(f.rule, f.resource) for f in t.failed}
    assert (ENCRYPTION, "PlainBucket") in failed and ("S3_BUCKET_VERSIONING_ENABLED", "PlainBucket") in failed
    assert all(f.scope.labels == () for f in t.failed)  # no conditions: one variant, found everywhere


def test_the_same_bucket_encrypted_passes_that_rule(cfn_guard, tmp_path):
    path = _template(tmp_path, {"Properties": {"BucketEncryption": SSE}})
    (t,) = guard.run([path], cfn_guard).templates
    assert ENCRYPTION in t.passed and ENCRYPTION not in {f.rule for f in t.failed}


def _suppressed(rules, reasons=None) -> dict:
    meta = {"guard": {"SuppressedRules": rules}}
    if reasons is not None:
        meta["hipaa-catalog"] = {"guard-suppressions": [{"rule": r, "reason": why} for r, why in reasons.items()]}
    return {"Metadata": meta, "Properties": {}}


def test_scanning_the_build_fails_names_the_finding_and_keeps_it_for_the_report(cfn_guard, tmp_path, capsys,
                                                                              monkeypatch):
    """`make scan` without paths: the built templates; scan.json beside each, then the reports refreshed."""
    built = tmp_path / "build" / "plain" / "1.0.0"
    built.mkdir(parents=True)
    path = _template(built, {"Properties": {}})
    entry = manifests.entry_for("plain", "1.0.0", "first", path.read_text(encoding="utf-8"))
    manifests.write(tmp_path / "build", manifests.Manifest("c", ("us-east-1",), (entry,), "not checked"))
    refreshed = []
    monkeypatch.setattr(scan, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(scan, "refresh_reports", refreshed.append)
    code = scan.main(["--only", "guard"])
    assert code == 1 and f"FAILED {ENCRYPTION} on PlainBucket" in capsys.readouterr().out
    assert refreshed == [tmp_path / "build"]
    import hashlib

    kept = scan.load_results(built, hashlib.sha256(path.read_bytes()).hexdigest())
    (summary,) = kept["scanners"]
    assert kept["status"] == "current" and summary["scanner"] == guard.NAME and summary["failed"] > 0
    assert {"rule": ENCRYPTION, "resource": "PlainBucket"}.items() <= next(
        f for f in summary["failures"] if f["rule"] == ENCRYPTION).items()


def test_an_unchanged_build_that_passed_is_not_scanned_again(cfn_guard, tmp_path, capsys, monkeypatch):
    """With scan.json of every built template passing with the same inputs, no scanner runs; a changed
    template, other scanner files or --force scan again (here the scan then stops at the absent checkov)."""
    built = tmp_path / "build" / "plain" / "1.0.0"
    built.mkdir(parents=True)
    path = _template(built, {"Properties": {"BucketEncryption": SSE}})
    entry = manifests.entry_for("plain", "1.0.0", "first", path.read_text(encoding="utf-8"))
    manifests.write(tmp_path / "build", manifests.Manifest("c", ("us-east-1",), (entry,), "not checked"))
    monkeypatch.setattr(scan, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(scan, "refresh_reports", lambda _out: None)
    checkov = tmp_path / "venv" / "bin" / "checkov"   # absent: running it would be an error
    passed = [{"scanner": "checkov", "passed": 3, "failed": 0, "suppressed": 0},
              {"scanner": guard.NAME, "passed": 2, "failed": 0, "suppressed": 1}]
    scan.write_results(path, passed, scan.scanner_inputs(checkov, cfn_guard))
    argv = ["--checkov", str(checkov), "--guard", str(cfn_guard)]
    assert scan.main(argv) == 0
    assert "1 template(s) unchanged since they passed" in capsys.readouterr().out
    assert scan.main([*argv, "--force"]) == 2 and "checkov is not installed" in capsys.readouterr().err
    other_guard = tmp_path / "cfn-guard"
    other_guard.write_bytes(cfn_guard.read_bytes() + b"\0")
    assert scan.main(["--checkov", str(checkov), "--guard", str(other_guard)]) == 2
    capsys.readouterr()
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert scan.main(argv) == 2 and "checkov is not installed" in capsys.readouterr().err
    scan.write_results(path, [passed[0], {**passed[1], "failed": 1}], scan.scanner_inputs(checkov, cfn_guard))
    assert scan.main(argv) == 2   # a scan that failed is run again


def test_a_suppression_without_a_reason_fails_the_scan(cfn_guard, tmp_path, capsys):
    path = _template(tmp_path, _suppressed([ENCRYPTION]))
    code, out = _scan(capsys, path)
    assert code == 1
    assert f"FAILED {ENCRYPTION} on PlainBucket: suppressed without a reason" in out


def test_a_suppression_with_a_reason_is_listed_not_failed(cfn_guard, tmp_path, capsys):
    path = _template(tmp_path, _suppressed([ENCRYPTION], {ENCRYPTION: "test data, no PHI"}))
    (t,) = guard.run([path], cfn_guard).templates
    assert [(s.rule, s.resource, s.reason) for s in t.suppressed] == [(ENCRYPTION, "PlainBucket", "test data, no PHI")]
    assert ENCRYPTION not in {f.rule for f in t.failed}
    assert "S3_BUCKET_VERSIONING_ENABLED" in {f.rule for f in t.failed}  # only the named rule is silenced


@pytest.mark.parametrize("rules", [[], [{"id": ENCRYPTION, "reason": "cdk-nag style"}]], ids=["empty", "map"])
def test_a_shape_that_silences_every_rule_fails_the_scan(cfn_guard, tmp_path, rules):
    """cfn-guard skips every registry rule on such a resource; the scan sees through it."""
    path = _template(tmp_path, _suppressed(rules))
    (t,) = guard.run([path], cfn_guard).templates
    silenced = {f.rule for f in t.failed if "malformed guard.SuppressedRules" in f.message}
    assert {ENCRYPTION, "S3_BUCKET_VERSIONING_ENABLED", "S3_BUCKET_LOGGING_ENABLED"} <= silenced
    assert t.suppressed == []


def test_a_stale_suppression_fails_the_scan(cfn_guard, tmp_path):
    reasons = {ENCRYPTION: "stale", "NOT_A_REGISTRY_RULE": "typo"}
    path = _template(tmp_path, {**_suppressed(list(reasons), reasons), "Properties": {"BucketEncryption": SSE}})
    (t,) = guard.run([path], cfn_guard).templates
    stale = {f.rule: f.message for f in t.failed if f.message.startswith("stale suppression")}
    assert "does not fail here" in stale[ENCRYPTION]
    assert "is not a rule of the pinned rule set" in stale["NOT_A_REGISTRY_RULE"]


def test_a_failure_only_in_prod_is_found_and_named_with_its_scenario(cfn_guard, tmp_path, capsys):
    """Encryption dropped with Fn::If in PROD only: found in the resolved PROD template (and as written,
    where the rule cannot see through Fn::If), not in TEST."""
    extra = {"Parameters": {"Environment": {"Type": "String", "AllowedValues": ["PROD", "TEST"]}},
             "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Environment"}, "PROD"]}}}
    bucket = {"Properties": {"BucketEncryption": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, SSE]}}}
    path = _template(tmp_path, bucket, **extra)
    (t,) = guard.run([path], cfn_guard).templates
    assert t.variants == [guard.AS_WRITTEN, "Environment=PROD", "Environment=TEST"]
    (finding,) = [f for f in t.failed if f.rule == ENCRYPTION]
    assert finding.resource == "PlainBucket" and finding.scope.labels == (guard.AS_WRITTEN, "Environment=PROD")
    assert finding.scope.text == "Environment=PROD, and the template as written"
    code, out = _scan(capsys, path)
    assert code == 1 and f"FAILED {ENCRYPTION} on PlainBucket (only Environment=PROD, and the template as" in out


def test_a_resource_only_in_prod_is_named_with_its_scenario(cfn_guard, tmp_path):
    extra = {"Parameters": {"Environment": {"Type": "String", "AllowedValues": ["PROD", "TEST"]},
                            "PHI": {"Type": "String", "AllowedValues": ["YES", "NO"]}},
             "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Environment"}, "PROD"]},
                            "HasPhi": {"Fn::Equals": [{"Ref": "PHI"}, "YES"]}}}
    path = _template(tmp_path, {"Condition": "IsProd", "Properties": {}}, **extra)
    (t,) = guard.run([path], cfn_guard).templates
    (finding,) = [f for f in t.failed if f.rule == ENCRYPTION]
    assert finding.scope.text == "Environment=PROD, and the template as written"


def _guard_on_the_catalog(catalog_build: Path, cfn_guard: Path) -> dict[str, dict]:
    """The Guard HIPAA results of every built template, by product, in scan.json's shape: those `make scan`
    keeps beside the templates when they are current (the same templates, scanners and rule set: `make test`
    scans first, and the scan does not run cfn-guard again on what passed), else those of a run now."""
    paths = scan.built_templates(catalog_build)
    kept = scan.unchanged(paths, scan.scanner_inputs())
    if kept is not None:
        return {p.parts[-3]: next(r for r in k["scanners"] if r["scanner"] == guard.NAME) for p, k in zip(paths, kept)}
    result = guard.run(paths, cfn_guard)
    return {p.parts[-3]: scan.guard_summary(result, t) for p, t in zip(paths, result.templates)}


def test_the_catalog_is_clean_and_every_suppression_explained(cfn_guard, catalog_build, rendered):
    results = _guard_on_the_catalog(catalog_build, cfn_guard)
    assert sorted(results) == sorted(rendered)
    assert {name: r["failures"] for name, r in results.items() if r["failures"]} == {}
    suppressed = {(name, s["resource"], s["rule"]) for name, r in results.items() for s in r["suppressions"]}
    assert suppressed == {
        ("account-baseline", "Trail", "CLOUDTRAIL_S3_DATAEVENTS_ENABLED"),
        ("account-baseline", "AccessLogBucket", "S3_BUCKET_LOGGING_ENABLED"),
        ("account-baseline", "AccessLogBucket", "S3_BUCKET_REPLICATION_ENABLED"),
        ("account-baseline", "LogBucket", "S3_BUCKET_REPLICATION_ENABLED"),   # until the replica exists
        ("account-baseline", "LogReplicaBucket", "S3_BUCKET_REPLICATION_ENABLED"),
        ("account-baseline", "TemplateBucket", "S3_BUCKET_REPLICATION_ENABLED"),
        ("log-replica", "ReplicaAccessLogBucket", "S3_BUCKET_LOGGING_ENABLED"),
        ("log-replica", "ReplicaAccessLogBucket", "S3_BUCKET_REPLICATION_ENABLED"),
        ("log-replica", "LogReplicaBucket", "S3_BUCKET_REPLICATION_ENABLED"),
        ("healthcare-web-server", "Instance", "EC2_INSTANCES_IN_VPC"),
        ("healthcare-web-server", "HttpsListener", "ELBV2_ACM_CERTIFICATE_REQUIRED"),
        ("healthcare-web-server", "LoadBalancer", "ELB_DELETION_PROTECTION_ENABLED"),
    }
    assert all(s["reason"] for r in results.values() for s in r["suppressions"])


def test_yaml_with_short_form_tags_is_read(cfn_guard, tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("Resources:\n  PlainBucket:\n    Type: AWS::S3::Bucket\n    Properties:\n"
                    "      Tags: [{Key: Name, Value: !Sub '${AWS::StackName}'}]\n", encoding="utf-8")
    (t,) = guard.run([path], cfn_guard).templates
    assert (ENCRYPTION, "PlainBucket") in {(f.rule, f.resource) for f in t.failed}


def test_not_a_template_is_an_error(cfn_guard, tmp_path, capsys):
    path = tmp_path / "notes.json"
    path.write_text('{"hello": 1}', encoding="utf-8")
    code, out = _scan(capsys, path)
    assert code == 2 and "not a CloudFormation template" in out


# --- the pinned rule set -----------------------------------------------------------------------

def test_the_vendored_rule_set_is_the_pinned_one():
    rules = guard.load_rule_set()
    pin = json.loads((guard.RULES_DIR / guard.PIN).read_text())
    assert rules.commit == pin["commit"] == "7f7340c26ae5d5e8874651dbffeb12e0e9f505b6"
    assert rules.mapping == "mappings/rule_set_hipaa_security.json" and rules.name == "hipaa-security"
    assert len(rules.rules) == len(set(rules.rules)) == pin["rules"] == 76
    assert {"LICENSE", "NOTICE"} <= set(pin["files"]) and (guard.RULES_DIR / "README.md").is_file()


def test_an_edited_rule_file_is_refused(tmp_path):
    copy = tmp_path / "guard_rules"
    shutil.copytree(guard.RULES_DIR, copy)
    target = copy / "rules/aws/amazon_s3/s3_bucket_logging_enabled.guard"
    target.write_text(target.read_text() + "\n# edited\n")
    with pytest.raises(ScanError, match="differs from the pinned copy"):
        guard.load_rule_set(copy)


def _fake_registry(root: Path) -> None:
    (root / "mappings").mkdir(parents=True)
    (root / "rules/aws/demo").mkdir(parents=True)
    (root / "LICENSE").write_text("Apache License\n")
    (root / "NOTICE").write_text("Copyright\n")
    (root / "rules/aws/demo/one.guard").write_text("rule DEMO_ONE { Resources exists }\n")
    (root / "rules/aws/demo/stub.guard").write_text("# a Config rule without a Guard rule\n")
    mapping = {"ruleSetName": "hipaa-security", "version": "9.9.9", "mappings": [
        {"guardFilePath": "rules/aws/demo/one.guard", "controls": ["164.312(b)"]},
        {"guardFilePath": "rules/aws/demo/stub.guard", "controls": ["164.312(b)"]}]}
    (root / guard_vendor.MAPPING).write_text(json.dumps(mapping))


def test_update_procedure_from_a_git_checkout(tmp_path, capsys):
    registry, dest = tmp_path / "registry", tmp_path / "vendored"
    _fake_registry(registry)
    git = ["git", "-C", str(registry), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(registry)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "rules"], check=True)
    (registry / "rules/aws/demo/one.guard").write_text("rule CHANGED_AFTER_THE_COMMIT {}\n")  # not committed
    assert guard_vendor.main([str(registry), "--dest", str(dest)]) == 0
    assert "vendored hipaa-security 9.9.9" in capsys.readouterr().out
    rules = guard.load_rule_set(dest)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert rules.commit == head and rules.rules == ("DEMO_ONE",) and rules.version == "9.9.9"
    assert head in (dest / "README.md").read_text()


def test_update_procedure_from_a_plain_directory_needs_the_commit(tmp_path):
    registry, dest = tmp_path / "registry", tmp_path / "vendored"
    _fake_registry(registry)
    with pytest.raises(ConfigError, match="commit it was taken from"):
        guard_vendor.Source.open(registry, None)
    pin = guard_vendor.vendor(guard_vendor.Source.open(registry, "a" * 40), dest)
    assert pin["commit"] == "a" * 40 and set(pin["files"]) == {
        "LICENSE", "NOTICE", guard_vendor.MAPPING, "rules/aws/demo/one.guard", "rules/aws/demo/stub.guard"}
    assert guard.load_rule_set(dest).rules == ("DEMO_ONE",)


# --- scan.json and the compliance report -------------------------------------------------------

def test_results_file_feeds_the_report_only_for_the_same_template(tmp_path):
    path = tmp_path / "template.json"
    path.write_text('{"Resources": {}}\n')
    summary = {"scanner": guard.NAME, "version": "cfn-guard 3.1.1", "rule_set": "rules@abc", "passed": 3,
               "failed": 0, "suppressed": 1, "units": "u",
               "failures": [], "suppressions": [{"rule": "R", "resource": "B", "reason": "why", "scope": "all scenarios"}]}
    scan.write_results(path, [summary])
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    current = scan.load_results(tmp_path, sha)
    assert current["status"] == "current" and current["scanners"] == [summary]
    assert scan.load_results(tmp_path, "0" * 64)["status"] == "stale"
    assert scan.load_results(tmp_path / "nowhere", sha)["status"] == "missing"

    template = {"Resources": {"B": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"},
                                    "Metadata": {"guard": {"SuppressedRules": ["R"]},
                                                 "hipaa-catalog": {"guard-suppressions": [{"rule": "R", "reason": "why"}]}}}}}
    lint = Linter(["us-east-1"]).lint_text(json.dumps(template))
    rep = report.build_report(template, lint, "t", "1", scan=current)
    md, page = report.to_markdown(rep), report.to_html(rep)
    assert "| Guard HIPAA | cfn-guard 3.1.1 | rules@abc | 3 | 0 | 1 | u |" in md
    assert "| `B` | `R` | all scenarios | why |" in md                  # the suppression, where, its reason
    assert "<td>cfn-guard 3.1.1</td>" in page
    assert report.SCAN_NOTE in report.to_markdown(report.build_report(template, lint, "t", "1"))
    stale = report.build_report(template, lint, "t", "1", scan=scan.load_results(tmp_path, "0" * 64))
    assert "run `make scan` again" in report.to_markdown(stale)
