"""The consolidation model of one county over several years (a multi-period MILP).

Model
-----
One copy of the one-year model (:mod:`allocator.planners.mergers.model`) per planning year t,
built from the region of that year (:mod:`allocator.planners.mergers.horizon`: the year's pupils by
settlement and band, and its schools' pupils by today's catchments, which decide the ``min_size``
keep rule of that year), so that every year's pupils are placed within that year's travel limits,
seats, class and school sizes. The copies are linked:

* a school closes in a year and stays closed: y_j,t+1 <= y_j,t (a candidate site, once built,
  stays open: y_j,t <= y_j,t+1); a nine-year conversion, once made, stays: w_ah,t <= w_ah,t+1
  (a conversion offered in year t but not in a later year is not offered in t);
* classrooms added stay: k_j,t <= k_j,t+1, and k_j,t are the rooms that exist in year t, so that
  the seats pupils use in year t are built in year t or before (build first, the 2012 rule: 国务院
  办公厅《关于规范农村义务教育学校布局调整的意见》, 国办发〔2012〕48号);
* no pupil moves twice within ``policy.settle_years`` years: a school that received pupils from a
  closure does not close right after (:mod:`allocator.planners.mergers.moves`);
* objective: sum_t W_t c_t (the year's recurrent cost in yuan, or pupil-minutes with
  ``max_schools``), W_t the discount factors of the calendar years planning year t stands for at
  ``policy.discount_rate`` (:func:`~allocator.planners.years.year_weights`; pupil-minutes
  are not discounted), plus capital once, in the year it falls: a new site's build cost in the
  year it opens and added seats' build cost in the year they are built, discounted, less their
  residual value at the end of the horizon (:mod:`allocator.planners.mergers.years_costs`). Yearly
  costs are the one-year model's: a site's upkeep each year it is open (a new site's
  ``annual_cost``), transport, boarding, the funding floor.

Solving
-------
``method="whole"``: the linked model of every year at once. Its optimum is the optimum of the
multi-period model; split pupils are made whole afterwards year by year with every closure fixed
(as in the one-year planner), and the plan's gap is measured against the bound of the linked
model, so the status says ``optimal`` only when the plan is within ``mip_gap`` of it.

``method="rolling"`` (used when the linked model would exceed :data:`MAX_COLUMNS` columns): a
rolling horizon. Years are solved in windows of :data:`WINDOW` years; the first year of each window
is fixed (its closures, conversions and classrooms bind the later years) and the window moves on by
one year; each window carries the moves of the years fixed before it into the ``settle_years``
rule, so that rule holds across windows. It has no optimality guarantee (it cannot see beyond its window, and a closure fixed early
can make a later window infeasible, which is then reported); its plans are labelled ``feasible``
with no bound.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.planners.mergers.columns import PLANNED_BANDS, TOL, YUAN_SCALE
from allocator.planners.mergers.data import County, nearest_before
from allocator.planners.mergers.model import linear_model
from allocator.planners.mergers.moves import settle_rows
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
from allocator.planners.mergers.solve import whole_pupils
from allocator.planners.mergers.verify import check_county, split_today
from allocator.planners.mergers.years_costs import price_years, year_costs
from allocator.solver import (
    ColumnBlock,
    LinearModel,
    RowBlock,
    SolveInfo,
    SolverOptions,
    binary_values,
    checked_start,
    completed_start,
    solve_matrix,
    worst_status,
)

#: Largest linked model (columns) solved at once; larger ones roll over the years.
MAX_COLUMNS = 400_000
#: Years a rolling window looks at.
WINDOW = 2
#: Gap of the rolling windows that make a MIP start (the start needs to be good, not proven).
START_GAP = 0.01


@dataclass
class YearsResult:
    """One county's plan over the years: a solved one-year result per year, linked."""

    name: str
    years: tuple[int, ...]
    results: list[CountyResult]
    info: SolveInfo
    method: str
    shape: tuple[int, int]
    nonzeros: int = 0
    costs: object = None  # yuan by year (years_costs.COST_COLUMNS); None with max_schools


