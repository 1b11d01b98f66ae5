"""The healthcare web server through the local Service Catalog over HTTP, as a developer uses it.

For each Environment x PHI: launch (the repository checked, the AMI setting's version and the default
branch's commit pinned; a repository that does not exist refused before provisioning), release a new
commit, update the instance type after the administrator moved the AMI setting on (the instance stays:
its AMI is pinned), update to a new product version, terminate (a PROD load balancer's deletion
protection turned off first; a PHI volume leaves its final snapshot). PROD's Route 53 alias record
exists, names the load balancer and is the URL's host while the product exists, and is gone after. One
scenario also updates every other developer parameter one at a time, two switch Environment and PHI there
and back (every transition, a PROD load balancer never left behind), and one forces a resource failure
that rolls back and leaves the product updatable. After every step ``hipaa-catalog status`` and the stack
agree, and the outputs describe what the stack holds; after the launch and around the rollback the AWS
CLI sees the same.

All of it runs as the derived launch role with IAM enforced by the endpoint, and nothing is refused.
The authorization requests of each lifecycle are kept (``RECORDED``) for the test at the end, which shows
that every statement of the launch role is needed; a module's tests run on one pytest-xdist worker, in
order (``--dist loadfile``, setup.cfg), so that test sees them.
"""

from __future__ import annotations

import base64
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
from generator.blocks import admin_settings as admin
from generator.devtools.local_aws.iam.policy import statements
from tests.local_aws.launch_role import Recording, first_breaks, remove_statement, role_policies

pytestmark = [pytest.mark.aws, pytest.mark.slow]
SCENARIOS = [("TEST", "YES"), ("TEST", "NO"), ("PROD", "YES"), ("PROD", "NO")]
RECORDED: dict[tuple[str, str], Recording] = {}   # (Environment, PHI) -> its lifecycle's requests and role
REGION = "us-east-1"
PRODUCT = "healthcare-web-server"
VERSION = "2.0.0"
AWS_CLI = Path(sys.executable).with_name("aws")
EMAIL = "dev@example.org"
PREFIX = "/hipaa-catalog"


