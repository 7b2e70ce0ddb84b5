"""Teacher posting and rotation: staff every school to the norm and share the best teachers.

:func:`plan_teachers` decides where new teachers are posted (hires) and which teachers rotate
between schools for a term (transfers), under the staffing norms of the standard and the county
rotation policy (教师〔2014〕4号): in urban and high-quality schools at least 10 % of the eligible
teachers rotate each year, backbone teachers are at least 20 % of those who rotate, and moves go
urban -> rural, strong -> weak.

The package, one job a module:

* :mod:`~allocator.planners.teachers.categories` the teacher categories and school needs;
* :mod:`~allocator.planners.teachers.policy` :class:`TeacherPolicy`, the rules and weights;
* :mod:`~allocator.planners.teachers.data` region -> per-school arrays, hiring caps, allowed moves;
* :mod:`~allocator.planners.teachers.model` arrays -> one block's model (its formulation);
* :mod:`~allocator.planners.teachers.solve` the lexicographic stages of a block;
* :mod:`~allocator.planners.teachers.diagnose` why a block has no plan;
* :mod:`~allocator.planners.teachers.verify` checks before the solve and of each block's plan;
* :mod:`~allocator.planners.teachers.tables` the plan's tables;
* :mod:`~allocator.planners.teachers.plan` :class:`TeacherPlan`;
* :mod:`~allocator.planners.teachers.ages` retirements by year from ages or an age profile;
* :mod:`~allocator.planners.teachers.horizon_model` the hiring MILP over years of a county;
* :mod:`~allocator.planners.teachers.horizon` plans over years (``plan_teachers(years=...)``);
* :mod:`~allocator.planners.teachers.horizon_plan` :class:`TeacherYearsPlan` and its checks;
* :mod:`~allocator.planners.teachers.planning` :func:`plan_teachers`, the steps in order.

Examples
--------
>>> from allocator.synth import make_region
>>> plan = plan_teachers(make_region(schools=40, seed=3), TeacherPolicy(hiring_quota=10))
>>> plan.headline()["hires"] <= 10
True
"""

from __future__ import annotations

from allocator.planners.teachers.categories import CATEGORIES, NEEDS
from allocator.planners.teachers.horizon_plan import TeacherYearsPlan
from allocator.planners.teachers.plan import TeacherPlan
from allocator.planners.teachers.planning import plan_teachers
from allocator.planners.teachers.policy import TeacherPolicy

__all__ = [
    "TeacherPolicy",
    "TeacherPlan",
    "TeacherYearsPlan",
    "plan_teachers",
    "CATEGORIES",
    "NEEDS",
]
