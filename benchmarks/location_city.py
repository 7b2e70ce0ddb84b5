"""City-scale location benchmarks: p-median and facility location within a walking limit.

Instances come from a synthetic urban district (:func:`allocator.synth.make_region` with one urban
county): its settlements (residential communities) are the clients, weighted by their children;
candidate sites are a square grid over the district, kept where some community lies within the
walking limit and thinned at random to the number asked. Two kinds of walking minutes:

* ``geometric``: straight-line km x 1.3 (winding) at 4.5 km/h;
* ``road``: the district's road network walked at 4.5 km/h (its driving minutes rescaled), each
  grid site snapped to its nearest road node.

Only pairs within the limit (15 minutes by default) are allowed; communities with no site within
the limit are left out and counted. Each instance is solved by the Benders decomposition
(:func:`allocator.location.benders_p_median`, :func:`allocator.location.benders_facility_location`)
and, with ``--compare``, by :func:`allocator.location.p_median`. Printed per run: the instance
(clients, sites, pairs, p or opening cost, limit, seed, left-out communities), time, status,
objective, bound, gap, peak resident memory (getrusage; Python's own allocations are not traced:
tracing them tripled the time of the preschool model's Python-side rounding), and
the load average, since the figures depend on what else the machine runs.

``--model preschool`` benchmarks the kindergarten planner's model (:func:`preschool_city`): the
district's communities, its kindergartens and reserved land, the walk along its roads, levels
and costs as :class:`~allocator.planners.kindergartens.KindergartenPolicy` makes them (not
figures of this script), children grown by ``--growth`` (1.6) so that new places must be built.
At 1,000 communities (seed 1): 1,000 communities, 650 sites (401 kindergartens, 249 reserved),
2,801 levels, 14,657 pairs (median 12 sites per community; 142 rural communities beyond every
site), 148,088 children of whom 141,470 within reach; the 90 % enrolment target of those within
reach, 85 % inclusive and 50 % public are feasible (a plan is found). The planner's walking
minutes are road minutes, whatever ``--kind`` says.

Usage::

    python benchmarks/location_city.py --clients 5000 --sites 2000 --kind geometric road
    python benchmarks/location_city.py --clients 1000 5000 10000 --model pmedian ufl
    python benchmarks/location_city.py --clients 1000 5000 10000 --model preschool
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from allocator.errors import Infeasible  # noqa: E402
from allocator.location import (  # noqa: E402
    benders_facility_location,
    benders_p_median,
    p_median,
)
from allocator.solver import SolverOptions  # noqa: E402
from allocator.synth import make_region  # noqa: E402
from allocator.travel import road_matrix, shortest_minutes  # noqa: E402

WALK_KMH, WINDING, URBAN_DRIVE_KMH = 4.5, 1.3, 22.0


def city(clients: int, seed: int):
    """A one-county urban district with ``clients`` settlements: (region, xy, children)."""
    schools = max(5, math.ceil(clients / 5))
    region = make_region(
        schools=schools,
        counties=1,
        urban_district=True,
        settlements_per_school=clients / schools,
        seed=seed,
        open_columns=False,
    )
    nodes = region.roads.nodes
    st = region.settlements
    xy = np.array([(nodes[v]["x"], nodes[v]["y"]) for v in st["node"]])
    rng = np.random.default_rng(seed)
    children = rng.integers(5, 80, len(st)).astype(float)  # aged 3-5 per community
    return region, xy, children


def grid_sites(xy: np.ndarray, sites: int, reach_km: float, seed: int) -> np.ndarray:
    """About ``sites`` grid points within ``reach_km`` of some client (thinned at random)."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    area_km2 = float(np.prod(hi - lo))
    spacing = math.sqrt(area_km2 / (sites * 4.0))
    gx = np.arange(lo[0], hi[0] + spacing, spacing)
    gy = np.arange(lo[1], hi[1] + spacing, spacing)
    grid = np.array(np.meshgrid(gx, gy)).reshape(2, -1).T
    near = cKDTree(xy).query(grid, k=1, distance_upper_bound=reach_km)[0] < np.inf
    grid = grid[near]
    rng = np.random.default_rng(seed + 1)
    if grid.shape[0] > sites:
        grid = grid[np.sort(rng.choice(grid.shape[0], sites, replace=False))]
    return grid


