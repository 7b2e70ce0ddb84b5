"""Scenario files, the runner and the reports.

Validation errors must name the file, the line and the key path and leave nothing written; runs
must write a complete, self-contained report; the shipped scenarios must reach their key outcomes.
A small planner defined here (not shipped) stands in for the real ones where the runner itself is
under test.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import allocator.cli as cli
from allocator.cli import add_run_commands
from allocator.compare import compare_scenario
from allocator.errors import Infeasible, InputError
from allocator.pipeline import measure, run_scenario
from allocator.planners.registry import register_planner, unregister_planner
from allocator.scenario import load_scenario, parse_assignment, parse_scenario
from allocator.solver import SolveInfo
from allocator.standards import load_standard
from allocator.synth import make_region

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


# --------------------------------------------------------------------------- a test planner
@dataclass(frozen=True)
class EquipPolicy:
    """Buy teaching equipment for the schools furthest below a per-pupil target."""

    budget: float = 0.0
    target_yuan_per_pupil: float = 2500.0
    fail: bool = False

    def __post_init__(self):
        if self.budget < 0:
            raise InputError(
                f"budget must be >= 0, got {self.budget}",
                table="policy",
                column="budget",
                value=self.budget,
            )
        if self.target_yuan_per_pupil <= 0:
            raise InputError(
                "target_yuan_per_pupil must be > 0",
                table="policy",
                column="target_yuan_per_pupil",
                value=self.target_yuan_per_pupil,
            )


@dataclass
class EquipPlan:
    allocations: pd.DataFrame
    solve_info: SolveInfo

    @property
    def tables(self):
        return {"allocations": self.allocations}

    def summary(self):
        return f"equipment for {len(self.allocations)} schools"

    def headline(self):
        return {"spent_yuan": float(self.allocations["cost"].sum())}

    def apply(self, region):
        schools = region.schools.copy()
        add = self.allocations.set_index("school_id")["cost"]
        schools["equipment_value"] += schools["school_id"].map(add).fillna(0.0)
        return region.replace(schools=schools)


def plan_equip(region, policy=None, options=None, progress=None):
    policy = policy or EquipPolicy()
    if policy.fail:
        raise Infeasible("no plan meets the target", {"target": 1.0})
    s = region.schools
    pupils = s[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].sum(axis=1)
    need = np.maximum(policy.target_yuan_per_pupil * pupils - s["equipment_value"], 0.0)
    order = np.argsort(-(need / np.maximum(pupils, 1)).to_numpy(), kind="stable")
    left, rows = policy.budget, []
    for county in region.counties:
        if progress:
            progress(f"county {county}")
    for i in order:
        if need.iloc[i] <= 0 or left <= 0:
            break
        x = float(min(need.iloc[i], left))
        left -= x
        rows.append((s["school_id"].iloc[i], "equipment", x, x))
    df = pd.DataFrame(rows, columns=["school_id", "intervention", "units", "cost"])
    spent = float(df["cost"].sum())
    return EquipPlan(df, SolveInfo("optimal", spent, spent, 0.0, 0.0, "greedy"))


@pytest.fixture
def equip():
    register_planner("equip", plan_equip, EquipPolicy)
    yield
    unregister_planner("equip")


BASE = """\
name = "Equipment test"
[region]
schools = 40
counties = 2
seed = 3

[solver]
time_limit = 10

[[steps]]
planner = "equip"
budget = 2e6

[[steps]]
planner = "equip"
name = "second"
budget = 1e6

[[variants]]
name = "none"
steps.equip.budget = 0.0
steps.second.budget = 0.0

[[variants]]
name = "big"
steps.equip.budget = 3e7

[[variants]]
name = "broken"
steps.second.fail = true
"""


def _write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _main(argv):
    """allocator.cli.main with the run/compare commands (added here until cli.py has them)."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "run" not in sub.choices:
        add_run_commands(sub)
    original = cli.build_parser
    cli.build_parser = lambda: parser
    try:
        return cli.main(argv)
    finally:
        cli.build_parser = original


def test_parse_assignment_reads_toml_values():
    assert parse_assignment("steps.budget.budget=2e8") == {"steps": {"budget": {"budget": 2e8}}}
    assert parse_assignment("steps.m.boarding_bands=['junior']") == {
        "steps": {"m": {"boarding_bands": ["junior"]}}
    }
    assert parse_assignment("output.folder=out/x") == {"output": {"folder": "out/x"}}
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_assignment("region.schools")


