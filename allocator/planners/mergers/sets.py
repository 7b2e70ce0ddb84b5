"""The consolidation model's sets and numbers for one planning unit: which settlement band may go
to which school (pairs), which schools the keep rules hold open, which primary and junior schools
may become one nine-year school, and each school's seats, classes, size and boarding limits.

The formulation is stated in :mod:`allocator.planners.mergers.model`, which turns these numbers
into the MILP's rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import Infeasible
from allocator.planners.mergers.columns import BREACH_SCHOOLS, PLANNED_BANDS, TOL
from allocator.planners.mergers.data import County, boarders_today, nearest_before
from allocator.planners.mergers.policy import MergerPolicy

_SENIOR_CLASS = 50


# ------------------------------------------------------------------------------------ model
@dataclass
class CountyModel:
    """The sets and numbers of one planning unit's model (see the module docstring)."""

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


def _conversions(unit: County, policy: MergerPolicy, total_now: np.ndarray) -> np.ndarray:
    """(n_w, 2) candidate nine-year conversions (absorbed a, host h): a primary and a junior
    school on one site whose nine-year school would not be oversized at today's enrolment."""
    level = unit.schools["level"].to_numpy()
    cand = unit.candidate
    conv = np.zeros((0, 2), dtype=np.int64)
    if policy.allow_nine_year and len(unit.schools):
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
    return conv


def band_limits(policy: MergerPolicy) -> np.ndarray:
    """Each planned band's farthest allowed trip: its day limit, or the boarding limit where the
    band may board and that is longer."""
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    return np.where(boards, np.maximum(day, policy.boarding_minutes), day)


def out_of_reach(unit: County, policy: MergerPolicy, before_minutes: np.ndarray) -> np.ndarray:
    """(settlements, 3) bool: the bands with no school or candidate site teaching them within
    their limit, but a school today beyond it (``before_minutes``: :func:`nearest_before`'s)."""
    limits = band_limits(policy)
    within = np.zeros(before_minutes.shape, dtype=bool)
    for b in range(3):
        within[:, b] = ((unit.travel <= limits[b] + 1e-9) & unit.teaches[:, b][None, :]).any(axis=1)
    return ~within & np.isfinite(before_minutes)


def _keep_nearest(unit, policy, before, fixed, kept_because) -> None:
    """A band beyond its limit from every school keeps what exists: its nearest school today
    stays open while the band has pupils, this year or (``unit.later_demand``) a later year of
    the plan, so that no plan makes its trip longer (a closure early in the horizon, when the
    village has no pupils, would otherwise lengthen its trips when it has some again)."""
    before_idx, before_minutes = before
    pupils = unit.demand > 0
    if unit.later_demand is not None:
        pupils = pupils | unit.later_demand
    keep = out_of_reach(unit, policy, before_minutes) & pupils & (before_idx >= 0)
    names = unit.settlements["settlement_id"].to_numpy()
    for s, b in zip(*np.nonzero(keep), strict=True):
        j = int(before_idx[s, b])
        fixed[j] = True
        kept_because[j].append(
            f"nearest school of {PLANNED_BANDS[b]} in {names[s]} "
            f"({before_minutes[s, b]:.0f} min; none within the limit)"
        )


def _keep_rules(unit: County, policy: MergerPolicy, before) -> tuple[np.ndarray, list[list[str]]]:
    """Schools the keep rules hold open (must keep, senior high, the only school within the
    lower-primary limit of some pupils, the nearest school of a band beyond its limit from every
    school) and the rules that keep each."""
    n_j = len(unit.schools)
    ids = unit.schools["school_id"].to_numpy()
    level = unit.schools["level"].to_numpy()
    cand = unit.candidate
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
    _keep_nearest(unit, policy, before, fixed, kept_because)
    return fixed, kept_because


@dataclass(frozen=True)
class _Pairs:
    """The allowed (settlement band, school) pairs, sorted by settlement, band and school."""

    ps: np.ndarray  # settlement
    pb: np.ndarray  # band
    pj: np.ndarray  # school
    pt: np.ndarray  # minutes
    pbreach: np.ndarray  # beyond the band's travel limit (a band today's layout fails)


