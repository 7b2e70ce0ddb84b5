"""The report of one scenario run: ``report.html``, one self-contained file a planner can read.

:func:`render_run` writes, in order: the header (region, standard, scenario file; a banner if a
step failed), the summary (key figures before and after, money, what each step did, the measures
at every stage), each step with its plan summary and the compliance and equity figures before and
after it, the charts and the map, then the detailed tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from allocator.check import check
from allocator.i18n import Words
from allocator.report.charts import (
    SHORT_NAMES,
    cv_chart,
    distribution_chart,
    frontier_chart,
    lorenz_chart,
)
from allocator.report.interactive import words_of
from allocator.report.maps import indicator_map_chart, map_chart
from allocator.report.tables import (
    Share,
    change_class,
    escape,
    format_value,
    html_table,
    page,
)
from allocator.results import costs, plan_status

__all__ = ["render_run"]

_PLANNER_TEXT = {
    "mergers": "School consolidation (撤点并校): which small schools merge into which receiving "
    "school, keeping grade 1–3 pupils within their travel limit. Closed schools' pupils, teachers "
    "and equipment move to the receiving school.",
    "districts": "School districts (学区制): neighbouring schools grouped into contiguous, balanced "
    "districts that each pair strong and weak schools and share teachers and facilities.",
    "budget": "Capital budget: how much floor area, sports ground, equipment, multimedia classrooms "
    "and teacher posts each school receives so that schools meet the 2017 indicators and the "
    "urban–rural gap narrows.",
    "teachers": "Teacher posting and rotation: new hires and rotations (urban → rural, strong → "
    "weak) that staff every school to the norm and share backbone teachers.",
}


# --------------------------------------------------------------------------- key figures
_KEY_ROWS = (
    ("schools", "schools", ""),
    ("parts_compliant", "school parts meeting the standard", "high"),
    ("compliant_share", "share of school parts meeting the standard", "high"),
    ("compliant_share.urban", "… urban", "high"),
    ("compliant_share.town", "… town", "high"),
    ("compliant_share.rural", "… rural", "high"),
    ("counties_cv_ok.primary", "counties within every primary CV limit", "high"),
    ("counties_cv_ok.junior", "counties within every junior CV limit", "high"),
    ("cv_max.primary", "largest primary CV (any indicator, any county)", "low"),
    ("cv_max.junior", "largest junior CV (any indicator, any county)", "low"),
    ("rural_urban_min", "lowest rural/urban ratio (any indicator)", "one"),
    ("travel.lower_primary.mean_minutes", "grades 1–3: mean minutes to nearest school", "low"),
    ("travel.lower_primary.max_minutes", "grades 1–3: longest trip (minutes)", "low"),
    ("travel.lower_primary.pupils_over_limit", "grades 1–3 pupils beyond the limit", "low"),
)


def _derived(figures: dict) -> dict:
    out = dict(figures)
    for part in ("primary", "junior"):
        values = [
            v for k, v in figures.items() if k.startswith(f"cv_worst.{part}.") and v is not None
        ]
        out[f"cv_max.{part}"] = max(values) if values else None
    ratios = [v for k, v in figures.items() if k.startswith("rural_urban.") and v is not None]
    out["rural_urban_min"] = min(ratios) if ratios else None
    return out


def _before_after_table(stages: Sequence[str], figures: Sequence[dict]) -> str:
    figs = [_derived(f) for f in figures]
    rows, classes = [], []
    for key, label, better in _KEY_ROWS:
        if not any(f.get(key) is not None for f in figs):
            continue
        values = [f.get(key) for f in figs]
        rows.append([label, *(Share(v) if "share" in key and v is not None else v for v in values)])
        classes.append(
            ["", ""]
            + [change_class(values[i - 1], values[i], better) for i in range(1, len(values))]
        )
    df = pd.DataFrame(rows, columns=["measure", *stages], dtype=object)
    return html_table(df, classes=pd.DataFrame(classes)) if rows else ""


def _kpis(first: dict, last: dict) -> str:
    items = []
    f0, f1 = _derived(first), _derived(last)
    for key, label in (
        ("parts_compliant", "school parts meeting the standard"),
        ("compliant_share.rural", "rural school parts meeting it"),
        ("cv_max.primary", "largest primary CV"),
        ("travel.lower_primary.max_minutes", "longest grade 1–3 trip, min"),
    ):
        if f0.get(key) is None and f1.get(key) is None:
            continue
        a, b = f0.get(key), f1.get(key)
        if "share" in key:
            a, b = (None if v is None else Share(v) for v in (a, b))
        items.append(
            f"<div>{escape(label)}<b>{escape(format_value(a))} → {escape(format_value(b))}</b></div>"
        )
    return f"<div class='kpi'>{''.join(items)}</div>"


_HEADLINE_KEYS = {
    "mergers": (
        "schools_closed",
        "nine_year_conversions",
        "pupils_of_closed_schools",
        "annual_saving_yuan",
        "expansion_seats",
        "boarders_after",
    ),
    "districts": (
        "districts",
        "schools",
        "largest_quality_spread",
        "mean_minutes_to_centre",
        "longest_minutes",
    ),
    "budget": (
        "spent_yuan",
        "spent_rural_share",
        "schools_funded",
        "parts_passing_before",
        "parts_passing_after",
    ),
    "teachers": (
        "hires",
        "rotated_teachers",
        "backbone_rotated",
        "staff_shortfall_before",
        "staff_shortfall_after",
    ),
}
_NOT_HEADLINE = {"status", "gap", "seconds", "solve_seconds", "objective", "objective_name", "mode"}


def _headline_text(planner: str, headline: dict, limit: int = 6) -> str:
    keys = [k for k in _HEADLINE_KEYS.get(planner, ()) if k in headline]
    if not keys:
        keys = [k for k in headline if k not in _NOT_HEADLINE][:limit]
    return "; ".join(f"{k.replace('_', ' ')} {format_value(headline[k])}" for k in keys)


_COST_LABELS = {
    "capital_yuan": "capital spent",
    "hiring_yuan_per_year": "new hires (a year)",
    "running_change_yuan_per_year": "change in running costs after mergers (a year)",
}


def _cost_line(result) -> str:
    figures = costs(result)
    items = [
        f"{label} {format_value(figures[key])} yuan"
        for key, label in _COST_LABELS.items()
        if key in figures
    ]
    return f"<p><b>Money:</b> {escape('; '.join(items))}.</p>" if items else ""


# --------------------------------------------------------------------------- page sections
def _header(result) -> list[str]:
    """Title, failure banner, description, what the run was made from, and the page's links."""
    s = result.scenario
    region = result.regions[0]
    out = [f"<h1>{escape(s.name)}</h1>"]
    failure = getattr(result, "failure", None)
    if failure is not None:
        out.append(_incomplete_banner(result, failure))
    if s.description:
        out.append(f"<p>{escape(s.description)}</p>")
    out.append(
        f"<p class='note'>Region <b>{escape(region.name)}</b>: {len(region.schools):,} schools, "
        f"{len(region.settlements):,} settlements, counties {escape(', '.join(region.counties))}. "
        f"Standard {escape(s.standard.base)}"
        + (" with local overrides" if s.standard.overrides else "")
        + f". Scenario file {escape(s.path.name)}"
        + (f", variant <b>{escape(s.variant_name)}</b>" if s.variant_name else "")
        + f". Run time {result.seconds:.1f} s.</p>"
    )
    out.append(
        "<nav><a href='#summary'>Summary</a><a href='#steps'>Steps</a><a href='#charts'>Charts</a>"
        "<a href='#map'>Map</a><a href='#tables'>Tables</a></nav>"
    )
    return out


