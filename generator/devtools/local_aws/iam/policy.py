"""An IAM policy evaluator for the grammar the project's policies use, with AWS's evaluation order.

moto's own access control cannot judge a launch role: it evaluates only ``StringEquals`` (other
operators count as satisfied, a missing key too), authorizes every ordinary call on Resource ``*`` and
matches actions case-sensitively (research brief 13, section 6).  This module evaluates, per request
(``Request``: action, resource ARN, condition context):

* ``Effect`` Allow/Deny, ``Action``/``NotAction``, ``Resource``/``NotResource``, and (trust policies)
  ``Principal``;
* the condition operators ``String{Equals,NotEquals,EqualsIgnoreCase,NotEqualsIgnoreCase,Like,NotLike}``,
  ``Arn{Equals,Like,NotEquals,NotLike}``, ``Numeric{Equals,NotEquals,LessThan,LessThanEquals,
  GreaterThan,GreaterThanEquals}``, ``Bool`` and ``Null``, each with the ``IfExists`` suffix (not
  ``Null``) and the ``ForAnyValue:`` / ``ForAllValues:`` prefixes;
* any other operator or element is refused (``PolicyNotEvaluable``), never silently passed.

What AWS documents and this module follows, from the IAM User Guide:

* *Policy evaluation logic* (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
  "By default, all requests are implicitly denied ... An explicit allow in an identity-based or
  resource-based policy overrides this default ... An explicit deny in any policy overrides any allows."
* *IAM JSON policy elements: Action* (reference_policies_elements_action.html): "The prefix and the
  action name are case insensitive"; wildcards (``*``) may be part of the action name.
* *NotAction* (reference_policies_elements_notaction.html): it "matches everything except the specified
  list of actions".
* *Resource* (reference_policies_elements_resource.html): "wildcard characters (* and ?) within ARN
  segments (the parts separated by colons)"; "The asterisk (*) character can expand to replace
  everything within a segment, including characters like a forward slash (/)".  Resource ARNs are
  matched case-sensitively, as ``ArnLike`` is (AWS gives no general statement; see the brief).
* *Condition operators* (reference_policies_elements_condition_operators.html): a key missing from the
  request makes a condition false, except for the negated operators (``StringNotLike`` ...: true),
  ``...IfExists`` ("If the key is not present, evaluate the condition element as true") and ``Null``
  (``true``: the key is absent); ``StringEquals`` is "Exact matching, case sensitive", ``StringLike``
  has ``*`` and ``?`` "anywhere in the string", ``ArnLike`` checks "each of the six colon-delimited
  components of the ARN ... separately".
* *Condition* element (reference_policies_elements_condition.html): "Condition key names are not
  case-sensitive".
* *Multivalued context keys* (reference_policies_multi-value-conditions.html): several operators or
  keys are ANDed, several values of one key ORed (negated operators: ANDed); ``ForAllValues`` "returns
  true if every key value in the request matches at least one value in the policy. It also returns
  true if there are no keys in the request"; ``ForAnyValue`` "returns true if any one of the key values
  in the request matches any one of the condition values in the policy. For no matching key or a null
  dataset, the condition returns false."  A multivalued key used with an operator without a prefix is
  evaluated here as ``ForAnyValue`` (AWS asks for a set operator there and does not define the result).

Pure Python: no moto, no boto3; the tests and the endpoint both import it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from generator.errors import PolicyNotEvaluable

@dataclass(frozen=True)
class Request:
    """One authorization request: ``action`` (``ec2:RunInstances``) on ``resource`` (an ARN or ``*``), with
    the condition keys AWS sends (``{"aws:RequestedRegion": "us-east-1", "aws:TagKeys": ["Name"]}``) and,
    for trust and resource policies, the calling principal (``{"Service": "servicecatalog.amazonaws.com"}``)."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    principal: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "resource": self.resource, "context": dict(self.context)}
        if self.principal is not None:
            out["principal"] = dict(self.principal)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Request":
        return cls(data["action"], data["resource"], dict(data.get("context") or {}), data.get("principal"))


@dataclass(frozen=True)
class Decision:
    """``allowed``; ``explicit_deny`` when a Deny statement applied; ``statement`` names the deciding one
    (``POLICY/SID`` or ``POLICY/#index``; for an implicit deny: None)."""

    allowed: bool
    explicit_deny: bool = False
    statement: str | None = None


