"""The local AWS endpoint: moto's server, our Service Catalog and CloudFormation fixes, fault injection, a call log.

Run it with ``make local-aws`` or ``python -m generator.devtools.local_aws.server --port 4566``.  Besides the
AWS APIs it serves a small control API (not subject to faults, not logged):

  GET    /_local_aws/health   {"status": "ok"}
  GET    /_local_aws/faults   the fault settings and how many faults were injected since they were set
  POST   /_local_aws/faults   set them: {"throttle": 0.3, "unavailable": 0.0, "latency_ms": 20, "seed": 1,
                              "services": ["servicecatalog", "s3"], "operations": ["ProvisionProduct"]}
                              (services and operations: null or left out for all); an empty object turns
                              faults off
  GET    /_local_aws/calls    [{"service": "servicecatalog", "operation": "ListPortfolios",
                              "account": "123456789012"}, ...]
  DELETE /_local_aws/calls    forget the calls logged so far
  POST   /_local_aws/reset    drop every resource of every service, the call log, the faults, the
                              resource failures, the share faults and the IAM request log; artifact and
                              IAM settings back to the start-up ones
  GET    /_local_aws/resource-failures   the CloudFormation resource failures in force
  POST   /_local_aws/resource-failures   add one or a list: {"logical_id": "Instance", "type": ...,
                              "stack": "part of a stack name", "action": "CREATE|UPDATE|DELETE|ANY",
                              "times": 1, "reason": "..."} (cloudformation/forced.py)
  DELETE /_local_aws/resource-failures   clear them
  GET    /_local_aws/iam                 {"enforce": true, "requests": N, "denied": N}: IAM enforcement of
                              Service Catalog's launch role (iam/enforcement.py)
  POST   /_local_aws/iam                 {"enforce": false} turns it off (requests are still logged)
  GET    /_local_aws/iam/requests        every authorization request since the last reset, with its decision
  DELETE /_local_aws/iam/requests        forget them
  GET    /_local_aws/artifacts           how provisioning artifacts settle (servicecatalog/models.py)
  POST   /_local_aws/artifacts           {"pending_reads": 1, "pending_seconds": 0.0, "fail_next": 0,
                              "fail_names": ["1.2.0"]}: CREATING for that many DescribeProvisioningArtifact
                              reads and seconds after creation; the next N new artifacts, or those
                              named, end FAILED
  POST   /_local_aws/snapshot            keep the whole state as it is now (one snapshot per process)
  POST   /_local_aws/restore             go back to the snapshot: every resource, the call log and every
                              setting as they were when it was taken (snapshot.py: the process forks)
  GET    /_local_aws/shares              the accounts organisation share operations fail for
  POST   /_local_aws/shares              {"fail_accounts": ["111122223333"], "error": "...", "message": "..."}:
                              share operations that reach them list them in ShareErrors
                              (servicecatalog/sharing.py); an empty object turns it off

With ``--ready-account`` (``make local-aws READY=1``) it first prepares a ready account on itself
(``generator/devtools/local_account.py``, run as a process of its own with the endpoint's variables), writes its
values into ``--account-dir``, and prints the ready line only then; if that fails, the server stops.

A request signed for a region AWS does not have is answered at once with the error AWS endpoints give
(``regions``), never by moto (which answers HTTP 500 after the client's retries).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import threading
import time
from http import HTTPStatus
from typing import Any, NoReturn

from generator.errors import ConfigError

from .calls import account_of, classify
from .ec2 import make_amis
from .faults import FaultConfig, FaultInjector, error_response
from .keepalive import KeepAlive
from .regions import region_of, unknown_region_response
from .snapshot import Snapshots

CONTROL_PREFIX = "/_local_aws/"
READY_LINE = "local-aws: listening on"
_WARM_MODULES = ("moto.cloudformation.models", "moto.s3.models", "moto.iam.models", "moto.ssm.models",
                 "moto.sts.models", "moto.cloudformation.responses", "moto.s3.responses")


class LocalAwsApp:
    """WSGI middleware in front of moto's ``DomainDispatcherApplication``."""

    # Requests to these services wait until our CloudFormation backend is registered (see make_app).
    GATED_SERVICES = ("cloudformation", "servicecatalog")

    def __init__(self, moto_app: Any, faults: FaultInjector, ready: threading.Event | None = None):
        self.moto_app = moto_app
        self.faults = faults
        self.ready = ready if ready is not None else _set_event()
        self._calls: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self.snapshots: Snapshots | None = None   # set by make_server

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path[len(CONTROL_PREFIX):].strip("/"))
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        service, operation, protocol = classify(environ)
        refused = unknown_region_response(region_of(environ), protocol)
        if refused:
            return _respond(start_response, *refused)
        if service in self.GATED_SERVICES and not self.ready.is_set():
            self.ready.wait(timeout=120)
        account = account_of(environ)
        with self._lock:
            self._calls.append({"service": service, "operation": operation, "account": account})
        if self.faults.config.latency_ms and self.faults.applies(service, operation):
            time.sleep(self.faults.config.latency_ms / 1000.0)
        fault = self.faults.draw(service, operation)
        if fault:
            status, headers, body = error_response(fault, protocol)
            return _respond(start_response, status, headers, body)
        return self.moto_app(environ, start_response)

    def _control(self, environ: dict[str, Any], start_response: Any, name: str) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            result = self._control_result(method, name, environ)
        except ConfigError as err:
            return _json(start_response, 400, {"error": str(err)})
        except ValueError as err:
            return _json(start_response, 400, {"error": f"request body is not JSON: {err}"})
        if result is None:
            return _json(start_response, 404, {"error": f"no control endpoint {method} {CONTROL_PREFIX}{name}; "
                                                        "see generator/devtools/local_aws/server.py"})
        return _json(start_response, 200, result)

    def _control_result(self, method: str, name: str, environ: dict[str, Any]) -> Any:
        if (method, name) == ("GET", "health"):
            return {"status": "ok"}
        if name == "faults" and method in ("GET", "POST"):
            if method == "POST":
                self.faults.configure(FaultConfig.from_dict(_body(environ) or {}))
            return {**self.faults.config.to_dict(), "injected": dict(self.faults.injected)}
        if (method, name) == ("GET", "calls"):
            with self._lock:
                return list(self._calls)
        if (method, name) == ("DELETE", "calls"):
            with self._lock:
                self._calls.clear()
            return {"status": "ok"}
        if (method, name) in (("POST", "snapshot"), ("POST", "restore")) and self.snapshots is not None:
            snapshots = self.snapshots
            return (snapshots.take if name == "snapshot" else snapshots.restore)(environ["werkzeug.socket"])
        if (method, name) == ("POST", "reset"):
            reset_state()
            self.faults.configure(FaultConfig())
            with self._lock:
                self._calls.clear()
            return {"status": "ok"}
        if name == "resource-failures" and method in ("GET", "POST", "DELETE"):
            from .cloudformation import forced

            if method == "POST":
                return forced.add(_body(environ) or {})
            if method == "DELETE":
                forced.clear()
            return forced.rules_in_force()
        if name in ("iam", "iam/requests"):
            from .iam import enforcement

            if (method, name) == ("POST", "iam"):
                enforcement.SETTINGS.configure(_body(environ) or {})
            elif (method, name) == ("GET", "iam/requests"):
                return enforcement.SETTINGS.requests()
            elif (method, name) == ("DELETE", "iam/requests"):
                enforcement.SETTINGS.clear()
            elif (method, name) != ("GET", "iam"):
                return None
            return enforcement.SETTINGS.to_dict()
        if name == "shares" and method in ("GET", "POST"):
            from .servicecatalog import sharing

            if method == "POST":
                sharing.SHARE_FAULTS.configure(_body(environ) or {})
            return sharing.SHARE_FAULTS.to_dict()
        if name == "artifacts" and method in ("GET", "POST"):
            from .servicecatalog import models

            if method == "POST":
                models.ARTIFACTS.configure(_body(environ) or {})
            return models.ARTIFACTS.to_dict()
        return None


