"""School consolidation (撤点并校): which small schools merge into which receiving school.

The planner reads a :class:`~allocator.region.Region` and a :class:`MergerPolicy` and proposes which
primary schools, junior schools and teaching points close, where each settlement's pupils of each
grade band go (as day pupils or boarders), which primary and junior schools on one site become a
nine-year school (九年一贯制), and which receiving schools add classrooms. The optimiser proposes;
people decide: every closure in the plan says what it implies (pupils and teachers moved, the
receiving school, its class sizes and boarders, travel before and after).

The package, one job per module (each imports only those above it):

* :mod:`~allocator.planners.mergers.columns`: grade bands, what each level teaches, the
  ``boarding_places`` column;
* :mod:`~allocator.planners.mergers.policy`: :class:`MergerPolicy` and :class:`CandidateSite`;
* :mod:`~allocator.planners.mergers.data`: a region cut into planning units (arrays);
* :mod:`~allocator.planners.mergers.sets`: a unit's model sets and numbers (pairs, keep rules,
  capacities);
* :mod:`~allocator.planners.mergers.model`: the MILP's rows and objective (the formulation);
* :mod:`~allocator.planners.mergers.result`: a solved unit and its independent check;
* :mod:`~allocator.planners.mergers.solve`: solving a unit, whole pupils, infeasibility in pupils;
* :mod:`~allocator.planners.mergers.verify`: every unit checked before the long solves, and what
  happens to a unit without a plan;
* :mod:`~allocator.planners.mergers.tables`: the plan's tables from the solved units;
* :mod:`~allocator.planners.mergers.plan`: :class:`MergerPlan` (rules the plan follows, ``apply``);
* :mod:`~allocator.planners.mergers.horizon`: the years of a plan over a horizon, the forecast and
  the region of each year;
* :mod:`~allocator.planners.mergers.years_model`: one county's model over the years (one model per
  year, linked: closed stays closed, classrooms built before pupils arrive, discounted cost);
* :mod:`~allocator.planners.mergers.years_plan`: :class:`MergerYearsPlan` (the timeline, each
  year's plan, ``region_in(year)``, the check of every year);
* :mod:`~allocator.planners.mergers.planner`: :func:`plan_mergers`, step by step.
"""

from allocator.planners.mergers.columns import BOARDING_COLUMN, PLANNED_BANDS
from allocator.planners.mergers.plan import MergerPlan
from allocator.planners.mergers.planner import DEFAULT_OPTIONS, plan_mergers
from allocator.planners.mergers.policy import CANDIDATE_COLUMNS, CandidateSite, MergerPolicy
from allocator.planners.mergers.verify import BREACH_COLUMNS, UNPLANNED_COLUMNS
from allocator.planners.mergers.years_plan import TIMELINE_COLUMNS, MergerYearsPlan

__all__ = [
    "BOARDING_COLUMN",
    "BREACH_COLUMNS",
    "CANDIDATE_COLUMNS",
    "DEFAULT_OPTIONS",
    "PLANNED_BANDS",
    "TIMELINE_COLUMNS",
    "UNPLANNED_COLUMNS",
    "CandidateSite",
    "MergerPlan",
    "MergerPolicy",
    "MergerYearsPlan",
    "plan_mergers",
]
