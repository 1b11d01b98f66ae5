"""What the compliance report shows besides verdicts: short names of sets of scenarios, and property values.

**Scenarios.**  A template's scenarios are every combination of the values of its scenario parameters
(``generator.compliance.scenarios``).  :class:`Space` names any set of them by what its members share:
the set is covered by boxes (one value set per parameter), each named by the values it fixes —
``PROD, PHI=YES`` — leaving out the parameters it takes every value of; every scenario is
``all scenarios``.  A value is written alone where it cannot be mistaken (``PROD``), else with its
parameter (``PHI=YES``); the empty value and the "any other value" of an unconstrained parameter are
written ``KeyName empty`` and ``KeyName set``.  :meth:`Space.columns` groups the scenarios that give the
same verdicts, so scenarios a parameter does not change share a column.

**Values** (:func:`show`) are one line each: intrinsic functions as ``${Ref}`` / ``${Res.Attr}``, Fn::Sub
as its text, security-group rules as ``CidrIp 10.0.0.0/16 → tcp 443``, policy statements as
``Allow s3:GetObject on ${Bucket.Arn}/*``, anything else as compact ``{Key: value}`` text, cut at
:data:`MAX_VALUE` characters.  Everything is deterministic: same inputs, same text.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from generator.compliance import scenarios as sc

ALL = "all scenarios"
MAX_VALUE = 160
MAX_ACTIONS = 6
NOT_SET = "(not set)"
# Values that say nothing without their parameter's name.
PLAIN = {"YES", "NO", "TRUE", "FALSE", "ON", "OFF", "ENABLED", "DISABLED", "NONE"}


# --- sets of scenarios ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Space:
    """The scenarios of one template: its scenario parameters, their values, and each scenario's values."""

    params: tuple[tuple[str, tuple[str, ...]], ...]    # (name, values), in the order of the labels
    labels: tuple[str, ...]                            # every scenario, in evaluation order
    points: Mapping[str, tuple[str, ...]]              # label -> its value of each parameter

    @classmethod
    def of(cls, template: Mapping, labels: Sequence[str]) -> "Space":
        """The space of ``template`` whose scenarios the lint pass labelled ``labels``.  Labels that are not
        the template's scenarios (a lint result of another template) are named as they are."""
        params = sc.scenario_parameters(template)
        points = {sc.label(a): tuple(a[k] for k in params) for a in sc.scenarios(template, cap=10 ** 6)}
        if set(labels) != set(points):
            return cls((("scenario", tuple(labels)),), tuple(labels), {x: (x,) for x in labels})
        return cls(tuple((k, tuple(v)) for k, v in params.items()), tuple(labels), points)

    def assignment(self, label: str) -> dict[str, str]:
        return dict(zip((name for name, _ in self.params), self.points[label]))

    def describe(self, labels: Iterable[str]) -> str:
        """What the scenarios ``labels`` share, e.g. ``PROD, PHI=YES; TEST``; ``all scenarios`` for all of
        them.  A parameter a box takes every value of is left out of its name."""
        wanted = {self.points[x] for x in labels if x in self.points}
        if not wanted:
            return "no scenario"
        if len(wanted) == len(self.labels):
            return ALL
        parts = []
        for box in self._boxes(wanted):
            items = [" or ".join(self.value_text(name, v) for v in chosen)
                     for (name, values), chosen in zip(self.params, box) if len(chosen) < len(values)]
            parts.append(", ".join(items))
        return "; ".join(p for p in parts if p) or ALL

    def value_text(self, name: str, value: str) -> str:
        values = dict(self.params)[name]
        if name == "scenario":
            return value or "(single scenario)"
        if value == "":
            return f"{name} empty"
        if value == sc.OTHER:
            return f"{name} set" if [v for v in values if v != sc.OTHER] == [""] else f"{name}=(other)"
        elsewhere = {v for other, vs in self.params if other != name for v in vs}
        if value.upper() in PLAIN or value.isdigit() or len(value) < 2 or value in elsewhere:
            return f"{name}={value}"
        return value

    def _boxes(self, wanted: set[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
        """Boxes (a value tuple per parameter) whose union is ``wanted``, greedily grown in parameter
        order from the first scenario not yet covered."""
        domains = [values for _, values in self.params]
        boxes, covered = [], set()
        for label in self.labels:
            point = self.points[label]
            if point not in wanted or point in covered:
                continue
            box = [[v] for v in point]
            for i, values in enumerate(domains):
                for v in values:
                    if v in box[i]:
                        continue
                    trial = box[:i] + [box[i] + [v]] + box[i + 1:]
                    if all(p in wanted for p in itertools.product(*trial)):
                        box[i] = trial[i]
            box = [tuple(v for v in values if v in chosen) for values, chosen in zip(domains, box)]
            boxes.append(box)
            covered |= set(itertools.product(*box))
        return boxes

    def columns(self, signature: Mapping[str, tuple]) -> list[tuple[str, tuple[str, ...]]]:
        """``(label, scenarios)`` of each group of scenarios with the same ``signature`` (their verdicts),
        in evaluation order: a parameter that changes no signature is left out of the labels."""
        groups: dict[tuple, list[str]] = {}
        for label in self.labels:
            groups.setdefault(tuple(signature[label]), []).append(label)
        return [(self.describe(members), tuple(members)) for members in groups.values()]

    def changing(self, groups: Sequence[Sequence[str]]) -> set[str]:
        """The parameters whose value moves some scenario from one of ``groups`` to another."""
        where = {self.points[x]: i for i, members in enumerate(groups) for x in members}
        out = set()
        for i, (name, values) in enumerate(self.params):
            for point, group in where.items():
                if any(where.get(point[:i] + (v,) + point[i + 1:], group) != group for v in values):
                    out.add(name)
                    break
        return out

    def unchanging(self, groups: Sequence[Sequence[str]]) -> list[str]:
        """The scenario parameters that change no verdict (their scenarios share every column)."""
        moving = self.changing(groups)
        return [name for name, values in self.params if name not in moving and len(values) > 1 and name != "scenario"]

    def overview(self) -> str:
        """The parameters and their values: ``Environment (PROD, TEST) × PHI (YES, NO)``."""
        if not self.params or self.params[0][0] == "scenario":
            return f"{len(self.labels)} scenario(s)"
        def word(name: str, v: str) -> str:
            return self.value_text(name, v).removeprefix(f"{name}=").removeprefix(f"{name} ")
        return " × ".join(f"{name} ({', '.join(word(name, v) for v in values)})" for name, values in self.params)


# --- values ------------------------------------------------------------------------------------

def show(value: Any, limit: int = MAX_VALUE) -> str:
    """``value`` on one line (see the module docstring), at most ``limit`` characters."""
    text = NOT_SET if value is None or value is sc.NO_VALUE else _show(value)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and not v.strip():
        return json.dumps(v)   # an empty or blank string, visibly
    if isinstance(v, (str, int, float)):
        return str(v)
    if isinstance(v, list):
        if v and all(isinstance(x, Mapping) and "IpProtocol" in x for x in v):
            return "; ".join(sg_rule(x) for x in v)
        if v and all(isinstance(x, Mapping) and "Effect" in x for x in v):
            return "; ".join(statement(x) for x in v)
        return "[" + ", ".join(_item(x) for x in v) + "]" if v else "(none)"
    if isinstance(v, Mapping):
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return f"${{{arg}}}"
            if k == "Fn::GetAtt":
                return "${" + (".".join(map(str, arg)) if isinstance(arg, list) else str(arg)) + "}"
            if k == "Fn::Sub":
                return arg if isinstance(arg, str) else (str(arg[0]) if isinstance(arg, list) and arg else "?")
            if k == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
                return str(arg[0]).join(_show(x) for x in arg[1])
            if k.startswith("Fn::"):
                return f"{k[4:]}({_show(arg)})"
        if "IpProtocol" in v:
            return sg_rule(v)
        if "Effect" in v:
            return statement(v)
        if isinstance(v.get("Statement"), (list, Mapping)):
            stmts = v["Statement"] if isinstance(v["Statement"], list) else [v["Statement"]]
            return "; ".join(statement(s) if isinstance(s, Mapping) else _show(s) for s in stmts)
        return "{" + ", ".join(f"{k}: {_show(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _item(v: Any) -> str:
    """A list item: quoted where a comma in it would read as two items."""
    text = _show(v)
    return f'"{text}"' if isinstance(v, str) and ("," in text or not text) else text


def sg_rule(rule: Mapping) -> str:
    """A security-group rule: ``CidrIp 10.0.0.0/16 → tcp 443 "why"``."""
    peer = next((f"{k} {_show(rule[k])}" for k in ("CidrIp", "CidrIpv6", "SourceSecurityGroupId",
                                                   "DestinationSecurityGroupId", "SourcePrefixListId",
                                                   "DestinationPrefixListId") if k in rule), "(no peer)")
    proto = str(_show(rule.get("IpProtocol", "?"))).lower()
    lo, hi = rule.get("FromPort"), rule.get("ToPort")
    if proto in ("-1", "all"):
        ports = "all protocols"
    elif lo is None and hi is None:
        ports = proto
    else:
        ports = f"{proto} {_show(lo)}" + (f"-{_show(hi)}" if hi is not None and hi != lo else "")
    desc = rule.get("Description")
    return f"{peer} → {ports}" + (f" \"{_show(desc)}\"" if desc is not None else "")


def statement(st: Mapping) -> str:
    """A policy statement: ``Allow s3:GetObject, s3:PutObject on ${Bucket.Arn}/* to * if {...}``."""
    def listed(value: Any, cap: int = MAX_ACTIONS) -> str:
        items = value if isinstance(value, list) else [value]
        shown = ", ".join(_show(x) for x in items[:cap])
        return shown + (f" +{len(items) - cap} more" if len(items) > cap else "")

    parts = [str(st.get("Effect", "?"))]
    for key, word in (("Action", ""), ("NotAction", "all but "), ("Resource", "on "), ("NotResource", "on all but ")):
        if key in st:
            parts.append(word + listed(st[key]))
    if "Principal" in st:
        parts.append("to " + _show(st["Principal"]))
    if "Condition" in st:
        parts.append("if " + _show(st["Condition"]))
    return " ".join(parts)
