"""The launch role: trusted by Service Catalog only, scoped, and derived from the products' resource types."""

from __future__ import annotations

import dataclasses
import re

import pytest
from troposphere import Equals, If, NoValue, Ref, Template, dynamodb, iam, sqs

from generator.blocks import permissions
from generator.blocks.admin_settings import LAUNCH_ROLE_NAME, PRODUCT_IAM_PATH
from generator.blocks.iam import aws_managed, document, service_trust, statement
from generator.compliance.lint import Linter, blocking
from generator.errors import BuildError
from generator.pipeline import build as pipeline
from generator.settings import ProductSettings
from products import launch_role
from generator.product import ProductSpec
from products.registry import REGISTRY

QUEUE = "queue-product"


def _statements(template):
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                yield lid, res, st


def _actions(template) -> set[str]:
    return {a for _, _, st in _statements(template) for a in st["Action"]}


def _with_product(settings, name, build):
    """The catalog plus a product built by ``build``, registered before the launch role."""
    spec = ProductSpec(name=name, title=name, kind="product", build=build, make_config=lambda *a: None)
    names = list(REGISTRY)
    registry = {n: REGISTRY[n] for n in names[:-1]} | {name: spec, names[-1]: REGISTRY[names[-1]]}
    products = dict(settings.products)
    products[name] = ProductSettings(name=name, version="0.3.0", description="q", owner="o",
                                     changes={"0.3.0": "first"})
    return dataclasses.replace(settings, products=products), registry


