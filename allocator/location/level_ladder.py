"""Sites whose levels climb in equal steps, modelled with one whole-number column each.

A site's levels form a *ladder* when they all carry the same tags and, sorted by capacity, the
k-th costs f0 + k F and holds c0 + k S places: an existing facility (step 0 is its level as it
is) expanded by whole modules, or a new facility of 1, 2, ... modules (step 0 is "closed",
c0 = f0 = 0). :mod:`allocator.location.levels` then models the site with one integer column
z (the steps taken) instead of one binary per level:

    capacity: L <= c0 + S z;
    reach:    L <= D - r (k - z), where D is the demand allowed to reach the site,
              k = ceil((D - c0) / S) the fewest steps whose capacity holds D, and
              r = D - (c0 + S (k - 1)) what the last of them adds within D;
    steps:    0 <= z <= min(K, k), K the ladder's top step (steps beyond k add no usable place).

The two rows are the convex hull of the site's plans {(L, z): L <= min(c0 + S z, D), z whole}:
the relaxation is exactly that of the binary levels (each capped at D), but a branch on z
(z <= 2 or z >= 3) splits the site's plans in two, where a branch on one level's binary hardly
moves the relaxation. On a city's preschool model (5,000 communities, 1,188 new sites of up to
8 modules, 692 kindergartens that may expand) this took the proof of the 1,000-community model
from 168 s to 14 s.

Examples
--------
Site 0 may close and takes 1 to 3 modules of 30 places at 9 a module; site 1 exists (20 places)
and may add one step of 25 places for 6; site 2's two levels differ in their tags.

>>> import numpy as np
>>> from allocator.location.level_data import SiteLevels
>>> lv = SiteLevels(site=[0, 0, 0, 1, 1, 2, 2], cost=[9, 18, 27, 0, 6, 0, 4],
...                 capacity=[30, 60, 90, 20, 45, 10, 10],
...                 tags={"public": [1, 1, 1, 0, 0, 0, 1]})
>>> ladders = find_ladders(lv, required=np.array([1, 2]), reach=np.array([70.0, 40.0, 10.0]))
>>> ladders.site.tolist(), ladders.step.tolist(), ladders.top.tolist()
([0, 1], [30.0, 25.0], [3, 1])
>>> ladders.cut_slope.tolist(), ladders.cut_rhs.tolist()  # L <= 40 + 10 z; L <= 20 + 20 z
([10.0, 20.0], [40.0, 20.0])
>>> chosen_levels(ladders, np.array([2.0, 0.0])).tolist()  # two modules at site 0; site 1 as is
[1, 3]
>>> steps_taken(ladders, np.array([0, 1, 0, 0, 1, 0, 0], float)).tolist()
[2.0, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Ladders",
    "find_ladders",
    "no_ladders",
    "chosen_levels",
    "steps_taken",
    "ladder_classes",
]


@dataclass(frozen=True)
class Ladders:
    """The ladder sites of a levelled problem, one entry per ladder.

    Attributes
    ----------
    site : numpy.ndarray of int
        The ladder's site.
    base, base_cost : numpy.ndarray
        Capacity and cost at step 0 (0 and 0 for a site that may close: step 0 is closed).
    step, step_cost : numpy.ndarray
        Capacity and cost each step adds.
    top : numpy.ndarray of int
        The most steps worth taking (the ladder's top, or fewer when fewer hold the site's reach).
    usable_base : numpy.ndarray
        Step 0's capacity within the site's reach.
    cut_slope, cut_rhs : numpy.ndarray
        The reach row L - cut_slope z <= cut_rhs (slope 0: the ladder's top holds less than the
        reach, and the capacity row is the site's hull by itself).
    rung : numpy.ndarray of int, shape (n_ladders, most steps + 1)
        The level at each step (-1: none; step 0 of a site that may close).
    tags : mapping
        Tag -> bool per ladder (every level of a ladder carries the same tags).
    on_ladder : numpy.ndarray of bool
        Per level: it belongs to a ladder.
    """

    site: np.ndarray
    base: np.ndarray
    base_cost: np.ndarray
    step: np.ndarray
    step_cost: np.ndarray
    top: np.ndarray
    usable_base: np.ndarray
    cut_slope: np.ndarray
    cut_rhs: np.ndarray
    rung: np.ndarray
    tags: Mapping
    on_ladder: np.ndarray

    @property
    def size(self) -> int:
        """The number of ladders."""
        return int(self.site.size)


def find_ladders(levels, required, reach) -> Ladders:
    """The ladders among ``levels`` (a :class:`~allocator.location.level_data.SiteLevels`).

    A required site's ladder needs at least two levels (as is, and one step); a site that may
    close needs at least two (one module and two): with one level its binary is its ladder.
    ``reach`` is the demand allowed to reach each site.
    """
    required = np.asarray(required, dtype=np.int64)
    must = np.zeros(reach.size, bool)
    must[required] = True
    order = np.lexsort((levels.capacity, levels.site))
    sites, first = np.unique(levels.site[order], return_index=True)
    bounds = np.append(first, order.size)
    found = []
    for j, a, b in zip(sites, bounds[:-1], bounds[1:], strict=True):
        rung = order[a:b]
        if rung.size < 2 or not all(len(set(mask[rung])) == 1 for mask in levels.tags.values()):
            continue
        ladder = _ladder(int(j), rung, levels, bool(must[j]), float(reach[j]))
        if ladder is not None:
            found.append(ladder)
    on = np.zeros(levels.n_levels, bool)
    width = max((len(f["rung"]) for f in found), default=1)
    rung = np.full((len(found), width), -1, dtype=np.int64)
    for i, f in enumerate(found):
        rung[i, : len(f["rung"])] = f["rung"]
        on[[r for r in f["rung"] if r >= 0]] = True

    def column(key, dtype=float):
        return np.array([f[key] for f in found], dtype=dtype)

    any_level = np.array([f["rung"][-1] for f in found], dtype=np.int64)
    return Ladders(
        site=column("site", np.int64),
        base=column("base"),
        base_cost=column("base_cost"),
        step=column("step"),
        step_cost=column("step_cost"),
        top=column("top", np.int64),
        usable_base=column("usable_base"),
        cut_slope=column("cut_slope"),
        cut_rhs=column("cut_rhs"),
        rung=rung,
        tags={g: mask[any_level] for g, mask in levels.tags.items()},
        on_ladder=on,
    )


def _ladder(j, rung, levels, required, reach):
    """One ladder's figures, or None when the site's levels do not climb in equal steps."""
    cap, cost = levels.capacity[rung], levels.cost[rung]
    if required:
        base, base_cost, q = cap[0], cost[0], np.arange(rung.size)
        steps = list(rung)
    else:
        base, base_cost, q = 0.0, 0.0, np.arange(1, rung.size + 1)
        steps = [-1, *rung]
    top = int(q[-1])
    step, step_cost = (cap[-1] - base) / top, (cost[-1] - base_cost) / top
    close = dict(rtol=1e-9, atol=1e-9)
    if not (
        step > 0
        and np.allclose(cap, base + step * q, **close)
        and np.allclose(cost, base_cost + step_cost * q, **close)
    ):
        return None
    holds = max(0, math.ceil((reach - base) / step - 1e-9))  # fewest steps holding the reach
    slope, rhs = 0.0, 0.0
    if 1 <= holds <= top:
        slope = reach - (base + step * (holds - 1))
        rhs = reach - slope * holds
    return {
        "site": j, "base": base, "base_cost": base_cost, "step": step, "step_cost": step_cost,
        "top": min(top, holds), "usable_base": min(base, reach), "cut_slope": slope,
        "cut_rhs": rhs, "rung": steps,
    }  # fmt: skip


def chosen_levels(ladders: Ladders, steps) -> np.ndarray:
    """The level each ladder stands on with ``steps`` taken (whole numbers, rounded at the
    nearest), a site that may close and takes no step having none."""
    taken = np.clip(np.floor(np.asarray(steps, float) + 0.5).astype(np.int64), 0, None)
    taken = np.minimum(taken, ladders.rung.shape[1] - 1)
    level = ladders.rung[np.arange(ladders.size), taken]
    return level[level >= 0]


def steps_taken(ladders: Ladders, level_values) -> np.ndarray:
    """Per ladder: the steps of the level chosen in ``level_values`` (one value per level,
    chosen at 0.5 or more); 0 when none is chosen."""
    chosen = np.asarray(level_values, float) >= 0.5
    out = np.zeros(ladders.size)
    for q in range(ladders.rung.shape[1]):
        level = ladders.rung[:, q]
        hit = (level >= 0) & chosen[np.maximum(level, 0)]
        out[hit] = q
    return out


def ladder_classes(ladders: Ladders) -> tuple[np.ndarray, np.ndarray]:
    """(class of each ladder, one ladder of each class): ladders with the same step, step cost
    and tags form a class, numbered in the sorted order of those figures.

    :mod:`allocator.location.levels` gives each class a whole-number column n = sum of its
    ladders' z (the steps the class takes) and its aggregate rows read S n: the solver then
    branches on a class's total (n <= 960 or n >= 961 modules of expansion), which the
    relaxation cannot dodge by moving a fraction of a step to another site of the class.

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location.level_data import SiteLevels
    >>> lv = SiteLevels(site=[0, 0, 1, 1, 2, 2], cost=[9, 18, 9, 18, 0, 6],
    ...                 capacity=[30, 60, 30, 60, 20, 45])
    >>> ladders = find_ladders(lv, required=np.array([2]), reach=np.array([99.0, 99.0, 99.0]))
    >>> cls, first = ladder_classes(ladders)
    >>> cls.tolist(), first.tolist()
    ([1, 1, 0], [2, 0])
    """
    if not ladders.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    tags = [ladders.tags[g].astype(float) for g in sorted(ladders.tags)]
    key = np.column_stack([ladders.step, ladders.step_cost, *tags])
    _, first, cls = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return cls.reshape(-1).astype(np.int64), first.astype(np.int64)


def no_ladders(levels) -> Ladders:
    """No ladder among ``levels`` (every level keeps its binary)."""
    empty, none = np.zeros(0), np.zeros(0, dtype=np.int64)
    return Ladders(
        site=none, base=empty, base_cost=empty, step=empty, step_cost=empty, top=none,
        usable_base=empty, cut_slope=empty, cut_rhs=empty, rung=np.zeros((0, 1), np.int64),
        tags={g: np.zeros(0, bool) for g in levels.tags},
        on_ladder=np.zeros(levels.n_levels, bool),
    )  # fmt: skip
