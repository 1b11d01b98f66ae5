"""The local endpoint refuses what AWS refuses and accepts what AWS accepts, over HTTP (boto3, AWS CLI).

Service Catalog artifacts (duplicate names, Info keys, asynchronous status), CloudFormation parameter
constraints and Rules at CreateStack / CreateChangeSet / UpdateStack / provisioning, forced resource
failures, unknown regions, CodeCommit repositories, Route 53 zones and records (also through
CloudFormation, an alias to a load balancer); what the web server relies on: load-balancer deletion
protection, an instance's network interface, a volume's final snapshot, parameters read in metadata,
DescribeStacks' parameter inputs, DNS-validated certificates, CodeCommit commits, record history. Each
AWS fact is cited where the endpoint implements it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from generator.devtools.local_aws import LocalAwsError

from .conftest import artifact_params, settle
from .test_sc_admin import error_code

pytestmark = pytest.mark.aws
AWS_CLI = Path(sys.executable).with_name("aws")

CONSTRAINED = {
    "Parameters": {
        "Env": {"Type": "String", "AllowedValues": ["PROD", "TEST"]},
        "Cidr": {"Type": "String", "AllowedPattern": r"(\d{1,3}\.){3}\d{1,3}/\d{1,2}",
                 "ConstraintDescription": "a CIDR block such as 10.0.0.0/24"},
        "Name": {"Type": "String", "MinLength": 3, "MaxLength": 8, "Default": "abcd"},
        "Days": {"Type": "Number", "MinValue": 1, "MaxValue": 30, "Default": "7"},
    },
    "Rules": {"ProdNeedsLongName": {
        "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "PROD"]},
        "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Name"}, "abcd"]}]},
                        "AssertDescription": "PROD needs a Name other than the default"}]}},
    "Resources": {"P": {"Type": "AWS::SSM::Parameter",
                        "Properties": {"Name": {"Fn::Sub": "/conformance/${AWS::StackName}"}, "Type": "String",
                                       "Value": {"Fn::Sub": "${Env} ${Cidr} ${Name} ${Days}"}}}},
}
GOOD = {"Env": "TEST", "Cidr": "10.0.0.0/24"}
BAD = [
    ({"Env": "DEV"}, "Parameter 'Env' must be one of AllowedValues"),
    ({"Cidr": "banana"}, "Parameter Cidr failed to satisfy constraint: a CIDR block such as 10.0.0.0/24"),
    ({"Name": "ab"}, "Parameter 'Name' must contain at least 3 characters"),
    ({"Name": "abcdefghi"}, "Parameter 'Name' must contain at most 8 characters"),
    ({"Days": "x"}, "Parameter 'Days' must be a number"),
    ({"Days": "0"}, "Parameter 'Days' must be a number not less than 1"),
    ({"Days": "31"}, "Parameter 'Days' must be a number not greater than 30"),
    ({"Env": "PROD"}, "PROD needs a Name other than the default"),
    ({"Colour": "blue"}, "Parameters: [Colour] do not exist in the template"),
]


def as_list(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


@pytest.fixture
def cf(client):
    return client("cloudformation")


@pytest.mark.parametrize("change, message", BAD)
def test_parameter_constraints_at_create_stack_change_set_and_update(cf, change, message):
    body = json.dumps(CONSTRAINED)
    for call in (lambda: cf.create_stack(StackName="c", TemplateBody=body, Parameters=as_list({**GOOD, **change})),
                 lambda: cf.create_change_set(StackName="c", ChangeSetName="cs", ChangeSetType="CREATE",
                                              TemplateBody=body, Parameters=as_list({**GOOD, **change}))):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ValidationError"
        assert err.value.response["Error"]["Message"] == message
    assert cf.list_stacks()["StackSummaries"] == []  # refused before anything exists
    cf.create_stack(StackName="c", TemplateBody=body, Parameters=as_list(GOOD))
    with pytest.raises(ClientError) as err:
        cf.update_stack(StackName="c", TemplateBody=body, Parameters=as_list({**GOOD, **change}))
    assert err.value.response["Error"]["Message"] == message
    assert cf.describe_stacks(StackName="c")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_missing_parameter_and_unchanged_update(cf):
    body = json.dumps(CONSTRAINED)
    with pytest.raises(ClientError) as err:
        cf.create_stack(StackName="c", TemplateBody=body, Parameters=as_list({"Env": "TEST"}))
    assert err.value.response["Error"]["Message"] == "Parameters: [Cidr] must have values"
    cf.create_stack(StackName="c", TemplateBody=body, Parameters=as_list(GOOD))
    stack = cf.describe_stacks(StackName="c")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert [e["ResourceStatus"] for e in cf.describe_stack_events(StackName="c")["StackEvents"]][::-1] == [
        "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_COMPLETE"]
    with pytest.raises(ClientError) as err:
        cf.update_stack(StackName="c", TemplateBody=body, Parameters=as_list(GOOD))
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."
    cf.update_stack(StackName="c", TemplateBody=body, Parameters=as_list({**GOOD, "Days": "9"}))
    assert cf.describe_stacks(StackName="c")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    assert cf.list_change_sets(StackName="c")["Summaries"] == []  # CreateStack/UpdateStack leave none


def test_bad_parameter_at_provisioning_is_a_failed_record(sc, upload, catalog):
    url = upload("constrained.json", json.dumps(CONSTRAINED))
    pa = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="c",
                                         Parameters=artifact_params(url, "constrained"))
    record = sc.provision_product(ProductId=catalog.product_id, ProvisionedProductName="c", ProvisionToken="c",
                                  ProvisioningArtifactId=pa["ProvisioningArtifactDetail"]["Id"],
                                  ProvisioningParameters=[{"Key": "Env", "Value": "TEST"},
                                                          {"Key": "Cidr", "Value": "banana"}])["RecordDetail"]
    done = settle(sc, record["RecordId"])["RecordDetail"]
    assert done["Status"] == "FAILED"
    assert done["RecordErrors"] == [{"Code": "ValidationError", "Description":
                                     "Parameter Cidr failed to satisfy constraint: a CIDR block such as 10.0.0.0/24"}]


def test_duplicate_artifact_names_are_accepted_and_both_info_keys_refused(sc, upload, catalog):
    url = upload("phi-bucket/v1-again.yaml")
    again = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="dup",
                                            Parameters=artifact_params(url, "v1"))
    names = [a["Name"] for a in sc.list_provisioning_artifacts(ProductId=catalog.product_id)[
        "ProvisioningArtifactDetails"]]
    assert names == ["v1", "v1"] and again["ProvisioningArtifactDetail"]["Name"] == "v1"
    with pytest.raises(ClientError) as exc:  # a lookup by the shared name cannot choose
        sc.describe_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactName="v1")
    assert error_code(exc) == "InvalidParametersException"
    both = dict(artifact_params(url, "v2"), Info={"LoadTemplateFromURL": url, "ImportFromPhysicalId": "arn:x"})
    with pytest.raises(ClientError) as exc:
        sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="both", Parameters=both)
    assert error_code(exc) == "InvalidParametersException"
    with pytest.raises(ClientError) as exc:
        sc.create_product(Name="both", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="b",
                          ProvisioningArtifactParameters=both)
    assert error_code(exc) == "InvalidParametersException"


def test_artifacts_are_creating_for_some_reads_and_can_be_made_to_fail(aws_env, sc, upload, catalog):
    def describe(artifact_id: str) -> str:
        return sc.describe_provisioning_artifact(ProductId=catalog.product_id,
                                                 ProvisioningArtifactId=artifact_id)["Status"]

    aws_env.set_artifacts(pending_reads=2)
    created = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="a",
                                              Parameters=artifact_params(upload("a.yaml"), "2.0.0"))
    assert created["Status"] == "CREATING"
    art = created["ProvisioningArtifactDetail"]["Id"]
    assert [describe(art), describe(art), describe(art)] == ["CREATING", "CREATING", "AVAILABLE"]
    assert "Status" not in sc.list_provisioning_artifacts(ProductId=catalog.product_id)[
        "ProvisioningArtifactDetails"][0]

    aws_env.set_artifacts(pending_reads=0, pending_seconds=0.3, fail_names=["2.1.0"])
    failing = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="f",
                                              Parameters=artifact_params(upload("f.yaml"), "2.1.0"))
    art = failing["ProvisioningArtifactDetail"]["Id"]
    assert describe(art) == "CREATING"
    time.sleep(0.35)
    assert describe(art) == "FAILED"
    with pytest.raises(ClientError) as exc:
        sc.provision_product(ProductId=catalog.product_id, ProvisioningArtifactId=art, ProvisionedProductName="x",
                             ProvisionToken="x", ProvisioningParameters=[{"Key": "BucketSuffix", "Value": "abc"}])
    assert error_code(exc) == "InvalidParametersException"
    aws_env.set_artifacts(pending_seconds=0, fail_next=1)
    product = sc.create_product(Name="fails", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE",
                                IdempotencyToken="p", ProvisioningArtifactParameters=artifact_params(upload("p.yaml")))
    first = product["ProvisioningArtifactDetail"]["Id"]
    assert sc.describe_provisioning_artifact(ProductId=product["ProductViewDetail"]["ProductViewSummary"][
        "ProductId"], ProvisioningArtifactId=first)["Status"] == "FAILED"
    assert aws_env.set_artifacts()["fail_next"] == 0


def test_a_forced_failure_rolls_the_update_back_and_the_product_stays_updatable(aws_env, sc, catalog):
    record = sc.provision_product(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id,
                                  ProvisionedProductName="f", ProvisionToken="f",
                                  ProvisioningParameters=[{"Key": "BucketSuffix", "Value": "abc"}])["RecordDetail"]
    assert settle(sc, record["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    rules = aws_env.set_resource_failures([{"type": "AWS::S3::Bucket", "action": "UPDATE", "reason": "no"}])
    assert rules[0]["type"] == "AWS::S3::Bucket" and rules[0]["times"] == 1
    update = sc.update_provisioned_product(ProvisionedProductName="f", UpdateToken="u1", ProvisioningParameters=[
        {"Key": "BucketSuffix", "UsePreviousValue": True}, {"Key": "Environment", "Value": "PROD"}])["RecordDetail"]
    failed = settle(sc, update["RecordId"])["RecordDetail"]
    assert failed["Status"] == "FAILED" and "UPDATE_FAILED: no" in failed["RecordErrors"][0]["Description"]
    pp = sc.describe_provisioned_product(Name="f")["ProvisionedProductDetail"]
    assert pp["Status"] == "TAINTED" and pp["LastSuccessfulProvisioningRecordId"] == record["RecordId"]
    again = sc.update_provisioned_product(ProvisionedProductName="f", UpdateToken="u2", ProvisioningParameters=[
        {"Key": "BucketSuffix", "UsePreviousValue": True}, {"Key": "Environment", "Value": "PROD"}])["RecordDetail"]
    assert settle(sc, again["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    assert sc.describe_provisioned_product(Name="f")["ProvisionedProductDetail"]["Status"] == "AVAILABLE"
    with pytest.raises(LocalAwsError, match="give logical_id"):
        aws_env.set_resource_failures([{"action": "UPDATE"}])  # neither logical_id nor type


def test_unknown_region_is_refused_at_once_as_aws_refuses_it(aws_env):
    started = time.monotonic()
    for service, operation, code in (("servicecatalog", "list_portfolios", "InvalidSignatureException"),
                                     ("cloudformation", "describe_stacks", "SignatureDoesNotMatch"),
                                     ("ec2", "describe_vpcs", "AuthFailure")):
        client = boto3.client(service, region_name="mars-1", endpoint_url=aws_env.url)
        with pytest.raises(ClientError) as err:
            getattr(client, operation)()
        assert err.value.response["Error"]["Code"] == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "Credential should be scoped to a valid region, not 'mars-1'" in err.value.response["Error"]["Message"]
        assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 0
    assert time.monotonic() - started < 5  # no retries, no wait (moto alone: HTTP 500 after 5 s of retries)
    done = subprocess.run([str(AWS_CLI), "--endpoint-url", aws_env.url, "--region", "mars-1",
                           "servicecatalog", "list-portfolios"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ))
    assert done.returncode != 0 and "Credential should be scoped to a valid region" in done.stderr
    assert "<html" not in done.stderr.lower()


def test_codecommit_repositories_create_get_list(client):
    cc = client("codecommit")
    for name in ("zeta", "alpha"):
        cc.create_repository(repositoryName=name, repositoryDescription=name)
    got = cc.get_repository(repositoryName="alpha")["repositoryMetadata"]
    assert got["cloneUrlHttp"] == "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/alpha"
    listed = cc.list_repositories(sortBy="repositoryName", order="ascending")["repositories"]
    assert [r["repositoryName"] for r in listed] == ["alpha", "zeta"] and listed[0]["repositoryId"] == got["repositoryId"]
    with pytest.raises(ClientError) as err:
        cc.get_repository(repositoryName="missing")
    assert err.value.response["Error"]["Code"] == "RepositoryDoesNotExistException"


def test_route53_zone_and_alias_record_to_a_load_balancer_through_cloudformation(client, cf):
    ec2, r53 = client("ec2"), client("route53")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
        "Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    zone = r53.create_hosted_zone(Name="clinic.example.org", CallerReference="z")["HostedZone"]
    template = {"Resources": {
        "Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {"Subnets": subnets}},
        "Site": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneName": "clinic.example.org.", "Name": "www.clinic.example.org.", "Type": "A",
            "AliasTarget": {"DNSName": {"Fn::GetAtt": ["Lb", "DNSName"]},
                            "HostedZoneId": {"Fn::GetAtt": ["Lb", "CanonicalHostedZoneID"]}}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Site"}}, "Lb": {"Value": {"Fn::GetAtt": ["Lb", "DNSName"]}}}}
    cf.create_stack(StackName="dns", TemplateBody=json.dumps(template))
    stack = cf.describe_stacks(StackName="dns")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    alias = next(r for r in records if r["Type"] == "A")
    assert alias["Name"] == "www.clinic.example.org."
    lb_dns = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["Lb"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".") == lb_dns.rstrip(".")
    cf.delete_stack(StackName="dns")
    assert [r["Type"] for r in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
            if r["Type"] == "A"] == []


def test_client_without_retries_sees_a_stack_update_rollback_not_a_500(cf, client):
    """moto alone drops a resource it cannot update and answers HTTP 500 from then on."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.1.0/24")["Subnet"]["SubnetId"]
    template = {"Parameters": {"Type": {"Type": "String", "Default": "t3.small"}}, "Resources": {
        "Vm": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "ami-12c6146b", "SubnetId": subnet,
                                                             "InstanceType": {"Ref": "Type"}}}},
        "Outputs": {"Dns": {"Value": {"Fn::GetAtt": ["Vm", "PrivateDnsName"]}}, "Id": {"Value": {"Ref": "Vm"}}}}
    cf.create_stack(StackName="vm", TemplateBody=json.dumps(template))
    first = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName="vm")["Stacks"][0]["Outputs"]}
    cf.update_stack(StackName="vm", TemplateBody=json.dumps(template), Parameters=as_list({"Type": "t3.large"}))
    stack = cf.describe_stacks(StackName="vm")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == first  # in place: same instance
    vm = ec2.describe_instances(InstanceIds=[first["Id"]])["Reservations"][0]["Instances"][0]
    assert vm["InstanceType"] == "t3.large"
    # a create-only property (SubnetId): a new instance, the old one deleted in the cleanup phase
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.8.2.0/24")["Subnet"]["SubnetId"]
    moved = dict(template, Resources={"Vm": {**template["Resources"]["Vm"], "Properties": {
        **template["Resources"]["Vm"]["Properties"], "SubnetId": other}}})
    cf.update_stack(StackName="vm", TemplateBody=json.dumps(moved), Parameters=as_list({"Type": "t3.large"}))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName="vm")["Stacks"][0]["Outputs"]}
    assert outputs["Id"] != first["Id"]
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert states[first["Id"]] == "terminated" and states[outputs["Id"]] == "running"
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"])
                for e in reversed(cf.describe_stack_events(StackName="vm")["StackEvents"])]
    cleanup = statuses.index(("vm", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
    assert ("Vm", "DELETE_COMPLETE") in statuses[cleanup:]
    retries = boto3.client("cloudformation", endpoint_url=cf.meta.endpoint_url,
                           config=Config(retries={"total_max_attempts": 1}))
    assert retries.describe_stacks(StackName="vm")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"


# --- what the web server relies on --------------------------------------------------------------

def _vpc(ec2, cidr: str = "10.7.0.0/16") -> tuple[str, list[str]]:
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    base = cidr.split(".")
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{base[0]}.{base[1]}.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    return vpc, subnets


def test_a_load_balancer_with_deletion_protection_is_not_deleted(client, cf):
    """AWS: "You can't delete a load balancer if deletion protection is enabled" (*Delete an Application Load
    Balancer*); the answer is OperationNotPermitted (aws-cloudformation/rain#187).  Through the API and through
    a stack: the stack ends DELETE_FAILED until the attribute is false."""
    ec2, elbv2 = client("ec2"), client("elbv2")
    _vpc_id, subnets = _vpc(ec2)
    template = {"Parameters": {"Protect": {"Type": "String", "AllowedValues": ["true", "false"]}},
                "Resources": {"Lb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
                    "Subnets": subnets, "LoadBalancerAttributes": [
                        {"Key": "deletion_protection.enabled", "Value": {"Ref": "Protect"}}]}}},
                "Outputs": {"Arn": {"Value": {"Ref": "Lb"}}}}
    cf.create_stack(StackName="lb", TemplateBody=json.dumps(template), Parameters=as_list({"Protect": "true"}))
    arn = cf.describe_stacks(StackName="lb")["Stacks"][0]["Outputs"][0]["OutputValue"]
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    assert {"Key": "deletion_protection.enabled", "Value": "true"} in attributes  # set at creation
    with pytest.raises(ClientError) as refused:
        elbv2.delete_load_balancer(LoadBalancerArn=arn)
    assert error_code(refused) == "OperationNotPermitted"
    assert "cannot be deleted because deletion protection is enabled" in str(refused.value)
    cf.delete_stack(StackName="lb")
    stack = cf.describe_stacks(StackName="lb")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    # a DELETE_FAILED stack is not updatable: turn the protection off directly, and delete again
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "deletion_protection.enabled", "Value": "false"}])
    cf.delete_stack(StackName="lb")
    assert elbv2.describe_load_balancers()["LoadBalancers"] == []


