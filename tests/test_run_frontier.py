"""A budget step's ``frontier``: a run plans the step again at each budget, the results hold the
table and the report draws it."""

from __future__ import annotations

import base64
import json
import pathlib
import re

import numpy as np
import pytest

import allocator
from allocator.errors import InputError
from allocator.report import render_run
from allocator.scenario import load_scenario

ROOT = pathlib.Path(__file__).parents[1]
SCENARIO = ROOT / "scenarios" / "rural_county_consolidation.toml"  # mergers, then a 3e7 budget
BUDGETS = [6e7, 0, 1e7, 1e7]  # unsorted, repeated: solved once each, in increasing order


@pytest.fixture(scope="module")
def run():
    overrides = {"region": {"schools": 40}, "steps": {"budget": {"frontier": BUDGETS}}}
    return allocator.run_scenario(SCENARIO, write=False, overrides=overrides)


def test_the_frontier_holds_each_budget_and_the_steps_own_once(run):
    frontier = run.tables["budget.frontier"]
    assert frontier["budget"].tolist() == [0.0, 1e7, 3e7, 6e7]
    assert frontier["step_budget"].tolist() == [False, False, True, False]
    assert (frontier["spent"] <= frontier["budget"] * (1 + 1e-9)).all()
    assert frontier["spent"].iloc[0] == 0  # nothing to spend buys nothing


def test_the_point_at_the_steps_budget_is_the_steps_plan_and_zero_is_the_region_before(run):
    frontier = run.tables["budget.frontier"]
    step = next(s for s in run.steps if s.planner == "budget")
    head = step.headline
    own = frontier[frontier["step_budget"]].iloc[0]
    assert own["spent"] == pytest.approx(head["spent_yuan"], abs=1.0)
    assert own["parts_passing"] == head["parts_passing_after"]
    assert own["parts_in_scope"] == head["parts_in_scope"]
    # the frontier is planned on the region the step planned (after the mergers), so with no
    # money its parts pass as they did before the step
    assert frontier["parts_passing"].iloc[0] == head["parts_passing_before"]


def test_more_budget_never_passes_fewer_parts_nor_leaves_a_larger_shortfall(run):
    frontier = run.tables["budget.frontier"]
    assert np.all(np.diff(frontier["parts_passing"].to_numpy()) >= 0)
    assert np.all(np.diff(frontier["schools_passing"].to_numpy()) >= 0)
    # the step minimises the total shortfall: a larger budget's plan is never worse on it
    assert np.all(np.diff(frontier["shortfall"].to_numpy()) <= 1e-6)


def test_the_report_draws_the_frontier_from_the_run(run):
    page = render_run(run, "zh")
    charts = page[page.index("id='charts'") : page.index("id='map'")]
    assert "<h3>不同预算的效果</h3>" in charts
    script = charts[charts.index("<h3>不同预算的效果</h3>") :]
    data = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", script, flags=re.S)
    traces = json.loads(data.group(1))
    frontier = run.tables["budget.frontier"]
    assert _values(traces[0]["x"]) == frontier["budget"].tolist()
    assert _values(traces[0]["y"]) == frontier["parts_passing"].tolist()


def _values(array) -> list:
    """A figure's array as plotly writes it: a list, or typed binary (``dtype``, ``bdata``)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


STEPS = """name = "frontier check"
[region]
schools = 40
[[steps]]
planner = "mergers"
{mergers}
[[steps]]
planner = "budget"
budget = 3e7
{budget}
"""


@pytest.mark.parametrize(
    ("step", "value", "message"),
    [
        ("mergers", "[1e7]", "steps[1].frontier: the 'mergers' planner has no budget frontier"),
        ("budget", '"many"', "steps[2].frontier: expected a list of 1 to 25 budgets in yuan"),
        ("budget", "[]", "steps[2].frontier: expected a list of 1 to 25 budgets in yuan"),
        ("budget", "[1e7, -5]", "steps[2].frontier[2]: expected a number of yuan >= 0, got -5"),
        ("budget", "[true]", "steps[2].frontier[1]: expected a number of yuan >= 0, got True"),
    ],
)
def test_a_bad_frontier_is_one_error_naming_file_key_and_value(tmp_path, step, value, message):
    path = tmp_path / "s.toml"
    blocks = {"mergers": "", "budget": "", step: f"frontier = {value}"}
    path.write_text(STEPS.format(**blocks), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and message in text
    assert "\n" not in text


def test_a_step_without_frontier_computes_none():
    scenario = load_scenario(SCENARIO)
    assert [s.frontier for s in scenario.steps] == [(), ()]
