"""The consolidation planner's steps: check the inputs, cut the region into planning units, check
every unit before the long solves, solve them (one after another or in processes), and gather the
plan's tables.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from allocator.errors import Infeasible, InputError, SolverError
from allocator.fingerprint import region_fingerprint
from allocator.planners.mergers.columns import BAND_COLUMNS, PLANNED_BANDS, boarding_places
from allocator.planners.mergers.data import County, make_unit, site_rows
from allocator.planners.mergers.horizon import yearly_regions
from allocator.planners.mergers.plan import MergerPlan
from allocator.planners.mergers.policy import MergerPolicy, reject
from allocator.planners.mergers.result import CountyResult
from allocator.planners.mergers.tables import (
    ASSIGNMENT_COLUMNS,
    CLOSURE_COLUMNS,
    EXPANSION_COLUMNS,
    OPENING_COLUMNS,
    SCHOOL_TABLE_COLUMNS,
    TRAVEL_ROW_COLUMNS,
    assignments_table,
    closures_table,
    cost_table,
    expansions_table,
    openings_table,
    school_table,
    travel_rows,
    travel_table,
)
from allocator.planners.mergers.verify import (
    BREACH_COLUMNS,
    breach_table,
    check_county,
    combined_error,
    solve_county,
    unplanned_table,
)
from allocator.planners.mergers.years_costs import COST_COLUMNS
from allocator.planners.mergers.years_model import YearsResult, plan_county
from allocator.planners.mergers.years_plan import MergerYearsPlan, timeline_table
from allocator.planners.years import forecast_table, plan_years, year_weights
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions

#: Default solver settings: a relative gap of 0.1 % of the annual cost (on a county of 150 schools
#: about a fifth of one site's cost), far below the precision of travel times and prices.
DEFAULT_OPTIONS = SolverOptions(mip_gap=1e-3)
#: Columns of a plan over years' ``counties`` table (nodes and iterations: HiGHS's branch-and-bound
#: nodes and simplex iterations, summed over the county's solves; deterministic, unlike seconds).
YEARS_COUNTY_COLUMNS = (
    "county", "method", "status", "objective", "gap", "variables", "rows", "nonzeros", "nodes",
    "iterations", "seconds",
)  # fmt: skip
#: Largest settlements x schools for a single whole-region max_schools model (dense arrays).
WHOLE_REGION_CELLS = 4_000_000


def plan_mergers(
    region: Region,
    policy: MergerPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
    years=None,
    forecast=None,
    method: str | None = None,
) -> MergerPlan | MergerYearsPlan:
    """Plan school closures, receiving schools, nine-year conversions and expansions.

    Each county is solved as its own model (pupils stay in their county), so a municipality is
    decomposed by county; with a single ``max_schools`` number the whole region is one model.

    Parameters
    ----------
    region : Region
    policy : MergerPolicy, optional
        Rules and prices (None: the defaults).
    options : SolverOptions, optional
        Solver settings for each county's model (None: :data:`DEFAULT_OPTIONS`, HiGHS with a
        relative gap of 0.1 %). ``time_limit`` applies to each county. ``threads`` greater than 1
        solves that many counties at once in separate processes, one solver thread each (scripts
        that do this need the usual ``if __name__ == "__main__":`` guard); None or 1 solves them
        one after another.
    progress : callable, optional
        Called with a short string at each county, e.g. ``"county 3/34 江北县"``.
    years : tuple, range or list of int, optional
        Plan over these years (``(2026, 2030)``: every year from 2026 to 2030): which school
        closes in which year (and stays closed), which classrooms are built by when (no later than
        the year the pupils arrive), every year's pupils within that year's limits; cost over the
        horizon discounted at ``policy.discount_rate``. One linked model per county
        (:mod:`allocator.planners.mergers.years_model`, which states the model, the rolling
        horizon used for models too large and its guarantee). None (default): one year, today.
    forecast : ForecastSettings, (ForecastSettings, scenario) or DataFrame, optional
        The pupils of each year (only with ``years``): settings and a birth scenario (its name or
        a :class:`~allocator.forecast.BirthScenario`; the first year is the base year), or a
        ready table ``settlement_id, band, year, pupils``. None: the medium birth scenario.
    method : {"whole", "rolling"}, optional
        With ``years``: one linked model per county, or a rolling horizon; None chooses by size.

    Returns
    -------
    MergerPlan or MergerYearsPlan
        A :class:`MergerYearsPlan` with ``years``.

    Raises
    ------
    Infeasible
        Some settlement bands cannot reach any school within the travel limits (their ids are in
        the message, in ``violations`` as ``"<settlement_id> <band>" -> pupils`` and in
        ``settlements``), or the keep rules, capacities and limits cannot all hold.
    InputError
        A must-keep school id or a max_schools county the region does not have.
    SolverError
        The solver stopped without a plan, or the plan failed the post-solve check.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_mergers(region, MergerPolicy(min_size=80))
    >>> plan.solve_info.status
    'optimal'
    >>> bool((plan.assignments.query("band == 'lower_primary'")["minutes"] <= 30).all())
    True

    Over five years (the medium birth scenario):

    >>> five = plan_mergers(region, MergerPolicy(min_size=80), years=(2026, 2030))
    >>> five.years, five.verify().empty
    ((2026, 2027, 2028, 2029, 2030), True)
    """
    t0 = time.perf_counter()
    policy = policy or MergerPolicy()
    options = options or DEFAULT_OPTIONS
    if years is not None:
        return _plan_years(region, policy, options, progress, (years, forecast, method), t0)
    if forecast is not None or method is not None:
        raise InputError("forecast and method apply to a plan over years; give years as well")
    _check_inputs(region, policy)
    prepared = _prepare_units(region, policy)
    allow = policy.on_infeasible == "report"
    failed = []
    ready = []
    for unit in prepared:  # every county, before any long solve
        unit, exc = check_county(unit, policy, options, allow)
        if exc is None:
            ready.append(unit)
        else:
            failed.append((unit, exc))
    if failed and not allow:
        raise combined_error(failed)
    outcomes = _solve_all(ready, policy, options, progress)
    results = [r for r in outcomes if not isinstance(r, Infeasible)]
    failed += [(u, r) for u, r in zip(ready, outcomes, strict=True) if isinstance(r, Infeasible)]
    if failed and not allow:
        raise combined_error(failed)
    order = {unit.name: k for k, unit in enumerate(prepared)}
    failed.sort(key=lambda f: order[f[0].name])
    info = SolveInfo.combine([r.info for r in results])
    info = dataclasses.replace(info, seconds=time.perf_counter() - t0)
    return _gather_plan(region, policy, results, failed, info)


def _check_inputs(region: Region, policy: MergerPolicy) -> None:
    """Refuse what no county can plan: wrong types, unknown must-keep schools or max_schools
    counties, bad boarding places, and settlements with pupils in counties without schools."""
    if not isinstance(region, Region):
        raise InputError(f"region must be a Region, got {type(region).__name__}")
    if not isinstance(policy, MergerPolicy):
        raise InputError(f"policy must be a MergerPolicy, got {type(policy).__name__}")
    known = set(region.schools["school_id"])
    unknown = [s for s in policy.must_keep if s not in known]
    if unknown:
        reject("must_keep", unknown, "ids of schools in the region")
    boarding_places(region.schools, "schools", "school_id")  # checked before any solve
    counties = region.counties
    orphan = ~region.settlements["county"].isin(counties) & (
        region.settlements[BAND_COLUMNS].sum(axis=1) > 0
    )
    if orphan.any():
        ids = region.settlements.loc[orphan, "settlement_id"].tolist()
        pupils = region.settlements.loc[orphan, BAND_COLUMNS].sum(axis=1).astype(int).tolist()
        words = [f"{s} ({n} pupils)" for s, n in zip(ids, pupils, strict=True)]
        exc = Infeasible(
            f"{len(ids)} settlement{'s' if len(ids) != 1 else ''} with {sum(pupils)} pupils of "
            f"grades 1-9 {'lie' if len(ids) != 1 else 'lies'} in counties "
            f"without schools: {', '.join(words[:8])}" + (" ..." if len(ids) > 8 else ""),
            {f"{s} all": float(n) for s, n in zip(ids, pupils, strict=True)},
        )
        exc.settlements = ids
        raise exc
    p = policy.max_schools
    if isinstance(p, Mapping):
        bad = [c for c in p if c not in counties]
        if bad:
            reject("max_schools", p, f"counties of the region ({', '.join(counties)})")


def _unit_masks(region: Region, policy: MergerPolicy) -> list[tuple]:
    """(name, school mask, settlement mask, max_schools) of each planning unit: every county, or
    the whole region under one ``max_schools`` number (refused when too large for one model)."""
    p = policy.max_schools
    if p is not None and not isinstance(p, Mapping):
        cells = len(region.settlements) * len(region.schools)
        if cells > WHOLE_REGION_CELLS:
            reject(
                "max_schools",
                p,
                f"a table {{county: number}} for a region this large: one number plans the whole "
                f"region as one model, with dense travel times for {len(region.settlements):,} "
                f"settlements x {len(region.schools):,} schools ({cells:,} pairs; at most "
                f"{WHOLE_REGION_CELLS:,})",
            )
        return [("region", slice(None), slice(None), int(p))]
    return [
        (
            name,
            (region.schools["county"] == name).to_numpy(),
            (region.settlements["county"] == name).to_numpy(),
            None if p is None else p.get(name),
        )
        for name in region.counties
    ]


def _prepare_units(region: Region, policy: MergerPolicy) -> list[County]:
    """The arrays of every planning unit that has schools to re-plan."""
    # "Before" travel looks for the nearest school up to twice the longest allowed trip.
    cutoff = 2.0 * max(
        [policy.day_minutes(b) for b in PLANNED_BANDS]
        + ([policy.boarding_minutes] if policy.boarding_bands else [])
    )
    masks = _unit_masks(region, policy)
    sites = site_rows(region, policy)
    prepared = []
    for name, smask, vmask, limit in masks:
        sm = np.ones(len(region.schools), bool) if isinstance(smask, slice) else smask
        vm = np.ones(len(region.settlements), bool) if isinstance(vmask, slice) else vmask
        mine = None
        if sites is not None:
            mine = sites if isinstance(smask, slice) else sites[sites["county"] == name]
        unit = make_unit(region, name, sm, vm, limit, cutoff, mine, policy.build_years)
        if len(unit.schools):
            prepared.append(unit)
    return prepared


def _county_rows(results: list[CountyResult], with_sites: bool) -> pd.DataFrame:
    """The ``counties`` table: size, mode and solve figures of each planned unit."""
    return pd.DataFrame(
        [
            {
                "county": r.unit.name,
                "schools": r.model.n_schools,
                "settlements": len(r.unit.settlements),
                "variables": int(r.shape[1]),
                "rows": int(r.shape[0]),
                "mode": "travel" if r.unit.max_schools is not None else "cost",
                "status": r.info.status,
                "objective": r.info.objective,
                "gap": r.info.gap,
                "seconds": round(r.info.seconds, 3),
                "closed": int((~r.open_ & ~r.unit.candidate).sum()),
                **({"opened": int((r.open_ & r.unit.candidate).sum())} if with_sites else {}),
            }
            for r in results
        ]
    )


def _concat(frames: list[pd.DataFrame], columns) -> pd.DataFrame:
    """The non-empty frames one after another (an empty table of ``columns`` if none)."""
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _gather_plan(
    region: Region,
    policy: MergerPolicy,
    results: list[CountyResult],
    failed: list[tuple[County, Infeasible]],
    info: SolveInfo,
) -> MergerPlan:
    """The plan's tables from the solved units and those left without a plan."""
    travel = travel_table(
        pd.concat([travel_rows(r) for r in results], ignore_index=True)
        if results
        else pd.DataFrame(columns=list(TRAVEL_ROW_COLUMNS)),
        policy.lower_primary_guideline_minutes,
    )
    closures = [closures_table(r, policy.max_schools is not None) for r in results]
    openings = [openings_table(r, c) for r, c in zip(results, closures, strict=True)]
    return MergerPlan(
        closures=_concat(closures, CLOSURE_COLUMNS),
        assignments=_concat([assignments_table(r) for r in results], ASSIGNMENT_COLUMNS),
        expansions=_concat([expansions_table(r) for r in results], EXPANSION_COLUMNS),
        schools=_concat([school_table(r) for r in results], SCHOOL_TABLE_COLUMNS),
        costs=cost_table(results, new_sites=policy.candidate_sites is not None),
        travel=travel,
        counties=_county_rows(results, with_sites=policy.candidate_sites is not None),
        solve_info=info,
        policy=policy,
        region_name=region.name,
        openings=_concat(openings, OPENING_COLUMNS),
        unplanned=unplanned_table(failed),
        breaches=_concat([breach_table(r) for r in results], list(BREACH_COLUMNS)),
        region_fingerprint=region_fingerprint(region),
    )


