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

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.frozen import FrozenMap
from allocator.location.common import (
    allowed_pairs,
    as_vector,
    resolve_options,
    site_indices,
    with_time_left,
)
from allocator.location.level_presolve import undominated
from allocator.location.level_start import LevelView, first_plan
from allocator.solver import (
    ModelBuilder,
    SolveInfo,
    SolverOptions,
    binary_values,
    solve_matrix,
)

__all__ = ["SiteLevels", "LevelResult", "levelled_location"]

#: Tolerance of the checks a plan passes (units of demand or money, relative to their size).
TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class SiteLevels:
    """The levels sites can take: one row per level.

    Attributes
    ----------
    site : numpy.ndarray of int
        The site of each level.
    cost : numpy.ndarray
        Fixed cost of choosing the level (>= 0).
    capacity : numpy.ndarray
        The site's capacity when the level is chosen (>= 0, finite).
    tags : mapping
        Tag -> bool array (the levels carrying it).

    Examples
    --------
    >>> lv = SiteLevels(site=[0, 1, 1], cost=[0, 5, 9], capacity=[4, 6, 12])
    >>> lv.n_levels, lv.largest_capacity(2).tolist()
    (3, [4.0, 12.0])
    """

    site: np.ndarray
    cost: np.ndarray
    capacity: np.ndarray
    tags: Mapping = field(default_factory=FrozenMap)

    def __post_init__(self):
        site = np.asarray(self.site)
        if site.ndim != 1 or (site.size and not np.issubdtype(site.dtype, np.integer)):
            raise InputError(f"levels' site must be a 1-d array of site indices, got {site!r}")
        k = site.size
        cost = as_vector(self.cost, k, "levels' cost")
        capacity = as_vector(self.capacity, k, "levels' capacity")
        for name, arr in (("cost", cost), ("capacity", capacity)):
            bad = ~np.isfinite(arr) | (arr < 0)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise InputError(f"levels' {name}[{j}] = {arr[j]}; expected a finite number >= 0")
        tags = {}
        for tag, mask in dict(self.tags).items():
            arr = np.asarray(mask, dtype=bool)
            if arr.shape != (k,):
                raise InputError(f"tag {tag!r} must mark each of the {k} levels, got {arr.shape}")
            arr.setflags(write=False)
            tags[str(tag)] = arr
        for name, arr in (("site", site.astype(np.int64)), ("cost", cost), ("capacity", capacity)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "tags", FrozenMap(tags))

    @property
    def n_levels(self) -> int:
        """Number of levels."""
        return int(self.site.size)

    def largest_capacity(self, n_sites: int, tag: str | None = None) -> np.ndarray:
        """Each site's largest capacity over its levels (carrying ``tag`` if given; 0 if none)."""
        out = np.zeros(n_sites)
        keep = np.ones(self.n_levels, bool) if tag is None else self.tags[tag]
        np.maximum.at(out, self.site[keep], self.capacity[keep])
        return out


@dataclass(frozen=True, eq=False)
class LevelResult:
    """A levelled location plan.

    Attributes
    ----------
    objective : float
        Fixed plus service cost, recomputed from the plan.
    levels : numpy.ndarray of int
        Sorted indices of the chosen levels.
    flows : scipy.sparse.csr_matrix
        Clients x sites: units of each client's demand served by each site.
    served : numpy.ndarray
        Units served per client.
    fixed_cost, service_cost : float
        The two parts of ``objective``.
    tag_loads : mapping
        Tag -> the load counting for it (sum over sites whose chosen level carries the tag).
    info : SolveInfo
        Status, gap and time of the solve (both stages in budget mode).
    """

    objective: float
    levels: np.ndarray
    flows: sp.csr_matrix
    served: np.ndarray
    fixed_cost: float
    service_cost: float
    tag_loads: Mapping
    info: SolveInfo

    @property
    def total_served(self) -> float:
        """Units of demand served in all."""
        return float(self.served.sum())


@dataclass(frozen=True)
class _Data:
    pairs: object
    d: np.ndarray
    least: np.ndarray
    levels: SiteLevels
    required: np.ndarray
    min_share: float
    shares: Mapping
    budget: float | None


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
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    data = _checked(
        service_cost, demand, levels, required_sites, min_served, min_share, tag_shares, budget
    )
    _certify_possible(data)
    kept, data = _reduced(data)
    builder, blocks = _model(data)
    if data.budget is None:
        model = builder.build()
        lv = data.levels
        view = LevelView(lv.site, lv.cost, _usable(data), lv.tags, data.required)
        left = (
            None if options.time_limit is None else options.time_limit - (time.perf_counter() - t0)
        )
        start = first_plan(model, blocks["y"], view, options, time_limit=left)
        info, vec = _solve(model, with_time_left(options, t0), start=start)
    else:
        info1, vec1 = _solve(_max_served(builder, blocks), with_time_left(options, t0))
        served = float(vec1[blocks["load"].columns].sum())
        model = builder.build()
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
    result = _evaluate(data, blocks, vec, info, time.perf_counter() - t0)
    return replace(result, levels=kept[result.levels])


