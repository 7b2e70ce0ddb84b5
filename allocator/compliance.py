"""The one definition of "meets the standard": per indicator, per school part and per county.

Every verdict of the library comes from here: :func:`allocator.check.check`, the scenario runner's
:func:`allocator.pipeline.measure` and the budget planner (its model, its "passes after" and its least
cost to comply) all call these functions, so they cannot disagree.

Rules
-----
* Indicator k of a part with value v and threshold t is **met** when ``v >= t * (1 - MET_RTOL)``.
  The tolerance absorbs floating-point noise only (``10.199999999999998`` against ``10.2``); any
  shortfall a planner can see (0.01 m² at a school of 5,000 pupils is 2e-6 of a threshold) fails.
* A part is judged on ``standard.assessed_indicators(part)``: the indicators of
  ``standard.indicators`` that have a threshold for its part type (others are ignored, whatever
  thresholds the standard lists). It **passes** when it meets at least ``min_indicators_met`` of
  them and, if ``floor_share`` f is set, every one of them reaches ``f * t`` (same tolerance). A
  part type without thresholds (the 2012 standard) is not judged: its verdict is missing (NA).
* A county **passes the CV rule** for a part type when (rule ``"each"``) the pupil-weighted CV of
  every indicator of ``standard.indicators`` over its in-scope parts is at most the limit, or (rule
  ``"composite"``) their mean is; a CV is within the limit when ``cv <= limit * (1 + MET_RTOL)``,
  and an undefined CV (every value 0, no pupils) is not. The county **passes** when the CV rule
  holds and every in-scope part that is judged passes.

Examples
--------
>>> import numpy as np
>>> meets(np.array([10.199999999999998, 10.19]), np.array([10.2, 10.2])).tolist()
[True, False]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.metrics import cv
from allocator.standards import PARTS, Standard

__all__ = [
    "MET_RTOL",
    "meets",
    "within_limit",
    "PartVerdicts",
    "judge_values",
    "thresholds_of",
    "judged_indicators",
    "part_verdicts",
    "county_verdicts",
]

#: Relative tolerance of every comparison with a threshold or a CV limit (floating noise only).
MET_RTOL = 1e-9


def meets(values, thresholds) -> np.ndarray:
    """Whether each value reaches its threshold: ``v >= t * (1 - MET_RTOL)``; False where t is NaN.

    Parameters
    ----------
    values, thresholds : array_like
        Broadcastable arrays; a NaN threshold means "not judged".

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> meets([4.5, 4.49, 1.0], [4.5, 4.5, float("nan")]).tolist()
    [True, False, False]
    """
    v = np.asarray(values, dtype=float)
    t = np.asarray(thresholds, dtype=float)
    with np.errstate(invalid="ignore"):
        return ~np.isnan(t) & (v >= t * (1.0 - MET_RTOL))


def within_limit(cv, limit) -> np.ndarray | bool:
    """Whether a CV is within its limit: ``cv <= limit * (1 + MET_RTOL)``; an undefined CV is not.

    Examples
    --------
    >>> within_limit(0.5000000000001, 0.5), within_limit(float("nan"), 0.5)
    (True, False)
    """
    c = np.asarray(cv, dtype=float)
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(c) & (c <= np.asarray(limit, dtype=float) * (1.0 + MET_RTOL))
    return bool(ok) if ok.ndim == 0 else ok


@dataclass
class PartVerdicts:
    """Verdicts of K parts on I indicators (see :func:`judge_values`).

    Attributes
    ----------
    judged : (K, I) bool
        The part is judged on the indicator (it has a threshold).
    met : (K, I) bool
        Judged and met.
    met_count : (K,) int
    floor_ok : (K,) bool
        Every judged indicator reaches ``floor_share`` of its threshold (True without a floor).
    passes : (K,) bool
        At least ``min_met`` met and ``floor_ok``; False for a part judged on nothing.
    assessed : (K,) bool
        The part is judged on at least one indicator (its verdict means something).
    """

    judged: np.ndarray
    met: np.ndarray
    met_count: np.ndarray
    floor_ok: np.ndarray
    passes: np.ndarray
    assessed: np.ndarray


def judge_values(values, thresholds, min_met: int, floor_share: float | None) -> PartVerdicts:
    """Judge parts from arrays: values (K, I) against thresholds (K, I), NaN = not judged.

    Parameters
    ----------
    values, thresholds : array_like, shape (K, I)
    min_met : int
        Indicators a part must meet (``standard.min_indicators_met``).
    floor_share : float or None
        Every judged indicator must reach this share of its threshold.

    Returns
    -------
    PartVerdicts

    Examples
    --------
    >>> v = [[4.5, 1.0, 0.2], [4.4, 1.0, 2.0]]
    >>> t = [[4.5, 1.0, 2.0], [4.5, 1.0, 2.0]]
    >>> judge_values(v, t, 2, None).passes.tolist(), judge_values(v, t, 2, 0.85).passes.tolist()
    ([True, True], [False, True])
    """
    v = np.atleast_2d(np.asarray(values, dtype=float))
    t = np.atleast_2d(np.asarray(thresholds, dtype=float))
    judged = ~np.isnan(t)
    met = meets(v, t)
    met_count = met.sum(axis=1)
    assessed = judged.any(axis=1)
    floor_ok = np.ones(len(v), dtype=bool)
    if floor_share is not None:
        floor_ok = ~(judged & ~meets(v, floor_share * t)).any(axis=1)
    passes = assessed & (met_count >= min_met) & floor_ok
    return PartVerdicts(judged, met, met_count, floor_ok, passes, assessed)


def judged_indicators(standard: Standard) -> list[str]:
    """Every indicator some part type is judged on, in ``standard.indicators`` order.

    Examples
    --------
    >>> from allocator.standards import load_standard
    >>> one = {"indicators": ["backbone_per_100"], "min_indicators_met": 1}
    >>> judged_indicators(load_standard("moe2017", one))
    ['backbone_per_100']
    """
    return [
        k for k in standard.indicators if any(k in standard.assessed_indicators(p) for p in PARTS)
    ]


def thresholds_of(part_types, indicators, standard: Standard) -> np.ndarray:
    """The (K, I) thresholds of parts of the given types, NaN where a part is not judged.

    Examples
    --------
    >>> from allocator.standards import load_standard
    >>> thresholds_of(["primary", "junior"], ["sports_m2_per_pupil"], load_standard()).ravel()
    array([ 7.5, 10.2])
    """
    part_types = np.asarray(part_types, dtype=object)
    out = np.full((len(part_types), len(indicators)), np.nan)
    for p in PARTS:
        rows = part_types == p
        assessed = standard.assessed_indicators(p)
        for i, k in enumerate(indicators):
            if k in assessed:
                out[rows, i] = float(standard.thresholds[p][k])
    return out


def part_verdicts(parts: pd.DataFrame, standard: Standard) -> pd.DataFrame:
    """Verdict columns for assessed parts (rows of :func:`allocator.standards.assessment_parts`).

    Parameters
    ----------
    parts : pandas.DataFrame
        With ``part`` and the indicator columns.
    standard : Standard

    Returns
    -------
    pandas.DataFrame
        Same index as ``parts``: for each indicator of :func:`judged_indicators`, ``<k>_met``
        (boolean, NA where the part is not judged on it) and ``<k>_gap`` (``max(t - v, 0)``, NaN
        where not judged); then ``indicators_met``, ``indicators_assessed``, ``floor_ok``
        (boolean, NA without a floor or thresholds), ``passes`` (boolean, NA where the part is
        judged on nothing) and ``missed`` (the indicators missed, comma-separated). When the
        standard assesses open indicators (``open_assessed``), a part whose school is below one of
        their thresholds fails too, and ``open_missed`` names them.

    Examples
    --------
    >>> from allocator.standards import assessment_parts, load_standard
    >>> from allocator.synth import make_region
    >>> std = load_standard()
    >>> parts = assessment_parts(make_region(schools=20, seed=1).schools, std)
    >>> v = part_verdicts(parts, std)
    >>> bool(((v["indicators_met"] >= 6) == v["passes"].astype(bool)).all())
    True
    """
    indicators = judged_indicators(standard)
    kinds = parts["part"].to_numpy()
    t = thresholds_of(kinds, indicators, standard)
    v = parts[indicators].to_numpy(float) if indicators else np.zeros((len(parts), 0))
    verdict = judge_values(v, t, standard.min_indicators_met, standard.floor_share)
    out = pd.DataFrame(index=parts.index)
    for i, k in enumerate(indicators):
        judged = verdict.judged[:, i]
        out[f"{k}_met"] = pd.array(np.where(judged, verdict.met[:, i], pd.NA), dtype="boolean")
        out[f"{k}_gap"] = np.where(judged, np.maximum(t[:, i] - v[:, i], 0.0), np.nan)
    out["indicators_met"] = verdict.met_count.astype(np.int64)
    out["indicators_assessed"] = verdict.judged.sum(axis=1).astype(np.int64)
    has_floor = verdict.assessed & (standard.floor_share is not None)
    out["floor_ok"] = pd.array(np.where(has_floor, verdict.floor_ok, pd.NA), dtype="boolean")
    out["passes"] = pd.array(np.where(verdict.assessed, verdict.passes, pd.NA), dtype="boolean")
    missed = verdict.judged & ~verdict.met
    out["missed"] = [
        ", ".join(k for k, m in zip(indicators, row, strict=True) if m) for row in missed
    ]
    if standard.open_assessed:
        _judge_open_assessed(parts, standard, out)
    return out


def _judge_open_assessed(parts: pd.DataFrame, standard: Standard, out: pd.DataFrame) -> None:
    """A part that passes fails when its school is below the threshold of an open indicator the
    standard assesses (``standard.open_assessed``; NaN: the indicator does not apply to it);
    ``open_missed`` names those indicators."""
    missed = np.full(len(parts), "", dtype=object)
    fails = np.zeros(len(parts), dtype=bool)
    for k in standard.open_assessed:
        if k not in parts.columns:
            raise ValueError(
                f"the parts carry no {k!r} column: build them with assessment_parts and this standard"
            )
        v = parts[k].to_numpy(float)
        below = ~np.isnan(v) & ~meets(v, standard.open_indicators[k].threshold)
        fails |= below
        missed = np.where(below, np.where(missed == "", k, missed + ", " + k), missed)
    passes = out["passes"]
    out["passes"] = pd.array(
        np.where(passes.isna(), pd.NA, passes.fillna(False).to_numpy(bool) & ~fails),
        dtype="boolean",
    )
    out["open_missed"] = missed


def _cv(values, pupils) -> tuple[float, str]:
    try:
        return float(cv(values, pupils)), ""
    except ValueError as exc:
        return math.nan, str(exc)


def county_verdicts(parts: pd.DataFrame, standard: Standard) -> tuple[pd.DataFrame, pd.DataFrame]:
    """County verdicts per part type, from in-scope parts that carry :func:`part_verdicts` columns.

    Parameters
    ----------
    parts : pandas.DataFrame
        In-scope parts: ``county, part, pupils``, the indicator columns and ``passes``.
    standard : Standard

    Returns
    -------
    counties : pandas.DataFrame
        One row per county and part type (sorted): ``county, part, schools, pupils,
        schools_passing`` (NA when the part type is not judged), ``cv_<k>`` for every indicator of
        ``standard.indicators``, ``cv_limit``, ``composite_cv`` (rule ``"composite"`` only),
        ``cv_failing`` (CVs over the limit or undefined; 0 or 1 for the composite), ``cv_ok``,
        ``schools_ok`` and ``passes``.
    cvs : pandas.DataFrame
        Long form: ``county, part, indicator, cv, cv_limit, cv_ok, note`` (why a CV is undefined).

    Examples
    --------
    >>> from allocator.standards import assessment_parts, load_standard
    >>> from allocator.synth import make_region
    >>> std = load_standard()
    >>> parts = assessment_parts(make_region(schools=40, seed=1).schools, std)
    >>> parts = parts[parts["in_scope"]]
    >>> counties, cvs = county_verdicts(parts.join(part_verdicts(parts, std)), std)
    >>> bool((counties["passes"] == (counties["cv_ok"] & counties["schools_ok"])).all())
    True
    """
    rows, long_rows = [], []
    for (county, part), g in parts.groupby(["county", "part"], sort=True):
        pupils = g["pupils"].to_numpy(float)
        limit = float(standard.cv_limit[part])
        judged = bool(standard.assessed_indicators(part))
        row = {"county": county, "part": part, "schools": len(g), "pupils": int(pupils.sum())}
        if judged:
            row["schools_passing"] = int(g["passes"].astype(bool).sum())
        else:
            row["schools_passing"] = pd.NA
        cvs = {}
        for k in standard.indicators:
            value, why = _cv(g[k].to_numpy(float), pupils)
            cvs[k] = value
            row[f"cv_{k}"] = value
            long_rows.append(
                {
                    "county": county,
                    "part": part,
                    "indicator": k,
                    "cv": value,
                    "cv_limit": limit,
                    "cv_ok": within_limit(value, limit),
                    "note": why,
                }
            )
        row["cv_limit"] = limit
        if standard.cv_rule == "composite":
            composite = float(np.mean(list(cvs.values()))) if cvs else math.nan
            row["composite_cv"] = composite
            row["cv_ok"] = within_limit(composite, limit)
            row["cv_failing"] = 0 if row["cv_ok"] else 1
        else:
            row["cv_failing"] = sum(not within_limit(c, limit) for c in cvs.values())
            row["cv_ok"] = row["cv_failing"] == 0
        row["schools_ok"] = (not judged) or row["schools_passing"] == row["schools"]
        row["passes"] = bool(row["cv_ok"] and row["schools_ok"])
        rows.append(row)
    counties = pd.DataFrame(rows)
    if counties.empty:
        counties = pd.DataFrame(
            columns=["county", "part", "schools", "pupils", "cv_ok", "schools_ok", "passes"]
        ).astype({"cv_ok": bool, "schools_ok": bool, "passes": bool})
    long = pd.DataFrame(
        long_rows, columns=["county", "part", "indicator", "cv", "cv_limit", "cv_ok", "note"]
    )
    return counties, long
