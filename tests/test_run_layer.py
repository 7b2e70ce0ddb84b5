"""The run layer's layout: old import paths still work, the registry is the one list of planners,
the yardstick reads its travel limits from the standard, and the command line keeps its statuses."""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest

import allocator
import allocator.compare as compare
import allocator.pipeline as pipeline
import allocator.scenario as scenario
import allocator.writers as writers
from allocator.cli import main
from allocator.io import save_region
from allocator.planners.registry import (
    PLANNERS,
    get_planner,
    planner_names,
    register_planner,
    unregister_planner,
)
from allocator.standards import load_standard
from allocator.synth import make_region


def test_old_import_paths_name_the_same_objects():
    assert pipeline.run_scenario is allocator.run_scenario
    assert compare.compare_scenario is allocator.compare_scenario
    assert scenario.register_planner is register_planner is allocator.register_planner
    assert scenario.get_planner is get_planner


def test_every_built_in_planner_resolves_to_a_plan_function_and_a_policy():
    for name in PLANNERS:
        planner = get_planner(name)
        assert callable(planner.plan) and planner.fields() is not None


def test_a_registered_planner_is_offered_to_scenarios_and_removed_again():
    @dataclass(frozen=True)
    class NoPolicy:
        pass

    register_planner(
        "fifth", lambda region, policy=None, options=None, progress=None: None, NoPolicy
    )
    try:
        assert "fifth" in planner_names() and get_planner("fifth").policy is NoPolicy
    finally:
        unregister_planner("fifth")
    assert "fifth" not in planner_names()


def _code_strings_and_names(module) -> set[str]:
    """Identifiers and string constants of a module, docstrings left out."""
    tree = ast.parse(inspect.getsource(module))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings:
                out.add(node.value)
        elif isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, ast.Attribute):
            out.add(node.attr)
    return out


@pytest.mark.parametrize(
    "module",
    [
        pipeline,
        writers,
        compare,
        scenario,
        scenario.parse,
        scenario.sections,
        scenario.overrides,
        scenario.values,
    ],
)
def test_the_run_layer_names_no_planner(module):
    """Planner modules, plan functions and policies are reached only through the registry; a
    planner's name may appear as a policy key word (``budget`` is a money key) in the parser."""
    found = _code_strings_and_names(module)
    planners = {*(m for m, _, _ in PLANNERS.values()), *(f for _, f, _ in PLANNERS.values())}
    planners |= {policy for _, _, policy in PLANNERS.values()}
    if module in (pipeline, writers, compare):
        planners |= set(PLANNERS)
    assert not found & planners


def test_yardstick_travel_limits_come_from_the_standard():
    region = make_region(schools=40, seed=3)
    standard = load_standard("moe2017", overrides={"travel": {"upper_primary_minutes": 50}})
    travel = pipeline.measure(region, standard).travel.set_index("band")["limit_minutes"]
    assert travel.to_dict() == {
        "lower_primary": standard.travel.lower_primary_minutes,
        "upper_primary": 50.0,
        "junior": standard.travel.junior_minutes,
    }


def test_check_command_exit_statuses(tmp_path: Path, capsys):
    save_region(make_region(schools=40, seed=1), tmp_path / "region")
    assert main(["check", str(tmp_path / "region")]) == 0
    assert capsys.readouterr().out.startswith("Compliance of ")
    assert main(["check", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("allocator check: error: ") and err.count("\n") == 1
