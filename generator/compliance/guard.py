"""The AWS Guard Rules Registry's HIPAA Security rule set, run with cfn-guard: half of ``make scan``.

**The rule set** is vendored and pinned under ``guard_rules/`` (``generator.compliance.guard_vendor``
updates it): the registry's mapping file ``rule_set_hipaa_security.json`` and the ``.guard`` files it lists.
:func:`load_rule_set` checks every file against ``pin.json`` and joins the mapped files, in mapping order,
into one rules file, as the registry's own release build does (their ``let`` names are all distinct).

**Scenarios.**  The registry's rules do not evaluate CloudFormation conditions: a resource that exists
only in PROD, or a property chosen with ``Fn::If``, is seen correctly only in the resolved template.  So
every template is checked as written *and* in every scenario (``generator.compliance.scenarios``:
conditions evaluated, ``Fn::If`` chosen, conditional resources dropped), as the project's own rules are;
a finding that occurs only in some of these names them.

**Suppressions** are implemented by each registry rule, not by cfn-guard (which has no suppression and no
reason field): a rule skips a resource whose ``Metadata.guard.SuppressedRules`` lists its name.  The project
requires a reason for each, beside it::

    "Metadata": {"guard": {"SuppressedRules": ["S3_BUCKET_LOGGING_ENABLED"]},
                 "hipaa-catalog": {"guard-suppressions": [
                     {"rule": "S3_BUCKET_LOGGING_ENABLED", "reason": "this is the access-log bucket"}]}}

Two shapes are dangerous: an **empty list** or a **non-string entry** makes *every* registry rule skip the
resource (the rules filter with ``SuppressedRules.* != "<RULE>"``, which an empty list or a map fails), and
``Metadata.cfn_nag.rules_to_suppress`` silences 28 of the registry's rules too.  :func:`declared` finds
every such problem; lint rule E9003 refuses them, and the scan does not trust what they hide.

**What a suppression hides** is measured, not assumed: every variant is also checked with its guard and
cfn_nag metadata removed.  A finding that disappears with the metadata is *suppressed*; it is explained
only when the resource names the rule in a well-formed ``SuppressedRules`` with a reason.  Anything else is
a failure: a finding, a suppression without a reason or of a malformed shape, and a stale suppression
(one that hides nothing, e.g. of a rule name not in the rule set).

cfn-guard runs once for all variants of all templates:
``cfn-guard validate --rules <rule set> --data <file>... -o json --structured --show-summary none`` prints
one JSON list, one object per data file (``compliant``, ``not_applicable``, ``not_compliant``); exit 0 when
all pass, 19 when a rule fails.  A failing clause's resource is read from the ``path`` of the values it
checked (``/Resources/<logical id>/...``); a rule on the template as a whole is reported on ``(template)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from generator.blocks.catalog import GUARD_KEY, GUARD_REASONS_KEY, GUARD_RULES_KEY, METADATA_KEY
from generator.compliance import scenarios as sc
from generator.compliance.guard_vendor import mapped_files, rule_names
from generator.errors import ScanError, ScenarioError

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = Path(__file__).resolve().parent / "guard_rules"
PIN = "pin.json"
GUARD = ROOT / ".tools" / "cfn-guard" / "cfn-guard"   # installed by `make scan` (Makefile: GUARD)
NAME = "Guard HIPAA"
AS_WRITTEN = "as written"           # the variant with conditions unevaluated
TEMPLATE = "(template)"             # the "resource" of a rule on the whole template
CFN_NAG_KEY = "cfn_nag"
RULE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
EXIT_OK, EXIT_FAIL = 0, 19


# --- the pinned rule set -----------------------------------------------------------------------

@dataclass(frozen=True)
class RuleSet:
    registry: str
    commit: str
    mapping: str
    name: str
    version: str
    rules: tuple[str, ...]
    text: str                                   # the mapped files joined, in mapping order

    @property
    def label(self) -> str:
        return f"{self.registry}@{self.commit[:12]} {self.mapping} ({self.name} {self.version}, {len(self.rules)} rules)"

    def to_json(self) -> dict:
        return {"registry": self.registry, "commit": self.commit, "mapping": self.mapping, "name": self.name,
                "version": self.version, "rules": len(self.rules)}


def load_rule_set(directory: Path = RULES_DIR) -> RuleSet:
    """The vendored rule set, every file checked against ``pin.json``."""
    directory = Path(directory)
    hint = "restore it with `git checkout -- generator/compliance/guard_rules`, or re-vendor with `make guard-rules`"
    try:
        pin = json.loads((directory / PIN).read_text(encoding="utf-8"))
        files: dict[str, str] = pin["files"]
        bodies = {rel: (directory / rel).read_bytes() for rel in files}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScanError(f"{directory}: the vendored Guard rule set is incomplete ({exc})", hint=hint) from exc
    for rel, digest in files.items():
        if hashlib.sha256(bodies[rel]).hexdigest() != digest:
            raise ScanError(f"{directory / rel}: differs from the pinned copy of {pin.get('registry')}@"
                            f"{pin.get('commit', '')[:12]} (sha256 in {PIN})", hint=hint)
    mapping = json.loads(bodies[pin["mapping"]])
    texts = [bodies[rel].decode("utf-8") for rel in mapped_files(mapping, pin["mapping"])]
    names = tuple(n for t in texts for n in rule_names(t))
    return RuleSet(registry=pin["registry"], commit=pin["commit"], mapping=pin["mapping"], name=pin["rule_set"],
                   version=pin["version"], rules=names, text="\n".join(t.rstrip("\n") + "\n" for t in texts))


# --- suppression metadata ----------------------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    """The Guard suppressions a resource declares: the rule names, their reasons, and what is wrong."""

    rules: tuple[str, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[tuple[tuple, str], ...] = ()   # (path below the resource, message)
    silences_all: bool = False                     # a shape that makes every registry rule skip the resource

    def reason(self, rule: str) -> str:
        """The reason of a well-formed suppression of ``rule`` ("" when it is not one)."""
        return self.reasons.get(rule, "") if rule in self.rules and not self.silences_all else ""


def declared(resource: Any) -> Declared:
    """Read (and check) the Guard suppression metadata of one resource."""
    meta = resource.get("Metadata") if isinstance(resource, Mapping) else None
    if not isinstance(meta, Mapping):
        return Declared()
    problems: list[tuple[tuple, str]] = []
    rules: list[str] = []
    silences_all = False
    block = meta.get(GUARD_KEY)
    gpath = ("Metadata", GUARD_KEY)
    if block is not None:
        listed = block.get(GUARD_RULES_KEY) if isinstance(block, Mapping) else None
        if not isinstance(block, Mapping) or set(block) != {GUARD_RULES_KEY}:
            problems.append((gpath, f"must be {{\"{GUARD_RULES_KEY}\": [rule names]}} and nothing else"))
        if not isinstance(listed, list) or not listed:
            silences_all = isinstance(listed, list)
            problems.append((gpath + (GUARD_RULES_KEY,),
                             f"must be a non-empty list of rule names; found {json.dumps(listed)}"
                             + (": an empty list makes every Guard registry rule skip this resource"
                                if silences_all else "")))
        else:
            for i, name in enumerate(listed):
                where = gpath + (GUARD_RULES_KEY, i)
                if not isinstance(name, str):
                    silences_all = True
                    problems.append((where, f"{json.dumps(name)} is not a rule name: a non-string entry makes "
                                            "every Guard registry rule skip this resource"))
                elif not RULE_NAME.match(name):
                    problems.append((where, f"{name!r} is not a rule name (upper case, e.g. "
                                            "S3_BUCKET_LOGGING_ENABLED; names are case-sensitive)"))
                elif name in rules:
                    problems.append((where, f"{name} is listed twice"))
                else:
                    rules.append(name)
    if CFN_NAG_KEY in meta:
        problems.append((("Metadata", CFN_NAG_KEY), "cfn_nag suppressions also silence Guard registry rules, "
                                                    "without a reason: suppress with guard.SuppressedRules and "
                                                    f"{METADATA_KEY}.{GUARD_REASONS_KEY}"))
    reasons: dict[str, str] = {}
    own = meta.get(METADATA_KEY)
    items = own.get(GUARD_REASONS_KEY) if isinstance(own, Mapping) else None
    rpath = ("Metadata", METADATA_KEY, GUARD_REASONS_KEY)
    if items is not None and not isinstance(items, list):
        problems.append((rpath, "must be a list of {\"rule\": ..., \"reason\": ...}"))
        items = []
    for i, item in enumerate(items or []):
        rule = item.get("rule") if isinstance(item, Mapping) else None
        reason = item.get("reason") if isinstance(item, Mapping) else None
        if not isinstance(rule, str) or rule not in rules:
            problems.append((rpath + (i, "rule"), f"gives a reason for {rule!r}, which {GUARD_KEY}.{GUARD_RULES_KEY} "
                                                  "does not list"))
        elif not isinstance(reason, str) or not reason.strip():
            problems.append((rpath + (i, "reason"), f"the suppression of {rule} has no reason"))
        else:
            reasons[rule] = reason.strip()
    for i, rule in enumerate(rules):
        if rule not in reasons and not any(isinstance(x, Mapping) and x.get("rule") == rule for x in items or []):
            problems.append((gpath + (GUARD_RULES_KEY, i),
                             f"{rule} is suppressed without a reason: add {{\"rule\": \"{rule}\", \"reason\": \"why\"}} "
                             f"to {METADATA_KEY}.{GUARD_REASONS_KEY}"))
    return Declared(tuple(rules), reasons, tuple(problems), silences_all)


def without_suppressions(template: Mapping) -> dict:
    """``template`` with every resource's guard and cfn_nag metadata removed (what the rules see unsuppressed)."""
    out = copy.deepcopy(dict(template))
    for res in (out.get("Resources") or {}).values():
        meta = res.get("Metadata") if isinstance(res, dict) else None
        if isinstance(meta, dict):
            meta.pop(GUARD_KEY, None)
            meta.pop(CFN_NAG_KEY, None)
    return out


