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
from scipy.spatial import ConvexHull, Delaunay, QhullError, Voronoi

from allocator.i18n import Words
from allocator.report.charts import AREA_COLOURS, INDICATORS, indicator_name
from allocator.report.interactive import base_layout, figure_html, hover, words_of

__all__ = [
    "merger_arrows",
    "rotation_lines",
    "district_outline",
    "district_cells",
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
        for df in (getattr(s.plan, "tables", {}) or {}).values():
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
        for df in (getattr(s.plan, "tables", {}) or {}).values():
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


def district_outline(x, y, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """The outline of a district: the convex hull of its schools, each widened by ``margin``.

    Every school is replaced by twelve points on a circle of radius ``margin`` around it, so one
    school or schools in a line still give an area.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The outline's x and y, closed (the first point repeated at the end).

    Examples
    --------
    >>> ox, oy = district_outline([0.0], [0.0], 1.0)
    >>> bool(np.allclose(np.hypot(ox, oy), 1.0)), bool(ox[0] == ox[-1])
    (True, True)
    """
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    px = (np.asarray(x, float)[:, None] + margin * np.cos(angles)).ravel()
    py = (np.asarray(y, float)[:, None] + margin * np.sin(angles)).ravel()
    try:
        idx = ConvexHull(np.column_stack([px, py])).vertices
    except QhullError:  # pragma: no cover - twelve points on a circle are never degenerate
        idx = np.arange(len(px))
    idx = np.append(idx, idx[0])
    return px[idx], py[idx]


def _clip(cell: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """The convex polygon ``cell`` cut to the convex, anticlockwise, closed polygon ``clip``."""
    out = list(map(tuple, cell))
    for (ax, ay), (bx, by) in zip(clip[:-1], clip[1:], strict=True):
        if not out:
            break
        points, out = out, []

        def inside(p, ax=ax, ay=ay, bx=bx, by=by):
            return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax) >= 0

        def cross(p, q, ax=ax, ay=ay, bx=bx, by=by):
            d1 = (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)
            d2 = (bx - ax) * (q[1] - ay) - (by - ay) * (q[0] - ax)
            t = d1 / (d1 - d2)
            return (p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1]))

        prev = points[-1]
        for point in points:
            if inside(point):
                if not inside(prev):
                    out.append(cross(prev, point))
                out.append(point)
            elif inside(prev):
                out.append(cross(prev, point))
            prev = point
    return np.array(out, dtype=float).reshape(-1, 2)


def _inside_convex(points: np.ndarray, clip: np.ndarray) -> bool:
    a, b = clip[:-1], clip[1:]
    side = (b[:, 0] - a[:, 0]) * (points[:, None, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (
        points[:, None, 0] - a[:, 0]
    )
    return bool((side >= -1e-9).all())


def district_cells(schools: pd.DataFrame, margin: float) -> dict[str, list[np.ndarray]]:
    """The area of each district: the Voronoi cells of its schools within their county.

    Each school gets the part of the county nearest to it (the county being the hull of its
    schools widened by ``margin``), so districts tile their county without overlapping.

    Parameters
    ----------
    schools : pandas.DataFrame
        ``x``, ``y``, ``county`` and ``district`` (schools with no district are left out).
    margin : float
        How far beyond its outermost schools a county's areas reach (km).

    Returns
    -------
    dict
        District → its cells, each an (n, 2) array of corners.

    Examples
    --------
    >>> s = pd.DataFrame({"x": [0.0, 2.0], "y": [0.0, 0.0], "county": "A", "district": ["d1", "d2"]})
    >>> cells = district_cells(s, 1.0)
    >>> bool(cells["d1"][0][:, 0].max() <= 1.0 + 1e-9 <= cells["d2"][0][:, 0].min() + 2e-9)
    True
    """
    out: dict[str, list[np.ndarray]] = {}
    sub = schools[schools["district"].notna()].drop_duplicates(["x", "y"])
    for _, county in sub.groupby("county", sort=False):
        x, y = county["x"].to_numpy(float), county["y"].to_numpy(float)
        ox, oy = district_outline(x, y, margin)
        clip = np.column_stack([ox, oy])
        names = county["district"].astype(str).tolist()
        if len(county) == 1:
            out.setdefault(names[0], []).append(clip[:-1])
            continue
        far = 10 * (np.ptp(ox) + np.ptp(oy) + 1)
        cx, cy = x.mean(), y.mean()
        pts = np.column_stack(
            [np.append(x, [cx - far, cx + far, cx, cx]), np.append(y, [cy, cy, cy - far, cy + far])]
        )
        try:
            vor = Voronoi(pts)
        except QhullError:  # all schools of the county in a line
            for name, xi, yi in zip(names, x, y, strict=True):
                bx, by = district_outline([xi], [yi], margin)
                out.setdefault(name, []).append(np.column_stack([bx, by]))
            continue
        for i, name in enumerate(names):
            region = vor.regions[vor.point_region[i]]
            if not region or -1 in region:
                continue
            cell = vor.vertices[region]
            centre = cell.mean(axis=0)
            cell = cell[np.argsort(np.arctan2(cell[:, 1] - centre[1], cell[:, 0] - centre[0]))]
            if not _inside_convex(cell, clip):
                cell = _clip(cell, clip)
            if len(cell) >= 3:
                out.setdefault(name, []).append(cell)
    return out


def _colours(schools: pd.DataFrame) -> dict[str, int]:
    """A palette index per district, neighbouring districts (nearest schools) in different ones."""
    sub = schools[schools["district"].notna()].drop_duplicates(["x", "y"])
    names = list(dict.fromkeys(sub["district"].astype(str)))
    near: dict[str, set[str]] = {n: set() for n in names}
    if len(sub) >= 4:
        try:
            tri = Delaunay(sub[["x", "y"]].to_numpy(float))
            label = sub["district"].astype(str).to_numpy()
            for simplex in tri.simplices:
                for a in simplex:
                    for b in simplex:
                        if label[a] != label[b]:
                            near[label[a]].add(label[b])
        except QhullError:
            pass
    colour: dict[str, int] = {}
    for n in names:
        used = {colour[m] for m in near[n] if m in colour}
        colour[n] = next(c for c in range(len(names) + 1) if c not in used) % len(_DISTRICT_PALETTE)
    return colour


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
            part=words(f"chart.part.{row.part}"),
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
            f"{hover(county)} · {hover(words(f'chart.area.{area}'))}",
            hover(words("map.hover.pupils", n=f"{int(n):,}")),
        ]
        if sid in met_before:
            lines += [hover(words("word.before")) + ":", met_before[sid]]
        if sid in met_after:
            lines += [hover(words("word.after")) + ":", met_after[sid]]
        texts.append("<br>".join(lines))
    return texts


# --------------------------------------------------------------------------- layers
def _roads_trace(graph, words: Words) -> go.Scatter:
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    xs, ys = [], []
    for u, v in graph.edges():
        xs += [xy[u][0], xy[v][0], None]
        ys += [xy[u][1], xy[v][1], None]
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
    colour = _colours(sub)
    by_colour: dict[int, tuple[list, list]] = {}
    cx, cy, labels = [], [], []
    for name, d in sub.groupby(sub["district"].astype(str), sort=False):
        xs, ys = by_colour.setdefault(colour[name], ([], []))
        for cell in cells.get(name, []):
            xs += [*cell[:, 0], cell[0, 0], None]
            ys += [*cell[:, 1], cell[0, 1], None]
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


def _rotation_trace(rotations: pd.DataFrame, pos: dict, names: dict, words: Words) -> go.Scatter:
    xs, ys, text = [], [], []
    for a, b, n in rotations.itertuples(index=False, name=None):
        if a in pos and b in pos:
            line = hover(words("map.hover.rotation", n=int(n), source=names[a], target=names[b]))
            xs += [pos[a][0], pos[b][0], None]
            ys += [pos[a][1], pos[b][1], None]
            text += [line, line, None]
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        line={"color": _ROTATION, "width": 1.2},
        opacity=0.6,
        name=words("map.rotations"),
        hovertext=text,
        hoverinfo="text",
    )


