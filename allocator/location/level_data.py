"""The data of a levelled location problem (:mod:`allocator.location.levels`): the levels sites
can take, the problem checked before a model is built (bad input refused with what was expected,
cheap certificates of infeasibility with their numbers) and a plan recomputed against every row
afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.frozen import FrozenMap
from allocator.location.common import allowed_pairs, as_vector, site_indices
from allocator.location.level_resource import checked_resource, resource_bought
from allocator.solver import SolveInfo

__all__ = [
    "SiteLevels",
    "LevelResult",
    "LevelData",
    "checked_level_data",
    "certify_possible",
    "evaluated_plan",
    "TOLERANCE",
]

#: Tolerance of the checks a plan passes (units of demand or money, relative to their size).
TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class SiteLevels:
    """The levels sites can take: one row per level.

    Attributes
    ----------
    site : numpy.ndarray of int
        The site of each level.
    cost : numpy.ndarray
        Fixed cost of choosing the level (>= 0).
    capacity : numpy.ndarray
        The site's capacity when the level is chosen (>= 0, finite).
    tags : mapping
        Tag -> bool array (the levels carrying it).

    Examples
    --------
    >>> lv = SiteLevels(site=[0, 1, 1], cost=[0, 5, 9], capacity=[4, 6, 12])
    >>> lv.n_levels, lv.largest_capacity(2).tolist()
    (3, [4.0, 12.0])
    """

    site: np.ndarray
    cost: np.ndarray
    capacity: np.ndarray
    tags: Mapping = field(default_factory=FrozenMap)

    def __post_init__(self):
        site = np.asarray(self.site)
        if site.ndim != 1 or (site.size and not np.issubdtype(site.dtype, np.integer)):
            raise InputError(f"levels' site must be a 1-d array of site indices, got {site!r}")
        k = site.size
        cost = as_vector(self.cost, k, "levels' cost")
        capacity = as_vector(self.capacity, k, "levels' capacity")
        for name, arr in (("cost", cost), ("capacity", capacity)):
            bad = ~np.isfinite(arr) | (arr < 0)
            if bad.any():
                j = int(np.flatnonzero(bad)[0])
                raise InputError(f"levels' {name}[{j}] = {arr[j]}; expected a finite number >= 0")
        tags = {}
        for tag, mask in dict(self.tags).items():
            arr = np.asarray(mask, dtype=bool)
            if arr.shape != (k,):
                raise InputError(f"tag {tag!r} must mark each of the {k} levels, got {arr.shape}")
            arr.setflags(write=False)
            tags[str(tag)] = arr
        for name, arr in (("site", site.astype(np.int64)), ("cost", cost), ("capacity", capacity)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "tags", FrozenMap(tags))

    @property
    def n_levels(self) -> int:
        """Number of levels."""
        return int(self.site.size)

    def largest_capacity(self, n_sites: int, tag: str | None = None) -> np.ndarray:
        """Each site's largest capacity over its levels (carrying ``tag`` if given; 0 if none)."""
        out = np.zeros(n_sites)
        keep = np.ones(self.n_levels, bool) if tag is None else self.tags[tag]
        np.maximum.at(out, self.site[keep], self.capacity[keep])
        return out


@dataclass(frozen=True, eq=False)
class LevelResult:
    """A levelled location plan.

    Attributes
    ----------
    objective : float
        Fixed plus service cost (plus the resource bought, with a resource), recomputed from the
        plan.
    levels : numpy.ndarray of int
        Sorted indices of the chosen levels.
    flows : scipy.sparse.csr_matrix
        Clients x sites: units of each client's demand served by each site.
    served : numpy.ndarray
        Units served per client.
    fixed_cost, service_cost : float
        The two parts of ``objective``.
    tag_loads : mapping
        Tag -> the load counting for it (sum over sites whose chosen level carries the tag).
    info : SolveInfo
        Status, gap and time of the solve (both stages in budget mode).
    resource_bought : numpy.ndarray or None
        With a resource (:class:`~allocator.location.level_resource.SiteResource`): units bought
        per site, recomputed from the plan (None without one).
    resource_cost : float
        Their price (0 without a resource).
    """

    objective: float
    levels: np.ndarray
    flows: sp.csr_matrix
    served: np.ndarray
    fixed_cost: float
    service_cost: float
    tag_loads: Mapping
    info: SolveInfo
    resource_bought: np.ndarray | None = None
    resource_cost: float = 0.0

    @property
    def total_served(self) -> float:
        """Units of demand served in all."""
        return float(self.served.sum())


