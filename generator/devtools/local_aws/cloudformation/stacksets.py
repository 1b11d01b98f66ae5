"""Service-managed StackSets: stack instances in the organisation's accounts, with automatic deployment.

API note (what is emulated; the handlers are in responses.py, self-managed stack sets stay moto's):

* ActivateOrganizationsAccess / DeactivateOrganizationsAccess / DescribeOrganizationsAccess: trusted access
  (Organizations' service principal ``member.org.stacksets.cloudformation.amazonaws.com``).  Without it a
  SERVICE_MANAGED stack set is refused with "You must enable organizations access to operate a service
  managed stack set" (pepperize/cdk-organizations#1718); from an account that is neither the management
  account nor (with ``CallAs=DELEGATED_ADMIN``) a registered delegated administrator with "You must be the
  management account or delegated admin account of an organization before operating a SERVICE_MANAGED
  stack set" (hashicorp/terraform-provider-aws#22867), and ``CallAs=DELEGATED_ADMIN`` from an unregistered
  account with "Account used is not a delegated administrator" (hashicorp/terraform-provider-aws#37069).
  The stack sets live in the management account, "including StackSets that are created by delegated
  administrators" (*CreateStackSet*, CallAs).
* CreateStackSet (PermissionModel SERVICE_MANAGED, AutoDeployment {Enabled, RetainStacksOnAccountRemoval}
  required, TemplateBody or TemplateURL, Parameters, Tags, Capabilities: IAM resources need CAPABILITY_IAM,
  custom-named ones CAPABILITY_NAMED_IAM, else InsufficientCapabilitiesException), DescribeStackSet (with
  OrganizationalUnitIds and Regions: the targets), UpdateStackSet (template, parameters, AutoDeployment;
  applied to every instance, or to DeploymentTargets/Regions), DeleteStackSet (StackSetNotEmptyException
  while instances remain), ListStackSets.
* CreateStackInstances / UpdateStackInstances / DeleteStackInstances with DeploymentTargets
  {OrganizationalUnitIds, Accounts, AccountFilterType NONE | UNION | INTERSECTION | DIFFERENCE}, Regions,
  ParameterOverrides, RetainStacks, OperationPreferences {RegionOrder, MaxConcurrentCount/Percentage,
  FailureToleranceCount/Percentage} (Count and Percentage together are refused) and OperationId
  (idempotent).  Each stack instance is a real stack ``StackSet-<name>-<uuid>`` in that account's and
  region's CloudFormation (the endpoint's, with its parameter checks, events and rollback), never in the
  management account ("StackSets doesn't deploy stack instances to the organization management account",
  *DeploymentTargets*).  Per region, in RegionOrder, accounts are deployed in batches of the concurrency
  (STRICT_FAILURE_TOLERANCE: at most FailureTolerance + 1); once more accounts than the tolerance failed,
  the rest of that region and every later region are CANCELLED and the operation FAILED (*StackSetOperation*
  Status); within the tolerance it SUCCEEDED.
* Automatic deployment: when an account joins a target OU (CreateAccount, MoveAccount; an OU below a
  target counts) it gets the stack set's instances in all its regions; when it leaves every target OU
  (MoveAccount, RemoveAccountFromOrganization) they are deleted, or with RetainStacksOnAccountRemoval
  removed from the stack set with the stacks kept (*AutoDeployment*).  Operation preferences do not apply
  ("StackSetOperationPreferences don't apply to AutoDeployment").  The stack sets' operations for the
  account run in the order ``AutoDeployment.DependsOn`` asks for, each after those it depends on; when one
  of those did not succeed, the dependent's instances are CANCELLED and its operation FAILED (chosen: AWS
  does not document it).  A DependsOn naming an unknown stack set, the stack set itself or closing a cycle is
  refused with ValidationError (chosen).
* DescribeStackInstance / ListStackInstances (Filters DETAILED_STATUS, LAST_OPERATION_ID, DRIFT_STATUS;
  StackInstanceAccount / StackInstanceRegion): Status CURRENT | OUTDATED | INOPERABLE, DetailedStatus
  SUCCEEDED | FAILED | CANCELLED, StatusReason, OrganizationalUnitId, LastOperationId, DriftStatus.
  DescribeStackSetOperation / ListStackSetOperations / ListStackSetOperationResults.
* DetectStackSetDrift: an instance is DRIFTED when its stack is gone or no longer has the stack set's
  template and parameters (changed outside the stack set), else IN_SYNC; the stack set's
  StackSetDriftDetectionDetails count them.

Asynchrony is deterministic: the work of an operation is done when it is requested, but the operation is
RUNNING for the next DescribeStackSetOperation read (``--pending-reads``, as Service Catalog records), and
until then another operation on the stack set, or DeleteStackSet, is refused with
OperationInProgressException (*OperationInProgressException*: "Only one operation can be performed for a
stack set at a given time"); an automatic deployment's operation is over at once, so the QUEUED a dependent's
operation has while its dependencies run is never read.  Not modelled: resource-level drift,
ManagedExecution, account gates, self-managed stack sets' behaviour beyond moto's, CAPABILITY_AUTO_EXPAND.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow

STACKSETS = "member.org.stacksets.cloudformation.amazonaws.com"
# Stack set requests and automatic deployments (run by Organizations requests) change stacks in many
# accounts: one at a time, as the server answers requests in parallel threads.
LOCK = threading.RLock()
NOT_ENABLED = "You must enable organizations access to operate a service managed stack set"
NOT_ADMIN = ("You must be the management account or delegated admin account of an organization before operating "
             "a SERVICE_MANAGED stack set")
NOT_DELEGATED = "Account used is not a delegated administrator"


def _error(code: str) -> type[ServiceException]:
    """A CloudFormation error class of that code (the API reference's exception names)."""
    return type(code, (ServiceException,), {"code": code})


StackSetNotFoundException = _error("StackSetNotFoundException")
StackInstanceNotFoundException = _error("StackInstanceNotFoundException")
OperationNotFoundException = _error("OperationNotFoundException")
NameAlreadyExistsException = _error("NameAlreadyExistsException")
StackSetNotEmptyException = _error("StackSetNotEmptyException")
OperationInProgressException = _error("OperationInProgressException")
InsufficientCapabilitiesException = _error("InsufficientCapabilitiesException")

# *CreateStackSet*, Capabilities: "The following IAM resources require you to specify either the CAPABILITY_IAM
# or CAPABILITY_NAMED_IAM capability ... If you have IAM resources with custom names, you must specify
# CAPABILITY_NAMED_IAM. If you don't specify either of these capabilities, CloudFormation returns an
# InsufficientCapabilities error."  (Checked when the stack set gets its template: which call answers the
# error is not documented.)
_IAM_TYPES = {"AWS::IAM::AccessKey": None, "AWS::IAM::Group": "GroupName",
              "AWS::IAM::InstanceProfile": "InstanceProfileName", "AWS::IAM::Policy": None,
              "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::UserToGroupAddition": None}


def check_capabilities(template: str, capabilities: list[str]) -> None:
    from moto.cloudformation.models import Stack

    resources = (Stack.parse_template(template) or {}).get("Resources") or {}
    iam = [(r.get("Type"), r.get("Properties") or {}) for r in resources.values() if r.get("Type") in _IAM_TYPES]
    named = any(_IAM_TYPES[kind] and _IAM_TYPES[kind] in props for kind, props in iam)
    needed = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM" if iam else None
    if needed and needed not in capabilities and "CAPABILITY_NAMED_IAM" not in capabilities:
        raise InsufficientCapabilitiesException(f"Requires capabilities : [{needed}]")


@dataclass
class Instance:
    account: str
    region: str
    ou: str
    stack_set_id: str
    overrides: dict[str, str] = field(default_factory=dict)
    stack_id: str | None = None
    status: str = "OUTDATED"          # CURRENT | OUTDATED | INOPERABLE
    detailed: str = "PENDING"
    reason: str | None = None
    last_operation: str | None = None
    drift: str = "NOT_CHECKED"
    drift_checked: Any = None

    def summary(self) -> dict[str, Any]:
        return {"StackSetId": self.stack_set_id, "Region": self.region, "Account": self.account,
                "StackId": self.stack_id, "Status": self.status, "StatusReason": self.reason,
                "StackInstanceStatus": {"DetailedStatus": self.detailed}, "OrganizationalUnitId": self.ou,
                "DriftStatus": self.drift, "LastDriftCheckTimestamp": self.drift_checked,
                "LastOperationId": self.last_operation}

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "ParameterOverrides": [{"ParameterKey": k, "ParameterValue": v}
                                                         for k, v in self.overrides.items()]}


