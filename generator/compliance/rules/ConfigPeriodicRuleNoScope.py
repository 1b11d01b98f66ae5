"""E9409: an AWS managed Config rule whose trigger type is Periodic carries no Scope.

A scope says which resources' configuration changes trigger an evaluation; AWS Config's *Trigger types*
describe it only for rules triggered by configuration changes (AWS Config Developer Guide, "Evaluating
resources with AWS Config rules", https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config-rules.html),
and PutConfigRule refuses a ``Scope`` on a periodic rule with ``InvalidParameterValueException``
(reported by the AWS Config team through cloud-custodian/cloud-custodian#10008, "aws - mu - remove scope
from periodic rules", 2025), so the stack that declares one fails.  Rules with both trigger types
("Configuration changes and Periodic") keep the scope the guide documents for configuration changes.

``TRIGGER_TYPES`` is the "Trigger type" line of each managed rule's page,
``https://docs.aws.amazon.com/config/latest/developerguide/<rule name>.html`` (read in the current pages,
crowecawcaw/aws-docs-history commits 465d45b8, 24f8a2fb, 1b18d575, 680521b8, 2025-2026, and in
awsdocs/aws-config-developer-guide@572f3077, June 2023, which agree except where noted).  It covers every
rule ``generator/blocks/config_rules.py`` deploys (tests/test_account_baseline.py checks that); add a rule's
line from its page before deploying it.
"""

from generator.compliance import hipaa

CHANGES = "Configuration changes"
PERIODIC = "Periodic"
BOTH = "Configuration changes and Periodic"

# SourceIdentifier -> (rule name, trigger type)
TRIGGER_TYPES = {
    "ENCRYPTED_VOLUMES": ("encrypted-volumes", CHANGES),
    "INCOMING_SSH_DISABLED": ("restricted-ssh", BOTH),  # 2023: Configuration changes
    "RESTRICTED_INCOMING_TRAFFIC": ("restricted-common-ports", BOTH),  # 2023: Configuration changes
    "EC2_IMDSV2_CHECK": ("ec2-imdsv2-check", CHANGES),
    "EC2_INSTANCE_NO_PUBLIC_IP": ("ec2-instance-no-public-ip", CHANGES),
    "INSTANCES_IN_VPC": ("ec2-instances-in-vpc", CHANGES),
    "EC2_INSTANCE_PROFILE_ATTACHED": ("ec2-instance-profile-attached", CHANGES),
    "EBS_IN_BACKUP_PLAN": ("ebs-in-backup-plan", PERIODIC),
    "EBS_RESOURCES_PROTECTED_BY_BACKUP_PLAN": ("ebs-resources-protected-by-backup-plan", PERIODIC),
    "VPC_SG_OPEN_ONLY_TO_AUTHORIZED_PORTS": ("vpc-sg-open-only-to-authorized-ports", BOTH),  # 2023: changes
    "S3_BUCKET_SSL_REQUESTS_ONLY": ("s3-bucket-ssl-requests-only", CHANGES),
    "S3_BUCKET_VERSIONING_ENABLED": ("s3-bucket-versioning-enabled", CHANGES),
    "S3_BUCKET_LOGGING_ENABLED": ("s3-bucket-logging-enabled", CHANGES),
    "S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED": ("s3-bucket-level-public-access-prohibited", CHANGES),
    "CLOUD_TRAIL_LOG_FILE_VALIDATION_ENABLED": ("cloud-trail-log-file-validation-enabled", PERIODIC),
    "CLOUD_TRAIL_ENCRYPTION_ENABLED": ("cloud-trail-encryption-enabled", PERIODIC),
    "MULTI_REGION_CLOUD_TRAIL_ENABLED": ("multi-region-cloudtrail-enabled", PERIODIC),
    "CLOUDWATCH_LOG_GROUP_ENCRYPTED": ("cloudwatch-log-group-encrypted", PERIODIC),
    "CW_LOGGROUP_RETENTION_PERIOD_CHECK": ("cw-loggroup-retention-period-check", PERIODIC),
    "CLOUDWATCH_ALARM_ACTION_CHECK": ("cloudwatch-alarm-action-check", CHANGES),
    "SNS_ENCRYPTED_KMS": ("sns-encrypted-kms", CHANGES),
    "IAM_NO_INLINE_POLICY_CHECK": ("iam-no-inline-policy-check", CHANGES),
    "IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS": ("iam-policy-no-statements-with-admin-access", CHANGES),
    "IAM_POLICY_NO_STATEMENTS_WITH_FULL_ACCESS": ("iam-policy-no-statements-with-full-access", CHANGES),
}


class ConfigPeriodicRuleNoScope(hipaa.HipaaRule):
    id = "E9409"
    shortdesc = "Periodic Config rules have no Scope"
    description = ("An AWS::Config::ConfigRule with an AWS managed SourceIdentifier whose trigger type is "
                   "Periodic sets no Scope (PutConfigRule refuses it, so the stack would fail and the audit "
                   "control would not exist).")
    hipaa = ("164.308(a)(1)(ii)(D)", "164.312(b)")
    fix = ("remove the Scope; to check only some resources, use a managed rule that takes them as a parameter "
           "(e.g. EBS_RESOURCES_PROTECTED_BY_BACKUP_PLAN with resourceTags)")
    resource_types = ("AWS::Config::ConfigRule",)
    evidence = ("Source", "Scope")

    def check(self, s, lid, res):
        p = hipaa.props(res)
        source = p.get("Source") if isinstance(p.get("Source"), dict) else {}
        if hipaa.text(source.get("Owner")) != "AWS":
            return
        identifier = hipaa.text(source.get("SourceIdentifier"))
        name, trigger = TRIGGER_TYPES.get(identifier, ("", ""))
        if trigger == PERIODIC and hipaa.is_set(p.get("Scope")):
            yield hipaa.Fail(("Properties", "Scope"), f"config rule {lid}: {name} ({identifier}) is a periodic "
                                                      "rule and takes no Scope")
