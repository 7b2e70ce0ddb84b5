"""The scenario runner's former single module, kept so that older imports keep working.

The run layer is split by job: result types, costs and plan status in :mod:`allocator.results`,
the yardstick and :func:`run_scenario` in :mod:`allocator.pipeline`, comparisons in
:mod:`allocator.compare` and output folders in :mod:`allocator.writers`; the ``run`` and
``compare`` commands are in :mod:`allocator.cli`. New code imports from those modules.
"""

from __future__ import annotations

from allocator.compare import Comparison, compare_scenario, comparison_table
from allocator.pipeline import measure, run_scenario
from allocator.results import (
    COST_KEYS,
    Measures,
    ScenarioResult,
    StepResult,
    costs,
    plan_status,
    step_costs,
)
from allocator.writers import protected_inputs, write_comparison, write_run

__all__ = [
    "run_scenario",
    "compare_scenario",
    "ScenarioResult",
    "StepResult",
    "Comparison",
    "Measures",
    "measure",
    "write_run",
    "write_comparison",
    "protected_inputs",
    "COST_KEYS",
    "costs",
    "step_costs",
    "comparison_table",
]

# The report reads this name until it imports plan_status from allocator.results.
_solve_info = plan_status
