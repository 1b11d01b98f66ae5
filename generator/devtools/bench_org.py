"""``make bench``'s organisation case: the catalog across an AWS Organization, next to the per-account way.

Against the local endpoint (``--latency-ms`` per call), an organisation of ``--org-accounts`` (100) member
accounts in two target OUs (and one account in an OU outside the targets), ``--org-products`` (10) products,
the catalog's regions:

- **ours**: ``publish`` with the settings' ``[organization]`` (the portfolio shared with the two OUs) and the
  organisation deploy of the baseline and the launch role (``generator.aws.stacksets``: four service-managed
  stack sets, with a one-resource template so that the endpoint's stack work does not hide the API cost);
  then the same again with nothing changed; then one new account moved into a target OU, with no command
  of ours at all (StackSets' automatic deployment and the OU share serve it), checked from the account;
- **the per-account way** (what a tool that loops over accounts does): per account and region, share the
  portfolio with the account (account-to-account) and, in the account (its OrganizationAccountAccessRole),
  import it (AcceptPortfolioShare), associate the account's developer group with it, and create the baseline
  stack (and the launch role stack in the primary region); its re-run reads each account's state back; adding
  an account costs one account's worth.  The launch constraint stays the hub's LocalRoleName one: "The
  recipient administrator ... cannot change the products or constraints, but can add AWS Identity and Access
  Management (IAM) access for end users" (*Sharing and Importing Portfolios*, AWS Service Catalog
  Administrator Guide), so tools that set constraints per account first copy the portfolio into it; that
  copy (a portfolio, and per product an association and a constraint) is left out, which makes these figures
  a lower bound of the per-account way.

Counted: the hub's API calls (the calls our code makes, through ``generator.aws.api.CallRecorder``; for
the per-account way every call it makes, hub or member, since the publisher makes them all) and wall time.
Targets: publish's hub calls are the same for 10 and for ``--org-accounts`` accounts; a no-change re-run of
publish and of the organisation deploy makes no write; a new account costs no publisher call and still gets
the stacks and sees the portfolio.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

Progress = Callable[[str], None]

TARGET_OUS = ("Prod", "Test")
OUTSIDE_OU = "Sandbox"
SMALL_ORG = 10
MEMBER_ROLE = "OrganizationAccountAccessRole"
PER_ACCOUNT_THREADS = 8
TINY_STACK = {"AWSTemplateFormatVersion": "2010-09-09", "Description": "make bench: one resource per stack",
              "Parameters": {"GlobalResources": {"Type": "String", "AllowedValues": ["YES", "NO"], "Default": "NO"}},
              "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
TINY_ROLE_STACK = {k: v for k, v in TINY_STACK.items() if k != "Parameters"}


@dataclass
class Org:
    id: str
    root: str
    management: str
    ous: dict = field(default_factory=dict)         # name -> OU id
    accounts: dict = field(default_factory=dict)    # account id -> OU name


def _client(service: str, region: str = "us-east-1", session=None):
    import boto3

    return (session or boto3).client(service, region_name=region)


def create_organization(members: int) -> Org:
    """The account vendor's work (not counted): an organisation, its OUs and ``members`` accounts spread
    over the target OUs, one more in an OU outside them; trusted access of StackSets and Service Catalog."""
    orgs = _client("organizations")
    created = orgs.create_organization(FeatureSet="ALL")["Organization"]
    org = Org(created["Id"], orgs.list_roots()["Roots"][0]["Id"], created["MasterAccountId"])
    for name in (*TARGET_OUS, OUTSIDE_OU):
        org.ous[name] = orgs.create_organizational_unit(ParentId=org.root, Name=name)["OrganizationalUnit"]["Id"]
    for n in range(members):
        add_account(org, TARGET_OUS[n % len(TARGET_OUS)], f"member-{n:03d}")
    add_account(org, OUTSIDE_OU, "outside-000")
    _client("servicecatalog").enable_aws_organizations_access()
    _client("cloudformation").activate_organizations_access()
    return org


def add_account(org: Org, ou: str, name: str) -> str:
    orgs = _client("organizations")
    status = orgs.create_account(AccountName=name, Email=f"{name}@example.org")["CreateAccountStatus"]
    account = status.get("AccountId") or orgs.describe_create_account_status(
        CreateAccountRequestId=status["Id"])["CreateAccountStatus"]["AccountId"]
    orgs.move_account(AccountId=account, SourceParentId=org.root, DestinationParentId=org.ous[ou])
    org.accounts[account] = ou
    return account


def organization_toml(org: Org, regions: Sequence[str]) -> str:
    from generator.devtools.bench import _toml

    return "\n".join(["", "[organization]", f"regions = {_toml(list(regions))}", "max_concurrent_accounts = 20",
                      "failure_tolerance = 0", "[organization.targets]",
                      f"prod = {_toml([org.ous['Prod']])}", f"test = {_toml([org.ous['Test']])}", ""])


def org_settings(catalog, org: Org):
    from generator import settings as catalog_settings

    catalog.write()
    path = catalog.root / "catalog.toml"
    path.write_text(path.read_text(encoding="utf-8") + organization_toml(org, catalog.regions), encoding="utf-8")
    return catalog_settings.load(path)


def _measure(fn: Callable[[Any], Any]) -> dict:
    from generator.aws import api as aws

    recorder = aws.CallRecorder()
    start = time.perf_counter()
    failures: list[str] = []
    try:
        fn(recorder)
    except Exception as exc:  # noqa: BLE001 - a benchmark records what failed and goes on
        failures.append(f"{type(exc).__name__}: {exc}"[:500])
    s = recorder.summary()
    return {"seconds": round(time.perf_counter() - start, 3), "reads": s["read"], "writes": s["write"],
            "by_operation": s["by_operation"], "failures": failures}


def publish(settings, catalog) -> Callable:
    def run(recorder) -> None:
        from generator.aws import publish as publisher

        report = publisher.publish(settings, out_dir=catalog.out, check_fresh=False, recorder=recorder)
        if not report.ok:
            raise RuntimeError(publisher.failure_summary(report))
    return run


def deploy(settings) -> Callable:
    """The organisation deploy of the log replicas, the baseline and the launch role (the bench's one-resource
    templates), in that order, as ``deploy-baseline --organization`` and ``deploy-launch-role --organization``."""
    def run(recorder) -> None:
        from generator.aws import api as aws, deploy as one_account, organization as org_tree, stacksets

        org, region = settings.organization, settings.primary_region
        sess = aws.session(region)
        cf = aws.client(sess, "cloudformation", region, recorder)
        orgs = aws.client(sess, "organizations", region, recorder)
        account = aws.call(aws.client(sess, "sts", region, recorder), "GetCallerIdentity", "identity")["Account"]
        stacksets.check_trusted_access(cf, org.call_as, account)
        accounts = org_tree.target_accounts(orgs, org, org_tree.describe(orgs).management_account)
        planned: tuple[str, ...] = ()
        for product, template, given in ((one_account.LOG_REPLICA, TINY_ROLE_STACK, {}),
                                         (one_account.BASELINE, TINY_STACK, {}),
                                         (one_account.LAUNCH_ROLE, TINY_ROLE_STACK, {})):
            for spec in stacksets.specs(product, "1.0.0", template, given, org, region, settings.ssm_prefix):
                p = stacksets.plan(cf, stacksets.resolve_dependencies(cf, spec, org.call_as, planned), org, accounts)
                planned += (spec.name,)
                if p.has_changes:
                    stacksets.execute(cf, p, org)
    return run


def served(settings, account: str) -> dict:
    """What a new account has, read in it (not counted): its stack instances and the shared portfolio."""
    from generator.aws import stacksets

    org, region = settings.organization, settings.primary_region
    cf = _client("cloudformation", region)
    instances = sum(len(cf.list_stack_instances(StackSetName=name, StackInstanceAccount=account)["Summaries"])
                    for name in stacksets.stack_set_names())
    member = member_session(account)
    visible = {r: bool(_client("servicecatalog", r, member).list_accepted_portfolio_shares(
        PortfolioShareType="AWS_ORGANIZATIONS")["PortfolioDetails"]) for r in org.regions}
    # the log replicas and the baseline in every region (the bench's log-replica template has no ring of
    # replica regions), the launch role in the primary one
    expected = 2 * len(org.regions) + 1
    return {"stack_instances": instances, "expected_instances": expected, "portfolio_visible": visible}


def member_session(account: str, recorder=None):
    from generator.aws import api as aws

    return aws.assumed_session(aws.session("us-east-1"), f"arn:aws:iam::{account}:role/{MEMBER_ROLE}", "bench",
                               "us-east-1", recorder)


# --- the per-account way ---------------------------------------------------------------------------

def per_account(settings, accounts: Sequence[str], portfolio_ids: Mapping[str, str]) -> Callable:
    """Per account and region: share with the account, import, the account's group, the baseline stack (and the
    launch role stack in the primary region)."""
    def run(recorder) -> None:
        from generator.aws import api as aws
        from generator.blocks import admin_settings as admin

        def one(account: str) -> None:
            hub = aws.session("us-east-1")
            member = member_session(account, recorder)
            for region in settings.regions:
                sc_hub = aws.client(hub, "servicecatalog", region, recorder)
                aws.call(sc_hub, "CreatePortfolioShare", account, PortfolioId=portfolio_ids[region], AccountId=account)
                sc = aws.client(member, "servicecatalog", region, recorder)
                aws.call(sc, "AcceptPortfolioShare", account, PortfolioId=portfolio_ids[region])
                aws.call(sc, "AssociatePrincipalWithPortfolio", account, PortfolioId=portfolio_ids[region],
                         PrincipalType="IAM", PrincipalARN=f"arn:aws:iam::{account}:group/{admin.DEVELOPER_GROUP}")
                cf = aws.client(member, "cloudformation", region, recorder)
                stacks = [("per-account-baseline", TINY_STACK)]
                if region == settings.primary_region:
                    stacks.append(("per-account-launch-role", TINY_ROLE_STACK))
                for name, body in stacks:
                    aws.call(cf, "CreateStack", account, StackName=name, TemplateBody=json.dumps(body),
                             Capabilities=["CAPABILITY_NAMED_IAM"])
        with ThreadPoolExecutor(max_workers=PER_ACCOUNT_THREADS, thread_name_prefix="per-account") as pool:
            list(pool.map(one, accounts))
    return run


def per_account_rerun(settings, accounts: Sequence[str]) -> Callable:
    """A re-run of the per-account way reads each account's state back (imports, local portfolio, stacks)."""
    def run(recorder) -> None:
        from generator.aws import api as aws

        def one(account: str) -> None:
            member = member_session(account, recorder)
            for region in settings.regions:
                sc = aws.client(member, "servicecatalog", region, recorder)
                for p in aws.pages(sc, "ListAcceptedPortfolioShares", "PortfolioDetails", account):
                    aws.pages(sc, "ListPrincipalsForPortfolio", "Principals", account, PortfolioId=p["Id"])
                cf = aws.client(member, "cloudformation", region, recorder)
                aws.pages(cf, "DescribeStacks", "Stacks", account)
        with ThreadPoolExecutor(max_workers=PER_ACCOUNT_THREADS, thread_name_prefix="per-account") as pool:
            list(pool.map(one, accounts))
    return run


