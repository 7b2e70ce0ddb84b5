"""Plan teacher posts and rotations, and see what they do to staffing consistency and rural schools.

    python examples/teacher_rotation.py

A synthetic municipality of three counties (an urban district and two rural counties). The plan
posts at most 400 new teachers and rotates teachers for a three-year term: at least 10 % of the
eligible teachers of urban and high-quality schools, a fifth of them backbone teachers, moving
urban -> rural and strong -> weak within an hour's drive. It prints the teacher-allocation R²
(how consistently teachers follow pupils; 1 - R² is the "degree of randomness") per county and
level, and the backbone teachers of rural schools, before and after.
"""

import pandas as pd

import allocator
from allocator.errors import Infeasible

region = allocator.synth.make_region(schools=450, counties=3, seed=4)
policy = allocator.TeacherPolicy(hiring_quota=400, travel_limit_minutes=60, term_years=3)
try:
    plan = allocator.plan_teachers(region, policy, progress=print)
except Infeasible as exc:  # e.g. a quota no school within reach can absorb: the numbers say why
    raise SystemExit(f"no plan: {exc}") from None

print()
print(plan.summary())

pd.set_option("display.width", 120)
r2 = plan.allocation_r2.dropna(subset=["r2_before"])
print("\nTeacher-allocation R² by county and level (teachers regressed on pupils):")
print(r2[["county", "level", "schools", "r2_before", "r2_after"]].round(3).to_string(index=False))

area = plan.backbone_by_area.set_index("area_type")
print("\nBackbone teachers (compulsory-education schools):")
print(
    area[
        [
            "backbone_before",
            "backbone_after",
            "backbone_per_100_before",
            "backbone_per_100_after",
            "backbone_share_before",
            "backbone_share_after",
        ]
    ].round(3)
)
rural = area.loc["rural"]
print(
    f"\nRural schools' share of all backbone teachers: {rural['backbone_share_before']:.1%} -> "
    f"{rural['backbone_share_after']:.1%}; per 100 pupils {rural['backbone_per_100_before']:.2f} "
    f"-> {rural['backbone_per_100_after']:.2f} (2017 threshold: 1.0)"
)

# The longest rotations, and the region after the plan (teachers moved and posted).
print("\nLongest moves:")
print(plan.transfers.nlargest(5, "minutes").to_string(index=False))
after = plan.apply(region)
print(
    f"\nTeachers: {region.schools['teachers'].sum():,} -> {after.schools['teachers'].sum():,} "
    f"({plan.hires['count'].sum():,} new posts)"
)
