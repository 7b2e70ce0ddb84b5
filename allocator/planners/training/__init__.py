"""Teacher training as a planner (教师培训): :func:`plan_training` allocates each year's places
of the national, provincial and county programmes to schools, backbone training first where the
backbone ratio is lowest, so that every teacher is on track for 360 hours per five years and the
2017 standard's backbone threshold is reached as fast as the places allow; a calendar of up to
five years.

Modules: :mod:`.policy` (:class:`TrainingPolicy`, the programmes as data), :mod:`.data` (region
-> arrays), :mod:`.model` (the allocation and its formulation), :mod:`.verify` (the calendar
recomputed against the model), :mod:`.plan` (:class:`TrainingPlan`), :mod:`.planning` (the entry
point).
"""

from allocator.planners.training.plan import TrainingPlan
from allocator.planners.training.planning import plan_training
from allocator.planners.training.policy import TrainingPolicy, load_programmes

__all__ = ["plan_training", "TrainingPolicy", "TrainingPlan", "load_programmes"]
