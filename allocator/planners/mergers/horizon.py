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
from allocator.forecast import (
    BirthScenario,
    ForecastSettings,
    forecast_region,
    load_birth_scenario,
    school_enrolment,
)
from allocator.planners.mergers.columns import PLANNED_BANDS
from allocator.region import Region

#: Social discount rate for public investment appraisal in China: 8 % (国家发展改革委、建设部
#: 《建设项目经济评价方法与参数》第三版, 2006, 社会折现率). The default of ``discount_rate``.
SOCIAL_DISCOUNT_RATE = 0.08
#: Columns of a ready forecast table.
FORECAST_COLUMNS = ("settlement_id", "band", "year", "pupils")


def _bad_years(years, expected: str) -> InputError:
    return InputError(f"years {years!r} {expected}", table="plan", column="years", value=years)


def plan_years(years) -> tuple[int, ...]:
    """The years of a plan, checked: ``(first, last)``, a range or a list, increasing.

    Examples
    --------
    >>> plan_years((2026, 2030))
    (2026, 2027, 2028, 2029, 2030)
    >>> plan_years([2026, 2028, 2030])
    (2026, 2028, 2030)
    >>> plan_years((2030, 2026))
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'plan', column 'years': years (2030, 2026) run backwards; expected (first, last) with first <= last, e.g. (2026, 2030)
    """
    if isinstance(years, range):
        out = list(years)
    elif isinstance(years, tuple) and len(years) == 2:
        first, last = years
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in years):
            raise _bad_years(
                years, "are not whole years; expected (first, last), e.g. (2026, 2030)"
            )
        if first > last:
            raise _bad_years(
                years, "run backwards; expected (first, last) with first <= last, e.g. (2026, 2030)"
            )
        out = list(range(int(first), int(last) + 1))
    elif isinstance(years, list | tuple | np.ndarray | pd.Index):
        out = list(years)
    else:
        raise _bad_years(years, "is not a list of years; expected (first, last), a range or a list")
    if not out:
        raise _bad_years(years, "has no year; expected at least one year, e.g. (2026, 2030)")
    if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in out):
        raise _bad_years(years, "are not whole years; expected years like 2026")
    out = [int(v) for v in out]
    if any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise _bad_years(years, "are not increasing; expected each year after the one before")
    return tuple(out)


def year_weights(years: tuple[int, ...], rate: float, discount: bool = True) -> np.ndarray:
    """Weight of each planning year in the objective: the discount factors ``(1 + rate) ** -(u -
    first)`` of the calendar years u it stands for (from it to the next planning year; the last
    stands for itself). Without ``discount`` each year counts 1.

    Examples
    --------
    >>> year_weights((2026, 2027), 0.08).round(4).tolist()
    [1.0, 0.9259]
    >>> year_weights((2026, 2028), 0.0).tolist()
    [2.0, 1.0]
    """
    out = []
    for k, year in enumerate(years):
        stop = years[k + 1] if k + 1 < len(years) else year + 1
        span = np.arange(year, stop) - years[0]
        out.append(float(((1.0 + rate) ** -span).sum()) if discount else float(len(span)))
    return np.array(out)


