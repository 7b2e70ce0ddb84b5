"""The optional senior_schools table: checks, files, the synthetic stream and the scenario."""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.io import load_region, save_region
from allocator.synth import make_region

ROWS = [("G1", "一中", "江县", "c0s0", "general", 2400, 1800),
        ("V1", "职中", "江县", "c0s2", "vocational", 900, 0)]  # fmt: skip
COLS = ["senior_id", "name", "county", "node", "kind", "places", "boarding_places"]


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, seed=3)


def table(changes=None):
    t = pd.DataFrame(ROWS, columns=COLS)
    for (row, col), value in (changes or {}).items():
        t[col] = t[col].astype(object)
        t.loc[row, col] = value
    return t


@pytest.mark.parametrize(
    "changes, words",
    [
        (
            {(1, "kind"): "trade"},
            "row 'V1', column 'kind': value 'trade': expected one of general, vocational",
        ),
        ({(0, "places"): -5}, "row 'G1', column 'places': value -5: expected a whole number"),
        ({(0, "places"): 10.5}, "column 'places': value 10.5: expected a whole number >= 0"),
        (
            {(1, "boarding_places"): 901},
            "'boarding_places': value 901: expected at most the school's 900 places",
        ),
        ({(1, "node"): "nowhere"}, "column 'node': value 'nowhere': expected a node of the roads"),
        ({(1, "senior_id"): "G1"}, "column 'senior_id': value 'G1': repeated id"),
        ({(0, "name"): None}, "row 'G1', column 'name': empty value; expected text"),
    ],
)
def test_a_bad_cell_is_one_error_naming_row_column_and_value(region, changes, words):
    with pytest.raises(InputError, match=words) as err:
        region.replace(senior_schools=table(changes))
    assert "table 'senior_schools'" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "limits, words",
    [
        (
            [1799, None],
            "row 'G1', column 'boarding_capacity': value 1799.0: expected at least the "
            "school's 1800 boarding places",
        ),
        ([2000, 10.5], "row 'V1', column 'boarding_capacity': value 10.5: expected a whole number"),
        ([2000, "many"], "row 'V1', column 'boarding_capacity': value 'many': expected a whole"),
    ],
)
def test_a_bad_dormitory_limit_is_named(region, limits, words):
    with pytest.raises(InputError, match=words):
        region.replace(senior_schools=table().assign(boarding_capacity=limits))


def test_a_dormitory_limit_is_optional_and_survives_the_files(region, tmp_path):
    r = region.replace(senior_schools=table().assign(boarding_capacity=[2000, None]))
    got = r.senior_schools["boarding_capacity"]
    assert got.iloc[0] == 2000 and pd.isna(got.iloc[1])
    save_region(r, tmp_path / "r")
    back = load_region(tmp_path / "r").senior_schools["boarding_capacity"]
    assert back.iloc[0] == 2000 and pd.isna(back.iloc[1])


def test_a_missing_column_is_named(region):
    with pytest.raises(InputError, match="missing required column.s. boarding_places"):
        region.replace(senior_schools=table().drop(columns="boarding_places"))


def test_the_table_is_kept_through_replace_county_and_files(region, tmp_path):
    r = region.replace(senior_schools=table().assign(note="kept"))
    assert r.senior_schools["places"].tolist() == [2400, 900]
    assert r.replace(schools=r.schools.iloc[:-1]).senior_schools.equals(r.senior_schools)
    assert r.county("江县").senior_schools.equals(r.senior_schools)
    assert r != region and r == region.replace(senior_schools=table().assign(note="kept"))
    save_region(r, tmp_path / "r")
    assert (tmp_path / "r" / "senior_schools.csv").exists()
    back = load_region(tmp_path / "r")
    assert back == r and back.senior_schools["note"].tolist() == ["kept", "kept"]
    save_region(region, tmp_path / "plain")
    assert load_region(tmp_path / "plain").senior_schools is None


def test_a_bad_file_names_its_line(region, tmp_path):
    save_region(region.replace(senior_schools=table()), tmp_path / "r")
    path = tmp_path / "r" / "senior_schools.csv"
    path.write_text(path.read_text(encoding="utf-8-sig").replace("vocational", "trade"), "utf-8")
    with pytest.raises(InputError, match=r"senior_schools.csv, line 3") as err:
        load_region(tmp_path / "r")
    assert "kind" in str(err.value)


