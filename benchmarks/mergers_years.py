"""Speed of five-year consolidation plans (``plan_mergers(..., years=(2026, 2030))``).

Targets (issue 18): a five-year plan of a county of 150 schools in under 60 s; of the synthetic
municipality of 5,000 schools (34 counties, decomposed by county) in under 10 minutes on 2 cores.
Each prints the wall time, the status and gap, and the size of the linked model (variables and
rows; for the municipality the largest county's).

Run from the repository root on a quiet machine::

    python benchmarks/mergers_years.py                   # counties (seeds 1-4) and the municipality
    python benchmarks/mergers_years.py --no-municipality
    python benchmarks/mergers_years.py --schools 40 --seeds 1 --no-municipality   # a quick look

The forecast is the medium birth scenario from each region's pupils, with rural settlements
losing 3 % of their children a year to migration (a shrinking rural county).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

from allocator.forecast import ForecastSettings
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.solver import SolverOptions
from allocator.synth import make_region

YEARS = (2026, 2030)
FORECAST = (ForecastSettings(horizon=4, migration={"rural": -0.03}), "medium")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def county_runs(seeds, schools: int, gap: float) -> None:
    print(f"\nCounties: make_region(schools={schools}, seed=s), years {YEARS}, gap {gap:g}")
    print(
        "seed | method | variables | rows | closures | extensions | status | gap | wall s | cpu s"
    )
    print("---|---|---|---|---|---|---|---|---|---")
    for seed in seeds:
        region = make_region(schools=schools, seed=seed)
        t0, c0 = time.perf_counter(), cpu_seconds()
        plan = plan_mergers(
            region, MergerPolicy(), SolverOptions(mip_gap=gap), years=YEARS, forecast=FORECAST
        )
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        row = plan.counties.iloc[0]
        t = plan.timeline
        closures = int(t["action"].isin(["close", "nine_year"]).sum())
        extensions = int((t["action"] == "extend").sum())
        gap_text = "n/a" if row.gap is None or row.gap != row.gap else f"{row.gap:.2e}"
        print(
            f"{seed} | {row.method} | {row.variables} | {row.rows} | {closures} | {extensions} | "
            f"{row.status} | {gap_text} | {wall:.1f} | {cpu:.1f}",
            flush=True,
        )
        by_year = t[t["action"].isin(["close", "nine_year"])].groupby("year").size()
        print(f"    closures by year: {by_year.to_dict()}", flush=True)


def municipality_run(gap: float, threads: int) -> None:
    print(f"\nMunicipality: make_region(schools=5000, seed=0), years {YEARS}, gap {gap:g}, "
          f"{threads} processes")  # fmt: skip
    region = make_region(schools=5000, seed=0)
    t0, c0 = time.perf_counter(), cpu_seconds()

    def progress(message: str) -> None:
        print(f"  {time.perf_counter() - t0:7.1f} s  {message}", flush=True)

    plan = plan_mergers(
        region,
        MergerPolicy(),
        SolverOptions(mip_gap=gap, threads=threads),
        progress,
        years=YEARS,
        forecast=FORECAST,
    )
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    c = plan.counties
    info = plan.solve_info
    big = c.loc[c["variables"].idxmax()]
    print(
        "\ncounties | methods | closures | worst status | largest gap | largest model "
        "(variables / rows) | wall s | cpu s\n---|---|---|---|---|---|---|---\n"
        f"{len(c)} | {', '.join(sorted(set(c['method'])))} | "
        f"{int(plan.timeline['action'].isin(['close', 'nine_year']).sum())} | {info.status} | "
        f"{info.gap if info.gap is None else f'{info.gap:.2e}'} | "
        f"{big['variables']} / {big['rows']} ({big['county']}) | {wall:.1f} | {cpu:.1f}"
    )
    other = c[c["status"] != "optimal"]
    if len(other):
        print("\ncounties not solved to the gap:")
        print(other.to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--schools", type=int, default=150)
    parser.add_argument("--gap", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-counties", action="store_true")
    parser.add_argument("--no-municipality", action="store_true")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    if not args.no_counties:
        county_runs(args.seeds, args.schools, args.gap)
    if not args.no_municipality:
        municipality_run(args.gap, args.threads)


if __name__ == "__main__":
    main()
