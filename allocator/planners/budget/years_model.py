"""The budget plan over years as one model (``plan_budget(..., years=..., method="joint")``).

Model
-----
Years t = 0..n-1 of the plan, each with its forecast pupils; N schools that are candidates
(an in-scope assessed part) in some year, J interventions. Every year's arrays (:mod:`.data`) are
prepared on the region with that year's pupils and nothing bought yet, with the targets in force
that year (:func:`~allocator.planners.budget.horizon.year_targets`); indicators are linear in what
is bought, so year t's indicators after the purchases of years 0..t are
``v0_t + E_t X_t``, with ``X_t = sum_{tau <= t} x_tau``.

Variables: x_t[s,j] >= 0 units bought in year t (integer for whole units unless ``relax``; 0 at a
school with no in-scope part in year t); u_t the normalised shortfalls of year t (objective
``shortfall``) or g_t its rural-urban gaps (``gap``).

Constraints, for every year t:
    u_t + A_t X_t >= sf0_t                        (year t's shortfalls, as the one-year model)
    +- (D_t X_t) + g_t >= +- d0_t                 (year t's gaps, objective gap)
    G_t X_t >= need_t                              (the open-indicator targets in force in t)
    X_t <= cap_t                                   (unit caps of year t, finite ones)
    c x_t + sum_{tau < t} c_y x_tau <= b_t         (money, without carry-over: c_y is the price of
                                                    the yearly items, paid again every later year)
    sum_{t' <= t} (c x_t' + sum_{tau < t'} c_y x_tau) <= sum_{t' <= t} b_t'   (with carry-over)
    category and county caps and the rural share on x_t (as the one-year model)
An item bought stays bought (X only grows); teacher posts and the ``recurrent`` category are the
yearly items.

Objective: ``sum_t w_t m_t`` where m_t is the one-year objective of year t (pupil-weighted
normalised shortfall, or mean normalised rural-urban gap) and w_t the number of calendar years
planning year t stands for (1 each for consecutive years: :func:`year_weights` with rate 0; the
budget policy has no discount rate, the objective is not money).

Guarantee: optimal over the whole horizon within the solver's relative gap (``mip_gap``) when the
solver reports optimal; so it may hold money back for pupils who arrive later. The objective
reported is measured again on each year's region (:func:`years_objective`) and must equal the
model's; with ``relax`` whole units are fractional and ``apply`` rounds added teachers and rooms
down, so the measured value can be worse than the model's (then the relaxed model's value is only
a bound). Purchases are not rounded to the catalogue's purchase steps. Only the objectives
``shortfall`` and ``gap`` and the open-indicator targets are modelled; "every school passes" and
"every county passes" targets, ``minimax`` and ``lexicographic`` are planned year by year
(:mod:`.horizon`).
"""

from __future__ import annotations

import dataclasses
import types

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.forecast import BANDS
from allocator.planners.budget.data import prepare
from allocator.planners.budget.measures import plan_measures
from allocator.planners.budget.model import BudgetModel, add_spending_rows
from allocator.planners.budget.plan import build_plan
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.verify import applied_values
from allocator.planners.years import year_weights
from allocator.region import Region
from allocator.solver import ModelBuilder, SolveInfo, SolverOptions, solve_matrix

__all__ = [
    "JOINT_OBJECTIVES",
    "every_target_in_play",
    "joint_refusal",
    "plan_joint",
    "years_objective",
    "year_policy",
    "year_region",
]

#: The objectives the joint model plans (the others are planned year by year).
JOINT_OBJECTIVES = ("shortfall", "gap")


def joint_refusal(policy: BudgetPolicy, targets: dict) -> str | None:
    """Why the joint model cannot plan ``policy`` with ``targets`` (year -> (open, pass)), or
    None when it can.

    Examples
    --------
    >>> joint_refusal(BudgetPolicy(budget=1.0), {2026: ({}, None)}) is None
    True
    >>> joint_refusal(BudgetPolicy(budget=1.0, objective="minimax"), {})
    "the objective 'minimax' is planned year by year"
    """
    if policy.objective not in JOINT_OBJECTIVES:
        return f"the objective {policy.objective!r} is planned year by year"
    passes = [c for _, c in targets.values() if c]
    if passes:
        return f"the target {passes[0]!r} is planned year by year"
    return None


