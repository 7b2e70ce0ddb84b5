"""Exact p-median and capacitated facility location on a cost matrix.

Generic core: clients, candidate sites and the cost of serving a client from a site; nothing here
knows about schools. Costs come as a dense numpy array (``inf`` marks a pair that is not allowed) or
as a scipy.sparse matrix in which a *stored* entry is an allowed pair (an explicitly stored zero is
an allowed pair of cost 0) and a missing entry is not allowed.

p-median (radius formulation, Elloumi 2010)
    Sets: clients i with weights w_i >= 0; sites j; allowed pairs (i, j) with cost c_ij.
    For client i let D_i1 < D_i2 < ... < D_iK be its distinct allowed costs, keeping only those up
    to the (m - p + 1)-th smallest (with p of the m sites open, one of those is always open).
    Variables: y_j in {0, 1} (site j open); z_ik in [0, 1], k = 1 .. K-1 (client i has no open site
    at cost <= D_ik).
    Objective: min sum_i w_i (D_i1 + sum_k (D_i,k+1 - D_ik) z_ik).
    Constraints: sum_j y_j = p;
    z_i1 + sum_{j: c_ij = D_i1} y_j >= 1;
    z_ik - z_i,k-1 + sum_{j: c_ij = D_ik} y_j >= 0 for 1 < k < K;
    sum_{j: c_ij = D_iK} y_j - z_i,K-1 >= 0.
    Summing the chain gives z_ik >= 1 - sum_{j: c_ij <= D_ik} y_j, so at an optimum client i pays
    the cost of its nearest open allowed site. The LP bound equals that of the classical
    assignment formulation with x_ij <= y_j, with about one nonzero per allowed pair instead of
    n x m binary assignment variables. A greedy start improved by vertex interchange
    (Teitz-Bart, with the Whitaker fast-interchange gains) is handed to the solver as incumbent.

Capacitated facility location (OR-Library convention)
    Sets: clients i with demand d_i >= 0; sites j with opening cost f_j and capacity u_j; allowed
    pairs (i, j) with cost c_ij of serving all of client i's demand from j.
    Variables: y_j in {0, 1}; x_ij in [0, 1] the share of client i's demand served by site j
    (in {0, 1} with single sourcing).
    Objective: min sum_j f_j y_j + sum_ij c_ij x_ij.
    Constraints: sum_j x_ij = 1 for every client; sum_i d_i x_ij <= u_j y_j for every site;
    x_ij <= y_j for every allowed pair (the strong linking); sum_j u_j y_j >= sum_i d_i (the
    aggregate capacity cut); sum_j y_j <= max_open if given; y_j = 1 for fixed_open sites and
    y_j = 0 for fixed_closed sites.
    Large split-demand instances (finite capacities, no max_open) first get a Lagrangian stage:
    the demand rows are relaxed with multipliers lam_i, which splits the model into one
    fractional knapsack per site plus the choice of sites under the aggregate capacity cut; the
    subgradient method gives a lower bound, the sites the relaxation opens are repaired into plans
    by a transportation LP and a drop/add/swap local search, and a site whose Lagrangian bound
    with it forced open (closed) exceeds the best plan is fixed closed (open). The MIP then runs
    on the remaining sites with the best plan as its start.

Every result is checked against its model after the solve: the objective is recomputed from the
returned sites and assignment and must equal the solver's.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.solver import SolveInfo, SolverOptions, binary_values, solve_matrix

__all__ = [
    "LocationResult",
    "PMedianInstance",
    "CapInstance",
    "p_median",
    "facility_location",
    "read_orlib_pmed",
    "read_orlib_cap",
]

#: Relative MIP gap used when no options are given: tight enough that OR-Library optima are exact.
DEFAULT_MIP_GAP = 1e-7
#: Largest number of client x site cells for which the interchange heuristic builds a dense matrix.
_DENSE_HEURISTIC_CELLS = 20_000_000
_TOL = 1e-6


@dataclass(frozen=True)
class LocationResult:
    """A location plan: which sites are open and which site serves each client.

    Attributes
    ----------
    objective : float
        Cost of the plan, recomputed from ``sites`` and ``assignment``.
    sites : numpy.ndarray of int
        Sorted indices of the open sites.
    assignment : numpy.ndarray of int or scipy.sparse.csr_matrix
        For p-median and single-source facility location, the site serving each client. For split
        demand, a clients x sites sparse matrix of the share of each client's demand served by each
        site (rows sum to 1).
    status : str
        ``"optimal"`` (proven within the MIP gap) or ``"feasible"`` (stopped early, see ``gap``).
    bound : float or None
        Best proven lower bound on the optimum.
    gap : float or None
        Relative gap between ``objective`` and ``bound``.
    seconds : float
        Wall time, including model building and the heuristic start.
    solver : str
        The MIP solver that ran (``"highs"`` or ``"cbc"``).

    Examples
    --------
    >>> import numpy as np
    >>> r = p_median(np.array([[0.0, 2.0], [3.0, 0.0], [1.0, 5.0]]), p=1)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist(), r.status
    (4.0, [0], [0, 0, 0], 'optimal')
    """

    objective: float
    sites: np.ndarray
    assignment: np.ndarray | sp.csr_matrix
    status: str
    bound: float | None
    gap: float | None
    seconds: float
    solver: str = "highs"

    @property
    def is_optimal(self) -> bool:
        return self.status == "optimal"


class PMedianInstance(NamedTuple):
    """An OR-Library p-median instance: the all-pairs shortest-path cost matrix and p."""

    cost: np.ndarray
    p: int


class CapInstance(NamedTuple):
    """An OR-Library capacitated warehouse location instance (OR-Library cost convention)."""

    service_cost: np.ndarray
    open_cost: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray


# ----------------------------------------------------------------------------------------------
# Input handling
# ----------------------------------------------------------------------------------------------


class _Pairs(NamedTuple):
    """Allowed client-site pairs in CSR layout (rows = clients)."""

    indptr: np.ndarray
    sites: np.ndarray
    cost: np.ndarray
    n_clients: int
    n_sites: int

    @property
    def clients(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_clients), np.diff(self.indptr))


def _pairs(cost, name: str) -> _Pairs:
    """Allowed pairs of a dense (inf = not allowed) or sparse (stored = allowed) cost matrix."""
    if sp.issparse(cost):
        coo = sp.coo_matrix(cost)
        n, m = coo.shape
        rows = np.asarray(coo.row, dtype=np.int64)
        cols = np.asarray(coo.col, dtype=np.int64)
        vals = np.asarray(coo.data, dtype=float)
        key = rows * m + cols
        if np.unique(key).size != key.size:
            raise InputError(
                f"{name} stores some (client, site) pair more than once; "
                "expected at most one entry per pair (call sum_duplicates() if sums are meant)"
            )
        order = np.argsort(key, kind="stable")
        rows, cols, vals = rows[order], cols[order], vals[order]
    else:
        arr = np.asarray(cost, dtype=float)
        if arr.ndim != 2:
            raise InputError(f"{name} must be a 2-d clients x sites matrix, got shape {arr.shape}")
        n, m = arr.shape
        if np.isnan(arr).any():
            i, j = np.argwhere(np.isnan(arr))[0]
            raise InputError(f"{name}[{i}, {j}] is NaN; use inf to mark a pair that is not allowed")
        rows, cols = np.nonzero(arr < np.inf)
        vals = arr[rows, cols]
    if n == 0 or m == 0:
        raise InputError(f"{name} must have at least one client and one site, got shape {(n, m)}")
    if not np.isfinite(vals).all():
        bad = np.flatnonzero(~np.isfinite(vals))[0]
        raise InputError(
            f"{name}[{rows[bad]}, {cols[bad]}] = {vals[bad]}; costs must be finite numbers "
            "(+inf in a dense matrix marks a pair that is not allowed)"
        )
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return _Pairs(indptr, cols.astype(np.int64), vals, int(n), int(m))


def _vector(values, n: int, name: str, default: float | None = None) -> np.ndarray:
    if values is None:
        if default is None:
            raise InputError(f"{name} is required")
        return np.full(n, float(default))
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{name} must have length {n}, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise InputError(f"{name}[{int(np.flatnonzero(np.isnan(arr))[0])}] is NaN")
    return arr


def _site_list(values, m: int, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(0, dtype=np.int64)
    arr = np.unique(np.asarray(list(values), dtype=np.int64))
    if arr.size and (arr[0] < 0 or arr[-1] >= m):
        bad = arr[0] if arr[0] < 0 else arr[-1]
        raise InputError(f"{name} contains site {bad}, expected indices in 0..{m - 1}")
    return arr


def _require_every_client_served(pairs: _Pairs, what: str) -> None:
    counts = np.diff(pairs.indptr)
    if (counts == 0).any():
        lonely = np.flatnonzero(counts == 0)
        shown = ", ".join(str(i) for i in lonely[:10]) + (" ..." if lonely.size > 10 else "")
        raise Infeasible(
            f"client {lonely[0]} has no allowed site{what}"
            + (f" ({lonely.size} clients in all: {shown})" if lonely.size > 1 else ""),
            {f"client {i}": 1.0 for i in lonely},
        )


def _options(options: SolverOptions | None) -> SolverOptions:
    if options is None:
        return SolverOptions(mip_gap=DEFAULT_MIP_GAP)
    if not isinstance(options, SolverOptions):
        raise InputError(f"options must be an allocator.solver.SolverOptions, got {options!r}")
    return options


def _remaining(options: SolverOptions, t0: float) -> SolverOptions:
    if options.time_limit is None:
        return options
    left = max(options.time_limit - (time.perf_counter() - t0), 0.05)
    return dataclasses.replace(options, time_limit=left)


def _integral(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9 * np.maximum(1, np.abs(values))))


def _finish_status(objective, bound, status, integral_data, mip_gap):
    """Status and gap of a solved plan; integral data proves optimality when bound > obj - 1."""
    if bound is not None and integral_data and math.ceil(bound - 1e-6) >= objective - 1e-6:
        return "optimal", objective, 0.0
    if bound is None:
        return status, None, None
    gap = abs(objective - bound) / max(abs(objective), 1e-9)
    return status, bound, gap


# ----------------------------------------------------------------------------------------------
# p-median
# ----------------------------------------------------------------------------------------------


def p_median(cost, p: int, weights=None, options: SolverOptions | None = None) -> LocationResult:
    """Open exactly ``p`` sites minimising the weighted cost of serving every client.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        ``cost[i, j]``: cost for client i to use site j. Dense: ``inf`` marks a pair that is not
        allowed. Sparse: a stored entry (even an explicit zero) is an allowed pair, a missing entry
        is not allowed.
    p : int
        Number of sites to open (1 <= p <= n_sites).
    weights : array_like, shape (n_clients,), optional
        Non-negative client weights (default 1).
    options : SolverOptions, optional
        Solver, time limit, MIP gap (default: HiGHS with gap 1e-7).

    Returns
    -------
    LocationResult
        ``assignment[i]`` is the open site serving client i (its cheapest open allowed site).

    Raises
    ------
    Infeasible
        ``p`` exceeds the number of sites, or a client has no allowed site, or no choice of p
        sites gives every client an allowed open site.
    InputError
        Malformed input (shapes, NaN, negative weights, p not a positive integer).

    Notes
    -----
    The solve runs in stages, each exact: a greedy plan improved by vertex interchange gives an
    upper bound; subgradient optimisation of the Lagrangian relaxation of the assignment
    constraints gives a lower bound, closes the sites that cannot be in a better plan (with
    integer data, "better" means cheaper by at least 1) and drops every client-site pair whose
    Lagrangian reduced cost shows that no better plan serves the client from that site. When
    clients outnumber p at least 12 times, a depth-first branch and bound on sites with a
    Lagrangian bound at every node finishes the proof (small p: the radius LP is large and
    degenerate there); otherwise, or when its node budget runs out, the radius model over the
    remaining sites and pairs goes to the MIP solver with the best plan as its start.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0, 5, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], dtype=float)
    >>> r = p_median(cost, p=2)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist()
    (5.0, [0, 2], [0, 0, 2, 2])
    """
    t0 = time.perf_counter()
    options = _options(options)
    pairs = _pairs(cost, "cost")
    n, m = pairs.n_clients, pairs.n_sites
    if (
        isinstance(p, bool)
        or not isinstance(p, int | np.integer | float)
        or not float(p).is_integer()
    ):
        raise InputError(f"p must be a positive integer number of sites, got {p!r}")
    if p < 1:
        raise InputError(f"p must be a positive integer number of sites, got {p!r}")
    p = int(p)
    if p > m:
        raise Infeasible(
            f"p = {p} sites cannot be opened: there are only {m} candidate sites",
            {"p": float(p - m)},
        )
    w = _vector(weights, n, "weights", default=1.0)
    if (w < 0).any() or not np.isfinite(w).all():
        i = int(np.flatnonzero((w < 0) | ~np.isfinite(w))[0])
        raise InputError(f"weights[{i}] = {w[i]}; weights must be finite and non-negative")
    _require_every_client_served(pairs, "")
    integral = _integral(pairs.cost) and _integral(w)
    return _PMedian(pairs, w, p, options, t0, integral).run()


class _PMedian:
    """The staged exact solve of one p-median instance (see :func:`p_median`, Notes)."""

    def __init__(self, pairs: _Pairs, w, p, options, t0, integral):
        self.pairs, self.w, self.p, self.options, self.t0 = pairs, w, p, options, t0
        self.integral = integral
        self.best_sites: np.ndarray | None = None
        self.best = math.inf
        self.lower = -math.inf
        self.proven = False  # no plan cheaper than best - delta exists
        self.nodes = 0
        self.pair_keep: np.ndarray | None = None  # pairs that a plan worth finding may use

    # -- bookkeeping ----------------------------------------------------------------------
    def _delta(self, upper: float) -> float:
        """A plan is only worth finding if it costs at most ``upper - delta``."""
        if self.integral:
            return 1.0 - 1e-6 * max(1.0, abs(upper))
        return max(self.options.mip_gap * abs(upper), 1e-9 * max(1.0, abs(upper)))

    def _offer(self, sites: np.ndarray) -> float:
        value = _pmedian_value(self.pairs, self.w, sites)
        if value < self.best:
            self.best, self.best_sites = value, np.sort(sites)
        return value

    def _done(self) -> bool:
        if self.best_sites is None:
            return False
        return self.proven or self.best - self.lower < self._delta(self.best)

    def _time_left(self) -> float:
        if self.options.time_limit is None:
            return math.inf
        return self.options.time_limit - (time.perf_counter() - self.t0)

    # -- stages ---------------------------------------------------------------------------
    def run(self) -> LocationResult:
        pairs, w, p = self.pairs, self.w, self.p
        n, m = pairs.n_clients, pairs.n_sites
        usable = np.ones(m, dtype=bool)
        forced = np.zeros(m, dtype=bool)
        dense = _dense_costs(pairs, w)
        if dense is not None:
            WC = dense
            start = _greedy_interchange(WC, p, self._time_left)
            if start is not None:
                self._offer(start)
            if self.best_sites is not None and not self._done():
                lam = self._lagrangian(WC, usable, forced)
                # few sites per client: branch on sites with Lagrangian bounds; else the MIP
                if not self._done() and n >= _BRANCH_RATIO * p and self.options.solver == "highs":
                    self._branch_and_bound(WC, usable, forced, lam)
        status = "optimal"
        if not self._done() and self._time_left() > 0.05:
            if self._solve_relaxation(usable, forced):
                status = "feasible"
        if self.best_sites is None:
            raise SolverError("no plan was found within the time limit")
        sites = self.best_sites
        objective, assignment = _pmedian_evaluate(pairs, w, sites)
        if sites.size != p or not math.isclose(objective, self.best, rel_tol=1e-9, abs_tol=1e-9):
            raise SolverError(f"plan check failed: {sites.size} sites, objective {objective!r}")
        bound = min(self.lower, objective)
        if self._done():
            status = "optimal"
            if self.integral:
                bound = objective
        gap = abs(objective - bound) / max(abs(objective), 1e-9) if math.isfinite(bound) else None
        if not math.isfinite(bound):
            bound = None
        return LocationResult(
            objective,
            sites,
            assignment,
            status,
            bound,
            gap,
            time.perf_counter() - self.t0,
            self.options.solver,
        )

    def _lagrangian(self, WC: np.ndarray, usable: np.ndarray, forced: np.ndarray) -> np.ndarray:
        """Lower bound and site closing from the Lagrangian relaxation.

        Closes (``usable[j] = False``) every site that no plan costing at most ``upper - delta``
        can contain. Returns the multipliers.
        """
        p, upper = self.p, self.best
        goal = upper - self._delta(upper) + 1e-7 * max(1.0, abs(upper))
        in_best = np.zeros(WC.shape[1], dtype=bool)
        in_best[self.best_sites] = True
        lam = WC[:, self.best_sites].min(axis=1)
        lam = lam + 0.01 * np.maximum(lam, 1.0)
        L, lam, rho = _lagrange_bound(WC, lam, p, None, upper, goal, 3000, 2.0, self._time_left)
        self.lower = max(self.lower, L)
        self.closed_for = upper
        if L > goal:
            return lam
        # reduced-cost closing: site j open costs at least L + rho_j - (p-th smallest rho)
        pth = np.partition(rho, p - 1)[p - 1]
        site_penalty = np.maximum(rho - pth, 0.0)
        usable &= ~((L + site_penalty > goal) & ~in_best)
        # reduced-cost fixing of pairs: a plan serving client i from site j costs at least
        # L + max(w_i c_ij - lam_i, 0) + the site's penalty, so in a plan worth finding no
        # client's cheapest open site is a pair above the goal
        pairs = self.pairs
        clients = pairs.clients
        reduced = self.w[clients] * pairs.cost - lam[clients]
        self.pair_keep = L + np.maximum(reduced, 0.0) + site_penalty[pairs.sites] <= goal
        return lam

    def _branch_and_bound(self, WC, usable, forced, lam) -> None:
        """Depth-first branch and bound on sites with Lagrangian bounds at every node.

        Sets ``proven`` when the tree is exhausted; on a time or node limit raises ``lower`` to the
        smallest bound of the open nodes.
        """
        p = self.p
        stack = [(usable.copy(), forced.copy(), lam, self.lower)]
        while stack:
            if self._time_left() < 0.5 or self.nodes >= _MAX_NODES:
                self.lower = max(self.lower, min(min(e[3] for e in stack), self.best))
                return
            use, fix, lam, _ = stack.pop()
            self.nodes += 1
            cols = np.flatnonzero(use)
            fz = fix[cols]
            n_fixed = int(fz.sum())
            if cols.size < p or n_fixed > p:
                continue
            if cols.size == p or n_fixed == p:
                self._offer(cols if cols.size == p else cols[fz])
                continue
            upper = self.best
            goal = upper - self._delta(upper) + 1e-7 * max(1.0, abs(upper))
            sub = WC[:, cols]
            L, lam, rho = _lagrange_bound(
                sub,
                lam,
                p,
                fz,
                upper,
                goal,
                _NODE_ITER,
                _NODE_STEP,
                self._time_left,
                _NODE_PATIENCE,
            )
            if L > goal:
                continue
            free = np.flatnonzero(~fz)
            k = p - n_fixed
            ranked = free[np.argsort(rho[free], kind="stable")]
            chosen = ranked[:k]
            self._offer(cols[np.concatenate([np.flatnonzero(fz), chosen])])
            if self.best < upper:  # a better plan tightens the goal
                upper = self.best
                goal = upper - self._delta(upper) + 1e-7 * max(1.0, abs(upper))
            kth = rho[ranked[k - 1]]
            nxt = rho[ranked[k]] if ranked.size > k else math.inf
            use = use.copy()
            fix = fix.copy()
            out = np.zeros(cols.size, dtype=bool)
            out[ranked[k:]] = L + rho[ranked[k:]] - kth > goal
            use[cols[out]] = False
            inn = np.zeros(cols.size, dtype=bool)
            inn[chosen] = L + nxt - rho[chosen] > goal
            fix[cols[inn]] = True
            branchable = chosen[~inn[chosen]]
            if branchable.size == 0:
                stack.append((use, fix, lam, L))
                continue
            j = cols[branchable[0]]
            closed_child = use.copy()
            closed_child[j] = False
            open_child = fix.copy()
            open_child[j] = True
            stack.append((closed_child, fix, lam, L))
            stack.append((use, open_child, lam, L))
        self.proven = True

    def _solve_relaxation(self, usable, forced) -> bool:
        """Solve the radius model over the usable sites; update bounds. True if stopped early."""
        model = _radius_model(self.pairs, self.w, self.p, usable, forced, self.pair_keep)
        upper_at_close = getattr(self, "closed_for", math.inf)
        if model is None and self.best_sites is None:
            raise Infeasible("some client has no allowed site", {})
        if model is None:  # no plan within the usable sites beats the closing upper bound
            self.lower = max(self.lower, min(upper_at_close, self.best))
            return False
        start = None
        if (
            self.best_sites is not None
            and usable[self.best_sites].all()
            and (np.isin(np.flatnonzero(forced), self.best_sites).all())
        ):
            start = model.start(self.best_sites)
        options = dataclasses.replace(self.options, time_limit=None)
        if self.options.time_limit is not None:
            options = dataclasses.replace(options, time_limit=max(self._time_left(), 0.05))
        try:
            sol = model.solve(options, start)
        except Infeasible as exc:
            if self.best_sites is None:
                raise Infeasible(
                    f"no choice of p = {self.p} sites gives every client an allowed open site",
                    exc.violations,
                ) from None
            self.lower = max(self.lower, min(upper_at_close, self.best))
            return False
        except SolverError:
            if self.best_sites is None or self.options.time_limit is None:
                raise
            return True
        info = sol.info
        sites = model.sites[binary_values(sol.x[: model.sites.size])]
        if sites.size != self.p:
            raise SolverError(f"the solver's plan opens {sites.size} sites, expected p = {self.p}")
        relaxed = _pmedian_value(self.pairs, self.w, sites)
        if not math.isclose(relaxed, info.objective, rel_tol=_TOL, abs_tol=_TOL):
            raise SolverError(
                f"recomputed objective {relaxed!r} differs from the solver's {info.objective!r}"
            )
        self.last_sites = sites
        self._offer(sites)
        bound = info.bound
        if bound is None and info.status == "optimal":  # CBC reports no MIP bound
            bound = info.objective - self.options.mip_gap * abs(info.objective)
        if bound is not None:
            if bound >= upper_at_close - self._delta(upper_at_close):
                bound = min(upper_at_close, self.best)
            self.lower = max(self.lower, bound)
        return info.status != "optimal"


#: Branch and bound on sites is used when n_clients >= _BRANCH_RATIO * p (measured on pmed).
_BRANCH_RATIO = 12
#: Node budget of that branch and bound before the MIP takes over.
_MAX_NODES = 3000
#: Subgradient iterations, initial step and patience (iterations without progress before the
#: step halves) at each node (pmed36: 300 / 0.25 / 25 took 40 s and 1,859 nodes, these 7 s, 697).
_NODE_ITER, _NODE_STEP, _NODE_PATIENCE = 100, 2.0, 15


def _lagrange_bound(WC, lam, p, forced, upper, goal, iterations, step, time_left, patience=25):
    """Subgradient optimisation of the Lagrangian relaxation of the assignment constraints.

    With multipliers lam_i on "client i is served", the relaxation is
    ``sum_i lam_i + min { sum_j rho_j y_j : sum_j y_j = p, y_j = 1 for forced j }`` with
    ``rho_j = sum_i min(0, w_i c_ij - lam_i)``; every lam gives a valid lower bound. Stops when the
    bound exceeds ``goal``. Returns the best bound, its multipliers and its rho.
    """
    n, m = WC.shape
    forced = np.zeros(m, dtype=bool) if forced is None else forced
    n_forced = int(forced.sum())
    free = np.flatnonzero(~forced)
    k = p - n_forced
    best_L, best_lam, best_rho, stall = -math.inf, lam, None, 0
    for _ in range(iterations):
        reduced = np.minimum(WC - lam[:, None], 0.0)
        rho = reduced.sum(axis=0)
        chosen = np.flatnonzero(forced)
        if k > 0:
            chosen = np.concatenate([chosen, free[np.argpartition(rho[free], k - 1)[:k]]])
        L = float(lam.sum() + rho[chosen].sum())
        if L > best_L + 1e-9 * max(1.0, abs(L)):
            best_L, best_lam, best_rho, stall = L, lam, rho, 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2, 0
        if best_L > goal or step < 1e-3 or time_left() < 1:
            break
        g = 1.0 - (reduced[:, chosen] < 0).sum(axis=1)
        norm = float(g @ g)
        if norm == 0:
            break
        lam = lam + step * max(upper - L, 1e-9 * max(1.0, abs(upper))) / norm * g
    return best_L, best_lam, best_rho


class _Model(NamedTuple):
    c: np.ndarray
    A: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    offset: float
    groups: list[str]
    start: object  # callable: open sites -> full start vector (or None)
    sites: np.ndarray  # site index of each y column

    def solve(self, options: SolverOptions, start=None):
        """Hand the model to :func:`allocator.solver.solve_matrix` (``start``: a full vector)."""
        return solve_matrix(
            self.c,
            self.A,
            self.row_lower,
            self.row_upper,
            self.col_lower,
            self.col_upper,
            self.integrality,
            offset=self.offset,
            options=options,
            row_groups=self.groups,
            start=start,
        )


def _radius_model(pairs: _Pairs, w, p, usable, forced=None, pair_keep=None) -> _Model | None:
    """The radius model over the usable sites (and pairs); None if some client has none."""
    n, m = pairs.n_clients, pairs.n_sites
    site_ids = np.flatnonzero(usable)
    m_use = site_ids.size
    col_of = np.full(m, -1, dtype=np.int64)
    col_of[site_ids] = np.arange(m_use)
    keep = usable[pairs.sites]
    if pair_keep is not None:
        keep &= pair_keep
    ci, sj, cc = pairs.clients[keep], col_of[pairs.sites[keep]], pairs.cost[keep]
    order = np.lexsort((cc, ci))
    ci, sj, cc = ci[order], sj[order], cc[order]
    counts = np.bincount(ci, minlength=n)
    if (counts == 0).any():
        return None
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    # one of a client's (m_use - p + 1) cheapest usable sites is always open
    reach = m_use - p + 1
    limit = np.full(n, np.inf)
    full = counts >= reach
    limit[full] = cc[starts[:-1][full] + reach - 1]
    keep = cc <= limit[ci]
    ci, sj, cc = ci[keep], sj[keep], cc[keep]
    # distinct cost levels of each client
    new_level = np.ones(ci.size, dtype=bool)
    new_level[1:] = (ci[1:] != ci[:-1]) | (cc[1:] != cc[:-1])
    level = np.cumsum(new_level) - 1
    n_levels = int(new_level.sum())
    level_client = ci[new_level]
    level_value = cc[new_level]
    first = np.ones(n_levels, dtype=bool)
    first[1:] = level_client[1:] != level_client[:-1]
    last = np.ones(n_levels, dtype=bool)
    last[:-1] = level_client[1:] != level_client[:-1]
    zl = np.flatnonzero(~last)  # z_k for every level but a client's last
    z_col = np.full(n_levels, -1, dtype=np.int64)
    z_col[zl] = m_use + np.arange(zl.size)
    n_cols = m_use + zl.size
    c = np.zeros(n_cols)
    c[z_col[zl]] = w[level_client[zl]] * (level_value[zl + 1] - level_value[zl])
    offset = float(np.dot(w[level_client[first]], level_value[first]))
    rows = np.concatenate([level, zl, zl + 1, np.full(m_use, n_levels)])
    cols = np.concatenate([sj, z_col[zl], z_col[zl], np.arange(m_use)])
    vals = np.concatenate([np.ones(level.size + zl.size), -np.ones(zl.size), np.ones(m_use)])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(n_levels + 1, n_cols))
    rl = np.append(np.where(first, 1.0, 0.0), float(p))
    ru = np.full(n_levels + 1, np.inf)
    ru[-1] = float(p)
    integ = np.zeros(n_cols, dtype=bool)
    integ[:m_use] = True
    groups = ["cover"] * n_levels + ["p"]

    def start(open_sites):
        x = np.zeros(n_cols)
        x[col_of[open_sites]] = 1.0
        is_open = x[:m_use] > 0.5
        covered = np.zeros(n_levels)
        np.maximum.at(covered, level, is_open[sj].astype(float))
        reached = _segment_cummax(covered, first)
        x[z_col[zl]] = 1.0 - reached[zl]
        return x

    col_lower = np.zeros(n_cols)
    if forced is not None:
        col_lower[:m_use] = forced[site_ids]
    return _Model(c, A, rl, ru, col_lower, np.ones(n_cols), integ, offset, groups, start, site_ids)


def _segment_cummax(values: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` in [0, 1], restarting at each ``segment_start``."""
    seg = np.cumsum(segment_start) - 1
    shifted = values + 2.0 * seg
    return np.maximum.accumulate(shifted) - 2.0 * seg