def _solve_all(
    units: list[County], policy, options: SolverOptions, progress
) -> list[CountyResult | Infeasible]:
    """Solve the units one after another, or (several units, several cores) in processes; a
    unit without a plan gives its Infeasible."""
    workers = max(1, min(options.threads or 1, len(units)))
    single = dataclasses.replace(options, threads=1)
    n = len(units)

    def label(i, unit):
        return "whole region" if unit.name == "region" else f"county {i}/{n} {unit.name}"

    if workers == 1:
        out = []
        for i, unit in enumerate(units, start=1):
            if progress is not None:
                progress(label(i, unit))
            out.append(solve_county(unit, policy, options))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # never fork a process that ran HiGHS
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(solve_county, unit, policy, single): k for k, unit in enumerate(units)
        }
        out: list = [None] * n
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                k = futures[future]
                out[k] = future.result()
                if progress is not None:
                    progress(f"{label(done, units[k])} solved")
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return out


def _plan_years(region, policy, options, progress, spec, t0) -> MergerYearsPlan:
    """The plan over years: each year's region, every county's linked model, each year's plan."""
    years, forecast, method = spec
    if method not in (None, "whole", "rolling"):
        raise InputError(
            f"method={method!r}; expected 'whole', 'rolling' or None", table="plan", column="method"
        )
    years = plan_years(years)
    _check_inputs(region, policy)
    table = forecast_table(region, years, forecast)
    regions = yearly_regions(region, years, table, not isinstance(forecast, pd.DataFrame))
    for year in years:
        _check_inputs(regions[year], policy)
    weights = year_weights(years, policy.discount_rate, policy.max_schools is None)
    per_year = [_prepare_units(regions[y], policy) for y in years]
    jobs = [
        [next(u for u in units if u.name == first.name) for units in per_year]
        for first in per_year[0]
    ]
    outcomes = _solve_years_all(jobs, policy, options, (years, weights, method), progress)
    results: list[YearsResult] = [r for r in outcomes if not isinstance(r, Infeasible)]
    failed = [(k, r) for k, r in enumerate(outcomes) if isinstance(r, Infeasible)]
    if failed and policy.on_infeasible != "report":
        raise combined_error([(per_year[0][k], e) for k, e in failed])
    plans = {}
    for i, year in enumerate(years):
        mine = [r.results[i] for r in results]
        lost = [(per_year[i][k], e) for k, e in failed]
        info = SolveInfo.combine([r.info for r in mine]) if mine else SolveInfo.combine([])
        plans[year] = _gather_plan(regions[year], policy, mine, lost, info)
    info = SolveInfo.combine([r.info for r in results])
    info = dataclasses.replace(info, seconds=time.perf_counter() - t0)
    counties = pd.DataFrame(
        [
            {
                "county": r.name,
                "method": r.method,
                "status": r.info.status,
                "objective": r.info.objective,
                "gap": r.info.gap,
                "variables": int(r.shape[1]),
                "rows": int(r.shape[0]),
                "nonzeros": int(r.nonzeros),
                "nodes": r.info.nodes,
                "iterations": r.info.iterations,
                "seconds": float(r.info.seconds),
            }
            for r in results
        ],
        columns=list(YEARS_COUNTY_COLUMNS),
    )
    plan = MergerYearsPlan(
        years=years,
        plans=plans,
        regions=regions,
        timeline=timeline_table(plans),
        counties=counties,
        solve_info=info,
        policy=policy,
        weights=tuple(float(w) for w in weights),
        costs=_years_costs([r.costs for r in results if r.costs is not None]),
        region_fingerprint=region_fingerprint(region),
    )
    problems = plan.verify()
    if len(problems):
        first = problems.iloc[0]
        raise SolverError(
            f"the plan over {years[0]}-{years[-1]} fails its own check in {first['year']}: "
            f"{first['rule']} at {first['where']} ({first['detail']}); "
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in all",
            info,
        )
    return plan


