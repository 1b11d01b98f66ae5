"""Compute building blocks: a private, IMDSv2-only, monitored instance with encrypted volumes and a
least-privilege instance profile.

- ``instance`` always encrypts its root volume with a KMS key, requires IMDSv2, enables detailed
  monitoring, is EBS-optimized and never gets a public IP (its one network interface has
  ``AssociatePublicIpAddress: false``).
- ``encrypted_volume`` is a KMS-encrypted data volume that leaves a final snapshot when deleted or replaced.
- ``instance_role`` lives under an IAM path (the catalog's launch role may only pass roles under it) and
  carries managed policies only.
- The bootstrap (``AWS::CloudFormation::Init``) is in ``generator.blocks.bootstrap``; ``user_data`` only runs
  cfn-init and reports its exit code to a ``bootstrap_signal`` wait condition, whose CreationPolicy fails the
  launch when the bootstrap fails or times out.  The signal is a separate wait condition, not the
  instance's own CreationPolicy, because a data volume attached with ``AWS::EC2::VolumeAttachment`` can only
  be attached once the instance resource is complete, and the bootstrap has to wait for that volume.
"""

from __future__ import annotations

from typing import Sequence

from troposphere import AWSHelperFn, Base64, GetAtt, If, NoValue, Ref, Select, Split, Sub, ec2, iam
from troposphere.cloudformation import WaitCondition
from troposphere.policies import CreationPolicy, ResourceSignal

from generator.blocks.catalog import guard_suppressed
from generator.blocks.iam import managed_policy, service_trust, statement

ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023's root device name
BOOTSTRAP_SCRIPT = """#!/bin/bash
# Everything this server runs is declared in the ${Instance} resource's AWS::CloudFormation::Init metadata;
# this only runs cfn-init and reports its result (a failed or missing signal fails the launch).
dnf install -y aws-cfn-bootstrap
/opt/aws/bin/cfn-init -v --stack ${AWS::StackName} --resource ${Instance} --configsets ${ConfigSet} --region ${AWS::Region}
/opt/aws/bin/cfn-signal -e $? --stack ${AWS::StackName} --resource ${Signal} --region ${AWS::Region}
"""


def codecommit_repo_arn(clone_url) -> Sub:
    """The ARN of the repository named by a ``cloneUrlHttp`` value, computed inside the template:
    ``https://git-codecommit.<region>.amazonaws.com/v1/repos/<name>`` split on ``/`` gives the host (item 2)
    and the name (item 5); the host split on ``.`` gives the region (item 1)."""
    parts = Split("/", clone_url)
    return Sub("arn:${AWS::Partition}:codecommit:${RepoRegion}:${AWS::AccountId}:${RepoName}",
               RepoRegion=Select(1, Split(".", Select(2, parts))), RepoName=Select(5, parts))


def git_pull_policy(logical_id: str, repo_arn, *, path: str) -> iam.ManagedPolicy:
    """Only ``codecommit:GitPull`` on one repository."""
    return managed_policy(logical_id, "Clone and pull the one CodeCommit repository this server serves",
                          [statement("GitPullOneRepository", ["codecommit:GitPull"], repo_arn)], path=path)


def instance_role(logical_id: str, *, path: str, managed_policy_arns: Sequence, tags=None) -> iam.Role:
    kwargs = {"AssumeRolePolicyDocument": service_trust("ec2.amazonaws.com"), "Path": path,
              "ManagedPolicyArns": list(managed_policy_arns),
              "Description": "Instance role: pull one CodeCommit repository, SSM Session Manager, CloudWatch agent"}
    if tags is not None:
        kwargs["Tags"] = tags
    return iam.Role(logical_id, **kwargs)


def instance_profile(logical_id: str, role: iam.Role, *, path: str) -> iam.InstanceProfile:
    return iam.InstanceProfile(logical_id, Path=path, Roles=[Ref(role)])


def encrypted_root(kms_key_arn, size_gib: int) -> ec2.BlockDeviceMapping:
    """The root volume: gp3, encrypted with ``kms_key_arn`` (a key ARN, or an alias such as ``alias/aws/ebs``),
    deleted with the instance."""
    return ec2.BlockDeviceMapping(DeviceName=ROOT_DEVICE, Ebs=ec2.EbsBlockDevice(
        Encrypted=True, KmsKeyId=kms_key_arn, VolumeType="gp3", VolumeSize=size_gib, DeleteOnTermination=True))


