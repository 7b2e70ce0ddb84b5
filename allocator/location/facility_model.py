"""The strong facility-location MIP and the check of its plans (formulation in
:mod:`allocator.location`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from allocator.errors import SolverError
from allocator.location.common import LocationModel
from allocator.solver import ModelBuilder, binary_values


def strong_model(pairs, f, d, u, opened, closed, max_open, single_source) -> LocationModel:
    """The strong MIP over ``pairs``: columns y (one per site), then x (one per allowed pair)."""
    n, m = pairs.n_clients, pairs.n_sites
    k = pairs.cost.size
    ci, sj = pairs.clients, pairs.sites
    pair = np.arange(k)
    site = np.arange(m)
    y_lower = np.zeros(m)
    y_lower[opened] = 1.0
    y_upper = np.ones(m)
    y_upper[closed] = 0.0
    b = ModelBuilder()
    y = b.add_columns("y", m, cost=f, lower=y_lower, upper=y_upper, integer=True)
    x = b.add_columns("x", k, cost=pairs.cost, upper=1.0, integer=bool(single_source))
    b.add_rows("demand", n, {x: (ci, pair, 1.0)}, lower=1.0, upper=1.0)
    # capacity rows for finite capacities: sum_i d_i x_ij - u_j y_j <= 0
    finite = np.isfinite(u)
    cap_sites = np.flatnonzero(finite)
    cap_row = np.full(m, -1)
    cap_row[cap_sites] = np.arange(cap_sites.size)
    on_cap = finite[sj] & (d[ci] > 0)
    b.add_rows(
        "capacity",
        cap_sites.size,
        {
            x: (cap_row[sj[on_cap]], pair[on_cap], d[ci[on_cap]]),
            y: (np.arange(cap_sites.size), cap_sites, -u[cap_sites]),
        },
        upper=0.0,
    )
    # strong linking x_ij <= y_j (implied by the bound x_ij <= 1 where y_j is fixed open)
    fixed_on = np.zeros(m, dtype=bool)
    fixed_on[opened] = True
    link = np.flatnonzero(~fixed_on[sj])
    rows = np.arange(link.size)
    b.add_rows("link", link.size, {x: (rows, link, 1.0), y: (rows, sj[link], -1.0)}, upper=0.0)
    if finite.all():  # the aggregate capacity cut
        b.add_rows("total_capacity", 1, {y: (0, site, u)}, lower=float(d.sum()))
    if max_open is not None:
        b.add_rows("max_open", 1, {y: (0, site, 1.0)}, upper=float(max_open))
    model = b.build()

    def start(plan):
        """The full start vector of a plan ``(y, shares)`` (see ``FacilityLagrange.start_plan``)."""
        vector = np.zeros(model.shape[1])
        vector[y.columns], vector[x.columns] = plan
        return vector

    return LocationModel(model, start, site)


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
