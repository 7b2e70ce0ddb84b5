"""Scenarios over years: the keys ``years`` and ``[forecast]``, the pipeline over years, its tables
and the report's section; every yearly region checked independently of the planners."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from allocator.cli import run_summary
from allocator.errors import InputError
from allocator.i18n import Words
from allocator.pipeline import run_scenario
from allocator.report.run_page import render_run
from allocator.report.years_page import timeline_table
from allocator.scenario import parse_scenario
from allocator.standards import required_staff
from allocator.years_run import cost_rows, plans_over_years, timeline_rows

SCENARIOS = Path(__file__).parents[1] / "scenarios"
SMALL = """name = "small"
years = [2026, 2028]
[region]
schools = 20
counties = 1
seed = 3
[forecast]
births = "low"
migration = { rural = -0.08 }
[[steps]]
planner = "mergers"
min_size = 100
lower_primary_minutes = 30.0
upper_primary_minutes = 45.0
junior_minutes = 60.0
[[steps]]
planner = "teachers"
hiring_quota = 5
[[steps]]
planner = "training"
[[steps]]
planner = "budget"
budget = 2e6
objective = "lexicographic"
over_years = { annual_budgets = [3e6, 1e6, 2e6], carry_over = false }
"""
_BANDS = ("lower_primary", "upper_primary", "junior")


# --------------------------------------------------------------------------- scenario keys
def _error(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse_scenario(text, "plan.toml")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_years_and_forecast_are_read():
    s = parse_scenario(SMALL, "plan.toml")
    assert s.years == (2026, 2028)
    assert s.forecast.birth_scenario().name == "low"
    settings = s.forecast.settings(s.years)
    assert settings.horizon == 2 and settings.migration["rural"] == -0.08


def test_own_birth_series_and_defaults():
    text = SMALL.replace('births = "low"', "births = { " + ", ".join(
        f"{y} = {1000 - y % 100}" for y in range(2015, 2025)) + " }")  # fmt: skip
    s = parse_scenario(text, "plan.toml")
    assert s.forecast.birth_scenario().births[2020] == 980
    plain = parse_scenario(SMALL.split("[forecast]")[0] + '[[steps]]\nplanner = "districts"\n')
    assert plain.years == (2026, 2028) and plain.forecast.birth_scenario().name == "medium"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("years = [2026, 2028]", "years = [2028, 2026]", "line 2: years: [2028, 2026] runs backwards"),
        ("years = [2026, 2028]", "years = [2026]", "line 2: years: [2026] has 1 years"),
        ("years = [2026, 2028]", 'years = ["2026", 2028]', "line 2: years[1]: expected a whole"),
        ("years = [2026, 2028]", "years = [2026, 2050]", "spans 24 years; expected at most 15"),
        ('births = "low"', 'births = "lowest"', "line 8: forecast.births: unknown birth scenario"),
        ('births = "low"', 'births = "mine.toml"', "forecast.births: '"),
        ('births = "low"', "births = { 2024 = 1 }", "forecast.births: scenario 'own' has no births in 2020"),
        ("migration = { rural = -0.08 }", "migration = { rural = -1.5 }", "line 9: forecast.migration: migration[rural] = -1.5 is outside [-1, 1]"),
        ("migration = { rural = -0.08 }", "migration = { village = 0.1 }", "line 9: forecast.migration: migration has area type 'village'"),
        ("migration = { rural = -0.08 }", "entry_rate = 1.2", "line 9: forecast.entry_rate: entry_rate = 1.2 is outside [0, 1]"),
        ("migration = { rural = -0.08 }", "growth = 0.1", "line 9: forecast.growth: unknown key"),
    ],
)  # fmt: skip
def test_bad_years_and_forecast_keys_name_file_line_and_key(old, new, expected):
    message = _error(SMALL.replace(old, new))
    assert message.startswith("plan.toml, line ") and expected in message


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        ("over_years = { budgets = 1 }", "line 25: steps[4].over_years.budgets: unknown key; expected one of annual_budgets, carry_over, targets_by_year"),
        ("over_years = 3", "line 25: steps[4].over_years: expected a table"),
    ],
)  # fmt: skip
def test_bad_over_years_keys_name_file_line_and_key(new, expected):
    message = _error(SMALL.replace(SMALL.splitlines()[24], new))
    assert expected in message


def test_over_years_only_for_a_planner_over_years_and_a_scenario_with_years():
    text = SMALL.replace('planner = "training"\n', 'planner = "training"\nover_years = { x = 1 }\n')
    assert "steps[3].over_years: the 'training' planner has no plan over years" in _error(text)
    plain = SMALL.split("[forecast]")[0].replace("years = [2026, 2028]\n", "")
    text = (
        plain + '[[steps]]\nplanner = "budget"\nbudget = 1e6\nover_years = { carry_over = false }\n'
    )
    assert "line 9: steps[1].over_years: applies to a plan over years" in _error(text)


def test_targets_by_year_are_keyed_by_whole_years():
    text = SMALL.replace("carry_over = false", 'targets_by_year = { 2028 = "every school passes" }')
    assert parse_scenario(text, "p.toml").steps[-1].over_years["targets_by_year"] == {
        2028: "every school passes"
    }


def test_a_planner_error_in_over_years_names_its_key():
    text = SMALL.split("[[steps]]")[0] + "[[steps]]" + SMALL.split("[[steps]]")[-1]
    text = text.replace(text.splitlines()[-1], "over_years = { carry_over = 3 }")
    with pytest.raises(InputError) as info:
        run_scenario(parse_scenario(text, "plan.toml"), write=False)
    assert str(info.value).startswith("plan.toml, line 14: steps[1].over_years.carry_over: ")


def test_a_forecast_without_years_is_refused():
    message = _error(SMALL.replace("years = [2026, 2028]\n", ""))
    assert "forecast: a forecast needs the years it covers" in message


# --------------------------------------------------------------------------- hand-computed rows
def test_costs_by_year_split_capital_and_recurrent_by_hand():
    timeline = pd.DataFrame(
        {"year": [2027, 2028, 2028], "county": "c", "school_id": ["A", "B", "N"],
         "action": ["extend", "close", "open"], "other_school_id": ["", "A", ""],
         "seats": [90, 0, 300], "classrooms": [2, 0, 0], "pupils": [0, 40, 280]}
    )  # fmt: skip
    flows = pd.DataFrame(
        {"school_id": ["A", "A", "B"], "county": "c", "year": [2026, 2028, 2027],
         "hires": [2, 1, 0]}
    )  # fmt: skip
    site = SimpleNamespace(
        openings=pd.DataFrame({"site_id": ["N"], "build_cost": [5e6]}),
        yuan_figures=lambda policy=None: {"running_change_yuan_per_year": -50_000.0},
    )
    plan = SimpleNamespace(
        timeline=timeline,
        tables={"flows": flows},
        plans={2028: site},
        yuan_figures=lambda policy=None: {"hiring_yuan_per_year": 3 * 100_000.0},
    )
    policy = SimpleNamespace(
        expansion_yuan_per_seat=1_500.0, expansion_build_yuan_per_seat=20_000.0
    )
    rows = timeline_rows("s", plan, policy)
    assert rows[["year", "school_id", "action", "number", "yuan"]].values.tolist() == [
        [2026, "A", "hire", 2, 200_000.0],
        [2027, "A", "extend", 90, 1_800_000.0],  # built once: 90 seats x 20,000 yuan
        [2028, "B", "close", 40, 0.0],
        [2028, "N", "open", 300, 5e6],
        [2028, "A", "hire", 1, 100_000.0],
    ]
    costs = cost_rows("s", plan, policy, (2026, 2027, 2028))
    assert costs["capital_yuan"].tolist() == [0.0, 1_800_000.0, 5e6]
    # the salaries of the posts added by then, every year, and the layout's annual cost change
    assert costs["recurrent_yuan"].tolist() == [200_000.0, 200_000.0, 300_000.0 - 50_000.0]


def test_a_plan_that_prices_its_years_is_taken_as_it_is():
    own = pd.DataFrame(
        {"year": [2026, 2027], "recurrent_yuan": [1e6, 9e5], "capital_yuan": [0.0, 4e6],
         "residual_yuan": [0.0, 3e6], "discount_factor": [1.0, 0.93], "weight": [1.0, 0.93]}
    )  # fmt: skip
    plan = SimpleNamespace(costs=own, timeline=pd.DataFrame(), tables={}, plans={})
    costs = cost_rows("m", plan, SimpleNamespace(), (2026, 2027))
    assert costs.values.tolist() == [["m", 2026, 0.0, 1e6], ["m", 2027, 4e6, 9e5]]


def test_a_planner_over_years_is_known_by_its_parameters():
    assert plans_over_years(lambda region, policy=None, *, years=None, forecast=None: None)
    assert not plans_over_years(lambda region, policy=None, years=None: None)


def test_timeline_in_chinese():
    t = pd.DataFrame({"step": ["m"], "year": [2027], "county": ["c"], "school_id": ["S1"],
                      "action": ["extend"], "other": [""], "number": [90], "yuan": [9e5]})  # fmt: skip
    table = timeline_table(t, Words("zh"))
    assert table.columns.tolist()[:2] == ["年份", "步骤"] and table.iloc[0, 4] == "扩建"


# --------------------------------------------------------------------------- runs over years
def _minutes(region, settlements: pd.Series, schools: pd.Series) -> np.ndarray:
    m = region.travel_minutes(settlements, schools).tocoo()
    out = np.full(m.shape, np.inf)
    out[m.row, m.col] = m.data
    out[np.equal.outer(settlements.astype(str).to_numpy(), schools.astype(str).to_numpy())] = 0.0
    return out


def check_merger_years(plan, policy) -> None:
    """Every year of a consolidation plan, recomputed from its regions: each pupil of the year
    placed at an open school within the band's limit (road times recomputed), no school over its
    seats (or over what it holds that year without the plan), a closed school stays closed, seats
    once built stay, teachers conserved."""
    closed, seats_before = set(), {}
    teachers = int(plan.regions[plan.years[0]].schools["teachers"].sum())
    for year in plan.years:
        before, after, one = plan.regions[year], plan.region_in(year), plan.plan_in(year)
        ids = set(after.schools["school_id"])
        assert not closed & ids, f"{year}: a closed school is open again"
        closed |= set(before.schools["school_id"]) - ids
        a = one.assignments
        want = before.settlements.set_index("settlement_id")
        got = a.groupby(["settlement_id", "band"])["pupils"].sum()
        for band in _BANDS:
            for sid, n in want[f"pupils_{band}"].items():
                assert int(got.get((sid, band), 0)) == int(n), (year, sid, band)
        s = before.settlements
        minutes = _minutes(after, s["node"], after.schools["node"])
        spos = {v: i for i, v in enumerate(s["settlement_id"])}
        jpos = {v: i for i, v in enumerate(after.schools["school_id"])}
        excused = set(zip(one.breaches["settlement_id"], one.breaches["band"], strict=True))
        for r in a.itertuples():
            assert r.school_id in jpos, f"{year}: pupils sent to closed {r.school_id}"
            limit = policy.day_minutes(r.band)
            if r.band in policy.boarding_bands:
                limit = max(limit, policy.boarding_minutes)
            t = minutes[spos[r.settlement_id], jpos[r.school_id]]
            assert t <= limit + 1e-6 or (r.settlement_id, r.band) in excused, (year, r)
        pupils = after.schools[[f"pupils_{b}" for b in _BANDS]].sum(axis=1).to_numpy()
        seats = (after.schools["capacity"] - after.schools["pupils_senior"]).to_numpy()
        then = before.schools.set_index("school_id")[[f"pupils_{b}" for b in _BANDS]].sum(axis=1)
        nine = one.closures[one.closures["reason"] == "nine_year"]
        for sid, p, cap in zip(after.schools["school_id"], pupils, seats, strict=True):
            hosted = then[nine.loc[nine["receiving_school_id"] == sid, "school_id"]].sum()
            assert p <= max(cap, then.get(sid, 0) + hosted), f"{year}: {sid} over its seats"
            assert cap >= seats_before.get(sid, cap), f"{year}: seats at {sid} removed"
            seats_before[sid] = cap
        assert int(after.schools["teachers"].sum()) == teachers, f"{year}: teachers lost"


def check_teacher_years(plan) -> None:
    """Teachers conserved school by school on each ``region_in(year)``: the year before's staff
    plus hires less retirements, rotations netting to zero; required staff as the norms say."""
    flows = plan.flows
    previous = plan.year_regions[0].schools.set_index("school_id")["teachers"]
    for year in plan.years:
        rows = flows[flows["year"] == year].set_index("school_id")
        now = plan.region_in(year).schools.set_index("school_id")["teachers"]
        change = rows["hires"] - rows["retirements"] + rows["rotated_in"] - rows["rotated_out"]
        change += rows["returned_in"] - rows["returned_out"]
        assert (now == previous + change.reindex(now.index)).all(), year
        assert int(rows["rotated_in"].sum()) == int(rows["rotated_out"].sum())
        assert int(rows["returned_in"].sum()) == int(rows["returned_out"].sum())
        assert (required_staff(plan.region_in(year).schools, plan.standard).to_numpy()
                == rows["required"].reindex(now.index).to_numpy()).all()  # fmt: skip
        previous = now


def check_budget_years(plan) -> None:
    """Money recomputed from the purchases: what each year pays (its purchases and the yearly
    ones of the years before, again) within its budget, plus what earlier years left with
    carry-over; bought resources never fall in a later year's region."""
    bought = plan.purchases
    left = 0.0
    for year, budget in zip(plan.budgets["year"], plan.budgets["budget"], strict=True):
        pays = bought.loc[bought["year"] == year, "cost"].sum()
        pays += bought.loc[bought["yearly"] & (bought["year"] < year), "cost"].sum()
        have = budget + (left if plan.carry_over else 0.0)
        assert pays <= have * (1 + 1e-9) + 1e-6, (year, pays, have)
        left = have - pays
    columns = ["floor_area_m2", "equipment_value"]
    for a, b in zip(plan.years, plan.years[1:], strict=False):
        earlier = plan.region_in(a).schools.set_index("school_id")[columns]
        later = plan.region_in(b).schools.set_index("school_id")[columns]
        assert (later.loc[earlier.index] >= earlier - 1e-6).all().all(), (a, b)


