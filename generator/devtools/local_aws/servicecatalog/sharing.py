"""Portfolio sharing: account-to-account and AWS Organizations shares, and what a recipient account sees.

API note (what is emulated; a mixin of ``ServiceCatalogBackend``, handlers in responses.py):

* EnableAWSOrganizationsAccess / DisableAWSOrganizationsAccess / GetAWSOrganizationsAccessStatus: the
  management account turns on (Organizations' EnableAWSServiceAccess for ``servicecatalog.amazonaws.com``,
  as the API reference says the call does) or off the feature; GetAWSOrganizationsAccessStatus answers
  ENABLED / DISABLED to the management account or a delegated administrator.
* CreatePortfolioShare with ``AccountId`` (an offer the recipient accepts with AcceptPortfolioShare) or
  ``OrganizationNode`` {Type ORGANIZATION | ORGANIZATIONAL_UNIT | ACCOUNT, Value o-… | ou-…/r-… | account
  id}, ``ShareTagOptions``, ``SharePrincipals`` (organisation and OU nodes only).  An organisation-node
  share needs Organizations access enabled and a caller that is the management account or a delegated
  administrator for Service Catalog; it returns a ``PortfolioShareToken``; an existing share is left as it
  is (no error).  UpdatePortfolioShare changes the two flags (refused with InvalidStateException while the
  share's creation is IN_PROGRESS), DeletePortfolioShare removes a share; DescribePortfolioShareStatus
  (IN_PROGRESS for the next read, ``--pending-reads``, then COMPLETED with SuccessfulShares: the accounts under
  the node when the operation ran; until its creation is COMPLETED a share reaches no recipient: "the share
  is not available to recipient entities", *UpdatePortfolioShare*), DescribePortfolioShares (by Type ACCOUNT | ORGANIZATION | ORGANIZATIONAL_UNIT |
  ORGANIZATION_MEMBER_ACCOUNT), ListOrganizationPortfolioAccess, ListPortfolioAccess (accounts with access,
  OrganizationParentId honoured).
* A recipient account: an organisation share reaches every ACTIVE account under the node except the
  sharing account, *as the organisation is now* (an account moved into a shared OU sees the portfolio at
  once, one moved out stops seeing it), and is imported without accepting ("If the recipient is in an
  organization node, the share is automatically imported", *PortfolioShareDetail*, Accepted).
  ListAcceptedPortfolioShares(PortfolioShareType AWS_ORGANIZATIONS) lists those, (IMPORTED, the default)
  the accepted account shares; AcceptPortfolioShare(AWS_ORGANIZATIONS) on an organisation share is a no-op,
  without the type it is ResourceNotFoundException (awslabs/aws-service-catalog-puppet#346).
  DescribePortfolio works on an imported portfolio; AssociatePrincipalWithPortfolio /
  DisassociatePrincipalFromPortfolio / ListPrincipalsForPortfolio on it keep the recipient's own
  associations; with SharePrincipals the sharer's IAM_PATTERN associations are listed too and apply.
* End users of a recipient account (SearchProducts, DescribeProduct, ListLaunchPaths,
  DescribeProvisioningParameters, ProvisionProduct ...) see an imported portfolio's products only when the
  caller's IAM identity (the user and its groups, or the assumed role) matches one of its principals:
  the recipient's own associations (IAM: the ARN; IAM_PATTERN: the ARN without its account, ``*`` any
  characters, ``?`` zero or one, *AssociatePrincipalWithPortfolio*, PrincipalARN) or, with SharePrincipals,
  the sharer's IAM_PATTERN ones.  A LAUNCH constraint with ``LocalRoleName`` resolves to the role of that
  name in the account that launches ("the IAM role with that name in the account will be used",
  *CreateConstraint*, Parameters); provisioning then runs there, as that role, with IAM enforced.

* Share errors, on request (``SHARE_FAULTS``, ``POST /_local_aws/shares {"fail_accounts": [...]}``): an
  organisation share operation (CreatePortfolioShare of a new share, UpdatePortfolioShare) that reaches a
  failing account lists it in ``ShareDetails.ShareErrors`` ({Accounts, Message, Error}: *ShareError*, AWS
  Service Catalog API Reference) rather than in SuccessfulShares, and ends COMPLETED_WITH_ERRORS, or ERROR
  when it reached no account (*DescribePortfolioShareStatus*, Status: NOT_STARTED | IN_PROGRESS | COMPLETED
  | COMPLETED_WITH_ERRORS | ERROR); that account does not see the portfolio until a later operation on the
  share reaches it.  Which errors AWS gives, and what each status means exactly, it does not document:
  the causes, texts and that reading of the two statuses are chosen.

Not modelled: TagOption sharing's effect (the flag is kept and reported), a recipient's own products or
constraints added to an imported portfolio, principal checks on an account's own (not imported) portfolios
(every caller is entitled, as before).
"""

