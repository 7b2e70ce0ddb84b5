"""Two-phase Benders decomposition of the radius formulation, on the allowed pairs alone.

Duran-Mateluna, Ales and Elloumi (EJOR 2023, see :mod:`allocator.location.radius`) project the
radius formulation of the p-median onto the site variables: one ``theta_i`` per client carries
its cost, bounded below by the cuts of :func:`~allocator.location.radius.deepest_cuts`. The same
projection serves uncapacitated facility location (an opening cost per site instead of ``p``).

Master problem
    min sum_j f_j y_j + sum_i w_i theta_i
    s.t. sum_j y_j = p (p-median); theta_i >= cheapest allowed cost of i;
    theta_i + sum_{j: c_ij < D} (D - c_ij) y_j >= D for the cuts found so far;
    sum_{j allowed for i} y_j >= 1 for the clients found uncovered so far;
    y_j in {0, 1} (phase 2), in [0, 1] (phase 1).

Phase 1 solves the master's linear relaxation by cutting planes, separating at a point between
the LP's answer and a stabilising core point (in-out separation) and at the answer itself when
that finds nothing; its optimum is the radius model's LP bound. A plan from the LP (the p
largest y, improved by vertex interchange; for facility location the sites the LP opens at least
half) gives an upper bound, and the LP's reduced costs fix every site whose opening (closing)
would cost more than that plan. Phase 2 makes y integer and solves the master as a MIP from the
best plan; each MIP plan's clients get their cuts (tight at a 0/1 point), and the MIP is solved
again until its bound proves the best plan within the gap. The MIP's bound is always a valid
lower bound (its cuts and fixings are relaxations of the full problem), so the plan returned is
"optimal" only when it is within ``options.mip_gap`` of that bound; its objective is recomputed
from the assignment.
"""

from __future__ import annotations

import math
import time

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.location.common import (
    LocationResult,
    Pairs,
    allowed_pairs,
    as_vector,
    finish_status,
    is_integral,
    require_every_client_served,
    resolve_options,
)
from allocator.location.pmedian_sparse import greedy_sites, interchange
from allocator.location.radius import (
    SortedPairs,
    cover_rows,
    cut_rows,
    deepest_cuts,
    plan_costs,
    sort_pairs,
)
from allocator.solver import ModelBuilder, SolverOptions, relative_gap, solve_matrix
from allocator.solver.incremental import IncrementalModel
from allocator.text import plural

__all__ = ["benders_p_median", "benders_facility_location", "plan_objective"]

#: Weight of the LP's answer in the separation point of phase 1 (the core point has the rest).
IN_OUT = 0.4

#: Phase 1 stops when its bound is this close (relatively) to the best LP value seen.
LP_TOLERANCE = 1e-7

#: Most cutting-plane rounds in phase 1 and MIP solves in phase 2.
LP_ROUNDS, MIP_ROUNDS = 400, 60


def benders_p_median(
    cost, p: int, weights=None, options: SolverOptions | None = None
) -> LocationResult:
    """Open exactly ``p`` sites minimising the weighted cost, by Benders decomposition.

    The same problem as :func:`allocator.location.p_median` (same parameters, result and
    errors), solved on the allowed pairs alone by the two-phase Benders decomposition of the
    radius formulation: the method for many clients with few allowed sites each (a walking limit
    on a city's communities and candidate sites). On dense matrices with a small p its bound
    closes slowly (OR-Library pmed16, 400 clients and p = 5: 1 short of the optimum after 60 s);
    :func:`allocator.location.p_median` proves those by branch and bound.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0, 5, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], dtype=float)
    >>> r = benders_p_median(cost, p=2)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist(), r.status
    (5.0, [0, 2], [0, 0, 2, 2], 'optimal')
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    pairs = allowed_pairs(cost, "cost")
    if isinstance(p, bool) or not isinstance(p, int | np.integer | float) or p != int(p) or p < 1:
        raise InputError(f"p must be a positive integer number of sites, got {p!r}")
    p = int(p)
    if p > pairs.n_sites:
        raise Infeasible(
            f"p = {p} sites cannot be opened: there are only {pairs.n_sites} candidate sites",
            {"p": float(p - pairs.n_sites)},
        )
    w = _weights(weights, pairs.n_clients)
    require_every_client_served(pairs, "")
    opening = np.zeros(pairs.n_sites)
    return BendersSolve(pairs, w, opening, p, options, t0).run()


def benders_facility_location(
    cost, opening_cost, weights=None, options: SolverOptions | None = None
) -> LocationResult:
    """Open sites minimising opening plus weighted serving cost (uncapacitated), by Benders.

    Parameters
    ----------
    cost : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        As for :func:`allocator.location.p_median`: dense ``inf`` or a missing sparse entry is a
        pair that is not allowed.
    opening_cost : array_like, shape (n_sites,)
        Non-negative cost of opening each site.
    weights : array_like, shape (n_clients,), optional
        Non-negative client weights (default 1): client i costs ``weights[i] * cost[i, j]``.
    options : SolverOptions, optional

    Returns
    -------
    LocationResult
        Each client is served by its cheapest open allowed site.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[0, 5, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], dtype=float)
    >>> r = benders_facility_location(cost, opening_cost=[5.0, 5.0, 5.0])
    >>> r.objective, r.sites.tolist(), r.assignment.tolist()
    (15.0, [0, 2], [0, 0, 2, 2])
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    pairs = allowed_pairs(cost, "cost")
    f = as_vector(opening_cost, pairs.n_sites, "opening_cost")
    if (f < 0).any() or not np.isfinite(f).all():
        j = int(np.flatnonzero((f < 0) | ~np.isfinite(f))[0])
        raise InputError(f"opening_cost[{j}] = {f[j]}; opening costs must be finite, >= 0")
    w = _weights(weights, pairs.n_clients)
    require_every_client_served(pairs, "")
    return BendersSolve(pairs, w, f, None, options, t0).run()


