"""The build's worker processes: lint templates and build their derived files on every core.

A build that has templates to lint starts a loader process: it imports cfn-lint and loads the rule set
once (with the cyclic garbage collector off), moves it out of the collector's generations
(``gc.freeze``), then forks ``jobs`` workers (``HIPAA_CATALOG_JOBS`` or the number of cores), which
start with it loaded and share its memory without their collections scanning it.  A cold build (no
lint results kept in ``build/.cache``) starts the loader before it renders, so loading the rule set
overlaps rendering and the build process itself never imports cfn-lint.  Jobs are sent largest
template first, so the longest one starts at once and the small ones fill the other worker; the build
process can do its own work meanwhile (``map(..., meanwhile=)``).  Only plain data travels between the
processes (template text, ``LintResult``, the derived files' texts); the build process writes every
file, so the cache and the output folder have one writer.

With one job, or where ``fork`` is unavailable, the same functions run in the build process, one after
the other: the results are the same either way (tests/test_workers.py).

``HIPAA_CATALOG_TIMINGS=1`` prints where a build's time went on stderr (``=<path>`` writes it as JSON
instead): each phase's wall time in the build process, and per job the CPU seconds of the worker that ran
it, which ``make bench`` adds up into rendering, rule-set loading, linting and reports.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from generator.compliance.lint import Linter, LintResult

JOBS_ENV = "HIPAA_CATALOG_JOBS"
TIMINGS_ENV = "HIPAA_CATALOG_TIMINGS"


def jobs_default() -> int:
    """Worker processes: ``HIPAA_CATALOG_JOBS`` or the number of cores."""
    value = os.environ.get(JOBS_ENV, "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


# --- what a worker runs (module level: a job names its function, pickled by reference) --------------

@lru_cache(maxsize=None)
def linter(regions: tuple[str, ...]) -> "Linter":
    """This process's linter for ``regions`` (the rule set is loaded once per process)."""
    from generator.compliance.lint import Linter

    return Linter(regions)


def _load(regions: tuple[str, ...]) -> float:
    """Load the rule set into this process; the CPU seconds it took.  The cyclic collector is off
    meanwhile: what is loaded (modules, schemas, rules) stays, and collecting while it piled up took
    about a quarter of the loading time."""
    start = time.process_time()
    enabled = gc.isenabled()
    gc.disable()
    try:
        linter(regions)
    finally:
        if enabled:
            gc.enable()
    return time.process_time() - start


def lint_job(regions: tuple[str, ...], text: str, filename: str) -> "LintResult":
    return linter(regions).lint_text(text, filename)


def _timed(func: Callable[..., Any], args: tuple) -> tuple[Any, float]:
    """``func(*args)`` and the CPU seconds it took."""
    start = time.process_time()
    value = func(*args)
    return value, time.process_time() - start


def _loader(conn, regions: tuple[str, ...], jobs: int) -> None:
    """The loader process: load the rule set, fork ``jobs`` workers from here (they start with it
    loaded, sharing its memory), then run each batch of jobs the build sends (``None`` ends it).  It
    answers ``("ok", startup CPU, [(value, cpu), ...])`` or ``("error", exception)``."""
    import multiprocessing

    startup = _load(regions)   # reported with the first batch
    # the rule set and cfn-lint's module state stay for the workers' life: out of the collector's
    # generations, so that the workers' collections neither scan them nor copy their pages
    gc.freeze()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        while True:
            batch = conn.recv()
            if batch is None:
                break
            func, args = batch
            try:
                done = [r.get() for r in [pool.apply_async(_timed, (func, a)) for a in args]]
                conn.send(("ok", startup, done))
            except Exception as exc:   # handed to the build process, which raises it
                conn.send(("error", _picklable(exc)))
            startup = 0.0


def _picklable(exc: Exception) -> Exception:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:   # an exception that cannot travel is described instead
        from generator.errors import BuildError

        return BuildError(f"a build worker failed: {type(exc).__name__}: {exc}")


# --- the pool --------------------------------------------------------------------------------------

