"""A consolidation plan over several years (:class:`MergerYearsPlan`): what happens in which year,
the plan of each year, the region of each year, and an independent check of every year.

Each year's plan is a :class:`~allocator.planners.mergers.plan.MergerPlan` relative to the
layout of today: the closures, conversions and classrooms made by that year, and where that year's
pupils go. ``timeline`` lists what changes in which year:

* ``close``: the school closes that year (``other_school_id``: its receiving school);
* ``nine_year``: the school becomes part of a nine-year school (``other_school_id``: the host);
* ``extend``: the school adds ``seats`` seats (``classrooms`` classrooms) that year, no later than
  the year the pupils who need them arrive;
* ``receives_from``: the school receives the pupils of ``other_school_id`` closing that year
  (``pupils``: those the closing school has that year without the plan; none: no row);
* ``open``: a new school (a candidate site) opens that year.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.fingerprint import require_region
from allocator.i18n import Words
from allocator.planners.mergers.columns import BAND_COLUMNS, PLANNED_BANDS
from allocator.planners.mergers.plan import MergerPlan
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.verify import band_limit
from allocator.planners.mergers.years_costs import COST_COLUMNS
from allocator.planners.years import checked_year
from allocator.region import Region
from allocator.solver import SolveInfo

#: Columns of ``MergerYearsPlan.timeline``.
TIMELINE_COLUMNS = (
    "year", "county", "school_id", "action", "other_school_id", "seats", "classrooms", "pupils",
)  # fmt: skip
#: Columns of :meth:`MergerYearsPlan.verify`'s table (empty when every year holds).
PROBLEM_COLUMNS = ("year", "rule", "where", "detail")


def timeline_table(plans: dict[int, MergerPlan]) -> pd.DataFrame:
    """What changes in which year, from the plans of consecutive years (see the module)."""
    rows = []
    before_closed: set = set()
    before_seats: dict = {}
    before_open: set = set()
    for year, plan in plans.items():
        closures = plan.closures
        for r in closures.itertuples():
            if r.school_id in before_closed:
                continue
            action = "nine_year" if r.reason == "nine_year" else "close"
            rows.append((year, r.county, r.school_id, action, r.receiving_school_id, 0, 0,
                         int(r.pupils)))  # fmt: skip
            if int(r.pupils) > 0:
                rows.append((year, r.county, r.receiving_school_id, "receives_from", r.school_id,
                             0, 0, int(r.pupils)))  # fmt: skip
        before_closed |= set(closures["school_id"])
        county = dict(zip(plan.schools["school_id"], plan.schools["county"], strict=True))
        for r in plan.expansions.itertuples():
            seats, rooms = before_seats.get(r.school_id, (0, 0))
            if int(r.seats) > seats:
                rows.append((year, county.get(r.school_id, ""), r.school_id, "extend", "",
                             int(r.seats) - seats, int(r.classrooms) - rooms, 0))  # fmt: skip
            before_seats[r.school_id] = (int(r.seats), int(r.classrooms))
        for r in plan.openings.itertuples():
            if r.site_id not in before_open:
                rows.append((year, r.county, r.site_id, "open", "", int(r.capacity), 0,
                             int(r.pupils)))  # fmt: skip
        before_open |= set(plan.openings["site_id"])
    return pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))


@dataclass(frozen=True, eq=False)
class MergerYearsPlan:
    """A consolidation plan over several years.

    Attributes
    ----------
    years : tuple of int
    plans : dict
        Year -> the :class:`MergerPlan` of that year (closures, conversions and classrooms made by
        then; that year's pupils placed).
    regions : dict
        Year -> the region of that year before the plan (that year's pupils, today's schools).
    timeline : pandas.DataFrame
        What happens in which year (``year, county, school_id, action, other_school_id, seats,
        classrooms, pupils``; see the module docstring).
    counties : pandas.DataFrame
        Per county: ``method`` (``whole``: one model of every year; ``rolling``: a rolling horizon,
        no optimality guarantee), ``status``, ``objective`` (discounted yuan, or pupil-minutes),
        ``gap``, ``variables``, ``rows``, ``seconds`` (the county's solve).
    solve_info : SolveInfo
        Of the whole plan (objective: the discounted cost over the horizon).
    policy : MergerPolicy
    costs : pandas.DataFrame
        Yuan by year over the planned counties (``year, recurrent_yuan, capital_yuan,
        residual_yuan, discount_factor, weight``; :mod:`~allocator.planners.mergers.years_costs`):
        each cost once, in the year it falls (empty when minimising travel with ``max_schools``).
    region_fingerprint : str, optional
        Of the region the plan was made for (``apply`` refuses any other).
    """

    years: tuple[int, ...]
    plans: dict
    regions: dict
    timeline: pd.DataFrame
    counties: pd.DataFrame
    solve_info: SolveInfo
    policy: MergerPolicy
    weights: tuple[float, ...] = field(default=())
    costs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(COST_COLUMNS)))
    region_fingerprint: str | None = None

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict, like a one-year plan's: ``status``, ``gap``,
        ``seconds`` and ``objective`` (the discounted cost over the horizon) first, then the years,
        what happens over them and what it costs.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> h = plan_mergers(make_region(schools=30, seed=3), years=(2026, 2027)).headline()
        >>> list(h)[:4], h["first_year"], h["schools_after"] <= h["schools_before"]
        (['status', 'gap', 'seconds', 'objective'], 2026, True)
        """
        info, t = self.solve_info, self.timeline
        first, last = self.plans[self.years[0]], self.plans[self.years[-1]]
        count = t["action"].value_counts()
        c = self.costs
        return {
            "status": info.status,
            "gap": None if info.gap is None else float(info.gap),
            "seconds": round(float(info.seconds), 3),
            "objective": None if info.objective is None else float(info.objective),
            "first_year": int(self.years[0]),
            "last_year": int(self.years[-1]),
            "schools_before": int(len(first.schools)),
            "schools_after": int(len(self.region_in(self.years[-1]).schools)),
            "schools_closed": int(count.get("close", 0)),
            "nine_year_conversions": int(count.get("nine_year", 0)),
            "new_schools_built": int(count.get("open", 0)),
            "expansion_seats": int(t.loc[t["action"] == "extend", "seats"].sum()),
            "capital_yuan": round(float(c["capital_yuan"].sum()), 2),
            "residual_yuan": round(float(c["residual_yuan"].sum()), 2),
            "recurrent_first_year_yuan": round(float(c["recurrent_yuan"].iloc[0]), 2)
            if len(c) else None,
            "recurrent_last_year_yuan": round(float(c["recurrent_yuan"].iloc[-1]), 2)
            if len(c) else None,
            "unplanned_counties": int(len(last.unplanned)),
        }  # fmt: skip

    def apply(self, region: Region) -> Region:
        """The region of the last year after the plan (``region_in(last year)``: every closure,
        conversion, classroom and new school of the horizon made, that year's pupils placed),
        like a one-year plan's ``apply``; refuses a region other than the one the plan was made
        for. ``region_in(year)`` gives any other year's.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> region = make_region(schools=30, seed=3)
        >>> plan = plan_mergers(region, years=(2026, 2027))
        >>> len(plan.apply(region).schools) == len(plan.region_in(2027).schools)
        True
        """
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        require_region(self.region_fingerprint, region, "consolidation plan over years")
        return self.region_in(self.years[-1])

    def plan_in(self, year: int) -> MergerPlan:
        """The plan of ``year`` (what is done by then, where that year's pupils go)."""
        return self.plans[checked_year(year, self.years)]

    def region_in(self, year: int) -> Region:
        """The region of ``year`` after the plan: the closures and conversions made by then
        removed, the classrooms built by then added, that year's pupils at their schools.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> region = make_region(schools=30, seed=3)
        >>> plan = plan_mergers(region, years=(2026, 2027))
        >>> len(plan.region_in(2027).schools) <= len(region.schools)
        True
        """
        year = checked_year(year, self.years)
        return self.plans[year].apply(self.regions[year])

    def verify(self) -> pd.DataFrame:
        """Check every year independently of the solver: every pupil of that year's forecast
        placed, within the band's travel limit (road times recomputed; bands that today's layout
        already fails excepted, as in ``breaches``), no school holding more pupils than the seats
        built by then (or than it holds that year without the plan), classes within the class-size
        cap, and a closed school closed in every later year. Returns the problems found (columns
        ``year, rule, where, detail``; empty when every year holds).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> plan = plan_mergers(make_region(schools=30, seed=3), years=(2026, 2027))
        >>> plan.verify().columns.tolist(), len(plan.verify())
        (['year', 'rule', 'where', 'detail'], 0)
        """
        problems: list[tuple] = []
        closed_before: set = set()
        seats_before: dict = {}
        for year in self.years:
            problems += _check_year(self, year, closed_before, seats_before)
        return pd.DataFrame(problems, columns=list(PROBLEM_COLUMNS))

    def summary(self, language: str = "en") -> str:
        """What happens in which year, school by school, and the cost over the horizon.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> plan = plan_mergers(make_region(schools=30, seed=3), years=(2026, 2027))
        >>> plan.summary("en").splitlines()[0]
        'School consolidation 2026-2027'
        """
        words = Words(language)
        lines = [words("mergeryears.title", first=self.years[0], last=self.years[-1])]
        lines.append(words("mergeryears.status", status=self.solve_info.describe(language)))
        planned = len(self.counties) > 0
        if planned and self.solve_info.objective is not None and self.policy.max_schools is None:
            lines.append(
                words(
                    "mergeryears.cost",
                    rate=f"{100 * self.policy.discount_rate:g}",
                    yuan=f"{self.solve_info.objective:,.0f}",
                )
            )
        unplanned = self.plans[self.years[0]].unplanned
        for r in unplanned.itertuples():
            lines.append(words("mergeryears.unplanned", county=r.county, reason=r.reason))
        for year in self.years:
            rows = self.timeline[self.timeline["year"] == year]
            lines.append(f"{year}:" + ("" if len(rows) else " " + words("mergeryears.nothing")))
            for r in rows.itertuples():
                text = words(
                    f"mergeryears.action.{r.action}",
                    other=r.other_school_id,
                    seats=r.seats,
                    rooms=r.classrooms,
                    pupils=r.pupils,
                )
                lines.append(f"  {r.school_id}: {text}")
        return "\n".join(lines)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The timeline, the counties, the costs by year and each year's assignments and
        closures (copies), as a one-year plan's ``tables``."""
        out = {
            "timeline": self.timeline.copy(),
            "counties": self.counties.copy(),
            "costs": self.costs.copy(),
        }
        for year, plan in self.plans.items():
            out[f"assignments_{year}"] = plan.assignments.copy()
            out[f"closures_{year}"] = plan.closures.copy()
        return out


def _check_year(plan: MergerYearsPlan, year: int, closed_before: set, seats_before: dict):
    """The problems of one year (see :meth:`MergerYearsPlan.verify`)."""
    out = []
    yearly, after = plan.regions[year], plan.region_in(year)
    policy = plan.policy
    one = plan.plans[year]
    planned = set(one.schools["school_id"])
    left = set(after.schools["school_id"])
    for sid in sorted(closed_before & left):
        out.append((year, "closed_stays_closed", sid, "a school closed earlier is open again"))
    closed_before |= planned - left
    # every pupil placed
    a = one.assignments
    got = a.groupby(["settlement_id", "band"])["pupils"].sum()
    s = yearly.settlements
    counties = set(one.counties["county"]) if len(one.counties) else set()
    for band, column in zip(PLANNED_BANDS, BAND_COLUMNS, strict=True):
        for sid, county, n in zip(s["settlement_id"], s["county"], s[column], strict=True):
            if (county in counties or "region" in counties) and n > 0:
                placed = int(got.get((sid, band), 0))
                if placed != int(n):
                    out.append((year, "every_pupil_placed", f"{sid} {band}",
                                f"{placed} of {int(n)} pupils placed"))  # fmt: skip
    # travel within the limits (road times recomputed)
    if len(a):
        spos = {v: i for i, v in enumerate(s["settlement_id"])}
        jpos = {v: i for i, v in enumerate(after.schools["school_id"])}
        times = _dense(yearly.travel_minutes(s["node"], after.schools["node"]))
        breach = set(zip(one.breaches["settlement_id"], one.breaches["band"], strict=True))
        for r in a.itertuples():
            if r.school_id not in jpos:
                out.append(
                    (year, "closed_school_used", r.school_id, f"{r.settlement_id} goes there")
                )
                continue
            t = times[spos[r.settlement_id], jpos[r.school_id]]
            limit = band_limit(policy, r.band)
            if t > limit + 1e-6 and (r.settlement_id, r.band) not in breach:
                out.append((year, "travel_limit", f"{r.settlement_id} {r.band}",
                            f"{t:.1f} min to {r.school_id}, limit {limit:g}"))  # fmt: skip
    # seats built by then, class sizes
    schools = after.schools.set_index("school_id")
    before = yearly.schools.set_index("school_id")
    rows = one.schools.set_index("school_id")
    for sid in sorted(planned & left):
        row = schools.loc[sid]
        pupils = int(row[BAND_COLUMNS].sum())
        seats = int(row["capacity"]) - int(row["pupils_senior"])
        today = int(rows.loc[sid, "pupils_before"]) if sid in rows.index else 0
        partner = one.closures[(one.closures["receiving_school_id"] == sid)
                               & (one.closures["reason"] == "nine_year")]  # fmt: skip
        today += int(before.loc[partner["school_id"], BAND_COLUMNS].to_numpy().sum())
        if pupils > max(seats, today):
            out.append((year, "seats_built", sid, f"{pupils} pupils, {seats} seats by {year}"))
        if seats < seats_before.get(sid, seats):
            out.append((year, "seats_built", sid, "seats removed after being built"))
        seats_before[sid] = seats
        need = _classes_needed(row, policy)
        allowed = float(row["classes"]) + sum(
            max(0.0, _classes_needed(before.loc[i], policy) - float(before.loc[i, "classes"]))
            for i in [sid, *partner["school_id"]]
        )  # crowding of that year without the plan is tolerated, never made worse
        if need > allowed + 1e-6:
            out.append((year, "class_size", sid, f"{need:.1f} classes needed, {allowed:g}"))
    return out


def _classes_needed(row: pd.Series, policy: MergerPolicy) -> float:
    """Classes a school's pupils need at the class-size caps (senior high at 50)."""
    grades = sum(row[f"pupils_{b}"] / policy.class_size(b) for b in PLANNED_BANDS)
    return float(grades + row["pupils_senior"] / 50.0)


def _dense(matrix) -> np.ndarray:
    coo = matrix.tocoo()
    out = np.full(matrix.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out
