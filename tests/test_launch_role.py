"""The launch role: trusted by Service Catalog only, scoped, and derived from the products' resource types."""

from __future__ import annotations

import dataclasses
import functools

import pytest
from troposphere import Template, sqs

from generator import build as pipeline
from generator import permissions
from generator.admin_settings import LAUNCH_ROLE_NAME, PRODUCT_IAM_PATH
from generator.errors import BuildError
from generator.lint import Linter, blocking
from generator.settings import ProductSettings
from products import launch_role
from products.registry import REGISTRY, ProductSpec

QUEUE = "queue-product"


def _statements(template):
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                yield lid, res, st


def _actions(template) -> set[str]:
    return {a for _, _, st in _statements(template) for a in st["Action"]}


def _with_queue_product(settings):
    """The catalog plus a product whose template adds AWS::SQS::Queue, registered before the launch role."""
    def build_queue(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue", KmsMasterKeyId="alias/aws/sqs"))
        return t

    spec = ProductSpec(name=QUEUE, title="Queue", kind="product", build=build_queue, make_config=lambda *a: None)
    names = list(REGISTRY)
    registry = {n: REGISTRY[n] for n in names[:-1]} | {QUEUE: spec}
    # the launch role reads the kinds (product or admin) from the registry being built
    registry[names[-1]] = dataclasses.replace(
        REGISTRY[names[-1]], make_config=functools.partial(launch_role.make_config, registry=registry))
    products = dict(settings.products)
    products[QUEUE] = ProductSettings(name=QUEUE, version="0.3.0", description="q", owner="o",
                                      changes={"0.3.0": "queue"})
    return dataclasses.replace(settings, products=products), registry


@pytest.fixture(scope="module")
def template(rendered):
    return rendered[launch_role.NAME].template


def test_registered_last_and_covers_every_product(rendered, settings):
    assert list(REGISTRY)[-1] == launch_role.NAME
    products = [n for n, s in REGISTRY.items() if s.kind == "product"]
    covers = rendered[launch_role.NAME].extra["covers"]
    assert covers == [{"name": n, "version": settings.products[n].version} for n in products]


def test_lint_clean_in_every_catalog_region(rendered, settings):
    assert blocking(Linter(list(settings.regions)).lint_text(rendered[launch_role.NAME].json_text)) == []


def test_trusted_only_by_service_catalog_of_this_account(template):
    role = template["Resources"]["LaunchRole"]["Properties"]
    assert role["RoleName"] == LAUNCH_ROLE_NAME
    (st,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert st["Principal"] == {"Service": ["servicecatalog.amazonaws.com"]}
    assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "Policies" not in role  # managed policies only


def test_no_wildcard_actions_and_policies_fit(template):
    for lid, res, st in _statements(template):
        for action in st["Action"]:
            assert action != "*" and not action.endswith(":*"), (lid, action)
            prefix = action.partition(":")[0]
            assert prefix == prefix.lower()
    for res in template["Resources"].values():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            assert res["Properties"]["Roles"] == [{"Ref": "LaunchRole"}]
            assert launch_role._size_of(res["Properties"]["PolicyDocument"]) <= launch_role.MAX_POLICY_CHARS


def test_writes_on_star_only_where_aws_requires_it_and_waived(template):
    for lid, res, st in _statements(template):
        if st["Resource"] != ["*"]:
            continue
        writes = [a for a in st["Action"] if not permissions.is_read_only(a)]
        if writes:
            assert lid == "LaunchPolicyUnscopable", (lid, writes)
            assert "aws:RequestedRegion" in st["Condition"]["StringEquals"]
            assert all(permissions.resource_types_of(a) == [] for a in writes)
            (waiver,) = res["Metadata"]["hipaa-catalog"]["waivers"]
            assert waiver["rule"] == "E9703" and all(a in waiver["reason"] for a in writes)


def test_pass_role_only_on_product_roles(template):
    path = PRODUCT_IAM_PATH.strip("/")
    iam = [st for _, _, st in _statements(template) if any(a.startswith("iam:") for a in st["Action"])]
    assert iam and any("iam:PassRole" in st["Action"] for st in iam)
    for st in iam:
        for r in st["Resource"]:
            assert r != "*" and r["Fn::Sub"].endswith(f"/{path}/*"), r
    pass_role = [st for st in iam if "iam:PassRole" in st["Action"]]
    assert {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{path}/*"} in pass_role[0]["Resource"]


def test_base_permissions_are_scoped(template):
    sts = {st["Sid"]: st for _, _, st in _statements(template)}
    assert sts["ServiceCatalogStacks"]["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"}]
    assert set(sts["ServiceCatalogStacks"]["Action"]) == set(launch_role.STACK_ACTIONS)
    assert sts["ReadTemplates"]["Resource"] == ["*"]
    assert all(permissions.is_read_only(a) for a in sts["ReadTemplates"]["Action"])
    read = sts["ReadProvisioningTemplates"]
    assert read["Action"] == ["s3:GetObject"]
    assert read["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}
    assert "hipaa-catalog-templates-${AWS::AccountId}-*/*" in read["Resource"][0]["Fn::Sub"]


def test_adding_a_resource_type_to_a_product_changes_the_role(settings, rendered):
    before = rendered[launch_role.NAME]
    wider, registry = _with_queue_product(settings)
    after = {b.name: b for b in pipeline.render_all(wider, registry=registry)}[launch_role.NAME]
    added = _actions(after.template) - _actions(before.template)
    assert {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes"} <= added
    assert all(a.startswith("sqs:") for a in added)
    assert {"name": QUEUE, "version": "0.3.0"} in after.extra["covers"]
    assert "AWS::SQS::Queue" in after.extra["covered_resource_types"]
    sqs_st = [st for _, _, st in _statements(after.template) if st["Sid"] == "SqsScoped"][0]
    assert sqs_st["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sqs:*:${AWS::AccountId}:*"}]
    assert blocking(Linter(list(settings.regions)).lint_text(after.json_text)) == []


def test_derivation_normalises_and_deduplicates():
    perms = permissions.derive(["AWS::SQS::Queue", "AWS::SQS::Queue"], ["us-east-1"])
    assert list(perms.actions) == sorted(set(perms.actions), key=str.lower)
    assert all(a.split(":")[0] == a.split(":")[0].lower() for a in perms.actions)
    assert permissions.normalise("SQS:CreateQueue") == "sqs:CreateQueue"


def test_full_service_wildcard_in_a_schema_is_refused():
    with pytest.raises(BuildError, match=r"AWS::SecurityLake::DataLake: .*:\*, a full-service wildcard"):
        permissions.derive(["AWS::SecurityLake::DataLake"], ["us-east-1"])


def test_unknown_resource_type_is_a_clear_error():
    with pytest.raises(BuildError, match=r"AWS::Nope::Thing: no provider schema"):
        permissions.derive(["AWS::Nope::Thing"], ["us-east-1"])
