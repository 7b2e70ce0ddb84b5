"""School consolidation with candidate sites for new schools: a hand-made township where building
the central school is clearly best and one where it is not, the optional-site property on random
synthetic counties, apply, and input errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_mergers import region_of, school, settlement

from allocator import scenario
from allocator.check import check
from allocator.errors import Infeasible, InputError
from allocator.planners.mergers import CandidateSite, MergerPolicy, plan_mergers
from allocator.solver import SolverOptions
from allocator.synth import make_region

EXACT = SolverOptions(mip_gap=1e-9)


def site(sid="NEW", node="M", level="primary", capacity=200, annual=200_000, build=3e6, **extra):
    row = {
        "site_id": sid,
        "county": "county",
        "township": "T1",
        "node": node,
        "x": 1.0,
        "y": 2.0,
        "level": level,
        "capacity": capacity,
        "annual_cost": annual,
        "build_cost": build,
    }
    row.update(extra)
    return row


def township(with_tp=False):
    """Three village schools A, B, C (30 grade 1-3 and 30 grade 4-6 pupils each), 20 minutes from
    the township seat M and 40 from each other: each is the only school within 30 minutes of its
    village's grade 1-3 pupils. Optionally a teaching point D 10 minutes from A (15 pupils)."""
    schools = [
        school(s, s, lp=30, up=30, capacity=80, classes=4, teachers=5) for s in ("A", "B", "C")
    ]
    settlements = [settlement(f"V{s}", s, lp=30, up=30) for s in ("A", "B", "C")]
    edges = [("A", "M", 20), ("B", "M", 20), ("C", "M", 20)]
    if with_tp:
        schools.append(school("D", "D", "teaching_point", lp=15, capacity=30, classes=2))
        settlements.append(settlement("VD", "D", lp=15))
        edges.append(("A", "D", 10))
    return region_of(schools, settlements, edges)


def test_central_school_is_built_when_it_pays():
    region = township()
    plan = plan_mergers(region, MergerPolicy(candidate_sites=pd.DataFrame([site()])), EXACT)
    # before: 3 sites x 300,000 + funding floor 3 x 40 missing pupils x 600 = 972,000
    # after: the new site 200,000 + 3,000,000 / 30 = 300,000; 180 pupils x 20 min x 100 = 360,000
    assert sorted(plan.closures["school_id"]) == ["A", "B", "C"]
    assert set(plan.closures["receiving_school_id"]) == {"NEW"}
    assert plan.closures["mean_minutes_after"].tolist() == [20.0] * 3
    o = plan.openings
    assert o[["site_id", "county", "township", "level", "pupils"]].values.tolist() == [
        ["NEW", "county", "T1", "primary", 180]
    ]
    assert o.loc[0, "annualised_cost"] == pytest.approx(300_000)
    assert o.loc[0, "build_cost"] == 3e6 and o.loc[0, "annual_cost"] == 200_000
    assert o.loc[0, "classes"] == 5 and o.loc[0, "receives_from"] == "A;B;C"
    costs = plan.costs.set_index("item")
    assert costs.loc["sites", "before"] == pytest.approx(900_000)
    assert costs.loc["sites", "after"] == 0
    assert costs.loc["new_sites", "before"] == 0
    assert costs.loc["new_sites", "after"] == pytest.approx(300_000)
    assert costs.loc["funding_floor", "before"] == pytest.approx(72_000)
    assert costs.loc["transport", "after"] == pytest.approx(360_000)
    assert costs.loc["total", "before"] == pytest.approx(972_000)
    assert costs.loc["total", "after"] == pytest.approx(660_000)
    assert plan.solve_info.objective == pytest.approx(660_000)
    a = plan.assignments
    assert set(a["school_id"]) == {"NEW"} and a["pupils"].sum() == 180
    assert (a["minutes"] == 20.0).all() and not a["boarding"].any()
    travel = plan.travel.set_index(["stage", "area_type"])
    assert travel.loc[("after", "all"), "mean_minutes"] == pytest.approx(20.0)
    h = plan.headline()
    assert h["new_schools_built"] == 1 and h["schools_closed"] == 3
    assert h["schools_before"] == 3 and h["schools_after"] == 1
    assert "1 new school built" in plan.summary() and "NEW" in plan.summary()
    assert "openings" in plan.tables and plan.counties["opened"].tolist() == [1]
    # apply: the new school holds the pupils and the teachers of the schools closing into it
    after = plan.apply(region)
    new = after.schools.set_index("school_id")
    assert list(new.index) == ["NEW"]
    row = new.loc["NEW"]
    assert row[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].tolist() == [
        90,
        90,
        0,
    ]
    assert row["teachers"] == 15 and row["capacity"] == 200 and row["classes"] == 5
    assert row["level"] == "primary" and row["node"] == "M" and row["area_type"] == "rural"
    assert row["floor_area_m2"] == pytest.approx(200 * 4.5)
    assert row["equipment_value"] == pytest.approx(3 * 2000.0 * 60)  # moved with the closures
    assert int(after.schools["teachers"].sum()) == int(region.schools["teachers"].sum())
    assert "NEW" in set(check(after).tables["schools"]["school_id"])


