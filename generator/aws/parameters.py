"""Checking CloudFormation parameter values before AWS sees them: the one place for ``launch`` and ``deploy-*``.

A ``ParameterSpec`` is one parameter with its constraints, read either from Service Catalog's
DescribeProvisioningParameters answer (``from_api``, what ``launch`` and ``update`` check) or from a
template's ``Parameters`` section (``from_template``, what ``deploy-baseline`` and
``deploy-launch-role`` check).  ``problems`` lists everything wrong with a set of values at once and
``check`` refuses them with one ``ConfigError``, so a bad value never reaches a change set or a
ProvisionProduct call.

The constraints are CloudFormation's (*Parameters* section, AWS CloudFormation User Guide,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html):
``AllowedValues``, ``AllowedPattern`` (a Java regular expression that must match the whole value),
``MinLength``/``MaxLength`` for strings, ``MinValue``/``MaxValue`` for numbers; a
``ConstraintDescription`` replaces CloudFormation's default message, so the refusal shows it.  A list
type (``List<…>``, ``CommaDelimitedList``) is checked item by item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

from generator.errors import ConfigError

# Java regex classes CloudFormation patterns may use, in Python's syntax.
_JAVA_CLASSES = {
    r"\p{Lower}": "a-z", r"\p{Upper}": "A-Z", r"\p{Alpha}": "a-zA-Z", r"\p{Digit}": "0-9",
    r"\p{Alnum}": "a-zA-Z0-9", r"\p{Punct}": r"!-/:-@\[-`{-~", r"\p{Space}": r" \t\n\x0b\f\r",
    r"\p{XDigit}": "0-9a-fA-F", r"\p{Print}": r"\x20-\x7e", r"\p{Graph}": r"\x21-\x7e", r"\p{ASCII}": r"\x00-\x7f",
}


def java_pattern(pattern: str) -> re.Pattern:
    """Compile a CloudFormation AllowedPattern (a Java regex) for Python; ``\\p{…}`` classes translated."""
    py = pattern
    for java, cls in _JAVA_CLASSES.items():
        py = py.replace("[" + java, "[" + cls).replace(java, f"[{cls}]")
    py = re.sub(r"([*+?}])\+", r"\1", py)  # possessive quantifiers: same matches for a full match test
    return re.compile(py, re.DOTALL)


def _number(value, cast):
    return cast(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter and its constraints."""

    key: str
    description: str = ""
    default: str | None = None
    parameter_type: str = "String"
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str | None = None
    constraint_description: str = ""
    min_length: int | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None

    @classmethod
    def from_api(cls, p: Mapping) -> "ParameterSpec":
        """From one ``ProvisioningArtifactParameters`` item of DescribeProvisioningParameters."""
        c = p.get("ParameterConstraints", {}) or {}
        return cls(key=p["ParameterKey"], description=p.get("Description", "") or "",
                   default=p.get("DefaultValue"), parameter_type=p.get("ParameterType", "String") or "String",
                   allowed_values=tuple(c.get("AllowedValues", []) or ()),
                   allowed_pattern=c.get("AllowedPattern") or None,
                   constraint_description=c.get("ConstraintDescription", "") or "",
                   min_length=_number(c.get("MinLength"), int), max_length=_number(c.get("MaxLength"), int),
                   min_value=_number(c.get("MinValue"), float), max_value=_number(c.get("MaxValue"), float))

    @classmethod
    def from_template(cls, key: str, d: Mapping) -> "ParameterSpec":
        """From a template's ``Parameters`` entry ``key: d``."""
        default = d.get("Default")
        if isinstance(default, list):
            default = ",".join(map(str, default))
        return cls(key=key, description=str(d.get("Description", "")),
                   default=None if default is None else str(default), parameter_type=str(d.get("Type", "String")),
                   allowed_values=tuple(str(v) for v in d.get("AllowedValues", []) or ()),
                   allowed_pattern=d.get("AllowedPattern") or None,
                   constraint_description=str(d.get("ConstraintDescription", "")),
                   min_length=_number(d.get("MinLength"), int), max_length=_number(d.get("MaxLength"), int),
                   min_value=_number(d.get("MinValue"), float), max_value=_number(d.get("MaxValue"), float))

    @property
    def required(self) -> bool:
        return self.default is None

    def problem(self, value: str) -> str | None:
        """Why ``value`` breaks a constraint (None when it satisfies them all)."""
        values = [v.strip() for v in value.split(",")] if self.parameter_type.startswith(("List<", "Comma")) \
            else [value]
        for v in values:
            if self.allowed_values and v not in self.allowed_values:
                return f"{v!r} is not one of the allowed values: {', '.join(self.allowed_values)}"
            if self.min_length is not None and len(v) < self.min_length:
                return f"{v!r} is shorter than {self.min_length} characters"
            if self.max_length is not None and len(v) > self.max_length:
                return f"{v!r} is longer than {self.max_length} characters"
            if self.allowed_pattern and not java_pattern(self.allowed_pattern).fullmatch(v):
                return f"{v!r} does not match the pattern {self.allowed_pattern}"
            if self.parameter_type in ("Number", "List<Number>"):
                try:
                    n = float(v)
                except ValueError:
                    return f"{v!r} is not a number"
                if self.min_value is not None and n < self.min_value:
                    return f"{v} is below the minimum {self.min_value:g}"
                if self.max_value is not None and n > self.max_value:
                    return f"{v} is above the maximum {self.max_value:g}"
        return None


def template_specs(template: Mapping) -> list[ParameterSpec]:
    """The specs of every parameter a template declares, in its order."""
    return [ParameterSpec.from_template(k, d) for k, d in (template.get("Parameters") or {}).items()]


def problems(specs: Iterable[ParameterSpec], given: Mapping[str, str], *,
             kept: Iterable[str] | None = None) -> list[str]:
    """Everything wrong with ``given``: unknown names, values breaking a constraint, and required
    parameters (no default) that are neither given nor in ``kept`` (the names an update keeps with their
    previous value; None means every declared parameter is kept)."""
    specs = {s.key: s for s in specs}
    kept_names = set(specs) if kept is None else set(kept)
    out: list[str] = []
    for key in given:
        if key not in specs:
            out.append(f"{key}: unknown parameter; allowed: {', '.join(specs) or 'none'}")
    for key, value in given.items():
        spec = specs.get(key)
        why = spec.problem(value) if spec else None
        if why:
            rule = spec.constraint_description or spec.description
            out.append(f"{key}: {why}" + (f" — {rule}" if rule else ""))
    for spec in specs.values():
        if spec.required and spec.key not in given and spec.key not in kept_names:
            out.append(f"{spec.key}: required, no default" + (f" — {spec.description}" if spec.description else ""))
    return out


def check(specs: Iterable[ParameterSpec], given: Mapping[str, str], *, where: str, hint: str,
          kept: Iterable[str] | None = ()) -> None:
    """Refuse ``given`` with one ConfigError listing every problem (see ``problems``)."""
    found = problems(specs, given, kept=kept)
    if found:
        raise ConfigError(f"{where}: parameters refused before calling AWS:\n  " + "\n  ".join(found), hint=hint)


__all__ = ["ParameterSpec", "java_pattern", "template_specs", "problems", "check"]
