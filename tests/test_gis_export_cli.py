"""GIS import configs, ``allocator import-gis``, scenarios naming a config, and GeoPackage output."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import LineString, Point

from allocator.cli import main
from allocator.errors import InputError
from allocator.gis import region_from_config, to_geodataframes, write_geopackage
from allocator.gis.config import read_config
from allocator.io import load_region
from allocator.synth import make_region

X0, Y0 = 500100.0, 3300000.0


def _county(tmp_path):
    """Two roads 300 m and 400 m long, a school at the far end, two villages; Chinese headers."""
    roads = gpd.GeoDataFrame(
        {"等级": ["footway", "footway"]},
        geometry=[
            LineString([(X0, Y0), (X0 + 300, Y0)]),
            LineString([(X0 + 300, Y0), (X0 + 300, Y0 + 400)]),
        ],
        crs=32650,
    )
    schools = gpd.GeoDataFrame(
        {"学校名称": ["城关小学", "城关初级中学"], "在校生数": [200, 150]},
        geometry=[Point(X0 + 300, Y0 + 400), Point(X0 + 290, Y0 + 10)],
        crs=32650,
    )
    villages = gpd.GeoDataFrame(
        {"村名": ["上村", "下村"], "人口": [1000, 400]},
        geometry=[Point(X0, Y0 + 30), Point(X0 + 300, Y0 + 200)],
        crs=32650,
    ).to_crs(4326)
    roads.to_file(tmp_path / "county.gpkg", layer="roads")
    schools.to_file(tmp_path / "county.gpkg", layer="schools")
    villages.to_file(tmp_path / "villages.shp", encoding="gbk")
    (tmp_path / "villages.cpg").unlink()
    config = tmp_path / "county.toml"
    config.write_text(
        """name = "城关县"
profile = "walk"
county = "城关县"
area_type = "rural"
max_snap_m = 500

[roads]
source = "county.gpkg"
layer = "roads"
columns = { "等级" = "highway" }

[schools]
source = "county.gpkg"
layer = "schools"
columns = { "学校名称" = "name", "在校生数" = "pupils" }