def _pairs(
    unit: County, policy: MergerPolicy, can: np.ndarray, sure: np.ndarray, before_minutes
) -> _Pairs:
    """Each band's nearest schools within its day (and boarding) limit, and for the bands today's
    layout already fails their nearest schools beyond it (a band beyond its limit from every
    school: only schools no farther than its nearest today, so that its trip never grows)."""
    n_j = len(unit.schools)
    limits_day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    has = unit.demand > 0
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
        reach = out_of_reach(unit, policy, before_minutes)
        for b in range(3):
            rows = np.flatnonzero(unit.breach[:, b] & has[:, b])
            if not len(rows):
                continue
            limit = max(limits_day[b], policy.boarding_minutes) if boards[b] else limits_day[b]
            far = can[:, b][None, :] & (unit.travel[rows] > limit + 1e-9)
            far &= np.isfinite(unit.travel[rows])
            far &= ~reach[rows, b][:, None] | (
                unit.travel[rows] <= before_minutes[rows, b][:, None] + 1e-9
            )
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
    return _Pairs(ps[order], pb[order], pj[order], pt[order], pbreach[order])


def _split_bands(unit: County, policy: MergerPolicy) -> np.ndarray:
    """(settlements, 3) bool: the settlement bands that may be split between schools."""
    split_settlement = (
        np.full(len(unit.settlements), bool(policy.split))
        | unit.settlements["area_type"].isin(policy.split_area_types).to_numpy()
    )
    split_band = np.repeat(split_settlement[:, None], 3, axis=1)
    if unit.breach is not None:
        split_band |= unit.breach
    if unit.split_today is not None:
        split_band |= unit.split_today
    return split_band


def _capacities(
    unit: County, policy: MergerPolicy, conv: np.ndarray, can: np.ndarray, total_now: np.ndarray
) -> dict[str, np.ndarray]:
    """Seats, classes, size caps and classrooms each school may add, never tighter than what the
    school holds today."""
    schools = unit.schools
    level = schools["level"].to_numpy()
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    cap_seats = schools["capacity"].to_numpy(dtype=float)
    seats = np.maximum(cap_seats - unit.senior, 0.0)
    today = unit.current.sum(axis=1).astype(float)
    grow_cap = today > seats + TOL
    for a, h in conv:
        grow_cap[h] |= today[a] > seats[a] + TOL
    need_now = (unit.current / cap_b).sum(axis=1) + unit.senior / _SENIOR_CLASS
    classes = np.maximum(schools["classes"].to_numpy(dtype=float), need_now) - (
        unit.senior / _SENIOR_CLASS
    )
    size_cap = np.array([policy.size_cap(v) for v in level], dtype=float)
    size = np.maximum(size_cap, total_now) - unit.senior
    size_extra = np.maximum(0.0, policy.nine_year_school_size - (size + unit.senior))
    room_seats = np.where(
        can[:, 0] | can[:, 1], policy.primary_class_size, policy.junior_class_size
    )
    max_rooms = np.floor(policy.max_expansion_share * cap_seats / room_seats + 1e-9)
    max_rooms[unit.candidate] = 0.0  # a new site is built at its capacity
    return {
        "seats": seats,
        "today": today,
        "grow_cap": grow_cap,
        "classes": classes,
        "size": size,
        "size_extra": size_extra,
        "room_seats": room_seats.astype(float),
        "max_rooms": np.maximum(max_rooms, 0.0),
    }


def _site_costs(unit: County, policy: MergerPolicy) -> np.ndarray:
    """Yearly cost of keeping each site open (a candidate site's: running plus building)."""
    schools = unit.schools
    if "site_cost_yuan" in schools.columns:
        site_cost = pd.to_numeric(schools["site_cost_yuan"], errors="coerce").to_numpy(float)
        site_cost = np.where(np.isfinite(site_cost), site_cost, policy.site_yuan)
    else:
        site_cost = np.full(len(schools), policy.site_yuan)
    return np.where(unit.candidate, unit.new_site_cost, site_cost)


