"""The tasks of a sweep and what one task does on a worker.

A task is a mapping of axis key -> value (``{"steps.budget.budget": 5e7, "county": "江县",
"draw": 3}``); its key (:func:`task_key`) is the mapping as sorted JSON, so the same task has the
same key in every run and ``--resume`` can find it. :func:`run_task` runs one task on the region
it is handed (built once by the client and scattered to the workers):
the county's sub-region, then the draw's forecast region, then the scenario's steps with the
task's overrides (:func:`allocator.pipeline.run_scenario`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.errors import Infeasible, SolverError
from allocator.pipeline import run_scenario
from allocator.planners.registry import register_planner
from allocator.results import ScenarioResult, costs
from allocator.scenario import RegionSpec, merge_overrides, parse_scenario
from allocator.sweep.draws import draw_region

__all__ = [
    "LoadedRegion",
    "TaskContext",
    "expand_tasks",
    "final_figures",
    "plan_decisions",
    "run_result",
    "run_task",
    "task_key",
    "task_overrides",
]

#: Task keys that are not scenario keys: the county of ``region.counties = "each"``, the draw.
COUNTY, DRAW, VARIANT = "county", "draw", "variant"


@dataclass(frozen=True)
class LoadedRegion(RegionSpec):
    """A region spec whose region is already built (handed to a worker once, not rebuilt)."""

    loaded: Any = field(default=None, repr=False, compare=False)

    def load(self):
        """The region handed in."""
        return self.loaded


@dataclass(frozen=True)
class TaskContext:
    """What every task of a sweep shares: the scenario text, settings and registered planners."""

    path: Path
    text: str
    measures: tuple[str, ...] = ()
    overrides: Mapping = field(default_factory=dict)
    draws: Any = None
    threads: int | None = None
    registered: Mapping = field(default_factory=dict)


def task_key(task: Mapping) -> str:
    """The task's key: its axis values as sorted JSON.

    Examples
    --------
    >>> task_key({"draw": 2, "steps.budget.budget": 5e7})
    '{"draw": 2, "steps.budget.budget": 50000000.0}'
    """
    return json.dumps(dict(task), sort_keys=True, ensure_ascii=False)


def expand_tasks(axes, counties: list | None = None, draws: int | None = None) -> list[dict]:
    """Every task: the product of the axes, then the counties, then the draws (in that order).

    Examples
    --------
    >>> from allocator.sweep.spec import Axis
    >>> expand_tasks([Axis("steps.budget.budget", (1, 2))], draws=2)
    [{'steps.budget.budget': 1, 'draw': 0}, {'steps.budget.budget': 1, 'draw': 1}, {'steps.budget.budget': 2, 'draw': 0}, {'steps.budget.budget': 2, 'draw': 1}]
    """
    names = [a.key for a in axes]
    lists = [list(a.values) for a in axes]
    if counties is not None:
        names.append(COUNTY)
        lists.append(list(counties))
    if draws:
        names.append(DRAW)
        lists.append(list(range(draws)))
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]


def task_overrides(task: Mapping, threads: int | None = None) -> dict:
    """The scenario overrides of a task (its scenario keys; ``solver.threads`` if given).

    Examples
    --------
    >>> task_overrides({"steps.budget.budget": 5e7, "draw": 1}, threads=1)
    {'steps': {'budget': {'budget': 50000000.0}}, 'solver': {'threads': 1}}
    """
    parts = []
    for key, value in task.items():
        if key in (COUNTY, DRAW, VARIANT):
            continue
        node: dict = {}
        top = node
        names = key.split(".")
        for k in names[:-1]:
            node = node.setdefault(k, {})
        node[names[-1]] = value
        parts.append(top)
    if threads is not None:
        parts.append({"solver": {"threads": int(threads)}})
    return merge_overrides(*parts) if parts else {}


def task_scenario(context: TaskContext, task: Mapping):
    """The scenario of a task: the text with the task's overrides (and its variant) applied."""
    over = merge_overrides(context.overrides, task_overrides(task))
    scenario = parse_scenario(context.text, context.path, over or None)
    if context.threads is not None and "threads" not in scenario.solver:
        over = merge_overrides(over, {"solver": {"threads": int(context.threads)}})
        scenario = parse_scenario(context.text, context.path, over)
    if VARIANT in task:
        scenario = scenario.variant(task[VARIANT])
    return scenario


