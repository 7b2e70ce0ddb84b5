"""Exact capacitated facility location: strong MIP, and for large split-demand instances a
Lagrangian root and branch and bound on sites (the model is stated in :mod:`allocator.location`)."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.location.common import (
    CHECK_TOLERANCE,
    LocationModel,
    LocationResult,
    Pairs,
    allowed_pairs,
    as_vector,
    finish_status,
    is_integral,
    require_every_client_served,
    resolve_options,
    site_indices,
    with_time_left,
)
from allocator.location.facility_lagrange import FacilityLagrange
from allocator.location.facility_model import evaluate_plan, strong_model
from allocator.solver import (
    SolveInfo,
    SolverOptions,
    binary_values,
    relative_gap,
    supported_highs_options,
)


def _solve_or_fallback(model: LocationModel, options, start, lower=None):
    """Solve a MIP; if a time limit stops it without a plan, fall back on the given start vector.

    ``lower``: a valid lower bound on the optimum (an answer below it is not trusted).
    """
    try:
        sol = model.solve(options, start, bound=lower)
    except SolverError as exc:
        info = getattr(exc, "info", None)
        if start is None or info is None or info.status != "error":
            raise
        value = float(np.dot(model.model.c, start) + model.model.offset)
        fallback = SolveInfo("feasible", value, None, None, info.seconds, info.solver)
        return fallback, start
    return sol.info, sol.x


def facility_location(
    service_cost,
    open_cost,
    demand,
    capacity,
    single_source: bool = False,
    fixed_open=None,
    fixed_closed=None,
    max_open: int | None = None,
    options: SolverOptions | None = None,
) -> LocationResult:
    """Choose sites to open and serve every client's demand at least total cost.

    Parameters
    ----------
    service_cost : array_like or scipy.sparse matrix, shape (n_clients, n_sites)
        Cost of serving ALL of client i's demand from site j (a share f costs f times that).
        Dense: ``inf`` marks a pair that is not allowed; sparse: a missing entry is not allowed.
    open_cost : array_like, shape (n_sites,)
        Fixed cost of opening each site.
    demand : array_like, shape (n_clients,)
        Non-negative demand of each client.
    capacity : float or array_like, shape (n_sites,)
        Capacity of each site (``inf`` for none).
    single_source : bool
        If True each client is served by exactly one site; otherwise demand may be split.
    fixed_open, fixed_closed : iterable of int, optional
        Sites that must be open / must stay closed.
    max_open : int, optional
        At most this many open sites.
    options : SolverOptions, optional
        Solver, time limit, MIP gap (default: HiGHS with gap 1e-7).

    Returns
    -------
    LocationResult
        ``assignment`` is the serving site of each client (single source) or a sparse matrix of
        demand shares (split demand).

    Raises
    ------
    Infeasible
        Before solving: a client has no allowed site, total capacity is below total demand,
        more sites are fixed open than ``max_open`` allows, the ``max_open`` largest capacities
        cannot hold the demand, or (single source) a client's demand exceeds every allowed site's
        capacity. After solving: no plan meets every constraint.
    InputError
        Malformed input.

    Notes
    -----
    Small instances, single sourcing, ``max_open`` or infinite capacities go straight to the
    strong MIP (``x_ij <= y_j`` for every pair plus the aggregate capacity cut). Large
    split-demand instances (at least 20,000 client-site pairs) first get a Lagrangian search:
    the demand rows are relaxed (one fractional knapsack per site), the sites the relaxation
    chooses are repaired into plans by a transportation LP and improved by drop/add/swap moves,
    sites whose flipped bound exceeds the best plan are fixed, and a depth-first branch and
    bound on sites with the Lagrangian bound at every node proves the best plan optimal within
    ``mip_gap``. If that tree runs out of nodes (20,000) or four fifths of the time limit, the
    strong MIP over the remaining sites takes over from the best plan.

    Examples
    --------
    >>> import numpy as np
    >>> cost = np.array([[1.0, 9.0], [2.0, 8.0], [9.0, 1.0]])
    >>> r = facility_location(cost, open_cost=[5, 5], demand=[1, 1, 1], capacity=[2, 2],
    ...                       single_source=True)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist()
    (14.0, [0, 1], [0, 0, 1])
    """
    t0 = time.perf_counter()
    options = resolve_options(options)
    pairs = allowed_pairs(service_cost, "service_cost")
    inst = _checked_instance(
        pairs, open_cost, demand, capacity, fixed_open, fixed_closed, max_open, single_source
    )
    lag = None
    if _lagrangian_stage_fits(inst, service_cost, options):
        lag, inst, start, proven = _lagrangian_stage(inst, t0, options)
    else:
        start, proven = None, False
    if proven and start is not None:  # the Lagrangian search proved its best plan
        y, shares = start
        gap = relative_gap(lag.upper, min(lag.lower, lag.upper))
        seconds = time.perf_counter() - t0
        sol_info = SolveInfo("optimal", lag.upper, lag.lower, gap, seconds, options.solver)
    else:
        sol_info, y, shares = _mip_stage(inst, lag, options, t0, start)
    return _checked_result(inst, sol_info, y, shares, options, t0)


@dataclass(frozen=True)
class _Instance:
    """A checked facility-location instance: all pairs, the pairs a plan may use, the data."""

    pairs: Pairs  # every allowed pair
    work: Pairs  # the pairs a plan may use (not fixed closed; single source: enough capacity)
    f: np.ndarray
    d: np.ndarray
    u: np.ndarray
    opened: np.ndarray
    closed: np.ndarray
    max_open: int | None
    single_source: bool
    fix_bound: float = math.inf  # a bound proven by fixing sites (the Lagrangian stage)


def _checked_instance(
    pairs, open_cost, demand, capacity, fixed_open, fixed_closed, max_open, single_source
) -> _Instance:
    """Check the inputs (InputError when malformed, Infeasible when no plan can exist)."""
    n, m = pairs.n_clients, pairs.n_sites
    f = as_vector(open_cost, m, "open_cost")
    d = as_vector(demand, n, "demand")
    u = as_vector(capacity, m, "capacity")
    for name, arr in (("demand", d), ("capacity", u)):
        if (arr < 0).any():
            k = int(np.flatnonzero(arr < 0)[0])
            raise InputError(f"{name}[{k}] = {arr[k]}; expected a non-negative number")
    if not np.isfinite(f).all() or not np.isfinite(d).all():
        raise InputError("open_cost and demand must be finite")
    opened = site_indices(fixed_open, m, "fixed_open")
    closed = site_indices(fixed_closed, m, "fixed_closed")
    both = np.intersect1d(opened, closed)
    if both.size:
        raise InputError(f"site {both[0]} is in both fixed_open and fixed_closed")
    if max_open is not None:
        if isinstance(max_open, bool) or not float(max_open).is_integer() or max_open < 0:
            raise InputError(f"max_open must be a non-negative integer, got {max_open!r}")
        max_open = int(max_open)
    allowed_site = np.ones(m, dtype=bool)
    allowed_site[closed] = False
    keep = allowed_site[pairs.sites]
    if single_source:
        keep &= d[pairs.clients] <= u[pairs.sites] * (1 + 1e-12)
    work = _subset(pairs, keep)
    _check_cfl_inputs(pairs, work, d, u, allowed_site, opened, max_open, single_source)
    return _Instance(pairs, work, f, d, u, opened, closed, max_open, bool(single_source))


def _lagrangian_stage_fits(inst: _Instance, service_cost, options) -> bool:
    """Large split-demand instances with finite capacities and no ``max_open`` (HiGHS only)."""
    cells = inst.pairs.n_clients * inst.pairs.n_sites
    return (
        not inst.single_source
        and inst.max_open is None
        and np.isfinite(inst.u).all()
        and cells >= CFL_LAGRANGE_CELLS
        and cells <= _CFL_DENSE_CELLS
        and (not sp.issparse(service_cost) or inst.pairs.cost.size >= 0.25 * cells)
        and options.solver == "highs"
    )


def _lagrangian_stage(inst: _Instance, t0, options):
    """Lagrangian bound and plans; fix the sites that cannot be in a better plan.

    Returns the stage, the instance with those sites fixed, the best plan (open sites and pair
    shares, or None) and whether the stage proved that plan optimal.
    """
    m = inst.pairs.n_sites
    lag = FacilityLagrange(inst.work, inst.f, inst.d, inst.u, inst.opened, inst.closed, t0, options)
    lag.run()
    proven = False
    if lag.plan is not None:
        proven = lag.lower >= lag.goal() or lag.branch_and_bound(CFL_MAX_NODES)
        lag.keep_plan_feasible()
    opened = np.union1d(inst.opened, np.flatnonzero(lag.fix_open)).astype(np.int64)
    closed = np.union1d(inst.closed, np.flatnonzero(lag.fix_closed)).astype(np.int64)
    keep = np.ones(m, dtype=bool)
    keep[closed] = False
    work = _subset(inst.work, keep[inst.work.sites])
    inst = dataclasses.replace(
        inst, work=work, opened=opened, closed=closed, fix_bound=lag.fix_bound
    )
    return lag, inst, lag.start_plan(work), proven


def _mip_stage(inst: _Instance, lag, options, t0, start):
    """The strong MIP from ``start``; its bound is raised to the Lagrangian bound if higher."""
    lower = lag.lower if lag is not None and math.isfinite(lag.lower) else None
    sol_info, y, shares = solve_cfl_mip(
        inst.work,
        inst.f,
        inst.d,
        inst.u,
        inst.opened,
        inst.closed,
        inst.max_open,
        inst.single_source,
        options,
        t0,
        start,
        inst.fix_bound,
        lower,
    )
    if lag is not None and math.isfinite(lag.lower):  # the Lagrangian bound holds for all
        bound = lag.lower if sol_info.bound is None else max(sol_info.bound, lag.lower)
        sol_info = dataclasses.replace(sol_info, bound=bound)
    return sol_info, y, shares


def _checked_result(inst: _Instance, sol_info, y_values, shares, options, t0) -> LocationResult:
    """The plan (site values ``y_values``, pair ``shares``), checked against the model, with its
    status and gap."""
    y = binary_values(y_values)
    flows = np.clip(shares, 0.0, 1.0)
    sites = np.flatnonzero(y)
    objective, assignment = evaluate_plan(
        inst.work,
        inst.f,
        inst.d,
        inst.u,
        y,
        flows,
        inst.opened,
        inst.closed,
        inst.max_open,
        inst.single_source,
    )
    if sol_info.objective is not None and not math.isclose(
        objective, sol_info.objective, rel_tol=CHECK_TOLERANCE, abs_tol=CHECK_TOLERANCE
    ):
        raise SolverError(
            f"recomputed objective {objective!r} differs from the solver's {sol_info.objective!r}"
        )
    integral = is_integral(inst.pairs.cost) and is_integral(inst.f) and inst.single_source
    status, bound, gap = finish_status(
        objective, sol_info.bound, sol_info.status, integral, options.mip_gap
    )
    if status == "optimal" and gap is not None and gap > options.mip_gap * (1 + 1e-6) + 1e-12:
        status = "feasible"  # never call a plan optimal beyond the requested gap
    return LocationResult(
        objective, sites, assignment, status, bound, gap, time.perf_counter() - t0, options.solver
    )


def solve_cfl_mip(
    work,
    f,
    d,
    u,
    opened,
    closed,
    max_open,
    single_source,
    options,
    t0,
    start,
    fix_bound,
    lower=None,
):
    """The strong facility-location MIP over the remaining sites (with an optional start plan).

    Returns the solve info, the site values and the pair shares.
    """
    model = strong_model(work, f, d, u, opened, closed, max_open, single_source)
    mip_options = with_time_left(options, t0)
    if start is not None:
        # the start is near-optimal and the root bound strong: HiGHS's root heuristics and its
        # restart cost more than the search itself (capa 8000: 51 s -> 16 s)
        extra = supported_highs_options(_CFL_MIP_OPTIONS)
        extra.update(mip_options.highs_options or {})
        mip_options = dataclasses.replace(mip_options, highs_options=extra)
    if lower is not None:
        lower -= 1e-7 * max(1.0, abs(lower))  # the subgradient bound, with room for rounding
    vector = None if start is None else model.start(start)
    sol_info, x = _solve_or_fallback(model, mip_options, vector, lower)
    if math.isfinite(fix_bound) and sol_info.bound is not None:
        sol_info = dataclasses.replace(sol_info, bound=min(sol_info.bound, fix_bound))
    return sol_info, model.model.column_values(x, "y"), model.model.column_values(x, "x")


#: Facility location instances with at least this many client x site cells (and split demand,
#: finite capacities, no max_open) get the Lagrangian stage before the MIP (capa/b/c: 100,000).
CFL_LAGRANGE_CELLS = 20_000


#: The Lagrangian stage holds the costs as a dense clients x sites matrix: it is skipped above
#: this many cells, and for sparse input with fewer than a quarter of the pairs allowed.
_CFL_DENSE_CELLS = 20_000_000


#: HiGHS options for the MIP after the Lagrangian stage (overridable through highs_options).
_CFL_MIP_OPTIONS = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_allow_restart": False,
}


#: Branch-and-bound nodes the Lagrangian stage may explore before handing over to the MIP.
CFL_MAX_NODES = 20_000


def _subset(pairs: Pairs, keep: np.ndarray) -> Pairs:
    clients = pairs.clients[keep]
    indptr = np.zeros(pairs.n_clients + 1, dtype=np.int64)
    np.cumsum(np.bincount(clients, minlength=pairs.n_clients), out=indptr[1:])
    return Pairs(indptr, pairs.sites[keep], pairs.cost[keep], pairs.n_clients, pairs.n_sites)


def _check_cfl_inputs(pairs, work, d, u, allowed_site, opened, max_open, single_source):
    if (np.diff(pairs.indptr) == 0).any():
        require_every_client_served(pairs, "")
    reason = " that is not fixed closed"
    if single_source:
        reason += " with enough capacity for its whole demand"
    require_every_client_served(work, reason)
    total = float(d.sum())
    available = float(u[allowed_site].sum())
    if available < total * (1 - 1e-12):
        raise Infeasible(
            f"total capacity {available:g} of the sites that may open is below total demand "
            f"{total:g}",
            {"capacity": total - available},
        )
    if max_open is not None:
        if opened.size > max_open:
            raise Infeasible(
                f"{opened.size} sites are fixed open but max_open = {max_open}",
                {"max_open": float(opened.size - max_open)},
            )
        caps = u.copy()
        caps[~allowed_site] = 0.0
        rest = np.delete(caps, opened)
        best = float(caps[opened].sum() + np.sort(rest)[::-1][: max_open - opened.size].sum())
        if best < total * (1 - 1e-12):
            raise Infeasible(
                f"with at most {max_open} open sites the capacity is at most {best:g}, "
                f"below total demand {total:g}",
                {"capacity": total - best},
            )
