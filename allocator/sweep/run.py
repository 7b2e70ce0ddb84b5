"""Running a sweep: the tasks on Dask, each finished row in the store, then the output folder.

:func:`run_sweep` checks the ``[sweep]`` table and the output folder before anything runs, builds
each distinct region once (here), runs the tasks (:mod:`allocator.sweep.engine`), records each
row in the task store as it finishes (:mod:`allocator.sweep.store`), then writes the folder
(results, robustness, report) aside and moves it into place whole (:mod:`allocator.outputs`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.i18n import LANGUAGES, check_language
from allocator.outputs import check_target, output_folder
from allocator.pipeline import Progress, progress_printer
from allocator.planners.registry import registered_planners
from allocator.results import json_safe
from allocator.scenario import parse_scenario
from allocator.sheets import inside, write_csv
from allocator.sweep.engine import local_workers, run_tasks, solver_threads
from allocator.sweep.robust import decision_shares, robust_plan
from allocator.sweep.spec import SweepSpec, load_sweep
from allocator.sweep.store import TaskStore, read_tasks, store_path
from allocator.sweep.tasks import COUNTY, DRAW, TaskContext, expand_tasks, run_task, task_key
from allocator.text import plural
from allocator.writers import protected_inputs

__all__ = ["SweepResult", "run_sweep", "write_sweep"]


@dataclass
class SweepResult:
    """A finished sweep.

    Attributes
    ----------
    spec : SweepSpec
    table : DataFrame
        One row per task (:func:`allocator.sweep.store.read_tasks`).
    shares : DataFrame
        Decision shares over the draws (empty without ``[sweep.forecast]``).
    plan : DataFrame
        The robust plan (decisions with ``share >= robust``; empty without ``robust``).
    seconds : float
    ran : int
        Tasks run now (the others were in the store already).
    store : pathlib.Path or None
    out : pathlib.Path or None
    """

    spec: SweepSpec
    table: pd.DataFrame
    shares: pd.DataFrame
    plan: pd.DataFrame
    seconds: float
    ran: int = 0
    store: Path | None = None
    out: Path | None = field(default=None)

    @property
    def axes(self) -> list[str]:
        """The task table's axis columns."""
        names = [a.key for a in self.spec.axes]
        names += [COUNTY] if self.spec.counties_each else []
        return names + ([DRAW] if self.spec.draws else [])

    def counts(self) -> dict[str, int]:
        """Tasks by status."""
        return {str(k): int(v) for k, v in self.table["status"].value_counts().items()}


def _region_key(task: dict) -> str:
    """The key of a task's region: its ``region.*`` values (one region per distinct set)."""
    return json.dumps(
        {k: v for k, v in sorted(task.items()) if k.startswith("region.")}, ensure_ascii=False
    )


def _regions(spec: SweepSpec, tasks: list[dict]) -> dict:
    """Each distinct region of the tasks, built once."""
    out = {}
    for task in tasks:
        key = _region_key(task)
        if key not in out:
            over: dict = {}
            for k, v in json.loads(key).items():
                over.setdefault("region", {})[k.split(".", 1)[1]] = v
            out[key] = parse_scenario(spec.text, spec.path, over or None).region.load()
    return out


def _all_tasks(spec: SweepSpec) -> tuple[list[dict], dict]:
    """Every task of the sweep, and the regions of the first axis values (for the counties)."""
    draws = spec.draws.draws if spec.draws else None
    tasks = expand_tasks(spec.axes, None, draws)
    regions = _regions(spec, tasks)
    if spec.counties_each:
        counties = list(dict.fromkeys(c for r in regions.values() for c in r.counties))
        tasks = expand_tasks(spec.axes, counties, draws)
    return tasks, regions


