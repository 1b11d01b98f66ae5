"""Service Catalog, administrator side, over HTTP with boto3 against the local endpoint."""

from __future__ import annotations

import json
import re

import pytest
from botocore.exceptions import ClientError

from .conftest import BUCKET, artifact_params

pytestmark = pytest.mark.aws


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_portfolio_create_is_idempotent_listed_described_and_paged(sc):
    first = sc.create_portfolio(DisplayName="HIPAA", ProviderName="Sec", IdempotencyToken="t",
                                Tags=[{"Key": "team", "Value": "sec"}])["PortfolioDetail"]
    again = sc.create_portfolio(DisplayName="HIPAA", ProviderName="Sec", IdempotencyToken="t")["PortfolioDetail"]
    assert first["Id"] == again["Id"] and re.fullmatch(r"port-[a-z2-7]{13}", first["Id"])
    assert first["ARN"].endswith(f":portfolio/{first['Id']}")
    described = sc.describe_portfolio(Id=first["Id"])
    assert described["PortfolioDetail"]["DisplayName"] == "HIPAA"
    assert described["Tags"] == [{"Key": "team", "Value": "sec"}]
    for i in range(4):
        sc.create_portfolio(DisplayName=f"P{i}", ProviderName="Sec", IdempotencyToken=f"t{i}")
    pages = list(sc.get_paginator("list_portfolios").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["PortfolioDetails"]) for p in pages] == [2, 2, 1]
    with pytest.raises(ClientError) as exc:
        sc.describe_portfolio(Id="port-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"


def test_update_portfolio_changes_its_fields_and_tags(sc):
    """UpdatePortfolio (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdatePortfolio.html)."""
    pid = sc.create_portfolio(DisplayName="HIPAA", ProviderName="Sec", Description="old", IdempotencyToken="u",
                              Tags=[{"Key": "team", "Value": "sec"}])["PortfolioDetail"]["Id"]
    updated = sc.update_portfolio(Id=pid, Description="new", ProviderName="Security",
                                  AddTags=[{"Key": "tier", "Value": "phi"}], RemoveTags=["team"])
    assert updated["PortfolioDetail"]["Description"] == "new" and updated["Tags"] == [{"Key": "tier", "Value": "phi"}]
    described = sc.describe_portfolio(Id=pid)["PortfolioDetail"]
    assert (described["DisplayName"], described["ProviderName"], described["Description"]) == ("HIPAA", "Security", "new")
    with pytest.raises(ClientError) as exc:
        sc.update_portfolio(Id="port-doesnotexist1", Description="x")
    assert error_code(exc) == "ResourceNotFoundException"


def test_product_with_first_artifact_describe_update_and_search_as_admin(sc, upload):
    created = sc.create_product(Name="web", Owner="Sec", ProductType="CLOUD_FORMATION_TEMPLATE",
                                Description="web server", IdempotencyToken="p",
                                ProvisioningArtifactParameters=artifact_params(upload("web/v1.yaml")))
    summary = created["ProductViewDetail"]["ProductViewSummary"]
    artifact = created["ProvisioningArtifactDetail"]
    assert re.fullmatch(r"prod-[a-z2-7]{13}", summary["ProductId"]) and summary["Id"].startswith("prodview-")
    assert re.fullmatch(r"pa-[a-z2-7]{13}", artifact["Id"]) and artifact["Active"] is True
    assert sc.create_product(Name="web", Owner="Sec", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="p",
                             ProvisioningArtifactParameters=artifact_params(upload("web/v1.yaml"))
                             )["ProductViewDetail"]["ProductViewSummary"]["ProductId"] == summary["ProductId"]

    updated = sc.update_product(Id=summary["ProductId"], Description="web server, v2 docs",
                                AddTags=[{"Key": "tier", "Value": "web"}])
    assert updated["ProductViewDetail"]["ProductViewSummary"]["ShortDescription"] == "web server, v2 docs"
    admin = sc.describe_product_as_admin(Name="web")
    assert admin["Tags"] == [{"Key": "tier", "Value": "web"}]
    assert [a["Id"] for a in admin["ProvisioningArtifactSummaries"]] == [artifact["Id"]]

    portfolio = sc.create_portfolio(DisplayName="P", ProviderName="Sec", IdempotencyToken="x")["PortfolioDetail"]
    assert sc.search_products_as_admin(PortfolioId=portfolio["Id"])["ProductViewDetails"] == []
    sc.associate_product_with_portfolio(ProductId=summary["ProductId"], PortfolioId=portfolio["Id"])
    found = sc.search_products_as_admin(PortfolioId=portfolio["Id"], Filters={"FullTextSearch": ["WEB"]})
    assert [d["ProductViewSummary"]["Name"] for d in found["ProductViewDetails"]] == ["web"]
    assert [p["Id"] for p in sc.list_portfolios_for_product(ProductId=summary["ProductId"])["PortfolioDetails"]] \
        == [portfolio["Id"]]
    with pytest.raises(ClientError) as exc:
        sc.delete_product(Id=summary["ProductId"])
    assert error_code(exc) == "ResourceInUseException"
    with pytest.raises(ClientError) as exc:
        sc.describe_product_as_admin(Id="prod-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        sc.associate_product_with_portfolio(ProductId=summary["ProductId"], PortfolioId="port-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"


@pytest.mark.parametrize("url_form", ["path", "virtual-host", "s3-path", "regional-virtual-host"])
def test_artifact_template_url_forms_resolve_to_local_s3(sc, upload, aws_env, url_form):
    upload("forms/t.yaml")
    url = {"path": f"{aws_env.url}/{BUCKET}/forms/t.yaml",
           "virtual-host": f"https://{BUCKET}.s3.amazonaws.com/forms/t.yaml",
           "s3-path": f"https://s3.us-east-1.amazonaws.com/{BUCKET}/forms/t.yaml",
           "regional-virtual-host": f"https://{BUCKET}.s3.us-east-1.amazonaws.com/forms/t.yaml"}[url_form]
    created = sc.create_product(Name="t", Owner="o", ProductType="CLOUD_FORMATION_TEMPLATE", IdempotencyToken="i",
                                ProvisioningArtifactParameters=artifact_params(url))
    artifact = sc.describe_provisioning_artifact(
        ProductId=created["ProductViewDetail"]["ProductViewSummary"]["ProductId"],
        ProvisioningArtifactName="v1", IncludeProvisioningArtifactParameters=True)
    assert artifact["Info"] == {"TemplateUrl": url}
    keys = {p["ParameterKey"]: p for p in artifact["ProvisioningArtifactParameters"]}
    assert keys["Environment"]["ParameterConstraints"]["AllowedValues"] == ["PROD", "TEST"]


def test_create_artifact_idempotent_status_and_validation_errors(sc, upload, catalog):
    url = upload("phi-bucket/v2.yaml")
    first = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="v2",
                                            Parameters=artifact_params(url, "v2"))
    assert first["Status"] == "CREATING"
    again = sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="v2",
                                            Parameters=artifact_params(url, "v2"))
    assert again["ProvisioningArtifactDetail"]["Id"] == first["ProvisioningArtifactDetail"]["Id"]
    statuses = [sc.describe_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=first[
        "ProvisioningArtifactDetail"]["Id"])["Status"] for _ in range(2)]
    assert statuses == ["CREATING", "AVAILABLE"]  # asynchronous: CREATING for one read by default
    listed = sc.list_provisioning_artifacts(ProductId=catalog.product_id)["ProvisioningArtifactDetails"]
    assert [a["Name"] for a in listed] == ["v1", "v2"]

    cases = {
        "missing object": artifact_params(url.replace("v2.yaml", "nope.yaml"), "v3"),
        "missing bucket": artifact_params("https://no-such-bucket.s3.amazonaws.com/t.yaml", "v3"),
        "no resources": artifact_params(upload("bad/empty.json", json.dumps({"Resources": {}})), "v3"),
        "not a template": artifact_params(upload("bad/text.txt", "just: [text"), "v3"),
        "bad parameter type": artifact_params(upload("bad/ptype.json", json.dumps(
            {"Parameters": {"X": {"Type": "Strin"}}, "Resources": {"B": {"Type": "AWS::S3::Bucket"}}})), "v3"),
        "both Info keys": dict(artifact_params(url, "v3"), Info={"LoadTemplateFromURL": url,
                                                                 "ImportFromPhysicalId": "arn:aws:cloudformation:x"}),
    }
    for case, params in cases.items():
        with pytest.raises(ClientError) as exc:
            sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken=case, Parameters=params)
        assert error_code(exc) == "InvalidParametersException", case
    with pytest.raises(ClientError) as exc:
        sc.create_provisioning_artifact(ProductId="prod-doesnotexist1", IdempotencyToken="z",
                                        Parameters=artifact_params(url, "v9"))
    assert error_code(exc) == "ResourceNotFoundException"


