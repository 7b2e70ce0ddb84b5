"""The ``[sweep]`` table of a scenario file: axes, measures kept, where to run, forecast draws.

A sweep is a scenario file with one more table. Every key under ``[sweep]`` that is not one of
the settings below is an *axis*: a dotted scenario key (the layout of a ``[[variants]]`` block)
and a list of values; the tasks are the product of the axes::

    [sweep]
    steps.budget.budget = [2e7, 5e7, 1e8]        # an axis: three budgets
    steps.budget.objective = ["shortfall", "gap"]
    region.counties = "each"                     # an axis: every county of the region on its own
    measures = ["cost_yuan", "compliant_share"]  # the measures kept (default: default_measures)
    scheduler = "tcp://10.0.0.5:8786"            # optional: an existing Dask cluster
    workers = 4                                  # optional: a LocalCluster of 4 workers
    robust = 0.8                                 # optional: the plan of decisions taken in >= 80 %
    [sweep.forecast]
    draws = 200                                  # an axis: 200 forecast draws
    seed = 1

The scenario parser knows nothing of ``[sweep]``: :func:`split_sweep` blanks its lines (so line
numbers stay right) and hands the rest to :func:`allocator.scenario.parse_scenario`. Each axis
value is checked up front by loading the scenario with it, and an error names the file, the line
of the ``[sweep]`` key, the key and what was expected.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allocator.errors import InputError
from allocator.forecast import MAX_HORIZON
from allocator.frozen import freeze
from allocator.planners.kindergartens import SWEEP_FIGURES as KINDERGARTEN_FIGURES
from allocator.scenario import Scenario, parse_scenario
from allocator.scenario.values import KeyLocator, kind_of, show_path
from allocator.toml_input import key_lines, parse_toml, read_text

__all__ = [
    "DEFAULT_MEASURES",
    "Axis",
    "DrawSettings",
    "SweepSpec",
    "default_measures",
    "load_sweep",
    "parse_sweep",
    "split_sweep",
]

#: Measures kept per task when ``measures`` is not given (keys of the final measures and costs).
DEFAULT_MEASURES = (
    "cost_yuan",
    "parts_compliant",
    "compliant_share",
    "compliant_share.rural",
    "counties_cv_ok.primary",
    "counties_cv_ok.junior",
    "travel.junior.mean_minutes",
    "travel.junior.pupils_over_limit",
)
_SETTINGS = ("measures", "scheduler", "workers", "robust", "forecast")
_SECTIONS = ("region", "standard", "solver", "steps")
_DRAW_KEYS = {
    "draws": "a whole number of draws from 1 to 100,000",
    "seed": "a whole number >= 0",
    "base_year": "a year from 1950 to 2100",
    "year": "the year planned for, after base_year and at most 15 years after it",
    "births": "a birth scenario name (low, medium, high)",
    "births_sd": "a number from 0 to 1 (the yearly step of the births' log random walk)",
    "migration": "a table of area type -> net migration a year, -1 to 1",
    "migration_sd": "a number from 0 to 0.5 (the spread of each area type's migration rate)",
}
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-\"' .]+?)\s*\]\]?\s*(#.*)?$")


@dataclass(frozen=True)
class Axis:
    """One axis of a sweep: a dotted key (``steps.budget.budget``) and its values."""

    key: str
    values: tuple


@dataclass(frozen=True)
class DrawSettings:
    """The forecast draws of a sweep (``[sweep.forecast]``); see :mod:`allocator.sweep.draws`.

    Examples
    --------
    >>> DrawSettings(draws=3).year
    2030
    """

    draws: int = 1
    seed: int = 0
    base_year: int = 2025
    year: int = 2030
    births: str = "medium"
    births_sd: float = 0.05
    migration: Any = freeze({})
    migration_sd: float = 0.01


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep: the scenario (without ``[sweep]``), its text, the axes and settings.

    ``counties_each`` is True for ``region.counties = "each"`` (the counties are an axis whose
    values are known once the region is built); ``draws`` is None without ``[sweep.forecast]``.
    """

    path: Path
    text: str
    scenario: Scenario
    axes: tuple[Axis, ...]
    counties_each: bool = False
    measures: tuple[str, ...] = DEFAULT_MEASURES
    scheduler: str | None = None
    workers: int | None = None
    robust: float | None = None
    draws: DrawSettings | None = None


