"""A kindergarten plan says both enrolment rates (over the children within walking reach, which
``target_scope="reachable"`` holds to the target, and over all children) and how many children
live beyond every site's walking limit, by area type, with what would reach them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kindergartens_attached import line_region

from allocator.planners.kindergartens import KindergartenPolicy, plan_kindergartens
from allocator.planners.kindergartens.tables import reach_rows
from allocator.synth import make_region


@pytest.fixture(scope="module")
def line_plan():
    # S0 urban (25 children) within reach of K1, S1 rural (50) beyond every limit: 90 % of 25
    return plan_kindergartens(line_region(), KindergartenPolicy(mip_gap=0.0))


def test_hand_computed_rates_and_children_beyond(line_plan):
    r = line_plan.reach().set_index("area_type")
    assert list(r.index) == ["urban", "rural", "all"]
    assert r.loc["urban", ["children", "within_reach", "beyond_limit"]].tolist() == [25, 25, 0]
    assert r.loc["rural", ["children", "within_reach", "beyond_limit"]].tolist() == [50, 0, 50]
    assert r.loc["all", "placed"] == pytest.approx(22.5)
    assert r.loc["all", "enrolment_rate_within_reach"] == pytest.approx(0.9)
    assert r.loc["all", "gross_enrolment_rate"] == pytest.approx(22.5 / 75)
    assert np.isnan(r.loc["rural", "enrolment_rate_within_reach"])  # nobody within reach
    h = line_plan.headline()
    assert (h["children_within_reach"], h["children_beyond_limit"]) == (25, 50)
    assert h["children_beyond_limit_rural"] == 50 and h["children_beyond_limit_urban"] == 0
    assert h["gross_enrolment_rate_within_reach"] == pytest.approx(0.9)
    assert h["gross_enrolment_rate"] == pytest.approx(0.3)
    assert line_plan.tables["kindergarten_reach"].equals(line_plan.reach())


def test_summary_says_both_rates_and_the_way_to_reach_the_others(line_plan):
    text = line_plan.summary()
    assert "90.0% of the 25 children within walking reach" in text
    assert "30.0% of all 75 children aged 3-5" in text
    assert "the 90% target counts the children within reach" in text
    assert "50 children live beyond every site's walking limit (rural 50)" in text
    assert "candidate_nodes" in text and "attached_class_area_types" in text
    assert 'target_scope = "all"' in text
    zh = line_plan.summary("zh")
    assert "步行范围内有幼儿园或候选用地的 25 名幼儿中为 90.0%" in zh
    assert "全部 75 名3-5岁幼儿中为 30.0%" in zh
    assert "50 名幼儿在所有园所和候选用地的步行范围之外（乡村 50 人）" in zh


def test_nobody_beyond_reach_no_hint_and_scope_all_said():
    # classes attached to P reach S1: 90 % of all 75 children with target_scope "all"
    policy = KindergartenPolicy(
        attached_class_area_types=("rural",), target_scope="all", mip_gap=0.0
    )
    plan = plan_kindergartens(line_region(), policy)
    lines = plan.reach_lines()
    assert len(lines) == 1 and "the 90% target counts all children" in lines[0]
    assert "90.0% of the 75 children within walking reach" in lines[0]
    assert "90.0% of all 75 children" in lines[0]
    assert plan.headline()["children_beyond_limit"] == 0


def test_hint_leaves_out_what_the_policy_already_does():
    # a rural limit of 20 minutes: S1 is 22.5 minutes from the class attached to P, so still
    # beyond every limit although rural schools may attach classes
    policy = KindergartenPolicy(
        attached_class_area_types=("rural",), overrides={"walking": {"rural_minutes": 20.0}}
    )
    plan = plan_kindergartens(line_region(), policy)
    assert plan.headline()["children_beyond_limit_rural"] == 50
    beyond = plan.reach_lines()[1]
    assert beyond.startswith("50 children live beyond every site's walking limit (rural 50)")
    assert "candidate_nodes" in beyond and "attached_class_area_types" not in beyond


@pytest.mark.parametrize("seed", [3, 7])
def test_both_rates_recomputed_from_the_plans_tables(seed):
    region = make_region(schools=20, counties=2, seed=seed, kindergartens=True)
    plan = plan_kindergartens(region)
    s, a = plan.settlements, plan.assignments
    # within reach: some site within the settlement's walking limit (nearest site's minutes)
    reach = s["nearest_site_minutes"].notna() & (s["nearest_site_minutes"] <= s["limit_minutes"])
    assert (reach == s["within_limit"]).all()
    placed = a.groupby("settlement_id")["children"].sum()
    assert (a["walking_minutes"] <= a["limit_minutes"] + 1e-9).all()
    kids = s.set_index("settlement_id")["children"]
    within = kids[reach.to_numpy()]
    assert placed.index.isin(within.index).all()  # nobody beyond reach is placed
    rate_reach = placed.sum() / within.sum()
    rate_all = placed.sum() / kids.sum()
    h, r = plan.headline(), plan.reach().set_index("area_type")
    assert h["gross_enrolment_rate_within_reach"] == pytest.approx(rate_reach, abs=1e-6)
    assert h["gross_enrolment_rate"] == pytest.approx(rate_all, abs=1e-6)
    assert r.loc["all", "enrolment_rate_within_reach"] == pytest.approx(rate_reach)
    assert r.loc["all", "gross_enrolment_rate"] == pytest.approx(rate_all)
    assert rate_reach >= 0.9 - 1e-6
    for area, group in s.groupby("area_type"):
        far = float(group.loc[~reach[group.index], "children"].sum())
        assert r.loc[area, "beyond_limit"] == pytest.approx(far)
        assert h[f"children_beyond_limit_{area}"] == pytest.approx(far)
        got = placed.reindex(group["settlement_id"]).fillna(0).sum()
        assert r.loc[area, "placed"] == pytest.approx(got, abs=1e-6)
    t = plan.targets.set_index("indicator")["after"]
    assert t["gross_enrolment_rate"] == pytest.approx(rate_all)
    assert t["enrolment_rate_within_reach"] == pytest.approx(rate_reach)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["urban", "town", "rural"]),
            st.integers(0, 500),
            st.booleans(),
            st.floats(0, 1),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_reach_rows_add_up(rows):
    s = pd.DataFrame(rows, columns=["area_type", "children", "within_limit", "share"])
    s["placed"] = s["children"] * s["share"] * s["within_limit"]
    r = reach_rows(s).set_index("area_type")
    areas = r.drop(index="all")
    assert list(areas.index) == [a for a in ("urban", "town", "rural") if a in set(s["area_type"])]
    for col in ("children", "within_reach", "beyond_limit", "placed"):
        assert r.loc["all", col] == pytest.approx(areas[col].sum())
    assert np.allclose(r["within_reach"] + r["beyond_limit"], r["children"])
    assert r.loc["all", "beyond_limit"] == pytest.approx(
        s.loc[~s["within_limit"], "children"].sum()
    )
    for _, row in r.iterrows():
        if row["children"] > 0:
            assert row["gross_enrolment_rate"] == pytest.approx(row["placed"] / row["children"])
        else:
            assert np.isnan(row["gross_enrolment_rate"])
        if row["within_reach"] > 0:
            assert row["enrolment_rate_within_reach"] == pytest.approx(
                row["placed"] / row["within_reach"]
            )
            assert row["enrolment_rate_within_reach"] >= row["gross_enrolment_rate"] - 1e-12
