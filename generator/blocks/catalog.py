"""Catalog constants and small helpers the products and the publisher share."""

from __future__ import annotations

# The object tag the launch role's template read is conditioned on (s3:ExistingObjectTag); the publisher
# tags every template it uploads with it.
PROVISIONING_TAG_KEY = "servicecatalog:provisioning"
PROVISIONING_TAG_VALUE = "true"

# Resource Metadata key of the project's own annotations (HIPAA rule waivers; generator.compliance.hipaa).
METADATA_KEY = "hipaa-catalog"
# Under METADATA_KEY: why a bucket is deliberately not replicated (read by reviewers and Guard suppressions).
NOT_REPLICATED = "not-replicated"


def template_bucket_prefix(catalog: str) -> str:
    """Template buckets are named ``<prefix>-<account>-<region>`` so the launch role can be scoped to them."""
    return f"{catalog}-templates"


def waived(resource, *waivers: tuple[str, str]):
    """``resource`` with HIPAA rule waivers in its Metadata: ``(rule id, reason)`` pairs."""
    meta = getattr(resource, "Metadata", None) or {}
    meta.setdefault(METADATA_KEY, {})["waivers"] = [{"rule": rule, "reason": why} for rule, why in waivers]
    resource.Metadata = meta
    return resource


def not_replicated(resource, reason: str):
    """``resource`` (a bucket) with the reason it is not replicated to another region in its Metadata."""
    meta = getattr(resource, "Metadata", None) or {}
    meta.setdefault(METADATA_KEY, {})[NOT_REPLICATED] = reason
    resource.Metadata = meta
    return resource


def retained(resource):
    """Keep ``resource`` when the stack is deleted or the resource replaced (logs, keys, backups outlive it)."""
    resource.DeletionPolicy = "Retain"
    resource.UpdateReplacePolicy = "Retain"
    return resource
