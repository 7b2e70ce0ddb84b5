"""The run report's maps: schools, closures, districts and rotations; one indicator before/after.

:func:`map_figure` draws, back to front: roads, school districts as coloured areas (the hull of
each district's schools, widened a little), teacher rotations as lines, closed schools with an
arrow to the school that receives their pupils, schools built by the plan, and the schools that
remain, coloured by area type and sized by pupils. Each of these is a legend entry that shows or
hides it; hover names the school and gives its county, pupils and how many indicators it meets
before and after; the mouse wheel zooms, and a menu zooms to one county. Counties are named by
their names.

:func:`indicator_map_figure` shows one indicator per school, before the plan and after it side
by side, each school coloured by its value as a share of the threshold (a menu chooses the
indicator).

Coordinates are the region's kilometres; nothing is fetched (no map tiles).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from allocator.i18n import Words
from allocator.report.areas import district_cells, district_colours
from allocator.report.charts import (
    AREA_COLOURS,
    INDICATORS,
    area_name,
    part_name,
)
from allocator.report.interactive import base_layout, figure_html, hover, words_of
from allocator.report.preschool import kindergarten_traces
from allocator.report.reading import indicator_name, stage_labels
from allocator.report.senior import senior_traces
from allocator.results import plan_tables

__all__ = [
    "marker_scale",
    "road_paths",
    "merger_arrows",
    "rotation_lines",
    "map_figure",
    "map_chart",
    "indicator_map_figure",
    "indicator_map_chart",
]

#: Colours of school districts, in turn.
_DISTRICT_PALETTE = (
    "#8dd3c7",
    "#fdb462",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#b3de69",
    "#fccde5",
    "#ffed6f",
    "#bc80bd",
    "#ccebc5",
)
_CLOSED = "#6b6b6b"
_ROTATION = "#9467bd"


# --------------------------------------------------------------------------- what the plans did
def merger_arrows(result) -> pd.DataFrame:
    """Every closed school and the school receiving its pupils, from the steps' plan tables.

    Returns
    -------
    pandas.DataFrame
        Columns ``school_id``, ``receiving_school_id`` (strings), one row per closure.
    """
    rows = []
    for s in result.steps:
        for df in plan_tables(s.plan).values():
            if isinstance(df, pd.DataFrame) and {"school_id", "receiving_school_id"} <= set(
                df.columns
            ):
                rows += [
                    (str(a), str(b))
                    for a, b in zip(df["school_id"], df["receiving_school_id"], strict=True)
                    if pd.notna(b)
                ]
    return pd.DataFrame(rows, columns=["school_id", "receiving_school_id"]).drop_duplicates()


def rotation_lines(result) -> pd.DataFrame:
    """Teachers moved between schools, one row per pair of schools, summed over categories.

    Returns
    -------
    pandas.DataFrame
        Columns ``from_school_id``, ``to_school_id`` (strings) and ``teachers``.
    """
    frames = []
    for s in result.steps:
        for df in plan_tables(s.plan).values():
            if isinstance(df, pd.DataFrame) and {"from_school_id", "to_school_id"} <= set(
                df.columns
            ):
                count = df["count"] if "count" in df.columns else pd.Series(1, index=df.index)
                frames.append(
                    pd.DataFrame(
                        {
                            "from_school_id": df["from_school_id"].astype(str),
                            "to_school_id": df["to_school_id"].astype(str),
                            "teachers": count.to_numpy(),
                        }
                    )
                )
    if not frames:
        return pd.DataFrame(columns=["from_school_id", "to_school_id", "teachers"])
    both = pd.concat(frames, ignore_index=True)
    return both.groupby(["from_school_id", "to_school_id"], as_index=False)["teachers"].sum()


# --------------------------------------------------------------------------- hover texts
def _pupils(schools: pd.DataFrame) -> pd.Series:
    return schools[[c for c in schools.columns if c.startswith("pupils_")]].sum(axis=1)


def _met_text(words: Words, parts: pd.DataFrame) -> dict[str, str]:
    """Per school: one line per part, 'primary: 6 of 7 indicators met, passes'."""
    out: dict[str, list[str]] = {}
    for row in parts.itertuples(index=False):
        verdict = words("word.passes") if bool(row.passes) else words("word.fails")
        line = words(
            "map.hover.met",
            part=part_name(words, row.part),
            met=int(row.indicators_met),
            assessed=int(row.indicators_assessed),
            verdict=verdict,
        )
        out.setdefault(str(row.school_id), []).append(hover(line))
    return {k: "<br>".join(v) for k, v in out.items()}


def _school_hover(words: Words, schools, met_before, met_after, pupils) -> list[str]:
    texts = []
    for (sid, name, county, area), n in zip(
        schools[["school_id", "name", "county", "area_type"]].itertuples(index=False, name=None),
        pupils,
        strict=True,
    ):
        lines = [
            f"<b>{hover(name)}</b> ({hover(sid)})",
            f"{hover(county)} · {hover(area_name(words, area))}",
            hover(words("map.hover.pupils", n=f"{int(n):,}")),
        ]
        if sid in met_before:
            lines += [hover(words("word.before")) + ":", met_before[sid]]
        if sid in met_after:
            lines += [hover(words("word.after")) + ":", met_after[sid]]
        texts.append("<br>".join(lines))
    return texts


def marker_scale(schools: int) -> float:
    """How much smaller school markers are drawn on a map of this many schools (1 up to 200).

    Examples
    --------
    >>> marker_scale(40), marker_scale(800), marker_scale(5000)
    (1.0, 0.5, 0.45)
    """
    return float(np.clip(np.sqrt(200 / max(schools, 1)), 0.45, 1.0))


# --------------------------------------------------------------------------- layers
def road_paths(graph) -> list[list]:
    """The road graph as few unbroken paths of nodes: every road once, in as few lines as a walk
    along unused roads gives (the map draws each path as one line, not each road apart).

    Examples
    --------
    >>> import networkx as nx
    >>> paths = road_paths(nx.Graph([(1, 2), (2, 3), (3, 4), (2, 5)]))
    >>> sorted(len(p) for p in paths), sum(len(p) - 1 for p in paths)
    ([2, 4], 4)
    """
    unused = {n: set(graph.neighbors(n)) - {n} for n in graph.nodes}
    # start at the ends of roads first, so that chains are walked end to end
    order = sorted(unused, key=lambda n: len(unused[n]) % 2 == 0)
    paths = []
    for start in order:
        while unused[start]:
            path, node = [start], start
            while unused[node]:
                nxt = unused[node].pop()
                unused[nxt].discard(node)
                path.append(nxt)
                node = nxt
            paths.append(path)
    return paths


def _roads_trace(graph, words: Words) -> go.Scatter:
    xy = {n: (round(d["x"], 2), round(d["y"], 2)) for n, d in graph.nodes(data=True)}
    xs, ys = [], []
    for path in road_paths(graph):
        xs += [*(xy[n][0] for n in path), None]
        ys += [*(xy[n][1] for n in path), None]
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"color": "#d9d9d9", "width": 1},
        name=words("map.roads"),
        hoverinfo="skip",
    )


def _district_traces(schools: pd.DataFrame, words: Words, margin: float) -> list[go.Scatter]:
    """The districts' areas (one trace per palette colour) and a hover point per district."""
    sub = schools[schools["district"].notna()]
    cells = district_cells(sub, margin)
    colour = district_colours(sub, len(_DISTRICT_PALETTE))
    by_colour: dict[int, tuple[list, list]] = {}
    cx, cy, labels = [], [], []
    for name, d in sub.groupby(sub["district"].astype(str), sort=False):
        xs, ys = by_colour.setdefault(colour[name], ([], []))
        for cell in cells.get(name, []):
            cell = np.round(cell, 2).tolist()
            xs += [*(p[0] for p in cell), cell[0][0], None]
            ys += [*(p[1] for p in cell), cell[0][1], None]
        cx.append(float(d["x"].mean()))
        cy.append(float(d["y"].mean()))
        members = "、".join(hover(n) for n in d["name"].head(12))
        labels.append(
            f"<b>{hover(words('term.district'))} {hover(name)}</b><br>"
            + hover(words("map.hover.district", n=len(d), pupils=f"{int(_pupils(d).sum()):,}"))
            + f"<br>{members}"
        )
    first = min(by_colour, default=0)
    traces = [
        go.Scatter(
            x=xs,
            y=ys,
            mode="lines",
            fill="toself",
            fillcolor=_DISTRICT_PALETTE[c],
            opacity=0.4,
            line={"color": _DISTRICT_PALETTE[c], "width": 0.5},
            name=words("map.districts"),
            legendgroup="districts",
            showlegend=c == first,
            hoverinfo="skip",
        )
        for c, (xs, ys) in sorted(by_colour.items())
    ]
    traces.append(
        go.Scatter(
            x=cx,
            y=cy,
            mode="markers",
            marker={"size": 14, "color": "rgba(0,0,0,0)"},
            legendgroup="districts",
            showlegend=False,
            name=words("map.districts"),
            hovertext=labels,
            hoverinfo="text",
        )
    )
    return traces


