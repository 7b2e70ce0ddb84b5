"""The consolidation MILP of one planning unit, built with :class:`~allocator.solver.ModelBuilder`.

Model (one mixed-integer program per county; counties do not share pupils)
--------------------------------------------------------------------------
Norms (travel limits, class and school sizes) are the policy's, read from the standard unless
given (:class:`~allocator.planners.mergers.policy.MergerPolicy`).

Sets: demands d = (settlement s, band b) with P_d > 0 pupils, b in {lower_primary, upper_primary,
junior}; schools j of the county that teach one of those bands, and the county's candidate sites
for new schools (``candidate_sites``: closed before the plan, teaching the bands of their level);
candidate nine-year conversions (a, h): a primary and a junior school on one site (at most
``nine_year_site_minutes`` apart), school a absorbed by host h (existing schools only); allowed
pairs (d, j): j teaches b (or can, as a nine-year host) and the travel time t_sj <= the band's day
limit (day pupils) or, for bands that may board, <= the boarding limit (boarders); of these, each
demand keeps its ``day_candidates`` (8) nearest day schools and ``boarding_candidates`` (4) nearest
boarding schools among those the keep rules hold open, plus every nearer school that may close.
Only allowed pairs become variables.

Variables: x_dj in {0, 1} (the whole band goes to school j) for villages; for settlements that may
be split (urban communities by default, every settlement with ``split``) x_dj >= 0 is a count of
pupils; y_j in {0, 1} school j open; w_ah in {0, 1} conversion; k_j >= 0 integer classrooms added
(each adds u_j = 45 seats, 50 at junior-only schools); F_j >= 0 the funding-floor top-up.

Objective (cost mode): minimise annual yuan =
    sum_j site_cost_j y_j + sum_j F_j + sum_j e u_j k_j
    + sum_dj P_d x_dj (tau t_sj [rho if boarding] + [beta + lambda if boarding]),
with site_cost_j the yearly cost of keeping a site (``site_yuan``, or the schools' column
``site_cost_yuan`` where given: upkeep, administration, utilities; teachers' salaries are not saved,
as teachers move with the pupils; for a candidate site its ``annual_cost + build_cost /
build_years``: the one-off build cost spread evenly over ``build_years`` = 30 years, no
interest), e the annualised cost per added seat, tau the transport cost per pupil and minute of
one-way travel, rho the boarders' share of trips (they go home weekly), beta the extra
funding per boarder (200 yuan a year) and lambda the lodging cost. With ``max_schools = p``:
minimise pupil-minutes sum P_d t_sj x_dj subject to sum_j y_j <= p (expansions and new sites then
cost nothing, an opened candidate site counts as an open school, and the plan builds only the
classrooms its assignment needs).

Constraints:
    every demand placed: sum_j x_dj = 1;
    closed schools serve nobody: x_dj <= y_j (for a band a host only teaches after conversion:
    x_dj <= sum_a w_ah);
    seats: sum_d P_d x_dj <= max(C_j y_j + sum_a C_a w_aj + u_j k_j, N_j y_j + sum_a N_a w_aj),
    k_j <= the expansion limit (C_j the capacity less senior pupils, N_j the grade 1-9 pupils
    today: a school over its seats today may keep its pupils, and grows past them only within its
    seats; where N_j > C_j the max is two rows with a binary g_j);
    class sizes: sum_d P_d x_dj / cap_b <= K_j y_j + sum_a K_a w_aj + k_j (cap_b the class-size
    cap of the band, by default the standard's ``class_size.max``: 45 primary, 50 junior; K_j the
    school's classes);
    school size: sum_d P_d x_dj <= L_j y_j + (L9 - L_j)+ sum_a w_aj (L_j the size cap of the
    school's level, L9 the nine-year cap; by default the standard's ``school_size.max_pupils``:
    2000 primary/junior, 2500 nine-year);
    funding floor: F_j >= f (m y_j - sum_d P_d x_dj) (schools under m = 100 pupils are funded as if
    they had 100);
    boarding places, for schools with a limit: sum of P_d x_dj over j's boarding pairs
    <= B_j y_j + sum_a B_a w_aj (B the ``boarding_places`` column; a nine-year host gains the
    places of the school it absorbs, and has no limit if that school has none);
    conversions: y_a + sum_h w_ah <= 1, w_ah <= y_h, sum_a w_ah <= 1;
    kept schools: y_j = 1 for must-keep schools, for the only school within the day limit of some
    grade 1-3 pupils, and for schools that also teach senior high; schools with at least
    ``min_size`` pupils stay open or become part of a nine-year school (y_j + sum_h w_jh = 1);
    every township that has a junior school keeps one: sum of its junior-teaching y_j (and hosts that
    absorb a junior school) >= 1.
Existing crowding is tolerated but never made worse: K_j, L_j and B_j are the larger of the
limit and what the school holds today (B_j: its boarders under the "before" rule below); seats as
above, so that ``seats_after`` in the plan is the capacity ``apply`` gives (less senior pupils).
A candidate site j has y_j = 0 before the plan and may open: C_j its capacity, K_j = ceil(capacity / 45) (50 for a junior site), L_j the size cap of its level, B_j
its ``boarding_places`` (none: no limit), no classrooms added (k_j = 0), no conversion; travel limits, the funding floor and max_schools as for
any school. It serves its own county only, is never kept by a keep rule, and counts for the keep
rules of the schools near it: a school is "the only one within the day limit" of grade 1-3 pupils
only if no candidate site is either, and a township's junior school may be a new junior-teaching
site of the township. With every candidate closed the model is the model without candidates, so
candidate sites never raise the optimal cost.

Before the MILPs every county is checked (:mod:`allocator.planners.mergers.verify`): bands that
today's layout already fails (no school, or no seat, within their limit, even with every school
open) also get pairs x_dj to their nearest schools beyond the limit, at a penalty per pupil larger
than anything a plan can save per pupil, so that as few pupils as possible go there; counties
without a plan are left out and listed (or raise, with ``on_infeasible="error"``).

Solving: the split counts are continuous in the MILP (general integer variables with large domains
make HiGHS's root reduced-cost bookkeeping very slow); afterwards, with every other decision fixed,
each split count may round down or up by one pupil and a small integer program picks the rounding
that keeps every row (anything else if none does). The MILP is a relaxation of the whole-pupil
model, so its bound stays valid and the gap reported is that of the plan returned. A plan whose
gap exceeds ``mip_gap`` is labelled ``feasible``, never ``optimal``.

Why a model of its own rather than :mod:`allocator.location`: the generic core knows one demand per
client and one capacity per site. Here a settlement has three bands with different travel limits,
some may board at extra cost, a site's capacity is shared by bands with different class-size caps,
sites can be merged into nine-year schools that gain bands, and keep rules couple sites by
township. None of that fits ``facility_location`` without losing the rules, so the model is built
here as sparse arrays and solved through :func:`allocator.solver.solve_matrix` (one call per
county, 3-10 s for a county of 150 schools; a rounded-LP start was tried and made HiGHS slower).
The location core is the independent reference in the tests: with one band, no capacities and
``max_schools = p`` the model is exactly p-median.

The sets and numbers come from :mod:`allocator.planners.mergers.sets`; the solve, the whole-pupil
rounding and the check of the result from :mod:`allocator.planners.mergers.solve`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator.planners.mergers.columns import PLANNED_BANDS, TOL, YUAN_SCALE
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.sets import CountyModel
from allocator.solver import ColumnBlock, LinearModel, ModelBuilder


@dataclass(frozen=True)
class _Columns:
    """The model's column blocks and the numbers every row group needs."""

    x: ColumnBlock  # pairs: 0/1 (whole band) or a count of pupils (split)
    y: ColumnBlock  # school open
    w: ColumnBlock  # nine-year conversion
    k: ColumnBlock  # classrooms added
    F: ColumnBlock  # funding-floor top-up, in pupils
    g: ColumnBlock  # a school over its seats today grows past them
    f: np.ndarray  # pupils carried by one unit of x
    ub: np.ndarray  # upper bound of x
    grow: np.ndarray  # schools with a g column