def _weights(weights, n: int) -> np.ndarray:
    w = as_vector(weights, n, "weights", default=1.0)
    if (w < 0).any() or not np.isfinite(w).all():
        i = int(np.flatnonzero((w < 0) | ~np.isfinite(w))[0])
        raise InputError(f"weights[{i}] = {w[i]}; weights must be finite and non-negative")
    return w


def plan_objective(pairs: Pairs, w, opening, sites, assignment) -> float:
    """The cost of a plan recomputed from its assignment (inf if a pair is not allowed).

    Examples
    --------
    >>> import numpy as np
    >>> pairs = allowed_pairs(np.array([[1.0, 4.0], [np.inf, 2.0]]), "cost")
    >>> plan_objective(pairs, np.ones(2), np.array([5.0, 1.0]), [1], np.array([1, 1]))
    7.0
    >>> plan_objective(pairs, np.ones(2), np.zeros(2), [0], np.array([0, 0]))
    inf
    """
    a = np.asarray(assignment, dtype=np.int64)
    keys = pairs.clients * pairs.n_sites + pairs.sites  # sorted: by client, then site
    want = np.arange(pairs.n_clients) * pairs.n_sites + a
    at = np.minimum(np.searchsorted(keys, want), keys.size - 1)
    if (a < 0).any() or (keys[at] != want).any() or not np.isin(a, sites).all():
        return math.inf
    return float(np.asarray(opening)[np.asarray(sites, dtype=np.int64)].sum() + w @ pairs.cost[at])


