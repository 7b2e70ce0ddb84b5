"""The report's charts: indicator distributions, Lorenz curves, CV, the comparison's bars, budgets.

Each chart of a page is a function that returns an ``<img>`` tag (a base64 PNG drawn by
:func:`allocator.report.fonts.draw`); :func:`plot_budget_frontier` is the one chart drawn for the
user, on their own axes or into a file. The map of schools is in :mod:`allocator.report.maps`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.metrics import gini
from allocator.outputs import output_file, png_metadata
from allocator.report.fonts import chart_label, draw

__all__ = [
    "AREA_COLOURS",
    "STAGE_COLOURS",
    "SHORT_NAMES",
    "distribution_chart",
    "lorenz_chart",
    "cv_chart",
    "variant_labels",
    "comparison_charts",
    "plot_budget_frontier",
]

#: Colour of each area type in every chart.
AREA_COLOURS = {"urban": "#1f77b4", "town": "#ff7f0e", "rural": "#2ca02c"}
#: Colours of successive stages (before, step 1, ...) or variants, in turn.
STAGE_COLOURS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
#: Short chart and table labels of the seven indicators.
SHORT_NAMES = {
    "qualified_per_100": "qualified /100",
    "backbone_per_100": "backbone /100",
    "pe_arts_per_100": "PE+arts /100",
    "floor_m2_per_pupil": "floor m²/pupil",
    "sports_m2_per_pupil": "sports m²/pupil",
    "equipment_yuan_per_pupil": "equipment ¥/pupil",
    "multimedia_per_100": "multimedia /100",
}


# --------------------------------------------------------------------------- a run's charts
def _indicators(parts: pd.DataFrame) -> list[str]:
    return [k for k in SHORT_NAMES if f"{k}_share" in parts.columns or k in parts.columns]


def distribution_chart(stages: Sequence[str], measures) -> str:
    """Box plots of indicator / threshold by area type, first vs last stage.

    Parameters
    ----------
    stages : sequence of str
        Stage names (``"before"``, then each step).
    measures : sequence of allocator.results.Measures
        One per stage, each with its ``parts`` table.

    Returns
    -------
    str
        An ``<img>`` tag.
    """
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
            ax.set_title(SHORT_NAMES.get(k, k), fontsize=10)
        for ax in axes[len(indicators) :]:
            ax.axis("off")
        if len(indicators) < len(axes):
            ax = axes[-1]
            ax.text(0.05, 0.7, f"grey: {stages[0]}", transform=ax.transAxes)
            ax.text(0.05, 0.5, f"coloured: {stages[-1]}", transform=ax.transAxes)
            ax.text(0.05, 0.3, "red line: the threshold", transform=ax.transAxes, color="#b42318")
        fig.suptitle("Indicator value ÷ threshold, by area type (1 = exactly at the standard)")

    return draw(build, 12, 6, left=0.05, right=0.98, top=0.9, bottom=0.08, wspace=0.3, hspace=0.35)


def _lorenz(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    pupils = np.concatenate([[0], np.cumsum(w)]) / w.sum()
    resource = np.concatenate([[0], np.cumsum(v * w)]) / max((v * w).sum(), 1e-300)
    gini_value = 1 - np.sum((pupils[1:] - pupils[:-1]) * (resource[1:] + resource[:-1]))
    return pupils, resource, float(gini_value)


def lorenz_chart(stages: Sequence[str], measures) -> str:
    """Lorenz curves of each indicator over pupils, first vs last stage, with their Gini.

    Parameters and result as :func:`distribution_chart`.
    """
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
            ax.set_title(SHORT_NAMES.get(k, k), fontsize=10)
            ax.legend(fontsize=7, loc="upper left")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        for ax in axes[len(indicators) :]:
            ax.axis("off")
        fig.supxlabel("share of pupils (poorest schools first)")
        fig.supylabel("share of the resource")

    return draw(build, 12, 6, left=0.07, right=0.98, top=0.95, bottom=0.1, wspace=0.3, hspace=0.35)


def cv_chart(stages: Sequence[str], measures, standard) -> str:
    """Bars of each indicator's worst-county CV at each stage, with the standard's limit.

    Parameters and result as :func:`distribution_chart`; ``standard`` gives ``cv_limit``.
    """

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
                    color=STAGE_COLOURS[s % len(STAGE_COLOURS)],
                )
            limit = standard.cv_limit.get(part)
            if limit is not None:
                ax.axhline(limit, color="#b42318", ls="--", lw=1.2, label=f"limit {limit:g}")
            ax.set_xticks(x, [SHORT_NAMES.get(k, k) for k in indicators], rotation=35, ha="right")
            ax.set_title(f"{part}: CV of each indicator (worst county)")
            ax.legend(fontsize=8)

    return draw(build, 12, 4.5, left=0.06, right=0.98, top=0.92, bottom=0.27, wspace=0.15)


# --------------------------------------------------------------------------- a comparison's charts
def variant_labels(variants: Sequence[str]) -> list[str]:
    """Each variant's name as the charts show it (``V1``, ``V2``, ... if the font lacks it).

    Examples
    --------
    >>> variant_labels(["minimax"])
    ['minimax']
    """
    return [chart_label(v, f"V{i + 1}") for i, v in enumerate(variants)]


class _VariantBars:
    """A comparison's measure table with each variant's chart label and colour."""

    def __init__(self, comparison):
        self.comparison = comparison
        self.table = comparison.table.set_index("measure")
        self.variants = comparison.variants
        self.labels = variant_labels(self.variants)
        self.colours = [
            STAGE_COLOURS[(i + 1) % len(STAGE_COLOURS)] for i in range(len(self.variants))
        ]

    def value(self, key, v):
        """The table's value of measure ``key`` for variant (or ``"before"``) ``v``; NaN if none."""
        try:
            return float(self.table.loc[key, v])
        except (KeyError, TypeError, ValueError):
            return np.nan

    def grouped_bars(self, ax, keys):
        """One group of bars per measure key: 'before' in grey, then each variant."""
        x = np.arange(len(keys))
        columns = ["before", *self.variants]
        width = 0.8 / len(columns)
        for j, col in enumerate(columns):
            ax.bar(
                x + j * width - 0.4 + width / 2,
                [self.value(k, col) for k in keys],
                width,
                color="#bbbbbb" if col == "before" else self.colours[j - 1],
                label="before" if col == "before" else self.labels[j - 1],
            )
        return x


