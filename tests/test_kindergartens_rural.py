"""Preschool classes attached to rural primary schools and teaching points (附设幼儿班) as
candidate sites of the kindergarten planner: a hand-computed region where a rural child is beyond
every kindergarten's walking limit but within that of a village primary school."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest
from conftest import school_row

from allocator.check import check
from allocator.errors import InputError
from allocator.planners.kindergartens import KindergartenPolicy, plan_kindergartens
from allocator.region import Region

RURAL = KindergartenPolicy(attached_class_area_types=("rural",), mip_gap=0.0)


def _region() -> Region:
    """Nodes on a line (km): A 0, B 3.0, C 4.5. S0 urban at A (25 children), S1 rural at B (20
    children: 45 minutes from A, over the rural 30). K1 public at A (30 places, 1 class). Schools:
    Q urban primary at A, J rural junior at B (no preschool classes at a junior school), P rural
    primary at C (1.5 km from B: 22.5 minutes at 4 km/h)."""
    g = nx.Graph()
    for n, x in (("A", 0.0), ("B", 3.0), ("C", 4.5)):
        g.add_node(n, x=x, y=0.0)
    g.add_edge("A", "B", minutes=5.0)
    g.add_edge("B", "C", minutes=3.0)
    schools = pd.DataFrame(
        [
            school_row(
                school_id=i,
                name=i,
                county="X",
                township="t",
                area_type=a,
                level=lv,
                node=n,
                x=x,
                y=0.0,
                capacity=100,
                annual_cost=0.0,
            )
            for i, a, lv, n, x in (
                ("Q", "urban", "primary", "A", 0.0),
                ("J", "rural", "junior", "B", 3.0),
                ("P", "rural", "primary", "C", 4.5),
            )
        ]  # fmt: skip
    )
    settlements = pd.DataFrame(
        {
            "settlement_id": ["S0", "S1"],
            "county": "X",
            "township": "t",
            "area_type": ["urban", "rural"],
            "node": ["A", "B"],
            "pupils_lower_primary": 0,
            "pupils_upper_primary": 0,
            "pupils_junior": 0,
            "pupils_senior": 0,
            "children_3_5": [25, 20],
        }
    )
    kindergartens = pd.DataFrame(
        {
            "kindergarten_id": ["K1"],
            "name": ["K1"],
            "node": ["A"],
            "ownership": ["public"],
            "places": [30],
            "classes": [1],
            "status": ["open"],
        }
    )
    return Region(schools, settlements, g, name="line", kindergartens=kindergartens)


def test_without_attached_classes_the_rural_child_is_beyond_reach():
    region = _region()
    plan = plan_kindergartens(region, KindergartenPolicy(mip_gap=0.0))
    assert list(plan.kindergartens["kindergarten_id"]) == ["K1"]
    s = plan.settlements.set_index("settlement_id")
    assert not s.loc["S1", "within_limit"] and s.loc["S0", "within_limit"]
    assert plan.objective_value == pytest.approx(0.0, abs=1e-6)  # 22.5 of S0 at K1, 0 minutes


def test_attached_class_at_the_village_primary_school():
    # 90 % of the 45 children within reach: 40.5 placed; K1 holds S0's 25, so 15.5 of S1 go to a
    # class attached to P (1 class of 30, 900,000 yuan; 22.5 minutes a child): the junior school
    # J at S1's own node is no site.
    region = _region()
    plan = plan_kindergartens(region, RURAL)
    k = plan.kindergartens.set_index("kindergarten_id")
    assert sorted(k.index) == ["K1", "class-P"]
    assert k.loc["class-P", "name"] == "P preschool class" and k.loc["class-P", "node"] == "C"
    assert k.loc["class-P", "action"] == "build"
    assert (k.loc["class-P", "classes_after"], k.loc["class-P", "places_after"]) == (1, 30)
    assert k.loc["class-P", "capital_yuan"] == 900_000
    assert plan.objective_value == pytest.approx(900_000 + 15.5 * 22.5, abs=1e-3)
    assert plan.settlements.set_index("settlement_id")["within_limit"].all()
    before = check(region).tables["preschool_counties"].set_index("county")
    after = check(plan.apply(region)).tables["preschool_counties"].set_index("county")
    assert before.loc["all", "within_walk_share"] == pytest.approx(25 / 45)
    assert after.loc["all", "within_walk_share"] == pytest.approx(1.0)


def test_attached_class_names_follow_the_region_language():
    region = _region()
    schools = region.schools.assign(name=["城关小学", "中学", "李村小学"])
    region = Region(schools, region.settlements, region.roads, kindergartens=region.kindergartens)
    k = plan_kindergartens(region, RURAL).kindergartens.set_index("kindergarten_id")
    assert k.loc["class-P", "name"] == "李村小学附设幼儿班"


@pytest.mark.parametrize(
    "field, value",
    [
        ("attached_class_area_types", "rural"),
        ("attached_class_area_types", ["village"]),
        ("attached_max_classes", -1),
    ],  # fmt: skip
)
def test_bad_attached_settings(field, value):
    with pytest.raises(InputError, match=field):
        KindergartenPolicy(**{field: value})
