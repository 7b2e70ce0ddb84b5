"""The joint minimax plan over years when a school's pupils grow: the unavoidable shortfall of a
year is measured against the unit caps of everything bought up to that year, as the model plans
it, not against fresh caps on top of what earlier purchases added."""

import pytest
from test_budget_years import by_school, two_schools

from allocator.planners.budget import BudgetPolicy, plan_budget

# build_floor_area may add at most 3 m2 per compulsory pupil (allocator/data/catalogue.csv,
# max_per_pupil), typed in here; the primary threshold is 4.5 m2 a pupil (2017 standard) and a
# rural m2 costs 3,200 yuan.


def growing_school(annual_budgets):
    """School A, rich in everything for 400 pupils but floor area: 450 m2 for 100 pupils in
    2026 (4.5 each, at the threshold) and 400 pupils in 2027, who need 1,800 m2. Over the two
    years at most 3 * 400 = 1,200 m2 may be bought, so 1,650 m2 is the most A can reach and
    150 / 1,800 of the threshold is short whatever is bought (unavoidable)."""
    region, a = two_schools(pupils_sized_for=400)
    region = region.replace(schools=region.schools.assign(
        floor_area_m2=region.schools["floor_area_m2"].where(region.schools["school_id"] != a, 450.0)
    ))  # fmt: skip
    spec = dict(
        years=(2026, 2027),
        forecast=by_school(a, {2026: 100, 2027: 400}),
        annual_budgets=annual_budgets,
    )
    return region, a, spec


@pytest.mark.parametrize("objective", ["minimax", "lexicographic"])
def test_a_growing_school_short_of_money_is_judged_against_the_caps_of_both_years(objective):
    """2,000,000 yuan in 2027 buys 625 m2: A has 1,075 m2 for 400 pupils, short 725 / 1,800 of
    which 150 / 1,800 is unavoidable, so the weakest school-year is 575 / 1,800. (Measured with
    the caps starting again from the 1,075 m2 held, A could reach 2,275 m2 and the whole 725 /
    1,800 would count as avoidable: the plan failed verification.)"""
    region, a, spec = growing_school([0.0, 2_000_000.0])
    plan = plan_budget(region, BudgetPolicy(budget=0, objective=objective), **spec)
    assert plan.method == "joint" and plan.solve_info.status == "optimal"
    assert plan.solve_info.objective == pytest.approx(575 / 1800, rel=1e-4)
    got = plan.purchases.set_index(["year", "school_id", "intervention"])["units"].to_dict()
    assert got == {(2027, a, "build_floor_area"): pytest.approx(625, rel=1e-4)}
    floor = plan.region_in(2027).schools.set_index("school_id").loc[a, "floor_area_m2"]
    assert floor == pytest.approx(1075, rel=1e-4)
    assert plan.verify().empty


def test_a_growing_school_bought_up_to_its_cap_leaves_nothing_avoidable():
    """Money enough: the minimax plan buys the whole 1,200 m2 A may have by 2027 (3,840,000
    yuan, some of it in 2026 at most 300 m2) and A is left short only the unavoidable 150 /
    1,800: the weakest school-year is 0."""
    region, a, spec = growing_school([3_000_000.0, 3_000_000.0])
    plan = plan_budget(region, BudgetPolicy(budget=0, objective="minimax"), **spec)
    assert plan.solve_info.objective == pytest.approx(0.0, abs=1e-6)
    bought = plan.purchases
    floor = bought[(bought["school_id"] == a) & (bought["intervention"] == "build_floor_area")]
    assert floor["units"].sum() == pytest.approx(1200, rel=1e-5)
    assert floor.loc[floor["year"] == 2026, "units"].sum() <= 300 + 1e-6
    assert plan.verify().empty
