"""Fonts: the CJK font matplotlib draws Chinese with, for the charts drawn as images.

The report's charts are drawn by the browser, which has its own fonts
(:data:`allocator.report.interactive.FONT_FAMILY`). Charts drawn with matplotlib
(:func:`allocator.report.charts.plot_budget_frontier`) use the first CJK font found
(:data:`CJK_FONTS`, :func:`font_rc`); without one, :func:`chart_label` gives ids instead of
names, never empty boxes.
"""

from __future__ import annotations

from functools import lru_cache

from matplotlib import font_manager

__all__ = ["CJK_FONTS", "cjk_font", "chart_label", "font_rc"]

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


def font_rc() -> dict:
    """matplotlib settings that draw Chinese with :func:`cjk_font` (and the rest with DejaVu Sans).

    Examples
    --------
    >>> font_rc()["font.sans-serif"][-1]
    'DejaVu Sans'
    """
    family = [cjk_font()] if cjk_font() else []
    return {"font.family": "sans-serif", "font.sans-serif": [*family, "DejaVu Sans"]}
