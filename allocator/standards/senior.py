"""The senior secondary standard: 普通高中 and 中职 targets as data (``allocator/data/senior/``).

Each figure's source is a comment in the TOML file; figures that could not be checked against a
primary text are listed in ``unconfirmed``.

Examples
--------
>>> s = load_senior_standard()
>>> s.gross_enrolment_rate, s.general_share_band, s.max_pupils
(0.92, (0.5, 0.6), 3000)
>>> load_senior_standard(overrides={"ratio": {"general_share_high": 0.7}}).general_share_band
(0.5, 0.7)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from allocator.errors import InputError
from allocator.frozen import freeze
from allocator.toml_input import read_toml

__all__ = ["SeniorStandard", "load_senior_standard"]

_DATA = Path(__file__).resolve().parent.parent / "data" / "senior"

#: group -> key -> (low, high, whole number).
SCHEMA = {
    "targets": {"gross_enrolment_rate": (0.0, 1.0, False)},
    "ratio": {"general_share_low": (0.0, 1.0, False), "general_share_high": (0.0, 1.0, False)},
    "size": {
        "max_pupils": (1, 100_000, True),
        "module_places": (1, 100_000, True),
        "min_new_pupils": (1, 100_000, True),
    },
    "boarding": {
        "max_km": (0.0, 1000.0, False),
        "daily_km": (0.0, 1000.0, False),
        "share": (0.0, 1.0, False),
    },
    "costs": {
        "build_yuan_per_place": (0.0, 1e8, False),
        "expand_yuan_per_place": (0.0, 1e8, False),
        "boarding_yuan_per_place": (0.0, 1e8, False),
    },
}


@dataclass(frozen=True)
class SeniorStandard:
    """Targets and norms for senior secondary places.

    Attributes
    ----------
    name, title : str
    settings : mapping
        Group -> key -> value (the TOML's numeric tables).
    unconfirmed : tuple of str
        Settings whose figure could not be checked against a primary text.
    sources : mapping, optional
        Group -> the source of its figures (the TOML's ``[sources]``).
    """

    name: str
    title: str
    settings: Mapping
    unconfirmed: tuple = ()
    sources: Mapping | None = None

    def value(self, path: str) -> float:
        """The setting ``group.key``."""
        group, key = path.split(".")
        return self.settings[group][key]

    @property
    def gross_enrolment_rate(self) -> float:
        return float(self.value("targets.gross_enrolment_rate"))

    @property
    def general_share_band(self) -> tuple[float, float]:
        """Least and greatest share of general (普通高中) places among senior places (普职比)."""
        r = self.settings["ratio"]
        return float(r["general_share_low"]), float(r["general_share_high"])

    @property
    def max_pupils(self) -> int:
        return int(self.value("size.max_pupils"))

    def table(self) -> list[dict]:
        """One row per setting: ``setting``, ``value``, ``confirmed``, ``source``.

        Examples
        --------
        >>> rows = load_senior_standard().table()
        >>> rows[0]["setting"], rows[0]["value"], rows[0]["confirmed"], rows[0]["source"][:12]
        ('targets.gross_enrolment_rate', 0.92, True, '高中阶段教育普及攻坚计划')
        >>> [r["setting"] for r in rows if not r["confirmed"]][:2]
        ['ratio.general_share_low', 'ratio.general_share_high']
        """
        sources = dict(self.sources or {})
        return [
            {
                "setting": f"{g}.{k}",
                "value": v,
                "confirmed": f"{g}.{k}" not in self.unconfirmed,
                "source": str(sources.get(g, "")),
            }
            for g, keys in self.settings.items()
            for k, v in keys.items()
        ]


def _merge(raw: dict, overrides: Mapping | None, file: str) -> dict:
    settings = {}
    for group, keys in SCHEMA.items():
        given = dict(raw.get(group, {}))
        given.update((overrides or {}).get(group, {}))
        settings[group] = {}
        for key, (low, high, whole) in keys.items():
            where = f"{group}.{key}"
            if key not in given:
                raise InputError(f"senior standard: {where} is missing", file=file)
            value = given[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InputError(
                    f"senior standard: {where} must be a number, not {value!r}", file=file
                )
            if not low <= value <= high or (whole and value != int(value)):
                kind = "a whole number" if whole else "a number"
                raise InputError(
                    f"senior standard: {where} = {value} must be {kind} from {low} to {high}",
                    file=file,
                    value=value,
                )
            settings[group][key] = int(value) if whole else float(value)
    for group in overrides or {}:
        if group not in SCHEMA:
            raise InputError(f"senior standard: unknown group {group!r} in overrides", file=file)
    return settings


def load_senior_standard(
    name: str = "senior2017", overrides: Mapping | None = None
) -> SeniorStandard:
    """Load a built-in senior standard, with ``overrides`` (group -> key -> value) applied.

    Raises
    ------
    InputError
        Unknown name, a missing or out-of-range setting, or a general-share band whose low end
        exceeds its high end.
    """
    path = _DATA / f"{name}.toml"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in _DATA.glob("*.toml")))
        raise InputError(f"unknown senior standard {name!r}; expected one of: {names}")
    raw = read_toml(path, "senior standard")
    settings = _merge(raw, overrides, str(path))
    low, high = settings["ratio"]["general_share_low"], settings["ratio"]["general_share_high"]
    if low > high:
        raise InputError(
            f"senior standard: ratio.general_share_low = {low} exceeds general_share_high = {high}",
            file=str(path),
        )
    return SeniorStandard(
        name=str(raw.get("name", name)),
        title=str(raw.get("title", "")),
        settings=freeze(settings),
        unconfirmed=tuple(raw.get("unconfirmed", ())),
        sources=freeze({str(g): str(v) for g, v in dict(raw.get("sources", {})).items()}),
    )
