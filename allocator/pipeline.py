"""The pipeline: scenario file -> plans, one step after another, each region measured alike.

:func:`run_scenario` loads the region, then runs each ``[[steps]]`` planner on the region the step
before produced (``plan = planner(region, policy, options, progress)``, ``region = plan.apply(region)``)
and measures every region on the same yardstick (:func:`measure`): compliance with the standard,
each indicator's pupil-weighted CV per county against its limit, urban / town / rural means and the
rural/urban ratio, and travel to the nearest school. The results go to :mod:`allocator.writers`;
when a step fails, the steps finished before it are written, marked incomplete, with the failing
step's diagnosis on the report page. A scenario with ``years = [first, last]`` runs its steps over
those years (:mod:`allocator.years_run`: one forecast, each step over years on the first year's
region as the steps before it left it; ``result.years`` holds the timeline and the measures by year).

Measures (for a region and a standard)
---------------------------------------
* Parts: :func:`allocator.standards.assessment_parts`, in-scope parts only. A part *complies* when
  it passes by :func:`allocator.compliance.part_verdicts`, the definition :func:`allocator.check`
  uses: at least ``min_indicators_met`` of its assessed indicators met (within
  ``allocator.compliance.MET_RTOL``) and, if ``floor_share`` is set, each reaching ``floor_share``
  x its threshold.
* CV: ``allocator.metrics.cv`` of each indicator over the in-scope parts of one county and part type,
  weighted by pupils; "worst county" is the largest over counties. County verdicts (CV rule, every
  part passing) are :func:`allocator.compliance.county_verdicts`.
* Area types: pupil-weighted mean of each indicator divided by its threshold (so primary and junior
  parts pool), per urban / town / rural; rural/urban ratio = rural mean / urban mean (1 = no gap).
* Open indicators (digital campus, safety, training), when the schools table has their columns:
  the tables of :func:`allocator.check.open_report.open_tables` (per school, per county with
  pupil-weighted CVs, rural/urban ratios; each row says whether the standard assesses it, which
  the 2017 standard does not) and ``open.<indicator>.rural_urban``, ``.cv``, ``.share_meeting``.
* Travel: for each settlement and band (grades 1-3, 4-6, 7-9), road minutes to the nearest school
  of its county that teaches the band (its level's bands, or any band it enrols;
  :func:`allocator.forecast.nearest_schools`, which the enrolment forecast's catchments share); pupil-weighted mean, maximum and pupils beyond the band's day-travel limit
  (``standard.travel.lower_primary_minutes``, ``upper_primary_minutes``, ``junior_minutes``).
  This is the best a pupil can reach; a merger plan's own assignment table says where pupils go.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import allocator.compliance as compliance
from allocator.check.open_report import open_tables
from allocator.errors import Infeasible, InputError, SolverError
from allocator.forecast.catchment import TRAVEL_BANDS, nearest_schools
from allocator.metrics import percentile_raw  # values may be inf (unreachable settlements)
from allocator.outputs import check_target
from allocator.planners.registry import get_planner
from allocator.results import (
    Measures,
    ScenarioResult,
    StepResult,
    plan_status,
    preschool_figures,
    result_record,
    result_tables,
)
from allocator.scenario import Scenario, load_scenario
from allocator.scenario.sections import frontier_function, frontier_points
from allocator.standards import PARTS, assessment_parts
from allocator.text import plural
from allocator.writers import protected_inputs, write_run
from allocator.years_run import YearsRun

__all__ = ["TRAVEL_BANDS", "Progress", "measure", "progress_printer", "run_scenario"]

#: What ``progress`` may be: True (print to stderr), a callable taking each line, or None / False.
Progress = Callable[[str], None] | bool | None


def _travel(region, standard) -> pd.DataFrame:
    """Per band: pupils, mean / p95 / max road minutes to the nearest school of the county that
    teaches the band, the band's limit from ``standard.travel`` and the pupils beyond it."""
    settlements = region.settlements
    rows = []
    for band in TRAVEL_BANDS:
        pupils = settlements[f"pupils_{band}"].to_numpy(float)
        limit = standard.travel.day_minutes(band)
        if pupils.sum() <= 0:
            rows.append((band, 0, np.nan, np.nan, np.nan, limit, 0))
            continue
        _, minutes = nearest_schools(region, band)
        has = pupils > 0
        m, p = minutes[has], pupils[has]
        finite = np.isfinite(m)
        mean = float(np.dot(m[finite], p[finite]) / p[finite].sum()) if finite.any() else np.nan
        rows.append(
            (
                band,
                int(p.sum()),
                mean,
                percentile_raw(m, p, 95) if p.size else np.nan,
                float(m.max()),
                limit,
                int(p[~(m <= limit + 1e-9)].sum()),
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "band",
            "pupils",
            "mean_minutes",
            "p95_minutes",
            "max_minutes",
            "limit_minutes",
            "pupils_over_limit",
        ],
    )


