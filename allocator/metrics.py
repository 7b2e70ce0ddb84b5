"""Equity statistics of a per-pupil resource across schools, as plain numpy functions.

Every function takes the values ``x`` (one per school: a per-pupil resource such as m² of floor
area per pupil) and optional ``weights`` (the pupils of each school) and returns a float. Without
weights every school weighs the same. With weights the statistic is the one of the pupils: it equals
the unweighted statistic of the data in which each school is repeated once per pupil (exactly, for
whole-number weights). The official county 差异系数 (coefficient of variation) is pupil-weighted.

Model
-----
School i has value x_i >= 0 and weight p_i >= 0 (pupils); w_i = p_i / sum(p), mu = sum(w_i x_i).

* range = max x - min x (over schools with p_i > 0);
  restricted range = P_high - P_low; federal range ratio = (P95 - P5) / P5, where P_q is the
  pupil-weighted percentile (inverted empirical CDF: the smallest x_i whose cumulative weight
  share is >= q / 100, the definition numpy calls ``"inverted_cdf"``).
* CV = sqrt(sum w_i (x_i - mu)^2) / mu.
* Gini = sum_i sum_j w_i w_j |x_i - x_j| / (2 mu)  (no n / (n - 1) small-sample factor).
* Theil T = sum w_i (x_i / mu) ln(x_i / mu); Theil L = sum w_i ln(mu / x_i).
* Atkinson A_eps = 1 - [sum w_i (x_i / mu)^(1 - eps)]^(1 / (1 - eps)); A_1 = 1 - exp(sum w_i ln x_i) / mu.
* McLoone = sum_{x_i < M} p_i x_i / (M sum_{x_i < M} p_i), Verstegen = the same over x_i > M,
  M the pupil-weighted median (P50 above).
* Theil decomposition over groups g with resource shares s_g = sum_{i in g} p_i x_i / sum p_i x_i,
  pupil shares v_g and group means mu_g: T = sum s_g T_g + sum s_g ln(mu_g / mu) (within + between);
  L = sum v_g L_g + sum v_g ln(mu / mu_g).
* Teacher-allocation R^2: ordinary least squares of teachers on pupils (with intercept) across
  schools; 1 - R^2 is the "degree of randomness" of the allocation.

Undefined cases raise :class:`ValueError` naming the argument and the problem: empty input, NaN or
infinite values, negative resources or weights, weights that sum to zero, a zero mean, and zero
values for Theil T, Theil L and Atkinson with eps >= 1 (no epsilon is ever added silently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import xlogy

__all__ = [
    "cv",
    "gini",
    "theil",
    "theil_l",
    "atkinson",
    "mcloone",
    "verstegen",
    "value_range",
    "restricted_range",
    "federal_range_ratio",
    "percentile",
    "percentile_raw",
    "weighted_mean",
    "theil_decomposition",
    "TheilDecomposition",
    "allocation_r2",
]


# --------------------------------------------------------------------------- input checks
def _as_values(x, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric; got dtype {np.asarray(x).dtype}") from None
    arr = arr.astype(float, copy=False)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional (one value per school); got shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; expected at least one school")
    bad = ~np.isfinite(arr)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contains {arr[pos]!r} at position {pos}; expected finite numbers")
    return arr


def _prepare(
    x, weights, *, nonnegative: bool = True, metric: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate; return (values, normalised weights) of the schools with positive weight."""
    values, raw = _prepare_raw(x, weights, nonnegative=nonnegative, metric=metric)
    return values, raw / raw.sum()


