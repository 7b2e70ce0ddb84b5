"""The consolidation planner's data and model: county arrays, the MILP, its solve, diagnosis and
verification.

The model is stated in :mod:`allocator.planners.mergers`, which holds the policy, the plan, its
tables and :func:`~allocator.planners.mergers.plan_mergers`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.region import SCHOOL_COLUMNS, Region
from allocator.solver import SolveInfo, SolverOptions, binary_values, solve_matrix, worst_status

if TYPE_CHECKING:
    from allocator.planners.mergers import MergerPolicy

#: Grade bands the planner re-plans (senior high is left as it is).
PLANNED_BANDS = ("lower_primary", "upper_primary", "junior")
_BAND_COLUMNS = [f"pupils_{b}" for b in PLANNED_BANDS]
_LEVEL_BANDS = {
    "primary": (True, True, False),
    "teaching_point": (True, True, False),
    "junior": (False, False, True),
    "nine_year": (True, True, True),
    "senior": (False, False, False),
}
_SENIOR_CLASS = 50
#: Schools beyond the limit offered to a band today's layout already fails (nearest first).
BREACH_SCHOOLS = 3
_TOL = 1e-6
_YUAN_SCALE = 1000.0
_CANDIDATE_TABLE = "candidate_sites"
#: Optional column of the schools and candidate-sites tables: boarders the dormitories hold.
BOARDING_COLUMN = "boarding_places"


def _boarding_places(df: pd.DataFrame, table: str, key: str) -> np.ndarray:
    """The optional ``boarding_places`` column as numbers (inf: no limit, also for a missing
    column or an empty cell), checked: numeric and >= 0."""
    if BOARDING_COLUMN not in df.columns:
        return np.full(len(df), np.inf)
    raw = df[BOARDING_COLUMN]
    empty = raw.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in raw], dtype=bool
    )
    numbers = pd.to_numeric(raw.where(~empty, np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~empty & (np.isnan(numbers) | (numbers < 0)))
    if len(bad):
        pos = int(bad[0])
        value = raw.iloc[pos]
        what = "is not numeric" if np.isnan(numbers[pos]) else "is negative"
        raise InputError(
            f"{BOARDING_COLUMN} {value!r} {what}; expected the boarders the school's dormitories "
            "hold (a number >= 0), or an empty cell for no limit",
            table=table,
            row_id=df[key].iloc[pos],
            row=pos,
            column=BOARDING_COLUMN,
            value=value,
        )
    return np.where(empty, np.inf, numbers)


# ------------------------------------------------------------------------------------ data
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
    boarding_places: np.ndarray | None = None  # (n_j,) boarders the dormitories hold (inf: any)
    # (n_s, 3) bool: bands today's layout already fails (see mergers_check); they may also go to
    # the nearest schools beyond their travel limit, at a penalty, and may be split
    breach: np.ndarray | None = None
    # (n_s, 3) bool: bands that may be split because no plan, not even today's schools all open,
    # puts each whole band at one school (see mergers_check)
    split_today: np.ndarray | None = None

    def __post_init__(self):
        if self.candidate is None:
            self.candidate = np.zeros(len(self.schools), dtype=bool)
        if self.new_site_cost is None:
            self.new_site_cost = np.zeros(len(self.schools))
        if self.boarding_places is None:
            self.boarding_places = np.full(len(self.schools), np.inf)


def _teaching(schools: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    level = np.array([_LEVEL_BANDS[v] for v in schools["level"]], dtype=bool).reshape(-1, 3)
    current = schools[_BAND_COLUMNS].to_numpy(dtype=np.int64)
    return level | (current > 0), current


def _dense(matrix: sp.csr_matrix) -> np.ndarray:
    coo = matrix.tocoo()
    out = np.full(matrix.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def _make_unit(
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

    ``sites`` (rows of :func:`_site_rows`) are appended after the schools as closed schools."""
    schools = region.schools[school_mask].reset_index(drop=True)
    teaches, current = _teaching(schools)
    planned = teaches.any(axis=1)
    schools, teaches, current = (
        schools[planned].reset_index(drop=True),
        teaches[planned],
        current[planned],
    )
    places = _boarding_places(schools, "schools", "school_id")
    candidate = new_cost = None
    if sites is not None and len(sites):
        n_old = len(schools)
        places = np.concatenate([places, _boarding_places(sites, _CANDIDATE_TABLE, "site_id")])
        schools = pd.concat([schools, sites[list(SCHOOL_COLUMNS)]], ignore_index=True)
        level = np.array([_LEVEL_BANDS[v] for v in sites["level"]], dtype=bool).reshape(-1, 3)
        teaches = np.vstack([teaches, level])
        current = np.vstack([current, np.zeros((len(sites), 3), dtype=np.int64)])
        candidate = np.arange(len(schools)) >= n_old
        new_cost = np.zeros(len(schools))
        new_cost[n_old:] = (
            sites["annual_cost"].to_numpy(float) + sites["build_cost"].to_numpy(float) / build_years
        )
    settlements = region.settlements[settlement_mask].reset_index(drop=True)
    demand = settlements[_BAND_COLUMNS].to_numpy(dtype=np.int64)
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
        boarding_places=places,
    )


def _site_rows(region: Region, policy: MergerPolicy) -> pd.DataFrame | None:
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
            table=_CANDIDATE_TABLE,
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


# ------------------------------------------------------------------------------------ model
@dataclass
class CountyModel:
    unit: County
    policy: MergerPolicy
    # pairs
    ps: np.ndarray
    pb: np.ndarray
    pj: np.ndarray
    pt: np.ndarray
    pboard: np.ndarray
    pnew: np.ndarray  # pair uses a band the school only teaches as nine-year host
    split_band: np.ndarray  # (n_s, 3) the settlement band may be split
    split_pair: np.ndarray
    demand_index: np.ndarray  # (n_s, 3) -> demand row or -1
    # schools
    fixed_open: np.ndarray
    kept_because: list
    min_kept: np.ndarray
    conv: np.ndarray  # (n_w, 2) absorbed a, host h
    seats: np.ndarray  # C_j: seats for grades 1-9 (capacity less senior pupils, >= 0)
    today: np.ndarray  # N_j: pupils of grades 1-9 today (a school may keep them over C_j)
    grow_cap: np.ndarray  # (n_j,) bool: the school or a nine-year partner is over C_j today
    classes: np.ndarray  # K_j
    size: np.ndarray  # L_j (pupils of the planned bands)
    size_extra: np.ndarray
    room_seats: np.ndarray  # u_j
    max_rooms: np.ndarray
    site_cost: np.ndarray
    townships: list  # (name, junior school indices, conversions giving a junior)
    boarders_now: np.ndarray  # (n_j,) boarders today ("before" rule)
    boarding: np.ndarray  # B_j: max(boarding places, boarders today); inf without a limit
    pbreach: np.ndarray  # pair beyond the band's travel limit (a band today's layout fails)
    breach_penalty: float  # objective units per pupil placed on such a pair
    # arrays for the solver
    c: np.ndarray | None = None
    A: sp.csc_matrix | None = None
    rl: np.ndarray | None = None
    ru: np.ndarray | None = None
    cl: np.ndarray | None = None
    cu: np.ndarray | None = None
    integ: np.ndarray | None = None
    groups: list | None = None
    boarding_scale: dict | None = None  # school index -> pupils per unit of its boarding row

    @property
    def always_open(self) -> np.ndarray:
        """Schools that stay open in every plan (kept, or min_size without a nine-year partner)."""
        absorbable = np.zeros(self.n_schools, dtype=bool)
        absorbable[self.conv[:, 0]] = True
        return self.fixed_open | (self.min_kept & ~absorbable)

    @property
    def n_pairs(self) -> int:
        return len(self.ps)

    @property
    def n_schools(self) -> int:
        return len(self.unit.schools)


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