# --------------------------------------------------------------------------- validation
BAD_CASES = [
    # (replace this, with that, expected line, expected fragments)
    ("budget = 1e6", "budgett = 1e6", 17, ["steps[2].budgett", "unknown key", "budget"]),
    ("budget = 1e6", 'budget = "lots"', 17, ["steps[2].budget", "expected a number", "lots"]),
    ("budget = 1e6", "budget = -5e5", 17, ["steps[2].budget", ">= 0"]),
    (
        'planner = "equip"\nname',
        'planner = "equp"\nname',
        15,
        ["steps[2].planner", "equp", "equip"],
    ),
    ("seed = 3", "seed = 3.5", 5, ["region.seed", "whole number"]),
    ("time_limit = 10", "time_limit = -1", 8, ["solver.time_limit", "positive"]),
    ("steps.equip.budget = 3e7", "steps.equip.budget = -3e7", 26, ["variants[2]", ">= 0"]),
    (
        "steps.equip.budget = 3e7",
        "steps.nope.budget = 3",
        26,
        ["variants[2].steps.nope", "no step"],
    ),
    ("[region]", "[regoin]", 2, ["regoin", "unknown key"]),
    ("schools = 40", 'schools = 40\ndata = "missing_folder"', 4, ["region", "not both"]),
    ("[solver]", "[solver", 7, ["not valid TOML"]),
]


@pytest.mark.parametrize("old,new,line,fragments", BAD_CASES)
def test_bad_scenario_names_file_line_key_and_expectation(
    equip, tmp_path, old, new, line, fragments
):
    assert old in BASE
    path = _write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line {line}: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "\n" not in message


def test_policy_post_init_error_is_located_at_its_key(equip, tmp_path):
    path = _write(tmp_path, BASE.replace("budget = 1e6", "budget = 1e6\ntarget_yuan_per_pupil = 0"))
    with pytest.raises(InputError, match=r"line 18: steps\[2\]\.target_yuan_per_pupil: "):
        load_scenario(path)


def test_missing_scenario_and_missing_data_folder(equip, tmp_path):
    with pytest.raises(InputError, match="nothing.toml: scenario file not found"):
        load_scenario(tmp_path / "nothing.toml")
    text = BASE.replace("schools = 40\ncounties = 2\nseed = 3", 'data = "no/such/folder"')
    with pytest.raises(InputError, match=r"line 3: region\.data: .*does not exist"):
        load_scenario(_write(tmp_path, text))


def test_variants_apply_overrides_to_named_steps(equip, tmp_path):
    scenario = load_scenario(_write(tmp_path, BASE))
    assert [v.name for v in scenario.variants] == ["none", "big", "broken"]
    big = scenario.variant("big")
    assert [s.params["budget"] for s in big.steps] == [3e7, 1e6]
    none = scenario.variant("none")
    assert [s.params["budget"] for s in none.steps] == [0.0, 0.0]
    with pytest.raises(InputError, match="unknown variant 'small'"):
        scenario.variant("small")
    over = load_scenario(_write(tmp_path, BASE), {"region": {"schools": 30}})
    assert over.region.synthetic["schools"] == 30 and over.region.synthetic["seed"] == 3
    # overrides given when loading win over a variant's own values
    pinned = load_scenario(_write(tmp_path, BASE), {"steps": {"equip": {"budget": 5.0}}})
    assert [s.params["budget"] for s in pinned.variant("big").steps] == [5.0, 1e6]


def test_scenario_standard_reaches_policies_with_a_standard_setting(tmp_path):
    @dataclass(frozen=True)
    class StdPolicy:
        standard: str = "moe2017"
        standard_overrides: dict | None = None

    register_planner("std", plan_equip, StdPolicy)
    try:
        text = (
            "[region]\nschools = 20\n[standard]\nbase = 'moe2017'\n"
            "overrides = { cv_limit = { primary = 0.4 } }\n[[steps]]\nplanner = 'std'\n"
        )
        scenario = parse_scenario(text, tmp_path / "x.toml")
        assert scenario.steps[0].params == {
            "standard": "moe2017",
            "standard_overrides": {"cv_limit": {"primary": 0.4}},
        }
        bad = text.replace("0.4", "-1")
        with pytest.raises(InputError, match=r"line 5: standard\.overrides\.cv_limit\.primary"):
            parse_scenario(bad, tmp_path / "x.toml")
    finally:
        unregister_planner("std")


