"""The project's local AWS endpoint, for tests, the benchmark and developers without an AWS account.

    from generator.devtools.local_aws import LocalAws

    with LocalAws.start() as endpoint:           # a server process on a free port of 127.0.0.1
        os.environ["AWS_ENDPOINT_URL"] = endpoint.url
        endpoint.set_faults(throttle=0.2, seed=1, services=["servicecatalog"])
        endpoint.set_resource_failures([{"logical_id": "Instance", "action": "UPDATE"}])
        endpoint.set_artifacts(pending_reads=2, fail_names=["1.2.0"])
        endpoint.set_shares(["111122223333"])   # organisation shares fail for that account
        endpoint.set_iam(enforce=False)          # IAM of launch roles: on by default
        endpoint.iam_requests()                  # every authorization request and its decision
        ...
        endpoint.calls()                         # [{"service": ..., "operation": ..., "account": ...}, ...]
        endpoint.snapshot(); ...; endpoint.restore()   # back to the state of the snapshot, again and again

With LOCAL_AWS_FORK_SERVER naming a Unix socket, ``start`` forks the endpoint from a warm parent listening
there (``generator.devtools.local_aws.forkserver``, started there if none answers), which has imported
everything already: the test suite's endpoints start so (tests/conftest.py).

The server (``generator.devtools.local_aws.server``) is moto's server with the Service Catalog API moto lacks
(``generator.devtools.local_aws.servicecatalog``), fault injection and a call log.  This module only starts and
talks to it over HTTP, so importing it is cheap.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from generator.errors import LocalAwsError

START_TIMEOUT_S = 30.0
# the socket of a warm parent to fork endpoints from (forkserver.py), started there if none answers
FORK_SERVER = "LOCAL_AWS_FORK_SERVER"
ROOT = Path(__file__).resolve().parents[3]   # the checkout: an endpoint process's folder and first import path


def process_env() -> dict[str, str]:
    """The environment of an endpoint process (or of the warm parent): this one's, with the checkout first on
    PYTHONPATH, so that it imports this code whatever the folder it was asked from."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


