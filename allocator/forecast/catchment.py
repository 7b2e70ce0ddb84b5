"""School enrolment by today's catchments, and forecasts for a region without age data.

Each settlement band goes to the nearest school of its county that teaches the band (by road
minutes), the same rule as the run's travel yardstick (:func:`allocator.pipeline.measure` uses
:func:`nearest_schools`): a school teaches a band when its level does (:data:`TRAVEL_BANDS`) and it
has pupils, or when it enrols pupils of the band today.

A region has pupils by band and no children by age. :func:`forecast_region` then derives them:

* the pupils of each settlement band are spread evenly over the band's three grades;
* the children entering grade 1 follow the birth scenario: the entrants of year ``t`` are today's
  grade-1 pupils times ``path[t - 6] / path[base_year - 6]`` (the settlement's share of births is
  held, its births move with the path). The births passed on are those entrants divided by
  ``entry_rate * (1 + m) ** 6``, so that the projection, which applies both, gives them back.

A settlement with no pupils in grades 1-3 today gets no entrants this way; for a new area (新区)
whose children are still to arrive, give its ages or births to
:func:`allocator.forecast.project_grades` instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from allocator.errors import InputError
from allocator.forecast.births import BirthScenario, load_birth_scenario, regional_births
from allocator.forecast.cohort import project_enrolment
from allocator.forecast.rates import BANDS, ENTRY_AGE, ForecastSettings
from allocator.region import LEVEL_BANDS

__all__ = [
    "TRAVEL_BANDS",
    "forecast_region",
    "nearest_schools",
    "pupils_from_region",
    "school_enrolment",
    "teaches",
]

#: School levels that teach each band (a school also teaches a band it enrols).
TRAVEL_BANDS = {
    band: tuple(level for level, bands in LEVEL_BANDS.items() if band in bands) for band in BANDS
}


def teaches(schools: pd.DataFrame, band: str) -> np.ndarray:
    """Which schools teach ``band``: their level does and they have pupils, or they enrol it."""
    enrolled = schools[[c for c in schools.columns if c.startswith("pupils_")]].sum(axis=1)
    levels = TRAVEL_BANDS[band]
    return (
        (schools["level"].isin(levels) & (enrolled > 0)) | (schools[f"pupils_{band}"] > 0)
    ).to_numpy()


def nearest_schools(region, band: str) -> tuple[np.ndarray, np.ndarray]:
    """Each settlement's nearest school of its county that teaches ``band``.

    Returns
    -------
    (positions, minutes)
        The school's row position in ``region.schools`` (-1 when none is reachable) and the road
        minutes to it (inf when none), one of each per settlement.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> pos, minutes = nearest_schools(region, "junior")
    >>> bool((pos >= 0).all()), bool(np.isfinite(minutes).all())
    (True, True)
    """
    settlements, schools = region.settlements, region.schools
    index, graph = region.road_matrix()
    capable = teaches(schools, band)
    positions = np.full(len(settlements), -1)
    minutes = np.full(len(settlements), np.inf)
    for county in settlements["county"].unique():
        here = np.flatnonzero((settlements["county"] == county).to_numpy())
        mine = np.flatnonzero(capable & (schools["county"] == county).to_numpy())
        if mine.size == 0:
            continue
        nodes = np.array([index[str(n)] for n in schools["node"].iloc[mine]])
        sources, first = np.unique(nodes, return_index=True)  # first school on each node
        dist, _, source = dijkstra(
            graph, directed=False, indices=sources, min_only=True, return_predecessors=True
        )
        targets = np.array([index[str(n)] for n in settlements["node"].iloc[here]])
        minutes[here] = dist[targets]
        school_of_node = dict(zip(sources, mine[first], strict=True))
        positions[here] = [school_of_node.get(s, -1) for s in source[targets]]
    return positions, minutes


def school_enrolment(region, forecast: pd.DataFrame) -> pd.DataFrame:
    """Pupils by school, band and year when each settlement band keeps going to the nearest
    school of its county that teaches the band today (:func:`nearest_schools`).

    Parameters
    ----------
    region : Region
        The region of today.
    forecast : DataFrame
        ``settlement_id``, ``band``, ``year``, ``pupils`` (:func:`project_enrolment`).

    Returns
    -------
    DataFrame
        ``school_id``, ``band``, ``year``, ``pupils``; pupils with no school in reach are left out
        (an InputError names the first such settlement with pupils).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> out = forecast_region(region, ForecastSettings(horizon=2), 2025)
    >>> by_school = school_enrolment(region, out)
    >>> bool(np.isclose(by_school["pupils"].sum(), out["pupils"].sum()))
    True
    """
    ids = region.settlements["settlement_id"].astype(str).to_numpy()
    school_ids = region.schools["school_id"].astype(str).to_numpy()
    parts = []
    for band in BANDS:
        pos, _ = nearest_schools(region, band)
        target = dict(zip(ids, pos, strict=True))
        rows = forecast[forecast["band"] == band]
        where = rows["settlement_id"].astype(str).map(target)
        if where.isna().any():
            sid = rows["settlement_id"].iloc[int(np.flatnonzero(where.isna().to_numpy())[0])]
            raise InputError(
                "settlement of the forecast is not in the region; expected the region's "
                "settlement ids",
                table="forecast",
                row_id=str(sid),
                column="settlement_id",
            )
        lost = (where.to_numpy() < 0) & (rows["pupils"].to_numpy() > 0)
        if lost.any():
            raise InputError(
                f"no school of its county teaches {band} within reach; expected one for its pupils",
                table="settlements",
                row_id=str(rows["settlement_id"].iloc[int(np.flatnonzero(lost)[0])]),
                column=f"pupils_{band}",
            )
        keep = where.to_numpy() >= 0
        parts.append(
            pd.DataFrame(
                {
                    "school_id": school_ids[where.to_numpy()[keep].astype(int)],
                    "band": band,
                    "year": rows["year"].to_numpy()[keep],
                    "pupils": rows["pupils"].to_numpy()[keep],
                }
            )
        )
    out = pd.concat(parts).groupby(["school_id", "band", "year"], sort=False)["pupils"].sum()
    return out.reset_index()


def pupils_from_region(region) -> pd.DataFrame:
    """Today's pupils by settlement and grade: each band's pupils spread evenly over its grades.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> p = pupils_from_region(region)
    >>> s = region.settlements
    >>> bool(np.isclose(p["pupils"].sum(), s[["pupils_lower_primary", "pupils_upper_primary",
    ...                                        "pupils_junior"]].to_numpy().sum()))
    True
    """
    s = region.settlements
    rows = []
    for band, grades in BANDS.items():
        share = s[f"pupils_{band}"].to_numpy(float) / len(grades)
        for grade in grades:
            rows.append(
                pd.DataFrame(
                    {
                        "settlement_id": s["settlement_id"].astype(str),
                        "grade": grade,
                        "pupils": share,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def forecast_region(
    region,
    settings: ForecastSettings,
    base_year: int,
    scenario: BirthScenario | str = "medium",
) -> pd.DataFrame:
    """Pupils by settlement, band and year for a region without age data (see the module's
    docstring for how ages are derived): today's pupils are the base year's.

    Examples
    --------
    With a flat birth path and all rates 1, grades 1-3 keep today's pupils:

    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> flat = BirthScenario.from_series({y: 100 for y in range(2015, 2040)})
    >>> out = forecast_region(region, ForecastSettings(horizon=3), 2025, flat)
    >>> lower = out[out["band"] == "lower_primary"]
    >>> totals = lower.groupby("year")["pupils"].sum().round(6)
    >>> bool((totals == totals.iloc[0]).all())
    True
    """
    if not isinstance(scenario, BirthScenario):
        scenario = load_birth_scenario(scenario)
    pupils = pupils_from_region(region)
    s = region.settlements
    ids = s["settlement_id"].astype(str)
    area_types = dict(zip(ids, s["area_type"], strict=True))
    grade1 = s["pupils_lower_primary"].to_numpy(float) / len(BANDS["lower_primary"])
    growth = np.array([1 + settings.migration_rate(i, area_types[i]) for i in ids])
    scale = settings.entry_rate * growth**ENTRY_AGE
    reference = np.divide(grade1, scale, out=np.zeros_like(grade1), where=scale > 0)
    born = range(base_year + 1 - ENTRY_AGE, base_year + settings.horizon + 1 - ENTRY_AGE)
    births = regional_births(
        scenario, dict(zip(ids, reference, strict=True)), base_year - ENTRY_AGE, born
    )
    return project_enrolment(pupils, settings, base_year, births=births, area_types=area_types)
