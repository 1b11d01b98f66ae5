"""AWS Config building blocks: recorder, delivery channel, managed rules, and the NON_COMPLIANT alert.

The recorder records every supported resource type (global ones, such as IAM, in one region only, chosen
by a condition, so they are not recorded twice); the delivery channel writes to the KMS-encrypted log
bucket; the managed rules check what the catalog's products promise; an EventBridge rule notifies the
administrator's topic when any rule turns NON_COMPLIANT (HIPAA 164.308(a)(1)(ii)(D), 164.308(a)(8)).

An account holds one customer managed recorder and one delivery channel per region (*PutConfigurationRecorder*
and *PutDeliveryChannel*, AWS Config API Reference,
https://docs.aws.amazon.com/config/latest/APIReference/API_PutConfigurationRecorder.html,
https://docs.aws.amazon.com/config/latest/APIReference/API_PutDeliveryChannel.html: "One customer managed
configuration recorder per account per Region", "One delivery channel per account per Region"), so an
account that already records (Control Tower, Security Hub's set-up, the console) keeps its own: the
recorder, its role and the channel take a ``condition`` and the template creates them only when asked.
PutConfigRule fails with ``NoAvailableConfigurationRecorderException`` while no recorder exists (same
reference), so every rule is ordered after the recorder and channel the stack creates.  A ``DependsOn``
naming a resource whose condition is false is an error (cfn-lint E3005), so the rules depend on the
administrator setting ``config/recording`` (``recording_setting``), whose value refers to the recorder
and channel inside ``Fn::If``: a ``Ref`` orders the resources (*DependsOn attribute*,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html), only when
the stack creates them.

No rule whose trigger type is *Periodic* carries a ``Scope`` (PutConfigRule refuses one with
``InvalidParameterValueException``; generator/compliance/rules/ConfigPeriodicRuleNoScope.py has the table
of trigger types from each rule's page and refuses it at build time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from awacs.aws import Condition, Principal, StringEquals
from troposphere import GetAtt, If, Join, Ref, Sub, config, events, iam as cfn_iam, ssm

from generator.blocks.iam import aws_managed, managed_policy, service_trust, statement

SERVICE = "config.amazonaws.com"


# Region codes of the region names the rules' pages use in their "AWS Region" line (the names botocore's
# endpoints data gives the same codes; tests/test_account_baseline.py checks each pair against it).
REGION_NAMES = {
    "ap-southeast-6": "Asia Pacific (New Zealand)", "ap-southeast-7": "Asia Pacific (Thailand)",
    "ap-southeast-5": "Asia Pacific (Malaysia)", "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-south-2": "Asia Pacific (Hyderabad)", "ap-east-2": "Asia Pacific (Taipei)", "mx-central-1": "Mexico (Central)",
    "il-central-1": "Israel (Tel Aviv)", "ca-west-1": "Canada West (Calgary)", "me-central-1": "Middle East (UAE)",
    "eu-south-2": "Europe (Spain)", "eu-central-2": "Europe (Zurich)", "cn-north-1": "China (Beijing)",
    "cn-northwest-1": "China (Ningxia)", "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
}
# The "AWS Region: All supported AWS regions except …" lists of the rules' current pages
# (https://docs.aws.amazon.com/config/latest/developerguide/<rule name>.html; read in crowecawcaw/aws-docs-history,
# 2025-2026).  "AWS Secret - West" has no public region code and is kept as the pages say it.
_SECRET_WEST = ("AWS Secret - West",)
_NEWER_REGIONS = ("Asia Pacific (New Zealand)", "Asia Pacific (Thailand)", "Middle East (UAE)",
                  "Asia Pacific (Hyderabad)", "Asia Pacific (Malaysia)", "Asia Pacific (Melbourne)", "Mexico (Central)",
                  "Israel (Tel Aviv)", "Asia Pacific (Taipei)", "Canada West (Calgary)", "Europe (Spain)",
                  "Europe (Zurich)")


@dataclass(frozen=True)
class ManagedRule:
    name: str              # the managed rule's documented name, e.g. "restricted-ssh"
    identifier: str        # its SourceIdentifier
    params: dict = field(default_factory=dict)
    global_only: bool = False  # evaluates global (IAM) resources: deployed where global types are recorded
    unavailable: tuple[str, ...] = ()  # region names its page excludes ("AWS Region" line)

    @property
    def logical_id(self) -> str:
        return "Rule" + "".join(p.capitalize() for p in self.name.split("-"))

    @property
    def page(self) -> str:
        return f"https://docs.aws.amazon.com/config/latest/developerguide/{self.name}.html"

    def available_in(self, region: str) -> bool:
        return REGION_NAMES.get(region) not in self.unavailable


# What the products and the baseline promise (shared/reference/hipaa-controls.md, third-party checks column).
MANAGED_RULES: tuple[ManagedRule, ...] = (
    ManagedRule("encrypted-volumes", "ENCRYPTED_VOLUMES"),
    ManagedRule("restricted-ssh", "INCOMING_SSH_DISABLED"),
    ManagedRule("restricted-common-ports", "RESTRICTED_INCOMING_TRAFFIC"),
    ManagedRule("ec2-imdsv2-check", "EC2_IMDSV2_CHECK", unavailable=(
        "China (Beijing)", "Asia Pacific (Thailand)", "Asia Pacific (Malaysia)", "AWS GovCloud (US-East)",
        "AWS GovCloud (US-West)", "Mexico (Central)", "Asia Pacific (Taipei)", "China (Ningxia)")),
    ManagedRule("ec2-instance-no-public-ip", "EC2_INSTANCE_NO_PUBLIC_IP"),
    ManagedRule("ec2-instances-in-vpc", "INSTANCES_IN_VPC"),
    ManagedRule("ec2-instance-profile-attached", "EC2_INSTANCE_PROFILE_ATTACHED", unavailable=_SECRET_WEST),
    # Backups are promised for PHI servers only (164.308(a)(7)); a PHI=NO server's root volume is not
    # backed up by design, so the rule looks at volumes tagged PHI=YES (the web server tags its volumes).
    # ebs-in-backup-plan is periodic and takes no parameters, so it cannot be limited to them (a Scope is
    # refused on periodic rules); ebs-resources-protected-by-backup-plan takes the tags to check as its
    # resourceTags parameter, "in JSON format {"tagkey" : "tagValue"}" (AWS Config Developer Guide,
    # https://docs.aws.amazon.com/config/latest/developerguide/ebs-resources-protected-by-backup-plan.html).
    ManagedRule("ebs-resources-protected-by-backup-plan", "EBS_RESOURCES_PROTECTED_BY_BACKUP_PLAN",
                {"resourceTags": json.dumps({"PHI": "YES"})}, unavailable=(
                    "Asia Pacific (New Zealand)", "China (Beijing)", "Asia Pacific (Thailand)",
                    "Asia Pacific (Malaysia)", "Mexico (Central)", "Israel (Tel Aviv)", "Asia Pacific (Taipei)",
                    "Canada West (Calgary)", "China (Ningxia)")),
    # 443 is the service port; 80 is authorized too because a PROD load balancer listens on it to redirect
    # to HTTPS, and nothing else: the build-time HIPAA rules refuse any port-80 listener that is not a
    # redirect and any other port open to the internet.  Without 80 every PROD launch would alert.
    ManagedRule("vpc-sg-open-only-to-authorized-ports", "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS",
                {"authorizedTcpPorts": "443,80"}, unavailable=_SECRET_WEST),
    ManagedRule("s3-bucket-ssl-requests-only", "S3_BUCKET_SSL_REQUESTS_ONLY"),
    ManagedRule("s3-bucket-versioning-enabled", "S3_BUCKET_VERSIONING_ENABLED"),
    ManagedRule("s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED"),
    ManagedRule("s3-bucket-level-public-access-prohibited", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"),
    ManagedRule("cloud-trail-log-file-validation-enabled", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"),
    ManagedRule("cloud-trail-encryption-enabled", "CLOUD_TRAIL_ENCRYPTION_ENABLED"),
    ManagedRule("multi-region-cloudtrail-enabled", "MULTI_REGION_CLOUD_TRAIL_ENABLED"),
    ManagedRule("cloudwatch-log-group-encrypted", "CLOUDWATCH_LOG_GROUP_ENCRYPTED", unavailable=_SECRET_WEST),
    ManagedRule("cw-loggroup-retention-period-check", "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
                {"MinRetentionTime": "365"}),
    ManagedRule("cloudwatch-alarm-action-check", "CLOUDWATCH_ALARM_ACTION_CHECK",
                {"alarmActionRequired": "true", "insufficientDataActionRequired": "true",
                 "okActionRequired": "false"}, unavailable=(
                    "China (Beijing)", "Asia Pacific (Thailand)", "AWS GovCloud (US-East)", "AWS GovCloud (US-West)",
                    "Mexico (Central)", "Asia Pacific (Taipei)", "China (Ningxia)")),
    ManagedRule("sns-encrypted-kms", "SNS_ENCRYPTED_KMS"),
    ManagedRule("iam-no-inline-policy-check", "IAM_NO_INLINE_POLICY_CHECK", global_only=True,
                unavailable=_NEWER_REGIONS),
    ManagedRule("iam-policy-no-statements-with-admin-access", "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
                global_only=True, unavailable=_NEWER_REGIONS),
    ManagedRule("iam-policy-no-statements-with-full-access", "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
                global_only=True, unavailable=_NEWER_REGIONS),
)


def unavailable(regions: tuple[str, ...], rules=MANAGED_RULES) -> list[tuple[ManagedRule, str]]:
    """(rule, region) pairs where the baseline would deploy a rule AWS Config does not offer there (a global
    rule goes to the first, primary, region only)."""
    return [(r, region) for r in rules for region in (regions[:1] if r.global_only else regions)
            if not r.available_in(region)]


def delivery_prefix(bucket) -> Join:
    return Join("", [GetAtt(bucket, "Arn"), Sub("/AWSLogs/${AWS::AccountId}/Config/*")])


def bucket_statements(bucket) -> list:
    """Bucket-policy statements letting AWS Config of this account check the bucket and deliver to it."""
    same_account = Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId")))
    return [
        statement("ConfigAclCheck", ["s3:GetBucketAcl", "s3:ListBucket"], GetAtt(bucket, "Arn"),
                  principal=Principal("Service", SERVICE), condition=same_account),
        statement("ConfigWrite", ["s3:PutObject"], delivery_prefix(bucket), principal=Principal("Service", SERVICE),
                  condition=Condition([StringEquals("s3:x-amz-acl", "bucket-owner-full-control"),
                                       StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))])),
    ]


def key_statements() -> list:
    """Key-policy statement: AWS Config of this account may encrypt what it delivers."""
    return [statement("ConfigUseKey", ["kms:Decrypt", "kms:GenerateDataKey*"], "*",
                      principal=Principal("Service", SERVICE),
                      condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))]


def recorder_role(logical_id: str, bucket, kms_key, condition: str) -> list:
    """The recorder's role: AWS_ConfigRole plus a managed policy to deliver to ``bucket`` with ``kms_key``."""
    role = cfn_iam.Role(logical_id, Description="AWS Config records resources and delivers to the log bucket",
                        AssumeRolePolicyDocument=service_trust(SERVICE, condition=Condition(
                            StringEquals("aws:SourceAccount", Ref("AWS::AccountId")))),
                        ManagedPolicyArns=[aws_managed("service-role/AWS_ConfigRole")], Condition=condition)
    policy = managed_policy(f"{logical_id}DeliveryPolicy", "AWS Config delivers to the log bucket", [
        statement("CheckBucket", ["s3:GetBucketAcl"], GetAtt(bucket, "Arn")),
        statement("Deliver", ["s3:PutObject"], delivery_prefix(bucket)),
        statement("EncryptDeliveries", ["kms:Decrypt", "kms:GenerateDataKey"], GetAtt(kms_key, "Arn")),
    ], roles=[Ref(role)], condition=condition)
    return [role, policy]


