"""Facility location with capacity levels, coverage targets, tagged shares and a budget.

Sets
    Clients i with demand d_i >= 0; sites j; levels l, each belonging to one site s(l), with a
    fixed cost f_l and a capacity u_l (the site's whole capacity when that level is chosen: an
    existing facility's "as is" level, a "plus one module" level, ...); allowed pairs (i, j) with a
    cost c_ij per unit of demand served. Tags g (any labels) mark levels; a level carries tag g or
    not (a site may have tagged and untagged levels: "as is" and "converted").
Variables
    y_l in {0, 1} (level l chosen); x_ij >= 0 units of client i's demand served by site j;
    L_j >= 0 the load of site j; t_jg >= 0 the part of site j's load that counts for tag g.
Objective
    min sum_l f_l y_l + sum_ij c_ij x_ij (cost mode); with a ``budget``, first max sum_j L_j
    (demand served), then min cost with that much demand served (two exact solves).
Constraints
    level choice: sum_{l at j} y_l <= 1, = 1 for required sites;
    demand: m_i <= sum_j x_ij <= d_i (m_i: the client's least demand served, default 0);
    load: L_j = sum_i x_ij (the rows below read L_j, not the pairs: on a city's model of 251,455
    pairs this made the relaxation 5x faster to solve and HiGHS's cut rounds 20x faster);
    capacity: L_j <= sum_{l at j} min(u_l, D_j) y_l, with D_j = sum of d_i over the clients
    allowed at j (no plan loads j beyond D_j, so the smaller coefficient is valid and tighter);
    link: x_ij <= d_i sum_{l at j} y_l at sites that may close and whose largest capacity holds
    D_j (there it strengthens the relaxation; elsewhere the capacity row does);
    coverage: sum_j L_j >= a sum_i d_i (``min_share``);
    tag load: t_jg <= L_j and t_jg <= sum_{l at j, tagged g} min(u_l, D_j) y_l;
    tag share: sum_j t_jg >= b_g sum_j L_j (``tag_shares``);
    budget: sum_l f_l y_l <= B;
    total capacity: sum_l min(u_l, D_s(l)) y_l >= the demand that must be served (implied by the
    rows above; stated, its rounding gives the MIP a far better bound when capacities come in
    modules);
    tagged capacity: sum_{l tagged g} min(u_l, D_s(l)) y_l >= b_g times that demand (implied
    the same way).
    Since a site takes at most one level, min(load, tagged capacity) is its load when the chosen
    level carries g and 0 otherwise, so t_jg is exactly the load that counts for g.
Ladders (:mod:`allocator.location.level_ladder`)
    A site whose levels carry the same tags and climb in equal steps (capacity c0 + k S, cost
    f0 + k F) is modelled with one integer column z_j (the steps taken) instead of a binary per
    level: capacity L_j <= c0 + S z_j, the reach row L_j <= D_j - r_j (k_j - z_j) (together the
    convex hull of the site's plans, so the relaxation is that of the binaries), z_j at most the
    fewest steps holding D_j; link rows read z_j, and f0 goes to the objective's constant.
    Ladders with the same step, step cost and tags form a class c with a whole-number column
    n_c = sum of its z_j (the steps the class takes): the aggregate rows (total and tagged
    capacity, budget) read S n_c plus the usable c0, and the solver can branch on a class's
    total, which the relaxation cannot dodge by moving a fraction of a step to another site of
    the class (on a city's model of 5,000 communities, single-threaded, this lifted the bound
    at 600 s from 5,741.80 to 5,742.37 million yuan). Without a resource only.
Resource (optional, ``resource``; :mod:`allocator.location.level_resource`)
    w_ij units of a second resource used per unit served on pair (i, j), A_l units free at level
    l, price p per unit beyond them, K_l (optional) the most units at level l; columns r_j >= 0
    (units bought) with r_j >= sum_i w_ij x_ij - sum_{l at j} A_l y_l, p r_j added to the
    objective, and sum_i w_ij x_ij <= sum_{l at j} K_l y_l when K is given. Levels are then not
    reduced (the presolve's dominance does not compare allowances).

Before solving, the cheap certificates of infeasibility are checked with their numbers (demand
that no site can reach, the largest capacity, the largest tagged capacity, the cheapest required
levels against the budget); afterwards every plan is recomputed against every row.

Examples
--------
>>> import numpy as np
>>> levels = SiteLevels(site=[0, 0, 1], cost=[0.0, 50.0, 80.0], capacity=[10, 30, 40],
...                     tags={"public": [False, False, True]})
>>> cost = np.array([[1.0, 2.0], [1.0, np.inf]])
>>> r = levelled_location(cost, [20, 10], levels, required_sites=[0], min_share=1.0,
...                       tag_shares={"public": 0.5})
>>> r.levels.tolist(), r.served.tolist(), r.objective
([0, 2], [20.0, 10.0], 130.0)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible
from allocator.location.common import resolve_options, with_time_left
from allocator.location.level_data import (
    LevelData,
    LevelResult,
    SiteLevels,
    certify_possible,
    checked_level_data,
    evaluated_plan,
)
from allocator.location.level_ladder import (
    Ladders,
    chosen_levels,
    find_ladders,
    ladder_classes,
    no_ladders,
    steps_taken,
)
from allocator.location.level_presolve import undominated
from allocator.location.level_resource import SiteResource, add_resource_rows
from allocator.location.level_start import (
    LevelView,
    first_plan,
    neighbourhood_plan,
    worth_a_dive,
)
from allocator.solver import (
    ModelBuilder,
    SolveInfo,
    SolverOptions,
    binary_values,
    checked_start,
    solve_matrix,
)

__all__ = ["SiteLevels", "SiteResource", "LevelResult", "levelled_location"]

#: The search near the relaxation (:func:`~allocator.location.level_start.neighbourhood_plan`)
#: gets 1 / RENS_SHARE of the time left after the dive.
RENS_SHARE = 2.0


def levelled_location(
    service_cost,
    demand,
    levels: SiteLevels,
    *,
    required_sites=None,
    min_served=None,
    min_share: float = 0.0,
    tag_shares: Mapping | None = None,
    budget: float | None = None,
    options: SolverOptions | None = None,
    resource: SiteResource | None = None,
) -> LevelResult:
    """Choose a level per site and serve demand from the chosen capacities at least cost.

    Parameters
    ----------
    service_cost : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        Cost per unit of demand served (dense: ``inf`` marks a pair that is not allowed; sparse:
        a stored entry is an allowed pair).
    demand : array_like, shape (n_clients,)
        Demand of each client (>= 0).
    levels : SiteLevels
        The levels (sites without a level have no capacity).
    required_sites : iterable of int, optional
        Sites that must take one of their levels (existing facilities).
    min_served : array_like, optional
        Least units served per client (default 0; at most its demand).
    min_share : float
        Least share of all demand served (0 to 1).
    tag_shares : mapping, optional
        Tag -> least share of the served demand that must be served at sites whose chosen level
        carries the tag.
    budget : float, optional
        Given: fixed costs at most ``budget``, the demand served is maximised first and the cost
        minimised second. None: the cost is minimised under the targets.
    options : SolverOptions, optional
    resource : SiteResource, optional
        A second resource the demand served uses, free up to each chosen level's allowance and
        bought beyond it at its price (in the objective, not under ``budget``), at most each
        level's capacity if given; ``LevelResult.resource_bought`` gives the units per site.

    Returns
    -------
    LevelResult

    Raises
    ------
    Infeasible
        No plan meets the targets; the message gives the numbers (what is needed, what is
        possible at most) and ``violations`` the shortfall of each requirement.
    InputError
        Malformed input.

    Examples
    --------
    One site as it is (4 units) or expanded (10 units for 6): with a budget of 5 only 4 of the
    7 units are served; with 6, all of them.

    >>> lv = SiteLevels(site=[0, 0], cost=[0, 6], capacity=[4, 10])
    >>> levelled_location([[1.0]], [7], lv, required_sites=[0], budget=5).total_served
    4.0
    >>> r = levelled_location([[1.0]], [7], lv, required_sites=[0], budget=6)
    >>> r.total_served, r.levels.tolist(), r.objective
    (7.0, [1], 13.0)

    With a resource: each unit served uses 1 unit; the expanded level has 5 free, the rest costs
    2 a unit (so 7 served buy 2 units, 4 yuan more).

    >>> res = SiteResource(use=[[1.0]], allowance=[0, 5], price=2.0)
    >>> r = levelled_location([[1.0]], [7], lv, required_sites=[0], budget=6, resource=res)
    >>> r.objective, r.resource_bought.tolist(), r.resource_cost
    (17.0, [2.0], 4.0)
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    data = checked_level_data(
        service_cost, demand, levels, required_sites, min_served, min_share, tag_shares, budget,
        resource,
    )  # fmt: skip
    certify_possible(data)
    if data.resource is None:
        kept, data = _reduced(data)
    else:
        kept = np.arange(data.levels.n_levels)
    ladders = (
        find_ladders(data.levels, data.required, data.reach)
        if data.resource is None
        else no_ladders(data.levels)
    )
    builder, blocks = _model(data, ladders)
    offset = float(ladders.base_cost.sum())
    if data.budget is None:
        model = builder.build(offset=offset)
        start = _first_plan(data, ladders, model, blocks, options, t0)
        info, vec = _solve(model, with_time_left(options, t0), start=start)
    else:
        info1, vec1 = _solve(_max_served(builder, blocks), with_time_left(options, t0))
        served = float(vec1[blocks["load"].columns].sum())
        model = builder.build(offset=offset)
        cols = np.arange(blocks["load"].start, blocks["load"].stop)
        every = sp.csr_matrix(
            (np.ones(cols.size), (np.zeros(cols.size), cols)), (1, model.shape[1])
        )
        try:  # the most demand served, then the least cost; room for rounding if need be
            floor = model.with_rows("served_floor", every, lower=served)
            info2, vec = _solve(floor, with_time_left(options, t0), start=vec1)
        except Infeasible:
            floor = served - 1e-9 * max(1.0, served)
            floor = model.with_rows("served_floor", every, lower=floor)
            info2, vec = _solve(floor, with_time_left(options, t0))
        info = SolveInfo.combine([info1, info2], objective=info2.objective)
    chosen = _chosen(ladders, blocks, vec)
    result = evaluated_plan(data, chosen, vec[blocks["x"].columns], info, time.perf_counter() - t0)
    return replace(result, levels=kept[result.levels])


