"""The kindergarten plan's tables from the core's result."""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.location import LevelResult
from allocator.planners.kindergartens.data import KindergartenData
from allocator.region import AREA_TYPES

__all__ = ["plan_tables", "target_rows", "reach_rows", "REACH_COLUMNS"]

#: The columns of a plan's ``kindergarten_reach`` table (:func:`reach_rows`).
REACH_COLUMNS = (
    "area_type",
    "children",
    "within_reach",
    "beyond_limit",
    "placed",
    "enrolment_rate_within_reach",
    "gross_enrolment_rate",
)


def plan_tables(data: KindergartenData, result: LevelResult) -> dict[str, pd.DataFrame]:
    """``kindergartens``, ``settlements``, ``assignments`` (the plan) and ``standard``."""
    sites, lv, st = data.sites, data.levels, data.settlements
    chosen = lv.iloc[result.levels].set_index("site")
    flows = result.flows.tocoo()
    load = np.bincount(flows.col, weights=flows.data, minlength=len(sites))
    k = sites.rename(
        columns={
            "status": "status_before",
            "ownership": "ownership_before",
            "places": "places_before",
            "classes": "classes_before",
        }
    )
    j = np.arange(len(sites))
    picked = np.isin(j, chosen.index)
    k["action"] = np.where(picked, chosen["action"].reindex(j).to_numpy(object), "none")
    k["ownership_after"] = np.where(
        picked, chosen["ownership"].reindex(j).to_numpy(object), k["ownership_before"]
    )
    k["places_after"] = np.where(picked, chosen["places"].reindex(j).fillna(0), 0).astype(int)
    k["classes_after"] = np.where(picked, chosen["classes"].reindex(j).fillna(0), 0).astype(int)
    k["capital_yuan"] = np.where(picked, chosen["capital_yuan"].reindex(j).fillna(0), 0.0)
    k["subsidy_yuan_per_year"] = np.where(
        picked, chosen["subsidy_yuan_per_year"].reindex(j).fillna(0), 0.0
    )
    k["children"] = np.round(load, 6)
    with np.errstate(divide="ignore", invalid="ignore"):
        k["utilisation"] = np.where(k["places_after"] > 0, load / k["places_after"], 0.0)
    walk = data.walk.tocoo()
    nearest = np.full(len(st), np.nan)
    if walk.nnz:
        order = np.lexsort((walk.data, walk.row))
        first = np.unique(walk.row[order], return_index=True)
        nearest[first[0]] = walk.data[order][first[1]]
    s = st.copy()
    s["placed"] = np.round(result.served, 6)
    s["unplaced"] = np.round(s["children"] - result.served, 6)
    s["within_limit"] = np.diff(data.walk.indptr) > 0
    s["nearest_site_minutes"] = nearest
    minutes = np.asarray(data.walk[flows.row, flows.col]).ravel()
    assignments = pd.DataFrame(
        {
            "settlement_id": st["settlement_id"].to_numpy()[flows.row],
            "kindergarten_id": sites["kindergarten_id"].to_numpy()[flows.col],
            "children": np.round(flows.data, 6),
            "walking_minutes": minutes,
            "limit_minutes": st["limit_minutes"].to_numpy()[flows.row],
        }
    )
    assignments = assignments[assignments["children"] > 0]
    assignments = assignments.sort_values(["settlement_id", "kindergarten_id"])
    return {
        "kindergartens": k.reset_index(drop=True),
        "settlements": s.reset_index(drop=True),
        "assignments": assignments.reset_index(drop=True),
        "standard": pd.DataFrame(data.norms.table()),
    }


