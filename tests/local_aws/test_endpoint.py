"""The endpoint itself: AWS CLI access, fault injection, the call log, reset, the control API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from generator.devtools.local_aws import LocalAws, LocalAwsError
from generator.devtools.local_aws.calls import s3_operation
from generator.devtools.local_aws.servicecatalog.templates import split_s3_url

pytestmark = pytest.mark.aws
AWS_CLI = Path(sys.executable).with_name("aws")


def aws_cli(endpoint, *args: str) -> dict:
    done = subprocess.run([str(AWS_CLI), "--endpoint-url", endpoint.url, "--output", "json", *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_aws_cli_lists_portfolios_products_and_artifacts(aws_env, catalog):
    portfolios = aws_cli(aws_env, "servicecatalog", "list-portfolios")["PortfolioDetails"]
    assert [p["Id"] for p in portfolios] == [catalog.portfolio_id]
    products = aws_cli(aws_env, "servicecatalog", "search-products-as-admin")["ProductViewDetails"]
    assert [p["ProductViewSummary"]["ProductId"] for p in products] == [catalog.product_id]
    artifacts = aws_cli(aws_env, "servicecatalog", "list-provisioning-artifacts", "--product-id",
                        catalog.product_id)["ProvisioningArtifactDetails"]
    assert [(a["Id"], a["Name"], a["Active"]) for a in artifacts] == [(catalog.artifact_id, "v1", True)]


def test_throttling_is_a_json_error_botocore_retries(aws_env, client, sc):
    aws_env.set_faults(throttle=1.0, seed=3, services=["servicecatalog"])
    with pytest.raises(ClientError) as exc:
        sc.list_portfolios()
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client("s3").list_buckets()["Buckets"] == []  # other services unaffected

    aws_env.set_faults(throttle=0.5, seed=1, services=["servicecatalog"])  # seed 1: throttled, then through
    answer = client("servicecatalog", retries=3).list_portfolios()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 1
    assert aws_env.faults()["injected"] == {"throttle": 1, "unavailable": 0}


def test_faults_of_named_operations_leave_the_others_alone(aws_env, client, sc):
    aws_env.set_faults(throttle=1.0, services=["servicecatalog"], operations=["ListPortfolios"])
    with pytest.raises(ClientError) as exc:
        sc.list_portfolios()
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"
    assert sc.search_products_as_admin()["ProductViewDetails"] == []   # another operation of that service
    aws_env.set_faults(throttle=1.0, operations=["ListBuckets"])        # every service: the name alone selects
    with pytest.raises(ClientError):
        client("s3").list_buckets()
    assert sc.list_portfolios()["PortfolioDetails"] == []


def test_faults_have_each_protocols_error_shape(aws_env, client):
    aws_env.set_faults(throttle=1.0)
    with pytest.raises(ClientError) as exc:
        client("s3").list_buckets()  # rest-xml; S3 throttles with 503 SlowDown
    assert exc.value.response["Error"]["Code"] == "SlowDown"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError) as exc:
        client("iam").list_roles()  # query
    assert exc.value.response["Error"]["Code"] == "Throttling"
    aws_env.set_faults(unavailable=1.0, services=["cloudformation"])
    with pytest.raises(ClientError) as exc:
        client("cloudformation").describe_stacks()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    aws_env.set_faults()  # all zero: off
    assert client("cloudformation").describe_stacks()["Stacks"] == []


def test_fault_draws_are_reproducible_for_a_seed(aws_env, client):
    outcomes = []
    for _ in range(2):
        aws_env.set_faults(throttle=0.3, unavailable=0.2, seed=42, services=["sts"])
        sts, run = client("sts"), []
        for _ in range(12):
            try:
                sts.get_caller_identity()
                run.append("ok")
            except ClientError as err:
                run.append(err.response["Error"]["Code"])
        outcomes.append(run)
    assert outcomes[0] == outcomes[1] and len(set(outcomes[0])) == 3


def test_call_log_names_service_and_operation_and_reset_clears_state(aws_env, client, sc):
    s3 = client("s3")
    s3.create_bucket(Bucket="logged-bucket")
    s3.put_object(Bucket="logged-bucket", Key="a/b.json", Body=b"{}")
    s3.get_object(Bucket="logged-bucket", Key="a/b.json")
    client("iam").list_roles()
    sc.list_portfolios()
    assert [{k: c[k] for k in ("service", "operation")} for c in aws_env.calls()] == [
        {"service": "s3", "operation": "CreateBucket"}, {"service": "s3", "operation": "PutObject"},
        {"service": "s3", "operation": "GetObject"}, {"service": "iam", "operation": "ListRoles"},
        {"service": "servicecatalog", "operation": "ListPortfolios"}]
    assert {c["account"] for c in aws_env.calls()} == {"123456789012"}
    aws_env.reset_calls()
    assert aws_env.calls() == []
    aws_env.reset()
    assert s3.list_buckets()["Buckets"] == []
    s3.create_bucket(Bucket="logged-bucket")  # the global bucket name is free again


def test_public_amis_answer_alike_before_and_after_a_reset(aws_env, client):
    # the endpoint makes an EC2 backend's public AMIs when they are first read (generator/devtools/local_aws/ec2.py)
    ec2 = client("ec2")

    def amazon_images() -> list[str]:
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-*"]}])
        return sorted(i["ImageId"] for i in images["Images"])

    ec2.create_security_group(GroupName="before-any-image", Description="no image read yet")
    first = amazon_images()
    aws_env.reset()
    image = ec2.describe_images(ImageIds=[first[0]])["Images"][0]["ImageId"]
    assert image == first[0] and amazon_images() == first
    ec2.deregister_image(ImageId=image)
    assert image not in amazon_images()


def test_control_api_rejects_bad_fault_settings(aws_env):
    for bad in ({"throttle": 2}, {"throttle": 0.7, "unavailable": 0.7}, {"services": "s3"}, {"latency": 5},
                {"operations": "ListBuckets"}, {"operations": [1]}):
        request = urllib.request.Request(f"{aws_env.url}/_local_aws/faults", data=json.dumps(bad).encode(),
                                         method="POST")
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(request, timeout=10)
        assert exc.value.code == 400 and "allowed" in json.loads(exc.value.read())["error"], bad
    with pytest.raises(LocalAwsError, match="allowed: 0.0 to 1.0"):
        aws_env.set_faults(throttle=-1)


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:4566/b/k/v1.yaml", ("b", "k/v1.yaml", None)),
    ("https://my-bucket.s3.amazonaws.com/p/t.json?versionId=3", ("my-bucket", "p/t.json", "3")),
    ("https://my.bucket.s3.eu-west-1.amazonaws.com/t.json", ("my.bucket", "t.json", None)),
    ("https://my-bucket.s3-eu-west-1.amazonaws.com/a%20b.json", ("my-bucket", "a b.json", None)),
    ("https://s3.amazonaws.com/my-bucket/t.json", ("my-bucket", "t.json", None)),
    ("https://s3.us-east-1.amazonaws.com/my-bucket/t.json", ("my-bucket", "t.json", None)),
])
def test_template_urls(url, expected):
    assert split_s3_url(url) == expected


@pytest.mark.parametrize("method, path, query, expected", [
    ("GET", "/", {}, "ListBuckets"), ("PUT", "/b", {}, "CreateBucket"),
    ("PUT", "/b", {"versioning": [""]}, "PutBucketVersioning"), ("GET", "/b", {"list-type": ["2"]}, "ListObjectsV2"),
    ("HEAD", "/b/k", {}, "HeadObject"), ("DELETE", "/b/k", {}, "DeleteObject"),
])
def test_s3_operation_names(method, path, query, expected):
    assert s3_operation(method, path, query, {}) == expected


def test_a_second_endpoint_on_a_free_port_restores_its_snapshot_each_time_and_stop_ends_every_process(monkeypatch):
    with LocalAws.start(port=0, faults={"latency_ms": 1}) as endpoint:   # beside the worker's own endpoint
        assert endpoint.faults()["latency_ms"] == 1
        assert endpoint.url.startswith("http://127.0.0.1:")
        for name, value in (("AWS_ENDPOINT_URL", endpoint.url), ("AWS_ACCESS_KEY_ID", "testing"),
                            ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_REGION", "us-east-1")):
            monkeypatch.setenv(name, value)
        s3 = boto3.client("s3")            # one client throughout: its kept-alive connections must not break
        with pytest.raises(LocalAwsError, match="no snapshot to restore"):
            endpoint.restore()
        s3.create_bucket(Bucket="kept")
        big = b"x" * 6_000_000   # past moto's 5 MiB key buffer: a temporary file, shared with the snapshot
        s3.put_object(Bucket="kept", Key="big", Body=big)
        endpoint.set_faults(latency_ms=2, services=["sts"])
        calls, settings = endpoint.calls(), endpoint.settings()
        endpoint.snapshot()
        with pytest.raises(LocalAwsError, match="a snapshot was taken already"):
            endpoint.snapshot()
        for round in range(3):
            s3.create_bucket(Bucket=f"gone-{round}")
            if round == 0:
                s3.put_object(Bucket="kept", Key="big", Body=b"y" * 6_000_000)
            s3.delete_object(Bucket="kept", Key="big")
            endpoint.reset() if round == 1 else endpoint.set_faults()
            endpoint.restore()
            assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept"]
            assert s3.get_object(Bucket="kept", Key="big")["Body"].read() == big
            assert endpoint.settings() == settings
            assert endpoint.calls()[:len(calls)] == calls and len(endpoint.calls()) == len(calls) + 2   # and those two
        parked = endpoint._process
    assert parked.returncode == 0
    with pytest.raises(LocalAwsError):
        endpoint.calls()   # nothing listens: the parked process and its serving child have ended
