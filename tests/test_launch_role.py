"""The launch role as rendered: trusted by Service Catalog of this account only, derived from the products'
resources, every mutating action limited to what the products create.  (That it launches, updates and
terminates every product, and needs every statement, is shown against the local endpoint's IAM:
tests/local_aws/test_web_server_lifecycle.py and test_launch_role_enforcement.py.)"""

from __future__ import annotations

import dataclasses
import re

import pytest
from troposphere import Equals, If, NoValue, Ref, Tags, Template, dynamodb, iam, kms, sqs

from generator.blocks import handlers, permissions
from generator.blocks.admin_settings import LAUNCH_ROLE_NAME, PRODUCT_IAM_PATH
from generator.blocks.iam import aws_managed, document, service_trust, statement
from generator.blocks.tags import PRODUCT_TAG
from generator.compliance.lint import Linter, blocking
from generator.errors import BuildError
from generator.pipeline import build as pipeline
from generator.product import ProductSpec
from generator.settings import ProductSettings
from products import launch_role
from products.registry import REGISTRY

QUEUE = "queue-product"
PRODUCT_TAG_CONDITION = {f"aws:ResourceTag/{PRODUCT_TAG}": ["healthcare-web-server"]}


def _statements(template):
    for lid, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                yield lid, res, st


def _by_sid(template) -> dict:
    return {st["Sid"]: st for _, _, st in _statements(template)}


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


def _launch_role_with(settings, name, build):
    wider, registry = _with_product(settings, name, build)
    return {b.name: b for b in pipeline.render_all(wider, registry=registry)}[launch_role.NAME]


def _tags(product=QUEUE):
    return Tags(**{PRODUCT_TAG: product})


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


def test_lint_clean_in_every_catalog_region(linted_clean):
    linted_clean(launch_role.NAME)


