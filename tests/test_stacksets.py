"""The organisation deploy's pure parts: the stack sets wanted, their template, preferences, the preview diff."""

from __future__ import annotations

import json

import pytest

from generator.aws import stacksets
from generator.errors import ConfigError
from generator.settings import OrganizationSettings

ORG = OrganizationSettings(targets={"prod": ("ou-ab12-11111111",), "test": ("ou-ab12-22222222",)},
                           regions=("us-east-1", "us-west-2"), max_concurrent_accounts=7, failure_tolerance=2)


def template(rendered, name):
    return json.loads(rendered[name].json_text)


def test_the_baseline_is_a_primary_and_a_regional_stack_set(rendered):
    specs = stacksets.specs("account-baseline", "1.2.0", template(rendered, "account-baseline"),
                            {"AdminCidr": "10.0.0.0/16"}, ORG, "us-east-1", "/hipaa-catalog")
    assert [(s.name, s.regions, s.given["GlobalResources"], s.depends_on) for s in specs] == [
        ("hipaa-catalog-account-baseline", ("us-east-1",), "YES", ("hipaa-catalog-log-replica",)),
        ("hipaa-catalog-account-baseline-regional", ("us-west-2",), "NO", ("hipaa-catalog-log-replica",))]
    assert stacksets.DEPLOYED_FIRST["account-baseline"] == ("log-replica",)
    one_region = OrganizationSettings(targets=ORG.targets, regions=("us-east-1",))
    # one organisation region: the regional stack set has none (deploy-baseline leaves it out unless it exists)
    assert [s.regions for s in stacksets.specs("account-baseline", "1.2.0", template(rendered, "account-baseline"),
                                               {}, one_region, "us-east-1", "/hipaa-catalog")] == [("us-east-1",), ()]
    role = stacksets.specs("launch-role", "1.0.0", template(rendered, "launch-role"), {}, ORG, "us-east-1", "/x")
    assert [(s.name, s.regions, s.depends_on) for s in role] == [
        ("hipaa-catalog-launch-role", ("us-east-1",), ("hipaa-catalog-account-baseline",))]


def test_the_log_replicas_go_to_every_organisation_region_and_every_replica_region_of_one(rendered):
    replicas = template(rendered, "log-replica")
    (spec,) = stacksets.specs("log-replica", "1.0.0", replicas, {}, ORG, "us-east-1", "/hipaa-catalog")
    assert (spec.name, spec.regions, spec.depends_on) == ("hipaa-catalog-log-replica", ("us-east-1", "us-west-2"), ())
    # one organisation region: its log bucket's replica region gets the log replicas too
    one_region = OrganizationSettings(targets=ORG.targets, regions=("us-east-1",))
    (spec,) = stacksets.specs("log-replica", "1.0.0", replicas, {}, one_region, "us-east-1", "/hipaa-catalog")
    assert spec.regions == ("us-east-1", "us-west-2")


@pytest.mark.parametrize("given, message", [
    ({"GlobalResources": "NO"}, "-p GlobalResources is set by the organisation deploy"),
    ({"VpcId": "vpc-1"}, "-p VpcId is each account's own"),
    ({"LogReplicaBucketArn": "arn:aws:s3:::elsewhere"},
     "-p LogReplicaBucketArn is set in every account and region by stack set hipaa-catalog-log-replica"),
])
def test_parameters_the_organisation_deploy_sets_are_refused(rendered, given, message):
    with pytest.raises(ConfigError, match=message):
        stacksets.specs("account-baseline", "1.2.0", template(rendered, "account-baseline"), given, ORG,
                        "us-east-1", "/hipaa-catalog")


