"""The ready local account (generator/devtools/local_account.py), against the local endpoint over HTTP: with VPC
endpoints instead of NAT gateways ``doctor`` finds it ready; its files hold the values it made; it refuses to
run anywhere but on a local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile

import pytest

from generator.aws import api as aws
from generator.devtools import local_account
from generator.devtools.local_aws import FORK_SERVER, forkserver

pytestmark = [pytest.mark.aws, pytest.mark.slow]
REGION = "us-east-1"


def test_with_vpc_endpoints_instead_of_nat_gateways_doctor_finds_the_account_ready(aws_env, built, hc):
    network = local_account.network(REGION, egress="endpoints")
    ec2 = aws.client(aws.session(REGION), "ec2", REGION)
    assert not ec2.describe_nat_gateways()["NatGateways"]
    endpoints = ec2.describe_vpc_endpoints(VpcEndpointIds=list(network.egress_ids))["VpcEndpoints"]
    assert {e["ServiceName"].rsplit(".", 1)[-1] for e in endpoints if e["VpcEndpointType"] == "Interface"} == {
        "ssm", "ssmmessages", "ec2messages", "logs", "cloudformation", "git-codecommit", "ec2"}
    args = [a for k, v in network.baseline_parameters().items() for a in ("-p", f"{k}={v}")]
    for command in (["deploy-baseline", *args], ["deploy-launch-role"]):
        code, _out, err = hc(*command, "--region", REGION, "--yes", "--out", str(built))
        assert code == 0, err
    code, report, err = hc("doctor", "--region", REGION)
    checks = {c["name"]: c for c in report["checks"]}
    assert code == 0 and report["ready"], checks
    assert "VPC endpoints" in checks["egress"]["detail"]


def test_nat_gateways_one_per_zone_and_the_files_hold_what_was_made(aws_env, tmp_path):
    account = local_account.prepare([REGION, "us-west-2"], REGION)
    paths = local_account.write(account, tmp_path)
    assert [p.name for p in paths] == ["account.json", f"{REGION}.env", "us-west-2.env"]
    saved = json.loads(paths[0].read_text())
    assert saved["endpoint_url"] == aws_env.url and saved["primary_region"] == REGION
    east = account.networks[REGION]
    ec2 = aws.client(aws.session(REGION), "ec2", REGION)
    gateways = ec2.describe_nat_gateways(NatGatewayIds=list(east.egress_ids))["NatGateways"]
    assert sorted(g["SubnetId"] for g in gateways) == sorted(east.public_subnet_ids)
    # each private subnet's default route goes to the NAT gateway of its own zone
    zone = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(
        SubnetIds=[*east.private_subnet_ids, *east.public_subnet_ids])["Subnets"]}
    for subnet in east.private_subnet_ids:
        [table] = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
            "RouteTables"]
        [nat] = [r["NatGatewayId"] for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert zone[{g["NatGatewayId"]: g["SubnetId"] for g in gateways}[nat]] == zone[subnet]
    # sourcing a region's file gives the endpoint's variables and that region's values
    shown = subprocess.run(["bash", "-c", f"source {paths[1]}; echo $AWS_ENDPOINT_URL $AWS_REGION $VPC_ID "
                                          "$PRIVATE_SUBNET_IDS $PROD_CERTIFICATE_ARN $SITE_REPOSITORY_URL"],
                           capture_output=True, text=True, check=True).stdout.split()
    site = saved["regions"][REGION]["site"]
    assert shown == [aws_env.url, REGION, east.vpc_id, ",".join(east.private_subnet_ids), east.certificate_arn,
                     site["clone_url"]]
    assert saved["regions"][REGION]["baseline_parameters"] == east.baseline_parameters()
    assert saved["regions"][REGION]["values"]["VPC_ID"] == east.vpc_id
    assert f"  VPC_ID={east.vpc_id}" in account.describe().splitlines()   # printed for people too
    cc = aws.client(aws.session(REGION), "codecommit", REGION)
    assert cc.get_branch(repositoryName=site["repository"], branchName="main")["branch"]["commitId"] == site["commit"]


@pytest.mark.parametrize("url", [None, "https://servicecatalog.us-east-1.amazonaws.com"])
def test_it_refuses_to_run_anywhere_but_on_a_local_endpoint(monkeypatch, capsys, url):
    if url is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    assert local_account.main(["--out", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert "a ready account is prepared only on a local endpoint" in err and "make local-aws READY=1" in err


def test_make_local_aws_ready_stops_with_the_reason_when_the_account_cannot_be_made(tmp_path):
    """Nothing half-done: an endpoint whose ready account failed does not stay up looking ready.  The server's
    command line (``server.run``, what ``python -m generator.devtools.local_aws.server`` runs) is forked from
    the run's warm parent, without an interpreter's start and imports of its own."""
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    argv = ["--port", "0", "--ready-account", "--account-dir", str(blocked / "local-account")]
    with tempfile.TemporaryFile() as err:
        server = forkserver.spawn(os.environ[FORK_SERVER], argv, stderr=err, env=dict(os.environ), cwd=os.getcwd())
        server.stdin.close()
        out = server.stdout.read().decode()
        server.stdout.close()
        assert server.wait(timeout=120) == 1 and "listening on" not in out
        err.seek(0)
        said = err.read().decode()
    assert "cannot write the values into" in said and "the ready account could not be prepared" in said
