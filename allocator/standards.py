"""National norms for compulsory-education schools, as data that every user can override.

A :class:`Standard` bundles the numbers a county is judged by: the 2017 seven-indicator assessment
(per-school thresholds, at least 6 of 7 met, per-indicator pupil-weighted CV limits 0.50 primary /
0.45 junior, exclusions), or the 2012 composite-CV assessment; staffing ratios and the class-teacher
ratio of small schools; class and school size limits; teacher rotation; travel time; and the
1 : 1.1 split of a nine-year school's shared resources. The built-in standards live in
``allocator/data/<name>.toml``; :func:`load_standard` reads one, a user's TOML file, or either with
overrides from a nested dict. Unknown settings raise :class:`~allocator.errors.InputError` naming
the setting.

Model of the assessment (used by :mod:`allocator.check`)
----------------------------------------------------------
Each school is split into assessed parts p (primary, junior): see :func:`assessment_parts`.
Indicator k of part p is ``v_pk = scale_k * resource_k(p) / pupils(p)`` (per 100 pupils for teacher
and room counts, per pupil for areas and money). Part p meets k when ``v_pk >= t_k`` (the threshold of
its part type; one tolerance for floating-point noise, :mod:`allocator.compliance`), and passes when
it meets at least ``min_indicators_met`` indicators and, if ``floor_share`` is set, every missed one
reaches ``floor_share * t_k``. A county passes for a part
type when every in-scope part passes and the pupil-weighted CV of each indicator (rule ``"each"``) or
the mean of those CVs (rule ``"composite"``) is at most ``cv_limit[part]``.

Staffing: required teachers = sum over grade bands of ceil(pupils_band / pupils_per_teacher_band);
for teaching points and small rural schools at least ceil(classes * class_teacher_ratio).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.toml_input import read_toml

__all__ = [
    "Standard",
    "Staffing",
    "ClassSize",
    "SchoolSize",
    "Rotation",
    "Travel",
    "NineYear",
    "Exclusions",
    "load_standard",
    "standard_names",
    "assessment_parts",
    "staffing_requirements",
    "required_staff",
    "PARTS",
    "INDICATORS",
    "INDICATOR_SOURCE",
    "INDICATOR_SCALE",
    "INDICATOR_UNITS",
    "KNOWN_INDICATORS",
]

#: Assessed parts of a school.
PARTS = ("primary", "junior")

#: The seven indicators of the 2017 assessment.
INDICATORS = (
    "qualified_per_100",
    "backbone_per_100",
    "pe_arts_per_100",
    "floor_m2_per_pupil",
    "sports_m2_per_pupil",
    "equipment_yuan_per_pupil",
    "multimedia_per_100",
)
#: Indicator -> the school column it is computed from.
INDICATOR_SOURCE = MappingProxyType(
    {
        "qualified_per_100": "teachers_qualified",
        "backbone_per_100": "teachers_backbone",
        "pe_arts_per_100": "teachers_pe_arts",
        "floor_m2_per_pupil": "floor_area_m2",
        "sports_m2_per_pupil": "sports_area_m2",
        "equipment_yuan_per_pupil": "equipment_value",
        "multimedia_per_100": "multimedia_rooms",
    }
)
#: Indicator -> multiplier of resource per pupil (100 for "per 100 pupils").
INDICATOR_SCALE = MappingProxyType(
    {k: (100.0 if k.endswith("_per_100") else 1.0) for k in INDICATOR_SOURCE}
)
#: Every indicator a standard may name: the seven plus all teachers per 100 pupils (2012 师生比).
KNOWN_INDICATORS = MappingProxyType(
    {
        **{k: (INDICATOR_SOURCE[k], INDICATOR_SCALE[k]) for k in INDICATORS},
        "teachers_per_100": ("teachers", 100.0),
    }
)
#: Human-readable unit of each indicator.
INDICATOR_UNITS = MappingProxyType(
    {
        "qualified_per_100": "qualified teachers per 100 pupils",
        "backbone_per_100": "backbone teachers per 100 pupils",
        "pe_arts_per_100": "PE/arts teachers per 100 pupils",
        "floor_m2_per_pupil": "m² teaching floor area per pupil",
        "sports_m2_per_pupil": "m² sports ground per pupil",
        "equipment_yuan_per_pupil": "yuan of equipment per pupil",
        "multimedia_per_100": "multimedia classrooms per 100 pupils",
        "teachers_per_100": "teachers per 100 pupils",
    }
)

_BANDS = ("primary", "junior", "senior")
_LEVELS = ("primary", "junior", "nine_year", "senior", "teaching_point", "twelve_year")
_DATA = Path(__file__).with_name("data")


def standard_names() -> tuple[str, ...]:
    """Names of the built-in standards.

    Examples
    --------
    >>> standard_names()
    ('moe2012', 'moe2017')
    """
    return tuple(sorted(p.stem for p in _DATA.glob("*.toml")))


# --------------------------------------------------------------------------- dataclasses
class _FrozenDict(dict):
    """A dict that refuses changes (so a frozen Standard stays frozen) and still pickles."""

    def _refuse(self, *args, **kwargs):
        raise TypeError("standard settings are read-only; use load_standard(..., overrides=...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return repr(dict(self))


def _frozen(mapping: Mapping) -> Mapping:
    return _FrozenDict(mapping)


@dataclass(frozen=True)
class Staffing:
    """Teacher staffing norms (编制标准).

    Attributes
    ----------
    pupils_per_teacher : Mapping[str, float]
        Band (``primary``, ``junior``, ``senior``) -> pupils per teacher (19, 13.5, 12.5 since 2014).
    rural_pupils_per_teacher : Mapping[str, float] or None
        If set, used instead for rural schools (pre-2014: 23, 18, 13.5).
    class_teacher_ratio : float
        Teachers per class (班师比) for teaching points and small rural schools (provincial).
    small_school_max_pupils : int
        A school in ``class_ratio_area_types`` with fewer pupils than this is staffed by classes too.
    class_ratio_area_types : tuple of str
        Area types whose small schools get the class-teacher ratio (default rural).
    """

    pupils_per_teacher: Mapping[str, float]
    rural_pupils_per_teacher: Mapping[str, float] | None
    class_teacher_ratio: float
    small_school_max_pupils: int
    class_ratio_area_types: tuple[str, ...]


@dataclass(frozen=True)
class ClassSize:
    """Class size limits: ``max`` by band, "large" (>= 56) and "super-large" (>= 66) classes."""

    max: Mapping[str, int]
    large: int
    super_large: int


@dataclass(frozen=True)
class SchoolSize:
    """School size limits: ``max_pupils`` by level (2000 primary/junior, 2500 nine-year)."""

    max_pupils: Mapping[str, int]


@dataclass(frozen=True)
class Rotation:
    """Teacher rotation: ``share`` of eligible teachers a year, ``backbone_share`` of rotations at
    least, eligibility after ``eligible_years`` at one school."""

    share: float
    backbone_share: float
    eligible_years: int


@dataclass(frozen=True)
class Travel:
    """Travel limits, one way by road, in minutes: the one place every step reads them from.

    Attributes
    ----------
    lower_primary_minutes : float
        Grades 1-3 attend nearby and do not board: 30 (national guidance of 2018).
    upper_primary_minutes, junior_minutes : float
        Day-travel limits for grades 4-6 and 7-9: 45 and 60 (planning values, not a national
        figure; unconfirmed).
    boarding_minutes : float
        Limit for boarders' weekly trips: 90 (planning value; unconfirmed).
    """

    lower_primary_minutes: float
    upper_primary_minutes: float = 45.0
    junior_minutes: float = 60.0
    boarding_minutes: float = 90.0

    def day_minutes(self, band: str) -> float:
        """The day-travel limit of a band (``lower_primary``, ``upper_primary``, ``junior``)."""
        return float(getattr(self, f"{band}_minutes"))


@dataclass(frozen=True)
class NineYear:
    """Split of a nine-year school's resources: primary pupil : junior pupil = 1 : junior_weight."""

    junior_weight: float