def reset_state() -> None:
    """Forget every resource of every service (moto's own reset, which includes our backends), the
    resource failures, the share faults and the IAM request log, and artifact and IAM settings changed since
    the start."""
    from moto.moto_api._internal.models import moto_api_backend

    from . import organizations
    from .cloudformation import forced
    from .iam import enforcement
    from .servicecatalog import models, sharing

    moto_api_backend.reset()
    organizations.reset()
    forced.clear()
    models.ARTIFACTS.restore()
    sharing.SHARE_FAULTS.restore()
    enforcement.SETTINGS.restore()


def _body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    return json.loads(raw) if raw.strip() else None


def _respond(start_response: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
    start_response(f"{status} {HTTPStatus(status).phrase}", headers + [("Content-Length", str(len(body)))])
    return [body]


def _json(start_response: Any, status: int, data: Any) -> list[bytes]:
    return _respond(start_response, status, [("Content-Type", "application/json")], json.dumps(data).encode())


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def make_app(faults: FaultConfig | None = None, background: bool = False) -> LocalAwsApp:
    """The endpoint's WSGI application (moto's dispatcher with our Service Catalog and CloudFormation registered).

    Registering our CloudFormation backend imports moto's CloudFormation (about 0.9 s).  With
    ``background`` that happens in a thread while the server already answers: only CloudFormation and
    Service Catalog requests (which provision through CloudFormation) wait for it, so the endpoint is
    ready for S3, IAM, SSM, … at once.  In a process forked from a warm parent (forkserver.py) everything is
    registered already.
    """
    ready = register(background)
    return LocalAwsApp(_moto_app(), FaultInjector(faults or FaultConfig()), ready)


_registered: threading.Event | None = None   # set once our CloudFormation backend is registered


def register(background: bool = False) -> threading.Event:
    """Register our backends with moto, once per process; returns the event set once CloudFormation's is."""
    global _registered
    if _registered is not None:
        return _registered
    _one_data_loader()
    from . import acm, cloudformation, codecommit, ec2, elbv2, kms, organizations, route53, s3, servicecatalog, sts

    servicecatalog.register()
    organizations.register()
    sts.register()
    acm.register()
    codecommit.register()
    route53.register()
    s3.register()
    ec2.register()
    elbv2.register()
    kms.register()
    _registered = ready = threading.Event()

    def register_cloudformation() -> None:
        try:
            cloudformation.register()
        finally:
            ready.set()

    if background:
        threading.Thread(target=register_cloudformation, name="register-cloudformation", daemon=True).start()
    else:
        register_cloudformation()
    _method_names_once()
    return ready


@functools.cache
def _moto_app() -> Any:
    """moto's dispatcher, one per process: it makes each service's application when the service is first
    asked for and keeps it."""
    from moto.moto_server.werkzeug_app import create_backend_app

    return _dispatcher()(create_backend_app)


def _one_data_loader() -> None:
    """Every botocore session of this process reads the model files through one loader (per data path).

    moto asks a new ``boto3.Session()`` for a list of regions where it needs one, three of them when
    ``moto.ec2`` is imported, and each new session makes its own loader, which reads and parses the
    endpoints file (1.3 MB) and the EC2 model (4.4 MB) again; reading them once instead of three times
    saves about 0.3 s of the endpoint's 2.3 s of start-up CPU.  botocore's
    loader keeps what it has loaded (``instance_cache``) and hands the same object to every caller of one
    session already, so sharing it between sessions hands out nothing a session could not already get.  The
    sessions share its search paths too: each ``boto3.Session`` appends boto3's data folder, so the list
    holds that one folder once per session (an endpoint made four over a run of three test modules), and
    every lookup finds the same files.
    Only this process is changed: nothing of moto runs in a process that makes the catalog's own calls."""
    import botocore.session

    if not hasattr(botocore.session.create_loader, "cache_info"):
        botocore.session.create_loader = functools.cache(botocore.session.create_loader)


def _method_names_once() -> None:
    """moto finds the method of a request's action among the functions of its response class, which it lists
    (``inspect.getmembers``) on every request; here each class's list is made once.  A response class gets
    its methods when its service is registered, before any request of that service is answered (above)."""
    from moto.core import responses

    if not hasattr(responses.method_names_from_class, "cache_info"):
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def _dispatcher() -> type:
    """moto's ``DomainDispatcherApplication`` with its list of service folders read once and the backend of each
    host name found once: moto lists its package folder (a listdir and an isdir per entry) on every request to
    find the service a host names, then tries its URL patterns one by one (hundreds) against the host it
    infers from the request's signature (``<service>.<region>.amazonaws.com``: a few names per endpoint)."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    modules = frozenset(backends.list_of_moto_modules())

    class Dispatcher(DomainDispatcherApplication):
        found: dict[str, Any] = {}   # host name -> backend; moto asks under the dispatcher's lock

        def get_backend_for_host(self, host: str | None) -> Any:   # moto's, with ``modules`` read once
            if host is None or host == "moto_api" or host in modules:
                return host
            if host not in self.found:
                self.found[host] = next((backend for backend, pattern in self.backend_url_patterns
                                         if pattern.match(f"http://{host}")), None)
            return self.found[host]

    return Dispatcher


def make_server(host: str, port: int, app: LocalAwsApp, verbose: bool = False):
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server as werkzeug_server

    class Handler(KeepAlive, MotoRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.server.snapshots.opened(self.connection)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                self.server.snapshots.closed(self.connection)

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            if verbose:
                super().log_request(code, size)

    server = werkzeug_server(host, port, app, threaded=True, request_handler=Handler)
    server.daemon_threads = True  # idle keep-alive connections must not hold up a shutdown
    server.block_on_close = False
    server.snapshots = app.snapshots = Snapshots(server)

    def in_child() -> None:     # a request of the parent may have been logging a call at the fork
        app._lock = threading.Lock()

    server.snapshots.in_child.append(in_child)
    return server


def warm_up() -> None:
    """Import the heavy moto modules the first Service Catalog / S3 / CloudFormation call needs."""
    import importlib

    for module in _WARM_MODULES:
        importlib.import_module(module)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LOCAL_AWS_{name}", default)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="local-aws",
        description="Local AWS endpoint for hipaa-catalog: moto's server plus the Service Catalog API, "
                    "fault injection and a call log. State lives in memory.",
        epilog="examples:\n"
               "  make local-aws                                  port 4566 (LOCAL_AWS_PORT), foreground\n"
               "  python -m generator.devtools.local_aws.server --port 0   any free port (printed)\n"
               "  python -m generator.devtools.local_aws.server --throttle 0.2 --services servicecatalog\n"
               "then: AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=testing "
               "AWS_SECRET_ACCESS_KEY=testing aws servicecatalog list-portfolios",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(_env("PORT", "4566")),
                   help="port; 0 picks a free one (default LOCAL_AWS_PORT or 4566)")
    p.add_argument("--throttle", type=float, default=float(_env("THROTTLE", "0")),
                   help="fraction of calls answered with a throttling error (LOCAL_AWS_THROTTLE)")
    p.add_argument("--unavailable", type=float, default=float(_env("UNAVAILABLE", "0")),
                   help="fraction of calls answered with HTTP 503 (LOCAL_AWS_UNAVAILABLE)")
    p.add_argument("--latency-ms", type=int, default=int(_env("LATENCY_MS", "0")),
                   help="delay added to every call (LOCAL_AWS_LATENCY_MS)")
    p.add_argument("--seed", type=int, default=int(_env("SEED", "0")), help="fault random seed (LOCAL_AWS_SEED)")
    p.add_argument("--services", default=_env("SERVICES", ""),
                   help="comma-separated services the faults apply to; empty: all (LOCAL_AWS_SERVICES)")
    p.add_argument("--pending-reads", type=int, default=int(_env("PENDING_READS", "1")),
                   help="reads of a record that still see IN_PROGRESS (LOCAL_AWS_PENDING_READS, default 1)")
    p.add_argument("--artifact-pending-reads", type=int, default=int(_env("ARTIFACT_PENDING_READS", "1")),
                   help="DescribeProvisioningArtifact reads of a new artifact that still see CREATING "
                        "(LOCAL_AWS_ARTIFACT_PENDING_READS, default 1)")
    p.add_argument("--artifact-pending-seconds", type=float, default=float(_env("ARTIFACT_PENDING_SECONDS", "0")),
                   help="seconds after creation a new artifact stays CREATING, on top of the reads "
                        "(LOCAL_AWS_ARTIFACT_PENDING_SECONDS, default 0)")
    p.add_argument("--no-iam", action="store_true", default=_env("IAM", "on").lower() in ("off", "0", "false"),
                   help="do not enforce IAM when Service Catalog provisions as a launch role (requests are "
                        "still logged; LOCAL_AWS_IAM=off). Default: enforced")
    p.add_argument("--ready-account", action="store_true",
                   default=_env("READY_ACCOUNT", "").lower() in ("1", "yes", "true", "on"),
                   help="once listening, prepare a ready account (generator/devtools/local_account.py: VPCs, "
                        "subnets, NAT gateways or VPC endpoints, certificates, hosted zone, repositories), write its "
                        "values into --account-dir, and only then print the ready line (LOCAL_AWS_READY_ACCOUNT=1)")
    p.add_argument("--account-dir", default=_env("ACCOUNT_DIR", "build/local-account"),
                   help="where --ready-account writes account.json and <region>.env (default build/local-account)")
    p.add_argument("--egress", choices=("nat", "endpoints"), default=_env("EGRESS", "nat"),
                   help="with --ready-account: how the private subnets reach AWS (default nat; LOCAL_AWS_EGRESS)")
    p.add_argument("--verbose", action="store_true", help="log every request on stderr")
    p.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parser().parse_args(argv)
    try:
        faults = FaultConfig(throttle=args.throttle, unavailable=args.unavailable, latency_ms=args.latency_ms,
                             seed=args.seed, services=[s for s in args.services.split(",") if s] or None)
    except ConfigError as err:
        print(f"local-aws: error: {err}", file=sys.stderr)
        return err.exit_code
    from .iam import enforcement
    from .servicecatalog import models, provisioning

    provisioning.PENDING_READS = max(0, args.pending_reads)
    enforcement.SETTINGS.configure({"enforce": not args.no_iam}, initial=True)
    try:
        models.ARTIFACTS.configure({"pending_reads": args.artifact_pending_reads,
                                    "pending_seconds": args.artifact_pending_seconds}, initial=True)
    except ConfigError as err:
        print(f"local-aws: error: {err}", file=sys.stderr)
        return err.exit_code
    app = make_app(faults, background=True)
    server = make_server(args.host, args.port, app, verbose=args.verbose)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)
    url = f"http://{args.host}:{port}"
    start_up = [threading.Thread(target=warm_up, name="warm-up", daemon=True)]
    snapshots = server.snapshots
    if args.exit_with_stdin:
        def watch_stdin() -> None:
            threading.Thread(target=_exit_on_eof, args=(server,), daemon=True).start()

        watch_stdin()
        snapshots.in_child.append(watch_stdin)
    failed: list[int] = []
    if args.ready_account:
        start_up.append(threading.Thread(target=_prepare_then_announce, args=(server, url, args, started, failed),
                                         daemon=True))
    else:
        _announce(url, args, started)
    for thread in start_up:
        thread.start()
        snapshots.before_fork.append(thread.join)
    snapshots.before_fork.append(app.ready.wait)   # our CloudFormation registered
    snapshots.before_fork.append(make_amis)         # once in the snapshot, not in every restored process
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        snapshots.serve(poll_interval=0.05)   # shutdown() answers within this
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return failed[0] if failed else 0


def _announce(url: str, args: argparse.Namespace, started: float, account_dir: str = "") -> None:
    """The ready line on stdout (what ``LocalAws.start`` and the tests wait for), then how to use it on stderr."""
    print(f"{READY_LINE} {url} (ready in {time.perf_counter() - started:.2f} s)", flush=True)
    if args.exit_with_stdin:
        return
    use = (f"source {account_dir}/<region>.env   (the endpoint's variables and the account's values)" if account_dir
           else f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
                "AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1; unset AWS_PROFILE")
    print(f"  use it with: {use}\n"
          "  faults: curl -X POST -d '{\"throttle\": 0.2}' "
          f"{url}/_local_aws/faults   (Ctrl-C stops; state is lost)\n"
          f"  IAM of Service Catalog launch roles: {'not enforced (--no-iam)' if args.no_iam else 'enforced'}; "
          f"requests: curl {url}/_local_aws/iam/requests",
          file=sys.stderr, flush=True)


def _prepare_then_announce(server: Any, url: str, args: argparse.Namespace, started: float, failed: list[int]) -> None:
    """Run ``generator.devtools.local_account`` against this endpoint (a process of its own, with the endpoint's
    variables), show what it made, then announce the endpoint; if it fails, stop the server with its exit code."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN")}
    env.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_EC2_METADATA_DISABLED="true")
    print("local-aws: preparing a ready account ...", file=sys.stderr, flush=True)
    done = subprocess.run([sys.executable, "-m", "generator.devtools.local_account", "--out", args.account_dir,
                           "--egress", args.egress], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    print(done.stdout, end="", file=sys.stderr, flush=True)
    if done.returncode != 0:
        print(f"local-aws: error: the ready account could not be prepared (exit code {done.returncode}); "
              "the endpoint stops, since its state is incomplete: run it again", file=sys.stderr, flush=True)
        failed.append(done.returncode)
        server.shutdown()
        return
    _announce(url, args, started, args.account_dir)


def _exit_on_eof(server: Any) -> None:
    """Stop when the parent process (a test run) closes our stdin or dies: the serve loop ends and
    ``main`` returns (state lives only in memory, so there is nothing to flush)."""
    while os.read(0, 1024):   # not sys.stdin: a forked child must not need a lock its parent's thread held
        pass
    server.shutdown()


def run(argv: list[str] | None = None) -> NoReturn:
    """``main``, then the process ends at once with its exit code.  The state lives only in memory, so there
    is nothing to write back, and the interpreter's usual teardown (freeing every object of moto's modules)
    would add about 0.3 s to every stop (``os._exit``: "Exit the process with status n, without calling
    cleanup handlers, flushing stdio buffers, etc.", https://docs.python.org/3/library/os.html#os._exit; so
    stdout and stderr are flushed first)."""
    try:
        code = main(argv)
    except SystemExit as stopped:   # the parked process ends with its serving child's code
        code = stopped.code if isinstance(stopped.code, int) else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:   # a reader that has gone (a closed pipe) reads nothing more
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