def _compliance(parts: pd.DataFrame, standard) -> pd.DataFrame:
    """Parts with the verdicts of :func:`allocator.compliance.part_verdicts` (``<k>_met``,
    ``passes``), ``met`` (indicators met), ``complies`` (``passes``; NaN when no part type is
    judged) and each thresholded indicator as a share of its threshold (``<k>_share``)."""
    parts = parts.join(compliance.part_verdicts(parts, standard))
    kinds = parts["part"].to_numpy()
    shown = [k for k in standard.indicators if k in parts.columns]
    shown += [k for p in PARTS for k in standard.thresholds.get(p, {}) if k not in shown]
    for k in shown:
        if k not in parts.columns:
            continue
        t = np.array([standard.thresholds.get(p, {}).get(k, np.nan) for p in kinds], dtype=float)
        if not np.isnan(t).all():
            parts[f"{k}_share"] = parts[k].to_numpy(float) / t
    parts["met"] = parts["indicators_met"].astype(int)
    if any(standard.assessed_indicators(p) for p in PARTS):
        parts["complies"] = parts["passes"].fillna(False).astype(bool)
    else:
        parts["complies"] = np.nan
    return parts


def measure(region, standard) -> Measures:
    """Measure a region against a standard (see the module docstring for the definitions).

    Parameters
    ----------
    region : allocator.region.Region
    standard : allocator.standards.Standard

    Returns
    -------
    Measures

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.standards import load_standard
    >>> m = measure(make_region(schools=60, seed=1), load_standard())
    >>> 0 <= m.figures["parts_compliant"] <= m.figures["parts_assessed"]
    True
    """
    parts = assessment_parts(region.schools, standard)
    open_ = open_tables(region.schools, parts, standard)  # {} without open-indicator columns
    parts = _compliance(parts[parts["in_scope"]].reset_index(drop=True), standard)
    indicators = [k for k in standard.indicators if k in parts.columns]
    figures: dict[str, Any] = {
        "schools": int(len(region.schools)),
        "pupils": int(
            region.schools[[c for c in region.schools if c.startswith("pupils_")]].sum().sum()
        ),
        "parts_assessed": int(len(parts)),
    }
    if parts["complies"].notna().all() and len(parts):
        figures["parts_compliant"] = int(parts["complies"].sum())
        figures["compliant_share"] = float(parts["complies"].mean())
        for area in ("urban", "town", "rural"):
            sub = parts[parts["area_type"] == area]
            figures[f"compliant_share.{area}"] = float(sub["complies"].mean()) if len(sub) else None
    counties, cv_table = _cv_measures(parts, standard, indicators, figures)
    area_table = _area_measures(parts, indicators, figures)
    travel = _travel(region, standard)
    for row in travel.itertuples(index=False):
        figures[f"travel.{row.band}.mean_minutes"] = _num(row.mean_minutes)
        figures[f"travel.{row.band}.max_minutes"] = _num(row.max_minutes)
        figures[f"travel.{row.band}.pupils_over_limit"] = int(row.pupils_over_limit)
    figures.update(_open_figures(open_))
    figures.update(preschool_figures(region))  # {} without kindergartens
    return Measures(figures, parts, cv_table, area_table, travel, counties, open_)


