"""The region read into what the district partition needs.

The quality index of every school, the schools in scope (districted levels with pupils), and per
county: the strong schools, the road minutes between its schools, their adjacency graph
(:func:`allocator.districting.adjacency.unit_graph`), the pairs too far apart to share a district
and the numbers of districts to try.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.districting.adjacency import unit_graph
from allocator.errors import InputError
from allocator.planners.districts.policy import DistrictPolicy
from allocator.region import Region
from allocator.standards import Standard, assessment_parts, load_standard

__all__ = [
    "PUPIL_COLUMNS",
    "quality_index",
    "dense_minutes",
    "districted_schools",
    "strong_schools",
    "county_minutes",
    "county_graph",
    "far_pairs",
    "district_counts",
]

#: Pupils of grades 1-9: the weight of a school.
PUPIL_COLUMNS = ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior")


def quality_index(
    schools: pd.DataFrame, standard="moe2017", cap: float = 1.5
) -> tuple[pd.Series, pd.DataFrame]:
    """Quality index of each school from the seven 2017 indicators (see the module docstring).

    Parameters
    ----------
    schools : pandas.DataFrame
        A schools table (:class:`~allocator.region.Region` columns).
    standard : str or Standard
        Supplies the thresholds and the assessed indicators.
    cap : float
        Cap on each indicator's ratio to its threshold.

    Returns
    -------
    index : pandas.Series
        School id -> quality index (NaN for a school without an assessed part, e.g. a senior
        high school).
    ratios : pandas.DataFrame
        One row per assessed part: ``school_id, part, pupils`` and, for every indicator,
        ``<indicator>_ratio`` (value / threshold, uncapped).

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(school_id="s1", county="A", area_type="rural", level="primary",
    ...            pupils_lower_primary=100, pupils_upper_primary=100, pupils_junior=0,
    ...            pupils_senior=0, teachers=20, teachers_qualified=21, teachers_backbone=2,
    ...            teachers_pe_arts=2, floor_area_m2=900.0, sports_area_m2=3000.0,
    ...            equipment_value=400000.0, multimedia_rooms=46)
    >>> index, _ = quality_index(pd.DataFrame([row]))
    >>> round(float(index["s1"]), 4)  # ratios 2.5->1.5 (cap), 1, 1.111, 1, 2->1.5, 1, 10->1.5
    1.2302
    """
    std = load_standard(standard) if isinstance(standard, str) else standard
    parts = assessment_parts(schools, std)
    ids = schools["school_id"].astype(str)
    out = pd.DataFrame({"school_id": parts["school_id"], "part": parts["part"]})
    out["pupils"] = parts["pupils"].to_numpy(float)
    capped = np.zeros(len(parts))
    counted = np.zeros(len(parts))
    for k in dict.fromkeys(k for p in ("primary", "junior") for k in std.assessed_indicators(p)):
        thr = parts["part"].map(lambda p, k=k: std.thresholds.get(p, {}).get(k, np.nan))
        thr = thr.to_numpy(float)
        have = np.isfinite(thr) & (thr > 0) & [k in std.assessed_indicators(p) for p in parts.part]
        ratio = np.full(len(parts), np.nan)
        ratio[have] = parts[k].to_numpy(float)[have] / thr[have]
        out[f"{k}_ratio"] = ratio
        capped += np.where(have, np.minimum(np.nan_to_num(ratio), cap), 0.0)
        counted += have
    part_index = np.divide(capped, counted, out=np.full(len(parts), np.nan), where=counted > 0)
    frame = pd.DataFrame({"school_id": parts["school_id"], "q": part_index, "p": out["pupils"]})
    frame = frame.dropna()
    frame["qp"] = frame["q"] * frame["p"]
    sums = frame.groupby("school_id")[["qp", "p"]].sum()
    index = (sums["qp"] / sums["p"]).where(sums["p"] > 0)
    return index.reindex(ids.to_numpy()).rename("quality"), out


def dense_minutes(reach: sp.csr_matrix) -> np.ndarray:
    """Dense minutes from a sparse travel matrix: stored entries (zeros too) are reachable.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> dense_minutes(sp.csr_matrix(([0.0, 5.0], ([0, 0], [0, 1])), shape=(2, 2))).tolist()
    [[0.0, 5.0], [inf, inf]]
    """
    coo = reach.tocoo()
    out = np.full(reach.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def districted_schools(region: Region, policy: DistrictPolicy, std: Standard):
    """Every school with its quality index and pupils, the schools in scope, the indicator ratios.

    Returns
    -------
    schools : pandas.DataFrame
        The region's schools with ``quality`` and ``_pupils`` (grades 1-9) added.
    scope : pandas.DataFrame
        The schools to district (level in ``policy.levels``, pupils, a quality index), indexed
        by ``school_id``.
    ratios : pandas.DataFrame
        The indicator ratios of :func:`quality_index`.

    Raises
    ------
    InputError
        No school to district.
    """
    schools = region.schools.copy()
    schools["school_id"] = schools["school_id"].astype(str)
    quality, ratios = quality_index(schools, std, policy.quality_cap)
    schools["quality"] = quality.to_numpy(float)
    schools["_pupils"] = schools[list(PUPIL_COLUMNS)].to_numpy(np.int64).sum(axis=1)
    inscope = (
        schools["level"].isin(policy.levels) & (schools["_pupils"] > 0) & schools["quality"].notna()
    )
    if not inscope.any():
        raise InputError(
            f"no school to district: none of level {', '.join(policy.levels)} with pupils",
            table="schools",
            column="level",
        )
    scope = schools[inscope].set_index("school_id", drop=False)
    return schools, scope, ratios


def strong_schools(quality: pd.Series, quantile: float) -> pd.Series:
    """True for the schools at or above the ``quantile`` of the county's quality index.

    Examples
    --------
    >>> strong_schools(pd.Series([0.8, 1.0, 1.2, 1.4]), 0.75).tolist()
    [False, False, False, True]
    """
    cut = np.quantile(quality.to_numpy(float), quantile)
    return quality >= cut - 1e-12


def county_minutes(region: Region, county: pd.DataFrame) -> np.ndarray:
    """Road minutes between a county's schools (``inf``: no road), the same both ways."""
    nodes = county["node"].astype(str).tolist()
    minutes = dense_minutes(region.travel_minutes(nodes, nodes))
    np.fill_diagonal(minutes, 0.0)
    return np.minimum(minutes, minutes.T)  # the same trip both ways, to the last digit


