"""What a change set will do: Add / Modify / Remove per resource, with Replacement and Details.

moto compares only the raw template JSON of each resource, so a parameter-only update shows nothing
and no change says whether it replaces the resource.  Here, as CloudFormation does:

* a resource exists on a side when it is in that side's template and its ``Condition`` holds with that
  side's parameters;
* the properties of a resource present on both sides are resolved with each side's parameters,
  pseudo parameters, mappings and conditions (``Ref`` / ``Fn::GetAtt`` of other resources stay
  symbolic: their values are not known before execution) and compared per top-level property;
* a changed property that the provider schema marks create-only means ``Replacement: True``
  (``RequiresRecreation: Always``), a partly or conditionally create-only one ``Conditional``;
* a resource referring to one that will be replaced is modified too (``Evaluation: Dynamic``,
  ``ChangeSource: ResourceReference`` or ``ResourceAttribute``), repeated until nothing more changes.

Changes to ``Metadata`` (resolved with each side's parameters, like the properties), ``DeletionPolicy``
or ``UpdateReplacePolicy`` alone are a Modify with ``Replacement: False`` and ``Scope`` naming the
attribute.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.models import Change

from .schemas import ALWAYS, CONDITIONALLY, NEVER, requires_recreation

_NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
_OTHER_ATTRIBUTES = ("Metadata", "DeletionPolicy", "UpdateReplacePolicy")


class ResourceChange(Change):
    """A ``ResourceChange`` as DescribeChangeSet returns it (moto serialises the attributes by name)."""

    def __init__(self, action: str, logical_resource_id: str, resource_type: str,
                 physical_resource_id: str | None = None, replacement: str | None = None,
                 scope: list[str] | None = None, details: list[dict[str, Any]] | None = None):
        super().__init__(action, logical_resource_id, resource_type)
        self.physical_resource_id = physical_resource_id
        self.replacement = replacement
        self.scope = scope or []
        self.details = details or []

    def as_dict(self) -> dict[str, Any]:
        return {"Action": self.action, "LogicalResourceId": self.logical_resource_id,
                "ResourceType": self.resource_type, "Replacement": self.replacement}


@dataclass
class Side:
    """One side of the comparison: a template and a loaded moto ``ResourceMap`` (parameters, conditions)."""

    template: dict[str, Any]
    resource_map: Any = None  # moto ResourceMap after load(); None for a stack not created yet
    physical_ids: dict[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, Any]:
        return (self.template or {}).get("Resources") or {}

    def present(self, logical_id: str) -> bool:
        resource = self.resources.get(logical_id)
        if resource is None or self.resource_map is None:
            return False
        condition = resource.get("Condition")
        return not condition or bool(self.resource_map.lazy_condition_map[condition])

    def resolve(self, value: Any) -> Any:
        return _resolve(value, self)


def diff(old: Side, new: Side) -> list[ResourceChange]:
    """The resource changes from ``old`` to ``new``, in the new template's order, removals last."""
    changes: dict[str, ResourceChange] = {}
    replaced: dict[str, str] = {}
    for logical_id, resource in new.resources.items():
        if not new.present(logical_id):
            continue
        if not old.present(logical_id):
            changes[logical_id] = ResourceChange("Add", logical_id, resource["Type"])
            continue
        change = _modification(logical_id, old, new)
        if change:
            changes[logical_id] = change
            if change.replacement in ("True", "Conditional"):
                replaced[logical_id] = change.replacement
    _add_dynamic(changes, replaced, old, new)
    for logical_id, resource in old.resources.items():
        if old.present(logical_id) and not new.present(logical_id):
            changes[logical_id] = ResourceChange("Remove", logical_id, resource["Type"],
                                                 physical_resource_id=old.physical_ids.get(logical_id))
    ordered = [c for c in changes.values() if c.action != "Remove"]
    return ordered + [c for c in changes.values() if c.action == "Remove"]


