"""The base of the project's HIPAA cfn-lint rules (``generator/compliance/rules/``) and their shared helpers.

Every rule is a ``HipaaRule``: it declares the resource types it applies to, its HIPAA citations, a
fix hint, and a ``check(scenario, logical_id, resource)`` that yields ``Fail(path, message)`` for the
*effective* resource of one scenario.  The base class does the rest, in cfn-lint's own pass:

- resolves the template in every scenario (``generator.compliance.scenarios``) and runs ``check`` on each
  applicable resource, giving every verdict (pass, fail, waived) with its evidence;
- maps every failing path back to the original template (through ``Fn::If`` branches and removed
  ``AWS::NoValue`` list items) so cfn-lint reports the right line;
- reports each failure once, with the scenarios it occurs in as data (``Failure``, attached to the
  RuleMatch; its message also names them, for people running plain ``cfn-lint -a``);
- hands the verdicts to the lint pass that is collecting them (``collecting()``, used by
  ``generator.compliance.lint.Linter``), from which the compliance report is built;
- honours waivers written on the resource itself, with a reason::

      Metadata: {"hipaa-catalog": {"waivers": [{"rule": "E9502", "reason": "this is the log bucket"}]}}

Rule modules import this module as ``from generator.compliance import hipaa`` (never
``from generator.compliance.hipaa import HipaaRule``: cfn-lint instantiates every rule class it finds at module level).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from contextvars import ContextVar
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from generator.blocks.catalog import METADATA_KEY
from generator.compliance import scenarios as sc
from generator.compliance.lint import Verdict, plain_path
from generator.errors import ScenarioError

SOURCE_URL = "https://github.com/hipaa-catalog/hipaa-catalog/blob/main/generator/compliance/rules"
RULE_ID = re.compile(r"^[EW]9\d{3}$")

# Every HIPAA rule class by id (filled when cfn-lint loads generator/compliance/rules/); used to validate waivers.
REGISTRY: dict[str, type] = {}


class Fail(NamedTuple):
    """A failed check: ``path`` below the resource (e.g. ``("Properties", "Encrypted")``) and why."""

    path: tuple
    message: str


class Failure(NamedTuple):
    """One finding of a HIPAA rule: where (in the original template), what (with the fix hint) and the
    scenarios it occurs in (empty for a template with a single scenario)."""

    path: tuple
    message: str
    scenarios: tuple[str, ...]

    def text(self) -> str:
        """The message cfn-lint shows: the scenarios appended for a reader of plain cfn-lint output."""
        return f"{self.message} [scenario: {'; '.join(self.scenarios)}]" if self.scenarios else self.message


class Scenario:
    """One scenario of a template: its label, assignment, effective template and the original."""

    def __init__(self, label: str, assignment: Mapping[str, str], effective: dict, source: Mapping):
        self.label = label
        self.assignment = dict(assignment)
        self.template = effective
        self.source = source
        self.resources: dict = effective.get("Resources") or {}
        self.parameters: dict = source.get("Parameters") or {}

    def of_type(self, *types: str) -> Iterator[tuple[str, dict]]:
        for lid, res in self.resources.items():
            if isinstance(res, Mapping) and res.get("Type") in types:
                yield lid, res


# --- value helpers -----------------------------------------------------------------------------

def props(resource: Mapping) -> Mapping:
    p = resource.get("Properties")
    return p if isinstance(p, Mapping) else {}


def is_true(value: Any, s: Scenario) -> tuple[bool, str]:
    """Whether ``value`` is true in every deployment; a Ref to a parameter counts only if every
    allowed value is true.  Returns ``(ok, why-not)``."""
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return True, ""
    if isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in s.parameters:
        name = value["Ref"]
        allowed = s.parameters[name].get("AllowedValues") or []
        if allowed and all(str(v).lower() == "true" for v in allowed):
            return True, ""
        return False, (f"is parameter {name}, which may be false (allowed: "
                       f"{', '.join(str(v) for v in allowed) or 'anything'})")
    if value is None:
        return False, "is not set"
    return False, f"is {_show(value)}"


def is_set(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _show(value: Any) -> str:
    if isinstance(value, Mapping) and len(value) == 1:
        (k, v), = value.items()
        return f"{k} {v}" if not isinstance(v, (list, dict)) else k
    return repr(value)


def referenced(node: Any) -> set[str]:
    """Logical ids (and parameters) a value refers to with Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, list):
            for x in n:
                walk(x)
        elif isinstance(n, Mapping):
            for k, v in n.items():
                if k == "Ref" and isinstance(v, str):
                    found.add(v)
                elif k == "Fn::GetAtt":
                    target = v[0] if isinstance(v, list) and v else (v.split(".")[0] if isinstance(v, str) else None)
                    if isinstance(target, str):
                        found.add(target)
                elif k == "Fn::Sub":
                    text = v[0] if isinstance(v, list) and v else v
                    if isinstance(text, str):
                        found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                    if isinstance(v, list) and len(v) > 1:
                        walk(v[1])
                    continue
                walk(v)

    walk(node)
    return found


