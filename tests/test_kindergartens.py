"""Tests of the kindergarten planner: a hand-computed region, an independent enumeration of its
levels, hypothesis invariants on synthetic regions, infeasible targets explained, bad inputs,
the region's kindergartens table (validation, files, synthetic stream, chaining) and the scenario."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from conftest import school_row
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from allocator.errors import Infeasible, InputError
from allocator.io import load_region, save_region
from allocator.planners.kindergartens import KindergartenPolicy, plan_kindergartens
from allocator.planners.kindergartens.data import kindergarten_data
from allocator.planners.registry import get_planner
from allocator.region import Region
from allocator.standards.preschool import load_preschool_standard
from allocator.synth import make_region

ROOT = Path(__file__).resolve().parents[1]


def _region(kindergartens=None, children=(100, 200, 50)) -> Region:
    """Nodes on a line (km): A 0, B 0.5, D 0.8, C 3.0. Settlements at A, D, C (urban: 15 minutes
    = 1 km at 4 km/h, so C reaches nothing); K1 public at A (90 places), K2 other at B (150),
    R1 reserved land at D."""
    g = nx.Graph()
    for n, x in (("A", 0.0), ("B", 0.5), ("D", 0.8), ("C", 3.0)):
        g.add_node(n, x=x, y=0.0)
    g.add_edge("A", "B", minutes=1.0)
    g.add_edge("B", "D", minutes=1.0)
    g.add_edge("D", "C", minutes=3.0)
    schools = pd.DataFrame(
        [
            school_row(
                school_id="P",
                name="P",
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
            "settlement_id": ["S1", "S2", "S3"],
            "county": "A",
            "township": "t",
            "area_type": "urban",
            "node": ["A", "D", "C"],
            "pupils_lower_primary": 0,
            "pupils_upper_primary": 0,
            "pupils_junior": 0,
            "pupils_senior": 0,
            "children_3_5": list(children),
        }
    )
    if kindergartens is None:
        kindergartens = pd.DataFrame(
            {
                "kindergarten_id": ["K1", "K2", "R1"],
                "name": ["K1", "K2", "R1"],
                "node": ["A", "B", "D"],
                "ownership": ["public", "other", "public"],
                "places": [90, 150, 0],
                "classes": [3, 5, 0],
                "status": ["open", "open", "reserved"],
            }
        )
    return Region(schools, settlements, g, name="line", kindergartens=kindergartens)


def test_hand_computed_plan():
    # need 90 % of the 300 children within reach = 270 places; today 240. Cheapest: K1 +3 classes
    # (2.7 M) and K2 made inclusive (150 x 1500 x 5 = 1.125 M) so that 85 % are inclusive;
    # walking: S1's 100 at K1 (0 min); public >= 50 % of 270 puts 35 of S2 at K1 (0.8 km, 12 min)
    # and its other 135 at K2 (0.3 km, 4.5 min): 420 + 607.5 child-minutes at 1 yuan.
    region = _region()
    plan = plan_kindergartens(region, KindergartenPolicy(mip_gap=0.0))  # exact, walking included
    k = plan.kindergartens.set_index("kindergarten_id")
    assert k.loc["K1", "action"] == "expand" and k.loc["K1", "places_after"] == 180
    assert (
        k.loc["K2", "action"] == "convert" and k.loc["K2", "ownership_after"] == "inclusive_private"
    )
    assert k.loc["R1", "action"] == "none"
    assert plan.objective_value == pytest.approx(3_825_000 + 1027.5, abs=1e-3)
    h = plan.headline()
    assert h["placed"] == pytest.approx(270) and h["children_beyond_limit"] == 50
    assert h["capital_yuan"] == 2_700_000 and h["subsidy_yuan_per_year"] == 225_000
    assert plan.yuan_figures() == {"capital_yuan": 2_700_000.0,
                                   "running_change_yuan_per_year": 225_000.0}  # fmt: skip
    t = plan.targets.set_index("indicator")
    assert t.loc["enrolment_rate_within_reach", "before"] == pytest.approx(240 / 300)
    assert t.loc["enrolment_rate_within_reach", "after"] == pytest.approx(0.9)
    assert t.loc["gross_enrolment_rate", "after"] == pytest.approx(270 / 350)
    assert not t.loc["gross_enrolment_rate", "met"]  # S3 lives beyond every walking limit
    assert t.loc["inclusive_share", "scope"] == "national"
    assert "S3" in set(plan.settlements.loc[~plan.settlements["within_limit"], "settlement_id"])
    after = plan.apply(region)
    ka = after.kindergartens.set_index("kindergarten_id")
    assert ka.loc["K1", "places"] == 180 and ka.loc["K2", "ownership"] == "inclusive_private"
    assert ka.loc["R1", "status"] == "reserved"
    with pytest.raises(InputError, match="applied already"):
        plan.apply(after)
    assert "Kindergarten places" in plan.summary() and "幼儿园" in plan.summary("zh")


def test_budget_mode_places_most_children():
    # 2.7 M buys one of: K2 made inclusive (1.125 M): public K1's 90 places cap the placed at
    # 180 (public >= 50 %); or K1 +3 classes (2.7 M): 180 public, inclusive >= 85 % caps the
    # placed at 180 / 0.85 = 211.8. Both (3.825 M): all 300 within reach.
    plan = plan_kindergartens(_region(), KindergartenPolicy(budget_yuan=2_700_000))
    k = plan.kindergartens.set_index("kindergarten_id")
    assert plan.headline()["placed"] == pytest.approx(180 / 0.85)
    assert k.loc["K1", "action"] == "expand" and k.loc["K2", "action"] == "keep"
    plan = plan_kindergartens(_region(), KindergartenPolicy(budget_yuan=3_825_000))
    assert plan.headline()["placed"] == pytest.approx(300)


def _enumerate(data, policy) -> float:
    """The least cost over every choice of levels, each with its flows solved as an LP."""
    lv, walk = data.levels, data.walk.tocoo()
    children = data.settlements["children"].to_numpy(float)
    reach = np.diff(data.walk.indptr) > 0
    need = data.norms.gross_enrolment_rate * children[reach].sum()
    options = []
    for j, s in data.sites.iterrows():
        rows = list(lv.index[lv["site"] == j])
        options.append(rows if s["status"] == "open" else [None, *rows])
    best = np.inf
    n_pairs = walk.nnz
    for combo in itertools.product(*options):
        chosen = [c for c in combo if c is not None]
        cap = np.zeros(len(data.sites))
        pub = np.zeros(len(data.sites), bool)
        inc = np.zeros(len(data.sites), bool)
        for c in chosen:
            cap[lv.at[c, "site"]] = lv.at[c, "places"]
            pub[lv.at[c, "site"]] = lv.at[c, "public"]
            inc[lv.at[c, "site"]] = lv.at[c, "inclusive"]
        a_ub, b_ub = [], []
        for i in range(len(children)):  # served <= children
            a_ub.append((walk.row == i).astype(float))
            b_ub.append(children[i])
        for j in range(len(cap)):  # load <= places
            a_ub.append((walk.col == j).astype(float))
            b_ub.append(cap[j])
        a_ub.append(-np.ones(n_pairs))  # placed >= need
        b_ub.append(-need)
        for tag, share in ((inc, data.norms.inclusive_share), (pub, data.norms.public_share)):
            a_ub.append(share - tag[walk.col].astype(float))  # share * placed <= tagged
            b_ub.append(0.0)
        res = linprog(walk.data * policy.yuan_per_child_minute, A_ub=np.array(a_ub),
                      b_ub=np.array(b_ub), bounds=(0, None), method="highs")  # fmt: skip
        if res.status == 0:
            best = min(best, res.fun + float(lv.loc[chosen, "cost_yuan"].sum()))
    return best


@pytest.mark.parametrize("public_share", [0.5, 0.8])
def test_agrees_with_enumeration(public_share):
    policy = KindergartenPolicy(public_share=public_share, max_added_classes=3, mip_gap=0.0)
    region = _region(children=(120, 220, 50))
    want = _enumerate(kindergarten_data(region, policy), policy)
    assert plan_kindergartens(region, policy).objective_value == pytest.approx(want, abs=1e-3)


def test_infeasible_targets_are_explained_with_numbers():
    with pytest.raises(Infeasible, match="only 300 of 350 children aged 3-5 live within"):
        plan_kindergartens(_region(), KindergartenPolicy(target_scope="all"))
    no_sites = _region().kindergartens.iloc[:2]
    with pytest.raises(Infeasible, match="needs 270 places, but .* at most 240"):
        plan_kindergartens(_region(no_sites), KindergartenPolicy(max_added_classes=0))
    with pytest.raises(Infeasible, match=r"public share target \(100%\) needs 270 .* at most 180"):
        plan_kindergartens(
            _region(no_sites), KindergartenPolicy(public_share=1, max_added_classes=3)
        )
    # no count shows it, the model does: within 8 minutes (533 m) only S1's 100 reach public K1,
    # below 50 % of the 270 to place
    walk8 = KindergartenPolicy(overrides={"walking": {"urban_minutes": 8.0}})
    with pytest.raises(Infeasible, match="at most 300 children can be placed .* but not with"):
        plan_kindergartens(_region(no_sites), walk8)


def test_bad_inputs_get_one_clear_error():
    with pytest.raises(InputError, match="gross_enrolment_rate must be a number from 0 to 1"):
        KindergartenPolicy(gross_enrolment_rate=1.5)
    with pytest.raises(InputError, match="unknown preschool setting 'walking.urban_minute'"):
        KindergartenPolicy(overrides={"walking": {"urban_minute": 10}})
    with pytest.raises(InputError, match="candidate_area_types"):
        KindergartenPolicy(candidate_area_types=["suburb"])
    with pytest.raises(InputError, match="candidate node 'Z' is not in the road graph"):
        plan_kindergartens(_region(), KindergartenPolicy(candidate_nodes=["Z"]))
    k = _region().kindergartens
    with pytest.raises(InputError, match="unknown value 'private'") as err:
        _region(k.assign(ownership=["public", "private", "public"]))
    assert err.value.table == "kindergartens" and err.value.column == "ownership"
    with pytest.raises(InputError, match="candidate site has places"):
        plan_kindergartens(_region(k.assign(places=[90, 150, 30])))
    with pytest.raises(InputError, match="missing required column"):
        _region(k.drop(columns="places"))
    with pytest.raises(InputError, match="children_3_5"):
        plan_kindergartens(_region(children=(100, -5, 50)))
    bare = _region().replace(kindergartens=None)
    assert bare.kindergartens is not None  # replace keeps the table unless another is given
    with pytest.raises(InputError, match="no kindergartens table"):
        plan_kindergartens(Region(bare.schools, bare.settlements, bare.roads))


def test_standard_scope_sources_and_unconfirmed():
    s = load_preschool_standard()
    assert s.class_sizes == (25, 30, 35) and s.places_per_class == 30
    assert s.scope_of("targets.public_share") == "national"
    assert s.scope_of("walking.rural_minutes") == "local"
    assert "教基〔2021〕8号" in s.source_of("targets.gross_enrolment_rate")
    rows = {r["setting"]: r for r in s.table()}
    assert not rows["walking.rural_minutes"]["confirmed"]
    assert rows["size.max_children"]["value"] == 360 and rows["size.max_children"]["confirmed"]
    with pytest.raises(InputError, match="expected a number from 0 to 1"):
        load_preschool_standard(overrides={"targets": {"public_share": 2}})


@settings(max_examples=6)
@given(seed=st.integers(0, 50), public=st.sampled_from([0.5, 0.7]), scope=st.sampled_from(
    ["reachable", "all"]), budget=st.sampled_from([None, 5e6]))  # fmt: skip
def test_invariants_on_synthetic_regions(seed, public, scope, budget):
    region = make_region(schools=10, counties=1, seed=seed, kindergartens=True)
    policy = KindergartenPolicy(public_share=public, target_scope=scope, budget_yuan=budget)
    try:
        plan = plan_kindergartens(region, policy)
    except Infeasible as exc:
        assert any(ch.isdigit() for ch in str(exc))  # explained with its numbers
        return
    k, s, a = plan.kindergartens, plan.settlements, plan.assignments
    assert (a["walking_minutes"] <= a["limit_minutes"] + 1e-9).all()
    load = a.groupby("kindergarten_id")["children"].sum()
    places = k.set_index("kindergarten_id")["places_after"]
    assert (load <= places.reindex(load.index) + 1e-6).all()
    assert (s["placed"] <= s["children"] + 1e-6).all()
    assert (s.loc[~s["within_limit"], "placed"] == 0).all()  # beyond the limit: reported
    existing = k["status_before"] == "open"
    assert (k.loc[existing, "places_after"] >= k.loc[existing, "places_before"]).all()
    placed = a["children"].sum()
    owner = a.merge(k, on="kindergarten_id")["ownership_after"]
    assert a["children"][owner.eq("public").to_numpy()].sum() >= public * placed - 1e-6
    if budget is None:
        t = plan.targets.set_index("indicator")["met"]
        assert t["enrolment_rate_within_reach"] and t["inclusive_share"] and t["public_share"]
    else:
        h = plan.headline()
        assert h["capital_yuan"] + 5 * h["subsidy_yuan_per_year"] <= budget + 1e-6


def test_region_table_files_synth_stream_and_chaining(tmp_path):
    region = make_region(schools=40, seed=3, kindergartens=True)
    plain = make_region(schools=40, seed=3)
    assert plain.kindergartens is None
    assert region.schools.equals(plain.schools) and region.settlements.equals(plain.settlements)
    save_region(region, tmp_path / "r")
    assert (tmp_path / "r" / "kindergartens.csv").exists()
    assert load_region(tmp_path / "r") == region
    # a merger plan drops schools: their buildings become vacated kindergarten sites
    from allocator.planners.mergers import plan_mergers

    after = plan_mergers(region).apply(region)
    gone = set(region.schools["school_id"]) - set(after.schools["school_id"])
    vacated = after.kindergartens[after.kindergartens["status"] == "vacated"]
    assert set(vacated["kindergarten_id"]) == {
        s for s in gone if region.schools.set_index("school_id").at[s, "level"] != "senior"
    }
    data = kindergarten_data(after, KindergartenPolicy())
    assert set(vacated["kindergarten_id"]) <= set(data.sites["kindergarten_id"])


def test_scenario_plans_a_new_area(tmp_path):
    from allocator.pipeline import run_scenario

    assert get_planner("kindergartens").policy is KindergartenPolicy
    out = tmp_path / "run"
    result = run_scenario(ROOT / "scenarios" / "new_area_kindergartens.toml", out=out)
    assert result.failure is None
    targets = pd.read_csv(out / "kindergartens.kindergarten_targets.csv", encoding="utf-8-sig")
    met = targets.set_index("indicator")["met"]
    assert met["enrolment_rate_within_reach"] and met["public_share"]
    built = pd.read_csv(out / "kindergartens.kindergartens.csv", encoding="utf-8-sig")
    assert (built["action"] == "build").sum() > 0
    assert (built["places_after"] <= 360 * 3).all()


def test_kindergartens_table_defaults_and_index():
    k = _region().kindergartens.set_axis([5, 6, 7])
    region = _region(k.assign(status=["open", None, "reserved"]))
    assert region.kindergartens["status"].tolist() == ["open", "open", "reserved"]
    assert region.kindergartens.index.tolist() == [0, 1, 2]
    assert _region(k.drop(columns="status")).kindergartens["status"].eq("open").all()
    with pytest.raises(InputError, match="duplicate id 'K1'"):
        _region(k.assign(kindergarten_id=["K1", "K1", "R1"]))
    with pytest.raises(InputError, match="node 'Q' is not in the road graph"):
        _region(k.assign(node=["A", "Q", "D"]))


def test_walking_minutes_agree_with_networkx():
    from allocator.planners.kindergartens.data import walking_minutes

    region = make_region(schools=20, counties=1, seed=4)
    g = region.roads
    km = nx.Graph()
    for u, v in g.edges:
        a, b = g.nodes[u], g.nodes[v]
        km.add_edge(u, v, km=max(float(np.hypot(a["x"] - b["x"], a["y"] - b["y"])), 1e-9))
    sources = list(region.settlements["node"][:15])
    targets = list(region.schools["node"])
    limits = np.full(len(sources), 40.0)
    walk = walking_minutes(region, sources, targets, limits, 4.0).tocoo()
    kept = {(i, j): m for i, j, m in zip(walk.row, walk.col, walk.data, strict=True)}
    for i, s in enumerate(sources):
        dist = nx.single_source_dijkstra_path_length(km, s, weight="km")
        for j, t in enumerate(targets):
            minutes = dist.get(t, np.inf) * 15.0  # 4 km/h: 15 minutes a km
            if minutes <= 40.0 - 1e-6:
                assert kept[(i, j)] == pytest.approx(minutes, abs=1e-6)
            elif minutes > 40.0 + 1e-6:
                assert (i, j) not in kept