# --- reading cfn-guard's JSON ------------------------------------------------------------------

def _clauses(node: Any) -> Iterator[Mapping]:
    """Every clause of a rule's check tree that carries messages (Unary, Binary, Block)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("messages"), Mapping):
            yield node
        for key, value in node.items():
            if not (key == "value" and "path" in node):   # beside a path: template content, not checks
                yield from _clauses(value)
    elif isinstance(node, list):
        for item in node:
            yield from _clauses(item)


def _resources(node: Any, found: set[str]) -> None:
    """Logical ids of the ``path`` values (``/Resources/<id>/...``) a clause checked."""
    if isinstance(node, Mapping):
        path = node.get("path")
        if isinstance(path, str):
            if path.startswith("/Resources/"):
                found.add(path.split("/")[2])
            return   # its "value" is template content
        for key, value in node.items():
            if key != "messages":
                _resources(value, found)
    elif isinstance(node, list):
        for item in node:
            _resources(item, found)


_LOCATION = re.compile(r"\[L:\d+,C:\d+\]")


def _first_line(message: Any) -> str:
    """The ``Violation:`` line of a registry message, else cfn-guard's error up to the value it dumps
    (without line and column: the same finding reads the same in every variant)."""
    if not isinstance(message, str):
        return ""
    parts = [x.strip() for x in re.split(r"[\n;]", message) if x.strip()]
    for part in parts:
        if part.startswith("Violation:"):
            return part
    text = _LOCATION.sub("", " ".join(message.split())).split(" Value traversed to ")[0]
    return text if len(text) <= 300 else text[:297] + "..."


def failures(rule_report: Mapping) -> dict[str, str]:
    """``{logical id or TEMPLATE: message}`` of one entry of ``not_compliant``."""
    rule = rule_report.get("Rule", rule_report)
    custom: dict[str, str] = {}
    errors: dict[str, str] = {}
    for clause in _clauses(rule.get("checks", [])):
        found: set[str] = set()
        _resources(clause, found)
        for res in found or {TEMPLATE}:
            custom.setdefault(res, "")
            custom[res] = custom[res] or _first_line(clause["messages"].get("custom_message"))
            errors.setdefault(res, "")
            errors[res] = errors[res] or _first_line(clause["messages"].get("error_message"))
    if not custom:
        custom[TEMPLATE] = _first_line((rule.get("messages") or {}).get("custom_message"))
    return {res: custom[res] or errors.get(res, "") or "not compliant" for res in sorted(custom)}


@dataclass
class Verdicts:
    """cfn-guard's verdicts on one data file."""

    compliant: set[str] = field(default_factory=set)
    not_applicable: set[str] = field(default_factory=set)
    failing: dict[tuple[str, str], str] = field(default_factory=dict)   # (rule, resource) -> message


