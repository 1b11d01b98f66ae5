"""AWS Backup building blocks: a KMS-encrypted vault, a daily plan, and a selection of named resources.

The vault and its recovery points outlive the stack (``DeletionPolicy: Retain``): deleting a product must
not delete the backups of the data it held.  The backup role lives under the catalog's product IAM path
(the launch role may only pass roles under it) and carries AWS's managed backup/restore policies only.
"""

from __future__ import annotations

from typing import Sequence

from troposphere import GetAtt, Ref, Sub, Tags, backup, iam

from generator.blocks.iam import aws_managed, service_trust

BACKUP_POLICIES = ("service-role/AWSBackupServiceRolePolicyForBackup",
                   "service-role/AWSBackupServiceRolePolicyForRestores")


def tag_map(tags: Tags) -> dict:
    """AWS Backup takes tags as a map, not a list: ``Tags(...)`` -> ``{"Name": ..., ...}``."""
    return {t["Key"]: t["Value"] for t in tags.to_dict()}


def _conditional(kwargs: dict, condition: str | None) -> dict:
    if condition:
        kwargs["Condition"] = condition
    return kwargs


def vault(logical_id: str, *, name, kms_key_arn, tags: Tags | None = None,
          condition: str | None = None) -> backup.BackupVault:
    kwargs = {"BackupVaultName": name, "EncryptionKeyArn": kms_key_arn}
    if tags is not None:
        kwargs["BackupVaultTags"] = tag_map(tags)
    v = backup.BackupVault(logical_id, **_conditional(kwargs, condition))
    v.DeletionPolicy = "Retain"
    v.UpdateReplacePolicy = "Retain"
    return v


def daily_plan(logical_id: str, *, name, vault_: backup.BackupVault, schedule: str, retention_days: int,
               tags: Tags | None = None, condition: str | None = None) -> backup.BackupPlan:
    """One rule: back up on ``schedule`` (a cron expression, UTC) and keep each recovery point ``retention_days``."""
    rule = backup.BackupRuleResourceType(
        RuleName="Daily", TargetBackupVault=Ref(vault_), ScheduleExpression=schedule,
        StartWindowMinutes=60, CompletionWindowMinutes=720,
        Lifecycle=backup.LifecycleResourceType(DeleteAfterDays=retention_days))
    kwargs = {"BackupPlan": backup.BackupPlanResourceType(BackupPlanName=name, BackupPlanRule=[rule])}
    if tags is not None:
        kwargs["BackupPlanTags"] = tag_map(tags)
    return backup.BackupPlan(logical_id, **_conditional(kwargs, condition))


def backup_role(logical_id: str, *, path: str, tags: Tags | None = None, condition: str | None = None) -> iam.Role:
    kwargs = {"AssumeRolePolicyDocument": service_trust("backup.amazonaws.com"), "Path": path,
              "ManagedPolicyArns": [aws_managed(p) for p in BACKUP_POLICIES],
              "Description": "AWS Backup: back up and restore this product's data volume"}
    if tags is not None:
        kwargs["Tags"] = tags
    return iam.Role(logical_id, **_conditional(kwargs, condition))


def volume_arn(volume) -> Sub:
    return Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/${Volume}", Volume=Ref(volume))


def instance_arn(instance) -> Sub:
    """An instance's ARN: selecting it backs up every volume attached to it (root volume included)."""
    return Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/${Instance}",
               Instance=Ref(instance))


def selection(logical_id: str, *, plan: backup.BackupPlan, role: iam.Role, name, resource_arns: Sequence,
              condition: str | None = None) -> backup.BackupSelection:
    """Select exactly ``resource_arns`` (no tag-based selection that another stack's tags could join)."""
    spec = backup.BackupSelectionResourceType(SelectionName=name, IamRoleArn=GetAtt(role, "Arn"),
                                              Resources=list(resource_arns))
    return backup.BackupSelection(logical_id, **_conditional(
        {"BackupPlanId": Ref(plan), "BackupSelection": spec}, condition))
