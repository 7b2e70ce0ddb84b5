"""Region validation: every bad input names the table, row, column, value and what was expected."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from allocator import Region
from allocator.errors import InputError
from allocator.synth import make_region


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, seed=5)


def tables(region):
    return region.schools.copy(), region.settlements.copy(), nx.Graph(region.roads)


def rebuild_error(schools, settlements, roads) -> InputError:
    with pytest.raises(InputError) as info:
        Region(schools, settlements, roads)
    return info.value


def test_valid_region_keeps_extra_columns_and_unicode(region):
    schools, settlements, roads = tables(region)
    schools["principal"] = "张伟"
    schools.loc[0, "name"] = "重庆市两江新区星光小学"
    r = Region(schools, settlements, roads)
    assert r.schools.loc[0, "name"] == "重庆市两江新区星光小学"
    assert (r.schools["principal"] == "张伟").all()


def test_missing_column(region):
    schools, settlements, roads = tables(region)
    err = rebuild_error(schools.drop(columns=["teachers_backbone"]), settlements, roads)
    assert err.table == "schools" and err.column == "teachers_backbone"
    assert "missing required column" in str(err)


def test_duplicate_id(region):
    schools, settlements, roads = tables(region)
    schools.loc[7, "school_id"] = schools.loc[3, "school_id"]
    err = rebuild_error(schools, settlements, roads)
    assert (err.table, err.column, err.row) == ("schools", "school_id", 7)
    assert schools.loc[3, "school_id"] in str(err) and "duplicate" in str(err)


@pytest.mark.parametrize(
    "value, phrase",
    [(-3, "negative"), ("many", "not numeric"), (np.nan, "NaN"), (2.5, "whole number")],
)
def test_bad_count(region, value, phrase):
    schools, settlements, roads = tables(region)
    schools["pupils_junior"] = schools["pupils_junior"].astype(object)
    schools.loc[4, "pupils_junior"] = value
    err = rebuild_error(schools, settlements, roads)
    assert (err.table, err.column, err.row_id) == (
        "schools",
        "pupils_junior",
        schools.loc[4, "school_id"],
    )
    assert phrase in str(err)


def test_nan_float_in_settlements(region):
    schools, settlements, roads = tables(region)
    settlements["pupils_lower_primary"] = settlements["pupils_lower_primary"].astype(float)
    settlements.loc[2, "pupils_lower_primary"] = np.nan
    err = rebuild_error(schools, settlements, roads)
    assert err.table == "settlements" and err.row_id == settlements.loc[2, "settlement_id"]
    assert err.column == "pupils_lower_primary" and "NaN" in str(err)


@pytest.mark.parametrize("column, value", [("area_type", "suburban"), ("level", "college")])
def test_unknown_category(region, column, value):
    schools, settlements, roads = tables(region)
    schools.loc[1, column] = value
    err = rebuild_error(schools, settlements, roads)
    assert (err.column, err.row_id, err.value) == (column, schools.loc[1, "school_id"], value)
    assert "expected one of" in str(err)


def test_node_not_in_graph(region):
    schools, settlements, roads = tables(region)
    settlements.loc[5, "node"] = "nowhere"
    err = rebuild_error(schools, settlements, roads)
    assert (err.table, err.column, err.value) == ("settlements", "node", "nowhere")


@pytest.mark.parametrize("minutes", [0, -2.0, "fast"])
def test_bad_edge_minutes(region, minutes):
    schools, settlements, roads = tables(region)
    u, v = next(iter(roads.edges))
    roads[u][v]["minutes"] = minutes
    err = rebuild_error(schools, settlements, roads)
    assert err.table == "roads" and err.column == "minutes" and err.row_id == f"{u}-{v}"


def test_settlement_that_cannot_reach_a_school(region):
    schools, settlements, roads = tables(region)
    roads.add_node("island", x=0.0, y=0.0)
    settlements.loc[0, "node"] = "island"
    err = rebuild_error(schools, settlements, roads)
    assert err.table == "settlements" and err.row_id == settlements.loc[0, "settlement_id"]
    assert "cannot reach any school" in str(err)


@pytest.mark.parametrize("column", ["teachers_backbone", "teachers_qualified", "teachers_pe_arts"])
def test_teacher_subset_exceeds_teachers(region, column):
    schools, settlements, roads = tables(region)
    schools.loc[6, column] = schools.loc[6, "teachers"] + 1
    err = rebuild_error(schools, settlements, roads)
    assert (err.column, err.row_id) == (column, schools.loc[6, "school_id"])
    assert "exceeds teachers" in str(err)


def test_region_is_not_changed_by_caller_edits(region):
    schools, settlements, roads = tables(region)
    r = Region(schools, settlements, roads)
    schools.loc[0, "teachers"] = 10**6
    assert r.schools.loc[0, "teachers"] != 10**6
    with pytest.raises(nx.NetworkXError):
        r.roads.add_edge("a", "b", minutes=1.0)


def test_replace_and_county(region):
    big = make_region(schools=320, seed=2)
    assert len(big.counties) == 3
    sub = big.county(big.counties[1])
    assert set(sub.schools["county"]) == {big.counties[1]}
    assert len(sub.settlements) == int((big.settlements["county"] == big.counties[1]).sum())
    with pytest.raises(InputError, match="unknown county"):
        big.county("nowhere")
    fewer = region.replace(schools=region.schools.iloc[1:])
    assert len(fewer.schools) == len(region.schools) - 1 and fewer != region


def test_ids_and_nodes_become_strings():
    g = nx.Graph()
    g.add_node(1, x=0.0, y=0.0)
    g.add_node(2, x=1.0, y=0.0)
    g.add_edge(1, 2, minutes=3.0)
    base = make_region(schools=10, seed=0)
    school = base.schools.iloc[[0]].assign(school_id=101, node=1)
    settlement = base.settlements.iloc[[0]].assign(settlement_id=7, node=2)
    r = Region(school, settlement, g)
    assert r.schools["school_id"].tolist() == ["101"]
    assert r.settlements["node"].tolist() == ["2"]
    t = r.travel_minutes(["2"], ["1"])
    assert t[0, 0] == 3.0
    assert isinstance(pd.Index(r.roads.nodes)[0], str)


def test_region_draws_its_own_layers():
    """Region layers need geopandas but not allocator.gis; points sit at place_metres."""
    pytest.importorskip("geopandas")
    region = make_region(schools=20, seed=1)
    with pytest.raises(InputError, match="does not record its CRS"):
        region.metric_crs()
    layers = region.to_geodataframes(crs=32648)
    schools = layers["schools"].geometry
    assert np.allclose(np.c_[schools.x, schools.y], region.place_metres("schools"))
    assert len(layers["roads"]) == region.roads.number_of_edges()
