"""Derive the launch role's permissions from the products' resources — never written by hand.

For every resource of every product template, ``generator.blocks.handlers`` says what CloudFormation
asks IAM for when it creates, reads, updates and deletes it (handler permissions of the provider schemas
cfn-lint bundles, the actions only the resource's properties need, the roles it passes, the service-linked
roles and customer managed keys services use on its behalf), and on which resources.  Each request
becomes a grant, scoped by what the resource is to the product:

* read-only actions: ``<Svc>Read`` on Resource ``*``;
* the call creating a resource (``ec2:RunInstances``, ``logs:CreateLogGroup``) and what it names
  (subnets, security groups, images): ``<Svc>Create``, on this account's ARNs of those resource types;
* a resource an action creates besides the one it acts on (a volume's final snapshot): ``<Svc>New<Type>s``,
  that action on the new resource's ARNs only (the resource acted on needs its own grant);
* tagging during creation: ``<Svc>TagOnCreate``, limited by the service's create-action key
  (``ec2:CreateAction``, ``elasticloadbalancing:CreateAction``) or, where a service has none, by the
  product tag the request applies (``aws:RequestTag/Product``);
* any other change to a resource the product made (a tagged one): ``<Svc>ChangeProductResources``, only
  on resources tagged ``Product`` = one of the catalog's products (``aws:ResourceTag/Product``: every
  product resource carries it, ``generator.blocks.tags``; the build refuses one that does not);
  resource types IAM cannot evaluate tags on (a KMS alias): ``<Svc>ChangeUntaggableProductResources``;
  resources the product does not make (the administrator's, named by a parameter or setting):
  ``<Svc>ChangeSharedResources``, on exactly the resource an administrator setting names where the
  product names it with an SSM dynamic reference (``{{resolve:ssm:NAME}}``): the launch role reads the
  same setting (``Grant.settings``: an ``AWS::SSM::Parameter::Value<String>`` parameter of its template),
  otherwise on this account's ARNs of the type;
* every IAM action only under the products' IAM path (``SCOPES``); attaching managed policies only with
  ``iam:PolicyARN`` of the policies the products attach; ``iam:PassRole`` only with
  ``iam:PassedToService`` of the service each product role goes to (or, adding a role to an instance
  profile, ``iam:AssociatedResourceArn`` of EC2 instances); ``iam:CreateServiceLinkedRole`` only for the
  services that create one on first use, with ``iam:AWSServiceName``;
* using this account's KMS keys only through ``kms:ViaService`` of the services that encrypt the
  products' resources, only keys tagged as a product's, grants only for AWS resources;
* write actions IAM authorizes only on Resource ``*`` (``kms:CreateKey``): ``<Svc>Unscopable``, for the
  caller to isolate.

Regional services carry an ``aws:RequestedRegion`` condition limiting them to the catalog's regions.
Each grant records the resource types that need it (``Grant.needed_by``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from generator.blocks import handlers
from generator.blocks.admin_settings import PRODUCT_IAM_PATH
from generator.blocks.tags import PRODUCT_TAG
from generator.errors import BuildError

_PRODUCT_PATH = PRODUCT_IAM_PATH.strip("/")
# Service prefix -> the ARN pattern (Fn::Sub syntax, ``{type}`` = the IAM resource type) products fix.
# Every IAM resource a product creates (role, instance profile, policy, ...) lives under the products' path,
# so the launch role can create, change and pass only those.
SCOPES: dict[str, str] = {
    "iam": "arn:${AWS::Partition}:iam::${AWS::AccountId}:{type}/" + _PRODUCT_PATH + "/*",
}
# Any key of this account, in any region (the via-service condition names the regions).
ACCOUNT_KEYS = "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"
# Services whose every action the project's rule E9703 keeps off Resource "*" (reads included): their reads
# without a resource type join the unscopable writes.
ALWAYS_SCOPED = frozenset({"kms"})
POLICY_ATTACHMENT = re.compile(r"^iam:(Attach|Detach)(Role|Group|User)Policy$")
# The resources a role passed to a service is associated with, as iam:AssociatedResourceArn must name them
# (*AddRoleToInstanceProfile*: "The ARN value must be arn:aws:ec2:*:CallerAccountId:instance/*").
ASSOCIATED_RESOURCES = {"ec2.amazonaws.com": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"}
SERVICE_LINKED_ROLE = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/{service}/{role}*"


@dataclass(frozen=True)
class ProductResource:
    """One resource of a product template, as the template writes it."""

    product: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    template_resources: frozenset[str]   # logical ids of the template's resources (what a Ref may name)
    snapshot_on_delete: bool = False     # DeletionPolicy or UpdateReplacePolicy Snapshot


@dataclass
class Grant:
    """Actions on resources under one condition: becomes one policy statement.  ``kind``: ``read``,
    ``create``, ``create-new``, ``tag-on-create``, ``change``, ``change-untaggable``, ``change-shared``,
    ``unscopable``, ``iam``, ``attachment``, ``pass-role``, ``service-linked-role``, ``key-use``, ``key-grant``."""

    sid: str
    prefix: str
    kind: str
    actions: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)     # Fn::Sub strings, or {"*"}
    condition: dict[str, dict[str, Any]] = field(default_factory=dict)
    regional: bool = True
    needed_by: set[str] = field(default_factory=set)     # resource types
    settings: dict[str, str] = field(default_factory=dict)   # ${Variable} in resources -> SSM setting it reads

    def sorted_actions(self) -> list[str]:
        return sorted(self.actions, key=str.lower)


def _service_name(prefix: str) -> str:
    return "".join(p.capitalize() for p in prefix.split("-"))


def arn_pattern(prefix: str, iam_type: str) -> str:
    """This account's ARNs of an IAM resource type, in any region (Fn::Sub syntax); account-less where AWS
    owns the resource (public images)."""
    if prefix in SCOPES:
        return SCOPES[prefix].replace("{type}", iam_type)
    formats = handlers.iam_resource(prefix, iam_type).get("ARNFormats", [])
    if not formats:
        raise BuildError(f"IAM resource type {prefix}:{iam_type} has no ARN format in cfn-lint's Policies.json")
    out = formats[0].replace("${Partition}", "${AWS::Partition}").replace("${Account}", "${AWS::AccountId}")
    out = out.replace("${Region}", "*").replace(".*", "*")
    out = re.sub(r"\$\{(?!AWS::)[^}]*\}", "*", out)
    return re.sub(r"\*+", "*", out)


# An administrator setting read by a product: the whole property value is one SSM dynamic reference without a
# version (the setting's current value, as the launch role reads it too).
SETTING_REFERENCE = re.compile(r"^\{\{resolve:ssm:(/?[A-Za-z0-9_.\-/]+)\}\}$")


def setting_variable(name: str) -> str:
    """The launch role template's parameter reading SSM parameter ``name``: ``/hipaa-catalog/dns/hosted-zone-id``
    -> ``HipaaCatalogDnsHostedZoneId``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _named_by_setting(pattern: str, kind: str, name: str) -> str:
    """The ARN of the one resource setting ``name`` names, in Fn::Sub syntax (``pattern``: the type's ARNs)."""
    variable = "${" + setting_variable(name) + "}"
    if kind == "arn":
        return variable
    if not pattern.endswith("*"):
        raise BuildError(f"IAM ARN format {pattern} does not end with the resource's id; a setting cannot name it")
    return pattern[:-1] + variable