def test_an_instance_is_in_its_network_interfaces_subnet_with_its_groups(client, cf):
    """"If you specify a network interface, you must specify any subnets as part of the network interface"
    (*AWS::EC2::Instance*, SubnetId): the instance lands there, with the interface's security groups."""
    ec2 = client("ec2")
    vpc, subnets = _vpc(ec2, "10.6.0.0/16")
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    template = {"Resources": {"Vm": {"Type": "AWS::EC2::Instance", "Properties": {
        "ImageId": "ami-12c6146b", "InstanceType": "t3.small", "NetworkInterfaces": [
            {"DeviceIndex": "0", "SubnetId": subnets[1], "GroupSet": [group], "AssociatePublicIpAddress": False}]}}},
        "Outputs": {"Id": {"Value": {"Ref": "Vm"}}}}
    cf.create_stack(StackName="vm", TemplateBody=json.dumps(template))
    vm_id = cf.describe_stacks(StackName="vm")["Stacks"][0]["Outputs"][0]["OutputValue"]
    vm = ec2.describe_instances(InstanceIds=[vm_id])["Reservations"][0]["Instances"][0]
    assert vm["SubnetId"] == subnets[1] and vm["Placement"]["AvailabilityZone"] == "us-east-1b"
    assert [g["GroupId"] for g in vm["SecurityGroups"]] == [group] and "PublicIpAddress" not in vm


