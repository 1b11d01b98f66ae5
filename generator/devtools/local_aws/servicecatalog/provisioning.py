"""The end user's side of Service Catalog: launch paths, provisioning, records, provisioned products.

A mixin of ``ServiceCatalogBackend`` (see models.py for how asynchronous work is modelled).

A product with a LAUNCH constraint is provisioned, updated and terminated as the constraint's role:
Service Catalog assumes it (its trust policy is checked), then every request it and CloudFormation make
is authorized against the role's policies (``generator.devtools.local_aws.iam``); a refusal fails the
record with AWS's AccessDenied message.  Without a launch constraint Service Catalog would act with the
end user's own permissions, which the local endpoint does not evaluate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from moto.core.common_models import BaseModel
from moto.core.utils import utcnow

from generator.errors import AccessDenied, StackFailure

from ..iam import enforcement, requests as iam_requests
from . import stacks, templates
from .common import new_id, paginate
from .exceptions import DuplicateResourceException, InvalidParametersException, ResourceNotFoundException
from .sharing import CALLER

if TYPE_CHECKING:
    from .models import Portfolio, Product, ProvisioningArtifact, ServiceCatalogBackend

PENDING_READS = 1  # reads that still see IN_PROGRESS; the server sets it from --pending-reads
_PP_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$")



class Record(BaseModel):
    def __init__(self, pp: "ProvisionedProduct", record_type: str, tags: list[dict[str, str]]):
        self.id = new_id("rec")
        self.pp = pp
        self.record_type = record_type
        self.product_id = pp.product_id
        self.artifact_id = pp.artifact_id
        self.path_id = pp.path_id
        self.launch_role_arn = pp.launch_role_arn
        self.tags = list(tags)
        self.created_time = self.updated_time = utcnow()
        self.reads = 0
        self.outcome = "SUCCEEDED"
        self.errors: list[dict[str, str]] = []
        self.outputs: list[dict[str, str]] = []

    def fail(self, code: str, description: str) -> None:
        self.outcome = "FAILED"
        self.errors = [{"Code": code, "Description": description}]

    @property
    def settled(self) -> bool:
        return self.reads > PENDING_READS

    def observe(self) -> None:
        """A client looked at this record (or its provisioned product): move it along."""
        if not self.settled:
            self.reads += 1
            if self.settled:
                self.updated_time = utcnow()

    def status(self) -> str:
        return self.outcome if self.settled else "IN_PROGRESS"

    def detail(self, status: str | None = None) -> dict[str, Any]:
        return {"RecordId": self.id, "ProvisionedProductName": self.pp.name, "Status": status or self.status(),
                "CreatedTime": self.created_time, "UpdatedTime": self.updated_time,
                "ProvisionedProductType": "CFN_STACK", "RecordType": self.record_type,
                "ProvisionedProductId": self.pp.id, "ProductId": self.product_id,
                "ProvisioningArtifactId": self.artifact_id, "PathId": self.path_id,
                "RecordErrors": self.errors if self.settled else [],
                "RecordTags": self.tags, "LaunchRoleArn": self.launch_role_arn}


class ProvisionedProduct(BaseModel):
    def __init__(self, backend: "ServiceCatalogBackend", name: str, product: Product,
                 artifact: ProvisioningArtifact, path_id: str, launch_role_arn: str | None,
                 token: str, tags: list[dict[str, str]]):
        self.id = new_id("pp")
        self.name = name
        self.arn = f"arn:{backend.partition}:servicecatalog:{backend.region_name}:{backend.account_id}:stack/{name}/{self.id}"
        self.stack_name = f"SC-{backend.account_id}-{self.id}"
        self.created_time = utcnow()
        self.idempotency_token = token
        self.product_id = product.id
        self.artifact_id = artifact.id
        self.path_id = path_id
        self.launch_role_arn = launch_role_arn
        self.tags = list(tags)
        self.user_arn = caller_identity(backend)  # the launching user or role
        self.stack_id: str | None = None
        self.parameters: dict[str, str] = {}
        self.settled_status = "AVAILABLE"
        self.status_message = ""
        self.terminated = False
        self.records: list[Record] = []

    @property
    def last(self) -> Record:
        return self.records[-1]

    def provisioning_records(self) -> list[Record]:
        return [r for r in self.records if r.record_type != "TERMINATE_PROVISIONED_PRODUCT"]

    @property
    def gone(self) -> bool:
        return self.terminated and self.last.settled and self.last.outcome == "SUCCEEDED"

    def status(self) -> str:
        return self.settled_status if self.last.settled else "UNDER_CHANGE"

    def _common(self) -> dict[str, Any]:
        succeeded = [r for r in self.provisioning_records() if r.settled and r.outcome == "SUCCEEDED"]
        return {"Name": self.name, "Arn": self.arn, "Type": "CFN_STACK", "Id": self.id,
                "Status": self.status(),
                "StatusMessage": self.status_message if self.last.settled else "",
                "CreatedTime": self.created_time, "IdempotencyToken": self.idempotency_token,
                "LastRecordId": self.last.id,
                "LastProvisioningRecordId": self.provisioning_records()[-1].id,
                "LastSuccessfulProvisioningRecordId": succeeded[-1].id if succeeded else None,
                "ProductId": self.product_id, "ProvisioningArtifactId": self.artifact_id,
                "LaunchRoleArn": self.launch_role_arn}

    def detail(self) -> dict[str, Any]:
        return self._common()

    def attributes(self, product: Product | None) -> dict[str, Any]:
        artifact = product.artifacts.get(self.artifact_id) if product else None
        return {**self._common(), "Tags": self.tags, "PhysicalId": self.stack_id,
                "ProductName": product.name if product else None,
                "ProvisioningArtifactName": artifact.name if artifact else None,
                "UserArn": self.user_arn, "UserArnSession": self.user_arn}



def caller_identity(backend: "ServiceCatalogBackend") -> str:
    """The IAM user or role making the request (``sharing.CALLER``), else the endpoint's default user."""
    caller = CALLER.get()
    return caller[0] if caller else f"arn:{backend.partition}:iam::{backend.account_id}:user/moto"


