"""The senior model on the location core (:func:`allocator.location.levelled_location`), one
county at a time (a campus serves only its own county's pupils, so the counties are separate).

Per county: clients are its settlements (demand: their whole share of the places needed, every
one of them placed), sites its senior schools (required: they stay open) and candidate sites,
levels what a site can become (see :mod:`allocator.planners.senior`), a pair is allowed within
``boarding.max_km`` by road at ``yuan_per_pupil_km`` per pupil-km (:func:`pair_costs`); boarding
places are the core's second resource (:func:`boarding_resource`): the place each pupil needs at
a campus, free up to the places the campus holds already, ``costs.boarding_yuan_per_place`` each
beyond them. Tags ``general`` and
``vocational`` carry the 普职比 band: general pupils >= ``general_min`` and vocational pupils >=
``vocational_min`` (so general pupils <= ``general_max``, as every one of the needed places is
filled).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible
from allocator.location import LevelResult, SiteLevels, SiteResource, levelled_location
from allocator.planners.senior.data import SeniorData
from allocator.planners.senior.policy import SeniorPolicy
from allocator.solver import SolverOptions
from allocator.text import plural

__all__ = [
    "CountyModel",
    "county_model",
    "solve_county",
    "explain_county",
    "pair_costs",
    "boarding_use",
    "boarding_resource",
    "boarding_limits",
]


def pair_costs(km: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    """Yuan per pupil of each allowed pair: ``weight`` per km (the boarding place the pupil
    needs there is the model's second resource, :func:`boarding_resource`).

    Examples
    --------
    >>> km = sp.csr_matrix(np.array([[10.0, 20.0]]))
    >>> pair_costs(km, 1.5).toarray().tolist()
    [[15.0, 30.0]]
    """
    cost = km.copy().astype(float)
    cost.data = cost.data * weight
    return cost


def boarding_use(km: sp.csr_matrix, norms) -> sp.csr_matrix:
    """Boarding places per pupil of each allowed pair: a whole place beyond
    ``boarding.daily_km``, ``boarding.share`` of one within it (same pairs as ``km``).

    Examples
    --------
    >>> from allocator.standards.senior import load_senior_standard
    >>> km = sp.csr_matrix(np.array([[10.0, 20.0]]))
    >>> boarding_use(km, load_senior_standard()).toarray().tolist()
    [[0.7, 1.0]]
    """
    daily = float(norms.value("boarding.daily_km"))
    share = float(norms.value("boarding.share"))
    use = km.copy().astype(float)
    use.data = np.where(use.data > daily + 1e-9, 1.0, share)
    return use


def boarding_limits(data: SeniorData) -> np.ndarray:
    """Each site's ``boarding_capacity`` (NaN: no limit, also when the column is absent)."""
    limits = data.sites.get("boarding_capacity")
    return np.full(len(data.sites), np.nan) if limits is None else limits.to_numpy(float)


def boarding_resource(data: SeniorData, km: sp.csr_matrix, level_rows) -> SiteResource:
    """Boarding places as the core's second resource for one county (``km`` its settlements x
    sites, ``level_rows`` its rows of ``data.levels``): :func:`boarding_use` per pupil, each
    level's allowance the boarding places its site holds now (a candidate site: 0), each place
    beyond them at ``costs.boarding_yuan_per_place``. Where a school's ``boarding_capacity`` is
    given, its boarders' places stay within it (the resource's capacity; None when the county
    gives no limit: a pupil uses at most one place, so a level's places bound the others).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.senior.data import senior_data
    >>> from allocator.planners.senior.policy import SeniorPolicy
    >>> data = senior_data(make_region(schools=40, seed=3, senior_schools=True), SeniorPolicy())
    >>> county = data.requirements.index[0]
    >>> rows, cols, km, demand, levels, level_rows = county_model(data, county)
    >>> res = boarding_resource(data, km, level_rows)
    >>> res.price, res.allowance.size == levels.n_levels, res.capacity is None
    (25000.0, True, True)
    """
    site = data.levels.loc[level_rows, "site"].to_numpy(np.int64)
    allowance = data.sites["boarding_places"].to_numpy(float)[site]
    price = float(data.norms.value("costs.boarding_yuan_per_place"))
    most = boarding_limits(data)[site]
    capacity = None
    if np.isfinite(most).any():
        places = data.levels.loc[level_rows, "places"].to_numpy(float)
        capacity = np.where(np.isfinite(most), most, places)
    return SiteResource(
        use=boarding_use(km, data.norms), allowance=allowance, price=price, capacity=capacity
    )


class CountyModel(tuple):
    """(settlement rows, site rows, km, demand, SiteLevels, level rows) of one county."""


def county_model(data: SeniorData, county: str) -> CountyModel:
    """The arrays of one county: its rows of the settlements, sites and levels tables."""
    rows = np.flatnonzero((data.settlements["county"] == county).to_numpy())
    cols = np.flatnonzero((data.sites["county"] == county).to_numpy())
    km = data.km[rows][:, cols].tocsr()
    local = np.full(len(data.sites), -1)
    local[cols] = np.arange(cols.size)
    lv = data.levels[np.isin(data.levels["site"].to_numpy(), cols)]
    levels = SiteLevels(
        site=local[lv["site"].to_numpy()].astype(np.int64),
        cost=lv["cost_yuan"].to_numpy(float),
        capacity=lv["places"].to_numpy(float),
        tags={k: (lv["kind"] == k).to_numpy() for k in ("general", "vocational")},
    )
    demand = data.settlements["pupils"].to_numpy(float)[rows]
    return CountyModel((rows, cols, km, demand, levels, lv.index.to_numpy()))


def explain_county(data: SeniorData, county: str) -> None:
    """Raise Infeasible, in the county's numbers, when a count shows its needs cannot be met:
    pupils beyond reach of every site, too few places even with every site at the size limit,
    too few general or vocational places for the band."""
    rows, cols, km, demand, levels, _ = county_model(data, county)
    r = data.requirements.loc[county]
    norms = data.norms
    reach = float(norms.value("boarding.max_km"))
    lonely = (np.diff(km.indptr) == 0) & (demand > 0)
    intro = (
        f"county {county!r} needs {int(r['needed']):,} senior places "
        f"({norms.gross_enrolment_rate:.0%} of {int(r['cohort']):,} junior graduates)"
    )
    m = cols.size
    most = float(levels.largest_capacity(m).sum())
    if most < r["needed"]:
        raise Infeasible(
            f"{intro}, but its schools and candidate sites hold at most {most:,.0f} at the size "
            f"limit of {norms.max_pupils:,} pupils: add candidate sites",
            {f"places {county}": float(r["needed"] - most)},
        )
    if lonely.any():
        raise Infeasible(
            f"{intro}, but {plural(int(demand[lonely].sum()), 'pupil')} in "
            f"{plural(int(lonely.sum()), 'settlement')} have no senior school or candidate site "
            f"within {reach:g} km by road: add candidate sites",
            {f"reach {county}": float(demand[lonely].sum())},
        )
    for kind, need in (("general", r["general_min"]), ("vocational", r["vocational_min"])):
        hold = float(levels.largest_capacity(m, kind).sum())
        if hold < need:
            low, high = norms.general_share_band
            raise Infeasible(
                f"{intro}; the general share band ({low:.0%} to {high:.0%} general) needs at least "
                f"{int(need):,} {kind} places, but its {kind} schools and candidate sites hold at "
                f"most {hold:,.0f}",
                {f"{kind} {county}": float(need - hold)},
            )
    _explain_one_kind_per_site(data, county, intro, levels, cols)


def _explain_one_kind_per_site(data: SeniorData, county: str, intro: str, levels, cols) -> None:
    """Raise Infeasible when the band needs more new general and vocational campuses together
    than the county has candidate sites (a site opens as one kind, not both)."""
    r = data.requirements.loc[county]
    candidate = data.sites["status"].to_numpy()[cols] == "candidate"
    m = cols.size
    sizes = levels.largest_capacity(m)[candidate]
    if not sizes.size:
        return
    size = float(sizes.max())  # every candidate site takes the same sizes
    fixed = {k: float(levels.largest_capacity(m, k)[~candidate].sum()) for k in levels.tags}
    short = {k: max(0.0, float(r[f"{k}_min"]) - fixed[k]) for k in ("general", "vocational")}
    if size <= 0 or not all(v > 0 for v in short.values()):
        return
    sites = {k: math.ceil(round(v / size, 9)) for k, v in short.items()}
    if sites["general"] + sites["vocational"] <= sizes.size:
        return
    low, high = data.norms.general_share_band
    raise Infeasible(
        f"{intro}; the general share band ({low:.0%} to {high:.0%} general) needs at least "
        f"{int(r['general_min']):,} general and {int(r['vocational_min']):,} vocational places; "
        f"its schools hold at most {fixed['general']:,.0f} general and "
        f"{fixed['vocational']:,.0f} vocational places, so it needs "
        f"{plural(sites['general'], 'new general campus', 'new general campuses')} and "
        f"{plural(sites['vocational'], 'new vocational campus', 'new vocational campuses')} "
        f"of at most {size:,.0f} places, but has "
        f"{plural(int(sizes.size), 'candidate site')} (a site opens as general or vocational, "
        "not both): add candidate sites",
        {f"sites {county}": float(sites["general"] + sites["vocational"] - sizes.size)},
    )


def solve_county(
    data: SeniorData, county: str, policy: SeniorPolicy, options: SolverOptions
) -> LevelResult:
    """One county's least-cost plan; an infeasible one is explained with its numbers."""
    explain_county(data, county)
    rows, cols, km, demand, levels, level_rows = county_model(data, county)
    r = data.requirements.loc[county]
    needed = float(r["needed"])
    shares = {"general": 0.0, "vocational": 0.0}
    if needed > 0:
        shares = {"general": r["general_min"] / needed, "vocational": r["vocational_min"] / needed}
    cost = pair_costs(km, policy.yuan_per_pupil_km)
    required = _required(data, cols)
    boarding = boarding_resource(data, km, level_rows)
    try:
        return levelled_location(cost, demand, levels, required_sites=required,
                                 min_served=demand, tag_shares=shares, options=options,
                                 resource=boarding)  # fmt: skip
    except Infeasible as exc:
        free = SiteLevels(site=levels.site, cost=np.zeros(levels.n_levels),
                          capacity=levels.capacity)  # fmt: skip
        most = levelled_location(km, demand, free, budget=0.0, options=options).total_served
        reach = float(data.norms.value("boarding.max_km"))
        limits = boarding_limits(data)[cols]
        over = _boarding_over(limits, cost, demand, levels, required, shares, boarding, options)
        if over is not None:
            why = (
                f"its pupils can be placed within the general share band, but not with the "
                f"boarders within the schools' boarding_capacity: the cheapest plan without the "
                f"limits needs {over[0]:,.0f} boarding places at the schools that have one, "
                f"where the limits allow {over[1]:,.0f}"
            )
        elif most < needed - 1e-6:
            why = (
                f"at most {most:,.0f} of its {needed:,.0f} pupils can be placed within {reach:g} "
                "km (settlements with more pupils than the sites near them can hold)"
            )
        else:
            why = (
                f"{needed:,.0f} pupils can be placed within {reach:g} km, but not within the "
                f"general share band (at least {int(r['general_min']):,} general and "
                f"{int(r['vocational_min']):,} vocational pupils)"
            )
        raise Infeasible(f"county {county!r}: no senior plan meets the targets: {why}",
                         exc.violations) from None  # fmt: skip


def _boarding_over(limits, cost, demand, levels, required, shares, boarding, options):
    """(boarding places needed, places allowed) at the schools with a limit (``limits``: each
    site's ``boarding_capacity``, NaN for none) in the cheapest plan without the limits, when
    one exists; None when there are no limits or no such plan."""
    limited = np.isfinite(limits)
    if not limited.any():
        return None
    unlimited = SiteResource(use=boarding.use, allowance=boarding.allowance, price=boarding.price)
    try:
        r = levelled_location(cost, demand, levels, required_sites=required, min_served=demand,
                              tag_shares=shares, options=options, resource=unlimited)  # fmt: skip
    except Infeasible:
        return None
    need = np.asarray(sp.csr_matrix(boarding.use).multiply(r.flows).sum(axis=0)).ravel()
    return float(np.ceil(need[limited] - 1e-6).sum()), float(limits[limited].sum())


def _required(data: SeniorData, cols: np.ndarray) -> np.ndarray:
    """Local indices of the county's existing schools (they stay open)."""
    return np.flatnonzero(data.sites["status"].to_numpy()[cols] == "open")