def test_trusted_only_by_service_catalog_of_this_account_in_the_catalog_regions(template, settings):
    role = template["Resources"]["LaunchRole"]["Properties"]
    assert role["RoleName"] == LAUNCH_ROLE_NAME
    (st,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert st["Principal"] == {"Service": ["servicecatalog.amazonaws.com"]}
    assert st["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
        "ArnLike": {"aws:SourceArn": [{"Fn::Sub": f"arn:${{AWS::Partition}}:servicecatalog:{r}:${{AWS::AccountId}}:*"}
                                      for r in settings.regions]}}
    assert "Policies" not in role  # managed policies only


def test_no_wildcard_actions_every_statement_has_a_sid_and_says_what_needs_it(template):
    for lid, res, st in _statements(template):
        for action in st["Action"]:
            assert action != "*" and not action.endswith(":*"), (lid, action)
            assert action.partition(":")[0] == action.partition(":")[0].lower()
        needed_by = res["Metadata"][launch_role.NEEDS_KEY]
        assert st["Sid"] and needed_by[st["Sid"]], (lid, st)
    for res in template["Resources"].values():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            assert res["Properties"]["Roles"] == [{"Ref": "LaunchRole"}]
            assert launch_role._size_of(res["Properties"]["PolicyDocument"]) <= launch_role.MAX_POLICY_CHARS
            assert set(res["Metadata"][launch_role.NEEDS_KEY]) == {
                st["Sid"] for st in res["Properties"]["PolicyDocument"]["Statement"]}


def test_what_service_catalog_itself_needs(template):
    """The tutorial policy's CloudFormation actions on SC-* stacks, and AWS's template-read statement."""
    sts = _by_sid(template)
    stacks = sts["ServiceCatalogStacks"]
    assert set(stacks["Action"]) == {"cloudformation:CreateStack", "cloudformation:DeleteStack",
                                     "cloudformation:DescribeStackEvents", "cloudformation:DescribeStacks",
                                     "cloudformation:SetStackPolicy", "cloudformation:UpdateStack"}
    assert stacks["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/SC-*"}]
    assert set(sts["ReadTemplates"]["Action"]) == {"cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"}
    read = sts["ReadProvisioningTemplates"]
    assert read["Action"] == ["s3:GetObject"] and read["Resource"] == ["*"]
    assert read["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}
    actions = _actions(template)
    assert not any(a.startswith("servicecatalog:") for a in actions)   # "cannot be assigned in a launch role"
    assert not any("ChangeSet" in a for a in actions)


def test_no_service_the_products_do_not_use(template):
    services = {a.partition(":")[0] for a in _actions(template)}
    # route53: the web server's PROD alias record (AWS::Route53::RecordSet) in the administrator's zone
    assert services == {"backup", "backup-storage", "cloudformation", "ec2", "elasticloadbalancing", "iam", "kms",
                        "logs", "route53", "s3", "ssm"}
    writes = {a for a in _actions(template) if a.startswith("route53:") and not handlers.is_read_only(a)}
    assert writes == {"route53:ChangeResourceRecordSets"}
    assert not {"ssm:CreateAssociation", "ssm:DeleteAssociation", "logs:PutResourcePolicy",
                "logs:DeleteResourcePolicy", "logs:CreateLogDelivery", "cognito-idp:DescribeUserPoolClient",
                "firehose:TagDeliveryStream"} & _actions(template)
    resources = " ".join(str(r) for _, _, st in _statements(template) for r in st["Resource"])
    assert "license-manager" not in resources and "elastic-inference" not in resources


def test_changes_only_to_what_the_products_create(template):
    """A write on an existing resource needs the product tag, the products' IAM path, or is a KMS alias."""
    for lid, _res, st in _statements(template):
        writes = [a for a in st["Action"] if not handlers.is_read_only(a)]
        if not writes or st["Sid"] in ("ServiceCatalogStacks", "ReadProvisioningTemplates"):
            continue
        sid = st["Sid"]
        condition = st.get("Condition", {})
        if sid.endswith("ChangeProductResources"):
            assert condition["StringEquals"][f"aws:ResourceTag/{PRODUCT_TAG}"] == ["healthcare-web-server"], sid
        elif sid.startswith("Iam"):
            assert all(r["Fn::Sub"].endswith(("/hipaa-catalog/products/*", "AWSServiceRoleForElasticLoadBalancing*"))
                       for r in st["Resource"]), sid
        elif sid.endswith("TagOnCreate"):
            keys = set(condition["StringEquals"])
            assert keys - {"aws:RequestedRegion"} in ({"ec2:CreateAction"}, {"elasticloadbalancing:CreateAction"},
                                                      {f"aws:RequestTag/{PRODUCT_TAG}"}), sid
        elif sid.startswith("Kms") and "ProductKeys" in sid:
            assert condition["StringEquals"][f"aws:ResourceTag/{PRODUCT_TAG}"] == ["healthcare-web-server"]
            assert condition["StringEquals"]["kms:ViaService"]
        elif sid.endswith("ChangeSharedResources"):   # exactly the resources the administrator's settings name
            for resource in st["Resource"]:
                variable = re.fullmatch(r".*/\$\{(\w+)\}", resource["Fn::Sub"]).group(1)
                assert template["Parameters"][variable]["Type"] == "AWS::SSM::Parameter::Value<String>", sid
        else:   # creating, an untaggable product resource (a KMS alias), or AWS's Resource-* actions
            assert sid.endswith(("Create", "ChangeUntaggableProductResources", "Unscopable")) or \
                re.fullmatch(r"[A-Z]\w*New[A-Z]\w*s", sid), sid
    sts = _by_sid(template)
    terminate = [s for s in sts.values() if "ec2:TerminateInstances" in s["Action"]]
    assert [s["Sid"] for s in terminate] == ["Ec2ChangeProductResources"]
    for action in ("kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "logs:DeleteLogGroup",
                   "backup:DeleteBackupVault", "ec2:DeleteVolume", "ec2:DeleteSecurityGroup"):
        assert [s["Sid"] for s in sts.values() if action in s["Action"]][0].endswith("ChangeProductResources"), action
    # the PHI volume's final snapshot: of product volumes only, the new snapshot on snapshot ARNs only
    snapshots = {s["Sid"]: s for s in sts.values() if "ec2:CreateSnapshot" in s["Action"]}
    assert set(snapshots) == {"Ec2ChangeProductResources", "Ec2NewSnapshots"}
    assert snapshots["Ec2NewSnapshots"]["Action"] == ["ec2:CreateSnapshot"]
    assert snapshots["Ec2NewSnapshots"]["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:ec2:*::snapshot/*"}]
    # the instance attaches its PHI volume itself, with its own role: the launch role attaches nothing
    assert not {"ec2:AttachVolume", "ec2:DetachVolume"} & _actions(template)


