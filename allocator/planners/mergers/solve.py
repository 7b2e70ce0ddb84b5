"""Solving one planning unit's model: the MILP, split pupils made whole, the classrooms the
assignment needs, the check of the result, and a solver infeasibility restated in pupils.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from allocator.errors import Infeasible, SolverError
from allocator.planners.mergers.columns import PLANNED_BANDS, TOL, YUAN_SCALE
from allocator.planners.mergers.data import County, nearest_before
from allocator.planners.mergers.model import boarding_scale, linear_model
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.result import (
    CountyResult,
    available,
    check_plan,
    plan_objective,
    school_loads,
    today_pupils,
)
from allocator.planners.mergers.sets import CountyModel, build_model, unservable_error
from allocator.solver import (
    LinearModel,
    SolverOptions,
    binary_values,
    solve_matrix,
    worst_status,
)


def _check_servable(model: CountyModel, before_minutes: np.ndarray) -> None:
    """Raise Infeasible naming the settlement bands no allowed school can serve."""
    exc = unservable_error(model, before_minutes)
    if exc is not None:
        raise exc


def solve_unit(unit: County, policy: MergerPolicy, options: SolverOptions) -> CountyResult:
    """Solve one planning unit's MILP and return its checked plan; raise Infeasible (in pupils
    and settlements) when no plan meets the rules."""
    travel_mode = unit.max_schools is not None
    before_idx, before_minutes = nearest_before(unit, policy)
    model = build_model(unit, policy, travel_mode, (before_idx, before_minutes))
    _check_servable(model, before_minutes)
    forced = int(model.fixed_open.sum())
    if unit.max_schools is not None and forced > unit.max_schools:
        raise Infeasible(
            f"{unit.name}: max_schools={unit.max_schools} but the keep rules already keep "
            f"{forced} schools; raise max_schools or relax the keep rules",
            {"max_schools": float(forced - unit.max_schools)},
        )
    linear = linear_model(model, travel_mode)
    t0 = time.perf_counter()
    main = options
    if model.split_pair.any():  # leave room in the gap for making split pupils whole
        main = dataclasses.replace(options, mip_gap=0.8 * options.mip_gap)
    sol = _solve(model, linear, main)
    info = sol.info
    x = linear.column_values(sol.x, "x")
    if (model.split_pair & (np.abs(x - np.round(x)) > 1e-6)).any():
        residual = whole_pupils(model, linear, sol.x, options)
        info = dataclasses.replace(
            residual.info,
            status=worst_status(info.status, residual.info.status),
            bound=info.bound,  # the model above is a relaxation: its bound stays valid
            seconds=time.perf_counter() - t0,
        )
        sol = residual
    if not travel_mode:  # back from thousands of yuan
        info = dataclasses.replace(
            info,
            objective=None if info.objective is None else info.objective * YUAN_SCALE,
            bound=None if info.bound is None else info.bound * YUAN_SCALE,
        )
    x = linear.column_values(sol.x, "x")
    pupils = np.where(
        model.split_pair,
        np.round(x),
        binary_values(x) * unit.demand[model.ps, model.pb],
    ).astype(np.int64)
    result = CountyResult(
        unit,
        model,
        info,
        pupils,
        binary_values(linear.column_values(sol.x, "y")),
        binary_values(linear.column_values(sol.x, "w")),
        np.zeros(model.n_schools),
        before_idx,
        before_minutes,
        options.mip_gap,
        linear.shape,
    )
    _finish(result, travel_mode)
    return result


def whole_pupils(model: CountyModel, linear: LinearModel, x: np.ndarray, options: SolverOptions):
    """Make continuous split pupils whole, every other decision fixed but classrooms.

    Each split pair may round its pupils down or up (a 0/1 choice: small domains keep HiGHS
    fast); if no rounding fits, the pairs may move two pupils either way, then anything.
    """
    pairs = linear.columns["x"]
    cl, cu = linear.col_lower.copy(), linear.col_upper.copy()
    fixed = np.ones(len(cl), dtype=bool)
    fixed[pairs] = ~model.split_pair
    fixed[linear.columns["k"].start :] = False  # classrooms, funding floor and growth stay free
    values = np.round(x)
    cl[fixed], cu[fixed] = values[fixed], values[fixed]
    integ = linear.integrality.copy()
    integ[pairs] = True
    split = pairs.start + np.flatnonzero(model.split_pair)
    low, high = np.floor(x[split] + 1e-9), np.ceil(x[split] - 1e-9)
    # a small model: solve it well inside the gap left for it
    options = dataclasses.replace(options, mip_gap=0.05 * options.mip_gap)
    for slack in (1.0, None):
        if slack is None:
            cl[split], cu[split] = 0.0, linear.col_upper[split]
        else:
            cl[split] = np.maximum(low - slack, 0.0)
            cu[split] = np.minimum(high + slack, linear.col_upper[split])
        try:
            bounded = linear.with_column_bounds(lower=cl, upper=cu, integrality=integ)
            return _solve(model, bounded, options)
        except Infeasible:
            if slack is None:
                raise
    raise AssertionError("unreachable")


def _solve(model: CountyModel, linear: LinearModel, options: SolverOptions):
    """Solve the unit's model; an infeasibility is restated in pupils and settlements."""
    try:
        return solve_matrix(linear, options=options)
    except Infeasible as exc:
        raise explain_infeasible(model, exc) from exc


