"""The teacher plan: moves and hires with their before/after tables, summary and apply.

A frozen :class:`~allocator.planners.base.PlanBase`: its headline starts with status, gap,
seconds and objective (the pupil-weighted shortfall after the plan), ``tables`` gives copies,
and ``apply`` refuses a region other than the one the plan was made for.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.i18n import Words, labels
from allocator.planners.base import PlanBase
from allocator.planners.teachers.categories import NEEDS
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.planners.teachers.verify import UNPLANNED_COLUMNS, WAIVED_COLUMNS
from allocator.region import Region
from allocator.solver import SolveInfo
from allocator.standards import Standard
from allocator.text import plural

__all__ = ["TeacherPlan"]


@dataclass(frozen=True, eq=False)
class TeacherPlan(PlanBase):
    """A teacher posting and rotation plan with its before/after figures.

    Attributes
    ----------
    transfers : pandas.DataFrame
        ``from_school_id, to_school_id, category, count, minutes, county``: teachers rotating for
        one term (``policy.term_years``).
    hires : pandas.DataFrame
        ``school_id, category, count, county``.
    staffing : pandas.DataFrame
        One row per school: pupils, requirement and needs, counts before and after, shortfalls
        before and after, sent / received / hired, rotation quota.
    allocation_r2 : pandas.DataFrame
        ``county, level, schools, r2_before, r2_after, randomness_before, randomness_after``
        (R^2 of teachers on pupils; NaN where undefined: under 3 schools or no variation).
    backbone_by_area : pandas.DataFrame
        By area type (compulsory-education schools): pupils, backbone teachers and backbone per
        100 pupils before and after, and each area's share of all backbone teachers.
    counties : pandas.DataFrame
        Per county: rotation schools, required and actual rotations, hires, shortfalls and the
        urban-rural backbone gap before and after.
    solves : pandas.DataFrame
        One row per solve: block, stage, status, objective, gap, seconds.
    quota_waived : pandas.DataFrame
        Rotation schools whose quota is waived because today's layout leaves them no school they
        may send a teacher to: ``county, school_id, rotation_required, reason``.
    unplanned : pandas.DataFrame
        Counties (blocks) whose rotation quota the receivers cannot absorb (only with
        ``on_infeasible="report"``): ``county, schools, requirement, amount, reason``. Their
        schools are left as they are (no moves, no hires, no rotation required).
    solve_info : SolveInfo
        Aggregate: the worst status, the largest gap, the total seconds; ``objective`` is the
        pupil-weighted shortfall after the plan.
    policy : TeacherPolicy
    standard : Standard
    """

    transfers: pd.DataFrame
    hires: pd.DataFrame
    staffing: pd.DataFrame
    allocation_r2: pd.DataFrame
    backbone_by_area: pd.DataFrame
    counties: pd.DataFrame
    solves: pd.DataFrame
    solve_info: SolveInfo
    policy: TeacherPolicy
    standard: Standard
    region_name: str = ""
    quota_waived: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(WAIVED_COLUMNS))
    )
    unplanned: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(UNPLANNED_COLUMNS))
    )
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "teacher plan"

    @property
    def objective_value(self) -> float:
        """The pupil-weighted shortfall after the plan (the first stage's objective)."""
        return float(self.staffing["weighted_shortfall_after"].sum())

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (copies: changing them changes nothing in the plan)."""
        return {
            "transfers": self.transfers.copy(),
            "hires": self.hires.copy(),
            "staffing": self.staffing.copy(),
            "allocation_r2": self.allocation_r2.copy(),
            "backbone_by_area": self.backbone_by_area.copy(),
            "counties": self.counties.copy(),
            "solves": self.solves.copy(),
            "quota_waived": self.quota_waived.copy(),
            "unplanned": self.unplanned.copy(),
        }

    # ------------------------------------------------------------------ figures
    def yuan_figures(self, policy=None) -> dict[str, float]:
        """The plan's money for a run's cost summary: ``hiring_yuan_per_year``, the new posts
        times the policy's ``cost_per_hire_yuan`` (nothing without a policy)."""
        if policy is None:
            return {}
        hires = int(self.hires["count"].sum())
        return {"hiring_yuan_per_year": hires * float(policy.cost_per_hire_yuan)}

    def headline(self) -> dict[str, int | float | str | None]:
        """Key figures as a flat, JSON-safe dict: status, gap, seconds and objective first, then
        the plan's own figures (those that are undefined are left out).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.teachers import plan_teachers
        >>> plan = plan_teachers(make_region(schools=40, seed=3))
        >>> plan.headline()["hires"] == int(plan.hires["count"].sum())
        True
        """
        st = self.staffing
        tr = self.transfers
        rotated = int(tr["count"].sum())
        backbone = int(tr.loc[tr["category"] == "backbone", "count"].sum())
        out: dict[str, int | float | str | None] = {
            **self.solve_headline(),
            "schools": int(len(st)),
            "counties": int(st["county"].nunique()),
            "hires": int(self.hires["count"].sum()),
            "rotated_teachers": rotated,
            "moves": int(len(tr)),
            "backbone_rotated": backbone,
            "rotation_schools": int(st["rotation_school"].sum()),
            "rotation_required": int(st["rotation_required"].sum()),
        }
        if rotated:
            out["backbone_share_of_rotations"] = round(backbone / rotated, 4)
            out["mean_move_minutes"] = round(
                float((tr["count"] * tr["minutes"]).sum() / rotated), 2
            )
        for need in NEEDS:
            out[f"{need}_shortfall_before"] = int(st[f"{need}_shortfall_before"].sum())
            out[f"{need}_shortfall_after"] = int(st[f"{need}_shortfall_after"].sum())
        out["weighted_shortfall_before"] = round(float(st["weighted_shortfall_before"].sum()), 3)
        out["weighted_shortfall_after"] = round(float(st["weighted_shortfall_after"].sum()), 3)
        area = self.backbone_by_area.set_index("area_type")
        for a in area.index:
            for when in ("before", "after"):
                value = area.loc[a, f"backbone_per_100_{when}"]
                if np.isfinite(value):
                    out[f"backbone_per_100_{a}_{when}"] = round(float(value), 4)
                share = area.loc[a, f"backbone_share_{when}"]
                if np.isfinite(share):
                    out[f"backbone_share_{a}_{when}"] = round(float(share), 4)
        if "urban" in area.index and "rural" in area.index:
            for when in ("before", "after"):
                gap = (
                    area.loc["urban", f"backbone_per_100_{when}"]
                    - area.loc["rural", f"backbone_per_100_{when}"]
                )
                if np.isfinite(gap):
                    out[f"urban_rural_backbone_gap_{when}"] = round(float(gap), 4)
        r2 = self.allocation_r2
        for when in ("before", "after"):
            values = r2[f"r2_{when}"].dropna()
            if len(values):
                out[f"r2_median_{when}"] = round(float(values.median()), 4)
        return out

    def summary(self, language: str = "en") -> str:
        """A short text a planner can read in half a minute (``language``: ``"en"`` or ``"zh"``).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.teachers import plan_teachers
        >>> plan = plan_teachers(make_region(schools=30, seed=3))
        >>> "交流轮岗" in plan.summary("zh")
        True
        """
        w, h, p = Words(language), self.headline(), self.policy
        rules = [
            w("summary.teachers.within", minutes=f"{p.travel_limit_minutes:g}")
            if p.travel_limit_minutes is not None
            else w("summary.teachers.any_distance"),
            w("summary.teachers.same_county" if p.same_county else "summary.teachers.across"),
        ]
        if p.same_district:
            rules.append(w("summary.teachers.same_district"))
        rules.append(w(f"summary.teachers.direction_{'on' if p.direction_rules else 'off'}"))
        lines = [
            w("summary.teachers.title", region=self.region_name or w("summary.the_region"),
              schools=f"{h['schools']:,}", counties=h["counties"], standard=self.standard.name,
              rules=w("summary.list_sep").join(rules), term=p.term_years),
        ]  # fmt: skip
        by_cat = self.hires.groupby("category")["count"].sum()
        cats = w("summary.list_sep").join(
            f"{_category(w, c)} {int(v):,}" for c, v in by_cat.items() if v
        )
        lines.append(w("summary.teachers.hires", hires=f"{h['hires']:,}", categories=cats))
        lines.append(_rotation_line(w, h))
        parts = w("summary.list_sep").join(
            f"{w(f'summary.teachers.need.{n}')} {h[f'{n}_shortfall_before']:,} -> "
            f"{h[f'{n}_shortfall_after']:,}"
            for n in NEEDS
        )
        lines.append(w("summary.teachers.short", parts=parts))
        lines += _backbone_lines(w, h)
        u = self.unplanned
        if len(u):
            lines.append(
                w("summary.teachers.unplanned", counties=_count(w, len(u), "county"),
                  names=w("summary.list_sep").join(u["county"]),
                  reasons=" | ".join(u["reason"].head(3)))
            )  # fmt: skip
        q = self.quota_waived
        if len(q):
            lines.append(
                w("summary.teachers.waived", schools=_count(w, len(q), "school"),
                  rotations=int(q["rotation_required"].sum()),
                  which="; ".join(f"{r.school_id} ({r.reason})" for r in q.head(3).itertuples())
                  + (" ..." if len(q) > 3 else ""))
            )  # fmt: skip
        lines.append(
            w(
                "summary.teachers.solve",
                status=self.solve_info.describe(language),
                solves=len(self.solves),
            )
        )
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region after the plan: teachers moved and hired (a new, validated Region).

        Updates ``teachers``, ``teachers_qualified``, ``teachers_backbone``, ``teachers_pe_arts``,
        ``teachers_eligible`` when present (rotating teachers leave the eligible count of their home
        school) and ``annual_cost`` (plus ``cost_per_hire_yuan`` per hire).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.teachers import plan_teachers
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_teachers(region)
        >>> after = plan.apply(region)
        >>> int(after.schools["teachers"].sum() - region.schools["teachers"].sum()) == plan.headline()["hires"]
        True
        """
        self.require_region(region)
        schools = region.schools.copy()
        st = self.staffing.set_index("school_id")
        ids = schools["school_id"]
        missing = ~ids.isin(st.index)
        if missing.any() or len(st) != len(schools):
            bad = ids[missing].iloc[0] if missing.any() else sorted(set(st.index) - set(ids))[0]
            raise InputError(
                f"this plan was made for a region with other schools (e.g. {bad!r}); expected the "
                "region the plan was made for",
                table="schools",
                column="school_id",
                value=bad,
            )
        rows = st.loc[ids]
        for col in ("teachers", "teachers_qualified", "teachers_backbone", "teachers_pe_arts"):
            before = schools[col].to_numpy(np.int64)
            if not (rows[f"{col}_before"].to_numpy(np.int64) == before).all():
                raise InputError(
                    f"column {col} differs from the data the plan was made with; expected the "
                    "region the plan was made for",
                    table="schools",
                    column=col,
                )
            schools[col] = rows[f"{col}_after"].to_numpy(np.int64)
        if "teachers_eligible" in schools.columns:
            eligible = pd.to_numeric(schools["teachers_eligible"]).to_numpy(np.int64)
            schools["teachers_eligible"] = eligible - rows["sent"].to_numpy(np.int64)
        schools["annual_cost"] = schools["annual_cost"].to_numpy(float) + rows["hired"].to_numpy(
            float
        ) * float(self.policy.cost_per_hire_yuan)
        return region.replace(schools=schools)


def _count(w: Words, n: int, word: str) -> str:
    """``n`` with its English noun (``plural``) in English, the number alone in Chinese."""
    return plural(n, word) if w.language == "en" else f"{n:,}"


def _category(w: Words, category: str) -> str:
    """A teacher category in the reader's words (the name itself when it has no label)."""
    key = f"summary.teachers.category.{category}"
    return w(key) if key in labels() else str(category)


def _rotation_line(w: Words, h: dict) -> str:
    """The summary's line on rotations (交流轮岗)."""
    if not h["rotated_teachers"]:
        return w("summary.teachers.no_rotations")
    return w(
        "summary.teachers.rotations",
        teachers=f"{h['rotated_teachers']:,}",
        moves=f"{h['moves']:,}",
        backbone=f"{h['backbone_rotated']:,}",
        share=f"{h['backbone_share_of_rotations']:.0%}",
        minutes=f"{h['mean_move_minutes']:.0f}",
        schools=f"{h['rotation_schools']:,}",
        required=f"{h['rotation_required']:,}",
    )


def _backbone_lines(w: Words, h: dict) -> list[str]:
    """The summary's lines on backbone teachers (骨干教师) by area and the allocation R²."""
    lines = []
    area = [
        f"{w(f'area.{a}')} {h[f'backbone_per_100_{a}_before']:.2f} -> "
        f"{h[f'backbone_per_100_{a}_after']:.2f}"
        for a in ("urban", "town", "rural")
        if f"backbone_per_100_{a}_before" in h
    ]
    if area:
        line = w("summary.teachers.backbone", areas=w("summary.list_sep").join(area))
        if "backbone_share_rural_before" in h:
            line += w(
                "summary.teachers.backbone_rural",
                before=f"{h['backbone_share_rural_before']:.1%}",
                after=f"{h['backbone_share_rural_after']:.1%}",
            )
        lines.append(line + w("summary.full_stop"))
    if "r2_median_before" in h:
        lines.append(
            w("summary.teachers.r2", before=f"{h['r2_median_before']:.3f}",
              after=f"{h['r2_median_after']:.3f}")
        )  # fmt: skip
    return lines
