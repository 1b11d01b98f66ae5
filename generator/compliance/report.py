"""The compliance reports: one per product version (``compliance.md``, ``compliance.html``) and one for the
whole catalog (``build/compliance.md``, ``build/index.html``).

A product version's report, as an auditor reads it:

- a header: the verdict, the generation time (UTC), the template sha256, the tool versions (cfn-lint,
  hipaa-catalog, checkov, the Guard rule set's commit, cfn-guard), the scenarios, the scanners' results
  and how many waivers, skips and suppressions there are;
- a summary: HIPAA citation × column, a column being the scenarios that give the same verdicts
  (``generator.compliance.evidence.Space.columns``), each row linking to the rules that check it;
- one evidence section per rule, with its citations and its verdict where it differs between scenarios,
  and each evidence line once: the resource, the property and its value in the scenario's effective
  template, the scenarios it holds in, the message, and the fix only on failures;
- the rules with nothing to check (``n/a``: no resource of the types they check), explained once, naming
  the catalog products that have such resources (their reports hold that evidence);
- waivers, checkov skips and Guard suppressions with their reasons and where they apply; the independent
  scanners' results (``make scan``, ``generator.compliance.scan``); cfn-lint's other findings; and in the
  HTML a picture of the resources and their connections (cfn-lint's resource graph drawn by Graphviz
  ``dot``; without ``dot`` the DOT text is embedded instead, and the report says so).

The catalog's report (:func:`build_catalog`) lists every HIPAA citation of the reference
(:data:`CITATIONS`), the products and rules that cover it, the verdict across the catalog, links to each
product's report, and the citations no product covers (gaps).

The verdicts are those of the lint pass (``generator.compliance.lint.LintResult``): building a report
evaluates no rule.  Both formats are rendered from one list of blocks, so they say the same.  Status marks
are words with colours, never emoji; the HTML is self-contained (its Content-Security-Policy allows no
request) and has a print stylesheet.  The output is deterministic apart from the generation time
(``SOURCE_DATE_EPOCH`` fixes it), which :func:`same_apart_from_time` ignores: the build does not rewrite a
report for its time alone.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from generator.compliance import scenarios as sc
from generator.compliance.evidence import ALL, Space, show
from generator.compliance.lint import CFN_LINT_VERSION, Finding, LintResult, blocking, load_rules
from generator.errors import LintError, ScenarioError

if TYPE_CHECKING:  # cfn-lint (and generator.compliance.hipaa, which subclasses its rule) are imported when used
    from generator.compliance import hipaa

# The HIPAA Security Rule citations of the reference (shared/reference/hipaa-controls.md) and their names;
# a parent the reference names as a whole (164.308(a)(7)) is covered by the subsections listed here.
CITATIONS = {
    "164.308(a)(1)(ii)(D)": "Information system activity review",
    "164.308(a)(3)(i)": "Workforce security",
    "164.308(a)(3)(ii)(A)": "Authorization and/or supervision",
    "164.308(a)(4)": "Information access management",
    "164.308(a)(6)": "Security incident procedures",
    "164.308(a)(7)(i)": "Contingency plan",
    "164.308(a)(7)(ii)(A)": "Data backup plan",
    "164.308(a)(7)(ii)(B)": "Disaster recovery plan",
    "164.312(a)(1)": "Access control",
    "164.312(a)(2)(iv)": "Encryption and decryption (at rest)",
    "164.312(b)": "Audit controls",
    "164.312(c)(1)": "Integrity",
    "164.312(c)(2)": "Mechanism to authenticate ePHI",
    "164.312(e)(1)": "Transmission security",
    "164.312(e)(2)(ii)": "Encryption (in transit and at rest)",
    "164.316(b)(1)": "Documentation",
}
ORDER = {"FAIL": 3, "WAIVED": 2, "PASS": 1, "n/a": 0}
META_RULES = ("E9000", "E9001", "E9002", "E9003")  # rules on the template's annotations, not on resources
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
GENERATED = re.compile(r"(generated )\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
REPORT_FILES = ("compliance.md", "compliance.html")
CATALOG_FILES = ("compliance.md", "index.html")
NA_TEXT = ("n/a: the template has no resource of the types the rule checks (in the scenarios named), so "
           "the rule has nothing to check here. Where another product of the catalog has such resources, "
           "it is named: its report holds that evidence.")
LEGEND = ("{{PASS}} every resource the rule checks complies · {{FAIL}} one does not (evidence below) · "
          "{{WAIVED}} a failure accepted on the resource, with its reason · {{n/a}} nothing to check "
          "([why](#not-applicable))")


# --- the generation time and the tools ---------------------------------------------------------

def generated_now() -> str:
    """Now in UTC (or ``SOURCE_DATE_EPOCH``, for reproducible output), as the reports write it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch.isdigit() else datetime.now(timezone.utc)
    return when.strftime(TIME_FORMAT)


def same_apart_from_time(a: str, b: str) -> bool:
    """Whether two reports differ in nothing but their generation time."""
    return GENERATED.sub(r"\1", a) == GENERATED.sub(r"\1", b)


def tool_versions(scan: Mapping | None = None) -> list[tuple[str, str]]:
    """(tool, version) of what made the report; the scanners' versions are those of ``scan`` (make scan)."""
    from generator import __version__
    from generator.compliance import guard

    try:
        pin = json.loads((guard.RULES_DIR / guard.PIN).read_text(encoding="utf-8"))
        rules = f"{pin['registry']}@{pin['commit'][:12]} ({pin['rule_set']} {pin['version']})"
    except (OSError, ValueError, KeyError, TypeError):
        rules = "(guard_rules/pin.json unreadable)"
    ran = {s.get("scanner"): str(s.get("version", "")) for s in (scan or {}).get("scanners", [])}
    not_run = "not run on this version (make scan)"
    return [("cfn-lint", CFN_LINT_VERSION), ("hipaa-catalog", __version__),
            ("checkov", ran.get("checkov") or not_run), ("Guard rules", rules),
            ("cfn-guard", ran.get(guard.NAME, "").removeprefix("cfn-guard ") or not_run)]


