"""Exact p-median: greedy + interchange, Lagrangian bound with site closing and pair fixing, site
branch and bound, radius MIP (the model is stated in :mod:`allocator.location`)."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.location import pmedian_dense, pmedian_sparse
from allocator.location.common import (
    CHECK_TOLERANCE,
    LocationResult,
    Pairs,
    allowed_pairs,
    as_vector,
    is_integral,
    require_every_client_served,
    resolve_options,
)
from allocator.location.pmedian_model import radius_model
from allocator.solver import SolverOptions, relative_gap

#: Largest number of client x site cells for which the interchange heuristic builds a dense matrix.
DENSE_HEURISTIC_CELLS = 20_000_000


#: Sparse input with fewer allowed pairs than this share of the cells never becomes a dense
#: matrix: the stages of :mod:`allocator.location.pmedian_sparse` work on the pairs alone.
_DENSE_SHARE = 0.5


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
    remaining sites and pairs goes to the MIP solver with the best plan as its start (pairs
    a plan needs are restored, so that model stays exact). Sparse input with fewer than half the
    pairs allowed is never expanded to a clients x sites matrix: greedy, interchange and the
    Lagrangian bound then work on the allowed pairs. Every stage checks the clock
    (``options.time_limit``); the result is ``"optimal"`` only when proven.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0, 5, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], dtype=float)
    >>> r = p_median(cost, p=2)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist()
    (5.0, [0, 2], [0, 0, 2, 2])
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    pairs = allowed_pairs(cost, "cost")
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
    w = as_vector(weights, n, "weights", default=1.0)
    if (w < 0).any() or not np.isfinite(w).all():
        i = int(np.flatnonzero((w < 0) | ~np.isfinite(w))[0])
        raise InputError(f"weights[{i}] = {w[i]}; weights must be finite and non-negative")
    require_every_client_served(pairs, "")
    integral = is_integral(pairs.cost) and is_integral(w)
    cells = n * m
    sparse = cells > DENSE_HEURISTIC_CELLS or (
        sp.issparse(cost) and pairs.cost.size < _DENSE_SHARE * cells
    )
    return PMedianSearch(pairs, w, p, options, t0, integral, sparse).run()


class PMedianSearch:
    """The staged exact solve of one p-median instance (see :func:`p_median`, Notes)."""

    def __init__(self, pairs: Pairs, w, p, options, t0, integral, sparse=False):
        self.pairs, self.w, self.p, self.options, self.t0 = pairs, w, p, options, t0
        self.integral = integral
        self.sparse = sparse  # work on the allowed pairs alone (no clients x sites matrix)
        self.best_sites: np.ndarray | None = None
        self.best = math.inf
        self.lower = -math.inf
        self.proven = False  # no plan cheaper than best - delta exists
        self.nodes = 0
        self.pair_keep: np.ndarray | None = None  # pairs that a plan worth finding may use
        self.closed_for = math.inf  # the upper bound at which sites were closed, pairs dropped

    # -- bookkeeping ----------------------------------------------------------------------
    def _delta(self, upper: float) -> float:
        """A plan is only worth finding if it costs at most ``upper - delta``."""
        if self.integral:
            return 1.0 - 1e-6 * max(1.0, abs(upper))
        return max(self.options.mip_gap * abs(upper), 1e-9 * max(1.0, abs(upper)))

    def _offer(self, sites: np.ndarray) -> float:
        value = pmedian_value(self.pairs, self.w, sites)
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
        dense = _dense_costs(pairs, w) if not self.sparse else None
        if dense is not None:
            WC = dense
            start = pmedian_dense.greedy_interchange(WC, p, self._time_left)
            if start is not None:
                self._offer(start)
            if self.best_sites is not None and not self._done():
                lam = self._lagrangian(WC, usable, forced)
                # few sites per client: branch on sites with Lagrangian bounds; else the MIP
                if not self._done() and n >= _BRANCH_RATIO * p and self.options.solver == "highs":
                    self._branch_and_bound(WC, usable, forced, lam)
        else:  # sparse or very large: the stages that work on the allowed pairs alone
            wc = w[pairs.clients] * pairs.cost
            start = pmedian_sparse.greedy_sites(pairs, wc, p, self._time_left)
            if start is not None:
                self._offer(pmedian_sparse.interchange(pairs, wc, start, self._time_left))
            if self.best_sites is not None and not self._done():
                self._lagrangian(None, usable, forced)
        if not self._done() and self._time_left() > 0.05:
            self._solve_relaxation(usable, forced)
        if self.best_sites is None:
            raise SolverError("no plan was found within the time limit")
        sites = self.best_sites
        objective, assignment = _pmedian_evaluate(pairs, w, sites)
        if sites.size != p or not math.isclose(objective, self.best, rel_tol=1e-9, abs_tol=1e-9):
            raise SolverError(f"plan check failed: {sites.size} sites, objective {objective!r}")
        bound = min(self.lower, objective)
        status = "feasible"  # "optimal" only when proven
        if self._done():
            status = "optimal"
            if self.integral:
                bound = objective
        bound = bound if math.isfinite(bound) else None
        gap = relative_gap(objective, bound)
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

    def _lagrangian(self, WC, usable: np.ndarray, forced: np.ndarray) -> np.ndarray:
        """Lower bound, site closing and pair fixing from the Lagrangian relaxation.

        ``WC``: the dense weighted costs, or None to work on the allowed pairs alone.

        Closes (``usable[j] = False``) every site that no plan costing at most ``upper - delta``
        can contain. Returns the multipliers.
        """
        p, upper = self.p, self.best
        goal = upper - self._delta(upper) + 1e-7 * max(1.0, abs(upper))
        in_best = np.zeros(self.pairs.n_sites, dtype=bool)
        in_best[self.best_sites] = True
        if WC is not None:
            lam = WC[:, self.best_sites].min(axis=1)
            lam = lam + 0.01 * np.maximum(lam, 1.0)
            L, lam, rho = pmedian_dense.lagrange_bound(
                WC, lam, p, None, upper, goal, 3000, 2.0, self._time_left
            )
        else:  # on the pairs alone; the sites each relaxation chooses are offered as plans
            wc = self.w[self.pairs.clients] * self.pairs.cost
            lam = self.w * _client_costs(self.pairs, self.best_sites)
            lam = lam + 0.01 * np.maximum(lam, 1.0)
            L, lam, rho = pmedian_sparse.lagrange_bound(
                self.pairs, wc, lam, p, upper, goal, 3000, 2.0, self._time_left, offer=self._offer
            )
            if L <= goal and rho is not None:  # the relaxation's sites, improved by interchange
                chosen = np.argpartition(rho, p - 1)[:p] if p < rho.size else np.arange(p)
                self._offer(pmedian_sparse.interchange(self.pairs, wc, chosen, self._time_left))
            if self.best < upper:  # a better plan: a lower goal closes and drops more
                upper = self.best
                goal = upper - self._delta(upper) + 1e-7 * max(1.0, abs(upper))
                in_best[self.best_sites] = True
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
            L, lam, rho = pmedian_dense.lagrange_bound(
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
        """Solve the radius model over the usable sites and kept pairs; update the bounds.

        The model is exact by construction: when the solver's plan is cheaper than the model
        says (it needs a client-site pair the Lagrangian dropped), those pairs are restored and
        the model is solved again from that plan. The model's optimum stays a valid bound: every
        plan worth finding (cheaper than the goal at closing) uses only kept pairs and sites.
        Returns True if the solve stopped early (time limit), False when it finished.
        """
        upper_at_close = self.closed_for
        for _ in range(_RESTORE_ROUNDS):
            model = radius_model(self.pairs, self.w, self.p, usable, forced, self.pair_keep)
            if model is None and self.best_sites is None:
                raise Infeasible("some client has no allowed site", {})
            if model is None:  # no plan within the usable sites beats the closing upper bound
                self.lower = max(self.lower, min(upper_at_close, self.best))
                return False
            start = None
            if (
                self.best_sites is not None
                and usable[self.best_sites].all()
                and np.isin(np.flatnonzero(forced), self.best_sites).all()
            ):
                start = model.start(self.best_sites)
            # HiGHS's presolve removes nothing from the radius model and does not stop at the
            # time limit (pmed26: 4 s for a 0.5 s limit); without it the start is also safe
            extra = {"presolve": "off", **(self.options.highs_options or {})}
            options = dataclasses.replace(self.options, time_limit=None, highs_options=extra)
            if self.options.time_limit is not None:
                options = dataclasses.replace(options, time_limit=max(self._time_left(), 0.05))
            # the Lagrangian bound holds for the reduced model too (it only removes plans)
            valid = self.lower - 1e-7 * max(1.0, abs(self.lower))
            try:
                sol = model.solve(options, start, bound=valid if math.isfinite(valid) else None)
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
            sites = model.open_sites(sol.x)
            if sites.size != self.p:
                raise SolverError(
                    f"the solver's plan opens {sites.size} sites, expected p = {self.p}"
                )
            value = pmedian_value(self.pairs, self.w, sites)
            self._offer(sites)
            tol = CHECK_TOLERANCE * max(1.0, abs(info.objective))
            if value > info.objective + tol:  # the model never undercharges a plan
                raise SolverError(
                    f"recomputed objective {value!r} exceeds the solver's {info.objective!r}"
                )
            if value >= info.objective - tol or self.pair_keep is None:
                break
            # the plan uses dropped pairs: restore each client's cheapest open pairs, solve again
            self.pair_keep = self.pair_keep | _cheapest_open_pairs(self.pairs, sites)
            if self._time_left() <= 0.05:
                return True
        bound = info.bound
        if bound is None and info.status == "optimal":  # CBC reports no MIP bound
            bound = info.objective - self.options.mip_gap * abs(info.objective)
        if bound is not None:
            if bound >= upper_at_close - self._delta(upper_at_close):
                bound = min(upper_at_close, self.best)
            self.lower = max(self.lower, bound)
        return info.status != "optimal"


#: Rounds of restoring dropped pairs a plan needs and solving the radius model again.
_RESTORE_ROUNDS = 5


def _cheapest_open_pairs(pairs: Pairs, sites: np.ndarray) -> np.ndarray:
    """Mask of the pairs (i, j) with j open at client i's cheapest open cost."""
    best = _client_costs(pairs, sites)
    is_open = np.zeros(pairs.n_sites, dtype=bool)
    is_open[sites] = True
    return is_open[pairs.sites] & (pairs.cost <= best[pairs.clients])


