"""Is the account ready for web server launches?  Against the local endpoint, over HTTP.

deploy-baseline refuses placements a load balancer could not serve (naming the subnets and their zones)
before any change set; ``hipaa-catalog doctor`` passes on a complete account and, on an account set up
without one prerequisite at a time, names that prerequisite (human output and ``--json``).
"""

from __future__ import annotations

import json

import pytest

from generator.aws import api as aws
from generator.blocks import admin_settings as admin
from generator.devtools import local_account

pytestmark = [pytest.mark.aws, pytest.mark.slow]
REGION = "us-east-1"
PREFIX = "/hipaa-catalog"


def operations(endpoint) -> list[str]:
    return [c["operation"] for c in endpoint.calls()]


def deploy_args(network: dict) -> list[str]:
    return [a for k, v in network.items() for a in ("-p", f"{k}={v}")]


def test_deploy_baseline_refuses_placements_no_load_balancer_could_serve(aws_env, built, hc):
    network = local_account.network(REGION, egress="").baseline_parameters()
    ec2 = aws.client(aws.session(REGION), "ec2", REGION)
    private, public = network["PrivateSubnetIds"].split(","), network["PublicSubnetIds"].split(",")
    zone = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets(SubnetIds=private + public)["Subnets"]}
    other_vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    elsewhere = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.30.1.0/24", AvailabilityZone="us-east-1a")["Subnet"][
        "SubnetId"]
    lonely = ec2.create_subnet(VpcId=network["VpcId"], CidrBlock="10.20.9.0/24",
                               AvailabilityZone="us-east-1c")["Subnet"]["SubnetId"]
    same_zone = [s for s in public if zone[s] == zone[public[0]]]
    cases = [
        ({"PublicSubnetIds": ",".join(same_zone)}, "needs subnets in at least two Availability Zones"),
        ({"PrivateSubnetIds": lonely}, f"no private subnet is in an Availability Zone of the public subnets, so a "
                                       f"load balancer could never reach a web server (private subnets {lonely} "
                                       "(us-east-1c)"),
        ({"PrivateSubnetIds": f"{private[0]},{elsewhere}"}, f"subnets outside VpcId {network['VpcId']}: {elsewhere} "
                                                            f"({other_vpc})"),
        ({"InstanceSubnetId": public[0]}, f"InstanceSubnetId={public[0]} is not one of PrivateSubnetIds"),
        ({"InstanceAvailabilityZone": "us-east-1c"}, f"but InstanceSubnetId {private[0]} is in {zone[private[0]]}"),
        ({"PrivateSubnetIds": "subnet-0123456789abcdef0"}, "no subnet subnet-0123456789abcdef0 in us-east-1"),
    ]
    for change, message in cases:
        aws_env.reset_calls()
        code, _out, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built),
                             *deploy_args({**network, **change}))
        assert code == 2 and message in err, (change, err)
        assert "CreateChangeSet" not in operations(aws_env), change
    code, result, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *deploy_args(network))
    assert code == 0, err
    decided = {d["parameter"]: d["value"] for d in result["decisions"]}
    assert decided["InstanceSubnetId"] == private[0] and decided["InstanceAvailabilityZone"] == zone[private[0]]
    assert decided["WebServerImageId"].startswith("ami-")
    # the next deploy keeps the subnet and the AMI, though the public AMI parameter may have moved on
    code, again, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built))
    assert code == 0 and again["change_set_type"] == "NONE", err
    assert {d["parameter"]: d["value"] for d in again["decisions"]}["WebServerImageId"] == decided["WebServerImageId"]


@pytest.fixture
def ready(aws_env, built, hc):
    """A complete account: the ready account's network (NAT gateways for the private subnets), baseline, launch role."""
    network = local_account.network(REGION).baseline_parameters()
    for command in (["deploy-baseline", *deploy_args(network)], ["deploy-launch-role"]):
        code, _out, err = hc(*command, "--region", REGION, "--yes", "--out", str(built))
        assert code == 0, err
    sess = aws.session(REGION)
    return {"endpoint": aws_env, "network": network, "ec2": aws.client(sess, "ec2"), "ssm": aws.client(sess, "ssm"),
            "sess": sess}


def doctor(hc) -> tuple[int, dict]:
    code, out, err = hc("doctor", "--region", REGION)
    assert out is not None, err
    assert out["ready"] is (code == 0) and out["region"] == REGION
    return code, {c["name"]: c for c in out["checks"]}


