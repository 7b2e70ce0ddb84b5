"""Every plan checked against its model, and the indicators after a plan recomputed independently.

:func:`verify` checks the units (no negative ones, none above a cap, whole where required), the
money (budget, category and county caps, rural share: within the solver's tolerance for the
solver's units, at the fen for rounded purchases) and that the indicators recomputed by
:func:`allocator.standards.assessment_parts` on the changed schools equal the model's.
:func:`check_objective` checks that the objective recomputed from the plan equals the solver's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import allocator.standards as standards
from allocator.errors import SolverError
from allocator.planners.budget.data import BudgetData
from allocator.planners.budget.measures import plan_measures
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.rounding import spending_excess

__all__ = [
    "SPEND_RTOL",
    "applied_values",
    "verify",
    "check_objective",
]

#: Spending may exceed the budget by this relative amount (solver tolerance) and no more.
SPEND_RTOL = 1e-6


def applied_values(data: BudgetData, units: np.ndarray) -> np.ndarray:
    """Indicators (K, I) of the region after ``BudgetPlan.apply`` (whole counts rounded down).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> import numpy as np
    >>> bool(np.allclose(applied_values(data, np.zeros(data.S * data.J)), data.v0))
    True
    """
    return _recompute_indicators(data, _changed_schools(data, units, whole_counts=True))


def _changed_schools(data: BudgetData, units: np.ndarray, whole_counts: bool) -> pd.DataFrame:
    """The schools table with the plan's resources added (fractional unless whole_counts)."""
    schools = data.schools.copy()
    x = units.reshape(data.S, data.J)
    added: dict[str, np.ndarray] = {}
    for j, row in enumerate(data.catalogue.itertuples(index=False)):
        amount = x[:, j] * row.effect
        for col in [data.column_of[j]] + (["teachers"] if row.adds_teachers else []):
            added[col] = added.get(col, np.zeros(data.S)) + amount
    for col, amount in added.items():
        full = np.zeros(len(schools))
        full[data.pos] = amount
        current = schools[col].to_numpy()
        if whole_counts and np.issubdtype(current.dtype, np.integer):
            schools[col] = current + np.floor(full + 1e-9).astype(np.int64)
        else:
            schools[col] = current.astype(float) + full
    return schools


def _recompute_indicators(data: BudgetData, schools: pd.DataFrame) -> np.ndarray:
    """Indicators of the candidate parts recomputed from a schools table (the standard's code)."""
    parts = standards.assessment_parts(schools, data.standard)
    key = pd.MultiIndex.from_arrays([parts["school_id"], parts["part"]])
    want = pd.MultiIndex.from_arrays([data.parts["school_id"], data.parts["part"]])
    idx = key.get_indexer(want)
    if (idx < 0).any():
        raise SolverError("verification failed: an assessed part disappeared after the plan")
    v = np.zeros((data.K, data.n_ind))
    part_pos = data.pos[data.parts["s"].to_numpy()]
    for i, name in enumerate(data.indicators):
        if data.is_standard[i]:
            v[:, i] = parts[name].to_numpy(float)[idx]
        else:
            v[:, i] = data.coef[:, i] * schools[data.source[i]].to_numpy(float)[part_pos]
    return v