@dataclass(frozen=True)
class Exclusions:
    """Schools out of the assessment: these ``levels``, and teaching points under
    ``teaching_point_min_pupils`` pupils."""

    levels: tuple[str, ...]
    teaching_point_min_pupils: int


@dataclass(frozen=True)
class Standard:
    """A complete set of norms. Build one with :func:`load_standard`.

    Attributes
    ----------
    name, title, source : str
        Short name, long title, and the policy documents behind the numbers.
    indicators : tuple of str
        Indicators whose between-school CV is assessed (names of :data:`KNOWN_INDICATORS`).
    thresholds : Mapping[str, Mapping[str, float]]
        Part (``primary``/``junior``) -> indicator -> minimum per school. Empty for a standard
        without per-school thresholds (moe2012). Only indicators also in ``indicators`` are
        assessed (:meth:`assessed_indicators`).
    min_indicators_met : int
        A school passes when it meets at least this many thresholds (6 in 2017).
    floor_share : float or None
        If set, each missed indicator must reach ``floor_share`` x its threshold (0.85 unconfirmed).
    cv_rule : str
        ``"each"`` (every indicator's CV within the limit) or ``"composite"`` (their mean).
    cv_limit : Mapping[str, float]
        Part -> largest allowed pupil-weighted CV.
    staffing, class_size, school_size, rotation, travel, nine_year, exclusions
        See :class:`Staffing`, :class:`ClassSize`, :class:`SchoolSize`, :class:`Rotation`,
        :class:`Travel`, :class:`NineYear`, :class:`Exclusions`.
    unconfirmed : tuple of str
        Settings whose default could not be checked against a primary text.

    Examples
    --------
    >>> s = load_standard("moe2017")
    >>> s.thresholds["junior"]["sports_m2_per_pupil"], s.cv_limit["primary"], s.min_indicators_met
    (10.2, 0.5, 6)
    >>> s.staffing.pupils_per_teacher["junior"], s.rotation.share, s.nine_year.junior_weight
    (13.5, 0.1, 1.1)
    """

    name: str
    title: str
    source: str
    indicators: tuple[str, ...]
    thresholds: Mapping[str, Mapping[str, float]]
    min_indicators_met: int
    floor_share: float | None
    cv_rule: str
    cv_limit: Mapping[str, float]
    staffing: Staffing
    class_size: ClassSize
    school_size: SchoolSize
    rotation: Rotation
    travel: Travel
    nine_year: NineYear
    exclusions: Exclusions
    unconfirmed: tuple[str, ...] = field(default=())

    def assessed_indicators(self, part: str) -> tuple[str, ...]:
        """The indicators each school of ``part`` is judged on: those in :attr:`indicators` that
        have a threshold for ``part`` (in :attr:`indicators` order).

        Drop an indicator from the assessment (e.g. when the data lacks it) by leaving it out of
        ``indicators``; its threshold is then ignored.

        Examples
        --------
        >>> len(load_standard("moe2017").assessed_indicators("primary"))
        7
        >>> six = [k for k in INDICATORS if k != "multimedia_per_100"]
        >>> load_standard(overrides={"indicators": six}).assessed_indicators("junior")[-1]
        'equipment_yuan_per_pupil'
        >>> load_standard("moe2012").assessed_indicators("primary")
        ()
        """
        t = self.thresholds.get(part, {})
        return tuple(k for k in self.indicators if k in t)

    def to_dict(self) -> dict:
        """The standard as a plain nested dict (the shape of the TOML files and of overrides).

        ``floor_share`` and ``staffing.rural_pupils_per_teacher`` are ``None`` when not set.
        """
        staffing = self.staffing
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "unconfirmed": list(self.unconfirmed),
            "indicators": list(self.indicators),
            "min_indicators_met": self.min_indicators_met,
            "floor_share": self.floor_share,
            "cv_rule": self.cv_rule,
            "cv_limit": dict(self.cv_limit),
            "thresholds": {p: dict(t) for p, t in self.thresholds.items()},
            "staffing": {
                "pupils_per_teacher": dict(staffing.pupils_per_teacher),
                "rural_pupils_per_teacher": None
                if staffing.rural_pupils_per_teacher is None
                else dict(staffing.rural_pupils_per_teacher),
                "class_teacher_ratio": staffing.class_teacher_ratio,
                "small_school_max_pupils": staffing.small_school_max_pupils,
                "class_ratio_area_types": list(staffing.class_ratio_area_types),
            },
            "class_size": {
                "max": dict(self.class_size.max),
                "large": self.class_size.large,
                "super_large": self.class_size.super_large,
            },
            "school_size": {"max_pupils": dict(self.school_size.max_pupils)},
            "rotation": {
                "share": self.rotation.share,
                "backbone_share": self.rotation.backbone_share,
                "eligible_years": self.rotation.eligible_years,
            },
            "travel": {
                "lower_primary_minutes": self.travel.lower_primary_minutes,
                "upper_primary_minutes": self.travel.upper_primary_minutes,
                "junior_minutes": self.travel.junior_minutes,
                "boarding_minutes": self.travel.boarding_minutes,
            },
            "nine_year": {"junior_weight": self.nine_year.junior_weight},
            "exclusions": {
                "levels": list(self.exclusions.levels),
                "teaching_point_min_pupils": self.exclusions.teaching_point_min_pupils,
            },
        }

    def with_overrides(self, overrides: Mapping[str, Any]) -> Standard:
        """A new standard with some settings replaced (same rules as :func:`load_standard`).

        Examples
        --------
        >>> s = load_standard().with_overrides({"cv_limit": {"primary": 0.4}})
        >>> s.cv_limit["primary"], s.cv_limit["junior"]
        (0.4, 0.45)
        """
        return _build(_merge(self.to_dict(), overrides, ""), origin="overrides")


