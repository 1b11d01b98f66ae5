"""The catalog across an AWS Organization, end to end on the local endpoint over HTTP.

An organisation of 3 OUs and 20 member accounts (Prod 3, Test 3: the targets; Sandbox 14: outside them).  The
hub (the management account) has its own baseline and launch role, publishes once (the portfolio shared with
the two OUs) and deploys the baseline and the launch role once as StackSets.  Then developers of two member
accounts launch the web server with their own credentials; an account moved into a target OU gets the
stacks and the products without any command of the publisher; an account outside the targets sees nothing;
re-running publish and the organisation deploy makes no write.

Each target account is vended as its owner would: its network, certificate and hosted zone, and the
baseline's account inputs in SSM (``<ssm_prefix>/account-inputs/<Name>``, generator/aws/stacksets.py).
"""

from __future__ import annotations

import base64
from contextlib import contextmanager

import pytest

from generator import settings as catalog_settings
from generator.aws import api as aws, stacksets
from generator.blocks import admin_settings as admin
from generator.devtools import local_account
from tests.conftest import administer
from tests.local_aws.organization import create_organization
from tests.test_cli_json import check

pytestmark = pytest.mark.aws

REGION = "us-east-1"
OUS = {"Prod": 3, "Test": 3, "Sandbox": 14}
PRODUCT = "healthcare-web-server"
EMAIL = "dev@example.org"


def organization_toml(org) -> str:
    return (f'\n[organization]\nregions = ["{REGION}"]\nmax_concurrent_accounts = 10\n'
            f'[organization.targets]\nprod = ["{org.ous["Prod"]}"]\ntest = ["{org.ous["Test"]}"]\n')


@contextmanager
def acting_as(monkeypatch, sess):
    """The hipaa-catalog commands and boto3 use ``sess``'s credentials inside the block."""
    creds = sess.get_credentials().get_frozen_credentials()
    with monkeypatch.context() as m:
        m.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
        m.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
        if creds.token:
            m.setenv("AWS_SESSION_TOKEN", creds.token)
        else:
            m.delenv("AWS_SESSION_TOKEN", raising=False)
        yield


def vend(monkeypatch, org, account: str) -> None:
    """What the account's owner provides before it joins a target OU: network, zone, certificate, and the
    baseline's account inputs in SSM."""
    with acting_as(monkeypatch, org.session(account)):
        net = local_account.network(REGION, egress="").baseline_parameters()
        sess = aws.session(REGION)
        ec2, ssm = aws.client(sess, "ec2", REGION), aws.client(sess, "ssm", REGION)
        private = net["PrivateSubnetIds"].split(",")
        zone = ec2.describe_subnets(SubnetIds=[private[0]])["Subnets"][0]["AvailabilityZone"]
        ami = ssm.get_parameter(Name=admin.PUBLIC_AL2023_AMI)["Parameter"]["Value"]
        inputs = {**{k: net[k] for k in stacksets.ACCOUNT_INPUTS if k in net}, "InstanceSubnetId": private[0],
                  "InstanceAvailabilityZone": zone, "WebServerImageId": ami}
        for name, value in inputs.items():
            ssm.put_parameter(Name=stacksets.account_input_name("/hipaa-catalog", name), Value=value,
                              Type="StringList" if name.endswith("SubnetIds") else "String")


@pytest.fixture
def organisation(aws_env, built, hc, tmp_path, monkeypatch):
    org = create_organization(aws_env.url, OUS)
    org.client("servicecatalog").enable_aws_organizations_access()
    org.client("cloudformation").activate_organizations_access()
    targets = [a for n, a in org.accounts.items() if not n.startswith("Sandbox")]
    for account in targets:
        vend(monkeypatch, org, account)
    # the hub's own baseline and launch role (its template bucket, group and the LocalRoleName's role)
    administer(built, hc, REGION)
    path = tmp_path / "catalog.toml"
    path.write_text(catalog_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8") + organization_toml(org),
                    encoding="utf-8")
    return {"org": org, "settings": str(path), "built": str(built), "targets": targets, "endpoint": aws_env}


def publish(o, hc):
    return hc("--settings", o["settings"], "publish", "--out", o["built"], "--region", REGION)


def deploy(o, hc, what: str):
    extra = ["-p", f"AdministratorEmail={local_account.ADMIN_EMAIL}", "-p", f"AdminCidr={local_account.ADMIN_CIDR}"] \
        if what == "deploy-baseline" else []
    return hc("--settings", o["settings"], what, "--organization", "--yes", "--out", o["built"], *extra)


def developer(org, account: str):
    """An IAM user of ``account`` in its HealthcareDeveloper group (the baseline's), with an access key."""
    iam = org.member(account, "iam")
    user = f"dev-{account}"
    iam.create_user(UserName=user)
    iam.add_user_to_group(GroupName=admin.DEVELOPER_GROUP, UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    import boto3
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=REGION)