def overwrite(ssm, which: admin.AdminSetting, value: str) -> str:
    name = which.full_name(PREFIX)
    old = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    ssm.put_parameter(Name=name, Value=value, Type=which.ssm_type, Overwrite=True)
    return old


def test_doctor_on_an_account_without_the_baseline_names_every_setting(aws_env, hc):
    code, checks = doctor(hc)
    assert code == 1
    assert checks["settings"]["ok"] is False and f"{len(admin.ALL)} of {len(admin.ALL)} settings missing" in \
        checks["settings"]["detail"] and "deploy-baseline" in checks["settings"]["fix"]
    assert all(c["skipped"] for n, c in checks.items() if n not in ("settings", "launch-role"))
    assert checks["launch-role"]["ok"] is False and checks["launch-role"]["fix"] == "hipaa-catalog deploy-launch-role"


def test_doctor_names_each_missing_prerequisite(ready, hc, capsys):
    from generator.cli import main as cli

    code, checks = doctor(hc)
    assert code == 0 and all(c["ok"] for c in checks.values()), checks
    capsys.readouterr()
    assert cli.main(["doctor", "--region", REGION]) == 0
    assert f"{REGION}: ready for web server launches" in capsys.readouterr().out

    ec2, ssm, network = ready["ec2"], ready["ssm"], ready["network"]
    subnet = ssm.get_parameter(Name=admin.INSTANCE_SUBNET.full_name(PREFIX))["Parameter"]["Value"]
    [table] = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]

    # egress: no NAT route, then VPC endpoints one by one
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
    code, checks = doctor(hc)
    assert code == 1 and not checks["egress"]["ok"]
    detail = checks["egress"]["detail"]
    for service in ("ssm", "ssmmessages", "ec2messages", "logs", "cloudformation", "git-codecommit", "ec2"):
        assert f"interface endpoint com.amazonaws.{REGION}.{service}" in detail
    assert f"gateway endpoint com.amazonaws.{REGION}.s3 on route table {table['RouteTableId']}" in detail
    vpc = network["VpcId"]
    for service in ("ssm", "ssmmessages", "ec2messages", "logs", "cloudformation", "git-codecommit", "ec2"):
        ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.{service}", VpcEndpointType="Interface",
                                SubnetIds=[subnet], PrivateDnsEnabled=True)
    only_elsewhere = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                              "Action": "s3:GetObject",
                                                              "Resource": "arn:aws:s3:::my-bucket/*"}]}
    s3 = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.s3", VpcEndpointType="Gateway",
                                 RouteTableIds=[table["RouteTableId"]], PolicyDocument=json.dumps(only_elsewhere))
    code, checks = doctor(hc)
    assert not checks["egress"]["ok"] and f"al2023-repos-{REGION}-de612dc2" in checks["egress"]["detail"]
    repositories = dict(only_elsewhere, Statement=[dict(only_elsewhere["Statement"][0], Resource=[
        "arn:aws:s3:::my-bucket/*", f"arn:aws:s3:::al2023-repos-{REGION}-de612dc2/*"])])
    ec2.modify_vpc_endpoint(VpcEndpointId=s3["VpcEndpoint"]["VpcEndpointId"], PolicyDocument=json.dumps(repositories))
    code, checks = doctor(hc)
    assert checks["egress"]["ok"] and "VPC endpoints" in checks["egress"]["detail"], checks["egress"]

    # placement: the instance subnet is a public one; its zone setting is wrong
    public = network["PublicSubnetIds"].split(",")
    kept = overwrite(ssm, admin.INSTANCE_SUBNET, public[0])
    code, checks = doctor(hc)
    assert code == 1 and f"the instance subnet {public[0]} is not one of the private subnets" in checks["placement"]["detail"]
    overwrite(ssm, admin.INSTANCE_SUBNET, kept)
    zone = overwrite(ssm, admin.INSTANCE_AZ, "us-east-1c")
    code, checks = doctor(hc)
    assert "is us-east-1c, but" in checks["placement"]["detail"]
    overwrite(ssm, admin.INSTANCE_AZ, zone)

    # subnets and VPC
    other_vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    stray = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.40.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    private = overwrite(ssm, admin.PRIVATE_SUBNETS, f"{network['PrivateSubnetIds']},{stray},subnet-0123456789abcdef0")
    code, checks = doctor(hc)
    assert f"private subnet {stray} is in {other_vpc}, not {vpc}" in checks["subnets"]["detail"]
    assert "private subnet subnet-0123456789abcdef0 does not exist" in checks["subnets"]["detail"]
    assert checks["placement"]["skipped"] and checks["egress"]["skipped"]
    overwrite(ssm, admin.PRIVATE_SUBNETS, private)
    kept_vpc = overwrite(ssm, admin.VPC_ID, "vpc-0123456789abcdef0")
    code, checks = doctor(hc)
    assert "VPC vpc-0123456789abcdef0" in checks["vpc"]["detail"] and checks["subnets"]["skipped"]
    overwrite(ssm, admin.VPC_ID, kept_vpc)

    # the certificate: another domain's; not validated yet; of another region
    acm = aws.client(ready["sess"], "acm")
    other = acm.request_certificate(DomainName="portal.example.net", ValidationMethod="DNS")["CertificateArn"]
    cert = overwrite(ssm, admin.CERTIFICATE_ARN, other)
    code, checks = doctor(hc)
    assert code == 1 and f"it does not cover *.{local_account.SITE_DOMAIN}" in checks["certificate"]["detail"]
    assert "PENDING_VALIDATION, not ISSUED" in checks["certificate"]["detail"]
    west = aws.client(aws.session("us-west-2"), "acm", "us-west-2").request_certificate(
        DomainName=f"*.{local_account.SITE_DOMAIN}", ValidationMethod="DNS")["CertificateArn"]
    overwrite(ssm, admin.CERTIFICATE_ARN, west)
    code, checks = doctor(hc)
    assert f"is in us-west-2, not {REGION}" in checks["certificate"]["detail"]
    overwrite(ssm, admin.CERTIFICATE_ARN, cert)

    # the hosted zone: none; a private one; another domain's
    r53 = aws.client(ready["sess"], "route53")
    zone_id = overwrite(ssm, admin.HOSTED_ZONE_ID, "Z0000000000000000NONE")
    code, checks = doctor(hc)
    assert "hosted zone Z0000000000000000NONE does not exist" in checks["hosted-zone"]["detail"]
    private_zone = r53.create_hosted_zone(Name=local_account.SITE_DOMAIN, CallerReference="private", HostedZoneConfig={
        "PrivateZone": True}, VPC={"VPCRegion": REGION, "VPCId": vpc})["HostedZone"]["Id"].rsplit("/", 1)[-1]
    overwrite(ssm, admin.HOSTED_ZONE_ID, private_zone)
    code, checks = doctor(hc)
    assert "it is a private zone" in checks["hosted-zone"]["detail"]
    elsewhere = r53.create_hosted_zone(Name="example.net", CallerReference="net")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    overwrite(ssm, admin.HOSTED_ZONE_ID, elsewhere)
    code, checks = doctor(hc)
    assert f"{local_account.SITE_DOMAIN} is not example.net nor below it" in checks["hosted-zone"]["detail"]
    # the launch role, deployed with the earlier setting, may change records only in that zone
    assert checks["launch-role"]["ok"] is False and checks["launch-role"]["detail"].startswith(
        f"the launch role may change DNS records only in arn:aws:route53:::hostedzone/{zone_id} named "
        f"*.{local_account.SITE_DOMAIN}, but this region's settings name hosted zone {elsewhere}")
    assert "deploy-launch-role" in checks["launch-role"]["fix"]
    overwrite(ssm, admin.HOSTED_ZONE_ID, zone_id)

    # the AMI; a setting gone
    image = overwrite(ssm, admin.WEB_SERVER_AMI, "ami-0123456789abcdef0")
    code, checks = doctor(hc)
    assert "ami-0123456789abcdef0, which does not exist" in checks["ami"]["detail"]
    overwrite(ssm, admin.WEB_SERVER_AMI, image)
    ssm.delete_parameter(Name=admin.DOMAIN.full_name(PREFIX))
    code, checks = doctor(hc)
    assert f"1 of {len(admin.ALL)} settings missing: {admin.DOMAIN.full_name(PREFIX)}" in checks["settings"]["detail"]
    capsys.readouterr()
    assert cli.main(["doctor", "--region", REGION]) == 1
    printed = capsys.readouterr().out
    assert "settings     MISSING" in printed and "fix settings: hipaa-catalog deploy-baseline" in printed
    assert f"{REGION}: not ready" in printed