def test_a_volume_with_deletion_policy_snapshot_leaves_a_final_snapshot(client, cf):
    """*DeletionPolicy attribute*: Snapshot "to have CloudFormation create a snapshot before deleting the
    resource"; Retain keeps the volume."""
    ec2 = client("ec2")
    template = {"Resources": {
        "Data": {"Type": "AWS::EC2::Volume", "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot",
                 "Properties": {"AvailabilityZone": "us-east-1a", "Size": 5}},
        "Kept": {"Type": "AWS::EC2::Volume", "DeletionPolicy": "Retain",
                 "Properties": {"AvailabilityZone": "us-east-1a", "Size": 5}}},
        "Outputs": {"Data": {"Value": {"Ref": "Data"}}, "Kept": {"Value": {"Ref": "Kept"}}}}
    cf.create_stack(StackName="vol", TemplateBody=json.dumps(template))
    ids = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName="vol")["Stacks"][0]["Outputs"]}
    cf.delete_stack(StackName="vol")
    snapshots = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [ids["Data"]]}])
    assert len(snapshots["Snapshots"]) == 1
    assert [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"] if v["VolumeId"] in ids.values()] == [ids["Kept"]]


def test_an_update_of_a_parameter_read_only_in_metadata_is_a_modify(cf):
    """Metadata may hold parameters ("you can use intrinsic functions ..., parameters, and pseudo
    parameters within the metadata attribute", *Metadata attribute*): a new value changes the resource."""
    template = {"Parameters": {"Revision": {"Type": "String"}}, "Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Metadata": {"deploy": {"Fn::Sub": "revision=${Revision}"}},
        "Properties": {"Name": "/conformance/metadata", "Type": "String", "Value": "v"}}}}
    cf.create_stack(StackName="meta", TemplateBody=json.dumps(template), Parameters=as_list({"Revision": "a"}))
    created = cf.create_change_set(StackName="meta", ChangeSetName="c1", ChangeSetType="UPDATE",
                                   TemplateBody=json.dumps(template),
                                   Parameters=as_list({"Revision": "b"}))
    changes = cf.describe_change_set(ChangeSetName=created["Id"], StackName="meta")["Changes"]
    [change] = [c["ResourceChange"] for c in changes]
    assert (change["Action"], change["LogicalResourceId"], change["Replacement"], change["Scope"]) == (
        "Modify", "P", "False", ["Metadata"])


