"""CloudTrail building blocks: a multi-region, validated, KMS-encrypted trail that also feeds CloudWatch Logs.

``trail`` records management events of every region, global service events and S3 data events, with
log-file validation, to the log bucket and to a CloudWatch Logs group (HIPAA 164.308(a)(3)(ii)(A),
164.312(b), 164.312(c)).  The S3 data-event selector is ``arn:${AWS::Partition}:s3``, the prefix for "all objects
in all S3 buckets" (CloudFormation User Guide, AWS::CloudTrail::Trail DataResource, Values,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-cloudtrail-trail-dataresource.html),
so the trail is suppressed, with that reason, for the Guard registry rule that wants a commercial-partition literal.  The statements CloudTrail needs on the log bucket and on the KMS key are here too,
each limited to this account's trail by ``aws:SourceArn``.
"""

from __future__ import annotations

from awacs.aws import Condition, Principal, StringEquals, StringLike
from troposphere import GetAtt, Join, Ref, Sub, cloudtrail, iam as cfn_iam

from generator.blocks.catalog import guard_suppressed
from generator.blocks.iam import managed_policy, service_trust, statement

SERVICE = "cloudtrail.amazonaws.com"


def trail_arn(name: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:${{AWS::AccountId}}:trail/{name}")


def _source_arn(name: str) -> Condition:
    return Condition(StringEquals("aws:SourceArn", trail_arn(name)))


def bucket_statements(bucket, name: str) -> list:
    """Bucket-policy statements letting only this account's trail ``name`` check the ACL and write logs."""
    arn = GetAtt(bucket, "Arn")
    return [
        statement("CloudTrailAclCheck", ["s3:GetBucketAcl"], arn, principal=Principal("Service", SERVICE),
                  condition=_source_arn(name)),
        statement("CloudTrailWrite", ["s3:PutObject"],
                  Join("", [arn, Sub("/AWSLogs/${AWS::AccountId}/*")]), principal=Principal("Service", SERVICE),
                  condition=Condition([StringEquals("s3:x-amz-acl", "bucket-owner-full-control"),
                                       StringEquals("aws:SourceArn", trail_arn(name))])),
    ]


def key_statements(name: str) -> list:
    """Key-policy statements: the trail may encrypt its logs (encryption context of this account's trails)."""
    principal = Principal("Service", SERVICE)
    return [
        statement("CloudTrailEncryptLogs", ["kms:GenerateDataKey*"], "*", principal=principal,
                  condition=Condition([
                      StringLike("kms:EncryptionContext:aws:cloudtrail:arn",
                                 Sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*")),
                      StringEquals("aws:SourceArn", trail_arn(name))])),
        statement("CloudTrailDescribeKey", ["kms:DescribeKey"], "*", principal=principal,
                  condition=_source_arn(name)),
    ]


def logs_role(logical_id: str, log_group, name: str, condition: str | None = None) -> list:
    """The role CloudTrail assumes to write to ``log_group``, with a managed policy on that group only."""
    trust = service_trust(SERVICE, condition=Condition(StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))
    kwargs = {"AssumeRolePolicyDocument": trust,
              "Description": f"CloudTrail trail {name} writes to its CloudWatch Logs group"}
    if condition:
        kwargs["Condition"] = condition
    role = cfn_iam.Role(logical_id, **kwargs)
    policy = managed_policy(f"{logical_id}Policy", f"CloudTrail {name} delivers events to CloudWatch Logs",
                            [statement("WriteTrailLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"],
                                       GetAtt(log_group, "Arn"))],
                            roles=[Ref(role)], condition=condition)
    return [role, policy]


def trail(logical_id: str, name: str, *, bucket, kms_alias, log_group, role, depends_on=(),
          condition: str | None = None) -> cloudtrail.Trail:
    """The trail, encrypted with the key of ``kms_alias`` (an ``AWS::KMS::Alias`` of the same template).

    ``KMSKeyId`` is the alias name, a plain string: CloudTrail accepts "an alias name prefixed by alias/"
    (CloudFormation User Guide, AWS::CloudTrail::Trail, KMSKeyId,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudtrail-trail.html) and
    keeps the key's ARN ("The value is a fully specified ARN to a KMS key", CloudTrail API Reference,
    CreateTrail response, https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_CreateTrail.html),
    so the trail is encrypted with the same key as with its ARN.  The Guard registry rule
    CLOUD_TRAIL_ENCRYPTION_ENABLED accepts only a string.  The trail depends on the alias, which must exist first.
    """
    kwargs = {
        "TrailName": name,
        "S3BucketName": Ref(bucket),
        "KMSKeyId": kms_alias.AliasName,
        "IsLogging": True,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EnableLogFileValidation": True,
        "CloudWatchLogsLogGroupArn": GetAtt(log_group, "Arn"),
        "CloudWatchLogsRoleArn": GetAtt(role, "Arn"),
        "EventSelectors": [cloudtrail.EventSelector(
            IncludeManagementEvents=True, ReadWriteType="All",
            DataResources=[cloudtrail.DataResource(Type="AWS::S3::Object",
                                                   Values=[Sub("arn:${AWS::Partition}:s3")])])],
    }
    if condition:
        kwargs["Condition"] = condition
    t = cloudtrail.Trail(logical_id, **kwargs)
    t.DependsOn = [*depends_on, kms_alias.title]
    return guard_suppressed(t, ("CLOUDTRAIL_S3_DATAEVENTS_ENABLED", (
        "S3 data events of every bucket are logged: the selector's value is arn:<partition>:s3 (Fn::Sub of "
        "AWS::Partition), the prefix CloudTrail documents for all objects in all buckets, in the stack's own "
        "partition; the rule accepts only the literal arn:aws:s3::: of the commercial partition (HIPAA rule "
        "E9405 checks the selector)")))


__all__ = ["trail", "logs_role", "bucket_statements", "key_statements", "trail_arn"]