Policy = tuple[str, Mapping[str, Any]]   # (name shown in decisions, policy document)


def parse(document: str | Mapping[str, Any]) -> Mapping[str, Any]:
    """A policy document given as JSON text (as IAM returns it) or as a dict."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as err:
            raise PolicyNotEvaluable(f"policy document is not JSON: {err}") from None
    if not isinstance(document, Mapping):
        raise PolicyNotEvaluable(f"policy document is not a JSON object: {document!r}")
    return document


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement", [])
    found = [found] if isinstance(found, Mapping) else list(found)
    for st in found:
        if not isinstance(st, Mapping):
            raise PolicyNotEvaluable(f"a Statement entry is not an object: {st!r}")
    return found


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    """AWS's order: an explicit deny in any policy, else an allow, else the implicit deny."""
    allow = None
    for name, document in policies:
        for index, st in enumerate(statements(parse(document))):
            if not applies(st, request):
                continue
            label = f"{name}/{st.get('Sid') or '#' + str(index)}"
            effect = st.get("Effect")
            if effect == "Deny":
                return Decision(False, True, label)
            if effect != "Allow":
                raise PolicyNotEvaluable(f"{label}: Effect {effect!r}; allowed: Allow, Deny")
            allow = allow or label
    return Decision(True, False, allow) if allow else Decision(False)


def applies(st: Mapping[str, Any], request: Request) -> bool:
    """Whether statement ``st`` matches the request (its effect aside)."""
    known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition", "Principal"}
    unknown = sorted(set(st) - known)
    if unknown:
        raise PolicyNotEvaluable(f"statement {st.get('Sid', '')!r}: element(s) {unknown} are not evaluated locally; "
                                 f"evaluated: {sorted(known)}")
    if ("Action" in st) == ("NotAction" in st):
        raise PolicyNotEvaluable(f"statement {st.get('Sid', '')!r}: needs exactly one of Action, NotAction")
    if "Action" in st:
        if not any(action_matches(p, request.action) for p in _strings(st["Action"])):
            return False
    elif any(action_matches(p, request.action) for p in _strings(st["NotAction"])):
        return False
    if "Resource" in st:
        if not any(arn_matches(p, request.resource) for p in _strings(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(arn_matches(p, request.resource) for p in _strings(st["NotResource"])):
            return False
    elif "Principal" not in st:
        raise PolicyNotEvaluable(f"statement {st.get('Sid', '')!r}: an identity policy statement needs Resource "
                                 "or NotResource")
    if "Principal" in st and not principal_matches(st["Principal"], request.principal):
        return False
    return conditions_hold(st.get("Condition") or {}, request.context)


# ------------------------------------------------------------------------------------------- matching

@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), flags | re.DOTALL)


def like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """``*`` any characters, ``?`` one character, anywhere (StringLike)."""
    return bool(_glob(pattern, re.IGNORECASE if ignore_case else 0).fullmatch(value))