class Workers:
    """``jobs`` worker processes for one build (in-process with one job); a context manager.

    The workers are forked by a loader process once it has loaded the rule set, so it is loaded once
    per build, and while this process renders."""

    def __init__(self, regions: Sequence[str], jobs: int | None = None, timings: "Timings | None" = None):
        self.regions = tuple(regions)
        self.jobs = jobs_default() if jobs is None else max(1, jobs)
        self.timings = timings or Timings()
        self._loader = None
        self._conn = None

    @property
    def parallel(self) -> bool:
        return self.jobs > 1 and _can_fork()

    def start(self) -> "Workers":
        """Start the loader now (it loads the rule set while this process goes on); idempotent."""
        if self._loader is None and self.parallel:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            self._conn, theirs = ctx.Pipe()
            self._loader = ctx.Process(target=_loader, args=(theirs, self.regions, self.jobs), daemon=False,
                                       name="hipaa-catalog-loader")
            self._loader.start()
            theirs.close()
        return self

    def map(self, kind: str, func: Callable[..., Any], jobs: Sequence[tuple], sizes: Sequence[int],
            labels: Sequence[str], meanwhile: Callable[[], Any] | None = None) -> list[Any]:
        """``func(*job)`` for every job, in the order given; run largest ``size`` first.  ``kind`` and
        ``labels`` name the jobs in the timings.  ``meanwhile()`` runs in this process while the workers
        run the jobs (before them when they run here); its CPU time is in the timings as ``meanwhile``."""
        order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
        # one job runs here, unless the workers are already up (they have the rule set loaded)
        if self._loader is not None or (self.parallel and len(jobs) > 1):
            self.start()
            self._conn.send((func, [jobs[i] for i in order]))
            self._meanwhile(kind, meanwhile)
            try:
                answer = self._conn.recv()
            except EOFError:
                from generator.errors import BuildError

                raise BuildError("the build's worker processes stopped before answering (see the error above)",
                                 hint=f"run again with {JOBS_ENV}=1 to lint in the build process itself") from None
            if answer[0] == "error":
                raise answer[1]
            _, startup, done = answer
            if startup:
                self.timings.job("rule set", "loading cfn-lint and the rules", startup)
        else:
            self._meanwhile(kind, meanwhile)
            done = [_timed(func, jobs[i]) for i in order]
        results: list[Any] = [None] * len(jobs)
        for i, (value, cpu) in zip(order, done):
            results[i] = value
            self.timings.job(kind, labels[i], cpu)
        return results

    def _meanwhile(self, kind: str, func: Callable[[], Any] | None) -> None:
        if func is not None:
            _, cpu = _timed(func, ())
            self.timings.job("meanwhile", f"in the build process, during {kind}", cpu)

    def lint(self, texts: Sequence[tuple[str, str]], meanwhile: Callable[[], Any] | None = None) -> list["LintResult"]:
        """The lint result of each ``(text, filename)``, in order (``meanwhile``: as for :meth:`map`)."""
        return self.map("lint", lint_job, [(self.regions, t, f) for t, f in texts], [len(t) for t, _ in texts],
                        [f for _, f in texts], meanwhile)

    def close(self) -> None:
        """Stop the loader and its workers (after the batch they are running, if any)."""
        if self._loader is not None:
            try:
                self._conn.send(None)
            except OSError:   # the loader is gone already
                pass
            self._conn.close()
            self._loader.join()
            self._loader = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- where the time went ---------------------------------------------------------------------------

class Timings:
    """Wall time of the build's phases (in the build process) and CPU time of each job (in the worker
    that ran it); reported when ``HIPAA_CATALOG_TIMINGS`` is set."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.start_cpu = time.process_time()   # the interpreter's start and the imports before the build
        self._mark = self.started
        self.phases: list[tuple[str, float]] = []
        self.jobs: list[tuple[str, str, float]] = []

    def phase(self, name: str) -> None:
        """The phase ``name`` ends now (it began where the previous one ended)."""
        now = time.perf_counter()
        self.phases.append((name, now - self._mark))
        self._mark = now

    def job(self, kind: str, label: str, cpu: float) -> None:
        self.jobs.append((kind, label, cpu))

    def to_json(self) -> dict:
        cpu = {}
        for kind, _, s in self.jobs:
            cpu[kind] = cpu.get(kind, 0.0) + s
        return {"wall_s": round(time.perf_counter() - self.started, 4),
                "process_start_cpu_s": round(self.start_cpu, 4),
                "phases_wall_s": {n: round(s, 4) for n, s in self.phases},
                "jobs_cpu_s": {k: round(v, 4) for k, v in cpu.items()},
                "jobs": [{"kind": k, "label": lbl, "cpu_s": round(s, 4)} for k, lbl, s in self.jobs],
                "build_process_cpu_s": round(time.process_time(), 4)}

    def report(self, target: str | None = None) -> None:
        """Write the timings where ``HIPAA_CATALOG_TIMINGS`` says (``target``: its value)."""
        target = os.environ.get(TIMINGS_ENV, "") if target is None else target
        if not target:
            return
        data = self.to_json()
        if target != "1":
            Path(target).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            return
        lines = [f"timings: {data['wall_s']:.2f} s wall, build process {data['build_process_cpu_s']:.2f} s CPU"]
        lines += [f"  phase {n:<22} {s:7.3f} s wall" for n, s in data["phases_wall_s"].items()]
        lines += [f"  jobs  {k:<22} {s:7.3f} s CPU" for k, s in data["jobs_cpu_s"].items()]
        print("\n".join(lines), file=sys.stderr)


def cold(out_dir: Path, cache_dir: str) -> bool:
    """True when ``out_dir`` keeps no lint result: every template will be linted."""
    lint = Path(out_dir) / cache_dir / "lint"
    return not (lint.is_dir() and any(lint.iterdir()))


__all__ = ["Workers", "Timings", "jobs_default", "lint_job", "linter", "cold", "JOBS_ENV", "TIMINGS_ENV"]
