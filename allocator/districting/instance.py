"""The districting instance: a graph read into arrays, with the balance bounds.

:func:`build_instance` checks the arguments of :func:`allocator.districting.partition` and turns
the networkx graph into index arrays (nodes ``0..n-1``): node weights, the optional attribute
and anchor flags, the undirected edges, shortest-path distances between every two nodes and the
connected component of each node. Every other module of the package works on an
:class:`Instance`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra


@dataclass
class Instance:
    """A graph as arrays (nodes ``0..n-1`` in graph order) with the partition's bounds.

    ``alpha`` and ``beta`` are the compactness and imbalance weights (``beta`` is 0 without an
    attribute); ``lower`` and ``upper`` the balance bounds ``L`` and ``U``; ``total`` is ``W``.
    """

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
        """Number of nodes."""
        return len(self.nodes)


def positive_number(name, value, allow_zero=True):
    """``value`` as a finite float >= 0 (> 0 unless ``allow_zero``), or ValueError naming it.

    Examples
    --------
    >>> positive_number("tolerance", "0.2")
    0.2
    """
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


def build_instance(graph, k, weight, tolerance, anchor, attribute, distance, cw, iw) -> Instance:
    """Check the arguments of :func:`~allocator.districting.partition` and read the graph.

    ``cw`` and ``iw`` are the compactness and imbalance weights. Raises ValueError naming the
    bad argument.

    Examples
    --------
    >>> import networkx as nx
    >>> g = nx.path_graph(4)
    >>> nx.set_node_attributes(g, 1, "w")
    >>> inst = build_instance(g, 2, "w", 0.0, None, None, None, 1.0, 0.0)
    >>> inst.n, inst.lower, inst.upper, float(inst.D[0, 3])
    (4, 2.0, 2.0, 3.0)
    """
    if not isinstance(graph, nx.Graph) or graph.is_directed():
        raise ValueError(f"graph must be an undirected networkx Graph, got {type(graph).__name__}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    k = int(k)
    tolerance = positive_number("tolerance", tolerance)
    if tolerance >= 1:
        raise ValueError(f"tolerance must be in [0, 1), got {tolerance!r}")
    cw = positive_number("compactness_weight", cw)
    iw = positive_number("imbalance_weight", iw)
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
            length = positive_number(f"edge ({u!r}, {v!r}) {distance}", d[distance])
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
    return Instance(
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


def conflict_matrix(inst: Instance, conflicts) -> np.ndarray | None:
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
