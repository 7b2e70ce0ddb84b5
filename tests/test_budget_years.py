"""Budget plans over years: hand-computed two-school examples, targets by year judged by
allocator.check, bad input and invariants."""

import dataclasses
import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.check import check
from allocator.errors import Infeasible, InputError
from allocator.planners.budget import BudgetPlan, BudgetPolicy, plan_budget
from allocator.planners.budget.horizon import COMPLY, SCHOOLS_PASS
from allocator.planners.budget.rounding import purchase_steps
from allocator.synth import make_region

# The 2017 primary thresholds, typed in from the policy text (not read from the library).
PRIMARY = dict(q=4.2, b=1.0, pe=0.9, floor=4.5, sports=7.5, equip=2000.0, mm=2.3)
SOURCE = dict(
    q="teachers_qualified",
    b="teachers_backbone",
    pe="teachers_pe_arts",
    floor="floor_area_m2",
    sports="sports_area_m2",
    equip="equipment_value",
    mm="multimedia_rooms",
)
SCALE = dict(q=100, b=100, pe=100, floor=1, sports=1, equip=1, mm=100)
# Prices that buy one year, from allocator/data/catalogue.csv (teacher posts and the recurrent
# services), typed in here.
YEARLY = {
    "post_qualified_teacher",
    "post_pe_arts_teacher",
    "bandwidth_100mbps",
    "staff_guard_post",
    "hire_security_guard",
    "staff_dorm_night_duty",
}
BOUGHT = (
    "floor_area_m2",
    "sports_area_m2",
    "equipment_value",
    "multimedia_rooms",
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
)


@functools.lru_cache(maxsize=8)
def base_region(schools=12, seed=1):
    return make_region(schools=schools, seed=seed)


def rich(region, factor=1.3):
    """Every school comfortably above every threshold for its pupils (primary and junior)."""
    junior = dict(q=5.3, b=1.0, pe=0.9, floor=5.8, sports=10.2, equip=2500.0, mm=2.4)
    s = region.schools.copy()
    P = (s["pupils_lower_primary"] + s["pupils_upper_primary"]).to_numpy(float)
    J = s["pupils_junior"].to_numpy(float)
    nine = (s["level"] == "nine_year").to_numpy()
    for key, col in SOURCE.items():
        tp, tj = PRIMARY[key], junior[key]
        need = np.maximum(tp * P, tj * J)
        need = np.where(nine, np.maximum(tp, tj / 1.1) * (P + 1.1 * J), need)
        value = factor * need / SCALE[key]
        if col in ("floor_area_m2", "sports_area_m2", "equipment_value"):
            s[col] = np.round(value, 1)
        else:
            s[col] = np.ceil(value).astype(np.int64)
    s["teachers"] = s[["teachers_qualified", "teachers_backbone", "teachers_pe_arts"]].max(axis=1)
    s["teachers"] = s["teachers"] + 5
    return region.replace(schools=s)


def set_school(region, school_id, **values):
    s = region.schools.copy()
    pos = s.index[s["school_id"] == school_id][0]
    for col, v in values.items():
        s.loc[pos, col] = v
    return region.replace(schools=s)


def two_schools(pupils_sized_for=100):
    """A rich region and its first rural primary school A, whose resources (other than those a
    test sets) are those of ``pupils_sized_for`` pupils, with 100 pupils today."""
    region = base_region()
    a = region.schools[
        (region.schools["area_type"] == "rural") & (region.schools["level"] == "primary")
    ].iloc[0]["school_id"]
    half = pupils_sized_for // 2
    region = rich(set_school(region, a, pupils_lower_primary=half, pupils_upper_primary=half))
    return set_school(region, a, pupils_lower_primary=50, pupils_upper_primary=50), a