def year_policy(policy: BudgetPolicy, open_targets, budget: float) -> BudgetPolicy:
    """``policy`` with ``budget`` and the open-indicator targets in force in a year."""
    return dataclasses.replace(policy, budget=budget, targets={**policy.targets, **open_targets})


def every_target_in_play(policy: BudgetPolicy, targets: dict) -> BudgetPolicy:
    """``policy`` with the indicator of every year's open target in play in every year, so each
    year's model has the same interventions (a target still binds from its year only).

    Examples
    --------
    >>> p = every_target_in_play(BudgetPolicy(budget=1.0), {2027: ({"guard_post": {}}, None)})
    >>> p.open_indicators
    ('guard_post',)
    """
    if policy.open_indicators == "all":
        return policy
    names = [n for open_, _ in targets.values() for n in open_]
    chosen = tuple(dict.fromkeys([*policy.open_indicators, *names]))
    return dataclasses.replace(policy, open_indicators=chosen)


def years_objective(plan, policy: BudgetPolicy) -> float:
    """The joint objective recomputed from a plan over years: ``sum_t w_t m_t``, m_t the
    policy's one-year measure (``shortfall`` or ``gap``) of :meth:`region_in` of year t, prepared
    afresh; any plan over years (joint or year by year) is valued the same way."""
    weights = year_weights(plan.years, 0.0)
    policy = every_target_in_play(policy, plan.targets)
    total = 0.0
    for w, year in zip(weights, plan.years, strict=True):
        data = prepare(plan.region_in(year), year_policy(policy, plan.targets[year][0], 0.0))
        total += w * plan_measures(data, data.v0, 0.0)[policy.objective]
    return float(total)


def year_region(before: Region, schools: pd.DataFrame, settlements: pd.DataFrame) -> Region:
    """``before`` (what is bought so far) with the pupils and classes of another year."""
    ids = before.schools["school_id"].astype(str).to_numpy()
    if not np.array_equal(ids, schools["school_id"].astype(str).to_numpy()):
        raise InputError("the forecast's schools are not the region's", table="schools")
    out = before.schools.copy()
    for column in [f"pupils_{b}" for b in BANDS] + ["classes"]:
        out[column] = schools[column].to_numpy()
    return before.replace(schools=out, settlements=settlements)


def _map(ids: np.ndarray, common: pd.Index, J: int) -> sp.csr_matrix:
    """(S_t*J, N*J) selection of year t's unit columns among the common ones."""
    pos = common.get_indexer(ids)
    cols = (pos[:, None] * J + np.arange(J)[None, :]).ravel()
    n = len(cols)
    return sp.csr_matrix((np.ones(n), (np.arange(n), cols)), shape=(n, len(common) * J))


def _year_arrays(data, policy, relax, common, J):
    """One year's model rows on the common unscaled unit columns."""
    model = BudgetModel(data, policy, relax)
    P = _map(data.schools["school_id"].to_numpy()[data.pos], common, J)
    unscale = sp.diags(1.0 / model.scale)
    out = types.SimpleNamespace(data=data, model=model, P=P)
    out.A = sp.csr_matrix(model.A_short @ unscale @ P)
    out.D = sp.csr_matrix(model.D @ unscale @ P) if model.ng else None
    out.G = [(t, sp.csr_matrix(t.matrix(data.S) @ P)) for t in data.targets if len(t.s)]
    out.cap = np.full(len(common) * J, np.inf)
    out.cap[P.indices] = data.cap.ravel()
    out.live = np.zeros(len(common) * J, bool)
    out.live[P.indices] = True
    return out