def _solve_or_fallback(model: _Model, options, start, m):
    """Solve a MIP; if a time limit stops it without a plan, fall back on the given start."""
    try:
        sol = model.solve(options, start)
    except SolverError as exc:
        info = getattr(exc, "info", None)
        if start is None or info is None or info.status != "error":
            raise
        value = float(np.dot(model.c, start) + model.offset)
        fallback = SolveInfo("feasible", value, None, None, info.seconds, info.solver)
        return fallback, start
    return sol.info, sol.x


def _client_costs(pairs: _Pairs, sites: np.ndarray) -> np.ndarray:
    """Each client's cheapest open allowed cost (inf if none)."""
    is_open = np.zeros(pairs.n_sites, dtype=bool)
    is_open[sites] = True
    ok = is_open[pairs.sites]
    out = np.full(pairs.n_clients, np.inf)
    np.minimum.at(out, pairs.clients[ok], pairs.cost[ok])
    return out


def _pmedian_value(pairs: _Pairs, w, sites) -> float:
    costs = _client_costs(pairs, sites)
    if not np.isfinite(costs).all():
        return math.inf
    return float(np.dot(w, costs))


def _pmedian_evaluate(pairs: _Pairs, w: np.ndarray, sites: np.ndarray):
    """Objective and assignment (cheapest open allowed site, lowest index on ties)."""
    n, m = pairs.n_clients, pairs.n_sites
    is_open = np.zeros(m, dtype=bool)
    is_open[sites] = True
    ok = is_open[pairs.sites]
    clients = pairs.clients[ok]
    s, c = pairs.sites[ok], pairs.cost[ok]
    if np.unique(clients).size != n:
        missing = np.setdiff1d(np.arange(n), clients)[0]
        raise SolverError(f"the plan leaves client {missing} without an open allowed site")
    order = np.lexsort((s, c, clients))
    first = np.ones(order.size, dtype=bool)
    first[1:] = clients[order][1:] != clients[order][:-1]
    pick = order[first]
    assignment = s[pick]
    objective = float(np.dot(w, c[pick]))
    return objective, assignment


