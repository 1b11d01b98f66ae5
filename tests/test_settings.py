"""The catalog settings are validated on load with errors that name the file, the key and what is allowed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from generator import settings as catalog_settings
from generator.errors import ConfigError

GOOD = catalog_settings.DEFAULT_SETTINGS.read_text(encoding="utf-8")


def load_text(tmp_path: Path, text: str):
    p = tmp_path / "catalog.toml"
    p.write_text(text, encoding="utf-8")
    return catalog_settings.load(p)


def test_the_real_settings_load(settings):
    assert settings.regions and settings.ssm_prefix.startswith("/")
    for product in settings.products.values():
        assert product.change_note


@pytest.mark.parametrize("edit, key, allowed", [
    (lambda s: s.replace('version = "1.0.0"', 'version = "1.0"', 1), "version", "MAJOR.MINOR.PATCH"),
    (lambda s: s.replace('[portfolio]', '[portfolio]\ncolour = "blue"'), "portfolio.colour", "allowed: description"),
    (lambda s: s.replace('ssm_prefix = "/hipaa-catalog"', ''), "catalog.ssm_prefix", "missing field"),
    (lambda s: s.replace('regions = ["us-east-1"', 'regions = ["mars-1"'), "catalog.regions", "AWS region names"),
    (lambda s: s.replace('active_versions = 2', 'active_versions = 0'), "publish.active_versions", "from 1 to 100"),
    (lambda s: s + '\n[surprise]\nx = 1\n', "surprise", "unknown section"),
])
def test_bad_settings_name_file_key_and_allowed(tmp_path, edit, key, allowed):
    text = edit(GOOD)
    assert text != GOOD
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text)
    msg = str(err.value)
    assert str(tmp_path / "catalog.toml") in msg
    assert key in msg
    assert allowed in msg


def test_missing_change_note_for_current_version(tmp_path):
    data = tomllib.loads(GOOD)
    name = next(iter(data["products"]))
    data["products"][name]["version"] = "9.9.9"
    with pytest.raises(ConfigError, match=rf"products.{name}.changes: no change note for the current version 9.9.9"):
        catalog_settings.parse(data, tmp_path / "x.toml")


def test_bad_toml_syntax_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_text(tmp_path, "[catalog\n")