def launch_web_server(monkeypatch, hc, sess, name: str) -> dict:
    with acting_as(monkeypatch, sess):
        cc = aws.client(aws.session(REGION), "codecommit", REGION)
        url = cc.create_repository(repositoryName=f"{name}-site")["repositoryMetadata"]["cloneUrlHttp"]
        cc.put_file(repositoryName=f"{name}-site", branchName="main", filePath="index.html",
                    fileContent=base64.b64encode(b"hello"), commitMessage="first")
        code, out, err = hc("launch", PRODUCT, "--name", name, "--region", REGION, "-p", f"FriendlyName={name}",
                            "-p", "Environment=TEST", "-p", "PHI=NO", "-p", f"CodeCommitRepo={url}",
                            "-p", f"InstanceOwnerEmail={EMAIL}", "-p", "WebDirectory=clinic")
    assert code == 0, err
    return out


def writes(endpoint) -> list[str]:
    return [f"{c['service']}:{c['operation']}" for c in endpoint.calls() if aws.is_write(c["operation"])]


def test_publish_and_deploy_once_serve_every_account_and_joiners(organisation, hc, monkeypatch):
    o, org = organisation, organisation["org"]
    code, report, err = publish(o, hc)
    assert code == 0, err
    shares = [a for a in report["actions"] if a["action"] == "share portfolio"]
    assert sorted(a["node"] for a in shares) == sorted([org.ous["Prod"], org.ous["Test"]])
    assert all(a["status"] == "done" and a["message"] == "COMPLETED: 3 account(s)" for a in shares), shares
    principals = {a["principal"] for a in report["actions"] if a["action"] == "associate principal"}
    assert f"arn:aws:iam:::group/{admin.DEVELOPER_GROUP}" in principals

    code, _out, err = deploy(o, hc, "deploy-launch-role")
    assert code != 0 and "needs stack set hipaa-catalog-account-baseline first" in err, err
    code, base, err = deploy(o, hc, "deploy-baseline")
    assert code == 0, err
    code, role, err = deploy(o, hc, "deploy-launch-role")
    assert code == 0, err
    check("deploy-baseline --organization", base)
    check("deploy-launch-role --organization", role)
    previewed = {(i["account"], i["action"]) for s in base["stack_sets"] for i in s["instances"]}
    assert previewed == {(a, "create") for a in o["targets"]}
    assert all(r["status"] == "SUCCEEDED" for op in base["operations"] for r in op["results"])

    code, listing, err = hc("--settings", o["settings"], "accounts")
    assert code == 0, err
    rows = {a["account_id"]: check("accounts", listing) and a for a in listing["accounts"]}
    assert set(rows) == set(o["targets"])
    for row in rows.values():
        assert row["baseline"][REGION]["status"] == "CURRENT", row
        assert row["launch_role"][REGION]["status"] == "CURRENT", row
        assert row["portfolio_visible"] == {REGION: True}
        assert row["provisioned_products"] == []

    # developers of two member accounts launch the web server with their own credentials
    prod, test = org.accounts["Prod-0"], org.accounts["Test-1"]
    for account in (prod, test):
        out = launch_web_server(monkeypatch, hc, developer(org, account), f"web-{account[-4:]}")
        assert out["status"] == "SUCCEEDED"
    code, listing, err = hc("--settings", o["settings"], "accounts")
    runs = {a["account_id"]: [(p["product"], p["version"]) for p in a["provisioned_products"]]
            for a in listing["accounts"]}
    version = catalog_settings.load().products[PRODUCT].version
    assert runs[prod] == runs[test] == [(PRODUCT, version)]

    # re-running publish and the organisation deploy writes nothing, and reads from the hub only
    o["endpoint"].reset_calls()
    for step in (lambda: publish(o, hc), lambda: deploy(o, hc, "deploy-baseline"),
                 lambda: deploy(o, hc, "deploy-launch-role")):
        code, out, err = step()
        assert code == 0, err
        assert all(p["action"] == "none" for p in out.get("stack_sets", [])), out
    assert writes(o["endpoint"]) == []
    assert {c["account"] for c in o["endpoint"].calls()} == {org.management}

    # an account moved into a target OU is served with no command of the publisher
    sandbox = org.accounts["Sandbox-0"]
    vend(monkeypatch, org, sandbox)
    o["endpoint"].reset_calls()
    org.client("organizations").move_account(AccountId=sandbox, SourceParentId=org.ous["Sandbox"],
                                             DestinationParentId=org.ous["Prod"])
    cf = org.client("cloudformation")
    names = ["hipaa-catalog-account-baseline", "hipaa-catalog-launch-role"]   # one organisation region: no regional one
    instances = {n: cf.list_stack_instances(StackSetName=n, StackInstanceAccount=sandbox)["Summaries"] for n in names}
    assert all(instances[n] and instances[n][0]["Status"] == "CURRENT" for n in names), instances
    out = launch_web_server(monkeypatch, hc, developer(org, sandbox), "web-joiner")
    assert out["status"] == "SUCCEEDED"

    # an account outside every target sees nothing
    outside = org.accounts["Sandbox-1"]
    assert org.member(outside, "servicecatalog").list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] == []
    assert all(cf.list_stack_instances(StackSetName=n, StackInstanceAccount=outside)["Summaries"] == [] for n in names)
