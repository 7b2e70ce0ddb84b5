"""Settlements from a population raster (a GeoTIFF written here with known cell populations)."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point

from allocator.errors import InputError
from allocator.gis import region_from_layers

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

from allocator.gis.raster import read_population_raster  # noqa: E402

X0, Y0 = 500100.0, 3300000.0
NODATA = -9999.0
# 2 rows x 3 columns of 100 m cells, top-left corner (X0, Y0 + 200)
CELLS = np.array([[1000.0, 0.0, NODATA], [200.0, 50.5, 0.0]], dtype="float32")


def _tif(path, crs="EPSG:32650"):
    with rasterio.open(
        path, "w", driver="GTiff", height=2, width=3, count=1, dtype="float32", crs=crs,
        transform=from_origin(X0, Y0 + 200, 100, 100), nodata=NODATA,
    ) as out:  # fmt: skip
        out.write(CELLS, 1)
    return path


def test_populated_cells_become_points_at_their_centres(tmp_path):
    cells = read_population_raster(_tif(tmp_path / "pop.tif"))
    assert cells["settlement_id"].tolist() == ["r0c0", "r1c0", "r1c1"]
    assert cells["population"].tolist() == [1000.0, 200.0, 50.5]
    assert cells.geometry.x.tolist() == [X0 + 50, X0 + 50, X0 + 150]
    assert cells.geometry.y.tolist() == [Y0 + 150, Y0 + 50, Y0 + 50]
    assert cells.crs.to_epsg() == 32650
    bigger = read_population_raster(tmp_path / "pop.tif", min_population=100)
    assert bigger["settlement_id"].tolist() == ["r0c0", "r1c0"]


def test_a_region_from_a_population_raster(tmp_path):
    roads = gpd.GeoDataFrame(
        geometry=[
            LineString([(X0, Y0), (X0 + 120, Y0)]),
            LineString([(X0 + 120, Y0), (X0 + 300, Y0)]),
        ],
        crs=32650,
    )
    schools = gpd.GeoDataFrame(
        {"name": ["一小"], "pupils": [120]}, geometry=[Point(X0 + 300, Y0)], crs=32650
    )
    result = region_from_layers(schools, str(_tif(tmp_path / "pop.tif")), roads)
    villages = result.region.settlements
    assert villages["settlement_id"].tolist() == ["r0c0", "r1c0", "r1c1"]
    # pupils = round(population x age share): 1000 x 3.84 % = 38, 200 x 3.84 % = 8, 50.5 -> 2
    assert villages["pupils_lower_primary"].tolist() == [38, 8, 2]
    assert villages["pupils_junior"].tolist() == [36, 7, 2]
    snap = result.tables["snapping"].set_index("id")["distance_m"]
    assert snap["r0c0"] == pytest.approx(np.hypot(50, 150), abs=0.01)
    assert snap["r1c0"] == pytest.approx(np.hypot(50, 50), abs=0.01)
    assert snap["r1c1"] == pytest.approx(np.hypot(30, 50), abs=0.01)  # to the node at X0 + 120


def test_raster_errors_are_one_line(tmp_path):
    with pytest.raises(InputError, match="file not found; expected a population raster"):
        read_population_raster(tmp_path / "none.tif")
    with pytest.raises(InputError, match="band 2 requested; the raster has 1 band"):
        read_population_raster(_tif(tmp_path / "a.tif"), band=2)
    with pytest.raises(InputError, match="no cell with more than 5000 people"):
        read_population_raster(tmp_path / "a.tif", min_population=5000)
    (tmp_path / "b.tif").write_text("not a raster")
    with pytest.raises(InputError, match="cannot read as a raster") as info:
        read_population_raster(tmp_path / "b.tif")
    assert "\n" not in str(info.value)
    roads = gpd.GeoDataFrame(geometry=[LineString([(X0, Y0), (X0 + 300, Y0)])], crs=32650)
    schools = gpd.GeoDataFrame({"pupils": [10]}, geometry=[Point(X0, Y0)], crs=32650)
    with pytest.raises(InputError, match="the settlements layer has no CRS"):
        region_from_layers(schools, str(_tif(tmp_path / "c.tif", crs=None)), roads)
