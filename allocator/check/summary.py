"""The text summary of a compliance report: who passes, the worst gaps first, then the CVs.

:func:`summary_text` reads a :class:`~allocator.check.ComplianceReport`'s tables only; the
figures behind every line are in those tables.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import allocator.compliance as compliance
from allocator.check.preschool_report import summary_lines
from allocator.defaults_report import defaults_line
from allocator.region import AREA_TYPES
from allocator.standards import PARTS, Standard

__all__ = ["summary_text"]


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.0f}%"


def summary_text(report, top: int, language: str = "en") -> str:
    """The text of :meth:`allocator.check.ComplianceReport.summary`: schools and counties passing,
    the worst gaps, CVs over the limit, the urban-town-rural split, staffing, the preschool
    indicators when the region has kindergartens (in ``language``:
    :func:`allocator.check.preschool_report.summary_lines`) and input warnings.

    Examples
    --------
    >>> from allocator.check import check
    >>> from allocator.synth import make_region
    >>> summary_text(check(make_region(schools=60, seed=1)), 3).startswith("Compliance of ")
    True
    """
    std = report.standard
    t = report.tables
    schools = t["schools"]
    ins = schools[schools["in_scope"]]
    assessed = ins[ins["passes"].notna()]
    lines = [
        f"Compliance of {report.region_name!r} with {std.name} ({std.title})",
        "",
    ]
    lines += _passing_lines(t, std, assessed)
    lines += _gap_lines(t, std, assessed, top)
    lines += _cv_lines(t, std, top)
    lines += _spread_lines(t, std)
    lines += _open_lines(t.get("open_gaps"), std, 3)
    lines += summary_lines(t, language)
    lines += _warning_lines(t.get("warnings"), top)
    return "\n".join(lines).rstrip()


def _passing_lines(t: dict, std: Standard, assessed: pd.DataFrame) -> list[str]:
    """How many school parts and county parts pass, by area type; the defaults line."""
    schools, counties = t["schools"], t["counties"]
    ins = schools[schools["in_scope"]]
    lines = []
    n_school_ids = schools["school_id"].nunique()
    if len(assessed):
        passing = assessed["passes"].astype(bool)
        by_area = ", ".join(
            f"{a} {_pct(passing[assessed['area_type'] == a].mean())}"
            for a in AREA_TYPES
            if (assessed["area_type"] == a).any()
        )
        reasons = schools.loc[~schools["in_scope"], "excluded_because"].value_counts()
        scope = "; ".join(f"{n} out of scope: {r}" for r, n in reasons.items())
        lines.append(
            f"Schools: {len(assessed):,} school parts assessed ({n_school_ids:,} schools"
            + (f"; {scope}" if scope else "")
            + f"). {int(passing.sum()):,} pass ({_pct(passing.mean())}): {by_area}."
        )
        failing = assessed[~passing]
        if len(failing):
            share_rural = (failing["area_type"] == "rural").mean()
            share_rural_all = (assessed["area_type"] == "rural").mean()
            lines.append(
                f"Failing school parts: {len(failing):,}, of which {_pct(share_rural)} rural "
                f"(rural parts are {_pct(share_rural_all)} of all)."
            )
    elif len(ins):
        lines.append(
            f"Schools: {len(ins):,} school parts in scope; {std.name} sets no per-school thresholds."
        )
    else:
        lines.append(f"Schools: no school part is in scope ({len(schools):,} parts out of scope).")
    if len(counties):
        per_part = ", ".join(
            f"{p} {int(c['passes'].sum())}/{len(c)}"
            for p, c in counties.groupby("part", sort=False)
        )
        lines.append(
            f"Counties: {int(counties['passes'].sum())} of {len(counties)} county x part "
            f"assessments pass ({per_part})."
        )
    if line := defaults_line(t.get("defaults")):
        lines.append(line)
    lines.append("")
    return lines


def _gap_lines(t: dict, std: Standard, assessed: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` worst indicator gaps (pupil-weighted mean shortfall below the threshold)."""
    ranked = _shortfalls(assessed, std) if len(assessed) else []
    if not ranked:
        return []
    lines = ["Worst gaps first (pupil-weighted mean shortfall below the threshold):"]
    gaps = t["area_gaps"].set_index(["part", "indicator"])
    for i, (short, part, k, below, rural_below, threshold) in enumerate(ranked[:top], 1):
        if below == 0:
            break
        ratio = gaps.loc[(part, k), "rural_urban_ratio"]
        lines.append(
            f" {i}. {k} ({part}, threshold {threshold:g}): {below:,} schools below, "
            f"{_pct(rural_below / below)} of them rural; mean shortfall {_pct(short)}; "
            "rural/urban mean " + ("n/a" if math.isnan(ratio) else f"{ratio:.2f}")
        )
    lines.append("")
    return lines


