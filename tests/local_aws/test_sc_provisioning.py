"""Service Catalog, end-user side: search, launch paths, parameters, provision, records, update, terminate."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from .conftest import FIXTURE_LAUNCH_POLICY, artifact_params, settle
from .test_sc_admin import error_code

pytestmark = pytest.mark.aws


def provision(sc, catalog, name="phi-data", token=None, artifact_id=None, **parameters):
    values = {"BucketSuffix": "abc", **parameters}
    return sc.provision_product(ProductId=catalog.product_id, ProvisioningArtifactId=artifact_id or catalog.artifact_id,
                                ProvisionedProductName=name, ProvisionToken=token or name,
                                ProvisioningParameters=[{"Key": k, "Value": v} for k, v in values.items()],
                                Tags=[{"Key": "owner", "Value": "dev"}])["RecordDetail"]


def test_search_products_launch_paths_and_provisioning_parameters(sc, catalog):
    summaries = sc.search_products()["ProductViewSummaries"]
    assert [(s["ProductId"], s["HasDefaultPath"]) for s in summaries] == [(catalog.product_id, True)]
    assert sc.search_products(Filters={"FullTextSearch": ["nothing-like-it"]})["ProductViewSummaries"] == []
    paths = sc.list_launch_paths(ProductId=catalog.product_id)["LaunchPathSummaries"]
    assert len(paths) == 1 and re.fullmatch(r"lpv2-[a-z2-7]{13}", paths[0]["Id"])
    assert paths[0]["Name"] == "HIPAA" and paths[0]["ConstraintSummaries"][0]["Type"] == "LAUNCH"
    product = sc.describe_product(Id=catalog.product_id)
    assert [a["Id"] for a in product["ProvisioningArtifacts"]] == [catalog.artifact_id]
    assert product["LaunchPaths"] == [{"Id": paths[0]["Id"], "Name": "HIPAA"}]

    described = sc.describe_provisioning_parameters(ProductId=catalog.product_id,
                                                    ProvisioningArtifactId=catalog.artifact_id, PathId=paths[0]["Id"])
    params = {p["ParameterKey"]: p for p in described["ProvisioningArtifactParameters"]}
    assert params["BucketSuffix"]["ParameterConstraints"] == {
        "AllowedPattern": "[a-z0-9-]+", "MinLength": "3", "MaxLength": "20",
        "ConstraintDescription": "3 to 20 lowercase letters, digits or hyphens"}
    assert params["RetentionDays"]["DefaultValue"] == "365"
    assert params["RetentionDays"]["ParameterConstraints"] == {"MinValue": "1", "MaxValue": "3653"}
    assert params["KmsAlias"]["ParameterType"] == "AWS::SSM::Parameter::Value<String>"
    assert described["UsageInstructions"] == [{"Type": "launchAsRole", "Value": catalog.role_arn}]
    assert [o["Key"] for o in described["ProvisioningArtifactOutputKeys"]] == ["BucketName", "KeyArn", "Alias", "SettingName"]

    with pytest.raises(ClientError) as exc:
        sc.list_launch_paths(ProductId="prod-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        sc.describe_provisioning_parameters(ProductId=catalog.product_id, ProvisioningArtifactId="pa-doesnotexist12")
    assert error_code(exc) == "ResourceNotFoundException"


def test_provisioned_product_record_carries_the_stack_outputs(sc, client, catalog):
    record = provision(sc, catalog, Environment="PROD")
    assert record["Status"] == "CREATED" and re.fullmatch(r"rec-[a-z2-7]{13}", record["RecordId"])
    assert sc.describe_record(Id=record["RecordId"])["RecordDetail"]["Status"] == "IN_PROGRESS"
    done = settle(sc, record["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED", done["RecordDetail"]["RecordErrors"]
    assert done["RecordDetail"]["LaunchRoleArn"] == catalog.role_arn
    outputs = {o["OutputKey"]: o["OutputValue"] for o in done["RecordOutputs"]}
    assert outputs["BucketName"] == "phi-PROD-abc"
    assert outputs["Alias"] == "alias/phi"  # SSM-typed parameter resolved from the local SSM
    assert outputs["KeyArn"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    # {{resolve:ssm:...}} resolved from the local SSM into a parameter whose name CloudFormation generated
    setting = client("ssm").get_parameter(Name=outputs["SettingName"])["Parameter"]
    assert setting["Value"] == "alias/phi" and outputs["SettingName"].startswith("SC-123456789012-pp-")

    pp_id = record["ProvisionedProductId"]
    stack_name = f"SC-123456789012-{pp_id}"
    stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE" and outputs["CloudformationStackARN"] == stack["StackId"]
    assert {"Key": "owner", "Value": "dev"} in stack["Tags"]
    assert "phi-PROD-abc" in [b["Name"] for b in client("s3").list_buckets()["Buckets"]]

    detail = sc.describe_provisioned_product(Name="phi-data")["ProvisionedProductDetail"]
    assert (detail["Id"], detail["Status"], detail["LastSuccessfulProvisioningRecordId"]) == \
        (pp_id, "AVAILABLE", record["RecordId"])
    searched = sc.search_provisioned_products(Filters={"SearchQuery": ["name:phi-data"]})
    assert searched["TotalResultsCount"] == 1 and searched["ProvisionedProducts"][0]["PhysicalId"] == stack["StackId"]
    assert sc.provision_product(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id,
                                ProvisionedProductName="phi-data", ProvisionToken="phi-data"
                                )["RecordDetail"]["RecordId"] == record["RecordId"]  # same ProvisionToken
    with pytest.raises(ClientError) as exc:
        provision(sc, catalog, token="another-token")
    assert error_code(exc) == "DuplicateResourceException"


def test_bad_parameters_and_moto_failures_are_failed_records(sc, upload, catalog):
    record = provision(sc, catalog, name="bad-env", Environment="STAGING")
    done = settle(sc, record["RecordId"])
    assert done["RecordDetail"]["Status"] == "FAILED" and done["RecordOutputs"] == []
    assert done["RecordDetail"]["RecordErrors"] == [
        {"Code": "ValidationError", "Description": "Parameter 'Environment' must be one of AllowedValues"}]
    pp = sc.describe_provisioned_product(Id=record["ProvisionedProductId"])["ProvisionedProductDetail"]
    assert pp["Status"] == "ERROR" and "AllowedValues" in pp["StatusMessage"]

    missing_ssm = upload("broken/ssm.json", '{"Parameters": {"P": {"Type": "AWS::SSM::Parameter::Value<String>",'
                                            ' "Default": "/not/there"}}, "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}')
    artifact = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="b",
                                               Parameters=artifact_params(missing_ssm, "broken"))
    record = sc.provision_product(ProductId=catalog.product_id, ProvisionedProductName="no-ssm", ProvisionToken="n",
                                  ProvisioningArtifactId=artifact["ProvisioningArtifactDetail"]["Id"])["RecordDetail"]
    errors = settle(sc, record["RecordId"])["RecordDetail"]["RecordErrors"]
    assert errors and "/not/there" in errors[0]["Description"]

    with pytest.raises(ClientError) as exc:
        provision(sc, catalog, name="typo", Enviroment="PROD")
    assert error_code(exc) == "InvalidParametersException"


def test_inactive_and_deprecated_artifacts_cannot_be_launched(sc, catalog):
    for change in ({"Guidance": "DEPRECATED"}, {"Active": False, "Guidance": "DEFAULT"}):
        sc.update_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id,
                                        **change)
        with pytest.raises(ClientError) as exc:
            provision(sc, catalog, name="refused")
        assert error_code(exc) == "InvalidParametersException", change
    assert sc.describe_product(Id=catalog.product_id)["ProvisioningArtifacts"] == []  # inactive: hidden


def test_update_then_terminate(sc, client, upload, catalog):
    pp_id = provision(sc, catalog)["ProvisionedProductId"]
    with pytest.raises(ClientError) as exc:  # the provisioning record is still IN_PROGRESS
        sc.update_provisioned_product(ProvisionedProductId=pp_id, UpdateToken="too-early")
    assert error_code(exc) == "InvalidParametersException"
    sc.describe_provisioned_product(Id=pp_id)
    assert sc.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]["Status"] == "AVAILABLE"

    v2 = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="v2",
                                         Parameters=artifact_params(upload("phi-bucket/v2.yaml"), "v2"))
    v2_id = v2["ProvisioningArtifactDetail"]["Id"]
    record = sc.update_provisioned_product(
        ProvisionedProductName="phi-data", ProvisioningArtifactId=v2_id, UpdateToken="u1",
        ProvisioningParameters=[{"Key": "BucketSuffix", "UsePreviousValue": True}, {"Key": "RetentionDays",
                                                                                    "Value": "30"}])["RecordDetail"]
    done = settle(sc, record["RecordId"])
    assert (done["RecordDetail"]["Status"], done["RecordDetail"]["RecordType"]) == \
        ("SUCCEEDED", "UPDATE_PROVISIONED_PRODUCT")
    assert sc.describe_provisioned_product(Id=pp_id)["ProvisionedProductDetail"]["ProvisioningArtifactId"] == v2_id

    stack_id = sc.search_provisioned_products()["ProvisionedProducts"][0]["PhysicalId"]
    record = sc.terminate_provisioned_product(ProvisionedProductId=pp_id, TerminateToken="t1")["RecordDetail"]
    assert settle(sc, record["RecordId"])["RecordDetail"]["Status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as exc:
        sc.describe_provisioned_product(Id=pp_id)
    assert error_code(exc) == "ResourceNotFoundException"
    assert sc.search_provisioned_products()["TotalResultsCount"] == 0
    assert client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] \
        == "DELETE_COMPLETE"
    with pytest.raises(ClientError) as exc:
        sc.terminate_provisioned_product(ProvisionedProductId=pp_id, TerminateToken="t2")
    assert error_code(exc) == "ResourceNotFoundException"


def test_a_launch_role_without_permissions_fails_the_record_with_access_denied(sc, client, catalog):
    """Provisioning acts as the launch role (IAM enforced by the endpoint): its inline policy gone,
    Service Catalog's first call is refused with AWS's AccessDenied text and nothing is created."""
    client("iam").delete_role_policy(RoleName="SCLaunchRole", PolicyName="launch")
    done = settle(sc, provision(sc, catalog, Environment="TEST")["RecordId"])
    assert done["RecordDetail"]["Status"] == "FAILED"
    (error,) = done["RecordDetail"]["RecordErrors"]
    assert error["Code"] == "AccessDenied"
    assert error["Description"] == (
        "User: arn:aws:sts::123456789012:assumed-role/SCLaunchRole/servicecatalog is not authorized to perform: "
        "cloudformation:ValidateTemplate on resource: * because no identity-based policy allows the "
        "cloudformation:ValidateTemplate action")
    assert client("cloudformation").describe_stacks()["Stacks"] == []


def test_a_denied_resource_fails_like_aws_and_rolls_back(sc, client, catalog):
    """A resource whose call the role may not make: CREATE_FAILED with the AccessDenied message, the
    stack rolled back, the record FAILED with that message."""
    policy = json.loads(json.dumps(FIXTURE_LAUNCH_POLICY))
    policy["Statement"][-1]["Action"].remove("logs:*")
    client("iam").put_role_policy(RoleName="SCLaunchRole", PolicyName="launch", PolicyDocument=json.dumps(policy))
    done = settle(sc, provision(sc, catalog, Environment="TEST")["RecordId"])
    assert done["RecordDetail"]["Status"] == "FAILED"
    (error,) = done["RecordDetail"]["RecordErrors"]
    assert error["Description"].startswith('Logs (AWS::Logs::LogGroup) CREATE_FAILED: Resource handler returned '
                                            'message: "User: arn:aws:sts::123456789012:assumed-role/SCLaunchRole/'
                                            'servicecatalog is not authorized to perform: logs:')
    (stack,) = client("cloudformation").describe_stacks()["Stacks"]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = client("cloudformation").describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Logs"]
    assert "(HandlerErrorCode: AccessDenied)" in failed[0]["ResourceStatusReason"]

