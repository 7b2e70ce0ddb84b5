"""What p-median and facility location share: the result type, input handling, the MIP model."""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError
from allocator.solver import LinearModel, SolverOptions, binary_values, relative_gap, solve_matrix

#: Relative MIP gap used when no options are given: tight enough that OR-Library optima are exact.
DEFAULT_MIP_GAP = 1e-7


#: Relative tolerance of the checks a result passes (recomputed objective against the solver's).
CHECK_TOLERANCE = 1e-6


@dataclass(frozen=True)
class LocationResult:
    """A location plan: which sites are open and which site serves each client.

    Attributes
    ----------
    objective : float
        Cost of the plan, recomputed from ``sites`` and ``assignment``.
    sites : numpy.ndarray of int
        Sorted indices of the open sites.
    assignment : numpy.ndarray of int or scipy.sparse.csr_matrix
        For p-median and single-source facility location, the site serving each client. For split
        demand, a clients x sites sparse matrix of the share of each client's demand served by each
        site (rows sum to 1).
    status : str
        ``"optimal"`` (proven within the MIP gap) or ``"feasible"`` (stopped early, see ``gap``).
    bound : float or None
        Best proven lower bound on the optimum.
    gap : float or None
        Relative gap between ``objective`` and ``bound``.
    seconds : float
        Wall time, including model building and the heuristic start.
    solver : str
        The MIP solver that ran (``"highs"`` or ``"cbc"``).

    Examples
    --------
    >>> import numpy as np
    >>> from allocator.location import p_median
    >>> r = p_median(np.array([[0.0, 2.0], [3.0, 0.0], [1.0, 5.0]]), p=1)
    >>> r.objective, r.sites.tolist(), r.assignment.tolist(), r.status
    (4.0, [0], [0, 0, 0], 'optimal')
    """

    objective: float
    sites: np.ndarray
    assignment: np.ndarray | sp.csr_matrix
    status: str
    bound: float | None
    gap: float | None
    seconds: float
    solver: str = "highs"

    @property
    def is_optimal(self) -> bool:
        return self.status == "optimal"


class Pairs(NamedTuple):
    """Allowed client-site pairs in CSR layout (rows = clients), sorted by client then site.

    ``sites[indptr[i]:indptr[i + 1]]`` are client i's allowed sites and ``cost`` the matching
    costs; :func:`allowed_pairs` builds one from a cost matrix.
    """

    indptr: np.ndarray
    sites: np.ndarray
    cost: np.ndarray
    n_clients: int
    n_sites: int

    @property
    def clients(self) -> np.ndarray:
        """The client of each pair."""
        return np.repeat(np.arange(self.n_clients), np.diff(self.indptr))


def allowed_pairs(cost, name: str) -> Pairs:
    """Allowed pairs of a dense (inf = not allowed) or sparse (stored = allowed) cost matrix.

    ``name`` names the matrix in error messages.

    Examples
    --------
    >>> import numpy as np
    >>> pairs = allowed_pairs(np.array([[1.0, np.inf], [2.0, 3.0]]), "cost")
    >>> pairs.clients.tolist(), pairs.sites.tolist(), pairs.cost.tolist()
    ([0, 1, 1], [0, 0, 1], [1.0, 2.0, 3.0])
    """
    if sp.issparse(cost):
        coo = sp.coo_matrix(cost)
        n, m = coo.shape
        rows = np.asarray(coo.row, dtype=np.int64)
        cols = np.asarray(coo.col, dtype=np.int64)
        vals = np.asarray(coo.data, dtype=float)
        key = rows * m + cols
        if np.unique(key).size != key.size:
            raise InputError(
                f"{name} stores some (client, site) pair more than once; "
                "expected at most one entry per pair (call sum_duplicates() if sums are meant)"
            )
        order = np.argsort(key, kind="stable")
        rows, cols, vals = rows[order], cols[order], vals[order]
    else:
        arr = np.asarray(cost, dtype=float)
        if arr.ndim != 2:
            raise InputError(f"{name} must be a 2-d clients x sites matrix, got shape {arr.shape}")
        n, m = arr.shape
        if np.isnan(arr).any():
            i, j = np.argwhere(np.isnan(arr))[0]
            raise InputError(f"{name}[{i}, {j}] is NaN; use inf to mark a pair that is not allowed")
        rows, cols = np.nonzero(arr < np.inf)
        vals = arr[rows, cols]
    if n == 0 or m == 0:
        raise InputError(f"{name} must have at least one client and one site, got shape {(n, m)}")
    if not np.isfinite(vals).all():
        bad = np.flatnonzero(~np.isfinite(vals))[0]
        raise InputError(
            f"{name}[{rows[bad]}, {cols[bad]}] = {vals[bad]}; costs must be finite numbers "
            "(+inf in a dense matrix marks a pair that is not allowed)"
        )
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return Pairs(indptr, cols.astype(np.int64), vals, int(n), int(m))