from __future__ import annotations

import contextvars
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from generator.errors import ConfigError

from .common import new_id, paginate
from .exceptions import (
    InvalidParametersException,
    InvalidStateException,
    OperationNotSupportedException,
    ResourceNotFoundException,
)

if TYPE_CHECKING:
    from .models import Constraint, Portfolio, Product, ServiceCatalogBackend

SERVICE_PRINCIPAL = "servicecatalog.amazonaws.com"
ORG_NODE_TYPES = ("ORGANIZATION", "ORGANIZATIONAL_UNIT", "ACCOUNT")

# The IAM identity of the request being served: the ARNs a portfolio principal may match (a user and its
# groups, or an assumed role), or None when the credentials are no IAM identity of the account (the
# endpoint's default keys); set by the responses for each request.
CALLER: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("servicecatalog_caller", default=None)


class ShareFaults:
    """Accounts an organisation share operation fails for (``POST /_local_aws/shares``), and the error given."""

    ERROR = "AccessDeniedException"
    MESSAGE = "The portfolio could not be shared with this account"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.restore()

    def configure(self, data: Any) -> None:
        if not isinstance(data, dict) or set(data) - {"fail_accounts", "error", "message"}:
            raise ConfigError(f"shares: {data!r}; allowed keys: fail_accounts (a list of account ids), error, message")
        accounts = data.get("fail_accounts", [])
        if not isinstance(accounts, list) or not all(isinstance(a, str) and re.fullmatch(r"\d{12}", a)
                                                     for a in accounts):
            raise ConfigError(f"shares fail_accounts: {accounts!r}; allowed: a list of 12-digit account ids")
        for key in ("error", "message"):
            if not isinstance(data.get(key, ""), str):
                raise ConfigError(f"shares {key}: {data[key]!r}; allowed: text")
        with self._lock:
            self.fail_accounts = list(accounts)
            self.error = data.get("error") or self.ERROR
            self.message = data.get("message") or self.MESSAGE

    def restore(self) -> None:
        with self._lock:
            self.fail_accounts: list[str] = []
            self.error, self.message = self.ERROR, self.MESSAGE

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"fail_accounts": list(self.fail_accounts), "error": self.error, "message": self.message}


SHARE_FAULTS = ShareFaults()


@dataclass
class Share:
    portfolio_id: str
    kind: str                 # ACCOUNT (account-to-account) | ORGANIZATION | ORGANIZATIONAL_UNIT | ORGANIZATION_MEMBER_ACCOUNT
    value: str                # the account, OU / root or organisation id
    share_tag_options: bool = False
    share_principals: bool = False
    accepted: bool = False    # account-to-account shares only; organisation shares are imported at once
    created_by: "ShareOperation | None" = None  # an organisation share reaches no one until it is COMPLETED
    failed: set[str] = field(default_factory=set)  # accounts its last operation failed for: it does not reach them

    @property
    def available(self) -> bool:
        return self.created_by is None or self.created_by.settled

    @property
    def organizational(self) -> bool:
        return self.kind != "ACCOUNT"

    def detail(self) -> dict[str, Any]:
        return {"PrincipalId": self.value, "Type": self.kind, "Accepted": self.accepted or self.organizational,
                "ShareTagOptions": self.share_tag_options, "SharePrincipals": self.share_principals}