def parse(report: Any, names: Sequence[str], rules: Sequence[str]) -> dict[str, Verdicts]:
    """Verdicts per data file of cfn-guard's structured JSON; refuses output that misses a file or a rule."""
    items = report if isinstance(report, list) else [report]
    out: dict[str, Verdicts] = {}
    for item in items:
        if not isinstance(item, Mapping) or "name" not in item:
            raise ScanError(f"cfn-guard printed an unexpected report entry: {str(item)[:200]}")
        v = Verdicts(compliant=set(item.get("compliant") or []), not_applicable=set(item.get("not_applicable") or []))
        for rep in item.get("not_compliant") or []:
            rule = (rep.get("Rule", rep) if isinstance(rep, Mapping) else {}).get("name", "?")
            for res, message in failures(rep).items():
                v.failing[(rule, res)] = message
        out[str(item["name"])] = v
    for name in names:
        if name not in out:
            raise ScanError(f"cfn-guard reported nothing on {name}")
        v = out[name]
        seen = v.compliant | v.not_applicable | {r for r, _ in v.failing}
        if seen != set(rules):
            raise ScanError(f"cfn-guard did not evaluate every rule on {name} "
                            f"({len(seen)} of {len(rules)}; is it a CloudFormation template?)")
    return out


# --- the scan ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Where a result occurs among a template's variants: ``labels`` (empty: in every one) and a short
    description, e.g. ``Environment=PROD`` for all the scenarios with that value."""

    labels: tuple[str, ...] = ()
    text: str = ""

    def __str__(self) -> str:
        return self.text or "all scenarios"


@dataclass(frozen=True)
class Finding:
    """An unexplained result: a failing rule, or a suppression that cannot stand."""

    rule: str
    resource: str
    message: str
    scope: Scope = Scope()

    def describe(self) -> str:
        where = f" (only {self.scope.text})" if self.scope.text else ""
        return f"{self.rule} on {self.resource}{where}: {self.message}"

    def to_json(self) -> dict:
        return {"rule": self.rule, "resource": self.resource, "message": self.message,
                "scenarios": list(self.scope.labels), "scope": str(self.scope)}


@dataclass(frozen=True)
class Suppression:
    """A rule suppressed on a resource, with its reason, and where it hid a finding."""

    rule: str
    resource: str
    reason: str
    scope: Scope = Scope()

    def to_json(self) -> dict:
        return {"rule": self.rule, "resource": self.resource, "reason": self.reason,
                "scenarios": list(self.scope.labels), "scope": str(self.scope)}


@dataclass
class TemplateResult:
    path: Path
    sha256: str
    variants: list[str]
    passed: list[str] = field(default_factory=list)          # rules with a pass and no finding
    failed: list[Finding] = field(default_factory=list)
    suppressed: list[Suppression] = field(default_factory=list)
    not_applicable: int = 0                                  # rules that select nothing in any variant

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass
class GuardResult:
    version: str
    rule_set: RuleSet
    templates: list[TemplateResult]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.templates)


def engine_version(exe: Path = GUARD) -> str:
    """``3.1.1`` from ``cfn-guard --version``."""
    if not Path(exe).is_file():
        raise ScanError(f"{exe}: cfn-guard is not installed", hint="`make scan` installs it (pinned, sha256-checked)")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=60, check=False)
    out = proc.stdout.strip()
    if proc.returncode != 0 or not out.startswith("cfn-guard "):
        raise ScanError(f"{exe} --version failed (exit {proc.returncode}): {(proc.stderr or out).strip()[-300:]}")
    return out.split()[-1]


def read_template(path: Path) -> dict:
    """A template file (JSON, or YAML with short-form tags) as plain data."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanError(f"{path}: cannot read the template ({exc})") from exc
    errors: list = []
    try:
        template = json.loads(text)
    except json.JSONDecodeError:
        from cfnlint.decode.decode import decode_str   # YAML, short-form tags included (imported only then)

        template, errors = decode_str(text)
    if errors or not isinstance(template, Mapping) or not isinstance(template.get("Resources"), Mapping):
        why = errors[0].message if errors else "no Resources section"
        raise ScanError(f"{path}: not a CloudFormation template: {why}")
    return json.loads(json.dumps(template))


