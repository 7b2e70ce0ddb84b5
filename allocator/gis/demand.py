"""Pupils from population: age shares, building footprints, and school catchments.

Model
-----
* Pupils of band b in a settlement = round(population x share_b), shares by default
  :data:`AGE_SHARES` (school-age single years from China's 2020 census, see below; override with
  the shares of your own county).
* Population of a building = footprint m² x floors / m² of floor per person (default 40 m²,
  about the 2020 census figure of housing floor area per person; floors from ``building:levels``
  or the default).
* A school's enrolment, when its table has none, = the band pupils of the settlements for which it
  is the nearest school (in travel minutes) that teaches the band (:data:`LEVEL_BANDS`).

Age shares: the 2020 census counted 90.2 million people aged 5-9, 85.3 million aged 10-14 and
72.7 million aged 15-19 of 1,411.8 million; spreading each 5-year group evenly over its years gives
1.278 %, 1.208 % and 1.030 % of the population per year of age; grades 1-3 are ages 6-8 (3 x 1.28 %),
grades 4-6 ages 9-11 (1.28 % + 2 x 1.21 %), junior ages 12-14 (3 x 1.21 %), senior ages 15-17
(3 x 1.03 %).
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from allocator.errors import InputError
from allocator.region import BANDS, LEVEL_BANDS, PUPIL_COLUMNS

__all__ = [
    "AGE_SHARES",
    "LEVEL_BANDS",
    "pupils_from_population",
    "split_pupils",
    "population_from_buildings",
    "enrolment_from_catchment",
]

#: Share of the population in each grade band's ages (see the module docstring).
AGE_SHARES = {
    "lower_primary": 0.0384,
    "upper_primary": 0.0369,
    "junior": 0.0362,
    "senior": 0.0309,
}


def _shares(shares: Mapping | None) -> dict:
    out = dict(AGE_SHARES)
    for key, value in dict(shares or {}).items():
        if key not in AGE_SHARES:
            raise InputError(
                f"unknown age share {key!r}; expected one of {', '.join(BANDS)}",
                column="age_shares",
                value=key,
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise InputError(
                f"age share {key} = {value!r}; expected a fraction in [0, 1)",
                column="age_shares",
                value=value,
            )
        out[key] = float(value)
    return out


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.int64)


def pupils_from_population(population, shares: Mapping | None = None) -> pd.DataFrame:
    """Pupils per grade band from population counts.

    Examples
    --------
    >>> pupils_from_population([1000, 250]).iloc[0].tolist()
    [38, 37, 36, 31]
    """
    pop = np.asarray(population, dtype=float)
    if not np.isfinite(pop).all() or (pop < 0).any():
        pos = int(np.flatnonzero(~(np.isfinite(pop) & (pop >= 0)))[0])
        raise InputError(
            f"population {float(pop[pos])}; expected a number >= 0",
            table="settlements",
            row=pos,
            column="population",
            value=float(pop[pos]),
        )
    s = _shares(shares)
    return pd.DataFrame({f"pupils_{b}": _round_half_up(pop * s[b]) for b in BANDS})


def split_pupils(total, levels, shares: Mapping | None = None) -> pd.DataFrame:
    """Split each school's total pupils over the bands its level teaches, in proportion to the
    age shares (whole numbers that add up to the total; largest remainders get the rest).

    Examples
    --------
    >>> split_pupils([100, 90], ["primary", "nine_year"]).to_numpy().tolist()
    [[51, 49, 0, 0], [31, 30, 29, 0]]
    """
    s = _shares(shares)
    total = np.asarray(total, dtype=float)
    out = np.zeros((len(total), len(BANDS)), dtype=np.int64)
    for i, (t, level) in enumerate(zip(total, levels, strict=True)):
        bands = LEVEL_BANDS[level]
        idx = [BANDS.index(b) for b in bands]
        weight = np.array([s[b] for b in bands])
        raw = t * weight / weight.sum() if weight.sum() > 0 else np.full(len(idx), t / len(idx))
        base = np.floor(raw).astype(np.int64)
        rest = int(round(t)) - int(base.sum())
        for k in np.argsort(-(raw - base), kind="stable")[:rest]:
            base[k] += 1
        out[i, idx] = base
    return pd.DataFrame(out, columns=list(PUPIL_COLUMNS))


def population_from_buildings(
    footprint_m2,
    floors=None,
    default_floors: float = 3.0,
    m2_per_person: float = 40.0,
) -> np.ndarray:
    """Residents of buildings: footprint x floors / floor area per person.

    ``floors`` may hold text (OSM ``building:levels``) or NaN; those use ``default_floors``.

    Examples
    --------
    >>> population_from_buildings([200.0, 100.0], ["4", None]).tolist()
    [20.0, 7.5]
    """
    area = np.asarray(footprint_m2, dtype=float)
    if floors is None:
        levels = np.full(len(area), float(default_floors))
    else:
        levels = pd.to_numeric(pd.Series(list(floors), dtype=object), errors="coerce").to_numpy(
            float
        )
        levels = np.where(np.isfinite(levels) & (levels > 0), levels, float(default_floors))
    if not m2_per_person > 0:
        raise InputError(f"m2_per_person = {m2_per_person!r}; expected a number > 0")
    return area * levels / float(m2_per_person)


def enrolment_from_catchment(
    schools: pd.DataFrame, settlements: pd.DataFrame, graph: nx.Graph
) -> pd.DataFrame:
    """Band pupils of each school from the settlements it is nearest to (by travel minutes).

    ``schools`` needs ``level`` and ``node``; ``settlements`` ``node`` and the band columns. A band
    no school teaches is left unassigned.

    Examples
    --------
    >>> import networkx as nx, pandas as pd
    >>> g = nx.Graph([("a", "b", {"minutes": 5}), ("b", "c", {"minutes": 7})])
    >>> schools = pd.DataFrame({"level": ["primary", "primary"], "node": ["a", "c"]})
    >>> villages = pd.DataFrame({"node": ["a", "b", "c"], "pupils_lower_primary": [10, 20, 30],
    ...     "pupils_upper_primary": [1, 2, 3], "pupils_junior": 0, "pupils_senior": 0})
    >>> enrolment_from_catchment(schools, villages, g)["pupils_lower_primary"].tolist()
    [30, 30]
    """
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    matrix = nx.to_scipy_sparse_array(graph, nodelist=nodes, weight="minutes", format="csr")
    target = settlements["node"].map(index).to_numpy()
    out = np.zeros((len(schools), len(BANDS)), dtype=np.int64)
    levels = schools["level"].to_numpy()
    for b, band in enumerate(BANDS):
        teaches = np.array([band in LEVEL_BANDS[lv] for lv in levels], dtype=bool)
        if not teaches.any():
            continue
        rows = np.flatnonzero(teaches)
        sources = schools["node"].iloc[rows].map(index).to_numpy()
        _, _, origin = dijkstra(
            matrix, directed=False, indices=sources, min_only=True, return_predecessors=True
        )
        where = origin[target]
        school_of_node = {int(s): int(r) for s, r in zip(sources[::-1], rows[::-1], strict=True)}
        pupils = settlements[f"pupils_{band}"].to_numpy(np.int64)
        for node, p in zip(where, pupils, strict=True):
            if node >= 0:
                out[school_of_node[int(node)], b] += int(p)
    return pd.DataFrame(out, columns=list(PUPIL_COLUMNS), index=schools.index)