def check_run(result) -> None:
    """What the issue's "done when" asks of a run over years."""
    years = result.years
    steps = {s.name: s for s in result.steps}
    timeline = years["timeline"]
    first, last = years["first"], years["last"]
    assert sorted(years["by_year"]["year"].unique()) == list(range(first, last + 1))
    html = render_run(result, "en")
    for name, step in steps.items():
        plan, mine = step.plan, timeline[timeline["step"] == name]
        if name in years["once"]:
            assert f"{name} has no plan over years: it ran once, on the region of {first}" in html
            continue
        if hasattr(plan, "timeline"):  # the consolidation plan's own timeline, row for row
            own = plan.timeline[["year", "school_id", "action", "other_school_id"]]
            ours = mine[mine["action"] != "hire"][["year", "school_id", "action", "other"]]
            assert ours.values.tolist() == own.values.tolist()
            assert plan.verify().empty
            check_merger_years(plan, step.policy)
        if hasattr(plan, "flows"):
            hires = plan.flows[plan.flows["hires"] > 0]
            ours = mine[mine["action"] == "hire"].sort_values(["year", "school_id"])
            assert (
                ours["number"].tolist()
                == hires.sort_values(["year", "school_id"])["hires"].tolist()
            )
            check_teacher_years(plan)
        if hasattr(plan, "purchases"):
            assert len(mine[mine["action"] == "purchase"]) == len(plan.purchases)
            assert plan.verify().empty
            check_budget_years(plan)
        for r in mine.itertuples():  # the report shows each change in its year
            assert f"<td>{r.school_id}</td>" in html
    assert years["checks"].empty
    # the region of each year measured on it: pupils and teachers needed recomputed
    by_year = years["by_year"]
    for r in by_year.itertuples():
        region = steps[r.step].plan.region_in(r.year)
        s = region.schools
        assert r.pupils == int(s[[f"pupils_{b}" for b in _BANDS]].to_numpy().sum())
        assert r.teachers_needed == int(required_staff(s, result.standard).sum())
    # the EPSSim table: pupils of each year as the forecast's
    projection = result.tables["years.projection"]
    levels = projection[projection["grade"] == 0].groupby("year")["pupils"].sum()
    forecast = years["forecast"].groupby("year")["pupils"].sum()
    assert np.allclose(levels.to_numpy(), forecast.loc[levels.index].to_numpy())
    assert "id='years'" in html and "What happens in which year" in html