def _boarders_today(unit: County, policy: MergerPolicy, before_idx, before_minutes) -> np.ndarray:
    """Boarders each school has today under the "before" rule: the settlement bands whose nearest
    school teaching the band today is beyond the band's day limit, for bands that may board."""
    out = np.zeros(len(unit.schools))
    board = _boarding_before(before_minutes, policy) & (before_idx >= 0) & (unit.demand > 0)
    np.add.at(out, before_idx[board], unit.demand[board])
    return out


def build_model(unit: County, policy: MergerPolicy, travel_mode: bool, before=None) -> CountyModel:
    """The model's sets and numbers; ``before`` is :func:`nearest_before` (computed if None)."""
    schools = unit.schools
    n_j = len(schools)
    ids = schools["school_id"].to_numpy()
    level = schools["level"].to_numpy()
    cand = unit.candidate
    total_now = unit.current.sum(axis=1) + unit.senior
    # ---- nine-year conversions: a primary and a junior school on one site
    conv = np.zeros((0, 2), dtype=np.int64)
    if policy.allow_nine_year and n_j:
        prim = np.flatnonzero((level == "primary") & ~cand)
        jun = np.flatnonzero((level == "junior") & ~cand)
        if len(prim) and len(jun):
            near = unit.school_travel[np.ix_(prim, jun)] <= policy.nine_year_site_minutes
            # the nine-year school would not be oversized at today's enrolment
            combined = total_now[prim][:, None] + total_now[jun][None, :]
            near &= combined <= policy.nine_year_school_size
            a, h = np.nonzero(near)
            pairs = [(prim[i], jun[k]) for i, k in zip(a, h, strict=True)]
            conv = np.array(pairs + [(q, p) for p, q in pairs], dtype=np.int64).reshape(-1, 2)
    # ---- keep rules
    kept_because = [[] for _ in range(n_j)]
    fixed = np.zeros(n_j, dtype=bool)
    for sid in policy.must_keep:
        hits = np.flatnonzero(ids == sid)
        for j in hits:
            fixed[j] = True
            kept_because[j].append("must keep")
    senior_school = (level == "senior") | (unit.senior > 0)
    for j in np.flatnonzero(senior_school):
        fixed[j] = True
        kept_because[j].append("teaches senior high (not re-planned)")
    lp_limit = policy.day_minutes("lower_primary")
    if policy.keep_sole_lower_primary and n_j:
        within = (unit.travel <= lp_limit) & unit.teaches[:, 0][None, :]
        has_lp = unit.demand[:, 0] > 0
        sole = has_lp & (within.sum(axis=1) == 1)
        settlement_ids = unit.settlements["settlement_id"].to_numpy()
        sole_for: dict[int, list] = {}
        # a candidate site within reach counts (the school may close into it if it opens), but
        # is never kept by this rule: the travel limits open it if nothing else can serve
        for s in np.flatnonzero(sole & ~within[:, cand].any(axis=1)):
            sole_for.setdefault(int(np.flatnonzero(within[s])[0]), []).append(settlement_ids[s])
        for j, names in sole_for.items():
            fixed[j] = True
            kept_because[j].append(
                f"only school within {lp_limit:g} min for grades 1-3 of {', '.join(names)}"
            )
    # an absorbed school must be closable
    if len(conv):
        conv = conv[~fixed[conv[:, 0]]]
    min_kept = (unit.current.sum(axis=1) >= policy.min_size) & ~fixed & (policy.min_size > 0)
    for j in np.flatnonzero(min_kept):
        kept_because[j].append(f"{int(unit.current[j].sum())} pupils >= min_size {policy.min_size}")
    # ---- teaching bands, including those a host gains
    gains = np.zeros((n_j, 3), dtype=bool)
    for a, h in conv:
        gains[h] |= unit.teaches[a] & ~unit.teaches[h]
    can = unit.teaches | gains
    # ---- pairs
    limits_day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    demand_index = np.full(unit.demand.shape, -1, dtype=np.int64)
    has = unit.demand > 0
    demand_index[has] = np.arange(int(has.sum())).reshape(-1)
    # order demands by settlement then band (np boolean indexing is row-major: that order)
    sure = fixed | min_kept
    ps, pb, pj, pt = [], [], [], []
    for b in range(3):
        ok = has[:, b][:, None] & can[:, b][None, :]
        day = ok & (unit.travel <= limits_day[b] + 1e-9)
        if policy.day_candidates is not None:
            day = _nearest_candidates(day, unit.travel, sure, policy.day_candidates)
        pairs = [day]
        if boards[b]:
            far = ok & ~day & (unit.travel <= policy.boarding_minutes + 1e-9)
            pairs.append(_nearest_candidates(far, unit.travel, sure, policy.boarding_candidates))
        s, j = np.nonzero(np.logical_or.reduce(pairs))
        ps.append(s)
        pj.append(j)
        pb.append(np.full(len(s), b))
        pt.append(unit.travel[s, j])
    n_within = sum(len(v) for v in ps)
    if unit.breach is not None and unit.breach.any():
        # a band today's layout fails also goes to its nearest schools beyond the limit
        for b in range(3):
            rows = np.flatnonzero(unit.breach[:, b] & has[:, b])
            if not len(rows):
                continue
            limit = max(limits_day[b], policy.boarding_minutes) if boards[b] else limits_day[b]
            far = can[:, b][None, :] & (unit.travel[rows] > limit + 1e-9)
            far &= np.isfinite(unit.travel[rows])
            near = _nearest_candidates(far, unit.travel[rows], np.ones(n_j, bool), BREACH_SCHOOLS)
            r, j = np.nonzero(near)
            ps.append(rows[r])
            pj.append(j)
            pb.append(np.full(len(r), b))
            pt.append(unit.travel[rows[r], j])
    ps, pb, pj, pt = (np.concatenate(v) if v else np.zeros(0) for v in (ps, pb, pj, pt))
    ps, pb, pj = ps.astype(np.int64), pb.astype(np.int64), pj.astype(np.int64)
    pt = pt.astype(float)
    pbreach = np.arange(len(ps)) >= n_within
    order = np.lexsort((pj, pb, ps))
    ps, pb, pj, pt, pbreach = ps[order], pb[order], pj[order], pt[order], pbreach[order]
    # grades that never board travel daily even beyond their limit
    pboard = (pt > limits_day[pb] + 1e-9) & boards[pb]
    split_settlement = (
        np.full(len(unit.settlements), bool(policy.split))
        | unit.settlements["area_type"].isin(policy.split_area_types).to_numpy()
    )
    split_band = np.repeat(split_settlement[:, None], 3, axis=1)
    if unit.breach is not None:
        split_band |= unit.breach
    if unit.split_today is not None:
        split_band |= unit.split_today
    pnew = gains[pj, pb]
    # ---- capacities (never tighter than what a school holds today)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    cap_seats = schools["capacity"].to_numpy(dtype=float)
    seats = np.maximum(cap_seats - unit.senior, 0.0)
    today = unit.current.sum(axis=1).astype(float)
    grow_cap = today > seats + _TOL
    for a, h in conv:
        grow_cap[h] |= today[a] > seats[a] + _TOL
    need_now = (unit.current / cap_b).sum(axis=1) + unit.senior / _SENIOR_CLASS
    classes = np.maximum(schools["classes"].to_numpy(dtype=float), need_now) - (
        unit.senior / _SENIOR_CLASS
    )
    size_cap = np.where(
        (level == "nine_year") | (level == "senior"),
        policy.nine_year_school_size,
        policy.school_size,
    ).astype(float)
    size = np.maximum(size_cap, total_now) - unit.senior
    size_extra = np.maximum(0.0, policy.nine_year_school_size - (size + unit.senior))
    room_seats = np.where(
        can[:, 0] | can[:, 1], policy.primary_class_size, policy.junior_class_size
    )
    max_rooms = np.floor(policy.max_expansion_share * cap_seats / room_seats + 1e-9)
    max_rooms[cand] = 0.0  # a new site is built at its capacity
    if "site_cost_yuan" in schools.columns:
        site_cost = pd.to_numeric(schools["site_cost_yuan"], errors="coerce").to_numpy(float)
        site_cost = np.where(np.isfinite(site_cost), site_cost, policy.site_yuan)
    else:
        site_cost = np.full(n_j, policy.site_yuan)
    site_cost = np.where(cand, unit.new_site_cost, site_cost)
    # ---- boarding places (never tighter than the boarders a school has today)
    before_idx, before_minutes = before if before is not None else nearest_before(unit, policy)
    boarders_now = _boarders_today(unit, policy, before_idx, before_minutes)
    boarding = np.maximum(unit.boarding_places, boarders_now)
    # ---- townships keeping a junior school
    townships = []
    if policy.township_keeps_junior and n_j:
        town = schools["township"].to_numpy()
        for name in dict.fromkeys(town[unit.teaches[:, 2] & ~cand]):
            # a new junior-teaching site of the township counts as its junior school
            members = np.flatnonzero((town == name) & unit.teaches[:, 2])
            extra = [
                w
                for w, (a, h) in enumerate(conv)
                if town[h] == name and unit.teaches[a, 2] and not unit.teaches[h, 2]
            ]
            townships.append((name, members, np.array(extra, dtype=np.int64)))
    return CountyModel(
        unit=unit,
        policy=policy,
        ps=ps,
        pb=pb,
        pj=pj,
        pt=pt,
        pboard=pboard,
        pnew=pnew,
        split_band=split_band,
        split_pair=split_band[ps, pb],
        demand_index=demand_index,
        fixed_open=fixed,
        kept_because=["; ".join(k) for k in kept_because],
        min_kept=min_kept,
        conv=conv,
        seats=seats,
        today=today,
        grow_cap=grow_cap,
        classes=classes,
        size=size,
        size_extra=size_extra,
        room_seats=room_seats.astype(float),
        max_rooms=np.maximum(max_rooms, 0.0),
        site_cost=site_cost,
        townships=townships,
        boarders_now=boarders_now,
        boarding=boarding,
        pbreach=pbreach,
        breach_penalty=_breach_penalty(unit, policy, travel_mode, site_cost, room_seats),
    )


