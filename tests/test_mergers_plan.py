"""The merger plan follows the plan protocol (frozen, headline keys first, tables as copies, apply
guarded) and the merger policy is immutable and hashable."""

from __future__ import annotations

import dataclasses
import pickle

import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.planners.base import HEADLINE_KEYS, PlanBase
from allocator.planners.mergers import MergerPlan, MergerPolicy, plan_mergers
from allocator.synth import make_region


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, seed=3)


@pytest.fixture(scope="module")
def plan(region):
    return plan_mergers(region)


def test_plan_is_a_frozen_plan_base_with_the_common_headline(plan):
    assert isinstance(plan, PlanBase) and isinstance(plan, MergerPlan)
    head = plan.headline()
    assert tuple(head)[: len(HEADLINE_KEYS)] == HEADLINE_KEYS
    assert head["objective"] == pytest.approx(plan.solve_info.objective)
    assert head["status"] == plan.solve_info.status
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.closures = pd.DataFrame()


def test_tables_are_copies(plan):
    tables = plan.tables
    assert set(tables) >= {"closures", "assignments", "schools", "costs", "travel", "breaches"}
    tables["assignments"]["pupils"] = 0
    tables["costs"].loc[:, "after"] = -1.0
    assert plan.assignments["pupils"].sum() > 0 and (plan.costs["after"] >= 0).all()


def test_apply_refuses_another_region(plan):
    other = make_region(schools=40, seed=4)
    with pytest.raises(InputError, match="merger plan"):
        plan.apply(other)


def test_policy_is_immutable_and_hashable():
    sites = pd.DataFrame(
        [{"site_id": "NEW1", "county": "C00", "township": "T01", "node": "n12", "x": 3.0,
          "y": 4.0, "level": "nine_year", "capacity": 900, "annual_cost": 400_000,
          "build_cost": 30_000_000}]
    )  # fmt: skip
    policy = MergerPolicy(
        max_schools={"C00": 3},
        must_keep=["S1"],
        candidate_sites=sites,
        standard_overrides={"travel": {"junior_minutes": 50}},
    )
    assert isinstance(policy.candidate_sites, tuple) and isinstance(policy.must_keep, tuple)
    with pytest.raises(TypeError):
        policy.max_schools["C00"] = 4
    with pytest.raises(TypeError):
        policy.standard_overrides["travel"] = {}
    same = MergerPolicy(
        max_schools={"C00": 3},
        must_keep=("S1",),
        candidate_sites=sites.copy(),
        standard_overrides={"travel": {"junior_minutes": 50}},
    )
    assert policy == same and hash(policy) == hash(same)
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert policy.junior_minutes == 50.0
