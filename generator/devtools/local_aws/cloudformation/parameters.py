"""Template parameters as CloudFormation checks them before it touches a resource.

moto applies types and defaults only (no AllowedValues, AllowedPattern, lengths, ranges or ``Rules``;
a missing value is "Missing parameter X", an unknown one is ignored).  ``check`` does what CloudFormation
does at CreateStack, UpdateStack, CreateChangeSet and when Service Catalog provisions, and raises
``ParameterRefused`` (a ``ValidationError`` for the caller) with CloudFormation's wording:

* ``Parameters: [X] must have values`` (no value and no default) and ``Parameters: [X] do not exist in
  the template`` (a value for an undeclared parameter); ``Parameter values specified for a template
  which does not require them.`` when the template declares none;
* a value breaking a constraint: ``Parameter X failed to satisfy constraint: <ConstraintDescription>``
  when the parameter has a description, else ``Parameter 'X' must be one of AllowedValues``,
  ``Parameter 'X' must match pattern P``, ``Parameter 'X' must contain at least N characters`` /
  ``at most N characters``, ``Parameter 'X' must be a number`` / ``not less than`` / ``not greater than``.
  The AllowedPattern must match the whole value;
* ``Rules``: a rule whose ``RuleCondition`` holds must have every ``Assert`` true, else the operation is
  refused with the assertion's ``AssertDescription``.

Sources (AWS):
* Parameters: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html
  (AllowedPattern, AllowedValues, ConstraintDescription, MaxLength/MinLength, MaxValue/MinValue);
* ParameterConstraints - AWS Service Catalog,
  https://docs.aws.amazon.com/servicecatalog/latest/dg/API_ParameterConstraints.html: without a
  ConstraintDescription "a parameter that has an allowed pattern of [A-Za-z0-9]+ displays ... Malformed
  input-Parameter MyParameter must match pattern [A-Za-z0-9]+", and a ConstraintDescription replaces it;
* Rules: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html
  ("If a parameter value is invalid, AWS CloudFormation does not create or update the stack"; rule
  functions Fn::And, Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn, Fn::Equals, Fn::Not, Fn::Or,
  Fn::RefAll, Fn::ValueOf, Fn::ValueOfAll).
The exact texts come from CloudFormation errors quoted in public reports (research brief
12-16-21-endpoint, section A1); the texts for MaxLength, MinValue, MaxValue and a failed Rules assertion
are not published by AWS: they follow the same form.
"""

from __future__ import annotations

import re
from typing import Any

from generator.errors import ParameterRefused, UnknowableValue


def _is_list(spec: dict[str, Any]) -> bool:
    kind = str(spec.get("Type", "String"))
    return kind.startswith("List<") or kind == "CommaDelimitedList"


