"""``hipaa-catalog accounts``: every account of the organisation's targets, as the hub and the account see it.

From the hub (the management account or a delegated administrator), reads only:

- the accounts under the targets (``generator.aws.organization``);
- per stack set (``generator.aws.stacksets.STACK_SETS``: the baseline's, the log replicas', the launch role's),
  each account's stack instance in each region:
  Status (CURRENT | OUTDATED | INOPERABLE), StackInstanceStatus.DetailedStatus and DriftStatus (DRIFTED |
  IN_SYNC | UNKNOWN | NOT_CHECKED), from ListStackInstances (AWS CloudFormation API Reference); drift is
  what the last drift detection found; with ``detect_drift`` (``--detect-drift``) the command first runs
  DetectStackSetDrift on every stack set and waits for each (``stacksets.detect_drift``), a write to
  CloudFormation that checks every stack instance's stack;
- whether the portfolio is visible there: the account is under a node the portfolio is shared with in that
  region (DescribePortfolioShares; "If the recipient is in an organization node, the share is automatically
  imported, and the field is always set to true", PortfolioShareDetail.Accepted, AWS Service Catalog API
  Reference), and Service Catalog's Organizations access status.

Which versions an account's provisioned products run is known only in that account: Service Catalog's
SearchProvisionedProducts answers for the caller's own account (AccessLevelFilter Account: "Filter results
based on the account"), and no hub-side listing of a member's provisioned products exists in the API.  So,
unless ``--no-products``, the command assumes the settings' ``member_role`` in each account (by default
``OrganizationAccountAccessRole``, the role Organizations creates in the accounts it creates: AWS
Organizations User Guide, "Accessing member accounts") and lists them there; an account where the role
cannot be assumed says so instead.  These per-account calls grow with the number of accounts (publish and
the organisation deploy make none).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from generator.aws import api as aws, organization as org_tree, publish as publisher, stacksets
from generator.aws.deploy import BASELINE, LAUNCH_ROLE, LOG_REPLICA
from generator.errors import AwsError, ConfigError
from generator.settings import Settings

SESSION_NAME = "hipaa-catalog-accounts"
MEMBER_THREADS = 8


@dataclass
class AccountStatus:
    account_id: str
    name: str
    status: str
    environment: str
    target: str
    parent: str
    baseline: dict = field(default_factory=dict)        # region -> instance status
    log_replica: dict = field(default_factory=dict)     # every organisation region and replica region
    launch_role: dict = field(default_factory=dict)
    portfolio_visible: dict = field(default_factory=dict)   # region -> bool
    provisioned_products: list | None = None
    products_error: str = ""

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _instances(cf, product: str, call_as: str) -> dict:
    """(account, region) -> {stack_set, status, detailed_status, drift_status} of every stack set of ``product``."""
    out: dict = {}
    for layout in stacksets.STACK_SETS[product]:
        name = layout.name
        for i in stacksets.observe(cf, name, call_as).instances:
            out[(i.get("Account"), i.get("Region"))] = {
                "stack_set": name, "status": i.get("Status", ""),
                "detailed_status": (i.get("StackInstanceStatus") or {}).get("DetailedStatus", ""),
                "drift_status": i.get("DriftStatus", "")}
    return out


def _shared_nodes(sess, settings: Settings, region: str, recorder) -> set[str]:
    """The organisation nodes the publisher's portfolio is shared with in ``region`` (accepted shares)."""
    sc = aws.client(sess, "servicecatalog", region, recorder)
    where = f"Service Catalog in {region}"
    return {d.get("PrincipalId", "") for p in publisher.named_portfolios(sc, settings.portfolio.name, where)[:1]
            for d in publisher.portfolio_shares(sc, p["Id"], ("ORGANIZATION", "ORGANIZATIONAL_UNIT"), where)
            if d.get("Accepted", True)}


def _access_status(sess, region: str, recorder) -> str:
    try:
        return aws.call(aws.client(sess, "servicecatalog", region, recorder), "GetAWSOrganizationsAccessStatus",
                        "Service Catalog's AWS Organizations access")["AccessStatus"]
    except AwsError as exc:
        return f"unknown ({exc})"


