"""Vendoring the AWS Guard Rules Registry's HIPAA Security rule set into ``generator/compliance/guard_rules/``.

The registry (https://github.com/aws-cloudformation/aws-guard-rules-registry, Apache-2.0) publishes its
rule sets only as GitHub release artefacts, so the project keeps a pinned copy of the files it needs:
the mapping file of the rule set, every ``.guard`` file the mapping lists (byte for byte), and the
registry's LICENSE and NOTICE.  ``pin.json`` records the commit, the mapping and the sha256 of every
file (``generator.compliance.guard`` refuses a copy that does not match it); ``README.md`` says where the
copy comes from and how to update it.

Update procedure (``make guard-rules REGISTRY=<checkout> [COMMIT=<sha>]``)::

    git clone https://github.com/aws-cloudformation/aws-guard-rules-registry /tmp/registry
    make guard-rules REGISTRY=/tmp/registry COMMIT=<commit>   # reads that commit with git show
    make scan                                                  # review every new finding
    git diff --stat generator/compliance/guard_rules/          # review the rule changes like code

``REGISTRY`` may also be a plain directory (an unpacked archive, no git): then ``COMMIT`` must name the
commit it was taken from, since the pin records it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from generator.errors import CatalogError, ConfigError

REGISTRY = "aws-cloudformation/aws-guard-rules-registry"
MAPPING = "mappings/rule_set_hipaa_security.json"
DEST = Path(__file__).resolve().parent / "guard_rules"
PIN = "pin.json"
LEGAL = ("LICENSE", "NOTICE")
_RULE_DEF = re.compile(r"^\s*rule\s+([A-Za-z0-9_]+)", re.MULTILINE)

README = """\
# AWS Guard Rules Registry: HIPAA Security rule set (vendored)