def coverage(results: Iterable[tuple[str, str, LintResult]]) -> dict[str, list[str]]:
    """Rule id -> the products (``name version``) in which the rule has something to check, from each
    product's ``(name, version, lint result)``."""
    out: dict[str, set[str]] = {}
    for name, version, lint in results:
        for rid in {v.rule for v in lint.verdicts}:
            out.setdefault(rid, set()).add(f"{name} {version}")
    return {rid: sorted(out[rid]) for rid in sorted(out)}


# --- the data of a product version's report ----------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One evidence line: a verdict on a resource, what shows it, and the scenarios it holds in."""

    status: str                             # PASS | FAIL | WAIVED
    resource: str
    values: tuple[tuple[str, str], ...]     # (property or path, value as shown)
    message: str = ""
    reason: str = ""                        # the waiver's
    scope: str = ALL


@dataclass
class RuleReport:
    rule: hipaa.HipaaRule
    verdicts: dict[str, str]                # scenario label -> PASS | FAIL | WAIVED | n/a
    lines: list[Line]
    same_as: str = ""                       # an earlier rule whose evidence lines are these

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def applies(self) -> bool:
        return any(v != "n/a" for v in self.verdicts.values())


@dataclass
class Report:
    product: str
    version: str
    title: str
    sha256: str
    space: Space
    rules: dict[str, RuleReport]
    citations: dict[str, list[str]]         # citation -> rule ids
    columns: list[tuple[str, tuple[str, ...]]]  # (label, scenario labels)
    waivers: list[tuple[str, str, str]]     # (logical id, rule, reason)
    checkov_skips: list[tuple[str, str, str]]   # (logical id, check id, reason)
    other_findings: list[Finding] = field(default_factory=list)
    guard_suppressions: list[tuple[str, str, str, str]] = field(default_factory=list)  # (lid, rule, reason, where)
    scan: dict = field(default_factory=dict)     # generator.compliance.scan.load_results; {} when not given
    coverage: dict[str, list[str]] = field(default_factory=dict)   # see coverage()
    generated: str = ""
    tools: list[tuple[str, str]] = field(default_factory=list)
    catalog_link: str = ""                  # the catalog page, relative to this report ("" when none)
    dot: str = ""
    svg: str = ""

    @property
    def scenarios(self) -> list[str]:
        return list(self.space.labels)

    def verdict(self, citation: str, scenario: str) -> str:
        return _worst(self.rules[r].verdicts[scenario] for r in self.citations[citation])

    def column_verdict(self, citation: str, members: Iterable[str]) -> str:
        return _worst(self.verdict(citation, s) for s in members)

    def covered_by(self, rule_id: str) -> list[str]:
        """The other catalog products in which ``rule_id`` has something to check."""
        return [p for p in self.coverage.get(rule_id, []) if p != f"{self.product} {self.version}"]

    @property
    def overall(self) -> str:
        worst = _worst(v for r in self.rules.values() for v in r.verdicts.values())
        return "FAIL" if self.other_findings and worst != "FAIL" and any(
            f.severity in ("error", "warning") for f in self.other_findings) else worst

    @property
    def unchanging(self) -> list[str]:
        """The scenario parameters that change no verdict."""
        return self.space.unchanging([members for _, members in self.columns])


def _worst(values: Iterable[str]) -> str:
    return max(values, key=ORDER.__getitem__, default="n/a")


