"""Retirements by year for teacher plans over years: from teachers' ages, or an age profile.

The region is the first year's data (:mod:`allocator.planners.years`), and so are the ages: a
teacher aged ``a`` in the first year reaches the retirement age ``R`` in year ``first + R - a`` and
retires in that year (teachers at or above ``R`` retire in the first year). Ages come from
a ``teacher_ages`` table (``school_id, age, teachers``: a school's rows add up to its teachers), or,
for schools it does not list, from the age profile of the school's area type
(``allocator/data/teachers/age_profile.csv``: the share of teachers in each age band, spread evenly
over the band's single years). The default profile is illustrative and labelled unconfirmed; a
county's own teacher ages replace it.

With a profile, a school of ``T`` teachers loses ``round(T * F_k) - round(T * F_(k-1))`` teachers
in year ``k`` (``k = 0`` the first year), ``F_k`` the share of its teachers aged ``R - k`` or
older (rounded half up): the retirements are whole teachers and add up to the profile's share.

Examples
--------
>>> import pandas as pd
>>> schools = pd.DataFrame({"school_id": ["A"], "area_type": ["rural"], "teachers": [10]})
>>> ages = pd.DataFrame({"school_id": "A", "age": [60, 59, 40], "teachers": [2, 1, 7]})
>>> retirements(schools, 3, 60, ages).tolist()
[[2, 1, 0]]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.region import numeric_column, require_columns
from allocator.text import plain

__all__ = ["AGE_PROFILE_FILE", "age_profile", "retirements"]

#: The default age profile of teachers by area type (illustrative, unconfirmed).
AGE_PROFILE_FILE = Path(__file__).resolve().parents[2] / "data" / "teachers" / "age_profile.csv"


def age_profile(path: str | Path | None = None) -> pd.DataFrame:
    """Share of teachers by single year of age and area type: ``area_type, age, share``.

    Examples
    --------
    >>> p = age_profile()
    >>> p.groupby("area_type")["share"].sum().round(9).tolist()
    [1.0, 1.0, 1.0]
    """
    path = AGE_PROFILE_FILE if path is None else Path(path)
    bands = pd.read_csv(path)
    require_columns(bands, str(path), ("area_type", "age_from", "age_to", "share"))
    rows = []
    for band in bands.itertuples():
        ages = range(int(band.age_from), int(band.age_to) + 1)
        for age in ages:
            rows.append((band.area_type, age, float(band.share) / len(ages)))
    return pd.DataFrame(rows, columns=["area_type", "age", "share"])


def _checked_ages(teacher_ages: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """The table with whole ages and counts, known schools, and each school's total right."""
    require_columns(teacher_ages, "teacher_ages", ("school_id", "age", "teachers"))
    t = teacher_ages[["school_id", "age", "teachers"]].reset_index(drop=True).copy()
    t["school_id"] = t["school_id"].astype(str)
    for column in ("age", "teachers"):
        numeric_column(t, "teacher_ages", column, "school_id", whole=True, nonnegative=True)
    known = set(schools["school_id"].astype(str))
    unknown = ~t["school_id"].isin(known).to_numpy()
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        raise InputError(
            "school is not in the region; expected a school_id of the schools table",
            table="teacher_ages",
            row=pos,
            row_id=t["school_id"].iloc[pos],
            column="school_id",
        )
    totals = t.groupby("school_id")["teachers"].sum()
    have = schools.set_index(schools["school_id"].astype(str))["teachers"]
    for sid, total in totals.items():
        if int(total) != int(have[sid]):
            raise InputError(
                f"the ages add up to {plain(int(total))} teachers; expected the school's "
                f"teachers ({plain(int(have[sid]))})",
                table="teacher_ages",
                row_id=sid,
                column="teachers",
                value=int(total),
            )
    return t


def retirements(
    schools: pd.DataFrame,
    years: int,
    retirement_age: int,
    teacher_ages: pd.DataFrame | None = None,
    profile: pd.DataFrame | None = None,
) -> np.ndarray:
    """Teachers of each school who retire in each of the ``years`` years from the first.

    Parameters
    ----------
    schools : DataFrame
        ``school_id``, ``area_type``, ``teachers`` (the first year's).
    years : int
    retirement_age : int
    teacher_ages : DataFrame, optional
        ``school_id, age, teachers`` in the first year; schools not listed use the profile.
    profile : DataFrame, optional
        :func:`age_profile`'s table (default: the built-in profile).

    Returns
    -------
    numpy.ndarray
        ``(schools, years)`` whole numbers; a school's row adds up to at most its teachers.
    """
    n = len(schools)
    out = np.zeros((n, years), dtype=np.int64)
    ids = schools["school_id"].astype(str).to_numpy()
    listed: set[str] = set()
    if teacher_ages is not None:
        t = _checked_ages(teacher_ages, schools)
        listed = set(t["school_id"])
        row = {sid: i for i, sid in enumerate(ids)}
        for sid, age, count in t.itertuples(index=False):
            k = max(retirement_age - int(age), 0)  # at or past the age: the first year
            if k < years and count:
                out[row[sid], k] += int(count)
    profile = age_profile() if profile is None else profile
    T = schools["teachers"].to_numpy(np.int64)
    area = schools["area_type"].astype(str).to_numpy()
    for kind in np.unique(area):
        share = profile[profile["area_type"] == kind].set_index("age")["share"]
        at = np.array([float(share.get(retirement_age - k, 0.0)) for k in range(years)])
        at[0] += float(share[share.index > retirement_age].sum())
        cumulative = np.floor(np.outer(T, np.cumsum(at)) + 0.5 + 1e-9).astype(np.int64)
        yearly = np.diff(np.concatenate([np.zeros((n, 1), np.int64), cumulative], axis=1), axis=1)
        rows = (area == kind) & ~np.isin(ids, list(listed))
        out[rows] = yearly[rows]
    return out
