"""Targets by year in a one-year budget plan (``plan_budget(..., targets_by_year=..., year=...)``).

The rows are those of a plan over years (:func:`~allocator.planners.budget.horizon.year_targets`):
year -> ``"every county passes"``, ``"every school passes"`` or open-indicator targets. A target
due in or before the plan's year binds as in that year of a plan over years: open-indicator
targets are constraints of the model (a later year's target on the same indicator replaces an
earlier one), a pass target makes the plan the least-cost compliance, refused when it costs more
than the budget. A target due later is not yet due: the plan's ``targets`` table lists it with
``due`` False and its summary says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.planners.budget.horizon import (
    COMPLY,
    SCHOOLS_PASS,
    budget_short,
    require_counties,
    year_targets,
)
from allocator.planners.budget.policy import BudgetPolicy
from allocator.region import Region

__all__ = ["TARGET_COLUMNS", "due_targets", "plan_with_due_targets"]

#: Columns of a one-year plan's ``targets`` table.
TARGET_COLUMNS = ("year", "target", "at_least", "schools", "due")


def _plan_year(year) -> int:
    if isinstance(year, bool) or not isinstance(year, int | np.integer):
        raise InputError(
            f"year={year!r}; expected the plan's year (a whole number such as 2026) with "
            "targets_by_year",
            table="policy",
            column="year",
            value=year,
        )
    return int(year)


def due_targets(targets_by_year, year) -> tuple[Mapping, str | None, pd.DataFrame]:
    """The targets due by ``year``: (open-indicator targets, pass target or None, the table of
    every target with ``due``).

    Examples
    --------
    >>> later = {2030: {"bandwidth_mbps": {"at_least": 1000}}}
    >>> open_, passes, table = due_targets({2026: "every school passes", **later}, 2027)
    >>> dict(open_), passes
    ({}, 'every school passes')
    >>> table[["year", "target", "due"]].values.tolist()
    [[2026, 'every school passes', True], [2030, 'bandwidth_mbps', False]]
    """
    year = _plan_year(year)
    if not isinstance(targets_by_year, Mapping):
        raise InputError(
            f"targets_by_year={targets_by_year!r}; expected a table of year -> target",
            table="policy",
            column="targets_by_year",
            value=targets_by_year,
        )
    for key in targets_by_year:
        _plan_year(key)
    given = sorted(targets_by_year)
    upto = [y for y in given if y <= year]
    open_, comply = year_targets({y: targets_by_year[y] for y in upto}, (*upto, year))[year]
    rows = []
    for y in given:
        target = targets_by_year[y]
        if target in (COMPLY, SCHOOLS_PASS):
            rows.append((y, target, float("nan"), "all", y <= year))
            continue
        for name, spec in year_targets({y: target}, (y,))[y][0].items():
            rows.append((y, name, spec["at_least"], spec["schools"], y <= year))
    return open_, comply, pd.DataFrame(rows, columns=list(TARGET_COLUMNS))


def plan_with_due_targets(
    region: Region,
    policy: BudgetPolicy,
    targets_by_year,
    year,
    solve: Callable,
    comply: Callable,
):
    """The one-year plan of ``year`` with the targets due by then (see the module);
    ``solve(region, policy)`` and ``comply(region, policy)`` make the plan and the least-cost
    compliance."""
    open_, passes, table = due_targets(targets_by_year, year)
    this_year = dataclasses.replace(policy, targets={**policy.targets, **open_})
    if passes:
        plan = comply(region, this_year)
        if plan.spent > policy.budget * (1 + 1e-9) + 1e-6:
            raise budget_short(int(year), plan.spent, policy.budget)
        if passes == COMPLY:
            require_counties(int(year), plan.apply(region), policy)
        plan = dataclasses.replace(plan, budget=policy.budget)
    else:
        plan = solve(region, this_year)
    return dataclasses.replace(plan, targets=table, plan_year=int(year))
