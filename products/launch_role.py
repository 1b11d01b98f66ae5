"""The launch role: the IAM role Service Catalog assumes to launch, update and terminate the catalog's products.

Used as every product's launch constraint.  What it may do comes from two places:

* **Service Catalog's own needs** (*AWS Service Catalog Launch Constraints*,
  https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html, and its tutorial
  policy, *Step 6: Add a launch constraint to assign an IAM role*,
  https://docs.aws.amazon.com/servicecatalog/latest/adminguide/getstarted-launchconstraint.html): the
  tutorial's CloudFormation actions, on Service Catalog's ``SC-*`` stacks only (``ServiceCatalogStacks``,
  ``ReadTemplates``); "Read access to the AWS CloudFormation template in a service-owned Amazon S3
  bucket", which has to be ``s3:GetObject`` on Resource ``*`` with the condition the page prescribes
  ("you must use this string": ``s3:ExistingObjectTag/servicecatalog:provisioning`` = ``true``;
  ``ReadProvisioningTemplates``); and ``ssm:GetParameters`` on exactly the SSM parameters the product
  templates name, which CloudFormation resolves with the caller's credentials (*CloudFormation service
  role*: "By default, CloudFormation uses a temporary session that it generates from your user
  credentials for stack operations"; ``ReadProductSsmParameters``).  The launch-constraint page also
  says ``servicecatalog:ProvisionProduct``, ``TerminateProvisionedProduct`` and
  ``UpdateProvisionedProduct`` "cannot be assigned in a launch role": the role has no servicecatalog
  action at all.
* **What CloudFormation asks of the caller for each product resource**, DERIVED from every product
  template registered before this one (``generator.blocks.permissions``): adding a resource type or a
  property to a product changes this role at the next build.  A statement limited to what an
  administrator setting names (the PROD sites' hosted zone and domain) reads the setting through an
  SSM-typed parameter of this template (``setting_parameters``).

Trust: only ``servicecatalog.amazonaws.com``, and only on behalf of this account in the catalog's
regions: the launch-constraint page's "Adding Confused Deputy to Launch Constraint": "you can restrict
the launch role access by using ``sourceAccount`` and ``sourceArn`` conditions in the launch role trust
policy" (``aws:SourceAccount``; ``aws:SourceArn`` ``arn:<partition>:servicecatalog:<region>:<account>:*``,
the templated form the page says is the only one supported).  What AWS does not document is the source of a
launch from a portfolio shared through AWS Organizations (``trust_policy``).

Every statement's Sid says what it is for; the policy's Metadata (``needed-by``) lists,
per Sid, the resource types (or Service Catalog operations) that need it.  Managed policies only, none
longer than IAM's 6,144 characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import awacs.aws
from awacs.aws import ArnLike, Condition, Statement, StringEquals
from troposphere import Output, Parameter, Ref, Sub, Template, encode_to_dict, iam as cfn_iam

from generator.blocks import admin_settings as admin, permissions
from generator.blocks.catalog import PROVISIONING_TAG_KEY, PROVISIONING_TAG_VALUE, waived
from generator.blocks.iam import actions, document, managed_policy, service_trust, statement
from generator.errors import BuildError
from generator.product import ProductConfig, ProductSpec, config_error, options_for

NAME = "launch-role"
MAX_POLICY_CHARS = 6144   # IAM managed policy size limit (whitespace not counted)
MAX_POLICIES = 10         # managed policies per role (default quota)
SERVICE_CATALOG = "servicecatalog.amazonaws.com"
NEEDS_KEY = "needed-by"   # policy Metadata: Sid -> the resource types or Service Catalog operations that need it

# The tutorial policy's CloudFormation actions (getstarted-launchconstraint.html), on SC-* stacks.
STACK_ACTIONS = ("cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents",
                 "cloudformation:DescribeStacks", "cloudformation:SetStackPolicy", "cloudformation:UpdateStack")
TEMPLATE_ACTIONS = ("cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate")
SSM_READ_ACTIONS = ("ssm:GetParameters",)
AWS_MANAGED_POLICY = re.compile(r"arn:(?:\$\{AWS::Partition\}|aws[a-z-]*):iam::aws:policy/([A-Za-z0-9+=,.@_/-]+)")
# The version may be a number or, inside Fn::Sub, a parameter (``{{resolve:ssm:NAME:${AmiVersion}}}``).
SSM_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:ssm:([A-Za-z0-9_.\-/]+?)(?::(?:\d+|\$\{[A-Za-z0-9]+\}))?\}\}")
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"
SERVICE_CATALOG_NEEDS = {
    "ServiceCatalogStacks": ["ProvisionProduct", "UpdateProvisionedProduct", "TerminateProvisionedProduct"],
    "ReadTemplates": ["ProvisionProduct", "UpdateProvisionedProduct"],
    "ReadProvisioningTemplates": ["ProvisionProduct", "UpdateProvisionedProduct"],
}


@dataclass(frozen=True)
class CoveredProduct:
    name: str
    version: str
    resources: tuple[permissions.ProductResource, ...] = ()
    managed_policies: tuple[str, ...] = ()   # AWS managed policies its IAM principals attach (names below policy/)
    ssm_parameters: tuple[str, ...] = ()     # SSM parameters CloudFormation reads for it (launch role's credentials)

    @property
    def resource_types(self) -> tuple[str, ...]:
        return tuple(sorted({r.type for r in self.resources}))


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


def product_resources(product: str, template: dict) -> tuple[permissions.ProductResource, ...]:
    resources = template.get("Resources", {})
    names = frozenset(resources)
    return tuple(permissions.ProductResource(
        product, lid, res.get("Type", ""), res.get("Properties") or {}, names,
        snapshot_on_delete="Snapshot" in (res.get("DeletionPolicy"), res.get("UpdateReplacePolicy")))
        for lid, res in sorted(resources.items()) if res.get("Type"))


def make_config(settings, product, built) -> LaunchRoleConfig:
    """Cover every kind="product" template rendered before the launch role (``built``, by name)."""
    covers = []
    for name, rendered in built.items():
        if rendered.kind != "product":
            continue
        template = rendered.template
        covers.append(CoveredProduct(name, rendered.version, product_resources(name, template),
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
    """What Service Catalog itself needs of the launch role (module docstring)."""
    return [
        statement("ServiceCatalogStacks", list(STACK_ACTIONS),
                  Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"),
                  condition=_region_condition(cfg)),
        statement("ReadTemplates", list(TEMPLATE_ACTIONS), "*", condition=_region_condition(cfg)),
        statement("ReadProvisioningTemplates", ["s3:GetObject"], "*",
                  condition=Condition(StringEquals(f"s3:ExistingObjectTag/{PROVISIONING_TAG_KEY}", PROVISIONING_TAG_VALUE))),
    ]


def ssm_read_statements(cfg: LaunchRoleConfig) -> list[Statement]:
    """Read exactly the SSM parameters the product templates name (administrator settings, public AMI ids)."""
    if not cfg.ssm_parameters:
        return []
    return [statement("ReadProductSsmParameters", list(SSM_READ_ACTIONS),
                      [ssm_parameter_arn(n) for n in cfg.ssm_parameters], condition=_region_condition(cfg))]


def _condition(cfg: LaunchRoleConfig, grant: permissions.Grant) -> Condition | None:
    condition = {op: dict(keys) for op, keys in grant.condition.items()}
    if grant.kind == "attachment":
        policies = [Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}") for name in cfg.managed_policies]
        policies.append(Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{admin.PRODUCT_IAM_PATH}*"))
        condition["ArnLike"] = {"iam:PolicyARN": policies}
    if grant.regional:
        condition.setdefault("StringEquals", {})["aws:RequestedRegion"] = list(cfg.regions)
    for keys in condition.values():
        for key, value in keys.items():
            if isinstance(value, str) and "${" in value:
                keys[key] = Sub(value)
            elif isinstance(value, list):
                keys[key] = [Sub(v) if isinstance(v, str) and "${" in v else v for v in value]
    if not condition:
        return None
    return Condition([getattr(awacs.aws, op.replace(":", ""))(keys) for op, keys in sorted(condition.items())])


Derived = tuple[list[tuple[Statement, list[str]]], list[tuple[Statement, list[str]]], dict[str, str]]


def derived_statements(cfg: LaunchRoleConfig) -> Derived:
    """(statements, statements of write actions AWS allows only on Resource *), each with what needs it, and
    the administrator settings their resources name (template parameter -> SSM parameter name)."""
    resources = [r for p in cfg.covers for r in p.resources]
    grants = permissions.derive(resources, cfg.regions, [p.name for p in cfg.covers])
    normal, unscopable, settings = [], [], {}
    for g in grants:
        settings.update(g.settings)
        res = ["*"] if g.resources == {"*"} else [Sub(r) for r in sorted(g.resources)]
        kwargs = {"Sid": g.sid, "Effect": "Allow", "Action": actions(g.sorted_actions()), "Resource": res}
        condition = _condition(cfg, g)
        if condition:
            kwargs["Condition"] = condition
        (unscopable if g.kind == "unscopable" else normal).append((Statement(**kwargs), sorted(g.needed_by)))
    return normal, unscopable, settings


def setting_parameters(t: Template, settings: dict[str, str]) -> None:
    """One SSM-typed parameter per administrator setting a statement names, its default the setting, locked to
    it (CloudFormation "retrieves the latest value from Parameter Store" at every create and update: *Specify
    existing resources at runtime with CloudFormation-supplied parameter types*,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html),
    so the role follows the setting each time it is deployed."""
    for logical_id, name in sorted(settings.items()):
        t.add_parameter(Parameter(
            logical_id, Type="AWS::SSM::Parameter::Value<String>", Default=name, AllowedValues=[name],
            Description=f"Administrator setting, do not change: SSM parameter {name}, which limits what a "
                        "statement of the launch role may change (redeploy the launch role after changing it)",
            ConstraintDescription=f"must be {name} (written by the account baseline)"))


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


def _with_needs(policy, needed_by: dict[str, list[str]]):
    meta = policy.resource.get("Metadata") or {}
    meta[NEEDS_KEY] = {sid: needed_by[sid] for sid in sorted(needed_by)}
    policy.Metadata = meta
    return policy


def trust_policy(cfg: LaunchRoleConfig):
    """Service Catalog may assume the role only for launches of this account in the catalog's regions.

    Documented: the conditions themselves, for a launch constraint of the account's own portfolio ("Adding
    Confused Deputy to Launch Constraint", *AWS Service Catalog Launch Constraints*,
    https://docs.aws.amazon.com/servicecatalog/latest/adminguide/constraints-launch.html), and that a
    ``LocalRoleName`` constraint uses "the IAM role with that name in the account" of the user who launches
    (*AWS::ServiceCatalog::LaunchRoleConstraint*, LocalRoleName,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-servicecatalog-launchroleconstraint.html).
    Not documented: which account and ARN Service Catalog gives as ``aws:SourceAccount`` / ``aws:SourceArn``
    when a member account launches from a portfolio shared with it through AWS Organizations: neither page
    says, and no other page of the Administrator Guide found (sharing, confused deputy, LocalRoleName) does.  This role is the member account's own and the provisioned product is
    created there, so the conditions name the role's account (``AWS::AccountId``); the README ("Setting up an
    organisation") says how a different source would show and what to do."""
    source_arns = [Sub(f"arn:${{AWS::Partition}}:servicecatalog:{region}:${{AWS::AccountId}}:*")
                   for region in cfg.regions]
    return service_trust(SERVICE_CATALOG, condition=Condition([
        StringEquals("aws:SourceAccount", Ref("AWS::AccountId")), ArnLike("aws:SourceArn", source_arns)]))