def _hub_portfolios(settings) -> dict:
    """The published portfolio's id per region (for the per-account way)."""
    from generator.aws import publish as publisher

    return {r: publisher.observe(_client("servicecatalog", r), r, settings.portfolio.name, [])[0].portfolio_id
            for r in settings.regions}


# --- the whole case --------------------------------------------------------------------------------

def bench(endpoint, work: Path, body: str, members: int, products: int, regions: Sequence[str], latency_ms: int,
          per_account_way: bool = True, progress: Progress = lambda _m: None) -> dict:
    from generator.devtools.bench import PublishCatalog, setup_baseline

    results: dict[str, Any] = {"accounts": members, "products": products, "regions": list(regions),
                               "latency_ms": latency_ms}
    # publish's hub calls with a small organisation first, to compare with the large one
    endpoint.reset()
    small = create_organization(SMALL_ORG)
    cat = PublishCatalog(work / "org-small", regions, products, body)
    setup_baseline(regions, cat.prefix)
    endpoint.set_faults(latency_ms=latency_ms)
    progress(f"organisation: first publish with {SMALL_ORG} accounts")
    results["publish_small"] = _measure(publish(org_settings(cat, small), cat))
    endpoint.set_faults()

    endpoint.reset()
    org = create_organization(members)
    cat = PublishCatalog(work / "org", regions, products, body)
    setup_baseline(regions, cat.prefix)
    settings = org_settings(cat, org)
    endpoint.set_faults(latency_ms=latency_ms)
    for key, label, fn in (("publish_first", "first publish", publish(settings, cat)),
                           ("deploy_first", "first organisation deploy", deploy(settings)),
                           ("publish_again", "no-change publish", publish(settings, cat)),
                           ("deploy_again", "no-change organisation deploy", deploy(settings))):
        progress(f"organisation ({members} accounts): {label}")
        results[key] = _measure(fn)
    progress("organisation: one new account moved into a target OU, no command of ours")
    start = time.perf_counter()
    new = add_account(org, TARGET_OUS[0], "joiner-000")
    results["new_account"] = {"publisher_calls": 0, "vendor_seconds": round(time.perf_counter() - start, 3),
                              **served(settings, new)}
    if per_account_way:
        endpoint.set_faults()
        portfolios = _hub_portfolios(settings)
        members_ids = [a for a, ou in org.accounts.items() if ou in TARGET_OUS and a != new]
        endpoint.set_faults(latency_ms=latency_ms)
        progress(f"per-account way: {len(members_ids)} accounts x {len(regions)} regions")
        results["per_account_first"] = _measure(per_account(settings, members_ids, portfolios))
        progress("per-account way: re-run")
        results["per_account_again"] = _measure(per_account_rerun(settings, members_ids))
        progress("per-account way: one new account")
        extra = add_account(org, TARGET_OUS[1], "joiner-001")
        results["per_account_new"] = _measure(per_account(settings, [extra], portfolios))
    endpoint.set_faults()
    return results