def by_school(school_id, years_pupils):
    """A forecast by school: ``{year: pupils}`` split evenly over the two primary bands."""
    rows = []
    for year, n in years_pupils.items():
        rows += [
            (school_id, "lower_primary", year, n // 2),
            (school_id, "upper_primary", year, n // 2),
        ]
    return pd.DataFrame(rows, columns=["school_id", "band", "year", "pupils"])


def test_growing_school_gets_its_floor_area_the_year_the_pupils_arrive():
    """A has 450 m2 for 100 pupils (4.5 m2 each, the threshold) and 150 pupils in 2027: it
    needs 150 * 4.5 - 450 = 225 m2 in 2027 (720,000 yuan at 3,200 rural), nothing in 2026. The
    lexicographic objective ends at least cost, so nothing more is bought."""
    region, a = two_schools(pupils_sized_for=150)
    region = set_school(region, a, floor_area_m2=450.0)
    plan = plan_budget(
        region,
        BudgetPolicy(budget=1e6, relax=True, objective="lexicographic"),
        years=(2026, 2027),
        forecast=by_school(a, {2026: 100, 2027: 150}),
    )
    bought = plan.purchases
    assert bought[bought["year"] == 2026].empty
    row = bought[bought["year"] == 2027].set_index(["school_id", "intervention"])
    assert row.loc[(a, "build_floor_area"), "units"] == pytest.approx(225, rel=1e-6)
    assert row["cost"].sum() == pytest.approx(720_000, rel=1e-6)
    assert plan.budgets["carried_in"].tolist() == pytest.approx([0, 1e6])
    assert plan.region_in(2027).schools.set_index("school_id").loc[a, "floor_area_m2"] == (
        pytest.approx(675)
    )
    assert plan.region_in(2026).schools.set_index("school_id").loc[a, "pupils_lower_primary"] == 50
    assert plan.solve_info.status == "optimal" and plan.method == "joint"
    assert plan.verify().empty


@pytest.mark.parametrize("carry_over", [True, False])
def test_carry_over_buys_a_room_neither_year_could(carry_over):
    """A has 2 multimedia rooms for 100 pupils (2.0 < 2.3 per 100): one room (55,000 yuan rural)
    lifts it. 30,000 a year: with carry-over 60,000 in 2027 buys it (5,000 left); without, never."""
    region, a = two_schools()
    region = set_school(region, a, multimedia_rooms=2)
    plan = plan_budget(
        region,
        BudgetPolicy(budget=30_000),
        years=(2026, 2027),
        forecast=by_school(a, {2026: 100, 2027: 100}),
        carry_over=carry_over,
    )
    b = plan.budgets.set_index("year")
    if carry_over:
        assert b["spent"].tolist() == pytest.approx([0, 55_000])
        assert b["available"].tolist() == pytest.approx([30_000, 60_000])
        assert b.loc[2027, "carried_out"] == pytest.approx(5_000)
        p = plan.purchases
        assert p[["year", "school_id", "intervention", "units"]].values.tolist() == [
            [2027, a, "add_multimedia_classroom", 1]
        ]
        assert plan.region_in(2027).schools.set_index("school_id").loc[a, "multimedia_rooms"] == 3
    else:
        assert b["spent"].tolist() == [0, 0]
        assert b["available"].tolist() == [30_000, 30_000]
        assert plan.purchases.empty
    assert plan.verify().empty


def test_a_teacher_post_is_paid_again_every_later_year():
    """A has 4 qualified teachers for 100 pupils (4.0 < 4.2 per 100): one post, 140,000 yuan a
    year rural. 200,000 a year without carry-over: 2026 spends 140,000; in 2027 the post costs
    140,000 again, 60,000 is left for new purchases."""
    region, a = two_schools()
    region = set_school(region, a, teachers_qualified=4)
    plan = plan_budget(
        region,
        BudgetPolicy(budget=200_000, objective="lexicographic"),
        years=(2026, 2027),
        forecast=by_school(a, {2026: 100, 2027: 100}),
        carry_over=False,
    )
    b = plan.budgets.set_index("year")
    assert b["spent"].tolist() == pytest.approx([140_000, 0])
    assert b["running"].tolist() == pytest.approx([0, 140_000])
    assert b["available"].tolist() == pytest.approx([200_000, 60_000])
    assert plan.purchases["yearly"].tolist() == [True]
    assert plan.verify().empty
    # Year by year, 100,000 in 2027 could not pay the post again: 2026 buys no post, 2027 (the
    # last year, 300,000 with what 2026 left) buys it. The joint plan sees that the 60,000 left
    # in 2026 and the 100,000 of 2027 pay the post again, so it posts the teacher in 2026.
    spec = dict(years=(2026, 2027), forecast=by_school(a, {2026: 100, 2027: 100}),
                annual_budgets=[200_000, 100_000])  # fmt: skip
    policy = BudgetPolicy(budget=0, objective="lexicographic")
    joint = plan_budget(region, policy, **spec)
    b = joint.budgets.set_index("year")
    assert joint.method == "joint" and joint.solve_info.status == "optimal"
    assert b["spent"].tolist() == pytest.approx([140_000, 0])
    assert b["running"].tolist() == pytest.approx([0, 140_000])
    assert joint.solve_info.objective == 0.0 and joint.verify().empty
    later = plan_budget(region, policy, method="sequential", **spec)
    b = later.budgets.set_index("year")
    assert b["spent"].tolist() == pytest.approx([0, 140_000])
    assert b["available"].tolist() == pytest.approx([200_000, 300_000])
    assert later.notes and later.notes[0].startswith("2026: no teacher post")
    assert later.verify().empty


def test_every_county_passes_in_its_year_as_check_judges():
    """A grows from 100 to 150 pupils with resources for 100 (1.3 x the thresholds, 0.87 x for
    150): it fails in 2027 unless the plan buys; the target makes every county pass in 2027."""
    region, a = two_schools()
    forecast = by_school(a, {2026: 100, 2027: 150})
    spec = dict(years=(2026, 2027), forecast=forecast, targets_by_year={2027: COMPLY})
    plan = plan_budget(region, BudgetPolicy(budget=0), annual_budgets=[0, 5e6], **spec)
    assert check(plan.regions[2027]).passes is False  # without the purchases
    assert check(plan.region_in(2027)).passes
    assert plan.compliance.set_index("year").loc[2027, "every_county_passes"]
    assert plan.purchases["year"].unique().tolist() == [2027]
    assert set(plan.purchases["school_id"]) == {a}
    assert plan.verify().empty
    with pytest.raises(Infeasible, match=r"2027.*short by"):
        plan_budget(region, BudgetPolicy(budget=0), annual_budgets=[0, 1_000], **spec)


def test_open_target_by_year_is_met_from_its_year():
    region = base_region()
    target = {
        2027: {
            "bandwidth_mbps": {"at_least": 1000},
            "alarm_video_linked": {"at_least": 1, "schools": "boarding"},
        }
    }
    spec = dict(years=(2026, 2027), targets_by_year=target)
    plan = plan_budget(region, BudgetPolicy(budget=0, relax=True), annual_budgets=[0, 3e6], **spec)
    before = check(plan.region_in(2026)).tables["open_schools"]
    assert not (before.loc[before["in_scope"], "bandwidth_mbps"] >= 1000).all()
    after = check(plan.region_in(2027)).tables["open_schools"]
    assert (after.loc[after["in_scope"], "bandwidth_mbps"] >= 1000).all()
    schools = plan.region_in(2027).schools
    boarding = schools.loc[schools["boarding_school"] == 1, "school_id"]
    linked = after.set_index("school_id").loc[boarding]
    assert (linked.loc[linked["in_scope"], "alarm_video_linked"] >= 1).all()
    assert plan.verify().empty
    with pytest.raises(
        Infeasible, match=r"^in 2027: the targets \(.*bandwidth_mbps.*\) cost at least"
    ):
        plan_budget(
            region, BudgetPolicy(budget=0), annual_budgets=[0, 1e5], method="sequential", **spec
        )
    with pytest.raises(Infeasible, match=r"^no plan over the years .*budget_2027"):
        plan_budget(region, BudgetPolicy(budget=0), annual_budgets=[0, 1e5], **spec)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(years=(2027, 2026)), "run backwards"),
        (dict(years=(2026, 2027), annual_budgets=[1, 2, 3]), "3 numbers for 2 years"),
        (dict(years=(2026, 2027), annual_budgets=-5), "expected a finite number of yuan >= 0"),
        (dict(years=(2026, 2027), targets_by_year={2030: COMPLY}), "not a year of the plan"),
        (dict(years=(2026, 2027), targets_by_year={2027: "pass"}), "expected 'every county"),
        (dict(years=(2026, 2027), carry_over="yes"), "expected true or false"),
        (dict(annual_budgets=5e6), "give years as well"),
        (dict(carry_over=False), "give years as well"),
    ],
)
def test_bad_years_and_budgets_one_clear_line(kwargs, match):
    with pytest.raises(InputError, match=match) as err:
        plan_budget(base_region(), BudgetPolicy(budget=1e6), **kwargs)
    assert "\n" not in str(err.value)