def test_central_school_not_built_when_dear():
    region = township(with_tp=True)
    base = plan_mergers(region, MergerPolicy(), EXACT)
    # 200,000 + 30,000,000 / 30 a year: dearer than the three village sites together
    policy = MergerPolicy(candidate_sites=pd.DataFrame([site(build=3e7)]))
    plan = plan_mergers(region, policy, EXACT)
    assert base.closures["school_id"].tolist() == ["D"]  # the teaching point closes into A
    assert plan.openings.empty and plan.headline()["new_schools_built"] == 0
    for name in ("closures", "assignments", "expansions", "travel"):
        pd.testing.assert_frame_equal(getattr(plan, name), getattr(base, name))
    columns = [c for c in base.schools.columns if c != "kept_because"]  # labels may differ
    pd.testing.assert_frame_equal(plan.schools[columns], base.schools[columns])
    costs = plan.costs.set_index("item")
    assert costs.loc["new_sites"].tolist() == [0.0, 0.0, 0.0]
    pd.testing.assert_frame_equal(
        plan.costs[plan.costs["item"] != "new_sites"].reset_index(drop=True), base.costs
    )
    assert plan.solve_info.objective == pytest.approx(base.solve_info.objective)
    assert plan.apply(region) == base.apply(region)
    # a site over the travel limit of the villages is never used, however cheap
    far = region_of(
        [school(s, s, lp=30, up=30, capacity=80, classes=4) for s in ("A", "B")],
        [settlement(f"V{s}", s, lp=30, up=30) for s in ("A", "B")],
        [("A", "M", 95), ("B", "M", 95)],
    )
    cheap = MergerPolicy(candidate_sites=pd.DataFrame([site(annual=0, build=0)]))
    assert plan_mergers(far, cheap, EXACT).openings.empty


def test_new_site_capacity_class_size_and_county_are_kept():
    region = township()
    # 150 seats cannot take all 180 pupils: two villages close into it, one school stays
    plan = plan_mergers(region, MergerPolicy(candidate_sites=[site(capacity=150)]), EXACT)
    assert plan.openings["pupils"].tolist() == [120] and len(plan.closures) == 2
    # a junior site cannot take primary pupils: never opened
    plan = plan_mergers(region, MergerPolicy(candidate_sites=[site(level="junior")]), EXACT)
    assert plan.openings.empty and plan.closures.empty
    # max_schools: the opened site counts as a school; one school for everyone is the new one
    plan = plan_mergers(region, MergerPolicy(max_schools=1, candidate_sites=[site()]), EXACT)
    assert plan.openings["site_id"].tolist() == ["NEW"] and len(plan.closures) == 3
    assert plan.headline()["schools_after"] == 1
    with pytest.raises(Infeasible):  # without the site one school cannot serve three villages
        plan_mergers(region, MergerPolicy(max_schools=1, on_infeasible="error"), EXACT)


