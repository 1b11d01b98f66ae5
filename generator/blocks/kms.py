"""KMS building blocks: customer-managed keys always rotate and never allow principal ``*``."""

from __future__ import annotations

from typing import Sequence

from awacs.aws import Allow, Principal
from troposphere import Sub, kms

from generator.blocks.iam import document, statement

USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")


def account_root_statement():
    """The standard statement that lets the account's IAM policies govern the key."""
    return statement("EnableAccountIamPolicies", ["kms:*"], "*",
                     principal=Principal("AWS", Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")))


def service_use_statement(sid: str, service: str, condition=None):
    """Let an AWS service principal (e.g. ``cloudtrail.amazonaws.com``) use the key, nothing broader."""
    return statement(sid, list(USE_ACTIONS), "*", principal=Principal("Service", service), condition=condition)


def customer_key(logical_id: str, description: str, *, statements: Sequence = (), condition: str | None = None,
                 tags=None) -> kms.Key:
    kwargs = {
        "Description": description,
        "EnableKeyRotation": True,
        "PendingWindowInDays": 30,
        "KeyPolicy": document(account_root_statement(), *statements),
    }
    if condition:
        kwargs["Condition"] = condition
    if tags is not None:
        kwargs["Tags"] = tags
    return kms.Key(logical_id, **kwargs)


def alias(logical_id: str, name, key: kms.Key, condition: str | None = None) -> kms.Alias:
    kwargs = {"AliasName": name, "TargetKeyId": key.ref()}
    if condition:
        kwargs["Condition"] = condition
    return kms.Alias(logical_id, **kwargs)


__all__ = ["customer_key", "alias", "service_use_statement", "account_root_statement", "USE_ACTIONS", "Allow"]
