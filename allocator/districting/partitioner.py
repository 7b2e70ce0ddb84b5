"""The public entry points: :func:`partition`, :func:`evaluate_partition`,
:func:`partition_problems`.

:func:`partition` checks its arguments, splits the parts among the connected components
(:mod:`.feasibility`) and runs the exact method (:mod:`.exact`) on graphs up to
:data:`EXACT_MAX_NODES` nodes, the heuristic (:mod:`.heuristic`) above.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Hashable, Iterable

import networkx as nx
import numpy as np

from allocator.districting.exact import exact_result
from allocator.districting.feasibility import allocate_parts
from allocator.districting.heuristic import heuristic_result
from allocator.districting.instance import build_instance, conflict_matrix, positive_number
from allocator.districting.objective import model_problems, score
from allocator.districting.result import Partition
from allocator.solver import SolverOptions

#: ``method="auto"`` solves graphs up to this many nodes exactly, larger ones heuristically.
EXACT_MAX_NODES = 60

_METHODS = ("auto", "exact", "heuristic")


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

    The model (constraints, objective, the MILP and the heuristic) is stated in the package
    docstring (:mod:`allocator.districting`). In short: every part is connected, weighs within ``±tolerance`` of ``W / k``,
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
        positive_number("time_limit", time_limit, allow_zero=False)
    inst = build_instance(
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
        inst = dataclasses.replace(inst, far=conflict_matrix(inst, conflicts))
    allocation = allocate_parts(inst)
    requested = method
    if method == "auto":
        method = "exact" if inst.n <= EXACT_MAX_NODES else "heuristic"
    deadline = t0 + time_limit if time_limit is not None else math.inf
    if method == "heuristic":
        return heuristic_result(inst, graph, allocation, seed, starts, deadline, t0)
    return exact_result(
        inst, graph, allocation, seed, starts, deadline, t0, options, fallback=requested == "auto"
    )


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

    Parts are the distinct values of ``assignment``; the terms are those of :mod:`allocator.districting.objective`.

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
    inst = build_instance(
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
    obj, c, imb, _, _, _ = score(inst, np.array([code[p] for p in labels_raw]))
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
    inst = build_instance(graph, k, weight, tolerance, anchor, None, None, 1.0, 0.0)
    labels = np.array([assignment[v] for v in graph.nodes])
    if not np.issubdtype(labels.dtype, np.integer):
        return [f"parts must be integers 0..{k - 1}"]
    return model_problems(inst, labels, graph)