def _cost_chart(bars: _VariantBars) -> tuple[str, str, str]:
    def build(fig):
        ax1, ax2 = fig.subplots(1, 2)
        cost = [bars.value("cost_yuan", v) / 1e6 for v in bars.variants]
        ax1.bar(bars.labels, cost, color=bars.colours)
        ax1.set_ylabel("million yuan")
        ax1.set_title("Cost")
        comp = [bars.value("parts_compliant", v) for v in bars.variants]
        ax2.bar(bars.labels, comp, color=bars.colours)
        ax2.axhline(bars.value("parts_compliant", "before"), color="#777", ls="--", label="before")
        ax2.set_title("School parts meeting the standard")
        ax2.legend(fontsize=8)
        for ax in (ax1, ax2):
            ax.tick_params(axis="x", rotation=20)

    return (
        "Cost and compliance",
        "What each variant spends (all steps with a cost) and how many school parts then meet "
        "the standard; the dashed line is the count before any plan.",
        draw(build, 11, 4, left=0.08, right=0.98, top=0.9, bottom=0.2, wspace=0.25),
    )


def _variants_cv_chart(bars: _VariantBars) -> tuple[str, str, str]:
    table, variants = bars.table, bars.variants

    def build(fig):
        parts = [
            p
            for p in ("primary", "junior")
            if any(k.startswith(f"cv_worst.{p}.") for k in table.index)
        ]
        axes = np.atleast_1d(fig.subplots(1, max(1, len(parts))))
        for ax, part in zip(axes, parts, strict=False):
            keys = [k for k in table.index if k.startswith(f"cv_worst.{part}.")]
            x = bars.grouped_bars(ax, keys)
            limit = bars.comparison.results[variants[0]].standard.cv_limit.get(part)
            if limit is not None:
                ax.axhline(limit, color="#b42318", ls="--", lw=1.2, label=f"limit {limit:g}")
            ax.set_xticks(
                x, [SHORT_NAMES.get(k.split(".")[-1], k) for k in keys], rotation=35, ha="right"
            )
            ax.set_title(f"{part}: CV (worst county)")
            ax.legend(fontsize=7)

    return (
        "CV of each indicator",
        "The largest pupil-weighted CV of any county for each indicator; lower is more "
        "balanced, and the red line is the limit.",
        draw(build, 12, 4.5, left=0.06, right=0.98, top=0.92, bottom=0.27, wspace=0.15),
    )


