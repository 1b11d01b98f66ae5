"""Catalog constants and small helpers the products and the publisher share."""

from __future__ import annotations

# The object tag the launch role's template read is conditioned on (s3:ExistingObjectTag): Service Catalog's
# copies of the templates carry it (*AWS Service Catalog Launch Constraints*); the publisher tags every
# template it uploads with it too, as the getting-started guide does.
PROVISIONING_TAG_KEY = "servicecatalog:provisioning"
PROVISIONING_TAG_VALUE = "true"

# Resource Metadata key of the project's own annotations (HIPAA rule waivers; generator.compliance.hipaa).
METADATA_KEY = "hipaa-catalog"

# cfn-guard's suppression, as the AWS Guard Rules Registry's rules read it: a rule skips a resource whose
# Metadata.guard.SuppressedRules lists the rule's name.  cfn-guard has no reason field, so the reason of each
# suppressed rule sits beside it in the project's key, Metadata.hipaa-catalog.guard-suppressions, a list of
# {rule, reason} (rule E9003; generator.compliance.guard).
GUARD_KEY = "guard"
GUARD_RULES_KEY = "SuppressedRules"
GUARD_REASONS_KEY = "guard-suppressions"
# The Guard HIPAA rule asking every bucket to replicate (cross-region replication of the audit evidence).
GUARD_REPLICATION_RULE = "S3_BUCKET_REPLICATION_ENABLED"


def template_bucket_prefix(catalog: str) -> str:
    """Template buckets are named ``<prefix>-<account>-<region>`` so the launch role can be scoped to them."""
    return f"{catalog}-templates"


def _metadata(resource) -> dict:
    meta = resource.resource.get("Metadata")
    if meta is None:
        meta = resource.Metadata = {}
    return meta


def waived(resource, *waivers: tuple[str, str]):
    """``resource`` with HIPAA rule waivers in its Metadata: ``(rule id, reason)`` pairs."""
    _metadata(resource).setdefault(METADATA_KEY, {})["waivers"] = [
        {"rule": rule, "reason": why} for rule, why in waivers]
    return resource


def guard_suppressed(resource, *suppressions: tuple[str, str]):
    """``resource`` with AWS Guard Rules Registry rules suppressed in its Metadata, each with its reason:
    ``(rule name, reason)`` pairs, e.g. ``("S3_BUCKET_LOGGING_ENABLED", "this is the access-log bucket")``;
    added to the suppressions already there (a block's and a product's)."""
    meta = _metadata(resource)
    meta.setdefault(GUARD_KEY, {}).setdefault(GUARD_RULES_KEY, []).extend(rule for rule, _ in suppressions)
    meta.setdefault(METADATA_KEY, {}).setdefault(GUARD_REASONS_KEY, []).extend(
        {"rule": rule, "reason": why} for rule, why in suppressions)
    return resource


def checkov_skipped(resource, *skips: tuple[str, str]):
    """``resource`` with checkov checks skipped in its Metadata: ``(check id, reason)`` pairs."""
    _metadata(resource)["checkov"] = {"skip": [{"id": check, "comment": why} for check, why in skips]}
    return resource


def not_replicated(resource, reason: str):
    """``resource``, a bucket deliberately not replicated to another region, with the reason: a suppression
    of the Guard HIPAA rule that asks every bucket to replicate (``S3_BUCKET_REPLICATION_ENABLED``)."""
    return guard_suppressed(resource, (GUARD_REPLICATION_RULE, reason))


def retained(resource):
    """Keep ``resource`` when the stack is deleted or the resource replaced (logs, keys, backups outlive it)."""
    resource.DeletionPolicy = "Retain"
    resource.UpdateReplacePolicy = "Retain"
    return resource


# The web server's parameters and outputs the developer commands act on (generator/aws/site.py): the
# repository checked before a launch, the revision `release` sets, the AMI setting version `launch` pins,
# and the deletion protection `terminate` (and an update leaving PROD) turns off first.
ENVIRONMENT_PARAMETER = "Environment"
REPOSITORY_PARAMETER = "CodeCommitRepo"
REVISION_PARAMETER = "Revision"
AMI_VERSION_PARAMETER = "AmiVersion"
DELETION_PROTECTION_PARAMETER = "DeletionProtection"
REPOSITORY_OUTPUT = "SiteRepository"
REVISION_OUTPUT = "SiteRevision"
DELETION_PROTECTION_OUTPUT = "LoadBalancerDeletionProtection"
