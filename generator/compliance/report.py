"""The compliance report of a product version: ``compliance.md`` and ``compliance.html``.

For each HIPAA citation: the rules that check it, the verdict in each scenario, the evidence (logical
id and property) and any waiver with its reason; a summary table on top; the checkov skips and Guard
suppressions written in resource Metadata; the independent scanners' results (``make scan``: versions,
passed/failed/suppressed counts, findings; ``generator.compliance.scan``); cfn-lint findings outside the
HIPAA rules.  The HTML adds a picture of the resources and their connections (cfn-lint's resource graph
rendered with Graphviz ``dot``; without ``dot`` the DOT text is embedded instead, and the report says so).
The verdicts are those of the lint pass (``generator.compliance.lint.LintResult``): building a report
evaluates no rule.

Everything here is deterministic: no timestamps, sorted output, so two builds give the same bytes.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from generator.compliance.lint import Finding, LintResult, Verdict, blocking, load_rules
from generator.errors import LintError

if TYPE_CHECKING:  # cfn-lint (and generator.compliance.hipaa, which subclasses its rule) are imported when used
    from generator.compliance import hipaa

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
MARK = {"FAIL": "❌ FAIL", "WAIVED": "⚠️ WAIVED", "PASS": "✅ PASS", "n/a": "— n/a"}


@dataclass
class RuleReport:
    rule: hipaa.HipaaRule
    verdicts: dict[str, str]  # scenario label -> PASS | FAIL | WAIVED | n/a
    evidence: list[tuple[str, str, str]]  # (status, evidence text, scenarios)


@dataclass
class Report:
    product: str
    version: str
    title: str
    sha256: str
    scenarios: list[str]
    rules: dict[str, RuleReport]
    citations: dict[str, list[str]]  # citation -> rule ids
    waivers: list[tuple[str, str, str]]  # (logical id, rule, reason)
    checkov_skips: list[tuple[str, str, str]]  # (logical id, check id, reason)
    other_findings: list[Finding] = field(default_factory=list)
    guard_suppressions: list[tuple[str, str, str]] = field(default_factory=list)  # (logical id, rule, reason)
    scan: dict = field(default_factory=dict)  # generator.compliance.scan.load_results; {} when not given
    dot: str = ""
    svg: str = ""

    def verdict(self, citation: str, scenario: str) -> str:
        return _worst(self.rules[r].verdicts[scenario] for r in self.citations[citation])

    @property
    def overall(self) -> str:
        worst = _worst(v for r in self.rules.values() for v in r.verdicts.values())
        return "FAIL" if self.other_findings and worst != "FAIL" and any(
            f.severity in ("error", "warning") for f in self.other_findings) else worst


def _worst(values: Iterable[str]) -> str:
    return max(values, key=ORDER.__getitem__, default="n/a")


def _scope(labels: Sequence[str], every: Sequence[str]) -> str:
    if not labels or (len(every) > 1 and len(labels) == len(every)) or labels == [""]:
        return "all scenarios"
    return "; ".join(labels)


def build_report(template: Mapping, lint: LintResult, product: str, version: str, title: str = "",
                 sha256: str = "", rules: Sequence[hipaa.HipaaRule] | None = None,
                 scan: dict | None = None) -> Report:
    """The report's data from the lint pass over ``template`` (its findings and every HIPAA rule's
    verdicts: no rule is evaluated here); ``template`` gives the waivers, checkov skips, Guard suppressions
    and the graph; ``scan`` the independent scanners' results on this template, when known."""
    from generator.compliance import hipaa

    if not lint.scenarios:  # E9000 (conditions not evaluable), or cfn-lint stopped before any rule ran
        bad = blocking(lint.findings)
        raise LintError(f"{product} {version}: no compliance report, the HIPAA rules could not evaluate the "
                        f"template:\n  " + "\n  ".join(f.describe() for f in bad), bad,
                        hint="fix these findings; the report is made of the HIPAA rules' verdicts")
    rules = list(rules) if rules is not None else hipaa.rules_in(load_rules())
    labels = list(lint.scenarios)
    by_rule: dict[str, list[Verdict]] = {}
    for v in lint.verdicts:
        by_rule.setdefault(v.rule, []).append(v)
    reports: dict[str, RuleReport] = {}
    citations: dict[str, list[str]] = {}
    for rule in rules:
        results = by_rule.get(rule.id, [])
        verdicts = {}
        for label in labels:
            statuses = {r.status for r in results if r.scenario == label}
            verdicts[label] = ("FAIL" if "fail" in statuses else "WAIVED" if "waived" in statuses
                               else "PASS" if statuses else "n/a")
        grouped: dict[tuple[str, str], list[str]] = {}
        for r in results:
            text = r.evidence + (f" — {r.message}" if r.message else "") + \
                (f" — waived: {r.reason}" if r.reason else "")
            scen = grouped.setdefault((r.status.upper(), text), [])
            if r.scenario not in scen:
                scen.append(r.scenario)
        evidence = sorted(((st, text, _scope(sc_, labels)) for (st, text), sc_ in grouped.items()),
                          key=lambda e: (-ORDER[e[0]], e[1]))
        if rule.id in ("E9000", "E9001", "E9002", "E9003"):
            bad = [f for f in lint.findings if f.rule_id == rule.id]
            verdicts = {label: "FAIL" if bad else "PASS" for label in labels}
            evidence = [("FAIL", f"{f.path_text} — {f.message}", "all scenarios") for f in bad]
        reports[rule.id] = RuleReport(rule, verdicts, evidence)
        for c in rule.hipaa:
            citations.setdefault(c, []).append(rule.id)
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
    other = [f for f in lint.findings if not f.rule_id[1:2] == "9"]
    dot = resource_graph_dot(template, reports)
    return Report(product=product, version=version, title=title or product, sha256=sha256, scenarios=labels,
                  rules=reports, citations=dict(sorted(citations.items())), waivers=waivers,
                  checkov_skips=skips, other_findings=other, dot=dot, svg=render_svg(dot),
                  guard_suppressions=_guard_suppressions(resources), scan=dict(scan or {}))


