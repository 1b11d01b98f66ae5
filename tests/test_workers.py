"""The build's worker processes (generator/pipeline/workers.py): same results in order, in-process or
forked, and the timings a build reports when asked."""

from __future__ import annotations

import json

from generator.pipeline import build as pipeline, workers
from tests.test_buildcache import tiny_catalog


def _square_job(x: int) -> int:
    return x * x


def test_map_keeps_the_order_given_whichever_runs_first():
    args = [(x,) for x in range(6)]
    sizes = [1, 9, 3, 7, 5, 2]   # run largest first, returned in the order given
    with workers.Workers(["us-east-1"], jobs=1) as here:
        serial = here.map("square", _square_job, args, sizes, [str(x) for x in range(6)])
    with workers.Workers(["us-east-1"], jobs=2) as forked:
        assert forked.map("square", _square_job, args, sizes, [str(x) for x in range(6)]) == serial
        assert [label for kind, label, _ in forked.timings.jobs if kind == "square"] == ["1", "3", "4", "2", "5", "0"]
    assert serial == [x * x for x in range(6)]


def test_jobs_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(workers.JOBS_ENV, "3")
    assert workers.jobs_default() == 3 and workers.Workers(["us-east-1"]).jobs == 3
    monkeypatch.setenv(workers.JOBS_ENV, "none")
    assert workers.jobs_default() >= 1


def test_a_cold_folder_has_no_lint_results(tmp_path):
    assert workers.cold(tmp_path, ".cache")
    (tmp_path / ".cache" / "lint" / "ab").mkdir(parents=True)
    assert not workers.cold(tmp_path, ".cache")


def test_a_build_reports_where_its_time_went(tmp_path, monkeypatch):
    settings, registry = tiny_catalog(tmp_path)
    monkeypatch.setenv(workers.TIMINGS_ENV, str(tmp_path / "timings.json"))
    pipeline.build(settings, out_dir=tmp_path / "out", registry=registry, jobs=2)
    data = json.loads((tmp_path / "timings.json").read_text())
    assert set(data["phases_wall_s"]) == {"render", "lint", "reports", "manifest"}
    assert set(data["jobs_cpu_s"]) == {"rule set", "lint", "meanwhile", "reports"}
    assert sorted(j["label"] for j in data["jobs"] if j["kind"] == "lint") == [
        f"{n}/1.0.0/template.json" for n in sorted(registry)]
    assert {j["label"] for j in data["jobs"] if j["kind"] == "reports"} == {*(f"{n}/1.0.0" for n in registry), "catalog"}
