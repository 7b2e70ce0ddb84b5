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
each window carries the moves of the years fixed before it (``past``: the shares of those years
as constants), so the rule holds across windows too.
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


def settle_rows(linked: LinearModel, parts, offsets, years, settle: int, past=()) -> LinearModel:
    """``linked`` with the m columns and rows of the module docstring; ``parts`` are each
    year's (CountyModel, LinearModel), at ``offsets`` in ``linked``, for ``years``.

    ``past`` (a rolling horizon's earlier windows): ``(year, {(settlement, band, school):
    share})`` of the years already fixed, in order, before ``years[0]``. Their moves count as
    constants: the first year's leaving share is measured from the last fixed year, and a span
    that holds a fixed move leaves the new years only what is left of the one move.

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearModel.from_arrays([1.0], np.array([[1.0]]), row_lower=[0.0])
    >>> settle_rows(m, [], [], (2026,), 2) is m
    True
    """
    past = list(past)
    if settle <= 0 or len(parts) + min(len(past), 1) < 2:
        return linked
    n = linked.shape[1]
    rows, cols, vals, upper = [], [], [], []
    moves: dict[tuple[int, int], list[tuple[int, int]]] = {}  # (s, b) -> [(year, m col)]
    fixed = _fixed_moves(past)
    r, m = 0, 0
    before = None
    if past:
        keys = {key: k for k, key in enumerate(past[-1][1])}
        values = np.array(list(past[-1][1].values()), dtype=float)
        before = (keys, np.full(len(keys), -1), values)  # constants, no column
    for t in range(len(parts)):
        now = _shares(*parts[t], offsets[t])
        if before is not None:
            demand = parts[t][0].unit.demand
            for key, k in before[0].items():
                s, b, _ = key
                if demand[s, b] <= 0:
                    continue
                # -m + s_t-1 - s_t <= 0 (s_t-1 a constant when fixed before the window)
                const = 0.0
                rows.append(r)
                cols.append(n + m)
                vals.append(-1.0)
                if before[1][k] >= 0:
                    rows.append(r)
                    cols.append(int(before[1][k]))
                    vals.append(float(before[2][k]))
                else:
                    const = float(before[2][k])
                if key in now[0]:
                    q = now[0][key]
                    rows.append(r)
                    cols.append(int(now[1][q]))
                    vals.append(-float(now[2][q]))
                upper.append(-const)
                moves.setdefault((s, b), []).append((int(years[t]), n + m))
                r += 1
                m += 1
        before = now
    if not m:
        return linked
    leave = sp.csc_matrix((vals, (rows, cols)), shape=(r, n + m))
    window_rows, window_cols, left = [], [], []
    for key, items in moves.items():
        done = fixed.get(key, [])
        starts = sorted({y for y, _ in items} | {y for y, _ in done})
        for u in starts:
            mine = [c for y, c in items if u <= y <= u + settle]
            span = {y for y, _ in items if u <= y <= u + settle}
            earlier = sum(v for y, v in done if u <= y <= u + settle)
            if not mine or len(span) + (earlier > 0) < 2:
                continue
            window_rows += [len(left)] * len(mine)
            window_cols += mine
            left.append(max(0.0, 1.0 - earlier))
    widened = _with_columns(linked, m)
    out = widened.with_rows("settle_years__leave", leave, upper=np.array(upper))
    if left:
        once = sp.csc_matrix(
            (np.ones(len(window_cols)), (window_rows, window_cols)), shape=(len(left), n + m)
        )
        out = out.with_rows("settle_years", once, upper=np.array(left))
    return out


def _fixed_moves(past) -> dict[tuple[int, int], list[tuple[int, float]]]:
    """(settlement, band) -> [(year, share that left its school that year)] of fixed years."""
    out: dict = {}
    for (_, a), (year, b) in zip(past, past[1:], strict=False):
        gone: dict = {}
        for (s, band, j), share in a.items():
            gone[(s, band)] = gone.get((s, band), 0.0) + max(0.0, share - b.get((s, band, j), 0.0))
        present = {k[:2] for k in b}
        for key, v in gone.items():
            if v > 1e-9 and key in present:
                out.setdefault(key, []).append((int(year), v))
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