# ---- heuristic: greedy + fast vertex interchange ------------------------------------------


def _dense_costs(pairs: _Pairs, w: np.ndarray) -> np.ndarray | None:
    """Weighted costs w_i c_ij as a dense matrix, inf where not allowed (None if too large)."""
    n, m = pairs.n_clients, pairs.n_sites
    if n * m > _DENSE_HEURISTIC_CELLS:
        return None
    WC = np.full((n, m), np.inf)
    WC[pairs.clients, pairs.sites] = w[pairs.clients] * pairs.cost
    return WC


def _greedy_interchange(WC: np.ndarray, p: int, time_left) -> np.ndarray | None:
    """Greedy addition, then best-improvement vertex interchange (Teitz-Bart, Whitaker gains).

    Returns the open sites, or None when the plan found leaves some client unserved.
    """
    n, m = WC.shape
    finite = np.isfinite(WC)
    big = (float(np.abs(WC[finite]).max()) + 1.0) * 4.0 * (n + 1) if finite.any() else 1.0
    C = np.where(finite, WC, big)
    d1 = np.full(n, 2.0 * big)
    is_open = np.zeros(m, dtype=bool)
    for _ in range(p):
        gain = np.maximum(d1[:, None] - C, 0.0).sum(axis=0)
        gain[is_open] = -np.inf
        j = int(np.argmax(gain))
        is_open[j] = True
        d1 = np.minimum(d1, C[:, j])
    sites = np.flatnonzero(is_open)
    if p < m:
        sites = _interchange(C, sites, time_left)
    if (C[:, sites].min(axis=1) >= big).any():
        return None
    return np.sort(sites)


