"""HTML reports of scenario runs and comparisons: one self-contained file a planner can read.

:func:`render_run` turns a :class:`~allocator.results.ScenarioResult` into ``report.html``: the summary
first (what each step did, the key figures before and after), then each step with its plan summary
and the compliance and equity figures before and after it, then charts (indicator distributions by
urban / town / rural, Lorenz curves, CV against its limit, a map of schools with mergers and
districts), then the detailed tables. :func:`render_comparison` does the same for a
:class:`~allocator.results.Comparison`: the measure × variant table first, then charts.

Charts are drawn with matplotlib's Agg canvas (no display, the global backend is left alone) and
embedded as base64 PNG, so the file can be mailed. Chinese names are drawn with the first CJK font
found (:data:`CJK_FONTS`); without one, chart labels show ids instead of names, never empty boxes
(the HTML text itself always shows the names: the browser has the fonts).

Modules: :mod:`~allocator.report.fonts` (CJK fonts, matplotlib set-up),
:mod:`~allocator.report.tables` (escaping, numbers, tables, the page frame),
:mod:`~allocator.report.charts` and :mod:`~allocator.report.maps` (every chart, and
:func:`plot_budget_frontier`), :mod:`~allocator.report.run_page` and
:mod:`~allocator.report.compare_page` (the two pages).
"""

from allocator.report.charts import AREA_COLOURS, plot_budget_frontier
from allocator.report.compare_page import render_comparison
from allocator.report.fonts import CJK_FONTS, chart_label, cjk_font
from allocator.report.maps import map_chart
from allocator.report.run_page import render_run

__all__ = [
    "render_run",
    "render_comparison",
    "cjk_font",
    "chart_label",
    "CJK_FONTS",
    "AREA_COLOURS",
    "map_chart",
    "plot_budget_frontier",
]
