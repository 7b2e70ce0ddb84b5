"""The one place that talks to solvers.

Two entry points:

* :func:`solve_matrix` solves ``min/max c·x + offset`` subject to ``row_lower <= A x <= row_upper``
  and ``col_lower <= x <= col_upper`` (some columns integer), given as numpy / scipy.sparse arrays.
  With HiGHS the whole matrix goes to the solver in one call, which is what large models need.
* :func:`solve_problem` solves a :class:`pulp.LpProblem` and writes the values back into its
  variables. With HiGHS the problem is turned into the same arrays and solved by :func:`solve_matrix`.

Both return a :class:`SolveInfo` for a usable solution (status ``optimal``, or ``feasible`` when a
time limit stopped a MIP early, with its gap), raise :class:`~allocator.errors.Infeasible` when no
solution exists (with the constraint groups that conflict and by how much, found by an elastic
relaxation), and raise :class:`~allocator.errors.SolverError` for an unbounded model or a solver that
stopped without any solution.

Constraint groups: a row's group is its name up to the first ``"__"`` (``"budget__total"`` is in group
``"budget"``); with :func:`solve_matrix` pass ``row_groups`` (one label per row).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pulp
import scipy.sparse as sp

from allocator.errors import Infeasible, SolverError
from allocator.solver_highs import (
    answer_problem,
    configured_highs,
    integral_objective,
    new_highs,
    pass_model,
    supported_highs_options,
)

__all__ = [
    "SolverOptions",
    "SolveInfo",
    "MatrixSolution",
    "solve_matrix",
    "solve_problem",
    "binary_values",
    "relative_gap",
    "within_gap",
    "new_highs",
    "supported_highs_options",
]

_SOLVERS = ("highs", "cbc")
_METHODS = ("choose", "simplex", "ipm")


@dataclass(frozen=True)
class SolverOptions:
    """How to solve a model.

    Parameters
    ----------
    solver : {"highs", "cbc"}
        HiGHS (through highspy) is the default; CBC (bundled with PuLP) is the fallback.
    time_limit : float, optional
        Seconds; a MIP stopped by the limit returns its best plan with status ``feasible`` and its gap.
    mip_gap : float
        Relative MIP gap at which a plan counts as optimal.
    threads : int, optional
        Solver threads (None: the solver decides).
    msg : bool
        Show the solver log (on stdout).
    method : {"choose", "simplex", "ipm"}
        LP algorithm for HiGHS; ``"ipm"`` (interior point) pays on large LPs.
    highs_options : dict, optional
        Further HiGHS options by name (e.g. ``{"mip_heuristic_effort": 0.0}``), set last.
    log : bool
        Show the solver log, like ``msg``. Without either, the solver writes nothing to stdout
        (not even its banner), so stdout carries results only.

    Examples
    --------
    >>> SolverOptions(time_limit=30, mip_gap=0.01).solver
    'highs'
    """

    solver: str = "highs"
    time_limit: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    msg: bool = False
    method: str = "choose"
    highs_options: dict | None = None
    log: bool = False

    @property
    def show_log(self) -> bool:
        """True when the solver log was asked for (``msg`` or ``log``)."""
        return bool(self.msg or self.log)

    def __post_init__(self):
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}")
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(
                f"time_limit must be a positive number of seconds, got {self.time_limit!r}"
            )
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip_gap must be in [0, 1), got {self.mip_gap!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")


@dataclass(frozen=True)
class SolveInfo:
    """What a solve achieved.

    Attributes
    ----------
    status : str
        ``optimal``, ``feasible`` (stopped early; see ``gap``), ``infeasible``, ``unbounded`` or ``error``.
    objective : float or None
        Objective value of the returned solution.
    bound : float or None
        Best proven bound on the objective (equals ``objective`` for a solved LP).
    gap : float or None
        Gap between ``objective`` and ``bound`` (see :func:`relative_gap`): relative,
        ``|objective - bound| / |objective|``, when ``|objective| >= 1``, absolute below (a relative
        gap means nothing near zero); 0 for an LP solved to optimality. A MIP is ``optimal`` only
        when this gap is within the ``mip_gap`` asked (or the absolute gap within HiGHS's
        ``mip_abs_gap``), whatever the solver says.
    seconds : float
        Wall time of the solve.
    solver : str
        The solver that ran.
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solver: str

    @property
    def is_optimal(self) -> bool:
        return self.status == "optimal"

    @classmethod
    def combine(
        cls, infos: Sequence[SolveInfo], *, objective: float | None = None, seconds=None
    ) -> SolveInfo:
        """One figure for independent parts solved one by one (e.g. one model per county).

        The status is the worst part's (see :func:`worst_status`); objectives add up, and so do
        the bounds when every part has one; the gap is the largest part's, or None when a part
        that is not optimal reports none; seconds add up. ``objective`` and ``seconds`` replace
        the sums when the caller has measured them (a recomputed objective, a wall time); the
        bound is then that objective if every part is optimal, else None.

        Examples
        --------
        >>> a = SolveInfo("optimal", 10.0, 10.0, 0.0, 1.0, "highs")
        >>> b = SolveInfo("feasible", 5.0, 4.0, 0.2, 2.0, "highs")
        >>> SolveInfo.combine([a, b])
        SolveInfo(status='feasible', objective=15.0, bound=14.0, gap=0.2, seconds=3.0, solver='highs')
        """
        infos = list(infos)
        if not infos:
            value = 0.0 if objective is None else float(objective)
            return cls("optimal", value, value, 0.0, float(seconds or 0.0), "none")
        status = worst_status(*(i.status for i in infos))
        if objective is None:
            objective = float(sum(i.objective or 0.0 for i in infos))
            bounds = [i.bound for i in infos]
            bound = None if any(b is None for b in bounds) else float(sum(bounds))
        else:
            objective = float(objective)
            bound = objective if status == "optimal" else None
        gaps = [i.gap for i in infos if i.gap is not None]
        unknown = any(i.gap is None for i in infos if i.status != "optimal")
        gap = None if unknown or not gaps else max(gaps)
        if seconds is None:
            seconds = sum(i.seconds for i in infos)
        solver = "+".join(sorted({i.solver for i in infos}))
        return cls(status, objective, bound, gap, float(seconds), solver)

    def describe(self) -> str:
        """One line for a summary, e.g. ``"optimal (highs, 0.42 s)"``."""
        if self.status == "feasible" and self.gap is not None:
            near_zero = self.objective is not None and abs(self.objective) < 1
            gap = f"{self.gap:.3g} (absolute)" if near_zero else f"{self.gap:.2%}"
            return f"feasible, gap {gap} ({self.solver}, {self.seconds:.2f} s)"
        return f"{self.status} ({self.solver}, {self.seconds:.2f} s)"


