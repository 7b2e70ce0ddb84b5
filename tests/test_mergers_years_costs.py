"""Costs of a consolidation plan over years, each counted once in the year it falls: a new site's
build cost and an extension's seats as capital in their year, discounted, less what is left of
them at the end of the horizon; computed by hand on three schools and a candidate site."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.planners.mergers.years_costs import capital_steps, year_factors
from allocator.solver import SolverOptions
from allocator.synth import make_region
from tests.test_mergers_years import forecast_of, region_of, school, settlement

EXACT = SolverOptions(mip_gap=1e-9)
SITE = {
    "site_id": "S", "county": "county", "township": "T1", "node": "N2", "x": 2.0, "y": 0.0,
    "level": "primary", "capacity": 200, "annual_cost": 100_000, "build_cost": 1_000_000,
}  # fmt: skip


@pytest.fixture(scope="module")
def two_years():
    """A (300 pupils, 320 seats, 8 classrooms) and B (10 min away; its village 120 pupils in
    2026, 90 in 2027) and C, 60 min away with its village of 30, where site S could replace it.
    S replaces C in 2026; B closes in 2027 (below min_size) and A adds two classrooms then."""
    region = region_of(
        [school("A", "N0", lp=300, capacity=320, classes=8), school("B", "N1", lp=120),
         school("C", "N2", lp=30)],
        [settlement("VA", "N0", 300), settlement("VB", "N1", 120), settlement("VC", "N2", 30)],
        [("N0", "N1", 10), ("N1", "N2", 60)],
    )  # fmt: skip
    table = forecast_of({("VA", 2026): 300, ("VA", 2027): 300, ("VB", 2026): 120,
                         ("VB", 2027): 90, ("VC", 2026): 30, ("VC", 2027): 30})  # fmt: skip
    policy = MergerPolicy(
        min_size=100, allow_nine_year=False, candidate_sites=pd.DataFrame([SITE]),
        expansion_build_yuan_per_seat=10_000.0,
    )  # fmt: skip
    return plan_mergers(region, policy, EXACT, years=(2026, 2027), forecast=table)


def test_each_cost_once_in_its_year_by_hand(two_years):
    plan = two_years
    t = plan.timeline
    acts = t[t["action"].isin(["close", "open", "extend"])]
    assert sorted(acts[["year", "school_id", "action"]].values.tolist()) == [
        [2026, "C", "close"], [2026, "S", "open"], [2027, "A", "extend"], [2027, "B", "close"],
    ]  # fmt: skip
    # 2026: sites A, B (300,000 each) and S (annual 100,000); S tops up 70 pupils to the floor
    # of 100 at 600 yuan; nobody rides. 2027: A and S; B's 90 pupils ride 10 min at 100 yuan.
    recurrent = {2026: 700_000 + 70 * 600, 2027: 400_000 + 70 * 600 + 90 * 10 * 100}
    # capital: S's 1,000,000 in 2026; two classrooms of 45 seats at 10,000 yuan in 2027
    capital = {2026: 1_000_000, 2027: 90 * 10_000}
    # left at the end of 2027: S 28/30 of its 30-year life, the seats 19/20 of 20 years
    residual = 1_000_000 * 28 / 30 + 900_000 * 19 / 20
    expected = (
        recurrent[2026] + capital[2026] + (recurrent[2027] + capital[2027]) / 1.08
        - residual / 1.08**2
    )  # fmt: skip
    assert plan.solve_info.objective == pytest.approx(expected, rel=1e-9)
    costs = plan.costs
    assert costs["recurrent_yuan"].tolist() == pytest.approx([recurrent[2026], recurrent[2027]])
    assert costs["capital_yuan"].tolist() == pytest.approx([capital[2026], capital[2027]])
    assert costs["residual_yuan"].tolist() == pytest.approx([0.0, residual])
    assert plan.verify().empty


def test_capital_steps_telescope_to_the_cost_of_each_build():
    """A build in year t costs D_t - D_end r_t; a cumulative quantity's coefficients add up to it."""
    years, rate, life = (2026, 2027, 2029), 0.08, 7.0
    steps = capital_steps(years, rate, life)
    d = year_factors(years, rate)
    end = 1.08 ** -(2030 - 2026)
    for t, year in enumerate(years):
        built = np.zeros(3)
        built[t:] = 1.0  # built in year t, there ever after
        own = d[t] - end * max(0.0, 1 - (2030 - year) / life)
        assert float(steps @ built) == pytest.approx(own)


def test_headline_apply_and_tables_like_a_one_year_plan(two_years):
    plan = two_years
    h = plan.headline()
    assert list(h)[:4] == ["status", "gap", "seconds", "objective"]
    assert h["objective"] == plan.solve_info.objective
    # C and B close, S opens: 3 schools, less 2, plus 1
    assert (h["schools_before"], h["schools_closed"], h["new_schools_built"]) == (3, 2, 1)
    assert h["schools_after"] == 2 and h["expansion_seats"] == 90
    assert h["capital_yuan"] == pytest.approx(1_900_000)
    region = plan.regions[2026]
    after = plan.apply(region)
    assert sorted(after.schools["school_id"]) == ["A", "S"]
    assert int(after.schools.set_index("school_id").loc["A", "capacity"]) == 410
    other = make_region(schools=10, seed=1)
    with pytest.raises(InputError):
        plan.apply(other)
    tables = plan.tables
    assert {"timeline", "counties", "costs", "assignments_2027"} <= set(tables)
    tables["costs"].loc[0, "capital_yuan"] = -1.0  # a copy: the plan keeps its own
    assert plan.costs.loc[0, "capital_yuan"] == pytest.approx(1_000_000)
