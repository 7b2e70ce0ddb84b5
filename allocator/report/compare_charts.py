"""The charts of a comparison of variants: cost and compliance, CV, rural/urban ratios.

Each is a plotly figure (:func:`comparison_figures`) shown on the page by
:func:`comparison_charts`; bars are grouped by measure, one colour per variant, the region before
any plan in grey, legends above the plot, hover with each value and its unit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.i18n import Words
from allocator.report.charts import STAGE_COLOURS
from allocator.report.interactive import base_layout, figure_html, hover, words_of
from allocator.report.reading import indicator_name

__all__ = ["comparison_figures", "comparison_charts"]

_RED = "#b42318"


class _VariantBars:
    """A comparison's measure table with each variant's colour."""

    def __init__(self, comparison, words: Words):
        self.comparison = comparison
        self.words = words
        self.table = comparison.table.set_index("measure")
        self.variants = list(comparison.variants)
        self.colours = [
            STAGE_COLOURS[(i + 1) % len(STAGE_COLOURS)] for i in range(len(self.variants))
        ]

    def value(self, key, v) -> float:
        """The table's value of measure ``key`` for variant (or ``"before"``) ``v``; NaN if none."""
        try:
            return float(self.table.loc[key, v])
        except (KeyError, TypeError, ValueError):
            return np.nan

    def grouped_bars(self, fig, keys, hovertemplate, **where) -> None:
        """One group of bars per measure key: 'before' in grey, then each variant."""
        names = [hover(indicator_name(k.split(".")[-1], self.words, short=True)) for k in keys]
        for j, col in enumerate(["before", *self.variants]):
            first = col == "before"
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=[self.value(k, col) for k in keys],
                    name=self.words("word.before") if first else col,
                    marker_color="#bbbbbb" if first else self.colours[j - 1],
                    legendgroup=col,
                    showlegend=where.get("col", 1) == 1,
                    hovertemplate=hovertemplate + f"<extra>{hover(col)}</extra>",
                ),
                **where,
            )

    def limit(self, part: str):
        """The CV limit of ``part`` in the first variant's standard (None if none)."""
        result = self.comparison.results[self.variants[0]]
        return result.standard.cv_limit.get(part)


def _cost_figure(bars: _VariantBars) -> go.Figure:
    w = bars.words
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    names = [hover(v) for v in bars.variants]
    fig.add_trace(
        go.Bar(
            x=names,
            y=[bars.value("cost_yuan", v) for v in bars.variants],
            marker_color=bars.colours,
            showlegend=False,
            hovertemplate="%{x}: %{y:,.0f} " + hover(w("chart.unit.yuan")) + "<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[bars.value("parts_compliant", v) for v in bars.variants],
            marker_color=bars.colours,
            showlegend=False,
            hovertemplate="%{x}: %{y:,.0f} " + hover(w("chart.unit.parts")) + "<extra></extra>",
        ),
        row=1,
        col=2,
    )
    before = bars.value("parts_compliant", "before")
    if np.isfinite(before):
        fig.add_hline(
            y=before,
            line={"color": "#777", "dash": "dash"},
            annotation_text=hover(w("chart.compare.before_line", n=f"{before:,.0f}")),
            annotation_position="top left",
            row=1,
            col=2,
        )
    base_layout(fig)
    fig.update_xaxes(title=w("chart.compare.cost"), row=1, col=1)
    fig.update_xaxes(title=w("chart.compare.compliance"), row=1, col=2)
    fig.update_yaxes(title=w("chart.unit.yuan"), tickformat=",.0f", row=1, col=1)
    fig.update_yaxes(title=w("chart.unit.parts"), rangemode="tozero", row=1, col=2)
    return fig


def _cv_figure(bars: _VariantBars) -> go.Figure | None:
    w, index = bars.words, bars.table.index
    parts = [p for p in ("primary", "junior") if any(k.startswith(f"cv_worst.{p}.") for k in index)]
    if not parts:
        return None
    fig = make_subplots(rows=1, cols=len(parts))
    for c, part in enumerate(parts, start=1):
        keys = [k for k in index if k.startswith(f"cv_worst.{part}.")]
        bars.grouped_bars(fig, keys, "%{x}: " + hover(w("term.cv")) + " %{y:.3f}", row=1, col=c)
        fig.update_xaxes(title=w(f"chart.part.{part}"), row=1, col=c)
        limit = bars.limit(part)
        if limit is not None:
            fig.add_hline(
                y=limit,
                line={"color": _RED, "dash": "dash", "width": 1.5},
                annotation_text=hover(w("chart.cv.limit", limit=f"{limit:g}")),
                annotation_font_color=_RED,
                annotation_position="top right",
                row=1,
                col=c,
            )
    base_layout(fig, barmode="group")
    fig.update_yaxes(title=w("term.cv"), rangemode="tozero")
    fig.update_xaxes(tickangle=-30)
    return fig


def _ratio_figure(bars: _VariantBars) -> go.Figure | None:
    w = bars.words
    keys = [k for k in bars.table.index if k.startswith("rural_urban.")]
    if not keys:
        return None
    fig = go.Figure()
    bars.grouped_bars(fig, keys, "%{x}: %{y:.2f}")
    fig.add_hline(y=1, line={"color": "#333", "width": 1})
    base_layout(fig, barmode="group")
    fig.update_yaxes(title=w("chart.compare.ratio_axis"), rangemode="tozero")
    fig.update_xaxes(tickangle=-30)
    return fig


def comparison_figures(comparison, words: Words) -> list[tuple[str, str, go.Figure]]:
    """The figures of a comparison, each with its heading and its explanation.

    Parameters
    ----------
    comparison : allocator.results.Comparison
    words : allocator.i18n.Words

    Returns
    -------
    list of (title, note, plotly.graph_objects.Figure)
    """
    bars = _VariantBars(comparison, words)
    out = [
        (words("chart.compare.cost_title"), words("chart.compare.cost_note"), _cost_figure(bars))
    ]
    cv = _cv_figure(bars)
    if cv is not None:
        out.append((words("chart.compare.cv_title"), words("chart.compare.cv_note"), cv))
    ratio = _ratio_figure(bars)
    if ratio is not None:
        out.append((words("chart.compare.ratio_title"), words("chart.compare.ratio_note"), ratio))
    return out


def comparison_charts(comparison, words: Words | None = None) -> list[tuple[str, str, str]]:
    """The charts of a comparison report: cost and compliance, CV, rural/urban ratios.

    Parameters
    ----------
    comparison : allocator.results.Comparison
    words : allocator.i18n.Words, optional
        The language (the comparison's scenario's, if not given).

    Returns
    -------
    list of (title, note, html)
        Each chart's heading, its explanation and its ``<div>``.
    """
    words = words if words is not None else words_of(comparison)
    return [
        (title, note, figure_html(fig, height=430))
        for title, note, fig in comparison_figures(comparison, words)
    ]
