"""What CloudFormation asks IAM for when it creates, reads, updates or deletes a resource.

One description of the AWS behaviour, used twice: ``generator.blocks.permissions`` derives the launch
role from it, and the local endpoint (``generator.devtools.local_aws.iam``) turns it into the
authorization requests it evaluates against the launch role while it provisions.  The endpoint adds
what only a running account knows (ARNs, tags, whether a service-linked role exists) and judges the
requests with its own policy evaluator, so a role that misses something fails there.

Sources:

* **Handler permissions**: cfn-lint's bundled copies of the CloudFormation resource provider schemas
  (``cfnlint/data/schemas``: a region file maps each type to a schema).  The schema README of
  aws-cloudformation/cloudformation-resource-schema: "For each handler, you should define a list of API
  ``permissions`` required to perform the operation."  When CloudFormation calls which handler is in
  *Developing resource types* (https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-develop.html):
  "``read``: CloudFormation invokes this handler as part of a stack update operation when detailed
  information about the resource's current state is required" (create, update and delete: their stack
  operations).  By default CloudFormation acts "from your user credentials" (*CloudFormation service
  role*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html):
  under a launch constraint the user is the launch role's session.
* **Which resource each action is authorized on**: cfn-lint's ``Policies.json`` (the *Service
  Authorization Reference*: each action's resource types, each type's ARN format and condition keys).
* A handler's list is the union of what all its code paths call.  Actions only some properties need
  are gated on those properties (``FEATURES``, each from the property's description on the resource
  type's page of the *AWS resource and property types reference*); those only a ``Snapshot`` deletion
  policy calls on that policy (``SNAPSHOT_ON_DELETE``).  What a property merely points at (an alias
  target) is no target (``POINTERS``); condition keys some services take from the resource's properties
  (a DNS record's name and type) are ``RESOURCE_KEYS``.  Four kinds of request are not
  taken from the lists but modelled from the service's documentation (tables below): ``iam:PassRole``
  (``PASSED_ROLES``), ``iam:CreateServiceLinkedRole`` (``SERVICE_LINKED_ROLES``), a service's use of a
  customer managed KMS key on the caller's behalf (``KEY_USE``), and tagging on create
  (``TAG_ON_CREATE``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

from generator.errors import BuildError
from generator.toolinfo import cfn_lint_data, cfn_lint_version

CFN_LINT_VERSION = cfn_lint_version()
DATA = cfn_lint_data()   # found without importing cfnlint (about a second: a cached build does not pay it)
SCHEMAS = DATA / "schemas"
POLICIES = DATA / "AdditionalSpecs" / "Policies.json"
OPERATIONS = ("create", "read", "update", "delete")
ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+\*?$")
READ_ONLY = re.compile(r"^(Describe|List|Get|Head|BatchGet|Search|Lookup|Query|Scan|Select|View|Check|Validate|"
                       r"Estimate|Preview|Simulate|Filter|Test)")
# Services whose API is global: IAM authorizes their calls in us-east-1 whatever the stack's region.
GLOBAL_SERVICES = frozenset({"iam", "sts", "cloudfront", "route53", "organizations", "waf", "globalaccelerator"})
GLOBAL_REGION = "us-east-1"


# ------------------------------------------------------------------------------------ provider data

@functools.lru_cache(maxsize=None)
def _region_index(region: str) -> Mapping[str, str]:
    path = SCHEMAS / "providers" / f"{region}.json"
    if not path.is_file():
        path = SCHEMAS / "providers" / "us-east-1.json"
    return json.loads(path.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def _schema_file(digest: str) -> Mapping:
    return json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text(encoding="utf-8"))


def schema(resource_type: str, regions: Sequence[str] = ("us-east-1",)) -> Mapping:
    """The provider schema of ``resource_type`` in the first of ``regions`` that has one ({} if none)."""
    for region in regions:
        digest = _region_index(region).get(resource_type)
        if digest:
            return _schema_file(digest)
    return {}


@functools.lru_cache(maxsize=1)
def iam_reference() -> Mapping:
    return json.loads(POLICIES.read_text(encoding="utf-8"))


def normalise(action: str) -> str:
    """``EC2:RunInstances`` -> ``ec2:RunInstances`` (IAM prefixes are case-insensitive; we write them lower)."""
    prefix, _, name = action.strip().partition(":")
    return f"{prefix.lower()}:{name}"


def is_read_only(action: str) -> bool:
    return bool(READ_ONLY.match(action.partition(":")[2]))


def is_known(action: str) -> bool:
    """Whether IAM defines ``action`` (a ``Prefix*`` wildcard: whether it matches a defined action)."""
    prefix, _, name = action.partition(":")
    defined = iam_reference().get(prefix, {}).get("Actions", {})
    if name.endswith("*"):
        return any(a.startswith(name[:-1].lower()) for a in defined)
    return name.lower() in defined


def resource_types_of(action: str) -> list[str]:
    """IAM resource types ``action`` is authorized on, lower-case ([]: Resource ``*`` only, or unknown)."""
    prefix, _, name = action.partition(":")
    if name.endswith("*"):
        return []
    entry = iam_reference().get(prefix, {}).get("Actions", {}).get(name.lower(), {})
    return [r.lower() for r in entry.get("Resources", [])]


def iam_resource(prefix: str, iam_type: str) -> Mapping:
    """``{"ARNFormats": [...], "ConditionKeys": [...]}`` of an IAM resource type ({} if unknown)."""
    return iam_reference().get(prefix, {}).get("Resources", {}).get(iam_type.lower(), {})


def taggable(prefix: str, iam_type: str) -> bool:
    """Whether IAM evaluates ``aws:ResourceTag`` for this resource type (its condition keys list it)."""
    return "aws:ResourceTag/${TagKey}" in iam_resource(prefix, iam_type).get("ConditionKeys", [])


def handler_actions(resource_type: str, op: str, regions: Sequence[str] = ("us-east-1",)) -> list[str]:
    """The ``op`` handler permissions of ``resource_type`` in any of ``regions``: normalised, IAM-defined,
    de-duplicated (case-insensitively), in schema order.

    Entries that are not IAM actions (schema typos such as ``s3:REST.PUT.OBJECT``, actions IAM does not
    define such as ``backup-storage:Mount``) are dropped; a full-service wildcard (``svc:*``) is an error,
    since the launch role must never hold one; a type without a schema is an error."""
    found: dict[str, str] = {}
    known = False
    for region in regions:
        digest = _region_index(region).get(resource_type)
        if digest is None:
            continue
        known = True
        for perm in _schema_file(digest).get("handlers", {}).get(op, {}).get("permissions", []):
            action = normalise(perm)
            if action.endswith(":*"):
                raise BuildError(f"resource type {resource_type}: its provider schema's {op} handler needs "
                                 f"{action}, a full-service wildcard the launch role must not hold; "
                                 "allowed: specific actions (choose another resource type)")
            if ACTION.match(action) and is_known(action):
                found.setdefault(action.lower(), action)
    if not known:
        raise BuildError(f"resource type {resource_type}: no provider schema in cfn-lint {CFN_LINT_VERSION} "
                         f"for regions {', '.join(regions)}; allowed: types CloudFormation supports there")
    return list(found.values())


def service_of(resource_type: str) -> str:
    """``AWS::EC2::Volume`` -> ``ec2``: the service prefix of a resource type's own API."""
    namespace = resource_type.split("::")[1]
    return SERVICE_PREFIXES.get(namespace, namespace.lower())


