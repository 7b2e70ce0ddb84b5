"""The strong facility-location MIP and the check of its plans (formulation in
:mod:`allocator.location`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.location.common import LocationModel
from allocator.solver import binary_values


def strong_model(pairs, f, d, u, opened, closed, max_open, single_source) -> LocationModel:
    """The strong MIP over ``pairs``: columns y (one per site), then x (one per allowed pair)."""
    n, m = pairs.n_clients, pairs.n_sites
    k = pairs.cost.size
    ci, sj = pairs.clients, pairs.sites
    n_cols = m + k
    xcol = m + np.arange(k)
    c = np.concatenate([f, pairs.cost])
    rows, cols, vals, rl, ru, groups = [], [], [], [], [], []
    r0 = 0
    # assignment rows
    rows.append(ci)
    cols.append(xcol)
    vals.append(np.ones(k))
    rl.append(np.ones(n))
    ru.append(np.ones(n))
    groups += ["demand"] * n
    r0 += n
    # capacity rows for finite capacities
    finite = np.isfinite(u)
    cap_sites = np.flatnonzero(finite)
    cap_row = np.full(m, -1)
    cap_row[cap_sites] = r0 + np.arange(cap_sites.size)
    on_cap = finite[sj] & (d[ci] > 0)
    rows += [cap_row[sj[on_cap]], cap_row[cap_sites]]
    cols += [xcol[on_cap], cap_sites]
    vals += [d[ci[on_cap]], -u[cap_sites]]
    rl.append(np.full(cap_sites.size, -np.inf))
    ru.append(np.zeros(cap_sites.size))
    groups += ["capacity"] * cap_sites.size
    r0 += cap_sites.size
    # strong linking x_ij <= y_j (implied by the bound x_ij <= 1 where y_j is fixed open)
    fixed_on = np.zeros(m, dtype=bool)
    fixed_on[opened] = True
    link = np.flatnonzero(~fixed_on[sj])
    n_link = link.size
    rows += [r0 + np.arange(n_link), r0 + np.arange(n_link)]
    cols += [xcol[link], sj[link]]
    vals += [np.ones(n_link), -np.ones(n_link)]
    rl.append(np.full(n_link, -np.inf))
    ru.append(np.zeros(n_link))
    groups += ["link"] * n_link
    r0 += n_link
    # aggregate capacity cut
    if finite.all():
        rows.append(np.full(m, r0))
        cols.append(np.arange(m))
        vals.append(u)
        rl.append([float(d.sum())])
        ru.append([np.inf])
        groups.append("total_capacity")
        r0 += 1
    if max_open is not None:
        rows.append(np.full(m, r0))
        cols.append(np.arange(m))
        vals.append(np.ones(m))
        rl.append([-np.inf])
        ru.append([float(max_open)])
        groups.append("max_open")
        r0 += 1
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, n_cols)
    )
    cl = np.zeros(n_cols)
    cu = np.ones(n_cols)
    cl[opened] = 1.0
    cu[closed] = 0.0
    integ = np.zeros(n_cols, dtype=bool)
    integ[:m] = True
    if single_source:
        integ[m:] = True
    return LocationModel(
        c, A, np.concatenate(rl), np.concatenate(ru), cl, cu, integ, 0.0, groups, None, np.arange(m)
    )


def evaluate_plan(pairs, f, d, u, y, flows, opened, closed, max_open, single_source):
    """Objective and assignment of the solver's plan, checked against every constraint.

    ``y``: open sites (bool per site); ``flows``: the share of each allowed pair. Raises
    SolverError when the plan breaks a constraint (a client not fully served, a closed site used,
    a capacity exceeded, a fixing or ``max_open`` ignored).
    """
    n, m = pairs.n_clients, pairs.n_sites
    ci, sj = pairs.clients, pairs.sites
    tol = 1e-6
    if single_source:
        pick = binary_values(flows)
        per_client = np.bincount(ci[pick], minlength=n)
        if (per_client != 1).any():
            i = int(np.flatnonzero(per_client != 1)[0])
            raise SolverError(f"the solver's plan serves client {i} from {per_client[i]} sites")
        order = np.argsort(ci[pick], kind="stable")
        assignment = sj[pick][order]
        share = pick.astype(float)
        objective = float(f[y].sum() + pairs.cost[pick].sum())
    else:
        share = np.where(flows > 1e-9, flows, 0.0)
        sums = np.bincount(ci, weights=share, minlength=n)
        if (np.abs(sums - 1) > tol).any():
            i = int(np.flatnonzero(np.abs(sums - 1) > tol)[0])
            raise SolverError(f"the solver's plan serves {sums[i]:.9g} of client {i}'s demand")
        share = share / sums[ci]
        assignment = sp.csr_matrix((share, (ci, sj)), shape=(n, m))
        assignment.eliminate_zeros()
        objective = float(f[y].sum() + np.dot(pairs.cost, share))
    served_closed = (share > 0) & ~y[sj]
    if served_closed.any():
        e = int(np.flatnonzero(served_closed)[0])
        raise SolverError(f"the solver's plan serves client {ci[e]} from closed site {sj[e]}")
    load = np.bincount(sj, weights=d[ci] * share, minlength=m)
    over = load > u * (1 + tol) + tol
    if over.any():
        j = int(np.flatnonzero(over)[0])
        raise SolverError(f"the solver's plan loads site {j} with {load[j]:g} > capacity {u[j]:g}")
    if not y[opened].all() or y[closed].any():
        raise SolverError("the solver's plan does not respect fixed_open / fixed_closed")
    if max_open is not None and y.sum() > max_open:
        raise SolverError(f"the solver's plan opens {y.sum()} sites > max_open = {max_open}")
    return objective, assignment
