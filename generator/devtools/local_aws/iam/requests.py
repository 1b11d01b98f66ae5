"""The authorization requests of one CloudFormation resource operation, as IAM would receive them.

``generator.blocks.handlers`` says which actions an operation needs and on which kinds of resource; this
module fills in what only the running account knows:

* the ARN of each target: the resource itself (from its physical id, the IAM ARN format of its type in
  cfn-lint's ``Policies.json``, or the model's own ARN), or the resource a property names (a subnet, a
  security group, a key, a role, a backup plan); a resource type moto does not simulate gets a stable
  stand-in id (its name property, or one derived from the stack and logical id);
* the condition keys: ``aws:RequestedRegion`` (``us-east-1`` for global services such as IAM),
  ``aws:PrincipalArn`` / ``aws:PrincipalAccount``; ``aws:ResourceTag/*`` of an existing resource (for EC2
  also ``ec2:ResourceTag/*``) from its tags as the stack applied them, or, for resources the stack did
  not make, as moto's EC2 has them; ``aws:RequestTag/*`` and ``aws:TagKeys`` when a resource is created
  or tagged; ``iam:PolicyARN`` per managed policy attached or detached; ``kms:ResourceAliases`` of a key;
  and the keys the handler model adds (``ec2:CreateAction``, ``iam:PassedToService``,
  ``iam:AssociatedResourceArn``, ``iam:AWSServiceName``, ``kms:ViaService``, ``kms:CallerAccount``,
  ``kms:GrantIsForAWSResource``) or takes from the resource's properties (a DNS record's normalized name
  and type);
* ``iam:CreateServiceLinkedRole`` only while the role does not exist in the account (``ensure_service_linked_role``
  creates it once allowed); a customer managed key only when the key exists and is not AWS managed.

Requests also come from Service Catalog itself (``service_catalog_requests``) and from CloudFormation
reading SSM parameters (``ssm_requests``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

from generator.blocks import handlers
from generator.blocks.handlers import Need, Target

from .policy import Request

# A stand-in for what Service Catalog's own bucket is called: AWS does not say.  What is documented is that
# the launch role reads "the AWS CloudFormation template in a service-owned Amazon S3 bucket" and that the
# read is conditioned on s3:ExistingObjectTag/servicecatalog:provisioning = true (constraints-launch.html).
SERVICE_TEMPLATE_BUCKET = "servicecatalog-templates-{region}-local"
PROVISIONING_TAG = ("servicecatalog:provisioning", "true")
_ATTACH = {"iam:AttachRolePolicy", "iam:AttachGroupPolicy", "iam:AttachUserPolicy"}
_DETACH = {"iam:DetachRolePolicy", "iam:DetachGroupPolicy", "iam:DetachUserPolicy"}
_ATTACHED_PROPERTY = {"iam:AttachGroupPolicy": "Groups", "iam:DetachGroupPolicy": "Groups",
                      "iam:AttachUserPolicy": "Users", "iam:DetachUserPolicy": "Users",
                      "iam:AttachRolePolicy": "Roles", "iam:DetachRolePolicy": "Roles"}


def _backend(service: str, account_id: str, region: str) -> Any:
    from moto.backends import get_backend
    from moto.utilities.utils import get_partition

    backends = get_backend(service)  # type: ignore[call-overload]
    return backends[account_id][get_partition(region) if service == "iam" else region]


class StackView:
    """What an operation on one stack knows about the stack's resources (ARNs, tags, ids)."""

    def __init__(self, stack: Any, rmap: Any, applied: Mapping[str, Mapping[str, Any]]):
        self.stack = stack
        self.rmap = rmap
        self.applied = applied
        self.account = stack.account_id
        self.region = stack.region_name
        from moto.utilities.utils import get_partition

        self.partition = get_partition(self.region)

    # -- identity of a stack resource
    def stand_in_id(self, logical_id: str, resource_type: str, props: Mapping[str, Any]) -> str:
        """A stable id for a resource moto does not simulate (its name when the template gives one)."""
        store = self.stack.__dict__.setdefault("_local_stand_in_ids", {})
        if logical_id not in store:
            from ..cloudformation.updates import custom_name_property

            name = props.get(custom_name_property(resource_type) or "", None) or props.get("BackupVaultName")
            digest = hashlib.sha1(f"{self.stack.stack_id}/{logical_id}".encode()).hexdigest()
            store[logical_id] = str(name) if isinstance(name, str) and name else \
                f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        return store[logical_id]

    def physical_id(self, logical_id: str, resource_type: str, instance: Any, props: Mapping[str, Any]) -> str:
        value = getattr(instance, "physical_resource_id", None) if instance is not None else None
        return str(value) if value else self.stand_in_id(logical_id, resource_type, props)

    def format_arn(self, prefix: str, iam_type: str, ident: str) -> str:
        if ident.startswith("arn:"):
            return ident
        if prefix == "kms" and iam_type == "alias":
            ident = ident[len("alias/"):] if ident.startswith("alias/") else ident
        formats = handlers.iam_resource(prefix, iam_type).get("ARNFormats") or [f"arn:${{Partition}}:{prefix}:"
                                                                                f"${{Region}}:${{Account}}:{iam_type}/.*"]
        region = "" if prefix in handlers.GLOBAL_SERVICES else self.region
        arn = formats[0].replace("${Partition}", self.partition).replace("${Region}", region)
        arn = arn.replace("${Account}", self.account)
        head, _, _ = arn.rpartition(".*")
        return head + ident

    def self_arn(self, logical_id: str, resource_type: str, iam_type: str, instance: Any,
                 props: Mapping[str, Any]) -> str:
        arn = getattr(instance, "arn", None) if instance is not None else None
        if isinstance(arn, str) and arn.startswith("arn:") and handlers.service_of(resource_type) == "iam":
            return arn  # IAM ARNs carry the path
        return self.format_arn(handlers.service_of(resource_type), iam_type,
                               self.physical_id(logical_id, resource_type, instance, props))

    def logical_of(self, value: str) -> str | None:
        """The logical id of the stack resource whose physical id (or stand-in id, or ARN) is ``value``."""
        stand_in = self.stack.__dict__.get("_local_stand_in_ids", {})
        for logical_id, resource in self.rmap._parsed_resources.items():
            if logical_id not in self.rmap._resource_json_map:
                continue
            ids = {str(getattr(resource, "physical_resource_id", "") or ""), str(getattr(resource, "arn", "") or "")}
            if logical_id in stand_in:
                ids.add(stand_in[logical_id])
            if value in ids or value == logical_id:
                return logical_id
        for logical_id, ident in stand_in.items():
            if value == ident:
                return logical_id
        return value if value in self.rmap._resource_json_map else None

    def tags_of_logical(self, logical_id: str) -> dict[str, str]:
        resource_type = (self.rmap._resource_json_map.get(logical_id) or {}).get("Type", "")
        return template_tags(resource_type, self.applied.get(logical_id) or {})

    # -- targets
    def resolve(self, target: Target, logical_id: str, resource_type: str, instance: Any,
                props: Mapping[str, Any], new: bool, tag_props: Mapping[str, Any] | None = None
                ) -> list[tuple[str, dict[str, str] | None, bool]]:
        """``[(arn, tags or None, exists)]`` of a target (a role in an instance profile may give several);
        ``tag_props``: the properties the resource has now, when ``props`` are those it is updated to."""
        if target.origin == "self":
            arn = self.self_arn(logical_id, resource_type, target.iam_type, instance, props)
            own_tags = None if new else self._own_tags(resource_type, instance, tag_props or props)
            return [(arn, own_tags, not new)]
        if target.origin == "unresolved":
            return [(self.format_arn(target.prefix, target.iam_type, "*"), None, True)]
        if target.origin == "new":   # not created yet: no id to name, no tags
            return [(self.format_arn(target.prefix, target.iam_type, "*"), None, False)]
        if target.origin == "slr":
            service, role = target.value
            return [(f"arn:{self.partition}:iam::{self.account}:role/aws-service-role/{service}/{role}", None, False)]
        value = _referenced_logical_id(target.value) or target.value
        if not isinstance(value, str) or not value:
            return []
        if target.kind == "instance-profile":
            return [(arn, None, True) for arn in self._profile_roles(value)]
        if target.kind == "key":
            return [(arn, self._key_tags(arn), True) for arn in self._key_arns(value)]
        if target.prefix == "iam" and target.iam_type == "role" and not value.startswith("arn:"):
            return [(self._role_arn(value), None, True)]
        owner = self.logical_of(value)
        if owner is not None:
            owner_type = (self.rmap._resource_json_map.get(owner) or {}).get("Type", "")
            arn = self.self_arn(owner, owner_type, target.iam_type, self.rmap._parsed_resources.get(owner),
                                self.applied.get(owner) or {})
            return [(arn, self.tags_of_logical(owner), True)]
        return [(self.format_arn(target.prefix, target.iam_type, value), self._external_tags(target, value), True)]

    def _own_tags(self, resource_type: str, instance: Any, props: Mapping[str, Any]) -> dict[str, str]:
        tags = template_tags(resource_type, props)
        if handlers.service_of(resource_type) == "ec2" and instance is not None:
            tags = {**self._ec2_tags(str(getattr(instance, "id", ""))), **tags}
        return tags

    def _ec2_tags(self, resource_id: str) -> dict[str, str]:
        return dict(_backend("ec2", self.account, self.region).tags.get(resource_id, {}))

    def _external_tags(self, target: Target, value: str) -> dict[str, str]:
        return self._ec2_tags(value) if target.prefix == "ec2" else {}

    def _role_arn(self, name: str) -> str:
        from moto.iam.exceptions import NotFoundException

        try:
            return _backend("iam", self.account, self.region).get_role(name).arn
        except NotFoundException:
            return f"arn:{self.partition}:iam::{self.account}:role/{name}"

    def _profile_roles(self, value: str) -> list[str]:
        from moto.iam.exceptions import NotFoundException

        iam = _backend("iam", self.account, self.region)
        try:
            profile = iam.get_instance_profile_by_arn(value) if value.startswith("arn:") else \
                iam.get_instance_profile(value)
        except NotFoundException:
            return []
        return [role.arn for role in profile.roles]

    def _key_arns(self, value: str) -> list[str]:
        if handlers.AWS_MANAGED_KEY.match(value):
            return []  # an AWS managed key: its key policy, not the caller's policies, governs it
        kms = _backend("kms", self.account, self.region)
        try:
            return [kms.describe_key(value).arn]
        except (KeyError, TypeError):
            return [value] if value.startswith("arn:") else []

    def _key_tags(self, arn: str) -> dict[str, str]:
        owner = self.logical_of(arn.rsplit("/", 1)[-1]) or self.logical_of(arn)
        if owner is not None:
            return self.tags_of_logical(owner)
        kms = _backend("kms", self.account, self.region)
        try:
            return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(arn)["Tags"]}
        except (KeyError, TypeError):
            return {}

    def key_aliases(self, arn: str) -> list[str]:
        kms = _backend("kms", self.account, self.region)
        try:
            key_id = kms.describe_key(arn).id
        except (KeyError, TypeError):
            return []
        return sorted(alias.alias_name for alias in kms.list_aliases(key_id))

    def policy_arn(self, logical_id: str, instance: Any, props: Mapping[str, Any]) -> str:
        return self.self_arn(logical_id, "AWS::IAM::ManagedPolicy", "policy", instance, props)


