"""The projection table in the shape of UNESCO's EPSSim: by level, grade and year, the pupils, the
classes and classrooms they need, the teachers the ratio norms ask for, and what it all costs.

A planner reconciles allocator's forecasts with the ministry's spreadsheet on this table. Every
figure is the plain EPSSim arithmetic on the forecast's pupils, with no rounding (round only to
show):

* ``classes = pupils / class_size`` (the level's largest class, 45 primary / 50 junior);
* ``classrooms = classes / shifts`` (one class per classroom; Chinese schools run one shift);
* ``teachers = pupils / pupils_per_teacher`` (the staffing ratios, 1:19 primary / 1:13.5 junior);
* ``recurrent_yuan = teachers * salary_yuan + pupils * non_salary_yuan_per_pupil``;
* ``capital_yuan = new_classrooms * classroom_cost_yuan``, by level: the classrooms a level needs
  beyond its stock, the stock being the base year's classrooms (or ``existing_classrooms``) plus
  those built since (a classroom built stays; a falling roll builds none).

Levels: ``primary`` (grades 1-6) and ``junior`` (grades 7-9). The rows of each level and year are
its grades 1..9 and a level row, ``grade = 0``, with the level's totals; capital cost is by level,
so it is on the level rows only (NaN on the grade rows).

Examples
--------
>>> import pandas as pd
>>> grades = pd.DataFrame({"year": 2025, "grade": [1, 7], "pupils": [90.0, 100.0]})
>>> t = projection_table(grades)
>>> t[t["grade"] == 0][["level", "pupils", "classes", "teachers"]].round(3).values.tolist()
[['primary', 90.0, 2.0, 4.737], ['junior', 100.0, 2.0, 7.407]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.forecast.rates import BANDS, GRADES
from allocator.frozen import freeze
from allocator.region import require_columns
from allocator.standards import Standard, load_standard
from allocator.text import plain

__all__ = ["LEVELS", "PROJECTION_COLUMNS", "ProjectionSettings", "projection_table"]

#: The levels of the table and their grades.
LEVELS = {"primary": (1, 2, 3, 4, 5, 6), "junior": (7, 8, 9)}
#: The table's columns, in order.
PROJECTION_COLUMNS = (
    "level",
    "grade",
    "year",
    "pupils",
    "classes",
    "classrooms",
    "new_classrooms",
    "teachers",
    "recurrent_yuan",
    "capital_yuan",
)


@dataclass(frozen=True)
class ProjectionSettings:
    """The parameters of the projection table (a value per level: ``primary``, ``junior``).

    Parameters
    ----------
    standard : str or Standard
        Where ``class_size`` and ``pupils_per_teacher`` come from when not given (``"moe2017"``).
    class_size : dict, optional
        Pupils per class; default the standard's largest class (45 primary, 50 junior: the limits
        on large classes, 大班额, of the 2017 standard file).
    pupils_per_teacher : dict, optional
        Default the standard's staffing ratios (1:19 primary, 1:13.5 junior: the urban-rural
        unified staffing norms of 2014, 中央编办发〔2014〕72号).
    shifts : float
        Classes sharing one classroom (1: Chinese schools teach in one shift; EPSSim's
        double-shift factor).
    salary_yuan : float
        Cost of a teacher a year, pay and social contributions (110,000: the same assumed figure
        as ``TeacherPolicy.cost_per_hire_yuan``; unconfirmed, set the county's own).
    non_salary_yuan_per_pupil : dict
        Non-salary recurrent spending a pupil a year (公用经费基准定额): 600 primary, 800 junior,
        the national benchmark for central and western provinces from 2016 (国发〔2015〕67号);
        raised since (unconfirmed by how much for any one province).
    classroom_cost_yuan : dict
        Building one classroom (400,000 yuan both levels: about 100 m2 of building with its share
        of corridors and stairs at 4,000 yuan/m2, the catalogue's assumed urban construction cost;
        unconfirmed).
    existing_classrooms : dict, optional
        The classrooms of each level in the base year; default the base year's need (no backlog).

    Examples
    --------
    >>> s = ProjectionSettings(salary_yuan=90_000)
    >>> s.class_size_of("junior"), s.pupils_per_teacher_of("primary")
    (50.0, 19.0)
    """

    standard: str | Standard = "moe2017"
    class_size: dict[str, float] | None = None
    pupils_per_teacher: dict[str, float] | None = None
    shifts: float = 1.0
    salary_yuan: float = 110_000.0
    non_salary_yuan_per_pupil: dict[str, float] | None = None
    classroom_cost_yuan: dict[str, float] | None = None
    existing_classrooms: dict[str, float] | None = None

    def __post_init__(self):
        """Check every value (the first bad one raises) and store the tables read-only."""
        for name in ("shifts", "salary_yuan"):
            _positive(getattr(self, name), name, zero=name == "salary_yuan")
        defaults = {
            "non_salary_yuan_per_pupil": {"primary": 600.0, "junior": 800.0},
            "classroom_cost_yuan": {"primary": 400_000.0, "junior": 400_000.0},
        }
        for name in (
            "class_size",
            "pupils_per_teacher",
            "non_salary_yuan_per_pupil",
            "classroom_cost_yuan",
            "existing_classrooms",
        ):
            value = getattr(self, name)
            if value is None:
                value = defaults.get(name)
            if value is not None:
                zero = name not in ("class_size", "pupils_per_teacher")
                value = _level_table(value, name, zero=zero)
            object.__setattr__(self, name, freeze(value))
        if not isinstance(self.standard, Standard):
            object.__setattr__(self, "standard", load_standard(self.standard))

    def class_size_of(self, level: str) -> float:
        """Pupils per class of ``level`` (the setting, else the standard's largest class)."""
        if self.class_size and level in self.class_size:
            return float(self.class_size[level])
        return float(self.standard.class_size.max[level])

    def pupils_per_teacher_of(self, level: str) -> float:
        """Pupils per teacher of ``level`` (the setting, else the standard's ratio)."""
        if self.pupils_per_teacher and level in self.pupils_per_teacher:
            return float(self.pupils_per_teacher[level])
        return float(self.standard.staffing.pupils_per_teacher[level])


def _positive(value, name: str, zero: bool = False) -> float:
    """``value`` as a finite number > 0 (or >= 0 with ``zero``), or one InputError."""
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value >= 0 if zero else value > 0)
    if not ok:
        expected = ">= 0" if zero else "> 0"
        raise InputError(
            f"{name}={plain(value)!r}; expected a number {expected}",
            table="projection settings",
            column=name,
            value=value,
        )
    return float(value)


def _level_table(value, name: str, zero: bool) -> dict[str, float]:
    """A table ``{level: number}`` with levels among primary and junior."""
    if not isinstance(value, Mapping) or any(k not in LEVELS for k in value):
        raise InputError(
            f"{name}={value!r}; expected a table with keys among primary, junior",
            table="projection settings",
            column=name,
        )
    return {k: _positive(v, f"{name}[{k!r}]", zero=zero) for k, v in value.items()}


def _by_grade(forecast: pd.DataFrame) -> pd.DataFrame:
    """Pupils by year and grade: the ``grade`` column, or each band spread evenly over its
    grades."""
    if not isinstance(forecast, pd.DataFrame):
        raise InputError(
            f"forecast must be a table, got {type(forecast).__name__}", table="forecast"
        )
    key = "grade" if "grade" in forecast.columns else "band"
    require_columns(forecast, "forecast", ("year", key, "pupils"))
    pupils = pd.to_numeric(forecast["pupils"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(pupils) | (pupils < 0)
    if key == "grade":
        grade = pd.to_numeric(forecast["grade"], errors="coerce").to_numpy(float)
        bad_key = ~np.isin(grade, GRADES)
    else:
        bad_key = ~forecast["band"].isin(list(BANDS)).to_numpy()
    for mask, column, expected in (
        (bad_key, key, "a grade of 1 to 9" if key == "grade" else "a band of " + ", ".join(BANDS)),
        (bad, "pupils", "a number >= 0"),
    ):
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            value = forecast[column].iloc[pos]
            raise InputError(
                f"{column} {plain(value)!r}; expected {expected}",
                table="forecast",
                row=pos,
                column=column,
                value=plain(value),
            )
    years = forecast["year"].to_numpy()
    if key == "grade":
        frame = pd.DataFrame({"year": years, "grade": grade.astype(np.int64), "pupils": pupils})
    else:
        parts = []
        for band, grades in BANDS.items():
            rows = (forecast["band"] == band).to_numpy()
            for g in grades:
                share = pupils[rows] / len(grades)
                parts.append(pd.DataFrame({"year": years[rows], "grade": g, "pupils": share}))
        frame = pd.concat(parts, ignore_index=True)
    return frame.groupby(["year", "grade"])["pupils"].sum()


def projection_table(
    forecast: pd.DataFrame, settings: ProjectionSettings | None = None
) -> pd.DataFrame:
    """The EPSSim-shaped projection of a forecast (see the module's docstring for the arithmetic).

    Parameters
    ----------
    forecast : DataFrame
        ``year``, ``grade`` (1-9) and ``pupils`` (e.g. :func:`allocator.forecast.project_grades`)
        or ``year``, ``band`` and ``pupils`` (e.g. :func:`allocator.forecast.forecast_region`: each
        band spread evenly over its three grades); other columns (settlements) are summed over.
    settings : ProjectionSettings, optional

    Returns
    -------
    DataFrame
        :data:`PROJECTION_COLUMNS`; by level, year, then grade (the level row, grade 0, first).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"year": [2025, 2026], "band": "junior", "pupils": [150.0, 300.0]})
    >>> t = projection_table(f)
    >>> level = t[(t["grade"] == 0) & (t["level"] == "junior")]
    >>> level[["year", "classrooms", "new_classrooms", "capital_yuan"]].values.tolist()
    [[2025.0, 3.0, 0.0, 0.0], [2026.0, 6.0, 3.0, 1200000.0]]
    """
    settings = ProjectionSettings() if settings is None else settings
    if not isinstance(settings, ProjectionSettings):
        raise InputError(
            f"settings must be ProjectionSettings, got {type(settings).__name__}",
            table="projection settings",
        )
    pupils = _by_grade(forecast)
    years = sorted(pupils.index.get_level_values("year").unique())
    rows = []
    for level, grades in LEVELS.items():
        size, ratio = settings.class_size_of(level), settings.pupils_per_teacher_of(level)
        salary = settings.salary_yuan
        other = settings.non_salary_yuan_per_pupil[level]
        unit = settings.classroom_cost_yuan[level]
        stock = None
        if settings.existing_classrooms and level in settings.existing_classrooms:
            stock = settings.existing_classrooms[level]
        for year in years:
            p = np.array([float(pupils.get((year, g), 0.0)) for g in grades])
            classes = p / size
            rooms = classes / settings.shifts
            teachers = p / ratio
            recurrent = teachers * salary + p * other
            need = float(rooms.sum())
            stock = need if stock is None else stock  # the base year: no backlog
            new = max(need - stock, 0.0)
            stock = max(stock, need)
            rows.append(
                (level, 0, year, p.sum(), classes.sum(), need, new, teachers.sum(),
                 recurrent.sum(), new * unit)
            )  # fmt: skip
            for k, g in enumerate(grades):
                rows.append(
                    (level, g, year, p[k], classes[k], rooms[k], np.nan, teachers[k],
                     recurrent[k], np.nan)
                )  # fmt: skip
    return pd.DataFrame(rows, columns=list(PROJECTION_COLUMNS))