def aws_cli(endpoint, *args: str) -> dict:
    done = subprocess.run([str(AWS_CLI), "--endpoint-url", endpoint.url, "--region", REGION, "--output", "json",
                           *args], capture_output=True, text=True, env=dict(os.environ), timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def setting(sess, which: admin.AdminSetting) -> dict:
    return aws.client(sess, "ssm").get_parameter(Name=which.full_name(PREFIX))["Parameter"]


class Site:
    """One provisioned web server, its repository, and the commands a developer runs on it."""

    def __init__(self, account, hc, name: str):
        self.account, self.hc, self.name = account, hc, name
        self.endpoint = account["endpoint"]
        self.sess = account["session"]
        self.cc = aws.client(self.sess, "codecommit")
        self.repo = f"{name}-site"
        self.url = self.cc.create_repository(repositoryName=self.repo)["repositoryMetadata"]["cloneUrlHttp"]
        self.head = None

    def commit(self, text: str) -> str:
        """A commit of index.html on main (the first one creates main, the default branch)."""
        extra = {"parentCommitId": self.head} if self.head else {}
        self.head = self.cc.put_file(repositoryName=self.repo, branchName="main", filePath="index.html",
                                     fileContent=base64.b64encode(text.encode()), commitMessage=text, **extra)["commitId"]
        return self.head

    def launch(self, environment: str, phi: str) -> dict:
        code, out, err = self.hc("launch", PRODUCT, "--name", self.name, "--region", REGION,
                                 "-p", f"FriendlyName={self.name}", "-p", f"Environment={environment}",
                                 "-p", f"PHI={phi}", "-p", f"CodeCommitRepo={self.url}",
                                 "-p", f"InstanceOwnerEmail={EMAIL}", "-p", "WebDirectory=clinic")
        assert code == 0, err
        assert out["status"] == "SUCCEEDED"
        return out

    def run(self, *args: str, expect: int = 0) -> tuple[dict, str]:
        code, out, err = self.hc(*args, "--region", REGION)
        assert code == expect, err
        return out, err

    def update(self, *args: str, expect: int = 0) -> tuple[dict, str]:
        return self.run("update", self.name, *args, expect=expect)

    def status(self) -> dict:
        return self.run("status", self.name)[0]

    def stack(self) -> dict:
        pp = aws.client(self.sess, "servicecatalog").describe_provisioned_product(Name=self.name)
        stack_name = f"SC-123456789012-{pp['ProvisionedProductDetail']['Id']}"
        return aws.client(self.sess, "cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]

    def alias_records(self) -> list[dict]:
        zone = setting(self.sess, admin.HOSTED_ZONE_ID)["Value"]
        records = aws.client(self.sess, "route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return [r for r in records if r["Type"] == "A" and r.get("AliasTarget")]

    def check(self, environment: str, phi: str, stack_status: str, status: str = "AVAILABLE",
              cli: bool = False) -> dict:
        """hipaa-catalog status, the stack and (``cli``) the AWS CLI agree; the outputs match the stack's
        resources."""
        st = self.status()
        assert st["status"] == status, st
        stack = self.stack()
        if cli:
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
        # the AMI: the pinned version of the administrator's setting
        ami = aws.client(self.sess, "ssm").get_parameter(Name=outputs["AmiSetting"])["Parameter"]
        assert outputs["AmiSetting"] == f"{admin.WEB_SERVER_AMI.full_name(PREFIX)}:{params['AmiVersion']}"
        assert instance["ImageId"] == ami["Value"]
        assert instance["SubnetId"] == setting(self.sess, admin.INSTANCE_SUBNET)["Value"]
        assert (outputs["SiteRevision"], outputs["SiteRepository"]) == (params["Revision"], params["CodeCommitRepo"])
        records = self.alias_records()
        balancers = aws.client(self.sess, "elbv2").describe_load_balancers()["LoadBalancers"]
        if environment == "PROD":
            [lb] = balancers  # one: leaving PROD did not leave a (protected) load balancer behind
            host = outputs["CompliantWebsiteURL"].split("/")[2]
            assert host == outputs["SiteHostName"] and host.endswith(".clinic.example.org")
            assert [(r["Name"].rstrip("."), r["AliasTarget"]["DNSName"].rstrip(".")) for r in records] == [(host, lb["DNSName"])]
            assert outputs["LoadBalancerDeletionProtection"] == params["DeletionProtection"] == "true"
            attributes = aws.client(self.sess, "elbv2").describe_load_balancer_attributes(
                LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
            assert {"Key": "deletion_protection.enabled", "Value": "true"} in attributes
        else:
            assert outputs["CompliantWebsiteURL"] == f"https://{instance['PrivateDnsName']}/{params['WebDirectory']}/"
            assert "LoadBalancerSecurityGroupId" not in outputs and records == [] and balancers == []
        assert outputs["CompliantWebsiteURL"].endswith(f"/{params['WebDirectory']}/")
        if phi == "YES":
            volume = ec2.describe_volumes(VolumeIds=[outputs["PhiVolumeId"]])["Volumes"][0]
            # in the instance's zone; attached by the instance's bootstrap, which the local endpoint does not run
            assert volume["Encrypted"] and volume["AvailabilityZone"] == instance["Placement"]["AvailabilityZone"]
            assert volume["AvailabilityZone"] == setting(self.sess, admin.INSTANCE_AZ)["Value"]
            assert tags["hipaa-catalog:phi-volume"] == outputs["PhiVolumeId"]
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
    body = json.loads((account["built"] / PRODUCT / VERSION / "template.json").read_text())
    body["Description"] = f"{body.get('Description', '')} ({version})"
    key = f"{PRODUCT}/{version}/{uuid.uuid4().hex}.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), Tagging="servicecatalog:provisioning=true")
    sc.create_provisioning_artifact(ProductId=product, IdempotencyToken=uuid.uuid4().hex, Parameters={
        "Name": version, "Type": "CLOUD_FORMATION_TEMPLATE", "Info": {"LoadTemplateFromURL": template_url(
            bucket, REGION, key)}})


def every_parameter_one_at_a_time(site: Site, environment: str, phi: str) -> None:
    site.update("-p", "FriendlyName=Patient Portal")
    site.check(environment, phi, "UPDATE_COMPLETE")
    site.update("-p", "InstanceOwnerEmail=owner@example.org")
    site.check(environment, phi, "UPDATE_COMPLETE")
    site.update("-p", "WebDirectory=portal")
    assert site.check(environment, phi, "UPDATE_COMPLETE")["CompliantWebsiteURL"].endswith("/portal/")
    repo = aws.client(site.sess, "codecommit").create_repository(repositoryName=f"{site.name}-other")
    site.update("-p", f"CodeCommitRepo={repo['repositoryMetadata']['cloneUrlHttp']}")
    # an empty repository: Revision back to HEAD (no commit of the old repository is kept)
    assert site.check(environment, phi, "UPDATE_COMPLETE")["SiteRevision"] == "HEAD"
    site.update("-p", f"CodeCommitRepo={site.url}")
    assert site.check(environment, phi, "UPDATE_COMPLETE")["SiteRevision"] == site.head


def environment_and_phi_transitions(site: Site, environment: str, phi: str) -> None:
    other_phi = "NO" if phi == "YES" else "YES"
    site.update("-p", f"PHI={other_phi}")
    site.check(environment, other_phi, "UPDATE_COMPLETE")
    other_env = "PROD" if environment == "TEST" else "TEST"
    site.update("-p", f"Environment={other_env}")
    site.check(other_env, other_phi, "UPDATE_COMPLETE")
    site.update("-p", f"Environment={environment}", "-p", f"PHI={phi}")
    site.check(environment, phi, "UPDATE_COMPLETE")


@pytest.mark.parametrize("environment, phi", SCENARIOS)
def test_launch_release_update_new_version_terminate(account, hc, environment, phi):
    RECORDED[(environment, phi)] = lifecycle(account, hc, environment, phi)


def lifecycle(account, hc, environment: str, phi: str) -> Recording:
    """The whole lifecycle as the launch role with IAM enforced; the authorization requests it made, with the
    launch role they were judged against."""
    endpoint = account["endpoint"]
    assert endpoint.iam()["enforce"], "the local endpoint must enforce IAM on launch roles by default"
    endpoint.clear_iam_requests()
    site = Site(account, hc, f"site-{environment.lower()}-{phi.lower()}")
    if (environment, phi) == ("TEST", "NO"):
        # a repository that does not exist is refused with the developer's own credentials, before provisioning
        site.endpoint.reset_calls()
        missing = site.url.replace(site.repo, "no-such-repo")
        code, _out, err = hc("launch", PRODUCT, "--name", site.name, "--region", REGION, "-p", f"CodeCommitRepo={missing}",
                             "-p", f"FriendlyName={site.name}", "-p", f"InstanceOwnerEmail={EMAIL}",
                             "-p", "WebDirectory=clinic")
        assert code == 3 and "there is no CodeCommit repository no-such-repo in us-east-1" in err, err
        assert "aws codecommit create-repository --repository-name no-such-repo" in err
        calls = [c["operation"] for c in site.endpoint.calls()]
        assert "GetRepository" in calls and "ProvisionProduct" not in calls
    first_commit = site.commit("<h1>first</h1>")
    launched = site.launch(environment, phi)
    first = site.check(environment, phi, "CREATE_COMPLETE", cli=True)
    assert launched["outputs"]["SiteRevision"] == first["SiteRevision"] == first_commit
    assert first["AmiSetting"].endswith(f":{setting(site.sess, admin.WEB_SERVER_AMI)['Version']}")

    # release: the new commit of main, the same instance
    second_commit = site.commit("<h1>second</h1>")
    released, err = site.run("release", site.name, "--revision", "main")
    assert (released["status"], released["revision"], released["previous_revision"]) == (
        "SUCCEEDED", second_commit, first_commit)
    after_release = site.check(environment, phi, "UPDATE_COMPLETE")
    assert after_release["SiteRevision"] == second_commit and after_release["InstanceId"] == first["InstanceId"]
    _out, err = site.run("release", site.name, "--revision", "no-such-branch", expect=3)
    assert "has no branch 'no-such-branch'" in err

    # the administrator moves the AMI setting on; an instance-type update keeps the pinned AMI, in place
    ssm = aws.client(site.sess, "ssm")
    ssm.put_parameter(Name=admin.WEB_SERVER_AMI.full_name(PREFIX), Value="ami-0123456789abcdef0", Type="String",
                      Overwrite=True)
    site.update("-p", "InstanceType=t3.medium")
    resized = site.check(environment, phi, "UPDATE_COMPLETE")
    assert resized["InstanceId"] == first["InstanceId"] and resized["AmiSetting"] == first["AmiSetting"]

    if (environment, phi) == ("TEST", "YES"):
        every_parameter_one_at_a_time(site, environment, phi)
    if (environment, phi) in (("TEST", "YES"), ("PROD", "NO")):  # every Environment and PHI transition
        environment_and_phi_transitions(site, environment, phi)

    publish_new_version(account, "2.1.0")
    out, _err = site.update("--version", "2.1.0")
    assert out["version"] == "2.1.0" and site.status()["version"] == "2.1.0"
    before = site.check(environment, phi, "UPDATE_COMPLETE")
    assert before["AmiSetting"] == first["AmiSetting"]

    if (environment, phi) == ("TEST", "YES"):
        # a resource told to fail: the update rolls back, the record says why, the product stays updatable
        site.endpoint.set_resource_failures([{"logical_id": "Instance", "action": "UPDATE"}])
        _out, err = site.update("-p", "InstanceType=t3.large", expect=3)
        assert "UPDATE_FAILED" in err and "Instance" in err and "Failure injected" in err
        after = site.check(environment, phi, "UPDATE_ROLLBACK_COMPLETE", status="TAINTED", cli=True)
        assert after == before
        site.update("-p", "InstanceType=t3.large")
        site.check(environment, phi, "UPDATE_COMPLETE", cli=True)

    history, _err = site.run("history", site.name)
    revisions = [r["outputs"].get("SiteRevision") for r in history["records"]]
    assert [r["record_type"] for r in history["records"]][-1] == "PROVISION_PRODUCT"
    assert revisions[-1] == first_commit and second_commit in revisions

    done, err = site.run("terminate", site.name, "--yes")
    assert done["status"] == "SUCCEEDED" and done["deletion_protection_turned_off"] is (environment == "PROD"), err
    assert aws.client(site.sess, "servicecatalog").search_provisioned_products()["TotalResultsCount"] == 0
    assert site.alias_records() == []
    if phi == "YES":
        # the volume's final snapshot: filter "volume-id - The ID of the volume the snapshot is for"
        # (DescribeSnapshots, Amazon EC2 API Reference,
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html)
        final = aws.client(site.sess, "ec2").describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [before["PhiVolumeId"]]}])["Snapshots"]
        assert len(final) == 1, final
    recorded = endpoint.iam_requests()
    assert {r["operation"] for r in recorded} == {"PROVISION_PRODUCT", "UPDATE_PROVISIONED_PRODUCT",
                                                   "TERMINATE_PROVISIONED_PRODUCT"}
    refused = [r for r in recorded if not r["allowed"]]
    assert not refused, f"the launch role was refused: {refused[:3]}"
    read = {r["resource"].split(":parameter", 1)[1] for r in recorded if r["action"] == "ssm:GetParameters"}
    assert admin.WEB_SERVER_AMI.full_name(PREFIX) in read   # its dynamic reference names a version too
    return Recording(role_policies(site.sess), recorded)


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
    template read, the service-linked role and iam:PassRole.  Each lifecycle's requests are judged against
    the role as deployed in its own account: a statement naming an administrator setting (the hosted zone)
    names that account's value.
    """
    for scenario in SCENARIOS:   # run alone (-k), the lifecycles above did not record: run them here
        if scenario not in RECORDED:
            RECORDED[scenario] = lifecycle(fresh_account(), hc, *scenario)
    account = fresh_account()
    policies = role_policies(account["session"])
    sids = [st.get("Sid") for _name, doc in policies for st in statements(doc)]
    assert all(sids) and len(sids) == len(set(sids)), f"every statement needs a unique Sid: {sids}"
    for scenario, recording in RECORDED.items():   # the same statements, each account's setting values
        assert [st.get("Sid") for _name, doc in recording.policies for st in statements(doc)] == sids, scenario
    breaks = first_breaks(RECORDED)
    unneeded = [sid for sid in sids if sid not in breaks]
    assert not unneeded, f"statements no launch, update or termination needs (remove them): {unneeded}"
    for sid, found in breaks.items():
        assert f"is not authorized to perform: {found.entry['action']} on resource: " in found.message, (sid, found)

    # the recording is faithful: real launches without one statement fail where it predicts
    launch_breaks = [b for b in first_breaks({("TEST", "NO"): RECORDED[("TEST", "NO")]}).values()
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
