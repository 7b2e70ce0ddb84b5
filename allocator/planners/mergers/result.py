"""A solved planning unit (:class:`CountyResult`) and what follows from it: each school's pupils,
seats, classrooms and boarders after the plan, the plan's annual cost by item before and after,
and an independent check of the plan against the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allocator.errors import SolverError
from allocator.planners.mergers.columns import LEVEL_BANDS, PLANNED_BANDS
from allocator.planners.mergers.data import County, boarding_before
from allocator.planners.mergers.sets import CountyModel
from allocator.solver import SolveInfo


@dataclass
class CountyResult:
    """One planning unit's solved plan: pupils per pair, open schools, conversions, classrooms
    added, and where each settlement band goes today."""

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
    shape: tuple[int, int] = (0, 0)  # rows and columns of the unit's MILP


def school_loads(res: CountyResult):
    """(schools, 3) pupils of each band each school receives in the plan."""
    model = res.model
    n_j = model.n_schools
    load = np.zeros((n_j, 3))
    np.add.at(load, (model.pj, model.pb), res.pupils)
    return load


def available(res: CountyResult):
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


def today_pupils(res: CountyResult) -> np.ndarray:
    """Pupils of grades 1-9 each open school holds today, with those of an absorbed partner: a
    school may keep that many even above its seats (crowding is tolerated, never made worse)."""
    model = res.model
    today = np.where(res.open_, model.today, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        today[h] += model.today[a]
    return today


def boarders_after(res: CountyResult) -> np.ndarray:
    """Boarders each school receives in the plan."""
    model = res.model
    board = np.zeros(model.n_schools)
    np.add.at(board, model.pj, res.pupils * model.pboard)
    return board


def boarding_room(res: CountyResult) -> tuple[np.ndarray, np.ndarray]:
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


def check_plan(res: CountyResult, load, seats, classes, size) -> None:
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
            if ((load[j] > 0) & ~np.array(LEVEL_BANDS[c.level], dtype=bool)).any():
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
    over = total > np.maximum(seats + model.room_seats * rooms, today_pupils(res)) + 1e-6
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
    board = boarders_after(res)
    _, room = boarding_room(res)
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


def plan_objective(res: CountyResult, travel_mode: bool) -> float:
    """The plan's objective recomputed from its decisions (yuan, or pupil-minutes in travel
    mode), with the penalty for pupils beyond their limits."""
    model = res.model
    beyond = float((res.pupils * model.pbreach).sum()) * model.breach_penalty
    if travel_mode:
        return float((res.pupils * model.pt).sum()) + beyond
    return float(sum(cost_items_after(res).values())) + beyond


def cost_items_after(res: CountyResult) -> dict[str, float]:
    """Annual yuan by cost item after the plan."""
    model, policy = res.model, res.model.policy
    load = school_loads(res).sum(axis=1)
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


def cost_items_before(res: CountyResult) -> dict[str, float]:
    """Annual yuan by cost item today (candidate sites closed)."""
    unit, model, policy = res.unit, res.model, res.model.policy
    load = unit.current.sum(axis=1)
    floor = policy.funding_yuan_per_pupil * np.maximum(0.0, policy.funding_floor_pupils - load)
    minutes = res.before_minutes
    ok = np.isfinite(minutes) & (unit.demand > 0)
    boarding = boarding_before(minutes, policy) & ok
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
