"""Shared fixtures: the catalog settings, every product rendered once per test session, the local AWS
endpoint, and an account set up with the catalog published on it."""

from __future__ import annotations

import atexit
import copy
import fcntl
import gc
import json
import os
import shutil
import sys
import tempfile
import threading
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable

import pytest

from generator import settings as catalog_settings
from generator.pipeline import build as pipeline, manifest as manifests

# The compliance reports carry their generation time; the tests fix it (as reproducible builds do) so that
# two builds compare byte for byte.  tests/test_report.py checks what changes when the time does.
os.environ["SOURCE_DATE_EPOCH"] = "1767225600"   # 2026-01-01 00:00:00 UTC
REGION = "us-east-1"   # the region `account` is set up in


@pytest.fixture(scope="session")
def settings():
    return catalog_settings.load()


@pytest.fixture(scope="session")
def rendered(settings):
    """Every registered product rendered (not linted), by name."""
    return {b.name: b for b in pipeline.render_all(settings)}


def _run_dir(tmp_path_factory) -> Path:
    """A folder of this test run shared by its pytest-xdist workers (each has its own base folder below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _locked(path: Path):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def catalog_build(tmp_path_factory, settings) -> Path:
    """The catalog built once per test run, as `make build` writes it (templates, compliance reports, catalog
    page, manifest, lint cache), shared by the pytest-xdist workers: the first to ask builds it under a
    lock.  Read it only; copy what a test changes (``report_build``, ``seed_lint``).  The lint results and
    `make scan` results kept in build/ are copied first where they exist: current ones save the linting and
    put the scanners' results in the pages (`make test` scans first); stale ones are not used (their keys
    and template sha256 do not match)."""
    out = _run_dir(tmp_path_factory) / "catalog-build"
    with _locked(out.with_name("catalog-build.lock")):
        if not (out / manifests.MANIFEST).is_file():
            shutil.rmtree(out, ignore_errors=True)
            lint = manifests.BUILD_DIR / ".cache" / "lint"
            if lint.is_dir():
                shutil.copytree(lint, out / ".cache" / "lint")
            copy_scan_results(manifests.BUILD_DIR, out)
            pipeline.build(settings, out_dir=out)
    return out


def copy_scan_results(source: Path, dest: Path) -> None:
    """The scanners' results kept in the build folder ``source`` (`make scan`), copied into ``dest`` where a
    build finds them."""
    from generator.compliance import scan

    for found in Path(source).glob(f"*/*/{scan.RESULTS}"):
        (Path(dest) / found.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(found, Path(dest) / found.relative_to(source))


@pytest.fixture(scope="session")
def linted_clean(catalog_build, rendered, settings):
    """``linted_clean(name)``: that the catalog build linted the product's template, as rendered here, in every
    catalog region and found nothing blocking.  The build lints every template in every catalog region and
    writes no manifest when a finding blocks (tests/test_build.py), so its manifest is the evidence."""
    from generator.render import sha256

    data = json.loads((catalog_build / manifests.MANIFEST).read_text(encoding="utf-8"))

    def check(name: str) -> None:
        entry = next(p for p in data["products"] if p["name"] == name)
        assert data["linted_regions"] == list(settings.regions)
        assert entry["sha256"] == sha256(rendered[name].json_text), f"{name}: the build linted another template"
    return check


@pytest.fixture(scope="session")
def report_build(tmp_path_factory, catalog_build):
    """A copy of ``catalog_build`` of this test session's own: the catalog with its compliance reports and
    catalog page, as `make build` writes them."""
    out = tmp_path_factory.mktemp("reports")
    shutil.copytree(catalog_build, out, dirs_exist_ok=True)
    return out


@pytest.fixture
def seed_lint(catalog_build):
    """``seed_lint(out)`` copies the catalog's current lint results into ``out``'s build cache, so a build
    into ``out`` lints nothing of the catalog (what the build does with them is tests/test_buildcache.py's)."""
    def seed(out: Path) -> Path:
        shutil.copytree(catalog_build / ".cache" / "lint", Path(out) / ".cache" / "lint", dirs_exist_ok=True)
        return Path(out)
    return seed


# -- the local AWS endpoint (generator/local_aws) ---------------------------------------------------
# One server process per pytest(-xdist) worker, started on first use on a free port; every test that
# asks for `local_aws` gets it freshly reset (no resources, no faults, empty call log).
# Every endpoint LocalAws.start starts in the run, the tests' own and the demo's and the benchmark's, is forked
# from one warm parent (generator/devtools/local_aws/forkserver.py), started by the first to need one and
# ended with the run: an endpoint then serves at once instead of first importing moto and its models.

def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):   # the workers inherit the run's (the controller's) settings
        return
    from generator.devtools.local_aws import FORK_SERVER

    folder = tempfile.mkdtemp(prefix="hipaa-catalog-local-aws-")
    os.environ[FORK_SERVER] = os.path.join(folder, "fork-server.sock")
    os.environ["LOCAL_AWS_FORK_SERVER_OWNER"] = str(os.getpid())
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