@dataclass
class ShareOperation:
    """An organisation share operation: IN_PROGRESS for the next ``pending_reads`` DescribePortfolioShareStatus
    reads (the server's ``--pending-reads``, as records), then COMPLETED."""

    token: str
    portfolio_id: str
    node_value: str
    accounts: list[str] = field(default_factory=list)
    pending_reads: int = 1
    reads: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)   # ShareError: Accounts, Message, Error

    @property
    def settled(self) -> bool:
        return self.reads > self.pending_reads

    @property
    def status(self) -> str:
        if not self.settled:
            return "IN_PROGRESS"
        if not self.errors:
            return "COMPLETED"
        return "COMPLETED_WITH_ERRORS" if self.accounts else "ERROR"

    def describe(self, observe: bool = False) -> dict[str, Any]:
        if observe and not self.settled:
            self.reads += 1
        return {"PortfolioShareToken": self.token, "PortfolioId": self.portfolio_id,
                "OrganizationNodeValue": self.node_value, "Status": self.status,
                "ShareDetails": {"SuccessfulShares": list(self.accounts) if self.settled else [],
                                 "ShareErrors": [dict(e) for e in self.errors] if self.settled else []}}


def caller_arns(account_id: str, access_key: str) -> list[str] | None:
    """The IAM ARNs of the identity that signed with ``access_key`` in ``account_id`` (see ``CALLER``)."""
    from moto.iam.models import iam_backends

    iam = iam_backends[account_id]["global"]
    key = iam.access_keys.get(access_key)
    if key is None:
        return None
    role_arn = getattr(key, "role_arn", None)
    if role_arn:
        role = iam.roles.get(_role_id(iam, role_arn.rsplit("/", 1)[-1]))
        return [role.arn if role is not None else role_arn]
    user = iam.users.get(key.user_name or "")
    if user is None:
        return None
    return [user.arn, *(g.arn for g in iam.get_groups_for_user(user.name))]


def _role_id(iam: Any, name: str) -> str | None:
    return next((rid for rid, role in iam.roles.items() if role.name == name), None)


def principal_matches(principal: dict[str, str], arns: list[str]) -> bool:
    """Does one of ``arns`` match a portfolio principal (IAM: the same ARN; IAM_PATTERN: the ARN without
    its account id, ``*`` any run of characters including ``/``, ``?`` zero or one character)?"""
    pattern = principal["PrincipalARN"]
    if principal.get("PrincipalType") != "IAM_PATTERN":
        return pattern in arns
    regex = "".join(".*" if c == "*" else ".?" if c == "?" else re.escape(c) for c in pattern)
    return any(re.fullmatch(regex, re.sub(r"^(arn:[^:]+:iam::)\d{12}:", r"\1:", arn)) for arn in arns)


def _check_share_principals(params: dict[str, Any], kind: str) -> None:
    if params.get("SharePrincipals") and kind not in ("ORGANIZATION", "ORGANIZATIONAL_UNIT"):
        # SharePrincipals: "only supported for portfolios with an OrganizationalNode Type of ORGANIZATION or
        # ORGANIZATIONAL_UNIT" (*CreatePortfolioShare*)
        raise InvalidParametersException(
            "SharePrincipals is only supported for an OrganizationNode of Type ORGANIZATION or ORGANIZATIONAL_UNIT")


