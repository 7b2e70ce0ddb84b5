"""Comparing variants: every ``[[variants]]`` block of a scenario run side by side.

:func:`compare_scenario` runs each variant as one task of the sweep engine
(:mod:`allocator.sweep.engine`: a Dask ``LocalCluster`` of ``workers`` processes, an existing
cluster by its scheduler address, or this process for ``workers=1``; each distinct region is built
once and sent to the workers once; planners added with
:func:`allocator.planners.registry.register_planner` are handed to the workers) and tabulates the
final measures, costs and plan headlines of each (:func:`comparison_table`);
:func:`differing_measures` picks the rows that differ most. A variant without a plan is reported,
not fatal, unless no variant has one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import Infeasible, InputError, SolverError
from allocator.outputs import check_target
from allocator.pipeline import TRAVEL_BANDS, Progress, progress_printer
from allocator.planners.registry import registered_planners
from allocator.results import Comparison, ScenarioResult
from allocator.scenario import load_scenario
from allocator.standards import INDICATORS
from allocator.sweep.engine import local_workers, run_tasks, solver_threads
from allocator.sweep.tasks import VARIANT, TaskContext, final_figures, run_result
from allocator.writers import protected_inputs, write_comparison
from allocator.years_run import year_figures, year_rows

__all__ = ["Comparison", "compare_scenario", "comparison_table", "differing_measures"]


def _comparison_rows(standard) -> list[tuple[str, str, str]]:
    """(measure key, label, better) rows of the comparison table; better: low, high, one."""
    rows = [
        ("cost_yuan", "cost (yuan): capital + one year of hiring and running-cost change", "low"),
        ("cost.capital_yuan", "capital spent (yuan)", "low"),
        ("cost.hiring_yuan_per_year", "hiring (yuan a year)", "low"),
        (
            "cost.running_change_yuan_per_year",
            "running-cost change after mergers (yuan a year)",
            "low",
        ),
        ("parts_compliant", "compliant school parts", "high"),
        ("compliant_share", "compliant share", "high"),
        ("compliant_share.rural", "compliant share, rural", "high"),
    ]
    for part in ("primary", "junior"):
        rows.append((f"counties_cv_ok.{part}", f"counties within all CV limits, {part}", "high"))
        for k in INDICATORS:
            rows.append((f"cv_worst.{part}.{k}", f"CV {k}, {part} (worst county)", "low"))
    for k in INDICATORS:
        rows.append((f"rural_urban.{k}", f"rural/urban {k}", "one"))
    for band in TRAVEL_BANDS:
        rows.append((f"travel.{band}.mean_minutes", f"travel {band}, mean (min)", "low"))
        rows.append((f"travel.{band}.max_minutes", f"travel {band}, max (min)", "low"))
        rows.append((f"travel.{band}.pupils_over_limit", f"{band} pupils beyond the limit", "low"))
    return rows


def comparison_table(results: Mapping[str, ScenarioResult]) -> pd.DataFrame:
    """The measure × variant table: a ``before`` column then the final measures of each variant.

    Rows: cost, compliance, each indicator's worst-county CV per part, rural/urban ratios, travel,
    then every plan headline figure (``<step>.<key>``). ``better`` says which way is better.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.pipeline import run_scenario
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> table = comparison_table({"as written": result})
    >>> list(table.columns)
    ['measure', 'label', 'better', 'before', 'as written']
    """
    first = next(iter(results.values()))
    rows = _comparison_rows(first.standard)
    data = {}
    before = dict(first.measures[0].figures)
    data["before"] = before
    for name, r in results.items():
        data[name] = final_figures(r)
    extra = list(
        dict.fromkeys(
            k
            for n, f in data.items()
            if n != "before"
            for k in f
            if "." in k and k.split(".")[0] in {s.name for r in results.values() for s in r.steps}
        )
    )
    over_years = year_figures(results)
    for name, figures in over_years.items():
        data[name].update(figures)
    all_rows = [r for r in rows if any(r[0] in f for f in data.values())]
    all_rows += [(k, k, "") for k in extra]
    all_rows += year_rows(over_years)
    table = pd.DataFrame(
        {
            "measure": [r[0] for r in all_rows],
            "label": [r[1] for r in all_rows],
            "better": [r[2] for r in all_rows],
            **{name: [f.get(r[0]) for r in all_rows] for name, f in data.items()},
        }
    )
    return table


def differing_measures(table: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` rows of a comparison table whose values differ most between the variants.

    A row's spread is ``(max - min) / max(|value|)`` over the variants' columns (not ``before``);
    rows where every variant has the same value (or no number) are left out, and so are run
    times (``*seconds``), so the result is empty when the variants agree on everything. Rows keep the table's columns and order of spread.

    Examples
    --------
    >>> t = pd.DataFrame({"measure": ["a", "b", "c"], "label": ["A", "B", "C"],
    ...                   "better": ["low"] * 3, "before": [1.0, 1.0, 1.0],
    ...                   "x": [1.0, 2.0, 5.0], "y": [1.0, 4.0, 6.0]})
    >>> differing_measures(t)["measure"].tolist()
    ['b', 'c']
    """
    table = table[~table["measure"].astype(str).str.endswith("seconds")]  # run times: not findings
    variants = [c for c in table.columns if c not in ("measure", "label", "better", "before")]
    values = table[variants].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.where(np.isfinite(values), values, np.nan)
        low = np.nanmin(np.where(np.isnan(finite), np.inf, finite), axis=1)
        high = np.nanmax(np.where(np.isnan(finite), -np.inf, finite), axis=1)
        scale = np.nanmax(np.where(np.isnan(finite), 0.0, np.abs(finite)), axis=1)
        spread = np.where(scale > 0, (high - low) / scale, 0.0)
    spread = np.where(np.isfinite(spread), spread, 0.0)
    order = [i for i in np.argsort(-spread, kind="stable") if spread[i] > 1e-12][:n]
    return table.iloc[order].reset_index(drop=True)