def _endpoint():
    from generator.devtools.local_aws import LocalAws

    with LocalAws.start(port=0) as endpoint:
        yield endpoint


def pytest_collection_finish(session):
    """A run with tests of the endpoint starts the warm parent as soon as it knows, beside its first tests,
    rather than when the first of them asks for an endpoint (the first to ask waits for it then)."""
    from generator.devtools.local_aws import FORK_SERVER, forkserver

    def start(path: str) -> None:
        try:
            forkserver.ensure(path)
        except Exception:   # noqa: BLE001 - the first test asking for an endpoint starts it again and says why not
            pass

    if session.config.option.collectonly or not os.environ.get(FORK_SERVER):
        return
    if any(item.get_closest_marker("aws") for item in session.items):
        threading.Thread(target=start, args=(os.environ[FORK_SERVER],), name="warm-parent", daemon=True).start()


_local_aws_server = pytest.fixture(scope="session", name="_local_aws_server")(_endpoint)
# a module that sets OWN_ENDPOINT = True gets an endpoint of its own (an endpoint process takes one snapshot,
# and the worker's keeps `account`'s)
_module_local_aws = pytest.fixture(scope="module", name="_module_local_aws")(_endpoint)


@pytest.fixture
def local_aws(request):
    """The local AWS endpoint (``LocalAws``), reset: no resources, faults off, empty call log."""
    own = getattr(request.module, "OWN_ENDPOINT", False)
    endpoint = request.getfixturevalue("_module_local_aws" if own else "_local_aws_server")
    endpoint.reset()
    return endpoint


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


# -- boto3 clients for the tests' own calls --------------------------------------------------------
_CLIENTS: dict[tuple, Any] = {}


def client_of(service: str, region: str | None = None, retries: int | None = None) -> Any:
    """``boto3.client(service, region_name=region)`` as the environment says now (endpoint, credentials and
    default region: ``aws_env``), with ``retries`` retries (None: boto3's default), made once per worker for the
    same arguments and environment and kept.  Making a client costs milliseconds of CPU (its class from the
    service model, its SSL context, its endpoint rules) and the tests ask for thousands; a client is "generally
    thread-safe" (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html) and keeps
    nothing of a test but its open connections, which it opens again once the endpoint has closed them (as a
    restore does: generator/devtools/local_aws/snapshot.py)."""
    import boto3
    from botocore.config import Config

    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (service, region, retries, environment)
    if key not in _CLIENTS:
        config = None if retries is None else Config(retries={"total_max_attempts": retries + 1, "mode": "standard"})
        _CLIENTS[key] = boto3.client(service, region_name=region, config=config)
    return _CLIENTS[key]


# -- the hipaa-catalog command and an account with the catalog published ---------------------------

