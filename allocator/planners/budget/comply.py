"""The least-cost-to-comply model: the least budget with which every in-scope part passes.

Model
-----
min sum c x subject to, for each in-scope part k and each assessed indicator i it misses,
``sum_j a[k,i,j] x >= (T (1 - MET_RTOL) - v0) y[k,i]`` with y binary (a big-M row with the tightest
M, the gap itself), ``sum_i y[k,i] >= min_met - met0[k]``, and, when the standard sets
``floor_share``, ``v >= floor_share * T (1 - MET_RTOL)`` for every indicator: exactly what
:func:`allocator.compliance.meets` asks, nothing above it. The category and county caps and the
rural share of the policy apply (:func:`~allocator.planners.budget.model.spend_constraints`
without its budget row: the budget is what is minimised).

Rows and columns are normalised: a continuous unit column is scaled so that one scaled unit lifts
its largest indicator by one threshold, rows are in shares of thresholds, the objective in
millions of yuan (:data:`MONEY`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

import allocator.compliance as compliance
from allocator.errors import Infeasible
from allocator.planners.budget.data import BudgetData
from allocator.planners.budget.model import add_spending_rows
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.targets import add_coupled_rows
from allocator.solver import (
    LinearModel,
    MatrixSolution,
    ModelBuilder,
    SolverOptions,
    solve_matrix,
)

__all__ = ["MONEY", "ComplyModel", "comply_model", "refuse_unreachable", "solve_least_cost"]

#: Yuan per unit of the objective (the least cost is solved in millions of yuan).
MONEY = 1e6


@dataclass(frozen=True, eq=False)
class ComplyModel:
    """The least-cost model (:func:`comply_model`): unit columns ``x`` (scaled), binaries ``y``.

    Examples
    --------
    See :func:`comply_model`.
    """

    model: LinearModel
    scale: np.ndarray  # (S*J,) units per scaled unit column
    integer_x: np.ndarray  # (S*J,) whole-unit columns

    @property
    def nx(self) -> int:
        """Number of unit columns."""
        return self.model.column_block("x").size

    @property
    def ny(self) -> int:
        """Number of binaries (one per missed indicator)."""
        return self.model.column_block("y").size

    def units(self, sol: MatrixSolution) -> np.ndarray:
        """The solver's units (S*J,), unscaled."""
        return self.model.column_values(sol.x, "x") * self.scale


def _judged(data: BudgetData):
    """Which (part, indicator) the standard judges, and which it finds met before the plan."""
    T = data.T
    judged = ~np.isnan(T) & data.is_standard[None, :]
    with np.errstate(invalid="ignore"):
        met0 = judged & compliance.meets(data.v0, T)
    return judged, met0


def refuse_unreachable(data: BudgetData) -> None:
    """Raise :class:`Infeasible` when some part cannot pass even with every intervention at its cap.

    The violations name each such part (``comply__<school>/<part>``) with the number of
    indicators it lacks.
    """
    std, T = data.standard, data.T
    K, n_ind = data.K, data.n_ind
    judged, _ = _judged(data)
    cap = data.cap.ravel()
    unlimited = (abs(data.E) @ np.isinf(cap).astype(float)).reshape(K, n_ind) > 0
    reach = data.v0 + (data.E @ np.where(np.isinf(cap), 0.0, cap)).reshape(K, n_ind)
    with np.errstate(invalid="ignore"):
        reachable = judged & (unlimited | compliance.meets(reach, T))
        floor_ok = np.ones(K, bool)
        if std.floor_share is not None:
            floor_ok = ~(judged & ~unlimited & ~compliance.meets(reach, std.floor_share * T)).any(
                axis=1
            )
    bad = (reachable.sum(axis=1) < std.min_indicators_met) | ~floor_ok
    if not bad.any():
        return
    ids = data.parts["school_id"].to_numpy()[bad]
    pts = data.parts["part"].to_numpy()[bad]
    violations = {
        f"comply__{sid}/{pt}": float(std.min_indicators_met - n)
        for sid, pt, n in zip(ids, pts, reachable.sum(axis=1)[bad], strict=True)
    }
    raise Infeasible(
        f"{int(bad.sum())} assessed part(s) cannot meet {std.min_indicators_met} indicators "
        f"even with every intervention at its cap, e.g. {ids[0]} ({pts[0]}); raise the "
        "catalogue caps or add interventions",
        violations,
    )


