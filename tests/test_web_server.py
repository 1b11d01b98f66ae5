"""Behaviour of the healthcare web server template, per Environment x PHI scenario, and of its config."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from generator import render
from generator.blocks import admin_settings as admin, instance_types as it
from generator.compliance.scenarios import resolve
from generator.errors import ConfigError
from products import web_server as ws

SCENARIOS = [(env, phi) for env in ("PROD", "TEST") for phi in ("YES", "NO")]
OPEN = {"0.0.0.0/0", "::/0"}
REQUIRED_TAGS = {"Name", "Owner", "Environment", "PHI", "Product", "ProductVersion"}


@pytest.fixture(scope="module")
def cfg(settings):
    return ws.make_config(settings, settings.products[ws.NAME], {})


@pytest.fixture(scope="module")
def template(cfg):
    return json.loads(render.canonical_json(ws.build(cfg)))


def effective(template, env, phi, key_name=""):
    return resolve(template, {"Environment": env, "PHI": phi, "KeyName": key_name})


def of_type(t, rtype):
    return {lid: r for lid, r in t["Resources"].items() if r["Type"] == rtype}


def ingress_rules(t):
    """(security group logical id, rule) for every inline and standalone ingress rule."""
    out = []
    for lid, sg in of_type(t, "AWS::EC2::SecurityGroup").items():
        out += [(lid, rule) for rule in sg["Properties"].get("SecurityGroupIngress", [])]
    for rule in of_type(t, "AWS::EC2::SecurityGroupIngress").values():
        out.append((rule["Properties"]["GroupId"]["Fn::GetAtt"][0], rule["Properties"]))
    return out


def from_internet(t):
    return {(sg, rule["FromPort"], rule.get("CidrIp") or rule.get("CidrIpv6")) for sg, rule in ingress_rules(t)
            if rule.get("CidrIp") in OPEN or rule.get("CidrIpv6") in OPEN}


# --- scenarios ---------------------------------------------------------------------------------

@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_internet_reaches_only_https_and_the_redirect_on_the_load_balancer(template, env, phi):
    t = effective(template, env, phi)
    reachable = from_internet(t)
    if env == "TEST":
        assert reachable == set()
        assert not of_type(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        return
    sg = "LoadBalancerSecurityGroup"
    assert reachable == {(sg, 443, "0.0.0.0/0"), (sg, 443, "::/0"), (sg, 80, "0.0.0.0/0"), (sg, 80, "::/0")}
    lb = t["Resources"]["LoadBalancer"]["Properties"]
    assert lb["Scheme"] == "internet-facing" and lb["SecurityGroups"] == [{"Fn::GetAtt": [sg, "GroupId"]}]
    assert lb["Subnets"] == {"Ref": "PublicSubnetIds"}
    attrs = {a["Key"]: a["Value"] for a in lb["LoadBalancerAttributes"]}
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == "{{resolve:ssm:/hipaa-catalog/logging/access-log-bucket}}"
    listeners = {r["Properties"]["Port"]: r["Properties"]
                 for r in of_type(t, "AWS::ElasticLoadBalancingV2::Listener").values()}
    assert set(listeners) == {80, 443}
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"] == [{"CertificateArn": "{{resolve:ssm:/hipaa-catalog/prod/certificate-arn}}"}]
    [redirect] = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS" and redirect["RedirectConfig"]["Port"] == "443"
    tg = t["Resources"]["TargetGroup"]["Properties"]
    assert (tg["Protocol"], tg["Port"], tg["HealthCheckProtocol"]) == ("HTTPS", 443, "HTTPS")
    assert tg["Targets"] == [{"Id": {"Ref": "Instance"}, "Port": 443}]


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_instance_accepts_only_the_load_balancer_in_prod_and_the_admin_network_in_test(template, env, phi):
    t = effective(template, env, phi)
    rules = {(r["FromPort"], r["ToPort"], json.dumps({k: v for k, v in r.items() if k in
             ("CidrIp", "CidrIpv6", "SourceSecurityGroupId")}, sort_keys=True))
             for sg, r in ingress_rules(t) if sg == "InstanceSecurityGroup"}
    if env == "PROD":
        alb = {"SourceSecurityGroupId": {"Fn::GetAtt": ["LoadBalancerSecurityGroup", "GroupId"]}}
        assert rules == {(443, 443, json.dumps(alb, sort_keys=True))}
    else:
        cidr = json.dumps({"CidrIp": "{{resolve:ssm:/hipaa-catalog/network/admin-cidr}}"})
        assert rules == {(443, 443, cidr)}  # no key pair given: no SSH rule either
    for _, rule in ingress_rules(t):
        assert rule["IpProtocol"] == "tcp" and rule["Description"]


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_ssh_is_open_only_in_test_and_only_with_a_key_pair(template, env, phi):
    def ssh(t):
        return [(sg, r) for sg, r in ingress_rules(t) if r["FromPort"] == 22]

    assert ssh(effective(template, env, phi)) == []
    with_key = effective(template, env, phi, "my-key")
    if env == "PROD":
        assert ssh(with_key) == [] and "KeyName" not in with_key["Resources"]["Instance"]["Properties"]
    else:
        [(sg, rule)] = ssh(with_key)
        assert sg == "InstanceSecurityGroup" and rule["CidrIp"] == "{{resolve:ssm:/hipaa-catalog/network/admin-cidr}}"
        assert with_key["Resources"]["Instance"]["Properties"]["KeyName"] == "my-key"


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_instance_is_private_and_hardened(template, env, phi):
    t = effective(template, env, phi)
    assert not of_type(t, "AWS::EC2::EIP") and not of_type(t, "AWS::EC2::EIPAssociation")
    [instance] = of_type(t, "AWS::EC2::Instance").values()
    p = instance["Properties"]
    [nic] = p["NetworkInterfaces"]
    assert nic["AssociatePublicIpAddress"] is False
    # the administrator's instance subnet: in an Availability Zone of the load balancers' subnets
    assert nic["SubnetId"] == "{{resolve:ssm:/hipaa-catalog/network/instance-subnet-id}}"
    assert "SubnetId" not in p
    assert p["MetadataOptions"]["HttpTokens"] == "required"
    assert p["Monitoring"] is True
    assert p["IamInstanceProfile"] == {"Ref": "InstanceProfile"}
    assert "KeyName" not in p  # no key given; and never in PROD (see the KeyName test)


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_every_volume_is_encrypted_with_the_phi_key_or_the_aws_managed_ebs_key(template, env, phi):
    t = effective(template, env, phi)
    volumes = [r["Properties"] for r in of_type(t, "AWS::EC2::Volume").values()]
    volumes += [m["Ebs"] for r in of_type(t, "AWS::EC2::Instance").values()
                for m in r["Properties"]["BlockDeviceMappings"] if "Ebs" in m]
    assert len(volumes) == (2 if phi == "YES" else 1)
    for v in volumes:
        assert v["Encrypted"] is True
        # PHI=YES: the stack's own PhiKey; PHI=NO: the AWS-managed EBS key (no customer key at all)
        assert v["KmsKeyId"] == ({"Fn::GetAtt": ["PhiKey", "Arn"]} if phi == "YES" else ws.AWS_MANAGED_EBS_KEY)
    for key in of_type(t, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_phi_volume_key_and_backup_exist_exactly_when_phi(template, env, phi):
    t = effective(template, env, phi)
    res, outputs = t["Resources"], t["Outputs"]
    configsets = res["Instance"]["Metadata"]["AWS::CloudFormation::Init"]["configSets"]["bootstrap"]
    phi_ids = {"PhiKey", "PhiVolume", "PhiVolumeAttachPolicy", "PhiBackupVault", "PhiBackupPlan", "PhiBackupSelection"}
    if phi == "NO":
        assert not phi_ids & set(res) and "PhiVolumeId" not in outputs
        assert of_type(t, "AWS::KMS::Key") == {} and of_type(t, "AWS::KMS::Alias") == {}  # PHI=NO: no key
        assert "phi_volume" not in configsets
        return
    assert phi_ids <= set(res)
    assert set(of_type(t, "AWS::KMS::Key")) == {"PhiKey"} and set(of_type(t, "AWS::KMS::Alias")) == {"PhiKeyAlias"}
    assert res["PhiVolume"]["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PhiKey", "Arn"]}
    assert res["PhiBackupVault"]["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": ["PhiKey", "Arn"]}
    selected = res["PhiBackupSelection"]["Properties"]["BackupSelection"]["Resources"]
    # the PHI volume and the whole instance (its root volume too)
    assert [s["Fn::Sub"][1] for s in selected] == [{"Volume": {"Ref": "PhiVolume"}}, {"Instance": {"Ref": "Instance"}}]
    assert outputs["PhiVolumeId"]["Value"] == {"Ref": "PhiVolume"}
    assert configsets.index("phi_volume") < configsets.index("site")


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_the_phi_volume_is_never_detached_while_mounted_and_leaves_a_final_snapshot(template, env, phi):
    """No AWS::EC2::VolumeAttachment (deleting one detaches the mounted volume: stuck "busy"); the instance
    attaches the volume itself, depends on it (its tag names it) so it is terminated first, and the volume
    keeps a final snapshot when it is deleted or replaced."""
    t = effective(template, env, phi)
    res = t["Resources"]
    assert not of_type(t, "AWS::EC2::VolumeAttachment") and not of_type(t, "AWS::CloudFormation::WaitCondition")
    instance = res["Instance"]
    tags = {x["Key"]: x["Value"] for x in instance["Properties"]["Tags"]}
    managed = instance_role_policies(t)
    if phi == "NO":
        assert tags[ws.PHI_VOLUME_TAG] == "none" and {"Ref": "PhiVolumeAttachPolicy"} not in managed
        return
    volume = res["PhiVolume"]
    assert (volume["DeletionPolicy"], volume["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    # in the instance subnet's zone, from the setting: the volume does not depend on the instance
    assert volume["Properties"]["AvailabilityZone"] == "{{resolve:ssm:/hipaa-catalog/network/instance-availability-zone}}"
    assert tags[ws.PHI_VOLUME_TAG] == {"Ref": "PhiVolume"}
    assert {"Ref": "PhiVolumeAttachPolicy"} in managed
    attach, to, describe = res["PhiVolumeAttachPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert attach["Action"] == to["Action"] == ["ec2:AttachVolume"] and describe["Action"] == ["ec2:DescribeVolumes"]
    assert attach["Resource"][0]["Fn::Sub"][1] == {"Volume": {"Ref": "PhiVolume"}}
    assert to["Condition"] == {"StringEquals": {"aws:ResourceTag/aws:cloudformation:stack-id": {"Ref": "AWS::StackId"}}}
    step = instance["Metadata"]["AWS::CloudFormation::Init"]["phi_volume"]
    script = step["files"][ws.bootstrap.ATTACH_PHI_PATH]["content"]["Fn::Sub"]
    assert script[1]["Volume"] == {"Ref": "PhiVolume"} and "attach-volume" in script[0]
    # while the instance this one replaces still holds it, the unit attaches it once that one is gone
    assert f"exit {ws.bootstrap.VOLUME_HELD}" in script[0]
    assert f"-eq {ws.bootstrap.VOLUME_HELD}" in step["commands"]["20_attach_phi_volume"]["command"]


def test_a_retained_phi_volume_is_an_option(settings):
    retained = ws.build(make(settings, phi_volume_deletion_policy="Retain"))
    volume = json.loads(render.canonical_json(retained))["Resources"]["PhiVolume"]
    assert (volume["DeletionPolicy"], volume["UpdateReplacePolicy"]) == ("Retain", "Retain")


def instance_role_policies(t) -> list:
    return t["Resources"]["InstanceRole"]["Properties"]["ManagedPolicyArns"]


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_the_ami_is_a_pinned_version_of_the_administrators_setting(template, env, phi):
    """An update that keeps AmiVersion resolves the same AMI: no unasked replacement (ImageId replaces)."""
    t = effective(template, env, phi)
    image = t["Resources"]["Instance"]["Properties"]["ImageId"]
    assert image == {"Fn::Sub": "{{resolve:ssm:/hipaa-catalog/compute/web-server-ami-id:${AmiVersion}}}"}
    assert "/aws/service/" not in json.dumps(t)  # no public parameter: it moves on every update
    spec = template["Parameters"]["AmiVersion"]
    assert "Default" not in spec and re.fullmatch(spec["AllowedPattern"], "12")
    assert not re.fullmatch(spec["AllowedPattern"], "0") and not re.fullmatch(spec["AllowedPattern"], "latest")
    assert t["Outputs"]["AmiSetting"]["Value"] == {"Fn::Sub": "/hipaa-catalog/compute/web-server-ami-id:${AmiVersion}"}


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_prod_gets_its_own_name_in_the_administrators_zone(template, env, phi):
    t = effective(template, env, phi)
    records = of_type(t, "AWS::Route53::RecordSet")
    url = t["Outputs"]["CompliantWebsiteURL"]["Value"]["Fn::Sub"]
    if env == "TEST":
        assert records == {} and url == "https://${Instance.PrivateDnsName}/${WebDirectory}/"
        assert "SiteHostName" not in t["Outputs"]
        return
    record = records["SiteRecord"]["Properties"]
    assert record["HostedZoneId"] == "{{resolve:ssm:/hipaa-catalog/dns/hosted-zone-id}}"
    assert record["Type"] == "A" and record["AliasTarget"] == {
        "DNSName": {"Fn::GetAtt": ["LoadBalancer", "DNSName"]},
        "HostedZoneId": {"Fn::GetAtt": ["LoadBalancer", "CanonicalHostedZoneID"]}, "EvaluateTargetHealth": False}
    # <the stack id's UUID>.<domain>: one name per stack, never another launch's, under the certificate's *.<domain>
    text, variables = record["Name"]["Fn::Sub"]
    assert text == "${SiteId}.{{resolve:ssm:/hipaa-catalog/dns/domain}}"
    assert variables == {"SiteId": {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}}
    stack_id = "arn:aws:cloudformation:us-west-2:123456789012:stack/teststack/51af3dc0-da77-11e4-872e-1234567db123"
    assert stack_id.split("/")[2] == "51af3dc0-da77-11e4-872e-1234567db123"
    assert url == "https://${SiteRecord}/${WebDirectory}/"  # Ref of a record set: its name
    assert t["Outputs"]["SiteHostName"]["Value"] == {"Ref": "SiteRecord"}


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_health_is_the_bootstraps_own_path_whatever_the_site_holds(template, env, phi):
    t = effective(template, env, phi)
    site_conf = t["Resources"]["Instance"]["Metadata"]["AWS::CloudFormation::Init"]["https"]["files"][
        ws.bootstrap.SITE_CONF_PATH]["content"]
    assert f'Alias "{ws.bootstrap.HEALTH_PATH}" "{ws.bootstrap.HEALTH_FILE}"' in site_conf
    assert not re.fullmatch(ws.WEB_DIRECTORY_PATTERN, ws.bootstrap.HEALTH_PATH.strip("/"))  # no site path is it
    groups = of_type(t, "AWS::ElasticLoadBalancingV2::TargetGroup")
    if env == "TEST":
        assert groups == {}
        return
    tg = groups["TargetGroup"]["Properties"]
    assert (tg["HealthCheckPath"], tg["HealthCheckProtocol"], tg["Matcher"]) == (
        ws.bootstrap.HEALTH_PATH, "HTTPS", {"HttpCode": "200"})


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_prod_load_balancer_has_deletion_protection_by_default(template, env, phi):
    t = effective(template, env, phi)
    if env == "TEST":
        assert not of_type(t, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        return
    lb = t["Resources"]["LoadBalancer"]
    attrs = {a["Key"]: a["Value"] for a in lb["Properties"]["LoadBalancerAttributes"]}
    assert attrs["deletion_protection.enabled"] == {"Ref": "DeletionProtection"}
    assert template["Parameters"]["DeletionProtection"]["Default"] == "true"
    assert t["Outputs"]["LoadBalancerDeletionProtection"]["Value"] == {"Ref": "DeletionProtection"}
    # the Guard rule wants a literal true: suppressed, with the reason
    assert lb["Metadata"]["guard"]["SuppressedRules"] == ["ELB_DELETION_PROTECTION_ENABLED"]
    [reason] = lb["Metadata"]["hipaa-catalog"]["guard-suppressions"]
    assert "hipaa-catalog terminate" in reason["reason"] and "pending" not in reason["reason"]


def taggable(rtype, regions):
    """The tag property of ``rtype`` per the provider schema's ``tagging`` section, in every catalog region
    (a type taggable in one region only still gets its tags), or [] when the type takes no tags."""
    props = set()
    for region in regions:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, rtype).schema
        tagging = schema.get("tagging", {})
        if tagging.get("taggable", False) and tagging.get("tagProperty"):
            props.add(tagging["tagProperty"].removeprefix("/properties/"))
    return sorted(props)


def test_taggable_types_come_from_the_schemas(settings):
    regions = settings.regions
    assert taggable("AWS::EC2::Instance", regions) == ["Tags"]
    assert taggable("AWS::Backup::BackupVault", regions) == ["BackupVaultTags"]
    # schema lists a Tags property but says the type is not taggable through CloudFormation
    assert taggable("AWS::IAM::InstanceProfile", regions) == []
    assert taggable("AWS::EC2::SecurityGroupIngress", regions) == []


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_every_taggable_resource_carries_the_standard_tags(template, cfg, settings, env, phi):
    t = effective(template, env, phi)
    checked = 0
    for lid, r in t["Resources"].items():
        for prop in taggable(r["Type"], settings.regions):
            value = r["Properties"].get(prop)
            assert value, f"{lid} ({r['Type']}) has no {prop}"
            found = value if isinstance(value, dict) else {x["Key"]: x["Value"] for x in value}
            assert REQUIRED_TAGS <= set(found), f"{lid}: missing {REQUIRED_TAGS - set(found)}"
            assert found["Environment"] == env and found["PHI"] == phi
            assert found["Owner"] == {"Ref": "InstanceOwnerEmail"}
            assert (found["Product"], found["ProductVersion"]) == (cfg.product, cfg.version)
            checked += 1
    # instance, its SG, role, 3 log groups; + ALB, its SG, target group, 2 listeners; + PHI key, volume,
    # vault, plan and backup role: a new taggable resource must be added here on purpose (the record set
    # and managed policies take no tags)
    assert checked == 6 + (5 if env == "PROD" else 0) + (5 if phi == "YES" else 0)
    assert t["Resources"]["Instance"]["Properties"]["PropagateTagsToVolumeOnCreation"] is True


@pytest.mark.parametrize("env,phi", SCENARIOS)
def test_outputs_give_the_https_url_and_the_ids(template, env, phi):
    outputs = effective(template, env, phi)["Outputs"]
    host = "${SiteRecord}" if env == "PROD" else "${Instance.PrivateDnsName}"
    assert outputs["CompliantWebsiteURL"]["Value"] == {"Fn::Sub": f"https://{host}/${{WebDirectory}}/"}
    expected = {"CompliantWebsiteURL", "InstanceId", "InstanceSecurityGroupId", "AccessLogGroupName",
                "ErrorLogGroupName", "BootstrapLogGroupName", "SiteRevision", "SiteRepository", "AmiSetting"}
    expected |= {"LoadBalancerSecurityGroupId", "SiteHostName", "LoadBalancerDeletionProtection"} if env == "PROD" \
        else set()
    expected |= {"PhiVolumeId"} if phi == "YES" else set()
    assert set(outputs) == expected


@pytest.mark.parametrize("env,expected", [("TEST", "my-key"), ("PROD", None)])
def test_key_pair_only_in_test_and_only_when_given(template, env, expected):
    assert effective(template, env, "NO", "my-key")["Resources"]["Instance"]["Properties"].get("KeyName") == expected


# --- parameters --------------------------------------------------------------------------------

def test_every_parameter_is_described_constrained_and_on_the_form(template):
    params = template["Parameters"]
    assert {"FriendlyName", "CodeCommitRepo", "Environment", "PHI", "WebDirectory", "InstanceType",
            "InstanceOwnerEmail", "KeyName"} <= set(params)
    for name, p in params.items():
        assert p["Description"] and p["ConstraintDescription"], name
        assert {"AllowedPattern", "AllowedValues"} & set(p), name
    ui = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [n for g in ui["ParameterGroups"] for n in g["Parameters"]]
    assert sorted(grouped) == sorted(params)
    assert set(ui["ParameterLabels"]) == set(params)
    assert ui["ParameterGroups"][-1]["Label"]["default"] == "Administrator settings (do not change)"


def test_admin_subnet_parameter_is_locked_to_the_admin_setting(template):
    p = template["Parameters"]["PublicSubnetIds"]
    full = admin.PUBLIC_SUBNETS.full_name("/hipaa-catalog")
    assert (p["Type"], p["Default"], p["AllowedValues"]) == (admin.PUBLIC_SUBNETS.cfn_type, full, [full])
    assert "PrivateSubnetIds" not in template["Parameters"]  # the instance subnet is its own setting


@pytest.mark.parametrize("value,ok", [
    ("HEAD", True), ("main", True), ("feature/new-page", True), ("release-1.2", True),
    ("3f1c0e9d0b5c4e0a8f6d2b7a9c1e4f5a6b7c8d9e", True),
    ("", False), ("-x", False), ("../etc", False), ("/main", False), ("main;rm", False), ("a b", False),
    ("$(id)", False), ("`id`", False), ('a"b', False), ("x" * 256, False),
])
def test_revision_pattern(template, value, ok):
    p = template["Parameters"]["Revision"]
    assert (re.fullmatch(p["AllowedPattern"], value) is not None and len(value) <= p["MaxLength"]) is ok
    assert p["Default"] == "HEAD"


def test_a_release_changes_only_the_instances_metadata(template):
    """Revision is read in the Init metadata only (a metadata change: no interruption, cfn-hup acts on it)."""
    instance = template["Resources"]["Instance"]
    assert "Revision" not in json.dumps(instance["Properties"])
    deploy = instance["Metadata"]["AWS::CloudFormation::Init"]["site"]["files"][ws.bootstrap.DEPLOY_SITE_PATH]
    assert 'revision="${Revision}"' in deploy["content"]["Fn::Sub"]
    hook = instance["Metadata"]["AWS::CloudFormation::Init"]["cfn_hup"]["files"][
        "/etc/cfn/hooks.d/cfn-auto-reloader.conf"]["content"]["Fn::Sub"][0]
    assert "path=Resources.${Instance}.Metadata.AWS::CloudFormation::Init" in hook


def allowed(template, name, value):
    p = template["Parameters"][name]
    if not p.get("MinLength", 0) <= len(value) <= p.get("MaxLength", 4096):
        return False
    return re.fullmatch(p["AllowedPattern"], value) is not None  # CloudFormation matches the whole value


@pytest.mark.parametrize("value,ok", [
    ("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/patient-portal", True),
    ("https://git-codecommit.eu-central-1.amazonaws.com/v1/repos/My_Repo.v2", True),
    ("https://git-codecommit.us-gov-west-1.amazonaws.com/v1/repos/site", True),
    ("http://git-codecommit.us-east-1.amazonaws.com/v1/repos/site", False),
    ("https://github.com/example/site", False),
    ("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/", False),
    ("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/a/b", False),
    ("ssh://git-codecommit.us-east-1.amazonaws.com/v1/repos/site", False),
    ("https://git-codecommit.us-east-1.amazonaws.com.evil.example/v1/repos/site", False),
    ("https://git-codecommit.us-east-1.amazonaws.com/v1/repos/site\n", False),
])
def test_repository_url_pattern(template, value, ok):
    assert allowed(template, "CodeCommitRepo", value) is ok


@pytest.mark.parametrize("value,ok", [
    ("jane.doe@example.org", True), ("ops+web@clinic.health.example.com", True),
    ("jane", False), ("jane@", False), ("@example.org", False), ("jane@example", False),
    ("jane doe@example.org", False), ("jane@exa mple.org", False), ("a@b.c", False),
])
def test_owner_email_pattern(template, value, ok):
    assert allowed(template, "InstanceOwnerEmail", value) is ok


@pytest.mark.parametrize("value,ok", [
    ("portal", True), ("patient-portal_2", True), ("A", True),
    ("", False), ("../etc", False), ("a/b", False), (".git", False), ("-x", False), ("has space", False),
    ("x" * 64, False),
])
def test_web_directory_pattern(template, value, ok):
    assert allowed(template, "WebDirectory", value) is ok


@pytest.mark.parametrize("value,ok", [("", True), ("my-key", True), ("key with spaces", True), ("k\u00e9y", False)])
def test_key_name_pattern(template, value, ok):
    assert allowed(template, "KeyName", value) is ok


def sub_eval(node, params):
    """A tiny evaluator of Ref / Fn::Select / Fn::Split / Fn::Sub, enough to check the derived ARN."""
    if isinstance(node, str):
        return node
    (fn, arg), = node.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::Split":
        return sub_eval(arg[1], params).split(arg[0])
    if fn == "Fn::Select":
        return sub_eval(arg[1], params)[int(arg[0])]
    if fn == "Fn::Sub":
        text, variables = arg
        values = {**params, **{k: sub_eval(v, params) for k, v in variables.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)
    raise AssertionError(fn)


def test_instance_role_may_only_pull_the_one_repository(template):
    res = template["Resources"]
    role = res["InstanceRole"]["Properties"]
    assert role["Path"] == admin.PRODUCT_IAM_PATH and "Policies" not in role
    assert role["ManagedPolicyArns"][:2] == [
        {"Ref": "GitPullPolicy"}, {"Fn::If": ["HasPhi", {"Ref": "PhiVolumeAttachPolicy"}, {"Ref": "AWS::NoValue"}]}]
    managed = {a["Fn::Sub"].rsplit("/", 1)[-1] for a in role["ManagedPolicyArns"][2:]}
    assert managed == {"AmazonSSMManagedInstanceCore", "CloudWatchAgentServerPolicy"}
    [statement] = res["GitPullPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["codecommit:GitPull"] and statement["Effect"] == "Allow"
    [arn] = statement["Resource"]
    params = {"CodeCommitRepo": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/patient-portal",
              "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    assert sub_eval(arn, params) == "arn:aws:codecommit:eu-west-1:123456789012:patient-portal"
    assert res["InstanceProfile"]["Properties"]["Path"] == admin.PRODUCT_IAM_PATH
    assert res["PhiBackupRole"]["Properties"]["Path"] == admin.PRODUCT_IAM_PATH


# --- bootstrap and logs ------------------------------------------------------------------------

def test_user_data_only_runs_cfn_init_and_signals_the_instance(template):
    """The signal goes to the instance's own CreationPolicy: an instance replacing another during an update
    must signal too before the update goes on."""
    res = template["Resources"]
    script, variables = res["Instance"]["Properties"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 3
    assert "cfn-init" in commands[1] and "cfn-signal -e $? --stack ${AWS::StackName} --resource ${Instance}" in commands[2]
    assert variables["Instance"] == "Instance"
    assert res["Instance"]["CreationPolicy"]["ResourceSignal"] == {"Count": 1, "Timeout": "PT30M"}
    assert "{{resolve:" not in json.dumps(res["Instance"]["Metadata"]) + json.dumps(res["Instance"]["Properties"]["UserData"])


def test_bootstrap_serves_https_only_and_clones_with_the_credential_helper(template):
    init = template["Resources"]["Instance"]["Metadata"]["AWS::CloudFormation::Init"]
    assert set(init["packages"]["packages"]["yum"]) >= {"httpd", "mod_ssl", "git", "amazon-cloudwatch-agent"}
    files = init["https"]["files"]
    ssl = files["/etc/httpd/conf.d/ssl.conf"]["content"]
    assert "SSLProtocol -all +TLSv1.2 +TLSv1.3" in ssl and "Strict-Transport-Security" in ssl
    site = files["/etc/httpd/conf.d/hipaa-site.conf"]["content"]
    assert "RewriteRule ^ https://" in site and "RedirectMatch 404 /\\.git" in site
    assert "openssl req -x509" in files["/usr/local/sbin/hipaa-make-certificate"]["content"]
    deploy = init["site"]["files"]["/usr/local/sbin/hipaa-deploy-site"]["content"]["Fn::Sub"]
    assert "credential.helper '!aws codecommit credential-helper $@'" in deploy
    assert "credential.UseHttpPath true" in deploy and 'target="/var/www/html/${WebDirectory}"' in deploy
    hook = init["cfn_hup"]["files"]["/etc/cfn/hooks.d/cfn-auto-reloader.conf"]["content"]["Fn::Sub"][0]
    assert "triggers=post.update" in hook and "cfn-init" in hook


def test_services_are_systemd_units_on_amazon_linux_2023(template):
    """AL2023 has no chkconfig/SysV scripts: cfn-init's sysvinit key could not start Apache or cfn-hup."""
    res = template["Resources"]["Instance"]
    assert "web-server-ami-id" in res["Properties"]["ImageId"]["Fn::Sub"]
    assert "al2023-ami" in admin.PUBLIC_AL2023_AMI  # what deploy-baseline proposes for that setting
    init = res["Metadata"]["AWS::CloudFormation::Init"]
    services = {name: svc for config in init.values() if isinstance(config, dict)
                for manager, units in config.get("services", {}).items() for name, svc in units.items()
                if manager == "systemd"}
    assert not [c for c in init.values() if isinstance(c, dict) and set(c.get("services", {})) - {"systemd"}]
    assert set(services) == {"httpd", "cfn-hup"}
    assert all(s["enabled"] == "true" and s["ensureRunning"] == "true" for s in services.values())
    unit = init["cfn_hup"]["files"]["/etc/systemd/system/cfn-hup.service"]["content"]
    assert "ExecStart=/opt/aws/bin/cfn-hup" in unit and "WantedBy=multi-user.target" in unit
    assert "/etc/systemd/system/cfn-hup.service" in services["cfn-hup"]["files"]