def recorder(logical_id: str, role, global_condition: str, condition: str) -> config.ConfigurationRecorder:
    return config.ConfigurationRecorder(
        logical_id, RoleARN=GetAtt(role, "Arn"), Condition=condition,
        RecordingGroup=config.RecordingGroup(AllSupported=True,
                                             IncludeGlobalResourceTypes=If(global_condition, True, False)))


def delivery_channel(logical_id: str, bucket, kms_key, recorder_resource, delivery_policy, bucket_policy,
                     condition: str) -> config.DeliveryChannel:
    """The channel to ``bucket``, created after the recorder, the policy letting the recorder's role write to
    the bucket and the bucket policy letting AWS Config write to it: PutDeliveryChannel fails with
    NoAvailableConfigurationRecorderException without a recorder and InsufficientDeliveryPolicyException
    when the bucket's policy "does not allow Config to write to it" (PutDeliveryChannel, AWS Config API
    Reference, https://docs.aws.amazon.com/config/latest/APIReference/API_PutDeliveryChannel.html)."""
    ch = config.DeliveryChannel(
        logical_id, S3BucketName=Ref(bucket), S3KmsKeyArn=GetAtt(kms_key, "Arn"), Condition=condition,
        ConfigSnapshotDeliveryProperties=config.ConfigSnapshotDeliveryProperties(
            DeliveryFrequency="TwentyFour_Hours"))
    ch.DependsOn = [recorder_resource.title, delivery_policy.title, bucket_policy.title]
    return ch


