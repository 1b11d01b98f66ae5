"""A warm parent of local endpoints: it imports and registers the endpoint's code once, then forks a new
endpoint process for each request, which serves at once instead of first spending the second or two of CPU
a cold endpoint spends on imports and service models before and during its first calls.

    python -m generator.devtools.local_aws.forkserver PATH [--owner PID]

listens on the Unix socket PATH and ends once the process OWNER has ended (default: the one that started
it).  ``LocalAws.start`` forks its endpoint from the warm parent whose socket LOCAL_AWS_FORK_SERVER names,
starting one there first if none answers (``spawn``); the test suite sets it (tests/conftest.py), so its
endpoints cost one start-up per run rather than one each.

A request is one connection.  The client sends the endpoint's command-line arguments, environment and
working folder (one JSON line) with its stdin, stdout and stderr as file descriptors (SCM_RIGHTS,
``socket.send_fds``).  The parent forks; the child takes them as its 0, 1 and 2, the environment and the
folder, and runs ``server.run(argv)`` as ``python -m generator.devtools.local_aws.server ARGV`` would, with
everything imported.  The parent answers ``{"pid": N}`` at once and ``{"exit": CODE}`` once the child has
ended, then closes the connection: ``Forked`` reads them as ``subprocess.Popen`` reads its child's pid and
exit status.  The parent runs one thread, so a child holds no lock another thread held at the fork
(``os.fork``: https://docs.python.org/3/library/os.html#os.fork).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import gc
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import traceback
from typing import Any, IO, NoReturn
from urllib.parse import urlsplit

from generator.errors import LocalAwsError

from . import ROOT, process_env

READY_LINE = "local-aws fork server: listening on"
START_TIMEOUT_S = 60.0   # for the parent's ready line, and for its answer to a request (after its warm-up)


# -- the client (LocalAws.start) ------------------------------------------------------------------

class Forked:
    """An endpoint process forked by the warm parent, read as ``subprocess.Popen`` reads a child: ``pid``,
    ``stdin`` and ``stdout`` (pipes), ``poll``, ``wait``, ``terminate`` and ``returncode``."""

    def __init__(self, conn: socket.socket, pid: int, stdin: IO[bytes], stdout: IO[bytes]):
        self._conn = conn
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self._conn], [], [], 0)[0]:
            self._read_exit()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not select.select([self._conn], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"local endpoint {self.pid}", timeout or 0)
            self._read_exit()
        return self.returncode   # type: ignore[return-value]

    def terminate(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    def _read_exit(self) -> None:
        answer = _read_line(self._conn)
        self._conn.close()
        # a parent that ended before its child cannot say how the child ended: 1, as for a failure
        self.returncode = json.loads(answer)["exit"] if answer else 1


def spawn(path: str, argv: list[str], stderr: IO[bytes], env: dict[str, str], cwd: str) -> Forked:
    """An endpoint forked by the warm parent at ``path``, started first if none answers there."""
    conn = _connect(path) or _start_then_connect(path)
    child_stdin, stdin = os.pipe()
    stdout, child_stdout = os.pipe()
    request = json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n"
    conn.settimeout(START_TIMEOUT_S)
    try:
        socket.send_fds(conn, [request], [child_stdin, child_stdout, stderr.fileno()])
        answer = _read_line(conn)
        conn.settimeout(None)
    except OSError:   # the parent ended, or did not answer in time
        answer = b""
    finally:
        os.close(child_stdin)   # the child's ends are the child's alone: its exit closes them
        os.close(child_stdout)
    if not answer:
        conn.close()
        os.close(stdin)
        os.close(stdout)
        raise LocalAwsError(f"the local endpoints' warm parent at {path} did not fork an endpoint",
                            hint=f"see its log, {path}.log")
    return Forked(conn, json.loads(answer)["pid"], os.fdopen(stdin, "wb", buffering=0), os.fdopen(stdout, "rb"))


def ensure(path: str) -> None:
    """Start the warm parent at ``path`` unless one answers there; returns once it listens."""
    (_connect(path) or _start_then_connect(path)).close()


def _connect(path: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        return conn
    except OSError as err:   # none there yet, or one that has ended (its socket file left behind)
        conn.close()
        if err.errno in (errno.ENOENT, errno.ECONNREFUSED):
            return None
        raise LocalAwsError(f"the local endpoints' warm parent at {path}: {err}",
                            hint="unset LOCAL_AWS_FORK_SERVER to start endpoints without it") from None


def _start_then_connect(path: str) -> socket.socket:
    """Start the warm parent at ``path`` (one process at a time: the others wait on a lock, then connect)."""
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(path)
        if conn is not None:
            return conn
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        owner = os.environ.get("LOCAL_AWS_FORK_SERVER_OWNER") or str(os.getpid())
        with open(f"{path}.log", "ab") as log:
            # a session of its own: a Ctrl-C in the terminal reaches the test run, and the parent ends with its owner
            parent = subprocess.Popen([sys.executable, "-m", __name__, path, "--owner", owner],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=process_env(),
                                      cwd=str(ROOT), start_new_session=True)
        ready, _, _ = select.select([parent.stdout], [], [], START_TIMEOUT_S)
        line = parent.stdout.readline().decode("utf-8", "replace") if ready else ""   # type: ignore[union-attr]
        parent.stdout.close()   # type: ignore[union-attr]
        conn = _connect(path) if READY_LINE in line else None
        if conn is None:
            parent.kill()
            raise LocalAwsError(f"the local endpoints' warm parent did not start at {path} "
                                f"(exit code {parent.poll()})", hint=f"see its log, {path}.log")
        return conn


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.strip()


# -- the warm parent ------------------------------------------------------------------------------

def serve(path: str, owner: int) -> int:
    """Listen at ``path`` (and say so), warm up, then fork an endpoint for each request until ``owner`` has
    ended.  Requests made during the warm-up wait in the socket's queue; an owner that ends during it ends it."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    try:
        listener.listen(16)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        print(f"{READY_LINE} {path}", flush=True)
        if _warm_up(owner):
            _fork_for_requests(listener, owner)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return 0