def run_result(context: TaskContext, region, task: Mapping) -> ScenarioResult:
    """Run one task on ``region`` (the scenario's whole region) and return its result.

    Raises what :func:`allocator.pipeline.run_scenario` raises; a failed step's ``partial``
    result is dropped (too heavy to send back).
    """
    for name, (plan, policy) in context.registered.items():
        register_planner(name, plan, policy)
    scenario = task_scenario(context, task)
    if COUNTY in task:
        region = region.county(task[COUNTY])
    if DRAW in task:
        region = draw_region(region, context.draws, int(task[DRAW]))
    spec = {f.name: getattr(scenario.region, f.name) for f in dataclasses.fields(RegionSpec)}
    scenario = dataclasses.replace(scenario, region=LoadedRegion(**spec, loaded=region))
    try:
        return run_scenario(scenario, write=False)
    except (Infeasible, SolverError) as exc:
        exc.__dict__.pop("partial", None)
        raise


def final_figures(result: ScenarioResult) -> dict:
    """The final measures, the costs (``cost.<key>``, ``cost_yuan``) and each step's headline
    figures (``<step>.<key>``) of a result, as one flat mapping."""
    figures = dict(result.measures[-1].figures)
    figures.update({f"cost.{k}" if k != "cost_yuan" else k: v for k, v in costs(result).items()})
    for s in result.steps:
        for key, value in s.headline.items():
            figures[f"{s.name}.{key}"] = value
    return figures


def plan_decisions(result: ScenarioResult) -> list[str]:
    """The decisions of a result's plans, one text each: a school closed
    (``close <step> <school>``), a budget line bought (``buy <step> <school> <intervention>``), a
    district formed (``district <step> <school>+<school>...``, its schools sorted)."""
    out = []
    for name, table in result.tables.items():
        step, _, kind = name.rpartition(".")
        if kind == "closures" and "school_id" in table:
            out += [f"close {step} {s}" for s in table["school_id"].astype(str)]
        elif kind == "allocations" and {"school_id", "intervention"} <= set(table):
            rows = table[table["units"] > 0] if "units" in table else table
            out += [
                f"buy {step} {s} {i}"
                for s, i in zip(rows["school_id"].astype(str), rows["intervention"], strict=True)
            ]
        elif kind == "districts" and {"school_id", "district"} <= set(table):
            for _, group in table.groupby("district", sort=True):
                out.append(f"district {step} " + "+".join(sorted(group["school_id"].astype(str))))
    return sorted(set(out))


def _plain(value):
    try:
        return value.item()  # numpy scalars
    except AttributeError:
        return value


def run_task(context: TaskContext, region, task: Mapping) -> dict:
    """Run one task and return its row: ``status`` (``ok``, ``no plan`` or ``error``), ``error``
    (the message), ``seconds``, ``measures`` (the kept ones) and ``decisions``. Never raises for
    a failure of the task's own plan or input: that is recorded and the sweep goes on."""
    started = time.perf_counter()
    row: dict = {"status": "ok", "error": None, "measures": {}, "decisions": []}
    try:
        result = run_result(context, region, task)
    except (Infeasible, SolverError) as exc:
        row.update(status="no plan", error=f"{type(exc).__name__}: {exc.message}")
    except Exception as exc:  # a bad value or a bug: recorded with its place, the rest go on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        row.update(
            status="error",
            error=f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})",
        )
    else:
        figures = final_figures(result)
        row["measures"] = {m: _plain(figures.get(m)) for m in context.measures}
        row["decisions"] = plan_decisions(result)
    row["seconds"] = time.perf_counter() - started
    return row
