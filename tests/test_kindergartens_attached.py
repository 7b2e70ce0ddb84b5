"""The figures of preschool classes attached to primary schools (附设幼儿班) come from the
preschool standard's ``[attached]`` group (local, with its source; the cost unconfirmed), are
overridable like any other setting, and ``KindergartenPolicy.attached_max_classes`` replaces the
standard's number of classes when given. Hand-computed on a line of three nodes."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest
from conftest import school_row

from allocator.errors import Infeasible, InputError
from allocator.planners.kindergartens import KindergartenPolicy, plan_kindergartens
from allocator.region import Region
from allocator.standards.preschool import load_preschool_standard


def line_region(rural_children: int = 50) -> Region:
    """Nodes on a line (km): A 0, B 3.0, C 4.5. S0 urban at A (25 children), S1 rural at B
    (``rural_children``: 45 minutes from A, over the rural 30). K1 public at A (30 places, 1
    class). P rural primary school at C (1.5 km from B: 22.5 minutes at 4 km/h)."""
    g = nx.Graph()
    for n, x in (("A", 0.0), ("B", 3.0), ("C", 4.5)):
        g.add_node(n, x=x, y=0.0)
    g.add_edge("A", "B", minutes=5.0)
    g.add_edge("B", "C", minutes=3.0)
    schools = pd.DataFrame(
        [
            school_row(school_id=i, name=i, county="X", township="t", area_type=a, level="primary",
                       node=n, x=x, y=0.0, capacity=100, annual_cost=0.0)
            for i, a, n, x in (("Q", "urban", "A", 0.0), ("P", "rural", "C", 4.5))
        ]
    )  # fmt: skip
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
            "children_3_5": [25, rural_children],
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


def _policy(**kw) -> KindergartenPolicy:
    return KindergartenPolicy(attached_class_area_types=("rural",), mip_gap=0.0, **kw)


def _class_p(plan) -> pd.Series:
    return plan.kindergartens.set_index("kindergarten_id").loc["class-P"]


def test_the_standard_holds_the_attached_figures_with_scope_and_source():
    s = load_preschool_standard()
    assert dict(s.settings["attached"]) == {
        "max_classes": 3,
        "places_per_class": 30,
        "yuan_per_class": 900_000.0,
    }
    rows = {r["setting"]: r for r in s.table()}
    for key in ("max_classes", "places_per_class", "yuan_per_class"):
        assert rows[f"attached.{key}"]["scope"] == "local"
    assert "国发〔2010〕41号" in s.source_of("attached.max_classes")
    assert not rows["attached.yuan_per_class"]["confirmed"]
    assert not rows["attached.max_classes"]["confirmed"]
    assert rows["attached.places_per_class"]["confirmed"]  # 混合班 30, 幼儿园工作规程 art. 11


def test_default_attached_classes_as_before():
    # 90 % of 75 children within reach: 67.5 placed; K1 takes S0's 25 (0 minutes), so 42.5 of S1
    # go to classes attached to P: 2 classes of 30 places at 900,000 yuan, 22.5 minutes a child
    plan = plan_kindergartens(line_region(), _policy())
    p = _class_p(plan)
    assert (p["classes_after"], p["places_after"], p["capital_yuan"]) == (2, 60, 1_800_000)
    assert plan.objective_value == pytest.approx(1_800_000 + 42.5 * 22.5, abs=1e-3)


def test_overridden_attached_figures_change_the_classes_and_their_cost():
    # classes of 20 places at 500,000 yuan: 42.5 children need 3 classes (60 places)
    over = {"attached": {"places_per_class": 20, "yuan_per_class": 500_000.0}}
    plan = plan_kindergartens(line_region(), _policy(overrides=over))
    p = _class_p(plan)
    assert (p["classes_after"], p["places_after"], p["capital_yuan"]) == (3, 60, 1_500_000)
    assert plan.objective_value == pytest.approx(1_500_000 + 42.5 * 22.5, abs=1e-3)
    rows = plan.standard.set_index("setting")
    assert rows.loc["attached.places_per_class", "value"] == 20
    assert rows.loc["attached.places_per_class", "scope"] == "local"


def test_the_policy_field_replaces_the_standards_number_of_classes():
    over = {"attached": {"places_per_class": 20, "max_classes": 3}}
    # two classes of 20 hold 40 of the 42.5 children needed: 65 of 67.5 placed at most
    with pytest.raises(Infeasible, match="needs 68 children placed.* at most 65 "):
        plan_kindergartens(line_region(), _policy(overrides=over, attached_max_classes=2))
    policy = _policy(overrides={"attached": {"max_classes": 1}}, attached_max_classes=4)
    assert policy.norms().value("attached.max_classes") == 4
    assert policy.norms().scope_of("attached.max_classes") == "local"
    assert _policy().norms().value("attached.max_classes") == 3
    # 110 rural children: 90 % of 135 is 121.5, K1 takes 25, so 96.5 need 4 classes of 30; the
    # standard's 3 hold 90
    plan = plan_kindergartens(line_region(rural_children=110), policy)
    assert (_class_p(plan)["classes_after"], _class_p(plan)["places_after"]) == (4, 120)
    with pytest.raises(Infeasible):
        plan_kindergartens(line_region(rural_children=110), _policy())


def test_bad_attached_settings_name_the_setting():
    with pytest.raises(InputError, match="attached.places_per_class"):
        KindergartenPolicy(overrides={"attached": {"places_per_class": 0}})
    with pytest.raises(InputError, match="attached.max_clases"):
        KindergartenPolicy(overrides={"attached": {"max_clases": 2}})