def _spending_view(data, region_schools, common, J):
    """What :func:`add_spending_rows` reads, on the common schools."""
    pos = pd.Index(region_schools["school_id"]).get_indexer(common)
    return types.SimpleNamespace(S=len(common), J=J, catalogue=data.catalogue,
                                 schools=region_schools, pos=pos)  # fmt: skip


def _build(years, years_data, money, carry_over, policy, relax, yearly, weights, region_schools):
    """The joint model (see the module) and its x blocks."""
    first = years_data[0].data
    J = first.J
    common = years_data[0].common
    N = len(common)
    cost = np.zeros(N * J)
    for y in years_data:
        cost[y.P.indices] = y.data.cost.ravel()
    c_y = np.where(np.tile(first.catalogue["intervention"].isin(yearly).to_numpy(), N), cost, 0.0)
    integer = np.tile(first.integer & (not relax), N)
    gain = np.zeros(N * J)
    for y in years_data:
        rows = [m for m in (y.A, y.D) if m is not None and m.shape[0]]
        if rows:
            gain = np.maximum(gain, abs(sp.vstack(rows)).max(axis=0).toarray().ravel())
    scale = np.where(integer | (gain <= 0), 1.0, 1.0 / np.where(gain > 0, gain, 1.0))
    cs, cys = cost * scale, c_y * scale
    bs = max(float(money.max()), 1.0)
    cost_norm = float(cs.max()) if cs.size and cs.max() > 0 else 1.0
    b = ModelBuilder()
    xs = []
    for t, y in enumerate(years_data):
        upper = np.where(y.live, y.cap, 0.0) / scale
        xs.append(b.add_columns(f"x{t}", N * J, upper=upper, integer=integer))
    S = sp.diags(scale)
    view = _spending_view(first, region_schools, common, J)
    for t, y in enumerate(years_data):
        m = y.model
        if policy.objective == "shortfall":
            u = b.add_columns(f"u{t}", m.nd, cost=weights[t] * m.w_d)
            terms = {xs[k]: y.A @ S for k in range(t + 1)}
            b.add_rows(
                f"shortfall_{years[t]}", m.nd, {**terms, u: sp.identity(m.nd)}, lower=m.sf0_d
            )
        elif m.ng:
            g = b.add_columns(f"g{t}", m.ng, cost=weights[t] / m.ng)
            eye = sp.identity(m.ng)
            b.add_rows(f"gap_above_{years[t]}", m.ng, {**{xs[k]: -y.D @ S for k in range(t + 1)},
                                                  g: eye}, lower=m.d0)  # fmt: skip
            b.add_rows(f"gap_below_{years[t]}", m.ng, {**{xs[k]: y.D @ S for k in range(t + 1)},
                                                  g: eye}, lower=-m.d0)  # fmt: skip
        for target, G in y.G:
            b.add_rows(f"target_{target.name}_{years[t]}", G.shape[0],
                       {xs[k]: G @ S for k in range(t + 1)}, lower=target.need)  # fmt: skip
        finite = np.flatnonzero(np.isfinite(y.cap) & y.live & (y.cap > 0))
        if t and len(finite):
            pick = sp.csr_matrix((np.ones(len(finite)), (np.arange(len(finite)), finite)),
                                 shape=(len(finite), N * J))  # fmt: skip
            b.add_rows(f"cap_{years[t]}", len(finite), {xs[k]: pick @ S for k in range(t + 1)},
                       upper=y.cap[finite])  # fmt: skip
        row_policy = dataclasses.replace(policy, budget=float(money[t]))
        add_spending_rows(b, xs[t], view, row_policy, cs, with_budget=False)
        terms = {}
        for k in range(t + 1):
            if carry_over:  # every year up to t: its purchases, and the yearly items again
                coef = cs + (t - k) * cys
            else:
                coef = cs if k == t else cys
            terms[xs[k]] = sp.csr_matrix(coef / bs)
        limit = float(money[: t + 1].sum() if carry_over else money[t])
        b.add_rows(f"budget_{years[t]}", 1, terms, upper=limit / bs)
    return b.build(), xs, scale, cost, cost_norm