def _referenced_logical_id(value: Any) -> str | None:
    """The logical id a raw ``Ref`` / ``Fn::GetAtt`` names (what a reference to a resource moto does not
    simulate stays as: it resolves to nothing)."""
    if isinstance(value, Mapping) and isinstance(value.get("Ref"), str):
        return value["Ref"]
    if isinstance(value, Mapping) and isinstance(value.get("Fn::GetAtt"), list) and value["Fn::GetAtt"]:
        return str(value["Fn::GetAtt"][0])
    return None


def with_unresolved(resolved: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """``resolved`` properties plus the raw references (``Ref`` / ``Fn::GetAtt``) that resolved to nothing
    (references to resources moto does not simulate), so the resources they name are still known."""
    return {**{k: v for k, v in (raw or {}).items() if k not in resolved and _referenced_logical_id(v)}, **resolved}


def template_tags(resource_type: str, props: Mapping[str, Any]) -> dict[str, str]:
    """The tags a resource's properties give it (its schema's tag property: a list of Key/Value or a map)."""
    prop = (handlers.schema(resource_type).get("tagging") or {}).get("tagProperty", "/properties/Tags")
    value = props.get(prop.rsplit("/", 1)[-1]) if isinstance(props, Mapping) else None
    if isinstance(value, list):  # Key/Value, or TagKey/TagValue as the local KMS model takes them
        return {str(t.get("Key", t.get("TagKey"))): str(t.get("Value", t.get("TagValue", ""))) for t in value
                if isinstance(t, Mapping) and ("Key" in t or "TagKey" in t)}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return {}


def _base_context(view: StackView, prefix: str, principal_arn: str) -> dict[str, Any]:
    region = handlers.GLOBAL_REGION if prefix in handlers.GLOBAL_SERVICES else view.region
    return {"aws:RequestedRegion": region, "aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": view.account}


def _fill(value: Any, view: StackView, self_arn: str) -> Any:
    if isinstance(value, str):
        return (value.replace("{partition}", view.partition).replace("{account}", view.account)
                .replace("{region}", view.region).replace("{self}", self_arn))
    return value


def resource_requests(view: StackView, principal_arn: str, op: str, logical_id: str, resource_type: str,
                      instance: Any, props: Mapping[str, Any], old_props: Mapping[str, Any] | None = None,
                      changed: set[str] | None = None, snapshot: bool = False) -> list[tuple[Need, Request]]:
    """Every request of ``op`` (create | read | update | delete) on one resource, in handler order
    (``snapshot``: the deletion keeps a final snapshot)."""
    out: list[tuple[Need, Request]] = []
    own = handlers.own_type(resource_type)
    self_arn = view.self_arn(logical_id, resource_type, own, instance, props) if own else ""
    for need in handlers.needs(resource_type, op, props, changed=changed, snapshot=snapshot):
        prefix = need.action.partition(":")[0]
        if need.why == "service-linked-role" and service_linked_role_exists(view, *need.targets[0].value):
            continue
        extra = {k: _fill(v, view, self_arn) for k, v in need.context}
        extra.update({k: [v] for k, v in need.resource_keys if isinstance(v, str)})   # one record per operation
        if need.action in _ATTACH | _DETACH:
            out += _attachments(view, principal_arn, op, need, logical_id, resource_type, instance, props,
                                old_props or {}, extra)
            continue
        resolved = [r for t in need.targets for r in view.resolve(t, logical_id, resource_type, instance, props,
                                                                   need.new, old_props)]
        if need.targets and not resolved:
            continue  # the property names nothing this time (an AWS managed key, no key pair)
        for arn, tags, exists in resolved or [("*", None, True)]:
            context = {**_base_context(view, prefix, principal_arn), **extra}
            if tags and exists:
                for key, value in tags.items():
                    context[f"aws:ResourceTag/{key}"] = value
                    if prefix == "ec2":
                        context[f"ec2:ResourceTag/{key}"] = value
            if need.new or handlers.is_tagging(need.action):
                request_tags = template_tags(resource_type, props)
                if request_tags:
                    context["aws:TagKeys"] = sorted(request_tags)
                    for key, value in request_tags.items():
                        context[f"aws:RequestTag/{key}"] = value
            if prefix == "kms" and arn.startswith("arn:") and ":key/" in arn:
                context["kms:ResourceAliases"] = view.key_aliases(arn)
            out.append((need, Request(need.action, arn, context)))
    return out


def _attachments(view: StackView, principal_arn: str, op: str, need: Need, logical_id: str, resource_type: str,
                 instance: Any, props: Mapping[str, Any], old_props: Mapping[str, Any],
                 extra: dict[str, Any]) -> list[tuple[Need, Request]]:
    """Attaching and detaching managed policies: one request per principal and policy, with iam:PolicyARN."""
    attach = need.action in _ATTACH
    pairs: list[tuple[str, str]] = []   # (principal ARN, policy ARN)
    if resource_type == "AWS::IAM::ManagedPolicy":
        key = _ATTACHED_PROPERTY[need.action]
        policy = view.policy_arn(logical_id, instance, props)
        now, before = set(props.get(key) or []), set(old_props.get(key) or [])
        chosen = _changed_members(op, attach, now, before)
        for target in need.targets:
            if target.origin == "property" and target.value in chosen:
                pairs += [(arn, policy) for arn, _tags, _e in view.resolve(target, logical_id, resource_type,
                                                                            instance, props, False)]
    else:
        now, before = set(props.get("ManagedPolicyArns") or []), set(old_props.get("ManagedPolicyArns") or [])
        principal = view.self_arn(logical_id, resource_type, handlers.own_type(resource_type) or "role", instance,
                                  props)
        pairs = [(principal, arn) for arn in sorted(_changed_members(op, attach, now, before))]
    return [(need, Request(need.action, principal, {**_base_context(view, "iam", principal_arn), **extra,
                                                    "iam:PolicyARN": policy}))
            for principal, policy in pairs]


def _changed_members(op: str, attach: bool, now: set, before: set) -> set:
    if op == "create":
        return now if attach else set()
    if op == "delete":
        return set() if attach else now
    if op == "update":
        return now - before if attach else before - now
    return set()


def service_linked_role_exists(view: StackView, service: str, role: str) -> bool:
    iam = _backend("iam", view.account, view.region)
    return any(r.name == role and r.path == f"/aws-service-role/{service}/" for r in iam.roles.values())


def ensure_service_linked_role(view: StackView, service: str, role: str) -> None:
    """Create the service-linked role the way the service does on first use (its trust: the service)."""
    if service_linked_role_exists(view, service, role):
        return
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["sts:AssumeRole"],
                                                      "Principal": {"Service": [service]}}]}
    _backend("iam", view.account, view.region).create_role(
        role, json.dumps(trust), f"/aws-service-role/{service}/", permissions_boundary=None,
        description=f"Service-linked role of {service} (created on first use)", tags=[],
        max_session_duration=None, linked_service=service)


