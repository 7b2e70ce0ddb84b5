"""The years of a scenario and its ``[forecast]`` section: plans over years from a scenario file.

``years = [2026, 2030]`` at the top level names the first and the last year of the plan, both
included. The region's data are the first year's (its pupils are those of 2026); the forecast
starts there and runs to the last year. ``[forecast]`` says how the pupils change:

* ``births``: a built-in birth scenario by name (``low``, ``medium``, ``high``: the TOML files of
  ``allocator/data/births/``), a TOML file of the same shape (relative to the scenario file), or
  the user's own series as a table ``{ 2020 = 12_020_000, 2021 = 10_620_000, ... }``; default
  ``medium``. The series must cover the years of birth of the children who enter grade 1 (the
  first year - 6 to the last year - 6).
* ``migration``: net migration a year by area type (``{ rural = -0.03, town = 0.02 }``), and
  ``settlement_migration`` by settlement id, each from -1 to 1;
* ``entry_rate``, ``transition`` (0 to 1), ``repetition`` and ``dropout`` (a rate, a list of nine
  or a table by grade): the fields of :class:`allocator.forecast.ForecastSettings`.

Examples
--------
>>> from pathlib import Path
>>> where = KeyLocator(Path("s.toml"), {}, ())
>>> years_of({"years": [2026, 2030]}, where)
(2026, 2030)
>>> spec = forecast_spec({"years": [2026, 2030], "forecast": {"births": "low"}}, where, Path("."))
>>> spec.settings((2026, 2030)).horizon, spec.birth_scenario().name
(4, 'low')
>>> years_of({"years": [2030, 2026]}, where)
Traceback (most recent call last):
...
allocator.errors.InputError: s.toml: years: [2030, 2026] runs backwards; expected [first, last] with first <= last, e.g. [2026, 2030]
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allocator.errors import InputError
from allocator.forecast import (
    ENTRY_AGE,
    MAX_HORIZON,
    BirthScenario,
    ForecastSettings,
    load_birth_scenario,
)
from allocator.frozen import freeze
from allocator.planners.teachers.ages import ages_from_profile, read_age_profile, read_teacher_ages
from allocator.scenario.values import KeyLocator, check_keys, check_type, kind_of, sub_table

__all__ = [
    "DERIVED_KEYS",
    "FILE_KEYS",
    "FORECAST_KEYS",
    "ForecastSpec",
    "check_over_years",
    "over_years_files",
    "over_years_tables",
    "forecast_spec",
    "over_years_keys",
    "years_of",
]

#: Keys of ``[forecast]``.
FORECAST_KEYS = (
    "births",
    "migration",
    "settlement_migration",
    "entry_rate",
    "repetition",
    "dropout",
    "transition",
)
_SETTINGS_KEYS = FORECAST_KEYS[1:]
#: Parameters of a plan function that are not ``over_years`` keys.
_CALL = ("region", "policy", "options", "progress", "years", "forecast")
#: ``over_years`` keys given as a file (relative to the scenario file) and how each is read.
FILE_KEYS = {"teacher_ages": read_teacher_ages, "age_profile": read_age_profile}
#: ``over_years`` keys the run turns into a plan function's argument (key -> that argument): an
#: age profile per area type becomes the ``teacher_ages`` of the schools the ages file leaves out.
DERIVED_KEYS = {"age_profile": "teacher_ages"}


@dataclass(frozen=True)
class ForecastSpec:
    """The scenario's forecast: a birth scenario and the settings of the cohort projection.

    Attributes
    ----------
    births : str, Path or mapping
        A built-in scenario's name, a TOML file, or the user's own series (year -> births).
    settings : mapping
        Keyword arguments of :class:`~allocator.forecast.ForecastSettings` but ``horizon``.
    """

    births: object = "medium"
    options: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", freeze(dict(self.options)))
        if isinstance(self.births, Mapping):
            object.__setattr__(self, "births", freeze(dict(self.births)))

    def birth_scenario(self) -> BirthScenario:
        """The birth scenario (built-in, from its file, or the own series)."""
        if isinstance(self.births, Mapping):
            return BirthScenario("own", dict(self.births), "the scenario file's own series")
        return load_birth_scenario(self.births)

    def settings(self, years: tuple[int, int]) -> ForecastSettings:
        """The projection's settings for the plan's years (horizon: last - first, at least 1)."""
        horizon = max(1, years[1] - years[0])
        return ForecastSettings(horizon=horizon, **_plain(self.options))


def _plain(value):
    """Read-only mappings back to dicts and lists (ForecastSettings checks its own values)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def years_of(raw: Mapping, where: KeyLocator) -> tuple[int, int] | None:
    """The checked ``years = [first, last]`` (both included), or None when the file has none."""
    if "years" not in raw:
        return None
    value = raw["years"]
    check_type(value, list[int], where, ("years",))
    if len(value) != 2:
        raise where.error(
            ("years",),
            f"{value!r} has {len(value)} years; expected [first, last], e.g. [2026, 2030]",
        )
    first, last = value
    if first > last:
        raise where.error(
            ("years",),
            f"{value!r} runs backwards; expected [first, last] with first <= last, "
            "e.g. [2026, 2030]",
        )
    if last - first > MAX_HORIZON:
        raise where.error(
            ("years",),
            f"{value!r} spans {last - first} years; expected at most {MAX_HORIZON} years after "
            "the first (the forecast's longest horizon)",
        )
    return int(first), int(last)