def target_rows(data: KindergartenData, tables: dict, placed_before: float) -> pd.DataFrame:
    """The ``targets`` table: each indicator before and after, its target, scope and source.

    ``placed_before``: the most children today's kindergartens can take within the walking
    limits (the enrolment rates before); the shares before are today's places by ownership.
    """
    norms = data.norms
    k, s = tables["kindergartens"], tables["settlements"]
    children = float(s["children"].sum())
    reachable = float(s.loc[s["within_limit"], "children"].sum())
    placed = float(s["placed"].sum())
    open_before = k[k["status_before"] == "open"]

    def share(df, column, owners, total):
        """The share of ``total`` in kindergartens of ``owners`` (None when there is none)."""
        whole = float(df[total].sum())
        return float(df.loc[df[column].isin(owners), total].sum()) / whole if whole else None

    incl = ("public", "inclusive_private")
    rows = [
        ("gross_enrolment_rate", norms.gross_enrolment_rate,
         placed_before / children if children else 1.0,
         placed / children if children else 1.0, "targets.gross_enrolment_rate"),
        ("enrolment_rate_within_reach", norms.gross_enrolment_rate,
         placed_before / reachable if reachable else 1.0,
         placed / reachable if reachable else 1.0, "targets.gross_enrolment_rate"),
        ("inclusive_share", norms.inclusive_share,
         share(open_before, "ownership_before", incl, "places_before"),
         share(k, "ownership_after", incl, "children"), "targets.inclusive_share"),
        ("public_share", norms.public_share,
         share(open_before, "ownership_before", ("public",), "places_before"),
         share(k, "ownership_after", ("public",), "children"), "targets.public_share"),
    ]  # fmt: skip
    out = pd.DataFrame(rows, columns=["indicator", "target", "before", "after", "setting"])
    out["scope"] = [norms.scope_of(p) for p in out["setting"]]
    out["source"] = [norms.source_of(p) for p in out["setting"]]
    out["met"] = out["after"].fillna(1.0) >= out["target"] - 1e-9  # nobody placed: no share to miss
    return out


def reach_rows(settlements: pd.DataFrame) -> pd.DataFrame:
    """Children within walking reach of some site and beyond every limit, by area type and for
    the whole region (``area_type`` "all", last), with the enrolment rate over each.

    ``within_reach``: children of settlements with a kindergarten or candidate site within their
    walking limit; ``beyond_limit``: the others (a plan cannot place them);
    ``enrolment_rate_within_reach`` = placed / within_reach (what ``target_scope="reachable"``
    holds to the target), ``gross_enrolment_rate`` = placed / children (empty where
    there are no children).

    Examples
    --------
    >>> s = pd.DataFrame({"area_type": ["urban", "rural", "rural"], "children": [100, 40, 60],
    ...                   "within_limit": [True, True, False], "placed": [90, 36, 0]})
    >>> r = reach_rows(s).set_index("area_type")
    >>> r.loc["rural", ["within_reach", "beyond_limit"]].tolist()
    [40.0, 60.0]
    >>> float(r.loc["all", "gross_enrolment_rate"]), float(r.loc["all", "enrolment_rate_within_reach"])
    (0.63, 0.9)
    """
    kids = settlements["children"].astype(float)
    frame = pd.DataFrame(
        {
            "area_type": settlements["area_type"].astype(str),
            "children": kids,
            "within_reach": kids.where(settlements["within_limit"].astype(bool), 0.0),
            "placed": settlements["placed"].astype(float),
        }
    )
    frame["beyond_limit"] = frame["children"] - frame["within_reach"]
    by_area = frame.groupby("area_type", sort=False).sum()
    areas = [a for a in AREA_TYPES if a in by_area.index]
    areas += sorted(a for a in by_area.index if a not in areas)
    out = by_area.reindex(areas)
    out.loc["all"] = frame.drop(columns="area_type").sum()
    out = out.rename_axis("area_type").reset_index()

    def rate(over: str) -> pd.Series:
        return (out["placed"] / out[over]).where(out[over] > 0)

    out["enrolment_rate_within_reach"] = rate("within_reach")
    out["gross_enrolment_rate"] = rate("children")
    return out[list(REACH_COLUMNS)]
