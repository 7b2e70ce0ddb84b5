"""Districting: our partition() against the best plan of a GerryChain ReCom chain.

On the same graph, tolerance and objective, :func:`allocator.districting.partition` (heuristic)
runs first; a ReCom Markov chain (GerryChain, benchmark-only dependency: ``pip install
gerrychain``) then gets the same wall time, starting from a ``recursive_tree_part`` plan, and
every plan it visits is scored on our objective (weighted travel to the part centre plus
weighted spread of part means); the best one is reported. Lower is better.

Graphs: a 20 x 20 grid with random weights and quality (k = 10), and the school adjacency graphs
of synthetic counties of 100 and 1,000 schools (``allocator.synth.make_region``; k = 12 and 20),
built as the district planner builds them. No anchors (ReCom has none). Then the exact mode's
time to a proven optimum on random planar graphs of 60 nodes, k = 4.

    python benchmarks/districting_gerrychain.py
"""

from __future__ import annotations

import random
import signal
import time
import warnings
from functools import partial

import networkx as nx
import numpy as np

from allocator.districting import partition
from allocator.districting.instance import build_instance
from allocator.districting.objective import score

TOLERANCE = 0.15
QUALITY_WEIGHT = 100.0


def grid_graph(seed=0):
    rng = np.random.default_rng(seed)
    g = nx.grid_2d_graph(20, 20)
    for v in g.nodes:
        g.nodes[v]["pupils"] = float(rng.integers(50, 1500))
        g.nodes[v]["quality"] = float(rng.normal(1.0, 0.2))
    for u, v in g.edges:
        g.edges[u, v]["minutes"] = float(rng.uniform(3, 12))
    return nx.convert_node_labels_to_integers(g)


def county_graph(schools, seed=3):
    import allocator.planners.districts as d
    from allocator.districting.adjacency import touching_pairs, unit_graph
    from allocator.planners.districts.data import PUPIL_COLUMNS, dense_minutes
    from allocator.synth import make_region

    region = make_region(schools=schools, counties=1, seed=seed)
    policy = d.DistrictPolicy()
    s = region.schools.copy()
    s["quality"] = d.quality_index(s)[0].to_numpy(float)
    s["_pupils"] = s[list(PUPIL_COLUMNS)].sum(axis=1)
    s = s[s["level"].isin(policy.levels) & (s["_pupils"] > 0)].set_index("school_id", drop=False)
    s["strong"] = s["quality"] >= np.quantile(s["quality"], 0.75)
    nodes = s["node"].astype(str).tolist()
    minutes = dense_minutes(region.travel_minutes(nodes, nodes))
    np.fill_diagonal(minutes, 0.0)
    ids = s["school_id"].astype(str).tolist()
    touching = touching_pairs(region.roads, dict(zip(ids, nodes, strict=True)))
    data = {
        sid: {"pupils": float(p), "quality": float(q), "strong": bool(st)}
        for sid, p, q, st in zip(ids, s["_pupils"], s["quality"], s["strong"], strict=True)
    }
    g = unit_graph(ids, minutes, touching, policy.adjacency_minutes, policy.max_trip_minutes, data)
    return nx.convert_node_labels_to_integers(g)


def recom_best(g, k, seconds, seed=0):
    """Best objective over the plans a ReCom chain visits in ``seconds`` (seed plan and scoring
    included; the wall time is enforced by an alarm, since one ReCom step or the seed plan can
    spend long searching for a balanced cut). Returns (best or None, plans, seconds)."""
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.proposals import recom
    from gerrychain.tree import bipartition_tree, recursive_tree_part
    from gerrychain.updaters import Tally

    inst = build_instance(
        g, k, "pupils", TOLERANCE, None, "quality", "minutes", 1.0, QUALITY_WEIGHT
    )
    t0 = time.perf_counter()
    order = list(g.nodes)
    state = {"best": None, "steps": 0}

    def stop(signum, frame):
        raise _TimeUp

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        gg = Graph.from_networkx(g)
        ideal = sum(g.nodes[v]["pupils"] for v in g.nodes) / k
        start = None
        for attempt in range(1000):
            try:
                start = recursive_tree_part(
                    gg,
                    range(k),
                    ideal,
                    "pupils",
                    TOLERANCE * 0.9,
                    rng=random.Random(seed + attempt),
                )
                break
            except _TimeUp:
                raise
            except Exception:  # a seed plan is not always found on the first try
                continue
        initial = Partition(gg, start, updaters={"population": Tally("pupils", alias="population")})
        proposal = partial(
            recom,
            pop_col="pupils",
            pop_target=ideal,
            epsilon=TOLERANCE,
            bipartition_tree_fn=partial(
                bipartition_tree, allow_pair_reselection=True, max_attempts=500
            ),
        )
        chain = MarkovChain(
            proposal,
            [within_percent_of_ideal_population(initial, TOLERANCE)],
            always_accept,
            initial,
            total_steps=10**9,
            rng=random.Random(seed),
        )
        for plan in chain:
            labels = np.array([plan.assignment[v] for v in order])
            value = score(inst, labels)[0]
            state["best"] = value if state["best"] is None else min(state["best"], value)
            state["steps"] += 1
    except _TimeUp:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return state["best"], state["steps"], time.perf_counter() - t0


