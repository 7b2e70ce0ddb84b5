"""What a training plan allocates and over how many years: :class:`TrainingPolicy`, and the
training programmes as data (``allocator/data/training_programmes.csv``, :data:`PROGRAMMES_FILE`).

A programme is a row: ``programme`` (name), ``level`` (national, provincial or county),
``seats`` (places a year for the area), ``hours`` (continuing-education hours one place gives),
``cost_per_place`` (yuan), ``backbone`` (true: the place trains a 骨干教师, turning one of the
school's teachers into a backbone teacher) and ``source``. The shipped figures are ASSUMED planning
values except the hours the national documents set; the file says so row by row.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.errors import InputError
from allocator.planners.base import freeze

__all__ = ["LEVELS", "PROGRAMME_COLUMNS", "PROGRAMMES_FILE", "TrainingPolicy", "load_programmes"]

#: Programme levels, from the top.
LEVELS = ("national", "provincial", "county")
#: The columns of a programme table (``source`` documents the figures and is not read).
PROGRAMME_COLUMNS = ("programme", "level", "seats", "hours", "cost_per_place", "backbone")
#: The default programmes.
PROGRAMMES_FILE = Path(__file__).resolve().parents[2] / "data" / "training_programmes.csv"


def _reject(column, value, message):
    raise InputError(message, table="policy", column=column, value=value)


def _bad(label, row, column, value, expected):
    raise InputError(
        f"{label}: programme {row!r}: {column}={value!r}; expected {expected}",
        table="programmes",
        column=column,
        value=value,
    )


def _number(label, name, column, value, whole=False) -> float:
    try:
        number = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
    except ValueError:
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0:
        _bad(label, name, column, value, "a number >= 0")
    if whole and number != int(number):
        _bad(label, name, column, value, "a whole number of places")
    return number


def load_programmes(source=None) -> pd.DataFrame:
    """The training programmes as a checked table (columns :data:`PROGRAMME_COLUMNS`).

    Parameters
    ----------
    source : None, path or list of dict
        None: :data:`PROGRAMMES_FILE`; a CSV path; rows (e.g. from a scenario file).

    Raises
    ------
    InputError
        Naming the programme, the column and the value.

    Examples
    --------
    >>> p = load_programmes()
    >>> county = p.set_index("programme").loc["county_cycle"]
    >>> int(county["seats"]), float(county["hours"])
    (800, 72.0)
    >>> load_programmes([{"programme": "x", "level": "town", "seats": 1, "hours": 1,
    ...                   "cost_per_place": 1, "backbone": False}])
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'programmes', column 'level': programmes: programme 'x': level='town'; expected national, provincial or county
    """
    if source is None or isinstance(source, str | Path):
        path = Path(source) if source is not None else PROGRAMMES_FILE
        if not path.is_file():
            raise InputError("file not found; expected a programmes .csv file", file=str(path))
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows, label = list(csv.DictReader(f)), path.name
    elif isinstance(source, list | tuple) and all(isinstance(r, Mapping) for r in source):
        rows, label = [dict(r) for r in source], "programmes"
    else:
        _reject("programmes", source, "expected None, a CSV path or a list of programme tables")
    if not rows:
        raise InputError(f"{label}: no programmes", table="programmes")
    out = []
    for row in rows:
        missing = [c for c in PROGRAMME_COLUMNS if c not in row or row[c] in (None, "")]
        if missing:
            raise InputError(
                f"{label}: a programme lacks {missing[0]!r}; expected {', '.join(PROGRAMME_COLUMNS)}",
                table="programmes",
                column=missing[0],
            )
        name = str(row["programme"])
        if row["level"] not in LEVELS:
            _bad(label, name, "level", row["level"], "national, provincial or county")
        flag = row["backbone"]
        if isinstance(flag, str):
            if flag.strip().lower() not in ("true", "false"):
                _bad(label, name, "backbone", flag, "true or false")
            flag = flag.strip().lower() == "true"
        elif not isinstance(flag, bool):
            _bad(label, name, "backbone", flag, "true or false")
        out.append(
            {
                "programme": name,
                "level": row["level"],
                "seats": int(_number(label, name, "seats", row["seats"], whole=True)),
                "hours": _number(label, name, "hours", row["hours"]),
                "cost_per_place": _number(label, name, "cost_per_place", row["cost_per_place"]),
                "backbone": flag,
            }
        )
    table = pd.DataFrame(out)
    dup = table["programme"].duplicated()
    if dup.any():
        name = table["programme"][dup].iloc[0]
        raise InputError(f"{label}: programme {name!r} appears twice", table="programmes")
    return table


@dataclass(frozen=True)
class TrainingPolicy:
    """A training calendar's settings.

    Parameters
    ----------
    horizon : int
        Years planned (1-5; a calendar of years 1 .. horizon).
    budget_per_year : float or None
        Yuan a year for training places (None: no limit but the seats).
    programmes : None, str or list of dict
        The programmes (default :data:`PROGRAMMES_FILE`); see :func:`load_programmes`.
    seats : dict
        ``programme -> places a year`` replacing the table's seats.
    cycle_year : int
        The year of the five-year cycle the plan starts in (1-5): the school's hours so far cover
        ``cycle_year - 1`` years.
    cycle_hours : float or None
        Hours per teacher per cycle (default: the standard's ``training_hours_per_teacher``
        target, 360 hours per five years, 教师〔2011〕1号).
    cycle_years : int
        Years of the cycle (5).
    standard, standard_overrides
        The standard (its backbone threshold and training target) and overrides.

    Examples
    --------
    >>> TrainingPolicy(horizon=3, seats={"county_cycle": 500}).seats["county_cycle"]
    500
    >>> TrainingPolicy(horizon=7)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'horizon': horizon=7; expected a whole number of years from 1 to 5
    """

    horizon: int = 5
    budget_per_year: float | None = None
    programmes: str | list[dict] | None = None
    seats: dict[str, int] = field(default_factory=dict)
    cycle_year: int = 1
    cycle_hours: float | None = None
    cycle_years: int = 5
    standard: str = "moe2017"
    standard_overrides: dict | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        for name, top in (("horizon", 5), ("cycle_years", 10), ("cycle_year", self.cycle_years)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                _reject(
                    name,
                    value,
                    f"{name}={value!r}; expected a whole number of years from 1 to {top}",
                )
        if self.cycle_year - 1 + self.horizon > self.cycle_years:
            _reject(
                "horizon",
                self.horizon,
                f"horizon={self.horizon} from year {self.cycle_year} of a {self.cycle_years}-year "
                "cycle runs into the next cycle; expected at most "
                f"{self.cycle_years - self.cycle_year + 1} years",
            )
        budget = self.budget_per_year
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | float) or not budget >= 0
        ):
            _reject("budget_per_year", budget, f"budget_per_year={budget!r}; expected yuan >= 0")
        if budget is not None:
            set_(self, "budget_per_year", float(budget))
        hours = self.cycle_hours
        if hours is not None and (
            isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0
        ):
            _reject("cycle_hours", hours, f"cycle_hours={hours!r}; expected hours > 0")
        if not isinstance(self.seats, Mapping):
            _reject("seats", self.seats, "expected a table of programme -> places a year")
        for name, n in self.seats.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                _reject("seats", n, f"seats of {name!r}: {n!r}; expected a whole number >= 0")
        set_(self, "seats", freeze(dict(self.seats)))
        progs = self.programmes
        if isinstance(progs, list | tuple):
            set_(self, "programmes", freeze(list(progs)))
        table = load_programmes(self.programmes)
        unknown = [k for k in self.seats if k not in set(table["programme"])]
        if unknown:
            _reject(
                "seats",
                unknown[0],
                f"seats: unknown programme {unknown[0]!r}; expected one of "
                + ", ".join(table["programme"]),
            )
        set_(self, "standard_overrides", freeze(self.standard_overrides))

    def programme_table(self) -> pd.DataFrame:
        """The programmes with this policy's seats."""
        table = load_programmes(None if self.programmes is None else _plain(self.programmes))
        for name, n in self.seats.items():
            table.loc[table["programme"] == name, "seats"] = n
        return table


def _plain(value):
    """A frozen value as plain lists and dicts (what :func:`load_programmes` reads)."""
    if isinstance(value, str | Path):
        return value
    return [dict(r) for r in value]
