"""HTML reports of scenario runs and comparisons: one self-contained file a planner can read.

:func:`render_run` turns a :class:`~allocator.results.ScenarioResult` into ``report.html``: the summary
first (what each step did, the key figures before and after), then each step with its plan summary
and the compliance and equity figures before and after it, then charts (indicator distributions by
urban / town / rural, Lorenz curves, CV against its limit, a map of schools with mergers and
districts), then the detailed tables. :func:`render_comparison` does the same for a
:class:`~allocator.results.Comparison`: the measure × variant table first, then charts.

Charts and maps are plotly figures, interactive in the browser (hover, zoom, layers toggled from
the legend); plotly.js is inlined once per page, so the file works offline and can be mailed.
Tables sort, filter and download as CSV from the page. Labels come from :mod:`allocator.i18n`.

Modules: :mod:`~allocator.report.interactive` (figures into the page, plotly.js),
:mod:`~allocator.report.widgets` (the tables' script), :mod:`~allocator.report.tables`
(escaping, numbers, tables, the page frame), :mod:`~allocator.report.charts` (a run's charts, and
:func:`plot_budget_frontier` drawn with matplotlib for the user),
:mod:`~allocator.report.compare_charts` (a comparison's charts), :mod:`~allocator.report.maps` and
:mod:`~allocator.report.areas` (the maps, district areas),
:mod:`~allocator.report.fonts` (CJK fonts for matplotlib), :mod:`~allocator.report.run_page` and
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
