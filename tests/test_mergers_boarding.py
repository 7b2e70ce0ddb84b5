"""School consolidation with boarding places: hand-made regions where the dormitories decide where
boarders go, the rule for schools already over their places, nine-year conversions, an infeasible
case, input errors, and the plan of today when no school has a limit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_mergers import region_of, school, settlement

from allocator.errors import Infeasible, InputError
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.solver import SolverOptions
from allocator.synth import make_region

EXACT = SolverOptions(mip_gap=1e-9)


def junior_town(jb_places=np.nan, jc_places=np.nan):
    """A small junior school JS at S (30 pupils from three villages at S of 12, 10 and 8 pupils)
    and two large junior schools JB at B and JC at C (300 pupils each, from their own village),
    70 and 80 minutes from S: beyond the 60-minute day limit, so JS's pupils would board."""
    schools = [
        school("JS", "S", "junior", jr=30, capacity=60, classes=2, boarding_places=np.nan),
        school("JB", "B", "junior", jr=300, capacity=600, classes=10, boarding_places=jb_places),
        school("JC", "C", "junior", jr=300, capacity=600, classes=10, boarding_places=jc_places),
    ]
    settlements = [
        settlement("V1", "S", jr=12),
        settlement("V2", "S", jr=10),
        settlement("V3", "S", jr=8),
        settlement("VB", "B", jr=300),
        settlement("VC", "C", jr=300),
    ]
    return region_of(schools, settlements, [("S", "B", 70), ("S", "C", 80)])


def assigned(plan, settlement_id):
    row = plan.assignments.query("settlement_id == @settlement_id")
    return row[["school_id", "pupils", "boarding"]].values.tolist()


def test_boarding_places_send_the_other_boarders_elsewhere():
    # Closing JS saves its site (300,000) and its funding floor (70 missing pupils x 600 = 42,000).
    # A boarder at JB costs 200 + 3,000 + 70 min x 100 x 0.2 = 4,600 a year, at JC 4,800.
    # No limit: all 30 board at JB, 30 x 4,600 = 138,000; after = 2 sites 600,000 + 138,000.
    plan = plan_mergers(junior_town(), MergerPolicy(), EXACT)
    assert plan.closures[["school_id", "receiving_school_id"]].values.tolist() == [["JS", "JB"]]
    for v, n in (("V1", 12), ("V2", 10), ("V3", 8)):
        assert assigned(plan, v) == [["JB", n, True]]
    assert plan.solve_info.objective == pytest.approx(738_000)
    jb = plan.schools.set_index("school_id").loc["JB"]
    assert jb["boarders_after"] == 30 and np.isnan(jb["boarding_places"])
    assert np.isnan(jb["boarding_limit"]) and jb["boarders_before"] == 0
    assert "boarding limit" not in plan.summary()

    # 20 places at JB: the villages of 12 and 8 fill them (20 x 4,600 = 92,000), the village of
    # 10 boards at JC (10 x 4,800 = 48,000); any other choice puts fewer pupils at JB and costs
    # 200 more per pupil. After = 600,000 + 140,000; still cheaper than keeping JS (942,000).
    plan = plan_mergers(junior_town(jb_places=20), MergerPolicy(), EXACT)
    assert assigned(plan, "V1") == [["JB", 12, True]]
    assert assigned(plan, "V2") == [["JC", 10, True]]
    assert assigned(plan, "V3") == [["JB", 8, True]]
    assert plan.solve_info.objective == pytest.approx(740_000)
    costs = plan.costs.set_index("item")
    assert costs.loc["boarding", "after"] == pytest.approx(30 * 3_200)
    assert costs.loc["transport", "after"] == pytest.approx((20 * 70 + 10 * 80) * 100 * 0.2)
    table = plan.schools.set_index("school_id")
    assert table.loc["JB", ["boarders_after", "boarding_places", "boarding_limit"]].tolist() == [
        20,
        20.0,
        20.0,
    ]
    assert table.loc["JC", "boarders_after"] == 10 and np.isnan(table.loc["JC", "boarding_limit"])
    assert "at the boarding limit (1 school, boarders/places): JB 20/20" in plan.summary()

    # No places anywhere: nobody can board, so JS stays open and the plan is today's (942,000).
    plan = plan_mergers(junior_town(jb_places=0, jc_places=0), MergerPolicy(), EXACT)
    assert plan.closures.empty
    assert assigned(plan, "V2") == [["JS", 10, False]]
    assert plan.solve_info.objective == pytest.approx(942_000)
    assert plan.costs.set_index("item").loc["total", "before"] == pytest.approx(942_000)
    assert "boarding limit" not in plan.summary()  # zero places: no dormitory to be full


