"""Endpoints forked by the warm parent (generator/devtools/local_aws/forkserver.py): they serve as a started
endpoint does, each with its own state; one that cannot start says why; the parent ends with its owner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import boto3
import pytest

from generator.devtools.local_aws import FORK_SERVER, LocalAws, forkserver
from generator.errors import LocalAwsError

pytestmark = pytest.mark.aws


def _s3(endpoint: LocalAws):
    return boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_the_runs_endpoints_are_forked_by_one_warm_parent_each_with_its_own_state(local_aws):
    assert os.environ.get(FORK_SERVER), "tests/conftest.py names the run's warm parent"
    with LocalAws.start(port=0) as second:
        forked = second._process
        assert isinstance(forked, forkserver.Forked) and forked.poll() is None
        assert _parent_of(forked.pid) == _parent_of(local_aws._process.pid) != os.getpid()
        _s3(second).create_bucket(Bucket="only-in-the-second")
        assert [b["Name"] for b in _s3(second).list_buckets()["Buckets"]] == ["only-in-the-second"]
        assert _s3(local_aws).list_buckets()["Buckets"] == []
        assert [c["operation"] for c in second.calls()] == ["CreateBucket", "ListBuckets"]
    assert forked.returncode == 0   # the parent reports its child's exit code
    with pytest.raises(LocalAwsError, match="did not answer"):
        second.calls()


@pytest.mark.parametrize("start", ["forked", "a process of its own"])
def test_an_endpoint_that_cannot_start_says_why(local_aws, monkeypatch, start):
    if start != "forked":   # as `make bench` and `make demo` start theirs outside the tests
        monkeypatch.delenv(FORK_SERVER)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(LocalAwsError, match=r"did not start \(exit code 1\): Address already in use; Port "
                                                rf"{taken.getsockname()[1]} is in use by another program"):
            LocalAws.start(port=taken.getsockname()[1])
    finally:
        taken.close()
    if start == "forked":
        with LocalAws.start(port=0) as endpoint:   # the warm parent forks the next one as before
            assert endpoint.faults()["injected"] == {"throttle": 0, "unavailable": 0}


def test_a_socket_file_nothing_listens_on_is_taken_for_none(tmp_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()   # the file stays, as after a parent that was killed
    assert forkserver._connect(str(tmp_path / "stale.sock")) is None
    assert forkserver._connect(str(tmp_path / "missing.sock")) is None


def test_a_warm_parent_is_started_where_none_is_and_ends_with_its_owner(tmp_path, monkeypatch):
    owner = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    path = str(tmp_path / "own.sock")
    monkeypatch.setenv(FORK_SERVER, path)
    monkeypatch.setenv("LOCAL_AWS_FORK_SERVER_OWNER", str(owner.pid))
    try:
        forkserver.ensure(path)   # none there: started, and listening
        assert os.path.exists(path) and forkserver._connect(path) is not None
        owner.communicate(b"")    # the owner ends (the parent is still warming up, or already forking)
        deadline = time.monotonic() + 10
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists(path), "the warm parent did not end with its owner"
    finally:
        owner.kill()
    assert "fork server: ended after" in (tmp_path / "own.sock.log").read_text()
