"""The launch role: the IAM role Service Catalog assumes to launch the catalog's products.

Used as every product's launch constraint.  Trusted only by Service Catalog of this account.  Its
permissions are the classic launch-role base (CloudFormation stacks and change sets on Service Catalog's
``SC-*`` stacks, template reads from the template buckets for objects tagged
``servicecatalog:provisioning=true``), ``ssm:GetParameters`` on exactly the SSM parameters the product
templates name (CloudFormation resolves SSM-typed parameters and ``{{resolve:ssm:...}}`` with the launch
role's credentials), plus the per-service permissions DERIVED from the resource types of
every product built before it (``generator.blocks.permissions``): adding a resource type to a product changes
this role at the next build.  Two derived groups get conditions here:

- using this account's KMS keys (encrypt, decrypt, re-encrypt, data keys, grants; always at least the
  ones EBS needs for a customer-key volume and CloudWatch Logs for a key-encrypted log group) only
  through ``kms:ViaService`` of EC2, CloudWatch Logs, AWS Backup and the services of the products'
  resource types that asked for key use, in the catalog regions; grants only for AWS resources;
- attaching and detaching managed policies only with ``iam:PolicyARN`` naming the AWS managed policies
  the product templates attach (read from their ``ManagedPolicyArns``) or policies under the products'
  IAM path.

Managed policies only, none longer than IAM's 6,144 characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from awacs.aws import ArnLike, Bool, Condition, ForAnyValueStringEquals, Principal, Statement, StringEquals, StringLike
from troposphere import Output, Ref, Sub, Template, encode_to_dict, iam as cfn_iam

from generator.blocks import admin_settings as admin, permissions
from generator.blocks.catalog import PROVISIONING_TAG_KEY, PROVISIONING_TAG_VALUE, template_bucket_prefix, waived
from generator.blocks.iam import actions, document, managed_policy, service_trust, statement
from generator.errors import BuildError, ConfigError
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "launch-role"
MAX_POLICY_CHARS = 6144   # IAM managed policy size limit (whitespace not counted)
MAX_POLICIES = 10         # managed policies per role (default quota)

STACK_ACTIONS = ("cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents",
                 "cloudformation:DescribeStacks", "cloudformation:SetStackPolicy", "cloudformation:UpdateStack",
                 # UpdateProvisionedProduct goes through a change set on the SC-* stack
                 "cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                 "cloudformation:ExecuteChangeSet", "cloudformation:DeleteChangeSet")
# What EC2 needs to create a volume encrypted with a customer key (and CloudWatch Logs a log group), from
# the launching principal, whatever the provider schemas list; limited to kms:ViaService of these services.
KEY_USE_ACTIONS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt",
                   "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*")
KEY_USE_SERVICES = ("backup", "ec2", "logs")
AWS_MANAGED_POLICY = re.compile(r"arn:(?:\$\{AWS::Partition\}|aws[a-z-]*):iam::aws:policy/([A-Za-z0-9+=,.@_/-]+)")
TEMPLATE_ACTIONS = ("cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate")
# CloudFormation reads SSM-typed parameters and {{resolve:ssm:...}} references with the caller's (here: the
# launch role's) credentials, through GetParameters.
SSM_READ_ACTIONS = ("ssm:GetParameters",)
# The version may be a number or, inside Fn::Sub, a parameter (``{{resolve:ssm:NAME:${AmiVersion}}}``).
SSM_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:ssm:([A-Za-z0-9_.\-/]+?)(?::(?:\d+|\$\{[A-Za-z0-9]+\}))?\}\}")
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"


@dataclass(frozen=True)
class CoveredProduct:
    name: str
    version: str
    resource_types: tuple[str, ...]
    managed_policies: tuple[str, ...] = ()   # AWS managed policies its IAM principals attach (names below policy/)
    ssm_parameters: tuple[str, ...] = ()     # SSM parameters CloudFormation reads for it (launch role's credentials)


@dataclass(frozen=True)
class LaunchRoleConfig(ProductConfig):
    catalog: str = "hipaa-catalog"
    covers: tuple[CoveredProduct, ...] = field(default=())

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.covers:
            raise config_error(self.product, "covers", self.covers,
                               "at least one kind=\"product\" spec registered before the launch role")

    @property
    def resource_types(self) -> tuple[str, ...]:
        return tuple(sorted({t for p in self.covers for t in p.resource_types}))

    @property
    def managed_policies(self) -> tuple[str, ...]:
        return tuple(sorted({m for p in self.covers for m in p.managed_policies}))

    @property
    def ssm_parameters(self) -> tuple[str, ...]:
        return tuple(sorted({n for p in self.covers for n in p.ssm_parameters}))


def read_ssm_parameters(template: dict) -> tuple[str, ...]:
    """The SSM parameter names CloudFormation resolves for ``template``: ``{{resolve:ssm:NAME[:version]}}``
    anywhere in it and the defaults (and allowed values) of its ``AWS::SSM::Parameter::Value<...>``
    parameters."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str):
            found.update(SSM_DYNAMIC_REFERENCE.findall(value))

    walk(template.get("Resources", {}))
    walk(template.get("Outputs", {}))
    for param in template.get("Parameters", {}).values():
        if str(param.get("Type", "")).startswith(SSM_PARAMETER_TYPE):
            found.update(v for v in [param.get("Default"), *param.get("AllowedValues", [])] if isinstance(v, str) and v)
    return tuple(sorted(found))