SERVICE_PREFIXES = {"ElasticLoadBalancingV2": "elasticloadbalancing", "CertificateManager": "acm",
                    "Logs": "logs", "CloudWatch": "cloudwatch"}


# ------------------------------------------------------------------- resources and their identifiers

# The IAM resource type a CloudFormation resource *is* (ARN formats in Policies.json), where it is one.
# Types not listed are matched by name (``AWS::Logs::LogGroup`` -> ``log-group``); a type that is no IAM
# resource of its own (a security group rule, a volume attachment, a backup selection, a DNS record) has
# None: its actions are authorized on the resources it names.
OWN_TYPES: dict[str, str | None] = {
    "AWS::EC2::SecurityGroupIngress": None, "AWS::EC2::SecurityGroupEgress": None,
    "AWS::EC2::VolumeAttachment": None, "AWS::Backup::BackupSelection": None, "AWS::Route53::RecordSet": None,
    "AWS::IAM::ManagedPolicy": "policy", "AWS::ElasticLoadBalancingV2::LoadBalancer": "loadbalancer/app/",
    "AWS::ElasticLoadBalancingV2::Listener": "listener/app", "AWS::CloudFormation::WaitCondition": None,
    "AWS::CloudFormation::WaitConditionHandle": None,
}


def own_type(resource_type: str) -> str | None:
    if resource_type in OWN_TYPES:
        return OWN_TYPES[resource_type]
    name = re.sub(r"[^a-z0-9]", "", resource_type.split("::")[-1].lower())
    for iam_type in iam_reference().get(service_of(resource_type), {}).get("Resources", {}):
        if re.sub(r"[^a-z0-9]", "", iam_type) == name:
            return iam_type
    return None


