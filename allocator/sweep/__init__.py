"""Sweeps: many independent runs of one scenario (budgets, rules, counties, forecast draws) on Dask.

A scenario file with a ``[sweep]`` table (:mod:`allocator.sweep.spec`) names the axes; every
combination is a task, one scenario run with those values (:mod:`allocator.sweep.tasks`). The
tasks run on dask.distributed, a ``LocalCluster`` by default or an existing cluster by its
scheduler address (:mod:`allocator.sweep.engine`); each finished task is written to a SQLite store
at once (:mod:`allocator.sweep.store`), so an interrupted sweep resumes where it stopped. Forecast
draws (:mod:`allocator.sweep.draws`) plan on sampled futures, and :mod:`allocator.sweep.robust`
says how often each decision is taken. :func:`run_sweep` does it all
(:mod:`allocator.sweep.run`); ``allocator compare`` runs its variants on the same engine.
"""

from allocator.sweep.engine import run_tasks, solver_threads
from allocator.sweep.robust import decision_shares, robust_plan
from allocator.sweep.run import SweepResult, run_sweep, write_sweep
from allocator.sweep.spec import (
    DEFAULT_MEASURES,
    Axis,
    DrawSettings,
    SweepSpec,
    load_sweep,
    parse_sweep,
)
from allocator.sweep.store import TaskStore, read_tasks, store_path

__all__ = [
    "DEFAULT_MEASURES",
    "Axis",
    "DrawSettings",
    "SweepResult",
    "SweepSpec",
    "TaskStore",
    "decision_shares",
    "load_sweep",
    "parse_sweep",
    "read_tasks",
    "robust_plan",
    "run_sweep",
    "run_tasks",
    "solver_threads",
    "store_path",
    "write_sweep",
]
