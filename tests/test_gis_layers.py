"""Layers, column mapping, encodings, projections and web-map offsets."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from allocator.errors import InputError
from allocator.gis import Layer
from allocator.gis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    metric_crs,
    wgs84_to_gcj02,
)
from allocator.gis.demand import enrolment_from_catchment, population_from_buildings
from allocator.gis.fill import fill_schools, guess_level
from allocator.gis.layers import points_of, read_layer

# Published pairs (googollee/eviltransform tests): WGS 84 lat, lon -> GCJ-02 lat, lon
GCJ_PAIRS = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]


@pytest.mark.parametrize("wlat, wlon, glat, glon", GCJ_PAIRS)
def test_gcj02_matches_published_pairs(wlat, wlon, glat, glon):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert (float(lon), float(lat)) == pytest.approx((glon, glat), abs=2e-7)  # ~2 cm
    lon, lat = gcj02_to_wgs84(glon, glat)
    assert (float(lon), float(lat)) == pytest.approx((wlon, wlat), abs=2e-7)


def test_bd09_to_gcj02_published_pair():
    # wandergis/coordtransform: bd09togcj02(116.404, 39.915)
    lon, lat = bd09_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.39762729119315, 39.90865673957631))
    # and gcj02tobd09(116.404, 39.915); BD-09 -> WGS 84 goes through GCJ-02
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx((116.41036949371029, 39.92133699351021))
    lon, lat = bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(116.404, 39.915)))
    # the published BD-09 inverse formula is good to about 0.1 m
    assert (float(lon), float(lat)) == pytest.approx((116.404, 39.915), abs=2e-6)


def test_offsets_are_not_applied_outside_china():
    lon, lat = gcj02_to_wgs84(24.94, 60.17)
    assert (float(lon), float(lat)) == (24.94, 60.17)


def test_metric_crs_utm_and_cgcs2000_gauss_krueger():
    assert metric_crs(24.94, 60.17).to_epsg() == 32635
    assert metric_crs(-70.0, -33.0).to_epsg() == 32719
    assert metric_crs(106.55, 29.56, "EPSG:4490").to_epsg() == 4545  # CM 108E
    assert metric_crs(106.4, 29.56, "EPSG:4490").to_epsg() == 4544  # CM 105E


def test_gcj02_layer_is_shifted_back_to_wgs84():
    wlat, wlon, glat, glon = GCJ_PAIRS[0]
    g = gpd.GeoDataFrame({"n": [1]}, geometry=[Point(glon, glat)], crs=4326)
    out = read_layer(Layer(g, coordinates="gcj02"))
    assert (out.geometry.x[0], out.geometry.y[0]) == pytest.approx((wlon, wlat), abs=2e-7)
    with pytest.raises(InputError, match="unknown coordinates 'baidu'"):
        Layer(g, coordinates="baidu")


def test_gbk_shapefile_without_cpg_and_chinese_headers(tmp_path):
    g = gpd.GeoDataFrame(
        {"学校名称": ["第一小学", "城关中学"], "在校生数": [300, 500]},
        geometry=[Point(106.5, 29.5), Point(106.6, 29.6)],
        crs=4490,
    )
    path = tmp_path / "schools.shp"
    g.to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink()
    out = read_layer(Layer(path, columns={"学校名称": "name", "在校生数": "pupils"}))
    assert out["name"].tolist() == ["第一小学", "城关中学"]
    assert out["pupils"].tolist() == [300, 500]
    assert out.crs.to_epsg() == 4490


def test_gbk_csv_of_lon_lat_points(tmp_path):
    path = tmp_path / "villages.csv"
    pd.DataFrame({"村名": ["上村"], "经度": [106.5], "纬度": [29.5], "人口": [800]}).to_csv(
        path, index=False, encoding="gbk"
    )
    out = read_layer(Layer(path, columns={"村名": "settlement_id", "人口": "population"}))
    assert out["settlement_id"].tolist() == ["上村"]
    assert (out.geometry.x[0], out.geometry.y[0]) == (106.5, 29.5)
    assert out.crs.to_epsg() == 4326


def test_mapping_to_a_missing_column_names_it():
    g = gpd.GeoDataFrame({"学校名称": ["一小"]}, geometry=[Point(0, 0)], crs=4326)
    with pytest.raises(InputError) as err:
        read_layer(Layer(g, columns={"学校": "name"}))
    message = str(err.value)
    assert "column '学校'" in message and "expected one of 学校名称" in message
    assert "\n" not in message


def test_layer_without_crs_is_refused(tmp_path):
    g = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)])
    with pytest.raises(InputError, match="the schools layer has no CRS"):
        read_layer(Layer(g), "schools")
    assert read_layer(Layer(g, crs="EPSG:4326")).crs.to_epsg() == 4326


def test_polygons_give_centroids_or_are_refused():
    square = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)])
    g = gpd.GeoDataFrame({"a": [1]}, geometry=[square], crs=32650)
    pts = points_of(g, "settlements")
    assert (pts.x[0], pts.y[0]) == (5.0, 5.0)
    with pytest.raises(InputError, match="Polygon geometry in the settlements layer; expected"):
        points_of(g, "settlements", centroids=False)


def test_guess_level_and_filled_defaults_hand_computed():
    assert guess_level("江北九年一贯制学校")[0] == "nine_year"
    assert guess_level("石坝村教学点")[0] == "teaching_point"
    schools = pd.DataFrame(
        {"school_id": ["J"], "name": ["城关初级中学"], "pupils": [270], "teachers": [30]}
    )
    out, filled = fill_schools(schools, county="K")
    row = out.iloc[0]
    assert row["level"] == "junior" and row["pupils_junior"] == 270
    assert row["classes"] == 6  # ceil(270 / 50)
    assert row["teachers"] == 30  # given, not filled
    assert row["teachers_qualified"] == 15  # ceil(270 x 5.3 / 100) = ceil(14.31)
    assert row["floor_area_m2"] == pytest.approx(270 * 5.8)
    assert row["annual_cost"] == pytest.approx(30 * 110_000 + 270 * 800 + 300_000)
    assert "teachers" not in set(filled["column"])
    assert set(row["filled_columns"].split()) == set(filled["column"])


def test_population_from_buildings_and_catchment_enrolment():
    assert population_from_buildings([100.0], [None], default_floors=2, m2_per_person=25)[
        0
    ] == pytest.approx(8.0)
    import networkx as nx

    g = nx.Graph([("a", "b", {"minutes": 5.0}), ("b", "c", {"minutes": 4.0})])
    schools = pd.DataFrame({"level": ["primary", "junior"], "node": ["a", "c"]})
    villages = pd.DataFrame(
        {"node": ["a", "b"], "pupils_lower_primary": [3, 4], "pupils_upper_primary": [1, 1],
         "pupils_junior": [7, 9], "pupils_senior": [2, 2]}
    )  # fmt: skip
    out = enrolment_from_catchment(schools, villages, g)
    assert out.to_numpy().tolist() == [[7, 2, 0, 0], [0, 0, 16, 0]]
    assert np.issubdtype(out.to_numpy().dtype, np.integer)


def test_chinese_level_and_area_values_are_mapped_and_listed():
    from allocator.gis.fill import fill_settlements

    schools = pd.DataFrame(
        {"school_id": ["A", "B"], "level": ["初中", "九年一贯制"], "area_type": ["乡村", "城区"],
         "pupils": [100, 90]}
    )  # fmt: skip
    out, filled = fill_schools(schools)
    assert out["level"].tolist() == ["junior", "nine_year"]
    assert out["area_type"].tolist() == ["rural", "urban"]
    mapped = filled[filled["rule"].str.startswith("mapped from")]
    assert set(mapped["rule"]) == {
        "mapped from '初中'", "mapped from '九年一贯制'", "mapped from '乡村'", "mapped from '城区'"
    }  # fmt: skip
    villages, _ = fill_settlements(pd.DataFrame({"settlement_id": ["V"], "area_type": ["镇区"]}))
    assert villages["area_type"].tolist() == ["town"]


def test_an_empty_pupils_cell_is_named():
    schools = pd.DataFrame({"school_id": ["A", "B"], "pupils": [100, None]})
    with pytest.raises(InputError, match=r"row 'B', column 'pupils': empty pupils"):
        fill_schools(schools)
