"""The healthcare web server through the local Service Catalog over HTTP, as a developer uses it.

For each Environment x PHI: launch, update every developer parameter one at a time, update to a new
version, a forced resource failure that rolls back and leaves the product updatable, terminate.  After
every step the AWS CLI (``aws servicecatalog`` / ``aws cloudformation``) must see the state
``hipaa-catalog status`` reports, and the outputs must describe what the stack holds.

All of it runs as the derived launch role with IAM enforced by the endpoint, and nothing is refused.
The authorization requests of each lifecycle are kept (``RECORDED``) for the test at the end, which shows
that every statement of the launch role is needed; a module's tests run on one pytest-xdist worker, in
order (``--dist loadfile``, setup.cfg), so that test sees them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from generator.aws import api as aws
from generator.aws.publish import template_url
from generator.devtools.local_aws.iam.policy import statements
from tests.local_aws.launch_role import first_breaks, remove_statement, role_policies

pytestmark = [pytest.mark.aws, pytest.mark.slow]
SCENARIOS = [("TEST", "YES"), ("TEST", "NO"), ("PROD", "YES"), ("PROD", "NO")]
RECORDED: dict[tuple[str, str], list[dict]] = {}   # (Environment, PHI) -> its lifecycle's authorization requests
REGION = "us-east-1"
PRODUCT = "healthcare-web-server"
AWS_CLI = Path(sys.executable).with_name("aws")
EMAIL = "dev@example.org"


def aws_cli(endpoint, *args: str) -> dict:
    done = subprocess.run([str(AWS_CLI), "--endpoint-url", endpoint.url, "--region", REGION, "--output", "json",
                           *args], capture_output=True, text=True, env=dict(os.environ), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


class Site:
    """One provisioned web server and the commands a developer runs on it."""

    def __init__(self, account, hc, name: str, cli_every_step: bool):
        self.account, self.hc, self.name = account, hc, name
        self.cli_every_step = cli_every_step
        self.endpoint = account["endpoint"]
        self.sess = account["session"]

    def launch(self, environment: str, phi: str) -> dict:
        repo = aws.client(self.sess, "codecommit").create_repository(repositoryName=f"{self.name}-site")
        code, out, err = self.hc("launch", PRODUCT, "--name", self.name, "--region", REGION,
                                 "-p", f"FriendlyName={self.name}", "-p", f"Environment={environment}",
                                 "-p", f"PHI={phi}", "-p", f"CodeCommitRepo={repo['repositoryMetadata']['cloneUrlHttp']}",
                                 "-p", f"InstanceOwnerEmail={EMAIL}", "-p", "WebDirectory=clinic")
        assert code == 0, err
        assert out["status"] == "SUCCEEDED"
        return out

    def update(self, *args: str, expect: int = 0) -> tuple[dict, str]:
        code, out, err = self.hc("update", self.name, "--region", REGION, *args)
        assert code == expect, err
        return out, err

    def status(self) -> dict:
        code, out, err = self.hc("status", self.name, "--region", REGION)
        assert code == 0, err
        return out

    def stack(self) -> dict:
        pp = aws.client(self.sess, "servicecatalog").describe_provisioned_product(Name=self.name)
        stack_name = f"SC-123456789012-{pp['ProvisionedProductDetail']['Id']}"
        return aws.client(self.sess, "cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]

    def check(self, environment: str, phi: str, stack_status: str, status: str = "AVAILABLE",
              cli: bool = False) -> dict:
        """hipaa-catalog status, the stack and (``cli`` or every step of one scenario) the AWS CLI agree;
        the outputs match the stack's resources."""
        st = self.status()
        assert st["status"] == status, st
        stack = self.stack()
        if cli or self.cli_every_step:
            cli_pp = aws_cli(self.endpoint, "servicecatalog", "describe-provisioned-product", "--name", self.name)
            assert cli_pp["ProvisionedProductDetail"]["Status"] == st["status"]
            assert cli_pp["ProvisionedProductDetail"]["StatusMessage"] == st["status_message"]
        assert stack["StackStatus"] == stack_status
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        assert {k: v for k, v in st["outputs"].items() if k != "CloudformationStackARN"} == outputs
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
        assert (params["Environment"], params["PHI"]) == (environment, phi)
        ec2 = aws.client(self.sess, "ec2")
        instance = ec2.describe_instances(InstanceIds=[outputs["InstanceId"]])["Reservations"][0]["Instances"][0]
        assert instance["InstanceType"] == params["InstanceType"]
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        assert tags.get("Name") == params["FriendlyName"]
        if environment == "PROD":
            dns = aws.client(self.sess, "elbv2").describe_load_balancers()["LoadBalancers"]
            assert outputs["CompliantWebsiteURL"].split("/")[2] in [lb["DNSName"] for lb in dns]
        else:
            assert outputs["CompliantWebsiteURL"] == f"https://{instance['PrivateDnsName']}/{params['WebDirectory']}/"
            assert "LoadBalancerSecurityGroupId" not in outputs
        assert outputs["CompliantWebsiteURL"].endswith(f"/{params['WebDirectory']}/")
        if phi == "YES":
            volume = ec2.describe_volumes(VolumeIds=[outputs["PhiVolumeId"]])["Volumes"][0]
            assert volume["Encrypted"] and [a["InstanceId"] for a in volume["Attachments"]] == [outputs["InstanceId"]]
        else:
            assert "PhiVolumeId" not in outputs
        return outputs


