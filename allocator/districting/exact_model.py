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

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from allocator.districting.instance import Instance
from allocator.districting.objective import overall_mean, score
from allocator.errors import Infeasible, SolverError
from allocator.solver import SolverOptions, binary_values, solve_matrix


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


def _prune_by_lp(inst: Instance, allowed: np.ndarray, v_start: float):
    """Reduced-cost fixing on the LP relaxation of the centre model without contiguity.

    With ``LB`` the LP bound on the compactness term and ``rc`` the reduced cost of ``x_ij``,
    every plan with ``x_ij = 1`` is worth at least ``LB + rc`` (the imbalance term is >= 0), so a
    pair with ``LB + rc > V`` (``V``: the value of a known plan) is in no plan better than it and
    is dropped. A centre whose ``x_jj`` is dropped takes no nodes.
    """
    n, k, w = inst.n, inst.k, inst.w
    jj, ii = np.nonzero(allowed)
    nx_ = ii.size
    xid = -np.ones((n, n), dtype=np.int64)
    xid[ii, jj] = np.arange(nx_)
    diag = xid[np.arange(n), np.arange(n)]
    off = np.flatnonzero(ii != jj)
    m = off.size
    blocks = [
        (ii, np.arange(nx_), np.ones(nx_), np.ones(n), np.ones(n)),  # assign
        (np.zeros(n), diag, np.ones(n), [k], [k]),  # k centres
        (  # x_ij <= x_jj
            np.concatenate([np.arange(m), np.arange(m)]),
            np.concatenate([off, diag[jj[off]]]),
            np.concatenate([np.ones(m), -np.ones(m)]),
            np.full(m, -np.inf),
            np.zeros(m),
        ),
    ]
    for bound, lo, hi in ((inst.upper, -np.inf, 0.0), (inst.lower, 0.0, np.inf)):
        blocks.append(
            (
                np.concatenate([jj, np.arange(n)]),
                np.concatenate([np.arange(nx_), diag]),
                np.concatenate([w[ii], -bound * np.ones(n)]),
                np.full(n, lo),
                np.full(n, hi),
            )
        )
    if inst.need_anchor:
        an = np.flatnonzero(inst.anchor[ii])
        blocks.append(
            (
                np.concatenate([jj[an], np.arange(n)]),
                np.concatenate([an, diag]),
                np.concatenate([np.ones(an.size), -np.ones(n)]),
                np.zeros(n),
                np.full(n, np.inf),
            )
        )
    r_all, c_all, v_all, lo_all, hi_all = [], [], [], [], []
    nrow = 0
    for r, c_, v, lo, hi in blocks:
        size = int(np.size(lo))
        r_all.append(np.asarray(r, dtype=np.int64) + nrow)
        c_all.append(np.asarray(c_, dtype=np.int64))
        v_all.append(np.asarray(v, dtype=float))
        lo_all.append(np.broadcast_to(np.asarray(lo, float), (size,)))
        hi_all.append(np.broadcast_to(np.asarray(hi, float), (size,)))
        nrow += size
    A = sp.csc_matrix(
        (np.concatenate(v_all), (np.concatenate(r_all), np.concatenate(c_all))),
        shape=(nrow, nx_),
    )
    cost = inst.alpha * w[ii] * inst.D[ii, jj] / inst.total
    try:
        sol = solve_matrix(cost, A, np.concatenate(lo_all), np.concatenate(hi_all), 0.0, 1.0, None)
    except (Infeasible, SolverError):
        return allowed, np.ones(n, dtype=bool)
    if sol.info.status != "optimal" or sol.row_duals is None:
        return allowed, np.ones(n, dtype=bool)
    rc = cost - A.T @ sol.row_duals
    lb = float(sol.info.objective)
    slack = 1e-6 * max(1.0, abs(v_start)) + 1e-6 * max(1.0, float(np.abs(rc).max()))
    drop = lb + rc > v_start + slack
    out = allowed.copy()
    out[jj[drop], ii[drop]] = False
    centre_ok = out[np.arange(n), np.arange(n)].copy()
    out[~centre_ok, :] = False
    np.fill_diagonal(out, True)
    return out, centre_ok


