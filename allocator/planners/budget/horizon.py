"""Budget plans over years: annual budgets, carry-over and targets by year, spent where each
year's forecast puts the pupils (``plan_budget(..., years=...)``).

Two methods (``method``): ``joint``, one model over every year
(:mod:`~allocator.planners.budget.years_model`: optimal over the horizon within the solver's gap,
status ``optimal`` when every stage is), for every objective with open-indicator targets; and
``sequential``, year by year (below; status ``feasible``), for every objective and the pass
targets, and for models too large to solve as one. ``auto`` (the default) is ``joint`` when the
policy and targets allow it, else ``sequential``; :attr:`BudgetYearsPlan.method` says which.

Method ``sequential`` (year by year, documented heuristic)
----------------------------------------------------------
For each planning year t in order:

1. The region of year t before its purchases: the region after every purchase of the years
   before t (what is bought stays bought: capital accumulates) with the pupils and classes of
   year t (:func:`year_region`; the forecast as
   :func:`allocator.planners.years.year_pupils` reads it). Every per-pupil indicator of
   year t is therefore judged on year t's enrolment.
2. The money of year t for new purchases: ``A_t = b_t + c_{t-1} - r_t`` with ``c_{t-1} = A_{t-1}
   - spent_{t-1}`` when ``carry_over``, else ``A_t = b_t - r_t`` (unspent yuan lapse); ``r_t``,
   the running costs, is what the yearly purchases of the years before cost again in year t: a
   catalogue price that buys a year (teacher posts, ``adds_teachers``: one year of salary; the
   ``recurrent`` category: bandwidth, guards, night duty) is paid in every later planning year of
   the plan (:func:`yearly_interventions`). ``r_t > b_t + c_{t-1}`` is refused naming the year.
3. The targets in force in year t: every open-indicator target whose year is <= t (a later
   year's target on the same indicator replaces an earlier one), and "every school passes" (every
   in-scope part meets the standard) or "every county passes" from its year on.
4. The purchases of year t: with either pass target in force, the least-cost purchases with which
   every in-scope part passes (:func:`~allocator.planners.budget.min_cost_to_comply`, with the
   targets in force), refused (:class:`~allocator.errors.Infeasible`, naming the year and the
   yuan short) when they cost more than ``A_t``; for "every county passes" the year's region is
   then judged by :func:`allocator.check.check`, and a county that fails its CV limits is
   refused naming it (the model lifts schools, not county CVs). Otherwise the one-year plan of
   the policy's objective with budget ``A_t`` and the targets in force
   (:func:`~allocator.planners.budget.plan_budget`).
5. When the yearly costs of year t's purchases would bring ``r_{t+1}`` above the annual budget
   ``b_u`` of a later year u, year t is planned again with no yearly intervention, so every later
   year can pay its running costs from its own budget (``notes`` says so).

Guarantee: each year's purchases are optimal for that year (within the solver's gap) given the
purchases of the years before; the sequence is not jointly optimal over the horizon (a year does
not hold money back for a later year's pupils, and a target is not prepared for before its year),
so the plan's status is ``feasible``, never ``optimal``. The objectives ``shortfall``, ``minimax``
and ``gap`` are indifferent to cost once a year's shortfalls are closed, so such a year may spend
more than it needs (money that would otherwise carry over); ``lexicographic`` ends at least
cost. Budgets (with carry-over) and targets are kept in every year; :meth:`BudgetYearsPlan.verify` checks both independently of the models, the
targets with :func:`allocator.check.check` on :meth:`BudgetYearsPlan.region_in`. Capital is paid
once, in the year of purchase; with years that are not consecutive a yearly cost is counted once
per planning year.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from allocator.check import check
from allocator.errors import Infeasible, InputError, SolverError
from allocator.planners.budget.catalogue import load_catalogue
from allocator.planners.budget.horizon_plan import BudgetYearsPlan, compliance_row
from allocator.planners.budget.policy import BudgetPolicy, as_yuan
from allocator.planners.budget.targets import check_targets
from allocator.planners.budget.years_model import (
    JOINT_OBJECTIVES,
    ROUNDING_SLACK,
    joint_refusal,
    plan_joint,
    year_region,
    years_objective,
)
from allocator.planners.years import forecast_table, plan_years, year_pupils
from allocator.region import Region
from allocator.solver import SolveInfo

__all__ = [
    "COMPLY",
    "METHODS",
    "SCHOOLS_PASS",
    "annual_yuan",
    "budget_short",
    "require_counties",
    "year_targets",
    "year_region",
    "yearly_interventions",
    "plan_over_years",
]

#: How a plan over years is made: one model when it can be (``auto``), one model, or year by year.
METHODS = ("auto", "joint", "sequential")
#: The target by year that every county passes the 2017 assessment (``allocator.check``).
COMPLY = "every county passes"
#: The target by year that every in-scope school part passes (meets the standard's indicators).
SCHOOLS_PASS = "every school passes"


def annual_yuan(annual_budgets, years: tuple[int, ...], default: float) -> np.ndarray:
    """Yuan of each planning year: one number for every year, or a list with one per year.

    Examples
    --------
    >>> annual_yuan(5e6, (2026, 2027), 0.0).tolist()
    [5000000.0, 5000000.0]
    >>> annual_yuan([1, 2, 3], (2026, 2027), 0.0)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'annual_budgets': annual_budgets has 3 numbers for 2 years; expected one number, or one per year (2026, 2027)
    """
    if annual_budgets is None:
        return np.full(len(years), float(default))
    if isinstance(annual_budgets, list | tuple | np.ndarray | pd.Series):
        values = list(annual_budgets)
        if len(values) != len(years):
            raise InputError(
                f"annual_budgets has {len(values)} numbers for {len(years)} years; expected one "
                f"number, or one per year ({', '.join(str(y) for y in years)})",
                table="policy",
                column="annual_budgets",
            )
        return np.array([as_yuan("annual_budgets", v) for v in values])
    return np.full(len(years), as_yuan("annual_budgets", annual_budgets))


def year_targets(targets_by_year, years: tuple[int, ...]) -> dict[int, tuple[Mapping, str | None]]:
    """The targets in force in each year: (open-indicator targets, :data:`SCHOOLS_PASS`,
    :data:`COMPLY` or None).

    ``targets_by_year`` maps a year of the plan to :data:`COMPLY`, :data:`SCHOOLS_PASS` or
    open-indicator targets (as :attr:`BudgetPolicy.targets`); each holds from its year on.

    Examples
    --------
    >>> t = year_targets({2027: COMPLY, 2026: {"bandwidth_mbps": {"at_least": 100}}}, (2026, 2027))
    >>> [(y, sorted(o), c) for y, (o, c) in t.items()]
    [(2026, ['bandwidth_mbps'], None), (2027, ['bandwidth_mbps'], 'every county passes')]
    """
    given = dict(targets_by_year or {})
    for year, target in given.items():
        if year not in years:
            raise InputError(
                f"targets_by_year names {year!r}, not a year of the plan; expected one of "
                + ", ".join(str(y) for y in years),
                table="policy",
                column="targets_by_year",
                value=year,
            )
        if not (target in (COMPLY, SCHOOLS_PASS) or isinstance(target, Mapping)):
            raise InputError(
                f"target of {year} is {target!r}; expected {COMPLY!r}, {SCHOOLS_PASS!r} or "
                "open-indicator targets such as {'bandwidth_mbps': {'at_least': 1000}}",
                table="policy",
                column="targets_by_year",
                value=target,
            )
    out, open_, comply = {}, {}, None
    for year in years:
        target = given.get(year)
        if target == COMPLY or (target == SCHOOLS_PASS and comply is None):
            comply = target
        elif isinstance(target, Mapping):
            open_ = {**open_, **check_targets(target)}
        out[year] = (dict(open_), comply)
    return out


def year_tables(region: Region, years: tuple[int, ...], forecast) -> dict:
    """Year -> (schools, settlements) with that year's pupils and classes.

    ``forecast``: None (the medium birth scenario), settings or ``(settings, scenario)``, a table
    ``settlement_id, band, year, pupils``, or a table by school ``school_id, band, year,
    pupils`` (a school or band it does not list keeps today's pupils).
    """
    if isinstance(forecast, pd.DataFrame) and "school_id" in forecast.columns:
        have = set(pd.to_numeric(forecast["year"], errors="coerce").dropna().astype(int))
        beyond = [y for y in years if y not in have]
        if beyond:
            raise InputError(
                f"years go beyond the forecast: it has no {beyond[0]}; expected years it covers",
                table="forecast",
                column="year",
                value=beyond[0],
            )
        table = forecast
    else:
        table = forecast_table(region, years, forecast)
    return year_pupils(region, table, years[0], list(years))


def yearly_interventions(policy: BudgetPolicy) -> frozenset:
    """The interventions whose price buys one year, paid again every later year: teacher posts
    (``adds_teachers``) and the ``recurrent`` category.

    Examples
    --------
    >>> sorted(yearly_interventions(BudgetPolicy(budget=0)))[:3]
    ['bandwidth_100mbps', 'hire_security_guard', 'post_pe_arts_teacher']
    """
    cat = load_catalogue(
        policy.catalogue, policy.intervention_overrides, policy.exclude_interventions
    )
    yearly = (cat["category"] == "recurrent").to_numpy() | cat["adds_teachers"].to_numpy(bool)
    return frozenset(cat.loc[yearly, "intervention"])


def _yearly_cost(plan, yearly: frozenset) -> float:
    alloc = plan.allocations
    return float(alloc.loc[alloc["intervention"].isin(yearly), "cost"].sum())


def _plan_year(year: int, region: Region, policy: BudgetPolicy, solve: Callable):
    try:
        return solve(region, policy)
    except Infeasible as exc:
        raise Infeasible(f"in {year}: {exc.message}", exc.violations) from None


def require_counties(year: int, region: Region, policy: BudgetPolicy) -> None:
    """Every county passes as :func:`allocator.check.check` judges the year's region, or an
    Infeasible naming the first county part that fails and why."""
    report = check(region, policy.standard)
    if report.passes:
        return
    failing = report.tables["counties"].query("~passes").iloc[0]
    raise Infeasible(
        f"in {year}: every school part passes with the least-cost purchases, but county "
        f"{failing['county']} ({failing['part']}) fails: {failing['reason']}; the budget model "
        f"lifts schools to the thresholds, not county CVs (target {SCHOOLS_PASS!r} is what it "
        "can promise)",
        {f"county__{year}": 1.0},
    )


def budget_short(year: int, need: float, have: float) -> Infeasible:
    return Infeasible(
        f"every county cannot pass in {year}: the least cost is {need:,.0f} yuan, the money "
        f"of that year {have:,.0f} yuan (short by {need - have:,.0f} yuan)",
        violations={f"budget__{year}": float(need - have)},
    )


def plan_over_years(
    region: Region,
    policy: BudgetPolicy,
    spec: tuple,
    solve_year: Callable,
    comply_year: Callable,
    progress: Callable[[str], None] | None = None,
    options=None,
) -> BudgetYearsPlan:
    """The plan over years (see the module): ``spec`` is ``(years, forecast, annual_budgets,
    carry_over, targets_by_year, method)``; ``solve_year(region, policy)`` makes one year's plan
    and ``comply_year(region, policy)`` one year's least-cost compliance; ``options`` are the
    joint model's solver options."""
    years, forecast, annual_budgets, carry_over, targets_by_year, method = spec
    if method not in METHODS:
        raise InputError(
            f"method={method!r}; expected one of {', '.join(METHODS)}",
            table="policy",
            column="method",
            value=method,
        )
    say = progress or (lambda message: None)
    if not isinstance(carry_over, bool | np.bool_):
        raise InputError(
            f"carry_over={carry_over!r}; expected true or false",
            table="policy",
            column="carry_over",
        )
    years = plan_years(years)
    money = annual_yuan(annual_budgets, years, policy.budget)
    targets = year_targets(targets_by_year, years)
    tables = year_tables(region, years, forecast)
    yearly = yearly_interventions(policy)
    refusal = joint_refusal(policy, targets) if method != "sequential" else "sequential"
    if method == "joint" and refusal:
        raise InputError(
            f"method='joint': {refusal}; use method='sequential' or 'auto'",
            table="policy",
            column="method",
            value=method,
        )
    if not refusal:
        spec = (years, tables, money, bool(carry_over), targets, yearly)
        plans, regions, rows, info = plan_joint(region, policy, spec, options, say)
        return _years_plan(policy, spec, (plans, regions, rows, info, ()), "joint")
    plans, regions, rows, infos, notes = {}, {}, [], [], []
    current, carried, running = region, 0.0, 0.0
    for k, year in enumerate(years):
        say(f"planning {year}")
        before = year_region(current, *tables[year])
        have = float(money[k] + (carried if carry_over else 0.0))
        if running > have * (1 + 1e-9) + 1e-6:
            raise Infeasible(
                f"in {year}: the yearly costs of the posts and services bought before "
                f"({running:,.0f} yuan) exceed the money of the year ({have:,.0f} yuan)",
                {f"running__{year}": running - have},
            )
        available = max(have - running, 0.0)
        open_, comply = targets[year]
        this_year = dataclasses.replace(
            policy, budget=available, targets={**policy.targets, **open_}
        )
        plan = _plan_year(year, before, this_year, comply_year if comply else solve_year)
        later = float(money[k + 1 :].min()) if k + 1 < len(years) else float("inf")
        if running + _yearly_cost(plan, yearly) > later * (1 + 1e-9) + 1e-6:
            this_year = dataclasses.replace(
                this_year,
                exclude_interventions=(*this_year.exclude_interventions, *sorted(yearly)),
            )
            plan = _plan_year(year, before, this_year, comply_year if comply else solve_year)
            notes.append(
                f"{year}: no teacher post or yearly service bought; their yearly costs would "
                f"exceed a later year's budget ({later:,.0f} yuan)"
            )
        if comply and plan.spent > available * (1 + 1e-9) + 1e-6:
            raise budget_short(year, plan.spent, available)
        if comply == COMPLY:
            require_counties(year, plan.apply(before), policy)
        plans[year], regions[year] = plan, before
        current = plan.apply(before)
        left = max(available - plan.spent, 0.0)
        rows.append((year, float(money[k]), carried, running, available, float(plan.spent), left))
        running += _yearly_cost(plan, yearly)
        carried = left if carry_over else 0.0
        infos.append(plan.solve_info)
    combined = SolveInfo.combine(infos)
    info = dataclasses.replace(
        combined,
        status="feasible" if combined.status == "optimal" else combined.status,
        gap=None,
        objective=float(sum(r[5] + r[3] for r in rows)),
        bound=None,
    )
    spec = (years, tables, money, bool(carry_over), targets, yearly)
    return _years_plan(policy, spec, (plans, regions, rows, info, tuple(notes)), "sequential")


def _years_plan(policy, spec, made, method: str) -> BudgetYearsPlan:
    """The :class:`BudgetYearsPlan` of each year's plans, regions and budget rows."""
    years, _, _, carry_over, targets, yearly = spec
    plans, regions, rows, info, notes = made
    budgets = pd.DataFrame(
        rows,
        columns=["year", "budget", "carried_in", "running", "available", "spent", "unspent"],
    )
    budgets["carried_out"] = budgets["unspent"] if carry_over else 0.0
    plan = BudgetYearsPlan(
        years=years,
        plans=plans,
        regions=regions,
        budgets=budgets,
        targets=targets,
        carry_over=bool(carry_over),
        yearly=yearly,
        notes=notes,
        solve_info=info,
        policy=policy,
        compliance=pd.DataFrame(),
        method=method,
    )
    if policy.objective in JOINT_OBJECTIVES:
        value = years_objective(plan, policy)
        model = info.objective
        tol = 1e-6 * max(abs(value), 1e-3) + ROUNDING_SLACK
        if policy.objective in ("minimax", "lexicographic"):
            tol += 2 * policy.stage_tolerance * max(abs(model), 1e-3)
        if method == "joint" and abs(value - model) > tol:
            if not policy.relax:  # a relaxed plan's teacher posts are rounded down by apply
                raise SolverError(
                    f"the plan over years failed verification: its objective measured on each "
                    f"year's region is {value:.6g}, the model's {model:.6g}"
                )
        plan = dataclasses.replace(plan, solve_info=dataclasses.replace(info, objective=value))
    compliance = pd.DataFrame([compliance_row(plan, y) for y in years])
    return dataclasses.replace(plan, compliance=compliance)
