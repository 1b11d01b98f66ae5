"""publish with an [organization]: the portfolio shared with the targets through AWS Organizations, on the
local endpoint over HTTP (the whole organisation flow with StackSets: tests/test_organization.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator import settings as catalog_settings
from generator.aws import publish as publisher
from generator.aws.publish_plan import local_launch_description
from generator.blocks import admin_settings as admin
from tests.conftest import administer
from tests.local_aws.organization import create_organization

pytestmark = pytest.mark.aws

REGION = "us-east-1"


def org_settings(tmp_path, org, targets) -> str:
    lines = [f'{env} = ["{node}"]' for env, node in targets.items()]
    path = tmp_path / "catalog.toml"
    path.write_text(catalog_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8")
                    + f'\n[organization]\nregions = ["{REGION}"]\n[organization.targets]\n' + "\n".join(lines) + "\n",
                    encoding="utf-8")
    return str(path)


def organisation(endpoint, built, tmp_path) -> dict:
    org = create_organization(endpoint.url, {"Prod": 2, "Test": 1, "Sandbox": 1})
    settings = org_settings(tmp_path, org, {"prod": org.ous["Prod"], "test": org.ous["Test"]})
    return {"org": org, "settings": settings, "built": str(built), "endpoint": endpoint}


@pytest.fixture
def shared(aws_env, built, hc, tmp_path):
    """The hub's baseline and launch role, nothing published yet, and an organisation of 3 OUs."""
    administer(built, hc, REGION)
    return organisation(aws_env, built, tmp_path)


def publish(s, hc):
    return hc("--settings", s["settings"], "publish", "--out", s["built"], "--region", REGION)


def test_without_organizations_access_publish_says_what_to_run(shared):
    report = publisher.publish(catalog_settings.load(shared["settings"]), out_dir=Path(shared["built"]),
                               regions=[REGION])
    assert not report.ok and report.calls["write"] == 0
    error = report.regions[REGION].error
    assert "Service Catalog's access to AWS Organizations is DISABLED" in error
    assert "aws servicecatalog enable-aws-organizations-access" in error
    assert {a.status for a in report.actions} == {publisher.Status.NOT_DONE}


def test_shares_with_every_target_by_name_and_local_role_then_changes_nothing(shared, hc):
    org = shared["org"]
    org.client("servicecatalog").enable_aws_organizations_access()
    code, report, err = publish(shared, hc)
    assert code == 0, err
    assert {a["status"] for a in report["actions"]} == {"done"}
    portfolio_level = {(a["action"], a["node"] or a["principal"]) for a in report["actions"] if not a["product"]}
    group = f"arn:aws:iam::{report['account']}:group/{admin.DEVELOPER_GROUP}"
    assert portfolio_level == {("create portfolio", ""), ("associate principal", group),
                               ("associate principal", f"arn:aws:iam:::group/{admin.DEVELOPER_GROUP}"),
                               ("share portfolio", org.ous["Prod"]), ("share portfolio", org.ous["Test"])}
    messages = {a["node"]: a["message"] for a in report["actions"] if a["action"] == "share portfolio"}
    assert messages == {org.ous["Prod"]: "COMPLETED: 2 account(s)", org.ous["Test"]: "COMPLETED: 1 account(s)"}
    sc = org.client("servicecatalog")
    portfolio = report["regions"][REGION]["portfolio_id"]
    constraints = sc.list_constraints_for_portfolio(PortfolioId=portfolio)["ConstraintDetails"]
    assert [c["Description"] for c in constraints] == [local_launch_description(admin.LAUNCH_ROLE_NAME)]
    params = sc.describe_constraint(Id=constraints[0]["ConstraintId"])["ConstraintParameters"]
    assert "LocalRoleName" in params and admin.LAUNCH_ROLE_NAME in params
    # what each member account sees: the share in the target OUs, nothing outside them
    for name, sees in (("Prod-0", True), ("Test-0", True), ("Sandbox-0", False)):
        accepted = org.member(org.accounts[name], "servicecatalog").list_accepted_portfolio_shares(
            PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]
        assert bool(accepted) is sees, name

    shared["endpoint"].reset_calls()
    code, again, err = publish(shared, hc)
    assert code == 0, err
    assert again["calls"]["write"] == 0, again["calls"]
    assert {a["action"] for a in again["actions"]} == {"unchanged"}


def test_a_share_without_principal_sharing_is_updated(shared, hc):
    org = shared["org"]
    sc = org.client("servicecatalog")
    sc.enable_aws_organizations_access()
    code, report, err = publish(shared, hc)
    assert code == 0, err
    portfolio = report["regions"][REGION]["portfolio_id"]
    sc.update_portfolio_share(PortfolioId=portfolio, OrganizationNode={"Type": "ORGANIZATIONAL_UNIT",
                                                                       "Value": org.ous["Test"]},
                              SharePrincipals=False)
    code, again, err = publish(shared, hc)
    assert code == 0, err
    changed = [(a["action"], a["node"], a["status"]) for a in again["actions"] if a["action"] != "unchanged"]
    assert changed == [("update share", org.ous["Test"], "done")]



