"""Long developer and administrator commands against the local AWS endpoint over HTTP: progress while
they wait, ``--no-wait`` and ``status --watch``, ``terminate``'s question, and Ctrl-C — a real SIGINT sent
to a ``hipaa-catalog`` process while the endpoint is slowed down (``set_faults(latency_ms=...)``), so that
the signal lands mid-run: the process ends promptly with exit code 130 and the next step, and that next step
finishes the job.

The developer commands run on the probe product of ``tests/test_cli_e2e.py`` (every resource of it is
one moto's CloudFormation models).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.aws import api as aws
from generator.cli import interrupt
from generator.errors import Interrupted
from tests.test_cli_e2e import GOOD, PROBE, REGION, add_probe_product
from tests.test_publish import _wait_for_line

pytestmark = [pytest.mark.aws, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
LATENCY_MS = 500
# the calls an update waits on: the signal lands while one of them is under way
UPDATE_CALLS = ["UpdateProvisionedProduct", "DescribeRecord"]


def _cli(*argv: str, stdin=subprocess.DEVNULL) -> subprocess.Popen:
    """``hipaa-catalog ARGV`` in its own process (the test's AWS_* variables point it at the endpoint)."""
    return subprocess.Popen([sys.executable, "-m", "generator.cli.main", *argv, "--region", REGION], cwd=ROOT,
                            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONFAULTHANDLER": "1"})


def _wait_for(stream, needle: str) -> str:
    """What the process printed on ``stream`` up to the line holding ``needle``."""
    return "".join(_wait_for_line(stream, needle))


def _interrupt(proc: subprocess.Popen, after: str, delay: float = 0.0) -> tuple[str, str, float]:
    """Send SIGINT once ``after`` is on stderr (and ``delay`` seconds more); (stdout, stderr, seconds to exit)."""
    try:
        before = _wait_for(proc.stderr, after)
    except AssertionError as exc:
        proc.kill()
        raise AssertionError(f"{exc}\nstdout: {proc.communicate()[0]}") from None
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)   # faulthandler (PYTHONFAULTHANDLER) prints where every thread is
        out, err = proc.communicate()
        raise AssertionError(f"still running 60 s after Ctrl-C\nstderr:\n{before}{err}\nstdout:\n{out}") from None
    return out, before + err, time.monotonic() - started


@pytest.fixture
def probe(account):
    add_probe_product(account)
    yield account
    account["endpoint"].set_faults()


def test_progress_no_wait_status_watch_and_terminate_s_question(probe, hc):
    # waiting: the record's status with the time waited and the stack's events, as plain lines on a pipe
    proc = _cli("launch", PROBE, "--name", "clinic", *GOOD)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "launched probe-site 1.1.0 as clinic: SUCCEEDED" in out
    assert "clinic: PROVISION_PRODUCT IN_PROGRESS (0s)" in err and "clinic: PROVISION_PRODUCT SUCCEEDED after" in err
    # the stack's events, read with the end user's DescribeStackEvents on the SC-* stack
    assert any("CREATE_COMPLETE" in line and "AWS::SSM::Parameter Site" in line for line in err.splitlines()), err
    assert "\r" not in err   # not a terminal: plain lines, no line rewritten in place

    # --no-wait: the record right after the request; status --watch follows it to the end
    code, requested, err = hc("launch", PROBE, "--name", "clinic-2", "--no-wait", "--region", REGION,
                              "-p", "SiteName=clinic-2", "-p", "InstanceOwnerEmail=dev@example.org")
    assert code == 0, err
    assert requested["record_id"].startswith("rec-") and requested["record_type"] == "PROVISION_PRODUCT"
    assert requested["status"] != "SUCCEEDED" and requested["outputs"] == {}
    assert requested["next_step"] == "hipaa-catalog status clinic-2 --watch"
    code, st, err = hc("status", "clinic-2", "--watch", "--region", REGION)
    assert code == 0, err
    assert st["status"] == "AVAILABLE" and st["outputs"]["CompliantWebsiteURL"] == "https://clinic-2.example.org/"
    code, _st, err = hc("status", "--watch", "--region", REGION)
    assert code == 2 and "status --watch needs NAME" in err

    # terminate asks on a terminal, and without one needs --yes
    code, _out, err = hc("terminate", "clinic", "--region", REGION)
    assert code == 2 and "standard input is not a terminal" in err and "terminate clinic --yes" in err
    controller, terminal = pty.openpty()
    try:
        proc = _cli("terminate", "clinic", stdin=terminal)
        os.write(controller, b"n\n")
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(controller)
        os.close(terminal)
    assert proc.returncode == 1 and "Continue? [y/N]" in err and "clinic: not terminated; nothing changed" in err
    assert hc("status", "clinic", "--region", REGION)[1]["status"] == "AVAILABLE"
    code, done, err = hc("terminate", "clinic", "--yes", "--region", REGION)
    assert code == 0 and done["status"] == "SUCCEEDED", err


def test_ctrl_c_during_a_launch_and_an_update_names_the_next_step_and_it_finishes_the_job(probe, hc):
    endpoint = probe["endpoint"]
    # during the launch request: it is accepted, so the next step is status --watch, not a re-run
    endpoint.set_faults(latency_ms=LATENCY_MS, services=["servicecatalog"], operations=["ProvisionProduct"])
    proc = _cli("launch", PROBE, "--name", "clinic", *GOOD)
    # "launching ..." is printed just before ProvisionProduct is sent; the signal lands while it is under way
    out, err, seconds = _interrupt(proc, "launching probe-site 1.1.0 as clinic", delay=LATENCY_MS / 4000)
    assert proc.returncode == Interrupted.exit_code, err
    assert seconds < interrupt.GRACE, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err and "Ctrl-C again to quit at once" in err
    assert "clinic: stopped waiting; the launch request was accepted (record rec-" in err
    assert "follow it with `hipaa-catalog status clinic --watch`" in err and "do not launch clinic again" in err
    endpoint.set_faults()
    # the advice is right: a second launch is refused, and the printed next step finishes the job
    code, _out, err = hc("launch", PROBE, "--name", "clinic", "--region", REGION, *GOOD)
    assert code != 0 and "DuplicateResourceException" in err
    code, st, err = hc("status", "clinic", "--watch", "--region", REGION)
    assert code == 0 and st["status"] == "AVAILABLE", err
    assert st["outputs"]["CompliantWebsiteURL"] == "https://clinic.example.org/"

    # while waiting for an update: the wait stops, the update goes on
    endpoint.set_faults(latency_ms=LATENCY_MS, services=["servicecatalog"], operations=UPDATE_CALLS)
    proc = _cli("update", "clinic", "-p", "Environment=PROD")
    out, err, seconds = _interrupt(proc, "UPDATE_PROVISIONED_PRODUCT IN_PROGRESS")
    assert proc.returncode == Interrupted.exit_code, err
    assert seconds < interrupt.GRACE, f"took {seconds:.1f} s to stop"
    assert "clinic: stopped waiting; the update request was accepted" in err and "Traceback" not in err
    assert "status clinic --watch" in err and "launch clinic again" not in err
    endpoint.set_faults()
    code, st, err = hc("status", "clinic", "--watch", "--region", REGION)
    assert code == 0 and st["outputs"]["Environment"] == "PROD", err

    # a second Ctrl-C: the process ends at once, killed by the signal, without a traceback
    endpoint.set_faults(latency_ms=LATENCY_MS, services=["servicecatalog"], operations=UPDATE_CALLS)
    proc = _cli("update", "clinic", "-p", "Environment=TEST")
    printed = _wait_for(proc.stderr, "updating clinic")
    proc.send_signal(signal.SIGINT)
    printed += _wait_for(proc.stderr, "Ctrl-C again")
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 2 and proc.returncode == -signal.SIGINT
    assert "Traceback" not in printed + err


def _stack_parameters(session, name: str) -> dict:
    cf = aws.client(session, "cloudformation", REGION)
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    return {p["ParameterKey"]: p.get("ParameterValue") for p in stack["Parameters"]}


def test_ctrl_c_during_a_deploy_before_execution_changes_nothing_after_it_says_how_to_follow(account, hc):
    session, stack = account["session"], "hipaa-catalog-account-baseline"
    before = _stack_parameters(session, stack)
    out_dir = str(account["built"])
    account["endpoint"].set_faults(latency_ms=LATENCY_MS, services=["cloudformation"], operations=["CreateChangeSet"])
    proc = _cli("deploy-baseline", "--yes", "--out", out_dir, "-p", "AdminCidr=10.30.0.0/16")
    out, err, seconds = _interrupt(proc, "creating change set", delay=LATENCY_MS / 4000)
    assert proc.returncode == Interrupted.exit_code, err
    assert seconds < interrupt.GRACE, f"took {seconds:.1f} s to stop"
    assert "interrupted before its change set was executed: nothing changed" in err and "deleted" in err
    assert "run the same command again" in err and "Traceback" not in err
    account["endpoint"].set_faults()
    cf = aws.client(session, "cloudformation", REGION)
    left = [(c["ChangeSetName"], c.get("ExecutionStatus")) for c in cf.list_change_sets(StackName=stack)["Summaries"]]
    assert not [c for c in left if c[1] != "EXECUTE_COMPLETE"], left   # only the executed ones of the set-up
    assert _stack_parameters(session, stack) == before

    account["endpoint"].set_faults(latency_ms=LATENCY_MS, services=["cloudformation"], operations=["ExecuteChangeSet"])
    proc = _cli("deploy-baseline", "--yes", "--out", out_dir, "-p", "AdminCidr=10.30.0.0/16")
    # "executing ..." is printed just before ExecuteChangeSet is sent; the signal lands while it is under way
    out, err, _seconds = _interrupt(proc, "executing UPDATE of stack", delay=LATENCY_MS / 4000)
    assert proc.returncode == Interrupted.exit_code, err
    assert "stopped waiting; the update was started (ExecuteChangeSet accepted)" in err
    assert f"aws cloudformation describe-stack-events --stack-name {stack} --region {REGION}" in err
    account["endpoint"].set_faults()
    # the printed next step: once the stack is complete, the same command finds no changes
    assert _stack_parameters(session, stack)["AdminCidr"] == "10.30.0.0/16"
    code, result, err = hc("deploy-baseline", "--yes", "--out", out_dir, "--region", REGION,
                           "-p", "AdminCidr=10.30.0.0/16")
    assert code == 0 and result["change_set_type"] == "NONE", err


def test_an_unreachable_endpoint_is_reported_while_it_is_retried(aws_env, built, hc, monkeypatch):
    import socket

    with socket.socket() as s:   # a free port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    code, _out, err = hc("publish", "--out", str(built), "--region", REGION)
    assert code != 0 and "cannot reach AWS" in err
    assert f"cannot reach http://127.0.0.1:{port} (GetCallerIdentity, attempt 1 of 3: EndpointConnectionError); " \
           "retrying" in err
    assert "attempt 2 of 3" in err and "attempt 3 of 3" not in err


class _Terminal:
    """A stream that says it is a terminal, keeping what is written."""

    def __init__(self) -> None:
        self.text = ""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def test_waiting_rewrites_one_line_on_a_terminal_and_prints_plain_lines_elsewhere(capsys):
    from generator.cli import output

    term = _Terminal()
    w = output.Waiting(stream=term)
    w.status("clinic: PROVISION_PRODUCT IN_PROGRESS", 3)
    w.status("clinic: PROVISION_PRODUCT IN_PROGRESS", 65)
    w.line("CREATE_COMPLETE      AWS::SSM::Parameter Site")
    w.end()
    assert term.text.count("\r\033[K  clinic: PROVISION_PRODUCT IN_PROGRESS (3s)") == 1
    assert "IN_PROGRESS (1m05s)\r\033[K  " in term.text       # the event clears the status line ...
    assert term.text.endswith("(1m05s)\r\033[K")                # ... which is drawn again, then cleared
    plain = output.Waiting(every=30)                            # capsys: not a terminal
    for seconds in (0, 5, 29, 31):
        plain.status("clinic: PROVISION_PRODUCT IN_PROGRESS", seconds)
    plain.status("clinic: PROVISION_PRODUCT SUCCEEDED", 32)
    err = capsys.readouterr().err
    assert "\r" not in err and err.count("IN_PROGRESS") == 2 and "IN_PROGRESS (31s)" in err and "SUCCEEDED" in err
    output.Waiting(quiet=True).status("nothing", 1)
    assert capsys.readouterr().err == ""


def test_a_call_that_does_not_answer_after_ctrl_c_is_given_up_after_the_grace_period():
    # a stand-in for a call under way that never answers: the main thread blocks inside first_stops
    script = ("import time\nfrom generator.cli import interrupt\n"
              "with interrupt.first_stops('the test', grace=1, last_words=lambda: 'see what was done'):\n"
              "    print('waiting', flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "waiting\n"
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == Interrupted.exit_code and time.monotonic() - started < 5, err
    assert "the call under way did not end within 1 s; quitting: see what was done" in err
    assert "Traceback" not in err