def publish_new_version(account, version: str) -> None:
    """The release engineer's new version of the web server: the same template, another description."""
    sess = account["session"]
    sc, s3 = aws.client(sess, "servicecatalog"), aws.client(sess, "s3")
    bucket = aws.client(sess, "ssm").get_parameter(Name="/hipaa-catalog/catalog/template-bucket")["Parameter"]["Value"]
    product = next(p for p in sc.search_products_as_admin()["ProductViewDetails"]
                   if p["ProductViewSummary"]["Name"] == PRODUCT)["ProductViewSummary"]["ProductId"]
    body = json.loads((account["built"] / PRODUCT / "1.0.0" / "template.json").read_text())
    body["Description"] = f"{body.get('Description', '')} ({version})"
    key = f"{PRODUCT}/{version}/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), Tagging="servicecatalog:provisioning=true")
    sc.create_provisioning_artifact(ProductId=product, IdempotencyToken=uuid.uuid4().hex, Parameters={
        "Name": version, "Type": "CLOUD_FORMATION_TEMPLATE", "Info": {"LoadTemplateFromURL": template_url(
            bucket, REGION, key)}})


@pytest.mark.parametrize("environment, phi", SCENARIOS)
def test_launch_update_every_parameter_new_version_failure_terminate(account, hc, environment, phi):
    RECORDED[(environment, phi)] = lifecycle(account, hc, environment, phi)


def lifecycle(account, hc, environment: str, phi: str) -> list[dict]:
    """The whole lifecycle as the launch role with IAM enforced; the authorization requests it made."""
    endpoint = account["endpoint"]
    assert endpoint.iam()["enforce"], "the local endpoint must enforce IAM on launch roles by default"
    endpoint.clear_iam_requests()
    site = Site(account, hc, f"site-{environment.lower()}-{phi.lower()}", cli_every_step=(environment, phi) == ("TEST", "YES"))
    site.launch(environment, phi)
    first = site.check(environment, phi, "CREATE_COMPLETE", cli=True)

    site.update("-p", "InstanceType=t3.medium")
    outputs = site.check(environment, phi, "UPDATE_COMPLETE")
    assert outputs["InstanceId"] == first["InstanceId"]  # InstanceType: in place (EBS-backed instance)

    site.update("-p", "FriendlyName=Patient Portal")
    site.check(environment, phi, "UPDATE_COMPLETE")
    site.update("-p", "InstanceOwnerEmail=owner@example.org")
    site.check(environment, phi, "UPDATE_COMPLETE")
    site.update("-p", "WebDirectory=portal")
    assert site.check(environment, phi, "UPDATE_COMPLETE")["CompliantWebsiteURL"].endswith("/portal/")
    repo = aws.client(site.sess, "codecommit").create_repository(repositoryName=f"{site.name}-other")
    site.update("-p", f"CodeCommitRepo={repo['repositoryMetadata']['cloneUrlHttp']}")
    site.check(environment, phi, "UPDATE_COMPLETE")
    other_phi = "NO" if phi == "YES" else "YES"
    site.update("-p", f"PHI={other_phi}")
    site.check(environment, other_phi, "UPDATE_COMPLETE")
    other_env = "PROD" if environment == "TEST" else "TEST"
    site.update("-p", f"Environment={other_env}")
    site.check(other_env, other_phi, "UPDATE_COMPLETE")
    site.update("-p", f"Environment={environment}", "-p", f"PHI={phi}")
    site.check(environment, phi, "UPDATE_COMPLETE")
    if phi == "NO":
        # TEST: a key pair replaces the instance (KeyName is create-only); PROD ignores it.  Not with PHI=YES:
        # the replacement would move the attached PHI volume, which the local EC2 does not model (it lets a
        # volume be attached twice, README "Not simulated")
        pair = aws.client(site.sess, "ec2").create_key_pair(KeyName=f"{site.name}-admin")["KeyName"]
        site.update("-p", f"KeyName={pair}")
        site.check(environment, phi, "UPDATE_COMPLETE")

    publish_new_version(account, "1.1.0")
    out, _err = site.update("--version", "1.1.0")
    assert out["version"] == "1.1.0"
    assert site.status()["version"] == "1.1.0"
    before = site.check(environment, phi, "UPDATE_COMPLETE")

    # a resource told to fail: the update rolls back, the record says why, the product stays updatable
    site.endpoint.set_resource_failures([{"logical_id": "Instance", "action": "UPDATE"}])
    _out, err = site.update("-p", "InstanceType=t3.large", expect=3)
    assert "UPDATE_FAILED" in err and "Instance" in err and "Failure injected" in err
    after = site.check(environment, phi, "UPDATE_ROLLBACK_COMPLETE", status="TAINTED", cli=True)
    assert after == before
    site.update("-p", "InstanceType=t3.large")
    site.check(environment, phi, "UPDATE_COMPLETE", cli=True)

    code, done, err = hc("terminate", site.name, "--region", REGION)
    assert code == 0 and done["status"] == "SUCCEEDED", err
    assert aws_cli(site.endpoint, "servicecatalog", "search-provisioned-products")["TotalResultsCount"] == 0
    recorded = endpoint.iam_requests()
    assert {r["operation"] for r in recorded} == {"PROVISION_PRODUCT", "UPDATE_PROVISIONED_PRODUCT",
                                                   "TERMINATE_PROVISIONED_PRODUCT"}
    refused = [r for r in recorded if not r["allowed"]]
    assert not refused, f"the launch role was refused: {refused[:3]}"
    return recorded


