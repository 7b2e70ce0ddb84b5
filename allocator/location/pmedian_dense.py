"""p-median stages on a dense clients x sites matrix of weighted costs.

* :func:`greedy_interchange`: greedy addition, then best-improvement vertex interchange
  (Teitz-Bart, with the Whitaker fast-interchange gains).
* :func:`lagrange_bound`: subgradient optimisation of the Lagrangian relaxation of "every client
  is served".

:mod:`allocator.location.pmedian_sparse` has the same stages on the allowed pairs alone.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp


def lagrange_bound(WC, lam, p, forced, upper, goal, iterations, step, time_left, patience=25):
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


def greedy_interchange(WC: np.ndarray, p: int, time_left) -> np.ndarray | None:
    """Greedy addition, then best-improvement vertex interchange (Teitz-Bart, Whitaker gains).

    Out of time, the sites still to open are the best by their current gains, all at once.
    Returns the open sites, or None when the plan found leaves some client unserved.
    """
    n, m = WC.shape
    finite = np.isfinite(WC)
    big = (float(np.abs(WC[finite]).max()) + 1.0) * 4.0 * (n + 1) if finite.any() else 1.0
    C = np.where(finite, WC, big)
    d1 = np.full(n, 2.0 * big)
    is_open = np.zeros(m, dtype=bool)
    for k in range(p):
        gain = np.maximum(d1[:, None] - C, 0.0).sum(axis=0)
        gain[is_open] = -np.inf
        if time_left() <= 0:  # out of time: the rest by their current gains, at once
            rest = np.argsort(-gain, kind="stable")[: p - k]
            is_open[rest] = True
            break
        j = int(np.argmax(gain))
        is_open[j] = True
        d1 = np.minimum(d1, C[:, j])
    sites = np.flatnonzero(is_open)
    if p < m:
        sites = interchange(C, sites, time_left)
    if (C[:, sites].min(axis=1) >= big).any():
        return None
    return np.sort(sites)


def interchange(C: np.ndarray, sites: np.ndarray, time_left) -> np.ndarray:
    """Best-improvement vertex interchange on the (finite) costs ``C`` from the open ``sites``.

    Each round swaps the open site and the closed site whose exchange lowers the total cost
    most (Whitaker's fast gains), until no swap helps or ``time_left()`` runs out.
    """
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
