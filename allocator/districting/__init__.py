"""Contiguous, balanced partitions of a graph into zones (districting).

Generic: nothing here knows what the units are. A node is any unit with a weight (its demand,
e.g. pupils or population) and optionally an attribute whose zone means should be even (e.g. a
quality index) and an anchor flag (a unit every zone must contain one of, e.g. a strong school).
The zones are called parts below.

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


Methods
    exact: a MILP (:mod:`.exact_model`, run in stages by :mod:`.exact`); heuristic: multi-start
    local search with recombination (:mod:`.heuristic`). ``method="auto"`` solves graphs up to
    :data:`EXACT_MAX_NODES` nodes exactly.

Every returned partition is checked against the model (connected parts with networkx, balance,
anchors, the objective recomputed from scratch); when none exists or none is found,
:class:`~allocator.errors.Infeasible` is raised with the reason.

Modules
-------
``instance``
    arguments checked, the graph read into arrays;
``feasibility``
    necessary conditions, parts per connected component;
``objective``
    the score of a labelling and its check against the model;
``result``
    :class:`Partition`, the verified result;
``search_state``, ``growth``, ``moves``, ``recombination``, ``heuristic``
    the heuristic method;
``exact_model``, ``exact``
    the exact method;
``partitioner``
    the public entry points;
``adjacency``
    which units are neighbours: catchments on a road network and the adjacency graph.
"""

from allocator.districting.adjacency import catchment_owners, touching_pairs, unit_graph
from allocator.districting.partitioner import (
    EXACT_MAX_NODES,
    evaluate_partition,
    partition,
    partition_problems,
)
from allocator.districting.result import Partition

__all__ = [
    "Partition",
    "partition",
    "evaluate_partition",
    "partition_problems",
    "EXACT_MAX_NODES",
    "catchment_owners",
    "touching_pairs",
    "unit_graph",
]