def test_without_years_a_plan_is_as_before():
    region = base_region()
    plan = plan_budget(region, BudgetPolicy(budget=1e6, relax=True))
    assert isinstance(plan, BudgetPlan)
    assert plan.spent <= 1e6 * (1 + 1e-6)


def test_summary_in_both_languages():
    region, a = two_schools()
    region = set_school(region, a, multimedia_rooms=2)
    plan = plan_budget(
        region,
        BudgetPolicy(budget=30_000),
        years=(2026, 2027),
        forecast=by_school(a, {2026: 100, 2027: 100}),
    )
    en, zh = plan.summary(), plan.summary("zh")
    assert "2027: running costs 0 yuan, available 60,000 yuan, spent 55,000 yuan" in en
    assert "2027年：续付费用 0 元，可用 60,000 元，支出 55,000 元" in zh
    assert "carried over 5,000 yuan" in en and "结转 5,000 元" in zh
    head = plan.headline()
    assert list(head)[:4] == ["status", "gap", "seconds", "objective"]
    assert head["spent_yuan"] == pytest.approx(55_000) and head["status"] == "optimal"
    assert head["method"] == "joint"
    assert "One model over every year" in en and "多年整体规划" in zh


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budgets=st.lists(st.sampled_from([0.0, 2e5, 1e6, 3e6]), min_size=3, max_size=3),
    carry_over=st.booleans(),
)
@pytest.mark.slow
def test_property_spend_within_budget_and_carry_and_purchases_kept(budgets, carry_over):
    region = base_region()
    plan = plan_budget(
        region,
        BudgetPolicy(budget=0, relax=True),
        years=(2026, 2028),
        annual_budgets=budgets,
        carry_over=carry_over,
    )
    p = plan.purchases
    spent = p.groupby("year")["cost"].sum()
    left = 0.0
    for year, budget in zip(plan.years, budgets, strict=True):
        have = budget + (left if carry_over else 0.0)
        running = p.loc[p["intervention"].isin(YEARLY) & (p["year"] < year), "cost"].sum()
        used = float(spent.get(year, 0.0)) + running
        assert used <= have * (1 + 1e-6) + 1e-6
        left = have - used
    previous = region.schools.set_index("school_id")[list(BOUGHT)]
    for year in plan.years:
        now = plan.region_in(year).schools.set_index("school_id")[list(BOUGHT)]
        assert (now.to_numpy(float) >= previous.to_numpy(float) - 1e-9).all()
        previous = now
    assert plan.verify().empty


