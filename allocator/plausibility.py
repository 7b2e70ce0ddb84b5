"""Plausibility of a region's numbers: values that cannot be right, and values worth a second look.

Two kinds of doubt, kept apart:

* **Errors.** A value outside its hard range (:data:`HARD_RANGES`) cannot be right for any school in
  China and would overflow or swamp every model (``1e20`` pupils, a trillion yuan of equipment, a
  road of a month's travel). :class:`~allocator.region.Region` refuses it with an
  :class:`~allocator.errors.InputError` naming the cell and the range. So are node coordinates that
  look like degrees of longitude and latitude (:func:`degrees_hint`): coordinates are in km.
* **Warnings.** A value that is possible but unusual - a school of more than 10,000 pupils, pupils
  more than twice the capacity, a capacity of 0 with pupils, a settlement that reaches no school
  within the standard's longest travel limit - is listed by :func:`region_warnings` (and by
  :func:`allocator.check.check`, in its ``warnings`` table and summary). Nothing is refused.

The thresholds are module constants, documented here:

==============================  ==========================================================
:data:`MAX_SCHOOL_PUPILS`       10,000 pupils in one school (all bands)
:data:`CAPACITY_FACTOR`         pupils more than 2 x capacity (a capacity of 0: any pupils)
:data:`MAX_PUPILS_PER_CLASS`    100 pupils per class on average (0 classes: any pupils)
:data:`MAX_PUPILS_PER_TEACHER`  100 pupils per teacher (0 teachers: any pupils)
:data:`SCHOOL_NODE_KM`          5 km between a school's x, y and its road node's x, y
==============================  ==========================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from allocator.text import plain, plural

__all__ = [
    "HARD_RANGES",
    "MAX_SCHOOL_PUPILS",
    "CAPACITY_FACTOR",
    "MAX_PUPILS_PER_CLASS",
    "MAX_PUPILS_PER_TEACHER",
    "SCHOOL_NODE_KM",
    "WARNING_COLUMNS",
    "hard_range",
    "degrees_hint",
    "region_warnings",
]

_PUPILS = ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior", "pupils_senior")
_KM = 20_000.0  # half the Earth's circumference: no planning area is wider

#: Hard ranges ``(low, high)`` by ``(table, column)``; a value outside is an error. The upper ends
#: are far above any real school (the largest schools in China have some 20,000-30,000 pupils) and
#: keep every count well inside 64-bit integers.
HARD_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    **{("schools", c): (0, 100_000) for c in _PUPILS},
    ("schools", "classes"): (0, 2_000),
    ("schools", "capacity"): (0, 200_000),
    ("schools", "teachers"): (0, 10_000),
    ("schools", "teachers_qualified"): (0, 10_000),
    ("schools", "teachers_backbone"): (0, 10_000),
    ("schools", "teachers_pe_arts"): (0, 10_000),
    ("schools", "multimedia_rooms"): (0, 10_000),
    ("schools", "floor_area_m2"): (0, 10_000_000),
    ("schools", "sports_area_m2"): (0, 10_000_000),
    ("schools", "equipment_value"): (0, 1e11),
    ("schools", "annual_cost"): (0, 1e11),
    ("schools", "x"): (-_KM, _KM),
    ("schools", "y"): (-_KM, _KM),
    **{("settlements", c): (0, 1_000_000) for c in _PUPILS},
    ("nodes", "x"): (-_KM, _KM),
    ("nodes", "y"): (-_KM, _KM),
    ("roads", "minutes"): (0, 10_000),
}

MAX_SCHOOL_PUPILS = 10_000
CAPACITY_FACTOR = 2.0
MAX_PUPILS_PER_CLASS = 100.0
MAX_PUPILS_PER_TEACHER = 100.0
SCHOOL_NODE_KM = 5.0
#: Straight-line speed (km/h) along the roads below which km coordinates must really be degrees:
#: walking is 5 km/h; one degree is about 100 km, so degree data gives well under 1 km/h.
DEGREE_SPEED_KMH = 1.0

#: Columns of a warnings table.
WARNING_COLUMNS = ("table", "row_id", "column", "value", "warning", "file", "line")


def hard_range(table: str, column: str) -> tuple[float, float] | None:
    """The ``(low, high)`` range outside which a value of ``table.column`` is an error, if any.

    Examples
    --------
    >>> hard_range("schools", "pupils_junior")
    (0, 100000)
    >>> hard_range("schools", "name") is None
    True
    """
    return HARD_RANGES.get((table, column))


def degrees_hint(
    x: np.ndarray, y: np.ndarray, edge_km: np.ndarray, edge_minutes: np.ndarray
) -> str | None:
    """Why coordinates documented as km look like degrees, or None when they do not.

    They look like degrees when every ``|x| <= 180`` and ``|y| <= 90``, both spreads are above 0
    and under 10, not every coordinate is a whole number (a hand-made grid of a few km is not
    taken for degrees), and the roads, in a straight line between their ends, would run at a
    median under :data:`DEGREE_SPEED_KMH` (one degree is about 100 km: degree data gives some
    0.1-0.5 "km/h"). Without roads of nonzero length the coordinates alone cannot tell, and nothing
    is said.

    Examples
    --------
    >>> x, y = np.array([106.50, 106.55]), np.array([29.50, 29.52])
    >>> km = np.array([np.hypot(0.05, 0.02)])
    >>> print(degrees_hint(x, y, km, np.array([12.0])))  # doctest: +ELLIPSIS
    coordinates look like degrees of longitude and latitude (x 106.5 to 106.55, ...
    >>> degrees_hint(x * 100, y * 100, km * 100, np.array([12.0])) is None
    True
    >>> degrees_hint(np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([1.4]), [200.0]) is None
    True
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if not len(x) or np.abs(x).max() > 180 or np.abs(y).max() > 90:
        return None
    if not (0 < np.ptp(x) < 10 and 0 < np.ptp(y) < 10):
        return None
    if np.all(x == np.round(x)) and np.all(y == np.round(y)):
        return None
    km, minutes = np.asarray(edge_km, float), np.asarray(edge_minutes, float)
    moving = (km > 0) & (minutes > 0)
    if not moving.any():
        return None
    speed = float(np.median(km[moving] / minutes[moving] * 60))
    if speed >= DEGREE_SPEED_KMH:
        return None
    return (
        f"coordinates look like degrees of longitude and latitude (x {x.min():g} to {x.max():g}, "
        f"y {y.min():g} to {y.max():g}; the roads would run at a median {speed:.2g} km/h in a "
        "straight line); expected km: project them first (e.g. to UTM, or km east and north of "
        "a point of the region)"
    )


def _row(table, row_id, column, value, warning, sources, line=None) -> dict:
    return {
        "table": table,
        "row_id": plain(row_id),
        "column": column,
        "value": plain(value),
        "warning": warning,
        "file": (sources or {}).get(table),
        "line": line,
    }


def _school_rows(schools: pd.DataFrame, sources: Mapping | None) -> list[dict]:
    if not {"school_id", *_PUPILS}.issubset(schools.columns):
        return []
    pupils = schools[list(_PUPILS)].sum(axis=1).to_numpy(float)
    ids = schools["school_id"].to_numpy()
    located = bool(sources and sources.get("schools"))
    found: list[tuple[int, str, float, str]] = []  # (position, column, value, warning)
    for i in np.flatnonzero(pupils > MAX_SCHOOL_PUPILS):
        found.append(
            (
                i,
                "pupils",
                pupils[i],
                f"{pupils[i]:,.0f} pupils in one school; more than {MAX_SCHOOL_PUPILS:,} is "
                "rare: check the figure (a digit too many?)",
            )
        )
    for column, limit in (
        ("capacity", CAPACITY_FACTOR),
        ("classes", MAX_PUPILS_PER_CLASS),
        ("teachers", MAX_PUPILS_PER_TEACHER),
    ):
        if column not in schools:
            continue
        base = schools[column].to_numpy(float)
        for i in np.flatnonzero((base == 0) & (pupils > 0)):
            found.append(
                (
                    i,
                    column,
                    0,
                    f"{column} 0 with {plural(int(pupils[i]), 'pupil')}; expected the school's "
                    f"{column}",
                )
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(base > 0, pupils / base, 0.0)
        for i in np.flatnonzero(ratio > limit):
            if column == "capacity":
                text = (
                    f"{pupils[i]:,.0f} pupils in a school for {base[i]:,.0f}: {ratio[i]:.1f} "
                    f"times its capacity (more than {limit:g} times is unlikely)"
                )
            else:
                per = column[:-1] if column == "teachers" else "class"
                text = (
                    f"{ratio[i]:,.0f} pupils per {per} on average ({pupils[i]:,.0f} pupils, "
                    f"{plural(int(base[i]), per, column)}; more than {limit:g} is unlikely)"
                )
            found.append((i, column, base[i], text))
    found.sort(key=lambda f: f[0])
    return [
        _row(
            "schools",
            ids[i],
            column,
            int(value) if float(value).is_integer() else value,
            text,
            sources,
            int(i) + 2 if located else None,
        )
        for i, column, value, text in found
    ]


def _node_rows(region, sources: Mapping | None) -> list[dict]:
    schools = region.schools
    if not {"x", "y", "node"}.issubset(schools.columns) or schools.empty:
        return []
    nodes = region.roads.nodes
    nx_ = np.array([nodes[n]["x"] for n in schools["node"]], dtype=float)
    ny_ = np.array([nodes[n]["y"] for n in schools["node"]], dtype=float)
    km = np.hypot(schools["x"].to_numpy(float) - nx_, schools["y"].to_numpy(float) - ny_)
    rows = []
    for i in np.flatnonzero(km > SCHOOL_NODE_KM):
        line = i + 2 if sources and sources.get("schools") else None
        rows.append(
            _row(
                "schools",
                schools["school_id"].iloc[i],
                "node",
                schools["node"].iloc[i],
                f"the school (x, y) is {km[i]:,.1f} km from its road node "
                f"{plain(schools['node'].iloc[i])!r}; more than {SCHOOL_NODE_KM:g} km suggests "
                "the wrong node or coordinates",
                sources,
                line,
            )
        )
    return rows


def longest_travel_limit(standard) -> float | None:
    """The longest travel limit (minutes) of a standard's ``travel`` settings, or None.

    Examples
    --------
    >>> from allocator.standards import load_standard
    >>> longest_travel_limit(load_standard("moe2017"))
    90.0
    """
    travel = getattr(standard, "travel", None)
    if travel is None or not dataclasses.is_dataclass(travel):
        return None
    limits = [
        float(getattr(travel, f.name))
        for f in dataclasses.fields(travel)
        if isinstance(getattr(travel, f.name), int | float)
    ]
    return max(limits) if limits else None


def _reach_rows(region, limit: float, sources: Mapping | None) -> list[dict]:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    settlements, schools = region.settlements, region.schools
    if settlements.empty or schools.empty:
        return []
    with_pupils = settlements[list(_PUPILS)].sum(axis=1).to_numpy() > 0
    if not with_pupils.any():
        return []
    graph = region.roads
    index = {n: i for i, n in enumerate(graph.nodes)}
    edges = [(index[u], index[v], d["minutes"]) for u, v, d in graph.edges(data=True)]
    u, v, w = (np.array(c) for c in zip(*edges, strict=True)) if edges else ([], [], [])
    matrix = coo_matrix((w, (u, v)), shape=(len(index), len(index))).tocsr()
    sources_idx = np.unique([index[n] for n in schools["node"]])
    dist = dijkstra(matrix, directed=False, indices=sources_idx, min_only=True, limit=limit)
    nearest = dist[[index[n] for n in settlements["node"]]]
    rows = []
    for i in np.flatnonzero(with_pupils & ~(nearest <= limit + 1e-9)):
        pupils = int(settlements[list(_PUPILS)].iloc[i].sum())
        line = i + 2 if sources and sources.get("settlements") else None
        rows.append(
            _row(
                "settlements",
                settlements["settlement_id"].iloc[i],
                "node",
                settlements["node"].iloc[i],
                f"{plural(pupils, 'pupil')} here reach no school within {limit:g} minutes "
                "(the standard's longest travel limit)",
                sources,
                line,
            )
        )
    return rows


def region_warnings(region, standard=None) -> pd.DataFrame:
    """Values that are possible but unusual enough to check, one row each.

    Parameters
    ----------
    region : Region or pandas.DataFrame
        A region (every check) or a schools table (the per-school checks only).
    standard : Standard, optional
        Gives the travel limit for the settlements that reach no school; without it that check
        is skipped.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WARNING_COLUMNS`: the table, row id, column and value concerned, the
        warning, and the file and line when the region was loaded from files. The warnings found
        when the region was loaded (duplicate roads) come first.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=30, seed=1)
    >>> schools = region.schools.copy()
    >>> schools.loc[0, "capacity"] = 0
    >>> w = region_warnings(region.replace(schools=schools))
    >>> w[["row_id", "column", "value"]].values.tolist()
    [['C00S0000', 'capacity', 0]]
    """
    if isinstance(region, pd.DataFrame):
        return pd.DataFrame(_school_rows(region, None), columns=list(WARNING_COLUMNS))
    sources = getattr(region, "sources", None) or {}
    loaded = getattr(region, "load_warnings", None)
    rows = list(loaded.to_dict("records")) if loaded is not None and len(loaded) else []
    rows += _school_rows(region.schools, sources)
    rows += _node_rows(region, sources)
    limit = longest_travel_limit(standard) if standard is not None else None
    if limit is not None and math.isfinite(limit):
        rows += _reach_rows(region, limit, sources)
    out = pd.DataFrame(rows, columns=list(WARNING_COLUMNS))
    out["line"] = out["line"].astype("Int64")
    return out