@dataclass(frozen=True)
class LevelData:
    """A levelled location problem, checked: its pairs, demand, least demand served per client,
    levels, required sites, coverage share, tag shares, budget and resource (or None)."""

    pairs: object
    d: np.ndarray
    least: np.ndarray
    levels: SiteLevels
    required: np.ndarray
    min_share: float
    shares: Mapping
    budget: float | None
    resource: object = None

    @property
    def reach(self) -> np.ndarray:
        """Per site: the demand allowed to reach it (no plan loads a site beyond this)."""
        p = self.pairs
        return np.bincount(p.sites, weights=self.d[p.clients], minlength=p.n_sites)

    @property
    def usable(self) -> np.ndarray:
        """Per level: its capacity as the capacity rows count it, at most the demand allowed to
        reach its site (valid for every plan, and tighter)."""
        return np.minimum(self.levels.capacity, self.reach[self.levels.site])


def checked_level_data(
    service_cost,
    demand,
    levels,
    required_sites,
    min_served,
    min_share,
    tag_shares,
    budget,
    resource=None,
) -> LevelData:
    pairs = allowed_pairs(service_cost, "service_cost")
    n, m = pairs.n_clients, pairs.n_sites
    if not isinstance(levels, SiteLevels):
        raise InputError(f"levels must be a SiteLevels, got {type(levels).__name__}")
    if levels.n_levels and (levels.site.min() < 0 or levels.site.max() >= m):
        bad = levels.site[(levels.site < 0) | (levels.site >= m)][0]
        raise InputError(f"a level belongs to site {bad}; expected sites 0..{m - 1}")
    d = as_vector(demand, n, "demand")
    least = as_vector(min_served, n, "min_served", default=0.0)
    for name, arr in (("demand", d), ("min_served", least)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{name}[{i}] = {arr[i]}; expected a finite number >= 0")
    over = least > d * (1 + 1e-12)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InputError(f"min_served[{i}] = {least[i]:g} exceeds demand[{i}] = {d[i]:g}")
    if (pairs.cost < 0).any():
        raise InputError("service_cost must be >= 0 on every allowed pair")
    shares = {}
    for tag, share in dict(tag_shares or {}).items():
        if tag not in levels.tags:
            raise InputError(f"tag_shares names {tag!r}; the levels carry {sorted(levels.tags)}")
        shares[str(tag)] = _share(share, f"tag_shares[{tag!r}]")
    if budget is not None and (not math.isfinite(float(budget)) or float(budget) < 0):
        raise InputError(f"budget = {budget!r}; expected a finite number >= 0")
    required = site_indices(required_sites, m, "required_sites")
    has_level = np.zeros(m, bool)
    has_level[levels.site] = True
    if required.size and not has_level[required].all():
        j = int(required[~has_level[required]][0])
        raise InputError(f"required site {j} has no level to take")
    return LevelData(
        pairs,
        d,
        least,
        levels,
        required,
        _share(min_share, "min_share"),
        FrozenMap(shares),
        None if budget is None else float(budget),
        checked_resource(resource, pairs, levels.n_levels),
    )


def _share(value, name) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InputError(f"{name} = {value!r}; expected a share from 0 to 1")
    return v


def certify_possible(data: LevelData) -> None:
    """Raise Infeasible with numbers when a simple count shows that no plan exists."""
    pairs, d, lv = data.pairs, data.d, data.levels
    m = pairs.n_sites
    cap = lv.largest_capacity(m)
    reach = np.zeros(pairs.n_clients, bool)
    usable = cap[pairs.sites] > 0
    reach[pairs.clients[usable]] = True
    lonely = (~reach) & (data.least > 0)
    if lonely.any():
        i = int(np.flatnonzero(lonely)[0])
        raise Infeasible(
            f"client {i} must have {data.least[i]:g} served but no site with "
            "capacity is allowed for it",
            {"demand": float(data.least[lonely].sum())},
        )
    need = max(data.min_share * float(d.sum()), float(data.least.sum()))
    reachable = float(d[reach].sum())
    if need > reachable * (1 + 1e-9) + 1e-9:
        raise Infeasible(
            f"{need:g} units of demand must be served but only {reachable:g} of "
            f"{float(d.sum()):g} can reach a site",
            {"coverage": need - reachable},
        )
    most = float(cap.sum())
    if need > most * (1 + 1e-9) + 1e-9:
        raise Infeasible(
            f"{need:g} units of demand must be served but the largest levels of all "
            f"sites hold {most:g}",
            {"capacity": need - most},
        )
    for tag, share in data.shares.items():
        tagged = float(lv.largest_capacity(m, tag).sum())
        if share * need > tagged * (1 + 1e-9) + 1e-9:
            raise Infeasible(
                f"{share:.0%} of the {need:g} units served must be at sites tagged "
                f"{tag!r}, {share * need:g} units, but the tagged levels hold at "
                f"most {tagged:g}",
                {f"tag_share {tag}": share * need - tagged},
            )
    if data.budget is not None and data.required.size:
        cheapest = np.full(m, np.inf)
        np.minimum.at(cheapest, lv.site, lv.cost)
        floor = float(cheapest[data.required].sum())
        if floor > data.budget * (1 + 1e-12) + 1e-9:
            raise Infeasible(
                f"the required sites' cheapest levels cost {floor:g}, over the "
                f"budget {data.budget:g}",
                {"budget": floor - data.budget},
            )


def evaluated_plan(data: LevelData, chosen, flow, info, seconds) -> LevelResult:
    """The plan (``chosen`` levels, ``flow`` per allowed pair, as the solver gave them)
    recomputed and checked against every row of the model."""
    pairs, lv = data.pairs, data.levels
    n, m = pairs.n_clients, pairs.n_sites
    chosen = np.sort(np.asarray(chosen, dtype=np.int64))
    flow = np.clip(np.asarray(flow, dtype=float), 0.0, None)
    flow[flow < 1e-9] = 0.0
    ci, sj = pairs.clients, pairs.sites
    served = np.bincount(ci, weights=flow, minlength=n)
    load = np.bincount(sj, weights=flow, minlength=m)
    cap = np.zeros(m)
    np.add.at(cap, lv.site[chosen], lv.capacity[chosen])
    per_site = np.bincount(lv.site[chosen], minlength=m)

    def tol(v):
        return TOLERANCE * max(1.0, abs(float(v)))

    if (per_site > 1).any():
        raise SolverError(
            f"the plan chooses {per_site.max()} levels at site {int(np.argmax(per_site))}"
        )
    if data.required.size and (per_site[data.required] != 1).any():
        raise SolverError("the plan leaves a required site without a level")
    if (load > cap + np.vectorize(tol)(cap)).any():
        j = int(np.argmax(load - cap))
        raise SolverError(f"the plan loads site {j} with {load[j]:g} > capacity {cap[j]:g}")
    if (served > data.d + 1e-6).any() or (served < data.least - 1e-6).any():
        raise SolverError("the plan serves a client outside its demand bounds")
    total = float(served.sum())
    if total < data.min_share * float(data.d.sum()) - tol(total):
        raise SolverError(f"the plan serves {total:g}, below the coverage target")
    tag_loads = {}
    for g in lv.tags:
        on = np.zeros(m, bool)
        on[lv.site[chosen[lv.tags[g][chosen]]]] = True
        tag_loads[g] = float(load[on].sum())
        if g in data.shares and tag_loads[g] < data.shares[g] * total - tol(total):
            raise SolverError(
                f"the plan serves {tag_loads[g]:g} at {g!r} sites, below "
                f"{data.shares[g]:.0%} of {total:g}"
            )
    fixed = float(lv.cost[chosen].sum())
    if data.budget is not None and fixed > data.budget + tol(data.budget):
        raise SolverError(f"the plan spends {fixed:g}, over the budget {data.budget:g}")
    service = float(np.dot(pairs.cost, flow))
    bought, bought_cost = None, 0.0
    if data.resource is not None:
        bought = resource_bought(pairs, lv, data.resource, chosen, flow, tol)
        bought_cost = data.resource.price * float(bought.sum())
    objective = fixed + service + bought_cost
    if info.objective is not None and not math.isclose(
        objective, info.objective, rel_tol=1e-6, abs_tol=1e-6
    ):
        raise SolverError(
            f"recomputed cost {objective!r} differs from the solver's {info.objective!r}"
        )
    flows = sp.csr_matrix((flow, (ci, sj)), shape=(n, m))
    flows.eliminate_zeros()
    info = SolveInfo(info.status, objective, info.bound, info.gap, seconds, info.solver)
    return LevelResult(objective, chosen, flows, served, fixed, service, FrozenMap(tag_loads), info,
                       bought, bought_cost)  # fmt: skip