def as_text(value: Any) -> str:
    """A template value as a parameter's text (``true``/``false``, lists comma-joined)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return str(value)


def values(template: dict[str, Any], given: dict[str, str], previous: dict[str, str] | None = None
           ) -> dict[str, str]:
    """Every declared parameter's input value: given, else previous (``UsePreviousValue``), else the default."""
    specs = template.get("Parameters") or {}
    if given and not specs:
        raise ParameterRefused("Parameter values specified for a template which does not require them.")
    unknown = [k for k in given if k not in specs]
    if unknown:
        raise ParameterRefused(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
    out: dict[str, str] = {}
    missing = []
    for key, spec in specs.items():
        if key in given:
            out[key] = as_text(given[key])
        elif previous and key in previous:
            out[key] = as_text(previous[key])
        elif "Default" in spec:
            out[key] = as_text(spec["Default"])
        else:
            missing.append(key)
    if missing:
        raise ParameterRefused(f"Parameters: [{', '.join(missing)}] must have values")
    return out


def check(template: dict[str, Any], given: dict[str, str], previous: dict[str, str] | None = None
          ) -> dict[str, str]:
    """The parameter values (see ``values``) after every constraint and rule of ``template`` holds."""
    result = values(template, given, previous)
    specs = template.get("Parameters") or {}
    for key, value in result.items():
        check_value(key, value, specs[key])
    check_rules(template, result)
    return result


def check_value(key: str, value: str, spec: dict[str, Any]) -> None:
    described = spec.get("ConstraintDescription")

    def fail(detail: str) -> ParameterRefused:
        if described:
            return ParameterRefused(f"Parameter {key} failed to satisfy constraint: {described}")
        return ParameterRefused(f"Parameter '{key}' {detail}")

    allowed = [as_text(a) for a in spec["AllowedValues"]] if "AllowedValues" in spec else None
    items = value.split(",") if _is_list(spec) and value else [value]
    for item in items:
        if allowed is not None and item not in allowed:
            raise fail("must be one of AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), item):
            raise fail(f"must match pattern {spec['AllowedPattern']}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise fail(f"must contain at least {spec['MinLength']} characters")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise fail(f"must contain at most {spec['MaxLength']} characters")
        if spec.get("Type") in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise fail("must be a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise fail(f"must be a number not less than {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise fail(f"must be a number not greater than {spec['MaxValue']}")


# ------------------------------------------------------------------------------------------------ Rules

def check_rules(template: dict[str, Any], inputs: dict[str, str]) -> None:
    specs = template.get("Parameters") or {}
    for name, rule in (template.get("Rules") or {}).items():
        if not isinstance(rule, dict):
            raise ParameterRefused(f"Template format error: Rule {name} must be an object")
        try:
            condition = rule.get("RuleCondition")
            if condition is not None and not _truth(condition, inputs, specs, name):
                continue
            for assertion in rule.get("Assertions") or []:
                if not _truth(assertion.get("Assert"), inputs, specs, name):
                    raise ParameterRefused(assertion.get("AssertDescription") or
                                         f"Template error: rule {name} failed: its assertion is false")
        except UnknowableValue:
            continue  # not checked locally (README): accepting is what AWS does when the value fits


def _truth(expr: Any, inputs: dict[str, str], specs: dict[str, Any], rule: str) -> bool:
    value = _evaluate(expr, inputs, specs, rule)
    if isinstance(value, bool):
        return value
    return str(value).lower() == "true"


def _evaluate(expr: Any, inputs: dict[str, str], specs: dict[str, Any], rule: str) -> Any:
    if isinstance(expr, list):
        return [_evaluate(e, inputs, specs, rule) for e in expr]
    if not isinstance(expr, dict) or len(expr) != 1:
        return expr
    (fn, arg), = expr.items()
    ev = lambda e: _evaluate(e, inputs, specs, rule)  # noqa: E731
    if fn == "Ref":
        if arg in inputs:
            spec = specs.get(arg) or {}
            return inputs[arg].split(",") if _is_list(spec) else inputs[arg]
        return arg  # a pseudo parameter such as AWS::Region is not checked here
    if fn == "Fn::Equals":
        left, right = ev(arg[0]), ev(arg[1])
        return as_text(left) == as_text(right)
    if fn == "Fn::Not":
        return not _truth(arg[0], inputs, specs, rule)
    if fn == "Fn::And":
        return all(_truth(a, inputs, specs, rule) for a in arg)
    if fn == "Fn::Or":
        return any(_truth(a, inputs, specs, rule) for a in arg)
    if fn == "Fn::Contains":
        items, item = ev(arg[0]), ev(arg[1])
        return as_text(item) in [as_text(i) for i in (items if isinstance(items, list) else [items])]
    if fn == "Fn::EachMemberEquals":
        items, item = ev(arg[0]), ev(arg[1])
        return all(as_text(i) == as_text(item) for i in (items if isinstance(items, list) else [items]))
    if fn == "Fn::EachMemberIn":
        items, allowed = ev(arg[0]), ev(arg[1])
        allowed = [as_text(a) for a in (allowed if isinstance(allowed, list) else [allowed])]
        return all(as_text(i) in allowed for i in (items if isinstance(items, list) else [items]))
    if fn == "Fn::RefAll":
        return [v for k, v in inputs.items() if (specs.get(k) or {}).get("Type") == arg]
    if fn in ("Fn::ValueOf", "Fn::ValueOfAll"):
        raise UnknowableValue(fn)  # attribute values of AWS-specific parameter types: not modelled
    raise ParameterRefused(f"Template format error: Unrecognized rule function {fn} in rule {rule}")
