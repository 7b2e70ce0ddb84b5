"""The exact model: a MILP (centre-assignment formulation with single-source flows for contiguity).

Formulation
-----------
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
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from allocator.districting.instance import Instance
from allocator.districting.objective import overall_mean, score
from allocator.errors import Infeasible, SolverError
from allocator.solver import ModelBuilder, SolverOptions, binary_values, solve_matrix

__all__ = ["solve_exact_model"]


@dataclass(frozen=True)
class _Pairs:
    """The ``x`` columns: pair ``t`` puts node ``ii[t]`` in the part of centre ``jj[t]``.

    ``xid[i, j]`` is the column of pair ``(i, j)`` (-1: left out), ``diag[j]`` the column of
    ``x_jj`` and ``off`` the columns with ``i != j`` (one contiguity row each, in this order).
    """

    ii: np.ndarray
    jj: np.ndarray
    xid: np.ndarray
    diag: np.ndarray
    off: np.ndarray

    @classmethod
    def of(cls, allowed: np.ndarray) -> _Pairs:
        """The pairs of ``allowed[j, i]`` (i may join centre j), centre by centre."""
        n = allowed.shape[0]
        jj, ii = np.nonzero(allowed)
        xid = -np.ones((n, n), dtype=np.int64)
        xid[ii, jj] = np.arange(ii.size)
        diag = xid[np.arange(n), np.arange(n)]
        return cls(ii, jj, xid, diag, np.flatnonzero(ii != jj))

    @property
    def size(self) -> int:
        """Number of pairs (``x`` columns)."""
        return int(self.ii.size)


@dataclass(frozen=True)
class _Arcs:
    """The flow columns: arc ``t`` carries centre ``fj[t]``'s flow from ``fu[t]`` to ``fv[t]``."""

    fj: np.ndarray
    fu: np.ndarray
    fv: np.ndarray

    @classmethod
    def of(cls, inst: Instance, allowed: np.ndarray) -> _Arcs:
        """For every centre j, the arcs with both ends allowed for j that do not enter j."""
        tails = np.concatenate([inst.eu, inst.ev])
        heads = np.concatenate([inst.ev, inst.eu])
        fj, fu, fv = [], [], []
        for j in range(inst.n):
            ok = allowed[j, tails] & allowed[j, heads] & (heads != j)
            fj.append(np.full(int(ok.sum()), j))
            fu.append(tails[ok])
            fv.append(heads[ok])
        return cls(*(np.concatenate(v).astype(np.int64) for v in (fj, fu, fv)))

    @property
    def size(self) -> int:
        """Number of arcs (flow columns)."""
        return int(self.fj.size)


def _reach_weight(inst: Instance) -> np.ndarray:
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


def _compactness_cost(inst: Instance, pairs: _Pairs) -> np.ndarray:
    """Objective coefficient of every ``x`` column: ``compactness_weight w_i d_ij / W``."""
    return inst.alpha * inst.w[pairs.ii] * inst.D[pairs.ii, pairs.jj] / inst.total


