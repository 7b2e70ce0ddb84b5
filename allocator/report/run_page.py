"""The report of one scenario run: ``report.html``, one self-contained file a planner can read.

:func:`render_run` writes, in order: the header (region, standard, scenario file; a banner if a
step failed), the verdict (does each county pass the 2017 assessment before and after and what
stops it, how many school parts pass overall and in rural areas, what the plan costs, which limits
a step breaks), the summary (key figures before and after, what each step did, the measures at
every stage), each step with its plan's figures and the compliance and equity figures before and
after it, the charts and the map, the digital-campus, safety and training section when the
region has those columns (:mod:`allocator.report.campus`), then the detailed tables. Every word
comes from :class:`allocator.i18n.Words` in the run's language (:func:`report_language`); every table shows
school names beside their ids and numbers rounded to the unit that matters.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from allocator.i18n import Words
from allocator.report.campus import campus_section
from allocator.report.charts import (
    SHORT_NAMES,
    cv_chart,
    distribution_chart,
    frontier_chart,
    lorenz_chart,
)
from allocator.report.interactive import words_of
from allocator.report.maps import indicator_map_chart
from allocator.report.preschool import preschool_section
from allocator.report.reading import (
    indicator_name,
    plan_text,
    reader_table,
    report_language,
    school_names,
    stage_labels,
    table_name,
    word_or,
)
from allocator.report.senior import senior_section
from allocator.report.tables import (
    Share,
    change_class,
    escape,
    format_value,
    headline_label,
    html_table,
    page,
)
from allocator.report.tiles import tiled_map_chart
from allocator.report.verdict import (
    county_reasons,
    county_verdict_table,
    limit_breaches,
    parts_passing,
)
from allocator.report.years_page import years_section
from allocator.results import costs, plan_status, plan_tables

__all__ = ["render_run"]

_PLANNERS = ("mergers", "districts", "budget", "teachers", "kindergartens", "senior")


# --------------------------------------------------------------------------- key figures
_KEY_ROWS = (
    ("schools", ""),
    ("parts_compliant", "high"),
    ("compliant_share", "high"),
    ("compliant_share.urban", "high"),
    ("compliant_share.town", "high"),
    ("compliant_share.rural", "high"),
    ("counties_cv_ok.primary", "high"),
    ("counties_cv_ok.junior", "high"),
    ("cv_max.primary", "low"),
    ("cv_max.junior", "low"),
    ("rural_urban_min", "one"),
    ("travel.lower_primary.mean_minutes", "low"),
    ("travel.lower_primary.max_minutes", "low"),
    ("travel.lower_primary.pupils_over_limit", "low"),
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
    totals = [figures.get(f"counties.{part}") for part in ("primary", "junior")]
    passing = [figures.get(f"counties_passing.{part}") for part in ("primary", "junior")]
    if any(t is not None for t in totals):  # county × part verdicts passing, "a / b"
        total = sum(int(t) for t in totals if t is not None)
        out["county_parts_passing"] = f"{sum(int(p) for p in passing if p is not None)} / {total}"
    return out


def _before_after_table(stages: Sequence[str], figures: Sequence[dict], words: Words) -> str:
    figs = [_derived(f) for f in figures]
    rows, classes = [], []
    for key, better in _KEY_ROWS:
        if not any(f.get(key) is not None for f in figs):
            continue
        values = [f.get(key) for f in figs]
        shown = [Share(v) if "share" in key and v is not None else v for v in values]
        rows.append([words(f"fig.{key}"), *shown])
        classes.append(
            ["", ""]
            # a measure without a better side (the number of schools) is never coloured
            + [
                change_class(values[i - 1], values[i], better) if better else ""
                for i in range(1, len(values))
            ]
        )
    df = pd.DataFrame(rows, columns=[words("col.measure"), *stages], dtype=object)
    return html_table(df, classes=pd.DataFrame(classes), words=words) if rows else ""


def _kpis(first: dict, last: dict, words: Words) -> str:
    items = []
    f0, f1 = _derived(first), _derived(last)
    for key in (
        "county_parts_passing",
        "parts_compliant",
        "compliant_share.rural",
        "cv_max.primary",
        "travel.lower_primary.max_minutes",
    ):
        if f0.get(key) is None and f1.get(key) is None:
            continue
        a, b = f0.get(key), f1.get(key)
        if "share" in key:
            a, b = (None if v is None else Share(v) for v in (a, b))
        label = words(f"kpi.{key}")
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


def _headline_items(planner: str, headline: dict, words: Words, limit: int = 6) -> list:
    """``(label, value text)`` of a plan's main headline figures, in the reader's words."""
    keys = [k for k in _HEADLINE_KEYS.get(planner, ()) if k in headline]
    if not keys:
        keys = [k for k in headline if k not in _NOT_HEADLINE][:limit]
    out = []
    for k in keys:
        value = headline[k]
        if isinstance(value, float) and "share" in k:
            value = Share(value)
        text = format_value(value, k if isinstance(value, float) and "share" not in k else None)
        out.append((headline_label(k, words), text))
    return out


def _headline_text(planner: str, headline: dict, words: Words) -> str:
    sep = words("report.list_sep")
    return sep.join(
        f"{label} {value}" for label, value in _headline_items(planner, headline, words)
    )


_COSTS = ("capital_yuan", "hiring_yuan_per_year", "running_change_yuan_per_year", "cost_yuan")


def _cost_items(result, words: Words) -> list[str]:
    figures = costs(result)
    return [
        words(f"cost.{key}", yuan=format_value(figures[key], "yuan"))
        for key in _COSTS
        if figures.get(key) is not None
    ]


# --------------------------------------------------------------------------- page sections
def _header(result, words: Words) -> list[str]:
    """Title, failure banner, description, what the run was made from, and the page's links."""
    s = result.scenario
    region = result.regions[0]
    out = [f"<h1>{escape(s.name)}</h1>"]
    failure = getattr(result, "failure", None)
    if failure is not None:
        out.append(_incomplete_banner(result, failure, words))
    if s.description:
        out.append(f"<p>{escape(s.description)}</p>")
    note = words(
        "report.region_note",
        region=region.name,
        schools=f"{len(region.schools):,}",
        settlements=f"{len(region.settlements):,}",
        counties=words("report.list_sep").join(map(str, region.counties)),
        standard=s.standard.base,
        file=s.path.name,
        seconds=f"{result.seconds:.1f}",
    )
    if s.standard.overrides:
        note += words("report.local_overrides")
    if s.variant_name:
        note += words("report.variant", variant=s.variant_name)
    out.append(f"<p class='note'>{escape(note)}</p>")
    links = (
        ("verdict", "report.verdict"),
        ("summary", "report.summary"),
        ("steps", "report.steps"),
        ("charts", "report.charts"),
        ("map", "report.map"),
        ("tables", "report.tables"),
    )
    out.append(
        "<nav>" + "".join(f"<a href='#{a}'>{escape(words(k))}</a>" for a, k in links) + "</nav>"
    )
    return out


