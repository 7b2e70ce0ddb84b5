"""Checks every equity statistic applies to its values and weights before computing anything.

Undefined cases raise :class:`ValueError` naming the argument and the problem: empty input, NaN or
infinite values, negative resources or weights, weights that sum to zero, a zero mean, and zero
values where a logarithm needs them positive (no epsilon is ever added silently).
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_values", "prepare", "prepare_raw", "positive_mean", "no_zeros", "check_zeros_option"]


def as_values(x, name: str = "x") -> np.ndarray:
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


def prepare(
    x, weights, *, nonnegative: bool = True, metric: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate; return (values, normalised weights) of the schools with positive weight."""
    values, raw = prepare_raw(x, weights, nonnegative=nonnegative, metric=metric)
    return values, raw / raw.sum()


def prepare_raw(
    x, weights, *, nonnegative: bool = True, metric: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """Validate; return (values, weights as given) of the schools with positive weight."""
    values = as_values(x, "x")
    if nonnegative and (values < 0).any():
        pos = int(np.flatnonzero(values < 0)[0])
        raise ValueError(
            f"x has the negative value {values[pos]!r} at position {pos}; "
            f"{metric or 'this metric'} expects per-pupil resources >= 0"
        )
    if weights is None:
        return values, np.ones(values.size)
    w = as_values(weights, "weights")
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


def positive_mean(values: np.ndarray, w: np.ndarray, metric: str) -> float:
    mu = float(np.dot(w, values))
    if not mu > 0:
        raise ValueError(
            f"{metric} is undefined: the (weighted) mean of x is {mu!r}; expected a positive mean "
            "(all values are zero?)"
        )
    return mu


def no_zeros(values: np.ndarray, metric: str) -> None:
    zeros = int(np.count_nonzero(values == 0))
    if zeros:
        raise ValueError(
            f"{metric} is undefined when a value is 0 ({zeros} school(s) with x = 0 and positive "
            "weight); it takes ln(0). Use gini or cv, or treat those schools separately"
        )


def check_zeros_option(zeros: str) -> None:
    if zeros not in ("raise", "limit"):
        raise ValueError(f"zeros={zeros!r}; expected 'raise' or 'limit'")
