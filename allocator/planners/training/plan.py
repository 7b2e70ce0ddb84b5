"""The training plan: a calendar of places per year, school and programme, with its figures.

A frozen :class:`~allocator.planners.base.PlanBase`: its headline starts with status, gap, seconds
and objective (the teacher-hours still behind the five-year requirement at the end of the
calendar), ``tables`` gives copies, and ``apply`` refuses a region other than the one the plan
was made for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocator.i18n import Words
from allocator.planners.base import PlanBase
from allocator.planners.training.data import HOURS_COLUMN, TrainingData
from allocator.planners.training.policy import TrainingPolicy
from allocator.planners.training.verify import trajectory
from allocator.region import Region
from allocator.solver import SolveInfo

__all__ = ["TRAINED_COLUMN", "TrainingPlan", "build_plan"]

#: The optional school column of teachers trained at county level or above in the cycle.
TRAINED_COLUMN = "teachers_trained_county"


@dataclass(frozen=True, eq=False)
class TrainingPlan(PlanBase):
    """A training calendar with its before/after figures.

    Attributes
    ----------
    calendar : pandas.DataFrame
        ``year, school_id, name, county, area_type, programme, level, backbone, places, hours,
        cost``: places per year, school and programme (rows with places only).
    schools : pandas.DataFrame
        One row per school with teachers: teachers, backbone teachers before / required / after,
        backbone ratio (backbone / required) before and after, hours per teacher before and after,
        ``on_track_after`` and ``backbone_year`` (the plan year the school reaches its requirement;
        0 if it has it already, NA if not within the calendar).
    years : pandas.DataFrame
        One row per year (year 0: before the plan): places, backbone places, cost, hours, schools
        on track at the end of the year (hours per teacher >= cycle_hours x years of the cycle so
        far / cycle_years), schools with the backbone teachers they need and teacher-hours still
        behind.
    solve_info : SolveInfo
    policy : TrainingPolicy
    """

    calendar: pd.DataFrame
    schools: pd.DataFrame
    years: pd.DataFrame
    solve_info: SolveInfo
    policy: TrainingPolicy
    cycle_hours: float
    standard_name: str = ""
    region_fingerprint: str | None = None
    plan_name = "training plan"

    @property
    def objective_value(self) -> float:
        """Teacher-hours behind the five-year requirement at the end of the calendar."""
        return float(self.years["hours_behind"].iloc[-1])

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The plan's tables by name (copies)."""
        return {
            "calendar": self.calendar.copy(),
            "training_schools": self.schools.copy(),
            "training_years": self.years.copy(),
        }

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """Training is a running cost: the mean yuan a year of the calendar."""
        return {"running_change_yuan_per_year": float(self.years["cost"].mean())}

    def headline(self) -> dict:
        """Key figures (JSON-safe): status, gap, seconds and objective first.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.training import plan_training
        >>> h = plan_training(make_region(schools=30, seed=1)).headline()
        >>> list(h)[:4], h["places"] > 0
        (['status', 'gap', 'seconds', 'objective'], True)
        """
        s, y = self.schools, self.years
        return {
            **self.solve_headline(),
            "years": int(len(y) - 1),
            "places": int(y["places"].sum()),
            "backbone_places": int(y["backbone_places"].sum()),
            "cost_yuan": float(y["cost"].sum()),
            "schools": int(len(s)),
            "schools_backbone_met_before": int(
                (s["backbone_before"] >= s["backbone_required"]).sum()
            ),
            "schools_backbone_met_after": int(
                (s["backbone_after"] >= s["backbone_required"]).sum()
            ),
            "schools_on_track_after": int(s["on_track_after"].sum()),
        }

    def summary(self, language: str = "en") -> str:
        """The calendar in a few lines, in ``language`` (``"en"`` or ``"zh"``)."""
        w = Words(language)
        h, y = self.headline(), self.years
        before_track = int(y["schools_on_track"].iloc[0])
        lines = [
            w("training.title", years=h["years"], first=self.policy.cycle_year,
              standard=self.standard_name),
            w("training.places", places=f"{h['places']:,}", cost=f"{h['cost_yuan']:,.0f}",
              backbone=f"{h['backbone_places']:,}"),
            w("training.backbone_met", before=h["schools_backbone_met_before"],
              after=h["schools_backbone_met_after"], schools=h["schools"]),
            w("training.on_track", hours=f"{self.cycle_hours:g}", cycle=self.policy.cycle_years,
              before=before_track, after=h["schools_on_track_after"], schools=h["schools"]),
        ]  # fmt: skip
        for r in y.iloc[1:].itertuples(index=False):
            lines.append(
                "  "
                + w("training.year", year=r.year, places=f"{r.places:,}",
                    backbone=f"{r.backbone_places:,}", cost=f"{r.cost:,.0f}",
                    on_track=r.schools_on_track, met=r.schools_backbone_met)
            )  # fmt: skip
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region at the end of the calendar: backbone teachers and the teachers' hours of
        the cycle (``teacher_training_hours``) raised by the places, and, where the schools table
        has it, the teachers trained at county level or above in the cycle
        (``teachers_trained_county``, which the open indicator ``trained_county_share`` reads).

        Every programme is at county level or above (:data:`~.policy.LEVELS`), so each place
        trains a teacher at that level. The calendar gives places per school, not per teacher; a
        school is taken to send the teachers it has not yet trained at county level first, so a
        school's trained teachers become min(teachers, trained before + its places) (never fewer
        than before). A backbone
        place makes a backbone teacher once it is completed, within the calendar.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.training import plan_training
        >>> region = make_region(schools=30, seed=1)
        >>> after = plan_training(region).apply(region).schools
        >>> bool((after["teachers_backbone"] >= region.schools["teachers_backbone"]).all())
        True
        """
        self.require_region(region)
        schools = region.schools.copy()
        gained = self.schools.set_index("school_id")
        bb = gained["backbone_after"] - gained["backbone_before"]
        ids = schools["school_id"]
        add_bb = ids.map(bb).fillna(0).round().astype(np.int64).to_numpy()
        schools["teachers_backbone"] = schools["teachers_backbone"].to_numpy() + add_bb
        add_h = ids.map(self.calendar.groupby("school_id")["hours"].sum()).fillna(0.0).to_numpy()
        current = schools[HOURS_COLUMN].to_numpy()
        if np.issubdtype(current.dtype, np.integer) and np.allclose(add_h, np.round(add_h)):
            schools[HOURS_COLUMN] = current + np.round(add_h).astype(np.int64)
        else:
            schools[HOURS_COLUMN] = current.astype(float) + add_h
        if TRAINED_COLUMN in schools.columns:
            places = ids.map(self.calendar.groupby("school_id")["places"].sum()).fillna(0)
            before = schools[TRAINED_COLUMN].to_numpy()
            more = np.minimum(before + places.to_numpy(np.int64), schools["teachers"].to_numpy())
            schools[TRAINED_COLUMN] = np.maximum(before, more)
        return region.replace(schools=schools)


def _calendar(data: TrainingData, x: np.ndarray) -> pd.DataFrame:
    progs = data.programmes
    y, s, p = np.nonzero(x)
    places = x[y, s, p]
    info = data.schools.iloc[s].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "year": y + 1,
            "school_id": info["school_id"],
            "name": info["name"],
            "county": info["county"],
            "area_type": info["area_type"],
            "programme": progs["programme"].to_numpy()[p],
            "level": progs["level"].to_numpy()[p],
            "backbone": progs["backbone"].to_numpy(bool)[p],
            "places": places.astype(np.int64),
            "hours": places * progs["hours"].to_numpy(float)[p],
            "cost": places * progs["cost_per_place"].to_numpy(float)[p],
        }
    )
    return out.sort_values(["year", "school_id", "programme"], kind="stable").reset_index(drop=True)


def build_plan(data: TrainingData, policy, x: np.ndarray, seconds: float) -> TrainingPlan:
    """The plan of places ``x`` (H, S, P), verified already."""
    b, h = trajectory(data, x)
    n, need = data.teachers, data.required
    H = x.shape[0]
    targets = np.vstack([data.on_track_hours(y) for y in range(H + 1)])
    on_track = h >= targets - 1e-9
    met = b >= need[None, :]
    behind = np.maximum(targets - h, 0.0).sum(axis=1)
    progs = data.programmes
    is_bb = progs["backbone"].to_numpy(bool)
    cost = (x * progs["cost_per_place"].to_numpy(float)[None, None, :]).sum(axis=(1, 2))
    years = pd.DataFrame(
        {
            "year": np.arange(H + 1),
            "places": np.r_[0, x.sum(axis=(1, 2))].astype(np.int64),
            "backbone_places": np.r_[0, x[:, :, is_bb].sum(axis=(1, 2))].astype(np.int64),
            "cost": np.r_[0.0, cost],
            "hours": np.r_[0.0, (x * progs["hours"].to_numpy(float)).sum(axis=(1, 2))],
            "schools_on_track": on_track.sum(axis=1).astype(np.int64),
            "schools_backbone_met": met.sum(axis=1).astype(np.int64),
            "hours_behind": behind,
        }
    )
    first = np.where(met.any(axis=0), met.argmax(axis=0), -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio0 = np.where(need > 0, b[0] / need, np.nan)
        ratio1 = np.where(need > 0, b[-1] / need, np.nan)
    schools = data.schools.assign(
        teachers=n,
        backbone_before=b[0],
        backbone_required=need,
        backbone_after=b[-1],
        backbone_ratio_before=ratio0,
        backbone_ratio_after=ratio1,
        hours_per_teacher_before=h[0] / n,
        hours_per_teacher_after=h[-1] / n,
        on_track_after=on_track[-1],
        backbone_year=pd.array(np.where(first >= 0, first, pd.NA), dtype="Int64"),
    )
    info = SolveInfo("optimal", float(behind[-1]), float(behind[-1]), 0.0, seconds, "priority rule")
    return TrainingPlan(
        calendar=_calendar(data, x),
        schools=schools.reset_index(drop=True),
        years=years,
        solve_info=info,
        policy=policy,
        cycle_hours=data.cycle_hours,
        standard_name=data.standard.name,
        region_fingerprint=data.region_fingerprint,
    )