def test_every_launch_role_statement_is_needed(fresh_account, hc):
    """Removing any one statement of the derived launch role makes some launch, update or termination
    fail locally with an AccessDenied message naming the action; a statement nothing needs fails here.

    Evaluated on the recorded authorization requests of the four lifecycles above instead of re-running
    each lifecycle once per statement (about 35 statements x 4 lifecycles).  That proves the same thing:
    the endpoint's runs are deterministic, and every request of a recorded run was allowed, so a run with
    a statement S removed makes exactly the same requests as the recorded one up to the first request
    that only S allowed; the endpoint refuses that one (its denial message is the one computed here) and
    the operation fails there.  If no recorded request depends on S alone, every request of the reduced
    run is allowed too and the run goes exactly as recorded: S was not needed.  (The role has no Deny
    statements, so removing one can only take permissions away.)  The recording's faithfulness is shown
    by real re-launches: three statements are removed from the deployed role one at a time and a launch
    fails with the predicted denial; tests/local_aws/test_launch_role_enforcement.py does the same for the
    template read, the service-linked role and iam:PassRole.
    """
    for scenario in SCENARIOS:   # run alone (-k), the lifecycles above did not record: run them here
        if scenario not in RECORDED:
            RECORDED[scenario] = lifecycle(fresh_account(), hc, *scenario)
    account = fresh_account()
    policies = role_policies(account["session"])
    sids = [st.get("Sid") for _name, doc in policies for st in statements(doc)]
    assert all(sids) and len(sids) == len(set(sids)), f"every statement needs a unique Sid: {sids}"
    breaks = first_breaks(policies, RECORDED)
    unneeded = [sid for sid in sids if sid not in breaks]
    assert not unneeded, f"statements no launch, update or termination needs (remove them): {unneeded}"
    for sid, found in breaks.items():
        assert f"is not authorized to perform: {found.entry['action']} on resource: " in found.message, (sid, found)

    # the recording is faithful: real launches without one statement fail where it predicts
    launch_breaks = [b for b in first_breaks(policies, {("TEST", "NO"): RECORDED[("TEST", "NO")]}).values()
                     if b.entry["operation"] == "PROVISION_PRODUCT"]
    chosen = {b.entry.get("stage") or b.entry.get("why"): b for b in launch_breaks}   # one of each kind
    assert {"service-catalog", "ssm-parameters", "handler"} <= set(chosen), sorted(chosen)
    for kind in ("service-catalog", "ssm-parameters", "handler"):
        found = chosen[kind]
        account = fresh_account()
        remove_statement(account["session"], found.sid)
        repo = aws.client(account["session"], "codecommit").create_repository(repositoryName=f"replay-{kind}")
        code, _out, err = hc("launch", PRODUCT, "--name", f"replay-{kind}", "--region", REGION,
                             "-p", "FriendlyName=replay", "-p", "Environment=TEST", "-p", "PHI=NO",
                             "-p", f"CodeCommitRepo={repo['repositoryMetadata']['cloneUrlHttp']}",
                             "-p", f"InstanceOwnerEmail={EMAIL}", "-p", "WebDirectory=clinic")
        assert code == 3, (found.sid, err)
        prefix = found.message.split(" on resource: ")[0]
        resource_kind = re.split(r"[/:]", found.entry["resource"].split(":", 5)[-1])[0] \
            if found.entry["resource"].startswith("arn:") else found.entry["resource"]
        assert prefix in err and f"on resource: {found.entry['resource'].split(':', 5)[0]}" in err, (found.sid, err)
        assert resource_kind in err, (found.sid, resource_kind, err)
