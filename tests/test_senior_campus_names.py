"""A new senior campus has a name a planner reads, in the region's language, after the school or
township at its road node; the node stays in its own column, in the plan's tables, the region
after the plan and the report."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from allocator.i18n import Words
from allocator.planners.senior import plan_senior
from allocator.planners.senior.tables import campus_names
from allocator.report.senior import campus_table
from allocator.synth import make_region

CJK = re.compile("[\u3400-\u9fff]")


def _sites(names, counties, nodes) -> pd.DataFrame:
    return pd.DataFrame({"name": names, "county": counties, "node": nodes})


def test_names_are_numbered_per_kind_county_by_county_and_never_taken():
    sites = _sites(
        ["新建普通高中3（c2附近）", "site c2", "site c3", "site c4", "site c5"],
        ["江县", "北县", "江县", "北县", "江县"],
        ["c9", "c2", "c3", "c4", "c5"],
    )
    names = campus_names(sites, {1: "general", 2: "general", 3: "vocational", 4: "general"})
    # 江县 is listed first: its campuses come first; "新建普通高中3（c2附近）" is taken already
    assert names.tolist() == [
        "新建普通高中3（c2附近）",
        "新建普通高中4（c2附近）",
        "新建普通高中1（c3附近）",
        "新建中职学校1（c4附近）",
        "新建普通高中2（c5附近）",
    ]
    assert len(set(names)) == len(names)


def test_an_english_region_names_its_campuses_in_english():
    sites = _sites(["Riverside High", "site n1"], ["North", "North"], ["n0", "n1"])
    assert campus_names(sites, {1: "vocational"}).tolist() == [
        "Riverside High",
        "new vocational campus 1 (near n1)",
    ]


@pytest.fixture(scope="module")
def planned():
    """Two counties without senior schools of their own kind: the plan builds four campuses."""
    region = make_region(schools=60, counties=2, seed=5)
    return region, plan_senior(region)


def test_a_chinese_regions_new_campuses_are_named_in_chinese_after_the_school_at_their_node(
    planned,
):
    region, plan = planned
    k = plan.schools
    new = k[k["action"] == "build"]
    assert len(new) >= 2 and set(new["kind"]) == {"general", "vocational"}
    school_at = region.schools.drop_duplicates("node").set_index("node")["name"]
    for row in new.itertuples(index=False):
        kind = "普通高中" if row.kind == "general" else "中职学校"
        assert re.fullmatch(f"新建{kind}\\d+（{re.escape(school_at[row.node])}附近）", row.name)
        assert row.senior_id == f"site-{row.node}"  # the node in its own column and the id
    assert k["name"].is_unique
    # numbered 1, 2, ... per kind
    for kind in ("general", "vocational"):
        numbers = sorted(
            int(re.search(r"\d+", n).group()) for n in new.loc[new["kind"] == kind, "name"]
        )
        assert numbers == list(range(1, len(numbers) + 1))
    # the pupils' table and the region after the plan carry the same names
    assert set(plan.assignments["name"]) <= set(k["name"])
    after = plan.apply(region).senior_schools.set_index("senior_id")
    assert after.loc[new["senior_id"], "name"].tolist() == new["name"].tolist()
    assert after.loc[new["senior_id"], "node"].tolist() == new["node"].tolist()


def test_the_report_shows_the_campus_name_and_its_node_apart(planned):
    _, plan = planned
    new = plan.schools[plan.schools["action"] == "build"]
    shown = campus_table(plan, Words("zh")).set_index("路网节点")
    assert shown.loc[new["node"], "校区"].tolist() == new["name"].tolist()
    assert all(CJK.search(name) for name in shown["校区"])
    english = campus_table(plan, Words("en"))
    assert set(new["name"]) <= set(english["campus"]) and "road node" in english


def test_candidate_sites_left_unbuilt_are_named_too(planned):
    region, plan = planned
    k = plan.schools
    idle = k[(k["status_before"] == "candidate") & (k["action"] == "none")]
    assert len(idle) >= 1
    school_at = region.schools.drop_duplicates("node").set_index("node")["name"]
    for row in idle.itertuples(index=False):
        near = school_at.get(row.node)
        assert re.fullmatch(r"候选校址\d+（.+附近）", row.name), row.name
        if near is not None:
            assert row.name.endswith(f"（{near}附近）")
    assert not k["name"].str.startswith("site ").any() and k["name"].is_unique
