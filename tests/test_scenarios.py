"""The scenario resolver on hand-written templates with nested conditions."""

from __future__ import annotations

import pytest

from generator.compliance import scenarios as sc
from generator.errors import ScenarioError

TEMPLATE = {
    "Parameters": {
        "Environment": {"Type": "String", "AllowedValues": ["PROD", "TEST"]},
        "PHI": {"Type": "String", "AllowedValues": ["YES", "NO"]},
        "Name": {"Type": "String"},
    },
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Environment"}, "PROD"]},
        "HasPhi": {"Fn::Equals": ["YES", {"Ref": "PHI"}]},
        "ProdPhi": {"Fn::And": [{"Condition": "IsProd"}, {"Condition": "HasPhi"}]},
        "TestOrNoPhi": {"Fn::Not": [{"Condition": "ProdPhi"}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "PHI"}, "YES"]}]},
    },
    "Resources": {
        "Always": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": {"Fn::If": ["IsProd", {"Fn::If": ["HasPhi", "prod-phi", "prod"]}, "test"]},
            "Tags": [{"Key": "env", "Value": {"Ref": "Environment"}},
                     {"Fn::If": ["HasPhi", {"Key": "phi", "Value": "yes"}, {"Ref": "AWS::NoValue"}]},
                     {"Key": "name", "Value": {"Ref": "Name"}}],
            "KmsMasterKeyId": {"Fn::If": ["TestOrNoPhi", {"Ref": "AWS::NoValue"}, "alias/phi"]}}},
        "OnlyProdPhi": {"Type": "AWS::SNS::Topic", "Condition": "ProdPhi"},
        "EitherTopic": {"Type": "AWS::SNS::Topic", "Condition": "Either"},
    },
    "Outputs": {"Phi": {"Condition": "HasPhi", "Value": {"Ref": "OnlyProdPhi"}}},
}


def test_scenarios_are_every_combination_of_allowed_values():
    assert sc.scenario_parameters(TEMPLATE) == {"Environment": ["PROD", "TEST"], "PHI": ["YES", "NO"]}
    assert [sc.label(a) for a in sc.scenarios(TEMPLATE)] == [
        "Environment=PROD,PHI=YES", "Environment=PROD,PHI=NO", "Environment=TEST,PHI=YES", "Environment=TEST,PHI=NO"]


@pytest.mark.parametrize("env,phi,name,tags,key,resources,outputs", [
    ("PROD", "YES", "prod-phi", ["env", "phi", "name"], "alias/phi", ["Always", "EitherTopic", "OnlyProdPhi"], ["Phi"]),
    ("PROD", "NO", "prod", ["env", "name"], None, ["Always", "EitherTopic"], []),
    ("TEST", "YES", "test", ["env", "phi", "name"], None, ["Always", "EitherTopic"], ["Phi"]),
    ("TEST", "NO", "test", ["env", "name"], None, ["Always"], []),
])
def test_resolve_nested_conditions(env, phi, name, tags, key, resources, outputs):
    out = sc.resolve(TEMPLATE, {"Environment": env, "PHI": phi})
    always = out["Resources"]["Always"]["Properties"]
    assert always["TopicName"] == name
    assert [t["Key"] for t in always["Tags"]] == tags
    assert always["Tags"][0]["Value"] == env
    assert always["Tags"][-1]["Value"] == {"Ref": "Name"}  # not a scenario parameter: left alone
    assert always.get("KmsMasterKeyId") == key
    assert sorted(out["Resources"]) == resources
    assert sorted(out["Outputs"]) == outputs
    assert out["Conditions"]["ProdPhi"] == (env == "PROD" and phi == "YES")


def test_source_path_follows_if_branches_and_removed_items():
    params = {"Environment": "PROD", "PHI": "NO"}
    # effective Tags[1] is "name": the NoValue item at index 1 was removed
    assert sc.source_path(TEMPLATE, params, ("Resources", "Always", "Properties", "Tags", 1, "Value")) == \
        ("Resources", "Always", "Properties", "Tags", 2, "Value")
    assert sc.source_path(TEMPLATE, params, ("Resources", "Always", "Properties", "TopicName")) == \
        ("Resources", "Always", "Properties", "TopicName", "Fn::If", 1, "Fn::If", 2)
    assert sc.source_path(TEMPLATE, {"Environment": "PROD", "PHI": "YES"},
                          ("Resources", "Always", "Properties", "Tags", 1)) == \
        ("Resources", "Always", "Properties", "Tags", 1, "Fn::If", 1)
    # a missing property is kept as the rule named it
    assert sc.source_path(TEMPLATE, params, ("Resources", "Always", "Properties", "Missing")) == \
        ("Resources", "Always", "Properties", "Missing")


def test_unconstrained_parameter_gets_compared_literals_and_other():
    t = {"Parameters": {"Cert": {"Type": "String", "Default": ""}},
         "Conditions": {"HasCert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Cert"}, ""]}]}}, "Resources": {}}
    assert sc.scenario_parameters(t) == {"Cert": ["", sc.OTHER]}
    assert [sc.resolve(t, a)["Conditions"]["HasCert"] for a in sc.scenarios(t)] == [False, True]


def test_errors_are_clear():
    many = {"Parameters": {p: {"Type": "String", "AllowedValues": list("abcd")} for p in "ABCD"},
            "Conditions": {"C": {"Fn::And": [{"Fn::Equals": [{"Ref": p}, "a"]} for p in "ABCD"]}}}
    with pytest.raises(ScenarioError, match=r"256 scenarios .* more than the cap of 64"):
        sc.scenarios(many)
    loop = {"Conditions": {"A": {"Condition": "B"}, "B": {"Condition": "A"}}, "Resources": {}}
    with pytest.raises(ScenarioError, match="refers to itself"):
        sc.resolve(loop, {})
    with pytest.raises(ScenarioError, match="not defined"):
        sc.resolve({"Resources": {"X": {"Type": "T", "Condition": "Nope"}}}, {})