def _rotation_traces(rotations: pd.DataFrame, pos: dict, names: dict, words: Words) -> list:
    """Lines between schools that exchange teachers, and a point in the middle of each to hover
    (the lines' ends would hide the schools' own hover)."""
    xs, ys, mx, my, text = [], [], [], [], []
    for a, b, n in rotations.itertuples(index=False, name=None):
        if a in pos and b in pos:
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
            mx.append((pos[a][0] + pos[b][0]) / 2)
            my.append((pos[a][1] + pos[b][1]) / 2)
            text.append(
                hover(words("map.hover.rotation", n=int(n), source=names[a], target=names[b]))
            )
    name = words("map.rotations")
    lines = go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"color": _ROTATION, "width": 1.2},
        opacity=0.6,
        name=name,
        legendgroup="rotations",
        hoverinfo="skip",
    )
    middles = go.Scatter(
        x=mx,
        y=my,
        mode="markers",
        marker={"color": _ROTATION, "size": 5, "opacity": 0.6},
        name=name,
        legendgroup="rotations",
        showlegend=False,
        hovertext=text,
        hoverinfo="text",
    )
    return [lines, middles]


def _closure_traces(arrows: pd.DataFrame, pos0: dict, pos: dict, names: dict, words: Words):
    """Arrows from each closed school to its receiving school, and the closed schools' crosses."""
    xs, ys, sizes = [], [], []
    cx, cy, ctext = [], [], []
    head = round(16 * marker_scale(len(pos)), 1)
    for a, b in arrows.itertuples(index=False, name=None):
        if a not in pos0 or b not in pos:
            continue
        line = hover(words("map.hover.closure", source=names.get(a, a), target=names.get(b, b)))
        xs += [pos0[a][0], pos[b][0], None]
        ys += [pos0[a][1], pos[b][1], None]
        sizes += [0, head, 0]
        cx.append(pos0[a][0])
        cy.append(pos0[a][1])
        ctext.append(f"<b>{hover(names.get(a, a))}</b> ({hover(a)})<br>{line}")
    arrow = go.Scatter(
        x=xs,
        y=ys,
        mode="lines+markers",
        line={"color": "#444", "width": 1.3 * max(marker_scale(len(pos)), 0.75)},
        marker={"symbol": "arrow", "angleref": "previous", "size": sizes, "color": "#444"},
        name=words("map.closures"),
        legendgroup="closures",
        hoverinfo="skip",
    )
    crosses = go.Scatter(
        x=cx,
        y=cy,
        mode="markers",
        marker={
            "symbol": "x-thin-open",
            "size": 12 * marker_scale(len(pos)),
            "color": _CLOSED,
            "line": {"width": 3 * marker_scale(len(pos)), "color": _CLOSED},
        },
        name=words("map.closed"),
        meta="closed",
        legendgroup="closures",
        hovertext=ctext,
        hoverinfo="text",
    )
    return [arrow, crosses]