@dataclass
class Operation:
    id: str
    action: str                       # CREATE | UPDATE | DELETE | DETECT_DRIFT
    preferences: dict[str, Any]
    retain_stacks: bool = False
    targets: dict[str, Any] = field(default_factory=dict)
    outcome: str = "RUNNING"          # what the operation ends as (the work is done when it is created)
    reason: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    created: Any = field(default_factory=utcnow)
    ended: Any = None
    drift: dict[str, Any] | None = None
    pending_reads: int = 0            # DescribeStackSetOperation reads that still see RUNNING
    reads: int = 0

    @property
    def settled(self) -> bool:
        return self.reads > self.pending_reads

    @property
    def status(self) -> str:
        return self.outcome if self.settled else "RUNNING"

    def observe(self) -> None:
        self.reads += 1

    def summary(self) -> dict[str, Any]:
        failed = sum(r["Status"] == "FAILED" for r in self.results)
        return {"OperationId": self.id, "Action": self.action, "Status": self.status,
                "CreationTimestamp": self.created, "EndTimestamp": self.ended if self.settled else None,
                "StatusReason": self.reason if self.settled else None,
                "OperationPreferences": self.preferences,
                "StatusDetails": {"FailedStackInstancesCount": failed,
                                  "TotalStackInstancesCount": len(self.results),
                                  "TotalAccountsCount": len({r["Account"] for r in self.results})}}

    def describe(self, stack_set: "StackSet") -> dict[str, Any]:
        described = {**self.summary(), "StackSetId": stack_set.id, "RetainStacks": self.retain_stacks,
                     "DeploymentTargets": self.targets or None,
                     "AdministrationRoleARN": None, "ExecutionRoleName": None}
        if self.drift is not None:
            described["StackSetDriftDetectionDetails"] = self.drift
        return described


