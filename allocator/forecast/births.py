"""Birth scenarios (出生人口方案) as data: national paths by year, scaled to a region.

The named scenarios ``low``, ``medium`` and ``high`` are TOML files in ``allocator/data/births/``:
births in China from the National Bureau of Statistics for 2016-2024 (about 17.9 million in 2016,
9.0 million in 2023) and, from 2025, illustrative low / medium / high paths labelled unconfirmed in
the file's ``[source]``. A user's own path is a TOML file of the same shape (its path instead of a
name) or :meth:`BirthScenario.from_series`.

A region's births follow the path's index: a settlement with ``b`` births in the reference year
has ``b * path[year] / path[reference year]`` births in any year of the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from allocator.errors import InputError
from allocator.frozen import freeze
from allocator.text import plain
from allocator.toml_input import read_toml

__all__ = [
    "BIRTHS_FOLDER",
    "BirthScenario",
    "birth_scenario_names",
    "load_birth_scenario",
    "regional_births",
]

#: Where the named birth scenarios live.
BIRTHS_FOLDER = Path(__file__).resolve().parents[1] / "data" / "births"


def birth_scenario_names() -> tuple[str, ...]:
    """Names of the built-in birth scenarios.

    Examples
    --------
    >>> birth_scenario_names()
    ('high', 'low', 'medium')
    """
    return tuple(sorted(p.stem for p in BIRTHS_FOLDER.glob("*.toml")))


@dataclass(frozen=True)
class BirthScenario:
    """Births a year along one path.

    Parameters
    ----------
    name : str
        The scenario's name.
    births : mapping year -> births
        Births a year (any unit; only ratios between years are used when scaling).
    source : str
        Where the figures come from, and which of them are unconfirmed.

    Examples
    --------
    >>> s = load_birth_scenario("medium")
    >>> s.births[2016], s.births[2023]
    (17860000, 9020000)
    >>> round(s.index(2023, 2016), 3)
    0.505
    """

    name: str
    births: Mapping
    source: str = ""

    def __post_init__(self) -> None:
        checked = {}
        for year, value in dict(self.births).items():
            try:
                y = int(year)
                number = float(value)
            except (TypeError, ValueError):
                y, number = None, float("nan")
            if y is None or not number >= 0 or number == float("inf"):
                raise InputError(
                    f"births {plain(value)!r} in year {plain(year)} of scenario {self.name!r}; "
                    "expected a whole year and a number of births >= 0",
                    table="births",
                    column=str(year),
                    value=plain(value),
                )
            checked[y] = value
        if not checked:
            raise InputError("no births; expected births for at least one year", table="births")
        object.__setattr__(self, "births", freeze(dict(sorted(checked.items()))))

    @classmethod
    def from_series(cls, series, name: str = "own", source: str = "user's own series"):
        """A scenario from a mapping or a pandas Series of year -> births.

        Examples
        --------
        >>> BirthScenario.from_series({2024: 100, 2025: 90}).index(2025, 2024)
        0.9
        """
        return cls(name, dict(series.items()), source)

    def value(self, year: int) -> float:
        """Births in ``year``; an InputError when the path does not reach it."""
        if year not in self.births:
            first, last = min(self.births), max(self.births)
            raise InputError(
                f"scenario {self.name!r} has no births in {plain(year)}; expected a year from "
                f"{first} to {last}",
                table="births",
                column="year",
                value=plain(year),
            )
        return self.births[year]

    def index(self, year: int, reference: int) -> float:
        """Births in ``year`` relative to ``reference``."""
        ref = self.value(reference)
        if ref <= 0:
            raise InputError(
                f"scenario {self.name!r} has 0 births in {reference}; expected a reference "
                "year with births",
                table="births",
                column="year",
                value=reference,
            )
        return self.value(year) / ref


def load_birth_scenario(name: str | os.PathLike) -> BirthScenario:
    """A built-in scenario by name (``low``, ``medium``, ``high``) or a TOML file of the same shape:
    ``name``, ``[source]`` (texts) and ``[births]`` (``2024 = 9_540_000``...).

    Examples
    --------
    >>> load_birth_scenario("high").source.startswith("observed: 2016-2024")
    True
    >>> load_birth_scenario("none")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: unknown birth scenario 'none'; expected high, low, medium or a TOML file
    """
    path = Path(name)
    if path.suffix != ".toml":
        if str(name) not in birth_scenario_names():
            raise InputError(
                f"unknown birth scenario {str(name)!r}; expected "
                f"{', '.join(birth_scenario_names())} or a TOML file",
                value=str(name),
            )
        path = BIRTHS_FOLDER / f"{name}.toml"
    data = read_toml(path, "birth scenario")
    births = data.get("births")
    if not isinstance(births, dict):
        raise InputError("no [births] table; expected year = births lines", file=str(path))
    source = data.get("source", {})
    text = "; ".join(f"{k}: {v}" for k, v in source.items() if isinstance(v, str))
    try:
        return BirthScenario(str(data.get("name", path.stem)), births, text)
    except InputError as error:
        raise error.located(str(path), None) from None


def regional_births(
    scenario: BirthScenario,
    reference_births: Mapping[str, float] | pd.Series,
    reference_year: int,
    years,
) -> pd.DataFrame:
    """Births per settlement and year, each settlement's ``reference_births`` in
    ``reference_year`` moved along the scenario's path.

    Returns
    -------
    DataFrame
        ``settlement_id``, ``year``, ``births``: the ``births`` argument of
        :func:`allocator.forecast.project_grades`.

    Examples
    --------
    >>> s = BirthScenario.from_series({2020: 10.0, 2021: 8.0, 2022: 6.0})
    >>> regional_births(s, {"A": 50.0, "B": 5.0}, 2020, [2021, 2022])["births"].tolist()
    [40.0, 30.0, 4.0, 3.0]
    """
    rows = []
    factors = {y: scenario.index(int(y), int(reference_year)) for y in years}
    for sid, births in dict(reference_births).items():
        for year, factor in factors.items():
            rows.append((str(sid), int(year), float(births) * factor))
    return pd.DataFrame(rows, columns=["settlement_id", "year", "births"])
