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
>>> len(x) == model.A.shape[1]
True
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, SolverError
from allocator.planners.teachers.model import BlockModel
from allocator.solver import SolveInfo, SolverOptions, solve_matrix

__all__ = ["solve_block", "solve_stage", "complete_solution", "is_feasible"]


def solve_block(model: BlockModel, options: SolverOptions, record) -> np.ndarray:
    """Solve the lexicographic stages; return the final column values (integers rounded).

    Stages 1b (hires) and 2 (gap) are solved together: both objectives are whole numbers in an
    integer plan, so ``(G + 1) * hires + gap``, with G an upper bound on the gap, orders them
    exactly, and saves a solve per county. ``record(stage, info, method)`` is called after each
    solve; each stage goes through :func:`solve_stage`.
    """
    A, rl, ru, groups = model.A, model.rl, model.ru, list(model.groups)
    cl, cu = model.cl, model.cu.copy()
    x = None

    def run(stage, c, integral=False):
        nonlocal x
        x, info, method = solve_stage(
            model, c, A, rl, ru, cl, cu, groups, options, x, integral=integral
        )
        record(stage, info, method)

    s0, g0 = model.s0, model.g0
    run("shortfall", model.c_short)
    cu[s0 : s0 + model.ns] = x[s0 : s0 + model.ns]  # keep every school's shortfall
    hires = float(model.hire_cols @ x) if model.nh else 0.0
    if hires > 0.5 or model.ng:
        c = model.c_gap + (model.gap_bound + 1.0) * model.hire_cols
        run("hires+gap" if hires > 0.5 else "gap", c, integral=True)
        cu[g0 : g0 + model.ng] = x[g0 : g0 + model.ng]  # keep every county's gap
    if model.nh:
        hires = round(float(model.hire_cols @ x))
        A = sp.vstack([A, sp.csr_matrix(model.hire_cols[None, :])], format="csr")
        rl, ru = np.append(rl, -np.inf), np.append(ru, hires)
        groups.append("fixed_hires")
    if model.nx or model.nh:
        run("moves", model.c_move)
    if x is None:  # nothing to decide
        x = complete_solution(model, np.zeros(A.shape[1]))
    return x


def complete_solution(model: BlockModel, x):
    """Round the move and hire columns; give flow, shortfall and gap columns their values."""
    x = np.array(x, dtype=float)
    n, nx, k = model.n, model.nx, model.nx + model.nh
    x[:k] = np.round(x[:k])
    x[k:] = 0.0
    for cols, school in ((model.out_cols, model.xi), (model.in_cols, model.xj)):
        flow = np.zeros(4 * n)
        np.add.at(flow, model.xc * n + school, x[:nx])
        have = cols >= 0
        x[cols[have]] = flow[have]
    r = model.A @ x
    s0, g0 = model.s0, model.g0
    x[s0 : s0 + model.ns] = np.maximum(0.0, model.rl[model.s_rows] - r[model.s_rows])
    x[g0 : g0 + model.ng] = np.maximum(0.0, model.rl[model.g_rows] - r[model.g_rows])
    return x


def is_feasible(A, rl, ru, cl, cu, x) -> bool:
    """Whether ``x`` keeps its column bounds and every row (within a small tolerance)."""
    if (x < cl - 1e-9).any() or (x > cu + 1e-9).any():
        return False
    r = A @ x
    return bool(
        (r >= rl - 1e-6 * (1 + np.abs(rl))).all() and (r <= ru + 1e-6 * (1 + np.abs(ru))).all()
    )


def solve_stage(model, c, A, rl, ru, cl, cu, groups, options, previous, integral=False):
    """One stage of the MIP, solved through its LP relaxation where possible.

    The model is nearly a network flow, so the LP optimum is usually integral or has a few
    fractional columns. Then every column not touching a school of a fractional column is fixed
    at its LP value and the rest is solved as a small MIP. A result is accepted as optimal when it
    is feasible and within ``mip_gap`` of the LP bound; otherwise the whole stage is solved as a
    MIP, started from the best plan found. With ``integral`` (an objective that is a whole
    number in every integer plan) a plan is optimal exactly when it reaches the LP bound rounded
    up, and the MIP is asked to prove that.
    """
    lp = solve_matrix(c, A, rl, ru, cl, cu, None, options=options, row_groups=groups)
    bound = float(c @ lp.x)
    seconds = lp.info.seconds
    k = model.nx + model.nh
    frac = np.abs(lp.x[:k] - np.round(lp.x[:k])) > 1e-6
    candidates = [("lp", lp.x)]
    if frac.any():
        schools = np.zeros(model.n, dtype=bool)
        fx = np.flatnonzero(frac[: model.nx])
        schools[model.xi[fx]] = schools[model.xj[fx]] = True
        schools[model.hi[np.flatnonzero(frac[model.nx :])]] = True
        free = np.zeros(len(c), dtype=bool)
        free[: model.nx] = schools[model.xi] | schools[model.xj]
        free[model.nx : k] = schools[model.hi]
        free[k:] = True
        sub_l, sub_u = cl.copy(), cu.copy()
        sub_l[~free] = sub_u[~free] = np.round(lp.x[~free])
        try:
            sub = solve_matrix(c, A, rl, ru, sub_l, sub_u, model.integ, options=options)
            seconds += sub.info.seconds
            candidates = [("lp+local", sub.x)]
        except (Infeasible, SolverError):
            pass
    best = None
    for method, values in candidates:
        x = complete_solution(model, values)
        if not is_feasible(A, rl, ru, cl, cu, x):
            continue
        objective = float(c @ x)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1.0)
        proven = objective < bound + 1.0 - 1e-6 if integral else gap <= options.mip_gap
        if proven:
            gap = 0.0 if integral else gap
            return x, SolveInfo("optimal", objective, bound, gap, seconds, lp.info.solver), method
        best = x
    if best is None and previous is not None and is_feasible(A, rl, ru, cl, cu, previous):
        best = previous
    mip_options = dataclasses.replace(options, mip_gap=0.0) if integral else options
    mip = solve_matrix(
        c, A, rl, ru, cl, cu, model.integ, options=mip_options, row_groups=groups, start=best
    )
    x = complete_solution(model, mip.x)
    if not is_feasible(A, rl, ru, cl, cu, x):
        raise SolverError("the solver's plan breaks the model after rounding teacher counts")
    info = dataclasses.replace(mip.info, seconds=mip.info.seconds + seconds)
    return x, info, "mip"
