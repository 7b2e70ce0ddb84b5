"""The run report's map: schools by area type, mergers, districts and teacher rotations.

Drawn in one figure, back to front: roads in light grey, a coloured disc behind each school of a
district, the schools (dot size: pupils; a cross for a school closed by a merger), schools the plan
built, arrows from each closed school to the school receiving its pupils, lines between schools
that exchange teachers, and the county names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from allocator.report.charts import AREA_COLOURS
from allocator.report.fonts import chart_label, draw

__all__ = ["map_chart"]

#: Disc colours of school districts, in turn.
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
    "#d9d9d9",
    "#ffffb3",
)


def map_chart(result) -> str:
    """Schools coloured by area type, closed schools crossed, merger arrows, district discs.

    Parameters
    ----------
    result : allocator.results.ScenarioResult
        Its first and last region, and its steps' plan tables (mergers and rotations).

    Returns
    -------
    str
        An ``<img>`` tag.
    """
    first, last = result.regions[0], result.regions[-1]
    schools = first.schools
    arrows = _merger_arrows(result)
    districts = last.schools if "district" in last.schools.columns else None

    def build(fig):
        ax = fig.subplots()
        _draw_roads(ax, first.roads)
        if districts is not None:
            _draw_districts(ax, districts)
        _draw_schools(ax, schools, set(last.schools["school_id"]))
        _draw_new_schools(ax, schools, last.schools)
        moves = _rotation_lines(result)
        _draw_links(ax, schools, last.schools, arrows, moves)
        _name_counties(ax, first)
        ax.set_aspect("equal")
        ax.autoscale()
        ax.set_xlabel("km")
        ax.set_ylabel("km")
        ax.legend(fontsize=8, loc="best")
        ax.set_title(
            "Schools by area type"
            + (", mergers" if arrows else "")
            + (" and districts" if districts is not None else "")
        )

    dx = max(float(schools["x"].max() - schools["x"].min()), 1.0)
    dy = max(float(schools["y"].max() - schools["y"].min()), 1.0)
    return draw(
        build,
        11,
        float(np.clip(10 * dy / dx + 1.2, 4.5, 11)),
        left=0.07,
        right=0.98,
        top=0.94,
        bottom=0.08,
    )


def _draw_roads(ax, graph) -> None:
    """Every road as a light grey line."""
    xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
    segments = [(xy[u], xy[v]) for u, v in graph.edges()]
    ax.add_collection(LineCollection(segments, colors="#e5e5e5", linewidths=0.5, zorder=0))


def _draw_schools(ax, schools: pd.DataFrame, open_ids: set) -> None:
    """Schools still open as dots sized by pupils, closed ones as crosses, by area type."""
    pupils = schools[[c for c in schools.columns if c.startswith("pupils_")]].sum(axis=1)
    size = pd.Series(np.clip(np.sqrt(pupils.to_numpy(float)) * 2.2, 12, 150), index=schools.index)
    for area, colour in AREA_COLOURS.items():
        sub = schools["area_type"] == area
        kept = sub & schools["school_id"].isin(open_ids)
        closed = sub & ~schools["school_id"].isin(open_ids)
        ax.scatter(
            schools.loc[kept, "x"],
            schools.loc[kept, "y"],
            s=size[kept],
            color=colour,
            edgecolor="white",
            linewidth=0.4,
            label=f"{area} school",
            zorder=3,
        )
        if closed.any():
            ax.scatter(
                schools.loc[closed, "x"],
                schools.loc[closed, "y"],
                s=30,
                marker="x",
                color=colour,
                linewidth=1.2,
                zorder=3,
            )


def _draw_new_schools(ax, before: pd.DataFrame, after: pd.DataFrame) -> None:
    """Schools built by the plan (consolidation candidate sites) as black stars."""
    new = after[~after["school_id"].isin(before["school_id"])]
    if len(new):
        ax.scatter(
            new["x"],
            new["y"],
            s=160,
            marker="*",
            color="#222222",
            edgecolor="white",
            linewidth=0.6,
            label="new school",
            zorder=4,
        )


def _draw_links(ax, before: pd.DataFrame, after: pd.DataFrame, arrows, moves) -> None:
    """Merger arrows (closed -> receiving school) and teacher rotation lines, with legend keys."""
    pos = dict(zip(after["school_id"], zip(after["x"], after["y"], strict=True), strict=True))
    pos0 = dict(zip(before["school_id"], zip(before["x"], before["y"], strict=True), strict=True))
    for src, dst in arrows:
        if src in pos0 and dst in pos:
            (x0, y0), (x1, y1) = pos0[src], pos[dst]
            ax.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                zorder=2,
                arrowprops=dict(arrowstyle="->", color="#444", lw=0.9),
            )
    for src, dst in moves:
        if src in pos and dst in pos:
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            ax.plot([x0, x1], [y0, y1], color="#9467bd", lw=0.6, alpha=0.5, zorder=2)
    if moves:
        ax.plot([], [], color="#9467bd", lw=0.8, label="teacher rotation")
    if arrows:
        ax.plot([], [], color="#444", label="merger: closed → receiving")
        ax.scatter([], [], marker="x", color="#444", label="closed school")


def _name_counties(ax, region) -> None:
    """Each county's name at the top left of its schools (an id if the font lacks it)."""
    schools = region.schools
    for county in region.counties:
        sub = schools[schools["county"] == county]
        label = chart_label(county, f"county {region.counties.index(county) + 1}")
        ax.text(sub["x"].min(), sub["y"].max(), label, fontsize=10, color="#333", va="bottom")


def _merger_arrows(result) -> list[tuple[str, str]]:
    arrows = []
    for s in result.steps:
        tables = getattr(s.plan, "tables", {}) or {}
        for df in tables.values():
            if isinstance(df, pd.DataFrame) and {"school_id", "receiving_school_id"} <= set(
                df.columns
            ):
                arrows += [
                    (str(a), str(b))
                    for a, b in zip(df["school_id"], df["receiving_school_id"], strict=True)
                    if pd.notna(b)
                ]
    return arrows


def _rotation_lines(result) -> list[tuple[str, str]]:
    lines = set()
    for s in result.steps:
        tables = getattr(s.plan, "tables", {}) or {}
        for df in tables.values():
            if isinstance(df, pd.DataFrame) and {"from_school_id", "to_school_id"} <= set(
                df.columns
            ):
                lines |= {
                    (str(a), str(b))
                    for a, b in zip(df["from_school_id"], df["to_school_id"], strict=True)
                }
    return sorted(lines)


def _draw_districts(ax, schools: pd.DataFrame) -> None:
    """A coloured disc behind each school, one colour per district (neighbours differ)."""
    names = list(dict.fromkeys(schools["district"].dropna()))
    palette = list(_DISTRICT_PALETTE)
    colour = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    sub = schools[schools["district"].notna()]
    ax.scatter(
        sub["x"],
        sub["y"],
        s=420,
        c=[colour[d] for d in sub["district"]],
        alpha=0.75,
        linewidths=0,
        zorder=1,
    )
    ax.scatter([], [], s=150, color=palette[0], alpha=0.75, label="district (disc colour)")
