"""Road networks in several connected parts: keep the largest (default) or every part."""

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from allocator.errors import InputError
from allocator.gis import region_from_layers
from allocator.gis.roads import build_network

X0, Y0 = 500100.0, 3300000.0


def _two_parts():
    """Path a-b-c (100 m + 200 m) and, apart from it, d-e (300 m)."""
    xy = np.array([[0.0, 0], [100, 0], [300, 0], [0, 1000], [300, 1000]])
    return ["a", "b", "c", "d", "e"], xy, [0, 1, 3], [1, 2, 4], np.array([100.0, 200.0, 300.0])


def test_keep_all_keeps_every_part_and_numbers_them_by_size():
    ids, xy, u, v, length = _two_parts()
    largest = build_network(ids, xy, u, v, length, crs=32650)
    assert sorted(largest.graph.nodes) == ["a", "b", "c"]
    assert largest.stats["nodes_cut_off"] == 2 and largest.stats["parts"] == 2
    assert largest.stats["parts_kept"] == 1
    every = build_network(ids, xy, u, v, length, crs=32650, keep="all")
    assert sorted(every.graph.nodes) == ids and every.graph.number_of_edges() == 3
    assert every.stats["nodes_cut_off"] == 0 and every.stats["parts_kept"] == 2
    assert every.part_of(["a", "b", "c", "d", "e"]).tolist() == [0, 0, 0, 1, 1]
    assert every.graph.edges["d", "e"]["minutes"] == pytest.approx(60 * 0.3 / 4.5)
    # nothing was cut off, so no point is nearer to a cut-off road than to its node
    assert not every.cut_off(np.array([[0.0, 990]]), np.array([10.0])).any()
    assert largest.cut_off(np.array([[0.0, 990]]), np.array([500.0])).tolist() == [True]
    with pytest.raises(InputError, match="keep = 'some'; expected one of largest, all"):
        build_network(ids, xy, u, v, length, crs=32650, keep="some")


def _layers():
    roads = gpd.GeoDataFrame(
        {"highway": ["footway", "footway", "footway"]},
        geometry=[
            LineString([(X0, Y0), (X0 + 450, Y0)]),
            LineString([(X0 + 450, Y0), (X0 + 900, Y0)]),
            LineString([(X0, Y0 + 600), (X0 + 300, Y0 + 600)]),  # an island: a valley road
        ],
        crs=32650,
    )
    schools = gpd.GeoDataFrame(
        {"school_id": ["S1", "S2"], "pupils": [300, 40]},
        geometry=[Point(X0 + 900, Y0), Point(X0 + 300, Y0 + 600)],
        crs=32650,
    )
    villages = gpd.GeoDataFrame(
        {"settlement_id": ["V1", "V2"], "population": [1000, 200]},
        geometry=[Point(X0, Y0 + 5), Point(X0, Y0 + 590)],
        crs=32650,
    )
    return schools, villages, roads


def test_region_keeping_every_part_reports_points_on_other_parts():
    schools, villages, roads = _layers()
    result = region_from_layers(schools, villages, roads, keep="all")
    region, snap = result.region, result.tables["snapping"]
    assert snap["part"].tolist() == [0, 1, 0, 1]
    assert snap["cut_off"].tolist() == [False] * 4
    assert result.tables["roads"]["parts_kept"].tolist() == [2]
    assert "road parts: 2 kept; not on the largest part: 1 school, 1 settlement" in (
        result.summary()
    )
    minutes = region.travel_minutes(region.settlements["node"], region.schools["node"]).toarray()
    # V1 walks 900 m to S1 (12 min); V2 walks 300 m on its own road to S2 (4 min)
    assert minutes[0, 0] == pytest.approx(12.0) and minutes[1, 1] == pytest.approx(4.0)
    assert not nx.has_path(region.roads, region.schools["node"][0], region.schools["node"][1])


def test_region_keeping_the_largest_part_marks_the_cut_off_points():
    schools, villages, roads = _layers()
    result = region_from_layers(schools, villages, roads)
    snap = result.tables["snapping"]
    assert snap["part"].tolist() == [0, 0, 0, 0]
    # S2 and V2 sit on the island road, now gone: they snap to the main road, flagged cut off
    assert snap["cut_off"].tolist() == [False, True, False, True]
    assert snap["distance_m"].iloc[1] == pytest.approx(np.hypot(150, 600), abs=0.01)
    assert "road parts" not in result.summary()


def test_config_keep(tmp_path):
    from allocator.gis import region_from_config

    for name, gdf in zip(("schools", "villages", "roads"), _layers(), strict=True):
        gdf.to_file(tmp_path / "c.gpkg", layer=name)
    text = (
        'roads = { source = "c.gpkg", layer = "roads" }\n'
        'schools = { source = "c.gpkg", layer = "schools" }\n'
        'settlements = { source = "c.gpkg", layer = "villages" }\n'
    )
    (tmp_path / "a.toml").write_text('keep = "all"\n' + text, encoding="utf-8")
    result = region_from_config(tmp_path / "a.toml")
    assert result.tables["snapping"]["part"].tolist() == [0, 1, 0, 1]
    (tmp_path / "b.toml").write_text('keep = "most"\n' + text, encoding="utf-8")
    with pytest.raises(InputError, match="keep = 'most'; expected one of largest, all"):
        region_from_config(tmp_path / "b.toml")