def _modification(logical_id: str, old: Side, new: Side) -> ResourceChange | None:
    before, after = old.resources[logical_id], new.resources[logical_id]
    kind = after["Type"]
    details, scope = [], []
    if before["Type"] != kind:
        details.append(_detail("Properties", None, ALWAYS, "DirectModification"))
        scope.append("Properties")
    else:
        old_props = old.resolve(before.get("Properties") or {})
        new_props = new.resolve(after.get("Properties") or {})
        for prop in sorted(set(old_props) | set(new_props)):
            if old_props.get(prop, _NO_VALUE) == new_props.get(prop, _NO_VALUE):
                continue
            raw_same = (before.get("Properties") or {}).get(prop) == (after.get("Properties") or {}).get(prop)
            source = "ParameterReference" if raw_same else "DirectModification"
            details.append(_detail("Properties", prop, requires_recreation(kind, prop), source,
                                   before=old_props.get(prop), after=new_props.get(prop)))
        if details:
            scope.append("Properties")
    for attribute in _OTHER_ATTRIBUTES:
        # Metadata may hold Ref and Fn::Sub of parameters ("you can use intrinsic functions ..., parameters,
        # and pseudo parameters within the metadata attribute", *Metadata attribute*): compare what they give
        if old.resolve(before.get(attribute)) != new.resolve(after.get(attribute)):
            details.append(_detail(attribute, None, NEVER, "DirectModification"))
            scope.append(attribute)
    if not details:
        return None
    return ResourceChange("Modify", logical_id, kind, physical_resource_id=old.physical_ids.get(logical_id),
                          replacement=_replacement(details), scope=scope, details=details)


def _add_dynamic(changes: dict[str, ResourceChange], replaced: dict[str, str], old: Side, new: Side) -> None:
    """Resources referring to a replaced one get its new physical id or attribute: modified too."""
    pending = dict(replaced)
    while pending:
        causing, _how = pending.popitem()
        for logical_id, resource in new.resources.items():
            if logical_id == causing or not (new.present(logical_id) and old.present(logical_id)):
                continue
            props = resource.get("Properties") or {}
            new_details = []
            for prop, value in props.items():
                source = _references(value, causing)
                if source:
                    new_details.append(_detail("Properties", prop, requires_recreation(resource["Type"], prop),
                                               source, evaluation="Dynamic", causing=causing))
            if not new_details:
                continue
            change = changes.get(logical_id)
            if change is None:
                change = changes[logical_id] = ResourceChange(
                    "Modify", logical_id, resource["Type"], physical_resource_id=old.physical_ids.get(logical_id),
                    replacement="False", scope=["Properties"])
            known = {(d["Target"].get("Name"), d.get("CausingEntity")) for d in change.details}
            added = [d for d in new_details if (d["Target"].get("Name"), d.get("CausingEntity")) not in known]
            if not added:
                continue
            change.details.extend(added)
            if "Properties" not in change.scope:
                change.scope.append("Properties")
            was = change.replacement
            # a dynamic change to a create-only property may or may not replace: CloudFormation says Conditional
            if any(d["Target"]["RequiresRecreation"] != NEVER for d in added) and was == "False":
                change.replacement = "Conditional"
            if change.replacement in ("True", "Conditional") and logical_id not in replaced:
                replaced[logical_id] = change.replacement
                pending[logical_id] = change.replacement


def _references(value: Any, target: str) -> str | None:
    if isinstance(value, dict):
        if value.get("Ref") == target:
            return "ResourceReference"
        getatt = value.get("Fn::GetAtt")
        if getatt is not None:
            name = getatt[0] if isinstance(getatt, list) else str(getatt).split(".", 1)[0]
            if name == target:
                return "ResourceAttribute"
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub[0] if isinstance(sub, list) else sub
            for var in _SUB_VAR.findall(text if isinstance(text, str) else ""):
                if var == target:
                    return "ResourceReference"
                if var.split(".", 1)[0] == target:
                    return "ResourceAttribute"
        for item in value.values():
            found = _references(item, target)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _references(item, target)
            if found:
                return found
    return None


def referenced(value: Any) -> set[str]:
    """Every name ``value`` refers to with ``Ref``, ``Fn::GetAtt`` or a ``${Name}`` / ``${Name.Attr}`` in ``Fn::Sub``."""
    found: set[str] = set()
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            found.add(value["Ref"])
        getatt = value.get("Fn::GetAtt")
        if getatt is not None:
            found.add(getatt[0] if isinstance(getatt, list) else str(getatt).split(".", 1)[0])
        sub = value.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            found.update(var.split(".", 1)[0] for var in _SUB_VAR.findall(text))
        for item in value.values():
            found |= referenced(item)
    elif isinstance(value, list):
        for item in value:
            found |= referenced(item)
    return found


def _detail(attribute: str, name: str | None, recreation: str, source: str, *, evaluation: str = "Static",
            causing: str | None = None, before: Any = None, after: Any = None) -> dict[str, Any]:
    target: dict[str, Any] = {"Attribute": attribute, "RequiresRecreation": recreation}
    if name:
        target.update(Name=name, Path=f"/Properties/{name}", AttributeChangeType="Modify")
        if before is not None and not _symbolic(before):
            target["BeforeValue"] = _text(before)
        if after is not None and not _symbolic(after):
            target["AfterValue"] = _text(after)
    detail: dict[str, Any] = {"Target": target, "Evaluation": evaluation, "ChangeSource": source}
    if causing:
        detail["CausingEntity"] = causing
    return detail


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _symbolic(value: Any) -> bool:
    if isinstance(value, dict):
        return any(k in value for k in ("Ref", "Fn::GetAtt")) or any(k.startswith("Fn::") for k in value) \
            or any(_symbolic(v) for v in value.values())
    if isinstance(value, list):
        return any(_symbolic(v) for v in value)
    return False