def _incomplete_banner(result, failure: dict) -> str:
    """The notice at the top of the report of a run whose step ``failure['index']`` failed."""
    done = len(result.steps)
    finished = (
        f"The {done} step{'s' if done != 1 else ''} before it finished and "
        f"{'are' if done != 1 else 'is'} "
        "reported below; the figures 'after' are those after the last finished step."
        if done
        else "No step finished; the figures below describe the region before any plan."
    )
    return (
        "<div class='incomplete' id='incomplete' style='border:2px solid #d62728;"
        "background:#fdecea;padding:.6em 1em;margin:1em 0'>"
        f"<p><b>Incomplete run.</b> Step {int(failure['index'])}, "
        f"<b>{escape(failure['step'])}</b> "
        f"({escape(failure['planner'])}), has no plan. {escape(finished)}</p>"
        f"<p>Diagnosis ({escape(failure['error'])}):</p><pre>{escape(failure['message'])}</pre></div>"
    )


def _summary(result, stages: Sequence[str], figures: Sequence[dict]) -> list[str]:
    """Key figures, money, one line per step, and the measures at every stage."""
    out = ["<h2 id='summary'>Summary</h2>"]
    out.append(_kpis(figures[0], figures[-1]))
    out.append(_cost_line(result))
    out.append("<p>What the plan does, step by step:</p><ol>")
    for st in result.steps:
        status, gap, _ = plan_status(st.plan)
        label = status + (f", gap {gap:.2%}" if gap else "")
        out.append(
            f"<li><b>{escape(st.name)}</b> ({escape(st.planner)}, {escape(label)}): "
            f"{escape(_headline_text(st.planner, st.headline))}</li>"
        )
    out.append("</ol>")
    out.append(
        "<p class='note'>Each row below is measured on the region before the plan and after each "
        "step, on the same yardstick. Green: better than the stage before; red: worse. A school "
        "part is a primary or junior school (a nine-year school counts as one of each); it meets "
        "the standard when it reaches at least the required number of the seven indicators. The "
        "CV (差异系数) is the pupil-weighted coefficient of variation between schools of one county; "
        "the rural/urban ratio compares the mean indicator (as a share of its threshold) of rural "
        "and urban pupils (1 = no gap). Travel is to the nearest school that teaches the grade.</p>"
    )
    out.append(_before_after_table(stages, figures))
    return out


