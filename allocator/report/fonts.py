"""Fonts and the matplotlib set-up of the report's charts.

Charts are drawn on matplotlib's Agg canvas (no display; the global backend is left alone) and
embedded as base64 PNG. Chinese names are drawn with the first CJK font found (:data:`CJK_FONTS`);
without one, :func:`chart_label` gives ids instead of names, never empty boxes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from functools import lru_cache

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["CJK_FONTS", "cjk_font", "chart_label", "draw"]

#: Fonts tried, in order, for Chinese text in charts.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed font of :data:`CJK_FONTS`, or None.

    Examples
    --------
    >>> cjk_font() is None or isinstance(cjk_font(), str)
    True
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return None


def _needs_cjk(text: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in str(text))


def chart_label(text, fallback) -> str:
    """``text`` if the charts can draw it, else ``fallback`` (an id): never tofu boxes.

    Examples
    --------
    >>> chart_label("urban", "u")
    'urban'
    >>> chart_label("两江小学", "S001") in ("两江小学", "S001")
    True
    """
    text = str(text)
    if not _needs_cjk(text) or cjk_font() is not None:
        return text
    return str(fallback)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _font_rc():
    family = [cjk_font()] if cjk_font() else []
    return {"font.family": "sans-serif", "font.sans-serif": [*family, "DejaVu Sans"]}


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    with matplotlib.rc_context(_font_rc()):
        fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def draw(build: Callable[[Figure], None], width: float, height: float, **adjust) -> str:
    """Build a figure inside the font settings and return it as an ``<img>`` tag (base64 PNG).

    Margins are set by hand (``adjust`` for ``Figure.subplots_adjust``): matplotlib's automatic
    layout engines measure every text several times and take seconds per figure.

    Parameters
    ----------
    build : callable
        Draws on the empty figure it is given.
    width, height : float
        Figure size in inches (100 dpi).
    **adjust
        Margins for :meth:`matplotlib.figure.Figure.subplots_adjust`.

    Returns
    -------
    str

    Examples
    --------
    >>> draw(lambda fig: fig.subplots().plot([0, 1]), 2, 1).startswith('<img alt="chart"')
    True
    """
    with matplotlib.rc_context(_font_rc()):
        fig = _figure(width, height)
        if adjust:
            fig.subplots_adjust(**adjust)
        build(fig)
        data = _png(fig)
    return f'<img alt="chart" src="data:image/png;base64,{data}">'
