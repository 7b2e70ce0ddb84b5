"""Sweeps: the [sweep] table checked key by key, tasks, the store, resuming, draws, robustness."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pandas as pd
import pytest

from allocator.cli import main
from allocator.errors import InputError
from allocator.forecast import forecast_region
from allocator.i18n import Words
from allocator.pipeline import run_scenario
from allocator.planners.registry import get_planner, register_planner, unregister_planner
from allocator.sweep import (
    DrawSettings,
    TaskStore,
    decision_shares,
    load_sweep,
    parse_sweep,
    read_tasks,
    robust_plan,
    run_sweep,
    store_path,
    write_sweep,
)
from allocator.sweep.draws import draw_assumptions, draw_region
from allocator.sweep.tasks import expand_tasks, final_figures, task_key
from allocator.synth import make_region

BASE = """\
name = "tiny"
[region]
schools = 30
counties = 2
seed = 3
[solver]
threads = 1
[[steps]]
planner = "{planner}"
budget = 1e6
[output]
folder = "out"
"""
SWEEP = """\
[sweep]
steps.{planner}.budget = [1e6, 3e6, 6e6]
measures = ["cost_yuan", "parts_compliant", "compliant_share"]
"""

# A planner that stops the whole run (as Ctrl-C would) or kills its own worker process when
# asked to: the budget planner otherwise.
STOP = {"budget": None, "kill_file": None}


def plan_stoppable(region, policy=None, options=None, progress=None):
    if STOP["budget"] is not None and policy.budget == STOP["budget"]:
        raise KeyboardInterrupt
    kill = os.environ.get("SWEEP_TEST_KILL_FILE")
    if kill and policy.budget == 3e6 and os.path.exists(kill):
        os._exit(1)
    return get_planner("budget").plan(region, policy, options=options, progress=progress)


@pytest.fixture
def stoppable():
    register_planner("stoppable", plan_stoppable, get_planner("budget").policy)
    yield
    unregister_planner("stoppable")
    STOP["budget"] = None


def _scenario(tmp_path, planner="budget", sweep=SWEEP, name="s.toml"):
    path = tmp_path / name
    text = BASE.replace("{planner}", planner) + sweep.replace("{planner}", planner)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the [sweep] table
@pytest.mark.parametrize(
    "sweep, line, expected",
    [
        ("steps.budget.budget = 2e6", 14, "sweep.steps.budget.budget: expected a non-empty list"),
        ("steps.budget.budget = []", 14, "sweep.steps.budget.budget: expected a non-empty list"),
        (
            "steps.budget.budget = [1e6, -1]",
            14,
            "sweep.steps.budget.budget[2]: expected a number >= 0",
        ),
        ("steps.budget.budget = [1e6, 1e6]", 14, "a value appears twice"),
        ("steps.budget.nonsense = [1, 2]", 14, "sweep.steps.budget.nonsense[1]:"),
        ("steps.other.budget = [1]", 14, "no step named 'other'"),
        ("region.counties = 'all'", 14, 'expected a non-empty list of values (an axis) or "each"'),
        ("colour = [1, 2]", 14, "sweep.colour: unknown key; expected a scenario key"),
        (
            "measures = 'cost_yuan'",
            14,
            "sweep.measures: expected a non-empty list of measure names",
        ),
        ("workers = 0", 14, "sweep.workers: expected a whole number from 1 to 4,096"),
        ("robust = 1.5", 14, "sweep.robust: expected a share above 0 and at most 1"),
        ("robust = 0.8\nregion.counties = 'each'", 14, "sweep.robust: robust needs forecast draws"),
        ("scheduler = 'localhost'", 14, "sweep.scheduler: expected a scheduler address"),
        ("[sweep.forecast]\nseed = 1", 14, "sweep.forecast: missing key 'draws'"),
        ("[sweep.forecast]\ndraws = 2.5", 15, "sweep.forecast.draws: expected a whole number"),
        (
            "[sweep.forecast]\ndraws = 2\nyear = 2050",
            16,
            "sweep.forecast.year: expected a whole number from 2,026 to 2,040",
        ),
        (
            "[sweep.forecast]\ndraws = 2\nmigration = {coast = 0.1}",
            16,
            "sweep.forecast.migration.coast: expected an area type",
        ),
        (
            "[sweep.forecast]\ndraws = 2\nbirths = 3",
            16,
            "sweep.forecast.births: expected a birth scenario name",
        ),
    ],
)
def test_bad_sweep_tables_get_one_line_with_file_line_key_and_what_was_expected(
    tmp_path, sweep, line, expected
):
    path = _scenario(tmp_path, sweep="[sweep]\n" + sweep + "\n")
    with pytest.raises(InputError) as err:
        load_sweep(path)
    message = str(err.value)
    assert message.startswith(f"{path}, line {line}: ")
    assert expected in message
    assert "\n" not in message


def test_a_scenario_without_sweep_or_axes_is_refused(tmp_path):
    with pytest.raises(InputError, match="no \\[sweep\\] table"):
        parse_sweep(BASE.format(planner="budget"), tmp_path / "s.toml")
    with pytest.raises(InputError, match="no axis"):
        parse_sweep(BASE.format(planner="budget") + "[sweep]\nworkers = 2\n", "s.toml")
    with pytest.raises(
        InputError, match="line 1: sweep: expected the sweep as a \\[sweep\\] table"
    ):
        parse_sweep("sweep.robust = 0.5\n" + BASE.format(planner="budget"), "s.toml")


def test_cli_bad_sweep_table_exits_2_with_one_line(tmp_path, capsys):
    path = _scenario(tmp_path, sweep="[sweep]\nsteps.budget.budget = [1e6, -3]\n")
    assert main(["sweep", str(path), "--quiet", "--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"allocator sweep: error: {path}, line 14: sweep.steps.budget.budget[2]: "
        "expected a number >= 0 (yuan), got -3"
    )


def test_the_scenario_keeps_its_line_numbers_without_the_sweep(tmp_path):
    path = _scenario(tmp_path, sweep="[sweep]\nsteps.budget.budget = [1e6]\n[output2]\nx = 1\n")
    with pytest.raises(InputError, match="line 15: output2: unknown key"):
        load_sweep(path)


# --------------------------------------------------------------------------- tasks
def test_tasks_are_the_product_of_the_axes_counties_and_draws(tmp_path):
    spec = load_sweep(
        _scenario(tmp_path, sweep=SWEEP + "steps.budget.objective = ['shortfall', 'gap']\n")
    )
    tasks = expand_tasks(spec.axes, ["a", "b"], 2)
    assert len(tasks) == 3 * 2 * 2 * 2
    assert len({task_key(t) for t in tasks}) == len(tasks)
    assert tasks[0] == {
        "steps.budget.budget": 1e6,
        "steps.budget.objective": "shortfall",
        "county": "a",
        "draw": 0,
    }
    assert tasks[-1]["steps.budget.budget"] == 6e6 and tasks[-1]["draw"] == 1
    assert task_key({"b": 1, "a": 2}) == task_key({"a": 2, "b": 1})


def test_serial_sweep_gives_each_task_the_measures_of_its_own_run(tmp_path):
    path = _scenario(tmp_path)
    result = run_sweep(path, out=tmp_path / "out", workers=0)
    table = result.table.set_index("steps.budget.budget")
    assert list(table.index) == [1e6, 3e6, 6e6] and (table["status"] == "ok").all()
    text = BASE.format(planner="budget")
    (tmp_path / "plain.toml").write_text(text, encoding="utf-8")
    for budget in (1e6, 6e6):
        direct = run_scenario(
            tmp_path / "plain.toml",
            write=False,
            overrides={"steps": {"budget": {"budget": budget}}},
        )
        figures = final_figures(direct)
        for m in ("cost_yuan", "parts_compliant", "compliant_share"):
            assert table.loc[budget, m] == pytest.approx(figures[m], rel=1e-9)
    assert table.loc[6e6, "cost_yuan"] <= 6e6 * (1 + 1e-9)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"results.csv", "report.html", "result.json", "tasks.sqlite"} <= names
    assert (
        read_tasks(tmp_path / "out" / "tasks.sqlite")["key"].tolist()
        == result.table["key"].tolist()
    )
    summary = json.loads((tmp_path / "out" / "result.json").read_text(encoding="utf-8"))
    assert summary["tasks"] == {"ok": 3}


def test_an_interrupted_sweep_keeps_its_rows_and_resume_runs_only_the_rest(tmp_path, stoppable):
    path = _scenario(tmp_path, planner="stoppable")
    out = tmp_path / "out"
    STOP["budget"] = 6e6  # the third task stops the run, as Ctrl-C would
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, out=out, workers=0)
    kept = read_tasks(store_path(out))
    assert kept["steps.stoppable.budget"].tolist() == [1e6, 3e6]
    assert not out.exists()  # the folder is written only when the sweep ends
    with sqlite3.connect(store_path(out)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM tasks").fetchone() == (2,)
    with pytest.raises(InputError, match="holds an earlier sweep; expected --resume"):
        run_sweep(path, out=out, workers=0)
    STOP["budget"] = None
    resumed = run_sweep(path, out=out, workers=0, resume=True)
    assert resumed.ran == 1
    assert resumed.table["steps.stoppable.budget"].tolist() == [1e6, 3e6, 6e6]
    first = kept.set_index("key")["compliant_share"]
    again = resumed.table.set_index("key")["compliant_share"]
    assert again[first.index].tolist() == first.tolist()


def test_a_failed_task_is_recorded_and_the_rest_go_on(tmp_path):
    # a budget the catalogue cannot reach with a floor of compliant parts: no plan for that task
    sweep = "[sweep]\nsteps.budget.budget = [0, 2e6]\nsteps.budget.rural_min_share = [1.5]\n"
    path = _scenario(tmp_path, sweep=sweep)
    with pytest.raises(InputError, match="rural_min_share\\[1\\]"):
        load_sweep(path)
    register_planner("failing", _failing, get_planner("budget").policy)
    try:
        path = _scenario(tmp_path, planner="failing", name="f.toml")
        result = run_sweep(path, out=tmp_path / "f", workers=0)
    finally:
        unregister_planner("failing")
    table = result.table.set_index("steps.failing.budget")
    assert table.loc[3e6, "status"] == "error"
    assert "ZeroDivisionError: planned to fail" in table.loc[3e6, "error"]
    assert table.loc[1e6, "status"] == table.loc[6e6, "status"] == "ok"
    assert np.isnan(table.loc[3e6, "compliant_share"])


def _failing(region, policy=None, options=None, progress=None):
    if policy.budget == 3e6:
        raise ZeroDivisionError("planned to fail")
    return get_planner("budget").plan(region, policy, options=options, progress=progress)


def test_the_store_refuses_files_it_did_not_write_and_other_scenarios(tmp_path):
    foreign = tmp_path / "mine.sqlite"
    foreign.write_text("not a database", encoding="utf-8")
    with pytest.raises(InputError, match="not a sweep store allocator wrote"):
        TaskStore.open(foreign, scenario=tmp_path / "a.toml", resume=True, force=True)
    assert foreign.read_text(encoding="utf-8") == "not a database"
    store = tmp_path / "s.sqlite"
    TaskStore.open(store, scenario=tmp_path / "a.toml").conn.close()
    with pytest.raises(InputError, match="holds a sweep of"):
        TaskStore.open(store, scenario=tmp_path / "b.toml", resume=True)
    row = {"status": "lost", "error": "worker lost", "measures": {}, "decisions": []}
    with TaskStore.open(store, scenario=tmp_path / "a.toml", resume=True) as s:
        s.record("k", 0, {"x": 1}, row)
        s.record("k2", 1, {"x": 2}, {**row, "status": "ok"})
        assert s.finished() == {"k2"}  # a lost task runs again on --resume


# --------------------------------------------------------------------------- draws, robustness
def test_a_draw_without_spread_is_the_central_forecast_of_the_target_year():
    region = make_region(schools=30, seed=1)
    settings = DrawSettings(draws=1, births_sd=0.0, migration_sd=0.0, year=2029)
    births, forecast = draw_assumptions(settings, 0)
    after = draw_region(region, settings, 0)
    central = forecast_region(region, forecast, 2025, births)
    at = central[central["year"] == 2029]
    for band in ("lower_primary", "junior"):
        want = at[at["band"] == band].set_index("settlement_id")["pupils"]
        got = after.settlements.set_index("settlement_id")[f"pupils_{band}"]
        assert np.abs(got[want.index].to_numpy() - want.to_numpy()).max() <= 0.5
    assert after.schools["pupils_senior"].tolist() == region.schools["pupils_senior"].tolist()


def test_draws_differ_from_each_other_and_repeat_with_their_seed():
    settings = DrawSettings(draws=3, seed=7, births_sd=0.1, migration_sd=0.02)
    a = draw_assumptions(settings, 1)
    b = draw_assumptions(settings, 2)
    assert draw_assumptions(settings, 1) == a
    assert a[0].births[2027] != b[0].births[2027]
    assert a[1].migration["rural"] != b[1].migration["rural"]
    assert a[0].births[2019] == b[0].births[2019]  # before the reference year: as recorded


def test_decision_shares_per_setting_and_the_robust_plan():
    t = pd.DataFrame(
        {
            "steps.budget.budget": [1, 1, 1, 2, 2],
            "draw": [0, 1, 2, 0, 1],
            "status": ["ok", "ok", "no plan", "ok", "ok"],
            "cost_yuan": [1.0] * 5,
            "decisions": [
                ["close m S1", "buy budget S2 rooms"],
                ["close m S1"],
                [],
                ["district d S1+S2"],
                [],
            ],
        }
    )
    shares = decision_shares(t, ("cost_yuan",))
    got = {
        (r[0], r[1]): (r[2], r[3])
        for r in shares[["steps.budget.budget", "decision", "share", "draws"]].values
    }
    assert got == {
        (1, "close m S1"): (1.0, 2),
        (1, "buy budget S2 rooms"): (0.5, 2),
        (2, "district d S1+S2"): (0.5, 2),
    }
    plan = robust_plan(shares, 0.8)
    assert plan["decision"].tolist() == ["close m S1"]
    assert set(shares["kind"]) == {"close", "buy", "district"}


def test_a_sweep_over_counties_and_draws_records_decisions_and_writes_the_report(tmp_path):
    sweep = (
        "[sweep]\nsteps.budget.budget = [2e6]\nregion.counties = 'each'\nrobust = 0.5\n"
        "[sweep.forecast]\ndraws = 2\nseed = 4\nyear = 2028\n"
    )
    path = _scenario(tmp_path, sweep=sweep)
    result = run_sweep(path, out=tmp_path / "out", workers=0, language="en")
    table = result.table
    assert len(table) == 2 * 2 and set(table["draw"]) == {0, 1}
    assert table["county"].nunique() == 2 and (table["status"] == "ok").all()
    bought = [d for ds in table["decisions"] for d in ds if d.startswith("buy budget ")]
    assert bought
    shares = result.shares
    for (county, decision), group in shares.groupby(["county", "decision"]):
        rows = table[table["county"] == county]
        assert group["share"].iloc[0] == pytest.approx(
            sum(decision in ds for ds in rows["decisions"]) / len(rows)
        )
    assert (result.plan["share"] >= 0.5).all() and len(result.plan) > 0
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert html.count("<div class='figure'>") == 4  # by axis, frontier, fans, robustness
    assert "Measures against each axis" in html  # the language asked for
    written = pd.read_csv(tmp_path / "out" / "robust_plan.csv", encoding="utf-8-sig")
    assert len(written) == len(result.plan)


def test_the_municipal_sweep_scenario_is_a_valid_sweep():
    from pathlib import Path

    path = Path(__file__).parents[1] / "scenarios" / "municipal_sweep.toml"
    spec = load_sweep(path)
    assert spec.counties_each and spec.draws is not None and spec.robust == 0.8
    assert [a.key for a in spec.axes] == ["steps.budget.budget"]


def test_resume_keeps_only_this_sweeps_tasks_and_refuses_a_changed_scenario(tmp_path):
    path = _scenario(tmp_path)
    out = tmp_path / "out"
    first = run_sweep(path, out=out, workers=0, write=False)
    assert len(first.table) == 3
    written = write_sweep(first, tmp_path / "written")  # no [output] language: Chinese
    assert Words("zh")("sweep.by_axis") in (written / "report.html").read_text(encoding="utf-8")
    fewer = SWEEP.replace("[1e6, 3e6, 6e6]", "[1e6, 6e6]")
    _scenario(tmp_path, sweep=fewer)
    again = run_sweep(path, out=out, workers=0, write=False, resume=True)
    assert again.ran == 0  # both tasks were in the store
    assert again.table["steps.budget.budget"].tolist() == [1e6, 6e6]
    text = path.read_text(encoding="utf-8").replace(
        'planner = "budget"', 'planner = "budget"\nobjective = "gap"'
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="an earlier version of the scenario"):
        run_sweep(path, out=out, workers=0, write=False, resume=True)


def test_solver_threads_keep_tasks_times_threads_within_the_cores():
    from allocator.sweep import solver_threads

    cores = os.cpu_count() or 1
    for workers in range(1, 2 * cores + 2):
        threads = solver_threads(workers)
        assert threads >= 1
        assert workers * threads <= max(cores, workers)
    assert solver_threads(4, scheduler="tcp://h:8786") == 1


def test_each_task_plans_with_its_solver_threads_unless_the_scenario_sets_them(tmp_path):
    from allocator.sweep.tasks import TaskContext, task_scenario

    text = BASE.format(planner="budget")
    context = TaskContext(tmp_path / "s.toml", text, threads=3)
    assert task_scenario(context, {"steps.budget.budget": 2e6}).solver["threads"] == 1  # set
    unset = text.replace("[solver]\nthreads = 1\n", "")
    scenario = task_scenario(TaskContext(tmp_path / "s.toml", unset, threads=3), {})
    assert scenario.solver["threads"] == 3


def test_a_region_axis_builds_each_region_once_and_plans_on_it(tmp_path):
    sweep = '[sweep]\nregion.schools = [20, 30]\nmeasures = ["schools", "cost_yuan"]\n'
    result = run_sweep(_scenario(tmp_path, sweep=sweep), out=tmp_path / "o", workers=0, write=False)
    table = result.table.set_index("region.schools")
    for schools in (20, 30):
        assert table.loc[schools, "schools"] == len(
            make_region(schools=schools, counties=2, seed=3).schools
        )