def build_report(template: Mapping, lint: LintResult, product: str, version: str, title: str = "",
                 sha256: str = "", rules: Sequence[hipaa.HipaaRule] | None = None,
                 scan: dict | None = None, coverage: Mapping[str, list[str]] | None = None,
                 generated: str = "", catalog_link: str = "", evidence: bool = True) -> Report:
    """The report's data from the lint pass over ``template`` (its findings and every HIPAA rule's
    verdicts: no rule is evaluated here); ``template`` gives the values, waivers, checkov skips, Guard
    suppressions and the graph; ``scan`` the independent scanners' results on this template, when known;
    ``coverage`` which catalog products each rule has something to check in (:func:`coverage`).
    ``evidence=False``: the verdicts without the evidence lines and the picture (what the catalog page
    reads of a product)."""
    from generator.compliance import hipaa

    if not lint.scenarios:  # E9000 (conditions not evaluable), or cfn-lint stopped before any rule ran
        bad = blocking(lint.findings)
        raise LintError(f"{product} {version}: no compliance report, the HIPAA rules could not evaluate the "
                        f"template:\n  " + "\n  ".join(f.describe() for f in bad), bad,
                        hint="fix these findings; the report is made of the HIPAA rules' verdicts")
    rules = list(rules) if rules is not None else hipaa.rules_in(load_rules())
    space = Space.of(template, lint.scenarios)
    effective = {s.label: s for s in hipaa.scenarios_of(template)} if evidence else {}
    by_rule: dict[str, list] = {}
    for v in lint.verdicts:
        by_rule.setdefault(v.rule, []).append(v)
    reports: dict[str, RuleReport] = {}
    citations: dict[str, list[str]] = {}
    for rule in rules:
        if rule.id in META_RULES:
            bad = [f for f in lint.findings if f.rule_id == rule.id]
            verdicts = {label: "FAIL" if bad else "PASS" for label in space.labels}
            lines = [_finding_line(template, rule, f) for f in bad]
        elif evidence:
            verdicts, lines = _verdicts_and_lines(template, rule, by_rule.get(rule.id, []), space, effective)
        else:
            verdicts, lines = _verdicts(by_rule.get(rule.id, []), space), []
        reports[rule.id] = RuleReport(rule, verdicts, lines)
        for c in rule.hipaa:
            citations.setdefault(c, []).append(rule.id)
    first: dict[tuple, str] = {}   # evidence lines -> the first rule showing them
    for rep in reports.values():
        if rep.lines:
            earlier = first.setdefault(tuple(rep.lines), rep.id)
            rep.same_as = earlier if earlier != rep.id else ""
    signature = {label: tuple(r.verdicts[label] for r in reports.values()) for label in space.labels}
    resources = template.get("Resources") or {}
    waivers, skips = [], []
    for lid in sorted(resources):
        res = resources[lid] if isinstance(resources[lid], Mapping) else {}
        for w in hipaa.waivers(res):
            if isinstance(w, Mapping):
                waivers.append((lid, str(w.get("rule", "")), str(w.get("reason", "")).strip() or "(no reason: E9001)"))
        meta = res.get("Metadata") if isinstance(res.get("Metadata"), Mapping) else {}
        block = meta.get("checkov") if isinstance(meta.get("checkov"), Mapping) else {}
        for s in block.get("skip") or []:
            if isinstance(s, Mapping):
                skips.append((lid, str(s.get("id", "")), str(s.get("comment", "")).strip() or "(no reason: E9002)"))
    scan = dict(scan or {})
    dot = resource_graph_dot(template, reports) if evidence else ""
    return Report(product=product, version=version, title=title or product, sha256=sha256, space=space,
                  rules=reports, citations=dict(sorted(citations.items())), columns=space.columns(signature),
                  waivers=waivers, checkov_skips=skips,
                  other_findings=[f for f in lint.findings if not f.rule_id[1:2] == "9"],
                  guard_suppressions=_guard_suppressions(resources, scan, space), scan=scan,
                  coverage=dict(coverage or {}), generated=generated or generated_now(),
                  tools=tool_versions(scan), catalog_link=catalog_link, dot=dot, svg=render_svg(dot) if evidence else "")


def _verdicts(results: list, space: Space) -> dict[str, str]:
    """A rule's verdict in each scenario, from its verdicts on the resources."""
    verdicts = {}
    for label in space.labels:
        statuses = {r.status for r in results if r.scenario == label}
        verdicts[label] = ("FAIL" if "fail" in statuses else "WAIVED" if "waived" in statuses
                           else "PASS" if statuses else "n/a")
    return verdicts


def _verdicts_and_lines(template: Mapping, rule, results: list, space: Space,
                        effective: Mapping) -> tuple[dict[str, str], list[Line]]:
    verdicts = _verdicts(results, space)
    grouped: dict[tuple, list[str]] = {}
    for v in results:
        status = v.status.upper()
        # a pass, or a failure of the resource as a whole: what the rule shows; else the value it failed on
        values = _failing_value(template, space, v.scenario, v.path) if status != "PASS" and len(v.path) > 2 \
            else _shown(rule, effective.get(v.scenario), v.logical_id)
        scen = grouped.setdefault((status, v.logical_id, values, v.message, v.reason), [])
        if v.scenario not in scen:
            scen.append(v.scenario)
    lines = [Line(*key, scope=space.describe(labels)) for key, labels in grouped.items()]
    return verdicts, sorted(lines, key=lambda x: (-ORDER[x.status], x.resource, x.values, x.message))


def _shown(rule, scenario, logical_id: str) -> tuple[tuple[str, str], ...]:
    """(name, value) of what ``rule`` shows for a resource in the effective template of ``scenario``."""
    res = scenario.resources.get(logical_id) if scenario else None
    if not isinstance(res, Mapping):
        return ()
    return tuple((name, show(value)) for name, value in rule.shown(scenario, logical_id, res))


def _below(path: Sequence) -> str:
    """A path below a resource, without the leading Resources/<id>/Properties."""
    rest = list(path[2:])
    if rest[:1] == ["Properties"]:
        rest = rest[1:]
    return "/".join(str(p) for p in rest)


def _failing_value(template: Mapping, space: Space, scenario: str, path: tuple) -> tuple[tuple[str, str], ...]:
    """(path, value) of a failure: the value, in the scenario, of the node the rule complains about."""
    try:
        value = sc.value_at(template, space.assignment(scenario), path) if scenario in space.points else sc.NO_VALUE
    except ScenarioError:
        value = sc.NO_VALUE
    return ((_below(path) or "Properties", show(value)),)


def _finding_line(template: Mapping, rule, f: Finding) -> Line:
    """A finding of a rule on the template's annotations, with the value it found (as written)."""
    node = template
    for seg in f.path:
        node = node.get(seg) if isinstance(node, Mapping) else (
            node[seg] if isinstance(node, list) and isinstance(seg, int) and seg < len(node) else None)
    where = "/".join(str(p) for p in f.path[2:])
    message = f.message.removesuffix(f" (fix: {rule.fix})") if rule.fix else f.message
    return Line("FAIL", f.logical_id or "(template)", ((where, show(node)),) if where else (), message)


def _guard_suppressions(resources: Mapping, scan: Mapping, space: Space) -> list[tuple[str, str, str, str]]:
    """(resource, rule, reason, where) of each Guard suppression declared in Metadata; ``where`` from
    the scan results (the scenarios in which it hid a finding), when current."""
    from generator.compliance import guard

    scopes = {(i.get("resource"), i.get("rule")): _scan_scope(space, i.get("scenarios") or [], i.get("scope", ""))
              for s in scan.get("scanners", []) if s.get("scanner") == guard.NAME for i in s.get("suppressions", [])}
    out = []
    for lid in sorted(resources):
        d = guard.declared(resources[lid])
        out += [(lid, rule, d.reasons.get(rule) or "(no reason: E9003)",
                 scopes.get((lid, rule), "not scanned" if scan.get("status") != "current" else "hid nothing"))
                for rule in d.rules]
    return out