def _closure_traces(arrows: pd.DataFrame, pos0: dict, pos: dict, names: dict, words: Words):
    """Arrows from each closed school to its receiving school, and the closed schools' crosses."""
    xs, ys, sizes, text = [], [], [], []
    cx, cy, ctext = [], [], []
    for a, b in arrows.itertuples(index=False, name=None):
        if a not in pos0 or b not in pos:
            continue
        line = hover(words("map.hover.closure", source=names.get(a, a), target=names.get(b, b)))
        xs += [pos0[a][0], pos[b][0], None]
        ys += [pos0[a][1], pos[b][1], None]
        sizes += [0, 16, 0]
        text += [line, line, None]
        cx.append(pos0[a][0])
        cy.append(pos0[a][1])
        ctext.append(f"<b>{hover(names.get(a, a))}</b> ({hover(a)})<br>{line}")
    arrow = go.Scatter(
        x=xs,
        y=ys,
        mode="lines+markers",
        line={"color": "#444", "width": 1.3},
        marker={"symbol": "arrow", "angleref": "previous", "size": sizes, "color": "#444"},
        name=words("map.closures"),
        legendgroup="closures",
        hovertext=text,
        hoverinfo="text",
    )
    crosses = go.Scatter(
        x=cx,
        y=cy,
        mode="markers",
        marker={
            "symbol": "x-thin-open",
            "size": 12,
            "color": _CLOSED,
            "line": {"width": 3, "color": _CLOSED},
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
    size = np.clip(np.sqrt(pupils.to_numpy(float)) * 0.45, 8, 24)
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
        fig.add_trace(_rotation_trace(rotations, pos, names, words))
    arrows = merger_arrows(result)
    if len(arrows):
        for trace in _closure_traces(arrows, pos0, pos, names, words):
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
        Two traces per indicator (before, after); the first indicator's are visible.
    """
    stages = result.stages
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
    for i, k in enumerate(indicators):
        for c, points in enumerate((before, after), start=1):
            fig.add_trace(
                go.Scatter(
                    x=points["x"],
                    y=points["y"],
                    mode="markers",
                    visible=i == 0,
                    marker={
                        "color": points[f"{k}_share"].clip(0, 2),
                        "colorscale": scale,
                        "cmin": 0,
                        "cmax": 2,
                        "size": 10,
                        "line": {"width": 0.5, "color": "#555"},
                        "showscale": c == 2,
                        "colorbar": {"tickformat": ".0%", "len": 0.8},
                    },
                    text=[
                        f"<b>{hover(n)}</b> · {hover(words(f'chart.part.{p}'))}"
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
            "label": hover(indicator_name(words, k)),
            "method": "update",
            "args": [{"visible": [j // 2 == i for j in range(2 * len(indicators))]}],
        }
        for i, k in enumerate(indicators)
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
