"""Cohort-survival projection of pupils per settlement and grade (the grade-progression method of
EPSSim and of China's own planning sheets), year by year over a horizon of 1 to 15 years.

With ``P[g, t]`` the pupils of grade ``g`` in year ``t`` of one settlement, ``m`` its net migration
a year, ``r``, ``d`` the repetition and dropout rates, ``p = 1 - r - d`` the promotion rate and
``tau`` the transition from grade 6 to grade 7:

* ``P[1, t+1] = E[t+1] * entry_rate + (1 + m) * P[1, t] * r[1]``;
* ``P[g+1, t+1] = (1 + m) * (P[g, t] * p[g] * (tau if g == 6 else 1) + P[g+1, t] * r[g+1])``;
* the children aged 6 in year ``t`` (``E[t]``) come from the population by single year of age in
  the base year (aged ``6 - h`` for entry ``h`` years on, grown by ``(1 + m) ** h``) or, where the
  age is not given, from the births of year ``t - 6`` (grown by ``(1 + m) ** 6``).

Every step is linear, so the projection of a sum of settlements with the same rates is the sum of
their projections. Pupils are kept as fractions; round them only to show them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.forecast.rates import BANDS, ENTRY_AGE, GRADES, ForecastSettings, band_of_grade
from allocator.region import numeric_column, require_columns
from allocator.text import plain, plural

__all__ = ["by_band", "project_enrolment", "project_grades"]


def _columns(df, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """The id column as text and the others as numbers >= 0 (grade, age and year whole)."""
    require_columns(df, table, columns)
    out = df[list(columns)].reset_index(drop=True)
    out[columns[0]] = out[columns[0]].astype(str)
    for column in columns[1:]:
        whole = column in ("grade", "age", "year")
        numeric_column(out, table, column, columns[0], whole=whole, nonnegative=True)
    return out


def _grid(df: pd.DataFrame, ids: list[str], key: str, table: str) -> dict:
    """(settlement_id, key) -> value, refusing a pair given twice."""
    pairs = df.groupby(["settlement_id", key]).size()
    if (pairs > 1).any():
        sid, k = pairs[pairs > 1].index[0]
        raise InputError(
            f"{key} {plain(k)!r} is given twice; expected one row per settlement and {key}",
            table=table,
            row_id=sid,
            column=key,
            value=plain(k),
        )
    return dict(zip(zip(df["settlement_id"], df[key], strict=True), df.iloc[:, 2], strict=True))


def _entrants(ids, settings, base_year, ages, births, growth) -> np.ndarray:
    """Children aged 6 in each year base+1 .. base+horizon, per settlement (before entry_rate)."""
    by_age = _grid(ages, ids, "age", "ages") if ages is not None else {}
    by_birth = _grid(births, ids, "year", "births") if births is not None else {}
    out = np.zeros((len(ids), settings.horizon))
    for i, sid in enumerate(ids):
        for h in range(1, settings.horizon + 1):
            age, born = ENTRY_AGE - h, base_year + h - ENTRY_AGE
            if (sid, age) in by_age:
                out[i, h - 1] = by_age[sid, age] * growth[i] ** h
            elif (sid, born) in by_birth:
                out[i, h - 1] = by_birth[sid, born] * growth[i] ** ENTRY_AGE
            else:
                has = "ages" if age >= 0 and ages is not None else "births"
                raise InputError(
                    f"no children aged {age} in {base_year} and no births in {born}; expected "
                    f"one of them for the entrants of {base_year + h} "
                    f"(a horizon of {plural(settings.horizon, 'year')})"
                    if age >= 0
                    else f"no births in {born}; expected them for the entrants of "
                    f"{base_year + h} (a horizon of {plural(settings.horizon, 'year')})",
                    table=has,
                    row_id=sid,
                    column="age" if has == "ages" else "year",
                    value=age if has == "ages" else born,
                )
    return out


def project_grades(
    pupils: pd.DataFrame,
    settings: ForecastSettings,
    base_year: int,
    *,
    ages: pd.DataFrame | None = None,
    births: pd.DataFrame | None = None,
    area_types: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Pupils by settlement, grade and year, from the base year to ``base_year + horizon``.

    Parameters
    ----------
    pupils : DataFrame
        ``settlement_id``, ``grade`` (1-9), ``pupils``: the pupils of the base year who live in each
        settlement; a grade not listed has none, and so has a settlement found only in ``ages`` or
        ``births`` (a new area).
    settings : ForecastSettings
        The rates and the horizon.
    base_year : int
        The year of ``pupils`` and ``ages``.
    ages : DataFrame, optional
        ``settlement_id``, ``age``, ``population``: children by single year of age in the base
        year; ages 0-5 give the entrants of the next six years.
    births : DataFrame, optional
        ``settlement_id``, ``year``, ``births``: births by year (e.g. from
        :func:`allocator.forecast.regional_births`); used for every entry year whose age is not in
        ``ages``. Each entry year needs one or the other, or an InputError names the first gap.
    area_types : mapping settlement_id -> area type, optional
        Needed when ``settings.migration`` is set by area type.

    Returns
    -------
    DataFrame
        ``settlement_id``, ``year``, ``grade``, ``band``, ``pupils`` (floats), base year included.

    Examples
    --------
    Ten pupils in every grade, ten children of every age 0-5, all rates 1: the same ten a grade
    every year.

    >>> pupils = pd.DataFrame({"settlement_id": "A", "grade": range(1, 10), "pupils": 10.0})
    >>> ages = pd.DataFrame({"settlement_id": "A", "age": range(6), "population": 10.0})
    >>> out = project_grades(pupils, ForecastSettings(horizon=3), 2025, ages=ages)
    >>> out.groupby("year")["pupils"].sum().tolist()
    [90.0, 90.0, 90.0, 90.0]
    """
    pupils = _columns(pupils, "pupils", ("settlement_id", "grade", "pupils"))
    bad = ~pupils["grade"].isin(GRADES)
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"grade {plain(pupils['grade'].iloc[pos])!r} is not a grade of 1 to 9",
            table="pupils",
            row=pos,
            row_id=pupils["settlement_id"].iloc[pos],
            column="grade",
            value=plain(pupils["grade"].iloc[pos]),
        )
    if ages is not None:
        ages = _columns(ages, "ages", ("settlement_id", "age", "population"))
    if births is not None:
        births = _columns(births, "births", ("settlement_id", "year", "births"))
    if isinstance(base_year, bool) or not isinstance(base_year, int | np.integer):
        raise InputError(f"base_year = {plain(base_year)!r} is not a whole year", value=base_year)
    ids = list(pupils["settlement_id"])
    for table in (ages, births):
        if table is not None:
            ids.extend(table["settlement_id"])
    ids = list(dict.fromkeys(ids))  # every settlement of any table, first appearance first
    _grid(pupils, ids, "grade", "pupils")
    given = dict(area_types.items()) if area_types is not None else {}
    kinds = {str(k): v for k, v in given.items()}
    growth = np.array([1 + settings.migration_rate(s, kinds.get(s)) for s in ids])
    entrants = _entrants(ids, settings, int(base_year), ages, births, growth)
    now = np.zeros((len(ids), len(GRADES)))
    table = pupils.groupby(["settlement_id", "grade"])["pupils"].sum()
    row = {sid: i for i, sid in enumerate(ids)}
    for (sid, grade), value in table.items():
        now[row[sid], grade - 1] = value
    rep = np.array(settings.repetition)
    moved = np.array(settings.promotion[:-1])
    moved[5] *= settings.transition  # promoted out of grade 6 into junior school
    years = [now]
    for h in range(settings.horizon):
        nxt = now * rep
        nxt[:, 1:] += now[:, :-1] * moved
        nxt *= growth[:, None]
        nxt[:, 0] += entrants[:, h] * settings.entry_rate
        years.append(nxt)
        now = nxt
    stack = np.stack(years)  # (year, settlement, grade)
    n_years, n_ids, n_grades = stack.shape
    return pd.DataFrame(
        {
            "settlement_id": np.tile(np.repeat(ids, n_grades), n_years),
            "year": np.repeat(np.arange(base_year, base_year + n_years), n_ids * n_grades),
            "grade": np.tile(GRADES, n_years * n_ids),
            "band": np.tile([band_of_grade(g) for g in GRADES], n_years * n_ids),
            "pupils": stack.reshape(-1),
        }
    )


