"""PuLP on both sides of the solver layer: a :class:`pulp.LpProblem` as a :class:`LinearModel`
(so HiGHS can take it in one call), a :class:`LinearModel` as a PuLP problem (so CBC, the
fallback, can solve it), and the CBC solve itself."""

from __future__ import annotations

import math
import time

import numpy as np
import pulp
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.solver.infeasibility import infeasible_error
from allocator.solver.model import LinearModel
from allocator.solver.options import MatrixSolution, SolveInfo, SolverOptions

__all__ = ["problem_model", "solve_problem_cbc", "solve_model_cbc"]


def problem_model(prob: pulp.LpProblem) -> tuple[list, LinearModel]:
    """The variables of ``prob`` (in column order) and the problem as a :class:`LinearModel`.

    A constraint named ``"group__detail"`` is in row group ``"group"``.

    Examples
    --------
    >>> prob = pulp.LpProblem("toy", pulp.LpMaximize)
    >>> x = prob.add_variable("x", 0, 4)
    >>> prob += x
    >>> prob += (2 * x <= 5, "cap__x")
    >>> variables, model = problem_model(prob)
    >>> model.A.toarray().tolist(), model.row_upper.tolist(), model.row_groups
    ([[2.0]], [5.0], ('cap',))
    """
    variables = prob.variables()
    index = {v.name: j for j, v in enumerate(variables)}
    n = len(variables)
    c = np.zeros(n)
    for v, coef in prob.objective.items():
        c[index[v.name]] += coef
    rows, cols, vals = [], [], []
    rl, ru, groups = [], [], []
    for i, (name, con) in enumerate(prob._constraints.items()):
        for v, coef in con.items():
            rows.append(i)
            cols.append(index[v.name])
            vals.append(coef)
        rhs = -float(con.constant)
        rl.append(rhs if con.sense in (pulp.LpConstraintGE, pulp.LpConstraintEQ) else -np.inf)
        ru.append(rhs if con.sense in (pulp.LpConstraintLE, pulp.LpConstraintEQ) else np.inf)
        groups.append(name.split("__")[0])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(len(rl), n))
    model = LinearModel.from_arrays(
        c,
        A,
        np.array(rl, dtype=float),
        np.array(ru, dtype=float),
        [-np.inf if v.lowBound is None else v.lowBound for v in variables],
        [np.inf if v.upBound is None else v.upBound for v in variables],
        [v.cat == pulp.LpInteger for v in variables],
        maximize=prob.sense == pulp.LpMaximize,
        offset=float(prob.objective.constant or 0.0),
        row_groups=groups,
    )
    return variables, model


def solve_problem_cbc(prob: pulp.LpProblem, options: SolverOptions) -> SolveInfo:
    """Solve ``prob`` with CBC (values written back into it), labelled as HiGHS answers are."""
    cmd = pulp.PULP_CBC_CMD(
        msg=options.msg,
        timeLimit=options.time_limit,
        gapRel=options.mip_gap,
        threads=options.threads,
    )
    t0 = time.perf_counter()
    prob.solve(cmd)
    seconds = time.perf_counter() - t0
    status, sol_status = prob.status, prob.sol_status
    is_mip = any(v.cat == pulp.LpInteger for v in prob.variables())
    objective = pulp.value(prob.objective) if prob.objective is not None else 0.0
    objective = float(objective) if objective is not None else 0.0
    if status == pulp.LpStatusOptimal and sol_status == pulp.LpSolutionOptimal:
        return SolveInfo(
            "optimal",
            objective,
            None if is_mip else objective,
            None if is_mip else 0.0,
            seconds,
            "cbc",
        )
    if sol_status == pulp.LpSolutionIntegerFeasible:
        return SolveInfo("feasible", objective, None, None, seconds, "cbc")
    if status == pulp.LpStatusInfeasible:
        info = SolveInfo("infeasible", None, None, None, seconds, "cbc")
        raise infeasible_error(info, problem_model(prob)[1])
    if status == pulp.LpStatusUnbounded:
        info = SolveInfo("unbounded", None, None, None, seconds, "cbc")
        raise SolverError(
            "the model is unbounded: some objective term can grow without limit", info
        )
    info = SolveInfo("error", None, None, None, seconds, "cbc")
    raise SolverError(f"CBC stopped without a plan ({pulp.LpStatus[status]})", info)


def solve_model_cbc(model: LinearModel, options: SolverOptions) -> MatrixSolution:
    """Solve ``model`` with CBC through PuLP (the fallback solver)."""
    c, cl, cu, integ = model.c, model.col_lower, model.col_upper, model.integrality
    rl, ru = model.row_lower, model.row_upper
    prob = pulp.LpProblem("model", pulp.LpMaximize if model.maximize else pulp.LpMinimize)
    xs = [
        prob.add_variable(
            f"x{j}",
            None if not math.isfinite(cl[j]) else cl[j],
            None if not math.isfinite(cu[j]) else cu[j],
            cat="Integer" if integ[j] else "Continuous",
        )
        for j in range(len(c))
    ]
    prob += pulp.LpAffineExpression(
        [(xs[j], c[j]) for j in range(len(c)) if c[j]], constant=model.offset
    )
    R = model.A.tocsr()
    for i in range(R.shape[0]):
        lo, hi = R.indptr[i], R.indptr[i + 1]
        expr = pulp.LpAffineExpression(
            [(xs[j], v) for j, v in zip(R.indices[lo:hi], R.data[lo:hi], strict=True)]
        )
        group = model.row_groups[i]
        if rl[i] == ru[i]:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"{group}__{i}", rl[i])
            continue
        if math.isfinite(rl[i]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"{group}__{i}_lo", rl[i])
        if math.isfinite(ru[i]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"{group}__{i}_hi", ru[i])
    info = solve_problem_cbc(prob, options)
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs])
    duals = None
    if not integ.any():
        duals = np.zeros(R.shape[0])
        for name, con in prob._constraints.items():
            i = int(name.split("__")[-1].split("_")[0])
            duals[i] += con.pi or 0.0
    return MatrixSolution(info, x, duals)