def _chosen(ladders: Ladders, blocks, vec) -> np.ndarray:
    """The levels a solution ``vec`` chooses: binaries at 0.5 or more, the level each ladder's
    steps reach."""
    own = np.flatnonzero(~ladders.on_ladder)
    return np.concatenate(
        [own[binary_values(vec[blocks["y"].columns])],
         chosen_levels(ladders, vec[blocks["z"].columns])]
    )  # fmt: skip


def _first_plan(data: LevelData, ladders: Ladders, model, blocks, options, t0):
    """A checked start for ``model``: the dive's plan (:func:`~allocator.location.level_start.
    first_plan`, within half the time left), or a cheaper one near the relaxation
    (:func:`~allocator.location.level_start.neighbourhood_plan`, within half the time left
    after the dive). None for a small model, or when neither finds a plan."""
    if not worth_a_dive(model, data.levels.n_levels):
        return None
    start = _dive_plan(
        data, ladders, model, blocks, options, with_time_left(options, t0).time_limit
    )
    left = with_time_left(options, t0).time_limit
    held = np.r_[blocks["y"].columns, blocks["z"].columns]  # not the class totals
    return neighbourhood_plan(
        model, start, options, columns=held, time_limit=None if left is None else left / RENS_SHARE
    )


def _dive_plan(data: LevelData, ladders: Ladders, model, blocks, options, time_limit):
    """The dive's plan (:func:`~allocator.location.level_start.first_plan`), which rounds each
    level's binary: it dives into the model with a binary per level, and its plan is carried to
    the ladders' step columns. None when the dive gives none."""
    lv = data.levels
    if ladders.size:
        binary, binary_blocks = _model(data, no_ladders(lv))
        binary = binary.build()
    else:
        binary, binary_blocks = model, blocks
    view = LevelView(lv.site, lv.cost, data.usable, lv.tags, data.required)
    plan = first_plan(binary, binary_blocks["y"], view, options, time_limit=time_limit)
    if plan is None or not ladders.size:
        return plan
    start = np.zeros(model.shape[1])
    levels = plan[binary_blocks["y"].columns]
    start[blocks["y"].columns] = levels[~ladders.on_ladder]
    steps = steps_taken(ladders, levels)
    start[blocks["z"].columns] = steps
    start[blocks["n"].columns] = np.bincount(ladder_classes(ladders)[0], steps, blocks["n"].size)
    for name, block in blocks.items():
        if name not in ("y", "z", "n"):
            start[block.columns] = plan[binary_blocks[name].columns]
    try:
        return checked_start(model, start)
    except ValueError:
        return None


