"""The report of a sweep: the tasks' measures against each axis, the budget frontier across
counties, the robustness of each decision over forecast draws and fan charts of compliance and cost.

:func:`render_sweep` reads plain tables (the task table of :func:`allocator.sweep.store.read_tasks`
and the decision shares of :mod:`allocator.sweep.robust`), so the report knows nothing of how the
sweep ran. Each chart is a plotly figure (``*_figure``, for tests and for users who show it their
own way) placed on the page by :func:`allocator.report.interactive.figure_html`; the page inlines
plotly.js once and works offline. Every word comes from :class:`allocator.i18n.Words`; names from
the data (counties, decisions, axis values) are escaped by :func:`~allocator.report.interactive.hover`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.i18n import LANGUAGES, Words
from allocator.report.charts import STAGE_COLOURS
from allocator.report.interactive import base_layout, figure_html, hover
from allocator.report.tables import escape, headline_label, html_table, page

__all__ = [
    "FAN_QUANTILES",
    "measure_name",
    "axis_figure",
    "frontier_figure",
    "fan_figure",
    "robustness_figure",
    "render_sweep",
]

#: The quantiles of the draws a fan chart draws: the band's edges and the median line.
FAN_QUANTILES = (0.1, 0.5, 0.9)
_COMPLIANCE = ("compliant_share", "parts_compliant")
_COST = ("cost_yuan",)
#: Measures with a label of their own (``sweep.measure.<key>``); others show their key.
_NAMED = ("compliant_share", "parts_compliant", "cost_yuan")
_BLUE = "#1f77b4"
_RED = "#b42318"
_GREEN = "#59a14f"
#: Decisions the robustness chart shows at most (the table below it lists all).
_TOP = 30


def measure_name(words: Words, key: str, steps: Sequence[str] = ()) -> str:
    """A measure's label in the words' language (the key itself if it has none); a figure of
    one of the scenario's ``steps`` (``<step>.<headline key>``) is named with its step.

    Examples
    --------
    >>> measure_name(Words("zh"), "cost_yuan"), measure_name(Words("en"), "cv.primary")
    ('投入（元）', 'cv.primary')
    >>> measure_name(Words("zh"), "kindergartens.new_places", steps=["kindergartens"])
    'kindergartens：新增学位'
    """
    step, _, figure = key.rpartition(".")
    if key not in _NAMED and step in steps:
        return words("sweep.step_measure", step=step, figure=headline_label(figure, words))
    return words(f"sweep.measure.{key}") if key in _NAMED else key


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"]


def _ticks(measure: str) -> dict:
    """A measure's tick format: shares as percentages, others as plotly chooses."""
    return {"tickformat": ".0%"} if measure == "compliant_share" else {}


def _hover_line(label: str, field: str) -> str:
    """One line of a hover template: an escaped label, then a plotly field."""
    return f"{hover(label)}: {field}"


# --------------------------------------------------------------------------- measures by axis
def _axis_measures(table: pd.DataFrame, axes: Sequence[str], measures: Sequence[str]):
    axes = [a for a in axes if a != "draw"]
    ok = _ok(table)
    kept = [m for m in measures if m in ok and _numeric(ok[m].dropna())][:6]
    return axes, kept, ok


def axis_figure(
    table: pd.DataFrame,
    axes: Sequence[str],
    measures: Sequence[str],
    words: Words,
    steps: Sequence[str] = (),
) -> go.Figure | None:
    """Small multiples: each measure (rows) against each axis (columns), the mean over the rest.

    Only tasks with a plan (``status == "ok"``) count; the draws are averaged. None when there is
    nothing to draw (no axis but the draws, no numeric measure, no task with a plan). ``steps``:
    the scenario's step names (see :func:`measure_name`).

    Examples
    --------
    >>> t = pd.DataFrame({"b": [1, 1, 2], "status": "ok", "cost_yuan": [1.0, 3.0, 5.0]})
    >>> [float(v) for v in axis_figure(t, ["b"], ["cost_yuan"], Words("en")).data[0].y]
    [2.0, 5.0]
    """
    axes, kept, ok = _axis_measures(table, axes, measures)
    if not axes or not kept or ok.empty:
        return None
    fig = make_subplots(
        rows=len(kept), cols=len(axes), shared_xaxes="columns", vertical_spacing=0.06
    )
    for i, m in enumerate(kept):
        label = measure_name(words, m, steps)
        for j, a in enumerate(axes):
            means = ok.groupby(a, sort=True)[m].mean()
            numeric = _numeric(pd.Series(means.index))
            x = means.index.to_numpy(float) if numeric else [hover(v) for v in means.index]
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=means.to_numpy(float),
                    mode="lines+markers",
                    line={"color": STAGE_COLOURS[1 + i % (len(STAGE_COLOURS) - 1)]},
                    name=hover(label),
                    legendgroup=m,
                    showlegend=j == 0,
                    hovertemplate=f"{hover(a)} = %{{x}}<br>"
                    + _hover_line(label, "%{y:,.4g}")
                    + "<extra></extra>",
                ),
                row=i + 1,
                col=j + 1,
            )
            if i == len(kept) - 1:
                fig.update_xaxes(title=hover(a), row=i + 1, col=j + 1)
            if not numeric:
                fig.update_xaxes(type="category", row=i + 1, col=j + 1)
            if j == 0:
                fig.update_yaxes(title=hover(label), row=i + 1, col=j + 1, **_ticks(m))
    base_layout(fig, height=int(150 + 200 * len(kept)))
    return fig