def test_describe_stacks_gives_each_parameters_input_and_the_resolved_value_of_ssm_typed_ones(client, cf):
    """*Parameter*: ParameterValue "The input value associated with the parameter"; ResolvedValue "returned
    only for Systems Manager parameter types"."""
    client("ssm").put_parameter(Name="/conformance/subnets", Value="subnet-1,subnet-2", Type="StringList")
    template = {"Parameters": {"Ids": {"Type": "CommaDelimitedList"},
                               "FromSsm": {"Type": "AWS::SSM::Parameter::Value<List<String>>",
                                           "Default": "/conformance/subnets"}},
                "Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {
                    "Name": "/conformance/p", "Type": "String", "Value": {"Fn::Join": [",", {"Ref": "Ids"}]}}}}}
    cf.create_stack(StackName="params", TemplateBody=json.dumps(template), Parameters=as_list({"Ids": "a,b"}))
    params = {p["ParameterKey"]: p for p in cf.describe_stacks(StackName="params")["Stacks"][0]["Parameters"]}
    assert params["Ids"] == {"ParameterKey": "Ids", "ParameterValue": "a,b"}
    assert params["FromSsm"] == {"ParameterKey": "FromSsm", "ParameterValue": "/conformance/subnets",
                                 "ResolvedValue": "subnet-1,subnet-2"}


