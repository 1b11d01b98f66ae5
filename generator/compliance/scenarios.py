"""Scenario evaluation: the effective template for one assignment of parameter values.

``resolve(template, {"Environment": "PROD", "PHI": "YES"})`` evaluates ``Conditions``, ``Fn::If``,
``Fn::Equals``, ``Fn::And``, ``Fn::Or``, ``Fn::Not``, ``Condition`` references, ``Ref`` to assigned
parameters and ``AWS::NoValue``, and returns the template as CloudFormation would see it: resources
and outputs whose condition is false are gone, every ``Fn::If`` is replaced by its chosen branch.

``scenarios(template)`` lists every combination of the values of the parameters the conditions depend
on (their ``AllowedValues``, or the literals they are compared with plus one "other" value), capped.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from typing import Any

from generator.errors import ScenarioError

NO_VALUE = object()
OTHER = "<other>"  # stands for "any value not compared with literally" of an unconstrained parameter
DEFAULT_CAP = 64


def label(assignment: Mapping[str, str]) -> str:
    """A short, stable name of a scenario: ``Environment=PROD,PHI=YES``."""
    return ",".join(f"{k}={v}" for k, v in assignment.items())


class _Evaluator:
    def __init__(self, template: Mapping[str, Any], params: Mapping[str, str]):
        self.template = template
        self.params = dict(params)
        self.conditions_src = template.get("Conditions", {}) or {}
        self.cache: dict[str, bool] = {}
        self.stack: list[str] = []

    def condition(self, name: str) -> bool:
        if name in self.cache:
            return self.cache[name]
        if name not in self.conditions_src:
            raise ScenarioError(f"condition {name!r} is used but not defined in Conditions")
        if name in self.stack:
            raise ScenarioError(f"condition {name!r} refers to itself: {' -> '.join(self.stack + [name])}")
        self.stack.append(name)
        value = self.boolean(self.conditions_src[name], f"Conditions/{name}")
        self.stack.pop()
        self.cache[name] = value
        return value

    def boolean(self, node: Any, where: str) -> bool:
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        if not isinstance(node, Mapping) or len(node) != 1:
            raise ScenarioError(f"{where}: not a condition expression: {node!r}")
        (fn, arg), = node.items()
        if fn == "Condition":
            return self.condition(arg)
        if fn == "Fn::Equals":
            if not isinstance(arg, list) or len(arg) != 2:
                raise ScenarioError(f"{where}: Fn::Equals takes two values, found {arg!r}")
            a, b = (self.scalar(x, where) for x in arg)
            return a == b
        if fn == "Fn::Not":
            if not isinstance(arg, list) or len(arg) != 1:
                raise ScenarioError(f"{where}: Fn::Not takes one condition, found {arg!r}")
            return not self.boolean(arg[0], where)
        if fn in ("Fn::And", "Fn::Or"):
            if not isinstance(arg, list) or not 2 <= len(arg) <= 10:
                raise ScenarioError(f"{where}: {fn} takes 2 to 10 conditions, found {arg!r}")
            values = [self.boolean(x, where) for x in arg]
            return all(values) if fn == "Fn::And" else any(values)
        raise ScenarioError(f"{where}: {fn} cannot be evaluated as a condition")

    def scalar(self, node: Any, where: str) -> Any:
        node = self.value(node, where)
        if isinstance(node, Mapping) and set(node) == {"Ref"}:
            raise ScenarioError(f"{where}: parameter {node['Ref']!r} has no value in this scenario; "
                                f"assign one (scenario parameters: {', '.join(self.params) or 'none'})")
        return node

    def value(self, node: Any, where: str) -> Any:
        """Resolve conditions, Fn::If, NoValue and Refs to assigned parameters inside any value."""
        if isinstance(node, list):
            out = [self.value(x, where) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            if fn == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if isinstance(arg, str) and arg in self.params:
                    return self.params[arg]
                return {"Ref": arg}
            if fn == "Fn::If":
                if not isinstance(arg, list) or len(arg) != 3:
                    raise ScenarioError(f"{where}: Fn::If takes [condition, then, else], found {arg!r}")
                return self.value(arg[1] if self.condition(arg[0]) else arg[2], where)
        out = {}
        for k, v in node.items():
            r = self.value(v, f"{where}/{k}")
            if r is not NO_VALUE:
                out[k] = r
        return out


def resolve(template: Mapping[str, Any], params: Mapping[str, str]) -> dict:
    """The effective template for ``params``: conditional resources and outputs dropped, Fn::If chosen."""
    ev = _Evaluator(template, params)
    out = {k: copy.deepcopy(v) for k, v in template.items()
           if k not in ("Resources", "Outputs", "Conditions")}
    out["Conditions"] = {name: ev.condition(name) for name in ev.conditions_src}
    for section in ("Resources", "Outputs"):
        kept = {}
        for logical_id, body in (template.get(section) or {}).items():
            cond = body.get("Condition") if isinstance(body, Mapping) else None
            if cond is not None and not ev.condition(cond):
                continue
            kept[logical_id] = ev.value(body, f"{section}/{logical_id}")
        out[section] = kept
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, list):
        for x in node:
            _refs(x, found)
    elif isinstance(node, Mapping):
        if set(node) == {"Ref"} and isinstance(node["Ref"], str):
            found.add(node["Ref"])
        for v in node.values():
            _refs(v, found)


def _literals_compared(conditions: Mapping[str, Any], param: str) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for x in node:
                walk(x)
        elif isinstance(node, Mapping):
            eq = node.get("Fn::Equals")
            if isinstance(eq, list) and len(eq) == 2 and {"Ref": param} in eq:
                other = eq[1] if eq[0] == {"Ref": param} else eq[0]
                if isinstance(other, (str, int, float)):
                    found.add(str(other))
            for v in node.values():
                walk(v)

    walk(conditions)
    return found


def scenario_parameters(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """The parameters the template's conditions depend on, with the values worth trying for each."""
    conditions = template.get("Conditions") or {}
    declared = template.get("Parameters") or {}
    refs: set[str] = set()
    _refs(conditions, refs)
    out: dict[str, list[str]] = {}
    for name in sorted(r for r in refs if r in declared):
        allowed = declared[name].get("AllowedValues")
        if allowed:
            out[name] = [str(v) for v in allowed]
        else:
            values = sorted(_literals_compared(conditions, name))
            default = declared[name].get("Default")
            if default is not None and str(default) not in values:
                values.append(str(default))
            out[name] = values + [OTHER]
    return out