def comply_model(data: BudgetData, policy: BudgetPolicy, relax: bool) -> ComplyModel:
    """The least-cost model of the module notes for prepared data and a policy's spending caps.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> from allocator.solver import SolverOptions
    >>> refuse_unreachable(data)  # every part can pass: no error
    >>> model = comply_model(data, BudgetPolicy(budget=0.0), relax=False)
    >>> sol = solve_least_cost(model, SolverOptions())
    >>> model.units(sol).shape == (data.S * data.J,), sol.info.status
    (True, 'optimal')
    """
    std = data.standard
    K, n_ind, S, J = data.K, data.n_ind, data.S, data.J
    nx = S * J
    integer_x = np.tile(data.integer & (not relax), S)
    T = data.T
    judged, met0 = _judged(data)
    with np.errstate(invalid="ignore"):
        norm = data.E.multiply(1.0 / np.nan_to_num(T, nan=np.inf).reshape(-1, 1)).tocsr()
    need = std.min_indicators_met - met0.sum(axis=1)
    gain = np.asarray(abs(norm).max(axis=0).todense()).ravel() if nx else np.zeros(0)
    scale = np.where(integer_x | (gain <= 0), 1.0, 1.0 / np.where(gain > 0, gain, 1.0))
    v0n = np.where(judged, data.v0 / np.where(judged, T, 1.0), 0.0)

    # rows: comply (big-M with M = the gap), count, floor, spending caps; a row asks exactly what
    # allocator.compliance.meets asks (v >= T (1 - MET_RTOL)), nothing above it
    d = np.flatnonzero((judged & ~met0).ravel())
    nd = len(d)
    cs = data.cost.ravel() * scale
    b = ModelBuilder()
    lower = 0.0 if data.floor is None else data.floor / scale  # the open-assessed targets' units
    x = b.add_columns(
        "x", nx, cost=cs / MONEY, lower=lower, upper=data.cap.ravel() / scale, integer=integer_x
    )
    y = b.add_columns("y", nd, upper=1.0, integer=True)
    need_d = 1.0 - compliance.MET_RTOL - v0n.ravel()[d]
    b.add_rows("comply", nd, {x: norm[d] @ sp.diags(scale), y: -sp.diags(need_d)}, lower=0.0)
    part_of_d = d // n_ind
    needy = np.flatnonzero(need > 0)
    row_of_part = -np.ones(K, dtype=np.int64)
    row_of_part[needy] = np.arange(len(needy))
    keep = np.flatnonzero(row_of_part[part_of_d] >= 0)
    count = (row_of_part[part_of_d[keep]], keep, 1.0)
    b.add_rows("count", len(needy), {y: count}, lower=need[needy].astype(float))
    if std.floor_share is not None:
        floor_level = std.floor_share * (1 - compliance.MET_RTOL)
        f = np.flatnonzero((judged & (v0n < floor_level)).ravel())
        b.add_rows(
            "floor", len(f), {x: norm[f] @ sp.diags(scale)}, lower=floor_level - v0n.ravel()[f]
        )
    # the budget is what is minimised: no budget row
    add_spending_rows(b, x, data, policy, cs, with_budget=False)
    add_coupled_rows(b, x, data, scale)
    return ComplyModel(b.build(), scale, integer_x)


def solve_least_cost(model: ComplyModel, options: SolverOptions) -> MatrixSolution:
    """Solve a :class:`ComplyModel` (objective in millions of yuan, unit columns scaled)."""
    return solve_matrix(model.model, options=options)
