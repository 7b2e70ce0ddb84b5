"""Tests of the school district planner (allocator.planners.districts)."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import school_row

from allocator.districting.adjacency import (
    catchment_owners,
    touching_pairs,
)
from allocator.districting.adjacency import unit_graph as school_graph
from allocator.errors import Infeasible, InputError
from allocator.planners.base import HEADLINE_KEYS
from allocator.planners.districts import DistrictPolicy, plan_districts, quality_index
from allocator.synth import make_region

PUPILS = ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]


@pytest.fixture(scope="module")
def region():
    return make_region(schools=80, counties=2, seed=5)


@pytest.fixture(scope="module")
def plan(region):
    return plan_districts(region, DistrictPolicy(method="heuristic", schools_per_district=7))


# ------------------------------------------------------------------------------ quality index
def _school(**kw):
    """A rural primary school of 200 pupils that meets every 2017 threshold."""
    return school_row(
        **{
            "school_id": "s1",
            "pupils_lower_primary": 100,
            "pupils_upper_primary": 100,
            "teachers": 20,
            "teachers_qualified": 21,
            "teachers_backbone": 2,
            "teachers_pe_arts": 2,
            "floor_area_m2": 900.0,
            "sports_area_m2": 3000.0,
            "equipment_value": 400000.0,
            "multimedia_rooms": 46,
            **kw,
        }
    )


def test_quality_index_by_hand():
    # primary, 200 pupils: qualified 10.5/100 -> 2.5 (cap 1.5); backbone 1.0 -> 1; PE/arts
    # 1.0/0.9; floor 4.5 -> 1; sports 15/7.5 = 2 (cap 1.5); equipment 2000 -> 1; multimedia
    # 23/2.3 = 10 (cap 1.5)
    expected = (1.5 + 1 + 1 / 0.9 + 1 + 1.5 + 1 + 1.5) / 7
    # junior, 200 pupils, same resources: 10.5/5.3, 1/1, 1/0.9, 4.5/5.8, 15/10.2, 2000/2500, 23/2.4
    junior = [min(r, 1.5) for r in (10.5 / 5.3, 1.0, 1 / 0.9, 4.5 / 5.8, 15 / 10.2, 0.8, 23 / 2.4)]
    schools = pd.DataFrame(
        [
            _school(),
            _school(
                school_id="s2",
                level="junior",
                pupils_lower_primary=0,
                pupils_upper_primary=0,
                pupils_junior=200,
            ),
            _school(school_id="s3", level="senior", pupils_upper_primary=0, pupils_senior=300),
        ]
    )
    index, ratios = quality_index(schools)
    assert index["s1"] == pytest.approx(expected)
    assert index["s2"] == pytest.approx(sum(junior) / 7)
    assert math.isnan(index["s3"])
    r = ratios.set_index("school_id")
    assert r.loc["s1", "qualified_per_100_ratio"] == pytest.approx(2.5)  # uncapped in the table
    # a lower cap lowers the index: every ratio above 1.2 counts 1.2
    capped, _ = quality_index(schools, cap=1.2)
    assert capped["s1"] == pytest.approx((1.2 + 1 + 1 / 0.9 + 1 + 1.2 + 1 + 1.2) / 7)


# ------------------------------------------------------------------------------ the plan
def test_every_district_is_valid(region, plan):
    d = plan.districts
    assert list(d.columns[:2]) == ["school_id", "district"]
    assert set(d["school_id"]) == set(region.schools["school_id"])
    planned = d[d["planned"]].merge(region.schools, on=["school_id", "county"])
    tol = plan.policy.tolerance
    for county, sub in planned.groupby("county"):
        graph = plan.graphs[county]
        pupils = sub[PUPILS].sum(axis=1)
        mean = pupils.sum() / sub["district"].nunique()
        # strong = top quarter of the county's quality index, recomputed here
        cut = np.quantile(sub["quality"], 0.75)
        assert (sub["strong"] == (sub["quality"] >= cut - 1e-12)).all()
        for _, members in sub.groupby("district"):
            assert nx.is_connected(graph.subgraph(members["school_id"]))
            p = pupils[members.index].sum()
            assert (1 - tol) * mean - 1e-6 <= p <= (1 + tol) * mean + 1e-6
            assert members["strong"].any()
    # districts never cross a county border
    assert (d.groupby("district")["county"].nunique() == 1).all()


def test_summary_table_matches_an_independent_computation(region, plan):
    d = plan.districts[plan.districts["planned"]].merge(region.schools, on=["school_id", "county"])
    d["p"] = d[PUPILS].sum(axis=1)
    for row in plan.district_summary.itertuples():
        members = d[d["district"] == row.district]
        assert row.schools == len(members)
        assert row.pupils == members["p"].sum()
        assert row.strong_schools == members["strong"].sum()
        assert row.quality_mean == pytest.approx(
            np.average(members["quality"], weights=members["p"])
        )
    # spread per county as reported by the counties table
    for c in plan.counties.itertuples():
        s = plan.district_summary[plan.district_summary["county"] == c.county]
        assert c.quality_spread == pytest.approx(s["quality_mean"].max() - s["quality_mean"].min())
    assert plan.district_summary["longest_minutes"].ge(0).all()


def _theil_between_share(x, groups, w):
    x, w = np.asarray(x, float), np.asarray(w, float)
    mu = np.average(x, weights=w)
    total = np.sum(w / w.sum() * x / mu * np.log(x / mu))
    between = 0.0
    for g in set(groups):
        sel = np.asarray(groups) == g
        mu_g = np.average(x[sel], weights=w[sel])
        s_g = w[sel].sum() * mu_g / (w.sum() * mu)
        between += s_g * np.log(mu_g / mu)
    return total, between, between / total


def test_theil_figures(region, plan):
    d = plan.districts[plan.districts["planned"]].merge(region.schools, on=["school_id", "county"])
    w = d[PUPILS].sum(axis=1)
    total, between, share = _theil_between_share(d["quality"], list(d["district"]), w)
    assert plan.theil["theil_before"] == pytest.approx(total)
    assert plan.theil["theil_after_pooling"] == pytest.approx(between)
    assert plan.theil["theil_between_share_after"] == pytest.approx(share)
    towns = list(d["county"] + "/" + d["township"])
    _, _, share_towns = _theil_between_share(d["quality"], towns, w)
    assert plan.theil["theil_between_share_before"] == pytest.approx(share_towns)
    # balanced districts leave less of the inequality between groups than townships do
    assert share < share_towns


def test_apply_adds_district_and_leaves_region_unchanged(region, plan):
    after = plan.apply(region)
    assert "district" not in region.schools.columns
    assert after is not region
    m = dict(zip(plan.districts["school_id"], plan.districts["district"], strict=True))
    assert after.schools["district"].tolist() == [m[s] for s in after.schools["school_id"]]
    assert after.schools.drop(columns="district").equals(region.schools)
    # an attached school joins the district of its nearest districted school by road
    attached = plan.districts[~plan.districts["planned"]]
    for row in attached.head(3).itertuples():
        planned = plan.districts[
            plan.districts["planned"] & (plan.districts["county"] == row.county)
        ]
        nodes = region.schools.set_index("school_id").loc[planned["school_id"], "node"]
        src = region.schools.set_index("school_id").loc[row.school_id, "node"]
        t = region.travel_minutes([src], list(nodes)).toarray().ravel()
        reach = region.travel_minutes([src], list(nodes)).tocoo()
        best = np.full(len(nodes), np.inf)
        best[reach.col] = t[reach.col]
        assert row.district == planned["district"].iloc[int(np.argmin(best))]
    renamed = region.schools.copy()
    renamed.loc[renamed.index[0], "school_id"] = "NEW-1"
    with pytest.raises(InputError, match="region it was made for"):
        plan.apply(region.replace(schools=renamed))


def test_headline_and_summary(plan):
    h = plan.headline()
    assert h["districts"] == len(plan.district_summary)
    assert h["schools"] + h["schools_attached"] == len(plan.districts)
    assert h["status"] == "feasible"  # heuristic plans are never labelled optimal
    text = plan.summary()
    assert "districts" in text and "Theil" in text
    assert set(plan.tables) == {"districts", "district_summary", "counties"}


def test_same_seed_same_districts(region):
    policy = DistrictPolicy(method="heuristic", schools_per_district=7, seed=3, starts=2)
    a = plan_districts(region.county(region.counties[1]), policy)
    b = plan_districts(region.county(region.counties[1]), policy)
    assert a.districts["district"].tolist() == b.districts["district"].tolist()


def test_fixed_district_count_and_exact_small_county():
    region = make_region(schools=24, seed=4)
    plan = plan_districts(
        region,
        # two districts of this county need trips of about 145 minutes
        DistrictPolicy(
            districts=2, method="exact", tolerance=0.3, time_limit=20, max_trip_minutes=240
        ),
    )
    assert len(plan.district_summary) == 2
    assert plan.counties["method"].iloc[0] == "exact"
    assert plan.solve_info.status in ("optimal", "feasible")
    if plan.solve_info.status == "feasible":
        assert plan.solve_info.gap is not None


def test_infeasible_names_the_county(region):
    county = region.counties[0]
    with pytest.raises(Infeasible, match=f"county '{county}'"):
        # more districts than strong schools: every district needs one
        plan_districts(region, DistrictPolicy(districts={county: 39, region.counties[1]: 2}))


def test_policy_errors(region):
    with pytest.raises(ValueError, match="strong_quantile"):
        DistrictPolicy(strong_quantile=1.0)
    with pytest.raises(ValueError, match="method"):
        DistrictPolicy(method="fast")
    with pytest.raises(ValueError, match="districts"):
        DistrictPolicy(districts=0)
    assert DistrictPolicy(levels=["primary"]).levels == ("primary",)
    with pytest.raises(InputError, match="no entry for county"):
        plan_districts(region, DistrictPolicy(districts={region.counties[0]: 2}))


# ------------------------------------------------------------------------------ adjacency
@pytest.fixture(scope="module")
def hub_region():
    # C00S0000 and C00S0004 are both 0.71 min from the road hub c0h0
    return make_region(400, seed=5)


def _where(region):
    s = region.schools
    scope = s[s["level"].isin(DistrictPolicy().levels)]
    return dict(zip(scope["school_id"].astype(str), scope["node"].astype(str), strict=True))


def test_schools_equally_near_a_hub_share_it(hub_region):
    where = _where(hub_region)
    owners = catchment_owners(hub_region.roads, where)
    assert {"C00S0000", "C00S0004"} <= owners["c0h0"]
    touching = touching_pairs(hub_region.roads, where)
    near = {s: {a if b == s else b for a, b in touching if s in (a, b)} for s in where}
    # treated alike: the same neighbours besides each other
    assert near["C00S0000"] - {"C00S0004"} == near["C00S0004"] - {"C00S0000"}


def test_adjacency_does_not_depend_on_school_order_or_ids(hub_region):
    where = _where(hub_region)
    limit = DistrictPolicy().max_trip_minutes
    pairs = touching_pairs(hub_region.roads, where)
    # reversed order and ids renamed so that their sort order reverses too
    ids = list(where)
    new = {s: f"X{len(ids) - t:04d}" for t, s in enumerate(ids)}
    back = {v: k for k, v in new.items()}
    renamed = {new[s]: where[s] for s in reversed(ids)}
    again = touching_pairs(hub_region.roads, renamed)
    assert {tuple(sorted((back[a], back[b]))) for a, b in again} == pairs
    # the county graph: same edges and minutes whatever the order of the schools
    county = hub_region.schools[hub_region.schools["county"] == hub_region.counties[0]]
    sub = county[county["school_id"].isin(where)]
    nodes = sub["node"].astype(str).tolist()
    minutes = hub_region.travel_minutes(nodes, nodes).toarray()
    reach = hub_region.travel_minutes(nodes, nodes).tocoo()
    full = np.full(minutes.shape, np.inf)
    full[reach.row, reach.col] = reach.data
    sid = sub["school_id"].astype(str).tolist()
    g1 = school_graph(sid, full, pairs, 15.0, limit)
    order = np.arange(len(sid))[::-1]
    g2 = school_graph([sid[t] for t in order], full[np.ix_(order, order)], pairs, 15.0, limit)
    e1 = {(min(a, b), max(a, b), m) for a, b, m in g1.edges(data="minutes")}
    e2 = {(min(a, b), max(a, b), m) for a, b, m in g2.edges(data="minutes")}
    assert e1 == e2
    assert max(m for *_, m in e1) <= limit
    # the two schools equally near the hub are treated alike
    assert set(g1["C00S0000"]) - {"C00S0004"} == set(g1["C00S0004"]) - {"C00S0000"}


def test_no_edge_crosses_a_county_or_exceeds_the_trip_limit(region, plan):
    for county, graph in plan.graphs.items():
        counties = region.schools.set_index("school_id").loc[list(graph.nodes), "county"]
        assert set(counties) == {county}
        assert all(m <= plan.policy.max_trip_minutes for *_, m in graph.edges(data="minutes"))


def _longest_trip(region, members):
    nodes = region.schools.set_index("school_id").loc[members, "node"].astype(str).tolist()
    reach = region.travel_minutes(nodes, nodes).tocoo()
    full = np.full((len(nodes), len(nodes)), np.inf)
    full[reach.row, reach.col] = reach.data
    return float(full.max())


@pytest.mark.slow
def test_no_district_trip_exceeds_the_limit_on_the_hub_region(hub_region):
    # seen: a 26-school district across 9 townships with a 137-minute trip (the hub's county)
    county = hub_region.county("江区")
    policy = DistrictPolicy(method="heuristic", starts=1)
    plan = plan_districts(county, policy)
    d = plan.districts[plan.districts["planned"]]
    for name, members in d.groupby("district"):
        trip = _longest_trip(county, members["school_id"].tolist())
        assert trip <= policy.max_trip_minutes + 1e-9, name
    assert plan.district_summary["longest_minutes"].max() <= policy.max_trip_minutes + 1e-9


# ------------------------------------------------------------------------------ honest results
@pytest.mark.slow
def test_auto_falls_back_to_the_heuristic_on_the_seen_region(milp_stops_without_a_plan):
    # seen: DistrictPolicy(method="auto") on make_region(60, seed=1) raised "stopped without a
    # plan"; here every MILP stops without a plan (as on a loaded machine)
    region = make_region(60, seed=1)
    plan = plan_districts(region, DistrictPolicy(method="auto", starts=2))
    row = plan.counties.iloc[0]
    assert row["method"] == "heuristic" and row["status"] == "feasible"
    assert "fell back to the heuristic" in row["notes"]
    assert plan.solve_info.status == "feasible" and plan.solve_info.gap is None
    assert plan.district_summary["strong_schools"].min() >= 1
    for _, members in plan.districts[plan.districts["planned"]].groupby("district"):
        graph = plan.graphs[row["county"]]
        assert nx.is_connected(graph.subgraph(members["school_id"]))


# ------------------------------------------------------------------------------ errors
def _named(exc):
    assert exc.violations, exc.message
    for name, amount in exc.violations.items():
        assert isinstance(name, str) and name
        assert isinstance(amount, float) and math.isfinite(amount) and amount > 0


def test_every_infeasible_names_a_requirement_and_an_amount(region):
    county = region.counties[0]
    other = region.counties[1]
    cases = [
        DistrictPolicy(districts={county: 39, other: 2}),  # more districts than strong schools
        DistrictPolicy(districts=1, tolerance=0.0, method="heuristic"),  # fine: one district
        DistrictPolicy(  # schools more than 3 minutes apart never share a district
            districts=2, adjacency_minutes=3, max_trip_minutes=3, method="heuristic"
        ),
        DistrictPolicy(districts=2, tolerance=0.0, method="heuristic"),  # exact halves
    ]
    raised = 0
    for policy in cases:
        try:
            plan_districts(region, policy)
        except Infeasible as exc:
            raised += 1
            _named(exc)
            assert any(county in k or other in k for k in exc.violations)
    assert raised >= 2


def test_contradictory_policies_are_rejected_when_built():
    bad = [
        ("adjacency_minutes", dict(adjacency_minutes=30, max_trip_minutes=20), 30),
        ("levels", dict(levels=[]), ()),
        ("levels", dict(levels=["primary", "college"]), ("primary", "college")),
        ("schools_per_district", dict(schools_per_district=0.5), 0.5),
        ("quality_cap", dict(quality_cap=0.8), 0.8),
        ("max_trip_minutes", dict(max_trip_minutes=0), 0),
        ("tolerance", dict(tolerance=1.0), 1.0),
        ("starts", dict(starts=0), 0),
    ]
    for name, kwargs, value in bad:
        with pytest.raises(InputError) as info:
            DistrictPolicy(**kwargs)
        assert info.value.column == name and info.value.table == "policy"
        assert name in str(info.value)
        got = info.value.value
        assert tuple(got) == tuple(value) if isinstance(value, tuple) else got == value


@pytest.mark.parametrize("seed", range(15))
def test_synthetic_regions_are_feasible_for_the_default_policy(seed):
    # every default except the method: the heuristic keeps the test fast (feasibility does not
    # depend on the method); one start
    region = make_region(schools=40 + (seed * 7) % 31, seed=seed)
    policy = DistrictPolicy(method="heuristic", starts=1)
    plan = plan_districts(region, policy)
    assert plan.district_summary["strong_schools"].min() >= 1
    assert plan.district_summary["longest_minutes"].max() <= policy.max_trip_minutes + 1e-9
    d = plan.districts[plan.districts["planned"]]
    assert set(d["school_id"]) <= set(region.schools["school_id"])
    for county, sub in d.groupby("county"):
        graph = plan.graphs[county]
        for _, members in sub.groupby("district"):
            assert nx.is_connected(graph.subgraph(members["school_id"]))


# ------------------------------------------------------------------------------ plan protocol
def test_policy_is_frozen_and_hashable():
    policy = DistrictPolicy(districts={"A": 2, "B": 3}, levels=["primary", "junior"])
    assert hash(policy) == hash(
        DistrictPolicy(districts={"B": 3, "A": 2}, levels=("primary", "junior"))
    )
    assert policy.districts == {"A": 2, "B": 3} and policy.levels == ("primary", "junior")
    with pytest.raises(TypeError):
        policy.districts["A"] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.tolerance = 0.3


def test_plan_is_frozen_with_copied_tables_and_the_common_headline(plan):
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.districts = None
    tables = plan.tables
    tables["districts"]["district"] = "changed"
    assert (plan.districts["district"] != "changed").all()
    assert tuple(plan.headline())[: len(HEADLINE_KEYS)] == HEADLINE_KEYS
    assert plan.headline()["objective"] == pytest.approx(plan.counties["objective"].sum())
    with pytest.raises(TypeError):
        plan.graphs["elsewhere"] = nx.Graph()


def _exclave_region():
    """A 40-school region whose smallest non-strong school stands 300 road minutes away."""
    from allocator.synth import make_region

    region = make_region(schools=40, seed=3)
    schools = region.schools.copy()
    county = schools["county"].iloc[0]
    ids = plan_districts(region, DistrictPolicy(method="heuristic")).districts
    weak = ids[(ids["county"] == county) & ids["planned"] & ~ids["strong"]]
    sid = weak.sort_values("pupils")["school_id"].iloc[0]
    old = schools.loc[schools["school_id"] == sid, "node"].iloc[0]
    roads = region.roads.copy()
    roads.add_node("exclave", **{k: v for k, v in roads.nodes[old].items()})
    roads.add_edge("exclave", old, minutes=300.0, km=250.0)
    schools.loc[schools["school_id"] == sid, "node"] = "exclave"
    return region.replace(schools=schools, roads=roads), sid, county


@pytest.mark.slow
def test_a_county_exclave_is_districted_apart_and_flagged():
    """A school beyond max_trip_minutes from every other school of its county, with no strong
    school beside it, would make every count infeasible: it becomes a district of its own,
    flagged `detached`, and the rest of the county is districted under the rules."""
    region, sid, county = _exclave_region()
    plan = plan_districts(region, DistrictPolicy(method="heuristic"))
    d = plan.districts.set_index("school_id")
    summary = plan.district_summary
    alone = summary[summary["district"] == d.loc[sid, "district"]]
    assert alone["schools"].tolist() == [1] and alone["detached"].tolist() == [True]
    assert int(summary["detached"].sum()) == 1
    row = plan.counties.set_index("county").loc[county]
    assert row["detached_schools"] == 1
    assert row["districts"] == int((summary["county"] == county).sum())
    # every other district of the county keeps the balance and holds a strong school
    rest = summary[(summary["county"] == county) & ~summary["detached"]]
    mean = rest["pupils"].sum() / len(rest)
    tol = DistrictPolicy().tolerance
    assert (
        (rest["pupils"] >= (1 - tol) * mean - 1e-6) & (rest["pupils"] <= (1 + tol) * mean + 1e-6)
    ).all()
    assert (rest["strong_schools"] >= 1).all()
    assert "单独组成 1 个学区" in plan.summary("zh")
    assert "1 school(s) more than 120 min by road" in plan.summary("en")