def _prepare_raw(
    x, weights, *, nonnegative: bool = True, metric: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate; return (values, weights as given) of the schools with positive weight."""
    values = _as_values(x, "x")
    if nonnegative and (values < 0).any():
        pos = int(np.flatnonzero(values < 0)[0])
        raise ValueError(
            f"x has the negative value {values[pos]!r} at position {pos}; "
            f"{metric or 'this metric'} expects per-pupil resources >= 0"
        )
    if weights is None:
        return values, np.ones(values.size)
    w = _as_values(weights, "weights")
    if w.shape != values.shape:
        raise ValueError(
            f"weights has {w.size} entries but x has {values.size}; expected one weight per school"
        )
    if (w < 0).any():
        pos = int(np.flatnonzero(w < 0)[0])
        raise ValueError(
            f"weights has the negative value {w[pos]!r} at position {pos}; expected >= 0"
        )
    total = w.sum()
    if not total > 0:
        raise ValueError("weights sum to 0; expected at least one school with pupils")
    keep = w > 0
    return values[keep], w[keep]


def _positive_mean(values: np.ndarray, w: np.ndarray, metric: str) -> float:
    mu = float(np.dot(w, values))
    if not mu > 0:
        raise ValueError(
            f"{metric} is undefined: the (weighted) mean of x is {mu!r}; expected a positive mean "
            "(all values are zero?)"
        )
    return mu


def _no_zeros(values: np.ndarray, metric: str) -> None:
    zeros = int(np.count_nonzero(values == 0))
    if zeros:
        raise ValueError(
            f"{metric} is undefined when a value is 0 ({zeros} school(s) with x = 0 and positive "
            "weight); it takes ln(0). Use gini or cv, or treat those schools separately"
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
    values, w = _prepare_raw(x, weights, nonnegative=False)
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
    values, _ = _prepare(x, weights, nonnegative=False)
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
    values, w = _prepare_raw(x, weights, nonnegative=False)
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
    values, w = _prepare_raw(x, weights, metric="federal_range_ratio")
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
    values, w = _prepare(x, weights, nonnegative=False)
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
    values, w = _prepare(x, weights, metric="cv")
    mu = _positive_mean(values, w, "cv")
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
    values, w = _prepare(x, weights, metric="gini")
    mu = _positive_mean(values, w, "gini")
    order = np.argsort(values, kind="stable")
    v, ws = values[order], w[order]
    cum = np.cumsum(ws)
    before = cum - ws
    # sum_{i,j} w_i w_j |x_i - x_j| = 2 sum_i w_i x_i (W_before_i - W_after_i)
    total = cum[-1]
    # clip rounding noise (about 1e-18) below 0 when all values are equal
    return max(0.0, float(np.dot(ws * v, before - (total - cum)) / mu))


def _check_zeros_option(zeros: str) -> None:
    if zeros not in ("raise", "limit"):
        raise ValueError(f"zeros={zeros!r}; expected 'raise' or 'limit'")


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
    _check_zeros_option(zeros)
    values, w = _prepare(x, weights, metric="theil")
    mu = _positive_mean(values, w, "theil")
    if zeros == "raise":
        _no_zeros(values, "theil")
    r = values / mu
    return float(np.dot(w, xlogy(r, r)))


def theil_l(x, weights=None) -> float:
    """Theil L index (mean log deviation) ``sum w_i ln(mu / x_i)``.

    Examples
    --------
    >>> round(theil_l([1, 2, 3, 4]), 6)
    0.121777
    """
    values, w = _prepare(x, weights, metric="theil_l")
    mu = _positive_mean(values, w, "theil_l")
    _no_zeros(values, "theil_l")
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
    values, w = _prepare(x, weights, metric="atkinson")
    mu = _positive_mean(values, w, "atkinson")
    if eps >= 1:
        _no_zeros(values, f"atkinson with epsilon={eps:g} (>= 1)")
    r = values / mu
    if eps == 1:
        return float(1.0 - np.exp(np.dot(w, np.log(r))))
    if eps == 0:
        return 0.0
    return float(1.0 - np.dot(w, r ** (1.0 - eps)) ** (1.0 / (1.0 - eps)))


def _median_side_index(x, weights, below: bool, metric: str) -> float:
    values, w = _prepare_raw(x, weights, metric=metric)
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


# --------------------------------------------------------------------------- decomposition
@dataclass(frozen=True)
class TheilDecomposition:
    """Theil index split into within-group and between-group parts.

    Attributes
    ----------
    total, within, between : float
        ``total == within + between`` (up to rounding).
    between_share : float
        ``between / total``: the part of the inequality explained by the groups (e.g. the
        urban-town-rural split). Defined as 0 when total is 0 (no inequality at all).
    groups : pandas.DataFrame
        One row per group (index: group label) with ``pupil_share``, ``resource_share``, ``mean``
        (pupil-weighted) and ``theil`` (the group's own index) and ``schools``.
    measure : str
        ``"T"`` or ``"L"``.
    zero_values : int
        Schools (with pupils) whose value is 0, counted with the limit 0 ln 0 = 0
        (only with ``zeros="limit"``; otherwise they raise).
    """

    total: float
    within: float
    between: float
    between_share: float
    groups: pd.DataFrame
    measure: str = "T"
    zero_values: int = 0


def theil_decomposition(
    x, groups: Sequence, weights=None, measure: str = "T", zeros: str = "raise"
) -> TheilDecomposition:
    """Decompose Theil T (or L) into within-group and between-group inequality.

    Parameters
    ----------
    x : array_like
        Per-pupil value of each school (> 0).
    groups : array_like
        Group label of each school (e.g. area type or county).
    weights : array_like, optional
        Pupils of each school.
    measure : {"T", "L"}
        T weights groups by resource share s_g: within = sum s_g T_g, between = sum s_g ln(mu_g/mu).
        L weights groups by pupil share v_g: within = sum v_g L_g, between = sum v_g ln(mu/mu_g).
    zeros : {"raise", "limit"}
        For T only: ``"limit"`` counts x = 0 with 0 ln 0 = 0 (see :func:`theil`); a group whose
        values are all 0 then has resource share 0, contributes nothing and gets theil 0.
        Theil L has no such limit and always raises on a zero.

    Returns
    -------
    TheilDecomposition

    Examples
    --------
    >>> d = theil_decomposition([1, 1, 3, 3], ["rural", "rural", "urban", "urban"])
    >>> round(d.between_share, 6), round(d.within, 6)
    (1.0, 0.0)
    >>> float(d.groups.loc["urban", "resource_share"])
    0.75
    """
    if measure not in ("T", "L"):
        raise ValueError(f"measure={measure!r}; expected 'T' or 'L'")
    _check_zeros_option(zeros)
    if measure == "L" and zeros == "limit":
        raise ValueError("zeros='limit' applies to Theil T only; Theil L is undefined at 0")
    values = _as_values(x, "x")
    labels = np.asarray(groups, dtype=object)
    if labels.shape != values.shape:
        raise ValueError(
            f"groups has {labels.size} entries but x has {values.size}; expected one per school"
        )
    if pd.isna(labels).any():
        pos = int(np.flatnonzero(pd.isna(labels))[0])
        raise ValueError(f"groups has a missing label at position {pos}")
    raw_w = np.ones_like(values) if weights is None else _as_values(weights, "weights")
    v, w = _prepare(values, raw_w, metric=f"theil_decomposition ({measure})")
    keep = raw_w > 0 if weights is not None else np.ones(values.size, bool)
    labels = labels[keep]
    mu = _positive_mean(v, w, "theil_decomposition")
    if zeros == "raise":
        _no_zeros(v, f"theil_decomposition ({measure})")

    def index_fn(values, weights):
        if measure == "L":
            return theil_l(values, weights)
        if not (values > 0).any():
            return 0.0  # a group with nothing at all: no inequality inside it
        return theil(values, weights, zeros=zeros)

    total = index_fn(v, w)
    codes, uniques = pd.factorize(labels, sort=True)
    rows, within, between = [], 0.0, 0.0
    for g, label in enumerate(uniques):
        sel = codes == g
        wg = w[sel]
        pupil_share = float(wg.sum())
        mu_g = float(np.dot(wg, v[sel]) / pupil_share)
        resource_share = pupil_share * mu_g / mu
        t_g = index_fn(v[sel], wg)
        if measure == "T":
            within += resource_share * t_g
            between += float(xlogy(resource_share, mu_g / mu))
        else:
            within += pupil_share * t_g
            between += pupil_share * np.log(mu / mu_g)
        rows.append((label, int(sel.sum()), pupil_share, resource_share, mu_g, t_g))
    table = pd.DataFrame(
        rows, columns=["group", "schools", "pupil_share", "resource_share", "mean", "theil"]
    ).set_index("group")
    share = 0.0 if total <= 1e-15 else float(between / total)
    n_zero = int(np.count_nonzero(v == 0))
    return TheilDecomposition(
        float(total), float(within), float(between), share, table, measure, n_zero
    )


# --------------------------------------------------------------------------- allocation
def allocation_r2(pupils, teachers) -> float:
    """R^2 of the least-squares line of teachers on pupils across schools.

    R^2 measures how consistently teachers follow pupils; ``1 - R^2`` is the "degree of
    randomness" of the allocation (World Bank / IIEP). Use the schools of one level in one county.

    Parameters
    ----------
    pupils, teachers : array_like
        Pupils and teachers of each school (same length, >= 3 schools).

    Raises
    ------
    ValueError
        Fewer than 3 schools (a line through 2 points always fits), all schools with the same
        number of pupils, or the same number of teachers (R^2 is 0/0), or invalid input.

    Examples
    --------
    >>> allocation_r2([100, 200, 300], [5, 10, 15])
    1.0
    >>> round(allocation_r2([100, 200, 300, 400], [5, 12, 13, 20]), 4)
    0.9363
    """
    p = _as_values(pupils, "pupils")
    t = _as_values(teachers, "teachers")
    if p.shape != t.shape:
        raise ValueError(
            f"pupils has {p.size} entries but teachers has {t.size}; expected one each per school"
        )
    if p.size < 3:
        raise ValueError(f"allocation_r2 needs at least 3 schools; got {p.size}")
    dp, dt = p - p.mean(), t - t.mean()
    spp, stt = float(np.dot(dp, dp)), float(np.dot(dt, dt))
    if spp == 0:
        raise ValueError("allocation_r2 is undefined: every school has the same number of pupils")
    if stt == 0:
        raise ValueError("allocation_r2 is undefined: every school has the same number of teachers")
    spt = float(np.dot(dp, dt))
    return float(min(1.0, spt * spt / (spp * stt)))