def _reduced(data: LevelData):
    """(kept level indices, the data on those levels): dominated levels removed
    (:mod:`allocator.location.level_presolve`; exact)."""
    lv = data.levels
    kept = undominated(lv, data.reach)
    if kept.size == lv.n_levels:
        return kept, data
    fewer = SiteLevels(
        site=lv.site[kept],
        cost=lv.cost[kept],
        capacity=lv.capacity[kept],
        tags={g: mask[kept] for g, mask in lv.tags.items()},
    )
    return kept, replace(data, levels=fewer)


def _model(data: LevelData, ladders: Ladders):
    """The model of :mod:`allocator.location.levels` (cost objective; no coverage floor in budget
    mode beyond ``min_share``), the ``ladders``' sites with one step column each
    (:mod:`allocator.location.level_ladder`) and every other level with its binary."""
    pairs, lv, lad = data.pairs, data.levels, ladders
    n, m, k = pairs.n_clients, pairs.n_sites, pairs.cost.size
    ci, sj, pair = pairs.clients, pairs.sites, np.arange(k)
    # a site never serves more than the demand allowed to reach it: capacity beyond that is
    # cut from every capacity row (with few clients in reach of a site the relaxation can no
    # longer buy a large level in part, paying only for the places it uses)
    usable = data.usable
    own = np.flatnonzero(~lad.on_ladder)  # the levels with a binary of their own
    b = ModelBuilder()
    y = b.add_columns("y", own.size, cost=lv.cost[own], upper=1.0, integer=True)
    z = b.add_columns("z", lad.size, cost=lad.step_cost, upper=lad.top, integer=True)
    x = b.add_columns("x", k, cost=pairs.cost)
    steps = np.arange(lad.size)
    sites_with = np.unique(lv.site[own])
    row_of = np.full(m, -1)
    row_of[sites_with] = np.arange(sites_with.size)
    required = np.zeros(m, bool)
    required[data.required] = True
    b.add_rows(
        "level_choice",
        sites_with.size,
        {y: (row_of[lv.site[own]], np.arange(own.size), 1.0)},
        lower=required[sites_with].astype(float),
        upper=1.0,
    )
    b.add_rows("demand", n, {x: (ci, pair, 1.0)}, lower=data.least, upper=data.d)
    site = np.arange(m)
    load = b.add_columns("load", m)
    b.add_rows("load", m, {x: (sj, pair, 1.0), load: (site, site, -1.0)}, lower=0.0, upper=0.0)
    base = np.zeros(m)
    base[lad.site] = lad.base
    b.add_rows(
        "capacity",
        m,
        {load: (site, site, 1.0), y: (lv.site[own], np.arange(own.size), -usable[own]),
         z: (lad.site, steps, -lad.step)},
        upper=base,
    )  # fmt: skip
    cut = np.flatnonzero(lad.cut_slope > 0)
    rows = np.arange(cut.size)
    b.add_rows("reach", cut.size, {load: (rows, lad.site[cut], 1.0),
                                   z: (rows, cut, -lad.cut_slope[cut])}, upper=lad.cut_rhs[cut])  # fmt: skip
    _add_links(b, data, lad, own, {"x": x, "y": y, "z": z})
    need = max(data.min_share * float(data.d.sum()), float(data.least.sum()))
    if data.min_share > 0:
        b.add_rows(
            "coverage", 1, {load: (0, site, 1.0)}, lower=data.min_share * float(data.d.sum())
        )
    # each class of ladders takes n steps in all (a whole number the solver branches on)
    cls, first = ladder_classes(lad)
    classes = np.arange(first.size)
    nc = b.add_columns("n", first.size, upper=np.bincount(cls, lad.top, first.size), integer=True)
    b.add_rows("class_steps", first.size, {nc: (classes, classes, 1.0), z: (cls, steps, -1.0)},
               lower=0.0, upper=0.0)  # fmt: skip
    if need > 0:  # the aggregate capacity cut (implied; its rounding helps the MIP's bound)
        b.add_rows("total_capacity", 1, {y: (0, np.arange(own.size), usable[own]),
                                         nc: (0, classes, lad.step[first])},
                   lower=need - float(lad.usable_base.sum()))  # fmt: skip
    blocks = {"y": y, "z": z, "n": nc, "x": x, "load": load}
    for g, share in data.shares.items():
        lt, zt = np.flatnonzero(lv.tags[g][own]), np.flatnonzero(lad.tags[g])
        t = b.add_columns(f"t_{g}", m)
        blocks[f"t_{g}"] = t
        b.add_rows(
            f"tag_load {g}",
            m,
            {t: (site, site, 1.0), load: (site, site, -1.0)},
            upper=0.0,
        )
        tagged_base = np.zeros(m)
        tagged_base[lad.site[zt]] = lad.base[zt]
        b.add_rows(
            f"tag_capacity {g}",
            m,
            {t: (site, site, 1.0), y: (lv.site[own[lt]], lt, -usable[own[lt]]),
             z: (lad.site[zt], zt, -lad.step[zt])},
            upper=tagged_base,
        )  # fmt: skip
        b.add_rows(f"tag_share {g}", 1, {t: (0, site, 1.0), load: (0, site, -share)}, lower=0.0)
        if share * need > 0:  # the tagged capacity cut (implied, like total_capacity)
            nt = np.flatnonzero(lad.tags[g][first])
            b.add_rows(f"tag_total {g}", 1, {y: (0, lt, usable[own[lt]]),
                                             nc: (0, nt, lad.step[first[nt]])},
                       lower=share * need - float(lad.usable_base[zt].sum()))  # fmt: skip
    if data.budget is not None:
        b.add_rows("budget", 1, {y: (0, np.arange(own.size), lv.cost[own]),
                                 nc: (0, classes, lad.step_cost[first])},
                   upper=data.budget - float(lad.base_cost.sum()))  # fmt: skip
    if data.resource is not None:  # levels with a resource are never on a ladder
        blocks |= add_resource_rows(b, pairs, lv, data.resource, x, y)
    return b, blocks


