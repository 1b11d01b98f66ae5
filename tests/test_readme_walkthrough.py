"""The README's local walkthrough runs as it is written.

The shell block between ``<!-- walkthrough: begin`` and ``<!-- walkthrough: end -->`` in README.md is run with
bash, unchanged, in a copy of the clone as ``make build`` leaves it (the files git does not ignore, the
repository's ``.venv``, a build in ``build/``), against a local endpoint started the way the README says
(``make local-aws READY=1``: the command the Makefile runs for it, on a free port of 127.0.0.1).  The copy is
what the commands see as the clone, so they read and write its ``build/`` and nothing of the repository's.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from generator.devtools.local_aws.server import READY_LINE

pytestmark = [pytest.mark.aws, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- walkthrough: begin[^>]*-->\n```sh\n(.*?)```\n<!-- walkthrough: end -->", re.S)
START_TIMEOUT_S = 90


def walkthrough() -> str:
    blocks = BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) == 1, "README.md must hold exactly one ```sh block between the walkthrough markers"
    return blocks[0]


def test_the_walkthrough_block_is_found_and_uses_the_ready_accounts_values():
    block = walkthrough()
    assert "make local-aws READY=1" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "source build/local-account/us-east-1.env" in block and "vpc-0abc" not in block


def clone_copy(dest: Path, built: Path) -> Path:
    """The working tree's files git does not ignore (as they are, times kept, so make sees nothing to rebuild), the
    repository's virtualenv and a build, as a fresh clone of them looks after ``make build``."""
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    shutil.copytree(built, dest / "build")
    return dest


def local_aws_command(clone: Path) -> list[str]:
    """What ``make local-aws READY=1`` runs (``-n``: printed, not run; the virtualenv's stamp taken as made)."""
    printed = subprocess.run(["make", "--no-print-directory", "-s", "-n", "-o", ".venv/.installed", "local-aws",
                              "READY=1", "LOCAL_AWS_PORT=0"], cwd=clone, capture_output=True, text=True, check=True)
    [line] = [ln for ln in printed.stdout.replace("\\\n", " ").splitlines() if "local_aws.py" in ln]
    command = shlex.split(line)
    assert "--ready-account" in command, line
    return command + ["--exit-with-stdin"]


def environment(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCAL_AWS_"))}
    # the copy's sources, not the editable install's (whose build/ is the repository's)
    env.update(PYTHONPATH=str(clone), AWS_EC2_METADATA_DISABLED="true")
    return env


@pytest.fixture
def ready_endpoint(tmp_path, built):
    clone = clone_copy(tmp_path / "clone", built)
    env = environment(clone)
    log = (tmp_path / "local-aws.log").open("w+")
    server = subprocess.Popen(local_aws_command(clone), cwd=clone, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        deadline, line = time.monotonic() + START_TIMEOUT_S, ""
        while READY_LINE not in line:
            ready, _, _ = select.select([server.stdout], [], [], max(0.0, deadline - time.monotonic()))
            line = server.stdout.readline() if ready else ""
            if not ready or (not line and server.poll() is not None):
                log.seek(0)
                pytest.fail(f"make local-aws READY=1 did not get ready: {log.read()[-3000:]}")
        yield clone, env
    finally:
        server.stdin.close()   # the endpoint exits when its stdin closes
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait(timeout=10)
        log.close()


def test_the_readme_walkthrough_runs_as_written(ready_endpoint):
    clone, env = ready_endpoint
    script = "set -e -o pipefail\n" + walkthrough()
    done = subprocess.run(["bash", "-c", script], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-6000:]
    assert "us-east-1: ready for web server launches" in done.stdout
    assert re.search(r"CompliantWebsiteURL +https://[0-9a-f-]{36}\.clinic\.example\.org/clinic/", done.stdout), \
        done.stdout[-3000:]
    assert re.search(r"^clinic-test\tAVAILABLE$", done.stdout, re.M) and \
        re.search(r"^clinic-prod\tAVAILABLE$", done.stdout, re.M), done.stdout[-3000:]
    assert (clone / "build" / "publish-report.json").is_file()   # the copy's build, not the repository's