def _replacement(details: list[dict[str, Any]]) -> str:
    needs = {d["Target"]["RequiresRecreation"] for d in details}
    if ALWAYS in needs:
        return "True"
    if CONDITIONALLY in needs:
        return "Conditional"
    return "False"


# --------------------------------------------------------------------------- symbolic resolution

def _lookup(name: str, side: Side) -> Any:
    """A parameter or pseudo parameter's value; _NO_VALUE for AWS::NoValue; None when it is a resource."""
    if name == "AWS::NoValue":
        return _NO_VALUE
    if name in side.resources:
        return None
    rmap = side.resource_map
    if rmap is None:
        return None
    value = rmap._parsed_resources.get(name)  # parameters and pseudo parameters, as moto resolved them
    return None if value is None else value


def _resolve(value: Any, side: Side) -> Any:
    if isinstance(value, list):
        items = [_resolve(v, side) for v in value]
        return [v for v in items if v is not _NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        handler = _FUNCTIONS.get(key)
        if handler is not None:
            try:
                return handler(arg, side)
            except (KeyError, IndexError, TypeError, ValueError, AttributeError):
                return {key: arg}  # not resolvable before execution: compare as written
    out = {}
    for k, v in value.items():
        resolved = _resolve(v, side)
        if resolved is not _NO_VALUE:
            out[k] = resolved
    return out


def _ref(arg: Any, side: Side) -> Any:
    found = _lookup(arg, side)
    return {"Ref": arg} if found is None else found


def _if(arg: Any, side: Side) -> Any:
    condition, when_true, when_false = arg
    return _resolve(when_true if side.resource_map.lazy_condition_map[condition] else when_false, side)


def _join(arg: Any, side: Side) -> Any:
    delimiter, items = arg
    items = _resolve(items, side)
    if isinstance(items, list) and all(isinstance(i, (str, int, float)) for i in items):
        return delimiter.join(str(i) for i in items)
    return {"Fn::Join": [delimiter, items]}


def _sub(arg: Any, side: Side) -> Any:
    text, variables = (arg[0], dict(arg[1])) if isinstance(arg, list) else (arg, {})
    variables = {k: _resolve(v, side) for k, v in variables.items()}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name in variables and isinstance(variables[name], (str, int, float)):
            return str(variables[name])
        if "." not in name:
            found = _lookup(name, side)
            if isinstance(found, (str, int, float)):
                return str(found)
            if isinstance(found, list):
                return ",".join(map(str, found))
        return match.group(0)  # a resource (or attribute): known only at execution

    return _SUB_VAR.sub(replace, text)


def _select(arg: Any, side: Side) -> Any:
    index, items = _resolve(arg[0], side), _resolve(arg[1], side)
    if isinstance(items, list) and isinstance(index, (int, str)) and str(index).isdigit():
        return items[int(index)]
    return {"Fn::Select": [index, items]}


def _split(arg: Any, side: Side) -> Any:
    delimiter, text = arg[0], _resolve(arg[1], side)
    return text.split(delimiter) if isinstance(text, str) else {"Fn::Split": [delimiter, text]}


def _find_in_map(arg: Any, side: Side) -> Any:
    name, *path = [_resolve(a, side) for a in arg]
    result = (side.template.get("Mappings") or {})[name]
    for key in path:
        result = result[key]
    return result


def _base64(arg: Any, side: Side) -> Any:
    text = _resolve(arg, side)
    return base64.b64encode(text.encode()).decode() if isinstance(text, str) else {"Fn::Base64": text}


def _get_azs(arg: Any, side: Side) -> Any:
    region = _resolve(arg, side) or _lookup("AWS::Region", side)
    return [f"{region}{z}" for z in "abcd"]


def _keep(name: str):
    return lambda arg, side: {name: _resolve(arg, side)}


_FUNCTIONS = {
    "Ref": _ref, "Fn::If": _if, "Fn::Join": _join, "Fn::Sub": _sub, "Fn::Select": _select, "Fn::Split": _split,
    "Fn::FindInMap": _find_in_map, "Fn::Base64": _base64, "Fn::GetAZs": _get_azs,
    "Fn::GetAtt": lambda arg, side: {"Fn::GetAtt": arg},
    "Fn::ImportValue": _keep("Fn::ImportValue"), "Fn::ToJsonString": _keep("Fn::ToJsonString"),
}