def text(node: Any) -> str:
    """A value flattened to text: Ref X -> ${X}, GetAtt X.A -> ${X.A}, Sub and Join expanded."""
    if isinstance(node, (str, int, float)):
        return str(node)
    if isinstance(node, Mapping) and len(node) == 1:
        (k, v), = node.items()
        if k == "Ref":
            return f"${{{v}}}"
        if k == "Fn::GetAtt":
            return "${" + (".".join(str(x) for x in v) if isinstance(v, list) else str(v)) + "}"
        if k == "Fn::Sub":
            return v if isinstance(v, str) else (v[0] if isinstance(v, list) and v else "")
        if k == "Fn::Join" and isinstance(v, list) and len(v) == 2 and isinstance(v[1], list):
            return str(v[0]).join(text(x) for x in v[1])
    return "?"


def as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def waivers(resource: Mapping) -> list:
    meta = resource.get("Metadata") if isinstance(resource, Mapping) else None
    block = meta.get(METADATA_KEY) if isinstance(meta, Mapping) else None
    items = block.get("waivers") if isinstance(block, Mapping) else None
    return items if isinstance(items, list) else []


def waiver_reason(resource: Mapping, rule_id: str) -> str:
    """The reason of a valid waiver of ``rule_id`` on ``resource`` ("" when not waived)."""
    for w in waivers(resource):
        if isinstance(w, Mapping) and w.get("rule") == rule_id:
            reason = w.get("reason")
            if isinstance(reason, str) and reason.strip():
                return reason.strip()
    return ""


# --- scenarios, computed once per template -----------------------------------------------------

_cache: dict[str, Any] = {"template": None, "scenarios": None}


def scenarios_of(template: Mapping) -> list[Scenario]:
    """Every scenario of ``template`` (cached for the template being linted; raises ScenarioError)."""
    if _cache["template"] is template:
        return _cache["scenarios"]
    found = [Scenario(sc.label(a), a, sc.resolve(template, a), template) for a in sc.scenarios(template)]
    _cache.update(template=template, scenarios=found)
    return found


# --- the verdicts of one lint pass --------------------------------------------------------------

class Collected:
    """The scenarios and verdicts the HIPAA rules produce while cfn-lint lints one template."""

    def __init__(self) -> None:
        self.scenarios: tuple[str, ...] = ()
        self.verdicts: dict[str, list[Verdict]] = {}

    def add(self, rule_id: str, scenarios: Iterable[str], verdicts: Iterable[Verdict]) -> None:
        self.scenarios = tuple(scenarios)
        self.verdicts[rule_id] = list(verdicts)

    def all_verdicts(self) -> tuple[Verdict, ...]:
        return tuple(v for rid in sorted(self.verdicts) for v in self.verdicts[rid])


_collecting: ContextVar[Collected | None] = ContextVar("hipaa_collecting", default=None)


@contextmanager
def collecting() -> Iterator[Collected]:
    """Collect the verdicts of every HIPAA rule that cfn-lint runs inside this block (one template)."""
    collected = Collected()
    token = _collecting.set(collected)
    try:
        yield collected
    finally:
        _collecting.reset(token)


# --- the rule base class -----------------------------------------------------------------------