# ----------------------------------------------------------------------------- property
@st.composite
def counties_with_sites(draw):
    region = make_region(schools=draw(st.integers(15, 25)), seed=draw(st.integers(0, 10_000)))
    k = draw(st.integers(1, 3))
    picks = draw(
        st.lists(st.integers(0, len(region.settlements) - 1), min_size=k, max_size=k, unique=True)
    )
    rows = []
    for i, p in enumerate(picks):
        v = region.settlements.iloc[p]
        rows.append(
            site(
                f"NEW{i}",
                v["node"],
                level=draw(st.sampled_from(["primary", "junior", "nine_year"])),
                capacity=draw(st.integers(50, 900)),
                annual=draw(st.sampled_from([0.0, 100_000.0, 300_000.0])),
                build=draw(st.sampled_from([0.0, 3e6, 2e7])),
                county=v["county"],
                township=v["township"],
            )
        )
    # strict: a county today's schools cannot serve within the limits raises (no breaches)
    policy = MergerPolicy(
        min_size=draw(st.sampled_from([0, 100])), split_area_types=(), on_infeasible="error"
    )
    return region, policy, pd.DataFrame(rows)


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counties_with_sites())
def test_candidate_sites_never_raise_the_optimal_cost(case):
    region, policy, sites = case
    try:
        base = plan_mergers(region, policy, EXACT)
    except Infeasible:
        return  # a village band larger than any school's seats
    plan = plan_mergers(region, dataclasses.replace(policy, candidate_sites=sites), EXACT)
    assert plan.solve_info.status == "optimal" and base.solve_info.status == "optimal"
    total = plan.costs.set_index("item")["after"]
    before = plan.costs.set_index("item")["before"]
    assert total["total"] <= base.costs.set_index("item").loc["total", "after"] * (1 + 1e-7)
    # "before" does not depend on the candidates
    assert before["total"] == pytest.approx(base.costs.set_index("item").loc["total", "before"])
    assert before["new_sites"] == 0
    # every opened site: its own county, capacity, class sizes, travel limits, its cost counted
    s = sites.set_index("site_id")
    a = plan.assignments
    opened = set(plan.openings["site_id"])
    assert set(a["school_id"]) & set(s.index) == opened
    county = region.settlements.set_index("settlement_id")["county"]
    for sid in opened:
        mine = a[a["school_id"] == sid]
        assert (mine["settlement_id"].map(county) == s.loc[sid, "county"]).all()
        assert mine["pupils"].sum() <= s.loc[sid, "capacity"]
        cap = mine["band"].map({"lower_primary": 45, "upper_primary": 45, "junior": 50})
        u = 50 if s.loc[sid, "level"] == "junior" else 45
        assert (mine["pupils"] / cap).sum() <= -(-s.loc[sid, "capacity"] // u) + 1e-9
        if s.loc[sid, "level"] == "junior":
            assert (mine["band"] == "junior").all()
        if s.loc[sid, "level"] == "primary":
            assert (mine["band"] != "junior").all()
    day = a["band"].map(policy.day_minutes)
    assert (a["minutes"] <= np.where(a["boarding"], policy.boarding_minutes, day) + 1e-6).all()
    assert not a.loc[a["band"] == "lower_primary", "boarding"].any()
    expected = (s.loc[list(opened), "annual_cost"] + s.loc[list(opened), "build_cost"] / 30).sum()
    assert total["new_sites"] == pytest.approx(expected)
    assert plan.headline()["new_schools_built"] == len(opened)
    # apply keeps every pupil and teacher and validates
    after = plan.apply(region)
    bands = ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]
    assert after.schools[bands].to_numpy().sum() == region.settlements[bands].to_numpy().sum()
    assert after.schools["teachers"].sum() == region.schools["teachers"].sum()
    assert opened <= set(after.schools["school_id"])


# ----------------------------------------------------------------------------- input
def test_candidate_sites_from_csv_with_bom_and_policy_equality(tmp_path):
    file = tmp_path / "sites.csv"
    pd.DataFrame([site(), site("NEW2", "A")]).to_csv(file, index=False, encoding="utf-8-sig")
    policy = MergerPolicy(candidate_sites=str(file))
    assert policy.candidate_sites[0] == CandidateSite(
        "NEW", "county", "T1", "M", 1.0, 2.0, "primary", 200, 200_000.0, 3e6
    )
    assert policy == MergerPolicy(candidate_sites=pd.DataFrame([site(), site("NEW2", "A")]))
    assert hash(policy) == hash(dataclasses.replace(policy))
    assert policy != MergerPolicy()
    assert MergerPolicy(candidate_sites=file).candidate_sites == policy.candidate_sites
    plan = plan_mergers(township(), policy, EXACT)
    assert plan.openings["site_id"].tolist() == ["NEW"]


