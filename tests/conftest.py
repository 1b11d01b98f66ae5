"""Shared fixtures: the catalog settings and every product rendered once per test session."""

from __future__ import annotations

import pytest

from generator import settings as catalog_settings
from generator.pipeline import build as pipeline


@pytest.fixture(scope="session")
def settings():
    return catalog_settings.load()


@pytest.fixture(scope="session")
def rendered(settings):
    """Every registered product rendered (not linted), by name."""
    return {b.name: b for b in pipeline.render_all(settings)}


# -- the local AWS endpoint (generator/local_aws) ---------------------------------------------------
# One server process per pytest(-xdist) worker, started on first use on a free port; every test that
# asks for `local_aws` gets it freshly reset (no resources, no faults, empty call log).

@pytest.fixture(scope="session")
def _local_aws_server():
    from generator.devtools.local_aws import LocalAws

    with LocalAws.start(port=0) as endpoint:
        yield endpoint


@pytest.fixture
def local_aws(_local_aws_server):
    """The local AWS endpoint (``LocalAws``), reset: no resources, faults off, empty call log."""
    _local_aws_server.reset()
    return _local_aws_server


@pytest.fixture
def aws_env(local_aws, monkeypatch):
    """Point boto3 and the AWS CLI at the local endpoint with dummy credentials; returns the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return local_aws
