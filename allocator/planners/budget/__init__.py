"""Balanced budget planner: spend a capital and staff budget to lift the weakest schools.

One job per module, in the order a plan is made:

- :mod:`.catalogue`: the intervention catalogue (``allocator/data/catalogue.toml`` by default):
  what money can buy, at what price, up to what cap; extra indicators;
- :mod:`.policy`: :class:`BudgetPolicy`, what to spend, on what, and what to aim for;
- :mod:`.data`: region and policy -> arrays (:func:`~.data.prepare`);
- :mod:`.measures`: shortfalls, the rural-urban gap and verdicts of indicator values;
- :mod:`.model`: arrays -> the LP / MILP of a budget (its formulation is in its docstring);
- :mod:`.comply`: arrays -> the least-cost-to-comply MILP;
- :mod:`.verify`: every plan checked against its model;
- :mod:`.rounding`: the solver's units rounded to purchase units;
- :mod:`.plan`: :class:`BudgetPlan` and its tables;
- :mod:`.planning`: the entry points :func:`plan_budget`, :func:`min_cost_to_comply`,
  :func:`budget_frontier`.

The frontier chart is :func:`allocator.report.charts.plot_budget_frontier`.
"""

from allocator.planners.budget.plan import BudgetPlan
from allocator.planners.budget.planning import budget_frontier, min_cost_to_comply, plan_budget
from allocator.planners.budget.policy import OBJECTIVES, BudgetPolicy

__all__ = [
    "OBJECTIVES",
    "BudgetPolicy",
    "BudgetPlan",
    "plan_budget",
    "min_cost_to_comply",
    "budget_frontier",
]
