"""Speed of the teacher posting and rotation planner (target: 5,000 schools, four categories, < 60 s).

Run: ``python benchmarks/teachers_speed.py [--sizes 1000 5000]``.

For each synthetic municipality (``make_region(schools=n, seed=1)``, default policy: 60-minute
moves within a county, direction rules, 10 % / 20 % rotation quota, hires as needed) it prints the
allowed pairs of schools (within the travel limit, direction and stage rules, sender with eligible
teachers) against all ordered pairs of schools in the same county (only the former become
variables), the model columns summed over counties (moves by category, hires, flows, shortfalls),
the largest county model, how each stage was solved, the wall and CPU time of ``plan_teachers``
and the plan's key figures.

Then, for the largest county of the 5,000-school region, the same lexicographic solve two ways in
the same run: as the planner does it (each stage through its LP relaxation, a local MIP only where
the LP is fractional) and with every stage handed to HiGHS as a whole MIP.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from allocator.planners.teachers import TeacherPolicy, plan_teachers, solve
from allocator.planners.teachers.data import county_blocks, school_arrays
from allocator.solver import SolverOptions, solve_matrix
from allocator.synth import make_region


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _pairs(region, policy):
    standard = policy.load_standard()
    d = school_arrays(region, policy, standard)
    within = sum(len(pairs[0]) for _, _, _, pairs in county_blocks(region, d, policy))
    sizes = region.schools.groupby("county").size().to_numpy()
    return within, int((sizes * (sizes - 1)).sum())


def _mip_stage(model, stage, options, previous, integral=False):
    sol = solve_matrix(stage, options=options)
    return solve.complete_solution(model, sol.x), sol.info, "mip"


def _one_county(region, county):
    sub = region.replace(
        schools=region.schools[region.schools["county"] == county],
        settlements=region.settlements[region.settlements["county"] == county],
    )
    plan, wall_lp, cpu_lp = _timed(lambda: plan_teachers(sub))
    original = solve.solve_stage
    solve.solve_stage = _mip_stage
    try:
        mip, wall_mip, cpu_mip = _timed(lambda: plan_teachers(sub, options=SolverOptions()))
    finally:
        solve.solve_stage = original
    same = np.allclose(plan.solves["objective"], mip.solves["objective"], rtol=1e-4, atol=1e-6)
    return plan, mip, (wall_lp, cpu_lp), (wall_mip, cpu_mip), same


def main(sizes=(1000, 5000), seed: int = 1) -> None:
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    print(
        "schools | counties | allowed pairs (60 min, rules) / all same-county pairs | "
        "model columns (all counties) | "
        "largest county model (columns x rows) | stages lp / lp+local / mip | plan wall s | "
        "plan CPU s | status | hires | rotated | backbone rotated | rural backbone/100 before -> after"
    )
    policy = TeacherPolicy()
    largest = None
    for n in sizes:
        region = make_region(schools=n, seed=seed)
        within, all_pairs = _pairs(region, policy)
        plan, wall, cpu = _timed(lambda region=region: plan_teachers(region, policy))
        s = plan.solves
        methods = s["method"].value_counts()
        move_cols = int((s["columns"]).groupby(s["block"]).first().sum())
        top = s.loc[s["columns"].idxmax()]
        h = plan.headline()
        print(
            f"{n:,} | {h['counties']} | {within:,} / {all_pairs:,} ({within / all_pairs:.0%}) | "
            f"{move_cols:,} | {top['columns']:,} x {top['rows']:,} | "
            f"{methods.get('lp', 0)} / {methods.get('lp+local', 0)} / {methods.get('mip', 0)} | "
            f"{wall:.1f} | {cpu:.1f} | {plan.solve_info.status} | {h['hires']:,} | "
            f"{h['rotated_teachers']:,} | {h['backbone_rotated']:,} | "
            f"{h['backbone_per_100_rural_before']:.2f} -> {h['backbone_per_100_rural_after']:.2f}"
        )
        if n == max(sizes):
            largest = (region, top["block"])
    region, county = largest
    plan, mip, (wl, cl_), (wm, cm), same = _one_county(region, county)
    print()
    print(f"largest county ({county}), lexicographic stages: planner (LP-first) vs whole MIPs")
    print("way | stages | wall s | CPU s | stage objectives equal")
    for label, p, w, c in (("LP-first", plan, wl, cl_), ("whole MIP", mip, wm, cm)):
        stages = ", ".join(
            f"{a}:{b}" for a, b in zip(p.solves["stage"], p.solves["method"], strict=True)
        )
        print(f"{label} | {stages} | {w:.2f} | {c:.2f} | {same}")
    print(f"ratio whole MIP / LP-first: wall {wm / wl:.1f}x, CPU {cm / cl_:.1f}x")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main(tuple(args.sizes), args.seed)
