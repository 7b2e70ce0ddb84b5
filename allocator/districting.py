"""Contiguous, balanced partitions of a graph (districting).

Generic: nothing here knows about schools. A node is anything with a weight (pupils, population)
and optionally an attribute whose part means should be even (a quality index) and an anchor flag
(a node every part must contain one of, e.g. a strong school).

Model
-----
Sets
    ``V``: the nodes of an undirected graph ``G = (V, E)``, ``n = |V|``; parts ``1..k``.
Data
    ``w_i >= 0``: node weight, ``W = sum_i w_i > 0``; ``a_i``: node attribute (optional);
    anchor flags (optional); edge lengths ``l_e`` (the edge attribute named by ``distance``; every
    edge counts 1 when no edge carries it, the networkx convention); ``d_ij``: shortest-path
    distance from ``i`` to ``j`` in ``G``; ``tau``: tolerance; ``L = (1 - tau) W / k`` and
    ``U = (1 + tau) W / k``.
Decision
    A partition of ``V`` into ``k`` parts ``P_1..P_k``.
Constraints
    * contiguity: every part induces a connected subgraph of ``G``;
    * balance: ``L <= w(P) <= U`` for every part, ``w(P) = sum_{i in P} w_i``;
    * anchors (optional): every part contains at least one anchor node;
    * conflicts (optional): given pairs of nodes never share a part.
Objective (minimise)
    ``compactness_weight * C / W + imbalance_weight * I`` where

    * compactness ``C = sum_P min_{c in P} sum_{i in P} w_i d_ic``: the weighted distance from
      every node to its part's centre, the centre being the node of the part that minimises it
      (the part's weighted 1-median). ``C / W`` is the weight-averaged distance to the centre, in
      the units of ``distance`` (minutes for a road graph);
    * imbalance ``I = max_P mu_P - min_P mu_P`` with ``mu_P = sum_{i in P} w_i a_i / w(P)`` the
      weight-weighted mean attribute of part ``P``, in the units of the attribute (0 without an
      attribute).

Exact method: a MILP (centre-assignment formulation with single-source flows for contiguity)
    ``x_ij in {0, 1}``: node ``i`` belongs to the part whose centre is ``j`` (``x_jj = 1``: ``j``
    is a centre). A pair is left out when every path from ``j`` to ``i`` weighs more than ``U``
    (sum of node weights on the path), since such nodes can never share a connected part.

    * ``sum_j x_ij = 1`` for every ``i``; ``sum_j x_jj = k``; ``x_ij <= x_jj``;
    * ``L x_jj <= sum_i w_i x_ij <= U x_jj``; anchors: ``sum_{i anchor} x_ij >= x_jj``;
    * conflicts: ``x_uj + x_vj <= x_jj`` for every conflicting pair ``u, v`` and centre ``j``,
      and ``x_ij = 0`` when ``i`` conflicts with ``j``;
    * contiguity, for every potential centre ``j``, a flow ``f^j_uv >= 0`` on the arcs (both
      directions of every edge) between nodes that may join ``j``: every node ``i != j`` consumes
      ``x_ij`` units, ``sum_u f^j_ui - sum_u f^j_iu = x_ij``, and receives flow only when it is in
      the part, ``sum_u f^j_ui <= (n_j - 1) x_ij`` (``n_j``: nodes that may join ``j``). The only
      source is ``j``, so every node of the part is reached from ``j`` along arcs inside the part;
    * imbalance (attribute shifted to ``[0, A]``): ``M, m in [0, A]`` bound every part mean,
      ``sum_i w_i a_i x_ij <= sum_i w_i z_ij`` with ``z_ij <= M``, ``z_ij <= A x_ij`` and
      ``sum_i w_i a_i x_ij >= sum_i w_i y_ij`` with ``y_ij >= m - A (1 - x_ij)``, ``y_ij >= 0``
      (``z = M x`` and ``y = m x`` for binary ``x``; exact linearisation);
    * objective ``sum_ij compactness_weight w_i d_ij / W x_ij + imbalance_weight (M - m)``.

    With ``compactness_weight == 0`` the centre is fixed to the part's first node (``x_ij = 0``
    for ``i`` before ``j``), which removes the symmetry of the free centre choice.

    Speed-ups, all exact: the heuristic's plan (value ``V``) is the solver's start; pairs
    ``x_ij`` whose reduced cost in the LP relaxation without contiguity proves any plan using them
    worse than ``V`` are dropped; with both terms, the compactness term is first solved alone
    (stage 1), its bound ``LB`` limits the imbalance of any better plan to
    ``(V - LB) / imbalance_weight``, which bounds ``M`` and ``m`` tightly around the overall mean
    (the largest part mean is at least the overall mean, the smallest at most it). When the
    heuristic finds no plan, the model without objective runs first: it proves infeasibility, or
    gives the start.

Heuristic method (large graphs)
    Multi-start: seeds spread by k-means++ sampling (every other start weight-biased; anchors as
    seeds when anchors are required), parts grown from the seeds (the lightest part takes its nearest free neighbour),
    balance repaired by moves, then improved until no move helps by

    * single-node moves to a neighbouring part that keep the giving part connected (a local
      search from the node's neighbours inside its part, stopped as soon as they all meet) and
      every part balanced, evaluated exactly with centres re-optimised;
    * recombination of two neighbouring parts: random spanning trees of their union, every tree
      edge whose cut leaves both sides balanced is scored exactly, the best is taken if it helps.

    A conflicting pair in one part counts as a violation (``U`` each) while balance is repaired
    and as a penalty larger than any difference of objective while the plan is improved; a start
    that still holds one is dropped.

    Every random choice comes from ``numpy.random.default_rng(seed)``, so a run is deterministic
    for a seed unless ``time_limit`` stops it early.

Every returned partition is checked against the model (connected parts with networkx, balance,
anchors, the objective recomputed from scratch); when none exists or none is found,
:class:`~allocator.errors.Infeasible` is raised with the reason.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree

from allocator.errors import Infeasible, SolverError
from allocator.exact_outcome import settle_exact
from allocator.solver import SolveInfo, SolverOptions, binary_values, solve_matrix

__all__ = ["Partition", "partition", "evaluate_partition", "partition_problems", "EXACT_MAX_NODES"]

#: ``method="auto"`` solves graphs up to this many nodes exactly, larger ones heuristically.
EXACT_MAX_NODES = 60

_METHODS = ("auto", "exact", "heuristic")
_EPS = 1e-9


# --------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    """A verified partition of a graph into ``k`` connected, balanced parts.

    Attributes
    ----------
    assignment : dict
        Node -> part number ``0..k-1``; parts are numbered in the order in which their first
        node appears in ``graph.nodes``.
    parts : tuple of tuple
        The nodes of each part, in graph order.
    centres : tuple
        The centre (weighted 1-median) of each part.
    weights : tuple of float
        Total weight of each part.
    means : tuple of float or None
        Weight-weighted mean attribute of each part (None without an attribute).
    compactness : float
        ``C``: sum over nodes of weight times distance to the part's centre.
    mean_distance : float
        ``C / W``: the weight-averaged distance to the centre.
    imbalance : float
        ``I``: largest minus smallest part mean (0 without an attribute).
    objective : float
        ``compactness_weight * C / W + imbalance_weight * I``.
    method : str
        ``"exact"`` or ``"heuristic"``.
    status : str
        ``"optimal"`` (exact, proven within the solver's gap), ``"feasible"`` (exact, stopped by
        the time limit; see ``gap``) or ``"local"`` (heuristic: a local optimum, no bound).
    bound, gap : float or None
        Exact method: best proven lower bound and relative gap of ``objective`` to it.
    lower, upper : float
        The balance bounds ``L`` and ``U`` on part weights.
    seconds : float
        Wall time of the call.
    starts : int
        Heuristic starts run (0 when only the MILP ran).
    solve_info : SolveInfo or None
        The solver's figures (exact method).
    notes : tuple of str
        What happened besides the plain method, in words: the exact model stopped without a
        plan and ``method="auto"`` fell back to the heuristic, the solver's plan was worse than
        its start and the start was kept, a bound was dropped.
    """

    assignment: dict
    parts: tuple
    centres: tuple
    weights: tuple
    means: tuple | None
    compactness: float
    mean_distance: float
    imbalance: float
    objective: float
    method: str
    status: str
    bound: float | None
    gap: float | None
    lower: float
    upper: float
    seconds: float
    starts: int
    solve_info: SolveInfo | None = field(default=None, repr=False)
    notes: tuple = ()

    @property
    def k(self) -> int:
        """Number of parts."""
        return len(self.parts)

    def summary(self) -> str:
        """A few lines describing the partition.

        Examples
        --------
        >>> import networkx as nx
        >>> g = nx.path_graph(4)
        >>> nx.set_node_attributes(g, 1, "w")
        >>> print(partition(g, 2, "w", distance=None).summary().splitlines()[0])
        2 parts, method exact (optimal), objective 0.5
        """
        state = self.status
        if self.gap is not None and self.status != "optimal":
            state = f"{self.status}, gap {self.gap:.2%}"
        lines = [
            f"{self.k} parts, method {self.method} ({state}), objective {self.objective:.6g}",
            f"mean distance to centre {self.mean_distance:.4g}, imbalance {self.imbalance:.4g}",
            f"part weights {min(self.weights):.6g}..{max(self.weights):.6g} "
            f"(allowed {self.lower:.6g}..{self.upper:.6g}), {self.seconds:.2f} s",
        ]
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# instance
# --------------------------------------------------------------------------------------------
@dataclass
class _Instance:
    nodes: list
    adj: list  # list of lists of neighbour indices
    eu: np.ndarray  # undirected edges, u < v
    ev: np.ndarray
    w: np.ndarray
    a: np.ndarray | None
    anchor: np.ndarray  # bool
    need_anchor: bool
    D: np.ndarray  # shortest-path distances
    comp: np.ndarray  # connected component label per node
    k: int
    lower: float
    upper: float
    total: float
    alpha: float
    beta: float
    far: np.ndarray | None = None  # bool n x n: pairs that may not share a part

    @property
    def n(self) -> int:
        return len(self.nodes)


def _positive_number(name, value, allow_zero=True):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        expected = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {expected} finite number, got {value!r}")
    return v


def _node_values(graph, nodes, name, argument):
    out = np.empty(len(nodes))
    for t, v in enumerate(nodes):
        data = graph.nodes[v]
        if name not in data:
            raise ValueError(f"{argument}={name!r}: node {v!r} has no attribute {name!r}")
        try:
            x = float(data[name])
        except (TypeError, ValueError):
            raise ValueError(
                f"{argument}={name!r}: node {v!r} has {name}={data[name]!r}, expected a number"
            ) from None
        if not math.isfinite(x):
            raise ValueError(f"{argument}={name!r}: node {v!r} has {name}={x!r}, expected finite")
        out[t] = x
    return out


def _build(graph, k, weight, tolerance, anchor, attribute, distance, cw, iw) -> _Instance:
    if not isinstance(graph, nx.Graph) or graph.is_directed():
        raise ValueError(f"graph must be an undirected networkx Graph, got {type(graph).__name__}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    tolerance = _positive_number("tolerance", tolerance)
    if tolerance >= 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    cw = _positive_number("compactness_weight", cw)
    iw = _positive_number("imbalance_weight", iw)
    nodes = list(graph.nodes)
    n = len(nodes)
    if n == 0:
        raise ValueError("graph has no nodes")
    index = {v: t for t, v in enumerate(nodes)}
    w = _node_values(graph, nodes, weight, "weight")
    if (w < 0).any():
        bad = nodes[int(np.argmax(w < 0))]
        raise ValueError(f"weight={weight!r}: node {bad!r} has a negative weight")
    total = float(w.sum())
    if total <= 0:
        raise ValueError(f"weight={weight!r}: the node weights sum to {total}, expected > 0")
    a = None
    if attribute is not None:
        a = _node_values(graph, nodes, attribute, "attribute")
    if anchor is None:
        anchors = np.zeros(n, dtype=bool)
        need_anchor = False
    elif isinstance(anchor, str):
        anchors = np.array([bool(graph.nodes[v].get(anchor, False)) for v in nodes])
        need_anchor = True
    else:
        anchors = np.zeros(n, dtype=bool)
        for v in anchor:
            if v not in index:
                raise ValueError(f"anchor: node {v!r} is not in the graph")
            anchors[index[v]] = True
        need_anchor = True
    # edges and lengths
    eu, ev, lengths = [], [], []
    adj = [[] for _ in range(n)]
    has = 0
    edges = list(graph.edges(data=True))
    if distance is not None:
        has = sum(1 for _, _, d in edges if distance in d)
        if 0 < has < len(edges):
            u, v, _ = next(e for e in edges if distance not in e[2])
            raise ValueError(
                f"distance={distance!r}: edge ({u!r}, {v!r}) has no {distance!r} while "
                f"{has} of {len(edges)} edges do; give every edge a length or none"
            )
    for u, v, d in edges:
        iu, iv = index[u], index[v]
        if iu == iv:
            continue
        length = 1.0
        if has:
            length = _positive_number(f"edge ({u!r}, {v!r}) {distance}", d[distance])
        eu.append(min(iu, iv))
        ev.append(max(iu, iv))
        lengths.append(length)
        adj[iu].append(iv)
        adj[iv].append(iu)
    for lst in adj:
        lst.sort()
    eu_a = np.asarray(eu, dtype=np.int64)
    ev_a = np.asarray(ev, dtype=np.int64)
    ln = np.asarray(lengths, dtype=float)
    # tiny positive floor keeps zero-length edges as edges in scipy's sparse graphs
    mat = sp.coo_matrix((np.maximum(ln, 1e-12), (eu_a, ev_a)), shape=(n, n)).tocsr()
    D = dijkstra(mat, directed=False)
    D[D < 1e-9] = 0.0
    _, comp = sp.csgraph.connected_components(mat, directed=False)
    return _Instance(
        nodes=nodes,
        adj=adj,
        eu=eu_a,
        ev=ev_a,
        w=w,
        a=a,
        anchor=anchors,
        need_anchor=need_anchor,
        D=D,
        comp=comp,
        k=k,
        lower=(1 - tolerance) * total / k,
        upper=(1 + tolerance) * total / k,
        total=total,
        alpha=cw,
        beta=iw if a is not None else 0.0,
    )


# --------------------------------------------------------------------------------------------
# necessary conditions (reasons for infeasibility)
# --------------------------------------------------------------------------------------------
def _cut_pieces(inst: _Instance, members: list[int]):
    """Articulation points of one component with the pieces their removal leaves.

    Yields ``(v, [(weight, size, anchors), ...])`` for every cut vertex ``v``; one iterative DFS
    (Tarjan's low-points), subtree sums for the pieces below ``v`` and the rest for the piece above.
    """
    w, anchor, adj = inst.w, inst.anchor, inst.adj
    root = members[0]
    tot_w = float(w[members].sum())
    tot_s = len(members)
    tot_a = int(anchor[members].sum())
    disc, low = {root: 0}, {root: 0}
    sub_w, sub_s, sub_a = {}, {}, {}
    pieces = {}
    children = {root: 0}
    stack = [(root, -1, iter(adj[root]))]
    sub_w[root], sub_s[root], sub_a[root] = float(w[root]), 1, int(anchor[root])
    counter = 1
    while stack:
        v, parent, it = stack[-1]
        advanced = False
        for u in it:
            if u == parent:
                continue
            if u in disc:
                low[v] = min(low[v], disc[u])
                continue
            disc[u] = low[u] = counter
            counter += 1
            sub_w[u], sub_s[u], sub_a[u] = float(w[u]), 1, int(anchor[u])
            children[v] = children.get(v, 0) + 1
            stack.append((u, v, iter(adj[u])))
            advanced = True
            break
        if advanced:
            continue
        stack.pop()
        if parent >= 0:
            low[parent] = min(low[parent], low[v])
            sub_w[parent] += sub_w[v]
            sub_s[parent] += sub_s[v]
            sub_a[parent] += sub_a[v]
            if low[v] >= disc[parent]:
                pieces.setdefault(parent, []).append((sub_w[v], sub_s[v], sub_a[v]))
    for v, below in pieces.items():
        if v == root:
            if len(below) >= 2:
                yield v, below
            continue
        rest = (
            tot_w - float(w[v]) - sum(p[0] for p in below),
            tot_s - 1 - sum(p[1] for p in below),
            tot_a - int(anchor[v]) - sum(p[2] for p in below),
        )
        yield v, below + [rest]


def _max_parts(inst: _Instance, weight: float, size: int, anchors: int) -> int:
    m = size if inst.lower <= 0 else min(size, int(math.floor(weight / inst.lower + 1e-9)))
    if inst.need_anchor:
        m = min(m, anchors)
    return max(m, 0)


def _component_counts(inst: _Instance, members: list[int]) -> tuple[set[int], str, dict]:
    """Numbers of parts a component can hold, the reason when a number is excluded, and the
    amount (requirement -> by how much it fails) for that reason."""
    wc = float(inst.w[members].sum())
    size = len(members)
    anchors = int(inst.anchor[members].sum())
    ok, reason, amount = set(), "", {}
    hi = min(inst.k, _max_parts(inst, wc, size, anchors))
    for kc in range(1, hi + 1):
        if wc > kc * inst.upper * (1 + 1e-12):
            continue
        ok.add(kc)
    if not ok:
        reason = (
            f"the component of {size} node(s) starting at {inst.nodes[members[0]]!r} weighs "
            f"{wc:.6g}: no number of parts of weight {inst.lower:.6g}..{inst.upper:.6g}"
            + (f" with an anchor each ({anchors} anchor(s))" if inst.need_anchor else "")
            + " adds up to it"
        )
        # how far the weight is from what some number of parts could hold
        off = [
            max(kc * inst.lower - wc, wc - kc * inst.upper, 0.0) for kc in range(1, max(hi, 1) + 1)
        ]
        if hi < 1 and inst.need_anchor and anchors == 0:
            return ok, reason, {"anchor": 1.0}
        return ok, reason, {"balance": float(min(off))}
    if max(ok) == 1:
        return ok, reason, amount
    for v, pieces in _cut_pieces(inst, members):
        light = [p for p in pieces if _max_parts(inst, *p) == 0]
        forced = float(inst.w[v]) + sum(p[0] for p in light)
        room = sum(_max_parts(inst, *p) for p in pieces)
        for kc in sorted(ok):
            if kc < 2:
                continue
            if forced > inst.upper * (1 + 1e-12) or room < kc - 1:
                ok.discard(kc)
                if forced > inst.upper * (1 + 1e-12):
                    amount = {"balance": float(forced - inst.upper)}
                    reason = (
                        f"cut vertex {inst.nodes[v]!r}: {len(light)} of the {len(pieces)} pieces "
                        f"its removal leaves are too light (or lack an anchor) to form a part, so "
                        f"they must share its part, which then weighs at least {forced:.6g} > "
                        f"the upper bound {inst.upper:.6g}"
                    )
                else:
                    amount = {"parts": float(kc - 1 - room)}
                    reason = (
                        f"cut vertex {inst.nodes[v]!r}: the pieces its removal leaves can hold "
                        f"at most {room} part(s) besides its own, {kc - 1} needed"
                    )
    return ok, reason, amount


def _allocate(inst: _Instance) -> list[tuple[list[int], int]]:
    """Split the k parts among the connected components, or raise Infeasible with the reason."""
    n, k = inst.n, inst.k
    if k > n:
        raise Infeasible(
            f"k = {k} parts but the graph has only {n} node(s)", {"parts": float(k - n)}
        )
    if inst.need_anchor and int(inst.anchor.sum()) < k:
        have = int(inst.anchor.sum())
        raise Infeasible(
            f"every part needs an anchor, but there are {have} anchor node(s) for k = {k} parts",
            {"anchor": float(k - have)},
        )
    heavy = np.flatnonzero(inst.w > inst.upper * (1 + 1e-12))
    if heavy.size:
        v = int(heavy[0])
        raise Infeasible(
            f"node {inst.nodes[v]!r} weighs {inst.w[v]:.6g}, more than the upper bound "
            f"{inst.upper:.6g} on a part ((1 + tolerance) x total / k)",
            {"balance": float(inst.w[v] - inst.upper)},
        )
    labels = inst.comp
    ncomp = int(labels.max()) + 1
    if ncomp > k:
        raise Infeasible(
            f"the graph has {ncomp} connected components and every one needs a part of its own, "
            f"but k = {k}",
            {"parts": float(ncomp - k)},
        )
    members = [[] for _ in range(ncomp)]
    for t in range(n):
        members[labels[t]].append(t)
    options = []
    amounts = {}
    for m in members:
        ok, reason, amount = _component_counts(inst, m)
        if not ok:
            raise Infeasible(reason, amount)
        options.append((ok, reason))
        for name, v in amount.items():
            amounts[name] = amounts.get(name, 0.0) + v
    # DP over components: reachable totals, keeping the split closest to proportional
    share = [float(inst.w[m].sum()) / inst.total * k for m in members]
    reach = [{0: (0.0, None)}]
    for c, (ok, _) in enumerate(options):
        nxt = {}
        for total, (cost, _) in reach[-1].items():
            for kc in sorted(ok):
                if total + kc > k:
                    continue
                value = cost + abs(kc - share[c])
                if total + kc not in nxt or value < nxt[total + kc][0] - 1e-12:
                    nxt[total + kc] = (value, kc)
        reach.append(nxt)
    if k not in reach[-1]:
        reasons = "; ".join(r for _, r in options if r)
        lo = sum(min(ok) for ok, _ in options)
        hi = sum(max(ok) for ok, _ in options)
        amounts["parts"] = float(max(lo - k, k - hi, 1))
        raise Infeasible(
            f"the {ncomp} connected component(s) can hold between {lo} and {hi} balanced parts "
            f"in total, not k = {k}" + (f" ({reasons})" if reasons else ""),
            amounts,
        )
    counts = []
    total = k
    for c in range(ncomp, 0, -1):
        kc = reach[c][total][1]
        counts.append(kc)
        total -= kc
    counts.reverse()
    return [(m, kc) for m, kc in zip(members, counts, strict=True)]


# --------------------------------------------------------------------------------------------
# evaluation and verification
# --------------------------------------------------------------------------------------------
def _score(inst: _Instance, labels: np.ndarray):
    """Exact objective pieces of a labelling 0..k-1 (no feasibility check)."""
    k = inst.k
    comps = np.zeros(k)
    centres = np.zeros(k, dtype=np.int64)
    weights = np.zeros(k)
    means = np.zeros(k) if inst.a is not None else None
    for p in range(k):
        m = np.flatnonzero(labels == p)
        cost = inst.w[m] @ inst.D[np.ix_(m, m)]
        j = int(np.argmin(cost))
        comps[p] = float(cost[j])
        centres[p] = int(m[j])
        weights[p] = float(inst.w[m].sum())
        if means is not None:
            means[p] = float(inst.w[m] @ inst.a[m]) / weights[p] if weights[p] > 0 else 0.0
    c = float(comps.sum())
    imb = float(means.max() - means.min()) if means is not None else 0.0
    obj = inst.alpha * c / inst.total + inst.beta * imb
    return obj, c, imb, centres, weights, means


def _problems(inst: _Instance, labels: np.ndarray, graph: nx.Graph) -> list[str]:
    out = []
    k = inst.k
    if labels.shape != (inst.n,) or labels.min() < 0 or labels.max() >= k:
        return [f"labels must be 0..{k - 1} for every node"]
    for p in range(k):
        m = np.flatnonzero(labels == p)
        if m.size == 0:
            out.append(f"part {p} is empty")
            continue
        sub = graph.subgraph([inst.nodes[t] for t in m])
        if not nx.is_connected(sub):
            out.append(f"part {p} is not connected ({nx.number_connected_components(sub)} pieces)")
        wp = float(inst.w[m].sum())
        slack = 1e-9 * max(1.0, inst.upper)
        if wp < inst.lower - slack or wp > inst.upper + slack:
            out.append(f"part {p} weighs {wp:.6g}, outside {inst.lower:.6g}..{inst.upper:.6g}")
        if inst.need_anchor and not inst.anchor[m].any():
            out.append(f"part {p} has no anchor")
        if inst.far is not None:
            bad = np.argwhere(inst.far[np.ix_(m, m)])
            if bad.size:
                u, v = inst.nodes[m[bad[0, 0]]], inst.nodes[m[bad[0, 1]]]
                out.append(f"part {p} holds {u!r} and {v!r}, which may not share a part")
    return out


def _conflict_matrix(inst: _Instance, conflicts) -> np.ndarray | None:
    """Symmetric boolean matrix of the node pairs that may not share a part (None: no pair)."""
    index = {v: t for t, v in enumerate(inst.nodes)}
    far = np.zeros((inst.n, inst.n), dtype=bool)
    for pair in conflicts:
        try:
            u, v = pair
        except (TypeError, ValueError):
            raise ValueError(f"conflicts: expected pairs of nodes, got {pair!r}") from None
        if u not in index or v not in index:
            missing = u if u not in index else v
            raise ValueError(f"conflicts: node {missing!r} is not in the graph")
        if u == v:
            raise ValueError(f"conflicts: node {u!r} is paired with itself")
        far[index[u], index[v]] = far[index[v], index[u]] = True
    return far if far.any() else None


def _conflict_count(inst: _Instance, labels: np.ndarray) -> int:
    """Pairs of nodes that may not share a part but do."""
    if inst.far is None:
        return 0
    total = 0
    for p in range(inst.k):
        m = np.flatnonzero(labels == p)
        total += int(inst.far[np.ix_(m, m)].sum())
    return total // 2


def _canonical(labels: np.ndarray, k: int) -> np.ndarray:
    order = {}
    for p in labels.tolist():
        if p not in order:
            order[p] = len(order)
            if len(order) == k:
                break
    return np.array([order[p] for p in labels.tolist()], dtype=np.int64)


def _result(
    inst, labels, graph, method, status, bound, gap, t0, starts, info, notes=()
) -> Partition:
    labels = _canonical(labels, inst.k)
    problems = _problems(inst, labels, graph)
    if problems:
        raise SolverError(
            f"the {method} partition violates the model: " + "; ".join(problems[:5]), info
        )
    obj, c, imb, centres, weights, means = _score(inst, labels)
    parts = tuple(tuple(inst.nodes[t] for t in np.flatnonzero(labels == p)) for p in range(inst.k))
    return Partition(
        assignment={inst.nodes[t]: int(labels[t]) for t in range(inst.n)},
        parts=parts,
        centres=tuple(inst.nodes[int(c_)] for c_ in centres),
        weights=tuple(float(x) for x in weights),
        means=None if means is None else tuple(float(x) for x in means),
        compactness=c,
        mean_distance=c / inst.total,
        imbalance=imb,
        objective=obj,
        method=method,
        status=status,
        bound=bound,
        gap=gap,
        lower=inst.lower,
        upper=inst.upper,
        seconds=time.perf_counter() - t0,
        starts=starts,
        solve_info=info,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------
# heuristic
# --------------------------------------------------------------------------------------------
class _Search:
    """State of one local search: labels plus per-part sums kept up to date move by move."""

    def __init__(self, inst: _Instance, rng: np.random.Generator, deadline: float):
        self.inst = inst
        self.rng = rng
        self.deadline = deadline
        n, k = inst.n, inst.k
        self.wa = inst.w * inst.a if inst.a is not None else np.zeros(n)
        self.wD = inst.w[:, None] * inst.D  # row i: w_i * d(i, .)
        self.labels = np.zeros(n, dtype=np.int64)
        self.plist = [0] * n
        self.member = np.zeros((k, n), dtype=bool)
        self.cost = np.zeros((k, n))
        self.Wp = np.zeros(k)
        self.Sp = np.zeros(k)
        self.size = np.zeros(k, dtype=np.int64)
        self.nanch = np.zeros(k, dtype=np.int64)
        self.comp = np.zeros(k)
        self.nconf = np.zeros(k, dtype=np.int64)  # pairs that may not share a part, per part
        # directed arcs for boundary detection
        self.au = np.concatenate([inst.eu, inst.ev])
        self.av = np.concatenate([inst.ev, inst.eu])
        self.mean = _inst_mean(inst)
        # a pair that may not share a part costs more than any objective can differ
        self.penalty = 0.0
        if inst.far is not None:
            spread = float(inst.a.max() - inst.a.min()) if inst.a is not None else 0.0
            finite = inst.D[np.isfinite(inst.D)]
            self.penalty = 10.0 * (inst.alpha * float(finite.max()) + inst.beta * spread) + 1.0
        self._local = np.full(n, -1, dtype=np.int64)
        self.version = np.zeros(k, dtype=np.int64)  # bumped whenever a part changes
        self.tried = {}  # (p, q) -> versions at the last failed recombination

    # ---- state ---------------------------------------------------------------------------
    def load(self, labels: np.ndarray) -> None:
        inst = self.inst
        self.labels = labels.astype(np.int64).copy()
        self.plist = self.labels.tolist()
        for p in range(inst.k):
            self._refresh(p)
        self.version += 1

    def snapshot(self):
        return self.labels.copy(), self.version.copy(), dict(self.tried)

    def restore(self, snap) -> None:
        labels, version, tried = snap
        self.load(labels)
        self.version = version.copy()
        self.tried = dict(tried)

    def _refresh(self, p: int) -> None:
        m = np.flatnonzero(self.labels == p)
        inst = self.inst
        self.member[p] = False
        self.member[p, m] = True
        self.cost[p] = self.wD[m].sum(axis=0)
        self.Wp[p] = inst.w[m].sum()
        self.Sp[p] = self.wa[m].sum()
        self.size[p] = m.size
        self.nanch[p] = int(inst.anchor[m].sum())
        self.comp[p] = self.cost[p][m].min() if m.size else 0.0
        if inst.far is not None:
            self.nconf[p] = int(inst.far[np.ix_(m, m)].sum()) // 2

    def means(self, Wp=None, Sp=None) -> np.ndarray:
        Wp = self.Wp if Wp is None else Wp
        Sp = self.Sp if Sp is None else Sp
        return Sp / np.where(Wp > 0, Wp, 1.0)

    def value(self) -> tuple[float, float]:
        """(objective, secondary): secondary is the weighted spread of part means."""
        inst = self.inst
        obj = inst.alpha * self.comp.sum() / inst.total
        sec = 0.0
        if inst.beta > 0:
            mu = self.means()
            obj += inst.beta * (mu.max() - mu.min())
            sec = float(self.Wp @ (mu - self.mean) ** 2) / inst.total
        if self.penalty:
            obj += self.penalty * int(self.nconf.sum())
        return float(obj), sec

    def violation(self) -> float:
        """Balance violation (weight units) plus ``upper`` per pair that may not share a part."""
        inst = self.inst
        out = self.balance_violation()
        if inst.far is not None:
            out += inst.upper * int(self.nconf.sum())
        return out

    def balance_violation(self) -> float:
        inst = self.inst
        return float(
            np.maximum(self.Wp - inst.upper, 0).sum() + np.maximum(inst.lower - self.Wp, 0).sum()
        )

    def move(self, i: int, q: int) -> None:
        p = self.plist[i]
        inst = self.inst
        if inst.far is not None:
            self.nconf[p] -= int((inst.far[i] & self.member[p]).sum())
            self.nconf[q] += int((inst.far[i] & self.member[q]).sum())
        self.labels[i] = q
        self.plist[i] = q
        self.member[p, i] = False
        self.member[q, i] = True
        self.cost[p] -= self.wD[i]
        self.cost[q] += self.wD[i]
        self.Wp[p] -= inst.w[i]
        self.Wp[q] += inst.w[i]
        self.Sp[p] -= self.wa[i]
        self.Sp[q] += self.wa[i]
        self.size[p] -= 1
        self.size[q] += 1
        if inst.anchor[i]:
            self.nanch[p] -= 1
            self.nanch[q] += 1
        for r in (p, q):
            self.comp[r] = self.cost[r][self.member[r]].min()
            self.version[r] += 1

    # ---- growth --------------------------------------------------------------------------
    def seeds(self, allocation, weighted: bool = False) -> list[int]:
        """k-means++ seeds per component: each next seed is drawn with probability proportional
        to its squared distance to the nearest seed (times its weight when ``weighted``, which
        puts more seeds where the weight is, e.g. among the large schools of a town)."""
        inst = self.inst
        seeds = []
        for members, kc in allocation:
            m = np.asarray(members)
            pool = m[inst.anchor[m]] if inst.need_anchor else m
            pw = inst.w[pool] + 1e-9 * max(float(inst.w[pool].max()), 1e-9)
            if weighted:
                first = int(pool[self.rng.choice(pool.size, p=pw / pw.sum())])
            else:
                first = int(pool[self.rng.integers(pool.size)])
            chosen = [first]
            dmin = inst.D[first, pool].copy()
            while len(chosen) < kc:
                p = dmin**2 * (pw if weighted else 1.0)
                if p.sum() <= 0:
                    free = np.flatnonzero(~np.isin(pool, chosen))
                    nxt = int(pool[free[self.rng.integers(free.size)]])
                else:
                    nxt = int(pool[self.rng.choice(pool.size, p=p / p.sum())])
                chosen.append(nxt)
                dmin = np.minimum(dmin, inst.D[nxt, pool])
            seeds.extend(chosen)
        return seeds

    def grow(self, seeds: list[int], randomness: float = 0.0) -> np.ndarray:
        """Grow parts from the seeds: the lightest part takes its nearest free neighbour.

        With ``randomness > 0`` part weights and distances are blurred by random factors in
        ``[1, 1 + randomness]``, so later starts grow different shapes.
        """
        inst = self.inst
        n = inst.n
        labels = np.full(n, -1, dtype=np.int64)
        weight = np.zeros(len(seeds))
        heaps = [[] for _ in seeds]
        noise = 1 + randomness * self.rng.random(n)
        tie = self.rng.random(n) * 1e-9
        for p, s in enumerate(seeds):
            labels[s] = p
            weight[p] = inst.w[s]
        for p, s in enumerate(seeds):
            for u in inst.adj[s]:
                heapq.heappush(heaps[p], (inst.D[seeds[p], u] * noise[u] + tie[u], u))
        left = n - len(seeds)
        order = list(range(len(seeds)))
        blur = 1 + randomness * self.rng.random(len(seeds))
        far = inst.far
        strict = far is not None  # parts pass over nodes they may not hold while others can
        deferred = [[] for _ in seeds]
        while left:
            order.sort(key=lambda r: (weight[r] * blur[r], r))
            grown = False
            for p in order:
                h = heaps[p]
                while h and (labels[h[0][1]] >= 0 or (strict and far[h[0][1], labels == p].any())):
                    item = heapq.heappop(h)
                    if labels[item[1]] < 0:
                        deferred[p].append(item)
                if not h:
                    continue
                _, u = heapq.heappop(h)
                labels[u] = p
                weight[p] += inst.w[u]
                left -= 1
                for x in inst.adj[u]:
                    if labels[x] < 0:
                        heapq.heappush(h, (inst.D[seeds[p], x] * noise[x] + tie[x], x))
                grown = True
                break
            if not grown and strict:
                # every free neighbour conflicts with its part: take them anyway, repair later
                strict = False
                for p, items in enumerate(deferred):
                    for item in items:
                        heapq.heappush(heaps[p], item)
                continue
            if not grown:  # cannot happen on components that each hold a seed
                raise RuntimeError("region growing stalled")
        return labels

    # ---- connectivity --------------------------------------------------------------------
    def stays_connected(self, i: int) -> bool:
        """Does part(i) minus i stay connected? Interleaved searches from i's neighbours."""
        p = self.plist[i]
        pl = self.plist
        adj = self.inst.adj
        nb = [u for u in adj[i] if pl[u] == p]
        if len(nb) <= 1:
            return True
        # union-find over searches started at each neighbour: stop once all merged
        owner = {u: t for t, u in enumerate(nb)}
        parent = list(range(len(nb)))

        def find(t):
            while parent[t] != t:
                parent[t] = parent[parent[t]]
                t = parent[t]
            return t

        groups = len(nb)
        queues = [deque([u]) for u in nb]
        active = list(range(len(nb)))
        while groups > 1:
            progressed = False
            for t in active:
                q = queues[t]
                if not q:
                    continue
                progressed = True
                x = q.popleft()
                for y in adj[x]:
                    if y == i or pl[y] != p:
                        continue
                    o = owner.get(y)
                    if o is None:
                        owner[y] = t
                        q.append(y)
                    else:
                        a_, b_ = find(o), find(t)
                        if a_ != b_:
                            parent[a_] = b_
                            groups -= 1
                            if groups == 1:
                                return True
            if not progressed:
                return False
            # a search that has exhausted its queue while still separate proves a split
            roots = {}
            for t in range(len(nb)):
                r = find(t)
                roots.setdefault(r, False)
                if queues[t]:
                    roots[r] = True
            if any(not alive for alive in roots.values()):
                return False
        return True

    # ---- single-node moves ---------------------------------------------------------------
    def candidates(self):
        lab = self.labels
        cross = lab[self.au] != lab[self.av]
        i = self.au[cross]
        q = lab[self.av[cross]]
        if i.size == 0:
            return i, q
        key = np.unique(i * self.inst.k + q)
        return key // self.inst.k, key % self.inst.k

    def evaluate(self, ii, Q):
        """Exact objective, secondary and violation after each single move (ii[t] -> Q[t])."""
        inst = self.inst
        P = self.labels[ii]
        w_ii = inst.w[ii]
        m = ii.size
        rows = np.arange(m)
        # compactness, over each part's members only (padded index table, sentinel column n)
        n = inst.n
        memb = self._members_table()
        colP = memb[P]  # m x width
        costx = np.concatenate([self.cost, np.full((inst.k, 1), np.inf)], axis=1)
        wDx = np.concatenate([self.wD, np.zeros((n, 1))], axis=1)
        vals = costx[P[:, None], colP] - wDx[ii[:, None], colP]
        vals[colP == ii[:, None]] = np.inf
        compP = vals.min(axis=1)
        compP[~np.isfinite(compP)] = 0.0
        colQ = memb[Q]
        valsQ = costx[Q[:, None], colQ] + wDx[ii[:, None], colQ]
        compQ = np.minimum(valsQ.min(axis=1), self.cost[Q, ii])  # i as the new centre
        total_comp = self.comp.sum() - self.comp[P] - self.comp[Q] + compP + compQ
        obj = inst.alpha * total_comp / inst.total
        sec = np.zeros(m)
        Wp = np.tile(self.Wp, (m, 1))
        Wp[rows, P] -= w_ii
        Wp[rows, Q] += w_ii
        if inst.beta > 0:
            Sp = np.tile(self.Sp, (m, 1))
            Sp[rows, P] -= self.wa[ii]
            Sp[rows, Q] += self.wa[ii]
            mu = Sp / np.where(Wp > 0, Wp, 1.0)
            obj = obj + inst.beta * (mu.max(axis=1) - mu.min(axis=1))
            sec = ((Wp * (mu - self.mean) ** 2).sum(axis=1)) / inst.total
        viol = np.maximum(Wp - inst.upper, 0).sum(axis=1) + np.maximum(inst.lower - Wp, 0).sum(
            axis=1
        )
        if inst.far is not None:
            fi = inst.far[ii]
            delta = (fi & self.member[Q]).sum(axis=1) - (fi & self.member[P]).sum(axis=1)
            after = int(self.nconf.sum()) + delta
            viol = viol + inst.upper * after
            obj = obj + self.penalty * after
        return obj, sec, viol

    def _members_table(self) -> np.ndarray:
        """k x width table of each part's members, padded with the sentinel ``n``."""
        n, k = self.inst.n, self.inst.k
        order = np.argsort(self.labels, kind="stable")
        counts = np.bincount(self.labels, minlength=k)
        width = int(counts.max())
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        table = np.full((k, width), n, dtype=np.int64)
        pos = np.arange(n) - np.repeat(starts, counts)
        table[self.labels[order], pos] = order
        return table

    def allowed(self, ii, Q, balanced: bool):
        inst = self.inst
        P = self.labels[ii]
        ok = self.size[P] > 1
        if inst.need_anchor:
            ok &= ~(inst.anchor[ii] & (self.nanch[P] <= 1))
        if balanced:
            slack = 1e-9 * max(1.0, inst.upper)
            ok &= self.Wp[P] - inst.w[ii] >= inst.lower - slack
            ok &= self.Wp[Q] + inst.w[ii] <= inst.upper + slack
        return ok

    def local_search(self, balanced: bool) -> bool:
        """Apply improving single moves until none is left; True if anything changed."""
        changed = False
        chunk = max(1, 2_000_000 // max(self.inst.n, 1))
        while time.perf_counter() < self.deadline:
            ii, Q = self.candidates()
            if ii.size == 0:
                break
            keep = self.allowed(ii, Q, balanced)
            ii, Q = ii[keep], Q[keep]
            if ii.size == 0:
                break
            obj0, sec0 = self.value()
            viol0 = self.violation()
            objs, secs, viols = [], [], []
            for s in range(0, ii.size, chunk):
                o, se, vi = self.evaluate(ii[s : s + chunk], Q[s : s + chunk])
                objs.append(o)
                secs.append(se)
                viols.append(vi)
            obj, sec, viol = np.concatenate(objs), np.concatenate(secs), np.concatenate(viols)
            tol = 1e-10 * max(1.0, abs(obj0))
            if balanced:
                better = (obj < obj0 - tol) | ((obj <= obj0 + tol) & (sec < sec0 - 1e-12))
                keyv = obj
            else:
                better = viol < viol0 - 1e-9 * max(1.0, self.inst.upper)
                keyv = viol
            idx = np.flatnonzero(better)
            if idx.size == 0:
                break
            order = idx[np.lexsort((sec[idx], obj[idx], keyv[idx]))]
            touched = set()
            moved = 0
            for t in order.tolist():
                i, q = int(ii[t]), int(Q[t])
                p = self.plist[i]
                if p in touched or q in touched:
                    continue  # stale evaluation; the next round sees the new state
                if moved:
                    # the imbalance term couples all parts: re-check against the current state
                    o1, s1, v1 = self.evaluate(ii[t : t + 1], Q[t : t + 1])
                    cur_obj, cur_sec = self.value()
                    tol = 1e-10 * max(1.0, abs(cur_obj))
                    if balanced:
                        still = o1[0] < cur_obj - tol or (
                            o1[0] <= cur_obj + tol and s1[0] < cur_sec - 1e-12
                        )
                    else:
                        still = v1[0] < self.violation() - 1e-9 * max(1.0, self.inst.upper)
                    if not still:
                        continue
                if not self.stays_connected(i):
                    continue
                self.move(i, q)
                touched.update((p, q))
                moved += 1
            if moved == 0:
                break
            changed = True
        return changed

    # ---- recombination -------------------------------------------------------------------
    def part_pairs(self):
        lab = self.labels
        pu, pv = lab[self.inst.eu], lab[self.inst.ev]
        cross = pu != pv
        a_ = np.minimum(pu[cross], pv[cross])
        b_ = np.maximum(pu[cross], pv[cross])
        if a_.size == 0:
            return []
        key = np.unique(a_ * self.inst.k + b_)
        return [(int(x // self.inst.k), int(x % self.inst.k)) for x in key]

    def _pair_graph(self, p: int, q: int):
        """Nodes of parts p and q (global ids) and their internal edges (local ids) as CSR."""
        inst = self.inst
        nodes = np.flatnonzero((self.labels == p) | (self.labels == q))
        local = self._local
        local[nodes] = np.arange(nodes.size)
        inside = (local[inst.eu] >= 0) & (local[inst.ev] >= 0)
        lu, lv = local[inst.eu[inside]], local[inst.ev[inside]]
        local[nodes] = -1
        s = nodes.size
        mat = sp.csr_matrix((np.ones(lu.size), (lu, lv)), shape=(s, s))
        return nodes, mat

    def _trees(self, mat: sp.csr_matrix, count: int):
        """Random spanning trees (minimum spanning trees under random edge weights).

        Yields ``(order, parent, size)``: a preorder (every subtree contiguous), parents and
        subtree sizes.
        """
        s = mat.shape[0]
        for _ in range(count):
            mat.data = self.rng.random(mat.data.size) + 0.5
            tree = minimum_spanning_tree(mat).tocoo()
            if tree.nnz != s - 1:
                return
            nbrs = [[] for _ in range(s)]
            for u, v in zip(tree.row.tolist(), tree.col.tolist(), strict=True):
                nbrs[u].append(v)
                nbrs[v].append(u)
            root = int(self.rng.integers(s))
            yield _tree_order(nbrs, root)

    def recombine(self, p: int, q: int, trees: int, force: bool = False) -> bool:
        """Re-split parts p and q along the best balanced cut of random spanning trees.

        The cut is applied when it improves (objective, secondary); with ``force`` the best
        balanced cut found is applied regardless (used to repair balance).
        """
        inst = self.inst
        nodes, mat = self._pair_graph(p, q)
        s = nodes.size
        W2 = float(self.Wp[p] + self.Wp[q])
        S2 = float(self.Sp[p] + self.Sp[q])
        slack = 1e-9 * max(1.0, inst.upper)
        base_obj, base_sec = self.value()
        comp_rest = self.comp.sum() - self.comp[p] - self.comp[q]
        conflicts_rest = 0
        if inst.far is not None:
            conflicts_rest = int(self.nconf.sum() - self.nconf[p] - self.nconf[q])
        sub_w = inst.w[nodes]
        sub_wa = self.wa[nodes]
        sub_an = inst.anchor[nodes].astype(np.int64)
        total_an = int(sub_an.sum())
        best = None
        colpos = np.arange(s)
        for order, _parent, size in self._trees(mat, trees):
            # subtree of the node at preorder position r: positions r .. r + size - 1
            pw = np.concatenate([[0.0], np.cumsum(sub_w[order])])
            tin = np.arange(1, s)  # cut above every non-root position
            tout = tin + size[order[1:]]
            A = pw[tout] - pw[tin]
            ok = (A >= inst.lower - slack) & (A <= inst.upper + slack)
            ok &= (W2 - A >= inst.lower - slack) & (W2 - A <= inst.upper + slack)
            if inst.need_anchor:
                pa = np.concatenate([[0], np.cumsum(sub_an[order])])
                an = pa[tout] - pa[tin]
                ok &= (an >= 1) & (total_an - an >= 1)
            g = nodes[order]
            if not ok.any():
                continue
            tin, tout, A = tin[ok], tout[ok], A[ok]
            clashes = 0.0
            if inst.far is not None:
                clashes = conflicts_rest + _cut_conflicts(inst.far[np.ix_(g, g)], tin, tout)
            pref = np.vstack([np.zeros(s), np.cumsum(self.wD[np.ix_(g, g)], axis=0)])
            inside = (colpos[None, :] >= tin[:, None]) & (colpos[None, :] < tout[:, None])
            costA = pref[tout] - pref[tin]
            costB = pref[s][None, :] - costA
            compA = np.where(inside, costA, np.inf).min(axis=1)
            compB = np.where(~inside, costB, np.inf).min(axis=1)
            obj = inst.alpha * (comp_rest + compA + compB) / inst.total + self.penalty * clashes
            sec = np.zeros(tin.size)
            if inst.beta > 0:
                pwa = np.concatenate([[0.0], np.cumsum(sub_wa[order])])
                SA = pwa[tout] - pwa[tin]
                Wm = np.tile(self.Wp, (tin.size, 1))
                Sm = np.tile(self.Sp, (tin.size, 1))
                Wm[:, p], Wm[:, q] = A, W2 - A
                Sm[:, p], Sm[:, q] = SA, S2 - SA
                mu = Sm / np.where(Wm > 0, Wm, 1.0)
                obj = obj + inst.beta * (mu.max(axis=1) - mu.min(axis=1))
                sec = (Wm * (mu - self.mean) ** 2).sum(axis=1) / inst.total
            t = int(np.lexsort((sec, obj))[0])
            cand = (float(obj[t]), float(sec[t]))
            if best is None or cand < best[0]:
                best = (cand, g[tin[t] : tout[t]])
        if best is None:
            return False
        (obj, sec), sideA = best
        tol = 1e-10 * max(1.0, abs(base_obj))
        if force or obj < base_obj - tol or (obj <= base_obj + tol and sec < base_sec - 1e-12):
            self.labels[nodes] = q
            self.labels[sideA] = p
            for v in nodes.tolist():
                self.plist[v] = int(self.labels[v])
            self._refresh(p)
            self._refresh(q)
            self.version[p] += 1
            self.version[q] += 1
            return True
        return False

    def recombine_round(self, trees: int) -> bool:
        """Try every pair of neighbouring parts that changed since its last failed attempt."""
        pairs = self.part_pairs()
        self.rng.shuffle(pairs)
        changed = False
        for p, q in pairs:
            if time.perf_counter() >= self.deadline:
                break
            key = (p, q)
            stamp = (int(self.version[p]), int(self.version[q]))
            if self.tried.get(key) == stamp:
                continue
            if self.recombine(p, q, trees):
                changed = True
            else:
                self.tried[key] = stamp
        return changed

    def repair(self, trees: int) -> bool:
        """Re-split each unbalanced part, or one holding a conflicting pair, with a neighbour when
        their union can be split evenly."""
        inst = self.inst
        changed = False
        clash = set(np.flatnonzero(self.nconf > 0).tolist())
        for p, q in self.part_pairs():
            balanced = all(inst.lower <= self.Wp[r] <= inst.upper for r in (p, q))
            if balanced and p not in clash and q not in clash:
                continue
            W2 = self.Wp[p] + self.Wp[q]
            if not (2 * inst.lower <= W2 <= 2 * inst.upper):
                continue
            before = self.violation()
            saved = self.labels.copy()
            if self.recombine(p, q, max(trees, 8), force=True):
                if self.violation() < before - 1e-12:
                    changed = True
                else:
                    self.load(saved)
        return changed


def _cut_conflicts(F: np.ndarray, tin: np.ndarray, tout: np.ndarray) -> np.ndarray:
    """For each cut (positions ``tin..tout-1`` against the rest), the pairs flagged in the
    symmetric boolean matrix ``F`` (in preorder positions) that end on the same side."""
    Fi = F.astype(np.int64)
    S = np.zeros((F.shape[0] + 1, F.shape[0] + 1), dtype=np.int64)
    S[1:, 1:] = Fi.cumsum(axis=0).cumsum(axis=1)
    R = np.concatenate([[0], Fi.sum(axis=1).cumsum()])
    inside = S[tout, tout] - S[tin, tout] - S[tout, tin] + S[tin, tin]
    cross = R[tout] - R[tin] - inside
    outside = int(Fi.sum()) - inside - 2 * cross
    return (inside + outside) // 2


def _tree_order(nbrs: list, root: int):
    """Preorder, parent and subtree size of a tree given as neighbour lists."""
    s = len(nbrs)
    parent = [-1] * s
    order = []
    stack = [root]
    parent[root] = root
    while stack:
        v = stack.pop()
        order.append(v)
        for u in nbrs[v]:
            if parent[u] == -1:
                parent[u] = v
                stack.append(u)
    parent[root] = -1
    size = [1] * s
    for v in reversed(order):
        pv = parent[v]
        if pv >= 0:
            size[pv] += size[v]
    return np.asarray(order, dtype=np.int64), parent, np.asarray(size, dtype=np.int64)


def _inst_mean(inst: _Instance) -> float:
    return float(inst.w @ inst.a) / inst.total if inst.a is not None else 0.0


def _trees(inst: _Instance) -> int:
    """Spanning trees per recombination: more on small graphs, where each one is cheap."""
    return int(min(32, inst.n, max(4, 4000 // inst.n)))


def _improve(search: _Search, trees: int) -> None:
    while time.perf_counter() < search.deadline:
        moved = search.local_search(balanced=True)
        recombined = search.recombine_round(trees)
        if not moved and not recombined:
            break


def _heuristic(
    inst: _Instance,
    allocation,
    seed: int,
    starts: int,
    deadline: float,
    trees: int = 4,
    kicks: int = 10,
):
    """Best valid labelling over ``starts`` starts that reached balance (at most
    ``4 * starts + 8`` tried), or None when none did.

    Each start: k-means++ seeds, region growing, balance repair, improvement to a local
    optimum, then ``kicks`` rounds of iterated local search (re-split a random pair of
    neighbouring parts at a random balanced cut, improve, keep the result only if better).
    """
    best, best_val = None, None
    run = done = 0
    attempts = 4 * starts + 8  # a start that cannot reach balance fails fast: try more of them
    for run in range(1, attempts + 1):
        if done >= starts:
            run -= 1
            break
        rng = np.random.default_rng([seed, run])
        search = _Search(inst, rng, deadline)
        seeds = search.seeds(allocation, weighted=run % 2 == 1)
        search.load(search.grow(seeds, 0.0 if run <= 2 else 0.5))
        if search.violation() > 0:
            for _ in range(50):
                search.local_search(balanced=False)
                if search.violation() <= 0 or time.perf_counter() >= deadline:
                    break
                if not search.repair(trees):
                    break
        if search.balance_violation() > 1e-9 * max(1.0, inst.upper):
            if time.perf_counter() >= deadline:
                break
            continue
        done += 1
        if done % 2 == 0 and inst.alpha > 0 and inst.beta > 0:
            # every other start settles compactness first, then both terms
            plain = _Search(dataclasses.replace(inst, beta=0.0), rng, deadline)
            plain.load(search.labels)
            _improve(plain, trees)
            search.load(plain.labels)
        _improve(search, trees)
        for _ in range(kicks):
            if time.perf_counter() >= deadline:
                break
            pairs = search.part_pairs()
            if not pairs:
                break
            snap = search.snapshot()
            before = search.value()
            p, q = pairs[int(rng.integers(len(pairs)))]
            if not search.recombine(p, q, 1, force=True):
                continue
            _improve(search, trees)
            if not search.value() < before:
                search.restore(snap)
        if _conflict_count(inst, search.labels):
            done -= 1  # pairs that may not share a part still do: the start does not count
            if time.perf_counter() >= deadline:
                break
            continue
        val = search.value()
        if best_val is None or val < best_val:
            best, best_val = search.labels.copy(), val
        if time.perf_counter() >= deadline:
            break
    return best, run


# --------------------------------------------------------------------------------------------
# exact MILP
# --------------------------------------------------------------------------------------------
def _reach_weight(inst: _Instance) -> np.ndarray:
    """R[j, i]: least total node weight on a path from j to i (both ends included)."""
    n = inst.n
    # arc u -> v costs w_v; a tiny floor keeps zero-weight arcs as arcs
    tails = np.concatenate([inst.eu, inst.ev])
    heads = np.concatenate([inst.ev, inst.eu])
    cost = np.maximum(inst.w[heads], 1e-12)
    mat = sp.coo_matrix((cost, (tails, heads)), shape=(n, n)).tocsr()
    R = dijkstra(mat, directed=True)
    R = R + inst.w[:, None]
    np.fill_diagonal(R, inst.w)
    return R


def _prune_by_lp(inst: _Instance, allowed: np.ndarray, v_start: float):
    """Reduced-cost fixing on the LP relaxation of the centre model without contiguity.

    With ``LB`` the LP bound on the compactness term and ``rc`` the reduced cost of ``x_ij``,
    every plan with ``x_ij = 1`` is worth at least ``LB + rc`` (the imbalance term is >= 0), so a
    pair with ``LB + rc > V`` (``V``: the value of a known plan) is in no plan better than it and
    is dropped. A centre whose ``x_jj`` is dropped takes no nodes.
    """
    n, k, w = inst.n, inst.k, inst.w
    jj, ii = np.nonzero(allowed)
    nx_ = ii.size
    xid = -np.ones((n, n), dtype=np.int64)
    xid[ii, jj] = np.arange(nx_)
    diag = xid[np.arange(n), np.arange(n)]
    off = np.flatnonzero(ii != jj)
    m = off.size
    blocks = [
        (ii, np.arange(nx_), np.ones(nx_), np.ones(n), np.ones(n)),  # assign
        (np.zeros(n), diag, np.ones(n), [k], [k]),  # k centres
        (  # x_ij <= x_jj
            np.concatenate([np.arange(m), np.arange(m)]),
            np.concatenate([off, diag[jj[off]]]),
            np.concatenate([np.ones(m), -np.ones(m)]),
            np.full(m, -np.inf),
            np.zeros(m),
        ),
    ]
    for bound, lo, hi in ((inst.upper, -np.inf, 0.0), (inst.lower, 0.0, np.inf)):
        blocks.append(
            (
                np.concatenate([jj, np.arange(n)]),
                np.concatenate([np.arange(nx_), diag]),
                np.concatenate([w[ii], -bound * np.ones(n)]),
                np.full(n, lo),
                np.full(n, hi),
            )
        )
    if inst.need_anchor:
        an = np.flatnonzero(inst.anchor[ii])
        blocks.append(
            (
                np.concatenate([jj[an], np.arange(n)]),
                np.concatenate([an, diag]),
                np.concatenate([np.ones(an.size), -np.ones(n)]),
                np.zeros(n),
                np.full(n, np.inf),
            )
        )
    r_all, c_all, v_all, lo_all, hi_all = [], [], [], [], []
    nrow = 0
    for r, c_, v, lo, hi in blocks:
        size = int(np.size(lo))
        r_all.append(np.asarray(r, dtype=np.int64) + nrow)
        c_all.append(np.asarray(c_, dtype=np.int64))
        v_all.append(np.asarray(v, dtype=float))
        lo_all.append(np.broadcast_to(np.asarray(lo, float), (size,)))
        hi_all.append(np.broadcast_to(np.asarray(hi, float), (size,)))
        nrow += size
    A = sp.csc_matrix(
        (np.concatenate(v_all), (np.concatenate(r_all), np.concatenate(c_all))),
        shape=(nrow, nx_),
    )
    cost = inst.alpha * w[ii] * inst.D[ii, jj] / inst.total
    try:
        sol = solve_matrix(cost, A, np.concatenate(lo_all), np.concatenate(hi_all), 0.0, 1.0, None)
    except (Infeasible, SolverError):
        return allowed, np.ones(n, dtype=bool)
    if sol.info.status != "optimal" or sol.row_duals is None:
        return allowed, np.ones(n, dtype=bool)
    rc = cost - A.T @ sol.row_duals
    lb = float(sol.info.objective)
    slack = 1e-6 * max(1.0, abs(v_start)) + 1e-6 * max(1.0, float(np.abs(rc).max()))
    drop = lb + rc > v_start + slack
    out = allowed.copy()
    out[jj[drop], ii[drop]] = False
    centre_ok = out[np.arange(n), np.arange(n)].copy()
    out[~centre_ok, :] = False
    np.fill_diagonal(out, True)
    return out, centre_ok


def _exact(inst: _Instance, start_labels, options: SolverOptions, lb_compact=None):
    n, k = inst.n, inst.k
    w = inst.w
    R = _reach_weight(inst)
    allowed = R <= inst.upper * (1 + 1e-9) + 1e-9 * n  # allowed[j, i]: i may join centre j
    if inst.alpha == 0:
        allowed &= np.arange(n)[None, :] >= np.arange(n)[:, None]  # centre = first node
    if inst.far is not None:
        allowed &= ~inst.far  # a node never joins a centre it may not share a part with
    np.fill_diagonal(allowed, True)
    centre_ok = np.ones(n, dtype=bool)
    if start_labels is not None and inst.alpha > 0:
        allowed, centre_ok = _prune_by_lp(inst, allowed, _score(inst, start_labels)[0])
    jj, ii = np.nonzero(allowed)  # x variable t: node ii[t] to centre jj[t]
    nx_ = ii.size
    xid = -np.ones((n, n), dtype=np.int64)  # xid[i, j]
    xid[ii, jj] = np.arange(nx_)
    diag = xid[np.arange(n), np.arange(n)]
    cols_c, rows, vals = [], [], []
    row_lo, row_hi, groups = [], [], []
    nrow = 0

    def add_rows(r_idx, c_idx, v, lo, hi, group):
        nonlocal nrow
        rows.append(np.asarray(r_idx, dtype=np.int64) + nrow)
        cols_c.append(np.asarray(c_idx, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))
        m = int(np.size(lo))
        row_lo.append(np.broadcast_to(np.asarray(lo, float), (m,)).copy())
        row_hi.append(np.broadcast_to(np.asarray(hi, float), (m,)).copy())
        groups.extend([group] * m)
        nrow += m

    ncol = nx_
    # assignment: sum_j x_ij = 1
    add_rows(ii, np.arange(nx_), np.ones(nx_), np.ones(n), np.ones(n), "assign")
    # k centres
    add_rows(np.zeros(n), diag, np.ones(n), [k], [k], "parts")
    # x_ij <= x_jj (i != j)
    off = np.flatnonzero(ii != jj)
    m_off = off.size
    add_rows(
        np.concatenate([np.arange(m_off), np.arange(m_off)]),
        np.concatenate([off, diag[jj[off]]]),
        np.concatenate([np.ones(m_off), -np.ones(m_off)]),
        np.full(m_off, -np.inf),
        np.zeros(m_off),
        "centre",
    )
    # balance: L x_jj <= sum_i w_i x_ij <= U x_jj, as two rows per centre
    for sign, lo, hi, bound in ((1, -np.inf, 0.0, inst.upper), (1, 0.0, np.inf, inst.lower)):
        c_idx = np.concatenate([np.arange(nx_), diag])
        r_idx = np.concatenate([jj, np.arange(n)])
        v = np.concatenate([sign * w[ii], -bound * np.ones(n)])
        # the diagonal x_jj appears in both parts: coefficients add up in the sparse matrix
        add_rows(r_idx, c_idx, v, np.full(n, lo), np.full(n, hi), "balance")
    if inst.need_anchor:
        an = np.flatnonzero(inst.anchor[ii])
        add_rows(
            np.concatenate([jj[an], np.arange(n)]),
            np.concatenate([an, diag]),
            np.concatenate([np.ones(an.size), -np.ones(n)]),
            np.zeros(n),
            np.full(n, np.inf),
            "anchor",
        )
    if inst.far is not None:
        # pairs that may not share a part: x_uj + x_vj <= x_jj for every centre j both may join
        pu, pv = np.nonzero(np.triu(inst.far))
        cj, cu, cv = [], [], []
        for j in range(n):
            ok = allowed[j, pu] & allowed[j, pv]
            cj.append(np.full(int(ok.sum()), j))
            cu.append(pu[ok])
            cv.append(pv[ok])
        cj = np.concatenate(cj).astype(np.int64)
        cu = np.concatenate(cu).astype(np.int64)
        cv = np.concatenate(cv).astype(np.int64)
        m_c = cj.size
        if m_c:
            r = np.arange(m_c)
            add_rows(
                np.concatenate([r, r, r]),
                np.concatenate([xid[cu, cj], xid[cv, cj], diag[cj]]),
                np.concatenate([np.ones(m_c), np.ones(m_c), -np.ones(m_c)]),
                np.full(m_c, -np.inf),
                np.zeros(m_c),
                "apart",
            )
    # flows: for centre j, arcs (u, v) with both ends allowed for j and v != j
    tails = np.concatenate([inst.eu, inst.ev])
    heads = np.concatenate([inst.ev, inst.eu])
    fj, fu, fv = [], [], []
    for j in range(n):
        ok = allowed[j, tails] & allowed[j, heads] & (heads != j)
        fj.append(np.full(int(ok.sum()), j))
        fu.append(tails[ok])
        fv.append(heads[ok])
    fj = np.concatenate(fj).astype(np.int64)
    fu = np.concatenate(fu).astype(np.int64)
    fv = np.concatenate(fv).astype(np.int64)
    nf = fj.size
    f0 = ncol
    ncol += nf
    nj = allowed.sum(axis=1)  # nodes that may join j
    # conservation rows for (i, j), i != j allowed: in - out - x_ij = 0 ; row index = off position
    rowpos = -np.ones((n, n), dtype=np.int64)
    rowpos[ii[off], jj[off]] = np.arange(m_off)
    in_rows = rowpos[fv, fj]
    out_rows = rowpos[fu, fj]
    has_out = out_rows >= 0  # tail is not the centre
    add_rows(
        np.concatenate([in_rows, out_rows[has_out], np.arange(m_off)]),
        np.concatenate([f0 + np.arange(nf), f0 + np.flatnonzero(has_out), off]),
        np.concatenate([np.ones(nf), -np.ones(int(has_out.sum())), -np.ones(m_off)]),
        np.zeros(m_off),
        np.zeros(m_off),
        "contiguity",
    )
    # capacity: inflow <= (n_j - 1) x_ij
    add_rows(
        np.concatenate([in_rows, np.arange(m_off)]),
        np.concatenate([f0 + np.arange(nf), off]),
        np.concatenate([np.ones(nf), -(nj[jj[off]] - 1).astype(float)]),
        np.full(m_off, -np.inf),
        np.zeros(m_off),
        "contiguity",
    )
    c = np.zeros(ncol)
    c[:nx_] = inst.alpha * w[ii] * inst.D[ii, jj] / inst.total
    col_lo = np.zeros(ncol)
    col_hi = np.concatenate([np.ones(nx_), np.full(nf, np.inf)])
    col_hi[diag[~centre_ok]] = 0.0
    integ = np.concatenate([np.ones(nx_, bool), np.zeros(nf, bool)])
    use_imb = inst.beta > 0
    if use_imb:
        amin = float(inst.a.min())
        a = inst.a - amin
        A = max(float(a.max()), 1e-12)
        mu_bar = min(max(_inst_mean(inst) - amin, 0.0), A)
        # The largest part mean is at least the overall mean and the smallest at most it. With a
        # start of value V, a better plan has imbalance at most (V - LB) / beta, LB a lower bound
        # on the compactness term (the LP relaxation without the imbalance term).
        dmax = A
        if start_labels is not None:
            base = sp.csc_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_c))),
                shape=(nrow, ncol),
            )
            relax = solve_matrix(
                c,
                base,
                np.concatenate(row_lo),
                np.concatenate(row_hi),
                col_lo,
                col_hi,
                None,
                options=SolverOptions(solver="highs", time_limit=options.time_limit),
            )
            v_start = _score(inst, start_labels)[0]
            lb_c = relax.info.objective if relax.info.status == "optimal" else 0.0
            if lb_compact is not None:
                lb_c = max(lb_c, lb_compact)
            dmax = min(A, max(0.0, (v_start - lb_c) / inst.beta) * (1 + 1e-7) + 1e-9 * A)
        M_lo, M_hi = mu_bar, min(A, mu_bar + dmax)
        m_lo, m_hi = max(0.0, mu_bar - dmax), mu_bar
        M_col, m_col = ncol, ncol + 1
        z0 = ncol + 2
        y0 = z0 + nx_
        ncol = y0 + nx_
        t = np.arange(nx_)
        # z = M x (McCormick upper envelope): z - M - M_lo x <= -M_lo ; z - M_hi x <= 0
        add_rows(
            np.concatenate([t, t, t]),
            np.concatenate([z0 + t, np.full(nx_, M_col), t]),
            np.concatenate([np.ones(nx_), -np.ones(nx_), -M_lo * np.ones(nx_)]),
            np.full(nx_, -np.inf),
            np.full(nx_, -M_lo),
            "imbalance",
        )
        add_rows(
            np.concatenate([t, t]),
            np.concatenate([z0 + t, t]),
            np.concatenate([np.ones(nx_), -M_hi * np.ones(nx_)]),
            np.full(nx_, -np.inf),
            np.zeros(nx_),
            "imbalance",
        )
        # y = m x (lower envelope): y - m - m_hi x >= -m_hi ; y - m_lo x >= 0
        add_rows(
            np.concatenate([t, t, t]),
            np.concatenate([y0 + t, np.full(nx_, m_col), t]),
            np.concatenate([np.ones(nx_), -np.ones(nx_), -m_hi * np.ones(nx_)]),
            np.full(nx_, -m_hi),
            np.full(nx_, np.inf),
            "imbalance",
        )
        add_rows(
            np.concatenate([t, t]),
            np.concatenate([y0 + t, t]),
            np.concatenate([np.ones(nx_), -m_lo * np.ones(nx_)]),
            np.zeros(nx_),
            np.full(nx_, np.inf),
            "imbalance",
        )
        # per centre: sum_i w_i a_i x_ij - sum_i w_i z_ij <= 0 ; ... - sum_i w_i y_ij >= 0
        add_rows(
            np.concatenate([jj, jj]),
            np.concatenate([t, z0 + t]),
            np.concatenate([w[ii] * a[ii], -w[ii]]),
            np.full(n, -np.inf),
            np.zeros(n),
            "imbalance",
        )
        add_rows(
            np.concatenate([jj, jj]),
            np.concatenate([t, y0 + t]),
            np.concatenate([w[ii] * a[ii], -w[ii]]),
            np.zeros(n),
            np.full(n, np.inf),
            "imbalance",
        )
        # M - m <= dmax
        add_rows([0, 0], [M_col, m_col], [1.0, -1.0], [-np.inf], [dmax], "imbalance")
        c = np.concatenate([c, [inst.beta, -inst.beta], np.zeros(2 * nx_)])
        col_lo = np.concatenate([col_lo, [M_lo, m_lo], np.zeros(2 * nx_)])
        col_hi = np.concatenate([col_hi, [M_hi, m_hi], np.full(2 * nx_, np.inf)])
        integ = np.concatenate([integ, np.zeros(2 + 2 * nx_, bool)])
    Amat = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_c))), shape=(nrow, ncol)
    )
    start = None
    if start_labels is not None:
        start = _start_vector(inst, start_labels, xid, nx_, f0, fj, fu, fv, ncol, use_imb)
    try:
        sol = solve_matrix(
            c,
            Amat,
            np.concatenate(row_lo),
            np.concatenate(row_hi),
            col_lo,
            col_hi,
            integ,
            options=options,
            row_groups=groups,
            start=start,
        )
    except Infeasible as exc:
        raise Infeasible(
            f"no partition into {k} connected parts of weight {inst.lower:.6g}..{inst.upper:.6g}"
            + (" with an anchor each" if inst.need_anchor else "")
            + " exists (proven by the MILP; "
            + (exc.message if exc.violations else "integrality makes it impossible")
            + ")",
            exc.violations or {"parts": float(k)},
        ) from exc
    x = binary_values(sol.x[:nx_])
    labels = -np.ones(n, dtype=np.int64)
    centres = {int(j): p for p, j in enumerate(np.flatnonzero(x[diag]))}
    if len(centres) != k:
        raise SolverError(f"the MILP returned {len(centres)} centres instead of {k}", sol.info)
    for t in np.flatnonzero(x):
        if labels[ii[t]] >= 0:
            raise SolverError(f"the MILP put node {inst.nodes[ii[t]]!r} in two parts", sol.info)
        labels[ii[t]] = centres[int(jj[t])]
    if (labels < 0).any():
        raise SolverError("the MILP left a node without a part", sol.info)
    return labels, sol.info