@pytest.mark.slow
def test_a_small_scenario_over_years_runs_through_the_pipeline():
    result = run_scenario(parse_scenario(SMALL, SCENARIOS / "small.toml"), write=False)
    years = result.years
    assert years["once"] == ("training",)
    assert set(years["timeline"]["step"]) <= {"mergers", "teachers", "budget"}
    assert (years["timeline"]["step"] == "mergers").any()
    budget = result.plans["budget"]  # over_years reaches the planner
    assert budget.budgets["budget"].tolist() == [3e6, 1e6, 2e6] and not budget.carry_over
    check_run(result)
    zh = render_run(result, "zh")
    assert "2026—2028 年分年度规划" in zh and "分年度实施安排" in zh
    text = run_summary(result, "zh")  # allocator run's summary: statuses in Chinese, years named
    assert "optimal" not in text and "feasible" not in text
    assert text.count("    2026—2028 年：") == 3  # mergers, teachers, budget; not training


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rural_county_five_year", "new_area_five_year"])
def test_the_five_year_scenarios(name, tmp_path):
    result = run_scenario(SCENARIOS / f"{name}.toml", out=tmp_path / "out")
    check_run(result)
    timeline = result.years["timeline"]
    actions = set(timeline["action"])
    if name == "rural_county_five_year":  # closures over the years, extensions before them
        closing = timeline[timeline["action"] == "close"]
        assert closing["year"].nunique() >= 2 and "extend" in actions
    else:
        assert {"extend", "hire"} <= actions
    assert (tmp_path / "out" / "years_timeline.csv").exists()
    assert (tmp_path / "out" / "years_projection.csv").exists()