def _products(sess, account: str, partition: str, settings: Settings, recorder) -> tuple[list | None, str]:
    """The provisioned products of ``account`` in every organisation region, read as its member role."""
    org = settings.organization
    role = f"arn:{partition}:iam::{account}:role/{org.member_role}"
    try:
        member = aws.assumed_session(sess, role, SESSION_NAME, settings.primary_region, recorder)
        found = []
        for region in org.regions:
            sc = aws.client(member, "servicecatalog", region, recorder)
            for pp in aws.pages(sc, "SearchProvisionedProducts", "ProvisionedProducts", f"account {account} {region}",
                                AccessLevelFilter={"Key": "Account", "Value": "self"}):
                found.append({"region": region, "name": pp.get("Name", ""), "product": pp.get("ProductName", ""),
                              "version": pp.get("ProvisioningArtifactName", ""), "status": pp.get("Status", "")})
        return found, ""
    except AwsError as exc:
        return None, f"not read as {org.member_role}: {exc}"


def status(settings: Settings, *, products: bool = True, detect_drift: bool = False,
           progress: stacksets.Progress | None = None, recorder: aws.CallRecorder | None = None) -> dict:
    """The state of every target account (see the module docstring)."""
    org = settings.organization
    if org is None:
        raise ConfigError(f"`accounts` lists the accounts of the [organization] targets, and {settings.path} has "
                          "none", hint="add [organization] with its targets (README: Setting up an organisation)")
    region = settings.primary_region
    sess = aws.session(region)
    identity = aws.call(aws.client(sess, "sts", region, recorder), "GetCallerIdentity", "the current AWS identity")
    partition = identity["Arn"].split(":")[1]
    orgs = aws.client(sess, "organizations", region, recorder)
    tree = org_tree.describe(orgs)
    accounts = org_tree.target_accounts(orgs, org, tree.management_account)
    cf = aws.client(sess, "cloudformation", region, recorder)
    detections = [d for d in (stacksets.detect_drift(cf, name, org, progress=progress)
                              for name in (stacksets.stack_set_names() if detect_drift else ())) if d]
    baseline, launch_role = _instances(cf, BASELINE, org.call_as), _instances(cf, LAUNCH_ROLE, org.call_as)
    replicas = _instances(cf, LOG_REPLICA, org.call_as)
    # the log replicas are in the organisation regions and the regions their log buckets replicate to, which
    # only the built template's ring knows: those seen among the instances
    replica_regions = [*org.regions, *sorted({r for _a, r in replicas} - set(org.regions))]
    shared = {r: _shared_nodes(sess, settings, r, recorder) for r in org.regions}
    rows = [AccountStatus(a.id, a.name, a.status, a.environment, a.target, a.parent) for a in accounts]
    for row in rows:
        row.baseline = {r: baseline.get((row.account_id, r)) for r in org.regions}
        row.log_replica = {r: replicas.get((row.account_id, r)) for r in replica_regions}
        row.launch_role = {region: launch_role.get((row.account_id, region))}
        row.portfolio_visible = {r: bool({row.target, tree.id} & shared[r]) for r in org.regions}
    if products:
        def one(row: AccountStatus) -> tuple[list | None, str]:
            return _products(aws.session(region), row.account_id, partition, settings, recorder)
        with ThreadPoolExecutor(max_workers=MEMBER_THREADS, thread_name_prefix="accounts") as pool:
            for row, (found, error) in zip(rows, pool.map(one, rows)):
                row.provisioned_products, row.products_error = found, error
    return {"organization": tree.id, "management_account": tree.management_account, "hub_account":
            identity["Account"], "regions": list(org.regions), "targets": {k: list(v) for k, v in org.targets.items()},
            "service_catalog_access": _access_status(sess, region, recorder),
            "drift_detection": detections, "accounts": [r.to_json() for r in rows]}
