"""Publish the built templates to S3 and AWS Service Catalog: versioned, idempotent, region-parallel.

``publish()`` reads ``build/manifest.json`` (refusing a stale build), checks the credentials (the
account id names the launch role and developer group), then in every region (in parallel, one boto3
session per thread) reads the catalog with list calls, plans with ``generator.aws.publish_plan`` and carries
the plan out, or only reports it for a dry run.  The administrator's resources are looked up only when
the plan needs them: the launch role (IAM) before creating a launch constraint, the developer group
before associating it, the template bucket (SSM parameter + HeadBucket) before uploading or for a dry
run.  A no-change publish therefore reads 1 + 4 per region + 1 per product and region.  The result is a
report (also written to ``build/publish-report.json``): every action with its status, artifact id,
template URL and hash.

A re-run after any failure or kill completes the job: every create uses a deterministic
IdempotencyToken or is found again by name, so nothing is ever created twice.

With an ``[organization]`` in the settings the portfolio is also shared with the organisation's targets in
every region of ``organization.regions`` (``publish_plan``: shares, the developer group by name, the launch
role by LocalRoleName).  A share is asynchronous: CreatePortfolioShare "returns a PortfolioShareToken, which
enables the administrator to monitor the status of the PortfolioShare creation process", so the publisher
polls DescribePortfolioShareStatus until it is no longer NOT_STARTED or IN_PROGRESS and reports the accounts
it reached (AWS Service Catalog API Reference); COMPLETED_WITH_ERRORS or ERROR fails the region with each
ShareError (Error, Message, Accounts) and the next step: the share exists then, so it is deleted and published
again to share anew.  Before creating or updating a share it checks, once per run,
that Service Catalog's access to AWS Organizations is ENABLED (GetAWSOrganizationsAccessStatus: "can only be
called by the management account in the organization or by a delegated admin").  None of this grows with the
number of accounts: Service Catalog shares with every account of an OU, including accounts that join later.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from generator.aws import api as aws, publish_plan as plan
from generator.aws.publish_plan import Kind
from generator.blocks import admin_settings
from generator.blocks.catalog import PROVISIONING_TAG_KEY, PROVISIONING_TAG_VALUE
from generator.errors import AwsCallError, AwsError, BuildError, ConfigError, PublishError
from generator.pipeline import manifest as manifests
from generator.settings import PortfolioSettings, PublishSettings, Settings

REPORT = "publish-report.json"
# CloudFormation's limit for a template loaded from S3.
TEMPLATE_SIZE_LIMIT = 1_048_576
BASELINE_HINT = "run deploy-baseline first (the account baseline creates it), or pass the override"
INTERRUPTED = "interrupted"

Progress = Callable[[str], None]


class Status(StrEnum):
    """What became of an action; the value is how reports and tables name it."""

    DONE = "done"
    PLANNED = "planned"
    FAILED = "failed"
    NOT_DONE = "not done"


@dataclass(frozen=True)
class ActionRecord:
    """One action of one region, as the report and the table show it."""

    region: str
    action: Kind
    status: Status
    product: str = ""
    version: str = ""
    sha256: str = ""
    artifact_id: str = ""
    principal: str = ""
    key: str = ""
    url: str = ""
    message: str = ""
    node: str = ""

    @property
    def target(self) -> str:
        """What the action is about: the product, the principal's name, the organisation node or the portfolio."""
        if self.product:
            return self.product
        if self.principal:
            name = self.principal.split(":", 5)[-1]
            return f"{name} (by name)" if plan.is_pattern(self.principal) else name
        return f"share with {self.node}" if self.node else "portfolio"

    def to_json(self) -> dict:
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Outcome:
    """What carrying out an action produced, for its record."""

    artifact_id: str = ""
    url: str = ""
    note: str = ""


@dataclass(frozen=True)
class Template:
    """A template ready to publish: its manifest entry as a desired product, and its bytes."""

    want: plan.DesiredProduct
    body: bytes

    @property
    def key(self) -> str:
        return f"{self.want.name}/{self.want.version}/{self.want.sha256}.json"


@dataclass(frozen=True)
class Release:
    """Everything every region publishes: the templates, the portfolio, principals and launch role."""

    templates: tuple[Template, ...]
    portfolio: PortfolioSettings
    principals: tuple[str, ...]
    launch_role_arn: str
    policy: PublishSettings
    iam: "IamCheck | None" = None   # checks the launch role / group exist, when a region needs them
    shares: tuple[plan.ShareTarget, ...] = ()   # the organisation's targets, in share_regions only
    share_regions: tuple[str, ...] = ()
    local_role_name: str = ""                   # the LAUNCH constraint's LocalRoleName (organisation)
    org: "OrgAccessCheck | None" = None

    @property
    def launch_description(self) -> str | None:
        return plan.local_launch_description(self.local_role_name) if self.local_role_name else None

    def shares_in(self, region: str) -> tuple[plan.ShareTarget, ...]:
        return self.shares if region in self.share_regions else ()


@dataclass
class RegionResult:
    region: str
    bucket: str = ""
    portfolio_id: str = ""
    actions: list[ActionRecord] = field(default_factory=list)
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error and all(a.status in (Status.DONE, Status.PLANNED) and a.action is not Kind.REFUSED
                                      for a in self.actions)

    def to_json(self) -> dict:
        return {"ok": self.ok, "bucket": self.bucket, "portfolio_id": self.portfolio_id, "error": self.error,
                "warnings": list(self.warnings)}


@dataclass
class PublishReport:
    """The outcome of a publish (or of a dry run's plan), also written to ``build/publish-report.json``."""

    catalog: str
    account: str
    dry_run: bool
    launch_role_arn: str
    principals: tuple[str, ...]
    seconds: float
    regions: dict[str, RegionResult]
    calls: dict
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.regions.values())

    @property
    def actions(self) -> list[ActionRecord]:
        return [a for r in self.regions.values() for a in r.actions]

    def to_json(self) -> dict:
        return {"catalog": self.catalog, "account": self.account, "dry_run": self.dry_run, "ok": self.ok,
                "launch_role_arn": self.launch_role_arn, "principals": list(self.principals),
                "seconds": self.seconds, "interrupted": self.interrupted,
                "regions": {n: r.to_json() for n, r in self.regions.items()},
                "actions": [a.to_json() for a in self.actions], "calls": self.calls}


# --- the release: manifest + settings -------------------------------------------------------------

