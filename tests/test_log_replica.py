"""The log replicas of an organisation (products/log_replica.py): per account and region a named replica
bucket and an aliased key, and the settings naming the replica region's bucket and key."""

from __future__ import annotations

import json

from generator.blocks import admin_settings as admin


def _template(rendered) -> dict:
    return json.loads(rendered["log-replica"].json_text)


def test_the_replica_bucket_is_named_by_account_and_region_and_encrypted_with_the_aliased_key(rendered):
    res = _template(rendered)["Resources"]
    replica = res["LogReplicaBucket"]["Properties"]
    assert replica["BucketName"] == {"Fn::Sub": "hipaa-catalog-replica-${AWS::AccountId}-${AWS::Region}"}
    sse = replica["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["ReplicaKey", "Arn"]}}
    assert replica["VersioningConfiguration"] == {"Status": "Enabled"}
    assert replica["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "ReplicaAccessLogBucket"}
    days = {r["Id"]: r for r in replica["LifecycleConfiguration"]["Rules"]}
    assert days["ExpireAfterRetention"]["ExpirationInDays"] >= 2190
    assert res["LogReplicaBucket"]["DeletionPolicy"] == "Retain"
    assert res["ReplicaKeyAlias"]["Properties"] == {"AliasName": "alias/hipaa-catalog/log-replica",
                                                    "TargetKeyId": {"Ref": "ReplicaKey"}}
    assert res["ReplicaKey"]["Properties"]["EnableKeyRotation"] is True
    # the access-log bucket of the replica: SSE-S3 (S3 server access logs need it), written only by S3 logging
    access = res["ReplicaAccessLogBucket"]["Properties"]
    assert access["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    sids = [s["Sid"] for s in res["ReplicaAccessLogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]]
    assert sids == ["DenyInsecureTransport", "S3ServerAccessLogs"]


def test_the_settings_name_the_replica_regions_bucket_and_key(rendered):
    t = _template(rendered)
    assert t["Mappings"]["LogReplication"] == {"us-east-1": {"ReplicaRegion": "us-west-2"},
                                               "us-west-2": {"ReplicaRegion": "us-east-1"}}
    res = t["Resources"]
    region = {"Region": {"Fn::FindInMap": ["LogReplication", {"Ref": "AWS::Region"}, "ReplicaRegion"]}}
    bucket, key = res["SettingReplicaDestinationBucket"]["Properties"], res["SettingReplicaDestinationKey"]["Properties"]
    assert bucket["Name"] == admin.REPLICA_DESTINATION_BUCKET.full_name("/hipaa-catalog")
    assert bucket["Value"] == {"Fn::Sub": ["arn:${AWS::Partition}:s3:::hipaa-catalog-replica-${AWS::AccountId}-${Region}",
                                           region]}
    assert key["Name"] == admin.REPLICA_DESTINATION_KEY.full_name("/hipaa-catalog")
    assert key["Value"] == {"Fn::Sub": ["arn:${AWS::Partition}:kms:${Region}:${AWS::AccountId}:alias/hipaa-catalog/log-replica",
                                        region]}


def test_buckets_not_replicated_say_why(rendered):
    res = _template(rendered)["Resources"]
    reasons = {lid: [s["reason"] for s in r.get("Metadata", {}).get("hipaa-catalog", {}).get("guard-suppressions", [])
                     if s["rule"] == "S3_BUCKET_REPLICATION_ENABLED"]
               for lid, r in res.items() if r["Type"] == "AWS::S3::Bucket"}
    assert set(reasons) == {"LogReplicaBucket", "ReplicaAccessLogBucket"} and all(reasons.values()), reasons
