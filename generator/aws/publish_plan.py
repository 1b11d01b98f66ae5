"""What publishing must do: desired state (manifest + settings) vs observed state (listings) -> a plan.

Pure: no AWS calls, no files.  ``generator.aws.publish`` reads the observed state of a region with list
calls, asks :func:`plan_region` for the actions, and carries them out (or, for a dry run, prints them).

Rules:
- a published version is immutable: the same name with the same template hash is left alone; the
  same name with a different hash is refused ("bump the version") and nothing for that product
  changes; a new name becomes a new provisioning artifact;
- the hash of an artifact's template is read from its Description (``... sha256:<hex>``), so deciding
  needs listings only, never a template download;
- a version counts as published only once the publisher saw it ``AVAILABLE``: a new artifact is created
  with its Description ending in ``UNCONFIRMED`` and the publisher rewrites the Description without it
  after DescribeProvisioningArtifact answered ``AVAILABLE``.  ListProvisioningArtifacts carries no
  status (ProvisioningArtifactDetail: Id, Name, Description, Type, CreatedTime, Active, Guidance,
  SourceRevision; AWS Service Catalog API Reference), so the marker is what tells a later run, from the
  listing alone, that a version needs no status read; an unconfirmed one gets a CONFIRM action (its
  status is read, a CREATING one waited for, a FAILED one replaced);
- of a product's versions (ranked by MAJOR.MINOR.PATCH, the one being published counted), the newest
  ``active_versions`` stay launchable, older ones get Guidance DEPRECATED, and those beyond
  ``visible_versions`` are also hidden (Active=false).  Publishing never deletes, and never undoes a
  deprecation or a hiding an administrator made;
- the portfolio, each product, its association with the portfolio, its LAUNCH constraint and the
  principal associations are created only when missing;
- with an ``[organization]`` in the settings, the portfolio is also shared with every target (an OU, or the
  organisation) with principal and TagOption sharing on: a missing share is created, one without them is
  updated (CreatePortfolioShare has no effect on an existing share, "To update an existing share, you must
  use the UpdatePortfolioShare API instead", AWS Service Catalog API Reference); the developer group is also
  associated by name (``IAM_PATTERN``, an ARN without account id) so the share entitles each account's own
  group; and the LAUNCH constraint names the role by ``LocalRoleName`` ("the IAM role with that name in the
  account will be used", AWS::ServiceCatalog::LaunchRoleConstraint), an existing constraint naming a role
  ARN being updated to it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum

from generator.settings import SEMVER, PortfolioSettings, PublishSettings, version_key

HASH_IN_DESCRIPTION = re.compile(r"sha256:([0-9a-f]{64})\b")
# Ends the Description of an artifact not yet seen AVAILABLE (see the module docstring).
UNCONFIRMED = " (unconfirmed: not yet seen AVAILABLE)"

class Kind(StrEnum):
    """What an action does; the value is how reports and tables name it."""

    CREATE_PORTFOLIO = "create portfolio"
    UPDATE_PORTFOLIO = "update portfolio"
    ASSOCIATE_PRINCIPAL = "associate principal"
    CREATE_PRODUCT = "create product"
    UPDATE_PRODUCT = "update product"
    NEW_VERSION = "new version"
    CONFIRM = "confirm version"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    ASSOCIATE_PRODUCT = "associate product"
    CREATE_CONSTRAINT = "create launch constraint"
    UPDATE_CONSTRAINT = "update launch constraint"
    DEPRECATE = "deprecate"
    HIDE = "hide"
    SHARE = "share portfolio"
    UPDATE_SHARE = "update share"


# Kinds that make no change.
NO_CHANGE = {Kind.UNCHANGED, Kind.REFUSED}
# Kinds that upload a template and create a provisioning artifact.
PUBLISHES = {Kind.CREATE_PRODUCT, Kind.NEW_VERSION}
# Kinds whose record names the version's template (key and URL).
NAMES_TEMPLATE = PUBLISHES | {Kind.CONFIRM, Kind.UNCHANGED}


@dataclass(frozen=True)
class DesiredProduct:
    """One product version the manifest says should be published, with its catalog details."""

    name: str
    version: str
    sha256: str
    change_note: str
    owner: str
    description: str
    distributor: str = ""
    support_email: str = ""
    support_url: str = ""
    support_description: str = ""

    @property
    def artifact_description(self) -> str:
        """The Description of the version once it was seen AVAILABLE."""
        return artifact_description(self.change_note, self.sha256)

    @property
    def unconfirmed_description(self) -> str:
        """The Description it is created with."""
        return self.artifact_description + UNCONFIRMED

    def product_fields(self) -> dict[str, str]:
        """The product details as ``SearchProductsAsAdmin`` lists them (ProductViewSummary keys)."""
        return {"Owner": self.owner, "ShortDescription": self.description, "Distributor": self.distributor,
                "SupportEmail": self.support_email, "SupportUrl": self.support_url,
                "SupportDescription": self.support_description}


@dataclass(frozen=True)
class ShareTarget:
    """An organisation node the portfolio is shared with: OrganizationNode Type and Value (AWS Service Catalog
    API Reference: ORGANIZATION with the organisation id ``o-…``, ORGANIZATIONAL_UNIT with ``ou-…``)."""

    node_type: str
    node_id: str
    environment: str = ""


@dataclass(frozen=True)
class ObservedShare:
    """One PortfolioShareDetail of DescribePortfolioShares."""

    node_id: str
    share_principals: bool
    share_tag_options: bool


@dataclass(frozen=True)
class ObservedArtifact:
    id: str
    name: str
    description: str
    active: bool = True
    guidance: str = "DEFAULT"

    @property
    def sha256(self) -> str | None:
        return hash_from_description(self.description)

    @property
    def confirmed(self) -> bool:
        return not (self.description or "").endswith(UNCONFIRMED)


@dataclass(frozen=True)
class ObservedProduct:
    id: str
    name: str
    artifacts: tuple[ObservedArtifact, ...] = ()
    fields: dict = field(default_factory=dict)   # ProductViewSummary details (Owner, SupportEmail, …)
    in_portfolio: bool = False
    has_launch_constraint: bool = False
    launch_constraint_id: str = ""
    launch_description: str = ""


@dataclass(frozen=True)
class ObservedRegion:
    portfolio_id: str | None = None
    portfolio_fields: dict = field(default_factory=dict)   # Description, ProviderName
    principals: frozenset[str] = frozenset()
    products: dict = field(default_factory=dict)            # name -> ObservedProduct
    shares: dict = field(default_factory=dict)              # organisation node id -> ObservedShare


@dataclass(frozen=True)
class Action:
    kind: Kind
    product: str = ""
    version: str = ""
    sha256: str = ""
    artifact_id: str = ""
    principal: str = ""
    detail: str = ""
    node: str = ""          # the organisation node of a share

    def describe(self) -> str:
        parts = [self.kind]
        if self.product:
            parts.append(f"{self.product} {self.version}".strip())
        if self.principal:
            parts.append(self.principal)
        if self.node:
            parts.append(self.node)
        if self.detail:
            parts.append(f"({self.detail})")
        return " ".join(parts)


def artifact_description(change_note: str, sha256: str) -> str:
    return f"{change_note} sha256:{sha256}"


def hash_from_description(description: str | None) -> str | None:
    m = HASH_IN_DESCRIPTION.search(description or "")
    return m.group(1) if m else None


def note_from_description(description: str | None) -> str:
    """The human change note of an artifact Description (what :func:`artifact_description` wrote before the
    hash, without the UNCONFIRMED mark); a Description written by someone else is returned as it is."""
    text = (description or "").removesuffix(UNCONFIRMED)
    return HASH_IN_DESCRIPTION.sub("", text).strip()


def idempotency_token(*parts: str) -> str:
    """A deterministic IdempotencyToken (<= 128 chars, ``[a-zA-Z0-9][a-zA-Z0-9_-]*``) for ``parts``.

    Two publishers creating the same thing send the same token, so AWS creates it once.
    """
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return f"hc-{digest[:60]}"


def is_pattern(principal_arn: str) -> bool:
    """An IAM ARN without an account id is a principal name (PrincipalType IAM_PATTERN): "an IAM ARN without an
    AccountID in the following format: arn:partition:iam:::resource-type/resource-id" (AWS Service Catalog API
    Reference, AssociatePrincipalWithPortfolio)."""
    parts = principal_arn.split(":")
    return len(parts) >= 6 and parts[2] == "iam" and parts[4] == ""


def principal_name_arn(partition: str, resource: str) -> str:
    """The IAM_PATTERN ARN of ``resource`` (``group/HealthcareDeveloper``) in every account."""
    return f"arn:{partition}:iam:::{resource}"


def local_launch_description(role_name: str) -> str:
    """The Description of a LAUNCH constraint naming ``role_name`` by LocalRoleName (``observe`` compares it)."""
    return f"Launch as the local role {role_name} of each account"


def plan_shares(targets: tuple[ShareTarget, ...], seen: dict) -> list[Action]:
    """SHARE for a target without a share, UPDATE_SHARE for one without principal or TagOption sharing."""
    actions = []
    for t in targets:
        share = seen.get(t.node_id)
        env = f"environment {t.environment}" if t.environment else ""
        if share is None:
            actions.append(Action(Kind.SHARE, node=t.node_id, detail=env))
        elif not (share.share_principals and share.share_tag_options):
            off = [n for n, on in (("principal sharing", share.share_principals),
                                   ("TagOption sharing", share.share_tag_options)) if not on]
            actions.append(Action(Kind.UPDATE_SHARE, node=t.node_id, detail="turning on " + " and ".join(off)))
    return actions


def _version_ok(name: str) -> bool:
    return bool(SEMVER.match(name))


def retire(product: str, artifacts: tuple[ObservedArtifact, ...], current: str,
           policy: PublishSettings) -> list[Action]:
    """DEPRECATE / HIDE actions for the versions beyond the policy's limits.

    Versions are ranked newest first by MAJOR.MINOR.PATCH (artifacts with other names are left
    alone); the version being published always counts as one of the newest.
    """
    names = {a.name for a in artifacts if _version_ok(a.name)} | {current}
    ranked = sorted(names, key=version_key, reverse=True)
    ranked.remove(current)
    ranked.insert(0, current)
    rank = {name: i for i, name in enumerate(ranked)}
    actions: list[Action] = []
    for a in sorted((a for a in artifacts if _version_ok(a.name)), key=lambda a: version_key(a.name),
                    reverse=True):
        if a.name == current:
            continue
        r = rank[a.name]
        if r >= policy.active_versions and a.guidance != "DEPRECATED":
            actions.append(Action(Kind.DEPRECATE, product, a.name, a.sha256 or "", a.id,
                                  detail=f"beyond the {policy.active_versions} active version(s)"))
        if r >= policy.visible_versions and a.active:
            actions.append(Action(Kind.HIDE, product, a.name, a.sha256 or "", a.id,
                                  detail=f"beyond the {policy.visible_versions} visible version(s)"))
    return actions


def plan_product(want: DesiredProduct, seen: ObservedProduct | None, policy: PublishSettings,
                 launch_description: str | None = None) -> list[Action]:
    """The actions for one product in one region (portfolio-level actions excluded).  ``launch_description``,
    when given, is the Description the LAUNCH constraint must have (a LocalRoleName one); another is updated."""
    base = dict(product=want.name, version=want.version, sha256=want.sha256)
    if seen is None:
        return [Action(Kind.CREATE_PRODUCT, **base, detail="with its first version"),
                Action(Kind.ASSOCIATE_PRODUCT, **base), Action(Kind.CREATE_CONSTRAINT, **base)]
    same_name = [a for a in seen.artifacts if a.name == want.version]
    if same_name:
        other = [a for a in same_name if a.sha256 != want.sha256]
        if other:
            a = other[0]
            found = f"sha256 {a.sha256[:12]}…" if a.sha256 else "unknown hash"
            return [Action(Kind.REFUSED, **base, artifact_id=a.id,
                           detail=f"published with another template ({found}, built {want.sha256[:12]}…)")]
        confirmed = [a for a in same_name if a.confirmed]
        actions = [Action(Kind.UNCHANGED, **base, artifact_id=confirmed[0].id)] if confirmed else []
        actions += [Action(Kind.CONFIRM, **base, artifact_id=a.id,
                           detail="not yet seen AVAILABLE: its status is checked")
                    for a in same_name if not a.confirmed]
    else:
        actions = [Action(Kind.NEW_VERSION, **base)]
    # Only details the settings give are compared (an empty one is never pushed, so cannot drift).
    drift = sorted(k for k, v in want.product_fields().items() if v and (seen.fields.get(k) or "") != v)
    if drift:
        actions.insert(0, Action(Kind.UPDATE_PRODUCT, **base, detail="changed: " + ", ".join(drift)))
    if not seen.in_portfolio:
        actions.append(Action(Kind.ASSOCIATE_PRODUCT, **base))
    if not seen.has_launch_constraint:
        actions.append(Action(Kind.CREATE_CONSTRAINT, **base))
    elif launch_description is not None and seen.launch_description != launch_description:
        actions.append(Action(Kind.UPDATE_CONSTRAINT, **base, artifact_id=seen.launch_constraint_id,
                              detail=f"was {seen.launch_description!r}"))
    actions.extend(retire(want.name, seen.artifacts, want.version, policy))
    return actions


def plan_region(wanted: list[DesiredProduct], seen: ObservedRegion, portfolio: PortfolioSettings,
                principals: list[str], policy: PublishSettings, shares: tuple[ShareTarget, ...] = (),
                launch_description: str | None = None) -> list[Action]:
    """Every action needed in one region, portfolio first (with its principals and shares), then product by
    product."""
    actions: list[Action] = []
    if seen.portfolio_id is None:
        actions.append(Action(Kind.CREATE_PORTFOLIO, detail=portfolio.name))
    else:
        drift = [k for k, v in (("Description", portfolio.description), ("ProviderName", portfolio.provider))
                 if (seen.portfolio_fields.get(k) or "") != v]
        if drift:
            actions.append(Action(Kind.UPDATE_PORTFOLIO, detail="changed: " + ", ".join(drift)))
    for p in principals:
        if p not in seen.principals:
            actions.append(Action(Kind.ASSOCIATE_PRINCIPAL, principal=p))
    actions.extend(plan_shares(shares, seen.shares))
    for want in wanted:
        actions.extend(plan_product(want, seen.products.get(want.name), policy, launch_description))
    return actions


def refused(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.kind is Kind.REFUSED]


def changes(actions: list[Action]) -> list[Action]:
    return [a for a in actions if a.kind not in NO_CHANGE]
