"""The verified result of :func:`allocator.districting.partition`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from allocator.districting.objective import canonical_labels, model_problems, score
from allocator.errors import SolverError
from allocator.solver import SolveInfo


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
        >>> from allocator.districting import partition
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


def make_result(
    inst, labels, graph, method, status, bound, gap, t0, starts, info, notes=()
) -> Partition:
    """The :class:`Partition` of a labelling, after checking it against the model.

    Raises :class:`~allocator.errors.SolverError` when the labelling breaks the model (a
    method's bug, never the caller's input); ``t0`` is the call's start (``perf_counter``).
    """
    labels = canonical_labels(labels, inst.k)
    problems = model_problems(inst, labels, graph)
    if problems:
        raise SolverError(
            f"the {method} partition violates the model: " + "; ".join(problems[:5]), info
        )
    obj, c, imb, centres, weights, means = score(inst, labels)
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
