"""S3 building blocks: every bucket is versioned, KMS-encrypted, private and TLS-only.

``encrypted_bucket`` returns the bucket; ``tls_only_policy`` its bucket policy, which always denies any
request without TLS on the bucket ARN and ``/*`` and may carry further statements (service delivery).
``replication_role`` and ``kms_replication`` replicate a bucket's SSE-KMS objects to a bucket in
another region (*Replicating objects*, Amazon S3 User Guide,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html).
"""

from __future__ import annotations

from typing import Sequence

from awacs.aws import Bool, Condition, Deny, ForAnyValueStringEquals, Principal, StringLike
from troposphere import GetAtt, Join, Ref, Sub, iam as cfn_iam, s3

from generator.blocks.iam import document, managed_policy, service_trust, statement

ALL_ACTIONS = ["s3:*"]


def encrypted_bucket(logical_id: str, *, kms_key_arn=None, access_log_bucket=None, log_prefix: str | None = None,
                     expire_after_days: int | None = None, noncurrent_expire_days: int | None = None,
                     name=None, condition: str | None = None, tags=None, object_ownership: str = "BucketOwnerEnforced",
                     retain: bool = True, replication=None) -> s3.Bucket:
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
    if replication is not None:
        kwargs["ReplicationConfiguration"] = replication
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


def replication_role(logical_id: str, source: s3.Bucket, source_key_arn, replica_bucket_arn, replica_key_arn,
                     replica_region, condition: str, replica_key_aliases: Sequence[str] = ()) -> list:
    """The role S3 assumes to replicate ``source``'s SSE-KMS objects into ``replica_bucket_arn``, and its
    managed policy: the permissions of *Setting up permissions* (S3 User Guide,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html) plus, for
    SSE-KMS, ``kms:Decrypt`` on the source key and ``kms:Encrypt`` on the replica key, each limited to S3
    of its region by ``kms:ViaService``; ``kms:Decrypt`` on the replica key too, which an S3 Bucket Key in
    the destination needs (*Replicating objects created with server-side encryption*,
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).

    With ``replica_key_aliases`` the replica key may be given as an alias ARN (which ``ReplicaKmsKeyID``
    accepts: "either the Amazon Resource Name (ARN) for the KMS key or the alias ARN", *EncryptionConfiguration*,
    Amazon S3 API Reference, https://docs.aws.amazon.com/AmazonS3/latest/API/API_EncryptionConfiguration.html).
    An IAM policy cannot name a key by its alias ("You cannot use a key id, alias name, or alias ARN to identify
    a KMS key in an IAM policy statement", *Specifying KMS keys in IAM policy statements*,
    https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html), so the statement is on
    the keys of the replica region and of this account that have one of those aliases (``kms:ResourceAliases``,
    *Use aliases to control access to KMS keys*,
    https://docs.aws.amazon.com/kms/latest/developerguide/alias-authorization.html)."""
    source_arn = GetAtt(source, "Arn")
    # the trust policy of the S3 User Guide's page, as given there (no condition keys)
    role = cfn_iam.Role(logical_id, Description="S3 replicates the log bucket to the replica region",
                        AssumeRolePolicyDocument=service_trust("s3.amazonaws.com"), Condition=condition)
    policy = managed_policy(f"{logical_id}Policy", "S3 replication of the log bucket", [
        statement("ReadReplicationConfiguration", ["s3:GetReplicationConfiguration", "s3:ListBucket"], source_arn),
        statement("ReadSourceVersions", ["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl",
                                         "s3:GetObjectVersionTagging"], Join("", [source_arn, "/*"])),
        statement("WriteReplicas", ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                  Join("", [replica_bucket_arn, "/*"])),
        statement("DecryptSourceObjects", ["kms:Decrypt"], source_key_arn, condition=Condition(
            StringLike("kms:ViaService", Sub("s3.${AWS::Region}.amazonaws.com")))),
        _encrypt_replicas(replica_key_arn, replica_region, replica_key_aliases),
    ], roles=[Ref(role)], condition=condition)
    return [role, policy]


def _encrypt_replicas(replica_key_arn, replica_region, aliases: Sequence[str]):
    via_s3 = StringLike("kms:ViaService", Sub("s3.${Region}.amazonaws.com", Region=replica_region))
    if not aliases:
        return statement("EncryptReplicas", ["kms:Encrypt", "kms:Decrypt"], replica_key_arn,
                         condition=Condition(via_s3))
    keys = Sub("arn:${AWS::Partition}:kms:${Region}:${AWS::AccountId}:key/*", Region=replica_region)
    return statement("EncryptReplicas", ["kms:Encrypt", "kms:Decrypt"], keys, condition=Condition(
        [via_s3, ForAnyValueStringEquals("kms:ResourceAliases", list(aliases))]))


def kms_replication(role: cfn_iam.Role, replica_bucket_arn, replica_key_arn) -> s3.ReplicationConfiguration:
    """Replicate every new object version, SSE-KMS ones included, re-encrypted with ``replica_key_arn``.

    SSE-KMS objects replicate only with ``SourceSelectionCriteria.SseKmsEncryptedObjects`` enabled and a
    ``ReplicaKmsKeyID`` in the destination's region (S3 User Guide, replication-config-for-kms-objects).
    Delete markers are not replicated (a V2 rule with a ``Filter`` needs ``DeleteMarkerReplication``;
    *AWS::S3::Bucket ReplicationRule*, AWS CloudFormation User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-replicationrule.html),
    and S3 never replicates the deletion of a version, so deleting evidence in the source leaves the replica."""
    return s3.ReplicationConfiguration(Role=GetAtt(role, "Arn"), Rules=[s3.ReplicationConfigurationRules(
        Id="EvidenceToReplicaRegion", Priority=1, Status="Enabled", Filter=s3.ReplicationRuleFilter(Prefix=""),
        DeleteMarkerReplication=s3.DeleteMarkerReplication(Status="Disabled"),
        SourceSelectionCriteria=s3.SourceSelectionCriteria(
            SseKmsEncryptedObjects=s3.SseKmsEncryptedObjects(Status="Enabled")),
        Destination=s3.ReplicationConfigurationRulesDestination(
            Bucket=replica_bucket_arn,
            EncryptionConfiguration=s3.EncryptionConfiguration(ReplicaKmsKeyID=replica_key_arn)))])
