"""A publisher process for the kill-and-re-run tests: ``python tests/killable_publisher.py SETTINGS OUT [AT]``,
or :func:`start` from a test.

Publishes like ``hipaa-catalog publish`` (without the freshness check: the tests' builds are synthetic).
With ``AT``, the process exits at once (``os._exit``, as a kill would) right after the answer to a chosen
call (its recorder's ``answered``, which botocore's ``after-call`` event calls): ``N`` is its Nth
write call, ``Operation:N`` its Nth call of that operation (e.g. ``DescribeProvisioningArtifact:2``).

:func:`start` forks the process from a multiprocessing fork server that imported this module (and so boto3
and the publisher) once: a fresh interpreter spent most of each run importing them.  The fork server is a
process of its own with one thread, so forking it is safe where forking a test process with threads is
not ("forkserver" start method, https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods).
The child takes the test's environment, folder and output files before it publishes.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generator import settings as catalog_settings  # noqa: E402
from generator.aws import api, publish  # noqa: E402

EXIT_CODE_KILLED = 137


class KillingRecorder(api.CallRecorder):
    """Records the calls, and ends the process after the answer to the chosen call (see the module doc)."""

    def __init__(self, at: str) -> None:
        super().__init__()
        operation, _, count = at.rpartition(":")
        self.operation = operation          # "" counts every write call
        self.after = int(count)
        self.answered_count = 0
        self.lock = threading.Lock()

    def answered(self, call_: api.Call) -> None:
        if call_.operation == self.operation or (not self.operation and call_.write):
            with self.lock:
                self.answered_count += 1
                if self.answered_count >= self.after:
                    os._exit(EXIT_CODE_KILLED)


def main(argv: list[str]) -> int:
    settings_path, out_dir, *kill = argv
    recorder = KillingRecorder(kill[0]) if kill else api.CallRecorder()
    report = publish.publish(catalog_settings.load(settings_path), out_dir=Path(out_dir), recorder=recorder,
                             check_fresh=False)
    return 0 if report.ok else 1


def _child(argv: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """The forked publisher: the starter's environment, folder, stdout and stderr, then :func:`main`."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, out), (2, err)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_TRUNC), fd)
    try:
        code = main(argv)
    except BaseException:   # a traceback on stderr and exit 1, as the interpreter gives
        import traceback

        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class Publisher:
    """A publisher started by :func:`start`: ``communicate``, ``returncode`` as a ``subprocess.Popen`` has."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self._files = [tempfile.NamedTemporaryFile(prefix="publisher-", suffix=f".{n}", delete=False)
                       for n in ("out", "err")]
        for f in self._files:
            f.close()
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        self._process = context.Process(target=_child, args=(argv, dict(os.environ), str(cwd),
                                                             *(f.name for f in self._files)), daemon=True)
        self._process.start()

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Wait for the process to end (killing it after ``timeout`` seconds); its stdout and stderr."""
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        texts = tuple(Path(f.name).read_text(encoding="utf-8", errors="replace") for f in self._files)
        for f in self._files:
            os.unlink(f.name)
        return texts  # type: ignore[return-value]


def start(settings_path: Path, out_dir: Path, kill_at: int | str | None = None, cwd: Path = ROOT) -> Publisher:
    """A publisher of ``settings_path``'s catalog built in ``out_dir``, killed as ``kill_at`` says (see above)."""
    return Publisher([str(settings_path), str(out_dir)] + ([str(kill_at)] if kill_at else []), cwd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