- registry: [{registry}](https://github.com/{registry}) (Apache License 2.0: `LICENSE`, `NOTICE`)
- commit: `{commit}`
- mapping: `{mapping}` (rule set `{name}`, version `{version}`)
- {files} rule files listed by the mapping, defining {rules} rules ({stubs} files are comment-only stubs
  the registry keeps for AWS Config rules it has no Guard rule for)

The files under `mappings/` and `rules/`, `LICENSE` and `NOTICE` are copied byte for byte from that commit.
They are data: `make scan` runs them with the cfn-guard engine (`generator/compliance/guard.py`).
Nothing here is modified; `pin.json` records the sha256 of every file and the scan refuses a copy that
does not match it.

## Updating

```sh
git clone https://github.com/{registry} /tmp/registry
make guard-rules REGISTRY=/tmp/registry COMMIT=<commit>   # rewrites this folder from that commit
make scan                                                  # every new finding: fix, or suppress with a reason
git diff --stat generator/compliance/guard_rules/          # review the rule changes like code
```

`REGISTRY` may also be a plain directory (no git); `COMMIT` then names the commit it was taken from.
"""


@dataclass(frozen=True)
class Source:
    """A registry checkout: a git repository (read at ``commit`` with ``git show``) or a plain directory."""

    root: Path
    commit: str
    git: bool

    @classmethod
    def open(cls, root: Path, commit: str | None) -> "Source":
        root = Path(root)
        if not root.is_dir():
            raise ConfigError(f"{root}: not a directory", hint="give REGISTRY=<a checkout of the Guard Rules Registry>")
        probe = subprocess.run(["git", "-C", str(root), "rev-parse", "--git-dir"], capture_output=True, text=True,
                               check=False)
        if probe.returncode == 0:
            wanted = commit or "HEAD"
            rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", f"{wanted}^{{commit}}"],
                                 capture_output=True, text=True, check=False)
            if rev.returncode != 0:
                raise ConfigError(f"{root}: no commit {wanted!r} in this repository",
                                  hint="fetch it, or give COMMIT=<a commit of the registry>")
            return cls(root, rev.stdout.strip(), True)
        if not commit or len(commit) != 40 or any(c not in "0123456789abcdef" for c in commit.lower()):
            raise ConfigError(f"{root}: a plain directory (no git), so the commit it was taken from must be given "
                              f"as 40 hex digits; found {commit!r}", hint="give COMMIT=<full commit sha>")
        return cls(root, commit.lower(), False)

    def read(self, rel: str) -> bytes:
        if self.git:
            proc = subprocess.run(["git", "-C", str(self.root), "show", f"{self.commit}:{rel}"],
                                  capture_output=True, check=False)
            if proc.returncode != 0:
                raise ConfigError(f"{self.root}@{self.commit[:12]}: no file {rel}")
            return proc.stdout
        path = self.root / rel
        try:
            return path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc


def rule_names(text: str) -> list[str]:
    """The names of the rules a ``.guard`` file defines (``rule NAME [when ...] {``)."""
    return _RULE_DEF.findall(text)


def mapped_files(mapping: dict, where: str) -> list[str]:
    """The ``guardFilePath`` of every entry of a registry mapping file, in order, without duplicates."""
    entries = mapping.get("mappings") if isinstance(mapping, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{where}: not a Guard Rules Registry mapping file (no \"mappings\" list)")
    paths: list[str] = []
    for i, entry in enumerate(entries):
        rel = entry.get("guardFilePath") if isinstance(entry, dict) else None
        if not isinstance(rel, str) or not rel.startswith("rules/") or not rel.endswith(".guard") or ".." in rel:
            raise ConfigError(f"{where}: mappings[{i}].guardFilePath is {rel!r}; expected rules/.../<name>.guard")
        if rel not in paths:
            paths.append(rel)
    return paths


def vendor(source: Source, dest: Path = DEST, mapping_path: str = MAPPING) -> dict:
    """Replace ``dest`` with the rule set of ``source``; returns the new pin."""
    raw_mapping = source.read(mapping_path)
    try:
        mapping = json.loads(raw_mapping)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source.root}: {mapping_path} is not JSON ({exc})") from exc
    files = {mapping_path: raw_mapping}
    rules: dict[str, str] = {}
    stubs = 0
    for rel in mapped_files(mapping, mapping_path):
        body = source.read(rel)
        files[rel] = body
        names = rule_names(body.decode("utf-8"))
        stubs += not names
        for name in names:
            if name in rules:
                raise ConfigError(f"{source.root}: rule {name} is defined in both {rules[name]} and {rel}")
            rules[name] = rel
    for name in LEGAL:
        files[name] = source.read(name)
    tmp = dest.with_name(dest.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    for rel, body in files.items():
        path = tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    pin = {"registry": REGISTRY, "commit": source.commit, "mapping": mapping_path,
           "rule_set": mapping.get("ruleSetName", ""), "version": mapping.get("version", ""),
           "rules": len(rules),
           "files": {rel: hashlib.sha256(body).hexdigest() for rel, body in sorted(files.items())}}
    (tmp / PIN).write_text(json.dumps(pin, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (tmp / "README.md").write_text(README.format(
        registry=REGISTRY, commit=source.commit, mapping=mapping_path, name=pin["rule_set"],
        version=pin["version"], files=len(files) - 1 - len(LEGAL), rules=len(rules), stubs=stubs), encoding="utf-8")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return pin


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make guard-rules REGISTRY=<checkout> [COMMIT=<sha>]", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("registry", type=Path, help="a checkout (git or plain) of " + REGISTRY)
    ap.add_argument("--commit", help="the commit to vendor (git: default HEAD; plain directory: required)")
    ap.add_argument("--dest", type=Path, default=DEST, help="folder to rewrite (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        source = Source.open(args.registry, args.commit)
        old = _pinned_commit(args.dest)
        pin = vendor(source, args.dest)
    except CatalogError as exc:
        print(f"guard-rules: error: {exc}", file=sys.stderr)
        return 2
    change = "unchanged" if old == pin["commit"] else f"was {old[:12] or 'none'}"
    print(f"vendored {pin['rule_set']} {pin['version']} from {REGISTRY}@{pin['commit'][:12]} ({change}): "
          f"{len(pin['files']) - 1 - len(LEGAL)} rule files, {pin['rules']} rules, into {_shown(args.dest)}")
    print("next: `make scan` (fix or suppress, with a reason, every new finding), then review "
          f"`git diff {_shown(args.dest)}`")
    return 0


def _pinned_commit(dest: Path) -> str:
    try:
        return str(json.loads((Path(dest) / PIN).read_text(encoding="utf-8")).get("commit", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
