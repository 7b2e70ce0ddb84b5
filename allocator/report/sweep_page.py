"""The report of a sweep: the tasks' measures against each axis, the budget frontier across
counties, the robustness of each decision over forecast draws and fan charts of compliance and cost.

:func:`render_sweep` reads plain tables (the task table of :func:`allocator.sweep.store.read_tasks`
and the decision shares of :mod:`allocator.sweep.robust`), so the report knows nothing of how the
sweep ran. Charts are matplotlib through :func:`allocator.report.fonts.draw`; every word comes from
:class:`allocator.i18n.Words`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from allocator.i18n import LANGUAGES, Words
from allocator.report.fonts import chart_label, draw
from allocator.report.tables import escape, html_table, page

__all__ = ["render_sweep"]

_FAN = (5, 25, 50, 75, 95)
_COMPLIANCE = ("compliant_share", "parts_compliant")
_COST = ("cost_yuan",)


def _label(w, key: str) -> str:
    """A chart's words: in the page's language if the charts can draw it, else in English."""
    return chart_label(w(key), Words("en")(key))


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _ok(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["status"] == "ok"]


def _by_axis(table: pd.DataFrame, axes: Sequence[str], measures: Sequence[str], w) -> str:
    """Small multiples: each measure (rows) against each axis (columns), the mean over the rest."""
    axes = [a for a in axes if a != "draw"]
    measures = [m for m in measures if m in table and _numeric(table[m].dropna())][:6]
    ok = _ok(table)
    if not axes or not measures or ok.empty:
        return ""

    def build(fig):
        grid = fig.subplots(len(measures), len(axes), squeeze=False)
        for i, m in enumerate(measures):
            for j, a in enumerate(axes):
                ax = grid[i][j]
                means = ok.groupby(a, sort=True)[m].mean()
                x = means.index
                if _numeric(pd.Series(x)):
                    ax.plot(x, means.to_numpy(float), marker="o")
                else:
                    labels = [chart_label(v, f"#{k + 1}") for k, v in enumerate(x)]
                    ax.plot(range(len(x)), means.to_numpy(float), marker="o")
                    ax.set_xticks(range(len(x)), labels, fontsize=7, rotation=20)
                ax.tick_params(labelsize=7)
                if i == len(measures) - 1:
                    ax.set_xlabel(a, fontsize=8)
                if j == 0:
                    ax.set_ylabel(m, fontsize=7)

    width, height = 3.2 * len(axes) + 0.8, 1.9 * len(measures) + 0.7
    margins = dict(left=0.9 / width, right=0.97, top=1 - 0.3 / height, bottom=0.6 / height)
    img = draw(build, width, height, hspace=0.55, wspace=0.35, **margins)
    return f"<h2>{escape(w('sweep.by_axis'))}</h2><p class='note'>{escape(w('sweep.by_axis_note'))}</p>{img}"


def _budget_axis(axes: Sequence[str]) -> str | None:
    return next((a for a in axes if a.rsplit(".", 1)[-1] == "budget"), None)


def _frontier(table: pd.DataFrame, axes: Sequence[str], w) -> str:
    """Compliance against the budget, one line per county."""
    budget = _budget_axis(axes)
    measure = next((m for m in _COMPLIANCE if m in table), None)
    ok = _ok(table)
    if budget is None or "county" not in axes or measure is None or ok.empty:
        return ""

    def build(fig):
        ax = fig.subplots()
        for k, (county, group) in enumerate(ok.groupby("county", sort=True)):
            line = group.groupby(budget)[measure].mean()
            ax.plot(
                line.index / 1e4,
                line.to_numpy(float),
                marker="o",
                label=chart_label(county, f"#{k + 1}"),
            )
        ax.set_xlabel(_label(w, "sweep.budget_axis"))
        ax.set_ylabel(measure)
        ax.legend(fontsize=7, ncol=2)

    img = draw(build, 7, 4, left=0.1, bottom=0.13, right=0.97, top=0.95)
    return f"<h2>{escape(w('sweep.frontier'))}</h2><p class='note'>{escape(w('sweep.frontier_note'))}</p>{img}"


def _fans(table: pd.DataFrame, axes: Sequence[str], w) -> str:
    """Fan charts over the draws: compliance and cost against the first numeric axis."""
    if "draw" not in axes:
        return ""
    ok = _ok(table)
    shown = [m for m in (*_COMPLIANCE[:1], *_COST) if m in ok and ok[m].notna().any()]
    x_axis = next((a for a in axes if a not in ("draw", "county") and _numeric(ok[a])), None)
    if not shown or ok.empty:
        return ""

    def build(fig):
        grid = fig.subplots(1, len(shown), squeeze=False)[0]
        for ax, m in zip(grid, shown, strict=True):
            if x_axis is None:
                ax.hist(ok[m].dropna().to_numpy(float), bins=20, color="#4c78a8")
                ax.set_xlabel(m)
                continue
            q = ok.groupby(x_axis)[m].quantile([p / 100 for p in _FAN]).unstack()
            x = q.index.to_numpy(float)
            ax.fill_between(x, q.iloc[:, 0], q.iloc[:, 4], alpha=0.2, color="#4c78a8")
            ax.fill_between(x, q.iloc[:, 1], q.iloc[:, 3], alpha=0.4, color="#4c78a8")
            ax.plot(x, q.iloc[:, 2], color="#1f3b5c", marker="o")
            ax.set_xlabel(x_axis)
            ax.set_ylabel(m)

    img = draw(build, 4.2 * len(shown), 3.6, left=0.1, bottom=0.14, right=0.97, wspace=0.35)
    return (
        f"<h2>{escape(w('sweep.fans'))}</h2><p class='note'>{escape(w('sweep.fans_note'))}</p>{img}"
    )


_SHARE_COLUMNS = ("decision", "kind", "step", "taken", "draws", "share")


def _headed(shares: pd.DataFrame, w) -> pd.DataFrame:
    """A shares table with its headers in the page's language (the axes keep their keys)."""
    return shares.rename(columns={c: w(f"sweep.col.{c}") for c in _SHARE_COLUMNS})