def test_synthetic_table_has_its_own_stream():
    plain = make_region(schools=150, counties=2, seed=3)
    with_table = make_region(schools=150, counties=2, seed=3, senior_schools=True)
    assert plain.schools.equals(with_table.schools) and plain.senior_schools is None
    t = with_table.senior_schools
    senior = plain.schools[plain.schools["level"] == "senior"]
    assert sorted(t.loc[t["kind"] == "general", "node"]) == sorted(senior["node"])
    assert (t.groupby("county")["kind"].apply(lambda k: (k == "vocational").sum()) == 1).all()
    assert (t["places"] <= 3000).all() and (t["boarding_places"] <= t["places"]).all()


def test_the_county_scenario_runs_through_the_pipeline():
    from allocator.pipeline import run_scenario

    root = pathlib.Path(__file__).resolve().parent.parent
    result = run_scenario(root / "scenarios" / "county_senior_places.toml", write=False)
    (step,) = result.steps
    counties = step.plan.counties
    assert step.planner == "senior" and step.plan.source == "forecast 2030"
    assert counties["met"].all() and counties["placed"].sum() == counties["needed"].sum()
    assert (counties["general_pupils"] <= counties["general_max"] + 1e-6).all()
    assert "senior" in result.summary()


@pytest.mark.slow
def test_three_levels_in_one_run(tmp_path):
    from pathlib import Path

    from allocator.pipeline import run_scenario

    root = Path(__file__).resolve().parent.parent
    result = run_scenario(root / "scenarios" / "three_levels.toml", out=tmp_path / "o")
    assert [s.planner for s in result.steps] == ["kindergartens", "budget", "senior"]
    k = pd.read_csv(tmp_path / "o" / "kindergartens.kindergarten_targets.csv", encoding="utf-8-sig")
    assert k.set_index("indicator").loc["enrolment_rate_within_reach", "met"]
    c = pd.read_csv(tmp_path / "o" / "senior.senior_counties.csv", encoding="utf-8-sig")
    assert c["met"].all() and c["placed"].sum() == c["needed"].sum()


@pytest.mark.parametrize(
    "key, words",
    [
        ("year = 2030\nmax_pupil = 3000", ["max_pupil", "unknown key"]),
        ('year = "2030"', ["year", "expected a whole number"]),
        ("year = 2020", ["steps[1].year", "a year from base_year"]),
        ('candidate_area_types = ["city"]', ["candidate_area_types", "area types"]),
    ],
)
def test_senior_step_keys_are_checked_with_file_and_line(tmp_path, key, words):
    from allocator.scenario import load_scenario

    root = pathlib.Path(__file__).resolve().parent.parent
    text = (root / "scenarios" / "county_senior_places.toml").read_text(encoding="utf-8")
    text = text.split("[[variants]]")[0].replace("year = 2030", key, 1)
    lines = text.splitlines()
    text = "\n".join(lines[[i for i, s in enumerate(lines) if s.startswith("name =")][0] :])
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    line = 1 + next(
        i for i, s in enumerate(text.splitlines()) if s.startswith(key.splitlines()[-1])
    )
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(err.value).startswith(f"{path}, line {line}: steps[1].")
    for w in words:
        assert w in str(err.value), (w, str(err.value))


def test_a_synthetic_scenario_region_can_ask_for_senior_schools(tmp_path):
    from allocator.scenario import load_scenario

    text = (
        "[region]\nschools = 20\ncounties = 1\nseed = 3\nsenior_schools = {}\n"
        '[[steps]]\nplanner = "senior"\n'
    )
    path = tmp_path / "s.toml"
    path.write_text(text.format("true"), encoding="utf-8")
    region = load_scenario(path).region.load()
    expected = make_region(schools=20, counties=1, seed=3, senior_schools=True)
    assert region.senior_schools.equals(expected.senior_schools)
    path.write_text(text.format("false"), encoding="utf-8")
    assert load_scenario(path).region.load().senior_schools is None
    path.write_text(text.format('"yes"'), encoding="utf-8")
    with pytest.raises(InputError, match=r"line 5.*senior_schools.*expected"):
        load_scenario(path)