def _add_centre_rows(b: ModelBuilder, inst: Instance, pairs: _Pairs, x) -> None:
    """Assignment, number of centres, ``x_ij <= x_jj``, balance and anchor rows."""
    n, k, w = inst.n, inst.k, inst.w
    ii, jj, diag, off = pairs.ii, pairs.jj, pairs.diag, pairs.off
    nx_, m = pairs.size, off.size
    # assignment: sum_j x_ij = 1
    b.add_rows("assign", n, {x: (ii, np.arange(nx_), 1.0)}, lower=1.0, upper=1.0)
    # k centres
    b.add_rows("parts", 1, {x: (np.zeros(n, dtype=np.int64), diag, 1.0)}, lower=k, upper=k)
    # x_ij <= x_jj (i != j)
    r = np.arange(m)
    terms = (np.concatenate([r, r]), np.concatenate([off, diag[jj[off]]]))
    b.add_rows("centre", m, {x: (*terms, np.concatenate([np.ones(m), -np.ones(m)]))}, upper=0.0)
    # balance: L x_jj <= sum_i w_i x_ij <= U x_jj, as two rows per centre; the diagonal x_jj
    # appears in both terms: coefficients add up in the sparse matrix
    rows, cols = np.concatenate([jj, np.arange(n)]), np.concatenate([np.arange(nx_), diag])
    for name, bound, lo, hi in (
        ("balance__upper", inst.upper, -np.inf, 0.0),
        ("balance__lower", inst.lower, 0.0, np.inf),
    ):
        vals = np.concatenate([w[ii], -bound * np.ones(n)])
        b.add_rows(name, n, {x: (rows, cols, vals)}, lower=lo, upper=hi)
    if inst.need_anchor:
        an = np.flatnonzero(inst.anchor[ii])
        rows, cols = np.concatenate([jj[an], np.arange(n)]), np.concatenate([an, diag])
        vals = np.concatenate([np.ones(an.size), -np.ones(n)])
        b.add_rows("anchor", n, {x: (rows, cols, vals)}, lower=0.0)


def _prune_by_lp(inst: Instance, allowed: np.ndarray, v_start: float):
    """Reduced-cost fixing on the LP relaxation of the centre model without contiguity.

    With ``LB`` the LP bound on the compactness term and ``rc`` the reduced cost of ``x_ij``,
    every plan with ``x_ij = 1`` is worth at least ``LB + rc`` (the imbalance term is >= 0), so a
    pair with ``LB + rc > V`` (``V``: the value of a known plan) is in no plan better than it and
    is dropped. A centre whose ``x_jj`` is dropped takes no nodes.
    """
    n = inst.n
    pairs = _Pairs.of(allowed)
    cost = _compactness_cost(inst, pairs)
    b = ModelBuilder()
    x = b.add_columns("x", pairs.size, cost=cost, lower=0.0, upper=1.0)
    _add_centre_rows(b, inst, pairs, x)
    model = b.build()
    try:
        sol = solve_matrix(model)
    except (Infeasible, SolverError):
        return allowed, np.ones(n, dtype=bool)
    if sol.info.status != "optimal" or sol.row_duals is None:
        return allowed, np.ones(n, dtype=bool)
    rc = cost - model.A.T @ sol.row_duals
    lb = float(sol.info.objective)
    slack = 1e-6 * max(1.0, abs(v_start)) + 1e-6 * max(1.0, float(np.abs(rc).max()))
    drop = lb + rc > v_start + slack
    out = allowed.copy()
    out[pairs.jj[drop], pairs.ii[drop]] = False
    centre_ok = out[np.arange(n), np.arange(n)].copy()
    out[~centre_ok, :] = False
    np.fill_diagonal(out, True)
    return out, centre_ok


def _allowed_pairs(inst: Instance, start_labels):
    """``allowed[j, i]``: node i may join centre j; and which nodes may be centres."""
    n = inst.n
    R = _reach_weight(inst)
    allowed = R <= inst.upper * (1 + 1e-9) + 1e-9 * n
    if inst.alpha == 0:
        allowed &= np.arange(n)[None, :] >= np.arange(n)[:, None]  # centre = first node
    if inst.far is not None:
        allowed &= ~inst.far  # a node never joins a centre it may not share a part with
    np.fill_diagonal(allowed, True)
    centre_ok = np.ones(n, dtype=bool)
    if start_labels is not None and inst.alpha > 0:
        allowed, centre_ok = _prune_by_lp(inst, allowed, score(inst, start_labels)[0])
    return allowed, centre_ok


