"""Executing a change set the way CloudFormation does: resource by resource, with events and rollback.

moto's ExecuteChangeSet applies the template in one call: no resource events, no outputs for a stack
created through a change set, and an exception from any resource leaves the stack in
``REVIEW_IN_PROGRESS`` while the API call fails.  ``run`` instead:

* CREATE: ``CREATE_IN_PROGRESS`` for the stack, then ``CREATE_IN_PROGRESS`` / ``CREATE_COMPLETE`` per
  resource in dependency order; a resource that fails gets ``CREATE_FAILED`` with the reason, the stack
  goes ``ROLLBACK_IN_PROGRESS``, the resources already created are deleted (``DELETE_*`` events) and
  it ends ``ROLLBACK_COMPLETE`` (``ROLLBACK_FAILED`` when a deletion fails);
* UPDATE: additions and modifications first (``CREATE_*`` / ``UPDATE_*`` events).  A modification whose
  changed properties the provider schema marks create-only replaces the resource: a new one is created,
  what refers to it is updated to the new one, and the old one is deleted in
  ``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`` (with what the new template drops); any other modification is
  applied in place (``updates``), keeping the physical id.  A failure gets ``CREATE_FAILED`` /
  ``UPDATE_FAILED``, then ``UPDATE_ROLLBACK_IN_PROGRESS``: resources updated in place get their previous
  properties back, replaced ones their previous physical resource, new ones are deleted, and the stack
  ends ``UPDATE_ROLLBACK_COMPLETE`` with its previous template, parameters and outputs;
* DELETE (DeleteStack): every resource in reverse dependency order, ``DELETE_FAILED`` when one cannot be
  deleted;
* a resource the control API was told to fail (``forced``) fails with the reason given;
* the outputs are rebuilt from the template the stack ends with;
* a managed policy is detached before it is deleted, as CloudFormation does (moto's model is not);
* when a Service Catalog launch role's session is acting (``iam.enforcement``), each resource operation
  is first authorized as AWS would authorize it (``iam.requests``): the read and update handlers'
  requests before an update, the delete handler's before a deletion, the create handler's right after
  moto created the resource (which is deleted again when one is refused, as AWS creates nothing); a
  refused request fails the resource with the AccessDenied message (and the stack rolls back).

Resource types moto does not model are reported ``CREATE_COMPLETE`` with the reason "not simulated by
the local endpoint" and have no physical resource (a ``Ref`` to one yields nothing).  Execution is
synchronous: the stack has reached its final state when ExecuteChangeSet returns.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.cloudformation.models import Event, Stack
from moto.cloudformation.parsing import OutputMap as MotoOutputMap
from moto.cloudformation.parsing import ResourceMap as MotoResourceMap
from moto.cloudformation.parsing import clean_json, resource_class_from_type
from moto.core.exceptions import ServiceException
from moto.ec2 import models as ec2_models
from moto.ec2.models.core import TaggedEC2Resource

from generator.errors import AccessDenied, ResourceFailed

from ..iam import enforcement, requests as iam_requests
from . import forced, updates
from .changes import referenced

NOT_SIMULATED = "local endpoint: {type} is not simulated (moto has no model of it); no physical resource"


def _unmodelled_getatt(output: Any, resources: dict[str, Any]) -> bool:
    getatt = (output.get("Value") or {}).get("Fn::GetAtt") if isinstance(output.get("Value"), dict) else None
    name = getatt[0] if isinstance(getatt, list) else None
    return bool(name) and name in resources and not resource_class_from_type(resources[name].get("Type", ""))


class ResourceMap(MotoResourceMap):
    """moto's, except that an output reading an attribute of a type moto does not model is not an error
    (moto crashes with AttributeError; AWS accepts the template), and that its values (DescribeStackResources)
    are the resources that exist, never creating one nor listing a resource moto does not model."""

    def values(self):  # type: ignore[override]
        return [v for k, v in self._parsed_resources.items()
                if k in self._resource_json_map and _is_model(v)]

    def validate_outputs(self) -> None:
        template = self._template
        outputs = template.get("Outputs") or {}
        kept = {k: v for k, v in outputs.items() if not _unmodelled_getatt(v, self._resource_json_map)}
        self._template = dict(template, Outputs=kept)
        try:
            super().validate_outputs()
        finally:
            self._template = template


class OutputMap(MotoOutputMap):
    """moto's, except that an output whose value cannot be computed locally (it reads a resource that is
    not simulated) is left out instead of failing DescribeStacks."""

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except (ServiceException, AttributeError, KeyError, TypeError):
            return None


def _without_no_value(value: Any) -> Any:
    """``value`` without what ``AWS::NoValue`` stands for (moto resolves it to None), at any depth: "Removes
    the corresponding resource property when specified as a return value in the Fn::If intrinsic function"
    (*Pseudo parameters reference*, AWS::NoValue), in a list the item."""
    if isinstance(value, dict):
        return {k: _without_no_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_no_value(v) for v in value if v is not None]
    return value


def previous_inputs(stack: Stack, parameters: dict[str, Any]) -> dict[str, str]:
    """The parameters as the caller gave them: moto turns ``UsePreviousValue`` into the *resolved* previous
    value (a list for a list type, the SSM value for an SSM-typed one); use the previous input instead (the
    value given, or the template's default when none was)."""
    out = {}
    resolved = stack.stack_parameters if stack.template_dict else {}
    defaults = {k: spec["Default"] for k, spec in ((stack.template_dict or {}).get("Parameters") or {}).items()
                if isinstance(spec, dict) and "Default" in spec}
    previous = {**defaults, **stack.parameters}
    for key, value in parameters.items():
        if key in previous and key in resolved and value == resolved[key] and not isinstance(value, str):
            value = previous[key]
        elif key in previous and key in resolved and value == resolved[key] \
                and value != previous[key] and _is_ssm_typed(stack, key):
            value = previous[key]
        out[key] = value if isinstance(value, str) else _as_input(value)
    return out


def _is_ssm_typed(stack: Stack, key: str) -> bool:
    spec = (stack.template_dict.get("Parameters") or {}).get(key) or {}
    return str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::")


def _as_input(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


# ----------------------------------------------------------------------------------------------- events

def resource_event(stack: Stack, logical_id: str, resource_type: str, status: str, reason: str | None = None,
                   physical_id: str | None = None) -> None:
    event = Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
                  physical_resource_id=physical_id or "", resource_type=resource_type, resource_status=status,
                  resource_status_reason=reason, resource_properties=None)
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _physical(resource: Any) -> str | None:
    value = getattr(resource, "physical_resource_id", None)
    return None if value is None else str(value)


def _reason(err: BaseException) -> str:
    message = getattr(err, "message", None) or str(err) or type(err).__name__
    code = getattr(err, "code", None) or getattr(err, "error_type", None)
    text = f"{message} ({code})" if isinstance(code, str) and code not in message else message
    if not isinstance(code, str):  # not an AWS error: moto's template engine broke on this resource
        text = f"local endpoint (moto) could not handle this resource: {type(err).__name__}: {message}"
    return text[:1000]


def _failing_resource(err: BaseException, default: str) -> str:
    """The innermost resource moto was creating when ``err`` was raised (a dependency may fail first)."""
    tb, found = err.__traceback__, default
    while tb is not None:
        name = tb.tb_frame.f_locals.get("logical_id")
        if isinstance(name, str):
            found = name
        tb = tb.tb_next
    return found


def _detach_managed_policy(policy: Any, stack: Stack) -> None:
    """CloudFormation detaches a managed policy from its roles, users and groups before deleting it; moto's
    model deletes it still attached, and the role's deletion then fails with DeleteConflict."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    iam = iam_backends[stack.account_id][get_partition(stack.region_name)]
    for entity in [*iam.roles.values(), *iam.users.values(), *iam.groups.values()]:
        if getattr(policy, "arn", None) in entity.managed_policies:
            policy.detach_from(entity)


def _detach_role_policies(role: Any, stack: Stack) -> None:
    """CloudFormation's delete handler of AWS::IAM::Role detaches the role's managed policies and deletes its
    inline ones before it deletes the role (its provider schema's delete permissions:
    iam:ListAttachedRolePolicies, iam:DetachRolePolicy, iam:ListRolePolicies, iam:DeleteRolePolicy); IAM
    refuses to delete a role with policies (DeleteConflict)."""
    from moto.iam.models import iam_backends
    from moto.utilities.utils import get_partition

    iam = iam_backends[stack.account_id][get_partition(stack.region_name)]
    for arn in list(getattr(role, "managed_policies", {})):
        iam.detach_role_policy(arn, role.name)


_BEFORE_DELETE = {"AWS::IAM::ManagedPolicy": _detach_managed_policy, "AWS::IAM::Role": _detach_role_policies}


def _final_snapshot(kind: str, instance: Any, stack: Stack, logical_id: str) -> None:
    """``DeletionPolicy``/``UpdateReplacePolicy: Snapshot``: "For resources that support snapshots, such as
    AWS::EC2::Volume, specify Snapshot to have CloudFormation create a snapshot before deleting the resource"
    (*DeletionPolicy attribute*, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
    Only volumes are modelled here; the other types that support it are not simulated."""
    if kind != "AWS::EC2::Volume":
        return
    ec2 = ec2_models.ec2_backends[stack.account_id][stack.region_name]
    ec2.create_snapshot(instance.id, f"final snapshot of {logical_id} ({instance.id}) of stack {stack.name}")


# ----------------------------------------------------------------------------------------------- runner

def dependency_order(resources: dict[str, Any]) -> list[str]:
    """Logical ids of ``resources``, each after what it depends on (``DependsOn`` and references)."""
    seen: set[str] = set()
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in seen or name not in resources:
            return
        seen.add(name)
        depends = resources[name].get("DependsOn") or []
        for dependency in ([depends] if isinstance(depends, str) else list(depends)) + \
                sorted(referenced(resources[name].get("Properties"))):
            visit(dependency)
        ordered.append(name)

    for name in resources:
        visit(name)
    return ordered


def applied(stack: Stack) -> dict[str, dict[str, Any]]:
    """The resolved properties each resource of ``stack`` was last created or updated with, by logical id."""
    store = getattr(stack, "_local_applied", None)
    if store is None:
        store = {}
        stack._local_applied = store  # type: ignore[attr-defined]
    return store


def _is_model(instance: Any) -> bool:
    return instance is not None and not isinstance(instance, (str, list, dict, int, float))


class Operation:
    """One execution of a change set on a stack."""

    def __init__(self, backend: Any, stack: Stack, change_set: Any):
        self.backend = backend
        self.stack = stack
        self.change_set = change_set
        self.template = change_set.template_dict
        self.verb = change_set.change_set_type  # CREATE | UPDATE
        self.created: list[str] = []             # logical ids created by this operation, in order
        self.modified: list[tuple[str, dict[str, Any], dict[str, Any]]] = []  # (id, old props, new props)
        self.replaced: list[tuple[str, Any, dict[str, Any], dict[str, Any]]] = []  # (id, old model, json, props)
        self.announced: set[str] = set()

    # -- helpers
    @property
    def rmap(self) -> ResourceMap:
        return self.stack.resource_map

    def kind(self, logical_id: str) -> str:
        resources = {**(self.stack.template_dict.get("Resources") or {}), **(self.template.get("Resources") or {})}
        return (resources.get(logical_id) or {}).get("Type", "")

    def event(self, logical_id: str, status: str, reason: str | None = None, physical_id: str | None = None) -> None:
        resource = self.rmap._parsed_resources.get(logical_id) if physical_id is None else None
        resource_event(self.stack, logical_id, self.kind(logical_id), status, reason,
                       physical_id or _physical(resource))

    def stack_event(self, status: str, reason: str | None = None) -> None:
        self.stack.status = status
        self.stack._add_stack_event(status, resource_status_reason=reason)

    def present(self, logical_id: str) -> bool:
        resource = self.rmap._resource_json_map.get(logical_id) or {}
        condition = resource.get("Condition")
        return not condition or bool(self.rmap.lazy_condition_map[condition])

    def order(self) -> list[str]:
        """Present resources, each after what it depends on (``DependsOn`` and references), else in template order."""
        return [r for r in dependency_order(self.rmap._resource_json_map) if self.present(r)]

    def resolved(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties in the current template, resolved against the stack as it is now."""
        props = copy.deepcopy(self.rmap._resource_json_map[logical_id].get("Properties") or {})
        try:
            resolved = clean_json(props, self.rmap)
        except Exception:  # noqa: BLE001 - a reference moto cannot resolve: compare as written
            return props
        return _without_no_value(resolved) if isinstance(resolved, dict) else {}

    def forced(self, logical_id: str, action: str) -> None:
        reason = forced.failure(self.stack.name, logical_id, self.kind(logical_id), action)
        if reason:
            raise ResourceFailed(logical_id, reason)

    def authorize(self, op: str, logical_id: str, instance: Any, props: dict[str, Any],
                  old_props: dict[str, Any] | None = None, changed: list[str] | None = None,
                  kind: str | None = None, snapshot: bool = False) -> None:
        """The handler ``op``'s requests for this resource, as the acting launch role (if any); ``snapshot``:
        the deletion keeps a final snapshot."""
        caller = enforcement.current()
        if caller is None:
            return
        kind = kind or self.kind(logical_id)
        raw = ((self.rmap._resource_json_map.get(logical_id) or {}).get("Properties") or {})
        props = iam_requests.with_unresolved(props, raw)
        view = iam_requests.StackView(self.stack, self.rmap, applied(self.stack))
        where = {"stack": self.stack.name, "logical_id": logical_id, "type": kind, "handler": op}
        for need, request in iam_requests.resource_requests(view, caller.role_arn, op, logical_id, kind, instance,
                                                            props, old_props,
                                                            set(changed) if changed is not None else None,
                                                            snapshot):
            try:
                enforcement.authorize(request, {**where, "why": need.why})
            except AccessDenied as err:
                raise ResourceFailed(logical_id, enforcement.handler_message(err)) from err
            if need.why == "service-linked-role":
                iam_requests.ensure_service_linked_role(view, *need.targets[0].value)

    def _authorize_created(self, logical_ids: list[str]) -> None:
        """Authorize the create handler of resources moto just created; on a refusal none of them stays."""
        try:
            for logical_id in logical_ids:
                self.authorize("create", logical_id, self.rmap._parsed_resources.get(logical_id),
                               self.resolved(logical_id))
        except ResourceFailed:
            for logical_id in reversed(logical_ids):
                instance = self.rmap._parsed_resources.pop(logical_id, None)
                if _is_model(instance):
                    self._discard(logical_id, instance, self.rmap._resource_json_map.get(logical_id) or {})
            raise

    def _discard(self, logical_id: str, instance: Any, resource_json: dict[str, Any]) -> None:
        """Remove a resource moto created that AWS would not have (no events: it never existed)."""
        try:
            if not updates.delete(resource_json.get("Type", ""), instance, self.resolved_json(resource_json),
                                  self.stack.account_id, self.stack.region_name):
                self.rmap._delete_resource(instance, resource_json)
        except Exception:  # noqa: BLE001 - best effort: moto's models raise anything
            pass

    def resolved_json(self, resource_json: dict[str, Any]) -> dict[str, Any]:
        try:
            resolved = clean_json(copy.deepcopy(resource_json.get("Properties") or {}), self.rmap)
        except Exception:  # noqa: BLE001 - see resolved()
            return {}
        return resolved if isinstance(resolved, dict) else {}

    # -- CREATE / DELETE of one resource
    def create(self, logical_id: str) -> None:
        """Create one resource (moto creates what it refers to first: those get their events too)."""
        if logical_id in self.announced:
            return
        self.rmap._parsed_resources.pop(logical_id, None)  # a resource that is new now has no model yet
        before = set(self.rmap._parsed_resources)
        self.event(logical_id, "CREATE_IN_PROGRESS")
        self.forced(logical_id, "CREATE")
        try:
            instance = self.rmap[logical_id]
        # moto's models raise anything (their own errors, KeyError, TypeError ...): each is a failed resource
        except Exception as err:  # noqa: BLE001
            raise ResourceFailed(_failing_resource(err, logical_id), _reason(err)) from err
        dependencies = [k for k in self.rmap._parsed_resources if k not in before and k != logical_id
                        and k not in self.announced and k in self.rmap._resource_json_map]
        self._authorize_created(dependencies + [logical_id])
        for dependency in dependencies:
            self._created(dependency, None)
        self._created(logical_id, instance)

    def _created(self, logical_id: str, instance: Any) -> None:
        self.announced.add(logical_id)
        self.created.append(logical_id)
        kind = self.rmap._resource_json_map[logical_id]["Type"]
        props = applied(self.stack)[logical_id] = self.resolved(logical_id)
        updates.created(kind, self.rmap._parsed_resources.get(logical_id), props)
        if instance is None and logical_id not in self.rmap._parsed_resources and not resource_class_from_type(kind):
            self.event(logical_id, "CREATE_COMPLETE", NOT_SIMULATED.format(type=kind))
            return
        self._tag(logical_id, self.rmap._parsed_resources.get(logical_id))
        self.event(logical_id, "CREATE_COMPLETE")

    def _tag(self, logical_id: str, instance: Any) -> None:
        if isinstance(instance, TaggedEC2Resource):  # as moto's ResourceMap.create tags EC2 resources
            tags = dict(self.rmap.tags, **{"aws:cloudformation:logical-id": logical_id})
            ec2_models.ec2_backends[self.stack.account_id][self.stack.region_name].create_tags(
                [instance.physical_resource_id], tags)

    def delete(self, logical_id: str, resource_json: dict[str, Any], instance: Any = None,
               old_props: dict[str, Any] | None = None) -> None:
        """Delete the resource ``logical_id`` is now (or ``instance``: the old one of a replaced resource)."""
        current = instance is None
        instance = self.rmap._parsed_resources.get(logical_id) if current else instance
        if not _is_model(instance):
            if current and logical_id in applied(self.stack):  # a type moto does not simulate: AWS still asks
                try:
                    self.authorize("delete", logical_id, None, applied(self.stack)[logical_id],
                                   kind=resource_json.get("Type"),
                                   snapshot=resource_json.get("DeletionPolicy") == "Snapshot")
                except ResourceFailed as failed:
                    self.event(logical_id, "DELETE_FAILED", failed.reason)
                    raise
            if current:
                self.rmap._parsed_resources.pop(logical_id, None)
                applied(self.stack).pop(logical_id, None)
            return
        physical = _physical(instance)
        self.event(logical_id, "DELETE_IN_PROGRESS", physical_id=physical)
        policy = "UpdateReplacePolicy" if not current else "DeletionPolicy"
        if resource_json.get(policy) in ("Retain", "RetainExceptOnCreate") and self.verb == "UPDATE":
            if current:
                self.rmap._parsed_resources.pop(logical_id, None)
            self.event(logical_id, "DELETE_SKIPPED", physical_id=physical)
            return
        try:
            self.forced(logical_id, "DELETE")
            props = old_props if old_props is not None else applied(self.stack).get(logical_id, {})
            self.authorize("delete", logical_id, instance, props, kind=resource_json.get("Type"),
                           snapshot=resource_json.get(policy) == "Snapshot")
            before = _BEFORE_DELETE.get(resource_json.get("Type"))
            if before:
                before(instance, self.stack)
            if resource_json.get(policy) == "Snapshot":
                _final_snapshot(resource_json.get("Type", ""), instance, self.stack, logical_id)
            props = old_props if old_props is not None else applied(self.stack).get(logical_id, {})
            if not updates.delete(resource_json.get("Type", ""), instance, props, self.stack.account_id,
                                  self.stack.region_name):
                self.rmap._delete_resource(instance, resource_json)
        except ResourceFailed as failed:
            self.event(logical_id, "DELETE_FAILED", failed.reason, physical_id=physical)
            raise
        except Exception as err:  # noqa: BLE001 - see create()
            self.event(logical_id, "DELETE_FAILED", _reason(err), physical_id=physical)
            raise ResourceFailed(logical_id, _reason(err)) from err
        if current:
            self.rmap._parsed_resources.pop(logical_id, None)
            applied(self.stack).pop(logical_id, None)
        self.event(logical_id, "DELETE_COMPLETE", physical_id=physical)

    # -- UPDATE of one resource: in place or by replacement
    def update(self, logical_id: str) -> None:
        """Update a resource the change set modifies, as CloudFormation does.

        *Update behaviors of stack resources*
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html):
        a change that needs no replacement updates the resource and keeps its physical id; a replacement
        "creates the replacement resource first, changes references from other dependent resources to
        point to the replacement resource, and then deletes the old resource during the cleanup phase".
        """
        kind = self.kind(logical_id)
        old_type = ((self.stack.template_dict.get("Resources") or {}).get(logical_id) or {}).get("Type", kind)
        old_props = applied(self.stack).get(logical_id, {})
        new_props = self.resolved(logical_id)
        changed = sorted(p for p in set(old_props) | set(new_props) if old_props.get(p) != new_props.get(p))
        replace = old_type != kind or updates.replaces(kind, changed, old_props, new_props)
        self.event(logical_id, "UPDATE_IN_PROGRESS",
                   "Requested update requires the creation of a new physical resource; hence creating one."
                   if replace else None)
        self.forced(logical_id, "UPDATE")
        instance = self.rmap._parsed_resources.get(logical_id)
        self.authorize("read", logical_id, instance, old_props)
        if not replace:
            self.authorize("update", logical_id, instance, new_props, old_props, changed)
        if replace:
            self._replace(logical_id, old_props, new_props)
        else:
            self._update_in_place(logical_id, old_props, new_props, changed)
        applied(self.stack)[logical_id] = new_props
        self.event(logical_id, "UPDATE_COMPLETE")

    def _replace(self, logical_id: str, old_props: dict[str, Any], new_props: dict[str, Any]) -> None:
        kind = self.kind(logical_id)
        name_property = updates.custom_name_property(kind)
        if name_property and name_property in new_props and new_props.get(name_property) == old_props.get(name_property):
            # *CloudFormation resource custom naming*
            # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html): "You
            # can't perform an update that causes a custom-named resource to be replaced"; the error as the
            # Knowledge Center quotes it: https://repost.aws/knowledge-center/cloudformation-custom-name
            raise ResourceFailed(logical_id, "CloudFormation cannot update a stack when a custom-named resource "
                                             f"requires replacing. Rename {new_props[name_property]} and update "
                                             "the stack again.")
        old_json = (self.stack.template_dict.get("Resources") or {}).get(logical_id) or {}
        old = self.rmap._parsed_resources.pop(logical_id, None)
        try:
            instance = self.rmap[logical_id]
        except Exception as err:  # noqa: BLE001 - see create()
            if old is not None:
                self.rmap._parsed_resources[logical_id] = old
            raise ResourceFailed(_failing_resource(err, logical_id), _reason(err)) from err
        try:
            self._authorize_created([logical_id])
        except ResourceFailed:
            if old is not None:
                self.rmap._parsed_resources[logical_id] = old
            raise
        self.replaced.append((logical_id, old, old_json, old_props))
        updates.created(kind, instance, new_props)
        self._tag(logical_id, instance)

    def _update_in_place(self, logical_id: str, old_props: dict[str, Any], new_props: dict[str, Any],
                         changed: list[str]) -> None:
        instance = self.rmap._parsed_resources.get(logical_id)
        if not _is_model(instance) or not changed:
            self.modified.append((logical_id, old_props, new_props))
            return
        try:
            result = updates.apply(self.kind(logical_id), logical_id, instance, old_props, new_props, changed,
                                   self.rmap, self.stack.account_id, self.stack.region_name)
        except Exception as err:  # noqa: BLE001 - see create()
            self.modified.append((logical_id, old_props, new_props))  # may be half-updated: put it back too
            raise ResourceFailed(_failing_resource(err, logical_id), _reason(err)) from err
        if result is not None:
            self.rmap._parsed_resources[logical_id] = result
        self.modified.append((logical_id, old_props, new_props))

    # -- switching the resource map between templates
    def load(self, template: dict[str, Any], parameters: dict[str, Any]) -> None:
        rmap = self.rmap
        rmap._template = template
        rmap.input_parameters = parameters
        rmap.resolved_parameters = {}
        rmap.load_mapping()
        rmap.load_parameters()
        rmap.load_conditions()
        rmap._resource_json_map = template["Resources"]

    def finish(self, template: dict[str, Any], body: str, parameters: dict[str, Any]) -> None:
        """The stack's template, parameters, outputs and exports are those of ``template``."""
        stack, backend = self.stack, self.backend
        for export in stack.exports:
            backend.exports.pop(export.name, None)
        stack.template = body
        stack.template_dict = template
        stack.description = template.get("Description")
        stack.parameters = dict(parameters)
        stack.output_map = OutputMap(self.rmap, template, stack.stack_id)
        for export in stack.exports:
            backend.exports[export.name] = export

    # -- CREATE
    def run_create(self) -> bool:
        stack, cs = self.stack, self.change_set
        stack.tags = dict(cs.tags or stack.tags or {})
        stack.role_arn = cs.role_arn or stack.role_arn
        self.stack_event("CREATE_IN_PROGRESS", "User Initiated")
        stack.template_dict = self.template
        stack.resource_map = ResourceMap(stack.stack_id, stack.name, cs.parameters, stack.tags,
                                         account_id=stack.account_id, region_name=stack.region_name,
                                         template=self.template, cross_stack_resources=self.backend.exports)
        applied(stack).clear()
        self.rmap.load()
        self.rmap.tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id})
        try:
            for logical_id in self.order():
                self.create(logical_id)
        except ResourceFailed as failed:
            self.event(failed.logical_id, "CREATE_FAILED", failed.reason)
            self.stack_event("ROLLBACK_IN_PROGRESS", f"The following resource(s) failed to create: "
                                                     f"[{failed.logical_id}]. Rollback requested by user.")
            ok = self._delete_all(reversed(self.created))
            stack.template, stack.parameters = cs.template, dict(cs.parameters)
            stack.output_map = OutputMap(self.rmap, {}, stack.stack_id)  # a rolled-back stack has no outputs
            self.stack_event("ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED")
            return False
        self.finish(self.template, cs.template, cs.parameters)
        self.stack_event("CREATE_COMPLETE")
        return True

    def _delete_all(self, logical_ids) -> bool:
        ok = True
        for logical_id in list(logical_ids):
            try:
                self.delete(logical_id, self.rmap._resource_json_map[logical_id])
            except ResourceFailed:
                ok = False
        return ok

    # -- UPDATE
    def run_update(self) -> bool:
        stack, cs = self.stack, self.change_set
        old_template, old_body, old_parameters = stack.template_dict, stack.template, dict(stack.parameters)
        changes = {c.logical_resource_id: c for c in cs.changes}
        self.stack_event("UPDATE_IN_PROGRESS", "User Initiated")
        self.load(self.template, cs.parameters)
        try:
            for logical_id in self.order():
                change = changes.get(logical_id)
                if change is None:
                    continue
                if change.action == "Add":
                    self.create(logical_id)
                elif change.action == "Modify" and logical_id not in self.announced:
                    self.announced.add(logical_id)
                    self.update(logical_id)
        except ResourceFailed as failed:
            adding = failed.logical_id in changes and changes[failed.logical_id].action == "Add"
            self.event(failed.logical_id, "CREATE_FAILED" if adding else "UPDATE_FAILED", failed.reason)
            self.stack_event("UPDATE_ROLLBACK_IN_PROGRESS",
                             f"The following resource(s) failed to {'create' if adding else 'update'}: "
                             f"[{failed.logical_id}]. ")
            return self._roll_back_update(old_template, old_body, old_parameters)
        self.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        old_resources = old_template.get("Resources") or {}
        replaced = {r[0]: r for r in self.replaced}
        removed = {c.logical_resource_id for c in cs.changes if c.action == "Remove"}
        # old resources go dependents first (an attachment before the instance it attaches to)
        for logical_id in reversed(dependency_order(old_resources)):
            try:
                if logical_id in replaced:
                    _lid, old, old_json, old_props = replaced[logical_id]
                    self.delete(logical_id, old_json, instance=old, old_props=old_props)
                elif logical_id in removed:
                    self.delete(logical_id, old_resources[logical_id])
            except ResourceFailed:
                # AWS leaves what it cannot delete in cleanup running, no longer part of the stack, and
                # completes the update ("Update behaviors of stack resources")
                if logical_id in removed:
                    self.rmap._parsed_resources.pop(logical_id, None)
                    applied(self.stack).pop(logical_id, None)
        stack.tags = dict(cs.tags) if cs.tags else stack.tags
        stack.role_arn = cs.role_arn or stack.role_arn
        self.finish(self.template, cs.template, cs.parameters)
        self.stack_event("UPDATE_COMPLETE")
        return True

    def _roll_back_update(self, old_template: dict[str, Any], old_body: str, old_parameters: dict[str, Any]) -> bool:
        """Back to the previous configuration: *Monitoring the progress of a stack update*
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-monitor-stack.html):
        "If a resource update fails, AWS CloudFormation rolls back any resources that it has updated during
        the upgrade to their configurations before the update"; new resources go in the rollback cleanup."""
        ok = True
        new_json = dict(self.rmap._resource_json_map)
        self.load(old_template, old_parameters)
        store = applied(self.stack)
        discard = []
        for logical_id, old, _old_json, old_props in reversed(self.replaced):
            discard.append((logical_id, self.rmap._parsed_resources.get(logical_id), store.get(logical_id, {})))
            self.rmap._parsed_resources[logical_id] = old
            store[logical_id] = old_props
        for logical_id, old_props, new_props in reversed(self.modified):
            self.event(logical_id, "UPDATE_IN_PROGRESS")
            instance = self.rmap._parsed_resources.get(logical_id)
            changed = sorted(p for p in set(old_props) | set(new_props) if old_props.get(p) != new_props.get(p))
            try:
                if changed:
                    self.authorize("update", logical_id, instance, old_props, new_props, changed)
                if _is_model(instance) and changed:
                    result = updates.apply(self.kind(logical_id), logical_id, instance, new_props, old_props,
                                           changed, self.rmap, self.stack.account_id, self.stack.region_name)
                    if result is not None:
                        self.rmap._parsed_resources[logical_id] = result
            except ResourceFailed as failed:
                self.event(logical_id, "UPDATE_FAILED", failed.reason)
                ok = False
                continue
            except Exception as err:  # noqa: BLE001 - see create()
                self.event(logical_id, "UPDATE_FAILED", _reason(err))
                ok = False
                continue
            store[logical_id] = old_props
            self.event(logical_id, "UPDATE_COMPLETE")
        self.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for logical_id, instance, new_props in discard:
            try:
                self.delete(logical_id, new_json.get(logical_id) or {}, instance=instance, old_props=new_props)
            except ResourceFailed:
                ok = False
        for logical_id in reversed(self.created):
            try:
                self.delete(logical_id, new_json[logical_id])
            except ResourceFailed:
                ok = False
        self.finish(old_template, old_body, old_parameters)
        self.stack_event("UPDATE_ROLLBACK_COMPLETE" if ok else "UPDATE_ROLLBACK_FAILED")
        return False

    # -- DELETE of the whole stack
    def run_delete(self) -> bool:
        """DeleteStack: every resource in reverse dependency order; ``DELETE_FAILED`` when one cannot go."""
        stack = self.stack
        self.stack_event("DELETE_IN_PROGRESS", "User Initiated")
        failed = []
        for logical_id in reversed([r for r in self.order() if r in self.rmap._parsed_resources]):
            resource_json = self.rmap._resource_json_map[logical_id]
            if resource_json.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
                self.event(logical_id, "DELETE_SKIPPED")
                self.rmap._parsed_resources.pop(logical_id, None)
                continue
            try:
                self.delete(logical_id, resource_json)
            except ResourceFailed as failure:
                failed.append(failure)
        if failed:
            self.stack_event("DELETE_FAILED", "The following resource(s) failed to delete: "
                                              f"[{', '.join(f.logical_id for f in failed)}]. ")
            return False
        self.stack_event("DELETE_COMPLETE")
        return True


def run(backend: Any, stack: Stack, change_set: Any) -> bool:
    """Execute ``change_set`` on ``stack``; True when it completed, False when it was rolled back."""
    operation = Operation(backend, stack, change_set)
    return operation.run_create() if change_set.change_set_type == "CREATE" else operation.run_update()


def delete(backend: Any, stack: Stack) -> bool:
    """Delete every resource of ``stack`` (events included); False when one could not be deleted."""
    return Operation(backend, stack, _NoChangeSet(stack)).run_delete()


class _NoChangeSet:
    """What an Operation needs of a change set when it deletes a stack."""

    def __init__(self, stack: Stack):
        self.template_dict = stack.template_dict or {"Resources": {}}
        self.change_set_type = "DELETE"
        self.changes: list[Any] = []
