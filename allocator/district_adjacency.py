"""Which schools are neighbours when districts are drawn: the school adjacency graph of a county.

Rules (the same whatever the order or the ids of the schools)
------------------------------------------------------------
Catchments
    Every road node belongs to its nearest school by road time, over the whole region. A node
    equally near to several schools (within ``1e-9`` relative) belongs to all of them: ties are
    never broken by the order of the schools. A node reached through a tied node inherits all of
    its owners.
Touching
    Two schools touch when one road node belongs to both, or when a road joins a node of one to a
    node of the other.
Direct roads
    Two schools are directly linked when a shortest road between them passes no other school's
    road node (so schools of two villages beyond a road hub are linked through the hub, not only
    through the school that owns the hub's catchment).
Neighbours
    Two schools of the same county are neighbours when they touch, are directly linked or are at
    most ``near_minutes`` apart by road, and in every case at most ``max_minutes`` apart: a road
    hub in one school's catchment does not make it a neighbour of every school whose catchment
    the hub's roads reach. Schools of different counties are never neighbours. A county whose schools still
    form several pieces is joined by the shortest road links between the pieces that are at most
    ``max_minutes`` long (Kruskal over pieces; links of equal length are all added); pieces
    farther apart stay apart.
Edges carry the road minutes between the two schools.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

__all__ = ["catchment_owners", "touching_pairs", "direct_pairs", "school_graph"]

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


def catchment_owners(roads: nx.Graph, school_nodes: dict[str, str]) -> dict[str, frozenset]:
    """Road node -> the schools whose catchment holds it (every school at the least time).

    Parameters
    ----------
    roads : networkx.Graph
        The road network (edges carry ``minutes``), e.g. ``region.roads``.
    school_nodes : dict
        School id -> the road node it stands at.

    Returns
    -------
    dict
        Road node (as str) -> frozenset of school ids; nodes no school reaches are left out.

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
    if not school_nodes:
        return {}
    mat = sp.coo_matrix((np.maximum(w, 1e-12), (eu, ev)), shape=(n, n)).tocsr()
    src = np.unique([index[str(v)] for v in school_nodes.values()])
    dist = dijkstra(mat, directed=False, indices=src, min_only=True)
    owners: list[set] = [set() for _ in range(n)]
    for sid, node in school_nodes.items():
        owners[index[str(node)]].add(sid)
    # arcs on which the nearest-school time grows by exactly the arc's length (tight arcs)
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


def touching_pairs(roads: nx.Graph, school_nodes: dict[str, str]) -> set[tuple[str, str]]:
    """Pairs ``(a, b)``, ``a < b``, of school ids whose catchments touch (see the module rules).

    Examples
    --------
    >>> import networkx as nx
    >>> roads = nx.path_graph(["a", "x", "y", "b", "c"])
    >>> nx.set_edge_attributes(roads, 1.0, "minutes")
    >>> sorted(touching_pairs(roads, {"A": "a", "B": "b", "C": "c"}))
    [('A', 'B'), ('B', 'C')]
    """
    owners = catchment_owners(roads, school_nodes)
    pairs = set()
    for group in set(owners.values()):
        for a in group:
            for b in group:
                if a < b:
                    pairs.add((a, b))
    seen = set()
    for u, v in roads.edges():
        ou, ov = owners.get(str(u)), owners.get(str(v))
        if not ou or not ov or ou == ov or (ou, ov) in seen:
            continue
        seen.add((ou, ov))
        for a in ou:
            for b in ov:
                if a != b:
                    pairs.add((min(a, b), max(a, b)))
    return pairs


