"""One lint pass per template: the HIPAA rules are evaluated once, inside cfn-lint's pass, and that pass
gives both the findings (with their scenarios as data) and every verdict the compliance report is made of."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.runner import run_template_by_data
from troposphere import Equals, If, NoValue, Parameter, Ref, Template
from troposphere.sns import Topic

from generator import settings as catalog_settings
from generator.cli.main import main
from generator.compliance import hipaa
from generator.compliance import lint as linting
from generator.compliance.lint import Linter, LintResult, load_rules
from generator.pipeline import build as pipeline
from generator.pipeline import workers
from generator.pipeline.cache import BuildCache
from generator.product import ProductSpec

REGIONS = ["us-east-1"]
BAD_FIXTURES = Path(__file__).parent / "rules" / "fixtures" / "bad"   # one per HIPAA rule (tests/rules)
# A topic encrypted in PROD only (E9104 fails in TEST), a second one always encrypted.
TWO_SCENARIOS = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Env": {"Type": "String", "AllowedValues": ["PROD", "TEST"]}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "PROD"]}},
    "Resources": {
        "Alerts": {"Type": "AWS::SNS::Topic", "Properties": {
            "KmsMasterKeyId": {"Fn::If": ["IsProd", "alias/aws/sns", {"Ref": "AWS::NoValue"}]}}},
        "Audit": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}}},
}, indent=2, sort_keys=True) + "\n"
# cfn-lint's own checks failing on every kind of value: a misspelt property, wrong types, a value outside
# its enum in one branch of an Fn::If, over a maximum, a Ref and a GetAtt to nothing, a Sub with no
# variable, an output's unknown condition.
CFN_LINT_ERRORS = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, AllowedValues: [PROD, TEST]}
Conditions:
  IsProd: !Equals [!Ref Env, PROD]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketNam: typo
      VersioningConfiguration: {Status: !If [IsProd, Enabled, Sometimes]}
      ObjectLockEnabled: "maybe"
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      KmsMasterKeyId: !Ref Missing
      DisplayName: !Sub "plain"
      Tags: [{Key: name, Value: !GetAtt Bucket.NoSuchAttribute}]
  Queue:
    Type: AWS::SQS::Queue
    Properties: {DelaySeconds: 9999, MessageRetentionPeriod: [1]}
Outputs:
  Url: {Value: !GetAtt Queue.Arn, Condition: NoSuchCondition}
"""
ONE_SCENARIO = json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                           "Resources": {"Alerts": {"Type": "AWS::SNS::Topic"}}}, indent=2) + "\n"


@pytest.fixture
def evaluations(monkeypatch) -> collections.Counter:
    """How often each HIPAA rule has been evaluated (by rule id) since the test started."""
    counts: collections.Counter = collections.Counter()
    evaluate = hipaa.HipaaRule.evaluate

    def counting(self, template):
        counts[self.id] += 1
        return evaluate(self, template)

    monkeypatch.setattr(hipaa.HipaaRule, "evaluate", counting)
    return counts


def _evaluating_rules() -> set[str]:
    """The rules that evaluate verdicts (E9000-E9002 check the template's metadata instead)."""
    return {r.id for r in hipaa.rules_in(load_rules()) if type(r).match is hipaa.HipaaRule.match}


def _two_scenario_product(_cfg) -> Template:
    t = Template(Description="a topic per environment")
    env = t.add_parameter(Parameter("Env", Type="String", AllowedValues=["PROD", "TEST"]))
    t.add_condition("IsProd", Equals(Ref(env), "PROD"))
    t.add_resource(Topic("Alerts", KmsMasterKeyId=If("IsProd", "alias/aws/sns", "alias/topics")))
    t.add_resource(Topic("Audit", KmsMasterKeyId="alias/aws/sns", DisplayName=If("IsProd", "audit", NoValue)))
    return t


def _catalog(tmp_path):
    data = {"catalog": {"name": "tiny", "regions": REGIONS, "ssm_prefix": "/tiny"},
            "portfolio": {"name": "Tiny", "description": "tests", "provider": "tests"},
            "products": {"topics": {"version": "1.0.0", "description": "topics", "owner": "tests",
                                    "changes": {"1.0.0": "first"}}}}
    settings = catalog_settings.parse(data, tmp_path / "catalog.toml")
    registry = {"topics": ProductSpec(name="topics", title="Topics", kind="product", build=_two_scenario_product,
                                      make_config=lambda s, ps, built: ps.name)}
    return settings, registry


