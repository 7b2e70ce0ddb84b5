"""Balanced budget planner: spend a capital and staff budget to lift the weakest schools.

Model
-----
Sets: schools s that have at least one in-scope assessed part; interventions j of the catalogue
(:mod:`allocator.planners.budget_catalogue`); assessed parts k (a school's primary or junior part,
from :func:`allocator.standards.assessment_parts`); indicators i (the standard's assessed indicators
and the extra indicators the region has columns for).

Data: v0[k,i] the indicator before; T[k,i] its threshold (target); p_k the part's pupils; c[s,j] the
unit cost at the school's area type; cap[s,j] the unit cap; B the budget. An intervention adds
``effect_j`` per unit to one school column (and to ``teachers`` for teacher posts); indicator i of
part k is ``scale_i * share_k * column / p_k`` (per-pupil indicators) or the column itself (score
indicators), so each unit adds ``a[k,i,j] = effect_j * share_k * scale_i / p_k`` to it.
Nine-year rule: an intervention at a nine-year school adds to the school's pool, and the assessment
splits that pool between the parts as it splits every resource: primary ``P / (P + 1.1 J)``, junior
``1.1 J / (P + 1.1 J)`` (P, J the primary and junior pupils; the weight is the standard's
``nine_year.junior_weight``). Score indicators (e.g. a safety score) are not split: both parts get
the whole gain.

Variables: x[s,j] >= 0 units (integer for whole-unit interventions unless ``relax``); u[k,i] >= 0 the
normalised shortfall; z (minimax level); g (gap per part type and indicator).

Constraints:
    u[k,i] >= (T[k,i] - v0[k,i] - sum_j a[k,i,j] x[s(k),j]) / T[k,i]        (shortfall)
    sum_sj c[s,j] x[s,j] <= B                                                 (budget)
    sum over a category <= its cap; sum over a county's schools <= its cap     (caps)
    sum over rural schools >= rho * sum over all schools                      (rural minimum share)
    0 <= x[s,j] <= cap[s,j]
Objectives (``BudgetPolicy.objective``):
    shortfall      min sum_k p_k sum_i u[k,i] / sum_k p_k
    minimax        min z,  z >= u[k,i] - ubar[k,i]; ubar is the shortfall left even when every cap
                   is used, so a shortfall that no money can remove does not hide the others
    gap            min mean over (part type, indicator) of g, g >= +-(M_urban - M_rural) / T, where M
                   is the pupil-weighted mean of the indicator over urban / rural parts
    lexicographic  minimax; then shortfall with u <= z* + ubar; then cost with shortfall <= S*
                   (each stage keeps the previous optimum up to ``stage_tolerance``)

How minimax is solved: C(z), the least cost of keeping every avoidable shortfall within z, is
convex, piecewise linear and non-increasing in z for the LP, and z* = min {z : C(z) <= B}. Each C(z)
is an LP whose shortfall rows act on one school's columns (presolve turns most into bounds); Newton
steps from the left, with the slope -dC/dz = sum of the row duals, stay at or below z* and end on
it. With whole units, bisection on the MIP C(z) between the LP level (a lower bound) and a
rounded-down LP plan (an upper bound) until the relative gap is ``mip_gap``. The plan returned is
the cheapest one at z*: minimax spends no more than the weakest schools need. (One LP with
``z >= u`` has a dense z column and was 20-30x slower.) Whole-unit shortfall models also get
rounding cuts: a row u + a x >= sf0 on one integer column x, with sf0 = a k + rho, implies
u >= rho (k + 1 - x), which makes the LP relaxation the convex hull of that row.

Least cost to comply (:func:`min_cost_to_comply`): min sum c x subject to, for each in-scope part k
and each assessed indicator i it misses, ``sum_j a[k,i,j] x >= (T (1 - MET_RTOL) - v0) y[k,i]``
with y binary (a big-M row with the tightest M, the gap itself), ``sum_i y[k,i] >= min_met - met0[k]``,
and, when the standard sets ``floor_share``, ``v >= floor_share * T (1 - MET_RTOL)`` for every
indicator: exactly what :func:`allocator.compliance.meets` asks, nothing above it.

Marginal value of a yuan (:func:`budget_frontier`): minus the LP dual of the budget row, i.e. the
objective's fall per extra yuan; for minimax it is 1 / (-dC/dz) at z*, the same number the budget
row of the one-LP form would give. A MILP plan's marginal value comes from its LP relaxation.

Every solve is verified: spending within the budget (1e-6 relative) and every cap, no negative units,
whole units where required (solver values rounded at 0.5, then re-checked), the indicators
recomputed by :func:`allocator.standards.assessment_parts` on the changed schools equal the model's,
and the objective recomputed from the plan equals the solver's. The solver's units are then rounded
to purchase units (:mod:`allocator.planners.budget_rounding`: 0.01 m², one fen, whole teachers and
rooms), keeping every threshold the solver's plan reaches and, at the fen, the budget, every cap and
the rural share; the rounded plan is verified again. Its verdicts (``parts.passes_after``) are those
of :func:`allocator.compliance.part_verdicts` on the region after :meth:`BudgetPlan.apply`, i.e.
what :func:`allocator.check.check` finds there; ``objective`` and ``measures`` are the rounded plan's,
``solve_info.objective`` the solver's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator import compliance, standards
from allocator.errors import Infeasible, InputError, SolverError
from allocator.fingerprint import require_region
from allocator.planners.budget_catalogue import extra_indicator_specs, load_catalogue
from allocator.planners.budget_model import (
    _clean_units,
    _Data,
    _gap_weights,
    _measures,
    _Model,
    _passing,
    _policy_error,
    _prepare,
    _shortfall,
    _spend_rows,
    _unavoidable,
    _verify,
    applied_values,
)
from allocator.planners.budget_rounding import purchase_steps, round_purchases
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions, solve_matrix, worst_status

__all__ = [
    "OBJECTIVES",
    "BudgetPolicy",
    "BudgetPlan",
    "plan_budget",
    "min_cost_to_comply",
    "budget_frontier",
]

OBJECTIVES = ("shortfall", "minimax", "gap", "lexicographic")
_LARGE_LP = 60_000  # columns above which a relaxed solve uses interior point by default
#: Absolute MIP gap of the normalised objectives (see _with_abs_gap).
_MIP_ABS_GAP = 1e-4


# --------------------------------------------------------------------------- policy


def _money(column, value):
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        _policy_error(column, value, f"{column}={value!r}; expected a number of yuan >= 0")
    if not math.isfinite(float(value)) or value < 0:
        _policy_error(column, value, f"{column}={value!r}; expected a finite number of yuan >= 0")
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
        :func:`~allocator.planners.budget_catalogue.load_catalogue`.
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
        Extra indicators by name (merged into the defaults ``network_mbps_per_pupil`` and
        ``safety_score``). A default extra indicator whose column (``network_mbps``,
        ``safety_score``) the region lacks is skipped together with its interventions; one named
        here must have its column. ``{"safety_score": {"enabled": False}}`` switches one off.
    stage_tolerance : float
        Relative slack with which a lexicographic stage keeps the previous stage's optimum.

    Raises
    ------
    InputError
        Naming the field (``table="policy"``), the value and what was expected.

    Examples
    --------
    >>> policy = BudgetPolicy(budget=5e7, objective="minimax", category_caps={"staff": 1e7})
    >>> dataclasses.replace(policy, budget=8e7).budget
    80000000.0
    """

    budget: float
    objective: str = "shortfall"
    relax: bool = False
    catalogue: str | list[dict] | None = None
    intervention_overrides: dict[str, dict] = field(default_factory=dict)
    exclude_interventions: tuple[str, ...] = ()
    category_caps: dict[str, float] = field(default_factory=dict)
    county_caps: dict[str, float] = field(default_factory=dict)
    rural_min_share: float = 0.0
    standard: str = "moe2017"
    standard_overrides: dict | None = None
    extra_indicators: dict[str, dict] | None = None
    stage_tolerance: float = 1e-6

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "budget", _money("budget", self.budget))
        if self.objective not in OBJECTIVES:
            _policy_error(
                "objective",
                self.objective,
                f"objective={self.objective!r}; expected one of {', '.join(OBJECTIVES)}",
            )
        if not isinstance(self.relax, bool | np.bool_):
            _policy_error("relax", self.relax, f"relax={self.relax!r}; expected true or false")
        for name in ("intervention_overrides", "category_caps", "county_caps"):
            value = getattr(self, name)
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                _policy_error(name, value, f"{name}={value!r}; expected a table (dict)")
            set_(self, name, dict(value))
        for cap in self.category_caps.values():
            _money("category_caps", cap)
        set_(self, "category_caps", {k: float(v) for k, v in self.category_caps.items()})
        for cap in self.county_caps.values():
            _money("county_caps", cap)
        set_(self, "county_caps", {k: float(v) for k, v in self.county_caps.items()})
        exclude = self.exclude_interventions
        exclude = (exclude,) if isinstance(exclude, str) else tuple(exclude or ())
        set_(self, "exclude_interventions", exclude)
        share = self.rural_min_share
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            _policy_error(
                "rural_min_share", share, f"rural_min_share={share!r}; expected a share in [0, 1]"
            )
        if not isinstance(self.standard, str | Path):
            _policy_error(
                "standard", self.standard, "expected a standard name such as 'moe2017' or a path"
            )
        tol = self.stage_tolerance
        if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol <= 0.1:
            _policy_error(
                "stage_tolerance", tol, f"stage_tolerance={tol!r}; expected a number in [0, 0.1]"
            )
        cat = self.catalogue
        if cat is not None and not isinstance(cat, str | Path | list | tuple | pd.DataFrame):
            _policy_error(
                "catalogue", cat, "expected None, a CSV path, a list of rows or a DataFrame"
            )
        if isinstance(cat, str | Path):  # a file that is missing or wrong: say so now
            load_catalogue(cat)
        for name in ("standard_overrides", "extra_indicators"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                _policy_error(name, value, f"{name}={value!r}; expected a table (dict) or None")


# --------------------------------------------------------------------------- the plan
@dataclass(eq=False)
class BudgetPlan:
    """A budget plan: what each school receives, what it costs, and what it achieves.

    Attributes
    ----------
    allocations : pandas.DataFrame
        One row per school and intervention with units > 0: ``school_id, intervention, units,
        cost`` (yuan), then ``name, county, area_type, indicator, unit``.
    spent : float
        Yuan spent.
    budget : float
        Yuan available (for :func:`min_cost_to_comply`: the least budget found).
    objective : float
        Value reached on the policy's objective (``objective_name``): pupil-weighted shortfall,
        largest avoidable normalised shortfall (minimax and lexicographic), mean normalised
        rural-urban gap, or yuan (``min_cost``).
    objective_name : str
    measures : dict
        Every measure before (``*_before``) and after the plan: ``shortfall``, ``minimax``,
        ``max_shortfall``, ``gap``.
    indicators : pandas.DataFrame
        Per part type and indicator: threshold, pupil-weighted mean, CV, parts below the threshold
        and the rural/urban ratio of means, before and after.
    parts : pandas.DataFrame
        Per in-scope assessed part: indicators met and pass/fail before and after; "after" is the
        region after :meth:`apply`, judged as :func:`allocator.check.check` judges it.
    spending : pandas.DataFrame
        Per intervention: units, yuan, schools, rural yuan.
    counties : pandas.DataFrame
        Per county: yuan, parts passing before/after, indicators whose county CV exceeds the limit.
    solve_info : SolveInfo
        For lexicographic plans the stages combined (worst status, largest gap, summed time);
        ``stages`` holds each.
    stages : list of (str, SolveInfo)
    budget_dual : float or None
        d objective / d budget (per yuan) from the LP; None for a MILP.
    marginal_value_per_yuan : float or None
        ``-budget_dual``: how much one more yuan improves the objective.
    relaxed : bool
        Whole-unit interventions were allowed fractional values.
    notes : list of str
        What was skipped and why.
    """

    allocations: pd.DataFrame
    spent: float
    budget: float
    objective: float
    objective_name: str
    measures: dict
    indicators: pd.DataFrame
    parts: pd.DataFrame
    spending: pd.DataFrame
    counties: pd.DataFrame
    solve_info: SolveInfo
    stages: list
    budget_dual: float | None
    relaxed: bool
    notes: list
    standard_name: str
    _effects: dict = field(repr=False, default_factory=dict)
    region_fingerprint: str | None = field(repr=False, default=None)

    @property
    def marginal_value_per_yuan(self) -> float | None:
        return None if self.budget_dual is None else -self.budget_dual

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (the scenario runner writes them as CSV)."""
        return {
            "allocations": self.allocations,
            "spending": self.spending,
            "indicators": self.indicators,
            "parts": self.parts,
            "counties": self.counties,
        }

    def headline(self) -> dict:
        """Key figures as a flat JSON-safe dict.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> plan = plan_budget(make_region(schools=40, seed=3), BudgetPolicy(budget=2e6, relax=True))
        >>> plan.headline()["spent_yuan"] <= 2e6 * (1 + 1e-6)
        True
        """
        info = self.solve_info
        rural = self.allocations.loc[self.allocations["area_type"] == "rural", "cost"].sum()
        out = {
            "objective_name": self.objective_name,
            "objective": float(self.objective),
            "status": info.status,
            "solver_gap": None if info.gap is None else float(info.gap),
            "solve_seconds": float(info.seconds),
            "budget_yuan": float(self.budget),
            "spent_yuan": float(self.spent),
            "spent_rural_share": float(rural / self.spent) if self.spent > 0 else 0.0,
            "schools_funded": int(self.allocations["school_id"].nunique()),
            "parts_in_scope": int(len(self.parts)),
            "parts_passing_before": int(self.parts["passes_before"].sum()),
            "parts_passing_after": int(self.parts["passes_after"].sum()),
            "relaxed": bool(self.relaxed),
        }
        if self.budget_dual is not None:
            out["marginal_value_per_yuan"] = float(-self.budget_dual)
        for key, value in self.measures.items():
            out[key] = float(value)
        return {k: v for k, v in out.items() if v is not None}

    def summary(self) -> str:
        """A short text a planner reads in half a minute."""
        lines = []
        kind = "LP, whole units relaxed" if self.relaxed else "MILP"
        lines.append(
            f"Budget plan ({self.objective_name}, {kind}, standard {self.standard_name}): "
            f"{self.solve_info.describe()}"
        )
        rural = self.allocations.loc[self.allocations["area_type"] == "rural", "cost"].sum()
        share = rural / self.spent if self.spent > 0 else 0.0
        lines.append(
            f"Budget {self.budget:,.0f} yuan; spent {self.spent:,.0f} yuan "
            f"({(self.spent / self.budget if self.budget else 0):.1%}), {share:.0%} at rural schools."
        )
        if len(self.spending):
            lines.append("What the money buys:")
            for r in self.spending.itertuples(index=False):
                lines.append(
                    f"  {r.intervention:<26} {r.units:>13,.2f} {r.unit:<8} at {r.schools:>4} "
                    f"schools {r.cost:>16,.0f} yuan"
                )
        else:
            lines.append("Nothing is bought.")
        parts = self.parts
        before, after = int(parts["passes_before"].sum()), int(parts["passes_after"].sum())
        lines.append(
            f"Assessed parts passing (>= {self.measures.get('min_met', 6):.0f} indicators): "
            f"{before} -> {after} of {len(parts)}"
        )
        newly = parts[~parts["passes_before"] & parts["passes_after"]]
        if len(newly):
            names = list(dict.fromkeys(newly["name"]))
            more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
            lines.append("  now passing: " + ", ".join(names[:5]) + more)
        lines.append("Pupil-weighted CV before -> after; rural/urban ratio before -> after:")

        def fmt(value, spec):
            return "  n/a" if value is None or not math.isfinite(value) else format(value, spec)

        for r in self.indicators.itertuples(index=False):
            lines.append(
                f"  {r.part:<7} {r.indicator:<26} CV {fmt(r.cv_before, '5.3f')} -> "
                f"{fmt(r.cv_after, '5.3f')}   R/U {fmt(r.rural_urban_before, '5.2f')} -> "
                f"{fmt(r.rural_urban_after, '5.2f')}"
            )
        m = self.measures
        lines.append(
            "Shortfall {:.4f} -> {:.4f}; largest shortfall {:.3f} -> {:.3f}; "
            "rural-urban gap {:.4f} -> {:.4f}".format(
                m["shortfall_before"],
                m["shortfall"],
                m["max_shortfall_before"],
                m["max_shortfall"],
                m["gap_before"],
                m["gap"],
            )
        )
        if self.budget_dual is not None:
            lines.append(
                f"One more million yuan would improve the objective by {-self.budget_dual * 1e6:.4g}."
            )
        if self.relaxed:
            lines.append(
                "Relaxed plan: apply() rounds fractional teachers and rooms down to whole ones."
            )
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_geodataframes(self, region: Region | None = None, crs=None) -> dict:
        """The plan's tables as GeoDataFrames placed on ``region`` (the region it was made for).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); the layers are those of
        :func:`allocator.gis.export.plan_geodataframes`.
        """
        from allocator.gis import to_geodataframes

        return to_geodataframes(self, region, crs)

    def apply(self, region: Region) -> Region:
        """The region with the plan's resources added (a new, validated Region).

        Whole counts (teachers, rooms) stay whole: fractional amounts from a relaxed plan are
        rounded down, so no indicator ever falls.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_budget(region, BudgetPolicy(budget=2e6))
        >>> after = plan.apply(region)
        >>> bool((after.schools["equipment_value"] >= region.schools["equipment_value"]).all())
        True
        """
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        require_region(self.region_fingerprint, region, "budget plan")
        schools = region.schools.copy()
        if self.allocations.empty:
            return region.replace(schools=schools)
        row_of = pd.Series(np.arange(len(schools)), index=schools["school_id"].to_numpy())
        missing = ~self.allocations["school_id"].isin(row_of.index)
        if missing.any():
            sid = self.allocations["school_id"][missing].iloc[0]
            raise InputError(
                f"the plan funds school {sid!r}, which this region does not have",
                table="schools",
                row_id=sid,
            )
        added: dict[str, np.ndarray] = {}
        alloc = self.allocations
        rows = row_of.loc[alloc["school_id"].to_numpy()].to_numpy()
        for name, (column, effect, adds_teachers) in self._effects.items():
            mask = (alloc["intervention"] == name).to_numpy()
            if not mask.any():
                continue
            amount = np.zeros(len(schools))
            np.add.at(amount, rows[mask], alloc["units"].to_numpy(float)[mask] * effect)
            for col in [column] + (["teachers"] if adds_teachers else []):
                added[col] = added.get(col, np.zeros(len(schools))) + amount
        for col, amount in added.items():
            if col not in schools.columns:
                raise InputError(f"the region has no column {col!r}", table="schools", column=col)
            current = schools[col].to_numpy()
            if np.issubdtype(current.dtype, np.integer):
                schools[col] = current + np.floor(amount + 1e-9).astype(np.int64)
            else:
                schools[col] = current.astype(float) + amount
        return region.replace(schools=schools)


def _weighted_cv(values, weights):
    from allocator.metrics import cv

    try:
        return float(cv(values, weights=weights))
    except ValueError:
        return float("nan")


def _group_cv(values, weights, codes, n):
    """Pupil-weighted CV of ``values`` within each group (codes 0..n-1), vectorised."""
    wsum = np.bincount(codes, weights, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(codes, weights * values, minlength=n) / wsum
        var = np.bincount(codes, weights * (values - mean[codes]) ** 2, minlength=n) / wsum
        return np.sqrt(var) / mean


def _build_plan(
    data: _Data,
    policy: BudgetPolicy,
    units: np.ndarray,
    after: np.ndarray,
    objective_name: str,
    info: SolveInfo,
    stages: list,
    budget_dual,
    relaxed: bool,
    notes: list | None = None,
) -> BudgetPlan:
    """The plan of ``units`` (rounded purchases): ``after`` are the model's indicators, the
    verdicts (``met_after``, ``passes_after``) those of the region after :meth:`BudgetPlan.apply`."""
    cat = data.catalogue
    S, J = data.S, data.J
    x = units.reshape(S, J)
    cost = x * data.cost
    spent = float(cost.sum())
    s_idx, j_idx = np.nonzero(x > 0)
    cand = data.schools.iloc[data.pos].reset_index(drop=True)
    allocations = pd.DataFrame(
        {
            "school_id": cand["school_id"].to_numpy()[s_idx],
            "intervention": cat["intervention"].to_numpy()[j_idx],
            "units": x[s_idx, j_idx],
            "cost": cost[s_idx, j_idx],
            "name": cand["name"].to_numpy()[s_idx],
            "county": cand["county"].to_numpy()[s_idx],
            "area_type": cand["area_type"].to_numpy()[s_idx],
            "indicator": cat["indicator"].to_numpy()[j_idx],
            "unit": cat["unit"].to_numpy()[j_idx],
        }
    )
    rural_s = cand["area_type"].to_numpy() == "rural"
    spending = pd.DataFrame(
        {
            "intervention": cat["intervention"].to_numpy(),
            "indicator": cat["indicator"].to_numpy(),
            "category": cat["category"].to_numpy(),
            "unit": cat["unit"].to_numpy(),
            "units": x.sum(axis=0),
            "cost": cost.sum(axis=0),
            "schools": (x > 0).sum(axis=0),
            "rural_cost": cost[rural_s].sum(axis=0),
        }
    )
    spending = spending[spending["units"] > 0].reset_index(drop=True)

    ubar = _unavoidable(data)
    gap_w = _gap_weights(data)
    before_m = _measures(data, data.v0, 0.0, ubar, gap_w)
    after_m = _measures(data, after, spent, ubar, gap_w)
    measures = dict(after_m)
    measures.update({f"{k}_before": v for k, v in before_m.items() if k != "cost"})
    if objective_name == "lexicographic":
        objective = after_m["minimax"]
    elif objective_name == "min_cost":
        objective = spent
    else:
        objective = after_m[objective_name]

    met0, pass0 = _passing(data, data.v0)
    met1, pass1 = _passing(data, applied_values(data, units))
    sf0, sf1 = _shortfall(data, data.v0), _shortfall(data, after)
    parts = data.parts
    part_table = pd.DataFrame(
        {
            "school_id": parts["school_id"].to_numpy(),
            "name": cand["name"].to_numpy()[parts["s"].to_numpy()],
            "county": parts["county"].to_numpy(),
            "area_type": parts["area_type"].to_numpy(),
            "part": parts["part"].to_numpy(),
            "pupils": parts["pupils"].to_numpy(),
            "met_before": met0,
            "met_after": met1,
            "passes_before": pass0,
            "passes_after": pass1,
            "worst_shortfall_before": sf0.max(axis=1, initial=0.0),
            "worst_shortfall_after": sf1.max(axis=1, initial=0.0),
        }
    )

    rows = []
    p = parts["pupils"].to_numpy(float)
    area = parts["area_type"].to_numpy()
    part_kind = parts["part"].to_numpy()
    for pt in standards.PARTS:
        in_pt = part_kind == pt
        if not in_pt.any():
            continue
        for i, name in enumerate(data.indicators):
            t = data.T[in_pt, i]
            if np.isnan(t).all():
                continue
            row = {"part": pt, "indicator": name, "threshold": float(np.nanmax(t))}
            for label, v in (("before", data.v0), ("after", after)):
                vals = v[in_pt, i]
                row[f"mean_{label}"] = float(np.average(vals, weights=p[in_pt]))
                row[f"cv_{label}"] = _weighted_cv(vals, p[in_pt])
                row[f"below_{label}"] = int((~compliance.meets(vals, t)).sum())
                urb, rur = in_pt & (area == "urban"), in_pt & (area == "rural")
                if urb.any() and rur.any():
                    mu = np.average(v[urb, i], weights=p[urb])
                    mr = np.average(v[rur, i], weights=p[rur])
                    row[f"rural_urban_{label}"] = float(mr / mu) if mu > 0 else float("nan")
                else:
                    row[f"rural_urban_{label}"] = float("nan")
            rows.append(row)
    indicator_table = pd.DataFrame(
        rows,
        columns=[
            "part",
            "indicator",
            "threshold",
            *[
                f"{m}_{lab}"
                for lab in ("before", "after")
                for m in ("mean", "cv", "below", "rural_urban")
            ],
        ],
    )

    county_names = list(dict.fromkeys(data.schools["county"]))
    codes = pd.Categorical(parts["county"], categories=county_names).codes
    nc = len(county_names)
    school_county = pd.Categorical(cand["county"].to_numpy(), categories=county_names).codes
    county_table = pd.DataFrame(
        {
            "county": county_names,
            "spent": np.bincount(school_county, cost.sum(axis=1), minlength=nc),
            "parts": np.bincount(codes, minlength=nc),
            "passing_before": np.bincount(codes, pass0, minlength=nc).astype(np.int64),
            "passing_after": np.bincount(codes, pass1, minlength=nc).astype(np.int64),
        }
    )
    for label, v in (("before", data.v0), ("after", after)):
        over = np.zeros(nc, dtype=np.int64)
        for pt in standards.PARTS:
            in_pt = part_kind == pt
            limit = data.standard.cv_limit.get(pt)
            if not in_pt.any() or limit is None:
                continue
            for i in np.flatnonzero(data.is_standard):
                if np.isnan(data.T[in_pt, i]).all():
                    continue
                cvs = _group_cv(v[in_pt, i], p[in_pt], codes[in_pt], nc)
                over += np.nan_to_num(cvs, nan=0.0) > limit
        county_table[f"cv_over_limit_{label}"] = over
    measures["min_met"] = float(data.standard.min_indicators_met)
    effects = {
        r.intervention: (data.column_of[j], float(r.effect), bool(r.adds_teachers))
        for j, r in enumerate(cat.itertuples(index=False))
    }
    return BudgetPlan(
        allocations=allocations,
        spent=spent,
        budget=float(policy.budget),
        objective=float(objective),
        objective_name=objective_name,
        measures=measures,
        indicators=indicator_table,
        parts=part_table,
        spending=spending,
        counties=county_table,
        solve_info=info,
        stages=stages,
        budget_dual=budget_dual,
        relaxed=relaxed,
        notes=list(data.notes) + list(notes or []),
        standard_name=data.standard.name,
        _effects=effects,
        region_fingerprint=data.region_fingerprint,
    )


# --------------------------------------------------------------------------- solving
def _combine(stages: list[tuple[str, SolveInfo]]) -> SolveInfo:
    infos = [s for _, s in stages]
    if len(infos) == 1:
        return infos[0]
    worst = worst_status(*(s.status for s in infos))
    gaps = [s.gap for s in infos if s.gap is not None]
    return SolveInfo(
        status=worst,
        objective=infos[0].objective,
        bound=infos[0].bound,
        gap=max(gaps) if gaps else None,
        seconds=float(sum(s.seconds for s in infos)),
        solver=infos[0].solver,
    )


def _default_options(options, model: _Model, relax: bool) -> SolverOptions:
    if options is None:
        options = SolverOptions(method="ipm") if relax and model.n > _LARGE_LP else SolverOptions()
    return _with_abs_gap(options)


def _with_abs_gap(options: SolverOptions) -> SolverOptions:
    """Add the absolute MIP gap the normalised objectives need, unless the caller set one.

    The objectives are shares of thresholds (or of a cost scale), and several can reach 0 (a gap
    closed, every shortfall removed): there a relative gap never closes (bound 0, plan 1e-5), and
    HiGHS's default absolute gap (1e-6) is below what whole units can reach, so the search would
    not stop. 1e-4 of a threshold is far below anything a planner can see.
    """
    extra = dict(options.highs_options or {})
    extra.setdefault("mip_abs_gap", _MIP_ABS_GAP)
    return dataclasses.replace(options, highs_options=extra)


def _solve_plan(data, policy, options, progress, relax=None) -> BudgetPlan:
    relax = policy.relax if relax is None else relax
    say = progress or (lambda message: None)
    model = _Model(data, policy, relax)
    opts = _default_options(options, model, relax)
    integral = model.integer_x
    stages: list[tuple[str, SolveInfo]] = []
    tol = policy.stage_tolerance
    z_star = None
    if policy.objective in ("minimax", "lexicographic"):
        say("stage 1/3: minimax" if policy.objective == "lexicographic" else "solving (minimax)")
        units, info, z_star, dual = model.minimax(opts, say)
        units = _clean_units(units, data, integral, model.scale)
        stages.append(("minimax", info))
    if policy.objective == "lexicographic":
        say("stage 2/3: shortfall")
        fix_z = z_star + tol * max(abs(z_star), 1e-3)
        start = model.start_from(units) if integral.any() else None
        sol, _ = model.solve("shortfall", opts, fix_z=fix_z, start=start)
        stages.append(("shortfall", sol.info))
        s_star = float(sol.info.objective)
        units = model.units(sol)
        say("stage 3/3: cost")
        fix_s = s_star + tol * max(abs(s_star), 1e-3)
        start = model.start_from(units) if integral.any() else None
        sol, _ = model.solve("cost", opts, fix_z=fix_z, fix_s=fix_s, start=start)
        stages.append(("cost", sol.info))
        units = model.units(sol)
    elif policy.objective != "minimax":
        say(f"solving ({policy.objective})")
        sol, brow = model.solve(policy.objective, opts)
        stages.append((policy.objective, sol.info))
        dual = _dual(sol, brow, model)
        units = model.units(sol)
    say("verifying")
    after = _verify(data, policy, units, integral)
    _check_objective(data, after, units, policy, stages)
    units, notes = round_purchases(data, policy, units, purchase_steps(data.catalogue, relax))
    after = _verify(data, policy, units, integral, purchases=True)
    return _build_plan(
        data, policy, units, after, policy.objective, _combine(stages), stages, dual, relax, notes
    )


def _dual(sol, budget_row, model: _Model):
    if sol.row_duals is None or model.integer_x.any():
        return None
    return float(sol.row_duals[budget_row]) / model.budget_scale


def _check_objective(data: _Data, after, units, policy: BudgetPolicy, stages):
    """The objective recomputed from the solver's plan (before rounding to purchase units) must
    equal the solver's (or keep the stage fixes)."""
    m = _measures(data, after, float(units @ data.cost.ravel()))
    if policy.objective == "lexicographic":
        z = stages[0][1].objective
        tol = 1e-5 + 2 * policy.stage_tolerance * max(abs(z), 1e-3)
        ok = m["minimax"] <= z + tol
        what = f"largest avoidable shortfall {m['minimax']:.8g} vs stage optimum {z:.8g}"
    else:
        solver_value = stages[0][1].objective
        value = m[policy.objective]
        ok = abs(value - solver_value) <= 1e-5 + 1e-5 * abs(solver_value)
        what = f"{policy.objective} recomputes to {value:.8g}, solver {solver_value:.8g}"
    if not ok:
        raise SolverError("the plan failed verification against its model: " + what)


# --------------------------------------------------------------------------- public API
def plan_budget(
    region: Region,
    policy: BudgetPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> BudgetPlan:
    """Decide how much of each intervention each school receives within a budget.

    Parameters
    ----------
    region : Region
    policy : BudgetPolicy
        Required in practice: the budget has no default (None raises InputError).
    options : SolverOptions, optional
        Default: HiGHS; interior point for relaxed models above 60,000 columns.
    progress : callable, optional
        Receives one short string per stage.

    Returns
    -------
    BudgetPlan

    Raises
    ------
    InputError
        Bad policy, catalogue or region columns.
    SolverError
        The solver failed, or its plan failed verification.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> plan = plan_budget(region, BudgetPolicy(budget=1e7, objective="minimax"))
    >>> plan.spent <= 1e7 * (1 + 1e-6), plan.solve_info.status
    (True, 'optimal')
    >>> plan.measures["minimax"] <= plan.measures["minimax_before"]
    True
    """
    if policy is None:
        _policy_error("budget", None, "a BudgetPolicy with a budget (yuan) is required")
    if not isinstance(policy, BudgetPolicy):
        raise InputError(
            f"expected a BudgetPolicy, got {type(policy).__name__}", table="policy", value=policy
        )
    say = progress or (lambda message: None)
    say("preparing the model")
    data = _prepare(region, policy)
    return _solve_plan(data, policy, options, progress)


def min_cost_to_comply(
    region: Region,
    standard="moe2017",
    options: SolverOptions | None = None,
    *,
    policy: BudgetPolicy | None = None,
    relax: bool = False,
    progress: Callable[[str], None] | None = None,
) -> BudgetPlan:
    """The least budget with which every in-scope school part meets the standard.

    Each part must meet at least ``standard.min_indicators_met`` (6) of its assessed indicators;
    the MILP chooses which one may be missed, and with ``floor_share`` set that one must still
    reach ``floor_share`` (0.85) of its threshold. Extra indicators do not count.

    Parameters
    ----------
    region : Region
    standard : str or Standard
        Overrides in ``policy.standard_overrides`` are applied to it.
    options : SolverOptions, optional
    policy : BudgetPolicy, optional
        Supplies the catalogue, category and county caps and rural minimum share; its budget and
        objective are ignored.
    relax : bool
        Solve the LP relaxation of the units (the binaries stay binary).
    progress : callable, optional

    Returns
    -------
    BudgetPlan
        ``objective_name == "min_cost"``; ``spent`` is the least budget (an upper bound with its gap
        in ``solve_info`` when a time limit stopped the search; ``solve_info.bound`` is then a
        lower bound).

    Raises
    ------
    Infeasible
        Some parts cannot pass even with every intervention at its cap (named in ``violations``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = min_cost_to_comply(region)
    >>> bool(plan.parts["passes_after"].all()), plan.objective == plan.spent
    (True, True)
    """
    say = progress or (lambda message: None)
    base = policy or BudgetPolicy(budget=0.0)
    base = dataclasses.replace(
        base,
        budget=0.0,
        extra_indicators={
            **{k: {"enabled": False} for k in extra_indicator_specs(None)},
            **{k: {"enabled": False} for k in (base.extra_indicators or {})},
        },
    )
    say("preparing the model")
    data = _prepare(region, base, standard=standard)
    std = data.standard
    K, n_ind, S, J = data.K, data.n_ind, data.S, data.J
    nx = S * J
    integer_x = np.tile(data.integer & (not relax), S)
    T = data.T
    judged = ~np.isnan(T) & data.is_standard[None, :]
    with np.errstate(invalid="ignore"):
        norm = data.E.multiply(1.0 / np.nan_to_num(T, nan=np.inf).reshape(-1, 1)).tocsr()
        met0 = judged & compliance.meets(data.v0, T)
    need = std.min_indicators_met - met0.sum(axis=1)
    gain = np.asarray(abs(norm).max(axis=0).todense()).ravel() if nx else np.zeros(0)
    scale = np.where(integer_x | (gain <= 0), 1.0, 1.0 / np.where(gain > 0, gain, 1.0))
    v0n = np.where(judged, data.v0 / np.where(judged, T, 1.0), 0.0)

    # parts that cannot pass even at every cap
    cap = data.cap.ravel()
    unlimited = (abs(data.E) @ np.isinf(cap).astype(float)).reshape(K, n_ind) > 0
    reach = data.v0 + (data.E @ np.where(np.isinf(cap), 0.0, cap)).reshape(K, n_ind)
    with np.errstate(invalid="ignore"):
        reachable = judged & (unlimited | compliance.meets(reach, T))
        floor_ok = np.ones(K, bool)
        if std.floor_share is not None:
            floor_ok = ~(judged & ~unlimited & ~compliance.meets(reach, std.floor_share * T)).any(
                axis=1
            )
    bad = (reachable.sum(axis=1) < std.min_indicators_met) | ~floor_ok
    if bad.any():
        ids = data.parts["school_id"].to_numpy()[bad]
        pts = data.parts["part"].to_numpy()[bad]
        violations = {
            f"comply__{sid}/{pt}": float(std.min_indicators_met - n)
            for sid, pt, n in zip(ids, pts, reachable.sum(axis=1)[bad], strict=True)
        }
        raise Infeasible(
            f"{int(bad.sum())} assessed part(s) cannot meet {std.min_indicators_met} indicators "
            f"even with every intervention at its cap, e.g. {ids[0]} ({pts[0]}); raise the "
            "catalogue caps or add interventions",
            violations,
        )

    # rows: comply (big-M with M = the gap), count, floor, spending caps; a row asks exactly what
    # allocator.compliance.meets asks (v >= T (1 - MET_RTOL)), nothing above it
    d = np.flatnonzero((judged & ~met0).ravel())
    nd = len(d)
    A_x = norm[d] @ sp.diags(scale)
    need_d = 1.0 - compliance.MET_RTOL - v0n.ravel()[d]
    blocks = [sp.hstack([A_x, -sp.diags(need_d)], format="csr")]
    lo, hi, groups = [np.zeros(nd)], [np.full(nd, np.inf)], ["comply"] * nd
    part_of_d = d // n_ind
    needy = np.flatnonzero(need > 0)
    if len(needy):
        row_of_part = -np.ones(K, dtype=np.int64)
        row_of_part[needy] = np.arange(len(needy))
        keep = row_of_part[part_of_d] >= 0
        count = sp.csr_matrix(
            (np.ones(int(keep.sum())), (row_of_part[part_of_d[keep]], np.flatnonzero(keep))),
            shape=(len(needy), nd),
        )
        blocks.append(sp.hstack([sp.csr_matrix((len(needy), nx)), count], format="csr"))
        lo.append(need[needy].astype(float))
        hi.append(np.full(len(needy), np.inf))
        groups += ["count"] * len(needy)
    if std.floor_share is not None:
        floor_level = std.floor_share * (1 - compliance.MET_RTOL)
        f = np.flatnonzero((judged & (v0n < floor_level)).ravel())
        if len(f):
            blocks.append(sp.hstack([norm[f] @ sp.diags(scale), sp.csr_matrix((len(f), nd))]))
            lo.append(floor_level - v0n.ravel()[f])
            hi.append(np.full(len(f), np.inf))
            groups += ["floor"] * len(f)
    R, R_lo, R_hi, R_groups = _spend_rows(data, base, data.cost.ravel() * scale)
    if R.shape[0] > 1:  # without the budget row: the budget is what is minimised
        blocks.append(sp.hstack([R[1:], sp.csr_matrix((R.shape[0] - 1, nd))]))
        lo.append(R_lo[1:])
        hi.append(R_hi[1:])
        groups += R_groups[1:]
    A = sp.vstack(blocks, format="csc")
    money = 1e6
    c = np.concatenate([data.cost.ravel() * scale / money, np.zeros(nd)])
    cu = np.concatenate([data.cap.ravel() / scale, np.ones(nd)])
    integ = np.concatenate([integer_x, np.ones(nd, bool)])
    say(f"solving the least-cost MILP ({nx} units, {nd} binaries)")
    sol = solve_matrix(
        c,
        A,
        np.concatenate(lo),
        np.concatenate(hi),
        np.zeros(nx + nd),
        cu,
        integ,
        options=_with_abs_gap(options or SolverOptions()),
        row_groups=groups,
    )
    units = _clean_units(sol.x[:nx] * scale, data, integer_x, scale)
    say("verifying")
    _verify(data, None, units, integer_x)
    solver_cost = float((units * data.cost.ravel()).sum())
    if sol.info.objective is not None and abs(sol.info.objective * money - solver_cost) > max(
        1e-4 * money, 1e-7 * solver_cost
    ):
        raise SolverError(
            f"the plan failed verification: cost {solver_cost:,.2f} vs solver "
            f"{sol.info.objective * money:,.2f}"
        )
    units, notes = round_purchases(
        data, base, units, purchase_steps(data.catalogue, relax), with_budget=False
    )
    after = _verify(data, base, units, integer_x, purchases=True, with_budget=False)
    spent = float((units * data.cost.ravel()).sum())
    info = sol.info
    bound = None if info.bound is None else info.bound * money
    gap = info.gap
    if bound is not None and gap is not None and spent > 0:
        # the purchases rounded up to their units cost a little more than the solver's plan
        gap = max(gap, (spent - bound) / spent)
    info = SolveInfo(info.status, spent, bound, gap, info.seconds, info.solver)
    out_policy = dataclasses.replace(base, budget=spent)
    plan = _build_plan(
        data, out_policy, units, after, "min_cost", info, [("min_cost", info)], None, relax, notes
    )
    if not relax and not plan.parts["passes_after"].all():
        failing = plan.parts.loc[~plan.parts["passes_after"], "school_id"].iloc[0]
        raise SolverError(
            f"the plan failed verification against its model: {failing} still fails the standard"
        )
    return plan


def budget_frontier(
    region: Region,
    budgets: Iterable[float],
    policy: BudgetPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """What each budget buys: one plan per budget, and the marginal value of one more yuan.

    Parameters
    ----------
    region : Region
    budgets : iterable of float
        Yuan; solved in increasing order.
    policy : BudgetPolicy, optional
        Everything but the budget (default: shortfall objective, relaxed LP).
    options : SolverOptions, optional
    progress : callable, optional

    Returns
    -------
    pandas.DataFrame
        One row per budget: ``budget, spent, objective, status, parts_passing, parts_in_scope,
        schools_passing, max_shortfall, shortfall, gap, marginal_value_per_yuan`` (minus the LP
        dual of the budget row: objective improvement per extra yuan; from the LP relaxation when
        the policy is a MILP), then ``cv_<part>_<indicator>`` and ``rural_urban_<part>_<indicator>``
        after the plan.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> f = budget_frontier(make_region(schools=40, seed=3), [0, 2e6, 8e6])
    >>> bool(f["shortfall"].is_monotonic_decreasing)
    True
    """
    policy = policy or BudgetPolicy(budget=0.0, relax=True)
    values = sorted(_money("budgets", float(b)) for b in budgets)
    if not values:
        raise InputError("budgets is empty; expected at least one budget", table="policy")
    say = progress or (lambda message: None)
    data = _prepare(region, policy)
    rows = []
    for n, b in enumerate(values, 1):
        say(f"budget {n}/{len(values)}: {b:,.0f} yuan")
        pol = dataclasses.replace(policy, budget=b)
        plan = _solve_plan(data, pol, options, None)
        dual = plan.budget_dual
        if dual is None:
            dual = _solve_plan(data, pol, options, None, relax=True).budget_dual
        parts = plan.parts
        schools_pass = parts.groupby("school_id")["passes_after"].all()
        row = {
            "budget": b,
            "spent": plan.spent,
            "objective": plan.objective,
            "status": plan.solve_info.status,
            "parts_passing": int(parts["passes_after"].sum()),
            "parts_in_scope": int(len(parts)),
            "schools_passing": int(schools_pass.sum()),
            "max_shortfall": plan.measures["max_shortfall"],
            "shortfall": plan.measures["shortfall"],
            "gap": plan.measures["gap"],
            "marginal_value_per_yuan": None if dual is None else -dual,
        }
        for r in plan.indicators.itertuples(index=False):
            row[f"cv_{r.part}_{r.indicator}"] = r.cv_after
        for r in plan.indicators.itertuples(index=False):
            row[f"rural_urban_{r.part}_{r.indicator}"] = r.rural_urban_after
        rows.append(row)
    return pd.DataFrame(rows)
