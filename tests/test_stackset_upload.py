"""A stack set template over the inline limit goes to S3 with ``--template-bucket``, keyed by its product and its
own sha256, on the local endpoint over HTTP.

CreateStackSet's TemplateBody has "a maximum length of 51,200 bytes"; TemplateURL is "The location of the file that
contains the template body. The URL must point to a template ... that's located in an Amazon S3 bucket"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html).
"""

from __future__ import annotations

import hashlib
import json

import pytest

from generator.aws import deploy, organization as org_tree, stacksets
from generator.errors import DeployError
from generator.pipeline import manifest as manifests
from generator.settings import OrganizationSettings
from tests.local_aws.organization import create_organization

pytestmark = pytest.mark.aws

NAME = stacksets.LOG_REPLICA_SET
TEMPLATE = {"Metadata": {"padding": "x" * deploy.MAX_TEMPLATE_BODY},
            "Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
                                      "Properties": {"Name": "/upload-test/setting", "Type": "String", "Value": "on"}}}}


def test_a_large_stack_set_template_is_uploaded_under_its_product_and_content(aws_env):
    org = create_organization(aws_env.url, {"Prod": 1})
    cf, s3 = org.client("cloudformation"), org.client("s3")
    cf.activate_organizations_access()
    s3.create_bucket(Bucket="hub-templates")
    settings = OrganizationSettings(targets={"prod": (org.ous["Prod"],)}, regions=("us-east-1",))
    spec = stacksets.Spec(NAME, "log-replica", "1.0.0", ("us-east-1",), TEMPLATE, {})
    accounts = org_tree.target_accounts(org.client("organizations"), settings, org.management)
    p = stacksets.plan(cf, spec, settings, accounts)
    entry = manifests.Entry("log-replica", "Log replica", "admin", "1.0.0", "", "0" * 64, 0, "template.json")
    with pytest.raises(DeployError, match="over CloudFormation's inline limit"):
        stacksets.execute(cf, p, settings)   # no bucket: refused before anything is created
    (op,) = stacksets.execute(cf, p, settings, upload=lambda body: deploy.upload_template(s3, "hub-templates", entry,
                                                                                         body))
    assert op["status"] == "SUCCEEDED"
    digest = hashlib.sha256(spec.body.encode("utf-8")).hexdigest()
    (obj,) = s3.list_objects_v2(Bucket="hub-templates")["Contents"]
    assert obj["Key"] == f"admin/log-replica/1.0.0/{digest}.json"
    assert json.loads(cf.describe_stack_set(StackSetName=NAME)["StackSet"]["TemplateBody"]) == TEMPLATE
    # as built: nothing to do, nothing uploaded
    assert not stacksets.plan(cf, spec, settings, accounts).has_changes