def as_vector(values, n: int, name: str, default: float | None = None) -> np.ndarray:
    """``values`` as a float vector of length ``n`` (a scalar is repeated; None gives ``default``).

    Raises InputError on a wrong length, NaN, or a missing value without a default.

    Examples
    --------
    >>> as_vector(2.0, 3, "capacity").tolist(), as_vector(None, 2, "weights", default=1).tolist()
    ([2.0, 2.0, 2.0], [1.0, 1.0])
    """
    if values is None:
        if default is None:
            raise InputError(f"{name} is required")
        return np.full(n, float(default))
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise InputError(f"{name} must have length {n}, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise InputError(f"{name}[{int(np.flatnonzero(np.isnan(arr))[0])}] is NaN")
    return arr


def site_indices(values, m: int, name: str) -> np.ndarray:
    """Sorted unique site indices of ``values`` (None: none), each checked to be in 0..m-1.

    Examples
    --------
    >>> site_indices([3, 1, 3], 5, "fixed_open").tolist()
    [1, 3]
    """
    if values is None:
        return np.zeros(0, dtype=np.int64)
    arr = np.unique(np.asarray(list(values), dtype=np.int64))
    if arr.size and (arr[0] < 0 or arr[-1] >= m):
        bad = arr[0] if arr[0] < 0 else arr[-1]
        raise InputError(f"{name} contains site {bad}, expected indices in 0..{m - 1}")
    return arr


def require_every_client_served(pairs: Pairs, what: str) -> None:
    """Raise Infeasible naming the clients without an allowed pair (``what`` qualifies "site")."""
    counts = np.diff(pairs.indptr)
    if (counts == 0).any():
        lonely = np.flatnonzero(counts == 0)
        shown = ", ".join(str(i) for i in lonely[:10]) + (" ..." if lonely.size > 10 else "")
        raise Infeasible(
            f"client {lonely[0]} has no allowed site{what}"
            + (f" ({lonely.size} clients in all: {shown})" if lonely.size > 1 else ""),
            {f"client {i}": 1.0 for i in lonely},
        )


def resolve_options(options: SolverOptions | None) -> SolverOptions:
    """The given solver options, or the default (HiGHS with :data:`DEFAULT_MIP_GAP`)."""
    if options is None:
        return SolverOptions(mip_gap=DEFAULT_MIP_GAP)
    if not isinstance(options, SolverOptions):
        raise InputError(f"options must be an allocator.solver.SolverOptions, got {options!r}")
    return options


def with_time_left(options: SolverOptions, t0: float) -> SolverOptions:
    """``options`` with the time limit cut to what is left since ``t0`` (at least 0.05 s)."""
    if options.time_limit is None:
        return options
    left = max(options.time_limit - (time.perf_counter() - t0), 0.05)
    return dataclasses.replace(options, time_limit=left)


def is_integral(values: np.ndarray) -> bool:
    """True when every value is a whole number (up to rounding).

    Examples
    --------
    >>> is_integral(np.array([1.0, 2.0])), is_integral(np.array([0.5]))
    (True, False)
    """
    return bool(np.all(np.abs(values - np.round(values)) <= 1e-9 * np.maximum(1, np.abs(values))))


def finish_status(objective, bound, status, integral_data, mip_gap):
    """Status and gap of a solved plan; integral data proves optimality when bound > obj - 1."""
    if bound is not None and integral_data and math.ceil(bound - 1e-6) >= objective - 1e-6:
        return "optimal", objective, 0.0
    if bound is None:
        return status, None, None
    return status, bound, relative_gap(objective, bound)


class LocationModel(NamedTuple):
    """A location MIP: the model, a start builder and the site of each ``y`` column.

    The model's columns begin with the block ``y`` (one per candidate site in ``sites``).
    """

    model: LinearModel
    start: object  # callable: open sites -> full start vector (or None)
    sites: np.ndarray  # site index of each y column

    def solve(self, options: SolverOptions, start=None, bound=None):
        """Hand the model to :func:`allocator.solver.solve_matrix` (``start``: a full vector;
        ``bound``: a valid lower bound on the optimum)."""
        return solve_matrix(self.model, options=options, start=start, bound=bound)

    def open_sites(self, x: np.ndarray) -> np.ndarray:
        """The sites whose ``y`` is 1 in the solution ``x``."""
        return self.sites[binary_values(self.model.column_values(x, "y"))]
