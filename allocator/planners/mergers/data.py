"""The consolidation planner's data: a region cut into planning units (a county, or the whole
region under one ``max_schools``), each as arrays of schools, settlements, pupils and road times,
and what pupils do today (the nearest school teaching their band, boarding beyond the day limit).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import InputError
from allocator.planners.mergers.columns import (
    BAND_COLUMNS,
    CANDIDATE_TABLE,
    LEVEL_BANDS,
    PLANNED_BANDS,
    boarding_places,
)
from allocator.planners.mergers.policy import MergerPolicy
from allocator.region import SCHOOL_COLUMNS, Region


@dataclass
class County:
    """Arrays of one planning unit (a county, or the whole region under a global max_schools)."""

    name: str
    schools: pd.DataFrame  # re-planned schools
    settlements: pd.DataFrame
    teaches: np.ndarray  # (n_j, 3) bool
    current: np.ndarray  # (n_j, 3) pupils today
    senior: np.ndarray  # (n_j,)
    demand: np.ndarray  # (n_s, 3)
    travel: np.ndarray  # (n_s, n_j) minutes, inf where unreachable or across counties
    school_travel: np.ndarray  # (n_j, n_j)
    max_schools: int | None
    cutoff: float = np.inf
    # candidate sites are the last rows of ``schools`` (closed before the plan)
    candidate: np.ndarray | None = None  # (n_j,) bool
    new_site_cost: np.ndarray | None = None  # (n_j,) yuan a year if opened (0 for schools)
    new_site_build: np.ndarray | None = None  # (n_j,) one-off yuan to build (0 for schools)
    boarding_places: np.ndarray | None = None  # (n_j,) boarders the dormitories hold (inf: any)
    # (n_s, 3) bool: bands today's layout already fails (see the verify module); they may also go to
    # the nearest schools beyond their travel limit, at a penalty, and may be split
    breach: np.ndarray | None = None
    # (n_s, 3) bool: bands that may be split because no plan, not even today's schools all open,
    # puts each whole band at one school (see the verify module)
    split_today: np.ndarray | None = None
    # (n_s, 3) bool: bands with pupils in some year of a plan over years (None: this year's own);
    # a band beyond its limit from every school keeps its nearest school while it has pupils
    later_demand: np.ndarray | None = None

    def __post_init__(self):
        if self.candidate is None:
            self.candidate = np.zeros(len(self.schools), dtype=bool)
        if self.new_site_cost is None:
            self.new_site_cost = np.zeros(len(self.schools))
        if self.new_site_build is None:
            self.new_site_build = np.zeros(len(self.schools))
        if self.boarding_places is None:
            self.boarding_places = np.full(len(self.schools), np.inf)


def _teaching(schools: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    level = np.array([LEVEL_BANDS[v] for v in schools["level"]], dtype=bool).reshape(-1, 3)
    current = schools[BAND_COLUMNS].to_numpy(dtype=np.int64)
    return level | (current > 0), current


def _dense(matrix: sp.csr_matrix) -> np.ndarray:
    coo = matrix.tocoo()
    out = np.full(matrix.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def make_unit(
    region: Region,
    name: str,
    school_mask,
    settlement_mask,
    max_schools,
    cutoff: float,
    sites: pd.DataFrame | None = None,
    build_years: float = 30.0,
) -> County:
    """One planning unit's arrays; road times beyond ``cutoff`` minutes count as unreachable.

    ``sites`` (rows of :func:`site_rows`) are appended after the schools as closed schools."""
    schools = region.schools[school_mask].reset_index(drop=True)
    teaches, current = _teaching(schools)
    planned = teaches.any(axis=1)
    schools, teaches, current = (
        schools[planned].reset_index(drop=True),
        teaches[planned],
        current[planned],
    )
    places = boarding_places(schools, "schools", "school_id")
    candidate = new_cost = new_build = None
    if sites is not None and len(sites):
        n_old = len(schools)
        places = np.concatenate([places, boarding_places(sites, CANDIDATE_TABLE, "site_id")])
        schools = pd.concat([schools, sites[list(SCHOOL_COLUMNS)]], ignore_index=True)
        level = np.array([LEVEL_BANDS[v] for v in sites["level"]], dtype=bool).reshape(-1, 3)
        teaches = np.vstack([teaches, level])
        current = np.vstack([current, np.zeros((len(sites), 3), dtype=np.int64)])
        candidate = np.arange(len(schools)) >= n_old
        new_cost, new_build = np.zeros(len(schools)), np.zeros(len(schools))
        new_build[n_old:] = sites["build_cost"].to_numpy(float)
        new_cost[n_old:] = sites["annual_cost"].to_numpy(float) + new_build[n_old:] / build_years
    settlements = region.settlements[settlement_mask].reset_index(drop=True)
    demand = settlements[BAND_COLUMNS].to_numpy(dtype=np.int64)
    travel = (
        _dense(region.travel_minutes(settlements["node"], schools["node"], cutoff=cutoff))
        if len(schools) and len(settlements)
        else np.full((len(settlements), len(schools)), np.inf)
    )
    # Pupils go only to schools of their own county.
    same = settlements["county"].to_numpy()[:, None] == schools["county"].to_numpy()[None, :]
    travel[~same] = np.inf
    school_travel = (
        _dense(region.travel_minutes(schools["node"], schools["node"], cutoff=cutoff))
        if len(schools)
        else np.zeros((0, 0))
    )
    cross = schools["county"].to_numpy()[:, None] != schools["county"].to_numpy()[None, :]
    school_travel[cross] = np.inf
    if candidate is not None:
        # a site without an area type takes that of its nearest settlement (rural if none)
        for j in np.flatnonzero(candidate & (schools["area_type"] == "").to_numpy()):
            t = travel[:, j]
            near = settlements["area_type"].iloc[int(np.argmin(t))] if np.isfinite(t).any() else ""
            schools.loc[j, "area_type"] = near or "rural"
    return County(
        name=name,
        schools=schools,
        settlements=settlements,
        teaches=teaches,
        current=current,
        senior=schools["pupils_senior"].to_numpy(dtype=np.int64),
        demand=demand,
        travel=travel,
        school_travel=school_travel,
        max_schools=max_schools,
        cutoff=cutoff,
        candidate=candidate,
        new_site_cost=new_cost,
        new_site_build=new_build,
        boarding_places=places,
    )


def site_rows(region: Region, policy: MergerPolicy) -> pd.DataFrame | None:
    """The candidate sites as rows of a schools table (no pupils, teachers or buildings yet),
    checked against the region: ids distinct from the schools', known counties and road nodes."""
    if policy.candidate_sites is None:
        return None
    sites = pd.DataFrame([dataclasses.asdict(c) for c in policy.candidate_sites])
    if sites.empty:
        return None
    file = policy.candidate_sites_file

    def fail(pos: int, column: str, message: str):
        value = sites[column].iloc[pos]
        raise InputError(
            message,
            table=CANDIDATE_TABLE,
            row_id=sites["site_id"].iloc[pos],
            row=pos,
            column=column,
            value=value,
            file=file,
            line=None if file is None else pos + 2,
        )

    known = set(region.schools["school_id"])
    clash = np.flatnonzero(sites["site_id"].isin(known).to_numpy())
    if len(clash):
        fail(
            int(clash[0]),
            "site_id",
            f"site_id {sites['site_id'].iloc[int(clash[0])]!r} is a school of the region; "
            "expected an id no school has",
        )
    counties = region.counties
    bad = np.flatnonzero(~sites["county"].isin(counties).to_numpy())
    if len(bad):
        fail(
            int(bad[0]),
            "county",
            f"unknown county {sites['county'].iloc[int(bad[0])]!r}; expected one of "
            + ", ".join(counties),
        )
    bad = np.flatnonzero(~sites["node"].map(region.roads.has_node).to_numpy(dtype=bool))
    if len(bad):
        fail(
            int(bad[0]),
            "node",
            f"node {sites['node'].iloc[int(bad[0])]!r} is not in the road graph; expected a node "
            "of the region's roads",
        )
    sites["school_id"] = sites["site_id"]
    sites["name"] = sites["name"].where(sites["name"] != "", sites["site_id"])
    for column in SCHOOL_COLUMNS:
        if column not in sites.columns:
            sites[column] = 0
    u = np.where(sites["level"] == "junior", policy.junior_class_size, policy.primary_class_size)
    sites["classes"] = -(-sites["capacity"].to_numpy(dtype=np.int64) // u)
    return sites


def nearest_before(unit: County, policy: MergerPolicy):
    """Each settlement band's nearest school that teaches the band today (index, minutes)."""
    n_s = len(unit.settlements)
    idx = np.full((n_s, 3), -1, dtype=np.int64)
    minutes = np.full((n_s, 3), np.inf)
    if not len(unit.schools):
        return idx, minutes
    today = unit.teaches & ~unit.candidate[:, None]  # candidate sites teach nobody today
    for b in range(3):
        masked = np.where(today[:, b][None, :], unit.travel, np.inf)
        j = np.argmin(masked, axis=1)
        t = masked[np.arange(n_s), j]
        ok = np.isfinite(t)
        idx[ok, b] = j[ok]
        minutes[ok, b] = t[ok]
    return idx, minutes


def boarders_today(unit: County, policy: MergerPolicy, before_idx, before_minutes) -> np.ndarray:
    """Boarders each school has today under the "before" rule: the settlement bands whose nearest
    school teaching the band today is beyond the band's day limit, for bands that may board."""
    out = np.zeros(len(unit.schools))
    board = boarding_before(before_minutes, policy) & (before_idx >= 0) & (unit.demand > 0)
    np.add.at(out, before_idx[board], unit.demand[board])
    return out


def boarding_before(minutes: np.ndarray, policy: MergerPolicy) -> np.ndarray:
    """(settlements, 3) bool: the settlement bands that board today (beyond the day limit, for
    bands that may board), given their minutes to the nearest school."""
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    return (minutes > day[None, :] + 1e-9) & boards[None, :]
