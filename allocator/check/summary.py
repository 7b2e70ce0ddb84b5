"""The text summary of a compliance report: who passes, the worst gaps first, then the CVs.

:func:`summary_text` reads a :class:`~allocator.check.ComplianceReport`'s tables only; the
figures behind every line are in those tables. Every word comes from
:class:`allocator.i18n.Words` (keys ``checksum.*``): in English the indicators, parts and
settings are named by their ids, as in the tables; in Chinese by their official terms
(差异系数, 优质均衡, 基本均衡, 教学点...), ids only where a setting or column has no other name.
"""

from __future__ import annotations

import math
import unicodedata

import numpy as np
import pandas as pd

import allocator.compliance as compliance
from allocator.check.preschool_report import summary_lines
from allocator.i18n import Words, labels
from allocator.region import AREA_TYPES
from allocator.standards import PARTS, Standard
from allocator.text import plain

__all__ = ["summary_text"]


def _pct(x, words: Words) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return words("summary.na")
    return f"{100 * x:.0f}%"


def _count(words: Words, key: str, n: int) -> str:
    """``n`` and its noun in the singular or plural (keys ``key.one`` and ``key.many``)."""
    return words(f"{key}.{'one' if n == 1 else 'many'}", n=f"{n:,}")


def _term(words: Words, family: str, name) -> str:
    """An indicator, part, area type or level: its id in English (as the tables name it), its
    label ``family.name`` in another language (the id when there is none)."""
    if words.language == "en":
        return str(name)
    try:
        return words(f"{family}.{name}")
    except KeyError:
        return str(name)


def _title(words: Words, std: Standard) -> str:
    """The standard's title: the label ``checksum.standard.<name>`` when the standard keeps its
    built-in title (the label's English text), else the title as its file gives it."""
    key = f"checksum.standard.{std.name}"
    return words(key) if labels().get(key, {}).get("en") == std.title else std.title


def summary_text(report, top: int, language: str = "en") -> str:
    """The text of :meth:`allocator.check.ComplianceReport.summary`, in ``language``: schools and
    counties passing, the worst gaps, CVs over the limit, the urban-town-rural split, staffing,
    the preschool indicators when the region has kindergartens
    (:func:`allocator.check.preschool_report.summary_lines`) and input warnings.

    Examples
    --------
    >>> from allocator.check import check
    >>> from allocator.synth import make_region
    >>> report = check(make_region(schools=60, seed=1))
    >>> summary_text(report, 3).startswith("Compliance of ")
    True
    >>> summary_text(report, 3, "zh").splitlines()[2].startswith("学校：评估 51 个学段")
    True
    """
    words = Words(language)
    std = report.standard
    t = report.tables
    schools = t["schools"]
    ins = schools[schools["in_scope"]]
    assessed = ins[ins["passes"].notna()]
    title = words(
        "checksum.title", region=report.region_name, name=std.name, title=_title(words, std)
    )
    lines = [title, ""]
    lines += _passing_lines(t, std, assessed, words)
    lines += _gap_lines(t, std, assessed, top, words)
    lines += _cv_lines(t, std, top, words)
    lines += _spread_lines(t, std, words)
    lines += _open_lines(t.get("open_gaps"), std, 3, words)
    lines += summary_lines(t, language)
    lines += _warning_lines(t.get("warnings"), top, words)
    return "\n".join(lines).rstrip()


def _scope_reasons(schools: pd.DataFrame, std: Standard, words: Words) -> str:
    """``; 15 out of scope: teaching point under 50 pupils`` (each reason, most parts first)."""
    out = schools[~schools["in_scope"]]
    reasons = out["excluded_because"].value_counts()
    items = []
    for reason, n in reasons.items():
        shown = reason
        if words.language != "en":  # the reason's text is English: say it again from its level
            level = str(out.loc[out["excluded_because"] == reason, "level"].iloc[0])
            shown = (
                words("checksum.scope.level", level=_term(words, "level", level))
                if level in std.exclusions.levels
                else words("checksum.scope.small_point", n=std.exclusions.teaching_point_min_pupils)
            )
        items.append(words("checksum.out_of_scope", n=f"{n:,}", reason=shown))
    sep = words("checksum.sep")
    return sep + sep.join(items) if items else ""


