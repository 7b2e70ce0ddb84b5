"""A budget plan over years (:class:`BudgetYearsPlan`): purchases by year, yuan by year and
carry-over, each year's compliance, the region of each year and an independent check of every
year (:meth:`BudgetYearsPlan.verify`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.check import check
from allocator.errors import InputError
from allocator.i18n import Words
from allocator.planners.budget.policy import BudgetPolicy
from allocator.planners.budget.verify import SPEND_RTOL
from allocator.planners.years import checked_year
from allocator.region import Region
from allocator.solver import SolveInfo

__all__ = ["BudgetYearsPlan", "compliance_row", "PROBLEM_COLUMNS"]

#: Columns of :meth:`BudgetYearsPlan.verify`'s table (empty when every year holds).
PROBLEM_COLUMNS = ("year", "rule", "where", "detail")
#: The summary's line on how the plan was made, by method.
_METHOD_KEY = {"joint": "budget_years.method_joint", "sequential": "budget_years.method"}
#: Resource columns a purchase adds to (never lower in a later year).
_PURCHASE_COLUMNS = ("school_id", "intervention", "units", "cost", "name", "county", "area_type")


def compliance_row(plan: BudgetYearsPlan, year: int) -> dict:
    """Year's compliance as :func:`allocator.check.check` judges :meth:`region_in` of that year."""
    report = check(plan.region_in(year), plan.policy.standard)
    counties = report.tables["counties"]
    schools = report.tables["schools"]
    ins = schools[schools["in_scope"]]
    return {
        "year": year,
        "school_parts": len(ins),
        "school_parts_passing": int(ins["passes"].fillna(False).astype(bool).sum()),
        "county_parts": len(counties),
        "county_parts_passing": int(counties["passes"].sum()),
        "every_county_passes": report.passes,
    }