def default_measures(scenario: Scenario) -> tuple[str, ...]:
    """The measures kept when ``[sweep]`` names none: each kindergarten step's own figures
    first (``<step>.<figure>`` of :data:`allocator.planners.kindergartens.SWEEP_FIGURES`: the
    enrolment rates within reach and over all children, places added, yuan, the inclusive and
    public shares, the solve status), then :data:`DEFAULT_MEASURES`.

    Examples
    --------
    >>> s = parse_scenario('[region]\\nschools = 20\\n[[steps]]\\nplanner = "kindergartens"\\n')
    >>> default_measures(s)[:2]
    ('kindergartens.gross_enrolment_rate_within_reach', 'kindergartens.gross_enrolment_rate')
    """
    steps = [s.name for s in scenario.steps if s.planner == "kindergartens" and s.enabled]
    return tuple(f"{step}.{f}" for step in steps for f in KINDERGARTEN_FIGURES) + DEFAULT_MEASURES


def split_sweep(text: str, path: str | os.PathLike = "scenario.toml") -> tuple[str, dict]:
    """The scenario text with the ``[sweep]`` tables blanked (lines kept) and the sweep table.

    Examples
    --------
    >>> rest, sweep = split_sweep('a = 1\\n[sweep]\\nb = [1, 2]\\n[output]\\nc = 3\\n')
    >>> rest.splitlines(), sweep
    (['a = 1', '', '', '[output]', 'c = 3'], {'b': [1, 2]})
    """
    raw = parse_toml(text, Path(path))
    lines = text.splitlines()
    inside = False
    for i, line in enumerate(lines):
        match = _HEADER.match(line)
        if match:
            name = match.group(1).replace('"', "").replace("'", "").split(".")[0].strip()
            inside = name == "sweep"
        if inside:
            lines[i] = ""
    rest = "\n".join(lines) + "\n"
    left = parse_toml(rest, Path(path))
    if "sweep" in left:
        raise InputError(
            "sweep: expected the sweep as a [sweep] table (its own section), not dotted keys "
            "or an inline table",
            file=str(path),
            line=key_lines(text).get(("sweep",)),
        )
    sweep = raw.get("sweep", {})
    if not isinstance(sweep, dict):
        raise InputError("sweep: expected a [sweep] table", file=str(path))
    return rest, sweep


def _leaves(tree: dict, prefix: tuple = ()):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, (*prefix, key))
        else:
            yield (*prefix, key), value


def _nested(path: tuple, value) -> dict:
    out: dict = {}
    node = out
    for k in path[:-1]:
        node = node.setdefault(k, {})
    node[path[-1]] = value
    return out


