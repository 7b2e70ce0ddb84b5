"""The :class:`Standard` and how it is loaded: built-in TOML files, a user's file, overrides, each
setting checked against the schema (the model of the assessment is in :mod:`allocator.standards`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.errors import InputError
from allocator.frozen import FrozenMap
from allocator.standards.norms import (
    KNOWN_INDICATORS,
    PARTS,
    SIZE_LEVELS,
    STAFFING_BANDS,
    ClassSize,
    Exclusions,
    NineYear,
    Rotation,
    SchoolSize,
    Staffing,
    Travel,
)
from allocator.standards.open_set import OpenIndicator, open_indicator
from allocator.toml_input import read_toml

#: The folder of the built-in standards (``<name>.toml``).
_DATA = Path(__file__).resolve().parent.parent / "data"


def standard_names() -> tuple[str, ...]:
    """Names of the built-in standards.

    Examples
    --------
    >>> standard_names()
    ('moe2012', 'moe2017')
    """
    return tuple(sorted(p.stem for p in _DATA.glob("*.toml")))


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
    open_indicators : Mapping[str, OpenIndicator]
        The open set (digital campus, safety, training) reported beside the assessed indicators
        (:mod:`allocator.standards.open_set`); empty for a standard without one.
    open_assessed : tuple of str
        Open indicators the verdict includes: a school part passes only if its school also meets
        each one's threshold. Empty in the built-in standards (not part of the 2017 verdict).

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
    open_indicators: Mapping[str, OpenIndicator] = field(default_factory=lambda: FrozenMap({}))
    open_assessed: tuple[str, ...] = field(default=())

    def assessed_indicators(self, part: str) -> tuple[str, ...]:
        """The indicators each school of ``part`` is judged on: those in :attr:`indicators` that
        have a threshold for ``part`` (in :attr:`indicators` order).

        Drop an indicator from the assessment (e.g. when the data lacks it) by leaving it out of
        ``indicators``; its threshold is then ignored.

        Examples
        --------
        >>> len(load_standard("moe2017").assessed_indicators("primary"))
        7
        >>> from allocator.standards import INDICATORS
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
            "open_indicators": {k: oi.to_dict() for k, oi in self.open_indicators.items()},
            "open_assessed": list(self.open_assessed),
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
        "pupils_per_teacher": {b: _NUM for b in STAFFING_BANDS},
        "rural_pupils_per_teacher": ({b: _NUM for b in STAFFING_BANDS}, False),
        "class_teacher_ratio": _NUM,
        "small_school_max_pupils": _INT,
        "class_ratio_area_types": _TEXTS,
    },
    "class_size": {"max": {b: _INT for b in STAFFING_BANDS}, "large": _INT, "super_large": _INT},
    "school_size": {"max_pupils": {lv: _INT for lv in SIZE_LEVELS}},
    "rotation": {"share": _NUM, "backbone_share": _NUM, "eligible_years": _INT},
    "travel": {
        "lower_primary_minutes": _NUM,
        "upper_primary_minutes": _NUM,
        "junior_minutes": _NUM,
        "boarding_minutes": _NUM,
    },
    "nine_year": {"junior_weight": _NUM},
    "exclusions": {"levels": _TEXTS, "teaching_point_min_pupils": _INT},
    # any name: one table per open indicator (allocator.standards.open_set)
    "open_indicators": {
        "*": {
            "group": _TEXT,
            "column": _TEXT,
            "per": _TEXT,
            "threshold": _OPT_NUM,
            "unit": _TEXT,
            "source": _TEXT,
            "applies_to": _TEXT,
        }
    },
    "open_assessed": _TEXTS,
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
        if key not in schema and "*" in schema:
            schema = {**schema, key: schema["*"]}
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
    return FrozenMap(
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
    thresholds = FrozenMap(
        {
            p: FrozenMap(
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
    cv_limit = FrozenMap({p: _number(data, f"cv_limit.{p}", low=0, low_open=True) for p in PARTS})

    ppt = _band_table(data, "staffing.pupils_per_teacher")
    for b in STAFFING_BANDS:
        if b not in ppt:
            raise InputError(f"standard setting 'staffing.pupils_per_teacher.{b}' is missing")
    rural_raw = _get(data, "staffing").get("rural_pupils_per_teacher")
    rural = None
    if rural_raw not in (None, False):
        rural = _band_table(data, "staffing.rural_pupils_per_teacher")
        rural = FrozenMap({**ppt, **rural})
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
        **_open_set(data),
    )


def _open_set(data: dict) -> dict:
    """The ``open_indicators`` and ``open_assessed`` of a standard, checked."""
    raw = data.get("open_indicators") or {}
    if not isinstance(raw, Mapping):
        raise InputError(f"standard setting 'open_indicators' must be a table; got {raw!r}")
    opened = {}
    for name, table in raw.items():
        if name in KNOWN_INDICATORS:
            raise InputError(
                f"open indicator {name!r} has the name of an assessed indicator; choose another",
                value=name,
            )
        opened[name] = open_indicator(name, table, lambda path: _number(data, path, low=0))
    assessed = _texts(data, "open_assessed") if "open_assessed" in data else ()
    for name in assessed:
        if name not in opened:
            raise InputError(
                f"unknown open indicator {name!r} in 'open_assessed'; expected some of "
                f"{', '.join(opened) or '(none defined)'}",
                value=name,
            )
        if opened[name].threshold is None:
            raise InputError(
                f"open indicator {name!r} is in 'open_assessed' but has no threshold", value=name
            )
    if len(set(assessed)) != len(assessed):
        raise InputError(f"'open_assessed' lists an indicator twice: {list(assessed)}")
    return {"open_indicators": FrozenMap(opened), "open_assessed": assessed}


def as_standard(standard: Standard | str | Path) -> Standard:
    """``standard`` itself, or the standard of that name or file (:func:`load_standard`)."""
    return standard if isinstance(standard, Standard) else load_standard(standard)
