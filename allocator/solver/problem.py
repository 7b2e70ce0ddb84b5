"""Solving a PuLP problem: :func:`solve_problem` (HiGHS through :func:`solve_matrix`, or CBC)."""

from __future__ import annotations

import pulp

from allocator.solver.matrix import solve_matrix
from allocator.solver.options import SolveInfo, SolverOptions
from allocator.solver.pulp_bridge import problem_model, solve_problem_cbc

__all__ = ["solve_problem"]


def solve_problem(prob: pulp.LpProblem, options: SolverOptions | None = None) -> SolveInfo:
    """Solve a PuLP problem; variable values (and LP duals) are written back into the problem.

    Parameters
    ----------
    prob : pulp.LpProblem
        Constraint names of the form ``"group__detail"`` let an infeasibility be explained by group.
    options : SolverOptions, optional

    Returns
    -------
    SolveInfo

    Raises
    ------
    Infeasible, SolverError
        As for :func:`solve_matrix`.

    Examples
    --------
    >>> import pulp
    >>> prob = pulp.LpProblem("toy", pulp.LpMaximize)
    >>> x = prob.add_variable("x", 0, 4)
    >>> prob += x
    >>> prob += (2 * x <= 5, "cap__x")
    >>> solve_problem(prob).objective
    2.5
    """
    options = options or SolverOptions()
    if options.solver == "cbc":
        return solve_problem_cbc(prob, options)
    variables, model = problem_model(prob)
    sol = solve_matrix(model, options=options)
    for v, value in zip(variables, sol.x, strict=True):
        v.varValue = float(value)
    if sol.row_duals is not None:
        for con, dual in zip(prob._constraints.values(), sol.row_duals, strict=True):
            con.pi = float(dual)
    return sol.info
