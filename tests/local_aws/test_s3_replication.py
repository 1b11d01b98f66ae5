"""The local endpoint refuses S3 replication into a bucket that does not exist, through the API and in a
template ("The destination bucket or buckets must already exist", *AWS::S3::Bucket* ReplicationConfiguration,
AWS CloudFormation User Guide); moto accepts both."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::123456789012:role/replication"


def versioned(s3, name: str, region: str = "us-east-1") -> None:
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=name, **kwargs)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def replication(destination: str) -> dict:
    return {"Role": ROLE, "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                                     "DeleteMarkerReplication": {"Status": "Disabled"},
                                     "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}]}


def test_put_bucket_replication_needs_the_destination_bucket(client):
    s3 = client("s3")
    versioned(s3, "evidence-source")
    with pytest.raises(ClientError) as err:
        s3.put_bucket_replication(Bucket="evidence-source", ReplicationConfiguration=replication("not-there"))
    assert err.value.response["Error"]["Code"] == "InvalidRequest"
    assert "arn:aws:s3:::not-there" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        s3.get_bucket_replication(Bucket="evidence-source")   # nothing was configured

    versioned(client("s3"), "evidence-replica", "us-west-2")
    s3.put_bucket_replication(Bucket="evidence-source", ReplicationConfiguration=replication("evidence-replica"))
    rule, = s3.get_bucket_replication(Bucket="evidence-source")["ReplicationConfiguration"]["Rules"]
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:::evidence-replica"


def template(destination: str) -> str:
    return json.dumps({"Resources": {"Source": {"Type": "AWS::S3::Bucket", "Properties": {
        "VersioningConfiguration": {"Status": "Enabled"},
        "ReplicationConfiguration": {"Role": ROLE, "Rules": [{
            "Status": "Enabled", "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}]}}}}})


def test_a_template_bucket_replicating_into_a_missing_bucket_fails_and_the_stack_rolls_back(client):
    cf = client("cloudformation")
    cf.create_stack(StackName="replicates", TemplateBody=template("no-such-replica"))
    stack = cf.describe_stacks(StackName="replicates")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    failed = [e for e in cf.describe_stack_events(StackName="replicates")["StackEvents"]
              if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Source"]
    assert failed and "arn:aws:s3:::no-such-replica" in failed[0]["ResourceStatusReason"], failed

    versioned(client("s3"), "the-replica", "us-west-2")
    cf.create_stack(StackName="replicates-too", TemplateBody=template("the-replica"))
    assert cf.describe_stacks(StackName="replicates-too")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
