"""Inputs that cannot be right are refused, inputs that are only unusual are flagged.

Every case here was seen: absurd numbers that overflowed, duplicate roads where the last row won,
coordinates in degrees, ids read as missing, villages far from any school, sizes and TOML files that
ran the machine out of memory, scenario errors without a file and line.
"""

import tracemalloc

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator import load_region, save_region
from allocator.check import check
from allocator.cli import main
from allocator.errors import InputError
from allocator.io import DUPLICATE_ROAD_FACTOR
from allocator.plausibility import (
    HARD_RANGES,
    MAX_SCHOOL_PUPILS,
    SCHOOL_NODE_KM,
    WARNING_COLUMNS,
    region_warnings,
)
from allocator.region import Region
from allocator.scenario import load_scenario, parse_assignment, parse_scenario
from allocator.standards import load_standard
from allocator.synth import MAX_SCHOOLS, check_sizes, make_region
from allocator.text import plain, plural
from allocator.toml_input import MAX_TOML_BYTES, MAX_TOML_DEPTH, check_toml_bounds, read_toml


@pytest.fixture(scope="module")
def region():
    return make_region(schools=30, seed=3)


@pytest.fixture
def folder(region, tmp_path):
    path = tmp_path / "reg"
    save_region(region, path)
    return path


def _error(call):
    with pytest.raises(InputError) as info:
        call()
    return info.value


# --------------------------------------------------------------------------- absurd numbers
@pytest.mark.parametrize("value", ["1e20", "1e12", "100001"])
def test_absurd_pupils_are_an_error_naming_the_cell_and_range(folder, value):
    path = folder / "schools.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[4, "pupils_lower_primary"] = value
    df.to_csv(path, index=False)
    err = _error(lambda: load_region(folder))
    assert (err.file, err.table, err.row_id, err.column, err.line) == (
        str(path),
        "schools",
        df.loc[4, "school_id"],
        "pupils_lower_primary",
        6,
    )
    assert err.value == float(value)
    assert "cannot be right; expected a whole number from 0 to 100,000" in err.message
    assert "np." not in str(err)