def _incomplete_banner(result, failure: dict, words: Words) -> str:
    """The notice at the top of the report of a run whose step ``failure['index']`` failed."""
    done = len(result.steps)
    key = "report.finished_step" if done == 1 else "report.finished_steps"
    finished = words(key, n=done) if done else words("report.no_step")
    head = words(
        "report.incomplete",
        index=int(failure["index"]),
        step=failure["step"],
        planner=word_or(words, f"planner.{failure['planner']}", failure["planner"]),
    )
    return (
        "<div class='incomplete' id='incomplete' style='border:2px solid #d62728;"
        "background:#fdecea;padding:.6em 1em;margin:1em 0'>"
        f"<p><b>{escape(head)}</b> {escape(finished)}</p>"
        f"<p>{escape(words('report.diagnosis', error=failure['error']))}</p>"
        f"<pre>{escape(failure['message'])}</pre></div>"
    )


def _verdict(result, stages: Sequence[str], words: Words) -> list[str]:
    """The first screen: county verdicts, school parts passing, money, limits broken."""
    out = [f"<h2 id='verdict'>{escape(words('report.verdict'))}</h2>"]
    indicators = list(result.standard.indicators)
    first, last = result.measures[0], result.measures[-1]
    empty = pd.DataFrame(columns=["county", "part", "passes"])
    table = county_verdict_table(
        first.counties if first.counties is not None else empty,
        last.counties if last.counties is not None else empty,
        indicators,
        words,
    )
    if len(table):
        shown = reader_table(table, words)
        classes = pd.DataFrame("", index=range(len(shown)), columns=shown.columns)
        for col in ("before", "after"):
            verdicts = table[col]
            shown[col] = [
                "–" if v is None else words("word.passes") if v else words("word.fails")
                for v in verdicts
            ]
            classes[col] = ["" if v is None else "better" if v else "worse" for v in verdicts]
        shown["reason"] = shown["reason"].replace("", "–")
        shown = shown.rename(
            columns={"before": words("stage.before"), "after": stages[-1], "reason": "reason"}
        )
        out.append(f"<p>{escape(words('verdict.counties_intro'))}</p>")
        out.append(html_table(shown, classes=classes, words=words))
    out.append(f"<p>{escape(_parts_sentence(result, words))}</p>")
    items = _cost_items(result, words)
    if items:
        sep = words("report.list_sep")
        out.append(f"<p><b>{escape(words('report.money'))}</b> {escape(sep.join(items))}</p>")
    out.append(_limits(result, stages, words))
    return out


