"""The budget planner's entry points: :func:`plan_budget`, :func:`min_cost_to_comply`,
:func:`budget_frontier`.

Each prepares the arrays (:mod:`.data`), builds and solves the model (:mod:`.model`,
:mod:`.comply`), verifies the solver's plan (:mod:`.verify`), rounds it to purchase units
(:mod:`.rounding`), verifies the purchases again and builds the plan (:mod:`.plan`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import pandas as pd

from allocator.errors import InputError, SolverError
from allocator.planners.budget.catalogue import extra_indicator_specs
from allocator.planners.budget.comply import (
    MONEY,
    comply_model,
    refuse_unreachable,
    solve_least_cost,
)
from allocator.planners.budget.data import BudgetData, prepare, resolve_standard
from allocator.planners.budget.due import plan_with_due_targets
from allocator.planners.budget.floor import target_floor
from allocator.planners.budget.horizon import plan_over_years
from allocator.planners.budget.horizon_plan import BudgetYearsPlan
from allocator.planners.budget.model import BudgetModel, clean_units
from allocator.planners.budget.plan import BudgetPlan, build_plan
from allocator.planners.budget.policy import BudgetPolicy, as_yuan, reject_policy
from allocator.planners.budget.rounding import purchase_steps, round_purchases
from allocator.planners.budget.targets import unmet
from allocator.planners.budget.verify import check_objective, verify
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions, relative_gap, worst_status

__all__ = ["MIP_ABS_GAP", "plan_budget", "min_cost_to_comply", "budget_frontier"]

#: Columns above which a relaxed solve uses interior point by default.
LARGE_LP = 60_000
#: Absolute MIP gap of the normalised objectives (see :func:`_with_abs_gap`).
MIP_ABS_GAP = 1e-4


def _combine(stages: list[tuple[str, SolveInfo]]) -> SolveInfo:
    infos = [s for _, s in stages]
    if len(infos) == 1:
        return infos[0]
    worst = worst_status(*(s.status for s in infos))
    gaps = [s.gap for s in infos if s.gap is not None]
    return SolveInfo(
        status=worst,
        objective=infos[0].objective,
        bound=infos[0].bound,
        gap=max(gaps) if gaps else None,
        seconds=float(sum(s.seconds for s in infos)),
        solver=infos[0].solver,
    )


def _default_options(options, model: BudgetModel, relax: bool) -> SolverOptions:
    if options is None:
        options = SolverOptions(method="ipm") if relax and model.n > LARGE_LP else SolverOptions()
    return _with_abs_gap(options)


def _with_abs_gap(options: SolverOptions) -> SolverOptions:
    """Add the absolute MIP gap the normalised objectives need, unless the caller set one.

    The objectives are shares of thresholds (or of a cost scale), and several can reach 0 (a gap
    closed, every shortfall removed): there a relative gap never closes (bound 0, plan 1e-5), and
    HiGHS's default absolute gap (1e-6) is below what whole units can reach, so the search would
    not stop. 1e-4 of a threshold is far below anything a planner can see.
    """
    extra = dict(options.highs_options or {})
    extra.setdefault("mip_abs_gap", MIP_ABS_GAP)
    return dataclasses.replace(options, highs_options=extra)


def _solve_plan(data, policy, options, progress, relax=None) -> BudgetPlan:
    relax = policy.relax if relax is None else relax
    say = progress or (lambda message: None)
    if data.targets:
        say("meeting the targets at least cost")
        data = dataclasses.replace(data, floor=target_floor(data, policy, options))
    model = BudgetModel(data, policy, relax)
    opts = _default_options(options, model, relax)
    integral = model.integer_x
    stages: list[tuple[str, SolveInfo]] = []
    tol = policy.stage_tolerance
    z_star = None
    if policy.objective in ("minimax", "lexicographic"):
        say("stage 1/3: minimax" if policy.objective == "lexicographic" else "solving (minimax)")
        units, info, z_star, dual = model.minimax(opts, say)
        units = clean_units(units, data, integral, model.scale)
        stages.append(("minimax", info))
    if policy.objective == "lexicographic":
        say("stage 2/3: shortfall")
        fix_z = z_star + tol * max(abs(z_star), 1e-3)
        start = units if integral.any() else None
        sol, stage = model.solve("shortfall", opts, fix_z=fix_z, start_units=start)
        stages.append(("shortfall", sol.info))
        s_star = float(sol.info.objective)
        units = model.units(sol, stage)
        say("stage 3/3: cost")
        fix_s = s_star + tol * max(abs(s_star), 1e-3)
        start = units if integral.any() else None
        sol, stage = model.solve("cost", opts, fix_z=fix_z, fix_s=fix_s, start_units=start)
        stages.append(("cost", sol.info))
        units = model.units(sol, stage)
    elif policy.objective != "minimax":
        say(f"solving ({policy.objective})")
        sol, stage = model.solve(policy.objective, opts)
        stages.append((policy.objective, sol.info))
        dual = model.budget_dual(sol, stage)
        units = model.units(sol, stage)
    say("verifying")
    after = verify(data, policy, units, integral)
    value = check_objective(data, after, units, policy, stages)
    if value is not None:  # report the plan's own value, recomputed, and its gap to the bound
        name, info = stages[0]
        gap = relative_gap(value, info.bound) if info.bound is not None else info.gap
        stages[0] = (name, dataclasses.replace(info, objective=value, gap=gap))
    units, notes = round_purchases(data, policy, units, purchase_steps(data.catalogue, relax))
    after = verify(data, policy, units, integral, purchases=True)
    _require_targets(data, units)
    return build_plan(
        data, policy, units, after, policy.objective, _combine(stages), stages, dual, relax, notes
    )


def _require_targets(data: BudgetData, units) -> None:
    """Every target row holds for the purchases (else the plan failed verification)."""
    missed = unmet(data, units)
    if missed:
        raise SolverError(f"the plan failed verification against its model: targets {missed}")


def _check_year_arguments(spec: tuple, year) -> None:
    """Refuse arguments of a plan over years without ``years``, and ``year`` with it."""
    years, forecast, annual_budgets, carry_over, targets_by_year, method = spec
    if years is None and (
        (forecast, annual_budgets) != (None, None) or carry_over is not True or method != "auto"
    ):
        raise InputError(
            "forecast, annual_budgets, carry_over and method apply to a plan over years; give "
            "years as well",
            table="policy",
            column="years",
        )
    if (years is None) and (targets_by_year is not None) != (year is not None):
        raise InputError(
            "a one-year plan takes targets_by_year with year, its year (e.g. year=2026)",
            table="policy",
            column="year",
        )
    if years is not None and year is not None:
        raise InputError(
            "year is the year of a one-year plan; a plan over years takes years",
            table="policy",
            column="year",
        )


# --------------------------------------------------------------------------- public API
def plan_budget(
    region: Region,
    policy: BudgetPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    years=None,
    forecast=None,
    annual_budgets=None,
    carry_over: bool = True,
    targets_by_year=None,
    method: str = "auto",
    year: int | None = None,
) -> BudgetPlan | BudgetYearsPlan:
    """Decide how much of each intervention each school receives within a budget.

    Parameters
    ----------
    region : Region
    policy : BudgetPolicy
        Required in practice: the budget has no default (None raises InputError).
    options : SolverOptions, optional
        Default: HiGHS; interior point for relaxed models above 60,000 columns.
    progress : callable, optional
        Receives one short string per stage.
    years : tuple, range or list of int, optional
        Plan over these years (``(2026, 2030)``: every year from 2026 to 2030) on each year's
        forecast pupils (:mod:`allocator.planners.budget.horizon`: the methods and their
        guarantees). The arguments below apply only with ``years``.
    forecast : optional
        The pupils of each year: None (the medium birth scenario), ``ForecastSettings`` or
        ``(settings, scenario)``, or a table ``settlement_id`` (or ``school_id``), ``band, year,
        pupils``.
    annual_budgets : float or list of float, optional
        Yuan of each year: one number for every year or one per year (default ``policy.budget``
        each year).
    carry_over : bool
        Unspent yuan go to the next year (default); False: they lapse.
    targets_by_year : dict, optional
        Year -> ``"every county passes"`` or open-indicator targets (as ``policy.targets``), in
        force from that year on; also in a one-year plan, with ``year``.
    year : int, optional
        The year of a one-year plan given ``targets_by_year``: targets due in or before it are
        constraints, later ones are listed as not yet due (:mod:`allocator.planners.budget.due`).
    method : {"auto", "joint", "sequential"}
        ``joint``: one model over every year, optimal over the horizon within the gap (objectives
        ``shortfall`` and ``gap``, open-indicator targets;
        :mod:`allocator.planners.budget.years_model`); ``sequential``: year by year, each year
        optimal given the years before (status ``feasible``); ``auto`` (default): ``joint`` when
        it applies, else ``sequential``.

    Returns
    -------
    BudgetPlan, or BudgetYearsPlan with ``years``

    Raises
    ------
    InputError
        Bad policy, catalogue or region columns.
    SolverError
        The solver failed, or its plan failed verification.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> plan = plan_budget(region, BudgetPolicy(budget=1e7, objective="minimax"))
    >>> plan.spent <= 1e7 * (1 + 1e-6), plan.solve_info.status
    (True, 'optimal')
    >>> plan.measures["minimax"] <= plan.measures["minimax_before"]
    True

    Over three years, ten million yuan a year:

    >>> three = plan_budget(region, BudgetPolicy(budget=1e7), years=(2026, 2028))
    >>> three.verify().empty, three.solve_info.status, three.method
    (True, 'optimal', 'joint')
    """
    spec = (years, forecast, annual_budgets, carry_over, targets_by_year, method)
    _check_year_arguments(spec, year)
    if policy is None:
        reject_policy("budget", None, "a BudgetPolicy with a budget (yuan) is required")
    if not isinstance(policy, BudgetPolicy):
        raise InputError(
            f"expected a BudgetPolicy, got {type(policy).__name__}", table="policy", value=policy
        )
    say = progress or (lambda message: None)
    say("preparing the model")
    if years is not None:
        return plan_over_years(
            region,
            policy,
            spec,
            lambda r, p: _solve_plan(prepare(r, p), p, options, None),
            lambda r, p: min_cost_to_comply(r, p.standard, options, policy=p, relax=p.relax),
            progress,
            options,
        )
    if targets_by_year is not None:
        return plan_with_due_targets(
            region,
            policy,
            targets_by_year,
            year,
            lambda r, p: _solve_plan(prepare(r, p), p, options, progress),
            lambda r, p: min_cost_to_comply(r, p.standard, options, policy=p, relax=p.relax),
        )
    data = prepare(region, policy)
    return _solve_plan(data, policy, options, progress)


def min_cost_to_comply(
    region: Region,
    standard="moe2017",
    options: SolverOptions | None = None,
    *,
    policy: BudgetPolicy | None = None,
    relax: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BudgetPlan:
    """The least budget with which every in-scope school part meets the standard.

    Each part must meet at least ``standard.min_indicators_met`` (6) of its assessed indicators;
    the MILP chooses which one may be missed, and with ``floor_share`` set that one must still
    reach ``floor_share`` (0.85) of its threshold. Extra indicators do not count; the policy's
    ``targets`` and the open indicators the standard assesses (``open_assessed``, as targets at
    their thresholds) are met too.

    Parameters
    ----------
    region : Region
    standard : str or Standard
        Overrides in ``policy.standard_overrides`` are applied to it.
    options : SolverOptions, optional
    policy : BudgetPolicy, optional
        Supplies the catalogue, category and county caps and rural minimum share; its budget and
        objective are ignored.
    relax : bool
        Solve the LP relaxation of the units (the binaries stay binary).
    progress : callable, optional

    Returns
    -------
    BudgetPlan
        ``objective_name == "min_cost"``; ``spent`` is the least budget (an upper bound with its gap
        in ``solve_info`` when a time limit stopped the search; ``solve_info.bound`` is then a
        lower bound).

    Raises
    ------
    Infeasible
        Some parts cannot pass even with every intervention at its cap (named in ``violations``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = min_cost_to_comply(region)
    >>> bool(plan.parts["passes_after"].all()), plan.objective == plan.spent
    (True, True)
    """
    say = progress or (lambda message: None)
    base = policy or BudgetPolicy(budget=0.0)
    std = resolve_standard(standard, base.standard_overrides)
    assessed = {k: {"at_least": std.open_indicators[k].threshold} for k in std.open_assessed}
    base = dataclasses.replace(
        base,
        budget=0.0,
        targets={**base.targets, **assessed},
        extra_indicators={
            **{k: {"enabled": False} for k in extra_indicator_specs(None)},
            **{k: {"enabled": False} for k in (base.extra_indicators or {})},
        },
    )
    say("preparing the model")
    data = prepare(region, base, standard=standard)
    if data.targets:  # the open indicators the standard assesses, met at least cost first
        data = dataclasses.replace(data, floor=target_floor(data, base, options, False))
    refuse_unreachable(data)
    model = comply_model(data, base, relax)
    say(f"solving the least-cost MILP ({model.nx} units, {model.ny} binaries)")
    sol = solve_least_cost(model, _with_abs_gap(options or SolverOptions()))
    units = clean_units(model.units(sol), data, model.integer_x, model.scale)
    say("verifying")
    verify(data, None, units, model.integer_x)
    _check_least_cost(data, units, sol.info)
    units, notes = round_purchases(
        data, base, units, purchase_steps(data.catalogue, relax), with_budget=False
    )
    after = verify(data, base, units, model.integer_x, purchases=True, with_budget=False)
    _require_targets(data, units)
    spent = float((units * data.cost.ravel()).sum())
    info = _least_cost_info(sol.info, spent)
    out_policy = dataclasses.replace(base, budget=spent)
    plan = build_plan(
        data, out_policy, units, after, "min_cost", info, [("min_cost", info)], None, relax, notes
    )
    if not relax and not plan.parts["passes_after"].all():
        failing = plan.parts.loc[~plan.parts["passes_after"], "school_id"].iloc[0]
        raise SolverError(
            f"the plan failed verification against its model: {failing} still fails the standard"
        )
    return plan


def _check_least_cost(data: BudgetData, units, info: SolveInfo) -> None:
    """The cost of the solver's units must equal its objective (in millions of yuan)."""
    solver_cost = float((units * data.cost.ravel()).sum())
    if info.objective is not None and abs(info.objective * MONEY - solver_cost) > max(
        1e-4 * MONEY, 1e-7 * solver_cost
    ):
        raise SolverError(
            f"the plan failed verification: cost {solver_cost:,.2f} vs solver "
            f"{info.objective * MONEY:,.2f}"
        )


def _least_cost_info(info: SolveInfo, spent: float) -> SolveInfo:
    """The solve info in yuan, its gap widened by what rounding the purchases up added."""
    bound = None if info.bound is None else info.bound * MONEY
    gap = info.gap
    if bound is not None and gap is not None and spent > 0:
        # the purchases rounded up to their units cost a little more than the solver's plan
        gap = max(gap, (spent - bound) / spent)
    return SolveInfo(info.status, spent, bound, gap, info.seconds, info.solver)


def budget_frontier(
    region: Region,
    budgets: Iterable[float],
    policy: BudgetPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """What each budget buys: one plan per budget, and the marginal value of one more yuan.

    Parameters
    ----------
    region : Region
    budgets : iterable of float
        Yuan; solved in increasing order.
    policy : BudgetPolicy, optional
        Everything but the budget (default: shortfall objective, relaxed LP).
    options : SolverOptions, optional
    progress : callable, optional

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget, spent, objective_measure`` (the plan's objective: its
        shortfall, gap or weakest share, not yuan), ``status, parts_passing, parts_in_scope,
        schools_passing, max_shortfall, shortfall, gap, marginal_value_per_yuan`` (minus the LP
        dual of the budget row: objective improvement per extra yuan; from the LP relaxation when
        the policy is a MILP), then ``cv_<part>_<indicator>`` and ``rural_urban_<part>_<indicator>``
        after the plan.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> f = budget_frontier(make_region(schools=40, seed=3), [0, 2e6, 8e6])
    >>> bool(f["shortfall"].is_monotonic_decreasing)
    True
    """
    policy = policy or BudgetPolicy(budget=0.0, relax=True)
    values = sorted(as_yuan("budgets", float(b)) for b in budgets)
    if not values:
        raise InputError("budgets is empty; expected at least one budget", table="policy")
    say = progress or (lambda message: None)
    data = prepare(region, policy)
    rows = []
    for n, b in enumerate(values, 1):
        say(f"budget {n}/{len(values)}: {b:,.0f} yuan")
        pol = dataclasses.replace(policy, budget=b)
        plan = _solve_plan(data, pol, options, None)
        dual = plan.budget_dual
        if dual is None:
            dual = _solve_plan(data, pol, options, None, relax=True).budget_dual
        parts = plan.parts
        schools_pass = parts.groupby("school_id")["passes_after"].all()
        row = {
            "budget": b,
            "spent": plan.spent,
            "objective_measure": plan.objective,
            "status": plan.solve_info.status,
            "parts_passing": int(parts["passes_after"].sum()),
            "parts_in_scope": int(len(parts)),
            "schools_passing": int(schools_pass.sum()),
            "max_shortfall": plan.measures["max_shortfall"],
            "shortfall": plan.measures["shortfall"],
            "gap": plan.measures["gap"],
            "marginal_value_per_yuan": None if dual is None else -dual,
        }
        for r in plan.indicators.itertuples(index=False):
            row[f"cv_{r.part}_{r.indicator}"] = r.cv_after
        for r in plan.indicators.itertuples(index=False):
            row[f"rural_urban_{r.part}_{r.indicator}"] = r.rural_urban_after
        rows.append(row)
    return pd.DataFrame(rows)