def ssm_parameter_arn(name: str) -> Sub:
    """ARN of parameter ``name`` in any region: AWS public parameters (``/aws/service/...``) have no account."""
    account = "" if name.startswith("/aws/") else "${AWS::AccountId}"
    return Sub(f"arn:${{AWS::Partition}}:ssm:*:{account}:parameter/{name.lstrip('/')}")


def attached_managed_policies(product: str, template: dict) -> tuple[str, ...]:
    """The AWS managed policies (names below ``policy/``) that ``template``'s roles, groups and users attach.

    An entry of ``ManagedPolicyArns`` is an AWS managed policy ARN (a string or ``Fn::Sub``), a ``Ref`` to
    an ``AWS::IAM::ManagedPolicy`` of the template under the products' IAM path, or ``Fn::If`` of those;
    anything else is an error, since the launch role could not attach it."""
    resources = template.get("Resources", {})
    allowed = (f"an AWS managed policy ARN (arn:${{AWS::Partition}}:iam::aws:policy/NAME), or a Ref to an "
               f"AWS::IAM::ManagedPolicy of the template with Path {admin.PRODUCT_IAM_PATH}")
    found: set[str] = set()

    def walk(lid: str, value) -> None:
        if isinstance(value, list):
            for v in value:
                walk(lid, v)
            return
        if isinstance(value, dict) and set(value) == {"Fn::If"}:
            for branch in value["Fn::If"][1:]:
                walk(lid, branch)
            return
        if value == {"Ref": "AWS::NoValue"}:
            return
        if isinstance(value, dict) and set(value) == {"Ref"}:
            target = resources.get(value["Ref"], {})
            path = target.get("Properties", {}).get("Path")
            if target.get("Type") == "AWS::IAM::ManagedPolicy" and path == admin.PRODUCT_IAM_PATH:
                return
        text = value.get("Fn::Sub") if isinstance(value, dict) and set(value) == {"Fn::Sub"} else value
        match = AWS_MANAGED_POLICY.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise BuildError(f"product {product}: resource {lid}: ManagedPolicyArns entry {json.dumps(value)}: "
                             f"the launch role cannot be allowed to attach it; allowed: {allowed}",
                             hint="use generator.blocks.iam.aws_managed(NAME), or a managed policy with "
                                  f"path={admin.PRODUCT_IAM_PATH}")
        found.add(match.group(1))

    for lid, res in resources.items():
        if res.get("Type") in ("AWS::IAM::Role", "AWS::IAM::Group", "AWS::IAM::User"):
            walk(lid, res.get("Properties", {}).get("ManagedPolicyArns", []))
    return tuple(sorted(found))


