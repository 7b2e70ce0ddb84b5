"""Purchases in the units a planner buys: rounding a budget plan, keeping what it reaches and its money.

A solver returns amounts such as 174.99999890590485 m² or 134.226912 m²; a bureau buys floor area
to the 0.01 m², equipment to the fen and teachers and rooms whole. :func:`round_purchases` turns the
model's units into such purchases before the plan is verified and reported:

1. Every amount is rounded down to its step (the catalogue's ``step``: by default 1 for whole-unit
   interventions, 0.01 of a unit otherwise, i.e. 0.01 m², 0.01 yuan (one fen), 0.01 Mbps, 0.01
   score point), after snapping values within 0.1 % of a step of a grid point onto it.
2. Every threshold (and ``floor_share`` floor) of the standard that the model's plan reaches, up
   to the solver's tolerance (:data:`SOLVER_RTOL`), must still be met by the rounded plan in the
   sense of :func:`allocator.compliance.meets`. Where rounding lost one, the cheapest intervention
   that raises it (within its unit cap) is raised by the whole steps the deficit needs.
3. Money is compared at the fen: the rounded plan's spending never exceeds the budget, a category
   or county cap, and keeps the rural minimum share. Where the steps of 2. would break one, steps
   are taken back from purchases no kept threshold needs; only if that is not enough are steps
   taken back from the others, and the plan's notes say how many thresholds were given up.

The verdicts reported with the plan are then computed on the rounded plan, so they are what
:func:`allocator.check.check` finds on ``plan.apply(region)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

import allocator.compliance as compliance

__all__ = ["SOLVER_RTOL", "purchase_steps", "round_purchases", "spending_excess"]

#: A model value this close (relative) to a threshold counts as reaching it (solver tolerance).
SOLVER_RTOL = 1e-6
_SNAP = 1e-3  # values within this share of a step of a grid point are on it


def purchase_steps(catalogue, relax: bool) -> np.ndarray:
    """The step of each intervention (J,): its ``step`` column, 1 for whole units; 0 (no rounding)
    for whole-unit interventions of a relaxed plan.

    Examples
    --------
    >>> from allocator.planners.budget.catalogue import default_catalogue
    >>> cat = default_catalogue()
    >>> dict(zip(cat["intervention"], purchase_steps(cat, relax=False).tolist()))["build_floor_area"]
    0.01
    """
    steps = catalogue["step"].to_numpy(float).copy()
    integer = catalogue["integer"].to_numpy(bool)
    steps[integer] = 0.0 if relax else 1.0
    return steps


@dataclass
class SpendRow:
    """sum(coef * units) <= limit, compared at the fen; ``name`` for messages."""

    name: str
    coef: np.ndarray
    limit: float

    def over(self, total: float) -> float:
        """Yuan by which a row total exceeds the limit, compared at the fen."""
        return max(0.0, (round(total * 100) - round(self.limit * 100)) / 100)

    def excess(self, units: np.ndarray) -> float:
        return self.over(float(np.dot(self.coef, units)))


def spend_rows(data, policy, with_budget: bool = True) -> list[SpendRow]:
    """The budget (unless ``with_budget`` is False), category and county caps and the rural share
    as rows over the unit columns."""
    if policy is None:
        return []
    S, J = data.S, data.J
    cost = data.cost.ravel()
    rows = []
    if with_budget:
        rows.append(SpendRow("the budget", cost, policy.budget))
    cats = np.tile(data.catalogue["category"].to_numpy(), S)
    for name, cap in policy.category_caps.items():
        rows.append(SpendRow(f"the {name} cap", np.where(cats == name, cost, 0.0), cap))
    county = np.repeat(data.schools["county"].to_numpy()[data.pos], J)
    for name, cap in policy.county_caps.items():
        rows.append(SpendRow(f"the cap of county {name}", np.where(county == name, cost, 0.0), cap))
    if policy.rural_min_share > 0:
        rural = np.repeat(data.schools["area_type"].to_numpy()[data.pos] == "rural", J)
        rows.append(
            SpendRow("the rural minimum share", cost * (policy.rural_min_share - rural), 0.0)
        )
    return rows


def spending_excess(data, policy, units, with_budget: bool = True) -> list[tuple[str, float]]:
    """(row, yuan over) for every spending row the units break at the fen (empty: none)."""
    rows = spend_rows(data, policy, with_budget)
    return [(r.name, r.excess(units)) for r in rows if r.excess(units) > 0]


def _levels(data, v_model):
    """Per (part, indicator) the level the rounded plan must keep: T, floor_share T, or NaN."""
    T = np.where(data.is_standard[None, :], data.T, np.nan)
    level = np.full(T.shape, np.nan)
    with np.errstate(invalid="ignore"):
        reached = v_model >= T * (1 - SOLVER_RTOL)
        level[reached] = T[reached]
        f = data.standard.floor_share
        if f is not None:
            low = ~reached & (v_model >= f * T * (1 - SOLVER_RTOL))
            level[low] = (f * T)[low]
    return level.ravel()


def round_purchases(
    data, policy, units: np.ndarray, steps: np.ndarray, with_budget: bool = True
) -> tuple[np.ndarray, list]:
    """Round the model's units to purchase steps, keep the thresholds it reaches and its money.

    Parameters
    ----------
    data : allocator.planners.budget.data.BudgetData-like
        Needs ``E, v0, T, is_standard, standard, cost, cap, catalogue, schools, pos, S, J``.
    policy : BudgetPolicy or None
        Spending rows (budget, caps, rural share); None for none.
    with_budget : bool
        Keep the budget too (False for the least cost to comply, which has none).
    units : (S*J,) array
        The model's units (whole units already whole).
    steps : (J,) array
        :func:`purchase_steps`; 0 leaves a column as it is.

    Returns
    -------
    units : (S*J,) array
    notes : list of str
    """
    step = np.tile(steps, data.S)
    grid = step > 0
    safe_step = np.where(grid, step, 1.0)
    cap = np.maximum(data.cap.ravel(), 0.0)
    cost = data.cost.ravel()
    E = sp.csr_matrix(data.E)
    Ec = E.tocsc()
    v0 = data.v0.ravel()
    level = _levels(data, (v0 + E @ units).reshape(data.v0.shape))
    kept_rows = ~np.isnan(level)

    # 1. down to the step (values within _SNAP of a step above a grid point are on it)
    x = units.astype(float).copy()
    within = np.minimum(x, cap)
    n = np.floor(within / safe_step + _SNAP)
    n = np.where(n * safe_step > cap * (1 + 1e-12), np.floor(cap / safe_step), n)
    x = np.where(grid, n * safe_step, x)
    v = v0 + E @ x

    def add(c, amount):
        """Add ``amount`` units to column c, keeping the values v up to date."""
        x[c] += amount
        lo, hi = Ec.indptr[c], Ec.indptr[c + 1]
        v[Ec.indices[lo:hi]] += Ec.data[lo:hi] * amount

    def lost():
        return np.flatnonzero(kept_rows & ~compliance.meets(v, level))

    # 2. restore the thresholds the rounding lost, in whole steps of the cheapest gain
    for r in lost():
        cols = E.indices[E.indptr[r] : E.indptr[r + 1]]
        gains = E.data[E.indptr[r] : E.indptr[r + 1]]
        order = sorted(range(len(cols)), key=lambda i: (x[cols[i]] <= 0, cost[cols[i]] / gains[i]))
        for i in order:
            deficit = level[r] - v[r]
            if deficit <= 0:
                break
            c, g = cols[i], gains[i]
            if not grid[c] or g <= 0:
                continue
            want = math.ceil(deficit / (g * step[c]) - 1e-9)
            room = math.floor((cap[c] - x[c]) / step[c] + 1e-9) if math.isfinite(cap[c]) else want
            steps_added = min(want, max(room, 0))
            if steps_added > 0:
                add(c, steps_added * step[c])

    # 3. keep the money: take back steps, first where no kept threshold needs them
    notes = []
    rows = spend_rows(data, policy, with_budget)
    for keep_levels in (True, False):
        for row in rows:
            total = float(np.dot(row.coef, x))
            if row.over(total) <= 0:
                continue
            cols = np.flatnonzero((row.coef > 0) & (x > 0))
            # the column whose whole steps take back the least money beyond the excess first (a
            # yuan over is taken back from 0.01 m² or fen steps, not from a teacher post); among
            # equals the most yuan per step, so the fewest steps go
            per_step = row.coef[cols] * np.where(grid[cols], step[cols], x[cols])
            taken = np.ceil(row.over(total) / per_step - 1e-12) * per_step
            cols = cols[np.lexsort((-per_step, np.round(taken, 6)))]
            for c in cols:
                if row.over(total) <= 0:
                    break
                unit = step[c] if grid[c] else x[c]
                have = math.floor(x[c] / unit + 1e-9)
                if keep_levels:
                    lo, hi = Ec.indptr[c], Ec.indptr[c + 1]
                    r_idx, g = Ec.indices[lo:hi], Ec.data[lo:hi]
                    needed = kept_rows[r_idx] & (g > 0)
                    if needed.any():
                        slack = (v[r_idx][needed] - level[r_idx][needed]) / (g[needed] * unit)
                        have = min(have, max(0, math.floor(slack.min() + 1e-12)))
                need = math.ceil(row.over(total) / (row.coef[c] * unit) - 1e-12)
                take = min(have, max(need, 1))
                if take > 0:
                    before = x[c]
                    after = max(0.0, before - take * unit)
                    if grid[c]:
                        after = round(after / step[c]) * step[c]
                    add(c, after - before)
                    total += row.coef[c] * (after - before)
    given_up = len(lost())
    if given_up:
        notes.append(
            f"rounding to purchase units within the money available gave up {given_up} "
            f"threshold{'s' if given_up != 1 else ''} the unrounded plan reached"
        )
    return x, notes
