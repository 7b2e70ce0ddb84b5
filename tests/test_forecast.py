"""Enrolment forecasts: hand-computed projections, linearity over settlements, invariants, birth
scenarios, today's catchments and the refusal of bad input."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocator
from allocator.errors import InputError
from allocator.forecast import (
    BirthScenario,
    ForecastSettings,
    birth_scenario_names,
    forecast_region,
    load_birth_scenario,
    nearest_schools,
    project_enrolment,
    project_grades,
    pupils_from_region,
    regional_births,
    school_enrolment,
    teaches,
)
from allocator.synth import make_region


def _pupils(sid: str, by_grade: dict) -> pd.DataFrame:
    return pd.DataFrame(
        {"settlement_id": sid, "grade": list(by_grade), "pupils": list(by_grade.values())}
    )


def _grade(out: pd.DataFrame, year: int, grade: int, sid: str = "A") -> float:
    row = out[(out["year"] == year) & (out["grade"] == grade) & (out["settlement_id"] == sid)]
    assert len(row) == 1
    return float(row["pupils"].iloc[0])


@pytest.fixture(scope="module")
def region():
    return make_region(schools=60, seed=1)


# ------------------------------------------------------------------ hand-computed projections
def test_one_year_by_hand_with_every_rate():
    settings_ = ForecastSettings(
        horizon=1,
        entry_rate=0.9,
        repetition={1: 0.1},
        dropout=0.05,
        transition=0.8,
        migration={"rural": -0.1},
    )
    ages = pd.DataFrame({"settlement_id": ["A"], "age": [5], "population": [40.0]})
    out = project_grades(
        _pupils("A", {1: 100.0, 6: 50.0, 9: 30.0}),
        settings_,
        2025,
        ages=ages,
        area_types={"A": "rural"},
    )
    # entrants: 40 aged 5, one year of migration (x0.9), entry rate 0.9; repeaters 10 stay on
    assert _grade(out, 2026, 1) == pytest.approx(40 * 0.9 * 0.9 + 0.9 * 100 * 0.1)  # 41.4
    assert _grade(out, 2026, 2) == pytest.approx(0.9 * 100 * 0.85)  # 76.5
    assert _grade(out, 2026, 7) == pytest.approx(0.9 * 50 * 0.95 * 0.8)  # 34.2
    assert _grade(out, 2026, 9) == 0.0  # grade 9 left; nobody was in grade 8
    assert out[out["year"] == 2026]["pupils"].sum() == pytest.approx(41.4 + 76.5 + 34.2)
    # the base year is the input
    assert _grade(out, 2025, 6) == 50.0


def test_entrants_from_ages_first_then_births_grown_six_years():
    ages = pd.DataFrame({"settlement_id": "A", "age": [5], "population": [40.0]})
    births = pd.DataFrame({"settlement_id": "A", "year": [2020, 2021], "births": [99.0, 20.0]})
    out = project_grades(
        _pupils("A", {}),
        ForecastSettings(horizon=2, settlement_migration={"A": 0.1}),
        2025,
        ages=ages,
        births=births,
    )
    assert _grade(out, 2026, 1) == pytest.approx(40 * 1.1)  # age 5 given: births of 2020 unused
    assert _grade(out, 2027, 1) == pytest.approx(20 * 1.1**6)  # no age 4: births of 2021
    assert _grade(out, 2027, 2) == pytest.approx(40 * 1.1 * 1.1)


def test_band_table_keeps_the_settlements_in_their_order():
    pupils = pd.concat([_pupils("Z", {1: 1.0}), _pupils("A", {1: 2.0})])
    births = pd.DataFrame({"settlement_id": ["Z", "A"], "year": 2020, "births": 1.0})
    out = project_enrolment(pupils, ForecastSettings(horizon=1), 2025, births=births)
    assert out["settlement_id"].tolist() == ["Z"] * 6 + ["A"] * 6
    assert out["year"].tolist()[:6] == [2025] * 3 + [2026] * 3


def test_bands_sum_their_grades_in_grade_order():
    out = project_enrolment(
        _pupils("A", {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 7: 7.0}),
        ForecastSettings(horizon=1),
        2025,
        births=pd.DataFrame({"settlement_id": "A", "year": [2020], "births": [5.0]}),
    )
    base = out[out["year"] == 2025]
    assert base["band"].tolist() == ["lower_primary", "upper_primary", "junior"]
    assert base["pupils"].tolist() == [6.0, 4.0, 7.0]
    nxt = out[out["year"] == 2026]
    assert nxt["pupils"].tolist() == [5.0 + 1.0 + 2.0, 3.0 + 4.0, 7.0]


# ------------------------------------------------------------------ linearity and invariants
def test_sum_of_settlement_projections_equals_the_aggregate_projection():
    rng = np.random.default_rng(7)
    ids = [f"S{i}" for i in range(5)]
    pupils = pd.concat(
        [_pupils(s, {g: float(rng.integers(0, 60)) for g in range(1, 10)}) for s in ids]
    )
    ages = pd.DataFrame(
        [(s, a, float(rng.integers(0, 50))) for s in ids for a in range(6)],
        columns=["settlement_id", "age", "population"],
    )
    births = pd.DataFrame(
        [(s, y, float(rng.integers(0, 50))) for s in ids for y in range(2020, 2035)],
        columns=["settlement_id", "year", "births"],
    )
    rates = ForecastSettings(
        horizon=15,
        entry_rate=0.97,
        repetition=[0.02, 0.01, 0, 0, 0, 0, 0.01, 0.01, 0.03],
        dropout={7: 0.01, 8: 0.02, 9: 0.02},
        transition=0.95,
        migration={"town": 0.03},
    )
    kinds = dict.fromkeys(ids, "town")
    each = project_enrolment(pupils, rates, 2025, ages=ages, births=births, area_types=kinds)
    whole = project_enrolment(
        pupils.groupby("grade", as_index=False)["pupils"].sum().assign(settlement_id="all"),
        rates,
        2025,
        ages=ages.groupby("age", as_index=False)["population"].sum().assign(settlement_id="all"),
        births=births.groupby("year", as_index=False)["births"].sum().assign(settlement_id="all"),
        area_types={"all": "town"},
    )
    summed = each.groupby(["band", "year"])["pupils"].sum()
    np.testing.assert_allclose(
        whole.set_index(["band", "year"])["pupils"].loc[summed.index], summed.to_numpy()
    )


_counts = st.lists(st.floats(0, 1e4), min_size=9, max_size=9)
_rate = st.floats(0, 1)


@settings(max_examples=60, deadline=None)
@given(
    grades=_counts,
    births=st.lists(st.floats(0, 1e4), min_size=15, max_size=15),
    entry=_rate,
    repetition=st.lists(st.floats(0, 0.5), min_size=9, max_size=9),
    dropout=st.lists(st.floats(0, 0.5), min_size=9, max_size=9),
    transition=_rate,
    migration=st.floats(-1, 1),
    horizon=st.integers(1, 15),
)
def test_no_negative_cohort(
    grades, births, entry, repetition, dropout, transition, migration, horizon
):
    out = project_grades(
        _pupils("A", dict(zip(range(1, 10), grades, strict=True))),
        ForecastSettings(
            horizon=horizon,
            entry_rate=entry,
            repetition=repetition,
            dropout=dropout,
            transition=transition,
            settlement_migration={"A": migration},
        ),
        2025,
        births=pd.DataFrame({"settlement_id": "A", "year": range(2020, 2035), "births": births}),
    )
    assert (out["pupils"] >= 0).all()
    assert np.isfinite(out["pupils"]).all()


@settings(max_examples=60, deadline=None)
@given(
    grades=_counts,
    ages=st.lists(st.floats(0, 1e4), min_size=6, max_size=6),
    births=st.lists(st.floats(0, 1e4), min_size=15, max_size=15),
    horizon=st.integers(1, 15),
)
def test_pupils_conserved_when_every_rate_is_one_and_migration_zero(grades, ages, births, horizon):
    base = dict(zip(range(1, 10), grades, strict=True))
    age_table = pd.DataFrame({"settlement_id": "A", "age": range(6), "population": ages})
    birth_table = pd.DataFrame({"settlement_id": "A", "year": range(2020, 2035), "births": births})
    out = project_grades(
        _pupils("A", base),
        ForecastSettings(horizon=horizon),
        2025,
        ages=age_table,
        births=birth_table,
    )
    table = out.pivot(index="year", columns="grade", values="pupils").to_numpy()
    # every cohort moves up one grade whole
    np.testing.assert_allclose(table[1:, 1:], table[:-1, :-1], atol=1e-9)
    born = [ages[6 - h] if h <= 6 else births[h - 1] for h in range(1, horizon + 1)]
    np.testing.assert_allclose(table[1:, 0], born, atol=1e-9)  # entrants: aged 6, or born t - 6


# ------------------------------------------------------------------ bad input: one clear line
@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"horizon": 0}, "horizon = 0 is outside 1 to 15 years"),
        ({"horizon": 16}, "horizon = 16 is outside 1 to 15 years"),
        ({"horizon": 2.5}, "horizon = 2.5 is outside 1 to 15 years"),
        ({"entry_rate": -0.1}, "entry_rate = -0.1 is outside [0, 1]"),
        ({"transition": 1.5}, "transition = 1.5 is outside [0, 1]"),
        ({"repetition": {3: 2}}, "repetition[3] = 2 is outside [0, 1]"),
        ({"dropout": [0] * 8 + [float("nan")]}, "dropout[9] = nan is outside [0, 1]"),
        ({"dropout": [0] * 8}, "dropout has 8 rates; expected 9"),
        ({"repetition": {10: 0.1}}, "repetition has grade 10; expected grades 1 to 9"),
        ({"repetition": 0.6, "dropout": 0.6}, "repetition + dropout of grade 1 is 1.2"),
        ({"migration": {"rural": -1.5}}, "migration[rural] = -1.5 is outside [-1, 1]"),
        ({"migration": {"suburb": 0.1}}, "migration has area type 'suburb'; expected one of"),
        ({"entry_rate": "high"}, "entry_rate = 'high' is not a number"),
    ],
)
def test_bad_settings_get_one_line(kwargs, expected):
    with pytest.raises(InputError) as caught:
        ForecastSettings(**kwargs)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_ages_name_the_settlement_age_and_year():
    ages = pd.DataFrame({"settlement_id": "A", "age": [5], "population": [40.0]})
    with pytest.raises(InputError) as caught:
        project_grades(_pupils("A", {1: 1.0}), ForecastSettings(horizon=2), 2025, ages=ages)
    message = str(caught.value)
    assert message == (
        "table 'ages', row 'A', column 'age': no children aged 4 in 2025 and no births in 2021; "
        "expected one of them for the entrants of 2027 (a horizon of 2 years)"
    )


def test_missing_births_beyond_the_ages():
    ages = pd.DataFrame({"settlement_id": "A", "age": range(6), "population": 1.0})
    with pytest.raises(InputError, match=r"row 'A', column 'year': no births in 2026; expected"):
        project_grades(_pupils("A", {1: 1.0}), ForecastSettings(horizon=7), 2025, ages=ages)


@pytest.mark.parametrize(
    ("pupils", "expected"),
    [
        (_pupils("A", {10: 1.0}), "column 'grade': grade 10 is not a grade of 1 to 9"),
        (_pupils("A", {1: -3.0}), "column 'pupils': negative value -3.0; expected a number >= 0"),
        (pd.DataFrame({"settlement_id": ["A"], "grade": [1]}), "missing required column(s) pupils"),
        (
            pd.concat([_pupils("A", {1: 1.0}), _pupils("A", {1: 2.0})]),
            "grade 1 is given twice",
        ),
    ],
)
def test_bad_pupil_tables(pupils, expected):
    births = pd.DataFrame({"settlement_id": "A", "year": [2020], "births": [1.0]})
    with pytest.raises(InputError) as caught:
        project_grades(pupils, ForecastSettings(horizon=1), 2025, births=births)
    assert expected in str(caught.value)


def test_migration_by_area_type_needs_the_area_types():
    births = pd.DataFrame({"settlement_id": "A", "year": [2020], "births": [1.0]})
    with pytest.raises(InputError, match="row 'A', column 'area_type': no area type known"):
        project_grades(
            _pupils("A", {1: 1.0}),
            ForecastSettings(horizon=1, migration={"rural": -0.02}),
            2025,
            births=births,
        )


def test_area_types_as_a_series_with_whole_number_ids():
    births = pd.DataFrame({"settlement_id": [7], "year": [2020], "births": [10.0]})
    out = project_grades(
        pd.DataFrame({"settlement_id": [7], "grade": [1], "pupils": [10.0]}),
        ForecastSettings(horizon=np.int64(1), migration={"town": 0.5}),
        2025,
        births=births,
        area_types=pd.Series({7: "town"}),
    )
    assert _grade(out, 2026, 1, "7") == pytest.approx(10 * 1.5**6)
    assert _grade(out, 2026, 2, "7") == pytest.approx(10 * 1.5)


def test_settings_are_frozen_and_hash():
    s = ForecastSettings(migration={"rural": -0.02})
    assert hash(s) == hash(ForecastSettings(migration={"rural": -0.02}))
    with pytest.raises(AttributeError):
        s.horizon = 3  # type: ignore[misc]


# ------------------------------------------------------------------ birth scenarios
def test_named_scenarios_carry_observed_births_and_label_the_rest():
    assert birth_scenario_names() == ("high", "low", "medium")
    paths = {name: load_birth_scenario(name) for name in birth_scenario_names()}
    for s in paths.values():
        assert s.births[2016] == 17_860_000 and s.births[2023] == 9_020_000
        assert "National Bureau of Statistics" in s.source and "unconfirmed" in s.source
        assert max(s.births) >= 2040
    assert paths["low"].births[2035] < paths["medium"].births[2035] < paths["high"].births[2035]


def test_regional_births_follow_the_path_index():
    s = load_birth_scenario("medium")
    out = regional_births(s, {"A": 100.0}, 2016, [2023])
    assert out["births"].iloc[0] == pytest.approx(100.0 * 9_020_000 / 17_860_000)


def test_own_scenario_from_a_file_and_its_errors(tmp_path):
    f = tmp_path / "county.toml"
    f.write_text('name = "county"\n[source]\nnote = "county statistics"\n[births]\n2024 = 900\n')
    s = load_birth_scenario(f)
    assert s.name == "county" and s.births == {2024: 900} and "county statistics" in s.source
    with pytest.raises(
        InputError, match="has no births in 2030; expected a year from 2024 to 2024"
    ):
        s.value(2030)
    bad = tmp_path / "bad.toml"
    bad.write_text("[births]\n2024 = -5\n")
    with pytest.raises(
        InputError,
        match=r"bad.toml, table 'births', column '2024': births -5 in year 2024 of scenario 'bad'",
    ):
        load_birth_scenario(bad)
    with pytest.raises(InputError, match="unknown birth scenario 'middle'"):
        load_birth_scenario("middle")
    assert BirthScenario.from_series(pd.Series({2024: 10, 2025: 5})).index(2025, 2024) == 0.5


# ------------------------------------------------------------------ regions and catchments
def test_nearest_school_is_the_nearest_teaching_school_of_the_county(region):
    schools, settlements = region.schools, region.settlements
    for band in ("lower_primary", "junior"):
        pos, minutes = nearest_schools(region, band)
        capable = teaches(schools, band)
        for i, row in enumerate(settlements.itertuples()):
            dist = nx.single_source_dijkstra_path_length(region.roads, row.node, weight="minutes")
            mine = capable & (schools["county"] == row.county).to_numpy()
            best = min((dist.get(n, math.inf) for n in schools["node"][mine]), default=math.inf)
            assert minutes[i] == pytest.approx(best)
            if math.isfinite(best):
                assert mine[pos[i]]
                assert dist[schools["node"].iloc[pos[i]]] == pytest.approx(best)


def test_school_enrolment_moves_each_settlement_band_to_its_nearest_school(region):
    out = forecast_region(region, ForecastSettings(horizon=3), 2025, "low")
    by_school = school_enrolment(region, out)
    pos, _ = nearest_schools(region, "upper_primary")
    sid = region.settlements["settlement_id"].iloc[0]
    school = region.schools["school_id"].iloc[pos[0]]
    served = region.settlements["settlement_id"][pos == pos[0]]
    expected = out[
        (out["band"] == "upper_primary") & (out["year"] == 2028) & out["settlement_id"].isin(served)
    ]["pupils"].sum()
    got = by_school[
        (by_school["school_id"] == school)
        & (by_school["band"] == "upper_primary")
        & (by_school["year"] == 2028)
    ]["pupils"]
    assert sid in set(served)
    assert float(got.iloc[0]) == pytest.approx(expected)
    totals = by_school.groupby(["band", "year"])["pupils"].sum()
    np.testing.assert_allclose(
        totals, out.groupby(["band", "year"])["pupils"].sum().loc[totals.index]
    )


def test_region_without_ages_follows_the_birth_path(region):
    low = load_birth_scenario("low")
    out = forecast_region(region, ForecastSettings(horizon=4), 2025, low)
    grade1 = region.settlements["pupils_lower_primary"].sum() / 3
    grades = pupils_from_region(region)
    assert grades["pupils"].sum() == pytest.approx(
        region.settlements[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]]
        .sum()
        .sum()
    )
    lower_2028 = out[(out["band"] == "lower_primary") & (out["year"] == 2028)]["pupils"].sum()
    # grades 1-3 of 2028: entrants of 2026, 2027, 2028, born 2020, 2021, 2022
    expected = grade1 * sum(low.index(y, 2019) for y in (2020, 2021, 2022))
    assert lower_2028 == pytest.approx(expected)
    assert (
        lower_2028 < out[(out["band"] == "lower_primary") & (out["year"] == 2025)]["pupils"].sum()
    )


def test_public_names():
    assert allocator.ForecastSettings is ForecastSettings
    assert allocator.project_enrolment is project_enrolment
    assert allocator.forecast_region is forecast_region