def _with_queue_product(settings):
    """The catalog plus a product whose template adds AWS::SQS::Queue, registered before the launch role."""
    def build_queue(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue", KmsMasterKeyId="alias/aws/sqs"))
        return t

    return _with_product(settings, QUEUE, build_queue)


def _launch_role_with(settings, name, build):
    wider, registry = _with_product(settings, name, build)
    return {b.name: b for b in pipeline.render_all(wider, registry=registry)}[launch_role.NAME]


def _role_product(*policy_arns, policy_path=PRODUCT_IAM_PATH):
    """A product build function: one role under the product path attaching ``policy_arns``."""
    def build(_cfg):
        t = Template()
        t.add_condition("Always", Equals("a", "a"))
        t.add_resource(iam.ManagedPolicy("Own", Path=policy_path, PolicyDocument=document(
            statement("Read", ["sqs:GetQueueUrl"], "*"))))
        t.add_resource(iam.Role("Role", Path=PRODUCT_IAM_PATH, AssumeRolePolicyDocument=service_trust(
            "ec2.amazonaws.com"), ManagedPolicyArns=list(policy_arns)))
        return t
    return build


@pytest.fixture(scope="module")
def template(rendered):
    return rendered[launch_role.NAME].template


def test_registered_last_and_covers_every_product(rendered, settings):
    assert list(REGISTRY)[-1] == launch_role.NAME
    products = [n for n, s in REGISTRY.items() if s.kind == "product"]
    covers = rendered[launch_role.NAME].extra["covers"]
    assert covers == [{"name": n, "version": settings.products[n].version} for n in products]


def test_lint_clean_in_every_catalog_region(rendered, settings):
    assert blocking(Linter(list(settings.regions)).lint_text(rendered[launch_role.NAME].json_text).findings) == []


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
    assert blocking(Linter(list(settings.regions)).lint_text(after.json_text).findings) == []


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


# --- key use, policy attachment, change sets --------------------------------------------------

KEY_USE = {"kms:CreateGrant", "kms:GenerateDataKeyWithoutPlaintext", "kms:Decrypt", "kms:DescribeKey",
           "kms:Encrypt", "kms:ReEncrypt*"}


def _via_services(st) -> set[str]:
    return set(st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService", []))


def test_keys_are_used_only_through_the_product_services(template, settings):
    """EBS with a customer key (PhiKey) and key-encrypted log groups need the launching principal's key use."""
    use = re.compile(r"^kms:(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|CreateGrant)")
    allowed: dict[str, set[str]] = {}
    for lid, _, st in _statements(template):
        acts = [a for a in st["Action"] if use.match(a)]
        if not acts:
            continue
        assert st["Resource"] != ["*"], (lid, st["Sid"])
        if st["Sid"] == "DecryptTemplates":  # reading templates through S3, the template key only
            assert acts == ["kms:Decrypt"] and st["Condition"]["StringLike"] == {"kms:ViaService": "s3.*.amazonaws.com"}
            continue
        via = _via_services(st)
        assert via, f"{st['Sid']} uses keys without a kms:ViaService condition"
        assert st["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"}]
        for a in st["Action"]:
            allowed.setdefault(a, set()).update(via)
        if "kms:CreateGrant" in acts:
            assert st["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    for service in ("ec2", "logs", "backup"):
        for region in settings.regions:
            endpoint = f"{service}.{region}.amazonaws.com"
            assert {a for a, via in allowed.items() if endpoint in via} >= KEY_USE, endpoint
    assert all(via <= {f"{s}.{r}.amazonaws.com" for s in ("ec2", "logs", "backup") for r in settings.regions}
               for via in allowed.values())


def test_key_use_follows_the_services_of_the_product_types(settings):
    """A product type whose schema asks for key use (a DynamoDB table) adds its service's endpoints."""
    def build_table(_cfg):
        t = Template()
        t.add_resource(dynamodb.Table("Table", BillingMode="PAY_PER_REQUEST", KeySchema=[
            dynamodb.KeySchema(AttributeName="id", KeyType="HASH")], AttributeDefinitions=[
            dynamodb.AttributeDefinition(AttributeName="id", AttributeType="S")]))
        return t

    after = _launch_role_with(settings, "table-product", build_table)
    sts = {st["Sid"]: st for _, _, st in _statements(after.template)}
    via = _via_services(sts["UseAccountKeysViaServices"])
    assert via == {f"{s}.{r}.amazonaws.com" for s in ("backup", "dynamodb", "ec2", "logs") for r in settings.regions}
    assert _via_services(sts["GrantAccountKeysToAwsResources"]) == via
    assert not any(use in st["Action"] for st in sts.values() if st["Sid"] == "KmsScoped"
                   for use in ("kms:Encrypt", "kms:Decrypt", "kms:CreateGrant"))


def test_policy_attachment_only_for_the_policies_products_attach(template, rendered):
    web = rendered["healthcare-web-server"].template
    attached = {a["Fn::Sub"] for r in web["Resources"].values() if r["Type"] == "AWS::IAM::Role"
                for a in _flatten(r["Properties"].get("ManagedPolicyArns", [])) if "Fn::Sub" in a}
    assert "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore" in attached
    attach = [st for _, _, st in _statements(template)
              if any(re.match(r"iam:(Attach|Detach)\w*Policy$", a) for a in st["Action"])]
    assert attach, "the products attach managed policies"
    for st in attach:
        arns = {a["Fn::Sub"] for a in st["Condition"]["ArnLike"]["iam:PolicyARN"]}
        assert arns == attached | {f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{PRODUCT_IAM_PATH}*"}
        assert all(r["Fn::Sub"].endswith(f"{PRODUCT_IAM_PATH}*") for r in st["Resource"])
        assert set(st["Condition"]) == {"ArnLike"}


def _flatten(value):
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict) and "Fn::If" in value:
        return [x for v in value["Fn::If"][1:] for x in _flatten(v)]
    return [value] if isinstance(value, dict) else []


def test_a_product_attaching_another_aws_managed_policy_widens_the_condition(settings):
    build = _role_product(aws_managed("ReadOnlyAccess"), Ref("Own"),
                          If("Always", aws_managed("service-role/AmazonEC2RoleforSSM"), NoValue))
    after = _launch_role_with(settings, "role-product", build)
    [st] = [st for _, _, st in _statements(after.template) if st["Sid"] == "IamPolicyAttachment"]
    arns = {a["Fn::Sub"] for a in st["Condition"]["ArnLike"]["iam:PolicyARN"]}
    assert {"arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess",
            "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonEC2RoleforSSM"} <= arns
    assert "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess" not in arns


@pytest.mark.parametrize("arn,path", [
    ("arn:aws:iam::123456789012:policy/Elsewhere", PRODUCT_IAM_PATH),   # a customer policy by literal ARN
    (None, "/"),                                                       # the template's own policy, off the path
])
def test_a_policy_the_launch_role_could_not_attach_is_a_build_error(settings, arn, path):
    build = _role_product(arn if arn else Ref("Own"), policy_path=path)
    wider, registry = _with_product(settings, "role-product", build)
    with pytest.raises(BuildError, match=r"product role-product: resource Role: ManagedPolicyArns entry .*"
                                         r"allowed: an AWS managed policy ARN"):
        pipeline.render_all(wider, registry=registry)


def test_change_sets_on_service_catalog_stacks_for_updates(template):
    sts = {st["Sid"]: st for _, _, st in _statements(template)}
    stacks = sts["ServiceCatalogStacks"]
    assert {"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
            "cloudformation:DeleteChangeSet"} <= set(stacks["Action"])
    assert stacks["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"}]
    changesets = [st for st in sts.values() if any("ChangeSet" in a for a in st["Action"])]
    assert changesets == [stacks]


# --- SSM parameters CloudFormation resolves with the launch role's credentials ----------------

def _ssm_reads(template) -> list:
    (st,) = [st for _, _, st in _statements(template) if st["Sid"] == "ReadProductSsmParameters"]
    assert st["Action"] == ["ssm:GetParameters"]
    return [r["Fn::Sub"] for r in st["Resource"]]


def test_reads_exactly_the_ssm_parameters_the_products_name(template, rendered, settings):
    """Dynamic references and SSM-typed parameters are resolved with the caller's credentials: without
    ssm:GetParameters on them the launch role could not launch the web server."""
    web = rendered["healthcare-web-server"]
    named = set(re.findall(r"\{\{resolve:ssm:([^:}]+)(?::[^}]+)?\}\}", web.json_text))  # with a version too
    named |= {p["Default"] for p in web.template["Parameters"].values()
              if p["Type"].startswith("AWS::SSM::Parameter::Value<")}
    assert f"{settings.ssm_prefix}/network/vpc-id" in named and len(named) >= 7
    expected = {f"arn:${{AWS::Partition}}:ssm:*::parameter{n}" if n.startswith("/aws/")
                else f"arn:${{AWS::Partition}}:ssm:*:${{AWS::AccountId}}:parameter{n}" for n in named}
    assert set(_ssm_reads(template)) == expected
    st = [st for _, _, st in _statements(template) if st["Sid"] == "ReadProductSsmParameters"][0]
    assert st["Condition"] == {"StringEquals": {"aws:RequestedRegion": list(settings.regions)}}


def test_a_product_reading_another_ssm_parameter_widens_the_read(settings, rendered):
    def build(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue", KmsMasterKeyId="{{resolve:ssm:/team/queue-key:3}}"))
        return t

    after = _launch_role_with(settings, QUEUE, build)
    added = set(_ssm_reads(after.template)) - set(_ssm_reads(rendered[launch_role.NAME].template))
    assert added == {"arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/team/queue-key"}