@dataclass(frozen=True)
class _Year:
    """One year's model, its MILP and where its columns sit in the linked model."""

    unit: County
    model: CountyModel
    linear: LinearModel
    before: tuple


def _year(unit: County, policy: MergerPolicy, travel_mode: bool) -> _Year:
    before = nearest_before(unit, policy)
    model = build_model(unit, policy, travel_mode, before)
    exc = unservable_error(model, before[1])
    if exc is not None:
        raise exc
    return _Year(unit, model, linear_model(model, travel_mode), before)


def _stack(parts: list[_Year], weights: np.ndarray, years) -> tuple[LinearModel, list[int]]:
    """The years' MILPs side by side (no links yet), each objective times its weight."""
    offsets = list(np.cumsum([0] + [p.linear.shape[1] for p in parts[:-1]]))
    row_offsets = list(np.cumsum([0] + [p.linear.shape[0] for p in parts[:-1]]))
    col_blocks, row_blocks, groups = [], [], []
    for p, year, off, roff in zip(parts, years, offsets, row_offsets, strict=True):
        lin = p.linear
        col_blocks += [ColumnBlock(f"{b.name}@{year}", b.start + off, b.shape)
                       for b in lin.column_blocks]  # fmt: skip
        row_blocks += [RowBlock(f"{b.name}@{year}", b.start + roff, b.size) for b in lin.row_blocks]
        groups += [f"{year} {g}" for g in lin.row_groups]
    linked = LinearModel(
        c=np.concatenate([w * p.linear.c for w, p in zip(weights, parts, strict=True)]),
        A=sp.block_diag([p.linear.A for p in parts], format="csc"),
        row_lower=np.concatenate([p.linear.row_lower for p in parts]),
        row_upper=np.concatenate([p.linear.row_upper for p in parts]),
        col_lower=np.concatenate([p.linear.col_lower for p in parts]),
        col_upper=np.concatenate([p.linear.col_upper for p in parts]),
        integrality=np.concatenate([p.linear.integrality for p in parts]),
        row_groups=tuple(groups),
        column_blocks=tuple(col_blocks),
        row_blocks=tuple(row_blocks),
    )
    return linked, [int(o) for o in offsets]


def _conv_index(model: CountyModel) -> dict[tuple[int, int], int]:
    return {(int(a), int(h)): w for w, (a, h) in enumerate(model.conv)}


def _links(parts: list[_Year], offsets: list[int], n_cols: int):
    """Rows a_t - a_t+1 <= 0 (closed stays closed, sites and conversions and rooms stay), and the
    conversions that must stay unmade (not offered in a later year)."""
    rows, cols, vals = [], [], []
    off_limits = []
    r = 0
    for t in range(len(parts) - 1):
        now, nxt = parts[t], parts[t + 1]
        cand = now.unit.candidate
        for block in ("y", "k"):
            a = now.linear.columns[block].start + offsets[t]
            b = nxt.linear.columns[block].start + offsets[t + 1]
            n = now.model.n_schools
            sign = np.where(cand, -1.0, 1.0) if block == "y" else np.full(n, -1.0)
            # y: existing schools y_t+1 - y_t <= 0, candidates y_t - y_t+1 <= 0; k: k_t - k_t+1
            idx = np.arange(n)
            rows += [r + idx, r + idx]
            cols += [b + idx, a + idx]
            vals += [sign, -sign]
            r += n
        later = _conv_index(nxt.model)
        w0 = now.linear.columns["w"].start + offsets[t]
        w1 = nxt.linear.columns["w"].start + offsets[t + 1]
        for pair, w in _conv_index(now.model).items():
            if pair in later:
                rows.append(np.array([r]))
                cols += [np.array([w0 + w]), np.array([w1 + later[pair]])]
                rows.append(np.array([r]))
                vals += [np.array([1.0]), np.array([-1.0])]
                r += 1
            else:
                off_limits.append(w0 + w)
    if not rows:
        return sp.csc_matrix((0, n_cols)), off_limits
    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_cols)
    )
    return matrix, off_limits


