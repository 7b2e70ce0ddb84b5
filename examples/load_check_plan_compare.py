"""Load a region from CSV files, check it, plan a budget, and compare two budget rules.

The whole path a planner takes, from the Python API:

    python examples/load_check_plan_compare.py

It writes a synthetic county to ``out/example-region`` (your own data would be a folder of the
same four CSV files), checks it against the 2017 standard, spends a budget two ways and prints how
compliance, the CVs and the rural/urban ratios change.
"""

import dataclasses

import allocator
from allocator.pipeline import measure
from allocator.synth import make_region

# 1. A region as CSV files, loaded back (schools.csv, settlements.csv, roads.csv, nodes.csv).
allocator.save_region(make_region(schools=80, counties=1, seed=2), "out/example-region")
region = allocator.load_region("out/example-region")
standard = allocator.load_standard("moe2017")

# 2. Check it: which schools and counties fail, and where the gaps are.
print(allocator.check(region, standard).summary())

# 3. Plan: spend 20 million yuan, standards first; the plan is a table of interventions.
policy = allocator.BudgetPolicy(budget=2e7, objective="shortfall")
plan = allocator.plan_budget(region, policy)
print(plan.summary())
after = plan.apply(region)  # a new Region with the resources added

# 4. Compare with a rural-priority rule on the same yardstick the scenario runner uses.
rural = allocator.plan_budget(region, dataclasses.replace(policy, objective="gap"))
rows = {
    "before": measure(region, standard).figures,
    "standards first": measure(after, standard).figures,
    "rural priority": measure(rural.apply(region), standard).figures,
}
keys = [
    "parts_compliant",
    "compliant_share.rural",
    "cv_worst.primary.backbone_per_100",
    "rural_urban.backbone_per_100",
    "rural_urban.equipment_yuan_per_pupil",
]
print(f"\n{'measure':40}" + "".join(f"{name:>17}" for name in rows))
for key in keys:
    print(f"{key:40}" + "".join(f"{rows[name][key]:17.3f}" for name in rows))