class _TimeUp(Exception):
    pass


def run(name, g, k, starts=4):
    t0 = time.perf_counter()
    ours = partition(
        g,
        k,
        "pupils",
        tolerance=TOLERANCE,
        attribute="quality",
        imbalance_weight=QUALITY_WEIGHT,
        method="heuristic",
        starts=starts,
    )
    seconds = time.perf_counter() - t0
    theirs, steps, their_seconds = recom_best(g, k, seconds)
    name_theirs = ""
    if theirs is None:  # nothing in the same time: give ReCom ten times as long
        theirs, steps, their_seconds = recom_best(g, k, 10 * seconds)
        name_theirs = " (10 x time)"
    ratio = theirs / ours.objective if theirs is not None else float("nan")
    theirs = float("nan") if theirs is None else theirs
    print(
        f"| {name} | {g.number_of_nodes()} | {k} | {seconds:.1f} | {ours.objective:.3f} "
        f"({ours.mean_distance:.2f} min + {QUALITY_WEIGHT:g} x {ours.imbalance:.4f}) | "
        f"{theirs:.3f}{name_theirs} | {steps} | {their_seconds:.1f} | {ratio:.2f} |",
        flush=True,
    )


def delaunay_graph(n, seed):
    """Random planar graph: n points in a 10 x 10 km square, Delaunay edges, 6 minutes a km."""
    from scipy.spatial import Delaunay

    rng = np.random.default_rng(seed)
    pts = rng.random((n, 2)) * 10
    g = nx.Graph()
    for i in range(n):
        g.add_node(i, pupils=float(rng.integers(50, 1500)), quality=float(rng.normal(1, 0.25)))
    for simplex in Delaunay(pts).simplices:
        for a in range(3):
            u, v = int(simplex[a]), int(simplex[(a + 1) % 3])
            g.add_edge(u, v, minutes=float(np.hypot(*(pts[u] - pts[v])) * 6))
    q = np.array([g.nodes[i]["quality"] for i in range(n)])
    for i in range(n):
        g.nodes[i]["strong"] = bool(q[i] >= np.quantile(q, 0.75))
    return g


def speed():
    """Exact mode on 60-node planar graphs, k = 4: time to a proven optimum."""
    print()
    print("| graph (60 nodes, k = 4) | objective terms | status | gap | seconds |")
    print("|---|---|---|---|---|")
    for seed in (0, 1, 2):
        g = delaunay_graph(60, seed)
        for label, kw in (
            ("travel", {}),
            ("travel + spread", dict(attribute="quality")),
            ("travel + spread + anchors", dict(attribute="quality", anchor="strong")),
        ):
            t0 = time.perf_counter()
            r = partition(g, 4, "pupils", method="exact", time_limit=300, **kw)
            print(
                f"| Delaunay, seed {seed} | {label} | {r.status} | {r.gap:.1e} | "
                f"{time.perf_counter() - t0:.1f} |",
                flush=True,
            )


def main():
    warnings.filterwarnings("ignore")
    print(
        "| graph | nodes | k | our seconds | our objective (travel + weight x spread) | "
        "best ReCom objective | ReCom plans | ReCom seconds | ReCom / ours |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    run("20 x 20 grid", grid_graph(), 10)
    run("county, 100 schools", county_graph(100), 12)
    run("county, 1,000 schools", county_graph(1000), 20, starts=2)
    speed()


if __name__ == "__main__":
    main()
