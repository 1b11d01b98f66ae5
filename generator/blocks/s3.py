"""S3 building blocks: every bucket is versioned, KMS-encrypted, private and TLS-only.

``encrypted_bucket`` returns the bucket; ``tls_only_policy`` its bucket policy, which always denies any
request without TLS on the bucket ARN and ``/*`` and may carry further statements (service delivery).
"""

from __future__ import annotations

from typing import Sequence

from awacs.aws import Bool, Condition, Deny, Principal
from troposphere import GetAtt, Join, Ref, s3

from generator.blocks.iam import document, statement

ALL_ACTIONS = ["s3:*"]


def encrypted_bucket(logical_id: str, *, kms_key_arn=None, access_log_bucket=None, log_prefix: str | None = None,
                     expire_after_days: int | None = None, noncurrent_expire_days: int | None = None,
                     name=None, condition: str | None = None, tags=None, object_ownership: str = "BucketOwnerEnforced",
                     retain: bool = True) -> s3.Bucket:
    """A private bucket: SSE-KMS (or SSE-S3 where ``kms_key_arn`` is None, e.g. an access-log bucket, which
    S3 server access logging requires), versioning, all four public-access-block flags, ACLs disabled."""
    if kms_key_arn is not None:
        sse = s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms", KMSMasterKeyID=kms_key_arn)
        rule = s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=sse, BucketKeyEnabled=True)
    else:
        rule = s3.ServerSideEncryptionRule(ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
            SSEAlgorithm="AES256"))
    kwargs = {
        "BucketEncryption": s3.BucketEncryption(ServerSideEncryptionConfiguration=[rule]),
        "VersioningConfiguration": s3.VersioningConfiguration(Status="Enabled"),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True),
        "OwnershipControls": s3.OwnershipControls(Rules=[s3.OwnershipControlsRule(ObjectOwnership=object_ownership)]),
    }
    if access_log_bucket is not None:
        kwargs["LoggingConfiguration"] = s3.LoggingConfiguration(
            DestinationBucketName=access_log_bucket, LogFilePrefix=log_prefix or f"{logical_id}/")
    rules = []
    if expire_after_days:
        rules.append(s3.LifecycleRule(Id="ExpireAfterRetention", Status="Enabled", ExpirationInDays=expire_after_days))
    if noncurrent_expire_days:
        rules.append(s3.LifecycleRule(Id="ExpireNoncurrentVersions", Status="Enabled",
                                      NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                                          NoncurrentDays=noncurrent_expire_days)))
    if rules:
        kwargs["LifecycleConfiguration"] = s3.LifecycleConfiguration(Rules=rules)
    if name is not None:
        kwargs["BucketName"] = name
    if condition:
        kwargs["Condition"] = condition
    if tags is not None:
        kwargs["Tags"] = tags
    bucket = s3.Bucket(logical_id, **kwargs)
    if retain:
        bucket.DeletionPolicy = "Retain"
        bucket.UpdateReplacePolicy = "Retain"
    return bucket


def bucket_arns(bucket: s3.Bucket) -> list:
    """The bucket ARN and the ARN of every object in it."""
    arn = GetAtt(bucket, "Arn")
    return [arn, Join("", [arn, "/*"])]


def deny_insecure_transport(resources: list):
    """Deny every request to ``resources`` made without TLS (HIPAA 164.312(e)(1)).

    The condition value is the JSON boolean ``false``, not the string: IAM reads both alike ("Quotation
    marks are optional for numeric and Boolean values", IAM User Guide, "Grammar of the IAM JSON policy
    language", https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html), and the
    Guard registry rule S3_BUCKET_SSL_REQUESTS_ONLY matches only the boolean."""
    return statement("DenyInsecureTransport", ALL_ACTIONS, resources, effect=Deny, principal=Principal("*"),
                     condition=Condition(Bool("aws:SecureTransport", False)))


def tls_only_policy(logical_id: str, bucket: s3.Bucket, statements: Sequence = (),
                    condition: str | None = None) -> s3.BucketPolicy:
    deny = deny_insecure_transport(bucket_arns(bucket))
    kwargs = {"Bucket": Ref(bucket), "PolicyDocument": document(deny, *statements)}
    if condition:
        kwargs["Condition"] = condition
    return s3.BucketPolicy(logical_id, **kwargs)
