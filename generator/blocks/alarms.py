"""CloudWatch alarm building blocks: the fourteen CIS metric filters on the CloudTrail log group.

Each filter counts matching CloudTrail events; each alarm fires when the sum is at least one over five
minutes and notifies the administrator's topic (AlarmActions and InsufficientDataActions), so every
alarm has actions (HIPAA 164.308(a)(1)(ii)(D), 164.308(a)(6), 164.312(b); Security Hub CloudWatch.1–14).
The patterns are those of ``shared/reference/hipaa-controls.md``, kept here as data.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Ref, cloudwatch, logs

PERIOD_SECONDS = 300
THRESHOLD = 1


@dataclass(frozen=True)
class CisFilter:
    number: int     # Security Hub control CloudWatch.<number>
    name: str       # CamelCase; logical ids and metric names derive from it
    title: str
    pattern: str


# Copied verbatim from shared/reference/hipaa-controls.md (tests/test_account_baseline.py compares them).
CIS_FILTERS: tuple[CisFilter, ...] = (
    CisFilter(1, 'RootAccountUsage', 'root account usage',
              '{$.userIdentity.type="Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType !="AwsServiceEvent"}'),
    CisFilter(2, 'UnauthorizedApiCalls', 'unauthorized API calls',
              '{($.errorCode="*UnauthorizedOperation") || ($.errorCode="AccessDenied*")}'),
    CisFilter(3, 'ConsoleSignInWithoutMfa', 'console sign-in without MFA',
              '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") && ($.userIdentity.type = "IAMUser") && ($.responseElements.ConsoleLogin = "Success") }'),
    CisFilter(4, 'IamPolicyChanges', 'IAM policy changes',
              '{($.eventName=DeleteGroupPolicy) || ($.eventName=DeleteRolePolicy) || '
              '($.eventName=DeleteUserPolicy) || ($.eventName=PutGroupPolicy) || '
              '($.eventName=PutRolePolicy) || ($.eventName=PutUserPolicy) || ($.eventName=CreatePolicy) || '
              '($.eventName=DeletePolicy) || ($.eventName=CreatePolicyVersion) || '
              '($.eventName=DeletePolicyVersion) || ($.eventName=AttachRolePolicy) || '
              '($.eventName=DetachRolePolicy) || ($.eventName=AttachUserPolicy) || '
              '($.eventName=DetachUserPolicy) || ($.eventName=AttachGroupPolicy) || '
              '($.eventName=DetachGroupPolicy)}'),
    CisFilter(5, 'CloudTrailChanges', 'CloudTrail configuration changes',
              '{($.eventName=CreateTrail) || ($.eventName=UpdateTrail) || ($.eventName=DeleteTrail) || '
              '($.eventName=StartLogging) || ($.eventName=StopLogging)}'),
    CisFilter(6, 'ConsoleAuthenticationFailures', 'console authentication failures',
              '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}'),
    CisFilter(7, 'KmsKeyDisabledOrDeleted', 'KMS key disabled or scheduled for deletion',
              '{($.eventSource=kms.amazonaws.com) && (($.eventName=DisableKey) || '
              '($.eventName=ScheduleKeyDeletion))}'),
    CisFilter(8, 'S3BucketPolicyChanges', 'S3 bucket policy changes',
              '{($.eventSource=s3.amazonaws.com) && (($.eventName=PutBucketAcl) || '
              '($.eventName=PutBucketPolicy) || ($.eventName=PutBucketCors) || '
              '($.eventName=PutBucketLifecycle) || ($.eventName=PutBucketReplication) || '
              '($.eventName=DeleteBucketPolicy) || ($.eventName=DeleteBucketCors) || '
              '($.eventName=DeleteBucketLifecycle) || ($.eventName=DeleteBucketReplication))}'),
    CisFilter(9, 'ConfigChanges', 'AWS Config changes',
              '{($.eventSource=config.amazonaws.com) && (($.eventName=StopConfigurationRecorder) || '
              '($.eventName=DeleteDeliveryChannel) || ($.eventName=PutDeliveryChannel) || '
              '($.eventName=PutConfigurationRecorder))}'),
    CisFilter(10, 'SecurityGroupChanges', 'security group changes',
              '{($.eventName=AuthorizeSecurityGroupIngress) || ($.eventName=AuthorizeSecurityGroupEgress) || '
              '($.eventName=RevokeSecurityGroupIngress) || ($.eventName=RevokeSecurityGroupEgress) || '
              '($.eventName=CreateSecurityGroup) || ($.eventName=DeleteSecurityGroup)}'),
    CisFilter(11, 'NetworkAclChanges', 'network ACL changes',
              '{($.eventName=CreateNetworkAcl) || ($.eventName=CreateNetworkAclEntry) || '
              '($.eventName=DeleteNetworkAcl) || ($.eventName=DeleteNetworkAclEntry) || '
              '($.eventName=ReplaceNetworkAclEntry) || ($.eventName=ReplaceNetworkAclAssociation)}'),
    CisFilter(12, 'NetworkGatewayChanges', 'network gateway changes',
              '{($.eventName=CreateCustomerGateway) || ($.eventName=DeleteCustomerGateway) || '
              '($.eventName=AttachInternetGateway) || ($.eventName=CreateInternetGateway) || '
              '($.eventName=DeleteInternetGateway) || ($.eventName=DetachInternetGateway)}'),
    CisFilter(13, 'RouteTableChanges', 'route table changes',
              '{($.eventName=CreateRoute) || ($.eventName=CreateRouteTable) || ($.eventName=ReplaceRoute) || '
              '($.eventName=ReplaceRouteTableAssociation) || ($.eventName=DeleteRouteTable) || '
              '($.eventName=DeleteRoute) || ($.eventName=DisassociateRouteTable)}'),
    CisFilter(14, 'VpcChanges', 'VPC changes',
              '{($.eventName=CreateVpc) || ($.eventName=DeleteVpc) || ($.eventName=ModifyVpcAttribute) || '
              '($.eventName=AcceptVpcPeeringConnection) || ($.eventName=CreateVpcPeeringConnection) || '
              '($.eventName=DeleteVpcPeeringConnection) || ($.eventName=RejectVpcPeeringConnection) || '
              '($.eventName=AttachClassicLinkVpc) || ($.eventName=DetachClassicLinkVpc) || '
              '($.eventName=DisableVpcClassicLink) || ($.eventName=EnableVpcClassicLink)}'),
)


def metric_filter(f: CisFilter, log_group, namespace: str, condition: str | None = None) -> logs.MetricFilter:
    kwargs = {"LogGroupName": Ref(log_group), "FilterPattern": f.pattern,
              "MetricTransformations": [logs.MetricTransformation(
                  MetricName=f.name, MetricNamespace=namespace, MetricValue="1")]}
    if condition:
        kwargs["Condition"] = condition
    return logs.MetricFilter(f"{f.name}Filter", **kwargs)


def alarm(f: CisFilter, topic, namespace: str, condition: str | None = None) -> cloudwatch.Alarm:
    """Sum >= 1 over five minutes notifies ``topic``; missing data (no matching event) is not a breach."""
    kwargs = {
        "AlarmDescription": f"CIS CloudWatch.{f.number}: {f.title}",
        "Namespace": namespace, "MetricName": f.name, "Statistic": "Sum",
        "Period": PERIOD_SECONDS, "EvaluationPeriods": 1, "Threshold": THRESHOLD,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [Ref(topic)], "InsufficientDataActions": [Ref(topic)],
    }
    if condition:
        kwargs["Condition"] = condition
    return cloudwatch.Alarm(f"{f.name}Alarm", **kwargs)


def cis_alarms(log_group, topic, namespace: str, condition: str | None = None) -> list:
    """The fourteen CIS metric filters on ``log_group``, each followed by its alarm to ``topic``."""
    out: list = []
    for f in CIS_FILTERS:
        out.append(metric_filter(f, log_group, namespace, condition))
        out.append(alarm(f, topic, namespace, condition))
    return out