def _key_pattern(key: str, value: Any, settings: dict[str, str]) -> str:
    """What a condition key taken from a resource property may be, as a StringLike pattern: a literal as
    the request carries it; a Fn::Sub with its variables as ``*`` and its settings (``{{resolve:ssm:NAME}}``)
    as the launch role's parameters reading them (added to ``settings``); ``*`` for anything else (a
    developer's parameter, a resource attribute)."""
    if isinstance(value, Mapping) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        text = re.sub(r"\$\{[^}!]+\}", "*", text)
    elif isinstance(value, str):
        text = value
    else:
        return "*"
    parts = re.split(r"(\{\{resolve:ssm:[A-Za-z0-9_.\-/]+\}\})", text)
    out = []
    for i, part in enumerate(parts):
        setting = SETTING_REFERENCE.match(part)
        if setting:
            settings[setting_variable(setting.group(1))] = setting.group(1)
            out.append("${" + setting_variable(setting.group(1)) + "}")
        elif part:   # the variables' "*" stay wildcards
            out.append(handlers.resource_key_value(key, part, whole=i == len(parts) - 1).replace("\\052", "*"))
    return "".join(out) or "*"


def _names_template_resource(value: Any, resources: frozenset[str]) -> bool:
    """Whether a raw property value is (or chooses between) a Ref / GetAtt / Sub of a template resource."""
    if isinstance(value, Mapping):
        if "Ref" in value:
            return value["Ref"] in resources
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return (target[0] if isinstance(target, list) else str(target).split(".")[0]) in resources
        if "Fn::If" in value:
            return any(_names_template_resource(v, resources) for v in value["Fn::If"][1:])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return any(name.split(".")[0] in resources for name in re.findall(r"\$\{([^}!]+)\}", text))
    return False


