"""Safe reductions of a levelled location model (:mod:`allocator.location.levels`).

A level l is *dominated* by a level l' of the same site when l' costs no more, holds at least as
much of the demand that can reach the site (``min(capacity, D_j)``, D_j the demand allowed at j:
no plan loads j beyond D_j) and carries every tag l carries. Any plan choosing l stays feasible
with l' instead (the capacity row and every tagged-capacity row only loosen, since tag shares are
lower bounds, and the budget row too) and costs no more, so removing l keeps an optimum. Equal
levels keep the first. Many levels of a city's preschool model fall this way: a 24-class
kindergarten on land that only 500 children can reach is no better than a 18-class one.

Examples
--------
>>> import numpy as np
>>> from allocator.location.levels import SiteLevels
>>> lv = SiteLevels(site=[0, 0, 0, 1], cost=[0, 5, 9, 4], capacity=[4, 8, 12, 6],
...                 tags={"public": [False, True, True, True]})
>>> undominated(lv, np.array([8.0, 6.0])).tolist()
[0, 1, 3]
"""

from __future__ import annotations

import numpy as np

__all__ = ["undominated"]


def undominated(levels, reach: np.ndarray) -> np.ndarray:
    """Indices (sorted) of the levels no other level of their site dominates.

    Parameters
    ----------
    levels : SiteLevels
    reach : numpy.ndarray
        Per site, the demand allowed to reach it (D_j).

    Returns
    -------
    numpy.ndarray of int
    """
    k = levels.n_levels
    if k == 0:
        return np.arange(0)
    usable = np.minimum(levels.capacity, np.asarray(reach, float)[levels.site])
    tags = (
        np.column_stack([np.asarray(v, bool) for v in levels.tags.values()])
        if levels.tags
        else np.zeros((k, 0), bool)
    )
    order = np.argsort(levels.site, kind="stable")
    count = np.bincount(levels.site)
    count = count[count > 0]
    # every ordered pair (a, b) of distinct levels of one site: does b dominate a?
    group = np.repeat(np.arange(count.size), count)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    size = count[group]
    a = np.repeat(order, size)
    b = order[np.repeat(start[group], size) + _ranges(size)]
    keep_pair = a != b
    a, b = a[keep_pair], b[keep_pair]
    no_worse = (
        (levels.cost[b] <= levels.cost[a])
        & (usable[b] >= usable[a])
        & (tags[b] | ~tags[a]).all(axis=1)
    )
    strictly = (
        (levels.cost[b] < levels.cost[a])
        | (usable[b] > usable[a])
        | (tags[b] & ~tags[a]).any(axis=1)
        | (b < a)
    )
    dominated = np.zeros(k, bool)
    dominated[a[no_worse & strictly]] = True
    return np.flatnonzero(~dominated)


def _ranges(size: np.ndarray) -> np.ndarray:
    """0..s-1 for each s in ``size``, concatenated."""
    total = int(size.sum())
    return np.arange(total) - np.repeat(np.cumsum(size) - size, size)