def forecast_table(region: Region, years: tuple[int, ...], forecast) -> pd.DataFrame:
    """The pupils by settlement, band and year the plan uses, checked to cover every year of
    ``years`` (as :func:`plan_years` returns them).

    ``forecast`` is None (the medium birth scenario, no migration), a
    :class:`~allocator.forecast.ForecastSettings`, a tuple ``(settings, scenario)`` (a
    :class:`~allocator.forecast.BirthScenario` or its name), or a ready table.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=1)
    >>> table = forecast_table(region, plan_years((2026, 2028)), None)
    >>> sorted(table["year"].unique().tolist()), table.columns.tolist()
    ([2026, 2027, 2028], ['settlement_id', 'band', 'year', 'pupils'])
    """
    if isinstance(forecast, pd.DataFrame):
        missing = [c for c in FORECAST_COLUMNS if c not in forecast.columns]
        if missing:
            raise InputError(
                f"forecast lacks column {missing[0]!r}; expected columns "
                + ", ".join(FORECAST_COLUMNS),
                table="forecast",
                column=missing[0],
            )
        table = forecast
        _check_table(table, region)
        have = set(pd.to_numeric(table["year"], errors="coerce").dropna().astype(int))
        beyond = [y for y in years if y not in have]
        if beyond:
            span = f"{min(have)} to {max(have)}" if have else "no year"
            raise _bad_years(
                years, f"go beyond the forecast (it has {span}); expected years it covers"
            )
    else:
        settings, scenario = forecast, "medium"
        if isinstance(forecast, tuple) and len(forecast) == 2:
            settings, scenario = forecast
        if settings is None:
            settings = ForecastSettings(horizon=max(1, min(15, years[-1] - years[0])))
        if not isinstance(settings, ForecastSettings):
            raise InputError(
                f"forecast is a {type(settings).__name__}; expected ForecastSettings, "
                "(ForecastSettings, scenario) or a table settlement_id, band, year, pupils",
                table="forecast",
            )
        if years[-1] - years[0] > settings.horizon:
            raise _bad_years(
                years,
                f"go beyond the forecast horizon ({settings.horizon} years from {years[0]}, to "
                f"{years[0] + settings.horizon}); expected years up to {years[0] + settings.horizon}"
                " or a longer horizon",
            )
        if not isinstance(scenario, BirthScenario):
            scenario = load_birth_scenario(scenario)
        table = forecast_region(region, settings, years[0], scenario)
    table = table[table["band"].isin(PLANNED_BANDS)].copy()
    table["year"] = pd.to_numeric(table["year"]).astype(int)
    return table[table["year"].isin(years)].reset_index(drop=True)


def _check_table(table: pd.DataFrame, region: Region) -> None:
    """A ready forecast: years whole, pupils numbers >= 0, bands known, and every settlement with
    pupils today in it (a settlement left out would silently lose its pupils)."""
    for column, ok, expected in (
        ("year", lambda v: v.notna() & (v == v.round()), "a whole year"),
        ("pupils", lambda v: v.notna() & (v >= 0), "a number of pupils >= 0"),
    ):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = np.flatnonzero(~ok(values).to_numpy())
        if len(bad):
            row = int(bad[0])
            raise InputError(
                f"{column} {table[column].iloc[row]!r} is not {expected}",
                table="forecast",
                row=row,
                row_id=str(table["settlement_id"].iloc[row]),
                column=column,
                value=table[column].iloc[row],
            )
    bands = ("lower_primary", "upper_primary", "junior", "senior")
    bad = np.flatnonzero(~table["band"].isin(bands).to_numpy())
    if len(bad):
        row = int(bad[0])
        raise InputError(
            f"band {table['band'].iloc[row]!r} is not a band; expected one of {', '.join(bands)}",
            table="forecast",
            row=row,
            column="band",
            value=table["band"].iloc[row],
        )
    s = region.settlements
    pupils = s[[f"pupils_{b}" for b in PLANNED_BANDS]].sum(axis=1).to_numpy()
    listed = set(table["settlement_id"].astype(str))
    missing = [v for v, n in zip(s["settlement_id"].astype(str), pupils, strict=True)
               if n > 0 and v not in listed]  # fmt: skip
    if missing:
        raise InputError(
            f"settlement {missing[0]!r} has pupils today but no row in the forecast"
            + (f" ({len(missing)} such settlements)" if len(missing) > 1 else "")
            + "; expected rows for every settlement with pupils (pupils 0 where none are left)",
            table="forecast",
            row_id=missing[0],
            column="settlement_id",
        )


def _whole(values: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(values, dtype=float) + 0.5).astype(np.int64)


def yearly_regions(
    region: Region, years: tuple[int, ...], table: pd.DataFrame, base_is_first: bool
) -> dict[int, Region]:
    """The region of each year (see the module docstring): settlements' pupils of the year,
    rounded; schools' pupils by today's catchments (the region's own in the base year).

    Examples
    --------
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
