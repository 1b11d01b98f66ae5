"""template.yaml (generator.render.canonical_yaml) is cfn-flip's ``to_yaml`` of the template's JSON, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cfn_flip import to_yaml

from generator import render

GOLDEN = Path(__file__).parent / "golden"

# What cfn-flip treats specially: short-form functions (a one-key mapping of Ref, Condition or Fn::*),
# GetAtt as a list, quoted styles (leading 0, account ids, newlines, 10 or more lines, long strings),
# the StateMachine definition it keeps as a JSON literal, and scalars YAML would read as another type.
EDGES = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Conditions": {"On": {"Fn::Equals": [{"Ref": "Mode"}, "on"]},
                   "Both": {"Fn::And": [{"Condition": "On"}, {"Fn::Not": [{"Condition": "On"}]}]}},
    "Parameters": {"Mode": {"Type": "String", "AllowedValues": ["on", "off", "yes", "no", "null", "1.0", "0x1F"],
                            "Default": "on"}},
    "Resources": {
        "Machine": {"Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {"DefinitionString": {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                                   "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Subbed": {"Type": "AWS::SSM::Parameter", "Condition": "On",
                   "Properties": {"Value": {"Fn::Sub": ["${A}-${AWS::Region}", {"A": {"Ref": "Mode"}}]},
                                  "Name": {"Fn::Sub": "/x/${Mode}"},
                                  "Description": {"Fn::If": ["On", "é unicode", {"Ref": "AWS::NoValue"}]},
                                  "Tags": {"Account": "012345678901", "Zero": "0123", "Empty": "", "Long": "x" * 120,
                                           "Lines": "one\ntwo\nthree", "Many": "\n".join(str(i) for i in range(12)),
                                           "Carriage": "a\rb", "Colon": "a: b", "Hash": "# not a comment"}}},
        "Odd": {"Type": "Custom::Odd", "Properties": {"Nothing": {}, "None": [], "Null": None, "Yes": True, "No": False,
                                                      "Int": 7, "Float": 1.5, "Join": {"Fn::Join": ["", ["a", {"Ref": "Mode"}]]},
                                                      "NotAFunction": {"Ref": "Mode", "Other": 1},
                                                      "Dotted": {"Fn::GetAtt": "Role.Arn"},
                                                      "Mapped": {"Fn::Transform": {"Name": "X", "Parameters": {"b": 1, "a": 2}}},
                                                      "Keys": {"b": 1, "a": 2, "10": 3, "2": 4}}},
    },
}


def _flip(text: str) -> str:
    out = to_yaml(text, clean_up=False, long_form=False)
    return out if out.endswith("\n") else out + "\n"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_the_catalog_templates_are_written_as_cfn_flip_writes_them(path):
    text = render.canonical_json(json.loads(path.read_text(encoding="utf-8")))
    assert render.canonical_yaml(text) == _flip(text)


def test_what_cfn_flip_treats_specially_is_written_as_it_writes_it():
    text = render.canonical_json(EDGES)
    yaml = render.canonical_yaml(text)
    assert yaml == _flip(text)
    assert "!GetAtt 'Role.Arn'" in yaml and "!Condition 'On'" in yaml and "'012345678901'" in yaml
