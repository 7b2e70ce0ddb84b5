"""Running independent tasks on Dask (dask.distributed), or in this process.

:func:`run_tasks` hands each task to ``function(context, region, task)`` and calls
``on_done(index, outcome)`` in this process as each finishes, in the order they finish. The
regions are built by the caller once and sent to the cluster once, not pickled with each task: as
a task that returns the region, so workers fetch it from each other and a lost worker's copy is
made again (data sent with ``client.scatter`` would be lost with its worker, and every task that
needs it cancelled). Where the tasks run:

* ``workers=0`` (or 1 without a scheduler): in this process, one after another;
* by default: a ``LocalCluster`` of ``workers`` processes (default: the cores) with one thread
  each; each task's solver gets ``cores // workers`` threads (:func:`solver_threads`), so tasks x
  threads <= cores;
* ``scheduler="tcp://host:8786"``: an existing cluster (``dask scheduler`` / ``dask worker``, or
  dask-jobqueue); its workers decide their own threads, and each task's solver uses one thread.

An outcome is ``("ok", value)``, ``("error", exception)`` (the task raised it) or ``("lost",
message)`` (its worker died, e.g. killed or out of memory). Planners registered at run time reach
the workers through the task's context (see :class:`allocator.sweep.tasks.TaskContext`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from allocator.text import plural

__all__ = ["Progress", "local_workers", "run_tasks", "solver_threads"]


def local_workers(workers: int | None) -> int:
    """Workers of a local cluster: ``workers`` or the cores (at least 1).

    Examples
    --------
    >>> local_workers(3)
    3
    """
    return max(1, int(workers) if workers else os.cpu_count() or 1)


def solver_threads(workers: int, scheduler: str | None = None) -> int:
    """Solver threads per task so that tasks x threads <= cores (1 on an existing cluster).

    Examples
    --------
    >>> solver_threads(os.cpu_count() or 1)
    1
    """
    if scheduler:
        return 1
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class Progress:
    """Progress lines: a bar, tasks done / total and the time left (from the mean time per task so
    far), at most one line every ``every`` seconds and always the last."""

    def __init__(self, total: int, emit: Callable[[str], None], every: float = 2.0):
        self.total, self.emit, self.every = total, emit, every
        self.done = 0
        self.started = self.last = time.perf_counter()

    def step(self) -> None:
        """One more task finished."""
        self.done += 1
        now = time.perf_counter()
        if now - self.last < self.every and self.done < self.total:
            return
        self.last = now
        left = (now - self.started) / self.done * (self.total - self.done)
        self.emit(
            f"{_bar(self.done / self.total)} {self.done:,}/{self.total:,} tasks done, "
            f"{_duration(left)} left"
        )


def _bar(share: float, width: int = 20) -> str:
    """A text progress bar: ``[#####---------------]``.

    Examples
    --------
    >>> _bar(0.25, 8)
    '[##------]'
    """
    full = int(round(share * width))
    return "[" + "#" * full + "-" * (width - full) + "]"


def _duration(seconds: float) -> str:
    """``"1 h 05 min"``, ``"3 min 20 s"``, ``"12 s"``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


@contextlib.contextmanager
def _main_module_hidden(registered: Mapping):
    """Keep spawned workers from re-running the caller's script (``__main__``).

    A spawned process normally imports the parent's main module again: a script without an
    ``if __name__ == "__main__"`` guard would run again in every worker, and code typed at a
    prompt or piped in cannot be imported at all. The workers need only allocator and the
    planners' modules, so the main module is hidden while they start, unless a registered planner
    is defined in it.
    """
    main = sys.modules.get("__main__")
    needed = any(
        getattr(obj, "__module__", None) == "__main__"
        for pair in registered.values()
        for obj in pair
    )
    if main is None or needed:
        yield
        return
    saved = {a: main.__dict__[a] for a in ("__file__", "__spec__") if a in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None, registered: Mapping, retries: int | None):
    """``(client, has_dashboard)``: a client of an existing scheduler, or of a new ``LocalCluster``
    (closed after; its dashboard needs bokeh)."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client, "dashboard" in client.scheduler_info().get("services", {})
        return
    try:
        import bokeh  # noqa: F401  (the dashboard needs it)

        dashboard = ":0"
    except ImportError:
        dashboard = None
    config = {} if retries is None else {"distributed.scheduler.allowed-failures": int(retries)}
    with (
        dask.config.set(config),
        _main_module_hidden(registered),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=dashboard,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client, dashboard is not None


def run_tasks(
    function: Callable,
    context,
    tasks: Sequence[Mapping],
    regions: Mapping,
    region_of: Callable[[Mapping], object],
    on_done: Callable[[int, tuple], None],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    retries: int | None = None,
    emit: Callable[[str], None] = lambda _m: None,
) -> None:
    """Run ``function(context, regions[region_of(task)], task)`` for every task.

    Parameters
    ----------
    function, context
        The task function (importable, so workers can load it) and what every task shares.
    tasks : sequence of mappings
    regions : mapping key -> Region
        Each built once here; scattered once to the workers.
    region_of : callable
        The key of a task's region in ``regions``.
    on_done : callable
        ``on_done(index, outcome)`` in this process, as each task finishes (see the module).
    workers, scheduler
        Where to run (see the module docstring).
    retries : int, optional
        Times a task whose worker died is tried again elsewhere before it is ``lost`` (default:
        Dask's ``distributed.scheduler.allowed-failures``, 3). A task running or queued on a
        worker that dies counts such a failure too, even when another task killed the worker.
    emit : callable
        Receives progress lines.

    Examples
    --------
    >>> out = {}
    >>> run_tasks(lambda c, r, t: c + r + t["x"], 1, [{"x": 2}, {"x": 3}], {"r": 10},
    ...           lambda t: "r", lambda i, o: out.update({i: o}), workers=0)
    >>> out
    {0: ('ok', 13), 1: ('ok', 14)}
    """
    progress = Progress(len(tasks), emit)
    if not tasks:
        return
    if not scheduler and (workers is not None and workers <= 1):
        for i, task in enumerate(tasks):
            try:
                outcome = ("ok", function(context, regions[region_of(task)], task))
            except Exception as exc:
                outcome = ("error", exc)
            on_done(i, outcome)
            progress.step()
        return
    n = local_workers(workers)
    registered = getattr(context, "registered", {}) or {}
    with dask_client(n, scheduler, registered, retries) as (client, dashboard):
        if dashboard and getattr(client, "dashboard_link", None):
            emit(f"Dask dashboard: {client.dashboard_link}")
        _run_on(client, function, context, tasks, regions, region_of, on_done, progress, emit)


def _same(value):
    """The value itself: a task that holds a region (or the context) on the cluster."""
    return value


def _run_on(client, function, context, tasks, regions, region_of, on_done, progress, emit):
    """Submit every task to ``client`` and hand each outcome on as it finishes."""
    from concurrent.futures import CancelledError

    from dask.distributed import as_completed

    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - older layouts
        KilledWorker = ()  # noqa: N806
    info = client.scheduler_info()
    emit(f"{plural(len(tasks), 'task')} on {plural(len(info.get('workers', {})), 'worker')}")
    # Each region goes to the cluster once, as a task that returns it: workers fetch it from each
    # other, and if the worker holding it dies the scheduler makes it again from that task
    # (data sent with client.scatter would be lost with its worker, and every task with it).
    shipped = {k: client.submit(_same, r, pure=False) for k, r in regions.items()}
    shared = client.submit(_same, context, pure=False)
    futures = {}
    progress.started = (
        time.perf_counter()
    )  # the time left counts from here, not the cluster's start
    for i, task in enumerate(tasks):
        future = client.submit(
            function, shared, shipped[region_of(task)], dict(task), pure=False, retries=0
        )
        futures[future] = i
    try:
        for future in as_completed(futures):
            i = futures[future]
            try:
                outcome = ("ok", future.result())
            except (KilledWorker, CancelledError) as exc:
                outcome = ("lost", f"worker lost: {type(exc).__name__}: {exc}")
            except Exception as exc:
                outcome = ("error", exc)
            on_done(i, outcome)
            progress.step()
    finally:
        client.cancel(list(futures))