class BendersSolve:
    """One two-phase Benders solve (see the module docstring)."""

    def __init__(self, pairs: Pairs, w, opening, p, options: SolverOptions, t0: float):
        self.pairs, self.w, self.f, self.p = pairs, w, opening, p
        self.options, self.t0 = options, t0
        self.s: SortedPairs = sort_pairs(pairs)
        self.n, self.m = pairs.n_clients, pairs.n_sites
        self.integral = is_integral(pairs.cost) and is_integral(w) and is_integral(opening)
        self.best, self.best_sites = math.inf, None
        self.lower = -math.inf
        self.covered = np.zeros(self.n, dtype=bool)  # clients with a cover row in the master
        self.weighted = w > 0

    # -- helpers ------------------------------------------------------------------------------
    def time_left(self) -> float:
        if self.options.time_limit is None:
            return math.inf
        return self.options.time_limit - (time.perf_counter() - self.t0)

    def offer(self, sites) -> float:
        """Record the plan opening ``sites`` if it is the best so far; return its cost."""
        sites = np.unique(np.asarray(sites, dtype=np.int64))
        cost, _ = plan_costs(self.s, sites)
        value = float(self.f[sites].sum() + self.w @ cost) if np.isfinite(cost).all() else math.inf
        if value < self.best:
            self.best, self.best_sites = value, sites
        return value

    def delta(self) -> float:
        """A plan is only worth finding if it costs less than ``best - delta``."""
        return 1.0 - 1e-6 * max(1.0, abs(self.best)) if self.integral else 0.0

    def add_cuts(self, inc: IncrementalModel, at, y, theta, tol=1e-7) -> int:
        """Add the deepest cuts at the point ``at`` that the master's answer (y, theta) violates,
        and the cover rows of the clients ``y`` leaves without a whole open site."""
        bare = np.flatnonzero(~deepest_cuts(self.s, y).covered & ~self.covered)
        if bare.size:
            inc.add_rows(self._full(cover_rows(self.s, bare), 0), np.ones(bare.size), np.inf)
            self.covered[bare] = True
        cuts = deepest_cuts(self.s, at)
        who = np.flatnonzero(self.weighted)
        rows = cut_rows(self.s, cuts.level, who)
        value = cuts.level[who] - rows @ y  # each cut at the master's answer
        hit = (value > theta[who] + tol * np.maximum(1.0, np.abs(value))).nonzero()[0]
        if hit.size:
            full = self._full(rows[hit], 1, who[hit])
            inc.add_rows(full, cuts.level[who[hit]], np.full(hit.size, np.inf))
        return int(hit.size + bare.size)

    def _full(self, y_rows: sp.csr_matrix, theta_coef: float, clients=None) -> sp.csr_matrix:
        """Rows over all columns (y, then theta) from their y part and 1 on each client's theta."""
        k = y_rows.shape[0]
        theta = sp.csr_matrix((k, self.n))
        if theta_coef and clients is not None:
            theta = sp.csr_matrix((np.ones(k), (np.arange(k), clients)), shape=(k, self.n))
        return sp.hstack([y_rows, theta], format="csr")

    # -- the solve ----------------------------------------------------------------------------
    def master(self) -> IncrementalModel:
        b = ModelBuilder()
        y = b.add_columns("y", self.m, cost=self.f, upper=1.0)
        b.add_columns("theta", self.n, cost=self.w, lower=self.s.cheapest)
        if self.p is not None:
            b.add_rows(
                "open_sites", 1, {y: (0, np.arange(self.m), 1.0)}, lower=self.p, upper=self.p
            )
        return IncrementalModel(b.build(), self.options)

    def run(self) -> LocationResult:
        inc = self.master()
        try:
            lp = self.phase_one(inc)
        except Infeasible:
            raise self.cover_error() from None
        except SolverError:  # out of time before the first LP: a plan without a bound
            self.heuristic(np.ones(self.m) if self.p is None else self.greedy())
            return self.result("feasible")
        self.heuristic(lp.x[: self.m])
        fixed = self.fix_sites(inc, lp)
        status = self.phase_two(inc, fixed)
        return self.result(status)

    def phase_one(self, inc: IncrementalModel):
        """Solve the master's LP relaxation by stabilised cutting planes; return its answer."""
        m = self.m
        core = np.full(m, (self.p if self.p is not None else 1.0) / m)
        best_value = math.inf
        ans = inc.solve(time_limit=self.time_left())
        for _ in range(LP_ROUNDS):
            y, theta = ans.x[:m], ans.x[m:]
            cuts = deepest_cuts(self.s, y)
            if cuts.covered.all():
                best_value = min(best_value, float(self.f @ y + self.w @ cuts.value))
            self.lower = max(self.lower, ans.objective)
            gap_small = math.isfinite(best_value) and (
                best_value - ans.objective <= LP_TOLERANCE * max(1.0, abs(best_value))
            )
            if gap_small or self.time_left() <= 0:
                break
            added = self.add_cuts(inc, IN_OUT * y + (1 - IN_OUT) * core, y, theta)
            if added == 0 and self.add_cuts(inc, y, y, theta) == 0:
                break
            core = 0.5 * core + 0.5 * y
            ans = inc.solve(time_limit=self.time_left())
        return ans

    def heuristic(self, y: np.ndarray) -> None:
        """Plans from the LP's answer: the best one becomes the incumbent."""
        if self.p is not None:
            start = np.argsort(-y, kind="stable")[: self.p]
            wc = self.w[self.pairs.clients] * self.pairs.cost
            self.offer(interchange(self.pairs, wc, start, self.time_left))
            return
        for level in (0.5, 1e-6):
            sites = np.flatnonzero(y >= level)
            cost, _ = plan_costs(self.s, sites)
            bare = np.flatnonzero(~np.isfinite(cost))  # give each its most open allowed site
            if bare.size:
                take = np.isin(self.s.clients, bare)
                by = np.lexsort((-y[self.s.sites[take]], self.s.clients[take]))
                cl = self.s.clients[take][by]
                lead = np.ones(cl.size, dtype=bool)
                lead[1:] = cl[1:] != cl[:-1]
                sites = np.union1d(sites, self.s.sites[take][by][lead])
            self.offer(sites)

    def greedy(self) -> np.ndarray:
        """A 0/1 point opening the greedy plan's p sites (all sites if it serves not all)."""
        wc = self.w[self.pairs.clients] * self.pairs.cost
        sites = greedy_sites(self.pairs, wc, self.p, lambda: 1.0)
        y = np.zeros(self.m) if sites is not None else np.arange(self.m, 0, -1.0)
        if sites is not None:
            y[sites] = 1.0
        return y

    def fix_sites(self, inc: IncrementalModel, lp) -> int:
        """Fix the sites the LP's reduced costs settle against the best plan; return how many."""
        if lp.reduced_costs is None or not math.isfinite(self.best) or lp.bound is None:
            return 0
        room = self.best - self.delta() - lp.bound
        y, d = lp.x[: self.m], lp.reduced_costs[: self.m]
        tol = 1e-9 * max(1.0, abs(self.best))
        shut = np.flatnonzero((y <= 1e-9) & (d > room + tol))
        keep = np.flatnonzero((y >= 1 - 1e-9) & (-d > room + tol))
        inc.set_bounds(shut, 0.0, 0.0)
        inc.set_bounds(keep, 1.0, 1.0)
        return int(shut.size + keep.size)

    def phase_two(self, inc: IncrementalModel, fixed: int) -> str:
        """Solve the master as a MIP, adding the cuts of its plans, until the gap is closed."""
        m = self.m
        inc.set_integer(np.arange(m))
        status = "feasible"
        for _ in range(MIP_ROUNDS):
            start = None
            if self.best_sites is not None:
                y0 = np.zeros(m)
                y0[self.best_sites] = 1.0
                start = np.concatenate([y0, plan_costs(self.s, self.best_sites)[0]])
            left = self.time_left()
            if left <= 0:
                break
            try:
                ans = inc.solve(start, time_limit=left)
            except Infeasible:
                raise self.cover_error() from None
            except SolverError:
                if self.best_sites is None:
                    raise
                break  # stopped without a plan of its own: keep the best plan and bound
            y = np.round(ans.x[:m])
            self.offer(np.flatnonzero(y > 0.5))
            if ans.bound is not None:
                self.lower = max(self.lower, min(ans.bound, self.best))
            if self.proven():
                return "optimal"
            if ans.status != "optimal" or self.add_cuts(inc, y, y, ans.x[m:]) == 0:
                break
        return status

    def cover_error(self) -> Infeasible:
        """Why p sites cannot give every client an allowed open site: the fewest sites that can
        (a set-covering MIP over the allowed pairs, or its LP bound when time runs out)."""
        b = ModelBuilder()
        y = b.add_columns("y", self.m, cost=1.0, upper=1.0, integer=True)
        cover = cover_rows(self.s, np.arange(self.n)).tocoo()
        b.add_rows("cover", self.n, {y: (cover.row, cover.col, cover.data)}, lower=1.0)
        left = self.time_left()
        options = SolverOptions(
            time_limit=None if not math.isfinite(left) else max(left, 1.0),
            mip_gap=0.0,
            threads=self.options.threads,
        )
        info = solve_matrix(b.build(), options=options).info
        fewest = math.ceil(info.bound - 1e-6) if info.bound is not None else None
        if fewest is None or fewest <= self.p:
            return Infeasible(
                f"opening {plural(self.p, 'site')} cannot give every client an allowed open site",
                {"open_sites": 1.0},
            )
        exact = "" if info.status == "optimal" else " at least"
        return Infeasible(
            f"opening {plural(self.p, 'site')} cannot give every one of the "
            f"{plural(self.n, 'client')} an "
            f"allowed open site: covering them all takes{exact} {plural(fewest, 'site')} "
            f"({fewest - self.p} more)",
            {"open_sites": float(fewest - self.p)},
        )

    def proven(self) -> bool:
        if not math.isfinite(self.best) or not math.isfinite(self.lower):
            return False
        if self.integral and math.ceil(self.lower - 1e-6) >= self.best - 1e-6:
            return True
        return relative_gap(self.best, self.lower) <= self.options.mip_gap

    def result(self, status: str) -> LocationResult:
        if self.best_sites is None:
            raise SolverError(
                f"no plan serves every client within the time limit ({self.time_left():.1f} s left)"
            )
        sites = self.best_sites
        _, assignment = plan_costs(self.s, sites)
        objective = plan_objective(self.pairs, self.w, self.f, sites, assignment)
        if not math.isfinite(objective) or abs(objective - self.best) > 1e-6 * max(1, objective):
            raise SolverError(
                f"the plan's recomputed cost {objective!r} differs from its value {self.best!r}"
            )
        lower = min(self.lower, objective) if math.isfinite(self.lower) else None
        status, bound, gap = finish_status(objective, lower, status, self.integral, 0.0)
        if gap is not None and gap > self.options.mip_gap:
            status = "feasible"
        elif bound is not None and status != "optimal":
            status = "optimal" if gap is not None and gap <= self.options.mip_gap else status
        return LocationResult(
            objective, sites, assignment, status, bound, gap, time.perf_counter() - self.t0
        )
