"""The years of a consolidation plan over a horizon and the region of each year.

``years`` is ``(first, last)`` (every year from first to last), a ``range`` or a list of years
(increasing). The forecast gives each year's pupils by settlement and band: a table
``settlement_id, band, year, pupils`` (:func:`allocator.forecast.forecast_region`), or
:class:`~allocator.forecast.ForecastSettings` and a birth scenario from which it is made with the
first year as the base year (today's pupils are the first year's). The region of a year has the
settlements' pupils of that year (rounded to whole pupils) and the schools' pupils of that year
(which decide the ``min_size`` rule of that year): a school's pupils of a band today times the
change of its catchment, the settlement bands whose nearest school of today it is
(:func:`allocator.forecast.school_enrolment`), from today to that year; a school with no catchment
in a band today adds that year's catchment to its pupils. The first year's region is the region as
given when the forecast is made from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.forecast import school_enrolment
from allocator.planners.mergers.columns import PLANNED_BANDS
from allocator.region import Region

__all__ = ["SOCIAL_DISCOUNT_RATE", "yearly_regions"]

#: Social discount rate for public investment appraisal in China: 8 % (国家发展改革委、建设部
#: 《建设项目经济评价方法与参数》第三版, 2006, 社会折现率). The default of ``discount_rate``.
SOCIAL_DISCOUNT_RATE = 0.08


def _whole(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5).astype(np.int64)


def yearly_regions(
    region: Region, years: tuple[int, ...], table: pd.DataFrame, base_is_first: bool
) -> dict[int, Region]:
    """The region of each year (see the module docstring): settlements' pupils of the year,
    rounded; schools' pupils by today's catchments (the region's own in the base year).

    Examples
    --------
    >>> from allocator.planners.years import forecast_table
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=1)
    >>> years = (2026, 2027)
    >>> regions = yearly_regions(region, years, forecast_table(region, years, None), True)
    >>> regions[2026] is region, len(regions[2027].schools) == len(region.schools)
    (True, True)
    """
    settlements = region.settlements
    ids = settlements["settlement_id"].astype(str)
    known = set(ids)
    unknown = sorted(set(table["settlement_id"].astype(str)) - known)
    if unknown:
        raise InputError(
            f"settlement {unknown[0]!r} of the forecast is not in the region; expected the "
            "region's settlement ids",
            table="forecast",
            row_id=unknown[0],
            column="settlement_id",
        )
    wide = table.assign(settlement_id=table["settlement_id"].astype(str)).pivot_table(
        index=["year", "settlement_id"], columns="band", values="pupils", aggfunc="sum"
    )
    # today's pupils by settlement and band as a forecast "year" 0: the catchments of today
    now = pd.concat(
        [
            pd.DataFrame(
                {
                    "settlement_id": ids,
                    "band": band,
                    "year": 0,
                    "pupils": settlements[f"pupils_{band}"].to_numpy(float),
                }
            )  # fmt: skip
            for band in PLANNED_BANDS
        ]
    )
    enrol = school_enrolment(region, pd.concat([now, table], ignore_index=True))
    by_school = enrol.pivot_table(
        index=["year", "school_id"], columns="band", values="pupils", aggfunc="sum"
    )
    school_ids = region.schools["school_id"].astype(str)

    def catchment(year: int, band: str) -> np.ndarray:
        if year not in by_school.index.get_level_values(0) or band not in by_school.columns:
            return np.zeros(len(school_ids))
        return by_school.xs(year, level="year")[band].reindex(school_ids).fillna(0.0).to_numpy()

    out = {}
    for year in years:
        if base_is_first and year == years[0]:
            out[year] = region
            continue
        s = settlements.copy()
        rows = wide.xs(year, level="year") if year in wide.index.get_level_values(0) else None
        sch = region.schools.copy()
        for band in PLANNED_BANDS:
            col = f"pupils_{band}"
            values = np.zeros(len(s))
            if rows is not None and band in rows.columns:
                values = rows[band].reindex(ids).fillna(0.0).to_numpy()
            s[col] = _whole(values)
            # the school's pupils move with its catchment: in proportion where it has one today
            actual = sch[col].to_numpy(float)
            today, then = catchment(0, band), catchment(year, band)
            ratio = np.divide(then, today, out=np.zeros_like(then), where=today > 0)
            sch[col] = _whole(np.where(today > 0, actual * ratio, actual + then))
        out[year] = region.replace(schools=sch, settlements=s)
    return out
