"""The run report's digital-campus, campus-safety and training section (数字校园、校园安全与教师培训).

When the region has columns of the standard's open indicator set (:mod:`allocator.check.open_report`,
measured at every stage by the pipeline), :func:`campus_section` shows:

* a map of schools before the plan and after its last step, coloured by bandwidth tier
  (:data:`BANDWIDTH_TIERS`; "offline" where ``internet_access`` is 0) and marked by safety
  completeness (a filled dot: every safety item that applies met; a ring: some missing);
* the gap between urban and rural schools (:func:`gap_table`): per open indicator, the rural /
  urban ratio of pupil-weighted means, the region-wide CV and the share of schools meeting the
  target before and after, with a chart of the ratios;
* what the plan buys (:func:`purchases`): the budget plans' open-indicator items, units and yuan
  by county;
* the training calendar (:func:`training_calendar`, :func:`training_years`): places, teachers,
  hours and cost by year and programme, backbone places, from the training plan's tables;
* whether each open target is met (:func:`targets_table`): the standard's thresholds and every
  budget step's ``targets``.

Each figure says it is not part of the 2017 verdict unless the standard assesses it. Every word
comes from :class:`allocator.i18n.Words` (keys ``campus.*``); this module reads ``results`` only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

import allocator.compliance as compliance
from allocator.i18n import Words
from allocator.report.interactive import base_layout, figure_html, hover
from allocator.report.maps import marker_scale, road_paths
from allocator.report.reading import word_or
from allocator.report.tables import Share, escape, html_table
from allocator.results import plan_tables

__all__ = [
    "BANDWIDTH_TIERS",
    "bandwidth_tier",
    "map_points",
    "gap_table",
    "purchases",
    "training_calendar",
    "training_years",
    "targets_table",
    "campus_section",
]

#: Bandwidth tiers (Mbps, lower bounds): below 100, 100, 500, 1000 (gigabit, 千兆).
BANDWIDTH_TIERS = (0, 100, 500, 1000)
_TIER_COLOURS = ("#d62728", "#fdae61", "#a6d96a", "#1a9641")
_OFFLINE_COLOUR = "#444444"


def bandwidth_tier(mbps, online=None) -> np.ndarray:
    """Each school's bandwidth tier: -1 offline, else the index of the highest tier of
    :data:`BANDWIDTH_TIERS` it reaches.

    Examples
    --------
    >>> bandwidth_tier([20, 100, 499, 500, 1000, 300], online=[1, 1, 1, 1, 1, 0]).tolist()
    [0, 1, 1, 2, 3, -1]
    """
    mbps = np.asarray(mbps, dtype=float)
    tier = np.searchsorted(np.asarray(BANDWIDTH_TIERS, float), mbps + 1e-9, side="right") - 1
    tier = np.maximum(tier, 0)
    if online is not None:
        tier = np.where(np.asarray(online, dtype=float) > 0, tier, -1)
    return tier


def _open(measures, name: str) -> pd.DataFrame | None:
    return measures.open.get(name) if getattr(measures, "open", None) else None


def _name(words: Words, k: str) -> str:
    return word_or(words, f"campus.indicator.{k}", k)


def _verdict(words: Words, k: str, standard) -> str:
    key = "campus.verdict.assessed" if k in standard.open_assessed else "campus.verdict.open"
    return words(key, standard=standard.name)


# --------------------------------------------------------------------------- map
def map_points(result, stage: int) -> pd.DataFrame:
    """The schools of the map at stage ``stage`` (0: before; -1: after the last step).

    Returns
    -------
    pandas.DataFrame
        ``school_id, name, county, area_type, x, y, bandwidth_mbps, tier`` (see
        :func:`bandwidth_tier`), ``safety_met``, ``safety_items`` (safety items met and judged)
        and ``safety_complete``: in-scope schools with a compulsory part.
    """
    schools = _open(result.measures[stage], "open_schools")
    if schools is None or "bandwidth_mbps" not in schools.columns:
        return pd.DataFrame()
    region = result.regions[stage].schools
    where = region[["school_id", "x", "y", *(["internet_access"] if "internet_access" in region
                                            else [])]]  # fmt: skip
    out = schools[schools["in_scope"]].merge(where, on="school_id", how="inner")
    online = out["internet_access"] if "internet_access" in out.columns else None
    out["tier"] = bandwidth_tier(out["bandwidth_mbps"], online)
    safety = [
        f"{k}_met"
        for k, oi in result.standard.open_indicators.items()
        if oi.group == "safety" and f"{k}_met" in out.columns
    ]
    judged = out[safety].notna().astype(int).sum(axis=1) if safety else 0
    met = out[safety].fillna(False).astype(bool).sum(axis=1) if safety else 0
    out["safety_met"] = np.asarray(met, dtype=np.int64)
    out["safety_items"] = np.asarray(judged, dtype=np.int64)
    out["safety_complete"] = out["safety_met"] == out["safety_items"]
    keep = ["school_id", "name", "county", "area_type", "x", "y", "bandwidth_mbps", "tier"]
    return out[[c for c in keep if c in out.columns] + ["safety_met", "safety_items",
                                                        "safety_complete"]]  # fmt: skip


def _tier_label(words: Words, tier: int) -> str:
    if tier < 0:
        return words("campus.map.offline")
    if tier == 0:
        return words("campus.map.tier_below", mbps=BANDWIDTH_TIERS[1])
    return words("campus.map.tier", mbps=BANDWIDTH_TIERS[tier])


def _map_figure(result, words: Words) -> go.Figure:
    stages = [map_points(result, 0), map_points(result, -1)]
    labels = [words("campus.map.before"), words("campus.map.after")]
    fig = make_subplots(rows=1, cols=2, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.03, subplot_titles=[hover(t) for t in labels])  # fmt: skip
    graph = result.regions[0].roads
    xy = {n: (round(d["x"], 2), round(d["y"], 2)) for n, d in graph.nodes(data=True)}
    xs, ys = [], []
    for path in road_paths(graph):
        xs += [*(xy[n][0] for n in path), None]
        ys += [*(xy[n][1] for n in path), None]
    scale = marker_scale(max(len(stages[0]), 1))
    for col, points in enumerate(stages, start=1):
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines", line={"color": "#e0e0e0", "width": 1},
                       hoverinfo="skip", showlegend=False),
            row=1, col=col,
        )  # fmt: skip
        for tier in range(-1, len(BANDWIDTH_TIERS)):
            sub = points[points["tier"] == tier] if len(points) else points
            if not len(sub):
                continue
            colour = _OFFLINE_COLOUR if tier < 0 else _TIER_COLOURS[tier]
            text = [
                f"<b>{hover(n)}</b><br>{hover(words('campus.map.hover', mbps=f'{m:,.0f}', met=s, items=i))}"
                for n, m, s, i in zip(sub["name"], sub["bandwidth_mbps"], sub["safety_met"],
                                      sub["safety_items"], strict=True)
            ]  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=sub["x"], y=sub["y"], mode="markers",
                    marker={
                        "color": colour, "size": 12 * scale,
                        "symbol": np.where(sub["safety_complete"], "circle", "circle-open"),
                        "line": {"width": 2, "color": colour},
                    },
                    name=hover(_tier_label(words, tier)), legendgroup=str(tier),
                    showlegend=col == 1, hovertext=text, hoverinfo="text",
                ),
                row=1, col=col,
            )  # fmt: skip
    base_layout(fig, hovermode="closest", dragmode="pan")
    fig.update_xaxes(showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_layout(margin={"t": 90})
    return fig


# --------------------------------------------------------------------------- the gap
def gap_table(result) -> pd.DataFrame:
    """Per open indicator, before the plan and after its last step: pupil-weighted means of urban
    and rural schools, the rural / urban ratio, the region-wide pupil-weighted CV and the share
    of in-scope schools meeting the target (the run's ``open.<indicator>.*`` figures).

    Returns
    -------
    pandas.DataFrame
        ``indicator, group, threshold, urban_before, rural_before, urban_after, rural_after,
        ratio_before, ratio_after, cv_before, cv_after, meeting_before, meeting_after``.
    """
    first, last = _open(result.measures[0], "open_gaps"), _open(result.measures[-1], "open_gaps")
    if first is None or last is None:
        return pd.DataFrame()
    f0, f1 = result.measures[0].figures, result.measures[-1].figures
    rows = []
    for a in last.itertuples(index=False):
        k = a.indicator
        b = first[first["indicator"] == k]
        b = b.iloc[0] if len(b) else None
        rows.append(
            {
                "indicator": k,
                "group": a.group,
                "threshold": a.threshold,
                "urban_before": np.nan if b is None else b["urban"],
                "rural_before": np.nan if b is None else b["rural"],
                "urban_after": a.urban,
                "rural_after": a.rural,
                "ratio_before": f0.get(f"open.{k}.rural_urban"),
                "ratio_after": f1.get(f"open.{k}.rural_urban"),
                "cv_before": f0.get(f"open.{k}.cv"),
                "cv_after": f1.get(f"open.{k}.cv"),
                "meeting_before": f0.get(f"open.{k}.share_meeting"),
                "meeting_after": f1.get(f"open.{k}.share_meeting"),
            }
        )
    out = pd.DataFrame(rows)
    number = [c for c in out.columns if c not in ("indicator", "group")]
    out[number] = out[number].astype(float)
    return out


def _gap_figure(gaps: pd.DataFrame, words: Words) -> go.Figure:
    shown = gaps[gaps["ratio_before"].notna() | gaps["ratio_after"].notna()]
    names = [hover(_name(words, k)) for k in shown["indicator"]]
    fig = go.Figure()
    for column, colour, label in (("ratio_before", "#a6c8e4", "campus.map.before"),
                                  ("ratio_after", "#1f77b4", "campus.map.after")):  # fmt: skip
        fig.add_trace(
            go.Bar(y=names, x=shown[column].round(3), orientation="h", marker_color=colour,
                   name=hover(words(label)))
        )  # fmt: skip
    fig.add_vline(x=1.0, line_dash="dash", line_color="#555")
    base_layout(fig, barmode="group")
    fig.update_xaxes(title=hover(words("campus.gap.axis")))
    fig.update_yaxes(autorange="reversed")
    return fig


# --------------------------------------------------------------------------- what the plan buys
def purchases(result) -> pd.DataFrame:
    """The plan's purchases for the open indicators: every step's ``allocations`` table (a budget
    plan's) whose ``indicator`` is an open one, summed by county and item.

    Returns
    -------
    pandas.DataFrame
        ``step, county, intervention, indicator, unit, schools, units, cost`` (yuan).
    """
    frames = []
    open_set = set(result.standard.open_indicators)
    for step in result.steps:
        table = plan_tables(step.plan).get("allocations")
        need = {"indicator", "intervention", "units", "cost", "county", "school_id"}
        if table is None or not need <= set(table.columns):
            continue
        table = table[table["indicator"].isin(open_set) & (table["units"] > 0)]
        if "unit" not in table.columns:
            table = table.assign(unit="")
        grouped = table.groupby(["county", "intervention", "indicator", "unit"], sort=True).agg(
            schools=("school_id", "nunique"), units=("units", "sum"), cost=("cost", "sum")
        )
        frames.append(grouped.reset_index().assign(step=step.name))
    if not frames:
        return pd.DataFrame(columns=["step", "county", "intervention", "indicator", "unit",
                                     "schools", "units", "cost"])  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    return out[["step", "county", "intervention", "indicator", "unit", "schools", "units", "cost"]]


# --------------------------------------------------------------------------- training
def _training_step(result):
    for step in result.steps:
        tables = plan_tables(step.plan)
        if {"calendar", "training_years"} <= set(tables):
            return step, tables
    return None, {}


def training_calendar(result) -> pd.DataFrame:
    """The training calendar by year and programme, from the training plan's ``calendar``.

    A teacher takes at most one place a year, so a year's places of a programme are as many
    teachers. Returns ``year, programme, level, backbone, schools, places, hours, cost``.
    """
    _, tables = _training_step(result)
    cal = tables.get("calendar")
    if cal is None:
        return pd.DataFrame()
    grouped = cal.groupby(["year", "programme", "level", "backbone"], sort=True).agg(
        schools=("school_id", "nunique"),
        places=("places", "sum"),
        hours=("hours", "sum"),
        cost=("cost", "sum"),
    )
    return grouped.reset_index()


def training_years(result) -> pd.DataFrame:
    """The training plan's ``training_years`` table (year 0: before the plan)."""
    _, tables = _training_step(result)
    return tables.get("training_years", pd.DataFrame())


# --------------------------------------------------------------------------- targets
def _targets_of(result) -> list[tuple[str, str, Mapping]]:
    out = []
    for step in result.steps:
        targets = getattr(step.policy, "targets", None)
        if isinstance(targets, Mapping):
            out += [(step.name, k, t) for k, t in targets.items() if isinstance(t, Mapping)]
    return out


def _chosen(points: pd.DataFrame, region_schools: pd.DataFrame, which: str) -> pd.Series:
    if which == "all":
        return pd.Series(True, index=points.index)
    if which == "boarding":
        flags = region_schools.set_index("school_id").get("boarding_school")
        if flags is None:
            return pd.Series(False, index=points.index)
        return points["school_id"].map(flags).fillna(0).astype(int).eq(1)
    return points["area_type"].eq(which)


def targets_table(result) -> pd.DataFrame:
    """Whether each open target is met after the last step (before, for comparison).

    One row per open indicator with a threshold in the standard (``source`` "standard", every
    in-scope school), and one per target of a step's policy (``source`` the step; the schools it
    names). A school counts when its value reaches the target (the tolerance of
    :mod:`allocator.compliance`); schools where the indicator does not apply are left out.

    Returns
    -------
    pandas.DataFrame
        ``source, indicator, schools_chosen, at_least, schools_before, meeting_before, schools``
        (after), ``meeting_after, met``.
    """
    first = _open(result.measures[0], "open_schools")
    last = _open(result.measures[-1], "open_schools")
    if first is None or last is None:
        return pd.DataFrame()
    rows = []
    wanted = [("standard", k, {"at_least": oi.threshold, "schools": "all"})
              for k, oi in result.standard.open_indicators.items()
              if oi.threshold is not None and k in last.columns]  # fmt: skip
    for source, k, target in wanted + _targets_of(result):
        if k not in last.columns:
            continue
        counts = []
        for table, region in ((first, result.regions[0]), (last, result.regions[-1])):
            ins = table[table["in_scope"]]
            ins = ins[_chosen(ins, region.schools, target.get("schools", "all")).to_numpy()]
            v = ins[k].to_numpy(float)
            v = v[~np.isnan(v)]
            counts.append((len(v), int(compliance.meets(v, float(target["at_least"])).sum())))
        rows.append(
            {
                "source": source,
                "indicator": k,
                "schools_chosen": target.get("schools", "all"),
                "at_least": float(target["at_least"]),
                "schools_before": counts[0][0],
                "meeting_before": counts[0][1],
                "schools": counts[1][0],
                "meeting_after": counts[1][1],
                "met": counts[1][1] == counts[1][0],
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the section
def _shares(values: pd.Series) -> pd.Series:
    return pd.Series([Share(v) for v in values.astype(float)], index=values.index, dtype=object)


def _gap_reader(gaps: pd.DataFrame, words: Words, standard) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            words("campus.col.indicator"): [_name(words, k) for k in gaps["indicator"]],
            words("campus.col.group"): [words(f"campus.group.{g}") for g in gaps["group"]],
            words("campus.col.threshold"): gaps["threshold"],
            words("campus.col.ratio_before"): gaps["ratio_before"],
            words("campus.col.ratio_after"): gaps["ratio_after"],
            words("campus.col.cv_before"): gaps["cv_before"],
            words("campus.col.cv_after"): gaps["cv_after"],
            words("campus.col.meeting_before"): _shares(gaps["meeting_before"]),
            words("campus.col.meeting_after"): _shares(gaps["meeting_after"]),
            words("campus.col.verdict"): [_verdict(words, k, standard) for k in gaps["indicator"]],
        }
    )
    return out.astype({words("campus.col.threshold"): float})


def _buys_reader(buys: pd.DataFrame, words: Words) -> pd.DataFrame:
    return pd.DataFrame(
        {
            words("campus.col.county"): buys["county"],
            words("campus.col.item"): [
                word_or(words, f"intervention.{i}", i) for i in buys["intervention"]
            ],
            words("campus.col.indicator"): [_name(words, k) for k in buys["indicator"]],
            words("campus.col.schools"): buys["schools"].astype(np.int64),
            words("campus.col.units"): buys["units"].astype(float),
            words("campus.col.yuan"): buys["cost"].round(0).astype(np.int64),
        }
    )


def _calendar_reader(cal: pd.DataFrame, words: Words) -> pd.DataFrame:
    return pd.DataFrame(
        {
            words("campus.col.year"): cal["year"].astype(np.int64),
            words("campus.col.programme"): [
                word_or(words, f"campus.programme.{p}", p) for p in cal["programme"]
            ],
            words("campus.col.level"): [words(f"campus.level.{v}") for v in cal["level"]],
            words("campus.col.backbone"): cal["backbone"].astype(bool),
            words("campus.col.schools"): cal["schools"].astype(np.int64),
            words("campus.col.places"): cal["places"].astype(np.int64),
            words("campus.col.hours"): cal["hours"].round(0).astype(np.int64),
            words("campus.col.yuan"): cal["cost"].round(0).astype(np.int64),
        }
    )


def _years_reader(years: pd.DataFrame, words: Words) -> pd.DataFrame:
    return pd.DataFrame(
        {
            words("campus.col.year"): years["year"].astype(np.int64),
            words("campus.col.places"): years["places"].astype(np.int64),
            words("campus.col.backbone_places"): years["backbone_places"].astype(np.int64),
            words("campus.col.hours"): years["hours"].round(0).astype(np.int64),
            words("campus.col.yuan"): years["cost"].round(0).astype(np.int64),
            words("campus.col.on_track"): years["schools_on_track"].astype(np.int64),
            words("campus.col.backbone_met"): years["schools_backbone_met"].astype(np.int64),
        }
    )


def _targets_reader(targets: pd.DataFrame, words: Words) -> pd.DataFrame:
    return pd.DataFrame(
        {
            words("campus.col.source"): [
                words("campus.source.standard") if s == "standard" else s for s in targets["source"]
            ],
            words("campus.col.indicator"): [_name(words, k) for k in targets["indicator"]],
            words("campus.col.which"): [
                words(f"campus.which.{w}") for w in targets["schools_chosen"]
            ],  # fmt: skip
            words("campus.col.at_least"): targets["at_least"].astype(float),
            words("campus.col.schools_before"): targets["schools_before"].astype(np.int64),
            words("campus.col.meeting_before"): targets["meeting_before"].astype(np.int64),
            words("campus.col.schools_after"): targets["schools"].astype(np.int64),
            words("campus.col.meeting_after"): targets["meeting_after"].astype(np.int64),
            words("campus.col.met"): targets["met"].astype(bool),
        }
    )


def campus_section(result, words: Words) -> list[str]:
    """The section's HTML pieces, or ``[]`` when the region has no open-indicator column.

    Parameters
    ----------
    result : allocator.results.ScenarioResult
    words : allocator.i18n.Words

    Examples
    --------
    >>> import pathlib
    >>> from allocator.pipeline import run_scenario
    >>> f = pathlib.Path(__file__).parents[2] / "scenarios" / "budget_policy_comparison.toml"
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 30}})
    >>> html = "".join(campus_section(result, Words("zh")))
    >>> "id='campus'" in html and "城乡" in html
    True
    """
    gaps = gap_table(result)
    if gaps.empty:
        return []

    def head(key: str, note: str | None = None) -> str:
        text = f"<h3>{escape(words(key))}</h3>"
        return text + (f"<p class='note'>{escape(words(note))}</p>" if note else "")

    std = result.standard
    out = [f"<h2 id='campus'>{escape(words('campus.heading'))}</h2>",
           f"<p class='note'>{escape(words('campus.note', standard=std.name))}</p>"]  # fmt: skip
    if len(map_points(result, 0)):
        out += [head("campus.map.heading", "campus.map.note")]
        out.append(figure_html(_map_figure(result, words), height=560, scroll_zoom=True))
    out += [head("campus.gap.heading", "campus.gap.note")]
    out.append(figure_html(_gap_figure(gaps, words), height=120 + 28 * len(gaps)))
    out.append(html_table(_gap_reader(gaps, words, std), words=words))
    buys = purchases(result)
    out.append(head("campus.buys.heading", "campus.buys.note"))
    if len(buys):
        out.append(html_table(_buys_reader(buys, words), words=words))
    else:
        out.append(f"<p>{escape(words('campus.buys.none'))}</p>")
    cal = training_calendar(result)
    if len(cal):
        out.append(head("campus.training.heading", "campus.training.note"))
        out.append(html_table(_calendar_reader(cal, words), words=words))
        out.append(html_table(_years_reader(training_years(result), words), words=words))
    targets = targets_table(result)
    if len(targets):
        out.append(head("campus.targets.heading", "campus.targets.note"))
        out.append(html_table(_targets_reader(targets, words), words=words))
    return out
