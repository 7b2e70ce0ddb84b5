"""Shortest road times on a region's road graph, as sparse matrices.

:func:`road_matrix` turns a networkx road graph (edges carrying ``minutes``) into a scipy sparse
matrix once; :func:`shortest_minutes` runs Dijkstra from the smaller side of a source x target
query over unique nodes only, in chunks that bound memory. :class:`~allocator.region.Region`
caches both.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp

from allocator.errors import InputError

__all__ = ["road_matrix", "shortest_minutes", "straight_km_graph", "take_rows"]


def road_matrix(roads: nx.Graph) -> tuple[dict, sp.csr_matrix]:
    """(node -> row number, the graph as a sparse matrix of edge minutes).

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_edge("a", "b", minutes=4.0)
    >>> index, m = road_matrix(g)
    >>> index, m.toarray().tolist()
    ({'a': 0, 'b': 1}, [[0.0, 4.0], [0.0, 0.0]])
    """
    nodes = list(roads.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    u, v, w = [], [], []
    for a, b, data in roads.edges(data=True):
        u.append(index[a])
        v.append(index[b])
        w.append(data["minutes"])
    n = len(nodes)
    # parallel input edges cannot occur in a Graph; Dijkstra runs undirected on this matrix
    return index, sp.coo_matrix((w, (u, v)), shape=(n, n)).tocsr()


def shortest_minutes(
    index: dict,
    graph: sp.csr_matrix,
    sources: Sequence[str],
    targets: Sequence[str],
    cutoff: float | None = None,
) -> sp.csr_matrix:
    """Shortest minutes from each source node to each target node (pairs beyond ``cutoff`` left
    out; a stored entry may be 0, so reachability is the sparsity structure).

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_edge("a", "b", minutes=4.0)
    >>> g.add_edge("b", "c", minutes=5.0)
    >>> index, m = road_matrix(g)
    >>> shortest_minutes(index, m, ["a"], ["b", "c"], cutoff=6).toarray().tolist()
    [[4.0, 0.0]]
    """
    from scipy.sparse.csgraph import dijkstra

    for label, nodes in (("source", sources), ("target", targets)):
        for node in nodes:
            if node not in index:
                raise InputError(
                    f"{label} node {node!r} is not in the road graph", table="roads", value=node
                )
    src = np.array([index[s] for s in sources], dtype=np.int64)
    tgt = np.array([index[t] for t in targets], dtype=np.int64)
    # Run Dijkstra from the smaller side (the graph is undirected) over unique nodes only.
    flip = len(np.unique(tgt)) < len(np.unique(src))
    run_from, run_to = (tgt, src) if flip else (src, tgt)
    uniq, inverse = np.unique(run_from, return_inverse=True)
    limit = np.inf if cutoff is None else float(cutoff)
    rows, cols, vals = [], [], []
    chunk = max(1, int(2e7 // max(graph.shape[0], 1)))
    for start in range(0, len(uniq), chunk):
        block = uniq[start : start + chunk]
        dist = dijkstra(graph, directed=False, indices=block, limit=limit)[:, run_to]
        r, c = np.nonzero(np.isfinite(dist) & (dist <= limit))
        rows.append(r + start)
        cols.append(c)
        vals.append(dist[r, c])
    r = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    v = np.concatenate(vals) if vals else np.zeros(0)
    uniq_matrix = sp.csr_matrix((v, (r, c)), shape=(len(uniq), len(run_to)))
    full = take_rows(uniq_matrix, inverse)
    result = (full.T.tocsr() if flip else full).astype(float)
    result.sort_indices()
    return result


def take_rows(m: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """Row selection that keeps explicit zeros (fancy indexing on csr keeps the structure).

    Examples
    --------
    >>> m = sp.csr_matrix((np.array([0.0, 2.0]), np.array([0, 1]), np.array([0, 1, 2])), shape=(2, 2))
    >>> take_rows(m, np.array([1, 0, 0])).nnz
    3
    """
    lengths = np.diff(m.indptr)[rows]
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    starts = m.indptr[rows]
    take = (
        np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
        if len(rows)
        else np.zeros(0, np.int64)
    )
    return sp.csr_matrix((m.data[take], m.indices[take], indptr), shape=(len(rows), m.shape[1]))


def straight_km_graph(roads: nx.Graph, index: dict, minutes: sp.csr_matrix) -> sp.csr_matrix:
    """The road graph of ``road_matrix(roads)`` (the same stored entries) with each road's length
    in km: the straight line between its two nodes (at least 1e-9, so that every road stays an
    edge), for walking.

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_node("a", x=0.0, y=0.0); g.add_node("b", x=3.0, y=4.0)
    >>> g.add_edge("a", "b", minutes=9.0)
    >>> index, minutes = road_matrix(g)
    >>> straight_km_graph(g, index, minutes).data.tolist()  # the one road, 3-4-5
    [5.0]
    """
    coords = np.zeros((len(index), 2))
    for node, k in index.items():
        d = roads.nodes[node]
        coords[k] = d["x"], d["y"]
    coo = minutes.tocoo()
    km = np.maximum(np.hypot(*(coords[coo.row] - coords[coo.col]).T), 1e-9)
    return sp.csr_matrix((km, (coo.row, coo.col)), shape=minutes.shape)