@dataclass
class StackSet:
    name: str
    id: str
    arn: str
    template: str
    parameters: dict[str, str]
    auto_deployment: dict[str, Any]
    description: str | None = None
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    ous: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    status: str = "ACTIVE"
    drift: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """DescribeStackSet's StackSet (Parameters and Tags as dicts: moto's response turns them into lists)."""
        return {"StackSetName": self.name, "StackSetId": self.id, "StackSetARN": self.arn, "Status": self.status,
                "Description": self.description, "TemplateBody": self.template, "Parameters": dict(self.parameters),
                "Capabilities": self.capabilities, "Tags": {t["Key"]: t["Value"] for t in self.tags},
                "PermissionModel": "SERVICE_MANAGED",
                "AutoDeployment": self.auto_deployment, "OrganizationalUnitIds": list(self.ous),
                "Regions": list(self.regions), "ManagedExecution": {"Active": False},
                "StackSetDriftDetectionDetails": self.drift or {"DriftStatus": "NOT_CHECKED"}}

    def summary(self) -> dict[str, Any]:
        return {"StackSetName": self.name, "StackSetId": self.id, "Description": self.description,
                "Status": self.status, "AutoDeployment": self.auto_deployment, "PermissionModel": "SERVICE_MANAGED",
                "DriftStatus": (self.drift or {}).get("DriftStatus", "NOT_CHECKED"),
                "LastDriftCheckTimestamp": (self.drift or {}).get("LastDriftCheckTimestamp"),
                "ManagedExecution": {"Active": False}}

    def values_for(self, instance: Instance) -> dict[str, str]:
        return {**self.parameters, **instance.overrides}


# -- who administers the organisation's stack sets ---------------------------------------------------
def admin_backend(account_id: str, region: str, call_as: str | None, partition: str = "aws"):
    """The management account's CloudFormation backend of ``region`` when ``account_id`` may operate
    service-managed stack sets (SELF from the management account, DELEGATED_ADMIN from a registered
    delegated administrator), else the ValidationError AWS answers."""
    from moto.cloudformation.models import cloudformation_backends

    from ..organizations.models import organization_of

    org = organization_of(account_id, partition)
    if (call_as or "SELF") == "DELEGATED_ADMIN":
        if org is None or not org.is_delegated(account_id, STACKSETS):
            raise ValidationError(message=NOT_DELEGATED)
    elif call_as not in (None, "SELF"):
        raise ValidationError(message=f"CallAs {call_as!r} is not valid; allowed: SELF, DELEGATED_ADMIN")
    elif org is None or org.account_id != account_id:
        raise ValidationError(message=NOT_ADMIN)
    return cloudformation_backends[org.account_id][region]


def _organization(backend):
    from ..organizations.models import organization_of

    return organization_of(backend.account_id)


def require_trusted_access(backend) -> None:
    if not _organization(backend).is_enabled(STACKSETS):
        raise ValidationError(message=NOT_ENABLED)


def stack_sets(backend) -> dict[str, StackSet]:
    """The service-managed stack sets kept in this (management account) backend, by name."""
    return backend.org_stack_sets


def find(backend, name_or_id: str | None) -> StackSet:
    for stack_set in stack_sets(backend).values():
        if name_or_id in (stack_set.name, stack_set.id, stack_set.arn) and stack_set.status == "ACTIVE":
            return stack_set
    raise StackSetNotFoundException(f"StackSet {name_or_id} not found")


# -- stack sets ----------------------------------------------------------------------------------------
def create_stack_set(backend, params: dict[str, Any], template: str) -> StackSet:
    require_trusted_access(backend)
    name = params["StackSetName"]
    if name in stack_sets(backend) and stack_sets(backend)[name].status == "ACTIVE":
        raise NameAlreadyExistsException(f"StackSet {name} already exists")
    auto = params.get("AutoDeployment")
    if not auto:
        # AutoDeployment: "Required if the permissions model is SERVICE_MANAGED" (*CreateStackSet*)
        raise ValidationError(message="AutoDeployment must be specified for a SERVICE_MANAGED stack set")
    check_capabilities(template, list(params.get("Capabilities") or []))
    stack_set_id = f"{name}:{uuid.uuid4()}"
    arn = f"arn:{backend.partition}:cloudformation:{backend.region_name}:{backend.account_id}:stackset/{stack_set_id}"
    auto_deployment = _auto_deployment(auto)
    check_dependencies(backend, arn, auto_deployment.get("DependsOn") or [])
    stack_set = StackSet(
        name=name, id=stack_set_id, arn=arn, template=template, parameters=_parameters(params.get("Parameters")),
        auto_deployment=auto_deployment, description=params.get("Description"),
        capabilities=list(params.get("Capabilities") or []), tags=list(params.get("Tags") or []))
    stack_sets(backend)[name] = stack_set
    return stack_set


