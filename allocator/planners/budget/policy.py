"""What a budget plan may spend, on what, and what it aims for: :class:`BudgetPolicy`.

The policy checks its own fields when it is made (each error names the field, the value and what
was expected) and is then read by every later step: :mod:`.data` (which interventions and
indicators are in play), :mod:`.model` (the objective, the budget and the spending caps) and
:mod:`.verify` (the money a plan may spend).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.planners.budget.catalogue import load_catalogue
from allocator.planners.budget.targets import check_targets

__all__ = ["OBJECTIVES", "BudgetPolicy", "reject_policy", "as_yuan"]

#: The objectives a budget plan can pursue (see :mod:`allocator.planners.budget.model`).
OBJECTIVES = ("shortfall", "minimax", "gap", "lexicographic")


def reject_policy(column, value, message):
    """Raise the :class:`InputError` of a bad policy field (``table="policy"``).

    Examples
    --------
    >>> reject_policy("budget", -1, "budget=-1; expected a number of yuan >= 0")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'budget': budget=-1; expected a number of yuan >= 0
    """
    raise InputError(message, table="policy", column=column, value=value)


def as_yuan(column, value) -> float:
    """``value`` as a float number of yuan >= 0, or the policy error naming ``column``.

    Examples
    --------
    >>> as_yuan("budget", 5_000_000)
    5000000.0
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        reject_policy(column, value, f"{column}={value!r}; expected a number of yuan >= 0")
    if not math.isfinite(float(value)) or value < 0:
        reject_policy(column, value, f"{column}={value!r}; expected a finite number of yuan >= 0")
    return float(value)


