"""Speed of the school consolidation planner: single counties and the 5,000-school municipality.

Targets: a county of 300 settlements and 150 schools in under 20 s; the synthetic municipality of
5,000 schools (34 counties), decomposed by county, in under 5 minutes on 2 cores.

Run from the repository root::

    python benchmarks/mergers_speed.py                 # counties (4 seeds) and the municipality
    python benchmarks/mergers_speed.py --no-municipality
    python benchmarks/mergers_speed.py --gap 1e-4      # the solver layer's default gap
    python benchmarks/mergers_speed.py --candidates --no-counties --no-municipality --gap 1e-4
    python benchmarks/mergers_speed.py --new-sites 10 --no-counties --no-municipality

Wall time is what a planner waits; CPU time (this process and its workers) shows how much of the
wall time the shared machine gave us.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import pandas as pd

from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.solver import SolverOptions
from allocator.synth import make_region


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def county_runs(seeds, gap: float, policy: MergerPolicy) -> None:
    print(f"\nCounties: make_region(schools=150, seed=s), gap {gap:g}")
    print("seed | schools | settlements | variables | closed | status | gap | wall s | cpu s")
    print("---|---|---|---|---|---|---|---|---")
    for seed in seeds:
        region = make_region(schools=150, seed=seed)
        t0, c0 = time.perf_counter(), cpu_seconds()
        plan = plan_mergers(region, policy, SolverOptions(mip_gap=gap))
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        row = plan.counties.iloc[0]
        print(
            f"{seed} | {row.schools} | {row.settlements} | {row.variables} | {row.closed} | "
            f"{row.status} | {row.gap:.2e} | {wall:.1f} | {cpu:.1f}",
            flush=True,
        )


def candidates_run(seeds, gap: float) -> None:
    print(
        f"\nCandidate schools per settlement band: all within the limit vs the nearest 8, gap {gap:g}"
    )
    print("seed | all: variables | all: objective | all: s | 8: variables | 8: objective | 8: s | "
          "objective change | time ratio all/8")  # fmt: skip
    print("---|---|---|---|---|---|---|---|---")
    for seed in seeds:
        region = make_region(schools=150, seed=seed)
        out = []
        for k in (None, 8):
            t0 = time.perf_counter()
            plan = plan_mergers(region, MergerPolicy(day_candidates=k), SolverOptions(mip_gap=gap))
            out.append((plan.counties.iloc[0], time.perf_counter() - t0))
        (a, ta), (b, tb) = out
        print(
            f"{seed} | {a.variables} | {a.objective:,.0f} | {ta:.1f} | {b.variables} | "
            f"{b.objective:,.0f} | {tb:.1f} | {(b.objective - a.objective) / a.objective:+.2e} | "
            f"{ta / tb:.2f}",
            flush=True,
        )


def new_site_table(region, k: int, build_cost: float) -> pd.DataFrame:
    """One candidate site at the largest settlement of each of ``k`` townships (nine-year and
    primary sites alternating)."""
    st = region.settlements.copy()
    st["pupils"] = st[[c for c in st.columns if c.startswith("pupils_")]].sum(axis=1)
    top = st.sort_values("pupils", ascending=False).drop_duplicates("township").head(k)
    rows = []
    for i, (_, r) in enumerate(top.iterrows()):
        node = region.roads.nodes[r["node"]]
        nine = i % 2 == 0
        rows.append(
            {
                "site_id": f"NEW{i:02d}",
                "county": r["county"],
                "township": r["township"],
                "node": r["node"],
                "x": node["x"],
                "y": node["y"],
                "level": "nine_year" if nine else "primary",
                "capacity": 900 if nine else 450,
                "annual_cost": 300_000 if nine else 150_000,
                "build_cost": build_cost * (2 if nine else 1),
            }
        )
    return pd.DataFrame(rows)


def new_sites_run(seeds, gap: float, k: int) -> None:
    print(f"\nNew-school candidate sites: {k} per county of 150 schools, gap {gap:g}")
    print("seed | build cost (primary) | without: variables | without: s | with: variables | "
          "with: s | opened | annual cost after without -> with (million yuan)")  # fmt: skip
    print("---|---|---|---|---|---|---|---")
    for seed in seeds:
        region = make_region(schools=150, seed=seed)
        t0 = time.perf_counter()
        base = plan_mergers(region, MergerPolicy(), SolverOptions(mip_gap=gap))
        t_base = time.perf_counter() - t0
        after_base = base.costs.set_index("item").loc["total", "after"]
        for build in (6e6, 1.5e7):
            policy = MergerPolicy(candidate_sites=new_site_table(region, k, build))
            t0 = time.perf_counter()
            plan = plan_mergers(region, policy, SolverOptions(mip_gap=gap))
            t = time.perf_counter() - t0
            after = plan.costs.set_index("item").loc["total", "after"]
            print(
                f"{seed} | {build:,.0f} | {base.counties.iloc[0].variables} | {t_base:.1f} | "
                f"{plan.counties.iloc[0].variables} | {t:.1f} | {len(plan.openings)} | "
                f"{after_base / 1e6:.2f} -> {after / 1e6:.2f}",
                flush=True,
            )


def municipality_run(gap: float, threads: int, policy: MergerPolicy) -> None:
    print(f"\nMunicipality: make_region(schools=5000, seed=0), gap {gap:g}, {threads} processes")
    t0 = time.perf_counter()
    region = make_region(schools=5000, seed=0)
    print(f"region built in {time.perf_counter() - t0:.1f} s: {region}")
    t0, c0 = time.perf_counter(), cpu_seconds()

    def progress(message: str) -> None:
        print(f"  {time.perf_counter() - t0:7.1f} s  {message}", flush=True)

    plan = plan_mergers(region, policy, SolverOptions(mip_gap=gap, threads=threads), progress)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    c = plan.counties
    info = plan.solve_info
    print(
        f"\ncounties | schools | closed | worst status | largest gap | slowest county s | "
        f"median county s | wall s | cpu s\n---|---|---|---|---|---|---|---|---\n"
        f"{len(c)} | {c['schools'].sum()} | {len(plan.closures)} | {info.status} | "
        f"{info.gap:.2e} | {c['seconds'].max():.1f} ({c.loc[c['seconds'].idxmax(), 'county']}) | "
        f"{c['seconds'].median():.1f} | {wall:.1f} | {cpu:.1f}"
    )
    slow = c.sort_values("seconds", ascending=False).head(5)
    print("\nslowest counties:")
    print(
        slow[["county", "schools", "variables", "status", "gap", "seconds"]].to_string(index=False)
    )
    other = c[c["status"] != "optimal"]
    if len(other):
        print("\ncounties not solved to the gap:")
        print(other.to_string(index=False))
    print()
    print(plan.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--gap", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-municipality", action="store_true")
    parser.add_argument("--no-counties", action="store_true")
    parser.add_argument("--candidates", action="store_true", help="compare day_candidates 8 vs all")
    parser.add_argument("--new-sites", type=int, default=0, help="candidate sites for new schools")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    policy = MergerPolicy()
    if not args.no_counties:
        county_runs(args.seeds, args.gap, policy)
    if args.candidates:
        candidates_run(args.seeds, args.gap)
    if args.new_sites:
        new_sites_run(args.seeds, args.gap, args.new_sites)
    if not args.no_municipality:
        municipality_run(args.gap, args.threads, policy)


if __name__ == "__main__":
    main()
