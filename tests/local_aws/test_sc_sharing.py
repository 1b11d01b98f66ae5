"""Service Catalog portfolio shares through AWS Organizations, over HTTP: the hub's side, what a member
account sees, principal-name sharing, LocalRoleName launch constraints and launches in member accounts."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from generator.errors import LocalAwsError

from .conftest import FIXTURE_LAUNCH_POLICY, artifact_params, settle
from .organization import create_organization
from .test_sc_admin import error_code

pytestmark = pytest.mark.aws

LAUNCH_ROLE = "SCLaunchRole"
DEVELOPERS = "HealthcareDeveloper"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "servicecatalog.amazonaws.com"}}]})


def launch_role(iam, policy=FIXTURE_LAUNCH_POLICY) -> str:
    arn = iam.create_role(RoleName=LAUNCH_ROLE, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.put_role_policy(RoleName=LAUNCH_ROLE, PolicyName="launch", PolicyDocument=json.dumps(policy))
    return arn


@pytest.fixture
def hub(aws_env, client, upload):
    """An organisation (Prod: 2 accounts, Sandbox: 1) and, in its management account, a portfolio with the
    fixture product, a LocalRoleName launch constraint and the developers' group as an IAM_PATTERN."""
    org = create_organization(aws_env.url, {"Prod": 2, "Sandbox": 1})
    sc = client("servicecatalog")
    launch_role(client("iam"))
    portfolio = sc.create_portfolio(DisplayName="HIPAA", ProviderName="Security")["PortfolioDetail"]["Id"]
    product = sc.create_product(Name="phi-bucket", Owner="Security", ProductType="CLOUD_FORMATION_TEMPLATE",
                                ProvisioningArtifactParameters=artifact_params(upload("phi-bucket/v1.yaml")))
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    sc.associate_product_with_portfolio(ProductId=product_id, PortfolioId=portfolio)
    sc.create_constraint(PortfolioId=portfolio, ProductId=product_id, Type="LAUNCH",
                         Parameters=json.dumps({"LocalRoleName": LAUNCH_ROLE}))
    sc.associate_principal_with_portfolio(PortfolioId=portfolio, PrincipalType="IAM_PATTERN",
                                          PrincipalARN=f"arn:aws:iam:::group/{DEVELOPERS}")
    org.portfolio, org.product = portfolio, product_id
    org.artifact = product["ProvisioningArtifactDetail"]["Id"]
    return org


def wait_for_share(sc, token: str) -> dict:
    """Poll DescribePortfolioShareStatus until the share operation is over; return the last answer."""
    for _ in range(10):
        status = sc.describe_portfolio_share_status(PortfolioShareToken=token)
        if status["Status"] not in ("NOT_STARTED", "IN_PROGRESS"):
            return status
    raise AssertionError(f"share {token} never completed")