def test_a_requested_certificate_is_issued_once_its_dns_validation_records_exist(client):
    """*DNS validation*: ACM "provides you with one or more CNAME records that must be added"; moto alone
    issues it after a minute whatever the zone holds."""
    acm, r53 = client("acm"), client("route53")
    arn = acm.request_certificate(DomainName="*.site.example.org", SubjectAlternativeNames=["site.example.org"],
                                  ValidationMethod="DNS")["CertificateArn"]
    cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert cert["Status"] == "PENDING_VALIDATION"
    zone = r53.create_hosted_zone(Name="site.example.org", CallerReference="acm")["HostedZone"]["Id"]
    records = {o["ResourceRecord"]["Name"]: o["ResourceRecord"] for o in cert["DomainValidationOptions"]}
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": {"Name": r["Name"], "Type": "CNAME", "TTL": 300,
                                                   "ResourceRecords": [{"Value": r["Value"]}]}}
        for r in records.values()]})
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


def test_codecommit_commits_branches_and_the_default_branch(client):
    """PutFile "generates a commit"; the first creates the branch, the default branch; the next needs the
    head as parentCommitId; GetBranch and GetCommit answer, or BranchDoesNotExist / CommitIdDoesNotExist."""
    cc = client("codecommit")
    cc.create_repository(repositoryName="site")
    assert "defaultBranch" not in cc.get_repository(repositoryName="site")["repositoryMetadata"]
    first = cc.put_file(repositoryName="site", branchName="main", filePath="index.html", fileContent=b"a")["commitId"]
    assert cc.get_repository(repositoryName="site")["repositoryMetadata"]["defaultBranch"] == "main"
    with pytest.raises(ClientError) as stale:
        cc.put_file(repositoryName="site", branchName="main", filePath="index.html", fileContent=b"b")
    assert error_code(stale) == "ParentCommitIdRequiredException"
    second = cc.put_file(repositoryName="site", branchName="main", filePath="index.html", fileContent=b"b",
                         parentCommitId=first)["commitId"]
    assert cc.get_branch(repositoryName="site", branchName="main")["branch"] == {"branchName": "main",
                                                                                 "commitId": second}
    assert cc.get_commit(repositoryName="site", commitId=second)["commit"]["parents"] == [first]
    for call, code in ((lambda: cc.get_branch(repositoryName="site", branchName="nope"), "BranchDoesNotExistException"),
                       (lambda: cc.get_commit(repositoryName="site", commitId="0" * 40), "CommitIdDoesNotExistException")):
        with pytest.raises(ClientError) as missing:
            call()
        assert error_code(missing) == code


