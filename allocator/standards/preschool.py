"""The preschool standard: kindergarten targets and norms as data (``allocator/data/preschool/``).

Kept apart from the compulsory-education standards (the top-level TOML files): a region is judged
by a :class:`~allocator.standards.Standard`; a kindergarten plan reads a
:class:`PreschoolStandard`. Each setting says whether it is national or local and where it comes
from (:meth:`PreschoolStandard.scope_of`, :meth:`PreschoolStandard.source_of`), and figures that
could not be checked against a primary text are listed in ``unconfirmed``.

Examples
--------
>>> s = load_preschool_standard()
>>> s.gross_enrolment_rate, s.inclusive_share, s.public_share
(0.9, 0.85, 0.5)
>>> s.class_sizes, s.scope_of("walking.urban_minutes")
((25, 30, 35), 'local')
>>> load_preschool_standard(overrides={"targets": {"public_share": 0.6}}).public_share
0.6
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from allocator.errors import InputError
from allocator.frozen import FrozenMap, freeze
from allocator.toml_input import read_toml

__all__ = ["PreschoolStandard", "load_preschool_standard", "preschool_standard_names"]

_DATA = Path(__file__).resolve().parent.parent / "data" / "preschool"

#: The settings of a preschool standard: group -> key -> (low, high, whole number).
SCHEMA = {
    "targets": {
        "gross_enrolment_rate": (0.0, 1.0, False),
        "inclusive_share": (0.0, 1.0, False),
        "public_share": (0.0, 1.0, False),
    },
    "class_size": {
        "small": (1, 100, True),
        "middle": (1, 100, True),
        "large": (1, 100, True),
        "mixed": (1, 100, True),
    },
    "size": {
        "max_children": (1, 10_000, True),
        "min_classes": (1, 100, True),
        "max_classes": (1, 100, True),
        "module_classes": (1, 100, True),
    },
    "walking": {
        "urban_minutes": (0.0, 600.0, False),
        "town_minutes": (0.0, 600.0, False),
        "rural_minutes": (0.0, 600.0, False),
        "km_per_hour": (0.5, 20.0, False),
    },
    "costs": {
        "build_yuan_per_place": (0.0, 1e7, False),
        "expand_yuan_per_class": (0.0, 1e9, False),
        "inclusive_subsidy_yuan_per_place_per_year": (0.0, 1e7, False),
        "plan_years": (1, 50, True),
    },
    "children": {"age_share_3_5": (0.0, 1.0, False)},
    "attached": {
        "max_classes": (0, 100, True),
        "places_per_class": (1, 100, True),
        "yuan_per_class": (0.0, 1e9, False),
    },
}
_TEXT = ("name", "title")
_LISTS = ("unconfirmed",)
_TABLES = ("scope", "sources")


def preschool_standard_names() -> tuple[str, ...]:
    """The built-in preschool standards.

    Examples
    --------
    >>> preschool_standard_names()
    ('preschool2021',)
    """
    return tuple(sorted(p.stem for p in _DATA.glob("*.toml")))


@dataclass(frozen=True)
class PreschoolStandard:
    """Targets and norms for kindergarten places (see ``allocator/data/preschool/``).

    Attributes
    ----------
    name, title : str
    settings : mapping
        Group -> key -> value (the TOML's numeric tables).
    scope, sources : mapping
        Setting or group -> ``"national"``/``"local"``; -> its source.
    unconfirmed : tuple of str
        Settings whose figure could not be checked against a primary text.
    """

    name: str
    title: str
    settings: Mapping
    scope: Mapping
    sources: Mapping
    unconfirmed: tuple = ()

    def value(self, path: str) -> float:
        """The setting ``group.key``."""
        group, key = path.split(".")
        return self.settings[group][key]

    def scope_of(self, path: str) -> str:
        """``national`` or ``local`` for ``group.key`` (its own entry, else its group's)."""
        return str(self.scope.get(path, self.scope.get(path.split(".")[0], "local")))

    def source_of(self, path: str) -> str:
        """The source of ``group.key`` (its own entry, else its group's; "" when none)."""
        return str(self.sources.get(path, self.sources.get(path.split(".")[0], "")))

    @property
    def gross_enrolment_rate(self) -> float:
        return float(self.value("targets.gross_enrolment_rate"))

    @property
    def inclusive_share(self) -> float:
        return float(self.value("targets.inclusive_share"))

    @property
    def public_share(self) -> float:
        return float(self.value("targets.public_share"))

    @property
    def class_sizes(self) -> tuple[int, int, int]:
        """Small, middle and large class sizes (ages 3, 4, 5)."""
        c = self.settings["class_size"]
        return int(c["small"]), int(c["middle"]), int(c["large"])

    @property
    def places_per_class(self) -> float:
        """Mean places of a class when the three ages have equal classes (30 for 25/30/35)."""
        return sum(self.class_sizes) / 3.0

    def walking_minutes(self, area_type: str) -> float:
        """The walking limit of a settlement of ``area_type`` (urban, town, rural)."""
        return float(self.settings["walking"][f"{area_type}_minutes"])

    def table(self) -> list[dict]:
        """One row per setting: ``setting, value, scope, source, confirmed``.

        Examples
        --------
        >>> rows = load_preschool_standard().table()
        >>> [r for r in rows if r["setting"] == "class_size.small"][0]["scope"]
        'national'
        """
        return [
            {
                "setting": f"{g}.{k}",
                "value": v,
                "scope": self.scope_of(f"{g}.{k}"),
                "source": self.source_of(f"{g}.{k}"),
                "confirmed": f"{g}.{k}" not in self.unconfirmed,
            }
            for g, keys in self.settings.items()
            for k, v in keys.items()
        ]


def _merge(data: dict, overrides: Mapping, where: str) -> dict:
    out = {g: dict(v) if isinstance(v, Mapping) else v for g, v in data.items()}
    for group, value in dict(overrides).items():
        if group in SCHEMA:
            if not isinstance(value, Mapping):
                raise InputError(f"{where}: preschool setting {group!r} must be a table")
            for key, v in value.items():
                if key not in SCHEMA[group]:
                    raise InputError(
                        f"{where}: unknown preschool setting '{group}.{key}'; expected one of "
                        f"{', '.join(f'{group}.{k}' for k in SCHEMA[group])}",
                        value=v,
                    )
                out.setdefault(group, {})[key] = v
        elif group in _TEXT or group in _LISTS or group in _TABLES:
            out[group] = value
        else:
            known = ", ".join([*SCHEMA, *_TEXT, *_LISTS, *_TABLES])
            raise InputError(
                f"{where}: unknown preschool setting {group!r}; expected one of {known}",
                value=value,
            )
    return out


def _checked_number(value, path, low, high, whole):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"preschool setting {path!r} = {value!r}; expected a number", value=value)
    if not low <= value <= high or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise InputError(
            f"preschool setting {path!r} = {value!r}; expected {kind} from {low:g} to {high:g}",
            value=value,
        )
    return int(value) if whole else float(value)


def load_preschool_standard(
    base: str | Path = "preschool2021", overrides: Mapping | None = None
) -> PreschoolStandard:
    """Load a preschool standard by name or TOML file, with optional overrides.

    Parameters
    ----------
    base : str or Path
        A built-in name (:func:`preschool_standard_names`) or the path of a TOML file with every
        setting.
    overrides : mapping, optional
        Nested settings replacing those of ``base``, e.g. ``{"walking": {"urban_minutes": 10}}``.

    Raises
    ------
    InputError
        Unknown standard or setting (named), a missing setting, a value out of range.

    Examples
    --------
    >>> load_preschool_standard(overrides={"size": {"max_clases": 9}})
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: overrides: unknown preschool setting 'size.max_clases'; expected one of size.max_children, size.min_classes, size.max_classes, size.module_classes
    """
    if isinstance(base, str) and base in preschool_standard_names():
        path = _DATA / f"{base}.toml"
    else:
        path = Path(base)
        if not path.is_file():
            raise InputError(
                f"unknown preschool standard {str(base)!r}; expected one of "
                f"{', '.join(preschool_standard_names())} or the path of a .toml file",
                value=str(base),
            )
    data = _merge({}, read_toml(path, "preschool standard"), str(path))
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise InputError(f"overrides must be a table (dict), got {overrides!r}")
        data = _merge(data, overrides, "overrides")
    settings = {}
    for group, keys in SCHEMA.items():
        settings[group] = {}
        for key, (low, high, whole) in keys.items():
            value = data.get(group, {}).get(key)
            if value is None:
                raise InputError(f"{path}: missing preschool setting '{group}.{key}'")
            settings[group][key] = _checked_number(value, f"{group}.{key}", low, high, whole)
    s = settings["size"]
    if s["min_classes"] > s["max_classes"]:
        raise InputError(
            f"preschool setting 'size.min_classes' = {s['min_classes']} exceeds "
            f"'size.max_classes' = {s['max_classes']}"
        )
    for name in ("scope", "sources"):
        if not isinstance(data.get(name, {}), Mapping):
            raise InputError(f"preschool setting {name!r} must be a table")
    for key, scope in dict(data.get("scope", {})).items():
        if scope not in ("national", "local"):
            raise InputError(
                f"preschool scope of {key!r} = {scope!r}; expected national or local", value=scope
            )
    return PreschoolStandard(
        name=str(data.get("name", path.stem)),
        title=str(data.get("title", "")),
        settings=freeze(settings),
        scope=FrozenMap(data.get("scope", {})),
        sources=FrozenMap(data.get("sources", {})),
        unconfirmed=tuple(str(u) for u in data.get("unconfirmed", ())),
    )