def _number(value, where: KeyLocator, key: tuple, low, high, whole=False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and (not whole or isinstance(value, int)) and math.isfinite(value)
    if not ok or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise where.error(key, f"expected {kind} from {low:,} to {high:,}, got {kind_of(value)}")
    return value


def _draw_settings(table, where: KeyLocator) -> DrawSettings:
    """``[sweep.forecast]`` checked key by key."""
    if not isinstance(table, dict):
        raise where.error(("forecast",), f"expected a [sweep.forecast] table, got {kind_of(table)}")
    for key in table:
        if key not in _DRAW_KEYS:
            raise where.error(
                ("forecast", key), f"unknown key; expected one of {', '.join(_DRAW_KEYS)}"
            )
    if "draws" not in table:
        raise where.error(
            ("forecast",), "missing key 'draws'; expected draws = " + _DRAW_KEYS["draws"]
        )
    f = DrawSettings()
    out = {
        "draws": int(_number(table["draws"], where, ("forecast", "draws"), 1, 100_000, True)),
        "seed": int(_number(table.get("seed", 0), where, ("forecast", "seed"), 0, 2**63, True)),
        "base_year": int(
            _number(
                table.get("base_year", f.base_year),
                where,
                ("forecast", "base_year"),
                1950,
                2100,
                True,
            )
        ),
    }
    year = table.get("year", out["base_year"] + 5)
    out["year"] = int(
        _number(
            year,
            where,
            ("forecast", "year"),
            out["base_year"] + 1,
            out["base_year"] + MAX_HORIZON,
            True,
        )
    )
    births = table.get("births", f.births)
    if not isinstance(births, str):
        raise where.error(
            ("forecast", "births"), f"expected {_DRAW_KEYS['births']}, got {kind_of(births)}"
        )
    out["births"] = births
    out["births_sd"] = float(
        _number(table.get("births_sd", f.births_sd), where, ("forecast", "births_sd"), 0, 1)
    )
    out["migration_sd"] = float(
        _number(
            table.get("migration_sd", f.migration_sd), where, ("forecast", "migration_sd"), 0, 0.5
        )
    )
    migration = table.get("migration", {})
    if not isinstance(migration, dict):
        raise where.error(
            ("forecast", "migration"),
            f"expected {_DRAW_KEYS['migration']}, got {kind_of(migration)}",
        )
    for area, rate in migration.items():
        if area not in ("urban", "town", "rural"):
            raise where.error(
                ("forecast", "migration", area), "expected an area type: urban, town or rural"
            )
        _number(rate, where, ("forecast", "migration", area), -1, 1)
    out["migration"] = freeze({k: float(v) for k, v in migration.items()})
    return DrawSettings(**out)


def _settings(sweep: dict, where: KeyLocator) -> dict:
    """The non-axis keys of ``[sweep]``, checked."""
    out: dict = {}
    if "measures" in sweep:
        m = sweep["measures"]
        if not isinstance(m, list) or not m or not all(isinstance(x, str) for x in m):
            raise where.error(
                ("measures",), f"expected a non-empty list of measure names, got {kind_of(m)}"
            )
        out["measures"] = tuple(dict.fromkeys(m))
    if "scheduler" in sweep:
        s = sweep["scheduler"]
        if not isinstance(s, str) or not re.match(r"^(tcp|tls|inproc|ws|wss)://\S+$", s):
            raise where.error(
                ("scheduler",),
                f"expected a scheduler address like 'tcp://host:8786', got {kind_of(s)}",
            )
        out["scheduler"] = s
    if "workers" in sweep:
        out["workers"] = int(_number(sweep["workers"], where, ("workers",), 1, 4096, True))
    if "robust" in sweep:
        value = sweep["robust"]
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= 1:
            raise where.error(
                ("robust",),
                f"expected a share above 0 and at most 1 (e.g. 0.8), got {kind_of(value)}",
            )
        out["robust"] = float(value)
    if "forecast" in sweep:
        out["draws"] = _draw_settings(sweep["forecast"], where)
    return out


def _axes(sweep: dict, where: KeyLocator, text: str, path: Path) -> tuple[list[Axis], bool]:
    """The axes of ``[sweep]``; each value checked by loading the scenario with it."""
    axes, each = [], False
    tree = {k: v for k, v in sweep.items() if k not in _SETTINGS}
    for key in tree:
        if key not in _SECTIONS:
            raise where.error(
                (key,),
                f"unknown key; expected a scenario key under {', '.join(_SECTIONS)} (an axis) "
                f"or a setting: {', '.join(_SETTINGS)}",
            )
    for key, values in _leaves(tree):
        if key == ("region", "counties") and values == "each":
            each = True
            continue
        if not isinstance(values, list) or not values:
            hint = ' or "each"' if key == ("region", "counties") else ""
            raise where.error(
                key, f"expected a non-empty list of values (an axis){hint}, got {kind_of(values)}"
            )
        if len({repr(v) for v in values}) < len(values):
            raise where.error(key, "a value appears twice; expected each value once")
        for i, value in enumerate(values):
            try:
                parse_scenario(text, path, _nested(key, value))
            except InputError as exc:
                message = (
                    exc.message.split(": ", 1)[-1]
                    if exc.message.startswith("override")
                    else exc.message
                )
                raise where.error((*key, i), message) from None
        axes.append(Axis(show_path(key), tuple(values)))
    return axes, each


def parse_sweep(text: str, path: str | os.PathLike = "scenario.toml") -> SweepSpec:
    """Check a scenario text with a ``[sweep]`` table and build the :class:`SweepSpec`.

    Examples
    --------
    >>> text = '[region]\\nschools = 20\\n[[steps]]\\nplanner = "budget"\\nbudget = 1e6\\n'
    >>> spec = parse_sweep(text + '[sweep]\\nsteps.budget.budget = [1e6, 2e6]\\n')
    >>> spec.axes
    (Axis(key='steps.budget.budget', values=(1000000.0, 2000000.0)),)
    >>> parse_sweep(text + '[sweep]\\nsteps.budget.budget = 2e6\\n')
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: scenario.toml, line 7: sweep.steps.budget.budget: expected a non-empty list of values (an axis), got a number (2000000.0)
    """
    path = Path(path)
    rest, sweep = split_sweep(text, path)
    where = KeyLocator(path, key_lines(text), ("sweep",))
    if not sweep:
        raise InputError(
            "no [sweep] table; expected one with at least one axis, e.g. "
            "steps.budget.budget = [2e7, 5e7]",
            file=str(path),
        )
    scenario = parse_scenario(rest, path)
    settings = _settings(sweep, where)
    if "robust" in settings and "draws" not in settings:
        raise where.error(
            ("robust",),
            "robust needs forecast draws; expected [sweep.forecast] draws = N with it",
        )
    axes, each = _axes(sweep, where, rest, path)
    if not axes and not each and "draws" not in settings:
        raise where.error(
            (),
            "no axis; expected at least one list of values, region.counties = "
            '"each" or [sweep.forecast] draws = N',
        )
    settings.setdefault("measures", default_measures(scenario))
    return SweepSpec(path, rest, scenario, tuple(axes), counties_each=each, **settings)


def load_sweep(path: str | os.PathLike) -> SweepSpec:
    """Read and check a scenario file with a ``[sweep]`` table (see :func:`parse_sweep`)."""
    return parse_sweep(read_text(Path(path), "scenario file"), path)