def test_artifact_update_delete_and_the_100_version_quota(sc, upload, catalog):
    url = upload("phi-bucket/vN.json", json.dumps({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}))
    updated = sc.update_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id,
                                              Active=False, Guidance="DEPRECATED", Description="old")
    detail = updated["ProvisioningArtifactDetail"]
    assert (detail["Active"], detail["Guidance"], detail["Description"]) == (False, "DEPRECATED", "old")
    with pytest.raises(ClientError) as exc:
        sc.delete_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id)
    assert error_code(exc) == "InvalidParametersException"  # the last one
    for n in range(2, 101):
        sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken=f"v{n}",
                                        Parameters=artifact_params(url, f"v{n}"))
    with pytest.raises(ClientError) as exc:
        sc.create_provisioning_artifact(ProductId=catalog.product_id, IdempotencyToken="v101",
                                        Parameters=artifact_params(url, "v101"))
    assert error_code(exc) == "LimitExceededException"
    sc.delete_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id)
    assert len(sc.list_provisioning_artifacts(ProductId=catalog.product_id)["ProvisioningArtifactDetails"]) == 99
    with pytest.raises(ClientError) as exc:
        sc.delete_provisioning_artifact(ProductId=catalog.product_id, ProvisioningArtifactId=catalog.artifact_id)
    assert error_code(exc) == "ResourceNotFoundException"