def _auto_deployment(given: dict[str, Any]) -> dict[str, Any]:
    enabled = _bool(given.get("Enabled"))
    retain = _bool(given.get("RetainStacksOnAccountRemoval"))
    if retain and not enabled:
        # RetainStacksOnAccountRemoval: "Specify only if Enabled is set to True." (*AutoDeployment*)
        raise ValidationError(message="RetainStacksOnAccountRemoval can be set only when AutoDeployment is Enabled")
    out = {"Enabled": enabled, "RetainStacksOnAccountRemoval": retain}
    # DependsOn: "A list of StackSet ARNs that this StackSet depends on for auto-deployment operations"
    # (*AutoDeployment*): automatic deployments run in its order (on_account_moved).
    if given.get("DependsOn"):
        out["DependsOn"] = list(given["DependsOn"])
    return out


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _parameters(given: list[dict[str, Any]] | None, previous: dict[str, str] | None = None) -> dict[str, str]:
    values = {}
    for p in given or []:
        if _bool(p.get("UsePreviousValue")):
            if previous and p["ParameterKey"] in previous:
                values[p["ParameterKey"]] = previous[p["ParameterKey"]]
        else:
            values[p["ParameterKey"]] = p.get("ParameterValue", "")
    return values


def delete_stack_set(backend, name: str) -> None:
    stack_set = find(backend, name)
    in_progress(stack_set)
    if stack_set.instances:
        raise StackSetNotEmptyException(f"StackSet {stack_set.name} is not empty: delete its "
                                        f"{len(stack_set.instances)} stack instance(s) first")
    stack_set.status = "DELETED"
    del stack_sets(backend)[stack_set.name]


# -- targets and preferences ---------------------------------------------------------------------------
def _target_accounts(backend, targets: dict[str, Any]) -> list[tuple[str, str]]:
    """(account, OU it is deployed for) for DeploymentTargets, without the management account."""
    org = _organization(backend)
    ous = list(targets.get("OrganizationalUnitIds") or [])
    accounts = list(targets.get("Accounts") or [])
    known = {ou.id for ou in org.ou}
    unknown = [ou for ou in ous if ou not in known]
    if unknown:
        raise ValidationError(message=f"OrganizationalUnitIds {unknown} are not in organization {org.org.id}")
    found: dict[str, str] = {}
    for ou in ous:
        for account in org.accounts_under(ou):
            found.setdefault(account.id, ou)
    filter_type = targets.get("AccountFilterType") or ("UNION" if accounts else "NONE")
    if filter_type == "INTERSECTION":
        found = {a: ou for a, ou in found.items() if a in accounts}
    elif filter_type == "DIFFERENCE":
        found = {a: ou for a, ou in found.items() if a not in accounts}
    elif filter_type == "UNION":
        for account in accounts:
            owner = org.account(account)
            if owner is not None:
                found.setdefault(account, owner.parent_id)
    elif filter_type != "NONE":
        raise ValidationError(message=f"AccountFilterType {filter_type!r} is not valid; allowed: NONE, UNION, "
                                      "INTERSECTION, DIFFERENCE")
    return sorted((a, ou) for a, ou in found.items() if a != org.account_id)


def _check_preferences(prefs: dict[str, Any]) -> None:
    for name in ("MaxConcurrent", "FailureTolerance"):
        if prefs.get(f"{name}Count") is not None and prefs.get(f"{name}Percentage") is not None:
            raise ValidationError(message=f"You can specify either {name}Count or {name}Percentage, but not both")
    if prefs.get("MaxConcurrentCount") is not None and int(prefs["MaxConcurrentCount"]) < 1:
        raise ValidationError(message="MaxConcurrentCount must be at least 1")


def _batches(prefs: dict[str, Any], count: int) -> tuple[int, int]:
    """(concurrency, failure tolerance) for ``count`` accounts of one region (*StackSetOperationPreferences*:
    percentages round down, MaxConcurrentPercentage to at least 1; STRICT_FAILURE_TOLERANCE starts at the
    lower of MaxConcurrentCount and FailureToleranceCount + 1)."""
    tolerance = int(prefs.get("FailureToleranceCount") or 0)
    if prefs.get("FailureTolerancePercentage") is not None:
        tolerance = math.floor(count * int(prefs["FailureTolerancePercentage"]) / 100)
    concurrency = int(prefs.get("MaxConcurrentCount") or 1)
    if prefs.get("MaxConcurrentPercentage") is not None:
        concurrency = max(1, math.floor(count * int(prefs["MaxConcurrentPercentage"]) / 100))
    if (prefs.get("ConcurrencyMode") or "STRICT_FAILURE_TOLERANCE") == "STRICT_FAILURE_TOLERANCE":
        concurrency = min(concurrency, tolerance + 1)
    return max(1, concurrency), tolerance