# --------------------------------------------------------------------------- schema and loading
_NUM, _INT, _TEXT, _TEXTS, _OPT_NUM = "number", "integer", "text", "list of text", "number or false"
_SCHEMA: dict[str, Any] = {
    "base": _TEXT,
    "name": _TEXT,
    "title": _TEXT,
    "source": _TEXT,
    "unconfirmed": _TEXTS,
    "indicators": _TEXTS,
    "min_indicators_met": _INT,
    "floor_share": _OPT_NUM,
    "cv_rule": _TEXT,
    "cv_limit": {p: _NUM for p in PARTS},
    "thresholds": {p: {k: _NUM for k in KNOWN_INDICATORS} for p in PARTS},
    "staffing": {
        "pupils_per_teacher": {b: _NUM for b in _BANDS},
        "rural_pupils_per_teacher": ({b: _NUM for b in _BANDS}, False),
        "class_teacher_ratio": _NUM,
        "small_school_max_pupils": _INT,
        "class_ratio_area_types": _TEXTS,
    },
    "class_size": {"max": {b: _INT for b in _BANDS}, "large": _INT, "super_large": _INT},
    "school_size": {"max_pupils": {lv: _INT for lv in _LEVELS}},
    "rotation": {"share": _NUM, "backbone_share": _NUM, "eligible_years": _INT},
    "travel": {
        "lower_primary_minutes": _NUM,
        "upper_primary_minutes": _NUM,
        "junior_minutes": _NUM,
        "boarding_minutes": _NUM,
    },
    "nine_year": {"junior_weight": _NUM},
    "exclusions": {"levels": _TEXTS, "teaching_point_min_pupils": _INT},
}


