"""CloudFormation backend for the local endpoint: moto's, with change sets that behave like AWS's.

``CloudFormationBackend`` subclasses moto's (``register()`` makes moto create it for every account and
region) and changes the stack operations:

* CreateChangeSet validates the template's parameters as CloudFormation does (``parameters``: allowed
  values, patterns, lengths, numbers, ``Rules``; a missing or unknown parameter, an SSM parameter that
  does not exist or an AWS-typed value naming nothing in the account (``existing``) is a
  ``ValidationError``) and its outputs, and computes the changes with
  ``changes.diff``: Modify for parameter-only updates, ``Replacement`` and ``Details`` per property;
* ExecuteChangeSet runs the create or update resource by resource with stack events, replacing or
  updating in place, rebuilds the outputs, records the stack's new template and parameters, and on a
  failing resource rolls back (``ROLLBACK_COMPLETE`` / ``UPDATE_ROLLBACK_COMPLETE``) instead of raising
  (``operations``);
* a change set can be executed once (``InvalidChangeSetStatus`` afterwards, as in AWS);
* CreateStack and UpdateStack are a change set created and executed at once (the same checks, events
  and rollback; no change set left behind), DeleteStack deletes resource by resource with events
  (``DELETE_FAILED`` when one cannot be deleted).

Service-managed stack sets are ``stacksets``; self-managed ones and the rest are moto's own.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.models import CloudFormationBackend as MotoCloudFormationBackend
from moto.cloudformation.models import ChangeSet as MotoChangeSet
from moto.cloudformation.models import Stack
from moto.cloudformation.utils import generate_changeset_id, generate_stack_id, validate_create_change_set
from moto.core.exceptions import ServiceException

from generator.errors import ParameterRefused

from . import existing, operations, parameters as template_parameters
from .changes import Side, diff
from .operations import ResourceMap


# States from which AWS refuses an update (the stack must be deleted, or its rollback continued, first).
UNUPDATABLE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED")


class InvalidChangeSetStatusException(ServiceException):
    code = "InvalidChangeSetStatus"


def load_side(stack: Stack, template: dict[str, Any], parameters: dict[str, Any], exports: Any) -> Side:
    """A moto ``ResourceMap`` for ``template`` with ``parameters``, loaded (parameters, conditions, outputs
    checked) but with no resource created; a problem is the ``ValidationError`` AWS answers with."""
    try:
        template_parameters.check(template, parameters)
    except ParameterRefused as err:
        raise ValidationError(stack.name, message=err.message) from err
    refused = existing.missing(template, parameters, stack.account_id, stack.region_name)
    if refused:
        raise ValidationError(stack.name, message=refused)
    rmap = ResourceMap(stack.stack_id, stack.name, parameters, stack.tags, account_id=stack.account_id,
                       region_name=stack.region_name, template=template, cross_stack_resources=exports)
    _check_ssm_parameters(stack, template, parameters)
    try:
        rmap.load()
    except ValidationError:
        raise
    except ServiceException as err:  # MissingParameterError, UnsupportedAttribute ...
        raise ValidationError(stack.name, message=getattr(err, "message", None) or str(err)) from err
    return Side(template, rmap)


def _check_ssm_parameters(stack: Stack, template: dict[str, Any], parameters: dict[str, Any]) -> None:
    """SSM-typed parameters must name existing SSM parameters (moto would crash with AttributeError)."""
    from moto.ssm.models import ssm_backends

    ssm = ssm_backends[stack.account_id][stack.region_name]
    missing = []
    for key, spec in (template.get("Parameters") or {}).items():
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
            name = parameters.get(key, spec.get("Default"))
            if name and ssm.get_parameter(str(name)) is None:
                missing.append(str(name))
    if missing:
        raise ValidationError(stack.name, message=f"Unable to fetch parameters [{','.join(missing)}] from "
                                                  "parameter store for this account.")


def current_side(stack: Stack) -> Side:
    """The stack as it is: its template, resource map and the physical ids of its resources."""
    if not stack.template_dict:
        return Side({}, None)
    physical = {}
    for logical_id in stack.template_dict.get("Resources", {}):
        resource = stack.resource_map._parsed_resources.get(logical_id)
        if resource is not None and hasattr(resource, "physical_resource_id"):
            physical[logical_id] = str(resource.physical_resource_id)
    return Side(stack.template_dict, stack.resource_map, physical)


class ChangeSet(MotoChangeSet):
    """moto's change set, with its changes computed by ``changes.diff`` (set by the backend)."""

    def diff(self) -> list:
        return []


