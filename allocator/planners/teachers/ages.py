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
from allocator.i18n import Words
from allocator.region import numeric_column, require_columns
from allocator.text import plain

__all__ = [
    "AGE_PROFILE_FILE",
    "TEACHER_AGE_COLUMNS",
    "age_profile",
    "read_teacher_ages",
    "retirements",
]

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


#: The columns of a teacher ages file, each with the label whose words (English or Chinese) are
#: also accepted as its header.
TEACHER_AGE_COLUMNS = {
    "school_id": "col.school_id",
    "age": "teachers_years.col.age",
    "teachers": "col.teachers",
}
#: Ages a teacher in post can have.
_AGES = (16, 80)


def _headers() -> dict[str, str]:
    """Accepted header -> column: the column's name and its label in English and Chinese."""
    out = {}
    for column, key in TEACHER_AGE_COLUMNS.items():
        out[column] = column
        for language in ("en", "zh"):
            out[Words(language)(key).strip().lower()] = column
    return out


def read_teacher_ages(path: str | Path) -> pd.DataFrame:
    r"""A teacher ages table from a CSV file (UTF-8, with or without a byte-order mark) or an Excel
    workbook (sheet ``teacher_ages``, else the first), checked row by row.

    Columns ``school_id, age, teachers`` (one row per school and age, ages in the plan's first
    year); the headers may also be the report's words for them, English or Chinese (学校代码,
    年龄, 教师数). Bad input gets one InputError naming the file, line (line 1 is the header),
    column and value.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "ages.csv"
    >>> _ = f.write_text("学校代码,年龄,教师数\nS1,58,2\nS1,40,7\n", encoding="utf-8")
    >>> read_teacher_ages(f).values.tolist()
    [['S1', 58, 2], ['S1', 40, 7]]
    >>> _ = f.write_text("school_id,age,teachers\nS1,58,2\nS1,forty,7\n", encoding="utf-8")
    >>> read_teacher_ages(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: ...ages.csv, line 3, table 'teacher_ages', row 'S1', column 'age': value 'forty' is not a whole number; expected an age from 16 to 80
    """
    raw, where = _read_sheet(path, "teacher_ages")
    out = _columns(
        raw,
        where,
        tuple(TEACHER_AGE_COLUMNS),
        "school_id, age, teachers (or 学校代码, 年龄, 教师数)",
    )
    out["school_id"] = out["school_id"].astype(str).str.strip()
    low, high = _AGES
    for pos in range(len(out)):
        sid = out["school_id"].iloc[pos]
        here = {"line": pos + 2, "row_id": sid or None, **where}
        if not sid:
            raise InputError(
                "missing school_id; expected a school of the region", column="school_id", **here
            )
        _whole(out, pos, "age", low, high, f"an age from {low} to {high}", here)
        _whole(out, pos, "teachers", 0, None, "a count of teachers >= 0", here)
    out["age"] = pd.to_numeric(out["age"]).round().astype(np.int64)
    out["teachers"] = pd.to_numeric(out["teachers"]).round().astype(np.int64)
    return out.reset_index(drop=True)


def _read_sheet(path: str | Path, table: str) -> tuple[pd.DataFrame, dict]:
    """The cells of a CSV file or a workbook's sheet ``table`` (else its first) as text, with
    the headers the report's words stand for renamed to their columns; and where it is."""
    path = Path(path)
    where = {"table": table, "file": str(path)}
    if not path.exists():
        raise InputError("file not found; expected a CSV file or an .xlsx workbook", **where)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False)
            raw = sheets.get(table, next(iter(sheets.values())))
        else:
            raw = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason}); save it as UTF-8 CSV", **where) from None
    except Exception as exc:  # a damaged workbook or CSV: pandas and openpyxl raise many types
        raise InputError(f"cannot read the table: {exc}", **where) from None
    headers = _headers()
    return raw.rename(columns=lambda c: headers.get(str(c).strip().lower(), str(c).strip())), where


def _columns(raw: pd.DataFrame, where: dict, columns: tuple, expected: str) -> pd.DataFrame:
    """``columns`` of ``raw`` (a copy), or one InputError naming the first missing."""
    for column in columns:
        if column not in raw.columns:
            raise InputError(
                f"no {column} column; expected columns {expected}", column=column, **where
            )
    return raw[list(columns)].copy()


def _whole(table, pos, column, low, high, expected, here, whole=True) -> float:
    """The number in row ``pos`` of ``column`` (text), checked: a (whole) number from ``low`` to
    ``high`` (None: no bound); else one InputError at the row's line."""
    text = str(table[column].iloc[pos]).strip()
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    kind = "a whole number" if whole else "a number"
    if not np.isfinite(value) or (whole and value != round(value)):
        raise InputError(
            f"value {text!r} is not {kind}; expected {expected}", column=column, value=text, **here
        )
    if value < low or (high is not None and value > high):
        shown = int(value) if value == round(value) else value
        raise InputError(
            f"value {shown} cannot be right; expected {expected}",
            column=column,
            value=shown,
            **here,
        )
    return value