def test_principals_iam_and_iam_pattern(sc, catalog):
    sc.associate_principal_with_portfolio(PortfolioId=catalog.portfolio_id, PrincipalType="IAM",
                                          PrincipalARN="arn:aws:iam::123456789012:role/Developer")
    sc.associate_principal_with_portfolio(PortfolioId=catalog.portfolio_id, PrincipalType="IAM_PATTERN",
                                          PrincipalARN="arn:aws:iam:::role/Dev*")
    sc.associate_principal_with_portfolio(PortfolioId=catalog.portfolio_id, PrincipalType="IAM_PATTERN",
                                          PrincipalARN="arn:aws:iam:::role/Dev*")  # idempotent
    principals = sc.list_principals_for_portfolio(PortfolioId=catalog.portfolio_id)["Principals"]
    assert principals == [{"PrincipalARN": "arn:aws:iam::123456789012:role/Developer", "PrincipalType": "IAM"},
                          {"PrincipalARN": "arn:aws:iam:::role/Dev*", "PrincipalType": "IAM_PATTERN"}]
    for arn, kind in [("arn:aws:iam::123456789012:role/Dev*", "IAM"), ("arn:aws:iam::123456789012:role/Dev*",
                                                                        "IAM_PATTERN"), ("not-an-arn", "IAM")]:
        with pytest.raises(ClientError) as exc:
            sc.associate_principal_with_portfolio(PortfolioId=catalog.portfolio_id, PrincipalType=kind,
                                                  PrincipalARN=arn)
        assert error_code(exc) == "InvalidParametersException", (arn, kind)
    with pytest.raises(ClientError) as exc:
        sc.list_principals_for_portfolio(PortfolioId="port-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        sc.delete_portfolio(Id=catalog.portfolio_id)
    assert error_code(exc) == "ResourceInUseException"


def test_launch_constraint_one_per_pair_role_arn_xor_local_role_name(sc, client, catalog):
    constraints = sc.list_constraints_for_portfolio(PortfolioId=catalog.portfolio_id)["ConstraintDetails"]
    assert len(constraints) == 1 and re.fullmatch(r"cons-[a-z2-7]{13}", constraints[0]["ConstraintId"])
    described = sc.describe_constraint(Id=constraints[0]["ConstraintId"])
    assert json.loads(described["ConstraintParameters"]) == {"RoleArn": catalog.role_arn}
    assert described["ConstraintDetail"]["ProductId"] == catalog.product_id and described["Status"] == "AVAILABLE"

    def create(parameters, token="again"):
        return sc.create_constraint(PortfolioId=catalog.portfolio_id, ProductId=catalog.product_id, Type="LAUNCH",
                                    Parameters=json.dumps(parameters), IdempotencyToken=token)
    with pytest.raises(ClientError) as exc:
        create({"LocalRoleName": "SCLaunchRole"})
    assert error_code(exc) == "DuplicateResourceException"
    assert create({"RoleArn": catalog.role_arn}, token="c-1")["ConstraintDetail"]["ConstraintId"] \
        == constraints[0]["ConstraintId"]  # same IdempotencyToken
    sc.delete_constraint(Id=constraints[0]["ConstraintId"])
    for bad in ({"RoleArn": catalog.role_arn, "LocalRoleName": "SCLaunchRole"}, {},
                {"LocalRoleName": "NoSuchRole"}):
        with pytest.raises(ClientError) as exc:
            create(bad)
        assert error_code(exc) == "InvalidParametersException", bad
    assert create({"LocalRoleName": "SCLaunchRole"})["ConstraintDetail"]["Type"] == "LAUNCH"
    with pytest.raises(ClientError) as exc:
        sc.describe_constraint(Id="cons-doesnotexist1")
    assert error_code(exc) == "ResourceNotFoundException"



def test_update_constraint_switches_role_arn_to_local_role_name(sc, catalog):
    """UpdateConstraint takes a new Description and LAUNCH Parameters (RoleArn xor LocalRoleName), answers
    ResourceNotFoundException / InvalidParametersException
    (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdateConstraint.html)."""
    [constraint] = sc.list_constraints_for_portfolio(PortfolioId=catalog.portfolio_id)["ConstraintDetails"]
    cid = constraint["ConstraintId"]
    updated = sc.update_constraint(Id=cid, Description="Launch as SCLaunchRole in each account",
                                   Parameters=json.dumps({"LocalRoleName": "SCLaunchRole"}))
    assert updated["ConstraintDetail"]["ConstraintId"] == cid and updated["Status"] == "AVAILABLE"
    described = sc.describe_constraint(Id=cid)
    assert json.loads(described["ConstraintParameters"]) == {"LocalRoleName": "SCLaunchRole"}
    assert described["ConstraintDetail"]["Description"] == "Launch as SCLaunchRole in each account"
    assert sc.update_constraint(Id=cid, Description="only the text")["ConstraintParameters"] \
        == json.dumps({"LocalRoleName": "SCLaunchRole"})   # Parameters left out: kept
    for bad in ({"RoleArn": catalog.role_arn, "LocalRoleName": "SCLaunchRole"}, {}, {"LocalRoleName": "NoSuchRole"}):
        with pytest.raises(ClientError) as exc:
            sc.update_constraint(Id=cid, Parameters=json.dumps(bad))
        assert error_code(exc) == "InvalidParametersException", bad
    assert json.loads(sc.describe_constraint(Id=cid)["ConstraintParameters"]) == {"LocalRoleName": "SCLaunchRole"}
    with pytest.raises(ClientError) as exc:
        sc.update_constraint(Id="cons-doesnotexist1", Description="x")
    assert error_code(exc) == "ResourceNotFoundException"
    assert len(sc.list_constraints_for_portfolio(PortfolioId=catalog.portfolio_id)["ConstraintDetails"]) == 1


def test_disassociate_principal_and_product(sc, catalog):
    pid, prod = catalog.portfolio_id, catalog.product_id
    arn = "arn:aws:iam::123456789012:group/Developers"
    sc.associate_principal_with_portfolio(PortfolioId=pid, PrincipalType="IAM", PrincipalARN=arn)
    sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=arn)
    assert sc.list_principals_for_portfolio(PortfolioId=pid)["Principals"] == []
    with pytest.raises(ClientError) as exc:
        sc.disassociate_principal_from_portfolio(PortfolioId=pid, PrincipalARN=arn)
    assert error_code(exc) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:   # its LAUNCH constraint still refers to the pair
        sc.disassociate_product_from_portfolio(ProductId=prod, PortfolioId=pid)
    assert error_code(exc) == "ResourceInUseException"
    [constraint] = sc.list_constraints_for_portfolio(PortfolioId=pid)["ConstraintDetails"]
    sc.delete_constraint(Id=constraint["ConstraintId"])
    sc.disassociate_product_from_portfolio(ProductId=prod, PortfolioId=pid)
    assert sc.search_products_as_admin(PortfolioId=pid)["ProductViewDetails"] == []
    with pytest.raises(ClientError) as exc:
        sc.disassociate_product_from_portfolio(ProductId=prod, PortfolioId=pid)
    assert error_code(exc) == "ResourceNotFoundException"