def test_record_history_of_a_provisioned_product_newest_first(sc, catalog):
    """*ListRecordHistory*: "The records, in reverse chronological order", filtered by provisionedproduct."""
    launched = sc.provision_product(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id,
                                    ProvisionedProductName="hist", ProvisionToken="t1")["RecordDetail"]
    settle(sc, launched["RecordId"])
    pp = sc.describe_provisioned_product(Name="hist")["ProvisionedProductDetail"]["Id"]
    updated = sc.update_provisioned_product(ProvisionedProductName="hist", ProductId=catalog.product_id,
                                            ProvisioningArtifactId=catalog.artifact_id, UpdateToken="u1")["RecordDetail"]
    settle(sc, updated["RecordId"])
    history = sc.list_record_history(SearchFilter={"Key": "provisionedproduct", "Value": pp})["RecordDetails"]
    assert [(r["RecordId"], r["RecordType"]) for r in history] == [
        (updated["RecordId"], "UPDATE_PROVISIONED_PRODUCT"), (launched["RecordId"], "PROVISION_PRODUCT")]
    assert "UserArn" not in history[0]  # a record names no user (RecordDetail has no such field)
    assert sc.list_record_history(SearchFilter={"Key": "provisionedproduct", "Value": "pp-none"})["RecordDetails"] == []
