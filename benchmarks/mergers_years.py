"""Speed of five-year consolidation plans (``plan_mergers(..., years=(2026, 2030))``).

Targets (issue 18): a five-year plan of a county of 150 schools in under 60 s; of the synthetic
municipality of 5,000 schools (34 counties, decomposed by county) in under 10 minutes on 2 cores.
Each prints, per county and overall, the size of the linked model (columns, rows, nonzeros), the
solver's work (branch-and-bound nodes and LP iterations, HiGHS's own counts: deterministic, unlike
the wall time), the status and gap, the wall time and the load average (other work on the machine
slows the wall time, never the counts).

Run from the repository root on a quiet machine::

    python benchmarks/mergers_years.py                   # counties (seeds 1-4) and the municipality
    python benchmarks/mergers_years.py --no-municipality
    python benchmarks/mergers_years.py --schools 40 --seeds 1 --no-municipality   # a quick look
    python benchmarks/mergers_years.py --no-counties --municipality-schools 600   # end to end
    python benchmarks/mergers_years.py --no-counties --municipality-schools 60 --counties 3
    python benchmarks/mergers_years.py --no-counties --no-municipality --county 北县2 --start

``--county NAME`` (repeatable) plans one county of the municipality alone (``region.county``),
one process, and prints its figures; ``--start`` starts each county's linked model from its
rolling-horizon plan (a checked MIP start, :func:`allocator.planners.mergers.years_model.solve_years`
``start=True``): the same gap and guarantee, fewer nodes where the rolling plan is good.

The municipality is planned county by county: counties are independent in the merger model (a
county's villages and candidate sites reach only its own schools; only a region-wide
``max_schools`` would join them, and the benchmark sets none), so ``SolverOptions(threads=2)``
solves two counties at a time in separate processes, the largest first. A county whose linked
model would exceed 400,000 columns is solved by the rolling horizon (``method`` ``rolling``,
no gap). It prints each county's wall time, status and gap, then the whole plan's.

The forecast is the medium birth scenario from each region's pupils, with rural settlements
losing 3 % of their children a year to migration (a shrinking rural county).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import resource
import time

import pandas as pd

from allocator.forecast import ForecastSettings
from allocator.planners.mergers import MergerPolicy, plan_mergers, years_model
from allocator.planners.mergers import planner as merger_planner
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
        "seed | method | columns | rows | nonzeros | nodes | LP iterations | closures | "
        "extensions | status | gap | wall s | cpu s | load average"
    )
    print("---|---|---|---|---|---|---|---|---|---|---|---|---|---")
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
        print(
            f"{seed} | {row.method} | {row.variables} | {row.rows} | {row.nonzeros} | "
            f"{count(row.nodes)} | {count(row.iterations)} | {closures} | {extensions} | "
            f"{row.status} | {gap_text(row.gap)} | {wall:.1f} | {cpu:.1f} | {load_text()}",
            flush=True,
        )
        by_year = t[t["action"].isin(["close", "nine_year"])].groupby("year").size()
        print(f"    closures by year: {by_year.to_dict()}", flush=True)


def use_start() -> None:
    """Plan every county with the rolling-horizon plan as its MIP start (``start=True``)."""
    merger_planner.plan_county = functools.partial(years_model.plan_county, start=True)


def single_counties(names, gap: float, schools: int = 5000) -> None:
    """Each named county of the municipality alone, one process: the work of its solve."""
    print(
        f"\nSingle counties of make_region(schools={schools}, seed=0), years {YEARS}, gap {gap:g}"
    )
    print("county | schools | method | columns | rows | nodes | LP iterations | status | gap | "
          "wall s | cpu s | load average")  # fmt: skip
    print("---|---|---|---|---|---|---|---|---|---|---|---")
    municipality = make_region(schools=schools, seed=0)
    for name in names:
        region = municipality.county(name)
        t0, c0 = time.perf_counter(), cpu_seconds()
        plan = plan_mergers(
            region, MergerPolicy(), SolverOptions(mip_gap=gap, threads=1), years=YEARS,
            forecast=FORECAST,
        )  # fmt: skip
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        for r in plan.counties.itertuples():
            print(
                f"{r.county} | {len(region.schools)} | {r.method} | {r.variables} | {r.rows} | "
                f"{count(r.nodes)} | {count(r.iterations)} | {r.status} | {gap_text(r.gap)} | "
                f"{wall:.1f} | {cpu:.1f} | {load_text()}",
                flush=True,
            )


def municipality_run(gap: float, threads: int, schools: int = 5000, counties=None) -> None:
    print(f"\nMunicipality: make_region(schools={schools}, seed=0, counties={counties}), years "
          f"{YEARS}, gap {gap:g}, {threads} processes")  # fmt: skip
    region = make_region(schools=schools, seed=0, counties=counties)
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
    sizes = region.schools.groupby("county").size()
    print(
        "\ncounty | schools | method | columns | rows | nonzeros | nodes | LP iterations | status "
        "| gap | wall s"
    )
    print("---|---|---|---|---|---|---|---|---|---|---")
    for r in c.sort_values("iterations", ascending=False).itertuples():
        print(
            f"{r.county} | {int(sizes.get(r.county, 0))} | {r.method} | {r.variables} | {r.rows} | "
            f"{r.nonzeros} | {count(r.nodes)} | {count(r.iterations)} | {r.status} | "
            f"{gap_text(r.gap)} | {r.seconds:.1f}"
        )
    unplanned = plan.plan_in(YEARS[0]).unplanned
    for r in unplanned.itertuples():
        print(f"{r.county} | unplanned | {r.reason}")
    big = c.loc[c["variables"].idxmax()] if len(c) else None
    largest = f"{big['variables']} / {big['rows']} ({big['county']})" if big is not None else "-"
    print(
        "\ncounties | unplanned | methods | closures | worst status | largest gap | largest model "
        "(columns / rows) | columns | rows | nonzeros | nodes | LP iterations | wall s | cpu s | "
        "load average\n---|---|---|---|---|---|---|---|---|---|---|---|---|---|---\n"
        f"{len(c)} | {len(unplanned)} | {', '.join(sorted(set(c['method'])))} | "
        f"{int(plan.timeline['action'].isin(['close', 'nine_year']).sum())} | {info.status} | "
        f"{gap_text(pd.to_numeric(c['gap']).max() if len(c) else None)} | {largest} | "
        f"{int(c['variables'].sum())} | {int(c['rows'].sum())} | {int(c['nonzeros'].sum())} | "
        f"{total(c['nodes'])} | {total(c['iterations'])} | {wall:.1f} | {cpu:.1f} | {load_text()}"
    )


def count(value) -> str:
    return "n/a" if value is None or value != value else f"{int(value)}"


def total(values: pd.Series) -> str:
    values = pd.to_numeric(values)
    return "n/a" if values.isna().any() else f"{int(values.sum())}"


def load_text() -> str:
    """The 1, 5 and 15-minute load averages (other work on the machine slows the wall times)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def gap_text(gap) -> str:
    return "n/a" if gap is None or gap != gap else f"{gap:.2e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--schools", type=int, default=150)
    parser.add_argument("--gap", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-counties", action="store_true")
    parser.add_argument("--no-municipality", action="store_true")
    parser.add_argument("--municipality-schools", type=int, default=5000)
    parser.add_argument("--counties", type=int, default=None, help="default: make_region's")
    parser.add_argument("--county", action="append", default=[], help="a county planned alone")
    parser.add_argument("--start", action="store_true", help="rolling-horizon plan as MIP start")
    args = parser.parse_args()
    if args.start:
        use_start()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"load average {load_text()}")  # fmt: skip
    if not args.no_counties:
        county_runs(args.seeds, args.schools, args.gap)
    if args.county:
        single_counties(args.county, args.gap, args.municipality_schools)
    if not args.no_municipality:
        municipality_run(args.gap, args.threads, args.municipality_schools, args.counties)


if __name__ == "__main__":
    main()