@pytest.fixture(scope="session")
def built(tmp_path_factory, settings):
    """Every product rendered into a build folder with its manifest (linting is the build tests' job)."""
    out = tmp_path_factory.mktemp("build")
    items = pipeline.render_all(settings)
    for item in items:
        (out / item.rel_dir).mkdir(parents=True, exist_ok=True)
        (out / item.rel_dir / "template.json").write_text(item.json_text, encoding="utf-8")
    manifests.write(out, pipeline.manifest(settings, items, settings.regions))
    return out


@pytest.fixture
def hc(capsys):
    """``hc(*argv)`` runs ``hipaa-catalog ARGV --json`` in-process: (exit code, parsed stdout or None, text).
    An error is a JSON object on stdout (``{"error": {"code", "message", "hint"}}``): then the parsed stdout
    is None and the text is stderr followed by the error's message and hint; otherwise the text is stderr."""
    from generator.cli import main as cli

    def run(*argv: str) -> tuple[int, object, str]:
        capsys.readouterr()
        code = cli.main([*argv, "--json"])
        captured = capsys.readouterr()
        data = json.loads(captured.out) if captured.out.strip() else None
        if isinstance(data, dict) and set(data) == {"error"}:
            assert code != 0 and set(data["error"]) == {"code", "message", "hint"}
            return code, None, captured.err + f"{data['error']['message']} ({data['error']['hint']})"
        return code, data, captured.err
    return run


@pytest.fixture
def account(aws_env, built, hc):
    """An account set up by the administrator with the CLI, and the catalog published (us-east-1)."""
    return _account(aws_env, built, hc)


@pytest.fixture
def fresh_account(aws_env, built, hc):
    """``fresh_account()`` gives the endpoint a freshly set up account again (as ``account``), for tests that
    need more than one fresh account."""
    def make() -> dict:
        aws_env.reset()
        return _account(aws_env, built, hc)
    return make


# The first `account` of a worker is set up with the CLI (about 1.5 s) and the endpoint keeps a snapshot of
# it (generator/devtools/local_aws/snapshot.py); every later one restores that snapshot (a few ms), which is
# the same state: every resource, id, call logged and setting as right after the set-up.  An endpoint process
# takes one snapshot, so another state kept this way needs an endpoint of its own.
_SNAPSHOT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # endpoint -> (whose, untouched state, kept)


def restored(endpoint, whose: str, set_up: Callable[[], Any], copy_kept: Callable[[Any], Any] = copy.deepcopy):
    """The state ``set_up()`` leaves on the (reset) ``endpoint``: set up and kept in the endpoint's snapshot the
    first time, restored from it after that.  Returns ``copy_kept`` of what ``set_up`` returned, so that what
    one test changes of it is not what the next one gets."""
    untouched = _untouched(endpoint)
    held = _SNAPSHOT.get(endpoint)
    if held is not None and held[0] != whose:
        raise AssertionError(f"the endpoint's snapshot holds `{held[0]}`, and an endpoint process takes one "
                             f"snapshot: give `{whose}`'s module an endpoint of its own (OWN_ENDPOINT = True)")
    if held is None:
        kept = set_up()
        endpoint.snapshot()
        _SNAPSHOT[endpoint] = held = (whose, untouched, kept)
    _whose, expected, kept = held
    # restoring throws away whatever was done since the reset: a fixture that changes the endpoint before
    # this one is set up would be silently undone
    assert untouched == expected, (f"the endpoint was changed after its reset and before `{whose}`: request "
                                   f"`{whose}` first, then change it\n{untouched}\n{expected}")
    endpoint.restore()
    return copy_kept(kept)


def _account(endpoint, built, hc) -> dict:
    from generator.aws import api as aws

    def set_up() -> dict:
        result = set_up_account(endpoint, built, hc)
        return {k: result[k] for k in ("network", "baseline", "launch_role")}

    kept = restored(endpoint, "account", set_up)
    return {**kept, "endpoint": endpoint, "built": built, "session": aws.session(REGION)}


