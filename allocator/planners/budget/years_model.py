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

Objectives, in stages as the one-year model (:data:`STAGES`): ``shortfall`` and ``gap`` minimise
``sum_t w_t m_t``, m_t the one-year objective of year t (pupil-weighted normalised shortfall, or
mean normalised rural-urban gap) and w_t the number of calendar years planning year t stands for
(:func:`year_weights` with rate 0: the objective is not money). ``minimax`` minimises z, the
largest avoidable shortfall of any school in any year (rows ``A_t[live] X_t + z >= sf0_t - ubar_t``
on the rows that can bind, ubar_t year t's unavoidable shortfall), then, with z kept at its optimum
(up to ``stage_tolerance``), the money; ``lexicographic`` minimises z, then ``sum_t w_t m_t`` of
the shortfalls with z kept, then the money with both kept. The money of the cost stage is every
year's purchases and the yearly items paid again, a yuan of year u counted at
``1 / (1 + discount_rate) ** (u - first year)``; the budgets stay nominal.

Guarantee: optimal over the whole horizon within the solver's relative gap (``mip_gap``) when the
solver reports every stage optimal (the status is the worst stage's); so it may hold money back
for pupils who arrive later. The objective reported (the first stage's) is measured again on each
year's region (:func:`years_objective`) and must equal the model's; with ``relax`` whole units are
fractional and ``apply`` rounds added teachers and rooms down, so the measured value can be worse
than the model's (then the relaxed model's value is only a bound). Each year's purchases are
rounded to the catalogue's purchase steps as the one-year plan's are
(:func:`~allocator.planners.budget.rounding.round_purchases`: down to the step, then whole steps
back where a threshold the model reached was lost, within the year's money), so the measured
objective may differ from the model's by that rounding (at most :data:`ROUNDING_SLACK`). The "every school passes" and "every county passes" targets are
planned year by year (:mod:`.horizon`).
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
from allocator.planners.budget.measures import plan_measures, unavoidable
from allocator.planners.budget.model import BudgetModel, add_spending_rows
from allocator.planners.budget.plan import build_plan
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.rounding import purchase_steps, round_purchases
from allocator.planners.budget.targets import unmet
from allocator.planners.budget.verify import applied_values
from allocator.planners.years import year_weights
from allocator.region import Region
from allocator.solver import ModelBuilder, SolveInfo, SolverOptions, solve_matrix, worst_status

__all__ = [
    "JOINT_OBJECTIVES",
    "ROUNDING_SLACK",
    "every_target_in_play",
    "joint_refusal",
    "plan_joint",
    "years_objective",
    "year_policy",
    "year_region",
]

#: How far the objective measured on the rounded plan may lie from the model's (1e-4 of a
#: threshold: 0.01 m2 or one fen are far below it; what a planner could not see).
ROUNDING_SLACK = 1e-4

#: The objectives the joint model plans (the others are planned year by year).
JOINT_OBJECTIVES = ("shortfall", "gap", "minimax", "lexicographic")


def joint_refusal(policy: BudgetPolicy, targets: dict) -> str | None:
    """Why the joint model cannot plan ``policy`` with ``targets`` (year -> (open, pass)), or
    None when it can.

    Examples
    --------
    >>> joint_refusal(BudgetPolicy(budget=1.0), {2026: ({}, None)}) is None
    True
    >>> joint_refusal(BudgetPolicy(budget=1.0), {2027: ({}, "every school passes")})
    "the target 'every school passes' is planned year by year"
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
    afresh; for ``minimax`` and ``lexicographic`` the largest avoidable shortfall of any school
    in any year, ``max_t minimax_t``. Any plan over years (joint or year by year) is valued the
    same way.

    The unavoidable shortfall of year t (:func:`~allocator.planners.budget.measures.unavoidable`)
    is measured on the first year's region with year t's pupils and nothing bought: a unit cap
    bounds everything bought up to year t (``X_t <= cap_t``), so what is bought in earlier years
    uses up the cap rather than lowering the shortfall no plan can avoid.
    (Measured on :meth:`region_in`, the caps would start again from the stock bought so far, and
    a plan that bought up to the cap of a school whose pupils grow would show a shortfall it
    could not avoid as avoidable.)"""
    weights = year_weights(plan.years, 0.0)
    policy = every_target_in_play(policy, plan.targets)
    start = plan.regions[plan.years[0]]
    values = []
    for w, year in zip(weights, plan.years, strict=True):
        pol = year_policy(policy, plan.targets[year][0], 0.0)
        data = prepare(plan.region_in(year), pol)
        ubar = None
        if policy.objective in ("minimax", "lexicographic"):
            before = plan.regions[year]
            ubar = unavoidable(prepare(year_region(start, before.schools, before.settlements), pol))
        m = plan_measures(data, data.v0, 0.0, ubar=ubar)
        if policy.objective in ("shortfall", "gap"):
            values.append(w * m[policy.objective])
        else:
            values.append(m["minimax"])
    if policy.objective in ("shortfall", "gap"):
        return float(sum(values))
    return float(max(values, default=0.0))


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


def _money(cs, cys, years, rate):
    """Each year's x block's money over the horizon (its price in its year, then the yearly items
    again in every later year), discounted at ``rate`` to the first year."""
    disc = (1.0 + rate) ** -(np.asarray(years, float) - years[0])
    return [cs * disc[k] + cys * disc[k + 1 :].sum() for k in range(len(years))]


def _stage_rows(b, t, y, xs, S, stage, weights, fix_z, z):
    """Year t's objective rows: shortfalls (u_t), gaps (g_t) or the minimax rows on z."""
    m, year = y.model, y.year
    u = None
    if stage in ("shortfall", "cost", "minimax"):
        cost = weights[t] * m.w_d if stage == "shortfall" else 0.0
        u = b.add_columns(f"u{t}", m.nd, cost=cost)
        terms = {xs[k]: y.A @ S for k in range(t + 1)}
        b.add_rows(f"shortfall_{year}", m.nd, {**terms, u: sp.identity(m.nd)}, lower=m.sf0_d)
    elif m.ng:
        g = b.add_columns(f"g{t}", m.ng, cost=weights[t] / m.ng)
        eye = sp.identity(m.ng)
        b.add_rows(f"gap_above_{year}", m.ng, {**{xs[k]: -y.D @ S for k in range(t + 1)},
                                             g: eye}, lower=m.d0)  # fmt: skip
        b.add_rows(f"gap_below_{year}", m.ng, {**{xs[k]: y.D @ S for k in range(t + 1)},
                                             g: eye}, lower=-m.d0)  # fmt: skip
    if (stage == "minimax" or fix_z is not None) and len(m.live):
        # the weakest school-year: A_t X_t + z >= sf0 - ubar on the rows that can bind
        n = len(m.live)
        terms = {xs[k]: y.A[m.live] @ S for k in range(t + 1)}
        b.add_rows(f"minimax_{year}", n, {**terms, z: np.ones((n, 1))}, lower=m.r_live)
    return u


def _build(years, years_data, spec, policy, stage, region_schools, fix=(None, None)):
    """The joint model (see the module) of one stage (``shortfall``, ``gap``, ``minimax`` or
    ``cost``), keeping the minimax level and the shortfall ``fix`` = (z, s) when given."""
    money, carry_over, yearly, weights = spec
    fix_z, fix_s = fix
    first = years_data[0].data
    J = first.J
    common = years_data[0].common
    N = len(common)
    cost = np.zeros(N * J)
    for y in years_data:
        cost[y.P.indices] = y.data.cost.ravel()
    c_y = np.where(np.tile(first.catalogue["intervention"].isin(yearly).to_numpy(), N), cost, 0.0)
    integer = np.tile(first.integer & (not policy.relax), N)
    gain = np.zeros(N * J)
    for y in years_data:
        rows = [m for m in (y.A, y.D) if m is not None and m.shape[0]]
        if rows:
            gain = np.maximum(gain, abs(sp.vstack(rows)).max(axis=0).toarray().ravel())
    scale = np.where(integer | (gain <= 0), 1.0, 1.0 / np.where(gain > 0, gain, 1.0))
    cs, cys = cost * scale, c_y * scale
    bs = max(float(money.max()), 1.0)
    worth = _money(cs, cys, years, policy.discount_rate)
    cost_norm = max(max((float(w.max()) for w in worth if w.size), default=1.0), 1e-9)
    b = ModelBuilder()
    xs = []
    for t, y in enumerate(years_data):
        upper = np.where(y.live, y.cap, 0.0) / scale
        x_cost = worth[t] / cost_norm if stage == "cost" else 0.0
        xs.append(b.add_columns(f"x{t}", N * J, cost=x_cost, upper=upper, integer=integer))
    z = None
    if stage == "minimax" or fix_z is not None:
        z = b.add_columns("z", 1, cost=1.0 if stage == "minimax" else 0.0,
                          upper=np.inf if fix_z is None else fix_z)  # fmt: skip
    S = sp.diags(scale)
    view = _spending_view(first, region_schools, common, J)
    weighted = []
    for t, y in enumerate(years_data):
        u = _stage_rows(b, t, y, xs, S, stage, weights, fix_z, z)
        if u is not None:
            weighted.append((u, weights[t] * y.model.w_d))
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
    if fix_s is not None and weighted:
        b.add_rows("stage_shortfall", 1, {u: w.reshape(1, -1) for u, w in weighted}, upper=fix_s)
    return b.build(), xs, scale, cost, cost_norm


#: The stages of each objective: the weakest school-year first, then shortfall, then cost.
STAGES = {
    "shortfall": ("shortfall",),
    "gap": ("gap",),
    "minimax": ("minimax", "cost"),
    "lexicographic": ("minimax", "shortfall", "cost"),
}


def _solve_stages(years, arrays, spec, policy, region_schools, options, say):
    """Solve the objective's stages in turn; (model, xs, scale, solution, stage infos)."""
    tol = policy.stage_tolerance
    fix_z = fix_s = None
    infos, first_value = [], None
    stages = STAGES[policy.objective]
    for n, stage in enumerate(stages, 1):
        say(f"solving the joint model of {len(years)} years: stage {n}/{len(stages)}, {stage}")
        model, xs, scale, _, _ = _build(
            years, arrays, spec, policy, stage, region_schools, (fix_z, fix_s)
        )
        try:
            sol = solve_matrix(model, options=options)
        except Infeasible as exc:
            raise Infeasible(
                "no plan over the years meets every year's targets within its money: "
                + exc.message,
                exc.violations,
            ) from None
        value = float(sol.info.objective)
        first_value = value if first_value is None else first_value
        infos.append(sol.info)
        if stage == "minimax":
            fix_z = value + tol * max(abs(value), 1e-3)
        elif stage == "shortfall" and len(stages) > 1:
            fix_s = value + tol * max(abs(value), 1e-3)
    return model, xs, scale, sol, infos, first_value


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
    for year, d, (_, pol) in zip(years, prepared, years_data, strict=True):
        y = _year_arrays(d, pol, relax, common, J)
        y.common, y.year = common, year
        arrays.append(y)
    weights = year_weights(years, 0.0)
    opts = options or SolverOptions()
    model, xs, scale, sol, infos, value = _solve_stages(
        years, arrays, (money, carry_over, yearly, weights), policy, region.schools, opts, say
    )
    units = []
    for t, x in enumerate(xs):
        v = model.column_values(sol.x, x.name) * scale
        v = np.where(np.tile(prepared[t].integer & (not relax), len(common)), np.round(v), v)
        units.append(np.where(np.abs(v) < 1e-9, 0.0, np.maximum(v, 0.0)))
    status = worst_status(*(i.status for i in infos))
    gaps = [i.gap for i in infos if i.gap is not None]
    bound = infos[0].bound if len(infos) == 1 else None
    seconds = float(sum(i.seconds for i in infos))
    info = SolveInfo(status, value, bound, max(gaps) if gaps else None, seconds, infos[0].solver)
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
        mine, notes = round_purchases(data, pol, mine, purchase_steps(data.catalogue, policy.relax))
        missed = unmet(data, mine)
        if missed:
            raise SolverError(f"the joint plan misses in {year} the targets {missed}")
        after = applied_values(data, mine)
        stages = [(policy.objective, info)]
        plan = build_plan(data, pol, mine, after, policy.objective, info, stages, None,
                          policy.relax, notes)  # fmt: skip
        plans[year], regions[year] = plan, before
        current = plan.apply(before)
        left = max(available - plan.spent, 0.0)
        rows.append((year, float(money[t]), carried, running, available, float(plan.spent), left))
        alloc = plan.allocations
        running += float(alloc.loc[alloc["intervention"].isin(yearly), "cost"].sum())
        carried = left if carry_over else 0.0
    return plans, regions, rows, info