def _cv_lines(t: dict, std: Standard, top: int) -> list[str]:
    """CVs over the limit: each value (``cv_rule = "each"``) or each composite CV, worst first."""
    long, counties = t["county_indicators"], t["counties"]
    if not len(long):
        return []
    lines = []
    cvs = long[long["cv"].notna()].copy()
    undefined = int(long["cv"].isna().sum())
    cvs["excess"] = cvs["cv"] / cvs["cv_limit"]
    over = cvs[~cvs["cv_ok"].astype(bool)].sort_values("excess", ascending=False)
    if std.cv_rule == "each":
        lines.append(
            f"CVs over the limit: {len(over)} of {len(long)} county x part x indicator values"
            + (
                f"; {undefined} undefined (every school at 0), counted as failing."
                if undefined
                else "."
            )
        )
        for _, r in over.head(top).iterrows():
            lines.append(
                f" - {r['county']} {r['part']} {r['indicator']}: CV {r['cv']:.3f} > {r['cv_limit']:.2f}"
            )
    else:
        comp = counties.sort_values("composite_cv", ascending=False)
        bad = comp[comp["composite_cv"].notna() & (comp["cv_failing"] > 0)]
        lines.append(f"Composite CV over the limit: {len(bad)} of {len(comp)} county parts.")
        for _, r in bad.head(top).iterrows():
            lines.append(
                f" - {r['county']} {r['part']}: composite CV {r['composite_cv']:.3f} > {r['cv_limit']:.2f}"
            )
    lines.append("")
    return lines


def _spread_lines(t: dict, std: Standard) -> list[str]:
    """The urban-town-rural share of inequality, staffing and size shortfalls, the teacher
    allocation R² and the standard's unconfirmed defaults."""
    lines = []
    area = t["area_gaps"]
    mixed = t["area_types"].groupby("part")["area_type"].nunique() if len(t["area_types"]) else []
    area = (
        area[area["part"].isin([p for p, n in dict(mixed).items() if n > 1])] if len(area) else area
    )
    if len(area) and area["theil_between_share"].notna().any():
        a = area.dropna(subset=["theil_between_share"]).sort_values(
            "theil_between_share", ascending=False
        )
        r = a.iloc[0]
        lines.append(
            f"Urban-town-rural split explains up to {_pct(r['theil_between_share'])} of the "
            f"inequality ({r['indicator']}, {r['part']}; Theil between-share)."
        )
    norms = t["norms"]
    short = norms[norms["staff_gap"] > 0]
    if len(norms):
        rural_short = short["area_type"].eq("rural").mean() if len(short) else math.nan
        lines.append(
            f"Staffing: {len(short):,} of {len(norms):,} schools below the staffing norm, "
            f"{int(short['staff_gap'].sum()):,} teachers short in all"
            + (f" ({_pct(rural_short)} of those schools rural)." if len(short) else ".")
        )
        big = int(norms["over_school_size"].sum())
        crowded = int(norms["over_class_size"].sum())
        if big or crowded:
            lines.append(
                f"Size: {big} schools over the school-size limit, {crowded} with average classes "
                "over the class-size limit."
            )
    r2 = t["allocation_r2"].dropna(subset=["r2"])
    if len(r2):
        low = r2.sort_values("r2").iloc[0]
        lines.append(
            f"Teacher allocation R² (teachers on pupils): median {r2['r2'].median():.2f}; "
            f"lowest {low['county']} {low['part']} {low['r2']:.2f} (randomness {low['randomness']:.2f})."
        )
    core = [u for u in std.unconfirmed if not u.startswith("open_indicators.")]
    opened = len(std.unconfirmed) - len(core)
    if core or (opened and "open_gaps" in t):
        extra = f"; {opened} open-indicator targets" if opened and "open_gaps" in t else ""
        lines.append(f"Unconfirmed defaults in this standard: {', '.join(core)}{extra}.")
    return lines