def _steps(result, stages: Sequence[str], figures: Sequence[dict]) -> list[str]:
    """Each step: what its planner does, its plan summary, its effect, and its tables."""
    out = ["<h2 id='steps'>Steps</h2>"]
    for k, st in enumerate(result.steps, start=1):
        out.append(f"<h3>Step {k}: {escape(st.name)} ({escape(st.planner)})</h3>")
        if st.planner in _PLANNER_TEXT:
            out.append(f"<p class='note'>{escape(_PLANNER_TEXT[st.planner])}</p>")
        summary = st.plan.summary() if hasattr(st.plan, "summary") else ""
        if summary:
            out.append(f"<pre>{escape(summary)}</pre>")
        out.append(
            "<p>Compliance and equity before and after this step:</p>"
            + _before_after_table([stages[k - 1], stages[k]], [figures[k - 1], figures[k]])
        )
        out.append(_cv_step_table(result.measures[k - 1], result.measures[k]))
        files = getattr(result, "files", {})
        for name, df in (getattr(st.plan, "tables", {}) or {}).items():
            if isinstance(df, pd.DataFrame):
                file = files.get(f"{st.name}.{name}", f"{st.name}.{name}.csv")
                out.append(
                    f"<details><summary>Table <b>{escape(name)}</b> ({len(df):,} rows, "
                    f"file {escape(file)})</summary>{html_table(df, 15)}</details>"
                )
    return out


def _cv_step_table(before, after) -> str:
    b = before.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    a = after.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    limits = after.cv.groupby("part")["limit"].first()
    rows, classes = [], []
    for key in a.index:
        part, k = key
        rows.append([f"{part}: {SHORT_NAMES.get(k, k)}", b.get(key), a.get(key), limits.get(part)])
        classes.append(["", "", change_class(b.get(key), a.get(key), "low"), ""])
    if not rows:
        return ""
    df = pd.DataFrame(rows, columns=["CV (worst county)", "before", "after", "limit"])
    return (
        "<details><summary>CV of each indicator</summary>"
        + html_table(df, classes=pd.DataFrame(classes))
        + "</details>"
    )


