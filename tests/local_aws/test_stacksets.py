"""Service-managed StackSets over HTTP: trusted access, stack instances in member accounts and regions,
operation preferences, automatic deployment as accounts join and leave target OUs, drift."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .organization import create_organization
from .test_sc_admin import error_code

pytestmark = pytest.mark.aws

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"
TEMPLATE = json.dumps({
    "Parameters": {"Level": {"Type": "String", "AllowedValues": ["low", "high"], "Default": "low"}},
    "Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
                              "Properties": {"Name": "/baseline/level", "Type": "String",
                                             "Value": {"Ref": "Level"}}}},
    "Outputs": {"Level": {"Value": {"Ref": "Level"}}}})
REGIONS = ["us-east-1", "us-west-2"]


@pytest.fixture
def org(aws_env):
    return create_organization(aws_env.url, {"Prod": 2, "Test": 1, "Sandbox": 1})


def wait(cfn, answer, name="baseline") -> dict:
    """Poll DescribeStackSetOperation until the operation of ``answer`` is over; return its description."""
    for _ in range(10):
        described = cfn.describe_stack_set_operation(StackSetName=name, OperationId=answer["OperationId"])
        if described["StackSetOperation"]["Status"] not in ("RUNNING", "QUEUED"):
            return described["StackSetOperation"]
    raise AssertionError(f"operation {answer['OperationId']} never finished")


def create_stack_set(cfn, name="baseline", auto=True, retain=False, **extra):
    return cfn.create_stack_set(StackSetName=name, TemplateBody=TEMPLATE, PermissionModel="SERVICE_MANAGED",
                                AutoDeployment={"Enabled": auto, "RetainStacksOnAccountRemoval": retain}, **extra)


def stack_of(org, account, region):
    session = org.session(account)
    cfn = session.client("cloudformation", endpoint_url=org.url, region_name=region)
    return [s for s in cfn.describe_stacks()["Stacks"] if s["StackName"].startswith("StackSet-baseline-")]


def test_service_managed_stack_sets_need_trusted_access_and_the_management_account(org, client):
    cfn = client("cloudformation")
    with pytest.raises(ClientError) as exc:
        create_stack_set(cfn)
    assert error_code(exc) == "ValidationError"
    assert "enable organizations access" in exc.value.response["Error"]["Message"]
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    cfn.activate_organizations_access()
    assert cfn.describe_organizations_access()["Status"] == "ENABLED"
    services = client("organizations").list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in services] == [STACKSETS]
    member_cfn = org.member(org.accounts["Test-0"], "cloudformation")
    with pytest.raises(ClientError) as exc:
        create_stack_set(member_cfn)
    assert "management account or delegated admin" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        create_stack_set(member_cfn, CallAs="DELEGATED_ADMIN")
    assert exc.value.response["Error"]["Message"] == "Account used is not a delegated administrator"
    client("organizations").register_delegated_administrator(AccountId=org.accounts["Test-0"],
                                                             ServicePrincipal=STACKSETS)
    create_stack_set(member_cfn, CallAs="DELEGATED_ADMIN")
    # "StackSets with service-managed permissions are created in the management account, including
    # StackSets that are created by delegated administrators" (CreateStackSet, CallAs)
    assert cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["PermissionModel"] == "SERVICE_MANAGED"


def test_stack_instances_in_every_target_account_and_region(org, client):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn, Parameters=[{"ParameterKey": "Level", "ParameterValue": "high"}])
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=REGIONS,
                                    DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"], org.ous["Test"]]},
                                    OperationPreferences={"MaxConcurrentCount": 2, "FailureToleranceCount": 1})
    assert wait(cfn, op)["Status"] == "SUCCEEDED"
    instances = cfn.list_stack_instances(StackSetName="baseline")["Summaries"]
    targets = sorted(org.accounts[n] for n in ("Prod-0", "Prod-1", "Test-0"))
    assert sorted({i["Account"] for i in instances}) == targets and len(instances) == 6
    assert {(i["Status"], i["StackInstanceStatus"]["DetailedStatus"]) for i in instances} == {("CURRENT", "SUCCEEDED")}
    for account in targets:
        for region in REGIONS:
            stacks = stack_of(org, account, region)
            assert [(s["StackStatus"], s["Outputs"][0]["OutputValue"]) for s in stacks] == [("CREATE_COMPLETE", "high")]
    assert stack_of(org, org.accounts["Sandbox-0"], "us-east-1") == []
    assert client("cloudformation").describe_stacks()["Stacks"] == []  # never the management account
    one = cfn.describe_stack_instance(StackSetName="baseline", StackInstanceAccount=targets[0],
                                      StackInstanceRegion="us-west-2")["StackInstance"]
    assert one["OrganizationalUnitId"] in (org.ous["Prod"], org.ous["Test"]) and one["Status"] == "CURRENT"
    stack_set = cfn.describe_stack_set(StackSetName="baseline")["StackSet"]
    assert sorted(stack_set["OrganizationalUnitIds"]) == sorted([org.ous["Prod"], org.ous["Test"]])
    assert stack_set["Regions"] == REGIONS
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op["OperationId"])
    assert len(results["Summaries"]) == 6
    # an update reaches every instance; a retried OperationId does nothing more
    update = cfn.update_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, OperationId="upd-1",
                                  Parameters=[{"ParameterKey": "Level", "ParameterValue": "low"}])
    assert cfn.update_stack_set(StackSetName="baseline", TemplateBody=TEMPLATE, OperationId="upd-1",
                                Parameters=[{"ParameterKey": "Level", "ParameterValue": "low"}])["OperationId"] \
        == update["OperationId"] == "upd-1"
    assert len(cfn.list_stack_set_operations(StackSetName="baseline")["Summaries"]) == 2
    # one operation at a time: the update is RUNNING until read once
    with pytest.raises(ClientError) as exc:
        cfn.delete_stack_set(StackSetName="baseline")
    assert error_code(exc) == "OperationInProgressException"
    wait(cfn, update)
    assert stack_of(org, targets[0], "us-east-1")[0]["Outputs"][0]["OutputValue"] == "low"
    with pytest.raises(ClientError) as exc:
        cfn.delete_stack_set(StackSetName="baseline")
    assert error_code(exc) == "StackSetNotEmptyException"
    wait(cfn, cfn.delete_stack_instances(
        StackSetName="baseline", Regions=REGIONS, RetainStacks=False,
        DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"], org.ous["Test"]]}))
    assert cfn.list_stack_instances(StackSetName="baseline")["Summaries"] == []
    assert stack_of(org, targets[0], "us-east-1") == []
    cfn.delete_stack_set(StackSetName="baseline")


def test_preferences_both_forms_are_refused(org, client):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    with pytest.raises(ClientError) as exc:
        cfn.create_stack_instances(StackSetName="baseline", Regions=REGIONS,
                                   DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]},
                                   OperationPreferences={"MaxConcurrentCount": 2, "MaxConcurrentPercentage": 50})
    assert error_code(exc) == "ValidationError"


def test_failure_tolerance_stops_the_region_and_cancels_the_rest(org, client, aws_env):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    aws_env.set_resource_failures([{"logical_id": "Setting", "action": "CREATE", "times": 1}])
    op = cfn.create_stack_instances(StackSetName="baseline", Regions=REGIONS,
                                    DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]},
                                    OperationPreferences={"RegionOrder": ["us-west-2", "us-east-1"],
                                                          "MaxConcurrentCount": 1, "FailureToleranceCount": 0})
    assert wait(cfn, op)["Status"] == "FAILED"
    results = cfn.list_stack_set_operation_results(StackSetName="baseline", OperationId=op["OperationId"])["Summaries"]
    assert [(r["Region"], r["Status"]) for r in results] == [
        ("us-west-2", "FAILED"), ("us-west-2", "CANCELLED"), ("us-east-1", "CANCELLED"), ("us-east-1", "CANCELLED")]
    failed = cfn.list_stack_instances(StackSetName="baseline",
                                      Filters=[{"Name": "DETAILED_STATUS", "Values": "FAILED"}])["Summaries"]
    assert len(failed) == 1 and failed[0]["Status"] == "OUTDATED" and "Setting" in failed[0]["StatusReason"]
    # a new operation retries the OUTDATED instances
    again = cfn.create_stack_instances(StackSetName="baseline", Regions=REGIONS,
                                       DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]})
    assert wait(cfn, again)["Status"] == "SUCCEEDED"
    assert {i["Status"] for i in cfn.list_stack_instances(StackSetName="baseline")["Summaries"]} == {"CURRENT"}


@pytest.mark.parametrize("retain", [False, True])
def test_accounts_joining_and_leaving_a_target_ou_are_deployed_and_removed(org, client, retain):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn, retain=retain)
    wait(cfn, cfn.create_stack_instances(StackSetName="baseline", Regions=REGIONS,
                                         DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]}))
    organizations = client("organizations")
    newcomer = org.accounts["Sandbox-0"]
    organizations.move_account(AccountId=newcomer, SourceParentId=org.ous["Sandbox"], DestinationParentId=org.ous["Prod"])
    mine = cfn.list_stack_instances(StackSetName="baseline", StackInstanceAccount=newcomer)["Summaries"]
    assert sorted(i["Region"] for i in mine) == REGIONS and {i["Status"] for i in mine} == {"CURRENT"}
    assert len(stack_of(org, newcomer, "us-west-2")) == 1
    created = organizations.create_account(AccountName="new", Email="new@example.org")["CreateAccountStatus"]
    organizations.move_account(AccountId=created["AccountId"], SourceParentId=org.root,
                               DestinationParentId=org.ous["Prod"])
    assert len(cfn.list_stack_instances(StackSetName="baseline", StackInstanceAccount=created["AccountId"])[
        "Summaries"]) == 2
    organizations.move_account(AccountId=newcomer, SourceParentId=org.ous["Prod"], DestinationParentId=org.ous["Sandbox"])
    assert cfn.list_stack_instances(StackSetName="baseline", StackInstanceAccount=newcomer)["Summaries"] == []
    assert len(stack_of(org, newcomer, "us-west-2")) == (1 if retain else 0)


def test_an_ou_nested_under_a_target_counts_and_the_root_reaches_everyone(org, client):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [org.root]})
    assert len(cfn.list_stack_instances(StackSetName="baseline")["Summaries"]) == 4
    organizations = client("organizations")
    nested = organizations.create_organizational_unit(ParentId=org.ous["Test"], Name="Inner")["OrganizationalUnit"]["Id"]
    created = organizations.create_account(AccountName="inner", Email="inner@example.org")["CreateAccountStatus"]
    organizations.move_account(AccountId=created["AccountId"], SourceParentId=org.root, DestinationParentId=nested)
    assert len(cfn.list_stack_instances(StackSetName="baseline")["Summaries"]) == 5


def test_drift_detection_reports_stacks_changed_outside_the_stack_set(org, client):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    wait(cfn, cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                         DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]}))
    changed = org.accounts["Prod-1"]
    stack = stack_of(org, changed, "us-east-1")[0]
    org.member(changed, "cloudformation").update_stack(
        StackName=stack["StackId"], TemplateBody=TEMPLATE, Parameters=[{"ParameterKey": "Level", "ParameterValue": "high"}])
    assert wait(cfn, cfn.detect_stack_set_drift(StackSetName="baseline"))["Action"] == "DETECT_DRIFT"
    drift = {i["Account"]: i["DriftStatus"] for i in cfn.list_stack_instances(StackSetName="baseline")["Summaries"]}
    assert drift == {org.accounts["Prod-0"]: "IN_SYNC", changed: "DRIFTED"}
    details = cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["StackSetDriftDetectionDetails"]
    assert (details["DriftStatus"], details["DriftedStackInstancesCount"]) == ("DRIFTED", 1)


def test_aws_typed_parameters_must_exist_in_each_target_account(org, client):
    """CloudFormation-supplied parameter types take "valid values from the AWS account and Region in which
    they're creating the stack" (CloudFormation User Guide, cloudformation-supplied-parameter-types): one VPC id
    for every account of a stack set fails where the VPC is not."""
    owner, other = org.accounts["Prod-0"], org.accounts["Prod-1"]
    vpc = org.member(owner, "ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    template = json.dumps({"Parameters": {"Vpc": {"Type": "AWS::EC2::VPC::Id"}},
                           "Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
                               "Name": "/baseline/vpc", "Type": "String", "Value": {"Ref": "Vpc"}}}}})
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    cfn.create_stack_set(StackSetName="baseline", TemplateBody=template, PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
                         Parameters=[{"ParameterKey": "Vpc", "ParameterValue": vpc}])
    cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                               DeploymentTargets={"OrganizationalUnitIds": [org.ous["Prod"]]},
                               OperationPreferences={"FailureToleranceCount": 1, "MaxConcurrentCount": 2})
    status = {i["Account"]: (i["StackInstanceStatus"]["DetailedStatus"], i.get("StatusReason"))
              for i in cfn.list_stack_instances(StackSetName="baseline")["Summaries"]}
    assert status[owner] == ("SUCCEEDED", None)
    assert status[other][0] == "FAILED" and f"parameter value {vpc} for parameter name Vpc does not exist" \
        in status[other][1]


def test_iam_resources_need_their_capability(org, client):
    role = {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "HipaaCatalogLaunchRole",
                                                     "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []}}}
    template = json.dumps({"Resources": {"Role": role}})
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    for given in ([], ["CAPABILITY_IAM"]):
        with pytest.raises(ClientError) as exc:
            cfn.create_stack_set(StackSetName="launch-role", TemplateBody=template, PermissionModel="SERVICE_MANAGED",
                                 AutoDeployment={"Enabled": True}, Capabilities=given)
        assert error_code(exc) == "InsufficientCapabilitiesException"
        assert "CAPABILITY_NAMED_IAM" in exc.value.response["Error"]["Message"]
    cfn.create_stack_set(StackSetName="launch-role", TemplateBody=template, PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": True}, Capabilities=["CAPABILITY_NAMED_IAM"])


def test_an_account_removed_from_the_organisation_loses_its_instances_and_shares_nothing(org, client):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    wait(cfn, cfn.create_stack_instances(StackSetName="baseline", Regions=["us-east-1"],
                                         DeploymentTargets={"OrganizationalUnitIds": [org.ous["Test"]]}))
    leaving = org.accounts["Test-0"]
    client("organizations").remove_account_from_organization(AccountId=leaving)
    assert cfn.list_stack_instances(StackSetName="baseline")["Summaries"] == []
    assert stack_of(org, leaving, "us-east-1") == []
    with pytest.raises(ClientError) as exc:
        org.member(leaving, "organizations").describe_organization()
    assert error_code(exc) == "AWSOrganizationsNotInUseException"


# A stack set reading what another one writes in each account: the launch role reads the baseline's settings.
READER = json.dumps({
    "Parameters": {"Level": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/baseline/level"}},
    "Resources": {"Copy": {"Type": "AWS::SSM::Parameter",
                           "Properties": {"Name": "/reader/level", "Type": "String", "Value": {"Ref": "Level"}}}}})


def test_automatic_deployments_run_the_stack_sets_depended_on_first(org, client):
    """*AutoDeployment*, DependsOn (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html):
    "When auto-deployment is triggered, operations will be sequenced to ensure all dependencies complete
    successfully before this StackSet's operation begins."  The reader is created first, yet a joining account
    gets the baseline it reads first."""
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    cfn.create_stack_set(StackSetName="reader", TemplateBody=READER, PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
    baseline = create_stack_set(cfn)
    arn = cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["StackSetARN"]
    assert baseline["StackSetId"] in arn
    reader_arn = cfn.describe_stack_set(StackSetName="reader")["StackSet"]["StackSetARN"]
    for name, body in (("reader", READER), ("baseline", TEMPLATE)):
        wait(cfn, cfn.create_stack_instances(StackSetName=name, Regions=["us-east-1"],
                                             DeploymentTargets={"OrganizationalUnitIds": [org.ous["Test"]]}), name)
    # unknown stack sets, the stack set itself and cycles are refused
    for name, depends_on in (("reader", [arn.replace("baseline:", "nothing:")]), ("reader", [reader_arn]),
                             ("baseline", [reader_arn])):
        if name == "baseline":
            wait(cfn, cfn.update_stack_set(StackSetName="reader", UsePreviousTemplate=True, AutoDeployment={
                "Enabled": True, "RetainStacksOnAccountRemoval": False, "DependsOn": [arn]}), "reader")
        with pytest.raises(ClientError) as exc:
            cfn.update_stack_set(StackSetName=name, UsePreviousTemplate=True, AutoDeployment={
                "Enabled": True, "RetainStacksOnAccountRemoval": False, "DependsOn": depends_on})
        assert error_code(exc) == "ValidationError", (name, depends_on)
    assert cfn.describe_stack_set(StackSetName="reader")["StackSet"]["AutoDeployment"]["DependsOn"] == [arn]
    joining = org.accounts["Sandbox-0"]
    client("organizations").move_account(AccountId=joining, SourceParentId=org.ous["Sandbox"],
                                         DestinationParentId=org.ous["Test"])
    for name in ("baseline", "reader"):
        (instance,) = cfn.list_stack_instances(StackSetName=name, StackInstanceAccount=joining)["Summaries"]
        assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("CURRENT", "SUCCEEDED"), name
    assert org.member(joining, "ssm").get_parameter(Name="/reader/level")["Parameter"]["Value"] == "low"
    # (ListStackSetOperations lists the oldest first here: the last one is the automatic deployment)
    first, second = (cfn.list_stack_set_operations(StackSetName=n)["Summaries"][-1] for n in ("baseline", "reader"))
    assert first["EndTimestamp"] <= second["CreationTimestamp"]


def test_a_failed_dependency_cancels_the_automatic_deployment_of_its_dependents(org, client, aws_env):
    cfn = client("cloudformation")
    cfn.activate_organizations_access()
    create_stack_set(cfn)
    arn = cfn.describe_stack_set(StackSetName="baseline")["StackSet"]["StackSetARN"]
    cfn.create_stack_set(StackSetName="reader", TemplateBody=READER, PermissionModel="SERVICE_MANAGED",
                         AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False, "DependsOn": [arn]})
    for name in ("baseline", "reader"):
        wait(cfn, cfn.create_stack_instances(StackSetName=name, Regions=["us-east-1"],
                                             DeploymentTargets={"OrganizationalUnitIds": [org.ous["Test"]]}), name)
    aws_env.set_resource_failures([{"logical_id": "Setting", "action": "CREATE", "stack": "StackSet-baseline"}])
    joining = org.accounts["Sandbox-0"]
    client("organizations").move_account(AccountId=joining, SourceParentId=org.ous["Sandbox"],
                                         DestinationParentId=org.ous["Test"])
    (instance,) = cfn.list_stack_instances(StackSetName="reader", StackInstanceAccount=joining)["Summaries"]
    assert instance["StackInstanceStatus"]["DetailedStatus"] == "CANCELLED"
    assert instance["StatusReason"] == f"Cancelled since the operation of stack set {arn} it depends on did not succeed"
    assert cfn.list_stack_set_operations(StackSetName="reader")["Summaries"][-1]["Status"] == "FAILED"
    assert [s for s in org.member(joining, "cloudformation").describe_stacks()["Stacks"]
            if s["StackName"].startswith("StackSet-reader-")] == []