def _passing_lines(t: dict, std: Standard, assessed: pd.DataFrame, words: Words) -> list[str]:
    """How many school parts and county parts pass, by area type; the defaults line."""
    schools, counties = t["schools"], t["counties"]
    ins = schools[schools["in_scope"]]
    lines = []
    list_sep = words("summary.list_sep")
    if len(assessed):
        passing = assessed["passes"].astype(bool)
        by_area = list_sep.join(
            f"{_term(words, 'area', a)} {_pct(passing[assessed['area_type'] == a].mean(), words)}"
            for a in AREA_TYPES
            if (assessed["area_type"] == a).any()
        )
        lines.append(
            words(
                "checksum.schools",
                parts=_count(words, "checksum.count.parts", len(assessed)),
                schools=_count(words, "checksum.count.schools", schools["school_id"].nunique()),
                scope=_scope_reasons(schools, std, words),
                passing=f"{int(passing.sum()):,}",
                share=_pct(passing.mean(), words),
                areas=by_area,
            )
        )
        failing = assessed[~passing]
        if len(failing):
            lines.append(
                words(
                    "checksum.failing",
                    n=f"{len(failing):,}",
                    rural=_pct((failing["area_type"] == "rural").mean(), words),
                    rural_all=_pct((assessed["area_type"] == "rural").mean(), words),
                )
            )
    elif len(ins):
        parts = _count(words, "checksum.count.parts", len(ins))
        lines.append(words("checksum.no_thresholds", parts=parts, standard=std.name))
    else:
        parts = _count(words, "checksum.count.bare_parts", len(schools))
        lines.append(words("checksum.none_in_scope", parts=parts))
    if len(counties):
        per_part = list_sep.join(
            f"{_term(words, 'part', p)} {int(c['passes'].sum())}/{len(c)}"
            for p, c in counties.groupby("part", sort=False)
        )
        lines.append(
            words(
                "checksum.counties",
                passing=int(counties["passes"].sum()),
                total=len(counties),
                parts=per_part,
            )
        )
    if line := _defaults_line(t.get("defaults"), words):
        lines.append(line)
    lines.append("")
    return lines


def _defaults_line(table: pd.DataFrame | None, words: Words) -> str | None:
    """The figures resting on defaults (:func:`allocator.defaults_report.defaults_table`); None
    when nothing does. In English it is :func:`allocator.defaults_report.defaults_line`."""
    if table is None or not len(table):
        return None
    columns = words("summary.list_sep").join(
        words(
            "checksum.defaults_item",
            column=f"{t}.{c}",
            schools=_count(words, "checksum.count.schools", int(n)),
        )
        for t, c, n in table[["table", "column", "schools"]].itertuples(index=False)
    )
    return words("checksum.defaults", columns=columns)


def _gap_lines(t: dict, std: Standard, assessed, top: int, words: Words) -> list[str]:
    """The ``top`` worst indicator gaps (pupil-weighted mean shortfall below the threshold)."""
    ranked = _shortfalls(assessed, std) if len(assessed) else []
    if not ranked:
        return []
    lines = [words("checksum.gaps.head")]
    gaps = t["area_gaps"].set_index(["part", "indicator"])
    for i, (short, part, k, below, rural_below, threshold) in enumerate(ranked[:top], 1):
        if below == 0:
            break
        ratio = gaps.loc[(part, k), "rural_urban_ratio"]
        row = words(
            "checksum.gaps.row",
            i=i,
            indicator=_term(words, "ind", k),
            part=_term(words, "part", part),
            threshold=f"{threshold:g}",
            below=_count(words, "checksum.count.schools", below),
            rural=_pct(rural_below / below, words),
            short=_pct(short, words),
            ratio=words("summary.na") if math.isnan(ratio) else f"{ratio:.2f}",
        )
        lines.append(" " + row)
    lines.append("")
    return lines


def _cv_lines(t: dict, std: Standard, top: int, words: Words) -> list[str]:
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
        end = (
            words("checksum.cv.undefined", n=undefined) if undefined else words("summary.full_stop")
        )
        lines.append(words("checksum.cv.each", over=len(over), total=len(long), undefined=end))
        for _, r in over.head(top).iterrows():
            row = words(
                "checksum.cv.row",
                county=r["county"],
                part=_term(words, "part", r["part"]),
                indicator=_term(words, "ind", r["indicator"]),
                cv=f"{r['cv']:.3f}",
                limit=f"{r['cv_limit']:.2f}",
            )
            lines.append(" " + row)
    else:
        comp = counties.sort_values("composite_cv", ascending=False)
        bad = comp[comp["composite_cv"].notna() & (comp["cv_failing"] > 0)]
        lines.append(words("checksum.cv.composite", bad=len(bad), total=len(comp)))
        for _, r in bad.head(top).iterrows():
            row = words(
                "checksum.cv.composite_row",
                county=r["county"],
                part=_term(words, "part", r["part"]),
                cv=f"{r['composite_cv']:.3f}",
                limit=f"{r['cv_limit']:.2f}",
            )
            lines.append(" " + row)
    lines.append("")
    return lines