_STATUS_RANK = {"optimal": 0, "feasible": 1}


def worst_status(*statuses: str) -> str:
    """The least good of some solve statuses: optimal < feasible < anything else.

    Examples
    --------
    >>> worst_status("optimal", "feasible", "optimal")
    'feasible'
    """
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 2))


@dataclass
class MatrixSolution:
    """Result of :func:`solve_matrix`: the figures, the column values and (for LPs) the row duals."""

    info: SolveInfo
    x: np.ndarray
    row_duals: np.ndarray | None = field(default=None)


def binary_values(values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Read 0/1 decisions from solver values by rounding at 0.5 (never ``> 0``).

    Examples
    --------
    >>> binary_values([1e-14, 0.9999999, 0.51]).tolist()
    [False, True, True]
    """
    return np.asarray(values, dtype=float) >= 0.5


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Gap between a plan's objective and a bound on the optimum: relative away from zero.

    ``|objective - bound| / |objective|`` when ``|objective| >= 1``, else the absolute gap
    ``|objective - bound|`` (on an objective of 1.6e-9 a "relative gap" of 62 % says nothing).
    None when either is missing or the bound is infinite.

    Examples
    --------
    >>> relative_gap(200.0, 150.0)
    0.25
    >>> relative_gap(1.6e-9, 0.6e-9)  # near zero: absolute
    1e-09
    """
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


def within_gap(objective: float, bound: float | None, mip_gap: float, abs_gap: float = 0.0) -> bool:
    """True when ``bound`` proves ``objective`` optimal within ``mip_gap`` (see :func:`relative_gap`).

    ``abs_gap``: an absolute gap that also counts as closed (HiGHS's ``mip_abs_gap``).

    Examples
    --------
    >>> within_gap(1000.0, 999.95, 1e-4), within_gap(1000.0, 998.4, 1e-4)
    (True, False)
    """
    gap = relative_gap(objective, bound)
    if gap is None:
        return False
    slack = 1e-9 * max(1.0, abs(objective))
    return gap <= mip_gap * (1 + 1e-9) + 1e-12 or abs(objective - bound) <= abs_gap + slack


def _as_array(values, n: int, default: float, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=float)
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(f"{name} must have length {n}, got shape {arr.shape}")
    return arr


def solve_matrix(
    c,
    A,
    row_lower=None,
    row_upper=None,
    col_lower=None,
    col_upper=None,
    integrality=None,
    *,
    maximize: bool = False,
    offset: float = 0.0,
    options: SolverOptions | None = None,
    row_groups: Sequence[str] | None = None,
    start=None,
    bound: float | None = None,
) -> MatrixSolution:
    """Solve a linear or mixed-integer program given as arrays.

    Parameters
    ----------
    c : array_like, shape (n,)
        Objective coefficients.
    A : scipy.sparse matrix or array_like, shape (m, n)
        Constraint matrix.
    row_lower, row_upper : array_like, shape (m,), optional
        Row bounds (``-inf`` / ``inf`` for none; default: unbounded).
    col_lower, col_upper : array_like, shape (n,), optional
        Column bounds (default 0 and ``inf``).
    integrality : array_like of bool, shape (n,), optional
        True for integer columns.
    maximize : bool
        Maximise instead of minimise.
    offset : float
        Constant added to the objective.
    options : SolverOptions, optional
    row_groups : sequence of str, optional
        A label per row, used to explain infeasibility.
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
    >>> import numpy as np
    >>> sol = solve_matrix([1, 1], np.array([[1, 2]]), row_lower=[3], integrality=[True, True])
    >>> sol.info.status, sol.info.objective
    ('optimal', 2.0)
    """
    options = options or SolverOptions()
    c = np.asarray(c, dtype=float)
    n = c.shape[0]
    A = sp.csc_matrix(A, dtype=float) if not sp.issparse(A) or A.format != "csc" else A
    if A.shape[0] == 0:
        A = sp.csc_matrix((0, n))
    m = A.shape[0]
    if A.shape[1] != n:
        raise ValueError(f"A has {A.shape[1]} columns but c has {n} entries")
    rl = _as_array(row_lower, m, -np.inf, "row_lower")
    ru = _as_array(row_upper, m, np.inf, "row_upper")
    cl = _as_array(col_lower, n, 0.0, "col_lower")
    cu = _as_array(col_upper, n, np.inf, "col_upper")
    integ = np.zeros(n, dtype=bool) if integrality is None else np.asarray(integrality, dtype=bool)
    if options.solver == "cbc":
        return _solve_matrix_cbc(c, A, rl, ru, cl, cu, integ, maximize, offset, options, row_groups)
    return _solve_matrix_highs(
        c, A, rl, ru, cl, cu, integ, maximize, offset, options, row_groups, start, bound
    )


def _solve_matrix_highs(
    c, A, rl, ru, cl, cu, integ, maximize, offset, options, row_groups, start, bound
):
    """Solve with HiGHS, checking every answer before it is labelled.

    An answer whose plan does not have the objective the solver reports (recomputed as
    ``c . x + offset``), whose objective beats the caller's valid ``bound`` or lies beyond the
    solver's own bound, is not trusted: the model is solved again without the start, then with
    presolve off (HiGHS 1.16 with a start and presolve returns the start as "optimal" with a
    value and bound below the true optimum). If every attempt fails the check, the last plan is
    returned as ``feasible`` with its recomputed objective and no bound.
    """
    t0 = time.perf_counter()
    is_mip = bool(integ.any())
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
        answer = _run_highs(
            h, c, A, rl, ru, cl, cu, integ, maximize, offset, start_k, row_groups, t0
        )
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
            if dual_bound is not None and integral_objective(c, integ, offset):
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


def _run_highs(h, c, A, rl, ru, cl, cu, integ, maximize, offset, start, row_groups, t0):
    """One HiGHS run: (status, objective, bound, x, duals), or None when it found no plan.

    ``status`` is ``"optimal"`` (as HiGHS says) or ``"feasible"``. Raises Infeasible or
    SolverError (unbounded) as :func:`solve_matrix` documents.
    """
    import highspy

    MS = highspy.HighsModelStatus
    pass_model(h, c, A, rl, ru, cl, cu, integ, maximize, offset)
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
    is_mip = bool(integ.any())
    has_solution = info.primal_solution_status == 2
    if status == MS.kModelEmpty:
        x = np.asarray(h.getSolution().col_value, dtype=float)
        if x.shape != c.shape:
            x = np.zeros(c.shape[0])
        objective = float(np.dot(c, x) + offset)
        return "optimal", objective, objective, x, None
    if status == MS.kInfeasible:
        result = SolveInfo("infeasible", None, None, None, time.perf_counter() - t0, "highs")
        _raise_infeasible(result, A, rl, ru, cl, cu, row_groups)
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
    if not is_mip:
        if status == "optimal":
            return SolveInfo("optimal", objective, objective, 0.0, seconds, "highs")
        return SolveInfo(status, objective, None, None, seconds, "highs")
    abs_gap = float((options.highs_options or {}).get("mip_abs_gap", 1e-6))
    if bound is not None and within_gap(objective, bound, options.mip_gap, abs_gap):
        status = "optimal"
    elif status == "optimal":
        status = "feasible"  # HiGHS stopped (e.g. at a limit) with a wider gap than asked
    return SolveInfo(status, objective, bound, relative_gap(objective, bound), seconds, "highs")


def _raise_infeasible(info, A, rl, ru, cl, cu, row_groups):
    """Explain infeasibility with an elastic LP: the least total relaxation of each row group."""
    violations = _elastic_violations(A, rl, ru, cl, cu, row_groups)
    if violations:
        worst = sorted(violations.items(), key=lambda kv: -kv[1])
        parts = ", ".join(f"{g} (short by {v:.4g})" for g, v in worst[:5])
        message = f"no plan meets every requirement; conflicting: {parts}"
    else:
        message = (
            "no plan meets every requirement (integrality or bounds make the model infeasible)"
        )
    exc = Infeasible(message, violations)
    exc.info = info
    raise exc


def _elastic_violations(A, rl, ru, cl, cu, row_groups) -> dict[str, float]:
    import highspy

    m, n = A.shape
    if m == 0:
        return {}
    groups = np.asarray(row_groups if row_groups is not None else [f"row {i}" for i in range(m)])
    # x, s_minus (raises a row), s_plus (lowers a row): rl <= A x + s_minus - s_plus <= ru
    eye = sp.identity(m, format="csc")
    big = sp.hstack([A, eye, -eye], format="csc")
    cost = np.concatenate([np.zeros(n), np.ones(2 * m)])
    h = new_highs()
    lower = np.concatenate([cl, np.zeros(2 * m)])
    upper = np.concatenate([cu, np.full(2 * m, np.inf)])
    pass_model(h, cost, big, rl, ru, lower, upper, np.zeros(n + 2 * m, bool), False, 0.0)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return {}
    s = np.asarray(h.getSolution().col_value)[n:]
    slack = s[:m] + s[m:]
    out: dict[str, float] = {}
    for g, v in zip(groups, slack, strict=True):
        if v > 1e-7:
            out[str(g)] = out.get(str(g), 0.0) + float(v)
    return out


def _solve_matrix_cbc(c, A, rl, ru, cl, cu, integ, maximize, offset, options, row_groups):
    """Fallback: the same arrays through PuLP and CBC."""
    prob = pulp.LpProblem("model", pulp.LpMaximize if maximize else pulp.LpMinimize)
    xs = [
        prob.add_variable(
            f"x{j}",
            None if not math.isfinite(cl[j]) else cl[j],
            None if not math.isfinite(cu[j]) else cu[j],
            cat="Integer" if integ[j] else "Continuous",
        )
        for j in range(len(c))
    ]
    prob += pulp.LpAffineExpression([(xs[j], c[j]) for j in range(len(c)) if c[j]], constant=offset)
    R = A.tocsr()
    groups = row_groups if row_groups is not None else [f"row{i}" for i in range(A.shape[0])]
    for i in range(A.shape[0]):
        lo, hi = R.indptr[i], R.indptr[i + 1]
        expr = pulp.LpAffineExpression(
            [(xs[j], v) for j, v in zip(R.indices[lo:hi], R.data[lo:hi], strict=True)]
        )
        if rl[i] == ru[i]:
            prob += pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"{groups[i]}__{i}", rl[i])
            continue
        if math.isfinite(rl[i]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"{groups[i]}__{i}_lo", rl[i])
        if math.isfinite(ru[i]):
            prob += pulp.LpConstraint(expr, pulp.LpConstraintLE, f"{groups[i]}__{i}_hi", ru[i])
    info = solve_problem(prob, options)
    x = np.array([v.varValue if v.varValue is not None else 0.0 for v in xs])
    duals = None
    if not integ.any():
        duals = np.zeros(A.shape[0])
        for name, con in prob._constraints.items():
            i = int(name.split("__")[-1].split("_")[0])
            duals[i] += con.pi or 0.0
    return MatrixSolution(info, x, duals)