@pytest.mark.parametrize(
    "old,new",
    [
        ("budget = 1e6", "budget = -5e5"),
        ("budget = 1e6", "budgett = 1e6"),
        ('planner = "equip"\nname', 'planner = "equp"\nname'),
        ("seed = 3", "seed = 'x'"),
    ],
)
def test_cli_bad_input_exit_2_one_line_nothing_written(equip, tmp_path, capsys, old, new):
    path = _write(tmp_path, BASE.replace(old, new, 1))
    out = tmp_path / "out"
    assert _main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
    assert re.search(r"line \d+: ", err)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary folder left either


def test_cli_missing_scenario_file(capsys, tmp_path):
    assert _main(["compare", str(tmp_path / "none.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.toml" in err


# --------------------------------------------------------------------------- runner
def test_run_writes_report_tables_and_json(equip, tmp_path):
    path = _write(tmp_path, BASE)
    out = tmp_path / "out"
    lines = []
    result = run_scenario(path, out=out, progress=lines.append)
    assert list(result.plans) == ["equip", "second"]
    assert len(result.regions) == 3 and len(result.measures) == 3
    assert any("step 1/2 equip: county" in line for line in lines)
    files = sorted(p.name for p in out.iterdir())
    assert {"report.html", "result.json", "equip.allocations.csv", "second.allocations.csv"} <= set(
        files
    )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    # the CSV is the plan table, with the school names beside the ids and yuan rounded to whole
    csv = pd.read_csv(out / "equip.allocations.csv", encoding="utf-8-sig", dtype={"school_id": str})
    names = result.regions[0].schools.set_index("school_id")["name"]
    assert csv["name"].tolist() == names[csv["school_id"]].tolist()
    pd.testing.assert_frame_equal(
        csv.drop(columns="name"),
        result.plans["equip"].allocations.drop(columns="name", errors="ignore"),
        check_dtype=False,
        check_exact=False,
        atol=0.5,
        rtol=0,
    )
    # result.json holds the figures of every stage and the policies
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert data["stages"] == ["before", "after equip", "after second"]
    assert data["steps"][0]["policy"]["budget"] == 2e6
    assert data["costs"]["capital_yuan"] == pytest.approx(
        sum(p.allocations["cost"].sum() for p in result.plans.values())
    )
    # equipment bought only raises equipment: compliance never falls, the equipment CV falls
    first, last = data["measures"]["before"], data["measures"]["after second"]
    assert last["parts_compliant"] >= first["parts_compliant"]
    key = "cv_worst.primary.equipment_yuan_per_pupil"
    assert last[key] < first[key]
    # the report: one file, summary first, images embedded, no external references
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.index("id='summary'") < html.index("id='steps'") < html.index("id='charts'")
    assert html.count('class="plotly-graph-div"') >= 4
    # plotly.js (inlined once) holds attribution links as text; nothing else may point outside
    from allocator.report.interactive import plotly_script

    assert html.count(plotly_script()) == 1
    page = html.replace(plotly_script(), "")
    assert not re.search(r"""(src|href)=["']?(http|/|[a-z]+\.(png|css|js))""", page)


def test_failed_step_writes_the_finished_steps_marked_incomplete(equip, tmp_path):
    path = _write(tmp_path, BASE.replace("budget = 1e6", "budget = 1e6\nfail = true"))
    out = tmp_path / "out"
    with pytest.raises(
        Infeasible, match=r"step 2/2 second \(equip\): no plan meets the target"
    ) as info:
        run_scenario(path, out=out)
    assert f"the finished steps (equip) are written to {out} (marked incomplete)" in str(info.value)
    assert info.value.partial.failure["step"] == "second"
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert data["complete"] is False and data["failure"]["index"] == 2
    assert [s["name"] for s in data["steps"]] == ["equip"]
    assert (out / "equip.allocations.csv").exists() and not (
        out / "second.allocations.csv"
    ).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.toml"]
    # a folder allocator did not write is refused before anything runs
    other = tmp_path / "other"
    other.mkdir()
    (other / "old.txt").write_text("earlier result")
    with pytest.raises(InputError, match="a folder allocator did not write is there"):
        run_scenario(path, out=other)
    assert [p.name for p in other.iterdir()] == ["old.txt"]


def test_measure_compliance_equals_check_and_travel_equals_dijkstra():
    from allocator.check import check

    region = make_region(schools=60, counties=2, seed=4)
    standard = load_standard()
    m = measure(region, standard)
    schools = check(region, standard).tables["schools"]
    assert m.figures["parts_compliant"] == int(schools.loc[schools["in_scope"], "passes"].sum())
    # independent travel: networkx Dijkstra from every settlement to every same-county school
    # that teaches grades 1-3
    s, sch = region.settlements, region.schools
    teaches = sch["level"].isin(["primary", "nine_year", "teaching_point"]) | (
        sch["pupils_lower_primary"] > 0
    )
    worst, over, total = 0.0, 0, 0.0
    for row in s.itertuples():
        if row.pupils_lower_primary == 0:
            continue
        dist = nx.single_source_dijkstra_path_length(region.roads, row.node, weight="minutes")
        nodes = sch.loc[teaches & (sch["county"] == row.county), "node"]
        best = min(dist.get(n, np.inf) for n in nodes)
        worst = max(worst, best)
        over += row.pupils_lower_primary if best > 30 else 0
        total += best * row.pupils_lower_primary
    assert m.figures["travel.lower_primary.max_minutes"] == pytest.approx(worst)
    assert m.figures["travel.lower_primary.pupils_over_limit"] == over
    mean = total / s["pupils_lower_primary"].sum()
    assert m.figures["travel.lower_primary.mean_minutes"] == pytest.approx(mean)


@pytest.mark.slow
def test_compare_runs_variants_in_processes(equip, tmp_path):
    path = _write(tmp_path, BASE)
    out = tmp_path / "cmp"
    comparison = compare_scenario(path, out=out, workers=2)
    table = comparison.table.set_index("measure")
    assert list(table.columns[2:]) == ["before", "none", "big"]
    assert list(comparison.failures) == ["broken"]
    assert "no plan meets the target" in comparison.failures["broken"]
    assert table.loc["parts_compliant", "none"] == table.loc["parts_compliant", "before"]
    assert table.loc["parts_compliant", "big"] > table.loc["parts_compliant", "none"]
    assert table.loc["cost.capital_yuan", "none"] == 0.0
    assert table.loc["cost.capital_yuan", "big"] == pytest.approx(
        sum(p.allocations["cost"].sum() for p in comparison.plans["big"].values())
    )
    assert {"report.html", "comparison.csv", "result.json"} <= {p.name for p in out.iterdir()}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'class="best"' in html and html.count('class="plotly-graph-div"') >= 3
    assert "Infeasible: step 2/2 second (equip): no plan meets the target" in html


def test_chart_labels_fall_back_to_ids_without_a_cjk_font(monkeypatch):
    from allocator.report import fonts as report

    monkeypatch.setattr(report, "cjk_font", lambda: None)
    assert report.chart_label("两江区", "county 1") == "county 1"
    assert report.chart_label("rural", "x") == "rural"
    monkeypatch.setattr(report, "cjk_font", lambda: "Noto Sans CJK SC")
    assert report.chart_label("两江区", "county 1") == "两江区"


# --------------------------------------------------------------------------- shipped scenarios
def _needs(*planners):
    for name in planners:
        pytest.importorskip(f"allocator.planners.{name}")


def test_every_shipped_scenario_validates():
    files = sorted(SCENARIOS.glob("*.toml"))
    assert {f.stem for f in files} >= {
        "liangjiang_demo",
        "rural_county_consolidation",
        "budget_policy_comparison",
        "teacher_rotation",
    }
    for f in files:
        if "\n[sweep]" in f.read_text(encoding="utf-8"):  # a sweep: its own checks
            from allocator.sweep import load_sweep

            scenario = load_sweep(f).scenario
        else:
            scenario = load_scenario(f)
        assert scenario.steps and scenario.description


def _improves(result):
    first, last = result.measures[0].figures, result.measures[-1].figures
    assert last["parts_compliant"] > first["parts_compliant"]
    cv = [k for k in last if k.startswith("cv_worst.primary.")]
    assert sum(last[k] for k in cv) < sum(first[k] for k in cv)
    return first, last


def test_liangjiang_demo_small(tmp_path):
    _needs("mergers", "districts", "budget", "teachers")
    result = run_scenario(
        SCENARIOS / "liangjiang_demo.toml",
        out=tmp_path / "demo",
        overrides={"region": {"schools": 80}},
    )
    planners = [s.planner for s in result.steps]
    assert planners == ["mergers", "districts", "budget", "teachers", "training"]
    first, last = _improves(result)
    assert last["travel.lower_primary.pupils_over_limit"] == 0
    assignments = result.plans["mergers"].assignments
    lower = assignments[assignments["band"] == "lower_primary"]
    assert (lower["minutes"] <= 30 + 1e-9).all() and not lower["boarding"].any()
    assert "district" in result.regions[-1].schools.columns
    assert (tmp_path / "demo" / "report.html").exists()


def test_rural_county_consolidation_small():
    _needs("mergers", "budget")
    result = run_scenario(
        SCENARIOS / "rural_county_consolidation.toml",
        write=False,
        overrides={"region": {"schools": 40}},
    )
    first, last = _improves(result)
    plan = result.plans["mergers"]
    assert len(plan.closures) > 0
    assert last["schools"] == first["schools"] - len(plan.closures)
    assert last["travel.lower_primary.pupils_over_limit"] == 0


def test_teacher_rotation_small():
    _needs("teachers")
    result = run_scenario(
        SCENARIOS / "teacher_rotation.toml", write=False, overrides={"region": {"schools": 50}}
    )
    first, last = _improves(result)
    head = result.steps[0].headline
    assert head["staff_shortfall_after"] < head["staff_shortfall_before"]
    assert last["rural_urban.backbone_per_100"] > first["rural_urban.backbone_per_100"]


@pytest.mark.slow
def test_budget_policy_comparison_small_from_a_script_without_main_guard(tmp_path):
    # The way people use it: a plain script (no `if __name__ == "__main__"`) that compares in
    # worker processes; the workers must not run the script again.
    _needs("budget")
    script = tmp_path / "compare.py"
    script.write_text(
        "import allocator\n"
        "print('script body runs')\n"
        f"c = allocator.compare_scenario({str(SCENARIOS / 'budget_policy_comparison.toml')!r},\n"
        f"    out={str(tmp_path / 'cmp')!r}, overrides={{'region': {{'schools': 50}}}})\n"
        "print(len(c.variants), 'variants')\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body runs") == 1 and "4 variants" in done.stdout
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv", encoding="utf-8-sig")
    table = table.set_index("measure")
    variants = ["standards first", "rural priority", "minimax", "lexicographic"]
    assert list(table.columns[2:]) == ["before", *variants]
    table = table[["before", *variants]].apply(pd.to_numeric, errors="coerce")
    budget = load_scenario(SCENARIOS / "budget_policy_comparison.toml").steps[0].params["budget"]
    for v in variants:
        assert table.loc["cost.capital_yuan", v] <= budget * (1 + 1e-6)
        assert table.loc["parts_compliant", v] >= table.loc["parts_compliant", "before"]
    ratios = table[table.index.str.startswith("rural_urban.")]
    distance = (ratios[variants].astype(float) - 1).abs().mean()
    assert distance["rural priority"] == distance.min()
    assert (
        table.loc["parts_compliant", "standards first"]
        == table.loc["parts_compliant", variants].max()
    )


def test_cli_run_with_a_data_folder_and_set_overrides(equip, tmp_path, capsys):
    from allocator.io import save_region

    save_region(make_region(schools=30, counties=1, seed=8), tmp_path / "data" / "county")
    text = BASE.replace("schools = 40\ncounties = 2\nseed = 3", 'data = "data/county"')
    path = _write(tmp_path, text)
    out = tmp_path / "out"
    argv = ["run", str(path), "--out", str(out), "--quiet", "--set", "steps.second.budget=0"]
    assert _main(argv) == 0
    data = json.loads((out / "result.json").read_text(encoding="utf-8"))
    assert data["region"]["schools"] == 30 and data["region"]["name"] == "county"
    assert data["steps"][1]["policy"]["budget"] == 0
    assert "report: " in capsys.readouterr().out
    # a --set naming an unknown step is bad input like any other
    assert _main(argv[:-1] + ["steps.third.budget=0"]) == 2
    assert "no step named 'third'" in capsys.readouterr().err


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.slow
def test_stdout_carries_the_solver_log_only_with_verbose(tmp_path, verbose):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'name = "quiet"\n[region]\nschools = 20\nseed = 1\n'
        '[[steps]]\nplanner = "budget"\nbudget = 1000000.0\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "allocator.cli", "run", str(scenario), "--quiet"]
    command += ["--out", str(tmp_path / "out")] + (["--verbose"] if verbose else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("HiGHS" in done.stdout) == verbose
    assert "report:" in done.stdout
