"""Smoke tests of the `make bench` harness (generator/bench.py) on tiny inputs.

They check that every part runs and counts what it should; they never assert on a time (the
benchmark itself holds the timings to their targets).
"""

from __future__ import annotations

import json

import pytest

from generator import settings as catalog_settings
from generator.devtools import bench
from generator.pipeline import build as pipeline
from generator.render import canonical_json

TINY = canonical_json({"AWSTemplateFormatVersion": "2010-09-09", "Description": "tiny",
                       "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})


def test_variants_are_valid_settings_and_distinct_templates(tmp_path):
    path = bench.write_variant_settings(tmp_path, 3)
    settings = catalog_settings.load(path)
    assert list(settings.products) == ["web-variant-01", "web-variant-02", "web-variant-03"]
    items = pipeline.render_all(settings, registry=bench.variant_registry(settings))
    assert len({i.sha256 for i in items}) == 3
    one, registry = bench.upto(settings, bench.variant_registry(settings), "web-variant-02")
    assert list(one.products) == list(registry) == ["web-variant-02"]


def test_build_part_measures_ours_the_anchor_and_no_change(tmp_path):
    results = bench.bench_build(tmp_path, variants=1, repeat=1, rounds=1, per_template=True, real=False,
                                parts=False, progress=lambda m: None)
    v = results["variants"]
    assert v["templates"] == 1 and v["rounds"] == 1
    assert v["ours"]["failures"] == [] and v["anchor"]["failures"] == [] and v["naive"]["failures"] == []
    assert v["naive"]["processes"] == 2   # one render + one cfn-lint per template
    assert v["ours"]["rss_mb"] > 0 and v["anchor"]["rss_mb"] > 0 and v["ratio"] > 0 and v["cpu_ratio"] > 0
    assert v["anchor"]["seconds"] >= v["anchor"]["lint_s"] > 0 and v["ours"]["cpu_s"] > 0
    assert len(v["no_change"]["runs_s"]) == 1
    # (manifest.json changes too if someone edits generator/ or products/ while this runs)
    assert v["no_change"]["identical"], v["no_change"]["changed"]
    # the variant changed is linted again, alone; its reports and the catalog page rewritten
    oc = v["one_changed"]
    assert oc["linted"] == oc["expected_linted"] and oc["rewritten"] == oc["expected_rewritten"], oc
    # where the time goes: our build's parts from its timings
    assert v["where"]["ours"]["workers: linting (CPU, all workers)"] > 0
    anchor = json.loads((tmp_path / "anchor-variants" / "web-variant-01.json").read_text())
    naive = json.loads((tmp_path / "naive-variants" / "web-variant-01.json").read_text())
    ours = json.loads((tmp_path / "ours-variants" / "web-variant-01" / "1.0.0" / "template.json").read_text())
    assert naive == anchor != ours   # ours has the first variant changed by now
    assert (tmp_path / "ours-variants" / "manifest.json").is_file()


def test_the_parts_of_a_lint_pass(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(TINY)
    parts = bench._lint_parts_child([str(path)], ["us-east-1"])
    assert parts["lint, warm pass (CPU)"] > 0 and parts["load cfn-lint's and the HIPAA rules (CPU)"] > 0
    assert {"  of which schema checks, E1001 (CPU)", "  of which the HIPAA rules (CPU)"} <= set(parts)


@pytest.mark.aws
def test_publish_part_counts_calls_of_ours_and_of_the_naive_way(tmp_path, aws_env):
    results = bench.bench_publish(aws_env, tmp_path, TINY, products=1, regions=("us-east-1",), latency_ms=0,
                                  naive=True, scaling=False, progress=lambda m: None)
    assert results["first"]["failures"] == [] and results["first"]["writes"] > 0
    assert results["no_change"]["writes"] == 0 and results["no_change"]["reads"] > 0
    writes = {k: n for k, n in results["one_changed"]["by_operation"].items() if bench._is_write_key(k)}
    assert writes == {"s3:PutObject": 1, "servicecatalog:CreateProvisioningArtifact": 1,
                      "servicecatalog:UpdateProvisioningArtifact": 1}
    naive = results["naive"]
    assert naive["failures"] == [] and naive["processes"] == 2   # one aws s3 cp, one create-provisioning-artifact
    assert naive["by_operation"]["s3:PutObject"] == 1
    assert naive["by_operation"]["servicecatalog:CreateProvisioningArtifact"] == 1
    targets = {t.name: t.ok for t in bench.evaluate({"publish": results})}
    assert targets["no-change publish"] is (results["no_change"]["reads"] <= 2 * 1)
    assert targets["one-product-changed publish"]


def _fake_build(templates, ratio, no_change_s):
    ours = {"seconds": 6.0 * ratio, "cpu_s": 5.0, "load": [0.1], "rss_mb": 150, "failures": []}
    return {"templates": templates, "regions": ["us-east-1", "us-west-2"], "rounds": 1, "ours": ours,
            "anchor": {"seconds": 6.0, "cpu_s": 5.5, "render_s": 0.5, "lint_s": 5.5, "load": [0.2], "failures": []},
            "ratio": ratio, "lint_only_ratio": ratio * 1.1, "cpu_ratio": 0.9, "ours_per_template_s": 0.1,
            "where": {"ours": {"rendering (wall)": 0.1}, "lint_parts": {"import cfn-lint (CPU)": 0.4}},
            "no_change": {"runs_s": [no_change_s], "median_s": no_change_s, "cpu_s": no_change_s, "rss_mb": 40,
                          "identical": True, "failures": []}}


def _fake_results(ratio=0.55, no_change_s=0.3, reads=30, writes=0, changed=None, scale=None,
                  linted=("v/1.0.0/template.json",)):
    regions = ["us-east-1", "us-west-2", "eu-west-1"]
    linted = list(linted)
    changed = changed or {"s3:PutObject": 3, "servicecatalog:CreateProvisioningArtifact": 3,
                          "servicecatalog:UpdateProvisioningArtifact": 3, "servicecatalog:ListPortfolios": 3}
    run = {"seconds": 1.0, "reads": reads, "writes": writes, "by_operation": {}, "failures": [],
           "per_product_region": {"reads": reads / 18, "writes": writes / 18}}
    scale = scale or {(6, 1): 1.0, (6, 2): 1.2, (6, 4): 1.5, (3, 2): 0.7}
    calls = {"reads": 40, "writes": 60}
    singles = {f"6x{r}": {"products": 6, "regions": [r], "seconds": scale[(6, 1)], **calls}
               for r in bench.PUBLISH_REGIONS}
    return {
        "environment": bench.environment(),
        "build": {
            "catalog": _fake_build(3, ratio, no_change_s),
            "variants": dict(_fake_build(50, ratio * 5 / 6, 1.0), one_changed={
                "seconds": 1.0, "cpu_s": 1.0, "load": 0.1, "linted": linted, "rewritten": ["catalog", "v/1.0.0"],
                "expected_linted": ["v/1.0.0/template.json"], "expected_rewritten": ["catalog", "v/1.0.0"],
                "failures": []})},
        "publish": {"products": 6, "regions": regions, "latency_ms": 20, "first": dict(run, writes=78),
                    "no_change": run, "one_changed": dict(run, by_operation=changed),
                    "scaling": {**singles,
                                "6x2": {"products": 6, "regions": list(bench.PUBLISH_REGIONS[:2]), "seconds": scale[(6, 2)], **calls},
                                "6x4": {"products": 6, "regions": list(bench.PUBLISH_REGIONS), "seconds": scale[(6, 4)], **calls},
                                "3x2": {"products": 3, "regions": list(bench.PUBLISH_REGIONS[:2]), "seconds": scale[(3, 2)], **calls}},
                    "scaling_keys": {"n": 3, "two_n": 6}},
    }


def test_targets_met_and_missed():
    good = bench.evaluate(_fake_results())
    assert good and all(t.ok for t in good), [t for t in good if not t.ok]
    names = {t.name for t in good}
    assert {"cold build, catalog", "cold build, variants", "one product changed", "no-change rebuild",
            "no-change publish", "one-product-changed publish", "parallel: 2 regions", "parallel: 4 regions"} <= names
    assert sum(n.startswith("linear:") for n in names) == 3
    bad = bench.evaluate(_fake_results(ratio=0.65, no_change_s=0.6, reads=37, writes=1,
                                       linted=["v/1.0.0/template.json", "w/1.0.0/template.json"],
                                       changed={"s3:PutObject": 3, "servicecatalog:CreateProvisioningArtifact": 3,
                                                "servicecatalog:UpdateProduct": 3},
                                       scale={(6, 1): 1.0, (6, 2): 2.6, (6, 4): 2.5, (3, 2): 1.2}))
    missed = {t.name for t in bad if not t.ok}
    assert missed == {"cold build, catalog", "cold build, variants", "one product changed", "no-change rebuild",
                      "no-change publish", "one-product-changed publish", "linear: regions 1 -> 2", "parallel: 2 regions"}


def test_table_and_exit_code(tmp_path, capsys):
    results = _fake_results()
    text = bench.render_table(results, bench.evaluate(results))
    assert "build variants (50 templates), cold" in text and "0.46x" in text and "PASS" in text
    assert "where the time goes, build catalog" in text
    out = tmp_path / "bench.json"
    assert bench.main(["--skip-build", "--skip-publish", "--skip-org", "--json-out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["environment"]["cores"] and data["environment"]["tools"]["cfn-lint"] and data["ok"] is True


def _org_results(small_calls=60, big_calls=60, rerun_writes=0, instances=3):
    run = lambda calls, writes=0: {"seconds": 1.0, "reads": calls - writes, "writes": writes,  # noqa: E731
                                   "by_operation": {}, "failures": []}
    return {"environment": bench.environment(), "organization": {
        "accounts": 100, "products": 10, "regions": ["us-east-1", "us-west-2"], "latency_ms": 20,
        "publish_small": run(small_calls, 40), "publish_first": run(big_calls, 40), "deploy_first": run(50, 9),
        "publish_again": run(30, rerun_writes), "deploy_again": run(20), "per_account_first": run(5000, 4600),
        "per_account_again": run(1400), "per_account_new": run(50, 46),
        "new_account": {"publisher_calls": 0, "vendor_seconds": 0.1, "stack_instances": instances,
                        "expected_instances": 3, "portfolio_visible": {"us-east-1": True, "us-west-2": True}}}}


def test_organisation_targets_and_table():
    good = {t.name: t.ok for t in bench.evaluate(_org_results())}
    assert good == {"organisation publish does not grow with accounts": True, "organisation no-change re-run": True,
                    "a new account costs the publisher nothing": True}
    bad = {t.name: t.ok for t in bench.evaluate(_org_results(big_calls=70, rerun_writes=1, instances=2))}
    assert not any(bad.values())
    text = bench.render_table(_org_results(), bench.evaluate(_org_results()))
    assert "organisation: 100 member accounts x 2 regions x 10 products" in text and "one new account" in text