def scenarios(template: Mapping[str, Any], cap: int = DEFAULT_CAP, name: str = "template") -> list[dict[str, str]]:
    """Every combination of the scenario parameters' values (one empty scenario when there are none)."""
    params = scenario_parameters(template)
    total = 1
    for values in params.values():
        total *= len(values)
    if total > cap:
        sizes = " x ".join(f"{k}({len(v)})" for k, v in params.items())
        raise ScenarioError(f"{name}: {total} scenarios from {sizes}, more than the cap of {cap}",
                            hint="give the parameters fewer AllowedValues or split the product")
    keys = list(params)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(params[k] for k in keys))]


def source_path(template: Mapping[str, Any], params: Mapping[str, str], path: tuple | list) -> tuple:
    """The path in the original template of ``path`` in the effective template for ``params``.

    Follows the chosen branch of every ``Fn::If`` (adding ``Fn::If``, 1 or 2 to the path) and maps list
    indexes back across items removed by ``AWS::NoValue``.  Segments below the last node that exists
    (a missing property a rule complains about) are kept as they are.
    """
    ev = _Evaluator(template, params)
    node: Any = template
    out: list = []
    segs = list(path)

    def unwrap(node: Any) -> Any:
        while (isinstance(node, Mapping) and len(node) == 1 and "Fn::If" in node
               and isinstance(node["Fn::If"], list) and len(node["Fn::If"]) == 3):
            branch = 1 if ev.condition(node["Fn::If"][0]) else 2
            out.extend(["Fn::If", branch])
            node = node["Fn::If"][branch]
        return node

    for i, seg in enumerate(segs):
        node = unwrap(node)
        if isinstance(node, list) and isinstance(seg, int):
            kept = [j for j, item in enumerate(node) if ev.value(item, "") is not NO_VALUE]
            if seg >= len(kept):
                return tuple(out + segs[i:])
            out.append(kept[seg])
            node = node[kept[seg]]
        elif isinstance(node, Mapping) and seg in node:
            out.append(seg)
            node = node[seg]
        else:
            return tuple(out + segs[i:])
    unwrap(node)
    return tuple(out)


def value_at(template: Mapping[str, Any], params: Mapping[str, str], path: tuple | list) -> Any:
    """The effective value, for ``params``, of the node at ``path`` in the original template (a path as
    :func:`source_path` gives it); ``NO_VALUE`` when the path does not exist or its node is removed."""
    node: Any = template
    for seg in path:
        if isinstance(node, list) and isinstance(seg, int) and 0 <= seg < len(node):
            node = node[seg]
        elif isinstance(node, Mapping) and seg in node:
            node = node[seg]
        else:
            return NO_VALUE
    return _Evaluator(template, params).value(node, "/".join(str(p) for p in path))
