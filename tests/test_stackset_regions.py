"""A region removed from ``[organization] regions``: its stack instances leave the stack sets (stacks kept), on the
local endpoint over HTTP, through the same plan and execution as ``deploy-baseline --organization``
(generator/aws/stacksets.py).

DeleteStackInstances with RetainStacks "Removes the stack instances from the specified StackSet, but doesn't
delete the stacks" (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStackInstances.html).
"""

from __future__ import annotations

import json

import pytest

from generator.aws import api as aws, organization as org_tree, stacksets
from generator.settings import OrganizationSettings
from tests.local_aws.organization import create_organization

pytestmark = pytest.mark.aws

NAME = "hipaa-catalog-launch-role"   # any stack set name of the catalog; the template is a small one
TEMPLATE = {"Resources": {"Setting": {"Type": "AWS::SSM::Parameter",
                                      "Properties": {"Name": "/regions-test/setting", "Type": "String",
                                                     "Value": "on"}}}}


def spec(regions: tuple[str, ...]) -> stacksets.Spec:
    return stacksets.Spec(NAME, "launch-role", "1.0.0", regions, TEMPLATE, {})


def run(org, settings, regions, management):
    cf, orgs = org.client("cloudformation"), org.client("organizations")
    accounts = org_tree.target_accounts(orgs, settings, management)
    p = stacksets.plan(cf, spec(regions), settings, accounts,
                       lambda ou: org_tree.accounts_under(orgs, ou, management))
    shown: list[str] = []
    operations = stacksets.execute(cf, p, settings, progress=shown.append) if p.has_changes else []
    return p, operations, shown


def test_a_region_removed_from_the_settings_leaves_the_stack_sets_with_its_stacks_kept(aws_env):
    org = create_organization(aws_env.url, {"Prod": 2, "Test": 1, "Sandbox": 1})
    org.client("cloudformation").activate_organizations_access()
    targets = {"prod": (org.ous["Prod"],), "test": (org.ous["Test"],)}
    both = OrganizationSettings(targets=targets, regions=("us-east-1", "us-west-2"))
    east = OrganizationSettings(targets=targets, regions=("us-east-1",))
    cf = org.client("cloudformation")
    run(org, both, ("us-east-1", "us-west-2"), org.management)
    members = sorted(org.accounts[n] for n in ("Prod-0", "Prod-1", "Test-0"))
    assert len(cf.list_stack_instances(StackSetName=NAME)["Summaries"]) == 6

    # the preview (the plan) names the region and has a delete row per instance there
    p, operations, shown = run(org, east, ("us-east-1",), org.management)
    assert p.to_json()["delete_regions"] == {"regions": ["us-west-2"],
                                             "targets": sorted([org.ous["Prod"], org.ous["Test"]])}
    assert sorted((i.account, i.region) for i in p.instances if i.action == "delete") == \
        [(a, "us-west-2") for a in members]
    assert {i.action for i in p.instances if i.region == "us-east-1"} == {"unchanged"}
    (op,) = operations
    assert (op["action"], op["status"]) == ("DELETE", "SUCCEEDED")
    assert sorted((r["account"], r["region"]) for r in op["results"]) == [(a, "us-west-2") for a in members]
    assert any("us-west-2, no longer an organisation region" in m for m in shown), shown
    left = cf.list_stack_instances(StackSetName=NAME)["Summaries"]
    assert sorted((i["Account"], i["Region"]) for i in left) == [(a, "us-east-1") for a in members]
    assert cf.describe_stack_set(StackSetName=NAME)["StackSet"]["Regions"] == ["us-east-1"]
    # RetainStacks: the stacks stay in each account's us-west-2
    for account in members:
        stacks = org.session(account).client("cloudformation", endpoint_url=org.url,
                                             region_name="us-west-2").describe_stacks()["Stacks"]
        assert [s["StackStatus"] for s in stacks if s["StackName"].startswith(f"StackSet-{NAME}-")] == \
            ["CREATE_COMPLETE"], account

    # the next run has nothing to do: no write
    aws_env.reset_calls()
    p, operations, _shown = run(org, east, ("us-east-1",), org.management)
    assert not p.has_changes and operations == [] and not p.delete_regions
    assert [c["operation"] for c in aws_env.calls() if aws.is_write(c["operation"])] == []
    assert json.dumps(p.to_json())   # the --json form of the plan