@dataclass(frozen=True)
class BudgetPolicy:
    """What to spend, on what, and what to aim for.

    Parameters
    ----------
    budget : float
        Total yuan to spend (required, >= 0).
    objective : {"shortfall", "minimax", "gap", "lexicographic"}
        See the module notes. ``"shortfall"`` (default) lifts the most pupils furthest towards the
        thresholds; ``"minimax"`` lifts the weakest school first, buying only what that needs;
        ``"gap"`` narrows the rural-urban gap of the pupil-weighted means (it does not care which
        rural school gets the money, so it may concentrate it and raise a CV);
        ``"lexicographic"`` is minimax, then shortfall, then cost.
    relax : bool
        Allow fractional whole-unit interventions (an LP instead of a MILP; much faster on large
        regions). :meth:`BudgetPlan.apply` then rounds added teachers and rooms down.
    catalogue : None, str, list of dict or DataFrame
        The interventions (default: the built-in catalogue); a CSV path or rows, see
        :func:`~allocator.planners.budget.catalogue.load_catalogue`.
    intervention_overrides : dict
        ``intervention -> {column: value}``: change prices or caps, or add an intervention.
    exclude_interventions : list of str
        Interventions not to use.
    category_caps : dict
        ``category -> yuan``, e.g. ``{"staff": 2e7}``.
    county_caps : dict
        ``county -> yuan``.
    rural_min_share : float
        At least this share (0-1) of the money spent goes to rural schools.
    standard : str
        Standard name or TOML path (default ``"moe2017"``).
    standard_overrides : dict, optional
        Passed to :func:`allocator.standards.load_standard`.
    extra_indicators : dict, optional
        Extra indicators by name, beside the 2017 seven and the standard's open indicators: each
        a school column with a target (see :mod:`~allocator.planners.budget.catalogue`); one named
        here must have its column. ``{"name": {"enabled": False}}`` switches one off.
    open_indicators : "all" or list of str
        The standard's open indicators (digital campus, campus safety: ``bandwidth_mbps``,
        ``alarm_video_linked``, ...) the plan spends on where schools fall short of their targets,
        through the catalogue's upgrades; default none, so a plan buys only the 2017 resources.
        A target's indicator and an indicator the standard assesses (``open_assessed``) are in
        play whatever this says.
    targets : dict, optional
        ``indicator -> {"at_least": value, "schools": "all" | "boarding" | "urban" | "town" |
        "rural"}``: open indicators every chosen school must reach (constraints of the model; see
        :mod:`~allocator.planners.budget.targets`), e.g. ``{"bandwidth_mbps": {"at_least":
        1000}}``. A plan that cannot meet them raises :class:`~allocator.errors.Infeasible` saying
        which target, at which schools or by how many yuan.
    stage_tolerance : float
        Relative slack with which a lexicographic stage keeps the previous stage's optimum.
    discount_rate : float
        Yearly rate (default 0) at which a plan over years (``plan_budget(..., years=...)``)
        discounts money: a yuan spent t years after the first year counts as 1 / (1 + r) ** t in
        the joint model's cost stage (objectives ``minimax`` and ``lexicographic``) and in the
        plan's reported present value (``BudgetYearsPlan.present_value``). The annual budgets stay
        nominal (yuan of their own year); a one-year plan ignores the rate.

    Raises
    ------
    InputError
        Naming the field (``table="policy"``), the value and what was expected.

    Examples
    --------
    >>> import dataclasses
    >>> policy = BudgetPolicy(budget=5e7, objective="minimax", category_caps={"staff": 1e7})
    >>> dataclasses.replace(policy, budget=8e7).budget
    80000000.0
    >>> policy.category_caps["staff"], hash(policy) == hash(dataclasses.replace(policy))
    (10000000.0, True)
    """

    budget: float
    objective: str = "shortfall"
    relax: bool = False
    # The hints name what a caller (or a scenario file) gives; __post_init__ stores mappings as
    # read-only FrozenMaps and row lists as tuples, so a policy is hashable and never changes.
    catalogue: str | list[dict] | None = None
    intervention_overrides: dict[str, dict] = field(default_factory=dict)
    exclude_interventions: tuple[str, ...] = ()
    category_caps: dict[str, float] = field(default_factory=dict)
    county_caps: dict[str, float] = field(default_factory=dict)
    rural_min_share: float = 0.0
    standard: str = "moe2017"
    standard_overrides: dict | None = None
    extra_indicators: dict[str, dict] | None = None
    open_indicators: str | tuple[str, ...] = ()
    targets: dict[str, dict] = field(default_factory=dict)
    stage_tolerance: float = 1e-6
    discount_rate: float = 0.0

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "budget", as_yuan("budget", self.budget))
        if self.objective not in OBJECTIVES:
            reject_policy(
                "objective",
                self.objective,
                f"objective={self.objective!r}; expected one of {', '.join(OBJECTIVES)}",
            )
        if not isinstance(self.relax, bool | np.bool_):
            reject_policy("relax", self.relax, f"relax={self.relax!r}; expected true or false")
        for name in ("intervention_overrides", "category_caps", "county_caps"):
            value = getattr(self, name)
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                reject_policy(name, value, f"{name}={value!r}; expected a table (dict)")
            set_(self, name, freeze(dict(value)))
        for name in ("category_caps", "county_caps"):
            caps = getattr(self, name)
            set_(self, name, freeze({k: as_yuan(name, v) for k, v in caps.items()}))
        exclude = self.exclude_interventions
        exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude or ())
        set_(self, "exclude_interventions", exclude)
        share = self.rural_min_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            reject_policy(
                "rural_min_share", share, f"rural_min_share={share!r}; expected a share in [0, 1]"
            )
        if not isinstance(self.standard, str | Path):
            reject_policy(
                "standard", self.standard, "expected a standard name such as 'moe2017' or a path"
            )
        tol = self.stage_tolerance
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol <= 0.1:
            reject_policy(
                "stage_tolerance", tol, f"stage_tolerance={tol!r}; expected a number in [0, 0.1]"
            )
        rate = self.discount_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            reject_policy(
                "discount_rate", rate, f"discount_rate={rate!r}; expected a yearly rate in [0, 1]"
            )
        set_(self, "discount_rate", float(rate))
        cat = self.catalogue
        if cat is not None and not isinstance(cat, str | Path | list | tuple | pd.DataFrame):
            reject_policy(
                "catalogue", cat, "expected None, a CSV path, a list of rows or a DataFrame"
            )
        if isinstance(cat, str | Path):  # a file that is missing or wrong: say so now
            load_catalogue(cat)
        elif isinstance(cat, pd.DataFrame):  # kept as read-only rows
            set_(self, "catalogue", freeze(cat.to_dict("records")))
        elif cat is not None:
            set_(self, "catalogue", freeze(list(cat)))
        for name in ("standard_overrides", "extra_indicators"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                reject_policy(name, value, f"{name}={value!r}; expected a table (dict) or None")
            set_(self, name, freeze(value))
        set_(self, "targets", check_targets(self.targets))
        chosen = self.open_indicators
        if isinstance(chosen, str) and chosen != "all":
            chosen = (chosen,)
        if not isinstance(chosen, str):
            if not isinstance(chosen, list | tuple) or not all(isinstance(k, str) for k in chosen):
                reject_policy(
                    "open_indicators",
                    chosen,
                    f'open_indicators={chosen!r}; expected "all" or a list of open indicator names',
                )
            chosen = tuple(chosen)
        set_(self, "open_indicators", chosen)
