"""The account baseline: what the security administrator deploys so that every launched product is watched.

One template, deployed in every catalog region.  The parameter ``GlobalResources`` separates the parts:

- every region (``GlobalResources`` YES or NO): the KMS key for logs, the log bucket, the access-log
  bucket, the template bucket (and its key), the replica bucket that receives another region's log
  bucket, the encrypted notification topic with the administrator's e-mail, AWS Config (managed rules,
  and the recorder and delivery channel unless the account already has them: ``ConfigRecording``), the
  NON_COMPLIANT alert, and the administrator settings as SSM parameters under the catalog prefix;
- once per account (``GlobalResources`` YES, in the catalog's primary region only): the multi-region
  CloudTrail trail with its CloudWatch Logs group and role, the fourteen CIS metric filters and alarms,
  the HealthcareDeveloper group (with read access to the AMI setting), the IAM-only Config rules, and
  recording of global resource types.

The log bucket holds the audit evidence (CloudTrail, AWS Config) and replicates to another region: in a
catalog of two or more regions, region *i* to region *i+1* (the last to the first), so the primary
region's goes to the second region, into the replica bucket of that region's stack; a catalog may name
an existing bucket instead (options ``replica_bucket_arn``, ``replica_kms_key_arn``), which a one-region
catalog must.  S3 needs the destination to exist when replication is configured ("The destination bucket
or buckets must already exist", *AWS::S3::Bucket*, AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html), so the
replica bucket's ARN and key are parameters that deploy-baseline fills from the replica region's stack
once it exists; until then they are empty and replication is off (``ReplicatesLogs``).  In an organisation
the stack sets read them from the settings of the log-replica stack set, deployed first
(products/log_replica.py), so replication is on from the first deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awacs.aws import ArnLike, Condition, Principal, StringEquals, StringNotEquals
from troposphere import (And, Equals, FindInMap, GetAtt, If, Join, Not, NoValue, Output, Parameter, Ref, Sub,
                         Template, iam as cfn_iam, sns, ssm)

from generator.blocks import admin_settings as admin, alarms, config_rules, kms, trail
from generator.blocks.catalog import (GUARD_REPLICATION_RULE, PROVISIONING_TAG_KEY, PROVISIONING_TAG_VALUE,
                                      guard_suppressed, not_replicated, retained, template_bucket_prefix)
from generator.blocks.iam import Deny, aws_managed, document, managed_policy, statement
from generator.blocks.log_buckets import (MIN_LOG_DAYS, access_log_bucket, replica_bucket,
                                          server_access_logs_statement)
from generator.blocks.logs import RETENTION_VALUES, log_group
from generator.blocks.s3 import (bucket_arns, deny_insecure_transport, encrypted_bucket, kms_replication,
                                replication_role, tls_only_policy)
from generator.errors import ConfigError
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "account-baseline"
GLOBAL = "IsGlobalRegion"
CREATES_RECORDING = "CreatesConfigRecording"
REPLICATES = "ReplicatesLogs"

# Bucket names: 3-63 lower-case letters, numbers, dots and hyphens, beginning and ending with a letter or
# number (*Bucket naming rules*, Amazon S3 User Guide,
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_ARN_PATTERN = r"arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
KMS_KEY_ARN_PATTERN = r"arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+"
OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# The PROD sites' domain: lower-case DNS labels of letters, digits and inner hyphens (*Domain name format*,
# Amazon Route 53 Developer Guide, https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html:
# at most 63 characters a label, 255 a name); each site's name adds a 36-character label and a dot.
DOMAIN_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
MAX_DOMAIN_LENGTH = 200

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
    replica_expiration_days: int = 2192   # replicas of the log bucket (and their old versions) kept this long
    # An existing bucket (versioned, in another region, of this account) to replicate the log bucket to,
    # and the KMS key of its region that encrypts the replicas; both or neither.  Default: the catalog's
    # next region.
    replica_bucket_arn: str = ""
    replica_kms_key_arn: str = ""
    # The broadest administrators' CIDR allowed (TEST servers accept SSH and HTTPS from it): /16.
    admin_cidr_min_prefix: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("log_expiration_days", "replica_expiration_days"):
            days = getattr(self, name)
            if not isinstance(days, int) or isinstance(days, bool) or days < MIN_LOG_DAYS:
                raise config_error(self.product, name, days, f"a whole number of days >= {MIN_LOG_DAYS} (six years)")
        prefix = self.admin_cidr_min_prefix
        if not isinstance(prefix, int) or isinstance(prefix, bool) or not 1 <= prefix <= 32:
            raise config_error(self.product, "admin_cidr_min_prefix", prefix,
                               "a prefix length from 1 to 32 (16: nothing broader than a /16 network)")
        self._check_replica()
        if self.trail_log_retention_days not in RETENTION_VALUES:
            raise config_error(self.product, "trail_log_retention_days", self.trail_log_retention_days,
                               ", ".join(map(str, RETENTION_VALUES)))
        longest = len(f"{template_bucket_prefix(self.catalog)}-123456789012-ap-southeast-3")
        if longest > 63:
            raise config_error(self.product, "catalog", self.catalog,
                               f"a catalog name short enough for bucket names (at most {63 - longest + len(self.catalog)} chars)")
        check_elb_log_regions(self.regions, f"product {self.product}: regions")
        missing = config_rules.unavailable(self.regions)
        if missing:
            raise ConfigError(
                f"product {self.product}: regions: "
                + "; ".join(f"the AWS Config managed rule {r.name} is not available in {region} ({r.page}, "
                            "\"AWS Region\")" for r, region in missing),
                hint="choose catalog.regions (the first is the primary region, where the IAM rules go) where "
                     "every rule of generator/blocks/config_rules.py is available, or replace the rule there")

    def _check_replica(self) -> None:
        bucket, key = self.replica_bucket_arn, self.replica_kms_key_arn
        if not bucket and not key:
            if len(self.regions) < 2:
                raise ConfigError(
                    f"product {self.product}: the catalog has one region ({self.regions[0]}), so there is no "
                    "second region to replicate the log bucket (the CloudTrail and AWS Config evidence) to",
                    hint="add a second region to catalog.regions (its baseline stack then holds the replica), or "
                         "name an existing versioned bucket of this account in another region under "
                         f"[products.{self.product}.options]: replica_bucket_arn = \"arn:aws:s3:::BUCKET\" and "
                         "replica_kms_key_arn = \"arn:aws:kms:REGION:ACCOUNT:key/KEY-ID\" (a key of the "
                         "bucket's region)")
            return
        if not re.fullmatch(BUCKET_ARN_PATTERN, bucket or ""):
            raise config_error(self.product, "replica_bucket_arn", bucket,
                               "an S3 bucket ARN such as arn:aws:s3:::my-evidence-replica (with replica_kms_key_arn)")
        m = re.fullmatch(KMS_KEY_ARN_PATTERN, key or "")
        if not m:
            raise config_error(self.product, "replica_kms_key_arn", key,
                               "a KMS key ARN such as arn:aws:kms:us-east-2:111122223333:key/1234abcd-… "
                               "(with replica_bucket_arn)")
        if m.group(1) in self.regions:
            raise config_error(self.product, "replica_kms_key_arn", key,
                               f"a key of a region outside the catalog ({', '.join(self.regions)}): the replica "
                               "lives in another region than the evidence (leave both options out to use the "
                               "catalog's next region)")

    @property
    def external_replica(self) -> bool:
        """The log bucket replicates to a bucket the settings name, not to the catalog's replica buckets."""
        return bool(self.replica_bucket_arn)

    def replica_region(self, region: str) -> str:
        """The region the log bucket of ``region`` replicates to."""
        if self.external_replica:
            return re.fullmatch(KMS_KEY_ARN_PATTERN, self.replica_kms_key_arn).group(1)
        return self.regions[(self.regions.index(region) + 1) % len(self.regions)]

    @property
    def admin_cidr_pattern(self) -> str:
        """An IPv4 CIDR whose prefix is at least ``admin_cidr_min_prefix`` (so never 0.0.0.0/0; IPv6 such as
        ::/0 never matches)."""
        lengths = "|".join(str(n) for n in range(32, self.admin_cidr_min_prefix - 1, -1))
        return rf"^({OCTET}\.){{3}}{OCTET}/({lengths})$"

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
        admin.GLOBAL_RESOURCES, Type="String", AllowedValues=["YES", "NO"],
        Description=f"YES in exactly one region per account (the catalog's primary region, {cfg.primary_region}): "
                    "creates the trail, CIS alarms and HealthcareDeveloper group; NO in every other region"))
    p["ConfigRecording"] = t.add_parameter(Parameter(
        admin.CONFIG_RECORDING, Type="String", AllowedValues=[admin.CONFIG_CREATE, admin.CONFIG_EXISTING],
        Default=admin.CONFIG_CREATE,
        Description="CREATE: the stack creates the AWS Config recorder and delivery channel; EXISTING: the account "
                    "already has them in this region (one of each per region) and the stack creates neither "
                    "(deploy-baseline chooses by looking)"))
    external = cfg.external_replica
    p["LogReplicaBucketArn"] = t.add_parameter(Parameter(
        admin.REPLICA_BUCKET_ARN, Type="String", Default=cfg.replica_bucket_arn,
        AllowedPattern=f"^$|^{BUCKET_ARN_PATTERN}$", ConstraintDescription="empty, or an S3 bucket ARN",
        Description="bucket the log bucket replicates to: "
                    + ("the settings' replica bucket" if external else
                       "set by deploy-baseline once it exists (empty: replication off)")))
    p["LogReplicaKeyArn"] = t.add_parameter(Parameter(
        admin.REPLICA_KEY_ARN, Type="String", Default=cfg.replica_kms_key_arn,
        AllowedPattern=f"^$|^{KMS_KEY_ARN_PATTERN}$", ConstraintDescription="empty, or a KMS key ARN",
        Description="KMS key of the replica region that encrypts the replicas: "
                    + ("the settings' replica key" if external else "set by deploy-baseline")))
    p["AdministratorEmail"] = t.add_parameter(Parameter(
        "AdministratorEmail", Type="String", AllowedPattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        ConstraintDescription="an e-mail address", Description="security administrator notified of alarms"))
    p["VpcId"] = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id", Description=admin.VPC_ID.description))
    p["PrivateSubnetIds"] = t.add_parameter(Parameter(
        "PrivateSubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description=admin.PRIVATE_SUBNETS.description))
    p["PublicSubnetIds"] = t.add_parameter(Parameter(
        "PublicSubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description=admin.PUBLIC_SUBNETS.description))
    n = cfg.admin_cidr_min_prefix
    p["AdminCidr"] = t.add_parameter(Parameter(
        "AdminCidr", Type="String", Description=admin.ADMIN_CIDR.description, AllowedPattern=cfg.admin_cidr_pattern,
        ConstraintDescription=f"an IPv4 CIDR of /{n} or narrower such as 10.20.0.0/{max(n, 16)}: TEST servers accept "
                              f"SSH and HTTPS from it, so 0.0.0.0/0, ::/0 or a range broader than /{n} (the "
                              "account-baseline option admin_cidr_min_prefix) would open them to other networks"))
    p["ProdCertificateArn"] = t.add_parameter(Parameter(
        "ProdCertificateArn", Type="String", Description=admin.CERTIFICATE_ARN.description,
        AllowedPattern=r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
        ConstraintDescription="an ACM certificate ARN"))
    p["ProdHostedZoneId"] = t.add_parameter(Parameter(
        "ProdHostedZoneId", Type="AWS::Route53::HostedZone::Id", Description=admin.HOSTED_ZONE_ID.description))
    p["ProdDomain"] = t.add_parameter(Parameter(
        "ProdDomain", Type="String", Description=admin.DOMAIN.description, MaxLength=MAX_DOMAIN_LENGTH,
        AllowedPattern=DOMAIN_PATTERN,
        ConstraintDescription="a lower-case DNS domain such as apps.example.org"))
    p[admin.INSTANCE_SUBNET_PARAMETER] = t.add_parameter(Parameter(
        admin.INSTANCE_SUBNET_PARAMETER, Type="AWS::EC2::Subnet::Id", Description=admin.INSTANCE_SUBNET.description))
    p[admin.INSTANCE_AZ_PARAMETER] = t.add_parameter(Parameter(
        admin.INSTANCE_AZ_PARAMETER, Type="AWS::EC2::AvailabilityZone::Name", Description=admin.INSTANCE_AZ.description))
    p[admin.AMI_PARAMETER] = t.add_parameter(Parameter(
        admin.AMI_PARAMETER, Type="AWS::EC2::Image::Id", Description=admin.WEB_SERVER_AMI.description))
    return p


def _rules(t: Template) -> None:
    """Placement: the instance subnet is private and in an AZ of the load balancers' subnets (a load balancer
    sends no traffic to targets in a zone it is not enabled in), or CloudFormation refuses the parameters
    before creating anything ("If a
    parameter value is invalid, AWS CloudFormation does not create or update the stack", *Rules*, AWS
    CloudFormation User Guide, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html).
    ``Fn::ValueOf`` reads a subnet parameter's ``AvailabilityZone`` or ``VpcId`` (a list for a list
    parameter) (*Rule functions*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference-rules.html).
    deploy-baseline checks the same, and that every subnet is in the VPC, with the subnets named before it
    creates a change set (the template stays under CloudFormation's 51,200-byte inline limit)."""
    def value_of(parameter: str, attribute: str) -> dict:
        return {"Fn::ValueOf": [parameter, attribute]}

    subnet, zone = admin.INSTANCE_SUBNET_PARAMETER, admin.INSTANCE_AZ_PARAMETER
    t.add_rule("WebServerPlacement", {"Assertions": [
        {"Assert": {"Fn::Contains": [Ref("PrivateSubnetIds"), Ref(subnet)]},
         "AssertDescription": f"{subnet}: not in PrivateSubnetIds"},
        {"Assert": {"Fn::EachMemberEquals": [value_of(subnet, "AvailabilityZone"), Ref(zone)]},
         "AssertDescription": f"{zone}: not the zone of {subnet}"},
        {"Assert": {"Fn::Contains": [value_of("PublicSubnetIds", "AvailabilityZone"), Ref(zone)]},
         "AssertDescription": f"PublicSubnetIds: none in {zone}"},
    ]})


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
    key = t.add_resource(retained(kms.customer_key(
        "LogKey", f"{cfg.catalog}: CloudTrail, CloudWatch Logs, Config and notification topic encryption",
        statements=statements)))
    alias = t.add_resource(kms.alias("LogKeyAlias", admin.logs_key_alias(cfg.catalog), key))
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


# Why the access-log and template buckets are not replicated (the HIPAA Guard rule
# S3_BUCKET_REPLICATION_ENABLED asks every bucket to replicate); the log bucket is.
ACCESS_LOGS_NOT_REPLICATED = (
    "not replicated: it receives S3 server and ALB access logs; its replica would log into the other region's "
    "access-log bucket, which replicates back, never settling; these logs are delivered best effort (Amazon S3 "
    "User Guide, \"Logging requests using server access logging\"), and the trail records every S3 object "
    "request as data events in the replicated log bucket")
TEMPLATES_NOT_REPLICATED = (
    "not replicated: it holds published templates, which make build reproduces and make publish uploads to "
    "the template bucket of every catalog region, content-addressed; Service Catalog keeps its own copy of "
    "every version it was given; it is no audit evidence")
LOGS_REPLICATE_ONCE_THE_REPLICA_EXISTS = (
    "replicated to another region's replica bucket (ReplicatesLogs) once it exists: S3 needs the destination "
    "to exist when replication is configured, so it waits until deploy-baseline has filled LogReplicaBucketArn "
    "and LogReplicaKeyArn from that region's stack; deploy-baseline prints the command that turns it on")


def _buckets(t: Template, cfg: BaselineConfig, p: dict, key, template_key):
    access = t.add_resource(access_log_bucket("AccessLogBucket", cfg.log_expiration_days, ACCESS_LOGS_NOT_REPLICATED))
    access_arn = GetAtt(access, "Arn")
    elb_resources = [Join("", [access_arn, Sub("/AWSLogs/${AWS::AccountId}/*")]),
                     Join("", [access_arn, Sub("/*/AWSLogs/${AWS::AccountId}/*")])]
    server_logs = server_access_logs_statement(access)
    with_account, service_only = _elb_log_statements(t, cfg, elb_resources)
    access_policy = t.add_resource(tls_only_policy("AccessLogBucketPolicy", access, [server_logs, *with_account]))
    if ELB_ACCOUNT_REGION in t.conditions:  # a catalog mixing both kinds of region: choose per region
        access_policy.PolicyDocument = If(ELB_ACCOUNT_REGION, access_policy.PolicyDocument, document(
            deny_insecure_transport(bucket_arns(access)), server_logs, *service_only))

    # The evidence: CloudTrail and AWS Config.  Replicated once the replica bucket exists (ReplicatesLogs).
    # S3 Object Lock is not used: see the README ("Replication of the audit evidence").
    replica_arn, replica_key = Ref(p["LogReplicaBucketArn"]), Ref(p["LogReplicaKeyArn"])
    logs = t.add_resource(guard_suppressed(encrypted_bucket(
        "LogBucket", kms_key_arn=GetAtt(key, "Arn"), access_log_bucket=Ref(access), log_prefix="log-bucket/",
        expire_after_days=cfg.log_expiration_days, noncurrent_expire_days=cfg.log_expiration_days),
        (GUARD_REPLICATION_RULE, LOGS_REPLICATE_ONCE_THE_REPLICA_EXISTS)))
    role = t.add_resource(replication_role(
        "LogReplicationRole", logs, GetAtt(key, "Arn"), replica_arn, replica_key,
        FindInMap(admin.REPLICATION_MAPPING, Ref("AWS::Region"), admin.REPLICA_REGION), condition=REPLICATES,
        # the replica region's logs key (one account) or its log-replica key (an organisation), by alias
        replica_key_aliases=() if cfg.external_replica else (admin.logs_key_alias(cfg.catalog),
                                                            admin.replica_key_alias(cfg.catalog))))
    logs.ReplicationConfiguration = If(REPLICATES, kms_replication(role[0], replica_arn, replica_key), NoValue)
    log_policy = t.add_resource(tls_only_policy("LogBucketPolicy", logs, [
        *trail.bucket_statements(logs, trail_name(cfg.catalog)),
        *config_rules.bucket_statements(logs),
    ]))
    replica = None
    if not cfg.external_replica:  # every catalog region holds the replica of the previous region's log bucket
        replica = t.add_resource(replica_bucket("LogReplicaBucket", GetAtt(key, "Arn"), access,
                                                cfg.replica_expiration_days))
        t.add_resource(tls_only_policy("LogReplicaBucketPolicy", replica))
    templates = t.add_resource(not_replicated(encrypted_bucket(
        "TemplateBucket", kms_key_arn=GetAtt(template_key, "Arn"), access_log_bucket=Ref(access),
        log_prefix="template-bucket/",
        name=Sub(template_bucket_prefix(cfg.catalog) + "-${AWS::AccountId}-${AWS::Region}")), TEMPLATES_NOT_REPLICATED))
    launch_role_arn = Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{admin.LAUNCH_ROLE_NAME}")
    t.add_resource(tls_only_policy("TemplateBucketPolicy", templates, [
        statement("LaunchRoleReadsOnlyProvisioningObjects", ["s3:GetObject"], Join("", [GetAtt(templates, "Arn"), "/*"]),
                  effect=Deny, principal=Principal("*"),
                  condition=Condition([StringEquals("aws:PrincipalArn", launch_role_arn),
                                       StringNotEquals(f"s3:ExistingObjectTag/{PROVISIONING_TAG_KEY}", PROVISIONING_TAG_VALUE)])),
    ]))
    return access, logs, log_policy, templates, replica


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
        ("SettingProdHostedZoneId", admin.HOSTED_ZONE_ID, Ref(p["ProdHostedZoneId"])),
        ("SettingProdDomain", admin.DOMAIN, Ref(p["ProdDomain"])),
        ("SettingInstanceSubnetId", admin.INSTANCE_SUBNET, Ref(p[admin.INSTANCE_SUBNET_PARAMETER])),
        ("SettingInstanceAvailabilityZone", admin.INSTANCE_AZ, Ref(p[admin.INSTANCE_AZ_PARAMETER])),
        ("SettingWebServerImageId", admin.WEB_SERVER_AMI, Ref(p[admin.AMI_PARAMETER])),
        ("SettingAccessLogBucket", admin.ACCESS_LOG_BUCKET, Ref(access)),
        ("SettingLogsKmsKeyArn", admin.LOGS_KMS_KEY_ARN, GetAtt(key, "Arn")),
        ("SettingNotificationTopicArn", admin.NOTIFICATION_TOPIC, Ref(topic)),
        ("SettingTemplateBucket", admin.TEMPLATE_BUCKET, Ref(templates)),
    ]
    # config/recording is written with the AWS Config resources (the rules are ordered after it)
    assert {s for _, s, _ in values} | {admin.CONFIG_RECORDER} == set(admin.ALL), "every setting is written"
    for logical_id, setting, value in values:
        t.add_resource(ssm.Parameter(logical_id, Name=setting.full_name(cfg.ssm_prefix), Type=setting.ssm_type,
                                     Value=value, Description=setting.description))


def build(cfg: BaselineConfig) -> Template:
    t = Template(Description=f"{cfg.catalog} account baseline {cfg.version}: log key and buckets, CloudTrail, "
                             "AWS Config, CIS alarms, notifications, developer group, template bucket, settings")
    t.set_version("2010-09-09")
    # --- parameters and conditions
    p = _parameters(t, cfg)
    _rules(t)
    t.add_condition(GLOBAL, Equals(Ref(p["GlobalResources"]), "YES"))
    t.add_condition(CREATES_RECORDING, Equals(Ref(p["ConfigRecording"]), admin.CONFIG_CREATE))
    t.add_condition(REPLICATES, And(Not(Equals(Ref(p["LogReplicaBucketArn"]), "")),
                                    Not(Equals(Ref(p["LogReplicaKeyArn"]), ""))))
    t.add_mapping(admin.REPLICATION_MAPPING, {r: {admin.REPLICA_REGION: cfg.replica_region(r)} for r in cfg.regions})

    # --- keys and buckets
    key, key_alias = _log_key(t, cfg)
    template_key = t.add_resource(retained(kms.customer_key(
        "TemplateKey", f"{cfg.catalog}: template bucket encryption (readers are granted through IAM)")))
    t.add_resource(kms.alias("TemplateKeyAlias", f"alias/{cfg.catalog}/templates", template_key))
    access, logs, log_policy, templates, replica = _buckets(t, cfg, p, key, template_key)

    # --- notifications
    topic = _topic(t, cfg, key, p["AdministratorEmail"])

    # --- AWS Config (the recorder and channel only where the account has none: ConfigRecording)
    role, delivery_policy = t.add_resource(config_rules.recorder_role("ConfigRecorderRole", logs, key,
                                                                      condition=CREATES_RECORDING))
    rec = t.add_resource(config_rules.recorder("ConfigRecorder", role, GLOBAL, condition=CREATES_RECORDING))
    channel = t.add_resource(config_rules.delivery_channel("ConfigDeliveryChannel", logs, key, rec, delivery_policy,
                                                           log_policy, condition=CREATES_RECORDING))
    recording = t.add_resource(config_rules.recording_setting(
        "SettingConfigRecording", admin.CONFIG_RECORDER.full_name(cfg.ssm_prefix),
        admin.CONFIG_RECORDER.description, creates_recording=CREATES_RECORDING,
        recorder_resource=rec, channel=channel))
    t.add_resource(config_rules.managed_rules(cfg.catalog, GLOBAL, after=recording))
    t.add_resource(config_rules.non_compliant_alert("NonCompliantAlert", topic))

    # --- once per account: trail, CIS alarms, developer group
    trail_logs = t.add_resource(retained(log_group(
        "TrailLogGroup", GetAtt(key, "Arn"), name=f"/{cfg.catalog}/cloudtrail",
        retention_days=cfg.trail_log_retention_days, condition=GLOBAL)))
    trail_role = t.add_resource(trail.logs_role("TrailLogsRole", trail_logs, trail_name(cfg.catalog),
                                                condition=GLOBAL))
    t.add_resource(trail.trail("Trail", trail_name(cfg.catalog), bucket=logs, kms_alias=key_alias,
                               log_group=trail_logs, role=trail_role[0],
                               depends_on=[log_policy.title, trail_role[1].title], condition=GLOBAL))
    t.add_resource(alarms.cis_alarms(trail_logs, topic, cfg.metric_namespace, condition=GLOBAL))
    reads_ami = t.add_resource(managed_policy(
        "DeveloperReadsAmiSetting", f"{cfg.catalog}: developers read the AMI setting",
        [statement("ReadWebServerAmiSetting", ["ssm:GetParameter"], Sub(
            "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/"
            + admin.WEB_SERVER_AMI.full_name(cfg.ssm_prefix).lstrip("/")))], condition=GLOBAL))
    group = t.add_resource(cfn_iam.Group("DeveloperGroup", GroupName=admin.DEVELOPER_GROUP, Condition=GLOBAL,
                                         ManagedPolicyArns=[aws_managed("AWSCodeCommitPowerUser"),
                                                            aws_managed("AWSServiceCatalogEndUserFullAccess"),
                                                            Ref(reads_ami)]))

    # --- settings products read
    _settings(t, cfg, p, access, key, templates, topic)

    # --- outputs
    replica_outputs = [] if replica is None else [
        (admin.REPLICA_BUCKET_OUTPUT, GetAtt(replica, "Arn"),
         "bucket holding the replica of the previous catalog region's log bucket", None),
        ("LogReplicaBucketName", Ref(replica), "name of that bucket", None)]
    for name, value, desc, cond in [*replica_outputs,
        ("TemplateBucketName", Ref(templates), "bucket `hipaa-catalog publish` uploads to", None),
        ("AccessLogBucketName", Ref(access), "bucket receiving S3 server and ALB access logs", None),
        ("LogBucketName", Ref(logs), "bucket receiving CloudTrail and AWS Config", None),
        ("NotificationTopicArn", Ref(topic), "encrypted topic notifying the administrator", None),
        (admin.LOG_KEY_OUTPUT, GetAtt(key, "Arn"), "KMS key of the logs, the topic and the replicas", None),
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
