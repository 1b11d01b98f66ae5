"""The HIPAA rule pack, tested like cfn-lint tests its own rules: a good and a bad fixture per rule.

Good fixtures (``fixtures/good/*.yaml``) are realistic compliant templates shared by the rules: every
rule that applies to their resources must pass there, in every scenario, and every rule must be
exercised by at least one of them.  Each rule has its own bad fixture, ``fixtures/bad/<ClassName>.yaml``;
the test asserts the rule id, the path it reports (in the original template, through ``Fn::If``) and
the scenarios it names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.decode.decode import decode_str

from generator.compliance import hipaa
from generator.compliance.lint import RULES_DIR, Linter, load_rules

FIXTURES = Path(__file__).parent / "fixtures"
BOTH = "Environment=PROD; Environment=TEST"
META = ("E9000", "E9001", "E9002", "E9003")  # template-level rules without resources to pass on

# rule id -> {(path reported, scenarios named)} in fixtures/bad/<ClassName>.yaml
BAD = {
    "E9000": {("Conditions", "")},
    "E9001": {("Resources/Topic/Metadata/hipaa-catalog/waivers/0/reason", ""),
              ("Resources/Topic/Metadata/hipaa-catalog/waivers/1/rule", "")},
    "E9002": {("Resources/Topic/Metadata/checkov/skip/0", "")},
    "E9003": {("Resources/NoReason/Metadata/guard/SuppressedRules/0", ""),
              ("Resources/BlankReason/Metadata/hipaa-catalog/guard-suppressions/0/reason", ""),
              ("Resources/EmptyList/Metadata/guard/SuppressedRules", ""),
              ("Resources/NotAString/Metadata/guard/SuppressedRules/0", ""),
              ("Resources/LowerCase/Metadata/guard/SuppressedRules/0", ""),
              ("Resources/StrayReason/Metadata/hipaa-catalog/guard-suppressions/1/rule", ""),
              ("Resources/CfnNag/Metadata/cfn_nag", "")},
    "E9101": {("Resources/Data/Properties/Encrypted/Fn::If/2", "Environment=TEST"),
              ("Resources/Param/Properties/Encrypted", BOTH),  # !Ref Encrypt, which allows "false"
              ("Resources/Param/Properties/KmsKeyId", BOTH)},
    "E9102": {("Resources/NoMappings/Properties/BlockDeviceMappings", BOTH),
              ("Resources/Plain/Properties/BlockDeviceMappings/0/Ebs/Encrypted", BOTH),
              ("Resources/Plain/Properties/BlockDeviceMappings/0/Ebs/KmsKeyId", BOTH)},
    "E9103": {("Resources/Logs/Properties/KmsKeyId", BOTH)},
    "E9104": {("Resources/Topic/Properties/KmsMasterKeyId", BOTH)},
    "E9105": {("Resources/Trail/Properties/KMSKeyId", BOTH)},
    "E9106": {("Resources/Aes/Properties/BucketEncryption/ServerSideEncryptionConfiguration", BOTH),
              ("Resources/Plain/Properties/BucketEncryption", BOTH)},
    "E9107": {("Resources/Key/Properties/EnableKeyRotation/Fn::If/2", "Environment=TEST")},
    "E9108": {("Resources/Key/Properties/KeyPolicy/Statement/0/Principal", BOTH)},
    "E9201": {("Resources/HalfPolicy", BOTH), ("Resources/NoPolicy", BOTH)},
    "E9202": {("Resources/Old/Properties/SslPolicy", BOTH), ("Resources/Plain/Properties/DefaultActions/0", BOTH)},
    "E9203": {("Resources/Extra/Properties", BOTH),
              ("Resources/WebSg/Properties/SecurityGroupIngress/0/Fn::If/1", "Environment=PROD")},
    "E9204": {("Resources/Sg/Properties/SecurityGroupIngress/0/Fn::If/1", "Environment=PROD"),
              ("Resources/Sg/Properties/SecurityGroupIngress/1", BOTH)},
    "E9205": {("Resources/In/Properties/IpProtocol", BOTH),
              ("Resources/Sg/Properties/SecurityGroupEgress/0/IpProtocol", BOTH)},
    "W9206": {("Resources/Out/Properties/Description", BOTH),
              ("Resources/Sg/Properties/SecurityGroupIngress/0/Description", BOTH)},
    "E9301": {("Resources/Ip/Properties/InstanceId", BOTH),
              ("Resources/Web/Properties/NetworkInterfaces/0/AssociatePublicIpAddress/Fn::If/1", "Environment=PROD")},
    "E9302": {("Resources/Web/Properties/SubnetId", BOTH)},
    "E9303": {("Resources/Optional/Properties/MetadataOptions/HttpTokens", BOTH),
              ("Resources/Unset/Properties/MetadataOptions", BOTH)},
    "E9304": {("Resources/Web/Properties/IamInstanceProfile", BOTH)},
    "E9305": {("Resources/Web/Properties/Monitoring/Fn::If/2", "Environment=TEST")},
    "E9401": {("Resources/Forever/Properties/RetentionInDays", BOTH), ("Resources/Short/Properties/RetentionInDays", BOTH)},
    "E9402": {("Resources/Disabled/Properties/ActionsEnabled", BOTH), ("Resources/Silent/Properties/AlarmActions", BOTH)},
    "W9403": {("Resources/Alarm/Properties/InsufficientDataActions", BOTH)},
    "E9404": {("Resources/Trail/Properties/IncludeGlobalServiceEvents", BOTH),
              ("Resources/Trail/Properties/IsLogging/Fn::If/2", "Environment=TEST"),
              ("Resources/Trail/Properties/IsMultiRegionTrail", BOTH)},
    "E9405": {("Resources/Trail/Properties/EventSelectors", BOTH)},
    "E9406": {("Resources/Trail/Properties/CloudWatchLogsLogGroupArn", BOTH)},
    "E9407": {("Resources/Trail/Properties/EnableLogFileValidation", BOTH)},
    "W9408": {("Resources/Filter/Properties/MetricTransformations/0", BOTH)},
    "E9409": {("Resources/TaggedBackups/Properties/Scope", BOTH),
              ("Resources/TrailEncrypted/Properties/Scope/Fn::If/2", "Environment=TEST")},
    "E9410": {("Resources/Key/UpdateReplacePolicy", ""), ("Resources/Logs/DeletionPolicy", ""),
              ("Resources/Logs/UpdateReplacePolicy", ""), ("Resources/BucketKey/DeletionPolicy", ""),
              ("Resources/BucketKey/UpdateReplacePolicy", ""), ("Resources/Bucket/UpdateReplacePolicy", "")},
    "E9501": {("Resources/Bucket/Properties/VersioningConfiguration", BOTH)},
    "E9502": {("Resources/Bucket/Properties/LoggingConfiguration", BOTH)},  # its waiver has a blank reason
    "E9503": {("Resources/Partial/Properties/PublicAccessBlockConfiguration/RestrictPublicBuckets", BOTH),
              ("Resources/Public/Properties/AccessControl", BOTH)},
    "E9601": {("Resources/Data", "Environment=TEST")},  # the backup selection exists in PROD only
    "E9701": {("Resources/Extra/Type", BOTH), ("Resources/Role/Properties/Policies", BOTH)},
    "E9702": {("Resources/Policy/Properties/PolicyDocument/Statement/0/Action/1", BOTH),  # catalog-user:*
              ("Resources/Policy/Properties/PolicyDocument/Statement/1/Action", BOTH),
              ("Resources/Policy/Properties/PolicyDocument/Statement/2/NotAction", BOTH)},
    "E9703": {("Resources/Policy/Properties/PolicyDocument/Statement/0/Resource", BOTH),
              ("Resources/Policy/Properties/PolicyDocument/Statement/1/Resource", BOTH),
              ("Resources/Policy/Properties/PolicyDocument/Statement/2/Resource", BOTH)},
}

RULES = {r.id: r for r in hipaa.rules_in(load_rules())}


@pytest.fixture(scope="module")
def linter():
    return Linter(["us-east-1"])


def test_every_rule_is_documented_and_has_a_bad_case():
    assert sorted(RULES) == sorted(BAD)
    for rid, rule in RULES.items():
        name = type(rule).__name__
        assert re.fullmatch(r"[EW]9\d{3}", rid)
        assert (RULES_DIR / f"{name}.py").is_file(), f"{rid}: file not named after the class {name}"
        assert rule.shortdesc and rule.description and rule.fix, rid
        assert rule.hipaa and all(c.startswith("164.3") for c in rule.hipaa), rid
        assert rule.source_url.endswith(f"/{name}.py")
        assert (FIXTURES / "bad" / f"{name}.yaml").is_file()


@pytest.mark.parametrize("rule_id", sorted(BAD))
def test_bad_fixture(linter, rule_id):
    name = type(RULES[rule_id]).__name__
    path = FIXTURES / "bad" / f"{name}.yaml"
    findings = linter.lint_text(path.read_text(), str(path)).findings
    assert not [f for f in findings if f.rule_id.startswith("E0")], findings  # no rule crashed
    got = {(f.path_text, f.scenario_text) for f in findings if f.rule_id == rule_id}
    assert got == BAD[rule_id]
    assert all(f.line > 0 and "(fix: " in f.message for f in findings if f.rule_id == rule_id)


@pytest.mark.parametrize("name", ["web", "baseline"])
def test_good_fixture_is_clean(linter, name):
    path = FIXTURES / "good" / f"{name}.yaml"
    assert linter.lint_text(path.read_text(), str(path)).findings == ()


def test_good_fixtures_exercise_every_rule():
    passed, waived = set(), set()
    for path in sorted((FIXTURES / "good").glob("*.yaml")):
        template, errors = decode_str(path.read_text())
        assert not errors
        for rule in RULES.values():
            results = rule.evaluate(template)
            assert all(r.status != "fail" for r in results), results
            passed |= {r.rule for r in results if r.status == "pass"}
            waived |= {(r.rule, r.logical_id, r.reason) for r in results if r.status == "waived"}
    assert passed == set(RULES) - set(META)
    assert waived == {("E9502", "LogBucket", "this is the access-log bucket; logging it to itself would loop")}
