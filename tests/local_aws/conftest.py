"""Fixtures for the local AWS endpoint's own tests: clients, an uploaded template, a small catalog."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import client_of

TEMPLATE = Path(__file__).with_name("hipaa_bucket.yaml").read_text()
BUCKET = "catalog-templates"


@pytest.fixture
def client(aws_env):
    """``client("servicecatalog")``: a boto3 client for the local endpoint (no retries: errors surface), kept
    for the next tests (tests/conftest.py, ``client_of``)."""
    def make(service: str, retries: int = 0):
        return client_of(service, retries=retries)
    return make


@pytest.fixture
def sc(client):
    return client("servicecatalog")


@pytest.fixture
def upload(client, aws_env):
    """``upload(key, body)`` puts a template into the local S3 and returns its path-style URL."""
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)

    def put(key: str, body: str = TEMPLATE) -> str:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
        return f"{aws_env.url}/{BUCKET}/{key}"
    return put


@dataclass
class Catalog:
    portfolio_id: str
    product_id: str
    artifact_id: str
    role_arn: str


def artifact_params(url: str, name: str = "v1") -> dict:
    return {"Name": name, "Description": f"version {name}", "Type": "CLOUD_FORMATION_TEMPLATE",
            "Info": {"LoadTemplateFromURL": url}}


# What the fixture template's stack needs of its launch role: Service Catalog's part (the stack, its
# template copy), SSM reads, and the services of hipaa_bucket.yaml's resources.
FIXTURE_LAUNCH_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Stacks", "Effect": "Allow", "Action": "cloudformation:*", "Resource": "arn:aws:cloudformation:*:*:stack/SC-*"},
    {"Sid": "Templates", "Effect": "Allow", "Action": ["cloudformation:ValidateTemplate"], "Resource": "*"},
    {"Sid": "TemplateCopy", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
     "Condition": {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}},
    {"Sid": "Resources", "Effect": "Allow", "Resource": "*",
     "Action": ["kms:*", "s3:*", "backup:*", "backup-storage:*", "logs:*", "ssm:*"]}]}


@pytest.fixture
def catalog(sc, client, upload) -> Catalog:
    """A portfolio holding one product (artifact v1 from hipaa_bucket.yaml) with a LAUNCH constraint whose
    role may do what the template's stack needs."""
    client("ssm").put_parameter(Name="/hipaa/kms-alias", Value="alias/phi", Type="String")
    role = client("iam").create_role(RoleName="SCLaunchRole", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "servicecatalog.amazonaws.com"}}]}))
    client("iam").put_role_policy(RoleName="SCLaunchRole", PolicyName="launch",
                                  PolicyDocument=json.dumps(FIXTURE_LAUNCH_POLICY))
    portfolio = sc.create_portfolio(DisplayName="HIPAA", ProviderName="Security", IdempotencyToken="port-1")
    created = sc.create_product(Name="phi-bucket", Owner="Security", ProductType="CLOUD_FORMATION_TEMPLATE",
                                IdempotencyToken="prod-1", ProvisioningArtifactParameters=artifact_params(
                                    upload("phi-bucket/v1.yaml")))
    portfolio_id = portfolio["PortfolioDetail"]["Id"]
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio_id)
    sc.create_constraint(PortfolioId=portfolio_id, ProductId=product_id, Type="LAUNCH", IdempotencyToken="c-1",
                         Parameters=json.dumps({"RoleArn": role["Role"]["Arn"]}), Description="launch as SCLaunchRole")
    return Catalog(portfolio_id, product_id, created["ProvisioningArtifactDetail"]["Id"], role["Role"]["Arn"])


def settle(sc, record_id: str) -> dict:
    """Poll DescribeRecord until the record is SUCCEEDED or FAILED; return the last answer."""
    for _ in range(10):
        answer = sc.describe_record(Id=record_id)
        if answer["RecordDetail"]["Status"] in ("SUCCEEDED", "FAILED"):
            return answer
    raise AssertionError(f"record {record_id} never settled")
