"""In-place updates and replacement decisions for the resource types the catalog's products use.

moto can update few of its CloudFormation models (most have no ``update_from_cloudformation_json``: moto
then drops the resource from the stack; others delete and re-create it under a new id).  Here:

* ``replaces`` says whether a change replaces the resource: a changed property that the provider schema
  marks create-only does (``schemas``); a conditionally create-only one only where the resource type's
  reference page says so (the table ``_CONDITIONAL`` below); anything else is an update in place;
* ``apply`` makes an in-place update through moto's service backends, keeping the physical id.  Per
  type it applies the properties listed in ``_UPDATERS``' functions; a changed property a function does
  not apply is kept in the stack's record of the resource's properties (so a later update or a rollback
  compares against it) but moto's object keeps its old value: the README lists this;
* types without a function here use moto's own update when it keeps the physical id (listed in
  ``_MOTO_IN_PLACE``), else the change is recorded only.

Update behaviours per property come from each type's page of the *AWS resource and property types
reference* ("Update requires: No interruption / Some interruptions / Replacement"),
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.cloudformation.parsing import parse_and_update_resource

from .schemas import ALWAYS, CONDITIONALLY, requires_recreation

# Custom-name properties: replacing a resource whose custom name stays the same fails (see operations).
# *CloudFormation resource custom naming*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html
CUSTOM_NAMES = {
    "AWS::Backup::BackupVault": "BackupVaultName", "AWS::CloudTrail::Trail": "TrailName",
    "AWS::CloudWatch::Alarm": "AlarmName", "AWS::Config::ConfigRule": "ConfigRuleName",
    "AWS::EC2::SecurityGroup": "GroupName", "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name", "AWS::Events::Rule": "Name",
    "AWS::IAM::Group": "GroupName", "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::IAM::Role": "RoleName",
    "AWS::KMS::Alias": "AliasName", "AWS::Logs::LogGroup": "LogGroupName", "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName", "AWS::SSM::Parameter": "Name",
}


def custom_name_property(kind: str) -> str | None:
    return CUSTOM_NAMES.get(kind)


def _block_devices_replace(old: Any, new: Any) -> bool:
    """AWS::EC2::Instance BlockDeviceMappings: "If you change only the DeleteOnTermination property for one
    or more block devices, update requires No interruption. If you change any other property, update
    requires Replacement." (AWS::EC2::Instance,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-ec2-instance.html)"""
    def strip(mappings: Any) -> Any:
        return [{**m, "Ebs": {k: v for k, v in (m.get("Ebs") or {}).items() if k != "DeleteOnTermination"}}
                if isinstance(m, dict) else m for m in (mappings or [])]
    return strip(old) != strip(new)


# (type, property) -> does this change of a conditionally create-only property replace the resource?
# AWS::EC2::Instance: InstanceType, UserData, EbsOptimized, SecurityGroupIds ... are "Some interruptions"
# for EBS-backed instances (every AMI of the local EC2 is EBS-backed), "Replacement" for instance-store ones.
_CONDITIONAL: dict[tuple[str, str], Callable[[Any, Any], bool]] = {
    ("AWS::EC2::Instance", "BlockDeviceMappings"): _block_devices_replace,
}


def replaces(kind: str, changed: list[str], old: dict[str, Any], new: dict[str, Any]) -> bool:
    for prop in changed:
        need = requires_recreation(kind, prop)
        if need == ALWAYS:
            return True
        if need == CONDITIONALLY:
            decide = _CONDITIONAL.get((kind, prop))
            if decide is not None and decide(old.get(prop), new.get(prop)):
                return True
    return False


# ------------------------------------------------------------------------------------------ in place

class Context:
    def __init__(self, logical_id: str, rmap: Any, account_id: str, region_name: str):
        self.logical_id = logical_id
        self.rmap = rmap
        self.account_id = account_id
        self.region_name = region_name

    def backend(self, service: str) -> Any:
        from moto.backends import get_backend
        from moto.utilities.utils import get_partition

        backends = get_backend(service)  # type: ignore[call-overload]
        region = get_partition(self.region_name) if service == "iam" else self.region_name
        return backends[self.account_id][region]


