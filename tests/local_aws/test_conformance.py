"""The local endpoint refuses what AWS refuses and accepts what AWS accepts, over HTTP (boto3, AWS CLI).

Service Catalog artifacts (duplicate names, Info keys, asynchronous status), CloudFormation parameter
constraints and Rules at CreateStack / CreateChangeSet / UpdateStack / provisioning, forced resource
failures, unknown regions, CodeCommit repositories, Route 53 zones and records (also through CloudFormation,
an alias to a load balancer).  Each AWS fact is cited where the endpoint implements it.
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
