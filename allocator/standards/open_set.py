"""The open indicator set: digital campus, campus safety and teacher training, beside the seven.

The 2017 assessment judges seven resource indicators; a bureau also watches its schools' network,
safety and training. A standard file lists these as ``[open_indicators.<name>]`` tables (see
``allocator/data/moe2017.toml``): the school column each is read from, what it is counted per, a
target (``threshold``, or ``false`` for none), its unit and source. Figures that could not be
checked against a primary text are named in the standard's ``unconfirmed`` list
(``"open_indicators.<name>.threshold"``).

They are optional columns: a region without them is measured exactly as before, and an open
indicator whose column is absent is not reported. They are **not part of the 2017 verdict** unless
the standard names them in ``open_assessed``; then a school part passes only if its school also
meets each named indicator's threshold (on top of the 6-of-7 rule), so the verdict changes for
exactly the schools below that threshold.

Model
-----
School s with column value c_s, classes n_s, teachers T_s: the indicator's value is
``v_s = c_s`` (``per = "school"``), ``c_s / n_s`` (``"class"``) or ``c_s / T_s`` (``"teacher"``);
undefined (NaN) where the denominator is 0, and, for ``applies_to = "boarding"``, at schools whose
``boarding_school`` column is 0 (and everywhere when that column is absent). A school meets the
indicator when ``v_s >= threshold`` (the tolerance of :mod:`allocator.compliance`, applied by
:mod:`allocator.check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.region import numeric_column

__all__ = [
    "OpenIndicator",
    "OPEN_GROUPS",
    "OPEN_PER",
    "OPEN_APPLIES_TO",
    "BOARDING_COLUMN",
    "open_indicator_values",
]

#: Groups of the open set, in report order.
OPEN_GROUPS = ("digital", "safety", "training")
#: What an open indicator is counted per: the whole school, each class, each teacher.
OPEN_PER = ("school", "class", "teacher")
#: Which schools an open indicator applies to: all of them, or boarding schools only.
OPEN_APPLIES_TO = ("all", "boarding")
#: The optional 0/1 school column that marks a boarding school (寄宿制学校).
BOARDING_COLUMN = "boarding_school"
_DENOMINATOR = {"class": "classes", "teacher": "teachers"}


@dataclass(frozen=True)
class OpenIndicator:
    """One indicator of the open set.

    Attributes
    ----------
    group : str
        ``digital``, ``safety`` or ``training``.
    column : str
        The school column it is read from.
    per : str
        ``school`` (the column as it is), ``class`` (divided by ``classes``) or ``teacher``
        (divided by ``teachers``).
    threshold : float or None
        The target each school should reach; None when there is no national figure.
    unit : str
        What the value measures, for tables and text.
    source : str
        The policy document behind the target.
    applies_to : str
        ``all`` schools, or only ``boarding`` schools (``boarding_school`` = 1).

    Examples
    --------
    >>> from allocator.standards import load_standard
    >>> bw = load_standard().open_indicators["bandwidth_mbps"]
    >>> bw.group, bw.column, bw.per, bw.threshold
    ('digital', 'bandwidth_mbps', 'school', 100.0)
    """

    group: str
    column: str
    per: str
    threshold: float | None
    unit: str
    source: str
    applies_to: str = "all"

    def to_dict(self) -> dict:
        """The indicator as a plain dict (the shape of its TOML table; no threshold -> None)."""
        return {
            "group": self.group,
            "column": self.column,
            "per": self.per,
            "threshold": self.threshold,
            "unit": self.unit,
            "source": self.source,
            "applies_to": self.applies_to,
        }


def _choice(value, path: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(
            f"standard setting {path!r} is {value!r}; expected one of {', '.join(allowed)}",
            value=value,
        )
    return value


def open_indicator(name: str, raw: Mapping, number) -> OpenIndicator:
    """Build one :class:`OpenIndicator` from its settings (``number`` checks the threshold).

    Raises
    ------
    InputError
        A missing or wrong setting, named ``open_indicators.<name>.<setting>``.
    """
    path = f"open_indicators.{name}"
    if not isinstance(raw, Mapping):
        raise InputError(f"standard setting {path!r} must be a table; got {raw!r}", value=raw)
    if not name.isidentifier():
        raise InputError(f"open indicator name {name!r} must be a plain identifier", value=name)
    text = {}
    for key in ("group", "column", "per", "unit", "source"):
        if not isinstance(raw.get(key), str):
            raise InputError(
                f"standard setting '{path}.{key}' is {raw.get(key)!r}; expected text",
                value=raw.get(key),
            )
        text[key] = raw[key]
    threshold = raw.get("threshold")
    return OpenIndicator(
        group=_choice(text["group"], f"{path}.group", OPEN_GROUPS),
        column=text["column"],
        per=_choice(text["per"], f"{path}.per", OPEN_PER),
        threshold=None if threshold in (None, False) else number(f"{path}.threshold"),
        unit=text["unit"],
        source=text["source"],
        applies_to=_choice(raw.get("applies_to", "all"), f"{path}.applies_to", OPEN_APPLIES_TO),
    )


def present_indicators(schools: pd.DataFrame, indicators: Mapping) -> dict[str, OpenIndicator]:
    """The open indicators whose column the schools table has (boarding-only ones also need
    ``boarding_school``), in the standard's order."""
    return {
        k: oi
        for k, oi in indicators.items()
        if oi.column in schools.columns
        and (oi.applies_to == "all" or BOARDING_COLUMN in schools.columns)
    }


