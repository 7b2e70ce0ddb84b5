"""The report of a comparison of variants: the measure × variant table first, then charts.

:func:`render_comparison` lists the variants (and those that found no plan), shows one row per
measure and one column per variant with the best value of each row highlighted, draws the
comparison charts, and ends with each variant's plan summaries.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.report.charts import variant_labels
from allocator.report.compare_charts import comparison_charts
from allocator.report.tables import escape, html_table, page

__all__ = ["render_comparison"]


def _best_classes(table: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
    """``"best"`` in the cell of the best variant of each row (none when all are equal)."""
    classes = pd.DataFrame("", index=range(len(table)), columns=table.columns)
    for i in range(len(table)):
        better = table.iloc[i]["better"]
        values = []
        for v in variants:
            try:
                values.append(float(table.iloc[i][v]))
            except (TypeError, ValueError):
                values.append(np.nan)
        arr = np.array(values)
        if better not in ("low", "high", "one") or not np.isfinite(arr).any():
            continue
        score = {"low": arr, "high": -arr, "one": np.abs(arr - 1)}[better]
        best = np.nanmin(score)
        if np.nanmax(score) - best < 1e-12:
            continue
        for v, sc in zip(variants, score, strict=True):
            if np.isfinite(sc) and sc - best < 1e-12:
                classes.iat[i, list(table.columns).index(v)] = "best"
    return classes


def _variant_list(comparison) -> list[str]:
    """Each variant with its description; those without a plan say why."""
    s = comparison.scenario
    variants = comparison.variants
    out = ["<h2>Variants</h2><ul>"]
    labels = variant_labels(variants)
    for v, label in zip(variants, labels, strict=True):
        desc = next((x.description for x in s.variants if x.name == v), "")
        tag = f" (charts: {label})" if label != v else ""
        out.append(f"<li><b>{escape(v)}</b>{escape(tag)}: {escape(desc)}</li>")
    for v, why in comparison.failures.items():
        desc = next((x.description for x in s.variants if x.name == v), "")
        out.append(
            f"<li><b>{escape(v)}</b>: {escape(desc)} "
            f"<span class='worse'>No plan: {escape(why)}</span></li>"
        )
    out.append("</ul>")
    return out


def _side_by_side(comparison) -> list[str]:
    """The measure × variant table, the best value of each row highlighted."""
    table = comparison.table
    shown = table.drop(columns=["measure", "better"]).rename(columns={"label": "measure"})
    classes = _best_classes(table, comparison.variants).drop(columns=["measure", "better"])
    classes = classes.rename(columns={"label": "measure"})
    return [
        "<h2>Side by side</h2><p class='note'>One row per measure, one column per variant, "
        "measured on the region after the variant's last step (<i>before</i>: the region as "
        "loaded). The best value of each row is highlighted. CVs are the worst county's; the "
        "rural/urban ratio is best at 1; travel is to the nearest school that teaches the grade. "
        f"The same table is in comparison.csv. Run time {comparison.seconds:.1f} s.</p>",
        html_table(shown, classes=classes),
    ]


def _plans(comparison) -> list[str]:
    """Each variant's plan summaries, one folded block per step."""
    out = ["<h2>Each variant's plans</h2>"]
    for v, r in comparison.results.items():
        out.append(f"<h3>{escape(v)}</h3>")
        for st in r.steps:
            summary = st.plan.summary() if hasattr(st.plan, "summary") else ""
            out.append(
                f"<details><summary>{escape(st.name)} ({escape(st.planner)})</summary>"
                f"<pre>{escape(summary)}</pre></details>"
            )
    return out


def render_comparison(comparison) -> str:
    """The HTML text of a comparison report: the measure × variant table first, then charts.

    Parameters
    ----------
    comparison : allocator.results.Comparison

    Returns
    -------
    str

    Examples
    --------
    >>> import pathlib
    >>> from allocator.compare import compare_scenario
    >>> f = pathlib.Path(__file__).parents[2] / "scenarios" / "budget_policy_comparison.toml"
    >>> c = compare_scenario(f, write=False, workers=1, variants=["minimax", "lexicographic"],
    ...                      overrides={"region": {"schools": 40}})
    >>> "Side by side" in render_comparison(c)
    True
    """
    s = comparison.scenario
    out = [f"<h1>{escape(s.name)}: comparison of {len(comparison.variants)} variants</h1>"]
    if s.description:
        out.append(f"<p>{escape(s.description)}</p>")
    out += _variant_list(comparison)
    out += _side_by_side(comparison)
    out.append("<h2>Charts</h2>")
    for title, note, img in comparison_charts(comparison):
        out.append(f"<h3>{escape(title)}</h3><p class='note'>{escape(note)}</p>{img}")
    out += _plans(comparison)
    return page(f"{s.name}: comparison", "\n".join(out))