# --------------------------------------------------------------------------- terminal summary
def test_the_run_summary_names_the_years_and_speaks_the_runs_language():
    timeline = pd.DataFrame(
        {
            "step": ["mergers"] * 6 + ["teachers"] * 2,
            "year": [2026, 2026, 2026, 2028, 2028, 2027, 2026, 2029],
            "action": ["close", "close", "close", "close", "close", "extend", "hire", "hire"],
            "number": [40, 12, 30, 8, 9, 200, 3, 1],
        }
    )
    steps = [
        SimpleNamespace(name="mergers", planner="mergers", status="optimal", seconds=1.25),
        SimpleNamespace(name="teachers", planner="teachers", status="feasible", seconds=2.0),
        SimpleNamespace(name="training", planner="training", status="n/a", seconds=0.1),
    ]
    result = SimpleNamespace(
        steps=steps,
        years={"first": 2026, "last": 2030, "once": ("training",), "timeline": timeline},
        summary=lambda language: "title\n  a\n  b\n  c\n  figure: 1 -> 2",
    )
    en = run_summary(result, "en").splitlines()
    assert en == [
        "title",
        "  mergers (mergers): optimal, 1.2 s",
        "    2026–2030: 5 closures, in 2026 (3), 2028 (2); 1 extension, in 2027 (1)",
        "  teachers (teachers): feasible, 2.0 s",
        "    2026–2030: 4 teachers hired, in 2026 (3), 2029 (1)",
        "  training (training): n/a, 0.1 s",
        "  figure: 1 -> 2",
    ]
    zh = run_summary(result, "zh").splitlines()
    assert zh[1] == "  mergers（mergers）：最优，1.2 秒"
    assert (
        zh[2] == "    2026—2030 年：撤并 5 所，其中 2026 年 3、2028 年 2；扩建 1 处，其中 2027 年 1"
    )
    assert zh[3] == "  teachers（teachers）：可行，2.0 秒" and zh[5].endswith("：无，0.1 秒")
