"""The AWS Organization as hipaa-catalog sees it: the accounts of the settings' targets, read from the hub.

``target_accounts`` walks each target (an OU, or the root for the whole organisation) down its child OUs
with ListOrganizationalUnitsForParent and ListAccountsForParent (AWS Organizations API Reference): the
accounts StackSets and Service Catalog shares reach, since both act "on accounts within these OUs and their
child OUs" (DeploymentTargets, AWS CloudFormation API Reference).  The management account is left out:
"CloudFormation doesn't deploy stack instances to the organization management account, even if the
organization management account is in your organization or in an OU in your organization" (same page).
Only reads; the cost grows with the number of OUs and accounts, which is why publish never calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.aws import api as aws
from generator.errors import AwsCallError, ConfigError
from generator.settings import OrganizationSettings


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    status: str           # Account.Status (ACTIVE | SUSPENDED | PENDING_CLOSURE)
    parent: str           # the OU (or root) it is directly in
    target: str           # the settings' target (OU or root) it is under
    environment: str


@dataclass(frozen=True)
class Organization:
    id: str
    management_account: str


def describe(org_client) -> Organization:
    """The organisation of the caller; a caller outside any organisation is told what to do."""
    try:
        o = aws.call(org_client, "DescribeOrganization", "the organisation")["Organization"]
    except AwsCallError as exc:
        if exc.code == "AWSOrganizationsNotInUseException":
            raise ConfigError("this account is not in an AWS Organization, but the settings have an [organization]",
                              hint="run with the management account's (or a delegated administrator's) credentials, "
                                   "or remove [organization] from the catalog settings") from exc
        raise
    return Organization(o["Id"], o.get("MasterAccountId", ""))


def target_accounts(org_client, settings: OrganizationSettings, management_account: str) -> list[Account]:
    """Every account under the targets (each once, in the order met), without the management account."""
    found: dict[str, Account] = {}
    for target in settings.target_ids:
        for a in accounts_under(org_client, target, management_account, settings.environment_of(target)):
            found.setdefault(a.id, a)
    return list(found.values())


def accounts_under(org_client, node: str, management_account: str, environment: str = "") -> list[Account]:
    """Every account in the root or OU ``node`` and the OUs below it, without the management account."""
    found: dict[str, Account] = {}
    stack = [node]
    while stack:
        parent = stack.pop(0)
        where = f"organisation node {parent}"
        for a in aws.pages(org_client, "ListAccountsForParent", "Accounts", where, ParentId=parent):
            if a["Id"] != management_account and a["Id"] not in found:
                found[a["Id"]] = Account(a["Id"], a.get("Name", ""), a.get("Status", ""), parent, node, environment)
        stack += [ou["Id"] for ou in aws.pages(org_client, "ListOrganizationalUnitsForParent",
                                                 "OrganizationalUnits", where, ParentId=parent)]
    return list(found.values())