def _region_order(prefs: dict[str, Any], regions: list[str]) -> list[str]:
    first = [r for r in prefs.get("RegionOrder") or [] if r in regions]
    return first + [r for r in regions if r not in first]


# -- running an operation over instances ---------------------------------------------------------------
def in_progress(stack_set: StackSet) -> None:
    """*OperationInProgressException*: "Another operation is currently in progress for this StackSet. Only
    one operation can be performed for a stack set at a given time." """
    running = next((o for o in stack_set.operations.values() if not o.settled), None)
    if running is not None:
        raise OperationInProgressException(
            f"Another Operation on StackSet {stack_set.id} is in progress: {running.id} ({running.action}); wait "
            "for it with DescribeStackSetOperation")


def _operation(stack_set: StackSet, action: str, params: dict[str, Any], automatic: bool = False
               ) -> Operation | None:
    """A new operation, or None when ``OperationId`` names one already run (the request is a retry).  A
    requested operation is RUNNING for the next ``PENDING_READS`` DescribeStackSetOperation reads (as Service
    Catalog records are: the work itself is done now); an automatic deployment is over at once (so it never
    holds up a requested one)."""
    from ..servicecatalog import provisioning

    op_id = params.get("OperationId") or str(uuid.uuid4())
    if op_id in stack_set.operations:
        return None
    if not automatic:  # AWS queues an automatic deployment behind a running operation (QUEUED)
        in_progress(stack_set)
    prefs = dict(params.get("OperationPreferences") or {})
    _check_preferences(prefs)
    operation = Operation(op_id, action, prefs, retain_stacks=_bool(params.get("RetainStacks")),
                          targets=dict(params.get("DeploymentTargets") or {}),
                          pending_reads=-1 if automatic else provisioning.PENDING_READS)
    stack_set.operations[op_id] = operation
    return operation


def _run(stack_set: StackSet, operation: Operation, work: list[Instance], step) -> str:
    """Apply ``step(instance) -> error or None`` region by region in batches, honouring failure tolerance."""
    by_region: dict[str, list[Instance]] = {}
    for instance in work:
        by_region.setdefault(instance.region, []).append(instance)
    stopped = False
    for region in _region_order(operation.preferences, list(by_region)):
        instances = sorted(by_region[region], key=lambda i: i.account)
        concurrency, tolerance = _batches(operation.preferences, len(instances))
        failures = 0
        for start in range(0, len(instances), concurrency):
            for instance in instances[start:start + concurrency]:
                if stopped:
                    _result(operation, instance, "CANCELLED", "Cancelled since failure tolerance has exceeded")
                    continue
                instance.last_operation = operation.id
                error = step(instance)
                failures += error is not None
                _result(operation, instance, "FAILED" if error else "SUCCEEDED", error)
            stopped = stopped or failures > tolerance
    operation.outcome = "FAILED" if stopped else "SUCCEEDED"
    operation.reason = "The operation exceeded the failure tolerance" if stopped else None
    operation.ended = utcnow()
    return operation.id


def _result(operation: Operation, instance: Instance, status: str, reason: str | None) -> None:
    if status == "CANCELLED":
        instance.detailed, instance.reason = "CANCELLED", reason
    operation.results.append({"Account": instance.account, "Region": instance.region, "Status": status,
                              "StatusReason": reason, "OrganizationalUnitId": instance.ou})


def _cfn(account: str, region: str):
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account][region]


def _deploy(stack_set: StackSet, instance: Instance) -> str | None:
    """Create or update the instance's stack; the failure's reason, or None."""
    backend = _cfn(instance.account, instance.region)
    values = stack_set.values_for(instance)
    tags = {t["Key"]: t["Value"] for t in stack_set.tags}
    stack = backend.stacks.get(instance.stack_id) if instance.stack_id else None
    if stack is not None and stack.status == "ROLLBACK_COMPLETE":  # a failed create is retried from scratch
        backend.delete_stack(stack.stack_id)
        stack = None
    try:
        if stack is None:
            stack = backend.create_stack(name=f"StackSet-{stack_set.name}-{uuid.uuid4()}",
                                         template=stack_set.template, parameters=values, tags=tags)
            instance.stack_id = stack.stack_id
            ok = stack.status == "CREATE_COMPLETE"
        else:
            try:
                backend.update_stack(name=stack.stack_id, template=stack_set.template, role_arn=None, tags=tags,
                                     parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()])
            except ValidationError as err:
                if "No updates are to be performed" not in str(getattr(err, "message", err)):
                    raise
            ok = stack.status in ("UPDATE_COMPLETE", "CREATE_COMPLETE")
    except Exception as err:  # noqa: BLE001 - the stack operation's refusal is the instance's failure reason
        return _fail(instance, getattr(err, "message", None) or str(err))
    if not ok:
        from ..servicecatalog.stacks import _failed_resources

        return _fail(instance, f"ResourceLogicalId: {_failed_resources(stack)}")
    instance.status, instance.detailed, instance.reason = "CURRENT", "SUCCEEDED", None
    return None