def _start_vector(inst, labels, xid, nx_, f0, fj, fu, fv, ncol, use_imb):
    k = inst.k
    x0 = np.zeros(ncol)
    _, _, _, centres, weights, means = _score(inst, labels)
    if inst.alpha == 0:
        centres = np.array([int(np.flatnonzero(labels == p)[0]) for p in range(k)])
    arc = {(int(j), int(u), int(v)): t for t, (j, u, v) in enumerate(zip(fj, fu, fv, strict=True))}
    for p in range(k):
        j = int(centres[p])
        inpart = labels == p
        # BFS tree inside the part; the flow on a tree arc is the size of the subtree below it
        parent = {j: -1}
        order = [j]
        dq = deque([j])
        while dq:
            v = dq.popleft()
            for u in inst.adj[v]:
                if inpart[u] and u not in parent:
                    parent[u] = v
                    order.append(u)
                    dq.append(u)
        size = {v: 1 for v in order}
        for v in order[::-1]:
            if parent[v] >= 0:
                size[parent[v]] += size[v]
        for v in order:
            t = xid[v, j]
            if t < 0:
                return None
            x0[t] = 1.0
            if parent[v] >= 0:
                key = (j, parent[v], v)
                if key not in arc:
                    return None
                x0[f0 + arc[key]] = size[v]
    if use_imb:
        amin = float(inst.a.min())
        mu = np.asarray(means) - amin
        M, m = float(mu.max()), float(mu.min())
        z0 = f0 + fj.size + 2
        x0[f0 + fj.size] = M
        x0[f0 + fj.size + 1] = m
        xs = x0[:nx_]
        x0[z0 : z0 + nx_] = M * xs
        x0[z0 + nx_ : z0 + 2 * nx_] = m * xs
    return x0


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------
def partition(
    graph: nx.Graph,
    k: int,
    weight: str,
    tolerance: float = 0.15,
    anchor: str | Iterable[Hashable] | None = None,
    attribute: str | None = None,
    distance: str | None = "minutes",
    compactness_weight: float = 1.0,
    imbalance_weight: float = 1.0,
    method: str = "auto",
    seed: int = 0,
    starts: int = 8,
    time_limit: float | None = None,
    options: SolverOptions | None = None,
    conflicts: Iterable[tuple[Hashable, Hashable]] | None = None,
) -> Partition:
    """Split a graph into ``k`` connected parts of balanced weight, compact and even in an attribute.

    The model (constraints, objective, the MILP and the heuristic) is stated in the module
    docstring. In short: every part is connected, weighs within ``±tolerance`` of ``W / k``,
    holds an anchor if ``anchor`` is given, and the partition minimises
    ``compactness_weight * C / W + imbalance_weight * I`` (``C / W``: weight-averaged distance to
    the part's centre; ``I``: largest minus smallest weight-weighted part mean of ``attribute``).

    Parameters
    ----------
    graph : networkx.Graph
        Undirected; nodes are the units to group, edges their adjacency.
    k : int
        Number of parts.
    weight : str
        Node attribute with each node's weight (non-negative, e.g. pupils).
    tolerance : float
        Every part weighs between ``(1 - tolerance) W / k`` and ``(1 + tolerance) W / k``.
    anchor : str or iterable of nodes, optional
        Node attribute flagging anchors (truthy values), or the anchor nodes themselves; every
        part must hold at least one.
    attribute : str, optional
        Node attribute whose weight-weighted part means should be even (imbalance term).
    distance : str or None
        Edge attribute with edge lengths, used for shortest-path distances. When no edge has it
        (or ``None``), every edge has length 1.
    compactness_weight, imbalance_weight : float
        Non-negative weights of the two objective terms.
    method : {"auto", "exact", "heuristic"}
        ``auto``: exact up to :data:`EXACT_MAX_NODES` nodes, heuristic above.
    seed : int
        Seed of the heuristic's random choices (also used for the exact method's start).
    starts : int
        Heuristic starts to complete (each: seeding, growth, balance repair, improvement); a
        start whose growth cannot be repaired to balance does not count, up to
        ``4 * starts + 8`` attempts.
    time_limit : float, optional
        Seconds for the whole call. The heuristic stops starting new runs and improving when it
        is reached (then the result may depend on machine speed); the MILP gets what is left and
        reports ``status="feasible"`` with its gap if stopped.
    options : SolverOptions, optional
        Solver settings for the exact method (default: HiGHS, relative gap ``1e-6``).
    conflicts : iterable of (node, node), optional
        Pairs of nodes that may not share a part (e.g. schools too far apart by road).

    Returns
    -------
    Partition
        Verified: connected parts, balance, anchors; ``assignment`` maps node -> part.

    Raises
    ------
    Infeasible
        No valid partition exists (with the reason: too few nodes or anchors, more components
        than parts, a node heavier than a part may be, a cut vertex whose pieces cannot be
        balanced, or the MILP's proof), or the heuristic found none.
    ValueError
        Bad arguments (named in the message).

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.grid_2d_graph(4, 4)
    >>> nx.set_node_attributes(g, 1, "pupils")
    >>> result = partition(g, 4, "pupils", tolerance=0.0, distance=None)
    >>> sorted(result.weights), result.status
    ([4.0, 4.0, 4.0, 4.0], 'optimal')
    >>> result.mean_distance  # four T shapes: three nodes 1 step from the centre
    0.75
    """
    t0 = time.perf_counter()
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if isinstance(starts, bool) or not isinstance(starts, (int, np.integer)) or starts < 1:
        raise ValueError(f"starts must be a positive integer, got {starts!r}")
    if time_limit is not None:
        _positive_number("time_limit", time_limit, allow_zero=False)
    inst = _build(
        graph,
        k,
        weight,
        tolerance,
        anchor,
        attribute,
        distance,
        compactness_weight,
        imbalance_weight,
    )
    if conflicts is not None:
        inst = dataclasses.replace(inst, far=_conflict_matrix(inst, conflicts))
    allocation = _allocate(inst)
    requested = method
    if method == "auto":
        method = "exact" if inst.n <= EXACT_MAX_NODES else "heuristic"
    deadline = t0 + time_limit if time_limit is not None else math.inf
    if method == "heuristic":
        return _heuristic_result(inst, graph, allocation, seed, starts, deadline, t0)
    return _exact_result(
        inst, graph, allocation, seed, starts, deadline, t0, options, fallback=requested == "auto"
    )


