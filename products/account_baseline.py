"""The account baseline: what the security administrator deploys so that every launched product is watched.

One template, deployed in every catalog region.  The parameter ``GlobalResources`` separates the parts:

- every region (``GlobalResources`` YES or NO): the KMS key for logs, the log bucket, the access-log
  bucket, the template bucket (and its key), the encrypted notification topic with the administrator's
  e-mail, AWS Config (recorder, delivery channel, managed rules), the NON_COMPLIANT alert, and the
  administrator settings as SSM parameters under the catalog prefix;
- once per account (``GlobalResources`` YES, in the catalog's primary region only): the multi-region
  CloudTrail trail with its CloudWatch Logs group and role, the fourteen CIS metric filters and alarms,
  the HealthcareDeveloper group, the IAM-only Config rules, and recording of global resource types.
"""

from __future__ import annotations

from dataclasses import dataclass

from awacs.aws import ArnLike, Condition, Principal, StringEquals, StringNotEquals
from troposphere import (Equals, FindInMap, GetAtt, If, Join, Not, Output, Parameter, Ref, Sub, Template,
                         iam as cfn_iam, sns, ssm)

from generator.blocks import admin_settings as admin, alarms, config_rules, kms, trail
from generator.blocks.catalog import (PROVISIONING_TAG_KEY, PROVISIONING_TAG_VALUE, checkov_skipped, guard_suppressed,
                                      template_bucket_prefix, waived)
from generator.blocks.iam import Deny, aws_managed, document, statement
from generator.blocks.logs import RETENTION_VALUES, log_group
from generator.blocks.s3 import bucket_arns, deny_insecure_transport, encrypted_bucket, tls_only_policy
from generator.errors import ConfigError
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "account-baseline"
GLOBAL = "IsGlobalRegion"
MIN_LOG_DAYS = 2190  # six years (HIPAA 164.316(b)(2)(i) documentation retention)

# How Elastic Load Balancing delivers access logs to the access-log bucket (AWS ELB user guide, "Enable
# access logs"): in the regions opened before August 2022 from its log-delivery account (below; the
# bucket policy also allows the service principal there), in the regions opened since then only as the
# service principal ``logdelivery.elasticloadbalancing.amazonaws.com``.  A catalog region in neither list
# is a ConfigError: add it here, from the user guide, with the form it uses.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021", "us-east-2": "033677994240", "us-west-1": "027434742980",
    "us-west-2": "797873946194", "af-south-1": "098369216593", "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580", "ap-south-1": "718504428378", "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887", "ap-southeast-1": "114774131450", "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864", "ca-central-1": "985666609251", "eu-central-1": "054676820928",
    "eu-west-1": "156460612806", "eu-west-2": "652711504416", "eu-south-1": "635631232127",
    "eu-west-3": "009996457667", "eu-north-1": "897822967062", "me-south-1": "076674570225",
    "sa-east-1": "507241528517", "us-gov-west-1": "048591011584", "us-gov-east-1": "190560391635",
}
ELB_LOG_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"
ELB_LOG_SERVICE_REGIONS = frozenset({
    "me-central-1", "ap-south-2", "eu-central-2", "eu-south-2", "ap-southeast-4", "il-central-1", "ca-west-1",
    "ap-southeast-5", "ap-southeast-7", "mx-central-1",
})
# Pending: no bucket replicates to a second region yet (HIPAA 164.308(a)(7): contingency plan, data backup,
# disaster recovery); the baseline's replication work adds it and removes these suppressions.
REPLICATION_PENDING = ("S3_BUCKET_REPLICATION_ENABLED", (
    "pending: cross-region replication of this bucket is not implemented yet; the account baseline's replication "
    "work adds it and removes this suppression"))
ELB_NO_ACCOUNT = "none"            # ElbLogDelivery mapping value of a service-principal-only region
ELB_ACCOUNT_REGION = "HasElbLogAccount"  # condition, only in catalogs mixing both kinds of region


