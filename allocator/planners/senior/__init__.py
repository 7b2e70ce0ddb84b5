"""Senior secondary places (普通高中 and 中等职业学校) by county.

The first stage: places each county needs against its cohort of junior graduates (the gross
enrolment target and the 普职比 band of :mod:`allocator.standards.senior`), and the fewest extra
places that meet them given the places a county holds.

Per county, with cohort c, target rate r and general-share band [a, b]:

* places needed N = ceil(r c);
* general places at least ceil(a N), vocational places at least N - floor(b N);
* extra general g and vocational v (whole, >= 0) meet G + g >= ceil(a N), V + v >= N - floor(b N),
  G + g + V + v >= N at least cost; the remainder above the two floors goes to the cheaper kind
  (general on a tie) while that kind stays within the band's high end.
"""

from allocator.planners.senior.plan import SeniorPlan
from allocator.planners.senior.planner import plan_senior
from allocator.planners.senior.policy import SeniorPolicy
from allocator.planners.senior.requirements import (
    county_requirements,
    extra_places,
    region_cohort,
)

__all__ = [
    "plan_senior",
    "SeniorPolicy",
    "SeniorPlan",
    "county_requirements",
    "extra_places",
    "region_cohort",
]