def load_release_templates(settings: Settings, out_dir: Path, check_fresh: bool = True) -> tuple[Template, ...]:
    """The templates of the manifest's "product" entries, checked: fresh build, version, hash, size."""
    built = manifests.load(out_dir, check_fresh=check_fresh)
    templates = []
    for entry in built.manifest.of_kind("product"):   # "admin" templates are deployed, not published
        name = entry.name
        ps = settings.products.get(name)
        if ps is None:
            raise ConfigError(f"{built.path}: product {name} is not in {settings.path}",
                              hint="run `make build` with the current settings")
        if ps.version != entry.version:
            raise BuildError(f"{built.path}: {name} was built as {entry.version} but {settings.path} says "
                             f"{ps.version}", hint="run `make build`")
        body = built.read_template(entry)
        if len(body) > TEMPLATE_SIZE_LIMIT:
            raise PublishError(f"{built.out_dir / entry.path}: the template of {name} {entry.version} is {len(body)} "
                               f"bytes, over CloudFormation's limit of {TEMPLATE_SIZE_LIMIT} bytes for a template in S3",
                               hint="split the product or move logic into nested stacks / modules")
        want = plan.DesiredProduct(
            name=name, version=entry.version, sha256=entry.sha256, change_note=entry.change_note,
            owner=ps.owner, description=ps.description, distributor=ps.distributor,
            support_email=ps.support_email, support_url=ps.support_url,
            support_description=ps.support_description)
        templates.append(Template(want, body))
    return tuple(templates)


# --- discovery of the administrator's resources -----------------------------------------------

def _missing(what: str, where: str, override: str = "") -> PublishError:
    hint = BASELINE_HINT + (f" {override}" if override else "")
    return PublishError(f"{what} not found ({where})", hint=hint)


def discover_principals(sess, recorder, launch_role_arn: str | None,
                        progress: Progress | None = None) -> tuple[str, str, str]:
    """(account id, launch role ARN, developer group ARN), checking credentials first.

    The ARNs are built from the account id and the fixed names (or the override), without an IAM read:
    :class:`IamCheck` reads IAM only when a region must create a launch constraint or associate the
    group.  When both exist, the constraint and the association already prove the role and group were
    there, so a no-change publish makes no IAM call.
    """
    sts = aws.client(sess, "sts", recorder=recorder, progress=progress)
    identity = aws.call(sts, "GetCallerIdentity", "the current AWS identity")
    account = identity["Account"]
    parts = str(identity.get("Arn", "")).split(":")
    partition = parts[1] if len(parts) > 1 and parts[1] else "aws"
    role_arn = launch_role_arn or f"arn:{partition}:iam::{account}:role/{admin_settings.LAUNCH_ROLE_NAME}"
    group_arn = f"arn:{partition}:iam::{account}:group/{admin_settings.DEVELOPER_GROUP}"
    return account, role_arn, group_arn


class IamCheck:
    """That the launch role and the developer group exist: each looked up at most once per run (shared by
    the region threads), and only when a region needs it.  A missing one is a ``PublishError`` naming it."""

    def __init__(self, sess, recorder, account: str, role_arn: str, group_arn: str, role_override: bool = False):
        self.iam = aws.client(sess, "iam", recorder=recorder)
        self.account = account
        self.role_arn = role_arn
        self.role_override = role_override
        self.group_arn = group_arn
        self._lock = threading.Lock()
        self._checked: dict[str, PublishError | None] = {}

    def _once(self, what: str, check: Callable[[], None]) -> None:
        with self._lock:
            if what not in self._checked:
                try:
                    check()
                    self._checked[what] = None
                except PublishError as exc:
                    self._checked[what] = exc
            error = self._checked[what]
        if error is not None:
            raise error

    def role(self) -> None:
        def check() -> None:
            name = self.role_arn.rsplit("/", 1)[-1]
            try:
                aws.call(self.iam, "GetRole", f"IAM role {name}", RoleName=name)
            except AwsCallError as exc:
                if exc.code == "NoSuchEntity":
                    raise _missing(f"launch role {self.role_arn if self.role_override else name}",
                                   f"IAM, account {self.account}", "--launch-role-arn ARN") from exc
                raise
        self._once("role", check)

    def group(self) -> None:
        def check() -> None:
            name = admin_settings.DEVELOPER_GROUP
            try:
                aws.call(self.iam, "GetGroup", f"IAM group {name}", GroupName=name, MaxItems=1)
            except AwsCallError as exc:
                if exc.code == "NoSuchEntity":
                    raise _missing(f"developer group {name}", f"IAM, account {self.account}") from exc
                raise
        self._once("group", check)


class OrgAccessCheck:
    """That Service Catalog may share through AWS Organizations, checked once per run and only when a share is
    to be created or updated.  EnableAWSOrganizationsAccess "can only be called by the management account in
    the organization" (AWS Service Catalog API Reference), hence the command in the hint."""

    def __init__(self, sess, recorder, account: str, region: str):
        self.sc = aws.client(sess, "servicecatalog", region, recorder)
        self.account = account
        self._lock = threading.Lock()
        self._result: PublishError | None | bool = False   # False: not checked yet

    def check(self) -> None:
        with self._lock:
            if self._result is False:
                self._result = self._ask()
            error = self._result
        if error is not None:
            raise error

    def _ask(self) -> PublishError | None:
        # Service Catalog's service principal with Organizations is servicecatalog.amazonaws.com ("AWS Service
        # Catalog and AWS Organizations", AWS Organizations User Guide: `aws organizations
        # enable-aws-service-access --service-principal servicecatalog.amazonaws.com`).
        try:
            status = aws.call(self.sc, "GetAWSOrganizationsAccessStatus",
                              f"Service Catalog's AWS Organizations access (account {self.account})")["AccessStatus"]
        except AwsCallError as exc:
            if exc.code in aws.ACCESS_DENIED or exc.code in ("OperationNotSupportedException",
                                                             "AWSOrganizationsNotInUseException"):
                return PublishError(
                    f"account {self.account} cannot share the portfolio through AWS Organizations ({exc.code}): "
                    "shares to an organization node can only be created by the management account of an "
                    "organization or by a delegated administrator",
                    hint="publish with the management account's credentials, or register this account as Service "
                         "Catalog's delegated administrator in the management account (`aws organizations "
                         "register-delegated-administrator --account-id " + self.account + " --service-principal "
                         "servicecatalog.amazonaws.com`)")
            raise
        if status != "ENABLED":
            return PublishError(f"Service Catalog's access to AWS Organizations is {status} (account {self.account}); "
                                "AWSOrganizationsAccess must be enabled in order to create a portfolio share to an "
                                "organization node",
                                hint="in the organisation's management account run `aws servicecatalog "
                                     "enable-aws-organizations-access` once (wait while it is UNDER_CHANGE), then "
                                     "publish again")
        return None


