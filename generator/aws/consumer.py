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

While a request runs, ``wait_record`` shows the time waited, the record's status and each new event of
the provisioned product's stack.  The stack is the one SearchProvisionedProducts names as the product's
``PhysicalId`` when that is the ARN of an ``SC-*`` CloudFormation stack: the developers'
AWSServiceCatalogEndUserFullAccess allows ``cloudformation:DescribeStackEvents`` and ``DescribeStacks``
on ``arn:aws:cloudformation:*:*:stack/SC-*`` (*AWSServiceCatalogEndUserFullAccess*, AWS Managed Policy
Reference, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSServiceCatalogEndUserFullAccess.html).
The API reference describes ``PhysicalId`` only as "The assigned identifier for the resource"
(*ProvisionedProductAttribute*, https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ProvisionedProductAttribute.html):
when it is not such an ARN, or the events cannot be read, progress shows the record's status alone.

Ctrl-C (``stop``): no new call starts; a request already accepted goes on in AWS, so the ``Interrupted``
error says which request was accepted and to follow it with ``hipaa-catalog status NAME --watch``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

from generator.aws import api as aws, parameters
from generator.aws.parameters import ParameterSpec
from generator.aws.publish_plan import hash_from_description, note_from_description
from generator.errors import AwsCallError, Interrupted, LaunchError
from generator.settings import SEMVER

Progress = Callable[[str], None]
Status = Callable[[str, float], None]   # what is being waited for, and the seconds waited so far
# What a caller adds to the parameters of a launch or an update before they are checked and sent: called
# with the chosen version's specs (by key), the given values and the keys the current version declares
# (None for a launch); returns the values to use.
Prepare = Callable[[Mapping[str, ParameterSpec], Mapping[str, str], "set[str] | None"], Mapping[str, str]]

END_USER_OPERATIONS = frozenset({
    "SearchProducts", "DescribeProduct", "ListLaunchPaths", "DescribeProvisioningParameters", "ProvisionProduct",
    "DescribeRecord", "DescribeProvisionedProduct", "SearchProvisionedProducts", "UpdateProvisionedProduct",
    "TerminateProvisionedProduct", "ListRecordHistory",
})
# The provisioned products' stacks, whose events the end user may read (see the module docstring).
SC_STACK_ARN = re.compile(r"arn:[a-z-]+:cloudformation:[a-z0-9-]+:\d{12}:stack/SC-[^/]+/.+")
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
REQUEST_KINDS = {"PROVISION_PRODUCT": "launch", "UPDATE_PROVISIONED_PRODUCT": "update",
                 "TERMINATE_PROVISIONED_PRODUCT": "termination"}