def _fail(instance: Instance, reason: str) -> str:
    instance.status, instance.detailed, instance.reason = "OUTDATED", "FAILED", reason
    return reason


def _remove(stack_set: StackSet, instance: Instance, retain: bool) -> str | None:
    if not retain and instance.stack_id:
        backend = _cfn(instance.account, instance.region)
        backend.delete_stack(instance.stack_id)
        if instance.stack_id in backend.stacks:  # DELETE_FAILED
            instance.status, instance.detailed = "INOPERABLE", "FAILED"
            instance.reason = f"stack {instance.stack_id} could not be deleted"
            return instance.reason
    stack_set.instances.pop((instance.account, instance.region), None)
    return None


def create_instances(backend, stack_set: StackSet, params: dict[str, Any]) -> str:
    targets = params.get("DeploymentTargets") or {}
    if params.get("Accounts") or not targets.get("OrganizationalUnitIds"):
        raise ValidationError(message="StackSets with SERVICE_MANAGED permission model can only have "
                                      "OrganizationalUnit as target")
    regions = list(params.get("Regions") or [])
    if not regions:
        raise ValidationError(message="Regions must contain at least one Region")
    operation = _operation(stack_set, "CREATE", params)
    if operation is None:
        return params["OperationId"]
    overrides = _parameters(params.get("ParameterOverrides"))
    work = []
    for account, ou in _target_accounts(backend, targets):
        for region in regions:
            instance = stack_set.instances.get((account, region))
            if instance is None:
                instance = Instance(account, region, ou, stack_set.id)
                stack_set.instances[(account, region)] = instance
            instance.overrides.update(overrides)
            work.append(instance)
    stack_set.ous += [ou for ou in targets["OrganizationalUnitIds"] if ou not in stack_set.ous]
    stack_set.regions += [r for r in regions if r not in stack_set.regions]
    return _run(stack_set, operation, work, lambda i: _deploy(stack_set, i))


def _selected(backend, stack_set: StackSet, params: dict[str, Any]) -> list[Instance]:
    targets = params.get("DeploymentTargets")
    regions = params.get("Regions") or stack_set.regions
    if targets:
        accounts = {a for a, _ in _target_accounts(backend, targets)}
    else:
        accounts = {i.account for i in stack_set.instances.values()}
    return [i for i in stack_set.instances.values() if i.account in accounts and i.region in regions]


def update_instances(backend, stack_set: StackSet, params: dict[str, Any]) -> str:
    selected = _selected(backend, stack_set, params)
    if not selected:
        raise StackInstanceNotFoundException("No stack instances match the given DeploymentTargets and Regions")
    operation = _operation(stack_set, "UPDATE", params)
    if operation is None:
        return params["OperationId"]
    for instance in selected:
        instance.overrides = _parameters(params.get("ParameterOverrides"), previous=instance.overrides)
    return _run(stack_set, operation, selected, lambda i: _deploy(stack_set, i))


def delete_instances(backend, stack_set: StackSet, params: dict[str, Any]) -> str:
    targets = params.get("DeploymentTargets") or {}
    if params.get("Accounts") or not (targets.get("OrganizationalUnitIds") or targets.get("Accounts")):
        raise ValidationError(message="StackSets with SERVICE_MANAGED permission model can only have "
                                      "OrganizationalUnit as target")
    if params.get("RetainStacks") is None:
        raise ValidationError(message="RetainStacks is required for DeleteStackInstances")
    operation = _operation(stack_set, "DELETE", params)
    if operation is None:
        return params["OperationId"]
    selected = _selected(backend, stack_set, params)
    op_id = _run(stack_set, operation, selected, lambda i: _remove(stack_set, i, operation.retain_stacks))
    regions = set(params.get("Regions") or [])
    if regions >= set(stack_set.regions):
        stack_set.ous = [ou for ou in stack_set.ous if ou not in (targets.get("OrganizationalUnitIds") or [])]
    stack_set.regions = [r for r in stack_set.regions if any(i.region == r for i in stack_set.instances.values())
                         or r not in regions]
    return op_id


