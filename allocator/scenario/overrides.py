"""Overrides of a scenario: variant blocks, ``--set KEY=VALUE`` options and how they merge.

Overrides have the layout of a ``[[variants]]`` block: ``years`` (replaced), ``region``,
``standard``, ``forecast``, ``solver``, ``output`` (tables merged key by key) and
``steps.<step name>.<key>``.

Examples
--------
>>> merge_overrides(parse_assignment("region.schools=60"), {"region": {"seed": 2}})
{'region': {'schools': 60, 'seed': 2}}
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping

from allocator.errors import InputError
from allocator.toml_input import MAX_TOML_DEPTH, check_toml_bounds

__all__ = ["apply_overrides", "deep_merge", "merge_overrides", "parse_assignment", "raw_step_name"]


def deep_merge(base: dict, over: Mapping) -> dict:
    """A deep copy of ``base`` with ``over`` merged in (nested tables merged, the rest replaced)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def apply_overrides(raw: dict, overrides: Mapping) -> dict:
    """Merge variant-style overrides (``steps`` keyed by step name) into a raw scenario dict."""
    out = copy.deepcopy(raw)
    if "years" in overrides:
        out["years"] = copy.deepcopy(overrides["years"])
    for section in ("region", "standard", "forecast", "solver", "output"):
        if section in overrides:
            if section == "region" and "data" in overrides["region"]:
                kept = {k: v for k, v in out.get("region", {}).items() if k == "name"}
                out["region"] = kept
            out[section] = deep_merge(out.get(section, {}), overrides[section])
    for step_name, params in overrides.get("steps", {}).items():
        for i, step in enumerate(out.get("steps", [])):
            if raw_step_name(step, out["steps"], i) == step_name:
                out["steps"][i] = deep_merge(step, params)
    return out


def raw_step_name(step: dict, steps: list, i: int) -> str:
    """The name of a raw ``[[steps]]`` table: its ``name``, else its planner."""
    if isinstance(step.get("name"), str):
        return step["name"]
    return str(step.get("planner", f"step{i + 1}"))


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
        out = deep_merge(out, part)
    return out
