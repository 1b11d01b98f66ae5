"""An AWS Organization on the local endpoint for tests: OUs, member accounts, sessions acting in them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import boto3
from botocore.config import Config

from generator.aws.api import boto3_session

ACCESS_ROLE = "OrganizationAccountAccessRole"


@dataclass
class Organization:
    url: str
    id: str
    root: str
    management: str
    ous: dict[str, str] = field(default_factory=dict)        # name -> ou id
    accounts: dict[str, str] = field(default_factory=dict)   # name -> account id
    # made once each: a boto3 session or client costs tens of milliseconds, and the tests ask for many
    _sessions: dict[tuple[str, str], boto3.Session] = field(default_factory=dict, repr=False)
    _clients: dict[tuple[str, int], tuple[boto3.Session | None, object]] = field(default_factory=dict, repr=False)

    def copy(self) -> Organization:
        """The organisation as it is now, with the sessions and clients made so far; what the copy adds or
        changes is its own."""
        return replace(self, ous=dict(self.ous), accounts=dict(self.accounts), _sessions=dict(self._sessions),
                       _clients=dict(self._clients))

    def session(self, account_id: str, role: str = ACCESS_ROLE) -> boto3.Session:
        """Credentials of ``sts:AssumeRole`` into ``role`` of ``account_id`` (acting in that account)."""
        if (account_id, role) not in self._sessions:
            creds = self.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{role}",
                                                   RoleSessionName="tests")["Credentials"]
            self._sessions[account_id, role] = boto3_session(
                aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"], region_name="us-east-1")
        return self._sessions[account_id, role]

    def client(self, service: str, session: boto3.Session | None = None):
        """A client of ``service`` in us-east-1 for ``session`` (default: the management account's credentials)."""
        key = (service, id(session))
        if key not in self._clients:   # the session is kept with its client, so its id is not reused
            made = (session or boto3_session(region_name="us-east-1")).client(
                service, endpoint_url=self.url, config=Config(retries={"total_max_attempts": 1}))
            self._clients[key] = (session, made)
        return self._clients[key][1]

    def member(self, account_id: str, service: str):
        """A client acting in member ``account_id`` as its OrganizationAccountAccessRole."""
        return self.client(service, self.session(account_id))

    def user_session(self, account_id: str, user: str, group: str) -> boto3.Session:
        """An IAM user of ``account_id`` in ``group`` (both created), with an access key of its own."""
        iam = self.member(account_id, "iam")
        iam.create_group(GroupName=group)
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName=group, UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return boto3_session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                             region_name="us-east-1")


def create_organization(url: str, ous: dict[str, int]) -> Organization:
    """An organisation whose root holds one OU per name with that many new accounts (``{"Prod": 2}``);
    accounts are named ``<ou>-<n>``."""
    org = boto3.client("organizations", endpoint_url=url, region_name="us-east-1")
    created = org.create_organization(FeatureSet="ALL")["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]
    result = Organization(url, created["Id"], root, created["MasterAccountId"])
    for name, count in ous.items():
        ou = org.create_organizational_unit(ParentId=root, Name=name)["OrganizationalUnit"]["Id"]
        result.ous[name] = ou
        for n in range(count):
            status = org.create_account(AccountName=f"{name}-{n}", Email=f"{name.lower()}-{n}@example.org")
            account = status["CreateAccountStatus"]["AccountId"]
            org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ou)
            result.accounts[f"{name}-{n}"] = account
    return result
