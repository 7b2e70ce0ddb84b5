"""The radius model of p-median (Elloumi 2010), over the usable sites and kept pairs.

The formulation is stated in :mod:`allocator.location`; :func:`radius_model` builds it for the
sites and pairs the Lagrangian stage of :mod:`allocator.location.pmedian` left.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from allocator.location.common import LocationModel, Pairs


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
        reached = segment_cummax(covered, first)
        x[z_col[zl]] = 1.0 - reached[zl]
        return x

    col_lower = np.zeros(n_cols)
    if forced is not None:
        col_lower[:m_use] = forced[site_ids]
    return LocationModel(
        c, A, rl, ru, col_lower, np.ones(n_cols), integ, offset, groups, start, site_ids
    )


def segment_cummax(values: np.ndarray, segment_start: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` in [0, 1], restarting at each ``segment_start``."""
    seg = np.cumsum(segment_start) - 1
    shifted = values + 2.0 * seg
    return np.maximum.accumulate(shifted) - 2.0 * seg