def _interchange(C: np.ndarray, sites: np.ndarray, time_left) -> np.ndarray:
    n, m = C.shape
    sites = np.array(sites)
    p = sites.size
    rows = np.arange(n)
    while time_left() > 0:
        sub = C[:, sites]
        if p > 1:
            two = np.argpartition(sub, 1, axis=1)[:, :2]
            a, b = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
            first = np.where(a <= b, two[:, 0], two[:, 1])
            d1, d2 = np.minimum(a, b), np.maximum(a, b)
        else:
            first = np.zeros(n, dtype=np.int64)
            d1, d2 = sub[:, 0], np.full(n, np.inf)
        m1 = np.minimum(C, d1[:, None])
        gain = (m1 - d1[:, None]).sum(axis=0)  # <= 0: change from adding site j
        extra = np.minimum(C, d2[:, None]) - m1  # >= 0: loss if a client's first site goes
        owner = sp.csr_matrix((np.ones(n), (first, rows)), shape=(p, n))
        delta = gain[None, :] + owner @ extra  # (removed r, added j)
        delta[:, sites] = np.inf
        r, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[r, j] < -1e-9 * max(1.0, abs(float(d1.sum()))):
            break
        sites[r] = j
    return sites


# ----------------------------------------------------------------------------------------------
# Capacitated facility location
# ----------------------------------------------------------------------------------------------


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
        gap = max(lag.upper - lag.lower, 0.0) / max(abs(lag.upper), 1e-9)
        seconds = time.perf_counter() - t0
        sol_info = SolveInfo("optimal", lag.upper, lag.lower, gap, seconds, options.solver)
    else:
        sol_info, x = _solve_cfl_mip(
            work, f, d, u, opened, closed, max_open, single_source, options, t0, start, fix_bound
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
    work, f, d, u, opened, closed, max_open, single_source, options, t0, start, fix_bound
):
    """The strong facility-location MIP over the remaining sites (with an optional start)."""
    m = work.n_sites
    model = _cfl_model(work, f, d, u, opened, closed, max_open, single_source)
    mip_options = _remaining(options, t0)
    if start is not None:
        # the start is near-optimal and the root bound strong: HiGHS's root heuristics and its
        # restart cost more than the search itself (capa 8000: 51 s -> 16 s)
        extra = dict(_CFL_MIP_OPTIONS)
        extra.update(mip_options.highs_options or {})
        mip_options = dataclasses.replace(mip_options, highs_options=extra)
    sol_info, x = _solve_or_fallback(model, mip_options, start, m + work.cost.size)
    if math.isfinite(fix_bound) and sol_info.bound is not None:
        sol_info = dataclasses.replace(sol_info, bound=min(sol_info.bound, fix_bound))
    return sol_info, x


