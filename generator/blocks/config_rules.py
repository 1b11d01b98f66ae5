"""AWS Config building blocks: recorder, delivery channel, managed rules, and the NON_COMPLIANT alert.

The recorder records every supported resource type (global ones, such as IAM, in one region only, chosen
by a condition, so they are not recorded twice); the delivery channel writes to the KMS-encrypted log
bucket; the managed rules check what the catalog's products promise; an EventBridge rule notifies the
administrator's topic when any rule turns NON_COMPLIANT (HIPAA 164.308(a)(1)(ii)(D), 164.308(a)(8)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from awacs.aws import Condition, Principal, StringEquals
from troposphere import GetAtt, If, Join, Ref, Sub, config, events, iam as cfn_iam

from generator.blocks.iam import aws_managed, managed_policy, service_trust, statement

SERVICE = "config.amazonaws.com"


@dataclass(frozen=True)
class ManagedRule:
    name: str              # the managed rule's documented name, e.g. "restricted-ssh"
    identifier: str        # its SourceIdentifier
    params: dict = field(default_factory=dict)
    global_only: bool = False  # evaluates global (IAM) resources: deployed where global types are recorded
    scope_tag: tuple[str, str] | None = None  # evaluate only resources carrying this tag (key, value)

    @property
    def logical_id(self) -> str:
        return "Rule" + "".join(p.capitalize() for p in self.name.split("-"))


# What the products and the baseline promise (shared/reference/hipaa-controls.md, third-party checks column).
MANAGED_RULES: tuple[ManagedRule, ...] = (
    ManagedRule("encrypted-volumes", "ENCRYPTED_VOLUMES"),
    ManagedRule("restricted-ssh", "INCOMING_SSH_DISABLED"),
    ManagedRule("restricted-common-ports", "RESTRICTED_INCOMING_TRAFFIC"),
    ManagedRule("ec2-imdsv2-check", "EC2_IMDSV2_CHECK"),
    ManagedRule("ec2-instance-no-public-ip", "EC2_INSTANCE_NO_PUBLIC_IP"),
    ManagedRule("ec2-instances-in-vpc", "INSTANCES_IN_VPC"),
    ManagedRule("ec2-instance-profile-attached", "EC2_INSTANCE_PROFILE_ATTACHED"),
    # Backups are promised for PHI servers only (164.308(a)(7)); a PHI=NO server's root volume is not
    # backed up by design, so the rule looks at volumes tagged PHI=YES (the web server tags its volumes).
    ManagedRule("ebs-in-backup-plan", "EBS_IN_BACKUP_PLAN", scope_tag=("PHI", "YES")),
    # 443 is the service port; 80 is authorized too because a PROD load balancer listens on it to redirect
    # to HTTPS, and nothing else: the build-time HIPAA rules refuse any port-80 listener that is not a
    # redirect and any other port open to the internet.  Without 80 every PROD launch would alert.
    ManagedRule("vpc-sg-open-only-to-authorized-ports", "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS",
                {"authorizedTcpPorts": "443,80"}),
    ManagedRule("s3-bucket-ssl-requests-only", "S3_BUCKET_SSL_REQUESTS_ONLY"),
    ManagedRule("s3-bucket-versioning-enabled", "S3_BUCKET_VERSIONING_ENABLED"),
    ManagedRule("s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED"),
    ManagedRule("s3-bucket-level-public-access-prohibited", "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED"),
    ManagedRule("cloud-trail-log-file-validation-enabled", "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED"),
    ManagedRule("cloud-trail-encryption-enabled", "CLOUD_TRAIL_ENCRYPTION_ENABLED"),
    ManagedRule("multi-region-cloudtrail-enabled", "MULTI_REGION_CLOUD_TRAIL_ENABLED"),
    ManagedRule("cloudwatch-log-group-encrypted", "CLOUDWATCH_LOG_GROUP_ENCRYPTED"),
    ManagedRule("cw-loggroup-retention-period-check", "CW_LOGGROUP_RETENTION_PERIOD_CHECK",
                {"MinRetentionTime": "365"}),
    ManagedRule("cloudwatch-alarm-action-check", "CLOUDWATCH_ALARM_ACTION_CHECK",
                {"alarmActionRequired": "true", "insufficientDataActionRequired": "true",
                 "okActionRequired": "false"}),
    ManagedRule("sns-encrypted-kms", "SNS_ENCRYPTED_KMS"),
    ManagedRule("iam-no-inline-policy-check", "IAM_NO_INLINE_POLICY_CHECK", global_only=True),
    ManagedRule("iam-policy-no-statements-with-admin-access", "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS",
                global_only=True),
    ManagedRule("iam-policy-no-statements-with-full-access", "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS",
                global_only=True),
)


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


def recorder_role(logical_id: str, bucket, kms_key) -> list:
    """The recorder's role: AWS_ConfigRole plus a managed policy to deliver to ``bucket`` with ``kms_key``."""
    role = cfn_iam.Role(logical_id, Description="AWS Config records resources and delivers to the log bucket",
                        AssumeRolePolicyDocument=service_trust(SERVICE, condition=Condition(
                            StringEquals("aws:SourceAccount", Ref("AWS::AccountId")))),
                        ManagedPolicyArns=[aws_managed("service-role/AWS_ConfigRole")])
    policy = managed_policy(f"{logical_id}DeliveryPolicy", "AWS Config delivers to the log bucket", [
        statement("CheckBucket", ["s3:GetBucketAcl"], GetAtt(bucket, "Arn")),
        statement("Deliver", ["s3:PutObject"], delivery_prefix(bucket)),
        statement("EncryptDeliveries", ["kms:Decrypt", "kms:GenerateDataKey"], GetAtt(kms_key, "Arn")),
    ], roles=[Ref(role)])
    return [role, policy]


def recorder(logical_id: str, role, global_condition: str) -> config.ConfigurationRecorder:
    return config.ConfigurationRecorder(
        logical_id, RoleARN=GetAtt(role, "Arn"),
        RecordingGroup=config.RecordingGroup(AllSupported=True,
                                             IncludeGlobalResourceTypes=If(global_condition, True, False)))


def delivery_channel(logical_id: str, bucket, kms_key, recorder_resource, depends_on=()) -> config.DeliveryChannel:
    ch = config.DeliveryChannel(
        logical_id, S3BucketName=Ref(bucket), S3KmsKeyArn=GetAtt(kms_key, "Arn"),
        ConfigSnapshotDeliveryProperties=config.ConfigSnapshotDeliveryProperties(
            DeliveryFrequency="TwentyFour_Hours"))
    ch.DependsOn = [recorder_resource.title, *depends_on]
    return ch


def managed_rules(prefix: str, channel, global_condition: str, rules=MANAGED_RULES) -> list:
    """One AWS::Config::ConfigRule per managed rule, named ``<prefix>-<rule name>``."""
    out = []
    for r in rules:
        kwargs = {"ConfigRuleName": f"{prefix}-{r.name}",
                  "Source": config.Source(Owner="AWS", SourceIdentifier=r.identifier)}
        if r.params:
            kwargs["InputParameters"] = dict(r.params)
        if r.global_only:
            kwargs["Condition"] = global_condition
        if r.scope_tag:
            kwargs["Scope"] = config.Scope(TagKey=r.scope_tag[0], TagValue=r.scope_tag[1])
        rule = config.ConfigRule(r.logical_id, **kwargs)
        rule.DependsOn = [channel.title]
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
