"""Comparing variants: every ``[[variants]]`` block of a scenario run side by side.

:func:`compare_scenario` runs each variant in its own process (at most two, spawned; planners
added with :func:`allocator.planners.registry.register_planner` are handed to the workers) and
tabulates the final measures, costs and plan headlines of each (:func:`comparison_table`). A variant
without a plan is reported, not fatal, unless no variant has one.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from allocator.errors import Infeasible, InputError, SolverError
from allocator.outputs import check_target
from allocator.pipeline import TRAVEL_BANDS, Progress, progress_printer, run_scenario
from allocator.planners.registry import register_planner, registered_planners
from allocator.results import Comparison, ScenarioResult, costs
from allocator.scenario import load_scenario, merge_overrides
from allocator.standards import INDICATORS
from allocator.writers import protected_inputs, write_comparison

__all__ = ["Comparison", "compare_scenario", "comparison_table"]


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
        figures = dict(r.measures[-1].figures)
        figures.update({f"cost.{k}" if k != "cost_yuan" else k: v for k, v in costs(r).items()})
        for s in r.steps:
            for key, value in s.headline.items():
                figures[f"{s.name}.{key}"] = value
        data[name] = figures
    extra = list(
        dict.fromkeys(
            k
            for n, f in data.items()
            if n != "before"
            for k in f
            if "." in k and k.split(".")[0] in {s.name for r in results.values() for s in r.steps}
        )
    )
    all_rows = [r for r in rows if any(r[0] in f for f in data.values())]
    all_rows += [(k, k, "") for k in extra]
    table = pd.DataFrame(
        {
            "measure": [r[0] for r in all_rows],
            "label": [r[1] for r in all_rows],
            "better": [r[2] for r in all_rows],
            **{name: [f.get(r[0]) for r in all_rows] for name, f in data.items()},
        }
    )
    return table


def _variant_worker(path, variant, overrides, registered, progress):
    for name, (plan, policy) in registered.items():
        register_planner(name, plan, policy)
    emit = progress_printer(progress)
    try:
        result = run_scenario(
            path,
            progress=(lambda m: emit(f"[{variant}] {m}")) if progress else None,
            variant=variant,
            overrides=overrides,
            write=False,
        )
    except (Infeasible, SolverError) as exc:
        exc.__dict__.pop("partial", None)  # regions and plans: too heavy to send back
        raise

    return result  # regions pickle without their travel caches


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


def compare_scenario(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    progress: Progress = None,
    *,
    variants: list[str] | None = None,
    overrides: Mapping | None = None,
    workers: int = 2,
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
        As in :func:`allocator.pipeline.run_scenario`; lines are prefixed with the variant name.
    variants : list of str, optional
        Only these variants (default: all, in file order).
    overrides : mapping, optional
        Applied to every variant (e.g. a smaller region).
    workers : int
        Processes (at most 2; 1 runs in this process). Without a ``threads`` setting each
        worker's solver uses one thread, so two workers share two cores.
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
    workers = max(1, min(int(workers), 2, len(names)))
    over = dict(overrides or {})
    if workers > 1 and "threads" not in scenario.solver:
        over = merge_overrides(over, {"solver": {"threads": 1}})
    registered = {n: (p.plan, p.policy) for n, p in registered_planners().items()}
    emit(f"comparing {len(names)} variants of {scenario.name} with {workers} process(es)")
    results: dict[str, ScenarioResult] = {}
    failures: dict[str, str] = {}

    def collect(name, get):
        try:
            results[name] = get()
            emit(f"variant {name}: done")
        except (Infeasible, SolverError) as exc:
            # A variant without a plan is a finding, not a reason to drop the others.
            failures[name] = f"{type(exc).__name__}: {exc.message}"
            emit(f"variant {name}: no plan ({failures[name]})")

    args = (scenario.path, over, registered, progress is not None)
    if workers == 1:
        for name in names:
            collect(name, lambda name=name: _variant_worker(args[0], name, *args[1:]))
    else:
        context = multiprocessing.get_context("spawn")
        with (
            _main_module_hidden(registered),
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
        ):
            futures = {
                name: pool.submit(_variant_worker, args[0], name, *args[1:]) for name in names
            }
            for name, future in futures.items():
                collect(name, future.result)
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