def _guard_suppressions(resources: Mapping) -> list[tuple[str, str, str]]:
    from generator.compliance import guard

    out = []
    for lid in sorted(resources):
        d = guard.declared(resources[lid])
        out += [(lid, rule, d.reasons.get(rule) or "(no reason: E9003)") for rule in d.rules]
    return out


# --- the independent scanners' section ---------------------------------------------------------

SCAN_NOTE = ("Not scanned: `make scan` runs checkov and the Guard HIPAA rule set (cfn-guard) on this template "
             "and on every scenario, and adds their results here.")
SCAN_LISTS = (("failures", "Unexplained findings", "message"), ("suppressions", "Suppressed, with their reasons", "reason"))


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


def scan_items(rep: Report, key: str) -> list[tuple[str, str, str, str, str]]:
    """(scanner, resource, rule, text, scope) of every failure (key "failures") or suppression ("suppressions")."""
    text = "message" if key == "failures" else "reason"
    return [(s.get("scanner", ""), i.get("resource", ""), i.get("rule", ""), i.get(text, ""), i.get("scope", ""))
            for s in rep.scan.get("scanners", []) for i in s.get(key, [])]


# --- the resource graph ------------------------------------------------------------------------

def _q(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def resource_graph_dot(template: Mapping, reports: Mapping[str, RuleReport] | None = None) -> str:
    """DOT text of the resources and their Ref/GetAtt/Sub/DependsOn connections (cfn-lint's graph),
    each resource coloured by its HIPAA verdict; conditional resources are dashed."""
    from cfnlint.graph import Graph
    from cfnlint.template import Template as CfnTemplate

    cfn = CfnTemplate("template.json", dict(template), ["us-east-1"])
    graph = Graph(cfn).graph
    resources = template.get("Resources") or {}
    status: dict[str, str] = {}
    for rep in (reports or {}).values():
        for st, text, _ in rep.evidence:
            lid = text.split(":", 1)[0]
            if ORDER[st] > ORDER.get(status.get(lid, "n/a"), 0):
                status[lid] = st
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
    if not exe:
        return ""
    proc = subprocess.run([exe, "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        return ""
    svg = proc.stdout
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else ""


# --- rendering ---------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(rep: Report) -> str:
    s = rep.scenarios
    heads = [x or "(single scenario)" for x in s]
    out = [f"# HIPAA compliance report: {rep.title} {rep.version}", "",
           f"- product: `{rep.product}`, version `{rep.version}`",
           f"- template sha256: `{rep.sha256}`" if rep.sha256 else "- template: (not built)",
           f"- scenarios evaluated ({len(s)}): " + ", ".join(f"`{x}`" for x in heads),
           f"- overall verdict: **{rep.overall}**",
           f"- rules: {len(rep.rules)} HIPAA rules (generator/compliance/rules/) in the same pass as cfn-lint's own rules", "",
           "## Summary", "",
           "| citation | safeguard | " + " | ".join(heads) + " |",
           "|---|---|" + "---|" * len(s)]
    for c, ids in rep.citations.items():
        out.append(f"| {c} | {CITATIONS.get(c, '')} | " + " | ".join(MARK[rep.verdict(c, x)] for x in s) + " |")
    out.append("")
    if rep.other_findings:
        out += ["## cfn-lint findings outside the HIPAA rules", ""]
        out += [f"- `{f.rule_id}` {f.logical_id} `{f.path_text}`: {_md_cell(f.message)}" for f in rep.other_findings]
        out.append("")
    for c, ids in rep.citations.items():
        out += [f"## {c} {CITATIONS.get(c, '')}", "",
                "| rule | checks | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(s)]
        for rid in ids:
            r = rep.rules[rid]
            out.append(f"| {rid} | {_md_cell(r.rule.shortdesc)} | " + " | ".join(MARK[r.verdicts[x]] for x in s) + " |")
        out.append("")
        for rid in ids:
            r = rep.rules[rid]
            if not r.evidence:
                continue
            out.append(f"Evidence for {rid} ({type(r.rule).__name__}; fix: {_md_cell(r.rule.fix)}):")
            out.append("")
            out += [f"- {st}: `{_md_cell(text)}` ({scope})" for st, text, scope in r.evidence]
            out.append("")
    out += ["## Waivers (resource Metadata `hipaa-catalog.waivers`)", ""]
    out += (["| resource | rule | reason |", "|---|---|---|"] + [f"| {a} | {b} | {_md_cell(c)} |" for a, b, c in rep.waivers]
            if rep.waivers else ["None."])
    out += ["", "## checkov skips (resource Metadata `checkov.skip`)", ""]
    out += (["| resource | check | reason |", "|---|---|---|"] + [f"| {a} | {b} | {_md_cell(c)} |" for a, b, c in rep.checkov_skips]
            if rep.checkov_skips else ["None."])
    out += ["", "## Guard suppressions (resource Metadata `guard.SuppressedRules`, reasons in "
                "`hipaa-catalog.guard-suppressions`)", ""]
    out += (["| resource | rule | reason |", "|---|---|---|"]
            + [f"| {a} | {b} | {_md_cell(c)} |" for a, b, c in rep.guard_suppressions]
            if rep.guard_suppressions else ["None."])
    out += ["", "## Independent scanners (`make scan`)", "", scan_status(rep), ""]
    if scan_rows(rep):
        out += ["| scanner | version | rule set | passed | failed | suppressed | counted as |",
                "|---|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(_md_cell(x) for x in row) + " |" for row in scan_rows(rep)]
        for key, heading, column in SCAN_LISTS:
            items = scan_items(rep, key)
            if items:
                out += ["", f"{heading}:", "", f"| scanner | resource | rule | {column} | where |", "|---|---|---|---|---|"]
                out += ["| " + " | ".join(_md_cell(x) for x in item) + " |" for item in items]
    out += ["", "## Resource graph", "",
            "See compliance.html for the picture; DOT source:" if rep.svg else
            "Graphviz `dot` was not available when this report was built, so only the DOT source is included "
            "(`make build` installs Graphviz):", "", "```dot", rep.dot.rstrip(), "```", ""]
    return "\n".join(out)


CSS = """body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:80em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}.FAIL{background:#f8d0d0}.WAIVED{background:#fbe8c0}.PASS{background:#d7f0d7}.na{color:#888}
code{font-size:90%}pre{background:#f6f6f6;padding:1em;overflow:auto}.graph svg{max-width:100%;height:auto}"""


def _cell(v: str) -> str:
    return f'<td class="{"na" if v == "n/a" else v}">{html.escape(MARK[v])}</td>'


def to_html(rep: Report) -> str:
    e = html.escape
    s = rep.scenarios
    heads = "".join(f"<th>{e(x or '(single scenario)')}</th>" for x in s)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>HIPAA compliance: {e(rep.title)} {e(rep.version)}</title><style>{CSS}</style></head><body>",
             f"<h1>HIPAA compliance report: {e(rep.title)} {e(rep.version)}</h1>",
             f"<p>Product <code>{e(rep.product)}</code>, version <code>{e(rep.version)}</code>"
             + (f", template sha256 <code>{e(rep.sha256)}</code>" if rep.sha256 else "")
             + f". Overall verdict: <strong>{e(rep.overall)}</strong>. {len(s)} scenario(s), {len(rep.rules)} HIPAA rules.</p>",
             "<h2>Summary</h2>", f"<table><tr><th>citation</th><th>safeguard</th>{heads}</tr>"]
    for c in rep.citations:
        parts.append(f'<tr><td><a href="#{e(_anchor(c))}">{e(c)}</a></td><td>{e(CITATIONS.get(c, ""))}</td>'
                     + "".join(_cell(rep.verdict(c, x)) for x in s) + "</tr>")
    parts.append("</table>")
    parts.append("<h2>Resources and connections</h2>")
    if rep.svg:
        parts.append(f'<div class="graph">{rep.svg}</div><p>Green: passes every HIPAA rule; red: fails one; '
                     "orange: waived; grey: no HIPAA rule applies; dashed: conditional resource.</p>")
    else:
        parts.append("<p><strong>Graphviz <code>dot</code> was not available when this report was built</strong>, so "
                     "the picture could not be drawn; its DOT source follows (render it with "
                     "<code>dot -Tsvg</code>, or run <code>make build</code>, which installs Graphviz).</p>"
                     f"<pre>{e(rep.dot)}</pre>")
    if rep.other_findings:
        parts.append("<h2>cfn-lint findings outside the HIPAA rules</h2><ul>")
        parts += [f"<li><code>{e(f.rule_id)}</code> {e(f.logical_id)} <code>{e(f.path_text)}</code>: {e(f.message)}</li>"
                  for f in rep.other_findings]
        parts.append("</ul>")
    for c, ids in rep.citations.items():
        parts.append(f'<h2 id="{e(_anchor(c))}">{e(c)} {e(CITATIONS.get(c, ""))}</h2>')
        parts.append(f"<table><tr><th>rule</th><th>checks</th>{heads}</tr>")
        for rid in ids:
            r = rep.rules[rid]
            parts.append(f"<tr><td>{e(rid)}</td><td>{e(r.rule.shortdesc)}</td>" + "".join(_cell(r.verdicts[x]) for x in s) + "</tr>")
        parts.append("</table>")
        for rid in ids:
            r = rep.rules[rid]
            if r.evidence:
                parts.append(f"<p>Evidence for {e(rid)} ({e(type(r.rule).__name__)}; fix: {e(r.rule.fix)}):</p><ul>")
                parts += [f'<li class="{st}">{e(st)}: <code>{e(text)}</code> ({e(scope)})</li>' for st, text, scope in r.evidence]
                parts.append("</ul>")
    for heading, rows, cols in (("Waivers (resource Metadata hipaa-catalog.waivers)", rep.waivers, ("resource", "rule", "reason")),
                                ("checkov skips (resource Metadata checkov.skip)", rep.checkov_skips, ("resource", "check", "reason")),
                                ("Guard suppressions (resource Metadata guard.SuppressedRules, reasons in "
                                 "hipaa-catalog.guard-suppressions)", rep.guard_suppressions, ("resource", "rule", "reason"))):
        parts.append(f"<h2>{e(heading)}</h2>")
        parts.append(_html_table(cols, rows) if rows else "<p>None.</p>")
    parts.append("<h2>Independent scanners (make scan)</h2>")
    parts.append(f"<p>{e(scan_status(rep).replace('`', '').replace('**', ''))}</p>")
    if scan_rows(rep):
        parts.append(_html_table(("scanner", "version", "rule set", "passed", "failed", "suppressed", "counted as"),
                                 scan_rows(rep)))
        for key, heading, column in SCAN_LISTS:
            if scan_items(rep, key):
                parts.append(f"<p>{e(heading)}:</p>")
                parts.append(_html_table(("scanner", "resource", "rule", column, "where"), scan_items(rep, key)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(cols: Sequence[str], rows: Iterable[Sequence]) -> str:
    e = html.escape
    return ("<table><tr>" + "".join(f"<th>{e(c)}</th>" for c in cols) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in row) + "</tr>" for row in rows) + "</table>")


def _anchor(citation: str) -> str:
    return "c-" + re.sub(r"[^0-9a-z]+", "-", citation.lower()).strip("-")


def write(rep: Report, directory: Path, writer=None) -> list[Path]:
    """Write compliance.md and compliance.html into ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / "compliance.md", directory / "compliance.html"]
    for path, text in zip(paths, (to_markdown(rep), to_html(rep))):
        if writer:
            writer(path, text)
        else:
            path.write_text(text, encoding="utf-8")
    return paths
