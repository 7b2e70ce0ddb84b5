"""Teacher plans over years: hand-computed falling rolls and retirement waves, retirements from ages
and profiles, conservation as a hypothesis invariant, and the refusal of bad years."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import InputError
from allocator.forecast import ForecastSettings, forecast_region, nearest_schools
from allocator.planners.teachers import TeacherPlan, TeacherPolicy, TeacherYearsPlan, plan_teachers
from allocator.planners.teachers.ages import age_profile, retirements
from allocator.planners.teachers.horizon_model import hire_over_years
from allocator.planners.teachers.horizon_plan import FLOW_COLUMNS
from allocator.region import SETTLEMENT_COLUMNS, Region
from allocator.synth import make_region


def school(sid, *, pupils=380, T=20, county="A", area="town", classes=9):
    return {
        "school_id": sid, "name": sid, "county": county, "township": "T", "area_type": area,
        "level": "primary", "node": f"n{sid}", "x": 0.0, "y": 0.0,
        "pupils_lower_primary": pupils // 2, "pupils_upper_primary": pupils - pupils // 2,
        "pupils_junior": 0, "pupils_senior": 0, "classes": classes, "capacity": pupils + 50,
        "teachers": T, "teachers_qualified": T, "teachers_backbone": T // 5,
        "teachers_pe_arts": T // 5, "floor_area_m2": 5.0 * pupils, "sports_area_m2": 8.0 * pupils,
        "equipment_value": 2500.0 * pupils, "multimedia_rooms": 5, "annual_cost": 1e6,
    }  # fmt: skip


def hand_region(schools):
    graph = nx.Graph()
    for k, s in enumerate(schools):
        graph.add_node(s["node"], x=float(k), y=0.0)
    nodes = [s["node"] for s in schools]
    for a, b in zip(nodes, nodes[1:], strict=False):
        graph.add_edge(a, b, minutes=10.0)
    settlements = pd.DataFrame({c: [] for c in SETTLEMENT_COLUMNS})
    return Region(pd.DataFrame(schools), settlements, graph, name="hand")


def school_forecast(pupils_by_year: dict[str, list[int]], first=2026) -> pd.DataFrame:
    """Pupils by school and year (the first year first), half lower and half upper primary."""
    rows = []
    for sid, path in pupils_by_year.items():
        for k, p in enumerate(path):
            rows.append((sid, "lower_primary", first + k, float(p // 2)))
            rows.append((sid, "upper_primary", first + k, float(p - p // 2)))
    return pd.DataFrame(rows, columns=["school_id", "band", "year", "pupils"])


def ages(sid, by_age: dict[int, int]) -> pd.DataFrame:
    return pd.DataFrame({"school_id": sid, "age": list(by_age), "teachers": list(by_age.values())})


def column(plan, name, sid="F"):
    f = plan.flows
    return f[f["school_id"] == sid][name].tolist()


# --------------------------------------------------------------------------- hand-computed cases
def test_falling_roll_hires_fewer_than_a_one_year_plan():
    # 380 pupils need 20 teachers (1:19). Two of the 20 teachers are 60 and retire in 2026: 18
    # left against a need of 20. But the roll falls to 285 pupils in 2027 (need 15): a hire in
    # 2026 would leave 19 or 20 teachers against 15 a year later, surplus within three years, so
    # the plan over years hires nobody, reports 2 short in 2026 and 3 surplus in 2027-2028.
    region = hand_region([school("F")])
    forecast = school_forecast({"F": [380, 285, 285]})
    plan = plan_teachers(
        region, TeacherPolicy(), years=(2026, 2028), forecast=forecast,
        teacher_ages=ages("F", {60: 2, 40: 18}),
    )  # fmt: skip
    assert isinstance(plan, TeacherYearsPlan)
    assert column(plan, "required") == [20, 15, 15]
    assert column(plan, "retirements") == [2, 0, 0]
    assert column(plan, "hires") == [0, 0, 0]
    assert column(plan, "teachers_end") == [18, 18, 18]
    assert column(plan, "shortfall") == [2, 0, 0]
    assert column(plan, "surplus") == [0, 3, 3]
    # a one-year plan on the region of 2026 (pupils of 2026, 18 teachers) hires at least the 2
    one_year = plan_teachers(plan.region_in(2026), TeacherPolicy())
    assert isinstance(one_year, TeacherPlan)
    assert int(one_year.hires["count"].sum()) >= 2 > sum(column(plan, "hires"))
    # with 5 teachers of slack above the requirement the 2 hires are allowed (20 <= 15 + 5)
    slack = plan_teachers(
        region, TeacherPolicy(surplus_slack=5), years=(2026, 2028), forecast=forecast,
        teacher_ages=ages("F", {60: 2, 40: 18}),
    )  # fmt: skip
    assert column(slack, "hires") == [2, 0, 0]


def test_the_first_year_is_the_regions_own():
    # The region is the first year's data: 380 pupils (need 20 at 1:19) and 18 teachers, all 40.
    # The forecast's own row for 2026 (190 pupils) is not used; 2027 has 418 pupils (need 22).
    # 2026: 18 + 2 hires = 20 (a hire stays needed: 20 <= 22); 2027: + 2 = 22. Nobody retires.
    region = hand_region([school("F", T=18)])
    forecast = school_forecast({"F": [190, 418]})
    plan = plan_teachers(
        region, TeacherPolicy(), years=(2026, 2027), forecast=forecast,
        teacher_ages=ages("F", {40: 18}),
    )  # fmt: skip
    assert column(plan, "pupils") == [380, 418]
    assert column(plan, "required") == [20, 22]
    assert column(plan, "retirements") == [0, 0]
    assert column(plan, "hires") == [2, 2]
    assert column(plan, "teachers_end") == [20, 22]
    assert plan.region_in(2026).schools["pupils_lower_primary"].tolist() == [190]
    # the same plan from a forecast by settlement (None: the medium birth scenario): the first
    # year's pupils are each school's own, whatever the forecast says of that year
    synthetic = make_region(schools=12, seed=4)
    plan = plan_teachers(synthetic, TeacherPolicy(hiring_quota=4), years=(2026, 2027))
    own = synthetic.schools[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior",
                             "pupils_senior"]].sum(axis=1)  # fmt: skip
    assert plan.flows[plan.flows["year"] == 2026]["pupils"].tolist() == own.tolist()
    assert plan.region_in(2026).schools["pupils_junior"].tolist() == (
        synthetic.schools["pupils_junior"].tolist()
    )


def test_retirement_wave_within_a_yearly_quota():
    # A steady 380 pupils (need 20) and 20 teachers: 3 aged 59 retire in 2027, 4 aged 58 in
    # 2028; 3 hires a year. 2026: nothing (a hire would be surplus at once). 2027: 17 + 3 = 20.
    # 2028: 16 + 3 = 19, one short (the quota). 2029: + 1 = 20. Hires 0, 3, 3, 1.
    region = hand_region([school("F")])
    forecast = school_forecast({"F": [380] * 4})
    plan = plan_teachers(
        region, TeacherPolicy(hiring_quota=3), years=[2026, 2027, 2028, 2029], forecast=forecast,
        teacher_ages=ages("F", {59: 3, 58: 4, 35: 13}),
    )  # fmt: skip
    assert column(plan, "retirements") == [0, 3, 4, 0]
    assert column(plan, "hires") == [0, 3, 3, 1]
    assert column(plan, "teachers_end") == [20, 20, 19, 20]
    assert column(plan, "shortfall") == [0, 0, 1, 0]
    assert plan.headline()["shortfall_teacher_years"] == 1
    assert plan.by_year["hiring_quota"].tolist() == [3.0] * 4
    assert plan.region_in(2028).schools["teachers"].tolist() == [19]
    assert plan.year_regions[0] is region  # the first year's data, before its flows
    with pytest.raises(InputError, match="year=2025; expected one of 2026 to 2029"):
        plan.region_in(2025)


def test_a_yearly_quota_of_its_own_clears_the_wave():
    # as above, with 4 posts in 2028: 16 + 4 = 20, nobody short, nothing left for 2029
    region = hand_region([school("F")])
    plan = plan_teachers(
        region, TeacherPolicy(hiring_quota=3, hiring_quota_by_year={2028: 4}), years=(2026, 2029),
        forecast=school_forecast({"F": [380] * 4}),
        teacher_ages=ages("F", {59: 3, 58: 4, 35: 13}),
    )  # fmt: skip
    assert column(plan, "hires") == [0, 3, 4, 0]
    assert column(plan, "shortfall") == [0, 0, 0, 0]
    assert plan.by_year["hiring_quota"].tolist() == [3.0, 3.0, 4.0, 3.0]
    assert TeacherPolicy(hiring_quota_by_year={"2028": 4}).hiring_quota_by_year[2028] == 4  # TOML
    with pytest.raises(InputError, match="names 2031, which is not a planned year"):
        plan_teachers(
            region, TeacherPolicy(hiring_quota_by_year={2031: 4}), years=(2026, 2027),
            forecast=school_forecast({"F": [380] * 2}),
        )  # fmt: skip
    with pytest.raises(InputError, match=r"hiring_quota_by_year\[2028\]=-1; expected a whole"):
        TeacherPolicy(hiring_quota_by_year={2028: -1})


def test_settlement_forecast_moves_each_school_by_its_catchment():
    # two settlements, each nearest to one school; the forecast adds 40 lower-primary pupils at
    # V1 and takes 20 junior pupils from V2 in 2027: school A (nearest to V1) gains 40, school B
    # loses 20, whatever either enrols today that the catchments do not explain.
    region = make_region(schools=30, seed=2)
    forecast = forecast_region(region, ForecastSettings(horizon=1), 2026, "low")
    s = region.settlements
    v1, v2 = s["settlement_id"].iloc[0], s["settlement_id"].iloc[1]
    base = forecast[forecast["year"] == 2026].copy()
    nxt = base.assign(year=2027)
    nxt.loc[(nxt["settlement_id"] == v1) & (nxt["band"] == "lower_primary"), "pupils"] += 40
    nxt.loc[(nxt["settlement_id"] == v2) & (nxt["band"] == "junior"), "pupils"] -= 20
    table = pd.concat([base, nxt], ignore_index=True)
    a = int(nearest_schools(region, "lower_primary")[0][0])
    b = int(nearest_schools(region, "junior")[0][1])
    plan = plan_teachers(region, TeacherPolicy(hiring_quota=0), years=(2026, 2027), forecast=table)
    before, after = region.schools, plan.region_in(2027).schools
    change = (
        after[["pupils_lower_primary", "pupils_junior"]]
        - before[["pupils_lower_primary", "pupils_junior"]]
    )
    expected = np.zeros((len(before), 2), int)
    expected[a, 0] += 40
    expected[b, 1] -= min(20, int(before["pupils_junior"].iloc[b]))
    # the pupils of a settlement move their school by exactly their change (no rounding: whole)
    assert (change.to_numpy() == expected).all()
    v1_lower = nxt[(nxt["settlement_id"] == v1) & (nxt["band"] == "lower_primary")]["pupils"]
    settlements = plan.region_in(2027).settlements.set_index("settlement_id")
    assert settlements.loc[v1, "pupils_lower_primary"] == round(float(v1_lower.iloc[0]))
    bad = table.assign(settlement_id=table["settlement_id"].replace({v1: "nowhere"}))
    with pytest.raises(InputError, match=f"settlement '{v1}' has pupils today but no row"):
        plan_teachers(region, years=(2026, 2027), forecast=bad)
    with pytest.raises(InputError, match="settlement_id is not in the region"):
        plan_teachers(region, years=(2026, 2027), forecast=pd.concat([table, bad.iloc[:1]]))


def test_rotated_teachers_go_home_when_the_term_ends():
    # an urban school with teachers to spare and a rural one short; nobody retires. With a term
    # of one year, whoever rotates in 2026 comes home at the start of 2027, by category.
    schools = [school("U", pupils=380, T=26, area="urban"), school("R", pupils=380, T=16)]
    region = hand_region(schools)
    young = pd.concat([ages("U", {30: 26}), ages("R", {30: 16})])
    plan = plan_teachers(
        region, TeacherPolicy(hiring_quota=0, term_years=1), years=(2026, 2027),
        forecast=school_forecast({"U": [380] * 2, "R": [380] * 2}), teacher_ages=young,
    )  # fmt: skip
    sent = column(plan, "rotated_out", "U")[0]
    assert sent >= 1  # the rotation quota: ceil(10 % of floor(0.4 x 26) = 10) = 1
    assert column(plan, "returned_in", "U") == [0, sent]
    assert column(plan, "returned_out", "R") == [0, sent]
    moved = plan.yearly_plans[0].transfers.groupby("category")["count"].sum()
    before = plan.region_in(2026).schools.set_index("school_id")
    home = plan.yearly_plans[1].staffing.set_index("school_id")
    assert home.loc["U", "teachers_backbone_before"] == before.loc[
        "U", "teachers_backbone"
    ] + moved.get("backbone", 0)


def test_horizon_model_by_hand_prefers_late_hires():
    # need 10 in years 1-3, 8 today, nobody retires, no quota: the 2 hires come in year 1 (any
    # later would leave teacher-years short) and no more.
    h, info = hire_over_years(
        np.array([8]), np.zeros((1, 3), int), np.array([[10, 10, 10]]), np.full(3, np.inf), 3, 0
    )
    assert h.tolist() == [[2, 0, 0]] and info.status == "optimal"
    # need only from year 3: hired in year 3, not earlier (fewer teacher-years paid)
    h, _ = hire_over_years(
        np.array([8]), np.zeros((1, 3), int), np.array([[8, 8, 10]]), np.full(3, np.inf), 3, 0
    )
    assert h.tolist() == [[0, 0, 2]]


def test_retirements_from_the_age_profile_by_hand():
    profile = pd.DataFrame(
        {"area_type": "rural", "age": [58, 59, 60, 30], "share": [0.1, 0.15, 0.05, 0.7]}
    )
    schools = pd.DataFrame({"school_id": ["R"], "area_type": ["rural"], "teachers": [30]})
    # ages are the first year's: age 60 retires in the first year: 30 x 0.05 = 1.5 -> 2 (half
    # up); by the second (ages 59-60) 30 x 0.2 = 6 -> 4 more; by the third 30 x 0.3 = 9 -> 3
    # more; then none.
    assert retirements(schools, 4, 60, profile=profile).tolist() == [[2, 4, 3, 0]]
    # without anyone at 60 the first year has no retirement: 59 retires in the second year
    younger = profile.assign(age=profile["age"] - 1)
    assert retirements(schools, 4, 60, profile=younger).tolist() == [[0, 2, 4, 3]]
    assert np.isclose(age_profile()["share"].sum(), 3.0)  # three area types, each adding up to 1


def test_bad_teacher_ages_get_one_line():
    region = hand_region([school("F")])
    forecast = school_forecast({"F": [380, 380]})
    with pytest.raises(InputError, match="add up to 19 teachers; expected the school's teachers"):
        plan_teachers(
            region, years=(2026, 2027), forecast=forecast, teacher_ages=ages("F", {59: 19})
        )


# --------------------------------------------------------------------------- invariants
@settings(max_examples=4, deadline=None)
@given(
    n=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    years=st.integers(1, 4),
    quota=st.integers(0, 4),
    slack=st.integers(0, 2),
)
def test_teachers_are_conserved_and_quotas_kept(n, seed, years, quota, slack):
    rng = np.random.default_rng(seed)
    schools = [
        school(f"S{i}", pupils=int(rng.integers(120, 600)), T=int(rng.integers(6, 35)),
               area=["urban", "town", "rural"][i % 3])
        for i in range(n)
    ]  # fmt: skip
    paths = {
        s["school_id"]: [s["pupils_lower_primary"] + s["pupils_upper_primary"]]
        + [int(rng.integers(100, 650)) for _ in range(years - 1)]
        for s in schools
    }
    plan = plan_teachers(
        hand_region(schools),
        TeacherPolicy(hiring_quota=quota, surplus_slack=slack),
        years=(2026, 2025 + years),
        forecast=school_forecast(paths),
    )
    f = plan.flows
    T0 = {s["school_id"]: s["teachers"] for s in schools}
    for sid, rows in f.groupby("school_id"):
        change = (
            rows["hires"] - rows["retirements"] + rows["rotated_in"] - rows["rotated_out"]
            + rows["returned_in"] - rows["returned_out"]
        )  # fmt: skip
        assert rows["teachers_end"].iloc[-1] == T0[sid] + change.sum()
        assert (rows["teachers_end"] >= 0).all()
    assert (f.groupby("year")["hires"].sum() <= quota).all()
    assert f["rotated_in"].sum() == f["rotated_out"].sum()
    assert f["returned_in"].sum() == f["returned_out"].sum() <= f["rotated_out"].sum()
    # no hire surplus within three years, recomputed on the stock without rotations
    for sid, rows in f.groupby("school_id"):
        held = T0[sid] - rows["retirements"].cumsum().to_numpy()
        hired = rows["hires"].cumsum().to_numpy()
        need = rows["required"].to_numpy()
        for t in np.flatnonzero(rows["hires"].to_numpy() > 0):
            for tau in range(t, min(t + 3, years - 1) + 1):
                assert held[tau] + hired[t] <= need[tau] + slack


def test_synthetic_region_every_year_checked():
    region = make_region(schools=30, seed=2)
    forecast = forecast_region(region, ForecastSettings(horizon=1), 2026, "low")
    plan = plan_teachers(
        region, TeacherPolicy(hiring_quota=10), years=(2026, 2027), forecast=forecast
    )
    f = plan.flows
    assert len(f) == 2 * len(region.schools)
    assert list(f.columns) == list(FLOW_COLUMNS)
    last = plan.yearly_plans[-1].staffing
    assert (
        f[f["year"] == 2027]["backbone_shortfall"].sum() == last["backbone_shortfall_after"].sum()
    )
    assert (f.groupby("year")["hires"].sum() <= 10).all()
    for year in (2026, 2027):
        r = plan.region_in(year)
        expected = forecast[forecast["year"] == year].groupby("band")["pupils"].sum()
        got = r.settlements[[f"pupils_{b}" for b in expected.index]].sum()
        assert np.allclose(got.to_numpy(), expected.to_numpy(), atol=len(r.settlements))
        assert r.schools["teachers"].sum() == f[f["year"] == year]["teachers_end"].sum()
    assert plan.apply(region) is plan.region_in(2027)
    text = plan.summary()
    assert text.count("\n") >= 3 and f"hires {int(f['hires'].sum())}," in text.lower()
    zh = plan.summary("zh")
    assert "交流轮岗" in zh and f"新招聘 {int(f['hires'].sum())} 人" in zh
    assert plan.yuan_figures()["hiring_yuan_per_year"] == f["hires"].sum() * 110_000.0


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "years, expected",
    [
        ((2028, 2026), "run backwards"),
        ([2026, 2028], "skip a year"),
        ((2026, 2042), "span more than 15 years after the first"),
        (3, "is not a list of years"),
        ("3", "is not a list of years"),
        ((2026.0, 2027), "are not whole years"),
        ([True, 2027], "are not whole years"),
        ([], "has no year"),
    ],
)
def test_bad_years_get_one_line(years, expected):
    region = hand_region([school("F")])
    forecast = school_forecast({"F": [380, 380, 380]})
    with pytest.raises(InputError, match=rf"years .*{expected}; expected") as e:
        plan_teachers(region, years=years, forecast=forecast)
    assert "\n" not in str(e.value)


def test_a_forecast_short_of_the_years_and_a_forecast_without_years():
    region = hand_region([school("F")])
    with pytest.raises(InputError, match="the forecast has no rows for 2028; expected rows for"):
        plan_teachers(region, years=(2026, 2028), forecast=school_forecast({"F": [380, 380]}))
    with pytest.raises(InputError, match="expected years="):
        plan_teachers(region, forecast=school_forecast({"F": [380, 380]}))
    plan = plan_teachers(hand_region([school("F")]), TeacherPolicy(hiring_quota=3),
                         years=(2026, 2027), forecast=school_forecast({"F": [380, 380]}))  # fmt: skip
    with pytest.raises(InputError, match="year=2030; expected one of 2026 to 2027"):
        plan.region_in(2030)
