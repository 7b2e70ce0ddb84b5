"""A senior plan's tables as GIS layers: senior schools and candidate sites at their road nodes,
assignment lines from settlement to campus, settlements as points; and a GeoPackage."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest

from allocator.gis import to_geodataframes
from allocator.gis.export import write_geopackage
from allocator.planners.senior import plan_senior
from allocator.synth import make_region

CRS = "EPSG:32648"


@pytest.fixture(scope="module")
def planned():
    region = make_region(schools=40, seed=3, senior_schools=True)
    return region, plan_senior(region)


def _node_metres(region, node):
    d = region.roads.nodes[str(node)]
    return d["x"] * 1000, d["y"] * 1000


def test_senior_layers(planned):
    region, plan = planned
    layers = to_geodataframes(plan, region, crs=CRS)
    assert {"senior_schools", "senior_assignments", "senior_settlements"} <= set(layers)
    assert "senior_counties" not in layers and "senior_standard" not in layers
    k = layers["senior_schools"]
    assert len(k) == len(plan.schools)  # every school and candidate site placed
    assert (k.geom_type == "Point").all() and str(k.crs) == CRS
    for row in k.itertuples(index=False):
        assert (row.geometry.x, row.geometry.y) == pytest.approx(_node_metres(region, row.node))
    assert int(k["places_after"].sum()) == int(plan.schools["places_after"].sum())
    a = layers["senior_assignments"]
    assert len(a) == len(plan.assignments) and (a.geom_type == "LineString").all()
    assert a["pupils"].sum() == pytest.approx(plan.counties["placed"].sum())
    ids = list(region.settlements["settlement_id"])
    metres = region.place_metres("settlements")
    nodes = plan.schools.set_index("senior_id")["node"]
    for row in a.head(20).itertuples(index=False):
        start, end = np.asarray(row.geometry.coords)
        assert start == pytest.approx(metres[ids.index(row.settlement_id)])
        assert end == pytest.approx(_node_metres(region, nodes[row.senior_id]))
    assert len(layers["senior_settlements"]) == len(region.settlements)


def test_senior_geopackage(planned, tmp_path):
    region, plan = planned
    path = write_geopackage(to_geodataframes(plan, region, crs=CRS), tmp_path / "senior.gpkg")
    names = {name for name, _ in pyogrio.list_layers(path)}
    assert {"senior_schools", "senior_assignments", "senior_settlements"} <= names
