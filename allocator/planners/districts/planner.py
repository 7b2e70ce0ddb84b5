"""The district planner: :func:`plan_districts`, county by county.

Steps: read the region (:mod:`.data`: quality index, schools in scope, catchments that touch);
per county, the strong schools, the road minutes, the adjacency graph and the pairs too far
apart, then :func:`allocator.districting.partition` for the first number of districts that has
a valid plan; finally the plan's tables (:mod:`.tables`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from allocator.districting import Partition, partition, touching_pairs
from allocator.errors import Infeasible
from allocator.fingerprint import region_fingerprint
from allocator.planners.districts.data import (
    county_graph,
    county_minutes,
    district_counts,
    districted_schools,
    far_pairs,
    strong_schools,
)
from allocator.planners.districts.pieces import detached_pieces, piece_centre
from allocator.planners.districts.plan import DistrictPlan
from allocator.planners.districts.policy import DistrictPolicy
from allocator.planners.districts.tables import (
    all_schools,
    county_info,
    county_row,
    district_rows,
    theil_shares,
)
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.standards import load_standard

__all__ = ["plan_districts"]


@dataclass(frozen=True)
class _CountyDistricts:
    """One county's result: its schools with their district, the partition and its tables."""

    schools: pd.DataFrame
    partition: Partition
    graph: nx.Graph
    info: SolveInfo
    row: dict
    summary: pd.DataFrame


def plan_districts(
    region: Region,
    policy: DistrictPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> DistrictPlan:
    """Group each county's schools into contiguous, balanced districts with a strong school each.

    The model is stated in the package docstring (:mod:`allocator.planners.districts`).

    Parameters
    ----------
    region : Region
    policy : DistrictPolicy, optional
        Rules and weights (None: the defaults).
    options : SolverOptions, optional
        Solver settings for counties solved exactly.
    progress : callable, optional
        Called with a short string at each county.

    Returns
    -------
    DistrictPlan

    Raises
    ------
    Infeasible
        A county's schools cannot be split as asked (the county and the reason are named: more
        districts than strong schools, a school with more pupils than a district may have, ...).
    InputError
        ``policy.districts`` misses a county, or the region has no school to district.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> plan = plan_districts(region, DistrictPolicy(schools_per_district=10, method="heuristic"))
    >>> bool(plan.district_summary["strong_schools"].min() >= 1)
    True
    """
    t0 = time.perf_counter()
    policy = policy or DistrictPolicy()
    std = load_standard(policy.standard)
    schools, scope, ratios = districted_schools(region, policy, std)
    where = dict(zip(scope["school_id"], scope["node"].astype(str), strict=True))
    touching = touching_pairs(region.roads, where)
    counties = list(dict.fromkeys(scope["county"]))
    for county in counties:  # a missing entry is reported before any county is solved
        district_counts(policy, county, 1, 1)
    done = {}
    for c_no, county in enumerate(counties, start=1):
        if progress is not None:
            progress(f"county {c_no}/{len(counties)} {county}")
        sub = scope[scope["county"] == county].copy()
        done[county] = _plan_county(region, policy, options, county, sub, touching, ratios)
    return _assemble(region, policy, schools, done, t0)


def _plan_county(region, policy, options, county, sub, touching, ratios) -> _CountyDistricts:
    """Districts of one county: its graph, the partition, the district names and tables.

    Pieces of the county that no district may share with the rest and that cannot be districts
    under the rules are districted apart (:mod:`.pieces`); the rest is partitioned.
    """
    sub["strong"] = strong_schools(sub["quality"], policy.strong_quantile)
    minutes = county_minutes(region, sub)
    graph = county_graph(sub, minutes, touching, policy)
    first = district_counts(policy, county, len(sub), int(sub["strong"].sum()))[0]
    detached = detached_pieces(graph, first, policy.tolerance)
    apart_ids = {s for piece in detached for s in piece}
    main = sub[~sub["school_id"].isin(apart_ids)]
    keep = sub["school_id"].isin(main["school_id"]).to_numpy()
    apart = far_pairs(
        main["school_id"].tolist(), minutes[np.ix_(keep, keep)], policy.max_trip_minutes
    )
    main_graph = graph.subgraph(main["school_id"]).copy() if detached else graph
    part = _partition_county(main_graph, apart, policy, options, county, main)
    info = county_info(part)
    groups = [
        (f"{county}-D{p + 1:02d}", part.parts[p], part.centres[p], False) for p in range(part.k)
    ]
    groups += [
        (f"{county}-D{part.k + t + 1:02d}", piece, piece_centre(graph, piece), True)
        for t, piece in enumerate(detached)
    ]
    names = {s: name for name, members, _, _ in groups for s in members}
    sub["district"] = sub["school_id"].map(names)
    return _CountyDistricts(
        schools=sub,
        partition=part,
        graph=graph,
        info=info,
        row=county_row(county, sub, part, info, detached),
        summary=district_rows(sub, groups, minutes, ratios, graph),
    )


def _partition_county(graph, apart, policy, options, county, sub) -> Partition:
    """The partition for the first number of districts that has a valid plan.

    Raises :class:`Infeasible` naming the county and every number tried when none has one.
    """
    n_strong = int(sub["strong"].sum())
    tried = []
    for k in district_counts(policy, county, len(sub), n_strong):
        try:
            return partition(
                graph,
                k,
                "pupils",
                tolerance=policy.tolerance,
                anchor="strong",
                attribute="quality",
                distance="minutes",
                compactness_weight=policy.travel_weight,
                imbalance_weight=policy.quality_weight,
                method=policy.method,
                seed=policy.seed,
                starts=policy.starts,
                time_limit=policy.time_limit,
                options=options,
                conflicts=apart,
            )
        except Infeasible as exc:
            tried.append((k, exc))
    k_last, last = tried[-1]
    ks = ", ".join(str(t[0]) for t in tried)
    raise Infeasible(
        f"county {county!r} ({len(sub)} schools, {n_strong} strong) cannot be split into "
        f"{ks} district(s) within ±{policy.tolerance:.0%} of equal enrolment; for "
        f"{k_last}: {last.message}",
        {f"{county}: {g}": float(v) for g, v in last.violations.items()}
        or {f"{county}: districts": float(k_last)},
    ) from last


def _assemble(region, policy, schools, done: dict, t0: float) -> DistrictPlan:
    """The plan from every county's districts."""
    planned = pd.concat([c.schools for c in done.values()])
    districts = all_schools(schools, planned, region)
    summary = pd.concat([c.summary for c in done.values()], ignore_index=True)
    theil = theil_shares(planned)
    info = SolveInfo.combine([c.info for c in done.values()], seconds=time.perf_counter() - t0)
    return DistrictPlan(
        districts=districts,
        district_summary=summary,
        counties=pd.DataFrame([c.row for c in done.values()]),
        theil=theil,
        solve_info=info,
        policy=policy,
        partitions={county: c.partition for county, c in done.items()},
        graphs={county: c.graph for county, c in done.items()},
        region_name=region.name,
        region_fingerprint=region_fingerprint(region),
    )
