"""What a plan achieves, measured on indicator values: shortfalls, the rural-urban gap, verdicts.

The measures of :class:`~allocator.planners.budget.plan.BudgetPlan` (``measures``) and the
objectives of :mod:`allocator.planners.budget.model` are computed here, on (K, I) arrays of
indicator values of the in-scope parts (:class:`~allocator.planners.budget.data.BudgetData`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

import allocator.compliance as compliance
import allocator.standards as standards
from allocator.planners.budget.data import BudgetData

__all__ = ["shortfall", "unavoidable", "gap_weights", "plan_measures", "passing"]


def shortfall(data: BudgetData, v: np.ndarray) -> np.ndarray:
    """Normalised shortfall max(0, T - v) / T (0 where there is no threshold).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> sf = shortfall(data, data.v0)
    >>> sf.shape == (data.K, data.n_ind), bool((sf >= 0).all() and (sf <= 1).all())
    (True, True)
    """
    with np.errstate(invalid="ignore"):
        sf = np.maximum(data.T - v, 0.0) / data.T
    return np.where(np.isnan(data.T), 0.0, sf)


def unavoidable(data: BudgetData) -> np.ndarray:
    """Shortfall left even when every intervention is used up to its cap (ubar).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> bool((unavoidable(data) <= shortfall(data, data.v0)).all())
    True
    """
    cap = data.cap.ravel()
    infinite = np.isinf(cap)
    reach = data.v0 + (data.E @ np.where(infinite, 0.0, cap)).reshape(data.K, data.n_ind)
    unlimited = (abs(data.E) @ infinite.astype(float)).reshape(data.K, data.n_ind) > 0
    return np.where(unlimited, 0.0, shortfall(data, reach))


def gap_weights(data: BudgetData):
    """W (pairs x K*I) with M_urban - M_rural = W @ v, the pairs, and each pair's threshold.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> W, pairs, thresholds = gap_weights(data)
    >>> W.shape == (len(pairs), data.K * data.n_ind) == (len(thresholds), W.shape[1])
    True
    """
    area = data.parts["area_type"].to_numpy()
    part = data.parts["part"].to_numpy()
    p = data.parts["pupils"].to_numpy(float)
    rows, cols, vals, pairs, thresholds = [], [], [], [], []
    for pt in standards.PARTS:
        urban, rural = (part == pt) & (area == "urban"), (part == pt) & (area == "rural")
        if not urban.any() or not rural.any():
            continue
        for i, name in enumerate(data.indicators):
            t = data.T[part == pt, i]
            if np.isnan(t).all():
                continue
            r = len(pairs)
            for mask, sign in ((urban, 1.0), (rural, -1.0)):
                k = np.flatnonzero(mask)
                rows.append(np.full(len(k), r))
                cols.append(k * data.n_ind + i)
                vals.append(sign * p[k] / p[k].sum())
            pairs.append((pt, name))
            thresholds.append(float(np.nanmax(t)))
    n = len(pairs)
    if n == 0:
        return sp.csr_matrix((0, data.K * data.n_ind)), [], np.zeros(0)
    W = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, data.K * data.n_ind),
    )
    return W, pairs, np.array(thresholds)


def plan_measures(data: BudgetData, v: np.ndarray, spent: float, ubar=None, gap_w=None) -> dict:
    """The measures of indicator values ``v`` (K, I) bought with ``spent`` yuan.

    ``shortfall`` (pupil-weighted mean normalised shortfall), ``minimax`` (largest avoidable
    one), ``max_shortfall``, ``gap`` (mean normalised rural-urban gap) and ``cost``; ``ubar``
    (:func:`unavoidable`) and ``gap_w`` (:func:`gap_weights`) may be passed when already known.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> m = plan_measures(data, data.v0, 0.0)
    >>> sorted(m), m["cost"]
    (['cost', 'gap', 'max_shortfall', 'minimax', 'shortfall'], 0.0)
    """
    sf = shortfall(data, v)
    p = data.parts["pupils"].to_numpy(float)
    total = float(p.sum())
    ubar = unavoidable(data) if ubar is None else ubar
    W, _, tg = gap_weights(data) if gap_w is None else gap_w
    gap = float(np.mean(np.abs(W @ v.ravel()) / tg)) if len(tg) else 0.0
    return {
        "shortfall": float((p[:, None] * sf).sum() / total) if total else 0.0,
        "minimax": float(max(0.0, (sf - ubar).max(initial=0.0))),
        "max_shortfall": float(sf.max(initial=0.0)),
        "gap": gap,
        "cost": float(spent),
    }


def passing(data: BudgetData, v: np.ndarray):
    """Indicators met per part and whether each part passes the standard
    (:func:`allocator.compliance.judge_values`, the definition ``check`` uses; a part whose school
    misses an open indicator of ``standard.open_assessed`` fails, as in
    :func:`allocator.compliance.part_verdicts`).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> met, passes = passing(data, data.v0)
    >>> len(met) == len(passes) == data.K
    True
    """
    T = np.where(data.is_standard[None, :], data.T, np.nan)
    std = data.standard
    verdict = compliance.judge_values(v, T, std.min_indicators_met, std.floor_share)
    passes = verdict.passes
    for i, name in enumerate(data.indicators):  # an assessed open indicator must be met too
        if name in std.open_assessed and not data.is_standard[i]:
            judged = ~np.isnan(data.T[:, i])
            with np.errstate(invalid="ignore"):
                passes = passes & ~(judged & ~compliance.meets(v[:, i], data.T[:, i]))
    return verdict.met_count, passes