def over_full_region(jb_places):
    """JB at B (300 day pupils of VB) and 40 boarders today from VF, 70 minutes away; a small
    junior school JS at S (30 pupils of VS), 70 minutes from B."""
    schools = [
        school("JB", "B", "junior", jr=340, capacity=700, classes=10, boarding_places=jb_places),
        school("JS", "S", "junior", jr=30, capacity=60, classes=2),
    ]
    settlements = [
        settlement("VB", "B", jr=300),
        settlement("VF", "F", jr=40),
        settlement("VS", "S", jr=30),
    ]
    return region_of(schools, settlements, [("B", "F", 70), ("B", "S", 70)])


def test_a_school_over_its_places_today_is_not_made_worse():
    # Today VF's 40 board at JB (4,600 each = 184,000); sites 600,000; JS's floor 42,000.
    before = 600_000 + 184_000 + 42_000
    # No limit: JS closes and its 30 board at JB too: 300,000 + 70 x 4,600 = 622,000.
    plan = plan_mergers(over_full_region(np.nan), MergerPolicy(), EXACT)
    assert plan.closures["school_id"].tolist() == ["JS"]
    assert plan.solve_info.objective == pytest.approx(300_000 + 70 * 4_600)
    # 10 places but 40 boarders today: the 40 may stay (the plan is feasible), JS's 30 may not
    # join them, so JS stays open and nothing changes.
    plan = plan_mergers(over_full_region(10), MergerPolicy(), EXACT)
    assert plan.closures.empty
    assert assigned(plan, "VF") == [["JB", 40, True]]
    assert plan.solve_info.objective == pytest.approx(before)
    costs = plan.costs.set_index("item")
    assert costs.loc["total", "before"] == pytest.approx(before)
    jb = plan.schools.set_index("school_id").loc["JB"]
    assert jb[
        ["boarders_before", "boarders_after", "boarding_places", "boarding_limit"]
    ].tolist() == [
        40,
        40,
        10.0,
        40.0,
    ]
    assert "JB 40/10 (40 board there today)" in plan.summary()
    # 70 places: room for both
    plan = plan_mergers(over_full_region(70), MergerPolicy(), EXACT)
    assert plan.closures["school_id"].tolist() == ["JS"]


def test_nine_year_conversion_adds_the_absorbed_schools_places():
    # P and J share site A; VF, 70 minutes away, has 20 grade 4-6 pupils boarding at P today and
    # 40 grade 7-9 pupils boarding at J. With 20 and 40 places the nine-year school has 60 places
    # for its 60 boarders, so the conversion (saving one site) stays possible.
    schools = [
        school("P", "A", lp=75, up=95, capacity=400, classes=8, boarding_places=20),
        school("J", "A", "junior", jr=190, capacity=400, classes=5, boarding_places=40),
    ]
    settlements = [settlement("V", "A", lp=75, up=75, jr=150), settlement("VF", "F", up=20, jr=40)]
    region = region_of(schools, settlements, [("A", "F", 70)])
    plan = plan_mergers(region, MergerPolicy(), EXACT)
    assert plan.closures["reason"].tolist() == ["nine_year"]
    host = plan.closures.loc[0, "receiving_school_id"]
    row = plan.schools.set_index("school_id").loc[host]
    assert row[["boarders_after", "boarding_places", "boarding_limit"]].tolist() == [60, 60, 60]
    after = plan.apply(region).schools.set_index("school_id")
    assert after.loc[host, "boarding_places"] == 60


def test_no_places_for_pupils_who_can_only_board_is_infeasible():
    # VA is 70 minutes from JA (where its 40 board today) and 80 from JB; VB is at B, 150 minutes
    # from JA, so JB must stay open. With one school allowed JA closes and VA's 40 would have to
    # board at JB, which has no places.
    schools = [
        school("JA", "A", "junior", jr=40, capacity=100, classes=2, boarding_places=0),
        school("JB", "B", "junior", jr=100, capacity=300, classes=4, boarding_places=0),
    ]
    settlements = [settlement("VA", "X", jr=40), settlement("VB", "B", jr=100)]
    region = region_of(schools, settlements, [("X", "A", 70), ("X", "B", 80)])
    policy = MergerPolicy(max_schools={"county": 1}, on_infeasible="error")
    with pytest.raises(Infeasible) as err:
        plan_mergers(region, policy, EXACT)
    message = str(err.value)
    assert "boarding places of JB: 40 boarders more than its 0 places" in message
    assert "boarding_places" in message
    assert err.value.violations["boarding JB"] == pytest.approx(40)
    # with 40 places at JB the same policy closes JA
    region = region.replace(schools=region.schools.assign(boarding_places=[0, 40]))
    plan = plan_mergers(region, policy, EXACT)
    assert plan.closures["school_id"].tolist() == ["JA"]
    assert assigned(plan, "VA") == [["JB", 40, True]]