@pytest.mark.parametrize(
    "change, column, row_id, words",
    [
        ({"level": "senior"}, "level", "NEW", "expected one of primary, junior, nine_year"),
        ({"capacity": -5}, "capacity", "NEW", "negative"),
        ({"build_cost": -1.0}, "build_cost", "NEW", "negative"),
        ({"annual_cost": "lots"}, "annual_cost", "NEW", "not numeric"),
        ({"capacity": 0}, "capacity", "NEW", "capacity 0"),
        ({"site_id": "OLD"}, "site_id", "OLD", "duplicate id"),
    ],
)
def test_candidate_table_errors_name_row_column_and_value(tmp_path, change, column, row_id, words):
    rows = [site(), site("OLD", "A")]
    rows[0].update(change)
    file = tmp_path / "sites.csv"
    pd.DataFrame(rows).to_csv(file, index=False)
    with pytest.raises(InputError) as err:
        MergerPolicy(candidate_sites=str(file))
    e = err.value
    assert e.table == "candidate_sites" and e.column == column and e.row_id == row_id
    assert words in e.message and e.file == str(file) and e.line in (2, 3)
    with pytest.raises(InputError) as err:  # the same from a table, without a file
        MergerPolicy(candidate_sites=pd.DataFrame(rows))
    assert err.value.column == column and err.value.file is None


def test_candidate_errors_against_the_region(tmp_path):
    region = township()
    with pytest.raises(InputError) as err:
        MergerPolicy(candidate_sites=pd.DataFrame([site()]).drop(columns="node"))
    assert err.value.column == "node" and "missing required column" in err.value.message
    with pytest.raises(InputError) as err:
        MergerPolicy(candidate_sites=str(tmp_path / "nope.csv"))
    assert err.value.table == "candidate_sites" and "not found" in err.value.message
    with pytest.raises(InputError) as err:
        MergerPolicy(candidate_sites=42)
    assert err.value.column == "candidate_sites"
    with pytest.raises(InputError) as err:
        MergerPolicy(build_years=0)
    assert err.value.column == "build_years"
    file = tmp_path / "sites.csv"
    for change, column, value in (
        ({"site_id": "A"}, "site_id", "A"),
        ({"node": "Z"}, "node", "Z"),
        ({"county": "elsewhere"}, "county", "elsewhere"),
    ):
        pd.DataFrame([site(), site("NEW2", **change)]).to_csv(file, index=False)
        with pytest.raises(InputError) as err:
            plan_mergers(region, MergerPolicy(candidate_sites=str(file)), EXACT)
        e = err.value
        assert (e.table, e.column, e.row_id, e.value) == (
            "candidate_sites",
            column,
            "NEW2" if column != "site_id" else "A",
            value,
        )
        assert e.file == str(file) and e.line == 3 and repr(value) in e.message


def test_scenario_reads_candidate_sites_relative_to_its_file(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    rows = [site(county="C00", township="T01", node="n1")]
    pd.DataFrame(rows).to_csv(tmp_path / "data" / "sites.csv", index=False)
    toml = '[region]\nschools = 20\n[[steps]]\nplanner = "mergers"\n'
    (tmp_path / "s.toml").write_text(toml + 'candidate_sites = "data/sites.csv"\n')
    monkeypatch.chdir(tmp_path.parent)  # not the scenario's folder
    s = scenario.load_scenario(tmp_path / "s.toml")
    policy = s.steps[0].policy()
    assert policy.candidate_sites_file == str(tmp_path / "data" / "sites.csv")
    assert [c.site_id for c in policy.candidate_sites] == ["NEW"]
    rows[0]["level"] = "senior"
    pd.DataFrame(rows).to_csv(tmp_path / "data" / "sites.csv", index=False)
    with pytest.raises(InputError) as err:
        scenario.load_scenario(tmp_path / "s.toml")
    text = str(err.value)
    assert "line 5" in text and "steps[1].candidate_sites" in text
    assert "sites.csv, line 2" in text and "'NEW'" in text and "'level'" in text


def test_report_map_marks_the_new_school():
    """The scenario report's map draws a built site as a new school where the site is."""
    import types

    from allocator.i18n import Words
    from allocator.pipeline import measure
    from allocator.report.maps import map_figure
    from allocator.standards import load_standard

    region = township()
    plan = plan_mergers(region, MergerPolicy(candidate_sites=pd.DataFrame([site()])), EXACT)
    after = plan.apply(region)
    standard = load_standard("moe2017")
    result = types.SimpleNamespace(
        regions=[region, after],
        steps=[types.SimpleNamespace(plan=plan)],
        measures=[measure(region, standard), measure(after, standard)],
        standard=standard,
    )
    words = Words("en")
    traces = {t.name: t for t in map_figure(result, words).data}
    new = traces[words("map.new_schools")]
    expected = site()
    assert (list(new.x), list(new.y)) == ([expected["x"]], [expected["y"]])