def _charts(result, stages: Sequence[str], words: Words | None = None) -> list[str]:
    """Indicators by area type, Lorenz curves, each county's CV, the budget frontier when the
    results hold one, and the two maps, each with its note (interactive figures)."""
    w = words if words is not None else words_of(result)
    out = [f"<h2 id='charts'>{escape(w('chart.heading'))}</h2>"]
    out.append(f"<h3>{escape(w('chart.distribution.heading'))}</h3>")
    out.append(f"<p class='note'>{escape(w('chart.distribution.note'))}</p>")
    out.append(distribution_chart(stages, result.measures, w))
    out.append(f"<h3>{escape(w('chart.cv.heading'))}</h3>")
    out.append(f"<p class='note'>{escape(w('chart.cv.note'))}</p>")
    out.append(cv_chart(stages, result.measures, result.standard, w))
    out.append(f"<h3>{escape(w('chart.lorenz.heading'))}</h3>")
    out.append(f"<p class='note'>{escape(w('chart.lorenz.note'))}</p>")
    out.append(lorenz_chart(stages, result.measures, w))
    for name, table in getattr(result, "tables", {}).items():
        if name.rsplit(".", 1)[-1] == "frontier" and isinstance(table, pd.DataFrame):
            out.append(f"<h3>{escape(w('chart.frontier.heading'))}</h3>")
            out.append(frontier_chart(table, w))
    out.append(f"<h2 id='map'>{escape(w('map.heading'))}</h2>")
    out.append(f"<p class='note'>{escape(w('map.note'))}</p>")
    out.append(map_chart(result, w))
    out.append(f"<h3>{escape(w('map.indicator_heading'))}</h3>")
    out.append(f"<p class='note'>{escape(w('map.indicator_note'))}</p>")
    out.append(indicator_map_chart(result, w))
    return out


def _tables(result) -> list[str]:
    """County verdicts before and after, area types, CV by county, and travel at each stage."""
    out = ["<h2 id='tables'>Tables</h2>"]
    out.append(
        "<p class='note'>The county verdicts follow the standard: a county passes for primary "
        "(or junior) schools when every assessed school part meets the standard and every "
        "indicator's CV is within its limit.</p>"
    )
    out.append(_county_checks(result))
    final = result.measures[-1]
    out.append("<h3>By area type (mean indicator ÷ threshold), after the last step</h3>")
    out.append(html_table(final.area_types))
    out.append("<h3>CV by county, after the last step</h3>")
    out.append(
        html_table(
            final.cv.pivot_table(
                index=["county", "part"], columns="indicator", values="cv"
            ).reset_index()
        )
    )
    out.append("<h3>Travel to the nearest school, each stage</h3>")
    out.append(html_table(result.tables["travel"]))
    out.append(
        "<p class='note'>Every plan table is in this folder as a CSV file (UTF-8, opens in "
        "Excel); result.json holds the figures above in machine-readable form.</p>"
    )
    return out


def _county_checks(result) -> str:
    """allocator.check's county verdicts (pass/fail and why) before and after the plan."""
    out = []
    for label, region in (
        ("before", result.regions[0]),
        ("after the last step", result.regions[-1]),
    ):
        counties = check(region, result.standard).tables["counties"]
        keep = [
            c
            for c in (
                "county",
                "part",
                "schools",
                "schools_passing",
                "share_passing",
                "cv_failing",
                "passes",
                "reason",
            )
            if c in counties.columns
        ]
        out.append(f"<h3>County verdicts {escape(label)}</h3>" + html_table(counties[keep]))
    return "".join(out)


# --------------------------------------------------------------------------- the page
def render_run(result) -> str:
    """The HTML text of a run's report (see the module docstring).

    Parameters
    ----------
    result : allocator.results.ScenarioResult

    Returns
    -------
    str
        A complete HTML document with the charts embedded.

    Examples
    --------
    >>> import pathlib
    >>> from allocator.pipeline import run_scenario
    >>> f = pathlib.Path(__file__).parents[2] / "scenarios" / "budget_policy_comparison.toml"
    >>> html = render_run(run_scenario(f, write=False, overrides={"region": {"schools": 40}}))
    >>> html.startswith("<!DOCTYPE html>") and "id='summary'" in html
    True
    """
    stages = result.stages
    figures = [m.figures for m in result.measures]
    out = [
        *_header(result),
        *_summary(result, stages, figures),
        *_steps(result, stages, figures),
        *_charts(result, stages),
        *_tables(result),
    ]
    return page(result.scenario.name, "\n".join(out))
