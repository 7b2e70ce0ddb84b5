"""The consolidation planner reads its norms from the standard: class sizes, school sizes and travel
limits left at None come from ``standard.class_size``, ``standard.school_size`` and
``standard.travel`` (with the policy's overrides, as a scenario's ``[standard] overrides`` give
them); an explicit policy value wins."""

from __future__ import annotations

import dataclasses
import pickle

import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.scenario import parse_scenario
from allocator.solver import SolverOptions
from allocator.synth import make_region

EXACT = SolverOptions(mip_gap=1e-9)
#: The numbers the planner used before it read the standard (moe2017 has the same).
OLD_DEFAULTS = {
    "lower_primary_minutes": 30.0,
    "upper_primary_minutes": 45.0,
    "junior_minutes": 60.0,
    "boarding_minutes": 90.0,
    "primary_class_size": 45,
    "junior_class_size": 50,
    "school_size": 2000,
    "nine_year_school_size": 2500,
}


def same_plan(a, b) -> None:
    """Two plans with equal tables and headline (but the solve time)."""
    for name, table in a.tables.items():
        if name == "counties":
            table = table.drop(columns="seconds")
            other = b.tables[name].drop(columns="seconds")
        else:
            other = b.tables[name]
        pd.testing.assert_frame_equal(table, other, obj=name)
    ha, hb = a.headline(), b.headline()
    ha.pop("seconds"), hb.pop("seconds")
    assert ha == hb


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, seed=3)


def test_defaults_are_the_standard_numbers_and_give_todays_plans(region):
    policy = MergerPolicy()
    assert {k: getattr(policy, k) for k in OLD_DEFAULTS} == OLD_DEFAULTS
    assert isinstance(policy.lower_primary_minutes, float)
    assert isinstance(policy.primary_class_size, int)
    assert policy == MergerPolicy(**OLD_DEFAULTS)
    assert [policy.size_cap(v) for v in ("primary", "teaching_point", "junior")] == [2000] * 3
    assert [policy.size_cap(v) for v in ("nine_year", "senior")] == [2500] * 2
    assert policy.lower_primary_guideline_minutes == 30.0
    same_plan(
        plan_mergers(region, policy, EXACT),
        plan_mergers(region, MergerPolicy(**OLD_DEFAULTS), EXACT),
    )


@pytest.mark.parametrize(
    "overrides, explicit",
    [
        pytest.param({"class_size": {"max": {"primary": 40}}}, {"primary_class_size": 40},
                     marks=pytest.mark.slow),
        pytest.param({"travel": {"upper_primary_minutes": 20}}, {"upper_primary_minutes": 20.0},
                     marks=pytest.mark.slow),
        ({"travel": {"junior_minutes": 20, "boarding_minutes": 70}},
         {"junior_minutes": 20.0, "boarding_minutes": 70.0}),
    ],
)  # fmt: skip
def test_a_standard_override_changes_the_plan_as_the_explicit_value_does(
    region, overrides, explicit
):
    by_standard = MergerPolicy(min_size=0, standard_overrides=overrides)
    by_value = MergerPolicy(min_size=0, **explicit)
    assert {k: getattr(by_standard, k) for k in explicit} == explicit
    assert by_standard.primary_class_size == by_value.primary_class_size
    plan = plan_mergers(region, by_standard, EXACT)
    same_plan(plan, plan_mergers(region, by_value, EXACT))
    default = plan_mergers(region, MergerPolicy(min_size=0), EXACT)
    assert plan.headline() != default.headline() or not plan.assignments.equals(default.assignments)


def test_a_lower_primary_limit_of_the_standard_sets_the_limit_and_the_guideline(region):
    policy = MergerPolicy(standard_overrides={"travel": {"lower_primary_minutes": 20}})
    assert policy.lower_primary_minutes == 20.0 and policy.lower_primary_guideline_minutes == 20.0
    plan = plan_mergers(region, policy, EXACT)
    same_plan(
        plan, plan_mergers(region, dataclasses.replace(policy, lower_primary_minutes=20.0), EXACT)
    )
    lower = plan.assignments[plan.assignments["band"] == "lower_primary"]
    beyond = plan.breaches[plan.breaches["band"] == "lower_primary"]["pupils"].sum()
    assert lower.loc[lower["minutes"] > 20 + 1e-9, "pupils"].sum() == beyond
    assert "grades 1-3 within 20 min" in plan.summary()
    # an explicit limit wins; the travel statistics still use the standard's guideline
    explicit = MergerPolicy(lower_primary_minutes=25.0)
    assert explicit.lower_primary_minutes == 25.0
    assert explicit.lower_primary_guideline_minutes == 30.0


def test_school_sizes_come_from_the_standard_per_level():
    policy = MergerPolicy(
        standard_overrides={"school_size": {"max_pupils": {"junior": 1500, "nine_year": 3000}}}
    )
    assert policy.size_cap("primary") == 2000 and policy.size_cap("junior") == 1500
    assert policy.nine_year_school_size == 3000 and policy.size_cap("nine_year") == 3000
    explicit = dataclasses.replace(policy, school_size=1800)
    assert [explicit.size_cap(v) for v in ("primary", "teaching_point", "junior")] == [1800] * 3


def test_replace_reads_the_norms_again_unless_given():
    policy = MergerPolicy(junior_class_size=48)
    other = dataclasses.replace(policy, standard_overrides={"class_size": {"max": {"primary": 40}}})
    assert other.primary_class_size == 40 and other.junior_class_size == 48
    back = dataclasses.replace(other, standard_overrides=None)
    assert back.primary_class_size == 45 and back.junior_class_size == 48
    assert pickle.loads(pickle.dumps(other)) == other


def test_a_bad_standard_or_override_is_refused_when_the_policy_is_made():
    with pytest.raises(InputError, match="class_size.max.primary"):
        MergerPolicy(standard_overrides={"class_size": {"max": {"primary": -1}}})
    with pytest.raises(InputError) as err:
        MergerPolicy(standard=3)
    assert err.value.column == "standard"


def test_scenario_standard_overrides_reach_the_merger_step(tmp_path):
    text = (
        "[region]\nschools = 20\n[standard]\nbase = 'moe2017'\n"
        "overrides = { class_size = { max = { primary = 40 } } }\n"
        "[[steps]]\nplanner = 'mergers'\n"
    )
    scenario = parse_scenario(text, tmp_path / "x.toml")
    params = scenario.steps[0].params
    assert params["standard"] == "moe2017"
    assert params["standard_overrides"] == {"class_size": {"max": {"primary": 40}}}
    assert MergerPolicy(**params).primary_class_size == 40
