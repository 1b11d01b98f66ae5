"""The developer's side of the catalog: Service Catalog's END-USER API only.

A developer in the ``HealthcareDeveloper`` group holds ``AWSServiceCatalogEndUserFullAccess``, not the
administrator's permissions, so this module never calls an ``*AsAdmin`` operation or anything that
changes a portfolio or a product.  Operations used: SearchProducts, DescribeProduct, ListLaunchPaths,
DescribeProvisioningParameters, ProvisionProduct, DescribeRecord, DescribeProvisionedProduct,
SearchProvisionedProducts, UpdateProvisionedProduct, TerminateProvisionedProduct, ListRecordHistory.
What a launch needs besides Service Catalog (the CodeCommit repository, the AMI setting) is checked by
``generator.aws.site``, also with the developer's own credentials, through ``prepare``.

Parameters are checked against the chosen version's constraints (as DescribeProvisioningParameters
reports them) before ProvisionProduct is called, so a bad value is refused locally with the
template's constraint description.
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Mapping

from generator.aws import api as aws, parameters
from generator.aws.parameters import ParameterSpec
from generator.aws.publish_plan import hash_from_description, note_from_description
from generator.errors import AwsCallError, LaunchError
from generator.settings import SEMVER

Progress = Callable[[str], None]
# What a caller adds to the parameters of a launch or an update before they are checked and sent: called
# with the chosen version's specs (by key), the given values and the keys the current version declares
# (None for a launch); returns the values to use.
Prepare = Callable[[Mapping[str, ParameterSpec], Mapping[str, str], "set[str] | None"], Mapping[str, str]]

END_USER_OPERATIONS = frozenset({
    "SearchProducts", "DescribeProduct", "ListLaunchPaths", "DescribeProvisioningParameters", "ProvisionProduct",
    "DescribeRecord", "DescribeProvisionedProduct", "SearchProvisionedProducts", "UpdateProvisionedProduct",
    "TerminateProvisionedProduct", "ListRecordHistory",
})
DEPRECATED = "DEPRECATED"
RECORD_DONE = {"SUCCEEDED", "FAILED", "IN_PROGRESS_IN_ERROR"}
# What each state of a provisioned product means, after *ProvisionedProductDetail*, Status (AWS Service
# Catalog API Reference, https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ProvisionedProductDetail.html).
STATUS_MEANINGS = {
    "AVAILABLE": "stable and ready for any operation: the most recent request succeeded",
    "UNDER_CHANGE": "changing: a request is under way and reads may not be valid yet; wait for AVAILABLE before "
                    "the next request",
    "TAINTED": "stable and ready for any operation, but not exactly what was requested: for example an update "
               "to a new version failed and the stack rolled back to the version before",
    "ERROR": "an unexpected error occurred: the provisioned product exists but its stack is not running (for "
             "example CloudFormation could not launch it with a parameter value)",
    "PLAN_IN_PROGRESS": "planned, not built: a plan to provision it was made but its resources are not created "
                        "yet; once the plan is executed, wait for AVAILABLE",
}


# ------------------------------------------------------------------------------------ local validation

def validate_parameters(specs: Iterable[ParameterSpec], given: Mapping[str, str], *, product: str,
                        version: str, update: bool = False,
                        previous_keys: Iterable[str] | None = None) -> list[dict]:
    """ProvisioningParameters for ``given``, or a ConfigError naming every problem and its constraint.

    Unknown names, values that break a constraint and (for a new launch) required parameters without a
    default are refused.  On an update, parameters not given keep their previous values: those the
    provisioned product's current version declares (``previous_keys``; default: every parameter).  A
    parameter the new version adds has no previous value, so it takes its default or must be given.
    """
    specs = list(specs)
    kept = None if previous_keys is None else set(previous_keys)
    parameters.check(specs, given, where=f"{product} {version}", kept=(kept if update else ()),
                     hint="fix the -p Key=Value values; `hipaa-catalog products --parameters` lists "
                          "each parameter with its constraint")
    if update:
        return [{"Key": k, "Value": v} for k, v in given.items()] + \
               [{"Key": s.key, "UsePreviousValue": True} for s in specs
                if s.key not in given and (kept is None or s.key in kept)]
    return [{"Key": k, "Value": v} for k, v in given.items()]


# ------------------------------------------------------------------------------------------ versions

def _version_sort_key(artifact: Mapping) -> tuple:
    name = artifact.get("Name", "")
    m = SEMVER.match(name)
    semver = tuple(int(x) for x in m.groups()) if m else (-1, -1, -1)
    created = artifact.get("CreatedTime")
    return semver, created.timestamp() if hasattr(created, "timestamp") else 0


def newest_launchable(artifacts: Iterable[Mapping]) -> Mapping | None:
    live = [a for a in artifacts if a.get("Guidance", "DEFAULT") != DEPRECATED and a.get("Active", True)]
    return max(live, key=_version_sort_key) if live else None


def sorted_versions(artifacts: Iterable[Mapping]) -> list[Mapping]:
    return sorted(artifacts, key=_version_sort_key, reverse=True)


# ----------------------------------------------------------------------------------------------- API

class Consumer:
    """A developer's Service Catalog session in one region (end-user operations only)."""

    def __init__(self, region: str | None = None, *, client=None, progress: Progress | None = None,
                 poll: float = 2.0, timeout: float = 3600):
        self.sc = client or aws.client(aws.session(region), "servicecatalog", region)
        self.progress = progress or (lambda _m: None)
        self.poll = poll
        self.timeout = timeout

    def _call(self, operation: str, resource: str = "", **params):
        assert operation in END_USER_OPERATIONS, operation  # developer permissions only
        try:
            return aws.call(self.sc, operation, resource, **params)
        except AwsCallError as exc:
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc

    # -- products and versions
    def _pages(self, operation: str, resource: str, key: str, **params) -> list[dict]:
        """Every item under ``key`` of an end-user listing, all pages."""
        assert operation in END_USER_OPERATIONS, operation
        try:
            return aws.pages(self.sc, operation, key, resource, **params)
        except AwsCallError as exc:
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc

    def search_products(self) -> list[dict]:
        return self._pages("SearchProducts", "products", "ProductViewSummaries", PageSize=20)

    def find_product(self, name: str) -> dict:
        products = self.search_products()
        for p in products:
            if name in (p.get("Name"), p.get("ProductId")):
                return p
        raise LaunchError(f"product {name!r} is not in your catalog; available: "
                          f"{', '.join(sorted(p['Name'] for p in products)) or 'none'}",
                          hint="`hipaa-catalog products` lists what you may launch")

    def describe_product(self, product_id: str) -> dict:
        return self._call("DescribeProduct", f"product {product_id}", Id=product_id)

    def list_launch_paths(self, product_id: str) -> list[dict]:
        return self._pages("ListLaunchPaths", f"product {product_id}", "LaunchPathSummaries", ProductId=product_id)

    def describe_provisioning_parameters(self, product_id: str, artifact_id: str, path_id: str | None) -> dict:
        kw = {"ProductId": product_id, "ProvisioningArtifactId": artifact_id, **({"PathId": path_id} if path_id else {})}
        return self._call("DescribeProvisioningParameters", f"product {product_id} version {artifact_id}", **kw)

    def choose_version(self, product: dict, artifacts: list[Mapping], version: str | None, *,
                       for_update: bool = False) -> Mapping:
        """The artifact for ``version`` (default: the newest launchable); DEPRECATED refused for launches."""
        name = product["Name"]
        listing = ", ".join(f"{a['Name']}{' (DEPRECATED)' if a.get('Guidance') == DEPRECATED else ''}"
                            for a in sorted_versions(artifacts)) or "none"
        if version is None:
            chosen = newest_launchable(artifacts)
            if chosen is None:
                raise LaunchError(f"product {name} has no launchable version (all are DEPRECATED or hidden): "
                                  f"{listing}", hint="ask the catalog administrators to publish a version")
            return chosen
        match = [a for a in artifacts if version in (a.get("Name"), a.get("Id"))]
        if not match:
            raise LaunchError(f"product {name} has no version {version!r}; versions: {listing}")
        chosen = match[0]
        if chosen.get("Guidance") == DEPRECATED and not for_update:
            newest = newest_launchable(artifacts)
            raise LaunchError(f"product {name} version {chosen['Name']} is DEPRECATED: it cannot be used for new "
                              f"launches (existing ones may keep it)",
                              hint=f"launch version {newest['Name']} instead" if newest else
                              "no version is launchable; ask the catalog administrators")
        return chosen

    def launch_path(self, product_id: str) -> str | None:
        paths = self.list_launch_paths(product_id)
        if not paths:
            raise LaunchError(f"product {product_id}: no launch path is available to you",
                              hint="ask the administrators to add you to the HealthcareDeveloper group")
        return paths[0]["Id"]

    def parameter_specs(self, product_id: str, artifact_id: str, path_id: str | None) -> list[ParameterSpec]:
        desc = self.describe_provisioning_parameters(product_id, artifact_id, path_id)
        return [ParameterSpec.from_api(p) for p in desc.get("ProvisioningArtifactParameters", [])]

    # -- provisioning
    def provision(self, product_name: str, name: str, params: Mapping[str, str], version: str | None = None,
                  tags: Mapping[str, str] | None = None, prepare: Prepare | None = None) -> dict:
        """Check, provision, wait; return the record with its outputs."""
        product = self.find_product(product_name)
        pid = product["ProductId"]
        artifacts = self.describe_product(pid).get("ProvisioningArtifacts", [])
        artifact = self.choose_version(product, artifacts, version)
        path_id = self.launch_path(pid)
        specs = self.parameter_specs(pid, artifact["Id"], path_id)
        if prepare is not None:
            params = dict(prepare({s.key: s for s in specs}, params, None))
        prov = validate_parameters(specs, params, product=product["Name"], version=artifact["Name"])
        self.progress(f"launching {product['Name']} {artifact['Name']} as {name}")
        kw = dict(ProductId=pid, ProvisioningArtifactId=artifact["Id"], PathId=path_id, ProvisionedProductName=name,
                  ProvisioningParameters=prov, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
        rec = self._call("ProvisionProduct", f"provisioned product {name}", **kw)["RecordDetail"]
        return self.wait_record(rec["RecordId"], name, product["Name"], artifact["Name"])

    def update(self, name: str, version: str | None, params: Mapping[str, str], prepare: Prepare | None = None) -> dict:
        current = self.describe_provisioned_product(name)
        pid = current["ProductId"]
        described = self.describe_product(pid)
        product = described.get("ProductViewSummary", {"Name": pid, "ProductId": pid})
        artifacts = described.get("ProvisioningArtifacts", [])
        current_id = current.get("ProvisioningArtifactId")
        if version is None:
            artifact = next((a for a in artifacts if a["Id"] == current_id), None)
            if artifact is None:
                raise LaunchError(f"provisioned product {name}: its version is no longer listed",
                                  hint="give --version")
        else:
            artifact = self.choose_version(product, artifacts, version, for_update=True)
        path_id = self.launch_path(pid)
        specs = self.parameter_specs(pid, artifact["Id"], path_id)
        previous_keys = ({s.key for s in specs} if artifact["Id"] == current_id
                         else self._keys_of(pid, current_id, path_id))
        if prepare is not None:
            params = dict(prepare({s.key: s for s in specs}, params, previous_keys))
        prov = validate_parameters(specs, params, product=product["Name"], version=artifact["Name"], update=True,
                                   previous_keys=previous_keys)
        self.progress(f"updating {name} to {product['Name']} {artifact['Name']}")
        rec = self._call("UpdateProvisionedProduct", f"provisioned product {name}", ProvisionedProductName=name,
                         ProductId=pid, ProvisioningArtifactId=artifact["Id"], PathId=path_id,
                         ProvisioningParameters=prov)["RecordDetail"]
        return self.wait_record(rec["RecordId"], name, product["Name"], artifact["Name"])

    def _keys_of(self, product_id: str, artifact_id: str | None, path_id: str | None) -> set[str] | None:
        """The parameter names of a version (None when it cannot be described any more: keep every value)."""
        if not artifact_id:
            return None
        try:
            return {s.key for s in self.parameter_specs(product_id, artifact_id, path_id)}
        except LaunchError:
            return None

    def terminate(self, name: str) -> dict:
        self.describe_provisioned_product(name)  # a clear "not found" first
        self.progress(f"terminating {name}")
        rec = self._call("TerminateProvisionedProduct", f"provisioned product {name}",
                         ProvisionedProductName=name)["RecordDetail"]
        return self.wait_record(rec["RecordId"], name)

    def wait_record(self, record_id: str, name: str, product: str = "", version: str = "") -> dict:
        deadline = time.monotonic() + self.timeout
        last = None
        delays = aws.backoff(self.poll)
        while True:
            rec = self.describe_record(record_id)
            detail = rec["RecordDetail"]
            status = detail["Status"]
            if status != last:
                self.progress(f"{name}: {detail.get('RecordType', '')} {status}")
                last = status
            if status in RECORD_DONE:
                break
            if time.monotonic() > deadline:
                raise LaunchError(f"{name}: record {record_id} still {status} after {self.timeout:.0f}s",
                                  hint=f"check later with `hipaa-catalog status {name}`")
            time.sleep(next(delays))
        result = {"name": name, "product": product or detail.get("ProductId", ""), "version": version,
                  "record_id": record_id, "record_type": detail.get("RecordType", ""), "status": status,
                  "provisioned_product_id": detail.get("ProvisionedProductId", ""),
                  "outputs": {o["OutputKey"]: o.get("OutputValue", "") for o in rec.get("RecordOutputs", [])}}
        if status != "SUCCEEDED":
            errors = "; ".join(f"{e.get('Code', '')}: {e.get('Description', '')}"
                               for e in detail.get("RecordErrors", [])) or "no reason given"
            raise LaunchError(f"{name}: {detail.get('RecordType', 'operation').lower()} {status}: {errors}",
                              hint=f"see `hipaa-catalog status {name}`; the administrators get the stack events")
        return result

    def describe_record(self, record_id: str) -> dict:
        rec = self._call("DescribeRecord", f"record {record_id}", Id=record_id)
        if rec.get("NextPageToken"):
            rec["RecordOutputs"] = self._pages("DescribeRecord", f"record {record_id}", "RecordOutputs", Id=record_id)
        return rec

    # -- provisioned products
    def describe_provisioned_product(self, name: str) -> dict:
        try:
            return self._call("DescribeProvisionedProduct", f"provisioned product {name}", Name=name)[
                "ProvisionedProductDetail"]
        except LaunchError as exc:
            if exc.code == "ResourceNotFoundException":
                raise LaunchError(f"no provisioned product named {name!r}",
                                  hint="`hipaa-catalog status` without a name lists yours") from exc
            raise

    def record_history(self, name: str) -> list[dict]:
        """The requests made on provisioned product ``name`` (launch, updates, terminate), newest first, each
        with its outputs (*ListRecordHistory*: "The records, in reverse chronological order", AWS Service
        Catalog API Reference, https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ListRecordHistory.html).
        At the default access level, User: the developers' AWSServiceCatalogEndUserFullAccess allows
        ListRecordHistory only with ``servicecatalog:userLevel`` ``self``; an administrator sees every
        user's records with ``AccessLevelFilter`` Account."""
        pp = self.describe_provisioned_product(name)
        records = self._pages("ListRecordHistory", f"provisioned product {name}", "RecordDetails",
                              SearchFilter={"Key": "provisionedproduct", "Value": pp["Id"]}, PageSize=20)
        versions = {a["Id"]: a["Name"] for a in self.describe_product(pp["ProductId"]).get("ProvisioningArtifacts", [])}
        out = []
        for detail in records:
            version_id = detail.get("ProvisioningArtifactId", "")
            outputs = {}
            if detail.get("Status") == "SUCCEEDED" and detail.get("RecordType") != "TERMINATE_PROVISIONED_PRODUCT":
                rec = self.describe_record(detail["RecordId"])
                outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in rec.get("RecordOutputs", [])}
            out.append({"record_id": detail["RecordId"], "record_type": detail.get("RecordType", ""),
                        "status": detail.get("Status", ""), "created": detail.get("CreatedTime"),
                        "updated": detail.get("UpdatedTime"),
                        "version": versions.get(version_id, version_id),
                        "errors": record_errors(detail), "outputs": outputs})
        return out

    def search_provisioned_products(self, *queries: str) -> list[dict]:
        """Your provisioned products as *ProvisionedProductAttribute* items (which name the product and the
        version: ProductName, ProvisioningArtifactName), optionally filtered with SearchQuery ``field:value``
        items (SearchProvisionedProducts, AWS Service Catalog API Reference,
        https://docs.aws.amazon.com/servicecatalog/latest/dg/API_SearchProvisionedProducts.html)."""
        return self._pages("SearchProvisionedProducts", "provisioned products", "ProvisionedProducts", PageSize=20,
                           **({"Filters": {"SearchQuery": list(queries)}} if queries else {}))

    def provisioned_products(self) -> list[dict]:
        """Your provisioned products, each with its product, version and state in words."""
        return [_provisioned_summary(a) for a in self.search_provisioned_products()]

    def status(self, name: str) -> dict:
        """Provisioned product ``name``: its state explained, product and version by name, whether that
        version is deprecated or hidden, the outputs of its last successful request.

        The version's name comes from SearchProvisionedProducts (ProvisioningArtifactName), because a
        hidden version is not in DescribeProduct's list: "Inactive provisioning artifacts are invisible to
        end users" (*UpdateProvisioningArtifact*, Active, AWS Service Catalog API Reference,
        https://docs.aws.amazon.com/servicecatalog/latest/dg/API_UpdateProvisioningArtifact.html); a version
        DescribeProduct does not list is hidden, and counts as deprecated (it cannot be launched either)."""
        pp = self.describe_provisioned_product(name)
        attributes = next((a for a in self.search_provisioned_products(f"name:{name}") if a.get("Name") == name), {})
        described = self.describe_product(pp["ProductId"])
        listed = described.get("ProvisioningArtifacts", [])
        artifact = next((a for a in listed if a["Id"] == pp.get("ProvisioningArtifactId")), None)
        hidden = artifact is None
        newest = newest_launchable(listed)
        record_id = pp.get("LastSuccessfulProvisioningRecordId") or pp.get("LastRecordId")
        outputs = {}
        if record_id:
            rec = self.describe_record(record_id)
            outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in rec.get("RecordOutputs", [])}
        summary = _provisioned_summary({**pp, **attributes})
        summary["product"] = summary["product"] or described.get("ProductViewSummary", {}).get("Name", pp["ProductId"])
        if summary["version"] == summary["version_id"] and artifact:
            summary["version"] = artifact["Name"]
        return {**summary, "deprecated": hidden or artifact.get("Guidance") == DEPRECATED, "hidden": hidden,
                "newest_version": newest["Name"] if newest else "", "outputs": outputs}

    def catalog(self, with_parameters: bool = False) -> list[dict]:
        """Every product you may launch with its details and support contact (*ProductViewSummary*) and its
        versions (newest first) with their change notes, deprecated ones marked."""
        out = []
        for p in sorted(self.search_products(), key=lambda p: p["Name"]):
            artifacts = self.describe_product(p["ProductId"]).get("ProvisioningArtifacts", [])
            default = newest_launchable(artifacts)
            versions = [{"version": a["Name"], "id": a["Id"],
                         "change_note": note_from_description(a.get("Description")),
                         "sha256": hash_from_description(a.get("Description")) or "",
                         "guidance": a.get("Guidance", "DEFAULT"), "deprecated": a.get("Guidance") == DEPRECATED,
                         "default": default is not None and a["Id"] == default["Id"], "created": a.get("CreatedTime")}
                        for a in sorted_versions(artifacts)]
            entry = {"name": p["Name"], "id": p["ProductId"], "description": p.get("ShortDescription", ""),
                     "owner": p.get("Owner", ""), "distributor": p.get("Distributor", ""),
                     "support": {"email": p.get("SupportEmail", ""), "url": p.get("SupportUrl", ""),
                                 "description": p.get("SupportDescription", "")},
                     "versions": versions}
            if with_parameters and default is not None:
                path = self.launch_path(p["ProductId"])
                entry["parameters_version"] = default["Name"]
                entry["parameters"] = [spec_json(s) for s in self.parameter_specs(p["ProductId"], default["Id"], path)]
            out.append(entry)
        return out


