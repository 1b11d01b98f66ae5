"""The manifest (generator/pipeline/manifest.py): the one hand-off from the build to publish and deploy."""

from __future__ import annotations

import json
import shutil

import pytest

from generator.errors import BuildError
from generator.pipeline import manifest as manifests
from generator.render import canonical_json

ROOT = manifests.ROOT


@pytest.fixture
def sources(tmp_path):
    """A copy of the sources a build hashes, plus the modules it must not hash."""
    root = tmp_path / "src"
    shutil.copytree(ROOT / "products", root / "products", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "generator", root / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _edit(path):
    with path.open("a", encoding="utf-8") as f:
        f.write("\n# edited\n")


@pytest.mark.parametrize("module", ["generator/devtools/demo.py", "generator/devtools/bench.py",
                                    "generator/devtools/local_aws/server.py", "generator/cli/main.py",
                                    "generator/cli/publish.py", "generator/aws/publish.py", "generator/aws/api.py",
                                    "generator/pipeline/cache.py", "generator/compliance/report.py"])
def test_editing_a_developer_tool_the_cli_or_the_aws_side_leaves_a_build_fresh(sources, module):
    before = manifests.sources_sha256(sources)
    _edit(sources / module)
    assert manifests.sources_sha256(sources) == before


@pytest.mark.parametrize("module", ["generator/blocks/s3.py", "generator/blocks/network.py",
                                    "generator/compliance/rules/TopicEncrypted.py", "generator/compliance/hipaa.py",
                                    "generator/render.py", "generator/settings.py", "generator/product.py",
                                    "products/web_server.py", "products/catalog.toml"])
def test_editing_what_shapes_a_template_makes_a_build_stale(sources, module):
    before = manifests.sources_sha256(sources)
    _edit(sources / module)
    assert manifests.sources_sha256(sources) != before


def test_a_stale_build_is_refused_naming_the_manifest(tmp_path, sources):
    text = canonical_json({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    entry = manifests.entry_for("p", "1.0.0", "first", text)
    (tmp_path / entry.path).parent.mkdir(parents=True)
    (tmp_path / entry.path).write_text(text)
    manifests.write(tmp_path, manifests.Manifest("c", ("us-east-1",), (entry,), manifests.sources_sha256(sources)))
    loaded = manifests.load(tmp_path)
    loaded.check_fresh(sources)
    _edit(sources / "generator" / "blocks" / "kms.py")
    with pytest.raises(BuildError, match=r"manifest\.json: stale build"):
        loaded.check_fresh(sources)


def test_round_trip_and_the_template_bytes_are_checked(tmp_path):
    text = canonical_json({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    entry = manifests.entry_for("p", "1.0.0", "first", text, kind="admin", resource_types=("AWS::SNS::Topic",))
    entry = manifests.Entry(**{**entry.__dict__, "extra": {"covers": [{"name": "x", "version": "1.0.0"}]}})
    (tmp_path / entry.path).parent.mkdir(parents=True)
    (tmp_path / entry.path).write_text(text)
    m = manifests.Manifest("c", ("us-east-1",), (entry,), "hash", linted_regions=("us-east-1",))
    manifests.write(tmp_path, m)
    loaded = manifests.load(tmp_path)
    assert loaded.manifest == m and loaded.entry("p") == entry
    assert json.loads(loaded.read_template(entry)) == json.loads(text)
    (tmp_path / entry.path).write_text(text + " ")
    with pytest.raises(BuildError, match="changed after the build"):
        loaded.read_template(entry)
    with pytest.raises(BuildError, match="no product 'q' in the manifest; built: p"):
        loaded.entry("q")


@pytest.mark.parametrize("body, message", [
    (None, "no manifest; run `make build` first"),
    ("{not json", "unreadable manifest"),
    ('{"catalog": "c"}', "not a hipaa-catalog manifest"),
    ('{"products": [{"name": "p"}]}', "product entry 'p' lacks title, kind, version"),
])
def test_a_bad_manifest_is_a_clear_build_error(tmp_path, body, message):
    if body is not None:
        (tmp_path / manifests.MANIFEST).write_text(body)
    with pytest.raises(BuildError, match=message.replace("(", r"\(")):
        manifests.load(tmp_path)