def geometric_minutes(xy, sites_xy, limit: float) -> sp.csr_matrix:
    """Walking minutes of the pairs within ``limit`` (straight line x winding)."""
    reach = limit / 60.0 * WALK_KMH / WINDING
    d = cKDTree(xy).sparse_distance_matrix(cKDTree(sites_xy), reach, output_type="coo_matrix")
    minutes = np.round(d.data * WINDING / WALK_KMH * 60.0, 1)
    out = sp.csr_matrix((minutes, (d.row, d.col)), shape=(len(xy), len(sites_xy)))
    # a site on top of a community (distance 0) is an allowed pair of cost 0: keep it
    zero = cKDTree(xy).query_ball_point(sites_xy, 1e-9)
    rows = [i for js in zero for i in js]
    cols = [j for j, js in enumerate(zero) for _ in js]
    if rows:
        out = out.tolil()
        out[rows, cols] = 0.0
        out = out.tocsr()
    return out


def road_walk_minutes(region, xy, sites_xy, limit: float):
    """Walking minutes on the road network (sites snapped to their nearest road node)."""
    names = list(region.roads.nodes)
    node_xy = np.array([(region.roads.nodes[v]["x"], region.roads.nodes[v]["y"]) for v in names])
    snapped = np.unique(cKDTree(node_xy).query(sites_xy)[1])
    index, graph = road_matrix(region.roads)
    graph = graph * (URBAN_DRIVE_KMH / WALK_KMH)  # driving minutes -> walking minutes
    sources = list(region.settlements["node"])
    targets = [names[k] for k in snapped]
    m = shortest_minutes(index, graph, sources, targets, cutoff=limit)
    m.data = np.round(m.data, 1)
    return m, node_xy[snapped]


def instance(kind: str, clients: int, sites: int, limit: float, seed: int):
    """(cost, weights, site count, left-out communities) of one benchmark instance."""
    region, xy, children = city(clients, seed)
    reach = limit / 60.0 * WALK_KMH / WINDING
    sites_xy = grid_sites(xy, sites, reach, seed)
    if kind == "geometric":
        cost = geometric_minutes(xy, sites_xy, limit)
    else:
        cost, sites_xy = road_walk_minutes(region, xy, sites_xy, limit)
    reached = np.diff(cost.tocsr().indptr) > 0
    left_out = int((~reached).sum())
    return cost.tocsr()[reached], children[reached], left_out


def preschool_city(clients: int, seed: int, growth: float):
    """The kindergarten planner's own data for a synthetic district of ``clients`` communities.

    ``make_region(..., urban_district=True, kindergartens=True)``: kindergartens beside the primary
    schools and land reserved for new ones (配套幼儿园 land: 30 % of the urban community nodes
    without a kindergarten), children aged 3-5 from the birth forecast times ``growth`` (a growing
    city whose new housing fills), levels, walking minutes and costs from
    :class:`~allocator.planners.kindergartens.KindergartenPolicy` defaults (the preschool2021
    standard: 90 % gross enrolment of the children within reach, 85 % inclusive, 50 % public,
    15 minutes' walk in the city, new kindergartens of 3-24 classes at 40,000 yuan a place).
    """
    from allocator.planners.kindergartens.data import kindergarten_data
    from allocator.planners.kindergartens.policy import KindergartenPolicy

    schools = max(5, math.ceil(clients / 5))
    region = make_region(
        schools=schools, counties=1, urban_district=True, kindergartens=True,
        settlements_per_school=clients / schools, seed=seed, open_columns=False,
    )  # fmt: skip
    policy = KindergartenPolicy(children_factor=growth)
    return kindergarten_data(region, policy), policy


