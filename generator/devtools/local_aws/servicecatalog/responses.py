"""Service Catalog request handlers: parse the JSON 1.1 body, call the backend, shape the result.

Results are returned as moto ``ActionResult``s, so moto serialises them against botocore's output
shapes (timestamps, dropped ``None`` members) exactly as it does for its own services.  Each request's
IAM identity is made known to the backend (``sharing.CALLER``) for the principal checks of imported
portfolios.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.servicecatalog.responses import ServiceCatalogResponse as MotoServiceCatalogResponse

from . import sharing
from .common import paginate
from .models import Constraint, ServiceCatalogBackend, servicecatalog_backends

_LOCK = threading.RLock()  # the backend's state is shared by the server's request threads


class ServiceCatalogResponse(MotoServiceCatalogResponse):
    @property
    def servicecatalog_backend(self) -> ServiceCatalogBackend:  # type: ignore[override]
        return servicecatalog_backends[self.current_account][self.region]

    def call_action(self):  # type: ignore[no-untyped-def]
        with _LOCK:
            token = sharing.CALLER.set(sharing.caller_arns(self.current_account, self.get_access_key()))
            try:
                return super().call_action()
            finally:
                sharing.CALLER.reset(token)

    @property
    def request_params(self) -> dict[str, Any]:
        """The JSON 1.1 request body."""
        return json.loads(self.body or "{}")

    # -- portfolios ------------------------------------------------------------------------------
    def create_portfolio(self) -> ActionResult:
        portfolio = self.servicecatalog_backend.create_portfolio(self.request_params)
        return ActionResult({"PortfolioDetail": portfolio.to_dict(), "Tags": portfolio.tags})

    def update_portfolio(self) -> ActionResult:
        portfolio = self.servicecatalog_backend.update_portfolio(self.request_params)
        return ActionResult({"PortfolioDetail": portfolio.to_dict(), "Tags": portfolio.tags})

    def describe_portfolio(self) -> ActionResult:
        portfolio = self.servicecatalog_backend.any_portfolio(self.request_params.get("Id"))
        return ActionResult({"PortfolioDetail": portfolio.to_dict(), "Tags": portfolio.tags,
                             "TagOptions": [], "Budgets": []})

    def list_portfolios(self) -> ActionResult:
        p = self.request_params
        page, token = self.servicecatalog_backend.list_portfolios_page(p.get("PageToken"), p.get("PageSize"))
        return ActionResult({"PortfolioDetails": [x.to_dict() for x in page], "NextPageToken": token})

    def list_portfolios_for_product(self) -> ActionResult:
        p = self.request_params
        page, token = self.servicecatalog_backend.list_portfolios_for_product(
            p.get("ProductId"), p.get("PageToken"), p.get("PageSize"))
        return ActionResult({"PortfolioDetails": [x.to_dict() for x in page], "NextPageToken": token})

    def associate_product_with_portfolio(self) -> ActionResult:
        self.servicecatalog_backend.associate_product_with_portfolio(
            self.request_params.get("ProductId"), self.request_params.get("PortfolioId"))
        return EmptyResult()

    def disassociate_product_from_portfolio(self) -> ActionResult:
        self.servicecatalog_backend.disassociate_product_from_portfolio(
            self.request_params.get("ProductId"), self.request_params.get("PortfolioId"))
        return EmptyResult()

    def associate_principal_with_portfolio(self) -> ActionResult:
        p = self.request_params
        self.servicecatalog_backend.associate_principal_with_portfolio(
            p.get("PortfolioId"), p.get("PrincipalARN"), p.get("PrincipalType"))
        return EmptyResult()

    def disassociate_principal_from_portfolio(self) -> ActionResult:
        p = self.request_params
        self.servicecatalog_backend.disassociate_principal_from_portfolio(p.get("PortfolioId"), p.get("PrincipalARN"))
        return EmptyResult()

    def list_principals_for_portfolio(self) -> ActionResult:
        p = self.request_params
        principals = self.servicecatalog_backend.portfolio_principals(p.get("PortfolioId"))
        page, token = paginate(principals, p.get("PageToken"), p.get("PageSize"))
        return ActionResult({"Principals": page, "NextPageToken": token})

    # -- products --------------------------------------------------------------------------------
    def create_product(self) -> ActionResult:
        product, artifact = self.servicecatalog_backend.create_product(self.request_params)
        return ActionResult({"ProductViewDetail": product.detail(), "ProvisioningArtifactDetail": artifact.detail(),
                             "Tags": product.tags})

    def update_product(self) -> ActionResult:
        product = self.servicecatalog_backend.update_product(self.request_params)
        return ActionResult({"ProductViewDetail": product.detail(), "Tags": product.tags})

    def describe_product_as_admin(self) -> ActionResult:
        product = self.servicecatalog_backend.product(self.request_params.get("Id"), self.request_params.get("Name"))
        return ActionResult({"ProductViewDetail": product.detail(),
                             "ProvisioningArtifactSummaries": [a.summary() for a in product.artifacts.values()],
                             "Tags": product.tags, "TagOptions": [], "Budgets": []})

    def describe_product(self) -> ActionResult:
        backend = self.servicecatalog_backend
        product = backend.visible_product(self.request_params.get("Id"), self.request_params.get("Name"))
        paths = backend.launch_paths(product)
        artifacts = [{"Id": a.id, "Name": a.name, "Description": a.description, "CreatedTime": a.created_time,
                      "Guidance": a.guidance} for a in product.artifacts.values() if a.active]
        return ActionResult({"ProductViewSummary": product.summary(len(paths) == 1),
                             "ProvisioningArtifacts": artifacts, "Budgets": [],
                             "LaunchPaths": [{"Id": pid, "Name": p.display_name} for pid, p in paths]})

    def search_products_as_admin(self) -> ActionResult:
        page, token = self.servicecatalog_backend.search_products_as_admin(self.request_params)
        return ActionResult({"ProductViewDetails": [p.detail() for p in page], "NextPageToken": token})

    def search_products(self) -> ActionResult:
        backend = self.servicecatalog_backend
        (page, token), matched = backend.search_products(self.request_params)
        aggregations: dict[str, dict[str, int]] = {"Owner": {}, "ProductType": {}}
        for product in matched:
            for field, value in (("Owner", product.owner), ("ProductType", product.product_type)):
                aggregations[field][value] = aggregations[field].get(value, 0) + 1
        return ActionResult({
            "ProductViewSummaries": [p.summary(len(backend.launch_paths(p)) == 1) for p in page],
            "ProductViewAggregations": {k: [{"Value": v, "ApproximateCount": n} for v, n in counts.items()]
                                        for k, counts in aggregations.items()},
            "NextPageToken": token})

    # -- provisioning artifacts ------------------------------------------------------------------
    def create_provisioning_artifact(self) -> ActionResult:
        p = self.request_params
        artifact = self.servicecatalog_backend.create_provisioning_artifact(
            p.get("ProductId"), p.get("Parameters") or {}, p.get("IdempotencyToken"))
        return ActionResult({"ProvisioningArtifactDetail": artifact.detail(), "Info": artifact.info(),
                             "Status": artifact.status()})

    def describe_provisioning_artifact(self) -> ActionResult:
        _, artifact = self.servicecatalog_backend.find_artifact(self.request_params)
        result: dict[str, Any] = {"ProvisioningArtifactDetail": artifact.detail(), "Info": artifact.info(),
                                  "Status": artifact.status(observe=True)}
        if self.request_params.get("IncludeProvisioningArtifactParameters"):
            from . import templates

            result["ProvisioningArtifactParameters"] = templates.parameters(artifact.doc)
        return ActionResult(result)

    def list_provisioning_artifacts(self) -> ActionResult:
        product = self.servicecatalog_backend.product(self.request_params.get("ProductId"))
        return ActionResult({"ProvisioningArtifactDetails": [a.detail() for a in product.artifacts.values()]})

    def update_provisioning_artifact(self) -> ActionResult:
        artifact = self.servicecatalog_backend.update_provisioning_artifact(self.request_params)
        return ActionResult({"ProvisioningArtifactDetail": artifact.detail(), "Info": artifact.info(),
                             "Status": artifact.status()})

    def delete_provisioning_artifact(self) -> ActionResult:
        self.servicecatalog_backend.delete_provisioning_artifact(
            self.request_params.get("ProductId"), self.request_params.get("ProvisioningArtifactId"))
        return EmptyResult()

    # -- constraints -----------------------------------------------------------------------------
    def create_constraint(self) -> ActionResult:
        return _constraint_result(self.servicecatalog_backend.create_constraint(self.request_params))

    def describe_constraint(self) -> ActionResult:
        return _constraint_result(self.servicecatalog_backend.constraint(self.request_params.get("Id")))

    def update_constraint(self) -> ActionResult:
        return _constraint_result(self.servicecatalog_backend.update_constraint(self.request_params))

    def delete_constraint(self) -> ActionResult:
        self.servicecatalog_backend.delete_constraint(self.request_params.get("Id"))
        return EmptyResult()

    def list_constraints_for_portfolio(self) -> ActionResult:
        page, token = self.servicecatalog_backend.list_constraints_for_portfolio(self.request_params)
        return ActionResult({"ConstraintDetails": [c.detail() for c in page], "NextPageToken": token})

    # -- the end user's side ---------------------------------------------------------------------
    def list_launch_paths(self) -> ActionResult:
        p = self.request_params
        summaries = self.servicecatalog_backend.launch_path_summaries(p.get("ProductId"))
        page, token = paginate(summaries, p.get("PageToken"), p.get("PageSize"))
        return ActionResult({"LaunchPathSummaries": page, "NextPageToken": token})

    def describe_provisioning_parameters(self) -> ActionResult:
        return ActionResult(self.servicecatalog_backend.provisioning_parameters(self.request_params))

    def provision_product(self) -> ActionResult:
        record = self.servicecatalog_backend.provision_product(self.request_params)
        return ActionResult({"RecordDetail": record.detail("CREATED")})

    def update_provisioned_product(self) -> ActionResult:
        record = self.servicecatalog_backend.update_provisioned_product(self.request_params)
        return ActionResult({"RecordDetail": record.detail("CREATED")})

    def terminate_provisioned_product(self) -> ActionResult:
        record = self.servicecatalog_backend.terminate_provisioned_product(self.request_params)
        return ActionResult({"RecordDetail": record.detail("CREATED")})

    def describe_record(self) -> ActionResult:
        p = self.request_params
        record = self.servicecatalog_backend.describe_record(p.get("Id"))
        outputs = record.outputs if record.settled and record.outcome == "SUCCEEDED" else []
        page, token = paginate(outputs, p.get("PageToken"), p.get("PageSize"))
        return ActionResult({"RecordDetail": record.detail(), "RecordOutputs": page, "NextPageToken": token})

    def list_record_history(self) -> ActionResult:
        page, token = self.servicecatalog_backend.list_record_history(self.request_params)
        return ActionResult({"RecordDetails": [r.detail() for r in page], "NextPageToken": token})

    def describe_provisioned_product(self) -> ActionResult:
        pp = self.servicecatalog_backend.provisioned_product(self.request_params.get("Id"), self.request_params.get("Name"))
        return ActionResult({"ProvisionedProductDetail": pp.detail(), "CloudWatchDashboards": []})

    def search_provisioned_products(self) -> ActionResult:
        backend = self.servicecatalog_backend
        page, token, total = backend.search_provisioned_products(self.request_params)
        return ActionResult({"ProvisionedProducts": [pp.attributes(backend.product_of(pp)) for pp in page],
                             "TotalResultsCount": total, "NextPageToken": token})

    def scan_provisioned_products(self) -> ActionResult:
        p = self.request_params
        page, token, _ = self.servicecatalog_backend.search_provisioned_products(
            {"PageToken": p.get("PageToken"), "PageSize": p.get("PageSize"), "AccessLevelFilter": p.get("AccessLevelFilter")},
            default_level="User")
        return ActionResult({"ProvisionedProducts": [pp.detail() for pp in page], "NextPageToken": token})

    # -- portfolio sharing (sharing.py) ----------------------------------------------------------
    def enable_aws_organizations_access(self) -> ActionResult:
        self.servicecatalog_backend.enable_organizations_access()
        return EmptyResult()

    def disable_aws_organizations_access(self) -> ActionResult:
        self.servicecatalog_backend.disable_organizations_access()
        return EmptyResult()

    def get_aws_organizations_access_status(self) -> ActionResult:
        return ActionResult({"AccessStatus": self.servicecatalog_backend.organizations_access_status()})

    def create_portfolio_share(self) -> ActionResult:
        return ActionResult({"PortfolioShareToken": self.servicecatalog_backend.create_portfolio_share(
            self.request_params)})

    def update_portfolio_share(self) -> ActionResult:
        backend = self.servicecatalog_backend
        token = backend.update_portfolio_share(self.request_params)
        return ActionResult({"PortfolioShareToken": token, "Status": backend.share_operations[token].describe()["Status"]})

    def delete_portfolio_share(self) -> ActionResult:
        return ActionResult({"PortfolioShareToken": self.servicecatalog_backend.delete_portfolio_share(
            self.request_params)})

    def describe_portfolio_share_status(self) -> ActionResult:
        return ActionResult(self.servicecatalog_backend.share_status(self.request_params.get("PortfolioShareToken")))

    def describe_portfolio_shares(self) -> ActionResult:
        page, token = self.servicecatalog_backend.describe_portfolio_shares(self.request_params)
        return ActionResult({"PortfolioShareDetails": [s.detail() for s in page], "NextPageToken": token})

    def list_organization_portfolio_access(self) -> ActionResult:
        page, token = self.servicecatalog_backend.organization_portfolio_access(self.request_params)
        return ActionResult({"OrganizationNodes": page, "NextPageToken": token})

    def list_portfolio_access(self) -> ActionResult:
        page, token = self.servicecatalog_backend.accounts_with_access(self.request_params)
        return ActionResult({"AccountIds": page, "NextPageToken": token})

    def accept_portfolio_share(self) -> ActionResult:
        self.servicecatalog_backend.accept_portfolio_share(self.request_params.get("PortfolioId"),
                                                           self.request_params.get("PortfolioShareType"))
        return EmptyResult()

    def reject_portfolio_share(self) -> ActionResult:
        self.servicecatalog_backend.reject_portfolio_share(self.request_params.get("PortfolioId"))
        return EmptyResult()

    def list_accepted_portfolio_shares(self) -> ActionResult:
        page, token = self.servicecatalog_backend.list_accepted_portfolio_shares(self.request_params)
        return ActionResult({"PortfolioDetails": [p.to_dict() for p in page], "NextPageToken": token})


def _constraint_result(constraint: Constraint) -> ActionResult:
    """Create-, Describe- and UpdateConstraint's answer: the detail, the parameters and the status."""
    return ActionResult({"ConstraintDetail": constraint.detail(), "ConstraintParameters": constraint.parameters,
                         "Status": "AVAILABLE"})
