"""The report package: HTML pieces, chart set-up, and the run page's sections."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pandas as pd
import pytest

import allocator
from allocator import report
from allocator.i18n import Words
from allocator.report import charts, fonts
from allocator.report.tables import Share, change_class, format_value, html_table, page

ROOT = pathlib.Path(__file__).parents[1]


@pytest.fixture(scope="module")
def run():
    scenario = ROOT / "scenarios" / "budget_policy_comparison.toml"
    return allocator.run_scenario(scenario, write=False, overrides={"region": {"schools": 40}})


# --------------------------------------------------------------------------- HTML pieces
def test_numbers_are_shown_as_a_planner_reads_them():
    shown = [format_value(v) for v in (12345.6, 56.78, 123.45, 0.004, 0, 7, None, False)]
    assert shown == ["12,346", "56.8", "123.5", "0.004", "0", "7", "–", "no"]
    assert format_value(11.969999999999999) == "12" and format_value(0.12345, "cv_x") == "0.123"
    assert format_value(Share(0.375)) == "38%" and format_value(Share(float("nan"))) == "–"
    assert format_value(float("inf")) == "–" and format_value("两江") == "两江"


def test_a_table_escapes_cells_marks_classes_and_says_when_rows_are_cut():
    df = pd.DataFrame({"name": ["<a>", "b", "c"], "value": [1.0, 2.0, 3.0]})
    classes = pd.DataFrame([["", "better"], ["", "worse"]])
    text = html_table(df, max_rows=2, classes=classes)
    assert "<td>&lt;a&gt;</td>" in text and "<td>c</td>" not in text and "overflow-x:auto" in text
    assert '<td class="better">1</td>' in text and '<td class="worse">2</td>' in text
    assert "First 2 of 3 rows" in text
    assert "First" not in html_table(df)


def test_a_change_is_better_or_worse_by_the_measure_s_direction():
    assert change_class(1, 2, "high") == "better" and change_class(1, 2, "low") == "worse"
    assert change_class(0.7, 1.2, "one") == "better" and change_class(0.9, 0.6, "one") == "worse"
    assert change_class(1, 1, "high") == "" and change_class(None, 1, "high") == ""
    assert change_class(float("nan"), 1, "low") == ""


def test_the_page_frame_escapes_its_title_and_carries_the_style_sheet():
    text = page("A & B", "<p>body</p>", Words("en"))
    assert text.startswith("<!DOCTYPE html>") and "<title>A &amp; B</title>" in text
    assert "<style>" in text and "<p>body</p>" in text and "Written by allocator on" in text


# --------------------------------------------------------------------------- charts
def test_variants_without_a_font_are_charted_by_number(monkeypatch):
    monkeypatch.setattr(fonts, "cjk_font", lambda: None)
    assert charts.variant_labels(["少花钱", "minimax"]) == ["V1", "minimax"]
    monkeypatch.setattr(fonts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert charts.variant_labels(["少花钱"]) == ["少花钱"]


def test_the_budget_frontier_chart_is_one_function_under_two_names():
    assert allocator.plot_budget_frontier is report.plot_budget_frontier
    assert report.plot_budget_frontier is charts.plot_budget_frontier
    assert {"render_run", "render_comparison", "cjk_font", "chart_label"} <= set(report.__all__)


# --------------------------------------------------------------------------- run page
def test_the_run_page_has_its_sections_in_order(run):
    text = report.render_run(run, "en")
    marks = [
        "<h1>",
        "<nav>",
        "id='verdict'",
        "id='summary'",
        "id='steps'",
        "id='charts'",
        "id='map'",
        "id='campus'",
    ]
    places = [text.index(m) for m in [*marks, "id='tables'"]]
    assert places == sorted(places)
    assert text.count("<h3>Step ") == len(run.steps)
    # by area type, CV by county, Lorenz, the map, one indicator per school, and the campus
    # section's map and urban-rural chart; plotly.js once
    assert text.count('class="plotly-graph-div"') == 7 and 'alt="chart"' not in text
    # plotly.js once, seven figures, the table script (plotly < 6.1 writes type="text/javascript")
    assert len(re.findall(r"<script[ >]", text)) == 9
    assert "Incomplete run." not in text and "<b>What it costs:</b>" in text


@pytest.mark.parametrize(
    "finished, wording",
    [
        (0, "No step finished; the figures below describe the region before any plan."),
        (1, "The step before it finished and is reported below"),
    ],
)
def test_an_incomplete_run_says_what_finished(run, finished, wording):
    failure = {
        "index": finished + 1,
        "step": "<fund>",
        "planner": "budget",
        "error": "Infeasible",
        "message": "no plan meets the target",
    }
    partial = dataclasses.replace(
        run,
        steps=run.steps[:finished],
        regions=run.regions[: finished + 1],
        measures=run.measures[: finished + 1],
        failure=failure,
    )
    text = report.render_run(partial, "en")
    assert text.index("Incomplete run.") < text.index("id='verdict'")
    assert wording in text and f"Step {finished + 1}, &lt;fund&gt; (capital budget)" in text
    assert text.count("<h3>Step ") == finished
