"""The teacher plan over years (:class:`TeacherYearsPlan`) and its checks (:func:`verify_years`).

Examples
--------
>>> FLOW_COLUMNS[:4]
('school_id', 'county', 'year', 'pupils')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError, SolverError
from allocator.i18n import Words
from allocator.planners.base import PlanBase, freeze
from allocator.planners.teachers.horizon_model import surplus_hires
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.region import Region
from allocator.solver import SolveInfo
from allocator.standards import Standard, required_staff
from allocator.text import plain

__all__ = ["FLOW_COLUMNS", "TeacherYearsPlan", "verify_years"]

#: Columns of ``TeacherYearsPlan.flows`` (one row per school and year).
FLOW_COLUMNS = (
    "school_id",
    "county",
    "year",
    "pupils",
    "required",
    "teachers_start",
    "returned_in",
    "returned_out",
    "retirements",
    "hires",
    "rotated_in",
    "rotated_out",
    "teachers_end",
    "shortfall",
    "surplus",
    "qualified_shortfall",
    "backbone_shortfall",
    "pe_arts_shortfall",
)


@dataclass(frozen=True, eq=False)
class TeacherYearsPlan(PlanBase):
    """A teacher plan over years: retirements, hires and rotations per school and year.

    Attributes
    ----------
    years : tuple of int
        The planned years, consecutive; the region the plan was made for is the first year's
        (:mod:`allocator.planners.years`).
    flows : pandas.DataFrame
        :data:`FLOW_COLUMNS`, one row per school and year: pupils of the year's forecast, required
        staff, teachers at the start, teachers coming home from a rotation whose term ended
        (``returned_in``) and leaving for home (``returned_out``), retirements, hires, rotations
        in and out, teachers at the end, the shortfall or surplus against the requirement, and
        the qualified, backbone and PE/arts teachers short of the 2017 thresholds after the year
        (from the year's rotation plan).
    quotas : mapping
        ``(county, year) ->`` the county's hires allowed that year (None: no limit).
    yearly_plans : tuple of TeacherPlan
        The rotation plan of each year.
    solve_info : SolveInfo
        The worst status and largest gap of every solve; ``objective`` is the teacher-years short.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.forecast import ForecastSettings, forecast_region
    >>> from allocator.planners.teachers import TeacherPolicy, plan_teachers
    >>> region = make_region(schools=20, seed=1)
    >>> forecast = forecast_region(region, ForecastSettings(horizon=2), 2026, "low")
    >>> plan = plan_teachers(region, TeacherPolicy(hiring_quota=5), years=(2026, 2027),
    ...                      forecast=forecast)
    >>> int(plan.by_year["hires"].sum()) == plan.headline()["hires"] <= 10
    True
    >>> int(plan.region_in(2027).schools["teachers"].sum()) == plan.headline()["teachers_end"]
    True
    """

    years: tuple
    flows: pd.DataFrame
    quotas: dict
    retirements_planned: np.ndarray = field(repr=False)
    hires_planned: np.ndarray = field(repr=False)
    yearly_plans: tuple = field(repr=False)
    year_regions: tuple = field(repr=False)
    solve_info: SolveInfo
    policy: TeacherPolicy
    standard: Standard
    region_name: str = ""
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "teacher plan over years"

    def __post_init__(self):
        """Store the quotas read-only."""
        object.__setattr__(self, "quotas", freeze(dict(self.quotas)))

    @property
    def objective_value(self) -> float:
        """Teacher-years short of the staffing norms over the horizon."""
        return float(self.flows["shortfall"].sum())

    @property
    def by_year(self) -> pd.DataFrame:
        """Per county and year: pupils, required staff, teachers, the flows, the shortfall and
        the hiring quota (the sums of :attr:`flows` over the county's schools)."""
        columns = [c for c in FLOW_COLUMNS if c not in ("school_id", "county", "year")]
        out = self.flows.groupby(["county", "year"], sort=False)[columns].sum().reset_index()
        out["hiring_quota"] = [
            self.quotas.get((c, y)) for c, y in zip(out["county"], out["year"], strict=True)
        ]
        return out

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``flows`` and ``by_year`` (copies)."""
        return {"flows": self.flows.copy(), "by_year": self.by_year}

    def region_in(self, year: int) -> Region:
        """The region of ``year`` after that year's flows: the year's pupils (the first year's:
        the region's own), teachers after its retirements, hires and rotations.

        Raises
        ------
        InputError
            ``year`` is not a planned year.
        """
        if isinstance(year, bool) or year not in self.years:
            raise InputError(
                f"year={year!r}; expected one of {self.years[0]} to {self.years[-1]}",
                table="plan",
                column="year",
                value=year,
            )
        return self.year_regions[1 + self.years.index(year)]

    def headline(self) -> dict:
        """Status, gap, seconds and objective, then the plan's totals."""
        f = self.flows
        last = f[f["year"] == self.years[-1]]
        first = f[f["year"] == self.years[0]]
        return {
            **self.solve_headline(),
            "schools": int(f["school_id"].nunique()),
            "years": len(self.years),
            "first_year": int(self.years[0]),
            "last_year": int(self.years[-1]),
            "hires": int(f["hires"].sum()),
            "retirements": int(f["retirements"].sum()),
            "rotated_teachers": int(f["rotated_out"].sum()),
            "returned_teachers": int(f["returned_out"].sum()),
            "teachers_start": int(first["teachers_start"].sum()),
            "teachers_end": int(last["teachers_end"].sum()),
            "shortfall_teacher_years": int(f["shortfall"].sum()),
            "shortfall_last_year": int(last["shortfall"].sum()),
            **{
                f"{need}_shortfall_last_year": int(last[f"{need}_shortfall"].sum())
                for need in ("qualified", "backbone", "pe_arts")
            },
        }

    def summary(self, language: str = "en") -> str:
        """A short text: the horizon, the flows, each year, and the years whose rotation quota
        was out of reach in some county (``language``: ``"en"`` or ``"zh"``)."""
        words = Words(language)
        h = self.headline()
        by = self.flows.groupby("year")[["hires", "retirements", "rotated_out", "shortfall"]].sum()
        lines = [
            words(
                "teachers_years.title", region=self.region_name or "-", first=h["first_year"],
                last=h["last_year"], schools=plain(h["schools"]), start=plain(h["teachers_start"]),
                end=plain(h["teachers_end"]),
            ),
            words(
                "teachers_years.flows", hires=plain(h["hires"]),
                retirements=plain(h["retirements"]), rotated=plain(h["rotated_teachers"]),
                window=self.policy.surplus_years,
            ),
        ]  # fmt: skip
        for (year, row), plan in zip(by.iterrows(), self.yearly_plans, strict=True):
            lines.append(
                words(
                    "teachers_years.year", year=year, hires=plain(int(row.hires)),
                    retirements=plain(int(row.retirements)), rotated=plain(int(row.rotated_out)),
                    short=plain(int(row.shortfall)),
                )
            )  # fmt: skip
            if len(plan.unplanned):
                counties = ", ".join(plan.unplanned["county"].astype(str))
                lines.append(words("teachers_years.unplanned", year=year, counties=counties))
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region of the last planned year (refuses any region but the plan's own)."""
        self.require_region(region)
        return self.year_regions[-1]

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """``hiring_yuan_per_year``: the new posts of the horizon times ``cost_per_hire_yuan``
        (what they cost a year once all are filled)."""
        policy = self.policy if policy is None else policy
        return {
            "hiring_yuan_per_year": float(self.flows["hires"].sum()) * policy.cost_per_hire_yuan
        }


def verify_years(plan: TeacherYearsPlan) -> None:
    """Check every year of the plan; raise SolverError naming what breaks.

    * teachers are conserved: start = the end of the year before (the base region's at first) and
      end = start + returned in - returned out - retirements + hires + rotated in - rotated out,
      per school;
    * the year's region holds those teachers, and its required staff is the ``required`` column
      (the norms on the year's pupils); shortfall = max(required - end, 0);
    * each county's hires in each year are within its quota;
    * no hire is surplus within ``surplus_years`` (on the stock without rotations).
    """
    problems = []
    f = plan.flows
    ids = plan.year_regions[0].schools["school_id"].astype(str).to_numpy()
    prev = plan.year_regions[0].schools["teachers"].to_numpy(np.int64)
    for k, year in enumerate(plan.years):
        rows = f[f["year"] == year]
        if rows["school_id"].astype(str).tolist() != ids.tolist():
            problems.append(f"{year}: the schools differ from the region's")
            break
        start, end = rows["teachers_start"].to_numpy(), rows["teachers_end"].to_numpy()
        flow = (
            start + rows["returned_in"] - rows["returned_out"] - rows["retirements"]
            + rows["hires"] + rows["rotated_in"] - rows["rotated_out"]
        )  # fmt: skip
        if (start != prev).any():
            problems.append(f"{year}: teachers at the start differ from the year before's end")
        if (flow.to_numpy() != end).any():
            problems.append(f"{year}: teachers are not conserved")
        region = plan.year_regions[k + 1]
        if (region.schools["teachers"].to_numpy(np.int64) != end).any():
            problems.append(f"{year}: the year's region differs from the flows")
        need = required_staff(region.schools, plan.standard).to_numpy(np.int64)
        if (need != rows["required"].to_numpy()).any():
            problems.append(f"{year}: required staff differs from the norms on the year's pupils")
        if (rows["shortfall"].to_numpy() != np.maximum(need - end, 0)).any():
            problems.append(f"{year}: a shortfall is misreported")
        for county, hired in rows.groupby("county")["hires"].sum().items():
            cap = plan.quotas.get((county, year))
            if cap is not None and hired > cap + 1e-9:
                problems.append(f"{year}: hires in {county} exceed the quota")
        prev = end
    T0 = plan.year_regions[0].schools["teachers"].to_numpy(np.int64)
    required = f.pivot(index="school_id", columns="year", values="required").loc[ids].to_numpy()
    bad = surplus_hires(
        T0, plan.retirements_planned, required, plan.hires_planned,
        plan.policy.surplus_years, plan.policy.surplus_slack,
    )  # fmt: skip
    if bad:
        i, t, tau = bad[0]
        problems.append(f"a hire at {ids[i]} in {plan.years[t]} is surplus in {plan.years[tau]}")
    if problems:
        raise SolverError("the plan over years fails its own rules: " + "; ".join(problems))
