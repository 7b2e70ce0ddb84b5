"""The objective of a labelling and its check against the model.

For a labelling ``0..k-1`` of the nodes: compactness ``C = sum_P min_{c in P} sum_{i in P} w_i
d_ic`` (the weighted distance of every node to its part's weighted 1-median), imbalance ``I =
max_P mu_P - min_P mu_P`` (``mu_P``: weight-weighted mean attribute of part ``P``) and the
objective ``compactness_weight * C / W + imbalance_weight * I``.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from allocator.districting.instance import Instance


def score(inst: Instance, labels: np.ndarray):
    """Exact objective pieces of a labelling 0..k-1 (no feasibility check).

    Returns
    -------
    tuple
        ``(objective, C, I, centres, weights, means)``: centres, weights and means per part
        (``means`` is None without an attribute).
    """
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


def model_problems(inst: Instance, labels: np.ndarray, graph: nx.Graph) -> list[str]:
    """What makes a labelling 0..k-1 break the model (empty list: valid).

    Checks non-empty, connected parts (networkx), balance, anchors and pairs that may not share
    a part.
    """
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


def conflict_count(inst: Instance, labels: np.ndarray) -> int:
    """Pairs of nodes that may not share a part but do."""
    if inst.far is None:
        return 0
    total = 0
    for p in range(inst.k):
        m = np.flatnonzero(labels == p)
        total += int(inst.far[np.ix_(m, m)].sum())
    return total // 2


def canonical_labels(labels: np.ndarray, k: int) -> np.ndarray:
    """Parts renumbered in the order in which their first node appears.

    Examples
    --------
    >>> canonical_labels(np.array([2, 2, 0, 1]), 3).tolist()
    [0, 0, 1, 2]
    """
    order = {}
    for p in labels.tolist():
        if p not in order:
            order[p] = len(order)
            if len(order) == k:
                break
    return np.array([order[p] for p in labels.tolist()], dtype=np.int64)


def overall_mean(inst: Instance) -> float:
    """Weight-weighted mean attribute over every node (0 without an attribute)."""
    return float(inst.w @ inst.a) / inst.total if inst.a is not None else 0.0
