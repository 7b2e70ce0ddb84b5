"""A budget plan and its tables: :class:`BudgetPlan`, built from rounded purchases by :func:`build_plan`.

The verdicts a plan reports (``parts.passes_after``) are those of
:func:`allocator.compliance.part_verdicts` on the region after :meth:`BudgetPlan.apply`, i.e. what
:func:`allocator.check.check` finds there; ``objective`` and ``measures`` are the rounded plan's,
``solve_info.objective`` the solver's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import allocator.compliance as compliance
import allocator.standards as standards
from allocator.errors import InputError
from allocator.i18n import Words, labels
from allocator.planners.base import FrozenMap, PlanBase, freeze
from allocator.planners.budget.data import BudgetData
from allocator.planners.budget.measures import (
    gap_weights,
    passing,
    plan_measures,
    shortfall,
    unavoidable,
)
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.verify import applied_values
from allocator.region import Region
from allocator.solver import SolveInfo
from allocator.text import plural

__all__ = [
    "BudgetPlan",
    "build_plan",
]


@dataclass(frozen=True, eq=False)
class BudgetPlan(PlanBase):
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
    measures : Mapping (read-only)
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
    stages : tuple of (str, SolveInfo)
    budget_dual : float or None
        d objective / d budget (per yuan) from the LP; None for a MILP.
    marginal_value_per_yuan : float or None
        ``-budget_dual``: how much one more yuan improves the objective.
    relaxed : bool
        Whole-unit interventions were allowed fractional values.
    notes : tuple of str
        What was skipped and why.
    targets : pandas.DataFrame
        With ``targets_by_year`` (:mod:`~allocator.planners.budget.due`): every target by year,
        ``year, target, at_least, schools, due``; ``due`` False for a target not yet due in the
        plan's year (not a constraint of this plan). Empty otherwise.
    plan_year : int or None
        The plan's year, when targets by year were given.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget import plan_budget
    >>> plan = plan_budget(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> list(plan.headline())[:4], plan.tables["parts"] is plan.parts
    (['status', 'gap', 'seconds', 'objective'], False)
    """

    allocations: pd.DataFrame
    spent: float
    budget: float
    objective: float
    objective_name: str
    measures: Mapping[str, float]
    indicators: pd.DataFrame
    parts: pd.DataFrame
    spending: pd.DataFrame
    counties: pd.DataFrame
    solve_info: SolveInfo
    stages: tuple
    budget_dual: float | None
    relaxed: bool
    notes: tuple
    standard_name: str
    _effects: Mapping = field(repr=False, default_factory=FrozenMap)
    region_fingerprint: str | None = field(repr=False, default=None)
    targets: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    plan_year: int | None = None

    plan_name = "budget plan"

    def __post_init__(self):
        for name in ("measures", "stages", "notes", "_effects"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    @property
    def objective_value(self) -> float:
        """The value reached on the plan's objective (:attr:`objective`)."""
        return self.objective

    @property
    def marginal_value_per_yuan(self) -> float | None:
        """How much one more yuan improves the objective (``-budget_dual``)."""
        return None if self.budget_dual is None else -self.budget_dual

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name, as copies (the scenario runner writes them as CSV)."""
        return {
            "allocations": self.allocations.copy(),
            "spending": self.spending.copy(),
            "indicators": self.indicators.copy(),
            "parts": self.parts.copy(),
            "counties": self.counties.copy(),
            **({"targets": self.targets.copy()} if len(self.targets) else {}),
        }

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """The plan's money for a run's cost summary, split by what a price buys:
        ``capital_yuan`` (bought once: rooms, area, equipment, fit-outs, training),
        ``hiring_yuan_per_year`` (teacher posts: one year of salary, paid again every year) and
        ``running_change_yuan_per_year`` (the ``recurrent`` category: bandwidth, guards, night
        duty). The three add up to :attr:`spent`.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.budget import plan_budget
        >>> plan = plan_budget(make_region(schools=30, seed=3), BudgetPolicy(budget=2e7))
        >>> f = plan.yuan_figures()
        >>> sorted(f), abs(sum(f.values()) - plan.spent) < 1e-6 * plan.spent
        (['capital_yuan', 'hiring_yuan_per_year', 'running_change_yuan_per_year'], True)
        """
        spending = self.spending
        teachers = np.array(
            [bool(self._effects[name][2]) for name in spending["intervention"]], dtype=bool
        )
        recurrent = (spending["category"] == "recurrent").to_numpy() & ~teachers
        cost = spending["cost"].to_numpy(float)
        hiring, running = float(cost[teachers].sum()), float(cost[recurrent].sum())
        return {
            "capital_yuan": float(self.spent) - hiring - running,
            "hiring_yuan_per_year": hiring,
            "running_change_yuan_per_year": running,
        }

    def headline(self) -> dict:
        """Key figures as a flat JSON-safe dict: status, gap, seconds and objective first.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.budget import plan_budget
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_budget(region, BudgetPolicy(budget=2e6, relax=True))
        >>> plan.headline()["spent_yuan"] <= 2e6 * (1 + 1e-6)
        True
        """
        rural = self.allocations.loc[self.allocations["area_type"] == "rural", "cost"].sum()
        out = {
            "objective_name": self.objective_name,
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
        return {**self.solve_headline(), **out}

    def summary(self, language: str = "en") -> str:
        """A short text a planner reads in half a minute (``language``: ``"en"`` or ``"zh"``).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.budget import BudgetPolicy, plan_budget
        >>> plan = plan_budget(make_region(schools=30, seed=3), BudgetPolicy(budget=2e7))
        >>> plan.summary("zh").startswith("预算方案")
        True
        """
        w = Words(language)
        kind = w("summary.budget.lp" if self.relaxed else "summary.budget.milp")
        lines = [
            w("summary.budget.title", objective=w(f"objective.{self.objective_name}"), kind=kind,
              standard=self.standard_name, status=self.solve_info.describe(language))
        ]  # fmt: skip
        rural = self.allocations.loc[self.allocations["area_type"] == "rural", "cost"].sum()
        share = rural / self.spent if self.spent > 0 else 0.0
        lines.append(
            w("summary.budget.spent", budget=f"{self.budget:,.0f}", spent=f"{self.spent:,.0f}",
              spent_share=f"{(self.spent / self.budget if self.budget else 0):.1%}",
              rural=f"{share:.0%}")
        )  # fmt: skip
        lines += _spending_lines(w, self.spending)
        parts = self.parts
        before, after = int(parts["passes_before"].sum()), int(parts["passes_after"].sum())
        lines.append(
            w("summary.budget.passing", min_met=f"{self.measures.get('min_met', 6):.0f}",
              before=before, after=after, parts=len(parts))
        )  # fmt: skip
        newly = parts[~parts["passes_before"] & parts["passes_after"]]
        if len(newly):
            names = list(dict.fromkeys(newly["name"]))
            more = w("summary.budget.more", n=len(names) - 5) if len(names) > 5 else ""
            lines.append(
                "  "
                + w("summary.budget.now_passing", names=w("summary.list_sep").join(names[:5]))
                + more
            )
        lines += _indicator_lines(w, self.indicators)
        m = self.measures
        lines.append(
            w("summary.budget.shortfall",
              **{k: f"{m[k]:.4f}" for k in ("shortfall_before", "shortfall", "gap_before", "gap")},
              **{k: f"{m[k]:.3f}" for k in ("max_shortfall_before", "max_shortfall")})
        )  # fmt: skip
        if self.budget_dual is not None:
            lines.append(w("summary.budget.dual", value=f"{-self.budget_dual * 1e6:.4g}"))
        if self.relaxed:
            lines.append(w("summary.budget.relaxed"))
        lines += _target_lines(w, self.targets, self.plan_year)
        lines += [w("summary.budget.note", note=n) for n in self.notes]
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region with the plan's resources added (a new, validated Region).

        Whole counts (teachers, rooms) stay whole: fractional amounts from a relaxed plan are
        rounded down, so no indicator ever falls.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.budget import plan_budget
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_budget(region, BudgetPolicy(budget=2e6))
        >>> after = plan.apply(region)
        >>> bool((after.schools["equipment_value"] >= region.schools["equipment_value"]).all())
        True
        """
        self.require_region(region)
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


def _allocation_tables(data: BudgetData, units: np.ndarray):
    """The allocations (one row per school and intervention bought) and spending per intervention.

    Returns (allocations, spending) as in :class:`BudgetPlan`.
    """
    cat = data.catalogue
    x = units.reshape(data.S, data.J)
    cost = x * data.cost
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
    return allocations, spending[spending["units"] > 0].reset_index(drop=True)


def _part_table(data: BudgetData, after: np.ndarray, units: np.ndarray) -> pd.DataFrame:
    """Per in-scope part: indicators met and pass/fail before and after (after :meth:`apply`)."""
    met0, pass0 = passing(data, data.v0)
    met1, pass1 = passing(data, applied_values(data, units))
    sf0, sf1 = shortfall(data, data.v0), shortfall(data, after)
    parts = data.parts
    names = data.schools["name"].to_numpy()[data.pos]
    return pd.DataFrame(
        {
            "school_id": parts["school_id"].to_numpy(),
            "name": names[parts["s"].to_numpy()],
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


def _indicator_row(data: BudgetData, after, pt, i, in_pt) -> dict:
    """One row of :func:`_indicator_table`: part type ``pt``, indicator ``i``."""
    parts = data.parts
    p = parts["pupils"].to_numpy(float)
    area = parts["area_type"].to_numpy()
    t = data.T[in_pt, i]
    row = {"part": pt, "indicator": data.indicators[i], "threshold": float(np.nanmax(t))}
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
    return row


def _indicator_table(data: BudgetData, after: np.ndarray) -> pd.DataFrame:
    """Per part type and indicator: threshold, mean, CV, parts below, rural/urban, before/after."""
    rows = []
    part_kind = data.parts["part"].to_numpy()
    for pt in standards.PARTS:
        in_pt = part_kind == pt
        if not in_pt.any():
            continue
        for i in range(data.n_ind):
            if not np.isnan(data.T[in_pt, i]).all():
                rows.append(_indicator_row(data, after, pt, i, in_pt))
    measures = ("mean", "cv", "below", "rural_urban")
    return pd.DataFrame(
        rows,
        columns=[
            "part",
            "indicator",
            "threshold",
            *[f"{m}_{lab}" for lab in ("before", "after") for m in measures],
        ],
    )


def _county_table(data: BudgetData, units: np.ndarray, after, pass0, pass1) -> pd.DataFrame:
    """Per county: yuan, parts passing before/after, indicators whose county CV exceeds the limit."""
    parts = data.parts
    p = parts["pupils"].to_numpy(float)
    part_kind = parts["part"].to_numpy()
    school_cost = (units.reshape(data.S, data.J) * data.cost).sum(axis=1)
    county_names = list(dict.fromkeys(data.schools["county"]))
    codes = pd.Categorical(parts["county"], categories=county_names).codes
    nc = len(county_names)
    cand_county = data.schools["county"].to_numpy()[data.pos]
    school_county = pd.Categorical(cand_county, categories=county_names).codes
    table = pd.DataFrame(
        {
            "county": county_names,
            "spent": np.bincount(school_county, school_cost, minlength=nc),
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
        table[f"cv_over_limit_{label}"] = over
    return table


def build_plan(
    data: BudgetData,
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
    spent = float((units.reshape(data.S, data.J) * data.cost).sum())
    allocations, spending = _allocation_tables(data, units)
    ubar = unavoidable(data)
    gap_w = gap_weights(data)
    before_m = plan_measures(data, data.v0, 0.0, ubar, gap_w)
    after_m = plan_measures(data, after, spent, ubar, gap_w)
    measures = dict(after_m)
    measures.update({f"{k}_before": v for k, v in before_m.items() if k != "cost"})
    if objective_name == "lexicographic":
        objective = after_m["minimax"]
    elif objective_name == "min_cost":
        objective = spent
    else:
        objective = after_m[objective_name]
    parts = _part_table(data, after, units)
    pass0, pass1 = parts["passes_before"].to_numpy(), parts["passes_after"].to_numpy()
    counties = _county_table(data, units, after, pass0, pass1)
    measures["min_met"] = float(data.standard.min_indicators_met)
    effects = {
        r.intervention: (data.column_of[j], float(r.effect), bool(r.adds_teachers))
        for j, r in enumerate(data.catalogue.itertuples(index=False))
    }
    return BudgetPlan(
        allocations=allocations,
        spent=spent,
        budget=float(policy.budget),
        objective=float(objective),
        objective_name=objective_name,
        measures=measures,
        indicators=_indicator_table(data, after),
        parts=parts,
        spending=spending,
        counties=counties,
        solve_info=info,
        stages=stages,
        budget_dual=budget_dual,
        relaxed=relaxed,
        notes=list(data.notes) + list(notes or []),
        standard_name=data.standard.name,
        _effects=effects,
        region_fingerprint=data.region_fingerprint,
    )


def _label(w: Words, key: str, default) -> str:
    """``w(key)`` in Chinese, or ``default`` as text (in English, as the catalogue names it, and
    when the labels have no such key)."""
    return w(key) if w.language != "en" and key in labels() else str(default)


def _spending_lines(w: Words, spending: pd.DataFrame) -> list[str]:
    """The summary's lines on what the money buys."""
    if not len(spending):
        return [w("summary.budget.nothing")]
    lines = [w("summary.budget.buys")]
    names = [_label(w, f"intervention.{x}", x) for x in spending["intervention"]]
    units = [_label(w, f"unit.{u}", u) for u in spending["unit"]]
    width, uwidth = max([26, *map(len, names)]), max([8, *map(len, units)])
    for r, name, unit in zip(spending.itertuples(index=False), names, units, strict=True):
        n = int(r.schools)
        at = plural(n, "school") if w.language == "en" else w("summary.budget.schools", n=n)
        lines.append(
            f"  {name:<{width}} {r.units:>13,.2f} {unit:<{uwidth}} "
            + w("summary.budget.item", schools=f"{at:>12}", cost=f"{r.cost:>16,.0f}")
        )
    return lines


def _indicator_lines(w: Words, indicators: pd.DataFrame) -> list[str]:
    """The summary's lines on each indicator's 差异系数 and rural/urban ratio."""

    def fmt(value, spec):
        return "  n/a" if value is None or not math.isfinite(value) else format(value, spec)

    lines = [w("summary.budget.cv_head")]
    for r in indicators.itertuples(index=False):
        part = _label(w, f"part.{r.part}", r.part)
        ind = _label(w, f"chart.indicator.{r.indicator}", r.indicator)
        lines.append(
            f"  {part:<7} {ind:<26} "
            + w("summary.budget.cv_row", cv_before=fmt(r.cv_before, "5.3f"),
                cv_after=fmt(r.cv_after, "5.3f"), ru_before=fmt(r.rural_urban_before, "5.2f"),
                ru_after=fmt(r.rural_urban_after, "5.2f"))
        )  # fmt: skip
    return lines


def _target_lines(w: Words, targets: pd.DataFrame, plan_year) -> list[str]:
    """The summary's lines on the targets by year: due (a constraint) or not yet due."""
    lines = []
    for r in targets.itertuples(index=False):
        level = "" if pd.isna(r.at_least) else f" >= {r.at_least:g} ({r.schools})"
        key = "summary.budget.target_due" if r.due else "summary.budget.target_not_due"
        lines.append(w(key, year=r.year, target=f"{r.target}{level}", plan_year=plan_year))
    return lines
