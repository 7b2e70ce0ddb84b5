"""Sweeps on a Dask LocalCluster of two workers: the same results as serially; a task that kills
its own worker loses no finished result, and --resume completes the sweep."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.planners.registry import get_planner, register_planner, unregister_planner
from allocator.sweep import read_tasks, run_sweep, store_path

dask = pytest.importorskip("dask")
pytest.importorskip("distributed")

BASE = """\
name = "tiny"
[region]
schools = 30
counties = 2
seed = 3
[solver]
threads = 1
[[steps]]
planner = "{planner}"
budget = 1e6
[sweep]
steps.{planner}.budget = [1e6, 3e6, 6e6]
region.counties = "each"
measures = ["cost_yuan", "parts_compliant", "compliant_share", "travel.junior.mean_minutes"]
"""
MEASURES = ["cost_yuan", "parts_compliant", "compliant_share", "travel.junior.mean_minutes"]


def plan_killing(region, policy=None, options=None, progress=None):
    import os

    kill = os.environ.get("SWEEP_TEST_KILL_FILE")
    if kill and policy.budget == 3e6 and os.path.exists(kill):
        os._exit(1)  # the worker process dies, as on a lost node
    return get_planner("budget").plan(region, policy, options=options, progress=progress)


def _by_task(table):
    return table.set_index("key")[["status", *MEASURES]].sort_index()


@pytest.mark.slow
def test_a_local_cluster_of_two_workers_gives_the_serial_results(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(BASE.replace("{planner}", "budget"), encoding="utf-8")
    serial = run_sweep(path, out=tmp_path / "serial", workers=0)
    cluster = run_sweep(path, out=tmp_path / "cluster", workers=2)
    assert len(serial.table) == 6 and (serial.table["status"] == "ok").all()
    assert _by_task(cluster.table).equals(_by_task(serial.table))
    assert [sorted(d) for d in cluster.table.sort_values("key")["decisions"]] == [
        sorted(d) for d in serial.table.sort_values("key")["decisions"]
    ]


@pytest.mark.slow
def test_a_task_that_kills_its_worker_loses_no_finished_result_and_resume_completes(
    tmp_path, monkeypatch
):
    register_planner("killing", plan_killing, get_planner("budget").policy)
    try:
        path = tmp_path / "s.toml"
        path.write_text(BASE.replace("{planner}", "killing"), encoding="utf-8")
        marker = tmp_path / "kill"
        marker.write_text("x", encoding="utf-8")
        monkeypatch.setenv("SWEEP_TEST_KILL_FILE", str(marker))
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            first = run_sweep(path, out=tmp_path / "out", workers=2, write=False)
        table = first.table.set_index("steps.killing.budget")
        lost = table[table["status"] == "lost"]
        # both counties' 3e6 tasks kill their worker; a task queued on a dying worker may be lost too
        assert set(table.loc[3e6, "status"]) == {"lost"}
        assert set(table["status"]) <= {"ok", "lost"}
        assert "worker" in lost["error"].iloc[0].lower()
        kept = read_tasks(store_path(tmp_path / "out"))
        assert (kept["status"] == "ok").sum() == 6 - len(lost) >= 1
        marker.unlink()
        done = run_sweep(path, out=tmp_path / "out", workers=2, resume=True)
        assert done.ran == len(lost) and (done.table["status"] == "ok").all()
        before = _by_task(kept[kept["status"] == "ok"])
        pd.testing.assert_frame_equal(
            _by_task(done.table).loc[before.index], before, check_dtype=False
        )
        serial = run_sweep(path, out=tmp_path / "serial", workers=0, write=False)
        pd.testing.assert_frame_equal(
            _by_task(done.table), _by_task(serial.table), check_dtype=False
        )
    finally:
        unregister_planner("killing")


@pytest.mark.slow
def test_a_scheduler_address_runs_the_sweep_on_that_cluster(tmp_path):
    from dask.distributed import LocalCluster

    path = tmp_path / "s.toml"
    path.write_text(BASE.replace("{planner}", "budget"), encoding="utf-8")
    lines = []
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = run_sweep(
            path,
            out=tmp_path / "remote",
            scheduler=cluster.scheduler_address,
            write=False,
            progress=lines.append,
        )
    assert any(line == "6 tasks on 1 worker" for line in lines)
    serial = run_sweep(path, out=tmp_path / "serial", workers=0, write=False)
    pd.testing.assert_frame_equal(_by_task(remote.table), _by_task(serial.table), check_dtype=False)
