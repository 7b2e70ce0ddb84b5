"""Scenario files: a planning pipeline written as TOML data, validated before anything runs.

A scenario names the region (a data folder or a synthetic specification), the standard, the
pipeline of planner steps with their policy parameters, named variants for comparisons, solver
settings and the output folder::

    name = "Demo"
    [region]
    schools = 120            # synthetic region (or: data = "data/my_county", relative to this file)
    seed = 7
    [standard]
    base = "moe2017"
    [[steps]]
    planner = "budget"       # one of: mergers, districts, budget, teachers
    budget = 2e8             # every other key is a field of the planner's policy
    [[variants]]
    name = "rural priority"
    steps.budget.objective = "gap"

Layout: top-level ``name`` and ``description``; ``[region]`` (``data`` and optionally
``duplicate_road_factor`` of :func:`allocator.io.load_region`, or the keyword arguments of
:func:`allocator.synth.make_region` within its bounds; plus ``name``); ``[standard]`` (``base``,
``overrides``; passed to every policy that has a ``standard`` setting unless the step sets one);
``[solver]`` (the fields of :class:`~allocator.solver.SolverOptions`); ``[[steps]]`` (``planner``,
optional ``name``, ``enabled``, ``solver`` and ``over_years``, and the policy's fields);
``years = [first, last]`` and ``[forecast]`` for plans over years (:mod:`allocator.scenario.years`); ``[[variants]]`` (``name``,
``description`` and overrides of ``region``, ``standard``, ``solver`` and
``steps.<step name>.<key>``); ``[output]`` (``folder``, relative to the working directory, and
``formats``).

A scenario file is at most 1 MB and 32 levels deep (:mod:`allocator.toml_input`).

Validation happens once, in :func:`load_scenario`: an unknown key, a value of the wrong type, a
missing data folder, a negative budget or an unknown planner raises
:class:`~allocator.errors.InputError` whose message names the file, the line, the key path
(``steps[2].budget``: the second ``[[steps]]`` block, counted from 1) and what was expected.
Policy keys are checked against the fields of the planner's policy dataclass (names and types), and
each policy is built once so that its own checks (``__post_init__``) run before any solve.

Planners are found through the registry of :mod:`allocator.planners.registry` (:data:`PLANNERS`),
which imports each planner module only when a scenario uses it; :func:`register_planner` adds
others. The modules: :mod:`~allocator.scenario.values` (key paths, types, located errors),
:mod:`~allocator.scenario.overrides` (variants and ``--set``), :mod:`~allocator.scenario.sections`
(each section's spec and checks) and :mod:`~allocator.scenario.parse` (the :class:`Scenario`).
"""

from allocator.planners.registry import (
    PLANNERS,
    Planner,
    get_planner,
    planner_names,
    register_planner,
    unregister_planner,
)
from allocator.scenario.overrides import merge_overrides, parse_assignment
from allocator.scenario.parse import Scenario, load_scenario, parse_scenario
from allocator.scenario.sections import (
    FORMATS,
    MAX_NAME_CHARS,
    OutputSpec,
    RegionSpec,
    StandardSpec,
    Step,
    Variant,
)
from allocator.toml_input import key_lines

__all__ = [
    "PLANNERS",
    "FORMATS",
    "MAX_NAME_CHARS",
    "Planner",
    "Scenario",
    "Step",
    "Variant",
    "RegionSpec",
    "StandardSpec",
    "OutputSpec",
    "load_scenario",
    "parse_scenario",
    "parse_assignment",
    "merge_overrides",
    "register_planner",
    "unregister_planner",
    "get_planner",
    "planner_names",
    "key_lines",
]
