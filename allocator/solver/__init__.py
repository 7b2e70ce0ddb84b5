"""The one place that talks to solvers.

* :class:`ModelBuilder` assembles a :class:`LinearModel` (``min/max c·x + offset`` subject to
  ``row_lower <= A x <= row_upper``, ``col_lower <= x <= col_upper``, some columns integer) from
  named column blocks and row groups; every model in allocator is built this way.
* :func:`solve_matrix` solves a :class:`LinearModel` (HiGHS in one call; CBC as the fallback).
* :func:`solve_problem` solves a :class:`pulp.LpProblem` and writes the values back into its
  variables (with HiGHS through :func:`solve_matrix`).

Both return a :class:`SolveInfo` (``solve_matrix`` inside a :class:`MatrixSolution`) for a usable
solution (status ``optimal``, or ``feasible`` when a time limit stopped a MIP early, with its
gap), raise :class:`~allocator.errors.Infeasible` when no solution exists (with the row groups
that conflict and by how much, found by an elastic relaxation), and raise
:class:`~allocator.errors.SolverError` for an unbounded model or a solver that stopped without any
solution. A row's group is its name up to the first ``"__"`` (``"budget__total"`` is in group
``"budget"``).

Modules: ``options`` (what is asked and achieved), ``model`` (the builder), ``matrix`` (solving a
model), ``incremental`` (one model solved again and again as rows are added: cutting planes), ``problem`` (solving a PuLP problem), ``highs`` (HiGHS specifics), ``pulp_bridge`` (PuLP
and CBC), ``infeasibility`` (explaining a model without solution), ``start`` (checked MIP starts).
"""

from allocator.solver.highs import new_highs, supported_highs_options
from allocator.solver.incremental import IncrementalModel
from allocator.solver.matrix import solve_matrix
from allocator.solver.model import ColumnBlock, LinearModel, ModelBuilder, RowBlock
from allocator.solver.options import (
    MatrixSolution,
    SolveInfo,
    SolverOptions,
    binary_values,
    relative_gap,
    within_gap,
    worst_status,
)
from allocator.solver.problem import solve_problem
from allocator.solver.start import checked_start, completed_start, start_violations

__all__ = [
    "SolverOptions",
    "SolveInfo",
    "MatrixSolution",
    "ModelBuilder",
    "LinearModel",
    "ColumnBlock",
    "RowBlock",
    "solve_matrix",
    "solve_problem",
    "binary_values",
    "relative_gap",
    "within_gap",
    "worst_status",
    "new_highs",
    "supported_highs_options",
    "IncrementalModel",
    "start_violations",
    "checked_start",
    "completed_start",
]
