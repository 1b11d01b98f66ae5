"""The ``hipaa-catalog`` command end to end against the local AWS endpoint, ``--json`` parsed.

Administrator: deploy-baseline (create, then "no changes", then a refused non-interactive update; bad
parameters and regions refused before any change set, the stack unchanged; an account that already has
an AWS Config recorder and channel; the log bucket's replication turned on once the replica region's stack
exists);
release engineer: publish; developer: products, launch, status, update, terminate — and launches
refused locally (bad parameters, DEPRECATED version) with no ProvisionProduct call reaching the
endpoint (its call log).

Besides the published catalog, the launch tests add a small "probe" product to the same portfolio
through the administrator's Service Catalog API, with two versions: the developer commands are
exercised on a template whose every resource moto's CloudFormation models.
"""

from __future__ import annotations

import json
import uuid

import pytest

from generator.aws import api as aws
from generator.cli import main as cli
from generator.aws.publish import template_url
from generator.devtools import local_account

pytestmark = [pytest.mark.aws, pytest.mark.slow]
REGION = "us-east-1"
PROBE = "probe-site"
PROBE_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "probe product for the CLI tests",
    "Parameters": {
        "SiteName": {"Type": "String", "AllowedPattern": "[a-z][a-z0-9-]{2,30}",
                     "ConstraintDescription": "lower-case letters, digits and '-', 3 to 31 characters"},
        "Environment": {"Type": "String", "AllowedValues": ["PROD", "TEST"], "Default": "TEST",
                        "ConstraintDescription": "PROD or TEST"},
        "InstanceOwnerEmail": {"Type": "String", "AllowedPattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                               "ConstraintDescription": "must be an e-mail address such as dev@example.org"},
    },
    "Resources": {"Site": {"Type": "AWS::SSM::Parameter",
                           "Properties": {"Name": {"Fn::Sub": "/probe/${SiteName}"}, "Type": "String",
                                          "Value": {"Ref": "InstanceOwnerEmail"}}}},
    "Outputs": {"CompliantWebsiteURL": {"Value": {"Fn::Sub": "https://${SiteName}.example.org/"}},
                "Environment": {"Value": {"Ref": "Environment"}}},
}
GOOD = ["-p", "SiteName=clinic", "-p", "InstanceOwnerEmail=dev@example.org"]


def operations(endpoint) -> list[str]:
    return [c["operation"] for c in endpoint.calls()]


def network_args(built, region: str = REGION) -> list[str]:
    """``-p`` arguments for the administrator's network, created in the local EC2 of ``region``."""
    network = local_account.network(region, egress="").baseline_parameters()
    return [a for k, v in network.items() for a in ("-p", f"{k}={v}")]


def stack_state(session, region: str = REGION, name: str = "hipaa-catalog-account-baseline") -> dict:
    """What a stack is: its status, parameters and resources (logical id, type, physical id, status)."""
    cf = aws.client(session, "cloudformation", region)
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    resources = cf.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {"status": stack["StackStatus"],
            "parameters": sorted((p["ParameterKey"], p.get("ParameterValue")) for p in stack["Parameters"]),
            "resources": sorted((r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId"),
                                 r["ResourceStatus"]) for r in resources)}


def add_probe_product(account) -> dict[str, str]:
    """The administrator adds the probe product (versions 1.0.0 and 1.1.0) to the catalog's portfolio."""
    sess = account["session"]
    s3, sc = aws.client(sess, "s3"), aws.client(sess, "servicecatalog")
    bucket = aws.client(sess, "ssm").get_parameter(Name="/hipaa-catalog/catalog/template-bucket")["Parameter"]["Value"]
    urls = {}
    for version in ("1.0.0", "1.1.0"):
        body = dict(PROBE_TEMPLATE, Description=f"probe {version}")
        key = f"{PROBE}/{version}/{uuid.uuid4().hex}.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(),
                      Tagging="servicecatalog:provisioning=true")
        urls[version] = template_url(bucket, REGION, key)
    art = lambda v: {"Name": v, "Info": {"LoadTemplateFromURL": urls[v]},  # noqa: E731
                     "Type": "CLOUD_FORMATION_TEMPLATE", "Description": f"probe {v}"}
    product = sc.create_product(Name=PROBE, Owner="tests", ProductType="CLOUD_FORMATION_TEMPLATE",
                                ProvisioningArtifactParameters=art("1.0.0"))["ProductViewDetail"]
    pid = product["ProductViewSummary"]["ProductId"]
    first = sc.list_provisioning_artifacts(ProductId=pid)["ProvisioningArtifactDetails"][0]["Id"]
    second = sc.create_provisioning_artifact(ProductId=pid, Parameters=art("1.1.0"),
                                             IdempotencyToken=uuid.uuid4().hex)["ProvisioningArtifactDetail"]["Id"]
    portfolio = sc.list_portfolios()["PortfolioDetails"][0]["Id"]
    sc.associate_product_with_portfolio(ProductId=pid, PortfolioId=portfolio)
    return {"product_id": pid, "1.0.0": first, "1.1.0": second}


