"""The training planner: seats, one place a teacher a year, money, backbone priority, calendar."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allocator
from allocator.errors import InputError
from allocator.planners.registry import get_planner
from allocator.planners.training import TrainingPolicy, load_programmes, plan_training
from allocator.synth import make_region

BACKBONE_ONLY = [
    {"programme": "bb", "level": "provincial", "seats": 3, "hours": 100, "cost_per_place": 1000,
     "backbone": True},
]  # fmt: skip
COUNTY_ONLY = [
    {"programme": "county", "level": "county", "seats": 5, "hours": 72, "cost_per_place": 100,
     "backbone": False},
]  # fmt: skip


def _hand_region(rows: dict):
    """A synthetic region whose schools are all done (every teacher a backbone teacher, 360
    hours each), except the primary schools given in ``rows`` (first ones, by position)."""
    region = make_region(schools=16, seed=1)
    s = region.schools.copy()
    s["teachers_backbone"] = s["teachers"]
    s["teacher_training_hours"] = s["teachers"] * 360
    primaries = list(np.flatnonzero((s["level"] == "primary").to_numpy()))
    ids = []
    for pos, values in zip(primaries, rows.values(), strict=False):
        for column, value in values.items():
            s.iloc[pos, s.columns.get_loc(column)] = value
        ids.append(s["school_id"].iloc[pos])
    for column in ("teachers_qualified", "teachers_pe_arts", "teachers_backbone"):
        s[column] = np.minimum(s[column], s["teachers"])
    return region.replace(schools=s), dict(zip(rows, ids, strict=False))


def _places(plan, school_id, year=None):
    cal = plan.calendar
    mask = cal["school_id"] == school_id
    if year is not None:
        mask &= cal["year"] == year
    return int(cal.loc[mask, "places"].sum())


def test_backbone_places_water_fill_by_hand():
    # A: 300 pupils -> 3 backbone teachers required, has 0; B: 400 -> 4, has 2 (ratio 0.5).
    # 3 seats a year: A (0) -> A (1/3) -> A (2/3 > 1/2, so B next) -> B; year 2: A 2/3 -> 3/3,
    # B 3/4 -> 4/4, one seat unused.
    common = {"teachers": 20, "teacher_training_hours": 20 * 360, "pupils_junior": 0}
    region, ids = _hand_region(
        {
            "A": {**common, "pupils_lower_primary": 150, "pupils_upper_primary": 150,
                  "teachers_backbone": 0},
            "B": {**common, "pupils_lower_primary": 200, "pupils_upper_primary": 200,
                  "teachers_backbone": 2},
        }
    )  # fmt: skip
    plan = plan_training(region, TrainingPolicy(horizon=2, programmes=BACKBONE_ONLY))
    assert (_places(plan, ids["A"], 1), _places(plan, ids["B"], 1)) == (2, 1)
    assert (_places(plan, ids["A"], 2), _places(plan, ids["B"], 2)) == (1, 1)
    assert plan.years["places"].tolist() == [0, 3, 2]
    assert plan.years["cost"].tolist() == [0.0, 3000.0, 2000.0]
    schools = plan.schools.set_index("school_id")
    assert schools.loc[ids["A"], "backbone_required"] == 3
    assert (
        schools.loc[ids["A"], "backbone_year"] == 2 and schools.loc[ids["B"], "backbone_year"] == 2
    )
    after = plan.apply(region).schools.set_index("school_id")
    assert after.loc[ids["A"], "teachers_backbone"] == 3
    assert after.loc[ids["B"], "teacher_training_hours"] == 20 * 360 + 200


def test_hours_places_by_hand():
    # C: 10 teachers, no hours; year 1 of the cycle, one year: on track = 72 h a teacher = 720.
    # D: 5 teachers, 30 hours short (6 a teacher). 5 seats: all to C (its shortfall a teacher stays
    # above D's); with 100 seats C takes one place a teacher (10) and D one.
    region, ids = _hand_region(
        {
            "C": {"teachers": 10, "teachers_backbone": 10, "teacher_training_hours": 0},
            "D": {"teachers": 5, "teachers_backbone": 5, "teacher_training_hours": 5 * 72 - 30},
        }
    )
    few = plan_training(region, TrainingPolicy(horizon=1, programmes=COUNTY_ONLY))
    assert (_places(few, ids["C"]), _places(few, ids["D"])) == (5, 0)
    many = [{**COUNTY_ONLY[0], "seats": 100}]
    plan = plan_training(region, TrainingPolicy(horizon=1, programmes=many))
    assert (_places(plan, ids["C"]), _places(plan, ids["D"])) == (10, 1)
    assert plan.headline()["schools_on_track_after"] == len(plan.schools)
    poor = plan_training(region, TrainingPolicy(horizon=1, programmes=many, budget_per_year=250))
    assert poor.years["places"].tolist() == [0, 2] and poor.years["cost"].iloc[-1] == 200.0


def test_required_backbone_is_what_check_needs():
    region = make_region(schools=60, seed=8)
    plan = plan_training(region, TrainingPolicy(horizon=5))
    schools = plan.schools.set_index("school_id")
    needy = schools[schools["backbone_required"] > 0]
    s = region.schools.set_index("school_id")
    for offset, expect in ((0, True), (-1, False)):
        s2 = s.copy()
        s2.loc[needy.index, "teachers_backbone"] = needy["backbone_required"] + offset
        s2.loc[needy.index, "teachers"] = np.maximum(s2.loc[needy.index, "teachers"],
                                                     needy["backbone_required"])  # fmt: skip
        table = allocator.check(region.replace(schools=s2.reset_index())).tables["schools"]
        table = table[table["school_id"].isin(needy.index) & table["in_scope"].astype(bool)]
        met = table.groupby("school_id")["backbone_per_100_met"].agg(lambda v: bool(v.all()))
        assert met.all() if expect else not met.any()


@st.composite
def _cases(draw):
    seed = draw(st.integers(0, 40))
    seats = {
        "national_backbone": draw(st.integers(0, 15)),
        "provincial_backbone": draw(st.integers(0, 30)),
        "county_cycle": draw(st.integers(0, 300)),
        "online_platform": draw(st.integers(0, 400)),
    }
    budget = draw(st.one_of(st.none(), st.floats(0, 3e5)))
    cycle_year = draw(st.integers(1, 5))
    horizon = draw(st.integers(1, 6 - cycle_year))
    policy = TrainingPolicy(horizon=horizon, cycle_year=cycle_year, seats=seats,
                            budget_per_year=budget)  # fmt: skip
    return make_region(schools=20, seed=seed), policy


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_invariants(case):
    region, policy = case
    plan = plan_training(region, policy)
    cal, schools = plan.calendar, plan.schools.set_index("school_id")
    progs = policy.programme_table().set_index("programme")
    # seats never exceeded, money kept
    by_prog = cal.groupby(["year", "programme"])["places"].sum()
    for (_, prog), n in by_prog.items():
        assert n <= progs.loc[prog, "seats"]
    if policy.budget_per_year is not None:
        assert (cal.groupby("year")["cost"].sum() <= policy.budget_per_year + 1e-6).all()
    # one place a teacher a year: each teacher's hours counted once
    taken = cal.groupby(["year", "school_id"])["places"].sum()
    teachers = schools["teachers"]
    assert (taken.to_numpy() <= teachers.reindex(taken.index.get_level_values(1)).to_numpy()).all()
    assert (
        cal["hours"] == cal["places"] * progs["hours"].reindex(cal["programme"]).to_numpy()
    ).all()
    before = region.schools.set_index("school_id")
    after = plan.apply(region).schools.set_index("school_id")
    gained = (after["teacher_training_hours"] - before["teacher_training_hours"]).reindex(
        schools.index
    )
    assert np.allclose(
        gained, cal.groupby("school_id")["hours"].sum().reindex(schools.index, fill_value=0)
    )
    bb_places = cal[cal["backbone"]].groupby("school_id")["places"].sum()
    added = (after["teachers_backbone"] - before["teachers_backbone"]).reindex(schools.index)
    assert (added == bb_places.reindex(schools.index, fill_value=0)).all()
    assert (after["teachers_backbone"] <= after["teachers"]).all()
    # backbone places only below the requirement, and the lowest ratio first
    need = schools["backbone_required"]
    level = before["teachers_backbone"].reindex(schools.index).astype(int)
    for year in range(1, policy.horizon + 1):
        this = cal[cal["year"] == year]
        got = this[this["backbone"]].groupby("school_id")["places"].sum()
        level = level.add(got, fill_value=0).astype(int)
        assert (level[got.index] <= need[got.index]).all()
        took = this.groupby("school_id")["places"].sum().reindex(schools.index, fill_value=0)
        still = (level < need) & (level < teachers) & (took < teachers)
        if still.any() and len(got):
            lowest = (level[still] / need[still]).min()
            assert ((level[got.index] - 1) / need[got.index] <= lowest + 1e-12).all()


def test_registered_and_bad_inputs():
    assert get_planner("training").policy is TrainingPolicy
    with pytest.raises(InputError, match="horizon=3 from year 4"):
        TrainingPolicy(horizon=3, cycle_year=4)
    with pytest.raises(InputError, match="unknown programme 'nope'"):
        TrainingPolicy(seats={"nope": 3})
    with pytest.raises(InputError, match="seats of 'county_cycle'"):
        TrainingPolicy(seats={"county_cycle": -1})
    with pytest.raises(InputError, match="budget_per_year"):
        TrainingPolicy(budget_per_year=-5)
    bad = [{**COUNTY_ONLY[0], "seats": 2.5}]
    with pytest.raises(InputError, match="seats=2.5; expected a whole number"):
        TrainingPolicy(programmes=bad)
    with pytest.raises(InputError, match="lacks 'hours'"):
        load_programmes([{k: v for k, v in COUNTY_ONLY[0].items() if k != "hours"}])
    region = make_region(schools=20, seed=2)
    with pytest.raises(InputError) as e:
        plan_training(region.replace(schools=region.schools.drop(columns="teacher_training_hours")))
    assert e.value.column == "teacher_training_hours"
    s = region.schools.copy()
    s["teacher_training_hours"] = s["teacher_training_hours"].astype(float)
    s.loc[s.index[4], "teacher_training_hours"] = math.nan
    with pytest.raises(InputError) as e:
        plan_training(region.replace(schools=s))
    assert e.value.row_id == s["school_id"].iloc[4] and "missing value" in str(e.value)
    plan = plan_training(region)
    with pytest.raises(InputError):
        plan.apply(plan.apply(region))  # a calendar is not applied twice


def test_shipped_programmes_have_sources():
    raw = pd.read_csv(
        __import__("allocator.planners.training.policy", fromlist=["x"]).PROGRAMMES_FILE
    )
    assert set(raw["level"]) == {"national", "provincial", "county"}
    assert raw["source"].str.contains("ASSUMED|unconfirmed").all()
    assert raw["backbone"].any() and (~raw["backbone"]).any()


def test_smart_campus_programme_scenario():
    from pathlib import Path

    from allocator.pipeline import run_scenario

    path = Path(__file__).resolve().parents[1] / "scenarios" / "smart_campus_programme.toml"
    result = run_scenario(path, write=False)
    before, funded, trained = result.regions
    campus, calendar = result.plans["campus"], result.plans["training"]
    # the targets of the budget step, as check judges the region after it
    table = allocator.check(funded).tables["open_schools"]
    table = table[table["in_scope"].astype(bool)]
    assert (table["bandwidth_mbps"] >= 500).all()
    boarding = table["school_id"].isin(
        funded.schools.loc[funded.schools["boarding_school"] == 1, "school_id"]
    )
    for k in ("alarm_video_linked", "closed_campus", "dorm_night_duty"):
        assert (table.loc[boarding, k] == 1).all(), k
    assert (table.loc[table["area_type"] == "rural", "guard_post"] == 1).all()
    was = allocator.check(before).tables["open_schools"]
    assert (was.loc[was["in_scope"].astype(bool), "bandwidth_mbps"] < 500).any()
    assert campus.spent <= 4e7 + 1e-6
    # the training calendar: five years, money kept, backbone teachers up where they were short
    assert calendar.years["year"].tolist() == [0, 1, 2, 3, 4, 5]
    assert (calendar.years["cost"] <= 1.5e6 + 1e-6).all()
    h = calendar.headline()
    assert h["schools_backbone_met_after"] > h["schools_backbone_met_before"]
    gained = trained.schools["teachers_backbone"].sum() - funded.schools["teachers_backbone"].sum()
    assert gained == h["backbone_places"] > 0
    last = result.measures[-1].figures
    assert last["parts_compliant"] > result.measures[0].figures["parts_compliant"]