def recording_setting(logical_id: str, name: str, description: str, *, creates_recording: str, recorder_resource,
                      channel) -> ssm.Parameter:
    """The SSM parameter saying which recorder and channel AWS Config uses in this region; it comes after
    the stack's own recorder and channel when it creates them (``creates_recording``)."""
    value = If(creates_recording,
               Sub("CREATE: recorder ${Recorder}, delivery channel ${Channel}",
                   Recorder=Ref(recorder_resource), Channel=Ref(channel)),
               "EXISTING: the account's own recorder and delivery channel")
    return ssm.Parameter(logical_id, Name=name, Type="String", Value=value, Description=description)


def managed_rules(prefix: str, global_condition: str, after, rules=MANAGED_RULES) -> list:
    """One AWS::Config::ConfigRule per managed rule, named ``<prefix>-<rule name>``, created ``after`` the
    recording setting (so after the recorder and channel)."""
    out = []
    for r in rules:
        kwargs = {"ConfigRuleName": f"{prefix}-{r.name}",
                  "Source": config.Source(Owner="AWS", SourceIdentifier=r.identifier)}
        if r.params:
            kwargs["InputParameters"] = dict(r.params)
        if r.global_only:
            kwargs["Condition"] = global_condition
        rule = config.ConfigRule(r.logical_id, **kwargs)
        rule.DependsOn = [after.title]
        out.append(rule)
    return out


NON_COMPLIANT_PATTERN = {
    "source": ["aws.config"],
    "detail-type": ["Config Rules Compliance Change"],
    "detail": {"messageType": ["ComplianceChangeNotification"],
               "newEvaluationResult": {"complianceType": ["NON_COMPLIANT"]}},
}


def non_compliant_alert(logical_id: str, topic) -> events.Rule:
    """EventBridge rule: any Config rule turning NON_COMPLIANT notifies ``topic``."""
    return events.Rule(logical_id, Description="Notify the administrator when a Config rule turns NON_COMPLIANT",
                       State="ENABLED", EventPattern=json.loads(json.dumps(NON_COMPLIANT_PATTERN)),
                       Targets=[events.Target(Id="NotifyAdministrator", Arn=Ref(topic))])
