"""Compare the budget rules of a scenario side by side (each variant in its own process).

    python examples/compare_policies.py

The same as ``allocator compare scenarios/budget_policy_comparison.toml``; the table is also
written to ``out/budget-comparison/comparison.csv`` with charts in ``report.html``.
"""

from pathlib import Path

import pandas as pd

import allocator

scenario = Path(__file__).resolve().parents[1] / "scenarios" / "budget_policy_comparison.toml"
comparison = allocator.compare_scenario(scenario, out="out/budget-comparison", progress=True)

table = comparison.table.set_index("label").drop(columns=["measure", "better"])
rows = [
    "cost (yuan): capital + one year of hiring and running-cost change",
    "compliant school parts",
    "compliant share, rural",
    "CV backbone_per_100, primary (worst county)",
    "rural/urban backbone_per_100",
    "rural/urban equipment_yuan_per_pupil",
]
with pd.option_context(
    "display.width", 200, "display.max_columns", 10, "display.float_format", "{:,.3f}".format
):
    print(table.loc[rows])

# Each variant's plans are there too, e.g. where the rural-priority rule spends its money:
plan = comparison.plans["rural priority"]["budget"]
print(plan.spending)