def test_deploy_is_idempotent_and_never_prompts_without_a_terminal(account, hc, capsys):
    built, net = account["built"], account["network"]
    first = account["baseline"]
    assert first["change_set_type"] == "CREATE" and first["executed"] and first["status"] == "CREATE_COMPLETE"
    adds = {c["logical_id"] for c in first["changes"] if c["action"] == "Add"}
    assert {"TemplateBucket", "Trail", "SettingVpcId"} <= adds
    ssm = aws.client(account["session"], "ssm")
    assert ssm.get_parameter(Name="/hipaa-catalog/network/vpc-id")["Parameter"]["Value"] == net["VpcId"]

    # the same parameters again: the change set is empty, nothing is executed
    args = [a for k, v in net.items() for a in ("-p", f"{k}={v}")]
    code, again, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *args)
    assert code == 0, err
    assert again["change_set_type"] == "NONE" and not again["executed"] and again["status"] == "CREATE_COMPLETE"

    # the outputs of the stack, as the command printed them (--json), match the stack's resources
    out = first["outputs"]
    assert out["DeveloperGroupName"] == "HealthcareDeveloper"
    assert out["DeveloperGroupArn"].endswith(":group/HealthcareDeveloper")
    assert out["TemplateBucketName"] == ssm.get_parameter(
        Name="/hipaa-catalog/catalog/template-bucket")["Parameter"]["Value"]
    iam = aws.client(account["session"], "iam")
    attached = iam.list_attached_group_policies(GroupName="HealthcareDeveloper")["AttachedPolicies"]
    names = sorted(p["PolicyName"] for p in attached)
    assert names[:2] == ["AWSCodeCommitPowerUser", "AWSServiceCatalogEndUserFullAccess"] and len(names) == 3
    assert "DeveloperReadsAmiSetting" in names[2]  # launch pins the AMI setting's current version

    # a real change without --yes and without a terminal: shown, refused, discarded, nothing executed
    account["endpoint"].reset_calls()
    code, _out, err = hc("deploy-baseline", "--region", REGION, "--out", str(built),
                         "-p", "AdminCidr=10.30.0.0/24")
    assert code == 2
    assert "standard input is not a terminal" in err and "--yes" in err
    assert "UPDATE with 1 change(s)" in err and "SettingAdminCidr" in err   # --json: the changes on stderr
    ops = operations(account["endpoint"])
    assert "CreateChangeSet" in ops and "DeleteChangeSet" in ops and "ExecuteChangeSet" not in ops
    assert ssm.get_parameter(Name="/hipaa-catalog/network/admin-cidr")["Parameter"]["Value"] == net["AdminCidr"]

    # the same change with --yes, human output: the change table says what changes, then the outputs
    capsys.readouterr()
    code = cli.main(["deploy-baseline", "--region", REGION, "--yes", "--out", str(built), "-p", "AdminCidr=10.30.0.0/24"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "UPDATE with 1 change(s)" in printed
    row = next(line.split() for line in printed.splitlines() if line.startswith("Modify"))
    assert row == ["Modify", "SettingAdminCidr", "AWS::SSM::Parameter", "no", "Value"]
    assert "outputs of stack hipaa-catalog-account-baseline (UPDATE_COMPLETE):" in printed
    assert f"TemplateBucketName    {out['TemplateBucketName']}" in printed
    assert ssm.get_parameter(Name="/hipaa-catalog/network/admin-cidr")["Parameter"]["Value"] == "10.30.0.0/24"

    # the launch role, deployed by the fixture with the same command
    assert account["launch_role"]["change_set_type"] == "CREATE"
    assert account["launch_role"]["status"] == "CREATE_COMPLETE"
    role = aws.client(account["session"], "iam").get_role(RoleName="HipaaCatalogLaunchRole")["Role"]
    assert "servicecatalog.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])
    assert account["launch_role"]["outputs"]["LaunchRoleArn"] == role["Arn"]

    # unknown and missing parameters are named before anything is created
    code, _out, err = hc("deploy-baseline", "--region", "us-west-2", "--yes", "--out", str(built),
                         "-p", "Colour=blue")
    assert code == 2 and "Colour: unknown parameter" in err
    code, _out, err = hc("deploy-baseline", "--region", "us-west-2", "--yes", "--out", str(built))
    assert code == 2 and "AdministratorEmail: required, no default" in err and "VpcId: required" in err


def test_a_failing_deploy_explains_the_rollback_and_names_the_resource(aws_env, built, hc):
    # the developer group already exists outside the stack (created by hand): CloudFormation cannot create it
    aws.client(aws.session(REGION), "iam").create_group(GroupName="HealthcareDeveloper")
    network = local_account.network(REGION).baseline_parameters()
    args = ["deploy-baseline", "--region", REGION, "--yes", "--out", str(built),
            *[a for k, v in network.items() for a in ("-p", f"{k}={v}")]]
    code, out, err = hc(*args)
    assert code == 3 and out is None
    assert "stack hipaa-catalog-account-baseline ended in state ROLLBACK_COMPLETE" in err
    assert "failing resource events" in err
    assert "DeveloperGroup (AWS::IAM::Group): CREATE_FAILED: Group HealthcareDeveloper already exists" in err
    assert "aws cloudformation delete-stack --stack-name hipaa-catalog-account-baseline" in err
    # the progress showed the rollback as it happened
    assert "ROLLBACK_IN_PROGRESS" in err and "DELETE_COMPLETE" in err

    # running again: refused before any change set, with the same explanation
    aws_env.reset_calls()
    code, out, err = hc(*args)
    assert code == 3 and "is in state ROLLBACK_COMPLETE" in err and "DeveloperGroup" in err
    assert "CreateChangeSet" not in operations(aws_env)


BAD_DEPLOYS = [  # (arguments, what the refusal must say)
    (["-p", "AdminCidr=banana", "-p", "GlobalResources=MAYBE"],
     ["AdminCidr: 'banana' does not match", "GlobalResources: 'MAYBE' is not one of the allowed values: YES, NO"]),
    (["-p", "AdministratorEmail=not-an-email"], ["AdministratorEmail: 'not-an-email' does not match",
                                                 "an e-mail address"]),
    (["-p", "AdminCidr=0.0.0.0/0"], ["AdminCidr: '0.0.0.0/0' does not match", "TEST servers accept SSH and HTTPS"]),
    (["-p", "AdminCidr=::/0"], ["AdminCidr: '::/0' does not match", "broader than /16"]),
    (["-p", "AdminCidr=10.0.0.0/8"], ["AdminCidr: '10.0.0.0/8' does not match"]),
    (["-p", "GlobalResources=NO"], ["GlobalResources=NO in us-east-1", "once per account"]),
    (["-p", "ConfigRecording=EXISTING"], ["ConfigRecording=EXISTING in us-east-1", "no configuration recorder"]),
    (["-p", "LogReplicaBucketArn=arn:aws:s3:::elsewhere"], ["LogReplicaBucketArn is set by deploy-baseline"]),
    (["--region", "eu-west-1"], ["region eu-west-1 is not a catalog region; allowed: us-east-1, us-west-2"]),
]


def test_bad_parameters_are_refused_before_any_change_set_and_the_stack_stays_as_it_was(account, hc):
    built, ep, sess = account["built"], account["endpoint"], account["session"]
    before = stack_state(sess)
    assert before["status"] == "CREATE_COMPLETE"
    for args, said in BAD_DEPLOYS:
        ep.reset_calls()
        code, out, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *args)
        assert code == 2 and out is None, (args, err)
        for text in said:
            assert text in err, (args, err)
        assert not {"CreateChangeSet", "ExecuteChangeSet", "UpdateStack"} & set(operations(ep)), args
    # the launch role's IAM names are account-wide: one stack, in the primary region
    ep.reset_calls()
    code, _out, err = hc("deploy-launch-role", "--region", "us-west-2", "--yes", "--out", str(built))
    assert code == 2 and "created once per account, in the catalog's primary region us-east-1" in err
    assert "deploy-launch-role --region us-east-1" in err
    assert operations(ep) == []
    assert stack_state(sess) == before


def test_deploy_baseline_adopts_an_existing_config_recorder_and_channel(aws_env, built, hc, capsys):
    """An account that already records (Control Tower, Security Hub, the console): the stack creates neither
    the recorder nor the channel, says so, and deploys."""
    sess = aws.session(REGION)
    config, s3 = aws.client(sess, "config"), aws.client(sess, "s3")
    s3.create_bucket(Bucket="control-tower-config-logs")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/aws-controltower-ConfigRecorderRole",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "control-tower-config-logs"})
    args = network_args(built)

    # explicitly asking for a second recorder is refused: AWS allows one per region
    code, _out, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *args,
                         "-p", "ConfigRecording=CREATE")
    assert code == 2 and "already has the configuration recorder 'default'" in err

    code, result, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *args)
    assert code == 0, err
    assert result["status"] == "CREATE_COMPLETE" and result["parameters"]["ConfigRecording"] == "EXISTING"
    (decision,) = [d for d in result["decisions"] if d["parameter"] == "ConfigRecording"]
    assert "adopting recorder 'default'" in decision["why"] and "bucket control-tower-config-logs" in decision["why"]
    added = {c["logical_id"] for c in result["changes"] if c["action"] == "Add"}
    assert not added & {"ConfigRecorder", "ConfigDeliveryChannel", "ConfigRecorderRole",
                        "ConfigRecorderRoleDeliveryPolicy"}
    assert {"RuleEncryptedVolumes", "RuleEbsResourcesProtectedByBackupPlan", "Trail"} <= added
    assert dict(stack_state(sess)["parameters"])["ConfigRecording"] == "EXISTING"
    setting = aws.client(sess, "ssm").get_parameter(Name="/hipaa-catalog/config/recording")["Parameter"]["Value"]
    assert setting.startswith("EXISTING")
    # the account's recorder and channel are untouched, and still the only ones
    assert [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]] == ["default"]
    assert [c["s3BucketName"] for c in config.describe_delivery_channels()["DeliveryChannels"]] == [
        "control-tower-config-logs"]

    # the human output says it next to the change table
    capsys.readouterr()
    assert cli.main(["deploy-baseline", "--region", REGION, "--yes", "--out", str(built), *args]) == 0
    printed = capsys.readouterr().out
    assert "no changes" in printed and "decided by looking at the account:" in printed
    assert "ConfigRecording = EXISTING: the account already records in us-east-1" in printed


