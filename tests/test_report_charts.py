"""The report's figures: what each trace holds, checked against the plan tables and by hand."""

from __future__ import annotations

import dataclasses
import pathlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

import allocator
from allocator.errors import InputError
from allocator.i18n import Words
from allocator.report import areas, charts, compare_charts, interactive, maps, widgets
from allocator.report.tables import page

ROOT = pathlib.Path(__file__).parents[1]
EN, ZH = Words("en"), Words("zh")


@pytest.fixture(scope="module")
def run():
    scenario = ROOT / "scenarios" / "liangjiang_demo.toml"
    return allocator.run_scenario(scenario, write=False, overrides={"region": {"schools": 40}})


def _traces(fig: go.Figure, meta: str) -> list:
    return [t for t in fig.data if t.meta == meta]


def _points(traces) -> set[tuple[float, float]]:
    return {(round(x, 6), round(y, 6)) for t in traces for x, y in zip(t.x, t.y, strict=True)}


def _where(schools: pd.DataFrame, ids) -> set[tuple[float, float]]:
    sub = schools.set_index("school_id").loc[list(ids)]
    return {(round(x, 6), round(y, 6)) for x, y in zip(sub["x"], sub["y"], strict=True)}


# --------------------------------------------------------------------------- the map
def test_the_map_shows_every_school_open_after_the_plan_and_crosses_the_closed_ones(run):
    fig = maps.map_figure(run, ZH)
    before, after = run.regions[0].schools, run.regions[-1].schools
    assert _points(_traces(fig, "schools")) == _where(after, after["school_id"])
    assert sum(len(t.x) for t in _traces(fig, "schools")) == len(after)
    closures = run.tables["mergers.closures"]
    assert len(closures) > 0
    assert _points(_traces(fig, "closed")) == _where(before, closures["school_id"])
    # each school's hover names it, with its id and its county
    for trace in _traces(fig, "schools"):
        for x, text in zip(trace.x, trace.hovertext, strict=True):
            row = after[np.isclose(after["x"], x)].iloc[0]
            assert row["name"] in text and row["school_id"] in text and row["county"] in text


def test_each_arrow_runs_from_a_closed_school_to_the_school_receiving_its_pupils(run):
    fig = maps.map_figure(run, EN)
    (arrows,) = [t for t in fig.data if t.name == EN("map.closures")]
    before, after = run.regions[0].schools.set_index("school_id"), run.regions[-1].schools
    after = after.set_index("school_id")
    closures = run.tables["mergers.closures"]
    x, y = list(arrows.x), list(arrows.y)
    assert len(x) == 3 * len(closures) and x[2::3] == [None] * len(closures)
    for k, (closed, receiving) in enumerate(
        zip(closures["school_id"], closures["receiving_school_id"], strict=True)
    ):
        assert (x[3 * k], y[3 * k]) == (before.at[closed, "x"], before.at[closed, "y"])
        assert (x[3 * k + 1], y[3 * k + 1]) == (after.at[receiving, "x"], after.at[receiving, "y"])
    # the arrow head is drawn at the receiving end only
    assert list(arrows.marker.size) == [0, 16, 0] * len(closures)


def test_rotation_lines_carry_the_teachers_moved_between_each_pair(run):
    fig = maps.map_figure(run, EN)
    lines, middles = [t for t in fig.data if t.legendgroup == "rotations"]
    assert lines.hoverinfo == "skip" and len(middles.x) == len(lines.x) // 3
    transfers = run.tables["teachers.transfers"]
    lines = maps.rotation_lines(run)
    assert lines["teachers"].sum() == transfers["count"].sum()
    pairs = transfers.groupby(["from_school_id", "to_school_id"])["count"].sum()
    got = lines.set_index(["from_school_id", "to_school_id"])["teachers"]
    assert got.to_dict() == pairs.to_dict() and len(got) > 0


def _hostile(run):
    """The run with one school named like markup, as a planner's file might name it."""
    regions = []
    for region in run.regions:
        schools = region.schools.copy()
        schools.loc[schools.index[0], "name"] = "<img src=x onerror=alert(1)>小学"
        regions.append(
            SimpleNamespace(schools=schools, roads=region.roads, counties=region.counties)
        )
    return SimpleNamespace(**{**vars(run), "regions": regions})


