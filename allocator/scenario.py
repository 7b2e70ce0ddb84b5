"""Scenario files: a planning pipeline written as TOML data, validated before anything runs.

A scenario names the region (a data folder or a synthetic specification), the standard, the
pipeline of planner steps with their policy parameters, named variants for comparisons, solver
settings and the output folder::

    name = "Demo"
    [region]
    schools = 120            # synthetic region (or: data = "data/my_county", relative to this file)
    seed = 7
    [standard]
    base = "moe2017"
    [[steps]]
    planner = "budget"       # one of: mergers, districts, budget, teachers
    budget = 2e8             # every other key is a field of the planner's policy
    [[variants]]
    name = "rural priority"
    steps.budget.objective = "gap"

Layout: top-level ``name`` and ``description``; ``[region]`` (``data`` and optionally
``duplicate_road_factor`` of :func:`allocator.io.load_region`, or the keyword arguments of
:func:`allocator.synth.make_region` within its bounds; plus ``name``); ``[standard]`` (``base``,
``overrides``; passed to every policy that has a ``standard`` setting unless the step sets one);
``[solver]`` (the fields of :class:`~allocator.solver.SolverOptions`); ``[[steps]]`` (``planner``,
optional ``name``, ``enabled`` and ``solver``, and the policy's fields); ``[[variants]]`` (``name``,
``description`` and overrides of ``region``, ``standard``, ``solver`` and
``steps.<step name>.<key>``); ``[output]`` (``folder``, relative to the working directory, and
``formats``).

A scenario file is at most 1 MB and 32 levels deep (:mod:`allocator.toml_input`).

Validation happens once, in :func:`load_scenario`: an unknown key, a value of the wrong type, a
missing data folder, a negative budget or an unknown planner raises
:class:`~allocator.errors.InputError` whose message names the file, the line, the key path
(``steps[2].budget``: the second ``[[steps]]`` block, counted from 1) and what was expected.
Policy keys are checked against the fields of the planner's policy dataclass (names and types), and
each policy is built once so that its own checks (``__post_init__``) run before any solve.

Planners are found through a registry (:data:`PLANNERS`) that imports each planner module only when
a scenario uses it; :func:`register_planner` adds others.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.errors import InputError
from allocator.solver import SolverOptions
from allocator.toml_input import MAX_TOML_DEPTH, check_toml_bounds, parse_toml, read_text

__all__ = [
    "PLANNERS",
    "FORMATS",
    "Planner",
    "Scenario",
    "Step",
    "Variant",
    "RegionSpec",
    "StandardSpec",
    "OutputSpec",
    "load_scenario",
    "parse_scenario",
    "parse_assignment",
    "register_planner",
    "unregister_planner",
    "get_planner",
    "planner_names",
    "key_lines",
]

#: Built-in planners: name -> (module, plan function, policy class). Imported on first use.
PLANNERS: dict[str, tuple[str, str, str]] = {
    "mergers": ("allocator.planners.mergers", "plan_mergers", "MergerPolicy"),
    "districts": ("allocator.planners.districts", "plan_districts", "DistrictPolicy"),
    "budget": ("allocator.planners.budget", "plan_budget", "BudgetPolicy"),
    "teachers": ("allocator.planners.teachers", "plan_teachers", "TeacherPolicy"),
}
#: Output formats: report.html, one CSV per table, result.json, one workbook, the region after.
FORMATS = ("html", "csv", "json", "xlsx", "region")
_DEFAULT_FORMATS = ("html", "csv", "json")
_STEP_KEYS = ("planner", "name", "enabled", "solver")
_TOP_KEYS = ("name", "description", "region", "standard", "steps", "variants", "solver", "output")
_VARIANT_KEYS = ("name", "description", "region", "standard", "solver", "steps")
_SYNTH_KEYS = {
    "schools": int,
    "counties": int,
    "seed": int,
    "settlements_per_school": float,
    "urban_district": bool,
}
_REGION_KEYS = {"data": str, "name": str, "duplicate_road_factor": float, **_SYNTH_KEYS}


# --------------------------------------------------------------------------- planner registry
@dataclass(frozen=True)
class Planner:
    """A planner the runner can call: ``plan(region, policy, options, progress)``.

    Attributes
    ----------
    name : str
        The name used in scenario files (``planner = "budget"``).
    plan : callable
        ``plan(region, policy=None, options=None, progress=None) -> plan object``.
    policy : type
        The frozen policy dataclass, built from the step's keys as ``policy(**keys)``.
    """

    name: str
    plan: Callable[..., Any]
    policy: type

    def fields(self) -> dict[str, dataclasses.Field]:
        """The policy's fields by name."""
        return {f.name: f for f in dataclasses.fields(self.policy) if f.init}

    def hints(self) -> dict[str, Any]:
        """The policy's resolved type hints (empty where they cannot be resolved)."""
        try:
            return typing.get_type_hints(self.policy)
        except Exception:  # a hint naming a type only imported for type checkers
            return {}


