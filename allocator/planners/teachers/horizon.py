"""Teacher plans over years: retirements, hires within yearly quotas and rotations, year by year
against each year's forecast enrolment.

Method (a documented decomposition)
-----------------------------------
1. Pupils of each year (:func:`allocator.planners.years.year_pupils`): the region is the first
   year's data (:mod:`allocator.planners.years`), so the first year's pupils are its own; each
   later year's come from the forecast: the schools' pupils by band and their classes (each
   school keeps its pupils per class), and the settlements' pupils.
2. Retirements of each year (:mod:`allocator.planners.teachers.ages`): from ``teacher_ages`` (ages
   in the first year) or the age profile of the school's area type (illustrative, unconfirmed).
3. Hires: one MILP over the whole horizon per county
   (:mod:`allocator.planners.teachers.horizon_model`): the fewest teacher-years short of the
   staffing norms, then the fewest teacher-years of new posts, with the county's quota each year
   and no hire that would be surplus within ``surplus_years`` (a hard rule). It is solved to
   optimality (the MIP gap of the options) on the stock without rotations.
4. Each year: the rotations whose term ends come home, the year's retirements and hires, then
   the rotations (交流轮岗): the one-year planner on the year's region after its
   retirements and hires, with no hiring, so that each year meets the rotation quota, shares
   backbone teachers and moves teachers towards shortfalls (no sender falls below its
   requirement, so rotations never add to a shortfall the hires left).

The decomposition is not jointly optimal: hires are decided before rotations, so a school whose
shortfall a rotation covers may still have been given a hire it then needs less. A rotated
teacher counts at the receiving school for ``term_years`` and goes home at the start of the year
the term ends (if the receiving school still has a teacher of that category: retirements may
have taken one). A retiring school's category counts (qualified, backbone, PE/arts) shrink in proportion
(rounded down); hires are counted as qualified teachers when the policy hires qualified teachers
(new posts require the degree the 2017 indicator counts), else as general.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.fingerprint import region_fingerprint
from allocator.planners.teachers.ages import retirements
from allocator.planners.teachers.data import hiring_caps, school_arrays
from allocator.planners.teachers.horizon_model import hire_over_years
from allocator.planners.teachers.horizon_plan import FLOW_COLUMNS, TeacherYearsPlan, verify_years
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.planners.years import checked_years, forecast_table, year_pupils
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.standards import required_staff

__all__ = ["plan_over_years", "year_tables"]

_SUBSETS = ("teachers_qualified", "teachers_backbone", "teachers_pe_arts")


def _retire(schools: pd.DataFrame, leaving: np.ndarray) -> pd.DataFrame:
    """The schools after ``leaving`` teachers retire: categories shrink in proportion."""
    s = schools.copy()
    T = s["teachers"].to_numpy(np.int64)
    after = T - leaving
    keep = np.divide(after, T, out=np.zeros(len(T)), where=T > 0)
    for column in _SUBSETS:
        counts = s[column].to_numpy(np.int64)
        s[column] = np.minimum(np.floor(counts * keep + 1e-9).astype(np.int64), after)
    s["teachers"] = after
    if "teachers_eligible" in s.columns:
        s["teachers_eligible"] = np.minimum(s["teachers_eligible"].to_numpy(np.int64), after)
    return s


def _quotas(policy: TeacherPolicy, region: Region, standard, years: list[int]):
    """Each county's hires in each year (county -> array over the years): the policy's quota
    (``hiring_quota_by_year`` where it names the year) and budget, split as the one-year planner
    splits them (by today's staffing gaps)."""
    d = school_arrays(region, policy, standard)
    counties = list(dict.fromkeys(d.county))
    by_year = policy.hiring_quota_by_year or {}
    unknown = [y for y in by_year if y not in years]
    if unknown:
        raise InputError(
            f"hiring_quota_by_year names {unknown[0]!r}, which is not a planned year; expected "
            f"some of {years[0]} to {years[-1]}",
            table="policy",
            column="hiring_quota_by_year",
            value=unknown[0],
        )
    out = {c: np.zeros(len(years)) for c in counties}
    for k, year in enumerate(years):
        that = policy
        if year in by_year:
            value = by_year[year]
            value = dict(value) if isinstance(value, Mapping) else value
            that = dataclasses.replace(policy, hiring_quota=value, hiring_quota_by_year=None)
        for c, cap in hiring_caps(that, d, counties).items():
            out[c][k] = cap
    return out


def year_tables(region: Region, years: list[int], forecast) -> dict:
    """Each year's (schools, settlements): the first year's are the region's own; the later
    years' follow the forecast (:func:`allocator.planners.years.year_pupils`).

    ``forecast`` is what :func:`allocator.planners.years.forecast_table` takes (None: the medium
    birth scenario; settings; ``(settings, scenario)``; a table by settlement), or a table by
    school (``school_id, band, year, pupils``; its rows for the first year are not used, and a
    school or band it does not list keeps the first year's pupils).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=1)
    >>> tables = year_tables(region, [2026, 2027], None)
    >>> tables[2026][0] is region.schools, sorted(tables)
    (True, [2026, 2027])
    """
    if isinstance(forecast, pd.DataFrame) and "school_id" in forecast.columns:
        if "year" not in forecast.columns:
            raise InputError(
                "the forecast has no year column; expected school_id, band, year, pupils",
                table="forecast",
                column="year",
            )
        have = set(pd.to_numeric(forecast["year"], errors="coerce").dropna().astype(int))
        beyond = [y for y in years[1:] if y not in have]
        if beyond:
            raise InputError(
                f"the forecast has no rows for {beyond[0]}; expected rows for every year after "
                f"the first ({years[0]}, the region's own pupils)",
                table="forecast",
                column="year",
                value=beyond[0],
            )
        table = forecast
    else:
        table = forecast_table(region, tuple(years), forecast)
    out = year_pupils(region, table, years[0], years)
    out[years[0]] = (region.schools, region.settlements)
    return out


def plan_over_years(
    region: Region,
    policy: TeacherPolicy,
    years,
    forecast: pd.DataFrame,
    one_year: Callable[..., object],
    teacher_ages: pd.DataFrame | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> TeacherYearsPlan:
    """The plan over years (see the module's docstring); ``one_year(region, policy, options)``
    plans one year's rotations (the one-year :func:`~allocator.planners.teachers.plan_teachers`).
    """
    t0 = time.perf_counter()
    options = options or SolverOptions()
    years = list(checked_years(years))
    standard = policy.load_standard()
    tables = year_tables(region, years, forecast)
    schools = region.schools
    Y, n = len(years), len(schools)
    retire = retirements(schools, Y, policy.retirement_age, teacher_ages)
    required = np.column_stack(
        [required_staff(tables[y][0], standard).to_numpy(np.int64) for y in years]
    )
    caps = _quotas(policy, region, standard, years)
    county = schools["county"].astype(str).to_numpy()
    T0 = schools["teachers"].to_numpy(np.int64)
    hires = np.zeros((n, Y), np.int64)
    one_year = functools.partial(one_year, options=options)
    infos = []
    for c in dict.fromkeys(county):
        idx = np.flatnonzero(county == c)
        h, info = hire_over_years(
            T0[idx], retire[idx], required[idx], caps[c], policy.surplus_years,
            policy.surplus_slack, options,
        )  # fmt: skip
        hires[idx] = h
        infos.append(info)
    rotation_policy = dataclasses.replace(
        policy, hiring_quota={}, hiring_budget_yuan=None, hiring_quota_by_year=None
    )
    regions, plans, flows = [region], [], []
    for k, year in enumerate(years):
        if progress is not None:
            progress(f"year {k + 1}/{Y} {year}")
        back = plans[k - policy.term_years].transfers if k >= policy.term_years else None
        step = _Step(k, year, retire[:, k], hires[:, k], required[:, k], back)
        after, plan, flow = _plan_year(regions[-1], tables[year], step, rotation_policy, one_year)
        flows.append(flow)
        regions.append(after)
        plans.append(plan)
    flow = pd.concat(flows, ignore_index=True)
    flow["shortfall"] = np.maximum(flow["required"] - flow["teachers_end"], 0)
    flow["surplus"] = np.maximum(flow["teachers_end"] - flow["required"], 0)
    flow = flow[list(FLOW_COLUMNS)]
    infos.extend(p.solve_info for p in plans)
    info = SolveInfo.combine(
        infos, objective=float(flow["shortfall"].sum()), seconds=time.perf_counter() - t0
    )
    plan = TeacherYearsPlan(
        years=tuple(years),
        flows=flow,
        quotas={
            (c, year): (None if math.isinf(v[k]) else float(v[k]))
            for c, v in caps.items()
            for k, year in enumerate(years)
        },
        retirements_planned=retire,
        hires_planned=hires,
        yearly_plans=tuple(plans),
        year_regions=tuple(regions),
        solve_info=info,
        policy=policy,
        standard=standard,
        region_name=region.name,
        region_fingerprint=region_fingerprint(region),
    )
    verify_years(plan)
    return plan


_BAND_COLUMNS = ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior", "pupils_senior")
#: The schools columns a teacher of each rotation category counts in (besides ``teachers``).
_CATEGORY_COLUMNS = {
    "backbone": ("teachers_backbone", "teachers_qualified"),
    "qualified": ("teachers_qualified",),
    "pe_arts": ("teachers_pe_arts",),
    "general": (),
}


class _Step(NamedTuple):
    """What one year of the plan is given: its index and year, the retirements, hires and
    required staff of each school, and the rotations whose term ends (None: none)."""

    k: int
    year: int
    retire: np.ndarray
    hires: np.ndarray
    required: np.ndarray
    back: pd.DataFrame | None


def _returns(schools: pd.DataFrame, transfers: pd.DataFrame | None):
    """The schools after the teachers whose rotation term ends go home, with the heads that came
    home to and left each school. A teacher returns only if the receiving school still has a head
    of that category (retirements may have taken it): the counts never go negative and the
    categories stay within the teachers."""
    n = len(schools)
    back_in, back_out = np.zeros(n, np.int64), np.zeros(n, np.int64)
    if transfers is None or not len(transfers):
        return schools, back_in, back_out
    s = schools.copy()
    pos = {sid: i for i, sid in enumerate(s["school_id"].astype(str))}
    cols = {c: s[c].to_numpy(np.int64).copy() for c in ("teachers", *_SUBSETS)}
    for row in transfers.itertuples(index=False):
        i, j = pos[str(row.from_school_id)], pos[str(row.to_school_id)]
        own = _CATEGORY_COLUMNS[row.category]
        others = [c for c in _SUBSETS if c not in own]
        room = cols["teachers"][j] - max((cols[c][j] for c in others), default=0)
        heads = int(max(min(int(row.count), room, *(cols[c][j] for c in own)), 0))
        for c in ("teachers", *own):
            cols[c][j] -= heads
            cols[c][i] += heads
        back_in[i] += heads
        back_out[j] += heads
    for c, values in cols.items():
        s[c] = values
    if "teachers_eligible" in s.columns:
        s["teachers_eligible"] = np.minimum(
            s["teachers_eligible"].to_numpy(np.int64), cols["teachers"]
        )
    return s, back_in, back_out


def _plan_year(current: Region, year_tables, step: _Step, policy, one_year):
    """One year: rotations whose term ends come home, retirements, the year's pupils, hires,
    then the year's rotations; returns (region after, the year's rotation plan, flows rows)."""
    s_year, st_year = year_tables
    schools = current.schools
    s, back_in, back_out = _returns(schools, step.back)
    s = _retire(s, np.minimum(step.retire, s["teachers"].to_numpy(np.int64)))
    left = (
        schools["teachers"].to_numpy(np.int64)
        + back_in
        - back_out
        - s["teachers"].to_numpy(np.int64)
    )
    for column in ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior", "classes"):
        s[column] = s_year[column].to_numpy()
    s["teachers"] = s["teachers"].to_numpy(np.int64) + step.hires
    if "qualified" in policy.hire_categories:
        s["teachers_qualified"] = s["teachers_qualified"].to_numpy(np.int64) + step.hires
    before = current.replace(schools=s, settlements=st_year)
    plan = one_year(before, policy)
    after = plan.apply(before)
    staffing = plan.staffing.set_index("school_id").loc[schools["school_id"]]
    flow = pd.DataFrame(
        {
            "school_id": schools["school_id"].to_numpy(),
            "county": schools["county"].astype(str).to_numpy(),
            "year": step.year,
            "pupils": s[list(_BAND_COLUMNS)].to_numpy(np.int64).sum(axis=1),
            "required": step.required,
            "teachers_start": schools["teachers"].to_numpy(np.int64),
            "returned_in": back_in,
            "returned_out": back_out,
            "retirements": left,
            "hires": step.hires,
            "rotated_in": staffing["received"].to_numpy(np.int64),
            "rotated_out": staffing["sent"].to_numpy(np.int64),
            "teachers_end": after.schools["teachers"].to_numpy(np.int64),
            **{
                f"{need}_shortfall": staffing[f"{need}_shortfall_after"].to_numpy(np.int64)
                for need in ("qualified", "backbone", "pe_arts")
            },
        }
    )
    return after, plan, flow