# --------------------------------------------------------------------------- budget frontier
def _budget_axis(axes: Sequence[str]) -> str | None:
    return next((a for a in axes if a.rsplit(".", 1)[-1] == "budget"), None)


def frontier_figure(table: pd.DataFrame, axes: Sequence[str], words: Words) -> go.Figure | None:
    """Compliance against the budget (10 000 yuan), one line per county: the mean over the other
    axes and the draws, tasks with a plan only. None without a budget axis and a county axis.

    Examples
    --------
    >>> t = pd.DataFrame({"county": ["A", "A", "B"], "steps.budget.budget": [1e6, 2e6, 1e6],
    ...                   "status": "ok", "compliant_share": [0.5, 0.75, 0.25]})
    >>> fig = frontier_figure(t, ["steps.budget.budget", "county"], Words("en"))
    >>> [(d.name, [float(v) for v in d.x], [float(v) for v in d.y]) for d in fig.data]
    [('A', [100.0, 200.0], [0.5, 0.75]), ('B', [100.0], [0.25])]
    """
    budget = _budget_axis(axes)
    measure = next((m for m in _COMPLIANCE if m in table), None)
    ok = _ok(table)
    if budget is None or "county" not in axes or measure is None or ok.empty:
        return None
    label, money = measure_name(words, measure), words("sweep.budget_axis")
    fig = go.Figure()
    for k, (county, group) in enumerate(ok.groupby("county", sort=True)):
        line = group.groupby(budget, sort=True)[measure].mean()
        fig.add_trace(
            go.Scatter(
                x=line.index.to_numpy(float) / 1e4,
                y=line.to_numpy(float),
                mode="lines+markers",
                name=hover(county),
                line={"color": STAGE_COLOURS[1 + k % (len(STAGE_COLOURS) - 1)]},
                hovertemplate=f"{hover(county)}<br>"
                + _hover_line(money, "%{x:,.0f}")
                + "<br>"
                + _hover_line(label, "%{y:,.4g}")
                + "<extra></extra>",
            )
        )
    base_layout(fig)
    fig.update_xaxes(title=hover(money), tickformat=",.0f")
    fig.update_yaxes(title=hover(label), rangemode="tozero", **_ticks(measure))
    return fig


# --------------------------------------------------------------------------- fan charts
def _fan_axis(ok: pd.DataFrame, axes: Sequence[str]) -> str | None:
    return next((a for a in axes if a not in ("draw", "county") and _numeric(ok[a])), None)