def test_a_one_account_catalog_moves_to_the_organisation(account, hc, tmp_path):
    """Published without [organization] (a RoleArn launch constraint), then the settings gain one: the
    re-publish updates the constraint in place to the LocalRoleName (UpdateConstraint's LAUNCH Parameters,
    https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdateConstraint.html), adds the principal
    name and shares the portfolio; a third publish writes nothing."""
    s = organisation(account["endpoint"], account["built"], tmp_path)
    org = s["org"]
    sc = org.client("servicecatalog")
    portfolio = sc.list_portfolios()["PortfolioDetails"][0]["Id"]
    [before] = sc.list_constraints_for_portfolio(PortfolioId=portfolio)["ConstraintDetails"]
    assert "RoleArn" in sc.describe_constraint(Id=before["ConstraintId"])["ConstraintParameters"]
    sc.enable_aws_organizations_access()

    code, report, err = publish(s, hc)
    assert code == 0, err
    assert report["regions"][REGION]["portfolio_id"] == portfolio
    changed = {(a["action"], a["product"] or a["node"] or a["principal"], a["status"])
               for a in report["actions"] if a["action"] != "unchanged"}
    assert changed == {("update launch constraint", "healthcare-web-server", "done"),
                       ("associate principal", f"arn:aws:iam:::group/{admin.DEVELOPER_GROUP}", "done"),
                       ("share portfolio", org.ous["Prod"], "done"), ("share portfolio", org.ous["Test"], "done")}
    [after] = sc.list_constraints_for_portfolio(PortfolioId=portfolio)["ConstraintDetails"]
    assert after["ConstraintId"] == before["ConstraintId"]
    assert after["Description"] == local_launch_description(admin.LAUNCH_ROLE_NAME)
    assert json.loads(sc.describe_constraint(Id=after["ConstraintId"])["ConstraintParameters"]) \
        == {"LocalRoleName": admin.LAUNCH_ROLE_NAME}
    for name, sees in (("Prod-0", True), ("Sandbox-0", False)):
        accepted = org.member(org.accounts[name], "servicecatalog").list_accepted_portfolio_shares(
            PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]
        assert [p["Id"] for p in accepted] == ([portfolio] if sees else []), name

    s["endpoint"].reset_calls()
    code, again, err = publish(s, hc)
    assert code == 0, err
    assert again["calls"]["write"] == 0, again["calls"]
    assert {a["action"] for a in again["actions"]} == {"unchanged"}


def test_a_share_that_fails_for_some_accounts_is_reported_with_the_next_step(shared, hc):
    """*DescribePortfolioShareStatus* (AWS Service Catalog API Reference): Status COMPLETED_WITH_ERRORS / ERROR,
    ShareDetails.ShareErrors {Accounts, Message, Error}; the endpoint fails the accounts it is told to."""
    org, endpoint = shared["org"], shared["endpoint"]
    org.client("servicecatalog").enable_aws_organizations_access()
    failing = org.accounts["Prod-1"]
    endpoint.set_shares([failing], error="AccessDeniedException", message="the account refused the share")
    code, report, _err = publish(shared, hc)
    assert code != 0 and not report["ok"]
    (failed,) = [a for a in report["actions"] if a["status"] == "failed"]
    assert (failed["action"], failed["node"]) == ("share portfolio", org.ous["Prod"])
    error = report["regions"][REGION]["error"]
    assert failed["message"] in error
    assert (f"with {org.ous['Prod']} in {REGION}: COMPLETED_WITH_ERRORS: 1 account(s) reached; AccessDeniedException: "
            f"the account refused the share (accounts {failing})") in error, error
    assert f"--organization-node Type=ORGANIZATIONAL_UNIT,Value={org.ous['Prod']}" in error, error
    seen = {name: org.member(org.accounts[name], "servicecatalog").list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] for name in ("Prod-0", "Prod-1")}
    assert len(seen["Prod-0"]) == 1 and seen["Prod-1"] == []
    # the next step as the error gives it: the cause fixed, the share deleted, publish shares anew
    endpoint.set_shares([])
    sc = org.client("servicecatalog")
    portfolio = sc.list_portfolios()["PortfolioDetails"][0]["Id"]
    sc.delete_portfolio_share(PortfolioId=portfolio, OrganizationNode={"Type": "ORGANIZATIONAL_UNIT",
                                                                       "Value": org.ous["Prod"]})
    code, report, err = publish(shared, hc)
    assert code == 0, err
    assert [a["message"] for a in report["actions"] if a["action"] == "share portfolio"
            and a["node"] == org.ous["Prod"]] == ["COMPLETED: 2 account(s)"]
    assert len(org.member(failing, "servicecatalog").list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]) == 1


def test_a_share_that_reaches_no_account_is_an_error(shared, hc):
    org, endpoint = shared["org"], shared["endpoint"]
    org.client("servicecatalog").enable_aws_organizations_access()
    endpoint.set_shares([org.accounts["Test-0"]])
    code, report, _err = publish(shared, hc)
    assert code != 0
    error = report["regions"][REGION]["error"]
    assert f"with {org.ous['Test']} in {REGION}: ERROR: 0 account(s) reached" in error, error