_REGISTERED: dict[str, Planner] = {}


def register_planner(name: str, plan: Callable[..., Any], policy: type) -> None:
    """Make a planner available to scenario files under ``name`` (replaces a built-in one).

    Parameters
    ----------
    name : str
        The planner name in ``[[steps]] planner = ...``.
    plan : callable
        Follows the planner protocol: ``plan(region, policy=None, options=None, progress=None)``.
    policy : type
        A dataclass whose fields are the step's keys.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class NoPolicy:
    ...     pass
    >>> register_planner("nothing", lambda region, policy=None, options=None, progress=None: None,
    ...                  NoPolicy)
    >>> "nothing" in planner_names()
    True
    >>> unregister_planner("nothing")
    """
    if not dataclasses.is_dataclass(policy) or not isinstance(policy, type):
        raise ValueError(f"policy must be a dataclass type, got {policy!r}")
    if not callable(plan):
        raise ValueError(f"plan must be callable, got {plan!r}")
    _REGISTERED[str(name)] = Planner(str(name), plan, policy)


def unregister_planner(name: str) -> None:
    """Remove a planner added with :func:`register_planner` (built-ins come back)."""
    _REGISTERED.pop(name, None)


def planner_names() -> list[str]:
    """Names usable as ``planner = ...``: the built-ins and the registered ones."""
    return list(dict.fromkeys([*PLANNERS, *_REGISTERED]))