def _spread_lines(t: dict, std: Standard, words: Words) -> list[str]:
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
            words(
                "checksum.theil",
                share=_pct(r["theil_between_share"], words),
                indicator=_term(words, "ind", r["indicator"]),
                part=_term(words, "part", r["part"]),
            )
        )
    lines += _staffing_lines(t["norms"], words)
    r2 = t["allocation_r2"].dropna(subset=["r2"])
    if len(r2):
        low = r2.sort_values("r2").iloc[0]
        lines.append(
            words(
                "checksum.r2",
                median=f"{r2['r2'].median():.2f}",
                county=low["county"],
                part=_term(words, "part", low["part"]),
                r2=f"{low['r2']:.2f}",
                randomness=f"{low['randomness']:.2f}",
            )
        )
    core = [u for u in std.unconfirmed if not u.startswith("open_indicators.")]
    opened = len(std.unconfirmed) - len(core)
    if core or (opened and "open_gaps" in t):
        extra = words("checksum.unconfirmed.open", n=opened) if opened and "open_gaps" in t else ""
        settings = words("summary.list_sep").join(core)
        lines.append(words("checksum.unconfirmed", settings=settings, extra=extra))
    return lines


def _staffing_lines(norms: pd.DataFrame, words: Words) -> list[str]:
    """Schools below the staffing norm and teachers short; schools over the size limits."""
    if not len(norms):
        return []
    short = norms[norms["staff_gap"] > 0]
    rural = (
        words("checksum.staffing.rural", share=_pct(short["area_type"].eq("rural").mean(), words))
        if len(short)
        else words("summary.full_stop")
    )
    lines = [
        words(
            "checksum.staffing",
            short=f"{len(short):,}",
            schools=_count(words, "checksum.count.schools", len(norms)),
            teachers=_count(words, "checksum.count.teachers", int(short["staff_gap"].sum())),
            rural=rural,
        )
    ]
    big = int(norms["over_school_size"].sum())
    crowded = int(norms["over_class_size"].sum())
    if big or crowded:
        lines.append(
            words(
                "checksum.size",
                big=_count(words, "checksum.count.schools", big),
                crowded=f"{crowded:,}",
            )
        )
    return lines


def _open_lines(gaps: pd.DataFrame | None, std: Standard, top: int, words: Words) -> list[str]:
    """Two lines on the open indicator set (tables ``open_*``): the widest rural / urban gaps and
    the targets rural schools are furthest from; nothing when the region has none of them."""
    if gaps is None or not len(gaps):
        return []
    status = words("checksum.open.status", standard=std.name)
    if std.open_assessed:
        names = [_term(words, "ind", k) for k in std.open_assessed]
        status += words("checksum.open.except", names=words("summary.list_sep").join(names))
    ratio = gaps.dropna(subset=["rural_urban_ratio"]).sort_values("rural_urban_ratio")
    head = words("checksum.open.head", n=len(gaps), status=status)
    items = [
        f"{_term(words, 'ind', r['indicator'])} {r['rural_urban_ratio']:.2f}"
        for _, r in ratio.iterrows()
    ]
    lines = ["", _fitted(head, items, top, words)]
    if "rural_share_meeting" in gaps:
        far = gaps.dropna(subset=["rural_share_meeting"]).sort_values("rural_share_meeting")
        if len(far):
            items = [
                f"{_term(words, 'ind', r['indicator'])} {_pct(r['rural_share_meeting'], words)}"
                for _, r in far.iterrows()
            ]
            lines.append(_fitted(words("checksum.open.rural"), items, top, words))
    return lines


def _columns(text: str) -> int:
    """Terminal columns of ``text``: two for a wide (Chinese) character, one for the others."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fitted(head: str, items: list[str], top: int, words: Words, width: int = 150) -> str:
    """``head`` and up to ``top`` items, fewer if the line would pass ``width`` columns."""
    sep = words("summary.list_sep")
    for n in range(min(top, len(items)), 0, -1):
        line = words("checksum.open.line", head=head, items=sep.join(items[:n]))
        if _columns(line) <= width:
            return line
    return words("checksum.open.line", head=head, items=items[0] if items else words("summary.na"))


def _warning_lines(warnings: pd.DataFrame | None, top: int, words: Words) -> list[str]:
    """The summary's list of input warnings: how many, then the first ``top`` of them. In a
    language other than English each warning is said again from its table and column (the
    English text with every figure is in the table ``warnings``)."""
    if warnings is None or not len(warnings):
        return []
    n = len(warnings)
    lines = ["", _count(words, "checksum.warnings.head", n)]
    for _, w in warnings.head(top).iterrows():
        where = (
            words("checksum.warnings.where", file=w["file"], line=w["line"])
            if pd.notna(w["file"]) and pd.notna(w["line"])
            else ""
        )
        text = w["warning"]
        if words.language != "en":
            key = f"checksum.warning.{w['table']}.{w['column']}"
            key = key if key in labels() else "checksum.warning.other"
            text = words(key, value=_shown(w["value"]))
        row = words(
            "checksum.warnings.row",
            where=where,
            table=w["table"],
            row=w["row_id"],
            column=w["column"],
            warning=text,
        )
        lines.append(" " + row)
    if n > top:
        lines.append(" " + words("checksum.warnings.more", n=f"{n - top:,}"))
    return lines


def _shown(value) -> str:
    """A warning's value as it reads: ``11,399``, ``2.5``, a text as it is."""
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{int(value):,}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:,g}"


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
