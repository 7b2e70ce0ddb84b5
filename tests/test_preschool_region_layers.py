"""``Region.to_geodataframes`` with the optional site tables: ``kindergartens`` and
``senior_schools`` as points at their road node with every column, in the GeoPackage too."""

from __future__ import annotations

import pytest

gpd = pytest.importorskip("geopandas")
pyogrio = pytest.importorskip("pyogrio")

from allocator.gis import to_geodataframes  # noqa: E402
from allocator.gis.export import write_geopackage  # noqa: E402
from allocator.synth import make_region  # noqa: E402

CRS = "EPSG:32648"


@pytest.fixture(scope="module")
def region():
    return make_region(schools=30, counties=2, seed=3, kindergartens=True, senior_schools=True)


@pytest.mark.parametrize("table", ["kindergartens", "senior_schools"])
def test_site_tables_are_points_at_their_node(region, table):
    layers = region.to_geodataframes(crs=CRS)
    assert list(layers) == ["schools", "settlements", "kindergartens", "senior_schools", "roads"]
    df, layer = getattr(region, table), layers[table]
    assert len(layer) == len(df) > 0 and str(layer.crs) == CRS
    assert (layer.geom_type == "Point").all()
    assert layer.drop(columns="geometry").equals(df.reset_index(drop=True))
    for row in layer.itertuples(index=False):
        node = region.roads.nodes[str(row.node)]
        assert (row.geometry.x, row.geometry.y) == pytest.approx((node["x"] * 1e3, node["y"] * 1e3))
    assert to_geodataframes(region, crs=CRS)[table].geometry.equals(layer.geometry)


def test_no_site_layers_without_the_tables_and_geopackage(region, tmp_path):
    plain = make_region(schools=30, counties=2, seed=3)
    assert sorted(plain.to_geodataframes(crs=CRS)) == ["roads", "schools", "settlements"]
    path = write_geopackage(region.to_geodataframes(crs=CRS), tmp_path / "r.gpkg")
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert {"kindergartens", "senior_schools", "schools"} <= names
    back = gpd.read_file(path, layer="kindergartens")
    assert list(back["kindergarten_id"]) == list(region.kindergartens["kindergarten_id"])