def _run_variants(scenario, names, overrides, workers, scheduler, emit):
    """Run the variants ``names`` on the sweep engine: (results, failures), in ``names``' order."""
    workers = (
        1 if scheduler is None and int(workers) <= 1 else min(local_workers(workers), len(names))
    )
    registered = {n: (p.plan, p.policy) for n, p in registered_planners().items()}
    context = TaskContext(
        scenario.path,
        scenario.text,
        overrides=dict(overrides or {}),
        threads=solver_threads(workers, scheduler) if workers > 1 or scheduler else None,
        registered=registered,
    )
    where = "an existing cluster" if scheduler else f"{workers} process(es)"
    emit(f"comparing {len(names)} variants of {scenario.name} with {where}")
    # each distinct region built once here, and sent to the workers once
    specs = {n: repr(scenario.variant(n).region) for n in names}
    regions = {}
    for n, key in specs.items():
        if key not in regions:
            regions[key] = scenario.variant(n).region.load()
    results: dict[str, ScenarioResult] = {}
    failures: dict[str, str] = {}

    def collect(i: int, outcome: tuple) -> None:
        name = names[i]
        state, value = outcome
        if state == "ok":
            results[name] = value
            emit(f"variant {name}: done")
        elif isinstance(value, Infeasible | SolverError):
            # A variant without a plan is a finding, not a reason to drop the others.
            failures[name] = f"{type(value).__name__}: {value.message}"
            emit(f"variant {name}: no plan ({failures[name]})")
        elif state == "lost":
            failures[name] = str(value)
            emit(f"variant {name}: {value}")
        else:
            raise value

    tasks = [{VARIANT: n} for n in names]
    run_tasks(
        run_result,
        context,
        tasks,
        regions,
        lambda task: specs[task[VARIANT]],
        collect,
        workers=workers,
        scheduler=scheduler,
    )
    results = {n: results[n] for n in names if n in results}
    failures = {n: failures[n] for n in names if n in failures}
    return results, failures


def compare_scenario(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    progress: Progress = None,
    *,
    variants: list[str] | None = None,
    overrides: Mapping | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    write: bool = True,
    force: bool = False,
) -> Comparison:
    """Run every ``[[variants]]`` block of a scenario (in parallel processes) and compare them.

    Parameters
    ----------
    path : str or path-like
        The scenario file; it must define at least one variant.
    out : str or path-like, optional
        Output folder; default: the scenario's ``[output] folder`` with ``_compare`` appended.
    progress : callable, bool or None
        As in :func:`allocator.pipeline.run_scenario`: a line as each variant finishes.
    variants : list of str, optional
        Only these variants (default: all, in file order).
    overrides : mapping, optional
        Applied to every variant (e.g. a smaller region).
    workers : int
        Worker processes of a Dask ``LocalCluster`` (at most one per variant); 1 runs in this
        process. Without a ``threads`` setting each variant's solver gets ``cores // workers``
        threads (:func:`allocator.sweep.engine.solver_threads`).
    scheduler : str, optional
        The address of an existing Dask scheduler (``tcp://host:8786``) to run on instead.
    write : bool
        ``False`` computes without writing.
    force : bool
        As in :func:`allocator.pipeline.run_scenario`: the output folder is checked before anything runs.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> c = compare_scenario(f, write=False, workers=1, overrides={"region": {"schools": 40}})
    >>> len(c.variants) >= 4
    True
    """
    started = time.perf_counter()
    emit = progress_printer(progress)
    scenario = load_scenario(path, overrides)
    names = [v.name for v in scenario.variants]
    if not names:
        raise InputError(
            "no [[variants]] to compare; expected at least one [[variants]] block",
            file=str(scenario.path),
        )
    if variants:
        for v in variants:
            scenario.variant(v)  # raises for an unknown name
        names = [n for n in names if n in variants]
    folder = None
    if write:
        folder = Path(out) if out is not None else Path(f"{scenario.output.folder}_compare")
        check_target(
            folder,
            "compare",
            source=scenario.path,
            force=force,
            protect=protected_inputs(scenario),
        )
    results, failures = _run_variants(scenario, names, overrides, workers, scheduler, emit)
    if not results:
        name, message = next(iter(failures.items()))
        raise Infeasible(f"no variant has a plan; variant {name!r}: {message}")
    table = comparison_table(results)
    comparison = Comparison(
        scenario, results, table, time.perf_counter() - started, failures=failures
    )
    if folder is not None:
        write_comparison(comparison, folder, force=force)
        comparison.out = folder
        emit(f"wrote {folder}")
    return comparison