def _open_figures(open_: dict) -> dict:
    """Per open indicator (digital campus, safety, training; :mod:`allocator.check.open_report`):
    the rural/urban ratio of pupil-weighted means, the region-wide pupil-weighted CV and, with a
    target, the share of in-scope schools meeting it (``open.<indicator>.<figure>``)."""
    out: dict[str, Any] = {}
    if not open_:
        return out
    schools = open_["open_schools"]
    schools = schools[schools["in_scope"]]
    for row in open_["open_gaps"].itertuples(index=False):
        out[f"open.{row.indicator}.rural_urban"] = _num(row.rural_urban_ratio)
        out[f"open.{row.indicator}.cv"] = _num(row.cv)
        if f"{row.indicator}_met" in schools.columns:
            met = schools[f"{row.indicator}_met"].dropna()
            out[f"open.{row.indicator}.share_meeting"] = _num(met.mean()) if len(met) else None
    return out


def _cv_measures(parts: pd.DataFrame, standard, indicators: list, figures: dict):
    """County verdicts (:func:`allocator.compliance.county_verdicts`) and the CV table (county,
    part, indicator); adds the worst CVs and the counties within the limits to ``figures``."""
    counties, long = compliance.county_verdicts(parts, standard)
    cv_rows = [
        (r.county, r.part, r.indicator, r.cv, r.cv_limit, bool(r.cv_ok))
        for r in long.itertuples(index=False)
        if r.indicator in indicators
    ]
    cv_table = pd.DataFrame(
        cv_rows, columns=["county", "part", "indicator", "cv", "limit", "within_limit"]
    )
    sizes = counties[["county", "part", "schools"]].rename(columns={"schools": "parts"})
    cv_table = cv_table.merge(sizes, on=["county", "part"], how="left")
    for part in PARTS:
        sub = cv_table[cv_table["part"] == part]
        if sub.empty:
            continue
        for k in indicators:
            values = sub.loc[sub["indicator"] == k, "cv"]
            figures[f"cv_worst.{part}.{k}"] = _num(values.max())
        here = counties[counties["part"] == part]
        figures[f"counties_cv_ok.{part}"] = int(here["cv_ok"].sum())
        figures[f"counties.{part}"] = int(len(here))
        figures[f"counties_passing.{part}"] = int(here["passes"].sum())
    return counties, cv_table


def _area_measures(parts: pd.DataFrame, indicators: list, figures: dict) -> pd.DataFrame:
    """Pupil-weighted means (as shares of the threshold) per area type and the rural/urban ratio
    of each indicator; adds the ratios to ``figures``."""
    area_rows = []
    for k in indicators:
        col = f"{k}_share" if f"{k}_share" in parts.columns else k
        row = {"indicator": k}
        for area in ("urban", "town", "rural"):
            sub = parts[(parts["area_type"] == area) & parts[col].notna()]
            w = sub["pupils"].to_numpy(float)
            row[area] = float(np.dot(sub[col].to_numpy(float), w) / w.sum()) if w.sum() else np.nan
        row["rural_urban"] = row["rural"] / row["urban"] if row["urban"] else np.nan
        area_rows.append(row)
        figures[f"rural_urban.{k}"] = _num(row["rural_urban"])
    return pd.DataFrame(area_rows, columns=["indicator", "urban", "town", "rural", "rural_urban"])


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- progress
def progress_printer(progress: Progress) -> Callable[[str], None]:
    """A function that reports one progress line: printed to stderr with the elapsed seconds
    (``True``), handed to ``progress`` (a callable) or dropped (None, False).

    Examples
    --------
    >>> emit = progress_printer(None)
    >>> emit("nothing is printed")
    """
    if progress is None or progress is False:
        return lambda _message: None
    if progress is True:
        start = time.perf_counter()

        def emit(message: str) -> None:
            print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

        return emit
    return progress