def test_logs_are_encrypted_with_the_baseline_logs_key_kept_a_year_and_collected_by_the_agent(template):
    res = template["Resources"]
    groups = of_type(template, "AWS::Logs::LogGroup")
    assert set(groups) == {"AccessLogGroup", "ErrorLogGroup", "BootstrapLogGroup"}
    for g in groups.values():
        assert g["Properties"]["RetentionInDays"] >= 365
        # the account baseline's logs key (its SSM setting), whatever PHI is: PHI=NO creates no key
        assert g["Properties"]["KmsKeyId"] == "{{resolve:ssm:/hipaa-catalog/logging/kms-key-arn}}"
        assert g["DeletionPolicy"] == "Retain"
    init = res["Instance"]["Metadata"]["AWS::CloudFormation::Init"]
    agent = init["logging"]["files"][ws.bootstrap.AGENT_CONFIG]["content"]
    shipped = {c["log_group_name"]["Ref"] for c in agent["logs"]["logs_collected"]["files"]["collect_list"]}
    assert shipped == set(groups)


# --- instance types and config -----------------------------------------------------------------

def test_every_offered_instance_type_exists_in_every_catalog_region(template, settings):
    offered = template["Parameters"]["InstanceType"]["AllowedValues"]
    assert 10 <= len(offered) <= 80 and template["Parameters"]["InstanceType"]["Default"] in offered
    data = it.cfn_lint_data()
    for region in settings.regions:
        assert set(offered) <= data[region], region
    for t in offered:
        assert it.ebs_optimized_by_default(it.family(t)) and it.is_x86_64(it.family(t))
        assert it.size_rank(it.size(t)) <= it.size_rank("4xlarge")