def test_every_school_passes_by_its_year_on_a_synthetic_county():
    region = base_region(30, 1)
    plan = plan_budget(
        region,
        BudgetPolicy(budget=0),
        years=(2026, 2027),
        annual_budgets=[0, 2e7],
        targets_by_year={2027: SCHOOLS_PASS},
    )
    schools = check(plan.region_in(2027)).tables["schools"]
    assert schools.loc[schools["in_scope"], "passes"].astype(bool).all()
    before = check(plan.regions[2027]).tables["schools"]
    assert not before.loc[before["in_scope"], "passes"].astype(bool).all()
    c = plan.compliance.set_index("year")
    assert c.loc[2027, "school_parts_passing"] == c.loc[2027, "school_parts"]
    assert plan.verify().empty


def test_every_county_passes_is_refused_when_county_cvs_fail():
    """Every school passes, but the largest primary school (about half the pupils) holds five
    times the resources per pupil of the others: the county's CVs fail, which no least-cost
    purchase fixes; refused naming it."""
    region = rich(base_region())
    s = region.schools.copy()
    primary = s[s["level"] == "primary"]
    half = [(primary["pupils_lower_primary"] + primary["pupils_upper_primary"]).idxmax()]
    for col in SOURCE.values():
        s.loc[half, col] = s.loc[half, col] * 5
    s["teachers"] = s[["teachers", "teachers_qualified"]].max(axis=1) + 5
    region = region.replace(schools=s)
    assert not check(region).passes
    with pytest.raises(Infeasible, match=r"^in 2026: every school part passes .* county .* fails"):
        plan_budget(
            region, BudgetPolicy(budget=0), years=(2026, 2027), targets_by_year={2026: COMPLY}
        )


def test_a_settlement_forecast_moves_the_schools_pupils():
    """Every settlement as today in both years but one with 60 more lower-primary pupils in 2027:
    the schools have 60 more lower-primary pupils in 2027, nothing else changes."""
    region = base_region()
    rows = []
    grown = region.settlements["settlement_id"].iloc[0]
    for r in region.settlements.itertuples():
        for band in ("lower_primary", "upper_primary", "junior", "senior"):
            n = getattr(r, f"pupils_{band}")
            rows.append((r.settlement_id, band, 2026, n))
            extra = 60 if (r.settlement_id == grown and band == "lower_primary") else 0
            rows.append((r.settlement_id, band, 2027, n + extra))
    forecast = pd.DataFrame(rows, columns=["settlement_id", "band", "year", "pupils"])
    plan = plan_budget(region, BudgetPolicy(budget=0), years=(2026, 2027), forecast=forecast)
    now, then = plan.region_in(2026).schools, plan.region_in(2027).schools
    assert then["pupils_lower_primary"].sum() - now["pupils_lower_primary"].sum() == 60
    for band in ("upper_primary", "junior"):
        assert (then[f"pupils_{band}"] == now[f"pupils_{band}"]).all()
    assert (now["pupils_lower_primary"] == region.schools["pupils_lower_primary"]).all()


def emptying_and_growing():
    """Two rich rural primary schools A and B with the resources of 200 pupils, each at 1,000
    yuan of equipment per pupil short of 2,000: A has 200 pupils and 200,000 yuan of equipment
    (short 0.5 of the threshold) and no pupils in 2027; B has 100 pupils and 200,000 yuan (at the
    threshold) and 200 in 2027 (short 0.5)."""
    region = base_region()
    rural = region.schools[
        (region.schools["area_type"] == "rural") & (region.schools["level"] == "primary")
    ]["school_id"]
    a, b = rural.iloc[0], rural.iloc[1]
    for sid in (a, b):
        region = set_school(region, sid, pupils_lower_primary=100, pupils_upper_primary=100)
    region = rich(region)
    region = set_school(region, a, equipment_value=200_000.0)
    region = set_school(
        region, b, equipment_value=200_000.0, pupils_lower_primary=50, pupils_upper_primary=50
    )
    forecast = pd.concat([by_school(a, {2026: 200, 2027: 0}), by_school(b, {2026: 100, 2027: 200})])
    return region, a, b, forecast