def _window_model(parts, weights, years, fixed: dict | None, settle: int = 0, rate=None, past=()):
    """The linked model of ``parts``; ``fixed`` bounds the first year's y, w, k from the year
    before it (closed stays closed, built stays built); ``past``: the shares of the years fixed
    before it, for the ``settle_years`` rule (:func:`settle_rows`). ``rate``: the discount rate, to price new
    sites and added rooms as capital in the year they fall (None: pupil-minutes)."""
    linked, offsets = _stack(parts, weights, years)
    if rate is not None:
        c = price_years(linked.c, parts, offsets, weights, years, rate)
        linked = linked.with_objective(c)
    links, off_limits = _links(parts, offsets, linked.shape[1])
    upper = linked.col_upper.copy()
    lower = linked.col_lower.copy()
    upper[off_limits] = 0.0
    if fixed is not None:
        first = parts[0]
        y = first.linear.columns["y"]
        cand = first.unit.candidate
        upper[y] = np.where(cand | fixed["open"], upper[y], 0.0)
        lower[y] = np.where(cand & fixed["open"], 1.0, lower[y])
        k = first.linear.columns["k"]
        lower[k] = np.minimum(fixed["rooms"], upper[k])
        index = _conv_index(first.model)
        w0 = first.linear.columns["w"].start
        for pair in fixed["converted"]:
            if pair in index:
                lower[w0 + index[pair]] = 1.0
    linked = linked.with_column_bounds(lower=lower, upper=upper)
    if links.shape[0]:
        linked = linked.with_rows("closed_stays_closed", links, upper=0.0)
    pairs = [(p.model, p.linear) for p in parts]
    return settle_rows(linked, pairs, offsets, years, settle, past), offsets


def _solve_linked(
    linked: LinearModel, name: str, years, options: SolverOptions, fixed=None, start=None
):
    try:
        return solve_matrix(linked, options=options, start=start)
    except Infeasible as exc:
        worst = sorted(exc.violations.items(), key=lambda kv: -kv[1])[:5]
        words = "; ".join(f"{g} (short by {v:.4g})" for g, v in worst)
        out = Infeasible(
            f"{name}: no plan over {years[0]}-{years[-1]} meets every requirement in every year"
            + (f": {words}" if words else "")
            + (
                f" with the closures and classrooms of {fixed} fixed by the rolling horizon "
                "(method='whole' may find a plan)"
                if fixed is not None
                else ""
            )
            + "; allow expansions (max_expansion_share), splitting, boarding or longer trips",
            exc.violations,
        )
        raise out from exc


def _decisions(part: _Year, x: np.ndarray, options: SolverOptions):
    """(pupils per pair, open, converted) of one year from its slice of the solution."""
    model, linear = part.model, part.linear
    values = linear.column_values(x, "x")
    if (model.split_pair & (np.abs(values - np.round(values)) > 1e-6)).any():
        x = whole_pupils(model, linear, x, options).x
        values = linear.column_values(x, "x")
    pupils = np.where(
        model.split_pair,
        np.round(values),
        binary_values(values) * part.unit.demand[model.ps, model.pb],
    ).astype(np.int64)
    return (
        pupils,
        binary_values(linear.column_values(x, "y")),
        binary_values(linear.column_values(x, "w")),
    )


def _shares_of(part: _Year, pupils: np.ndarray) -> dict:
    """{(settlement, band, school): share of the band's pupils} of one decided year."""
    model = part.model
    demand = part.unit.demand[model.ps, model.pb].astype(float)
    share = np.divide(pupils, demand, out=np.zeros(len(pupils)), where=demand > 0)
    keep = np.flatnonzero(share > 0)
    return {(int(model.ps[p]), int(model.pb[p]), int(model.pj[p])): float(share[p]) for p in keep}


def _needed_rooms(res: CountyResult) -> np.ndarray:
    """The fewest classrooms the year's assignment needs at each school."""
    model, policy = res.model, res.model.policy
    load = school_loads(res)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    seats, classes, _ = available(res)
    need_seats = np.ceil((load.sum(axis=1) - seats) / model.room_seats - 1e-7)
    need_seats[load.sum(axis=1) <= today_pupils(res) + TOL] = 0
    need_classes = np.ceil((load / cap_b).sum(axis=1) - classes - 1e-7)
    return np.maximum(0, np.maximum(need_seats, need_classes)).astype(np.int64)


