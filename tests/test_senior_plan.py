"""plan_senior: a hand-computed plan, agreement with an independent PuLP model, invariants of
random plans (places, band, size limit, boarding) or the explained infeasibility, the protocol."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pulp
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible, InputError
from allocator.planners.senior import SeniorPolicy, plan_senior
from allocator.planners.senior.data import senior_data
from allocator.synth import make_region

#: Small modules so that hand plans stay small.
SMALL = {"size": {"module_places": 100, "min_new_pupils": 600}}


@pytest.fixture(scope="module")
def region():
    # one county, 江县: 2,126 junior graduates -> 1,956 places; general 978..1,173; vocational 783
    return make_region(schools=40, seed=3)


def with_table(region, rows):
    cols = ["senior_id", "name", "county", "node", "kind", "places", "boarding_places"]
    return region.replace(senior_schools=pd.DataFrame(rows, columns=cols))


def test_hand_computed_plan_expands_the_vocational_school_by_one_module(region):
    # general 1,160 >= 978; vocational 700 < 783: +100 -> 800; 1,160 + 800 = 1,960 >= 1,956.
    # Any other plan adds at least one more module (4,000,000 yuan) or builds (36,000,000).
    r = with_table(
        region,
        [("G", "一中", "江县", "c0s0", "general", 1160, 900),
         ("V", "职中", "江县", "c0s2", "vocational", 700, 0)],
    )  # fmt: skip
    plan = plan_senior(r, SeniorPolicy(overrides=SMALL))
    k = plan.schools.set_index("senior_id")
    assert k.loc["V", "action"] == "expand" and k.loc["V", "places_after"] == 800
    assert k.loc["G", "action"] == "keep" and k.loc["G", "places_after"] == 1160
    assert (k.loc[k["status_before"] == "candidate", "action"] == "none").all()
    assert k["places_yuan"].sum() == 100 * 40000
    c = plan.counties.iloc[0]
    assert (c["cohort"], c["needed"], c["general_min"], c["general_max"]) == (2126, 1956, 978, 1173)
    assert c["placed"] == 1956 and c["vocational_pupils"] >= 783 and c["met"]
    assert 1156 - 1e-6 <= c["general_pupils"] <= 1160 + 1e-6  # 1,956 - 800 .. 1,160
    # boarding recomputed from the assignments: every pupil beyond 15 km, 70 % of the others
    a = plan.assignments
    for sid in ("G", "V"):
        pupils = a.loc[a["senior_id"] == sid, "pupils"].sum()
        far = a.loc[(a["senior_id"] == sid) & (a["km"] > 15), "pupils"].sum()
        need = math.ceil(round(far + 0.7 * (pupils - far), 6))
        assert k.loc[sid, "boarding_after"] == max(need, k.loc[sid, "boarding_before"])
    assert plan.yuan_figures()["capital_yuan"] == pytest.approx(
        4e6 + 25000 * k["boarding_added"].sum()
    )


def test_no_table_and_no_candidates_is_one_explained_infeasibility(region):
    with pytest.raises(Infeasible) as err:
        plan_senior(region, SeniorPolicy(candidate_area_types=()))
    msg = str(err.value)
    assert "county '江县' needs 1,956 senior places" in msg and "hold at most 0" in msg
    assert "\n" not in msg


def test_a_small_size_limit_is_explained_with_the_most_placeable(region):
    r = with_table(region, [("G", "一中", "江县", "c0s0", "general", 400, 0)])
    policy = SeniorPolicy(max_pupils=500, candidate_area_types=("urban",))
    sites = senior_data(r, policy).sites
    most = 500 + 500 * int((sites["status"] == "candidate").sum())
    with pytest.raises(Infeasible, match=f"hold at most {most:,} at the size limit of 500"):
        plan_senior(r, policy)


def test_the_band_needs_vocational_places_that_cannot_exist(region):
    r = with_table(region, [("G", "一中", "江县", "c0s0", "general", 2000, 0)])
    with pytest.raises(Infeasible, match="at least 783 vocational places, but .* at most 0"):
        plan_senior(r, SeniorPolicy(candidate_area_types=()))


def pulp_objective(data, weight):
    """An independent MILP of the county model, written from its statement, solved by CBC."""
    prob = pulp.LpProblem("senior", pulp.LpMinimize)
    lv, sites = data.levels, data.sites
    y = {lev: pulp.LpVariable(f"y{lev}", cat="Binary") for lev in lv.index}
    km = data.km.tocoo()
    x = {
        (i, j): pulp.LpVariable(f"x{i}_{j}", lowBound=0)
        for i, j in zip(km.row, km.col, strict=True)
    }
    dist = dict(zip(zip(km.row, km.col, strict=True), km.data, strict=True))
    # each pupil's boarding place: a whole one beyond 15 km, 0.7 of one within; a campus buys
    # those beyond the places it holds (b_j), 25,000 yuan each
    board = {p: 1.0 if dist[p] > 15.0 else 0.7 for p in x}
    bought = [pulp.LpVariable(f"b{j}", lowBound=0) for j in range(len(sites))]
    prob += (
        pulp.lpSum(lv.loc[lev, "cost_yuan"] * y[lev] for lev in y)
        + pulp.lpSum(weight * dist[p] * x[p] for p in x)
        + pulp.lpSum(25000.0 * b for b in bought)
    )
    for j in range(len(sites)):
        mine = lv.index[lv["site"] == j]
        need = pulp.lpSum(board[p] * x[p] for p in x if p[1] == j)
        prob += bought[j] >= need - float(sites["boarding_places"].iloc[j])
        choose = pulp.lpSum(y[lev] for lev in mine)
        prob += (choose == 1) if sites["status"].iloc[j] == "open" else (choose <= 1)
        load = pulp.lpSum(x[p] for p in x if p[1] == j)
        prob += load <= pulp.lpSum(lv.loc[lev, "places"] * y[lev] for lev in mine)
    for i, d in enumerate(data.settlements["pupils"]):
        prob += pulp.lpSum(x[p] for p in x if p[0] == i) == d
    for county, r in data.requirements.iterrows():
        for kind, least in (("general", r["general_min"]), ("vocational", r["vocational_min"])):
            terms = []
            for j in np.flatnonzero((sites["county"] == county).to_numpy()):
                pairs = [x[p] for p in x if p[1] == j]
                for lev in lv.index[(lv["site"] == j) & (lv["kind"] == kind)]:
                    # load counted for the kind when the level is chosen: z <= load, z <= u y
                    z = pulp.LpVariable(f"z{lev}", lowBound=0)
                    prob += z <= pulp.lpSum(pairs)
                    prob += z <= lv.loc[lev, "places"] * y[lev]
                    terms.append(z)
            prob += pulp.lpSum(terms) >= least
    prob.solve(pulp.PULP_CBC_CMD(msg=False, gapRel=1e-9))
    assert pulp.LpStatus[prob.status] == "Optimal"
    return pulp.value(prob.objective)


@pytest.mark.parametrize(("seed", "table"), [(1, False), (5, False), (2, True)])
def test_agrees_with_an_independent_pulp_model(seed, table):
    # with a senior_schools table the schools hold boarding places already
    r = make_region(schools=12, seed=seed, settlements_per_school=1.0, senior_schools=table)
    nodes = list(dict.fromkeys(r.settlements["node"]))[:5]
    policy = SeniorPolicy(
        overrides={"size": {"module_places": 300, "min_new_pupils": 300, "max_pupils": 900}},
        candidate_nodes=nodes,
        yuan_per_pupil_km=2000.0,  # distance weighs against building: the choice is not trivial
        mip_gap=1e-9,
    )
    plan = plan_senior(r, policy)
    expected = pulp_objective(senior_data(r, policy), 2000.0)
    assert plan.solve_info.status == "optimal"
    assert plan.objective_value == pytest.approx(expected, rel=1e-6)


TABLE = st.lists(
    st.tuples(
        st.sampled_from(["c0s0", "c0s2", "c0s5", "c0s9"]),
        st.sampled_from(["general", "vocational"]),
        st.integers(0, 3200),
        st.floats(0, 1),
    ),
    max_size=4,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    table=TABLE,
    low=st.sampled_from([0.4, 0.5, 0.55]),
    width=st.sampled_from([0.0, 0.05, 0.1]),
    rate=st.sampled_from([0.5, 0.92, 1.0]),
    limit=st.sampled_from([900, 1500, 3000]),
    areas=st.sampled_from([(), ("urban",), ("urban", "town")]),
)
def test_every_plan_keeps_places_band_size_and_boarding_or_is_explained(
    region, table, low, width, rate, limit, areas
):
    rows = [(f"S{n}", f"校{n}", "江县", node, kind, places, int(places * b))
            for n, (node, kind, places, b) in enumerate(table)]  # fmt: skip
    r = with_table(region, rows)
    policy = SeniorPolicy(
        overrides=SMALL,
        gross_enrolment_rate=rate,
        general_share_low=low,
        general_share_high=low + width,
        max_pupils=limit,
        candidate_area_types=areas,
    )
    try:
        plan = plan_senior(r, policy)
    except Infeasible as exc:
        msg = str(exc)
        assert "county '江县'" in msg  # the county, and its numbers:
        assert any(ch.isdigit() for ch in msg) and "\n" not in msg
        return
    c = plan.counties.iloc[0]
    needed = math.ceil(round(rate * c["cohort"], 9))
    assert c["needed"] == needed and c["placed"] == pytest.approx(needed)
    assert math.ceil(round(low * needed, 9)) - 1e-6 <= c["general_pupils"]
    assert c["general_pupils"] <= math.floor(round((low + width) * needed, 9)) + 1e-6
    k = plan.schools
    grown = k["places_after"] > k["places_before"]
    assert (k.loc[grown, "places_after"] <= limit).all()
    assert (k["pupils"] <= k["places_after"] + 1e-6).all()
    assert (k.loc[k["status_before"] == "open", "action"] != "none").all()
    built = k["action"] == "build"
    assert (k.loc[built, "places_after"] >= min(600, limit)).all()
    assert (k["boarding_after"] >= k["pupils_beyond_daily_km"] - 1e-6).all()
    assert (k["boarding_after"] >= 0.7 * k["pupils"] - 1e-6).all()
    beyond = k["pupils_beyond_daily_km"]
    assert (k["boarding_after"] >= beyond + 0.7 * (k["pupils"] - beyond) - 1e-6).all()
    # the model's cost: places, 1 yuan per pupil-km, and the boarding places the pupils need
    # beyond those each campus holds already (unrounded)
    a = plan.assignments
    need = (a["pupils"] * np.where(a["km"] > 15, 1.0, 0.7)).groupby(a["senior_id"]).sum()
    before = k.set_index("senior_id")["boarding_before"].reindex(need.index)
    board = 25000 * np.maximum(need - before, 0.0).sum()
    expected = k["places_yuan"].sum() + (a["pupils"] * a["km"]).sum() + board
    assert plan.objective_value == pytest.approx(expected, rel=1e-6)
    assert (k["boarding_after"] >= k["boarding_before"]).all()


def test_protocol_apply_chain_and_summaries(region):
    r = with_table(region, [("G", "一中", "江县", "c0s0", "general", 1000, 500)])
    policy = SeniorPolicy(overrides=SMALL)
    plan = plan_senior(r, policy)
    h = plan.headline()
    assert list(h)[:4] == ["status", "gap", "seconds", "objective"] and h["targets_met"]
    assert hash(policy) == hash(pickle.loads(pickle.dumps(policy)))
    t = plan.tables
    t["senior_schools"]["name"] = "changed"
    assert (plan.tables["senior_schools"]["name"] != "changed").all()
    after = plan.apply(r)
    assert int(after.senior_schools["places"].sum()) == int(plan.schools["places_after"].sum())
    with pytest.raises(InputError, match="another region"):
        plan.apply(after)  # applied once
    again = plan_senior(after, SeniorPolicy(overrides=SMALL))
    assert set(again.schools["action"]) <= {"keep", "none"}
    assert again.schools["places_yuan"].sum() == 0
    std = plan.standard.set_index("setting")
    assert (std["source"] != "").all() and not std.loc["boarding.share", "confirmed"]
    assert "县中规模一般不超过3000人" in std.loc["size.max_pupils", "source"]
    zh = plan.summary("zh")
    assert "普通高中" in zh and "中职" in zh and "places" not in zh
    assert f"{h['places_needed']:,}" in plan.summary() and f"{h['places_needed']:,}" in zh


def test_cohort_of_a_forecast_year_and_policy_errors(region):
    base = senior_data(region, SeniorPolicy(year=2025, candidate_area_types=()))
    s = region.settlements
    by_county = (s["pupils_junior"] / 3).groupby(s["county"]).sum().round()
    assert base.requirements["cohort"].to_dict() == by_county.astype(int).to_dict()
    assert base.source == "forecast 2025"
    assert int(base.settlements["pupils"].sum()) == int(base.requirements["needed"].sum())
    with pytest.raises(InputError, match="SeniorPolicy.year must be a year from base_year"):
        SeniorPolicy(year=2020)
    with pytest.raises(InputError, match="candidate node 'nowhere'"):
        plan_senior(region, SeniorPolicy(candidate_nodes=["nowhere"]))


def test_verify_catches_a_tampered_plan(region):
    import dataclasses

    from allocator.errors import SolverError

    r = with_table(region, [("G", "一中", "江县", "c0s0", "general", 1000, 500)])
    plan = plan_senior(r, SeniorPolicy(overrides=SMALL))
    plan.verify()
    k = plan.schools.copy()
    k.loc[k["pupils"] > 0, "boarding_after"] = 0
    with pytest.raises(SolverError, match="boarding places, fewer than it needs"):
        dataclasses.replace(plan, schools=k).verify()
    k = plan.schools.copy()
    k.loc[k["action"] == "build", "places_after"] = 3600
    with pytest.raises(SolverError, match="beyond 3000 pupils"):
        dataclasses.replace(plan, schools=k).verify()
    c = plan.counties.assign(general_max=0)
    with pytest.raises(SolverError, match="outside the band"):
        dataclasses.replace(plan, counties=c).verify()
    a = plan.assignments.copy()
    a.loc[0, "pupils"] += 1
    with pytest.raises(SolverError):
        dataclasses.replace(plan, assignments=a).verify()


def test_a_county_without_junior_pupils_needs_nothing(region):
    empty = region.replace(
        schools=region.schools.assign(pupils_junior=0),
        settlements=region.settlements.assign(pupils_junior=0),
    )
    for areas in [("urban", "town"), ()]:
        plan = plan_senior(empty, SeniorPolicy(candidate_area_types=areas))
        h = plan.headline()
        assert (h["places_needed"], h["new_places"], h["capital_yuan"]) == (0, 0, 0.0)
        assert h["targets_met"] and h["general_share"] is None
        plan.verify()


def test_counties_are_planned_alone_and_a_county_region_keeps_the_others():
    whole = make_region(schools=60, counties=2, seed=3, senior_schools=True)
    policy = SeniorPolicy(overrides=SMALL, mip_gap=0.0)
    plan = plan_senior(whole, policy)
    parts = [plan_senior(whole.county(c), policy) for c in whole.counties]
    assert plan.objective_value == pytest.approx(sum(p.objective_value for p in parts), rel=1e-9)
    for part in parts:
        county = part.counties["county"].iloc[0]
        mine = plan.schools[plan.schools["county"] == county]
        assert part.schools["places_after"].sum() == mine["places_after"].sum()
    first = whole.county(whole.counties[0])
    after = parts[0].apply(first)
    other = whole.senior_schools["county"] != whole.counties[0]
    kept = after.senior_schools.set_index("senior_id").loc[whole.senior_schools["senior_id"][other]]
    assert kept["places"].tolist() == whole.senior_schools["places"][other].tolist()


def one_county(norms, build_far, build_near):
    """One county needing 1,000 general places, one settlement of 1,000 pupils and two candidate
    sites of 1,000 places: far (40 km, beyond the daily 15 km) and near (5 km)."""
    from allocator.planners.senior.data import SeniorData

    req = pd.DataFrame(
        {"cohort": [1000], "needed": [1000], "general_min": [1000], "general_max": [1000],
         "vocational_min": [0]}, index=["A"],
    )  # fmt: skip
    settlements = pd.DataFrame({"settlement_id": ["s"], "county": ["A"], "node": ["n0"],
                                "graduates": [1000.0], "pupils": [1000]})  # fmt: skip
    sites = pd.DataFrame({"senior_id": ["far", "near"], "name": ["far", "near"],
                          "county": ["A", "A"], "node": ["n1", "n2"], "kind": ["", ""],
                          "status": ["candidate", "candidate"], "places": [0, 0],
                          "boarding_places": [0, 0]})  # fmt: skip
    levels = pd.DataFrame({"site": [0, 1], "action": ["build", "build"],
                           "kind": ["general", "general"], "places": [1000, 1000],
                           "added": [1000, 1000], "cost_yuan": [build_far, build_near]})  # fmt: skip
    km = sp.csr_matrix(np.array([[40.0, 5.0]]))
    return SeniorData(req, settlements, sites, km, levels, norms, "region")


def test_the_cheaper_site_to_build_loses_because_its_pupils_must_board():
    from allocator.planners.senior.model import solve_county
    from allocator.solver import SolverOptions
    from allocator.standards.senior import load_senior_standard

    options = SolverOptions(mip_gap=1e-9)
    # Without boarding in the cost: far 20,000,000 + 40,000 km < near 25,000,000 + 5,000 km.
    free = load_senior_standard(overrides={"costs": {"boarding_yuan_per_place": 0.0}})
    r = solve_county(one_county(free, 20e6, 25e6), "A", SeniorPolicy(), options)
    assert r.levels.tolist() == [0] and r.objective == pytest.approx(20_040_000)
    # With it: far 20,040,000 + 1,000 boarders x 25,000 = 45,040,000; near 25,005,000 +
    # 1,000 x 0.7 x 25,000 = 42,505,000: the near site opens although it costs more to build.
    norms = load_senior_standard()
    r = solve_county(one_county(norms, 20e6, 25e6), "A", SeniorPolicy(), options)
    assert r.levels.tolist() == [1] and r.objective == pytest.approx(42_505_000)
    assert r.flows.toarray().tolist() == [[0.0, 1000.0]]


def test_one_site_cannot_be_both_general_and_vocational_explained_before_the_solve(region):
    # No senior school; one candidate site of up to 3,000 places: 3,000 >= 1,956 needed, and it
    # could hold the 978 general or the 783 vocational places, but not both at once.
    policy = SeniorPolicy(candidate_area_types=(), candidate_nodes=("c0s0",))
    with pytest.raises(Infeasible) as err:
        plan_senior(region, policy)
    msg = str(err.value)
    assert msg.startswith("county '江县' needs 1,956 senior places (92% of 2,126 junior graduates)")
    assert "at least 978 general and 783 vocational places" in msg
    assert "hold at most 0 general and 0 vocational places" in msg
    assert "needs 1 new general campus and 1 new vocational campus of at most 3,000 places" in msg
    assert "but has 1 candidate site" in msg
    assert err.value.violations == {"sites 江县": 1.0}


def test_a_general_school_at_the_size_limit_leaves_one_site_for_vocational_places(region):
    # The general school holds 1,000 of the 978 needed: only vocational places must be new, so
    # one candidate site is enough and the pre-check stays silent.
    r = with_table(region, [("G", "一中", "江县", "c0s0", "general", 1000, 0)])
    policy = SeniorPolicy(max_pupils=1000, candidate_area_types=(), candidate_nodes=("c0s2",))
    plan = plan_senior(r, policy)
    k = plan.schools.set_index("senior_id")
    assert k.loc["site-c0s2", "kind"] == "vocational" and bool(plan.counties["met"].all())