def _open_lines(gaps: pd.DataFrame | None, std: Standard, top: int) -> list[str]:
    """Two lines on the open indicator set (tables ``open_*``): the widest rural / urban gaps and
    the targets rural schools are furthest from; nothing when the region has none of them."""
    if gaps is None or not len(gaps):
        return []
    status = f"not part of the {std.name} verdict"
    if std.open_assessed:
        status += f" except {', '.join(std.open_assessed)}"
    ratio = gaps.dropna(subset=["rural_urban_ratio"]).sort_values("rural_urban_ratio")
    lines = [
        "",
        _fitted(
            f"Open indicators ({len(gaps)}), {status} (tables open_*): lowest rural/urban",
            [f"{r['indicator']} {r['rural_urban_ratio']:.2f}" for _, r in ratio.iterrows()],
            top,
        ),
    ]
    if "rural_share_meeting" in gaps:
        far = gaps.dropna(subset=["rural_share_meeting"]).sort_values("rural_share_meeting")
        if len(far):
            items = [
                f"{r['indicator']} {_pct(r['rural_share_meeting'])}" for _, r in far.iterrows()
            ]
            lines.append(_fitted("Rural schools meeting the open targets:", items, top))
    return lines


def _fitted(head: str, items: list[str], top: int, width: int = 150) -> str:
    """``head`` and up to ``top`` items, fewer if the line would pass ``width`` characters."""
    for n in range(min(top, len(items)), 0, -1):
        line = f"{head} {', '.join(items[:n])}."
        if len(line) <= width:
            return line
    return f"{head} n/a." if not items else f"{head} {items[0]}."


def _warning_lines(warnings: pd.DataFrame | None, top: int) -> list[str]:
    """The summary's list of input warnings: how many, then the first ``top`` of them."""
    if warnings is None or not len(warnings):
        return []
    n = len(warnings)
    lines = ["", f"Input warnings: {n:,} value{'s' if n != 1 else ''} to check (table warnings):"]
    for _, w in warnings.head(top).iterrows():
        where = (
            f"{w['file']}, line {w['line']}: "
            if pd.notna(w["file"]) and pd.notna(w["line"])
            else ""
        )
        lines.append(f" - {where}{w['table']} {w['row_id']} {w['column']}: {w['warning']}")
    if n > top:
        lines.append(f" - ... and {n - top:,} more")
    return lines


def _shortfalls(assessed: pd.DataFrame, std: Standard) -> list[tuple]:
    """(mean relative shortfall, part, indicator, schools below, rural below, threshold), worst
    first; the shortfall of a school is max(1 - value / threshold, 0), averaged over pupils."""
    ranked = []
    for part in PARTS:
        d = assessed[assessed["part"] == part]
        if d.empty:
            continue
        w = d["pupils"].to_numpy(float)
        rural = (d["area_type"] == "rural").to_numpy()
        for k in std.assessed_indicators(part):
            threshold = std.thresholds[part][k]
            v = d[k].to_numpy(float)
            below = ~compliance.meets(v, threshold)
            short = (
                float(np.dot(w, np.maximum(1 - v / threshold, 0)) / w.sum())
                if threshold > 0
                else 0.0
            )
            ranked.append((short, part, k, int(below.sum()), int((below & rural).sum()), threshold))
    ranked.sort(key=lambda r: (-r[0], -r[3]))
    return ranked