def _breach_penalty(unit, policy, travel_mode: bool, site_cost, room_seats) -> float:
    """Objective units per pupil placed beyond its travel limit: more than any closure, classroom
    or trip can save per pupil, so that the plan places as few pupils beyond limits as it can."""
    if travel_mode:  # pupil-minutes: more than every pupil's longest possible trip together
        reach = unit.travel[np.isfinite(unit.travel)]
        longest = float(reach.max()) if reach.size else 1.0
        return 2.0 * longest * max(float(unit.demand.sum()), 1.0)
    most_site = float(site_cost.max()) if len(site_cost) else 0.0
    room = float(room_seats.max()) * policy.expansion_yuan_per_seat if len(room_seats) else 0.0
    floor = policy.funding_floor_pupils * policy.funding_yuan_per_pupil
    return 2.0 * (most_site + room + floor) + 1.0


def _nearest_candidates(
    allowed: np.ndarray, travel: np.ndarray, sure: np.ndarray, k: int
) -> np.ndarray:
    """Per settlement, its k nearest allowed schools that surely stay open, and every allowed
    school that may close and is nearer than the k-th of them."""
    t = np.where(allowed, travel, np.inf)
    order = np.argsort(t, axis=1, kind="stable")
    t_sorted = np.take_along_axis(t, order, axis=1)
    sure_sorted = sure[order] & np.isfinite(t_sorted)
    before = np.cumsum(sure_sorted, axis=1) - sure_sorted
    keep = np.zeros_like(allowed)
    np.put_along_axis(keep, order, np.isfinite(t_sorted) & (before < k), axis=1)
    return keep