def test_check_command_refuses_overflowing_pupils_with_one_line(folder, capsys):
    path = folder / "schools.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[0, "pupils_lower_primary"] = "1e20"
    df.to_csv(path, index=False)
    assert main(["check", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"{path}, line 2" in err[0] and "pupils_lower_primary" in err[0] and "1e+20" in err[0]
    assert "-9223372036854775808" not in err[0]


def test_each_hard_range_is_enforced_in_python_too(region):
    for (table, column), (_, high) in HARD_RANGES.items():
        if table not in ("schools", "settlements"):
            continue
        df = getattr(region, table).copy()
        if column in ("teachers_qualified", "teachers_backbone", "teachers_pe_arts"):
            df["teachers"] = 10_000  # keep the subsets within the teachers
        df[column] = df[column].astype(float)
        df.loc[2, column] = high * 1.5 + 1
        kwargs = {table: df}
        err = _error(lambda kwargs=kwargs: region.replace(**kwargs))
        assert (err.table, err.column, err.row) == (table, column, 2), (table, column)
        assert err.value == high * 1.5 + 1


def test_values_at_the_top_of_the_range_load(region):
    schools = region.schools.copy()
    schools.loc[0, "pupils_junior"] = 100_000
    schools.loc[0, "capacity"] = 200_000
    schools.loc[0, "equipment_value"] = 1e11
    out = region.replace(schools=schools)
    assert out.schools.loc[0, "pupils_junior"] == 100_000


def test_road_minutes_and_coordinates_have_hard_ranges(region):
    graph = nx.Graph(region.roads)
    u, v = next(iter(graph.edges))
    graph[u][v]["minutes"] = 20_000.0
    err = _error(lambda: region.replace(roads=graph))
    assert (err.table, err.column, err.value) == ("roads", "minutes", 20_000.0)
    assert "at most 10,000" in err.message
    graph = nx.Graph(region.roads)
    graph.nodes[u]["y"] = 1e9
    err = _error(lambda: region.replace(roads=graph))
    assert (err.table, err.row_id, err.column, err.value) == ("nodes", u, "y", 1e9)


# --------------------------------------------------------------------------- warnings
def test_implausible_values_are_warnings_listed_by_check(folder):
    path = folder / "schools.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    pupils = [c for c in df if c.startswith("pupils_")]
    df.loc[1, pupils] = ["3000", "0", "0", "0"]
    df.loc[1, "capacity"] = "300"  # 10 x capacity
    df.loc[2, "capacity"] = "0"
    df.to_csv(path, index=False)
    total2 = sum(int(df.loc[2, c]) for c in pupils)
    assert total2 > 0
    region = load_region(folder)
    report = check(region)
    w = report.tables["warnings"]
    assert list(w.columns) == list(WARNING_COLUMNS)
    got = {(r.row_id, r.column, r.value, r.line) for r in w.itertuples()}
    assert (df.loc[1, "school_id"], "capacity", 300, 3) in got
    assert (df.loc[2, "school_id"], "capacity", 0, 4) in got
    assert set(w["file"]) == {str(path)}
    text = w.set_index("row_id").loc[df.loc[1, "school_id"], "warning"]
    assert "3,000 pupils in a school for 300: 10.0 times its capacity" in text
    assert f"capacity 0 with {plural(total2, 'pupil')}; expected the school's capacity" in set(
        w["warning"]
    )
    summary = report.summary()
    assert "Input warnings: 2 values to check" in summary
    assert f"{path}, line 3: schools {df.loc[1, 'school_id']} capacity" in summary


def test_a_clean_synthetic_region_has_no_warnings():
    region = make_region(schools=300, seed=1)
    assert check(region).tables["warnings"].empty


def test_very_large_school_is_a_warning_not_an_error(region):
    schools = region.schools.copy()
    schools.loc[0, ["pupils_lower_primary", "pupils_upper_primary"]] = [6_000, 6_000]
    schools.loc[0, ["pupils_junior", "pupils_senior"]] = [0, 0]
    schools.loc[0, ["capacity", "classes", "teachers"]] = [12_000, 240, 800]
    w = region_warnings(region.replace(schools=schools))
    assert w[["row_id", "column", "value"]].values.tolist() == [
        [schools.loc[0, "school_id"], "pupils", 12_000]
    ]
    assert f"more than {MAX_SCHOOL_PUPILS:,}" in w["warning"].iloc[0]


def test_zero_classes_and_teachers_with_pupils_are_warnings(region):
    schools = region.schools.copy()
    schools.loc[3, ["classes", "teachers"]] = 0
    schools.loc[3, ["teachers_qualified", "teachers_backbone", "teachers_pe_arts"]] = 0
    pupils = int(schools.loc[3, [c for c in schools if c.startswith("pupils_")]].sum())
    w = region_warnings(schools)  # a schools table alone gets the per-school checks
    assert w[["row_id", "column", "value"]].values.tolist() == [
        [schools.loc[3, "school_id"], "classes", 0],
        [schools.loc[3, "school_id"], "teachers", 0],
    ]
    assert w["warning"].tolist() == [
        f"classes 0 with {plural(pupils, 'pupil')}; expected the school's classes",
        f"teachers 0 with {plural(pupils, 'pupil')}; expected the school's teachers",
    ]


def _far_village(region):
    """A copy of the region with one more village joined to the network by a 500-minute road."""
    graph = nx.Graph(region.roads)
    anchor = region.settlements["node"].iloc[0]
    x, y = graph.nodes[anchor]["x"], graph.nodes[anchor]["y"]
    graph.add_node("far", x=x + 3.0, y=y)
    graph.add_edge(anchor, "far", minutes=500.0)
    village = region.settlements.iloc[[0]].copy()
    village["settlement_id"] = "FAR-VILLAGE"
    village["node"] = "far"
    village["pupils_lower_primary"] = 7
    settlements = pd.concat([region.settlements, village], ignore_index=True)
    return Region(region.schools, settlements, graph, name="far")


def test_a_village_that_reaches_no_school_within_the_limit_is_listed(region, tmp_path):
    far = _far_village(region)
    save_region(far, tmp_path / "far")
    loaded = load_region(tmp_path / "far")
    w = check(loaded).tables["warnings"]
    travel = load_standard("moe2017").travel
    limit = max(
        travel.lower_primary_minutes,
        travel.upper_primary_minutes,
        travel.junior_minutes,
        travel.boarding_minutes,
    )
    assert limit == 90  # boarders' weekly trips
    row = w[w["table"] == "settlements"]
    assert row[["row_id", "column", "value"]].values.tolist() == [["FAR-VILLAGE", "node", "far"]]
    n = int(far.settlements.iloc[-1][[c for c in far.settlements if "pupils" in c]].sum())
    assert row["warning"].iloc[0] == (
        f"{plural(n, 'pupil')} here reach no school within 90 minutes "
        "(the standard's longest travel limit)"
    )
    assert row["file"].iloc[0] == str(tmp_path / "far" / "settlements.csv")
    assert row["line"].iloc[0] == len(far.settlements) + 1
    # independently: the nearest school is 500 minutes plus the anchor's own distance away
    t = far.travel_minutes(["far"], far.schools["node"])
    assert t.nnz and t.data.min() >= 500


def test_a_school_far_from_its_road_node_is_listed(region):
    schools = region.schools.copy()
    schools.loc[5, "x"] = schools.loc[5, "x"] + 12.0  # 12 km east of its node
    w = region_warnings(region.replace(schools=schools))
    assert w[["row_id", "column", "value"]].values.tolist() == [
        [schools.loc[5, "school_id"], "node", schools.loc[5, "node"]]
    ]
    assert "12.0 km from its road node" in w["warning"].iloc[0]
    assert f"more than {SCHOOL_NODE_KM:g} km" in w["warning"].iloc[0]


# --------------------------------------------------------------------------- duplicate roads
def _roads(folder):
    return pd.read_csv(folder / "roads.csv", dtype={"u": str, "v": str})


def test_reversed_road_at_100_times_the_minutes_is_an_error(folder):
    roads = _roads(folder)
    u, v, m = roads.loc[0, "u"], roads.loc[0, "v"], roads.loc[0, "minutes"]
    extra = pd.DataFrame({"u": [v], "v": [u], "minutes": [m * 100]})
    pd.concat([roads, extra]).to_csv(folder / "roads.csv", index=False)
    err = _error(lambda: load_region(folder))
    line = len(roads) + 2
    assert (err.file, err.table, err.row_id, err.column, err.value, err.line) == (
        str(folder / "roads.csv"),
        "roads",
        f"{v}-{u}",
        "minutes",
        m * 100,
        line,
    )
    assert f"lines 2, {line}" in err.message and "both ways round" in err.message
    assert f"duplicate_road_factor={DUPLICATE_ROAD_FACTOR:g}" in err.message


def test_duplicate_road_keeps_the_fastest_and_is_reported(folder, region):
    roads = _roads(folder)
    u, v, m = roads.loc[0, "u"], roads.loc[0, "v"], roads.loc[0, "minutes"]
    # the slower listing first, reversed: the last row must not win, nor the first
    extra = pd.DataFrame({"u": [v, u], "v": [u, v], "minutes": [m * 2.5, m * 1.5]})
    pd.concat([extra, roads]).to_csv(folder / "roads.csv", index=False)
    loaded = load_region(folder)
    assert loaded.roads[u][v]["minutes"] == m
    assert loaded == region  # the same region as before the duplicates
    w = loaded.load_warnings
    assert w[["row_id", "value", "line"]].values.tolist() == [
        [f"{v}-{u}", m * 2.5, 2],
        [f"{u}-{v}", m * 1.5, 3],
    ]
    assert set(w["warning"]) == {
        f"road listed 3 times (both ways round) (lines 2, 3, 4); kept the fastest, {m:g} minutes "
        "on line 4"
    }
    assert check(loaded).tables["warnings"]["line"].tolist()[:2] == [2, 3]


def test_duplicate_road_factor_is_a_parameter(folder):
    roads = _roads(folder)
    u, v, m = roads.loc[0, "u"], roads.loc[0, "v"], roads.loc[0, "minutes"]
    extra = pd.DataFrame({"u": [v], "v": [u], "minutes": [m * 100]})
    pd.concat([roads, extra]).to_csv(folder / "roads.csv", index=False)
    loaded = load_region(folder, duplicate_road_factor=200)
    assert loaded.roads[u][v]["minutes"] == m  # a trip is not 100 times slower
    assert len(loaded.load_warnings) == 1
    err = _error(lambda: load_region(folder, duplicate_road_factor=0.5))
    assert "duplicate_road_factor=0.5; expected a number >= 1" in str(err)


def test_trip_time_is_kept_when_the_same_road_is_listed_slower(folder, region):
    roads = _roads(folder)
    s, t = region.settlements["node"].iloc[0], region.schools["node"].iloc[0]
    before = region.travel_minutes([s], [t]).toarray()[0, 0]
    slower = roads.assign(minutes=roads["minutes"] * 2.9)
    pd.concat([roads, slower]).to_csv(folder / "roads.csv", index=False)
    after = load_region(folder).travel_minutes([s], [t]).toarray()[0, 0]
    assert after == pytest.approx(before)


# --------------------------------------------------------------------------- degrees
def test_node_coordinates_in_degrees_are_refused_with_a_hint(folder):
    path = folder / "nodes.csv"
    nodes = pd.read_csv(path, dtype={"node": str})
    nodes["x"] = 106.0 + nodes["x"] / 96.0  # Chongqing: about 96 km per degree of longitude
    nodes["y"] = 29.0 + nodes["y"] / 111.0
    nodes.to_csv(path, index=False)
    err = _error(lambda: load_region(folder))
    assert (err.file, err.table, err.row_id, err.column, err.line) == (
        str(path),
        "nodes",
        nodes.loc[0, "node"],
        "x",
        2,
    )
    assert err.value == pytest.approx(nodes.loc[0, "x"])
    assert "look like degrees of longitude and latitude" in err.message
    assert "expected km: project them first" in err.message


def test_a_small_region_in_km_near_the_origin_is_not_taken_for_degrees(region):
    # every coordinate within 0..5 km (|x| <= 180, small spread) but the roads run at road speeds
    graph = nx.Graph(region.roads)
    xs = np.array([d["x"] for _, d in graph.nodes(data=True)])
    scale = 5.0 / np.ptp(xs)
    for n in graph.nodes:
        graph.nodes[n]["x"] *= scale
        graph.nodes[n]["y"] *= scale
    for u, v in graph.edges:
        graph[u][v]["minutes"] = max(graph[u][v]["minutes"] * scale, 0.1)
    schools = region.schools.assign(x=region.schools["x"] * scale, y=region.schools["y"] * scale)
    small = region.replace(schools=schools, roads=graph)
    assert small.roads.number_of_nodes() == region.roads.number_of_nodes()


# --------------------------------------------------------------------------- ids are text
IDS = ["NA", "NaN", "None", "null", "0012", "N/A", "nan", "-nan", "<NA>", "#N/A", "'#DIV/0!"]


def _with_ids(region):
    schools = region.schools.copy()
    schools.loc[: len(IDS) - 1, "school_id"] = IDS
    settlements = region.settlements.copy()
    settlements.loc[: len(IDS) - 1, "settlement_id"] = IDS
    return region.replace(schools=schools, settlements=settlements)


def test_ids_are_text_as_written_in_csv(region, tmp_path):
    odd = _with_ids(region)
    save_region(odd, tmp_path / "r")
    loaded = load_region(tmp_path / "r")
    assert loaded.schools["school_id"].tolist()[: len(IDS)] == IDS
    assert loaded.settlements["settlement_id"].tolist()[: len(IDS)] == IDS
    assert loaded == odd


def test_ids_are_text_as_written_in_xlsx(region, tmp_path):
    odd = _with_ids(region)
    save_region(odd, tmp_path / "r.xlsx")
    loaded = load_region(tmp_path / "r.xlsx")
    assert loaded.schools["school_id"].tolist()[: len(IDS)] == IDS
    assert loaded.settlements["settlement_id"].tolist()[: len(IDS)] == IDS


def test_only_an_empty_cell_is_a_missing_id(folder):
    path = folder / "schools.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[3, "school_id"] = ""
    df.to_csv(path, index=False)
    err = _error(lambda: load_region(folder))
    assert (err.file, err.line, err.column) == (str(path), 5, "school_id")
    assert "empty value" in err.message


def test_node_ids_NA_and_None_are_text(region, tmp_path):
    graph = nx.relabel_nodes(nx.Graph(region.roads), {region.schools["node"].iloc[0]: "NA"})
    schools = region.schools.copy()
    schools.loc[0, "node"] = "NA"
    settlements = region.settlements.replace({"node": {region.schools["node"].iloc[0]: "NA"}})
    odd = Region(schools, settlements, graph)
    save_region(odd, tmp_path / "r")
    loaded = load_region(tmp_path / "r")
    assert loaded.schools["node"].iloc[0] == "NA" and loaded.roads.has_node("NA")


# --------------------------------------------------------------------------- sizes
def test_scenario_with_ten_billion_schools_is_refused_with_file_line_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[region]\nschools = 10000000000\n[[steps]]\nplanner = "budget"\n')
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 3)
    assert "region.schools: schools=10,000,000,000; expected from 5 to 20,000" in err.message


@pytest.mark.parametrize(
    ("key", "value", "line_text"),
    [
        ("counties", 5000, "counties=5,000; expected from 1 to 1,000"),
        ("settlements_per_school", 1e9, "settlements_per_school=1000000000.0; expected a number"),
        ("seed", -1, "seed=-1; expected from 0"),
    ],
)
def test_scenario_synthetic_sizes_are_bounded(key, value, line_text):
    text = f'[region]\nschools = 20000\n{key} = {value}\n[[steps]]\nplanner = "budget"\n'
    err = _error(lambda: parse_scenario(text, "s.toml"))
    assert (err.file, err.line) == ("s.toml", 3)
    assert f"region.{key}: {line_text}" in err.message


def test_synth_command_refuses_huge_sizes_with_one_line(tmp_path, capsys):
    out = tmp_path / "x"
    assert main(["synth", str(out), "--schools", "10000000000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "allocator synth: error: column 'schools': schools=10,000,000,000; expected from 5 "
        "to 20,000"
    ]
    assert not out.exists()
    assert main(["synth", str(out), "--schools", "100", "--counties", "5000"]) == 2
    assert "counties=5,000; expected from 1 to 20" in capsys.readouterr().err


def test_make_region_bounds():
    assert check_sizes(MAX_SCHOOLS)[0] == MAX_SCHOOLS
    for kwargs, column in (
        ({"schools": MAX_SCHOOLS + 1}, "schools"),
        ({"schools": 4}, "schools"),
        ({"schools": 2.5}, "schools"),
        ({"schools": True}, "schools"),
        ({"schools": 100, "counties": 0}, "counties"),
        ({"schools": 100, "settlements_per_school": 21}, "settlements_per_school"),
    ):
        err = _error(lambda kwargs=kwargs: make_region(**kwargs))
        assert err.column == column, kwargs


# --------------------------------------------------------------------------- TOML bounds
def _deep_scenario(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("[region]\nschools = 20\nx = " + "[" * 100_000 + "]" * 100_000 + "\n")
    return path


def _dotted_scenario(tmp_path):
    path = tmp_path / "dotted.toml"
    key = ".".join(["k"] * 20_000)
    path.write_text(f"[region]\nschools = 20\n\n{key} = 1\n")
    assert 39_000 < path.stat().st_size < 41_000  # the 40 KB file that took 2.4 GB
    return path


@pytest.mark.parametrize("make", [_deep_scenario, _dotted_scenario])
def test_deep_toml_fails_fast_with_file_and_line(tmp_path, make):
    path = make(tmp_path)
    tracemalloc.start()
    try:
        err = _error(lambda: load_scenario(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.file == str(path)
    assert err.line == (3 if make is _deep_scenario else 4)
    assert f"nested more than {MAX_TOML_DEPTH} levels deep" in err.message
    assert peak < 20_000_000  # bytes: no gigabytes of key paths


def test_deep_standard_and_catalogue_files_fail_the_same_way(tmp_path):
    deep = "a = " + "[" * 100_000 + "]" * 100_000 + "\n"
    for name, call in (
        ("std.toml", lambda p: load_standard(p)),
        ("cat.toml", lambda p: read_toml(p)),
    ):
        path = tmp_path / name
        path.write_text(deep)
        err = _error(lambda call=call, path=path: call(path))
        assert (err.file, err.line) == (str(path), 1)
        assert "nested more than 32 levels deep" in err.message


def test_toml_over_one_megabyte_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text("# padding\n" * (MAX_TOML_BYTES // 10 + 1))
    err = _error(lambda: load_scenario(path))
    assert err.file == str(path)
    assert f"{path.stat().st_size:,} bytes; expected a scenario file of at most 1,000,000" in str(
        err
    )


def test_set_value_too_deep_is_refused():
    err = _error(lambda: parse_assignment("region.schools=" + "[" * 5000 + "]" * 5000))
    assert err.file == "--set region.schools" and "nested more than 32" in err.message


def test_real_scenarios_and_standards_are_within_the_bounds():
    from pathlib import Path

    root = Path(__file__).parents[1]
    files = [*root.glob("scenarios/*.toml"), *root.glob("allocator/data/*.toml")]
    assert files
    for f in files:
        check_toml_bounds(f.read_text(encoding="utf-8"), f)


def _nested(kinds):
    text = "v = "
    for k in kinds:
        text += "[" if k == "array" else "{ a = "
    text += "1"
    for k in reversed(kinds):
        text += "]" if k == "array" else " }"
    return text


@given(st.lists(st.sampled_from(["array", "table"]), max_size=60))
def test_nesting_beyond_the_limit_is_always_refused(kinds):
    # true depth: the key, then one level per array or inline table
    depth = 1 + len(kinds)
    text = _nested(kinds)
    if depth > MAX_TOML_DEPTH:
        with pytest.raises(InputError, match="nested more than 32"):
            check_toml_bounds(text, "t.toml")
    elif depth <= MAX_TOML_DEPTH // 2:
        check_toml_bounds(text, "t.toml")  # inline tables count at most twice


@given(st.integers(1, 60), st.integers(0, 3))
def test_headers_and_dotted_keys_count_their_levels(header, key):
    text = "[" + ".".join(["t"] * header) + "]\n" + ".".join(["k"] * (key + 1)) + " = 1\n"
    if header + key + 1 > MAX_TOML_DEPTH:
        with pytest.raises(InputError) as info:
            check_toml_bounds(text, "t.toml")
        assert info.value.line == (1 if header > MAX_TOML_DEPTH else 2)
    else:
        check_toml_bounds(text, "t.toml")


def test_strings_and_comments_do_not_count(tmp_path):
    text = 'a = "' + "[" * 100 + '"  # ' + "{" * 100 + "\nb = '''" + "." * 100 + "'''\n"
    check_toml_bounds(text, "t.toml")


# --------------------------------------------------------------------------- scenario errors
SCENARIO = '[region]\nschools = 20\nseed = 1\n[[steps]]\nplanner = "{planner}"\n{key}\n'


def test_catalogue_that_is_not_a_catalogue_file_is_named_at_load(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        SCENARIO.format(planner="budget", key='catalogue = "/etc/passwd"\nbudget = 1e6')
    )
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 6)
    assert err.message == (
        "steps[1].catalogue: /etc/passwd, table 'catalogue': expected a catalogue .csv or "
        ".toml file"
    )


def test_catalogue_csv_that_does_not_parse_is_named(tmp_path):
    bad = tmp_path / "cat.csv"
    bad.write_text('intervention,effect\n"a,1\nb,2,3,4\n')
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(planner="budget", key=f'catalogue = "{bad}"\nbudget = 1e6'))
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 6)
    assert err.message.startswith(f"steps[1].catalogue: {bad}, table 'catalogue': cannot read")


def test_catalogue_in_toml(tmp_path):
    from allocator.planners.budget.catalogue import load_catalogue

    cat = tmp_path / "cat.toml"
    cat.write_text(
        '[[interventions]]\nintervention = "more_rooms"\nindicator = "sports_m2_per_pupil"\n'
        "effect = 1\ncost_urban = 80000\ninteger = true\n"
    )
    df = load_catalogue(cat)
    assert df["intervention"].tolist() == ["more_rooms"]
    assert df["cost_rural"].tolist() == [80000.0] and df["integer"].tolist() == [True]
    cat.write_text("[x]\ny = 1\n")
    err = _error(lambda: load_catalogue(cat))
    assert err.file == str(cat) and "found 'x'" in err.message


def test_unknown_school_in_must_keep_names_file_line_and_key(tmp_path):
    from allocator.pipeline import run_scenario

    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(planner="mergers", key='must_keep = ["nope"]'))
    err = _error(lambda: run_scenario(path, write=False))
    assert (err.file, err.line) == (str(path), 6)
    assert (
        err.message
        == "steps[1].must_keep: must_keep=['nope']; expected ids of schools in the region"
    )


def test_unknown_category_names_file_line_and_key(tmp_path):
    from allocator.pipeline import run_scenario

    path = tmp_path / "s.toml"
    path.write_text(
        SCENARIO.format(planner="budget", key="budget = 1e6\n\ncategory_caps = { nosuch = 100 }")
    )
    err = _error(lambda: run_scenario(path, write=False))
    assert (err.file, err.line) == (str(path), 8)
    assert err.message.startswith("steps[1].category_caps.nosuch: unknown category 'nosuch'")


def test_an_error_a_variant_causes_points_at_the_variant(tmp_path):
    from allocator.pipeline import run_scenario

    path = tmp_path / "s.toml"
    path.write_text(
        SCENARIO.format(planner="mergers", key="")
        + '[[variants]]\nname = "keep"\nsteps.mergers.must_keep = ["nope"]\n'
    )
    err = _error(lambda: run_scenario(path, write=False, variant="keep"))
    assert (err.file, err.line) == (str(path), 9)
    assert err.message.startswith("variants[1].steps.mergers.must_keep: must_keep=['nope']")


# --------------------------------------------------------------------------- message hygiene
def test_messages_print_plain_numbers(region):
    schools = region.schools.copy()
    schools["teachers"] = schools["teachers"].astype(np.int64)
    schools.loc[1, "teachers"] = -45
    err = _error(lambda: region.replace(schools=schools))
    assert err.message == "negative value -45; expected a count >= 0"
    assert type(err.value) is int and type(err.row_id) is str


def test_plurals_and_plain():
    assert [plural(1, "county"), plural(2, "county"), plural(1, "school")] == [
        "1 county",
        "2 counties",
        "1 school",
    ]
    assert repr(plain(np.int64(-45))) == "-45"


def test_region_repr_uses_plurals(region):
    one = region.replace(schools=region.schools.iloc[:1], settlements=region.settlements.iloc[:1])
    assert repr(one).startswith(f"Region({region.name!r}: 1 school, 1 settlement, ")


def test_scenario_sets_the_duplicate_road_factor(folder, tmp_path):
    roads = _roads(folder)
    u, v, m = roads.loc[0, "u"], roads.loc[0, "v"], roads.loc[0, "minutes"]
    extra = pd.DataFrame({"u": [v], "v": [u], "minutes": [m * 10]})
    pd.concat([roads, extra]).to_csv(folder / "roads.csv", index=False)
    text = f'[region]\ndata = "{folder}"\n{{}}\n[[steps]]\nplanner = "mergers"\n'
    err = _error(lambda: load_scenario(tmp_path / "s.toml").region.load())
    assert err.file == str(tmp_path / "s.toml")  # no file yet: says so
    path = tmp_path / "s.toml"
    path.write_text(text.format(""))
    err = _error(lambda: load_scenario(path).region.load())
    assert (err.file, err.column, err.value) == (str(folder / "roads.csv"), "minutes", m * 10)
    path.write_text(text.format("duplicate_road_factor = 20"))
    region = load_scenario(path).region.load()
    assert region.roads[u][v]["minutes"] == m and len(region.load_warnings) == 1
    path.write_text(text.format("duplicate_road_factor = 0.5"))
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 3)
    assert err.message == "region.duplicate_road_factor: expected a number >= 1, got 0.5"
    path.write_text(
        '[region]\nschools = 20\nduplicate_road_factor = 5\n[[steps]]\nplanner = "mergers"\n'
    )
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 3)
    assert "not to a synthetic one" in err.message


def test_catalogue_file_with_a_bad_row_is_named_at_load(tmp_path):
    bad = tmp_path / "cat.csv"
    bad.write_text("intervention,indicator,effect,cost_urban\nrooms,floor_m2_per_pupil,-1,5\n")
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(planner="budget", key=f'budget = 1e6\ncatalogue = "{bad}"'))
    err = _error(lambda: load_scenario(path))
    assert (err.file, err.line) == (str(path), 7)
    assert err.message == (
        f"steps[1].catalogue: {bad}, table 'catalogue', column 'effect': intervention 'rooms': "
        "effect=-1.0; expected a number > 0"
    )


