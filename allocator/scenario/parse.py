"""Reading a scenario file: the :class:`Scenario`, :func:`load_scenario` and :func:`parse_scenario`.

The file is parsed within bounds (:mod:`allocator.toml_input`), every section is checked and built
(:mod:`allocator.scenario.sections`), then every ``[[variants]]`` block and the overrides given
when loading are applied once and checked the same way, with errors pointing at the keys they set.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allocator.errors import InputError
from allocator.planners.registry import get_planner
from allocator.scenario.overrides import apply_overrides, raw_step_name
from allocator.scenario.sections import (
    OutputSpec,
    RegionSpec,
    StandardSpec,
    Step,
    Variant,
    build_policy,
    check_name,
    check_policy_keys,
    output_spec,
    parse_steps,
    region_spec,
    solver_settings,
    standard_spec,
    with_paths,
    with_standard,
)
from allocator.scenario.values import KeyLocator, check_keys, check_type, kind_of, sub_table
from allocator.scenario.years import ForecastSpec, forecast_spec, over_years_files, years_of
from allocator.solver import SolverOptions
from allocator.toml_input import key_lines, parse_toml, read_text

__all__ = ["Scenario", "build_scenario", "load_scenario", "parse_scenario"]

_TOP_KEYS = (
    "name", "description", "years", "region", "standard", "forecast", "steps", "variants",
    "solver", "output",
)  # fmt: skip
_VARIANT_KEYS = (
    "name", "description", "years", "region", "standard", "forecast", "solver", "steps",
)  # fmt: skip


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
    years : (int, int) or None
        ``years = [first, last]``: plan over these years, both included
        (:mod:`allocator.scenario.years`).
    forecast : ForecastSpec or None
        ``[forecast]`` (the medium birth scenario, no migration, when only ``years`` is given).
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
    years: tuple[int, int] | None = None
    forecast: ForecastSpec | None = None

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
        if exc.table in (None, "policy") and exc.column in step.over_years:
            located = KeyLocator(self.path, key_lines(self.text), ("steps", step.index))
            return located.error(("over_years", exc.column), exc.message)
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
        where = KeyLocator(self.path, lines, ("steps", step.index))
        if self.variant_name is not None and self.text:  # the key may come from the variant
            blocks = parse_toml(self.text, self.path).get("variants", [])
            for i, block in enumerate(blocks if isinstance(blocks, list) else []):
                if not isinstance(block, dict) or block.get("name") != self.variant_name:
                    continue
                steps = block.get("steps", {})
                if isinstance(steps, dict) and key in steps.get(step.name, {}):
                    where = KeyLocator(self.path, lines, ("variants", i, "steps", step.name))
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
                raw = apply_overrides(apply_overrides(self.raw, v.overrides), self.overrides)
                raw.pop("variants", None)
                out = build_scenario(raw, self.path, self.text, KeyLocator(self.path, {}, ()))
                return dataclasses.replace(
                    out, variants=(), variant_name=name, overrides=self.overrides
                )
        names = ", ".join(repr(v.name) for v in self.variants) or "none defined"
        raise InputError(f"unknown variant {name!r}; expected one of {names}", file=str(self.path))


def build_scenario(raw: dict, path: Path, text: str, where: KeyLocator) -> Scenario:
    """Check a raw scenario dict (without variants) and build the :class:`Scenario`."""
    check_keys(raw, list(_TOP_KEYS), where, (), "the scenario's top level")
    for key in ("name", "description"):
        if key in raw:
            check_type(raw[key], str, where, (key,))
    region = region_spec(raw, where, path.parent, partial=False)
    standard = standard_spec(raw, where, partial=False, base_dir=path.parent)
    solver = solver_settings(sub_table(raw, "solver", where), where, ("solver",), partial=False)
    steps = tuple(
        with_paths(with_standard(step, standard), path.parent) for step in parse_steps(raw, where)
    )
    for step in steps:
        planner = get_planner(step.planner)
        build_policy(planner, step.params, where, ("steps", step.index))
    steps = over_years_files(steps, where, path.parent)
    output = output_spec(raw, where, path.stem)
    years = years_of(raw, where)
    forecast = forecast_spec(raw, where, path.parent)
    for step in steps:
        if step.over_years and years is None:
            raise where.error(
                ("steps", step.index, "over_years"),
                "applies to a plan over years; expected years = [first, last] at the top level",
            )
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
        years=years,
        forecast=forecast,
    )


def _check_overrides(
    over: Mapping, raw: dict, steps: tuple[Step, ...], where: KeyLocator, allowed: list[str]
) -> None:
    """Check variant-style overrides against the scenario (structure, keys, types)."""
    check_keys(over, allowed, where, (), "a variant")
    for key in ("name", "description"):
        if key in over:
            check_type(over[key], str, where, (key,))
    region_spec(over, where, Path("."), partial=True)
    standard_spec(over, where, partial=True)
    solver_settings(sub_table(over, "solver", where), where, ("solver",), partial=True)
    sub_table(over, "forecast", where)  # a table; its keys are checked on the merged scenario
    by_name = {s.name: s for s in steps}
    step_over = sub_table(over, "steps", where)
    for name, params in step_over.items():
        if name not in by_name:
            raise where.error(
                ("steps", name),
                f"no step named {name!r}; expected one of {', '.join(by_name)} "
                "(a step's name is its planner unless it sets name = ...)",
            )
        if not isinstance(params, dict):
            raise where.error(("steps", name), f"expected a table of keys, got {kind_of(params)}")
        if "planner" in params and params["planner"] != by_name[name].planner:
            raise where.error(
                ("steps", name, "planner"), "a variant cannot change a step's planner"
            )
        planner = get_planner(by_name[name].planner)
        check_policy_keys(planner, params, where, ("steps", name))
        if "solver" in params:
            solver_settings(params["solver"], where, ("steps", name, "solver"), partial=True)


def parse_scenario(
    text: str, path: str | os.PathLike = "scenario.toml", overrides: Mapping | None = None
) -> Scenario:
    """Validate scenario TOML text (see :func:`load_scenario`); ``path`` locates data and errors.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from allocator.planners.registry import register_planner, unregister_planner
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
    where = KeyLocator(path, lines, ())
    check_keys(raw, list(_TOP_KEYS), where, (), "the scenario's top level")
    scenario = build_scenario(raw, path, text, where)
    variants_raw = raw.get("variants", [])
    if not isinstance(variants_raw, list) or not all(isinstance(v, dict) for v in variants_raw):
        raise where.error(("variants",), "expected [[variants]] blocks (an array of tables)")
    variants, seen = [], set()
    for i, v in enumerate(variants_raw):
        vwhere = KeyLocator(path, lines, ("variants", i))
        if "name" not in v:
            raise vwhere.error((), "missing key 'name'; expected name = <text> for each variant")
        check_type(v["name"], str, vwhere, ("name",))
        check_name(v["name"], "variant", vwhere, ("name",), list(seen))
        _check_overrides(v, raw, scenario.steps, vwhere, list(_VARIANT_KEYS))
        if v["name"] in seen:
            raise vwhere.error(("name",), f"variant name {v['name']!r} is used twice")
        seen.add(v["name"])
        over = {k: x for k, x in v.items() if k not in ("name", "description")}
        _validate_merged(raw, over, path, text, vwhere)
        variants.append(Variant(v["name"], v.get("description", ""), over))
    scenario = dataclasses.replace(scenario, variants=tuple(variants))
    if overrides:
        owhere = KeyLocator(path, {}, (), label="override")
        _check_overrides(
            overrides,
            raw,
            scenario.steps,
            owhere,
            ["years", "region", "standard", "forecast", "solver", "steps", "output"],
        )
        merged = apply_overrides(raw, overrides)
        if "output" in overrides:
            output_spec(merged, owhere, path.stem)
        scenario = dataclasses.replace(
            _validate_merged(raw, overrides, path, text, owhere),
            variants=scenario.variants,
            overrides=copy.deepcopy(dict(overrides)),
        )
    return scenario


def _validate_merged(
    raw: dict, over: Mapping, path: Path, text: str, where: KeyLocator
) -> Scenario:
    """Build the scenario with the overrides applied; errors point at the override's keys."""
    merged = apply_overrides(raw, over)
    merged.pop("variants", None)
    base = KeyLocator(path, key_lines(text), ())
    names = {raw_step_name(s, merged["steps"], i): i for i, s in enumerate(merged.get("steps", []))}

    class _Either(KeyLocator):
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
    return build_scenario(merged, path, text, either)


def _has(tree: Mapping, path: tuple) -> bool:
    """Whether the nested mapping ``tree`` holds the key path ``path``."""
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
    >>> s = load_scenario(pathlib.Path(__file__).parents[2] / "scenarios" / "liangjiang_demo.toml")
    >>> [step.planner for step in s.steps]
    ['mergers', 'districts', 'budget', 'teachers', 'training']
    """
    path = Path(path)
    text = read_text(path, "scenario file")
    return parse_scenario(text, path, overrides)
