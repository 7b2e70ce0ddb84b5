"""The report's charts: indicators by area type, Lorenz curves, each county's CV, budget frontier.

Each chart is a plotly figure (``*_figure``, for tests and for users who show it their own way)
and its ``<div>`` for the page (``*_chart``, by :func:`allocator.report.interactive.figure_html`):
hover shows each value with its unit, legends sit above the plot and toggle what they name.
Labels come from :class:`allocator.i18n.Words`. :func:`plot_budget_frontier` is the one chart drawn
with matplotlib, for the user, on their own axes or into a file. The comparison's charts are in
:mod:`allocator.report.compare_charts`, the maps in :mod:`allocator.report.maps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.errors import InputError
from allocator.i18n import Words
from allocator.metrics import gini
from allocator.outputs import output_file, png_metadata
from allocator.report.fonts import chart_label, font_rc
from allocator.report.interactive import base_layout, figure_html, hover
from allocator.report.reading import indicator_name

__all__ = [
    "AREA_COLOURS",
    "STAGE_COLOURS",
    "INDICATORS",
    "SHORT_NAMES",
    "area_name",
    "part_name",
    "box_statistics",
    "distribution_figure",
    "distribution_chart",
    "lorenz_figure",
    "lorenz_chart",
    "cv_figure",
    "cv_chart",
    "frontier_figure",
    "frontier_chart",
    "variant_labels",
    "plot_budget_frontier",
]

#: Colour of each area type in every chart and map.
AREA_COLOURS = {"urban": "#1f77b4", "town": "#ff7f0e", "rural": "#2ca02c"}
#: The same, lighter: the region before the plan.
AREA_COLOURS_BEFORE = {"urban": "#a6c8e4", "town": "#ffc999", "rural": "#a9dba9"}
#: Colours of successive stages (before, step 1, ...) or variants, in turn.
STAGE_COLOURS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: Colour of each indicator.
INDICATOR_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
#: The seven indicators of the 2017 standard, in the standard's order.
INDICATORS = (
    "qualified_per_100",
    "backbone_per_100",
    "pe_arts_per_100",
    "floor_m2_per_pupil",
    "sports_m2_per_pupil",
    "equipment_yuan_per_pupil",
    "multimedia_per_100",
)
#: Short English labels of the seven indicators (the report's tables use them).
SHORT_NAMES = {
    "qualified_per_100": "qualified /100",
    "backbone_per_100": "backbone /100",
    "pe_arts_per_100": "PE+arts /100",
    "floor_m2_per_pupil": "floor m²/pupil",
    "sports_m2_per_pupil": "sports m²/pupil",
    "equipment_yuan_per_pupil": "equipment ¥/pupil",
    "multimedia_per_100": "multimedia /100",
}
_RED = "#b42318"
#: Points a Lorenz curve is drawn through at most (a large region has thousands of schools).
_CURVE_POINTS = 201


def _indicators(parts: pd.DataFrame) -> list[str]:
    return [k for k in INDICATORS if f"{k}_share" in parts.columns]


def area_name(words: Words, area: str) -> str:
    """An area type (urban, town, rural) in the words' language; any other value as it is.

    Examples
    --------
    >>> area_name(Words("zh"), "rural"), area_name(Words("zh"), "other")
    ('乡村', 'other')
    """
    return words(f"chart.area.{area}") if area in AREA_COLOURS else str(area)


def part_name(words: Words, part: str) -> str:
    """A school part (primary, junior) in the words' language; any other value as it is.

    Examples
    --------
    >>> part_name(Words("zh"), "junior"), part_name(Words("en"), "senior")
    ('初中', 'senior')
    """
    return words(f"chart.part.{part}") if part in ("primary", "junior") else str(part)


def box_statistics(values: np.ndarray) -> tuple[float, float, float, float, float]:
    """A box plot's five figures: whisker ends (the furthest values within 1.5 times the
    interquartile range of the quartiles), quartiles and median.

    The report sends these five figures per box to the browser, not every school's value.

    Examples
    --------
    >>> [round(v, 2) for v in box_statistics(np.array([1.0, 2, 3, 4, 100]))]
    [1.0, 2.0, 3.0, 4.0, 4.0]
    """
    q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75])
    reach = 1.5 * (q3 - q1)
    low = float(values[values >= q1 - reach].min())
    high = float(values[values <= q3 + reach].max())
    return low, float(q1), float(median), float(q3), high


# --------------------------------------------------------------------------- by area type
def distribution_figure(stages: Sequence[str], measures, words: Words) -> go.Figure:
    """Box plots of indicator ÷ threshold by area type, first stage (light) and last stage.

    Parameters
    ----------
    stages : sequence of str
        Stage names (``"before"``, then each step).
    measures : sequence of allocator.results.Measures
        One per stage, each with its ``parts`` table.
    words : allocator.i18n.Words

    Returns
    -------
    plotly.graph_objects.Figure
        Six box traces: each area type before and after.
    """
    first, last = measures[0].parts, measures[-1].parts
    indicators = _indicators(last)
    fig = go.Figure()
    for area in AREA_COLOURS:
        for s, (stage, parts) in enumerate(((stages[0], first), (stages[-1], last))):
            sub = parts[(parts["area_type"] == area) & parts["in_scope"].astype(bool)]
            names, stats = [], []
            for k in indicators:
                values = sub[f"{k}_share"].dropna().to_numpy(float)
                if len(values):
                    names.append(indicator_name(k, words, short=True))
                    stats.append(box_statistics(values))
            colour = (AREA_COLOURS if s else AREA_COLOURS_BEFORE)[area]
            columns = list(zip(*stats, strict=True)) if stats else [[]] * 5
            fig.add_trace(
                go.Box(
                    x=names,
                    lowerfence=columns[0],
                    q1=columns[1],
                    median=columns[2],
                    q3=columns[3],
                    upperfence=columns[4],
                    name=f"{area_name(words, area)} · {stage}",
                    legendgroup=area,
                    offsetgroup=f"{area}-{s}",
                    marker_color=colour,
                    fillcolor=colour,
                    line={"color": "#444" if s else "#888", "width": 1},
                )
            )
    fig.add_hline(y=1, line={"color": _RED, "dash": "dash", "width": 1.2})
    base_layout(fig, boxmode="group", boxgroupgap=0.25)
    every = np.concatenate(
        [p[f"{k}_share"].dropna().to_numpy(float) for p in (first, last) for k in indicators]
        or [np.ones(1)]
    )
    top = float(np.clip(np.quantile(every, 0.98) * 1.15, 1.3, 4.0))
    fig.update_yaxes(title=words("chart.share_of_threshold"), tickformat=".0%", range=[0, top])
    return fig


def distribution_chart(stages: Sequence[str], measures, words: Words) -> str:
    """:func:`distribution_figure` for the page."""
    return figure_html(distribution_figure(stages, measures, words), height=480)


# --------------------------------------------------------------------------- Lorenz
def _lorenz(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    pupils = np.concatenate([[0], np.cumsum(w)]) / w.sum()
    resource = np.concatenate([[0], np.cumsum(v * w)]) / max((v * w).sum(), 1e-300)
    gini_value = 1 - np.sum((pupils[1:] - pupils[:-1]) * (resource[1:] + resource[:-1]))
    return pupils, resource, float(gini_value)


def lorenz_figure(stages: Sequence[str], measures, words: Words) -> go.Figure:
    """Lorenz curves over pupils of one indicator at a time (buttons choose it), first vs last stage.

    Parameters and the figure as :func:`distribution_figure`; two traces per indicator, the
    legend naming each curve's Gini.
    """
    first, last = measures[0].parts, measures[-1].parts
    indicators = _indicators(last)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"color": "#aaa", "width": 1},
            name=words("chart.lorenz.equality"),
            hoverinfo="skip",
        )
    )
    owner = []
    for i, k in enumerate(indicators):
        for s, (stage, parts) in enumerate(((stages[0], first), (stages[-1], last))):
            ok = parts[f"{k}_share"].notna() & (parts["pupils"] > 0)
            if ok.sum() < 2:
                continue
            values = parts.loc[ok, k].to_numpy(float)
            weights = parts.loc[ok, "pupils"].to_numpy(float)
            x, y, _ = _lorenz(values, weights)
            if len(x) > _CURVE_POINTS:  # the curve drawn through a fixed number of points
                grid = np.linspace(0, 1, _CURVE_POINTS)
                x, y = grid, np.interp(grid, x, y)
            g = gini(values, weights=weights)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    visible=i == 0,
                    line={"color": STAGE_COLOURS[1] if s else STAGE_COLOURS[0], "width": 2},
                    name=words("chart.gini", stage=stage, gini=f"{g:.2f}"),
                    hovertemplate=hover(words("chart.lorenz.hover"))
                    + "<extra>%{fullData.name}</extra>",
                )
            )
            owner.append(i)
    buttons = [
        {
            "label": hover(indicator_name(k, words, short=True)),
            "method": "update",
            "args": [{"visible": [True] + [o == i for o in owner]}],
        }
        for i, k in enumerate(indicators)
    ]
    base_layout(fig)
    fig.update_layout(
        updatemenus=[{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.18, "yanchor": "top"}],
        margin={"t": 110},
    )
    fig.update_xaxes(title=words("chart.lorenz.pupils"), tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=words("chart.lorenz.resource"), tickformat=".0%", range=[0, 1])
    return fig


def lorenz_chart(stages: Sequence[str], measures, words: Words) -> str:
    """:func:`lorenz_figure` for the page."""
    return figure_html(lorenz_figure(stages, measures, words), height=480)


# --------------------------------------------------------------------------- CV by county
def _county_tick(words: Words, county: str, passes: bool) -> str:
    mark = (
        f"<span style='color:#1a7f37'>✓ {hover(words('word.passes'))}</span>"
        if passes
        else f"<span style='color:{_RED}'>✗ {hover(words('word.fails'))}</span>"
    )
    return f"{hover(county)} {mark}"


def cv_figure(stages: Sequence[str], measures, standard, words: Words) -> go.Figure:
    """Each county's CV of every indicator against the limit, primary and junior side by side.

    A county's label says whether all its CVs are within the limit (✓) or not (✗); the shaded band
    right of the red line is over the limit. Filled dots: the last stage, one colour per
    indicator (the legend toggles them); grey rings: the first stage.

    Parameters
    ----------
    stages, measures, words
        As :func:`distribution_figure`; each ``measures[i].cv`` is a table of county, part,
        indicator, cv, limit, within_limit.
    standard : allocator.standards.Standard
        Its ``cv_limit`` per part.
    """
    first, last = measures[0].cv, measures[-1].cv
    parts = [p for p in ("primary", "junior") if (last["part"] == p).any()] or ["primary"]
    fig = make_subplots(
        rows=1,
        cols=len(parts),
        horizontal_spacing=0.18,
    )
    indicators = [k for k in INDICATORS if k in set(last["indicator"])]
    top = max(float(np.nanmax(pd.concat([first["cv"], last["cv"]]), initial=0)), 0.05) * 1.1
    for c, part in enumerate(parts, start=1):
        now, then = last[last["part"] == part], first[first["part"] == part]
        counties = list(dict.fromkeys(now["county"]))
        limit = standard.cv_limit.get(part)
        top_part = max(top, (limit or 0) * 1.15)
        ticks = [
            _county_tick(words, k, bool(now.loc[now["county"] == k, "within_limit"].all()))
            for k in counties
        ]
        hv = hover(words("chart.cv.hover"))
        fig.add_trace(
            go.Scatter(
                x=then["cv"],
                y=then["county"],
                mode="markers",
                marker={"symbol": "circle-open", "color": "#999", "size": 9},
                name=stages[0],
                legendgroup="first",
                showlegend=c == 1,
                text=[hover(indicator_name(k, words, short=True)) for k in then["indicator"]],
                hovertemplate=hv + f"<extra>{hover(stages[0])}</extra>",
            ),
            row=1,
            col=c,
        )
        for i, k in enumerate(indicators):
            sub = now[now["indicator"] == k]
            fig.add_trace(
                go.Scatter(
                    x=sub["cv"],
                    y=sub["county"],
                    mode="markers",
                    marker={
                        "color": INDICATOR_COLOURS[i % 7],
                        "size": 10,
                        "line": {
                            "width": 1.5,
                            "color": [
                                _RED if v else "white" for v in ~sub["within_limit"].astype(bool)
                            ],
                        },
                    },
                    name=indicator_name(k, words, short=True),
                    legendgroup=k,
                    showlegend=c == 1,
                    text=[hover(indicator_name(k, words, short=True))] * len(sub),
                    hovertemplate=hv + f"<extra>{hover(stages[-1])}</extra>",
                ),
                row=1,
                col=c,
            )
        if limit is not None:
            fig.add_vrect(
                x0=limit,
                x1=top_part,
                fillcolor="#fdecea",
                line_width=0,
                layer="below",
                row=1,
                col=c,
            )
            fig.add_vline(x=limit, line={"color": _RED, "dash": "dash", "width": 1.5}, row=1, col=c)
            fig.add_annotation(
                x=limit,
                y=1,
                yref="y domain" if c == 1 else f"y{c} domain",
                xref="x" if c == 1 else f"x{c}",
                text=hover(words("chart.cv.limit", limit=f"{limit:g}")),
                showarrow=False,
                xanchor="left",
                yanchor="bottom",
                font={"color": _RED, "size": 11},
            )
        fig.update_xaxes(
            range=[0, top_part],
            title=f"{words('term.cv')} · {words(f'chart.part.{part}')}",
            row=1,
            col=c,
        )
        fig.update_yaxes(
            tickmode="array",
            tickvals=counties,
            ticktext=ticks,
            autorange="reversed",
            row=1,
            col=c,
        )
    rows = max(last.groupby("part")["county"].nunique().max() if len(last) else 1, 1)
    base_layout(fig, height=int(max(360, 220 + 34 * rows)))
    fig.update_layout(margin={"t": 120, "l": 130})
    return fig


def cv_chart(stages: Sequence[str], measures, standard, words: Words) -> str:
    """:func:`cv_figure` for the page."""
    return figure_html(cv_figure(stages, measures, standard, words))


# --------------------------------------------------------------------------- budget frontier
_FRONTIER_COLUMNS = ("budget", "parts_passing", "parts_in_scope", "max_shortfall")


def _check_frontier(frontier: pd.DataFrame) -> None:
    missing = [c for c in _FRONTIER_COLUMNS if c not in frontier]
    if missing:
        raise InputError(
            f"frontier table lacks column(s) {', '.join(missing)}; pass budget_frontier(...)",
            table="frontier",
            column=missing[0],
        )


def frontier_figure(frontier: pd.DataFrame, words: Words) -> go.Figure:
    """School parts passing against the budget (yuan), and the largest shortfall left.

    Parameters
    ----------
    frontier : pandas.DataFrame
        A :func:`~allocator.planners.budget.budget_frontier` table.
    words : allocator.i18n.Words

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> f = pd.DataFrame({"budget": [0, 1e6], "parts_passing": [3, 5], "parts_in_scope": [8, 8],
    ...                   "max_shortfall": [0.6, 0.4]})
    >>> [int(v) for v in frontier_figure(f, Words("en")).data[0].y]
    [3, 5]
    """
    _check_frontier(frontier)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    budget = frontier["budget"].to_numpy(float)
    scope = frontier["parts_in_scope"].to_numpy(float)
    fig.add_trace(
        go.Scatter(
            x=budget,
            y=frontier["parts_passing"],
            customdata=scope,
            mode="lines+markers",
            line={"color": STAGE_COLOURS[1], "width": 2.5},
            name=words("chart.frontier.passing"),
            hovertemplate=hover(words("chart.frontier.hover_passing")) + "<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=budget,
            y=frontier["max_shortfall"],
            mode="lines+markers",
            line={"color": _RED, "width": 1.5, "dash": "dot"},
            marker={"symbol": "square"},
            name=words("chart.frontier.shortfall"),
            hovertemplate=hover(words("chart.frontier.hover_shortfall")) + "<extra></extra>",
        ),
        secondary_y=True,
    )
    if len(scope):
        fig.add_hline(y=float(scope.max()), line={"color": "#999", "dash": "dash", "width": 1})
    base_layout(fig, hovermode="x unified")
    fig.update_xaxes(title=words("chart.frontier.budget"), tickformat=",.0f", ticksuffix=" ¥")
    fig.update_yaxes(title=words("chart.frontier.passing"), rangemode="tozero", secondary_y=False)
    fig.update_yaxes(
        title=words("chart.frontier.shortfall"),
        rangemode="tozero",
        showgrid=False,
        secondary_y=True,
    )
    return fig


def frontier_chart(frontier: pd.DataFrame, words: Words) -> str:
    """:func:`frontier_figure` for the page."""
    return figure_html(frontier_figure(frontier, words), height=420)


def variant_labels(variants: Sequence[str]) -> list[str]:
    """Each variant's name as a matplotlib chart can draw it (``V1``, ... if no CJK font is found).

    Examples
    --------
    >>> variant_labels(["minimax"])
    ['minimax']
    """
    return [chart_label(v, f"V{i + 1}") for i, v in enumerate(variants)]


def plot_budget_frontier(frontier: pd.DataFrame, path_or_ax, words: Words | None = None):
    """Plot a :func:`~allocator.planners.budget.budget_frontier` table with matplotlib: parts
    passing and largest shortfall against budget.

    The report shows the same as an interactive chart (:func:`frontier_figure`).

    Parameters
    ----------
    frontier : pandas.DataFrame
    path_or_ax : str, Path or matplotlib Axes
        A PNG/SVG/PDF file to write (drawn off-screen with the Agg backend), or axes to draw on.
        The file is written aside and moved into place whole; an existing file is never replaced,
        except a PNG chart allocator drew earlier (:func:`allocator.outputs.check_target`).
    words : allocator.i18n.Words, optional
        The labels' language (English if not given; Chinese needs a CJK font, see
        :func:`allocator.report.fonts.cjk_font`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import tempfile, os
    >>> f = pd.DataFrame({"budget": [0, 1e6], "parts_passing": [3, 5], "parts_in_scope": [8, 8],
    ...                   "max_shortfall": [0.6, 0.4]})
    >>> out = os.path.join(tempfile.mkdtemp(), "frontier.png")
    >>> _ = plot_budget_frontier(f, out); os.path.getsize(out) > 0
    True
    """
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _check_frontier(frontier)
    words = words if words is not None else Words("en")
    if isinstance(path_or_ax, Axes):
        ax, path = path_or_ax, None
        fig = ax.figure
    elif isinstance(path_or_ax, str | Path):
        fig = Figure(figsize=(7, 4.2))
        FigureCanvasAgg(fig)
        ax, path = fig.add_subplot(1, 1, 1), Path(path_or_ax)
    else:
        raise InputError(
            f"path_or_ax={path_or_ax!r}; expected a file path or matplotlib Axes",
            table="frontier",
        )
    with matplotlib.rc_context(font_rc()):
        _draw_frontier(ax, frontier, words)
        if path is not None:
            fig.tight_layout()
            with output_file(path, "chart") as tmp:
                png = path.suffix.lower() == ".png"
                fig.savefig(tmp, dpi=120, metadata=png_metadata() if png else None)
    return fig


def _draw_frontier(ax, frontier: pd.DataFrame, words: Words) -> None:
    millions = frontier["budget"].to_numpy(float) / 1e6
    passing = frontier["parts_passing"].to_numpy(float) / np.maximum(
        frontier["parts_in_scope"].to_numpy(float), 1
    )
    ax.plot(millions, 100 * passing, marker="o", color="tab:blue")
    ax.set_xlabel(words("chart.frontier.budget_millions"))
    ax.set_ylabel(words("chart.frontier.passing_percent"), color="tab:blue")
    ax.set_ylim(0, 100)
    twin = ax.twinx()
    twin.plot(millions, frontier["max_shortfall"].to_numpy(float), marker="s", color="tab:red")
    twin.set_ylabel(words("chart.frontier.shortfall"), color="tab:red")
    twin.set_ylim(bottom=0)
    ax.set_title(words("chart.frontier.title"))
    ax.grid(alpha=0.3)
