"""The senior plan's tables from the core's results, one per county."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from allocator.i18n import Words, language_of
from allocator.planners.senior.data import SeniorData

__all__ = ["plan_tables", "boarding_needed", "campus_names"]


def boarding_needed(pupils: float, beyond: float, share: float) -> int:
    """Boarding places a campus needs: one for every pupil beyond the daily travel limit and
    ``share`` of one for every other pupil (rounded up to whole places). Linear in the pupils,
    so the model prices each pupil's place exactly (:func:`~.model.boarding_resource`), before
    the rounding.

    Examples
    --------
    >>> boarding_needed(1000, 100, 0.7), boarding_needed(1000, 800, 0.7)
    (730, 940)
    """
    return int(math.ceil(round(beyond + share * (pupils - beyond), 6)))


def _places_by_node(region) -> dict[str, str]:
    """Road node -> the name a planner knows it by: the first school there, else the township of
    a settlement there (a region without names gives none)."""
    if region is None:
        return {}
    near: dict[str, str] = {}
    s = region.settlements
    if "township" in s.columns:
        for node, town in zip(s["node"].astype(str), s["township"], strict=True):
            if isinstance(town, str) and town.strip():
                near.setdefault(node, town.strip())
    schools = {}
    for node, name in zip(region.schools["node"].astype(str), region.schools["name"], strict=True):
        if isinstance(name, str) and name.strip():
            schools.setdefault(node, name.strip())
    return near | schools


def campus_names(sites: pd.DataFrame, built: dict[int, str], region=None) -> np.ndarray:
    """The sites' names with each new campus (``built``: site row -> kind) named for a planner,
    in the region's language (:func:`allocator.i18n.language_of` its school, site and county
    names): "新建普通高中1（桃松实验中学附近）", "new general campus 1 (near Riverside School)",
    after the school at its road node, else the township of a settlement there, else the node.
    A candidate site left unbuilt (``status`` "candidate", when the column is given) is named
    the same way: "候选校址1（…附近）", "candidate site 1 (near …)". Numbered per kind, county
    by county; every name differs from the others and from the sites'.

    Examples
    --------
    >>> sites = pd.DataFrame({"name": ["城南中学", "site c0s2", "site v7"],
    ...                       "county": ["江县"] * 3, "node": ["c0s1", "c0s2", "v7"]})
    >>> campus_names(sites, {1: "general", 2: "vocational"}).tolist()
    ['城南中学', '新建普通高中1（c0s2附近）', '新建中职学校1（v7附近）']
    >>> sites = pd.DataFrame({"name": ["site a", "site b"], "county": ["North"] * 2,
    ...                       "node": ["a", "b"], "status": ["candidate"] * 2})
    >>> campus_names(sites, {0: "general"}).tolist()
    ['new general campus 1 (near a)', 'candidate site 1 (near b)']
    """
    names = sites["name"].to_numpy(object).copy()
    unbuilt = {}
    if "status" in sites:
        status = sites["status"].to_numpy(object)
        unbuilt = {j: None for j in np.flatnonzero(status == "candidate") if j not in built}
    renamed = built | unbuilt
    if not renamed:
        return names
    near = _places_by_node(region)
    pool = [*sites["name"], *sites["county"], *near.values()]
    words = Words(language_of(pool))
    taken = {str(n) for j, n in enumerate(names) if j not in renamed}
    numbers: dict[str | None, int] = {}
    county = {c: i for i, c in enumerate(dict.fromkeys(sites["county"]))}  # as first listed
    for j in sorted(renamed, key=lambda j: (j in unbuilt, county[sites["county"].iloc[j]], j)):
        kind, node = renamed[j], str(sites["node"].iloc[j])
        while True:
            numbers[kind] = numbers.get(kind, 0) + 1
            at = near.get(node, node)
            name = (
                words("senior.candidate_name", n=numbers[kind], near=at)
                if kind is None
                else words("senior.campus_name", kind=words(f"senior.campus_kind.{kind}"),
                           n=numbers[kind], near=at)
            )  # fmt: skip
            if name not in taken:
                break
        taken.add(name)
        names[j] = name
    return names


def plan_tables(
    data: SeniorData, chosen: np.ndarray, flows: list, region=None
) -> dict[str, pd.DataFrame]:
    """``schools``, ``counties``, ``assignments``, ``settlements`` and ``standard``.

    ``chosen``: rows of ``data.levels`` chosen; ``flows``: (settlement row, site row, pupils).
    A new campus is named by :func:`campus_names` (its road node stays in the column ``node``);
    ``region`` gives the names of the places it is near.
    """
    norms = data.norms
    share = float(norms.value("boarding.share"))
    daily = float(norms.value("boarding.daily_km"))
    boarding_price = float(norms.value("costs.boarding_yuan_per_place"))
    st = data.settlements
    lv = data.levels.loc[chosen].set_index("site")
    new = lv[lv["action"] == "build"]
    built = dict(zip(new.index.astype(int), new["kind"].astype(str), strict=True))
    sites = data.sites.assign(name=campus_names(data.sites, built, region))
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