def test_every_offered_type_is_ebs_optimized_by_default_as_ec2_describes_it(template):
    """The instance sets EbsOptimized: true, valid and free only on types EBS-optimized by default.  EC2's own
    DescribeInstanceTypes answer (EbsInfo.EbsOptimizedSupport, "default" | "supported" | "unsupported"; EC2 API
    Reference, EbsInfo, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_EbsInfo.html), as moto
    ships it recorded, agrees with ``ebs_optimized_by_default`` on every type it lists."""
    import gzip
    import importlib.resources

    raw = importlib.resources.files("moto.ec2").joinpath("resources/instance_types.json.gz").read_bytes()
    described = {name: body["EbsInfo"]["EbsOptimizedSupport"] for name, body in json.loads(gzip.decompress(raw)).items()
                 if "EbsInfo" in body}
    offered = template["Parameters"]["InstanceType"]["AllowedValues"]
    assert {t: described.get(t) for t in offered} == {t: "default" for t in offered}
    assert template["Resources"]["Instance"]["Properties"]["EbsOptimized"] is True
    disagree = {t: support for t, support in described.items() if it.is_x86_64(it.family(t))
                and it.ebs_optimized_by_default(it.family(t)) != (support == "default")}
    assert disagree == {}


def test_a_type_missing_from_one_region_is_dropped():
    data = {"r1": frozenset({"m6i.large", "m6i.xlarge", "m6i.8xlarge"}), "r2": frozenset({"m6i.large", "m6i.8xlarge"})}
    assert it.allowed_instance_types(["r1", "r2"], ["m6i"], "4xlarge", data) == ("m6i.large",)
    assert it.allowed_instance_types(["r1"], ["m6i"], "4xlarge", data) == ("m6i.large", "m6i.xlarge")
    assert it.allowed_instance_types(["r1", "unknown-region"], ["m6i"], "4xlarge", data) == ()