def linear_model(model: CountyModel, travel_mode: bool) -> LinearModel:
    """The unit's MILP (see the module docstring): columns x | y | w | k | F | g, then the row
    groups in a fixed order. Each row's ``row_groups`` label names its settlement band or school
    (``"serve V1 junior"``, ``"seats S3"``), so that an infeasibility is explained in those terms.

    Examples
    --------
    >>> from allocator.planners.mergers.data import make_unit
    >>> from allocator.planners.mergers.policy import MergerPolicy
    >>> from allocator.planners.mergers.sets import build_model
    >>> from allocator.synth import make_region
    >>> every = slice(None)
    >>> unit = make_unit(make_region(schools=20, seed=1), "all", every, every, None, 180.0)
    >>> lp = linear_model(build_model(unit, MergerPolicy(), False), False)
    >>> lp.row_groups[0].startswith("serve ")
    True
    """
    builder = ModelBuilder()
    cols = _columns(builder, model, travel_mode)
    for rows in (
        _serve_rows,
        _open_rows,
        _nine_year_rows,
        _capacity_rows,
        _funding_floor_rows,
        _conversion_rows,
        _township_rows,
        _max_schools_rows,
        _boarding_rows,
    ):
        rows(builder, model, cols)
    return builder.build()


def _columns(builder: ModelBuilder, model: CountyModel, travel_mode: bool) -> _Columns:
    """The column blocks with their costs (thousands of yuan, or pupil-minutes), bounds and
    integrality; split pupils are continuous here and made whole after the solve."""
    unit, policy = model.unit, model.policy
    n_j, n_w = model.n_schools, len(model.conv)
    split = model.split_pair
    P = unit.demand[model.ps, model.pb].astype(float)
    f = np.where(split, 1.0, P)
    ub = np.where(split, P, 1.0)
    grow = np.flatnonzero(model.grow_cap)
    if travel_mode:
        cost_x = f * (model.pt + model.breach_penalty * model.pbreach)
        cost_y = cost_k = cost_F = 0.0
    else:  # thousands of yuan keep HiGHS's objective well scaled
        unit_cost = _pair_unit_cost(model.pt, model.pboard, policy)
        cost_x = f * (unit_cost + model.breach_penalty * model.pbreach) / YUAN_SCALE
        cost_y = model.site_cost / YUAN_SCALE
        cost_k = model.room_seats * policy.expansion_yuan_per_seat / YUAN_SCALE
        cost_F = policy.funding_yuan_per_pupil / YUAN_SCALE
    return _Columns(
        x=builder.add_columns("x", model.n_pairs, cost=cost_x, upper=ub, integer=~split),
        y=builder.add_columns(
            "y", n_j, cost=cost_y, lower=model.always_open.astype(float), upper=1.0, integer=True
        ),
        w=builder.add_columns("w", n_w, upper=1.0, integer=True),
        k=builder.add_columns("k", n_j, cost=cost_k, upper=model.max_rooms, integer=True),
        F=builder.add_columns("F", n_j, cost=cost_F),
        g=builder.add_columns("g", len(grow), upper=1.0, integer=True),
        f=f,
        ub=ub,
        grow=grow,
    )