def _years_costs(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Yuan by year over the counties (each county's own table summed by year)."""
    if not frames:
        return pd.DataFrame(columns=list(COST_COLUMNS))
    both = pd.concat(frames, ignore_index=True)
    money = ["recurrent_yuan", "capital_yuan", "residual_yuan"]
    out = both.groupby("year", sort=True).agg(
        {**dict.fromkeys(money, "sum"), "discount_factor": "first", "weight": "first"}
    )
    return out.reset_index()[list(COST_COLUMNS)]


def _solve_years_all(jobs, policy, options: SolverOptions, spec, progress) -> list:
    """Every county over the years, one after another or (``options.threads`` > 1) in
    processes; a county without a plan gives its Infeasible."""
    years, weights, method = spec
    workers = max(1, min(options.threads or 1, len(jobs)))
    n = len(jobs)
    if workers == 1:
        out = []
        for i, units in enumerate(jobs, start=1):
            if progress is not None:
                progress(f"county {i}/{n} {units[0].name}")
            out.append(plan_county(units, policy, options, years, weights, method))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    single = dataclasses.replace(options, threads=1)
    context = multiprocessing.get_context("spawn")  # never fork a process that ran HiGHS
    # the largest counties first (the pool starts them in this order), so that no large county
    # is left to run alone at the end: counties are independent (a county's villages and
    # candidate sites reach only its own schools), so their plans are the plans of the whole
    order = sorted(range(n), key=lambda k: -jobs[k][0].travel.size)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(plan_county, jobs[k], policy, single, years, weights, method): k
            for k in order
        }
        out: list = [None] * n
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                k = futures[future]
                out[k] = future.result()
                if progress is not None:
                    progress(f"county {done}/{n} {jobs[k][0].name} solved")
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return out