def test_a_hand_made_grid_with_slow_roads_is_not_taken_for_degrees(region):
    # whole-number coordinates a few km apart and 100-minute roads (0.6 km/h in a straight line)
    graph = nx.Graph()
    graph.add_nodes_from(
        [("A", {"x": 0, "y": 0}), ("B", {"x": 1, "y": 0}), ("C", {"x": 1, "y": 1})]
    )
    graph.add_edge("A", "B", minutes=100.0)
    graph.add_edge("B", "C", minutes=100.0)
    schools = region.schools.iloc[:1].assign(node="A", x=0.0, y=0.0)
    settlements = region.settlements.iloc[:1].assign(node="C")
    toy = Region(schools, settlements, graph)
    assert toy.travel_minutes(["C"], ["A"]).toarray()[0, 0] == 200.0
    # the same shape in degrees (fractional, a fraction of a degree apart) is refused
    graph = nx.relabel_nodes(graph, {})
    for n, (x, y) in zip("ABC", [(106.51, 29.52), (106.53, 29.52), (106.53, 29.55)], strict=True):
        graph.nodes[n].update(x=x, y=y)
    err = _error(lambda: Region(schools, settlements, graph))
    assert (err.table, err.column, err.row_id, err.value) == ("nodes", "x", "A", 106.51)