def _merge(base: dict, overrides: Mapping, prefix: str, schema: dict | None = None) -> dict:
    """Deep-merge ``overrides`` into a copy of ``base``, rejecting settings not in the schema."""
    schema = _SCHEMA if schema is None else schema
    if not isinstance(overrides, Mapping):
        raise InputError(
            f"standard setting {prefix.rstrip('.') or 'overrides'!r} must be a table (dict); "
            f"got {overrides!r}"
        )
    out = dict(base)
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if key not in schema:
            raise InputError(
                f"unknown standard setting {path!r}; expected one of {', '.join(map(str, schema))}",
                value=value,
            )
        kind = schema[key]
        nullable = isinstance(kind, tuple)
        if nullable:
            kind = kind[0]
        if isinstance(kind, dict) and not (nullable and (value is None or value is False)):
            current = out.get(key) or {}
            out[key] = _merge(current, value, f"{path}.", kind)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict:
    return read_toml(path, "standard file")  # bounded in size and depth before parsing


def _resolve(base: str | Path, seen: tuple = ()) -> tuple[dict, str]:
    """Raw settings of a built-in name or a TOML file (following its ``base`` key)."""
    if isinstance(base, str) and base in standard_names():
        return _read_toml(_DATA / f"{base}.toml"), base
    path = Path(base)
    if path.suffix.lower() != ".toml" and not path.is_file():
        raise InputError(
            f"unknown standard {str(base)!r}; expected one of {', '.join(standard_names())} "
            "or the path of a .toml file",
            value=base,
        )
    key = str(path.resolve())
    if key in seen:
        raise InputError(
            f"standard file {path} inherits from itself (base chain {seen})", file=str(path)
        )
    data = _read_toml(path)
    parent = data.pop("base", None)
    if parent is None:
        try:
            return _merge({}, data, ""), str(path)
        except InputError as exc:
            raise exc.located(str(path), None) from None
    if not isinstance(parent, str):
        raise InputError(
            f"'base' must be a standard name or file path; got {parent!r}", file=str(path)
        )
    if parent not in standard_names() and not Path(parent).is_absolute():
        parent = str(path.parent / parent)
    parent_data, _ = _resolve(parent, (*seen, key))
    try:
        return _merge(parent_data, data, ""), str(path)
    except InputError as exc:
        raise exc.located(str(path), None) from None