def _heuristic_result(inst, graph, allocation, seed, starts, deadline, t0, notes=()) -> Partition:
    labels, runs = _heuristic(inst, allocation, int(seed), int(starts), deadline, _trees(inst))
    if labels is None:
        raise _heuristic_failed(inst, runs)
    return _result(inst, labels, graph, "heuristic", "local", None, None, t0, runs, None, notes)


def _heuristic_failed(inst: _Instance, runs: int) -> Infeasible:
    return Infeasible(
        f"the heuristic found no partition into {inst.k} connected parts of weight "
        f"{inst.lower:.6g}..{inst.upper:.6g}"
        + (" with an anchor each" if inst.need_anchor else "")
        + f" in {runs} start(s); one may still exist (try more starts, a larger "
        "tolerance, or method='exact' on small graphs)",
        {"balanced connected parts": float(inst.k)},
    )


def _exact_result(inst, graph, allocation, seed, starts, deadline, t0, options, fallback):
    """The exact method: heuristic start, MILP stages, and an honest account of the result.

    The returned plan is never worse than the start, and its bound, gap and status are settled
    by :func:`allocator.exact_outcome.settle_exact`. When the MILP stops without a (valid) plan,
    ``fallback`` (``method="auto"``) runs the heuristic for the time left (at least one start),
    keeps the better of its plan and the start, and says so in ``notes``; without ``fallback``
    the start is returned (status ``feasible`` unless a bound proves it), or
    :class:`SolverError` is raised when there is no start.
    """
    heur_deadline = min(deadline, time.perf_counter() + 3.0)
    start, runs = _heuristic(inst, allocation, int(seed), 2, heur_deadline, _trees(inst))
    opts = options or SolverOptions(mip_gap=1e-6)
    notes = []
    if start is None:
        # no plan from the heuristic: settle feasibility first with the objective left out (a much
        # easier model); its Infeasible is a proof, its plan the start of the real solve
        bare = dataclasses.replace(inst, alpha=0.0, beta=0.0)
        try:
            start, _ = _exact(bare, None, _limited(opts, deadline, 0.3))
        except SolverError:
            start = None
        if start is not None and _problems(inst, _canonical(start, inst.k), graph):
            start = None
    lb_compact = None
    if inst.alpha > 0 and inst.beta > 0:
        # stage 1: the compactness term alone (fast, tight) gives a lower bound on it and a
        # second start for the full model
        plain = dataclasses.replace(inst, beta=0.0)
        try:
            labels_c, info_c = _exact(plain, start, _limited(opts, deadline, 0.5))
        except SolverError:
            labels_c, info_c = None, None
        if labels_c is not None and _problems(inst, _canonical(labels_c, inst.k), graph):
            labels_c = None  # an invalid plan is no start
        if info_c is not None:
            if info_c.bound is not None and math.isfinite(info_c.bound):
                # a model cut by the start's value bounds only plans better than the start
                lb_compact = float(info_c.bound)
                if start is not None:
                    lb_compact = min(lb_compact, _score(plain, start)[0])
            better = labels_c is not None and (
                start is None or _score(inst, labels_c)[0] < _score(inst, start)[0]
            )
            if better:
                start = labels_c
    try:
        labels, info = _exact(inst, start, _limited(opts, deadline, 1.0), lb_compact=lb_compact)
    except SolverError as exc:
        labels, info = None, exc.info if isinstance(exc.info, SolveInfo) else None
        notes.append(f"the exact model stopped without a plan ({exc.message})")
    if labels is not None:
        problems = _problems(inst, _canonical(labels, inst.k), graph)
        if problems:
            notes.append("the exact model's plan violates the model: " + "; ".join(problems[:3]))
            labels = None
    if labels is None and (fallback or start is None):
        if not fallback:
            raise SolverError("the exact model stopped without a plan: " + notes[-1], info)
        # method "auto": the heuristic for the time left (at least one start), or its start
        notes.append("method 'auto' fell back to the heuristic")
        more, more_runs = _heuristic(
            inst, allocation, int(seed), int(starts), deadline, _trees(inst)
        )
        found = [x for x in (more, start) if x is not None]
        if not found:
            raise _heuristic_failed(inst, runs + more_runs)
        best = min(found, key=lambda x: _score(inst, x)[0])
        return _result(
            inst, best, graph, "heuristic", "local", None, None, t0, runs + more_runs, None, notes
        )
    start_value = _score(inst, start)[0] if start is not None else None
    outcome = settle_exact(
        _score(inst, labels)[0] if labels is not None else None,
        start_value,
        info.bound if info is not None and labels is not None else None,
        cut_by_start=start is not None,
        other_bounds=(lb_compact,),
        mip_gap=opts.mip_gap,
    )
    notes.extend(outcome.notes)
    chosen = labels if outcome.keep == "plan" else start
    return _result(
        inst,
        chosen,
        graph,
        "exact",
        outcome.status,
        outcome.bound,
        outcome.gap,
        t0,
        runs,
        info,
        notes,
    )