def _serve_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Every demand placed: sum_j x_dj = 1 (the band's pupils where it may be split)."""
    unit = model.unit
    sid = unit.settlements["settlement_id"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    rhs = np.where(model.split_band[ds, db], unit.demand[ds, db], 1).astype(float)
    d_rows = model.demand_index[model.ps, model.pb]
    terms = {cols.x: (d_rows, np.arange(model.n_pairs), 1.0)}
    labels = [f"serve {sid[s]} {PLANNED_BANDS[b]}" for s, b in zip(ds, db, strict=True)]
    builder.add_rows("serve", len(ds), terms, lower=rhs, upper=rhs, groups=labels)


def _open_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Closed schools serve nobody: x_dj <= y_j for schools that may close."""
    ids = model.unit.schools["school_id"].to_numpy()
    link = np.flatnonzero(~model.always_open[model.pj] & ~model.pnew)
    r = np.arange(len(link))
    terms = {cols.x: (r, link, 1.0), cols.y: (r, model.pj[link], -cols.ub[link])}
    labels = [f"open {ids[j]}" for j in model.pj[link]]
    builder.add_rows("open", len(link), terms, upper=0.0, groups=labels)


def _nine_year_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """A band a host only teaches after a conversion: x_dj <= sum_a w_aj."""
    unit = model.unit
    ids = unit.schools["school_id"].to_numpy()
    gained = np.flatnonzero(model.pnew)
    if not len(gained):
        return
    hosts_of = {}
    for w, (a, h) in enumerate(model.conv):
        hosts_of.setdefault(int(h), []).append((w, a))
    rr, cw, vw = [], [], []
    for i, p in enumerate(gained):
        for w, a in hosts_of[int(model.pj[p])]:
            if unit.teaches[a, model.pb[p]]:
                rr.append(i)
                cw.append(w)
                vw.append(-cols.ub[p])
    r = np.arange(len(gained))
    terms = {
        cols.x: (r, gained, 1.0),
        cols.w: (np.array(rr, np.int64), np.array(cw, np.int64), np.array(vw)),
    }
    labels = [f"nine_year {ids[j]}" for j in model.pj[gained]]
    builder.add_rows("nine_year", len(gained), terms, upper=0.0, groups=labels)


def _capacity_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Seats, classes and school size of every school (own, an absorbed partner's, added rooms).

    Seats: load <= max(N_j + sum_a N_a w_aj, C_j y_j + sum_a C_a w_aj + u_j k_j), the larger of
    what the school (and an absorbed partner) holds today and its seats after the plan; as two
    rows with a binary g_j where today's pupils exceed the seats (g_j = 1: grow past today).
    """
    policy = model.policy
    ids = model.unit.schools["school_id"].to_numpy()
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    absorbed, hosts = model.conv[:, 0], model.conv[:, 1]
    grow, f = cols.grow, cols.f
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    over = np.maximum(model.today - model.seats, 0.0)
    slack_over = over.copy()  # M1_j: how far today's pupils may exceed the seats
    seats_top = model.seats + model.room_seats * model.max_rooms  # M2_j: the most seats after
    for a, h in model.conv:
        slack_over[h] = max(slack_over[h], over[h] + over[a])
        seats_top[h] = max(seats_top[h], model.seats[h] + model.seats[a] + model.room_seats[h] *
                           model.max_rooms[h])  # fmt: skip
    ub_seats = np.zeros(n_j)
    ub_seats[grow] = slack_over[grow]
    schools = np.arange(n_j)
    for kind, coef_x, own, extra, rooms in (
        ("seats", f, model.seats, model.seats[absorbed], model.room_seats),
        ("classes", f / cap_b[model.pb], model.classes, model.classes[absorbed], np.ones(n_j)),
        ("size", f, model.size, model.size_extra[hosts], None),
    ):
        terms = {cols.x: (model.pj, np.arange(n_x), coef_x), cols.y: (schools, schools, -own)}
        if n_w:
            terms[cols.w] = (hosts, np.arange(n_w), -extra)
        if rooms is not None:
            terms[cols.k] = (schools, schools, -rooms)
        if kind == "seats":
            terms[cols.g] = (grow, np.arange(len(grow)), slack_over[grow])
        upper = ub_seats if kind == "seats" else 0.0
        builder.add_rows(kind, n_j, terms, upper=upper, groups=[f"{kind} {i}" for i in ids])
    if len(grow):
        g_row = np.full(n_j, -1, dtype=np.int64)
        g_row[grow] = np.arange(len(grow))
        mine = g_row[model.pj] >= 0
        terms = {
            cols.x: (g_row[model.pj[mine]], np.flatnonzero(mine), f[mine]),
            cols.y: (g_row[grow], grow, -model.today[grow]),
        }
        if n_w:
            into = np.flatnonzero(g_row[hosts] >= 0)
            terms[cols.w] = (g_row[hosts[into]], into, -model.today[absorbed[into]])
        terms[cols.g] = (g_row[grow], np.arange(len(grow)), -seats_top[grow])
        labels = [f"seats {ids[j]}" for j in grow]
        builder.add_rows("seats__grow", len(grow), terms, upper=0.0, groups=labels)
        _seat_cap_rows(builder, model, cols, grow, seats_top)


def _seat_cap_rows(builder, model: CountyModel, cols: _Columns, grow, seats_top) -> None:
    """The most a school over its seats today can hold, whichever side of the switch g_j:
    load <= max(N_j, C_j + u_j k_max) y_j + sum_a max(N_a, C_a) w_aj. Implied by the two seat
    rows in whole numbers, it keeps their LP relaxation (g_j fractional lets N_j + u_j k_j
    through) from promising seats no plan has, so the LP check before the MIP sees the shortage.
    """
    ids = model.unit.schools["school_id"].to_numpy()
    g_row = np.full(model.n_schools, -1, dtype=np.int64)
    g_row[grow] = np.arange(len(grow))
    mine = g_row[model.pj] >= 0
    own = np.maximum(model.today, model.seats + model.room_seats * model.max_rooms)
    terms = {
        cols.x: (g_row[model.pj[mine]], np.flatnonzero(mine), cols.f[mine]),
        cols.y: (g_row[grow], grow, -own[grow]),
    }
    if len(model.conv):
        absorbed, hosts = model.conv[:, 0], model.conv[:, 1]
        into = np.flatnonzero(g_row[hosts] >= 0)
        part = np.maximum(model.today, model.seats)[absorbed[into]]
        terms[cols.w] = (g_row[hosts[into]], into, -part)
    labels = [f"seats {ids[j]}" for j in grow]
    builder.add_rows("seats__most", len(grow), terms, upper=0.0, groups=labels)


def _funding_floor_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Funding floor, in pupils: F_j >= m y_j - sum_d P_d x_dj (each pupil costs f yuan)."""
    ids = model.unit.schools["school_id"].to_numpy()
    n_j = model.n_schools
    schools = np.arange(n_j)
    terms = {
        cols.x: (model.pj, np.arange(model.n_pairs), cols.f),
        cols.y: (schools, schools, -float(model.policy.funding_floor_pupils)),
        cols.F: (schools, schools, 1.0),
    }
    labels = [f"funding_floor {i}" for i in ids]
    builder.add_rows("funding_floor", n_j, terms, lower=0.0, groups=labels)


def _conversion_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Conversions: y_a + sum_h w_ah <= 1 (= 1 for a min_size school), w_ah <= y_h and
    sum_a w_ah <= 1."""
    ids = model.unit.schools["school_id"].to_numpy()
    n_w = len(model.conv)
    if not n_w:
        return
    absorbed, hosts = model.conv[:, 0], model.conv[:, 1]
    conv_schools = np.unique(absorbed)
    pos = {int(a): i for i, a in enumerate(conv_schools)}
    k = len(conv_schools)
    terms = {
        cols.y: (np.arange(k), conv_schools, 1.0),
        cols.w: (np.array([pos[int(a)] for a in absorbed]), np.arange(n_w), 1.0),
    }
    eq = model.min_kept[conv_schools]
    lower = np.where(eq, 1.0, -np.inf)
    labels = [f"convert {ids[a]}" for a in conv_schools]
    builder.add_rows("convert__absorbed", k, terms, lower=lower, upper=1.0, groups=labels)
    terms = {cols.w: (np.arange(n_w), np.arange(n_w), 1.0), cols.y: (np.arange(n_w), hosts, -1.0)}
    labels = [f"convert {ids[h]}" for h in hosts]
    builder.add_rows("convert__host_open", n_w, terms, upper=0.0, groups=labels)
    host_list = np.unique(hosts)
    hpos = {int(h): i for i, h in enumerate(host_list)}
    terms = {cols.w: (np.array([hpos[int(h)] for h in hosts]), np.arange(n_w), 1.0)}
    labels = [f"convert {ids[h]}" for h in host_list]
    builder.add_rows("convert__host_once", len(host_list), terms, upper=1.0, groups=labels)


def _township_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Every township that has a junior school keeps one (or a host that absorbs one)."""
    for name, members, extra in model.townships:
        terms = {cols.y: (0, members, 1.0), cols.w: (0, extra, 1.0)}
        label = [f"township_junior {name}"]
        builder.add_rows("township_junior", 1, terms, lower=1.0, groups=label)


def _max_schools_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """With ``max_schools = p``: sum_j y_j <= p."""
    p = model.unit.max_schools
    if p is None:
        return
    builder.add_rows("max_schools", 1, {cols.y: (0, np.arange(model.n_schools), 1.0)}, upper=p)


def boarding_scale(model: CountyModel) -> dict[int, float]:
    """School index -> the pupils one unit of its boarding row stands for (2 M_j, M_j the most
    boarders the school could receive), for the schools whose boarding places are a limit."""
    P = model.unit.demand[model.ps, model.pb].astype(float)
    bp = np.flatnonzero(model.pboard)
    most = np.zeros(model.n_schools)
    np.add.at(most, model.pj[bp], P[bp])
    limited = np.flatnonzero(np.isfinite(model.boarding) & (model.boarding < most - TOL))
    return {int(j): float(2.0 * most[j]) for j in limited}


def _boarding_rows(builder: ModelBuilder, model: CountyModel, cols: _Columns) -> None:
    """Boarding places: boarders at j <= B_j y_j + sum_a B_a w_aj, only where B_j is finite and
    below M_j, the most boarders j could receive. Each row is divided by 2 M_j so that the solver
    layer's elastic diagnosis finds relaxing it cheaper than leaving a band unplaced."""
    ids = model.unit.schools["school_id"].to_numpy()
    n_j, n_w = model.n_schools, len(model.conv)
    absorbed, hosts = model.conv[:, 0], model.conv[:, 1]
    scales = boarding_scale(model)
    if not scales:
        return
    limited = np.array(list(scales), dtype=np.int64)
    scale = np.zeros(n_j)
    scale[limited] = list(scales.values())
    most = scale / 2.0
    row_of = np.full(n_j, -1, dtype=np.int64)
    row_of[limited] = np.arange(len(limited))
    bp = np.flatnonzero(model.pboard)
    mine = bp[row_of[model.pj[bp]] >= 0]
    into = np.flatnonzero(row_of[hosts] >= 0) if n_w else np.zeros(0, dtype=np.int64)
    partner = np.minimum(model.boarding[absorbed[into]], most[hosts[into]])
    terms = {
        cols.x: (row_of[model.pj[mine]], mine, cols.f[mine] / scale[model.pj[mine]]),
        cols.y: (row_of[limited], limited, -model.boarding[limited] / scale[limited]),
        cols.w: (row_of[hosts[into]], into, -partner / scale[hosts[into]]),
    }
    labels = [f"boarding {ids[j]}" for j in limited]
    builder.add_rows("boarding", len(limited), terms, upper=0.0, groups=labels)


def _pair_unit_cost(minutes, boarding, policy: MergerPolicy) -> np.ndarray:
    """Annual yuan per pupil of a pair: transport (+ boarding and lodging for boarders)."""
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    return minutes * policy.transport_yuan_per_pupil_minute * trips + np.where(boarding, board, 0.0)