def _check_servable(model: CountyModel, before_minutes: np.ndarray) -> None:
    """Raise Infeasible naming the settlement bands no allowed school can serve."""
    exc = unservable_error(model, before_minutes)
    if exc is not None:
        raise exc


def unservable(model: CountyModel) -> np.ndarray:
    """(settlements, 3) bool: the settlement bands with pupils and no allowed school."""
    served = np.zeros(model.unit.demand.shape, dtype=bool)
    served[model.ps, model.pb] = True
    return (model.unit.demand > 0) & ~served


def unservable_error(
    model: CountyModel, before_minutes: np.ndarray, bad: np.ndarray | None = None
) -> Infeasible | None:
    """An Infeasible naming the settlement bands ``bad`` (default: those no allowed school can
    serve), with their pupils and the nearest school; None if there are none."""
    unit, policy = model.unit, model.policy
    bad = unservable(model) if bad is None else bad
    if not bad.any():
        return None
    sid = unit.settlements["settlement_id"].to_numpy()
    violations, words = {}, []
    for s, b in zip(*np.nonzero(bad), strict=True):
        band = PLANNED_BANDS[b]
        limit = policy.day_minutes(band)
        if band in policy.boarding_bands:
            limit = max(limit, policy.boarding_minutes)
        violations[f"{sid[s]} {band}"] = float(unit.demand[s, b])
        near = before_minutes[s, b]
        where = (
            f"nearest {near:.0f} min"
            if np.isfinite(near)
            else f"no school of its county within {unit.cutoff:g} min"
        )
        words.append(
            f"{sid[s]} ({band}, {int(unit.demand[s, b])} pupils; limit {limit:g} min, {where})"
        )
    settlements = sorted({k.split(" ")[0] for k in violations})
    message = (
        f"{unit.name}: {len(violations)} settlement band{'s' if len(violations) != 1 else ''} in "
        f"{len(settlements)} settlement{'s' if len(settlements) != 1 else ''} "
        f"cannot reach any school within the travel limits: {', '.join(words[:8])}"
        + (f" and {len(words) - 8} more" if len(words) > 8 else "")
        + "; raise the limits, allow boarding or keep a school nearer"
    )
    exc = Infeasible(message, violations)
    exc.settlements = settlements
    return exc


