"""The years of a plan over a horizon, shared by the planners over years (mergers, teachers,
budget): the years asked for, checked (:func:`plan_years`, :func:`checked_years`), a year of a
finished plan (:func:`checked_year`), the forecast table a plan uses (:func:`forecast_table`) and
each year's schools and settlements with that year's pupils (:func:`year_pupils`).

One reading of ``years`` for every planner: ``years`` is ``(first, last)`` (every year from first
to last), a ``range`` or a list of years (increasing), and **the region is the first year's
data**. The first year's pupils are the region's own; a forecast gives the later years' (each
school moves by its catchment's change from the first year). A plan's ``region_in(first)`` is the
first year's region after that year's changes (closures, hires, purchases of the first year). The
teacher planner follows flows from one year to the next, so its years are consecutive
(:func:`checked_years`); its teachers' ages are those of the first year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.forecast import (
    BANDS,
    MAX_HORIZON,
    BirthScenario,
    ForecastSettings,
    forecast_region,
    load_birth_scenario,
    school_enrolment,
)
from allocator.region import Region

__all__ = [
    "year_weights",
    "FORECAST_COLUMNS",
    "PLANNED_BANDS",
    "checked_year",
    "checked_years",
    "forecast_table",
    "plan_years",
    "year_pupils",
]

#: Columns of a ready forecast table.
FORECAST_COLUMNS = ("settlement_id", "band", "year", "pupils")
#: The compulsory bands a plan over years follows (senior high is left as it is).
PLANNED_BANDS = tuple(BANDS)


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


def checked_year(year, years) -> int:
    """``year`` if it is one of a finished plan's ``years``, else one InputError line.

    Examples
    --------
    >>> checked_year(2027, (2026, 2027))
    2027
    >>> checked_year(2031, (2026, 2027))
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'plan', column 'year': year 2031 is not a year of the plan; expected one of 2026, 2027
    """
    if year not in years:
        raise InputError(
            f"year {year!r} is not a year of the plan; expected one of "
            + ", ".join(str(y) for y in years),
            table="plan",
            column="year",
            value=year,
        )
    return year


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


def checked_years(years) -> tuple[int, ...]:
    """The years of a plan of flows from one year to the next (the teacher planner's), checked:
    :func:`plan_years`, consecutive, and at most ``MAX_HORIZON`` years after the first.

    Examples
    --------
    >>> checked_years((2026, 2028)), checked_years([2026, 2027])
    ((2026, 2027, 2028), (2026, 2027))
    >>> checked_years([2026, 2028])
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'plan', column 'years': years [2026, 2028] skip a year; expected consecutive years, e.g. (2026, 2030)
    """
    out = plan_years(years)
    if any(b != a + 1 for a, b in zip(out, out[1:], strict=False)):
        raise _bad_years(years, "skip a year; expected consecutive years, e.g. (2026, 2030)")
    if out[-1] - out[0] > MAX_HORIZON:
        raise _bad_years(
            years, f"span more than {MAX_HORIZON} years after the first; expected a shorter horizon"
        )
    return out


def _classes(schools: pd.DataFrame, pupils: np.ndarray) -> np.ndarray:
    """Classes for ``pupils``: each school keeps today's pupils per class (at least one class
    while it has pupils)."""
    now = schools[
        ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior", "pupils_senior"]
    ]
    now = now.to_numpy(float).sum(axis=1)
    classes = schools["classes"].to_numpy(float)
    size = np.divide(now, classes, out=np.ones_like(now), where=classes > 0)
    size[size <= 0] = 1.0
    out = np.ceil(np.round(pupils / size, 9))
    out = np.where(pupils > 0, np.maximum(out, 1), 0)
    return np.where((classes > 0) & (now == 0), classes, out).astype(np.int64)


def year_pupils(region: Region, forecast: pd.DataFrame, base: int, years: list[int]):
    """The schools' and settlements' tables of each year, with that year's pupils and classes.

    A forecast by settlement (``settlement_id, band, year, pupils``, e.g.
    :func:`allocator.forecast.forecast_region`) gives the settlements' pupils (rounded; one it does
    not list keeps today's), and each
    school's pupils change by what its catchment's change (today's catchments,
    :func:`allocator.forecast.school_enrolment`), never below 0. A forecast by school (``school_id,
    band, year, pupils``) gives the schools' pupils (rounded; a school or band it does not list
    keeps today's) and leaves the settlements as they are.

    Returns
    -------
    dict
        year -> (schools, settlements).
    """
    schools, settlements = region.schools, region.settlements
    by_school = "school_id" in forecast.columns
    key = "school_id" if by_school else "settlement_id"
    for column in (key, "band", "year", "pupils"):
        if column not in forecast.columns:
            raise InputError(
                f"the forecast has no {column} column; expected settlement_id (or school_id), "
                "band, year, pupils",
                table="forecast",
                column=column,
            )
    f = forecast.assign(**{key: forecast[key].astype(str)})
    table_ids = schools if by_school else settlements
    known = set(table_ids[key].astype(str))
    unknown = ~f[key].isin(known).to_numpy()
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        raise InputError(
            f"{key} is not in the region; expected the region's {key}s",
            table="forecast",
            row=pos,
            row_id=f[key].iloc[pos],
            column=key,
        )
    if by_school:
        table = f
    else:
        table = school_enrolment(region, f)
        table["school_id"] = table["school_id"].astype(str)
    grid = table.groupby(["school_id", "band", "year"])["pupils"].sum()
    sids = schools["school_id"].astype(str).to_numpy()
    out = {}
    for year in years:
        s = schools.copy()
        total = s["pupils_senior"].to_numpy(float)
        for band in BANDS:
            now = s[f"pupils_{band}"].to_numpy(float)
            then = np.array([grid.get((sid, band, year), np.nan) for sid in sids])
            if by_school:
                new = np.where(np.isnan(then), now, then)
            else:
                first = np.array([grid.get((sid, band, base), 0.0) for sid in sids])
                new = now + np.nan_to_num(then) - first
            s[f"pupils_{band}"] = np.maximum(np.round(new), 0).astype(np.int64)
            total = total + s[f"pupils_{band}"].to_numpy(float)
        s["classes"] = _classes(schools, total)
        st = settlements
        if not by_school and len(settlements):
            st = settlements.copy()
            rows = f[f["year"] == year].groupby([key, "band"])["pupils"].sum()
            ids = st["settlement_id"].astype(str)
            for band in BANDS:
                now = st[f"pupils_{band}"].to_numpy(float)
                values = np.array([rows.get((i, band), np.nan) for i in ids])
                values = np.where(np.isnan(values), now, values)  # not in the forecast: as today
                st[f"pupils_{band}"] = np.maximum(np.round(values), 0).astype(np.int64)
        out[year] = (s, st)
    return out


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