# ------------------------------------------------------------------------- Service Catalog, SSM reads

def service_catalog_requests(operation: str, principal_arn: str, account: str, region: str, partition: str,
                             stack_name: str, stack_id: str | None, template_key: str | None) -> list[Request]:
    """What Service Catalog asks of the launch role around a stack operation.

    The tutorial policy lists the CloudFormation actions a launch role needs (CreateStack, DeleteStack,
    DescribeStackEvents, DescribeStacks, GetTemplateSummary, SetStackPolicy, ValidateTemplate, UpdateStack:
    *Step 6: Add a launch constraint to assign an IAM role*,
    https://docs.aws.amazon.com/servicecatalog/latest/adminguide/getstarted-launchconstraint.html) without
    saying which step calls which; here a launch validates and summarises the template, reads it from the
    service-owned copy, creates the stack and sets its policy, an update does the same with UpdateStack,
    a termination deletes, and each follows the stack with DescribeStacks and DescribeStackEvents."""
    stack = f"arn:{partition}:cloudformation:{region}:{account}:stack/{stack_name}/" + (
        stack_id.rsplit("/", 1)[-1] if stack_id else "*")
    base = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account}
    out = []
    if operation in ("PROVISION_PRODUCT", "UPDATE_PROVISIONED_PRODUCT"):
        out += [Request("cloudformation:ValidateTemplate", "*", base),
                Request("cloudformation:GetTemplateSummary", stack, base)]
        if template_key:
            bucket = SERVICE_TEMPLATE_BUCKET.format(region=region)
            out.append(Request("s3:GetObject", f"arn:{partition}:s3:::{bucket}/{template_key}",
                               {**base, f"s3:ExistingObjectTag/{PROVISIONING_TAG[0]}": PROVISIONING_TAG[1]}))
    verb = {"PROVISION_PRODUCT": ["cloudformation:CreateStack", "cloudformation:SetStackPolicy"],
            "UPDATE_PROVISIONED_PRODUCT": ["cloudformation:UpdateStack"],
            "TERMINATE_PROVISIONED_PRODUCT": ["cloudformation:DeleteStack"]}[operation]
    out += [Request(action, stack, base) for action in verb]
    out += [Request("cloudformation:DescribeStacks", stack, base),
            Request("cloudformation:DescribeStackEvents", stack, base)]
    return out


def ssm_requests(names: Iterable[str], principal_arn: str, account: str, region: str, partition: str) -> list[Request]:
    """``ssm:GetParameters`` for each SSM parameter a stack operation resolves (public ``/aws/`` parameters
    belong to no account)."""
    base = {"aws:RequestedRegion": region, "aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account}
    out = []
    for name in sorted(set(names)):
        owner = "" if name.startswith("/aws/") else account
        out.append(Request("ssm:GetParameters", f"arn:{partition}:ssm:{region}:{owner}:parameter/{name.lstrip('/')}",
                           base))
    return out