def test_account_inputs_come_from_ssm_in_each_account_and_nothing_else_changes(rendered):
    built = template(rendered, "account-baseline")
    org = stacksets.organization_template(built, "/hipaa-catalog")
    for key in ("Resources", "Conditions", "Outputs", "Mappings", "Metadata"):
        assert org.get(key) == built.get(key), key
    assert org["Parameters"]["VpcId"] == {
        "Type": "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>", "Default": "/hipaa-catalog/account-inputs/VpcId",
        "Description": built["Parameters"]["VpcId"]["Description"]}
    assert len(json.dumps(org, separators=(",", ":"), sort_keys=True)) <= 51_200   # TemplateBody limit
    # where the log bucket replicates to: what the log-replica stack set wrote in the account and region
    assert {k: org["Parameters"][k]["Default"] for k in ("LogReplicaBucketArn", "LogReplicaKeyArn")} == {
        "LogReplicaBucketArn": "/hipaa-catalog/log-replica/destination-bucket-arn",
        "LogReplicaKeyArn": "/hipaa-catalog/log-replica/destination-key-arn"}
    assert org["Parameters"]["LogReplicaKeyArn"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    written = {r["Properties"]["Name"] for r in template(rendered, "log-replica")["Resources"].values()
               if r["Type"] == "AWS::SSM::Parameter"}
    assert written == {org["Parameters"][k]["Default"] for k in ("LogReplicaBucketArn", "LogReplicaKeyArn")}
    assert org["Parameters"]["PrivateSubnetIds"]["Type"] == "AWS::SSM::Parameter::Value<List<AWS::EC2::Subnet::Id>>"
    assert org["Parameters"]["AdminCidr"] == built["Parameters"]["AdminCidr"]   # one value for the organisation
    assert "Rules" in built and "Rules" not in org
    role = template(rendered, "launch-role")
    assert stacksets.organization_template(role, "/hipaa-catalog") == role


def test_operation_preferences_and_auto_deployment_come_from_the_settings():
    assert stacksets.operation_preferences(ORG) == {"MaxConcurrentCount": 7, "FailureToleranceCount": 2,
                                                    "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
                                                    "RegionConcurrencyType": "PARALLEL"}
    assert stacksets.auto_deployment(ORG) == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert stacksets.auto_deployment(ORG, ("arn:b", "arn:a"))["DependsOn"] == ["arn:a", "arn:b"]
    off = OrganizationSettings(targets=ORG.targets, regions=ORG.regions, auto_deployment=False)
    assert stacksets.auto_deployment(off) == {"Enabled": False}


def test_the_preview_names_resources_added_modified_removed():
    old = {"Parameters": {"A": {}}, "Resources": {"Keep": {"Type": "X"}, "Change": {"Type": "Y"}, "Gone": {"Type": "Z"}}}
    new = {"Parameters": {"B": {}}, "Resources": {"Keep": {"Type": "X"}, "Change": {"Type": "Y2"}, "New": {"Type": "N"}}}
    assert stacksets.template_diff(old, new) == {"add": ["New"], "remove": ["Gone"], "modify": ["Change"],
                                                 "parameters_added": ["B"], "parameters_removed": ["A"]}


def settings_with_organization(tmp_path) -> str:
    from generator import settings as catalog_settings

    path = tmp_path / "catalog.toml"
    path.write_text(catalog_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8")
                    + '\n[organization.targets]\nprod = ["ou-ab12-11111111"]\n', encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("args, message", [
    (["deploy-launch-role", "--organization"], "--organization needs an [organization] table"),
    (["--settings", "ORG", "deploy-launch-role", "--organization", "--region", "us-west-2"],
     "administered from the primary region us-east-1, not us-west-2"),
    (["--settings", "ORG", "deploy-baseline", "--organization", "-p", "VpcId=vpc-1"],
     "-p VpcId is each account's own"),
    (["--settings", "ORG", "deploy-baseline", "--organization", "-p", "AdminCidr=0.0.0.0/0"], "AdminCidr"),
])
def test_organisation_deploy_refuses_before_any_aws_call(hc, built, tmp_path, args, message):
    args = [settings_with_organization(tmp_path) if a == "ORG" else a for a in args]
    code, _out, err = hc(*args, "--out", str(built))
    assert code == 2 and message in err, err


def test_evidence_outlives_a_deleted_stack_instance_and_leaving_accounts_keep_their_stacks(rendered):
    """A stack instance deleted (an account leaving a target with retain_stacks_on_account_removal = false, or its
    stack deleted in the account) keeps every resource holding evidence and the keys encrypting them: "If a
    resource has no DeletionPolicy attribute, AWS CloudFormation deletes the resource by default"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html), and
    "When you remove a KMS key from a CloudFormation stack, AWS KMS schedules the KMS key for deletion"
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html).  By default the
    stacks stay anyway, their audit controls running: RetainStacks for an OU removed from the targets, and
    RetainStacksOnAccountRemoval ("If set to true, stack resources are retained when an account is removed from
    a target organization or OU", https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html)."""
    kept = {"account-baseline": ("LogBucket", "AccessLogBucket", "LogReplicaBucket", "TemplateBucket", "LogKey",
                                 "TemplateKey", "TrailLogGroup"),
            "log-replica": ("LogReplicaBucket", "ReplicaAccessLogBucket", "ReplicaKey")}
    for product, ids in kept.items():
        resources = template(rendered, product)["Resources"]
        for lid in ids:
            assert (resources[lid].get("DeletionPolicy"), resources[lid].get("UpdateReplacePolicy")) == \
                ("Retain", "Retain"), (product, lid)
    assert "LogKey" in json.dumps(template(rendered, "account-baseline")["Resources"]["LogBucket"])
    assert stacksets.RETAIN_STACKS is True
    assert OrganizationSettings(targets=ORG.targets).retain_stacks_on_account_removal is True


def test_an_organisation_cannot_replicate_into_one_bucket_the_settings_name(rendered):
    built = template(rendered, "account-baseline")
    built["Parameters"]["LogReplicaBucketArn"]["Default"] = "arn:aws:s3:::evidence-replica"
    with pytest.raises(ConfigError, match="every account replicates into its own log-replica bucket") as err:
        stacksets.specs("account-baseline", "1.3.0", built, {}, ORG, "us-east-1", "/hipaa-catalog")
    assert "replica_bucket_arn" in err.value.hint
