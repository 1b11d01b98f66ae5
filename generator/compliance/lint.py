"""In-process validation with cfn-lint: the rule set is loaded once and reused for every template.

Runs cfn-lint's own rules plus the project's HIPAA rules (``generator/compliance/rules/``) for every catalog
region in one pass, and returns what that pass found as plain data (``LintResult``): the findings, and
every verdict of the HIPAA rules (pass, fail, waived) in every scenario.  Build, the compliance report,
the build cache and the CLI all use that one result, so each rule is evaluated once per template.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from generator.toolinfo import cfn_lint_version

if TYPE_CHECKING:
    from cfnlint.rules import RulesCollection

# cfn-lint itself is imported only when a template is linted: importing it costs about a second, which a
# no-change build (lint results cached, generator.pipeline.cache) does not pay.
CFN_LINT_VERSION = cfn_lint_version()

RULES_DIR = Path(__file__).resolve().parent / "rules"

SEVERITY = {"E": "error", "W": "warning", "I": "informational"}


def plain_path(path: Iterable[Any]) -> tuple:
    """``path`` with plain ``str`` and ``int`` segments.  The keys of cfn-lint's decoded templates are
    ``str`` subclasses carrying line marks, which cannot be pickled, and worker processes return their
    lint results by pickle (generator.pipeline.workers)."""
    return tuple(p if type(p) is int else str(p) for p in path)


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str
    message: str
    path: tuple = ()
    line: int = 0
    filename: str = ""
    # the scenarios a HIPAA rule failed in; empty for other rules and for a template with one scenario
    scenarios: tuple[str, ...] = ()

    @property
    def logical_id(self) -> str:
        if len(self.path) >= 2 and self.path[0] in ("Resources", "Outputs", "Parameters", "Conditions"):
            return str(self.path[1])
        return ""

    @property
    def path_text(self) -> str:
        return "/".join(str(p) for p in self.path)

    @property
    def scenario_text(self) -> str:
        return "; ".join(self.scenarios)

    def describe(self, product: str = "") -> str:
        where = " ".join(x for x in (product, self.logical_id and f"[{self.logical_id}]") if x)
        loc = f"{self.filename}:{self.line}: " if self.filename else ""
        scen = f" (scenario {self.scenario_text})" if self.scenarios else ""
        return f"{loc}{where} {self.rule_id} {self.message}{scen} at {self.path_text}".strip()

    def to_dict(self) -> dict:
        return {"rule": self.rule_id, "severity": self.severity, "message": self.message,
                "path": [str(p) for p in self.path], "logical_id": self.logical_id, "line": self.line,
                "file": self.filename, "scenarios": list(self.scenarios)}


@dataclass(frozen=True)
class Verdict:
    """One verdict of one HIPAA rule on one resource in one scenario."""

    rule: str
    scenario: str
    logical_id: str
    status: str  # "pass" | "fail" | "waived"
    path: tuple  # in the original template
    message: str = ""
    reason: str = ""  # the waiver's reason

    @property
    def evidence(self) -> str:
        return f"{self.logical_id}: {'/'.join(str(p) for p in self.path[2:]) or '(resource)'}"


def _fields(record: "Finding | Verdict") -> dict:
    """A finding's or a verdict's fields as a dict (what ``dataclasses.asdict`` gives, whose deep copy
    of every value these records of strings, ints and tuples of them do not need, and which took
    most of the time of writing a lint result to the build cache)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


@dataclass(frozen=True)
class LintResult:
    """What one lint pass found in one template.

    ``findings``: cfn-lint's and the HIPAA rules' findings, sorted.  ``scenarios``: the labels of the
    template's scenarios, in evaluation order (empty when the HIPAA rules did not run: conditions that
    cannot be evaluated, E9000, or a template cfn-lint stopped on).
    ``verdicts``: every verdict of every HIPAA rule, by rule id, each rule's in evaluation order.
    """

    findings: tuple[Finding, ...] = ()
    scenarios: tuple[str, ...] = ()
    verdicts: tuple[Verdict, ...] = ()

    def to_json(self) -> dict:
        return {"findings": [_fields(f) for f in self.findings], "scenarios": list(self.scenarios),
                "verdicts": [_fields(v) for v in self.verdicts]}

    @classmethod
    def from_json(cls, data: Mapping) -> "LintResult":
        """The inverse of :meth:`to_json` (raises TypeError or KeyError on malformed data)."""
        return cls(findings=tuple(Finding(**{**f, "path": tuple(f["path"]), "scenarios": tuple(f["scenarios"])})
                                  for f in data["findings"]),
                   scenarios=tuple(data["scenarios"]),
                   verdicts=tuple(Verdict(**{**v, "path": tuple(v["path"])}) for v in data["verdicts"]))


