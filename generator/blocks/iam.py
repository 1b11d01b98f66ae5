"""IAM building blocks: policy documents always carry Version 2012-10-17; policies are managed, not inline."""

from __future__ import annotations

from typing import Iterable, Sequence

from awacs.aws import Action, Allow, Condition, Deny, PolicyDocument, Principal, Statement
from troposphere import AWSHelperFn, Sub, iam

VERSION = "2012-10-17"


def actions(names: Iterable[str]) -> list[Action]:
    """``["s3:GetObject", …]`` as awacs actions (kept in the given order, duplicates dropped)."""
    out, seen = [], set()
    for name in names:
        if name in seen:
            continue
        seen.add(name)
        prefix, _, action = name.partition(":")
        out.append(Action(prefix, action))
    return out


def statement(sid: str, action_names: Sequence[str], resources, *, effect=Allow, principal=None,
              condition: Condition | None = None) -> Statement:
    kwargs = {"Sid": sid, "Effect": effect, "Action": actions(action_names),
              "Resource": resources if isinstance(resources, list) else [resources]}
    if principal is not None:
        kwargs["Principal"] = principal
    if condition is not None:
        kwargs["Condition"] = condition
    return Statement(**kwargs)


def document(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version=VERSION, Statement=list(statements))


def service_trust(*services: str, condition: Condition | None = None) -> PolicyDocument:
    """Trust policy letting the given AWS services (e.g. ``ec2.amazonaws.com``) assume a role."""
    kwargs = {"Effect": Allow, "Action": [Action("sts", "AssumeRole")],
              "Principal": Principal("Service", list(services))}
    if condition is not None:
        kwargs["Condition"] = condition
    return document(Statement(**kwargs))


def managed_policy(logical_id: str, description: str, statements: Sequence[Statement], *, roles=None,
                   groups=None, path: str | None = None, condition: str | None = None) -> iam.ManagedPolicy:
    kwargs = {"Description": description, "PolicyDocument": document(*statements)}
    if roles:
        kwargs["Roles"] = list(roles)
    if groups:
        kwargs["Groups"] = list(groups)
    if path:
        kwargs["Path"] = path
    if condition:
        kwargs["Condition"] = condition
    return iam.ManagedPolicy(logical_id, **kwargs)


def aws_managed(name: str) -> AWSHelperFn:
    """ARN of an AWS managed policy in the current partition, e.g. ``AmazonSSMManagedInstanceCore``."""
    return Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")


__all__ = ["Allow", "Deny", "Condition", "Principal", "Statement", "actions", "statement", "document",
           "service_trust", "managed_policy", "aws_managed", "VERSION"]
