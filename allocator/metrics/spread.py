"""Percentiles, ranges and dispersion indices of a per-pupil resource (see :mod:`allocator.metrics`
for the formulas)."""

from __future__ import annotations

import numpy as np
from scipy.special import xlogy

from allocator.metrics.inputs import (
    check_zeros_option,
    no_zeros,
    positive_mean,
    prepare,
    prepare_raw,
)


# --------------------------------------------------------------------------- percentiles
def percentile(x, q: float, weights=None) -> float:
    """Pupil-weighted percentile: the smallest value whose cumulative weight share reaches q %.

    This is the inverted empirical CDF (numpy's ``method="inverted_cdf"``); with whole-number
    weights it equals the unweighted percentile of the data with each school repeated once per
    pupil. It never interpolates, so the result is always one of the values.

    Parameters
    ----------
    x : array_like
        One value per school.
    q : float
        Percentile in [0, 100]; 0 gives the minimum.
    weights : array_like, optional
        Pupils per school (>= 0). None: every school weighs the same.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``q`` is outside [0, 100] or the input is invalid (see module notes).

    Examples
    --------
    >>> percentile([10, 20, 30, 40], 50)
    20.0
    >>> percentile([10, 20, 30, 40], 50, weights=[1, 1, 1, 5])
    40.0
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q={q!r} is outside [0, 100]; expected a percentile")
    values, w = prepare_raw(x, weights, nonnegative=False)
    return percentile_raw(values, w, q)


def percentile_raw(values: np.ndarray, w: np.ndarray, q: float) -> float:
    """Inverted-CDF percentile of positive-weighted values, unchecked (they may be ``inf``)."""
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(w[order])
    # 100 * cumulative weight >= q * total weight: exact for whole-number weights and percentiles,
    # so that weighting equals repetition bit for bit
    k = int(np.searchsorted(100.0 * cw, q * cw[-1], side="left"))
    return float(v[min(k, v.size - 1)])


def value_range(x, weights=None) -> float:
    """Range: largest minus smallest value (schools with zero weight are left out).

    Examples
    --------
    >>> value_range([3.0, 7.5, 4.0])
    4.5
    >>> value_range([3.0, 7.5, 4.0], weights=[10, 0, 5])
    1.0
    """
    values, _ = prepare(x, weights, nonnegative=False)
    return float(values.max() - values.min())


def restricted_range(x, weights=None, low: float = 5, high: float = 95) -> float:
    """Restricted range: pupil-weighted percentile ``high`` minus percentile ``low``.

    Parameters
    ----------
    x, weights : array_like
        Values and pupils per school (see :func:`percentile`).
    low, high : float
        Percentiles, 0 <= low <= high <= 100 (default P5 and P95).

    Examples
    --------
    >>> restricted_range(list(range(1, 101)))
    90.0
    """
    if not 0 <= low <= high <= 100:
        raise ValueError(f"low={low!r}, high={high!r}; expected 0 <= low <= high <= 100")
    values, w = prepare_raw(x, weights, nonnegative=False)
    return percentile_raw(values, w, high) - percentile_raw(values, w, low)


def federal_range_ratio(x, weights=None) -> float:
    """Federal range ratio: (P95 - P5) / P5 with pupil-weighted percentiles.

    Raises
    ------
    ValueError
        If P5 is 0 (the ratio is undefined) or the input is invalid.

    Examples
    --------
    >>> round(federal_range_ratio(list(range(1, 101))), 6)
    18.0
    """
    values, w = prepare_raw(x, weights, metric="federal_range_ratio")
    p5 = percentile_raw(values, w, 5)
    if not p5 > 0:
        raise ValueError("federal_range_ratio is undefined: the 5th percentile of x is 0")
    return (percentile_raw(values, w, 95) - p5) / p5


def weighted_mean(x, weights=None) -> float:
    """Pupil-weighted mean sum(p_i x_i) / sum(p_i).

    Examples
    --------
    >>> weighted_mean([1.0, 4.0], weights=[3, 1])
    1.75
    """
    values, w = prepare(x, weights, nonnegative=False)
    return float(np.dot(w, values))


# --------------------------------------------------------------------------- dispersion
def cv(x, weights=None) -> float:
    """Coefficient of variation (the 差异系数 when weighted by pupils).

    ``sqrt(sum w_i (x_i - mu)^2) / mu`` with ``w_i = p_i / sum p``: the population (not the n - 1)
    standard deviation, as the 2012 and 2017 county assessments define it.

    Parameters
    ----------
    x : array_like
        Per-pupil value of each school (>= 0).
    weights : array_like, optional
        Pupils of each school. None: unweighted.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Empty, non-finite or negative input, weights summing to 0, or a zero mean.

    Examples
    --------
    The worked example of the assessment: five schools' pupils and books.

    >>> pupils = [45, 37, 89, 76, 55]
    >>> books = [279, 137, 935, 160, 402]
    >>> per_pupil = [b / p for b, p in zip(books, pupils)]
    >>> round(cv(per_pupil, weights=pupils), 3)
    0.515
    """
    values, w = prepare(x, weights, metric="cv")
    mu = positive_mean(values, w, "cv")
    return float(np.sqrt(np.dot(w, (values - mu) ** 2)) / mu)


def gini(x, weights=None) -> float:
    """Gini coefficient ``sum_i sum_j w_i w_j |x_i - x_j| / (2 mu)``.

    No small-sample factor n / (n - 1) is applied (the same convention as PySAL ``inequality``).
    Computed in O(n log n) by sorting.

    Examples
    --------
    >>> gini([1, 1, 1, 1])
    0.0
    >>> gini([0, 0, 0, 4])
    0.75
    >>> round(gini([1, 3], weights=[3, 1]), 6)
    0.25
    """
    values, w = prepare(x, weights, metric="gini")
    mu = positive_mean(values, w, "gini")
    order = np.argsort(values, kind="stable")
    v, ws = values[order], w[order]
    cum = np.cumsum(ws)
    before = cum - ws
    # sum_{i,j} w_i w_j |x_i - x_j| = 2 sum_i w_i x_i (W_before_i - W_after_i)
    total = cum[-1]
    # clip rounding noise (about 1e-18) below 0 when all values are equal
    return max(0.0, float(np.dot(ws * v, before - (total - cum)) / mu))


def theil(x, weights=None, zeros: str = "raise") -> float:
    """Theil T index ``sum w_i (x_i / mu) ln(x_i / mu)``.

    Parameters
    ----------
    x, weights : array_like
        Values and pupils per school.
    zeros : {"raise", "limit"}
        What a school with x = 0 means. ``"raise"`` (default): ValueError, since ln 0 is
        undefined. ``"limit"``: its term is the limit ``0 ln 0 = 0`` (the convention of the
        literature; a school with nothing still raises the index through the mean). Choose it
        explicitly, e.g. for counts such as backbone teachers that are often 0 at small schools.

    Raises
    ------
    ValueError
        If some school with positive weight has x = 0 and ``zeros="raise"``, or invalid input.

    Examples
    --------
    >>> round(theil([1, 2, 3, 4]), 6)
    0.10644
    >>> round(theil([0, 2, 3, 4], zeros="limit"), 6)
    0.325437
    """
    check_zeros_option(zeros)
    values, w = prepare(x, weights, metric="theil")
    mu = positive_mean(values, w, "theil")
    if zeros == "raise":
        no_zeros(values, "theil")
    r = values / mu
    return float(np.dot(w, xlogy(r, r)))


def theil_l(x, weights=None) -> float:
    """Theil L index (mean log deviation) ``sum w_i ln(mu / x_i)``.

    Examples
    --------
    >>> round(theil_l([1, 2, 3, 4]), 6)
    0.121777
    """
    values, w = prepare(x, weights, metric="theil_l")
    mu = positive_mean(values, w, "theil_l")
    no_zeros(values, "theil_l")
    return float(np.dot(w, np.log(mu / values)))


def atkinson(x, epsilon: float = 1.0, weights=None) -> float:
    """Atkinson index with inequality aversion ``epsilon`` (>= 0).

    ``A = 1 - [sum w_i (x_i/mu)^(1-eps)]^(1/(1-eps))``; ``A_1 = 1 - exp(sum w_i ln x_i) / mu``;
    ``A_0 = 0``.

    Raises
    ------
    ValueError
        If ``epsilon < 0``, or ``epsilon >= 1`` and some x = 0, or the input is invalid.

    Examples
    --------
    >>> round(atkinson([10, 20, 30, 40, 50], 0.5), 5)
    0.06315
    >>> round(atkinson([10, 20, 30, 40, 50], 1), 5)
    0.13161
    """
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        raise ValueError(f"epsilon={epsilon!r}; expected a number >= 0") from None
    if not (np.isfinite(eps) and eps >= 0):
        raise ValueError(f"epsilon={epsilon!r}; expected a finite number >= 0")
    values, w = prepare(x, weights, metric="atkinson")
    mu = positive_mean(values, w, "atkinson")
    if eps >= 1:
        no_zeros(values, f"atkinson with epsilon={eps:g} (>= 1)")
    r = values / mu
    if eps == 1:
        return float(1.0 - np.exp(np.dot(w, np.log(r))))
    if eps == 0:
        return 0.0
    return float(1.0 - np.dot(w, r ** (1.0 - eps)) ** (1.0 / (1.0 - eps)))


def _median_side_index(x, weights, below: bool, metric: str) -> float:
    values, w = prepare_raw(x, weights, metric=metric)
    m = percentile_raw(values, w, 50)
    if not m > 0:
        raise ValueError(f"{metric} is undefined: the pupil-weighted median of x is 0")
    side = values < m if below else values > m
    if not side.any():
        return 1.0  # nobody below (above) the median: that half is exactly at the median
    return float(np.dot(w[side], values[side]) / (m * w[side].sum()))


def mcloone(x, weights=None) -> float:
    """McLoone index: mean of the pupils below the median, divided by the median (<= 1).

    ``sum_{x_i < M} p_i x_i / (M sum_{x_i < M} p_i)`` with M the pupil-weighted median
    (:func:`percentile` at 50). 1 means nobody is below the median (the bottom half is at it).

    Examples
    --------
    >>> mcloone([2, 4, 4, 8])
    0.5
    """
    return _median_side_index(x, weights, below=True, metric="mcloone")


def verstegen(x, weights=None) -> float:
    """Verstegen index: mean of the pupils above the median, divided by the median (>= 1).

    Examples
    --------
    >>> verstegen([2, 4, 4, 8])
    2.0
    """
    return _median_side_index(x, weights, below=False, metric="verstegen")
