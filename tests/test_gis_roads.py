"""Road graphs from OSM XML and line layers: minutes, cleaning and snapping against known answers."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod
from shapely.geometry import LineString, Point

from allocator.errors import InputError
from allocator.gis import Layer, region_from_layers
from allocator.gis.crs import metric_crs
from allocator.gis.osm import network_from_osm
from allocator.gis.roads import PROFILES, build_network, profile_of

SMALL_OSM = Path(__file__).parent / "data" / "gis" / "small.osm"
GEOD = Geod(ellps="WGS84")
LONLAT = {1: (106.500, 29.500), 2: (106.503, 29.500), 3: (106.503, 29.503), 5: (106.506, 29.503)}


def _metres(a, b):
    return GEOD.inv(*LONLAT[a], *LONLAT[b])[2]


def test_small_osm_cleaning_counts():
    net = network_from_osm(SMALL_OSM, metric_crs(106.5, 29.5), "walk")
    assert net.stats == {
        "segments_read": 7,
        "excluded_class": 1,  # the motorway, for walking
        "zero_length_merged": 1,  # nodes 3 and 4 share a position
        "loops": 0,
        "duplicates": 1,  # way 103 reverses 102 (steps, slower)
        "nodes_cut_off": 2,  # way 107 is not connected
        "parts": 2,
        "parts_kept": 1,
        "nodes": 4,
        "edges": 3,
    }
    assert sorted(net.graph.nodes) == ["1", "2", "3", "5"]
    every = network_from_osm(SMALL_OSM, metric_crs(106.5, 29.5), "walk", keep="all")
    assert every.stats["nodes_cut_off"] == 0 and every.stats["nodes"] == 6
    assert every.stats["edges"] == 4 and every.stats["parts_kept"] == 2
    assert every.part_of(["1", "2", "3", "5"]).tolist() == [0, 0, 0, 0]


def test_small_osm_minutes_on_a_two_edge_path_keep_the_fastest_duplicate():
    net = network_from_osm(SMALL_OSM, metric_crs(106.5, 29.5), "walk")
    g = net.graph
    # footway 2-3 walked at 4.5 km/h, not the steps (2 km/h) of the reversed duplicate
    assert g.edges["2", "3"]["minutes"] == pytest.approx(60 * _metres(2, 3) / 4500, rel=1e-3)
    assert g.edges["2", "3"]["highway"] == "footway"
    path = g.edges["1", "2"]["minutes"] + g.edges["2", "3"]["minutes"]
    assert path == pytest.approx(60 * (_metres(1, 2) + _metres(2, 3)) / 4500, rel=1e-3)
    # driving: residential 25 km/h; footways are not for cars (3 and 5 drop), the motorway is
    drive = network_from_osm(SMALL_OSM, metric_crs(106.5, 29.5), "drive").graph
    assert sorted(drive.nodes) == ["1", "2", "7"]
    assert drive.edges["1", "2"]["minutes"] == pytest.approx(60 * _metres(1, 2) / 25000, rel=1e-3)


def test_build_network_hand_computed():
    # 0 -300 m- 1 -400 m- 2, a reversed duplicate of 1-2 on steps, a loop, a far-away pair
    xy = np.array([[0, 0], [300, 0], [300, 400], [5000, 5000], [5100, 5000]], dtype=float)
    net = build_network(
        list("abcde"),
        xy,
        [0, 1, 2, 1, 3],
        [1, 2, 1, 1, 4],
        np.array([300.0, 400.0, 400.0, 0.0, 100.0]),
        highway=["footway", "footway", "steps", "footway", "footway"],
        crs=32650,
    )
    assert net.graph.edges["a", "b"]["minutes"] == pytest.approx(4.0)
    assert net.graph.edges["b", "c"]["minutes"] == pytest.approx(400 / 4500 * 60)
    assert net.stats["duplicates"] == 1 and net.stats["nodes_cut_off"] == 2
    assert net.graph.nodes["c"]["x"] == pytest.approx(0.3) and net.graph.nodes["c"]["y"] == 0.4
    nodes, dist = net.snap(np.array([[290.0, 390.0], [0.0, 30.0]]))
    assert nodes.tolist() == ["c", "a"]
    assert dist == pytest.approx([np.sqrt(200.0), 30.0])


def test_slope_factor_is_tobler_symmetrised():
    xy = np.array([[0, 0], [100, 0]], dtype=float)
    flat = build_network(["a", "b"], xy, [0], [1], np.array([100.0]), crs=32650)
    hill = build_network(
        ["a", "b"], xy, [0], [1], np.array([100.0]), crs=32650, z=np.array([0.0, 10.0])
    )
    factor = (np.exp(3.5 * 0.15) + np.exp(3.5 * 0.05)) / 2 / np.exp(3.5 * 0.05)
    ratio = hill.graph.edges["a", "b"]["minutes"] / flat.graph.edges["a", "b"]["minutes"]
    assert ratio == pytest.approx(factor)
    drive = build_network(
        ["a", "b"], xy, [0], [1], np.array([100.0]), crs=32650, z=np.array([0.0, 10.0]),
        profile="drive",
    )  # fmt: skip
    assert drive.graph.edges["a", "b"]["minutes"] == pytest.approx(60 * 0.1 / 30.0)


def test_maxspeed_lowers_a_driving_speed_never_raises_it():
    xy = np.array([[0, 0], [1000, 0], [2000, 0]], dtype=float)
    net = build_network(
        ["a", "b", "c"], xy, [0, 1], [1, 2], np.array([1000.0, 1000.0]), crs=32650,
        highway=["primary", "residential"], maxspeed=["30", "80"], profile="drive",
    )  # fmt: skip
    assert net.graph.edges["a", "b"]["minutes"] == pytest.approx(2.0)  # 30 km/h, not 60
    assert net.graph.edges["b", "c"]["minutes"] == pytest.approx(60 / 25)  # class speed 25


def test_profiles_and_overrides():
    assert PROFILES["school_bus"].speed("primary") == pytest.approx(48.0)
    assert profile_of("walk", {"footway": 5.0}).speed("footway") == 5.0
    with pytest.raises(InputError, match="unknown speed profile 'boat'"):
        profile_of("boat")


def _gpkg(tmp_path):
    """Roads, schools and villages in UTM 50N (metres) with Chinese headers."""
    x0, y0 = 500100.0, 3300000.0
    roads = gpd.GeoDataFrame(
        {"道路等级": ["footway", "footway", "steps"]},
        geometry=[
            LineString([(x0, y0), (x0 + 300, y0)]),
            LineString([(x0 + 300, y0), (x0 + 300, y0 + 400)]),
            LineString([(x0 + 300, y0 + 400), (x0 + 300, y0)]),  # reversed duplicate, slower
        ],
        crs=32650,
    )
    schools = gpd.GeoDataFrame(
        {"学校代码": ["X1"], "学校名称": ["城关小学"], "在校生数": [200]},
        geometry=[Point(x0 + 290, y0 + 390)],
        crs=32650,
    )
    villages = gpd.GeoDataFrame(
        {"村名": ["上村"], "人口": [1000]}, geometry=[Point(x0, y0 + 30)], crs=32650
    )
    path = tmp_path / "county.gpkg"
    roads.to_file(path, layer="roads")
    schools.to_file(path, layer="schools")
    villages.to_file(path, layer="villages")
    return path


def test_region_from_geopackage_known_answers(tmp_path):
    path = _gpkg(tmp_path)
    result = region_from_layers(
        Layer(path, layer="schools", columns={"学校代码": "school_id", "学校名称": "name",
                                              "在校生数": "pupils"}),
        Layer(path, layer="villages", columns={"村名": "settlement_id", "人口": "population"}),
        Layer(path, layer="roads", columns={"道路等级": "highway"}),
        county="城关县",
    )  # fmt: skip
    assert result.crs.to_epsg() == 32650
    region = result.region
    school = region.schools.iloc[0]
    assert school["school_id"] == "X1" and school["level"] == "primary"  # from 小学
    assert school["snap_m"] == pytest.approx(14.1)
    assert region.settlements.iloc[0]["snap_m"] == pytest.approx(30.0)
    assert school["x"] == pytest.approx(500.390) and school["y"] == pytest.approx(3300.390)
    minutes = region.travel_minutes(region.settlements["node"], region.schools["node"])
    assert minutes.toarray()[0, 0] == pytest.approx(4.0 + 400 / 4500 * 60)
    assert result.tables["roads"].iloc[0]["duplicates"] == 1
    # 200 pupils split 0.0384 : 0.0369 over grades 1-3 and 4-6; 1000 people x age shares
    assert (school["pupils_lower_primary"], school["pupils_upper_primary"]) == (102, 98)
    village = region.settlements.iloc[0]
    assert village[["pupils_lower_primary", "pupils_junior"]].tolist() == [38, 36]
    snap = result.tables["snapping"]
    assert snap["distance_m"].tolist() == pytest.approx([14.14, 30.0])


def test_far_points_are_refused_flagged_or_dropped(tmp_path):
    path = _gpkg(tmp_path)
    far = gpd.GeoDataFrame(
        {"settlement_id": ["near", "far"], "population": [500, 500]},
        geometry=[Point(500100, 3300030), Point(500100 - 250, 3300000 + 200)],
        crs=32650,
    )
    args = (Layer(path, layer="schools", columns={"在校生数": "pupils"}), far)
    roads = Layer(path, layer="roads")
    with pytest.raises(InputError, match=r"320 m from the nearest road node.*max_snap_m = 300"):
        region_from_layers(*args, roads, max_snap_m=300)
    flagged = region_from_layers(*args, roads, max_snap_m=300, far="flag")
    assert flagged.tables["snapping"]["flagged"].tolist() == [False, False, True]
    assert len(flagged.region.settlements) == 2
    dropped = region_from_layers(*args, roads, max_snap_m=300, far="drop")
    assert dropped.region.settlements["settlement_id"].tolist() == ["near"]


def test_points_outside_the_road_extent_get_one_line(tmp_path):
    path = _gpkg(tmp_path)
    away = gpd.GeoDataFrame(
        {"population": [100]}, geometry=[Point(106.9, 29.9)], crs=4326
    )  # about 80 km away
    with pytest.raises(InputError) as err:
        region_from_layers(Layer(path, layer="schools", columns={"在校生数": "pupils"}), away,
                           Layer(path, layer="roads"))  # fmt: skip
    message = str(err.value)
    assert "outside the road network's extent" in message and "\n" not in message
    assert "lon 106.900000, lat 29.900000" in message and "table 'settlements'" in message


def test_osmnx_graph_uses_edge_lengths_and_elevation():
    import networkx as nx

    from allocator.gis.roads import network_from_osmnx

    g = nx.MultiDiGraph()
    g.add_node(1, x=106.500, y=29.500, elevation=200.0)
    g.add_node(2, x=106.503, y=29.500, elevation=200.0)
    g.add_node(3, x=106.503, y=29.503, elevation=260.0)
    g.add_edge(1, 2, highway="residential", length=350.0)  # curved: longer than the chord
    g.add_edge(2, 1, highway="residential", length=350.0)  # osmnx stores both directions
    g.add_edge(2, 3, highway=["footway", "path"], length=332.0)
    net = network_from_osmnx(g, metric_crs(106.5, 29.5), "walk")
    assert net.stats["duplicates"] == 1
    assert net.graph.edges["1", "2"]["minutes"] == pytest.approx(60 * 0.350 / 4.5)
    grade = 60.0 / 332.0
    factor = (np.exp(3.5 * abs(grade + 0.05)) + np.exp(3.5 * abs(-grade + 0.05))) / 2
    expected = 60 * 0.332 / 4.5 * factor / np.exp(3.5 * 0.05)
    assert net.graph.edges["2", "3"]["minutes"] == pytest.approx(expected)
    assert net.graph.edges["2", "3"]["highway"] == "footway"


def test_line_layer_given_speeds_minutes_and_3d_slope():
    from allocator.gis.roads import network_from_lines

    lines = gpd.GeoDataFrame(
        {"speed_kmh": [30.0, np.nan, np.nan], "minutes": [np.nan, 7.5, np.nan]},
        geometry=[
            LineString([(0, 0, 0), (1000, 0, 0)]),
            LineString([(1000, 0, 0), (1000, 1000, 0)]),
            LineString([(1000, 1000, 0), (1000.2, 1100, 10)]),  # ends 0.2 m off the grid
        ],
        crs=32650,
    )
    net = network_from_lines(lines, 32650, "walk")
    minutes = sorted(round(m, 6) for _, _, m in net.graph.edges(data="minutes"))
    grade = 10 / np.hypot(0.2, 100)
    factor = (np.exp(3.5 * abs(grade + 0.05)) + np.exp(3.5 * abs(-grade + 0.05))) / 2
    slope = 60 * np.hypot(0.2, 100) / 4500 * factor / np.exp(3.5 * 0.05)
    assert minutes == pytest.approx(sorted([2.0, 7.5, slope]), abs=1e-6)
    with pytest.raises(InputError, match="Point geometry in the roads layer; expected lines"):
        network_from_lines(gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=32650), 32650)


def test_boundaries_fill_county_and_township(tmp_path):
    from shapely.geometry import box

    path = _gpkg(tmp_path)
    x0, y0 = 500100.0, 3300000.0
    towns = gpd.GeoDataFrame(
        {"县": ["甲县", "甲县"], "乡镇": ["东镇", "西镇"]},
        geometry=[box(x0 - 1000, y0 - 1000, x0 + 150, y0 + 1000),
                  box(x0 + 150, y0 - 1000, x0 + 1000, y0 + 1000)],
        crs=32650,
    )  # fmt: skip
    result = region_from_layers(
        Layer(path, layer="schools", columns={"在校生数": "pupils"}),
        Layer(path, layer="villages", columns={"人口": "population"}),
        Layer(path, layer="roads"),
        boundaries=Layer(towns, columns={"县": "county", "乡镇": "township"}),
    )
    assert result.region.schools["township"].tolist() == ["西镇"]
    assert result.region.settlements[["county", "township"]].values.tolist() == [["甲县", "东镇"]]
    filled = result.tables["filled"]
    assert not ((filled["column"] == "township") & (filled["table"] == "schools")).any()


def test_settlements_from_building_footprints_and_from_a_population_grid(tmp_path):
    from shapely.geometry import box

    path = _gpkg(tmp_path)
    x0, y0 = 500100.0, 3300000.0
    schools = Layer(path, layer="schools", columns={"在校生数": "pupils"})
    roads = Layer(path, layer="roads")
    # a 50 m x 40 m block of 4 floors: 2000 m2 x 4 / 40 m2 = 200 people; a 2-floor default one
    buildings = gpd.GeoDataFrame(
        {"floors": ["4", None]},
        geometry=[
            box(x0 + 10, y0 + 10, x0 + 60, y0 + 50),
            box(x0 + 100, y0 + 5, x0 + 120, y0 + 25),
        ],
        crs=32650,
    )
    result = region_from_layers(schools, buildings, roads, default_floors=2, m2_per_person=40)
    villages = result.region.settlements
    assert villages.iloc[0][["pupils_lower_primary", "pupils_upper_primary", "pupils_junior",
                             "pupils_senior"]].tolist() == [8, 7, 7, 6]  # fmt: skip
    assert villages["population"].tolist() == pytest.approx([200.0, 20.0])
    assert villages.iloc[0]["x"] == pytest.approx(500.135)  # the footprint's centroid
    # a population grid: cells with a population column are settlements at their centres
    grid = gpd.GeoDataFrame(
        {"population": [1000.0, 0.0]},
        geometry=[box(x0, y0, x0 + 100, y0 + 100), box(x0 + 200, y0, x0 + 300, y0 + 100)],
        crs=32650,
    )
    cells = region_from_layers(schools, grid, roads).region.settlements
    assert cells["pupils_lower_primary"].tolist() == [38, 0]
    assert cells["snap_m"].tolist() == pytest.approx([np.hypot(50, 50), np.hypot(50, 50)], abs=0.1)


def test_points_nearest_a_cut_off_road_are_reported(tmp_path):
    path = _gpkg(tmp_path)
    x0, y0 = 500100.0, 3300000.0
    island = gpd.GeoDataFrame(
        {"道路等级": ["footway"]},
        geometry=[LineString([(x0 + 600, y0 + 300), (x0 + 600, y0 + 420)])],
        crs=32650,
    )
    roads = pd.concat([gpd.read_file(path, layer="roads"), island], ignore_index=True)
    villages = gpd.GeoDataFrame(
        {"population": [100, 100]},
        geometry=[Point(x0 + 10, y0 + 10), Point(x0 + 590, y0 + 410)],
        crs=32650,
    )
    result = region_from_layers(
        Layer(path, layer="schools", columns={"在校生数": "pupils"}), villages, roads
    )
    snap = result.tables["snapping"]
    assert result.tables["roads"].iloc[0]["nodes_cut_off"] == 2
    assert snap["cut_off"].tolist() == [False, False, True]
    # the cut-off village snaps to the connected network: (300, 400) is 290.17 m away
    assert snap["distance_m"].iloc[2] == pytest.approx(np.hypot(290, 10), abs=0.01)
    assert "1 nearer to a road cut off" in result.summary()