# Property names that name another resource an action is authorized on, wherever they appear in a
# resource's properties: the service, the IAM resource type and how the value names it (an id, an ARN or
# a name).  A security group rule's peer (SourceSecurityGroupId, DestinationSecurityGroupId) is not one:
# the rule changes only the group it belongs to.
IDENTIFIERS: dict[str, tuple[str, str, str]] = {
    "VpcId": ("ec2", "vpc", "id"),
    "SubnetId": ("ec2", "subnet", "id"), "Subnets": ("ec2", "subnet", "id"), "SubnetIds": ("ec2", "subnet", "id"),
    "GroupId": ("ec2", "security-group", "id"), "GroupSet": ("ec2", "security-group", "id"),
    "SecurityGroupIds": ("ec2", "security-group", "id"), "SecurityGroups": ("ec2", "security-group", "id"),
    "InstanceId": ("ec2", "instance", "id"), "VolumeId": ("ec2", "volume", "id"),
    "ImageId": ("ec2", "image", "id"), "KeyName": ("ec2", "key-pair", "name"),
    "LoadBalancerArn": ("elasticloadbalancing", "loadbalancer/app/", "arn"),
    "TargetGroupArn": ("elasticloadbalancing", "targetgroup", "arn"),
    "ListenerArn": ("elasticloadbalancing", "listener/app", "arn"),
    "TargetKeyId": ("kms", "key", "id"),
    "Roles": ("iam", "role", "name"), "IamRoleArn": ("iam", "role", "arn"),
    "BackupPlanId": ("backup", "backupplan", "id"),
    "HostedZoneId": ("route53", "hostedzone", "id"),
}


@dataclass(frozen=True)
class Target:
    """A resource an action is authorized on.  ``origin``: ``self`` (the resource of the operation),
    ``property`` (named by property ``prop`` with ``value``, as given: raw template or resolved),
    ``slr`` (a service-linked role: ``value`` is (service, role name)), ``new`` (a resource the action
    creates besides the one of the operation, such as a final snapshot: no id yet, no tags) or
    ``unresolved`` (the action has resource types but none this operation names: the IAM type's
    account-wide ARN)."""

    prefix: str
    iam_type: str
    origin: str
    value: Any = None
    prop: str = ""
    kind: str = "id"


@dataclass(frozen=True)
class Need:
    """One authorization request CloudFormation (or the service it calls) makes for a resource operation.

    ``targets`` () means Resource ``*``.  ``new``: the operation creates the ``self`` target, so it has no
    tags yet (``aws:RequestTag`` instead of ``aws:ResourceTag``).  ``context`` adds condition keys
    (values may hold ``{partition}``, ``{account}``, ``{region}``).  ``why`` is one of ``handler``,
    ``pass-role``, ``service-linked-role``, ``key-use``; ``service`` the service principal or endpoint
    prefix for the last three."""

    action: str
    targets: tuple[Target, ...]
    new: bool = False
    context: tuple[tuple[str, Any], ...] = ()
    why: str = "handler"
    service: str = ""
    resource_keys: tuple[tuple[str, Any], ...] = ()   # condition keys from the resource's properties (as given)


# Properties that say what a resource points at, not which resources its handlers act on: nothing in
# them is an authorization target.  A Route 53 alias record's AliasTarget.HostedZoneId is the hosted zone
# of the load balancer it aliases ("ELB load balancer - Specify the value of the hosted zone ID for the
# load balancer ... Get CanonicalHostedZoneID", *AWS::Route53::RecordSet AliasTarget*,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-route53-aliastarget.html),
# an AWS-owned zone; ChangeResourceRecordSets is authorized on the zone the record is in, the record's own
# HostedZoneId ("ChangeResourceRecordSets ... Resources: arn:aws:route53:::hostedzone/hosted zone ID",
# *Amazon Route 53 API permissions: Actions, resources, and conditions reference*,
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/r53-api-permissions-ref.html).
POINTERS: dict[str, tuple[str, ...]] = {"AWS::Route53::RecordSet": ("AliasTarget",)}


def identifiers(props: Any, skip: Sequence[str] = ()) -> Iterator[tuple[str, Any]]:
    """``(property name, value)`` for every ``IDENTIFIERS`` property anywhere in ``props`` outside the
    properties named in ``skip`` (a list value gives one pair per item)."""
    if isinstance(props, Mapping):
        for key, value in props.items():
            if key in skip:
                continue
            if key in IDENTIFIERS:
                for item in value if isinstance(value, list) else [value]:
                    yield key, item
            elif isinstance(value, (Mapping, list)):
                yield from identifiers(value, skip)
    elif isinstance(props, list):
        for item in props:
            yield from identifiers(item, skip)


def has_key(props: Any, key: str) -> bool:
    """Whether ``key`` is a property name anywhere in ``props``."""
    if isinstance(props, Mapping):
        return key in props or any(has_key(v, key) for v in props.values())
    if isinstance(props, list):
        return any(has_key(v, key) for v in props)
    return False


