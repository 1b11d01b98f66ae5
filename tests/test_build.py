"""`hipaa-catalog build`: deterministic output, manifest, and clear failure on lint findings."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from generator.cli.main import main
from generator.errors import LintError
from generator.pipeline import build as pipeline
from tests.conftest import copy_scan_results


def _snapshot(out: Path) -> dict[str, bytes]:
    """Every file of a build folder but its cache (``.cache``), by path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.relative_to(out).parts[0] != ".cache"}


@pytest.mark.slow   # a cold build of the whole catalog (make test-fast leaves it to make test)
def test_build_twice_is_byte_identical(tmp_path, capsys, catalog_build):
    """A cold build here (nothing cached) writes what the session's catalog build wrote (in another process,
    from the lint results `make build` kept where they are current), given the same scanner results, which
    the pages show.  Only the build caches are left out: they record what each build did."""
    out = tmp_path / "cold"
    copy_scan_results(catalog_build, out)
    assert main(["build", "--out", str(out)]) == 0
    a, b = _snapshot(catalog_build), _snapshot(out)
    assert a.keys() == b.keys() and "manifest.json" in a
    assert a == b


def test_manifest_describes_every_product(tmp_path, settings, capsys, seed_lint):
    assert main(["build", "--out", str(seed_lint(tmp_path)), "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest == json.loads((tmp_path / "manifest.json").read_text())
    names = [p["name"] for p in manifest["products"]]
    assert names == list(settings.products)
    for entry in manifest["products"]:
        text = (tmp_path / entry["path"]).read_text()
        assert pipeline.render.sha256(text) == entry["sha256"]
        assert entry["size"] == len(text.encode())
        assert entry["version"] == settings.products[entry["name"]].version
        assert (tmp_path / entry["yaml_path"]).is_file()
        assert entry["resource_types"] and entry["parameters"] is not None


def test_lint_failure_names_product_logical_id_and_rule(tmp_path, settings):
    from troposphere import Parameter, Template

    from products.registry import ProductSpec

    def bad_build(_cfg):
        t = Template()
        t.add_parameter(Parameter("Unused", Type="String"))
        t.add_resource(__import__("troposphere.sns", fromlist=["Topic"]).Topic("Topic"))
        return t

    name = next(iter(settings.products))
    spec = ProductSpec(name=name, title="bad", kind="product", build=bad_build, make_config=lambda *a: None)
    only = dataclasses.replace(settings, products={name: settings.products[name]})  # a one-product catalog
    with pytest.raises(LintError) as err:
        pipeline.build(only, out_dir=tmp_path, registry={name: spec})
    msg = str(err.value)
    assert name in msg and "[Unused]" in msg and "W2001" in msg
    assert not (tmp_path / "manifest.json").exists()


def test_cli_error_is_one_line_and_nonzero(tmp_path):
    bad = tmp_path / "catalog.toml"
    bad.write_text("[catalog]\nname = 1\n")
    proc = subprocess.run([sys.executable, "-m", "generator.cli.main", "--settings", str(bad), "build",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("hipaa-catalog: error: ") and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "generator.cli.main", "--debug", "--settings", str(bad), "build"],
                          capture_output=True, text=True)
    assert "Traceback" in proc.stderr
