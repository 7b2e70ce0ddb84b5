"""The tables of a district plan, built from the counties' partitions."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from allocator import metrics
from allocator.districting import Partition
from allocator.planners.districts.data import dense_minutes
from allocator.region import Region
from allocator.solver import SolveInfo

__all__ = ["county_info", "county_row", "district_rows", "all_schools", "theil_shares"]


def county_info(part: Partition) -> SolveInfo:
    """The solve figures of one county's partition (a heuristic plan is only ``feasible``)."""
    if part.method == "exact":
        info = part.solve_info
        return SolveInfo(
            part.status, part.objective, part.bound, part.gap, part.seconds, info.solver
        )
    # a heuristic plan is feasible and verified, never proven optimal
    return SolveInfo("feasible", part.objective, None, None, part.seconds, "heuristic")


def county_row(
    county: str, sub: pd.DataFrame, part: Partition, info: SolveInfo, detached: list
) -> dict:
    """One row of the ``counties`` table (``detached``: the pieces districted apart)."""
    return {
        "county": county,
        "schools": len(sub),
        "districts": part.k + len(detached),
        "detached_schools": sum(len(p) for p in detached),
        "method": part.method,
        "status": info.status,
        "gap": part.gap,
        "seconds": part.seconds,
        "objective": part.objective,
        "quality_spread": part.imbalance,
        "mean_minutes_to_centre": part.mean_distance,
        "notes": "; ".join(part.notes),
    }


def district_rows(sub, groups, minutes, ratios, graph) -> pd.DataFrame:
    """The ``district_summary`` rows of one county (see :class:`DistrictPlan`).

    ``sub``: the county's schools indexed by id; ``groups``: one ``(name, members, centre,
    detached)`` per district; ``minutes``: road minutes between the county's schools;
    ``ratios``: the indicator ratios of
    :func:`~allocator.planners.districts.data.quality_index`; ``graph``: the adjacency graph.
    """
    pos = {s: t for t, s in enumerate(sub["school_id"])}
    ratio_cols = [c for c in ratios.columns if c.endswith("_ratio")]
    rows = []
    for name, members, centre, detached in groups:
        members = list(members)
        m = sub.loc[members]
        w = m["_pupils"].to_numpy(float)
        idx = [pos[s] for s in members]
        longest = float(minutes[np.ix_(idx, idx)].max()) if len(idx) > 1 else 0.0
        lengths = nx.single_source_dijkstra_path_length(graph, centre, weight="minutes")
        to_centre = np.array([lengths[s] for s in members])
        r = ratios[ratios["school_id"].isin(members)]
        row = {
            "district": name,
            "county": m["county"].iloc[0],
            "schools": len(members),
            "strong_schools": int(m["strong"].sum()),
            "pupils": int(w.sum()),
            "quality_mean": float(np.average(m["quality"], weights=w)),
            "quality_min": float(m["quality"].min()),
            "quality_max": float(m["quality"].max()),
            "centre_school_id": centre,
            "mean_minutes_to_centre": float(np.dot(w, to_centre) / max(w.sum(), 1e-12)),
            "longest_minutes": longest,
            "detached": bool(detached),
        }
        for c in ratio_cols:
            ok = r[c].notna() & (r["pupils"] > 0)
            row[c] = (
                float(np.average(r.loc[ok, c], weights=r.loc[ok, "pupils"])) if ok.any() else np.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def all_schools(schools: pd.DataFrame, planned: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Every school with its district; schools not districted join their nearest district."""
    out = pd.DataFrame(
        {
            "school_id": schools["school_id"].to_numpy(),
            "county": schools["county"].to_numpy(),
            "quality": schools["quality"].to_numpy(float),
            "pupils": schools["_pupils"].to_numpy(np.int64),
        }
    )
    dmap = dict(zip(planned["school_id"], planned["district"], strict=True))
    smap = dict(zip(planned["school_id"], planned["strong"], strict=True))
    out["district"] = out["school_id"].map(dmap)
    out["planned"] = out["district"].notna()
    out["strong"] = out["school_id"].map(smap).fillna(False).astype(bool)
    for t in np.flatnonzero(~out["planned"].to_numpy()):
        county = out["county"].iloc[t]
        cand = planned[planned["county"] == county]
        if cand.empty:  # a county with no districted school: its own district
            out.loc[out.index[t], "district"] = f"{county}-D00"
            continue
        src = [str(schools["node"].iloc[t])]
        best = dense_minutes(region.travel_minutes(src, cand["node"].astype(str).tolist()))[0]
        j = int(np.argmin(best))
        out.loc[out.index[t], "district"] = cand["district"].iloc[j]
    cols = ["school_id", "district", "county", "planned", "strong", "quality", "pupils"]
    return out[cols]


def theil_shares(planned: pd.DataFrame) -> dict:
    """Theil T of the quality index and its between-group shares, before and after.

    Before: schools grouped by township (when the schools table has one); after: by district.
    """
    q = planned["quality"].to_numpy(float)
    w = planned["_pupils"].to_numpy(float)
    after = metrics.theil_decomposition(q, planned["district"].to_numpy(object), w, zeros="limit")
    out = {
        "theil_before": float(after.total),
        "theil_after_pooling": float(after.between),
        "theil_between_share_after": float(after.between_share),
        "theil_between_share_before": None,
    }
    if "township" in planned.columns and planned["township"].notna().all():
        town = (planned["county"].astype(str) + "/" + planned["township"].astype(str)).to_numpy(
            object
        )
        before = metrics.theil_decomposition(q, town, w, zeros="limit")
        out["theil_between_share_before"] = float(before.between_share)
    return out
