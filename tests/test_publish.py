"""`hipaa-catalog publish` against the local AWS endpoint over HTTP.

Every test publishes synthetic catalogs (unique portfolio, product names and SSM prefix, so tests
sharing one endpoint never see each other's state) except one that publishes the real build.  Write
and read calls are counted with botocore's event hooks (``generator.aws.api.CallRecorder``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from generator import settings as catalog_settings
from generator.aws import api as aws, publish as publisher, publish_plan as plan
from generator.blocks import admin_settings
from generator.cli.main import main
from generator.errors import AwsError, BuildError, Interrupted, PublishError
from generator.pipeline import manifest as manifests
from generator.render import canonical_json
from tests import killable_publisher
from tests.conftest import client_of

pytestmark = pytest.mark.aws

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


# --- fixtures: a baseline in the local endpoint, a synthetic catalog on disk ----------------------

@pytest.fixture
def baseline(aws_env):
    """What deploy-baseline would create: template bucket + SSM parameter per region, launch role, group."""
    prefix = f"/t{uuid.uuid4().hex[:10]}"
    iam = client_of("iam", REGION)
    for create in (lambda: iam.create_role(RoleName=admin_settings.LAUNCH_ROLE_NAME, AssumeRolePolicyDocument=json.dumps(
                       {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"Service": "servicecatalog.amazonaws.com"}}]})),
                   lambda: iam.create_group(GroupName=admin_settings.DEVELOPER_GROUP)):
        try:
            create()
        except iam.exceptions.EntityAlreadyExistsException:
            pass
    buckets, keys = {}, {}
    for region in ("us-east-1", "us-west-2"):
        bucket = f"templates-{uuid.uuid4().hex[:12]}"
        s3 = client_of("s3", region)
        kw = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kw)
        if region == "us-east-1":   # like the baseline: default encryption with the bucket's own key
            key = client_of("kms", region).create_key()["KeyMetadata"]["Arn"]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}]})
            keys[region] = key
        client_of("ssm", region).put_parameter(
            Name=admin_settings.TEMPLATE_BUCKET.full_name(prefix), Value=bucket, Type="String")
        buckets[region] = bucket
    return {"prefix": prefix, "buckets": buckets, "keys": keys, "endpoint": aws_env}


class Catalog:
    """A synthetic catalog: catalog.toml + build/ (manifest and templates) under a temporary folder."""

    def __init__(self, root: Path, prefix: str, regions=(REGION,), active=2, visible=4):
        self.root = root
        self.out = root / "build"
        self.prefix = prefix
        self.regions = list(regions)
        self.policy = {"active_versions": active, "visible_versions": visible, "artifact_wait_seconds": 30}
        self.portfolio = f"Portfolio {uuid.uuid4().hex[:8]}"
        self.portfolio_fields = {"description": "Test portfolio", "provider": "Tests"}
        self.tag = uuid.uuid4().hex[:6]
        self.products: dict[str, dict] = {}

    def name(self, short: str) -> str:
        return f"{short}-{self.tag}"

    def set(self, short: str, version: str, salt: str = "") -> "Catalog":
        p = self.products.setdefault(self.name(short), {"changes": {}})
        p["version"] = version
        p["changes"][version] = f"release {version}"
        p["salt"] = salt or version
        return self

    def template(self, name: str) -> dict:
        p = self.products[name]
        return {"AWSTemplateFormatVersion": "2010-09-09", "Description": f"{name} {p['salt']}",
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}

    def write(self, size: int | None = None) -> catalog_settings.Settings:
        lines = ["[catalog]", 'name = "test-catalog"', f"regions = {json.dumps(self.regions)}",
                 f'ssm_prefix = "{self.prefix}"', "", "[portfolio]", f'name = "{self.portfolio}"',
                 *(f"{k} = {json.dumps(v)}" for k, v in self.portfolio_fields.items()), "", "[publish]"]
        lines += [f"{k} = {v}" for k, v in self.policy.items()]
        entries = []
        for name, p in self.products.items():
            lines += ["", f"[products.{name}]", f'version = "{p["version"]}"', f'description = "{name} product"',
                      'owner = "Tests"', 'support_email = "help@example.org"', f"[products.{name}.changes]"]
            lines += [f'"{v}" = "{note}"' for v, note in p["changes"].items()]
            text = canonical_json(self.template(name))
            if size:
                text = text + " " * (size - len(text))
            rel = f"{name}/{p['version']}/template.json"
            (self.out / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.out / rel).write_text(text)
            entries.append(manifests.entry_for(name, p["version"], p["changes"][p["version"]], text,
                                               resource_types=("AWS::SNS::Topic",)))
        (self.root / "catalog.toml").write_text("\n".join(lines) + "\n")
        manifests.write(self.out, manifests.Manifest(catalog="test-catalog", regions=tuple(self.regions),
                                                     products=tuple(entries), sources_sha256="not-checked"))
        return catalog_settings.load(self.root / "catalog.toml")

    def publish(self, **kw) -> tuple[publisher.PublishReport, aws.CallRecorder]:
        recorder = aws.CallRecorder()
        report = publisher.publish(self.write(), out_dir=self.out, recorder=recorder, check_fresh=False, **kw)
        return report, recorder

    def availability(self, region: str = REGION) -> dict:
        """Every artifact of this catalog's products: version -> [(status, confirmed in its Description)]."""
        sc = client_of("servicecatalog", region)
        out: dict = {}
        for page in sc.get_paginator("search_products_as_admin").paginate():
            for d in page["ProductViewDetails"]:
                s = d["ProductViewSummary"]
                if s["Name"] not in self.products:
                    continue
                for a in sc.list_provisioning_artifacts(ProductId=s["ProductId"])["ProvisioningArtifactDetails"]:
                    status = sc.describe_provisioning_artifact(ProductId=s["ProductId"],
                                                               ProvisioningArtifactId=a["Id"])["Status"]
                    out.setdefault(s["Name"], {}).setdefault(a["Name"], []).append(
                        (status, not a["Description"].endswith(plan.UNCONFIRMED)))
        return out

    def state(self, region: str = REGION) -> dict:
        """What the endpoint holds for this catalog: portfolios, products, artifacts, constraints, principals."""
        sc = client_of("servicecatalog", region)
        portfolios = [p for p in sc.list_portfolios(PageSize=20)["PortfolioDetails"]
                      if p["DisplayName"] == self.portfolio]
        paginator = sc.get_paginator("list_portfolios")
        portfolios = [p for page in paginator.paginate() for p in page["PortfolioDetails"]
                      if p["DisplayName"] == self.portfolio]
        products = [d["ProductViewSummary"] for page in sc.get_paginator("search_products_as_admin").paginate()
                    for d in page["ProductViewDetails"] if d["ProductViewSummary"]["Name"] in self.products]
        out = {"portfolios": len(portfolios), "products": {}, "constraints": [], "principals": [],
               "in_portfolio": []}
        for p in products:
            arts = sc.list_provisioning_artifacts(ProductId=p["ProductId"])["ProvisioningArtifactDetails"]
            out["products"].setdefault(p["Name"], []).append(sorted(
                (a["Name"], a["Guidance"], a["Active"]) for a in arts))
        if len(portfolios) == 1:
            pid = portfolios[0]["Id"]
            out["constraints"] = sorted(
                (c["Type"], next(p["Name"] for p in products if p["ProductId"] == c["ProductId"]))
                for c in sc.list_constraints_for_portfolio(PortfolioId=pid)["ConstraintDetails"])
            out["principals"] = sorted(p["PrincipalARN"].rsplit("/", 1)[-1]
                                       for p in sc.list_principals_for_portfolio(PortfolioId=pid)["Principals"])
            out["in_portfolio"] = sorted(d["ProductViewSummary"]["Name"] for d in
                                         sc.search_products_as_admin(PortfolioId=pid)["ProductViewDetails"])
        return out