def model_arrays(model: CountyModel, travel_mode: bool) -> None:
    """The MILP as sparse arrays (see the module docstring for the model)."""
    unit, policy = model.unit, model.policy
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    split = model.split_pair
    P = unit.demand[model.ps, model.pb].astype(float)
    f = np.where(split, 1.0, P)  # pupils carried by one unit of x
    # columns: x | y | w | k | F | g (g_j: a school over its seats today may grow past them)
    X0, Y0, W0, K0, F0 = 0, n_x, n_x + n_j, n_x + n_j + n_w, n_x + 2 * n_j + n_w
    grow = np.flatnonzero(model.grow_cap)
    G0 = F0 + n_j
    n = G0 + len(grow)
    rows, cols, vals = [], [], []
    rl, ru, groups = [], [], []
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    r = 0

    def block(rr, cc, vv):
        rows.append(np.asarray(rr, dtype=np.int64))
        cols.append(np.asarray(cc, dtype=np.int64))
        vals.append(np.asarray(vv, dtype=float))

    # demand rows
    d_rows = model.demand_index[model.ps, model.pb]
    n_d = int((unit.demand > 0).sum())
    block(r + d_rows, X0 + np.arange(n_x), np.ones(n_x))
    ds, db = np.nonzero(unit.demand > 0)
    rhs = np.where(model.split_band[ds, db], unit.demand[ds, db], 1).astype(float)
    rl.append(rhs)
    ru.append(rhs)
    groups += [f"serve {sid[s]} {PLANNED_BANDS[b]}" for s, b in zip(ds, db, strict=True)]
    r += n_d
    # linking: x <= y_j (closable j) or x <= sum_a w_aj (bands gained as a host)
    ub = np.where(split, P, 1.0)
    link = np.flatnonzero(~model.always_open[model.pj] & ~model.pnew)
    block(r + np.arange(len(link)), X0 + link, np.ones(len(link)))
    block(r + np.arange(len(link)), Y0 + model.pj[link], -ub[link])
    rl.append(np.full(len(link), -np.inf))
    ru.append(np.zeros(len(link)))
    groups += [f"open {ids[j]}" for j in model.pj[link]]
    r += len(link)
    gained = np.flatnonzero(model.pnew)
    if len(gained):
        hosts_of = {}
        for w, (a, h) in enumerate(model.conv):
            hosts_of.setdefault(int(h), []).append((w, a))
        rr, cc, vv = [], [], []
        for i, p in enumerate(gained):
            rr.append(r + i)
            cc.append(X0 + p)
            vv.append(1.0)
            for w, a in hosts_of[int(model.pj[p])]:
                if unit.teaches[a, model.pb[p]]:
                    rr.append(r + i)
                    cc.append(W0 + w)
                    vv.append(-ub[p])
        block(rr, cc, vv)
        rl.append(np.full(len(gained), -np.inf))
        ru.append(np.zeros(len(gained)))
        groups += [f"nine_year {ids[j]}" for j in model.pj[gained]]
        r += len(gained)
    # per-school rows: seats, classes, size, funding floor
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    absorbed = model.conv[:, 0]
    hosts = model.conv[:, 1]
    # seats: load <= max(N_j + sum_a N_a w_aj, C_j y_j + sum_a C_a w_aj + u_j k_j), the larger of
    # what the school (and an absorbed partner) holds today and its seats after the plan; as
    # two rows with a binary g_j where today's pupils exceed the seats (g_j = 1: grow past today)
    over = np.maximum(model.today - model.seats, 0.0)
    slack_over = over.copy()  # M1_j: how far today's pupils may exceed the seats
    seats_top = model.seats + model.room_seats * model.max_rooms  # M2_j: the most seats after
    for a, h in model.conv:
        slack_over[h] = max(slack_over[h], over[h] + over[a])
        seats_top[h] = max(seats_top[h], model.seats[h] + model.seats[a] + model.room_seats[h] *
                           model.max_rooms[h])  # fmt: skip
    ub_seats = np.zeros(n_j)
    ub_seats[grow] = slack_over[grow]
    for kind, coef_x, own, from_partner, rooms in (
        ("seats", f, model.seats, model.seats, model.room_seats),
        ("classes", f / cap_b[model.pb], model.classes, model.classes, np.ones(n_j)),
        ("size", f, model.size, None, None),
    ):
        block(r + model.pj, X0 + np.arange(n_x), coef_x)
        block(r + np.arange(n_j), Y0 + np.arange(n_j), -own)
        if n_w:
            extra = own[absorbed] if from_partner is not None else model.size_extra[hosts]
            block(r + hosts, W0 + np.arange(n_w), -extra)
        if rooms is not None:
            block(r + np.arange(n_j), K0 + np.arange(n_j), -rooms)
        rl.append(np.full(n_j, -np.inf))
        if kind == "seats":
            block(r + grow, G0 + np.arange(len(grow)), slack_over[grow])
            ru.append(ub_seats)
        else:
            ru.append(np.zeros(n_j))
        groups += [f"{kind} {i}" for i in ids]
        r += n_j
    if len(grow):
        g_row = np.full(n_j, -1, dtype=np.int64)
        g_row[grow] = r + np.arange(len(grow))
        mine = g_row[model.pj] >= 0
        block(g_row[model.pj[mine]], X0 + np.flatnonzero(mine), f[mine])
        block(g_row[grow], Y0 + grow, -model.today[grow])
        if n_w:
            into = np.flatnonzero(g_row[hosts] >= 0)
            block(g_row[hosts[into]], W0 + into, -model.today[absorbed[into]])
        block(g_row[grow], G0 + np.arange(len(grow)), -seats_top[grow])
        rl.append(np.full(len(grow), -np.inf))
        ru.append(np.zeros(len(grow)))
        groups += [f"seats {ids[j]}" for j in grow]
        r += len(grow)
    # funding floor, in pupils: F_j >= m y_j - sum_d P_d x_dj (costs f yuan a pupil)
    block(r + model.pj, X0 + np.arange(n_x), f)
    block(
        r + np.arange(n_j), Y0 + np.arange(n_j), np.full(n_j, -float(policy.funding_floor_pupils))
    )
    block(r + np.arange(n_j), F0 + np.arange(n_j), np.ones(n_j))
    rl.append(np.zeros(n_j))
    ru.append(np.full(n_j, np.inf))
    groups += [f"funding_floor {i}" for i in ids]
    r += n_j
    # conversions
    if n_w:
        conv_schools = np.unique(absorbed)
        pos = {int(a): i for i, a in enumerate(conv_schools)}
        block(r + np.arange(len(conv_schools)), Y0 + conv_schools, np.ones(len(conv_schools)))
        block(r + np.array([pos[int(a)] for a in absorbed]), W0 + np.arange(n_w), np.ones(n_w))
        eq = model.min_kept[conv_schools]
        rl.append(np.where(eq, 1.0, -np.inf))
        ru.append(np.ones(len(conv_schools)))
        groups += [f"convert {ids[a]}" for a in conv_schools]
        r += len(conv_schools)
        block(r + np.arange(n_w), W0 + np.arange(n_w), np.ones(n_w))
        block(r + np.arange(n_w), Y0 + hosts, -np.ones(n_w))
        rl.append(np.full(n_w, -np.inf))
        ru.append(np.zeros(n_w))
        groups += [f"convert {ids[h]}" for h in hosts]
        r += n_w
        host_list = np.unique(hosts)
        hpos = {int(h): i for i, h in enumerate(host_list)}
        block(r + np.array([hpos[int(h)] for h in hosts]), W0 + np.arange(n_w), np.ones(n_w))
        rl.append(np.full(len(host_list), -np.inf))
        ru.append(np.ones(len(host_list)))
        groups += [f"convert {ids[h]}" for h in host_list]
        r += len(host_list)
    # townships keep a junior school
    for name, members, extra in model.townships:
        block(np.full(len(members), r), Y0 + members, np.ones(len(members)))
        block(np.full(len(extra), r), W0 + extra, np.ones(len(extra)))
        rl.append(np.ones(1))
        ru.append(np.full(1, np.inf))
        groups.append(f"township_junior {name}")
        r += 1
    if unit.max_schools is not None:
        block(np.full(n_j, r), Y0 + np.arange(n_j), np.ones(n_j))
        rl.append(np.full(1, -np.inf))
        ru.append(np.full(1, float(unit.max_schools)))
        groups.append("max_schools")
        r += 1
    # boarding places: boarders at j <= B_j y_j + sum_a B_a w_aj, only where B_j is finite and
    # below M_j, the most boarders j could receive. Each row is divided by 2 M_j so that the
    # solver layer's elastic diagnosis finds relaxing it cheaper than leaving a band unplaced.
    model.boarding_scale = {}
    bp = np.flatnonzero(model.pboard)
    most = np.zeros(n_j)
    np.add.at(most, model.pj[bp], P[bp])
    limited = np.flatnonzero(np.isfinite(model.boarding) & (model.boarding < most - _TOL))
    if len(limited):
        row_of = np.full(n_j, -1, dtype=np.int64)
        row_of[limited] = r + np.arange(len(limited))
        scale = 2.0 * most
        mine = bp[row_of[model.pj[bp]] >= 0]
        block(row_of[model.pj[mine]], X0 + mine, f[mine] / scale[model.pj[mine]])
        block(row_of[limited], Y0 + limited, -model.boarding[limited] / scale[limited])
        into = np.flatnonzero(row_of[hosts] >= 0) if n_w else np.zeros(0, dtype=np.int64)
        partner = np.minimum(model.boarding[absorbed[into]], most[hosts[into]])
        block(row_of[hosts[into]], W0 + into, -partner / scale[hosts[into]])
        rl.append(np.full(len(limited), -np.inf))
        ru.append(np.zeros(len(limited)))
        groups += [f"boarding {ids[j]}" for j in limited]
        model.boarding_scale = {int(j): float(scale[j]) for j in limited}
        r += len(limited)
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n)
    )
    # objective
    c = np.zeros(n)
    if travel_mode:
        c[X0:Y0] = f * (model.pt + model.breach_penalty * model.pbreach)
    else:
        c[X0:Y0] = f * (
            _pair_unit_cost(model.pt, model.pboard, policy) + model.breach_penalty * model.pbreach
        )
        c[Y0 : Y0 + n_j] = model.site_cost
        c[K0 : K0 + n_j] = model.room_seats * policy.expansion_yuan_per_seat
        c[F0:G0] = policy.funding_yuan_per_pupil
        c /= _YUAN_SCALE  # thousands of yuan keep HiGHS's objective well scaled
    # bounds and integrality
    cl = np.zeros(n)
    cu = np.concatenate(
        [ub, np.ones(n_j), np.ones(n_w), model.max_rooms, np.full(n_j, np.inf), np.ones(len(grow))]
    )
    cl[Y0 : Y0 + n_j] = model.always_open.astype(float)
    integ = np.ones(n, dtype=bool)
    integ[X0:Y0] = ~split  # split pupils are continuous here and made whole afterwards
    integ[F0:G0] = False
    model.c, model.A = c, A
    model.rl, model.ru = np.concatenate(rl), np.concatenate(ru)
    model.cl, model.cu, model.integ, model.groups = cl, cu, integ, groups