def by_band(grades: pd.DataFrame) -> pd.DataFrame:
    """Pupils by settlement, band and year from :func:`project_grades`'s table (settlements in
    their order of first appearance, then years, then bands from grade 1 up).

    Examples
    --------
    >>> g = pd.DataFrame({"settlement_id": "A", "year": 2025, "grade": range(1, 10),
    ...                   "band": [band_of_grade(x) for x in range(1, 10)], "pupils": 1.0})
    >>> by_band(g)["pupils"].tolist()
    [3.0, 3.0, 3.0]
    """
    out = grades.groupby(["settlement_id", "band", "year"], sort=False)["pupils"].sum()
    out = out.reset_index()
    place = {s: i for i, s in enumerate(dict.fromkeys(grades["settlement_id"]))}
    band = {b: i for i, b in enumerate(BANDS)}
    out = out.assign(
        _place=out["settlement_id"].map(place), _band=out["band"].map(band)
    ).sort_values(["_place", "year", "_band"], kind="stable")
    return out.reset_index(drop=True)[["settlement_id", "band", "year", "pupils"]]


def project_enrolment(
    pupils: pd.DataFrame,
    settings: ForecastSettings,
    base_year: int,
    *,
    ages: pd.DataFrame | None = None,
    births: pd.DataFrame | None = None,
    area_types: Mapping[str, str] | pd.Series | None = None,
) -> pd.DataFrame:
    """Pupils by settlement, band (``lower_primary`` 1-3, ``upper_primary`` 4-6, ``junior`` 7-9)
    and year: :func:`project_grades` summed over each band's grades; same parameters.

    Examples
    --------
    >>> pupils = pd.DataFrame({"settlement_id": "A", "grade": [6], "pupils": [100.0]})
    >>> births = pd.DataFrame({"settlement_id": "A", "year": [2020], "births": [50.0]})
    >>> out = project_enrolment(pupils, ForecastSettings(horizon=1, transition=0.9), 2025,
    ...                         births=births)
    >>> out[out["year"] == 2026][["band", "pupils"]].values.tolist()
    [['lower_primary', 50.0], ['upper_primary', 0.0], ['junior', 90.0]]
    """
    grades = project_grades(
        pupils, settings, base_year, ages=ages, births=births, area_types=area_types
    )
    return by_band(grades)