def test_hover_texts_escape_names(run):
    fig = maps.map_figure(_hostile(run), ZH)
    texts = [t for trace in fig.data for t in (trace.hovertext or ()) if t]
    assert any("&lt;img src=x onerror=alert(1)&gt;小学" in t for t in texts)
    assert not any("<img" in t for t in texts)
    assert "<img src=x" not in interactive.figure_html(fig)


def test_the_indicator_map_colours_each_school_by_the_indicator_chosen(run):
    fig = maps.indicator_map_figure(run, EN)
    indicators = [k for k in charts.INDICATORS if f"{k}_share" in run.measures[-1].parts]
    buttons = fig.layout.updatemenus[0].buttons
    assert len(fig.data) == 2 and len(buttons) == len(indicators) == 7
    # the colour of a school is its value as a share of the threshold, before and after
    for trace, stage in zip(fig.data, (0, -1), strict=True):
        parts = run.measures[stage].parts
        parts = parts[parts["in_scope"].astype(bool)]
        open_ids = set(run.regions[stage].schools["school_id"])
        parts = parts[parts["school_id"].isin(open_ids)]
        for b, k in zip(buttons, indicators, strict=True):
            shown = b.args[0]["marker.color"][0 if stage == 0 else 1]
            assert sorted(shown) == pytest.approx(sorted(parts[f"{k}_share"].clip(0, 2)), abs=5e-4)
        assert (
            list(trace.marker.color) == buttons[0].args[0]["marker.color"][0 if stage == 0 else 1]
        )


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=40))
def test_road_paths_draw_every_road_once(edges):
    import networkx as nx

    graph = nx.Graph([(a, b) for a, b in edges if a != b])
    paths = maps.road_paths(graph)
    walked = [frozenset(p) for path in paths for p in zip(path, path[1:], strict=False)]
    assert sorted(map(sorted, walked)) == sorted(map(sorted, map(frozenset, graph.edges)))
    assert len(walked) == len(set(walked)) == graph.number_of_edges()


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=2, max_size=25, unique=True
    ),
    st.integers(1, 4),
)
def test_district_cells_tile_the_county_each_around_its_own_school(points, k):
    xy = np.array(points, dtype=float)
    schools = pd.DataFrame(
        {
            "x": xy[:, 0],
            "y": xy[:, 1],
            "county": "A",
            "district": [f"d{i % k}" for i in range(len(xy))],
        }
    )
    cells = areas.district_cells(schools, margin=2.0)

    def area(p):
        return 0.5 * abs(
            np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1))
        )

    ox, oy = areas.district_outline(xy[:, 0], xy[:, 1], 2.0)
    whole = area(np.column_stack([ox[:-1], oy[:-1]]))
    if len(xy) >= 3 and np.linalg.matrix_rank(xy - xy.mean(axis=0)) < 2:
        return  # a line of schools: Voronoi cells still tile, but qhull may refuse the input
    assert sum(area(c) for v in cells.values() for c in v) == pytest.approx(whole, rel=1e-6)
    assert sum(len(v) for v in cells.values()) == len(xy)


# --------------------------------------------------------------------------- charts
def _cv_measures(rows):
    cv = pd.DataFrame(rows, columns=["county", "part", "indicator", "cv", "limit"])
    cv["within_limit"] = cv["cv"] <= cv["limit"]
    return SimpleNamespace(cv=cv)


def test_each_county_is_marked_passing_or_failing_by_its_cvs():
    before = _cv_measures(
        [
            ("甲", "primary", "qualified_per_100", 0.6, 0.5),
            ("乙", "primary", "qualified_per_100", 0.2, 0.5),
        ]
    )
    after = _cv_measures(
        [
            ("甲", "primary", "qualified_per_100", 0.3, 0.5),
            ("甲", "primary", "backbone_per_100", 0.55, 0.5),
            ("乙", "primary", "qualified_per_100", 0.1, 0.5),
        ]
    )
    standard = SimpleNamespace(cv_limit={"primary": 0.5, "junior": 0.45})
    fig = charts.cv_figure(["before", "after"], [before, after], standard, ZH)
    ticks = dict(zip(fig.layout.yaxis.tickvals, fig.layout.yaxis.ticktext, strict=True))
    assert "✗ 未达标" in ticks["甲"] and "✓ 达标" in ticks["乙"]
    (backbone,) = [t for t in fig.data if t.name == ZH("chart.indicator.backbone_per_100")]
    assert list(backbone.x) == [0.55] and list(backbone.marker.line.color) == ["#b42318"]