def open_indicator_values(schools: pd.DataFrame, standard) -> pd.DataFrame:
    """Each school's value of every open indicator whose column the table has.

    Parameters
    ----------
    schools : pandas.DataFrame
        A schools table (``school_id``, ``classes``, ``teachers`` and the optional columns).
    standard : Standard
        Supplies :attr:`~allocator.standards.Standard.open_indicators`.

    Returns
    -------
    pandas.DataFrame
        Same index as ``schools``, one float column per present indicator (NaN where it does not
        apply or its denominator is 0); no columns when the region has none of them.

    Raises
    ------
    InputError
        An open column (or ``boarding_school``) with a missing, non-numeric or negative value, or
        ``boarding_school`` other than 0 or 1, naming the school and column; or an indicator of
        ``standard.open_assessed`` whose column the table lacks.

    Examples
    --------
    >>> import pandas as pd
    >>> from allocator.standards import load_standard
    >>> schools = pd.DataFrame(dict(school_id=["a", "b"], classes=[12, 0], teachers=[30, 2],
    ...                             smart_classrooms=[6, 0], bandwidth_mbps=[1000, 50]))
    >>> open_indicator_values(schools, load_standard())
       bandwidth_mbps  smart_classrooms_per_class
    0          1000.0                         0.5
    1            50.0                         NaN
    """
    missing = [
        k
        for k in standard.open_assessed
        if k not in present_indicators(schools, standard.open_indicators)
    ]
    if missing:
        oi = standard.open_indicators[missing[0]]
        need = oi.column if oi.column not in schools.columns else BOARDING_COLUMN
        raise InputError(
            f"the standard assesses open indicator {missing[0]!r} but the schools table has no "
            f"{need!r} column",
            table="schools",
            column=need,
        )
    present = present_indicators(schools, standard.open_indicators)
    checked = schools.reset_index(drop=True)[["school_id"]].copy()
    for column in sorted({oi.column for oi in present.values()}):
        checked[column] = schools[column].to_numpy()
        numeric_column(checked, "schools", column, "school_id", whole=False, nonnegative=True)
    boarding = np.zeros(len(schools), dtype=bool)
    if BOARDING_COLUMN in schools.columns:
        checked[BOARDING_COLUMN] = schools[BOARDING_COLUMN].to_numpy()
        numeric_column(checked, "schools", BOARDING_COLUMN, "school_id", True, True)
        flags = checked[BOARDING_COLUMN].to_numpy()
        if (flags > 1).any():
            pos = int(np.flatnonzero(flags > 1)[0])
            raise InputError(
                f"boarding_school={int(flags[pos])}; expected 0 or 1",
                table="schools",
                column=BOARDING_COLUMN,
                row_id=checked["school_id"].iloc[pos],
                row=pos,
                value=int(flags[pos]),
            )
        boarding = flags == 1
    out = pd.DataFrame(index=schools.index)
    for name, oi in present.items():
        value = checked[oi.column].to_numpy(float)
        if oi.per != "school":
            base = schools[_DENOMINATOR[oi.per]].to_numpy(float)
            value = np.divide(value, base, out=np.full(len(value), np.nan), where=base > 0)
        if oi.applies_to == "boarding":
            value = np.where(boarding, value, np.nan)
        out[name] = value
    return out