def load_standard(
    base: str | Path | Standard = "moe2017", overrides: Mapping | str | Path | None = None
) -> Standard:
    """Load a standard by name or TOML file, with optional overrides.

    Parameters
    ----------
    base : str, Path or Standard
        ``"moe2017"`` (default), ``"moe2012"``, the path of a TOML file, or a Standard. A TOML file
        either defines every setting or names the standard it amends with ``base = "moe2017"``
        (a name or a path relative to the file).
    overrides : dict or path, optional
        Nested settings replacing those of ``base``, e.g.
        ``{"thresholds": {"primary": {"floor_m2_per_pupil": 5.0}}, "floor_share": 0.85}``;
        a path is read as a TOML file of overrides. ``floor_share`` and
        ``staffing.rural_pupils_per_teacher`` are switched off with ``None`` or ``false``.

    Returns
    -------
    Standard

    Raises
    ------
    InputError
        Unknown standard name, unknown setting (the message names it, e.g.
        ``'thresholds.primary.flor_m2_per_pupil'``), a missing setting, or a value of the wrong
        type or range.

    Examples
    --------
    >>> s = load_standard("moe2017", {"floor_share": 0.85, "nine_year": {"junior_weight": 1.2}})
    >>> s.floor_share, s.nine_year.junior_weight, s.thresholds["primary"]["floor_m2_per_pupil"]
    (0.85, 1.2, 4.5)
    >>> load_standard("moe2012").cv_rule
    'composite'
    """
    if isinstance(base, Standard):
        data, origin = base.to_dict(), base.name
    else:
        data, origin = _resolve(base)
    if overrides is not None:
        if isinstance(overrides, str | Path):
            extra = _read_toml(Path(overrides))
            extra.pop("base", None)
            try:
                data = _merge(data, extra, "")
            except InputError as exc:
                raise exc.located(str(overrides), None) from None
        else:
            data = _merge(data, overrides, "")
    return _build(data, origin=origin)


# --------------------------------------------------------------------------- validation
def _get(data: dict, path: str):
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise InputError(f"standard setting {path!r} is missing")
        node = node[part]
    return node


def _number(data, path, *, low=None, low_open=False, high=None, integer=False):
    value = _get(data, path)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        what = "a whole number" if integer else "a number"
        rng = []
        if low is not None:
            rng.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            rng.append(f"<= {high}")
        raise InputError(
            f"standard setting {path!r} is {value!r}; expected {what} {' and '.join(rng)}".rstrip(),
            value=value,
        )
    return int(value) if integer else float(value)


def _texts(data, path) -> tuple[str, ...]:
    value = _get(data, path)
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not all(isinstance(v, str) for v in value)
    ):
        raise InputError(f"standard setting {path!r} is {value!r}; expected a list of text")
    return tuple(value)


def _text(data, path) -> str:
    value = _get(data, path)
    if not isinstance(value, str):
        raise InputError(f"standard setting {path!r} is {value!r}; expected text")
    return value


def _band_table(data, path, low_open=True, integer=False) -> Mapping:
    table = _get(data, path)
    if not isinstance(table, Mapping):
        raise InputError(f"standard setting {path!r} must be a table; got {table!r}")
    return _frozen(
        {k: _number(data, f"{path}.{k}", low=0, low_open=low_open, integer=integer) for k in table}
    )


def _build(data: dict, origin: str) -> Standard:
    try:
        return _build_checked(data)
    except InputError as exc:
        if exc.file is None and origin.endswith(".toml"):
            raise exc.located(origin, None) from None
        raise