# ------------------------------------------------------------------------------- the modelled requests

# Handler actions needed only when one of these properties is set (each is what the property does,
# per its description on the type's page of the AWS resource and property types reference,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html).
# A name starting with "**" is looked for at any depth.
FEATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "AWS::Logs::LogGroup": {
        # DataProtectionPolicy: "Creates a data protection policy and assigns it to the log group"; its
        # audit findings go to a delivery destination (CloudWatch Logs, Firehose, S3).
        "logs:GetDataProtectionPolicy": ("DataProtectionPolicy",), "logs:PutDataProtectionPolicy":
            ("DataProtectionPolicy",), "logs:DeleteDataProtectionPolicy": ("DataProtectionPolicy",),
        "logs:CreateLogDelivery": ("DataProtectionPolicy",), "firehose:TagDeliveryStream": ("DataProtectionPolicy",),
        # ResourcePolicyDocument: "Creates or updates a resource policy" (an account's resource policies)
        "logs:PutResourcePolicy": ("ResourcePolicyDocument",), "logs:DescribeResourcePolicies":
            ("ResourcePolicyDocument",), "logs:DeleteResourcePolicy": ("ResourcePolicyDocument",),
        # FieldIndexPolicies: "Creates or updates a field index policy"
        "logs:PutIndexPolicy": ("FieldIndexPolicies",), "logs:DescribeIndexPolicies": ("FieldIndexPolicies",),
        "logs:DeleteIndexPolicy": ("FieldIndexPolicies",),
        "logs:PutBearerTokenAuthentication": ("BearerTokenAuthenticationEnabled",),
        "logs:PutLogGroupDeletionProtection": ("DeletionProtectionEnabled",),
    },
    "AWS::EC2::Instance": {  # SsmAssociations: "The SSM document and parameter values ... to associate"
        "ssm:CreateAssociation": ("SsmAssociations",), "ssm:DescribeAssociation": ("SsmAssociations",),
        "ssm:ListAssociations": ("SsmAssociations",), "ssm:DeleteAssociation": ("SsmAssociations",),
        # Volumes: "The volumes to attach to the instance" (a volume the instance attaches itself is attached
        # with the instance's own credentials, not CloudFormation's)
        "ec2:AttachVolume": ("Volumes",), "ec2:DetachVolume": ("Volumes",),
    },
    "AWS::EC2::Volume": {"ec2:CopyVolumes": ("SourceVolumeId",)},  # "The ID of the source volume ... to copy"
    "AWS::S3::Bucket": {  # MetadataConfiguration / MetadataTableConfiguration: S3 Metadata tables in S3 Tables
        **{a: ("MetadataConfiguration", "MetadataTableConfiguration") for a in (
            "s3:GetBucketMetadataTableConfiguration", "s3:CreateBucketMetadataTableConfiguration",
            "s3:DeleteBucketMetadataTableConfiguration", "s3:UpdateBucketMetadataJournalTableConfiguration",
            "s3:UpdateBucketMetadataInventoryTableConfiguration", "s3:UpdateBucketMetadataAnnotationTableConfiguration",
            "s3tables:CreateNamespace", "s3tables:CreateTable", "s3tables:CreateTableBucket", "s3tables:GetTable",
            "s3tables:PutTableBucketPolicy", "s3tables:PutTableEncryption", "s3tables:PutTablePolicy",
            "s3tables:GetTableMetadataLocation", "s3tables:UpdateTableMetadataLocation")},
    },  # "The ID of the source volume ... to copy"
    "AWS::ElasticLoadBalancingV2::Listener": {  # an authenticate-cognito action names a user pool client
        "cognito-idp:DescribeUserPoolClient": ("**AuthenticateCognitoConfig",),
    },
    "AWS::IAM::ManagedPolicy": {  # Groups / Users / Roles: "The name (friendly name, not ARN) of the ... to attach"
        "iam:AttachGroupPolicy": ("Groups",), "iam:DetachGroupPolicy": ("Groups",),
        "iam:AttachUserPolicy": ("Users",), "iam:DetachUserPolicy": ("Users",),
        "iam:AttachRolePolicy": ("Roles",), "iam:DetachRolePolicy": ("Roles",),
    },
    "AWS::IAM::Role": {
        "iam:PutRolePolicy": ("Policies",), "iam:GetRolePolicy": ("Policies",), "iam:DeleteRolePolicy": ("Policies",),
        "iam:PutRolePermissionsBoundary": ("PermissionsBoundary",),
        "iam:DeleteRolePermissionsBoundary": ("PermissionsBoundary",),
        "iam:AttachRolePolicy": ("ManagedPolicyArns",), "iam:DetachRolePolicy": ("ManagedPolicyArns",),
        "iam:TagRole": ("Tags",), "iam:UntagRole": ("Tags",),
    },
    "AWS::Backup::BackupVault": {
        "backup:PutBackupVaultAccessPolicy": ("AccessPolicy",), "backup:DeleteBackupVaultAccessPolicy": ("AccessPolicy",),
        "backup:PutBackupVaultNotifications": ("Notifications",),
        "backup:DeleteBackupVaultNotifications": ("Notifications",),
        "backup:PutBackupVaultLockConfiguration": ("LockConfiguration",),
        "backup:DeleteBackupVaultLockConfiguration": ("LockConfiguration",),
    },
}

