"""Synthetic regions: valid, deterministic, consistent and with realistic urban-rural gaps."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.region import PUPIL_COLUMNS
from allocator.synth import make_region


@given(seed=st.integers(0, 10**6), schools=st.integers(5, 120))
def test_every_synthetic_region_validates(seed, schools):
    region = make_region(schools=schools, seed=seed)  # Region validates on construction
    assert len(region.schools) == schools
    assert len(region.settlements) == 2 * schools


def test_deterministic_for_a_seed():
    assert make_region(schools=80, seed=3) == make_region(schools=80, seed=3)
    assert make_region(schools=80, seed=3) != make_region(schools=80, seed=4)


def test_settlement_pupils_add_up_to_enrolment():
    region = make_region(schools=300, seed=8)
    for county, schools in region.schools.groupby("county"):
        settlements = region.settlements[region.settlements["county"] == county]
        for col in PUPIL_COLUMNS:
            assert settlements[col].sum() == schools[col].sum()


def test_counties_grow_with_schools():
    assert make_region(schools=100, seed=0).schools["county"].nunique() == 1
    assert make_region(schools=1500, seed=0).schools["county"].nunique() == 10


def per_100(schools, column):
    pupils = schools[list(PUPIL_COLUMNS)].sum(axis=1)
    return 100 * schools[column].sum() / pupils.sum()


def test_rural_urban_gaps_are_visible():
    region = make_region(schools=900, seed=1)
    s = region.schools[region.schools["level"].isin(["primary", "teaching_point"])]
    urban, rural = s[s.area_type == "urban"], s[s.area_type == "rural"]
    ratio = per_100(rural, "teachers_backbone") / per_100(urban, "teachers_backbone")
    assert 0.35 < ratio < 0.65  # rural around half of urban
    assert per_100(rural, "equipment_value") < 0.7 * per_100(urban, "equipment_value")
    # rural schools are teacher-rich by head count but small
    assert per_100(rural, "teachers") > per_100(urban, "teachers")
    rural_pupils = rural[list(PUPIL_COLUMNS)].sum(axis=1)
    urban_pupils = urban[list(PUPIL_COLUMNS)].sum(axis=1)
    assert rural_pupils.median() < 300 < 1500 <= urban_pupils.median()
    points = s[s.level == "teaching_point"][list(PUPIL_COLUMNS)].sum(axis=1)
    assert points.max() < 60


def test_bad_arguments():
    with pytest.raises(ValueError, match="schools=2; expected from 5 to 20,000"):
        make_region(schools=2)
    with pytest.raises(ValueError, match="counties"):
        make_region(schools=20, counties=10)


def test_mountain_roads_are_slow():
    region = make_region(schools=300, seed=2)
    school = region.schools.set_index("node")
    nodes = list(school.index)
    t = region.travel_minutes(nodes, nodes).toarray()
    dist = np.hypot(
        school.x.values[:, None] - school.x.values, school.y.values[:, None] - school.y.values
    )
    rural = (school.area_type == "rural").values
    far = dist > 3
    speed = dist[np.ix_(rural, rural)][far[np.ix_(rural, rural)]] / (
        t[np.ix_(rural, rural)][far[np.ix_(rural, rural)]] / 60
    )
    assert np.median(speed) < 30  # effective km/h between rural schools
