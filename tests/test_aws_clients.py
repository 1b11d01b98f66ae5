"""generator.aws.api.client: which clients are shared between callers and which are made for one."""

from __future__ import annotations

import os
import threading

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


def _refused(c) -> None:
    """One call of ``c`` to ENDPOINT, which refuses the connection (botocore's before-call has fired)."""
    with pytest.raises(aws.AwsCallError, match="cannot reach AWS"):
        aws.call(c, "GetParameter", "parameter /x", Name="/x")


def test_a_recorder_or_a_progress_line_sees_only_the_calls_made_through_it(env):
    env.setenv("AWS_MAX_ATTEMPTS", "1")   # one refused attempt per call, no retry
    sess = aws.session("us-east-1")
    shared = aws.client(sess, "ssm", "us-east-1")
    mine, theirs = aws.CallRecorder(), aws.CallRecorder()
    lines: list[str] = []
    recorded = aws.client(sess, "ssm", "us-east-1", mine)
    reported = aws.client(sess, "ssm", "us-east-1", theirs, progress=lines.append)
    assert recorded.client is shared and reported.client is shared   # one client, made once
    _refused(recorded)
    _refused(shared)
    thread = threading.Thread(target=_refused, args=(reported,))
    thread.start()
    thread.join()
    assert [(c.service, c.operation, c.region, c.write) for c in mine.calls] == [
        ("ssm", "GetParameter", "us-east-1", False)]
    assert len(theirs.calls) == 1 and lines == []   # the last attempt is not retried, so not reported
    with pytest.raises(aws.AwsCallError, match="cannot reach AWS"):   # a paginator's page is a call too
        aws.pages(recorded, "DescribeParameters", "Parameters")
    assert [c.operation for c in mine.calls] == ["GetParameter", "DescribeParameters"]


def test_a_forked_process_makes_its_own_clients():
    # Boto3: clients "cannot be shared across processes" (the build's lint workers are forked)
    first = aws.client(aws.session("us-east-1"), "ssm", "us-east-1")
    child = os.fork()
    if child == 0:
        os._exit(0 if aws.client(aws.session("us-east-1"), "ssm", "us-east-1") is not first else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
