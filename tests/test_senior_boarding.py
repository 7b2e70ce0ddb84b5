"""Existing boarding places in the senior model: free up to what a campus holds, bought beyond
it; the plan's boarding_yuan is what the model paid (rounded up per campus to whole places)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from allocator.errors import Infeasible, SolverError
from allocator.planners.senior import SeniorPolicy, plan_senior
from allocator.planners.senior.data import SITE_COLUMNS, SeniorData, senior_data
from allocator.planners.senior.model import county_model, solve_county
from allocator.planners.senior.tables import plan_tables
from allocator.planners.senior.verify import verify_tables
from allocator.solver import SolverOptions
from allocator.standards.senior import load_senior_standard
from allocator.synth import make_region

OPTIONS = SolverOptions(mip_gap=0.0)


def _data(near_pupils: int, beds_far: int, limit_near: float = np.nan) -> SeniorData:
    """One county: settlement S (100 pupils) 5 km from campus A (no boarding places, at most
    ``limit_near``) and 40 km from campus B (``beds_far`` boarding places); settlement T
    (``near_pupils``) 3 km from A only. Both campuses are general, open, 200 places, kept as
    they are."""
    needed = 100 + near_pupils
    req = pd.DataFrame({"cohort": [needed], "needed": [needed], "general_min": [0],
                        "general_max": [needed], "vocational_min": [0]}, index=["江县"])  # fmt: skip
    settlements = pd.DataFrame({"settlement_id": ["S", "T"], "county": ["江县"] * 2,
                                "node": ["s", "t"], "graduates": [100.0, float(near_pupils)],
                                "pupils": [100, near_pupils]})  # fmt: skip
    sites = pd.DataFrame(
        [("A", "甲中学", "江县", "a", "general", "open", 200, 0, limit_near),
         ("B", "乙中学", "江县", "b", "general", "open", 200, beds_far, np.nan)],
        columns=SITE_COLUMNS,
    )  # fmt: skip
    km = sp.csr_matrix(np.array([[5.0, 40.0], [3.0, 0.0]]))
    km.eliminate_zeros()  # T cannot reach B
    levels = pd.DataFrame({"site": [0, 1], "action": ["keep", "keep"], "kind": ["general"] * 2,
                           "places": [200, 200], "added": [0, 0], "cost_yuan": [0.0, 0.0]})  # fmt: skip
    return SeniorData(req, settlements, sites, km, levels, load_senior_standard(), "region")


def _plan(data):
    result = solve_county(data, "江县", SeniorPolicy(), OPTIONS)
    rows, cols, *_, level_rows = county_model(data, "江县")
    f = result.flows.tocoo()
    flows = list(zip(rows[f.row], cols[f.col], f.data, strict=True))
    tables = plan_tables(data, level_rows[result.levels], flows)
    verify_tables(tables, result.objective, 1.0)
    return result, tables["schools"].set_index("senior_id")


def test_a_campus_with_empty_dormitories_wins_over_a_nearer_one_without():
    # S at A: 5 yuan of km + 0.7 place * 25,000 = 17,505 a pupil; at B (40 km, boards): 40 yuan
    # and a place of B's 120 (free). Charging every place as new, B would cost 25,040 and lose.
    # T (50 pupils) can only go to A: 150 yuan of km and 35 places bought, 875,000 yuan.
    result, k = _plan(_data(50, 120))
    assert result.flows.toarray() == pytest.approx(np.array([[0.0, 100.0], [50.0, 0.0]]))
    assert result.objective == pytest.approx(100 * 40 + 50 * 3 + 35 * 25000)
    assert result.resource_bought.tolist() == pytest.approx([35.0, 0.0])
    assert k.loc["B", "boarding_added"] == 0 and k.loc["B", "boarding_after"] == 120
    assert k.loc["A", "boarding_added"] == 35
    # the plan's boarding yuan is the model's boarding cost (whole places here)
    assert k["boarding_yuan"].sum() == pytest.approx(result.resource_cost)
    assert result.resource_cost == pytest.approx(875_000.0)


def test_places_beyond_the_dormitories_are_bought_and_rounded_after_the_solve():
    # B holds 60 places: S's first 60 pupils there cost 40 yuan each, any more 25,040 (a place
    # bought), against 17,505 at A; so 60 go to B and 40 to A. A's pupils need 0.7 * (40 + 45)
    # = 59.5 places, all bought; the plan rounds them up to 60 after the solve.
    result, k = _plan(_data(45, 60))
    assert result.flows.toarray() == pytest.approx(np.array([[40.0, 60.0], [45.0, 0.0]]))
    assert result.resource_bought.tolist() == pytest.approx([59.5, 0.0])
    assert result.objective == pytest.approx(40 * 5 + 60 * 40 + 45 * 3 + 59.5 * 25000)
    assert k.loc["A", "boarding_added"] == 60 and k.loc["B", "boarding_added"] == 0
    assert k.loc["A", "boarding_yuan"] == 60 * 25000  # 31.5 + 28 rounded up to whole places
    assert k["boarding_yuan"].sum() - result.resource_cost == pytest.approx(0.5 * 25000)


def test_a_dormitory_limit_sends_the_boarders_it_cannot_hold_to_the_dearer_campus():
    # As above (B holds 60), but A may hold at most 50 boarding places. T's 45 pupils use 31.5
    # of them; the 18.5 left hold 18.5 / 0.7 of S's pupils at A (17,505 a pupil). The rest of
    # S goes to B: 60 on its free places, the others buying one each (25,040 a pupil).
    at_a = 18.5 / 0.7
    result, k = _plan(_data(45, 60, limit_near=50))
    assert result.flows.toarray() == pytest.approx(np.array([[at_a, 100 - at_a], [45.0, 0.0]]))
    bought_b = 100 - at_a - 60
    assert result.resource_bought.tolist() == pytest.approx([50.0, bought_b])
    assert result.objective == pytest.approx(
        5 * at_a + 40 * (100 - at_a) + 3 * 45 + (50 + bought_b) * 25000
    )
    assert k.loc["A", "boarding_after"] == 50 and k.loc["A", "boarding_capacity"] == 50
    assert k.loc["B", "boarding_added"] == math.ceil(bought_b)
    # a limit the plan does not reach changes nothing
    free, k_free = _plan(_data(45, 60, limit_near=60))
    assert free.objective == pytest.approx(40 * 5 + 60 * 40 + 45 * 3 + 59.5 * 25000)


def test_a_county_that_cannot_keep_within_its_dormitory_limits_is_explained():
    # T's 45 pupils can only go to A and need 31.5 boarding places there; A may hold 20. The
    # cheapest plan without the limit needs 59.5 places at A (rounded up: 60).
    with pytest.raises(Infeasible) as err:
        _plan(_data(45, 60, limit_near=20))
    text = str(err.value)
    assert "'江县'" in text and "boarding_capacity" in text
    assert "needs 60 boarding places" in text and "allow 20" in text


def test_every_school_keeps_within_its_dormitory_limit_in_a_synthetic_region():
    region = make_region(schools=40, seed=3, senior_schools=True)
    unlimited = plan_senior(region, SeniorPolicy())
    t = region.senior_schools
    need = unlimited.schools.set_index("senior_id")["boarding_needed"]
    # each existing school may hold 10 fewer boarders than the plan without limits gives it
    cap = np.maximum(t["boarding_places"], need.reindex(t["senior_id"]).fillna(0).to_numpy() - 10)
    limited = region.replace(senior_schools=t.assign(boarding_capacity=cap.astype(int)))
    plan = plan_senior(limited, SeniorPolicy())
    k = plan.schools.set_index("senior_id")
    mine = k.loc[t["senior_id"]]
    assert (mine["boarding_after"] <= mine["boarding_capacity"]).all()
    assert (mine["boarding_after"] < need.reindex(t["senior_id"]).fillna(0)).any()
    assert plan.objective_value >= unlimited.objective_value - 1e-6


def test_plan_boarding_yuan_is_the_models_boarding_cost_per_campus():
    region = make_region(schools=40, seed=3, senior_schools=True)
    policy = SeniorPolicy()
    plan = plan_senior(region, policy)
    data = senior_data(region, policy)
    k = plan.schools
    assert (k["boarding_before"] > 0).any()
    price = 25000.0
    for county in data.requirements.index:
        result = solve_county(data, county, policy, SolverOptions(mip_gap=policy.mip_gap))
        cols = county_model(data, county)[1]
        whole = [math.ceil(round(b, 6)) for b in result.resource_bought]
        assert k["boarding_yuan"].to_numpy()[cols].tolist() == [price * w for w in whole]
        assert k["boarding_yuan"].to_numpy()[cols].sum() >= result.resource_cost - 1e-6
        assert k["boarding_yuan"].to_numpy()[cols].sum() < result.resource_cost + price * len(cols)


def test_the_plan_check_refuses_boarders_beyond_a_limit():
    data = _data(45, 60, limit_near=50)
    result = solve_county(data, "江县", SeniorPolicy(), OPTIONS)
    rows, cols, *_, level_rows = county_model(data, "江县")
    f = result.flows.tocoo()
    tables = plan_tables(data, level_rows[result.levels],
                         list(zip(rows[f.row], cols[f.col], f.data, strict=True)))  # fmt: skip
    verify_tables(tables, result.objective, 1.0)  # A holds 50 boarders, its limit
    tables["schools"].loc[0, "boarding_capacity"] = 49
    with pytest.raises(
        SolverError, match="A has 50 boarding places, beyond its boarding_capacity of 49"
    ):
        verify_tables(tables, result.objective, 1.0)
