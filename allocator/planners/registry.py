"""The planner registry: which planners a scenario file may name, and how to reach each one.

A planner is a function ``plan(region, policy=None, options=None, progress=None) -> plan`` and the
frozen policy dataclass whose fields are a step's keys. The built-in planners are listed in
:data:`PLANNERS` by module path and imported only when a scenario uses them; :func:`register_planner`
adds others (or replaces a built-in one) at run time.

Adding a planner to the library takes its own package under ``allocator/planners/`` plus one entry
in :data:`PLANNERS`; the scenario parser, the pipeline and the writers name no planner.

Examples
--------
>>> get_planner("budget").policy.__name__
'BudgetPolicy'
>>> planner_names()[:2]
['mergers', 'districts']
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from allocator.errors import InputError

__all__ = [
    "PLANNERS",
    "Planner",
    "register_planner",
    "unregister_planner",
    "get_planner",
    "planner_names",
    "registered_planners",
]

#: Built-in planners: name -> (module, plan function, policy class). Imported on first use.
PLANNERS: dict[str, tuple[str, str, str]] = {
    "mergers": ("allocator.planners.mergers", "plan_mergers", "MergerPolicy"),
    "districts": ("allocator.planners.districts", "plan_districts", "DistrictPolicy"),
    "budget": ("allocator.planners.budget", "plan_budget", "BudgetPolicy"),
    "teachers": ("allocator.planners.teachers", "plan_teachers", "TeacherPolicy"),
    "training": ("allocator.planners.training", "plan_training", "TrainingPolicy"),
    "kindergartens": (
        "allocator.planners.kindergartens",
        "plan_kindergartens",
        "KindergartenPolicy",
    ),
    "senior": ("allocator.planners.senior", "plan_senior", "SeniorPolicy"),
}


@dataclass(frozen=True)
class Planner:
    """A planner the runner can call: ``plan(region, policy, options, progress)``.

    Attributes
    ----------
    name : str
        The name used in scenario files (``planner = "budget"``).
    plan : callable
        ``plan(region, policy=None, options=None, progress=None) -> plan object``.
    policy : type
        The frozen policy dataclass, built from the step's keys as ``policy(**keys)``.
    """

    name: str
    plan: Callable[..., Any]
    policy: type

    def fields(self) -> dict[str, dataclasses.Field]:
        """The policy's fields by name."""
        return {f.name: f for f in dataclasses.fields(self.policy) if f.init}

    def hints(self) -> dict[str, Any]:
        """The policy's resolved type hints (empty where they cannot be resolved)."""
        try:
            return typing.get_type_hints(self.policy)
        except Exception:  # a hint naming a type only imported for type checkers
            return {}


_REGISTERED: dict[str, Planner] = {}


def register_planner(name: str, plan: Callable[..., Any], policy: type) -> None:
    """Make a planner available to scenario files under ``name`` (replaces a built-in one).

    Parameters
    ----------
    name : str
        The planner name in ``[[steps]] planner = ...``.
    plan : callable
        Follows the planner protocol: ``plan(region, policy=None, options=None, progress=None)``.
    policy : type
        A dataclass whose fields are the step's keys.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class NoPolicy:
    ...     pass
    >>> register_planner("nothing", lambda region, policy=None, options=None, progress=None: None,
    ...                  NoPolicy)
    >>> "nothing" in planner_names()
    True
    >>> unregister_planner("nothing")
    """
    if not dataclasses.is_dataclass(policy) or not isinstance(policy, type):
        raise ValueError(f"policy must be a dataclass type, got {policy!r}")
    if not callable(plan):
        raise ValueError(f"plan must be callable, got {plan!r}")
    _REGISTERED[str(name)] = Planner(str(name), plan, policy)


def unregister_planner(name: str) -> None:
    """Remove a planner added with :func:`register_planner` (built-ins come back).

    Examples
    --------
    >>> unregister_planner("never registered")  # no error
    """
    _REGISTERED.pop(name, None)


def registered_planners() -> dict[str, Planner]:
    """The planners added with :func:`register_planner`, by name (a copy).

    A worker process starts with the built-ins only; the registered ones are handed to it.

    Examples
    --------
    >>> registered_planners() == {}
    True
    """
    return dict(_REGISTERED)


def planner_names() -> list[str]:
    """Names usable as ``planner = ...``: the built-ins and the registered ones.

    Examples
    --------
    >>> "teachers" in planner_names()
    True
    """
    return list(dict.fromkeys([*PLANNERS, *_REGISTERED]))


def get_planner(name: str) -> Planner:
    """The planner called ``name``, importing its module on first use.

    Raises
    ------
    InputError
        For an unknown name, or a built-in planner whose module cannot be imported.

    Examples
    --------
    >>> get_planner("nonsense")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: unknown planner 'nonsense'; expected one of mergers, districts, budget, teachers, ...
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    if name not in PLANNERS:
        raise InputError(f"unknown planner {name!r}; expected one of {', '.join(planner_names())}")
    module_name, plan_name, policy_name = PLANNERS[name]
    try:
        module = importlib.import_module(module_name)
        return Planner(name, getattr(module, plan_name), getattr(module, policy_name))
    except (ImportError, AttributeError) as exc:
        raise InputError(
            f"planner {name!r} is not available in this installation ({module_name}: {exc})"
        ) from None
