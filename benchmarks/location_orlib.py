"""OR-Library benchmark of allocator.location: pmed1-40 and cap41-134, capa/b/c.

Prints, per instance, the proven optimum, our objective, status and time, and for p-median the time
of the reference model (PySAL spopt's ``PMedian.from_cost_matrix``, the textbook n x n assignment
model built in PuLP, solved with HiGHS) measured in the same run, and the speed-up ratio.

spopt is a benchmark-only dependency (``pip install spopt``); without it the reference columns are
skipped. The data folder is ``benchmarks/data/orlib`` (shipped) or ``$ALLOCATOR_ORLIB``.

Usage::

    python benchmarks/location_orlib.py                      # everything (long: spopt takes hours)
    python benchmarks/location_orlib.py --pmed 1-10 --no-cap --spopt-cap 120
    python benchmarks/location_orlib.py --no-pmed --cap cap41,capa
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from datetime import date
from pathlib import Path

import numpy as np

from allocator.location import facility_location, p_median, read_orlib_cap, read_orlib_pmed
from allocator.solver import SolverOptions


def data_dir() -> Path:
    env = os.environ.get("ALLOCATOR_ORLIB")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent / "data" / "orlib"


def pmed_optima(folder: Path) -> dict[str, float]:
    out = {}
    for line in (folder / "pmed" / "pmedopt.txt").read_text().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = float(parts[1])
    return out


def cap_optima(folder: Path) -> list[tuple[str, float | None, float]]:
    """(instance, capacity or None, optimum) in file order."""
    out, current = [], None
    for line in (folder / "cap" / "capopt.txt").read_text().splitlines()[1:]:
        parts = line.replace("(", " ").replace(")", " ").split()
        if not parts or not (parts[0].startswith("cap") or parts[0][0].isdigit()):
            continue
        if parts[0].startswith("cap"):
            current = parts[0]
            parts = parts[1:]
        if "capacity" in parts:
            out.append((current, float(parts[2]), float(parts[0])))
        else:
            out.append((current, None, float(parts[0])))
    return out


def parse_range(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def run_spopt(cost: np.ndarray, p: int, cap_seconds: float):
    import pulp
    from spopt.locate import PMedian

    t0 = time.perf_counter()
    model = PMedian.from_cost_matrix(cost, np.ones(cost.shape[0]), p_facilities=p)
    model = model.solve(pulp.HiGHS(msg=False, timeLimit=cap_seconds))
    seconds = time.perf_counter() - t0
    objective = pulp.value(model.problem.objective)
    hit_cap = model.problem.status != pulp.LpStatusOptimal or seconds >= cap_seconds
    return objective, seconds, hit_cap


def bench_pmed(folder, numbers, spopt_upto, spopt_cap, options):
    optima = pmed_optima(folder)
    try:
        import spopt  # noqa: F401

        have_spopt = True
    except ImportError:
        have_spopt = False
    rows = []
    print("| instance | n | p | optimum | ours | status | ours s | spopt s | speed-up |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k in numbers:
        name = f"pmed{k}"
        cost, p = read_orlib_pmed(folder / "pmed" / f"{name}.txt")
        r = p_median(cost, p, options=options)
        ok = r.objective == optima[name] and r.status == "optimal"
        ref = "-"
        ratio = None
        if have_spopt and k <= spopt_upto:
            obj, secs, capped = run_spopt(cost, p, spopt_cap)
            ratio = secs / r.seconds
            ref = f">= {secs:.1f} (cap)" if capped else f"{secs:.1f}"
            if not capped and obj is not None and abs(obj - optima[name]) > 1e-6:
                ref += f" obj {obj:g}"
        mark = "" if ok else " MISMATCH"
        ratio_text = "-" if ratio is None else f"{ratio:.0f}x" + (" (>=)" if ">=" in ref else "")
        print(
            f"| {name} | {cost.shape[0]} | {p} | {optima[name]:g} | {r.objective:g}{mark} | "
            f"{r.status} | {r.seconds:.2f} | {ref} | {ratio_text} |",
            flush=True,
        )
        rows.append((name, r.seconds, ratio, ok))
    total = sum(s for _, s, _, _ in rows)
    worst = max(rows, key=lambda row: row[1])
    print(
        f"\npmed: {sum(ok for *_, ok in rows)}/{len(rows)} proven optimal; total {total:.1f} s; "
        f"slowest {worst[0]} {worst[1]:.1f} s"
    )
    ratios = [ratio for _, _, ratio, _ in rows if ratio is not None]
    if ratios:
        geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print(
            f"geometric-mean speed-up over spopt (HiGHS) on {len(ratios)} instances: {geo:.1f}x "
            f"(spopt capped at {spopt_cap:g} s; capped instances make this a lower bound)"
        )


def bench_cap(folder, names, options):
    print("\n| instance | capacity | optimum | ours | rel. error | status | seconds |")
    print("|---|---|---|---|---|---|---|")
    worst_small = worst_large = None
    proven = total = 0
    for name, capacity, optimum in cap_optima(folder):
        if names and name not in names:
            continue
        inst = read_orlib_cap(folder / "cap" / f"{name}.txt", capacity=capacity)
        r = facility_location(*inst, options=options)
        rel = abs(r.objective - optimum) / optimum
        cap_text = "file" if capacity is None else f"{capacity:g}"
        flag = "" if rel <= 1e-6 else " MISMATCH"
        print(
            f"| {name} | {cap_text} | {optimum:.3f} | {r.objective:.3f}{flag} | {rel:.1e} | "
            f"{r.status} | {r.seconds:.2f} |",
            flush=True,
        )
        if capacity is None:
            worst_small = max(worst_small or 0.0, r.seconds)
        else:
            worst_large = max(worst_large or 0.0, r.seconds)
        total += 1
        proven += rel <= 1e-6 and r.status == "optimal"
    slowest = [
        f"{label} slowest {worst:.2f} s"
        for label, worst in (("cap41-134", worst_small), ("capa/b/c", worst_large))
        if worst is not None
    ]
    print(f"\ncap: {proven}/{total} proven optimal; " + "; ".join(slowest))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pmed", default="1-40", help="pmed numbers, e.g. 1-10,16")
    parser.add_argument("--no-pmed", action="store_true")
    parser.add_argument("--spopt-upto", type=int, default=20, help="run spopt on pmed1..N")
    parser.add_argument("--spopt-cap", type=float, default=300.0, help="spopt time cap (s)")
    parser.add_argument("--cap", default="", help="comma-separated cap instances (default all)")
    parser.add_argument("--no-cap", action="store_true")
    parser.add_argument("--time-limit", type=float, default=600.0, help="our time limit (s)")
    args = parser.parse_args(argv)
    folder = data_dir()
    print(
        f"# allocator.location on OR-Library, {platform.machine()}, {os.cpu_count()} cores, "
        f"{date.today().isoformat()}\n"
    )
    options = SolverOptions(mip_gap=1e-7, time_limit=args.time_limit)
    if not args.no_pmed:
        bench_pmed(folder, parse_range(args.pmed), args.spopt_upto, args.spopt_cap, options)
    if not args.no_cap:
        names = {n for n in args.cap.split(",") if n}
        bench_cap(folder, names, options)


if __name__ == "__main__":
    main()
