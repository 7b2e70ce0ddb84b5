"""Exact capacitated facility location: strong MIP, and for large split-demand instances a
Lagrangian root and branch and bound on sites (the model is stated in :mod:`allocator.location`)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.location.common import (
    _TOL,
    LocationResult,
    _finish_status,
    _integral,
    _Model,
    _options,
    _Pairs,
    _pairs,
    _remaining,
    _require_every_client_served,
    _site_list,
    _vector,
)
from allocator.solver import (
    SolveInfo,
    SolverOptions,
    binary_values,
    relative_gap,
    solve_matrix,
    supported_highs_options,
)


def _solve_or_fallback(model: _Model, options, start, m, lower=None):
    """Solve a MIP; if a time limit stops it without a plan, fall back on the given start.

    ``lower``: a valid lower bound on the optimum (an answer below it is not trusted).
    """
    try:
        sol = model.solve(options, start, bound=lower)
    except SolverError as exc:
        info = getattr(exc, "info", None)
        if start is None or info is None or info.status != "error":
            raise
        value = float(np.dot(model.c, start) + model.offset)
        fallback = SolveInfo("feasible", value, None, None, info.seconds, info.solver)
        return fallback, start
    return sol.info, sol.x


def facility_location(
    service_cost,
    open_cost,
    demand,
    capacity,
    single_source: bool = False,
    fixed_open=None,
    fixed_closed=None,
    max_open: int | None = None,
    options: SolverOptions | None = None,
) -> LocationResult:
    """Choose sites to open and serve every client's demand at least total cost.

    Parameters
    ----------
    service_cost : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        Cost of serving ALL of client i's demand from site j (a share f costs f times that).
        Dense: ``inf`` marks a pair that is not allowed; sparse: a missing entry is not allowed.
    open_cost : array_like, shape (n_sites,)
        Fixed cost of opening each site.
    demand : array_like, shape (n_clients,)
        Non-negative demand of each client.
    capacity : float or array_like, shape (n_sites,)
        Capacity of each site (``inf`` for none).
    single_source : bool
        If True each client is served by exactly one site; otherwise demand may be split.
    fixed_open, fixed_closed : iterable of int, optional
        Sites that must be open / must stay closed.
    max_open : int, optional
        At most this many open sites.
    options : SolverOptions, optional
        Solver, time limit, MIP gap (default: HiGHS with gap 1e-7).

    Returns
    -------
    LocationResult
        ``assignment`` is the serving site of each client (single source) or a sparse matrix of
        demand shares (split demand).

    Raises
    ------
    Infeasible
        Before solving: a client has no allowed site, total capacity is below total demand,
        more sites are fixed open than ``max_open`` allows, the ``max_open`` largest capacities
        cannot hold the demand, or (single source) a client's demand exceeds every allowed site's
        capacity. After solving: no plan meets every constraint.
    InputError
        Malformed input.

    Notes
    -----
    Small instances, single sourcing, ``max_open`` or infinite capacities go straight to the
    strong MIP (``x_ij <= y_j`` for every pair plus the aggregate capacity cut). Large
    split-demand instances (at least 20,000 client-site pairs) first get a Lagrangian search:
    the demand rows are relaxed (one fractional knapsack per site), the sites the relaxation
    chooses are repaired into plans by a transportation LP and improved by drop/add/swap moves,
    sites whose flipped bound exceeds the best plan are fixed, and a depth-first branch and
    bound on sites with the Lagrangian bound at every node proves the best plan optimal within
    ``mip_gap``. If that tree runs out of nodes (20,000) or four fifths of the time limit, the
    strong MIP over the remaining sites takes over from the best plan.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 9.0], [2.0, 8.0], [9.0, 1.0]])
    >>> r = facility_location(cost, open_cost=[5, 5], demand=[1, 1, 1], capacity=[2, 2],
    ...                       single_source=True)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist()
    (14.0, [0, 1], [0, 0, 1])
    """
    t0 = time.perf_counter()
    options = _options(options)
    pairs = _pairs(service_cost, "service_cost")
    n, m = pairs.n_clients, pairs.n_sites
    f = _vector(open_cost, m, "open_cost")
    d = _vector(demand, n, "demand")
    u = _vector(capacity, m, "capacity")
    for name, arr in (("demand", d), ("capacity", u)):
        if (arr < 0).any():
            k = int(np.flatnonzero(arr < 0)[0])
            raise InputError(f"{name}[{k}] = {arr[k]}; expected a non-negative number")
    if not np.isfinite(f).all() or not np.isfinite(d).all():
        raise InputError("open_cost and demand must be finite")
    opened = _site_list(fixed_open, m, "fixed_open")
    closed = _site_list(fixed_closed, m, "fixed_closed")
    both = np.intersect1d(opened, closed)
    if both.size:
        raise InputError(f"site {both[0]} is in both fixed_open and fixed_closed")
    if max_open is not None:
        if isinstance(max_open, bool) or not float(max_open).is_integer() or max_open < 0:
            raise InputError(f"max_open must be a non-negative integer, got {max_open!r}")
        max_open = int(max_open)
    allowed_site = np.ones(m, dtype=bool)
    allowed_site[closed] = False
    keep = allowed_site[pairs.sites]
    if single_source:
        keep &= d[pairs.clients] <= u[pairs.sites] * (1 + 1e-12)
    work = _subset(pairs, keep)
    _check_cfl_inputs(pairs, work, d, u, allowed_site, opened, max_open, single_source)

    fix_bound = math.inf
    start = None
    proven = False
    lag = None
    if (
        not single_source
        and max_open is None
        and np.isfinite(u).all()
        and n * m >= _CFL_LAGRANGE_CELLS
        and n * m <= _CFL_DENSE_CELLS
        and (not sp.issparse(service_cost) or pairs.cost.size >= 0.25 * n * m)
        and options.solver == "highs"
    ):
        # Lagrangian bound and primal plan; sites that cannot be in a better plan are fixed
        lag = _CFLLagrange(work, f, d, u, opened, closed, t0, options)
        lag.run()
        if lag.plan is not None:
            proven = lag.lower >= lag._goal() or lag.branch_and_bound(_CFL_MAX_NODES)
            lag._keep_plan_feasible()
        fix_bound = lag.fix_bound
        opened = np.union1d(opened, np.flatnonzero(lag.fix_open)).astype(np.int64)
        closed = np.union1d(closed, np.flatnonzero(lag.fix_closed)).astype(np.int64)
        keep = np.ones(m, dtype=bool)
        keep[closed] = False
        work = _subset(work, keep[work.sites])
        start = lag.start_vector(work)
    if proven and start is not None:  # the Lagrangian search proved its best plan
        x = start
        gap = relative_gap(lag.upper, min(lag.lower, lag.upper))
        seconds = time.perf_counter() - t0
        sol_info = SolveInfo("optimal", lag.upper, lag.lower, gap, seconds, options.solver)
    else:
        lower = lag.lower if lag is not None and math.isfinite(lag.lower) else None
        sol_info, x = _solve_cfl_mip(
            work,
            f,
            d,
            u,
            opened,
            closed,
            max_open,
            single_source,
            options,
            t0,
            start,
            fix_bound,
            lower,
        )
        if lag is not None and math.isfinite(lag.lower):  # the Lagrangian bound holds for all
            bound = lag.lower if sol_info.bound is None else max(sol_info.bound, lag.lower)
            sol_info = dataclasses.replace(sol_info, bound=bound)
    y = binary_values(x[:m])
    flows = np.clip(x[m:], 0.0, 1.0)
    sites = np.flatnonzero(y)
    objective, assignment = _cfl_evaluate(
        work, f, d, u, y, flows, opened, closed, max_open, single_source
    )
    if sol_info.objective is not None and not math.isclose(
        objective, sol_info.objective, rel_tol=_TOL, abs_tol=_TOL
    ):
        raise SolverError(
            f"recomputed objective {objective!r} differs from the solver's {sol_info.objective!r}"
        )
    integral = _integral(pairs.cost) and _integral(f) and single_source
    status, bound, gap = _finish_status(
        objective, sol_info.bound, sol_info.status, integral, options.mip_gap
    )
    if status == "optimal" and gap is not None and gap > options.mip_gap * (1 + 1e-6) + 1e-12:
        status = "feasible"  # never call a plan optimal beyond the requested gap
    return LocationResult(
        objective, sites, assignment, status, bound, gap, time.perf_counter() - t0, options.solver
    )


def _solve_cfl_mip(
    work,
    f,
    d,
    u,
    opened,
    closed,
    max_open,
    single_source,
    options,
    t0,
    start,
    fix_bound,
    lower=None,
):
    """The strong facility-location MIP over the remaining sites (with an optional start)."""
    m = work.n_sites
    model = _cfl_model(work, f, d, u, opened, closed, max_open, single_source)
    mip_options = _remaining(options, t0)
    if start is not None:
        # the start is near-optimal and the root bound strong: HiGHS's root heuristics and its
        # restart cost more than the search itself (capa 8000: 51 s -> 16 s)
        extra = supported_highs_options(_CFL_MIP_OPTIONS)
        extra.update(mip_options.highs_options or {})
        mip_options = dataclasses.replace(mip_options, highs_options=extra)
    if lower is not None:
        lower -= 1e-7 * max(1.0, abs(lower))  # the subgradient bound, with room for rounding
    sol_info, x = _solve_or_fallback(model, mip_options, start, m + work.cost.size, lower)
    if math.isfinite(fix_bound) and sol_info.bound is not None:
        sol_info = dataclasses.replace(sol_info, bound=min(sol_info.bound, fix_bound))
    return sol_info, x


#: Facility location instances with at least this many client x site cells (and split demand,
#: finite capacities, no max_open) get the Lagrangian stage before the MIP (capa/b/c: 100,000).
_CFL_LAGRANGE_CELLS = 20_000


#: The Lagrangian stage holds the costs as a dense clients x sites matrix: it is skipped above
#: this many cells, and for sparse input with fewer than a quarter of the pairs allowed.
_CFL_DENSE_CELLS = 20_000_000


#: Subgradient iterations of that stage.
_CFL_LAGRANGE_ITERATIONS = 1000


#: Transportation LPs the local search on the best plan may solve, and its add/swap candidates.
_CFL_LOCAL_SEARCH_SOLVES = 150


_CFL_LOCAL_SEARCH_CANDIDATES = 5


#: The repair LP lets each client use only this many of its cheapest open sites (then all).
_CFL_REPAIR_NEAREST = 4


#: HiGHS options for the MIP after the Lagrangian stage (overridable through highs_options).
_CFL_MIP_OPTIONS = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_allow_restart": False,
}


#: Subgradient iterations without a better bound before the step is halved.
_CFL_STALL = 10


#: Branch and bound on sites after the root: iterations, initial step and patience per node,
#: and the node budget before the MIP takes over.
_CFL_NODE_ITERATIONS, _CFL_NODE_STEP, _CFL_NODE_PATIENCE = 100, 2.0, 10


_CFL_MAX_NODES = 20_000


class _CFLLagrange:
    """Lagrangian relaxation of the demand rows of split-demand facility location.

    With multipliers lam_i on "client i is fully served", the relaxation splits by site: an open
    site j costs g_j = f_j + min { sum_i (c_ij - lam_i) x_ij : sum_i d_i x_ij <= u_j, 0 <= x_ij <= 1 }
    (a fractional knapsack, solved greedily by (c_ij - lam_i) / d_i), and the sites are chosen by
    min { sum_j g_j y_j : sum_j u_j y_j >= sum_i d_i } (exact for equal capacities, its LP
    relaxation otherwise). ``sum_i lam_i`` plus that minimum is a lower bound for every lam. Sites
    chosen by the relaxation are repaired into plans by a transportation LP over them. A site whose
    bound with it forced open (closed) exceeds the best plan is fixed closed (open).
    """

    def __init__(self, pairs, f, d, u, opened, closed, t0, options):
        n, m = pairs.n_clients, pairs.n_sites
        self.C = np.full((n, m), np.inf)
        self.C[pairs.clients, pairs.sites] = pairs.cost
        self.CT = np.ascontiguousarray(self.C.T)
        self.f, self.d, self.u, self.t0, self.options = f, d, u, t0, options
        self.total = float(d.sum())
        self.force_open = np.zeros(m, dtype=bool)
        self.force_open[opened] = True
        self.force_closed = np.zeros(m, dtype=bool)
        self.force_closed[closed] = True
        # a site no client may use stays closed unless fixed open (then it only costs f_j)
        self.force_closed |= ~np.isfinite(self.C).any(axis=0) & ~self.force_open
        self.fix_open = np.zeros(m, dtype=bool)
        self.fix_closed = np.zeros(m, dtype=bool)
        self.fix_bound = math.inf
        self.upper = math.inf
        self.plan = None  # (open sites, clients, sites, shares) of the best plan
        self.lower = -math.inf
        self.lam = None  # multipliers of the best root bound
        self.tried: set[bytes] = set()  # site sets already repaired into plans
        self.nodes = 0  # nodes of the branch and bound

    def _time_left(self) -> float:
        if self.options.time_limit is None:
            return math.inf
        return self.options.time_limit - (time.perf_counter() - self.t0)

    def _site_values(self, lam):
        """g_j and the knapsack shares (rows, sites, shares) for multipliers lam."""
        d, u = self.d, self.u
        RT = self.CT - lam[None, :]
        cols, rows = np.nonzero(RT < 0)  # site-major: each site's profitable clients
        r = RT[cols, rows]
        dr = d[rows]
        with np.errstate(divide="ignore"):
            ratio = np.where(dr > 0, r / np.where(dr > 0, dr, 1.0), -np.inf)
        order = np.lexsort((ratio, cols))
        cols, rows, r, dr = cols[order], rows[order], r[order], dr[order]
        cum = np.cumsum(dr)
        seg = np.searchsorted(cols, np.arange(self.CT.shape[0]))
        base = np.concatenate([[0.0], cum])[seg]
        before = cum - dr - base[cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(dr > 0, np.clip((u[cols] - before) / dr, 0.0, 1.0), 1.0)
        g = self.f + np.bincount(cols, weights=r * frac, minlength=u.size)
        return g, (rows, cols, frac)

    def _select(self, g, force_open, force_closed):
        """min sum_j g_j y_j s.t. sum_j u_j y_j >= total demand: value and chosen sites."""
        u, total = self.u, self.total
        y = force_open.copy()
        free = ~force_open & ~force_closed
        y |= free & (g < 0)
        value = float(g[y].sum())
        short = total - float(u[y].sum())
        if short <= 1e-12 * max(total, 1.0):
            return value, y
        cand = np.flatnonzero(free & ~y)
        if cand.size and np.all(u[cand] == u[cand[0]]) and u[cand[0]] > 0:
            k = math.ceil(short / u[cand[0]] - 1e-9)
            if k > cand.size:
                return math.inf, y
            pick = cand[np.argsort(g[cand], kind="stable")[:k]]
            y[pick] = True
            return value + float(g[pick].sum()), y
        cand = cand[u[cand] > 0]
        order = cand[np.argsort(g[cand] / u[cand], kind="stable")]
        cum = np.cumsum(u[order])
        if cum.size == 0 or cum[-1] < short * (1 - 1e-12):
            return math.inf, y
        t = min(int(np.searchsorted(cum, short * (1 - 1e-12))), order.size - 1)
        rest = short - (cum[t - 1] if t > 0 else 0.0)
        y[order[: t + 1]] = True
        return value + float(g[order[:t]].sum()) + float(g[order[t]]) * rest / u[order[t]], y

    def _repair(self, y) -> None:
        """Best split of the demand over the sites ``y`` (transportation LP); keep if better."""
        sites = np.flatnonzero(y)
        if float(self.u[sites].sum()) < self.total * (1 - 1e-12):
            return
        sub = self.C[:, sites]
        near = np.isfinite(sub)
        if sites.size > _CFL_REPAIR_NEAREST:
            # a heuristic: each client only to its few cheapest sites (all if that fails)
            kth = np.partition(sub, _CFL_REPAIR_NEAREST - 1, axis=1)[:, _CFL_REPAIR_NEAREST - 1]
            near &= sub <= kth[:, None]
            if self._transport(sites, sub, near):
                return
        self._transport(sites, sub, np.isfinite(sub))

    def _transport(self, sites, sub, allowed) -> bool:
        """Transportation LP over ``allowed`` pairs of ``sites``; keep if better. False if none."""
        ii, jj = np.nonzero(allowed)
        k, n = ii.size, self.C.shape[0]
        A = sp.vstack(
            [
                sp.csr_matrix((np.ones(k), (ii, np.arange(k))), shape=(n, k)),
                sp.csr_matrix((self.d[ii], (jj, np.arange(k))), shape=(sites.size, k)),
            ]
        ).tocsc()
        rl = np.concatenate([np.ones(n), np.full(sites.size, -np.inf)])
        ru = np.concatenate([np.ones(n), self.u[sites]])
        try:
            sol = solve_matrix(
                sub[ii, jj], A, rl, ru, np.zeros(k), np.ones(k), None, options=SolverOptions()
            )
        except (Infeasible, SolverError):
            return False
        shares = np.clip(sol.x, 0.0, 1.0)
        served = np.bincount(ii, weights=shares, minlength=n)
        load = np.bincount(jj, weights=self.d[ii] * shares, minlength=sites.size)
        if (np.abs(served - 1.0) > 1e-7).any() or (load > self.u[sites] * (1 + 1e-9) + 1e-9).any():
            return False  # not a plan (the check every result passes)
        used = np.bincount(jj, weights=shares, minlength=sites.size) > 1e-9
        used |= self.force_open[sites]
        value = float(np.dot(sub[ii, jj], shares) + self.f[sites[used]].sum())
        if value < self.upper:
            self.upper = value
            self.plan = (sites[used], ii, sites[jj], shares)
        return True

    def _local_search(self, g) -> None:
        """Drop, add and swap moves on the best plan (add candidates: lowest g_j first)."""
        m = self.C.shape[1]
        budget = _CFL_LOCAL_SEARCH_SOLVES
        improved = True
        while improved and budget > 0:
            improved = False
            y0 = np.zeros(m, dtype=bool)
            y0[self.plan[0]] = True
            outside = np.flatnonzero(~y0 & ~self.force_closed)
            cand = outside[np.argsort(g[outside], kind="stable")[:_CFL_LOCAL_SEARCH_CANDIDATES]]
            inside = np.flatnonzero(y0 & ~self.force_open)
            moves = [([j], []) for j in inside] + [([], [c]) for c in cand]
            moves += [([j], [c]) for c in cand for j in inside]
            for drop, add in moves:
                if budget <= 0 or self._time_left() < 0.5 * (self.options.time_limit or 0.0):
                    budget = 0
                    break
                y = y0.copy()
                y[drop] = False
                y[add] = True
                before = self.upper
                self._repair(y)
                budget -= 1
                if self.upper < before - 1e-9 * abs(before):
                    improved = True
                    break
        sites = self.plan[0]  # the best split over the plan's sites, all pairs allowed
        self._transport(sites, self.C[:, sites], np.isfinite(self.C[:, sites]))

    def _goal(self) -> float:
        """A bound at or above this proves that no plan is worth finding (relative gap)."""
        return self.upper - max(self.options.mip_gap, 1e-9) * abs(self.upper)

    def _subgradient(self, lam, force_open, force_closed, iterations, step, patience, root):
        """Subgradient optimisation of the bound for the given fixings.

        Returns the best bound (inf if no choice of sites can hold the demand), its multipliers
        and the sites' average choice over the iterations (an estimate of the LP's y).
        """
        n = self.C.shape[0]
        best_L, best_lam, stall = -math.inf, lam, 0
        y_avg = None
        for it in range(iterations):
            g, X = self._site_values(lam)
            value, y = self._select(g, force_open, force_closed)
            if not math.isfinite(value):
                return math.inf, lam, y.astype(float)
            y_avg = y.astype(float) if y_avg is None else 0.9 * y_avg + 0.1 * y
            L = float(lam.sum()) + value
            if L > best_L + 1e-12 * abs(L):
                best_L, best_lam, stall = L, lam, 0
            else:
                stall += 1
                if stall >= patience:
                    step, stall = step / 2, 0
            if root and (it % 10 == 0 or it < 5):
                self._try(y)
            if best_L >= (self._goal() if not root else self.upper - 1e-9 * abs(self.upper)):
                break
            if step < 1e-4:
                break
            if root and self._time_left() < 0.5 * (self.options.time_limit or 0.0):
                break
            if not root and self._time_left() < 0.5:
                break
            rows, cols, frac = X
            sub = 1.0 - np.bincount(rows, weights=frac * y[cols], minlength=n)
            norm = float(sub @ sub)
            if norm == 0:
                break
            target = min(self.upper, abs(L) * 1.05 + 1.0)
            lam = lam + step * max(target - L, 1e-9 * abs(target)) / norm * sub
        return best_L, best_lam, y_avg

    def _try(self, y) -> None:
        """Repair the sites ``y`` into a plan unless they were tried before."""
        key = np.flatnonzero(y).tobytes()
        if key not in self.tried:
            self.tried.add(key)
            self._repair(y)

    def _flip_bounds(self, lam, force_open, force_closed, g=None):
        """The bound with each free site flipped against the relaxation's choice (nan if fixed).

        ``g``: the site values at ``lam`` when the caller has them. Returns the relaxation's choice
        y and the bounds.
        """
        if g is None:
            g, _ = self._site_values(lam)
        base = float(lam.sum())
        _, y = self._select(g, force_open, force_closed)
        bounds = np.full(y.size, np.nan)
        for j in np.flatnonzero(~force_open & ~force_closed):
            fo, fc = force_open.copy(), force_closed.copy()
            (fc if y[j] else fo)[j] = True
            value, _ = self._select(g, fo, fc)
            bounds[j] = base + value
        return y, bounds

    def run(self) -> None:
        """The root: bound, plans, local search and site fixing."""
        lam = np.min(self.C, axis=1)
        best_L, best_lam, _ = self._subgradient(
            lam, self.force_open, self.force_closed, _CFL_LAGRANGE_ITERATIONS, 2.0, _CFL_STALL, True
        )
        if not math.isfinite(best_L):
            return
        self.lower, self.lam = best_L, best_lam
        if self.plan is None:
            return
        g, _ = self._site_values(best_lam)
        self._local_search(g)
        # fixing by the bound with a site forced open / closed
        y, bounds = self._flip_bounds(best_lam, self.force_open, self.force_closed, g)
        fixed = bounds > self.upper
        self.fix_open = fixed & y
        self.fix_closed = fixed & ~y
        if fixed.any():
            self.fix_bound = float(bounds[fixed].min())
        self._keep_plan_feasible()

    def _keep_plan_feasible(self) -> None:
        """The best plan must stay feasible for the reduced model."""
        in_plan = np.zeros(self.C.shape[1], dtype=bool)
        in_plan[self.plan[0]] = True
        self.fix_closed &= ~in_plan
        self.fix_open &= in_plan

    def branch_and_bound(self, max_nodes: int) -> bool:
        """Depth-first branch and bound on sites with the Lagrangian bound at every node.

        Branches on the free site whose average choice over the node's subgradient iterations is
        nearest one half, the more likely side first; sites whose flipped bound exceeds the goal
        are fixed at each node. True when the tree is exhausted, which proves the best plan
        optimal within the MIP gap; ``lower`` then holds the smallest bound of the pruned nodes.
        """
        if self.plan is None or not math.isfinite(self.lower):
            return False
        pruned = self.fix_bound
        limit = self.options.time_limit or 0.0
        root = (self.force_open | self.fix_open, self.force_closed | self.fix_closed, self.lam)
        stack = [(*root, self.lower)]
        nodes = 0
        while stack:
            # leave a fifth of the time to the MIP that takes over
            if nodes >= max_nodes or self._time_left() < max(1.0, 0.2 * limit):
                self.nodes = nodes
                open_bound = min(entry[3] for entry in stack)
                self.lower = max(self.lower, min(pruned, open_bound, self.upper))
                return False
            fo, fc, lam, _ = stack.pop()
            nodes += 1
            free = ~fo & ~fc
            if not free.any():
                sites = np.flatnonzero(fo)
                sub = self.C[:, sites]
                if float(self.u[sites].sum()) >= self.total * (1 - 1e-12):
                    self._transport(sites, sub, np.isfinite(sub))
                continue
            L, lam, y_avg = self._subgradient(
                lam, fo, fc, _CFL_NODE_ITERATIONS, _CFL_NODE_STEP, _CFL_NODE_PATIENCE, False
            )
            if L >= self._goal():
                pruned = min(pruned, L)
                continue
            y, bounds = self._flip_bounds(lam, fo, fc)
            self._try(y)
            if L >= self._goal():
                pruned = min(pruned, L)
                continue
            fixed = bounds > self._goal()
            if fixed.any():
                pruned = min(pruned, float(bounds[fixed].min()))
                fo, fc = fo | (fixed & y), fc | (fixed & ~y)
                free &= ~fixed
            if not free.any():
                stack.append((fo, fc, lam, L))
                continue
            cand = np.flatnonzero(free)
            j = cand[np.argmin(np.abs(y_avg[cand] - 0.5))]
            open_child = (fo.copy(), fc, lam, L)
            open_child[0][j] = True
            closed_child = (fo, fc.copy(), lam, L)
            closed_child[1][j] = True
            if y_avg[j] >= 0.5:
                stack += [closed_child, open_child]
            else:
                stack += [open_child, closed_child]
        self.nodes = nodes
        self.lower = min(pruned, self.upper)
        return True

    def start_vector(self, pairs: _Pairs):
        """The best plan as a start vector of the facility model over ``pairs`` (or None)."""
        if self.plan is None:
            return None
        sites, ii, jj, shares = self.plan
        m = pairs.n_sites
        x = np.zeros(m + pairs.cost.size)
        x[sites] = 1.0
        key = pairs.clients * m + pairs.sites
        where = np.searchsorted(key, ii * m + jj)
        where = np.minimum(where, key.size - 1)
        ok = key[where] == ii * m + jj
        if not ok[shares > 1e-12].all():
            return None
        x[m + where[ok]] = shares[ok]
        return x


def _subset(pairs: _Pairs, keep: np.ndarray) -> _Pairs:
    clients = pairs.clients[keep]
    indptr = np.zeros(pairs.n_clients + 1, dtype=np.int64)
    np.cumsum(np.bincount(clients, minlength=pairs.n_clients), out=indptr[1:])
    return _Pairs(indptr, pairs.sites[keep], pairs.cost[keep], pairs.n_clients, pairs.n_sites)


def _check_cfl_inputs(pairs, work, d, u, allowed_site, opened, max_open, single_source):
    if (np.diff(pairs.indptr) == 0).any():
        _require_every_client_served(pairs, "")
    reason = " that is not fixed closed"
    if single_source:
        reason += " with enough capacity for its whole demand"
    _require_every_client_served(work, reason)
    total = float(d.sum())
    available = float(u[allowed_site].sum())
    if available < total * (1 - 1e-12):
        raise Infeasible(
            f"total capacity {available:g} of the sites that may open is below total demand "
            f"{total:g}",
            {"capacity": total - available},
        )
    if max_open is not None:
        if opened.size > max_open:
            raise Infeasible(
                f"{opened.size} sites are fixed open but max_open = {max_open}",
                {"max_open": float(opened.size - max_open)},
            )
        caps = u.copy()
        caps[~allowed_site] = 0.0
        rest = np.delete(caps, opened)
        best = float(caps[opened].sum() + np.sort(rest)[::-1][: max_open - opened.size].sum())
        if best < total * (1 - 1e-12):
            raise Infeasible(
                f"with at most {max_open} open sites the capacity is at most {best:g}, "
                f"below total demand {total:g}",
                {"capacity": total - best},
            )


def _cfl_model(pairs, f, d, u, opened, closed, max_open, single_source) -> _Model:
    n, m = pairs.n_clients, pairs.n_sites
    k = pairs.cost.size
    ci, sj = pairs.clients, pairs.sites
    n_cols = m + k
    xcol = m + np.arange(k)
    c = np.concatenate([f, pairs.cost])
    rows, cols, vals, rl, ru, groups = [], [], [], [], [], []
    r0 = 0
    # assignment rows
    rows.append(ci)
    cols.append(xcol)
    vals.append(np.ones(k))
    rl.append(np.ones(n))
    ru.append(np.ones(n))
    groups += ["demand"] * n
    r0 += n
    # capacity rows for finite capacities
    finite = np.isfinite(u)
    cap_sites = np.flatnonzero(finite)
    cap_row = np.full(m, -1)
    cap_row[cap_sites] = r0 + np.arange(cap_sites.size)
    on_cap = finite[sj] & (d[ci] > 0)
    rows += [cap_row[sj[on_cap]], cap_row[cap_sites]]
    cols += [xcol[on_cap], cap_sites]
    vals += [d[ci[on_cap]], -u[cap_sites]]
    rl.append(np.full(cap_sites.size, -np.inf))
    ru.append(np.zeros(cap_sites.size))
    groups += ["capacity"] * cap_sites.size
    r0 += cap_sites.size
    # strong linking x_ij <= y_j (implied by the bound x_ij <= 1 where y_j is fixed open)
    fixed_on = np.zeros(m, dtype=bool)
    fixed_on[opened] = True
    link = np.flatnonzero(~fixed_on[sj])
    n_link = link.size
    rows += [r0 + np.arange(n_link), r0 + np.arange(n_link)]
    cols += [xcol[link], sj[link]]
    vals += [np.ones(n_link), -np.ones(n_link)]
    rl.append(np.full(n_link, -np.inf))
    ru.append(np.zeros(n_link))
    groups += ["link"] * n_link
    r0 += n_link
    # aggregate capacity cut
    if finite.all():
        rows.append(np.full(m, r0))
        cols.append(np.arange(m))
        vals.append(u)
        rl.append([float(d.sum())])
        ru.append([np.inf])
        groups.append("total_capacity")
        r0 += 1
    if max_open is not None:
        rows.append(np.full(m, r0))
        cols.append(np.arange(m))
        vals.append(np.ones(m))
        rl.append([-np.inf])
        ru.append([float(max_open)])
        groups.append("max_open")
        r0 += 1
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_cols)
    )
    cl = np.zeros(n_cols)
    cu = np.ones(n_cols)
    cl[opened] = 1.0
    cu[closed] = 0.0
    integ = np.zeros(n_cols, dtype=bool)
    integ[:m] = True
    if single_source:
        integ[m:] = True
    return _Model(
        c, A, np.concatenate(rl), np.concatenate(ru), cl, cu, integ, 0.0, groups, None, np.arange(m)
    )


def _cfl_evaluate(pairs, f, d, u, y, flows, opened, closed, max_open, single_source):
    n, m = pairs.n_clients, pairs.n_sites
    ci, sj = pairs.clients, pairs.sites
    tol = 1e-6
    if single_source:
        pick = binary_values(flows)
        per_client = np.bincount(ci[pick], minlength=n)
        if (per_client != 1).any():
            i = int(np.flatnonzero(per_client != 1)[0])
            raise SolverError(f"the solver's plan serves client {i} from {per_client[i]} sites")
        order = np.argsort(ci[pick], kind="stable")
        assignment = sj[pick][order]
        share = pick.astype(float)
        objective = float(f[y].sum() + pairs.cost[pick].sum())
    else:
        share = np.where(flows > 1e-9, flows, 0.0)
        sums = np.bincount(ci, weights=share, minlength=n)
        if (np.abs(sums - 1) > tol).any():
            i = int(np.flatnonzero(np.abs(sums - 1) > tol)[0])
            raise SolverError(f"the solver's plan serves {sums[i]:.9g} of client {i}'s demand")
        share = share / sums[ci]
        assignment = sp.csr_matrix((share, (ci, sj)), shape=(n, m))
        assignment.eliminate_zeros()
        objective = float(f[y].sum() + np.dot(pairs.cost, share))
    served_closed = (share > 0) & ~y[sj]
    if served_closed.any():
        e = int(np.flatnonzero(served_closed)[0])
        raise SolverError(f"the solver's plan serves client {ci[e]} from closed site {sj[e]}")
    load = np.bincount(sj, weights=d[ci] * share, minlength=m)
    over = load > u * (1 + tol) + tol
    if over.any():
        j = int(np.flatnonzero(over)[0])
        raise SolverError(f"the solver's plan loads site {j} with {load[j]:g} > capacity {u[j]:g}")
    if not y[opened].all() or y[closed].any():
        raise SolverError("the solver's plan does not respect fixed_open / fixed_closed")
    if max_open is not None and y.sum() > max_open:
        raise SolverError(f"the solver's plan opens {y.sum()} sites > max_open = {max_open}")
    return objective, assignment
