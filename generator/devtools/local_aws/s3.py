"""S3 for the local endpoint: moto's, refusing replication into a bucket that does not exist.

AWS: "Amazon S3 can store replicated objects in a single destination bucket or multiple destination buckets.
The destination bucket or buckets must already exist." (*AWS::S3::Bucket*, ReplicationConfiguration, AWS
CloudFormation User Guide, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html).
moto accepts a replication configuration naming any bucket, through the API (PutBucketReplication) and in a
template (its ``AWS::S3::Bucket`` ignores ``ReplicationConfiguration``).  Here both refuse a rule whose
destination bucket exists in no account: PutBucketReplication with an ``InvalidRequest`` error, and a
template's bucket fails to create or update, so the stack rolls back.  AWS documents the requirement, not
the error it answers with; the code and message are the endpoint's own.

Everything else (buckets, versioning, the replication configuration moto keeps for GetBucketReplication) is
moto's own; moto does not replicate objects.
"""

from __future__ import annotations

from typing import Any, Iterable


def _bucket_name(destination: str) -> str:
    """A destination as given (``arn:aws:s3:::NAME``, ``arn:aws:s3:::NAME/...`` never occurs) -> NAME."""
    return destination.split(":::", 1)[-1]


def missing_destinations(destinations: Iterable[str]) -> list[str]:
    """The destination buckets (ARNs) of ``destinations`` that no account of the endpoint has."""
    from moto.s3.models import s3_backends

    return [d for d in destinations if _bucket_name(d) not in s3_backends.bucket_accounts]


def check_destinations(bucket: str, destinations: Iterable[str]) -> None:
    from moto.s3.exceptions import S3ClientError

    missing = missing_destinations(destinations)
    if missing:
        raise S3ClientError("InvalidRequest", f"Destination bucket must exist: {', '.join(missing)} (replication "
                                              f"configuration of bucket {bucket})")


def _api_destinations(replication: dict[str, Any]) -> list[str]:
    rules = replication.get("Rule") or []
    rules = [rules] if isinstance(rules, dict) else rules
    return [str((r.get("Destination") or {}).get("Bucket", "")) for r in rules]


def _template_destinations(properties: dict[str, Any]) -> list[str]:
    config = properties.get("ReplicationConfiguration") or {}
    return [str((r.get("Destination") or {}).get("Bucket", "")) for r in config.get("Rules") or []]


def register() -> None:
    from moto.s3.models import FakeBucket, S3Backend

    put_replication = S3Backend.put_bucket_replication

    def put_bucket_replication(self: Any, bucket_name: str, replication: dict[str, Any]) -> None:
        check_destinations(bucket_name, _api_destinations(replication))
        put_replication(self, bucket_name, replication)

    create = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        check_destinations(resource_name, _template_destinations(cloudformation_json.get("Properties") or {}))
        return create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                        cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        check_destinations(original_resource.name, _template_destinations(cloudformation_json.get("Properties") or {}))
        return update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)

    S3Backend.put_bucket_replication = put_bucket_replication  # type: ignore[method-assign]
    FakeBucket.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore
    FakeBucket.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)  # type: ignore
