"""A sweep over a scenario with a kindergartens step keeps the kindergarten plan's own figures
per task (enrolment rates within reach and over all children, places added, yuan, shares,
status), equal to the plan made directly with the task's policy, and names them in Chinese."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from allocator.planners.kindergartens import SWEEP_FIGURES, KindergartenPolicy, plan_kindergartens
from allocator.scenario import parse_scenario
from allocator.sweep import load_sweep, run_sweep
from allocator.sweep.spec import DEFAULT_MEASURES

SCENARIO = """
name = "kindergarten sweep"

[region]
schools = 20
counties = 2
seed = 3
kindergartens = true

[[steps]]
planner = "kindergartens"

[sweep]
steps.kindergartens.public_share = [0.4, 0.5, 0.7]
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kg")
    path = folder / "kg.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path, run_sweep(path, out=folder / "out", workers=0, language="zh")


def test_default_measures_put_the_kindergarten_figures_first(swept):
    path, _ = swept
    measures = load_sweep(path).measures
    assert measures == (*(f"kindergartens.{f}" for f in SWEEP_FIGURES), *DEFAULT_MEASURES)
    text = SCENARIO.replace("[sweep]", '[sweep]\nmeasures = ["cost_yuan"]')
    other = path.with_name("given.toml")
    other.write_text(text, encoding="utf-8")
    assert load_sweep(other).measures == ("cost_yuan",)  # measures given are kept as given


def test_each_task_records_its_own_kindergarten_plan(swept):
    path, result = swept
    table = result.table.set_index("steps.kindergartens.public_share")
    assert list(table["status"]) == ["ok", "ok", "no plan"]
    # 70 % public is out of reach here: the task is recorded with the planner's numbers
    assert "public short by" in table.loc[0.7, "error"]
    assert table.loc[0.7, [f"kindergartens.{f}" for f in SWEEP_FIGURES]].isna().all()
    region = parse_scenario(SCENARIO.split("[sweep]")[0], path).region.load()
    for share in (0.4, 0.5):
        h = plan_kindergartens(region, KindergartenPolicy(public_share=share)).headline()
        row = table.loc[share]
        for figure in SWEEP_FIGURES:
            got = row[f"kindergartens.{figure}"]
            assert got == (pytest.approx(h[figure]) if figure != "status" else h[figure]), figure
        assert row["kindergartens.public_share"] >= share - 1e-9
        assert row["kindergartens.gross_enrolment_rate_within_reach"] >= 0.9 - 1e-9
        assert (
            row["kindergartens.gross_enrolment_rate"]
            < row["kindergartens.gross_enrolment_rate_within_reach"]
        )  # children beyond every walking limit
    # a higher public share costs at least as much
    low, high = (table.loc[s] for s in (0.4, 0.5))
    cost, n = "kindergartens.capital_yuan", "kindergartens.new_places"
    assert (
        high[cost] + 5 * high["kindergartens.subsidy_yuan_per_year"]
        >= low[cost] + 5 * low["kindergartens.subsidy_yuan_per_year"] - 1e-6
    )
    saved = pd.read_csv(result.out / "results.csv", encoding="utf-8-sig")
    assert saved["kindergartens.new_places"].tolist()[:2] == [low[n], high[n]] == [0, 90]


def test_the_sweep_page_names_the_figures_in_chinese(swept):
    _, result = swept
    page = (result.out / "report.html").read_text(encoding="utf-8")
    body = html.unescape(re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S))
    for label in ("新增学位", "步行范围内入园率", "学前三年毛入园率", "公办园在园幼儿占比"):
        assert f"kindergartens：{label}" in body, label
    assert "kindergartens.new_places" not in body
