"""Pieces of a county that cannot be districted with the rest: exclaves, by road.

A county's adjacency graph joins its pieces by road links of at most ``max_trip_minutes``
(:mod:`allocator.districting.adjacency`). A piece still apart after that is farther than
``max_trip_minutes`` by road from every other school of its county, so no district may hold it
together with any other school. When such a piece cannot be a district of its own under the
rules (it has no strong school, or fewer pupils than the smallest balanced district), no plan
of the county would exist: the piece is *detached* instead. It becomes a district of its own,
outside the balance and strong-school rules, flagged ``detached`` in the plan's tables with the
reason, and the rest of the county is districted as usual.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

__all__ = ["detached_pieces", "piece_centre"]


def detached_pieces(graph: nx.Graph, first_count: int, tolerance: float) -> list[list]:
    """The pieces of a county graph to district apart (see the module rules).

    Parameters
    ----------
    graph : networkx.Graph
        The county's adjacency graph; nodes carry ``pupils`` and ``strong``.
    first_count : int
        The number of districts tried first for the whole county.
    tolerance : float
        The balance tolerance: a district holds at least ``(1 - tolerance) * W / first_count``.

    Returns
    -------
    list of list
        The detached pieces (node lists in graph order), heaviest first; the heaviest piece of
        the graph is never detached.

    Examples
    --------
    >>> g = nx.Graph([("a", "b"), ("b", "c")])
    >>> g.add_node("x")
    >>> nx.set_node_attributes(g, {"a": 100, "b": 100, "c": 100, "x": 5}, "pupils")
    >>> nx.set_node_attributes(g, {"a": True, "b": False, "c": False, "x": False}, "strong")
    >>> detached_pieces(g, 2, 0.15)
    [['x']]
    """
    order = {v: t for t, v in enumerate(graph.nodes)}
    pieces = [sorted(c, key=order.__getitem__) for c in nx.connected_components(graph)]
    if len(pieces) < 2:
        return []

    def weight(piece):
        return float(sum(graph.nodes[v]["pupils"] for v in piece))

    pieces.sort(key=lambda p: (-weight(p), order[p[0]]))
    total = sum(weight(p) for p in pieces)
    smallest = (1.0 - tolerance) * total / max(first_count, 1)
    return [
        p
        for p in pieces[1:]
        if weight(p) < smallest or not any(graph.nodes[v]["strong"] for v in p)
    ]


def piece_centre(graph: nx.Graph, piece: list):
    """The piece's node with the least pupil-weighted road minutes to the others (first on ties).

    Examples
    --------
    >>> g = nx.path_graph(["a", "b", "c"])
    >>> nx.set_edge_attributes(g, 1.0, "minutes")
    >>> nx.set_node_attributes(g, 1, "pupils")
    >>> piece_centre(g, ["a", "b", "c"])
    'b'
    """
    sub = graph.subgraph(piece)
    best, best_cost = piece[0], np.inf
    for v in piece:
        lengths = nx.single_source_dijkstra_path_length(sub, v, weight="minutes")
        cost = sum(graph.nodes[u]["pupils"] * lengths[u] for u in piece)
        if cost < best_cost - 1e-9:
            best, best_cost = v, cost
    return best