def _ratio_chart(bars: _VariantBars) -> tuple[str, str, str]:
    def build(fig):
        ax = fig.subplots()
        keys = [k for k in bars.table.index if k.startswith("rural_urban.")]
        x = bars.grouped_bars(ax, keys)
        ax.axhline(1.0, color="#333", lw=1)
        ax.set_xticks(
            x, [SHORT_NAMES.get(k.split(".")[-1], k) for k in keys], rotation=30, ha="right"
        )
        ax.set_ylabel("rural mean ÷ urban mean")
        ax.legend(fontsize=8)

    return (
        "Rural / urban ratios",
        "Pupil-weighted mean of each indicator (as a share of its threshold) in rural schools "
        "divided by the same in urban schools: 1 means no urban–rural gap.",
        draw(build, 12, 4.5, left=0.07, right=0.98, top=0.95, bottom=0.27),
    )


def comparison_charts(comparison) -> list[tuple[str, str, str]]:
    """The charts of a comparison report: cost and compliance, CV, rural/urban ratios.

    Parameters
    ----------
    comparison : allocator.results.Comparison

    Returns
    -------
    list of (title, note, img)
        Each chart's heading, its explanation and its ``<img>`` tag.
    """
    bars = _VariantBars(comparison)
    return [_cost_chart(bars), _variants_cv_chart(bars), _ratio_chart(bars)]


# --------------------------------------------------------------------------- budget frontier
def plot_budget_frontier(frontier: pd.DataFrame, path_or_ax):
    """Plot a :func:`~allocator.planners.budget.budget_frontier` table: parts passing and largest
    shortfall against budget.

    Parameters
    ----------
    frontier : pandas.DataFrame
    path_or_ax : str, Path or matplotlib Axes
        A PNG/SVG/PDF file to write (drawn off-screen with the Agg backend), or axes to draw on.
        The file is written aside and moved into place whole; an existing file is never replaced,
        except a PNG chart allocator drew earlier (:func:`allocator.outputs.check_target`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import tempfile, os
    >>> f = pd.DataFrame({"budget": [0, 1e6], "parts_passing": [3, 5], "parts_in_scope": [8, 8],
    ...                   "max_shortfall": [0.6, 0.4]})
    >>> out = os.path.join(tempfile.mkdtemp(), "frontier.png")
    >>> _ = plot_budget_frontier(f, out); os.path.getsize(out) > 0
    True
    """
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    need = ["budget", "parts_passing", "parts_in_scope", "max_shortfall"]
    missing = [c for c in need if c not in frontier]
    if missing:
        raise InputError(
            f"frontier table lacks column(s) {', '.join(missing)}; pass budget_frontier(...)",
            table="frontier",
            column=missing[0],
        )
    if isinstance(path_or_ax, Axes):
        ax, path = path_or_ax, None
        fig = ax.figure
    elif isinstance(path_or_ax, str | Path):
        fig = Figure(figsize=(7, 4.2))
        FigureCanvasAgg(fig)
        ax, path = fig.add_subplot(1, 1, 1), Path(path_or_ax)
    else:
        raise InputError(
            f"path_or_ax={path_or_ax!r}; expected a file path or matplotlib Axes",
            table="frontier",
        )
    millions = frontier["budget"].to_numpy(float) / 1e6
    passing = frontier["parts_passing"].to_numpy(float) / np.maximum(
        frontier["parts_in_scope"].to_numpy(float), 1
    )
    ax.plot(millions, 100 * passing, marker="o", color="tab:blue", label="parts passing (%)")
    ax.set_xlabel("budget (million yuan)")
    ax.set_ylabel("assessed parts passing (%)", color="tab:blue")
    ax.set_ylim(0, 100)
    twin = ax.twinx()
    twin.plot(
        millions,
        frontier["max_shortfall"].to_numpy(float),
        marker="s",
        color="tab:red",
        label="largest shortfall",
    )
    twin.set_ylabel("largest normalised shortfall", color="tab:red")
    twin.set_ylim(bottom=0)
    ax.set_title("What each budget buys")
    ax.grid(alpha=0.3)
    if path is not None:
        fig.tight_layout()
        with output_file(path, "chart") as tmp:
            png = path.suffix.lower() == ".png"
            fig.savefig(tmp, dpi=120, metadata=png_metadata() if png else None)
    return fig