def test_half_an_aws_config_set_up_is_refused_with_how_to_finish_it(aws_env, built, hc):
    aws.client(aws.session(REGION), "config").put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config"})
    aws_env.reset_calls()
    code, _out, err = hc("deploy-baseline", "--region", REGION, "--yes", "--out", str(built),
                         *network_args(built))
    assert code == 2 and "has a configuration recorder ('default') but no delivery channel" in err
    assert "aws configservice put-delivery-channel" in err
    assert "CreateChangeSet" not in operations(aws_env)


def test_the_log_bucket_replicates_once_the_replica_regions_stack_exists(aws_env, built, hc):
    sess = aws.session(REGION)
    deploy = lambda region: hc("deploy-baseline", "--region", region, "--yes", "--out", str(built),  # noqa: E731
                               *network_args(built, region))
    code, first, err = deploy(REGION)
    assert code == 0, err
    pending = {d["parameter"]: d for d in first["decisions"]}["LogReplicaBucketArn"]
    assert pending["value"] == "" and "replication pending" in pending["why"]
    assert first["next_steps"] == ["hipaa-catalog deploy-baseline --region us-west-2, then this command again, "
                                   "turns replication on"]
    assert "LogReplicationRole" not in {c["logical_id"] for c in first["changes"]}

    code, west, err = deploy("us-west-2")
    assert code == 0, err
    east_replica = stack_state(sess)
    outputs_east = first["outputs"]
    assert west["parameters"]["LogReplicaBucketArn"] == outputs_east["LogReplicaBucketArn"]
    assert west["parameters"]["LogReplicaKeyArn"] == outputs_east["LogKeyArn"]
    assert west["parameters"]["GlobalResources"] == "NO"
    assert {"LogReplicationRole", "LogReplicationRolePolicy"} <= {c["logical_id"] for c in west["changes"]}
    assert west["next_steps"] == ["hipaa-catalog deploy-baseline --region us-east-1: turns on the replication of "
                                  "its log bucket into us-west-2's replica bucket, which exists now"]

    # the printed next step: us-east-1 again turns its replication on, in place
    code, again, err = deploy(REGION)
    assert code == 0, err
    assert again["change_set_type"] == "UPDATE" and again["next_steps"] == []
    changes = {c["logical_id"]: c for c in again["changes"]}
    assert changes["LogBucket"]["action"] == "Modify" and changes["LogBucket"]["replacement"] == "False"
    assert "ReplicationConfiguration" in changes["LogBucket"]["properties"]
    assert changes["LogReplicationRole"]["action"] == "Add"
    params = dict(stack_state(sess)["parameters"])
    assert params["LogReplicaBucketArn"] == west["outputs"]["LogReplicaBucketArn"]
    assert params["LogReplicaKeyArn"] == west["outputs"]["LogKeyArn"]
    assert east_replica["status"] == "CREATE_COMPLETE"