def _robustness(shares: pd.DataFrame, plan: pd.DataFrame, robust: float | None, w) -> str:
    """The share of draws taking each decision (chart of the most frequent, table of all)."""
    if shares is None or shares.empty:
        return ""
    mean = shares.groupby("decision")["share"].mean()
    top = mean.sort_values(ascending=False, kind="stable").head(30).reset_index()

    def build(fig):
        ax = fig.subplots()
        ax.barh(range(len(top)), top["share"].to_numpy(float), color="#59a14f")
        ax.set_yticks(range(len(top)), [chart_label(d, d) for d in top["decision"]], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel(_label(w, "sweep.share_of_draws"))

    height = 0.22 * len(top) + 0.9
    img = draw(build, 8, height, left=0.4, right=0.97, bottom=0.55 / height, top=1 - 0.15 / height)
    out = [
        f"<h2>{escape(w('sweep.robustness'))}</h2><p class='note'>{escape(w('sweep.robustness_note'))}</p>",
        img,
    ]
    out.append(html_table(_headed(shares, w), max_rows=200))
    if robust is not None:
        out.append(f"<h2>{escape(w('sweep.robust_plan', share=f'{robust:.0%}'))}</h2>")
        out.append(f"<p class='note'>{escape(w('sweep.robust_plan_note'))}</p>")
        out.append(
            html_table(_headed(plan, w), max_rows=500)
            if not plan.empty
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
) -> str:
    """The sweep's ``report.html``.

    Examples
    --------
    >>> t = pd.DataFrame({"steps.budget.budget": [1e6, 2e6], "status": "ok",
    ...                   "cost_yuan": [1e6, 1.9e6], "compliant_share": [0.5, 0.7]})
    >>> html = render_sweep("demo", t, ["steps.budget.budget"], ["cost_yuan", "compliant_share"],
    ...                     language="en")
    >>> "Measures against each axis" in html and "<img" in html
    True
    """
    w = Words(language)
    counts = table["status"].value_counts()
    status = ", ".join(f"{k}: {int(v):,}" for k, v in counts.items())
    body = [
        f"<h1>{escape(w('sweep.title', name=name))}</h1>",
        f"<p>{escape(w('sweep.tasks', n=f'{len(table):,}', status=status))}</p>",
        _by_axis(table, axes, measures, w),
        _frontier(table, axes, w),
        _fans(table, axes, w),
        _robustness(shares, plan, robust, w),
    ]
    failed = table[table["status"] != "ok"]
    if len(failed):
        body.append(f"<h2>{escape(w('sweep.failed'))}</h2>")
        body.append(html_table(failed[[*axes, "status", "error"]], max_rows=100))
    shown = table.drop(columns=[c for c in ("decisions", "key", "position") if c in table])
    body.append(f"<h2>{escape(w('sweep.all_tasks'))}</h2>" + html_table(shown, max_rows=200))
    return page(w("sweep.title", name=name), "".join(b for b in body if b))
