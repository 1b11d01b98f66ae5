"""The local endpoint's IAM policy evaluator, against the rules of the IAM User Guide
(quoted in generator/devtools/local_aws/iam/policy.py)."""

from __future__ import annotations

import pytest

from generator.devtools.local_aws.iam.policy import Request, evaluate, without_statement
from generator.errors import PolicyNotEvaluable

ARN = "arn:aws:ec2:us-east-1:123456789012:instance/i-0abc"


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action="*", resource="*", condition=None, sid=None, effect="Allow", **extra):
    st = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        st["Condition"] = condition
    if sid:
        st["Sid"] = sid
    return st


def decide(document, action="ec2:TerminateInstances", resource=ARN, **context):
    return evaluate([("p", document)], Request(action, resource, context))


# --- effects and evaluation order -----------------------------------------------------------------

def test_nothing_allows_is_an_implicit_deny():
    d = decide(doc(allow("s3:GetObject")))
    assert not d.allowed and not d.explicit_deny and d.statement is None


def test_an_allow_allows_and_names_its_statement():
    d = decide(doc(allow("ec2:TerminateInstances", sid="Terminate")))
    assert d.allowed and d.statement == "p/Terminate"
    assert decide(doc(allow("ec2:TerminateInstances"))).statement == "p/#0"


def test_an_explicit_deny_wins_over_any_allow_in_any_policy():
    policies = [("a", doc(allow("ec2:*"))), ("b", doc(allow("ec2:Terminate*", effect="Deny", sid="No")))]
    d = evaluate(policies, Request("ec2:TerminateInstances", ARN))
    assert not d.allowed and d.explicit_deny and d.statement == "b/No"
    assert evaluate(policies, Request("ec2:StopInstances", ARN)).allowed


# --- Action / NotAction -----------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, action, matches", [
    ("ec2:TerminateInstances", "ec2:TerminateInstances", True),
    ("EC2:terminateinstances", "ec2:TerminateInstances", True),      # prefix and name case-insensitive
    ("ec2:Terminate*", "ec2:TerminateInstances", True),
    ("ec2:*Instances", "ec2:StopInstances", True),
    ("ec2:Stop?nstances", "ec2:StopInstances", True),
    ("ec2:*", "s3:GetObject", False),
    ("*", "s3:GetObject", True),
    ("ec2:Terminate", "ec2:TerminateInstances", False),              # whole name, not a prefix
])
def test_action_wildcards(pattern, action, matches):
    assert decide(doc(allow(pattern)), action=action).allowed is matches


def test_not_action_matches_everything_else():
    document = doc({"Effect": "Allow", "NotAction": ["iam:*", "ec2:Terminate*"], "Resource": "*"})
    assert decide(document, action="ec2:RunInstances").allowed
    assert not decide(document, action="ec2:TerminateInstances").allowed
    assert not decide(document, action="IAM:PassRole").allowed
    deny_all_but = doc(allow("*"), {"Effect": "Deny", "NotAction": "ec2:Describe*", "Resource": "*"})
    assert decide(deny_all_but, action="ec2:DescribeInstances").allowed
    assert decide(deny_all_but, action="ec2:RunInstances").explicit_deny


# --- Resource ARNs ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, matches", [
    ("*", True),
    ("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc", True),
    ("arn:aws:ec2:*:123456789012:instance/*", True),
    ("arn:aws:ec2:*:123456789012:*", True),                # * spans the slash within the last segment
    ("arn:aws:ec2:*:*:instance/i-0ab?", True),
    ("arn:aws:ec2:*:111111111111:instance/*", False),      # another account
    ("arn:aws:ec2:us-west-2:123456789012:instance/*", False),
    ("arn:aws:ec2:*:123456789012:volume/*", False),
    ("arn:aws:ec2:*:123456789012:Instance/*", False),      # case-sensitive
    ("arn:aws:ec2:*", False),                              # fewer segments than an ARN has
])
def test_resource_arns_match_segment_by_segment(pattern, matches):
    assert decide(doc(allow("ec2:*", pattern))).allowed is matches


def test_resource_patterns_keep_colons_in_the_last_segment():
    log_group = "arn:aws:logs:us-east-1:123456789012:log-group:SC-1-Logs:*"
    assert decide(doc(allow("logs:*", "arn:aws:logs:*:123456789012:log-group:SC-*")), "logs:PutRetentionPolicy",
                  log_group).allowed
    assert not decide(doc(allow("logs:*", "arn:aws:logs:*:123456789012:log-group:Trail*")),
                      "logs:PutRetentionPolicy", log_group).allowed