def test_the_joint_plan_saves_for_the_school_that_grows():
    """100,000 yuan in 2026, none in 2027, carried over. The year-by-year plan lifts A in 2026
    (200 pupils: 1,500 yuan each, shortfall 0.25), whose pupils are gone in 2027, and B is short
    0.5 in 2027; the joint plan equips B in 2026 (3,000 yuan each for 100, then 1,500 for 200:
    shortfall 0.25 in 2027) and leaves A short 0.5 in 2026. The objective is the pupil-weighted
    shortfall of each year, summed: sequential 200 * 0.25 / P26 + 200 * 0.5 / P27, joint
    200 * 0.5 / P26 + 200 * 0.25 / P27, with P the pupils of the year (100 fewer in 2027), so the
    joint plan is better by 50 / P27 - 50 / P26."""
    region, a, b, forecast = emptying_and_growing()
    s = region.schools
    p26 = float(s[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].sum().sum())
    p27 = p26 - 200 + 100
    spec = dict(years=(2026, 2027), forecast=forecast, annual_budgets=[100_000, 0])
    policy = BudgetPolicy(budget=0, relax=True)
    joint = plan_budget(region, policy, **spec)
    seq = plan_budget(region, policy, method="sequential", **spec)
    got = joint.purchases.set_index(["year", "school_id", "intervention"])["units"]
    assert got.to_dict() == {(2026, b, "buy_equipment"): pytest.approx(100_000)}
    got = seq.purchases.set_index(["year", "school_id", "intervention"])["units"]
    assert got.to_dict() == {(2026, a, "buy_equipment"): pytest.approx(100_000)}
    assert joint.solve_info.status == "optimal" and seq.solve_info.status == "feasible"
    assert joint.solve_info.objective == pytest.approx(100 / p26 + 50 / p27, rel=1e-6)
    assert seq.solve_info.objective == pytest.approx(50 / p26 + 100 / p27, rel=1e-6)
    assert joint.verify().empty and seq.verify().empty
    with pytest.raises(InputError, match="method='joint': the target 'every school passes'"):
        plan_budget(region, policy, method="joint", targets_by_year={2027: SCHOOLS_PASS}, **spec)


@functools.lru_cache(maxsize=1)
def whole_unit_items():
    from allocator.planners.budget.catalogue import load_catalogue

    cat = load_catalogue()
    return tuple(cat.loc[cat["integer"].astype(bool), "intervention"])


def joint_never_worse(budgets, carry_over, objective, growth):
    """Both plans valued the same way (each year's measure of its region, prepared afresh);
    divisible purchases only, so the regions are exactly what the model sees."""
    region, a, b, forecast = emptying_and_growing()
    forecast = pd.concat([by_school(a, {2026: 200, 2027: 0}),
                          by_school(b, {2026: 100, 2027: 100 + growth})])  # fmt: skip
    policy = BudgetPolicy(
        budget=0, relax=True, objective=objective, exclude_interventions=whole_unit_items()
    )
    spec = dict(
        years=(2026, 2027), forecast=forecast, annual_budgets=budgets, carry_over=carry_over
    )
    joint = plan_budget(region, policy, **spec)
    seq = plan_budget(region, policy, method="sequential", **spec)
    assert joint.method == "joint" and seq.method == "sequential"
    assert joint.solve_info.objective <= seq.solve_info.objective * (1 + 1e-6) + 1e-9
    spent = joint.budgets.set_index("year")["spent"]
    if carry_over:
        assert (spent.cumsum().to_numpy() <= np.cumsum(budgets) * (1 + 1e-9) + 1e-6).all()
    else:
        assert (spent.to_numpy() <= np.array(budgets) * (1 + 1e-9) + 1e-6).all()
    assert joint.verify().empty


def test_cost_figures_split_capital_posts_and_services():
    """A is short one qualified teacher (4 < 4.2 per 100: a post, 140,000 yuan a year rural), one
    multimedia room (2 < 2.3 per 100: 55,000 rural) and bandwidth (50 < 100 Mbps: one 100 Mbps
    tier for a year, 20,000 rural); every other school has 1,000 Mbps. The lexicographic plan
    ends at least cost: capital 55,000, hiring 140,000 a year, running 20,000 a year."""
    region, a = two_schools()
    s = region.schools.copy()
    s["bandwidth_mbps"] = 1000.0
    region = set_school(region.replace(schools=s), a, teachers_qualified=4, multimedia_rooms=2,
                        bandwidth_mbps=50.0)  # fmt: skip
    policy = BudgetPolicy(budget=1e6, objective="lexicographic", open_indicators=["bandwidth_mbps"])
    plan = plan_budget(region, policy)
    bought = plan.allocations.set_index("intervention")["units"].to_dict()
    assert bought == {"post_qualified_teacher": 1, "add_multimedia_classroom": 1,
                      "bandwidth_100mbps": 1}  # fmt: skip
    assert plan.yuan_figures(policy) == {
        "capital_yuan": pytest.approx(55_000),
        "hiring_yuan_per_year": pytest.approx(140_000),
        "running_change_yuan_per_year": pytest.approx(20_000),
    }
    assert plan.spent == pytest.approx(215_000)


