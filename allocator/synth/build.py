"""A synthetic region: its sizes checked, its counties drawn and joined by highways, made
plannable (the calibration is described in :mod:`allocator.synth`)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.region import Region
from allocator.synth.draw import (
    COUNTY_KM,
    SEAT_NAMES,
    add_local_roads,
    draw_county,
    draw_settlements,
)
from allocator.synth.feasible import make_feasible
from allocator.synth.kindergartens import make_kindergartens
from allocator.synth.open_columns import add_open_columns
from allocator.synth.senior_schools import make_senior_schools
from allocator.text import plain

#: Upper bounds of a synthetic region (a province's worth of schools builds in under a minute and
#: well under 1 GB; larger numbers are refused before any work).
MAX_SCHOOLS = 20_000
MAX_COUNTIES = 1_000
MAX_SETTLEMENTS_PER_SCHOOL = 20.0


def _default_counties(schools: int) -> int:
    return max(1, math.ceil(schools / 150))


def _whole(value, name: str, low: int, high: int) -> int:
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(f"{name}={value!r}; expected a whole number", column=name, value=value)
    if not low <= value <= high:
        raise InputError(
            f"{name}={value:,}; expected from {low:,} to {high:,}", column=name, value=value
        )
    return int(value)


def check_sizes(
    schools, counties=None, settlements_per_school=2.0, seed=0
) -> tuple[int, int, float, int]:
    """Check the sizes of a synthetic region; return ``(schools, counties, settlements_per_school,
    seed)`` with the default counties filled in.

    Bounds: 5 <= ``schools`` <= :data:`MAX_SCHOOLS` (20,000); 1 <= ``counties`` <=
    min(schools / 5, :data:`MAX_COUNTIES`) (1,000); 1 <= ``settlements_per_school`` <=
    :data:`MAX_SETTLEMENTS_PER_SCHOOL` (20); ``seed`` a whole number >= 0.

    Raises
    ------
    InputError
        Whose ``column`` is the argument concerned.

    Examples
    --------
    >>> check_sizes(300)
    (300, 2, 2.0, 0)
    >>> check_sizes(10_000_000_000)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: column 'schools': schools=10,000,000,000; expected from 5 to 20,000
    """
    schools = _whole(schools, "schools", 5, MAX_SCHOOLS)
    if counties is None:
        counties = _default_counties(schools)
    counties = _whole(counties, "counties", 1, min(schools // 5, MAX_COUNTIES))
    per = plain(settlements_per_school)
    if (
        isinstance(per, bool)
        or not isinstance(per, int | float)
        or not (1 <= per <= MAX_SETTLEMENTS_PER_SCHOOL)
    ):
        raise InputError(
            f"settlements_per_school={per!r}; expected a number from 1 to "
            f"{MAX_SETTLEMENTS_PER_SCHOOL:g}",
            column="settlements_per_school",
            value=per,
        )
    seed = _whole(seed, "seed", 0, 2**63 - 1)
    return schools, counties, float(per), seed


def make_region(
    schools: int = 300,
    counties: int | None = None,
    seed: int = 0,
    settlements_per_school: float = 2.0,
    urban_district: bool | None = None,
    name: str | None = None,
    open_columns: bool = True,
    kindergartens: bool = False,
    senior_schools: bool = False,
) -> Region:
    """Build a realistic synthetic region.

    Parameters
    ----------
    schools : int
        Number of schools, from 5 to :data:`MAX_SCHOOLS` (20,000).
    counties : int, optional
        Number of counties, at most one per 5 schools and :data:`MAX_COUNTIES` (1,000); default
        grows with the schools (one per 150 schools).
    seed : int
        Random seed; the same seed gives the same region.
    settlements_per_school : float
        Settlements (villages, communities) per school, from 1 to 20.
    urban_district : bool, optional
        Make the first county an urban district; default when there are 3 or more counties.
    name : str, optional
        Region name (default ``"synthetic-<schools>-<seed>"``).
    open_columns : bool
        Add the optional columns of the open indicator set (digital campus, safety, training;
        :mod:`allocator.synth.open_columns`). They come from a random stream of their own, so every
        other column is the same either way.
    kindergartens : bool
        Add a kindergartens table (kindergartens and reserved sites;
        :mod:`allocator.synth.kindergartens`), from a random stream of its own too.
    senior_schools : bool
        Add a senior_schools table (general and vocational senior schools;
        :mod:`allocator.synth.senior_schools`), from a random stream of its own too.

    Returns
    -------
    Region

    Raises
    ------
    InputError
        A size out of its bounds (see :func:`check_sizes`), before any work.

    Examples
    --------
    >>> region = make_region(schools=120, seed=7)
    >>> len(region.schools), region.schools["county"].nunique()
    (120, 1)
    >>> urban = region.schools[region.schools["area_type"] == "urban"]
    >>> int(urban["pupils_lower_primary"].sum()) > 0
    True
    """
    schools, counties, settlements_per_school, seed = check_sizes(
        schools, counties, settlements_per_school, seed
    )
    rng = np.random.default_rng(seed)
    if urban_district is None:
        urban_district = counties >= 3
    per_county = np.full(counties, schools // counties)
    per_county[: schools % counties] += 1

    school_parts, node_parts, edge_parts = [], [], []
    grid = math.ceil(math.sqrt(counties))
    for c in range(counties):
        ox, oy = (c % grid) * COUNTY_KM, (c // grid) * COUNTY_KM
        county = (
            f"{SEAT_NAMES[c % len(SEAT_NAMES)]}{'区' if (urban_district and c == 0) else '县'}"
            + (f"{c // len(SEAT_NAMES) + 1}" if c >= len(SEAT_NAMES) else "")
        )
        s, nodes, edges = draw_county(
            rng, c, county, int(per_county[c]), ox, oy, urban=urban_district and c == 0
        )
        school_parts.append(s)
        node_parts.append(nodes)
        edge_parts.extend(edges)
    # Highways between neighbouring county seats.
    seats = [n.iloc[0] for n in node_parts]
    for c in range(counties):
        for d in (c + 1, c + grid):
            if d < counties and (d != c + 1 or (c + 1) % grid):
                a, b = seats[c], seats[d]
                km = math.hypot(a.x - b.x, a.y - b.y)
                edge_parts.append((a.node, b.node, round(km * 1.3 / 60.0 * 60.0, 2)))
    school_df = pd.concat(school_parts, ignore_index=True)
    node_df = pd.concat(node_parts, ignore_index=True)

    settlement_df, extra_nodes, extra_edges = draw_settlements(
        rng, school_df, settlements_per_school
    )
    node_df = pd.concat([node_df, extra_nodes], ignore_index=True)
    edge_parts.extend(extra_edges)
    graph = nx.Graph()
    graph.add_nodes_from(
        (n, {"x": x, "y": y})
        for n, x, y in zip(node_df["node"], node_df["x"], node_df["y"], strict=True)
    )
    for u, v, minutes in edge_parts:
        if u != v and (not graph.has_edge(u, v) or graph[u][v]["minutes"] > minutes):
            graph.add_edge(u, v, minutes=max(float(minutes), 0.5))
    add_local_roads(graph, node_df)
    make_feasible(school_df, settlement_df, graph, node_df)
    if open_columns:
        school_df = add_open_columns(school_df, seed)
    kg = make_kindergartens(school_df, settlement_df, seed) if kindergartens else None
    return Region(
        school_df,
        settlement_df,
        graph,
        name=name or f"synthetic-{schools}-{seed}",
        kindergartens=kg,
        senior_schools=make_senior_schools(school_df, seed) if senior_schools else None,
    )
