"""AWS Organizations on the local endpoint, over HTTP: the organisation, who may call what, member accounts
acting through sts:AssumeRole."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .organization import create_organization
from .test_sc_admin import error_code

pytestmark = pytest.mark.aws


@pytest.fixture
def org(aws_env):
    return create_organization(aws_env.url, {"Prod": 2, "Test": 1})


def test_organisation_ous_accounts_and_moves(org, client):
    organizations = client("organizations")
    prod = organizations.list_accounts_for_parent(ParentId=org.ous["Prod"])["Accounts"]
    assert sorted(a["Id"] for a in prod) == sorted([org.accounts["Prod-0"], org.accounts["Prod-1"]])
    assert len(organizations.list_accounts()["Accounts"]) == 4  # the management account too
    account = org.accounts["Test-0"]
    organizations.move_account(AccountId=account, SourceParentId=org.ous["Test"], DestinationParentId=org.ous["Prod"])
    assert organizations.list_parents(ChildId=account)["Parents"] == [{"Id": org.ous["Prod"], "Type": "ORGANIZATIONAL_UNIT"}]
    # MoveAccount's errors (https://docs.aws.amazon.com/organizations/latest/APIReference/API_MoveAccount.html)
    for source, destination, code in ((org.ous["Test"], org.root, "AccountNotFoundException"),
                                      (org.ous["Prod"], org.ous["Prod"], "DuplicateAccountException"),
                                      ("ou-none-00000000", org.root, "SourceParentNotFoundException"),
                                      (org.ous["Prod"], "ou-none-00000000", "DestinationParentNotFoundException")):
        with pytest.raises(ClientError) as exc:
            organizations.move_account(AccountId=account, SourceParentId=source, DestinationParentId=destination)
        assert error_code(exc) == code, (source, destination)


def test_member_accounts_act_in_their_own_account_and_call_what_aws_lets_them(org, aws_env):
    member = org.accounts["Prod-0"]
    session = org.session(member)
    aws_env.reset_calls()
    assert org.client("sts", session).get_caller_identity()["Account"] == member
    assert aws_env.calls() == [{"service": "sts", "operation": "GetCallerIdentity", "account": member}]
    member_org = org.client("organizations", session)
    # DescribeOrganization: "You can call this operation from any account in a organization."
    assert member_org.describe_organization()["Organization"]["MasterAccountId"] == org.management
    # ListAccounts: "only ... from the management account or a member account that is a delegated administrator"
    with pytest.raises(ClientError) as exc:
        member_org.list_accounts()
    assert error_code(exc) == "AccessDeniedException"
    management = org.client("organizations")
    management.register_delegated_administrator(AccountId=member, ServicePrincipal="servicecatalog.amazonaws.com")
    assert len(member_org.list_accounts()["Accounts"]) == 4
    # a delegated administrator has read-only access (RegisterDelegatedAdministrator)
    with pytest.raises(ClientError) as exc:
        member_org.move_account(AccountId=member, SourceParentId=org.ous["Prod"], DestinationParentId=org.root)
    assert error_code(exc) == "AccessDeniedException"
    # each account has its own resources
    org.client("s3", session).create_bucket(Bucket="member-only")
    assert [b["Name"] for b in org.client("s3").list_buckets()["Buckets"]] == []


def test_service_access_and_delegated_administrators(org):
    management = org.client("organizations")
    management.enable_aws_service_access(ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    enabled = management.list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in enabled] == ["member.org.stacksets.cloudformation.amazonaws.com"]
    admin = org.accounts["Test-0"]
    management.register_delegated_administrator(
        AccountId=admin, ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    listed = management.list_delegated_administrators(
        ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")["DelegatedAdministrators"]
    assert [a["Id"] for a in listed] == [admin]
    with pytest.raises(ClientError) as exc:
        org.member(admin, "organizations").enable_aws_service_access(ServicePrincipal="servicecatalog.amazonaws.com")
    assert error_code(exc) == "AccessDeniedException"


def test_an_account_outside_every_organisation_is_told_so(aws_env, client):
    with pytest.raises(ClientError) as exc:
        client("organizations").list_accounts()
    assert error_code(exc) == "AWSOrganizationsNotInUseException"