def _tags(props: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    return {t["Key"]: str(t["Value"]) for t in props.get(key) or [] if isinstance(t, dict) and "Key" in t}


def _ec2_tags(ctx: Context, resource_id: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    ec2 = ctx.backend("ec2")
    before, after = _tags(old), _tags(new)
    gone = {k: v for k, v in before.items() if k not in after}
    if gone:
        ec2.delete_tags([resource_id], gone)
    if after:
        ec2.create_tags([resource_id], after)


def _instance(ctx: Context, instance: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    ec2 = ctx.backend("ec2")
    if "InstanceType" in changed:
        ec2.modify_instance_attribute(instance.id, "instance_type", new.get("InstanceType", "m1.small"))
    if "UserData" in changed:
        ec2.modify_instance_attribute(instance.id, "user_data", [new.get("UserData")] if new.get("UserData") else None)
    if "DisableApiTermination" in changed:
        ec2.modify_instance_attribute(instance.id, "disable_api_termination",
                                      str(new.get("DisableApiTermination", False)).lower() == "true")
    if "Tags" in changed:
        _ec2_tags(ctx, instance.id, old, new)
    if "MetadataOptions" in changed:
        options = new.get("MetadataOptions") or {}
        ec2.modify_instance_metadata_options(instance.id, http_tokens=options.get("HttpTokens"),
                                             hop_limit=options.get("HttpPutResponseHopLimit"),
                                             http_endpoint=options.get("HttpEndpoint"))
    return instance


def _volume(ctx: Context, volume: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    if {"Size", "VolumeType", "Iops", "Throughput"} & set(changed):
        ctx.backend("ec2").modify_volume(volume.id, target_size=new.get("Size"),
                                         target_volume_type=new.get("VolumeType"), target_iops=new.get("Iops"),
                                         target_throughput=new.get("Throughput"))
    if "Tags" in changed:
        _ec2_tags(ctx, volume.id, old, new)
    return volume


def _permissions(rules: Any, key: str) -> list[dict[str, Any]]:
    out = []
    for rule in rules or []:
        peer = {"IpRanges": [{"CidrIp": rule["CidrIp"], **({"Description": rule["Description"]}
                                                          if rule.get("Description") else {})}]} \
            if rule.get("CidrIp") else {}
        group = rule.get("SourceSecurityGroupId" if key == "ingress" else "DestinationSecurityGroupId")
        if group:
            peer = {"UserIdGroupPairs": [{"GroupId": group}]}
        out.append({"IpProtocol": str(rule.get("IpProtocol")), "FromPort": rule.get("FromPort"),
                    "ToPort": rule.get("ToPort"), **peer})
    return out


def _security_group(ctx: Context, group: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    ec2 = ctx.backend("ec2")
    for prop, kind in (("SecurityGroupIngress", "ingress"), ("SecurityGroupEgress", "egress")):
        if prop not in changed:
            continue
        before, after = _permissions(old.get(prop), kind), _permissions(new.get(prop), kind)
        for rule in [r for r in before if r not in after]:
            _rule(ec2, kind, "revoke", group.id, rule)
        for rule in [r for r in after if r not in before]:
            _rule(ec2, kind, "authorize", group.id, rule)
    if "Tags" in changed:
        _ec2_tags(ctx, group.id, old, new)
    return group


def _rule(ec2: Any, kind: str, verb: str, group_id: str, rule: dict[str, Any]) -> None:
    method = getattr(ec2, f"{verb}_security_group_{kind}")
    method(group_id, rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"), rule.get("IpRanges", []),
           [{"GroupId": p["GroupId"]} for p in rule.get("UserIdGroupPairs", [])])


def _log_group(ctx: Context, group: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    logs = ctx.backend("logs")
    if "RetentionInDays" in changed:
        if new.get("RetentionInDays") is None:
            logs.delete_retention_policy(group.name)
        else:
            logs.put_retention_policy(group.name, int(new["RetentionInDays"]))
    if "KmsKeyId" in changed:
        group.kms_key_id = new.get("KmsKeyId")
    if "Tags" in changed:
        before, after = _tags(old), _tags(new)
        gone = [k for k in before if k not in after]
        if gone:
            logs.untag_log_group(group.name, gone)
        if after:
            logs.tag_log_group(group.name, after)
    return group


def _kms_key(ctx: Context, key: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    kms = ctx.backend("kms")
    if "Description" in changed:
        kms.update_key_description(key.id, new.get("Description", ""))
    if "EnableKeyRotation" in changed:
        if str(new.get("EnableKeyRotation", False)).lower() == "true":
            kms.enable_key_rotation(key.id)
        else:
            kms.disable_key_rotation(key.id)
    if "KeyPolicy" in changed and new.get("KeyPolicy") is not None:
        policy = new["KeyPolicy"]
        kms.put_key_policy(key.id, policy if isinstance(policy, str) else json.dumps(policy))
    if "Enabled" in changed:
        (kms.enable_key if str(new.get("Enabled", True)).lower() == "true" else kms.disable_key)(key.id)
    return key


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _role(ctx: Context, role: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    iam = ctx.backend("iam")
    if "AssumeRolePolicyDocument" in changed:
        iam.update_assume_role_policy(role.name, _document(new.get("AssumeRolePolicyDocument")))
    if {"Description", "MaxSessionDuration"} & set(changed):
        iam.update_role(role.name, new.get("Description", ""), int(new.get("MaxSessionDuration") or 3600))
    if "ManagedPolicyArns" in changed:
        before, after = set(old.get("ManagedPolicyArns") or []), set(new.get("ManagedPolicyArns") or [])
        for arn in sorted(before - after):
            iam.detach_role_policy(arn, role.name)
        for arn in sorted(after - before):
            from .resources import ensure_aws_managed_policy

            ensure_aws_managed_policy(iam, arn)
            iam.attach_role_policy(arn, role.name)
    if "Policies" in changed:
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in new.get("Policies") or []}
        for name in [p["PolicyName"] for p in old.get("Policies") or []]:
            if name not in wanted:
                iam.delete_role_policy(role.name, name)
        for name, document in wanted.items():
            iam.put_role_policy(role.name, name, _document(document))
    if "Tags" in changed:
        gone = [k for k in _tags(old) if k not in _tags(new)]
        if gone:
            iam.untag_role(role.name, gone)
        if new.get("Tags"):
            iam.tag_role(role.name, new["Tags"])
    return role


def _instance_profile(ctx: Context, profile: Any, old: dict[str, Any], new: dict[str, Any],
                      changed: list[str]) -> Any:
    iam = ctx.backend("iam")
    if "Roles" in changed:
        before, after = list(old.get("Roles") or []), list(new.get("Roles") or [])
        for name in [r for r in before if r not in after]:
            iam.remove_role_from_instance_profile(profile.name, name)
        for name in [r for r in after if r not in before]:
            iam.add_role_to_instance_profile(profile.name, name)
    return profile


def _managed_policy(ctx: Context, policy: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    iam = ctx.backend("iam")
    if "PolicyDocument" in changed:
        # CloudFormation keeps the policy's ARN and makes the new document its default version
        iam.create_policy_version(policy.arn, _document(new.get("PolicyDocument")), "true")
        for version in list(policy.versions)[:-1][:-3]:
            if not version.is_default:
                iam.delete_policy_version(policy.arn, version.version_id)
    for prop, attach, detach in (("Roles", "attach_role_policy", "detach_role_policy"),
                                 ("Groups", "attach_group_policy", "detach_group_policy"),
                                 ("Users", "attach_user_policy", "detach_user_policy")):
        if prop in changed:
            before, after = set(old.get(prop) or []), set(new.get(prop) or [])
            for name in sorted(before - after):
                getattr(iam, detach)(policy.arn, name)
            for name in sorted(after - before):
                getattr(iam, attach)(policy.arn, name)
    return policy


def _elbv2_tags(elbv2: Any, arn: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    gone = [k for k in _tags(old) if k not in _tags(new)]
    if gone:
        elbv2.remove_tags([arn], gone)
    if new.get("Tags"):
        elbv2.add_tags([arn], new["Tags"])


def _load_balancer(ctx: Context, balancer: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    elbv2 = ctx.backend("elbv2")
    if "SecurityGroups" in changed:
        elbv2.set_security_groups(balancer.arn, list(new.get("SecurityGroups") or []))
    if "Subnets" in changed:
        elbv2.set_subnets(balancer.arn, list(new.get("Subnets") or []), [])
    if "LoadBalancerAttributes" in changed:
        attributes = {a["Key"]: a["Value"] for a in new.get("LoadBalancerAttributes") or []}
        if attributes:
            elbv2.modify_load_balancer_attributes(balancer.arn, attributes)
    if "Tags" in changed:
        _elbv2_tags(elbv2, balancer.arn, old, new)
    return balancer


def _target_group(ctx: Context, group: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    elbv2 = ctx.backend("elbv2")
    health = {"HealthCheckProtocol": "health_check_proto", "HealthCheckPort": "health_check_port",
              "HealthCheckPath": "health_check_path", "HealthCheckIntervalSeconds": "health_check_interval",
              "HealthCheckTimeoutSeconds": "health_check_timeout", "HealthyThresholdCount": "healthy_threshold_count",
              "UnhealthyThresholdCount": "unhealthy_threshold_count", "HealthCheckEnabled": "health_check_enabled"}
    settings = {arg: new.get(prop) for prop, arg in health.items() if prop in changed}
    if "Matcher" in changed:
        settings["http_codes"] = (new.get("Matcher") or {}).get("HttpCode")
    if settings:
        elbv2.modify_target_group(group.arn, **settings)
    if "Targets" in changed:
        before, after = list(old.get("Targets") or []), list(new.get("Targets") or [])
        gone = [t for t in before if t not in after and t.get("Id") in group.targets]
        if gone:
            elbv2.deregister_targets(group.arn, gone)
        added = [t for t in after if t not in before]
        if added:
            elbv2.register_targets(group.arn, added)
    if "TargetGroupAttributes" in changed:
        attributes = {a["Key"]: a["Value"] for a in new.get("TargetGroupAttributes") or []}
        if attributes:
            elbv2.modify_target_group_attributes(group.arn, attributes)
    if "Tags" in changed:
        _elbv2_tags(elbv2, group.arn, old, new)
    return group


def _ingress(ctx: Context, rule: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str]) -> Any:
    """Only Description can change without replacement; moto keeps descriptions in the rule's ip ranges."""
    for ip_range in getattr(rule, "ip_ranges", None) or []:
        if isinstance(ip_range, dict) and "Description" in changed:
            ip_range["Description"] = new.get("Description")
    return rule


_UPDATERS: dict[str, Callable[[Context, Any, dict[str, Any], dict[str, Any], list[str]], Any]] = {
    "AWS::EC2::Instance": _instance,
    "AWS::EC2::Volume": _volume,
    "AWS::EC2::SecurityGroup": _security_group,
    "AWS::EC2::SecurityGroupIngress": _ingress,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::KMS::Key": _kms_key,
    "AWS::IAM::Role": _role,
    "AWS::IAM::InstanceProfile": _instance_profile,
    "AWS::IAM::ManagedPolicy": _managed_policy,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group,
}

def _volume_created(volume: Any, props: dict[str, Any]) -> None:
    """moto's AWS::EC2::Volume model passes only Size and AvailabilityZone to EC2: set the rest."""
    volume.encrypted = str(props.get("Encrypted", False)).lower() == "true"
    volume.kms_key_id = props.get("KmsKeyId") if volume.encrypted else None
    volume.volume_type = props.get("VolumeType") or volume.volume_type
    volume.iops, volume.throughput = props.get("Iops"), props.get("Throughput")


def _target_group_created(group: Any, props: dict[str, Any]) -> None:
    """moto's AWS::ElasticLoadBalancingV2::TargetGroup model does not register the template's Targets."""
    missing = [t for t in props.get("Targets") or [] if t.get("Id") not in group.targets]
    if missing:
        group.register(missing)


def _load_balancer_created(balancer: Any, props: dict[str, Any]) -> None:
    """moto's AWS::ElasticLoadBalancingV2::LoadBalancer model ignores LoadBalancerAttributes (deletion
    protection, access logs, ...): set them, as ModifyLoadBalancerAttributes does (keys moto does not know
    are left out)."""
    attributes = {a["Key"]: str(a["Value"]) for a in props.get("LoadBalancerAttributes") or []}
    balancer.attrs.update({k: v for k, v in attributes.items() if k in type(balancer).VALID_ATTRS})


def _role_created(role: Any, props: dict[str, Any]) -> None:
    """moto's AWS::IAM::Role model does not attach the role's ManagedPolicyArns: attach them (an update
    detaching one would fail otherwise)."""
    from moto.iam.models import iam_backends

    from .resources import ensure_aws_managed_policy

    iam = iam_backends[role.account_id][role.partition]
    for arn in props.get("ManagedPolicyArns") or []:
        if arn not in role.managed_policies:
            ensure_aws_managed_policy(iam, arn)
            iam.attach_role_policy(arn, role.name)


# what moto's create leaves out, set on the new model object from the resolved properties
AFTER_CREATE: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "AWS::EC2::Volume": _volume_created, "AWS::ElasticLoadBalancingV2::TargetGroup": _target_group_created,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _load_balancer_created, "AWS::IAM::Role": _role_created}


def _delete_ingress(ec2: Any, rule: Any, props: dict[str, Any]) -> None:
    ranges = [{"CidrIp": props["CidrIp"], **({"Description": props["Description"]} if props.get("Description") else {})}] \
        if props.get("CidrIp") else []
    groups = [{"GroupId": props["SourceSecurityGroupId"]}] if props.get("SourceSecurityGroupId") else []
    ec2.revoke_security_group_ingress(props["GroupId"], str(props.get("IpProtocol")), props.get("FromPort"),
                                      props.get("ToPort"), ranges, groups)


def _delete_attachment(ec2: Any, attachment: Any, props: dict[str, Any]) -> None:
    volume = ec2.volumes.get(props.get("VolumeId"))
    current = getattr(volume, "attachment", None)
    if current is not None and getattr(current.instance, "id", None) == props.get("InstanceId"):
        ec2.detach_volume(props["VolumeId"], props["InstanceId"], props.get("Device"))
    # else the attachment is gone already (its instance or volume was deleted): nothing left to delete


# Types whose moto model deletes nothing (no delete method): how CloudFormation's delete is done here.
# Each gets (backend, model object, resolved properties).
_DELETERS: dict[str, tuple[str, Callable[[Any, Any, dict[str, Any]], None]]] = {
    "AWS::EC2::SecurityGroupIngress": ("ec2", _delete_ingress),
    "AWS::EC2::VolumeAttachment": ("ec2", _delete_attachment),
    "AWS::EC2::Volume": ("ec2", lambda ec2, volume, _p: ec2.delete_volume(volume.id)),
    "AWS::ElasticLoadBalancingV2::Listener": ("elbv2", lambda elbv2, listener, _p: elbv2.delete_listener(listener.arn)),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("elbv2", lambda elbv2, group, _p: elbv2.delete_target_group(group.arn)),
    "AWS::IAM::ManagedPolicy": ("iam", lambda iam, policy, _p: iam.delete_policy(policy.arn)),
}


def delete(kind: str, instance: Any, props: dict[str, Any], account_id: str, region_name: str) -> bool:
    """Delete ``instance`` when moto's model cannot; False when moto's own delete is to be used."""
    entry = _DELETERS.get(kind)
    if entry is None:
        return False
    service, deleter = entry
    deleter(Context("", None, account_id, region_name).backend(service), instance, props)
    return True


def created(kind: str, instance: Any, props: dict[str, Any]) -> None:
    hook = AFTER_CREATE.get(kind)
    if hook is not None and instance is not None:
        hook(instance, props)


# moto's own update keeps the physical id for these (in place, or the same name re-created)
_MOTO_IN_PLACE = {"AWS::ElasticLoadBalancingV2::Listener", "AWS::KMS::Alias", "AWS::SSM::Parameter",
                  "AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::Events::Rule", "AWS::Route53::RecordSet",
                  "AWS::IAM::Group", "AWS::EC2::SecurityGroupEgress"}


def apply(kind: str, logical_id: str, instance: Any, old: dict[str, Any], new: dict[str, Any], changed: list[str],
          rmap: Any, account_id: str, region_name: str) -> Any:
    """Update ``instance`` in place from ``old`` to ``new`` properties; the (possibly new) model object."""
    updater = _UPDATERS.get(kind)
    if updater is not None:
        return updater(Context(logical_id, rmap, account_id, region_name), instance, old, new, changed)
    if kind in _MOTO_IN_PLACE:
        resource_json = dict(rmap._resource_json_map[logical_id], Properties=new)
        return parse_and_update_resource(logical_id, resource_json, rmap, account_id=account_id,
                                         region_name=region_name)
    return instance