def test_instance_type_rules():
    for fam in ("t1", "m1", "m2", "m3", "c1", "c3", "cc2", "cr1", "hi1", "hs1", "g2", "i2", "r3"):
        assert not it.ebs_encryption_eligible(fam), fam
    for fam in ("t3", "m5", "m6i", "c7i", "r7i", "m7i-flex"):
        assert it.ebs_encryption_eligible(fam) and it.is_x86_64(fam), fam
    for fam in ("a1", "t4g", "m6g", "m6gd", "c7gn", "is4gen", "im4gn", "mac2"):
        assert not it.is_x86_64(fam), fam
    assert not it.ebs_optimized_by_default("t2") and it.ebs_encryption_eligible("t2")
    assert not it.ebs_optimized_by_default("m3") and it.ebs_optimized_by_default("m7i")
    assert [it.size_rank(s) for s in ("nano", "large", "xlarge", "2xlarge", "4xlarge")] == sorted(
        it.size_rank(s) for s in ("nano", "large", "xlarge", "2xlarge", "4xlarge"))
    data = {"r": frozenset({"m3.large", "m6g.large", "t3.micro", "t3.large", "m6i.large"})}
    assert it.allowed_instance_types(["r"], ["m6i", "t3", "m3", "m6g"], "large", data) == \
        ("m6i.large", "t3.micro", "t3.large")


