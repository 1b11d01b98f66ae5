"""AWS Organizations on the local endpoint, over HTTP: the organisation, who may call what, member accounts
acting through sts:AssumeRole."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from .organization import ACCESS_ROLE, create_organization
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


def _denied(account_arn: str, role_arn: str, why: str = "because no resource-based policy allows the "
            "sts:AssumeRole action") -> str:
    # *Troubleshoot access denied error messages* (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)
    return f"User: {account_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn} {why}"


def test_accounts_created_by_organizations_trust_the_management_account_only(org):
    # *CreateAccount*, RoleName (https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html):
    # "an IAM role that Organizations automatically preconfigures in the new member account. This role trusts
    # the management account ... If you don't specify this parameter, the role name defaults to
    # OrganizationAccountAccessRole."
    member, other = org.accounts["Prod-0"], org.accounts["Prod-1"]
    role = org.member(member, "iam").get_role(RoleName=ACCESS_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{org.management}:root"}, "Action": "sts:AssumeRole"}]
    session = org.session(member)   # the management account may
    caller = org.client("sts", session).get_caller_identity()["Arn"]
    assert caller.startswith(f"arn:aws:sts::{member}:assumed-role/{ACCESS_ROLE}/")
    # a member account is not trusted by another member's role, nor (role chaining) by its own
    for target in (other, member):
        arn = f"arn:aws:iam::{target}:role/{ACCESS_ROLE}"
        with pytest.raises(ClientError) as exc:
            org.client("sts", session).assume_role(RoleArn=arn, RoleSessionName="again")
        assert exc.value.response["Error"] == {"Code": "AccessDenied", "Message": _denied(caller, arn), "Type": "Sender"}
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_assume_role_is_refused_unless_the_trust_policy_allows_the_caller(org):
    """*AssumeRole* (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): "You specify the
    trusted principal that is allowed to assume the role in the role trust policy"; *Troubleshooting IAM roles*
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html): "If your account number is not
    listed in the Principal element of the role's trust policy, then you cannot assume the role." """
    account = org.accounts["Test-0"]
    iam = org.member(account, "iam")
    alice = org.user_session(account, "alice", "Auditors")
    bob = org.user_session(account, "bob", "Others")
    sts = lambda who: org.client("sts", who)  # noqa: E731
    alice_arn, bob_arn = (sts(s).get_caller_identity()["Arn"] for s in (alice, bob))
    trusts = {"ForAlice": {"Effect": "Allow", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"},
              "ForEc2": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"},
              "WithExternalId": {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                 "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "x-42"}}}}
    arns = {name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [st]}))["Role"]["Arn"] for name, st in trusts.items()}
    assert sts(alice).assume_role(RoleArn=arns["ForAlice"], RoleSessionName="audit")["AssumedRoleUser"]["Arn"] == \
        f"arn:aws:sts::{account}:assumed-role/ForAlice/audit"
    assert sts(bob).assume_role(RoleArn=arns["WithExternalId"], RoleSessionName="bob", ExternalId="x-42")
    missing = f"arn:aws:iam::{account}:role/NoSuchRole"
    # a role that does not exist is refused like one that does not trust the caller: nothing allows it
    for who, who_arn, role, extra in ((bob, bob_arn, arns["ForAlice"], {}), (alice, alice_arn, arns["ForEc2"], {}),
                                      (bob, bob_arn, arns["WithExternalId"], {"ExternalId": "other"}),
                                      (bob, bob_arn, missing, {})):
        with pytest.raises(ClientError) as exc:
            sts(who).assume_role(RoleArn=role, RoleSessionName="s1", **extra)
        assert exc.value.response["Error"]["Message"] == _denied(who_arn, role), role
    # an explicit deny wins over the allow (*Policy evaluation logic*)
    iam.update_assume_role_policy(RoleName="ForAlice", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        trusts["ForAlice"], {"Effect": "Deny", "Principal": {"AWS": alice_arn}, "Action": "sts:AssumeRole"}]}))
    with pytest.raises(ClientError) as exc:
        sts(alice).assume_role(RoleArn=arns["ForAlice"], RoleSessionName="audit")
    assert exc.value.response["Error"]["Message"] == _denied(alice_arn, arns["ForAlice"],
                                                             "with an explicit deny in a resource-based policy")