class SharingMixin:
    """Shares of this account's portfolios, and the portfolios other accounts share with it."""

    def _sharing_init(self) -> None:
        self.shares: list[Share] = []
        self.share_operations: dict[str, ShareOperation] = {}
        self.imported_principals: dict[str, list[dict[str, str]]] = {}  # imported portfolio id -> ours
        self.accepted: set[tuple[str, str]] = set()  # (sharer account, portfolio id) account shares accepted

    # -- the organisation ------------------------------------------------------------------------
    def _organization(self: "ServiceCatalogBackend"):
        from ..organizations.models import organization_of

        return organization_of(self.account_id, self.partition)

    def _organization_admin(self: "ServiceCatalogBackend", what: str, delegated: bool = True):
        """The organisation's backend when this account may administer Service Catalog's organisation
        sharing (the management account, or with ``delegated`` a delegated administrator), else refused."""
        org = self._organization()
        if org is None:
            raise OperationNotSupportedException(
                f"{what}: account {self.account_id} is not in an AWS Organizations organization")
        if org.account_id == self.account_id:
            return org
        if delegated and org.is_delegated(self.account_id, SERVICE_PRINCIPAL):
            return org
        who = "the management account or a delegated administrator" if delegated else "the management account"
        raise OperationNotSupportedException(
            f"{what} can only be called by {who} of organization {org.org.id}; account {self.account_id} is not")

    def enable_organizations_access(self: "ServiceCatalogBackend") -> None:
        org = self._organization_admin("EnableAWSOrganizationsAccess", delegated=False)
        org.enable_aws_service_access(ServicePrincipal=SERVICE_PRINCIPAL)

    def disable_organizations_access(self: "ServiceCatalogBackend") -> None:
        org = self._organization_admin("DisableAWSOrganizationsAccess", delegated=False)
        if any(SERVICE_PRINCIPAL in a.services for a in org.admins):
            # "You cannot call this API if there are active delegated administrators in the organization."
            raise InvalidStateException("Deregister the delegated administrators of Service Catalog before "
                                        "disabling AWS Organizations access")
        org.disable_aws_service_access(ServicePrincipal=SERVICE_PRINCIPAL)

    def organizations_access_status(self: "ServiceCatalogBackend") -> str:
        org = self._organization_admin("GetAWSOrganizationsAccessStatus")
        return "ENABLED" if org.is_enabled(SERVICE_PRINCIPAL) else "DISABLED"

    def _node_accounts(self: "ServiceCatalogBackend", share: Share, failed_too: bool = False) -> list[str]:
        """The accounts an organisation share reaches now (ACTIVE, under the node, not the sharer, not failed
        by its last operation unless ``failed_too``)."""
        org = self._organization()
        if org is None:
            return []
        if share.kind == "ORGANIZATION_MEMBER_ACCOUNT":
            account = org.account(share.value)
            found = [account] if account is not None and account.status == "ACTIVE" else []
        else:
            found = org.accounts_under(share.value)
        return [a.id for a in found if a.id != self.account_id and (failed_too or a.id not in share.failed)]

    # -- the sharer's side -----------------------------------------------------------------------
    def _share_target(self: "ServiceCatalogBackend", params: dict[str, Any], what: str) -> tuple[str, str]:
        account_id, node = params.get("AccountId"), params.get("OrganizationNode")
        if bool(account_id) == bool(node):
            raise InvalidParametersException(f"{what}: give exactly one of AccountId or OrganizationNode")
        if account_id:
            if not re.fullmatch(r"\d{12}", str(account_id)):
                raise InvalidParametersException(f"{what}: AccountId {account_id!r} is not a 12-digit account id")
            return "ACCOUNT", account_id
        node_type, value = node.get("Type"), node.get("Value") or ""
        if node_type not in ORG_NODE_TYPES:
            raise InvalidParametersException(
                f"{what}: OrganizationNode Type {node_type!r} is not valid; allowed: {', '.join(ORG_NODE_TYPES)}")
        return {"ACCOUNT": "ORGANIZATION_MEMBER_ACCOUNT"}.get(node_type, node_type), value

    def _check_node(self: "ServiceCatalogBackend", kind: str, value: str, what: str) -> None:
        org = self._organization_admin(what)
        if not org.is_enabled(SERVICE_PRINCIPAL):
            raise InvalidStateException(
                f"{what}: AWS Organizations access is not enabled for Service Catalog; the management account "
                "enables it with EnableAWSOrganizationsAccess (aws servicecatalog enable-aws-organizations-access)")
        known = {"ORGANIZATION": {org.org.id},
                 "ORGANIZATIONAL_UNIT": {ou.id for ou in org.ou},
                 "ORGANIZATION_MEMBER_ACCOUNT": {a.id for a in org.accounts}}[kind]
        if value not in known:
            raise InvalidParametersException(
                f"{what}: OrganizationNode {value!r} is not {'the' if kind == 'ORGANIZATION' else 'a'} "
                f"{kind.lower().replace('_', ' ')} of organization {org.org.id}")

    def _find_share(self, portfolio_id: str, kind: str, value: str) -> Share | None:
        return next((s for s in self.shares if (s.portfolio_id, s.kind, s.value) == (portfolio_id, kind, value)),
                    None)

    def _operation(self: "ServiceCatalogBackend", share: Share, reaches: bool = True) -> ShareOperation:
        """A share operation; ``reaches``: it shares with the node's accounts (creating or updating the share),
        so the accounts ``SHARE_FAULTS`` names fail and stay without the share until another one reaches them."""
        from . import provisioning

        token = new_id("share")
        accounts = self._node_accounts(share, failed_too=reaches) if share.organizational else []
        errors: list[dict[str, Any]] = []
        if reaches and share.organizational:
            faults = SHARE_FAULTS.to_dict()
            share.failed = {a for a in accounts if a in faults["fail_accounts"]}
            accounts = [a for a in accounts if a not in share.failed]
            if share.failed:
                errors.append({"Accounts": sorted(share.failed), "Message": faults["message"],
                               "Error": faults["error"]})
        operation = ShareOperation(token, share.portfolio_id, share.value, accounts, provisioning.PENDING_READS,
                                   errors=errors)
        self.share_operations[token] = operation
        return operation

    def create_portfolio_share(self: "ServiceCatalogBackend", params: dict[str, Any]) -> str | None:  # type: ignore[override]
        portfolio = self.portfolio(params.get("PortfolioId"))
        kind, value = self._share_target(params, "CreatePortfolioShare")
        _check_share_principals(params, kind)
        if kind != "ACCOUNT":
            self._check_node(kind, value, "CreatePortfolioShare")
        share = self._find_share(portfolio.id, kind, value)
        if share is not None:  # "If the portfolio share ... already exists, this action will have no effect"
            return self._operation(share, reaches=False).token if share.organizational else None
        share = Share(portfolio.id, kind, value, bool(params.get("ShareTagOptions")), bool(params.get("SharePrincipals")))
        self.shares.append(share)
        if not share.organizational:
            return None
        share.created_by = self._operation(share)
        return share.created_by.token

    def _existing_share(self: "ServiceCatalogBackend", params: dict[str, Any], what: str) -> Share:
        portfolio = self.portfolio(params.get("PortfolioId"))
        kind, value = self._share_target(params, what)
        if kind != "ACCOUNT":
            self._organization_admin(what)
        share = self._find_share(portfolio.id, kind, value)
        if share is None:
            raise ResourceNotFoundException(f"Portfolio {portfolio.id} is not shared with {value}")
        return share

    def update_portfolio_share(self: "ServiceCatalogBackend", params: dict[str, Any]) -> str:
        share = self._existing_share(params, "UpdatePortfolioShare")
        if not share.available:
            # "The portfolio share cannot be updated if the CreatePortfolioShare operation is IN_PROGRESS, as
            # the share is not available to recipient entities." (*UpdatePortfolioShare*)
            raise InvalidStateException(f"The portfolio share of {share.portfolio_id} with {share.value} is "
                                        f"IN_PROGRESS ({share.created_by.token}); wait for it with "
                                        "DescribePortfolioShareStatus")
        _check_share_principals(params, share.kind)
        for key, attr in (("ShareTagOptions", "share_tag_options"), ("SharePrincipals", "share_principals")):
            if params.get(key) is not None:
                setattr(share, attr, bool(params[key]))
        return self._operation(share).token

    def delete_portfolio_share(self: "ServiceCatalogBackend", params: dict[str, Any]) -> str | None:  # type: ignore[override]
        share = self._existing_share(params, "DeletePortfolioShare")
        token = self._operation(share, reaches=False).token if share.organizational else None
        self.shares.remove(share)
        return token

    def share_status(self: "ServiceCatalogBackend", token: str | None) -> dict[str, Any]:
        self._organization_admin("DescribePortfolioShareStatus")
        if token not in self.share_operations:
            raise ResourceNotFoundException(f"Portfolio share operation {token} not found.")
        return self.share_operations[token].describe(observe=True)

    def describe_portfolio_shares(self: "ServiceCatalogBackend", params: dict[str, Any]):  # type: ignore[override]
        portfolio = self.portfolio(params.get("PortfolioId"))
        kind = params.get("Type")
        allowed = ("ACCOUNT", "ORGANIZATION", "ORGANIZATIONAL_UNIT", "ORGANIZATION_MEMBER_ACCOUNT")
        if kind not in allowed:
            raise InvalidParametersException(f"Type {kind!r} is not valid; allowed: {', '.join(allowed)}")
        found = [s for s in self.shares if s.portfolio_id == portfolio.id and s.kind == kind]
        return paginate(found, params.get("PageToken"), params.get("PageSize"), maximum=100)

    def organization_portfolio_access(self: "ServiceCatalogBackend", params: dict[str, Any]):
        portfolio = self.portfolio(params.get("PortfolioId"))
        self._organization_admin("ListOrganizationPortfolioAccess")
        node_type = params.get("OrganizationNodeType")
        if node_type not in ORG_NODE_TYPES:
            raise InvalidParametersException(
                f"OrganizationNodeType {node_type!r} is not valid; allowed: {', '.join(ORG_NODE_TYPES)}")
        kind = {"ACCOUNT": "ORGANIZATION_MEMBER_ACCOUNT"}.get(node_type, node_type)
        nodes = [{"Type": node_type, "Value": s.value} for s in self.shares
                 if s.portfolio_id == portfolio.id and s.kind == kind]
        return paginate(nodes, params.get("PageToken"), params.get("PageSize"), maximum=100)

    def accounts_with_access(self: "ServiceCatalogBackend", params: dict[str, Any]):
        """ListPortfolioAccess: the accounts the portfolio reaches (accepted or not), under
        ``OrganizationParentId`` when given."""
        portfolio = self.portfolio(params.get("PortfolioId"))
        accounts: list[str] = []
        for share in (s for s in self.shares if s.portfolio_id == portfolio.id):
            for account in ([share.value] if not share.organizational else self._node_accounts(share)):
                if account not in accounts:
                    accounts.append(account)
        parent = params.get("OrganizationParentId")
        if parent:
            org = self._organization_admin("ListPortfolioAccess with OrganizationParentId")
            under = {a.id for a in org.accounts_under(parent)}
            accounts = [a for a in accounts if a in under]
        return paginate(accounts, params.get("PageToken"), params.get("PageSize"), maximum=1000)

    # -- the recipient's side --------------------------------------------------------------------
    def _sharers(self: "ServiceCatalogBackend") -> list["ServiceCatalogBackend"]:
        """This region's Service Catalog of every other account that has shared a portfolio."""
        from .models import servicecatalog_backends

        found = []
        for account_id in list(servicecatalog_backends.keys()):
            regions = servicecatalog_backends[account_id]
            backend = dict.get(regions, self.region_name)  # do not create backends while looking
            if account_id != self.account_id and backend is not None and backend.shares:
                found.append(backend)
        return found

    def imports(self: "ServiceCatalogBackend", kind: str | None = None
                ) -> list[tuple["Portfolio", "ServiceCatalogBackend", Share]]:
        """Portfolios shared with this account and imported: (portfolio, sharer, share), an organisation
        share first when both reach it; ``kind`` AWS_ORGANIZATIONS or IMPORTED narrows them."""
        found: dict[str, tuple[Portfolio, ServiceCatalogBackend, Share]] = {}
        for sharer in self._sharers():
            for share in sharer.shares:
                portfolio = sharer.portfolios.get(share.portfolio_id)
                if portfolio is None:
                    continue
                if (share.organizational and share.available and kind != "IMPORTED"
                        and self.account_id in sharer._node_accounts(share)):
                    found.setdefault(portfolio.id, (portfolio, sharer, share))
                elif (not share.organizational and kind != "AWS_ORGANIZATIONS" and share.value == self.account_id
                      and (sharer.account_id, portfolio.id) in self.accepted):
                    found.setdefault(portfolio.id, (portfolio, sharer, share))
        return list(found.values())

    def imported(self: "ServiceCatalogBackend", portfolio_id: str | None
                 ) -> tuple["Portfolio", "ServiceCatalogBackend", Share] | None:
        return next((i for i in self.imports() if i[0].id == portfolio_id), None)

    def any_portfolio(self: "ServiceCatalogBackend", portfolio_id: str | None) -> "Portfolio":
        """One of this account's portfolios or one imported into it."""
        if portfolio_id in self.portfolios:
            return self.portfolios[portfolio_id]
        found = self.imported(portfolio_id)
        if found is None:
            raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
        return found[0]

    def accept_portfolio_share(self: "ServiceCatalogBackend", portfolio_id: str, kind: str | None) -> None:
        kind = kind or "IMPORTED"
        if kind not in ("IMPORTED", "AWS_ORGANIZATIONS"):
            raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
        if kind == "AWS_ORGANIZATIONS":
            if not any(p.id == portfolio_id for p, _, _ in self.imports("AWS_ORGANIZATIONS")):
                raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
            return
        for sharer in self._sharers():
            if any(s.portfolio_id == portfolio_id and s.kind == "ACCOUNT" and s.value == self.account_id
                   for s in sharer.shares):
                self.accepted.add((sharer.account_id, portfolio_id))
                return
        raise ResourceNotFoundException(f"Portfolio not found: {portfolio_id}")

    def reject_portfolio_share(self: "ServiceCatalogBackend", portfolio_id: str) -> None:
        for sharer in self._sharers():
            for share in list(sharer.shares):
                if share.portfolio_id == portfolio_id and share.kind == "ACCOUNT" and share.value == self.account_id:
                    self.accepted.discard((sharer.account_id, portfolio_id))
                    sharer.shares.remove(share)
                    return
        raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")

    def list_accepted_portfolio_shares(self: "ServiceCatalogBackend", params: dict[str, Any]):
        kind = params.get("PortfolioShareType") or "IMPORTED"
        if kind not in ("IMPORTED", "AWS_ORGANIZATIONS", "AWS_SERVICECATALOG"):
            raise InvalidParametersException(
                f"PortfolioShareType {kind!r} is not valid; allowed: IMPORTED, AWS_ORGANIZATIONS")
        found = [p for p, _, _ in self.imports(kind)] if kind != "AWS_SERVICECATALOG" else []
        return paginate(found, params.get("PageToken"), params.get("PageSize"), maximum=100)

    # -- principals ------------------------------------------------------------------------------
    def portfolio_principals(self: "ServiceCatalogBackend", portfolio_id: str | None) -> list[dict[str, str]]:
        """The principals of a portfolio as this account sees them (an imported one: ours, then the
        sharer's IAM_PATTERN ones when the share includes principals)."""
        if portfolio_id in self.portfolios:
            return self.portfolios[portfolio_id].principals
        found = self.imported(portfolio_id)
        if found is None:
            raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
        portfolio, _, share = found
        shared = [p for p in portfolio.principals if p["PrincipalType"] == "IAM_PATTERN"] if share.share_principals else []
        return [*self.imported_principals.get(portfolio.id, []), *shared]

    def entitled(self: "ServiceCatalogBackend", portfolio: "Portfolio") -> bool:
        """May the caller use the portfolio's products?  An imported portfolio: only a matching principal."""
        if portfolio.id in self.portfolios:
            return True
        arns = CALLER.get()
        return bool(arns) and any(principal_matches(p, arns) for p in self.portfolio_principals(portfolio.id))

    # -- products and launch constraints through imported portfolios -----------------------------
    def entitled_imports(self: "ServiceCatalogBackend") -> list[tuple["Portfolio", "ServiceCatalogBackend", Share]]:
        return [i for i in self.imports() if self.entitled(i[0])]

    def imported_product(self: "ServiceCatalogBackend", product_id: str | None, name: str | None) -> "Product | None":
        for portfolio, sharer, _ in self.imports():
            for pid in portfolio.launch_paths:
                product = sharer.products.get(pid)
                if product is not None and (product.id == product_id or (not product_id and product.name == name)):
                    return product
        return None

    def imported_constraint(self: "ServiceCatalogBackend", portfolio_id: str, product_id: str) -> "Constraint | None":
        found = self.imported(portfolio_id)
        return found[1].launch_constraint(portfolio_id, product_id) if found else None

    def launch_role_of(self: "ServiceCatalogBackend", constraint: "Constraint") -> str:
        """The launch role in this account: a ``LocalRoleName`` constraint's role of that name here ("The
        given role name must exist in ... the account of the user who launches a product with this launch
        constraint", *CreateConstraint*), else the constraint's RoleArn."""
        if not constraint.local_role_name:
            return constraint.role_arn
        from moto.iam.models import iam_backends

        iam = iam_backends[self.account_id][self.partition]
        role_id = _role_id(iam, constraint.local_role_name)
        if role_id is None:
            raise InvalidParametersException(
                f"The launch constraint's LocalRoleName {constraint.local_role_name} does not exist in account "
                f"{self.account_id}; create the role there (the launch role deployment does) and retry")
        return iam.roles[role_id].arn