def _school_traces(result, words: Words) -> list[go.Scatter]:
    """The schools open after the plan, one trace per area type, and schools the plan built."""
    first, last = result.regions[0].schools, result.regions[-1].schools
    met0 = _met_text(words, result.measures[0].parts)
    met1 = _met_text(words, result.measures[-1].parts)
    pupils = _pupils(last)
    scale = marker_scale(len(last))
    size = np.clip(np.sqrt(pupils.to_numpy(float)) * 0.45, 8, 24) * scale
    new = ~last["school_id"].isin(first["school_id"])
    traces = []
    for area, colour in AREA_COLOURS.items():
        keep = (last["area_type"] == area).to_numpy() & ~new.to_numpy()
        sub = last[keep]
        traces.append(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                marker={
                    "color": colour,
                    "size": size[keep],
                    "line": {"width": 1, "color": "white"},
                },
                name=words("map.schools", area=words(f"chart.area.{area}")),
                meta="schools",
                hovertext=_school_hover(words, sub, met0, met1, pupils[keep]),
                hoverinfo="text",
            )
        )
    if new.any():
        sub = last[new]
        traces.append(
            go.Scatter(
                x=sub["x"],
                y=sub["y"],
                mode="markers",
                marker={"symbol": "star", "size": 18, "color": "#222"},
                name=words("map.new_schools"),
                hovertext=_school_hover(words, sub, met0, met1, pupils[new]),
                hoverinfo="text",
            )
        )
    return traces