# Condition keys a request takes from the resource's own properties, per action: with
# ChangeResourceRecordSets, Route 53 sends the names and types of the records a change batch changes
# ("With the IAM policy conditions, route53:ChangeResourceRecordSetsNormalizedRecordNames,
# route53:ChangeResourceRecordSetsRecordTypes, and route53:ChangeResourceRecordSetsActions, you can grant
# granular administrative rights", *Resource record set permissions*,
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-permissions.html; "For
# route53:ChangeResourceRecordSetsNormalizedRecordNames: All letters must be lowercase. The DNS name must be
# without the trailing dot. Characters other than a-z, 0-9, - (hyphen), _ (underscore), and . (period ...)
# must use escape codes in the format \three-digit octal code"; "For route53:ChangeResourceRecordSetsRecordTypes:
# The value must be uppercase", *Using IAM policy conditions for fine-grained access control*,
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html).  Which of
# CREATE, UPSERT or DELETE CloudFormation's handler sends as route53:ChangeResourceRecordSetsActions is not
# documented: that key is not modelled.
RESOURCE_KEYS: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {
    "AWS::Route53::RecordSet": {"route53:ChangeResourceRecordSets": (
        ("route53:ChangeResourceRecordSetsNormalizedRecordNames", "Name"),
        ("route53:ChangeResourceRecordSetsRecordTypes", "Type"))},
}
RECORD_NAME_KEY = "route53:ChangeResourceRecordSetsNormalizedRecordNames"


def normalized_record_name(name: str, whole: bool = True) -> str:
    """A DNS name as route53:ChangeResourceRecordSetsNormalizedRecordNames has it (``RESOURCE_KEYS``);
    ``whole=False``: a part of one (its trailing dot is no name's trailing dot)."""
    text = "".join(c if re.fullmatch(r"[a-z0-9_.-]", c) else f"\\{ord(c):03o}" for c in name.lower())
    return text.rstrip(".") if whole else text


def resource_key_value(key: str, value: Any, whole: bool = True) -> Any:
    """The value a resolved property (or, ``whole=False``, a literal part of one) gives condition key
    ``key``; a raw template value stays as given."""
    if not isinstance(value, str):
        return value
    return normalized_record_name(value, whole) if key == RECORD_NAME_KEY else value.upper()


# Delete-handler actions only a ``Snapshot`` DeletionPolicy (or UpdateReplacePolicy, for the replaced
# resource) calls: "For resources that support snapshots, such as AWS::EC2::Volume, specify Snapshot to
# have CloudFormation create a snapshot before deleting the resource" (*DeletionPolicy attribute*,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html), and the
# IAM type of what the creating one creates.  ec2:CreateSnapshot is authorized on the source volume and on
# the new snapshot: AWS's example lets snapshots "be created only if the source volume is tagged ... and the
# snapshot itself is tagged" with one statement on "arn:aws:ec2:us-east-1:123456789012:volume/*" and one on
# "arn:aws:ec2:us-east-1::snapshot/*" (*Amazon EC2: example policies*, "Create snapshots with tags",
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html).  Which tags CloudFormation
# gives the final snapshot is not documented: the request carries none.
SNAPSHOT_ON_DELETE: dict[str, tuple[tuple[str, ...], str, str]] = {
    # (actions, the creating action, IAM type of the snapshot)
    "AWS::EC2::Volume": (("ec2:CreateSnapshot", "ec2:DescribeSnapshots"), "ec2:CreateSnapshot", "snapshot"),
}