def _scan_scope(space: Space, labels: Sequence[str], scope: str = "") -> str:
    """Where a scanner's finding or suppression applied: scenarios, and/or the template as written (no
    labels: the scanner's own ``scope``, e.g. "all scenarios")."""
    from generator.compliance import guard

    if not labels:
        return scope or ALL
    written = guard.AS_WRITTEN in labels
    inner = [x for x in labels if x in space.points]
    if not inner:
        return "as written" if written else "; ".join(labels)
    return space.describe(inner) + (", and as written" if written else "")


# --- the independent scanners' section ---------------------------------------------------------

SCAN_NOTE = ("Not scanned: `make scan` runs checkov and the Guard HIPAA rule set (cfn-guard) on this template "
             "and on every scenario, and adds their results here.")


def scan_rows(rep: Report) -> list[tuple]:
    """(scanner, version, rule set, passed, failed, suppressed, units) of each scanner run on the template."""
    return [(s.get("scanner", ""), s.get("version", ""), s.get("rule_set", ""), s.get("passed", 0),
             s.get("failed", 0), s.get("suppressed", 0), s.get("units", "")) for s in rep.scan.get("scanners", [])]


def scan_status(rep: Report) -> str:
    """One sentence on the scan results: missing, stale (another template version) or current."""
    status = rep.scan.get("status", "missing")
    if status == "stale":
        return (f"The last `make scan` saw another version of this template (sha256 "
                f"`{str(rep.scan.get('template_sha256', ''))[:12]}`): run `make scan` again.")
    if status != "current":
        return SCAN_NOTE
    failed = sum(int(s.get("failed", 0)) for s in rep.scan.get("scanners", []))
    return ("`make scan` on this template version: " + ("**unexplained findings**, listed below."
                                                         if failed else "no unexplained finding."))


def scan_failures(rep: Report) -> list[tuple[str, str, str, str, str]]:
    """(scanner, resource, rule, message, where) of every unexplained finding of the scanners."""
    return [(s.get("scanner", ""), i.get("resource", ""), i.get("rule", ""), i.get("message", ""),
             _scan_scope(rep.space, i.get("scenarios") or [], i.get("scope", "")))
            for s in rep.scan.get("scanners", []) for i in s.get("failures", [])]


# --- the resource graph ------------------------------------------------------------------------