def forecast_spec(raw: Mapping, where: KeyLocator, base_dir: Path) -> ForecastSpec | None:
    """Check ``[forecast]`` against the scenario's ``years`` and build its :class:`ForecastSpec`
    (None without ``years``); every rate is checked now, and the birth series must cover the
    years of birth the forecast needs."""
    years = years_of(raw, where)
    table = sub_table(raw, "forecast", where)
    if years is None:
        if "forecast" in raw:
            raise where.error(
                ("forecast",),
                "a forecast needs the years it covers; expected years = [first, last] at the "
                "top level, e.g. years = [2026, 2030]",
            )
        return None
    check_keys(table, list(FORECAST_KEYS), where, ("forecast",), "[forecast]")
    births = table.get("births", "medium")
    if isinstance(births, str):
        if births.lower().endswith(".toml") and not Path(births).is_absolute():
            births = str(base_dir / births)
        if births.lower().endswith(".toml") and not Path(births).exists():
            raise where.error(
                ("forecast", "births"),
                f"{births!r} does not exist; expected low, medium, high or a .toml file "
                "(relative to the scenario file)",
            )
    elif not isinstance(births, dict):
        raise where.error(
            ("forecast", "births"),
            f"expected a scenario's name, a .toml file or a table of year = births, got "
            f"{kind_of(births)}",
        )
    options = {k: table[k] for k in _SETTINGS_KEYS if k in table}
    for key in ("migration", "settlement_migration"):
        if key in options:
            check_type(options[key], dict[str, float], where, ("forecast", key))
    if isinstance(options.get("repetition"), dict) or isinstance(options.get("dropout"), dict):
        for key in ("repetition", "dropout"):  # TOML keys are text: grades as whole numbers
            if isinstance(options.get(key), dict):
                options[key] = {_grade(g, where, key): v for g, v in options[key].items()}
    spec = ForecastSpec(births, options)
    try:
        spec.settings(years)
    except InputError as exc:
        raise where.error(("forecast", _key_of(exc, options)), exc.message) from None
    try:
        scenario = spec.birth_scenario()
        for year in range(years[0] - ENTRY_AGE, years[1] - ENTRY_AGE + 1):
            scenario.value(year)
    except InputError as exc:
        raise where.error(("forecast", "births"), exc.message) from None
    return spec


def _grade(key, where: KeyLocator, name: str) -> int:
    try:
        return int(key)
    except ValueError:
        raise where.error(
            ("forecast", name, key), "expected a grade from 1 to 9 as the key"
        ) from None