def test_dns_records_only_under_the_administrators_domain_in_their_zone(template, settings):
    """The PROD alias record: ChangeResourceRecordSets only in the hosted zone the baseline's setting names,
    only for A records named <anything>.<the setting's domain>."""
    st = _by_sid(template)["Route53ChangeSharedResources"]
    assert st["Action"] == ["route53:ChangeResourceRecordSets"]
    assert st["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:route53:::hostedzone/${HipaaCatalogDnsHostedZoneId}"}]
    assert st["Condition"] == {"ForAllValues:StringLike": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [{"Fn::Sub": "*.${HipaaCatalogDnsDomain}"}],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A"]}}
    for variable, setting in (("HipaaCatalogDnsHostedZoneId", "dns/hosted-zone-id"),
                              ("HipaaCatalogDnsDomain", "dns/domain")):
        name = f"{settings.ssm_prefix}/{setting}"
        assert template["Parameters"][variable] == {**template["Parameters"][variable], "Default": name,
                                                    "AllowedValues": [name]}


def test_writes_on_star_only_where_aws_requires_it_and_waived(template):
    for lid, res, st in _statements(template):
        if st["Resource"] != ["*"]:
            continue
        writes = [a for a in st["Action"] if not handlers.is_read_only(a)]
        if st["Sid"] == "ReadProvisioningTemplates":
            continue   # s3:GetObject: a read, on Resource * as the launch-constraint page prescribes
        if writes:
            assert lid == "LaunchPolicyUnscopable", (lid, writes)
            assert "aws:RequestedRegion" in st["Condition"]["StringEquals"]
            assert all(handlers.resource_types_of(a) == [] for a in writes)
            (waiver,) = res["Metadata"]["hipaa-catalog"]["waivers"]
            assert waiver["rule"] == "E9703" and all(a in waiver["reason"] for a in writes)


def test_pass_role_names_the_services_and_only_product_roles(template):
    path = PRODUCT_IAM_PATH.strip("/")
    passes = [st for _, _, st in _statements(template) if "iam:PassRole" in st["Action"]]
    assert {st["Sid"] for st in passes} == {"IamPassRoleToEc2", "IamPassRoleToBackup"}
    for st in passes:
        assert st["Action"] == ["iam:PassRole"]
        assert st["Resource"] == [{"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{path}/*"}]
    sts = _by_sid(template)
    assert sts["IamPassRoleToBackup"]["Condition"] == {"StringEquals": {"iam:PassedToService": "backup.amazonaws.com"}}
    # RunInstances sends iam:PassedToService; AddRoleToInstanceProfile is documented only with
    # iam:AssociatedResourceArn, which both send
    assert sts["IamPassRoleToEc2"]["Condition"] == {
        "StringEqualsIfExists": {"iam:PassedToService": "ec2.amazonaws.com"},
        "ArnLike": {"iam:AssociatedResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"}}}


def test_service_linked_role_only_for_elastic_load_balancing(template):
    (st,) = [st for _, _, st in _statements(template) if "iam:CreateServiceLinkedRole" in st["Action"]]
    assert st["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
                                          "elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing*"}]
    assert st["Condition"] == {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}}