def _parts_sentence(result, words: Words) -> str:
    """How many school parts pass, overall and rural, before and after (counts and shares)."""
    before = parts_passing(result.measures[0].parts)
    after = parts_passing(result.measures[-1].parts)

    def count(figures, area):
        passing, total = figures.get(area, (0, 0))
        share = format_value(Share(passing / total)) if total else "–"
        return words("verdict.count", passing=passing, total=total, share=share)

    return words(
        "verdict.parts",
        before=count(before, "all"),
        after=count(after, "all"),
        rural_before=count(before, "rural"),
        rural_after=count(after, "rural"),
    )


def _limits(result, stages: Sequence[str], words: Words) -> str:
    """Which limits each stage breaks: counts in red, "none" in plain text."""
    table = limit_breaches(result, words)
    table.columns = ["limit", *stages]
    shown = table.astype(object)
    classes = pd.DataFrame("", index=range(len(table)), columns=table.columns)
    for j, col in enumerate(stages, start=1):
        values = table[col].to_numpy()
        shown[col] = [f"{int(v):,}" if v > 0 else words("word.none") for v in values]
        classes.iloc[:, j] = ["worse" if v > 0 else "" for v in values]
    broken = bool((table[list(stages)].to_numpy() > 0).any())
    lead = words("verdict.limits_broken") if broken else words("verdict.limits_kept")
    return f"<p><b>{escape(words('verdict.limits'))}</b> {escape(lead)}</p>" + html_table(
        shown, classes=classes, words=words
    )


def _summary(result, stages: Sequence[str], figures: Sequence[dict], words: Words) -> list[str]:
    """Key figures, one line per step, and the measures at every stage."""
    out = [f"<h2 id='summary'>{escape(words('report.summary'))}</h2>"]
    out.append(_kpis(figures[0], figures[-1], words))
    out.append(f"<p>{escape(words('report.step_by_step'))}</p><ol>")
    for st in result.steps:
        status, gap, _ = plan_status(st.plan)
        label = word_or(words, f"status.{status}", status)
        if gap:
            label += words("report.gap", gap=f"{gap:.2%}")
        planner = word_or(words, f"planner.{st.planner}", st.planner)
        out.append(
            f"<li><b>{escape(st.name)}</b> ({escape(planner)}, {escape(label)}): "
            f"{escape(_headline_text(st.planner, st.headline, words))}</li>"
        )
    out.append("</ol>")
    out.append(f"<p class='note'>{escape(words('report.summary_note'))}</p>")
    out.append(_before_after_table(stages, figures, words))
    return out


def _steps(result, stages: Sequence[str], figures: Sequence[dict], words: Words) -> list[str]:
    """Each step: what its planner does, its main figures, its effect, and its tables."""
    out = [f"<h2 id='steps'>{escape(words('report.steps'))}</h2>"]
    names = school_names(result)
    files = getattr(result, "files", {})
    for k, st in enumerate(result.steps, start=1):
        planner = word_or(words, f"planner.{st.planner}", st.planner)
        title = words("report.step_title", k=k, step=st.name, planner=planner)
        out.append(f"<h3>{escape(title)}</h3>")
        if st.planner in _PLANNERS:
            out.append(f"<p class='note'>{escape(words(f'planner.{st.planner}.text'))}</p>")
        items = _headline_items(st.planner, st.headline, words, limit=12)
        if items:
            df = pd.DataFrame(items, columns=[words("col.measure"), words("col.value")])
            out.append(html_table(df, words=words))
        summary = plan_text(st.plan, words.language)
        if summary:
            out.append(
                f"<details><summary>{escape(words('report.plan_text'))}</summary>"
                f"<pre>{escape(summary)}</pre></details>"
            )
        out.append(
            f"<p>{escape(words('report.step_effect'))}</p>"
            + _before_after_table([stages[k - 1], stages[k]], [figures[k - 1], figures[k]], words)
        )
        out.append(_cv_step_table(result.measures[k - 1], result.measures[k], words))
        for name, df in plan_tables(st.plan).items():  # a property or a method
            if isinstance(df, pd.DataFrame):
                file = files.get(f"{st.name}.{name}", f"{st.name}.{name}.csv")
                caption = words(
                    "report.table_caption",
                    table=table_name(name, words),
                    rows=f"{len(df):,}",
                    file=file,
                )
                shown = reader_table(df, words, names, table=name)
                rows = None if name.endswith("standard") else 15  # a standard's settings: all
                out.append(
                    f"<details><summary>{escape(caption)}</summary>"
                    f"{html_table(shown, rows, words=words)}</details>"
                )
    return out


