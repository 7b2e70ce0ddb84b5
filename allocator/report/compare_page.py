"""The report of a comparison of variants: the measure × variant table first, then charts.

:func:`render_comparison` lists the variants (each linked to its own report in the comparison's
folder, and those that found no plan), shows one row per measure and one column per variant with
the best value of each row highlighted only where the variants really differ
(:data:`BEST_TOLERANCE`), draws the comparison charts, and ends with each variant's main plan
figures. Every word comes from :class:`allocator.i18n.Words` in the comparison's language.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.i18n import Words, check_language, language_of
from allocator.report.charts import variant_labels
from allocator.report.compare_charts import comparison_charts
from allocator.report.reading import indicator_name, plan_text, word_or
from allocator.report.tables import escape, format_value, headline_label, html_table, page
from allocator.sheets import unique_slugs

__all__ = ["BEST_TOLERANCE", "best_classes", "comparison_language", "measure_label"]

#: Relative tolerance of "best": a row marks its best value only when the best and the worst
#: variant differ by more than this share of the row's largest absolute value (1 %), and then
#: marks every variant within that tolerance of the best.
BEST_TOLERANCE = 0.01


def best_classes(
    table: pd.DataFrame, variants: Sequence[str], tolerance: float = BEST_TOLERANCE
) -> pd.DataFrame:
    """``"best"`` in the cells of the best variants of each row, where values differ enough.

    Examples
    --------
    >>> t = pd.DataFrame({"better": ["low", "low"], "a": [39_995_835.0, 10.0], "b": [4e7, 20.0]})
    >>> best_classes(t, ["a", "b"])[["a", "b"]].values.tolist()
    [['', ''], ['best', '']]
    """
    classes = pd.DataFrame("", index=range(len(table)), columns=table.columns)
    for i in range(len(table)):
        better = table.iloc[i]["better"]
        arr = pd.to_numeric(pd.Series([table.iloc[i][v] for v in variants]), errors="coerce")
        arr = arr.to_numpy(float)
        if better not in ("low", "high", "one") or not np.isfinite(arr).any():
            continue
        score = {"low": arr, "high": -arr, "one": np.abs(arr - 1)}[better]
        scale = max(float(np.nanmax(np.abs(arr))), 1 if better == "one" else 0)
        allowed = tolerance * scale if scale > 0 else 1e-12
        best = np.nanmin(score)
        if np.nanmax(score) - best <= allowed:
            continue
        for v, sc in zip(variants, score, strict=True):
            if np.isfinite(sc) and sc - best <= allowed:
                classes.iat[i, list(table.columns).index(v)] = "best"
    return classes


def comparison_language(comparison, language: str | None = None) -> str:
    """``language``, else ``[output] language``, else from the region's names (as a run's)."""
    if language is not None:
        return check_language(language, where="--lang")
    chosen = getattr(comparison.scenario.output, "language", None)
    if chosen is not None:
        return chosen
    for r in comparison.results.values():
        schools = r.regions[0].schools
        return language_of([*schools["county"].unique(), *schools["name"].head(200)])
    return "en"


#: The labels of a step's figures of its last year (:func:`allocator.years_run.year_figures`)
#: and of the years of a variant, by measure.
_LAST_YEAR_WORDS = {
    "pupils": "compare.last_year.pupils",
    "teachers": "compare.last_year.teachers",
    "teachers_needed": "compare.last_year.teachers_needed",
    "schools": "compare.last_year.schools",
    "school_parts_passing": "compare.last_year.school_parts_passing",
    "county_parts_passing": "compare.last_year.county_parts_passing",
}
_YEARS_WORDS = {"years.first": "compare.years.first", "years.last": "compare.years.last"}


def measure_label(measure: str, label: str, words: Words, steps: Sequence[str] = ()) -> str:
    """A row of :func:`allocator.compare.comparison_table` in the reader's words (``label``, the
    table's English, when the measure has none).

    Examples
    --------
    >>> measure_label("cv_worst.junior.backbone_per_100", "CV ...", Words("zh"))
    '初中差异系数（最差县区）：每百名学生拥有县级以上骨干教师数'
    >>> measure_label("budget.spent_yuan", "budget.spent_yuan", Words("en"), ["budget"])
    'budget: spent (yuan)'
    >>> measure_label("last_year.2030.teachers.teachers_needed", "", Words("zh"))
    'teachers：2030年按编制标准应配教师数'
    """
    parts = measure.split(".")
    if parts[0] == "last_year" and len(parts) == 4:  # a step over years, its last year
        figure = word_or(words, _LAST_YEAR_WORDS.get(parts[3], ""), parts[3])
        if parts[1].isdigit():
            return words("compare.last_year_in", step=parts[2], figure=figure, year=parts[1])
        return words("compare.last_year", step=parts[2], figure=figure)
    if parts[0] in steps and len(parts) == 2:
        return f"{parts[0]}: {headline_label(parts[1], words)}"
    if parts[0] == "cv_worst" and len(parts) == 3:
        part = word_or(words, f"part.{parts[1]}", parts[1])
        return words("compare.cv_worst", part=part, indicator=indicator_name(parts[2], words))
    if parts[0] == "rural_urban" and len(parts) == 2:
        return words("compare.rural_urban", indicator=indicator_name(parts[1], words))
    if parts[0] == "travel" and len(parts) == 3:
        band = word_or(words, f"band.{parts[1]}", parts[1])
        return word_or(words, f"compare.travel.{parts[2]}", label).replace("{band}", band)
    if measure in _YEARS_WORDS:
        return words(_YEARS_WORDS[measure])
    return word_or(words, f"compare.{measure}", word_or(words, f"fig.{measure}", label))


def _variant_list(comparison, words: Words) -> list[str]:
    """Each variant with its description and a link to its own report; those without a plan say
    why."""
    s = comparison.scenario
    variants = comparison.variants
    folders = unique_slugs(comparison.results, "variant")
    linked = "html" in s.output.formats
    out = [f"<h2>{escape(words('compare.variants'))}</h2><ul>"]
    labels = variant_labels(variants)
    for v, label in zip(variants, labels, strict=True):
        desc = next((x.description for x in s.variants if x.name == v), "")
        tag = words("compare.chart_label", label=label) if label != v else ""
        link = ""
        if linked and v in folders:
            href = escape(f"{folders[v]}/report.html")
            link = f' <a href="{href}">{escape(words("compare.own_report"))}</a>'
        span = _years_of(comparison.results.get(v), words)
        out.append(f"<li><b>{escape(v)}</b>{escape(tag)}: {escape(desc)}{span}{link}</li>")
    for v, why in comparison.failures.items():
        desc = next((x.description for x in s.variants if x.name == v), "")
        out.append(
            f"<li><b>{escape(v)}</b>: {escape(desc)} "
            f"<span class='worse'>{escape(words('compare.no_plan', why=why))}</span></li>"
        )
    out.append("</ul>")
    return out


def _years_of(result, words: Words) -> str:
    """`` (plans 2026–2030)`` for a variant that plans over years, else nothing."""
    years = getattr(result, "years", None)
    if not years:
        return ""
    text = words("compare.years_of", first=years["first"], last=years["last"])
    return f" <span class='note'>({escape(text)})</span>"


def _side_by_side(comparison, words: Words) -> list[str]:
    """The measure × variant table, the best value of each row highlighted where it differs."""
    table = comparison.table
    steps = sorted({s.name for r in comparison.results.values() for s in r.steps})
    labels = [
        measure_label(m, lab, words, steps)
        for m, lab in zip(table["measure"], table["label"], strict=True)
    ]
    shown = table.drop(columns=["measure", "better", "label"]).astype(object)
    for c in shown.columns:
        shown[c] = [_cell(m, v, words) for m, v in zip(table["measure"], table[c], strict=True)]
    shown.insert(0, words("col.measure"), labels)
    classes = best_classes(table, comparison.variants).drop(columns=["measure", "better"])
    classes = classes.rename(columns={"label": words("col.measure")})
    classes = classes[[words("col.measure"), *shown.columns[1:]]]
    note = words(
        "compare.note", tolerance=f"{BEST_TOLERANCE:.0%}", seconds=f"{comparison.seconds:.1f}"
    )
    return [
        f"<h2>{escape(words('compare.side_by_side'))}</h2><p class='note'>{escape(note)}</p>",
        html_table(shown, classes=classes, words=words),
    ]


def _cell(measure: str, value, words: Words) -> str:
    """A comparison cell rounded by its measure (the columns mix yuan, shares, CVs and minutes):
    by the indicator family for CVs and ratios, else by the measure's last part (a step's
    headline key)."""
    if measure in ("years.first", "years.last") and pd.notna(value):
        return str(int(value))  # a year, without a thousands separator
    if isinstance(value, float | np.floating) and np.isfinite(value):
        head = measure.split(".")[0]
        unit = head if head in ("cv_worst", "rural_urban") else measure.split(".")[-1]
        if float(value).is_integer() and "share" not in unit:
            return format_value(int(value))
        return format_value(float(value), unit)
    if isinstance(value, str):
        family = _WORDED.get(measure.split(".")[-1], "status")
        return word_or(words, f"{family}.{value}", value)
    return format_value(value, words=words)


#: Headline values that are words, by the headline's key (other texts are a status).
_WORDED = {"objective_name": "objective", "mode": "mergers.mode", "method": "method"}


def _plans(comparison, words: Words) -> list[str]:
    """Each variant's plan figures, one folded block per step."""
    out = [f"<h2>{escape(words('compare.plans'))}</h2>"]
    for v, r in comparison.results.items():
        out.append(f"<h3>{escape(v)}</h3>")
        for st in r.steps:
            summary = plan_text(st.plan, words.language)
            planner = word_or(words, f"planner.{st.planner}", st.planner)
            out.append(
                f"<details><summary>{escape(st.name)} ({escape(planner)})</summary>"
                f"<pre>{escape(summary)}</pre></details>"
            )
    return out


def render_comparison(comparison, language: str | None = None) -> str:
    """The HTML text of a comparison report: the measure × variant table first, then charts.

    Parameters
    ----------
    comparison : allocator.results.Comparison
    language : {"zh", "en"}, optional
        By default :func:`comparison_language` chooses.

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
    >>> "Side by side" in render_comparison(c, "en") and "方案并列比较" in render_comparison(c)
    True
    """
    words = Words(comparison_language(comparison, language))
    s = comparison.scenario
    title = words("compare.title", name=s.name, n=len(comparison.variants))
    out = [f"<h1>{escape(title)}</h1>"]
    if s.description:
        out.append(f"<p>{escape(s.description)}</p>")
    out += _variant_list(comparison, words)
    out += _side_by_side(comparison, words)
    out.append(f"<h2>{escape(words('report.charts'))}</h2>")
    for chart_title, note, img in comparison_charts(comparison, words):
        out.append(f"<h3>{escape(chart_title)}</h3><p class='note'>{escape(note)}</p>{img}")
    out += _plans(comparison, words)
    return page(title, "\n".join(out), words)