def _limited(opts: SolverOptions, deadline: float, share: float) -> SolverOptions:
    """The solver options with the time limit cut to a share of what is left before deadline."""
    if not math.isfinite(deadline):
        return opts
    left = max((deadline - time.perf_counter()) * share, 0.1)
    limit = left if opts.time_limit is None else min(opts.time_limit, left)
    return dataclasses.replace(opts, time_limit=limit)


def evaluate_partition(
    graph: nx.Graph,
    assignment: dict,
    weight: str,
    attribute: str | None = None,
    distance: str | None = "minutes",
    compactness_weight: float = 1.0,
    imbalance_weight: float = 1.0,
) -> dict:
    """Objective terms of any assignment node -> part (e.g. a plan made elsewhere).

    Parts are the distinct values of ``assignment``; the terms are those of the module docstring.

    Returns
    -------
    dict
        ``objective``, ``compactness``, ``mean_distance``, ``imbalance``.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(4)
    >>> nx.set_node_attributes(g, 1, "w")
    >>> evaluate_partition(g, {0: "a", 1: "a", 2: "b", 3: "b"}, "w", distance=None)["compactness"]
    2.0
    """
    labels_raw = [assignment[v] for v in graph.nodes]
    names = list(dict.fromkeys(labels_raw))
    code = {p: t for t, p in enumerate(names)}
    inst = _build(
        graph,
        len(names),
        weight,
        0.0,
        None,
        attribute,
        distance,
        compactness_weight,
        imbalance_weight,
    )
    obj, c, imb, _, _, _ = _score(inst, np.array([code[p] for p in labels_raw]))
    return {"objective": obj, "compactness": c, "mean_distance": c / inst.total, "imbalance": imb}


def partition_problems(
    graph: nx.Graph,
    assignment: dict,
    k: int,
    weight: str,
    tolerance: float = 0.15,
    anchor: str | Iterable[Hashable] | None = None,
) -> list[str]:
    """What makes an assignment node -> part ``0..k-1`` invalid (empty list: valid).

    Checks: every node assigned, parts ``0..k-1`` non-empty and connected (networkx), part
    weights within tolerance, an anchor in every part when ``anchor`` is given.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(4)
    >>> nx.set_node_attributes(g, 1, "w")
    >>> partition_problems(g, {0: 0, 1: 1, 2: 0, 3: 1}, 2, "w")
    ['part 0 is not connected (2 pieces)', 'part 1 is not connected (2 pieces)']
    """
    missing = [v for v in graph.nodes if v not in assignment]
    if missing:
        return [f"node {missing[0]!r} has no part ({len(missing)} node(s) missing)"]
    inst = _build(graph, k, weight, tolerance, anchor, None, None, 1.0, 0.0)
    labels = np.array([assignment[v] for v in graph.nodes])
    if not np.issubdtype(labels.dtype, np.integer):
        return [f"parts must be integers 0..{k - 1}"]
    return _problems(inst, labels, graph)
