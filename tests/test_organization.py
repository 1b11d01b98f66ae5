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
from tests.conftest import administer, restored
from tests.local_aws.organization import Organization, create_organization
from tests.test_cli_json import check

pytestmark = pytest.mark.aws
OWN_ENDPOINT = True   # its snapshot keeps the organisation (tests/conftest.py)

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
    def set_up() -> Organization:
        org = create_organization(aws_env.url, OUS)
        org.client("servicecatalog").enable_aws_organizations_access()
        org.client("cloudformation").activate_organizations_access()
        for account in targets_of(org):
            vend(monkeypatch, org, account)
        # the hub's own baseline and launch role (its template bucket, group and the LocalRoleName's role)
        administer(built, hc, REGION)
        return org

    # set up once and restored from the snapshot of this module's endpoint (tests/conftest.py): each test gets
    # the organisation as the set-up left it, with the sessions and clients made then (their credentials are
    # in the snapshot) and none a test made after it
    org = restored(aws_env, "organisation", set_up, copy_kept=Organization.copy)
    path = tmp_path / "catalog.toml"
    path.write_text(catalog_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8") + organization_toml(org),
                    encoding="utf-8")
    return {"org": org, "settings": str(path), "built": str(built), "targets": targets_of(org), "endpoint": aws_env}


def targets_of(org: Organization) -> list[str]:
    return [a for n, a in org.accounts.items() if not n.startswith("Sandbox")]


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
    return aws.boto3_session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
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


def assert_replicates(org, cf, account: str) -> None:
    """The account's baseline in REGION replicates its log bucket (LogReplicationRole exists, ReplicatesLogs)
    into ``<catalog>-replica-<account>-<replica region>``, a bucket of the account."""
    (instance,) = cf.list_stack_instances(StackSetName=stacksets.BASELINE_PRIMARY,
                                          StackInstanceAccount=account)["Summaries"]
    member_cf = org.member(account, "cloudformation")
    logical = {r["LogicalResourceId"] for r in member_cf.describe_stack_resources(
        StackName=instance["StackId"])["StackResources"]}
    assert {"LogBucket", "LogReplicationRole", "LogReplicationRolePolicy"} <= logical, sorted(logical)
    params = {p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"])
              for p in member_cf.describe_stacks(StackName=instance["StackId"])["Stacks"][0]["Parameters"]}
    replica_region = catalog_settings.load().regions[1]
    bucket = f"hipaa-catalog-replica-{account}-{replica_region}"
    assert params["LogReplicaBucketArn"] == f"arn:aws:s3:::{bucket}", params
    assert params["LogReplicaKeyArn"] == f"arn:aws:kms:{replica_region}:{account}:alias/hipaa-catalog/log-replica"
    org.member(account, "s3").head_bucket(Bucket=bucket)


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
        # the log replicas: the organisation region and the region its log bucket replicates to
        assert {r: i["status"] for r, i in row["log_replica"].items()} == {REGION: "CURRENT", "us-west-2": "CURRENT"}
        assert {i["stack_set"] for i in row["log_replica"].values()} == {stacksets.LOG_REPLICA_SET}
        assert row["launch_role"][REGION]["status"] == "CURRENT", row
        assert row["portfolio_visible"] == {REGION: True}
        assert row["provisioned_products"] == []

    # every account's log bucket replicates into its own log-replica bucket of the replica region, which the
    # log-replica stack set made first (the local S3 refuses replication into a bucket that does not exist)
    for account in o["targets"]:
        assert_replicates(org, org.client("cloudformation"), account)

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
    assert_replicates(org, cf, sandbox)
    out = launch_web_server(monkeypatch, hc, developer(org, sandbox), "web-joiner")
    assert out["status"] == "SUCCEEDED"

    # an account outside every target sees nothing
    outside = org.accounts["Sandbox-1"]
    assert org.member(outside, "servicecatalog").list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] == []
    assert all(cf.list_stack_instances(StackSetName=n, StackInstanceAccount=outside)["Summaries"] == [] for n in names)

    # drift: a stack deleted outside its stack set is found by `accounts --detect-drift`, which runs the
    # detection on every stack set, waits for it and then lists
    role_set = "hipaa-catalog-launch-role"
    (instance,) = cf.list_stack_instances(StackSetName=role_set, StackInstanceAccount=test)["Summaries"]
    org.member(test, "cloudformation").delete_stack(StackName=instance["StackId"])
    code, listing, err = hc("--settings", o["settings"], "accounts", "--no-products")
    assert code == 0, err
    assert {a["launch_role"][REGION]["drift_status"] for a in listing["accounts"]} == {"NOT_CHECKED"}
    assert listing["drift_detection"] == []
    code, listing, err = hc("--settings", o["settings"], "accounts", "--no-products", "--detect-drift")
    assert code == 0, err
    check("accounts", listing)
    detected = {d["stack_set"]: d for d in listing["drift_detection"]}
    assert set(detected) == {*names, stacksets.LOG_REPLICA_SET} and all(d["status"] == "SUCCEEDED" for d in detected.values())
    assert f"detecting drift of stack set {role_set}" in err and f"{role_set}: {test} {REGION}: SUCCEEDED" in err
    drift = {a["account_id"]: (a["baseline"][REGION]["drift_status"], a["launch_role"][REGION]["drift_status"])
             for a in listing["accounts"]}
    assert drift.pop(test) == ("IN_SYNC", "DRIFTED")
    assert set(drift.values()) == {("IN_SYNC", "IN_SYNC")}, drift


