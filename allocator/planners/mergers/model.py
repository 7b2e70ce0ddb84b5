"""The consolidation MILP of one planning unit, as sparse arrays.

Model (one mixed-integer program per county; counties do not share pupils)
--------------------------------------------------------------------------
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
    class sizes: sum_d P_d x_dj / cap_b <= K_j y_j + sum_a K_a w_aj + k_j (cap 45 primary, 50 junior;
    K_j the school's classes);
    school size: sum_d P_d x_dj <= L_j y_j + (2500 - L_j)+ sum_a w_aj (2000 primary/junior, 2500
    nine-year);
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

import numpy as np
import scipy.sparse as sp

from allocator.planners.mergers.columns import PLANNED_BANDS, TOL, YUAN_SCALE
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.sets import CountyModel


def model_arrays(model: CountyModel, travel_mode: bool) -> None:
    """The MILP as sparse arrays (see the module docstring for the model)."""
    unit, policy = model.unit, model.policy
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    split = model.split_pair
    P = unit.demand[model.ps, model.pb].astype(float)
    f = np.where(split, 1.0, P)  # pupils carried by one unit of x
    # columns: x | y | w | k | F | g (g_j: a school over its seats today may grow past them)
    X0, Y0, W0, K0, F0 = 0, n_x, n_x + n_j, n_x + n_j + n_w, n_x + 2 * n_j + n_w
    grow = np.flatnonzero(model.grow_cap)
    G0 = F0 + n_j
    n = G0 + len(grow)
    rows, cols, vals = [], [], []
    rl, ru, groups = [], [], []
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    r = 0

    def block(rr, cc, vv):
        rows.append(np.asarray(rr, dtype=np.int64))
        cols.append(np.asarray(cc, dtype=np.int64))
        vals.append(np.asarray(vv, dtype=float))

    # demand rows
    d_rows = model.demand_index[model.ps, model.pb]
    n_d = int((unit.demand > 0).sum())
    block(r + d_rows, X0 + np.arange(n_x), np.ones(n_x))
    ds, db = np.nonzero(unit.demand > 0)
    rhs = np.where(model.split_band[ds, db], unit.demand[ds, db], 1).astype(float)
    rl.append(rhs)
    ru.append(rhs)
    groups += [f"serve {sid[s]} {PLANNED_BANDS[b]}" for s, b in zip(ds, db, strict=True)]
    r += n_d
    # linking: x <= y_j (closable j) or x <= sum_a w_aj (bands gained as a host)
    ub = np.where(split, P, 1.0)
    link = np.flatnonzero(~model.always_open[model.pj] & ~model.pnew)
    block(r + np.arange(len(link)), X0 + link, np.ones(len(link)))
    block(r + np.arange(len(link)), Y0 + model.pj[link], -ub[link])
    rl.append(np.full(len(link), -np.inf))
    ru.append(np.zeros(len(link)))
    groups += [f"open {ids[j]}" for j in model.pj[link]]
    r += len(link)
    gained = np.flatnonzero(model.pnew)
    if len(gained):
        hosts_of = {}
        for w, (a, h) in enumerate(model.conv):
            hosts_of.setdefault(int(h), []).append((w, a))
        rr, cc, vv = [], [], []
        for i, p in enumerate(gained):
            rr.append(r + i)
            cc.append(X0 + p)
            vv.append(1.0)
            for w, a in hosts_of[int(model.pj[p])]:
                if unit.teaches[a, model.pb[p]]:
                    rr.append(r + i)
                    cc.append(W0 + w)
                    vv.append(-ub[p])
        block(rr, cc, vv)
        rl.append(np.full(len(gained), -np.inf))
        ru.append(np.zeros(len(gained)))
        groups += [f"nine_year {ids[j]}" for j in model.pj[gained]]
        r += len(gained)
    # per-school rows: seats, classes, size, funding floor
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    absorbed = model.conv[:, 0]
    hosts = model.conv[:, 1]
    # seats: load <= max(N_j + sum_a N_a w_aj, C_j y_j + sum_a C_a w_aj + u_j k_j), the larger of
    # what the school (and an absorbed partner) holds today and its seats after the plan; as
    # two rows with a binary g_j where today's pupils exceed the seats (g_j = 1: grow past today)
    over = np.maximum(model.today - model.seats, 0.0)
    slack_over = over.copy()  # M1_j: how far today's pupils may exceed the seats
    seats_top = model.seats + model.room_seats * model.max_rooms  # M2_j: the most seats after
    for a, h in model.conv:
        slack_over[h] = max(slack_over[h], over[h] + over[a])
        seats_top[h] = max(seats_top[h], model.seats[h] + model.seats[a] + model.room_seats[h] *
                           model.max_rooms[h])  # fmt: skip
    ub_seats = np.zeros(n_j)
    ub_seats[grow] = slack_over[grow]
    for kind, coef_x, own, from_partner, rooms in (
        ("seats", f, model.seats, model.seats, model.room_seats),
        ("classes", f / cap_b[model.pb], model.classes, model.classes, np.ones(n_j)),
        ("size", f, model.size, None, None),
    ):
        block(r + model.pj, X0 + np.arange(n_x), coef_x)
        block(r + np.arange(n_j), Y0 + np.arange(n_j), -own)
        if n_w:
            extra = own[absorbed] if from_partner is not None else model.size_extra[hosts]
            block(r + hosts, W0 + np.arange(n_w), -extra)
        if rooms is not None:
            block(r + np.arange(n_j), K0 + np.arange(n_j), -rooms)
        rl.append(np.full(n_j, -np.inf))
        if kind == "seats":
            block(r + grow, G0 + np.arange(len(grow)), slack_over[grow])
            ru.append(ub_seats)
        else:
            ru.append(np.zeros(n_j))
        groups += [f"{kind} {i}" for i in ids]
        r += n_j
    if len(grow):
        g_row = np.full(n_j, -1, dtype=np.int64)
        g_row[grow] = r + np.arange(len(grow))
        mine = g_row[model.pj] >= 0
        block(g_row[model.pj[mine]], X0 + np.flatnonzero(mine), f[mine])
        block(g_row[grow], Y0 + grow, -model.today[grow])
        if n_w:
            into = np.flatnonzero(g_row[hosts] >= 0)
            block(g_row[hosts[into]], W0 + into, -model.today[absorbed[into]])
        block(g_row[grow], G0 + np.arange(len(grow)), -seats_top[grow])
        rl.append(np.full(len(grow), -np.inf))
        ru.append(np.zeros(len(grow)))
        groups += [f"seats {ids[j]}" for j in grow]
        r += len(grow)
    # funding floor, in pupils: F_j >= m y_j - sum_d P_d x_dj (costs f yuan a pupil)
    block(r + model.pj, X0 + np.arange(n_x), f)
    block(
        r + np.arange(n_j), Y0 + np.arange(n_j), np.full(n_j, -float(policy.funding_floor_pupils))
    )
    block(r + np.arange(n_j), F0 + np.arange(n_j), np.ones(n_j))
    rl.append(np.zeros(n_j))
    ru.append(np.full(n_j, np.inf))
    groups += [f"funding_floor {i}" for i in ids]
    r += n_j
    # conversions
    if n_w:
        conv_schools = np.unique(absorbed)
        pos = {int(a): i for i, a in enumerate(conv_schools)}
        block(r + np.arange(len(conv_schools)), Y0 + conv_schools, np.ones(len(conv_schools)))
        block(r + np.array([pos[int(a)] for a in absorbed]), W0 + np.arange(n_w), np.ones(n_w))
        eq = model.min_kept[conv_schools]
        rl.append(np.where(eq, 1.0, -np.inf))
        ru.append(np.ones(len(conv_schools)))
        groups += [f"convert {ids[a]}" for a in conv_schools]
        r += len(conv_schools)
        block(r + np.arange(n_w), W0 + np.arange(n_w), np.ones(n_w))
        block(r + np.arange(n_w), Y0 + hosts, -np.ones(n_w))
        rl.append(np.full(n_w, -np.inf))
        ru.append(np.zeros(n_w))
        groups += [f"convert {ids[h]}" for h in hosts]
        r += n_w
        host_list = np.unique(hosts)
        hpos = {int(h): i for i, h in enumerate(host_list)}
        block(r + np.array([hpos[int(h)] for h in hosts]), W0 + np.arange(n_w), np.ones(n_w))
        rl.append(np.full(len(host_list), -np.inf))
        ru.append(np.ones(len(host_list)))
        groups += [f"convert {ids[h]}" for h in host_list]
        r += len(host_list)
    # townships keep a junior school
    for name, members, extra in model.townships:
        block(np.full(len(members), r), Y0 + members, np.ones(len(members)))
        block(np.full(len(extra), r), W0 + extra, np.ones(len(extra)))
        rl.append(np.ones(1))
        ru.append(np.full(1, np.inf))
        groups.append(f"township_junior {name}")
        r += 1
    if unit.max_schools is not None:
        block(np.full(n_j, r), Y0 + np.arange(n_j), np.ones(n_j))
        rl.append(np.full(1, -np.inf))
        ru.append(np.full(1, float(unit.max_schools)))
        groups.append("max_schools")
        r += 1
    # boarding places: boarders at j <= B_j y_j + sum_a B_a w_aj, only where B_j is finite and
    # below M_j, the most boarders j could receive. Each row is divided by 2 M_j so that the
    # solver layer's elastic diagnosis finds relaxing it cheaper than leaving a band unplaced.
    model.boarding_scale = {}
    bp = np.flatnonzero(model.pboard)
    most = np.zeros(n_j)
    np.add.at(most, model.pj[bp], P[bp])
    limited = np.flatnonzero(np.isfinite(model.boarding) & (model.boarding < most - TOL))
    if len(limited):
        row_of = np.full(n_j, -1, dtype=np.int64)
        row_of[limited] = r + np.arange(len(limited))
        scale = 2.0 * most
        mine = bp[row_of[model.pj[bp]] >= 0]
        block(row_of[model.pj[mine]], X0 + mine, f[mine] / scale[model.pj[mine]])
        block(row_of[limited], Y0 + limited, -model.boarding[limited] / scale[limited])
        into = np.flatnonzero(row_of[hosts] >= 0) if n_w else np.zeros(0, dtype=np.int64)
        partner = np.minimum(model.boarding[absorbed[into]], most[hosts[into]])
        block(row_of[hosts[into]], W0 + into, -partner / scale[hosts[into]])
        rl.append(np.full(len(limited), -np.inf))
        ru.append(np.zeros(len(limited)))
        groups += [f"boarding {ids[j]}" for j in limited]
        model.boarding_scale = {int(j): float(scale[j]) for j in limited}
        r += len(limited)
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n)
    )
    # objective
    c = np.zeros(n)
    if travel_mode:
        c[X0:Y0] = f * (model.pt + model.breach_penalty * model.pbreach)
    else:
        c[X0:Y0] = f * (
            _pair_unit_cost(model.pt, model.pboard, policy) + model.breach_penalty * model.pbreach
        )
        c[Y0 : Y0 + n_j] = model.site_cost
        c[K0 : K0 + n_j] = model.room_seats * policy.expansion_yuan_per_seat
        c[F0:G0] = policy.funding_yuan_per_pupil
        c /= YUAN_SCALE  # thousands of yuan keep HiGHS's objective well scaled
    # bounds and integrality
    cl = np.zeros(n)
    cu = np.concatenate(
        [ub, np.ones(n_j), np.ones(n_w), model.max_rooms, np.full(n_j, np.inf), np.ones(len(grow))]
    )
    cl[Y0 : Y0 + n_j] = model.always_open.astype(float)
    integ = np.ones(n, dtype=bool)
    integ[X0:Y0] = ~split  # split pupils are continuous here and made whole afterwards
    integ[F0:G0] = False
    model.c, model.A = c, A
    model.rl, model.ru = np.concatenate(rl), np.concatenate(ru)
    model.cl, model.cu, model.integ, model.groups = cl, cu, integ, groups


def _pair_unit_cost(minutes, boarding, policy: MergerPolicy) -> np.ndarray:
    """Annual yuan per pupil of a pair: transport (+ boarding and lodging for boarders)."""
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    return minutes * policy.transport_yuan_per_pupil_minute * trips + np.where(boarding, board, 0.0)