def _untouched(endpoint) -> tuple:
    """What a reset sets and a test may change: the call log and every setting."""
    return endpoint.calls(), endpoint.settings()


def administer(built, hc, region: str = "us-east-1") -> tuple[dict, dict, dict]:
    """The administrator's part: a network, the baseline and the launch role (network, baseline, role results)."""
    from generator.devtools import local_account

    network = local_account.network(region, egress="").baseline_parameters()
    args = [a for k, v in network.items() for a in ("-p", f"{k}={v}")]
    code, result, err = hc("deploy-baseline", "--region", region, "--yes", "--out", str(built), *args)
    assert code == 0, err
    code, role, err = hc("deploy-launch-role", "--region", region, "--yes", "--out", str(built))
    assert code == 0, err
    return network, result, role


def set_up_account(aws_env, built, hc) -> dict:
    """Deploy the baseline and the launch role and publish the catalog on the (reset) endpoint."""
    from generator.aws import api as aws

    network, result, role = administer(built, hc, REGION)
    code, _published, err = hc("publish", "--out", str(built), "--region", REGION)
    assert code == 0, err
    return {"endpoint": aws_env, "network": network, "baseline": result, "launch_role": role, "built": built,
            "session": aws.session(REGION)}


def _end_worker_now() -> None:
    """A pytest-xdist worker's last step: by the time the interpreter exits, the worker has sent every result and
    its end of the session to the controller, which waits for the process to end before it ends the run; the
    interpreter's teardown of what the tests imported (troposphere, cfn-lint and their schemas, boto3) took
    1.3-1.6 s after the last worker's last atexit handler.  Registered at the first import of this module, so
    it runs after the handlers registered later ("last in, first out",
    https://docs.python.org/3/library/atexit.html), then ends the process without the teardown
    (https://docs.python.org/3/library/os.html#os._exit)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed stream has nothing left to write
            pass
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    atexit.register(_end_worker_now)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session):
    """What collection imports (troposphere, cfn-lint, boto3 and their schemas) lives as long as the run: the
    cyclic garbage collector is off meanwhile (collecting while it piles up frees nothing, as in the build's
    loader, generator/pipeline/workers.py), and then it is moved out of the collector's reach, so later
    collections no longer walk it again and again (https://docs.python.org/3/library/gc.html#gc.freeze).
    A pytest-xdist controller, which collects nothing, passes through at once."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


# The modules that take longest (seconds of one `make test` on this 2-core machine, 2026-12-04), started
# first: pytest-xdist hands each worker a whole module (--dist loadfile) in the order the modules come, so
# a long module last would keep one worker busy while the others have finished (setup.cfg turns off
# xdist's own order, by the number of tests: --no-loadscope-reorder).  A module not listed comes after
# them, in the usual order; a list out of date costs time, never a result.
LONGEST_FIRST = (
    "tests/test_publish.py",                             # 22.2
    "tests/local_aws/test_web_server_lifecycle.py",      # 15.4
    "tests/test_bench.py",                               # 9.6
    "tests/test_readme_walkthrough.py",                  # 9.2
    "tests/test_report.py",                              # 8.7
    "tests/test_organization.py",                        # 8.7
    "tests/test_cli_waiting.py",                         # 8.1
    "tests/test_report_browser.py",                      # 6.5
    "tests/local_aws/test_launch_role_enforcement.py",   # 5.9
    "tests/test_bootstrap_apache.py",                    # 5.7
    "tests/local_aws/test_conformance.py",               # 5.5
    "tests/test_lint_pass.py",                           # 4.6
    "tests/test_cli_json.py",                            # 4.6
    "tests/local_aws/test_endpoint.py",                  # 4.5
    "tests/test_demo.py",                                # 4.3
    "tests/test_publish_org.py",                         # 4.1
    "tests/test_cli_e2e.py",                             # 3.8
)


def pytest_collection_modifyitems(items):
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))   # stable: in order within