def solve_years(
    units: list[County],
    policy: MergerPolicy,
    options: SolverOptions,
    years: tuple[int, ...],
    weights: np.ndarray,
    method: str | None = None,
    start: bool = False,
) -> YearsResult:
    """Solve one county over the years (see the module docstring) and check every year's plan.

    ``units`` are the county's arrays of each year (same schools, that year's pupils).
    ``method``: ``"whole"``,
    ``"rolling"`` or None (whole unless larger than :data:`MAX_COLUMNS` columns). ``start``
    (whole only): solve the rolling horizon first and start the linked model's search from its
    plan (a MIP start: the same optimum and gap, an incumbent from the first node on).
    """
    t0 = time.perf_counter()
    name = units[0].name
    ids = list(units[0].schools["school_id"])
    for unit, year in zip(units, years, strict=True):
        if list(unit.schools["school_id"]) != ids:
            raise InputError(
                f"{name}: the schools planned in {year} differ from those of {years[0]}; expected "
                "the same schools every year",
                table="schools",
                column="school_id",
            )
    travel_mode = units[0].max_schools is not None
    rate = None if travel_mode else policy.discount_rate
    parts = [_year(u, policy, travel_mode) for u in units]
    size = sum(p.linear.shape[1] for p in parts)
    if method is None:
        method = "whole" if size <= MAX_COLUMNS else "rolling"
    main = options
    if any(p.model.split_pair.any() for p in parts):  # leave room for making split pupils whole
        main = dataclasses.replace(options, mip_gap=0.8 * options.mip_gap)
    if method == "whole":
        linked, offsets = _window_model(parts, weights, years, None, policy.settle_years, rate)
        first, before = None, []
        if start:
            first, before = rolling_start(linked, parts, weights, years, policy, rate, main)
        sol = _solve_linked(linked, name, years, main, start=first)
        infos = [_with_work(sol.info, before)]
        shape = linked.shape
        nonzeros = int(linked.A.nnz)
        decisions = [
            _decisions(p, _slice(sol, off, p), options)
            for p, off in zip(parts, offsets, strict=True)
        ]
    else:
        out = _rolling(parts, weights, years, policy, rate, main, options)
        decisions, infos, shape, nonzeros, _ = out
    out = _finish_years(parts, decisions, infos, (weights, rate), years, method, shape, options,
                        t0)  # fmt: skip
    out.nonzeros = nonzeros
    return out


def _rolling(parts, weights, years, policy, rate, main, options):
    """The rolling horizon: (decisions, infos, largest shape, largest nonzeros, each year's slice
    of its window's solution)."""
    name = parts[0].unit.name
    decisions, infos, slices = [], [], []
    shape, nonzeros = (0, 0), 0
    fixed, past = None, []
    for t in range(len(parts)):
        window = parts[t : t + WINDOW]
        span = years[t : t + WINDOW]
        linked, offsets = _window_model(
            window, weights[t : t + WINDOW], span, fixed, policy.settle_years,
            rate,
            past[-(policy.settle_years + 1) :] if policy.settle_years else (),
        )  # fmt: skip
        shape = (max(shape[0], linked.shape[0]), max(shape[1], linked.shape[1]))
        nonzeros = max(nonzeros, int(linked.A.nnz))
        sol = _solve_linked(linked, name, span, main, None if t == 0 else years[t - 1])
        infos.append(sol.info)
        mine = _slice(sol, 0, parts[t])
        slices.append(mine)
        pupils, open_, conv = _decisions(parts[t], mine, options)
        decisions.append((pupils, open_, conv))
        past.append((years[t], _shares_of(parts[t], pupils)))
        fixed = {
            "open": open_,
            "rooms": np.round(parts[t].linear.column_values(mine, "k")),
            "converted": [
                tuple(int(v) for v in parts[t].model.conv[w]) for w in np.flatnonzero(conv)
            ],  # fmt: skip
        }
    return decisions, infos, shape, nonzeros, slices