def spec_json(s: ParameterSpec) -> dict:
    """A parameter and its constraints, as ``products --parameters --json`` shows it."""
    return {**s.__dict__, "allowed_values": list(s.allowed_values), "required": s.required}


def record_errors(detail: Mapping) -> list[dict]:
    """A record's RecordErrors (*RecordError*: Code, Description) with snake_case keys."""
    return [{"code": e.get("Code", ""), "description": e.get("Description", "")}
            for e in detail.get("RecordErrors", [])]


def _provisioned_summary(a: Mapping) -> dict:
    """One provisioned product (a *ProvisionedProductDetail* or *ProvisionedProductAttribute*) with snake_case
    keys and its state in words."""
    status = a.get("Status", "")
    return {"name": a.get("Name", ""), "id": a.get("Id", ""), "type": a.get("Type", ""), "status": status,
            "status_meaning": STATUS_MEANINGS.get(status, ""), "status_message": a.get("StatusMessage", "") or "",
            "product": a.get("ProductName") or "", "product_id": a.get("ProductId", ""),
            "version": a.get("ProvisioningArtifactName") or a.get("ProvisioningArtifactId", ""),
            "version_id": a.get("ProvisioningArtifactId", ""), "created": a.get("CreatedTime"),
            "last_record_id": a.get("LastRecordId", "")}