def _pair_unit_cost(minutes, boarding, policy: MergerPolicy) -> np.ndarray:
    """Annual yuan per pupil of a pair: transport (+ boarding and lodging for boarders)."""
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    return minutes * policy.transport_yuan_per_pupil_minute * trips + np.where(boarding, board, 0.0)


# ------------------------------------------------------------------------------------ solve
@dataclass
class CountyResult:
    unit: County
    model: CountyModel
    info: SolveInfo
    pupils: np.ndarray  # per pair
    open_: np.ndarray
    converted: np.ndarray  # per conversion
    rooms: np.ndarray
    before_idx: np.ndarray
    before_minutes: np.ndarray
    mip_gap: float = 1e-4


def solve_unit(unit: County, policy: MergerPolicy, options: SolverOptions) -> CountyResult:
    travel_mode = unit.max_schools is not None
    before_idx, before_minutes = nearest_before(unit, policy)
    model = build_model(unit, policy, travel_mode, (before_idx, before_minutes))
    _check_servable(model, before_minutes)
    forced = int(model.fixed_open.sum())
    if unit.max_schools is not None and forced > unit.max_schools:
        raise Infeasible(
            f"{unit.name}: max_schools={unit.max_schools} but the keep rules already keep "
            f"{forced} schools; raise max_schools or relax the keep rules",
            {"max_schools": float(forced - unit.max_schools)},
        )
    model_arrays(model, travel_mode)
    t0 = time.perf_counter()
    main = options
    if model.split_pair.any():  # leave room in the gap for making split pupils whole
        main = dataclasses.replace(options, mip_gap=0.8 * options.mip_gap)
    sol = _solve(model, model.cl, model.cu, model.integ, main)
    info = sol.info
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    frac = model.split_pair & (np.abs(sol.x[:n_x] - np.round(sol.x[:n_x])) > 1e-6)
    if frac.any():
        residual = _whole_pupils(model, sol.x, options)
        info = dataclasses.replace(
            residual.info,
            status=worst_status(info.status, residual.info.status),
            bound=info.bound,  # the model above is a relaxation: its bound stays valid
            seconds=time.perf_counter() - t0,
        )
        sol = residual
    if not travel_mode:  # back from thousands of yuan
        info = dataclasses.replace(
            info,
            objective=None if info.objective is None else info.objective * _YUAN_SCALE,
            bound=None if info.bound is None else info.bound * _YUAN_SCALE,
        )
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    x = sol.x
    pupils = np.where(
        model.split_pair,
        np.round(x[:n_x]),
        binary_values(x[:n_x]) * unit.demand[model.ps, model.pb],
    ).astype(np.int64)
    open_ = binary_values(x[n_x : n_x + n_j])
    converted = binary_values(x[n_x + n_j : n_x + n_j + n_w])
    result = CountyResult(
        unit,
        model,
        info,
        pupils,
        open_,
        converted,
        np.zeros(n_j),
        before_idx,
        before_minutes,
        options.mip_gap,
    )
    _finish(result, travel_mode)
    return result


def _whole_pupils(model: CountyModel, x: np.ndarray, options: SolverOptions):
    """Make continuous split pupils whole, every other decision fixed but classrooms.

    Each split pair may round its pupils down or up (a 0/1 choice: small domains keep HiGHS
    fast); if no rounding fits, the pairs may move two pupils either way, then anything.
    """
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    K0 = n_x + n_j + n_w
    cl, cu = model.cl.copy(), model.cu.copy()
    fixed = np.ones(len(model.c), dtype=bool)
    fixed[:n_x] = ~model.split_pair
    fixed[K0:] = False  # classrooms and funding floor stay free
    values = np.round(x)
    cl[fixed], cu[fixed] = values[fixed], values[fixed]
    integ = model.integ.copy()
    integ[:n_x] = True
    split = np.flatnonzero(model.split_pair)
    low, high = np.floor(x[split] + 1e-9), np.ceil(x[split] - 1e-9)
    # a small model: solve it well inside the gap left for it
    options = dataclasses.replace(options, mip_gap=0.05 * options.mip_gap)
    for slack in (1.0, None):
        if slack is None:
            cl[split], cu[split] = 0.0, model.cu[split]
        else:
            cl[split] = np.maximum(low - slack, 0.0)
            cu[split] = np.minimum(high + slack, model.cu[split])
        try:
            return _solve(model, cl, cu, integ, options)
        except Infeasible:
            if slack is None:
                raise
    raise AssertionError("unreachable")


def _solve(model: CountyModel, cl, cu, integ, options: SolverOptions):
    try:
        return solve_matrix(
            model.c,
            model.A,
            model.rl,
            model.ru,
            cl,
            cu,
            integ,
            options=options,
            row_groups=model.groups,
        )
    except Infeasible as exc:
        raise explain_infeasible(model, exc) from exc


def explain_infeasible(model: CountyModel, exc: Infeasible) -> Infeasible:
    """Restate a solver infeasibility in pupils and name the settlements and their schools."""
    unit = model.unit
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    index = {(sid[s], PLANNED_BANDS[b]): (s, b) for s, b in zip(ds, db, strict=True)}
    violations, words, settlements = {}, [], []
    where = {sch: j for j, sch in enumerate(ids)}
    scale = model.boarding_scale or {}
    boarding = False

    def size(item):  # boarding rows are scaled: compare them in pupils
        kind, _, school = item[0].partition(" ")
        return -item[1] * (scale.get(where.get(school), 1.0) if kind == "boarding" else 1.0)

    for group, amount in sorted(exc.violations.items(), key=size):
        parts = group.split(" ", 1)
        if parts[0] == "boarding" and where.get(parts[1]) in scale:
            j = where[parts[1]]
            pupils = amount * scale[j]
            boarding = True
            violations[group] = float(pupils)
            places = unit.boarding_places[j]
            today = model.boarders_now[j]
            words.append(
                f"boarding places of {parts[1]}: {pupils:.0f} boarders more than its "
                f"{model.boarding[j]:g} places"
                + (f" ({today:g} board there today)" if today > places else "")
            )
            continue
        parts = group.split(" ")
        if parts[0] == "serve" and (parts[1], parts[2]) in index:
            s, b = index[(parts[1], parts[2])]
            pupils = amount if model.split_band[s, b] else amount * unit.demand[s, b]
            reach = ids[np.unique(model.pj[(model.ps == s) & (model.pb == b)])]
            violations[group] = float(pupils)
            settlements.append(parts[1])
            words.append(
                f"{parts[1]} {parts[2]}: {pupils:.0f} of {unit.demand[s, b]} pupils find no seat "
                f"(schools in reach: {', '.join(reach[:4])}{' ...' if len(reach) > 4 else ''})"
            )
        else:
            violations[group] = float(amount)
            words.append(f"{group} (short by {amount:.4g})")
    if not words:
        return Infeasible(f"{unit.name}: {exc.message}", exc.violations)
    message = (
        f"{unit.name}: no plan meets every requirement: {'; '.join(words[:5])}"
        + (f" and {len(words) - 5} more" if len(words) > 5 else "")
        + "; allow expansions (max_expansion_share), splitting, boarding or longer trips"
        + (" or add boarding places (column boarding_places)" if boarding else "")
    )
    out = Infeasible(message, violations)
    out.settlements = sorted(set(settlements))
    return out