def targets(results: Mapping) -> list:
    from generator.devtools.bench import Target

    o = results.get("organization")
    if not o:
        return []
    out = []
    small, big = o["publish_small"], o["publish_first"]
    out.append(Target("organisation publish does not grow with accounts",
                      f"hub-side calls of a first publish: {SMALL_ORG} accounts = {o['accounts']} accounts",
                      f"{small['reads'] + small['writes']} vs {big['reads'] + big['writes']} calls",
                      small["reads"] + small["writes"] == big["reads"] + big["writes"]
                      and not small["failures"] and not big["failures"]))
    again = [o["publish_again"], o["deploy_again"]]
    out.append(Target("organisation no-change re-run", "publish + organisation deploy again: 0 writes",
                      f"{sum(r['writes'] for r in again)} writes, {sum(r['reads'] for r in again)} reads",
                      all(r["writes"] == 0 and not r["failures"] for r in again)))
    n = o["new_account"]
    out.append(Target("a new account costs the publisher nothing",
                      "0 publisher calls; the account gets every stack instance and sees the portfolio",
                      f"{n['publisher_calls']} calls, {n['stack_instances']}/{n['expected_instances']} stack "
                      f"instances, portfolio visible in {sum(n['portfolio_visible'].values())}/"
                      f"{len(n['portfolio_visible'])} regions",
                      n["publisher_calls"] == 0 and n["stack_instances"] == n["expected_instances"]
                      and all(n["portfolio_visible"].values())))
    for key in ("publish_first", "deploy_first"):
        if o[key]["failures"]:
            out.append(Target(f"organisation {key} ok", "ran without error", o[key]["failures"][0][:300], False))
    return out