class CloudFormationBackend(MotoCloudFormationBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.org_stack_sets: dict[str, Any] = {}  # service-managed stack sets (stacksets.py), by name

    def create_change_set(self, stack_name: str, change_set_name: str, template: str, parameters: dict[str, str],
                          description: str, change_set_type: str, notification_arns: list[str] | None = None,
                          tags: dict[str, str] | None = None, role_arn: str | None = None) -> tuple[str, str]:
        validate_create_change_set(change_set_name)
        stack = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if change_set_type == "UPDATE":
            if stack is None or stack.status == "REVIEW_IN_PROGRESS":
                raise ValidationError(stack_name)
            if stack.status in UNUPDATABLE:
                raise ValidationError(stack.stack_id, message=f"Stack:{stack.stack_id} is in {stack.status} "
                                                              "state and can not be updated.")
            if stack.status.endswith("_IN_PROGRESS"):
                raise ValidationError(stack.stack_id, message=f"Stack:{stack.stack_id} is in {stack.status} "
                                                              "state and can not be updated.")
            parameters = operations.previous_inputs(stack, parameters)
        elif stack is not None and stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(stack_name, message=f"Stack [{stack_name}] already exists and cannot be created "
                                                      f"again with the changeSet [{change_set_name}].")
        template_dict = Stack.parse_template(template)
        if not isinstance(template_dict, dict) or not template_dict.get("Resources"):
            raise ValidationError(stack_name, message="Template format error: At least one Resources member "
                                                      "must be defined.")
        if stack is None:
            stack = Stack(generate_stack_id(stack_name, self.region_name, self.account_id), stack_name, {},
                          parameters, self.account_id, self.region_name, notification_arns=notification_arns,
                          tags=tags, role_arn=role_arn)
            new = load_side(stack, template_dict, parameters, self.exports)  # before the stack is stored
            self.stacks[stack.stack_id] = stack
            stack.status = "REVIEW_IN_PROGRESS"
            stack._add_stack_event("REVIEW_IN_PROGRESS", resource_status_reason="User Initiated")
        else:
            new = load_side(stack, template_dict, parameters, self.exports)
        change_set = ChangeSet(change_set_type, generate_changeset_id(change_set_name, self.region_name,
                                                                      self.account_id),
                               change_set_name, stack, template, parameters, description,
                               notification_arns=notification_arns, tags=tags, role_arn=role_arn)
        old = current_side(stack) if change_set_type == "UPDATE" else Side({}, None)
        change_set.changes = diff(old, new)
        if change_set_type == "UPDATE" and stack.has_template(template) and \
                new.resource_map.resolved_parameters == stack.resource_map.resolved_parameters:
            change_set.status, change_set.execution_status = "FAILED", "UNAVAILABLE"
            change_set.status_reason = ("The submitted information didn't contain changes. Submit different "
                                        "information to create a change set.")
        else:
            change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[change_set.change_set_id] = change_set
        return change_set.change_set_id, stack.stack_id

    def execute_change_set(self, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (cs for cs in self.change_sets.values() if cs.change_set_name == change_set_name
             and stack_name in (None, cs.stack_name, cs.stack_id)), None)
        if change_set is None:
            raise ValidationError(stack_name, message=f"ChangeSet [{change_set_name}] does not exist")
        if change_set.execution_status != "AVAILABLE":
            raise InvalidChangeSetStatusException(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current status of "
                f"[{change_set.execution_status}]")
        stack = self.stacks[change_set.stack_id]
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS":
            raise InvalidChangeSetStatusException(
                f"ChangeSet [{change_set.change_set_id}] cannot be executed: stack {stack.name} is {stack.status}")
        ok = operations.run(self, stack, change_set)
        change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
        # AWS deletes the stack's other change sets once one is executed
        for cs_id, other in list(self.change_sets.items()):
            if other is not change_set and other.stack_id == stack.stack_id:
                del self.change_sets[cs_id]

    # -- CreateStack / UpdateStack / DeleteStack: what a change set does, created and executed at once
    def create_stack(self, name: str, template: str, parameters: dict[str, Any],  # type: ignore[override]
                     notification_arns: list[str] | None = None, tags: dict[str, str] | None = None,
                     role_arn: str | None = None, enable_termination_protection: bool | None = False,
                     timeout_in_mins: int | None = None, stack_policy_body: str | None = None) -> Stack:
        if any(s.name == name for s in self.stacks.values()):
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        cs_id, stack_id = self.create_change_set(name, _DIRECT, template, parameters, "", "CREATE",
                                                 notification_arns=notification_arns, tags=tags, role_arn=role_arn)
        stack = self.stacks[stack_id]
        stack.events.clear()  # CreateStack has no REVIEW_IN_PROGRESS
        stack.timeout_in_mins = timeout_in_mins
        stack.enable_termination_protection = bool(enable_termination_protection)
        self._run_direct(cs_id, stack)
        return stack

    def update_stack(self, name: str, template: str, role_arn: str | None,  # type: ignore[override]
                     parameters: list[dict[str, Any]], tags: dict[str, str] | None) -> Stack:
        stack = self.get_stack(name)
        given = {}
        for item in parameters or []:
            key = item["ParameterKey"]
            if item.get("UsePreviousValue"):
                if key not in stack.parameters:
                    raise ValidationError(stack.name, message=f"Invalid input for parameter key {key}. "
                                                              "Cannot use previous value: none was set")
                given[key] = stack.parameters[key]
            else:
                given[key] = item.get("ParameterValue", "")
        cs_id, _ = self.create_change_set(stack.name, _DIRECT, template, given, "", "UPDATE",
                                          notification_arns=stack.notification_arns, tags=tags, role_arn=role_arn)
        if self.change_sets[cs_id].status == "FAILED":
            del self.change_sets[cs_id]
            raise ValidationError(stack.name, message="No updates are to be performed.")
        self._run_direct(cs_id, stack)
        return stack

    def _run_direct(self, cs_id: str, stack: Stack) -> None:
        try:
            self.execute_change_set(cs_id, stack.stack_id)
        finally:
            self.change_sets.pop(cs_id, None)

    def delete_stack(self, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None)
        if stack is None:
            return  # AWS: deleting a stack that does not exist succeeds
        if stack.status == "REVIEW_IN_PROGRESS" or not stack.template_dict:
            super().delete_stack(stack.stack_id)
            return
        if not operations.delete(self, stack):
            return  # DELETE_FAILED: the stack stays, with what could not be deleted
        for export in stack.exports:
            self.exports.pop(export.name, None)
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for cs_id in [i for i, cs in self.change_sets.items() if cs.stack_id == stack.stack_id]:
            del self.change_sets[cs_id]


_DIRECT = "local-direct-operation"  # the change set behind a CreateStack / UpdateStack (never listed)
