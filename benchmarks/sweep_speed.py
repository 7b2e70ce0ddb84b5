"""Sweep speed: a 64-task sweep with 1 and 2 Dask workers, and the wall time of a large sweep.

Run: ``python benchmarks/sweep_speed.py [--schools 80] [--budgets 8] [--draws 8]``. A synthetic
county of ``--schools`` schools is planned (the budget planner) at ``--budgets`` budget levels on
``--draws`` forecast draws (64 tasks by default), once with one worker (in this process, as
``--workers 1`` does) and once on a ``LocalCluster`` of two (one solver thread per task in both). Prints each run's wall time (with and without
starting the cluster), the speed-up and the per-task seconds measured inside the workers.

Then estimates the wall time of a municipal sweep (``--counties 38`` x ``--big-draws 200`` tasks,
each a county like the one measured) for 1 to 256 workers, by simulation: task times are drawn from
the measured ones, handed to the first free worker in turn (as Dask does), plus the measured
overhead per task (the two-worker run's busy time beyond the tasks' own) and the cluster's start.
The estimate assumes every worker is as fast as this machine's and the scheduler keeps up (it does
to thousands of tasks a second); it is a guide, not a promise.

On a cluster: start ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786
--nthreads 1`` on the others (or use dask-jobqueue, e.g. ``SLURMCluster``, and take its
``scheduler_address``), then ``allocator sweep scenarios/municipal_sweep.toml --scheduler
tcp://HOST:8786``.
"""

from __future__ import annotations

import argparse
import heapq
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from allocator.sweep import run_sweep

SCENARIO = """\
name = "sweep speed"
[region]
schools = {schools}
counties = 1
seed = 5
[solver]
threads = 1
time_limit = 60
mip_gap = 0.01
[[steps]]
planner = "budget"
budget = 1e7
[sweep]
steps.budget.budget = {budgets}
measures = ["cost_yuan", "compliant_share"]
[sweep.forecast]
draws = {draws}
seed = 1
year = 2030
"""


def timed_sweep(path: Path, workers: int, out: Path) -> dict:
    """Run the sweep on a LocalCluster of ``workers``: wall seconds, task phase, task seconds."""
    marks: dict[str, float] = {}

    def progress(line: str) -> None:
        if " on " in line and "worker" in line:
            marks.setdefault("submitted", time.perf_counter())

    t0 = time.perf_counter()
    result = run_sweep(path, out=out, workers=workers, write=False, progress=progress, force=True)
    wall = time.perf_counter() - t0
    tasks = result.table
    assert (tasks["status"] == "ok").all(), tasks[tasks["status"] != "ok"][["status", "error"]]
    return {
        "wall": wall,
        "phase": time.perf_counter() - marks.get("submitted", t0),
        "start": marks.get("submitted", t0) - t0,
        "seconds": tasks["seconds"].to_numpy(float),
    }


def simulate(task_seconds: np.ndarray, tasks: int, workers: int, overhead: float, seed: int = 0):
    """Wall seconds of ``tasks`` tasks (times drawn from ``task_seconds``) on ``workers``."""
    rng = np.random.default_rng(seed)
    durations = rng.choice(task_seconds, size=tasks, replace=True) + overhead
    free = [0.0] * workers
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


def main(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sweep_speed_"))
    budgets = [float(b) for b in np.linspace(2e6, 2e7, args.budgets)]
    path = folder / "sweep.toml"
    path.write_text(
        SCENARIO.format(schools=args.schools, budgets=budgets, draws=args.draws), encoding="utf-8"
    )
    n = args.budgets * args.draws
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"sweep: {n} tasks (a county of {args.schools} schools, budget planner, forecast draws)")
    runs = {}
    for workers in (1, 2):
        runs[workers] = timed_sweep(path, workers, folder / f"out{workers}")
        r = runs[workers]
        print(
            f"{workers} worker{'s (LocalCluster)' if workers > 1 else ' (in this process)'}: "
            f"{r['wall']:.1f} s in all, {r['phase']:.1f} s for the tasks "
            f"(cluster start {r['start']:.1f} s); per task {np.mean(r['seconds']):.2f} s mean, "
            f"{np.median(r['seconds']):.2f} s median"
        )
    print(
        f"speed-up with 2 workers: {runs[1]['phase'] / runs[2]['phase']:.2f}x on the tasks, "
        f"{runs[1]['wall'] / runs[2]['wall']:.2f}x in all"
    )
    measured = np.concatenate([runs[1]["seconds"], runs[2]["seconds"]])
    overhead = max(0.0, (runs[2]["phase"] * 2 - runs[2]["seconds"].sum()) / n)
    start = runs[2]["start"]
    big = args.counties * args.big_draws
    print(
        f"\nestimate: {args.counties} counties x {args.big_draws} draws = {big:,} tasks "
        f"(overhead {overhead:.2f} s per task, start {start:.0f} s)"
    )
    print("workers  wall time")
    for workers in (1, 2, 4, 8, 16, 32, 64, 128, 256):
        seconds = start + simulate(measured, big, workers, overhead)
        print(f"{workers:7d}  {seconds / 3600:6.2f} h  ({seconds / 60:,.0f} min)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=80, help="schools of the county (80)")
    parser.add_argument("--budgets", type=int, default=8, help="budget levels (8)")
    parser.add_argument("--draws", type=int, default=8, help="forecast draws (8)")
    parser.add_argument("--counties", type=int, default=38, help="counties of the estimate (38)")
    parser.add_argument("--big-draws", type=int, default=200, help="draws of the estimate (200)")
    main(parser.parse_args())