def explain_infeasible(model: CountyModel, exc: Infeasible) -> Infeasible:
    """Restate a solver infeasibility in pupils and name the settlements and their schools."""
    unit = model.unit
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    index = {(sid[s], PLANNED_BANDS[b]): (s, b) for s, b in zip(ds, db, strict=True)}
    violations, words, settlements = {}, [], []
    where = {sch: j for j, sch in enumerate(ids)}
    scale = boarding_scale(model)
    boarding = False

    def size(item):  # boarding rows are scaled: compare them in pupils
        kind, _, school = item[0].partition(" ")
        return -item[1] * (scale.get(where.get(school), 1.0) if kind == "boarding" else 1.0)

    for group, amount in sorted(exc.violations.items(), key=size):
        parts = group.split(" ", 1)
        if parts[0] == "boarding" and where.get(parts[1]) in scale:
            j = where[parts[1]]
            pupils = amount * scale[j]
            boarding = True
            violations[group] = float(pupils)
            places = unit.boarding_places[j]
            today = model.boarders_now[j]
            words.append(
                f"boarding places of {parts[1]}: {pupils:.0f} boarders more than its "
                f"{model.boarding[j]:g} places"
                + (f" ({today:g} board there today)" if today > places else "")
            )
            continue
        parts = group.split(" ")
        if parts[0] == "serve" and (parts[1], parts[2]) in index:
            s, b = index[(parts[1], parts[2])]
            pupils = amount if model.split_band[s, b] else amount * unit.demand[s, b]
            reach = ids[np.unique(model.pj[(model.ps == s) & (model.pb == b)])]
            violations[group] = float(pupils)
            settlements.append(parts[1])
            words.append(
                f"{parts[1]} {parts[2]}: {pupils:.0f} of {unit.demand[s, b]} pupils find no seat "
                f"(schools in reach: {', '.join(reach[:4])}{' ...' if len(reach) > 4 else ''})"
                + seat_shortage(model, s, b)
            )
        else:
            violations[group] = float(amount)
            words.append(f"{group} (short by {amount:.4g})")
    if not words:
        return Infeasible(f"{unit.name}: {exc.message}", exc.violations)
    message = (
        f"{unit.name}: no plan meets every requirement: {'; '.join(words[:5])}"
        + (f" and {len(words) - 5} more" if len(words) > 5 else "")
        + "; allow expansions (max_expansion_share), splitting, boarding or longer trips"
        + (" or add boarding places (column boarding_places)" if boarding else "")
    )
    out = Infeasible(message, violations)
    out.settlements = sorted(set(settlements))
    return out


def seat_shortage(model: CountyModel, s: int, b: int) -> str:
    """Where settlement ``s``'s band ``b`` finds no seat because its schools have too few: the
    pupils that can go only to those schools against the most seats they can have (their seats
    plus the expansion allowed, or the pupils they hold, where more), as words; "" otherwise.

    Examples
    --------
    >>> from allocator.planners.mergers.data import make_unit
    >>> from allocator.synth import make_region
    >>> every = slice(None)
    >>> unit = make_unit(make_region(schools=20, seed=1), "all", every, every, None, 180.0)
    >>> model = build_model(unit, MergerPolicy(), False)
    >>> seat_shortage(model, 0, 0)
    ''
    """
    unit = model.unit
    reach = np.zeros(model.n_schools, dtype=bool)
    reach[model.pj[(model.ps == s) & (model.pb == b)]] = True
    if not reach.any():
        return ""
    # the settlement bands whose every school is one of these
    outside = np.zeros(unit.demand.shape, dtype=bool)
    outside[model.ps[~reach[model.pj]], model.pb[~reach[model.pj]]] = True
    listed = np.zeros(unit.demand.shape, dtype=bool)
    listed[model.ps, model.pb] = True
    need = float(unit.demand[listed & ~outside].sum())
    most = np.maximum(model.today, model.seats + model.room_seats * model.max_rooms)
    have = float(most[reach].sum())
    if need <= have:
        return ""
    share = f"{100 * model.policy.max_expansion_share:g}"
    return (
        f"; they must seat {need:.0f} pupils, and their seats plus the {share} % expansion "
        f"allowed (or the pupils they hold, where more) give {have:.0f}"
    )


def _finish(res: CountyResult, travel_mode: bool) -> None:
    """Choose the fewest classrooms the assignment needs, then verify the plan against the model."""
    model, unit, policy = res.model, res.unit, res.model.policy
    load = school_loads(res)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    seats, classes, size = available(res)
    need_seats = np.ceil((load.sum(axis=1) - seats) / model.room_seats - 1e-7)
    need_seats[load.sum(axis=1) <= today_pupils(res) + TOL] = 0  # no more than today
    need_classes = np.ceil((load / cap_b).sum(axis=1) - classes - 1e-7)
    res.rooms = np.maximum(0, np.maximum(need_seats, need_classes)).astype(np.int64)
    check_plan(res, load, seats, classes, size)
    objective = plan_objective(res, travel_mode)
    info = res.info
    scale = max(1.0, abs(info.objective or 0.0))
    if info.objective is not None and objective > info.objective + 1e-6 * scale:
        raise SolverError(
            f"{unit.name}: the plan's recomputed objective {objective:.6g} exceeds the solver's "
            f"{info.objective:.6g}",
            info,
        )
    bound = info.bound
    gap = info.gap
    if bound is not None and math.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
        if info.status == "optimal" and objective < bound - 1e-6 * scale:
            raise SolverError(f"{unit.name}: plan objective below the proven bound", info)
    status = info.status
    if status == "optimal" and gap is not None and gap > res.mip_gap * (1 + 1e-6) + 1e-9:
        status = "feasible"  # rounding the split pupils cost more than the tolerance allows
    res.info = dataclasses.replace(info, status=status, objective=objective, gap=gap)
