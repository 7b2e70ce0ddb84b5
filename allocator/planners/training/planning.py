"""The training planner's entry point: :func:`plan_training`."""

from __future__ import annotations

import time
from collections.abc import Callable

from allocator.planners.training.data import prepare
from allocator.planners.training.model import allocate
from allocator.planners.training.plan import TrainingPlan, build_plan
from allocator.planners.training.policy import TrainingPolicy
from allocator.planners.training.verify import verify
from allocator.region import Region

__all__ = ["plan_training"]


def plan_training(
    region: Region,
    policy: TrainingPolicy | None = None,
    options=None,
    progress: Callable[[str], None] | None = None,
) -> TrainingPlan:
    """A training calendar: each year's places of each programme, school by school.

    Backbone places go first to the schools with the lowest backbone ratio (rural and weak schools)
    until each has the backbone teachers the 2017 standard requires; the other places then go to the
    schools whose teachers are furthest behind 360 hours per five years. See
    :mod:`allocator.planners.training.model` for the formulation.

    Parameters
    ----------
    region : Region
        Needs the column ``teacher_training_hours`` (the teachers' hours of the current cycle).
    policy : TrainingPolicy, optional
    options : ignored
        The planner protocol's solver options (the allocation needs no solver).
    progress : callable, optional

    Returns
    -------
    TrainingPlan

    Raises
    ------
    InputError
        Bad policy, programmes or region columns.
    SolverError
        The calendar failed its verification (:mod:`.verify`).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_training(region, TrainingPolicy(horizon=3, budget_per_year=2e6))
    >>> bool((plan.years["cost"] <= 2e6).all()), int(plan.years["year"].iloc[-1])
    (True, 3)
    """
    say = progress or (lambda message: None)
    policy = policy or TrainingPolicy()
    t0 = time.perf_counter()
    say("preparing the training data")
    data = prepare(region, policy)
    say(f"allocating {len(data.programmes)} programmes over {data.horizon} years")
    x = allocate(data)
    say("verifying")
    verify(data, x)
    return build_plan(data, policy, x, time.perf_counter() - t0)