@functools.lru_cache(maxsize=None)
def load_rules(extra_dirs: tuple[str, ...] = (str(RULES_DIR),)) -> RulesCollection:
    """cfn-lint's rules plus ``extra_dirs``; loaded once per process."""
    from cfnlint.core import get_rules

    return get_rules([d for d in extra_dirs if Path(d).is_dir()], [], [])


# cfn-lint makes a new validator class for every rule that extends the validator on every value it
# checks (``Validator.extend`` calls ``cfnlint.jsonschema.validators.create``, which defines a dataclass,
# generating and compiling its methods, each time): about a fifth of the CPU of linting the web server
# (ten benchmark variants in one process, alternating: 6.6 s without, 5.3 s with).
# The class is made of create's three arguments alone (the keyword validators, the function filter's
# settings, the function resolvers), so the same arguments may share one class.  Checked against these
# cfn-lint versions only (the same findings and verdicts with and without, tests/test_lint_pass.py);
# under any other, cfn-lint is used as it is.
SHARED_VALIDATOR_CLASSES = ("1.58.0",)


def share_validator_classes() -> bool:
    """Make cfn-lint's ``create`` keep one validator class per distinct set of arguments, in this process
    (idempotent); False, and nothing changed, under a cfn-lint version it was not checked against."""
    import cfnlint.jsonschema.validators as cfn_validators

    if CFN_LINT_VERSION not in SHARED_VALIDATOR_CLASSES:
        return False
    if hasattr(cfn_validators.create, "__wrapped__"):
        return True
    make = cfn_validators.create
    classes: dict[tuple, type] = {}

    @functools.wraps(make)
    def create(validators=None, function_filter=None, fn_resolvers=None):
        # bound methods hash and compare by their object's identity, so a rule set's validators key
        # their own classes; a filter's settings are plain values
        key = (tuple((validators or {}).items()),
               None if function_filter is None else (function_filter.add_cfn_lint_keyword,
                                                     function_filter.validate_dynamic_references,
                                                     tuple(function_filter.group_functions)),
               tuple((fn_resolvers or {}).items()))
        made = classes.get(key)
        if made is None:
            made = classes[key] = make(validators, function_filter, fn_resolvers)
        return made

    cfn_validators.create = create
    return True


class Linter:
    """Lint many templates with one loaded rule set, for a fixed list of regions."""

    def __init__(self, regions: Sequence[str], rules: RulesCollection | None = None):
        share_validator_classes()
        self.regions = list(regions)
        self.rules = rules if rules is not None else load_rules()

    def lint_text(self, text: str, filename: str = "") -> LintResult:
        """Lint ``text`` (JSON or YAML) in one cfn-lint pass, collecting the HIPAA rules' verdicts."""
        from cfnlint.config import ConfigMixIn
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner import run_template_by_data

        from generator.compliance import hipaa

        template, errors = decode_str(text)
        if errors:
            return LintResult(findings=tuple(_finding(m, filename) for m in errors))
        config = ConfigMixIn([], regions=self.regions)
        with hipaa.collecting() as collected:
            matches = list(run_template_by_data(template, config, self.rules))
        findings = sorted({_finding(m, filename) for m in matches},
                          key=lambda f: (f.rule_id, f.path_text, f.message))
        return LintResult(findings=tuple(findings), scenarios=collected.scenarios,
                          verdicts=collected.all_verdicts())


def _finding(match, filename: str) -> Finding:
    rule_id = match.rule.id
    # A HIPAA rule's match carries its finding as data (hipaa.Failure); cfn-lint copies a RuleMatch's
    # attributes onto the Match it reports (cfnlint.match.Match.__post_init__), as it does ``path``.
    failure = getattr(match, "hipaa_failure", None)
    return Finding(rule_id=rule_id, severity=SEVERITY.get(rule_id[:1], "error"),
                   message=failure.message if failure else match.message,
                   path=plain_path(getattr(match, "path", None) or ()), line=match.linenumber or 0,
                   filename=filename or (match.filename or ""),
                   scenarios=failure.scenarios if failure else ())


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """Findings that fail a build: every error and warning (informational ones do not)."""
    return [f for f in findings if f.severity in ("error", "warning")]


__all__ = ["Finding", "Verdict", "LintResult", "Linter", "load_rules", "blocking", "CFN_LINT_VERSION", "RULES_DIR"]
