"""generator.aws.api.client: which clients are shared between callers and which are made for one."""

from __future__ import annotations

import os

import pytest

from generator.aws import api as aws

ENDPOINT = "http://127.0.0.1:1"   # never called: making a client sends nothing


@pytest.fixture(autouse=True)
def env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", ENDPOINT)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return monkeypatch


def test_the_same_client_for_the_same_service_region_identity_and_settings():
    first = aws.client(aws.session("us-east-1"), "ssm", "us-east-1")
    assert aws.client(aws.session("us-east-1"), "ssm", "us-east-1") is first
    assert aws.client(aws.session("us-east-1"), "ssm", "us-west-2") is not first
    assert aws.client(aws.session("us-east-1"), "sts", "us-east-1") is not first
    other = aws.boto3_session(aws_access_key_id="other", aws_secret_access_key="other", region_name="us-east-1")
    assert aws.client(other, "ssm", "us-east-1") is not first


def test_a_changed_setting_of_the_environment_gives_a_new_client(env):
    first = aws.client(aws.session("us-east-1"), "ssm", "us-east-1")
    env.setenv("AWS_MAX_ATTEMPTS", "2")
    second = aws.client(aws.session("us-east-1"), "ssm", "us-east-1")
    assert second is not first and second.meta.config.retries != first.meta.config.retries
    env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:2")
    assert aws.client(aws.session("us-east-1"), "ssm", "us-east-1").meta.endpoint_url == "http://127.0.0.1:2"


def test_clients_with_a_recorder_or_a_progress_line_are_their_callers_own():
    sess = aws.session("us-east-1")
    shared = aws.client(sess, "ssm", "us-east-1")
    recorder = aws.CallRecorder()
    recorded = aws.client(sess, "ssm", "us-east-1", recorder)
    reported = aws.client(sess, "ssm", "us-east-1", progress=print)
    assert len({id(shared), id(recorded), id(reported)}) == 3
    assert aws.client(sess, "ssm", "us-east-1", recorder) is not recorded
    assert aws.client(sess, "ssm", "us-east-1") is shared


def test_a_forked_process_makes_its_own_clients():
    # Boto3: clients "cannot be shared across processes" (the build's lint workers are forked)
    first = aws.client(aws.session("us-east-1"), "ssm", "us-east-1")
    child = os.fork()
    if child == 0:
        os._exit(0 if aws.client(aws.session("us-east-1"), "ssm", "us-east-1") is not first else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
