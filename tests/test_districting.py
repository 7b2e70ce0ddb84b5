"""Tests of allocator.districting: exact = brute force, validity, infeasibility, determinism."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.districting import (
    evaluate_partition,
    partition,
    partition_problems,
)
from allocator.districting.instance import build_instance
from allocator.districting.objective import score
from allocator.errors import Infeasible
from allocator.exact_outcome import relative_gap, settle_exact
from allocator.solver import SolverOptions

# ------------------------------------------------------------------------------------------
# an independent reference: enumerate every partition, score it with networkx distances
# ------------------------------------------------------------------------------------------


def _set_partitions(n: int, k: int):
    """Restricted growth strings: every partition of range(n) into exactly k blocks."""

    def rec(i, labels, used):
        if i == n:
            if used == k:
                yield list(labels)
            return
        if k - used > n - i:
            return
        for b in range(min(used + 1, k)):
            labels.append(b)
            yield from rec(i + 1, labels, max(used, b + 1))
            labels.pop()

    yield from rec(0, [], 0)


def _reference(g, k, tol, anchor=None, attribute=None, cw=1.0, iw=1.0, conflicts=()):
    """Best objective over all valid partitions (None if there is none), by enumeration."""
    nodes = list(g.nodes)
    w = {v: g.nodes[v]["w"] for v in nodes}
    total = sum(w.values())
    lo, hi = (1 - tol) * total / k, (1 + tol) * total / k
    dist = dict(nx.all_pairs_dijkstra_path_length(g, weight="minutes"))
    best = None
    for labels in _set_partitions(len(nodes), k):
        blocks = [[v for v, b in zip(nodes, labels, strict=True) if b == p] for p in range(k)]
        ok = True
        for blk in blocks:
            wb = sum(w[v] for v in blk)
            if wb < lo - 1e-9 or wb > hi + 1e-9:
                ok = False
                break
            if anchor and not any(g.nodes[v][anchor] for v in blk):
                ok = False
                break
            if not nx.is_connected(g.subgraph(blk)):
                ok = False
                break
            if any(u in blk and v in blk for u, v in conflicts):
                ok = False
                break
        if not ok:
            continue
        comp = sum(min(sum(w[i] * dist[i][c] for i in blk) for c in blk) for blk in blocks)
        value = cw * comp / total
        if attribute:
            means = [
                sum(w[i] * g.nodes[i][attribute] for i in blk) / sum(w[i] for i in blk)
                for blk in blocks
            ]
            value += iw * (max(means) - min(means))
        if best is None or value < best:
            best = value
    return best


def _random_graph(seed, n, p=0.35, anchors=False):
    rng = np.random.default_rng(seed)
    while True:
        g = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
        if nx.is_connected(g):
            break
    for v in g.nodes:
        g.nodes[v]["w"] = float(rng.integers(1, 10))
        g.nodes[v]["q"] = float(rng.normal(1.0, 0.3))
        g.nodes[v]["strong"] = bool(rng.random() < 0.4)
    for u, v in g.edges:
        g.edges[u, v]["minutes"] = float(rng.integers(1, 20))
    return g


def _valid(g, assignment, k, tol, anchor=None):
    """Independent validity check (does not use the module)."""
    total = sum(g.nodes[v]["w"] for v in g.nodes)
    lo, hi = (1 - tol) * total / k, (1 + tol) * total / k
    assert set(assignment) == set(g.nodes)
    assert set(assignment.values()) == set(range(k))
    for p in range(k):
        blk = [v for v, q in assignment.items() if q == p]
        assert nx.is_connected(g.subgraph(blk)), f"part {p} not connected"
        wb = sum(g.nodes[v]["w"] for v in blk)
        assert lo - 1e-9 <= wb <= hi + 1e-9, f"part {p} weight {wb} outside {lo}..{hi}"
        if anchor:
            assert any(g.nodes[v][anchor] for v in blk), f"part {p} without anchor"


# ------------------------------------------------------------------------------------------
# exact equals brute force
# ------------------------------------------------------------------------------------------
CASES = [
    # seed, n, k, tolerance, anchor, attribute, compactness weight, imbalance weight
    (1, 8, 2, 0.2, None, None, 1.0, 0.0),
    (2, 8, 3, 0.3, None, "q", 1.0, 5.0),
    (3, 9, 3, 0.3, "strong", "q", 1.0, 10.0),
    (4, 9, 2, 0.1, None, "q", 0.0, 1.0),
    (5, 8, 3, 0.4, "strong", None, 1.0, 0.0),
    (6, 9, 3, 0.25, None, "q", 0.5, 20.0),
]


@pytest.mark.parametrize("seed,n,k,tol,anchor,attribute,cw,iw", CASES)
def test_exact_equals_brute_force(seed, n, k, tol, anchor, attribute, cw, iw):
    g = _random_graph(seed, n)
    expected = _reference(g, k, tol, anchor, attribute, cw, iw)
    kwargs = dict(
        tolerance=tol,
        anchor=anchor,
        attribute=attribute,
        compactness_weight=cw,
        imbalance_weight=iw,
    )
    if expected is None:
        with pytest.raises(Infeasible):
            partition(g, k, "w", method="exact", **kwargs)
        return
    result = partition(g, k, "w", method="exact", **kwargs)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-5, abs=1e-7)
    _valid(g, result.assignment, k, tol, anchor)
    # the reported objective is the one recomputed from the assignment
    again = evaluate_partition(g, result.assignment, "w", attribute, "minutes", cw, iw)
    assert again["objective"] == pytest.approx(result.objective, rel=1e-9, abs=1e-12)
    # the heuristic is never better than the proven optimum
    heur = partition(g, k, "w", method="heuristic", **kwargs)
    assert heur.objective >= result.objective - 1e-9
    assert heur.status == "local" and heur.gap is None


def test_grid_with_equal_weights_reference_value():
    # 4 x 4 grid, unit weights, 4 parts of exactly 4 nodes: the best shape is the T tetromino
    # (three nodes one step from the centre): 4 parts x 3 = 12 steps, 12 / 16 = 0.75
    g = nx.grid_2d_graph(4, 4)
    nx.set_node_attributes(g, 1, "w")
    result = partition(g, 4, "w", tolerance=0.0, distance=None)
    assert result.status == "optimal"
    assert result.mean_distance == pytest.approx(0.75)
    assert result.compactness == pytest.approx(12.0)
    assert sorted(result.weights) == [4.0] * 4


# ------------------------------------------------------------------------------------------
# hypothesis: whatever comes back is valid; exact raises Infeasible exactly when brute force
# finds nothing
# ------------------------------------------------------------------------------------------
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(4, 8),
    k=st.integers(2, 3),
    tol=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
    use_anchor=st.booleans(),
)
def test_exact_valid_or_truly_infeasible(seed, n, k, tol, use_anchor):
    g = _random_graph(seed, n, p=0.45)
    anchor = "strong" if use_anchor else None
    expected = _reference(g, k, tol, anchor, "q")
    try:
        result = partition(g, k, "w", tolerance=tol, anchor=anchor, attribute="q", method="exact")
    except Infeasible:
        assert expected is None, "Infeasible raised although a valid partition exists"
        return
    assert expected is not None
    _valid(g, result.assignment, k, tol, anchor)
    assert result.objective == pytest.approx(expected, rel=1e-5, abs=1e-7)


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    seed=st.integers(0, 10_000),
    rows=st.integers(3, 8),
    cols=st.integers(3, 8),
    k=st.integers(2, 6),
    tol=st.sampled_from([0.1, 0.2, 0.4]),
    use_anchor=st.booleans(),
)
def test_heuristic_returns_only_valid_partitions(seed, rows, cols, k, tol, use_anchor):
    rng = np.random.default_rng(seed)
    g = nx.grid_2d_graph(rows, cols)
    # knock out some edges while keeping the grid connected
    for e in list(g.edges):
        if rng.random() < 0.15:
            g.remove_edge(*e)
            if not nx.is_connected(g):
                g.add_edge(*e)
    for v in g.nodes:
        g.nodes[v]["w"] = float(rng.integers(1, 20))
        g.nodes[v]["q"] = float(rng.random())
        g.nodes[v]["strong"] = bool(rng.random() < 0.3)
    anchor = "strong" if use_anchor else None
    try:
        result = partition(
            g, k, "w", tolerance=tol, anchor=anchor, attribute="q", method="heuristic", starts=2
        )
    except Infeasible:
        return
    _valid(g, result.assignment, k, tol, anchor)
    assert math.isclose(result.objective, result.mean_distance + result.imbalance)


def test_heuristic_close_to_exact_on_a_36_node_grid():
    rng = np.random.default_rng(7)
    g = nx.grid_2d_graph(6, 6)
    for v in g.nodes:
        g.nodes[v]["w"] = float(rng.integers(1, 10))
    for u, v in g.edges:
        g.edges[u, v]["minutes"] = float(rng.integers(2, 9))
    exact = partition(g, 4, "w", method="exact")
    heur = partition(g, 4, "w", method="heuristic", seed=1)
    assert exact.status == "optimal"
    assert exact.objective <= heur.objective + 1e-9
    assert heur.objective <= exact.objective * 1.05


# ------------------------------------------------------------------------------------------
# infeasible cases name their reason
# ------------------------------------------------------------------------------------------
def _unit(g):
    nx.set_node_attributes(g, 1.0, "w")
    return g


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_more_parts_than_nodes(method):
    with pytest.raises(Infeasible, match="only 3 node"):
        partition(_unit(nx.path_graph(3)), 4, "w", method=method)


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_more_components_than_parts(method):
    g = _unit(nx.Graph())
    g.add_nodes_from(range(6), w=1.0)
    g.add_edges_from([(0, 1), (2, 3), (4, 5)])
    with pytest.raises(Infeasible, match="3 connected components"):
        partition(g, 2, "w", tolerance=0.9, method=method)


def test_components_get_their_own_parts():
    # two triangles, k = 2: each triangle is one part
    g = _unit(nx.Graph())
    g.add_nodes_from(range(6), w=1.0)
    g.add_edges_from([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)])
    for method in ("exact", "heuristic"):
        result = partition(g, 2, "w", tolerance=0.0, distance=None, method=method)
        assert {result.assignment[v] for v in (0, 1, 2)} != {result.assignment[v] for v in (3, 4)}
        assert len({result.assignment[v] for v in (0, 1, 2)}) == 1


def test_fewer_anchors_than_parts():
    g = _unit(nx.cycle_graph(6))
    with pytest.raises(Infeasible, match="2 anchor node"):
        partition(g, 3, "w", tolerance=0.5, anchor=[0, 3])


def test_node_heavier_than_a_part_may_be():
    g = _unit(nx.path_graph(4))
    g.nodes[2]["w"] = 10.0
    with pytest.raises(Infeasible, match="node 2 weighs 10"):
        partition(g, 2, "w")


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_star_cut_vertex(method):
    # a star: every leaf is too light to be a part, so all leaves share the centre's part
    g = _unit(nx.star_graph(6))
    with pytest.raises(Infeasible, match="cut vertex 0"):
        partition(g, 3, "w", method=method)


def test_path_cut_vertex_balance():
    # weights 1, 1, 2, 2 on a path, two parts of exactly 3: only {1, 2} and {0, 3} weigh 3
    g = nx.path_graph(4)
    for v, wt in enumerate([1.0, 1.0, 2.0, 2.0]):
        g.nodes[v]["w"] = wt
    assert _reference(g, 2, 0.0) is None
    with pytest.raises(Infeasible, match="cut vertex"):
        partition(g, 2, "w", tolerance=0.0)


def test_milp_proves_subset_sum_infeasibility():
    # a triangle of weights 4, 4, 4 cannot be halved; no cheap rule sees it, the MILP proves it
    g = nx.complete_graph(3)
    nx.set_node_attributes(g, 4.0, "w")
    with pytest.raises(Infeasible, match="proven by the MILP"):
        partition(g, 2, "w", tolerance=0.0, method="exact")
    with pytest.raises(Infeasible, match="heuristic found no partition"):
        partition(g, 2, "w", tolerance=0.0, method="heuristic")


# ------------------------------------------------------------------------------------------
# determinism, arguments, helpers
# ------------------------------------------------------------------------------------------
def test_heuristic_is_deterministic_for_a_seed():
    rng = np.random.default_rng(3)
    g = nx.grid_2d_graph(10, 10)
    for v in g.nodes:
        g.nodes[v]["w"] = float(rng.integers(1, 50))
        g.nodes[v]["q"] = float(rng.random())
    # string labels: set iteration order of str depends on PYTHONHASHSEED; results must not
    g = nx.relabel_nodes(g, {v: f"s{v[0]}-{v[1]}" for v in g.nodes})
    runs = [
        partition(g, 6, "w", attribute="q", method="heuristic", seed=5, starts=2).assignment
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_bad_arguments_are_named():
    g = _unit(nx.path_graph(4))
    with pytest.raises(ValueError, match="k must be a positive integer"):
        partition(g, 0, "w")
    with pytest.raises(ValueError, match="tolerance must be in"):
        partition(g, 2, "w", tolerance=1.5)
    with pytest.raises(ValueError, match="no attribute 'pupils'"):
        partition(g, 2, "pupils")
    with pytest.raises(ValueError, match="method must be one of"):
        partition(g, 2, "w", method="fast")
    g.edges[0, 1]["minutes"] = 3.0
    with pytest.raises(ValueError, match="give every edge a length or none"):
        partition(g, 2, "w")


def test_evaluate_and_problems_by_hand():
    # path 0-1-2-3 with lengths 1, 2, 3; weights 1, 2, 3, 4; quality 0, 1, 1, 0
    g = nx.path_graph(4)
    for v, (wt, q) in enumerate([(1, 0.0), (2, 1.0), (3, 1.0), (4, 0.0)]):
        g.nodes[v]["w"] = float(wt)
        g.nodes[v]["q"] = q
    for (u, v), length in zip(g.edges, [1.0, 2.0, 3.0], strict=True):
        g.edges[u, v]["minutes"] = length
    terms = evaluate_partition(g, {0: 0, 1: 0, 2: 1, 3: 1}, "w", "q")
    # part {0,1}: centre 1 costs 1*1 = 1; part {2,3}: centre 3 costs 3*3 = 9 (centre 2: 4*3 = 12)
    assert terms["compactness"] == pytest.approx(10.0)
    assert terms["mean_distance"] == pytest.approx(1.0)
    # means: (0*1 + 1*2)/3 = 2/3 and (1*3 + 0*4)/7 = 3/7
    assert terms["imbalance"] == pytest.approx(2 / 3 - 3 / 7)
    assert partition_problems(g, {0: 0, 1: 0, 2: 1, 3: 1}, 2, "w", tolerance=0.5) == []
    problems = partition_problems(g, {0: 0, 1: 0, 2: 1, 3: 1}, 2, "w", tolerance=0.1)
    assert any("outside" in p for p in problems)
    assert partition_problems(g, {0: 0, 1: 1, 2: 1, 3: 0}, 2, "w", tolerance=0.9) == [
        "part 0 is not connected (2 pieces)"
    ]
    assert partition_problems(g, {0: 0, 1: 0, 2: 1, 3: 1}, 2, "w", 0.5, anchor=[0, 1]) == [
        "part 1 has no anchor"
    ]


def test_set_partition_enumeration_counts():
    # Stirling numbers of the second kind: S(6, 3) = 90, S(7, 2) = 63
    assert sum(1 for _ in _set_partitions(6, 3)) == 90
    assert sum(1 for _ in _set_partitions(7, 2)) == 63
    assert len({tuple(p) for p in _set_partitions(5, 2)}) == 15


def test_early_stop_reports_status_honestly():
    # stopped by a node limit (not a clock): whatever the solver reached, the status matches the
    # gap to a valid bound, and "optimal" only within the gap asked
    rng = np.random.default_rng(11)
    g = nx.grid_2d_graph(4, 5)
    for v in g.nodes:
        g.nodes[v]["w"] = float(rng.integers(1, 9))
        g.nodes[v]["q"] = float(rng.random())
    for nodes in (0, 1, 50):
        options = SolverOptions(mip_gap=1e-6, highs_options={"mip_max_nodes": nodes})
        result = partition(g, 3, "w", attribute="q", method="exact", options=options)
        assert result.status in ("optimal", "feasible")
        if result.bound is None:
            assert result.gap is None and result.status == "feasible"
        else:
            assert math.isfinite(result.bound) and result.bound <= result.objective + 1e-9
            assert result.gap == pytest.approx(
                (result.objective - result.bound) / abs(result.objective), abs=1e-12
            )
            assert (result.status == "optimal") == (result.gap <= 1e-6 + 1e-9)


# ------------------------------------------------------------------------------------------
# an exact mode never returns worse than its start; bounds are valid; auto falls back
# ------------------------------------------------------------------------------------------
def test_settle_exact_seen_cases():
    # seen: the exact mode returned 8.9058 where its start had 8.8854, and 12.6204 against a
    # start of 12.6006 with bound -inf
    out = settle_exact(8.9058, 8.8854, 8.80, cut_by_start=True, mip_gap=1e-6)
    assert (out.keep, out.objective) == ("start", 8.8854)
    assert out.bound == pytest.approx(8.80)
    assert out.gap == pytest.approx((8.8854 - 8.80) / 8.8854)
    assert out.status == "feasible" and "worse than its start" in out.notes[0]
    out = settle_exact(12.6204, 12.6006, -math.inf, cut_by_start=True)
    assert (out.keep, out.objective, out.bound, out.gap, out.status) == (
        "start",
        12.6006,
        None,
        None,
        "feasible",
    )
    # a model cut by the start's value bounds only plans better than it: min(bound, start)
    out = settle_exact(5.0, 5.0, 7.0, cut_by_start=True)
    assert (out.keep, out.bound, out.gap, out.status) == ("plan", 5.0, 0.0, "optimal")
    # an impossible bound (above a known plan) is dropped; other valid bounds still count
    out = settle_exact(5.0, None, 7.0, cut_by_start=False, other_bounds=(4.0, None))
    assert (out.bound, out.status) == (4.0, "feasible")
    assert out.gap == pytest.approx(0.2)
    # "optimal" only within the gap asked
    assert settle_exact(10.0, None, 9.99, cut_by_start=False, mip_gap=1e-4).status == "feasible"
    assert settle_exact(10.0, None, 9.99, cut_by_start=False, mip_gap=1e-2).status == "optimal"
    # no plan from the solver: the start
    out = settle_exact(None, 3.0, None, cut_by_start=True)
    assert (out.keep, out.objective, out.gap, out.status) == ("start", 3.0, None, "feasible")
    with pytest.raises(ValueError):
        settle_exact(None, None, 1.0, cut_by_start=False)


def test_relative_gap_is_absolute_near_zero():
    assert relative_gap(1.6e-9, 0.0) == pytest.approx(1.6e-9)
    assert relative_gap(2.0, 1.0) == pytest.approx(0.5)
    assert relative_gap(2.0, None) is None and relative_gap(2.0, math.nan) is None


@pytest.mark.parametrize("seed,n,k,tol,anchor,attribute,cw,iw", CASES[1:4])
@pytest.mark.parametrize("nodes", [0, 1])
def test_node_limited_exact_is_no_worse_than_its_start_and_its_bound_is_valid(
    seed, n, k, tol, anchor, attribute, cw, iw, nodes
):
    g = _random_graph(seed, n)
    kwargs = dict(
        tolerance=tol,
        anchor=anchor,
        attribute=attribute,
        compactness_weight=cw,
        imbalance_weight=iw,
    )
    best = _reference(g, k, tol, anchor, attribute, cw, iw)
    options = SolverOptions(mip_gap=1e-6, highs_options={"mip_max_nodes": nodes})
    result = partition(g, k, "w", method="exact", options=options, **kwargs)
    _valid(g, result.assignment, k, tol, anchor)
    # the exact method starts from the heuristic's plan with 2 starts and the same seed
    start = partition(g, k, "w", method="heuristic", starts=2, **kwargs)
    assert result.objective <= start.objective + 1e-9
    assert result.objective >= best - 1e-9
    if result.bound is not None:
        assert result.bound <= best + 1e-7
    else:
        assert result.gap is None and result.status == "feasible"


def test_auto_falls_back_to_the_heuristic_when_the_milp_stops_without_a_plan(
    milp_stops_without_a_plan,
):
    g = _random_graph(3, 9)
    kwargs = dict(tolerance=0.3, anchor="strong", attribute="q", imbalance_weight=10.0)
    heuristic = partition(g, 3, "w", method="heuristic", starts=2, **kwargs)
    auto = partition(g, 3, "w", method="auto", **kwargs)
    _valid(g, auto.assignment, 3, 0.3, "strong")
    assert (auto.method, auto.status, auto.bound, auto.gap) == ("heuristic", "local", None, None)
    assert any("fell back to the heuristic" in note for note in auto.notes)
    assert auto.objective <= heuristic.objective + 1e-9
    # method "exact" keeps its start, with no bound and no claim of optimality
    exact = partition(g, 3, "w", method="exact", **kwargs)
    assert exact.objective == pytest.approx(heuristic.objective)
    assert (exact.method, exact.status, exact.bound, exact.gap) == ("exact", "feasible", None, None)
    assert any("without a plan" in note for note in exact.notes)


# ------------------------------------------------------------------------------------------
# pairs that may not share a part (e.g. schools too far apart by road)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_conflicting_pairs_never_share_a_part_and_exact_equals_brute_force(seed):
    g = _random_graph(seed, 9, p=0.45)
    rng = np.random.default_rng(seed)
    nodes = list(g.nodes)
    pairs = {tuple(sorted(rng.choice(nodes, 2, replace=False).tolist())) for _ in range(6)}
    kwargs = dict(tolerance=0.4, attribute="q", imbalance_weight=5.0, conflicts=pairs)
    expected = _reference(g, 3, 0.4, None, "q", 1.0, 5.0, conflicts=pairs)
    free = _reference(g, 3, 0.4, None, "q", 1.0, 5.0)
    if expected is None:
        with pytest.raises(Infeasible):
            partition(g, 3, "w", method="exact", **kwargs)
        return
    result = partition(g, 3, "w", method="exact", **kwargs)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-5, abs=1e-7)
    assert expected >= free - 1e-9
    for method in ("exact", "heuristic"):
        part = partition(g, 3, "w", method=method, **kwargs)
        _valid(g, part.assignment, 3, 0.4)
        for u, v in pairs:
            assert part.assignment[u] != part.assignment[v]


def test_conflicts_are_checked():
    g = nx.path_graph(4)
    nx.set_node_attributes(g, 1, "w")
    with pytest.raises(ValueError, match="not in the graph"):
        partition(g, 2, "w", distance=None, conflicts=[(0, 9)])
    with pytest.raises(ValueError, match="itself"):
        partition(g, 2, "w", distance=None, conflicts=[(1, 1)])
    # 0 and 1 apart, 2 parts of 2 nodes on a path: impossible (0 needs 1 to reach anything)
    with pytest.raises(Infeasible):
        partition(g, 2, "w", tolerance=0.0, distance=None, conflicts=[(0, 1)])


def test_instance_and_score_agree_with_evaluate_partition():
    # the benchmark scores plans made elsewhere with these two public helpers
    g = nx.path_graph(4)
    nx.set_node_attributes(g, 1, "w")
    inst = build_instance(g, 2, "w", 0.0, None, None, None, 1.0, 0.0)
    objective, compactness, *_ = score(inst, np.array([0, 0, 1, 1]))
    expected = evaluate_partition(g, {0: 0, 1: 0, 2: 1, 3: 1}, "w", distance=None)
    assert (objective, compactness) == (expected["objective"], expected["compactness"])
