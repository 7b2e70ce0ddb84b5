"""The tables of a consolidation plan, built from the solved planning units: closures,
assignments, expansions, openings (new schools), schools, annual costs and travel before and after.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator import metrics
from allocator.planners.mergers.columns import PLANNED_BANDS
from allocator.planners.mergers.data import boarding_before
from allocator.planners.mergers.result import (
    CountyResult,
    available,
    boarders_after,
    boarding_room,
    classrooms_after,
    cost_items_after,
    cost_items_before,
    school_loads,
)

#: Columns of ``MergerPlan.closures``.
CLOSURE_COLUMNS = (
    "school_id", "receiving_school_id", "pupils", "teachers", "reason", "detail", "name", "level",
    "county", "township", "area_type", "boarders", "mean_minutes_before", "mean_minutes_after",
    "receiving_pupils_after", "receiving_class_size_after",
)  # fmt: skip
#: Columns of ``MergerPlan.assignments``.
ASSIGNMENT_COLUMNS = ("settlement_id", "band", "school_id", "pupils", "minutes", "boarding")
#: Columns of ``MergerPlan.expansions``.
EXPANSION_COLUMNS = ("school_id", "seats", "cost", "classrooms")
#: Columns of ``MergerPlan.openings``.
OPENING_COLUMNS = (
    "site_id", "county", "township", "level", "pupils", "annual_cost", "build_cost",
    "annualised_cost", "name", "area_type", "capacity", "classes", "class_size_after", "boarders",
    "receives_from", "boarding_places",
)  # fmt: skip
#: Columns of ``MergerPlan.schools``.
SCHOOL_TABLE_COLUMNS = (
    "school_id", "name", "county", "township", "area_type", "level", "status", "kept_because",
    "site_cost_yuan", "pupils_before", "pupils_after", "class_size_before", "class_size_after",
    "seats_after", "boarders_after", "boarders_before", "boarding_places", "boarding_limit",
)  # fmt: skip
#: Columns of the per-pupil-group travel rows behind ``MergerPlan.travel``.
TRAVEL_ROW_COLUMNS = ("stage", "area_type", "band", "pupils", "minutes", "boarding")


def assignments_table(res: CountyResult) -> pd.DataFrame:
    """One row per settlement band and school that receives some of its pupils."""
    model, unit = res.model, res.unit
    used = res.pupils > 0
    return pd.DataFrame(
        {
            "settlement_id": unit.settlements["settlement_id"].to_numpy()[model.ps[used]],
            "band": np.array(PLANNED_BANDS, dtype=object)[model.pb[used]],
            "school_id": unit.schools["school_id"].to_numpy()[model.pj[used]],
            "pupils": res.pupils[used].astype(np.int64),
            "minutes": np.round(model.pt[used], 3),
            "boarding": model.pboard[used],
        }
    )


def travel_rows(res: CountyResult) -> pd.DataFrame:
    """Per pupil group (settlement, band): area type, pupils, minutes and boarding, both stages."""
    model, unit, policy = res.model, res.unit, res.model.policy
    area = unit.settlements["area_type"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    before = pd.DataFrame(
        {
            "stage": "before",
            "area_type": area[ds],
            "band": db,
            "pupils": unit.demand[ds, db],
            "minutes": res.before_minutes[ds, db],
            "boarding": boarding_before(res.before_minutes, policy)[ds, db],
        }
    )
    used = res.pupils > 0
    after = pd.DataFrame(
        {
            "stage": "after",
            "area_type": area[model.ps[used]],
            "band": model.pb[used],
            "pupils": res.pupils[used],
            "minutes": model.pt[used],
            "boarding": model.pboard[used],
        }
    )
    return pd.concat([before, after], ignore_index=True)


def _reachable_p95(values: np.ndarray, weights: np.ndarray) -> float:
    """Pupil-weighted 95th percentile of the reachable trips (NaN when there are none)."""
    ok = np.isfinite(values) & (weights > 0)
    return metrics.percentile(values[ok], 95, weights=weights[ok]) if ok.any() else float("nan")


def travel_table(rows: pd.DataFrame, lower_primary_minutes: float) -> pd.DataFrame:
    """Travel by stage and area type from :func:`travel_rows`: pupils, mean, 95th percentile and
    maximum minutes, boarders, and the share of grade 1-3 pupils within ``lower_primary_minutes``."""
    out = []
    for stage in ("before", "after"):
        for area in ("urban", "town", "rural", "all"):
            g = rows[(rows["stage"] == stage) & ((rows["area_type"] == area) | (area == "all"))]
            m = g["minutes"].to_numpy(dtype=float)
            w = g["pupils"].to_numpy(dtype=float)
            reach = np.isfinite(m)
            lp = (g["band"].to_numpy() == 0) & reach
            lp_total = w[g["band"].to_numpy() == 0].sum()
            within = w[lp & (m <= lower_primary_minutes + 1e-9)].sum()
            if not len(g):
                continue
            out.append(
                {
                    "stage": stage,
                    "area_type": area,
                    "pupils": int(w.sum()),
                    "mean_minutes": float((m[reach] * w[reach]).sum() / max(w[reach].sum(), 1e-12)),
                    "p95_minutes": _reachable_p95(m, w),
                    "max_minutes": float(m[reach & (w > 0)].max())
                    if (reach & (w > 0)).any()
                    else np.nan,
                    "boarders": int(w[g["boarding"].to_numpy(dtype=bool)].sum()),
                    "lower_primary_within_30_share": float(within / lp_total)
                    if lp_total
                    else np.nan,
                    "unreachable_pupils": int(w[~reach].sum()),
                }
            )
    return pd.DataFrame(out)


def school_table(res: CountyResult) -> pd.DataFrame:
    """One row per re-planned school of the unit: status, keep rule, pupils, classes, seats and
    boarders before and after (new sites are in the openings)."""
    model, unit = res.model, res.unit
    load = school_loads(res)
    seats, _, _ = available(res)
    hosts = np.zeros(model.n_schools, dtype=bool)
    hosts[model.conv[res.converted, 1]] = True
    board = boarders_after(res)
    places, room = boarding_room(res)
    total = load.sum(axis=1)
    classes_after = classrooms_after(res)  # as apply counts them
    s = unit.schools
    before_classes = s["classes"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "school_id": s["school_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "county": s["county"].to_numpy(),
            "township": s["township"].to_numpy(),
            "area_type": s["area_type"].to_numpy(),
            "level": s["level"].to_numpy(),
            "status": np.where(~res.open_, "closed", np.where(hosts, "nine_year_host", "open")),
            # a rule that would keep a school says nothing once it closes into a nine-year school
            "kept_because": np.where(res.open_, np.array(model.kept_because, dtype=object), ""),
            "site_cost_yuan": model.site_cost,
            "pupils_before": unit.current.sum(axis=1),
            "pupils_after": total.astype(np.int64),
            "class_size_before": np.round(
                unit.current.sum(axis=1) / np.maximum(before_classes, 1), 1
            ),
            "class_size_after": np.where(
                res.open_, np.round(total / np.maximum(classes_after, 1), 1), np.nan
            ),
            "seats_after": np.where(res.open_, seats + res.rooms * model.room_seats, 0).astype(
                np.int64
            ),
            "boarders_after": board.astype(np.int64),
            "boarders_before": model.boarders_now.astype(np.int64),
            "boarding_places": np.where(np.isfinite(places), places, np.nan),
            "boarding_limit": np.where(np.isfinite(room), room, np.nan),
        }
    )
    return table[~unit.candidate].reset_index(drop=True)  # new sites are in ``openings``


def closures_table(res: CountyResult, travel_mode: bool) -> pd.DataFrame:
    """One row per closed school: its receiving school, the reason and what the closure implies."""
    model, unit = res.model, res.unit
    ids = unit.schools["school_id"].to_numpy()
    s = unit.schools
    load = school_loads(res).sum(axis=1)
    classes = classrooms_after(res)
    host_of = {int(model.conv[w, 0]): int(model.conv[w, 1]) for w in np.flatnonzero(res.converted)}
    rows = []
    for a in np.flatnonzero(~res.open_ & ~unit.candidate):
        mine = res.before_idx == a  # (n_s, 3): settlement bands that attended a before
        pair_mine = mine[model.ps, model.pb] & (res.pupils > 0)
        if a in host_of:
            receiver, reason = host_of[a], "nine_year"
            detail = f"becomes one nine-year school with {ids[host_of[a]]} on the same site"
        else:
            got = np.zeros(model.n_schools)
            np.add.at(got, model.pj[pair_mine], res.pupils[pair_mine])
            if got.sum() > 0:
                receiver = int(np.argmax(got))
            else:
                usable = res.open_ & (unit.teaches & unit.teaches[a]).any(axis=1)
                usable = usable if usable.any() else res.open_
                cand = np.where(usable, unit.school_travel[a], np.inf)
                # the nearest usable school (the first usable one if none is within reach)
                receiver = (
                    int(np.argmin(cand)) if np.isfinite(cand).any() else int(np.argmax(usable))
                )
            if travel_mode:
                reason = "max_schools"
                detail = f"closed to keep at most {unit.max_schools} schools with least travel"
            else:
                reason = "small_school"
                detail = (
                    f"{int(unit.current[a].sum())} pupils; serving them from nearby schools "
                    "costs less a year than keeping the site"
                )
        p = res.pupils[pair_mine]
        t_after = model.pt[pair_mine]
        bands_mine = np.nonzero(mine & (unit.demand > 0))
        p_before = unit.demand[bands_mine]
        t_before = res.before_minutes[bands_mine]
        rows.append(
            {
                "school_id": ids[a],
                "receiving_school_id": ids[receiver],
                "pupils": int(unit.current[a].sum()),
                "teachers": int(s["teachers"].iloc[a]),
                "reason": reason,
                "detail": detail,
                "name": s["name"].iloc[a],
                "level": s["level"].iloc[a],
                "county": s["county"].iloc[a],
                "township": s["township"].iloc[a],
                "area_type": s["area_type"].iloc[a],
                "boarders": int((p * model.pboard[pair_mine]).sum()),
                "mean_minutes_before": float((p_before * t_before).sum() / p_before.sum())
                if p_before.sum()
                else np.nan,
                "mean_minutes_after": float((p * t_after).sum() / p.sum()) if p.sum() else np.nan,
                "receiving_pupils_after": int(load[receiver]),
                "receiving_class_size_after": round(
                    float(load[receiver] / max(classes[receiver], 1)), 1
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(CLOSURE_COLUMNS))


def openings_table(res: CountyResult, closures: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate site the plan opens (a new school to build)."""
    model, unit, policy = res.model, res.unit, res.model.policy
    j = np.flatnonzero(res.open_ & unit.candidate)
    s = unit.schools
    load = school_loads(res)
    board = boarders_after(res)
    ids = s["school_id"].to_numpy()
    sites = {c.site_id: c for c in policy.candidate_sites or ()}
    into = (
        closures.groupby("receiving_school_id")["school_id"].agg(";".join) if len(closures) else {}
    )
    rows = []
    for k in j:
        c = sites[ids[k]]
        pupils = int(load[k].sum())
        rows.append(
            {
                "site_id": c.site_id,
                "county": c.county,
                "township": c.township,
                "level": c.level,
                "pupils": pupils,
                "annual_cost": c.annual_cost,
                "build_cost": c.build_cost,
                "annualised_cost": float(model.site_cost[k]),
                "name": s["name"].iloc[k],
                "area_type": s["area_type"].iloc[k],
                "capacity": c.capacity,
                "classes": int(s["classes"].iloc[k]),
                "class_size_after": round(pupils / max(int(s["classes"].iloc[k]), 1), 1),
                "boarders": int(board[k]),
                "receives_from": into.get(c.site_id, "") if len(closures) else "",
                "boarding_places": np.nan if c.boarding_places is None else c.boarding_places,
            }
        )
    return pd.DataFrame(rows, columns=list(OPENING_COLUMNS))