@given(
    st.lists(
        st.tuples(st.integers(0, 3_000), st.integers(0, 3_000), st.integers(0, 80)),
        min_size=1,
        max_size=12,
    )
)
def test_capacity_class_and_teacher_warnings_match_a_recount(rows):
    schools = pd.DataFrame(
        {
            "school_id": [f"S{i}" for i in range(len(rows))],
            "pupils_lower_primary": [p for p, _, _ in rows],
            "pupils_upper_primary": 0,
            "pupils_junior": 0,
            "pupils_senior": 0,
            "capacity": [c for _, c, _ in rows],
            "classes": [k for _, _, k in rows],
            "teachers": [k for _, _, k in rows],
        }
    )
    w = region_warnings(schools)
    expected = set()
    for i, (p, c, k) in enumerate(rows):
        if p > MAX_SCHOOL_PUPILS:
            expected.add((f"S{i}", "pupils"))
        if p > 0 and (c == 0 or p > 2 * c):
            expected.add((f"S{i}", "capacity"))
        for column in ("classes", "teachers"):
            if p > 0 and (k == 0 or p > 100 * k):
                expected.add((f"S{i}", column))
    assert set(zip(w["row_id"], w["column"], strict=True)) == expected
    assert len(w) == len(expected)


@pytest.mark.parametrize(
    ("make", "line"),
    [
        (_deep_scenario, 3),
        (_dotted_scenario, 4),
    ],
)
def test_run_command_refuses_deep_toml_with_one_line(tmp_path, capsys, make, line):
    path = make(tmp_path)
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"allocator run: error: {path}, line {line}: nested more than 32 levels deep; expected at "
        "most 32 levels (tables, dotted keys, arrays and inline tables)"
    ]
    assert not (tmp_path / "out").exists()


def test_run_command_names_the_must_keep_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(planner="mergers", key='must_keep = ["nope"]'))
    assert main(["run", str(path), "--quiet", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"allocator run: error: {path}, line 6: steps[1].must_keep: must_keep=['nope']; expected "
        "ids of schools in the region"
    ]


def test_set_key_too_deep_is_refused():
    err = _error(lambda: parse_assignment("k" + ".k" * 20_000 + "=1"))
    assert err.message == "--set: a key of 20,001 levels; expected at most 32"
    assert parse_assignment(".".join(["k"] * 32) + "=1")  # at the limit: accepted
