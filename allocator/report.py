"""HTML reports of scenario runs and comparisons: one self-contained file a planner can read.

:func:`render_run` turns a :class:`~allocator.runner.ScenarioResult` into ``report.html``: the summary
first (what each step did, the key figures before and after), then each step with its plan summary
and the compliance and equity figures before and after it, then charts (indicator distributions by
urban / town / rural, Lorenz curves, CV against its limit, a map of schools with mergers and
districts), then the detailed tables. :func:`render_comparison` does the same for a
:class:`~allocator.runner.Comparison`: the measure × variant table first, then charts.

Charts are drawn with matplotlib's Agg canvas (no display, the global backend is left alone) and
embedded as base64 PNG, so the file can be mailed. Chinese names are drawn with the first CJK font
found (:data:`CJK_FONTS`); without one, chart labels show ids instead of names, never empty boxes
(the HTML text itself always shows the names: the browser has the fonts).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["render_run", "render_comparison", "cjk_font", "chart_label", "CJK_FONTS"]

#: Fonts tried, in order, for Chinese text in charts.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)
AREA_COLOURS = {"urban": "#1f77b4", "town": "#ff7f0e", "rural": "#2ca02c"}
_STAGE_COLOURS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_SHORT = {
    "qualified_per_100": "qualified /100",
    "backbone_per_100": "backbone /100",
    "pe_arts_per_100": "PE+arts /100",
    "floor_m2_per_pupil": "floor m²/pupil",
    "sports_m2_per_pupil": "sports m²/pupil",
    "equipment_yuan_per_pupil": "equipment ¥/pupil",
    "multimedia_per_100": "multimedia /100",
}
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


# --------------------------------------------------------------------------- fonts and labels
@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The first installed font of :data:`CJK_FONTS`, or None.

    Examples
    --------
    >>> cjk_font() is None or isinstance(cjk_font(), str)
    True
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    return None


def _needs_cjk(text: str) -> bool:
    return any(ord(c) >= 0x2E80 for c in str(text))


def chart_label(text, fallback) -> str:
    """``text`` if the charts can draw it, else ``fallback`` (an id): never tofu boxes.

    Examples
    --------
    >>> chart_label("urban", "u")
    'urban'
    >>> chart_label("两江小学", "S001") in ("两江小学", "S001")
    True
    """
    text = str(text)
    if not _needs_cjk(text) or cjk_font() is not None:
        return text
    return str(fallback)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _font_rc():
    family = [cjk_font()] if cjk_font() else []
    return {"font.family": "sans-serif", "font.sans-serif": [*family, "DejaVu Sans"]}


def _png(fig: Figure) -> str:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(_font_rc()):
        fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _draw(build, width: float, height: float, **adjust) -> str:
    """Build a figure inside the font settings and return it as an <img> tag.

    Margins are set by hand (``adjust`` for ``Figure.subplots_adjust``): matplotlib's automatic
    layout engines measure every text several times and take seconds per figure.
    """
    import matplotlib

    with matplotlib.rc_context(_font_rc()):
        fig = _figure(width, height)
        if adjust:
            fig.subplots_adjust(**adjust)
        build(fig)
        data = _png(fig)
    return f'<img alt="chart" src="data:image/png;base64,{data}">'


# --------------------------------------------------------------------------- HTML pieces
_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:3px solid #1f77b4;padding-bottom:.2em}h2{border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f3f6fa}
td:first-child,th:first-child{text-align:left}
.better{color:#1a7f37;font-weight:600}.worse{color:#b42318;font-weight:600}
.best{background:#e6f4ea;font-weight:600}.note{color:#555;font-size:.92em;max-width:60em}
pre{background:#f7f7f7;padding:.8em;overflow-x:auto;font-size:.88em}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}.kpi{display:flex;gap:1em;flex-wrap:wrap}
.kpi div{background:#f3f6fa;border-radius:6px;padding:.6em 1em;min-width:11em}
.kpi b{display:block;font-size:1.4em}nav a{margin-right:1em}
"""


def _e(text) -> str:
    return html.escape(str(text))


class _Share(float):
    """A share, shown as a percentage."""