def check_elb_log_regions(regions, where: str) -> None:
    """Every region must be one whose ELB log delivery the baseline knows how to allow."""
    for region in regions:
        if region not in ELB_LOG_ACCOUNTS and region not in ELB_LOG_SERVICE_REGIONS:
            raise ConfigError(
                f"{where}: region {region}: the account baseline does not know how Elastic Load Balancing "
                f"delivers access logs there; supported regions: {', '.join(sorted(ELB_LOG_ACCOUNTS))} "
                f"(ELB log-delivery account) and {', '.join(sorted(ELB_LOG_SERVICE_REGIONS))} (service "
                f"principal {ELB_LOG_SERVICE} only)",
                hint="remove the region from catalog.regions, or add it to ELB_LOG_ACCOUNTS or "
                     "ELB_LOG_SERVICE_REGIONS in products/account_baseline.py (AWS ELB user guide, "
                     "\"Enable access logs\")")


def trail_name(catalog: str) -> str:
    return f"{catalog}-trail"


@dataclass(frozen=True)
class BaselineConfig(ProductConfig):
    catalog: str = "hipaa-catalog"
    primary_region: str = "us-east-1"
    log_expiration_days: int = 2192       # log bucket objects (and old versions) kept this long
    trail_log_retention_days: int = 365   # CloudWatch Logs copy of the trail

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.log_expiration_days, int) or self.log_expiration_days < MIN_LOG_DAYS:
            raise config_error(self.product, "log_expiration_days", self.log_expiration_days,
                               f"a whole number of days >= {MIN_LOG_DAYS} (six years)")
        if self.trail_log_retention_days not in RETENTION_VALUES:
            raise config_error(self.product, "trail_log_retention_days", self.trail_log_retention_days,
                               ", ".join(map(str, RETENTION_VALUES)))
        longest = len(f"{template_bucket_prefix(self.catalog)}-123456789012-ap-southeast-3")
        if longest > 63:
            raise config_error(self.product, "catalog", self.catalog,
                               f"a catalog name short enough for bucket names (at most {63 - longest + len(self.catalog)} chars)")
        check_elb_log_regions(self.regions, f"product {self.product}: regions")

    @property
    def metric_namespace(self) -> str:
        return "".join(p.capitalize() for p in self.catalog.split("-")) + "/CIS"


def make_config(settings, product, built) -> BaselineConfig:
    check_elb_log_regions(settings.regions, f"{settings.path}: catalog.regions")
    return BaselineConfig(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                          regions=settings.regions, catalog=settings.name, primary_region=settings.primary_region,
                          **options_for(BaselineConfig, product.name, product.options))