def _build_checked(data: dict) -> Standard:
    indicators = _texts(data, "indicators")
    for k in indicators:
        if k not in KNOWN_INDICATORS:
            raise InputError(
                f"unknown indicator {k!r} in 'indicators'; expected some of {', '.join(KNOWN_INDICATORS)}",
                value=k,
            )
    if len(set(indicators)) != len(indicators):
        raise InputError(f"'indicators' lists an indicator twice: {list(indicators)}")
    thresholds_raw = data.get("thresholds", {}) or {}
    thresholds = _frozen(
        {
            p: _frozen(
                {k: _number(data, f"thresholds.{p}.{k}", low=0) for k in thresholds_raw.get(p, {})}
            )
            for p in PARTS
            if thresholds_raw.get(p)
        }
    )
    min_met = _number(data, "min_indicators_met", low=0, integer=True)
    for p, t in thresholds.items():
        assessed = [k for k in indicators if k in t]
        if assessed and min_met > len(assessed):
            raise InputError(
                f"min_indicators_met={min_met} exceeds the {len(assessed)} indicators with a "
                f"threshold for {p} schools",
                value=min_met,
            )
    floor = data.get("floor_share", None)
    if floor is False or floor is None:
        floor_share = None
    else:
        floor_share = _number(data, "floor_share", low=0, low_open=True, high=1)
    cv_rule = _text(data, "cv_rule")
    if cv_rule not in ("each", "composite"):
        raise InputError(f"cv_rule={cv_rule!r}; expected 'each' or 'composite'")
    cv_limit = _frozen({p: _number(data, f"cv_limit.{p}", low=0, low_open=True) for p in PARTS})

    ppt = _band_table(data, "staffing.pupils_per_teacher")
    for b in _BANDS:
        if b not in ppt:
            raise InputError(f"standard setting 'staffing.pupils_per_teacher.{b}' is missing")
    rural_raw = _get(data, "staffing").get("rural_pupils_per_teacher")
    rural = None
    if rural_raw not in (None, False):
        rural = _band_table(data, "staffing.rural_pupils_per_teacher")
        rural = _frozen({**ppt, **rural})
    staffing = Staffing(
        pupils_per_teacher=ppt,
        rural_pupils_per_teacher=rural,
        class_teacher_ratio=_number(data, "staffing.class_teacher_ratio", low=0),
        small_school_max_pupils=_number(
            data, "staffing.small_school_max_pupils", low=0, integer=True
        ),
        class_ratio_area_types=_texts(data, "staffing.class_ratio_area_types"),
    )
    class_size = ClassSize(
        max=_band_table(data, "class_size.max", integer=True),
        large=_number(data, "class_size.large", low=1, integer=True),
        super_large=_number(data, "class_size.super_large", low=1, integer=True),
    )
    school_size = SchoolSize(max_pupils=_band_table(data, "school_size.max_pupils", integer=True))
    rotation = Rotation(
        share=_number(data, "rotation.share", low=0, high=1),
        backbone_share=_number(data, "rotation.backbone_share", low=0, high=1),
        eligible_years=_number(data, "rotation.eligible_years", low=0, integer=True),
    )
    travel = Travel(
        **{
            key: _number(data, f"travel.{key}", low=0, low_open=True)
            for key in (
                "lower_primary_minutes",
                "upper_primary_minutes",
                "junior_minutes",
                "boarding_minutes",
            )
        }
    )
    nine_year = NineYear(
        junior_weight=_number(data, "nine_year.junior_weight", low=0, low_open=True)
    )
    exclusions = Exclusions(
        levels=_texts(data, "exclusions.levels"),
        teaching_point_min_pupils=_number(
            data, "exclusions.teaching_point_min_pupils", low=0, integer=True
        ),
    )
    return Standard(
        name=_text(data, "name"),
        title=_text(data, "title"),
        source=_text(data, "source"),
        indicators=indicators,
        thresholds=thresholds,
        min_indicators_met=min_met,
        floor_share=floor_share,
        cv_rule=cv_rule,
        cv_limit=cv_limit,
        staffing=staffing,
        class_size=class_size,
        school_size=school_size,
        rotation=rotation,
        travel=travel,
        nine_year=nine_year,
        exclusions=exclusions,
        unconfirmed=_texts(data, "unconfirmed") if "unconfirmed" in data else (),
    )


def _as_standard(standard: Standard | str | Path) -> Standard:
    return standard if isinstance(standard, Standard) else load_standard(standard)


# --------------------------------------------------------------------------- school parts
_PART_COLUMNS = (
    "school_id",
    "part",
    "county",
    "area_type",
    "level",
    "pupils",
    *INDICATORS,
)


def _need(schools: pd.DataFrame, columns) -> None:
    if not isinstance(schools, pd.DataFrame):
        raise InputError(
            f"expected the schools table as a pandas DataFrame; got {type(schools).__name__}"
        )
    missing = [c for c in columns if c not in schools.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", table="schools", column=missing[0]
        )