def expansions_table(res: CountyResult) -> pd.DataFrame:
    """One row per school that adds classrooms: seats, annual cost and classrooms."""
    model, unit, policy = res.model, res.unit, res.model.policy
    j = np.flatnonzero(res.rooms > 0)
    seats = (res.rooms[j] * model.room_seats[j]).astype(np.int64)
    return pd.DataFrame(
        {
            "school_id": unit.schools["school_id"].to_numpy()[j],
            "seats": seats,
            "cost": seats * policy.expansion_yuan_per_seat,
            "classrooms": res.rooms[j].astype(np.int64),
        }
    )


def cost_table(results: list[CountyResult], new_sites: bool = False) -> pd.DataFrame:
    """Annual cost by item before and after the plan, summed over the units (``new_sites``: with
    the item of candidate sites)."""
    items = ("sites", "funding_floor", "expansion", "transport", "boarding")
    if new_sites:  # only when candidate sites were given: the table is unchanged otherwise
        items = ("sites", "new_sites", *items[1:])
    before = dict.fromkeys(items, 0.0)
    after = dict.fromkeys(items, 0.0)
    for r in results:
        for k, v in cost_items_before(r).items():
            before[k] = before.get(k, 0.0) + v
        for k, v in cost_items_after(r).items():
            after[k] = after.get(k, 0.0) + v
    table = pd.DataFrame(
        {"item": [*items, "total"],
         "before": [*(before[k] for k in items), sum(before.values())],
         "after": [*(after[k] for k in items), sum(after.values())]}
    )  # fmt: skip
    table["change"] = table["after"] - table["before"]
    return table
