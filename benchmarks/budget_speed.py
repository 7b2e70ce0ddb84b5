"""Speed of the budget planner on synthetic regions.

Measures, end to end (``plan_budget`` from a Region to a verified plan with its tables):

* the relaxed LP (``relax=True``) at 5,000 and 20,000 schools for every objective, split into
  model building (data preparation and sparse matrices), solver time and verification + tables;
* the MILP (whole teachers and rooms) at 1,000 schools to a 1 % gap for every objective, and
  ``min_cost_to_comply``;
* for comparison, building the same shortfall LP as PuLP objects (the newer, faster PuLP idioms),
  timed in the same run.

Run: ``python benchmarks/budget_speed.py`` (about 4 minutes on 2 cores; ``--quick`` for 1,000 and
5,000 schools only). Default solver settings: HiGHS, interior point for relaxed models above
60,000 columns, simplex below.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from allocator.planners import budget as B
from allocator.planners.budget import model as M  # the models call solve_matrix from here
from allocator.planners.budget.data import prepare
from allocator.solver import SolverOptions
from allocator.synth import make_region

OBJECTIVES = ("shortfall", "minimax", "gap", "lexicographic")


class _Clock:
    """Times the stages of one plan through its progress messages and the solver calls."""

    def __init__(self):
        self.marks: list[tuple[str, float]] = []
        self.solver = 0.0

    def progress(self, message: str) -> None:
        self.marks.append((message, time.perf_counter()))

    def wrap(self, fn):
        def timed(*args, **kwargs):
            self.shape = max(getattr(self, "shape", (0, 0)), args[0].shape[::-1])
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.solver += time.perf_counter() - t

        return timed


def _timed_plan(region, policy, options=None):
    clock = _Clock()
    original = M.solve_matrix
    M.solve_matrix = clock.wrap(original)
    try:
        t0 = time.perf_counter()
        plan = B.plan_budget(region, policy, options, progress=clock.progress)
        end = time.perf_counter()
    finally:
        M.solve_matrix = original
    first_solve = next(t for m, t in clock.marks if m.startswith(("solving", "stage 1")))
    verify = next(t for m, t in clock.marks if m == "verifying")
    build = (first_solve - t0) + (verify - first_solve - clock.solver)
    return plan, {
        "total": end - t0,
        "build": build,
        "solver": clock.solver,
        "verify": end - verify,
        "columns": clock.shape[0],
        "rows": clock.shape[1],
    }


class _Captured(Exception):
    pass


def _pulp_build_seconds(region, policy) -> tuple[float, float]:
    """Seconds to build the shortfall LP from prepared data as numpy/scipy arrays, and to turn
    those same arrays into PuLP objects (which PuLP would need on top of the data work)."""
    import pulp

    data = prepare(region, policy)
    captured = {}
    original = M.solve_matrix

    def grab(model, **kwargs):
        captured.update(
            c=model.c,
            A=model.A,
            rl=model.row_lower,
            ru=model.row_upper,
            cl=model.col_lower,
            cu=model.col_upper,
        )
        raise _Captured

    M.solve_matrix = grab
    try:
        t0 = time.perf_counter()
        model = M.BudgetModel(data, policy, True)
        try:
            model.solve("shortfall", SolverOptions())
        except _Captured:
            pass
        t_numpy = time.perf_counter() - t0
    finally:
        M.solve_matrix = original
    c, A, rl, ru, cu = (captured[k] for k in ("c", "A", "rl", "ru", "cu"))
    t0 = time.perf_counter()
    prob = pulp.LpProblem("budget", pulp.LpMinimize)
    xs = [
        prob.add_variable(f"x{j}", 0, None if not np.isfinite(cu[j]) else float(cu[j]))
        for j in range(len(c))
    ]
    prob.setObjective(pulp.LpAffineExpression([(xs[j], c[j]) for j in np.flatnonzero(c)]))
    R = A.tocsr()
    constraints = {}
    for i in range(R.shape[0]):
        lo, hi = R.indptr[i], R.indptr[i + 1]
        expr = pulp.LpAffineExpression(
            [(xs[j], v) for j, v in zip(R.indices[lo:hi], R.data[lo:hi], strict=True)]
        )
        if np.isfinite(rl[i]):
            constraints[f"r{i}_lo"] = pulp.LpConstraint(
                expr, pulp.LpConstraintGE, f"r{i}_lo", rl[i]
            )
        if np.isfinite(ru[i]):
            constraints[f"r{i}_hi"] = pulp.LpConstraint(
                expr, pulp.LpConstraintLE, f"r{i}_hi", ru[i]
            )
    prob.extend(constraints)
    return t_numpy, time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 schools only")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    rows = []
    sizes = (5_000,) if args.quick else (5_000, 20_000)
    for n in sizes:
        t = time.perf_counter()
        region = make_region(schools=n, seed=1)
        print(f"\n{n:,} schools (synthetic region built in {time.perf_counter() - t:.1f} s)")
        print(
            f"{'LP objective':<15} {'total s':>8} {'build s':>8} {'solver s':>9} {'verify s':>9} "
            f"{'columns':>8} {'rows':>7}  status"
        )
        for obj in OBJECTIVES:
            policy = B.BudgetPolicy(budget=n * 2e5, objective=obj, relax=True)
            plan, times = _timed_plan(region, policy)
            rows.append(("LP", n, obj, times, plan.solve_info.describe()))
            print(
                f"{obj:<15} {times['total']:>8.2f} {times['build']:>8.2f} {times['solver']:>9.2f} "
                f"{times['verify']:>9.2f} {times['columns']:>8} {times['rows']:>7}  "
                f"{plan.solve_info.describe()}"
            )
        policy = B.BudgetPolicy(budget=n * 2e5, relax=True)
        seconds = {}
        for method in ("simplex", "ipm"):
            _, times = _timed_plan(region, policy, SolverOptions(method=method))
            seconds[method] = times["solver"]
        print(
            f"shortfall LP solver: dual simplex {seconds['simplex']:.2f} s, interior point "
            f"{seconds['ipm']:.2f} s ({seconds['simplex'] / seconds['ipm']:.1f}x)"
        )
        if n == 5_000:
            t_np, t_pulp = _pulp_build_seconds(region, policy)
            print(
                f"shortfall LP matrices from prepared data: numpy/scipy {t_np:.2f} s; the same "
                f"arrays as PuLP objects {t_pulp:.2f} s ({t_pulp / t_np:.0f}x)"
            )
    n = 1_000
    region = make_region(schools=n, seed=1)
    print(f"\n{n:,} schools, MILP to a 1 % gap")
    options = SolverOptions(mip_gap=0.01, time_limit=120)
    for obj in OBJECTIVES:
        policy = B.BudgetPolicy(budget=n * 2e5, objective=obj)
        plan, times = _timed_plan(region, policy, options)
        print(
            f"{obj:<15} {times['total']:>8.2f} {times['build']:>8.2f} {times['solver']:>9.2f} "
            f"{times['verify']:>9.2f}  {plan.solve_info.describe()}"
        )
    t = time.perf_counter()
    plan = B.min_cost_to_comply(region, options=options)
    print(
        f"{'min_cost':<15} {time.perf_counter() - t:>8.2f}  least budget {plan.spent:,.0f} yuan, "
        f"{plan.solve_info.describe()}"
    )


if __name__ == "__main__":
    main()