# iam:PassRole: "A user can pass a role ARN as a parameter in any API operation that uses the role ...
# The service then checks whether that user has the iam:PassRole permission" and "If you don't explicitly
# specify the role, the iam:PassRole permission is not required" (*Grant a user permissions to pass a role
# to an AWS service*, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html).  Per
# type: the property passing a role, how it names it, the service principal that receives it (the value
# of iam:PassedToService; None where AWS does not say which) and the other condition keys sent.
#   * EC2 instance profile: *Grant permissions to attach an IAM role to an instance*
#     (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/permission-to-pass-iam-roles.html) and the
#     iam:PassedToService example "ec2.amazonaws.com" with iam:AssociatedResourceARN of the instance
#     (*IAM and AWS STS condition context keys*, reference_policies_iam-condition-keys.html);
#   * AddRoleToInstanceProfile: "The caller of this operation must be granted the PassRole permission on
#     the IAM role"; "When using the iam:AssociatedResourceArn condition ... for the AddRoleToInstanceProfile
#     action ... The ARN value must be arn:aws:ec2:*:CallerAccountId:instance/*"
#     (https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddRoleToInstanceProfile.html); which
#     iam:PassedToService it sends is not documented, so none is sent here;
#   * AWS Backup selection: *IAM service roles* ("When you assign resources to a backup plan ... you must
#     pass a service role", https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html)
#     with "iam:PassedToService": "backup.amazonaws.com" (*Using service-linked roles for Amazon EFS*,
#     https://docs.aws.amazon.com/efs/latest/ug/using-service-linked-roles.html).
# Another type passing a property named ...RoleArn / ...RoleARN passes it to its own service.
PASSED_ROLES: dict[str, tuple[tuple[str, str, str, str, bool, tuple[tuple[str, str], ...]], ...]] = {
    # (top-level property, property naming the role in it, how it names it, service receiving it, whether
    #  iam:PassedToService is sent, other condition keys)
    "AWS::EC2::Instance": (("IamInstanceProfile", "IamInstanceProfile", "instance-profile", "ec2.amazonaws.com", True,
                            (("iam:AssociatedResourceArn", "{self}"),)),),
    "AWS::IAM::InstanceProfile": (("Roles", "Roles", "name", "ec2.amazonaws.com", False,
                                   (("iam:AssociatedResourceArn", "arn:{partition}:ec2:*:{account}:instance/*"),)),),
    "AWS::Backup::BackupSelection": (("BackupSelection", "IamRoleArn", "arn", "backup.amazonaws.com", True, ()),),
}
_ROLE_PROPERTY = re.compile(r".*Role(Arn|ARN)$")

# Service-linked roles a service creates on first use with the caller's permission.  *Elastic Load
# Balancing service-linked role* (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html):
# "Elastic Load Balancing creates this role for you when you create a load balancer or a target group.
# For Elastic Load Balancing to create a service-linked role on your behalf, you must have the required
# permissions"; the request is iam:CreateServiceLinkedRole on
# role/aws-service-role/SERVICE-NAME.amazonaws.com/ROLE-NAME with iam:AWSServiceName (*Using
# service-linked roles*, https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html).
# AWS Backup creates AWSServiceRoleForBackup for cross-account management and EFS automatic backup
# (https://docs.aws.amazon.com/aws-backup/latest/devguide/using-service-linked-roles.html), neither of which
# a backup selection is; the selection schema's iam:CreateServiceLinkedRole is therefore not asked for.
SERVICE_LINKED_ROLES: dict[str, tuple[str, str]] = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("elasticloadbalancing.amazonaws.com",
                                                  "AWSServiceRoleForElasticLoadBalancing"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("elasticloadbalancing.amazonaws.com",
                                                 "AWSServiceRoleForElasticLoadBalancing"),
}

# A service using a customer managed key on the caller's behalf, with kms:ViaService
# "SERVICE.REGION.amazonaws.com" (*AWS KMS condition keys*, kms:ViaService,
# https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service:
# EBS "ec2.AWS_region.amazonaws.com", AWS Backup "backup.AWS_region.amazonaws.com").  EBS: "You must grant
# users permission to call the following actions in order to use EBS encryption: kms:CreateGrant,
# kms:Decrypt, kms:DescribeKey, kms:GenerateDataKeyWithoutPlainText, kms:ReEncrypt"
# (*Requirements for Amazon EBS encryption*, https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html;
# the IAM actions of ReEncrypt are ReEncryptFrom and ReEncryptTo).  AWS Backup: the vault schema's create
# handler's KMS actions.  An AWS managed key (alias/aws/...) needs nothing of the caller: "When a service
# uses AWS owned keys or AWS managed keys, the service establishes and maintains the key policies for
# these KMS keys" (*Permissions for AWS services in key policies*,
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-services.html).  CloudWatch Logs is
# not in the kms:ViaService table; a log group's key is used by the Logs service principal under the key
# policy (*Encrypt log data in CloudWatch Logs using AWS KMS*), so a log group needs nothing here.
EBS_KEY_USE = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext",
               "kms:ReEncryptFrom", "kms:ReEncryptTo")
