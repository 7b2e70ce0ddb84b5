"""The budget model: arrays of :class:`~allocator.planners.budget.data.BudgetData` -> LP / MILP.

Model
-----
Sets: schools s that have at least one in-scope assessed part; interventions j of the catalogue
(:mod:`allocator.planners.budget.catalogue`); assessed parts k (a school's primary or junior part,
from :func:`allocator.standards.assessment_parts`); indicators i (the standard's assessed indicators
and the extra indicators the region has columns for).

Data: v0[k,i] the indicator before; T[k,i] its threshold (target); p_k the part's pupils; c[s,j] the
unit cost at the school's area type; cap[s,j] the unit cap; B the budget. An intervention adds
``effect_j`` per unit to one school column (and to ``teachers`` for teacher posts); indicator i of
part k is ``scale_i * share_k * column / p_k`` (per-pupil indicators) or the column itself (score
indicators), so each unit adds ``a[k,i,j] = effect_j * share_k * scale_i / p_k`` to it.
Nine-year rule: an intervention at a nine-year school adds to the school's pool, and the assessment
splits that pool between the parts as it splits every resource: primary ``P / (P + 1.1 J)``, junior
``1.1 J / (P + 1.1 J)`` (P, J the primary and junior pupils; the weight is the standard's
``nine_year.junior_weight``). Score indicators (e.g. a safety score) are not split: both parts get
the whole gain.

Variables: x[s,j] >= 0 units (integer for whole-unit interventions unless ``relax``); u[k,i] >= 0 the
normalised shortfall; z (minimax level); g (gap per part type and indicator).

Constraints:
    u[k,i] >= (T[k,i] - v0[k,i] - sum_j a[k,i,j] x[s(k),j]) / T[k,i]        (shortfall)
    x[s,j] >= f[s,j], the least-cost units meeting the policy's targets     (targets.py, floor.py)
    sum_sj c[s,j] x[s,j] <= B                                                 (budget)
    sum over a category <= its cap; sum over a county's schools <= its cap     (caps)
    sum over rural schools >= rho * sum over all schools                      (rural minimum share)
    0 <= x[s,j] <= cap[s,j]
Objectives (``BudgetPolicy.objective``):
    shortfall      min sum_k p_k sum_i u[k,i] / sum_k p_k
    minimax        min z,  z >= u[k,i] - ubar[k,i]; ubar is the shortfall left even when every cap
                   is used, so a shortfall that no money can remove does not hide the others
    gap            min mean over (part type, indicator) of g, g >= +-(M_urban - M_rural) / T, where M
                   is the pupil-weighted mean of the indicator over urban / rural parts
    lexicographic  minimax; then shortfall with u <= z* + ubar; then cost with shortfall <= S*
                   (each stage keeps the previous optimum up to ``stage_tolerance``)

How minimax is solved: C(z), the least cost of keeping every avoidable shortfall within z, is
convex, piecewise linear and non-increasing in z for the LP, and z* = min {z : C(z) <= B}. Each C(z)
is an LP whose shortfall rows act on one school's columns (presolve turns most into bounds); Newton
steps from the left, with the slope -dC/dz = sum of the row duals, stay at or below z* and end on
it. With whole units, bisection on the MIP C(z) between the LP level (a lower bound) and a
rounded-down LP plan (an upper bound) until the relative gap is ``mip_gap``. The plan returned is
the cheapest one at z*: minimax spends no more than the weakest schools need. (One LP with
``z >= u`` has a dense z column and was 20-30x slower.) Whole-unit shortfall models also get
rounding cuts: a row u + a x >= sf0 on one integer column x, with sf0 = a k + rho, implies
u >= rho (k + 1 - x), which makes the LP relaxation the convex hull of that row.

Marginal value of a yuan (:func:`~allocator.planners.budget.planning.budget_frontier`): minus
the LP dual of the budget row, i.e. the objective's fall per extra yuan; for minimax it is
1 / (-dC/dz) at z*, the same number the budget row of the one-LP form would give. A MILP plan's
marginal value comes from its LP relaxation.

:class:`BudgetModel` holds the matrices on scaled unit columns and solves one stage
(:meth:`BudgetModel.solve`) or the minimax level by its cost curve (:meth:`BudgetModel.minimax`);
:func:`add_spending_rows` adds the money rows every model shares. Every model is built with
:class:`~allocator.solver.ModelBuilder` (named column blocks x, u, g and named row groups).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import Infeasible
from allocator.planners.budget.data import BudgetData
from allocator.planners.budget.measures import gap_weights, shortfall, unavoidable
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.targets import add_coupled_rows
from allocator.solver import (
    ColumnBlock,
    LinearModel,
    ModelBuilder,
    RowBlock,
    SolveInfo,
    SolverOptions,
    solve_matrix,
)

__all__ = ["BudgetModel", "add_spending_rows", "clean_units"]


def add_spending_rows(
    b: ModelBuilder,
    x: ColumnBlock,
    data: BudgetData,
    policy: BudgetPolicy,
    cs: np.ndarray,
    with_budget: bool = True,
) -> RowBlock | None:
    """Add the money rows on unit columns ``x`` costing ``cs`` yuan each; returns the budget row.

    Rows, each normalised by its limit: the budget (unless ``with_budget`` is False; group
    ``budget``), each category cap (``category_cap_<name>``), each county cap
    (``county_cap_<county>``) and the rural minimum share (``rural_share``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> policy = BudgetPolicy(budget=1e6, category_caps={"staff": 2e5})
    >>> data = prepare(make_region(schools=20, seed=1), policy)
    >>> b = ModelBuilder()
    >>> x = b.add_columns("x", data.S * data.J)
    >>> budget = add_spending_rows(b, x, data, policy, data.cost.ravel())
    >>> b.build().row_groups
    ('budget', 'category_cap_staff')
    """
    S, J = data.S, data.J
    bs = max(policy.budget, 1.0)
    budget = None
    if with_budget:
        budget = b.add_rows("budget", 1, {x: sp.csr_matrix(cs / bs)}, upper=policy.budget / bs)
    cats = data.catalogue["category"].to_numpy()
    for name, cap in policy.category_caps.items():
        mask = np.tile(cats == name, S)
        norm = max(cap, 1.0)
        row = sp.csr_matrix(np.where(mask, cs, 0.0) / norm)
        b.add_rows(f"category_cap_{name}", 1, {x: row}, upper=cap / norm)
    if policy.county_caps:
        county = data.schools["county"].to_numpy()[data.pos]
        names = list(policy.county_caps)
        code = pd.Index(names).get_indexer(county)
        col = np.arange(S * J)
        s = col // J
        inside = code[s] >= 0
        norms = np.array([max(policy.county_caps[c], 1.0) for c in names])
        rows = sp.csr_matrix(
            (cs[inside] / norms[code[s[inside]]], (code[s[inside]], col[inside])),
            shape=(len(names), S * J),
        )
        for k, c in enumerate(names):
            cap = policy.county_caps[c]
            b.add_rows(f"county_cap_{c}", 1, {x: rows[k]}, upper=cap / max(cap, 1.0))
    if policy.rural_min_share > 0:
        rural = np.repeat(data.schools["area_type"].to_numpy()[data.pos] == "rural", J)
        row = sp.csr_matrix(cs * (rural - policy.rural_min_share) / bs)
        b.add_rows("rural_share", 1, {x: row}, lower=0.0)
    return budget


# --------------------------------------------------------------------------- the LP / MILP
class BudgetModel:
    """Matrices of the budget model on scaled x columns; columns x | u | g.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> from allocator.solver import SolverOptions
    >>> model = BudgetModel(data, BudgetPolicy(budget=1e6, relax=True), relax=True)
    >>> sol, stage = model.solve("shortfall", SolverOptions())
    >>> [b.name for b in stage.column_blocks], sol.info.status
    (['x', 'u', 'g'], 'optimal')
    """

    def __init__(self, data: BudgetData, policy: BudgetPolicy, relax: bool):
        self.data, self.policy = data, policy
        S, J, K, n_ind = data.S, data.J, data.K, data.n_ind
        self.nx = S * J
        integer = np.tile(data.integer & (not relax), S)
        self.integer_x = integer
        # scale continuous columns to "one unit lifts the school's indicator by one threshold"
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = data.E.multiply(1.0 / np.nan_to_num(data.T, nan=np.inf).reshape(-1, 1))
        norm = sp.csr_matrix(norm)
        gain = np.asarray(abs(norm).max(axis=0).todense()).ravel() if self.nx else np.zeros(0)
        scale = np.where(gain > 0, 1.0 / np.where(gain > 0, gain, 1.0), 1.0)
        self.scale = np.where(integer, 1.0, scale)
        self.cost = data.cost.ravel()
        self.cs = self.cost * self.scale
        self.xub = data.cap.ravel() / self.scale
        floor = np.zeros(self.nx) if data.floor is None else data.floor
        self.xlb = floor / self.scale  # the units the policy's targets need (targets.py)
        finite = self.xub > 0
        self.cost_norm = float(self.cs[finite].max()) if finite.any() else 1.0
        sf0 = shortfall(data, data.v0).ravel()
        self.ubar = unavoidable(data)
        self.d = np.flatnonzero(sf0 > 0)
        self.nd = len(self.d)
        self.sf0_d = sf0[self.d]
        self.ubar_d = self.ubar.ravel()[self.d]
        p = data.parts["pupils"].to_numpy(float)
        self.w_d = (p / p.sum())[self.d // n_ind] if K else np.zeros(0)
        self.A_short = norm[self.d] @ sp.diags(self.scale)
        # minimax rows that can bind: sum_j a x >= sf0 - ubar - z
        self.live = np.flatnonzero(self.sf0_d - self.ubar_d > 0)
        self.r_live = self.sf0_d[self.live] - self.ubar_d[self.live]
        self._rounding_cuts()
        self.gap_w = gap_weights(data)
        W, _, tg = self.gap_w
        self.ng = len(tg)
        if self.ng:
            self.D = sp.diags(1.0 / tg) @ (W @ data.E) @ sp.diags(self.scale)
            self.d0 = (W @ data.v0.ravel()) / tg
        self.n = self.nx + self.nd + self.ng  # columns of a stage model
        self.budget_scale = max(policy.budget, 1.0)
        self._least_cost_model: LinearModel | None = None
        self._minimax_rows: RowBlock | None = None

    def _rounding_cuts(self):
        """Rounding cuts for whole units: a shortfall row u + a x >= sf0 on one integer column x
        with sf0 = a k + rho (k whole, 0 < rho < a) also implies u >= rho (k + 1 - x) at every
        whole x. They make the LP relaxation the convex hull of each such row and close most of
        the integrality gap (teachers and rooms at small schools)."""
        self.cut_rows = self.cut_col = np.zeros(0, np.int64)
        self.cut_rho = self.cut_rhs = np.zeros(0)
        if not self.integer_x.any() or not self.nd:
            return
        A = self.A_short.tocsr()
        single = np.flatnonzero(np.diff(A.indptr) == 1)
        col = A.indices[A.indptr[single]]
        a = A.data[A.indptr[single]]
        keep = self.integer_x[col] & (a > 0)
        single, col, a = single[keep], col[keep], a[keep]
        sf0 = self.sf0_d[single]
        k = np.floor(sf0 / a + 1e-12)
        rho = sf0 - a * k
        keep = (rho > 1e-9) & (k + 1 <= self.xub[col] + 1e-9)
        self.cut_rows, self.cut_col = single[keep], col[keep]
        self.cut_rho, self.cut_rhs = rho[keep], rho[keep] * (k[keep] + 1)

    def stage_model(self, objective, fix_z=None, fix_s=None) -> LinearModel:
        """The model of one stage: ``objective`` (shortfall, gap or cost) on columns x | u | g,
        keeping the minimax level ``fix_z`` and the shortfall ``fix_s`` when given."""
        if objective not in ("shortfall", "gap", "cost"):
            raise ValueError(f"unknown stage objective {objective!r}")
        b = ModelBuilder()
        x_cost = self.cs / self.cost_norm if objective == "cost" else 0.0
        x = b.add_columns(
            "x", self.nx, cost=x_cost, lower=self.xlb, upper=self.xub, integer=self.integer_x
        )
        u = b.add_columns("u", self.nd, cost=self.w_d if objective == "shortfall" else 0.0)
        g = b.add_columns("g", self.ng, cost=1.0 / max(self.ng, 1) if objective == "gap" else 0.0)
        if objective != "gap":
            terms = {x: self.A_short, u: sp.identity(self.nd)}
            b.add_rows("shortfall", self.nd, terms, lower=self.sf0_d)
        if objective in ("shortfall", "cost"):
            n_cut = len(self.cut_rows)
            rows = np.arange(n_cut)
            terms = {x: (rows, self.cut_col, self.cut_rho), u: (rows, self.cut_rows, 1.0)}
            b.add_rows("shortfall_cut", n_cut, terms, lower=self.cut_rhs)
        add_spending_rows(b, x, self.data, self.policy, self.cs)
        add_coupled_rows(b, x, self.data, self.scale)
        if objective == "gap" and self.ng:
            eye = sp.identity(self.ng)
            b.add_rows("gap__above", self.ng, {x: -self.D, g: eye}, lower=self.d0)
            b.add_rows("gap__below", self.ng, {x: self.D, g: eye}, lower=-self.d0)
        if fix_z is not None:
            # keep the minimax level: sum_j a x >= sf0 - ubar - z* (rows on one column are bounds)
            terms = {x: self.A_short[self.live]}
            b.add_rows("stage_minimax", len(self.live), terms, lower=self.r_live - fix_z)
        if fix_s is not None and self.nd:
            b.add_rows("stage_shortfall", 1, {u: self.w_d.reshape(1, -1)}, upper=fix_s)
        return b.build()

    def solve(self, objective, options, fix_z=None, fix_s=None, start_units=None):
        """Solve one stage (:meth:`stage_model`), from ``start_units`` (a MIP start) if given.

        Returns (MatrixSolution, LinearModel)."""
        model = self.stage_model(objective, fix_z, fix_s)
        start = None if start_units is None else self._start(model, start_units)
        return solve_matrix(model, options=options, start=start), model

    def budget_dual(self, sol, model: LinearModel) -> float | None:
        """d objective / d budget (per yuan) of an LP stage solution; None for a MIP."""
        if sol.row_duals is None or self.integer_x.any():
            return None
        budget = next(rb for rb in model.row_blocks if rb.name == "budget")
        return float(sol.row_duals[budget.start]) / self.budget_scale

    # ----------------------------------------------------------------- minimax by its cost curve
    def least_cost(self, z, options, integer):
        """Least yuan with every avoidable shortfall <= z (no budget row).

        Returns (cost, bound, slope, units) or None when the caps make z unreachable; ``slope`` is
        -dC/dz from the LP duals (None for a MIP)."""
        model = self._least_cost(z, integer)
        try:
            sol = solve_matrix(model, options=options)
        except Infeasible:
            return None
        cost = sol.info.objective * self.cost_norm
        bound = cost if sol.info.bound is None else sol.info.bound * self.cost_norm
        slope = None
        if sol.row_duals is not None and not model.is_mip:
            rows = self._minimax_rows
            slope = float(np.maximum(sol.row_duals[rows.start : rows.stop], 0.0).sum())
            slope *= self.cost_norm
        return cost, bound, slope, model.column_values(sol.x, "x"), sol.info

    def _least_cost(self, z, integer: bool) -> LinearModel:
        """The least-cost model at level z: columns x, rows ``minimax`` then the money rows
        without the budget. Built once; each level changes only the minimax rows' lower bounds."""
        if self._least_cost_model is None:
            b = ModelBuilder()
            cost = self.cs / self.cost_norm
            x = b.add_columns("x", self.nx, cost=cost, lower=self.xlb, upper=self.xub)
            terms = {x: self.A_short[self.live]}
            self._minimax_rows = b.add_rows("minimax", len(self.live), terms, lower=self.r_live)
            add_spending_rows(b, x, self.data, self.policy, self.cs, with_budget=False)
            add_coupled_rows(b, x, self.data, self.scale)
            self._least_cost_model = b.build()
        base = self._least_cost_model
        lower = base.row_lower.copy()
        lower[: len(self.live)] = self.r_live - z
        integrality = self.integer_x if integer else np.zeros(self.nx, bool)
        return dataclasses.replace(base, row_lower=lower, integrality=integrality)

    def minimax(self, options: SolverOptions, say):
        """Smallest avoidable shortfall level z the budget can reach, and the cheapest plan for it.

        C(z), the least cost of keeping every normalised shortfall within z (+ its unavoidable
        part), is convex, piecewise linear and falls with z in the LP; z* is the least z with
        C(z) <= B. Newton steps from the left on C (its slope is the sum of the LP duals) stay
        at or below z* and end on it; for whole units, bisection on the MIP cost between the LP
        optimum (a lower bound) and a rounded-down LP plan (an upper bound).
        Returns (units, SolveInfo, z, budget_dual)."""
        t0 = time.perf_counter()
        B = self.policy.budget
        slack = 1e-9 * max(B, 1.0)
        seconds, solver = 0.0, options.solver
        if len(self.live) == 0:
            info = SolveInfo("optimal", 0.0, 0.0, 0.0, 0.0, solver)
            return self.xlb * self.scale, info, 0.0, 0.0
        lp_opts = dataclasses.replace(options, time_limit=None)
        lo, hi = 0.0, float(self.r_live.max())
        x_hi, slope_hi = np.zeros(self.nx), 0.0
        q = self.least_cost(0.0, lp_opts, integer=False)
        steps = 1
        if q is not None and q[0] <= B + slack:
            hi, x_hi, slope_hi = 0.0, q[3], q[2]
        else:
            newton = q
            while hi - lo > 1e-12 * max(hi, 1.0) and steps < 200:
                if newton is not None and newton[2] and newton[2] > 0:
                    z = min(lo + (newton[0] - B) / newton[2], hi)
                    step = "newton"
                    if z <= lo:
                        z, step = 0.5 * (lo + hi), "bisect"
                else:
                    z, step = 0.5 * (lo + hi), "bisect"
                q = self.least_cost(z, lp_opts, integer=False)
                steps += 1
                if q is not None and q[0] <= B + slack:
                    hi, x_hi, slope_hi = z, q[3], q[2]
                    if step == "newton":
                        lo = z
                        break
                else:
                    lo, newton = z, q
        say(f"minimax LP: level {hi:.6g} after {steps} least-cost solves")
        if not self.integer_x.any():
            seconds = time.perf_counter() - t0
            gap = (hi - lo) / max(hi, 1e-9) if hi > lo else 0.0
            info = SolveInfo("optimal", hi, lo, gap, seconds, solver)
            dual = -1.0 / slope_hi if slope_hi else 0.0
            return x_hi * self.scale, info, hi, dual
        # whole units: the LP level is a lower bound; the LP plan rounded down is feasible
        proven_lo = lo_m = lo
        x_lp = x_hi * self.scale
        x_round = np.where(self.integer_x, np.floor(x_lp + 1e-9), x_lp) / self.scale
        x_round = np.maximum(x_round, self.xlb)  # the targets' units are whole already
        z_round = self._level(x_round)
        hi_m, x_best = float(z_round), x_round
        target = options.mip_gap
        mip_opts = dataclasses.replace(options, mip_gap=min(options.mip_gap, 1e-6))
        status = "optimal"
        while hi_m - proven_lo > max(target * hi_m, 1e-9):
            if options.time_limit is not None:
                left = options.time_limit - (time.perf_counter() - t0)
                if left <= 0:
                    status = "feasible"
                    break
                mip_opts = dataclasses.replace(mip_opts, time_limit=left)
            z = 0.5 * (lo_m + hi_m)
            q = self.least_cost(z, mip_opts, integer=True)
            steps += 1
            if q is not None and q[0] <= B + slack:
                hi_m, x_best = z, q[3]
            else:
                lo_m = z
                if q is None or q[1] > B + slack:
                    proven_lo = z
            if hi_m - lo_m <= max(target * hi_m, 1e-9) * 1e-3:
                break  # the MIP cannot prove the rest
        seconds = time.perf_counter() - t0
        hi_m = min(hi_m, self._level(x_best))  # whole units may overshoot the level asked for
        gap = (hi_m - proven_lo) / max(hi_m, 1e-9) if hi_m > proven_lo else 0.0
        if gap > target + 1e-12:
            status = "feasible"
        say(f"minimax MIP: level {hi_m:.6g}, gap {gap:.2%} after {steps} least-cost solves")
        info = SolveInfo(status, hi_m, proven_lo, gap, seconds, solver)
        return x_best * self.scale, info, hi_m, None

    def _level(self, x_scaled) -> float:
        """The minimax level (largest avoidable shortfall) of scaled units."""
        if not len(self.live):
            return 0.0
        return float(max(0.0, (self.r_live - self.A_short[self.live] @ x_scaled).max()))

    def units(self, sol, model: LinearModel) -> np.ndarray:
        """The units (S*J,) of a stage solution, cleaned (:func:`clean_units`)."""
        x = model.column_values(sol.x, "x") * self.scale
        return clean_units(x, self.data, self.integer_x, self.scale)

    def _start(self, model: LinearModel, units: np.ndarray) -> np.ndarray:
        """A full column vector of a stage model for a MIP start from units (u and g at their
        implied values)."""
        data = self.data
        v = data.v0 + (data.E @ units).reshape(data.K, data.n_ind)
        sf = shortfall(data, v).ravel()[self.d]
        g = np.abs(self.gap_w[0] @ v.ravel()) / self.gap_w[2] if self.ng else np.zeros(0)
        start = np.zeros(model.shape[1])
        for name, values in (("x", units / self.scale), ("u", sf), ("g", g)):
            start[model.columns[name]] = values
        return start


def clean_units(x, data: BudgetData, integer_x, scale) -> np.ndarray:
    """Round whole units at 0.5, clip solver noise at 0 and at the caps, drop dust.

    Noise is judged on the solver's (scaled) columns: up to 1e-6 of a scaled unit or of the value
    (CBC reports about 8 significant digits); anything larger is left for the verification.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> import numpy as np
    >>> x = np.full(data.S * data.J, -1e-12)
    >>> bool((clean_units(x, data, np.zeros(x.size, bool), np.ones(x.size)) == 0).all())
    True
    """
    cap = data.cap.ravel()
    noise = 1e-6 * np.maximum(scale, np.abs(x))
    x = np.where(integer_x, np.round(x), x)
    x = np.where((x < 0) & (x > -noise), 0.0, x)
    x = np.where(np.abs(x) < 1e-9 * np.maximum(1.0, np.where(np.isinf(cap), 1.0, cap)), 0.0, x)
    over = (x > cap) & (x <= cap + noise)
    x = np.where(over, cap, x)
    dust = (~integer_x) & (x * data.cost.ravel() < 1e-3)
    return np.where(dust, 0.0, x)