def _usable(data: _Data) -> np.ndarray:
    """Each level's capacity as the capacity rows count it: at most the demand allowed to reach
    its site (no plan loads a site beyond that, so the smaller coefficient is valid and
    tighter)."""
    pairs, lv = data.pairs, data.levels
    reach = np.bincount(pairs.sites, weights=data.d[pairs.clients], minlength=pairs.n_sites)
    return np.minimum(lv.capacity, reach[lv.site])


def _reduced(data: _Data):
    """(kept level indices, the data on those levels): dominated levels removed
    (:mod:`allocator.location.level_presolve`; exact)."""
    pairs, lv = data.pairs, data.levels
    reach = np.bincount(pairs.sites, weights=data.d[pairs.clients], minlength=pairs.n_sites)
    kept = undominated(lv, reach)
    if kept.size == lv.n_levels:
        return kept, data
    fewer = SiteLevels(
        site=lv.site[kept],
        cost=lv.cost[kept],
        capacity=lv.capacity[kept],
        tags={g: mask[kept] for g, mask in lv.tags.items()},
    )
    return kept, replace(data, levels=fewer)


def _checked(
    service_cost, demand, levels, required_sites, min_served, min_share, tag_shares, budget
) -> _Data:
    pairs = allowed_pairs(service_cost, "service_cost")
    n, m = pairs.n_clients, pairs.n_sites
    if not isinstance(levels, SiteLevels):
        raise InputError(f"levels must be a SiteLevels, got {type(levels).__name__}")
    if levels.n_levels and (levels.site.min() < 0 or levels.site.max() >= m):
        bad = levels.site[(levels.site < 0) | (levels.site >= m)][0]
        raise InputError(f"a level belongs to site {bad}; expected sites 0..{m - 1}")
    d = as_vector(demand, n, "demand")
    least = as_vector(min_served, n, "min_served", default=0.0)
    for name, arr in (("demand", d), ("min_served", least)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{name}[{i}] = {arr[i]}; expected a finite number >= 0")
    over = least > d * (1 + 1e-12)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InputError(f"min_served[{i}] = {least[i]:g} exceeds demand[{i}] = {d[i]:g}")
    if (pairs.cost < 0).any():
        raise InputError("service_cost must be >= 0 on every allowed pair")
    shares = {}
    for tag, share in dict(tag_shares or {}).items():
        if tag not in levels.tags:
            raise InputError(f"tag_shares names {tag!r}; the levels carry {sorted(levels.tags)}")
        shares[str(tag)] = _share(share, f"tag_shares[{tag!r}]")
    if budget is not None and (not math.isfinite(float(budget)) or float(budget) < 0):
        raise InputError(f"budget = {budget!r}; expected a finite number >= 0")
    required = site_indices(required_sites, m, "required_sites")
    has_level = np.zeros(m, bool)
    has_level[levels.site] = True
    if required.size and not has_level[required].all():
        j = int(required[~has_level[required]][0])
        raise InputError(f"required site {j} has no level to take")
    return _Data(
        pairs,
        d,
        least,
        levels,
        required,
        _share(min_share, "min_share"),
        FrozenMap(shares),
        None if budget is None else float(budget),
    )


def _share(value, name) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InputError(f"{name} = {value!r}; expected a share from 0 to 1")
    return v


def _certify_possible(data: _Data) -> None:
    """Raise Infeasible with numbers when a simple count shows that no plan exists."""
    pairs, d, lv = data.pairs, data.d, data.levels
    m = pairs.n_sites
    cap = lv.largest_capacity(m)
    reach = np.zeros(pairs.n_clients, bool)
    usable = cap[pairs.sites] > 0
    reach[pairs.clients[usable]] = True
    lonely = (~reach) & (data.least > 0)
    if lonely.any():
        i = int(np.flatnonzero(lonely)[0])
        raise Infeasible(
            f"client {i} must have {data.least[i]:g} served but no site with "
            "capacity is allowed for it",
            {"demand": float(data.least[lonely].sum())},
        )
    need = max(data.min_share * float(d.sum()), float(data.least.sum()))
    reachable = float(d[reach].sum())
    if need > reachable * (1 + 1e-9) + 1e-9:
        raise Infeasible(
            f"{need:g} units of demand must be served but only {reachable:g} of "
            f"{float(d.sum()):g} can reach a site",
            {"coverage": need - reachable},
        )
    most = float(cap.sum())
    if need > most * (1 + 1e-9) + 1e-9:
        raise Infeasible(
            f"{need:g} units of demand must be served but the largest levels of all "
            f"sites hold {most:g}",
            {"capacity": need - most},
        )
    for tag, share in data.shares.items():
        tagged = float(lv.largest_capacity(m, tag).sum())
        if share * need > tagged * (1 + 1e-9) + 1e-9:
            raise Infeasible(
                f"{share:.0%} of the {need:g} units served must be at sites tagged "
                f"{tag!r}, {share * need:g} units, but the tagged levels hold at "
                f"most {tagged:g}",
                {f"tag_share {tag}": share * need - tagged},
            )
    if data.budget is not None and data.required.size:
        cheapest = np.full(m, np.inf)
        np.minimum.at(cheapest, lv.site, lv.cost)
        floor = float(cheapest[data.required].sum())
        if floor > data.budget * (1 + 1e-12) + 1e-9:
            raise Infeasible(
                f"the required sites' cheapest levels cost {floor:g}, over the "
                f"budget {data.budget:g}",
                {"budget": floor - data.budget},
            )


def _model(data: _Data):
    """The model of :mod:`allocator.location.levels` (cost objective; no coverage floor in budget
    mode beyond ``min_share``)."""
    pairs, lv = data.pairs, data.levels
    n, m, k = pairs.n_clients, pairs.n_sites, pairs.cost.size
    ci, sj, pair = pairs.clients, pairs.sites, np.arange(k)
    # a site never serves more than the demand allowed to reach it: capacity beyond that is
    # cut from every capacity row (with few clients in reach of a site the relaxation can no
    # longer buy a large level in part, paying only for the places it uses)
    reach = np.bincount(sj, weights=data.d[ci], minlength=m)
    usable = _usable(data)
    b = ModelBuilder()
    y = b.add_columns("y", lv.n_levels, cost=lv.cost, upper=1.0, integer=True)
    x = b.add_columns("x", k, cost=pairs.cost)
    sites_with = np.unique(lv.site)
    row_of = np.full(m, -1)
    row_of[sites_with] = np.arange(sites_with.size)
    req = np.zeros(sites_with.size)
    req[row_of[data.required]] = 1.0
    b.add_rows(
        "level_choice",
        sites_with.size,
        {y: (row_of[lv.site], np.arange(lv.n_levels), 1.0)},
        lower=req,
        upper=1.0,
    )
    b.add_rows("demand", n, {x: (ci, pair, 1.0)}, lower=data.least, upper=data.d)
    site = np.arange(m)
    load = b.add_columns("load", m)
    b.add_rows("load", m, {x: (sj, pair, 1.0), load: (site, site, -1.0)}, lower=0.0, upper=0.0)
    b.add_rows(
        "capacity",
        m,
        {load: (site, site, 1.0), y: (lv.site, np.arange(lv.n_levels), -usable)},
        upper=0.0,
    )
    # link x_ij <= d_i * (levels chosen at j), for pairs whose site may stay without a level and
    # whose capacity row is the weak aggregate of facility location (a level there holds all the
    # demand allowed to reach it); where every level holds less, the capacity row binds the
    # relaxation already: on a city's model with 14,657 pairs the links moved its bound by 2e-7 while
    # doubling its rows, and HiGHS's best plan after 60 s was 1.25 % from the bound with them,
    # 0.09 % without
    free = np.ones(m, bool)
    free[data.required] = False
    free &= lv.largest_capacity(m) >= reach
    link = np.flatnonzero(free[sj] & (data.d[ci] > 0))
    by_site = np.argsort(lv.site, kind="stable")
    count = np.bincount(lv.site, minlength=m)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    per = count[sj[link]]
    offset = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    link_rows = b.add_rows("link", link.size, {x: (np.arange(link.size), link, 1.0)}, upper=0.0)
    if per.sum():
        cols = by_site[np.repeat(first[sj[link]], per) + offset]
        b.add_terms(link_rows, y, (np.repeat(np.arange(link.size), per), cols,
                                   -np.repeat(data.d[ci[link]], per)))  # fmt: skip
    need = max(data.min_share * float(data.d.sum()), float(data.least.sum()))
    if data.min_share > 0:
        b.add_rows(
            "coverage", 1, {load: (0, site, 1.0)}, lower=data.min_share * float(data.d.sum())
        )
    if need > 0:  # the aggregate capacity cut (implied; its rounding helps the MIP's bound)
        level = np.arange(lv.n_levels)
        b.add_rows("total_capacity", 1, {y: (0, level, usable)}, lower=need)
    blocks = {"y": y, "x": x, "load": load}
    for g, share in data.shares.items():
        tagged = lv.tags[g]
        t = b.add_columns(f"t_{g}", m)
        blocks[f"t_{g}"] = t
        b.add_rows(
            f"tag_load {g}",
            m,
            {t: (site, site, 1.0), load: (site, site, -1.0)},
            upper=0.0,
        )
        lt = np.flatnonzero(tagged)
        b.add_rows(
            f"tag_capacity {g}",
            m,
            {t: (site, site, 1.0), y: (lv.site[lt], lt, -usable[lt])},
            upper=0.0,
        )
        b.add_rows(f"tag_share {g}", 1, {t: (0, site, 1.0), load: (0, site, -share)}, lower=0.0)
        if share * need > 0:  # the tagged capacity cut (implied, like total_capacity)
            b.add_rows(f"tag_total {g}", 1, {y: (0, lt, usable[lt])}, lower=share * need)
    if data.budget is not None:
        b.add_rows("budget", 1, {y: (0, np.arange(lv.n_levels), lv.cost)}, upper=data.budget)
    return b, blocks


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


def _evaluate(data: _Data, blocks, vec, info, seconds) -> LevelResult:
    """The plan in ``vec`` recomputed and checked against every row of the model."""
    pairs, lv = data.pairs, data.levels
    n, m = pairs.n_clients, pairs.n_sites
    chosen = np.flatnonzero(binary_values(vec[blocks["y"].columns]))
    flow = np.clip(vec[blocks["x"].columns], 0.0, None)
    flow[flow < 1e-9] = 0.0
    ci, sj = pairs.clients, pairs.sites
    served = np.bincount(ci, weights=flow, minlength=n)
    load = np.bincount(sj, weights=flow, minlength=m)
    cap = np.zeros(m)
    np.add.at(cap, lv.site[chosen], lv.capacity[chosen])
    per_site = np.bincount(lv.site[chosen], minlength=m)

    def tol(v):
        return TOLERANCE * max(1.0, abs(float(v)))

    if (per_site > 1).any():
        raise SolverError(
            f"the plan chooses {per_site.max()} levels at site {int(np.argmax(per_site))}"
        )
    if data.required.size and (per_site[data.required] != 1).any():
        raise SolverError("the plan leaves a required site without a level")
    if (load > cap + np.vectorize(tol)(cap)).any():
        j = int(np.argmax(load - cap))
        raise SolverError(f"the plan loads site {j} with {load[j]:g} > capacity {cap[j]:g}")
    if (served > data.d + 1e-6).any() or (served < data.least - 1e-6).any():
        raise SolverError("the plan serves a client outside its demand bounds")
    total = float(served.sum())
    if total < data.min_share * float(data.d.sum()) - tol(total):
        raise SolverError(f"the plan serves {total:g}, below the coverage target")
    tag_loads = {}
    for g in lv.tags:
        on = np.zeros(m, bool)
        on[lv.site[chosen[lv.tags[g][chosen]]]] = True
        tag_loads[g] = float(load[on].sum())
        if g in data.shares and tag_loads[g] < data.shares[g] * total - tol(total):
            raise SolverError(
                f"the plan serves {tag_loads[g]:g} at {g!r} sites, below "
                f"{data.shares[g]:.0%} of {total:g}"
            )
    fixed = float(lv.cost[chosen].sum())
    if data.budget is not None and fixed > data.budget + tol(data.budget):
        raise SolverError(f"the plan spends {fixed:g}, over the budget {data.budget:g}")
    service = float(np.dot(pairs.cost, flow))
    objective = fixed + service
    if info.objective is not None and not math.isclose(
        objective, info.objective, rel_tol=1e-6, abs_tol=1e-6
    ):
        raise SolverError(
            f"recomputed cost {objective!r} differs from the solver's {info.objective!r}"
        )
    flows = sp.csr_matrix((flow, (ci, sj)), shape=(n, m))
    flows.eliminate_zeros()
    info = SolveInfo(info.status, objective, info.bound, info.gap, seconds, info.solver)
    return LevelResult(objective, chosen, flows, served, fixed, service, FrozenMap(tag_loads), info)
