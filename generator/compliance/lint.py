"""In-process validation with cfn-lint: the rule set is loaded once and reused for every template.

Runs cfn-lint's own rules plus the project's HIPAA rules (``generator/compliance/rules/``) for every catalog
region in the same pass.  Findings are plain data (``Finding``) so that build, the compliance report
and the CLI can all use them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from generator.toolinfo import cfn_lint_version

if TYPE_CHECKING:
    from cfnlint.rules import RulesCollection

# cfn-lint itself is imported only when a template is linted: importing it costs about a second, which a
# no-change build (lint results cached, generator.pipeline.cache) does not pay.
CFN_LINT_VERSION = cfn_lint_version()

RULES_DIR = Path(__file__).resolve().parent / "rules"

SEVERITY = {"E": "error", "W": "warning", "I": "informational"}


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str
    message: str
    path: tuple = ()
    line: int = 0
    filename: str = ""
    scenario: str = ""  # the parameter assignment a HIPAA rule failed in, when it is scenario-specific

    @property
    def logical_id(self) -> str:
        if len(self.path) >= 2 and self.path[0] in ("Resources", "Outputs", "Parameters", "Conditions"):
            return str(self.path[1])
        return ""

    @property
    def path_text(self) -> str:
        return "/".join(str(p) for p in self.path)

    def describe(self, product: str = "") -> str:
        where = " ".join(x for x in (product, self.logical_id and f"[{self.logical_id}]") if x)
        loc = f"{self.filename}:{self.line}: " if self.filename else ""
        scen = f" (scenario {self.scenario})" if self.scenario else ""
        return f"{loc}{where} {self.rule_id} {self.message}{scen} at {self.path_text}".strip()

    def to_dict(self) -> dict:
        return {"rule": self.rule_id, "severity": self.severity, "message": self.message,
                "path": [str(p) for p in self.path], "logical_id": self.logical_id, "line": self.line,
                "file": self.filename, "scenario": self.scenario}


@functools.lru_cache(maxsize=None)
def load_rules(extra_dirs: tuple[str, ...] = (str(RULES_DIR),)) -> RulesCollection:
    """cfn-lint's rules plus ``extra_dirs``; loaded once per process."""
    from cfnlint.core import get_rules

    return get_rules([d for d in extra_dirs if Path(d).is_dir()], [], [])


class Linter:
    """Lint many templates with one loaded rule set, for a fixed list of regions."""

    def __init__(self, regions: Sequence[str], rules: RulesCollection | None = None):
        self.regions = list(regions)
        self.rules = rules if rules is not None else load_rules()

    def lint_text(self, text: str, filename: str = "") -> list[Finding]:
        from cfnlint.config import ConfigMixIn
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner import run_template_by_data

        template, errors = decode_str(text)
        if errors:
            return [_finding(m, filename) for m in errors]
        config = ConfigMixIn([], regions=self.regions)
        matches = run_template_by_data(template, config, self.rules)
        return sorted({_finding(m, filename) for m in matches},
                      key=lambda f: (f.rule_id, f.path_text, f.message))


def _finding(match, filename: str) -> Finding:
    from generator.compliance.hipaa import split_scenario

    rule_id = match.rule.id
    message, scenario = split_scenario(match.message)  # HIPAA rules name the scenarios they failed in
    return Finding(rule_id=rule_id, severity=SEVERITY.get(rule_id[:1], "error"), message=message,
                   path=tuple(getattr(match, "path", None) or ()), line=match.linenumber or 0,
                   filename=filename or (match.filename or ""), scenario=scenario)


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """Findings that fail a build: every error and warning (informational ones do not)."""
    return [f for f in findings if f.severity in ("error", "warning")]


__all__ = ["Finding", "Linter", "load_rules", "blocking", "CFN_LINT_VERSION", "RULES_DIR"]