def solve_exact_model(inst: Instance, start_labels, options: SolverOptions, lb_compact=None):
    n, k = inst.n, inst.k
    w = inst.w
    R = _reach_weight(inst)
    allowed = R <= inst.upper * (1 + 1e-9) + 1e-9 * n  # allowed[j, i]: i may join centre j
    if inst.alpha == 0:
        allowed &= np.arange(n)[None, :] >= np.arange(n)[:, None]  # centre = first node
    if inst.far is not None:
        allowed &= ~inst.far  # a node never joins a centre it may not share a part with
    np.fill_diagonal(allowed, True)
    centre_ok = np.ones(n, dtype=bool)
    if start_labels is not None and inst.alpha > 0:
        allowed, centre_ok = _prune_by_lp(inst, allowed, score(inst, start_labels)[0])
    jj, ii = np.nonzero(allowed)  # x variable t: node ii[t] to centre jj[t]
    nx_ = ii.size
    xid = -np.ones((n, n), dtype=np.int64)  # xid[i, j]
    xid[ii, jj] = np.arange(nx_)
    diag = xid[np.arange(n), np.arange(n)]
    cols_c, rows, vals = [], [], []
    row_lo, row_hi, groups = [], [], []
    nrow = 0

    def add_rows(r_idx, c_idx, v, lo, hi, group):
        nonlocal nrow
        rows.append(np.asarray(r_idx, dtype=np.int64) + nrow)
        cols_c.append(np.asarray(c_idx, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))
        m = int(np.size(lo))
        row_lo.append(np.broadcast_to(np.asarray(lo, float), (m,)).copy())
        row_hi.append(np.broadcast_to(np.asarray(hi, float), (m,)).copy())
        groups.extend([group] * m)
        nrow += m

    ncol = nx_
    # assignment: sum_j x_ij = 1
    add_rows(ii, np.arange(nx_), np.ones(nx_), np.ones(n), np.ones(n), "assign")
    # k centres
    add_rows(np.zeros(n), diag, np.ones(n), [k], [k], "parts")
    # x_ij <= x_jj (i != j)
    off = np.flatnonzero(ii != jj)
    m_off = off.size
    add_rows(
        np.concatenate([np.arange(m_off), np.arange(m_off)]),
        np.concatenate([off, diag[jj[off]]]),
        np.concatenate([np.ones(m_off), -np.ones(m_off)]),
        np.full(m_off, -np.inf),
        np.zeros(m_off),
        "centre",
    )
    # balance: L x_jj <= sum_i w_i x_ij <= U x_jj, as two rows per centre
    for sign, lo, hi, bound in ((1, -np.inf, 0.0, inst.upper), (1, 0.0, np.inf, inst.lower)):
        c_idx = np.concatenate([np.arange(nx_), diag])
        r_idx = np.concatenate([jj, np.arange(n)])
        v = np.concatenate([sign * w[ii], -bound * np.ones(n)])
        # the diagonal x_jj appears in both parts: coefficients add up in the sparse matrix
        add_rows(r_idx, c_idx, v, np.full(n, lo), np.full(n, hi), "balance")
    if inst.need_anchor:
        an = np.flatnonzero(inst.anchor[ii])
        add_rows(
            np.concatenate([jj[an], np.arange(n)]),
            np.concatenate([an, diag]),
            np.concatenate([np.ones(an.size), -np.ones(n)]),
            np.zeros(n),
            np.full(n, np.inf),
            "anchor",
        )
    if inst.far is not None:
        # pairs that may not share a part: x_uj + x_vj <= x_jj for every centre j both may join
        pu, pv = np.nonzero(np.triu(inst.far))
        cj, cu, cv = [], [], []
        for j in range(n):
            ok = allowed[j, pu] & allowed[j, pv]
            cj.append(np.full(int(ok.sum()), j))
            cu.append(pu[ok])
            cv.append(pv[ok])
        cj = np.concatenate(cj).astype(np.int64)
        cu = np.concatenate(cu).astype(np.int64)
        cv = np.concatenate(cv).astype(np.int64)
        m_c = cj.size
        if m_c:
            r = np.arange(m_c)
            add_rows(
                np.concatenate([r, r, r]),
                np.concatenate([xid[cu, cj], xid[cv, cj], diag[cj]]),
                np.concatenate([np.ones(m_c), np.ones(m_c), -np.ones(m_c)]),
                np.full(m_c, -np.inf),
                np.zeros(m_c),
                "apart",
            )
    # flows: for centre j, arcs (u, v) with both ends allowed for j and v != j
    tails = np.concatenate([inst.eu, inst.ev])
    heads = np.concatenate([inst.ev, inst.eu])
    fj, fu, fv = [], [], []
    for j in range(n):
        ok = allowed[j, tails] & allowed[j, heads] & (heads != j)
        fj.append(np.full(int(ok.sum()), j))
        fu.append(tails[ok])
        fv.append(heads[ok])
    fj = np.concatenate(fj).astype(np.int64)
    fu = np.concatenate(fu).astype(np.int64)
    fv = np.concatenate(fv).astype(np.int64)
    nf = fj.size
    f0 = ncol
    ncol += nf
    nj = allowed.sum(axis=1)  # nodes that may join j
    # conservation rows for (i, j), i != j allowed: in - out - x_ij = 0 ; row index = off position
    rowpos = -np.ones((n, n), dtype=np.int64)
    rowpos[ii[off], jj[off]] = np.arange(m_off)
    in_rows = rowpos[fv, fj]
    out_rows = rowpos[fu, fj]
    has_out = out_rows >= 0  # tail is not the centre
    add_rows(
        np.concatenate([in_rows, out_rows[has_out], np.arange(m_off)]),
        np.concatenate([f0 + np.arange(nf), f0 + np.flatnonzero(has_out), off]),
        np.concatenate([np.ones(nf), -np.ones(int(has_out.sum())), -np.ones(m_off)]),
        np.zeros(m_off),
        np.zeros(m_off),
        "contiguity",
    )
    # capacity: inflow <= (n_j - 1) x_ij
    add_rows(
        np.concatenate([in_rows, np.arange(m_off)]),
        np.concatenate([f0 + np.arange(nf), off]),
        np.concatenate([np.ones(nf), -(nj[jj[off]] - 1).astype(float)]),
        np.full(m_off, -np.inf),
        np.zeros(m_off),
        "contiguity",
    )
    c = np.zeros(ncol)
    c[:nx_] = inst.alpha * w[ii] * inst.D[ii, jj] / inst.total
    col_lo = np.zeros(ncol)
    col_hi = np.concatenate([np.ones(nx_), np.full(nf, np.inf)])
    col_hi[diag[~centre_ok]] = 0.0
    integ = np.concatenate([np.ones(nx_, bool), np.zeros(nf, bool)])
    use_imb = inst.beta > 0
    if use_imb:
        amin = float(inst.a.min())
        a = inst.a - amin
        A = max(float(a.max()), 1e-12)
        mu_bar = min(max(overall_mean(inst) - amin, 0.0), A)
        # The largest part mean is at least the overall mean and the smallest at most it. With a
        # start of value V, a better plan has imbalance at most (V - LB) / beta, LB a lower bound
        # on the compactness term (the LP relaxation without the imbalance term).
        dmax = A
        if start_labels is not None:
            base = sp.csc_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_c))),
                shape=(nrow, ncol),
            )
            relax = solve_matrix(
                c,
                base,
                np.concatenate(row_lo),
                np.concatenate(row_hi),
                col_lo,
                col_hi,
                None,
                options=SolverOptions(solver="highs", time_limit=options.time_limit),
            )
            v_start = score(inst, start_labels)[0]
            lb_c = relax.info.objective if relax.info.status == "optimal" else 0.0
            if lb_compact is not None:
                lb_c = max(lb_c, lb_compact)
            dmax = min(A, max(0.0, (v_start - lb_c) / inst.beta) * (1 + 1e-7) + 1e-9 * A)
        M_lo, M_hi = mu_bar, min(A, mu_bar + dmax)
        m_lo, m_hi = max(0.0, mu_bar - dmax), mu_bar
        M_col, m_col = ncol, ncol + 1
        z0 = ncol + 2
        y0 = z0 + nx_
        ncol = y0 + nx_
        t = np.arange(nx_)
        # z = M x (McCormick upper envelope): z - M - M_lo x <= -M_lo ; z - M_hi x <= 0
        add_rows(
            np.concatenate([t, t, t]),
            np.concatenate([z0 + t, np.full(nx_, M_col), t]),
            np.concatenate([np.ones(nx_), -np.ones(nx_), -M_lo * np.ones(nx_)]),
            np.full(nx_, -np.inf),
            np.full(nx_, -M_lo),
            "imbalance",
        )
        add_rows(
            np.concatenate([t, t]),
            np.concatenate([z0 + t, t]),
            np.concatenate([np.ones(nx_), -M_hi * np.ones(nx_)]),
            np.full(nx_, -np.inf),
            np.zeros(nx_),
            "imbalance",
        )
        # y = m x (lower envelope): y - m - m_hi x >= -m_hi ; y - m_lo x >= 0
        add_rows(
            np.concatenate([t, t, t]),
            np.concatenate([y0 + t, np.full(nx_, m_col), t]),
            np.concatenate([np.ones(nx_), -np.ones(nx_), -m_hi * np.ones(nx_)]),
            np.full(nx_, -m_hi),
            np.full(nx_, np.inf),
            "imbalance",
        )
        add_rows(
            np.concatenate([t, t]),
            np.concatenate([y0 + t, t]),
            np.concatenate([np.ones(nx_), -m_lo * np.ones(nx_)]),
            np.zeros(nx_),
            np.full(nx_, np.inf),
            "imbalance",
        )
        # per centre: sum_i w_i a_i x_ij - sum_i w_i z_ij <= 0 ; ... - sum_i w_i y_ij >= 0
        add_rows(
            np.concatenate([jj, jj]),
            np.concatenate([t, z0 + t]),
            np.concatenate([w[ii] * a[ii], -w[ii]]),
            np.full(n, -np.inf),
            np.zeros(n),
            "imbalance",
        )
        add_rows(
            np.concatenate([jj, jj]),
            np.concatenate([t, y0 + t]),
            np.concatenate([w[ii] * a[ii], -w[ii]]),
            np.zeros(n),
            np.full(n, np.inf),
            "imbalance",
        )
        # M - m <= dmax
        add_rows([0, 0], [M_col, m_col], [1.0, -1.0], [-np.inf], [dmax], "imbalance")
        c = np.concatenate([c, [inst.beta, -inst.beta], np.zeros(2 * nx_)])
        col_lo = np.concatenate([col_lo, [M_lo, m_lo], np.zeros(2 * nx_)])
        col_hi = np.concatenate([col_hi, [M_hi, m_hi], np.full(2 * nx_, np.inf)])
        integ = np.concatenate([integ, np.zeros(2 + 2 * nx_, bool)])
    Amat = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols_c))), shape=(nrow, ncol)
    )
    start = None
    if start_labels is not None:
        start = _start_vector(inst, start_labels, xid, nx_, f0, fj, fu, fv, ncol, use_imb)
    try:
        sol = solve_matrix(
            c,
            Amat,
            np.concatenate(row_lo),
            np.concatenate(row_hi),
            col_lo,
            col_hi,
            integ,
            options=options,
            row_groups=groups,
            start=start,
        )
    except Infeasible as exc:
        raise Infeasible(
            f"no partition into {k} connected parts of weight {inst.lower:.6g}..{inst.upper:.6g}"
            + (" with an anchor each" if inst.need_anchor else "")
            + " exists (proven by the MILP; "
            + (exc.message if exc.violations else "integrality makes it impossible")
            + ")",
            exc.violations or {"parts": float(k)},
        ) from exc
    x = binary_values(sol.x[:nx_])
    labels = -np.ones(n, dtype=np.int64)
    centres = {int(j): p for p, j in enumerate(np.flatnonzero(x[diag]))}
    if len(centres) != k:
        raise SolverError(f"the MILP returned {len(centres)} centres instead of {k}", sol.info)
    for t in np.flatnonzero(x):
        if labels[ii[t]] >= 0:
            raise SolverError(f"the MILP put node {inst.nodes[ii[t]]!r} in two parts", sol.info)
        labels[ii[t]] = centres[int(jj[t])]
    if (labels < 0).any():
        raise SolverError("the MILP left a node without a part", sol.info)
    return labels, sol.info