def test_a_build_evaluates_each_rule_once_per_template_and_a_report_rebuild_none(tmp_path, evaluations):
    settings, registry = _catalog(tmp_path)
    out = tmp_path / "build"
    # jobs=1: everything runs in this process, where the evaluations are counted
    pipeline.build(settings, out_dir=out, registry=registry, jobs=1)
    assert dict(evaluations) == {rid: 1 for rid in _evaluating_rules()}
    report = (out / "topics/1.0.0/compliance.md").read_text()
    assert "| 164.312(a)(2)(iv) | Encryption and decryption (at rest) | PASS | [E9101]" in report
    assert "- PASS `Alerts` KmsMasterKeyId: `alias/aws/sns` — in PROD" in report
    # the report is written again from the cached lint result: no rule runs
    evaluations.clear()
    (out / "topics/1.0.0/compliance.md").unlink()
    progress: list[str] = []
    pipeline.build(settings, out_dir=out, registry=registry, progress=progress.append, jobs=1)
    assert "validated topics 1.0.0: clean in us-east-1 (cached)" in progress
    assert (out / "topics/1.0.0/compliance.md").read_text() == report
    assert not evaluations
    # without the cache the build still lints (and so evaluates) once
    pipeline.build(settings, out_dir=tmp_path / "nocache", registry=registry, cache=False)
    assert dict(evaluations) == {rid: 1 for rid in _evaluating_rules()}
    assert (tmp_path / "nocache/topics/1.0.0/compliance.md").read_text() == report


def test_report_of_a_template_file_evaluates_each_rule_once(tmp_path, evaluations):
    path = tmp_path / "topics.json"
    path.write_text(TWO_SCENARIOS)
    # the template fails a rule in one scenario: the report is written and the command says so (exit 1)
    args = ["report", "--template", str(path), "--out", str(tmp_path / "out")]
    assert main(args) == 1
    # again, the catalog's lint results (which products cover the rules with nothing to check here) now
    # surely in the build cache: the template's own pass is the only one
    evaluations.clear()
    assert main(args) == 1
    assert dict(evaluations) == {rid: 1 for rid in _evaluating_rules()}
    report = (tmp_path / "out" / "compliance.md").read_text()
    assert ("- **FAIL** `Alerts` KmsMasterKeyId/Fn::If/2: `(not set)` — topic Alerts: KmsMasterKeyId is not set, "
            "so it is not encrypted with KMS — in TEST") in report


def test_findings_carry_their_scenarios_as_data_from_the_verdicts():
    result = Linter(REGIONS).lint_text(TWO_SCENARIOS, "t.json")
    assert result.scenarios == ("Env=PROD", "Env=TEST")
    (finding,) = [f for f in result.findings if f.rule_id == "E9104"]
    assert finding.scenarios == ("Env=TEST",)
    assert finding.path == ("Resources", "Alerts", "Properties", "KmsMasterKeyId", "Fn::If", 2)
    assert finding.message.endswith(f"(fix: {hipaa.REGISTRY['E9104'].fix})") and "Env=" not in finding.message
    assert finding.describe().endswith("(scenario Env=TEST) at Resources/Alerts/Properties/KmsMasterKeyId/Fn::If/2")
    assert finding.to_dict()["scenarios"] == ["Env=TEST"]
    fails = {(v.scenario, v.path) for v in result.verdicts if v.rule == "E9104" and v.status == "fail"}
    assert fails == {("Env=TEST", finding.path)}
    passes = {(v.scenario, v.logical_id) for v in result.verdicts if v.rule == "E9104" and v.status == "pass"}
    assert passes == {("Env=PROD", "Alerts"), ("Env=PROD", "Audit"), ("Env=TEST", "Audit")}
    assert all(type(p) in (str, int) for v in result.verdicts for p in v.path)