def assessment_parts(
    schools: pd.DataFrame, standard: Standard | str | Path = "moe2017"
) -> pd.DataFrame:
    """Split schools into the parts the assessment judges, with their indicator values.

    Rules by ``level``:

    * ``primary`` -> one primary part, pupils = ``pupils_lower_primary + pupils_upper_primary``;
    * ``junior`` -> one junior part, pupils = ``pupils_junior``;
    * ``nine_year`` -> a primary part and a junior part, pupils of their bands. Every resource
      (``teachers`` and its qualified / backbone / PE-arts subsets, floor area, sports area,
      equipment value, multimedia rooms) is split by the same shares: the primary part gets
      ``P / (P + w J)`` and the junior part ``w J / (P + w J)``, with P, J the primary and junior
      pupils and ``w = standard.nine_year.junior_weight`` (1.1). So a junior pupil of a nine-year
      school counts for w times a primary pupil's resources, and its per-pupil indicators are w times
      those of the primary part;
    * ``teaching_point`` -> one primary part; out of scope under
      ``standard.exclusions.teaching_point_min_pupils`` (50) pupils;
    * ``senior`` -> not assessed (no part; pupils of other bands at such a school are ignored);
    * a level in ``standard.exclusions.levels`` -> its parts are kept, out of scope.

    Pupils of bands that do not belong to the level (e.g. junior pupils of a primary school) are
    ignored. Parts with 0 pupils are dropped.

    Parameters
    ----------
    schools : pandas.DataFrame
        The schools table of a :class:`~allocator.region.Region`.
    standard : Standard or str
        Supplies the nine-year split and the exclusions.

    Returns
    -------
    pandas.DataFrame
        One row per part: ``school_id, part, county, area_type, level, pupils``, the seven
        :data:`INDICATORS`, ``teachers_per_100``, then ``in_scope`` (bool), ``excluded_because``
        (text, empty when in scope), ``share`` (fraction of the school's resources given to the
        part) and ``teachers`` (the part's share of the school's teachers, may be fractional).

    Examples
    --------
    >>> import pandas as pd
    >>> one = dict(county="A", area_type="rural", teachers=30, teachers_qualified=20,
    ...            teachers_backbone=3, teachers_pe_arts=4, floor_area_m2=4100.0,
    ...            sports_area_m2=6000.0, equipment_value=1.2e6, multimedia_rooms=12,
    ...            pupils_lower_primary=150, pupils_upper_primary=150, pupils_junior=0,
    ...            pupils_senior=0)
    >>> schools = pd.DataFrame([
    ...     dict(one, school_id="s1", level="nine_year", pupils_junior=100),
    ...     dict(one, school_id="s2", level="teaching_point", pupils_lower_primary=20,
    ...          pupils_upper_primary=10, floor_area_m2=300.0)])
    >>> parts = assessment_parts(schools)
    >>> parts[["school_id", "part", "pupils", "floor_m2_per_pupil", "in_scope"]]
      school_id     part  pupils  floor_m2_per_pupil  in_scope
    0        s1  primary     300                10.0      True
    1        s1   junior     100                11.0      True
    2        s2  primary      30                10.0     False
    """
    std = _as_standard(standard)
    base_cols = [
        "school_id",
        "county",
        "area_type",
        "level",
        "pupils_lower_primary",
        "pupils_upper_primary",
        "pupils_junior",
        "teachers",
    ]
    _need(schools, base_cols + [c for c, _ in KNOWN_INDICATORS.values()])
    df = schools.reset_index(drop=True)
    level = df["level"].astype(str).to_numpy()
    primary_pupils = df["pupils_lower_primary"].to_numpy(float) + df[
        "pupils_upper_primary"
    ].to_numpy(float)
    junior_pupils = df["pupils_junior"].to_numpy(float)
    # levels outside the known ones (e.g. special schools in a plain table): assess the bands they
    # teach, split like a nine-year school (they are out of scope if listed in the exclusions)
    other = ~np.isin(level, ["primary", "teaching_point", "junior", "nine_year", "senior"])
    has_primary = np.isin(level, ["primary", "teaching_point", "nine_year"]) | other
    has_junior = np.isin(level, ["junior", "nine_year"]) | other
    split = (level == "nine_year") | other
    weighted = primary_pupils + std.nine_year.junior_weight * junior_pupils
    primary_share = np.divide(
        primary_pupils, weighted, out=np.zeros_like(weighted), where=weighted > 0
    )
    p_share = np.where(split, primary_share, 1.0)
    j_share = np.where(split, 1.0 - primary_share, 1.0)

    frames = []
    for part, mask, pupils, share in (
        ("primary", has_primary, primary_pupils, p_share),
        ("junior", has_junior, junior_pupils, j_share),
    ):
        keep = mask & (pupils > 0)
        if not keep.any():
            continue
        sub = df.loc[keep]
        pup = pupils[keep]
        sh = share[keep]
        out = {
            "school_id": sub["school_id"].to_numpy(),
            "part": np.full(len(sub), part, dtype=object),
            "county": sub["county"].to_numpy(),
            "area_type": sub["area_type"].to_numpy(),
            "level": sub["level"].to_numpy(),
            "pupils": pup.astype(np.int64),
        }
        for name, (column, scale) in KNOWN_INDICATORS.items():
            out[name] = scale * sub[column].to_numpy(float) * sh / pup
        out["share"] = sh
        out["teachers"] = sub["teachers"].to_numpy(float) * sh
        out["_order"] = np.flatnonzero(keep) * 2 + (0 if part == "primary" else 1)
        frames.append(pd.DataFrame(out))
    if not frames:
        empty = {c: pd.Series(dtype=float) for c in (*_PART_COLUMNS, "teachers_per_100")}
        parts = pd.DataFrame(empty)
        parts["in_scope"] = pd.Series(dtype=bool)
        parts["excluded_because"] = pd.Series(dtype=object)
        parts["share"] = pd.Series(dtype=float)
        parts["teachers"] = pd.Series(dtype=float)
        return parts
    parts = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    parts = parts.drop(columns="_order").reset_index(drop=True)
    reason = np.full(len(parts), "", dtype=object)
    lv = parts["level"].astype(str).to_numpy()
    excluded_level = np.isin(lv, list(std.exclusions.levels))
    reason[excluded_level] = [f"{v} schools are not assessed" for v in lv[excluded_level]]
    small_point = (lv == "teaching_point") & (
        parts["pupils"].to_numpy() < std.exclusions.teaching_point_min_pupils
    )
    reason[small_point & ~excluded_level] = (
        f"teaching point under {std.exclusions.teaching_point_min_pupils} pupils"
    )
    columns = [*_PART_COLUMNS, "teachers_per_100"]
    result = parts[columns].copy()
    result["in_scope"] = reason == ""
    result["excluded_because"] = reason
    result["share"] = parts["share"].to_numpy()
    result["teachers"] = parts["teachers"].to_numpy()
    return result


