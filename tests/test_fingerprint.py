"""Plans refuse every region but the one they were made for (issue: a budget plan applied twice
spent twice; a plan applied to another region with the same ids succeeded silently)."""

import pytest

from allocator import InputError
from allocator.fingerprint import region_fingerprint
from allocator.planners.budget import BudgetPolicy, plan_budget
from allocator.planners.districts import DistrictPolicy, plan_districts
from allocator.planners.mergers import plan_mergers
from allocator.planners.teachers import plan_teachers
from allocator.synth import make_region


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, seed=3)


@pytest.fixture(scope="module")
def other(region):
    """The same ids, one school with one more square metre of floor area."""
    schools = region.schools.copy()
    schools.loc[0, "floor_area_m2"] += 1.0
    return region.replace(schools=schools)


def test_fingerprint_follows_content_not_identity(region, other):
    twin = make_region(schools=40, seed=3)
    assert twin is not region
    assert region_fingerprint(twin) == region_fingerprint(region)
    assert region_fingerprint(other) != region_fingerprint(region)
    renamed = region.replace(name="another name")
    assert region_fingerprint(renamed) == region_fingerprint(region)


def test_fingerprint_sees_the_roads(region):
    import networkx as nx

    roads = nx.Graph(region.roads)
    u, v, data = next(iter(roads.edges(data=True)))
    roads[u][v]["minutes"] = data["minutes"] * 2
    slower = region.replace(roads=roads)
    assert region_fingerprint(slower) != region_fingerprint(region)


PLANNERS = {
    "budget": lambda r: plan_budget(r, BudgetPolicy(budget=2e6)),
    "districts": lambda r: plan_districts(r, DistrictPolicy(method="heuristic", starts=1)),
    "mergers": plan_mergers,
    "teachers": plan_teachers,
}


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_apply_refuses_another_region_and_a_second_application(name, region, other):
    plan = PLANNERS[name](region)
    after = plan.apply(region)
    assert after is not region
    # The twin region (same content, another object) is the same region.
    plan.apply(make_region(schools=40, seed=3))
    with pytest.raises(InputError, match="made for another region"):
        plan.apply(other)
    if region_fingerprint(after) != region_fingerprint(region):
        with pytest.raises(InputError, match="made for another region"):
            plan.apply(after)


def test_budget_plan_applied_twice_would_spend_twice_and_is_refused(region):
    plan = plan_budget(region, BudgetPolicy(budget=2e6))
    assert plan.spent > 0
    after = plan.apply(region)
    with pytest.raises(InputError) as info:
        plan.apply(after)
    assert "\n" not in str(info.value)
