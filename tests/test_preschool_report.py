"""Tests of the preschool indicators of a compliance report: a two-county region computed by hand,
the enrolled children column, regions without kindergartens, bad input, and invariants on
synthetic regions (shares in [0, 1], counties adding up to the whole region)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import school_row
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.check import check
from allocator.check.preschool_report import ALL, INDICATORS, preschool_tables
from allocator.errors import InputError
from allocator.region import Region
from allocator.standards.preschool import load_preschool_standard
from allocator.synth import make_region


def _region(kindergarten_columns=None) -> Region:
    """Nodes on a line (km): A 0, B 0.5, D 0.8, C 3.0, E 10.0. County X: S1 urban at A (100
    children), S2 urban at D (200), S3 rural at C (50); county Y: S4 rural at E (60). K1 public at
    A (90 places, 3 classes), K2 other at B (150, 5; no settlement at B: its county is that of the
    nearest settlement, S2's), K3 inclusive private at E (40 in one class), R1 reserved at D."""
    g = nx.Graph()
    for n, x in (("A", 0.0), ("B", 0.5), ("D", 0.8), ("C", 3.0), ("E", 10.0)):
        g.add_node(n, x=x, y=0.0)
    for a, b in (("A", "B"), ("B", "D"), ("D", "C"), ("C", "E")):
        g.add_edge(a, b, minutes=1.0)
    schools = pd.DataFrame(
        [
            school_row(
                school_id="P",
                name="P",
                county="X",
                township="t",
                area_type="urban",
                node="A",
                x=0.0,
                y=0.0,
                capacity=100,
                annual_cost=0.0,
            )
        ]  # fmt: skip
    )
    settlements = pd.DataFrame(
        {
            "settlement_id": ["S1", "S2", "S3", "S4"],
            "county": ["X", "X", "X", "Y"],
            "township": "t",
            "area_type": ["urban", "urban", "rural", "rural"],
            "node": ["A", "D", "C", "E"],
            "pupils_lower_primary": 0,
            "pupils_upper_primary": 0,
            "pupils_junior": 0,
            "pupils_senior": 0,
            "children_3_5": [100, 200, 50, 60],
        }
    )
    kindergartens = pd.DataFrame(
        {
            "kindergarten_id": ["K1", "K2", "K3", "R1"],
            "name": ["K1", "K2", "K3", "R1"],
            "node": ["A", "B", "E", "D"],
            "ownership": ["public", "other", "inclusive_private", "public"],
            "places": [90, 150, 40, 0],
            "classes": [3, 5, 1, 0],
            "status": ["open", "open", "open", "reserved"],
            **(kindergarten_columns or {}),
        }
    )
    return Region(schools, settlements, g, name="line", kindergartens=kindergartens)


def _values(tables) -> dict:
    ind = tables["preschool_indicators"]
    return {(r.county, r.indicator): r.value for r in ind.itertuples(index=False)}


def test_hand_computed_indicators():
    # Walking at 4 km/h: urban 15 minutes = 1 km, rural 30 minutes = 2 km. S1 reaches K1 (0 km),
    # S2 reaches K2 (0.3 km); S3 at C is 2.5 km from K2: beyond; S4 has K3 at its node.
    tables = preschool_tables(_region())
    v = _values(tables)
    expected = {
        ("X", "gross_enrolment_rate"): 240 / 350,
        ("X", "inclusive_share"): 90 / 240,
        ("X", "public_share"): 90 / 240,
        ("X", "within_walk_share"): 300 / 350,
        ("X", "class_size_share"): 1.0,  # 30 children per class at K1 and K2
        ("Y", "gross_enrolment_rate"): 40 / 60,
        ("Y", "inclusive_share"): 1.0,
        ("Y", "public_share"): 0.0,
        ("Y", "within_walk_share"): 1.0,
        ("Y", "class_size_share"): 0.0,  # 40 in one class: above the mean norm of 30
        (ALL, "gross_enrolment_rate"): 280 / 410,
        (ALL, "inclusive_share"): 130 / 280,
        (ALL, "public_share"): 90 / 280,
        (ALL, "within_walk_share"): 360 / 410,
        (ALL, "class_size_share"): 240 / 280,
    }
    assert v == pytest.approx(expected)
    ind = tables["preschool_indicators"].set_index(["county", "indicator"])
    assert ind.loc[("Y", "inclusive_share"), "met"]
    assert not ind.loc[("X", "inclusive_share"), "met"]
    assert ind.loc[("X", "gross_enrolment_rate"), "target"] == 0.9
    assert ind.loc[(ALL, "within_walk_share"), "scope"] == "local"
    assert ind.loc[(ALL, "public_share"), "scope"] == "national"
    assert ind.loc[(ALL, "class_size_share"), "scope"] == "national"
    k = tables["preschool_kindergartens"].set_index("kindergarten_id")
    assert "R1" not in k.index and k.loc["K2", "county"] == "X" and k.loc["K3", "county"] == "Y"
    assert k.loc["K3", "children_per_class"] == 40 and not k.loc["K3", "class_size_ok"]
    c = tables["preschool_counties"].set_index("county")
    assert c.loc[ALL, "kindergartens"] == 3 and c.loc["X", "places"] == 240


def test_enrolled_children_and_county_columns():
    # children enrolled instead of places; a county column overrides the node's county
    region = _region({"children": [60, 150, 30, 0], "county": ["X", "Y", "Y", "X"]})
    v = _values(preschool_tables(region))
    assert v[("X", "gross_enrolment_rate")] == pytest.approx(60 / 350)
    assert v[("Y", "gross_enrolment_rate")] == pytest.approx(180 / 60)  # gross: may pass 1
    assert v[("Y", "inclusive_share")] == pytest.approx(30 / 180)
    assert v[(ALL, "class_size_share")] == pytest.approx(1.0)  # 20, 30 and 30 per class
    with pytest.raises(InputError, match="children"):
        preschool_tables(_region({"children": [60, -1, 30, 0]}))


def test_check_adds_preschool_tables_only_with_kindergartens():
    tables = check(_region()).tables
    assert {"preschool_counties", "preschool_indicators"} <= set(tables)
    assert {"counties", "thresholds"} <= set(tables)  # the compulsory tables as before
    plain = _region()
    plain = Region(plain.schools, plain.settlements, plain.roads, name="line")
    assert not any(name.startswith("preschool") for name in check(plain).tables)
    stricter = load_preschool_standard(overrides={"targets": {"inclusive_share": 0.3}})
    ind = preschool_tables(_region(), stricter)["preschool_indicators"]
    assert ind.set_index(["county", "indicator"]).loc[("X", "inclusive_share"), "met"]


def test_no_place_within_reach_and_no_children():
    region = _region({"places": [0, 0, 0, 0], "classes": [0, 0, 0, 0]})
    v = _values(preschool_tables(region))
    assert v[(ALL, "within_walk_share")] == 0.0 and v[(ALL, "gross_enrolment_rate")] == 0.0
    assert np.isnan(v[(ALL, "inclusive_share")])  # nobody enrolled: no share, verdict NA
    ind = preschool_tables(region)["preschool_indicators"]
    assert ind.loc[ind["indicator"] == "inclusive_share", "met"].isna().all()


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), counties=st.integers(1, 3))
def test_invariants_on_synthetic_regions(seed, counties):
    region = make_region(schools=30, counties=counties, seed=seed, kindergartens=True)
    tables = preschool_tables(region)
    c = tables["preschool_counties"].set_index("county")
    per_county, whole = c.drop(index=ALL), c.loc[ALL]
    sums = [num for num, _, _ in INDICATORS.values()] + ["children_3_5", "places", "classes"]
    for col in sums:
        assert per_county[col].sum() == pytest.approx(whole[col])
    for name, (num, den, _) in INDICATORS.items():
        if whole[den] > 0:
            assert whole[name] == pytest.approx(whole[num] / whole[den])
        if name != "gross_enrolment_rate":
            values = c[name].dropna()
            assert ((values >= -1e-12) & (values <= 1 + 1e-12)).all()
    # independent recomputation of the enrolled figures from the region's table
    k = region.kindergartens[region.kindergartens["status"] == "open"]
    assert whole["enrolled"] == k["places"].sum()
    assert whole["public_enrolled"] == k.loc[k["ownership"] == "public", "places"].sum()
    assert set(per_county.index) <= set(region.settlements["county"])
