"""Launch parameters are checked against the version's constraints before any AWS call.

The unit tests use parameter descriptions shaped exactly like DescribeProvisioningParameters' answer;
the end-to-end ones (marked ``aws``) use the local AWS endpoint and assert that no ProvisionProduct
call was made.
"""

from __future__ import annotations

import pytest

from generator.aws.consumer import DEPRECATED, newest_launchable, sorted_versions, validate_parameters
from generator.aws.deploy import parse_assignments
from generator.aws.parameters import ParameterSpec, java_pattern
from generator.errors import ConfigError

REPO_PATTERN = r"^https://git-codecommit\.[a-z0-9-]+\.amazonaws\.com/v1/repos/[A-Za-z0-9._-]{1,100}$"
API_PARAMETERS = [
    {"ParameterKey": "CodeCommitRepo", "ParameterType": "String", "Description": "clone URL",
     "ParameterConstraints": {"AllowedPattern": REPO_PATTERN,
                              "ConstraintDescription": "must be the repository's cloneUrlHttp"}},
    {"ParameterKey": "InstanceOwnerEmail", "ParameterType": "String", "Description": "owner",
     "ParameterConstraints": {"AllowedPattern": r"[^@\s]+@[^@\s]+\.[^@\s]+",
                              "ConstraintDescription": "must be an e-mail address such as dev@example.org"}},
    {"ParameterKey": "Environment", "ParameterType": "String", "DefaultValue": "TEST",
     "ParameterConstraints": {"AllowedValues": ["PROD", "TEST"], "ConstraintDescription": "PROD or TEST"}},
    {"ParameterKey": "FriendlyName", "ParameterType": "String", "DefaultValue": "web",
     "ParameterConstraints": {"MinLength": 3, "MaxLength": 8, "ConstraintDescription": "3 to 8 characters"}},
    {"ParameterKey": "KeyName", "ParameterType": "String", "DefaultValue": "",
     "ParameterConstraints": {"AllowedPattern": r"^$|^[\p{Alnum}._-]{1,255}$",
                              "ConstraintDescription": "empty, or a key pair name"}},
    {"ParameterKey": "Count", "ParameterType": "Number", "DefaultValue": "1",
     "ParameterConstraints": {"MinValue": "1", "MaxValue": "4", "ConstraintDescription": "1 to 4"}},
]
SPECS = [ParameterSpec.from_api(p) for p in API_PARAMETERS]
GOOD = {"CodeCommitRepo": "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/clinic",
        "InstanceOwnerEmail": "dev@example.org"}


def refused(given: dict, **kw) -> str:
    with pytest.raises(ConfigError) as info:
        validate_parameters(SPECS, given, product="web", version="1.0.0", **kw)
    return str(info.value)


def test_good_parameters_pass_and_keep_defaults_out():
    prov = validate_parameters(SPECS, {**GOOD, "Environment": "PROD", "KeyName": ""}, product="web", version="1.0.0")
    assert {p["Key"]: p["Value"] for p in prov} == {**GOOD, "Environment": "PROD", "KeyName": ""}


def test_bad_email_is_refused_with_the_constraint_description():
    msg = refused({**GOOD, "InstanceOwnerEmail": "not-an-email"})
    assert "InstanceOwnerEmail" in msg and "must be an e-mail address such as dev@example.org" in msg
    assert "web 1.0.0" in msg


def test_bad_repository_url_is_refused():
    msg = refused({**GOOD, "CodeCommitRepo": "https://github.com/x/y"})
    assert "CodeCommitRepo" in msg and "cloneUrlHttp" in msg


def test_pattern_is_a_full_match():
    # an unanchored pattern must still match the whole value, as CloudFormation does
    assert "InstanceOwnerEmail" in refused({**GOOD, "InstanceOwnerEmail": "dev@example.org and more"})


def test_allowed_values_lengths_numbers():
    assert "PROD, TEST" in refused({**GOOD, "Environment": "prod"})
    assert "shorter than 3" in refused({**GOOD, "FriendlyName": "ab"})
    assert "longer than 8" in refused({**GOOD, "FriendlyName": "abcdefghi"})
    assert "above the maximum 4" in refused({**GOOD, "Count": "5"})
    assert "not a number" in refused({**GOOD, "Count": "two"})


def test_unknown_and_missing_parameters_are_named():
    msg = refused({"InstanceOwnerEmail": "dev@example.org", "Colour": "blue"})
    assert "Colour: unknown parameter" in msg
    assert "CodeCommitRepo: required, no default" in msg


def test_every_problem_is_listed_at_once():
    msg = refused({"CodeCommitRepo": "x", "InstanceOwnerEmail": "y"})
    assert "CodeCommitRepo" in msg and "InstanceOwnerEmail" in msg


def test_update_keeps_previous_values_and_needs_no_required_ones():
    prov = validate_parameters(SPECS, {"Environment": "PROD"}, product="web", version="1.1.0", update=True)
    assert {"Key": "Environment", "Value": "PROD"} in prov
    assert {"Key": "CodeCommitRepo", "UsePreviousValue": True} in prov


def test_an_update_to_a_version_with_new_parameters_keeps_only_what_the_product_had():
    """A parameter the new version adds has no previous value: UsePreviousValue only for the current version's
    parameters; a new one takes its default, and a new required one must be given."""
    had = {"CodeCommitRepo", "InstanceOwnerEmail", "Environment"}
    prov = validate_parameters(SPECS, {"Environment": "PROD"}, product="web", version="2.0.0", update=True,
                               previous_keys=had)
    assert {p["Key"] for p in prov if p.get("UsePreviousValue")} == {"CodeCommitRepo", "InstanceOwnerEmail"}
    assert "FriendlyName" not in {p["Key"] for p in prov}  # new with a default: CloudFormation takes the default
    required = [*SPECS, ParameterSpec(key="AmiVersion", description="AMI setting version")]
    with pytest.raises(ConfigError, match="AmiVersion: required, no default"):
        validate_parameters(required, {}, product="web", version="2.0.0", update=True, previous_keys=had)


def test_java_character_classes_are_translated():
    assert java_pattern(r"[\p{Alnum}-]+").fullmatch("abc-1")
    assert not java_pattern(r"\p{Digit}+").fullmatch("12a")
    assert java_pattern(r"a++b").fullmatch("aab")  # possessive quantifier


def test_default_version_is_newest_not_deprecated():
    arts = [{"Id": "pa-1", "Name": "1.0.0", "Guidance": DEPRECATED},
            {"Id": "pa-2", "Name": "1.10.0", "Guidance": "DEFAULT"},
            {"Id": "pa-3", "Name": "1.9.0"},
            {"Id": "pa-4", "Name": "2.0.0", "Guidance": DEPRECATED}]
    assert newest_launchable(arts)["Id"] == "pa-2"  # semver order, not text order
    assert [a["Name"] for a in sorted_versions(arts)] == ["2.0.0", "1.10.0", "1.9.0", "1.0.0"]
    assert newest_launchable([arts[0]]) is None


def test_parse_assignments():
    assert parse_assignments(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(ConfigError, match="expected Key=Value"):
        parse_assignments(["nope"])
    with pytest.raises(ConfigError, match="given twice"):
        parse_assignments(["A=1", "A=2"])