@dataclass(frozen=True)
class Variant:
    label: str
    assignment: Mapping[str, str] | None      # None: the template as written
    template: dict


def variants(template: Mapping, name: str) -> list[Variant]:
    """The template as written, then every scenario's resolved template (none without conditions)."""
    out = [Variant(AS_WRITTEN, None, dict(template))]
    try:
        assignments = sc.scenarios(template, name=name)
        if assignments != [{}]:
            out += [Variant(sc.label(a), a, sc.resolve(template, a)) for a in assignments]
    except ScenarioError as exc:
        raise ScanError(f"{name}: the scenarios cannot be evaluated: {exc}") from exc
    return out


def scope(found: Sequence[str], every: Sequence[Variant]) -> Scope:
    """The :class:`Scope` of a result found in the variants labelled ``found``."""
    if set(found) >= {v.label for v in every}:
        return Scope()
    labels = tuple(v.label for v in every if v.label in found)
    scenarios = [v for v in every if v.assignment is not None]
    hit = {v.label for v in scenarios if v.label in found}
    parts = []
    if hit and hit == {v.label for v in scenarios}:
        parts.append("every scenario")
    elif hit:
        single = [f"{k}={value}" for k in scenarios[0].assignment for value in
                  dict.fromkeys(v.assignment[k] for v in scenarios)
                  if {v.label for v in scenarios if v.assignment[k] == value} == hit]
        parts.append(single[0] if single else "; ".join(v.label for v in scenarios if v.label in hit))
    if AS_WRITTEN in found:
        parts.append(f"the template {AS_WRITTEN}")
    return Scope(labels, ", and ".join(parts))