@dataclass
class Request:
    """A write request Service Catalog accepted in this session: its record and, once seen, how it ended."""

    name: str
    record_id: str
    record_type: str
    ended: str = ""   # SUCCEEDED, FAILED ... once the wait saw it end

    @property
    def kind(self) -> str:
        return REQUEST_KINDS.get(self.record_type, self.record_type.lower())


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
                 status: Status | None = None, stop: threading.Event | None = None, poll: float = 2.0,
                 timeout: float = 3600):
        self.session = None if client else aws.session(region)
        self.region = region
        self.sc = client or aws.client(self.session, "servicecatalog", region, progress=progress)
        self.progress = progress or (lambda _m: None)
        self.status_line = status or (lambda _s, _t: None)
        self.stop = stop or threading.Event()
        self.poll = poll
        self.timeout = timeout
        self.requests: list[Request] = []        # accepted in this session, oldest first
        self.sending: tuple[str, str] | None = None   # (operation, name) of a write whose answer is awaited
        self.following: tuple[str, str] | None = None  # (name, record id) of a record followed (status --watch)
        self._cf = None

    def _call(self, operation: str, resource: str = "", **params):
        assert operation in END_USER_OPERATIONS, operation  # developer permissions only
        self.check_stop()
        try:
            return aws.call(self.sc, operation, resource, **params)
        except AwsCallError as exc:
            raise LaunchError(exc.message, code=exc.code, hint=exc.hint) from exc

    def _request(self, operation: str, name: str, **params) -> str:
        """Send a write request (ProvisionProduct, UpdateProvisionedProduct, TerminateProvisionedProduct);
        remember it as accepted; return its record id."""
        self.check_stop()
        self.sending = (operation, name)
        try:
            detail = self._call(operation, f"provisioned product {name}", **params)["RecordDetail"]
        finally:
            self.sending = None
        self.requests.append(Request(name, detail["RecordId"], detail.get("RecordType", "")))
        return detail["RecordId"]

    # -- Ctrl-C
    def check_stop(self) -> None:
        """Raise ``Interrupted`` (what was done, what to do) once Ctrl-C was pressed; called before each call."""
        if self.stop.is_set():
            raise self.interruption()

    def interruption(self) -> Interrupted:
        """What was and was not done when Ctrl-C stopped this session, and the next step."""
        if not self.requests and self.following:
            name, record_id = self.following
            return Interrupted(f"{name}: stopped following record {record_id}; the request goes on in AWS",
                               hint=f"follow it again with `hipaa-catalog status {name} --watch`")
        if not self.requests:
            return Interrupted("interrupted before any request was sent to Service Catalog: nothing changed",
                               hint="run the same command again")
        last = self.requests[-1]
        if last.ended:
            return Interrupted(f"{last.name}: interrupted after the {last.kind} (record {last.record_id}) ended "
                               f"{last.ended}, before the next request was sent",
                               hint="run the same command again: it goes on from there")
        hint = f"follow it with `hipaa-catalog status {last.name} --watch`"
        # ProvisionProduct answers DuplicateResourceException, "The specified resource is a duplicate", for a
        # name in use (*ProvisionProduct*, Errors, https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ProvisionProduct.html)
        if last.record_type == "PROVISION_PRODUCT":
            hint += (f" (do not launch {last.name} again: the name is taken as long as it exists, and the launch "
                     "would be refused with DuplicateResourceException)")
        return Interrupted(f"{last.name}: stopped waiting; the {last.kind} request was accepted (record "
                           f"{last.record_id}) and goes on in AWS", hint=hint)

    def last_words(self) -> str:
        """What to say when the call under way does not answer in time after Ctrl-C."""
        if self.sending:
            operation, name = self.sending
            return (f"{operation} for {name} was sent and its answer had not come: see with `hipaa-catalog "
                    f"status {name}` whether it was accepted")
        return str(self.interruption())

    # -- products and versions
    def _pages(self, operation: str, resource: str, key: str, **params) -> list[dict]:
        """Every item under ``key`` of an end-user listing, all pages."""
        assert operation in END_USER_OPERATIONS, operation
        self.check_stop()
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
                  tags: Mapping[str, str] | None = None, prepare: Prepare | None = None, wait: bool = True) -> dict:
        """Check, provision, wait (unless not ``wait``); return the record with its outputs."""
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
        record_id = self._request("ProvisionProduct", name, **kw)
        return self._finish(record_id, name, product["Name"], artifact["Name"], wait)

    def update(self, name: str, version: str | None, params: Mapping[str, str], prepare: Prepare | None = None,
               wait: bool = True) -> dict:
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
        record_id = self._request("UpdateProvisionedProduct", name, ProvisionedProductName=name, ProductId=pid,
                                  ProvisioningArtifactId=artifact["Id"], PathId=path_id, ProvisioningParameters=prov)
        return self._finish(record_id, name, product["Name"], artifact["Name"], wait)

    def _keys_of(self, product_id: str, artifact_id: str | None, path_id: str | None) -> set[str] | None:
        """The parameter names of a version (None when it cannot be described any more: keep every value)."""
        if not artifact_id:
            return None
        try:
            return {s.key for s in self.parameter_specs(product_id, artifact_id, path_id)}
        except LaunchError:
            return None

    def terminate(self, name: str, wait: bool = True) -> dict:
        self.describe_provisioned_product(name)  # a clear "not found" first
        self.progress(f"terminating {name}")
        record_id = self._request("TerminateProvisionedProduct", name, ProvisionedProductName=name)
        return self._finish(record_id, name, "", "", wait)

    def _finish(self, record_id: str, name: str, product: str, version: str, wait: bool) -> dict:
        """The record once it has ended, or (not ``wait``) as it is right after the request."""
        if wait:
            return self.wait_record(record_id, name, product, version)
        detail = self.describe_record(record_id)["RecordDetail"]
        return {"name": name, "product": product or detail.get("ProductId", ""), "version": version,
                "record_id": record_id, "record_type": detail.get("RecordType", ""), "status": detail["Status"],
                "provisioned_product_id": detail.get("ProvisionedProductId", ""), "outputs": {}}

    def follow(self, name: str) -> dict:
        """Wait for the last request made on provisioned product ``name`` (its LastRecordId) to end."""
        pp = self.describe_provisioned_product(name)
        self.following = (name, pp["LastRecordId"])
        return self.wait_record(pp["LastRecordId"], name)

    def _stack_of(self, name: str) -> str | None:
        """The ARN of provisioned product ``name``'s stack, when Service Catalog names an SC-* one yet."""
        physical = self.provisioned_attributes(name).get("PhysicalId") or ""
        return physical if SC_STACK_ARN.fullmatch(physical) else None

    def _stack_events(self, stack: str, seen: set[str], since) -> list[dict]:
        if self._cf is None:
            self._cf = aws.client(self.session or aws.session(self.region), "cloudformation",
                                  self.sc.meta.region_name)
        return aws.new_stack_events(self._cf, stack, seen, since)

    def wait_record(self, record_id: str, name: str, product: str = "", version: str = "") -> dict:
        """Poll the record until it ends: a progress line per status and per new stack event, the status
        line with the time waited (see the module docstring).  Ctrl-C ends the wait before the next poll; a
        record seen ended meanwhile is reported as it ended."""
        started = time.monotonic()
        deadline = started + self.timeout
        delays = aws.backoff(self.poll)
        stack, seen = None, set()
        while True:
            rec = self.describe_record(record_id)
            detail = rec["RecordDetail"]
            status = detail["Status"]
            if stack is None and not self.stop.is_set():
                stack = self._stack_of(name)
            for e in self._stack_events(stack, seen, detail.get("CreatedTime")) if stack else []:
                self.progress(aws.event_line(e))
            what = f"{name}: {detail.get('RecordType', '')} {status}"
            if status in RECORD_DONE:
                self.progress(f"{what} after {time.monotonic() - started:.0f}s")
                break
            self.status_line(what, time.monotonic() - started)
            if time.monotonic() > deadline:
                raise LaunchError(f"{name}: record {record_id} still {status} after {self.timeout:.0f}s",
                                  hint=f"check later with `hipaa-catalog status {name}`")
            if self.stop.wait(next(delays)):
                raise self.interruption()
        for r in self.requests:
            if r.record_id == record_id:
                r.ended = status
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

    def provisioned_attributes(self, name: str) -> dict:
        """Provisioned product ``name`` as a *ProvisionedProductAttribute* ({} when not found): the
        ``SearchQuery`` filter searches the ``name`` field, among others, so the exact name is picked out."""
        return next((a for a in self.search_provisioned_products(f"name:{name}") if a.get("Name") == name), {})

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
        attributes = self.provisioned_attributes(name)
        try:
            described = self.describe_product(pp["ProductId"])
        except LaunchError as exc:
            # DescribeProduct's errors are InvalidParametersException and ResourceNotFoundException, "The
            # specified resource was not found" (AWS SDK for .NET API Reference, DescribeProduct,
            # https://docs.aws.amazon.com/sdkfornet/v3/apidocs/items/ServiceCatalog/MIServiceCatalogDescribeProductDescribeProductRequest.html):
            # a product taken out of every portfolio you may use is not found for you, while the provisioned
            # product is still yours; its version then counts as hidden
            if exc.code != "ResourceNotFoundException":
                raise
            described = {}
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
