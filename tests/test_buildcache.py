"""The build cache (generator/pipeline/cache.py): a no-change build reuses lint results (findings and
verdicts) and derived files, and every input that decides them invalidates them: the template, the rule
sources, cfn-lint's version, the regions, the report code, the files themselves."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from troposphere import Template
from troposphere.cloudformation import WaitConditionHandle

from generator import settings as catalog_settings
from generator.compliance.lint import Linter, LintResult
from generator.pipeline import build as pipeline, cache as buildcache
from generator.product import ProductSpec

ROOT = Path(__file__).resolve().parent.parent
REGIONS = ["us-east-1"]
# An unencrypted topic with a conditional property: a HIPAA finding with a path and a scenario, and
# cfn-lint list indexes (ints) in paths.
BAD = json.dumps({
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"Env": {"Type": "String", "AllowedValues": ["PROD", "TEST"]}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "PROD"]}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
        "KmsMasterKeyId": {"Fn::If": ["IsProd", "alias/aws/sns", {"Ref": "AWS::NoValue"}]},
        "Subscription": [{"Protocol": "email", "Endpoint": "a@example.org"}, {"Protocol": "bad"}]}}},
}, indent=2, sort_keys=True) + "\n"


def _tiny(name: str) -> Template:
    t = Template(Description=f"tiny product {name}")
    t.add_resource(WaitConditionHandle("Handle"))
    return t


def tiny_catalog(tmp_path: Path, names=("tiny-one", "tiny-two")):
    data = {"catalog": {"name": "tiny", "regions": REGIONS, "ssm_prefix": "/tiny"},
            "portfolio": {"name": "Tiny", "description": "tests", "provider": "tests"},
            "products": {n: {"version": "1.0.0", "description": n, "owner": "tests", "changes": {"1.0.0": "first"}}
                         for n in names}}
    settings = catalog_settings.parse(data, tmp_path / "catalog.toml")
    registry = {n: ProductSpec(name=n, title=n, kind="product", build=_tiny,
                               make_config=lambda s, ps, built: ps.name) for n in names}
    return settings, registry


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and buildcache.CACHE_DIR not in p.relative_to(out).parts}


@pytest.fixture(scope="module")
def bad_result():
    result = Linter(REGIONS).lint_text(BAD, "bad/1.0.0/template.json")
    assert any(f.rule_id == "E9104" and f.scenarios for f in result.findings)
    assert any(isinstance(p, int) for f in result.findings for p in f.path)
    assert {v.status for v in result.verdicts} == {"pass", "fail"} and result.scenarios == ("Env=PROD", "Env=TEST")
    return result


def test_cached_lint_result_equals_the_fresh_one(tmp_path, bad_result):
    cache = buildcache.BuildCache(tmp_path, REGIONS)
    assert cache.lint_result(BAD, "bad/1.0.0/template.json") is None
    cache.store_lint_result(BAD, "bad/1.0.0/template.json", bad_result)
    again = buildcache.BuildCache(tmp_path, REGIONS)
    assert again.lint_result(BAD, "bad/1.0.0/template.json") == bad_result
    assert again.stats["lint_hits"] == 1


def test_template_regions_and_cfn_lint_version_change_the_key(tmp_path, bad_result):
    cache = buildcache.BuildCache(tmp_path, REGIONS, cfn_lint_version="1.0.0")
    cache.store_lint_result(BAD, "t.json", bad_result)
    assert cache.lint_result(BAD, "t.json") == bad_result
    assert cache.lint_result(BAD.replace("a@example.org", "b@example.org"), "t.json") is None
    assert cache.lint_result(BAD, "other.json") is None
    assert buildcache.BuildCache(tmp_path, REGIONS + ["us-west-2"], cfn_lint_version="1.0.0").lint_result(BAD, "t.json") is None
    assert buildcache.BuildCache(tmp_path, REGIONS, cfn_lint_version="1.0.1").lint_result(BAD, "t.json") is None


def test_the_entry_format_is_part_of_the_key(tmp_path, bad_result, monkeypatch):
    buildcache.BuildCache(tmp_path, REGIONS).store_lint_result(BAD, "t.json", bad_result)
    monkeypatch.setattr(buildcache, "FORMAT", buildcache.FORMAT + 1)
    assert buildcache.BuildCache(tmp_path, REGIONS).lint_result(BAD, "t.json") is None


def test_an_entry_of_the_old_layout_is_a_miss(tmp_path, bad_result):
    cache = buildcache.BuildCache(tmp_path, REGIONS)
    cache.store_lint_result(BAD, "t.json", bad_result)
    for entry in (tmp_path / buildcache.CACHE_DIR / "lint").rglob("*.json"):
        data = json.loads(entry.read_text())
        entry.write_text(json.dumps({"key": data["key"], "findings": data["result"]["findings"]}))
    assert cache.lint_result(BAD, "t.json") is None


@pytest.mark.parametrize("edited", ["generator/compliance/rules/TopicEncrypted.py", "generator/compliance/hipaa.py",
                                    "generator/compliance/scenarios.py", "generator/compliance/lint.py"])
def test_a_change_to_the_rule_sources_invalidates(tmp_path, bad_result, edited):
    root = tmp_path / "src"
    for rel in buildcache.RULESET_SOURCES:
        src, dst = ROOT / rel, root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir() else shutil.copy(src, dst)
    out = tmp_path / "out"
    buildcache.BuildCache(out, REGIONS, root=root).store_lint_result(BAD, "t.json", bad_result)
    assert buildcache.BuildCache(out, REGIONS, root=root).lint_result(BAD, "t.json") == bad_result
    with (root / edited).open("a") as f:
        f.write("\n# changed\n")
    assert buildcache.BuildCache(out, REGIONS, root=root).lint_result(BAD, "t.json") is None


def test_a_new_rule_file_invalidates(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(ROOT / "generator", root / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    before = buildcache.ruleset_version(REGIONS, root=root)
    (root / "generator" / "compliance" / "rules" / "NewRule.py").write_text("# a new rule\n")
    assert buildcache.ruleset_version(REGIONS, root=root) != before


def test_corrupt_entry_is_a_miss(tmp_path, bad_result):
    cache = buildcache.BuildCache(tmp_path, REGIONS)
    cache.store_lint_result(BAD, "t.json", bad_result)
    for entry in (tmp_path / buildcache.CACHE_DIR / "lint").rglob("*.json"):
        entry.write_text("{not json")
    assert cache.lint_result(BAD, "t.json") is None


def test_derived_files_are_fresh_only_while_inputs_and_files_are_unchanged(tmp_path, bad_result):
    cache = buildcache.BuildCache(tmp_path, REGIONS)
    ident = {"name": "p", "version": "1.0.0", "title": "P", "sha256": "0" * 64}
    key = cache.derived_key(ident, bad_result)
    assert key != cache.derived_key(ident, dataclasses.replace(bad_result, findings=bad_result.findings[1:]))
    # the verdicts are what the report is made of: another verdict, another report
    waived = tuple(dataclasses.replace(v, status="waived", reason="why") if v.status == "fail" else v
                   for v in bad_result.verdicts)
    assert key != cache.derived_key(ident, dataclasses.replace(bad_result, verdicts=waived))
    assert key != cache.derived_key({**ident, "sha256": "1" * 64}, bad_result)
    d = tmp_path / "p" / "1.0.0"
    d.mkdir(parents=True)
    (d / "compliance.md").write_text("report\n")
    assert not cache.derived_fresh("p/1.0.0", key, d)
    cache.record_derived("p/1.0.0", key, d, ["compliance.md"])
    assert cache.derived_fresh("p/1.0.0", key, d)
    assert not cache.derived_fresh("p/1.0.0", cache.derived_key(ident, LintResult()), d)
    (d / "compliance.md").write_text("edited by hand\n")
    assert not cache.derived_fresh("p/1.0.0", key, d)
    (d / "compliance.md").unlink()
    assert not cache.derived_fresh("p/1.0.0", key, d)


def test_report_code_is_an_input_of_the_derived_files(tmp_path):
    root = tmp_path / "src"
    for rel in buildcache.RULESET_SOURCES + buildcache.DERIVED_SOURCES:
        src, dst = ROOT / rel, root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__")) if src.is_dir() else shutil.copy(src, dst)
    before = buildcache.BuildCache(tmp_path, REGIONS, root=root).derived_inputs()
    with (root / "generator" / "compliance" / "report.py").open("a") as f:
        f.write("\n# changed\n")
    assert buildcache.BuildCache(tmp_path, REGIONS, root=root).derived_inputs() != before


def test_second_build_is_served_from_the_cache_and_byte_identical(tmp_path):
    settings, registry = tiny_catalog(tmp_path)
    out = tmp_path / "build"
    first: list[str] = []
    pipeline.build(settings, out_dir=out, registry=registry, progress=first.append)
    assert not any("(cached)" in m for m in first)
    snap = _snapshot(out)
    second: list[str] = []
    pipeline.build(settings, out_dir=out, registry=registry, progress=second.append)
    assert [m for m in second if m.startswith("validated")] == \
        ["validated tiny-one 1.0.0: clean in us-east-1 (cached)", "validated tiny-two 1.0.0: clean in us-east-1 (cached)"]
    assert _snapshot(out) == snap
    # a derived file edited or deleted by hand is written again
    (out / "tiny-one/1.0.0/compliance.md").write_text("edited\n")
    (out / "tiny-two/1.0.0/template.yaml").unlink()
    pipeline.build(settings, out_dir=out, registry=registry)
    assert _snapshot(out) == snap
    # the same build without the cache gives the same bytes, and leaves no cache behind
    pipeline.build(settings, out_dir=tmp_path / "nocache", registry=registry, cache=False)
    assert _snapshot(tmp_path / "nocache") == snap
    assert not (tmp_path / "nocache" / buildcache.CACHE_DIR).exists()