def _add_links(b: ModelBuilder, data: LevelData, lad: Ladders, own, cols) -> None:
    """The link rows x_ij <= d_i (levels chosen at j, or steps taken there) for pairs whose site
    may stay without a level and whose capacity row is the weak aggregate of facility location
    (a level there holds all the demand allowed to reach it); where every level holds less, the
    capacity row binds the relaxation already: on a city's model with 14,657 pairs the links
    moved its bound by 2e-7 while doubling its rows, and HiGHS's best plan after 60 s was 1.25 %
    from the bound with them, 0.09 % without."""
    pairs, lv = data.pairs, data.levels
    m, ci, sj = pairs.n_sites, pairs.clients, pairs.sites
    free = np.ones(m, bool)
    free[data.required] = False
    free &= lv.largest_capacity(m) >= data.reach
    link = np.flatnonzero(free[sj] & (data.d[ci] > 0))
    rows = b.add_rows("link", link.size, {cols["x"]: (np.arange(link.size), link, 1.0)}, upper=0.0)
    # the binaries of each link's site
    site_of = lv.site[own]
    by_site = np.argsort(site_of, kind="stable")
    count = np.bincount(site_of, minlength=m)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    per = count[sj[link]]
    offset = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    if per.sum():
        y_cols = by_site[np.repeat(first[sj[link]], per) + offset]
        b.add_terms(rows, cols["y"], (np.repeat(np.arange(link.size), per), y_cols,
                                      -np.repeat(data.d[ci[link]], per)))  # fmt: skip
    # the step column of each link's site, where it is a ladder
    step_of = np.full(m, -1)
    step_of[lad.site] = np.arange(lad.size)
    on = np.flatnonzero(step_of[sj[link]] >= 0)
    if on.size:
        b.add_terms(rows, cols["z"], (on, step_of[sj[link[on]]], -data.d[ci[link[on]]]))


def _max_served(builder: ModelBuilder, blocks):
    """The model with the objective "maximise units served" (as min of minus the units)."""
    model = builder.build()
    c = np.zeros(model.shape[1])
    c[blocks["load"].columns] = -1.0
    return model.with_objective(c)


def _solve(model, options, start=None):
    try:
        sol = solve_matrix(model, options=options, start=start)
    except Infeasible as exc:
        parts = ", ".join(
            f"{g} short by {v:.6g}"
            for g, v in sorted(exc.violations.items(), key=lambda kv: -kv[1])[:5]
        )
        raise Infeasible(
            "no plan meets every target together" + (f": {parts}" if parts else ""),
            exc.violations,
        ) from None
    return sol.info, np.asarray(sol.x, dtype=float)
