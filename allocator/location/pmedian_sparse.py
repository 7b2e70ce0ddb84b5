"""p-median stages that work on the allowed pairs alone, never on a clients x sites matrix.

Used for sparse cost matrices (and for dense ones too large for the matrix stages): memory and
time per step grow with the number of allowed pairs, not with clients x sites.

* :func:`greedy_sites`: greedy addition with lazy gain updates (gains only fall as sites open).
* :func:`interchange`: best-improvement vertex interchange with the fast (Whitaker) swap gains.
* :func:`lagrange_bound`: subgradient optimisation of the Lagrangian relaxation of "every client
  is served" (the same bound as the dense stage), offering the sites each relaxation chooses as
  plans on the way.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from allocator.location.common import Pairs


def greedy_sites(pairs: Pairs, wc: np.ndarray, p: int, time_left) -> np.ndarray | None:
    """Open p sites one by one, each time the one that lowers the total cost most.

    ``wc``: the weighted cost of each pair (in the order of ``pairs``). Out of time, the sites
    still to open are the best by their last known gains, all at once. Returns the sorted open
    sites, or None when the plan leaves some client without an open site.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> pairs = allowed_pairs(np.array([[0.0, 4.0], [1.0, 9.0], [7.0, 0.0]]), "cost")
    >>> greedy_sites(pairs, pairs.cost, 1, lambda: 1.0).tolist()
    [0]
    """
    n, m = pairs.n_clients, pairs.n_sites
    big = (float(np.abs(wc).max(initial=0.0)) + 1.0) * 4.0 * (n + 1)
    order = np.argsort(pairs.sites, kind="stable")
    site_ptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs.sites, minlength=m), out=site_ptr[1:])
    s_client, s_cost = pairs.clients[order], wc[order]
    d1 = np.full(n, 2.0 * big)  # each client's cost to its nearest open site (2 big: none)
    gains = np.bincount(pairs.sites, weights=2.0 * big - wc, minlength=m)
    heap = [(-float(g), j) for j, g in enumerate(gains)]
    heapq.heapify(heap)
    fresh = np.zeros(m, dtype=np.int64)  # the number of open sites when gain j was computed
    chosen: list[int] = []
    while len(chosen) < p and heap:
        if time_left() <= 0:  # out of time: the rest by their last known gains, at once
            for _, j in heapq.nsmallest(p - len(chosen), heap):
                chosen.append(j)
                lo, hi = site_ptr[j], site_ptr[j + 1]
                d1[s_client[lo:hi]] = np.minimum(d1[s_client[lo:hi]], s_cost[lo:hi])
            break
        _, j = heapq.heappop(heap)
        lo, hi = site_ptr[j], site_ptr[j + 1]
        if fresh[j] == len(chosen):  # an up-to-date gain at the top: the best site
            chosen.append(j)
            d1[s_client[lo:hi]] = np.minimum(d1[s_client[lo:hi]], s_cost[lo:hi])
            continue
        gain = float(np.maximum(d1[s_client[lo:hi]] - s_cost[lo:hi], 0.0).sum())
        fresh[j] = len(chosen)
        heapq.heappush(heap, (-gain, j))
    if len(chosen) < p or (d1 >= big).any():
        return None
    return np.sort(np.asarray(chosen, dtype=np.int64))


def interchange(pairs: Pairs, wc: np.ndarray, sites: np.ndarray, time_left) -> np.ndarray:
    """Best-improvement vertex interchange (Teitz-Bart) on the allowed pairs alone.

    Swapping open site r for closed site j changes the cost by
    ``gain_j + base_r - S[r, j]``: ``gain_j = sum_i min(c_ij - d1_i, 0)`` over j's pairs (clients
    moving to j), ``base_r = sum_{i: first(i) = r} (d2_i - d1_i)`` (r's clients falling back to
    their second open site) and ``S[r, j] = sum_{i: first(i) = r} max(d2_i - max(c_ij, d1_i), 0)``
    over j's pairs (r's clients that j serves better than their second site); ``S`` has one entry
    per allowed pair at most. A client without an open site costs a large constant, so the
    start need not serve everyone. Stops when no swap lowers the cost or the clock runs out.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> pairs = allowed_pairs(np.array([[0.0, 4.0, 1.0], [9.0, 1.0, 1.0]]), "cost")
    >>> interchange(pairs, pairs.cost, np.array([0]), lambda: 1.0).tolist()
    [2]
    """
    n, m = pairs.n_clients, pairs.n_sites
    sites = np.sort(np.asarray(sites, dtype=np.int64))
    p = sites.size
    if p == m:
        return sites
    big = (float(np.abs(wc).max(initial=0.0)) + 1.0) * 4.0 * (n + 1)
    by_cost = np.lexsort((pairs.sites, wc, pairs.clients))  # each client's pairs, cheapest first
    b_client, b_site, b_cost = pairs.clients[by_cost], pairs.sites[by_cost], wc[by_cost]
    clients, all_sites = pairs.clients, pairs.sites
    tol = 1e-9 * max(1.0, float(np.abs(wc).sum()))
    while time_left() > 0:
        is_open = np.zeros(m, dtype=bool)
        is_open[sites] = True
        slot = np.full(m, -1, dtype=np.int64)
        slot[sites] = np.arange(p)
        on = np.flatnonzero(is_open[b_site])
        oc = b_client[on]
        head = np.ones(on.size, dtype=bool)
        head[1:] = oc[1:] != oc[:-1]
        firsts = on[head]
        d1 = np.full(n, big)
        first = np.full(n, -1, dtype=np.int64)
        d1[b_client[firsts]] = b_cost[firsts]
        first[b_client[firsts]] = slot[b_site[firsts]]
        second = np.zeros(on.size, dtype=bool)
        second[1:] = head[:-1] & ~head[1:]
        d2 = np.full(n, big)
        d2[b_client[on[second]]] = b_cost[on[second]]
        # a client without an open site costs big: swaps that serve it come first
        served = first >= 0
        gain = np.bincount(all_sites, weights=np.minimum(wc - d1[clients], 0.0), minlength=m)
        base = np.bincount(first[served], weights=(d2 - d1)[served], minlength=p)
        s_val = d2[clients] - np.maximum(wc, d1[clients])
        pos = (s_val > 0) & served[clients]
        S = sp.csc_matrix((s_val[pos], (first[clients[pos]], all_sites[pos])), shape=(p, m))
        S.sum_duplicates()
        # best r for each j: the smallest base overall or, where S has entries, base_r - S[r, j]
        r_any = int(np.argmin(base))
        best_val = np.full(m, base[r_any])
        best_r = np.full(m, r_any, dtype=np.int64)
        if S.nnz:
            cols = np.repeat(np.arange(m), np.diff(S.indptr))
            vals = base[S.indices] - S.data
            order = np.lexsort((vals, cols))
            lead = np.ones(order.size, dtype=bool)
            lead[1:] = cols[order][1:] != cols[order][:-1]
            pick = order[lead]
            better = vals[pick] < best_val[cols[pick]]
            best_val[cols[pick][better]] = vals[pick][better]
            best_r[cols[pick][better]] = S.indices[pick][better]
        delta = gain + best_val
        delta[is_open] = np.inf
        j = int(np.argmin(delta))
        if not delta[j] < -tol:
            break
        sites[best_r[j]] = j
        sites = np.sort(sites)
    return sites


def lagrange_bound(
    pairs: Pairs,
    wc: np.ndarray,
    lam: np.ndarray,
    p: int,
    upper: float,
    goal: float,
    iterations: int,
    step: float,
    time_left,
    patience: int = 25,
    offer: Callable[[np.ndarray], float] | None = None,
):
    """Subgradient optimisation of the Lagrangian relaxation of the assignment constraints.

    With multipliers lam_i on "client i is served", the relaxation is
    ``sum_i lam_i + min { sum_j rho_j y_j : sum_j y_j = p }`` with
    ``rho_j = sum_{i: (i, j) allowed} min(0, w_i c_ij - lam_i)``; every lam gives a valid lower
    bound. Stops when the bound exceeds ``goal``. Every tenth step the p chosen sites go to
    ``offer`` (which returns a plan's value) and the best value so far steers the step.
    Returns the best bound, its multipliers and its rho.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> pairs = allowed_pairs(np.array([[0.0, 4.0], [1.0, 9.0], [7.0, 0.0]]), "cost")  # p = 1: 8
    >>> L, lam, rho = lagrange_bound(pairs, pairs.cost, np.ones(3), 1, 8.0, 8.0, 200, 2.0,
    ...                              lambda: 1e9)
    >>> bool(7.0 < L <= 8.0)
    True
    """
    n, m = pairs.n_clients, pairs.n_sites
    clients, sites = pairs.clients, pairs.sites
    best_L, best_lam, best_rho, stall = -math.inf, lam, None, 0
    for it in range(iterations):
        reduced = wc - lam[clients]
        neg = reduced < 0
        rho = np.bincount(sites[neg], weights=reduced[neg], minlength=m)
        chosen = np.argpartition(rho, p - 1)[:p] if p < m else np.arange(m)
        L = float(lam.sum() + rho[chosen].sum())
        if L > best_L + 1e-9 * max(1.0, abs(L)):
            best_L, best_lam, best_rho, stall = L, lam, rho, 0
        else:
            stall += 1
            if stall >= patience:
                step, stall = step / 2, 0
        if offer is not None and it % 10 == 0:
            upper = min(upper, offer(chosen))
        if best_L > goal or step < 1e-3 or time_left() < 1:
            break
        is_chosen = np.zeros(m, dtype=bool)
        is_chosen[chosen] = True
        g = 1.0 - np.bincount(clients[neg & is_chosen[sites]], minlength=n)
        norm = float(g @ g)
        if norm == 0:
            break
        lam = lam + step * max(upper - L, 1e-9 * max(1.0, abs(upper))) / norm * g
    return best_L, best_lam, best_rho