def test_an_ou_removed_from_the_targets_leaves_the_stack_sets_with_its_stacks_kept(organisation, hc):
    """DeleteStackInstances with RetainStacks (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackInstances.html):
    "Removes the stack instances from the specified StackSet, but doesn't delete the stacks"; generator/aws/stacksets.py
    RETAIN_STACKS says why they are kept (the baseline's evidence)."""
    o, org = organisation, organisation["org"]
    for what in ("deploy-baseline", "deploy-launch-role"):
        code, _out, err = deploy(o, hc, what)
        assert code == 0, err
    leaving = [org.accounts[f"Test-{n}"] for n in range(3)]
    path = o["settings"]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(f'test = ["{org.ous["Test"]}"]\n', ""))
    names = {"deploy-baseline": "hipaa-catalog-account-baseline", "deploy-launch-role": "hipaa-catalog-launch-role"}
    cf = org.client("cloudformation")
    for what, name in names.items():
        # the preview: a delete row per instance of the OU's accounts; without --yes nothing runs
        extra = ["-p", f"AdministratorEmail={local_account.ADMIN_EMAIL}", "-p", f"AdminCidr={local_account.ADMIN_CIDR}"] \
            if what == "deploy-baseline" else []
        code, _out, err = hc("--settings", path, what, "--organization", "--out", o["built"], *extra)
        assert code != 0 and "standard input is not a terminal" in err, err
        assert f"{org.ous['Test']} is no longer a target: 3 stack instance(s) leave the stack set (delete)" in err, err
        rows = [line.split() for line in err.splitlines() if line.startswith(name + " ")]
        assert sorted(r[1] for r in rows if "delete" in r) == sorted(leaving), err
        assert len(cf.list_stack_instances(StackSetName=name)["Summaries"]) == 6
        # running it: DeleteStackInstances, progress per instance, the stacks kept in the accounts
        code, out, err = deploy(o, hc, what)
        assert code == 0, err
        # (deploy-baseline also runs the log-replica stack set, whose instances of the OU leave the same way)
        (ops,) = [op for op in out["operations"] if op["action"] == "DELETE" and op["stack_set"] == name]
        assert ops["status"] == "SUCCEEDED" and sorted(r["account"] for r in ops["results"]) == sorted(leaving)
        assert all(f"{name}: {a} {REGION}: SUCCEEDED" in err for a in leaving), err
        (plan,) = [p for p in out["stack_sets"] if p["stack_set"] == name]
        assert plan["delete_instances"] == {org.ous["Test"]: {"regions": [REGION], "accounts_kept": []}}
        assert plan["retain_stacks"] is True
        assert sorted(i["Account"] for i in cf.list_stack_instances(StackSetName=name)["Summaries"]) == \
            sorted(org.accounts[f"Prod-{n}"] for n in range(3))
        assert cf.describe_stack_set(StackSetName=name)["StackSet"]["OrganizationalUnitIds"] == [org.ous["Prod"]]
        for account in leaving:
            kept = [s for s in org.member(account, "cloudformation").describe_stacks()["Stacks"]
                    if s["StackName"].startswith(f"StackSet-{name}-")]
            assert [s["StackStatus"] for s in kept] == ["CREATE_COMPLETE"], account
    # the evidence stays: each leaving account still has its log bucket
    for account in leaving:
        assert any("log" in b["Name"] for b in org.member(account, "s3").list_buckets()["Buckets"]), account
    # nothing left to do: no write; an account joining the OU now gets nothing
    o["endpoint"].reset_calls()
    for what in names:
        code, out, err = deploy(o, hc, what)
        assert code == 0, err
        assert all(p["action"] == "none" and not p["delete_instances"] for p in out["stack_sets"]), out
    assert writes(o["endpoint"]) == []
    joining = org.accounts["Sandbox-2"]
    org.client("organizations").move_account(AccountId=joining, SourceParentId=org.ous["Sandbox"],
                                             DestinationParentId=org.ous["Test"])
    assert all(cf.list_stack_instances(StackSetName=n, StackInstanceAccount=joining)["Summaries"] == []
               for n in names.values())


