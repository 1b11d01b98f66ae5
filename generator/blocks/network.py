"""Network building blocks: security groups whose every rule has a description, and an HTTPS-only ALB.

- Rules are written one port at a time (``tcp``, never ``-1``), each with a ``Description``.
- A security group always declares its egress explicitly, so the default allow-all egress rule
  (protocol ``-1`` to ``0.0.0.0/0``) never exists.
- The load balancer listens on 443 with a TLS 1.2+ policy; its port-80 listener only redirects to 443;
  it re-encrypts to the targets (HTTPS target group), writes access logs to an S3 bucket and carries
  deletion protection as its caller decides.
- ``alias_record`` gives a load balancer a name in the administrator's hosted zone, so the site's URL
  matches the certificate the listener serves (ACM cannot issue one for the load balancer's own
  ``*.elb.amazonaws.com`` name: "You cannot request certificates for Amazon-owned domain names such as
  those ending in amazonaws.com", *ACM certificate characteristics*, AWS Certificate Manager User Guide,
  https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html).
"""

from __future__ import annotations

from typing import Sequence

from troposphere import GetAtt, Ref, ec2, route53
from troposphere import elasticloadbalancingv2 as elb

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"  # TLS 1.3 and 1.2 only
ANYWHERE_V4 = "0.0.0.0/0"
ANYWHERE_V6 = "::/0"


def _conditional(kwargs: dict, condition: str | None) -> dict:
    if condition:
        kwargs["Condition"] = condition
    return kwargs


def _source(*, cidr=None, cidr_ipv6=None, source_group=None, destination_group=None) -> dict:
    given = {k: v for k, v in (("CidrIp", cidr), ("CidrIpv6", cidr_ipv6), ("SourceSecurityGroupId", source_group),
                               ("DestinationSecurityGroupId", destination_group)) if v is not None}
    if len(given) != 1:
        raise ValueError(f"a security-group rule needs exactly one peer, found {sorted(given) or 'none'}")
    return given


def rule(port: int, description: str, **peer) -> ec2.SecurityGroupRule:
    """An inline TCP rule for one port with a description; ``peer`` is one of cidr, cidr_ipv6,
    source_group (ingress) or destination_group (egress)."""
    return ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, Description=description,
                                 **_source(**peer))


def security_group(logical_id: str, description: str, vpc_id, *, egress: Sequence[ec2.SecurityGroupRule],
                   ingress: Sequence[ec2.SecurityGroupRule] = (), tags=None,
                   condition: str | None = None) -> ec2.SecurityGroup:
    """A VPC security group; ``egress`` is required so the default allow-all egress never applies."""
    if not egress:
        raise ValueError(f"security group {logical_id}: declare its egress (the default allows everything)")
    kwargs = {"GroupDescription": description, "VpcId": vpc_id, "SecurityGroupEgress": list(egress)}
    if ingress:
        kwargs["SecurityGroupIngress"] = list(ingress)
    if tags is not None:
        kwargs["Tags"] = tags
    return ec2.SecurityGroup(logical_id, **_conditional(kwargs, condition))


def ingress(logical_id: str, group, port: int, description: str, *, condition: str | None = None,
            **peer) -> ec2.SecurityGroupIngress:
    """A standalone ingress rule (used where the rule depends on a condition or would make a cycle)."""
    kwargs = {"GroupId": GetAtt(group, "GroupId"), "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
              "Description": description, **_source(**peer)}
    return ec2.SecurityGroupIngress(logical_id, **_conditional(kwargs, condition))


def egress(logical_id: str, group, port: int, description: str, *, condition: str | None = None,
           **peer) -> ec2.SecurityGroupEgress:
    kwargs = {"GroupId": GetAtt(group, "GroupId"), "IpProtocol": "tcp", "FromPort": port, "ToPort": port,
              "Description": description, **_source(**peer)}
    return ec2.SecurityGroupEgress(logical_id, **_conditional(kwargs, condition))


def internet_web_ingress() -> list[ec2.SecurityGroupRule]:
    """443 and the 80 redirect from the whole internet (IPv4 and IPv6): for a load balancer only."""
    return [
        rule(443, "HTTPS from the internet (IPv4)", cidr=ANYWHERE_V4),
        rule(443, "HTTPS from the internet (IPv6)", cidr_ipv6=ANYWHERE_V6),
        rule(80, "HTTP from the internet (IPv4), only redirected to HTTPS", cidr=ANYWHERE_V4),
        rule(80, "HTTP from the internet (IPv6), only redirected to HTTPS", cidr_ipv6=ANYWHERE_V6),
    ]