#: The columns of an age profile file.
PROFILE_COLUMNS = ("area_type", "age_from", "age_to", "share")


def read_age_profile(path: str | Path) -> pd.DataFrame:
    r"""An age profile per area type from a CSV file or a workbook (sheet ``age_profile``), in the
    shape of the built-in ``age_profile.csv``: ``area_type, age_from, age_to, share`` (the share of
    a type's teachers aged ``age_from`` to ``age_to`` in the first year), checked row by row: ages
    whole from 16 to 80, bands of one type not overlapping, shares from 0 to 1 adding up to 1 for
    each area type. Returns :func:`age_profile`'s table (by single year of age).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "profile.csv"
    >>> _ = f.write_text("area_type,age_from,age_to,share\nrural,20,49,0.7\nrural,50,59,0.3\n")
    >>> p = read_age_profile(f)
    >>> len(p), round(float(p["share"].sum()), 9)
    (40, 1.0)
    >>> _ = f.write_text("area_type,age_from,age_to,share\nrural,20,49,0.7\nrural,45,59,0.3\n")
    >>> read_age_profile(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: ...profile.csv, line 3, table 'age_profile', row 'rural', column 'age_from': ages 45 to 49 are in two bands of rural; expected bands that do not overlap
    """
    raw, where = _read_sheet(path, "age_profile")
    bands = _columns(raw, where, PROFILE_COLUMNS, ", ".join(PROFILE_COLUMNS))
    low, high = _AGES
    seen: dict[str, set] = {}
    totals: dict[str, float] = {}
    checked = []
    for pos in range(len(bands)):
        kind = str(bands["area_type"].iloc[pos]).strip()
        here = {"line": pos + 2, "row_id": kind or None, **where}
        if not kind:
            raise InputError(
                "missing area_type; expected urban, town or rural", column="area_type", **here
            )
        a = int(_whole(bands, pos, "age_from", low, high, f"an age from {low} to {high}", here))
        b = int(
            _whole(bands, pos, "age_to", a, high, f"an age from age_from ({a}) to {high}", here)
        )
        share = _whole(bands, pos, "share", 0, 1, "a share from 0 to 1", here, whole=False)
        both = seen.setdefault(kind, set()) & set(range(a, b + 1))
        if both:
            raise InputError(
                f"ages {min(both)} to {max(both)} are in two bands of {kind}; expected bands that "
                "do not overlap",
                column="age_from", value=a, **here,
            )  # fmt: skip
        seen[kind] |= set(range(a, b + 1))
        totals[kind] = totals.get(kind, 0.0) + share
        checked.append((kind, a, b, share))
    for kind, total in totals.items():
        if abs(total - 1.0) > 1e-6:
            raise InputError(
                f"the shares of {kind} add up to {total:.4g}; expected 1",
                column="share", row_id=kind, value=round(total, 6), **where,
            )  # fmt: skip
    return pd.DataFrame(
        [(kind, age, share / (b - a + 1)) for kind, a, b, share in checked
         for age in range(a, b + 1)],
        columns=["area_type", "age", "share"],
    )  # fmt: skip


def ages_from_profile(schools: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """A ``teacher_ages`` table for the schools whose area type ``profile`` has: each school's
    teachers spread over the ages as the profile's shares, whole teachers by cumulative rounding
    from the oldest age down (``round(T * F_a) - round(T * F_(a+1))``, ``F_a`` the share aged
    ``a`` or older, half up), so that they add up to the school's teachers and retire as
    :func:`retirements` retires them by the profile.

    Examples
    --------
    >>> profile = pd.DataFrame({"area_type": "rural", "age": [59, 58, 40], "share": [0.05, 0.15, 0.8]})
    >>> schools = pd.DataFrame({"school_id": ["R", "U"], "area_type": ["rural", "urban"],
    ...                         "teachers": [30, 10]})
    >>> ages_from_profile(schools, profile).values.tolist()
    [['R', 59, 2], ['R', 58, 4], ['R', 40, 24]]
    """
    rows = []
    for kind, share in profile.groupby("area_type"):
        share = share.groupby("age")["share"].sum().sort_index(ascending=False)
        cumulative = np.cumsum(share.to_numpy(float))
        mine = schools[schools["area_type"].astype(str) == str(kind)]
        for sid, T in zip(mine["school_id"].astype(str), mine["teachers"].astype(int), strict=True):
            held = np.floor(T * cumulative + 0.5 + 1e-9).astype(np.int64)
            counts = np.diff(np.concatenate([[0], held]))
            rows += [(sid, int(a), int(n)) for a, n in zip(share.index, counts, strict=True) if n]
    return pd.DataFrame(rows, columns=list(TEACHER_AGE_COLUMNS))


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