def _parameters(t: Template, cfg: BaselineConfig) -> dict:
    p = {}
    p["GlobalResources"] = t.add_parameter(Parameter(
        "GlobalResources", Type="String", AllowedValues=["YES", "NO"],
        Description=f"YES in exactly one region per account (the catalog's primary region, {cfg.primary_region}): "
                    "creates the trail, CIS alarms and HealthcareDeveloper group; NO in every other region"))
    p["AdministratorEmail"] = t.add_parameter(Parameter(
        "AdministratorEmail", Type="String", AllowedPattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        ConstraintDescription="an e-mail address", Description="security administrator notified of alarms"))
    p["VpcId"] = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id", Description=admin.VPC_ID.description))
    p["PrivateSubnetIds"] = t.add_parameter(Parameter(
        "PrivateSubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description=admin.PRIVATE_SUBNETS.description))
    p["PublicSubnetIds"] = t.add_parameter(Parameter(
        "PublicSubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description=admin.PUBLIC_SUBNETS.description))
    p["AdminCidr"] = t.add_parameter(Parameter(
        "AdminCidr", Type="String", Description=admin.ADMIN_CIDR.description,
        AllowedPattern=r"^(\d{1,3}\.){3}\d{1,3}/(\d|[12]\d|3[0-2])$",
        ConstraintDescription="an IPv4 CIDR such as 10.20.0.0/16 (never 0.0.0.0/0 in practice)"))
    p["ProdCertificateArn"] = t.add_parameter(Parameter(
        "ProdCertificateArn", Type="String", Description=admin.CERTIFICATE_ARN.description,
        AllowedPattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        ConstraintDescription="an ACM certificate ARN"))
    return p


def _log_key(t: Template, cfg: BaselineConfig):
    logs_service = Sub("logs.${AWS::Region}.amazonaws.com")
    statements = [
        *trail.key_statements(trail_name(cfg.catalog)),
        statement("CloudWatchLogsUseKey", list(kms.USE_ACTIONS), "*", principal=Principal("Service", logs_service),
                  condition=Condition(ArnLike(
                      "kms:EncryptionContext:aws:logs:arn",
                      Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")))),
        *config_rules.key_statements(),
        # AWS services that publish to the encrypted topic (SNS encrypts with the publisher's access).
        statement("AlarmsAndEventsPublishToTopic", ["kms:Decrypt", "kms:GenerateDataKey*"], "*",
                  principal=Principal("Service", ["cloudwatch.amazonaws.com", "events.amazonaws.com"])),
    ]
    key = t.add_resource(kms.customer_key("LogKey", f"{cfg.catalog}: CloudTrail, CloudWatch Logs, Config and "
                                                    "notification topic encryption", statements=statements))
    alias = t.add_resource(kms.alias("LogKeyAlias", f"alias/{cfg.catalog}/logs", key))
    return key, alias


def _elb_log_statements(t: Template, cfg: BaselineConfig, elb_resources) -> tuple[list, list]:
    """(statements in regions with an ELB log-delivery account, statements in service-principal regions)."""
    service = statement("LoadBalancerLogDelivery", ["s3:PutObject"], elb_resources,
                        principal=Principal("Service", ELB_LOG_SERVICE))
    legacy = [r for r in cfg.regions if r in ELB_LOG_ACCOUNTS]
    if not legacy:
        return [service], [service]
    t.add_mapping("ElbLogDelivery", {r: {"Account": ELB_LOG_ACCOUNTS.get(r, ELB_NO_ACCOUNT)} for r in cfg.regions})
    account = FindInMap("ElbLogDelivery", Ref("AWS::Region"), "Account")
    if len(legacy) < len(cfg.regions):
        t.add_condition(ELB_ACCOUNT_REGION, Not(Equals(account, ELB_NO_ACCOUNT)))
    elb_account = Principal("AWS", Sub("arn:${AWS::Partition}:iam::${Account}:root", Account=account))
    by_account = statement("LoadBalancerAccessLogs", ["s3:PutObject"], elb_resources, principal=elb_account)
    return [by_account, service], [service]


def _buckets(t: Template, cfg: BaselineConfig, key, template_key):
    no_self_logging = "this is the access-log bucket; logging it into itself would loop"
    access = encrypted_bucket("AccessLogBucket", expire_after_days=cfg.log_expiration_days,
                              noncurrent_expire_days=cfg.log_expiration_days)
    waived(access, ("E9106", "S3 server access logging and ALB access logs cannot be delivered to an SSE-KMS bucket; "
                             "this bucket uses SSE-S3 (AES256)"),
           ("E9502", no_self_logging))
    checkov_skipped(access, ("CKV_AWS_18", f"{no_self_logging} (HIPAA waiver E9502)"))
    guard_suppressed(access, ("S3_BUCKET_LOGGING_ENABLED", f"{no_self_logging} (HIPAA waiver E9502)"),
                     REPLICATION_PENDING)
    t.add_resource(access)
    access_arn = GetAtt(access, "Arn")
    elb_resources = [Join("", [access_arn, Sub("/AWSLogs/${AWS::AccountId}/*")]),
                     Join("", [access_arn, Sub("/*/AWSLogs/${AWS::AccountId}/*")])]
    server_logs = statement("S3ServerAccessLogs", ["s3:PutObject"], Join("", [access_arn, "/*"]),
                            principal=Principal("Service", "logging.s3.amazonaws.com"),
                            condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))
    with_account, service_only = _elb_log_statements(t, cfg, elb_resources)
    access_policy = t.add_resource(tls_only_policy("AccessLogBucketPolicy", access, [server_logs, *with_account]))
    if ELB_ACCOUNT_REGION in t.conditions:  # a catalog mixing both kinds of region: choose per region
        access_policy.PolicyDocument = If(ELB_ACCOUNT_REGION, access_policy.PolicyDocument, document(
            deny_insecure_transport(bucket_arns(access)), server_logs, *service_only))
    logs = t.add_resource(guard_suppressed(encrypted_bucket(
        "LogBucket", kms_key_arn=GetAtt(key, "Arn"), access_log_bucket=Ref(access), log_prefix="log-bucket/",
        expire_after_days=cfg.log_expiration_days, noncurrent_expire_days=cfg.log_expiration_days),
        REPLICATION_PENDING))
    log_policy = t.add_resource(tls_only_policy("LogBucketPolicy", logs, [
        *trail.bucket_statements(logs, trail_name(cfg.catalog)),
        *config_rules.bucket_statements(logs),
    ]))
    templates = t.add_resource(guard_suppressed(encrypted_bucket(
        "TemplateBucket", kms_key_arn=GetAtt(template_key, "Arn"), access_log_bucket=Ref(access),
        log_prefix="template-bucket/",
        name=Sub(template_bucket_prefix(cfg.catalog) + "-${AWS::AccountId}-${AWS::Region}")), REPLICATION_PENDING))
    launch_role_arn = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{admin.LAUNCH_ROLE_NAME}")
    t.add_resource(tls_only_policy("TemplateBucketPolicy", templates, [
        statement("LaunchRoleReadsOnlyProvisioningObjects", ["s3:GetObject"], Join("", [GetAtt(templates, "Arn"), "/*"]),
                  effect=Deny, principal=Principal("*"),
                  condition=Condition([StringEquals("aws:PrincipalArn", launch_role_arn),
                                       StringNotEquals(f"s3:ExistingObjectTag/{PROVISIONING_TAG_KEY}", PROVISIONING_TAG_VALUE)])),
    ]))
    return access, logs, log_policy, templates


def _topic(t: Template, cfg: BaselineConfig, key, email):
    topic = t.add_resource(sns.Topic("NotificationTopic", DisplayName=f"{cfg.catalog} security notifications",
                                     KmsMasterKeyId=GetAtt(key, "Arn")))
    t.add_resource(sns.SubscriptionResource("AdministratorSubscription", TopicArn=Ref(topic), Protocol="email",
                                    Endpoint=Ref(email)))
    t.add_resource(sns.TopicPolicy("NotificationTopicPolicy", Topics=[Ref(topic)], PolicyDocument=document(
        statement("AlarmsAndEventsPublish", ["sns:Publish"], Ref(topic),
                  principal=Principal("Service", ["cloudwatch.amazonaws.com", "events.amazonaws.com"]),
                  condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId")))))))
    return topic


def _settings(t: Template, cfg: BaselineConfig, p: dict, access, key, templates, topic) -> None:
    values = [
        ("SettingVpcId", admin.VPC_ID, Ref(p["VpcId"])),
        ("SettingPrivateSubnetIds", admin.PRIVATE_SUBNETS, Join(",", Ref(p["PrivateSubnetIds"]))),
        ("SettingPublicSubnetIds", admin.PUBLIC_SUBNETS, Join(",", Ref(p["PublicSubnetIds"]))),
        ("SettingAdminCidr", admin.ADMIN_CIDR, Ref(p["AdminCidr"])),
        ("SettingProdCertificateArn", admin.CERTIFICATE_ARN, Ref(p["ProdCertificateArn"])),
        ("SettingAccessLogBucket", admin.ACCESS_LOG_BUCKET, Ref(access)),
        ("SettingLogsKmsKeyArn", admin.LOGS_KMS_KEY_ARN, GetAtt(key, "Arn")),
        ("SettingNotificationTopicArn", admin.NOTIFICATION_TOPIC, Ref(topic)),
        ("SettingTemplateBucket", admin.TEMPLATE_BUCKET, Ref(templates)),
    ]
    assert {s for _, s, _ in values} == set(admin.ALL), "every administrator setting is written"
    for logical_id, setting, value in values:
        t.add_resource(ssm.Parameter(logical_id, Name=setting.full_name(cfg.ssm_prefix), Type=setting.ssm_type,
                                     Value=value, Description=f"{cfg.catalog}: {setting.description}"))


def build(cfg: BaselineConfig) -> Template:
    t = Template(Description=f"{cfg.catalog} account baseline {cfg.version}: log key and buckets, CloudTrail, "
                             "AWS Config, CIS alarms, notifications, developer group, template bucket, settings")
    t.set_version("2010-09-09")
    # --- parameters and conditions
    p = _parameters(t, cfg)
    t.add_condition(GLOBAL, Equals(Ref(p["GlobalResources"]), "YES"))

    # --- keys and buckets
    key, key_alias = _log_key(t, cfg)
    template_key = t.add_resource(kms.customer_key(
        "TemplateKey", f"{cfg.catalog}: template bucket encryption (readers are granted through IAM)"))
    t.add_resource(kms.alias("TemplateKeyAlias", f"alias/{cfg.catalog}/templates", template_key))
    access, logs, log_policy, templates = _buckets(t, cfg, key, template_key)

    # --- notifications
    topic = _topic(t, cfg, key, p["AdministratorEmail"])

    # --- AWS Config
    role_resources = t.add_resource(config_rules.recorder_role("ConfigRecorderRole", logs, key))
    rec = t.add_resource(config_rules.recorder("ConfigRecorder", role_resources[0], GLOBAL))
    channel = t.add_resource(config_rules.delivery_channel("ConfigDeliveryChannel", logs, key, rec,
                                                           depends_on=[log_policy.title]))
    t.add_resource(config_rules.managed_rules(cfg.catalog, channel, GLOBAL))
    t.add_resource(config_rules.non_compliant_alert("NonCompliantAlert", topic))

    # --- once per account: trail, CIS alarms, developer group
    trail_logs = t.add_resource(log_group("TrailLogGroup", GetAtt(key, "Arn"), name=f"/{cfg.catalog}/cloudtrail",
                                          retention_days=cfg.trail_log_retention_days, condition=GLOBAL))
    trail_role = t.add_resource(trail.logs_role("TrailLogsRole", trail_logs, trail_name(cfg.catalog),
                                                condition=GLOBAL))
    t.add_resource(trail.trail("Trail", trail_name(cfg.catalog), bucket=logs, kms_alias=key_alias,
                               log_group=trail_logs, role=trail_role[0],
                               depends_on=[log_policy.title, trail_role[1].title], condition=GLOBAL))
    t.add_resource(alarms.cis_alarms(trail_logs, topic, cfg.metric_namespace, condition=GLOBAL))
    group = t.add_resource(cfn_iam.Group("DeveloperGroup", GroupName=admin.DEVELOPER_GROUP, Condition=GLOBAL,
                                         ManagedPolicyArns=[aws_managed("AWSCodeCommitPowerUser"),
                                                            aws_managed("AWSServiceCatalogEndUserFullAccess")]))

    # --- settings products read
    _settings(t, cfg, p, access, key, templates, topic)

    # --- outputs
    for name, value, desc, cond in [
        ("TemplateBucketName", Ref(templates), "bucket `hipaa-catalog publish` uploads to", None),
        ("AccessLogBucketName", Ref(access), "bucket receiving S3 server and ALB access logs", None),
        ("LogBucketName", Ref(logs), "bucket receiving CloudTrail and AWS Config", None),
        ("NotificationTopicArn", Ref(topic), "encrypted topic notifying the administrator", None),
        ("LogKeyArn", GetAtt(key, "Arn"), "KMS key of the logs and the topic", None),
        ("TemplateKeyArn", GetAtt(template_key, "Arn"), "KMS key of the template bucket", None),
        ("DeveloperGroupArn", GetAtt(group, "Arn"), "the HealthcareDeveloper group (portfolio principal)", GLOBAL),
        ("DeveloperGroupName", Ref(group), "the HealthcareDeveloper group name", GLOBAL),
        ("TrailLogGroupName", Ref(trail_logs), "CloudWatch Logs group of the trail", GLOBAL),
    ]:
        kwargs = {"Value": value, "Description": desc}
        if cond:
            kwargs["Condition"] = cond
        t.add_output(Output(name, **kwargs))
    return t


SPEC = ProductSpec(name=NAME, title="Account baseline", kind="admin", build=build, make_config=make_config)

__all__ = ["SPEC", "BaselineConfig", "build", "make_config"]