def _fan_traces(fig, ok: pd.DataFrame, x_axis: str, m: str, col: int, words: Words) -> None:
    """The 10-90 % band (two edges, filled between) and the median line of measure ``m``."""
    q = ok.groupby(x_axis, sort=True)[m].quantile(list(FAN_QUANTILES)).unstack()
    x = q.index.to_numpy(float)
    label, band = measure_name(words, m), words("sweep.band")
    where = {"row": 1, "col": col}
    for edge, fill in ((FAN_QUANTILES[0], None), (FAN_QUANTILES[2], "tonexty")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=q[edge].to_numpy(float),
                mode="lines",
                line={"width": 0, "color": _BLUE},
                fill=fill,
                fillcolor="rgba(31,119,180,0.25)",
                name=hover(band),
                meta=f"q{round(edge * 100)}",
                legendgroup="band",
                showlegend=fill is not None and col == 1,
                hovertemplate=_hover_line(f"{label} {edge:.0%}", "%{y:,.4g}") + "<extra></extra>",
            ),
            **where,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=q[FAN_QUANTILES[1]].to_numpy(float),
            mode="lines+markers",
            line={"color": "#1f3b5c", "width": 2},
            name=hover(words("sweep.median")),
            meta="median",
            legendgroup="median",
            showlegend=col == 1,
            hovertemplate=f"{hover(x_axis)} = %{{x:,.4g}}<br>"
            + _hover_line(f"{label} · {words('sweep.median')}", "%{y:,.4g}")
            + "<extra></extra>",
        ),
        **where,
    )
    fig.update_xaxes(title=hover(x_axis), **where)


def fan_figure(table: pd.DataFrame, axes: Sequence[str], words: Words) -> go.Figure | None:
    """Fan charts over the forecast draws: the median (line) and 10-90 % of the draws (band) of
    compliance and cost against the first numeric axis; a histogram of the draws when the sweep
    has no such axis. None without draws or without these measures.

    Traces carry ``meta`` ``"q10"``, ``"median"`` and ``"q90"`` (plain quantiles of the tasks with
    a plan, interpolated linearly as :meth:`pandas.Series.quantile` does).

    Examples
    --------
    >>> t = pd.DataFrame({"b": [1, 1, 1, 2], "draw": [0, 1, 2, 0], "status": "ok",
    ...                   "cost_yuan": [1.0, 2.0, 9.0, 4.0]})
    >>> fig = fan_figure(t, ["b", "draw"], Words("en"))
    >>> [float(v) for d in fig.data if d.meta == "median" for v in d.y]
    [2.0, 4.0]
    """
    if "draw" not in axes:
        return None
    ok = _ok(table)
    shown = [m for m in (*_COMPLIANCE[:1], *_COST) if m in ok and ok[m].notna().any()]
    if not shown or ok.empty:
        return None
    x_axis = _fan_axis(ok, axes)
    fig = make_subplots(rows=1, cols=len(shown), horizontal_spacing=0.12)
    for c, m in enumerate(shown, start=1):
        label = measure_name(words, m)
        if x_axis is None:
            fig.add_trace(
                go.Histogram(
                    x=ok[m].dropna().to_numpy(float),
                    nbinsx=20,
                    marker_color=_BLUE,
                    name=hover(label),
                    meta="histogram",
                    showlegend=False,
                    hovertemplate=_hover_line(label, "%{x}")
                    + "<br>"
                    + _hover_line(words("sweep.draws_count"), "%{y}")
                    + "<extra></extra>",
                ),
                row=1,
                col=c,
            )
            fig.update_xaxes(title=hover(label), row=1, col=c)
            fig.update_yaxes(title=hover(words("sweep.draws_count")), row=1, col=c)
            continue
        _fan_traces(fig, ok, x_axis, m, c, words)
        fig.update_yaxes(title=hover(label), row=1, col=c, **_ticks(m))
    return base_layout(fig, height=420)


