"""The report's section on a run over years: what happens in which year, and how each year stands.

Reads :attr:`allocator.results.ScenarioResult.years` (the tables of
:meth:`allocator.years_run.YearsRun.outcome`) and shows, in the reader's language:

* the steps that ran once, on the first year (their planner has no plan over years);
* the timeline: closures, conversions to nine-year schools (九年一贯制), extensions, openings,
  hires and purchases, by year;
* charts by year, one line per step over years: pupils, teachers against teachers needed,
  classes, school parts meeting the standard, the largest county CV (差异系数) of each part type
  against its limit, and the costs of each year, capital apart from recurrent;
* the plans' own checks of every year, and the projection table in EPSSim's layout.

Examples
--------
>>> from allocator.i18n import Words
>>> years_section(None, Words("en"))
''
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from allocator.i18n import Words
from allocator.report.interactive import base_layout, figure_html, hover
from allocator.report.reading import reader_table, word_or
from allocator.report.tables import escape, html_table

__all__ = ["costs_figure", "measure_figure", "timeline_table", "years_section"]

#: Timeline columns shown, in order.
_SHOWN = ("year", "step", "county", "school_id", "action", "other", "number", "yuan")
#: The charts of measures by year: (label key, columns drawn).
_CHARTS = (
    ("years.chart.pupils", ("pupils",)),
    ("years.chart.teachers", ("teachers", "teachers_needed")),
    ("years.chart.classes", ("classes",)),
    ("years.chart.compliance", ("school_parts_passing",)),
)


def timeline_table(timeline: pd.DataFrame, words: Words) -> pd.DataFrame:
    """The timeline as a reader reads it: actions in words, headers in the reader's language.

    Examples
    --------
    >>> t = pd.DataFrame({"step": ["m"], "year": [2027], "county": ["c"], "school_id": ["S1"],
    ...                   "action": ["close"], "other": ["S2"], "number": [12], "yuan": [0.0]})
    >>> table = timeline_table(t, Words("zh"))
    >>> table.columns[:2].tolist(), table.iloc[0, 3:6].tolist()
    (['年份', '步骤'], ['S1', '撤并', 'S2'])
    """
    out = timeline[list(_SHOWN)].sort_values("year", kind="stable")
    out["year"] = out["year"].astype(str)  # a year, not a number with a thousands separator
    out["yuan"] = out["yuan"].round().astype("int64")
    bought = out["action"] == "purchase"  # a purchase's "with" is the intervention's name
    out.loc[bought, "other"] = [
        word_or(words, f"intervention.{v}", v) for v in out.loc[bought, "other"]
    ]
    out["action"] = out["action"].map(lambda a: word_or(words, f"years.action.{a}", a))
    return out.rename(columns={c: words(f"years.col.{c}") for c in _SHOWN})


def measure_figure(by_year: pd.DataFrame, columns, words: Words) -> go.Figure:
    """One line per step over years and column, by year."""
    fig = go.Figure()
    for step, rows in by_year.groupby("step", sort=False):
        for column in columns:
            name = str(step)
            if column == "teachers_needed":
                name = f"{step}: {words('years.series.needed')}"
            elif len(columns) > 1:
                name = f"{step}: {words('col.teachers')}"
            fig.add_trace(
                go.Scatter(
                    x=rows["year"],
                    y=rows[column],
                    name=hover(name),
                    mode="lines+markers",
                    line={"dash": "dot" if column == "teachers_needed" else "solid"},
                )
            )
    base_layout(fig, xaxis={"dtick": 1, "title": words("years.col.year")})
    return fig


def cv_figure(by_year: pd.DataFrame, words: Words) -> go.Figure:
    """The largest county CV of each part type by year, with its limit."""
    fig = go.Figure()
    for part in ("primary", "junior"):
        name = word_or(words, f"part.{part}", part)
        for step, rows in by_year.groupby("step", sort=False):
            fig.add_trace(
                go.Scatter(x=rows["year"], y=rows[f"cv_worst_{part}"], mode="lines+markers",
                           name=hover(f"{step}: {name}"))
            )  # fmt: skip
        limit = by_year.drop_duplicates("year")
        fig.add_trace(
            go.Scatter(x=limit["year"], y=limit[f"cv_limit_{part}"], mode="lines",
                       line={"dash": "dash", "color": "#b42318"},
                       name=hover(f"{name}: {words('years.series.limit')}"))
        )  # fmt: skip
    base_layout(fig, xaxis={"dtick": 1, "title": words("years.col.year")})
    return fig


def costs_figure(costs: pd.DataFrame, words: Words) -> go.Figure:
    """Capital and recurrent yuan by year, stacked over the steps.

    Examples
    --------
    >>> c = pd.DataFrame({"step": ["b", "b"], "year": [2026, 2027],
    ...                   "capital_yuan": [5.0, 0.0], "recurrent_yuan": [1.0, 2.0]})
    >>> len(costs_figure(c, Words("en")).data)
    2
    """
    fig = go.Figure()
    for kind, colour in (("capital", "#1f77b4"), ("recurrent", "#ff7f0e")):
        for step, rows in costs.groupby("step", sort=False):
            fig.add_trace(
                go.Bar(x=rows["year"], y=rows[f"{kind}_yuan"], marker={"color": colour},
                       name=hover(f"{step}: {words(f'years.series.{kind}')}"),
                       offsetgroup=kind)
            )  # fmt: skip
    base_layout(fig, barmode="relative", xaxis={"dtick": 1, "title": words("years.col.year")})
    return fig


def years_section(result, words: Words) -> str:
    """The section of the run report on the years (empty for a run without ``years``)."""
    years = getattr(result, "years", None)
    if not years:
        return ""
    first, last = years["first"], years["last"]
    out = [f"<h2 id='years'>{escape(words('years.heading', first=first, last=last))}</h2>"]
    out.append(f"<p class='note'>{escape(words('years.note', first=first, last=last))}</p>")
    for step in years["once"]:
        out.append(f"<p>{escape(words('years.once', step=step, year=first))}</p>")
    out.append(f"<h3>{escape(words('years.timeline'))}</h3>")
    out.append(html_table(timeline_table(years["timeline"], words), max_rows=300, words=words))
    by_year = years["by_year"]
    if len(by_year):
        for key, columns in _CHARTS:
            out.append(f"<h3>{escape(words(key))}</h3>")
            out.append(figure_html(measure_figure(by_year, columns, words), height=340))
        out.append(f"<h3>{escape(words('years.chart.cv'))}</h3>")
        out.append(figure_html(cv_figure(by_year, words), height=340))
    if len(years["costs"]):
        out.append(f"<h3>{escape(words('years.chart.costs'))}</h3>")
        out.append(figure_html(costs_figure(years["costs"], words), height=340))
        yuan = ["capital_yuan", "recurrent_yuan"]
        costs = (
            years["costs"]
            .round({k: 0 for k in yuan})
            .astype({"year": str, **dict.fromkeys(yuan, "int64")})
        )
        costs = costs.rename(columns=lambda c: words(f"years.col.{c}"))
        out.append(html_table(costs, words=words))
    checks = years["checks"]
    if len(checks):
        out.append(f"<p>{escape(words('years.checks_failed', n=len(checks)))}</p>")
        out.append(html_table(reader_table(checks, words), max_rows=50, words=words))
    else:
        out.append(f"<p class='note'>{escape(words('years.checks_ok'))}</p>")
    out.append(f"<h3>{escape(words('years.projection'))}</h3>")
    projection = years["projection"]
    levels = projection[projection["grade"] == 0].drop(columns="grade")
    levels = levels.astype({"year": "int64"}).astype({"year": str})
    out.append(html_table(reader_table(levels, words), words=words))
    return "\n".join(out)