def _at_level(backend: "ServiceCatalogBackend", pps: list[ProvisionedProduct], given: dict[str, Any] | None,
              default: str) -> list[ProvisionedProduct]:
    """``AccessLevelFilter``: Account keeps every provisioned product, User and Role (Value ``self``) those
    the caller launched (*AccessLevelFilter*: "Account - Filter results based on the account. Role - ...
    the federated role of the specified user. User - ... the specified user.")."""
    level = (given or {}).get("Key") or default
    if level not in ("Account", "Role", "User"):
        raise InvalidParametersException(f"AccessLevelFilter Key {level!r} is not valid; allowed: Account, Role, User")
    if level == "Account":
        return pps
    me = caller_identity(backend)
    return [pp for pp in pps if pp.user_arn == me]


class ProvisioningMixin:
    """ProvisionProduct and friends; expects the lookups of ``ServiceCatalogBackend``."""

    def launch_path_summaries(self, product_id: str) -> list[dict[str, Any]]:
        product = self.lookup_product(product_id)
        summaries = []
        for path_id, portfolio in self.launch_paths(product):
            constraint = self.launch_constraint(portfolio.id, product.id)
            summaries.append({"Id": path_id, "Name": portfolio.display_name, "Tags": portfolio.tags,
                              "ConstraintSummaries": [{"Type": "LAUNCH", "Description": constraint.description}]
                              if constraint else []})
        return summaries

    def provisioning_parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        product, artifact = self.find_artifact(params, visible=True)
        path_id, portfolio = self.launch_path(product, params.get("PathId"), params.get("PathName"))
        constraint = self.launch_constraint(portfolio.id, product.id)
        return {
            "ProvisioningArtifactParameters": templates.parameters(artifact.doc),
            "ConstraintSummaries": [{"Type": "LAUNCH", "Description": constraint.description}] if constraint else [],
            "UsageInstructions": [{"Type": "launchAsRole", "Value": self.launch_role_of(constraint)}] if constraint else [],
            "TagOptions": [],
            "ProvisioningArtifactPreferences": {},
            "ProvisioningArtifactOutputs": templates.output_keys(artifact.doc),
            "ProvisioningArtifactOutputKeys": templates.output_keys(artifact.doc),
        }

    def provision_product(self, params: dict[str, Any]) -> Record:
        token = params.get("ProvisionToken")
        remembered = self.tokens.get(("provision", token))
        if remembered is not None:
            return remembered
        name = params.get("ProvisionedProductName") or ""
        if not _PP_NAME.match(name):
            raise InvalidParametersException(
                f"ProvisionedProductName {name!r} is not valid: letters, digits, '.', '_' and '-', "
                "starting with a letter or digit, at most 128 characters")
        product, artifact = self.find_artifact(params, visible=True)
        if not artifact.active:
            raise InvalidParametersException(
                f"Provisioning artifact {artifact.id} of product {product.id} is not active; choose an active version")
        _check_not_failed(product, artifact)
        if artifact.guidance == "DEPRECATED":
            raise InvalidParametersException(
                f"Provisioning artifact {artifact.id} of product {product.id} is DEPRECATED; new launches must use "
                "a DEFAULT version")
        path_id, portfolio = self.launch_path(product, params.get("PathId"), params.get("PathName"))
        if any(pp.name == name and not pp.gone for pp in self.provisioned.values()):
            raise DuplicateResourceException(f"A provisioned product named {name} already exists")
        given = self._given_parameters(artifact, params.get("ProvisioningParameters") or [])
        constraint = self.launch_constraint(portfolio.id, product.id)
        pp = ProvisionedProduct(self, name, product, artifact, path_id,
                                self.launch_role_of(constraint) if constraint else None, token, params.get("Tags") or [])
        self.provisioned[pp.id] = pp
        record = self._record(pp, "PROVISION_PRODUCT", params.get("Tags") or [])
        try:
            with enforcement.acting_as(self._launch_session(pp, record)):
                self._authorize_service_catalog(record, pp, product, artifact)
                pp.parameters = stacks.resolve_parameters(artifact.doc, given)
                stacks.check_ssm_parameters(self.account_id, self.region_name, artifact.doc, pp.parameters)
                stacks.authorize_ssm_reads(self.account_id, self.region_name, artifact.doc, pp.parameters)
                body = stacks.prepare(artifact.body, artifact.doc, pp.stack_name, self.account_id, self.region_name,
                                      pp.parameters)
                result = stacks.create(self.account_id, self.region_name, pp.stack_name, body, pp.parameters,
                                       self._stack_tags(pp, product, portfolio, artifact), pp.launch_role_arn)
        except StackFailure as failure:
            pp.stack_id = self._stack_id_of(pp.stack_name)
            record.fail(failure.code, failure.message)
            pp.settled_status, pp.status_message = "ERROR", failure.message
        else:
            pp.stack_id, record.outputs = result.stack_id, result.outputs
        return self._remember("provision", token, record)

    def product_of(self, pp: ProvisionedProduct) -> Product | None:
        """The product a provisioned product was launched from (this account's or an imported one)."""
        try:
            return self.lookup_product(pp.product_id)
        except ResourceNotFoundException:
            return None

    def _given_parameters(self, artifact: ProvisioningArtifact, given: list[dict[str, Any]]) -> dict[str, str]:
        known = set(artifact.doc.get("Parameters", {}))
        unknown = sorted({p.get("Key") for p in given} - known)
        if unknown:
            raise InvalidParametersException(
                f"Parameters {unknown} are not defined by provisioning artifact {artifact.id}; "
                f"allowed: {sorted(known)}")
        return {p["Key"]: p.get("Value", "") for p in given if not p.get("UsePreviousValue")}

    def _stack_tags(self, pp: ProvisionedProduct, product: Product, portfolio: Portfolio,
                    artifact: ProvisioningArtifact) -> dict[str, str]:
        tags = {t["Key"]: t["Value"] for t in pp.tags}
        tags.update({
            "aws:servicecatalog:portfolioArn": portfolio.arn,
            "aws:servicecatalog:productArn": product.arn,
            "aws:servicecatalog:provisioningArtifactIdentifier": artifact.id,
            "aws:servicecatalog:provisionedProductArn": pp.arn,
            "aws:servicecatalog:provisioningPrincipalArn": pp.user_arn,
        })
        return tags

    def _launch_session(self, pp: ProvisionedProduct, record: Record) -> enforcement.Caller | None:
        """Service Catalog's session of the launch role for this operation (None: no launch constraint)."""
        if not pp.launch_role_arn:
            return None
        try:
            return enforcement.assume(pp.launch_role_arn, self.account_id, self.partition, self.region_name,
                                      pp.arn, record.record_type, record.id)
        except AccessDenied as err:
            raise StackFailure("AccessDenied", err.message) from err

    def _authorize_service_catalog(self, record: Record, pp: ProvisionedProduct, product: Product | None,
                                   artifact: ProvisioningArtifact | None) -> None:
        """What Service Catalog itself asks of the launch role (iam.requests.service_catalog_requests)."""
        caller = enforcement.current()
        if caller is None:
            return
        key = f"{product.id}/{artifact.id}.template" if product and artifact else None
        for request in iam_requests.service_catalog_requests(record.record_type, caller.role_arn, self.account_id,
                                                             self.region_name, self.partition, pp.stack_name,
                                                             pp.stack_id, key):
            try:
                enforcement.authorize(request, {"stack": pp.stack_name, "stage": "service-catalog"})
            except AccessDenied as err:
                raise StackFailure("AccessDenied", err.message) from err

    def _stack_id_of(self, stack_name: str) -> str | None:
        from moto.cloudformation.models import cloudformation_backends

        for stack in cloudformation_backends[self.account_id][self.region_name].stacks.values():
            if stack.name == stack_name:
                return stack.stack_id
        return None

    def _record(self, pp: ProvisionedProduct, record_type: str, tags: list[dict[str, str]]) -> Record:
        record = Record(pp, record_type, tags)
        pp.records.append(record)
        self.records[record.id] = record
        return record

    def describe_record(self, record_id: str) -> Record:
        if record_id not in self.records:
            raise ResourceNotFoundException(f"Record {record_id} not found.")
        record = self.records[record_id]
        record.observe()
        return record

    def provisioned_product(self, pp_id: str | None, name: str | None, observe: bool = True) -> ProvisionedProduct:
        if not pp_id and not name:
            raise InvalidParametersException("Either the provisioned product Id or its Name must be specified.")
        for pp in self.provisioned.values():
            if pp.id == pp_id or (not pp_id and name in (pp.name, pp.arn)):
                if observe:
                    pp.last.observe()
                if not pp.gone:
                    return pp
        raise ResourceNotFoundException(f"Provisioned product {pp_id or name} not found.")

    def list_record_history(self, params: dict[str, Any]):
        """*ListRecordHistory*: "The records, in reverse chronological order"
        (https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ListRecordHistory.html), filtered by
        ``SearchFilter`` ``product`` or ``provisionedproduct``; terminated products' records included;
        ``AccessLevelFilter`` (default User: "The default is User") keeps the caller's provisioned products."""
        search = params.get("SearchFilter") or {}
        key, value = search.get("Key"), search.get("Value")
        if key not in (None, "product", "provisionedproduct"):
            raise InvalidParametersException(f"SearchFilter Key {key!r} is not valid; allowed: product, "
                                             "provisionedproduct")
        mine = _at_level(self, list(self.provisioned.values()), params.get("AccessLevelFilter"), "User")
        records = [(n, r) for pp in mine for n, r in enumerate(pp.records)]
        if key == "product":
            records = [(n, r) for n, r in records if r.product_id == value]
        elif key == "provisionedproduct":
            records = [(n, r) for n, r in records if r.pp.id == value]
        for _n, r in records:
            r.observe()
        ordered = [r for _n, r in sorted(records, key=lambda item: (item[1].created_time, item[0]), reverse=True)]
        return paginate(ordered, params.get("PageToken"), params.get("PageSize"))

    def search_provisioned_products(self, params: dict[str, Any], default_level: str = "Account"):
        """SearchProvisionedProducts (AccessLevelFilter "The default is Account") and, with ``default_level``
        User, ScanProvisionedProducts ("The default is User")."""
        found = [pp for pp in _at_level(self, list(self.provisioned.values()), params.get("AccessLevelFilter"),
                                        default_level) if not pp.gone]
        for pp in found:
            pp.last.observe()
        found = [pp for pp in found if not pp.gone]
        for query in (params.get("Filters") or {}).get("SearchQuery", []):
            found = [pp for pp in found if _matches(pp, self.product_of(pp), query)]
        key = {"name": lambda p: p.name, "arn": lambda p: p.arn, "id": lambda p: p.id,
               "status": lambda p: p.status(), "lastRecordId": lambda p: p.last.id}.get(
            params.get("SortBy") or "", lambda p: p.created_time)
        found.sort(key=key, reverse=params.get("SortOrder") == "DESCENDING")
        page, token = paginate(found, params.get("PageToken"), params.get("PageSize"), maximum=100)
        return page, token, len(found)

    def update_provisioned_product(self, params: dict[str, Any]) -> Record:
        token = params.get("UpdateToken")
        remembered = self.tokens.get(("update", token))
        if remembered is not None:
            return remembered
        pp = self.provisioned_product(params.get("ProvisionedProductId"), params.get("ProvisionedProductName"),
                                      observe=False)
        if not pp.last.settled:
            raise InvalidParametersException(
                f"Provisioned product {pp.id} is UNDER_CHANGE; wait for record {pp.last.id} to finish")
        product = self.lookup_product(params.get("ProductId") or (None if params.get("ProductName") else pp.product_id),
                                      params.get("ProductName"))
        if params.get("ProvisioningArtifactId") or params.get("ProvisioningArtifactName"):
            artifact = product.artifact(params.get("ProvisioningArtifactId"), params.get("ProvisioningArtifactName"))
        else:
            artifact = product.artifact(pp.artifact_id)
        if not artifact.active:
            raise InvalidParametersException(
                f"Provisioning artifact {artifact.id} of product {product.id} is not active; choose an active version")
        _check_not_failed(product, artifact)
        path_id, portfolio = self.launch_path(product, params.get("PathId") or pp.path_id, params.get("PathName"))
        updates = params.get("ProvisioningParameters") or []
        given = self._given_parameters(artifact, updates)
        previous = {p["Key"]: pp.parameters[p["Key"]] for p in updates
                    if p.get("UsePreviousValue") and p["Key"] in pp.parameters}
        pp.product_id, pp.path_id = product.id, path_id
        if params.get("Tags") is not None:
            pp.tags = list(params["Tags"])
        old_artifact, pp.artifact_id = pp.artifact_id, artifact.id
        record = self._record(pp, "UPDATE_PROVISIONED_PRODUCT", pp.tags)
        try:
            with enforcement.acting_as(self._launch_session(pp, record)):
                self._authorize_service_catalog(record, pp, product, artifact)
                values = stacks.resolve_parameters(artifact.doc, {**previous, **given},
                                                   previous={k: v for k, v in pp.parameters.items()})
                stacks.check_ssm_parameters(self.account_id, self.region_name, artifact.doc, values)
                stacks.authorize_ssm_reads(self.account_id, self.region_name, artifact.doc, values)
                body = stacks.prepare(artifact.body, artifact.doc, pp.stack_name, self.account_id, self.region_name,
                                      values)
                result = stacks.update(self.account_id, self.region_name, pp.stack_id or pp.stack_name, body,
                                       values, self._stack_tags(pp, product, portfolio, artifact), pp.launch_role_arn)
        except StackFailure as failure:
            record.fail(failure.code, failure.message)
            pp.artifact_id = old_artifact
            pp.settled_status = "ERROR" if pp.settled_status == "ERROR" else "TAINTED"
            pp.status_message = failure.message
        else:
            pp.parameters, record.outputs = values, result.outputs
            pp.settled_status, pp.status_message = "AVAILABLE", ""
        return self._remember("update", token, record)

    def terminate_provisioned_product(self, params: dict[str, Any]) -> Record:
        token = params.get("TerminateToken")
        remembered = self.tokens.get(("terminate", token))
        if remembered is not None:
            return remembered
        pp = self.provisioned_product(params.get("ProvisionedProductId"), params.get("ProvisionedProductName"),
                                      observe=False)
        record = self._record(pp, "TERMINATE_PROVISIONED_PRODUCT", pp.tags)
        pp.terminated = True
        try:
            with enforcement.acting_as(self._launch_session(pp, record)):
                self._authorize_service_catalog(record, pp, None, None)
                stacks.delete(self.account_id, self.region_name, pp.stack_id)
        except StackFailure as failure:
            if not params.get("IgnoreErrors"):
                record.fail(failure.code, failure.message)
                pp.terminated = False
                pp.settled_status, pp.status_message = "TAINTED", failure.message
        return self._remember("terminate", token, record)



def _check_not_failed(product: Product, artifact: ProvisioningArtifact) -> None:
    """An artifact whose creation FAILED has no usable template."""
    if artifact.status() == "FAILED":
        raise InvalidParametersException(
            f"Provisioning artifact {artifact.id} ({artifact.name}) of product {product.id} is FAILED; "
            "choose another version")


def _matches(pp: ProvisionedProduct, product: Product | None, query: str) -> bool:
    field, sep, value = query.partition(":")
    attrs = {"name": pp.name, "id": pp.id, "arn": pp.arn, "status": pp.status(), "type": "CFN_STACK",
             "productId": pp.product_id, "productName": product.name if product else "",
             "provisioningArtifactId": pp.artifact_id, "lastRecordId": pp.last.id}
    if sep and field in attrs:
        return str(attrs[field]).lower() == value.lower()
    return any(query.lower() in str(v).lower() for v in attrs.values())
