"""Interactive figures of the reports: plotly figures embedded in one page that works offline.

Every chart and map of a report is a :class:`plotly.graph_objects.Figure` turned into a ``<div>``
by :func:`figure_html` (its data inline, without the plotly.js library); :func:`plotly_script` is
the library itself, which :func:`allocator.report.tables.page` inlines once, in the page's head,
when the page holds a figure. Nothing is fetched: no CDN, no web fonts, no map tiles.

Hover texts carry names from the data (schools, counties, variants): :func:`hover` escapes them,
so a name such as ``<b>`` reads as written and never becomes markup.
"""

from __future__ import annotations

import html
import itertools
from functools import lru_cache

import plotly.graph_objects as go

from allocator.i18n import Words

__all__ = [
    "FONT_FAMILY",
    "FIGURE_CLASS",
    "figure_html",
    "plotly_script",
    "has_figure",
    "base_layout",
    "hover",
    "site_markers",
    "words_of",
]

#: The fonts figures ask the browser for, CJK first; all are system fonts (nothing is downloaded).
FONT_FAMILY = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", '
    '"WenQuanYi Zen Hei", "Helvetica Neue", Arial, sans-serif'
)
#: The class of the ``<div>`` plotly draws a figure into (how a page knows it holds a figure).
FIGURE_CLASS = "plotly-graph-div"
#: plotly's toolbar: no logo, no link to plotly's cloud; a PNG of the figure from the camera icon.
_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
_COUNTER = itertools.count(1)


def figure_html(fig: go.Figure, *, height: int | None = None, scroll_zoom: bool = False) -> str:
    """A figure as a ``<div>`` and the script that draws it, without plotly.js itself.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
    height : int, optional
        Height in pixels (the width follows the page).
    scroll_zoom : bool
        Zoom with the mouse wheel (the maps).

    Returns
    -------
    str

    Examples
    --------
    >>> text = figure_html(go.Figure(go.Bar(x=[1], y=[2])), height=200)
    >>> FIGURE_CLASS in text and "cdn" not in text.lower()
    True
    """
    if height is not None:
        fig.update_layout(height=height)
    config = dict(_CONFIG, scrollZoom=scroll_zoom)
    div = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config=config,
        div_id=f"figure-{next(_COUNTER)}",
    )
    return f"<div class='figure'>{div}</div>"


@lru_cache(maxsize=1)
def _plotlyjs() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def plotly_script() -> str:
    """plotly.js, inline, as one ``<script>`` element (about 4.5 MB).

    Examples
    --------
    >>> plotly_script().startswith("<script>") and "Plotly" in plotly_script()
    True
    """
    return f"<script>{_plotlyjs()}</script>"


def has_figure(body: str) -> bool:
    """Whether a page body holds a figure of :func:`figure_html`.

    Examples
    --------
    >>> has_figure("<p>no</p>"), has_figure(figure_html(go.Figure()))
    (False, True)
    """
    return FIGURE_CLASS in body


def base_layout(fig: go.Figure, **layout) -> go.Figure:
    """The look every figure shares: the page's fonts, a light grid, the legend above the plot.

    The legend sits above the plotting area, never over bars or points. Figures have no title of
    their own: the page's heading above each names it.

    Examples
    --------
    >>> base_layout(go.Figure()).layout.legend.orientation
    'h'
    """
    fig.update_layout(
        template="none",
        font={"family": FONT_FAMILY, "size": 13, "color": "#222"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.02,
            "yanchor": "bottom",
            "bgcolor": "rgba(255,255,255,0)",
        },
        hoverlabel={"font": {"family": FONT_FAMILY}, "bgcolor": "white"},
        **layout,
    )
    axes = {"gridcolor": "#eee", "zerolinecolor": "#ccc", "linecolor": "#999", "showline": True}
    fig.update_xaxes(automargin=True, **axes)
    fig.update_yaxes(automargin=True, **axes)
    return fig


def hover(text) -> str:
    """``text`` escaped for a hover label or a title (plotly reads a few HTML tags in them).

    Examples
    --------
    >>> hover("<b>X</b> & Y")
    '&lt;b&gt;X&lt;/b&gt; &amp; Y'
    """
    return html.escape(str(text), quote=False)


def words_of(result) -> Words:
    """The words of a run or comparison: its scenario's ``[output] language``, else the default.

    Examples
    --------
    >>> words_of(None).language
    'zh'
    """
    output = getattr(getattr(result, "scenario", None), "output", None)
    language = getattr(output, "language", None)
    return Words(language) if language else Words()


def site_markers(region, nodes, layers, text, *, offset: float = 0.0, meta: str = "") -> list:
    """One marker trace per layer of sites on the map: ``layers`` is ``(name, keep, marker)``
    with ``keep`` a boolean per site and ``marker`` plotly's marker settings; each site sits at its
    road node of ``region`` moved ``offset`` km up and right (so that sites at the same node as a
    school stay in sight), with ``text(i)`` as its hover text. Empty layers are left out.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=12, seed=1)
    >>> nodes = region.schools["node"].head(3).tolist()
    >>> traces = site_markers(region, nodes, [("a", [True, False, True], {"size": 9}),
    ...                                       ("b", [False] * 3, {})], str, offset=0.1)
    >>> [(t.name, len(t.x)) for t in traces], traces[0].hovertext
    ([('a', 2)], ('0', '2'))
    """
    graph, traces = region.roads, []
    nodes = [str(n) for n in nodes]
    for name, keep, marker in layers:
        rows = [i for i, k in enumerate(keep) if k]
        if not rows:
            continue
        traces.append(
            go.Scatter(
                x=[graph.nodes[nodes[i]]["x"] + offset for i in rows],
                y=[graph.nodes[nodes[i]]["y"] + offset for i in rows],
                mode="markers",
                marker={"line": {"width": 1, "color": "white"}, **marker},
                name=name,
                meta=meta,
                hovertext=[text(i) for i in rows],
                hoverinfo="text",
            )
        )
    return traces