def test_accounts_of_a_removed_ou_still_under_another_target_keep_their_instances(organisation, hc):
    """An OU below the removed one stays a target: DeleteStackInstances spares its accounts (DeploymentTargets
    AccountFilterType DIFFERENCE: "all accounts in the selected OUs except for specific accounts listed")."""
    o, org = organisation, organisation["org"]
    organizations = org.client("organizations")
    inner = organizations.create_organizational_unit(ParentId=org.ous["Test"], Name="Inner")["OrganizationalUnit"]["Id"]
    staying = org.accounts["Test-2"]
    organizations.move_account(AccountId=staying, SourceParentId=org.ous["Test"], DestinationParentId=inner)
    path = o["settings"]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(f'test = ["{org.ous["Test"]}"]\n', f'test = ["{org.ous["Test"]}"]\ninner = ["{inner}"]\n'))
    code, _out, err = deploy(o, hc, "deploy-baseline")
    assert code == 0, err
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(f'test = ["{org.ous["Test"]}"]\n', f'inner = ["{inner}"]\n'))
    code, out, err = deploy(o, hc, "deploy-baseline")
    assert code == 0, err
    (plan,) = [p for p in out["stack_sets"] if p["stack_set"] == stacksets.BASELINE_PRIMARY]
    assert plan["delete_instances"] == {org.ous["Test"]: {"regions": [REGION], "accounts_kept": [staying]}}
    assert sorted(i["account"] for i in plan["instances"] if i["action"] == "delete") == \
        sorted([org.accounts["Test-0"], org.accounts["Test-1"]])
    cf = org.client("cloudformation")
    name = "hipaa-catalog-account-baseline"
    left = {i["Account"] for i in cf.list_stack_instances(StackSetName=name)["Summaries"]}
    assert left == {org.accounts[f"Prod-{n}"] for n in range(3)} | {staying}
    assert sorted(cf.describe_stack_set(StackSetName=name)["StackSet"]["OrganizationalUnitIds"]) == \
        sorted([org.ous["Prod"], inner])
    code, out, err = deploy(o, hc, "deploy-baseline")
    assert code == 0 and all(p["action"] == "none" and not p["delete_instances"] for p in out["stack_sets"]), out