def test_keys_are_used_only_through_the_services_that_encrypt_product_resources(template, settings):
    """EBS (the PHI volume, the root volume with PHI=YES) and AWS Backup (the vault) use PhiKey on the
    launching principal's behalf; log groups use the baseline's key through CloudWatch Logs' key policy."""
    sts = _by_sid(template)
    via = {f"{s}.{r}.amazonaws.com" for s in ("backup", "ec2") for r in settings.regions}
    use, grant = sts["KmsUseProductKeysViaServices"], sts["KmsGrantProductKeysToAwsResources"]
    for st in (use, grant):
        assert set(st["Condition"]["StringEquals"]["kms:ViaService"]) == via
        assert st["Condition"]["StringEquals"][f"aws:ResourceTag/{PRODUCT_TAG}"] == ["healthcare-web-server"]
        assert st["Resource"] == [{"Fn::Sub": permissions.ACCOUNT_KEYS}]
    assert grant["Action"] == ["kms:CreateGrant"] and grant["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert set(handlers.EBS_KEY_USE) - {"kms:CreateGrant"} <= set(use["Action"])
    use_actions = re.compile(r"^kms:(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|CreateGrant)")
    for _, _, st in _statements(template):
        if any(use_actions.match(a) for a in st["Action"]):
            assert st["Sid"] in ("KmsUseProductKeysViaServices", "KmsGrantProductKeysToAwsResources"), st["Sid"]


def test_key_use_follows_the_service_of_a_product_type(settings):
    """A product's DynamoDB table encrypted with the product's own key adds DynamoDB's endpoints."""
    def build_table(_cfg):
        t = Template()
        key = t.add_resource(kms.Key("Key", EnableKeyRotation=True, Tags=_tags("table-product"), KeyPolicy=document(
            statement("Root", ["kms:*"], "*"))))
        t.add_resource(dynamodb.Table("Table", BillingMode="PAY_PER_REQUEST", Tags=_tags("table-product"), KeySchema=[
            dynamodb.KeySchema(AttributeName="id", KeyType="HASH")], AttributeDefinitions=[
            dynamodb.AttributeDefinition(AttributeName="id", AttributeType="S")],
            SSESpecification=dynamodb.SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=Ref(key))))
        return t

    after = _launch_role_with(settings, "table-product", build_table)
    sts = _by_sid(after.template)
    via = set(sts["KmsUseProductKeysViaServices"]["Condition"]["StringEquals"]["kms:ViaService"])
    assert via == {f"{s}.{r}.amazonaws.com" for s in ("backup", "dynamodb", "ec2") for r in settings.regions}
    assert "dynamodb:CreateTable" in sts["DynamodbCreate"]["Action"]


def test_adding_a_resource_type_to_a_product_changes_the_role(settings, rendered):
    def build_queue(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue", KmsMasterKeyId="alias/aws/sqs", Tags=_tags()))
        return t

    before = rendered[launch_role.NAME]
    after = _launch_role_with(settings, QUEUE, build_queue)
    added = _actions(after.template) - _actions(before.template)
    assert {"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:SetQueueAttributes"} <= added
    assert all(a.startswith("sqs:") for a in added)
    sts = _by_sid(after.template)
    assert sts["SqsCreate"]["Action"] == ["sqs:CreateQueue"]
    assert sts["SqsCreate"]["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sqs:*:${AWS::AccountId}:*"}]
    change = sts["SqsChangeProductResources"]
    assert "sqs:DeleteQueue" in change["Action"]
    assert change["Condition"]["StringEquals"][f"aws:ResourceTag/{PRODUCT_TAG}"] == ["healthcare-web-server", QUEUE]
    assert "AWS::SQS::Queue" in after.extra["covered_resource_types"]
    assert not any("kms:" in a for a in added)   # an AWS managed key asks nothing of the caller
    assert blocking(Linter(list(settings.regions)).lint_text(after.json_text).findings) == []