def make(settings, **options):
    ps = settings.products[ws.NAME]
    return ws.make_config(settings, dataclasses.replace(ps, options={**ps.options, **options}), {})


@pytest.mark.parametrize("options,field", [
    ({"instance_families": ["t3", "m3"]}, "instance_families"),
    ({"instance_families": ["m6g"]}, "instance_families"),
    ({"instance_families": ["t3", "t2"]}, "instance_families"),
    ({"instance_families": []}, "instance_families"),
    ({"max_instance_size": "huge"}, "max_instance_size"),
    ({"default_instance_type": "m6i.24xlarge"}, "default_instance_type"),
    ({"allowed_instance_types": ["t3.micro"]}, "allowed_instance_types"),
    ({"log_retention_days": 30}, "log_retention_days"),
    ({"phi_volume_gib": 0}, "phi_volume_gib"),
    ({"phi_mount_point": "relative/path"}, "phi_mount_point"),
    ({"instance_typo": 1}, "instance_typo"),
])
def test_bad_options_are_refused_naming_product_and_field(settings, options, field):
    with pytest.raises(ConfigError) as err:
        make(settings, **options)
    assert ws.NAME in str(err.value) and field in str(err.value)


def test_options_shape_the_instance_type_list(settings):
    cfg = make(settings, instance_families=["m6i"], max_instance_size="xlarge", default_instance_type="m6i.large")
    assert cfg.allowed_instance_types == ("m6i.large", "m6i.xlarge")


# --- building blocks ---------------------------------------------------------------------------

def test_security_group_blocks_refuse_rules_without_one_peer_or_groups_without_egress():
    from generator.blocks import network

    with pytest.raises(ValueError, match="exactly one peer"):
        network.rule(443, "no peer")
    with pytest.raises(ValueError, match="exactly one peer"):
        network.rule(443, "two peers", cidr="10.0.0.0/8", cidr_ipv6="::/0")
    with pytest.raises(ValueError, match="declare its egress"):
        network.security_group("Sg", "no egress", "vpc-1", egress=[])


def test_backup_tags_become_a_map():
    from troposphere import Tags

    from generator.blocks import backup

    assert backup.tag_map(Tags(Name="n", PHI="YES")) == {"Name": "n", "PHI": "YES"}