class HipaaRule(CloudFormationLintRule):
    """A cfn-lint rule evaluated in every scenario of the template."""

    id = ""
    shortdesc = ""
    description = ""
    source_url = SOURCE_URL
    tags = ["hipaa"]
    hipaa: ClassVar[tuple[str, ...]] = ()  # HIPAA Security Rule citations, e.g. ("164.312(a)(2)(iv)",)
    fix: ClassVar[str] = ""  # one line: what to change
    resource_types: ClassVar[tuple[str, ...]] = ()
    evidence: ClassVar[tuple[str, ...]] = ()  # the properties that show a pass, for the report

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.id:
            cls.source_url = f"{SOURCE_URL}/{cls.__name__}.py"
            REGISTRY[cls.id] = cls

    def check(self, s: Scenario, logical_id: str, resource: dict) -> Iterable[Fail]:
        return ()

    def shown(self, s: Scenario, logical_id: str, resource: dict) -> list[tuple[str, Any]]:
        """What shows this rule's verdict on a resource, for the report: ``(name, effective value)`` of
        each ``evidence`` property (None when not set).  Rules whose evidence is not a property of the
        resource itself (a rule list, another resource) override it."""
        return [(name, props(resource).get(name)) for name in self.evidence]

    def applies(self, s: Scenario) -> Iterator[tuple[str, dict]]:
        return s.of_type(*self.resource_types)

    def evaluate(self, template: Mapping) -> list[Verdict]:
        """Every verdict of this rule in every scenario of ``template``."""
        out: list[Verdict] = []
        source_resources = template.get("Resources") or {}
        for s in scenarios_of(template):
            for lid, res in self.applies(s):
                fails = list(self.check(s, lid, res))
                if not fails:
                    path = ("Resources", lid, "Properties", ", ".join(self.evidence)) if self.evidence \
                        else ("Resources", lid)
                    out.append(Verdict(self.id, s.label, str(lid), "pass", plain_path(path)))
                    continue
                reason = waiver_reason(source_resources.get(lid) or {}, self.id)
                for f in fails:
                    path = sc.source_path(template, s.assignment, ("Resources", lid) + tuple(f.path))
                    out.append(Verdict(self.id, s.label, str(lid), "waived" if reason else "fail",
                                       plain_path(path), f.message, reason))
        return out

    def failures(self, verdicts: Iterable[Verdict], every: Sequence[str]) -> list[Failure]:
        """The failing ``verdicts``, one ``Failure`` per path and message, naming the scenarios (in the
        order of ``every``) when the template has more than one."""
        grouped: dict[tuple, list[str]] = {}
        for v in verdicts:
            if v.status == "fail":
                labels = grouped.setdefault((v.path, v.message), [])
                if v.scenario not in labels:
                    labels.append(v.scenario)
        out = []
        for (path, message), labels in grouped.items():
            text_ = f"{message} (fix: {self.fix})" if self.fix else message
            scenarios = tuple(sorted(labels, key=every.index)) if any(labels) else ()
            out.append(Failure(path, text_, scenarios))
        return out

    def match(self, cfn) -> list[RuleMatch]:
        try:
            verdicts = self.evaluate(cfn.template)
            every = [s.label for s in scenarios_of(cfn.template)]
        except ScenarioError:
            return []  # E9000 reports it
        collected = _collecting.get()
        if collected is not None:
            collected.add(self.id, every, verdicts)
        return [RuleMatch(list(f.path), f.text(), hipaa_failure=f) for f in self.failures(verdicts, every)]


def rules_in(collection) -> list[HipaaRule]:
    """The HIPAA rules of a loaded cfn-lint rule collection, by id."""
    rules = collection.rules.values() if isinstance(collection.rules, dict) else collection.rules
    return sorted((r for r in rules if isinstance(r, HipaaRule)), key=lambda r: r.id)


# --- security-group helpers --------------------------------------------------------------------

OPEN_CIDRS = {"0.0.0.0/0", "::/0", "::0/0", "0::/0"}
SG_TYPES = ("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")


def sg_rules(lid: str, resource: Mapping, direction: str) -> Iterator[tuple[tuple, Mapping, set]]:
    """``(path below the resource, rule, security groups it belongs to)`` for inline and standalone rules.
    ``direction`` is "Ingress" or "Egress"."""
    p = props(resource)
    rtype = resource.get("Type")
    if rtype == "AWS::EC2::SecurityGroup":
        for i, rule in enumerate(as_list(p.get(f"SecurityGroup{direction}"))):
            if isinstance(rule, Mapping):
                yield ("Properties", f"SecurityGroup{direction}", i), rule, {lid}
    elif rtype == f"AWS::EC2::SecurityGroup{direction}":
        yield ("Properties",), p, referenced(p.get("GroupId"))


