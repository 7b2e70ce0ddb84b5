"""What an exact solve given a starting plan may report: the plan kept, a valid bound, the status.

A MILP given a starting plan (a heuristic's) may stop early, return a plan worse than its start
(seen with HiGHS 1.16 when time runs out) or report no bound at all (``-inf``). The rules here
make the result honest whatever the solver did:

* the plan kept is the better of the solver's plan and the start, so an exact method never
  returns worse than its start;
* the bound is the best of the valid lower bounds given. A model cut down using the start's value
  ``V`` (pairs that cannot beat ``V`` dropped, the imbalance limited to what could beat ``V``)
  only bounds plans better than ``V``, so its bound ``B`` counts as ``min(B, V)``. Non-finite
  bounds are no bounds; a bound above the kept plan's value is impossible and is dropped;
* the gap is ``(objective - bound) / |objective|``, or the absolute difference when
  ``|objective| < 1e-6`` (a relative gap means nothing near zero); None without a bound;
* the status is ``"optimal"`` only when the gap is within the gap asked, else ``"feasible"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ExactOutcome", "settle_exact", "relative_gap"]

#: Below this absolute objective value the gap is absolute, not relative.
ZERO_OBJECTIVE = 1e-6


@dataclass(frozen=True)
class ExactOutcome:
    """The honest summary of an exact solve.

    Attributes
    ----------
    keep : {"plan", "start"}
        Which plan to return: the solver's or the start.
    objective : float
        Value of the kept plan.
    bound : float or None
        A valid lower bound on the optimum (None: none known).
    gap : float or None
        See :func:`relative_gap` (None without a bound).
    status : {"optimal", "feasible"}
        ``"optimal"`` only when ``gap`` is at most the gap asked.
    notes : tuple of str
        What was corrected, in words (empty when nothing was).
    """

    keep: str
    objective: float
    bound: float | None
    gap: float | None
    status: str
    notes: tuple[str, ...] = ()


def relative_gap(objective: float, bound: float | None) -> float | None:
    """Gap of ``objective`` to a lower ``bound``: relative away from zero, absolute near it.

    Examples
    --------
    >>> relative_gap(10.0, 9.0)
    0.1
    >>> relative_gap(1e-9, 0.0)  # near zero the gap is absolute
    1e-09
    >>> relative_gap(10.0, float("-inf")) is None
    True
    """
    if bound is None or not math.isfinite(bound):
        return None
    scale = abs(objective) if abs(objective) >= ZERO_OBJECTIVE else 1.0
    return max(0.0, objective - bound) / scale


def settle_exact(
    plan_value: float | None,
    start_value: float | None,
    solver_bound: float | None,
    *,
    cut_by_start: bool,
    other_bounds: tuple[float | None, ...] = (),
    mip_gap: float = 1e-6,
) -> ExactOutcome:
    """Choose the plan to return from an exact solve and state its bound, gap and status.

    Parameters
    ----------
    plan_value : float or None
        Recomputed objective of the solver's plan (None: the solver returned none).
    start_value : float or None
        Recomputed objective of the start (None: no start).
    solver_bound : float or None
        The solver's lower bound (``-inf``, ``nan`` or None: none).
    cut_by_start : bool
        True when the model was cut down using ``start_value`` (then its bound only holds for
        plans better than the start and counts as ``min(solver_bound, start_value)``).
    other_bounds : tuple of float
        Further valid lower bounds (e.g. of a relaxation solved before).
    mip_gap : float
        The relative gap asked of the solver.

    Returns
    -------
    ExactOutcome

    Raises
    ------
    ValueError
        Neither a plan nor a start.

    Examples
    --------
    The solver ran out of time with a plan worse than its start and no bound:

    >>> out = settle_exact(12.6204, 12.6006, float("-inf"), cut_by_start=True)
    >>> out.keep, out.objective, out.bound, out.gap, out.status
    ('start', 12.6006, None, None, 'feasible')
    """
    if plan_value is None and start_value is None:
        raise ValueError("neither a plan nor a start to choose from")
    notes = []
    if plan_value is None:
        keep, value = "start", float(start_value)
        notes.append("the solver returned no plan; the start is kept")
    elif start_value is not None and start_value < plan_value - 1e-12 * max(1.0, abs(plan_value)):
        keep, value = "start", float(start_value)
        notes.append(
            f"the solver's plan ({plan_value:.6g}) is worse than its start ({start_value:.6g}); "
            "the start is kept"
        )
    else:
        keep, value = "plan", float(plan_value)
    bounds = []
    if solver_bound is not None and math.isfinite(solver_bound):
        b = float(solver_bound)
        if cut_by_start and start_value is not None:
            b = min(b, float(start_value))
        bounds.append(b)
    bounds += [float(b) for b in other_bounds if b is not None and math.isfinite(b)]
    slack = 1e-9 * max(1.0, abs(value))
    valid = [b for b in bounds if b <= value + slack]
    if len(valid) < len(bounds):
        notes.append(f"a bound above the plan's value {value:.6g} was dropped")
    bound = min(max(valid), value) if valid else None
    gap = relative_gap(value, bound)
    status = "optimal" if gap is not None and gap <= mip_gap + 1e-9 else "feasible"
    return ExactOutcome(keep, value, bound, gap, status, tuple(notes))