def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def resource_graph_dot(template: Mapping, reports: Mapping[str, RuleReport] | None = None) -> str:
    """DOT text of the resources and their Ref/GetAtt/Sub/DependsOn connections (cfn-lint's graph),
    each resource coloured by its HIPAA verdict; conditional resources are dashed."""
    from cfnlint.graph import Graph
    from cfnlint.template import Template as CfnTemplate

    # cfn-lint's Graph reads a template's dict and its deep key search and nothing else; a full
    # Template() would also build the conditions (sympy), the context and a second graph
    cfn = CfnTemplate.__new__(CfnTemplate)
    cfn.template, cfn.transform_pre = dict(template), {"Globals": {}}
    graph = Graph(cfn).graph
    resources = template.get("Resources") or {}
    status: dict[str, str] = {}
    for rep in (reports or {}).values():
        for line in rep.lines:
            if ORDER[line.status] > ORDER.get(status.get(line.resource, "n/a"), 0):
                status[line.resource] = line.status
    fill = {"FAIL": "#f8d0d0", "WAIVED": "#fbe8c0", "PASS": "#d7f0d7", "n/a": "#eeeeee"}
    lines = ["digraph template {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];']
    for lid in sorted(resources):
        res = resources[lid] if isinstance(resources[lid], Mapping) else {}
        cond = res.get("Condition")
        label = f"{lid}\\n{res.get('Type', '')}" + (f"\\nif {cond}" if isinstance(cond, str) else "")
        style = '"rounded,filled,dashed"' if cond else '"rounded,filled"'
        lines.append(f"  {_q(lid)} [label=\"{label}\", style={style}, fillcolor={_q(fill[status.get(lid, 'n/a')])}];")
    edges = set()
    for a, b, data in graph.edges(data=True):
        if a in resources and b in resources:
            kind = data.get("label") if data.get("label") in ("GetAtt", "DependsOn") else "Ref"
            edges.add((a, b, kind))
    for a, b, kind in sorted(edges):
        attrs = {"Ref": "", "GetAtt": ' [color="#2e7d32"]', "DependsOn": ' [style=dotted, color="#777777"]'}[kind]
        lines.append(f"  {_q(a)} -> {_q(b)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_svg(dot: str) -> str:
    """SVG from DOT with Graphviz (deterministic for one Graphviz version); "" when dot is missing."""
    exe = shutil.which("dot")
    return _svg(exe, dot) if exe else ""


@functools.lru_cache(maxsize=32)
def _svg(exe: str, dot: str) -> str:
    """``dot -Tsvg`` of ``dot`` by ``exe``, kept per process: products built alike have the same picture
    (the 50 benchmark variants one), and each Graphviz run costs about 20 ms."""
    proc = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        return ""
    svg = proc.stdout
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


# --- blocks: the content of a report, rendered as markdown and as HTML -------------------------
# Text in blocks is inline markdown: `code`, **bold**, [text](#anchor), \-escapes, and {{STATUS}} for a
# status mark.  Links point at the HTML files; the markdown renderer points them at the markdown ones.

@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str
    cls: str = ""


@dataclass
class Items:
    lines: list[str]
    cls: str = ""


@dataclass
class Table:
    head: list[str]
    rows: list[list[str]]
    ids: list[str] = field(default_factory=list)   # an anchor per row ("" for none)
    cls: str = ""


@dataclass
class Raw:
    """HTML, and what the markdown says in its place (the picture)."""

    html: str
    md: str = ""


def esc(text: str) -> str:
    """Free text (a reason, a message) as inline markdown that shows it as written."""
    return re.sub(r"([\\`*_\[\]{}<>|])", r"\\\1", str(text))


def code(text: str) -> str:
    text = str(text).replace("\n", " ")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def mark(status: str) -> str:
    return "{{" + status + "}}"


def anchor(rule_id: str) -> str:
    return rule_id.lower()


_INLINE = re.compile(r"\\(.)|(`+)(.+?)\2|\*\*(.+?)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|\{\{(FAIL|WAIVED|PASS|n/a|GAP)\}\}",
                     re.S)
_MD_MARK = {"FAIL": "**FAIL**", "WAIVED": "WAIVED", "PASS": "PASS", "n/a": "n/a", "GAP": "**GAP**"}


def _inline_html(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(html.escape(m.group(1)))
        elif m.group(2):
            body = m.group(3)[1:-1] if len(m.group(2)) > 1 else m.group(3)
            out.append(f"<code>{html.escape(body.replace(chr(92) + '|', '|'))}</code>")
        elif m.group(4) is not None:
            out.append(f"<strong>{_inline_html(m.group(4))}</strong>")
        elif m.group(5) is not None:
            out.append(f'<a href="{html.escape(m.group(6))}">{_inline_html(m.group(5))}</a>')
        else:
            st = m.group(7)
            out.append(f'<span class="st {"na" if st == "n/a" else st}">{html.escape(st)}</span>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _inline_md(text: str) -> str:
    """Inline markup as markdown: status marks as words, links to the HTML files to the markdown ones."""
    def token(m: re.Match) -> str:
        if m.group(7):
            return _MD_MARK[m.group(7)]
        if m.group(5) is not None:
            return f"[{_inline_md(m.group(5))}]({re.sub(r'(compliance|index)[.]html', 'compliance.md', m.group(6))})"
        return m.group(0)
    return _INLINE.sub(token, text)


_RULE_LINK = re.compile(r"\[([EW]9\d{3})\]\(#([ew]9\d{3})\)")


def _reference_links(text: str) -> str:
    """Links to a rule's section (``[E9204](#e9204)``) as shortcut references, defined once at the end."""
    used = sorted({m.group(1) for m in _RULE_LINK.finditer(text) if m.group(2) == m.group(1).lower()})
    if not used:
        return text
    text = _RULE_LINK.sub(lambda m: f"[{m.group(1)}]" if m.group(2) == m.group(1).lower() else m.group(0), text)
    return text + "\n" + "".join(f"[{rid}]: #{rid.lower()}\n" for rid in used)


def _md_cell(text: str) -> str:
    return re.sub(r"(?<!\\)\|", r"\\|", _inline_md(text)).replace("\n", " ")


def render_markdown(blocks: Sequence) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + _inline_md(b.text), ""]
        elif isinstance(b, Para):
            out += [_inline_md(b.text), ""]
        elif isinstance(b, Items):
            out += ["- " + _inline_md(x) for x in b.lines] + [""]
        elif isinstance(b, Raw) and b.md:
            out += [_inline_md(b.md), ""]
        elif isinstance(b, Table):
            out.append("| " + " | ".join(_md_cell(h) for h in b.head) + " |")
            out.append("|" + "---|" * len(b.head))
            for i, row in enumerate(b.rows):
                cells = [_md_cell(c) for c in row]
                if i < len(b.ids) and b.ids[i]:
                    cells[0] = f'<a id="{b.ids[i]}"></a>' + cells[0]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    return _reference_links("\n".join(out).rstrip("\n") + "\n")


def render_html(title: str, blocks: Sequence) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             # self-contained: no script, font, image or style may be fetched from anywhere
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
             "style-src 'unsafe-inline'; img-src data:\">",
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"]
    for b in blocks:
        if isinstance(b, Heading):
            ident = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            parts.append(f"<h{b.level}{ident}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            cls = f' class="{b.cls}"' if b.cls else ""
            parts.append(f"<p{cls}>{_inline_html(b.text)}</p>")
        elif isinstance(b, Items):
            cls = f' class="{b.cls}"' if b.cls else ""
            parts.append(f"<ul{cls}>" + "".join(f"<li>{_inline_html(x)}</li>" for x in b.lines) + "</ul>")
        elif isinstance(b, Table):
            cls = f' class="{b.cls}"' if b.cls else ""
            rows = []
            for i, row in enumerate(b.rows):
                ident = f' id="{html.escape(b.ids[i])}"' if i < len(b.ids) and b.ids[i] else ""
                rows.append(f"<tr{ident}>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>")
            parts.append(f"<table{cls}><thead><tr>" + "".join(f"<th>{_inline_html(h)}</th>" for h in b.head)
                         + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        elif isinstance(b, Raw):
            parts.append(b.html)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


CSS = """:root{--pass:#1b5e20;--pass-bg:#dcefdc;--fail:#b71c1c;--fail-bg:#fad4d2;--waived:#6d4c00;--waived-bg:#fbe8bd;
--na:#555;--na-bg:#ececec;--gap:#4a148c;--gap-bg:#eadcf5}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;padding:1.2em 2em 3em;
max-width:82em;color:#1a1a1a;background:#fff}
h1{font-size:1.55em;margin:.3em 0 .2em}h2{font-size:1.25em;margin:1.8em 0 .5em;padding-bottom:.15em;border-bottom:1px solid #d5d5d5}
h3{font-size:1.05em;margin:1.4em 0 .2em}
p,li{overflow-wrap:anywhere}
a{color:#0b57a4}
table{border-collapse:collapse;margin:.4em 0 1.2em;max-width:100%}
td,th{border:1px solid #c9c9c9;padding:.25em .5em;text-align:left;vertical-align:top;overflow-wrap:break-word}
th{background:#f1f1f1;font-weight:600}
code{font:13px/1.35 ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;background:#f4f4f4;
padding:0 .2em;border-radius:2px;overflow-wrap:anywhere}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:1em}
.st{display:inline-block;min-width:4.4em;text-align:center;font-weight:700;font-size:.8em;letter-spacing:.03em;
padding:.05em .4em;border:1px solid;border-radius:3px;white-space:nowrap}
.st.PASS{color:var(--pass);background:var(--pass-bg)}.st.FAIL{color:var(--fail);background:var(--fail-bg)}
.st.WAIVED{color:var(--waived);background:var(--waived-bg)}.st.na{color:var(--na);background:var(--na-bg);font-weight:400}
.st.GAP{color:var(--gap);background:var(--gap-bg)}
.verdict{font-size:1.15em}.facts{padding-left:1.2em}.facts li{margin:.1em 0}
p.nav{margin:.8em 0;padding:.4em .6em;background:#f6f6f6;border-radius:3px}
ul.ev{padding-left:1.2em;margin:.3em 0}ul.ev li{margin:.2em 0}
p.rule{margin:.1em 0 .3em;color:#333}
.graph svg{max-width:100%;height:auto}
table.summary td:first-child{white-space:nowrap}table.summary td:nth-child(2){min-width:11em}
@media print{body{max-width:none;padding:0;font-size:10pt}p.nav{display:none}a{color:inherit;text-decoration:none}
code{font-size:8.5pt}.st,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2,h3{break-after:avoid}tr,li,.graph{break-inside:avoid}@page{margin:1.4cm}}"""


# --- the report of a product version, as blocks ------------------------------------------------

def _scenario_text(rep: Report) -> str:
    space = rep.space
    n = len(space.labels)
    if n <= 1:
        return "one (no condition depends on a parameter)"
    text = f"{space.overview()}: {n}"
    if len(rep.columns) < n:
        text += f"; those with the same verdicts share a column ({len(rep.columns)} below)"
    if rep.unchanging:
        text += "; " + " and ".join(rep.unchanging) + (" changes" if len(rep.unchanging) == 1 else " change") + " no verdict"
    return text


def _tools_text(rep: Report) -> str:
    return " · ".join(f"{name} {code(v) if name == 'Guard rules' else esc(v)}" for name, v in rep.tools)


def _scan_text(rep: Report) -> str:
    rows = scan_rows(rep)
    if not rows:
        return ("results of another template version: run `make scan` again" if rep.scan.get("status") == "stale"
                else "not scanned: `make scan` adds checkov's and Guard HIPAA's results")
    return " · ".join(f"{s} {p} passed, {f} failed, {x} suppressed" for s, _, _, p, f, x, _ in rows) + \
        " ([details](#independent-scanners))"


def _rule_verdict_text(rep: Report, r: RuleReport) -> str:
    by: dict[str, list[str]] = {}
    for label in rep.space.labels:
        by.setdefault(r.verdicts[label], []).append(label)
    if len(by) == 1:
        return mark(next(iter(by)))
    return " · ".join(f"{mark(st)} in {esc(rep.space.describe(by[st]))}" for st in sorted(by, key=lambda s: -ORDER[s]))


def _line_text(line: Line) -> str:
    shown = ", ".join(f"{esc(name)}: {code(value)}" if name else code(value) for name, value in line.values)
    text = f"{mark(line.status)} {code(line.resource)}" + (f" {shown}" if shown else "")
    if line.message and line.status != "PASS":
        text += f" — {esc(line.message)}"
    if line.reason:
        text += f" — waived: {esc(line.reason)}"
    if line.status != "PASS" or line.scope != ALL:
        text += f" — {'in ' if line.scope != ALL else ''}{esc(line.scope)}"
    return text


def _rule_links(rep: Report, ids: Sequence[str]) -> str:
    return " ".join(f"[{rid}](#{anchor(rid)})" for rid in ids)


def _covered_text(products: Sequence[str]) -> str:
    return "covered by " + ", ".join(products) if products else "covered by no product of the catalog"


def report_blocks(rep: Report) -> list:
    title = f"HIPAA compliance: {rep.title} {rep.version}"
    blocks: list = [Heading(1, esc(title))]
    n_rules = len(rep.rules)
    blocks.append(Para(f"**Verdict** {mark(rep.overall)} — {n_rules} HIPAA rules in {len(rep.space.labels)} "
                       f"scenario(s)" + (f" · [the whole catalog]({rep.catalog_link})" if rep.catalog_link else ""),
                       cls="verdict"))
    counts = (f"{len(rep.waivers)} waiver(s), {len(rep.checkov_skips)} checkov skip(s), "
              f"{len(rep.guard_suppressions)} Guard suppression(s), each with its reason "
              "([list](#waivers-skips-and-suppressions))")
    blocks.append(Items([f"product {code(rep.product)} version {code(rep.version)}, template sha256 "
                         + (code(rep.sha256) if rep.sha256 else "(not built)"),
                         f"generated {rep.generated}",
                         "tools: " + _tools_text(rep),
                         "scenarios: " + esc(_scenario_text(rep)),
                         "scanners: " + _scan_text(rep),
                         counts], cls="facts"))
    blocks.append(Para("[Summary](#summary) · [Evidence](#evidence) · [Not applicable](#not-applicable) · "
                       "[Waivers, skips, suppressions](#waivers-skips-and-suppressions) · "
                       "[Scanners](#independent-scanners)" + (" · [Other findings](#other-cfn-lint-findings)"
                                                              if rep.other_findings else "")
                       + " · [Picture](#resources-and-connections)", cls="nav"))
    blocks += _summary_blocks(rep)
    blocks += _evidence_blocks(rep)
    blocks += _na_blocks(rep)
    blocks += _suppression_blocks(rep)
    blocks += _scanner_blocks(rep)
    if rep.other_findings:
        blocks.append(Heading(2, "Other cfn-lint findings", "other-cfn-lint-findings"))
        blocks.append(Items([f"{code(f.rule_id)} {code(f.logical_id or '(template)')} {code(f.path_text)}: "
                             f"{esc(f.message)}" for f in rep.other_findings]))
    blocks.append(Heading(2, "Resources and connections", "resources-and-connections"))
    if rep.svg:
        blocks.append(Raw(f'<div class="graph">{rep.svg}</div><p>Green: passes every HIPAA rule; red: fails one; '
                          "orange: waived; grey: no HIPAA rule applies; dashed: conditional resource.</p>",
                          md="The picture of the resources and their connections is in compliance.html."))
    else:
        blocks.append(Para("**Graphviz `dot` was not available when this report was built**, so the picture could "
                           "not be drawn (run `make build`, which installs Graphviz); compliance.html embeds its "
                           "DOT source."))
        blocks.append(Raw(f"<pre>{html.escape(rep.dot)}</pre>"))
    return blocks


def _summary_blocks(rep: Report) -> list:
    head = ["citation", "safeguard"] + [esc(label) for label, _ in rep.columns] + ["rules"]
    rows = []
    for c, ids in rep.citations.items():
        cells = [esc(c), esc(CITATIONS.get(c, ""))]
        cells += [mark(rep.column_verdict(c, members)) for _, members in rep.columns]
        links = _rule_links(rep, ids)
        if all(not rep.rules[r].applies for r in ids):
            others = sorted({p for r in ids for p in rep.covered_by(r)})
            links += f"; n/a here, {_covered_text(others)}"
        rows.append(cells + [links])
    return [Heading(2, "Summary", "summary"), Para(LEGEND, cls="legend"), Table(head, rows, cls="summary")]


def _evidence_blocks(rep: Report) -> list:
    blocks: list = [Heading(2, "Evidence", "evidence"),
                    Para("One section per rule with something to check. Each line: the verdict, the resource, "
                         "the property and its value as deployed (the scenario's effective template), and the "
                         "scenarios it holds in (none named: every scenario).")]
    for rid, r in rep.rules.items():
        if not r.applies:
            continue
        cites = ", ".join(esc(c) for c in r.rule.hipaa)
        blocks.append(Heading(3, rid, anchor(rid)))
        blocks.append(Para(f"{esc(r.rule.shortdesc)} · {cites} · "
                           f"{_rule_verdict_text(rep, r)}", cls="rule"))
        if r.same_as:
            blocks.append(Para(f"Evidence: the lines of [{r.same_as}](#{anchor(r.same_as)})."))
        elif r.lines:
            blocks.append(Items([_line_text(x) for x in r.lines], cls="ev"))
        if any(x.status == "FAIL" for x in r.lines) and r.rule.fix:
            blocks.append(Para(f"**Fix:** {esc(r.rule.fix)}"))
    return blocks


def _na_blocks(rep: Report) -> list:
    na = [r for r in rep.rules.values() if not r.applies]
    blocks: list = [Heading(2, "Not applicable", "not-applicable"), Para(esc(NA_TEXT))]
    if na:
        rows = [[r.id, esc(r.rule.shortdesc), esc(", ".join(r.rule.resource_types)),
                 esc(", ".join(rep.covered_by(r.id)) or "no product of the catalog")] for r in na]
        blocks.append(Table(["rule", "checks", "resource types", "covered by"], rows, ids=[anchor(r.id) for r in na]))
    else:
        blocks.append(Para("Every rule has something to check in this template."))
    return blocks


def _suppression_blocks(rep: Report) -> list:
    blocks: list = [Heading(2, "Waivers, skips and suppressions", "waivers-skips-and-suppressions")]
    for what, rows, head in (
            ("Waivers of HIPAA rules (resource Metadata `hipaa-catalog.waivers`)", rep.waivers,
             ["resource", "rule", "reason"]),
            ("checkov skips (resource Metadata `checkov.skip`; checkov reads the template as written)",
             rep.checkov_skips, ["resource", "check", "reason"]),
            ("Guard suppressions (resource Metadata `guard.SuppressedRules`, reasons in "
             "`hipaa-catalog.guard-suppressions`; where: the variants in which `make scan` saw it hide a finding)",
             [(a, b, d, c) for a, b, c, d in rep.guard_suppressions], ["resource", "rule", "where", "reason"])):
        if rows:
            blocks.append(Para(what + ":"))
            blocks.append(Table(head, [[code(row[0]), code(row[1])] + [esc(x) for x in row[2:]] for row in rows]))
        else:
            blocks.append(Para(what + ": none."))
    return blocks


def _scanner_blocks(rep: Report) -> list:
    blocks: list = [Heading(2, "Independent scanners", "independent-scanners"), Para(scan_status(rep))]
    if scan_rows(rep):
        blocks.append(Table(["scanner", "version", "rule set", "passed", "failed", "suppressed", "counted as"],
                            [[esc(x) for x in row] for row in scan_rows(rep)]))
        failures = scan_failures(rep)
        if failures:
            blocks.append(Para("Unexplained findings:"))
            blocks.append(Table(["scanner", "resource", "rule", "message", "where"],
                                [[esc(x) for x in row] for row in failures]))
        if rep.guard_suppressions or rep.checkov_skips:
            blocks.append(Para("Suppressed findings are listed with their reasons "
                               "[above](#waivers-skips-and-suppressions)."))
    return blocks


def to_markdown(rep: Report) -> str:
    return render_markdown(report_blocks(rep))


def to_html(rep: Report) -> str:
    return render_html(f"HIPAA compliance: {rep.title} {rep.version}", report_blocks(rep))


def write(rep: Report, directory: Path, writer=None) -> list[Path]:
    """Write compliance.md and compliance.html into ``directory``; returns their paths."""
    return _write_files(Path(directory), dict(zip(REPORT_FILES, (to_markdown(rep), to_html(rep)))), writer)


def _write_files(directory: Path, texts: Mapping[str, str], writer=None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in texts.items():
        path = directory / name
        if writer:
            writer(path, text)
        else:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# --- the catalog's report ----------------------------------------------------------------------

@dataclass
class Catalog:
    name: str
    products: list[tuple[Report, str]]      # (report, its HTML file relative to the catalog page)
    generated: str
    tools: list[tuple[str, str]]

    def covering(self, citation: str) -> list[tuple[Report, str, list[str]]]:
        """(report, report link, rule ids with something to check) of each product covering ``citation``."""
        out = []
        for rep, link in self.products:
            ids = [r for r in rep.citations.get(citation, []) if rep.rules[r].applies]
            if ids:
                out.append((rep, link, ids))
        return out

    def verdict(self, citation: str) -> str:
        """The worst verdict of the rules covering ``citation`` in any product; GAP when none covers it."""
        found = [rep.verdict(citation, s) for rep, _, _ in self.covering(citation) for s in rep.scenarios]
        found = [v for v in found if v != "n/a"]
        return _worst(found) if found else "GAP"

    @property
    def overall(self) -> str:
        return _worst(rep.overall for rep, _ in self.products)


def build_catalog(name: str, products: Sequence[tuple[Report, str]], generated: str = "") -> Catalog:
    """The catalog's report from each product's report and the path of its HTML file (relative to the
    catalog page)."""
    scans = [rep.scan for rep, _ in products if rep.scan.get("status") == "current"]
    return Catalog(name=name, products=list(products), generated=generated or generated_now(),
                   tools=tool_versions(scans[0] if scans and len(scans) == len(products) else None))


def catalog_blocks(cat: Catalog) -> list:
    blocks: list = [Heading(1, esc(f"HIPAA compliance of the catalog {cat.name}")),
                    Para(f"**Verdict** {mark(cat.overall)} — {len(cat.products)} product version(s), "
                         f"{len(CITATIONS)} HIPAA citations", cls="verdict"),
                    Items([f"generated {cat.generated}", "tools: " + " · ".join(
                        f"{n} {code(v) if n == 'Guard rules' else esc(v)}" for n, v in cat.tools)], cls="facts")]
    rows = []
    for rep, link in cat.products:
        rows.append([f"[{esc(rep.title)}]({link})", code(rep.product), code(rep.version), mark(rep.overall),
                     code(rep.sha256[:12]) if rep.sha256 else "", esc(rep.scan.get("status", "missing")),
                     f"{len(rep.waivers) + len(rep.checkov_skips) + len(rep.guard_suppressions)}"])
    blocks += [Heading(2, "Products", "products"),
               Table(["report", "product", "version", "verdict", "template sha256", "make scan",
                      "waivers, skips, suppressions"], rows)]
    rows, gaps = [], []
    for c, safeguard in CITATIONS.items():
        covering = cat.covering(c)
        parts = [f"{esc(rep.product)} {esc(rep.version)} {mark(_worst(rep.verdict(c, s) for s in rep.scenarios))}: "
                 + " ".join(f"[{r}]({link}#{anchor(r)})" for r in ids) for rep, link, ids in covering]
        verdict = cat.verdict(c)
        if verdict == "GAP":
            gaps.append(c)
        rows.append([esc(c), esc(safeguard), "; ".join(parts) or "no product", mark(verdict)])
    blocks += [Heading(2, "Citations", "citations"),
               Para("Every HIPAA Security Rule citation of the catalog's reference, the products and rules that "
                    "check it (rules with something to check in that product), and the worst verdict across "
                    "the catalog. {{GAP}}: no product has anything to check for it."),
               Table(["citation", "safeguard", "covered by", "catalog"], rows, cls="summary"),
               Heading(2, "Gaps", "gaps")]
    if gaps:
        blocks.append(Items([f"{esc(c)} {esc(CITATIONS[c])}: " + esc(_gap_reason(cat, c)) for c in gaps]))
    else:
        blocks.append(Para("None: every citation is checked by at least one rule in at least one product."))
    return blocks


def _gap_reason(cat: Catalog, citation: str) -> str:
    ids = sorted({r for rep, _ in cat.products for r in rep.citations.get(citation, [])})
    if not ids:
        return "no HIPAA rule cites it"
    return f"rules {', '.join(ids)} cite it, but no product has a resource they check"


def catalog_markdown(cat: Catalog) -> str:
    return render_markdown(catalog_blocks(cat))


def catalog_html(cat: Catalog) -> str:
    return render_html(f"HIPAA compliance of the catalog {cat.name}", catalog_blocks(cat))


def write_catalog(cat: Catalog, directory: Path, writer=None) -> list[Path]:
    """Write compliance.md and index.html into ``directory`` (the build folder); returns their paths."""
    return _write_files(Path(directory), dict(zip(CATALOG_FILES, (catalog_markdown(cat), catalog_html(cat)))), writer)