KEY_USE: dict[str, tuple[str, str, str, tuple[str, ...] | None]] = {
    # (top-level property, property naming the key in it, service, actions; None: the handler's kms actions)
    "AWS::EC2::Volume": ("KmsKeyId", "KmsKeyId", "ec2", EBS_KEY_USE),
    "AWS::EC2::Instance": ("BlockDeviceMappings", "KmsKeyId", "ec2", EBS_KEY_USE),
    "AWS::Backup::BackupVault": ("EncryptionKeyArn", "EncryptionKeyArn", "backup", None),
}
# Another type with a property naming a key, and KMS actions in its handlers, uses the key through its own
# service (the handlers' KMS actions).
KEY_PROPERTIES = ("KmsKeyId", "KmsKeyArn", "KMSMasterKeyId", "KMSMasterKeyID", "KmsMasterKeyId", "EncryptionKeyArn")
AWS_MANAGED_KEY = re.compile(r"^(arn:[^:]+:kms:[^:]*:[^:]*:)?alias/aws/")

# Tagging during creation is authorized as its own action on the new resource with a create-action key:
# *Grant permission to tag Amazon EC2 resources during creation*
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html): "If tags are
# specified in the resource-creating action, Amazon performs additional authorization on the
# ec2:CreateTags action ... use the Condition element with the ec2:CreateAction condition key";
# *ELB API permissions to tag resources during creation*
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html):
# elasticloadbalancing:AddTags with elasticloadbalancing:CreateAction.  Other services' tagging action
# in a create handler is authorized on the new resource too, without such a key.
TAG_ON_CREATE = {"ec2": ("ec2:CreateTags", "ec2:CreateAction"),
                 "elasticloadbalancing": ("elasticloadbalancing:AddTags", "elasticloadbalancing:CreateAction")}
_TAGGING = re.compile(r"^(TagResource|AddTags|CreateTags|Tag[A-Z]\w*)$")
_UNTAGGING = re.compile(r"^(UntagResource|RemoveTags|DeleteTags|Untag[A-Z]\w*)$")
_CREATING = re.compile(r"^(Create|Run)(?!Tags$)\w+$")


def is_tagging(action: str) -> bool:
    return bool(_TAGGING.match(action.partition(":")[2]))


def is_tag_change(action: str) -> bool:
    """Adding or removing tags: authorized on the tagged resource only."""
    return is_tagging(action) or bool(_UNTAGGING.match(action.partition(":")[2]))


def creating_action(resource_type: str, regions: Sequence[str] = ("us-east-1",)) -> str | None:
    """The call that creates the resource: the first ``Create...``/``Run...`` action of its own service in
    the create handler (``ec2:RunInstances``, ``logs:CreateLogGroup``); None for a type that creates
    nothing of its own (a security group rule, a volume attachment, a DNS record)."""
    if own_type(resource_type) is None:
        return None
    prefix = service_of(resource_type)
    for action in handler_actions(resource_type, "create", regions):
        if action.startswith(prefix + ":") and _CREATING.match(action.partition(":")[2]):
            return action
    return None


def _gated_out(resource_type: str, action: str, props: Mapping, changed: set[str] | None) -> bool:
    gates = FEATURES.get(resource_type, {}).get(action)
    if not gates:
        return False
    for gate in gates:
        name = gate.lstrip("*")
        present = has_key(props, name) if gate.startswith("**") else name in props
        if present and (changed is None or gate.startswith("**") or name in changed):
            return False
    return True


def _is_key_use(resource_type: str, action: str) -> bool:
    return action.startswith("kms:") and service_of(resource_type) != "kms"