def run_sweep(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    progress: Progress = None,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    resume: bool = False,
    write: bool = True,
    force: bool = False,
    language: str | None = None,
) -> SweepResult:
    """Run the sweep of a scenario file's ``[sweep]`` table (see :mod:`allocator.sweep`).

    Parameters
    ----------
    path : str or path-like
        The scenario file with a ``[sweep]`` table.
    out : str or path-like, optional
        Output folder (default: the scenario's ``[output] folder`` + ``_sweep``); the task store
        is ``<out>.sqlite`` beside it (:func:`allocator.sweep.store.store_path`).
    progress : callable, bool or None
        As in :func:`allocator.pipeline.run_scenario`: tasks done / total and the time left.
    scheduler : str, optional
        A Dask scheduler address (default: ``[sweep] scheduler``, else a ``LocalCluster``).
    workers : int, optional
        Workers of the ``LocalCluster`` (default: ``[sweep] workers``, else the cores); 0 runs
        the tasks in this process.
    resume : bool
        Keep the tasks already in the store and run the others.
    write : bool
        ``False`` runs without the output folder (the store is still written).
    force : bool
        Replace an earlier store and folder of allocator (see :mod:`allocator.outputs`).
    language : {"zh", "en"}, optional
        The report's language (default: the scenario's ``[output] language``, else Chinese).

    Returns
    -------
    SweepResult
    """
    started = time.perf_counter()
    emit = progress_printer(progress)
    spec = load_sweep(path)
    folder = Path(out) if out is not None else Path(f"{spec.scenario.output.folder}_sweep")
    protect = protected_inputs(spec.scenario)
    if write:
        check_target(folder, "sweep", source=spec.path, force=force, protect=protect)
    tasks, regions = _all_tasks(spec)
    scheduler = scheduler or spec.scheduler
    workers = spec.workers if workers is None else workers
    n = 1 if workers == 0 else local_workers(workers)
    registered = {k: (p.plan, p.policy) for k, p in registered_planners().items()}
    context = TaskContext(
        spec.path,
        spec.text,
        spec.measures,
        draws=spec.draws,
        threads=solver_threads(n, scheduler),
        registered=registered,
    )
    fingerprint = _fingerprint(spec)
    with TaskStore.open(
        store_path(folder), scenario=spec.path, resume=resume, force=force, fingerprint=fingerprint
    ) as st:
        done = st.finished() if resume else set()
        todo = [(i, t) for i, t in enumerate(tasks) if task_key(t) not in done]
        emit(
            f"sweep of {spec.scenario.name}: {plural(len(tasks), 'task')}"
            + (f", {len(tasks) - len(todo):,} done before" if resume else "")
        )

        def record(j: int, outcome: tuple) -> None:
            i, task = todo[j]
            state, value = outcome
            if state == "ok":
                row = value
            else:
                row = {"status": "lost" if state == "lost" else "error", "error": str(value)}
                if state == "error":
                    row["error"] = f"{type(value).__name__}: {value}"
            st.record(task_key(task), i, task, row)

        run_tasks(
            run_task,
            context,
            [t for _, t in todo],
            regions,
            _region_key,
            record,
            workers=workers,
            scheduler=scheduler,
            emit=emit,
        )
    table = read_tasks(store_path(folder))
    table = table[table["key"].isin({task_key(t) for t in tasks})].reset_index(drop=True)
    _unknown_measures(spec, table, emit)
    result = _analyse(spec, table, time.perf_counter() - started, len(todo))
    result.store = store_path(folder)
    if write:
        write_sweep(result, folder, force=force, language=language)
        result.out = folder
        emit(f"wrote {folder}")
    return result


def _fingerprint(spec: SweepSpec) -> str:
    """What every task's result depends on besides its axis values (see ``TaskStore.open``)."""
    text = json.dumps([spec.text, list(spec.measures), repr(spec.draws)], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _unknown_measures(spec: SweepSpec, table: pd.DataFrame, emit) -> None:
    """Say which kept measures no finished plan has (a misspelt name, or a step's figure)."""
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return
    missing = [m for m in spec.measures if m not in ok or ok[m].isna().all()]
    if missing:
        emit(
            f"no plan has the measure(s) {', '.join(missing)}; expected names of the final "
            "measures (e.g. compliant_share), costs (cost_yuan) or <step>.<headline figure>"
        )


def _analyse(spec: SweepSpec, table: pd.DataFrame, seconds: float, ran: int) -> SweepResult:
    """Shares of each decision over the draws and the robust plan."""
    shares = pd.DataFrame()
    plan = pd.DataFrame()
    if spec.draws is not None:
        shares = decision_shares(table, spec.measures)
        if spec.robust is not None:
            plan = robust_plan(shares, spec.robust)
    return SweepResult(spec, table, shares, plan, seconds, ran)


def write_sweep(
    result: SweepResult,
    folder: str | os.PathLike,
    *,
    force: bool = False,
    language: str | None = None,
) -> Path:
    """Write ``results.csv``, ``decisions.csv``, ``robust_plan.csv``, ``report.html``,
    ``result.json`` and a copy of the task store (``tasks.sqlite``) into ``folder``, atomically.

    The report speaks ``language`` if given, else the scenario's ``[output] language``, else
    Chinese."""
    from allocator.report.sweep_page import render_sweep  # the report sits above the runs layer

    spec = result.spec
    folder = Path(folder)
    with output_folder(
        folder,
        "sweep",
        source=spec.path,
        force=force,
        protect=protected_inputs(spec.scenario),
        complete=not (result.table["status"] == "lost").any(),
        details={"scenario": spec.scenario.name},
    ) as tmp:
        table = result.table.drop(columns=["decisions"])
        write_csv(table, inside(tmp, "results.csv"), bom=True)
        if spec.draws is not None:
            write_csv(result.shares, inside(tmp, "decisions.csv"), bom=True)
        if spec.robust is not None:
            write_csv(result.plan, inside(tmp, "robust_plan.csv"), bom=True)
        if result.store is not None:
            with TaskStore.open(result.store, scenario=spec.path, resume=True) as st:
                st.copy_to(inside(tmp, "tasks.sqlite"))
        page = render_sweep(
            spec.scenario.name,
            result.table,
            result.axes,
            list(spec.measures),
            result.shares,
            result.plan,
            spec.robust,
            language=check_language(language, where="language")
            if language
            else spec.scenario.output.language or LANGUAGES[0],
            steps=[s.name for s in spec.scenario.steps],
        )
        inside(tmp, "report.html").write_text(page, encoding="utf-8")
        data = {
            "scenario": spec.scenario.name,
            "file": str(spec.path),
            "axes": {a.key: list(a.values) for a in spec.axes},
            "tasks": result.counts(),
            "seconds": round(result.seconds, 3),
        }
        inside(tmp, "result.json").write_text(
            json.dumps(json_safe(data), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return folder