def _county_menu(first: pd.DataFrame, counties, words: Words, pad: float) -> list[dict]:
    """A menu that zooms to the whole region or to one county, and the county names."""

    def box(df):
        return {
            "xaxis.range": [float(df["x"].min()) - pad, float(df["x"].max()) + pad],
            "yaxis.range": [float(df["y"].min()) - pad, float(df["y"].max()) + pad],
        }

    buttons = [
        {"label": hover(words("map.whole_region")), "method": "relayout", "args": [box(first)]}
    ]
    for county in counties:
        sub = first[first["county"] == county]
        if len(sub):
            buttons.append({"label": hover(county), "method": "relayout", "args": [box(sub)]})
    return [{"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.0, "yanchor": "bottom"}]


def map_figure(result, words: Words) -> go.Figure:
    """The run's map of schools, closures with arrows, districts, rotations and roads.

    Parameters
    ----------
    result : allocator.results.ScenarioResult
        Its first and last region, measures and steps' plan tables.
    words : allocator.i18n.Words

    Returns
    -------
    plotly.graph_objects.Figure
    """
    first, last = result.regions[0], result.regions[-1]
    every = pd.concat([first.schools, last.schools]).drop_duplicates("school_id", keep="last")
    names = dict(zip(every["school_id"].astype(str), every["name"].astype(str), strict=True))
    pos0 = dict(
        zip(
            first.schools["school_id"],
            zip(first.schools["x"], first.schools["y"], strict=False),
            strict=False,
        )
    )
    pos = dict(
        zip(
            last.schools["school_id"],
            zip(last.schools["x"], last.schools["y"], strict=False),
            strict=False,
        )
    )
    span = max(float(np.ptp(first.schools["x"])), float(np.ptp(first.schools["y"])), 1.0)
    fig = go.Figure()
    fig.add_trace(_roads_trace(first.roads, words))
    if "district" in last.schools.columns and last.schools["district"].notna().any():
        for trace in _district_traces(last.schools, words, margin=span * 0.03):
            fig.add_trace(trace)
    rotations = rotation_lines(result)
    if len(rotations):
        for trace in _rotation_traces(rotations, pos, names, words):
            fig.add_trace(trace)
    arrows = merger_arrows(result)
    if len(arrows):
        for trace in _closure_traces(arrows, pos0, pos, names, words):
            fig.add_trace(trace)
    for trace in kindergarten_traces(result, words, offset=span * 0.008):
        fig.add_trace(trace)  # under the schools, which share their nodes
    for trace in senior_traces(result, words, offset=span * 0.008):
        fig.add_trace(trace)
    for trace in _school_traces(result, words):
        fig.add_trace(trace)
    for county in first.counties:
        sub = first.schools[first.schools["county"] == county]
        if len(sub):
            fig.add_annotation(
                x=float(sub["x"].median()),
                y=float(sub["y"].max()),
                text=f"<b>{hover(county)}</b>",
                showarrow=False,
                yanchor="bottom",
                font={"size": 15, "color": "#333"},
                bgcolor="rgba(255,255,255,0.75)",
            )
    base_layout(fig, hovermode="closest", dragmode="pan")
    fig.update_layout(
        legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"},
        margin={"r": 10, "t": 60},
        updatemenus=_county_menu(first.schools, first.counties, words, pad=span * 0.04),
    )
    fig.update_xaxes(title="km", showgrid=False, zeroline=False)
    fig.update_yaxes(title="km", showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1)
    return fig


def map_chart(result, words: Words | None = None) -> str:
    """:func:`map_figure` for the page (the mouse wheel zooms).

    Parameters
    ----------
    result : allocator.results.ScenarioResult
    words : allocator.i18n.Words, optional
        The language (the scenario's, if not given).
    """
    words = words if words is not None else words_of(result)
    return figure_html(map_figure(result, words), height=720, scroll_zoom=True)


# --------------------------------------------------------------------------- one indicator
def _indicator_points(parts: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    where = schools[["school_id", "name", "x", "y"]]
    return parts[parts["in_scope"].astype(bool)].merge(where, on="school_id", how="inner")


def indicator_map_figure(result, words: Words) -> go.Figure:
    """One indicator per school, before the plan and after it, coloured by share of threshold.

    Red is below the threshold, blue above it, white exactly at it; a menu chooses the indicator.

    Parameters
    ----------
    result : allocator.results.ScenarioResult
    words : allocator.i18n.Words

    Returns
    -------
    plotly.graph_objects.Figure
        Two traces (before, after) coloured by the first indicator; each button of the menu
        colours them by its indicator.
    """
    stages = stage_labels(result, words)
    before = _indicator_points(result.measures[0].parts, result.regions[0].schools)
    after = _indicator_points(result.measures[-1].parts, result.regions[-1].schools)
    indicators = [k for k in INDICATORS if f"{k}_share" in after.columns]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_xaxes=True,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        subplot_titles=[hover(stages[0]), hover(stages[-1])],
    )
    scale = [[0, "#b2182b"], [0.45, "#f4a582"], [0.5, "#f7f7f7"], [0.55, "#92c5de"], [1, "#2166ac"]]
    template = "%{text}<br>" + hover(words("chart.share_of_threshold")) + ": %{marker.color:.0%}"

    def colours(points, k):
        share = points[f"{k}_share"].clip(0, 2).round(3)
        return [None if pd.isna(v) else float(v) for v in share]

    for c, points in enumerate((before, after), start=1):
        fig.add_trace(
            go.Scatter(
                x=points["x"],
                y=points["y"],
                mode="markers",
                marker={
                    "color": colours(points, indicators[0]) if indicators else [],
                    "colorscale": scale,
                    "cmin": 0,
                    "cmax": 2,
                    "size": 10,
                    "line": {"width": 0.5, "color": "#555"},
                    "showscale": c == 2,
                    "colorbar": {"tickformat": ".0%", "len": 0.8},
                },
                text=[
                    f"<b>{hover(n)}</b> · {hover(part_name(words, p))}"
                    for n, p in zip(points["name"], points["part"], strict=True)
                ],
                hovertemplate=template + "<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=c,
        )
    buttons = [
        {
            "label": hover(indicator_name(k, words, short=True)),
            "method": "restyle",
            "args": [{"marker.color": [colours(before, k), colours(after, k)]}, [0, 1]],
        }
        for k in indicators
    ]
    base_layout(fig, hovermode="closest", dragmode="pan")
    fig.update_layout(
        updatemenus=[
            {"buttons": buttons, "x": 1, "xanchor": "right", "y": 1.12, "yanchor": "bottom"}
        ],
        margin={"t": 110},
    )
    fig.update_xaxes(showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(showgrid=False, zeroline=False, showticklabels=False)
    fig.update_yaxes(scaleanchor="x", scaleratio=1, row=1, col=1)
    return fig


def indicator_map_chart(result, words: Words | None = None) -> str:
    """:func:`indicator_map_figure` for the page (the mouse wheel zooms)."""
    words = words if words is not None else words_of(result)
    return figure_html(indicator_map_figure(result, words), height=560, scroll_zoom=True)