# --------------------------------------------------------------------------- run
def run_scenario(
    path: str | os.PathLike | Scenario,
    out: str | os.PathLike | None = None,
    progress: Progress = None,
    *,
    variant: str | None = None,
    overrides: Mapping | None = None,
    write: bool = True,
    force: bool = False,
) -> ScenarioResult:
    """Run a scenario's pipeline and write its report, tables and result.json.

    Parameters
    ----------
    path : str, path-like or Scenario
        The scenario file (or an already loaded scenario).
    out : str or path-like, optional
        Output folder, written beside and moved into place whole. Default: the scenario's
        ``[output] folder``. It is checked before anything runs: an existing folder is replaced
        only if it is this scenario's earlier output that nobody changed since (or, with
        ``force``, any folder allocator wrote); never a folder allocator did not write, the
        current folder, the region data, the scenario's folder or a folder containing them
        (:func:`allocator.outputs.check_target`).
    progress : callable, bool or None
        ``True`` prints one line per stage (step, county) to stderr; a callable receives each line;
        ``None`` is silent.
    variant : str, optional
        Apply the ``[[variants]]`` block of this name first.
    overrides : mapping, optional
        Further overrides in the layout of a variant block, e.g. ``{"region": {"schools": 60}}``.
    write : bool
        ``False`` computes without writing anything.
    force : bool
        Replace an output folder allocator wrote even if it was changed since or made by another
        command or scenario.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    InputError
        Bad scenario, or an output folder that may not be replaced (nothing is written).
    Infeasible, SolverError
        From a planner, prefixed with the step that failed. The steps finished before it are
        written (report, tables, result.json, marked incomplete, with the diagnosis on the
        report page); the message says where, and the exception's ``partial`` attribute holds
        that :class:`ScenarioResult` (``failure`` says what failed).

    Examples
    --------
    >>> import pathlib
    >>> demo = pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml"
    >>> result = run_scenario(demo, write=False, overrides={"region": {"schools": 40}})
    >>> list(result.plans)
    ['mergers', 'districts', 'budget', 'teachers', 'training']
    """
    started = time.perf_counter()
    emit = progress_printer(progress)
    scenario = _scenario_to_run(path, overrides, variant)
    folder = _checked_folder(scenario, out, force) if write else None
    emit(f"scenario {scenario.name}" + (f" / variant {variant}" if variant else ""))
    standard = scenario.standard.load()
    region = _load_region(scenario, emit)
    regions = [region]
    measures = [measure(region, standard)]
    steps: list[StepResult] = []
    frontiers: dict[str, pd.DataFrame] = {}
    active = [s for s in scenario.steps if s.enabled]
    over = YearsRun(region, scenario.years, scenario.forecast) if scenario.years else None
    for k, step in enumerate(active, start=1):
        label = f"step {k}/{len(active)} {step.name}"
        try:
            policy, plan, seconds = _plan_step(scenario, step, label, regions[-1], emit, over)
        except (Infeasible, SolverError) as exc:
            partial = ScenarioResult(
                scenario, standard, steps, regions, measures, time.perf_counter() - started
            )
            raise _step_failure(partial, exc, step, k, label, folder, force, emit) from None
        if step.frontier:
            frontiers[f"{step.name}.frontier"] = _frontier(scenario, step, label, regions[-1], emit)
        emit(f"{label}: {plan_status(plan)[0]} in {seconds:.1f} s; applying")
        after = over.region_after(step.name, plan, regions[-1]) if over else None
        regions.append(plan.apply(regions[-1]) if over is None else after)
        measures.append(measure(regions[-1], standard))
        steps.append(
            StepResult(step.name, step.planner, policy, plan, seconds, measures[-2], measures[-1])
        )
    result = ScenarioResult(
        scenario, standard, steps, regions, measures, time.perf_counter() - started
    )
    if over is not None:
        emit(f"measuring {scenario.years[0]}-{scenario.years[1]} year by year")
        result.years = over.outcome(standard)
    _complete(result, folder, force, frontiers)
    if folder is not None:
        emit(f"wrote {folder}")
    return result


def _frontier(scenario: Scenario, step, label: str, region, emit) -> pd.DataFrame:
    """What each budget of the step's ``frontier`` and its own budget buy on the region the step
    planned: the planner's frontier table (one plan per budget, solved as the step's plan is),
    with ``step_budget`` true on the row of the step's own budget."""
    policy = step.policy()
    budgets, own = frontier_points(step, policy)
    emit(f"{label}: frontier of {len(budgets)} budgets")
    try:
        table = frontier_function(get_planner(step.planner))(
            region,
            budgets,
            policy,
            scenario.solver_options(step),
            progress=lambda message: emit(f"{label}: frontier {message}"),
        )
    except InputError as exc:
        raise scenario.step_error(step, exc) from None
    return table.assign(step_budget=np.isclose(budgets, own))  # one row per budget, in order