class LocalAws:
    """A running local endpoint (a child process, or one forked by the warm parent LOCAL_AWS_FORK_SERVER names);
    stop it with ``stop()`` or a ``with`` block."""

    def __init__(self, process: Any, url: str, log: Any):
        self._process = process
        self.url = url
        self._log = log

    @classmethod
    def start(cls, port: int = 0, host: str = "127.0.0.1", faults: dict[str, Any] | None = None,
              iam: bool = True) -> "LocalAws":
        """Start a server process and return once it accepts requests.

        ``port=0`` picks a free port.  ``faults`` takes the keys of ``set_faults``.  ``iam=False`` starts it
        without IAM enforcement of launch roles (``--no-iam``).
        """
        log = tempfile.TemporaryFile()
        env = process_env()
        env.pop("LOCAL_AWS_IAM", None)
        args = ["--host", host, "--port", str(port), "--exit-with-stdin", *([] if iam else ["--no-iam"])]
        process: Any
        if os.environ.get(FORK_SERVER):
            from . import forkserver

            process = forkserver.spawn(os.environ[FORK_SERVER], args, stderr=log, env=env, cwd=str(ROOT))
        else:
            process = subprocess.Popen([sys.executable, "-m", "generator.devtools.local_aws.server", *args],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                       cwd=str(ROOT))
        endpoint = cls(process, "", log)
        endpoint.url = endpoint._wait_ready(host)
        if faults:
            endpoint.set_faults(**faults)
        return endpoint

    def _wait_ready(self, host: str) -> str:
        from .server import READY_LINE

        stdout = self._process.stdout
        ready, _, _ = select.select([stdout], [], [], START_TIMEOUT_S)
        line = stdout.readline().decode("utf-8", "replace") if ready else ""  # type: ignore[union-attr]
        if READY_LINE not in line:
            self._end()
            self._log.seek(0)
            detail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
            self.stop()
            raise LocalAwsError(f"the local AWS endpoint did not start (exit code {self._process.returncode}): "
                                + ("; ".join(detail) or line.strip() or "no output"),
                                hint="run `python -m generator.devtools.local_aws.server --port 0` to see why")
        return "http://" + line.split("http://", 1)[1].split()[0]

    # -- control API ---------------------------------------------------------------------------
    def _control(self, method: str, name: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(f"{self.url}/_local_aws/{name}", data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise LocalAwsError(f"local AWS endpoint {method} /_local_aws/{name}: "
                                f"{json.loads(err.read() or b'{}').get('error', err.reason)}") from None
        except OSError as err:
            raise LocalAwsError(f"local AWS endpoint at {self.url} did not answer: {err}") from None

    def set_faults(self, throttle: float = 0.0, unavailable: float = 0.0, latency_ms: int = 0, seed: int = 0,
                   services: list[str] | None = None, operations: list[str] | None = None) -> dict[str, Any]:
        """Inject faults from now on (all zero: off) into the calls of ``services`` to ``operations``
        (None: every service, every operation)."""
        return self._control("POST", "faults", {"throttle": throttle, "unavailable": unavailable,
                                                "latency_ms": latency_ms, "seed": seed,
                                                "services": list(services) if services is not None else None,
                                                "operations": list(operations) if operations is not None else None})

    def faults(self) -> dict[str, Any]:
        """The fault settings and the count of faults injected since they were set."""
        return self._control("GET", "faults")

    def calls(self) -> list[dict[str, str]]:
        """``[{"service": ..., "operation": ..., "account": ...}, ...]`` in arrival order since the last reset
        (``account``: the account the request acts in, e.g. a member account through sts:AssumeRole)."""
        return self._control("GET", "calls")

    def reset_calls(self) -> None:
        self._control("DELETE", "calls")

    def reset(self) -> None:
        """Forget every resource, the call log, the faults and the resource failures (a fresh endpoint,
        without a restart); artifact settings go back to the start-up ones."""
        self._control("POST", "reset")

    def settings(self) -> dict[str, Any]:
        """Every setting a reset puts back: faults (with their count), IAM, artifacts, resource failures, shares."""
        return {"faults": self.faults(), "iam": self.iam(), "artifacts": self._control("GET", "artifacts"),
                "resource_failures": self._control("GET", "resource-failures"),
                "shares": self._control("GET", "shares")}

    def snapshot(self) -> None:
        """Keep the endpoint's whole state as it is now (resources, call log, every setting); one per endpoint."""
        self._control("POST", "snapshot")

    def restore(self) -> None:
        """Go back to the snapshot: the state exactly as ``snapshot()`` kept it, however often."""
        self._control("POST", "restore")

    def set_resource_failures(self, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Make CloudFormation resources fail: ``[{"logical_id": "Instance", "action": "UPDATE"}]``
        (keys: logical_id, type, stack, action CREATE|UPDATE|DELETE|ANY, times, reason); adds to those
        in force and returns them all.  ``clear_resource_failures()`` removes them."""
        return self._control("POST", "resource-failures", rules)

    def clear_resource_failures(self) -> None:
        self._control("DELETE", "resource-failures")

    def set_artifacts(self, pending_reads: int | None = None, pending_seconds: float | None = None,
                      fail_next: int | None = None, fail_names: list[str] | None = None) -> dict[str, Any]:
        """How new provisioning artifacts settle: CREATING for ``pending_reads`` DescribeProvisioningArtifact
        reads and ``pending_seconds`` seconds; the next ``fail_next`` ones, or those named, end FAILED."""
        given = {"pending_reads": pending_reads, "pending_seconds": pending_seconds, "fail_next": fail_next,
                 "fail_names": fail_names}
        return self._control("POST", "artifacts", {k: v for k, v in given.items() if v is not None})

    def set_shares(self, fail_accounts: list[str], error: str = "", message: str = "") -> dict[str, Any]:
        """Make organisation portfolio share operations fail for ``fail_accounts`` (listed in ShareErrors with
        ``error`` and ``message``; defaults chosen); ``set_shares([])`` turns it off."""
        return self._control("POST", "shares", {"fail_accounts": list(fail_accounts), "error": error,
                                                "message": message})

    def set_iam(self, enforce: bool) -> dict[str, Any]:
        """Turn IAM enforcement of Service Catalog launch roles on or off (off: still logged, never refused)."""
        return self._control("POST", "iam", {"enforce": enforce})

    def iam(self) -> dict[str, Any]:
        """``{"enforce": ..., "requests": N, "denied": N}``."""
        return self._control("GET", "iam")

    def iam_requests(self) -> list[dict[str, Any]]:
        """Every authorization request since the last reset: action, resource, context, the operation,
        stack, logical id and handler it belongs to, ``allowed`` and the deciding statement."""
        return self._control("GET", "iam/requests")

    def clear_iam_requests(self) -> None:
        self._control("DELETE", "iam/requests")

    # -- lifecycle -----------------------------------------------------------------------------
    def stop(self) -> None:
        self._end()
        process = self._process
        if process.stdout:
            process.stdout.close()
        self._log.close()

    def _end(self) -> None:
        process = self._process
        if process.poll() is None:
            process.stdin.close()  # type: ignore[union-attr]  # the server exits on EOF
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=5)

    def __enter__(self) -> "LocalAws":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalAws({self.url!r})"