def update_stack_set(backend, stack_set: StackSet, params: dict[str, Any], template: str | None) -> str:
    """UpdateStackSet: the stack set changes even when its operation fails (*UpdateStackSet*)."""
    check_capabilities(template or stack_set.template, list(params.get("Capabilities") or stack_set.capabilities))
    auto_deployment = (_auto_deployment({**stack_set.auto_deployment, **params["AutoDeployment"]})
                       if params.get("AutoDeployment") else stack_set.auto_deployment)
    check_dependencies(backend, stack_set.arn, auto_deployment.get("DependsOn") or [])
    operation = _operation(stack_set, "UPDATE", params)
    if operation is None:
        return params["OperationId"]
    if template:
        stack_set.template = template
    if params.get("Parameters") is not None:
        stack_set.parameters = _parameters(params["Parameters"], previous=stack_set.parameters)
    stack_set.auto_deployment = auto_deployment
    for key, attr in (("Description", "description"), ("Capabilities", "capabilities"), ("Tags", "tags")):
        if params.get(key) is not None:
            setattr(stack_set, attr, params[key])
    return _run(stack_set, operation, _selected(backend, stack_set, params), lambda i: _deploy(stack_set, i))


def detect_drift(stack_set: StackSet, params: dict[str, Any]) -> str:
    operation = _operation(stack_set, "DETECT_DRIFT", params)
    if operation is None:
        return params["OperationId"]
    now = utcnow()

    def check(instance: Instance) -> None:
        stack = _cfn(instance.account, instance.region).stacks.get(instance.stack_id or "")
        same = stack is not None and _same_template(stack, stack_set.template) and _same_values(stack, stack_set,
                                                                                                instance)
        instance.drift, instance.drift_checked = ("IN_SYNC" if same else "DRIFTED"), now

    op_id = _run(stack_set, operation, list(stack_set.instances.values()), check)
    drifted = sum(i.drift == "DRIFTED" for i in stack_set.instances.values())
    stack_set.drift = operation.drift = {
        "DriftStatus": "DRIFTED" if drifted else "IN_SYNC", "DriftDetectionStatus": "COMPLETED",
        "LastDriftCheckTimestamp": now, "TotalStackInstancesCount": len(stack_set.instances),
        "DriftedStackInstancesCount": drifted, "InSyncStackInstancesCount": len(stack_set.instances) - drifted,
        "InProgressStackInstancesCount": 0, "FailedStackInstancesCount": 0}
    return op_id


def _same_values(stack, stack_set: StackSet, instance: Instance) -> bool:
    """Do the stack's parameter values (defaults included) match what the stack set would give it?

    Compared as given, not as resolved: a Systems Manager parameter type's value is the parameter's name
    and a list type's the comma-separated string, while moto's resolved values are the SSM value and a list."""
    declared = (stack.template_dict or {}).get("Parameters") or {}
    defaults = {k: str(spec["Default"]) for k, spec in declared.items() if "Default" in spec}
    expected = {**defaults, **stack_set.values_for(instance)}
    actual = {**defaults, **{k: str(v) for k, v in stack.resource_map.input_parameters.items()}}
    return all(actual.get(k) == v for k, v in expected.items())


def _same_template(stack, template: str) -> bool:
    from moto.cloudformation.models import Stack

    try:
        return Stack.parse_template(template) == stack.template_dict
    except (ValueError, json.JSONDecodeError):
        return False


def list_instances(stack_set: StackSet, params: dict[str, Any]) -> list[Instance]:
    found = [i for i in stack_set.instances.values()
             if params.get("StackInstanceAccount") in (None, i.account)
             and params.get("StackInstanceRegion") in (None, i.region)]
    for flt in params.get("Filters") or []:
        name, values = flt.get("Name"), str(flt.get("Values", "")).split(",")
        key = {"DETAILED_STATUS": lambda i: i.detailed, "LAST_OPERATION_ID": lambda i: i.last_operation,
               "DRIFT_STATUS": lambda i: i.drift}.get(name)
        if key is None:
            raise ValidationError(message=f"Filter Name {name!r} is not valid; allowed: DETAILED_STATUS, "
                                          "LAST_OPERATION_ID, DRIFT_STATUS")
        found = [i for i in found if key(i) in values]
    return sorted(found, key=lambda i: (i.account, i.region))


def instance(stack_set: StackSet, account: str, region: str) -> Instance:
    found = stack_set.instances.get((account, region))
    if found is None:
        raise StackInstanceNotFoundException(
            f"Stack instance for account {account} and region {region} not found in StackSet {stack_set.name}")
    return found


def operation(stack_set: StackSet, op_id: str | None, observe: bool = False) -> Operation:
    """The operation ``op_id``; ``observe``: a DescribeStackSetOperation read, which moves it along."""
    if op_id not in stack_set.operations:
        raise OperationNotFoundException(f"StackSet operation {op_id} not found")
    found = stack_set.operations[op_id]
    if observe:
        found.observe()
    return found


# -- automatic deployment ------------------------------------------------------------------------------
# *AutoDeployment*, DependsOn (AWS CloudFormation API Reference,
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_AutoDeployment.html): "A list of StackSet
# ARNs that this StackSet depends on for auto-deployment operations. When auto-deployment is triggered, operations
# will be sequenced to ensure all dependencies complete successfully before this StackSet's operation begins."
# *StackSetOperation*, Status QUEUED: "For automatic deployments that require a sequence of operations, the
# operation is queued to be performed."  What a dependent's operation does when a dependency's fails is not
# documented: here its instances are CANCELLED and it ends FAILED, naming the dependency.
DEPENDENCY_FAILED = "Cancelled since the operation of stack set {} it depends on did not succeed"