def _add_apart_rows(b: ModelBuilder, inst: Instance, pairs: _Pairs, x, allowed) -> None:
    """Pairs that may not share a part: ``x_uj + x_vj <= x_jj`` for every centre both may join."""
    pu, pv = np.nonzero(np.triu(inst.far))
    cj, cu, cv = [], [], []
    for j in range(inst.n):
        ok = allowed[j, pu] & allowed[j, pv]
        cj.append(np.full(int(ok.sum()), j))
        cu.append(pu[ok])
        cv.append(pv[ok])
    cj = np.concatenate(cj).astype(np.int64)
    cu = np.concatenate(cu).astype(np.int64)
    cv = np.concatenate(cv).astype(np.int64)
    m = cj.size
    if m:
        r = np.arange(m)
        rows = np.concatenate([r, r, r])
        cols = np.concatenate([pairs.xid[cu, cj], pairs.xid[cv, cj], pairs.diag[cj]])
        vals = np.concatenate([np.ones(m), np.ones(m), -np.ones(m)])
        b.add_rows("apart", m, {x: (rows, cols, vals)}, upper=0.0)


def _add_contiguity_rows(b: ModelBuilder, pairs: _Pairs, arcs: _Arcs, x, f, allowed) -> None:
    """Flow conservation (every node of the part consumes one unit) and flow capacity rows."""
    n = allowed.shape[0]
    off, m = pairs.off, pairs.off.size
    nf = arcs.size
    nj = allowed.sum(axis=1)  # nodes that may join j
    # conservation rows for (i, j), i != j allowed: in - out - x_ij = 0; row = position in off
    rowpos = -np.ones((n, n), dtype=np.int64)
    rowpos[pairs.ii[off], pairs.jj[off]] = np.arange(m)
    in_rows = rowpos[arcs.fv, arcs.fj]
    out_rows = rowpos[arcs.fu, arcs.fj]
    has_out = out_rows >= 0  # tail is not the centre
    flow = (
        np.concatenate([in_rows, out_rows[has_out]]),
        np.concatenate([np.arange(nf), np.flatnonzero(has_out)]),
        np.concatenate([np.ones(nf), -np.ones(int(has_out.sum()))]),
    )
    b.add_rows("contiguity__flow", m, {f: flow, x: (np.arange(m), off, -1.0)}, lower=0.0, upper=0.0)
    # capacity: inflow <= (n_j - 1) x_ij
    capacity = (np.arange(m), off, -(nj[pairs.jj[off]] - 1).astype(float))
    b.add_rows(
        "contiguity__capacity", m, {f: (in_rows, np.arange(nf), 1.0), x: capacity}, upper=0.0
    )


def _base_model(inst: Instance, pairs: _Pairs, arcs: _Arcs, centre_ok, allowed):
    """The builder with the ``x`` and flow columns and every row but the imbalance rows."""
    b = ModelBuilder()
    upper = np.ones(pairs.size)
    upper[pairs.diag[~centre_ok]] = 0.0
    x = b.add_columns(
        "x", pairs.size, cost=_compactness_cost(inst, pairs), lower=0.0, upper=upper, integer=True
    )
    _add_centre_rows(b, inst, pairs, x)
    if inst.far is not None:
        _add_apart_rows(b, inst, pairs, x, allowed)
    f = b.add_columns("f", arcs.size, cost=0.0, lower=0.0, upper=np.inf)
    _add_contiguity_rows(b, pairs, arcs, x, f, allowed)
    return b, x


def _imbalance_limit(inst: Instance, relaxation, start_labels, lb_compact, time_limit) -> float:
    """Largest imbalance (attribute shifted to ``[0, A]``) a plan better than the start may have.

    The largest part mean is at least the overall mean and the smallest at most it. With a start
    of value V, a better plan has imbalance at most (V - LB) / beta, LB a lower bound on the
    compactness term (the LP relaxation without the imbalance term, or ``lb_compact``).
    """
    A = max(float((inst.a - inst.a.min()).max()), 1e-12)
    if start_labels is None:
        return A
    relax = solve_matrix(
        relaxation.with_column_bounds(integrality=False),  # the LP relaxation
        options=SolverOptions(solver="highs", time_limit=time_limit),
    )
    v_start = score(inst, start_labels)[0]
    lb_c = relax.info.objective if relax.info.status == "optimal" else 0.0
    if lb_compact is not None:
        lb_c = max(lb_c, lb_compact)
    return min(A, max(0.0, (v_start - lb_c) / inst.beta) * (1 + 1e-7) + 1e-9 * A)


