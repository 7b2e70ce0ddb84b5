"""Model -> plan: the lexicographic stages of one block, each solved through its LP relaxation.

Solving: each stage is first solved as an LP (HiGHS). An integral LP optimum is optimal for the
MIP. Otherwise the columns not touching the schools of a fractional column are fixed and the rest
is solved as a small MIP; a plan within ``mip_gap`` of the LP bound is accepted as optimal, and
failing that the stage is solved as a whole MIP from the best plan found.


Examples
--------
>>> from allocator.synth import make_region
>>> from allocator.planners.teachers.data import county_blocks, hiring_caps, school_arrays
>>> from allocator.planners.teachers.model import build_model
>>> from allocator.planners.teachers.policy import TeacherPolicy
>>> region, policy = make_region(schools=30, seed=2), TeacherPolicy()
>>> standard = policy.load_standard()
>>> d = school_arrays(region, policy, standard)
>>> caps = hiring_caps(policy, d, list(dict.fromkeys(d.county)))
>>> model = build_model(d, next(county_blocks(region, d, policy)), caps, policy, standard)
>>> x = solve_block(model, SolverOptions(), lambda stage, info, method: None)
>>> len(x) == model.lp.shape[1]
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from allocator.errors import Infeasible, SolverError
from allocator.planners.teachers.model import BlockModel
from allocator.solver import LinearModel, SolveInfo, SolverOptions, solve_matrix

__all__ = ["solve_block", "solve_stage", "complete_solution", "is_feasible"]


def solve_block(model: BlockModel, options: SolverOptions, record) -> np.ndarray:
    """Solve the lexicographic stages; return the final column values (integers rounded).

    Stages 1b (hires) and 2 (gap) are solved together: both objectives are whole numbers in an
    integer plan, so ``(G + 1) * hires + gap``, with G an upper bound on the gap, orders them
    exactly, and saves a solve per county. ``record(stage, info, method)`` is called after each
    solve; each stage goes through :func:`solve_stage`.
    """
    lp = model.lp
    shortfall, gap = lp.columns["shortfall"], lp.columns["gap"]
    x = None

    def run(stage, c, integral=False):
        nonlocal x
        x, info, method = solve_stage(model, lp.with_objective(c), options, x, integral=integral)
        record(stage, info, method)

    run("shortfall", model.c_short)
    upper = lp.col_upper.copy()
    upper[shortfall] = x[shortfall]  # keep every school's shortfall
    lp = lp.with_column_bounds(upper=upper)
    hires = float(model.hire_cols @ x) if model.nh else 0.0
    if hires > 0.5 or len(model.g_rows):
        c = model.c_gap + (model.gap_bound + 1.0) * model.hire_cols
        run("hires+gap" if hires > 0.5 else "gap", c, integral=True)
        upper = lp.col_upper.copy()
        upper[gap] = x[gap]  # keep every county's gap
        lp = lp.with_column_bounds(upper=upper)
    if model.nh:
        hires = round(float(model.hire_cols @ x))
        lp = lp.with_rows("fixed_hires", model.hire_cols[None, :], upper=hires)
    if model.nx or model.nh:
        run("moves", model.c_move)
    if x is None:  # nothing to decide
        x = complete_solution(model, np.zeros(lp.shape[1]))
    return x


def complete_solution(model: BlockModel, x) -> np.ndarray:
    """Round the move and hire columns; give flow, shortfall and gap columns their values."""
    x = np.array(x, dtype=float)
    lp, n, nx, k = model.lp, model.n, model.nx, model.nx + model.nh
    x[:k] = np.round(x[:k])
    x[k:] = 0.0
    for name, flat, school in (("out", model.out_flat, model.xi), ("in", model.in_flat, model.xj)):
        flow = np.zeros(4 * n)
        np.add.at(flow, model.xc * n + school, x[:nx])
        x[lp.columns[name]] = flow[flat]
    r = lp.A @ x
    for name, rows in (("shortfall", model.s_rows), ("gap", model.g_rows)):
        x[lp.columns[name]] = np.maximum(0.0, lp.row_lower[rows] - r[rows])
    return x


def is_feasible(lp: LinearModel, x) -> bool:
    """Whether ``x`` keeps the column bounds and every row of ``lp`` (within a small tolerance)."""
    if (x < lp.col_lower - 1e-9).any() or (x > lp.col_upper + 1e-9).any():
        return False
    r = lp.A @ x
    rl, ru = lp.row_lower, lp.row_upper
    return bool(
        (r >= rl - 1e-6 * (1 + np.abs(rl))).all() and (r <= ru + 1e-6 * (1 + np.abs(ru))).all()
    )


def solve_stage(
    model: BlockModel,
    stage: LinearModel,
    options: SolverOptions,
    previous: np.ndarray | None,
    integral: bool = False,
):
    """One stage of the MIP (``stage``: the block's model with this stage's objective, bounds and
    rows), solved through its LP relaxation where possible; returns (x, SolveInfo, method).

    The model is nearly a network flow, so the LP optimum is usually integral or has a few
    fractional columns. Then every column not touching a school of a fractional column is fixed
    at its LP value and the rest is solved as a small MIP. A result is accepted as optimal when it
    is feasible and within ``mip_gap`` of the LP bound; otherwise the whole stage is solved as a
    MIP, started from the best plan found. With ``integral`` (an objective that is a whole
    number in every integer plan) a plan is optimal exactly when it reaches the LP bound rounded
    up, and the MIP is asked to prove that.
    """
    c = stage.c
    lp = solve_matrix(stage.with_column_bounds(integrality=False), options=options)
    bound = float(c @ lp.x)
    seconds = lp.info.seconds
    candidates = [("lp", lp.x)]
    local = _local_mip(model, stage, lp.x, options)
    if local is not None:
        seconds += local.info.seconds
        candidates = [("lp+local", local.x)]
    best = None
    for method, values in candidates:
        x = complete_solution(model, values)
        if not is_feasible(stage, x):
            continue
        objective = float(c @ x)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1.0)
        proven = objective < bound + 1.0 - 1e-6 if integral else gap <= options.mip_gap
        if proven:
            gap = 0.0 if integral else gap
            return x, SolveInfo("optimal", objective, bound, gap, seconds, lp.info.solver), method
        best = x
    if best is None and previous is not None and is_feasible(stage, previous):
        best = previous
    mip_options = dataclasses.replace(options, mip_gap=0.0) if integral else options
    mip = solve_matrix(stage, options=mip_options, start=best)
    x = complete_solution(model, mip.x)
    if not is_feasible(stage, x):
        raise SolverError("the solver's plan breaks the model after rounding teacher counts")
    info = dataclasses.replace(mip.info, seconds=mip.info.seconds + seconds)
    return x, info, "mip"


def _local_mip(model: BlockModel, stage: LinearModel, lp_x: np.ndarray, options: SolverOptions):
    """Where the LP optimum is fractional: the stage as a MIP with every column not touching a
    school of a fractional column fixed at its LP value (None: all integral, or no solution)."""
    k = model.nx + model.nh
    frac = np.abs(lp_x[:k] - np.round(lp_x[:k])) > 1e-6
    if not frac.any():
        return None
    schools = np.zeros(model.n, dtype=bool)
    fx = np.flatnonzero(frac[: model.nx])
    schools[model.xi[fx]] = schools[model.xj[fx]] = True
    schools[model.hi[np.flatnonzero(frac[model.nx :])]] = True
    free = np.zeros(len(lp_x), dtype=bool)
    free[: model.nx] = schools[model.xi] | schools[model.xj]
    free[model.nx : k] = schools[model.hi]
    free[k:] = True
    sub_l, sub_u = stage.col_lower.copy(), stage.col_upper.copy()
    sub_l[~free] = sub_u[~free] = np.round(lp_x[~free])
    try:
        return solve_matrix(stage.with_column_bounds(sub_l, sub_u), options=options)
    except (Infeasible, SolverError):
        return None
