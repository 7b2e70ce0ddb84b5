"""A model kept in HiGHS between solves: rows added, bounds and integrality changed, solved again.

Cutting-plane and decomposition methods solve one model many times, each time with a few more
rows; handing the whole model to the solver again each time would throw away the simplex basis.
:class:`IncrementalModel` keeps one HiGHS object for the life of the method and checks every
answer as :func:`~allocator.solver.solve_matrix` does: the objective is recomputed from the plan
and compared with the solver's, and a plan is only "optimal" within the gap asked.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, SolverError
from allocator.solver.highs import answer_problem, configured_highs, pass_model
from allocator.solver.model import LinearModel
from allocator.solver.options import SolverOptions

__all__ = ["IncrementalModel", "Answer"]


class Answer(NamedTuple):
    """One solve of an :class:`IncrementalModel`.

    ``status``: ``"optimal"`` (as the solver says; for a MIP within its gap) or ``"feasible"``;
    ``objective``: recomputed as ``c . x + offset``; ``bound``: the solver's bound (the objective
    itself for an LP); ``x``: the plan; ``row_duals`` and ``reduced_costs``: an LP's duals (None
    for a MIP).
    """

    status: str
    objective: float
    bound: float | None
    x: np.ndarray
    row_duals: np.ndarray | None
    reduced_costs: np.ndarray | None


class IncrementalModel:
    """A minimisation model held by one HiGHS object, changed and solved again and again.

    Parameters
    ----------
    model : LinearModel
        The first model (built with :class:`~allocator.solver.ModelBuilder`); solved as an LP
        until :meth:`set_integer` marks columns integer.
    options : SolverOptions
        Threads, gap, log and HiGHS options as for :func:`~allocator.solver.solve_matrix`.

    Examples
    --------
    >>> from allocator.solver import ModelBuilder, SolverOptions
    >>> b = ModelBuilder()
    >>> x = b.add_columns("x", 2, cost=1.0, upper=10.0)
    >>> _ = b.add_rows("cover", 1, {x: (0, [0, 1], [1.0, 2.0])}, lower=3.0)
    >>> inc = IncrementalModel(b.build(), SolverOptions())
    >>> inc.solve().objective
    1.5
    >>> inc.add_rows(sp.csr_matrix([[1.0, 0.0]]), [1.0], [np.inf])
    >>> inc.solve().objective
    2.0
    >>> inc.set_integer([0, 1]); inc.add_rows(sp.csr_matrix([[0.0, 2.0]]), [1.0], [np.inf])
    >>> inc.solve().objective
    2.0
    """

    def __init__(self, model: LinearModel, options: SolverOptions) -> None:
        if model.maximize:
            raise ValueError("IncrementalModel minimises; negate the costs to maximise")
        self.options = options
        self.c = np.asarray(model.c, dtype=float).copy()
        self.offset = float(model.offset)
        self.integer = np.asarray(model.integrality, dtype=bool).copy()
        self.h = configured_highs(options)
        pass_model(self.h, model)
        self.n_rows = int(model.A.shape[0])

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())

    def add_rows(self, A, lower, upper) -> None:
        """Append the rows ``lower <= A x <= upper`` (``A``: a sparse matrix, one row each)."""
        A = sp.csr_matrix(A)
        if A.shape[0] == 0:
            return
        A.sum_duplicates()
        k = int(A.shape[0])
        status = self.h.addRows(
            k,
            np.broadcast_to(np.asarray(lower, dtype=float), (k,)).copy(),
            np.broadcast_to(np.asarray(upper, dtype=float), (k,)).copy(),
            int(A.nnz),
            A.indptr[:-1].astype(np.int32),
            A.indices.astype(np.int32),
            A.data.astype(float),
        )
        if status.value != 0:  # kOk
            raise SolverError(f"the solver refused {k} new rows ({status})")
        self.n_rows += int(A.shape[0])

    def set_bounds(self, columns, lower, upper) -> None:
        """Change the bounds of ``columns`` to ``lower`` and ``upper`` (arrays or scalars)."""
        cols = np.asarray(columns, dtype=np.int32)
        if cols.size == 0:
            return
        lo = np.broadcast_to(np.asarray(lower, dtype=float), cols.shape).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=float), cols.shape).copy()
        self.h.changeColsBounds(int(cols.size), cols, lo, hi)

    def set_integer(self, columns) -> None:
        """Mark ``columns`` integer: the next solves are MIPs."""
        import highspy

        cols = np.asarray(columns, dtype=np.int32)
        if cols.size == 0:
            return
        kint = np.full(cols.size, highspy.HighsVarType.kInteger.value, dtype=np.uint8)
        self.h.changeColsIntegrality(int(cols.size), cols, kint)
        self.integer[cols] = True

    def solve(self, start=None, time_limit: float | None = None) -> Answer:
        """Solve the model as it stands (``start``: a full feasible plan for a MIP).

        Raises Infeasible when no plan satisfies the rows (the caller explains why), SolverError
        when the solver stops without a plan, finds the model unbounded, or gives a plan whose
        objective is not the one it reports.
        """
        import highspy

        MS = highspy.HighsModelStatus
        h, t0 = self.h, time.perf_counter()
        limit = math.inf if time_limit is None else max(float(time_limit), 0.01)
        h.setOptionValue("time_limit", float(limit))
        if start is not None and self.is_mip:
            sol = highspy.HighsSolution()
            sol.col_value = list(np.asarray(start, dtype=float))
            sol.value_valid = True
            h.setSolution(sol)
        h.run()
        status = h.getModelStatus()
        info = h.getInfo()
        if status == MS.kInfeasible:
            raise Infeasible("the model has no plan that satisfies every row")
        if status in (MS.kUnbounded, MS.kUnboundedOrInfeasible):
            raise SolverError(f"the model has no optimum ({h.modelStatusToString(status)})")
        if info.primal_solution_status != 2:
            raise SolverError(
                f"the solver stopped without a plan ({h.modelStatusToString(status)}) "
                f"after {time.perf_counter() - t0:.1f} s"
            )
        solution = h.getSolution()
        x = np.asarray(solution.col_value, dtype=float)
        objective = float(self.c @ x + self.offset)
        reported = float(info.objective_function_value)
        if self.is_mip:
            bound = float(info.mip_dual_bound)
            bound = bound if math.isfinite(bound) else None
        else:
            bound = reported if status == MS.kOptimal else None
        problem = answer_problem(objective, reported, bound, None, False, self.c, x)
        if problem:
            raise SolverError(f"the solver's answer failed its check: {problem}")
        label = "optimal" if status == MS.kOptimal else "feasible"
        duals = costs = None
        if not self.is_mip and solution.dual_valid:
            duals = np.asarray(solution.row_dual, dtype=float)
            costs = np.asarray(solution.col_dual, dtype=float)
        return Answer(label, objective, bound, x, duals, costs)
