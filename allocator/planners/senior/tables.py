"""The senior plan's tables from the core's results, one per county."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from allocator.planners.senior.data import SeniorData

__all__ = ["plan_tables", "boarding_needed"]


def boarding_needed(pupils: float, beyond: float, share: float) -> int:
    """Boarding places a campus needs: one for every pupil beyond the daily travel limit and
    ``share`` of one for every other pupil (rounded up to whole places). Linear in the pupils,
    so the model prices each pupil's place exactly (:func:`~.model.pair_costs`).

    Examples
    --------
    >>> boarding_needed(1000, 100, 0.7), boarding_needed(1000, 800, 0.7)
    (730, 940)
    """
    return int(math.ceil(round(beyond + share * (pupils - beyond), 6)))


def plan_tables(data: SeniorData, chosen: np.ndarray, flows: list) -> dict[str, pd.DataFrame]:
    """``schools``, ``counties``, ``assignments``, ``settlements`` and ``standard``.

    ``chosen``: rows of ``data.levels`` chosen; ``flows``: (settlement row, site row, pupils).
    """
    norms = data.norms
    share = float(norms.value("boarding.share"))
    daily = float(norms.value("boarding.daily_km"))
    boarding_price = float(norms.value("costs.boarding_yuan_per_place"))
    sites, st = data.sites, data.settlements
    i, j, x = (np.asarray(v) for v in zip(*flows, strict=True)) if flows else ([], [], [])
    i, j, x = np.asarray(i, int), np.asarray(j, int), np.asarray(x, float)
    km = np.asarray(data.km[i, j]).ravel() if x.size else np.zeros(0)
    a = pd.DataFrame({
        "settlement_id": st["settlement_id"].to_numpy()[i],
        "county": st["county"].to_numpy()[i],
        "senior_id": sites["senior_id"].to_numpy()[j],
        "name": sites["name"].to_numpy()[j],
        "pupils": np.round(x, 6),
        "km": km,
        "boards": km > daily + 1e-9,
    })  # fmt: skip
    a = a[a["pupils"] > 0].sort_values(["county", "settlement_id", "senior_id"])
    n = len(sites)
    load = np.bincount(j, weights=x, minlength=n)
    beyond = np.bincount(j, weights=x * (km > daily + 1e-9), minlength=n)
    lv = data.levels.loc[chosen].set_index("site")
    picked = np.isin(np.arange(n), lv.index)
    k = sites.rename(columns={"status": "status_before", "places": "places_before",
                              "boarding_places": "boarding_before", "kind": "kind_before"})  # fmt: skip
    pick = lv.reindex(np.arange(n))
    k["action"] = np.where(picked, pick["action"].to_numpy(object), "none")
    k["kind"] = np.where(picked, pick["kind"].to_numpy(object), k["kind_before"])
    k["places_after"] = np.where(picked, pick["places"].fillna(0), k["places_before"]).astype(int)
    k["added_places"] = np.where(picked, pick["added"].fillna(0), 0).astype(int)
    k["pupils"] = np.round(load, 6)
    k["pupils_beyond_daily_km"] = np.round(beyond, 6)
    need = [boarding_needed(p, b, share) if on else 0
            for p, b, on in zip(load, beyond, picked, strict=True)]  # fmt: skip
    k["boarding_needed"] = need
    k["boarding_after"] = np.maximum(k["boarding_before"], need)
    k["boarding_added"] = k["boarding_after"] - k["boarding_before"]
    k["places_yuan"] = np.where(picked, pick["cost_yuan"].fillna(0.0), 0.0)
    k["boarding_yuan"] = k["boarding_added"] * boarding_price
    k["capital_yuan"] = k["places_yuan"] + k["boarding_yuan"]
    with np.errstate(divide="ignore", invalid="ignore"):
        k["utilisation"] = np.where(k["places_after"] > 0, load / k["places_after"], 0.0)
    k = k.drop(columns="kind_before")
    s = st.copy()
    s["placed"] = np.round(np.bincount(i, weights=x, minlength=len(st)), 6)
    dense = data.km.tocoo()
    nearest = pd.Series(dense.data).groupby(dense.row).min() if dense.nnz else pd.Series()
    s["nearest_site_km"] = nearest.reindex(np.arange(len(st))).to_numpy()
    return {
        "schools": k.reset_index(drop=True),
        "counties": county_rows(data, k),
        "assignments": a.reset_index(drop=True),
        "settlements": s,
        "standard": pd.DataFrame(norms.table()),
    }


def county_rows(data: SeniorData, k: pd.DataFrame) -> pd.DataFrame:
    """Per county: the requirements, the places and pupils by kind before and after, the
    general share of pupils and whether every target is met."""
    out = data.requirements.copy()
    out.index.name = "county"
    open_ = k["status_before"] == "open"
    for kind in ("general", "vocational"):
        mine = k["kind"] == kind
        out[f"{kind}_places_before"] = (
            k[open_ & mine].groupby("county")["places_before"].sum().reindex(out.index).fillna(0)
        ).astype(int)
        out[f"{kind}_places_after"] = (
            k[mine].groupby("county")["places_after"].sum().reindex(out.index).fillna(0)
        ).astype(int)
        out[f"{kind}_pupils"] = k[mine].groupby("county")["pupils"].sum().reindex(out.index)
        out[f"{kind}_pupils"] = out[f"{kind}_pupils"].fillna(0.0).round(6)
    out["placed"] = (out["general_pupils"] + out["vocational_pupils"]).round(6)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["general_share"] = np.where(
            out["placed"] > 0, out["general_pupils"] / out["placed"], np.nan
        )
    tol = 1e-6
    out["met"] = (
        (out["placed"] >= out["needed"] - tol)
        & (out["general_pupils"] >= out["general_min"] - tol)
        & (out["general_pupils"] <= out["general_max"] + tol)
        & (out["vocational_pupils"] >= out["vocational_min"] - tol)
    )
    return out.reset_index()
