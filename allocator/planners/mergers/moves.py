"""No pupil moves twice in a row: the ``settle_years`` rule of a consolidation plan over years.

Pupils whose school closes move to a receiving school; if that school closes the year after,
they move again. The 2012 rule on rural school consolidation (国务院办公厅《关于规范农村义务教育
学校布局调整的意见》, 国办发〔2012〕48号) asks that adjustments be gradual and keep pupils'
schooling stable; the plan therefore forbids a second move within ``settle_years`` years of a
first (:attr:`MergerPolicy.settle_years`).

Formulation (linear, on the linked model of :mod:`allocator.planners.mergers.years_model`):
with s_p,t the share of settlement band d's pupils at school j in planning year t (x_p,t for a
whole band, x_p,t / P_d,t for a split one), a continuous m_p,t >= 0 with

    m_p,t >= s_p,t-1 - s_p,t        (the share of d that leaves j in year t)

and for every planning year u, over the move years t with u <= year_t <= year_u + settle_years:

    sum_t sum_j m_(d,j),t <= 1      (d moves once at most in that span).

It is a hard rule, not a cost: the harm to a child of a second move in a row is not a price to
trade against a school's upkeep, and a hard rule needs no such number. A receiving school can
still close once its newcomers have settled. The m columns cost nothing, so the rule never
changes a plan in which no pupil moves twice in ``settle_years`` years. Under a rolling horizon
the rule holds within each window only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from allocator.solver import ColumnBlock, LinearModel

__all__ = ["settle_rows"]


def _shares(model, linear, offset: int):
    """(keys, columns, coefficients) of each pair's share: key (settlement, band, school)."""
    start = linear.columns["x"].start + offset
    demand = model.unit.demand[model.ps, model.pb].astype(float)
    coef = np.where(model.split_pair, 1.0 / np.maximum(demand, 1.0), 1.0)
    keys = {(int(s), int(b), int(j)): k for k, (s, b, j) in
            enumerate(zip(model.ps, model.pb, model.pj, strict=True))}  # fmt: skip
    return keys, start + np.arange(len(model.ps)), coef


def settle_rows(linked: LinearModel, parts, offsets, years, settle: int) -> LinearModel:
    """``linked`` with the m columns and rows of the module docstring; ``parts`` are each
    year's (CountyModel, LinearModel), at ``offsets`` in ``linked``.

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearModel.from_arrays([1.0], np.array([[1.0]]), row_lower=[0.0])
    >>> settle_rows(m, [], [], (2026,), 2) is m
    True
    """
    if settle <= 0 or len(parts) < 2:
        return linked
    n = linked.shape[1]
    rows, cols, vals = [], [], []
    moves: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (s, b) -> [(year index, m col)]
    r, m = 0, 0
    before = _shares(*parts[0], offsets[0])
    for t in range(1, len(parts)):
        now = _shares(*parts[t], offsets[t])
        demand = parts[t][0].unit.demand
        for key, k in before[0].items():
            s, b, _ = key
            if demand[s, b] <= 0:
                continue
            # -m + s_t-1 - s_t <= 0
            rows += [r, r]
            cols += [n + m, int(before[1][k])]
            vals += [-1.0, float(before[2][k])]
            if key in now[0]:
                q = now[0][key]
                rows.append(r)
                cols.append(int(now[1][q]))
                vals.append(-float(now[2][q]))
            moves.setdefault((s, b), []).append((t, n + m))
            r += 1
            m += 1
        before = now
    if not m:
        return linked
    leave = sp.csc_matrix((vals, (rows, cols)), shape=(r, n + m))
    window_rows, window_cols = [], []
    w = 0
    for items in moves.values():
        ts = sorted({t for t, _ in items})
        for u in ts:
            span = {t for t in ts if years[u] <= years[t] <= years[u] + settle}
            if len(span) < 2:
                continue
            mine = [c for t, c in items if t in span]
            window_rows += [w] * len(mine)
            window_cols += mine
            w += 1
    widened = _with_columns(linked, m)
    out = widened.with_rows("settle_years__leave", leave, upper=0.0)
    if w:
        once = sp.csc_matrix(
            (np.ones(len(window_cols)), (window_rows, window_cols)), shape=(w, n + m)
        )
        out = out.with_rows("settle_years", once, upper=1.0)
    return out


def _with_columns(model: LinearModel, k: int) -> LinearModel:
    """``model`` with ``k`` continuous columns m >= 0 of no cost, appended (block ``"m"``)."""
    n = model.shape[1]
    return dataclasses.replace(
        model,
        c=np.concatenate([model.c, np.zeros(k)]),
        A=sp.hstack([model.A, sp.csc_matrix((model.shape[0], k))], format="csc"),
        col_lower=np.concatenate([model.col_lower, np.zeros(k)]),
        col_upper=np.concatenate([model.col_upper, np.full(k, np.inf)]),
        integrality=np.concatenate([model.integrality, np.zeros(k, dtype=bool)]),
        column_blocks=model.column_blocks + (ColumnBlock("m", n, (k,)),),
    )
