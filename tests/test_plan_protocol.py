"""Every planner keeps the plan protocol of allocator.planners.base, and a fifth planner added
through the registry alone runs in a scenario, with its tables written and its step reported."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import allocator
from allocator.errors import InputError
from allocator.pipeline import run_scenario
from allocator.planners.base import HEADLINE_KEYS, PlanBase
from allocator.planners.registry import (
    get_planner,
    planner_names,
    register_planner,
    unregister_planner,
)
from allocator.solver import SolveInfo, SolverOptions
from allocator.synth import make_region

BUILT_IN = ("mergers", "districts", "budget", "teachers")
POLICY_KEYS = {"budget": {"budget": 2e6}, "districts": {"method": "heuristic", "time_limit": 2.0}}


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, counties=1, seed=4)


@pytest.fixture(scope="module")
def plans(region):
    out = {}
    for name in BUILT_IN:
        planner = get_planner(name)
        policy = planner.policy(**POLICY_KEYS.get(name, {}))
        out[name] = (policy, planner.plan(region, policy, SolverOptions(time_limit=30)))
    return out


def test_the_built_in_planners_are_registered():
    assert set(BUILT_IN) <= set(planner_names())


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_plan_keeps_the_protocol(name, plans, region):
    policy, plan = plans[name]
    assert isinstance(plan, PlanBase)
    headline = plan.headline()
    assert tuple(headline)[:4] == HEADLINE_KEYS
    assert headline["status"] == plan.solve_info.status
    assert headline["status"] in ("optimal", "feasible")
    assert isinstance(plan.summary(), str) and plan.summary()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.solve_info = None
    tables = plan.tables
    assert tables and all(isinstance(t, pd.DataFrame) for t in tables.values())
    first = next(k for k, t in tables.items() if len(t.columns))
    before = plan.tables[first].copy()
    tables[first][tables[first].columns[0]] = "changed"  # a copy: the plan is unchanged
    pd.testing.assert_frame_equal(plan.tables[first], before)
    other = make_region(schools=40, counties=1, seed=5)
    with pytest.raises(InputError, match="another region"):
        plan.apply(other)
    with pytest.raises(InputError, match="expected a Region, got DataFrame"):
        plan.apply(region.schools)
    assert plan.apply(region) is not region  # the region it was made for is accepted


@pytest.mark.parametrize("name", BUILT_IN)
def test_a_policy_is_frozen_hashable_and_pickles(name, plans):
    policy, _ = plans[name]
    assert hash(policy) == hash(pickle.loads(pickle.dumps(policy)))
    assert pickle.loads(pickle.dumps(policy)) == policy
    field = next(f.name for f in dataclasses.fields(policy) if f.init)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(policy, field, None)


# ------------------------------------------------------------------ a fifth planner, registry only
@dataclass(frozen=True)
class QuietPolicy:
    """Mark every school with more than ``pupils`` pupils."""

    pupils: int = 500


@dataclass(frozen=True, eq=False)
class QuietPlan(PlanBase):
    marked: pd.DataFrame
    solve_info: SolveInfo
    region_fingerprint: str | None = None
    plan_name = "quiet plan"

    @property
    def objective_value(self) -> float:
        return float(len(self.marked))

    @property
    def tables(self) -> dict:
        return {"marked": self.marked.copy()}

    def headline(self) -> dict:
        return {**self.solve_headline(), "marked": int(len(self.marked))}

    def summary(self) -> str:
        return f"{len(self.marked)} schools marked"

    def apply(self, region):
        self.require_region(region)
        return region.replace()


def plan_quiet(region, policy=None, options=None, progress=None):
    from allocator.fingerprint import region_fingerprint

    policy = policy or QuietPolicy()
    s = region.schools
    pupils = s[[c for c in s.columns if c.startswith("pupils_")]].sum(axis=1)
    marked = s.loc[pupils > policy.pupils, ["school_id", "name"]].reset_index(drop=True)
    info = SolveInfo("optimal", float(len(marked)), float(len(marked)), 0.0, 0.0, "none")
    return QuietPlan(marked, info, region_fingerprint(region))


def test_a_fifth_planner_runs_in_a_scenario_through_the_registry_alone(tmp_path):
    scenario = tmp_path / "quiet.toml"
    scenario.write_text(
        '[region]\nschools = 30\nseed = 2\n\n[[steps]]\nplanner = "quiet"\npupils = 400\n',
        encoding="utf-8",
    )
    register_planner("quiet", plan_quiet, QuietPolicy)
    try:
        result = run_scenario(scenario, tmp_path / "out")
    finally:
        unregister_planner("quiet")
    region = result.regions[0]
    s = region.schools
    expected = int((s[[c for c in s.columns if c.startswith("pupils_")]].sum(axis=1) > 400).sum())
    plan = result.steps[0].plan
    assert plan.headline()["marked"] == expected and expected > 0
    written = pd.read_csv(tmp_path / "out" / "quiet.marked.csv")
    assert len(written) == expected
    assert "quiet" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_a_policy_holding_a_standard_hashes():
    from allocator.planners.teachers import TeacherPolicy
    from allocator.standards import load_standard

    a = TeacherPolicy(standard=load_standard("moe2017"))
    b = TeacherPolicy(standard=load_standard("moe2017"))
    assert a == b and hash(a) == hash(b)


def test_each_plan_states_its_money_as_its_headline_does(plans):
    budget_policy, budget = plans["budget"]
    # independently of the plan: each allocation's kind from the catalogue file
    cat = pd.read_csv(Path(allocator.__file__).parent / "data" / "catalogue.csv")
    kind = cat.set_index("intervention")
    alloc = budget.allocations
    posts = alloc["intervention"].map(kind["adds_teachers"].astype(str).str.lower() == "true")
    services = alloc["intervention"].map(kind["category"] == "recurrent") & ~posts
    figures = budget.yuan_figures(budget_policy)
    assert figures == {
        "capital_yuan": pytest.approx(alloc.loc[~posts & ~services, "cost"].sum()),
        "hiring_yuan_per_year": pytest.approx(alloc.loc[posts, "cost"].sum()),
        "running_change_yuan_per_year": pytest.approx(alloc.loc[services, "cost"].sum()),
    }
    assert sum(figures.values()) == pytest.approx(budget.headline()["spent_yuan"])
    _, mergers = plans["mergers"]
    head = mergers.headline()
    change = head["annual_cost_after_yuan"] - head["annual_cost_before_yuan"]
    assert mergers.yuan_figures() == {"running_change_yuan_per_year": pytest.approx(change)}
    teacher_policy, teachers = plans["teachers"]
    hiring = teachers.headline()["hires"] * teacher_policy.cost_per_hire_yuan
    assert teachers.yuan_figures(teacher_policy) == {"hiring_yuan_per_year": hiring}
    assert plans["districts"][1].yuan_figures() == {}
