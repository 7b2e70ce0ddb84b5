"""The sweep report's charts: the values each figure holds, recomputed by hand from small tables,
its words in both languages, and names from the data escaped wherever they are shown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.i18n import Words
from allocator.report import sweep_page
from allocator.report.interactive import hover, plotly_script
from allocator.sweep import decision_shares, robust_plan

BUDGET = "steps.budget.budget"
HOSTILE = "<img src=x onerror=alert(1)>县&"


def _county_table() -> pd.DataFrame:
    """Two counties × two budgets × two draws, one task without a plan whose figures are junk."""
    rows = []
    share = {("A", 1e6): (0.5, 0.7), ("A", 2e6): (0.8, 0.9), (HOSTILE, 1e6): (0.1, 0.3)}
    share[(HOSTILE, 2e6)] = (0.4, 0.4)
    for (county, budget), values in share.items():
        for draw, v in enumerate(values):
            rows.append(
                {
                    "county": county,
                    BUDGET: budget,
                    "draw": draw,
                    "status": "ok",
                    "compliant_share": v,
                    "cost_yuan": budget * v,
                }
            )
    rows.append(
        {"county": "A", BUDGET: 1e6, "draw": 2, "status": "no plan", "compliant_share": 99.0}
    )
    return pd.DataFrame(rows)


def test_the_frontier_has_one_point_per_county_and_budget_the_mean_over_the_draws():
    table = _county_table()
    fig = sweep_page.frontier_figure(table, [BUDGET, "county", "draw"], Words("en"))
    got = {
        (trace.name, round(float(x) * 1e4), round(float(y), 12))
        for trace in fig.data
        for x, y in zip(trace.x, trace.y, strict=True)
    }
    expected = set()
    for county in ("A", HOSTILE):
        for budget in (1e6, 2e6):
            values = [
                r["compliant_share"]
                for _, r in table.iterrows()
                if r["county"] == county and r[BUDGET] == budget and r["status"] == "ok"
            ]
            expected.add((hover(county), round(budget), round(sum(values) / len(values), 12)))
    assert got == expected
    assert len(fig.data) == 2 and fig.layout.yaxis.tickformat == ".0%"


def test_no_frontier_without_a_county_axis_and_no_fans_without_draws():
    table = _county_table()
    words = Words("en")
    assert sweep_page.frontier_figure(table, [BUDGET, "draw"], words) is None
    assert sweep_page.fan_figure(table, [BUDGET, "county"], words) is None
    assert sweep_page.robustness_figure(None, 0.8, words) is None


def test_the_fan_draws_the_median_and_the_10_and_90_percent_of_the_draws():
    # budget 1: the draws with a plan are 1, 2, 3, 10; the failed draw's 500 does not count
    table = pd.DataFrame(
        {
            BUDGET: [1, 1, 1, 1, 1, 2, 2, 2],
            "draw": [0, 1, 2, 3, 4, 0, 1, 2],
            "status": ["ok", "ok", "ok", "ok", "no plan", "ok", "ok", "ok"],
            "cost_yuan": [3.0, 1.0, 10.0, 2.0, 500.0, 4.0, 6.0, 5.0],
        }
    )
    fig = sweep_page.fan_figure(table, [BUDGET, "draw"], Words("en"))
    by_meta = {t.meta: [float(v) for v in t.y] for t in fig.data}
    # sorted 1, 2, 3, 10: median (2 + 3) / 2; 10 % at position 0.3, 90 % at position 2.7
    # (linear between neighbours); budget 2: 4, 5, 6 at positions 0.2, 1, 1.8
    assert by_meta["median"] == pytest.approx([2.5, 5.0])
    assert by_meta["q10"] == pytest.approx([1.3, 4.2])
    assert by_meta["q90"] == pytest.approx([7.9, 5.8])
    assert [float(v) for v in fig.data[0].x] == [1.0, 2.0]
    upper = next(t for t in fig.data if t.meta == "q90")
    assert upper.fill == "tonexty" and fig.data[list(fig.data).index(upper) - 1].meta == "q10"


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=12))
def test_the_fan_band_holds_its_median(values):
    table = pd.DataFrame(
        {BUDGET: 1, "draw": range(len(values)), "status": "ok", "cost_yuan": values}
    )
    fig = sweep_page.fan_figure(table, [BUDGET, "draw"], Words("zh"))
    y = {t.meta: float(t.y[0]) for t in fig.data}
    assert y["q10"] <= y["median"] + 1e-9 and y["median"] <= y["q90"] + 1e-9
    assert y["median"] == pytest.approx(float(np.median(values)))


def test_without_a_numeric_axis_the_fan_is_a_histogram_of_every_draw():
    table = pd.DataFrame({"draw": range(5), "status": "ok", "cost_yuan": [1.0, 2.0, 2.0, 3.0, 9.0]})
    fig = sweep_page.fan_figure(table, ["draw"], Words("en"))
    assert [t.meta for t in fig.data] == ["histogram"]
    assert sorted(float(v) for v in fig.data[0].x) == [1.0, 2.0, 2.0, 3.0, 9.0]


def test_the_robustness_bars_are_the_mean_share_of_each_decision_with_the_threshold():
    t = pd.DataFrame(
        {
            BUDGET: [1, 1, 1, 2, 2],
            "draw": [0, 1, 2, 0, 1],
            "status": ["ok", "ok", "no plan", "ok", "ok"],
            "cost_yuan": [1.0] * 5,
            "decisions": [
                ["close m S1", f"buy budget {HOSTILE} rooms"],
                ["close m S1"],
                [],
                ["close m S1", "district d S1+S2"],
                [],
            ],
        }
    )
    shares = decision_shares(t, ("cost_yuan",))
    fig = sweep_page.robustness_figure(shares, 0.8, Words("en"))
    bars = dict(zip(fig.data[0].y, (float(v) for v in fig.data[0].x), strict=True))
    # close m S1: 2 of 2 draws at budget 1, 1 of 2 at budget 2; the others once in one setting
    assert bars == pytest.approx(
        {
            "close m S1": (1.0 + 0.5) / 2,
            hover(f"buy budget {HOSTILE} rooms"): 0.5,
            "district d S1+S2": 0.5,
        }
    )
    assert list(fig.data[0].y)[0] == "close m S1" and fig.data[0].orientation == "h"
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 0.8
    assert fig.layout.annotations[0].text == "robust: 80%"
    html = sweep_page.render_sweep(
        "s", t, [BUDGET, "draw"], ["cost_yuan"], shares, robust_plan(shares, 0.8), 0.8, "en"
    )
    assert HOSTILE not in html and "<img src=x" not in html


@pytest.mark.parametrize(
    ("language", "heading", "words"),
    [
        ("en", "Budget frontier across counties", ["median", "budget (10 000 yuan)"]),
        ("zh", "各县预算前沿", ["中位数", "预算（万元）", "达标校部比例", "10%-90% 的抽样"]),
    ],
)
def test_the_page_and_its_figures_speak_the_page_language(language, heading, words):
    table = _county_table()
    axes = [BUDGET, "county", "draw"]
    html = sweep_page.render_sweep(
        "扫描", table, axes, ["compliant_share", "cost_yuan"], language=language
    )
    assert heading in html
    assert html.count("<div class='figure'>") == 3  # by axis, frontier, fans (no shares given)
    assert html.count(plotly_script()) == 1 and "<script src" not in html
    assert ("lang='zh-CN'" in html) == (language == "zh")
    w = Words(language)
    frontier = sweep_page.frontier_figure(table, axes, w)
    fans = sweep_page.fan_figure(table, axes, w)
    texts = {frontier.layout.xaxis.title.text, frontier.layout.yaxis.title.text}
    texts |= {t.name for t in fans.data} | {fans.layout.yaxis.title.text}
    for word in words:
        assert word in texts
    assert frontier.layout.yaxis.title.text == w("sweep.measure.compliant_share")


def test_hostile_county_names_are_escaped_in_legend_hover_and_page():
    table = _county_table()
    fig = sweep_page.frontier_figure(table, [BUDGET, "county"], Words("zh"))
    texts = [t.name for t in fig.data] + [t.hovertemplate for t in fig.data]
    assert not any("<img" in s for s in texts)
    assert any(hover(HOSTILE) in s for s in texts)
    html = sweep_page.render_sweep("<b>扫描</b>", table, [BUDGET, "county", "draw"], ["cost_yuan"])
    assert HOSTILE not in html and "<b>扫描</b>" not in html


def test_measures_by_axis_are_means_over_the_tasks_with_a_plan_on_category_axes_too():
    table = pd.DataFrame(
        {
            "steps.budget.objective": ["minimax", "<sum>", "minimax", "<sum>", "minimax"],
            BUDGET: [1e6, 1e6, 2e6, 2e6, 2e6],
            "status": ["ok", "ok", "ok", "ok", "failed"],
            "cost_yuan": [1.0, 2.0, 3.0, 6.0, 1000.0],
            "label": ["x"] * 5,
        }
    )
    axes = ["steps.budget.objective", BUDGET]
    fig = sweep_page.axis_figure(table, axes, ["cost_yuan", "label"], Words("en"))
    assert len(fig.data) == 2  # one measure (the text column is left out) × two axes
    by_objective, by_budget = fig.data
    assert dict(zip(by_objective.x, by_objective.y, strict=True)) == {
        "&lt;sum&gt;": 4.0,
        "minimax": 2.0,
    }
    assert [float(v) for v in by_budget.x] == [1e6, 2e6]
    assert [float(v) for v in by_budget.y] == [1.5, 4.5]
    assert fig.layout.xaxis.type == "category"
