"""CloudFormation resource types moto does not model, backed by moto's own service backends.

* ``AWS::IAM::Group``: the group in moto's IAM (``GroupName`` or a generated name, ``Path``,
  ``ManagedPolicyArns`` attached, inline ``Policies``); ``Ref`` is the name, ``Fn::GetAtt Arn`` the ARN.
  AWS managed policies (``arn:aws:iam::aws:policy/...``) are taken from moto's bundled copy on first
  use, so they attach as in AWS; any other policy ARN must exist, or the resource fails as in AWS.
* ``AWS::EC2::SecurityGroupEgress``: the rule in moto's EC2 (``Ref`` is the rule id).

moto lists CloudFormation models by walking ``CloudFormationModel.__subclasses__()``; defining these
classes (and clearing moto's cached list, ``register()``) is all it takes to add them.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.utilities.utils import get_partition

_AWS_POLICY_PREFIX = ":iam::aws:policy/"


def _iam(account_id: str, region_name: str):
    from moto.iam.models import iam_backends

    return iam_backends[account_id][get_partition(region_name)]


def ensure_aws_managed_policy(backend: Any, arn: str) -> None:
    """Make an AWS managed policy known to moto's IAM (moto loads them only with an opt-in setting)."""
    if arn in backend.managed_policies or _AWS_POLICY_PREFIX not in arn:
        return
    from moto.iam.models import AWSManagedPolicy

    name = arn.rsplit("/", 1)[-1]
    data = aws_policies().get(name)
    if data is not None:
        policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
        backend.managed_policies[policy.arn] = policy


@functools.lru_cache(maxsize=1)
def aws_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # a 4.7 MB string: imported on first use

    return json.loads(aws_managed_policies_data)


class IamGroup(CloudFormationModel):
    """``AWS::IAM::Group`` over moto's IAM group."""

    def __init__(self, account_id: str, region_name: str, name: str):
        self.account_id = account_id
        self.region_name = region_name
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "GroupName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::IAM::Group"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Arn"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name == "Arn":
            return _iam(self.account_id, self.region_name).get_group(self.name).arn
        raise UnformattedGetAttTemplateException()

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> "IamGroup":
        props = cloudformation_json.get("Properties") or {}
        backend = _iam(account_id, region_name)
        name = props.get("GroupName") or resource_name
        backend.create_group(name, path=props.get("Path") or "/")
        try:
            cls._apply_policies(backend, name, props)
        except Exception:  # any error attaching: undo, then let the caller report it
            backend.delete_group(name)  # AWS creates nothing when the resource fails
            raise
        return cls(account_id, region_name, name)

    @staticmethod
    def _apply_policies(backend: Any, name: str, props: dict[str, Any]) -> None:
        group = backend.get_group(name)
        for arn in list(group.managed_policies):
            if arn not in (props.get("ManagedPolicyArns") or []):
                backend.detach_group_policy(arn, name)
        for arn in props.get("ManagedPolicyArns") or []:
            ensure_aws_managed_policy(backend, arn)
            backend.attach_group_policy(arn, name)
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies") or []}
        for policy_name in list(group.policies):
            if policy_name not in wanted:
                backend.delete_group_policy(name, policy_name)
        for policy_name, document in wanted.items():
            backend.put_group_policy(name, policy_name,
                                     document if isinstance(document, str) else json.dumps(document))

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: "IamGroup", new_resource_name: str,  # type: ignore[misc]
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> "IamGroup":
        props = cloudformation_json.get("Properties") or {}
        backend = _iam(account_id, region_name)
        name = props.get("GroupName") or original_resource.name
        if name != original_resource.name:  # GroupName is create-only: a new group replaces the old one
            cls.delete_from_cloudformation_json(original_resource.name, cloudformation_json, account_id, region_name)
            return cls.create_from_cloudformation_json(name, cloudformation_json, account_id, region_name)
        if (props.get("Path") or "/") != backend.get_group(name).path:
            backend.update_group(name, None, props.get("Path") or "/")
        cls._apply_policies(backend, name, props)
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        backend = _iam(account_id, region_name)
        group = backend.get_group(resource_name)
        for arn in list(group.managed_policies):
            backend.detach_group_policy(arn, resource_name)
        backend.delete_group(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(self.name, {}, account_id, region_name)


class SecurityGroupEgress(CloudFormationModel):
    """``AWS::EC2::SecurityGroupEgress`` over moto's EC2 (moto models only the Ingress resource)."""

    def __init__(self, account_id: str, region_name: str, group_id: str, rule_id: str, rule: dict[str, Any]):
        self.account_id = account_id
        self.region_name = region_name
        self.group_id = group_id
        self.rule_id = rule_id
        self.rule = rule

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::EC2::SecurityGroupEgress"

    @property
    def physical_resource_id(self) -> str:
        return self.rule_id

    @staticmethod
    def _rule(props: dict[str, Any]) -> dict[str, Any]:
        ip_ranges = [{"CidrIp": props["CidrIp"], **({"Description": props["Description"]}
                                                    if props.get("Description") else {})}] if props.get("CidrIp") else []
        ipv6 = props.get("CidrIpv6")
        if ipv6:
            ip_ranges.append({"CidrIpv6": ipv6})
        groups = [{"GroupId": props["DestinationSecurityGroupId"]}] if props.get("DestinationSecurityGroupId") else []
        prefixes = [{"PrefixListId": props["DestinationPrefixListId"]}] if props.get("DestinationPrefixListId") else []
        return {"ip_protocol": str(props["IpProtocol"]), "from_port": props.get("FromPort"),
                "to_port": props.get("ToPort"), "ip_ranges": ip_ranges, "source_groups": groups,
                "prefix_list_ids": prefixes}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[misc]
                                        account_id: str, region_name: str, **kwargs: Any) -> "SecurityGroupEgress":
        from moto.ec2.models import ec2_backends

        props = cloudformation_json.get("Properties") or {}
        rule = cls._rule(props)
        rules, _group = ec2_backends[account_id][region_name].authorize_security_group_egress(
            props["GroupId"], **rule)
        return cls(account_id, region_name, props["GroupId"], rules[0].id if rules else resource_name, rule)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: "SecurityGroupEgress", new_resource_name: str,  # type: ignore[misc]
                                        cloudformation_json: dict[str, Any], account_id: str,
                                        region_name: str) -> "SecurityGroupEgress":
        original_resource.delete(account_id, region_name)  # every property but Description is create-only
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[misc]
                                        account_id: str, region_name: str) -> None:
        from moto.ec2.models import ec2_backends

        props = cloudformation_json.get("Properties") or {}
        ec2_backends[account_id][region_name].revoke_security_group_egress(props["GroupId"], **cls._rule(props))

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.ec2.models import ec2_backends

        ec2_backends[account_id][region_name].revoke_security_group_egress(self.group_id, **self.rule)