def test_a_finding_in_every_scenario_names_them_all_and_a_single_scenario_none():
    linter = Linter(REGIONS)
    both = json.loads(TWO_SCENARIOS)
    del both["Resources"]["Audit"]["Properties"]["KmsMasterKeyId"]
    result = linter.lint_text(json.dumps(both), "t.json")
    audit = [f for f in result.findings if f.rule_id == "E9104" and f.logical_id == "Audit"]
    assert [f.scenarios for f in audit] == [("Env=PROD", "Env=TEST")]
    single = linter.lint_text(ONE_SCENARIO, "one.json")
    assert single.scenarios == ("",)
    assert [f.scenarios for f in single.findings if f.rule_id == "E9104"] == [()]


def test_plain_cfn_lint_names_the_scenarios_in_its_message():
    """``cfn-lint -a generator/compliance/rules`` runs without a collecting lint pass; its reader sees the
    scenarios in the message."""
    template, errors = decode_str(TWO_SCENARIOS)
    assert not errors and hipaa._collecting.get() is None
    matches = [m for m in run_template_by_data(template, ConfigMixIn([], regions=REGIONS), load_rules())
               if m.rule.id == "E9104"]
    assert len(matches) == 1 and matches[0].message.endswith(" [scenario: Env=TEST]")


def test_worker_processes_return_the_same_lint_results():
    # different sizes: the workers take the largest first, the results come back in the order given
    jobs = [(TWO_SCENARIOS.replace("alias/aws/sns", "alias/" + "k" * i), f"t{i}.json") for i in range(4)]
    with workers.Workers(REGIONS, jobs=1) as here:
        serial = here.lint(jobs)
    assert all(isinstance(r, LintResult) and r.verdicts and r.findings for r in serial)
    with workers.Workers(REGIONS, jobs=2) as forked:
        assert forked.lint(jobs) == serial


@pytest.mark.slow   # two lint passes over every bad fixture, one over the catalog
def test_shared_validator_classes_change_no_finding_and_no_verdict(monkeypatch, rendered, settings, catalog_build):
    """cfn-lint with its validator classes shared (generator.compliance.lint.share_validator_classes)
    finds what it finds without: on the catalog, every HIPAA rule's bad fixture and cfn-lint's own errors.
    The catalog's results with them shared are the catalog build's (its workers share them), read from its
    cache where it holds them."""
    import cfnlint.jsonschema.validators as cfn_validators

    linter = Linter(settings.regions)
    assert hasattr(cfn_validators.create, "__wrapped__"), (
        f"cfn-lint {linting.CFN_LINT_VERSION} is not in generator.compliance.lint.SHARED_VALIDATOR_CLASSES: check "
        "that its validators.create still makes a class of its three arguments alone, then add the version")
    texts = [(b.json_text, f"{b.rel_dir}/template.json") for b in rendered.values()]   # as the build names them
    cache = BuildCache(catalog_build, settings.regions)
    catalog = [cache.lint_result(text, name) for text, name in texts]
    assert all(catalog), "the catalog build keeps every product's lint result in its cache"
    texts += [(CFN_LINT_ERRORS, "cfn-lint-errors.yaml")]
    texts += [(p.read_text(encoding="utf-8"), p.name) for p in sorted(BAD_FIXTURES.glob("*.yaml"))]
    shared = catalog + [linter.lint_text(text, name) for text, name in texts[len(catalog):]]
    monkeypatch.setattr(cfn_validators, "create", cfn_validators.create.__wrapped__)
    assert [linter.lint_text(text, name) for text, name in texts] == shared
    errors = {f.rule_id for f in shared[len(rendered)].findings}
    assert {"E1010", "E1020", "E3002", "E3012", "E3024", "E3030", "E3034", "E6005", "W1020"} <= errors
    assert all(r.findings for r in shared[len(rendered) + 1:])   # each bad fixture fails its rule


def test_under_another_cfn_lint_version_its_validator_classes_are_left_alone(monkeypatch):
    import cfnlint.jsonschema.validators as cfn_validators

    plain = getattr(cfn_validators.create, "__wrapped__", cfn_validators.create)
    monkeypatch.setattr(cfn_validators, "create", plain)
    monkeypatch.setattr(linting, "CFN_LINT_VERSION", "1.0.0")
    assert linting.share_validator_classes() is False and cfn_validators.create is plain
