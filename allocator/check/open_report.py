"""The open indicator set in a compliance report: digital campus, safety and training.

Model
-----
Schools s with a compulsory part (rows of :func:`allocator.standards.assessment_parts`), pupils
P_s = the pupils of their parts, in scope when one of their parts is; v_sk = the school's value of
open indicator k (:func:`allocator.standards.open_indicator_values`), NaN where k does not apply.

* School: ``<k>`` = v_sk and ``<k>_met`` = v_sk >= t_k (within :data:`allocator.compliance.MET_RTOL`;
  NA without a threshold or a value).
* County c: over its in-scope schools with a value, the pupil-weighted mean
  sum P_s v_sk / sum P_s, the pupil-weighted CV (:func:`allocator.metrics.cv`), min, max, schools
  and pupils below t_k and the share of schools meeting it.
* Region: the pupil-weighted mean by area type (urban, town, rural), the rural / urban ratio of
  those means and the region-wide pupil-weighted CV.

Every row says whether the indicator is part of the verdict: ``"not part of the <standard>
verdict"``, or ``"assessed (<standard>)"`` for the indicators of ``standard.open_assessed``, whose
threshold each school must then meet for its parts to pass (judged with the seven by
:func:`allocator.compliance.part_verdicts`, so every verdict of the library applies it).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import allocator.compliance as compliance
import allocator.metrics as metrics
from allocator.standards import Standard, open_indicator_values

__all__ = ["open_tables", "verdict_label", "AREAS"]

#: Area types in report order.
AREAS = ("urban", "town", "rural")


def verdict_label(name: str, std: Standard) -> str:
    """Whether open indicator ``name`` is part of the verdict, as the report's tables say it.

    Examples
    --------
    >>> from allocator.standards import load_standard
    >>> verdict_label("bandwidth_mbps", load_standard())
    'not part of the moe2017 verdict'
    """
    if name in std.open_assessed:
        return f"assessed ({std.name})"
    return f"not part of the {std.name} verdict"


def _cv(values: np.ndarray, pupils: np.ndarray) -> tuple[float, str]:
    try:
        return float(metrics.cv(values, pupils)), ""
    except ValueError as exc:
        return math.nan, str(exc)


def _mean(values: np.ndarray, pupils: np.ndarray) -> float:
    return float(np.dot(values, pupils) / pupils.sum()) if pupils.sum() > 0 else math.nan


def _school_rows(schools: pd.DataFrame, parts: pd.DataFrame, std: Standard) -> pd.DataFrame:
    """One row per school with a compulsory part: pupils, scope and the open values and verdicts."""
    values = open_indicator_values(schools, std)
    if values.shape[1] == 0:
        return pd.DataFrame()
    by_school = parts.groupby("school_id", sort=False).agg(
        pupils=("pupils", "sum"), in_scope=("in_scope", "any")
    )
    frame = schools.reset_index(drop=True)
    keep = frame["school_id"].isin(by_school.index).to_numpy()
    out = pd.DataFrame(
        {
            "school_id": frame["school_id"].to_numpy()[keep],
            "county": frame["county"].to_numpy()[keep],
            "area_type": frame["area_type"].to_numpy()[keep],
            "level": frame["level"].to_numpy()[keep],
        }
    )
    if "name" in frame:
        out.insert(1, "name", frame["name"].to_numpy()[keep])
    out["pupils"] = by_school["pupils"].reindex(out["school_id"]).to_numpy().astype(np.int64)
    out["in_scope"] = by_school["in_scope"].reindex(out["school_id"]).to_numpy().astype(bool)
    missed = [[] for _ in range(len(out))]
    for k in values.columns:
        v = values[k].to_numpy(float)[keep]
        out[k] = v
        t = std.open_indicators[k].threshold
        if t is None:
            continue
        judged = ~np.isnan(v)
        met = compliance.meets(v, t)
        out[f"{k}_met"] = pd.array(np.where(judged, met, pd.NA), dtype="boolean")
        for i in np.flatnonzero(judged & ~met):
            missed[i].append(k)
    out["open_missed"] = [", ".join(m) for m in missed]
    return out


def _county_rows(table: pd.DataFrame, std: Standard, names) -> pd.DataFrame:
    rows = []
    ins = table[table["in_scope"]]
    for county, g in ins.groupby("county", sort=True):
        for k in names:
            oi = std.open_indicators[k]
            has = g[k].notna().to_numpy()
            v, p = g[k].to_numpy(float)[has], g["pupils"].to_numpy(float)[has]
            value, why = _cv(v, p) if len(v) else (math.nan, "no school with a value")
            t = math.nan if oi.threshold is None else oi.threshold
            below = ~compliance.meets(v, t) if oi.threshold is not None else np.zeros(len(v), bool)
            rows.append(
                {
                    "county": county,
                    "indicator": k,
                    "group": oi.group,
                    "unit": oi.unit,
                    "schools": int(has.sum()),
                    "pupils": int(p.sum()),
                    "mean": _mean(v, p),
                    "cv": value,
                    "min": float(v.min()) if len(v) else math.nan,
                    "max": float(v.max()) if len(v) else math.nan,
                    "threshold": t,
                    "schools_below": int(below.sum()) if oi.threshold is not None else pd.NA,
                    "pupils_below": int(p[below].sum()) if oi.threshold is not None else pd.NA,
                    "share_meeting": float(1 - below.mean())
                    if oi.threshold is not None and len(v)
                    else math.nan,
                    "verdict": verdict_label(k, std),
                    "note": why,
                }
            )
    return pd.DataFrame(rows)


def _gap_rows(table: pd.DataFrame, std: Standard, names) -> pd.DataFrame:
    rows = []
    ins = table[table["in_scope"]]
    for k in names:
        oi = std.open_indicators[k]
        g = ins[ins[k].notna()]
        row = {"indicator": k, "group": oi.group, "unit": oi.unit}
        for area in AREAS:
            a = g[g["area_type"] == area]
            row[area] = _mean(a[k].to_numpy(float), a["pupils"].to_numpy(float))
            if oi.threshold is not None:
                met = compliance.meets(a[k].to_numpy(float), oi.threshold)
                row[f"{area}_share_meeting"] = float(met.mean()) if len(a) else math.nan
        urban = row["urban"]
        row["rural_urban_ratio"] = row["rural"] / urban if urban > 0 else math.nan
        row["cv"], row["note"] = (
            _cv(g[k].to_numpy(float), g["pupils"].to_numpy(float))
            if len(g)
            else (math.nan, "no school with a value")
        )
        row["threshold"] = math.nan if oi.threshold is None else oi.threshold
        row["verdict"] = verdict_label(k, std)
        row["source"] = oi.source
        rows.append(row)
    return pd.DataFrame(rows)


def open_tables(schools: pd.DataFrame, parts: pd.DataFrame, std: Standard) -> dict:
    """The report's open-indicator tables, or ``{}`` when the region has none of the columns.

    Parameters
    ----------
    schools : pandas.DataFrame
        The schools table of the region.
    parts : pandas.DataFrame
        Its assessed parts (:func:`allocator.standards.assessment_parts`).
    std : Standard

    Returns
    -------
    dict
        ``open_schools`` (per school: values, ``<k>_met``, ``open_missed``), ``open_counties``
        (per county and indicator: mean, pupil-weighted CV, min, max, schools below, share
        meeting, ``verdict``) and ``open_gaps`` (per indicator: means by area type, rural / urban
        ratio, region-wide CV, threshold, ``verdict``, ``source``).

    Examples
    --------
    >>> from allocator.standards import assessment_parts, load_standard
    >>> from allocator.synth import make_region
    >>> region, std = make_region(schools=60, seed=1), load_standard()
    >>> tables = open_tables(region.schools, assessment_parts(region.schools, std), std)
    >>> sorted(tables), tables["open_gaps"]["verdict"].iloc[0]
    (['open_counties', 'open_gaps', 'open_schools'], 'not part of the moe2017 verdict')
    """
    table = _school_rows(schools, parts, std)
    if table.empty and not len(table.columns):
        return {}
    names = [k for k in std.open_indicators if k in table.columns]
    return {
        "open_schools": table,
        "open_counties": _county_rows(table, std, names),
        "open_gaps": _gap_rows(table, std, names),
    }
