"""Service Catalog backend: moto's, extended with artifacts, associations, constraints and provisioning.

``ServiceCatalogBackend`` subclasses moto's, keeps its portfolio-share operations and replaces the
portfolio and product models with ones that carry what the rest of the API needs.  Ids follow AWS's
formats (``port-``, ``prod-``, ``prodview-``, ``pa-``, ``cons-``, ``lpv2-``, ``pp-``, ``rec-`` followed by
13 lowercase base-32 characters).

Asynchronous work is modelled deterministically, without timers:

* a new provisioning artifact (CreateProduct's or CreateProvisioningArtifact's) is ``CREATING`` in the
  create response and for the next ``ARTIFACTS.pending_reads`` DescribeProvisioningArtifact reads of it
  (default 1) and ``ARTIFACTS.pending_seconds`` after its creation (default 0), then ``AVAILABLE`` — or
  ``FAILED`` when ``ARTIFACTS`` says so (``fail_next``, ``fail_names``; the control API sets them).  AWS
  documents the status values ``AVAILABLE | CREATING | FAILED`` of DescribeProvisioningArtifact
  (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_DescribeProvisioningArtifact.html); a
  listing (ListProvisioningArtifacts) carries no status;
* a record is ``CREATED`` in the ProvisionProduct / UpdateProvisionedProduct / TerminateProvisionedProduct
  response, ``IN_PROGRESS`` for the next ``provisioning.PENDING_READS`` reads of it (DescribeRecord, or reads of its
  provisioned product, which is ``UNDER_CHANGE`` meanwhile), then ``SUCCEEDED`` or ``FAILED``.  The
  CloudFormation work itself is done when the request arrives, so the stack exists at once.

Portfolio sharing (account-to-account and AWS Organizations) and what a recipient account sees are in
``sharing``.  Not modelled: principal-based access to an account's own portfolios (every product in at
least one of them is visible to every caller; imported portfolios do check principals), TagOptions,
budgets, AcceptLanguage.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from moto.core.base_backend import BackendDict
from moto.core.common_models import BaseModel
from moto.core.resource_tagging import TaggedResource
from moto.core.utils import utcnow
from moto.servicecatalog.models import ServiceCatalogBackend as MotoServiceCatalogBackend

from generator.errors import ConfigError

from . import templates
from .common import new_id, paginate
from .exceptions import (
    DuplicateResourceException,
    InvalidParametersException,
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
)

from .provisioning import ProvisionedProduct, ProvisioningMixin, Record
from .sharing import SharingMixin

ARTIFACTS_PER_PRODUCT = 100
_IAM_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12})?:(role|user|group)/(.+)$")


class Portfolio(BaseModel):
    def __init__(self, backend: "ServiceCatalogBackend", display_name: str, description: str | None,
                 provider_name: str, tags: list[dict[str, str]] | None):
        self.id = new_id("port")
        self.arn = f"arn:{backend.partition}:catalog:{backend.region_name}:{backend.account_id}:portfolio/{self.id}"
        self.display_name = display_name
        self.description = description
        self.provider_name = provider_name
        self.tags = list(tags or [])
        self.created_time = utcnow()
        self.launch_paths: dict[str, str] = {}  # product id -> launch path id, in association order
        self.principals: list[dict[str, str]] = []

    def to_dict(self) -> dict[str, Any]:
        return {"Id": self.id, "ARN": self.arn, "DisplayName": self.display_name,
                "Description": self.description, "CreatedTime": self.created_time,
                "ProviderName": self.provider_name}


@dataclass
class ArtifactSettings:
    """How new provisioning artifacts settle (see the module docstring); one per server process."""

    pending_reads: int = 1
    pending_seconds: float = 0.0
    fail_next: int = 0
    fail_names: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._initial = (self.pending_reads, self.pending_seconds)

    def configure(self, data: dict[str, Any], initial: bool = False) -> None:
        unknown = set(data) - {"pending_reads", "pending_seconds", "fail_next", "fail_names"}
        if unknown:
            raise ConfigError(f"artifacts: unknown key(s) {sorted(unknown)}; allowed: pending_reads, "
                              "pending_seconds, fail_next, fail_names")
        for key, kind in (("pending_reads", int), ("fail_next", int), ("pending_seconds", (int, float))):
            if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool) or data[key] < 0):
                raise ConfigError(f"artifacts {key}: {data[key]!r}; allowed: a number >= 0")
        names = data.get("fail_names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"artifacts fail_names: {names!r}; allowed: a list of version names such as [\"1.2.0\"]")
        with self._lock:
            for key, value in data.items():
                setattr(self, key, float(value) if key == "pending_seconds" else value)
            if initial:
                self._initial = (self.pending_reads, self.pending_seconds)

    def restore(self) -> None:
        with self._lock:
            self.pending_reads, self.pending_seconds = self._initial
            self.fail_next, self.fail_names = 0, []

    def draw_failure(self, name: str | None) -> bool:
        """Does the artifact being created now end FAILED?  Uses up one ``fail_next``."""
        with self._lock:
            if name is not None and name in self.fail_names:
                return True
            if self.fail_next:
                self.fail_next -= 1
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"pending_reads": self.pending_reads, "pending_seconds": self.pending_seconds,
                "fail_next": self.fail_next, "fail_names": list(self.fail_names)}


ARTIFACTS = ArtifactSettings()


class ProvisioningArtifact(BaseModel):
    def __init__(self, name: str | None, description: str | None, artifact_type: str, url: str,
                 body: str, doc: dict[str, Any]):
        self.reads = 0
        self.pending_reads = ARTIFACTS.pending_reads
        self.ready_at = time.monotonic() + ARTIFACTS.pending_seconds
        self.outcome = "FAILED" if ARTIFACTS.draw_failure(name) else "AVAILABLE"
        self.id = new_id("pa")
        self.name = name
        self.description = description
        self.type = artifact_type
        self.url = url
        self.body = body
        self.doc = doc
        self.created_time = utcnow()
        self.active = True
        self.guidance = "DEFAULT"

    def detail(self) -> dict[str, Any]:
        return {"Id": self.id, "Name": self.name, "Description": self.description, "Type": self.type,
                "CreatedTime": self.created_time, "Active": self.active, "Guidance": self.guidance}

    def summary(self) -> dict[str, Any]:
        return {"Id": self.id, "Name": self.name, "Description": self.description,
                "CreatedTime": self.created_time, "ProvisioningArtifactMetadata": self.info()}

    def info(self) -> dict[str, str]:
        return {"TemplateUrl": self.url}

    def status(self, observe: bool = False) -> str:
        """CREATING until enough reads and seconds have passed, then AVAILABLE or FAILED; ``observe``
        counts a DescribeProvisioningArtifact read."""
        settled = self.reads >= self.pending_reads and time.monotonic() >= self.ready_at
        if observe and not settled:
            self.reads += 1
        return self.outcome if settled else "CREATING"


class Product(BaseModel):
    def __init__(self, backend: "ServiceCatalogBackend", params: dict[str, Any]):
        self.id = new_id("prod")
        self.view_id = new_id("prodview")
        self.arn = f"arn:{backend.partition}:catalog:{backend.region_name}:{backend.account_id}:product/{self.id}"
        self.created_time = utcnow()
        self.product_type = params["ProductType"]
        self.tags: list[dict[str, str]] = list(params.get("Tags") or [])
        self.artifacts: dict[str, ProvisioningArtifact] = {}
        self.update(params)

    def update(self, params: dict[str, Any]) -> None:
        for field, attr in (("Name", "name"), ("Owner", "owner"), ("Description", "description"),
                            ("Distributor", "distributor"), ("SupportDescription", "support_description"),
                            ("SupportEmail", "support_email"), ("SupportUrl", "support_url")):
            if field in params or not hasattr(self, attr):
                setattr(self, attr, params.get(field))

    def summary(self, has_default_path: bool = False) -> dict[str, Any]:
        return {"Id": self.view_id, "ProductId": self.id, "Name": self.name, "Owner": self.owner,
                "ShortDescription": self.description, "Type": self.product_type,
                "Distributor": self.distributor, "HasDefaultPath": has_default_path,
                "SupportEmail": self.support_email, "SupportDescription": self.support_description,
                "SupportUrl": self.support_url}

    def detail(self) -> dict[str, Any]:
        return {"ProductViewSummary": self.summary(), "Status": "AVAILABLE", "ProductARN": self.arn,
                "CreatedTime": self.created_time}

    def artifact(self, artifact_id: str | None, name: str | None = None) -> ProvisioningArtifact:
        if artifact_id:
            if artifact_id in self.artifacts:
                return self.artifacts[artifact_id]
            raise ResourceNotFoundException(
                f"Provisioning artifact {artifact_id} not found for product {self.id}")
        named = [a for a in self.artifacts.values() if name is not None and a.name == name]
        if len(named) > 1:
            # names need not be unique; a lookup by a shared name fails (InvalidParametersException "Multiple
            # Provisioning Artifact with name ... found.", quoted in hashicorp/terraform-provider-aws#24362)
            raise InvalidParametersException(f"Multiple Provisioning Artifact with name {name} found.")
        if named:
            return named[0]
        raise ResourceNotFoundException(f"Provisioning artifact named '{name}' not found for product {self.id}")


class Constraint(BaseModel):
    def __init__(self, backend: "ServiceCatalogBackend", portfolio_id: str, product_id: str,
                 constraint_type: str, parameters: str, description: str | None, role_arn: str,
                 local_role_name: str | None = None):
        self.id = new_id("cons")
        self.owner = backend.account_id
        self.portfolio_id = portfolio_id
        self.product_id = product_id
        self.type = constraint_type
        self.parameters = parameters
        self.description = description or ""
        self.role_arn = role_arn  # as resolved in the constraint's account
        self.local_role_name = local_role_name  # resolved again in each launching account

    def detail(self) -> dict[str, Any]:
        return {"ConstraintId": self.id, "Type": self.type, "Description": self.description,
                "Owner": self.owner, "ProductId": self.product_id, "PortfolioId": self.portfolio_id}


class ServiceCatalogBackend(SharingMixin, ProvisioningMixin, MotoServiceCatalogBackend):
    """moto's Service Catalog backend plus the operations a catalog publisher and its users need."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.portfolios: dict[str, Portfolio] = {}  # type: ignore[assignment]
        self.products: dict[str, Product] = {}  # type: ignore[assignment]
        self.constraints: dict[str, Constraint] = {}
        self.provisioned: dict[str, ProvisionedProduct] = {}
        self.records: dict[str, Record] = {}
        self.tokens: dict[tuple[str, str], Any] = {}
        self._sharing_init()

    # -- lookups ---------------------------------------------------------------------------------
    def portfolio(self, portfolio_id: str | None) -> Portfolio:
        if portfolio_id not in self.portfolios:
            raise ResourceNotFoundException(f"Portfolio {portfolio_id} not found.")
        return self.portfolios[portfolio_id]

    def product(self, product_id: str | None, name: str | None = None) -> Product:
        if product_id:
            if product_id not in self.products:
                raise ResourceNotFoundException(f"Product {product_id} not found.")
            return self.products[product_id]
        if not name:
            raise InvalidParametersException("Either the product Id or the product Name must be specified.")
        for product in self.products.values():
            if product.name == name:
                return product
        raise ResourceNotFoundException(f"Product named '{name}' not found.")

    def launch_paths(self, product: Product) -> list[tuple[str, Portfolio]]:
        """The caller's launch paths of ``product``: this account's portfolios holding it, and the imported
        ones holding it whose principals the caller matches."""
        portfolios = [*self.portfolios.values(), *(p for p, _, _ in self.entitled_imports())]
        return [(p.launch_paths[product.id], p) for p in portfolios if product.id in p.launch_paths]

    def launch_path(self, product: Product, path_id: str | None, path_name: str | None) -> tuple[str, Portfolio]:
        paths = self.launch_paths(product)
        if not paths:
            raise InvalidParametersException(f"No launch paths found for resource: {product.id}")
        if path_id or path_name:
            for pid, portfolio in paths:
                if pid == path_id or (not path_id and portfolio.display_name == path_name):
                    return pid, portfolio
            raise ResourceNotFoundException(f"Launch path {path_id or path_name} not found for product {product.id}")
        if len(paths) > 1:
            raise InvalidParametersException(
                f"Product {product.id} has {len(paths)} launch paths; specify PathId (see ListLaunchPaths)")
        return paths[0]

    def launch_constraint(self, portfolio_id: str, product_id: str) -> Constraint | None:
        for constraint in self.constraints.values():
            if (constraint.portfolio_id, constraint.product_id, constraint.type) == (portfolio_id, product_id, "LAUNCH"):
                return constraint
        return None if portfolio_id in self.portfolios else self.imported_constraint(portfolio_id, product_id)

    def visible_products(self) -> list[Product]:
        found = {p.id: p for p in self.products.values()}
        for portfolio, sharer, _ in self.entitled_imports():
            found.update({pid: sharer.products[pid] for pid in portfolio.launch_paths if pid in sharer.products})
        return [p for p in found.values() if self.launch_paths(p)]

    def lookup_product(self, product_id: str | None, name: str | None = None) -> Product:
        """A product of this account or of a portfolio imported into it."""
        if product_id in self.products or (not product_id and any(p.name == name for p in self.products.values())):
            return self.product(product_id, name)
        found = self.imported_product(product_id, name) if (product_id or name) else None
        if found is None:
            return self.product(product_id, name)  # raises as for this account's own
        return found

    def _remember(self, kind: str, token: str | None, value: Any) -> Any:
        if token:
            self.tokens[(kind, token)] = value
        return value

    # -- portfolios ------------------------------------------------------------------------------
    def create_portfolio(self, params: dict[str, Any]) -> Portfolio:  # type: ignore[override]
        token = params.get("IdempotencyToken")
        if ("portfolio", token) in self.tokens and self.tokens[("portfolio", token)].id in self.portfolios:
            return self.tokens[("portfolio", token)]
        portfolio = Portfolio(self, params["DisplayName"], params.get("Description"), params["ProviderName"],
                              params.get("Tags"))
        self.portfolios[portfolio.id] = portfolio
        self.portfolio_access[portfolio.id] = []
        return self._remember("portfolio", token, portfolio)

    def delete_portfolio(self, accept_language: str | None, id: str) -> None:  # noqa: A002
        portfolio = self.portfolio(id)
        if any(s.portfolio_id == id for s in self.shares):
            # *DeletePortfolio*: "You cannot delete a portfolio if it was shared with you or if it has
            # associated products, users, constraints, or shared accounts."
            raise ResourceInUseException(f"Portfolio {id} is shared; delete its portfolio shares first")
        if portfolio.launch_paths:
            raise ResourceInUseException(
                f"Portfolio {id} has {len(portfolio.launch_paths)} product(s) associated; disassociate them first")
        if portfolio.principals:
            raise ResourceInUseException(f"Portfolio {id} has principals associated; disassociate them first")
        super().delete_portfolio(accept_language, id)

    def update_portfolio(self, params: dict[str, Any]) -> Portfolio:
        """UpdatePortfolio: a new DisplayName, Description, ProviderName and tags for one of this account's
        portfolios (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdatePortfolio.html, which
        adds "You cannot update a product that was shared with you": an imported portfolio is not found)."""
        portfolio = self.portfolio(params.get("Id"))
        for field, attr in (("DisplayName", "display_name"), ("Description", "description"),
                            ("ProviderName", "provider_name")):
            if params.get(field) is not None:
                setattr(portfolio, attr, params[field])
        portfolio.tags = _retagged(portfolio.tags, params)
        return portfolio

    def list_portfolios_page(self, page_token: str | None, page_size: int | None):
        return paginate(list(self.portfolios.values()), page_token, page_size, maximum=100)

    # -- products --------------------------------------------------------------------------------
    def create_product(self, params: dict[str, Any]) -> tuple[Product, ProvisioningArtifact]:  # type: ignore[override]
        token = params.get("IdempotencyToken")
        if ("product", token) in self.tokens:
            product = self.tokens[("product", token)]
            if product.id in self.products:
                return product, next(iter(product.artifacts.values()))
        if params.get("ProductType") != "CLOUD_FORMATION_TEMPLATE":
            raise InvalidParametersException(
                f"ProductType {params.get('ProductType')!r} is not supported by the local endpoint; "
                "allowed: CLOUD_FORMATION_TEMPLATE")
        if not params.get("ProvisioningArtifactParameters"):
            raise InvalidParametersException("ProvisioningArtifactParameters is required for a CLOUD_FORMATION_TEMPLATE product")
        artifact = self._new_artifact(params["ProvisioningArtifactParameters"])
        product = Product(self, params)
        product.artifacts[artifact.id] = artifact
        self.products[product.id] = product
        return self._remember("product", token, product), artifact

    def update_product(self, params: dict[str, Any]) -> Product:
        product = self.product(params.get("Id"))
        product.update(params)
        product.tags = _retagged(product.tags, params)
        return product

    def delete_product(self, accept_language: str | None, id: str) -> None:  # noqa: A002
        product = self.product(id)
        if self.launch_paths(product):
            raise ResourceInUseException(
                f"Product {id} is associated with portfolio(s); disassociate it first")
        del self.products[id]

    def search_products_as_admin(self, params: dict[str, Any]):
        products = list(self.products.values())
        if params.get("PortfolioId"):
            portfolio = self.portfolio(params["PortfolioId"])
            products = [p for p in products if p.id in portfolio.launch_paths]
        products = _filter_products(products, params.get("Filters") or {})
        products = _sort_products(products, params.get("SortBy"), params.get("SortOrder"))
        return paginate(products, params.get("PageToken"), params.get("PageSize"))

    def search_products(self, params: dict[str, Any]):
        products = _filter_products(self.visible_products(), params.get("Filters") or {})
        products = _sort_products(products, params.get("SortBy"), params.get("SortOrder"))
        return paginate(products, params.get("PageToken"), params.get("PageSize"), maximum=100), products

    def visible_product(self, product_id: str | None, name: str | None) -> Product:
        product = self.lookup_product(product_id, name)
        if not self.launch_paths(product):
            raise ResourceNotFoundException(f"Product {product_id or name} not found.")
        return product

    # -- portfolio <-> product -------------------------------------------------------------------
    def associate_product_with_portfolio(self, product_id: str, portfolio_id: str) -> None:
        product, portfolio = self.product(product_id), self.portfolio(portfolio_id)
        portfolio.launch_paths.setdefault(product.id, new_id("lpv2"))

    def disassociate_product_from_portfolio(self, product_id: str, portfolio_id: str) -> None:
        product, portfolio = self.product(product_id), self.portfolio(portfolio_id)
        if product.id not in portfolio.launch_paths:
            raise ResourceNotFoundException(f"Product {product_id} is not associated with portfolio {portfolio_id}")
        if any(c.product_id == product.id and c.portfolio_id == portfolio.id for c in self.constraints.values()):
            raise ResourceInUseException(
                f"Product {product_id} has constraints in portfolio {portfolio_id}; delete them first")
        del portfolio.launch_paths[product.id]

    def list_portfolios_for_product(self, product_id: str, page_token: str | None, page_size: int | None):
        product = self.product(product_id)
        portfolios = [p for _, p in self.launch_paths(product)]
        return paginate(portfolios, page_token, page_size, maximum=100)

    # -- provisioning artifacts ------------------------------------------------------------------
    def _new_artifact(self, props: dict[str, Any]) -> ProvisioningArtifact:
        artifact_type = props.get("Type") or "CLOUD_FORMATION_TEMPLATE"
        if artifact_type != "CLOUD_FORMATION_TEMPLATE":
            raise InvalidParametersException(
                f"Provisioning artifact Type {artifact_type!r} is not supported by the local endpoint; "
                "allowed: CLOUD_FORMATION_TEMPLATE")
        info = props.get("Info") or {}
        if "LoadTemplateFromURL" in info and "ImportFromPhysicalId" in info:
            # ProvisioningArtifactProperties.Info: "Specify the template source with one of the following
            # options, but not both. Keys accepted: [ LoadTemplateFromURL, ImportFromPhysicalId ]"
            # (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ProvisioningArtifactProperties.html)
            raise InvalidParametersException(
                "Info must specify the template source with one of LoadTemplateFromURL or ImportFromPhysicalId, "
                "but not both")
        url = info.get("LoadTemplateFromURL")
        if not url:
            raise InvalidParametersException(
                "Info must contain LoadTemplateFromURL (ImportFromPhysicalId is not supported locally)")
        body = templates.fetch(url, self.account_id, self.partition)
        try:
            doc = templates.parse(body)
        except InvalidParametersException:
            if not props.get("DisableTemplateValidation"):
                raise
            doc = {}
        return ProvisioningArtifact(props.get("Name"), props.get("Description"), artifact_type, url, body, doc)

    def create_provisioning_artifact(self, product_id: str, props: dict[str, Any], token: str
                                     ) -> ProvisioningArtifact:
        product = self.product(product_id)
        remembered = self.tokens.get(("artifact", product.id, token))  # type: ignore[call-overload]
        if remembered is not None and remembered.id in product.artifacts:
            return remembered
        if len(product.artifacts) >= ARTIFACTS_PER_PRODUCT:
            raise LimitExceededException(
                f"Product {product.id} already has {ARTIFACTS_PER_PRODUCT} provisioning artifacts, the maximum; "
                "delete an old version first")
        # Names need not be unique: AWS accepts a second artifact with a name already used (research brief
        # 12-16-21-endpoint, B8); keeping version names unique is the publisher's job.
        artifact = self._new_artifact(props)
        product.artifacts[artifact.id] = artifact
        self.tokens[("artifact", product.id, token)] = artifact  # type: ignore[index]
        return artifact

    def find_artifact(self, params: dict[str, Any], visible: bool = False) -> tuple[Product, ProvisioningArtifact]:
        """The product and artifact named by Product{Id,Name} and ProvisioningArtifact{Id,Name}."""
        lookup = self.visible_product if visible else self.product
        product = lookup(params.get("ProductId"), params.get("ProductName"))
        if not params.get("ProvisioningArtifactId") and not params.get("ProvisioningArtifactName"):
            raise InvalidParametersException(
                "Either ProvisioningArtifactId or ProvisioningArtifactName must be specified.")
        return product, product.artifact(params.get("ProvisioningArtifactId"),
                                         params.get("ProvisioningArtifactName"))

    def update_provisioning_artifact(self, params: dict[str, Any]) -> ProvisioningArtifact:
        product = self.product(params.get("ProductId"))
        artifact = product.artifact(params.get("ProvisioningArtifactId"))
        guidance = params.get("Guidance")
        if guidance is not None and guidance not in ("DEFAULT", "DEPRECATED"):
            raise InvalidParametersException(f"Guidance {guidance!r} is not valid; allowed: DEFAULT, DEPRECATED")
        for field, attr in (("Name", "name"), ("Description", "description"), ("Active", "active"),
                            ("Guidance", "guidance")):
            if params.get(field) is not None:
                setattr(artifact, attr, params[field])
        return artifact

    def delete_provisioning_artifact(self, product_id: str, artifact_id: str) -> None:
        product = self.product(product_id)
        product.artifact(artifact_id)
        if len(product.artifacts) == 1:
            raise InvalidParametersException(
                f"Cannot delete provisioning artifact {artifact_id}: it is the last one of product "
                f"{product_id}, and a product must have at least one")
        del product.artifacts[artifact_id]

    # -- principals ------------------------------------------------------------------------------
    def associate_principal_with_portfolio(self, portfolio_id: str, arn: str, principal_type: str) -> None:
        portfolio = self.any_portfolio(portfolio_id)
        match = _IAM_ARN.match(arn or "")
        if principal_type not in ("IAM", "IAM_PATTERN"):
            raise InvalidParametersException(f"PrincipalType {principal_type!r} is not valid; allowed: IAM, IAM_PATTERN")
        if not match:
            raise InvalidParametersException(
                f"PrincipalARN {arn!r} is not an IAM role, user or group ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        if principal_type == "IAM" and (not match.group(2) or any(c in arn for c in "*?")):
            raise InvalidParametersException(
                f"PrincipalARN {arn!r}: an IAM principal needs an account id and no wildcards; "
                "use PrincipalType IAM_PATTERN for a pattern")
        if principal_type == "IAM_PATTERN" and match.group(2):
            raise InvalidParametersException(
                f"PrincipalARN {arn!r}: an IAM_PATTERN principal must leave the account id empty "
                "(arn:aws:iam:::role/NAME-PATTERN)")
        entry = {"PrincipalARN": arn, "PrincipalType": principal_type}
        principals = self._own_principals(portfolio)
        patterns = sum(p["PrincipalType"] == "IAM_PATTERN" for p in principals)
        if principal_type == "IAM_PATTERN" and entry not in principals and patterns >= 10:
            # "You can associate a maximum of 10 Principals with a portfolio using PrincipalType as IAM_PATTERN."
            # (*AssociatePrincipalWithPortfolio*)
            raise LimitExceededException(f"Portfolio {portfolio.id} already has 10 IAM_PATTERN principals, the maximum")
        if entry not in principals:
            principals.append(entry)

    def _own_principals(self, portfolio: Portfolio) -> list[dict[str, str]]:
        """The principal associations this account keeps for a portfolio (its own or an imported one)."""
        if portfolio.id in self.portfolios:
            return portfolio.principals
        return self.imported_principals.setdefault(portfolio.id, [])

    def disassociate_principal_from_portfolio(self, portfolio_id: str, arn: str) -> None:
        principals = self._own_principals(self.any_portfolio(portfolio_id))
        kept = [p for p in principals if p["PrincipalARN"] != arn]
        if len(kept) == len(principals):
            raise ResourceNotFoundException(f"Principal {arn} is not associated with portfolio {portfolio_id}")
        principals[:] = kept

    # -- constraints -----------------------------------------------------------------------------
    def create_constraint(self, params: dict[str, Any]) -> Constraint:
        token = params.get("IdempotencyToken")
        remembered = self.tokens.get(("constraint", token))
        if remembered is not None and remembered.id in self.constraints:
            return remembered
        portfolio, product = self.portfolio(params.get("PortfolioId")), self.product(params.get("ProductId"))
        if params.get("Type") != "LAUNCH":
            raise InvalidParametersException(
                f"Constraint type {params.get('Type')!r} is not supported by the local endpoint; allowed: LAUNCH")
        if product.id not in portfolio.launch_paths:
            raise InvalidParametersException(
                f"Product {product.id} is not associated with portfolio {portfolio.id}; associate it first")
        role_arn, local_role_name = self._launch_role(params.get("Parameters"))
        if self.launch_constraint(portfolio.id, product.id):
            raise DuplicateResourceException(
                f"A LAUNCH constraint already exists for product {product.id} in portfolio {portfolio.id}")
        constraint = Constraint(self, portfolio.id, product.id, "LAUNCH", params["Parameters"],
                                params.get("Description"), role_arn, local_role_name)
        self.constraints[constraint.id] = constraint
        return self._remember("constraint", token, constraint)

    def _launch_role(self, raw: str | None) -> tuple[str, str | None]:
        """The launch role's ARN in this account and the LocalRoleName (None for a RoleArn constraint)."""
        try:
            parameters = json.loads(raw or "")
        except ValueError:
            parameters = None
        if not isinstance(parameters, dict):
            raise InvalidParametersException(
                f"LAUNCH constraint Parameters must be a JSON object such as {{\"RoleArn\": \"arn:aws:iam::123456789012:role/Launch\"}}; got {raw!r}")
        role_arn, local = parameters.get("RoleArn"), parameters.get("LocalRoleName")
        if bool(role_arn) == bool(local):
            raise InvalidParametersException(
                "A LAUNCH constraint needs exactly one of RoleArn or LocalRoleName, not both and not neither")
        from moto.iam.models import iam_backends
        from moto.iam.exceptions import NotFoundException

        iam = iam_backends[self.account_id][self.partition]
        try:
            role = iam.get_role_by_arn(role_arn) if role_arn else iam.get_role(local)
        except NotFoundException:
            raise InvalidParametersException(
                f"Launch role {role_arn or local} does not exist in the account's IAM; create it first") from None
        return role.arn, local or None

    def constraint(self, constraint_id: str) -> Constraint:
        if constraint_id not in self.constraints:
            raise ResourceNotFoundException(f"Constraint {constraint_id} not found.")
        return self.constraints[constraint_id]

    def update_constraint(self, params: dict[str, Any]) -> Constraint:
        """UpdateConstraint: a new Description and/or Parameters for a constraint; Parameters follow the
        constraint type's syntax, for LAUNCH "either the RoleArn or the LocalRoleName but can't use both"
        (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdateConstraint.html).  The type, product
        and portfolio stay; an imported portfolio's launches read the updated constraint."""
        constraint = self.constraint(params.get("Id"))
        if params.get("Parameters") is not None:
            constraint.role_arn, constraint.local_role_name = self._launch_role(params["Parameters"])
            constraint.parameters = params["Parameters"]
        if params.get("Description") is not None:
            constraint.description = params["Description"]
        return constraint

    def delete_constraint(self, constraint_id: str) -> None:
        self.constraint(constraint_id)
        del self.constraints[constraint_id]

    def list_constraints_for_portfolio(self, params: dict[str, Any]):
        portfolio = self.portfolio(params.get("PortfolioId"))
        items = [c for c in self.constraints.values() if c.portfolio_id == portfolio.id
                 and params.get("ProductId") in (None, c.product_id)]
        return paginate(items, params.get("PageToken"), params.get("PageSize"))

    # -- Resource Groups Tagging API -------------------------------------------------------------
    def iter_tagged_resources(self) -> Iterator[TaggedResource]:
        for resource, kind in [*((p, "portfolio") for p in self.portfolios.values()),
                               *((p, "product") for p in self.products.values())]:
            yield TaggedResource(arn=resource.arn, tags={t["Key"]: t["Value"] for t in resource.tags},
                                 resource_type=f"servicecatalog:{kind}")




def _retagged(tags: list[dict[str, str]], params: dict[str, Any]) -> list[dict[str, str]]:
    """``tags`` less the keys in RemoveTags, with AddTags' added or replacing (UpdateProduct, UpdatePortfolio)."""
    remove = set(params.get("RemoveTags") or [])
    add = {t["Key"]: t["Value"] for t in params.get("AddTags") or []}
    kept = [t for t in tags if t["Key"] not in remove and t["Key"] not in add]
    return kept + [{"Key": k, "Value": v} for k, v in add.items()]


def _filter_products(products: list[Product], filters: dict[str, list[str]]) -> list[Product]:
    for key, values in filters.items():
        if key == "FullTextSearch":
            terms = [v.lower() for v in values]
            products = [p for p in products if any(
                t in " ".join(filter(None, (p.name, p.description, p.owner, p.distributor))).lower() for t in terms)]
        elif key == "Owner":
            products = [p for p in products if p.owner in values]
        elif key == "ProductType":
            products = [p for p in products if p.product_type in values]
        elif key == "SourceProductId":
            products = [p for p in products if p.id in values]
        else:
            raise InvalidParametersException(
                f"Filter {key!r} is not valid; allowed: FullTextSearch, Owner, ProductType, SourceProductId")
    return products


def _sort_products(products: list[Product], sort_by: str | None, order: str | None) -> list[Product]:
    key = {"Title": lambda p: (p.name or "").lower(), "VersionCount": lambda p: len(p.artifacts)}.get(
        sort_by or "", lambda p: p.created_time)
    return sorted(products, key=key, reverse=order == "DESCENDING")


servicecatalog_backends = BackendDict(ServiceCatalogBackend, "servicecatalog")