def test_not_resource():
    document = doc({"Effect": "Allow", "Action": "ec2:*", "NotResource": "arn:aws:ec2:*:*:volume/*"})
    assert decide(document).allowed
    assert not decide(document, resource="arn:aws:ec2:us-east-1:123456789012:volume/vol-1").allowed


# --- condition operators --------------------------------------------------------------------------

TAG = "aws:ResourceTag/Product"


def test_string_equals_is_exact_and_case_sensitive_key_names_are_not():
    cond = {"StringEquals": {TAG: ["healthcare-web-server", "other"]}}
    assert decide(doc(allow(condition=cond)), **{"aws:resourcetag/product": "other"}).allowed
    assert not decide(doc(allow(condition=cond)), **{TAG: "Healthcare-Web-Server"}).allowed
    assert not decide(doc(allow(condition=cond))).allowed            # key absent: false
    ignore = {"StringEqualsIgnoreCase": {TAG: "healthcare-web-server"}}
    assert decide(doc(allow(condition=ignore)), **{TAG: "Healthcare-Web-Server"}).allowed


def test_string_like_and_negated_operators():
    like = {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": "SC-*"}}
    assert decide(doc(allow(condition=like)), **{"aws:ResourceTag/aws:cloudformation:stack-name": "SC-1-pp-2"}).allowed
    assert not decide(doc(allow(condition=like)), **{"aws:ResourceTag/aws:cloudformation:stack-name": "baseline"}).allowed
    not_like = {"StringNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/Admin*", "arn:aws:iam::*:role/Ops"]}}
    assert decide(doc(allow(condition=not_like)), **{"aws:PrincipalArn": "arn:aws:iam::1:role/Dev"}).allowed
    assert not decide(doc(allow(condition=not_like)), **{"aws:PrincipalArn": "arn:aws:iam::1:role/Ops"}).allowed
    assert decide(doc(allow(condition=not_like))).allowed            # negated and absent: true
    not_equals = {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"]}}
    assert not decide(doc(allow(condition=not_equals)), **{"aws:RequestedRegion": "us-west-2"}).allowed
    assert decide(doc(allow(condition=not_equals)), **{"aws:RequestedRegion": "eu-west-1"}).allowed


def test_arn_like_checks_each_component():
    cond = {"ArnLike": {"iam:AssociatedResourceArn": "arn:aws:ec2:*:123456789012:instance/*"}}
    assert decide(doc(allow(condition=cond)), **{"iam:AssociatedResourceArn": ARN}).allowed
    assert not decide(doc(allow(condition=cond)),
                      **{"iam:AssociatedResourceArn": "arn:aws:ec2:us-east-1:999999999999:instance/i-1"}).allowed
    not_arn = {"ArnNotLike": {"aws:SourceArn": "arn:aws:servicecatalog:*:123456789012:*"}}
    assert not decide(doc(allow(condition=not_arn)),
                      **{"aws:SourceArn": "arn:aws:servicecatalog:us-east-1:123456789012:stack/x/pp-1"}).allowed


def test_bool_and_numeric():
    grant = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert decide(doc(allow(condition=grant)), **{"kms:GrantIsForAWSResource": True}).allowed
    assert not decide(doc(allow(condition=grant)), **{"kms:GrantIsForAWSResource": "false"}).allowed
    assert not decide(doc(allow(condition=grant))).allowed
    size = {"NumericLessThanEquals": {"ec2:VolumeSize": 100}}
    assert decide(doc(allow(condition=size)), **{"ec2:VolumeSize": "50"}).allowed
    assert not decide(doc(allow(condition=size)), **{"ec2:VolumeSize": "500"}).allowed
    assert not decide(doc(allow(condition=size)), **{"ec2:VolumeSize": "big"}).allowed


def test_if_exists_passes_when_the_key_is_absent_only():
    cond = {"StringEqualsIfExists": {"iam:PassedToService": "ec2.amazonaws.com"}}
    assert decide(doc(allow(condition=cond))).allowed
    assert decide(doc(allow(condition=cond)), **{"iam:PassedToService": "ec2.amazonaws.com"}).allowed
    assert not decide(doc(allow(condition=cond)), **{"iam:PassedToService": "lambda.amazonaws.com"}).allowed


def test_null():
    absent = {"Null": {"aws:RequestTag/Owner": "true"}}
    present = {"Null": {"aws:RequestTag/Owner": "false"}}
    assert decide(doc(allow(condition=absent))).allowed
    assert not decide(doc(allow(condition=absent)), **{"aws:RequestTag/Owner": "me"}).allowed
    assert decide(doc(allow(condition=present)), **{"aws:RequestTag/Owner": "me"}).allowed
    assert not decide(doc(allow(condition=present))).allowed


def test_for_any_value_and_for_all_values():
    any_alias = {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/hipaa-catalog/*"}}
    assert decide(doc(allow(condition=any_alias)), **{"kms:ResourceAliases": ["alias/x", "alias/hipaa-catalog/t"]}).allowed
    assert not decide(doc(allow(condition=any_alias)), **{"kms:ResourceAliases": ["alias/x"]}).allowed
    assert not decide(doc(allow(condition=any_alias)), **{"kms:ResourceAliases": []}).allowed   # null set: false
    assert not decide(doc(allow(condition=any_alias))).allowed                                  # absent: false
    all_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": ["Name", "Owner"]}}
    assert decide(doc(allow(condition=all_keys)), **{"aws:TagKeys": ["Owner"]}).allowed
    assert not decide(doc(allow(condition=all_keys)), **{"aws:TagKeys": ["Owner", "Cost"]}).allowed
    assert decide(doc(allow(condition=all_keys))).allowed                                       # absent: true
    assert decide(doc(allow(condition=all_keys)), **{"aws:TagKeys": []}).allowed
    if_exists = {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "Name"}}
    assert decide(doc(allow(condition=if_exists))).allowed


def test_operators_and_keys_are_anded_values_ored():
    cond = {"StringEquals": {"kms:ViaService": ["ec2.us-east-1.amazonaws.com", "backup.us-east-1.amazonaws.com"],
                             "kms:CallerAccount": "123456789012"},
            "Bool": {"kms:GrantIsForAWSResource": "true"}}
    ok = {"kms:ViaService": "backup.us-east-1.amazonaws.com", "kms:CallerAccount": "123456789012",
          "kms:GrantIsForAWSResource": True}
    assert decide(doc(allow(condition=cond)), "kms:CreateGrant", **ok).allowed
    assert not decide(doc(allow(condition=cond)), "kms:CreateGrant", **{**ok, "kms:CallerAccount": "1"}).allowed
    assert not decide(doc(allow(condition=cond)), "kms:CreateGrant",
                      **{k: v for k, v in ok.items() if k != "kms:GrantIsForAWSResource"}).allowed


def test_a_failed_condition_on_an_allow_does_not_deny_what_another_statement_allows():
    document = doc(allow("ec2:*", condition={"StringEquals": {TAG: "x"}}), allow("ec2:TerminateInstances", sid="Any"))
    assert decide(document).statement == "p/Any"


# --- trust policies ---------------------------------------------------------------------------------

def test_principal_in_a_trust_policy():
    trust = doc({"Effect": "Allow", "Principal": {"Service": ["servicecatalog.amazonaws.com"]},
                 "Action": "sts:AssumeRole",
                 "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}})
    sc = {"Service": "servicecatalog.amazonaws.com"}
    assert evaluate([("t", trust)], Request("sts:AssumeRole", "arn:aws:iam::123456789012:role/L",
                                            {"aws:SourceAccount": "123456789012"}, sc)).allowed
    assert not evaluate([("t", trust)], Request("sts:AssumeRole", "arn:aws:iam::123456789012:role/L",
                                                {"aws:SourceAccount": "999999999999"}, sc)).allowed
    assert not evaluate([("t", trust)], Request("sts:AssumeRole", "arn:aws:iam::123456789012:role/L",
                                                {"aws:SourceAccount": "123456789012"},
                                                {"Service": "ec2.amazonaws.com"})).allowed
    root = doc({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"})
    assert evaluate([("t", root)], Request("sts:AssumeRole", "r", {}, {"AWS": "arn:aws:iam::123456789012:user/a"})).allowed


# --- what is not evaluated is refused, never passed --------------------------------------------------

@pytest.mark.parametrize("statement", [
    allow(condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}),
    allow(condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
    allow(condition={"Sometimes:StringEquals": {"a": "b"}}),
    {"Effect": "Allow", "Action": "*", "Resource": "*", "Surprise": 1},
    {"Effect": "Allow", "Resource": "*"},
    {"Effect": "Maybe", "Action": "*", "Resource": "*"},
])
def test_grammar_the_evaluator_does_not_know_is_an_error(statement):
    with pytest.raises(PolicyNotEvaluable):
        decide(doc(statement))


def test_json_text_documents_and_removing_a_statement():
    text = '{"Version": "2012-10-17", "Statement": {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"}}'
    assert decide(text).allowed
    document = doc(allow(sid="A"), allow("s3:*", sid="B"))
    assert [s["Sid"] for s in without_statement(document, "A")["Statement"]] == ["B"]
    assert not decide(without_statement(document, "A")).allowed