def _warm_up(owner: int) -> bool:
    """Import, register and make everything an endpoint would on its own (False: the owner ended meanwhile)."""
    from . import server

    steps = (server.warm_up, lambda: _warm_services(server.make_app()), server.reset_state, _warm_data)
    for step in steps:
        if not _alive(owner):
            return False
        step()
    gc.collect()
    gc.freeze()   # the children's collections leave the parent's objects (and their pages) alone
    return True


def _fork_for_requests(listener: socket.socket, owner: int) -> None:
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)             # an ended child wakes the loop below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, socket.socket] = {}
    while _alive(owner):
        readable, _, _ = select.select([listener, wake_read], [], [], 0.5)
        if wake_read in readable:
            os.read(wake_read, 4096)
        _reap(children)
        if listener in readable:
            conn, _ = listener.accept()
            pid = _fork(conn, listener, [wake_read, wake_write], children)
            if pid:
                children[pid] = conn


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, another user's (a reused pid would be too: the owner has ended then)
        return True
    return True


def _reap(children: dict[int, socket.socket]) -> None:
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode() + b"\n")
            conn.close()


def _fork(conn: socket.socket, listener: socket.socket, wake: list[int], children: dict[int, socket.socket]) -> int:
    """Fork the endpoint ``conn`` asks for; returns the child's pid (0: the request was not understood)."""
    try:
        data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
        if not data:   # a client that only made sure this parent listens (ensure)
            conn.close()
            return 0
        request = json.loads(data)
    except (OSError, ValueError) as err:
        print(f"local-aws fork server: a request that is not one: {err}", file=sys.stderr, flush=True)
        conn.close()
        return 0
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        conn.close()
        return 0
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _become_endpoint(request, fds, [listener, conn, *children.values()], wake)
    for fd in fds:
        os.close(fd)
    conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    return pid


def _become_endpoint(request: dict[str, Any], fds: list[int], sockets: list[socket.socket],
                     wake: list[int]) -> NoReturn:
    from . import server

    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sock in sockets:
            sock.close()
        for fd in wake:
            os.close(fd)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        server.run(request["argv"])   # ends the process
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(1)


# One read call of each service the catalog and its tests call (the services of the endpoints' call logs
# over a whole `make test`), by boto3's service names.
WARM_CALLS = (("servicecatalog", "list_portfolios"), ("iam", "list_roles"), ("cloudformation", "list_stacks"),
              ("ec2", "describe_vpcs"), ("organizations", "list_roots"), ("s3", "list_buckets"),
              ("ssm", "describe_parameters"), ("sts", "get_caller_identity"), ("codecommit", "list_repositories"),
              ("route53", "list_hosted_zones"), ("config", "describe_config_rules"), ("acm", "list_certificates"),
              ("elbv2", "describe_load_balancers"), ("kms", "list_keys"))


def _warm_services(app: Any) -> None:
    """Make what a cold endpoint makes on each service's first call (moto's application for the service, its
    response class, the service's model): each call of ``WARM_CALLS`` is answered once by ``app`` itself,
    in this thread (werkzeug's test client; no socket, no thread), and its answer, error or not, dropped."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError
    from werkzeug.test import Client

    local = Client(app)

    # before-send "allows a response to be returned that fufills the request" (*Botocore Events*,
    # https://docs.aws.amazon.com/botocore/latest/topics/events.html): nothing is sent to the endpoint URL
    def answer(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body.read() if hasattr(request.body, "read") else request.body
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        got = local.open(url.path, base_url=f"{url.scheme}://{url.netloc}", query_string=url.query,
                         method=request.method, headers=headers, data=body or b"")
        return AWSResponse(request.url, got.status_code, dict(got.headers), _Body(got.get_data()))

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    for service, operation in WARM_CALLS:
        client = session.client(service, endpoint_url="http://127.0.0.1:4566")
        client.meta.events.register("before-send", answer)
        with contextlib.suppress(ClientError):
            getattr(client, operation)()


def _warm_data() -> None:
    """What an endpoint makes once per process when it first needs it: the IAM reference the launch role's
    authorization reads, AWS's managed policies (a 4.7 MB JSON string in moto) and ACM's signing key."""
    from generator.blocks import handlers

    from . import acm
    from .cloudformation import resources

    handlers.iam_reference()
    resources.aws_policies()
    acm.signing_key()


class _Body:
    """An answer's body as botocore reads a response's (``AWSResponse.raw.stream()``)."""

    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="local-aws-fork-server", description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="the Unix socket to listen on")
    p.add_argument("--owner", type=int, default=os.getppid(),
                   help="end once this process has ended (default: the one that started this)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.perf_counter()
    code = serve(args.path, args.owner)
    print(f"local-aws fork server: ended after {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
