"""Plan school consolidation (撤点并校) in a rural county and show what changes.

    python examples/consolidate_rural_county.py

A synthetic mountainous county of 150 schools: a county seat, township centre schools, village
schools and teaching points. The planner proposes which small schools close, where each village's
pupils go (day pupils or boarders), which primary and junior schools on one site become nine-year
schools, and where classrooms are added. Prints the closures and what each implies, the travel
before and after by area type, the annual cost, and the 2017 standard's indicators before and
after (``allocator.check`` on the region after ``plan.apply``).

Things to look for: grades 1-3 stay within 30 minutes (the teaching points that are the only school
nearby are kept and say so); closing a school moves its teachers and equipment to the receiving
school, so the receivers' per-pupil indicators change; travel grows a little on average while the
county saves the cost of the sites it closes.
"""

import pandas as pd

from allocator.check import check
from allocator.planners.mergers import MergerPolicy, plan_mergers
from allocator.synth import make_region

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

region = make_region(schools=150, counties=1, seed=7, name="synthetic rural county")
policy = MergerPolicy(min_size=100)  # schools under 100 pupils are proposed for merging
plan = plan_mergers(region, policy, progress=print)
print()
print(plan.summary())

print("\nClosures by reason and level:")
print(plan.closures.groupby(["reason", "level"]).agg(schools=("school_id", "size"),
                                                      pupils=("pupils", "sum"),
                                                      teachers=("teachers", "sum")))  # fmt: skip

print("\nWhat the five largest closures imply:")
cols = ["school_id", "name", "receiving_school_id", "pupils", "teachers", "boarders",
        "mean_minutes_before", "mean_minutes_after", "receiving_class_size_after"]  # fmt: skip
print(
    plan.closures.sort_values("pupils", ascending=False)[cols]
    .head()
    .round(1)
    .to_string(index=False)
)

kept = plan.schools[plan.schools["kept_because"].str.contains("only school within")]
print(f"\n{len(kept)} schools kept because they are the only one within 30 minutes for some "
      "grade 1-3 pupils, e.g.:")  # fmt: skip
print(
    kept[["school_id", "name", "level", "pupils_before", "kept_because"]]
    .head(3)
    .to_string(index=False)
)

print("\nTravel (one way, pupil-weighted) by area type of the settlement:")
travel = plan.travel.set_index(["area_type", "stage"])
measures = ["mean_minutes", "p95_minutes", "max_minutes", "boarders"]
print(travel[measures].unstack("stage").reindex(columns=["before", "after"], level=1)
      .reindex(["urban", "town", "rural", "all"]).round(1).to_string())  # fmt: skip

print("\nAnnual cost (million yuan):")
print((plan.costs.set_index("item") / 1e6).round(2).to_string())

if len(plan.expansions):
    print(f"\nClassrooms added: {plan.expansions['classrooms'].sum()} at "
          f"{len(plan.expansions)} receiving schools")  # fmt: skip

# The 2017 standard before and after: pupil-weighted means by area type and the share passing.
after = plan.apply(region)
before_report, after_report = check(region), check(after)
measures = ["share_passing", "qualified_per_100", "backbone_per_100", "multimedia_per_100",
            "equipment_yuan_per_pupil"]  # fmt: skip
table = (
    pd.concat(
        {
            "before": before_report.tables["area_types"].set_index(["part", "area_type"])[measures],
            "after": after_report.tables["area_types"].set_index(["part", "area_type"])[measures],
        },
        axis=1,
    )
    .swaplevel(axis=1)
    .sort_index(axis=1, level=0, sort_remaining=False)
)
print("\n2017 indicators by area type (pupil-weighted means), before and after:")
print(table.round(2).to_string())
print(f"\nSchools after the plan: {len(after.schools)} (before {len(region.schools)}; senior high "
      "schools are not re-planned)")  # fmt: skip