def county_graph(
    county: pd.DataFrame, minutes: np.ndarray, touching: set, policy: DistrictPolicy
) -> nx.Graph:
    """The adjacency graph of a county's schools; nodes carry ``pupils, quality, strong``."""
    return unit_graph(
        county["school_id"].tolist(),
        minutes,
        touching,
        policy.adjacency_minutes,
        policy.max_trip_minutes,
        {
            s: {"pupils": float(p), "quality": float(q), "strong": bool(st)}
            for s, p, q, st in zip(
                county["school_id"],
                county["_pupils"],
                county["quality"],
                county["strong"],
                strict=True,
            )
        },
    )


def far_pairs(ids: list, minutes: np.ndarray, max_minutes: float) -> list[tuple]:
    """Pairs of schools farther apart by road than ``max_minutes`` (never in one district).

    Examples
    --------
    >>> far_pairs(["a", "b", "c"], np.array([[0, 5, 90], [5, 0, 60], [90, 60, 0.0]]), 70)
    [('a', 'c')]
    """
    return [
        (ids[i], ids[j])
        for i, j in np.argwhere(np.isfinite(minutes) & (minutes > max_minutes))
        if i < j
    ]


def district_counts(policy: DistrictPolicy, county: str, n: int, strong: int) -> list[int]:
    """Numbers of districts to try, in order.

    A fixed ``policy.districts`` gives one number. A target size gives ``round(n / target)``
    first, then the numbers around it (nearest first, fewer before more, up to 3 away): the
    nearest count for which a valid plan exists wins.
    """
    d = policy.districts
    if isinstance(d, Mapping):
        if county not in d:
            raise InputError(
                f"policy.districts has no entry for county {county!r}; expected a number for "
                f"every county ({', '.join(map(str, d))} given)",
                table="schools",
                column="county",
                value=county,
            )
        return [int(d[county])]
    if d is not None:
        return [int(d)]
    top = max(1, min(strong, n))
    k0 = max(1, min(int(round(n / policy.schools_per_district)), top))
    out = [k0]
    for step in (1, 2, 3):
        out += [k for k in (k0 - step, k0 + step) if 1 <= k <= top]
    return out