def _problem_arrays(prob: pulp.LpProblem):
    variables = prob.variables()
    index = {v.name: j for j, v in enumerate(variables)}
    n = len(variables)
    c = np.zeros(n)
    for v, coef in prob.objective.items():
        c[index[v.name]] += coef
    offset = float(prob.objective.constant or 0.0)
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
    m = len(rl)
    A = sp.csc_matrix((vals, (rows, cols)), shape=(m, n))
    cl = np.array([-np.inf if v.lowBound is None else v.lowBound for v in variables], dtype=float)
    cu = np.array([np.inf if v.upBound is None else v.upBound for v in variables], dtype=float)
    integ = np.array([v.cat == pulp.LpInteger for v in variables], dtype=bool)
    return variables, c, offset, A, np.array(rl), np.array(ru), cl, cu, integ, groups


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
        return _solve_problem_cbc(prob, options)
    variables, c, offset, A, rl, ru, cl, cu, integ, groups = _problem_arrays(prob)
    sol = solve_matrix(
        c,
        A,
        rl,
        ru,
        cl,
        cu,
        integ,
        maximize=prob.sense == pulp.LpMaximize,
        offset=offset,
        options=options,
        row_groups=groups,
    )
    for v, value in zip(variables, sol.x, strict=True):
        v.varValue = float(value)
    if sol.row_duals is not None:
        for con, dual in zip(prob._constraints.values(), sol.row_duals, strict=True):
            con.pi = float(dual)
    return sol.info


def _solve_problem_cbc(prob: pulp.LpProblem, options: SolverOptions) -> SolveInfo:
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
        _, _, _, A, rl, ru, cl, cu, _, groups = _problem_arrays(prob)
        _raise_infeasible(info, A, rl, ru, cl, cu, groups)
    if status == pulp.LpStatusUnbounded:
        info = SolveInfo("unbounded", None, None, None, seconds, "cbc")
        raise SolverError(
            "the model is unbounded: some objective term can grow without limit", info
        )
    info = SolveInfo("error", None, None, None, seconds, "cbc")
    raise SolverError(f"CBC stopped without a plan ({pulp.LpStatus[status]})", info)