def share_targets(sess, recorder, settings: Settings) -> tuple[plan.ShareTarget, ...]:
    """The organisation nodes to share with: each OU id as it is; the root (the whole organisation) as the
    ORGANIZATION node, whose value is the organisation id (OrganizationNode Value pattern ``o-…``, AWS Service
    Catalog API Reference), read with DescribeOrganization only when the root is a target."""
    org = settings.organization
    if org is None:
        return ()
    targets = []
    for node in org.target_ids:
        env = org.environment_of(node)
        if node.startswith("r-"):
            organizations = aws.client(sess, "organizations", recorder=recorder)
            org_id = aws.call(organizations, "DescribeOrganization", "the organisation")["Organization"]["Id"]
            targets.append(plan.ShareTarget("ORGANIZATION", org_id, env))
        else:
            targets.append(plan.ShareTarget("ORGANIZATIONAL_UNIT", node, env))
    return tuple(targets)


def bucket_name(ssm, settings: Settings, region: str, override: str | None) -> str:
    """The template bucket's name: the override or the baseline's SSM parameter."""
    bucket = override
    if not bucket:
        name = admin_settings.TEMPLATE_BUCKET.full_name(settings.ssm_prefix)
        try:
            bucket = aws.call(ssm, "GetParameter", f"SSM parameter {name} in {region}", Name=name)["Parameter"]["Value"]
        except AwsCallError as exc:
            if exc.code == "ParameterNotFound":
                raise _missing(f"SSM parameter {name} naming the template bucket", region, "--bucket NAME") from exc
            raise
    return bucket


def check_bucket(s3, bucket: str, region: str) -> str:
    """The region of the template bucket, which must exist."""
    try:
        head = aws.call(s3, "HeadBucket", f"S3 bucket {bucket}", Bucket=bucket)
    except AwsCallError as exc:
        if exc.code in ("404", "NoSuchBucket", "NotFound"):
            raise _missing(f"template bucket {bucket}", region, "--bucket NAME") from exc
        raise
    return head.get("BucketRegion") or region


def template_url(bucket: str, bucket_region: str, key: str) -> str:
    """The https URL Service Catalog loads a template from (the local endpoint's form if one is set)."""
    endpoint = aws.endpoint_url()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{quote(key)}"
    return f"https://{bucket}.s3.{bucket_region}.amazonaws.com/{quote(key)}"


# --- observing a region ------------------------------------------------------------------------

def _age(item: dict) -> tuple[str, str]:
    return str(item.get("CreatedTime", "")), item.get("Id", "")


def _oldest(items: list[dict]) -> dict:
    return min(items, key=_age)


def named_portfolios(sc, portfolio_name: str, where: str) -> list[dict]:
    """This account's portfolios named ``portfolio_name``, oldest first (the publisher uses the oldest)."""
    return sorted((p for p in aws.pages(sc, "ListPortfolios", "PortfolioDetails", where)
                   if p.get("DisplayName") == portfolio_name), key=_age)


def portfolio_shares(sc, portfolio_id: str, share_types: tuple[str, ...], where: str) -> list[dict]:
    """The portfolio's shares (*PortfolioShareDetail*) of each of ``share_types`` (DescribePortfolioShares'
    Type)."""
    return [d for share_type in share_types
            for d in aws.pages(sc, "DescribePortfolioShares", "PortfolioShareDetails", where,
                               PortfolioId=portfolio_id, Type=share_type)]


def observe(sc, region: str, portfolio_name: str, product_names: list[str],
            launch_role_arn: str = "", share_types: tuple[str, ...] = (),
            check_launch_role: bool = True) -> tuple[plan.ObservedRegion, list[str]]:
    """The catalog's current state in a region, from list calls only; plus warnings (duplicates, and, with
    ``check_launch_role``, LAUNCH constraints whose description does not name ``launch_role_arn``).  The
    portfolio's shares of each of ``share_types`` (DescribePortfolioShares' Type) are read too."""
    warnings: list[str] = []
    where = f"Service Catalog in {region}"
    portfolios = named_portfolios(sc, portfolio_name, where)
    if len(portfolios) > 1:
        warnings.append(f"{len(portfolios)} portfolios named {portfolio_name!r}; using the oldest")
    portfolio = portfolios[0] if portfolios else None
    in_portfolio: set[str] = set()
    launch: dict[str, str] = {}
    launch_ids: dict[str, str] = {}
    principals: frozenset[str] = frozenset()
    shares: dict[str, plan.ObservedShare] = {}
    portfolio_details: list[dict] = []
    if portfolio:
        pid = portfolio["Id"]
        res = f"portfolio {pid} in {region}"
        portfolio_details = aws.pages(sc, "SearchProductsAsAdmin", "ProductViewDetails", res, PortfolioId=pid)
        in_portfolio = {d.get("ProductViewSummary", {}).get("ProductId") for d in portfolio_details}
        constraints = [c for c in aws.pages(sc, "ListConstraintsForPortfolio", "ConstraintDetails", res,
                                            PortfolioId=pid) if c.get("Type") == "LAUNCH"]
        launch = {c.get("ProductId"): c.get("Description") or "" for c in constraints}
        launch_ids = {c.get("ProductId"): c.get("ConstraintId") or "" for c in constraints}
        principals = frozenset(p.get("PrincipalARN") for p in
                               aws.pages(sc, "ListPrincipalsForPortfolio", "Principals", res, PortfolioId=pid))
        for d in portfolio_shares(sc, pid, share_types, res):
            shares[d.get("PrincipalId", "")] = plan.ObservedShare(
                d.get("PrincipalId", ""), bool(d.get("SharePrincipals")), bool(d.get("ShareTagOptions")))
    # The account-wide product search only when a product is not in the portfolio (first publish, a new
    # product, an interrupted one): a no-change publish then reads 4 + one per product per region
    # (make bench holds it to at most 2 reads per product and region).
    if set(product_names) <= {d.get("ProductViewSummary", {}).get("Name") for d in portfolio_details}:
        details = portfolio_details
    else:
        details = aws.pages(sc, "SearchProductsAsAdmin", "ProductViewDetails", where, ProductSource="ACCOUNT")
    by_name: dict[str, list[dict]] = {}
    for d in details:
        s = d.get("ProductViewSummary", {})
        if s.get("Name") in product_names:
            by_name.setdefault(s["Name"], []).append({**s, "CreatedTime": d.get("CreatedTime", "")})
    products = {}
    for name, found in by_name.items():
        if len(found) > 1:
            warnings.append(f"{len(found)} products named {name!r}; using the oldest")
        s = _oldest(found)
        pid = s["ProductId"]
        if check_launch_role and launch_role_arn and pid in launch and launch_role_arn not in launch[pid]:
            warnings.append(f"the launch constraint of {name} does not name {launch_role_arn} "
                            f"({launch[pid]!r}); left as it is: check it in the console")
        arts = aws.call(sc, "ListProvisioningArtifacts", f"product {name} ({pid}) in {region}",
                        ProductId=pid).get("ProvisioningArtifactDetails", [])
        products[name] = plan.ObservedProduct(
            id=pid, name=name,
            artifacts=tuple(plan.ObservedArtifact(a["Id"], a.get("Name", ""), a.get("Description", ""),
                                                  bool(a.get("Active", True)), a.get("Guidance", "DEFAULT"))
                            for a in arts),
            fields={k: s.get(k, "") for k in ("Owner", "ShortDescription", "Distributor", "SupportEmail",
                                              "SupportUrl", "SupportDescription")},
            in_portfolio=pid in in_portfolio, has_launch_constraint=pid in launch,
            launch_constraint_id=launch_ids.get(pid, ""), launch_description=launch.get(pid, ""))
    seen = plan.ObservedRegion(
        portfolio_id=portfolio["Id"] if portfolio else None,
        portfolio_fields={k: portfolio.get(k, "") for k in ("Description", "ProviderName")} if portfolio else {},
        principals=principals, products=products, shares=shares)
    return seen, warnings


