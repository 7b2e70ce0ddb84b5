"""The radius formulation's Benders cuts on the allowed pairs (Duran-Mateluna, Ales and Elloumi).

Client i's cost, given the open sites y, is the cheapest open allowed pair: with its allowed costs
``c_ij``, every distance D gives the valid inequality

    theta_i >= D - sum_{j: c_ij < D} (D - c_ij) y_j

(an open site cheaper than D lowers the right-hand side to at most its own cost; with none open
it is D, and the client pays at least D). For a fractional y the right-hand side is concave in D
with slope ``1 - sum_{j: c_ij <= D} y_j`` after D, so the deepest cut takes the smallest allowed
cost at which the open share of the client's pairs up to it reaches 1: the cut the radius model's
subproblem gives, found here in one pass over the pairs (sorted once by client, then cost). For a
0/1 y the cut is tight: its value is the client's cost in the plan.

Duran-Mateluna C., Ales Z., Elloumi S. (2023), "An efficient Benders decomposition for the
p-median problem", European Journal of Operational Research 308(1), 84-96,
doi:10.1016/j.ejor.2022.11.033 (preprint arXiv:2111.13405).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from allocator.location.common import Pairs

#: The open share of a client's pairs counts as "reaches 1" from this value on.
SHARE_ONE = 1.0 - 1e-9


class SortedPairs(NamedTuple):
    """The allowed pairs sorted by client, then cost (then site): what the cuts read.

    ``order`` maps each sorted pair to its index in the :class:`Pairs` it came from.
    """

    indptr: np.ndarray
    clients: np.ndarray
    sites: np.ndarray
    cost: np.ndarray
    order: np.ndarray
    n_clients: int
    n_sites: int

    @property
    def cheapest(self) -> np.ndarray:
        """Each client's cheapest allowed cost."""
        return self.cost[self.indptr[:-1]]

    @property
    def dearest(self) -> np.ndarray:
        """Each client's dearest allowed cost."""
        return self.cost[self.indptr[1:] - 1]


def sort_pairs(pairs: Pairs) -> SortedPairs:
    """The allowed pairs of ``pairs`` sorted by client, then cost, then site.

    Every client must have an allowed pair.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> s = sort_pairs(allowed_pairs(np.array([[3.0, 1.0], [2.0, np.inf]]), "cost"))
    >>> s.sites.tolist(), s.cost.tolist(), s.cheapest.tolist()
    ([1, 0, 0], [1.0, 3.0, 2.0], [1.0, 2.0])
    """
    clients = pairs.clients
    order = np.lexsort((pairs.sites, pairs.cost, clients))
    return SortedPairs(
        pairs.indptr,
        clients[order],
        pairs.sites[order],
        pairs.cost[order],
        order,
        pairs.n_clients,
        pairs.n_sites,
    )