def table(results: Mapping) -> str:
    from generator.cli.output import table as render

    o = results.get("organization")
    if not o:
        return ""

    def cells(r: Mapping | None) -> tuple:
        return (f"{r['seconds']:.1f}", r["reads"] + r["writes"], r["writes"]) if r else ("-", "-", "-")

    rows = [("first", *cells(o["publish_first"]), *cells(o["deploy_first"]), *cells(o.get("per_account_first"))),
            ("no-change re-run", *cells(o["publish_again"]), *cells(o["deploy_again"]),
             *cells(o.get("per_account_again"))),
            ("one new account", "0", 0, 0, "0", 0, 0, *cells(o.get("per_account_new")))]
    head = (f"organisation: {o['accounts']} member accounts x {len(o['regions'])} regions x {o['products']} products, "
            f"{o['latency_ms']} ms per call; publish's hub calls with {SMALL_ORG} accounts: "
            f"{o['publish_small']['reads'] + o['publish_small']['writes']}; per-account loop: on top of the hub's "
            f"publish, {PER_ACCOUNT_THREADS} accounts at a time, sts:AssumeRole counted as a write")
    return "\n".join([head, render(["organisation", "publish s", "calls", "writes", "org deploy s", "calls", "writes",
                                    "per-account loop s", "calls", "writes"], rows)])