class _Collector:
    def __init__(self, regions: Sequence[str], products: Sequence[str]):
        self.regions = list(regions)
        self.products = sorted(products)
        self.grants: dict[str, Grant] = {}
        self.passes: dict[str, list[handlers.Need]] = {}

    def grant(self, sid: str, prefix: str, kind: str, action: str, resource: str, needed_by: str,
              condition: dict[str, dict[str, Any]] | None = None, regional: bool | None = None) -> Grant:
        g = self.grants.get(sid)
        if g is None:
            g = self.grants[sid] = Grant(sid, prefix, kind, condition=condition or {},
                                         regional=prefix not in handlers.GLOBAL_SERVICES if regional is None
                                         else regional)
        g.actions.add(action)
        g.resources.add(resource)
        g.needed_by.add(needed_by)
        return g

    def add(self, res: ProductResource, op: str, need: handlers.Need, creating: str | None) -> None:
        action, prefix = need.action, need.action.partition(":")[0]
        svc = _service_name(prefix)
        if need.why == "pass-role":
            self._pass_role(res, need)
            return
        if need.why == "service-linked-role":
            service, role = need.targets[0].value
            self.grant(f"IamCreateServiceLinkedRoleFor{_service_name(service.split('.')[0])}", "iam",
                       "service-linked-role", action, SERVICE_LINKED_ROLE.replace("{service}", service).replace("{role}", role),
                       res.type, {"StringEquals": {"iam:AWSServiceName": service}})
            return
        if need.why == "key-use":
            self._key_use(res, need)
            return
        if handlers.is_read_only(action) and (need.targets or prefix not in ALWAYS_SCOPED):
            for resource in [arn_pattern(t.prefix, t.iam_type) for t in need.targets] or ["*"]:
                self.grant(f"{svc}Read", prefix, "read", action, resource, res.type)
            return
        if not need.targets:
            self.grant(f"{svc}Unscopable", prefix, "unscopable", action, "*", res.type)
            return
        for target in need.targets:
            pattern = arn_pattern(target.prefix, target.iam_type)
            owned = target.origin == "self" or (
                target.origin == "property" and _names_template_resource(target.value, res.template_resources))
            if prefix in SCOPES:
                if POLICY_ATTACHMENT.match(action):
                    g = self.grant("IamPolicyAttachment", prefix, "attachment", action, pattern, res.type)
                else:
                    g = self.grant(f"{svc}ProductPath", prefix, "iam", action, pattern, res.type)
            elif target.origin == "new":   # created by the action besides the resource (a final snapshot)
                g = self.grant(f"{svc}New{_service_name(target.iam_type)}s", prefix, "create-new", action, pattern,
                               res.type)
            elif need.new and target.origin == "self" and action != creating:
                if need.context:   # the service's create-action key
                    key, value = need.context[0]
                    g = self.grant(f"{svc}TagOnCreate", prefix, "tag-on-create", action, pattern, res.type,
                                   {"StringEquals": {key: set()}})
                    g.condition["StringEquals"][key].add(value)
                else:
                    g = self.grant(f"{svc}TagOnCreate", prefix, "tag-on-create", action, pattern, res.type,
                                   {"StringEquals": {f"aws:RequestTag/{PRODUCT_TAG}": self.products}})
            elif action == creating:
                g = self.grant(f"{svc}Create", prefix, "create", action, pattern, res.type)
            elif owned and handlers.taggable(target.prefix, target.iam_type):
                g = self.grant(f"{svc}ChangeProductResources", prefix, "change", action, pattern, res.type,
                               {"StringEquals": {f"aws:ResourceTag/{PRODUCT_TAG}": self.products}})
            elif owned:
                g = self.grant(f"{svc}ChangeUntaggableProductResources", prefix, "change-untaggable", action,
                               pattern, res.type)
            else:
                setting = SETTING_REFERENCE.match(target.value) if target.origin == "property" and \
                    isinstance(target.value, str) else None
                if setting:
                    pattern = _named_by_setting(pattern, target.kind, setting.group(1))
                g = self.grant(f"{svc}ChangeSharedResources", prefix, "change-shared", action, pattern, res.type)
                if setting:
                    g.settings[setting_variable(setting.group(1))] = setting.group(1)
            for key, value in need.resource_keys:
                g.condition.setdefault("ForAllValues:StringLike", {}).setdefault(key, set()).add(
                    _key_pattern(key, value, g.settings))

    def _pass_role(self, res: ProductResource, need: handlers.Need) -> None:
        target = need.targets[0]
        if not _names_template_resource(target.value, res.template_resources):
            raise BuildError(f"product {res.product}: resource {res.logical_id} ({res.type}) passes the role "
                             f"{json.dumps(target.value)} in {target.prop}; the launch role may pass only the "
                             f"product's own roles (under {PRODUCT_IAM_PATH})",
                             hint="create the role in the product template with the products' IAM path")
        sid = f"IamPassRoleTo{_service_name(need.service.split('.')[0])}"
        self.grant(sid, "iam", "pass-role", need.action, arn_pattern("iam", "role"), res.type)
        self.passes.setdefault(sid, []).append(need)

    def pass_role_conditions(self) -> None:
        """Each pass-role grant names its service: ``StringEquals iam:PassedToService``, or ``...IfExists``
        where a call passing the role to it is not documented to send the key (AddRoleToInstanceProfile);
        with ``iam:AssociatedResourceArn`` of the service's resources where every such call sends it."""
        for sid, passes in self.passes.items():
            service = passes[0].service
            sent = all(dict(n.context).get("iam:PassedToService") == service for n in passes)
            condition: dict[str, dict[str, Any]] = {
                "StringEquals" if sent else "StringEqualsIfExists": {"iam:PassedToService": service}}
            associated = {dict(n.context).get("iam:AssociatedResourceArn") for n in passes}
            if None not in associated and service in ASSOCIATED_RESOURCES:
                condition["ArnLike"] = {"iam:AssociatedResourceArn": ASSOCIATED_RESOURCES[service]}
            self.grants[sid].condition = condition

    def _key_use(self, res: ProductResource, need: handlers.Need) -> None:
        if not _names_template_resource(need.targets[0].value, res.template_resources):
            raise BuildError(f"product {res.product}: resource {res.logical_id} ({res.type}) encrypts with "
                             f"{json.dumps(need.targets[0].value)}; the launch role may use only AWS managed keys "
                             "(alias/aws/...) and keys the product template creates",
                             hint="create the key in the product template")
        via = [f"{need.service}.{region}.amazonaws.com" for region in self.regions]
        tag = {f"aws:ResourceTag/{PRODUCT_TAG}": self.products}
        if need.action == "kms:CreateGrant":
            sid, kind = "KmsGrantProductKeysToAwsResources", "key-grant"
            condition = {"StringEquals": {"kms:ViaService": set(), **tag}, "Bool": {"kms:GrantIsForAWSResource": "true"}}
        else:
            sid, kind = "KmsUseProductKeysViaServices", "key-use"
            condition = {"StringEquals": {"kms:ViaService": set(), **tag}}
        self.grant(sid, "kms", kind, need.action, ACCOUNT_KEYS, res.type, condition, regional=False)
        self.grants[sid].condition["StringEquals"]["kms:ViaService"].update(via)