def _fmt(value) -> str:
    if isinstance(value, _Share):
        return f"{float(value):.0%}" if np.isfinite(value) else "–"
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        v = float(value)
        if v != 0 and abs(v) >= 10000:
            return f"{v:,.0f}"
        if v != 0 and abs(v) < 0.01:
            return f"{v:.2e}"
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.1f}"
    return str(value)


def _table(
    df: pd.DataFrame, max_rows: int | None = None, classes: pd.DataFrame | None = None
) -> str:
    shown = df if max_rows is None else df.head(max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for i, (_, row) in enumerate(shown.iterrows()):
        cells = []
        for j, c in enumerate(shown.columns):
            cls = ""
            if classes is not None and classes.iat[i, j]:
                cls = f' class="{classes.iat[i, j]}"'
            cells.append(f"<td{cls}>{_e(_fmt(row[c]))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if max_rows is not None and len(df) > max_rows:
        more = f'<p class="note">First {max_rows} of {len(df):,} rows; the CSV file has all.</p>'
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{more}"


def _page(title: str, body: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{body}"
        f"<hr><p class='note'>Written by allocator on {stamp}.</p></body></html>"
    )


def _change_class(before, after, better: str) -> str:
    try:
        b, a = float(before), float(after)
    except (TypeError, ValueError):
        return ""
    if not (np.isfinite(a) and np.isfinite(b)) or abs(a - b) < 1e-12:
        return ""
    if better == "one":
        good = abs(a - 1) < abs(b - 1)
    else:
        good = (a > b) if better == "high" else (a < b)
    return "better" if good else "worse"


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
        rows.append(
            [label, *(_Share(v) if "share" in key and v is not None else v for v in values)]
        )
        classes.append(
            ["", ""]
            + [_change_class(values[i - 1], values[i], better) for i in range(1, len(values))]
        )
    df = pd.DataFrame(rows, columns=["measure", *stages], dtype=object)
    return _table(df, classes=pd.DataFrame(classes)) if rows else ""


# --------------------------------------------------------------------------- charts
def _indicators(parts: pd.DataFrame) -> list[str]:
    return [k for k in _SHORT if f"{k}_share" in parts.columns or k in parts.columns]


def _distribution_chart(stages: Sequence[str], measures) -> str:
    """Box plots of indicator / threshold by area type, first vs last stage."""
    first, last = measures[0].parts, measures[-1].parts
    indicators = _indicators(last)

    def build(fig):
        axes = fig.subplots(2, 4).ravel()
        for ax, k in zip(axes, indicators, strict=False):
            col = f"{k}_share" if f"{k}_share" in last.columns else k
            data, positions, colours = [], [], []
            for a, area in enumerate(("urban", "town", "rural")):
                for s, parts in enumerate((first, last)):
                    values = parts.loc[parts["area_type"] == area, col].dropna().to_numpy()
                    data.append(values if len(values) else np.array([np.nan]))
                    positions.append(a * 3 + s)
                    colours.append(AREA_COLOURS[area] if s else "#cccccc")
            box = ax.boxplot(
                data,
                positions=positions,
                widths=0.8,
                patch_artist=True,
                showfliers=False,
                medianprops={"color": "black"},
            )
            for patch, colour in zip(box["boxes"], colours, strict=True):
                patch.set_facecolor(colour)
            if col.endswith("_share"):
                ax.axhline(1.0, color="#b42318", lw=1, ls="--")
            ax.set_xticks([0.5, 3.5, 6.5], ["urban", "town", "rural"])
            ax.set_title(_SHORT.get(k, k), fontsize=10)
        for ax in axes[len(indicators) :]:
            ax.axis("off")
        if len(indicators) < len(axes):
            ax = axes[-1]
            ax.text(0.05, 0.7, f"grey: {stages[0]}", transform=ax.transAxes)
            ax.text(0.05, 0.5, f"coloured: {stages[-1]}", transform=ax.transAxes)
            ax.text(0.05, 0.3, "red line: the threshold", transform=ax.transAxes, color="#b42318")
        fig.suptitle("Indicator value ÷ threshold, by area type (1 = exactly at the standard)")

    return _draw(build, 12, 6, left=0.05, right=0.98, top=0.9, bottom=0.08, wspace=0.3, hspace=0.35)


def _lorenz(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    pupils = np.concatenate([[0], np.cumsum(w)]) / w.sum()
    resource = np.concatenate([[0], np.cumsum(v * w)]) / max((v * w).sum(), 1e-300)
    gini = 1 - np.sum((pupils[1:] - pupils[:-1]) * (resource[1:] + resource[:-1]))
    return pupils, resource, float(gini)


def _lorenz_chart(stages: Sequence[str], measures) -> str:
    from allocator.metrics import gini

    first, last = measures[0].parts, measures[-1].parts
    indicators = _indicators(last)

    def build(fig):
        axes = fig.subplots(2, 4).ravel()
        for ax, k in zip(axes, indicators, strict=False):
            ax.plot([0, 1], [0, 1], color="#999", lw=0.8)
            for parts, label, colour in (
                (first, stages[0], "#999999"),
                (last, stages[-1], "#1f77b4"),
            ):
                col = f"{k}_share" if f"{k}_share" in parts.columns else k
                ok = parts[col].notna() & (parts["pupils"] > 0)
                if ok.sum() < 2:
                    continue
                values = parts.loc[ok, col].to_numpy(float)
                weights = parts.loc[ok, "pupils"].to_numpy(float)
                x, y, _ = _lorenz(values, weights)
                g = gini(values, weights=weights)
                ax.plot(x, y, color=colour, lw=1.6, label=f"{label}: Gini {g:.2f}")
            ax.set_title(_SHORT.get(k, k), fontsize=10)
            ax.legend(fontsize=7, loc="upper left")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        for ax in axes[len(indicators) :]:
            ax.axis("off")
        fig.supxlabel("share of pupils (poorest schools first)")
        fig.supylabel("share of the resource")

    return _draw(build, 12, 6, left=0.07, right=0.98, top=0.95, bottom=0.1, wspace=0.3, hspace=0.35)


def _cv_chart(stages: Sequence[str], measures, standard) -> str:
    def build(fig):
        parts = [
            p for p in ("primary", "junior") if any((m.cv["part"] == p).any() for m in measures)
        ]
        axes = np.atleast_1d(fig.subplots(1, max(1, len(parts))))
        for ax, part in zip(axes, parts, strict=False):
            indicators = list(dict.fromkeys(measures[-1].cv["indicator"]))
            width = 0.8 / len(measures)
            x = np.arange(len(indicators))
            for s, (stage, m) in enumerate(zip(stages, measures, strict=True)):
                sub = m.cv[m.cv["part"] == part].groupby("indicator")["cv"].max()
                ax.bar(
                    x + s * width - 0.4 + width / 2,
                    [sub.get(k, np.nan) for k in indicators],
                    width,
                    label=stage,
                    color=_STAGE_COLOURS[s % len(_STAGE_COLOURS)],
                )
            limit = standard.cv_limit.get(part)
            if limit is not None:
                ax.axhline(limit, color="#b42318", ls="--", lw=1.2, label=f"limit {limit:g}")
            ax.set_xticks(x, [_SHORT.get(k, k) for k in indicators], rotation=35, ha="right")
            ax.set_title(f"{part}: CV of each indicator (worst county)")
            ax.legend(fontsize=8)

    return _draw(build, 12, 4.5, left=0.06, right=0.98, top=0.92, bottom=0.27, wspace=0.15)


def _map_chart(result) -> str:
    """Schools coloured by area type, closed schools crossed, merger arrows, district hulls."""
    first, last = result.regions[0], result.regions[-1]
    schools = first.schools
    open_ids = set(last.schools["school_id"])
    arrows = _merger_arrows(result)
    districts = last.schools if "district" in last.schools.columns else None

    def build(fig):
        ax = fig.subplots()
        graph = first.roads
        xy = {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)}
        from matplotlib.collections import LineCollection

        segments = [(xy[u], xy[v]) for u, v in graph.edges()]
        ax.add_collection(LineCollection(segments, colors="#e5e5e5", linewidths=0.5, zorder=0))
        if districts is not None:
            _draw_districts(ax, districts)
        pupils = schools[[c for c in schools.columns if c.startswith("pupils_")]].sum(axis=1)
        size = pd.Series(
            np.clip(np.sqrt(pupils.to_numpy(float)) * 2.2, 12, 150), index=schools.index
        )
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
        new = last.schools[~last.schools["school_id"].isin(schools["school_id"])]
        if len(new):  # schools built by the plan (consolidation candidate sites)
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
        pos = dict(
            zip(
                last.schools["school_id"],
                zip(last.schools["x"], last.schools["y"], strict=True),
                strict=True,
            )
        )
        pos0 = dict(
            zip(schools["school_id"], zip(schools["x"], schools["y"], strict=True), strict=True)
        )
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
        moves = _rotation_lines(result)
        for src, dst in moves:
            if src in pos and dst in pos:
                (x0, y0), (x1, y1) = pos[src], pos[dst]
                ax.plot([x0, x1], [y0, y1], color="#9467bd", lw=0.6, alpha=0.5, zorder=2)
        if moves:
            ax.plot([], [], color="#9467bd", lw=0.8, label="teacher rotation")
        if arrows:
            ax.plot([], [], color="#444", label="merger: closed → receiving")
            ax.scatter([], [], marker="x", color="#444", label="closed school")
        for county in first.counties:
            sub = schools[schools["county"] == county]
            label = chart_label(county, f"county {first.counties.index(county) + 1}")
            ax.text(sub["x"].min(), sub["y"].max(), label, fontsize=10, color="#333", va="bottom")
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
    return _draw(
        build,
        11,
        float(np.clip(10 * dy / dx + 1.2, 4.5, 11)),
        left=0.07,
        right=0.98,
        top=0.94,
        bottom=0.08,
    )


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
    palette = [
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
    ]
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


# --------------------------------------------------------------------------- run report
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
            a, b = (None if v is None else _Share(v) for v in (a, b))
        items.append(f"<div>{_e(label)}<b>{_e(_fmt(a))} → {_e(_fmt(b))}</b></div>")
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
    return "; ".join(f"{k.replace('_', ' ')} {_fmt(headline[k])}" for k in keys)


def render_run(result) -> str:
    """The HTML text of a run's report (see the module docstring).

    Parameters
    ----------
    result : allocator.runner.ScenarioResult

    Returns
    -------
    str
        A complete HTML document with the charts embedded.

    Examples
    --------
    >>> import pathlib
    >>> from allocator.runner import run_scenario
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> html = render_run(run_scenario(f, write=False, overrides={"region": {"schools": 40}}))
    >>> html.startswith("<!DOCTYPE html>") and "id='summary'" in html
    True
    """
    s = result.scenario
    stages = result.stages
    figures = [m.figures for m in result.measures]
    region = result.regions[0]
    out = [f"<h1>{_e(s.name)}</h1>"]
    failure = getattr(result, "failure", None)
    if failure is not None:
        out.append(_incomplete_banner(result, failure))
    if s.description:
        out.append(f"<p>{_e(s.description)}</p>")
    out.append(
        f"<p class='note'>Region <b>{_e(region.name)}</b>: {len(region.schools):,} schools, "
        f"{len(region.settlements):,} settlements, counties {_e(', '.join(region.counties))}. "
        f"Standard {_e(s.standard.base)}"
        + (" with local overrides" if s.standard.overrides else "")
        + f". Scenario file {_e(s.path.name)}"
        + (f", variant <b>{_e(s.variant_name)}</b>" if s.variant_name else "")
        + f". Run time {result.seconds:.1f} s.</p>"
    )
    out.append(
        "<nav><a href='#summary'>Summary</a><a href='#steps'>Steps</a><a href='#charts'>Charts</a>"
        "<a href='#map'>Map</a><a href='#tables'>Tables</a></nav>"
    )
    # summary
    out.append("<h2 id='summary'>Summary</h2>")
    out.append(_kpis(figures[0], figures[-1]))
    out.append(_cost_line(result))
    out.append("<p>What the plan does, step by step:</p><ol>")
    for st in result.steps:
        status, gap, _ = _status(st.plan)
        label = status + (f", gap {gap:.2%}" if gap else "")
        out.append(
            f"<li><b>{_e(st.name)}</b> ({_e(st.planner)}, {_e(label)}): "
            f"{_e(_headline_text(st.planner, st.headline))}</li>"
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
    # steps
    out.append("<h2 id='steps'>Steps</h2>")
    for k, st in enumerate(result.steps, start=1):
        out.append(f"<h3>Step {k}: {_e(st.name)} ({_e(st.planner)})</h3>")
        if st.planner in _PLANNER_TEXT:
            out.append(f"<p class='note'>{_e(_PLANNER_TEXT[st.planner])}</p>")
        summary = st.plan.summary() if hasattr(st.plan, "summary") else ""
        if summary:
            out.append(f"<pre>{_e(summary)}</pre>")
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
                    f"<details><summary>Table <b>{_e(name)}</b> ({len(df):,} rows, "
                    f"file {_e(file)})</summary>{_table(df, 15)}</details>"
                )
    # charts
    out.append("<h2 id='charts'>Charts</h2>")
    out.append(
        "<h3>Indicators by urban, town and rural schools</h3><p class='note'>Each box shows the "
        "middle half of schools (the line is the median, whiskers the usual range) for one "
        "indicator, divided by its threshold, so 1 is exactly at the standard. Grey boxes: before "
        "the plan; coloured: after the last step. Rural boxes rising towards the urban ones is the "
        "gap narrowing.</p>"
    )
    out.append(_distribution_chart(stages, result.measures))
    out.append(
        "<h3>Lorenz curves</h3><p class='note'>Schools sorted from the poorest to the richest in "
        "each indicator: the curve shows what share of the resource the poorest x % of pupils "
        "hold. The diagonal is perfect equality; a curve closer to it (a smaller Gini) is "
        "fairer.</p>"
    )
    out.append(_lorenz_chart(stages, result.measures))
    out.append(
        "<h3>CV against its limit</h3><p class='note'>For each indicator, the largest "
        "pupil-weighted CV of any county, at each stage. The red dashed line is the limit a "
        "county must stay under (0.50 primary, 0.45 junior in the 2017 standard).</p>"
    )
    out.append(_cv_chart(stages, result.measures, result.standard))
    out.append(
        "<h2 id='map'>Map</h2><p class='note'>Schools coloured by area type (dot size: pupils). "
        "A cross marks a school closed by a merger; the arrow points to the school that receives "
        "its pupils. The coloured disc behind a school is its school district (one colour per "
        "district); purple lines join schools that exchange "
        "teachers in a rotation plan. Grey lines are roads.</p>"
    )
    out.append(_map_chart(result))
    # tables
    out.append("<h2 id='tables'>Tables</h2>")
    out.append(
        "<p class='note'>The county verdicts follow the standard: a county passes for primary "
        "(or junior) schools when every assessed school part meets the standard and every "
        "indicator's CV is within its limit.</p>"
    )
    out.append(_county_checks(result))
    final = result.measures[-1]
    out.append("<h3>By area type (mean indicator ÷ threshold), after the last step</h3>")
    out.append(_table(final.area_types))
    out.append("<h3>CV by county, after the last step</h3>")
    out.append(
        _table(
            final.cv.pivot_table(
                index=["county", "part"], columns="indicator", values="cv"
            ).reset_index()
        )
    )
    out.append("<h3>Travel to the nearest school, each stage</h3>")
    out.append(_table(result.tables["travel"]))
    out.append(
        "<p class='note'>Every plan table is in this folder as a CSV file (UTF-8, opens in "
        "Excel); result.json holds the figures above in machine-readable form.</p>"
    )
    return _page(s.name, "\n".join(out))


def _incomplete_banner(result, failure: dict) -> str:
    """The notice at the top of the report of a run whose step ``failure['index']`` failed."""
    done = len(result.steps)
    finished = (
        f"The {done} step{'s' if done != 1 else ''} before it finished and {'are' if done != 1 else 'is'} "
        "reported below; the figures 'after' are those after the last finished step."
        if done
        else "No step finished; the figures below describe the region before any plan."
    )
    return (
        "<div class='incomplete' id='incomplete' style='border:2px solid #d62728;"
        "background:#fdecea;padding:.6em 1em;margin:1em 0'>"
        f"<p><b>Incomplete run.</b> Step {int(failure['index'])}, <b>{_e(failure['step'])}</b> "
        f"({_e(failure['planner'])}), has no plan. {_e(finished)}</p>"
        f"<p>Diagnosis ({_e(failure['error'])}):</p><pre>{_e(failure['message'])}</pre></div>"
    )


_COST_LABELS = {
    "capital_yuan": "capital spent",
    "hiring_yuan_per_year": "new hires (a year)",
    "running_change_yuan_per_year": "change in running costs after mergers (a year)",
}


def _cost_line(result) -> str:
    from allocator.runner import costs

    figures = costs(result)
    items = [
        f"{label} {_fmt(figures[key])} yuan"
        for key, label in _COST_LABELS.items()
        if key in figures
    ]
    return f"<p><b>Money:</b> {_e('; '.join(items))}.</p>" if items else ""


def _county_checks(result) -> str:
    """allocator.check's county verdicts (pass/fail and why) before and after the plan."""
    from allocator.check import check

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
        out.append(f"<h3>County verdicts {_e(label)}</h3>" + _table(counties[keep]))
    return "".join(out)


def _cv_step_table(before, after) -> str:
    b = before.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    a = after.cv.groupby(["part", "indicator"], sort=False)["cv"].max()
    limits = after.cv.groupby("part")["limit"].first()
    rows, classes = [], []
    for key in a.index:
        part, k = key
        rows.append([f"{part}: {_SHORT.get(k, k)}", b.get(key), a.get(key), limits.get(part)])
        classes.append(["", "", _change_class(b.get(key), a.get(key), "low"), ""])
    if not rows:
        return ""
    df = pd.DataFrame(rows, columns=["CV (worst county)", "before", "after", "limit"])
    return (
        "<details><summary>CV of each indicator</summary>"
        + _table(df, classes=pd.DataFrame(classes))
        + "</details>"
    )


def _status(plan):
    from allocator.runner import _solve_info

    return _solve_info(plan)


# --------------------------------------------------------------------------- comparison report
def _best_classes(table: pd.DataFrame, variants: Sequence[str]) -> pd.DataFrame:
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


def _variant_labels(variants: Sequence[str]) -> list[str]:
    return [chart_label(v, f"V{i + 1}") for i, v in enumerate(variants)]


def _compare_charts(comparison) -> list[tuple[str, str, str]]:
    table = comparison.table.set_index("measure")
    variants = comparison.variants
    labels = _variant_labels(variants)
    colours = [_STAGE_COLOURS[(i + 1) % len(_STAGE_COLOURS)] for i in range(len(variants))]
    charts = []

    def value(key, v):
        try:
            return float(table.loc[key, v])
        except (KeyError, TypeError, ValueError):
            return np.nan

    def grouped_bars(ax, keys):
        """One group of bars per measure key: 'before' in grey, then each variant."""
        x = np.arange(len(keys))
        columns = ["before", *variants]
        width = 0.8 / len(columns)
        for j, col in enumerate(columns):
            ax.bar(
                x + j * width - 0.4 + width / 2,
                [value(k, col) for k in keys],
                width,
                color="#bbbbbb" if col == "before" else colours[j - 1],
                label="before" if col == "before" else labels[j - 1],
            )
        return x

    def cost_build(fig):
        ax1, ax2 = fig.subplots(1, 2)
        cost = [value("cost_yuan", v) / 1e6 for v in variants]
        ax1.bar(labels, cost, color=colours)
        ax1.set_ylabel("million yuan")
        ax1.set_title("Cost")
        comp = [value("parts_compliant", v) for v in variants]
        ax2.bar(labels, comp, color=colours)
        ax2.axhline(value("parts_compliant", "before"), color="#777", ls="--", label="before")
        ax2.set_title("School parts meeting the standard")
        ax2.legend(fontsize=8)
        for ax in (ax1, ax2):
            ax.tick_params(axis="x", rotation=20)

    charts.append(
        (
            "Cost and compliance",
            "What each variant spends (all steps with a cost) and how many school parts then meet "
            "the standard; the dashed line is the count before any plan.",
            _draw(cost_build, 11, 4, left=0.08, right=0.98, top=0.9, bottom=0.2, wspace=0.25),
        )
    )

    def cv_build(fig):
        parts = [
            p
            for p in ("primary", "junior")
            if any(k.startswith(f"cv_worst.{p}.") for k in table.index)
        ]
        axes = np.atleast_1d(fig.subplots(1, max(1, len(parts))))
        for ax, part in zip(axes, parts, strict=False):
            keys = [k for k in table.index if k.startswith(f"cv_worst.{part}.")]
            x = grouped_bars(ax, keys)
            limit = comparison.results[variants[0]].standard.cv_limit.get(part)
            if limit is not None:
                ax.axhline(limit, color="#b42318", ls="--", lw=1.2, label=f"limit {limit:g}")
            ax.set_xticks(
                x, [_SHORT.get(k.split(".")[-1], k) for k in keys], rotation=35, ha="right"
            )
            ax.set_title(f"{part}: CV (worst county)")
            ax.legend(fontsize=7)

    charts.append(
        (
            "CV of each indicator",
            "The largest pupil-weighted CV of any county for each indicator; lower is more "
            "balanced, and the red line is the limit.",
            _draw(cv_build, 12, 4.5, left=0.06, right=0.98, top=0.92, bottom=0.27, wspace=0.15),
        )
    )

    def ratio_build(fig):
        ax = fig.subplots()
        keys = [k for k in table.index if k.startswith("rural_urban.")]
        x = grouped_bars(ax, keys)
        ax.axhline(1.0, color="#333", lw=1)
        ax.set_xticks(x, [_SHORT.get(k.split(".")[-1], k) for k in keys], rotation=30, ha="right")
        ax.set_ylabel("rural mean ÷ urban mean")
        ax.legend(fontsize=8)

    charts.append(
        (
            "Rural / urban ratios",
            "Pupil-weighted mean of each indicator (as a share of its threshold) in rural schools "
            "divided by the same in urban schools: 1 means no urban–rural gap.",
            _draw(ratio_build, 12, 4.5, left=0.07, right=0.98, top=0.95, bottom=0.27),
        )
    )
    return charts


def render_comparison(comparison) -> str:
    """The HTML text of a comparison report: the measure × variant table first, then charts.

    Parameters
    ----------
    comparison : allocator.runner.Comparison

    Returns
    -------
    str

    Examples
    --------
    >>> import pathlib
    >>> from allocator.runner import compare_scenario
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> c = compare_scenario(f, write=False, workers=1, variants=["minimax", "lexicographic"],
    ...                      overrides={"region": {"schools": 40}})
    >>> "Side by side" in render_comparison(c)
    True
    """
    s = comparison.scenario
    variants = comparison.variants
    out = [f"<h1>{_e(s.name)}: comparison of {len(variants)} variants</h1>"]
    if s.description:
        out.append(f"<p>{_e(s.description)}</p>")
    out.append("<h2>Variants</h2><ul>")
    labels = _variant_labels(variants)
    for v, label in zip(variants, labels, strict=True):
        desc = next((x.description for x in s.variants if x.name == v), "")
        tag = f" (charts: {label})" if label != v else ""
        out.append(f"<li><b>{_e(v)}</b>{_e(tag)}: {_e(desc)}</li>")
    for v, why in comparison.failures.items():
        desc = next((x.description for x in s.variants if x.name == v), "")
        out.append(
            f"<li><b>{_e(v)}</b>: {_e(desc)} <span class='worse'>No plan: {_e(why)}</span></li>"
        )
    out.append("</ul>")
    table = comparison.table
    shown = table.drop(columns=["measure", "better"]).rename(columns={"label": "measure"})
    classes = _best_classes(table, variants).drop(columns=["measure", "better"])
    classes = classes.rename(columns={"label": "measure"})
    out.append(
        "<h2>Side by side</h2><p class='note'>One row per measure, one column per variant, "
        "measured on the region after the variant's last step (<i>before</i>: the region as "
        "loaded). The best value of each row is highlighted. CVs are the worst county's; the "
        "rural/urban ratio is best at 1; travel is to the nearest school that teaches the grade. "
        f"The same table is in comparison.csv. Run time {comparison.seconds:.1f} s.</p>"
    )
    out.append(_table(shown, classes=classes))
    out.append("<h2>Charts</h2>")
    for title, note, img in _compare_charts(comparison):
        out.append(f"<h3>{_e(title)}</h3><p class='note'>{_e(note)}</p>{img}")
    out.append("<h2>Each variant's plans</h2>")
    for v, r in comparison.results.items():
        out.append(f"<h3>{_e(v)}</h3>")
        for st in r.steps:
            summary = st.plan.summary() if hasattr(st.plan, "summary") else ""
            out.append(
                f"<details><summary>{_e(st.name)} ({_e(st.planner)})</summary><pre>{_e(summary)}</pre></details>"
            )
    return _page(f"{s.name}: comparison", "\n".join(out))