def describe_preschool(data) -> str:
    """The instance's figures: communities, sites, levels, pairs per community, children."""
    walk, kids = data.walk, data.settlements["children"].to_numpy(float)
    per = np.diff(walk.indptr)
    status = data.sites["status"].value_counts()
    return (
        f"preschool {len(kids)} communities, {len(data.sites)} sites ({status.get('open', 0)} "
        f"kindergartens, {status.get('reserved', 0)} reserved), {len(data.levels)} levels, "
        f"{walk.nnz} pairs (per community: median {np.median(per):g}, max {per.max()}; "
        f"{int((per == 0).sum())} beyond every site), {kids.sum():,.0f} children "
        f"({kids[per > 0].sum():,.0f} within reach)"
    )


def preschool(data, policy, options):
    """The preschool model as :func:`plan_kindergartens` builds and solves it."""
    from allocator.planners.kindergartens.model import solve_model

    return solve_model(data, policy, options)


def measure(label: str, solve, *args):
    """Run ``solve(*args)`` and print its figures (time, status, gap, bound, memory)."""
    t0 = time.perf_counter()
    try:
        r = solve(*args)
    except Exception as err:  # a benchmark reports every failure and goes on
        print(f"  {label:<10} failed after {time.perf_counter() - t0:.1f} s: {err}")
        return
    seconds = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = getattr(r, "info", r)  # a LevelResult keeps status, gap and bound in its info
    gap = "-" if info.gap is None else f"{info.gap:.2e}"
    bound = "-" if info.bound is None else f"{info.bound:.1f}"
    opened = r.sites.size if hasattr(r, "sites") else r.levels.size
    print(
        f"  {label:<10} {seconds:7.1f} s  {info.status:<8} objective {r.objective:.1f}  bound "
        f"{bound}  gap {gap}  open {opened}  rss {rss:.0f} MiB"
        f"  load {os.getloadavg()[0]:.2f}"
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--sites", type=int, default=2000)
    ap.add_argument("--limit", type=float, default=15.0, help="walking minutes")
    ap.add_argument("--kind", nargs="+", default=["geometric", "road"])
    ap.add_argument("--model", nargs="+", default=["pmedian", "ufl", "preschool"])
    ap.add_argument("--p-share", type=float, default=0.4, help="p as a share of the sites")
    ap.add_argument("--opening", type=float, default=3000.0, help="opening cost (child-minutes)")
    ap.add_argument("--growth", type=float, default=1.6, help="preschool children x this")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--compare", action="store_true", help="also run p_median")
    args = ap.parse_args(argv)
    options = SolverOptions(time_limit=args.time_limit, mip_gap=1e-4, threads=args.threads)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min)")
    for kind in args.kind:
        for n in args.clients:
            if "preschool" in args.model and kind == args.kind[0]:  # walks the roads
                data, policy = preschool_city(n, args.seed, args.growth)
                print(describe_preschool(data))
                measure("preschool", preschool, data, policy, options)
            if not {"pmedian", "ufl"} & set(args.model):
                continue
            t0 = time.perf_counter()
            cost, w, left_out = instance(kind, n, args.sites, args.limit, args.seed)
            m = cost.shape[1]
            p = max(1, round(args.p_share * m))
            print(
                f"{kind} {cost.shape[0]} clients ({left_out} beyond the limit left out) x {m} "
                f"sites, {cost.nnz} pairs within {args.limit:g} min, seed {args.seed}, built "
                f"in {time.perf_counter() - t0:.1f} s"
            )
            if "pmedian" in args.model:
                fewest = covering_number(cost, p)
                if fewest > p:
                    print(f"  p={p} cannot cover every community: p={fewest}, the fewest that can")
                    p = fewest
                measure(f"p={p}", benders_p_median, cost, p, w, options)
                if args.compare:
                    measure("p_median", p_median, cost, p, w, options)
            if "ufl" in args.model:
                f = np.full(m, args.opening)
                measure(f"f={args.opening:g}", benders_facility_location, cost, f, w, options)


def covering_number(cost, p: int) -> int:
    """``p``, or the fewest sites covering every community when ``p`` cannot."""
    try:
        benders_p_median(cost, p, options=SolverOptions(time_limit=30.0))
    except Infeasible as err:
        return p + int(err.violations.get("open_sites", 0))
    return p


if __name__ == "__main__":
    main()
