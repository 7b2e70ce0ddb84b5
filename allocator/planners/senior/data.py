"""A region as the senior planner's arrays: each county's places needed, its settlements' share
of them, its schools and candidate sites with their levels, and road km within reach."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import InputError
from allocator.forecast import (
    ENTRY_AGE,
    ForecastSettings,
    load_birth_scenario,
    project_grades,
    pupils_from_region,
    regional_births,
)
from allocator.planners.kindergartens.data import walking_minutes
from allocator.planners.senior.policy import SeniorPolicy
from allocator.planners.senior.requirements import county_requirements, region_cohort
from allocator.region import Region
from allocator.standards.senior import SeniorStandard

__all__ = [
    "SeniorData",
    "senior_data",
    "graduates",
    "whole_shares",
    "existing_schools",
    "SITE_COLUMNS",
]

SITE_COLUMNS = ["senior_id", "name", "county", "node", "kind", "status", "places",
                "boarding_places", "boarding_capacity"]  # fmt: skip


@dataclass(frozen=True, eq=False)
class SeniorData:
    """The planner's input.

    Attributes
    ----------
    requirements : pandas.DataFrame
        Per county (index): ``cohort, needed, general_min, general_max, vocational_min``
        (:func:`~.requirements.county_requirements`).
    settlements : pandas.DataFrame
        ``settlement_id, county, node, graduates, pupils`` (their whole share of the county's
        places needed).
    sites : pandas.DataFrame
        Existing senior schools (``status`` open) then candidate sites (``candidate``):
        :data:`SITE_COLUMNS` (``kind`` empty for a candidate site; ``boarding_capacity`` NaN
        where no limit is given, as at every candidate site).
    km : scipy.sparse.csr_matrix
        Settlements x sites: road km of the pairs in the same county within ``boarding.max_km``
        (stored entries, 0 included).
    levels : pandas.DataFrame
        One row per level: ``site, action`` (keep, expand, build), ``kind, places, added,
        cost_yuan``.
    norms : SeniorStandard
    source : str
        Where the cohort comes from (``"region"`` or ``"forecast <year>"``).
    """

    requirements: pd.DataFrame
    settlements: pd.DataFrame
    sites: pd.DataFrame
    km: sp.csr_matrix
    levels: pd.DataFrame
    norms: SeniorStandard
    source: str


def whole_shares(total: int, weights) -> np.ndarray:
    """``total`` split in whole numbers in proportion to ``weights`` (largest remainders).

    Examples
    --------
    >>> whole_shares(10, [1, 1, 1]).tolist()
    [4, 3, 3]
    >>> whole_shares(5, [0, 0]).tolist()
    [3, 2]
    """
    w = np.asarray(weights, float)
    if w.size == 0:
        return np.zeros(0, np.int64)
    w = w if w.sum() > 0 else np.ones(w.size)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    rest = int(total - out.sum())
    out[np.argsort(-(exact - out), kind="stable")[:rest]] += 1
    return out


def graduates(region: Region, policy: SeniorPolicy) -> tuple[np.ndarray, pd.Series, str]:
    """Junior graduates per settlement (floats), per county (whole) and their source.

    Without ``policy.year``: each county's :func:`~.requirements.region_cohort` (a third of its
    schools' junior pupils), spread over its settlements by their junior pupils. With it: the
    grade-9 pupils of that year in the enrolment forecast (today's pupils the base year's; births
    of the birth scenario, migration ignored), each county's sum rounded.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> r = make_region(schools=40, seed=3)
    >>> _, today, source = graduates(r, SeniorPolicy())
    >>> _, later, _ = graduates(r, SeniorPolicy(year=2030))
    >>> source, int(today.sum()) > 0, int(later.sum()) > 0
    ('region', True, True)
    """
    s = region.settlements
    if policy.year is None:
        county = region_cohort(region)
        per = s["pupils_junior"].to_numpy(float) / 3.0
        for c, total in county.items():
            mine = (s["county"] == c).to_numpy()
            if per[mine].sum() > 0:
                per[mine] *= total / per[mine].sum()
        return per, county.astype("int64"), "region"
    years = policy.year - policy.base_year
    ids = s["settlement_id"].astype(str)
    if years == 0:
        per = s["pupils_junior"].to_numpy(float) / 3.0
    else:
        settings = ForecastSettings(horizon=years)
        scenario = load_birth_scenario(policy.birth_scenario)
        grade1 = s["pupils_lower_primary"].to_numpy(float) / 3.0
        born = range(policy.base_year + 1 - ENTRY_AGE, policy.year + 1 - ENTRY_AGE)
        births = regional_births(scenario, dict(zip(ids, grade1, strict=True)),
                                 policy.base_year - ENTRY_AGE, born)  # fmt: skip
        grades = project_grades(pupils_from_region(region), settings, policy.base_year,
                                births=births)  # fmt: skip
        nine = grades[(grades["grade"] == 9) & (grades["year"] == policy.year)]
        per = nine.groupby("settlement_id")["pupils"].sum().reindex(ids).fillna(0.0).to_numpy()
    county = pd.Series(per).groupby(s["county"].to_numpy()).sum().round().astype("int64")
    return per, county.rename("graduates"), f"forecast {policy.year}"


def existing_schools(region: Region) -> pd.DataFrame:
    """The region's senior schools: its ``senior_schools`` table, else the schools table's
    ``senior`` schools as general ones (places: their capacity; boarding places unknown, 0), with
    ``boarding_capacity`` (NaN, no limit, where the table does not give it).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> r = make_region(schools=120, seed=7)
    >>> t = existing_schools(r)
    >>> set(t["kind"]) <= {"general"}, len(t) == int((r.schools["level"] == "senior").sum())
    (True, True)
    """
    if region.senior_schools is not None:
        table = region.senior_schools
        if "boarding_capacity" not in table.columns:  # the optional column: no limit
            table = table.assign(boarding_capacity=np.nan)
        return table
    s = region.schools[region.schools["level"] == "senior"]
    return pd.DataFrame(
        {
            "senior_id": s["school_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "county": s["county"].to_numpy(),
            "node": s["node"].to_numpy(),
            "kind": "general",
            "places": s["capacity"].to_numpy(np.int64),
            "boarding_places": np.zeros(len(s), np.int64),
            "boarding_capacity": np.full(len(s), np.nan),
        }
    )


def _sites(region: Region, policy: SeniorPolicy, counties) -> pd.DataFrame:
    table = existing_schools(region).assign(status="open")
    table = table[table["county"].isin(counties)]  # a county's sub-region plans its own
    table = table[SITE_COLUMNS].copy()
    sch, st = region.schools, region.settlements
    near = sch[sch["level"].isin(("junior", "nine_year", "senior"))
               & sch["area_type"].isin(policy.candidate_area_types)]  # fmt: skip
    county_of = dict(zip(st["node"], st["county"], strict=True))
    county_of |= dict(zip(sch["node"], sch["county"], strict=True))
    rows, taken = [], set(zip(table["county"], table["node"], strict=True))
    for node in dict.fromkeys([*policy.candidate_nodes, *near["node"].astype(str)]):
        if node not in county_of:
            raise InputError(
                f"candidate node {node!r} has no school or settlement, so no county; expected "
                "the node of a school or settlement",
                table="policy",
                column="candidate_nodes",
                value=node,
            )
        if (county_of[node], node) not in taken:
            taken.add((county_of[node], node))
            rows.append((f"site-{node}", f"site {node}", county_of[node], node, "", "candidate",
                         0, 0, np.nan))  # fmt: skip
    new = pd.DataFrame(rows, columns=SITE_COLUMNS)
    out = pd.concat([table, new], ignore_index=True) if rows else table.reset_index(drop=True)
    return out.astype({"places": "int64", "boarding_places": "int64", "boarding_capacity": float})


def _levels(sites: pd.DataFrame, norms: SeniorStandard) -> pd.DataFrame:
    """Each site's levels: as is and expanded by modules (existing), every size of a new general
    or vocational campus (candidate sites), within the size limit."""
    most, module = norms.max_pupils, int(norms.value("size.module_places"))
    least = int(norms.value("size.min_new_pupils"))
    build = float(norms.value("costs.build_yuan_per_place"))
    expand = float(norms.value("costs.expand_yuan_per_place"))
    rows = []
    for j, s in enumerate(sites.itertuples(index=False)):
        if s.status == "open":
            rows.append((j, "keep", s.kind, int(s.places), 0, 0.0))
            added = module
            while s.places < most:
                add = min(added, most - int(s.places))
                rows.append((j, "expand", s.kind, int(s.places) + add, add, add * expand))
                if add < added:
                    break
                added += module
        else:
            sizes = list(range(min(least, most), most + 1, module))
            sizes += [most] if sizes[-1] != most else []
            for kind in ("general", "vocational"):
                rows.extend((j, "build", kind, n, n, n * build) for n in sizes)
    cols = ["site", "action", "kind", "places", "added", "cost_yuan"]
    types = {"site": "int64", "places": "int64", "added": "int64", "cost_yuan": "float64"}
    return pd.DataFrame(rows, columns=cols).astype(types)


def senior_data(region: Region, policy: SeniorPolicy) -> SeniorData:
    """The planner's input from a region (see :class:`SeniorData`)."""
    norms = policy.norms()
    per, county, source = graduates(region, policy)
    req = county_requirements(county, norms)
    s = region.settlements
    pupils = np.zeros(len(s), np.int64)
    for c, r in req.iterrows():
        mine = np.flatnonzero((s["county"] == c).to_numpy())
        pupils[mine] = whole_shares(int(r["needed"]), per[mine])
    settlements = pd.DataFrame({"settlement_id": s["settlement_id"].to_numpy(),
                                "county": s["county"].to_numpy(), "node": s["node"].to_numpy(),
                                "graduates": np.round(per, 6), "pupils": pupils})  # fmt: skip
    sites = _sites(region, policy, req.index)
    reach = float(norms.value("boarding.max_km"))
    # km by road: the planners' walking distance at 60 km/h is minutes = km
    km = walking_minutes(region, s["node"], sites["node"], np.full(len(s), reach), 60.0).tocoo()
    same = s["county"].to_numpy()[km.row] == sites["county"].to_numpy()[km.col]
    km = sp.csr_matrix((km.data[same], (km.row[same], km.col[same])), shape=km.shape)
    return SeniorData(req, settlements, sites, km, _levels(sites, norms), norms, source)