def test_a_lorenz_curve_is_computed_by_hand():
    k = "qualified_per_100"
    parts = pd.DataFrame({k: [0.0, 2.0], f"{k}_share": [0.0, 1.0], "pupils": [10, 10]})
    m = SimpleNamespace(parts=parts)
    fig = charts.lorenz_figure(["before", "after"], [m, m], EN)
    curve = fig.data[1]
    assert list(curve.x) == [0, 0.5, 1] and list(curve.y) == [0, 0, 1]
    assert curve.name == "before: Gini 0.50"


def test_the_frontier_figure_plots_parts_passing_against_yuan_and_refuses_other_tables():
    f = pd.DataFrame(
        {
            "budget": [0, 1e6, 2e6],
            "parts_passing": [3, 5, 6],
            "parts_in_scope": [8, 8, 8],
            "max_shortfall": [0.6, 0.4, 0.1],
        }
    )
    fig = charts.frontier_figure(f, ZH)
    assert list(fig.data[0].x) == [0, 1e6, 2e6] and list(fig.data[0].y) == [3, 5, 6]
    assert "元" in fig.layout.xaxis.title.text
    with pytest.raises(InputError, match="max_shortfall"):
        charts.frontier_figure(f.drop(columns="max_shortfall"), EN)


def test_legends_sit_above_the_plot_never_over_it(run):
    figures = [
        charts.distribution_figure(run.stages, run.measures, EN),
        charts.cv_figure(run.stages, run.measures, run.standard, EN),
        charts.lorenz_figure(run.stages, run.measures, EN),
    ]
    for fig in figures:
        assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom"


def test_every_figure_speaks_both_languages(run):
    for words in (EN, ZH):
        charts.distribution_figure(run.stages, run.measures, words)
        charts.lorenz_figure(run.stages, run.measures, words)
        maps.map_figure(run, words)
        maps.indicator_map_figure(run, words)
        assert words("table.filter") in widgets.table_script(words)
    assert ZH("map.closures") != EN("map.closures")


def test_the_comparison_charts_show_every_variant(run):
    table = pd.DataFrame(
        {
            "measure": ["cost_yuan", "parts_compliant", "cv_worst.primary.qualified_per_100"],
            "before": [np.nan, 20, 0.4],
            "a": [1e6, 25, 0.3],
            "b": [2e6, 27, 0.2],
        }
    )
    comparison = SimpleNamespace(
        table=table, variants=["a", "b"], results={"a": run, "b": run}, scenario=run.scenario
    )
    (cost, _, cost_fig), (cv, _, cv_fig) = compare_charts.comparison_figures(comparison, EN)
    assert list(cost_fig.data[0].y) == [1e6, 2e6] and list(cost_fig.data[1].y) == [25, 27]
    assert [t.name for t in cv_fig.data] == ["before", "a", "b"]
    assert [list(t.y) for t in cv_fig.data] == [[0.4], [0.3], [0.2]]


# --------------------------------------------------------------------------- the page
def test_plotly_js_is_inlined_once_and_only_when_the_page_has_a_figure():
    fig = interactive.figure_html(go.Figure(go.Bar(x=[1], y=[1])))
    with_figures = page("t", fig + fig, EN)
    assert with_figures.count(interactive.plotly_script()) == 1
    assert with_figures.index(interactive.plotly_script()) < with_figures.index("<body>")
    plain = page("t", "<table><tr><th>a</th></tr></table>", EN)
    assert "Plotly" not in plain and "table-tools" in plain  # the table script, not plotly
    assert "cdn.plot.ly" not in with_figures.replace(interactive.plotly_script(), "")


def test_the_run_page_shows_the_budget_frontier_only_when_the_results_hold_one(run):
    from allocator.report import render_run

    words = interactive.words_of(run)
    heading = words("chart.frontier.heading")
    assert heading not in render_run(run)
    frontier = pd.DataFrame(
        {
            "budget": [0, 1e6],
            "parts_passing": [3, 5],
            "parts_in_scope": [8, 8],
            "max_shortfall": [0.6, 0.4],
        }
    )
    with_frontier = dataclasses.replace(run, tables={**run.tables, "budget.frontier": frontier})
    text = render_run(with_frontier)
    assert heading in text and text.count('class="plotly-graph-div"') == 8
