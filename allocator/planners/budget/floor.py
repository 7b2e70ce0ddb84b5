"""The least-cost units that meet a budget policy's targets (:mod:`.targets`): the floor under
every plan of the policy.

Model
-----
min sum_sj c[s,j] x[s,j] / c_max subject to every target row of :mod:`.targets`
(sum_j effect_j x[s,j] >= need_s), 0 <= x <= cap, whole units where the catalogue says so, and the
category and county caps and rural share of :func:`~allocator.planners.budget.model.add_spending_rows`
(no budget row: the least cost is then compared with the budget).
"""

from __future__ import annotations

import numpy as np

from allocator.errors import Infeasible, SolverError
from allocator.planners.budget.model import add_spending_rows
from allocator.planners.budget.targets import unmet
from allocator.solver import ModelBuilder, SolverOptions, solve_matrix
from allocator.text import plural

__all__ = ["target_floor"]


def _ids(cand, s) -> str:
    ids = [str(v) for v in cand["school_id"].to_numpy()[s][:3]]
    return ", ".join(ids) + (", ..." if len(s) > 3 else "")


def target_floor(
    data, policy, options: SolverOptions | None = None, with_budget: bool = True
) -> np.ndarray:
    """The least-cost units (S*J,) that meet every target of ``data.targets``.

    ``with_budget=False`` leaves the budget out (the least budget is what is sought).

    Raises
    ------
    Infeasible
        Naming the target that cannot be met: at how many schools (which) even with every
        intervention at its cap, under the category and county caps, or by how many yuan the budget
        falls short of the least cost.
    """
    S, J = data.S, data.J
    cand = data.schools.iloc[data.pos]
    cap = data.cap
    violations, lines = {}, []
    for t in data.targets:
        most = (np.where(np.isinf(cap), 1e300, cap) * np.maximum(t.gain, 0)[None, :]).sum(axis=1)
        most = most[t.s]
        out = most < t.need * (1 - 1e-9)
        if out.any():
            violations[f"target_{t.name}"] = float(out.sum())
            what = (
                "no intervention raises it" if not (t.gain > 0).any() else "every unit at its cap"
            )
            lines.append(
                f"target {t.name} >= {t.at_least:g} ({t.schools} schools) cannot be met at "
                f"{plural(int(out.sum()), 'school')} even with {what}: {_ids(cand, t.s[out])}"
            )
    if lines:
        raise Infeasible("; ".join(lines), violations)
    rows = [t for t in data.targets if len(t.s)]
    if not rows:
        return np.zeros(S * J)
    cost = data.cost.ravel()
    b = ModelBuilder()
    norm = max(float(cost.max()), 1.0)
    x = b.add_columns("x", S * J, cost=cost / norm, upper=cap.ravel(),
                      integer=np.tile(data.integer, S))  # fmt: skip
    for t in rows:
        b.add_rows(f"target_{t.name}", len(t.s), {x: t.matrix(S)}, lower=t.need)
    add_spending_rows(b, x, data, policy, cost, with_budget=False)
    model = b.build()
    try:
        sol = solve_matrix(model, options=options or SolverOptions())
    except Infeasible as exc:
        raise Infeasible(
            "the targets "
            + ", ".join(t.name for t in rows)
            + " cannot all be met within the category and county caps (or the rural share): "
            + exc.message,
            exc.violations,
        ) from None
    units = np.round(model.column_values(sol.x, "x"), 9)
    units = np.where(np.tile(data.integer, S), np.round(units), units)
    least = float(units @ cost)
    if with_budget and least > policy.budget * (1 + 1e-9) + 1e-6:
        short = least - policy.budget
        names = ", ".join(t.name for t in rows)
        raise Infeasible(
            f"the targets ({names}) cost at least {least:,.0f} yuan; the budget of "
            f"{policy.budget:,.0f} yuan is {short:,.0f} yuan short",
            {"budget": short},
        )
    if unmet(data, units):
        raise SolverError(
            "the least-cost plan of the targets failed verification: " + unmet(data, units)
        )
    return units