def test_a_product_resource_without_its_product_tag_is_a_build_error(settings):
    def build_queue(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue"))
        return t

    wider, registry = _with_product(settings, QUEUE, build_queue)
    with pytest.raises(BuildError, match=rf"product {QUEUE}: resource Queue \(AWS::SQS::Queue\) has no tag "
                                         rf"{PRODUCT_TAG}={QUEUE}"):
        pipeline.render_all(wider, registry=registry)


def test_a_product_passing_a_role_it_does_not_create_is_a_build_error(settings):
    def build_profile(_cfg):
        t = Template()
        t.add_resource(iam.InstanceProfile("Profile", Path=PRODUCT_IAM_PATH, Roles=["SomeoneElsesRole"]))
        return t

    wider, registry = _with_product(settings, "profile-product", build_profile)
    with pytest.raises(BuildError, match=r"resource Profile \(AWS::IAM::InstanceProfile\) passes the role "
                                         r"\"SomeoneElsesRole\" in Roles"):
        pipeline.render_all(wider, registry=registry)


def test_handler_actions_are_normalised_deduplicated_and_feature_gated():
    actions = handlers.handler_actions("AWS::SQS::Queue", "create")
    assert len({a.lower() for a in actions}) == len(actions)
    assert all(a.split(":")[0] == a.split(":")[0].lower() for a in actions)
    assert handlers.normalise("SQS:CreateQueue") == "sqs:CreateQueue"
    plain = {n.action for n in handlers.needs("AWS::Logs::LogGroup", "create", {"RetentionInDays": 365})}
    assert "logs:PutResourcePolicy" not in plain and "logs:CreateLogGroup" in plain
    with_policy = {n.action for n in handlers.needs("AWS::Logs::LogGroup", "create", {"ResourcePolicyDocument": {}})}
    assert "logs:PutResourcePolicy" in with_policy


def test_every_feature_gate_names_a_property_of_its_type():
    for resource_type, prop in handlers.feature_properties():
        schema = handlers.schema(resource_type)
        assert prop in schema["properties"] or prop in str(schema.get("definitions", {})), (resource_type, prop)


def test_full_service_wildcard_in_a_schema_is_refused():
    with pytest.raises(BuildError, match=r"AWS::SecurityLake::DataLake: .*:\*, a full-service wildcard"):
        handlers.handler_actions("AWS::SecurityLake::DataLake", "create")


def test_unknown_resource_type_is_a_clear_error():
    with pytest.raises(BuildError, match=r"AWS::Nope::Thing: no provider schema"):
        handlers.handler_actions("AWS::Nope::Thing", "create")


# --- policy attachment ------------------------------------------------------------------------

def _flatten(value):
    if isinstance(value, list):
        return [x for v in value for x in _flatten(v)]
    if isinstance(value, dict) and "Fn::If" in value:
        return [x for v in value["Fn::If"][1:] for x in _flatten(v)]
    return [value] if isinstance(value, dict) else []


def test_policy_attachment_only_for_the_policies_products_attach(template, rendered):
    web = rendered["healthcare-web-server"].template
    attached = {a["Fn::Sub"] for r in web["Resources"].values() if r["Type"] == "AWS::IAM::Role"
                for a in _flatten(r["Properties"].get("ManagedPolicyArns", [])) if "Fn::Sub" in a}
    assert "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore" in attached
    (st,) = [st for _, _, st in _statements(template) if any(re.match(r"iam:(Attach|Detach)\w*Policy$", a)
                                                             for a in st["Action"])]
    assert st["Sid"] == "IamPolicyAttachment"
    arns = {a["Fn::Sub"] for a in st["Condition"]["ArnLike"]["iam:PolicyARN"]}
    assert arns == attached | {f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy{PRODUCT_IAM_PATH}*"}
    assert all(r["Fn::Sub"].endswith(f"{PRODUCT_IAM_PATH}*") for r in st["Resource"])
    assert set(st["Condition"]) == {"ArnLike"}


def test_a_product_attaching_another_aws_managed_policy_widens_the_condition(settings):
    build = _role_product(aws_managed("ReadOnlyAccess"), Ref("Own"),
                          If("Always", aws_managed("service-role/AmazonEC2RoleforSSM"), NoValue))
    after = _launch_role_with(settings, "role-product", build)
    st = _by_sid(after.template)["IamPolicyAttachment"]
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


# --- SSM parameters CloudFormation resolves with the launch role's credentials ----------------

def _ssm_reads(template) -> list:
    st = _by_sid(template)["ReadProductSsmParameters"]
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
    st = _by_sid(template)["ReadProductSsmParameters"]
    assert st["Condition"] == {"StringEquals": {"aws:RequestedRegion": list(settings.regions)}}


def test_a_product_reading_another_ssm_parameter_widens_the_read(settings, rendered):
    def build(_cfg):
        t = Template()
        t.add_resource(sqs.Queue("Queue", KmsMasterKeyId="{{resolve:ssm:/team/queue-key:3}}", Tags=_tags()))
        return t

    after = _launch_role_with(settings, QUEUE, build)
    added = set(_ssm_reads(after.template)) - set(_ssm_reads(rendered[launch_role.NAME].template))
    assert added == {"arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/team/queue-key"}


def test_the_derivation_classifies_what_a_property_names():
    """A Ref to a template resource is the product's; a parameter or setting names someone else's."""
    names = frozenset({"Group"})
    assert permissions._names_template_resource({"Ref": "Group"}, names)
    assert permissions._names_template_resource({"Fn::GetAtt": ["Group", "GroupId"]}, names)
    assert permissions._names_template_resource({"Fn::If": ["C", {"Ref": "Group"}, "alias/aws/ebs"]}, names)
    assert not permissions._names_template_resource({"Ref": "VpcIdParameter"}, names)
    assert not permissions._names_template_resource("{{resolve:ssm:/x/vpc-id}}", names)
    assert permissions.arn_pattern("ec2", "image") == "arn:${AWS::Partition}:ec2:*::image/*"
    # what a record's name may be: its variables any text, its settings the launch role's parameters
    found: dict[str, str] = {}
    name = {"Fn::Sub": ["${SiteId}.Sites.{{resolve:ssm:/x/dns/domain}}", {"SiteId": {"Ref": "AWS::StackId"}}]}
    assert permissions._key_pattern(handlers.RECORD_NAME_KEY, name, found) == "*.sites.${XDnsDomain}"
    assert found == {"XDnsDomain": "/x/dns/domain"}
    assert permissions._key_pattern(handlers.RECORD_NAME_KEY, "WWW.Example.org.", {}) == "www.example.org"
    assert permissions._key_pattern(handlers.RECORD_NAME_KEY, {"Ref": "Name"}, {}) == "*"


def test_a_dns_record_is_authorized_on_its_zone_not_on_what_it_aliases():
    """AliasTarget.HostedZoneId is the load balancer's zone; the change is authorized on the record's own zone,
    with the record's normalized name and type."""
    props = {"HostedZoneId": "Z0ZONE", "Name": "Abc.Clinic.Example.ORG.", "Type": "A",
             "AliasTarget": {"DNSName": "lb.elb.amazonaws.com", "HostedZoneId": "Z35SXDOTRQ7X7K"}}
    (change,) = [n for n in handlers.needs("AWS::Route53::RecordSet", "create", props)
                 if n.action == "route53:ChangeResourceRecordSets"]
    assert [(t.iam_type, t.value) for t in change.targets] == [("hostedzone", "Z0ZONE")]
    assert dict(change.resource_keys) == {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": "abc.clinic.example.org",
        "route53:ChangeResourceRecordSetsRecordTypes": "A"}
    assert handlers.normalized_record_name("*.Example.org") == "\\052.example.org"


def test_a_final_snapshot_is_asked_for_only_with_a_snapshot_policy():
    props = {"AvailabilityZone": "us-east-1a", "Size": 1, "Tags": _tags().to_dict()}
    plain = {(n.action, t.origin) for n in handlers.needs("AWS::EC2::Volume", "delete", props) for t in n.targets}
    assert not {a for a, _o in plain if "Snapshot" in a}
    kept = {(n.action, t.origin, t.iam_type) for n in handlers.needs("AWS::EC2::Volume", "delete", props, snapshot=True)
            for t in n.targets}
    assert {("ec2:CreateSnapshot", "self", "volume"), ("ec2:CreateSnapshot", "new", "snapshot")} <= kept
    assert permissions.arn_pattern("iam", "role") == "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/hipaa-catalog/products/*"
