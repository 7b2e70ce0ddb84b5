"""The radius model of p-median (Elloumi 2010), over the usable sites and kept pairs.

The formulation is stated in :mod:`allocator.location`; :func:`radius_model` builds it for the
sites and pairs the Lagrangian stage of :mod:`allocator.location.pmedian` left.
"""

from __future__ import annotations

import numpy as np

from allocator.location.common import LocationModel, Pairs
from allocator.solver import ModelBuilder


def radius_model(pairs: Pairs, w, p, usable, forced=None, pair_keep=None) -> LocationModel | None:
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
    zk = np.arange(zl.size)
    b = ModelBuilder()
    y = b.add_columns(
        "y",
        m_use,
        lower=0.0 if forced is None else forced[site_ids],
        upper=1.0,
        integer=True,
    )
    z = b.add_columns(
        "z", zl.size, cost=w[level_client[zl]] * (level_value[zl + 1] - level_value[zl]), upper=1.0
    )
    # level k of client i: z_ik - z_i,k-1 + (its sites at that cost) >= 1 for the first, else 0
    z_terms = (
        np.concatenate([zl, zl + 1]),
        np.concatenate([zk, zk]),
        np.repeat([1.0, -1.0], zl.size),
    )
    b.add_rows(
        "cover", n_levels, {y: (level, sj, 1.0), z: z_terms}, lower=np.where(first, 1.0, 0.0)
    )
    b.add_rows("p", 1, {y: (0, np.arange(m_use), 1.0)}, lower=float(p), upper=float(p))
    offset = float(np.dot(w[level_client[first]], level_value[first]))
    model = b.build(offset=offset)

    def start(open_sites):
        x = np.zeros(model.shape[1])
        x[y.index(col_of[open_sites])] = 1.0
        is_open = model.column_values(x, "y") > 0.5
        covered = np.zeros(n_levels)
        np.maximum.at(covered, level, is_open[sj].astype(float))
        reached = segment_cummax(covered, first)
        x[z.index(zk)] = 1.0 - reached[zl]
        return x

    return LocationModel(model, start, site_ids)


def segment_cummax(values: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` in [0, 1], restarting at each ``segment_start``."""
    seg = np.cumsum(segment_start) - 1
    shifted = values + 2.0 * seg
    return np.maximum.accumulate(shifted) - 2.0 * seg
