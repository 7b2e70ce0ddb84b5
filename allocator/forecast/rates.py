"""The rates of an enrolment forecast (升学率、留级率、辍学率、迁移率) and their checks.

Grades 1-9 of compulsory education (义务教育): primary 1-6 (lower primary 1-3, upper primary 4-6)
and junior secondary 7-9 (初中). Each year, of the pupils of grade ``g``:

* ``repetition[g]`` repeat grade ``g`` (留级);
* ``dropout[g]`` leave school (辍学);
* the rest, ``promotion(g) = 1 - repetition[g] - dropout[g]``, go up to grade ``g + 1``; of those
  promoted out of grade 6, only ``transition`` enter grade 7 (小升初升学率).

New entrants to grade 1 are the children aged :data:`ENTRY_AGE` times ``entry_rate`` (入学率).
Every cohort, and the pupils, grow each year by the net migration rate of their settlement
(``settlement_migration``, else ``migration`` of its area type, else 0).

Defaults for China (figures checked against their source where stated):

* ``repetition`` 0 and ``dropout`` 0: repetition and dropout in compulsory education are near zero;
  the 9-year consolidation rate (九年义务教育巩固率) was 95.7 % in 2023 (Ministry of Education,
  2023 national education statistical bulletin, 全国教育事业发展统计公报), so about 4 % of a cohort
  is lost over nine years; the default of 0 is therefore an upper bound on enrolment, and a user
  may set ``dropout`` to about 0.005 a grade. The per-grade split is unconfirmed.
* ``entry_rate`` 1 and ``transition`` 1: the net primary enrolment rate is above 99.9 % and the
  primary-to-junior progression rate (小学毕业生升学率) is reported at or near 100 % in the same
  bulletins (unconfirmed for any one county).
* ``migration`` 0 for every area type: a neutral default; a county's own figures belong here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allocator.errors import InputError
from allocator.frozen import freeze
from allocator.text import plain

__all__ = [
    "BANDS",
    "ENTRY_AGE",
    "GRADES",
    "MAX_HORIZON",
    "ForecastSettings",
    "band_of_grade",
]

#: Grades of compulsory education.
GRADES = tuple(range(1, 10))
#: The three bands of compulsory education and their grades.
BANDS = {"lower_primary": (1, 2, 3), "upper_primary": (4, 5, 6), "junior": (7, 8, 9)}
#: Age at entry to grade 1 (《义务教育法》: children who have reached six years of age).
ENTRY_AGE = 6
#: Longest horizon, in years (a school layout plan, 布局规划, runs ten to fifteen).
MAX_HORIZON = 15
_AREA_TYPES = ("urban", "town", "rural")


def band_of_grade(grade: int) -> str:
    """The band of a grade.

    Examples
    --------
    >>> band_of_grade(1), band_of_grade(6), band_of_grade(7)
    ('lower_primary', 'upper_primary', 'junior')
    """
    for band, grades in BANDS.items():
        if grade in grades:
            return band
    raise InputError(
        f"grade {plain(grade)!r} is not a grade of 1 to 9", column="grade", value=grade
    )


def _rate(value: Any, name: str, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` as a float within [low, high], or one InputError naming the setting."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"{name} = {plain(value)!r} is not a number; expected a rate from {low:g} to {high:g}",
            table="forecast",
            column=name,
            value=plain(value),
        ) from None
    if not (low <= number <= high):  # also refuses NaN
        raise InputError(
            f"{name} = {plain(value)!r} is outside [{low:g}, {high:g}]; expected a rate "
            f"from {low:g} to {high:g}",
            table="forecast",
            column=name,
            value=plain(value),
        )
    return number


def _per_grade(value: Any, name: str) -> tuple[float, ...]:
    """A rate for each grade 1-9 from one number or a mapping grade -> rate (others 0)."""
    if isinstance(value, Mapping):
        rates = [0.0] * len(GRADES)
        for grade, rate in value.items():
            if not isinstance(grade, int) or grade not in GRADES:
                raise InputError(
                    f"{name} has grade {plain(grade)!r}; expected grades 1 to 9",
                    table="forecast",
                    column=name,
                    value=plain(grade),
                )
            rates[grade - 1] = _rate(rate, f"{name}[{grade}]")
        return tuple(rates)
    if isinstance(value, list | tuple):
        if len(value) != len(GRADES):
            raise InputError(
                f"{name} has {len(value)} rates; expected 9, one for each grade 1 to 9",
                table="forecast",
                column=name,
            )
        return tuple(_rate(v, f"{name}[{g}]") for g, v in zip(GRADES, value, strict=True))
    return (_rate(value, name),) * len(GRADES)


def _migration(value: Any, name: str, keys: tuple[str, ...] | None) -> Mapping:
    if not isinstance(value, Mapping):
        raise InputError(
            f"{name} is a {type(value).__name__}; expected a mapping of net rates a year",
            table="forecast",
            column=name,
        )
    out = {}
    for key, rate in value.items():
        if keys is not None and key not in keys:
            raise InputError(
                f"{name} has area type {plain(key)!r}; expected one of {', '.join(keys)}",
                table="forecast",
                column=name,
                value=plain(key),
            )
        out[str(key)] = _rate(rate, f"{name}[{key}]", -1.0, 1.0)
    return freeze(out)


@dataclass(frozen=True)
class ForecastSettings:
    """The settings of a cohort-survival enrolment forecast, checked when made.

    Parameters
    ----------
    horizon : int
        Years projected after the base year, 1 to :data:`MAX_HORIZON` (15).
    entry_rate : float
        Share of the children aged 6 who enter grade 1 in the year, 0 to 1.
    repetition, dropout : float, sequence of 9 floats or mapping grade -> rate
        Yearly repetition and dropout rate of each grade, 0 to 1 (a mapping leaves unnamed grades
        at 0); ``repetition + dropout`` of a grade may not exceed 1.
    transition : float
        Share of the pupils promoted out of grade 6 who enter grade 7, 0 to 1.
    migration : mapping area type -> float
        Net migration a year by area type (``urban``, ``town``, ``rural``), -1 to 1; e.g. -0.02
        for a village losing 2 % of its children a year.
    settlement_migration : mapping settlement_id -> float
        Net migration a year for named settlements, -1 to 1; overrides ``migration``.

    Examples
    --------
    >>> s = ForecastSettings(horizon=5, migration={"rural": -0.02})
    >>> s.promotion[0], s.migration["rural"]
    (1.0, -0.02)
    >>> ForecastSettings(horizon=0)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'forecast', column 'horizon': horizon = 0 is outside 1 to 15 years; expected a whole number of years from 1 to 15
    >>> ForecastSettings(entry_rate=1.2)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'forecast', column 'entry_rate': entry_rate = 1.2 is outside [0, 1]; expected a rate from 0 to 1
    """

    horizon: int = 5
    entry_rate: float = 1.0
    repetition: Any = 0.0
    dropout: Any = 0.0
    transition: float = 1.0
    migration: Mapping = field(default_factory=dict)
    settlement_migration: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        h = self.horizon
        if isinstance(h, bool) or not isinstance(h, int | np.integer) or not 1 <= h <= MAX_HORIZON:
            raise InputError(
                f"horizon = {plain(h)!r} is outside 1 to {MAX_HORIZON} years; expected a whole "
                f"number of years from 1 to {MAX_HORIZON}",
                table="forecast",
                column="horizon",
                value=plain(h),
            )
        set_ = object.__setattr__
        set_(self, "horizon", int(h))
        set_(self, "entry_rate", _rate(self.entry_rate, "entry_rate"))
        set_(self, "transition", _rate(self.transition, "transition"))
        set_(self, "repetition", _per_grade(self.repetition, "repetition"))
        set_(self, "dropout", _per_grade(self.dropout, "dropout"))
        for g, r, d in zip(GRADES, self.repetition, self.dropout, strict=True):
            if r + d > 1 + 1e-12:
                raise InputError(
                    f"repetition + dropout of grade {g} is {r + d:g}; expected at most 1",
                    table="forecast",
                    column="dropout",
                    value=d,
                )
        set_(self, "migration", _migration(self.migration, "migration", _AREA_TYPES))
        set_(
            self,
            "settlement_migration",
            _migration(self.settlement_migration, "settlement_migration", None),
        )

    @property
    def promotion(self) -> tuple[float, ...]:
        """Yearly promotion rate of each grade 1-9: ``1 - repetition - dropout``."""
        return tuple(
            max(0.0, 1 - r - d) for r, d in zip(self.repetition, self.dropout, strict=True)
        )

    def migration_rate(self, settlement_id: str, area_type: str | None) -> float:
        """Net migration a year of one settlement (its own rate, else its area type's, else 0)."""
        if settlement_id in self.settlement_migration:
            return self.settlement_migration[settlement_id]
        if area_type is None:
            if self.migration:
                raise InputError(
                    "no area type known for this settlement; expected area types when migration "
                    "is set by area type",
                    table="settlements",
                    row_id=settlement_id,
                    column="area_type",
                )
            return 0.0
        return self.migration.get(area_type, 0.0)