def action_matches(pattern: str, action: str) -> bool:
    return like(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ArnLike / Resource matching: ``*`` alone matches anything; otherwise the six colon-separated
    components are matched one by one (the last one keeps its colons)."""
    if pattern == "*":
        return True
    want, have = pattern.split(":", 5), arn.split(":", 5)
    if len(have) != 6:
        return like(pattern, arn)  # the request names no ARN: compare as strings
    if len(want) != 6:
        return False  # a pattern of fewer components never matches an ARN
    return all(like(w, h) for w, h in zip(want, have))


def principal_matches(principal: Any, caller: Mapping[str, str] | None) -> bool:
    if caller is None:
        return False
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        raise PolicyNotEvaluable(f"Principal {principal!r}: allowed: \"*\" or an object such as "
                                 "{\"Service\": \"servicecatalog.amazonaws.com\"}")
    for kind, values in principal.items():
        have = caller.get(kind)
        if have is None:
            continue
        for value in _strings(values):
            if value == "*" or value == have:
                return True
            if kind == "AWS" and _root_account(value) and _root_account(value) == _account_of(have):
                return True  # "arn:aws:iam::123456789012:root" or "123456789012": any principal of the account
    return False


def _root_account(value: str) -> str | None:
    if re.fullmatch(r"\d{12}", value):
        return value
    match = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):root", value)
    return match.group(1) if match else None


def _account_of(arn: str) -> str | None:
    match = re.match(r"arn:[^:]+:(?:iam|sts)::(\d{12}):", arn)
    return match.group(1) if match else None


# ----------------------------------------------------------------------------------------- conditions

_BASE_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "NumericEquals", "NumericNotEquals",
    "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "Bool",
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike",
            "NumericNotEquals"}


def conditions_hold(condition: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Every operator and every key of ``condition`` must hold (AND)."""
    if not isinstance(condition, Mapping):
        raise PolicyNotEvaluable(f"Condition {condition!r} is not an object")
    lowered = {str(k).lower(): v for k, v in context.items()}
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            raise PolicyNotEvaluable(f"Condition operator {operator}: {block!r} is not an object of keys")
        for key, wanted in block.items():
            if not condition_holds(operator, _strings(wanted), lowered.get(str(key).lower())):
                return False
    return True


def condition_holds(operator: str, wanted: list[str], value: Any) -> bool:
    """One operator on one key: ``wanted`` are the policy's values, ``value`` the request's (None: absent)."""
    if operator == "Null":
        present = value is not None and value != []
        return any(w.lower() == ("false" if present else "true") for w in wanted)
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise PolicyNotEvaluable(f"condition operator {operator}: unknown prefix {qualifier!r}; allowed: "
                                 "ForAnyValue:, ForAllValues:")
    if_exists = base.endswith("IfExists")
    base = base[:-len("IfExists")] if if_exists else base
    if base not in _BASE_OPERATORS:
        raise PolicyNotEvaluable(f"condition operator {operator} is not evaluated locally; evaluated: "
                                 f"{', '.join(sorted(_BASE_OPERATORS))}, Null, with IfExists, ForAnyValue:, "
                                 "ForAllValues:")
    values = None if value is None else _strings(value)
    if qualifier == "ForAllValues":
        if not values:
            return True
        return all(_single(base, wanted, v) for v in values)
    if values is None or (qualifier == "ForAnyValue" and not values):
        if if_exists:
            return True
        return base in _NEGATED and qualifier == ""
    if base in _NEGATED and qualifier == "":
        return all(_single(base, wanted, v) for v in values)
    return any(_single(base, wanted, v) for v in values)


def _single(base: str, wanted: list[str], value: str) -> bool:
    """Does one request value satisfy ``base`` against the policy values (OR; negated: none may match)?"""
    if base in _NEGATED:
        return not any(_positive(_POSITIVE_OF[base], w, value) for w in wanted)
    return any(_positive(base, w, value) for w in wanted)


_POSITIVE_OF = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
                "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
                "NumericNotEquals": "NumericEquals"}


def _positive(base: str, want: str, value: str) -> bool:
    if base == "StringEquals":
        return want == value
    if base == "StringEqualsIgnoreCase":
        return want.lower() == value.lower()
    if base == "StringLike":
        return like(want, value)
    if base in ("ArnEquals", "ArnLike"):
        return arn_matches(want, value)
    if base == "Bool":
        return want.lower() == value.lower()
    try:
        a, b = float(value), float(want)
    except ValueError:
        return False
    return {"NumericEquals": a == b, "NumericLessThan": a < b, "NumericLessThanEquals": a <= b,
            "NumericGreaterThan": a > b, "NumericGreaterThanEquals": a >= b}[base]


def _strings(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return [_text(value)]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise PolicyNotEvaluable(f"policy value {value!r} is not a string, number or boolean")


def without_statement(document: Mapping[str, Any], sid: str) -> dict[str, Any]:
    """``document`` minus the statement with Sid ``sid`` (for tests that take permissions away)."""
    kept = [st for st in statements(document) if st.get("Sid") != sid]
    return {**document, "Statement": kept}


def sids(policies: Sequence[Policy]) -> list[tuple[str, str]]:
    """``(policy name, Sid)`` of every statement that has a Sid."""
    return [(name, st["Sid"]) for name, doc in policies for st in statements(parse(doc)) if st.get("Sid")]