def _townships(unit: County, policy: MergerPolicy, conv: np.ndarray) -> list:
    """(township, its junior-teaching schools, conversions giving a host a junior band) for every
    township that has a junior school today."""
    townships = []
    if policy.township_keeps_junior and len(unit.schools):
        town = unit.schools["township"].to_numpy()
        for name in dict.fromkeys(town[unit.teaches[:, 2] & ~unit.candidate]):
            # a new junior-teaching site of the township counts as its junior school
            members = np.flatnonzero((town == name) & unit.teaches[:, 2])
            extra = [
                w
                for w, (a, h) in enumerate(conv)
                if town[h] == name and unit.teaches[a, 2] and not unit.teaches[h, 2]
            ]
            townships.append((name, members, np.array(extra, dtype=np.int64)))
    return townships


def build_model(unit: County, policy: MergerPolicy, travel_mode: bool, before=None) -> CountyModel:
    """The model's sets and numbers; ``before`` is :func:`nearest_before` (computed if None).

    Examples
    --------
    >>> from allocator.planners.mergers.data import make_unit
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=1)
    >>> every = slice(None)
    >>> unit = make_unit(region, "all", every, every, None, 180.0)
    >>> build_model(unit, MergerPolicy(), False).n_schools == len(unit.schools)
    True
    """
    n_j = len(unit.schools)
    total_now = unit.current.sum(axis=1) + unit.senior
    conv = _conversions(unit, policy, total_now)
    before = before if before is not None else nearest_before(unit, policy)
    fixed, kept_because = _keep_rules(unit, policy, before)
    if len(conv):  # an absorbed school must be closable
        conv = conv[~fixed[conv[:, 0]]]
    min_kept = (unit.current.sum(axis=1) >= policy.min_size) & ~fixed & (policy.min_size > 0)
    for j in np.flatnonzero(min_kept):
        kept_because[j].append(f"{int(unit.current[j].sum())} pupils >= min_size {policy.min_size}")
    # teaching bands, including those a host gains
    gains = np.zeros((n_j, 3), dtype=bool)
    for a, h in conv:
        gains[h] |= unit.teaches[a] & ~unit.teaches[h]
    can = unit.teaches | gains
    # demands in the order of settlement then band (numpy boolean indexing is row-major)
    demand_index = np.full(unit.demand.shape, -1, dtype=np.int64)
    has = unit.demand > 0
    demand_index[has] = np.arange(int(has.sum())).reshape(-1)
    pairs = _pairs(unit, policy, can, fixed | min_kept, before[1])
    limits_day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    # grades that never board travel daily even beyond their limit
    pboard = (pairs.pt > limits_day[pairs.pb] + 1e-9) & boards[pairs.pb]
    split_band = _split_bands(unit, policy)
    caps = _capacities(unit, policy, conv, can, total_now)
    site_cost = _site_costs(unit, policy)
    # boarding places (never tighter than the boarders a school has today)
    before_idx, before_minutes = before
    boarders_now = boarders_today(unit, policy, before_idx, before_minutes)
    return CountyModel(
        unit=unit,
        policy=policy,
        ps=pairs.ps,
        pb=pairs.pb,
        pj=pairs.pj,
        pt=pairs.pt,
        pboard=pboard,
        pnew=gains[pairs.pj, pairs.pb],
        split_band=split_band,
        split_pair=split_band[pairs.ps, pairs.pb],
        demand_index=demand_index,
        fixed_open=fixed,
        kept_because=["; ".join(k) for k in kept_because],
        min_kept=min_kept,
        conv=conv,
        **caps,
        site_cost=site_cost,
        townships=_townships(unit, policy, conv),
        boarders_now=boarders_now,
        boarding=np.maximum(unit.boarding_places, boarders_now),
        pbreach=pairs.pbreach,
        breach_penalty=_breach_penalty(unit, policy, travel_mode, site_cost, caps["room_seats"]),
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
