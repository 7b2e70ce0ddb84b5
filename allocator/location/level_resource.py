"""A second resource in the levelled location model (:mod:`allocator.location.levels`): units
of it that serving demand uses, some free at each level, the rest bought at a price per unit, and
an optional most at each level.

Sets and data (besides those of :mod:`allocator.location.levels`)
    w_ij >= 0 units of the resource used per unit of client i's demand served at site j (on the
    allowed pairs); A_l >= 0 units free at level l (e.g. what a facility holds already); p >= 0
    the price of a unit beyond them; K_l >= 0 (optional) the most units at level l.
Variables
    r_j >= 0 units bought at site j.
Objective
    adds p sum_j r_j.
Constraints
    bought: r_j >= sum_i w_ij x_ij - sum_{l at j} A_l y_l (with r_j >= 0 and p >= 0 an optimum
    buys exactly max(0, use - allowance of the chosen level) at each site);
    resource capacity: sum_i w_ij x_ij <= sum_{l at j} K_l y_l, when K is given.

The budget (``budget`` of :func:`~allocator.location.levels.levelled_location`) bounds the fixed
costs only; the units bought are priced in the objective.

Examples
--------
>>> import numpy as np
>>> res = SiteResource(use=np.array([[1.0, 0.5]]), allowance=[2.0, 0.0], price=10.0)
>>> res.price, res.allowance.tolist(), res.capacity is None
(10.0, [2.0, 0.0], True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocator.errors import InputError, SolverError
from allocator.location.common import as_vector

__all__ = ["SiteResource", "CheckedResource", "checked_resource", "add_resource_rows",
           "resource_bought"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class SiteResource:
    """A resource serving demand uses, free up to an allowance per level, bought beyond it.

    Attributes
    ----------
    use : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        Units used per unit of demand served on each pair (dense or sparse like
        ``service_cost``; a pair that is not stored or not allowed uses none; ``inf`` is refused).
    allowance : array_like, one per level
        Units free when the level is chosen (>= 0).
    price : float
        Price of a unit beyond the allowance (>= 0).
    capacity : array_like, one per level, optional
        Most units the site may use when the level is chosen (None: no limit).

    Examples
    --------
    >>> r = SiteResource(use=[[1.0]], allowance=[0.0], price=2.0, capacity=[5.0])
    >>> r.capacity.tolist()
    [5.0]
    """

    use: object
    allowance: np.ndarray
    price: float
    capacity: np.ndarray | None = None

    def __post_init__(self):
        price = float(self.price)
        if not math.isfinite(price) or price < 0:
            raise InputError(f"resource price = {self.price!r}; expected a finite number >= 0")
        object.__setattr__(self, "price", price)
        for name in ("allowance", "capacity"):
            value = getattr(self, name)
            if value is None:
                continue
            arr = np.array(value, dtype=float)
            if arr.ndim > 1:
                raise InputError(f"resource {name} must be one number per level, got {arr.shape}")
            bad = ~np.isfinite(arr) | (arr < 0)
            if bad.any():
                j = int(np.flatnonzero(bad.ravel())[0])
                raise InputError(
                    f"resource {name}[{j}] = {arr.ravel()[j]}; expected a finite number >= 0"
                )
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)


@dataclass(frozen=True, eq=False)
class CheckedResource:
    """A :class:`SiteResource` read on a problem's allowed pairs and levels: ``use`` per pair,
    ``allowance`` and ``capacity`` (or None) per level, ``price``."""

    use: np.ndarray
    allowance: np.ndarray
    price: float
    capacity: np.ndarray | None


def checked_resource(resource, pairs, n_levels: int) -> CheckedResource | None:
    """``resource`` checked against the problem's pairs and levels (None stays None)."""
    if resource is None:
        return None
    if not isinstance(resource, SiteResource):
        raise InputError(f"resource must be a SiteResource, got {type(resource).__name__}")
    shape = (pairs.n_clients, pairs.n_sites)
    if sp.issparse(resource.use):
        use = sp.csr_matrix(resource.use, dtype=float)
        if use.shape != shape:
            raise InputError(f"resource use has shape {use.shape}; expected {shape}")
        use.sum_duplicates()
        on_pairs = np.asarray(use[pairs.clients, pairs.sites], dtype=float).ravel()
    else:
        arr = np.asarray(resource.use, dtype=float)
        if arr.shape != shape:
            raise InputError(f"resource use has shape {arr.shape}; expected {shape}")
        on_pairs = arr[pairs.clients, pairs.sites]
    bad = ~np.isfinite(on_pairs) | (on_pairs < 0)
    if bad.any():
        p = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"resource use[{pairs.clients[p]}, {pairs.sites[p]}] = {on_pairs[p]}, an allowed "
            "pair; expected a finite number >= 0"
        )
    allowance = as_vector(resource.allowance, n_levels, "resource allowance")
    capacity = resource.capacity
    if capacity is not None:
        capacity = as_vector(capacity, n_levels, "resource capacity")
    return CheckedResource(on_pairs, allowance, resource.price, capacity)


def add_resource_rows(b, pairs, levels, res: CheckedResource, x, y) -> dict:
    """Add r_j, the rows "bought" and (with a capacity) "resource capacity" to the model
    builder ``b`` (``x``, ``y``: the pair and level blocks); returns ``{"r": block}``."""
    m, k = pairs.n_sites, pairs.cost.size
    site, level = np.arange(m), np.arange(levels.n_levels)
    r = b.add_columns("r", m, cost=res.price)
    use = (pairs.sites, np.arange(k), res.use)
    b.add_rows(
        "bought",
        m,
        {x: use, r: (site, site, -1.0), y: (levels.site, level, -res.allowance)},
        upper=0.0,
    )
    if res.capacity is not None:
        b.add_rows(
            "resource_capacity", m, {x: use, y: (levels.site, level, -res.capacity)}, upper=0.0
        )
    return {"r": r}


def resource_bought(pairs, levels, res: CheckedResource, chosen, flow, tol) -> np.ndarray:
    """Units bought per site by a plan (``chosen`` levels, ``flow`` per pair), recomputed;
    raises SolverError when a site uses more than its chosen level's resource capacity."""
    m = pairs.n_sites
    used = np.bincount(pairs.sites, weights=res.use * flow, minlength=m)
    free = np.zeros(m)
    np.add.at(free, levels.site[chosen], res.allowance[chosen])
    if res.capacity is not None:
        most = np.zeros(m)
        np.add.at(most, levels.site[chosen], res.capacity[chosen])
        over = used - most - np.array([tol(v) for v in most])
        if (over > 0).any():
            j = int(np.argmax(over))
            raise SolverError(
                f"the plan uses {used[j]:g} units of the resource at site {j}, over its "
                f"capacity {most[j]:g}"
            )
    bought = np.maximum(used - free, 0.0)
    bought[bought < 1e-9] = 0.0
    return bought