def test_developer_launch_status_update_terminate(account, hc):
    ids = add_probe_product(account)
    ep = account["endpoint"]

    code, listing, err = hc("products", "--region", REGION)
    assert code == 0, err
    names = {p["name"]: p for p in listing["products"]}
    assert {"healthcare-web-server", PROBE} <= set(names)
    assert [v["version"] for v in names[PROBE]["versions"]] == ["1.1.0", "1.0.0"]
    assert names[PROBE]["versions"][0]["default"] and not any(v["deprecated"] for v in names[PROBE]["versions"])

    # bad parameters: refused with the constraint description; no ProvisionProduct call
    ep.reset_calls()
    code, _out, err = hc("launch", PROBE, "--name", "bad", "--region", REGION,
                         "-p", "SiteName=clinic", "-p", "InstanceOwnerEmail=not-an-email", "-p", "Environment=DEV")
    assert code == 2
    assert "must be an e-mail address such as dev@example.org" in err and "PROD, TEST" in err
    assert "DescribeProvisioningParameters" in operations(ep)
    assert "ProvisionProduct" not in operations(ep)

    # launch 1.0.0 explicitly
    code, launched, err = hc("launch", PROBE, "--name", "clinic", "--version", "1.0.0", "--region", REGION,
                             *GOOD)
    assert code == 0, err
    assert launched["status"] == "SUCCEEDED" and launched["version"] == "1.0.0"
    assert launched["outputs"]["CompliantWebsiteURL"] == "https://clinic.example.org/"
    assert launched["outputs"]["Environment"] == "TEST"  # the template's default

    # the administrator deprecates 1.0.0: no new launches of it, and no ProvisionProduct call
    aws.client(account["session"], "servicecatalog").update_provisioning_artifact(
        ProductId=ids["product_id"], ProvisioningArtifactId=ids["1.0.0"], Guidance="DEPRECATED")
    code, listing, _err = hc("products", "--region", REGION)
    versions = {v["version"]: v for p in listing["products"] if p["name"] == PROBE for v in p["versions"]}
    assert versions["1.0.0"]["deprecated"] and versions["1.1.0"]["default"]
    ep.reset_calls()
    code, _out, err = hc("launch", PROBE, "--name", "clinic-2", "--version", "1.0.0", "--region", REGION,
                         *GOOD)
    assert code == 3 and "DEPRECATED" in err and "launch version 1.1.0 instead" in err
    assert "ProvisionProduct" not in operations(ep)

    code, st, err = hc("status", "clinic", "--region", REGION)
    assert code == 0, err
    assert st["status"] == "AVAILABLE" and st["version"] == "1.0.0" and st["deprecated"]
    assert st["outputs"]["CompliantWebsiteURL"] == "https://clinic.example.org/"

    code, updated, err = hc("update", "clinic", "--version", "1.1.0", "--region", REGION,
                            "-p", "Environment=PROD")
    assert code == 0, err
    assert updated["status"] == "SUCCEEDED" and updated["version"] == "1.1.0"
    code, st, _err = hc("status", "clinic", "--region", REGION)
    assert st["version"] == "1.1.0" and not st["deprecated"] and st["outputs"]["Environment"] == "PROD"
    assert st["outputs"]["CompliantWebsiteURL"] == "https://clinic.example.org/"  # SiteName kept

    code, listing, _err = hc("status", "--region", REGION)
    assert [p["name"] for p in listing["provisioned_products"]] == ["clinic"]

    code, done, err = hc("terminate", "clinic", "--yes", "--region", REGION)
    assert code == 0, err
    assert done["status"] == "SUCCEEDED" and done["record_type"] == "TERMINATE_PROVISIONED_PRODUCT"
    code, _out, err = hc("status", "clinic", "--region", REGION)
    assert code == 3 and "no provisioned product named 'clinic'" in err