def verify(
    data: BudgetData,
    policy: BudgetPolicy | None,
    units: np.ndarray,
    integral: np.ndarray,
    purchases: bool = False,
    with_budget: bool = True,
):
    """Check a plan against its model; returns the recomputed indicators (K, I).

    The solver's units (``purchases=False``) may exceed the money by the solver's tolerance
    (1e-6 relative); rounded purchases (``purchases=True``) are compared at the fen and may not
    exceed the budget (unless ``with_budget`` is False), any cap or the rural share at all.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> import numpy as np
    >>> no_units = np.zeros(data.S * data.J)
    >>> after = verify(data, BudgetPolicy(budget=1e6), no_units, np.tile(data.integer, data.S))
    >>> bool(np.allclose(after, data.v0))
    True
    """
    problems = []
    cap = data.cap.ravel()
    cost = data.cost.ravel()
    if (units < 0).any():
        problems.append(f"{int((units < 0).sum())} negative unit counts")
    if (units > cap * (1 + 1e-9) + 1e-9).any():
        problems.append(f"{int((units > cap * (1 + 1e-9) + 1e-9).sum())} caps exceeded")
    if (integral & (units != np.round(units))).any():
        problems.append("fractional units of a whole-unit intervention")
    spend = units * cost
    spent = float(spend.sum())
    if purchases:
        for name, over in spending_excess(data, policy, units, with_budget):
            problems.append(f"{name} exceeded by {over:,.2f} yuan")
    elif policy is not None:
        if spent > policy.budget * (1 + SPEND_RTOL) + 1e-6:
            problems.append(f"spent {spent:,.2f} yuan above the budget {policy.budget:,.2f}")
        by_school = spend.reshape(data.S, data.J)
        cats = data.catalogue["category"].to_numpy()
        for name, capv in policy.category_caps.items():
            got = float(by_school[:, cats == name].sum())
            if got > capv * (1 + SPEND_RTOL) + 1e-6:
                problems.append(f"category {name}: {got:,.2f} yuan above its cap {capv:,.2f}")
        county = data.schools["county"].to_numpy()[data.pos]
        for name, capv in policy.county_caps.items():
            got = float(by_school[county == name].sum())
            if got > capv * (1 + SPEND_RTOL) + 1e-6:
                problems.append(f"county {name}: {got:,.2f} yuan above its cap {capv:,.2f}")
        if policy.rural_min_share > 0:
            rural = data.schools["area_type"].to_numpy()[data.pos] == "rural"
            got = float(by_school[rural].sum())
            if got < policy.rural_min_share * spent - SPEND_RTOL * max(spent, 1.0):
                problems.append(f"rural share {got / spent:.4f} below {policy.rural_min_share}")
    predicted = data.v0 + (data.E @ units).reshape(data.K, data.n_ind)
    recomputed = _recompute_indicators(data, _changed_schools(data, units, whole_counts=False))
    err = np.abs(recomputed - predicted) / np.maximum(1.0, np.abs(predicted))
    if err.size and err.max() > 1e-7:
        k, i = np.unravel_index(int(err.argmax()), err.shape)
        problems.append(
            f"indicator {data.indicators[i]} of {data.parts['school_id'].iloc[k]} recomputes "
            f"to {recomputed[k, i]:.6g}, the model says {predicted[k, i]:.6g}"
        )
    if problems:
        raise SolverError("the plan failed verification against its model: " + "; ".join(problems))
    return recomputed


def check_objective(data: BudgetData, after, units, policy: BudgetPolicy, stages):
    """The objective recomputed from the solver's plan (before rounding to purchase units) must
    equal the solver's, or lie between its bound and its value (or keep the stage fixes).

    Returns the recomputed value of a single-stage objective (None for ``lexicographic``), the
    figure the plan reports.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> import numpy as np
    >>> from allocator.solver import SolveInfo
    >>> before = plan_measures(data, data.v0, 0.0)["shortfall"]
    >>> stages = [("shortfall", SolveInfo("optimal", before, before, 0.0, 0.1, "highs"))]
    >>> units = np.zeros(data.S * data.J)
    >>> check_objective(data, data.v0, units, BudgetPolicy(budget=0.0), stages) == before
    True
    """
    m = plan_measures(data, after, float(units @ data.cost.ravel()))
    if policy.objective == "lexicographic":
        z = stages[0][1].objective
        tol = 1e-5 + 2 * policy.stage_tolerance * max(abs(z), 1e-3)
        ok = m["minimax"] <= z + tol
        what = f"largest avoidable shortfall {m['minimax']:.8g} vs stage optimum {z:.8g}"
    else:
        # The plan's true value may lie below the solver's when the solve stopped within its gap:
        # a shortfall column of the incumbent may stand above the shortfall it measures (nothing
        # forces it down before optimality). It can never lie below the proven bound.
        solver_value, bound = stages[0][1].objective, stages[0][1].bound
        value = m[policy.objective]
        tol = 1e-5 + 1e-5 * abs(solver_value)
        low = solver_value if bound is None else min(bound, solver_value)
        ok = low - tol <= value <= solver_value + tol
        what = f"{policy.objective} recomputes to {value:.8g}, solver {solver_value:.8g}" + (
            "" if bound is None else f" (bound {bound:.8g})"
        )
    if not ok:
        raise SolverError("the plan failed verification against its model: " + what)
    return None if policy.objective == "lexicographic" else float(m[policy.objective])