def make_config(settings, product, built) -> LaunchRoleConfig:
    """Cover every kind="product" template rendered before the launch role (``built``, by name)."""
    covers = []
    for name, rendered in built.items():
        if rendered.kind != "product":
            continue
        template = rendered.template
        types = sorted({r.get("Type", "") for r in template.get("Resources", {}).values()} - {""})
        covers.append(CoveredProduct(name, rendered.version, tuple(types),
                                     attached_managed_policies(name, template), read_ssm_parameters(template)))
    return LaunchRoleConfig(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                            regions=settings.regions, catalog=settings.name, covers=tuple(covers),
                            **options_for(LaunchRoleConfig, product.name, product.options))


def manifest_extra(cfg: LaunchRoleConfig) -> dict:
    return {"covers": [{"name": p.name, "version": p.version} for p in cfg.covers],
            "covered_resource_types": list(cfg.resource_types)}


def _region_condition(cfg: LaunchRoleConfig) -> Condition:
    return Condition(StringEquals("aws:RequestedRegion", list(cfg.regions)))


def base_statements(cfg: LaunchRoleConfig) -> list[Statement]:
    """The classic launch-role policy, scoped: SC-* stacks and their change sets, tagged template objects,
    the template keys."""
    bucket_objects = Sub(f"arn:${{AWS::Partition}}:s3:::{template_bucket_prefix(cfg.catalog)}-${{AWS::AccountId}}-*/*")
    return [
        statement("ServiceCatalogStacks", list(STACK_ACTIONS),
                  Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"),
                  condition=_region_condition(cfg)),
        statement("ReadTemplates", list(TEMPLATE_ACTIONS), "*"),
        statement("ReadProvisioningTemplates", ["s3:GetObject"], bucket_objects,
                  condition=Condition(StringEquals(f"s3:ExistingObjectTag/{PROVISIONING_TAG_KEY}", PROVISIONING_TAG_VALUE))),
        statement("DecryptTemplates", ["kms:Decrypt"], Sub("arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"),
                  condition=Condition([StringLike("kms:ViaService", "s3.*.amazonaws.com"),
                                       ForAnyValueStringEquals("kms:ResourceAliases",
                                                               f"alias/{cfg.catalog}/templates")])),
    ]


def ssm_read_statements(cfg: LaunchRoleConfig) -> list[Statement]:
    """Read exactly the SSM parameters the product templates name (administrator settings, public AMI ids)."""
    if not cfg.ssm_parameters:
        return []
    return [statement("ReadProductSsmParameters", list(SSM_READ_ACTIONS),
                      [ssm_parameter_arn(n) for n in cfg.ssm_parameters], condition=_region_condition(cfg))]


def key_use_statements(cfg: LaunchRoleConfig, groups) -> list[Statement]:
    """Using this account's keys, only through the services that encrypt the products' resources."""
    names = set(KEY_USE_ACTIONS) | {a for g in groups if g.kind == "via-service" for a in g.actions}
    if "kms:ReEncrypt*" in names:
        names -= {"kms:ReEncryptFrom", "kms:ReEncryptTo"}
    services = sorted(set(KEY_USE_SERVICES) | {s for g in groups if g.kind == "via-service" for s in g.services})
    endpoints = [f"{svc}.{region}.amazonaws.com" for svc in services for region in cfg.regions]
    via = StringEquals("kms:ViaService", endpoints)
    keys = Sub(permissions.ACCOUNT_KEYS)
    return [
        statement("UseAccountKeysViaServices", sorted(names - {"kms:CreateGrant"}, key=str.lower), keys,
                  condition=Condition(via)),
        statement("GrantAccountKeysToAwsResources", ["kms:CreateGrant"], keys,
                  condition=Condition([via, Bool("kms:GrantIsForAWSResource", "true")])),
    ]


