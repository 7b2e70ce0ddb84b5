"""Statistics across groups of schools: the Theil decomposition into within- and between-group
parts, and the teacher-allocation R^2 (see :mod:`allocator.metrics` for the formulas)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import xlogy

from allocator.metrics.inputs import as_values, check_zeros_option, no_zeros, positive_mean, prepare
from allocator.metrics.spread import theil, theil_l


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
    check_zeros_option(zeros)
    if measure == "L" and zeros == "limit":
        raise ValueError("zeros='limit' applies to Theil T only; Theil L is undefined at 0")
    values = as_values(x, "x")
    labels = np.asarray(groups, dtype=object)
    if labels.shape != values.shape:
        raise ValueError(
            f"groups has {labels.size} entries but x has {values.size}; expected one per school"
        )
    if pd.isna(labels).any():
        pos = int(np.flatnonzero(pd.isna(labels))[0])
        raise ValueError(f"groups has a missing label at position {pos}")
    raw_w = np.ones_like(values) if weights is None else as_values(weights, "weights")
    v, w = prepare(values, raw_w, metric=f"theil_decomposition ({measure})")
    keep = raw_w > 0 if weights is not None else np.ones(values.size, bool)
    labels = labels[keep]
    mu = positive_mean(v, w, "theil_decomposition")
    if zeros == "raise":
        no_zeros(v, f"theil_decomposition ({measure})")

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
    p = as_values(pupils, "pupils")
    t = as_values(teachers, "teachers")
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