def private_interface(subnet_id, security_group_ids: list) -> ec2.NetworkInterfaceProperty:
    """The instance's only network interface: in ``subnet_id`` (a private subnet), no public IP."""
    return ec2.NetworkInterfaceProperty(DeviceIndex="0", SubnetId=subnet_id, GroupSet=security_group_ids,
                                        AssociatePublicIpAddress=False, DeleteOnTermination=True)


def user_data(instance_id: str, signal_id: str, config_set: str) -> Base64:
    return Base64(Sub(BOOTSTRAP_SCRIPT, Instance=instance_id, Signal=signal_id, ConfigSet=config_set))


def instance(logical_id: str, *, image_id, instance_type, interface: ec2.NetworkInterfaceProperty,
             root: ec2.BlockDeviceMapping, profile: iam.InstanceProfile, user_data_script: AWSHelperFn,
             key_name=None, key_condition: str | None = None, metadata: dict | None = None,
             tags=None) -> ec2.Instance:
    """A private instance: IMDSv2 only (one hop), detailed monitoring, EBS-optimized, encrypted root, no
    public IP.  ``key_name`` is only set where ``key_condition`` holds.

    ``EbsOptimized: true`` costs nothing: the product offers only types that are EBS-optimized by default
    (``generator.blocks.instance_types.ebs_optimized_by_default``), and it satisfies the Guard registry rule
    EBS_OPTIMIZED_INSTANCE.  The subnet is given in the network interface, as CloudFormation requires once
    ``NetworkInterfaces`` is set ("If you specify a network interface, you must specify any subnets as part of
    the network interface", CloudFormation User Guide, AWS::EC2::Instance, SubnetId,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-instance.html); the Guard
    registry rule EC2_INSTANCES_IN_VPC reads only the top-level SubnetId, so it is suppressed with that reason.
    """
    kwargs = {
        "ImageId": image_id,
        "InstanceType": instance_type,
        "IamInstanceProfile": Ref(profile),
        "NetworkInterfaces": [interface],
        "BlockDeviceMappings": [root],
        "MetadataOptions": ec2.MetadataOptions(HttpTokens="required", HttpEndpoint="enabled",
                                               HttpPutResponseHopLimit=1),
        "Monitoring": True,
        "EbsOptimized": True,
        "PropagateTagsToVolumeOnCreation": True,
        "UserData": user_data_script,
    }
    if key_name is not None:
        kwargs["KeyName"] = key_name if key_condition is None else If(key_condition, key_name, NoValue)
    if metadata is not None:
        kwargs["Metadata"] = metadata
    if tags is not None:
        kwargs["Tags"] = tags
    return guard_suppressed(ec2.Instance(logical_id, **kwargs), ("EC2_INSTANCES_IN_VPC", (
        "the instance is in a VPC subnet: its only network interface sets SubnetId, as CloudFormation requires "
        "when NetworkInterfaces is given; the rule reads only the top-level SubnetId (HIPAA rule E9302 checks "
        "the interface's subnet)")))


def encrypted_volume(logical_id: str, *, availability_zone, size_gib: int, kms_key_arn, tags=None,
                     condition: str | None = None) -> ec2.Volume:
    """A gp3 data volume encrypted with ``kms_key_arn``; a final snapshot is kept when it is deleted."""
    kwargs = {"AvailabilityZone": availability_zone, "Size": size_gib, "VolumeType": "gp3", "Encrypted": True,
              "KmsKeyId": kms_key_arn}
    if tags is not None:
        kwargs["Tags"] = tags
    if condition:
        kwargs["Condition"] = condition
    volume = ec2.Volume(logical_id, **kwargs)
    volume.DeletionPolicy = "Snapshot"
    volume.UpdateReplacePolicy = "Snapshot"
    return volume


def volume_attachment(logical_id: str, instance_: ec2.Instance, volume: ec2.Volume, device: str, *,
                      condition: str | None = None) -> ec2.VolumeAttachment:
    kwargs = {"InstanceId": Ref(instance_), "VolumeId": Ref(volume), "Device": device}
    if condition:
        kwargs["Condition"] = condition
    return ec2.VolumeAttachment(logical_id, **kwargs)


def bootstrap_signal(logical_id: str, instance_: ec2.Instance, *, timeout_minutes: int) -> WaitCondition:
    """Completes when the instance's bootstrap signals success; fails the launch on failure or timeout."""
    return WaitCondition(logical_id, DependsOn=[instance_.title], CreationPolicy=CreationPolicy(
        ResourceSignal=ResourceSignal(Count=1, Timeout=f"PT{timeout_minutes}M")))


def availability_zone(instance_: ec2.Instance) -> GetAtt:
    return GetAtt(instance_, "AvailabilityZone")
