"""Compute building blocks: a private, IMDSv2-only, monitored instance with encrypted volumes and a
least-privilege instance profile.

- ``instance`` always encrypts its root volume with a KMS key, requires IMDSv2, enables detailed
  monitoring, is EBS-optimized and never gets a public IP (its one network interface has
  ``AssociatePublicIpAddress: false``).  Its CreationPolicy waits for the bootstrap's signal, so a failed
  or timed-out bootstrap fails the launch, and an instance that replaces another during an update must
  signal too before the update goes on.
- ``encrypted_volume`` is a KMS-encrypted data volume that leaves a final snapshot (or stays) when it is
  deleted or replaced.  It is attached by the instance itself (``volume_attach_policy``): there is no
  ``AWS::EC2::VolumeAttachment`` to detach a mounted volume when the stack is deleted.
- ``instance_role`` lives under an IAM path (the catalog's launch role may only pass roles under it) and
  carries managed policies only.
- The bootstrap (``AWS::CloudFormation::Init``) is in ``generator.blocks.bootstrap``; ``user_data`` only runs
  cfn-init and reports its exit code to the instance's CreationPolicy with cfn-signal ("you can add a
  CreationPolicy attribute to the instance, and then send a success signal to the instance after the
  applications are installed and configured", *CreationPolicy attribute*, AWS CloudFormation User Guide,
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-creationpolicy.html).
"""

from __future__ import annotations

from typing import Sequence

from awacs.aws import Condition, StringEquals
from troposphere import AWSHelperFn, Base64, If, NoValue, Ref, Select, Split, Sub, ec2, iam
from troposphere.policies import CreationPolicy, ResourceSignal

from generator.blocks.catalog import guard_suppressed
from generator.blocks.iam import managed_policy, service_trust, statement

ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023's root device name
VOLUME_DELETION_POLICIES = ("Snapshot", "Retain")
BOOTSTRAP_SCRIPT = """#!/bin/bash
# Everything this server runs is declared in the ${Instance} resource's AWS::CloudFormation::Init metadata;
# this only runs cfn-init and reports its result (a failed or missing signal fails the launch).
dnf install -y aws-cfn-bootstrap
/opt/aws/bin/cfn-init -v --stack ${AWS::StackName} --resource ${Instance} --configsets ${ConfigSet} --region ${AWS::Region}
/opt/aws/bin/cfn-signal -e $? --stack ${AWS::StackName} --resource ${Instance} --region ${AWS::Region}
"""
# The key CloudFormation tags the resources of a stack with ("CloudFormation automatically creates the
# following stack-level tags ... aws:cloudformation:stack-id", *Resource tag*, AWS CloudFormation User Guide,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html).
STACK_ID_TAG = "aws:cloudformation:stack-id"


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


def volume_attach_policy(logical_id: str, volume, *, path: str, condition: str | None = None) -> iam.ManagedPolicy:
    """Attach ``volume`` (and no other) to an instance of this stack (and no other), and read volume states.

    AttachVolume names two resources, the instance and the volume, so each gets its statement, as in AWS's
    example "Attach and detach volumes" (*Example policies for working with the AWS CLI or an AWS SDK*,
    Amazon EC2 User Guide, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html);
    DescribeVolumes has no resource type, so it takes ``*``."""
    volume_arn = Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/${Volume}", Volume=Ref(volume))
    instances = Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*")
    return managed_policy(logical_id, "Attach this stack's PHI volume to this stack's instance", [
        statement("AttachThisVolume", ["ec2:AttachVolume"], volume_arn),
        statement("ToThisStacksInstance", ["ec2:AttachVolume"], instances,
                  condition=Condition(StringEquals(f"aws:ResourceTag/{STACK_ID_TAG}", Ref("AWS::StackId")))),
        statement("SeeWhetherTheVolumeIsFree", ["ec2:DescribeVolumes"], "*"),
    ], path=path, condition=condition)


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


def user_data(instance_id: str, config_set: str) -> Base64:
    return Base64(Sub(BOOTSTRAP_SCRIPT, Instance=instance_id, ConfigSet=config_set))


def instance(logical_id: str, *, image_id, instance_type, interface: ec2.NetworkInterfaceProperty,
             root: ec2.BlockDeviceMapping, profile: iam.InstanceProfile, user_data_script: AWSHelperFn,
             bootstrap_timeout_minutes: int, key_name=None, key_condition: str | None = None,
             metadata: dict | None = None, tags=None) -> ec2.Instance:
    """A private instance: IMDSv2 only (one hop), detailed monitoring, EBS-optimized, encrypted root, no
    public IP, created only once its bootstrap signals success within ``bootstrap_timeout_minutes``.
    ``key_name`` is only set where ``key_condition`` holds.

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
    created = ec2.Instance(logical_id, **kwargs)
    created.CreationPolicy = CreationPolicy(ResourceSignal=ResourceSignal(
        Count=1, Timeout=f"PT{bootstrap_timeout_minutes}M"))
    return guard_suppressed(created, ("EC2_INSTANCES_IN_VPC", (
        "the instance is in a VPC subnet: its only network interface sets SubnetId, as CloudFormation requires "
        "when NetworkInterfaces is given; the rule reads only the top-level SubnetId (HIPAA rule E9302 checks "
        "the interface's subnet)")))


def encrypted_volume(logical_id: str, *, availability_zone, size_gib: int, kms_key_arn, deletion_policy: str,
                     tags=None, condition: str | None = None) -> ec2.Volume:
    """A gp3 data volume encrypted with ``kms_key_arn``; when it is deleted or replaced, CloudFormation
    keeps a final snapshot (``deletion_policy`` ``Snapshot``: "For resources that support snapshots, such as
    AWS::EC2::Volume, specify Snapshot to have CloudFormation create a snapshot before deleting the
    resource", *DeletionPolicy attribute*, AWS CloudFormation User Guide,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html) or
    the volume itself (``Retain``)."""
    if deletion_policy not in VOLUME_DELETION_POLICIES:
        raise ValueError(f"volume {logical_id}: deletion_policy {deletion_policy!r}; allowed: "
                         + ", ".join(VOLUME_DELETION_POLICIES))
    kwargs = {"AvailabilityZone": availability_zone, "Size": size_gib, "VolumeType": "gp3", "Encrypted": True,
              "KmsKeyId": kms_key_arn}
    if tags is not None:
        kwargs["Tags"] = tags
    if condition:
        kwargs["Condition"] = condition
    volume = ec2.Volume(logical_id, **kwargs)
    volume.DeletionPolicy = deletion_policy
    volume.UpdateReplacePolicy = deletion_policy
    return volume