def _key_of(exc: InputError, options: Mapping) -> str:
    """The ``[forecast]`` key an error of ForecastSettings is about."""
    column = (exc.column or "").split("[")[0]
    return column if column in options else next(iter(options), "births")


def over_years_keys(plan_function) -> tuple[str, ...]:
    """The keys a step's ``over_years`` table may set: the plan function's own arguments of a plan
    over years (beyond region, policy, options, progress, years and forecast; tables such as
    teachers' ages are not TOML values). Empty for a planner without a plan over years.

    Examples
    --------
    >>> def plan(region, policy=None, options=None, progress=None, *, years=None, forecast=None,
    ...          annual_budgets=None, carry_over: bool = True, ages: "pd.DataFrame | None" = None):
    ...     pass
    >>> over_years_keys(plan)
    ('annual_budgets', 'carry_over')
    """
    try:
        names = inspect.signature(plan_function).parameters
    except (TypeError, ValueError):
        return ()
    if "years" not in names or "forecast" not in names:
        return ()
    own = tuple(
        n
        for n, p in names.items()
        if n not in _CALL and ("DataFrame" not in str(p.annotation) or n in FILE_KEYS)
    )
    return own + tuple(k for k, target in DERIVED_KEYS.items() if target in names)


def check_over_years(planner, table, where: KeyLocator, path: tuple) -> dict:
    """A step's ``over_years`` table checked against its planner (see :func:`over_years_keys`);
    a table keyed by years (``{ 2028 = ... }``, TOML keys being text) gets whole years as keys.
    The planner checks the values when the scenario runs."""
    check_type(table, dict, where, path)
    allowed = over_years_keys(planner.plan)
    if not allowed and table:
        raise where.error(
            path, f"the {planner.name!r} planner has no plan over years; expected no over_years"
        )
    check_keys(table, list(allowed), where, path, "over_years")
    out = {}
    for key, value in table.items():
        if key in FILE_KEYS:
            check_type(value, str, where, (*path, key))
        if isinstance(value, dict) and value and all(str(k).isdigit() for k in value):
            value = {int(k): v for k, v in value.items()}
        out[key] = value
    return out


def over_years_files(steps, where: KeyLocator, base_dir: Path) -> tuple:
    """The steps with each ``over_years`` file (:data:`FILE_KEYS`, e.g. ``teacher_ages =
    "ages.csv"``) found relative to the scenario file and read once now, so that a bad row is
    named (file, line, column, value) before anything runs; the path is kept, the table is read
    again when the step runs (:func:`over_years_tables`)."""
    out = []
    for step in steps:
        over = dict(step.over_years)
        for key in FILE_KEYS:
            if key not in over:
                continue
            found = Path(over[key]) if Path(over[key]).is_absolute() else base_dir / over[key]
            if not found.exists():
                raise where.error(
                    ("steps", step.index, "over_years", key),
                    f"{str(over[key])!r} does not exist; expected a CSV file or an .xlsx workbook "
                    "(relative to the scenario file)",
                )
            FILE_KEYS[key](found)
            over[key] = str(found)
        out.append(dataclasses.replace(step, over_years=over) if over != step.over_years else step)
    return tuple(out)


def over_years_tables(over_years: Mapping, schools=None) -> dict:
    """A step's ``over_years`` arguments with each file key read into its table, and an
    ``age_profile`` turned into the ``teacher_ages`` of the ``schools`` the ages file does not
    list (:func:`allocator.planners.teachers.ages.ages_from_profile`).

    Examples
    --------
    >>> over_years_tables({"carry_over": False})
    {'carry_over': False}
    """
    out = {k: FILE_KEYS[k](v) if k in FILE_KEYS else v for k, v in over_years.items()}
    profile = out.pop("age_profile", None)
    if profile is not None and schools is not None:
        listed = out.get("teacher_ages")
        left = schools
        if listed is not None:
            left = schools[~schools["school_id"].astype(str).isin(set(listed["school_id"]))]
        spread = ages_from_profile(left, profile)
        out["teacher_ages"] = spread if listed is None else pd.concat([listed, spread])
    return out