[settlements]
source = "villages.shp"
columns = { "村名" = "settlement_id", "人口" = "population" }
""",
        encoding="utf-8",
    )
    return config


def test_config_builds_the_region(tmp_path):
    result = region_from_config(_county(tmp_path))
    region = result.region
    assert region.name == "城关县"
    assert region.schools["level"].tolist() == ["primary", "junior"]
    assert region.schools["area_type"].eq("rural").all()
    assert region.settlements["settlement_id"].tolist() == ["上村", "下村"]
    minutes = region.travel_minutes(region.settlements["node"], region.schools["node"]).toarray()
    # 上村 snaps to the start (30 m): 300 m + 400 m to the primary school, 300 m to the junior
    assert minutes[0] == pytest.approx([700 / 4500 * 60, 4.0])


def test_import_gis_command_writes_a_loadable_folder(tmp_path, capsys):
    config = _county(tmp_path)
    out = tmp_path / "region"
    gpkg = tmp_path / "region.gpkg"
    assert main(["import-gis", str(config), "--out", str(out), "--gpkg", str(gpkg)]) == 0
    printed = capsys.readouterr().out
    assert "filled with defaults:" in printed and "schools.teachers (2)" in printed
    region = load_region(out)
    assert len(region.schools) == 2 and len(region.settlements) == 2
    filled = pd.read_csv(out / "filled.csv")
    assert {"table", "row_id", "column", "value", "rule"} <= set(filled.columns)
    assert (out / "crs.txt").read_text().strip() == "EPSG:32650"
    layers = dict(pyogrio.list_layers(gpkg))
    assert set(layers) == {"schools", "settlements", "roads"}
    schools = gpd.read_file(gpkg, layer="schools")
    assert schools.crs.to_epsg() == 32650
    assert (schools.geometry.x[0], schools.geometry.y[0]) == pytest.approx((X0 + 300, Y0 + 400))


def test_import_gis_bad_config_is_one_line_and_status_2(tmp_path, capsys):
    config = _county(tmp_path)
    text = config.read_text(encoding="utf-8").replace(
        '"人口" = "population"', '"人口数" = "population"'
    )
    config.write_text(text, encoding="utf-8")
    assert main(["import-gis", str(config), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'人口数'" in err and "villages.shp" in err
    assert not (tmp_path / "x").exists()


def test_config_errors_name_the_key(tmp_path):
    config = _county(tmp_path)
    config.write_text(config.read_text(encoding="utf-8") + "\nspeed = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown key 'speed'"):
        read_config(config)
    config.write_text('roads = "missing.osm"\n', encoding="utf-8")
    with pytest.raises(InputError, match="roads.source .*missing.osm' does not exist"):
        read_config(config)


def test_scenario_may_name_a_gis_config(tmp_path):
    from allocator.scenario import load_scenario

    _county(tmp_path)
    scenario = tmp_path / "plan.toml"
    scenario.write_text(
        'name = "x"\n[region]\ndata = "county.toml"\n[[steps]]\nplanner = "districts"\n',
        encoding="utf-8",
    )
    region = load_scenario(scenario).region.load()
    assert len(region.schools) == 2 and region.name == "城关县"


@pytest.mark.slow
def test_region_and_plan_layers(tmp_path):
    from allocator.planners.districts import DistrictPolicy, plan_districts
    from allocator.planners.mergers import plan_mergers

    region = make_region(schools=60, seed=1)
    layers = to_geodataframes(region, crs="EPSG:32648")
    schools = layers["schools"]
    assert schools.geometry.x.to_numpy() == pytest.approx(region.schools["x"].to_numpy() * 1000)
    roads = layers["roads"]
    assert len(roads) == region.roads.number_of_edges()
    u, v = roads["u"].iloc[0], roads["v"].iloc[0]
    for end, node in zip(roads.geometry.iloc[0].coords, (u, v), strict=True):
        xy = region.roads.nodes[node]
        assert end == pytest.approx((xy["x"] * 1000, xy["y"] * 1000))
    # settlements without x / y sit on their road node
    s = layers["settlements"].iloc[0]
    assert s.geometry.x == pytest.approx(region.roads.nodes[s["node"]]["x"] * 1000)

    plan = plan_mergers(region)
    merged = to_geodataframes(plan, region, crs="EPSG:32648")
    closures = merged["closures"]
    assert len(closures) == len(plan.closures) > 0
    xy = region.schools.set_index("school_id")[["x", "y"]] * 1000
    line = closures.geometry.iloc[0]
    row = plan.closures.iloc[0]
    assert line.coords[0] == pytest.approx(tuple(xy.loc[row["school_id"]]))
    assert line.coords[-1] == pytest.approx(tuple(xy.loc[row["receiving_school_id"]]))

    policy = DistrictPolicy(method="heuristic", starts=1)  # no solver clock in the test
    districts = to_geodataframes(plan_districts(region, policy), region, crs="EPSG:32648")
    polys = districts["districts_polygons"]
    multi = districts["districts_multipoints"]
    assert len(polys) == len(multi) == districts["districts"]["district"].nunique()
    # each district polygon holds its own schools and no other district's school
    for poly, points, name in zip(polys.geometry, multi.geometry, multi["district"], strict=True):
        assert poly.buffer(1e-6).contains(points)
        others = multi[multi["district"] != name].geometry
        assert not any(poly.buffer(-1e-6).contains(o) for o in others)
    # polygons do not overlap
    area = sum(p.area for p in polys.geometry)
    assert area == pytest.approx(polys.geometry.union_all().area, rel=1e-9)

    path = write_geopackage({**layers, **merged}, tmp_path / "plan.gpkg")
    back = gpd.read_file(path, layer="closures")
    assert np.allclose(back.geometry.length, closures.geometry.length)


def test_a_region_from_csv_needs_a_crs_to_export():
    with pytest.raises(InputError, match="give crs="):
        to_geodataframes(make_region(schools=60, seed=1))


def test_the_command_line_does_not_load_the_gis_stack():
    import subprocess
    import sys

    code = (
        "import sys; from allocator.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('geopandas', 'pyproj', 'shapely', 'pyrosm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