DEVICE = {
    "indicator": "devices_per_teacher",
    "effect": 1.0,
    "unit": "device",
    "cost_urban": 5000.0,
    "cost_town": 5000.0,
    "cost_rural": 5000.0,
    "category": "capital",
    "integer": True,
}


def test_a_target_per_teacher_counts_the_posts_the_plan_adds():
    """A is short one qualified teacher (4 < 4.2 per 100) and has one device per teacher, the
    target; every other school has two. The post (140,000 rural) adds a teacher, so one device
    (5,000) must be bought with it: 145,000 yuan in all, at least cost."""
    region, a = two_schools()
    s = region.schools.copy()
    s["teacher_devices"] = 2.0 * s["teachers"]
    region = region.replace(schools=s)
    teachers = int(s.set_index("school_id").loc[a, "teachers"])
    region = set_school(region, a, teachers_qualified=4, teacher_devices=float(teachers))
    policy = BudgetPolicy(
        budget=1e6,
        objective="lexicographic",
        intervention_overrides={"buy_teacher_device": DEVICE},
        targets={"devices_per_teacher": {"at_least": 1}},
    )
    plan = plan_budget(region, policy)
    bought = plan.allocations.set_index(["school_id", "intervention"])["units"].to_dict()
    assert bought == {(a, "post_qualified_teacher"): 1, (a, "buy_teacher_device"): 1}
    assert plan.spent == pytest.approx(145_000)
    after = plan.apply(region).schools.set_index("school_id").loc[a]
    assert (after["teachers"], after["teacher_devices"]) == (teachers + 1, teachers + 1)
    judged = check(plan.apply(region)).tables["open_schools"].set_index("school_id")
    assert judged.loc[a, "devices_per_teacher"] >= 1


def test_a_one_year_plan_meets_the_targets_due_and_lists_the_later_ones():
    """A has 50 Mbps, every other school 1,000. 100 Mbps by 2026 is due in 2027: one 100 Mbps
    tier (20,000 yuan rural), not the ten that the 2030 gigabit target will need (200,000)."""
    region, a = two_schools()
    s = region.schools.copy()
    s["bandwidth_mbps"] = 1000.0
    region = set_school(region.replace(schools=s), a, bandwidth_mbps=50.0)
    by_year = {
        2026: {"bandwidth_mbps": {"at_least": 100}},
        2030: {"bandwidth_mbps": {"at_least": 1000}},
    }
    policy = BudgetPolicy(budget=1e6, objective="lexicographic")
    plan = plan_budget(region, policy, targets_by_year=by_year, year=2027)
    bought = plan.allocations.set_index(["school_id", "intervention"])["units"].to_dict()
    assert bought == {(a, "bandwidth_100mbps"): 1} and plan.spent == pytest.approx(20_000)
    table = plan.tables["targets"]
    assert table[["year", "target", "at_least", "due"]].values.tolist() == [
        [2026, "bandwidth_mbps", 100.0, True],
        [2030, "bandwidth_mbps", 1000.0, False],
    ]
    en, zh = plan.summary(), plan.summary("zh")
    assert "Target by 2030, bandwidth_mbps >= 1000 (all): not yet due in 2027" in en
    assert "2030年目标 bandwidth_mbps >= 1000 (all)：2027年尚未到期" in zh
    later = plan_budget(region, policy, targets_by_year=by_year, year=2030)
    bought = later.allocations.set_index(["school_id", "intervention"])["units"].to_dict()
    assert bought == {(a, "bandwidth_100mbps"): 10} and later.spent == pytest.approx(200_000)
    assert later.targets["due"].all()
    with pytest.raises(InputError, match="targets_by_year with year"):
        plan_budget(region, policy, targets_by_year=by_year)
    with pytest.raises(InputError, match="year='2027'; expected the plan's year"):
        plan_budget(region, policy, targets_by_year=by_year, year="2027")


def test_a_pass_target_due_makes_the_one_year_plan_the_least_cost_compliance():
    """A misses two of its seven indicators (4 < 4.2 qualified teachers, 2 < 2.3 multimedia
    rooms per 100 pupils); passing needs six, so the cheaper fix: one room, 55,000 yuan rural.
    Due in 2026, binding in 2027; a budget of 50,000 is 5,000 short."""
    region, a = two_schools()
    region = set_school(region, a, teachers_qualified=4, multimedia_rooms=2)
    by_year = {2026: SCHOOLS_PASS}
    plan = plan_budget(region, BudgetPolicy(budget=1e6), targets_by_year=by_year, year=2027)
    bought = plan.allocations.set_index(["school_id", "intervention"])["units"].to_dict()
    assert bought == {(a, "add_multimedia_classroom"): 1} and plan.spent == pytest.approx(55_000)
    assert plan.budget == 1e6 and bool(plan.parts["passes_after"].all())
    with pytest.raises(Infeasible, match="short by 5,000 yuan"):
        plan_budget(region, BudgetPolicy(budget=50_000), targets_by_year=by_year, year=2027)