def _add_imbalance(b: ModelBuilder, inst: Instance, pairs: _Pairs, x, dmax: float) -> None:
    """Columns ``M, m, z, y`` and the rows that make ``M - m`` the imbalance (exact for binary x).

    ``z = M x`` (McCormick upper envelope) and ``y = m x`` (lower envelope); per centre
    ``sum_i w_i a_i x_ij <= sum_i w_i z_ij`` and ``>= sum_i w_i y_ij``; ``M - m <= dmax``.
    """
    ii, jj, w = pairs.ii, pairs.jj, inst.w
    n, nx_ = inst.n, pairs.size
    amin = float(inst.a.min())
    a = inst.a - amin
    A = max(float(a.max()), 1e-12)
    mu_bar = min(max(overall_mean(inst) - amin, 0.0), A)
    M_lo, M_hi = mu_bar, min(A, mu_bar + dmax)
    m_lo, m_hi = max(0.0, mu_bar - dmax), mu_bar
    M = b.add_columns("M", 1, cost=inst.beta, lower=M_lo, upper=M_hi)
    m = b.add_columns("m", 1, cost=-inst.beta, lower=m_lo, upper=m_hi)
    z = b.add_columns("z", nx_, cost=0.0, lower=0.0, upper=np.inf)
    y = b.add_columns("y", nx_, cost=0.0, lower=0.0, upper=np.inf)
    t = np.arange(nx_)
    zero = np.zeros(nx_, dtype=np.int64)
    # z - M - M_lo x <= -M_lo ; z - M_hi x <= 0
    terms = {z: (t, t, 1.0), M: (t, zero, -1.0), x: (t, t, -M_lo)}
    b.add_rows("imbalance__z_m", nx_, terms, upper=-M_lo)
    b.add_rows("imbalance__z_x", nx_, {z: (t, t, 1.0), x: (t, t, -M_hi)}, upper=0.0)
    # y - m - m_hi x >= -m_hi ; y - m_lo x >= 0
    terms = {y: (t, t, 1.0), m: (t, zero, -1.0), x: (t, t, -m_hi)}
    b.add_rows("imbalance__y_m", nx_, terms, lower=-m_hi)
    b.add_rows("imbalance__y_x", nx_, {y: (t, t, 1.0), x: (t, t, -m_lo)}, lower=0.0)
    # per centre: sum_i w_i a_i x_ij - sum_i w_i z_ij <= 0 ; ... - sum_i w_i y_ij >= 0
    wa = w[ii] * a[ii]
    b.add_rows("imbalance__upper", n, {x: (jj, t, wa), z: (jj, t, -w[ii])}, upper=0.0)
    b.add_rows("imbalance__lower", n, {x: (jj, t, wa), y: (jj, t, -w[ii])}, lower=0.0)
    # M - m <= dmax
    b.add_rows("imbalance__spread", 1, {M: ([0], [0], 1.0), m: ([0], [0], -1.0)}, upper=dmax)


