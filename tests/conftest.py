"""Shared fixtures: the catalog settings and every product rendered once per test session."""

from __future__ import annotations

import pytest

from generator import build as pipeline
from generator import settings as catalog_settings


@pytest.fixture(scope="session")
def settings():
    return catalog_settings.load()


@pytest.fixture(scope="session")
def rendered(settings):
    """Every registered product rendered (not linted), by name."""
    return {b.name: b for b in pipeline.render_all(settings)}
