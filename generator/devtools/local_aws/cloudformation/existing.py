"""AWS-specific parameter types: their values must name resources that exist in the stack's account and region.

*Specify existing resources at runtime with CloudFormation-supplied parameter types* (CloudFormation User
Guide, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html):
"When you use these parameter types, anyone who uses your template must specify valid values from the AWS
account and Region in which they're creating the stack."  So the same VPC id given to every account of a
stack set is refused in all but the one that owns it.  The refusal's text is not documented; it follows the
form CloudFormation's console reports ("Parameter validation failed: parameter value X for parameter name
Y does not exist").  Types checked: the EC2 VPC, subnet, security group, image, instance, volume, key pair and
Availability Zone ids/names, and Route 53 hosted zones, alone or as ``List<…>``; an empty value is left to
the other parameter checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _ec2(account: str, region: str):
    from moto.ec2.models import ec2_backends

    return ec2_backends[account][region]


def _zones(account: str) -> set[str]:
    from moto.route53.models import route53_backends

    return {zone_id.split("/")[-1] for zone_id in route53_backends[account]["global"].zones}


_EXISTS: dict[str, Callable[[str, str, str], bool]] = {
    "AWS::EC2::VPC::Id": lambda a, r, v: v in _ec2(a, r).vpcs,
    "AWS::EC2::Subnet::Id": lambda a, r, v: any(v in subnets for subnets in _ec2(a, r).subnets.values()),
    "AWS::EC2::SecurityGroup::Id": lambda a, r, v: _ec2(a, r).get_security_group_from_id(v) is not None,
    "AWS::EC2::Image::Id": lambda a, r, v: v in _ec2(a, r).amis,
    "AWS::EC2::Volume::Id": lambda a, r, v: v in _ec2(a, r).volumes,
    "AWS::EC2::KeyPair::KeyName": lambda a, r, v: v in _ec2(a, r).key_pairs,
    "AWS::EC2::Instance::Id": lambda a, r, v: any(i.id == v for i in _ec2(a, r).all_instances()),
    "AWS::EC2::AvailabilityZone::Name": lambda a, r, v: v in {z.name for z in _ec2(a, r).describe_availability_zones()},
    "AWS::Route53::HostedZone::Id": lambda a, r, v: v.split("/")[-1] in _zones(a),
}


def missing(template: dict[str, Any], values: dict[str, Any], account: str, region: str) -> str | None:
    """The refusal for the first AWS-typed parameter whose value does not exist here, or None."""
    for key, spec in (template.get("Parameters") or {}).items():
        kind = str(spec.get("Type", ""))
        element = kind[5:-1] if kind.startswith("List<") and kind.endswith(">") else kind
        exists = _EXISTS.get(element)
        value = values.get(key, spec.get("Default"))
        if exists is None or value in (None, ""):
            continue
        items = value if isinstance(value, list) else str(value).split(",") if element != kind else [str(value)]
        for item in (str(i).strip() for i in items):
            if item and not exists(account, region, item):
                return f"Parameter validation failed: parameter value {item} for parameter name {key} does not exist"
    return None
