"""Which units are neighbours when zones are drawn: the adjacency graph of units on a road network.

The units stand at road nodes (e.g. schools); a zone (e.g. a school district) never crosses a
group (e.g. a county).

Rules (the same whatever the order or the ids of the units)
-----------------------------------------------------------
Catchments
    Every road node belongs to its nearest unit by road time, over the whole region. A node
    equally near to several units (within ``1e-9`` relative) belongs to all of them: ties are
    never broken by the order of the units. A node reached through a tied node inherits all of
    its owners.
Touching
    Catchments meet at a road node when the node belongs to them or a road joins it to a node
    that does; every two units whose catchments meet at one road node touch. At a road hub
    this links all the catchments its roads reach, whoever owns the hub: the units of two
    townships beyond a county's hub are linked through the hub, not only through the unit
    whose catchment holds it (which would make that unit a cut vertex).
Neighbours
    Two units of the same group are neighbours when they touch or are at most ``near_minutes``
    apart by road, and in both cases at most ``max_minutes`` apart. Units of different groups
    are never neighbours (:func:`unit_graph` is called once per group). A group whose units
    still form several pieces is joined by the shortest road links between the pieces that are
    at most ``max_minutes`` long (Kruskal over pieces; links of equal length are all added);
    pieces farther apart stay apart.
Edges carry the road minutes between the two units.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

__all__ = ["catchment_owners", "touching_pairs", "unit_graph"]

_TIE = 1e-9


def _road_csgraph(roads: nx.Graph):
    nodes = list(roads.nodes)
    index = {str(v): t for t, v in enumerate(nodes)}
    u, v, w = [], [], []
    for a, b, data in roads.edges(data=True):
        u.append(index[str(a)])
        v.append(index[str(b)])
        w.append(float(data["minutes"]))
    return index, np.asarray(u, dtype=np.int64), np.asarray(v, dtype=np.int64), np.asarray(w)


def catchment_owners(roads: nx.Graph, unit_nodes: dict[str, str]) -> dict[str, frozenset]:
    """Road node -> the units whose catchment holds it (every unit at the least time).

    Parameters
    ----------
    roads : networkx.Graph
        The road network (edges carry ``minutes``), e.g. ``region.roads``.
    unit_nodes : dict
        Unit id -> the road node it stands at.

    Returns
    -------
    dict
        Road node (as str) -> frozenset of unit ids; nodes no unit reaches are left out.

    Examples
    --------
    >>> import networkx as nx
    >>> roads = nx.Graph([("a", "h", {"minutes": 1.0}), ("b", "h", {"minutes": 1.0})])
    >>> owners = catchment_owners(roads, {"A": "a", "B": "b"})
    >>> sorted(owners["h"])  # equally near: both own the hub
    ['A', 'B']
    """
    index, eu, ev, w = _road_csgraph(roads)
    n = len(index)
    names = list(index)
    if not unit_nodes:
        return {}
    mat = sp.coo_matrix((np.maximum(w, 1e-12), (eu, ev)), shape=(n, n)).tocsr()
    src = np.unique([index[str(v)] for v in unit_nodes.values()])
    dist = dijkstra(mat, directed=False, indices=src, min_only=True)
    owners: list[set] = [set() for _ in range(n)]
    for sid, node in unit_nodes.items():
        owners[index[str(node)]].add(sid)
    # arcs on which the nearest-unit time grows by exactly the arc's length (tight arcs)
    tails = np.concatenate([eu, ev])
    heads = np.concatenate([ev, eu])
    length = np.concatenate([w, w])
    reach = np.isfinite(dist[tails]) & np.isfinite(dist[heads])
    tol = _TIE * np.maximum(1.0, np.where(reach, dist[heads], 1.0))
    tight = reach & (dist[tails] + length <= dist[heads] + tol) & (dist[heads] > 0)
    order = np.argsort(dist[heads[tight]], kind="stable")
    arcs = list(zip(tails[tight][order].tolist(), heads[tight][order].tolist(), strict=True))
    # owners flow along tight arcs in order of time; repeat until nothing changes (equal times
    # through zero-length roads may need a second pass)
    changed = True
    while changed:
        changed = False
        for t, h in arcs:
            if not owners[t] <= owners[h]:
                owners[h] |= owners[t]
                changed = True
    return {names[t]: frozenset(o) for t, o in enumerate(owners) if o}


def touching_pairs(roads: nx.Graph, unit_nodes: dict[str, str]) -> set[tuple[str, str]]:
    """Pairs ``(a, b)``, ``a < b``, of unit ids whose catchments touch (see the module rules).

    Examples
    --------
    >>> import networkx as nx
    >>> roads = nx.path_graph(["a", "x", "y", "b", "c"])
    >>> nx.set_edge_attributes(roads, 1.0, "minutes")
    >>> sorted(touching_pairs(roads, {"A": "a", "B": "b", "C": "c"}))
    [('A', 'B'), ('B', 'C')]
    >>> hub = nx.star_graph(["h", "a", "b", "c"])  # c is nearest to the hub, a and b meet there
    >>> nx.set_edge_attributes(hub, {("h", "a"): 9, ("h", "b"): 8, ("h", "c"): 1}, "minutes")
    >>> sorted(touching_pairs(hub, {"A": "a", "B": "b", "C": "c"}))
    [('A', 'B'), ('A', 'C'), ('B', 'C')]
    """
    owners = catchment_owners(roads, unit_nodes)
    groups = set()
    for u in roads.nodes:
        meet = set(owners.get(str(u), ()))
        for v in roads.neighbors(u):
            meet |= owners.get(str(v), frozenset())
        if len(meet) > 1:
            groups.add(frozenset(meet))
    pairs = set()
    for group in groups:
        ordered = sorted(group)
        for t, a in enumerate(ordered):
            for b in ordered[t + 1 :]:
                pairs.add((a, b))
    return pairs


def unit_graph(
    ids: Sequence[str],
    minutes: np.ndarray,
    touching: set[tuple[str, str]],
    near_minutes: float,
    max_minutes: float,
    node_data: dict[str, dict] | None = None,
) -> nx.Graph:
    """The adjacency graph of one group's units (see the module rules).

    Parameters
    ----------
    ids : sequence of str
        The group's unit ids.
    minutes : numpy.ndarray
        Road minutes between them (``inf``: no road), in the order of ``ids``.
    touching : set of (str, str)
        Pairs whose catchments touch (:func:`touching_pairs`); pairs with a unit not in
        ``ids`` (another group's) are ignored.
    near_minutes : float
        Units this close are neighbours even if their catchments do not touch.
    max_minutes : float
        No edge is longer.
    node_data : dict, optional
        Unit id -> node attributes.

    Returns
    -------
    networkx.Graph
        Nodes in the order of ``ids``; edges carry ``minutes``.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 5, 40], [5, 0, 30], [40, 30, 0]], dtype=float)
    >>> g = unit_graph(["a", "b", "c"], m, {("a", "c"), ("b", "c")}, 10, 35)
    >>> sorted(g.edges(data="minutes"))
    [('a', 'b', 5.0), ('b', 'c', 30.0)]
    """
    ids = [str(s) for s in ids]
    pos = {s: t for t, s in enumerate(ids)}
    minutes = np.minimum(minutes, minutes.T)  # road sums may differ in the last digit by direction
    g = nx.Graph()
    for s in ids:
        g.add_node(s, **((node_data or {}).get(s, {})))

    def link(i, j):
        d = float(minutes[i, j])
        if i != j and np.isfinite(d) and d <= max_minutes:
            g.add_edge(ids[i], ids[j], minutes=d)

    for a, b in touching:
        if a in pos and b in pos:
            link(pos[a], pos[b])
    for i, j in np.argwhere(minutes <= near_minutes).tolist():
        if i < j:
            link(i, j)
    # join pieces by their shortest road links within max_minutes (Kruskal over pieces)
    while True:
        comps = list(nx.connected_components(g))
        if len(comps) <= 1:
            break
        label = np.empty(len(ids), dtype=np.int64)
        for c, members in enumerate(comps):
            label[[pos[s] for s in members]] = c
        other = label[:, None] != label[None, :]
        masked = np.where(other & (minutes <= max_minutes), minutes, np.inf)
        shortest = float(masked.min())
        if not np.isfinite(shortest):
            break  # pieces farther apart than max_minutes stay apart
        # every link of the shortest length, so no tie is broken by the order of the units
        for i, j in np.argwhere(masked <= shortest * (1 + _TIE)).tolist():
            if i < j:
                link(i, j)
    return g