def sg_shown(lid: str, resource: Mapping, directions: Sequence[str] = ("Ingress",), key: str = "") -> list[tuple[str, Any]]:
    """The evidence of a security-group rule check (``HipaaRule.shown``), for each direction that has rules
    (inline or standalone): the rules without their descriptions, or the ``key`` of each rule; "none" when
    no direction has any."""
    out = []
    for d in directions:
        rules = [rule for _, rule, _ in sg_rules(lid, resource, d)]
        if rules:
            out.append((f"SecurityGroup{d}/{key}" if key else f"SecurityGroup{d}",
                        [r.get(key) for r in rules] if key else
                        [{k: v for k, v in r.items() if k != "Description"} for r in rules]))
    return out or [(f"SecurityGroup{directions[0]}", "none")]


def open_source(rule: Mapping, s: Scenario) -> str:
    """The internet-wide source of an ingress rule ("" if none); a parameter counts if it may be open."""
    for key in ("CidrIp", "CidrIpv6"):
        value = rule.get(key)
        if isinstance(value, str) and value in OPEN_CIDRS:
            return f"{key} {value}"
        if isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in s.parameters:
            decl = s.parameters[value["Ref"]]
            candidates = [str(v) for v in decl.get("AllowedValues") or []] + [str(decl.get("Default", ""))]
            if any(c in OPEN_CIDRS for c in candidates):
                return f"{key} parameter {value['Ref']} (may be {', '.join(sorted(OPEN_CIDRS & set(candidates)))})"
    return ""


def port_range(rule: Mapping) -> tuple[int, int] | None:
    """(from, to) of a tcp/udp rule, (0, 65535) for protocol -1, None for icmp or unknown values."""
    proto = str(rule.get("IpProtocol", "")).lower()
    if proto in ("-1", "all"):
        return 0, 65535
    if proto not in ("tcp", "udp", "6", "17"):
        return None
    try:
        lo, hi = int(rule.get("FromPort")), int(rule.get("ToPort"))
    except (TypeError, ValueError):
        return 0, 65535  # unresolvable ports: assume the worst
    if lo == -1 or hi == -1:
        return 0, 65535
    return lo, hi


def load_balancer_groups(s: Scenario) -> set[str]:
    """Security groups attached to an ELBv2 load balancer in this scenario."""
    groups: set[str] = set()
    for _, lb in s.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
        groups |= referenced(props(lb).get("SecurityGroups"))
    return groups


# --- IAM helpers -------------------------------------------------------------------------------

IAM_POLICY_TYPES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::Group",
                    "AWS::IAM::User")


def policy_statements(resource: Mapping) -> Iterator[tuple[tuple, Mapping]]:
    """``(path below the resource, statement)`` of every identity policy a resource carries."""
    p = props(resource)
    docs: list[tuple[tuple, Any]] = []
    if resource.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
        docs.append((("Properties", "PolicyDocument"), p.get("PolicyDocument")))
    for i, pol in enumerate(as_list(p.get("Policies"))):
        if isinstance(pol, Mapping):
            docs.append((("Properties", "Policies", i, "PolicyDocument"), pol.get("PolicyDocument")))
    for path, doc in docs:
        if not isinstance(doc, Mapping):
            continue
        stmts = doc.get("Statement")
        if isinstance(stmts, Mapping):
            yield path + ("Statement",), stmts
        else:
            for i, st in enumerate(as_list(stmts)):
                if isinstance(st, Mapping):
                    yield path + ("Statement", i), st


def statements_shown(resource: Mapping) -> list[tuple[str, Any]]:
    """The evidence of an IAM policy check (``HipaaRule.shown``): every statement of its identity policies."""
    return [("statements", [st for _, st in policy_statements(resource)] or "none (no identity policy)")]


def allow_statements(resource: Mapping) -> Iterator[tuple[tuple, Mapping]]:
    """The Allow statements of :func:`policy_statements`."""
    return ((path, st) for path, st in policy_statements(resource) if st.get("Effect") == "Allow")