def build(cfg: LaunchRoleConfig) -> Template:
    t = Template(Description=f"{cfg.catalog} launch role {cfg.version}: assumed by Service Catalog to launch "
                             f"{', '.join(f'{p.name} {p.version}' for p in cfg.covers)}")
    t.set_version("2010-09-09")
    normal, unscopable, settings = derived_statements(cfg)
    # --- parameters
    setting_parameters(t, settings)
    # --- resources
    role = t.add_resource(cfn_iam.Role(
        "LaunchRole", RoleName=admin.LAUNCH_ROLE_NAME,
        Description=f"Service Catalog launch role of {cfg.catalog} (launch constraint of every product)",
        AssumeRolePolicyDocument=trust_policy(cfg)))
    base = base_statements(cfg) + ssm_read_statements(cfg)
    needed_by = {st.Sid: SERVICE_CATALOG_NEEDS.get(st.Sid, ["CloudFormation: SSM parameters and dynamic references "
                                                           "of the product templates"]) for st in base}
    needed_by.update({st.Sid: types for st, types in normal + unscopable})
    chunks = pack(base + [st for st, _ in normal])
    if len(chunks) + bool(unscopable) > MAX_POLICIES:
        raise config_error(cfg.product, "permissions", f"{len(chunks)} policies", f"at most {MAX_POLICIES}")
    for i, chunk in enumerate(chunks, start=1):
        t.add_resource(_with_needs(managed_policy(
            f"LaunchPolicy{i}", f"{cfg.catalog} launch role, part {i} of {len(chunks)}", chunk, roles=[Ref(role)]),
            {st.Sid: needed_by[st.Sid] for st in chunk}))
    if unscopable:
        sts = [st for st, _ in unscopable]
        if len(pack(sts)) > 1:
            raise config_error(cfg.product, "permissions", "unscopable actions", f"one policy of {MAX_POLICY_CHARS}")
        pol = managed_policy("LaunchPolicyUnscopable", f"{cfg.catalog} launch role: actions AWS authorizes "
                             "only on Resource *, limited to the catalog regions", sts, roles=[Ref(role)])
        names = ", ".join(a.JSONrepr() for st in sts for a in st.Action)
        t.add_resource(_with_needs(waived(pol, ("E9703", (
            "the IAM service authorization reference defines no resource type for these actions, so AWS "
            f"authorizes them only on Resource *; derived from the products' resource types: {names}; "
            "limited to the catalog regions by aws:RequestedRegion"))), {st.Sid: needed_by[st.Sid] for st in sts}))
    # --- outputs
    t.add_output(Output("LaunchRoleArn", Value=role.get_att("Arn"), Description="launch constraint RoleArn"))
    t.add_output(Output("LaunchRoleName", Value=Ref(role), Description="launch constraint LocalRoleName"))
    return t


SPEC = ProductSpec(name=NAME, title="Launch role", kind="admin", build=build, make_config=make_config,
                   manifest_extra=manifest_extra)