def get_planner(name: str) -> Planner:
    """The planner called ``name``, importing its module on first use.

    Raises
    ------
    InputError
        For an unknown name, or a built-in planner whose module cannot be imported.

    Examples
    --------
    >>> get_planner("nonsense")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: unknown planner 'nonsense'; expected one of mergers, districts, budget, teachers
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in PLANNERS:
        raise InputError(f"unknown planner {name!r}; expected one of {', '.join(planner_names())}")
    module_name, plan_name, policy_name = PLANNERS[name]
    try:
        module = importlib.import_module(module_name)
        return Planner(name, getattr(module, plan_name), getattr(module, policy_name))
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"planner {name!r} is not available in this installation ({module_name}: {exc})"
        ) from None


# --------------------------------------------------------------------------- key -> line
class _Positions:
    """Recursive-descent walk over valid TOML text recording the line of every key."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self.arrays: dict[tuple, int] = {}

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_space(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.advance()
            else:
                return

    def string(self) -> str:
        q = self.peek()
        if self.s.startswith(q * 3, self.i):
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            while self.s.startswith(q, end + 3):  # up to two quotes may close the string
                end += 1
            text = self.s[self.i : end]
            self.advance(end + 3 - self.i)
            return text
        self.advance()
        out = []
        while self.i < len(self.s) and self.peek() != q:
            if q == '"' and self.peek() == "\\":
                out.append(self.s[self.i : self.i + 2])
                self.advance(2)
                continue
            out.append(self.peek())
            self.advance()
        self.advance()
        return "".join(out)

    def key(self) -> tuple[str, ...]:
        parts = []
        while True:
            self.skip_space(False)
            if self.peek() in "\"'":
                parts.append(self.string())
            else:
                m = re.compile(r"[A-Za-z0-9_\-]+").match(self.s, self.i)
                parts.append(m.group(0) if m else "")
                self.advance(len(parts[-1]) or 1)
            self.skip_space(False)
            if self.peek() != ".":
                return tuple(parts)
            self.advance()

    def resolve(self, keys: tuple[str, ...]) -> tuple:
        path: tuple = ()
        for k in keys:
            path = (*path, k)
            if path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def value(self, path: tuple) -> None:
        self.skip_space(False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_space(True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.lines.setdefault((*path, index), self.line)
                self.value((*path, index))
                self.skip_space(True)
                if self.peek() == ",":
                    self.advance()
                    index += 1
        elif c == "{":
            self.advance()
            while True:
                self.skip_space(False)
                if self.peek() == "}":
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.keyvalue(path)
        else:
            while self.i < len(self.s) and self.peek() not in ",]}\n#":
                self.advance()

    def keyvalue(self, prefix: tuple) -> None:
        line = self.line
        keys = self.key()
        for k in range(1, len(keys) + 1):
            self.lines.setdefault((*prefix, *keys[:k]), line)
        self.skip_space(False)
        self.advance()  # "="
        self.value((*prefix, *keys))

    def run(self) -> dict[tuple, int]:
        prefix: tuple = ()
        while True:
            self.skip_space(True)
            if self.i >= len(self.s):
                return self.lines
            line = self.line
            if self.s.startswith("[[", self.i):
                self.advance(2)
                keys = self.key()
                self.advance(2)
                base = self.resolve(keys[:-1]) + (keys[-1],)
                index = self.arrays.get(base, -1) + 1
                self.arrays[base] = index
                prefix = (*base, index)
                self.lines.setdefault(base, line)
                self.lines[prefix] = line
            elif self.peek() == "[":
                self.advance()
                prefix = self.resolve(self.key())
                self.advance()
                self.lines.setdefault(prefix, line)
            else:
                self.keyvalue(prefix)


def key_lines(text: str) -> dict[tuple, int]:
    """Map each key path of a (valid) TOML text to the 1-based line where it is written.

    Array elements (``[[steps]]`` blocks, list items) are indexed from 0 in the paths.

    Examples
    --------
    >>> lines = key_lines('a = 1\\n[[steps]]\\nplanner = "x"\\n[[steps]]\\nb = { c = 2 }\\n')
    >>> lines[("steps", 1, "b", "c")], lines[("steps", 0, "planner")]
    (5, 3)
    """
    try:
        return _Positions(text).run()
    except Exception:  # positions are a courtesy; never let them hide the real error
        return {}


# --------------------------------------------------------------------------- values and types
def _show_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _conforms(value: Any, hint: Any) -> bool:
    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return value in args
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(map(_conforms, value, args))
        return not args or all(_conforms(v, args[0]) for v in value)
    if origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable"):
        return isinstance(value, list) and (not args or all(_conforms(v, args[0]) for v in value))
    if origin is dict or hint is dict or getattr(origin, "__name__", "") == "Mapping":
        if not isinstance(value, dict):
            return False
        return len(args) != 2 or all(_conforms(v, args[1]) for v in value.values())
    return True  # other types (tables, dataclasses): the policy's own checks decide


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is float:
        return "a number"
    if hint is int:
        return "a whole number"
    if hint is str:
        return "text"
    if hint is bool:
        return "true or false"
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        return f"a list of {_describe(args[0])}" if args and args[0] is not Ellipsis else "a list"
    if origin is dict or hint is dict:
        return f"a table of {_describe(args[1])}" if len(args) == 2 else "a table"
    return getattr(hint, "__name__", str(hint))


def _is_money_key(key: str) -> bool:
    return "budget" in key or key.endswith("_yuan")


def _deep_merge(base: dict, over: Mapping) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# --------------------------------------------------------------------------- the scenario
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
    """Output folder (relative to the working directory) and formats (see :data:`FORMATS`)."""

    folder: Path
    formats: tuple[str, ...] = _DEFAULT_FORMATS


@dataclass(frozen=True)
class Step:
    """One pipeline step: a planner, its policy keys, and optional solver overrides."""

    name: str
    planner: str
    params: dict
    solver: dict = field(default_factory=dict)
    enabled: bool = True
    index: int = 0

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


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build it with :func:`load_scenario`.

    Attributes
    ----------
    path : pathlib.Path
        The scenario file.
    name, description : str
    region : RegionSpec
    standard : StandardSpec
    steps : tuple of Step
    variants : tuple of Variant
    solver : dict
        Keyword arguments of :class:`~allocator.solver.SolverOptions`.
    output : OutputSpec
    variant_name : str or None
        The variant applied by :meth:`variant`, if any.
    """

    path: Path
    name: str
    description: str
    region: RegionSpec
    standard: StandardSpec
    steps: tuple[Step, ...]
    variants: tuple[Variant, ...]
    solver: dict
    output: OutputSpec
    raw: dict = field(repr=False)
    text: str = field(repr=False, default="")
    variant_name: str | None = None
    overrides: dict = field(default_factory=dict, repr=False)

    def solver_options(self, step: Step | None = None) -> SolverOptions:
        """Solver options for a step (its own ``solver`` keys over the scenario's)."""
        return SolverOptions(**{**self.solver, **(step.solver if step else {})})

    def step_error(self, step: Step, exc: InputError) -> InputError:
        """Locate an error raised while running ``step`` at the step's key in the scenario file.

        Checks that need the region (an unknown school id in ``must_keep``, an unknown category in
        ``category_caps``) can only run with the planner; the error they raise names the policy
        setting (its ``column``, or ``table`` for a file the setting names). The result names the
        scenario file, the line and the key path (``steps[1].must_keep``); an error about
        anything else (the region's data) is returned unchanged.

        Examples
        --------
        >>> s = parse_scenario('[region]\\nschools = 20\\n[[steps]]\\nplanner = "mergers"\\n'
        ...                    'must_keep = ["x"]\\n', "my.toml")
        >>> err = InputError("must_keep=['x']; expected ids of schools in the region",
        ...                  table="policy", column="must_keep", value=["x"])
        >>> print(s.step_error(s.steps[0], err))
        my.toml, line 5: steps[1].must_keep: must_keep=['x']; expected ids of schools in the region
        """
        if exc.table is not None and exc.table in step.params:  # a file the setting names
            key = exc.table
        elif exc.table in (None, "policy") and exc.column in step.params:
            key = exc.column
        else:
            return exc
        path: tuple = (key,)
        inner = step.params[key]
        if isinstance(inner, Mapping) and isinstance(exc.value, str) and exc.value in inner:
            path = (key, exc.value)
        own = exc.table in (None, "policy") or exc.table == key and exc.file is None
        message = exc.message if own else str(exc)
        lines = key_lines(self.text)
        where = _Where(self.path, lines, ("steps", step.index))
        if self.variant_name is not None and self.text:  # the key may come from the variant
            blocks = parse_toml(self.text, self.path).get("variants", [])
            for i, block in enumerate(blocks if isinstance(blocks, list) else []):
                if not isinstance(block, dict) or block.get("name") != self.variant_name:
                    continue
                steps = block.get("steps", {})
                if isinstance(steps, dict) and key in steps.get(step.name, {}):
                    where = _Where(self.path, lines, ("variants", i, "steps", step.name))
        return where.error(path, message)

    def variant(self, name: str) -> Scenario:
        """The scenario with the overrides of the variant called ``name`` applied.

        Raises
        ------
        InputError
            For an unknown variant name.
        """
        for v in self.variants:
            if v.name == name:
                # the variant, then again the overrides given when loading: those win
                raw = _apply_overrides(_apply_overrides(self.raw, v.overrides), self.overrides)
                raw.pop("variants", None)
                out = _build(raw, self.path, self.text, _Where(self.path, {}, ()))
                return dataclasses.replace(
                    out, variants=(), variant_name=name, overrides=self.overrides
                )
        names = ", ".join(repr(v.name) for v in self.variants) or "none defined"
        raise InputError(f"unknown variant {name!r}; expected one of {names}", file=str(self.path))


def _apply_overrides(raw: dict, overrides: Mapping) -> dict:
    """Merge variant-style overrides (``steps`` keyed by step name) into a raw scenario dict."""
    out = copy.deepcopy(raw)
    for section in ("region", "standard", "solver", "output"):
        if section in overrides:
            if section == "region" and "data" in overrides["region"]:
                kept = {k: v for k, v in out.get("region", {}).items() if k == "name"}
                out["region"] = kept
            out[section] = _deep_merge(out.get(section, {}), overrides[section])
    for step_name, params in overrides.get("steps", {}).items():
        for i, step in enumerate(out.get("steps", [])):
            if _step_name(step, out["steps"], i) == step_name:
                out["steps"][i] = _deep_merge(step, params)
    return out


def _step_name(step: dict, steps: list, i: int) -> str:
    if isinstance(step.get("name"), str):
        return step["name"]
    return str(step.get("planner", f"step{i + 1}"))


class _Where:
    """Turns a key path into an InputError naming the file, line and key."""

    def __init__(self, path: Path, lines: dict, prefix: tuple, label: str | None = None):
        self.path = path
        self.lines = lines
        self.prefix = prefix
        self.label = label

    def line(self, path: tuple) -> int | None:
        full = (*self.prefix, *path)
        for k in range(len(full), 0, -1):
            if full[:k] in self.lines:
                return self.lines[full[:k]]
        return None

    def error(self, path: tuple, message: str) -> InputError:
        key = _show_path((*self.prefix, *path))
        if self.label:
            key = f"{self.label} {key}"
        return InputError(f"{key}: {message}", file=str(self.path), line=self.line(path))


def _check_keys(table: Mapping, allowed, where: _Where, path: tuple, what: str) -> None:
    for key in table:
        if key not in allowed:
            close = [a for a in allowed if a.startswith(key[:3])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise where.error(
                (*path, key),
                f"unknown key{hint}; expected one of {', '.join(allowed)} in {what}",
            )


def _check_type(value, kind, where: _Where, path: tuple) -> None:
    if _conforms(value, kind):
        return
    inner = _element_hint(kind)
    if isinstance(value, list) and inner is not None:
        for j, item in enumerate(value):
            if not _conforms(item, inner):
                raise where.error(
                    (*path, j), f"expected {_describe(inner)} in the list, got {_kind(item)}"
                )
    raise where.error(path, f"expected {_describe(kind)}, got {_kind(value)}")


def _element_hint(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        lists = [a for a in args if typing.get_origin(a) in (list, tuple, set, frozenset)]
        return _element_hint(lists[0]) if len(lists) == 1 else None
    if origin in (list, tuple, set, frozenset) and args and (len(args) == 1 or args[-1] is ...):
        return args[0]
    return None


def _table(raw: Mapping, key: str, where: _Where, path: tuple = ()) -> dict:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise where.error((*path, key), f"expected a table ([{key}]), got {_kind(value)}")
    return value


def _region_spec(raw: Mapping, where: _Where, base_dir: Path, partial: bool) -> RegionSpec | None:
    table = _table(raw, "region", where)
    _check_keys(table, list(_REGION_KEYS), where, ("region",), "[region]")
    for key, kind in _REGION_KEYS.items():
        if key in table:
            _check_type(table[key], kind, where, ("region", key))
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
        check_sizes(**{k: v for k, v in synth.items() if k != "urban_district"})
    except InputError as exc:
        raise where.error(("region", exc.column or "schools"), exc.message) from None
    return RegionSpec(synthetic=synth, name=table.get("name"))


def _standard_spec(
    raw: Mapping, where: _Where, partial: bool, base_dir: Path = Path(".")
) -> StandardSpec | None:
    table = _table(raw, "standard", where)
    _check_keys(table, ["base", "overrides"], where, ("standard",), "[standard]")
    if "base" in table:
        _check_type(table["base"], str, where, ("standard", "base"))
    if "overrides" in table:
        _check_type(table["overrides"], dict, where, ("standard", "overrides"))
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


def _with_standard(step: Step, standard: StandardSpec) -> Step:
    """Give a step's policy the scenario's standard unless the step sets its own."""
    fields = get_planner(step.planner).fields()
    params = dict(step.params)
    if "standard" in fields and "standard" not in params:
        params["standard"] = standard.base
        if "standard_overrides" in fields and "standard_overrides" not in params:
            params["standard_overrides"] = copy.deepcopy(standard.overrides) or None
    return dataclasses.replace(step, params=params)


def _with_paths(step: Step, base_dir: Path) -> Step:
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


def _solver(table: Mapping, where: _Where, path: tuple, partial: bool) -> dict:
    names = [f.name for f in dataclasses.fields(SolverOptions)]
    _check_keys(table, names, where, path, f"[{_show_path(path)}]")
    hints = typing.get_type_hints(SolverOptions)
    for key, value in table.items():
        _check_type(value, hints[key], where, (*path, key))
    if not partial:
        try:
            SolverOptions(**table)
        except ValueError as exc:
            key = next((k for k in table if k in str(exc)), None)
            raise where.error((*path, key) if key else path, str(exc)) from None
    return dict(table)


def _policy_keys(planner: Planner, params: Mapping, where: _Where, path: tuple) -> None:
    fields = planner.fields()
    hints = planner.hints()
    allowed = [*fields, *(k for k in _STEP_KEYS if k not in fields)]
    _check_keys(params, allowed, where, path, f"a {planner.name!r} step")
    for key, value in params.items():
        if key in _STEP_KEYS and key not in fields:
            continue
        if key in hints:
            _check_type(value, hints[key], where, (*path, key))
        if _is_money_key(key) and isinstance(value, int | float) and not isinstance(value, bool):
            if value < 0:
                raise where.error((*path, key), f"expected a number >= 0 (yuan), got {value!r}")


def _build_policy(planner: Planner, params: dict, where: _Where, path: tuple) -> None:
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


def _steps(raw: Mapping, where: _Where) -> tuple[Step, ...]:
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
        _check_type(name, str, where, (*path, "planner"))
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
                _check_type(step[key], kind, where, (*path, key))
        step_name = _step_name(step, steps, i)
        _check_name(
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
        _policy_keys(planner, step, where, path)
        params = {k: v for k, v in step.items() if k in planner.fields() or k not in _STEP_KEYS}
        solver = _solver(step.get("solver", {}), where, (*path, "solver"), partial=False)
        out.append(Step(step_name, name, params, solver, bool(step.get("enabled", True)), index=i))
    return tuple(out)


#: Longest step or variant name (characters); file names use a slug of at most 64 bytes.
MAX_NAME_CHARS = 100


def _check_name(name: str, kind: str, where: _Where, key: tuple, earlier: list[str]) -> None:
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


def _output(raw: Mapping, where: _Where, stem: str) -> OutputSpec:
    table = _table(raw, "output", where)
    _check_keys(table, ["folder", "formats"], where, ("output",), "[output]")
    folder = table.get("folder", f"results/{stem}")
    _check_type(folder, str, where, ("output", "folder"))
    formats = table.get("formats", list(_DEFAULT_FORMATS))
    _check_type(formats, list[str], where, ("output", "formats"))
    for j, fmt in enumerate(formats):
        if fmt not in FORMATS:
            raise where.error(
                ("output", "formats", j), f"unknown format {fmt!r}; expected one of {FORMATS}"
            )
    return OutputSpec(Path(folder), tuple(formats))


def _build(raw: dict, path: Path, text: str, where: _Where) -> Scenario:
    _check_keys(raw, list(_TOP_KEYS), where, (), "the scenario's top level")
    for key in ("name", "description"):
        if key in raw:
            _check_type(raw[key], str, where, (key,))
    region = _region_spec(raw, where, path.parent, partial=False)
    standard = _standard_spec(raw, where, partial=False, base_dir=path.parent)
    solver = _solver(_table(raw, "solver", where), where, ("solver",), partial=False)
    steps = tuple(
        _with_paths(_with_standard(step, standard), path.parent) for step in _steps(raw, where)
    )
    for step in steps:
        planner = get_planner(step.planner)
        _build_policy(planner, step.params, where, ("steps", step.index))
    output = _output(raw, where, path.stem)
    return Scenario(
        path=path,
        name=raw.get("name", path.stem),
        description=raw.get("description", ""),
        region=region,
        standard=standard,
        steps=steps,
        variants=(),
        solver=solver,
        output=output,
        raw=raw,
        text=text,
    )


def _check_overrides(
    over: Mapping, raw: dict, steps: tuple[Step, ...], where: _Where, allowed: list[str]
) -> None:
    """Check variant-style overrides against the scenario (structure, keys, types)."""
    _check_keys(over, allowed, where, (), "a variant")
    for key in ("name", "description"):
        if key in over:
            _check_type(over[key], str, where, (key,))
    _region_spec(over, where, Path("."), partial=True)
    _standard_spec(over, where, partial=True)
    _solver(_table(over, "solver", where), where, ("solver",), partial=True)
    by_name = {s.name: s for s in steps}
    step_over = _table(over, "steps", where)
    for name, params in step_over.items():
        if name not in by_name:
            raise where.error(
                ("steps", name),
                f"no step named {name!r}; expected one of {', '.join(by_name)} "
                "(a step's name is its planner unless it sets name = ...)",
            )
        if not isinstance(params, dict):
            raise where.error(("steps", name), f"expected a table of keys, got {_kind(params)}")
        if "planner" in params and params["planner"] != by_name[name].planner:
            raise where.error(
                ("steps", name, "planner"), "a variant cannot change a step's planner"
            )
        planner = get_planner(by_name[name].planner)
        _policy_keys(planner, params, where, ("steps", name))
        if "solver" in params:
            _solver(params["solver"], where, ("steps", name, "solver"), partial=True)


def parse_scenario(
    text: str, path: str | os.PathLike = "scenario.toml", overrides: Mapping | None = None
) -> Scenario:
    """Validate scenario TOML text (see :func:`load_scenario`); ``path`` locates data and errors.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class P:
    ...     budget: float = 0.0
    >>> register_planner("toy", lambda region, policy=None, options=None, progress=None: None, P)
    >>> s = parse_scenario('[region]\\nschools = 20\\n[[steps]]\\nplanner = "toy"\\nbudget = -1\\n')
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: scenario.toml, line 5: steps[1].budget: expected a number >= 0 (yuan), got -1
    >>> unregister_planner("toy")
    """
    path = Path(path)
    raw = parse_toml(text, path)  # bounded in size and depth before parsing
    lines = key_lines(text)
    where = _Where(path, lines, ())
    _check_keys(raw, list(_TOP_KEYS), where, (), "the scenario's top level")
    scenario = _build(raw, path, text, where)
    variants_raw = raw.get("variants", [])
    if not isinstance(variants_raw, list) or not all(isinstance(v, dict) for v in variants_raw):
        raise where.error(("variants",), "expected [[variants]] blocks (an array of tables)")
    variants, seen = [], set()
    for i, v in enumerate(variants_raw):
        vwhere = _Where(path, lines, ("variants", i))
        if "name" not in v:
            raise vwhere.error((), "missing key 'name'; expected name = <text> for each variant")
        _check_type(v["name"], str, vwhere, ("name",))
        _check_name(v["name"], "variant", vwhere, ("name",), list(seen))
        _check_overrides(v, raw, scenario.steps, vwhere, list(_VARIANT_KEYS))
        if v["name"] in seen:
            raise vwhere.error(("name",), f"variant name {v['name']!r} is used twice")
        seen.add(v["name"])
        over = {k: x for k, x in v.items() if k not in ("name", "description")}
        _validate_merged(raw, over, path, text, vwhere)
        variants.append(Variant(v["name"], v.get("description", ""), over))
    scenario = dataclasses.replace(scenario, variants=tuple(variants))
    if overrides:
        owhere = _Where(path, {}, (), label="override")
        _check_overrides(
            overrides,
            raw,
            scenario.steps,
            owhere,
            ["region", "standard", "solver", "steps", "output"],
        )
        merged = _apply_overrides(raw, overrides)
        if "output" in overrides:
            _output(merged, owhere, path.stem)
        scenario = dataclasses.replace(
            _validate_merged(raw, overrides, path, text, owhere),
            variants=scenario.variants,
            overrides=copy.deepcopy(dict(overrides)),
        )
    return scenario


def _validate_merged(raw: dict, over: Mapping, path: Path, text: str, where: _Where) -> Scenario:
    """Build the scenario with the overrides applied; errors point at the override's keys."""
    merged = _apply_overrides(raw, over)
    merged.pop("variants", None)
    base = _Where(path, key_lines(text), ())
    names = {_step_name(s, merged["steps"], i): i for i, s in enumerate(merged.get("steps", []))}

    class _Either(_Where):
        # An error in a key the variant set points at the variant; otherwise at the base file.
        def error(self, p: tuple, message: str) -> InputError:
            if len(p) >= 2 and p[0] == "steps" and isinstance(p[1], int):
                step = next((n for n, i in names.items() if i == p[1]), None)
                sub = over.get("steps", {}).get(step, {})
                if len(p) == 2 or p[2] in sub:
                    return where.error(("steps", step, *p[2:]), message)
            elif p and p[0] in over and (len(p) == 1 or _has(over, p)):
                return where.error(p, message)
            return base.error(p, message)

    either = _Either(path, {}, ())
    return _build(merged, path, text, either)


def _has(tree: Mapping, path: tuple) -> bool:
    node: Any = tree
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def load_scenario(path: str | os.PathLike, overrides: Mapping | None = None) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path : str or path-like
        The ``.toml`` file. A ``data`` folder in ``[region]`` is relative to this file.
    overrides : mapping, optional
        Extra overrides in the layout of a ``[[variants]]`` block, applied last, e.g.
        ``{"region": {"schools": 60}, "steps": {"budget": {"budget": 1e8}}}``.

    Returns
    -------
    Scenario

    Raises
    ------
    InputError
        Naming the file, line, key path (``steps[2].budget``, counted from 1) and what was expected.

    Examples
    --------
    >>> import pathlib
    >>> s = load_scenario(pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml")
    >>> [step.planner for step in s.steps]
    ['mergers', 'districts', 'budget', 'teachers']
    """
    path = Path(path)
    text = read_text(path, "scenario file")
    return parse_scenario(text, path, overrides)


def parse_assignment(text: str) -> dict:
    """Turn ``"steps.budget.budget=1e8"`` (a ``--set`` option) into a nested overrides dict.

    The value is read as a TOML value; anything that is not valid TOML is taken as text.

    Examples
    --------
    >>> parse_assignment("steps.budget.objective=gap")
    {'steps': {'budget': {'objective': 'gap'}}}
    >>> parse_assignment("region.schools=60")
    {'region': {'schools': 60}}
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set {text!r}: expected KEY=VALUE, e.g. region.schools=60")
    keys = [k.strip() for k in key.strip().split(".")]
    if len(keys) > MAX_TOML_DEPTH:
        raise InputError(
            f"--set: a key of {len(keys):,} levels; expected at most {MAX_TOML_DEPTH}",
            file=f"--set {key.strip()[:60]}",
        )
    check_toml_bounds(f"v = {value.strip()}", f"--set {key.strip()}")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    out: dict = {}
    node = out
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = parsed
    return out


def merge_overrides(*parts: Mapping) -> dict:
    """Deep-merge several overrides dicts (later ones win).

    Examples
    --------
    >>> merge_overrides({"region": {"schools": 60}}, {"region": {"seed": 2}})
    {'region': {'schools': 60, 'seed': 2}}
    """
    out: dict = {}
    for part in parts:
        out = _deep_merge(out, part)
    return out
