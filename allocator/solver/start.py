"""MIP starts: a plan known to be feasible, handed to the solver so that its search begins with
an incumbent (:func:`solve_matrix` ``start``).

A start is checked against the model's rows, bounds and integrality before it is passed
(:func:`start_violations`, :func:`checked_start`): HiGHS may trust a start it is given, so a wrong
one is refused here, with the row groups it breaks. :func:`completed_start` turns a partial plan
(the integer decisions of another solve) into a full one by solving the LP left when those
decisions are fixed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from allocator.errors import Infeasible
from allocator.solver.matrix import solve_matrix
from allocator.solver.model import LinearModel
from allocator.solver.options import SolverOptions

__all__ = ["start_violations", "checked_start", "completed_start"]

#: Tolerance (absolute, scaled by the row's size) within which a start meets a row or bound.
START_TOL = 1e-6


def start_violations(model: LinearModel, x, tol: float = START_TOL) -> dict[str, float]:
    """{row group (or ``"column bounds"``, ``"integrality"``): largest amount broken} of ``x``;
    empty when ``x`` is a feasible plan of ``model``.

    Examples
    --------
    >>> m = LinearModel.from_arrays([1.0, 1.0], [[1.0, 2.0]], row_lower=[3.0],
    ...                             integrality=[True, True], row_groups=["cover"])
    >>> start_violations(m, [1.0, 1.0])
    {}
    >>> start_violations(m, [1.0, 0.0])
    {'cover': 2.0}
    >>> start_violations(m, [0.5, 2.0])
    {'integrality': 0.5}
    """
    x = np.asarray(x, dtype=float)
    n = model.shape[1]
    if x.shape != (n,):
        raise ValueError(f"a start needs {n} values, one per column, got shape {x.shape}")
    out: dict[str, float] = {}
    if not np.isfinite(x).all():
        return {"column bounds": float("inf")}
    ax = model.A @ x
    scale = tol * np.maximum(1.0, np.abs(ax))
    below = np.where(np.isfinite(model.row_lower), model.row_lower - ax, 0.0)
    above = np.where(np.isfinite(model.row_upper), ax - model.row_upper, 0.0)
    broken = np.maximum(below, above)
    groups = np.asarray(model.row_groups, dtype=object)
    for r in np.flatnonzero(broken > scale):
        g = str(groups[r]) if len(groups) else "rows"
        out[g] = max(out.get(g, 0.0), float(broken[r]))
    bounds = np.maximum(model.col_lower - x, x - model.col_upper)
    if (bounds > tol * np.maximum(1.0, np.abs(x))).any():
        out["column bounds"] = float(bounds.max())
    integ = model.integrality
    off = np.abs(x[integ] - np.round(x[integ])) if integ.any() else np.zeros(0)
    if (off > tol).any():
        out["integrality"] = float(off.max())
    return out


def checked_start(model: LinearModel, x, tol: float = START_TOL) -> np.ndarray:
    """``x`` as floats (integer columns rounded) when it is a feasible plan of ``model``; else a
    ValueError naming what it breaks.

    Examples
    --------
    >>> m = LinearModel.from_arrays([1.0], [[1.0]], row_lower=[2.0], row_groups=["need"])
    >>> checked_start(m, [3.0]).tolist()
    [3.0]
    >>> checked_start(m, [1.0])
    Traceback (most recent call last):
    ...
    ValueError: the start is not a feasible plan: need broken by 1
    """
    problems = start_violations(model, x, tol)
    if problems:
        words = ", ".join(f"{g} broken by {v:.6g}" for g, v in sorted(problems.items()))
        raise ValueError(f"the start is not a feasible plan: {words}")
    x = np.array(x, dtype=float)
    x[model.integrality] = np.round(x[model.integrality])
    return x


def completed_start(model: LinearModel, x, options: SolverOptions | None = None) -> np.ndarray:
    """A feasible plan of ``model`` with the integer columns of ``x`` (rounded), the continuous
    ones the cheapest that fit (an LP); raises Infeasible when no plan has those integer values.

    Examples
    --------
    >>> m = LinearModel.from_arrays([1.0, 1.0], [[1.0, 1.0]], row_lower=[2.5],
    ...                             integrality=[True, False])
    >>> completed_start(m, [2.0, 0.0]).tolist()
    [2.0, 0.5]
    """
    x = np.asarray(x, dtype=float)
    integ = model.integrality
    lower, upper = model.col_lower.copy(), model.col_upper.copy()
    lower[integ] = upper[integ] = np.round(x[integ])
    fixed = model.with_column_bounds(
        lower=lower, upper=upper, integrality=np.zeros(len(integ), dtype=bool)
    )
    options = dataclasses.replace(options or SolverOptions(), time_limit=None)
    try:
        sol = solve_matrix(fixed, options=options)
    except Infeasible as exc:
        raise Infeasible(f"no plan has the integer values of the start: {exc.message}",
                         exc.violations) from exc  # fmt: skip
    out = np.array(sol.x, dtype=float)
    out[integ] = lower[integ]
    return out