#: Branch and bound on sites is used when n_clients >= _BRANCH_RATIO * p (measured on pmed).
_BRANCH_RATIO = 12


#: Node budget of that branch and bound before the MIP takes over.
_MAX_NODES = 3000


#: Subgradient iterations, initial step and patience (iterations without progress before the
#: step halves) at each node (pmed36: 300 / 0.25 / 25 took 40 s and 1,859 nodes, these 7 s, 697).
_NODE_ITER, _NODE_STEP, _NODE_PATIENCE = 100, 2.0, 15


def _client_costs(pairs: Pairs, sites: np.ndarray) -> np.ndarray:
    """Each client's cheapest open allowed cost (inf if none)."""
    is_open = np.zeros(pairs.n_sites, dtype=bool)
    is_open[sites] = True
    ok = is_open[pairs.sites]
    out = np.full(pairs.n_clients, np.inf)
    np.minimum.at(out, pairs.clients[ok], pairs.cost[ok])
    return out


def pmedian_value(pairs: Pairs, w, sites) -> float:
    """Weighted cost of serving every client from its cheapest open site (inf if one has none).

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> pairs = allowed_pairs(np.array([[0.0, 4.0], [3.0, 1.0]]), "cost")
    >>> pmedian_value(pairs, np.ones(2), np.array([1]))
    5.0
    """
    costs = _client_costs(pairs, sites)
    if not np.isfinite(costs).all():
        return math.inf
    return float(np.dot(w, costs))


def _pmedian_evaluate(pairs: Pairs, w: np.ndarray, sites: np.ndarray):
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


def _dense_costs(pairs: Pairs, w: np.ndarray) -> np.ndarray | None:
    """Weighted costs w_i c_ij as a dense matrix, inf where not allowed (None if too large)."""
    n, m = pairs.n_clients, pairs.n_sites
    if n * m > DENSE_HEURISTIC_CELLS:
        return None
    WC = np.full((n, m), np.inf)
    WC[pairs.clients, pairs.sites] = w[pairs.clients] * pairs.cost
    return WC
