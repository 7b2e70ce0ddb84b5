"""Exact p-median and capacitated facility location on a cost matrix.

Generic core: clients, candidate sites and the cost of serving a client from a site; nothing here
knows about schools. Costs come as a dense numpy array (``inf`` marks a pair that is not allowed) or
as a scipy.sparse matrix in which a *stored* entry is an allowed pair (an explicitly stored zero is
an allowed pair of cost 0) and a missing entry is not allowed.

p-median (radius formulation, Elloumi 2010)
    Sets: clients i with weights w_i >= 0; sites j; allowed pairs (i, j) with cost c_ij.
    For client i let D_i1 < D_i2 < ... < D_iK be its distinct allowed costs, keeping only those up
    to the (m - p + 1)-th smallest (with p of the m sites open, one of those is always open).
    Variables: y_j in {0, 1} (site j open); z_ik in [0, 1], k = 1 .. K-1 (client i has no open site
    at cost <= D_ik).
    Objective: min sum_i w_i (D_i1 + sum_k (D_i,k+1 - D_ik) z_ik).
    Constraints: sum_j y_j = p;
    z_i1 + sum_{j: c_ij = D_i1} y_j >= 1;
    z_ik - z_i,k-1 + sum_{j: c_ij = D_ik} y_j >= 0 for 1 < k < K;
    sum_{j: c_ij = D_iK} y_j - z_i,K-1 >= 0.
    Summing the chain gives z_ik >= 1 - sum_{j: c_ij <= D_ik} y_j, so at an optimum client i pays
    the cost of its nearest open allowed site. The LP bound equals that of the classical
    assignment formulation with x_ij <= y_j, with about one nonzero per allowed pair instead of
    n x m binary assignment variables.
    Solve (:mod:`allocator.location.pmedian`): a greedy start improved by vertex interchange
    (Teitz-Bart, with the Whitaker fast-interchange gains); subgradient optimisation of the
    Lagrangian relaxation of "every client is served" (multipliers lam_i, site values
    rho_j = sum_i min(0, w_i c_ij - lam_i)) gives a bound L; a site is closed when
    L + rho_j - rho_[p] exceeds the best plan by the goal margin, and a pair (i, j) is dropped
    when L + max(w_i c_ij - lam_i, 0) + max(rho_j - rho_[p], 0) does (no better plan serves i
    from j). With many clients per site (n >= 12 p) a depth-first branch and bound on sites with
    a Lagrangian bound at every node finishes the proof; otherwise the radius model over the
    remaining sites and pairs goes to HiGHS with the best plan as incumbent. The reduced model is
    exact by construction: when the solver's plan costs less than the model says (it needs a
    dropped pair), those pairs are restored and the model is solved again; its optimum stays a
    valid bound, since every plan worth finding uses only kept pairs. Sparse input (fewer than
    half the pairs allowed) and matrices above 20 million cells never become a dense matrix: the
    greedy start, the interchange and the Lagrangian bound of
    :mod:`allocator.location.pmedian_sparse` work on the allowed pairs alone. Every stage checks
    the clock; a plan is "optimal" only when proven.

Capacitated facility location (OR-Library convention)
    Sets: clients i with demand d_i >= 0; sites j with opening cost f_j and capacity u_j; allowed
    pairs (i, j) with cost c_ij of serving all of client i's demand from j.
    Variables: y_j in {0, 1}; x_ij in [0, 1] the share of client i's demand served by site j
    (in {0, 1} with single sourcing).
    Objective: min sum_j f_j y_j + sum_ij c_ij x_ij.
    Constraints: sum_j x_ij = 1 for every client; sum_i d_i x_ij <= u_j y_j for every site;
    x_ij <= y_j for every allowed pair (the strong linking); sum_j u_j y_j >= sum_i d_i (the
    aggregate capacity cut); sum_j y_j <= max_open if given; y_j = 1 for fixed_open sites and
    y_j = 0 for fixed_closed sites.
    Large split-demand instances (finite capacities, no max_open) first get a Lagrangian stage:
    the demand rows are relaxed with multipliers lam_i, which splits the model into one
    fractional knapsack per site plus the choice of sites under the aggregate capacity cut; the
    subgradient method gives a lower bound, the sites the relaxation opens are repaired into plans
    by a transportation LP and a drop/add/swap local search, and a site whose Lagrangian bound
    with it forced open (closed) exceeds the best plan is fixed closed (open). A depth-first
    branch and bound on sites (:mod:`allocator.location.facility`) then proves the best plan
    optimal within the MIP gap, with the Lagrangian bound and the same fixing at every node;
    only if it runs out of nodes or time does the strong MIP take over from the best plan.

Modules: :mod:`~allocator.location.common` (result type, input handling, the MIP model wrapper),
:mod:`~allocator.location.pmedian` (the staged p-median solve),
:mod:`~allocator.location.pmedian_dense` and :mod:`~allocator.location.pmedian_sparse` (its
heuristic and Lagrangian stages on a matrix or on the allowed pairs),
:mod:`~allocator.location.pmedian_model` (the radius model),
:mod:`~allocator.location.facility` (the facility-location solve),
:mod:`~allocator.location.facility_lagrange` (its Lagrangian stage),
:mod:`~allocator.location.facility_model` (the strong MIP and the plan check),
:mod:`~allocator.location.orlib` (benchmark file readers),
:mod:`~allocator.location.levels` (facility location with capacity levels, coverage and tagged
share targets and a budget; its model is stated there),
:mod:`~allocator.location.level_resource` (a second resource in that model: units used per unit
served, free up to each level's allowance, bought beyond it).

Every result is checked against its model after the solve: the objective is recomputed from the
returned sites and assignment and must equal the solver's.
"""

from allocator.location.benders import benders_facility_location, benders_p_median
from allocator.location.common import DEFAULT_MIP_GAP, LocationResult
from allocator.location.facility import facility_location
from allocator.location.levels import LevelResult, SiteLevels, SiteResource, levelled_location
from allocator.location.orlib import CapInstance, PMedianInstance, read_orlib_cap, read_orlib_pmed
from allocator.location.pmedian import p_median

__all__ = [
    "LocationResult",
    "PMedianInstance",
    "CapInstance",
    "p_median",
    "facility_location",
    "read_orlib_pmed",
    "read_orlib_cap",
    "DEFAULT_MIP_GAP",
    "SiteLevels",
    "SiteResource",
    "LevelResult",
    "levelled_location",
    "benders_p_median",
    "benders_facility_location",
]
