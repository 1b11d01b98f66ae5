"""``AWS::EC2::Instance`` for the local endpoint: moto's, with its ``NetworkInterfaces`` honoured.

moto's model reads only the top-level ``SubnetId`` and ``SecurityGroups``, so an instance whose subnet and
security groups are given in its network interface, as CloudFormation requires once ``NetworkInterfaces`` is
set ("If you specify a network interface, you must specify any subnets as part of the network interface",
*AWS::EC2::Instance*, SubnetId, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-instance.html),
landed in a default subnet with no group.  Here each interface (``DeviceIndex``, ``SubnetId``, ``GroupSet``,
``AssociatePublicIpAddress``, ``DeleteOnTermination``) is passed to EC2's RunInstances as moto's API does
for ``--network-interfaces``.
"""

from __future__ import annotations

from typing import Any


def _nics(properties: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for nic in properties.get("NetworkInterfaces") or []:
        spec = {"DeviceIndex": int(nic.get("DeviceIndex", 0))}
        for key in ("SubnetId", "NetworkInterfaceId", "PrivateIpAddress", "Description"):
            if nic.get(key):
                spec[key] = nic[key]
        if nic.get("GroupSet"):
            spec["Groups"] = list(nic["GroupSet"])
        for key in ("AssociatePublicIpAddress", "DeleteOnTermination"):
            if key in nic:
                spec[key] = str(nic[key]).lower() == "true"
        out.append(spec)
    return out


def register() -> None:
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.instances import Instance

    moto_create = Instance.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    if getattr(moto_create, "honours_interfaces", False):
        return

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        nics = _nics(properties)
        if not nics or properties.get("SubnetId"):
            return moto_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = ec2_backends[account_id][region_name]
        primary = next((n for n in nics if n["DeviceIndex"] == 0), {})
        groups = primary.pop("Groups", [])  # the instance's groups are its primary interface's (as EC2 reports)
        reservation = backend.run_instances(
            image_id=properties["ImageId"], user_data=properties.get("UserData"), count=1, security_group_names=[],
            security_group_ids=groups, instance_type=properties.get("InstanceType", "m1.small"),
            is_instance_type_default=not properties.get("InstanceType"), key_name=properties.get("KeyName"),
            block_device_mappings=properties.get("BlockDeviceMappings", {}), nics=nics)
        instance = reservation.instances[0]
        for tag in properties.get("Tags", []):
            instance.add_tag(tag["Key"], tag["Value"])
        if properties.get("IamInstanceProfile"):
            backend.associate_iam_instance_profile(instance_id=instance.id,
                                                   iam_instance_profile_name=properties["IamInstanceProfile"])
        return instance

    create_from_cloudformation_json.honours_interfaces = True  # type: ignore[attr-defined]
    Instance.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]