def attachment_statement(cfg: LaunchRoleConfig, group) -> Statement:
    """Attach/detach managed policies only to product principals, and only the policies products attach."""
    policies = [Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}") for name in cfg.managed_policies]
    policies.append(Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{admin.PRODUCT_IAM_PATH}*"))
    return Statement(Sid=group.sid, Effect="Allow", Action=actions(group.actions),
                     Resource=[Sub(r) for r in group.resources],
                     Condition=Condition(ArnLike("iam:PolicyARN", policies)))


def derived_statements(cfg: LaunchRoleConfig) -> tuple[list[Statement], list[Statement]]:
    """(scoped and read-only statements, statements of write actions AWS allows only on Resource *)."""
    perms = permissions.derive(cfg.resource_types, cfg.regions)
    normal, unscopable = key_use_statements(cfg, perms.groups), []
    for g in perms.groups:
        if g.kind == "via-service":
            continue  # in key_use_statements
        if g.kind == "attachment":
            normal.append(attachment_statement(cfg, g))
            continue
        resources = ["*"] if g.resources == ("*",) else [Sub(r) for r in g.resources]
        st = Statement(Sid=g.sid, Effect="Allow", Action=actions(g.actions), Resource=resources,
                       **({"Condition": _region_condition(cfg)} if g.regional else {}))
        (unscopable if g.kind == "unscopable" else normal).append(st)
    return normal, unscopable


def _size_of(policy_document: dict) -> int:
    """Characters of a rendered policy document without whitespace (more than IAM counts: Fn::Sub
    placeholders such as ``${AWS::AccountId}`` are longer than what they become)."""
    return len(json.dumps(policy_document, separators=(",", ":")))


def _size(statements) -> int:
    return _size_of(encode_to_dict(document(*statements)))


def pack(statements: list[Statement], limit: int = MAX_POLICY_CHARS) -> list[list[Statement]]:
    """Split ``statements`` into as few policy documents as fit ``limit`` characters each (in order)."""
    out: list[list[Statement]] = [[]]
    for st in statements:
        if _size([st]) > limit:
            raise config_error(NAME, "permissions", st.Sid, f"statements of at most {limit} characters")
        if out[-1] and _size(out[-1] + [st]) > limit:
            out.append([])
        out[-1].append(st)
    return [chunk for chunk in out if chunk]


def build(cfg: LaunchRoleConfig) -> Template:
    t = Template(Description=f"{cfg.catalog} launch role {cfg.version}: assumed by Service Catalog to launch "
                             f"{', '.join(f'{p.name} {p.version}' for p in cfg.covers)}")
    t.set_version("2010-09-09")
    # --- resources
    role = t.add_resource(cfn_iam.Role(
        "LaunchRole", RoleName=admin.LAUNCH_ROLE_NAME,
        Description=f"Service Catalog launch role of {cfg.catalog} (launch constraint of every product)",
        AssumeRolePolicyDocument=service_trust("servicecatalog.amazonaws.com", condition=Condition(
            StringEquals("aws:SourceAccount", Ref("AWS::AccountId"))))))
    normal, unscopable = derived_statements(cfg)
    chunks = pack(base_statements(cfg) + ssm_read_statements(cfg) + normal)
    if len(chunks) + bool(unscopable) > MAX_POLICIES:
        raise config_error(cfg.product, "permissions", f"{len(chunks)} policies", f"at most {MAX_POLICIES}")
    policies = []
    for i, chunk in enumerate(chunks, start=1):
        policies.append(t.add_resource(managed_policy(
            f"LaunchPolicy{i}", f"{cfg.catalog} launch role, part {i} of {len(chunks)}", chunk, roles=[Ref(role)])))
    if unscopable:
        if len(pack(unscopable)) > 1:
            raise config_error(cfg.product, "permissions", "unscopable actions", f"one policy of {MAX_POLICY_CHARS}")
        pol = managed_policy("LaunchPolicyUnscopable", f"{cfg.catalog} launch role: write actions AWS authorizes "
                             "only on Resource *, limited to the catalog regions", unscopable, roles=[Ref(role)])
        names = ", ".join(a.JSONrepr() for st in unscopable for a in st.Action)
        t.add_resource(waived(pol, ("E9703", (
            "the IAM service authorization reference defines no resource type for these actions, so AWS "
            f"authorizes them only on Resource *; derived from the products' resource types: {names}; "
            "limited to the catalog regions by aws:RequestedRegion"))))
    # --- outputs
    t.add_output(Output("LaunchRoleArn", Value=role.get_att("Arn"), Description="launch constraint RoleArn"))
    t.add_output(Output("LaunchRoleName", Value=Ref(role), Description="launch constraint LocalRoleName"))
    return t


SPEC = ProductSpec(name=NAME, title="Launch role", kind="admin", build=build, make_config=make_config,
                   manifest_extra=manifest_extra)
