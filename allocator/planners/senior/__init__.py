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

The second stage, :func:`plan_senior`: where the places go, on the location core
(:func:`allocator.location.levelled_location`), one county at a time (a campus serves only its own
county).

Model
-----
Clients: the county's settlements, each with its whole share of the places needed (in proportion
to its junior graduates: today's, or the grade-9 pupils of ``policy.year`` in the enrolment
forecast), every one of them placed. Sites: the county's senior schools (``senior_schools`` table;
without one, the schools table's ``senior`` schools as general ones), which stay open, and
candidate sites (the nodes of junior, nine-year and senior schools in ``candidate_area_types``, and
``candidate_nodes``). Levels: an existing school as it is (cost 0) or expanded by modules of
``size.module_places`` up to ``size.max_pupils`` (``expand_yuan_per_place`` a place); a
candidate site as a new general or vocational campus of ``size.min_new_pupils`` places and up, in
modules, to ``size.max_pupils`` (``build_yuan_per_place``). A pair is allowed within
``boarding.max_km`` by road and costs ``yuan_per_pupil_km`` per pupil-km. Boarding places are the
core's second resource (:class:`allocator.location.SiteResource`): a pupil uses a whole place at a
campus beyond ``boarding.daily_km``, ``boarding.share`` of one within it; the places a campus holds
already (``boarding_places``; a new campus none) are free, and each place beyond them costs
``boarding_yuan_per_place``. So a campus far from its pupils pays for their dormitories, a cheaper
site in build cost can lose to a nearer one, and a campus with empty dormitories can win over a
nearer one without. A school whose ``boarding_capacity`` the ``senior_schools`` table gives (the
most boarding places its land and buildings allow) keeps its boarders within it (the resource's
capacity); the standard gives no limit, so a school without one and every new campus have none.
A county that cannot keep within the limits is explained with the boarding places the cheapest
plan without them needs at the limited schools. The core chooses
one level per site and the pupils of each settlement at each site at least cost, with the pupils at
general sites at least ``general_min`` and at vocational sites at least ``vocational_min`` (tags
``general`` and ``vocational``): every place needed is filled, so general pupils also stay at most
``general_max``.

Boarding places are sized from the plan with the same rule: each campus keeps or gets boarding
places for every pupil farther than ``boarding.daily_km`` and for ``boarding.share`` of the
others, ``boarding_yuan_per_place`` a new one. The model buys exactly the places needed beyond
those a campus holds; the plan then rounds each campus's places added up to whole places (after
the solve, as the model's places are fractional: 0.7 of a place per pupil), so a campus's
``boarding_yuan`` is the model's boarding cost there rounded up to a whole place, and equal to it
when the places needed are whole. Every plan
is recomputed from its tables (:mod:`~.verify`); a county whose targets cannot be met raises
:class:`~allocator.errors.Infeasible` naming the county, with its numbers.

Examples
--------
>>> from allocator.synth import make_region
>>> plan = plan_senior(make_region(schools=40, seed=3, senior_schools=True))
>>> row = plan.counties.iloc[0]
>>> int(row["placed"]) == int(row["needed"]), bool(row["met"])
(True, True)
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