# --- carrying out a region's plan -----------------------------------------------------------------

class _Region:
    """Carries out one region's plan in one thread, with clients made by the thread that makes it: one method
    per action kind."""

    def __init__(self, region: str, release: Release, settings: Settings, recorder: aws.CallRecorder,
                 progress: Progress, bucket_override: str | None, stop: threading.Event):
        self.region = region
        self.stop = stop
        self.release = release
        self.settings = settings
        self.progress = progress
        self.bucket_override = bucket_override
        sess = aws.session(region)
        self.sc = aws.client(sess, "servicecatalog", region, recorder, self.say)
        self.s3 = aws.client(sess, "s3", region, recorder, self.say)
        self.ssm = aws.client(sess, "ssm", region, recorder, self.say)
        self.result = RegionResult(region)
        self.bucket_region = region
        self.product_ids: dict[str, str] = {}
        self.templates = {t.want.name: t for t in release.templates}
        self._bucket_key: str | None = None   # "" once looked up and the bucket has no KMS default
        self.bucket_checked = False
        self.handlers: dict[Kind, Callable[[plan.Action], Outcome]] = {
            Kind.CREATE_PORTFOLIO: self.create_portfolio, Kind.UPDATE_PORTFOLIO: self.update_portfolio,
            Kind.ASSOCIATE_PRINCIPAL: self.associate_principal, Kind.CREATE_PRODUCT: self.create_product,
            Kind.UPDATE_PRODUCT: self.update_product, Kind.NEW_VERSION: self.new_version,
            Kind.CONFIRM: self.confirm, Kind.UNCHANGED: self.unchanged, Kind.ASSOCIATE_PRODUCT: self.associate_product,
            Kind.CREATE_CONSTRAINT: self.create_constraint, Kind.UPDATE_CONSTRAINT: self.update_constraint,
            Kind.DEPRECATE: self.deprecate, Kind.HIDE: self.hide, Kind.SHARE: self.share,
            Kind.UPDATE_SHARE: self.update_share}

    def say(self, message: str) -> None:
        self.progress(f"{self.region}: {message}")

    def run(self, dry_run: bool) -> RegionResult:
        r = self.result
        r.bucket = self.bucket_override or ""
        if self.stop.is_set():
            r.error = INTERRUPTED
            return r
        try:
            self.say("reading the catalog")
            names = [t.want.name for t in self.release.templates]
            shares = self.release.shares_in(self.region)
            seen, warnings = observe(self.sc, self.region, self.release.portfolio.name, names,
                                     self.release.launch_role_arn,
                                     share_types=tuple(dict.fromkeys(t.node_type for t in shares)),
                                     check_launch_role=not self.release.local_role_name)
        except AwsError as exc:
            r.error = str(exc)
            return r
        r.warnings = warnings
        for w in warnings:
            self.say(f"warning: {w}")
        r.portfolio_id = seen.portfolio_id or ""
        self.product_ids = {n: p.id for n, p in seen.products.items()}
        actions = plan.plan_region([t.want for t in self.release.templates], seen, self.release.portfolio,
                                   list(self.release.principals), self.release.policy, shares,
                                   self.release.launch_description)
        # Before any write, and only when needed: the launch role when a constraint must be created, the
        # group when it must be associated (a missing one raises PublishError, stopping the publish);
        # the bucket (SSM parameter, HeadBucket) when something will be uploaded, or for a dry run.  A
        # no-change publish makes no call it does not need.
        if self.release.iam is not None:
            if any(a.kind in (Kind.CREATE_PRODUCT, Kind.CREATE_CONSTRAINT) for a in actions):
                self.release.iam.role()
            if any(a.kind is Kind.ASSOCIATE_PRINCIPAL and a.principal == self.release.iam.group_arn
                   for a in actions):
                self.release.iam.group()
        if self.release.org is not None and any(a.kind in (Kind.SHARE, Kind.UPDATE_SHARE) for a in actions):
            try:
                self.release.org.check()
            except PublishError as exc:
                r.error = str(exc)
                r.actions = [self.record(a, Status.NOT_DONE) for a in actions]
                return r
        if dry_run or any(a.kind in plan.PUBLISHES for a in actions):
            try:
                self.find_bucket()
            except AwsError as exc:
                r.error = str(exc)
                return r
        if dry_run:
            r.actions = [self.record(a, Status.PLANNED) for a in actions]
            return r
        # Portfolio-level actions first; a failure there leaves every product not done.
        portfolio_level = [a for a in actions if not a.product]
        by_product: dict[str, list[plan.Action]] = {}
        for a in actions:
            if a.product:
                by_product.setdefault(a.product, []).append(a)
        for i, a in enumerate(portfolio_level):
            if self.stop.is_set():
                r.actions.extend(self.record(p, Status.NOT_DONE, message=INTERRUPTED)
                                 for p in portfolio_level[i:] + [p for acts in by_product.values() for p in acts])
                return r
            try:
                r.actions.append(self.record(a, Status.DONE, self.handlers[a.kind](a)))
            except AwsError as exc:
                r.actions.append(self.record(a, Status.FAILED, message=str(exc)))
                r.actions.extend(self.record(p, Status.NOT_DONE)
                                 for p in portfolio_level[i + 1:] + [p for acts in by_product.values() for p in acts])
                r.error = f"{a.describe()}: {exc}"
                return r
        for name, acts in by_product.items():
            if plan.refused(acts):
                r.actions.extend(self.record(a, Status.FAILED if a.kind is Kind.REFUSED else Status.NOT_DONE,
                                             message=a.detail) for a in acts)
                self.say(f"refused {name} {acts[0].version}")
                continue
            for i, a in enumerate(acts):
                if self.stop.is_set():
                    r.actions.extend(self.record(p, Status.NOT_DONE, message=INTERRUPTED) for p in acts[i:])
                    break
                try:
                    r.actions.append(self.record(a, Status.DONE, self.handlers[a.kind](a)))
                except AwsError as exc:
                    r.actions.append(self.record(a, Status.FAILED, message=str(exc)))
                    r.actions.extend(self.record(p, Status.NOT_DONE) for p in acts[i + 1:])
                    self.say(f"{a.describe()} failed: {exc}")
                    break
        return r

    def find_bucket(self) -> str:
        """The template bucket (the override or the baseline's SSM parameter), which must exist; looked up once."""
        r = self.result
        if not self.bucket_checked:
            r.bucket = bucket_name(self.ssm, self.settings, self.region, self.bucket_override)
            self.bucket_region = check_bucket(self.s3, r.bucket, self.region)
            self.bucket_checked = True
        return r.bucket

    def record(self, a: plan.Action, status: Status, outcome: Outcome = Outcome(), message: str = "") -> ActionRecord:
        t = self.templates.get(a.product)
        key = t.key if t and a.version == t.want.version and a.kind not in (Kind.DEPRECATE, Kind.HIDE) else ""
        url = outcome.url
        if key and not url and self.result.bucket:
            url = template_url(self.result.bucket, self.bucket_region, key)
        return ActionRecord(region=self.region, action=a.kind, status=status, product=a.product, version=a.version,
                            sha256=a.sha256, artifact_id=outcome.artifact_id or a.artifact_id, principal=a.principal,
                            node=a.node,
                            key=key, url=url if a.kind in plan.NAMES_TEMPLATE else "",
                            message=message or outcome.note or (a.detail if status is Status.PLANNED else ""))

    # -- one method per action kind ---------------------------------------------------------------
    def _product_where(self, a: plan.Action) -> tuple[str, str]:
        product_id = self.product_ids[a.product]
        return product_id, f"product {a.product} ({product_id}) in {self.region}"

    def create_portfolio(self, a: plan.Action) -> Outcome:
        p = self.release.portfolio
        out = aws.call(self.sc, "CreatePortfolio", f"portfolio {p.name!r} in {self.region}",
                       DisplayName=p.name, Description=p.description, ProviderName=p.provider,
                       IdempotencyToken=plan.idempotency_token("portfolio", self.region, p.name))
        self.result.portfolio_id = out["PortfolioDetail"]["Id"]
        self.say(f"created portfolio {self.result.portfolio_id}")
        return Outcome()

    def update_portfolio(self, a: plan.Action) -> Outcome:
        pid = self.result.portfolio_id
        aws.call(self.sc, "UpdatePortfolio", f"portfolio {pid} in {self.region}", Id=pid,
                 Description=self.release.portfolio.description, ProviderName=self.release.portfolio.provider)
        return Outcome()

    def associate_principal(self, a: plan.Action) -> Outcome:
        pid = self.result.portfolio_id
        aws.call(self.sc, "AssociatePrincipalWithPortfolio", f"portfolio {pid} in {self.region}", PortfolioId=pid,
                 PrincipalARN=a.principal, PrincipalType="IAM_PATTERN" if plan.is_pattern(a.principal) else "IAM")
        return Outcome()

    def share(self, a: plan.Action) -> Outcome:
        """Share with an OU or the organisation, principals and TagOptions included, and wait for the share."""
        pid, node = self.result.portfolio_id, self._node(a)
        out = aws.call(self.sc, "CreatePortfolioShare", f"portfolio {pid} in {self.region}, share with {a.node}",
                       PortfolioId=pid, OrganizationNode=node, SharePrincipals=True, ShareTagOptions=True)
        return self.share_settled(pid, a.node, out.get("PortfolioShareToken", ""))

    def update_share(self, a: plan.Action) -> Outcome:
        pid, node = self.result.portfolio_id, self._node(a)
        out = aws.call(self.sc, "UpdatePortfolioShare", f"portfolio {pid} in {self.region}, share with {a.node}",
                       PortfolioId=pid, OrganizationNode=node, SharePrincipals=True, ShareTagOptions=True)
        return self.share_settled(pid, a.node, out.get("PortfolioShareToken", ""))

    def _node(self, a: plan.Action) -> dict:
        return {"Type": self._node_type(a.node), "Value": a.node}

    def _node_type(self, node: str) -> str:
        return next(t for t in self.release.shares if t.node_id == node).node_type

    def share_settled(self, pid: str, node: str, token: str) -> Outcome:
        """Poll DescribePortfolioShareStatus (NOT_STARTED | IN_PROGRESS | COMPLETED | COMPLETED_WITH_ERRORS |
        ERROR) for at most ``artifact_wait_seconds``; COMPLETED reports how many accounts it reached."""
        where = f"share {token} of portfolio {pid} with {node} in {self.region}"
        if not token:   # the share existed already: "this action will have no effect"
            return Outcome(note="already shared")
        limit = self.release.policy.artifact_wait_seconds
        deadline = time.monotonic() + limit
        delays = aws.backoff(5.0)
        while True:
            out = aws.call(self.sc, "DescribePortfolioShareStatus", where, PortfolioShareToken=token)
            status = out.get("Status", "")
            details = out.get("ShareDetails") or {}
            if status == "COMPLETED":
                reached = len(details.get("SuccessfulShares") or [])
                self.say(f"shared portfolio {pid} with {node}: {reached} account(s)")
                return Outcome(artifact_id=token, note=f"COMPLETED: {reached} account(s)")
            if status in ("COMPLETED_WITH_ERRORS", "ERROR"):
                # *ShareError* (AWS Service Catalog API Reference): Accounts "impacted by the error", Message,
                # Error.  The share exists now, and CreatePortfolioShare on it "will have no effect": a re-run
                # of publish finds it as it wants it, so sharing again means deleting it first.
                reached = len(details.get("SuccessfulShares") or [])
                errors = "; ".join(f"{e.get('Error', '')}: {e.get('Message', '')} (accounts "
                                   f"{', '.join(e.get('Accounts') or []) or 'none named'})"
                                   for e in details.get("ShareErrors") or []) or "no error named"
                node_type = self._node_type(node)
                raise PublishError(
                    f"{where}: {status}: {reached} account(s) reached; {errors}",
                    hint="fix the cause in the accounts named, then share again: `aws servicecatalog "
                         f"delete-portfolio-share --portfolio-id {pid} --organization-node Type={node_type},"
                         f"Value={node} --region {self.region}` and publish again, which creates the share anew "
                         "(until then the accounts reached keep the portfolio; `hipaa-catalog accounts` shows "
                         "which accounts see it)")
            left = deadline - time.monotonic()
            if left <= 0:
                raise PublishError(f"{where}: still {status or 'without a status'} after {limit} s",
                                   hint="re-run later; `hipaa-catalog accounts` shows which accounts see the portfolio")
            self.say(f"waiting for the share with {node} ({status})")
            if self.stop.wait(min(next(delays), left)):
                raise PublishError(f"{where}: {INTERRUPTED} while it was {status}",
                                   hint="a re-run finds the share and leaves it, or updates it")

    def create_product(self, a: plan.Action) -> Outcome:
        t = self.templates[a.product]
        url = self.upload(t)
        w = t.want
        details = {k: v for k, v in (("Distributor", w.distributor), ("SupportDescription", w.support_description),
                                     ("SupportEmail", w.support_email), ("SupportUrl", w.support_url)) if v}
        out = aws.call(self.sc, "CreateProduct", f"product {w.name} in {self.region}",
                       Name=w.name, Owner=w.owner, Description=w.description, ProductType="CLOUD_FORMATION_TEMPLATE",
                       ProvisioningArtifactParameters=self.artifact_parameters(t, url),
                       IdempotencyToken=plan.idempotency_token("product", self.region, w.name, w.version, w.sha256),
                       **details)
        product_id = out["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
        self.product_ids[w.name] = product_id
        artifact_id = out["ProvisioningArtifactDetail"]["Id"]
        self.available(t, product_id, artifact_id)
        self.say(f"created product {w.name} ({product_id}) with {w.version} ({artifact_id})")
        return Outcome(artifact_id, url)

    def update_product(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        w = self.templates[a.product].want
        changed = {k: v for k, v in (("Owner", w.owner), ("Description", w.description), ("Distributor", w.distributor),
                                     ("SupportDescription", w.support_description), ("SupportEmail", w.support_email),
                                     ("SupportUrl", w.support_url)) if v}
        aws.call(self.sc, "UpdateProduct", where, Id=product_id, **changed)
        return Outcome()

    def new_version(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        t = self.templates[a.product]
        url = self.upload(t)
        w = t.want
        out = aws.call(self.sc, "CreateProvisioningArtifact", where, ProductId=product_id,
                       Parameters=self.artifact_parameters(t, url),
                       IdempotencyToken=plan.idempotency_token("artifact", product_id, w.version, w.sha256))
        artifact_id = out["ProvisioningArtifactDetail"]["Id"]
        self.available(t, product_id, artifact_id)
        self.say(f"published {w.name} {w.version} ({artifact_id})")
        return Outcome(artifact_id, url)

    def confirm(self, a: plan.Action) -> Outcome:
        """An artifact of this version not yet seen AVAILABLE (an earlier run ended before): read its status,
        wait while CREATING, and replace a FAILED one with a new artifact of the same version."""
        product_id, _ = self._product_where(a)
        t = self.templates[a.product]
        status, info = self.settle(t, product_id, a.artifact_id)
        if status == "AVAILABLE":
            self.mark_confirmed(t, product_id, a.artifact_id)
            self.say(f"{t.want.name} {t.want.version} ({a.artifact_id}) is AVAILABLE")
            return Outcome(a.artifact_id, note="AVAILABLE")
        self.say(f"{t.want.name} {t.want.version} ({a.artifact_id}) FAILED ({info}): replacing it")
        url = self.upload(t)
        out = aws.call(self.sc, "CreateProvisioningArtifact", f"product {t.want.name} ({product_id}) in {self.region}",
                       ProductId=product_id, Parameters=self.artifact_parameters(t, url),
                       IdempotencyToken=plan.idempotency_token("replace", product_id, t.want.version, t.want.sha256,
                                                               a.artifact_id))
        new_id = out["ProvisioningArtifactDetail"]["Id"]
        new_status, new_info = self.settle(t, product_id, new_id)
        if new_status != "AVAILABLE":
            self.delete_artifact(t, product_id, new_id)
            raise PublishError(f"{self.version_where(t, product_id, new_id)}: Service Catalog could not create the "
                               f"version again ({new_info}); the FAILED artifact {a.artifact_id} is left as it is",
                               hint="fix what Service Catalog names (the template or the bucket's access), then "
                                    "bump the version, or re-run to try once more")
        self.mark_confirmed(t, product_id, new_id)
        self.delete_artifact(t, product_id, a.artifact_id)
        return Outcome(new_id, url, note=f"replaced the FAILED artifact {a.artifact_id} ({info})")

    def unchanged(self, a: plan.Action) -> Outcome:
        return Outcome()

    def associate_product(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        aws.call(self.sc, "AssociateProductWithPortfolio", where, ProductId=product_id,
                 PortfolioId=self.result.portfolio_id)
        return Outcome()

    def create_constraint(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        pid, role_arn = self.result.portfolio_id, self.release.launch_role_arn
        local = self.release.local_role_name
        if local:
            try:
                aws.call(self.sc, "CreateConstraint", f"{where}, portfolio {pid}", PortfolioId=pid,
                         ProductId=product_id, Type="LAUNCH", Parameters=json.dumps({"LocalRoleName": local}),
                         Description=plan.local_launch_description(local),
                         IdempotencyToken=plan.idempotency_token("launch-local", pid, product_id, local))
            except AwsCallError as exc:
                if exc.code != "DuplicateResourceException":
                    raise
            return Outcome()
        try:
            aws.call(self.sc, "CreateConstraint", f"{where}, portfolio {pid}", PortfolioId=pid, ProductId=product_id,
                     Type="LAUNCH", Parameters=json.dumps({"RoleArn": role_arn}),
                     Description=f"Launch as {role_arn}",   # observe() checks it
                     IdempotencyToken=plan.idempotency_token("launch", pid, product_id, role_arn))
        except AwsCallError as exc:
            if exc.code != "DuplicateResourceException":
                raise   # a duplicate means another publisher made it first: the desired state
        return Outcome()

    def update_constraint(self, a: plan.Action) -> Outcome:
        """Turn a LAUNCH constraint naming a role ARN into one naming the local role (UpdateConstraint's
        Parameters: "specify either the RoleArn or the LocalRoleName but can't use both")."""
        _, where = self._product_where(a)
        local = self.release.local_role_name
        aws.call(self.sc, "UpdateConstraint", f"{where}, constraint {a.artifact_id}", Id=a.artifact_id,
                 Description=plan.local_launch_description(local), Parameters=json.dumps({"LocalRoleName": local}))
        return Outcome()

    def deprecate(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        aws.call(self.sc, "UpdateProvisioningArtifact", f"{where}, version {a.version}", ProductId=product_id,
                 ProvisioningArtifactId=a.artifact_id, Guidance="DEPRECATED")
        self.say(f"deprecated {a.product} {a.version}")
        return Outcome()

    def hide(self, a: plan.Action) -> Outcome:
        product_id, where = self._product_where(a)
        aws.call(self.sc, "UpdateProvisioningArtifact", f"{where}, version {a.version}", ProductId=product_id,
                 ProvisioningArtifactId=a.artifact_id, Active=False)
        self.say(f"hid {a.product} {a.version}")
        return Outcome()

    def artifact_parameters(self, t: Template, url: str) -> dict:
        return {"Name": t.want.version, "Description": t.want.unconfirmed_description,
                "Info": {"LoadTemplateFromURL": url}, "Type": "CLOUD_FORMATION_TEMPLATE"}

    def upload(self, t: Template) -> str:
        """Put the template at its content-addressed key unless it is there already; return its URL."""
        bucket = self.find_bucket()
        res = f"s3://{bucket}/{t.key}"
        try:
            aws.call(self.s3, "HeadObject", res, Bucket=bucket, Key=t.key)
        except AwsCallError as exc:
            if exc.code not in ("404", "NoSuchKey", "NotFound"):
                raise
            key_id = self.bucket_kms_key()
            aws.call(self.s3, "PutObject", res, Bucket=bucket, Key=t.key, Body=t.body,
                     ContentType="application/json", ServerSideEncryption="aws:kms",
                     **({"SSEKMSKeyId": key_id} if key_id else {}),
                     Tagging=f"{PROVISIONING_TAG_KEY}={PROVISIONING_TAG_VALUE}", ChecksumAlgorithm="SHA256",
                     ChecksumSHA256=base64.b64encode(bytes.fromhex(t.want.sha256)).decode())
            self.say(f"uploaded {res}")
        return template_url(bucket, self.bucket_region, t.key)

    def bucket_kms_key(self) -> str | None:
        """The KMS key of the bucket's default encryption (the baseline's template key), looked up once.

        Sending ``aws:kms`` without a key id would use the aws/s3 key, not the bucket's own.
        """
        if self._bucket_key is None:
            bucket = self.result.bucket
            try:
                rules = aws.call(self.s3, "GetBucketEncryption", f"S3 bucket {bucket}", Bucket=bucket)[
                    "ServerSideEncryptionConfiguration"]["Rules"]
            except AwsCallError as exc:
                if exc.code != "ServerSideEncryptionConfigurationNotFoundError":
                    raise
                rules = []
            default = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules]
            self._bucket_key = next((d.get("KMSMasterKeyID", "") for d in default
                                     if d.get("SSEAlgorithm") == "aws:kms"), "")
        return self._bucket_key or None

    def version_where(self, t: Template, product_id: str, artifact_id: str) -> str:
        return f"product {t.want.name} ({product_id}) version {t.want.version} ({artifact_id}) in {self.region}"

    def settle(self, t: Template, product_id: str, artifact_id: str) -> tuple[str, str]:
        """``(status, info)`` of an artifact once it is no longer CREATING (DescribeProvisioningArtifact's
        Status: AVAILABLE | CREATING | FAILED), polled for at most ``artifact_wait_seconds``."""
        limit = self.release.policy.artifact_wait_seconds
        deadline = time.monotonic() + limit
        delays = aws.backoff(5.0)
        where = self.version_where(t, product_id, artifact_id)
        while True:
            out = aws.call(self.sc, "DescribeProvisioningArtifact", where, ProductId=product_id,
                           ProvisioningArtifactId=artifact_id)
            status = out.get("Status", "")
            if status in ("AVAILABLE", "FAILED"):
                info = out.get("Info") or {}
                return status, "; ".join(f"{k}: {v}" for k, v in sorted(info.items())) or f"status {status}"
            left = deadline - time.monotonic()
            if left <= 0:
                raise PublishError(f"{where}: still {status or 'without a status'} after {limit} s",
                                   hint="re-run later: the version counts as published only once it is AVAILABLE; "
                                        "raise publish.artifact_wait_seconds if this persists")
            self.say(f"waiting for {t.want.name} {t.want.version} ({status})")
            if self.stop.wait(min(next(delays), left)):
                raise PublishError(f"{where}: {INTERRUPTED} while it was {status}",
                                   hint="a re-run checks it again and confirms it once it is AVAILABLE")

    def available(self, t: Template, product_id: str, artifact_id: str) -> None:
        """Wait for a just-created artifact; confirm it when AVAILABLE, else fail naming it (a re-run repairs it)."""
        status, info = self.settle(t, product_id, artifact_id)
        if status != "AVAILABLE":
            raise PublishError(f"{self.version_where(t, product_id, artifact_id)}: Service Catalog could not create "
                               f"the version: {info}",
                               hint="re-run `make publish`: it replaces the FAILED artifact with a new one")
        self.mark_confirmed(t, product_id, artifact_id)

    def mark_confirmed(self, t: Template, product_id: str, artifact_id: str) -> None:
        """Rewrite the Description without the UNCONFIRMED mark: from now on the listing says it is published."""
        aws.call(self.sc, "UpdateProvisioningArtifact", self.version_where(t, product_id, artifact_id),
                 ProductId=product_id, ProvisioningArtifactId=artifact_id, Description=t.want.artifact_description)

    def delete_artifact(self, t: Template, product_id: str, artifact_id: str) -> None:
        """Delete a FAILED artifact (never the product's last one: Service Catalog refuses that,
        DeleteProvisioningArtifact, AWS Service Catalog API Reference)."""
        aws.call(self.sc, "DeleteProvisioningArtifact", self.version_where(t, product_id, artifact_id),
                 ProductId=product_id, ProvisioningArtifactId=artifact_id)


# --- the whole publish ---------------------------------------------------------------------------

def publish(settings: Settings, out_dir: Path | None = None, regions: list[str] | None = None,
            dry_run: bool = False, bucket: str | None = None, launch_role_arn: str | None = None,
            progress: Progress = lambda _m: None, recorder: aws.CallRecorder | None = None,
            check_fresh: bool = True, stop: threading.Event | None = None) -> PublishReport:
    """Publish (or, with ``dry_run``, plan) every product of the manifest in every region; return the report.

    Writes ``<out_dir>/publish-report.json``.  Raises ``PublishError`` for problems that stop everything
    (credentials, missing baseline resources); per-region and per-product failures are in the report
    (``ok`` false) — the caller decides the exit code.  Once ``stop`` is set (the CLI sets it on Ctrl-C),
    no new action starts: the calls under way finish, the rest is reported "not done".
    """
    stop = stop or threading.Event()
    out_dir = Path(out_dir) if out_dir else manifests.BUILD_DIR
    recorder = recorder or aws.CallRecorder()
    regions = list(regions or settings.regions)
    for region in regions:
        settings.require_region(region, "publish")
    templates = load_release_templates(settings, out_dir, check_fresh=check_fresh)
    started = time.time()
    sess = aws.session(settings.primary_region)
    account, role_arn, group_arn = discover_principals(sess, recorder, launch_role_arn, progress)
    principals = (group_arn,) + tuple(p for p in settings.publish.extra_principals if p != group_arn)
    org = settings.organization
    organization: dict = {}
    if org is not None:
        if launch_role_arn:
            raise ConfigError("--launch-role-arn cannot be used with an [organization]: the launch constraint names "
                              f"the role {admin_settings.LAUNCH_ROLE_NAME} by LocalRoleName, in every account",
                              hint=f"drop --launch-role-arn, or remove [organization] from {settings.path}")
        partition = group_arn.split(":")[1]
        # The developer group by name: each account's own HealthcareDeveloper group is entitled (principal
        # name sharing, SharePrincipals: "end users with a principal that matches any of the associated IAM
        # patterns can provision products from the portfolio", AWS Service Catalog API Reference).
        pattern = plan.principal_name_arn(partition, f"group/{admin_settings.DEVELOPER_GROUP}")
        principals = (group_arn, pattern) + principals[1:]
        organization = dict(shares=share_targets(sess, recorder, settings), share_regions=org.regions,
                            local_role_name=admin_settings.LAUNCH_ROLE_NAME,
                            org=OrgAccessCheck(sess, recorder, account, settings.primary_region))
    release = Release(templates=templates, policy=settings.publish, principals=principals,
                      launch_role_arn=role_arn,
                      iam=IamCheck(sess, recorder, account, role_arn, group_arn, role_override=bool(launch_role_arn)),
                      portfolio=settings.portfolio, **organization)
    progress(f"{'planning' if dry_run else 'publishing'} {len(templates)} product(s) to {', '.join(regions)} "
             f"(account {account})")

    # Each region's clients are made here, from this thread's sessions, with their event hooks (the recorder's,
    # the progress line's) registered, and each is then used by its region's thread alone: a client may be
    # handed to another thread (clients "are generally thread-safe", *Multithreading or multiprocessing with
    # clients*, https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html), a session may not
    # (aws.session), and a session of a new thread would cost its own start on every publish.
    carriers = [_Region(region, release, settings, recorder, progress, bucket, stop) for region in regions]
    workers = max(1, min(settings.publish.max_parallel_regions, len(regions)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish") as pool:
        results = list(pool.map(lambda carrier: carrier.run(dry_run), carriers))
    report = PublishReport(catalog=settings.name, account=account, dry_run=dry_run, launch_role_arn=role_arn,
                           principals=principals, seconds=round(time.time() - started, 2),
                           regions={r.region: r for r in results}, calls=recorder.summary(),
                           interrupted=stop.is_set())
    write_report(out_dir, report)
    return report


def write_report(out_dir: Path, report: PublishReport) -> Path:
    path = Path(out_dir) / REPORT
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{REPORT}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def failure_summary(report: PublishReport) -> str:
    """One paragraph for a report that is not ok: what failed, what was done, what was not."""
    actions = report.actions
    failed = [a for a in actions if a.status is Status.FAILED]
    not_done = [a for a in actions if a.status is Status.NOT_DONE]
    done = [a for a in actions if a.status is Status.DONE and a.action is not Kind.UNCHANGED]
    region_errors = [f"{name}: {r.error}" for name, r in report.regions.items() if r.error]
    parts = []
    refused: dict[tuple[str, str], list[str]] = {}
    for a in failed:
        if a.action is Kind.REFUSED:
            refused.setdefault((a.product, a.version), []).append(a.region)
    if refused:
        parts.append("; ".join(f"{product} {version} is already published with another template (in "
                               f"{', '.join(regions)}): published versions are immutable"
                               for (product, version), regions in refused.items()))
    others = [a for a in failed if a.action is not Kind.REFUSED]
    if others:
        parts.append("failed: " + "; ".join(f"{a.action} {a.product} {a.version} in {a.region}: {a.message}"
                                            for a in others))
    parts.extend(e for e in region_errors if not any(e.endswith(a.message) for a in others))
    parts.append(f"{len(done)} change(s) done, {len(not_done)} not done")
    return "; ".join(parts)
