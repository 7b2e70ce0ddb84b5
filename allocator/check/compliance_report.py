"""Compliance report: how a region's schools and counties measure up to a standard.

Model
-----
Sets: schools s; assessed parts p of each school (primary, junior; :func:`assessment_parts`);
counties c; area types a (urban, town, rural); indicators k of the standard.

* School part p: value v_pk, met_pk = (v_pk >= t_k within ``allocator.compliance.MET_RTOL``),
  gap_pk = max(t_k - v_pk, 0), k over ``standard.assessed_indicators(part)``;
  passes_p = (sum_k met_pk >= min_indicators_met) and, if floor_share f is set,
  v_pk >= f t_k for every k (:func:`allocator.compliance.part_verdicts`).
* County c, part type: CV_ck = pupil-weighted CV of v_pk over its in-scope parts
  (:func:`allocator.metrics.cv`); rule "each": every CV_ck <= limit; rule "composite":
  mean_k CV_ck <= limit. The county passes when the CV rule holds and every in-scope part passes
  (:func:`allocator.compliance.county_verdicts`). These verdicts are the library's only ones: the
  scenario runner and the budget planner call the same functions.
* Area types: pupil-weighted mean of v_pk per area type, rural / urban ratio, and the Theil T
  between-group share of the urban / town / rural split (:func:`allocator.metrics.theil_decomposition`;
  schools with a value of 0, e.g. no backbone teacher, enter with the limit 0 ln 0 = 0 and the
  ``note`` column says how many).
* Teacher allocation: R^2 of teachers on pupils across the parts of one county and part type
  (:func:`allocator.metrics.allocation_r2`); 1 - R^2 is the "degree of randomness".
* Staffing: required teachers by the norms (:func:`allocator.standards.staffing_requirements`)
  against actual teachers; class and school size against their limits.

Statistics over counties and area types use in-scope parts only (teaching points under 50 pupils
and excluded levels are listed but not counted). Nothing is optimised here: the report only measures.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import allocator.compliance as compliance
import allocator.metrics as metrics
from allocator.check.open_report import open_tables
from allocator.check.summary import summary_text
from allocator.defaults_report import defaults_table
from allocator.errors import InputError
from allocator.plausibility import region_warnings
from allocator.standards import (
    INDICATOR_UNITS,
    PARTS,
    Standard,
    assessment_parts,
    load_standard,
    staffing_requirements,
)

__all__ = ["check", "ComplianceReport"]

AREA_ORDER = ("urban", "town", "rural")


@dataclass
class ComplianceReport:
    """The result of :func:`check`.

    Attributes
    ----------
    region_name : str
    standard : Standard
    tables : dict of str -> pandas.DataFrame
        ``schools`` (one row per assessed part: indicator values, ``<k>_met``, ``<k>_gap``,
        ``indicators_met``, ``passes``, part teachers vs ``required_teachers``), ``counties`` (per
        county and part: ``cv_<k>``, limit, share of schools passing, ``passes``, ``reason``),
        ``county_indicators`` (the same per indicator, long form, with means and shortfalls),
        ``area_types`` (per part and area type: pupil-weighted mean of each indicator),
        ``area_gaps`` (per part and indicator: rural / urban ratio, Theil between-share),
        ``allocation_r2`` (per county and part), ``norms`` (per school: staffing, class and school
        size), ``thresholds`` (the standard's numbers used), ``warnings`` (values that are
        possible but unusual, and duplicate roads found on loading: one row each, see
        :func:`allocator.plausibility.region_warnings`), ``defaults`` (school columns filled with
        a default by a GIS import, from ``filled_columns``: see :mod:`allocator.defaults_report`);
        when the region has columns of the standard's open indicator set (digital campus, safety,
        training), also ``open_schools``, ``open_counties`` and ``open_gaps``
        (:mod:`allocator.check.open_report`), marked as not part of the verdict unless the
        standard's ``open_assessed`` names them.
    """

    region_name: str
    standard: Standard
    tables: dict[str, pd.DataFrame] = field(repr=False)

    @property
    def passes(self) -> bool:
        """True when every county passes for every part type it has."""
        counties = self.tables["counties"]
        return bool(len(counties) and counties["passes"].all())

    def __repr__(self) -> str:
        c = self.tables["counties"]
        s = self.tables["schools"]
        ins = s[s["in_scope"]]
        return (
            f"ComplianceReport({self.region_name!r}, {self.standard.name}: "
            f"{int(c['passes'].sum())}/{len(c)} county parts pass, "
            f"{int(ins['passes'].fillna(False).astype(bool).sum())}/{len(ins)} school parts pass)"
        )

    def summary(self, top: int = 5, language: str = "en") -> str:
        """A short text, worst gaps first, that a planner can read in half a minute.

        Parameters
        ----------
        top : int
            How many items to list in each ranking.
        language : {"en", "zh"}
            The language of the whole summary.
        """
        return summary_text(self, top, language)

    def to_csv(
        self,
        folder: str | os.PathLike,
        *,
        force: bool = False,
        source: str | os.PathLike | None = None,
        language: str = "en",
    ) -> list[Path]:
        """Write every table as ``<name>.csv`` (UTF-8) and the summary as ``summary.txt`` (in
        ``language``, "en" or "zh", like :meth:`summary`).

        The files are written into a temporary folder beside ``folder`` that then takes its place
        whole, with allocator's marker file (:data:`allocator.outputs.MARKER`) inside, so a
        failure never leaves a half-written report. An existing ``folder`` is replaced only if it
        is an earlier report of this kind that nobody changed since, or, with ``force=True``, any
        folder allocator wrote; a folder allocator did not write is never replaced, nor the
        current folder, the region data (``source``) or a folder that contains them. Text cells a
        spreadsheet would evaluate are written with a leading ``'``.

        Parameters
        ----------
        folder : str or path-like
        force : bool
            Replace an output allocator wrote even if it was changed or made by another command.
        source : str or path-like, optional
            The region data the report was made from: protected, and recorded in the marker.
        language : {"en", "zh"}
            The language of ``summary.txt``.

        Returns
        -------
        list of Path
            The files written.

        Raises
        ------
        InputError
            When the folder may not be replaced, or on a permission or rename failure.
        """
        from allocator.outputs import output_folder
        from allocator.sheets import inside, write_csv

        target = Path(folder)
        names = []
        protect = [(source, "the region data")] if source is not None else []
        with output_folder(target, "check", source=source, force=force, protect=protect) as tmp:
            for name, table in self.tables.items():
                write_csv(table, inside(tmp, f"{name}.csv"))
                names.append(f"{name}.csv")
            summary = self.summary(language=language)
            (tmp / "summary.txt").write_text(summary + "\n", encoding="utf-8")
            names.append("summary.txt")
        return [target / n for n in names]


# --------------------------------------------------------------------------- main entry
def check(region, standard: Standard | str | os.PathLike = "moe2017") -> ComplianceReport:
    """Measure a region against a standard: schools, counties, area types, teacher allocation.

    Parameters
    ----------
    region : Region or pandas.DataFrame
        A :class:`~allocator.region.Region` (or its schools table).
    standard : Standard, str or path
        A :class:`~allocator.standards.Standard`, a built-in name (``"moe2017"``, ``"moe2012"``)
        or a TOML file.

    Returns
    -------
    ComplianceReport

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> report = check(make_region(schools=300, seed=1))
    >>> sorted(report.tables)[:4]
    ['allocation_r2', 'area_gaps', 'area_types', 'counties']
    >>> s = report.tables["schools"]
    >>> failing = s[s["in_scope"] & ~s["passes"].astype(bool)]
    >>> bool((failing["area_type"] == "rural").mean() > 0.5)
    True
    """
    std = standard if isinstance(standard, Standard) else load_standard(standard)
    if isinstance(region, pd.DataFrame):
        schools, name = region, "schools"
    elif hasattr(region, "schools"):
        schools, name = region.schools, getattr(region, "name", "region")
    else:
        raise InputError(f"expected a Region or a schools DataFrame; got {type(region).__name__}")
    parts = assessment_parts(schools, std)
    norms = _norms(schools, std)
    school_table = _schools_table(schools, parts, norms, std)
    extra = open_tables(schools, parts, std)  # {} when the region has no open-indicator column
    norms = norms.drop(columns="_by_pupils")
    county_table, county_long = _counties(school_table, std)
    area_table, area_gaps = _area_types(school_table, std)
    tables = {
        "schools": school_table,
        "counties": county_table,
        "county_indicators": county_long,
        "area_types": area_table,
        "area_gaps": area_gaps,
        "allocation_r2": _allocation(school_table, std),
        "norms": norms,
        "thresholds": _thresholds(std),
        "warnings": region_warnings(region, std),
        "defaults": defaults_table(schools),
        **extra,
    }
    return ComplianceReport(region_name=str(name), standard=std, tables=tables)


# --------------------------------------------------------------------------- schools
def _norms(schools: pd.DataFrame, std: Standard) -> pd.DataFrame:
    req = staffing_requirements(schools, std)
    pupils = (
        schools["pupils_lower_primary"]
        + schools["pupils_upper_primary"]
        + schools["pupils_junior"]
        + schools["pupils_senior"]
    ).to_numpy()
    classes = schools["classes"].to_numpy(float)
    level = schools["level"].astype(str).to_numpy()
    # class-size limit of the school's highest band (a nine-year school: the junior 50)
    band = np.where(
        np.isin(level, ["primary", "teaching_point"]),
        "primary",
        np.where(level == "senior", "senior", "junior"),
    )
    class_max = np.array([std.class_size.max.get(b, np.nan) for b in band], dtype=float)
    per_class = np.divide(pupils, classes, out=np.full(len(pupils), np.nan), where=classes > 0)
    size_max = np.array([std.school_size.max_pupils.get(lv, np.nan) for lv in level], dtype=float)
    out = pd.DataFrame(
        {
            "school_id": schools["school_id"].to_numpy(),
            "name": schools["name"].to_numpy() if "name" in schools else "",
            "county": schools["county"].to_numpy(),
            "area_type": schools["area_type"].to_numpy(),
            "level": level,
            "pupils": pupils.astype(np.int64),
            "classes": schools["classes"].to_numpy(),
            "teachers": schools["teachers"].to_numpy(),
            "required_teachers": req["required_teachers"].to_numpy(),
            "staff_rule": req["rule"].to_numpy(),
            "staff_gap": req["required_teachers"].to_numpy() - schools["teachers"].to_numpy(),
            "pupils_per_class": per_class,
            "class_size_max": class_max,
            "large_classes_likely": per_class >= std.class_size.large,
            "over_class_size": per_class > class_max,
            "school_size_max": size_max,
            "over_school_size": pupils > size_max,
        }
    )
    out["staffed"] = out["staff_gap"] <= 0
    out["_by_pupils"] = req["by_pupils"].to_numpy()
    return out


def _schools_table(
    schools: pd.DataFrame, parts: pd.DataFrame, norms: pd.DataFrame, std: Standard
) -> pd.DataFrame:
    out = parts.copy()
    if "name" in schools:
        names = dict(zip(schools["school_id"], schools["name"], strict=False))
        out.insert(1, "name", out["school_id"].map(names))
    out = out.join(compliance.part_verdicts(out, std))
    part = out["part"].to_numpy()
    # staffing per part: a single-part school takes the school's figures; a nine-year school's
    # requirement is split in proportion to its bands' pupil-ratio requirements
    norm = norms.set_index("school_id")
    required = norm["required_teachers"].reindex(out["school_id"]).to_numpy(float)
    by_pupils = norm["_by_pupils"].reindex(out["school_id"]).to_numpy(float)
    ratio = np.array([std.staffing.pupils_per_teacher[p] for p in part])
    if std.staffing.rural_pupils_per_teacher is not None:
        rural = out["area_type"].to_numpy() == "rural"
        ratio = np.where(rural, [std.staffing.rural_pupils_per_teacher[p] for p in part], ratio)
    band_req = np.ceil(np.round(out["pupils"].to_numpy(float) / ratio, 9))
    multi = out["share"].to_numpy() < 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        split = np.where(by_pupils > 0, required * band_req / by_pupils, required * out["share"])
    out["required_teachers"] = np.where(multi, split, required)
    out["staff_gap"] = out["required_teachers"] - out["teachers"]
    return out


# --------------------------------------------------------------------------- counties
def _safe(fn, *args):
    try:
        return fn(*args), ""
    except ValueError as exc:
        return math.nan, str(exc)


def _counties(schools: pd.DataFrame, std: Standard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """County tables: the verdicts of :func:`allocator.compliance.county_verdicts`, with the share
    of schools passing, the reasons, and per indicator the means and shortfalls."""
    ins = schools[schools["in_scope"]]
    verdicts, cvs = compliance.county_verdicts(ins, std)
    if verdicts.empty:
        counties = pd.DataFrame(
            columns=["county", "part", "schools", "pupils", "passes", "reason"]
        ).astype({"passes": bool})
        return counties, pd.DataFrame()
    groups = dict(list(ins.groupby(["county", "part"], sort=True)))
    rows, long_rows = [], []
    cv_notes = cvs.set_index(["county", "part", "indicator"])
    for v in verdicts.to_dict("records"):
        county, part = v["county"], v["part"]
        g = groups[(county, part)]
        pupils = g["pupils"].to_numpy(float)
        limit = v["cv_limit"]
        assessed = std.assessed_indicators(part)
        row = {k: v[k] for k in ("county", "part", "schools", "pupils", "schools_passing")}
        if assessed:
            passing = g["passes"].astype(bool).to_numpy()
            row["share_passing"] = float(passing.mean())
            row["pupils_in_failing_schools"] = int(pupils[~passing].sum())
        else:
            row["share_passing"] = math.nan
            row["pupils_in_failing_schools"] = pd.NA
        problems = []
        for k in std.indicators:
            row[f"cv_{k}"] = v[f"cv_{k}"]
            value = v[f"cv_{k}"]
            why = cv_notes.loc[(county, part, k), "note"]
            values = g[k].to_numpy(float)
            t = std.thresholds.get(part, {}).get(k) if k in assessed else None
            below = ~compliance.meets(values, t) if t is not None else np.zeros(len(values), bool)
            long_rows.append(
                {
                    "county": county,
                    "part": part,
                    "indicator": k,
                    "cv": value,
                    "cv_limit": limit,
                    "cv_ok": bool(cv_notes.loc[(county, part, k), "cv_ok"]),
                    "mean": metrics.weighted_mean(values, pupils),
                    "min": float(values.min()),
                    "max": float(values.max()),
                    "threshold": math.nan if t is None else t,
                    "schools_below": int(below.sum()),
                    "pupils_below": int(pupils[below].sum()),
                    "shortfall": float(np.dot(pupils, np.maximum(1 - values / t, 0)) / pupils.sum())
                    if t
                    else math.nan,
                    "note": why,
                }
            )
            if why:
                problems.append(f"CV of {k} undefined ({why.split(';')[0]})")
        row["cv_limit"] = limit
        if std.cv_rule == "composite":
            composite = v["composite_cv"]
            row["composite_cv"] = composite
            if not v["cv_ok"] and not math.isnan(composite):
                problems.append(f"composite CV {composite:.3f} > {limit:.2f}")
        else:
            over = {
                k: v[f"cv_{k}"]
                for k in std.indicators
                if not math.isnan(v[f"cv_{k}"]) and not compliance.within_limit(v[f"cv_{k}"], limit)
            }
            if over:
                worst = sorted(over.items(), key=lambda kv: -kv[1])
                problems.append(
                    f"CV over {limit:.2f}: " + ", ".join(f"{k} {c:.3f}" for k, c in worst)
                )
        row["cv_failing"] = v["cv_failing"]
        if not v["schools_ok"]:
            failing = row["schools"] - row["schools_passing"]
            rule = f"{std.min_indicators_met} of {len(assessed)} indicators"
            if std.floor_share is not None:
                rule += f" with the {std.floor_share:.0%} floor"
            if std.open_assessed:
                rule += f" or {', '.join(std.open_assessed)}"
            problems.insert(0, f"{failing} of {row['schools']} schools miss {rule}")
        row["passes"] = bool(v["passes"])
        row["reason"] = "; ".join(problems)
        rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(long_rows)


# --------------------------------------------------------------------------- area types
def _area_types(schools: pd.DataFrame, std: Standard) -> tuple[pd.DataFrame, pd.DataFrame]:
    ins = schools[schools["in_scope"]]
    rows, gaps = [], []
    indicators = list(std.indicators)
    for part in PARTS:
        g = ins[ins["part"] == part]
        if g.empty:
            continue
        means = {}
        for area in AREA_ORDER:
            a = g[g["area_type"] == area]
            if a.empty:
                continue
            w = a["pupils"].to_numpy(float)
            row = {"part": part, "area_type": area, "schools": len(a), "pupils": int(w.sum())}
            if std.assessed_indicators(part):
                row["share_passing"] = float(a["passes"].astype(bool).mean())
            for k in indicators:
                row[k] = metrics.weighted_mean(a[k].to_numpy(float), w)
            means[area] = row
            rows.append(row)
        w = g["pupils"].to_numpy(float)
        for k in indicators:
            v = g[k].to_numpy(float)
            d, why = _safe(
                lambda *a: metrics.theil_decomposition(*a, zeros="limit"),
                v,
                g["area_type"].to_numpy(),
                w,
            )
            if not why and d.zero_values:
                why = f"{d.zero_values} school(s) at 0 counted with 0 ln 0 = 0"
            urban = means.get("urban", {}).get(k, math.nan)
            rural = means.get("rural", {}).get(k, math.nan)
            t = std.thresholds.get(part, {}).get(k) if k in std.assessed_indicators(part) else None
            gaps.append(
                {
                    "part": part,
                    "indicator": k,
                    "urban": urban,
                    "town": means.get("town", {}).get(k, math.nan),
                    "rural": rural,
                    "rural_urban_ratio": rural / urban if urban > 0 else math.nan,
                    "threshold": math.nan if t is None else t,
                    "cv": _safe(metrics.cv, v, w)[0],
                    "gini": _safe(metrics.gini, v, w)[0],
                    "theil": math.nan if why else d.total,
                    "theil_between": math.nan if why else d.between,
                    "theil_between_share": math.nan if why else d.between_share,
                    "note": why,
                }
            )
    return pd.DataFrame(rows), pd.DataFrame(gaps)


# --------------------------------------------------------------------------- allocation
def _allocation(schools: pd.DataFrame, std: Standard) -> pd.DataFrame:
    keep = ~schools["level"].isin(list(std.exclusions.levels))
    rows = []
    for (county, part), g in schools[keep].groupby(["county", "part"], sort=True):
        r2, why = _safe(
            metrics.allocation_r2, g["pupils"].to_numpy(float), g["teachers"].to_numpy(float)
        )
        rows.append(
            {
                "county": county,
                "part": part,
                "schools": len(g),
                "r2": r2,
                "randomness": 1 - r2,
                "pupils_per_teacher": float(g["pupils"].sum() / g["teachers"].sum())
                if g["teachers"].sum() > 0
                else math.nan,
                "note": why,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["county", "part", "schools", "r2", "randomness", "pupils_per_teacher", "note"],
    )


def _thresholds(std: Standard) -> pd.DataFrame:
    rows = []
    for part in PARTS:
        for k in std.indicators:
            t = std.thresholds.get(part, {}).get(k) if k in std.assessed_indicators(part) else None
            rows.append(
                {
                    "part": part,
                    "indicator": k,
                    "unit": INDICATOR_UNITS[k],
                    "threshold": math.nan if t is None else t,
                    "cv_limit": std.cv_limit[part],
                }
            )
    return pd.DataFrame(rows)