#: Facility location instances with at least this many client x site cells (and split demand,
#: finite capacities, no max_open) get the Lagrangian stage before the MIP (capa/b/c: 100,000).
_CFL_LAGRANGE_CELLS = 20_000
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
                if budget <= 0:
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

    def _flip_bounds(self, lam, force_open, force_closed):
        """The bound with each free site flipped against the relaxation's choice (nan if fixed).

        Returns the relaxation's choice y and the bounds.
        """
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
        self.tried = set()
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
        y, bounds = self._flip_bounds(best_lam, self.force_open, self.force_closed)
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


# ----------------------------------------------------------------------------------------------
# OR-Library readers
# ----------------------------------------------------------------------------------------------


def read_orlib_pmed(path) -> PMedianInstance:
    """Read an OR-Library p-median file (pmed1 ... pmed40) into a shortest-path cost matrix.

    The first line is ``n edges p``; each further line ``i j cost`` is an undirected edge between
    vertices numbered from 1. When a pair appears more than once, the last line sets its cost.
    The cost matrix holds all-pairs shortest-path lengths over that graph.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    PMedianInstance
        ``(cost, p)`` with ``cost`` an n x n float array.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
    ...     _ = fh.write("3 3 1\\n1 2 5\\n2 3 1\\n1 2 2\\n")
    >>> inst = read_orlib_pmed(fh.name); os.unlink(fh.name)
    >>> inst.p, inst.cost[0].tolist()
    (1, [0.0, 2.0, 3.0])
    """
    from scipy.sparse.csgraph import shortest_path

    tokens = Path(path).read_text().split()
    if len(tokens) < 3:
        raise InputError(f"{path}: expected a first line 'n edges p'")
    n, n_edges, p = (int(t) for t in tokens[:3])
    data = np.asarray(tokens[3:], dtype=float)
    if data.size != 3 * n_edges:
        raise InputError(f"{path}: header announces {n_edges} edges, found {data.size / 3:g}")
    edges = data.reshape(-1, 3)
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    if i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= n:
        raise InputError(f"{path}: vertex numbers must lie in 1..{n}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # the last line for a pair wins: keep the last occurrence of each key
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - last_rev
    lo, hi, w = lo[last], hi[last], edges[last, 2]
    graph = sp.coo_matrix((w, (lo, hi)), shape=(n, n)).tocsr()
    cost = shortest_path(graph, method="D", directed=False)
    return PMedianInstance(cost, p)


def read_orlib_cap(path, capacity: float | None = None) -> CapInstance:
    """Read an OR-Library capacitated warehouse location file (cap41 ... cap134, capa/b/c).

    Format: ``m n``; m lines ``capacity fixed_cost``; then per customer its demand followed by m
    costs of serving all of its demand from each site. capa/b/c write the word ``capacity``
    instead of a number: pass ``capacity`` to set it (it also overrides numeric capacities).

    Parameters
    ----------
    path : str or pathlib.Path
    capacity : float, optional
        Capacity of every site; required when the file writes ``capacity``.

    Returns
    -------
    CapInstance
        ``service_cost`` (customers x sites), ``open_cost``, ``demand``, ``capacity``.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
    ...     _ = fh.write("2 1\\n 10 7.5\\n 20 3\\n 4\\n 1.5 2.5\\n")
    >>> inst = read_orlib_cap(fh.name); os.unlink(fh.name)
    >>> inst.capacity.tolist(), inst.open_cost.tolist(), inst.service_cost.tolist()
    ([10.0, 20.0], [7.5, 3.0], [[1.5, 2.5]])
    """
    tokens = Path(path).read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    site = tokens[2 : 2 + 2 * m]
    cap_tokens, fixed = site[0::2], np.asarray(site[1::2], dtype=float)
    if capacity is not None:
        cap = np.full(m, float(capacity))
    elif any(t.lower() == "capacity" for t in cap_tokens):
        raise InputError(f"{path} gives no numeric capacities; pass capacity=...")
    else:
        cap = np.asarray(cap_tokens, dtype=float)
    rest = np.asarray(tokens[2 + 2 * m :], dtype=float)
    if rest.size != n * (m + 1):
        raise InputError(f"{path}: expected {n} customers x (1 + {m}) numbers, found {rest.size}")
    block = rest.reshape(n, m + 1)
    return CapInstance(block[:, 1:].copy(), fixed, block[:, 0].copy(), cap)
