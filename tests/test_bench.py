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


def test_build_part_measures_ours_naive_and_no_change(tmp_path):
    results = bench.bench_build(tmp_path, variants=1, repeat=1, naive=True, real=False, progress=lambda m: None)
    v = results["variants"]
    assert v["templates"] == 1
    assert v["ours"]["failures"] == [] and v["naive"]["failures"] == []
    assert v["ours"]["processes"] == 1 and v["naive"]["processes"] == 2   # one render + one cfn-lint
    assert v["ours"]["rss_mb"] > 0 and v["naive"]["rss_mb"] > 0 and v["speedup"] > 0
    assert len(v["no_change"]["runs_s"]) == 1
    # (manifest.json changes too if someone edits generator/ or products/ while this runs)
    assert v["no_change"]["identical"], v["no_change"]["changed"]
    assert (tmp_path / "ours-variants" / "manifest.json").is_file()
    naive = json.loads((tmp_path / "naive-variants" / "web-variant-01.json").read_text())
    ours = json.loads((tmp_path / "ours-variants" / "web-variant-01" / "1.0.0" / "template.json").read_text())
    assert naive == ours


@pytest.mark.aws
def test_publish_part_counts_calls_of_ours_and_of_the_naive_way(tmp_path, aws_env):
    results = bench.bench_publish(aws_env, tmp_path, TINY, products=2, regions=("us-east-1",), latency_ms=0,
                                  naive=True, scaling=False, progress=lambda m: None)
    assert results["first"]["failures"] == [] and results["first"]["writes"] > 0
    assert results["no_change"]["writes"] == 0 and results["no_change"]["reads"] > 0
    writes = {k: n for k, n in results["one_changed"]["by_operation"].items() if bench._is_write_key(k)}
    assert writes == {"s3:PutObject": 1, "servicecatalog:CreateProvisioningArtifact": 1,
                      "servicecatalog:UpdateProvisioningArtifact": 1}
    naive = results["naive"]
    assert naive["failures"] == [] and naive["processes"] == 4
    assert naive["by_operation"]["s3:PutObject"] == 2
    assert naive["by_operation"]["servicecatalog:CreateProvisioningArtifact"] == 2
    targets = {t.name: t.ok for t in bench.evaluate({"publish": results})}
    assert targets["no-change publish"] is (results["no_change"]["reads"] <= 2 * 2)
    assert targets["one-product-changed publish"]


def _fake_results(speedup=5.0, no_change_s=0.5, reads=30, writes=0, changed=None, scale=None):
    regions = ["us-east-1", "us-west-2", "eu-west-1"]
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
            "catalog": {"templates": 3, "regions": regions[:2], "ours": {"seconds": 5.0, "rss_mb": 150, "failures": []},
                        "ours_per_template_s": 1.7, "no_change": {"runs_s": [no_change_s], "median_s": no_change_s,
                                                                  "rss_mb": 40, "identical": True, "failures": []}},
            "variants": {"templates": 50, "regions": regions[:2],
                         "ours": {"seconds": 10.0, "rss_mb": 160, "failures": []}, "ours_per_template_s": 0.2,
                         "naive": {"seconds": 10.0 * speedup, "rss_mb": 140, "failures": []},
                         "naive_per_template_s": 0.2 * speedup, "speedup": speedup, "memory_ratio": 1.1,
                         "no_change": {"runs_s": [1.0], "median_s": 1.0, "rss_mb": 40, "identical": True,
                                       "failures": []}}},
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
    assert {"variant build speed-up", "no-change rebuild", "no-change publish", "one-product-changed publish",
            "parallel: 2 regions", "parallel: 4 regions"} <= names
    assert sum(n.startswith("linear:") for n in names) == 3
    bad = bench.evaluate(_fake_results(speedup=3.9, no_change_s=1.6, reads=37, writes=1,
                                       changed={"s3:PutObject": 3, "servicecatalog:CreateProvisioningArtifact": 3,
                                                "servicecatalog:UpdateProduct": 3},
                                       scale={(6, 1): 1.0, (6, 2): 2.6, (6, 4): 2.5, (3, 2): 1.2}))
    missed = {t.name for t in bad if not t.ok}
    assert missed == {"variant build speed-up", "no-change rebuild", "no-change publish",
                      "one-product-changed publish", "linear: regions 1 -> 2", "parallel: 2 regions"}


def test_table_and_exit_code(tmp_path, capsys):
    results = _fake_results()
    text = bench.render_table(results, bench.evaluate(results))
    assert "build variants (50 templates)" in text and "5.00x" in text and "PASS" in text
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