def _cv_step_table(before, after, words: Words) -> str:
    b = before.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    a = after.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    limits = after.cv.groupby("part")["limit"].first()
    rows, classes = [], []
    for key in a.index:
        part, k = key
        name = word_or(words, f"ind.{k}", SHORT_NAMES.get(k, k))
        label = f"{word_or(words, f'part.{part}', part)}: {name}"
        rows.append([label, b.get(key), a.get(key), limits.get(part)])
        classes.append(["", "", change_class(b.get(key), a.get(key), "low"), ""])
    if not rows:
        return ""
    columns = [words("col.cv_worst_county"), words("word.before"), words("word.after")]
    df = pd.DataFrame(rows, columns=[*columns, words("col.cv_limit")])
    df[columns[1:]] = df[columns[1:]].astype(float)
    return (
        f"<details><summary>{escape(words('report.cv_each'))}</summary>"
        + html_table(df, classes=pd.DataFrame(classes), words=words)
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
    out.append(tiled_map_chart(result, w))
    out.append(f"<h3>{escape(w('map.indicator_heading'))}</h3>")
    out.append(f"<p class='note'>{escape(w('map.indicator_note'))}</p>")
    out.append(indicator_map_chart(result, w))
    return out


def _tables(result, stages: Sequence[str], words: Words) -> list[str]:
    """County verdicts before and after, area types, CV by county, and travel at each stage."""
    out = [f"<h2 id='tables'>{escape(words('report.tables'))}</h2>"]
    out.append(f"<p class='note'>{escape(words('report.county_rule'))}</p>")
    out.append(_county_checks(result, stages, words))
    final = result.measures[-1]
    out.append(f"<h3>{escape(words('report.area_types'))}</h3>")
    area = final.area_types.copy()
    out.append(html_table(reader_table(area, words), words=words))
    out.append(f"<h3>{escape(words('report.cv_by_county'))}</h3>")
    wide = final.cv.pivot_table(index=["county", "part"], columns="indicator", values="cv")
    wide = wide.rename(columns=lambda k: indicator_name(k, words)).reset_index()
    out.append(html_table(reader_table(wide, words), words=words))
    out.append(f"<h3>{escape(words('report.travel'))}</h3>")
    travel = result.tables["travel"].copy()
    if "stage" in travel.columns:
        labels = dict(zip(result.stages, stages, strict=True))
        travel["stage"] = travel["stage"].map(lambda v: labels.get(v, v))
    out.append(html_table(reader_table(travel, words), words=words))
    out.append(f"<p class='note'>{escape(words('report.files_note'))}</p>")
    return out


_COUNTY_COLUMNS = (
    "county",
    "part",
    "schools",
    "schools_passing",
    "share_passing",
    "cv_failing",
    "passes",
)


def _county_checks(result, stages: Sequence[str], words: Words) -> str:
    """The county verdicts (pass/fail and why) before the plan and after its last step."""
    out = []
    indicators = list(result.standard.indicators)
    for label, m in ((stages[0], result.measures[0]), (stages[-1], result.measures[-1])):
        counties = m.counties
        if counties is None or counties.empty:
            continue
        counties = counties.copy()
        if "share_passing" not in counties and "schools_passing" in counties:
            share = (
                pd.to_numeric(counties["schools_passing"], errors="coerce") / counties["schools"]
            )
            counties["share_passing"] = share.astype(float)
        keep = [c for c in _COUNTY_COLUMNS if c in counties.columns]
        table = reader_table(counties[keep], words)
        table["reason"] = [
            "; ".join(county_reasons(row, indicators, words)) or "–"
            for row in counties.to_dict("records")
        ]
        title = words("report.county_verdicts", stage=label)
        out.append(f"<h3>{escape(title)}</h3>" + html_table(table, words=words))
    return "".join(out)


# --------------------------------------------------------------------------- the page
def render_run(result, language: str | None = None) -> str:
    """The HTML text of a run's report (see the module docstring).

    Parameters
    ----------
    result : allocator.results.ScenarioResult
    language : {"zh", "en"}, optional
        The report's language; by default :func:`report_language` chooses.

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
    >>> html.startswith("<!DOCTYPE html>") and html.index("id='verdict'") < html.index("id='summary'")
    True
    """
    words = Words(report_language(result, language))
    stages = stage_labels(result, words)
    figures = [m.figures for m in result.measures]
    out = [
        *_header(result, words),
        *_verdict(result, stages, words),
        *_summary(result, stages, figures, words),
        *_steps(result, stages, figures, words),
        *preschool_section(result, stages, words),
        *senior_section(result, stages, words),
        years_section(result, words),
        *_charts(result, stages, words),
        *campus_section(result, words),
        *_tables(result, stages, words),
    ]
    return page(result.scenario.name, "\n".join(out), words)
