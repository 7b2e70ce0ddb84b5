"""Run a scenario file from Python and read its plans, tables and figures.

    python examples/run_a_scenario.py

Runs the Liangjiang demo on a smaller region (80 schools instead of 100) and writes the report to
``out/demo-small/report.html``. The same as ``allocator run scenarios/liangjiang_demo.toml --set
region.schools=80 --out out/demo-small``.
"""

from pathlib import Path

import allocator

scenario = Path(__file__).resolve().parents[1] / "scenarios" / "liangjiang_demo.toml"
result = allocator.run_scenario(
    scenario,
    out="out/demo-small",
    progress=True,  # one line per step and county on stderr
    overrides={"region": {"schools": 80}},
)
print(result.summary())

# Every plan object, with its own tables, summary and headline figures.
for name, plan in result.plans.items():
    print(f"\n== {name}: {plan.solve_info.status if hasattr(plan.solve_info, 'status') else ''}")
    print(plan.summary())

# The tables written as CSV, and the figures of every stage (before, after each step).
print("\ntables:", ", ".join(result.tables))
outcomes = result.tables["outcomes"].set_index("measure")
print(
    outcomes.loc[["parts_compliant", "compliant_share.rural", "travel.lower_primary.max_minutes"]]
)