def _school_loads(res: CountyResult):
    model = res.model
    n_j = model.n_schools
    load = np.zeros((n_j, 3))
    np.add.at(load, (model.pj, model.pb), res.pupils)
    return load


def _available(res: CountyResult):
    """Seats, classes and size limit each open school has (own plus absorbed partner)."""
    model = res.model
    seats = np.where(res.open_, model.seats, 0.0)
    classes = np.where(res.open_, model.classes, 0.0)
    size = np.where(res.open_, model.size, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        seats[h] += model.seats[a]
        classes[h] += model.classes[a]
        size[h] += model.size_extra[h]
    return seats, classes, size


def classrooms_after(res: CountyResult) -> np.ndarray:
    """Classrooms each school has after the plan, as ``apply`` counts them: its own, an absorbed
    partner's and those added (0 when closed)."""
    model = res.model
    own = res.unit.schools["classes"].to_numpy(dtype=float)
    rooms = np.where(res.open_, own + res.rooms, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        rooms[h] += own[a]
    return rooms


def _today_pupils(res: CountyResult) -> np.ndarray:
    """Pupils of grades 1-9 each open school holds today, with those of an absorbed partner: a
    school may keep that many even above its seats (crowding is tolerated, never made worse)."""
    model = res.model
    today = np.where(res.open_, model.today, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        today[h] += model.today[a]
    return today


def _boarders_after(res: CountyResult) -> np.ndarray:
    """Boarders each school receives in the plan."""
    model = res.model
    board = np.zeros(model.n_schools)
    np.add.at(board, model.pj, res.pupils * model.pboard)
    return board


def _boarding_room(res: CountyResult) -> tuple[np.ndarray, np.ndarray]:
    """Per school after the plan: the boarding places of the data (inf: no limit) and the most
    boarders the plan may place there (the larger of the places and today's boarders); a
    nine-year host adds those of the school it absorbs; closed schools hold none."""
    model, unit = res.model, res.unit
    places = unit.boarding_places.astype(float).copy()
    room = np.where(res.open_, model.boarding, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        places[h] += unit.boarding_places[a]
        room[h] += model.boarding[a]
    return places, room


def _finish(res: CountyResult, travel_mode: bool) -> None:
    """Choose the fewest classrooms the assignment needs, then verify the plan against the model."""
    model, unit, policy = res.model, res.unit, res.model.policy
    load = _school_loads(res)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    seats, classes, size = _available(res)
    need_seats = np.ceil((load.sum(axis=1) - seats) / model.room_seats - 1e-7)
    need_seats[load.sum(axis=1) <= _today_pupils(res) + _TOL] = 0  # no more than today
    need_classes = np.ceil((load / cap_b).sum(axis=1) - classes - 1e-7)
    res.rooms = np.maximum(0, np.maximum(need_seats, need_classes)).astype(np.int64)
    _verify(res, load, seats, classes, size)
    objective = _plan_objective(res, travel_mode)
    info = res.info
    scale = max(1.0, abs(info.objective or 0.0))
    if info.objective is not None and objective > info.objective + 1e-6 * scale:
        raise SolverError(
            f"{unit.name}: the plan's recomputed objective {objective:.6g} exceeds the solver's "
            f"{info.objective:.6g}",
            info,
        )
    bound = info.bound
    gap = info.gap
    if bound is not None and math.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
        if info.status == "optimal" and objective < bound - 1e-6 * scale:
            raise SolverError(f"{unit.name}: plan objective below the proven bound", info)
    status = info.status
    if status == "optimal" and gap is not None and gap > res.mip_gap * (1 + 1e-6) + 1e-9:
        status = "feasible"  # rounding the split pupils cost more than the tolerance allows
    res.info = dataclasses.replace(info, status=status, objective=objective, gap=gap)


def _verify(res: CountyResult, load, seats, classes, size) -> None:
    """Check the solved plan against the rules, independently of the solver's rows."""
    model, unit, policy = res.model, res.unit, res.model.policy
    ids = unit.schools["school_id"].to_numpy()
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)

    def fail(what: str):
        raise SolverError(f"{unit.name}: the solved plan breaks the model: {what}", res.info)

    used = res.pupils > 0
    # travel limits
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])[model.pb]
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])[model.pb]
    limit = np.where(boards, np.maximum(day, policy.boarding_minutes), day)
    real = unit.travel[model.ps, model.pj]
    breach = unit.breach if unit.breach is not None else np.zeros(unit.demand.shape, bool)
    allowed = breach[model.ps, model.pb] & model.pbreach  # a band today's layout already fails
    if (used & ~allowed & ~(real <= limit + 1e-9)).any():
        p = int(np.flatnonzero(used & ~allowed & ~(real <= limit + 1e-9))[0])
        fail(
            f"settlement {unit.settlements['settlement_id'].iloc[model.ps[p]]} band "
            f"{PLANNED_BANDS[model.pb[p]]} travels {real[p]:.1f} min to {ids[model.pj[p]]}"
        )
    # every pupil placed
    placed = np.zeros(unit.demand.shape, dtype=np.int64)
    np.add.at(placed, (model.ps, model.pb), res.pupils)
    if (placed != unit.demand).any():
        s, b = (int(v[0]) for v in np.nonzero(placed != unit.demand))
        fail(
            f"settlement {unit.settlements['settlement_id'].iloc[s]} {PLANNED_BANDS[b]}: "
            f"{placed[s, b]} of {unit.demand[s, b]} pupils placed"
        )
    per = np.zeros(unit.demand.shape, dtype=np.int64)
    np.add.at(per, (model.ps, model.pb), used.astype(np.int64))
    if (per[~model.split_band] > 1).any():
        fail("a village's band is split between schools although splitting is not allowed")
    # candidate sites: nobody at a site left unbuilt; an opened site within its own limits
    cand = unit.candidate
    if cand.any():
        total = load.sum(axis=1)
        unbuilt = np.flatnonzero(cand & ~res.open_ & (total > 0))
        if len(unbuilt):
            fail(f"{int(total[unbuilt[0]])} pupils assigned to unopened site {ids[unbuilt[0]]}")
        if cand[model.conv[res.converted]].any():
            fail("a candidate site takes part in a nine-year conversion")
        sites = {c.site_id: c for c in policy.candidate_sites}
        county = unit.settlements["county"].to_numpy()
        for j in np.flatnonzero(cand & res.open_):
            c = sites[ids[j]]
            rooms_j = -(-c.capacity // (policy.junior_class_size if c.level == "junior" else
                                        policy.primary_class_size))  # fmt: skip
            if res.rooms[j] > 0 or total[j] > c.capacity + 1e-9:
                fail(f"new site {c.site_id} holds {int(total[j])} pupils, capacity {c.capacity}")
            if (load[j] / cap_b).sum() > rooms_j + 1e-6:
                fail(f"new site {c.site_id}'s {rooms_j} classes exceed the class-size cap")
            if ((load[j] > 0) & ~np.array(_LEVEL_BANDS[c.level], dtype=bool)).any():
                fail(f"new site {c.site_id} receives a band its level does not teach")
            mine = used & (model.pj == j)
            if (county[model.ps[mine]] != c.county).any():
                fail(f"new site {c.site_id} serves pupils of another county")
    # closed schools teach nobody; bands taught
    if (load.sum(axis=1)[~res.open_] > 0).any():
        fail(
            f"closed school {ids[np.flatnonzero(~res.open_ & (load.sum(axis=1) > 0))[0]]} has pupils"
        )
    teaches = unit.teaches.copy()
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        if res.open_[a] or not res.open_[h]:
            fail(f"conversion {ids[a]} -> {ids[h]} with the absorbed school open or host closed")
        teaches[h] |= unit.teaches[a]
    if ((load > 0) & ~teaches).any():
        fail("a school receives a band it does not teach")
    # capacities, class sizes, school sizes
    total = load.sum(axis=1)
    rooms = res.rooms
    if (rooms > model.max_rooms + 1e-9).any():
        j = int(np.flatnonzero(rooms > model.max_rooms + 1e-9)[0])
        fail(f"{ids[j]} needs {rooms[j]} classrooms, more than the expansion limit")
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    over = total > np.maximum(seats + model.room_seats * rooms, _today_pupils(res)) + 1e-6
    if over.any():
        j = int(np.flatnonzero(over)[0])
        fail(
            f"{ids[j]} holds {int(total[j])} pupils, more than its "
            f"{int(seats[j] + model.room_seats[j] * rooms[j])} seats and than today"
        )
    if ((load / cap_b).sum(axis=1) > classes + rooms + 1e-6).any():
        fail("a school's classes exceed the class-size cap")
    if (total > size + 1e-6).any():
        fail("a school exceeds the school-size cap")
    board = _boarders_after(res)
    _, room = _boarding_room(res)
    over = np.flatnonzero(board > room + 1e-6)
    if len(over):
        j = int(over[0])
        fail(
            f"{ids[j]} receives {int(board[j])} boarders, more than its {room[j]:g} boarding "
            "places (or its boarders today)"
        )
    # kept schools
    if (model.fixed_open & ~res.open_).any():
        fail(f"kept school {ids[np.flatnonzero(model.fixed_open & ~res.open_)[0]]} closed")
    absorbed = np.zeros(len(ids), dtype=bool)
    absorbed[model.conv[res.converted, 0]] = True
    if (model.min_kept & ~res.open_ & ~absorbed).any():
        fail("a school at or above min_size was closed")
    for name, members, extra in model.townships:
        if res.open_[members].sum() + res.converted[extra].sum() < 1:
            fail(f"township {name} keeps no junior school")
    if unit.max_schools is not None and res.open_.sum() > unit.max_schools:
        fail(f"{int(res.open_.sum())} schools open, more than max_schools={unit.max_schools}")


