"""The budget frontier's objective: the plan's own measure at each budget, recomputed on the region
the plan leaves (never 0 while the shortfall falls)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from allocator.planners.budget import BudgetPolicy, budget_frontier, plan_budget
from allocator.planners.budget.catalogue import load_catalogue
from allocator.planners.budget.data import prepare
from allocator.planners.budget.measures import plan_measures
from allocator.synth import make_region


def divisible_policy(objective: str) -> BudgetPolicy:
    """Divisible purchases only, so the applied region is exactly what the model bought."""
    cat = load_catalogue()
    whole = tuple(cat.loc[cat["integer"].astype(bool), "intervention"])
    return BudgetPolicy(budget=0.0, relax=True, objective=objective, exclude_interventions=whole)


@pytest.mark.parametrize("objective", ["shortfall", "gap"])
def test_the_frontier_objective_is_the_measure_of_the_applied_region(objective):
    region = make_region(schools=30, seed=3)
    policy = divisible_policy(objective)
    budgets = [0.0, 2e6, 8e6]
    f = budget_frontier(region, budgets, policy)
    for row in f.itertuples(index=False):
        plan = plan_budget(region, dataclasses.replace(policy, budget=row.budget))
        data = prepare(plan.apply(region), policy)
        again = plan_measures(data, data.v0, 0.0)[objective]
        assert row.objective_measure == pytest.approx(again, rel=1e-6, abs=1e-9)
        assert row.objective_measure == pytest.approx(getattr(row, objective), rel=1e-12)
    assert f["objective_measure"].iloc[0] > f["objective_measure"].iloc[-1] > 0


def test_the_frontier_objective_keeps_its_decimals_in_files_and_tables():
    from allocator.sheets import rounded

    f = pd.DataFrame({"budget": [0.0, 1e6], "objective_measure": [0.4812, 0.2]})
    assert rounded(f)["objective_measure"].tolist() == [0.481, 0.2]
