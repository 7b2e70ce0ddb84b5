"""The consolidation plan (:class:`MergerPlan`): its tables, headline, summary and ``apply``.

Rules and definitions the plan follows
--------------------------------------
* Senior high is not re-planned: schools that teach only senior high are left out and unchanged;
  a school that teaches senior high and junior keeps its senior pupils (they hold seats and
  classes) and stays open. Settlements' senior pupils are ignored.
* A school teaches the bands of its level (primary and teaching point: grades 1-6, junior: 7-9,
  nine-year: 1-9) and any band it enrols today. Pupils go only to schools of their own county.
* "Before" travel: each settlement band attends the nearest school of its county that teaches the
  band today (the data hold no settlement-to-school enrolment); beyond the day limit a band that may
  board counts as boarders. "Before" costs use the schools' current enrolment for the funding floor.
* A closed school's receiving school is the school that receives most of the pupils of the
  settlement bands it was nearest to; if it was nobody's nearest, the nearest open school that
  teaches one of its bands. In a nine-year conversion the receiver is the host.
* A closed school may name a new site as its receiving school. New sites are listed in
  ``openings``; their annualised cost is the cost item ``new_sites`` (0 before the plan).
* :meth:`MergerPlan.apply`: closed schools are removed; their teachers (all categories), equipment
  value, multimedia rooms and their annual cost less the site cost move to the receiving school;
  floor and sports area stay with the empty buildings, except in a nine-year conversion, where the
  two schools share one site and floor area, sports area, seats and classes move too. Pupil band
  counts of every re-planned school are recomputed from the assignments; expansions add seats,
  classrooms and ``expansion_floor_m2_per_seat`` of floor area per seat; hosts become
  ``nine_year``. Teachers of kept schools stay where they are: posting them is the teacher
  planner's job. A new site becomes a school (id = site_id) with its capacity, classrooms, floor
  area ``capacity x expansion_floor_m2_per_seat``, no sports area and its ``annual_cost``; it
  starts without teachers or equipment and receives those of the schools closing into it.
* Boarding places: an optional ``boarding_places`` column of the schools table (and of the
  candidate sites) gives the boarders a school's dormitories hold; a missing column or an empty
  cell means no limit. A school never receives more boarders than its places, or than it has today
  if that is more (such a school is reported, not forced to send boarders away). The plan does not
  build dormitories: the ``schools`` table reports ``boarders_before``, ``boarders_after``,
  ``boarding_places`` and ``boarding_limit`` (what the plan may fill) so that lodging can be built
  before a closure, and ``summary`` names the schools whose places are full. In a nine-year
  conversion the places of the absorbed school join the host's (``apply`` adds them); the places
  of any other closed school stay with its buildings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.i18n import Words
from allocator.planners.base import PlanBase
from allocator.planners.mergers.columns import BAND_COLUMNS, BOARDING_COLUMN, PLANNED_BANDS
from allocator.planners.mergers.policy import MergerPolicy
from allocator.planners.mergers.tables import OPENING_COLUMNS
from allocator.planners.mergers.verify import (
    BREACH_COLUMNS,
    UNPLANNED_COLUMNS,
    counted,
    summary_lines,
)
from allocator.region import SCHOOL_COLUMNS, Region
from allocator.solver import SolveInfo

_MOVING = (
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
    "equipment_value",
    "multimedia_rooms",
)
_SITE_MOVING = ("floor_area_m2", "sports_area_m2", "capacity", "classes")


@dataclass(frozen=True, eq=False)
class MergerPlan(PlanBase):
    """A consolidation plan: closures, assignments, expansions, costs and travel before/after.

    Attributes
    ----------
    closures : pandas.DataFrame
        One row per closed school: ``school_id, receiving_school_id, pupils, teachers, reason`` and
        what the closure implies (``name, level, township, area_type, boarders,
        mean_minutes_before, mean_minutes_after, receiving_pupils_after,
        receiving_class_size_after``). ``reason`` is ``small_school``, ``nine_year`` or
        ``max_schools``; ``detail`` says it in words.
    assignments : pandas.DataFrame
        ``settlement_id, band, school_id, pupils, minutes, boarding`` (one row per settlement band
        and school).
    expansions : pandas.DataFrame
        ``school_id, seats, cost`` (annualised yuan) and ``classrooms``.
    openings : pandas.DataFrame
        One row per candidate site the plan builds (``MergerPolicy.candidate_sites``):
        ``site_id, county, township, level, pupils, annual_cost, build_cost``, then
        ``annualised_cost`` (annual cost + build cost / build_years), ``name, area_type, capacity,
        classes, class_size_after, boarders``, ``receives_from`` (the closed schools whose
        receiving school it is, joined by ``;``) and ``boarding_places`` (NaN: no limit). Empty
        without candidate sites.
    schools : pandas.DataFrame
        Every re-planned school: ``status`` (open, closed, nine_year_host), ``kept_because`` (the
        keep rule of an open school; empty for a closed one), pupils and class size before/after,
        ``seats_after`` (the capacity after ``apply`` less senior pupils: pupils_after never
        exceeds it unless the school, with an absorbed partner, holds more than that today), boarders received (``boarders_after``) and boarding
        today (``boarders_before``), ``boarding_places`` (of the data, with those of an absorbed
        school for a nine-year host; NaN: no limit) and ``boarding_limit`` (the most boarders the
        plan may place there: the places, or today's boarders if more; NaN: no limit; 0 when
        closed).
    costs : pandas.DataFrame
        Annual cost by item (sites, funding_floor, expansion, transport, boarding, total; with
        candidate sites also new_sites, their annualised cost): ``before, after, change`` in yuan.
    travel : pandas.DataFrame
        By ``area_type`` (of the settlement; ``all`` for everyone) and ``stage`` (before/after):
        pupils, mean, 95th percentile and maximum one-way minutes (pupil-weighted), boarders, share of
        grade 1-3 pupils within the standard's ``travel.lower_primary_minutes`` (30; the column
        and headline keys keep the name ``lower_primary_within_30``).
    counties : pandas.DataFrame
        Per planned county: schools, variables, status, gap, seconds.
    unplanned : pandas.DataFrame
        Counties left as they are because no plan meets the rules there (only with
        ``on_infeasible="report"``): ``county, schools, settlements``, the ``requirement`` that
        fails most, the ``amount`` it fails by (pupils, schools, ...) and the ``reason`` in words.
        Their schools are not in the other tables and ``apply`` leaves them unchanged.
    breaches : pandas.DataFrame
        Where today's layout already breaks a rule, so that the plan must too (empty with
        ``on_infeasible="error"``): ``county, settlement_id, band, pupils, school_id, minutes,
        limit_minutes, rule, reason``. ``rule`` is ``travel_limit`` for pupils placed beyond
        their band's limit (no school, or no seat, within it; as few as any plan allows) and
        ``whole_village`` for a village band split between schools because no plan, not even
        with today's schools all open, puts every whole band at one school.
    solve_info : SolveInfo
        Aggregate over the planned counties: the worst status, the largest gap, total objective
        (with a penalty for every pupil beyond a limit) and time.
    policy : MergerPolicy

    Examples
    --------
    >>> from allocator.planners.mergers import plan_mergers
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_mergers(region)
    >>> after = plan.apply(region)
    >>> len(after.schools) == len(region.schools) - len(plan.closures)
    True
    >>> int(plan.assignments["pupils"].sum()) == int(region.settlements[
    ...     ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].to_numpy().sum())
    True
    """

    closures: pd.DataFrame
    assignments: pd.DataFrame
    expansions: pd.DataFrame
    schools: pd.DataFrame
    costs: pd.DataFrame
    travel: pd.DataFrame
    counties: pd.DataFrame
    solve_info: SolveInfo
    policy: MergerPolicy
    region_name: str = ""
    openings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OPENING_COLUMNS))
    unplanned: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(UNPLANNED_COLUMNS))
    )
    breaches: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(BREACH_COLUMNS))
    )
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "merger plan"

    @property
    def objective_value(self) -> float | None:
        """The objective over the planned counties (annual yuan, or pupil-minutes with
        ``max_schools``; with the penalty for pupils beyond their limits)."""
        return self.solve_info.objective

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name, as copies (written as CSV by the scenario runner)."""
        tables = {
            "closures": self.closures,
            "assignments": self.assignments,
            "expansions": self.expansions,
            "openings": self.openings,
            "schools": self.schools,
            "costs": self.costs,
            "travel": self.travel,
            "counties": self.counties,
            "unplanned": self.unplanned,
            "breaches": self.breaches,
        }
        return {name: table.copy() for name, table in tables.items()}

    # ------------------------------------------------------------------ figures
    def _travel_value(self, stage: str, column: str, area: str = "all") -> float:
        row = self.travel[(self.travel["stage"] == stage) & (self.travel["area_type"] == area)]
        return float(row[column].iloc[0]) if len(row) else float("nan")

    def _cost(self, item: str, stage: str) -> float:
        return float(self.costs.loc[self.costs["item"] == item, stage].iloc[0])

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """The plan's money for a run's cost summary: ``running_change_yuan_per_year``, the annual
        cost after the plan less the annual cost before (negative: a saving)."""
        after = round(self._cost("total", "after"), 2)
        before = round(self._cost("total", "before"), 2)
        return {"running_change_yuan_per_year": after - before}

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict (for result files and comparisons): ``status``,
        ``gap``, ``seconds`` and ``objective`` first, as in every plan, then the plan's figures.

        Examples
        --------
        >>> from allocator.planners.mergers import plan_mergers
        >>> from allocator.synth import make_region
        >>> plan = plan_mergers(make_region(schools=40, seed=3))
        >>> h = plan.headline()
        >>> h["schools_after"] == h["schools_before"] - h["schools_closed"] + h["new_schools_built"]
        True
        """
        opened = int(len(self.openings))
        out = self.solve_headline()
        out["seconds"] = round(out["seconds"], 3)
        out |= {
            "mode": "travel" if self.policy.max_schools is not None else "cost",
            "schools_before": int(len(self.schools)),
            "schools_after": int((self.schools["status"] != "closed").sum()) + opened,
            "schools_closed": int(len(self.closures)),
            "new_schools_built": opened,
            "nine_year_conversions": int((self.closures["reason"] == "nine_year").sum()),
            "pupils_of_closed_schools": int(self.closures["pupils"].sum()),
            "teachers_moved": int(self.closures["teachers"].sum()),
            "expansion_seats": int(self.expansions["seats"].sum()),
            "annual_cost_before_yuan": round(self._cost("total", "before"), 2),
            "annual_cost_after_yuan": round(self._cost("total", "after"), 2),
            "annual_saving_yuan": round(-self._cost("total", "change"), 2),
        }
        for stage in ("before", "after"):
            out[f"boarders_{stage}"] = int(self._travel_value(stage, "boarders"))
            out[f"mean_minutes_{stage}"] = round(self._travel_value(stage, "mean_minutes"), 3)
            out[f"p95_minutes_{stage}"] = round(self._travel_value(stage, "p95_minutes"), 3)
            out[f"max_minutes_{stage}"] = round(self._travel_value(stage, "max_minutes"), 3)
            out[f"lower_primary_within_30_{stage}"] = round(
                self._travel_value(stage, "lower_primary_within_30_share"), 4
            )
        out["unplanned_counties"] = int(len(self.unplanned))
        beyond = self.breaches["rule"] == "travel_limit"
        out["pupils_beyond_limits"] = int(self.breaches.loc[beyond, "pupils"].sum())
        return out

    def summary(self, language: str = "en") -> str:
        """A short text a planner reads in 30 seconds (``language``: ``"en"`` or ``"zh"``).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.mergers import plan_mergers
        >>> plan = plan_mergers(make_region(schools=30, seed=3))
        >>> "撤点并校" in plan.summary("zh").splitlines()[0]
        True
        """
        w, h = Words(language), self.headline()
        built = h["new_schools_built"]
        lines = [
            w("summary.mergers.title", region=self.region_name or w("summary.the_region"),
              mode=w(f"mergers.mode.{h['mode']}"), status=self.solve_info.describe(language)),
            "  " + w("summary.mergers.schools", before=h["schools_before"],
                     after=h["schools_after"], closed=h["schools_closed"],
                     nine=h["nine_year_conversions"], pupils=h["pupils_of_closed_schools"],
                     teachers=h["teachers_moved"],
                     built=w("summary.mergers.built", built=counted(w, built, "new school"))
                     if built else ""),
            "  " + w("summary.mergers.cost", before=f"{h['annual_cost_before_yuan'] / 1e6:,.2f}",
                     after=f"{h['annual_cost_after_yuan'] / 1e6:,.2f}",
                     seats=w("summary.mergers.seats", seats=h["expansion_seats"])
                     if h["expansion_seats"] else ""),
            "  " + w("summary.mergers.travel",
                     **{f"{k}_{s}": f"{h[f'{k}_minutes_{s}']:.1f}"
                        for k in ("mean", "p95", "max") for s in ("before", "after")}),
            "  " + w("summary.mergers.grades", limit=f"{self.policy.lower_primary_guideline_minutes:g}",
                     before=f"{h['lower_primary_within_30_before']:.1%}",
                     after=f"{h['lower_primary_within_30_after']:.1%}",
                     boarders_before=h["boarders_before"], boarders_after=h["boarders_after"]),
        ]  # fmt: skip
        if len(self.closures):
            lines.append("  " + w("summary.mergers.closures"))
            top = self.closures.sort_values("pupils", ascending=False).head(5)
            for r in top.itertuples():
                lines.append(
                    f"    {r.school_id} {r.name} -> {r.receiving_school_id}"
                    + w("summary.mergers.closure", pupils=r.pupils, reason=w(f"reason.{r.reason}"),
                        before=f"{r.mean_minutes_before:.0f}", boarders=r.boarders,
                        after=f"{r.mean_minutes_after:.0f}")
                )  # fmt: skip
        lines += self._dormitory_lines(w)
        if len(self.openings):
            lines.append("  " + w("summary.mergers.openings"))
            for r in self.openings.itertuples():
                receives = r.receives_from.replace(";", w("summary.list_sep"))
                lines.append(
                    f"    {r.site_id} {r.name}"
                    + w("summary.mergers.opening", township=r.township, level=r.level,
                        pupils=r.pupils, capacity=r.capacity,
                        build=f"{r.build_cost / 1e6:,.2f}", yearly=f"{r.annualised_cost / 1e6:,.2f}")
                    + (w("summary.mergers.receives", schools=receives) if r.receives_from else "")
                )  # fmt: skip
        lines += summary_lines(self.breaches, self.unplanned, w)
        lines.append("  " + w("summary.mergers.review"))
        return "\n".join(lines)

    def _dormitory_lines(self, w: Words) -> list[str]:
        """The summary's line on schools whose dormitories are full."""
        full = self._full_dormitories()
        if not len(full):
            return []
        items = [
            f"{r.school_id} {r.boarders_after}/{r.boarding_places:g}"
            + (
                w("summary.mergers.board_today", boarders=r.boarders_before)
                if r.boarders_before > r.boarding_places
                else ""
            )
            for r in full.head(8).itertuples()
        ]
        return [
            "  "
            + w("summary.mergers.full", schools=counted(w, len(full), "school"))
            + w("summary.list_sep").join(items)
            + (" ..." if len(full) > 8 else "")
        ]

    def _full_dormitories(self) -> pd.DataFrame:
        """Open schools with a boarding limit that has no room for one more boarder."""
        s = self.schools
        if "boarding_limit" not in s.columns or not len(s):
            return s.iloc[:0]
        limit = s["boarding_limit"].to_numpy(dtype=float)
        board = s["boarders_after"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            full = (s["status"] != "closed").to_numpy() & (limit > 0) & (board + 1 > limit + 1e-9)
        return s[full]

    # ------------------------------------------------------------------ after the plan
    def _new_school_rows(self, schools: pd.DataFrame) -> pd.DataFrame:
        """Rows of the schools table for the sites the plan builds (pupils filled in later)."""
        sites = {c.site_id: c for c in self.policy.candidate_sites or ()}
        rows = []
        for r in self.openings.itertuples():
            c = sites[r.site_id]
            row = dict.fromkeys(schools.columns, np.nan)
            row.update(dict.fromkeys(SCHOOL_COLUMNS, 0))
            row.update(
                school_id=c.site_id,
                name=r.name,
                county=c.county,
                township=c.township,
                area_type=r.area_type,
                level=c.level,
                node=c.node,
                x=c.x,
                y=c.y,
                classes=int(r.classes),
                capacity=int(c.capacity),
                floor_area_m2=c.capacity * self.policy.expansion_floor_m2_per_seat,
                sports_area_m2=0.0,
                equipment_value=0.0,
                annual_cost=c.annual_cost,
            )
            if "site_cost_yuan" in schools.columns:
                row["site_cost_yuan"] = c.annual_cost
            if BOARDING_COLUMN in schools.columns and c.boarding_places is not None:
                row[BOARDING_COLUMN] = c.boarding_places
            rows.append(row)
        return pd.DataFrame(rows, columns=schools.columns)

    def apply(self, region: Region) -> Region:
        """The region after the plan (a new, validated Region).

        Closed schools are removed. Their teachers (every category), equipment value, multimedia
        rooms and their annual cost less the site cost move to the receiving school; floor and
        sports area stay with the buildings, except in a nine-year conversion (one site), where
        floor area, sports area, seats and classes move too. Pupil bands of every re-planned
        school are the sums of its assignments (senior high unchanged); expansions add seats,
        classrooms and floor area; hosts of conversions become ``nine_year``.

        Each new school the plan builds (``openings``) becomes a row of the schools table:
        ``school_id`` = ``site_id``, its level, node, coordinates, capacity and classrooms, floor
        area ``capacity x expansion_floor_m2_per_seat``, no sports area, its ``annual_cost``;
        pupils from the assignments. It starts with no teachers or equipment: like any receiving
        school it gets those of the schools that close into it (teachers move with their pupils).
        Pupils it takes from schools that stay open come without teachers (posting teachers is the
        teacher planner's job).

        Examples
        --------
        >>> from allocator.planners.mergers import plan_mergers
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_mergers(region)
        >>> after = plan.apply(region)
        >>> int(after.schools["teachers"].sum()) == int(region.schools["teachers"].sum())
        True
        """
        self.require_region(region)
        schools = region.schools.copy()
        index = pd.Index(schools["school_id"])
        missing = set(self.schools["school_id"]) - set(index)
        if missing:
            raise InputError(
                f"the plan names schools the region does not have: {sorted(missing)[:5]}; "
                "apply a plan to the region it was made for",
                table="schools",
                column="school_id",
            )
        if len(self.openings):
            built = set(self.openings["site_id"]) & set(index)
            if built:
                raise InputError(
                    f"the region already has schools {sorted(built)[:5]} the plan would build; "
                    "apply a plan to the region it was made for",
                    table="schools",
                    column="school_id",
                )
            sites = {c.site_id: c for c in self.policy.candidate_sites or ()}
            limited = any(sites[s].boarding_places is not None for s in self.openings["site_id"])
            if limited and BOARDING_COLUMN not in schools.columns:
                schools[BOARDING_COLUMN] = np.nan  # no limit for the schools of the region
            schools = pd.concat([schools, self._new_school_rows(schools)], ignore_index=True)
            index = pd.Index(schools["school_id"])
        pos = {sid: i for i, sid in enumerate(index)}
        planned = [pos[s] for s in (*self.schools["school_id"], *self.openings["site_id"])]
        totals = (
            self.assignments.groupby(["school_id", "band"])["pupils"].sum().unstack(fill_value=0)
        )
        for band, column in zip(PLANNED_BANDS, BAND_COLUMNS, strict=True):
            values = np.zeros(len(schools), dtype=np.int64)
            if band in totals.columns:
                for sid, v in totals[band].items():
                    values[pos[sid]] = int(v)
            col = schools[column].to_numpy().copy()
            col[planned] = values[planned]
            schools[column] = col
        site = dict(zip(self.schools["school_id"], self.schools["site_cost_yuan"], strict=True))
        for r in self.closures.itertuples():
            a, h = pos[r.school_id], pos[r.receiving_school_id]
            moving = _MOVING + (_SITE_MOVING if r.reason == "nine_year" else ())
            for column in moving:
                schools.loc[h, column] = schools.loc[h, column] + schools.loc[a, column]
            schools.loc[h, "annual_cost"] += max(
                0.0, schools.loc[a, "annual_cost"] - site[r.school_id]
            )
            if r.reason == "nine_year" and BOARDING_COLUMN in schools.columns:
                # one site: the dormitories are the host's (an empty cell, no limit, stays one)
                own, extra = (
                    pd.to_numeric(schools.loc[i, BOARDING_COLUMN], errors="coerce") for i in (h, a)
                )
                schools.loc[h, BOARDING_COLUMN] = own + extra
        for r in self.expansions.itertuples():
            h = pos[r.school_id]
            schools.loc[h, "capacity"] += int(r.seats)
            schools.loc[h, "classes"] += int(r.classrooms)
            schools.loc[h, "floor_area_m2"] += (
                float(r.seats) * self.policy.expansion_floor_m2_per_seat
            )
        for sid in self.closures.loc[self.closures["reason"] == "nine_year", "receiving_school_id"]:
            schools.loc[pos[sid], "level"] = "nine_year"
        closed = [pos[s] for s in self.closures["school_id"]]
        keep = np.ones(len(schools), dtype=bool)
        keep[closed] = False
        return region.replace(schools=schools[keep].reset_index(drop=True))