def _plan_objective(res: CountyResult, travel_mode: bool) -> float:
    model = res.model
    beyond = float((res.pupils * model.pbreach).sum()) * model.breach_penalty
    if travel_mode:
        return float((res.pupils * model.pt).sum()) + beyond
    return float(sum(_cost_items_after(res).values())) + beyond


def _cost_items_after(res: CountyResult) -> dict[str, float]:
    model, policy = res.model, res.model.policy
    load = _school_loads(res).sum(axis=1)
    floor = policy.funding_yuan_per_pupil * np.maximum(0.0, policy.funding_floor_pupils - load)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    trips = np.where(model.pboard, policy.boarder_trip_share, 1.0)
    cand = res.unit.candidate
    return {
        "sites": float(model.site_cost[res.open_ & ~cand].sum()),
        "new_sites": float(model.site_cost[res.open_ & cand].sum()),
        "funding_floor": float(floor[res.open_].sum()),
        "expansion": float((res.rooms * model.room_seats).sum() * policy.expansion_yuan_per_seat),
        "transport": float(
            (res.pupils * model.pt * trips).sum() * policy.transport_yuan_per_pupil_minute
        ),
        "boarding": float((res.pupils * model.pboard).sum() * board),
    }


def _cost_items_before(res: CountyResult) -> dict[str, float]:
    unit, model, policy = res.unit, res.model, res.model.policy
    load = unit.current.sum(axis=1)
    floor = policy.funding_yuan_per_pupil * np.maximum(0.0, policy.funding_floor_pupils - load)
    minutes = res.before_minutes
    ok = np.isfinite(minutes) & (unit.demand > 0)
    boarding = _boarding_before(minutes, policy) & ok
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    m = np.where(ok, minutes, 0.0)
    old = ~unit.candidate  # candidate sites are closed before the plan
    return {
        "sites": float(model.site_cost[old].sum()),
        "new_sites": 0.0,
        "funding_floor": float(floor[old].sum()),
        "expansion": 0.0,
        "transport": float(
            (unit.demand * m * trips).sum() * policy.transport_yuan_per_pupil_minute
        ),
        "boarding": float((unit.demand * boarding).sum() * board),
    }


def _boarding_before(minutes: np.ndarray, policy: MergerPolicy) -> np.ndarray:
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    return (minutes > day[None, :] + 1e-9) & boards[None, :]