def test_candidate_site_places_limit_its_boarders():
    # A new junior site at B that costs nothing (no funding floor either) with 20 places, JB with
    # none: the villages of 12 and 8 board at the new site (20 x 4,600), the village of 10 at JC
    # (4,800); without the site all 30 would board at JC (144,000 instead of 140,000).
    region = junior_town(jb_places=0)
    site = {
        "site_id": "NEW", "county": "county", "township": "T1", "node": "B", "x": 0.0,
        "y": 0.0, "level": "junior", "capacity": 100, "annual_cost": 0.0, "build_cost": 0.0,
    }  # fmt: skip
    sites = pd.DataFrame([{**site, "boarding_places": 20}])
    policy = MergerPolicy(candidate_sites=sites, funding_floor_pupils=0)
    assert policy.candidate_sites[0].boarding_places == 20
    plan = plan_mergers(region, policy, EXACT)
    assert assigned(plan, "V1") == [["NEW", 12, True]]
    assert assigned(plan, "V2") == [["JC", 10, True]]
    assert assigned(plan, "V3") == [["NEW", 8, True]]
    assert plan.solve_info.objective == pytest.approx(600_000 + 20 * 4_600 + 10 * 4_800)
    assert plan.openings[["site_id", "boarders", "boarding_places"]].values.tolist() == [
        ["NEW", 20, 20.0]
    ]
    after = plan.apply(region).schools.set_index("school_id")
    assert after.loc["NEW", "boarding_places"] == 20
    empty = MergerPolicy(candidate_sites=pd.DataFrame([{**site, "boarding_places": np.nan}]))
    assert empty.candidate_sites[0].boarding_places is None
    assert empty == MergerPolicy(candidate_sites=pd.DataFrame([site]))


# ----------------------------------------------------------------------------- input
@pytest.mark.parametrize(
    "value, words", [(-5, "is negative"), ("many", "is not numeric"), ("-1", "is negative")]
)
def test_bad_boarding_places_name_the_school(value, words):
    region = junior_town()
    places = region.schools["boarding_places"].astype(object).copy()
    places.iloc[1] = value
    region = region.replace(schools=region.schools.assign(boarding_places=places))
    with pytest.raises(InputError) as err:
        plan_mergers(region, MergerPolicy(), EXACT)
    e = err.value
    assert (e.table, e.row_id, e.column, e.value) == ("schools", "JB", "boarding_places", value)
    assert words in str(e) and "empty cell for no limit" in str(e)


def test_bad_candidate_boarding_places_name_the_site():
    site = {
        "site_id": "NEW", "county": "county", "township": "T1", "node": "B", "x": 0.0,
        "y": 0.0, "level": "junior", "capacity": 100, "annual_cost": 0.0, "build_cost": 0.0,
        "boarding_places": -3,
    }  # fmt: skip
    with pytest.raises(InputError) as err:
        MergerPolicy(candidate_sites=pd.DataFrame([site]))
    e = err.value
    assert (e.table, e.row_id, e.column, e.value) == (
        "candidate_sites",
        "NEW",
        "boarding_places",
        -3,
    )


def test_no_limits_give_the_plan_of_today():
    region = make_region(schools=40, seed=3)
    plain = plan_mergers(region)
    open_ = plain.schools["status"] != "closed"
    assert plain.schools.loc[open_, "boarding_limit"].isna().all()
    assert (plain.schools.loc[~open_, "boarding_limit"] == 0).all()
    for value in (np.nan, 1e9):
        other = plan_mergers(region.replace(schools=region.schools.assign(boarding_places=value)))
        for name, table in plain.tables.items():
            if name == "counties":  # holds the solve time
                continue
            mine = other.tables[name]
            if name == "schools" and value == 1e9:  # the places themselves are reported
                assert (mine["boarding_places"] >= 1e9).all()  # a nine-year host: 2e9
                mine = mine.assign(
                    boarding_places=np.nan, boarding_limit=table["boarding_limit"].to_numpy()
                )
            pd.testing.assert_frame_equal(table, mine, obj=name)
        assert other.solve_info.objective == plain.solve_info.objective
        assert other.counties["rows"].tolist() == plain.counties["rows"].tolist()