@dataclass(frozen=True, eq=False)
class BudgetYearsPlan:
    """A budget plan over years (see :mod:`allocator.planners.budget.horizon` for the method).

    Attributes
    ----------
    years : tuple of int
    plans : dict
        Year -> that year's :class:`~allocator.planners.budget.BudgetPlan` (its purchases only).
    regions : dict
        Year -> the region of that year before its purchases: that year's pupils, everything
        bought in the years before.
    budgets : pandas.DataFrame
        ``year, budget, carried_in, running, available, spent, unspent, carried_out`` (yuan):
        ``running`` is what the yearly purchases of earlier years (posts, services) cost again
        that year, ``available`` what is left for new purchases, ``spent`` their yuan.
    targets : dict
        Year -> (open-indicator targets in force, ``"every school passes"``, ``"every county
        passes"`` or None).
    carry_over : bool
    yearly : frozenset
        Interventions whose price buys one year (paid again every later year).
    notes : tuple of str
        Years planned without yearly interventions, and why.
    solve_info : SolveInfo
        ``joint``: the model's status (``optimal`` within its gap over the whole horizon) and
        objective (:func:`~allocator.planners.budget.years_model.years_objective`). Year by year:
        status ``feasible`` (no optimality over the horizon), seconds summed, objective the same
        measure (:func:`~allocator.planners.budget.years_model.years_objective`).
    policy : BudgetPolicy
    method : str
        ``joint`` (one model over the years, :mod:`~allocator.planners.budget.years_model`) or
        ``sequential`` (year by year, :mod:`~allocator.planners.budget.horizon`).
    compliance : pandas.DataFrame
        Per year, as :func:`allocator.check.check` judges :meth:`region_in`: ``school_parts``,
        ``school_parts_passing``, ``county_parts``, ``county_parts_passing``,
        ``every_county_passes``.
    """

    years: tuple[int, ...]
    plans: dict
    regions: dict
    budgets: pd.DataFrame
    targets: dict
    carry_over: bool
    yearly: frozenset
    notes: tuple
    solve_info: SolveInfo
    policy: BudgetPolicy
    compliance: pd.DataFrame
    method: str = "sequential"

    def region_in(self, year: int) -> Region:
        """The region of ``year``: that year's pupils, everything bought up to that year."""
        year = checked_year(year, self.years)
        return self.plans[year].apply(self.regions[year])

    def apply(self, region: Region, year: int | None = None) -> Region:
        """The region after the plan: :meth:`region_in` of ``year`` (default the last year),
        everything bought up to that year with that year's pupils.

        ``region`` must be the region the plan was made for (the same schools, in order): a plan
        over years buys at named schools, so anything else is refused
        (:class:`~allocator.errors.InputError`)."""
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        own = self.regions[self.years[0]].schools["school_id"].astype(str).to_numpy()
        ids = region.schools["school_id"].astype(str).to_numpy()
        if not np.array_equal(own, ids):
            raise InputError(
                "the budget plan over years was made for another region (its schools differ)",
                table="schools",
            )
        return self.region_in(self.years[-1] if year is None else year)

    @property
    def present_value(self) -> float:
        """Yuan of the whole plan discounted to the first year at the policy's
        ``discount_rate``: ``sum_t (spent_t + running_t) / (1 + r) ** (year_t - first)``, where
        ``running`` is what earlier yearly purchases cost again (equal to the nominal total at
        rate 0)."""
        b = self.budgets
        t = b["year"].to_numpy(float) - self.years[0]
        disc = (1.0 + self.policy.discount_rate) ** -t
        return float(((b["spent"] + b["running"]).to_numpy(float) * disc).sum())

    @property
    def purchases(self) -> pd.DataFrame:
        """What is bought in which year: ``year, school_id, intervention, units, cost, name,
        county, area_type``."""
        frames = [
            p.allocations[list(_PURCHASE_COLUMNS)].assign(year=y) for y, p in self.plans.items()
        ]
        out = pd.concat(frames, ignore_index=True)[["year", *_PURCHASE_COLUMNS]]
        out["yearly"] = out["intervention"].isin(self.yearly)
        return out

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name, as copies."""
        return {
            "purchases": self.purchases,
            "budgets": self.budgets.copy(),
            "compliance": self.compliance.copy(),
        }

    def verify(self) -> pd.DataFrame:
        """Check every year independently of the models: the yuan of each year's purchases
        within that year's budget plus what the years before left (with ``carry_over``), and the
        targets in force met on :meth:`region_in` as :func:`allocator.check.check` judges it.

        Returns an empty table (``year, rule, where, detail``) when every year holds.
        """
        problems = []
        bought = self.purchases
        spent = bought.groupby("year")["cost"].sum()
        left = 0.0
        for year, budget in zip(self.budgets["year"], self.budgets["budget"], strict=True):
            have = float(budget) + (left if self.carry_over else 0.0)
            running = float(bought.loc[bought["yearly"] & (bought["year"] < year), "cost"].sum())
            used = float(spent.get(year, 0.0)) + running
            if used > have * (1 + SPEND_RTOL) + 1e-6:  # the one-year plan's tolerance
                problems.append(
                    (year, "budget", "", f"spent {used:,.0f} (running {running:,.0f}) of "
                     f"{have:,.0f} yuan")
                )  # fmt: skip
            left = max(have - used, 0.0)
        for year in self.years:
            open_, comply = self.targets[year]
            if not (open_ or comply):
                continue
            region = self.region_in(year)
            report = check(region, self.policy.standard)
            schools = report.tables["schools"]
            failing = schools[schools["in_scope"] & ~schools["passes"].fillna(False).astype(bool)]
            if comply and len(failing):
                for r in failing.itertuples():
                    problems.append((year, "every school passes", f"{r.school_id} {r.part}", ""))
            if comply == "every county passes" and not report.passes:
                failing = report.tables["counties"].query("~passes")
                for r in failing.itertuples():
                    problems.append((year, "every county passes", f"{r.county} {r.part}", r.reason))
            flag = region.schools.get("boarding_school", pd.Series(0, index=region.schools.index))
            boarding = set(region.schools.loc[flag.fillna(0) == 1, "school_id"])
            problems += _open_problems(year, open_, report.tables.get("open_schools"), boarding)
        return pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS))

    def headline(self) -> dict:
        """Key figures as a flat JSON-safe dict."""
        last = self.compliance.iloc[-1]
        return {
            "status": self.solve_info.status,
            "gap": self.solve_info.gap,
            "seconds": float(self.solve_info.seconds),
            "objective": self.solve_info.objective,
            "method": self.method,
            "years": f"{self.years[0]}-{self.years[-1]}",
            "budget_yuan": float(self.budgets["budget"].sum()),
            "spent_yuan": float(self.budgets["spent"].sum() + self.budgets["running"].sum()),
            "running_yuan": float(self.budgets["running"].sum()),
            "unspent_yuan": float(self.budgets["unspent"].iloc[-1]),
            "county_parts_passing_last_year": int(last["county_parts_passing"]),
            "school_parts_passing_last_year": int(last["school_parts_passing"]),
        }

    def summary(self, language: str = "en") -> str:
        """What is bought, spent and achieved in each year, in ``language`` (``en`` or ``zh``)."""
        words = Words(language)
        b = self.budgets
        lines = [
            words(
                "budget_years.title",
                first=self.years[0],
                last=self.years[-1],
                budget=f"{b['budget'].sum():,.0f}",
                spent=f"{b['spent'].sum() + b['running'].sum():,.0f}",
            ),
            words(_METHOD_KEY[self.method], status=self.solve_info.status),
        ]
        rate = self.policy.discount_rate
        if rate > 0:
            lines.append(
                words(
                    "budget_years.present_value",
                    value=f"{self.present_value:,.0f}",
                    rate=f"{rate * 100:g}",
                    first=self.years[0],
                )
            )
        purchases = self.purchases
        for r, c in zip(b.itertuples(), self.compliance.itertuples(), strict=True):
            bought = purchases[purchases["year"] == r.year]
            lines.append(
                words(
                    "budget_years.year",
                    year=r.year,
                    running=f"{r.running:,.0f}",
                    available=f"{r.available:,.0f}",
                    spent=f"{r.spent:,.0f}",
                    schools=bought["school_id"].nunique(),
                    carried=f"{r.carried_out:,.0f}",
                    passing=c.school_parts_passing,
                    parts=c.school_parts,
                    counties=c.county_parts_passing,
                    county_parts=c.county_parts,
                )
            )
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)


def _open_problems(
    year: int, targets: Mapping, table: pd.DataFrame | None, boarding: set
) -> list[tuple]:
    """Open-indicator targets missed in ``check``'s ``open_schools`` table of a year
    (``boarding``: the ids of the boarding schools)."""
    out = []
    for name, target in targets.items():
        if table is None or name not in table.columns:
            out.append((year, name, "", "the check reports no such indicator"))
            continue
        rows = table[table["in_scope"].astype(bool)]
        chosen = target["schools"]
        if chosen in ("urban", "town", "rural"):
            rows = rows[rows["area_type"] == chosen]
        elif chosen == "boarding":
            rows = rows[rows["school_id"].isin(boarding)]
        values = pd.to_numeric(rows[name], errors="coerce").to_numpy(float)
        keep = ~np.isnan(values)  # not judged where the indicator does not apply
        rows, values = rows[keep], values[keep]
        for sid, v in zip(rows["school_id"], values, strict=True):
            if v < float(target["at_least"]) - 1e-9:
                out.append((year, name, sid, f"{v:g} < {target['at_least']:g}"))
    return out
