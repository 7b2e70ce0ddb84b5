"""allocator: balanced allocation of education resources between urban, town and rural schools.

A :class:`Region` goes in, a plan comes out, and ``plan.apply(region)`` gives the region after the
plan; :func:`check` judges any region against the national standards.

Examples
--------
>>> import allocator
>>> region = allocator.synth.make_region(schools=60, seed=1)
>>> len(region.schools)
60
"""

from importlib import import_module

# ``allocator.check`` is the function; the module of the same name stays importable by its full path.
from allocator.check import check
from allocator.errors import AllocatorError, Infeasible, InputError, SolverError
from allocator.io import load_region, save_region
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.version import __version__ as __version__

# Names served lazily from their modules, so that importing allocator stays light.
_LAZY = {
    "synth": ("allocator.synth", None),
    "metrics": ("allocator.metrics", None),
    "standards": ("allocator.standards", None),
    "location": ("allocator.location", None),
    "p_median": ("allocator.location", "p_median"),
    "facility_location": ("allocator.location", "facility_location"),
    "districting": ("allocator.districting", None),
    "load_standard": ("allocator.standards", "load_standard"),
    "plan_mergers": ("allocator.planners.mergers", "plan_mergers"),
    "MergerPolicy": ("allocator.planners.mergers", "MergerPolicy"),
    "MergerPlan": ("allocator.planners.mergers", "MergerPlan"),
    "CandidateSite": ("allocator.planners.mergers", "CandidateSite"),
    "plan_districts": ("allocator.planners.districts", "plan_districts"),
    "DistrictPolicy": ("allocator.planners.districts", "DistrictPolicy"),
    "DistrictPlan": ("allocator.planners.districts", "DistrictPlan"),
    "partition": ("allocator.districting", "partition"),
    "plan_budget": ("allocator.planners.budget", "plan_budget"),
    "BudgetPolicy": ("allocator.planners.budget", "BudgetPolicy"),
    "min_cost_to_comply": ("allocator.planners.budget", "min_cost_to_comply"),
    "budget_frontier": ("allocator.planners.budget", "budget_frontier"),
    "BudgetPlan": ("allocator.planners.budget", "BudgetPlan"),
    "plot_budget_frontier": ("allocator.report", "plot_budget_frontier"),
    "plan_teachers": ("allocator.planners.teachers", "plan_teachers"),
    "TeacherPolicy": ("allocator.planners.teachers", "TeacherPolicy"),
    "TeacherPlan": ("allocator.planners.teachers", "TeacherPlan"),
    "forecast": ("allocator.forecast", None),
    "ForecastSettings": ("allocator.forecast", "ForecastSettings"),
    "project_enrolment": ("allocator.forecast", "project_enrolment"),
    "forecast_region": ("allocator.forecast", "forecast_region"),
    "load_birth_scenario": ("allocator.forecast", "load_birth_scenario"),
    "run_scenario": ("allocator.pipeline", "run_scenario"),
    "compare_scenario": ("allocator.compare", "compare_scenario"),
    "load_scenario": ("allocator.scenario", "load_scenario"),
    "register_planner": ("allocator.planners.registry", "register_planner"),
}

__all__ = [
    "AllocatorError",
    "Infeasible",
    "InputError",
    "Region",
    "SolveInfo",
    "SolverError",
    "SolverOptions",
    "check",
    "load_region",
    "save_region",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'allocator' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
