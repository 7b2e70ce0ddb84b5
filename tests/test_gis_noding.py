"""Road line layers not split at junctions: shared vertices and crossings become nodes."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from allocator.errors import InputError
from allocator.gis.noding import split_at_junctions
from allocator.gis.roads import network_from_lines


def _crossing_lines():
    """A: (0,0)-(1000,0) at 60 km/h with an inner vertex at (200,0); B: (500,-500)-(500,500) at
    30 km/h crossing A where neither has a vertex; C: (200,-300)-(200,0)-(200,300) at 30 km/h
    sharing A's inner vertex."""
    return gpd.GeoDataFrame(
        {"speed_kmh": [60.0, 30.0, 30.0]},
        geometry=[
            LineString([(0, 0), (200, 0), (1000, 0)]),
            LineString([(500, -500), (500, 500)]),
            LineString([(200, -300), (200, 0), (200, 300)]),
        ],
        crs=32650,
    )


def _minutes(net, a, b):
    (na,), _ = net.snap(np.array([a], float))
    (nb,), _ = net.snap(np.array([b], float))
    return nx.shortest_path_length(net.graph, na, nb, weight="minutes")


def test_crossings_and_shared_vertices_become_nodes():
    net = network_from_lines(_crossing_lines(), 32650, "drive")
    assert net.stats["lines_split"] == 3
    xy = {(round(d["x"] * 1000, 6), round(d["y"] * 1000, 6)) for _, d in net.graph.nodes(data=True)}
    assert {(500.0, 0.0), (200.0, 0.0)} <= xy
    assert net.graph.number_of_nodes() == 8 and net.graph.number_of_edges() == 7
    assert net.stats["nodes_cut_off"] == 0
    # (0,0) -> crossing (500,0): 500 m at 60 km/h = 0.5 min; on to (500,500): 500 m at 30 = 1 min
    assert _minutes(net, (0, 0), (500, 500)) == pytest.approx(1.5)
    # through the shared vertex: 200 m at 60 + 300 m at 30 = 0.2 + 0.6
    assert _minutes(net, (0, 0), (200, 300)) == pytest.approx(0.8)
    # B to C: down B to A, along A 300 m, up C: 0.5 + 0.3 + 0.6 min
    assert _minutes(net, (500, -500), (200, 300)) == pytest.approx(1.0 + 0.3 + 0.6)


def test_without_splitting_the_crossing_is_no_junction():
    net = network_from_lines(_crossing_lines(), 32650, "drive", split=False)
    assert net.stats["lines_split"] == 0
    # the three lines touch only at inner vertices: three parts of 2 nodes, the first kept
    assert net.graph.number_of_nodes() == 2 and net.stats["nodes_cut_off"] == 4


def test_given_minutes_are_shared_by_length_and_duplicates_keep_the_fastest():
    lines = gpd.GeoDataFrame(
        {"minutes": [10.0, 4.0, np.nan], "highway": ["a", "b", "c"]},
        geometry=[
            LineString([(0, 0), (400, 0)]),
            LineString([(100, -50), (100, 50)]),
            LineString([(400, 0), (0, 0)]),  # the first line drawn again, reversed
        ],
        crs=32650,
    )
    pieces, cut = split_at_junctions(lines)
    assert cut == 3
    by_line = pieces.groupby("highway")
    assert by_line["minutes"].sum()["a"] == pytest.approx(10.0)
    a = pieces[pieces["highway"] == "a"].sort_values("minutes")
    assert a["minutes"].tolist() == pytest.approx([2.5, 7.5])
    assert sorted(a.length) == pytest.approx([100.0, 300.0])
    assert pieces[pieces["highway"] == "b"]["minutes"].tolist() == pytest.approx([2.0, 2.0])
    assert len(pieces[pieces["highway"] == "c"]) == 2
    # walking the third line (no minutes given) takes 400 m / 4.5 km/h = 5.33 min, less than the
    # first line's 10 min, so its pieces win over the first line's
    net = network_from_lines(lines, 32650, "walk")
    assert net.stats["duplicates"] == 2
    assert _minutes(net, (0, 0), (400, 0)) == pytest.approx(60 * 0.4 / 4.5)


def test_a_layer_already_split_is_unchanged():
    lines = gpd.GeoDataFrame(
        {"highway": ["x", "y"]},
        geometry=[LineString([(0, 0), (100, 0)]), LineString([(100, 0), (100, 100)])],
        crs=32650,
    )
    pieces, cut = split_at_junctions(lines)
    assert cut == 0 and pieces is lines


def test_config_split_roads_reaches_the_line_layer(tmp_path):
    from allocator.gis import region_from_config

    x0, y0 = 500100.0, 3300000.0
    gpd.GeoDataFrame(
        {"highway": ["footway", "footway"]},
        geometry=[
            LineString([(x0, y0), (x0 + 900, y0)]),
            LineString([(x0 + 450, y0 - 450), (x0 + 450, y0 + 450)]),
        ],
        crs=32650,
    ).to_file(tmp_path / "c.gpkg", layer="roads")
    gpd.GeoDataFrame(
        {"name": ["一小"], "pupils": [300]}, geometry=[Point(x0 + 450, y0 + 450)], crs=32650
    ).to_file(tmp_path / "c.gpkg", layer="schools")
    gpd.GeoDataFrame({"population": [1000]}, geometry=[Point(x0, y0)], crs=32650).to_file(
        tmp_path / "c.gpkg", layer="villages"
    )
    text = (
        'roads = { source = "c.gpkg", layer = "roads" }\n'
        'schools = { source = "c.gpkg", layer = "schools" }\n'
        'settlements = { source = "c.gpkg", layer = "villages" }\n'
    )
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    region = region_from_config(tmp_path / "a.toml").region
    s, v = region.schools["node"], region.settlements["node"]
    # 450 m east to the crossing, 450 m north, walked at 4.5 km/h: 12 minutes
    assert region.travel_minutes(v, s).toarray()[0, 0] == pytest.approx(12.0)
    (tmp_path / "b.toml").write_text("split_roads = false\n" + text, encoding="utf-8")
    result = region_from_config(tmp_path / "b.toml")
    # the lines stay apart: the north-south one is cut off and the school is reported as nearer
    # to it than to the node it snapped to
    assert result.tables["roads"]["nodes_cut_off"].tolist() == [2]
    assert result.tables["snapping"]["cut_off"].tolist() == [True, False]
    (tmp_path / "c.toml").write_text("split_roads = 1\n" + text, encoding="utf-8")
    with pytest.raises(InputError, match="split_roads = 1; expected bool"):
        region_from_config(tmp_path / "c.toml")
