"""Solving a :class:`~allocator.solver.model.LinearModel`: :func:`solve_matrix`.

With HiGHS the whole model goes to the solver in one call, which is what large models need; CBC
(through PuLP) is the fallback. The result is a :class:`MatrixSolution` for a usable solution
(status ``optimal``, or ``feasible`` when a time limit stopped a MIP early, with its gap);
:class:`~allocator.errors.Infeasible` is raised when no solution exists (with the row groups that
conflict and by how much), :class:`~allocator.errors.SolverError` for an unbounded model or a
solver that stopped without any solution. Every HiGHS answer is checked before it is labelled
(its objective recomputed from the plan, compared with the solver's and the caller's bounds).
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np

from allocator.errors import SolverError
from allocator.solver.highs import (
    answer_problem,
    configured_highs,
    integral_objective,
    pass_model,
)
from allocator.solver.infeasibility import infeasible_error
from allocator.solver.model import LinearModel
from allocator.solver.options import (
    MatrixSolution,
    SolveInfo,
    SolverOptions,
    relative_gap,
    within_gap,
)
from allocator.solver.pulp_bridge import solve_model_cbc

__all__ = ["solve_matrix", "run_highs"]


def solve_matrix(
    model: LinearModel,
    *,
    options: SolverOptions | None = None,
    start=None,
    bound: float | None = None,
) -> MatrixSolution:
    """Solve a linear or mixed-integer model.

    Parameters
    ----------
    model : LinearModel
        Built with :class:`~allocator.solver.model.ModelBuilder` (or
        :meth:`LinearModel.from_arrays`).
    options : SolverOptions, optional
    start : array_like, shape (n,), optional
        A feasible solution to start a MIP from (HiGHS only).
    bound : float, optional
        A value no solution can beat, known to the caller (a lower bound when minimising, an
        upper bound when maximising). An answer beating it is not trusted: the model is solved
        again without the start (then without presolve) before anything is labelled.

    Returns
    -------
    MatrixSolution

    Raises
    ------
    Infeasible
        No solution exists; ``violations`` maps each conflicting row group to the total amount by
        which it must be relaxed.
    SolverError
        Unbounded, or the solver stopped (e.g. at the time limit) without any solution.

    Examples
    --------
    >>> from allocator.solver.model import ModelBuilder
    >>> b = ModelBuilder()
    >>> x = b.add_columns("x", 2, cost=1.0, integer=True)
    >>> _ = b.add_rows("cover", 1, {x: (0, [0, 1], [1.0, 2.0])}, lower=3.0)
    >>> sol = solve_matrix(b.build())
    >>> sol.info.status, sol.info.objective
    ('optimal', 2.0)
    """
    if not isinstance(model, LinearModel):
        raise TypeError(
            "solve_matrix takes a LinearModel (build one with ModelBuilder or "
            f"LinearModel.from_arrays), got {type(model).__name__}"
        )
    options = options or SolverOptions()
    if options.solver == "cbc":
        return solve_model_cbc(model, options)
    return _solve_with_highs(model, options, start, bound)


def _solve_with_highs(model: LinearModel, options: SolverOptions, start, bound) -> MatrixSolution:
    """Solve with HiGHS, checking every answer before it is labelled.

    An answer whose plan does not have the objective the solver reports (recomputed as
    ``c . x + offset``), whose objective beats the caller's valid ``bound`` or lies beyond the
    solver's own bound, is not trusted: the model is solved again without the start, then with
    presolve off (HiGHS 1.16 with a start and presolve returns the start as "optimal" with a
    value and bound below the true optimum). If every attempt fails the check, the last plan is
    returned as ``feasible`` with its recomputed objective and no bound.
    """
    t0 = time.perf_counter()
    c, offset, maximize = model.c, model.offset, model.maximize
    is_mip = model.is_mip
    if start is not None and not is_mip:
        start = None
    attempts = [(start, True)] + ([(None, True)] if start is not None else []) + [(None, False)]
    fallback = None
    problem = ""
    tried = 0
    for start_k, presolve in attempts:
        left = None
        if options.time_limit is not None:
            left = options.time_limit - (time.perf_counter() - t0)
            if fallback is not None and left <= 0.05:
                break
        h = configured_highs(options, left)
        if not presolve:
            h.setOptionValue("presolve", "off")
        tried += 1
        answer = run_highs(h, model, start_k, t0)
        if answer is None:  # stopped without a plan
            if fallback is not None:
                break
            seconds = time.perf_counter() - t0
            result = SolveInfo("error", None, None, None, seconds, "highs")
            reason = h.modelStatusToString(h.getModelStatus())
            raise SolverError(
                f"the solver stopped without a plan ({reason}) after {seconds:.1f} s", result
            )
        status, reported, dual_bound, x, duals = answer
        objective = float(np.dot(c, x) + offset)
        problem = answer_problem(objective, reported, dual_bound, bound, maximize, c, x)
        if not problem:
            if dual_bound is not None and integral_objective(c, model.integrality, offset):
                # every plan's objective is a whole number: so is the best bound
                dual_bound = (
                    math.floor(dual_bound + 1e-6) if maximize else math.ceil(dual_bound - 1e-6)
                )
            info = _labelled(status, objective, dual_bound, is_mip, options, h, t0)
            return MatrixSolution(info, x, duals)
        fallback = (objective, x)
    objective, x = fallback
    seconds = time.perf_counter() - t0
    tries = "1 attempt" if tried == 1 else f"{tried} attempts"
    warnings.warn(
        f"HiGHS gave an answer that failed its check ({problem}) in {tries} (the time "
        "limit allowed no more); the plan is reported as feasible, without a bound"
        if tried < len(attempts)
        else f"HiGHS gave an answer that failed its check ({problem}) in {tries}; "
        "the plan is reported as feasible, without a bound",
        RuntimeWarning,
        stacklevel=3,
    )
    return MatrixSolution(SolveInfo("feasible", objective, None, None, seconds, "highs"), x, None)


def run_highs(h, model: LinearModel, start, t0):
    """One HiGHS run: (status, objective, bound, x, duals), or None when it found no plan.

    ``status`` is ``"optimal"`` (as HiGHS says) or ``"feasible"``. Raises Infeasible or
    SolverError (unbounded) as :func:`solve_matrix` documents.
    """
    import highspy

    MS = highspy.HighsModelStatus
    c, offset = model.c, model.offset
    pass_model(h, model)
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(np.asarray(start, dtype=float))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    if status == MS.kUnboundedOrInfeasible:
        h.setOptionValue("presolve", "off")
        h.run()
        status = h.getModelStatus()
    info = h.getInfo()
    is_mip = model.is_mip
    has_solution = info.primal_solution_status == 2
    if status == MS.kModelEmpty:
        x = np.asarray(h.getSolution().col_value, dtype=float)
        if x.shape != c.shape:
            x = np.zeros(c.shape[0])
        objective = float(np.dot(c, x) + offset)
        return "optimal", objective, objective, x, None
    if status == MS.kInfeasible:
        result = SolveInfo("infeasible", None, None, None, time.perf_counter() - t0, "highs")
        raise infeasible_error(result, model)
    if status in (MS.kUnbounded, MS.kUnboundedOrInfeasible):
        result = SolveInfo("unbounded", None, None, None, time.perf_counter() - t0, "highs")
        raise SolverError(
            "the model is unbounded: some objective term can grow without limit", result
        )
    if not has_solution:
        return None
    objective = float(info.objective_function_value)
    if status == MS.kOptimal:
        bound = float(info.mip_dual_bound) if is_mip else objective
        label = "optimal"
    else:
        bound = float(info.mip_dual_bound) if is_mip else None
        label = "feasible"
    if bound is not None and not math.isfinite(bound):
        bound = None
    solution = h.getSolution()
    x = np.asarray(solution.col_value, dtype=float)
    duals = np.asarray(solution.row_dual, dtype=float) if solution.dual_valid else None
    return label, objective, bound, x, duals


def _labelled(status, objective, bound, is_mip, options, h, t0) -> SolveInfo:
    """The SolveInfo of a checked answer: "optimal" only within the gap asked."""
    seconds = time.perf_counter() - t0
    work = _work(h)
    if not is_mip:
        if status == "optimal":
            return SolveInfo("optimal", objective, objective, 0.0, seconds, "highs", *work)
        return SolveInfo(status, objective, None, None, seconds, "highs", *work)
    abs_gap = float((options.highs_options or {}).get("mip_abs_gap", 1e-6))
    if bound is not None and within_gap(objective, bound, options.mip_gap, abs_gap):
        status = "optimal"
    elif status == "optimal":
        status = "feasible"  # HiGHS stopped (e.g. at a limit) with a wider gap than asked
    gap = relative_gap(objective, bound)
    return SolveInfo(status, objective, bound, gap, seconds, "highs", *work)


def _work(h) -> tuple[int | None, int | None]:
    """(branch-and-bound nodes, simplex iterations) of HiGHS's last run (None if it has none)."""
    info = h.getInfo()
    nodes = int(getattr(info, "mip_node_count", -1))
    iterations = int(getattr(info, "simplex_iteration_count", -1))
    return (nodes if nodes >= 0 else None, iterations if iterations >= 0 else None)