JOINT_CASES = dict(
    budgets=st.lists(st.sampled_from([0.0, 3e5, 2e6]), min_size=2, max_size=2),
    carry_over=st.booleans(),
    objective=st.sampled_from(["shortfall", "gap", "minimax", "lexicographic"]),
    growth=st.sampled_from([0, 100, 300]),
)


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**JOINT_CASES)
def test_property_joint_never_worse_than_year_by_year(budgets, carry_over, objective, growth):
    joint_never_worse(budgets, carry_over, objective, growth)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**JOINT_CASES)
def test_property_joint_never_worse_many_cases(budgets, carry_over, objective, growth):
    joint_never_worse(budgets, carry_over, objective, growth)


def test_the_joint_plan_pays_a_post_again_from_carried_money():
    """A is short one qualified teacher (a post: 140,000 yuan a year rural). 200,000 in 2026 and
    100,000 in 2027, carried over: the post bought in 2026 costs 140,000 again in 2027, paid from
    100,000 plus the 60,000 left (the year-by-year plan buys it only in 2027, as a later budget
    below the post's price refuses it). Without carry-over 2027 could not pay it: bought in 2027,
    when 100,000 cannot pay the price either, so never."""
    region, a = two_schools()
    region = set_school(region, a, teachers_qualified=4)
    spec = dict(years=(2026, 2027), forecast=by_school(a, {2026: 100, 2027: 100}),
                annual_budgets=[200_000, 100_000])  # fmt: skip
    plan = plan_budget(region, BudgetPolicy(budget=0), **spec)
    p = plan.purchases
    assert p[["year", "school_id", "intervention", "units"]].values.tolist() == [
        [2026, a, "post_qualified_teacher", 1]
    ]
    b = plan.budgets.set_index("year")
    assert b["running"].tolist() == pytest.approx([0, 140_000])
    assert b["available"].tolist() == pytest.approx([200_000, 20_000])
    assert plan.verify().empty
    lapse = plan_budget(region, BudgetPolicy(budget=0), carry_over=False, **spec)
    assert lapse.purchases.empty and lapse.verify().empty


def minimax_case():
    """The region of :func:`emptying_and_growing`: 100,000 yuan in 2026, none in 2027, carried
    over; equipment only."""
    region, a, b, forecast = emptying_and_growing()
    spec = dict(years=(2026, 2027), forecast=forecast, annual_budgets=[100_000, 0])
    return region, a, b, spec


@pytest.mark.parametrize("objective", ["minimax", "lexicographic"])
def test_the_joint_minimax_plan_lifts_the_weakest_school_year(objective):
    """Equipment of A (200 pupils in 2026, none in 2027) and B (200 in 2027) is short 0.5 of
    the 2,000 yuan a pupil (400,000 yuan) in the year each has 200 pupils. Year by year, minimax
    gives A the 100,000 yuan in 2026 (short 0.25) and B is short 0.5 in 2027: the weakest
    school-year is 0.5. Jointly, x yuan to A and 100,000 - x to B leave max((200,000 - x),
    (100,000 + x)) / 400,000, least at x = 50,000: 0.375. That level costs all 100,000 yuan."""
    region, a, b, spec = minimax_case()
    policy = BudgetPolicy(budget=0, relax=True, objective=objective,
                          exclude_interventions=whole_unit_items())  # fmt: skip
    joint = plan_budget(region, policy, **spec)
    seq = plan_budget(region, policy, method="sequential", **spec)
    assert joint.method == "joint" and joint.solve_info.status == "optimal"
    assert joint.solve_info.objective == pytest.approx(0.375, rel=1e-5)
    assert seq.solve_info.objective == pytest.approx(0.5, rel=1e-6)
    by_school = joint.purchases.groupby("school_id")["cost"].sum()
    assert by_school.to_dict() == {a: pytest.approx(50_000, rel=1e-5),
                                   b: pytest.approx(50_000, rel=1e-5)}  # fmt: skip
    assert joint.verify().empty and seq.verify().empty


def test_a_discount_rate_buys_as_late_as_the_level_allows():
    """The case above at 10 % a year: A's 50,000 yuan must be spent in 2026 (its pupils leave),
    B's can wait for 2027, where they are worth 50,000 / 1.1 today, so the cost stage buys them
    then; the present value is 50,000 + 50,000 / 1.1. At rate 0 the two years cost the same and
    the present value is the 100,000 spent."""
    region, a, b, spec = minimax_case()
    policy = BudgetPolicy(budget=0, relax=True, objective="minimax", discount_rate=0.1,
                          exclude_interventions=whole_unit_items())  # fmt: skip
    plan = plan_budget(region, policy, **spec)
    got = plan.purchases.set_index(["year", "school_id"])["cost"].to_dict()
    assert got == {(2026, a): pytest.approx(50_000, rel=1e-5),
                   (2027, b): pytest.approx(50_000, rel=1e-5)}  # fmt: skip
    assert plan.budgets["spent"].tolist() == pytest.approx([50_000, 50_000], rel=1e-5)
    assert plan.present_value == pytest.approx(50_000 + 50_000 / 1.1, rel=1e-5)
    flat = plan_budget(region, dataclasses.replace(policy, discount_rate=0.0), **spec)
    assert flat.present_value == pytest.approx(100_000, rel=1e-5)
    with pytest.raises(InputError, match="discount_rate=-0.1"):
        BudgetPolicy(budget=0, discount_rate=-0.1)