def _grouped_cumsum(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """The running sum of ``values`` within each group ``indptr[i]:indptr[i + 1]``."""
    total = np.cumsum(values)
    before = np.concatenate(([0.0], total))[indptr[:-1]]
    return total - np.repeat(before, np.diff(indptr))


class Cuts(NamedTuple):
    """The deepest cut of each client at a point y.

    ``value[i]``: the cut's right-hand side at y (client i's subproblem value, its cost when y is
    0/1); ``level[i]``: the distance D of the cut; ``covered[i]``: whether the open share of the
    client's pairs reaches 1 (if not, y leaves the client without a whole open site and
    ``level`` is its dearest cost).
    """

    value: np.ndarray
    level: np.ndarray
    covered: np.ndarray


def deepest_cuts(s: SortedPairs, y: np.ndarray) -> Cuts:
    """Each client's deepest radius cut at the point ``y`` (one value per site, in [0, 1]).

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> s = sort_pairs(allowed_pairs(np.array([[1.0, 4.0, 6.0]]), "cost"))
    >>> cuts = deepest_cuts(s, np.array([0.5, 0.0, 1.0]))  # half of site 0, then site 2 at 6
    >>> cuts.value.tolist(), cuts.level.tolist()
    ([3.5], [6.0])
    >>> deepest_cuts(s, np.array([0.0, 1.0, 1.0])).value.tolist()  # 0/1: the cost in the plan
    [4.0]
    """
    n = s.n_clients
    share = _grouped_cumsum(np.asarray(y, dtype=float)[s.sites], s.indptr)
    reached = share >= SHARE_ONE  # y >= 0: within a client, False ... False True ... True
    # the first pair of each client whose running share reaches 1 (or its last pair)
    starts = np.zeros(s.sites.size, dtype=bool)
    starts[s.indptr[:-1][np.diff(s.indptr) > 0]] = True
    lead = reached.copy()
    lead[1:] &= ~reached[:-1] | starts[1:]
    covered = np.zeros(n, dtype=bool)
    first = s.indptr[1:] - 1
    covered[s.clients[lead]] = True
    first[s.clients[lead]] = np.flatnonzero(lead)
    level = s.cost[first]
    gain = np.maximum(level[s.clients] - s.cost, 0.0) * np.asarray(y, dtype=float)[s.sites]
    value = level - np.bincount(s.clients, weights=gain, minlength=n)
    return Cuts(value, level, covered)


def cut_rows(s: SortedPairs, level: np.ndarray, clients: np.ndarray) -> sp.csr_matrix:
    """The y-part of the cuts ``theta_i + sum_{c_ij < D_i} (D_i - c_ij) y_j >= D_i``.

    One row per client in ``clients`` (``level``: each client's D_i), over the sites.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> s = sort_pairs(allowed_pairs(np.array([[1.0, 4.0, 6.0]]), "cost"))
    >>> cut_rows(s, np.array([6.0]), np.array([0])).toarray().tolist()
    [[5.0, 2.0, 0.0]]
    """
    clients = np.asarray(clients, dtype=np.int64)
    keep = np.zeros(s.n_clients, dtype=bool)
    keep[clients] = True
    row_of = np.full(s.n_clients, -1, dtype=np.int64)
    row_of[clients] = np.arange(clients.size)
    coef = level[s.clients] - s.cost
    take = keep[s.clients] & (coef > 0)
    return sp.csr_matrix(
        (coef[take], (row_of[s.clients[take]], s.sites[take])),
        shape=(clients.size, s.n_sites),
    )


def cover_rows(s: SortedPairs, clients: np.ndarray) -> sp.csr_matrix:
    """Rows ``sum_{j allowed for i} y_j`` for each client i in ``clients`` (one 1 per pair)."""
    clients = np.asarray(clients, dtype=np.int64)
    row_of = np.full(s.n_clients, -1, dtype=np.int64)
    row_of[clients] = np.arange(clients.size)
    take = row_of[s.clients] >= 0
    return sp.csr_matrix(
        (np.ones(int(take.sum())), (row_of[s.clients[take]], s.sites[take])),
        shape=(clients.size, s.n_sites),
    )


def plan_costs(s: SortedPairs, open_sites: np.ndarray):
    """Each client's cost and site in the plan opening ``open_sites`` (inf, -1: none allowed).

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.common import allowed_pairs
    >>> s = sort_pairs(allowed_pairs(np.array([[1.0, 4.0], [np.inf, 2.0]]), "cost"))
    >>> cost, site = plan_costs(s, np.array([1]))
    >>> cost.tolist(), site.tolist()
    ([4.0, 2.0], [1, 1])
    """
    is_open = np.zeros(s.n_sites, dtype=bool)
    is_open[np.asarray(open_sites, dtype=np.int64)] = True
    on = np.flatnonzero(is_open[s.sites])
    head = np.ones(on.size, dtype=bool)
    head[1:] = s.clients[on[1:]] != s.clients[on[:-1]]
    firsts = on[head]  # the cheapest open pair of each client with one
    cost = np.full(s.n_clients, np.inf)
    site = np.full(s.n_clients, -1, dtype=np.int64)
    cost[s.clients[firsts]] = s.cost[firsts]
    site[s.clients[firsts]] = s.sites[firsts]
    return cost, site
