"""The account baseline: what it encrypts, blocks, records and alarms on, in each part (global YES/NO)."""

from __future__ import annotations

import dataclasses
import json
import re
import types
from pathlib import Path

import pytest
from botocore.loaders import create_loader
from troposphere import Template

from generator import render
from generator.blocks import admin_settings as admin, alarms, config_rules
from generator.aws.parameters import ParameterSpec
from generator.compliance import scenarios
from generator.compliance.lint import Linter, blocking
from generator.compliance.rules import ConfigPeriodicRuleNoScope
from generator.errors import ConfigError
from products import account_baseline

REFERENCE = Path("/work/shared/reference/hipaa-controls.md")
AWS_CONTROL_TEXT = Path(__file__).parent / "reference" / "securityhub-cloudwatch-controls.md"


@pytest.fixture(scope="module")
def template(rendered):
    return rendered[account_baseline.NAME].template


REPLICA = {"LogReplicaBucketArn": "arn:aws:s3:::replica-in-us-west-2",
           "LogReplicaKeyArn": "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}
PENDING = {"LogReplicaBucketArn": "", "LogReplicaKeyArn": ""}


def resolve(template, global_resources="YES", recording="CREATE", replica=None):
    """The template as CloudFormation sees it with these parameters (replication on unless ``replica``)."""
    return scenarios.resolve(template, {"GlobalResources": global_resources, "ConfigRecording": recording,
                                        **(REPLICA if replica is None else replica)})


@pytest.fixture(scope="module", params=["YES", "NO"])
def effective(request, template):
    """The template as CloudFormation sees it in the primary region (YES) and in the other regions (NO), on an
    account without AWS Config, once the replica region's stack exists."""
    return request.param, resolve(template, request.param)


def _of_type(t, rtype):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def _props(res):
    return res.get("Properties", {})


def test_lint_clean_in_every_catalog_region(linted_clean):
    linted_clean(account_baseline.NAME)


def test_every_bucket_is_private_and_denies_plain_http(effective):
    _, t = effective
    buckets = _of_type(t, "AWS::S3::Bucket")
    assert set(buckets) == {"AccessLogBucket", "LogBucket", "LogReplicaBucket", "TemplateBucket"}
    policies = _of_type(t, "AWS::S3::BucketPolicy").values()
    for lid, bucket in buckets.items():
        pab = _props(bucket)["PublicAccessBlockConfiguration"]
        assert all(pab[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                            "RestrictPublicBuckets")), lid
        assert _props(bucket)["VersioningConfiguration"] == {"Status": "Enabled"}
        policy = [p for p in policies if _props(p)["Bucket"] == {"Ref": lid}]
        assert len(policy) == 1, lid
        denies = [s for s in _props(policy[0])["PolicyDocument"]["Statement"]
                  if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": False}}]
        assert denies and denies[0]["Principal"] == "*"
        assert denies[0]["Resource"] == [{"Fn::GetAtt": [lid, "Arn"]},
                                         {"Fn::Join": ["", [{"Fn::GetAtt": [lid, "Arn"]}, "/*"]]}]


def test_log_buckets_keep_logs_six_years_and_log_access(template):
    res = template["Resources"]
    for lid in ("LogBucket", "AccessLogBucket"):
        rules = _props(res[lid])["LifecycleConfiguration"]["Rules"]
        days = [r.get("ExpirationInDays") or r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in rules]
        assert days and min(days) >= 2190, lid
    for lid in ("LogBucket", "TemplateBucket"):
        assert _props(res[lid])["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    enc = _props(res["LogBucket"])["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert enc["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # S3 server access logs and ALB logs cannot go to SSE-KMS: the access-log bucket is SSE-S3, waived with a reason
    access = res["AccessLogBucket"]
    sse = _props(access)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert {w["rule"] for w in access["Metadata"]["hipaa-catalog"]["waivers"]} == {"E9106", "E9502"}
    principals = [s.get("Principal") for s in _props(res["AccessLogBucketPolicy"])["PolicyDocument"]["Statement"]]
    assert {"Service": "logging.s3.amazonaws.com"} in principals
    assert {"Service": account_baseline.ELB_LOG_SERVICE} in principals


def test_log_bucket_policy_allows_only_cloudtrail_and_config(template):
    stmts = _props(template["Resources"]["LogBucketPolicy"])["PolicyDocument"]["Statement"]
    allowed = {s["Principal"]["Service"] for s in stmts if s["Effect"] == "Allow"}
    assert allowed == {"cloudtrail.amazonaws.com", "config.amazonaws.com"}
    assert all("Condition" in s for s in stmts)


def test_template_bucket_reads_need_the_provisioning_tag(template):
    stmts = _props(template["Resources"]["TemplateBucketPolicy"])["PolicyDocument"]["Statement"]
    deny = [s for s in stmts if s["Sid"] == "LaunchRoleReadsOnlyProvisioningObjects"][0]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["StringNotEquals"] == {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}
    assert admin.LAUNCH_ROLE_NAME in deny["Condition"]["StringEquals"]["aws:PrincipalArn"]["Fn::Sub"]


def test_log_groups_and_topic_are_kms_encrypted(effective):
    part, t = effective
    groups = _of_type(t, "AWS::Logs::LogGroup")
    assert bool(groups) == (part == "YES")
    for lid, g in groups.items():
        assert _props(g)["KmsKeyId"] == {"Fn::GetAtt": ["LogKey", "Arn"]}, lid
        assert _props(g)["RetentionInDays"] >= 365
    (topic,) = _of_type(t, "AWS::SNS::Topic").values()
    assert _props(topic)["KmsMasterKeyId"] == {"Fn::GetAtt": ["LogKey", "Arn"]}
    (sub,) = _of_type(t, "AWS::SNS::Subscription").values()
    assert _props(sub)["Protocol"] == "email" and _props(sub)["Endpoint"] == {"Ref": "AdministratorEmail"}


def test_log_key_rotates_and_trusts_only_the_log_services(template):
    key = _props(template["Resources"]["LogKey"])
    assert key["EnableKeyRotation"] is True
    services = set()
    for s in key["KeyPolicy"]["Statement"]:
        assert s["Principal"] != "*" and s["Principal"].get("AWS") != "*"
        if "Service" in s["Principal"]:
            svc = s["Principal"]["Service"]
            services |= set(svc) if isinstance(svc, list) else {svc["Fn::Sub"] if isinstance(svc, dict) else svc}
    assert services == {"cloudtrail.amazonaws.com", "logs.${AWS::Region}.amazonaws.com", "config.amazonaws.com",
                        "cloudwatch.amazonaws.com", "events.amazonaws.com"}
    logs_stmt = [s for s in key["KeyPolicy"]["Statement"] if s["Sid"] == "CloudWatchLogsUseKey"][0]
    # any log group of this account and region (the trail's and the products'), nothing broader
    assert logs_stmt["Condition"] == {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}}}
    assert logs_stmt["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    assert logs_stmt["Resource"] == ["*"] and "kms:*" not in logs_stmt["Action"]
    assert not {"kms:CreateGrant", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"} & set(logs_stmt["Action"])


def test_trail_is_multi_region_validated_encrypted_and_feeds_cloudwatch(effective):
    part, t = effective
    trails = _of_type(t, "AWS::CloudTrail::Trail")
    if part == "NO":
        assert trails == {}  # one trail per account, in the primary region
        return
    (trail,) = trails.values()
    p = _props(trail)
    assert p["IsMultiRegionTrail"] is True and p["EnableLogFileValidation"] is True
    assert p["IncludeGlobalServiceEvents"] is True and p["IsLogging"] is True
    # the log key, by its alias (a string, which the Guard registry rule wants; the trail waits for the alias)
    alias = _props(t["Resources"]["LogKeyAlias"])
    assert p["KMSKeyId"] == alias["AliasName"] and alias["TargetKeyId"] == {"Ref": "LogKey"}
    assert "LogKeyAlias" in trail["DependsOn"] and p["S3BucketName"] == {"Ref": "LogBucket"}
    assert p["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": ["TrailLogGroup", "Arn"]}
    assert p["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": ["TrailLogsRole", "Arn"]}
    assert p["EventSelectors"][0]["DataResources"][0]["Type"] == "AWS::S3::Object"


def test_cis_filter_patterns_are_the_reference_ones():
    section = REFERENCE.read_text(encoding="utf-8").split("## CIS CloudWatch metric filters")[1]
    ref = {int(m.group(1)): m.group(2).replace("\\|\\|", "||")
           for m in re.finditer(r"^\| (\d+) \| .*? \| `(.*)` \|$", section, re.M)}
    assert len(ref) == 14
    assert {f.number: f.pattern for f in alarms.CIS_FILTERS} == ref


def test_cis_filter_patterns_are_those_of_aws_security_hub_control_text():
    """Security Hub CloudWatch.1-14 fail unless the exact CIS filter is used (AWS's control text, copied)."""
    aws = {int(n): pattern for n, pattern in re.findall(r"^## CloudWatch\.(\d+)\n.*?```\n(.*?)\n```",
                                                         AWS_CONTROL_TEXT.read_text(encoding="utf-8"), re.M | re.S)}
    assert sorted(aws) == list(range(1, 15))
    assert {f.number: f.pattern for f in alarms.CIS_FILTERS} == aws
    vpc = next(f for f in alarms.CIS_FILTERS if f.number == 14).pattern
    assert all(f"($.eventName={e})" in vpc for e in ("AttachClassicLinkVpc", "DetachClassicLinkVpc",
                                                      "DisableVpcClassicLink", "EnableVpcClassicLink"))


def test_all_fourteen_cis_filters_have_alarms_with_actions(effective):
    part, t = effective
    filters = _of_type(t, "AWS::Logs::MetricFilter")
    alarm_res = _of_type(t, "AWS::CloudWatch::Alarm")
    if part == "NO":
        assert filters == {} and alarm_res == {}
        return
    assert len(filters) == 14 and len(alarm_res) == 14
    patterns = {f.pattern for f in alarms.CIS_FILTERS}
    watched = {(_props(a)["Namespace"], _props(a)["MetricName"]): _props(a) for a in alarm_res.values()}
    for lid, f in filters.items():
        p = _props(f)
        assert p["LogGroupName"] == {"Ref": "TrailLogGroup"} and p["FilterPattern"] in patterns
        (mt,) = p["MetricTransformations"]
        alarm = watched[(mt["MetricNamespace"], mt["MetricName"])]
        assert alarm["Statistic"] == "Sum" and alarm["Period"] == 300 and alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]
        assert alarm["InsufficientDataActions"] == [{"Ref": "NotificationTopic"}]


def test_config_records_everything_and_checks_the_promised_rules(effective):
    part, t = effective
    (rec,) = _of_type(t, "AWS::Config::ConfigurationRecorder").values()
    assert _props(rec)["RecordingGroup"] == {"AllSupported": True, "IncludeGlobalResourceTypes": part == "YES"}
    (channel,) = _of_type(t, "AWS::Config::DeliveryChannel").values()
    assert _props(channel)["S3BucketName"] == {"Ref": "LogBucket"}
    rules = {_props(r)["Source"]["SourceIdentifier"]: _props(r) for r in _of_type(t, "AWS::Config::ConfigRule").values()}
    for ident in ("ENCRYPTED_VOLUMES", "INCOMING_SSH_DISABLED", "EC2_IMDSV2_CHECK", "EC2_INSTANCE_NO_PUBLIC_IP",
                  "S3_BUCKET_SSL_REQUESTS_ONLY", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED",
                  "CLOUDWATCH_LOG_GROUP_ENCRYPTED", "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS"):
        assert ident in rules
    assert rules["VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS"]["InputParameters"] == {"authorizedTcpPorts": "443,80"}
    # Only PHI servers promise backups: the rule must not flag every PHI=NO root volume.  ebs-in-backup-plan
    # is periodic (no Scope possible); this rule takes the tag as its resourceTags parameter.
    assert "EBS_IN_BACKUP_PLAN" not in rules
    backups = rules["EBS_RESOURCES_PROTECTED_BY_BACKUP_PLAN"]
    assert json.loads(backups["InputParameters"]["resourceTags"]) == {"PHI": "YES"} and "Scope" not in backups
    assert ("IAM_NO_INLINE_POLICY_CHECK" in rules) == (part == "YES")
    (alert,) = _of_type(t, "AWS::Events::Rule").values()
    assert _props(alert)["EventPattern"] == config_rules.NON_COMPLIANT_PATTERN
    assert _props(alert)["Targets"][0]["Arn"] == {"Ref": "NotificationTopic"}
    stmt = _props(_of_type(t, "AWS::SNS::TopicPolicy")["NotificationTopicPolicy"])["PolicyDocument"]["Statement"][0]
    assert set(stmt["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


def test_no_periodic_config_rule_has_a_scope_and_every_trigger_type_is_known(template):
    """Every managed rule the baseline deploys has its trigger type from its AWS page in E9409's table."""
    for r in config_rules.MANAGED_RULES:
        assert r.identifier in ConfigPeriodicRuleNoScope.TRIGGER_TYPES, f"{r.name}: add its trigger type"
        assert ConfigPeriodicRuleNoScope.TRIGGER_TYPES[r.identifier][0] == r.name
    for lid, rule in _of_type(template, "AWS::Config::ConfigRule").items():
        ident = _props(rule)["Source"]["SourceIdentifier"]
        if ConfigPeriodicRuleNoScope.TRIGGER_TYPES[ident][1] == ConfigPeriodicRuleNoScope.PERIODIC:
            assert "Scope" not in _props(rule), lid


def test_config_recorder_and_channel_in_the_order_aws_needs(template):
    res = template["Resources"]
    channel = res["ConfigDeliveryChannel"]
    # after the recorder, the policy letting the recorder's role write to the bucket, and the bucket policy
    assert channel["DependsOn"] == ["ConfigRecorder", "ConfigRecorderRoleDeliveryPolicy", "LogBucketPolicy"]
    for lid in ("ConfigRecorder", "ConfigRecorderRole", "ConfigRecorderRoleDeliveryPolicy", "ConfigDeliveryChannel"):
        assert res[lid]["Condition"] == account_baseline.CREATES_RECORDING, lid
    # every rule comes after the recorder and channel the stack creates: it depends on the setting that refers
    # to them inside Fn::If (a DependsOn naming them would name nothing with ConfigRecording=EXISTING)
    for lid, rule in _of_type(template, "AWS::Config::ConfigRule").items():
        assert rule["DependsOn"] == ["SettingConfigRecording"], lid
    setting = res["SettingConfigRecording"]
    assert "Condition" not in setting
    cond, created, existing = _props(setting)["Value"]["Fn::If"]
    assert cond == account_baseline.CREATES_RECORDING and existing.startswith("EXISTING")
    assert created["Fn::Sub"][1] == {"Recorder": {"Ref": "ConfigRecorder"}, "Channel": {"Ref": "ConfigDeliveryChannel"}}


@pytest.mark.parametrize("part", ["YES", "NO"])
def test_an_account_that_already_records_keeps_its_recorder_and_channel(template, part):
    t = resolve(template, part, recording="EXISTING")
    for rtype in ("AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel"):
        assert _of_type(t, rtype) == {}
    assert "ConfigRecorderRole" not in t["Resources"] and "ConfigRecorderRoleDeliveryPolicy" not in t["Resources"]
    rules = _of_type(t, "AWS::Config::ConfigRule")
    assert len(rules) == len([r for r in config_rules.MANAGED_RULES if part == "YES" or not r.global_only])
    assert _props(t["Resources"]["SettingConfigRecording"])["Value"].startswith("EXISTING")
    # the log bucket still lets AWS Config deliver (an adopted channel may be pointed at it)
    assert "config.amazonaws.com" in json.dumps(t["Resources"]["LogBucketPolicy"])


def test_developer_group_once_per_account(effective):
    part, t = effective
    groups = _of_type(t, "AWS::IAM::Group")
    assert bool(groups) == (part == "YES")
    for g in groups.values():
        assert _props(g)["GroupName"] == admin.DEVELOPER_GROUP
        *aws_managed, own = _props(g)["ManagedPolicyArns"]
        assert [a["Fn::Sub"].rsplit("/", 1)[1] for a in aws_managed] == [
            "AWSCodeCommitPowerUser", "AWSServiceCatalogEndUserFullAccess"]
        # and reading the AMI setting, whose current version `launch` pins: GetParameter on that one parameter
        [statement] = t["Resources"][own["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Action"] == ["ssm:GetParameter"] and statement["Effect"] == "Allow"
        assert statement["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/"
                                                    + admin.WEB_SERVER_AMI.full_name("/hipaa-catalog").lstrip("/")}]


def test_every_administrator_setting_is_written_under_the_prefix(template, settings):
    params = {_props(p)["Name"]: _props(p) for p in _of_type(template, "AWS::SSM::Parameter").values()}
    assert set(params) == {s.full_name(settings.ssm_prefix) for s in admin.ALL}
    for s in admin.ALL:
        assert params[s.full_name(settings.ssm_prefix)]["Type"] == s.ssm_type
    assert {"TemplateBucketName", "NotificationTopicArn", "DeveloperGroupArn", "AccessLogBucketName"} <= \
        set(template["Outputs"])


def test_logs_key_setting_is_written_in_every_region(effective, settings):
    """Products encrypt their log groups with the baseline's logs key, read from this setting."""
    _, t = effective
    [param] = [_props(p) for p in _of_type(t, "AWS::SSM::Parameter").values()
               if _props(p)["Name"] == admin.LOGS_KMS_KEY_ARN.full_name(settings.ssm_prefix)]
    assert param["Name"] == f"{settings.ssm_prefix}/logging/kms-key-arn"
    assert param["Value"] == {"Fn::GetAtt": ["LogKey", "Arn"]} and param["Type"] == "String"


def test_short_log_retention_is_a_config_error(settings):
    ps = settings.products[account_baseline.NAME]
    bad = type(ps)(**{**ps.__dict__, "options": {"log_expiration_days": 365}})
    with pytest.raises(ConfigError, match=r"account-baseline: log_expiration_days: found 365; allowed: .*2190"):
        account_baseline.make_config(settings, bad, {})


# --- ELB access-log delivery per region ---------------------------------------------------------

ELB_ACCOUNT_STATEMENT, ELB_SERVICE_STATEMENT = "LoadBalancerAccessLogs", "LoadBalancerLogDelivery"


def _baseline_in(settings, regions):
    """The baseline of a catalog in ``regions``, rendered (make_config + build), and its config."""
    wider = dataclasses.replace(settings, regions=tuple(regions))
    cfg = account_baseline.make_config(wider, settings.products[account_baseline.NAME], {})
    return cfg, json.loads(render.canonical_json(account_baseline.build(cfg)))


def _elb_sids(document):
    return {s["Sid"] for s in document["Statement"]} & {ELB_ACCOUNT_STATEMENT, ELB_SERVICE_STATEMENT}


def test_elb_logs_from_the_region_account_and_the_service_principal_in_older_regions(template):
    policy = _props(template["Resources"]["AccessLogBucketPolicy"])["PolicyDocument"]
    assert _elb_sids(policy) == {ELB_ACCOUNT_STATEMENT, ELB_SERVICE_STATEMENT}
    assert template["Mappings"]["ElbLogDelivery"] == {
        "us-east-1": {"Account": "127311923021"}, "us-west-2": {"Account": "797873946194"}}
    assert account_baseline.ELB_ACCOUNT_REGION not in template["Conditions"]


def test_elb_logs_only_from_the_service_principal_in_regions_opened_since_august_2022():
    # (a catalog of such regions only cannot be built: the IAM Config rules are not offered in any of them)
    t = Template()
    with_account, service_only = account_baseline._elb_log_statements(
        t, types.SimpleNamespace(regions=("eu-central-2", "ap-southeast-4")), ["arn:aws:s3:::b/AWSLogs/1/*"])
    assert "ElbLogDelivery" not in t.mappings
    assert [s.Sid for s in with_account] == [s.Sid for s in service_only] == [ELB_SERVICE_STATEMENT]
    assert json.loads(service_only[0].Principal.to_json()) == {"Service": account_baseline.ELB_LOG_SERVICE}


def test_a_primary_region_without_the_iam_config_rules_is_refused(settings):
    with pytest.raises(ConfigError, match=r"regions: the AWS Config managed rule iam-no-inline-policy-check is not "
                                          r"available in eu-central-2 \(https://docs.aws.amazon.com/config/") as err:
        _baseline_in(settings, ["eu-central-2", "us-east-1"])
    assert "first is the primary region" in err.value.hint
    # the global rules go to the primary region only: elsewhere the newer region is fine for them
    assert config_rules.unavailable(("us-east-1", "eu-central-2")) == []
    assert [(r.name, reg) for r, reg in config_rules.unavailable(("us-east-1", "mx-central-1"))] == [
        ("ec2-imdsv2-check", "mx-central-1"), ("ebs-resources-protected-by-backup-plan", "mx-central-1"),
        ("cloudwatch-alarm-action-check", "mx-central-1")]


def test_region_names_of_the_rule_pages_are_those_botocore_gives_the_codes():
    endpoints = create_loader().load_data("endpoints")
    described = {code: r.get("description") for p in endpoints["partitions"] for code, r in p["regions"].items()}
    for code, name in config_rules.REGION_NAMES.items():
        assert described.get(code) == name, code
    named = {n for r in config_rules.MANAGED_RULES for n in r.unavailable}
    assert named - set(config_rules.REGION_NAMES.values()) == {"AWS Secret - West"}


def test_a_catalog_mixing_both_kinds_of_region_chooses_the_policy_per_region(settings):
    regions = ["us-east-1", "eu-central-2"]
    _, t = _baseline_in(settings, regions)
    assert t["Mappings"]["ElbLogDelivery"] == {"us-east-1": {"Account": "127311923021"},
                                                "eu-central-2": {"Account": account_baseline.ELB_NO_ACCOUNT}}
    assert t["Conditions"][account_baseline.ELB_ACCOUNT_REGION] == {"Fn::Not": [{"Fn::Equals": [
        {"Fn::FindInMap": ["ElbLogDelivery", {"Ref": "AWS::Region"}, "Account"]}, account_baseline.ELB_NO_ACCOUNT]}]}
    cond, with_account, service_only = _props(t["Resources"]["AccessLogBucketPolicy"])["PolicyDocument"]["Fn::If"]
    assert cond == account_baseline.ELB_ACCOUNT_REGION
    assert _elb_sids(with_account) == {ELB_ACCOUNT_STATEMENT, ELB_SERVICE_STATEMENT}
    assert _elb_sids(service_only) == {ELB_SERVICE_STATEMENT}
    for document in (with_account, service_only):  # both still deny plain HTTP and take S3 server access logs
        assert {"DenyInsecureTransport", "S3ServerAccessLogs"} <= {s["Sid"] for s in document["Statement"]}
    assert blocking(Linter(regions).lint_text(json.dumps(t)).findings) == []


@pytest.mark.parametrize("region", ["cn-north-1", "ap-east-9"])
def test_a_region_without_known_elb_log_delivery_is_a_config_error_in_make_config(settings, region):
    wider = dataclasses.replace(settings, regions=("us-east-1", region))
    with pytest.raises(ConfigError, match=rf"catalog.toml: catalog.regions: region {region}: .*Elastic Load "
                                          r"Balancing .*supported regions: .*us-east-1.*eu-central-2") as err:
        account_baseline.make_config(wider, settings.products[account_baseline.NAME], {})
    assert "ELB_LOG_SERVICE_REGIONS" in err.value.hint


# --- replication of the audit evidence ---------------------------------------------------------

KEY_ARN = "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _with_options(settings, regions, **options):
    ps = settings.products[account_baseline.NAME]
    wider = dataclasses.replace(settings, regions=tuple(regions))
    return account_baseline.make_config(wider, dataclasses.replace(ps, options={**ps.options, **options}), {})


def _statements(policy):
    return {s["Sid"]: s for s in _props(policy)["PolicyDocument"]["Statement"]}


def test_two_region_catalog_replicates_the_log_bucket_into_the_other_regions_replica_bucket(template, settings):
    assert template["Mappings"]["LogReplication"] == {"us-east-1": {"ReplicaRegion": "us-west-2"},
                                                      "us-west-2": {"ReplicaRegion": "us-east-1"}}
    t = resolve(template)
    res = t["Resources"]
    # the replica bucket, in every region: encrypted, versioned, its own access logging, the settings' retention
    replica = _props(res["LogReplicaBucket"])
    sse = replica["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["LogKey", "Arn"]}}
    assert replica["VersioningConfiguration"] == {"Status": "Enabled"}
    assert replica["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogBucket"}
    cfg = account_baseline.make_config(settings, settings.products[account_baseline.NAME], {})
    days = {r["Id"]: r for r in replica["LifecycleConfiguration"]["Rules"]}
    assert days["ExpireAfterRetention"]["ExpirationInDays"] == cfg.replica_expiration_days >= 2190
    assert days["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == cfg.replica_expiration_days
    assert res["LogReplicaBucket"]["DeletionPolicy"] == "Retain"
    assert {"LogReplicaBucketArn", "LogReplicaBucketName", "LogKeyArn"} <= set(t["Outputs"])
    # the log bucket's rule: every object, SSE-KMS objects included, re-encrypted with the replica region's key
    (rule,) = _props(res["LogBucket"])["ReplicationConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": ""}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert rule["Destination"] == {"Bucket": REPLICA["LogReplicaBucketArn"],
                                   "EncryptionConfiguration": {"ReplicaKmsKeyID": REPLICA["LogReplicaKeyArn"]}}
    assert _props(res["LogBucket"])["VersioningConfiguration"] == {"Status": "Enabled"}
    # the role: trusted by S3 only, the documented permissions, nothing on Resource "*"
    role = _props(res["LogReplicationRole"])
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["s3.amazonaws.com"]}
    stmts = _statements(res["LogReplicationRolePolicy"])
    assert stmts["ReadReplicationConfiguration"]["Action"] == ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    assert stmts["WriteReplicas"]["Action"] == ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"]
    assert stmts["WriteReplicas"]["Resource"] == [{"Fn::Join": ["", [REPLICA["LogReplicaBucketArn"], "/*"]]}]
    assert stmts["DecryptSourceObjects"]["Resource"] == [{"Fn::GetAtt": ["LogKey", "Arn"]}]
    # the replica key is named by its alias (an IAM policy cannot name a key by alias): the keys of the replica
    # region with the logs alias (one account) or the log-replica alias (an organisation), through S3 there
    replica_region = {"Region": {"Fn::FindInMap": ["LogReplication", {"Ref": "AWS::Region"}, "ReplicaRegion"]}}
    assert stmts["EncryptReplicas"]["Resource"] == [
        {"Fn::Sub": ["arn:${AWS::Partition}:kms:${Region}:${AWS::AccountId}:key/*", replica_region]}]
    assert stmts["EncryptReplicas"]["Condition"] == {
        "StringLike": {"kms:ViaService": {"Fn::Sub": ["s3.${Region}.amazonaws.com", replica_region]}},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": ["alias/hipaa-catalog/logs",
                                                             "alias/hipaa-catalog/log-replica"]}}
    assert _props(res["LogKeyAlias"])["AliasName"] == "alias/hipaa-catalog/logs"
    assert "kms:Encrypt" in stmts["EncryptReplicas"]["Action"]
    assert all(r != "*" for s in stmts.values() for r in s["Resource"])


def test_until_the_replica_region_is_deployed_the_log_bucket_does_not_replicate(template):
    t = resolve(template, replica=PENDING)
    assert "ReplicationConfiguration" not in _props(t["Resources"]["LogBucket"])
    assert "LogReplicationRole" not in t["Resources"] and "LogReplicationRolePolicy" not in t["Resources"]
    assert "LogReplicaBucket" in t["Resources"]   # it still receives the other region's replicas


def test_regions_replicate_in_a_ring(settings):
    _, t = _baseline_in(settings, ["us-east-1", "us-west-2", "eu-west-1"])
    assert {r: v["ReplicaRegion"] for r, v in t["Mappings"]["LogReplication"].items()} == {
        "us-east-1": "us-west-2", "us-west-2": "eu-west-1", "eu-west-1": "us-east-1"}


def test_a_one_region_catalog_without_a_destination_is_refused_with_how(settings):
    with pytest.raises(ConfigError, match=r"account-baseline: the catalog has one region \(us-east-1\), so there "
                                          r"is no second region to replicate the log bucket") as err:
        _with_options(settings, ["us-east-1"])
    assert "add a second region to catalog.regions" in err.value.hint
    assert "replica_bucket_arn" in err.value.hint and "replica_kms_key_arn" in err.value.hint


def test_a_bucket_the_settings_name_is_encrypted_with_the_key_they_name(settings):
    cfg = _with_options(settings, ["us-east-1"], replica_bucket_arn="arn:aws:s3:::evidence-replica",
                        replica_kms_key_arn=KEY_ARN)
    stmts = _statements(account_baseline.build(cfg).to_dict()["Resources"]["LogReplicationRolePolicy"])
    assert stmts["EncryptReplicas"]["Resource"] == [{"Ref": "LogReplicaKeyArn"}]
    assert set(stmts["EncryptReplicas"]["Condition"]) == {"StringLike"}


def test_a_one_region_catalog_replicates_to_the_bucket_the_settings_name(settings):
    cfg = _with_options(settings, ["us-east-1"], replica_bucket_arn="arn:aws:s3:::evidence-replica",
                        replica_kms_key_arn=KEY_ARN)
    t = json.loads(render.canonical_json(account_baseline.build(cfg)))
    assert "LogReplicaBucket" not in t["Resources"] and "LogReplicaBucketArn" not in t["Outputs"]
    assert t["Parameters"]["LogReplicaBucketArn"]["Default"] == "arn:aws:s3:::evidence-replica"
    assert t["Parameters"]["LogReplicaKeyArn"]["Default"] == KEY_ARN
    assert t["Mappings"]["LogReplication"] == {"us-east-1": {"ReplicaRegion": "us-east-2"}}
    on = scenarios.resolve(t, {"GlobalResources": "YES", "ConfigRecording": "CREATE",
                               "LogReplicaBucketArn": "arn:aws:s3:::evidence-replica", "LogReplicaKeyArn": KEY_ARN})
    assert "ReplicationConfiguration" in _props(on["Resources"]["LogBucket"])
    assert blocking(Linter(["us-east-1"]).lint_text(json.dumps(t)).findings) == []


@pytest.mark.parametrize("options, field", [
    ({"replica_bucket_arn": "arn:aws:s3:::evidence-replica"}, "replica_kms_key_arn"),
    ({"replica_bucket_arn": "s3://evidence", "replica_kms_key_arn": KEY_ARN}, "replica_bucket_arn"),
    ({"replica_bucket_arn": "arn:aws:s3:::evidence-replica",
      "replica_kms_key_arn": KEY_ARN.replace("us-east-2", "us-east-1")}, "replica_kms_key_arn"),
    ({"replica_expiration_days": 30}, "replica_expiration_days"),
])
def test_bad_replication_settings_name_the_field(settings, options, field):
    with pytest.raises(ConfigError, match=rf"account-baseline: {field}: found"):
        _with_options(settings, ["us-east-1"], **options)


def test_buckets_not_replicated_say_why(template):
    res = template["Resources"]
    reasons = {lid: next((s["reason"] for s in r.get("Metadata", {}).get("hipaa-catalog", {}).get(
                   "guard-suppressions", []) if s["rule"] == "S3_BUCKET_REPLICATION_ENABLED"), None)
               for lid, r in _of_type(template, "AWS::S3::Bucket").items()}
    # the log bucket replicates; the Guard rule is suppressed only for the scenarios before its replica exists
    assert "ReplicationConfiguration" in _props(res["LogBucket"]) and "once it exists" in reasons["LogBucket"]
    assert set(k for k, v in reasons.items() if v) == {"AccessLogBucket", "TemplateBucket", "LogReplicaBucket",
                                                      "LogBucket"}
    assert "never settling" in reasons["AccessLogBucket"]
    assert "no audit evidence" in reasons["TemplateBucket"]


# --- the administrators' CIDR ------------------------------------------------------------------

def _admin_cidr_spec(template):
    return ParameterSpec.from_template("AdminCidr", template["Parameters"]["AdminCidr"])


@pytest.mark.parametrize("value", ["0.0.0.0/0", "::/0", "10.0.0.0/8", "10.0.0.0/15", "banana", "10.0.0.0",
                                   "300.1.1.1/24", "10.0.0.0/33"])
def test_admin_cidr_refuses_the_internet_and_anything_broader_than_a_16(template, value):
    why = _admin_cidr_spec(template).problem(value)
    assert why and "does not match" in why
    assert "0.0.0.0/0, ::/0 or a range broader than /16" in template["Parameters"]["AdminCidr"]["ConstraintDescription"]


@pytest.mark.parametrize("value", ["10.20.0.0/16", "10.20.30.0/24", "192.168.1.10/32", "172.16.0.0/20"])
def test_admin_cidr_accepts_an_administrators_network(template, value):
    assert _admin_cidr_spec(template).problem(value) is None


def test_the_admin_cidr_limit_is_a_setting(settings):
    cfg = _with_options(settings, settings.regions, admin_cidr_min_prefix=24)
    spec = ParameterSpec.from_template("AdminCidr", json.loads(render.canonical_json(
        account_baseline.build(cfg)))["Parameters"]["AdminCidr"])
    assert spec.problem("10.20.0.0/16") and spec.problem("10.20.30.0/24") is None
    assert "broader than /24" in spec.constraint_description
    with pytest.raises(ConfigError, match="admin_cidr_min_prefix: found 0"):
        _with_options(settings, settings.regions, admin_cidr_min_prefix=0)


def test_the_web_servers_settings_and_their_placement_rule(template, settings):
    """The baseline writes where web servers go, their PROD DNS zone and domain and their AMI; CloudFormation
    refuses an instance subnet outside the private subnets or in a zone no public subnet is in."""
    params = template["Parameters"]
    assert params["ProdHostedZoneId"]["Type"] == "AWS::Route53::HostedZone::Id"
    assert params[admin.INSTANCE_SUBNET_PARAMETER]["Type"] == "AWS::EC2::Subnet::Id"
    assert params[admin.INSTANCE_AZ_PARAMETER]["Type"] == "AWS::EC2::AvailabilityZone::Name"
    assert params[admin.AMI_PARAMETER]["Type"] == "AWS::EC2::Image::Id"
    domain = params["ProdDomain"]
    for good in ("apps.example.org", "clinic.example.org", "a-b.example.co"):
        assert re.fullmatch(domain["AllowedPattern"], good), good
    for bad in ("Apps.Example.org", "example", "-a.example.org", "a..example.org", "*.example.org", "example.org."):
        assert not re.fullmatch(domain["AllowedPattern"], bad), bad
    # a 36-character label and a dot before the domain stay within Route 53's 255 bytes
    assert domain["MaxLength"] + 37 <= 255
    [rule] = template["Rules"].values()
    asserts = [a["Assert"] for a in rule["Assertions"]]
    assert {"Fn::Contains": [{"Ref": "PrivateSubnetIds"}, {"Ref": "InstanceSubnetId"}]} in asserts
    assert {"Fn::Contains": [{"Fn::ValueOf": ["PublicSubnetIds", "AvailabilityZone"]},
                             {"Ref": "InstanceAvailabilityZone"}]} in asserts
    written = {p["Properties"]["Name"] for p in template["Resources"].values() if p["Type"] == "AWS::SSM::Parameter"}
    assert {s.full_name(settings.ssm_prefix) for s in (admin.INSTANCE_SUBNET, admin.INSTANCE_AZ, admin.HOSTED_ZONE_ID,
                                                        admin.DOMAIN, admin.WEB_SERVER_AMI)} <= written


def test_the_baseline_is_sent_inline(template):
    """deploy-baseline sends the template inline (the first deploy has no bucket to upload it to), so it must
    stay within CloudFormation's "Template body size in a request ... 51,200 bytes" (*AWS CloudFormation quotas*,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html)."""
    from generator.aws import deploy

    body = json.dumps(template, separators=(",", ":"), sort_keys=True)
    assert len(body.encode("utf-8")) <= deploy.MAX_TEMPLATE_BODY