def needs(resource_type: str, op: str, props: Mapping, regions: Sequence[str] = ("us-east-1",),
          changed: set[str] | None = None, snapshot: bool = False) -> list[Need]:
    """The authorization requests of ``op`` on a resource of ``resource_type`` with ``props`` (raw
    template properties or resolved ones; ``changed``: for an update, the properties that change,
    None: all that are set; ``snapshot``: a delete keeps a final snapshot, ``SNAPSHOT_ON_DELETE``)."""
    props = props if isinstance(props, Mapping) else {}
    if not schema(resource_type, regions):
        return []  # no provider schema (a custom resource, a type cfn-lint does not know): nothing known
    own = own_type(resource_type)
    creating = creating_action(resource_type, regions) if op == "create" else None
    out: list[Need] = []
    for action in handler_actions(resource_type, op, regions):
        if action in ("iam:PassRole", "iam:CreateServiceLinkedRole") or _is_key_use(resource_type, action):
            continue  # modelled from the services' documentation below
        if _gated_out(resource_type, action, props, changed if op == "update" else None):
            continue
        snapshots = SNAPSHOT_ON_DELETE.get(resource_type)
        if snapshots and action in snapshots[0] and not (op == "delete" and snapshot):
            continue
        prefix = action.partition(":")[0]
        types = resource_types_of(action)
        targets = [Target(prefix, own, "self")] if own and own in types and prefix == service_of(resource_type) else []
        for prop, value in identifiers(props, POINTERS.get(resource_type, ())):
            service, iam_type, kind = IDENTIFIERS[prop]
            if targets and is_tag_change(action):
                break  # tags change on the tagged resource alone
            if targets and iam_type == own:
                continue  # a resource names others of its own type as peers (a group's rules), not as targets
            if service == prefix and iam_type in types:
                targets.append(Target(prefix, iam_type, "property", value, prop, kind))
        if types and not targets:
            targets = [Target(prefix, own if own in types else types[0], "unresolved")]
        if snapshots and action == snapshots[1] and snapshots[2] in types:
            targets.append(Target(prefix, snapshots[2], "new"))
        new = op == "create" and (action == creating or (is_tagging(action) and prefix == service_of(resource_type)))
        context: tuple[tuple[str, Any], ...] = ()
        if new and action != creating and prefix in TAG_ON_CREATE and action == TAG_ON_CREATE[prefix][0] and creating:
            context = ((TAG_ON_CREATE[prefix][1], creating.partition(":")[2]),)
        keys = tuple((key, resource_key_value(key, props[prop]))
                     for key, prop in RESOURCE_KEYS.get(resource_type, {}).get(action, ()) if prop in props)
        out.append(Need(action, tuple(targets), new=new, context=context, resource_keys=keys))
    if op in ("create", "update"):
        out += _passed_roles(resource_type, props, changed if op == "update" else None)
        out += _key_use(resource_type, op, props, regions, changed if op == "update" else None)
    if op == "create" and resource_type in SERVICE_LINKED_ROLES:
        service, role = SERVICE_LINKED_ROLES[resource_type]
        out.append(Need("iam:CreateServiceLinkedRole", (Target("iam", "role", "slr", (service, role)),),
                        context=(("iam:AWSServiceName", service),), why="service-linked-role", service=service))
    return out


def _passed_roles(resource_type: str, props: Mapping, changed: set[str] | None) -> list[Need]:
    rules = PASSED_ROLES.get(resource_type)
    if rules is None:
        rules = tuple((p, p, "arn", f"{service_of(resource_type)}.amazonaws.com", True, ()) for p in props
                      if _ROLE_PROPERTY.match(p))
    out = []
    for top, prop, kind, service, sent, extra in rules:
        if top not in props or (changed is not None and top not in changed):
            continue
        for value in _find({top: props[top]}, prop):
            context = list(extra) + ([("iam:PassedToService", service)] if sent else [])
            out.append(Need("iam:PassRole", (Target("iam", "role", "property", value, prop, kind),),
                            context=tuple(context), why="pass-role", service=service))
    return out


def _key_use(resource_type: str, op: str, props: Mapping, regions: Sequence[str],
             changed: set[str] | None) -> list[Need]:
    rule = KEY_USE.get(resource_type)
    if rule is None:
        top = next((k for k in props if any(_find({k: props[k]}, name) for name in KEY_PROPERTIES)), None)
        prop = next((name for name in KEY_PROPERTIES if top and _find({top: props[top]}, name)), None)
        if top is None or prop is None:
            return []
        rule = (top, prop, service_of(resource_type), None)
    top, prop, service, actions = rule
    if actions is None:
        actions = tuple(a for a in handler_actions(resource_type, "create", regions) if _is_key_use(resource_type, a))
    if top not in props or (changed is not None and top not in changed):
        return []
    out = []
    for value in _find({top: props[top]}, prop):
        if isinstance(value, str) and AWS_MANAGED_KEY.match(value):
            continue
        for action in actions:
            context = [("kms:ViaService", f"{service}.{{region}}.amazonaws.com"), ("kms:CallerAccount", "{account}")]
            if action == "kms:CreateGrant":
                context.append(("kms:GrantIsForAWSResource", True))
            out.append(Need(action, (Target("kms", "key", "property", value, prop, "key"),), context=tuple(context),
                            why="key-use", service=service))
    return out


def _find(props: Any, name: str) -> list[Any]:
    """Every value of property ``name`` at any depth (a list value gives its items)."""
    found: list[Any] = []
    if isinstance(props, Mapping):
        for key, value in props.items():
            if key == name:
                found.extend(value if isinstance(value, list) else [value])
            elif isinstance(value, (Mapping, list)):
                found.extend(_find(value, name))
    elif isinstance(props, list):
        for item in props:
            found.extend(_find(item, name))
    return found


def feature_properties() -> Iterable[tuple[str, str]]:
    """``(resource type, property)`` of every gate (the tests check each is a property of the type)."""
    for resource_type, gates in FEATURES.items():
        for props in gates.values():
            for prop in props:
                yield resource_type, prop.lstrip("*")