def run(paths: Sequence[Path], exe: Path = GUARD, rule_set: RuleSet | None = None,
        jobs: int | None = None) -> GuardResult:
    """Check every template as written and in every scenario, with and without its suppressions.

    Identical data (two scenarios resolving to the same template, or a variant without suppression
    metadata) is checked once; the distinct files are shared out over ``jobs`` cfn-guard processes
    (default: one per core), since one cfn-guard works through its files one at a time."""
    if not paths:
        raise ScanError("no templates to scan", hint="run `make build` first, or name template files")
    version = engine_version(exe)
    rule_set = rule_set or load_rule_set()
    with tempfile.TemporaryDirectory(prefix="guard-") as tmp_dir:
        tmp = Path(tmp_dir).resolve()   # cfn-guard names each data file by its resolved path
        rules_file = tmp / f"{rule_set.name}.guard"
        rules_file.write_text(rule_set.text, encoding="utf-8")
        todo: list[tuple[int, str, str, str]] = []   # (template index, variant label, kind, data file)
        files: dict[str, str] = {}                    # data -> its file
        sources, every = [], []
        for t, path in enumerate(paths):
            template = read_template(path)
            sources.append(template)
            every.append(variants(template, str(path)))
            for variant in every[-1]:
                for kind, data in (("as-is", variant.template), ("bare", without_suppressions(variant.template))):
                    text = json.dumps(data, sort_keys=True)
                    if text not in files:
                        files[text] = str(tmp / f"data-{len(files)}.json")
                        Path(files[text]).write_text(text, encoding="utf-8")
                    todo.append((t, variant.label, kind, files[text]))
        verdicts = _validate(exe, rules_file, list(files.values()), rule_set, jobs)
    templates = []
    for t, path in enumerate(paths):
        mine = {(label, kind): verdicts[file] for ti, label, kind, file in todo if ti == t}
        text = Path(path).read_bytes()
        templates.append(_judge(Path(path), hashlib.sha256(text).hexdigest(), sources[t], every[t], mine, rule_set))
    return GuardResult(version=version, rule_set=rule_set, templates=templates)


