"""The Lagrangian stage of split-demand facility location: bound, plans, site fixing, and a
branch and bound on sites (the model is stated in :mod:`allocator.location`).

:class:`FacilityLagrange` relaxes the demand rows; :func:`allocator.location.facility_location`
runs it on large split-demand instances before (or instead of) the strong MIP.
"""

from __future__ import annotations

import math
import time

import numpy as np

from allocator.errors import Infeasible, SolverError
from allocator.location.common import Pairs
from allocator.solver import ModelBuilder, SolverOptions, solve_matrix

#: Subgradient iterations of that stage.
_CFL_LAGRANGE_ITERATIONS = 1000


#: Transportation LPs the local search on the best plan may solve, and its add/swap candidates.
_CFL_LOCAL_SEARCH_SOLVES = 150


_CFL_LOCAL_SEARCH_CANDIDATES = 5


#: The repair LP lets each client use only this many of its cheapest open sites (then all).
_CFL_REPAIR_NEAREST = 4


#: Subgradient iterations without a better bound before the step is halved.
_CFL_STALL = 10


#: Branch and bound on sites after the root: iterations, initial step and patience per node,
#: and the node budget before the MIP takes over.
_CFL_NODE_ITERATIONS, _CFL_NODE_STEP, _CFL_NODE_PATIENCE = 100, 2.0, 10


class FacilityLagrange:
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
        b = ModelBuilder()
        share = b.add_columns("share", k, cost=sub[ii, jj], upper=1.0)
        pair = np.arange(k)
        b.add_rows("demand", n, {share: (ii, pair, 1.0)}, lower=1.0, upper=1.0)
        b.add_rows("capacity", sites.size, {share: (jj, pair, self.d[ii])}, upper=self.u[sites])
        try:
            sol = solve_matrix(b.build(), options=SolverOptions())
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

    def goal(self) -> float:
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
            if best_L >= (self.goal() if not root else self.upper - 1e-9 * abs(self.upper)):
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
        self.keep_plan_feasible()

    def keep_plan_feasible(self) -> None:
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
            if L >= self.goal():
                pruned = min(pruned, L)
                continue
            y, bounds = self._flip_bounds(lam, fo, fc)
            self._try(y)
            if L >= self.goal():
                pruned = min(pruned, L)
                continue
            fixed = bounds > self.goal()
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

    def start_plan(self, pairs: Pairs):
        """The best plan over ``pairs``: (1.0 for each open site, the share of each pair), or None
        when it uses a pair not in ``pairs``."""
        if self.plan is None:
            return None
        sites, ii, jj, shares = self.plan
        m = pairs.n_sites
        y = np.zeros(m)
        y[sites] = 1.0
        share = np.zeros(pairs.cost.size)
        key = pairs.clients * m + pairs.sites
        where = np.searchsorted(key, ii * m + jj)
        where = np.minimum(where, key.size - 1)
        ok = key[where] == ii * m + jj
        if not ok[shares > 1e-12].all():
            return None
        share[where[ok]] = shares[ok]
        return y, share