@pytest.fixture
def catalog(tmp_path, baseline):
    return Catalog(tmp_path, baseline["prefix"])


def ops(calls) -> list[str]:
    return sorted(c.operation for c in calls)


def actions(report, *kinds) -> list[tuple]:
    return sorted((a.region, a.product, a.version, a.action, a.status) for a in report.actions
                  if not kinds or a.action in kinds)


# --- the tests -----------------------------------------------------------------------------------

def test_first_publish_creates_everything_second_makes_no_write_call(tmp_path, baseline):
    cat = Catalog(tmp_path, baseline["prefix"], regions=("us-east-1", "us-west-2"))
    cat.set("web", "1.0.0").set("db", "2.1.0")
    report, rec = cat.publish()
    assert report.ok, report
    web, db = cat.name("web"), cat.name("db")
    for region in cat.regions:
        assert cat.state(region) == {
            "portfolios": 1, "products": {web: [[("1.0.0", "DEFAULT", True)]], db: [[("2.1.0", "DEFAULT", True)]]},
            "constraints": sorted([("LAUNCH", web), ("LAUNCH", db)]), "principals": ["HealthcareDeveloper"],
            "in_portfolio": sorted([web, db])}
        s3 = client_of("s3", region)
        entry = next(a for a in report.actions if a.region == region and a.product == web)
        key = f"{web}/1.0.0/{entry.sha256}.json"
        assert entry.key == key and entry.url.endswith(f"/{baseline['buckets'][region]}/{key}")
        head = s3.head_object(Bucket=baseline["buckets"][region], Key=key, ChecksumMode="ENABLED")
        assert head["ServerSideEncryption"] == "aws:kms"
        if region in baseline["keys"]:   # the bucket's own key, not aws/s3
            assert head["SSEKMSKeyId"] == baseline["keys"][region]
        tags = s3.get_object_tagging(Bucket=baseline["buckets"][region], Key=key)["TagSet"]
        assert {"Key": "servicecatalog:provisioning", "Value": "true"} in tags
    # each new version is confirmed (UpdateProvisioningArtifact) once it was seen AVAILABLE
    per_region = ["AssociatePrincipalWithPortfolio", "AssociateProductWithPortfolio",
                  "AssociateProductWithPortfolio", "CreateConstraint", "CreateConstraint", "CreatePortfolio",
                  "CreateProduct", "CreateProduct", "PutObject", "PutObject", "UpdateProvisioningArtifact",
                  "UpdateProvisioningArtifact"]
    assert ops(rec.writes()) == sorted(per_region * 2)
    saved = json.loads((cat.out / publisher.REPORT).read_text())
    assert all(r["warnings"] == [] and r["error"] == "" for r in saved["regions"].values())
    assert saved["ok"] and len([a for a in saved["actions"] if a["action"] == "create product"]) == 4
    assert all(a["artifact_id"].startswith("pa-") for a in saved["actions"] if a["action"] == "create product")

    again, rec2 = cat.publish()
    assert again.ok
    assert rec2.writes() == []
    assert rec2.reads() and {a.action for a in again.actions} == {"unchanged"}
    assert again.calls["write"] == 0
    # Listings only: no IAM, SSM or S3 read when nothing is created or uploaded (the existing constraint
    # and association prove the role and group); 1 + 4 per region + 1 per product and region.
    per_region_reads = ["ListConstraintsForPortfolio", "ListPortfolios", "ListPrincipalsForPortfolio",
                        "ListProvisioningArtifacts", "ListProvisioningArtifacts", "SearchProductsAsAdmin"]
    assert ops(rec2.reads()) == sorted(["GetCallerIdentity"] + per_region_reads * 2)
    assert all(a.url == "" and a.key for a in again.actions)   # the bucket was not looked up


