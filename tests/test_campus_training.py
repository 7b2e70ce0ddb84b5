"""Training ``apply``: what ``check`` sees after a training step, by hand on a small region."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import allocator
from allocator.planners.training import TrainingPolicy, plan_training
from allocator.synth import make_region

BACKBONE_ONLY = [
    {"programme": "bb", "level": "provincial", "seats": 3, "hours": 100, "cost_per_place": 1000,
     "backbone": True},
]  # fmt: skip


def small_region():
    """16 synthetic schools, all done (every teacher a backbone teacher, 360 hours, trained at
    county level) except two primary schools A and B of 20 teachers each."""
    region = make_region(schools=16, seed=1)
    s = region.schools.copy()
    s["teachers_backbone"] = s["teachers"]
    s["teacher_training_hours"] = s["teachers"] * 360
    s["teachers_trained_county"] = s["teachers"]
    first, second = np.flatnonzero((s["level"] == "primary").to_numpy())[:2]
    common = {"teachers": 20, "teacher_training_hours": 20 * 360, "pupils_junior": 0}
    rows = {
        first: {**common, "pupils_lower_primary": 150, "pupils_upper_primary": 150,
                "teachers_backbone": 0, "teachers_trained_county": 5},
        second: {**common, "pupils_lower_primary": 200, "pupils_upper_primary": 200,
                 "teachers_backbone": 2, "teachers_trained_county": 19},
    }  # fmt: skip
    for pos, values in rows.items():
        for column, value in values.items():
            s.iloc[pos, s.columns.get_loc(column)] = value
    for column in ("teachers_qualified", "teachers_pe_arts"):
        s[column] = np.minimum(s[column], s["teachers"])
    ids = s["school_id"].iloc[[first, second]].tolist()
    return region.replace(schools=s), ids


def test_apply_updates_what_check_reads_by_hand():
    # A needs 3 backbone teachers (300 pupils), has 0; B needs 4, has 2. Three seats a year of a
    # 100-hour backbone programme: year 1 A, A, B; year 2 A, B (test_training's water-filling).
    # So A gets 3 places, B 2: A's trained teachers 5 -> 8 of 20, B's 19 -> 20 (capped at 20).
    region, (a, b) = small_region()
    plan = plan_training(region, TrainingPolicy(horizon=2, programmes=BACKBONE_ONLY))
    after = plan.apply(region)
    s = after.schools.set_index("school_id")
    assert (s.loc[a, "teachers_trained_county"], s.loc[b, "teachers_trained_county"]) == (8, 20)
    assert (s.loc[a, "teachers_backbone"], s.loc[b, "teachers_backbone"]) == (3, 4)
    untouched = region.schools.set_index("school_id").drop(index=[a, b])
    assert (s.drop(index=[a, b])["teachers_trained_county"] == untouched["teachers"]).all()

    before_open = allocator.check(region).tables["open_schools"].set_index("school_id")
    open_ = allocator.check(after).tables["open_schools"].set_index("school_id")
    assert before_open.loc[a, "trained_county_share"] == 5 / 20
    assert open_.loc[a, "trained_county_share"] == 8 / 20
    assert open_.loc[b, "trained_county_share"] == 1.0
    assert open_.loc[a, "training_hours_per_teacher"] == (20 * 360 + 3 * 100) / 20
    assert open_.loc[b, "training_hours_per_teacher"] == (20 * 360 + 2 * 100) / 20
    schools = allocator.check(after).tables["schools"]
    part = schools[(schools["school_id"] == a) & schools["in_scope"].astype(bool)]
    assert part["backbone_per_100_met"].all()  # 3 backbone teachers for 300 pupils


def test_apply_without_the_trained_column_leaves_it_out():
    region, (a, _) = small_region()
    region = region.replace(schools=region.schools.drop(columns="teachers_trained_county"))
    plan = plan_training(region, TrainingPolicy(horizon=1, programmes=BACKBONE_ONLY))
    after = plan.apply(region).schools
    assert "teachers_trained_county" not in after.columns
    assert int(after.set_index("school_id").loc[a, "teachers_backbone"]) == 2


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 50),
    horizon=st.integers(1, 3),
    trained=st.floats(0.0, 1.0),
    seats=st.integers(0, 400),
)
def test_trained_teachers_grow_by_at_most_the_places(seed, horizon, trained, seats):
    region = make_region(schools=12, seed=seed)
    s = region.schools.copy()
    s["teachers_trained_county"] = np.floor(s["teachers"] * trained).astype(np.int64)
    region = region.replace(schools=s)
    policy = TrainingPolicy(horizon=horizon, seats={"county_cycle": seats})
    plan = plan_training(region, policy)
    after = plan.apply(region).schools.set_index("school_id")
    before = s.set_index("school_id")
    places = plan.calendar.groupby("school_id")["places"].sum().reindex(before.index).fillna(0)
    gained = after["teachers_trained_county"] - before["teachers_trained_county"]
    assert (gained >= 0).all()
    assert (gained <= places).all()
    assert (after["teachers_trained_county"] <= before["teachers"]).all()
    # a school gains every place until all its teachers are trained
    full = before["teachers_trained_county"] + places >= before["teachers"]
    assert (gained[~full] == places[~full]).all()
    assert (after.loc[full, "teachers_trained_county"] == before.loc[full, "teachers"]).all()
