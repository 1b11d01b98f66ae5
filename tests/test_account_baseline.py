"""The account baseline: what it encrypts, blocks, records and alarms on, in each part (global YES/NO)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from generator import render
from generator.blocks import admin_settings as admin, alarms, config_rules
from generator.compliance import scenarios
from generator.compliance.lint import Linter, blocking
from generator.errors import ConfigError
from products import account_baseline

REFERENCE = Path("/work/shared/reference/hipaa-controls.md")


@pytest.fixture(scope="module")
def template(rendered):
    return rendered[account_baseline.NAME].template


@pytest.fixture(scope="module", params=["YES", "NO"])
def effective(request, template):
    """The template as CloudFormation sees it in the primary region (YES) and in the other regions (NO)."""
    return request.param, scenarios.resolve(template, {"GlobalResources": request.param})


def _of_type(t, rtype):
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def _props(res):
    return res.get("Properties", {})


def test_lint_clean_in_every_catalog_region(rendered, settings):
    findings = Linter(list(settings.regions)).lint_text(rendered[account_baseline.NAME].json_text).findings
    assert blocking(findings) == []


def test_every_bucket_is_private_and_denies_plain_http(effective):
    _, t = effective
    buckets = _of_type(t, "AWS::S3::Bucket")
    assert set(buckets) == {"AccessLogBucket", "LogBucket", "TemplateBucket"}
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
    # Only PHI servers promise backups: the rule must not flag every PHI=NO root volume.
    assert rules["EBS_IN_BACKUP_PLAN"]["Scope"] == {"TagKey": "PHI", "TagValue": "YES"}
    assert ("IAM_NO_INLINE_POLICY_CHECK" in rules) == (part == "YES")
    (alert,) = _of_type(t, "AWS::Events::Rule").values()
    assert _props(alert)["EventPattern"] == config_rules.NON_COMPLIANT_PATTERN
    assert _props(alert)["Targets"][0]["Arn"] == {"Ref": "NotificationTopic"}
    stmt = _props(_of_type(t, "AWS::SNS::TopicPolicy")["NotificationTopicPolicy"])["PolicyDocument"]["Statement"][0]
    assert set(stmt["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


def test_developer_group_once_per_account(effective):
    part, t = effective
    groups = _of_type(t, "AWS::IAM::Group")
    assert bool(groups) == (part == "YES")
    for g in groups.values():
        assert _props(g)["GroupName"] == admin.DEVELOPER_GROUP
        arns = [a["Fn::Sub"] for a in _props(g)["ManagedPolicyArns"]]
        assert [a.rsplit("/", 1)[1] for a in arns] == ["AWSCodeCommitPowerUser", "AWSServiceCatalogEndUserFullAccess"]


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


def test_elb_logs_only_from_the_service_principal_in_regions_opened_since_august_2022(settings):
    _, t = _baseline_in(settings, ["eu-central-2", "ap-southeast-4"])
    assert "ElbLogDelivery" not in t.get("Mappings", {})
    policy = _props(t["Resources"]["AccessLogBucketPolicy"])["PolicyDocument"]
    assert _elb_sids(policy) == {ELB_SERVICE_STATEMENT}
    [svc] = [s for s in policy["Statement"] if s["Sid"] == ELB_SERVICE_STATEMENT]
    assert svc["Principal"] == {"Service": account_baseline.ELB_LOG_SERVICE}
    assert blocking(Linter(["eu-central-2", "ap-southeast-4"]).lint_text(json.dumps(t)).findings) == []


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