def solve_exact_model(inst: Instance, start_labels, options: SolverOptions, lb_compact=None):
    """Solve the MILP of the module docstring; returns ``(labels, SolveInfo)``.

    ``start_labels`` (a valid labelling, or None) is the solver's start and prunes pairs;
    ``lb_compact`` is a known lower bound on the compactness term. Raises
    :class:`~allocator.errors.Infeasible` with the MILP's proof, or
    :class:`~allocator.errors.SolverError` when the solver stops without a plan.
    """
    allowed, centre_ok = _allowed_pairs(inst, start_labels)
    pairs = _Pairs.of(allowed)
    arcs = _Arcs.of(inst, allowed)
    b, x = _base_model(inst, pairs, arcs, centre_ok, allowed)
    use_imb = inst.beta > 0
    if use_imb:
        dmax = _imbalance_limit(inst, b.build(), start_labels, lb_compact, options.time_limit)
        _add_imbalance(b, inst, pairs, x, dmax)
    model = b.build()
    start = None
    if start_labels is not None:
        start = _start_vector(inst, start_labels, model, pairs, arcs, use_imb)
    try:
        sol = solve_matrix(model, options=options, start=start)
    except Infeasible as exc:
        raise Infeasible(
            f"no partition into {inst.k} connected parts of weight "
            f"{inst.lower:.6g}..{inst.upper:.6g}"
            + (" with an anchor each" if inst.need_anchor else "")
            + " exists (proven by the MILP; "
            + (exc.message if exc.violations else "integrality makes it impossible")
            + ")",
            exc.violations or {"parts": float(inst.k)},
        ) from exc
    return _labels(inst, pairs, binary_values(model.column_values(sol.x, "x")), sol.info), sol.info


def _labels(inst: Instance, pairs: _Pairs, x: np.ndarray, info) -> np.ndarray:
    """The labelling of the solver's ``x`` (parts numbered by centre), checked for one part each."""
    labels = -np.ones(inst.n, dtype=np.int64)
    centres = {int(j): p for p, j in enumerate(np.flatnonzero(x[pairs.diag]))}
    if len(centres) != inst.k:
        raise SolverError(f"the MILP returned {len(centres)} centres instead of {inst.k}", info)
    for t in np.flatnonzero(x):
        if labels[pairs.ii[t]] >= 0:
            node = inst.nodes[pairs.ii[t]]
            raise SolverError(f"the MILP put node {node!r} in two parts", info)
        labels[pairs.ii[t]] = centres[int(pairs.jj[t])]
    if (labels < 0).any():
        raise SolverError("the MILP left a node without a part", info)
    return labels


def _start_vector(inst, labels, model, pairs: _Pairs, arcs: _Arcs, use_imb):
    """The start labelling as column values (flows along BFS trees), or None if not a column."""
    k = inst.k
    xs = np.zeros(pairs.size)
    fs = np.zeros(arcs.size)
    _, _, _, centres, weights, means = score(inst, labels)
    if inst.alpha == 0:
        centres = np.array([int(np.flatnonzero(labels == p)[0]) for p in range(k)])
    arc = {
        (int(j), int(u), int(v)): t
        for t, (j, u, v) in enumerate(zip(arcs.fj, arcs.fu, arcs.fv, strict=True))
    }
    for p in range(k):
        j = int(centres[p])
        parent, order = _bfs_tree(inst, labels == p, j)
        # the flow on a tree arc is the size of the subtree below it
        size = {v: 1 for v in order}
        for v in order[::-1]:
            if parent[v] >= 0:
                size[parent[v]] += size[v]
        for v in order:
            t = pairs.xid[v, j]
            if t < 0:
                return None
            xs[t] = 1.0
            if parent[v] >= 0:
                key = (j, parent[v], v)
                if key not in arc:
                    return None
                fs[arc[key]] = size[v]
    x0 = np.zeros(model.c.size)
    x0[model.columns["x"]] = xs
    x0[model.columns["f"]] = fs
    if use_imb:
        mu = np.asarray(means) - float(inst.a.min())
        top, bottom = float(mu.max()), float(mu.min())
        x0[model.columns["M"]] = top
        x0[model.columns["m"]] = bottom
        x0[model.columns["z"]] = top * xs
        x0[model.columns["y"]] = bottom * xs
    return x0


def _bfs_tree(inst: Instance, inpart: np.ndarray, root: int):
    """Parents and visiting order of a breadth-first tree of the part from ``root``."""
    parent = {root: -1}
    order = [root]
    dq = deque([root])
    while dq:
        v = dq.popleft()
        for u in inst.adj[v]:
            if inpart[u] and u not in parent:
                parent[u] = v
                order.append(u)
                dq.append(u)
    return parent, order
