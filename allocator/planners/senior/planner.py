"""The entry point of the senior planner: :func:`plan_senior`."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from allocator.errors import InputError
from allocator.planners.senior.data import senior_data
from allocator.planners.senior.model import county_model, solve_county
from allocator.planners.senior.plan import SeniorPlan, senior_digest
from allocator.planners.senior.policy import SeniorPolicy
from allocator.planners.senior.tables import plan_tables
from allocator.planners.senior.verify import verify_tables
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions

__all__ = ["plan_senior"]


def plan_senior(
    region: Region,
    policy: SeniorPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> SeniorPlan:
    """Plan general and vocational senior places by county: which schools expand, which
    candidate sites open as new general or vocational campuses, where each settlement's pupils
    go, and the boarding places each campus needs.

    The model is stated in :mod:`allocator.planners.senior`.

    Parameters
    ----------
    region : Region
        With a ``senior_schools`` table (:mod:`allocator.senior_schools`) or candidate sites.
    policy : SeniorPolicy, optional
    options : SolverOptions, optional
        Default: HiGHS, the policy's gap and time limit.
    progress : callable, optional
        Called with a short string at each stage.

    Returns
    -------
    SeniorPlan

    Raises
    ------
    Infeasible
        A county's targets cannot be met; the message names the county and gives the numbers
        (places needed, the most placeable, general or vocational places at most).
    InputError
        Malformed data or policy.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3, senior_schools=True)
    >>> plan = plan_senior(region)
    >>> bool(plan.counties["met"].all()), plan.solve_info.status
    (True, 'optimal')
    """
    if not isinstance(region, Region):
        raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
    policy = policy or SeniorPolicy()
    if not isinstance(policy, SeniorPolicy):
        raise InputError(f"expected a SeniorPolicy, got {type(policy).__name__}", table="policy")
    say = progress or (lambda _msg: None)
    t0 = time.perf_counter()
    say("senior: reading the cohort, schools and candidate sites")
    data = senior_data(region, policy)
    if options is None:
        options = SolverOptions(mip_gap=policy.mip_gap, time_limit=policy.time_limit)
    chosen, flows, infos = [], [], []
    for county in data.requirements.index:
        say(f"senior: solving {county}")
        rows, cols, _km, _demand, _levels, level_rows = county_model(data, county)
        if cols.size == 0 and data.requirements.loc[county, "needed"] == 0:
            continue  # no pupils and no school: nothing to plan
        result = solve_county(data, county, policy, options)
        chosen.extend(level_rows[result.levels])
        f = result.flows.tocoo()
        flows.extend(zip(rows[f.row], cols[f.col], f.data, strict=True))
        infos.append(result.info)
    objective = float(sum(i.objective or 0.0 for i in infos))
    info = SolveInfo.combine(infos, objective=objective, seconds=time.perf_counter() - t0)
    tables = plan_tables(data, np.asarray(chosen, dtype=np.int64), flows, region)
    verify_tables(tables, objective, policy.yuan_per_pupil_km)
    return SeniorPlan(
        schools=tables["schools"],
        counties=tables["counties"],
        assignments=tables["assignments"],
        settlements=tables["settlements"],
        standard=tables["standard"],
        solve_info=info,
        policy=policy,
        source=data.source,
        region_name=region.name,
        region_fingerprint=senior_digest(region),
    )
