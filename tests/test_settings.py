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


# -- the optional [organization] table ------------------------------------------------------------------

ORG = """
[organization]
regions = ["us-east-1"]
max_concurrent_accounts = 5
failure_tolerance = 1
[organization.targets]
prod = ["ou-ab12-11111111"]
test = ["ou-ab12-22222222", "ou-ab12-33333333"]
"""


def test_without_organization_nothing_changes(settings):
    assert settings.organization is None


def test_organization_targets_regions_and_stackset_options(tmp_path):
    s = load_text(tmp_path, GOOD + ORG)
    org = s.organization
    assert dict(org.targets) == {"prod": ("ou-ab12-11111111",), "test": ("ou-ab12-22222222", "ou-ab12-33333333")}
    assert org.target_ids == ("ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333")
    assert org.environment_of("ou-ab12-33333333") == "test"
    assert org.regions == ("us-east-1",)
    assert (org.max_concurrent_accounts, org.failure_tolerance, org.concurrency_mode) == (5, 1, "soft")
    assert org.auto_deployment and org.retain_stacks_on_account_removal
    off = load_text(tmp_path, GOOD + ORG.replace('failure_tolerance = 1', 'auto_deployment = false')).organization
    assert not off.auto_deployment and not off.retain_stacks_on_account_removal
    assert (org.call_as, org.member_role) == ("SELF", "OrganizationAccountAccessRole")


def test_organization_regions_default_to_the_catalog_regions(tmp_path):
    s = load_text(tmp_path, GOOD + ORG.replace('regions = ["us-east-1"]\n', ''))
    assert s.organization.regions == s.regions


def test_the_whole_organisation_by_its_root_id(tmp_path):
    s = load_text(tmp_path, GOOD + '\n[organization.targets]\nall = ["r-ab12"]\n')
    assert s.organization.target_ids == ("r-ab12",)


@pytest.mark.parametrize("edit, key, allowed", [
    (lambda s: s.replace('"ou-ab12-11111111"', '"ou-AB"'), "organization.targets.prod",
     "ou-<root part>-<8 to 32 letters or digits>"),
    (lambda s: s.replace('prod = ["ou-ab12-11111111"]', 'prod = []'), "organization.targets.prod",
     "a non-empty list"),
    (lambda s: s.replace('"ou-ab12-33333333"', '"ou-ab12-11111111"'), "organization.targets.test",
     "each id in one environment"),
    (lambda s: s.replace('prod = ["ou-ab12-11111111"]', 'prod = ["r-ab12"]'), "organization.targets",
     "either the root id alone"),
    (lambda s: s.replace('prod =', 'Prod ='), "organization.targets.Prod", "lower-case letters"),
    (lambda s: s.replace('regions = ["us-east-1"]', 'regions = ["eu-west-1"]'), "organization.regions",
     "us-east-1, us-west-2"),
    (lambda s: s.replace('regions = ["us-east-1"]', 'regions = ["us-west-2"]'), "organization.regions",
     "a list containing us-east-1"),
    (lambda s: s.replace('max_concurrent_accounts = 5', 'max_concurrent_accounts = 0'),
     "organization.max_concurrent_accounts", "from 1 to 1000"),
    (lambda s: s.replace('failure_tolerance = 1', 'failure_tolerance = -1'), "organization.failure_tolerance",
     "from 0 to 1000"),
    (lambda s: s.replace('failure_tolerance = 1', 'concurrency_mode = "fast"'), "organization.concurrency_mode",
     "strict, soft"),
    (lambda s: s.replace('failure_tolerance = 1', 'call_as = "ME"'), "organization.call_as",
     "SELF, DELEGATED_ADMIN"),
    (lambda s: s.replace('failure_tolerance = 1', 'auto_deployment = "yes"'), "organization.auto_deployment",
     "true or false"),
    (lambda s: s.replace('failure_tolerance = 1', 'auto_deployment = false\nretain_stacks_on_account_removal = true'),
     "organization.retain_stacks_on_account_removal", "true only with auto_deployment"),
    (lambda s: s.replace('failure_tolerance = 1', 'member_role = "a role"'), "organization.member_role",
     "1-64 letters"),
    (lambda s: s.replace('failure_tolerance = 1', 'accounts = ["111122223333"]'), "organization.accounts",
     "unknown key"),
    (lambda s: s.replace('[organization.targets]\nprod = ["ou-ab12-11111111"]\ntest = ["ou-ab12-22222222", '
                         '"ou-ab12-33333333"]\n', ''), "organization.targets", "missing field"),
])
def test_bad_organization_names_file_key_and_allowed(tmp_path, edit, key, allowed):
    text = edit(GOOD + ORG)
    assert text != GOOD + ORG
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text)
    msg = str(err.value)
    assert str(tmp_path / "catalog.toml") in msg and f"{key}:" in msg and allowed in msg, msg