def _validate(exe: Path, rules_file: Path, files: list[str], rule_set: RuleSet,
              jobs: int | None) -> dict[str, Verdicts]:
    """cfn-guard's verdicts on every data file, from ``jobs`` processes running side by side."""
    count = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    base = [str(exe), "validate", "--rules", str(rules_file), "--output-format", "json", "--structured",
            "--show-summary", "none"]
    chunks = [files[i::count] for i in range(count)]
    procs = [subprocess.Popen(base + [arg for f in chunk for arg in ("--data", f)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for chunk in chunks]
    report: list = []
    problems = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        if proc.returncode not in (EXIT_OK, EXIT_FAIL):
            problems.append(f"cfn-guard failed (exit {proc.returncode}): {(err or out).strip()[-500:]}")
            continue
        try:
            part = json.loads(out)
        except json.JSONDecodeError:
            problems.append(f"cfn-guard printed no JSON (exit {proc.returncode}): {err.strip()[-300:]}")
            continue
        report += part if isinstance(part, list) else [part]
    if problems:
        raise ScanError(problems[0])
    return parse(report, files, rule_set.rules)


def _judge(path: Path, sha256: str, template: Mapping, every: list[Variant],
           by_label: Mapping[tuple[str, str], Verdicts], rule_set: RuleSet) -> TemplateResult:
    """Findings, explained suppressions and counts of one template from its variants' verdicts."""
    labels = [v.label for v in every]
    seen: dict[tuple[str, str], dict[str, list[str]]] = {}      # (rule, res) -> {message: [labels]} (as-is)
    hidden: dict[tuple[str, str], list[str]] = {}                # findings only without the metadata
    compliant: set[str] = set()
    applicable: set[str] = set()
    for label in labels:
        actual, bare = by_label[(label, "as-is")], by_label[(label, "bare")]
        compliant |= actual.compliant
        applicable |= set(rule_set.rules) - (actual.not_applicable & bare.not_applicable)
        for key, message in actual.failing.items():
            seen.setdefault(key, {}).setdefault(message, []).append(label)
        for key in bare.failing:
            if key not in actual.failing:
                hidden.setdefault(key, []).append(label)
    resources = template.get("Resources") or {}
    decl = {lid: declared(res) for lid, res in resources.items()}
    failed: list[Finding] = []
    for (rule, res), messages in sorted(seen.items()):
        for message, where in messages.items():
            failed.append(Finding(rule, res, message, scope(where, every)))
    suppressed: list[Suppression] = []
    used: set[tuple[str, str]] = set()
    for (rule, res), where in sorted(hidden.items()):
        d = decl.get(res, Declared())
        reason = d.reason(rule)
        if reason:
            suppressed.append(Suppression(rule, res, reason, scope(where, every)))
            used.add((rule, res))
        elif res == TEMPLATE:
            failed.append(Finding(rule, res, "fails on the template as a whole, but suppressions on its "
                                             "resources silence it; fix the template instead", scope(where, every)))
        elif d.silences_all:
            failed.append(Finding(rule, res, "silenced by a malformed guard.SuppressedRules (empty, or a non-string "
                                             "entry), which skips every rule on the resource",
                                  scope(where, every)))
        elif rule in d.rules:
            failed.append(Finding(rule, res, "suppressed without a reason in "
                                             f"{METADATA_KEY}.{GUARD_REASONS_KEY}", scope(where, every)))
        else:
            failed.append(Finding(rule, res, "silenced by the resource's cfn_nag or guard metadata without a "
                                             "listed rule and reason", scope(where, every)))
    known = set(rule_set.rules)
    for lid, d in sorted(decl.items()):
        for rule in d.rules:
            if (rule, lid) in used or (rule, lid) in hidden or (rule, lid) in seen:
                continue  # explained, or already a failure
            why = (f"is not a rule of the pinned rule set ({rule_set.name} {rule_set.commit[:12]})"
                   if rule not in known else "does not fail here in any scenario")
            failed.append(Finding(rule, lid, f"stale suppression: {rule} {why}; remove it"))
    failing_rules = {f.rule for f in failed}
    suppressed_rules = {s.rule for s in suppressed} - failing_rules
    passed = sorted(compliant - failing_rules - suppressed_rules)
    return TemplateResult(path=path, sha256=sha256, variants=labels, passed=passed, failed=failed,
                          suppressed=suppressed,
                          not_applicable=len(known - applicable))