# --------------------------------------------------------------------------- robustness
def robustness_figure(
    shares: pd.DataFrame | None, robust: float | None, words: Words
) -> go.Figure | None:
    """Horizontal bars: the share of draws taking each decision (the mean over the settings of
    the other axes), the 30 most frequent, the ``robust`` threshold as a dashed line.

    Examples
    --------
    >>> s = pd.DataFrame({"decision": ["close a S1", "close a S1", "buy b S2"],
    ...                   "share": [1.0, 0.5, 0.25]})
    >>> fig = robustness_figure(s, 0.8, Words("en"))
    >>> list(fig.data[0].y), [float(v) for v in fig.data[0].x]
    (['close a S1', 'buy b S2'], [0.75, 0.25])
    """
    if shares is None or shares.empty:
        return None
    mean = shares.groupby("decision", sort=True)["share"].mean()
    top = mean.sort_values(ascending=False, kind="stable").head(_TOP)
    label = words("sweep.share_of_draws")
    fig = go.Figure(
        go.Bar(
            x=top.to_numpy(float),
            y=[hover(d) for d in top.index],
            orientation="h",
            marker_color=_GREEN,
            name=hover(label),
            hovertemplate="%{y}<br>" + _hover_line(label, "%{x:.0%}") + "<extra></extra>",
        )
    )
    base_layout(fig, height=int(140 + 24 * len(top)), showlegend=False)
    fig.update_xaxes(title=hover(label), range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(autorange="reversed", type="category")
    if robust is not None:
        fig.add_vline(x=robust, line={"color": _RED, "dash": "dash", "width": 1.5})
        fig.add_annotation(
            x=robust,
            y=1,
            yref="paper",
            yanchor="bottom",
            xanchor="left",
            showarrow=False,
            text=hover(words("sweep.robust_line", share=f"{robust:.0%}")),
            font={"color": _RED, "size": 11},
        )
    return fig


# --------------------------------------------------------------------------- the page
def _section(fig: go.Figure | None, heading: str, note: str, w: Words, height=None) -> str:
    if fig is None:
        return ""
    return f"<h2>{escape(w(heading))}</h2><p class='note'>{escape(w(note))}</p>" + figure_html(
        fig, height=height
    )


_SHARE_COLUMNS = ("decision", "kind", "step", "taken", "draws", "share")


def _headed(shares: pd.DataFrame, w) -> pd.DataFrame:
    """A shares table with its headers in the page's language (the axes keep their keys)."""
    return shares.rename(columns={c: w(f"sweep.col.{c}") for c in _SHARE_COLUMNS})


def _robustness(shares, plan, robust: float | None, w: Words) -> str:
    """The share of draws taking each decision (chart of the most frequent, table of all)."""
    if shares is None or shares.empty:
        return ""
    fig = robustness_figure(shares, robust, w)
    out = [_section(fig, "sweep.robustness", "sweep.robustness_note", w)]
    out.append(html_table(_headed(shares, w), max_rows=200))
    if robust is not None:
        out.append(f"<h2>{escape(w('sweep.robust_plan', share=f'{robust:.0%}'))}</h2>")
        out.append(f"<p class='note'>{escape(w('sweep.robust_plan_note'))}</p>")
        out.append(
            html_table(_headed(plan, w), max_rows=500)
            if plan is not None and not plan.empty
            else f"<p>{escape(w('sweep.none_robust'))}</p>"
        )
    return "".join(out)


def render_sweep(
    name: str,
    table: pd.DataFrame,
    axes: Sequence[str],
    measures: Sequence[str],
    shares: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
    robust: float | None = None,
    language: str = LANGUAGES[0],
    steps: Sequence[str] = (),
) -> str:
    """The sweep's ``report.html``: one page, interactive charts, works offline. ``steps``: the
    scenario's step names, so a step's figure kept as a measure is named in words.

    Examples
    --------
    >>> t = pd.DataFrame({"steps.budget.budget": [1e6, 2e6], "status": "ok",
    ...                   "cost_yuan": [1e6, 1.9e6], "compliant_share": [0.5, 0.7]})
    >>> html = render_sweep("demo", t, ["steps.budget.budget"], ["cost_yuan", "compliant_share"],
    ...                     language="en")
    >>> "Measures against each axis" in html and html.count("plotly-graph-div") >= 1
    True
    """
    w = Words(language)
    counts = table["status"].value_counts()
    status = ", ".join(f"{k}: {int(v):,}" for k, v in counts.items())
    body = [
        f"<h1>{escape(w('sweep.title', name=name))}</h1>",
        f"<p>{escape(w('sweep.tasks', n=f'{len(table):,}', status=status))}</p>",
        _section(
            axis_figure(table, axes, measures, w, steps), "sweep.by_axis", "sweep.by_axis_note", w
        ),
        _section(frontier_figure(table, axes, w), "sweep.frontier", "sweep.frontier_note", w, 440),
        _section(fan_figure(table, axes, w), "sweep.fans", "sweep.fans_note", w),
        _robustness(shares, plan, robust, w),
    ]
    failed = table[table["status"] != "ok"]
    if len(failed):
        body.append(f"<h2>{escape(w('sweep.failed'))}</h2>")
        body.append(html_table(failed[[c for c in (*axes, "status", "error") if c in table]], 100))
    shown = table.drop(columns=[c for c in ("decisions", "key", "position") if c in table])
    shown = shown.rename(columns={m: measure_name(w, m, steps) for m in measures if m in shown})
    body.append(f"<h2>{escape(w('sweep.all_tasks'))}</h2>" + html_table(shown, max_rows=200))
    return page(w("sweep.title", name=name), "".join(b for b in body if b), w)