def _start_vector(inst, labels, xid, nx_, f0, fj, fu, fv, ncol, use_imb):
    k = inst.k
    x0 = np.zeros(ncol)
    _, _, _, centres, weights, means = score(inst, labels)
    if inst.alpha == 0:
        centres = np.array([int(np.flatnonzero(labels == p)[0]) for p in range(k)])
    arc = {(int(j), int(u), int(v)): t for t, (j, u, v) in enumerate(zip(fj, fu, fv, strict=True))}
    for p in range(k):
        j = int(centres[p])
        inpart = labels == p
        # BFS tree inside the part; the flow on a tree arc is the size of the subtree below it
        parent = {j: -1}
        order = [j]
        dq = deque([j])
        while dq:
            v = dq.popleft()
            for u in inst.adj[v]:
                if inpart[u] and u not in parent:
                    parent[u] = v
                    order.append(u)
                    dq.append(u)
        size = {v: 1 for v in order}
        for v in order[::-1]:
            if parent[v] >= 0:
                size[parent[v]] += size[v]
        for v in order:
            t = xid[v, j]
            if t < 0:
                return None
            x0[t] = 1.0
            if parent[v] >= 0:
                key = (j, parent[v], v)
                if key not in arc:
                    return None
                x0[f0 + arc[key]] = size[v]
    if use_imb:
        amin = float(inst.a.min())
        mu = np.asarray(means) - amin
        M, m = float(mu.max()), float(mu.min())
        z0 = f0 + fj.size + 2
        x0[f0 + fj.size] = M
        x0[f0 + fj.size + 1] = m
        xs = x0[:nx_]
        x0[z0 : z0 + nx_] = M * xs
        x0[z0 + nx_ : z0 + 2 * nx_] = m * xs
    return x0