def share_with_prod(hub, sc, wait=True):
    token = sc.create_portfolio_share(PortfolioId=hub.portfolio, SharePrincipals=True, ShareTagOptions=True,
                                      OrganizationNode={"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]}
                                      )["PortfolioShareToken"]
    if wait:
        wait_for_share(sc, token)
    return token


def prepare_member(hub, account: str, suffix: str):
    """The member's launch role, its SSM setting and a developer in the HealthcareDeveloper group."""
    launch_role(hub.member(account, "iam"))
    hub.member(account, "ssm").put_parameter(Name="/hipaa/kms-alias", Value="alias/phi", Type="String")
    return hub.client("servicecatalog", hub.user_session(account, f"dev-{suffix}", DEVELOPERS))


def test_organisation_shares_need_organizations_access_from_the_management_account(hub, sc):
    node = {"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]}
    with pytest.raises(ClientError) as exc:
        sc.create_portfolio_share(PortfolioId=hub.portfolio, OrganizationNode=node)
    assert error_code(exc) == "InvalidStateException"
    assert "enable-aws-organizations-access" in exc.value.response["Error"]["Message"]
    assert sc.get_aws_organizations_access_status()["AccessStatus"] == "DISABLED"
    member_sc = hub.member(hub.accounts["Prod-0"], "servicecatalog")
    # "Note that a delegated administrator is not authorized to invoke EnableAWSOrganizationsAccess."
    with pytest.raises(ClientError) as exc:
        member_sc.enable_aws_organizations_access()
    assert error_code(exc) == "OperationNotSupportedException"
    sc.enable_aws_organizations_access()
    assert sc.get_aws_organizations_access_status()["AccessStatus"] == "ENABLED"
    # EnableAWSOrganizationsAccess calls organizations:EnableAWSServiceAccess on the caller's behalf
    services = hub.client("organizations").list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in services] == ["servicecatalog.amazonaws.com"]
    with pytest.raises(ClientError) as exc:
        sc.create_portfolio_share(PortfolioId=hub.portfolio, SharePrincipals=True,
                                  OrganizationNode={"Type": "ACCOUNT", "Value": hub.accounts["Prod-0"]})
    assert error_code(exc) == "InvalidParametersException"  # SharePrincipals: organisation or OU nodes only
    with pytest.raises(ClientError) as exc:
        sc.create_portfolio_share(PortfolioId=hub.portfolio, OrganizationNode={"Type": "ORGANIZATIONAL_UNIT",
                                                                               "Value": "ou-none-00000000"})
    assert error_code(exc) == "InvalidParametersException"


def test_share_status_listings_and_update(hub, sc):
    sc.enable_aws_organizations_access()
    token = share_with_prod(hub, sc, wait=False)
    assert sc.describe_portfolio_share_status(PortfolioShareToken=token)["Status"] == "IN_PROGRESS"
    member_sc = hub.member(hub.accounts["Prod-0"], "servicecatalog")
    # "the share is not available to recipient entities" while IN_PROGRESS, nor can it be updated
    assert member_sc.list_accepted_portfolio_shares(PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] == []
    with pytest.raises(ClientError) as exc:
        sc.update_portfolio_share(PortfolioId=hub.portfolio, ShareTagOptions=False,
                                  OrganizationNode={"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]})
    assert error_code(exc) == "InvalidStateException"
    status = wait_for_share(sc, token)
    assert share_with_prod(hub, sc) != token  # an existing share: no effect, no error
    assert status["Status"] == "COMPLETED" and status["OrganizationNodeValue"] == hub.ous["Prod"]
    assert sorted(status["ShareDetails"]["SuccessfulShares"]) == sorted([hub.accounts["Prod-0"], hub.accounts["Prod-1"]])
    details = sc.describe_portfolio_shares(PortfolioId=hub.portfolio, Type="ORGANIZATIONAL_UNIT")["PortfolioShareDetails"]
    assert details == [{"PrincipalId": hub.ous["Prod"], "Type": "ORGANIZATIONAL_UNIT", "Accepted": True,
                        "ShareTagOptions": True, "SharePrincipals": True}]
    assert sc.describe_portfolio_shares(PortfolioId=hub.portfolio, Type="ORGANIZATION")["PortfolioShareDetails"] == []
    nodes = sc.list_organization_portfolio_access(PortfolioId=hub.portfolio, OrganizationNodeType="ORGANIZATIONAL_UNIT")
    assert nodes["OrganizationNodes"] == [{"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]}]
    access = sc.list_portfolio_access(PortfolioId=hub.portfolio)["AccountIds"]
    assert sorted(access) == sorted([hub.accounts["Prod-0"], hub.accounts["Prod-1"]])
    updated = sc.update_portfolio_share(PortfolioId=hub.portfolio, ShareTagOptions=False,
                                        OrganizationNode={"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]})
    assert wait_for_share(sc, updated["PortfolioShareToken"])["Status"] == "COMPLETED"
    details = sc.describe_portfolio_shares(PortfolioId=hub.portfolio, Type="ORGANIZATIONAL_UNIT")["PortfolioShareDetails"]
    assert (details[0]["ShareTagOptions"], details[0]["SharePrincipals"]) == (False, True)
    with pytest.raises(ClientError) as exc:
        sc.delete_portfolio(Id=hub.portfolio)
    assert error_code(exc) == "ResourceInUseException"
    sc.delete_portfolio_share(PortfolioId=hub.portfolio,
                              OrganizationNode={"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]})
    assert sc.list_portfolio_access(PortfolioId=hub.portfolio)["AccountIds"] == []


def test_member_accounts_see_the_share_as_the_organisation_is_now(hub, sc, client):
    sc.enable_aws_organizations_access()
    share_with_prod(hub, sc)
    inside, outside = hub.accounts["Prod-0"], hub.accounts["Sandbox-0"]
    member_sc = hub.member(inside, "servicecatalog")
    accepted = member_sc.list_accepted_portfolio_shares(PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]
    assert [p["Id"] for p in accepted] == [hub.portfolio]
    # imported without accepting; an account-to-account accept does not find it (puppet#346)
    assert member_sc.list_accepted_portfolio_shares()["PortfolioDetails"] == []
    member_sc.accept_portfolio_share(PortfolioId=hub.portfolio, PortfolioShareType="AWS_ORGANIZATIONS")
    with pytest.raises(ClientError) as exc:
        member_sc.accept_portfolio_share(PortfolioId=hub.portfolio)
    assert error_code(exc) == "ResourceNotFoundException"
    assert member_sc.describe_portfolio(Id=hub.portfolio)["PortfolioDetail"]["DisplayName"] == "HIPAA"
    # principal name sharing: the recipient sees the IAM_PATTERN associations
    principals = member_sc.list_principals_for_portfolio(PortfolioId=hub.portfolio)["Principals"]
    assert principals == [{"PrincipalARN": f"arn:aws:iam:::group/{DEVELOPERS}", "PrincipalType": "IAM_PATTERN"}]
    outside_sc = hub.member(outside, "servicecatalog")
    assert outside_sc.list_accepted_portfolio_shares(PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] == []
    with pytest.raises(ClientError) as exc:
        outside_sc.describe_portfolio(Id=hub.portfolio)
    assert error_code(exc) == "ResourceNotFoundException"
    # moving an account in and out of the shared OU changes what it sees, with no share call
    organizations = client("organizations")
    organizations.move_account(AccountId=outside, SourceParentId=hub.ous["Sandbox"], DestinationParentId=hub.ous["Prod"])
    assert [p["Id"] for p in outside_sc.list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]] == [hub.portfolio]
    organizations.move_account(AccountId=outside, SourceParentId=hub.ous["Prod"], DestinationParentId=hub.ous["Sandbox"])
    assert outside_sc.list_accepted_portfolio_shares(PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"] == []


def test_developers_of_a_member_account_launch_with_its_local_launch_role(hub, sc, client):
    sc.enable_aws_organizations_access()
    share_with_prod(hub, sc)
    account = hub.accounts["Prod-1"]
    developer = prepare_member(hub, account, "a")
    # the account's administrator (not a HealthcareDeveloper) is not entitled to the products
    assert hub.member(account, "servicecatalog").search_products()["ProductViewSummaries"] == []
    summaries = developer.search_products()["ProductViewSummaries"]
    assert [s["ProductId"] for s in summaries] == [hub.product]
    path = developer.list_launch_paths(ProductId=hub.product)["LaunchPathSummaries"][0]
    params = developer.describe_provisioning_parameters(ProductId=hub.product, ProvisioningArtifactId=hub.artifact,
                                                        PathId=path["Id"])
    local_role = f"arn:aws:iam::{account}:role/{LAUNCH_ROLE}"
    assert params["UsageInstructions"] == [{"Type": "launchAsRole", "Value": local_role}]
    record = developer.provision_product(ProductId=hub.product, ProvisioningArtifactId=hub.artifact,
                                         ProvisionedProductName="phi-a", ProvisionToken="t-a",
                                         ProvisioningParameters=[{"Key": "BucketSuffix", "Value": "member-a"}])
    done = settle(developer, record["RecordDetail"]["RecordId"])
    assert done["RecordDetail"]["Status"] == "SUCCEEDED", done["RecordDetail"]["RecordErrors"]
    assert done["RecordDetail"]["LaunchRoleArn"] == local_role
    stack_arn = next(o["OutputValue"] for o in done["RecordOutputs"] if o["OutputKey"] == "CloudformationStackARN")
    assert f":{account}:stack/SC-{account}-" in stack_arn
    # the stack is in the member account's CloudFormation, provisioned as its launch role with IAM enforced
    assert hub.member(account, "cloudformation").describe_stacks(StackName=stack_arn)["Stacks"][0]["StackStatus"] \
        == "CREATE_COMPLETE"
    assert client("cloudformation").describe_stacks()["Stacks"] == []
    provisioned = developer.search_provisioned_products()["ProvisionedProducts"]
    assert [(p["Name"], p["ProductName"], p["Status"]) for p in provisioned] == [("phi-a", "phi-bucket", "AVAILABLE")]
    assert provisioned[0]["UserArn"] == f"arn:aws:iam::{account}:user/dev-a"
    # AccessLevelFilter: Scan defaults to User (the account's administrator launched nothing), Search to Account
    admin = hub.member(account, "servicecatalog")
    assert admin.scan_provisioned_products()["ProvisionedProducts"] == []
    assert [p["Name"] for p in admin.scan_provisioned_products(
        AccessLevelFilter={"Key": "Account", "Value": "self"})["ProvisionedProducts"]] == ["phi-a"]
    assert [p["Name"] for p in admin.search_provisioned_products()["ProvisionedProducts"]] == ["phi-a"]


def test_a_member_account_without_the_local_launch_role_cannot_launch(hub, sc):
    sc.enable_aws_organizations_access()
    share_with_prod(hub, sc)
    account = hub.accounts["Prod-0"]
    hub.member(account, "ssm").put_parameter(Name="/hipaa/kms-alias", Value="alias/phi", Type="String")
    developer = hub.client("servicecatalog", hub.user_session(account, "dev", DEVELOPERS))
    with pytest.raises(ClientError) as exc:
        developer.provision_product(ProductId=hub.product, ProvisioningArtifactId=hub.artifact,
                                    ProvisionedProductName="phi-b", ProvisionToken="t-b",
                                    ProvisioningParameters=[{"Key": "BucketSuffix", "Value": "member-b"}])
    assert error_code(exc) == "InvalidParametersException" and LAUNCH_ROLE in str(exc.value)


def test_the_launch_is_refused_by_the_member_launch_role_policy(hub, sc, aws_env):
    sc.enable_aws_organizations_access()
    share_with_prod(hub, sc)
    account = hub.accounts["Prod-0"]
    statements = [s for s in FIXTURE_LAUNCH_POLICY["Statement"] if s["Sid"] != "Resources"]
    launch_role(hub.member(account, "iam"), {"Version": "2012-10-17", "Statement": statements})
    hub.member(account, "ssm").put_parameter(Name="/hipaa/kms-alias", Value="alias/phi", Type="String")
    developer = hub.client("servicecatalog", hub.user_session(account, "dev", DEVELOPERS))
    record = developer.provision_product(ProductId=hub.product, ProvisioningArtifactId=hub.artifact,
                                         ProvisionedProductName="phi-c", ProvisionToken="t-c",
                                         ProvisioningParameters=[{"Key": "BucketSuffix", "Value": "member-c"}])
    done = settle(developer, record["RecordDetail"]["RecordId"])
    assert done["RecordDetail"]["Status"] == "FAILED"
    assert f"arn:aws:sts::{account}:assumed-role/{LAUNCH_ROLE}/" in done["RecordDetail"]["RecordErrors"][0]["Description"]
    denied = [r for r in aws_env.iam_requests() if not r["allowed"]]
    assert denied and all(r["role"] == f"arn:aws:iam::{account}:role/{LAUNCH_ROLE}" for r in denied)


def test_recipients_own_principal_associations_entitle_its_roles(hub, sc):
    sc.enable_aws_organizations_access()
    wait_for_share(sc, sc.create_portfolio_share(PortfolioId=hub.portfolio,  # without principal sharing
                                                 OrganizationNode={"Type": "ORGANIZATION", "Value": hub.id}
                                                 )["PortfolioShareToken"])
    account = hub.accounts["Sandbox-0"]
    developer = prepare_member(hub, account, "d")
    assert developer.search_products()["ProductViewSummaries"] == []
    admin_sc = hub.member(account, "servicecatalog")
    assert admin_sc.list_principals_for_portfolio(PortfolioId=hub.portfolio)["Principals"] == []
    admin_sc.associate_principal_with_portfolio(PortfolioId=hub.portfolio, PrincipalType="IAM",
                                                PrincipalARN=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole")
    assert [s["ProductId"] for s in admin_sc.search_products()["ProductViewSummaries"]] == [hub.product]
    assert developer.search_products()["ProductViewSummaries"] == []
    # the hub's own portfolio is untouched by the recipient's association
    assert [p["PrincipalType"] for p in sc.list_principals_for_portfolio(PortfolioId=hub.portfolio)["Principals"]] \
        == ["IAM_PATTERN"]


def test_at_most_ten_iam_pattern_principals(hub, sc):
    for n in range(9):  # the fixture associated one already
        sc.associate_principal_with_portfolio(PortfolioId=hub.portfolio, PrincipalType="IAM_PATTERN",
                                              PrincipalARN=f"arn:aws:iam:::role/Team{n}-*")
    with pytest.raises(ClientError) as exc:
        sc.associate_principal_with_portfolio(PortfolioId=hub.portfolio, PrincipalType="IAM_PATTERN",
                                              PrincipalARN="arn:aws:iam:::role/OneTooMany")
    assert error_code(exc) == "LimitExceededException"


def test_share_errors_leave_the_failed_accounts_without_the_portfolio_until_shared_again(hub, sc, aws_env):
    """*DescribePortfolioShareStatus* (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_DescribePortfolioShareStatus.html):
    Status COMPLETED_WITH_ERRORS | ERROR, ShareDetails {SuccessfulShares, ShareErrors [{Accounts, Message, Error}]};
    the failures are the endpoint's, on request (AWS does not document their causes)."""
    sc.enable_aws_organizations_access()
    failing, fine = hub.accounts["Prod-1"], hub.accounts["Prod-0"]
    with pytest.raises(LocalAwsError, match="fail_accounts"):
        aws_env.set_shares(["not-an-account"])
    aws_env.set_shares([failing], error="AccessDeniedException", message="refused")
    status = wait_for_share(sc, share_with_prod(hub, sc, wait=False))
    assert status["Status"] == "COMPLETED_WITH_ERRORS"
    assert status["ShareDetails"] == {"SuccessfulShares": [fine], "ShareErrors": [
        {"Accounts": [failing], "Message": "refused", "Error": "AccessDeniedException"}]}
    imported = lambda account: hub.member(account, "servicecatalog").list_accepted_portfolio_shares(  # noqa: E731
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]
    assert len(imported(fine)) == 1 and imported(failing) == []
    assert sc.list_portfolio_access(PortfolioId=hub.portfolio)["AccountIds"] == [fine]
    # CreatePortfolioShare on the share "will have no effect": the account stays without it
    node = {"Type": "ORGANIZATIONAL_UNIT", "Value": hub.ous["Prod"]}
    aws_env.set_shares([])
    again = sc.create_portfolio_share(PortfolioId=hub.portfolio, OrganizationNode=node, SharePrincipals=True)
    assert wait_for_share(sc, again["PortfolioShareToken"])["ShareDetails"]["SuccessfulShares"] == [fine]
    assert imported(failing) == []
    # an operation that shares (here UpdatePortfolioShare) reaches it; one that reaches no account is ERROR
    updated = sc.update_portfolio_share(PortfolioId=hub.portfolio, OrganizationNode=node, SharePrincipals=True)
    assert wait_for_share(sc, updated["PortfolioShareToken"])["Status"] == "COMPLETED"
    assert len(imported(failing)) == 1
    aws_env.set_shares([fine, failing])
    updated = sc.update_portfolio_share(PortfolioId=hub.portfolio, OrganizationNode=node, SharePrincipals=True)
    status = wait_for_share(sc, updated["PortfolioShareToken"])
    assert (status["Status"], status["ShareDetails"]["SuccessfulShares"]) == ("ERROR", [])
    assert imported(fine) == imported(failing) == []