def direct_pairs(
    roads: nx.Graph, school_nodes: dict[str, str], max_minutes: float, chunk: int = 256
) -> set[tuple[str, str]]:
    """Pairs ``(a, b)``, ``a < b``, of schools at most ``max_minutes`` apart by road with a
    shortest road between them that passes no other school's road node.

    Schools at the same road node are always a pair. Only the existence of such a road counts,
    so the result does not depend on the order or the ids of the schools.

    Examples
    --------
    >>> import networkx as nx
    >>> roads = nx.Graph([("a", "h", {"minutes": 5.0}), ("b", "h", {"minutes": 5.0}),
    ...                   ("c", "h", {"minutes": 5.0}), ("c", "d", {"minutes": 1.0})])
    >>> sorted(direct_pairs(roads, {"A": "a", "B": "b", "C": "c", "D": "d"}, 60))
    [('A', 'B'), ('A', 'C'), ('B', 'C'), ('C', 'D')]
    """
    index, eu, ev, w = _road_csgraph(roads)
    n = len(index)
    at: dict[int, list[str]] = {}
    for sid, node in school_nodes.items():
        at.setdefault(index[str(node)], []).append(sid)
    pairs = set()
    for group in at.values():
        for a in group:
            for b in group:
                if a < b:
                    pairs.add((a, b))
    if not at:
        return pairs
    cols = np.array(sorted(at), dtype=np.int64)
    is_school = np.zeros(n, dtype=bool)
    is_school[cols] = True
    tails = np.concatenate([eu, ev])
    heads = np.concatenate([ev, eu])
    length = np.maximum(np.concatenate([w, w]), 1e-12)
    full = sp.csr_matrix((length, (tails, heads)), shape=(n, n))
    keep = ~is_school[tails]  # roads leave a school's node only at the start of a trip
    blocked = sp.csr_matrix((length[keep], (tails[keep], heads[keep])), shape=(n, n))
    # first steps out of each school node
    first = [(int(t), int(h), float(x)) for t, h, x in zip(tails, heads, length, strict=True)]
    steps: dict[int, list[tuple[int, float]]] = {}
    for t, h, x in first:
        if is_school[t]:
            steps.setdefault(t, []).append((h, x))
    col_pos = {int(c): t for t, c in enumerate(cols)}
    for start in range(0, cols.size, chunk):
        src = cols[start : start + chunk]
        true = dijkstra(full, directed=True, indices=src, limit=max_minutes)[:, cols]
        nxt = sorted({h for s_ in src.tolist() for h, _ in steps.get(s_, [])})
        if not nxt:
            continue
        via = dijkstra(blocked, directed=True, indices=nxt, limit=max_minutes)[:, cols]
        row = {h: t for t, h in enumerate(nxt)}
        for r, s_ in enumerate(src.tolist()):
            best = np.full(cols.size, np.inf)
            for h, x in steps.get(s_, []):
                best = np.minimum(best, x + via[row[h]])
            tol = _TIE * np.maximum(1.0, true[r])
            hit = np.isfinite(true[r]) & (best <= true[r] + tol) & (true[r] <= max_minutes)
            hit[col_pos[s_]] = False
            for c in np.flatnonzero(hit).tolist():
                for a in at[s_]:
                    for b in at[int(cols[c])]:
                        if a != b:
                            pairs.add((min(a, b), max(a, b)))
    return pairs


def school_graph(
    ids: Sequence[str],
    minutes: np.ndarray,
    touching: set[tuple[str, str]],
    near_minutes: float,
    max_minutes: float,
    node_data: dict[str, dict] | None = None,
) -> nx.Graph:
    """The adjacency graph of one county's schools (see the module rules).

    Parameters
    ----------
    ids : sequence of str
        The county's school ids.
    minutes : numpy.ndarray
        Road minutes between them (``inf``: no road), in the order of ``ids``.
    touching : set of (str, str)
        Pairs whose catchments touch or that are directly linked (:func:`touching_pairs`,
        :func:`direct_pairs`); pairs with a school not in ``ids`` (another county's) are ignored.
    near_minutes : float
        Schools this close are neighbours even if their catchments do not touch.
    max_minutes : float
        No edge is longer.
    node_data : dict, optional
        School id -> node attributes.

    Returns
    -------
    networkx.Graph
        Nodes in the order of ``ids``; edges carry ``minutes``.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[0, 5, 40], [5, 0, 30], [40, 30, 0]], dtype=float)
    >>> g = school_graph(["a", "b", "c"], m, {("a", "c"), ("b", "c")}, 10, 35)
    >>> sorted(g.edges(data="minutes"))
    [('a', 'b', 5.0), ('b', 'c', 30.0)]
    """
    ids = [str(s) for s in ids]
    pos = {s: t for t, s in enumerate(ids)}
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
        # every link of the shortest length, so no tie is broken by the order of the schools
        for i, j in np.argwhere(masked <= shortest * (1 + _TIE)).tolist():
            if i < j:
                link(i, j)
    return g