def rolling_start(linked, parts, weights, years, policy, rate, main):
    """(start, infos): the rolling-horizon plan as a start of the linked model (its integer
    decisions, the continuous columns completed by an LP, checked against every row), or None
    when the rolling
    horizon finds no plan or its plan does not fit the linked model; and the SolveInfo of the
    rolling windows (their work counts in the county's)."""
    rough = dataclasses.replace(main, mip_gap=max(main.mip_gap, START_GAP))  # a start, no more
    try:
        _, infos, _, _, slices = _rolling(parts, weights, years, policy, rate, rough, rough)
    except Infeasible:
        return None, []
    x = np.zeros(linked.shape[1])
    x[: sum(len(v) for v in slices)] = np.concatenate(slices)
    try:
        return checked_start(linked, completed_start(linked, x, main)), infos
    except (Infeasible, ValueError):
        return None, infos


def _with_work(info: SolveInfo, others) -> SolveInfo:
    """``info`` with the nodes and LP iterations of ``others`` added (None stays None)."""
    nodes, iterations = info.nodes, info.iterations
    for other in others:
        nodes = None if nodes is None or other.nodes is None else nodes + other.nodes
        if iterations is not None and other.iterations is not None:
            iterations += other.iterations
        else:
            iterations = None
    return dataclasses.replace(info, nodes=nodes, iterations=iterations)


def plan_county(
    units: list[County],
    policy: MergerPolicy,
    options: SolverOptions,
    years: tuple[int, ...],
    weights: np.ndarray,
    method: str | None = None,
    start: bool = False,
) -> YearsResult | Infeasible:
    """Check every year of one county before its solve (as the one-year planner does, marking
    the bands today's layout already fails), then solve it over the years; an Infeasible is
    returned, not raised, so that one county without a plan does not stop the others.

    With ``on_infeasible="report"``, a county whose villages cannot each send a whole band to one
    school in some year, not even to today's schools all open, is solved once more with the
    villages of that year allowed to split (as the one-year planner does; reported in that year's
    breaches). ``start``: as in :func:`solve_years`."""
    allow = policy.on_infeasible == "report"
    units = with_later_demand(units)
    checked = []
    try:
        for unit, year in zip(units, years, strict=True):
            unit, exc = check_county(unit, policy, options, allow)
            if exc is not None:
                return in_year(exc, unit.name, year)
            checked.append(unit)
        return solve_years(checked, policy, options, years, weights, method, start)
    except Infeasible as exc:
        if not allow or len(checked) < len(units):
            return exc
        marked, changed = [], False
        for unit in checked:
            split = split_today(unit, policy, options)
            if split is not None and split.any():
                if unit.split_today is not None:
                    split = split | unit.split_today
                unit = dataclasses.replace(unit, split_today=split)
                changed = True
            marked.append(unit)
        if not changed:
            return exc
        try:
            return solve_years(marked, policy, options, years, weights, method, start)
        except Infeasible as again:
            return again


def in_year(exc: Infeasible, name: str, year: int) -> Infeasible:
    """The check of one year's county as an Infeasible that names the year.

    Examples
    --------
    >>> in_year(Infeasible("Jiang: no plan meets every requirement"), "Jiang", 2028).message
    'Jiang in 2028: no plan meets every requirement'
    """
    head = f"{name}: "
    text = exc.message
    text = f"{name} in {year}: " + (text[len(head) :] if text.startswith(head) else text)
    out = Infeasible(text, exc.violations)
    if hasattr(exc, "settlements"):
        out.settlements = exc.settlements
    return out


def with_later_demand(units: list[County]) -> list[County]:
    """The county's units of each year, each told which bands have pupils that year or a later
    one (``County.later_demand``), so that the keep rules of a year hold what a later year's
    pupils need (a village with no school within its limit keeps its nearest school from the
    first year on, even in years it has no pupils)."""
    later = np.zeros(units[-1].demand.shape, dtype=bool)
    out = []
    for unit in reversed(units):
        if unit.demand.shape != later.shape:
            raise InputError(
                f"{unit.name}: the settlements planned differ between years; expected the same "
                "settlements every year",
                table="settlements",
                column="settlement_id",
            )
        later = later | (unit.demand > 0)
        out.append(dataclasses.replace(unit, later_demand=later.copy()))
    return out[::-1]