def test_bumped_version_is_one_new_artifact_unbumped_change_is_refused(catalog, capsys):
    web, db = catalog.name("web"), catalog.name("db")
    assert catalog.set("web", "1.0.0").set("db", "1.0.0").publish()[0].ok

    report, rec = catalog.set("web", "1.1.0").publish()
    assert report.ok
    assert ops(rec.writes()) == ["CreateProvisioningArtifact", "PutObject", "UpdateProvisioningArtifact"]
    assert catalog.state()["products"][web] == [[("1.0.0", "DEFAULT", True), ("1.1.0", "DEFAULT", True)]]
    new = next(a for a in report.actions if a.action == "new version")
    assert new.version == "1.1.0" and new.artifact_id and new.url

    before = catalog.state()
    # web changes without a bump (refused), db gets a real new version (goes ahead)
    report, rec = catalog.set("web", "1.1.0", salt="edited").set("db", "1.0.1").publish()
    assert not report.ok
    assert actions(report, "refused") == [(REGION, web, "1.1.0", "refused", "failed")]
    refusal = next(a for a in report.actions if a.action == "refused")
    assert "published with another template" in refusal.message
    assert ops(rec.writes()) == ["CreateProvisioningArtifact", "PutObject", "UpdateProvisioningArtifact"]   # db only
    after = catalog.state()
    assert after["products"][web] == before["products"][web]
    assert after["products"][db] == [[("1.0.0", "DEFAULT", True), ("1.0.1", "DEFAULT", True)]]
    assert "immutable" in publisher.failure_summary(report)
    # through the CLI: the refusal is said once, with the file to edit
    _fresh(catalog)
    code = main(["--settings", str(catalog.root / "catalog.toml"), "publish", "--out", str(catalog.out)])
    out, err = capsys.readouterr()
    assert code == PublishError.exit_code
    assert err.count("already published with another template") == 1, err
    assert f"bump the version of {web} in {catalog.root / 'catalog.toml'}" in err
    # with --json: one JSON document, the report and the error together
    code = main(["--settings", str(catalog.root / "catalog.toml"), "publish", "--out", str(catalog.out), "--json"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert code == PublishError.exit_code and not data["ok"] and data["error"]["code"] == "PublishError"
    assert [a["action"] for a in data["actions"] if a["product"] == web] == ["refused"]
    assert f"bump the version of {web}" in data["error"]["hint"]


def test_deprecation_and_hiding_follow_the_settings(tmp_path, baseline):
    cat = Catalog(tmp_path, baseline["prefix"], active=1, visible=2)
    web = cat.name("web")
    for version in ("1.0.0", "1.1.0"):
        assert cat.set("web", version).publish()[0].ok
    assert cat.state()["products"][web] == [[("1.0.0", "DEPRECATED", True), ("1.1.0", "DEFAULT", True)]]
    report, rec = cat.set("web", "1.2.0").publish()
    assert report.ok
    assert cat.state()["products"][web] == [[("1.0.0", "DEPRECATED", False), ("1.1.0", "DEPRECATED", True),
                                             ("1.2.0", "DEFAULT", True)]]
    assert ops(rec.writes()) == ["CreateProvisioningArtifact", "PutObject", "UpdateProvisioningArtifact",
                                 "UpdateProvisioningArtifact", "UpdateProvisioningArtifact"]
    assert cat.publish()[1].writes() == []
    # a looser policy never brings retired versions back
    cat.policy.update(active_versions=3, visible_versions=3)
    assert cat.publish()[1].writes() == []


def test_changed_portfolio_description_and_provider_are_updated_in_place(catalog):
    assert catalog.set("web", "1.0.0").publish()[0].ok
    catalog.portfolio_fields = {"description": "HIPAA products, reviewed", "provider": "Security"}
    report, rec = catalog.publish()
    assert report.ok and ops(rec.writes()) == ["UpdatePortfolio"]
    assert [a.status for a in report.actions if a.action == "update portfolio"] == ["done"]
    [portfolio] = [p for p in client_of("servicecatalog").list_portfolios()["PortfolioDetails"]
                   if p["DisplayName"] == catalog.portfolio]
    assert (portfolio["Description"], portfolio["ProviderName"]) == ("HIPAA products, reviewed", "Security")
    assert catalog.publish()[1].writes() == []

def test_launch_constraint_with_another_role_is_reported_not_changed(catalog):
    assert catalog.set("web", "1.0.0").publish()[0].ok
    other = client_of("iam").create_role(RoleName=f"Other{catalog.tag}", AssumeRolePolicyDocument="{}")
    report, rec = catalog.publish(launch_role_arn=other["Role"]["Arn"])
    assert report.ok and rec.writes() == []
    [warning] = report.regions[REGION].warnings
    assert f"launch constraint of {catalog.name('web')} does not name {other['Role']['Arn']}" in warning


def test_dry_run_plans_and_makes_no_write_call(catalog):
    web = catalog.name("web")
    report, rec = catalog.set("web", "1.0.0").publish(dry_run=True)
    assert rec.writes() == [] and report.dry_run and report.ok
    assert {(a.action, a.status) for a in report.actions} == {
        ("create portfolio", "planned"), ("associate principal", "planned"), ("create product", "planned"),
        ("associate product", "planned"), ("create launch constraint", "planned")}
    assert catalog.state()["portfolios"] == 0
    assert catalog.publish()[0].ok
    report, rec = catalog.set("web", "2.0.0").publish(dry_run=True)
    assert rec.writes() == []
    assert actions(report) == [(REGION, web, "2.0.0", "new version", "planned")]
    assert catalog.state()["products"][web] == [[("1.0.0", "DEFAULT", True)]]


def test_converges_with_30_percent_throttled_or_unavailable_calls(catalog, baseline):
    endpoint = baseline["endpoint"]
    catalog.set("web", "1.0.0").set("db", "1.0.0")
    endpoint.set_faults(throttle=0.15, unavailable=0.15, seed=6)
    try:
        report, rec = catalog.publish()
        assert report.ok, publisher.failure_summary(report)
        catalog.set("web", "1.1.0")
        report, _ = catalog.publish()
        assert report.ok, publisher.failure_summary(report)
        injected = endpoint.faults()["injected"]
        assert injected["throttle"] >= 3 and injected["unavailable"] >= 3, injected
    finally:
        endpoint.set_faults(throttle=0.0, unavailable=0.0)
    web, db = catalog.name("web"), catalog.name("db")
    assert catalog.state() == {
        "portfolios": 1, "products": {web: [[("1.0.0", "DEFAULT", True), ("1.1.0", "DEFAULT", True)]],
                                      db: [[("1.0.0", "DEFAULT", True)]]},
        "constraints": sorted([("LAUNCH", web), ("LAUNCH", db)]), "principals": ["HealthcareDeveloper"],
        "in_portfolio": sorted([web, db])}
    assert catalog.publish()[1].writes() == []


def _publisher_process(cat: Catalog, kill_at: int | str | None = None) -> killable_publisher.Publisher:
    """A publisher in its own process (tests/killable_publisher.py), killed right after the answer to the
    ``kill_at``-th write call, or to the Nth call of an operation (``"Operation:N"``)."""
    return killable_publisher.start(cat.root / "catalog.toml", cat.out, kill_at)


def test_two_publishers_at_once_create_one_of_each(catalog, local_aws):
    web, db = catalog.name("web"), catalog.name("db")
    catalog.set("web", "1.0.0").set("db", "1.0.0").write()
    # a little latency on every Service Catalog call, so both read the empty catalog before either creates
    local_aws.set_faults(latency_ms=150, services=["servicecatalog"])
    local_aws.reset_calls()
    try:
        procs = [_publisher_process(catalog) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
    finally:
        local_aws.set_faults()
    creates = Counter(c["operation"] for c in local_aws.calls() if c["operation"] in ("CreatePortfolio", "CreateProduct"))
    assert sum(creates.values()) > 3, f"the publishers did not race: {creates}"
    assert catalog.state() == {
        "portfolios": 1, "products": {web: [[("1.0.0", "DEFAULT", True)]], db: [[("1.0.0", "DEFAULT", True)]]},
        "constraints": sorted([("LAUNCH", web), ("LAUNCH", db)]), "principals": ["HealthcareDeveloper"],
        "in_portfolio": sorted([web, db])}
    assert catalog.publish()[1].writes() == []


# The killed run publishes web 1.1.0 (upload, new artifact, confirm it, deprecate 1.0.0, hide 1.0.0) and a
# new product db (upload, create product, confirm its artifact, associate, launch constraint): 10 write calls.
KILLED_RUN_WRITES = 10


def _kill_scenario(root: Path, prefix: str, kill_at: int):
    cat = Catalog(root / f"run{kill_at}", prefix, active=1, visible=1)
    assert cat.set("web", "1.0.0").publish()[0].ok
    cat.set("web", "1.1.0").set("db", "1.0.0").write()
    proc = _publisher_process(cat, kill_at=kill_at)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == killable_publisher.EXIT_CODE_KILLED, f"kill at {kill_at}: exit {proc.returncode}: {err}"
    report, _ = cat.publish()
    assert report.ok, (kill_at, publisher.failure_summary(report))
    return kill_at, cat.state(), cat.publish()[1].writes(), cat


@pytest.mark.slow
def test_killed_at_any_write_then_rerun_converges_with_one_artifact_per_version(tmp_path, baseline):
    # the run is deterministic but for where it is killed: once after each of its write calls
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = list(pool.map(lambda k: _kill_scenario(tmp_path, baseline["prefix"], k),
                             range(1, KILLED_RUN_WRITES + 1)))
    for kill_at, state, final_writes, cat in runs:
        web, db = cat.name("web"), cat.name("db")
        assert state == {
            "portfolios": 1,
            "products": {web: [[("1.0.0", "DEPRECATED", False), ("1.1.0", "DEFAULT", True)]],
                         db: [[("1.0.0", "DEFAULT", True)]]},
            "constraints": sorted([("LAUNCH", web), ("LAUNCH", db)]), "principals": ["HealthcareDeveloper"],
            "in_portfolio": sorted([web, db])}, f"killed after write {kill_at}"
        assert final_writes == [], f"killed after write {kill_at}"


# Between the create request and the moment the publisher sees the new version AVAILABLE (the run
# publishes web 1.1.0 as a new artifact, then db as a new product with its first artifact).
AVAILABILITY_KILL_POINTS = ["CreateProvisioningArtifact:1", "DescribeProvisioningArtifact:1", "CreateProduct:1",
                            "DescribeProvisioningArtifact:2"]


@pytest.mark.parametrize("kill_at", AVAILABILITY_KILL_POINTS)
def test_killed_before_a_version_was_seen_available_the_rerun_checks_it(tmp_path, baseline, kill_at):
    cat = Catalog(tmp_path, baseline["prefix"])
    assert cat.set("web", "1.0.0").publish()[0].ok
    cat.set("web", "1.1.0").set("db", "1.0.0").write()
    proc = _publisher_process(cat, kill_at=kill_at)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == killable_publisher.EXIT_CODE_KILLED, err
    report, rec = cat.publish()
    assert report.ok, publisher.failure_summary(report)
    confirms = [a for a in report.actions if a.action is plan.Kind.CONFIRM]
    assert confirms and all(a.status is publisher.Status.DONE for a in confirms)
    web, db = cat.name("web"), cat.name("db")
    assert cat.availability() == {web: {"1.0.0": [("AVAILABLE", True)], "1.1.0": [("AVAILABLE", True)]},
                                  db: {"1.0.0": [("AVAILABLE", True)]}}
    # once confirmed, a no-change publish knows it from the listing: no status read, no write
    again, rec = cat.publish()
    assert again.ok and rec.writes() == [] and "DescribeProvisioningArtifact" not in ops(rec.reads())


def test_missing_bucket_parameter_or_bucket_is_named(catalog, baseline, capsys):
    settings = catalog.set("web", "1.0.0").write()
    client_of("ssm", REGION).delete_parameter(
        Name=admin_settings.TEMPLATE_BUCKET.full_name(baseline["prefix"]))
    rec = aws.CallRecorder()
    report = publisher.publish(settings, out_dir=catalog.out, check_fresh=False, recorder=rec)
    assert not report.ok and rec.writes() == []
    error = report.regions[REGION].error
    assert f"SSM parameter {baseline['prefix']}/catalog/template-bucket" in error and "deploy-baseline" in error
    assert "--bucket" in publisher.failure_summary(report)
    _fresh(catalog)
    capsys.readouterr()
    assert main(["--settings", str(catalog.root / "catalog.toml"), "publish", "--out", str(catalog.out)]) == 3
    out, err = capsys.readouterr()
    assert re.search(r"us-east-1 +- +prepare region +failed .*catalog/template-bucket", out), out
    assert err.splitlines()[-1].startswith("hipaa-catalog: error: publish incomplete: ") and "deploy-baseline" in err
    report = publisher.publish(settings, out_dir=catalog.out, check_fresh=False, bucket="no-such-bucket-x")
    assert "template bucket no-such-bucket-x not found" in report.regions[REGION].error
    report = publisher.publish(settings, out_dir=catalog.out, check_fresh=False, bucket=baseline["buckets"][REGION])
    assert report.ok


def _other_account(monkeypatch) -> str:
    """Switch this test's credentials to a new member account of an organisation of this account (nothing
    exists there), as its OrganizationAccountAccessRole: the role Organizations makes in an account it creates,
    trusting the management account (*CreateAccount*, RoleName, AWS Organizations API Reference,
    https://docs.aws.amazon.com/organizations/latest/APIReference/API_CreateAccount.html)."""
    org = client_of("organizations", REGION)
    org.create_organization(FeatureSet="ALL")
    account = org.create_account(AccountName="release", Email="release@example.org")["CreateAccountStatus"]["AccountId"]
    creds = client_of("sts", REGION).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="test")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    assert boto3.Session().client("sts", region_name=REGION).get_caller_identity()["Account"] == account
    return account


def test_missing_launch_role_or_group_fails_before_any_change(catalog, monkeypatch):
    settings = catalog.set("web", "1.0.0").write()
    account = _other_account(monkeypatch)
    rec = aws.CallRecorder()
    with pytest.raises(PublishError, match=f"launch role HipaaCatalogLaunchRole not found .IAM, account {account}"
                                           ".*deploy-baseline.*--launch-role-arn"):
        publisher.publish(settings, out_dir=catalog.out, check_fresh=False, recorder=rec)
    with pytest.raises(PublishError, match="launch role arn:aws:iam::1:role/Other not found"):
        publisher.publish(settings, out_dir=catalog.out, check_fresh=False, launch_role_arn="arn:aws:iam::1:role/Other")
    boto3.Session().client("iam").create_role(RoleName=admin_settings.LAUNCH_ROLE_NAME, AssumeRolePolicyDocument="{}")
    with pytest.raises(PublishError, match="developer group HealthcareDeveloper not found.*deploy-baseline"):
        publisher.publish(settings, out_dir=catalog.out, check_fresh=False, recorder=rec)
    assert rec.writes() == []


def test_stale_build_and_oversized_template_are_refused(catalog):
    settings = catalog.set("web", "1.0.0").write()
    with pytest.raises(BuildError, match="stale build.*make build"):
        publisher.publish(settings, out_dir=catalog.out)
    settings = catalog.write(size=publisher.TEMPLATE_SIZE_LIMIT + 1)
    with pytest.raises(PublishError, match=f"over CloudFormation's limit of {publisher.TEMPLATE_SIZE_LIMIT}"):
        publisher.publish(settings, out_dir=catalog.out, check_fresh=False)


def _fresh(cat: Catalog) -> None:
    """Mark the synthetic build as built from the current sources (the CLI always checks)."""
    built = manifests.load(cat.out).manifest
    manifests.write(cat.out, dataclasses.replace(built, sources_sha256=manifests.sources_sha256()))


def test_no_credentials_is_one_clear_line(tmp_path, catalog):
    catalog.set("web", "1.0.0").write()
    _fresh(catalog)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_REGION=REGION, AWS_ENDPOINT_URL=os.environ["AWS_ENDPOINT_URL"], AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    proc = subprocess.run([sys.executable, "-m", "generator.cli.main", "--settings", str(catalog.root / "catalog.toml"),
                           "publish", "--out", str(catalog.out)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == AwsError.exit_code, proc.stderr
    assert proc.stderr.startswith("hipaa-catalog: error: no AWS credentials found"), proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_real_build_publishes_through_the_cli(tmp_path, baseline, capsys, seed_lint):
    out = seed_lint(tmp_path / "build")
    assert main(["build", "--out", str(out)]) == 0
    products = manifests.load(out).manifest.of_kind("product")
    settings_path = tmp_path / "catalog.toml"
    text = (ROOT / "products" / "catalog.toml").read_text()
    text = text.replace('ssm_prefix = "/hipaa-catalog"', f'ssm_prefix = "{baseline["prefix"]}"')
    text = text.replace('name = "HIPAA Healthcare Products"', f'name = "Real {uuid.uuid4().hex[:8]}"')
    settings_path.write_text(text)
    capsys.readouterr()
    code = main(["--settings", str(settings_path), "publish", "--out", str(out), "--region", REGION, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"]
    created = [a for a in report["actions"] if a["action"] == "create product"]
    assert sorted(a["product"] for a in created) == sorted(p.name for p in products)
    assert code == 0
    assert main(["--settings", str(settings_path), "publish", "--out", str(out), "--region", REGION]) == 0
    table = capsys.readouterr().out
    assert "unchanged" in table and "0 write call(s)" in table


def test_botocore_errors_name_the_action_and_the_resource():
    import botocore.exceptions as bexc

    denied = bexc.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                              "CreateProduct")
    err = aws.translate(denied, "CreateProduct", "product web in us-east-1")
    assert isinstance(err, AwsError) and err.code == "AccessDeniedException"
    assert str(err).startswith("access denied: CreateProduct on product web in us-east-1: not authorized")
    assert "needs permission for CreateProduct" in str(err)
    err = aws.translate(bexc.NoCredentialsError(), "GetCallerIdentity", "the current AWS identity")
    assert str(err).startswith("no AWS credentials found for GetCallerIdentity") and "AWS_PROFILE" in str(err)
    err = aws.translate(bexc.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "ListPortfolios", "")
    assert "cannot reach AWS" in str(err) and "AWS_ENDPOINT_URL" in str(err)


def _cli_publisher(cat: Catalog) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "generator.cli.main", "--settings", str(cat.root / "catalog.toml"),
                             "publish", "--out", str(cat.out)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_line(stream, needle: str, timeout: float = 60) -> list[str]:
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} not printed: {''.join(seen)}")


def _interrupted_publisher(cat: Catalog, endpoint, products: int, latency_ms: int) -> subprocess.Popen:
    """A CLI publisher of ``products`` new products with Service Catalog slowed down, sent SIGINT once it
    has created the portfolio."""
    for i in range(products):
        cat.set(f"p{i}", "1.0.0")
    cat.write()
    _fresh(cat)
    endpoint.set_faults(latency_ms=latency_ms, services=["servicecatalog"])
    proc = _cli_publisher(cat)
    _wait_for_line(proc.stderr, "created portfolio")
    proc.send_signal(signal.SIGINT)
    return proc


def test_ctrl_c_during_publish_winds_down_reports_and_a_rerun_finishes(catalog, baseline):
    try:
        proc = _interrupted_publisher(catalog, baseline["endpoint"], products=4, latency_ms=150)
        started = time.monotonic()
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - started
    finally:
        baseline["endpoint"].set_faults()
    assert proc.returncode == Interrupted.exit_code, err
    assert stopped_in < 10, f"took {stopped_in:.1f} s to wind down"
    assert "Traceback" not in err and "run the same command again" in err
    assert "not done" in out and "interrupted" in out    # the table of what was and was not done
    saved = json.loads((catalog.out / publisher.REPORT).read_text())
    assert saved["interrupted"] and any(a["status"] == "not done" for a in saved["actions"])
    report, _ = catalog.publish()
    assert report.ok and catalog.publish()[1].writes() == []
    assert sorted(catalog.state()["in_portfolio"]) == sorted(catalog.products)


def test_a_second_ctrl_c_ends_the_publisher_at_once(catalog, baseline):
    try:
        proc = _interrupted_publisher(catalog, baseline["endpoint"], products=3, latency_ms=400)
        _wait_for_line(proc.stderr, "Ctrl-C again")
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 2
    finally:
        baseline["endpoint"].set_faults()
    assert proc.returncode == -signal.SIGINT and "Traceback" not in err


def test_a_version_that_ends_failed_is_named_then_replaced_by_the_rerun(catalog, baseline):
    endpoint = baseline["endpoint"]
    web, db = catalog.name("web"), catalog.name("db")
    assert catalog.set("web", "1.0.0").publish()[0].ok
    endpoint.set_artifacts(fail_next=2)          # web 1.1.0's new artifact and db's first one end FAILED
    try:
        report, _ = catalog.set("web", "1.1.0").set("db", "1.0.0").publish()
    finally:
        endpoint.set_artifacts(fail_next=0)
    assert not report.ok
    failed = {(a.product, a.version, a.action) for a in report.actions if a.status is publisher.Status.FAILED}
    assert failed == {(web, "1.1.0", plan.Kind.NEW_VERSION), (db, "1.0.0", plan.Kind.CREATE_PRODUCT)}
    summary = publisher.failure_summary(report)
    assert f"{web}" in summary and "version 1.1.0" in summary and REGION in summary and "could not create" in summary
    assert not any(a.status is publisher.Status.DONE and a.version == "1.1.0" and a.product == web
                   for a in report.actions)
    assert catalog.availability()[web]["1.1.0"] == [("FAILED", False)]

    report, rec = catalog.publish()              # the re-run replaces both FAILED artifacts
    assert report.ok, publisher.failure_summary(report)
    replaced = [a for a in report.actions if a.action is plan.Kind.CONFIRM]
    assert len(replaced) == 2 and all("replaced the FAILED artifact" in a.message for a in replaced)
    assert ops(rec.writes()).count("DeleteProvisioningArtifact") == 2
    assert catalog.availability() == {web: {"1.0.0": [("AVAILABLE", True)], "1.1.0": [("AVAILABLE", True)]},
                                      db: {"1.0.0": [("AVAILABLE", True)]}}
    assert catalog.publish()[1].writes() == []


def test_a_version_service_catalog_keeps_failing_is_never_reported_published(catalog, baseline):
    endpoint = baseline["endpoint"]
    web = catalog.name("web")
    assert catalog.set("web", "1.0.0").publish()[0].ok
    endpoint.set_artifacts(fail_names=["1.1.0"])
    try:
        first, _ = catalog.set("web", "1.1.0").publish()
        again, _ = catalog.publish()
    finally:
        endpoint.set_artifacts(fail_names=[])
    assert not first.ok and not again.ok
    [confirm] = [a for a in again.actions if a.action is plan.Kind.CONFIRM]
    assert confirm.status is publisher.Status.FAILED and "could not create the version again" in confirm.message
    assert catalog.availability()[web]["1.1.0"] == [("FAILED", False)]   # the retry's artifact was deleted
    assert catalog.publish()[0].ok and catalog.availability()[web]["1.1.0"] == [("AVAILABLE", True)]
