"""The buckets around the audit evidence: access-log buckets and the replicas of a log bucket.

Shared by the account baseline (its access-log bucket and, in one account, the replica bucket of the previous
region) and the organisation's log replicas (products/log_replica.py).
"""

from __future__ import annotations

from awacs.aws import Condition, Principal, StringEquals
from troposphere import GetAtt, Join, Ref

from generator.blocks.catalog import checkov_skipped, guard_suppressed, not_replicated, waived
from generator.blocks.iam import statement
from generator.blocks.s3 import encrypted_bucket

MIN_LOG_DAYS = 2190  # six years (HIPAA 164.316(b)(2)(i) documentation retention)
REPLICA_NOT_REPLICATED = "not replicated: this is the replica of another region's log bucket"


def access_log_bucket(logical_id: str, days: int, not_replicated_because: str):
    """A bucket receiving S3 server access logs (and ALB logs): SSE-S3, since neither can be delivered to an
    SSE-KMS bucket, and not logging its own access (it would log into itself)."""
    no_self_logging = "this is the access-log bucket; logging it into itself would loop"
    access = encrypted_bucket(logical_id, expire_after_days=days, noncurrent_expire_days=days)
    waived(access, ("E9106", "S3 server access logging and ALB access logs cannot be delivered to an SSE-KMS bucket; "
                             "this bucket uses SSE-S3 (AES256)"),
           ("E9502", no_self_logging))
    checkov_skipped(access, ("CKV_AWS_18", f"{no_self_logging} (HIPAA waiver E9502)"))
    guard_suppressed(access, ("S3_BUCKET_LOGGING_ENABLED", f"{no_self_logging} (HIPAA waiver E9502)"))
    return not_replicated(access, not_replicated_because)


def server_access_logs_statement(access):
    """S3 server access logging of this account's buckets may write into ``access``."""
    return statement("S3ServerAccessLogs", ["s3:PutObject"], Join("", [GetAtt(access, "Arn"), "/*"]),
                     principal=Principal("Service", "logging.s3.amazonaws.com"),
                     condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))


def replica_bucket(logical_id: str, key_arn, access, days: int, name=None):
    """The bucket holding the replica of another region's log bucket: SSE-KMS with ``key_arn``, logging its
    access into ``access``, objects and old versions kept ``days``."""
    return not_replicated(encrypted_bucket(
        logical_id, kms_key_arn=key_arn, access_log_bucket=Ref(access), log_prefix="log-replica-bucket/",
        expire_after_days=days, noncurrent_expire_days=days, name=name), REPLICA_NOT_REPLICATED)
