"""A kindergarten plan's tables as GIS layers: kindergartens and candidate sites at their road
nodes, assignment lines from settlement to kindergarten, settlements as points; and a
GeoPackage with those layers."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest

from allocator.gis import to_geodataframes
from allocator.gis.export import write_geopackage
from allocator.planners.kindergartens import plan_kindergartens
from allocator.synth import make_region

CRS = "EPSG:32648"


@pytest.fixture(scope="module")
def planned():
    region = make_region(schools=40, seed=3, kindergartens=True)
    return region, plan_kindergartens(region)


def _node_metres(region, node):
    d = region.roads.nodes[str(node)]
    return d["x"] * 1000, d["y"] * 1000


def test_kindergarten_layers(planned):
    region, plan = planned
    layers = to_geodataframes(plan, region, crs=CRS)
    assert {"kindergartens", "kindergarten_assignments", "kindergarten_settlements"} <= set(layers)
    assert "kindergarten_targets" not in layers and "preschool_standard" not in layers
    k = layers["kindergartens"]
    assert len(k) == len(plan.kindergartens)  # every site placed, candidates included
    assert (k.geom_type == "Point").all() and str(k.crs) == CRS
    for row in k.itertuples(index=False):
        assert (row.geometry.x, row.geometry.y) == pytest.approx(_node_metres(region, row.node))
    assert set(k["action"]) == set(plan.kindergartens["action"])
    a = layers["kindergarten_assignments"]
    assert len(a) == len(plan.assignments) and (a.geom_type == "LineString").all()
    ids = list(region.settlements["settlement_id"])
    metres = region.place_metres("settlements")  # the settlement's x, y, else its node's
    nodes = plan.kindergartens.set_index("kindergarten_id")["node"]
    for row in a.head(20).itertuples(index=False):
        start, end = np.asarray(row.geometry.coords)
        assert start == pytest.approx(metres[ids.index(row.settlement_id)])
        assert end == pytest.approx(_node_metres(region, nodes[row.kindergarten_id]))
    assert len(layers["kindergarten_settlements"]) == len(region.settlements)


def test_kindergarten_geopackage(planned, tmp_path):
    region, plan = planned
    path = write_geopackage(to_geodataframes(plan, region, crs=CRS), tmp_path / "kg.gpkg")
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert {"kindergartens", "kindergarten_assignments"} <= names