def plan_joint(region, policy, spec, options, say):
    """The plan over years of the joint model: (plans, regions, budget rows, SolveInfo).

    ``spec`` is ``(years, tables, money, carry_over, targets, yearly)``: each year's (schools,
    settlements), each year's yuan, year -> (open targets, None) and the yearly interventions."""
    years, tables, money, carry_over, targets, yearly = spec
    policy = every_target_in_play(policy, targets)
    relax = policy.relax
    years_data = []
    for year in years:
        pol = year_policy(policy, targets[year][0], 0.0)
        years_data.append((year_region(region, *tables[year]), pol))
    prepared = [prepare(r, p) for r, p in years_data]
    names = [tuple(d.catalogue["intervention"]) for d in prepared]
    if len(set(names)) > 1:
        raise InputError(
            "the interventions in play differ between years; plan with method='sequential'",
            table="policy",
            column="method",
        )
    ids = region.schools["school_id"].astype(str)
    chosen = set()
    for d in prepared:
        chosen |= set(d.schools["school_id"].astype(str).to_numpy()[d.pos])
    common = pd.Index(region.schools["school_id"][ids.isin(chosen)].to_numpy())
    J = prepared[0].J
    arrays = []
    for d, (_, pol) in zip(prepared, years_data, strict=True):
        y = _year_arrays(d, pol, relax, common, J)
        y.common = common
        arrays.append(y)
    weights = year_weights(years, 0.0)
    say(f"solving the joint model of {len(years)} years")
    model, xs, scale, cost, cost_norm = _build(
        years, arrays, money, carry_over, policy, relax, yearly, weights, region.schools
    )
    opts = options or SolverOptions()
    try:
        sol = solve_matrix(model, options=opts)
    except Infeasible as exc:
        raise Infeasible(
            f"no plan over the years meets every year's targets within its money: {exc.message}",
            exc.violations,
        ) from None
    units = []
    for t, x in enumerate(xs):
        v = model.column_values(sol.x, x.name) * scale
        v = np.where(np.tile(prepared[t].integer & (not relax), len(common)), np.round(v), v)
        units.append(np.where(np.abs(v) < 1e-9, 0.0, np.maximum(v, 0.0)))
    info = sol.info
    status = "optimal" if info.status == "optimal" else info.status
    info = SolveInfo(status, info.objective, info.bound, info.gap, info.seconds, info.solver)
    return _year_plans(region, policy, spec, units, common, info)


def _year_plans(region, policy, spec, units, common, info):
    """Each year's :class:`BudgetPlan` of the joint model's units, its region before and the
    budget rows (as :mod:`.horizon` tabulates them)."""
    years, tables, money, carry_over, targets, yearly = spec

    plans, regions, rows = {}, {}, []
    current, carried, running = region, 0.0, 0.0
    for t, year in enumerate(years):
        before = year_region(current, *tables[year])
        have = float(money[t] + (carried if carry_over else 0.0))
        available = max(have - running, 0.0)
        pol = year_policy(policy, targets[year][0], available)
        data = prepare(before, pol)
        J = data.J
        P = _map(data.schools["school_id"].to_numpy()[data.pos], common, J)
        mine = P @ units[t]
        if abs(mine.sum() - units[t].sum()) > 1e-6 * max(1.0, units[t].sum()):
            raise SolverError(f"the joint plan buys in {year} at a school with no part in scope")
        after = applied_values(data, mine)
        stages = [(policy.objective, info)]
        plan = build_plan(data, pol, mine, after, policy.objective, info, stages, None,
                          policy.relax)  # fmt: skip
        plans[year], regions[year] = plan, before
        current = plan.apply(before)
        left = max(available - plan.spent, 0.0)
        rows.append((year, float(money[t]), carried, running, available, float(plan.spent), left))
        alloc = plan.allocations
        running += float(alloc.loc[alloc["intervention"].isin(yearly), "cost"].sum())
        carried = left if carry_over else 0.0
    return plans, regions, rows, info