def derive(resources: Iterable[ProductResource], regions: Sequence[str], products: Sequence[str]) -> list[Grant]:
    """Every grant the launch role needs to create, read, update and delete ``resources``."""
    collector = _Collector(regions, products)
    for res in sorted(resources, key=lambda r: (r.product, r.logical_id)):
        _check_product_tag(res, regions)
        creating = handlers.creating_action(res.type, regions)
        for op in handlers.OPERATIONS:
            for need in handlers.needs(res.type, op, res.properties, regions, snapshot=res.snapshot_on_delete):
                collector.add(res, op, need, creating)
    collector.pass_role_conditions()
    grants = sorted(collector.grants.values(), key=lambda g: (_ORDER.index(g.kind), g.prefix, g.sid))
    for g in grants:
        if "*" in g.resources:
            g.resources = {"*"}
        for block in g.condition.values():
            for key, value in list(block.items()):
                if isinstance(value, set):
                    block[key] = sorted(value)
    return grants


_ORDER = ("pass-role", "service-linked-role", "iam", "attachment", "key-use", "key-grant", "create", "create-new",
          "tag-on-create", "change", "change-untaggable", "change-shared", "read", "unscopable")


def _check_product_tag(res: ProductResource, regions: Sequence[str]) -> None:
    """A resource the launch role may change only by its product tag must carry it."""
    own = handlers.own_type(res.type)
    prefix = handlers.service_of(res.type)
    if own is None or prefix in SCOPES or not handlers.taggable(prefix, own):
        return
    tag_property = (handlers.schema(res.type, regions).get("tagging") or {}).get("tagProperty", "/properties/Tags")
    value = res.properties.get(tag_property.rsplit("/", 1)[-1])
    tags = {t.get("Key"): t.get("Value") for t in value if isinstance(t, Mapping)} if isinstance(value, list) \
        else dict(value) if isinstance(value, Mapping) else {}
    if tags.get(PRODUCT_TAG) != res.product:
        raise BuildError(f"product {res.product}: resource {res.logical_id} ({res.type}) has no tag "
                         f"{PRODUCT_TAG}={res.product}; the launch role changes only resources carrying their "
                         "product's tag", hint="tag it with generator.blocks.tags.standard(...)")