def _slice(sol, offset: int, part: _Year) -> np.ndarray:
    return np.asarray(sol.x)[offset : offset + part.linear.shape[1]]


def _finish_years(parts, decisions, infos, prices, years, method, shape, options, t0):
    """Each year's result with the classrooms built by then (never fewer than the year before),
    checked against that year's rules; the objective and gap of the whole plan (``prices``: the
    years' weights and the discount rate, None in travel mode)."""
    weights, rate = prices
    travel_mode = parts[0].unit.max_schools is not None
    results, rooms_before = [], np.zeros(parts[0].model.n_schools, dtype=np.int64)
    info0 = infos[0]
    for p, (pupils, open_, conv) in zip(parts, decisions, strict=True):
        res = CountyResult(
            p.unit, p.model, info0, pupils, open_, conv, np.zeros(p.model.n_schools),
            p.before[0], p.before[1], options.mip_gap, p.linear.shape,
        )  # fmt: skip
        rooms = np.maximum(_needed_rooms(res), rooms_before)
        rooms[~open_] = rooms_before[~open_]  # rooms of a closed school stay with its buildings
        res.rooms = rooms
        rooms_before = rooms
        load = school_loads(res)
        seats, classes, size = available(res)
        res.rooms = np.where(open_, rooms, 0)
        check_plan(res, load, seats, classes, size)
        res.rooms = rooms
        results.append(res)
    _check_links(results, years)
    costs = None
    if travel_mode:
        per_year = [plan_objective(r, travel_mode) for r in results]
        objective = float(np.dot(weights, per_year))
    else:
        costs, objective = year_costs(results, years, weights, rate)
        per_year = (costs["recurrent_yuan"] + costs["capital_yuan"]).tolist()
    scale = 1.0 if travel_mode else YUAN_SCALE
    status = worst_status(*(i.status for i in infos))
    bound = None
    gap = None
    if method == "whole":
        if infos[0].bound is not None and math.isfinite(infos[0].bound):
            bound = infos[0].bound * scale
            gap = abs(objective - bound) / max(abs(objective), 1e-9)
            if objective < bound - 1e-6 * max(1.0, abs(bound)):
                raise SolverError(f"{parts[0].unit.name}: plan objective below the bound", infos[0])
            if status == "optimal" and gap > options.mip_gap * (1 + 1e-6) + 1e-9:
                status = "feasible"
    else:
        status = worst_status(status, "feasible")
    seconds = time.perf_counter() - t0
    nodes = [i.nodes for i in infos]
    iterations = [i.iterations for i in infos]
    info = SolveInfo(
        status, objective, bound, gap, seconds, infos[0].solver,
        None if None in nodes else int(sum(nodes)),
        None if None in iterations else int(sum(iterations)),
    )  # fmt: skip
    for r, value in zip(results, per_year, strict=True):
        r.info = SolveInfo(status, value, None, None, seconds, info.solver)
    out = YearsResult(parts[0].unit.name, tuple(years), results, info, method, shape)
    out.costs = costs
    return out


def _check_links(results: list[CountyResult], years) -> None:
    """Closed stays closed, a built site stays open, conversions and classrooms stay."""
    ids = results[0].unit.schools["school_id"].to_numpy()
    cand = results[0].unit.candidate
    for a, b, year in zip(results, results[1:], years[1:], strict=False):
        reopened = ~cand & ~a.open_ & b.open_
        unbuilt = cand & a.open_ & ~b.open_
        lost = a.rooms > b.rooms
        bad = np.flatnonzero(reopened | unbuilt | lost)
        if len(bad):
            raise SolverError(
                f"{a.unit.name}: the plan of {year} undoes that of the year before at "
                f"{ids[bad[0]]}",
                a.info,
            )
