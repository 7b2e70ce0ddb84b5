"""The sections of a scenario file: ``[region]``, ``[standard]``, ``[[steps]]``, ``[solver]``, ``[output]``.

Each section has a frozen spec (:class:`RegionSpec`, :class:`StandardSpec`, :class:`Step`,
:class:`OutputSpec`) and a function that checks the raw TOML table and builds it; errors name the
file, the line and the key (:class:`~allocator.scenario.values.KeyLocator`). Step keys are checked
against the fields of the planner's policy (:mod:`allocator.planners.registry`).

Examples
--------
>>> OutputSpec(Path("out")).formats
('html', 'csv', 'json')
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from allocator.errors import InputError
from allocator.i18n import LANGUAGES
from allocator.planners.registry import Planner, get_planner, planner_names
from allocator.scenario.overrides import raw_step_name
from allocator.scenario.values import (
    KeyLocator,
    check_keys,
    check_type,
    is_money_key,
    show_path,
    sub_table,
)
from allocator.scenario.years import check_over_years
from allocator.solver import SolverOptions

__all__ = [
    "FORMATS",
    "MAP_TILES",
    "MAX_NAME_CHARS",
    "STEP_KEYS",
    "OutputSpec",
    "RegionSpec",
    "StandardSpec",
    "Step",
    "Variant",
    "build_policy",
    "check_name",
    "check_policy_keys",
    "frontier_budgets",
    "frontier_function",
    "frontier_points",
    "output_spec",
    "parse_steps",
    "region_spec",
    "solver_settings",
    "standard_spec",
    "with_paths",
    "with_standard",
]

#: Output formats: report.html, one CSV per table, result.json, one workbook, the region after.
FORMATS = ("html", "csv", "json", "xlsx", "region")
#: ``[output] map_tiles``: no web tiles (the report needs no internet), or OpenStreetMap's.
MAP_TILES = ("none", "openstreetmap")
#: Formats written when ``[output] formats`` is not given.
DEFAULT_FORMATS = ("html", "csv", "json")
#: Keys of a ``[[steps]]`` block that are not policy fields (unless the policy has them).
STEP_KEYS = ("planner", "name", "enabled", "solver", "over_years", "frontier")
#: Most budgets a step's ``frontier`` may list (each is one more plan).
MAX_FRONTIER_POINTS = 25
_SYNTH_KEYS = {
    "schools": int,
    "counties": int,
    "seed": int,
    "settlements_per_school": float,
    "urban_district": bool,
    "kindergartens": bool,
    "senior_schools": bool,
}
_REGION_KEYS = {"data": str, "name": str, "duplicate_road_factor": float, **_SYNTH_KEYS}
#: Longest step or variant name (characters); file names use a slug of at most 64 bytes.
MAX_NAME_CHARS = 100


@dataclass(frozen=True)
class RegionSpec:
    """Where the region comes from: a data folder / workbook, or :func:`allocator.synth.make_region`.

    Attributes
    ----------
    data : pathlib.Path or None
        Folder of CSV files or ``.xlsx`` workbook (resolved against the scenario file's folder).
    synthetic : dict
        Keyword arguments of ``make_region`` when there is no ``data``.
    name : str or None
        Region name for reports.
    duplicate_road_factor : float or None
        Passed to :func:`~allocator.io.load_region` for ``data`` (None: its default, 3).
    """

    data: Path | None = None
    synthetic: dict = field(default_factory=dict)
    name: str | None = None
    duplicate_road_factor: float | None = None

    def load(self):
        """Load or build the region."""
        if self.data is not None and self.data.suffix.lower() == ".toml":
            from allocator.gis.config import region_from_config  # a GIS import config

            return region_from_config(self.data, name=self.name).region
        if self.data is not None:
            from allocator.io import load_region

            if self.duplicate_road_factor is None:
                return load_region(self.data, name=self.name)
            return load_region(
                self.data, name=self.name, duplicate_road_factor=self.duplicate_road_factor
            )
        from allocator.synth import make_region

        return make_region(**self.synthetic, name=self.name)


@dataclass(frozen=True)
class StandardSpec:
    """The standard: a base (``moe2017``, ``moe2012``) and overrides of its numbers."""

    base: str = "moe2017"
    overrides: dict = field(default_factory=dict)

    def load(self):
        """Build the standard with :func:`allocator.standards.load_standard`."""
        from allocator.standards import load_standard

        return load_standard(self.base, overrides=self.overrides or None)


@dataclass(frozen=True)
class OutputSpec:
    """Output folder (relative to the working directory), formats (see :data:`FORMATS`) and the
    language of the report (``"zh"``, ``"en"``; None: Chinese when the region's school or county
    names hold Chinese characters, else English, :func:`allocator.i18n.language_of`) and the
    web tiles under the report's map (:data:`MAP_TILES`; ``"none"``: the page needs no internet)."""

    folder: Path
    formats: tuple[str, ...] = DEFAULT_FORMATS
    language: str | None = None
    map_tiles: str = "none"


@dataclass(frozen=True)
class Step:
    """One pipeline step: a planner, its policy keys, and optional solver overrides."""

    name: str
    planner: str
    params: dict
    solver: dict = field(default_factory=dict)
    enabled: bool = True
    index: int = 0
    over_years: dict = field(default_factory=dict)  # arguments of a plan over years
    frontier: tuple[float, ...] = ()

    @property
    def slug(self) -> str:
        """The name as used in file names (:func:`allocator.sheets.slug`); ``name`` is for display."""
        from allocator.sheets import slug

        return slug(self.name, "step")

    def policy(self):
        """The policy object built from ``params`` (``Policy(**params)``)."""
        return get_planner(self.planner).policy(**self.params)


@dataclass(frozen=True)
class Variant:
    """A named set of overrides (same layout as the scenario: region, standard, solver, steps)."""

    name: str
    description: str
    overrides: dict


def region_spec(
    raw: Mapping, where: KeyLocator, base_dir: Path, partial: bool
) -> RegionSpec | None:
    """Check ``[region]`` and build its :class:`RegionSpec` (None when ``partial``: keys and types only)."""
    table = sub_table(raw, "region", where)
    check_keys(table, list(_REGION_KEYS), where, ("region",), "[region]")
    for key, kind in _REGION_KEYS.items():
        if key in table:
            check_type(table[key], kind, where, ("region", key))
    synth = {k: table[k] for k in _SYNTH_KEYS if k in table}
    if partial:
        return None
    if "data" in table:
        if synth:
            raise where.error(
                ("region", "data"),
                "a region is either data = <folder> or a synthetic spec "
                f"({', '.join(synth)} = ...), not both",
            )
        data = Path(table["data"])
        data = data if data.is_absolute() else base_dir / data
        if not data.exists():
            raise where.error(
                ("region", "data"),
                f"{str(data)!r} does not exist; expected a folder of CSV files or an .xlsx "
                "workbook (relative to the scenario file)",
            )
        factor = table.get("duplicate_road_factor")
        if factor is not None and not factor >= 1:
            raise where.error(
                ("region", "duplicate_road_factor"), f"expected a number >= 1, got {factor!r}"
            )
        return RegionSpec(data=data, name=table.get("name"), duplicate_road_factor=factor)
    if "duplicate_road_factor" in table:
        raise where.error(
            ("region", "duplicate_road_factor"),
            "applies to a region read from data = <folder>, not to a synthetic one",
        )
    if "schools" not in table:
        raise where.error(
            ("region",),
            "missing region; expected data = <folder> or a synthetic spec with schools = <count>",
        )
    from allocator.synth import check_sizes

    try:  # the bounds of make_region, checked here to name the key and line
        check_sizes(
            **{
                k: v
                for k, v in synth.items()
                if k not in ("urban_district", "kindergartens", "senior_schools")
            }
        )
    except InputError as exc:
        raise where.error(("region", exc.column or "schools"), exc.message) from None
    return RegionSpec(synthetic=synth, name=table.get("name"))


def standard_spec(
    raw: Mapping, where: KeyLocator, partial: bool, base_dir: Path = Path(".")
) -> StandardSpec | None:
    """Check ``[standard]`` and build its :class:`StandardSpec`, loading it once to check the overrides
    (None when ``partial``: keys and types only)."""
    table = sub_table(raw, "standard", where)
    check_keys(table, ["base", "overrides"], where, ("standard",), "[standard]")
    if "base" in table:
        check_type(table["base"], str, where, ("standard", "base"))
    if "overrides" in table:
        check_type(table["overrides"], dict, where, ("standard", "overrides"))
    if partial:
        return None
    base = table.get("base", "moe2017")
    if base.lower().endswith(".toml"):
        file = Path(base) if Path(base).is_absolute() else base_dir / base
        if not file.exists():
            raise where.error(
                ("standard", "base"),
                f"{str(file)!r} does not exist; expected a built-in standard name or a .toml file "
                "(relative to the scenario file)",
            )
        base = str(file)
    spec = StandardSpec(base, dict(table.get("overrides", {})))
    try:
        importlib.import_module("allocator.standards")
    except ImportError:
        return spec  # checked when the scenario runs
    try:
        spec.load()
    except (InputError, ValueError, KeyError, TypeError) as exc:
        message = str(getattr(exc, "message", exc))
        key: tuple = ("standard", "overrides") if spec.overrides else ("standard", "base")
        m = re.search(r"standard setting '([^']+)'", message)
        if m and spec.overrides:
            key = ("standard", "overrides", *m.group(1).split("."))
        raise where.error(key, message) from None
    return spec


def with_standard(step: Step, standard: StandardSpec) -> Step:
    """Give a step's policy the scenario's standard unless the step sets its own."""
    fields = get_planner(step.planner).fields()
    params = dict(step.params)
    if "standard" in fields and "standard" not in params:
        params["standard"] = standard.base
        if "standard_overrides" in fields and "standard_overrides" not in params:
            params["standard_overrides"] = copy.deepcopy(standard.overrides) or None
    return dataclasses.replace(step, params=params)


def with_paths(step: Step, base_dir: Path) -> Step:
    """A relative file name given to a policy field that admits a ``Path`` (e.g. the consolidation
    planner's ``candidate_sites``) is read relative to the scenario file's folder."""
    hints = get_planner(step.planner).hints()
    params = dict(step.params)
    for key, value in step.params.items():
        hint = hints.get(key)
        takes_path = hint is Path or Path in typing.get_args(hint)
        if takes_path and isinstance(value, str) and not Path(value).is_absolute():
            params[key] = str(base_dir / value)
    return dataclasses.replace(step, params=params)


def solver_settings(table: Mapping, where: KeyLocator, path: tuple, partial: bool) -> dict:
    """Check a ``[solver]`` table against :class:`~allocator.solver.SolverOptions`; the keyword arguments."""
    names = [f.name for f in dataclasses.fields(SolverOptions)]
    check_keys(table, names, where, path, f"[{show_path(path)}]")
    hints = typing.get_type_hints(SolverOptions)
    for key, value in table.items():
        check_type(value, hints[key], where, (*path, key))
    if not partial:
        try:
            SolverOptions(**table)
        except ValueError as exc:
            key = next((k for k in table if k in str(exc)), None)
            raise where.error((*path, key) if key else path, str(exc)) from None
    return dict(table)


def check_policy_keys(planner: Planner, params: Mapping, where: KeyLocator, path: tuple) -> None:
    """Check a step's keys against its planner's policy fields (names, types, yuan >= 0)."""
    fields = planner.fields()
    hints = planner.hints()
    allowed = [*fields, *(k for k in STEP_KEYS if k not in fields)]
    check_keys(params, allowed, where, path, f"a {planner.name!r} step")
    for key, value in params.items():
        if key in STEP_KEYS and key not in fields:
            continue
        if key in hints:
            check_type(value, hints[key], where, (*path, key))
        if is_money_key(key) and isinstance(value, int | float) and not isinstance(value, bool):
            if value < 0:
                raise where.error((*path, key), f"expected a number >= 0 (yuan), got {value!r}")


def build_policy(planner: Planner, params: dict, where: KeyLocator, path: tuple) -> None:
    """Build a step's policy once so that its own checks run now; errors name the step's key."""
    missing = [
        name
        for name, f in planner.fields().items()
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and name not in params
    ]
    if missing:
        raise where.error(
            path, f"missing key {missing[0]!r}, required by the {planner.name!r} planner"
        )
    try:
        planner.policy(**params)
    except (InputError, ValueError, TypeError) as exc:
        column = getattr(exc, "column", None)
        if column is None:
            column = next((k for k in params if re.search(rf"\b{re.escape(k)}\b", str(exc))), None)
        message = getattr(exc, "message", None) or str(exc)
        if getattr(exc, "table", None) in params:  # a table the key names (a file): keep where
            column, message = exc.table, str(exc)
        raise where.error((*path, column) if column else path, message) from None


def parse_steps(raw: Mapping, where: KeyLocator) -> tuple[Step, ...]:
    """Check the ``[[steps]]`` blocks (planner, unique names, policy keys) and build the steps."""
    steps = raw.get("steps", [])
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise where.error(("steps",), "expected [[steps]] blocks (an array of tables)")
    if not steps:
        raise where.error(("steps",), "no [[steps]]; expected at least one planner step")
    out, seen = [], {}
    for i, step in enumerate(steps):
        path = ("steps", i)
        if "planner" not in step:
            raise where.error(
                path, f"missing key 'planner'; expected one of {', '.join(planner_names())}"
            )
        name = step["planner"]
        check_type(name, str, where, (*path, "planner"))
        if name not in planner_names():
            raise where.error(
                (*path, "planner"),
                f"unknown planner {name!r}; expected one of {', '.join(planner_names())}",
            )
        try:
            planner = get_planner(name)
        except InputError as exc:
            raise where.error((*path, "planner"), exc.message) from None
        for key, kind in (("name", str), ("enabled", bool), ("solver", dict)):
            if key in step and key not in planner.fields():
                check_type(step[key], kind, where, (*path, key))
        step_name = raw_step_name(step, steps, i)
        check_name(
            step_name,
            "step",
            where,
            (*path, "name") if "name" in step else (*path, "planner"),
            list(seen),
        )
        if step_name in seen:
            raise where.error(
                (*path, "name") if "name" in step else (*path, "planner"),
                f"step name {step_name!r} is already used by steps[{seen[step_name] + 1}]; "
                "expected name = <a distinct name> on one of them",
            )
        seen[step_name] = i
        frontier = frontier_budgets(step, planner, where, path)
        check_policy_keys(planner, step, where, path)
        params = {k: v for k, v in step.items() if k in planner.fields() or k not in STEP_KEYS}
        solver = solver_settings(step.get("solver", {}), where, (*path, "solver"), partial=False)
        over = {}
        if "over_years" in step and "over_years" not in planner.fields():
            over = check_over_years(planner, step["over_years"], where, (*path, "over_years"))
        enabled = bool(step.get("enabled", True))
        out.append(
            Step(
                step_name,
                name,
                params,
                solver,
                enabled,
                index=i,
                over_years=over,
                frontier=frontier,
            )
        )
    return tuple(out)


def frontier_function(planner: Planner):
    """The planner's budget frontier, ``<planner>_frontier(region, budgets, policy, options,
    progress)`` beside its plan function (a table of what each budget buys), or None.

    Examples
    --------
    >>> frontier_function(get_planner("budget")).__name__, frontier_function(get_planner("mergers"))
    ('budget_frontier', None)
    """
    module = importlib.import_module(planner.plan.__module__)
    return getattr(module, f"{planner.name}_frontier", None)


def frontier_points(step: Step, policy) -> tuple[list[float], float]:
    """The budgets a step's frontier plans, in increasing order: its ``frontier`` and its own
    budget (the policy's ``budget``; NaN if it has none), and that own budget.

    Examples
    --------
    >>> step = Step("b", "budget", {"budget": 3e7}, frontier=(0.0, 6e7))
    >>> frontier_points(step, step.policy())
    ([0.0, 30000000.0, 60000000.0], 30000000.0)
    """
    own = float(getattr(policy, "budget", None) or 0.0) if hasattr(policy, "budget") else math.nan
    return sorted({*step.frontier, *([own] if math.isfinite(own) else [])}), own


def frontier_budgets(step: Mapping, planner: Planner, where: KeyLocator, path: tuple) -> tuple:
    """A step's ``frontier``: the budgets (yuan, each >= 0) at which a run also plans the step to
    draw what each buys; only on a step whose planner has a frontier (:func:`frontier_function`).
    """
    if "frontier" not in step or "frontier" in planner.fields():
        return ()
    key = (*path, "frontier")
    if frontier_function(planner) is None:
        raise where.error(
            key,
            f"the {planner.name!r} planner has no budget frontier; expected frontier only on a "
            "step whose planner spends a budget",
        )
    values = step["frontier"]
    if not isinstance(values, list) or not 1 <= len(values) <= MAX_FRONTIER_POINTS:
        raise where.error(
            key,
            f"expected a list of 1 to {MAX_FRONTIER_POINTS} budgets in yuan "
            f"(e.g. [2e7, 4e7]), got {values!r}",
        )
    for j, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise where.error((*key, j), f"expected a number of yuan >= 0, got {value!r}")
        if value == float("inf"):
            raise where.error((*key, j), f"expected a finite number of yuan, got {value!r}")
    return tuple(sorted({float(v) for v in values}))


def check_name(name: str, kind: str, where: KeyLocator, key: tuple, earlier: list[str]) -> None:
    """A step or variant name: printable text of at most :data:`MAX_NAME_CHARS` characters whose
    file-name form (:func:`allocator.sheets.slug`) differs from those of the ``earlier`` names.
    The name itself is kept for display; files use the slug."""
    from allocator.sheets import slug

    if not name.strip():
        raise where.error(key, f"empty {kind} name; expected some text")
    bad = next((c for c in name if not c.isprintable()), None)
    if bad is not None:
        raise where.error(
            key, f"{kind} name {name!r} holds the control character {bad!r}; expected plain text"
        )
    if len(name) > MAX_NAME_CHARS:
        raise where.error(
            key,
            f"{kind} name of {len(name)} characters; expected at most {MAX_NAME_CHARS}",
        )
    mine = slug(name, kind).lower()
    for other in earlier:
        if other != name and slug(other, kind).lower() == mine:
            raise where.error(
                key,
                f"{kind} names {other!r} and {name!r} give the same file name "
                f"{slug(name, kind)!r}; expected names that differ in their letters or digits",
            )


def output_spec(raw: Mapping, where: KeyLocator, stem: str) -> OutputSpec:
    """Check ``[output]`` and build its :class:`OutputSpec` (default folder ``results/<stem>``)."""
    table = sub_table(raw, "output", where)
    check_keys(
        table, ["folder", "formats", "language", "map_tiles"], where, ("output",), "[output]"
    )
    folder = table.get("folder", f"results/{stem}")
    check_type(folder, str, where, ("output", "folder"))
    formats = table.get("formats", list(DEFAULT_FORMATS))
    check_type(formats, list[str], where, ("output", "formats"))
    for j, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise where.error(
                ("output", "formats", j), f"unknown format {fmt!r}; expected one of {FORMATS}"
            )
    language = table.get("language")
    if language is not None and language not in LANGUAGES:
        raise where.error(
            ("output", "language"),
            f"unknown language {language!r}; expected one of {', '.join(map(repr, LANGUAGES))}",
        )
    tiles = table.get("map_tiles", MAP_TILES[0])
    if tiles not in MAP_TILES:
        raise where.error(
            ("output", "map_tiles"),
            f"unknown map tiles {tiles!r}; expected one of {', '.join(map(repr, MAP_TILES))}",
        )
    return OutputSpec(Path(folder), tuple(formats), language, tiles)