def load_balancer(logical_id: str, subnets, security_groups: list, *, access_log_bucket, log_prefix,
                  deletion_protection, tags=None, condition: str | None = None) -> elb.LoadBalancer:
    """An internet-facing ALB that drops invalid headers and logs every request to ``access_log_bucket``.

    ``deletion_protection`` (``"true"``/``"false"``, or a Ref to a parameter holding one) is the
    ``deletion_protection.enabled`` attribute: "If you enable deletion protection for your load balancer,
    you must disable it before you can delete the load balancer" (*Application Load Balancers*, Deletion
    protection, https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#deletion-protection)."""
    attributes = [
        elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=deletion_protection),
        elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
        elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=access_log_bucket),
        elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=log_prefix),
        elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
    ]
    kwargs = {"Type": "application", "Scheme": "internet-facing", "IpAddressType": "ipv4", "Subnets": subnets,
              "SecurityGroups": security_groups, "LoadBalancerAttributes": attributes}
    if tags is not None:
        kwargs["Tags"] = tags
    return elb.LoadBalancer(logical_id, **_conditional(kwargs, condition))


def https_target_group(logical_id: str, vpc_id, instance, *, health_path: str, tags=None,
                       condition: str | None = None) -> elb.TargetGroup:
    """Targets reached over HTTPS on 443 (the load balancer re-encrypts), health-checked over HTTPS on
    ``health_path``, which must answer 200.  The targets' certificates may be self-signed: "The load
    balancer does not validate these certificates" (*Target groups for your Application Load Balancers*,
    https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html)."""
    kwargs = {"Protocol": "HTTPS", "Port": 443, "ProtocolVersion": "HTTP1", "TargetType": "instance",
              "VpcId": vpc_id, "Targets": [elb.TargetDescription(Id=Ref(instance), Port=443)],
              "HealthCheckProtocol": "HTTPS", "HealthCheckPath": health_path, "HealthCheckPort": "443",
              "Matcher": elb.Matcher(HttpCode="200")}
    if tags is not None:
        kwargs["Tags"] = tags
    return elb.TargetGroup(logical_id, **_conditional(kwargs, condition))


def https_listener(logical_id: str, lb: elb.LoadBalancer, certificate_arn, target_group: elb.TargetGroup, *,
                   tags=None, condition: str | None = None) -> elb.Listener:
    kwargs = {"LoadBalancerArn": Ref(lb), "Port": 443, "Protocol": "HTTPS", "SslPolicy": TLS_POLICY,
              "Certificates": [elb.Certificate(CertificateArn=certificate_arn)],
              "DefaultActions": [elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]}
    if tags is not None:
        kwargs["Tags"] = tags
    return elb.Listener(logical_id, **_conditional(kwargs, condition))


def redirect_listener(logical_id: str, lb: elb.LoadBalancer, *, tags=None,
                      condition: str | None = None) -> elb.Listener:
    """Port 80 that only answers with a permanent redirect to the same URL over HTTPS."""
    redirect = elb.RedirectConfig(Protocol="HTTPS", Port="443", Host="#{host}", Path="/#{path}",
                                  Query="#{query}", StatusCode="HTTP_301")
    kwargs = {"LoadBalancerArn": Ref(lb), "Port": 80, "Protocol": "HTTP",
              "DefaultActions": [elb.Action(Type="redirect", RedirectConfig=redirect)]}
    if tags is not None:
        kwargs["Tags"] = tags
    return elb.Listener(logical_id, **_conditional(kwargs, condition))


def alias_record(logical_id: str, hosted_zone_id, name, lb: elb.LoadBalancer, *,
                 condition: str | None = None) -> route53.RecordSetType:
    """An A record aliasing ``name`` to the load balancer: "Use the Fn::GetAtt intrinsic function to get the
    value of DNSName" and "Get CanonicalHostedZoneID" (*AWS::Route53::RecordSet AliasTarget*, AWS
    CloudFormation User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-route53-aliastarget.html).
    ``EvaluateTargetHealth`` is off: the record has no alternative to fail over to, and the load balancer
    already routes only to healthy targets."""
    target = route53.AliasTarget(DNSName=GetAtt(lb, "DNSName"), HostedZoneId=GetAtt(lb, "CanonicalHostedZoneID"),
                                 EvaluateTargetHealth=False)
    kwargs = {"HostedZoneId": hosted_zone_id, "Name": name, "Type": "A", "AliasTarget": target}
    return route53.RecordSetType(logical_id, **_conditional(kwargs, condition))
