"""School districts (学区制): contiguous, balanced districts that each hold a strong school.

Under district management neighbouring schools form a district that shares teachers and
facilities; each district should mix strong and weak schools. This planner draws the districts
of every county separately (districts never cross a county border) with
:func:`allocator.districting.partition`.

Model (per county ``c``)
------------------------
Schools
    ``S_c``: the county's schools whose ``level`` is in ``policy.levels`` (default: primary,
    junior, nine-year schools and teaching points) and that have compulsory-education pupils.
    Other schools (senior high schools, schools without pupils) are not districted; :meth:`apply`
    attaches each to the district of its nearest districted school by road (``planned = False``
    in :attr:`DistrictPlan.districts`), so every school of the region ends with a district.
Weight
    ``p_i``: pupils of grades 1-9 (``pupils_lower_primary + pupils_upper_primary +
    pupils_junior``).
Quality index ``q_i`` (from the seven 2017 indicators, 教督〔2017〕6号)
    For every assessed part of school ``i`` (:func:`allocator.standards.assessment_parts`: a
    primary and/or a junior part; nine-year schools split their resources 1 : 1.1), each indicator
    ``k`` the standard assesses (qualified, backbone and PE/arts teachers per 100 pupils, floor and
    sports area per pupil, equipment value per pupil, multimedia rooms per 100 pupils) is divided
    by its threshold for that part and capped at ``policy.quality_cap`` (1.5), so a surplus in one
    indicator cannot hide shortfalls in others; the part's index is the mean of these ratios; the
    school's index is the pupil-weighted mean over its parts. 1 means "exactly at every threshold".
Strong schools
    ``q_i`` at or above the ``policy.strong_quantile`` (0.75: the top quarter) of ``q`` over
    ``S_c``.
Adjacency graph ``G_c`` (:mod:`allocator.districting.adjacency`)
    Two schools of the county are neighbours when their catchments touch (every road node
    belongs to its nearest districted school by road time, over the whole region, and to all of
    them on a tie; catchments touch when they meet at one road node: it belongs to them or a
    road joins it to a node that does, so the catchments around a road hub all touch) or when
    they are at most ``policy.adjacency_minutes`` apart by road; in both cases they are at most
    ``policy.max_trip_minutes`` apart. Edges carry the road minutes between the two
    schools. A county whose schools still form several pieces is joined by the shortest road
    links between the pieces (every link of that length, none longer than
    ``policy.max_trip_minutes``). The graph does not depend on the order or the ids of the
    schools.
Districts
    ``k_c``: ``policy.districts`` (a number, or a number per county), or from the target size:
    ``round(|S_c| / policy.schools_per_district)`` (at least 1, at most the number of strong
    schools) or, when no valid plan has that many districts (large schools can make equal
    enrolment impossible), the nearest number that has one (fewer before more, up to 3 away).
Constraints
    every district is connected in ``G_c``; its pupils are within ``±policy.tolerance`` of the
    county mean per district; it holds at least one strong school; no two of its schools are
    more than ``policy.max_trip_minutes`` apart by road.
Exclaves (:mod:`.pieces`)
    A piece of ``G_c`` still apart after the joining links is farther than
    ``policy.max_trip_minutes`` by road from every other school of the county. When it has no
    strong school or fewer pupils than ``(1 - policy.tolerance)`` times the county mean per
    district (at the first number of districts tried), no plan of the county could exist: the
    piece becomes a district of its own, outside the balance and strong-school rules
    (``detached`` in the tables), and the rest of the county is districted under the rules.
Objective
    ``policy.quality_weight * (max_d qbar_d - min_d qbar_d) + policy.travel_weight * T``, with
    ``qbar_d`` the pupil-weighted mean quality index of district ``d`` and ``T`` the
    pupil-weighted mean travel (minutes along ``G_c``) from each school to its district's centre
    school. The default weights (100 and 1) make 0.01 of quality spread worth one minute, so the
    spread comes first and travel decides between plans of nearly equal spread.

Theil between-district share
    Theil T of the school quality index (pupil-weighted, over every districted school of the
    region), decomposed into within- and between-group parts. Pooling teachers and facilities
    inside districts can remove at most the within-district part; the between-district share
    (between / total) is what pooling cannot reach. *Before*: schools grouped by township (the
    township centre school's management that districts replace); *after*: grouped by the planned
    districts. ``theil_after_pooling`` is the Theil left if every district pooled fully (its
    between part).

Modules
-------
``policy``
    :class:`DistrictPolicy`, the rules;
``data``
    the region read into what the partition needs: the quality index, the schools in scope, the
    travel minutes and adjacency graph of a county, the numbers of districts to try;
``planner``
    :func:`plan_districts`, county by county;
``plan``
    :class:`DistrictPlan` and its tables.
"""

from allocator.planners.districts.data import quality_index
from allocator.planners.districts.plan import DistrictPlan
from allocator.planners.districts.planner import plan_districts
from allocator.planners.districts.policy import DistrictPolicy

__all__ = ["DistrictPolicy", "DistrictPlan", "plan_districts", "quality_index"]
