"""The launch role: the IAM role Service Catalog assumes to launch the catalog's products.

Used as every product's launch constraint.  Trusted only by Service Catalog of this account.  Its
permissions are the classic launch-role base (CloudFormation on Service Catalog's ``SC-*`` stacks,
template reads from the template buckets for objects tagged ``servicecatalog:provisioning=true``) plus
the per-service permissions DERIVED from the resource types of every product built before it
(``generator.permissions``): adding a resource type to a product changes this role at the next build.
Managed policies only, none longer than IAM's 6,144 characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from awacs.aws import Condition, ForAnyValueStringEquals, Principal, Statement, StringEquals, StringLike
from troposphere import Output, Ref, Sub, Template, encode_to_dict, iam as cfn_iam

from generator import admin_settings as admin
from generator import permissions
from generator.config import ProductConfig, config_error, options_for
from generator.errors import ConfigError
from generator.iam import actions, document, managed_policy, service_trust, statement
from generator.spec import ProductSpec
from products import account_baseline as baseline

NAME = "launch-role"
MAX_POLICY_CHARS = 6144   # IAM managed policy size limit (whitespace not counted)
MAX_POLICIES = 10         # managed policies per role (default quota)

STACK_ACTIONS = ("cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents",
                 "cloudformation:DescribeStacks", "cloudformation:SetStackPolicy", "cloudformation:UpdateStack")
TEMPLATE_ACTIONS = ("cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate")


@dataclass(frozen=True)
class CoveredProduct:
    name: str
    version: str
    resource_types: tuple[str, ...]


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


def make_config(settings, product, built, registry=None) -> LaunchRoleConfig:
    """Cover every kind="product" template built before the launch role (``built``, by name)."""
    if registry is None:
        from products.registry import REGISTRY as registry  # noqa: N811 (import at call time: no cycle)
    covers = []
    for name, template in built.items():
        spec = registry.get(name)
        if spec is None or spec.kind != "product":
            continue
        if name not in settings.products:
            raise ConfigError(f"{settings.path}: products.{name}: missing table for a product the launch role covers")
        types = sorted({r.get("Type", "") for r in template.get("Resources", {}).values()} - {""})
        covers.append(CoveredProduct(name, settings.products[name].version, tuple(types)))
    return LaunchRoleConfig(product=product.name, version=product.version, ssm_prefix=settings.ssm_prefix,
                            regions=settings.regions, catalog=settings.name, covers=tuple(covers),
                            **options_for(LaunchRoleConfig, product.name, product.options))


def manifest_extra(cfg: LaunchRoleConfig) -> dict:
    return {"covers": [{"name": p.name, "version": p.version} for p in cfg.covers],
            "covered_resource_types": list(cfg.resource_types)}


def _region_condition(cfg: LaunchRoleConfig) -> Condition:
    return Condition(StringEquals("aws:RequestedRegion", list(cfg.regions)))


def base_statements(cfg: LaunchRoleConfig) -> list[Statement]:
    """The classic launch-role policy, scoped: SC-* stacks, tagged template objects, the template keys."""
    bucket_objects = Sub(f"arn:${{AWS::Partition}}:s3:::{baseline.template_bucket_prefix(cfg.catalog)}-${{AWS::AccountId}}-*/*")
    return [
        statement("ServiceCatalogStacks", list(STACK_ACTIONS),
                  Sub("arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"),
                  condition=_region_condition(cfg)),
        statement("ReadTemplates", list(TEMPLATE_ACTIONS), "*"),
        statement("ReadProvisioningTemplates", ["s3:GetObject"], bucket_objects,
                  condition=Condition(StringEquals(f"s3:ExistingObjectTag/{baseline.PROVISIONING_TAG}", "true"))),
        statement("DecryptTemplates", ["kms:Decrypt"], Sub("arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"),
                  condition=Condition([StringLike("kms:ViaService", "s3.*.amazonaws.com"),
                                       ForAnyValueStringEquals("kms:ResourceAliases",
                                                               f"alias/{cfg.catalog}/templates")])),
    ]


def derived_statements(cfg: LaunchRoleConfig) -> tuple[list[Statement], list[Statement]]:
    """(scoped and read-only statements, statements of write actions AWS allows only on Resource *)."""
    perms = permissions.derive(cfg.resource_types, cfg.regions)
    normal, unscopable = [], []
    for g in perms.groups:
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
    chunks = pack(base_statements(cfg) + normal)
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
        pol.Metadata = {"hipaa-catalog": {"waivers": [{"rule": "E9703", "reason": (
            "the IAM service authorization reference defines no resource type for these actions, so AWS "
            f"authorizes them only on Resource *; derived from the products' resource types: {names}; "
            "limited to the catalog regions by aws:RequestedRegion")}]}}
        t.add_resource(pol)
    # --- outputs
    t.add_output(Output("LaunchRoleArn", Value=role.get_att("Arn"), Description="launch constraint RoleArn"))
    t.add_output(Output("LaunchRoleName", Value=Ref(role), Description="launch constraint LocalRoleName"))
    return t


SPEC = ProductSpec(name=NAME, title="Launch role", kind="admin", build=build, make_config=make_config,
                   manifest_extra=manifest_extra)