def on_account_moved(org, account_id: str, old: str | None, new: str | None) -> None:
    """Organizations listener: deploy to an account that joined a target OU, remove it from one it left; the
    stack sets' operations run dependencies first (AutoDeployment.DependsOn)."""
    if account_id == org.account_id:
        return
    with LOCK:
        enabled = [stack_set for backend in _management_regions(org.account_id)
                   for stack_set in list(backend.org_stack_sets.values()) if stack_set.auto_deployment.get("Enabled")]
        outcomes: dict[str, str] = {}   # stack set ARN -> how its operation for this account ended
        for stack_set in dependency_order(enabled):
            failed = next((arn for arn in stack_set.auto_deployment.get("DependsOn") or []
                           if outcomes.get(arn, "SUCCEEDED") != "SUCCEEDED"), None)
            outcome = _auto_deploy(org, stack_set, account_id, old, new, failed)
            if outcome:
                outcomes[stack_set.arn] = outcome


def dependency_order(stack_sets: list[StackSet]) -> list[StackSet]:
    """``stack_sets`` with each one after the stack sets it depends on (otherwise in creation order)."""
    by_arn = {s.arn: s for s in stack_sets}
    done: dict[str, StackSet] = {}

    def visit(stack_set: StackSet) -> None:
        if stack_set.arn in done:
            return
        for arn in stack_set.auto_deployment.get("DependsOn") or []:
            if arn in by_arn:
                visit(by_arn[arn])
        done[stack_set.arn] = stack_set

    for stack_set in stack_sets:
        visit(stack_set)   # the dependencies form no cycle: check_dependencies refuses one
    return list(done.values())


def check_dependencies(backend, stack_set_arn: str, depends_on: list[str]) -> None:
    """Refuse a DependsOn that names an unknown stack set, the stack set itself, or closes a cycle (errors
    AWS does not document: chosen as ValidationError)."""
    known = {s.arn: s for region in _management_regions(backend.account_id) for s in region.org_stack_sets.values()}
    for arn in depends_on:
        if arn not in known:
            raise ValidationError(message=f"DependsOn: stack set {arn} not found")
    seen, stack = set(), list(depends_on)
    while stack:
        arn = stack.pop()
        if arn == stack_set_arn:
            raise ValidationError(message=f"DependsOn: stack set {stack_set_arn} would depend on itself")
        if arn not in seen and arn in known:
            seen.add(arn)
            stack.extend(known[arn].auto_deployment.get("DependsOn") or [])


def _management_regions(account_id: str) -> list:
    """The CloudFormation backends of ``account_id`` (the management account's hold the stack sets), one per
    region used so far (read without creating the others)."""
    from moto.cloudformation.models import cloudformation_backends

    regions = cloudformation_backends[account_id]
    return [dict.get(regions, r) for r in list(regions.keys()) if dict.get(regions, r) is not None]


def _auto_deploy(org, stack_set: StackSet, account_id: str, old: str | None, new: str | None,
                 failed_dependency: str | None = None) -> str | None:
    """The automatic deployment of ``stack_set`` for the account; its operation's status, or None (no work)."""
    target = next((ou for ou in org.ancestors(new) if ou in stack_set.ous), None) if new else None
    mine = [i for i in stack_set.instances.values() if i.account == account_id]
    if target is not None:
        for i in mine:
            i.ou = target
        missing = [r for r in stack_set.regions if (account_id, r) not in stack_set.instances]
        if not missing:
            return None
        operation = _operation(stack_set, "CREATE", {}, automatic=True)
        work = []
        for region in missing:
            stack_set.instances[(account_id, region)] = Instance(account_id, region, target, stack_set.id)
            work.append(stack_set.instances[(account_id, region)])
        if failed_dependency:
            return _cancel(operation, work, DEPENDENCY_FAILED.format(failed_dependency))
        _run(stack_set, operation, work, lambda i: _deploy(stack_set, i))
        return operation.outcome
    if mine and old is not None:
        retain = stack_set.auto_deployment.get("RetainStacksOnAccountRemoval", False)
        operation = _operation(stack_set, "DELETE", {"RetainStacks": retain}, automatic=True)
        if failed_dependency:
            return _cancel(operation, mine, DEPENDENCY_FAILED.format(failed_dependency))
        _run(stack_set, operation, mine, lambda i: _remove(stack_set, i, retain))
        return operation.outcome
    return None


def _cancel(operation: Operation, work: list[Instance], reason: str) -> str:
    for instance in work:
        instance.last_operation = operation.id
        _result(operation, instance, "CANCELLED", reason)
    operation.outcome, operation.reason, operation.ended = "FAILED", reason, utcnow()
    return operation.outcome


def register() -> None:
    from ..organizations import models

    if on_account_moved not in models.LISTENERS:
        models.LISTENERS.append(on_account_moved)