def test_apply_gives_the_region_of_a_year_whose_indicators_are_the_plans():
    """``apply`` is :meth:`region_in` of the last year (or the one asked). Planned afresh with no
    money, the applied region's indicators before (mean, CV, schools below, rural-urban ratio)
    and verdicts are the year plan's after."""
    region, a, b, spec = minimax_case()
    policy = BudgetPolicy(budget=0, relax=True, objective="minimax",
                          exclude_interventions=whole_unit_items())  # fmt: skip
    plan = plan_budget(region, policy, **spec)
    cols = ["mean", "cv", "below", "rural_urban"]
    for year in (2026, 2027):
        after = plan.apply(region, year)
        again = plan_budget(after, dataclasses.replace(policy, objective="shortfall"))
        mine = plan.plans[year]
        got = again.indicators.set_index(["part", "indicator"])[[f"{c}_before" for c in cols]]
        want = mine.indicators.set_index(["part", "indicator"])[[f"{c}_after" for c in cols]]
        np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-9)
        got = again.parts.set_index(["school_id", "part"])["passes_before"]
        want = mine.parts.set_index(["school_id", "part"])["passes_after"]
        assert got.to_dict() == want.to_dict()
    assert plan.apply(region).schools.equals(plan.region_in(2027).schools)
    with pytest.raises(InputError, match="another region"):
        plan.apply(make_region(schools=5, seed=1))


@pytest.mark.parametrize("objective", ["shortfall", "lexicographic"])
def test_the_joint_plan_buys_whole_purchase_steps(objective):
    """With 33,333.337 yuan (not a whole fen) the shortfall model buys 33,333.337 yuan of
    equipment at B (in 2026 or 2027: the same to the objective); the plan buys 33,333.33 (equipment is bought to the fen, step 0.01), never
    more than the year's money: every amount is a whole number of its catalogue step."""
    from allocator.planners.budget.catalogue import load_catalogue

    region, a, b, forecast = emptying_and_growing()
    spec = dict(years=(2026, 2027), forecast=forecast, annual_budgets=[33_333.337, 0])
    plan = plan_budget(region, BudgetPolicy(budget=0, objective=objective), **spec)
    bought = plan.purchases
    if objective == "shortfall":
        got = bought.groupby(["school_id", "intervention"])["units"].sum().to_dict()
        assert got == {(b, "buy_equipment"): pytest.approx(33_333.33, abs=1e-6)}
    cat = load_catalogue()
    step = dict(zip(cat["intervention"], purchase_steps(cat, relax=False), strict=True))
    for row in bought.itertuples(index=False):
        n = row.units / step[row.intervention]
        assert abs(n - round(n)) < 1e-6, row
    assert plan.budgets["spent"].sum() <= 33_333.337
    assert plan.verify().empty


def test_the_summary_gives_the_present_value_when_money_is_discounted():
    region, a, b, spec = minimax_case()
    policy = BudgetPolicy(budget=0, relax=True, objective="minimax", discount_rate=0.1,
                          exclude_interventions=whole_unit_items())  # fmt: skip
    plan = plan_budget(region, policy, **spec)
    # 50,000 + 50,000 / 1.1 = 95,454.55, less what stage_tolerance lets the money stage save
    assert plan.present_value == pytest.approx(50_000 + 50_000 / 1.1, abs=1.0)
    pv = f"{plan.present_value:,.0f}"
    assert f"Present value at 10 % a year: {pv} yuan of 2026." in plan.summary()
    assert f"按年贴现率 10% 折算的现值：{pv} 元（2026年价格）。" in plan.summary("zh")
    flat = plan_budget(region, dataclasses.replace(policy, discount_rate=0.0), **spec)
    assert "Present value" not in flat.summary()


def test_a_relaxed_joint_plan_within_the_solvers_tolerance_verifies():
    """Found by hypothesis (lowest declared versions): the relaxed joint plan spent
    3,000,000.0045 yuan of 3,000,000 in 2026, solver noise the one-year plan accepts too."""
    region = base_region()
    plan = plan_budget(
        region,
        BudgetPolicy(budget=0, relax=True),
        years=(2026, 2028),
        annual_budgets=[3e6, 3e6, 0.0],
        carry_over=True,
    )
    assert plan.verify().empty
    spent = plan.purchases.groupby("year")["cost"].sum()
    assert spent.get(2026, 0.0) <= 3e6 * (1 + 1e-6)
