"""The senior plan recomputed from its tables against its model."""

from __future__ import annotations

import math

import numpy as np

from allocator.errors import SolverError
from allocator.planners.senior.tables import boarding_needed

__all__ = ["verify_tables"]

_TOL = 1e-6


def verify_tables(tables: dict, objective: float, weight: float) -> None:
    """Raise SolverError unless the plan keeps every rule of its model.

    Checked from the tables alone (the norms from ``standard``, each county's needs from
    ``counties``): every assignment is in the pupil's county and within
    ``boarding.max_km``; every settlement's pupils are placed; no school holds more pupils than
    its places, and none is expanded or built beyond the size limit; existing schools stay open
    and lose no places; each county's places needed are filled with general pupils from
    ``general_min`` to ``general_max`` and at least ``vocational_min`` vocational pupils; each
    campus has boarding places for its pupils beyond ``boarding.daily_km`` and ``boarding.share``
    of its pupils, and no more than its ``boarding_capacity`` where one is given; the cost of
    places recomputed from the actions and the prices (expansions,
    new campuses) plus the km term (``weight`` yuan per pupil-km) plus the boarding places the
    pupils need (one beyond ``boarding.daily_km``, ``boarding.share`` of one within it) beyond
    those each campus holds already, at ``costs.boarding_yuan_per_place``, equals the objective;
    each campus's ``boarding_added`` is those places rounded up to whole places.
    """
    k, a, s = tables["schools"], tables["assignments"], tables["settlements"]
    setting = tables["standard"].set_index("setting")["value"]
    requirements = tables["counties"].set_index("county")
    county_of = dict(zip(k["senior_id"], k["county"], strict=True))
    away = a["county"].to_numpy() != a["senior_id"].map(county_of).to_numpy()
    if away.any():
        raise SolverError(
            f"the plan sends pupils of {a['settlement_id'][away].iloc[0]} out of county"
        )
    if (a["km"] > float(setting["boarding.max_km"]) + _TOL).any():
        raise SolverError("the plan sends pupils beyond the largest distance allowed")
    placed = a.groupby("settlement_id")["pupils"].sum().reindex(s["settlement_id"]).fillna(0.0)
    if not np.allclose(placed.to_numpy(), s["pupils"].to_numpy(float), atol=_TOL):
        raise SolverError("the plan leaves pupils of a settlement without a place")
    load = a.groupby("senior_id")["pupils"].sum().reindex(k["senior_id"]).fillna(0.0).to_numpy()
    if (load > k["places_after"].to_numpy() + _TOL).any():
        raise SolverError(
            f"the plan fills {k['senior_id'][load > k['places_after'] + _TOL].iloc[0]} beyond its places"
        )
    grown = k["places_after"] > k["places_before"]
    if (k.loc[grown, "places_after"] > int(setting["size.max_pupils"])).any():
        raise SolverError(
            f"the plan builds or expands a school beyond {int(setting['size.max_pupils'])} pupils"
        )
    existing = k["status_before"] == "open"
    if (k.loc[existing, "action"] == "none").any() or (
        k.loc[existing, "places_after"] < k.loc[existing, "places_before"]
    ).any():
        raise SolverError("the plan closes an existing school or takes places away")
    kinds = k.set_index("senior_id")["kind"]
    by = a.assign(kind=a["senior_id"].map(kinds)).groupby(["county", "kind"])["pupils"].sum()
    for county, r in requirements.iterrows():
        g, v = float(by.get((county, "general"), 0.0)), float(by.get((county, "vocational"), 0.0))
        if abs(g + v - r["needed"]) > _TOL * max(1.0, r["needed"]):
            raise SolverError(f"county {county!r}: {g + v:g} pupils placed, {r['needed']} needed")
        if (
            g < r["general_min"] - _TOL
            or g > r["general_max"] + _TOL
            or v < r["vocational_min"] - _TOL
        ):
            raise SolverError(
                f"county {county!r}: {g:g} general and {v:g} vocational pupils, outside the band"
            )
    share, daily = float(setting["boarding.share"]), float(setting["boarding.daily_km"])
    far = a[a["km"] > daily + 1e-9].groupby("senior_id")["pupils"].sum()
    far = far.reindex(k["senior_id"]).fillna(0.0).to_numpy()
    for row, p, b in zip(k.itertuples(index=False), load, far, strict=True):
        if row.action != "none" and row.boarding_after < boarding_needed(p, b, share):
            raise SolverError(
                f"{row.senior_id} has {row.boarding_after} boarding places, fewer than it needs"
            )
    given = k.get("boarding_capacity")
    limit = np.full(len(k), np.nan) if given is None else given.to_numpy(float)
    over = np.flatnonzero(k["boarding_after"].to_numpy(float) > limit)  # NaN: no limit
    if over.size:
        j = int(over[0])
        raise SolverError(
            f"{k['senior_id'].iloc[j]} has {k['boarding_after'].iloc[j]} boarding places, "
            f"beyond its boarding_capacity of {limit[j]:g}"
        )
    expand = k["added_places"].where(k["action"] == "expand", 0).sum()
    build = k["places_after"].where(k["action"] == "build", 0).sum()
    places_yuan = float(expand * setting["costs.expand_yuan_per_place"]) + float(
        build * setting["costs.build_yuan_per_place"]
    )
    if not math.isclose(places_yuan, float(k["places_yuan"].sum()), rel_tol=1e-9, abs_tol=1e-3):
        raise SolverError(f"the places cost {places_yuan:,.0f} yuan, not as the table says")
    # the model's boarding places bought: the need beyond the places a campus holds, unrounded
    need = np.where(k["action"] != "none", far + share * (load - far), 0.0)
    bought = np.maximum(need - k["boarding_before"].to_numpy(float), 0.0)
    whole = np.ceil(np.round(bought, 6)).astype(np.int64)
    if (k["boarding_added"].to_numpy(np.int64) != whole).any():
        j = int(np.flatnonzero(k["boarding_added"].to_numpy(np.int64) != whole)[0])
        raise SolverError(
            f"{k['senior_id'].iloc[j]} adds {k['boarding_added'].iloc[j]} boarding places; "
            f"its pupils need {whole[j]} beyond those it has"
        )
    boarding_yuan = float(setting["costs.boarding_yuan_per_place"]) * float(bought.sum())
    recomputed = places_yuan + weight * float(np.dot(a["pupils"], a["km"])) + boarding_yuan
    if not math.isclose(recomputed, objective, rel_tol=1e-6, abs_tol=1e-3):
        raise SolverError(
            f"recomputed cost {recomputed:,.2f} differs from the model's {objective:,.2f}"
        )
