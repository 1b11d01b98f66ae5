"""The local endpoint's CloudFormation change sets over HTTP (boto3): changes, execution, outputs, rollback.

These are the behaviours moto 5.2.5 lacks and ``generator/local_aws/cloudformation`` adds; each test
would fail against moto's own CloudFormation.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

STACK = "probe"
TEMPLATE = {
    "Parameters": {
        "Prefix": {"Type": "String", "Default": "/probe"},
        "Colour": {"Type": "String", "Default": "blue"},
        "PolicyArn": {"Type": "String", "Default": "arn:aws:iam::aws:policy/AWSCodeCommitPowerUser"},
        "WithExtra": {"Type": "String", "Default": "NO", "AllowedValues": ["YES", "NO"]},
    },
    "Conditions": {"Extra": {"Fn::Equals": [{"Ref": "WithExtra"}, "YES"]}},
    "Resources": {
        "Named": {"Type": "AWS::SSM::Parameter",
                  "Properties": {"Name": {"Fn::Sub": "${Prefix}/named"}, "Type": "String", "Value": "fixed"}},
        "Coloured": {"Type": "AWS::SSM::Parameter",
                     "Properties": {"Name": "/probe-static/colour", "Type": "String", "Value": {"Ref": "Colour"}}},
        "Developers": {"Type": "AWS::IAM::Group",
                       "Properties": {"GroupName": "ProbeDevelopers", "Path": "/probe/",
                                      "ManagedPolicyArns": [{"Ref": "PolicyArn"}]}},
        "Extra": {"Type": "AWS::SSM::Parameter", "Condition": "Extra",
                  "Properties": {"Name": "/probe-static/extra", "Type": "String", "Value": "x"}},
        "Trail": {"Type": "AWS::CloudTrail::Trail", "Properties": {"IsLogging": True, "S3BucketName": "b"}},
    },
    "Outputs": {
        "NamedParameter": {"Value": {"Ref": "Named"}, "Description": "the named parameter"},
        "GroupArn": {"Value": {"Fn::GetAtt": ["Developers", "Arn"]}},
        "GroupName": {"Value": {"Ref": "Developers"}},
        "Colour": {"Value": {"Ref": "Colour"}},
    },
}


@pytest.fixture
def cf(client):
    return client("cloudformation")


def change_set(cf, kind: str, params: dict[str, str] | None = None, template: dict | None = None,
               stack: str = STACK, previous: tuple[str, ...] = ()) -> tuple[str, dict]:
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in (params or {}).items()]
    parameters += [{"ParameterKey": k, "UsePreviousValue": True} for k in previous]
    created = cf.create_change_set(StackName=stack, ChangeSetName=f"cs-{kind.lower()}-{len(parameters)}",
                                   ChangeSetType=kind, TemplateBody=json.dumps(template or TEMPLATE),
                                   Parameters=parameters, Capabilities=["CAPABILITY_NAMED_IAM"])
    return created["Id"], cf.describe_change_set(ChangeSetName=created["Id"], StackName=stack)


def changes(described: dict) -> dict[str, dict]:
    return {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in described["Changes"]}


def deploy(cf, kind: str, params: dict[str, str] | None = None, **kwargs) -> dict:
    cs_id, _desc = change_set(cf, kind, params, **kwargs)
    cf.execute_change_set(ChangeSetName=cs_id, StackName=kwargs.get("stack", STACK))
    return cf.describe_stacks(StackName=kwargs.get("stack", STACK))["Stacks"][0]


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def events(cf, stack: str = STACK) -> list[tuple[str, str, str]]:
    """(logical id, status, reason) oldest first."""
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
            for e in reversed(cf.describe_stack_events(StackName=stack)["StackEvents"])]


def test_create_through_a_change_set_has_outputs_events_and_the_group(cf, client):
    _id, desc = change_set(cf, "CREATE")
    assert desc["Status"] == "CREATE_COMPLETE" and desc["ExecutionStatus"] == "AVAILABLE"
    # the resource whose condition is false is not part of the change set
    assert {k: c["Action"] for k, c in changes(desc).items()} == {
        "Named": "Add", "Coloured": "Add", "Developers": "Add", "Trail": "Add"}

    stack = deploy(cf, "CREATE", {"Colour": "red"}, stack="probe-2",
                   template=dict(TEMPLATE, Resources={k: v for k, v in TEMPLATE["Resources"].items()
                                                      if k in ("Coloured",)},
                                 Outputs={"Colour": TEMPLATE["Outputs"]["Colour"]}))
    assert stack["StackStatus"] == "CREATE_COMPLETE" and outputs(stack) == {"Colour": "red"}

    cf.delete_stack(StackName="probe-2")
    stack = deploy(cf, "CREATE")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack) == {"NamedParameter": "/probe/named", "GroupName": "ProbeDevelopers", "Colour": "blue",
                              "GroupArn": "arn:aws:iam::123456789012:group/probe/ProbeDevelopers"}
    group = client("iam").get_group(GroupName="ProbeDevelopers")["Group"]
    assert group["Path"] == "/probe/"
    attached = client("iam").list_attached_group_policies(GroupName="ProbeDevelopers")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSCodeCommitPowerUser"]

    seen = events(cf)
    assert seen[0][:2] == (STACK, "REVIEW_IN_PROGRESS") and seen[-1][:2] == (STACK, "CREATE_COMPLETE")
    for logical_id in ("Named", "Coloured", "Developers"):
        assert [s for lid, s, _r in seen if lid == logical_id] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    # a type moto does not model is reported, honestly, as not simulated
    assert any(lid == "Trail" and "not simulated" in reason for lid, _s, reason in seen)
    assert not any(lid == "Extra" for lid, _s, _r in seen)

    # a change set is executed once
    first = cf.list_change_sets(StackName=STACK)["Summaries"]
    with pytest.raises(ClientError) as err:
        cf.execute_change_set(ChangeSetName=first[0]["ChangeSetId"], StackName=STACK)
    assert err.value.response["Error"]["Code"] == "InvalidChangeSetStatus"


def test_update_changes_say_modify_and_replacement(cf, client):
    deploy(cf, "CREATE")
    # the same template and parameters: nothing to do
    _id, desc = change_set(cf, "UPDATE", previous=("Prefix", "Colour", "PolicyArn", "WithExtra"))
    assert desc["Status"] == "FAILED" and "didn't contain changes" in desc["StatusReason"]
    cf.delete_change_set(ChangeSetName=_id, StackName=STACK)

    # parameter-only update: Prefix feeds Named's Name (create-only: replaced), Colour a value (in place)
    cs_id, desc = change_set(cf, "UPDATE", {"Prefix": "/moved", "Colour": "green", "WithExtra": "YES"},
                             previous=("PolicyArn",))
    found = changes(desc)
    assert {k: (c["Action"], c.get("Replacement")) for k, c in found.items()} == {
        "Named": ("Modify", "True"), "Coloured": ("Modify", "False"), "Extra": ("Add", None)}
    detail = found["Named"]["Details"][0]
    assert detail["Target"] == {"Attribute": "Properties", "Name": "Name", "RequiresRecreation": "Always",
                                "Path": "/Properties/Name", "AttributeChangeType": "Modify",
                                "BeforeValue": "/probe/named", "AfterValue": "/moved/named"}
    assert detail["ChangeSource"] == "ParameterReference" and detail["Evaluation"] == "Static"
    assert found["Coloured"]["Details"][0]["Target"]["RequiresRecreation"] == "Never"
    assert found["Named"]["PhysicalResourceId"] == "/probe/named"

    cf.execute_change_set(ChangeSetName=cs_id, StackName=STACK)
    stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert outputs(stack)["NamedParameter"] == "/moved/named" and outputs(stack)["Colour"] == "green"
    ssm = client("ssm")
    names = {p["Name"] for p in ssm.describe_parameters()["Parameters"]}
    assert {"/moved/named", "/probe-static/extra"} <= names and "/probe/named" not in names
    assert ssm.get_parameter(Name="/probe-static/colour")["Parameter"]["Value"] == "green"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["Prefix"] == "/moved" and params["PolicyArn"].endswith("/AWSCodeCommitPowerUser")

    # the condition turns false again: the resource is removed in the cleanup phase
    _id, desc = change_set(cf, "UPDATE", {"WithExtra": "NO"}, previous=("Prefix", "Colour", "PolicyArn"))
    assert {k: c["Action"] for k, c in changes(desc).items()} == {"Extra": "Remove"}
    cf.execute_change_set(ChangeSetName=_id, StackName=STACK)
    assert "/probe-static/extra" not in {p["Name"] for p in ssm.describe_parameters()["Parameters"]}
    assert ("Extra", "DELETE_COMPLETE", "") in events(cf)


def test_a_failing_create_rolls_back_with_the_failing_resource_event(cf, client):
    # a parameter already taken outside the stack: CloudFormation cannot create it, in AWS as here
    client("ssm").put_parameter(Name="/probe-static/colour", Value="owned by someone else", Type="String")
    cs_id, _desc = change_set(cf, "CREATE")
    cf.execute_change_set(ChangeSetName=cs_id, StackName=STACK)  # succeeds: the stack fails afterwards
    stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE" and "Outputs" not in stack
    seen = events(cf)
    failed = [(lid, reason) for lid, status, reason in seen if status == "CREATE_FAILED"]
    assert failed == [("Coloured", failed[0][1])] and "already exists" in failed[0][1]
    assert (STACK, "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Coloured]. Rollback requested by user.") in seen
    assert seen[-1][:2] == (STACK, "ROLLBACK_COMPLETE")
    # what was created before the failure was deleted again
    created = {lid for lid, status, _r in seen if status == "CREATE_COMPLETE" and lid != STACK}
    deleted = {lid for lid, status, _r in seen if status == "DELETE_COMPLETE"}
    assert created and created - {"Trail"} == deleted - {"Trail"}
    assert client("ssm").get_parameter(Name="/probe-static/colour")["Parameter"]["Value"] == "owned by someone else"

    # such a stack cannot be updated, nor created again with a change set
    with pytest.raises(ClientError) as err:
        change_set(cf, "UPDATE")
    assert "ROLLBACK_COMPLETE state and can not be updated" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        change_set(cf, "CREATE")
    assert "already exists" in err.value.response["Error"]["Message"]


def test_a_failing_update_rolls_back_to_the_previous_state(cf, client):
    deploy(cf, "CREATE")
    # a customer managed policy that does not exist cannot be attached: the group's update fails
    cs_id, desc = change_set(cf, "UPDATE", {"Colour": "green",
                                            "PolicyArn": "arn:aws:iam::123456789012:policy/Missing"},
                             previous=("Prefix", "WithExtra"))
    assert changes(desc)["Developers"]["Replacement"] == "False"
    cf.execute_change_set(ChangeSetName=cs_id, StackName=STACK)
    stack = cf.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert outputs(stack)["Colour"] == "blue"  # the previous outputs and parameters
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Colour"] == "blue"
    seen = events(cf)
    failed = [(lid, reason) for lid, status, reason in seen if status == "UPDATE_FAILED"]
    assert len(failed) == 1 and failed[0][0] == "Developers" and "Missing" in failed[0][1]
    assert seen[-1][:2] == (STACK, "UPDATE_ROLLBACK_COMPLETE")
    assert client("ssm").get_parameter(Name="/probe-static/colour")["Parameter"]["Value"] == "blue"
    attached = client("iam").list_attached_group_policies(GroupName="ProbeDevelopers")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSCodeCommitPowerUser"]
    # and it can be updated again
    stack = deploy(cf, "UPDATE", {"Colour": "green"}, previous=("Prefix", "PolicyArn", "WithExtra"))
    assert stack["StackStatus"] == "UPDATE_COMPLETE" and outputs(stack)["Colour"] == "green"


def test_missing_parameter_is_refused_when_the_change_set_is_created(cf):
    template = dict(TEMPLATE, Parameters=dict(TEMPLATE["Parameters"], Required={"Type": "String"}))
    with pytest.raises(ClientError) as err:
        change_set(cf, "CREATE", template=template)
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Required" in err.value.response["Error"]["Message"]
    assert cf.list_stacks()["StackSummaries"] == []  # nothing left behind
    template = dict(TEMPLATE, Parameters=dict(TEMPLATE["Parameters"], Key={
        "Type": "AWS::SSM::Parameter::Value<String>", "Default": "/nowhere"}))
    with pytest.raises(ClientError) as err:
        change_set(cf, "CREATE", template=template)
    assert "Unable to fetch parameters [/nowhere]" in err.value.response["Error"]["Message"]


def test_an_output_reading_a_type_that_is_not_simulated_is_left_out(cf):
    template = dict(TEMPLATE, Outputs=dict(TEMPLATE["Outputs"], TrailArn={"Value": {"Fn::GetAtt": ["Trail", "Arn"]}}))
    stack = deploy(cf, "CREATE", template=template)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert "TrailArn" not in outputs(stack) and outputs(stack)["Colour"] == "blue"


def test_security_group_egress(cf, client):
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    template = {"Resources": {
        "Sg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "probe", "VpcId": vpc,
                                                                 "SecurityGroupEgress": []}},
        "Https": {"Type": "AWS::EC2::SecurityGroupEgress",
                  "Properties": {"GroupId": {"Fn::GetAtt": ["Sg", "GroupId"]}, "IpProtocol": "tcp",
                                 "FromPort": 443, "ToPort": 443, "CidrIp": "10.1.0.0/24"}}},
        "Outputs": {"Rule": {"Value": {"Ref": "Https"}}, "Group": {"Value": {"Fn::GetAtt": ["Sg", "GroupId"]}}}}
    stack = deploy(cf, "CREATE", template=template)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    group = ec2.describe_security_groups(GroupIds=[outputs(stack)["Group"]])["SecurityGroups"][0]
    rules = [(r["IpProtocol"], r.get("FromPort"), [x["CidrIp"] for x in r.get("IpRanges", [])])
             for r in group["IpPermissionsEgress"]]
    assert ("tcp", 443, ["10.1.0.0/24"]) in rules
    assert outputs(stack)["Rule"].startswith("sgr-")
