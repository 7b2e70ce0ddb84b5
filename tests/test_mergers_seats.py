"""Seats after a consolidation plan: the plan's table, ``apply`` and the model say the same."""

from __future__ import annotations

import numpy as np
import pytest
from test_mergers import EXACT, region_of, school, settlement

from allocator.errors import InputError
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.synth import make_region

BAND_COLUMNS = ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]


def crowded_region(tp_pupils: int):
    """P holds 120 grade 1-3 pupils on 100 seats today; a teaching point 10 minutes away."""
    schools = [
        school("TP", "A", "teaching_point", lp=tp_pupils, capacity=60, classes=3),
        school("P", "B", lp=120, capacity=100, classes=10),
    ]
    settlements = [settlement("VA", "A", lp=tp_pupils), settlement("VB", "B", lp=120)]
    return region_of(schools, settlements, [("A", "B", 10)])


def test_a_crowded_school_grows_only_within_its_seats_after_expansion():
    # One classroom (45 seats; 0.5 x 100 / 45 -> 1 allowed) gives P 145 seats. Closing the teaching
    # point saves far more than the classroom and the trips cost: with 25 pupils it closes (P ends
    # at 145 on 145 seats), with 30 it cannot (150 > max(145 seats, 120 today)).
    policy = MergerPolicy(max_expansion_share=0.5, min_size=0)
    plan = plan_mergers(crowded_region(25), policy, EXACT)
    assert plan.closures["school_id"].tolist() == ["TP"]
    p = plan.schools.set_index("school_id").loc["P"]
    assert (p["pupils_after"], p["seats_after"]) == (145, 145)
    after = plan.apply(crowded_region(25)).schools.set_index("school_id")
    assert after.loc["P", "capacity"] == 145
    plan = plan_mergers(crowded_region(30), policy, EXACT)
    assert plan.closures.empty
    p = plan.schools.set_index("school_id").loc["P"]
    # kept as it is today: over its 100 seats, no worse, nothing built for nothing
    assert (p["pupils_after"], p["seats_after"]) == (120, 100)
    assert plan.expansions.empty


def test_seats_after_is_the_capacity_apply_gives_and_crowding_never_grows():
    # Seen: make_region(schools=100, seed=2), min_size=200, split=True: C00S0005 (1,794 pupils on
    # 1,779 seats) ended at 1,839 pupils on 1,824 seats after apply while the table said 1,839.
    region = make_region(schools=100, seed=2)
    plan = plan_mergers(region, MergerPolicy(min_size=200, split=True))
    table = plan.schools.set_index("school_id")
    after = plan.apply(region).schools.set_index("school_id")
    kept = table[table["status"] != "closed"]
    seats = after.loc[kept.index, "capacity"] - after.loc[kept.index, "pupils_senior"]
    assert (seats == kept["seats_after"]).all()
    pupils = after.loc[kept.index, BAND_COLUMNS].sum(axis=1)
    assert (pupils == kept["pupils_after"]).all()
    # class sizes as apply leaves them (classrooms of the school, its partner and expansions)
    size = (pupils / after.loc[kept.index, "classes"].clip(lower=1)).round(1)
    assert np.allclose(size, kept["class_size_after"])
    # today's pupils of each school, with those of a school it absorbs on its site
    today = kept["pupils_before"].copy()
    nine = plan.closures[plan.closures["reason"] == "nine_year"]
    for a, h in zip(nine["school_id"], nine["receiving_school_id"], strict=True):
        today[h] += table.loc[a, "pupils_before"]
    assert (pupils <= np.maximum(seats, today)).all()
    assert table.loc["C00S0005", "pupils_after"] <= max(
        table.loc["C00S0005", "seats_after"], table.loc["C00S0005", "pupils_before"]
    )


def test_closed_schools_name_no_rule_that_would_keep_them():
    # Seen: schools absorbed into nine-year schools showed kept_because = "1395 pupils >=
    # min_size 100" with status closed.
    region = make_region(schools=100, seed=2)
    plan = plan_mergers(region, MergerPolicy(min_size=200, split=True))
    s = plan.schools
    closed = s[s["status"] == "closed"]
    assert len(closed) and (closed["kept_because"] == "").all()
    absorbed = plan.closures.loc[plan.closures["reason"] == "nine_year", "school_id"]
    big = s.set_index("school_id").loc[absorbed, "pupils_before"] >= 200
    assert big.any()  # min_size schools that became part of a nine-year school
    opened = s[(s["status"] != "closed") & (s["pupils_before"] >= 200)]
    assert opened["kept_because"].str.contains("min_size 200").all()


@pytest.mark.parametrize(
    "kwargs, field, value",
    [
        ({"school_size": 10}, "school_size", 10),
        ({"school_size": 150, "min_size": 200}, "school_size", 150),
    ],
)
def test_contradictory_sizes_are_refused_when_the_policy_is_made(kwargs, field, value):
    # Seen: MergerPolicy(school_size=10) gave "integrality or bounds make the model infeasible".
    with pytest.raises(InputError) as err:
        MergerPolicy(**kwargs)
    assert err.value.column == field and err.value.value == value
    assert f"{field}={value}" in str(err.value)