def _scenario_to_run(path, overrides: Mapping | None, variant: str | None) -> Scenario:
    """The scenario to run: loaded (or reloaded with ``overrides``), then the variant applied."""
    scenario = path if isinstance(path, Scenario) else load_scenario(path, overrides)
    if isinstance(path, Scenario) and overrides:
        scenario = load_scenario(path.path, overrides)
    if variant is not None:
        scenario = scenario.variant(variant)
    return scenario


def _checked_folder(scenario: Scenario, out, force: bool) -> Path:
    """The output folder (``out`` or ``[output] folder``), refused now if it may not be replaced."""
    folder = Path(out) if out is not None else scenario.output.folder
    check_target(
        folder, "run", source=scenario.path, force=force, protect=protected_inputs(scenario)
    )
    return folder


def _load_region(scenario: Scenario, emit: Callable[[str], None]):
    """The scenario's region; a region the loader refutes is an InputError naming the file."""
    try:
        region = scenario.region.load()
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"[region]: {exc}", file=str(scenario.path)) from None
    emit(
        f"region {region.name}: {plural(len(region.schools), 'school')}, "
        f"{plural(len(region.counties), 'county')}"
    )
    return region


def _plan_step(scenario: Scenario, step, label: str, region, emit: Callable[[str], None], over):
    """Run one step's planner on ``region``: ``(policy, plan, seconds)``; over the scenario's
    years when ``over`` (a :class:`~allocator.years_run.YearsRun`) is given.

    An InputError from the planner (a policy setting the region refutes) names the step's line
    and key in the scenario file; Infeasible and SolverError pass through.
    """
    planner = get_planner(step.planner)
    policy = step.policy()
    emit(f"{label}: planning")
    t0 = time.perf_counter()
    options = scenario.solver_options(step)
    try:
        if over is not None:
            say = lambda message: emit(f"{label}: {message}")  # noqa: E731
            plan, seconds = over.plan_step(planner, step, region, policy, options, say)
            return policy, plan, seconds
        plan = planner.plan(
            region,
            policy,
            options=options,
            progress=lambda message: emit(f"{label}: {message}"),
        )
    except InputError as exc:
        raise scenario.step_error(step, exc) from None
    return policy, plan, time.perf_counter() - t0


def _step_failure(
    partial: ScenarioResult,
    exc: Infeasible | SolverError,
    step,
    index: int,
    label: str,
    folder: Path | None,
    force: bool,
    emit: Callable[[str], None],
) -> Infeasible | SolverError:
    """The error to raise for a failed step, prefixed with the step; the finished steps (``partial``)
    are written marked incomplete, and the error's ``partial`` attribute holds them."""
    partial.failure = {
        "step": step.name,
        "index": index,
        "planner": step.planner,
        "error": type(exc).__name__,
        "message": exc.message,
    }
    if isinstance(exc, Infeasible):
        error = Infeasible(f"{label} ({step.planner}): {exc.message}", exc.violations)
    else:
        error = SolverError(f"{label} ({step.planner}): {exc.message}", exc.info)
    _complete(partial, folder, force)
    error.partial = partial
    if folder is not None:
        done = ", ".join(st.name for st in partial.steps) or "none"
        error.message += (
            f"; the finished steps ({done}) are written to {folder} (marked incomplete)"
        )
        error.args = (error.message,)
        emit(f"wrote {folder} (incomplete)")
    return error


def _complete(
    result: ScenarioResult, folder: Path | None, force: bool, extra: Mapping | None = None
) -> None:
    """Fill in the result's tables (and ``extra`` ones, such as a step's frontier) and
    ``result.json`` record, and write it when a folder is given."""
    result.tables = {**result_tables(result), **(extra or {})}
    result.result = result_record(result)
    if folder is not None:
        write_run(result, folder, force=force)
        result.out = folder