# --------------------------------------------------------------------------- staffing
def _ceil(values: np.ndarray) -> np.ndarray:
    # guard against 27 / 13.5 = 2.0000000000000004 style rounding
    return np.ceil(np.round(values, 9)).astype(np.int64)


def staffing_requirements(
    schools: pd.DataFrame, standard: Standard | str | Path = "moe2017"
) -> pd.DataFrame:
    """Required teachers of each school by the staffing norms, with the rule that decided.

    * By pupils: sum over grade bands (primary = lower + upper primary, junior, senior) of
      ``ceil(pupils_band / pupils_per_teacher_band)`` (each band staffed on its own; rural schools use
      ``staffing.rural_pupils_per_teacher`` when set).
    * By classes: for teaching points, and for schools of ``staffing.class_ratio_area_types`` with
      fewer than ``staffing.small_school_max_pupils`` pupils in all: ``ceil(classes *
      class_teacher_ratio)``. The requirement is the larger of the two.

    Returns
    -------
    pandas.DataFrame
        Same index as ``schools``; columns ``by_pupils``, ``by_classes`` (0 where the class rule
        does not apply), ``required_teachers``, ``rule`` (``"pupils"`` or ``"classes"``).

    Examples
    --------
    >>> import pandas as pd
    >>> schools = pd.DataFrame(dict(
    ...     school_id=["a", "b"], level=["nine_year", "teaching_point"], area_type=["town", "rural"],
    ...     pupils_lower_primary=[100, 12], pupils_upper_primary=[90, 0], pupils_junior=[140, 0],
    ...     pupils_senior=[0, 0], classes=[12, 2]))
    >>> staffing_requirements(schools)
       by_pupils  by_classes  required_teachers     rule
    0         21           0                 21   pupils
    1          1           3                  3  classes
    """
    std = _as_standard(standard)
    _need(
        schools,
        [
            "level",
            "area_type",
            "pupils_lower_primary",
            "pupils_upper_primary",
            "pupils_junior",
            "pupils_senior",
            "classes",
        ],
    )
    staffing = std.staffing
    bands = {
        "primary": schools["pupils_lower_primary"].to_numpy(float)
        + schools["pupils_upper_primary"].to_numpy(float),
        "junior": schools["pupils_junior"].to_numpy(float),
        "senior": schools["pupils_senior"].to_numpy(float),
    }
    area = schools["area_type"].astype(str).to_numpy()
    rural = area == "rural"
    by_pupils = np.zeros(len(schools), dtype=np.int64)
    for band, pupils in bands.items():
        ratio = np.full(len(schools), staffing.pupils_per_teacher[band])
        if staffing.rural_pupils_per_teacher is not None:
            ratio[rural] = staffing.rural_pupils_per_teacher[band]
        by_pupils += _ceil(pupils / ratio)
    total = sum(bands.values())
    applies = (schools["level"].astype(str).to_numpy() == "teaching_point") | (
        np.isin(area, list(staffing.class_ratio_area_types))
        & (total < staffing.small_school_max_pupils)
    )
    by_classes = np.where(
        applies, _ceil(schools["classes"].to_numpy(float) * staffing.class_teacher_ratio), 0
    )
    required = np.maximum(by_pupils, by_classes)
    return pd.DataFrame(
        {
            "by_pupils": by_pupils,
            "by_classes": by_classes.astype(np.int64),
            "required_teachers": required.astype(np.int64),
            "rule": np.where(by_classes > by_pupils, "classes", "pupils").astype(object),
        },
        index=schools.index,
    )


def required_staff(schools: pd.DataFrame, standard: Standard | str | Path = "moe2017") -> pd.Series:
    """Required teachers of each school (see :func:`staffing_requirements` for the rules).

    Returns
    -------
    pandas.Series
        ``required_teachers``, same index as ``schools``.

    Examples
    --------
    >>> import pandas as pd
    >>> schools = pd.DataFrame(dict(
    ...     level=["primary", "primary"], area_type=["urban", "rural"],
    ...     pupils_lower_primary=[600, 30], pupils_upper_primary=[540, 25], pupils_junior=[0, 0],
    ...     pupils_senior=[0, 0], classes=[26, 6]))
    >>> required_staff(schools).tolist()
    [60, 9]
    """
    return staffing_requirements(schools, standard)["required_teachers"]
