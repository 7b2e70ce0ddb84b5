"""Teacher posting and rotation: staff every school to the norm and share the best teachers.

:func:`plan_teachers` decides where new teachers are posted (hires) and which teachers rotate
between schools for a term (transfers), under the staffing norms of the standard and the county
rotation policy (教师〔2014〕4号): in urban and high-quality schools at least 10 % of the eligible
teachers rotate each year, backbone teachers are at least 20 % of those who rotate, and moves go
urban -> rural, strong -> weak.

Categories (the data give overlapping counts; people move in disjoint groups)
---------------------------------------------------------------------------
A school has ``T`` teachers of whom ``Q`` qualified (above-required qualification), ``B`` backbone
and ``E`` PE/arts; the three are subsets of ``T`` that may overlap, and only their sizes are known.
The heads are split into disjoint groups with the largest nesting "backbone inside qualified" and
PE/arts outside both where the head count allows:

* ``backbone``  = min(B, Q) - eb  (backbone and qualified; a move changes T, Q and B)
* ``qualified`` = Q - min(B, Q) - eq  (qualified, not backbone; changes T and Q)
* ``pe_arts``   = min(E, T - max(B, Q))  (PE/arts only; changes T and E)
* ``general``   = T - max(B, Q) - pe_arts  (none of the three; changes T)
* locked heads, who never move: backbone teachers beyond Q (when B > Q), and the v = E - pe_arts
  PE/arts teachers who must overlap the others, eq = min(v, Q - min(B, Q)) of them counted among
  the qualified and eb = min(v - eq, min(B, Q)) among the backbone.

Moving or hiring whole heads of these groups keeps every ``teachers_x <= teachers`` and conserves
each column exactly. Eligible teachers (column ``teachers_eligible`` if the schools table has it,
else ``floor(eligible_share * T)``) are not known by category: category c of a school may supply up
to ``min(n_c, ceil(e / T * n_c))`` heads, and all categories together at most ``e``.

Model (one block per county; see "Decomposition")
------------------------------------------------
Sets: schools I; categories C = (backbone, qualified, pe_arts, general); allowed moves A, the
triples (i, j, c) with i != j, road travel time t_ij <= ``travel_limit_minutes``, the same county
(and the same ``district`` when asked), the stage rule (default "certificate": the receiving school
teaches a stage no higher than the highest the sending school teaches, as a teacher certificate
of a higher stage covers the lower ones), eligible heads of c at i, and, with
``direction_rules``, key(i) > key(j) for key = (area rank urban 2 > town 1 > rural 0,
high-quality flag, backbone teachers per 100 pupils).

Data: r_i required staff (:func:`allocator.standards.required_staff`); need_ik for k in
(qualified, backbone, pe_arts) = the largest, over the school's assessed in-scope parts p, of
ceil(threshold_pk / 100 * pupils_p / share_p), share_p the part's share of the school's teachers in
the 2017 assessment (so that meeting the need meets the indicator in every part); need_i,staff = r_i.
Rotation schools R: compulsory-education schools that are urban or high-quality (a primary, junior
or nine-year school whose backbone teachers per 100 pupils are > 0 and at or above the
``high_quality_quantile`` of its county's such schools; or as a ``high_quality`` column says),
with quota q_i = ceil(rotation_share * e_i).

Variables: x_ijc >= 0 integer (teachers of c rotating i -> j); h_ic >= 0 integer (hires, c in
``hire_categories``; backbone teachers are not hired); s_ik >= 0 (shortfall); g >= 0 (gap).
With out_ic = sum_j x_ijc, in_ic = sum_j x_jic, d_ic = in_ic - out_ic + h_ic, d_i = sum_c d_ic:

* out_ic <= e_ic;  q_i <= sum_c out_ic <= min(e_i, floor(max_rotation_share * e_i))  (q_i = 0 if
  i is not in R);
* T_i + d_i >= min(r_i, T_i) for every school with outgoing moves: a sender never falls below its
  requirement (one already below it may only exchange, or rotate teachers replaced by hires);
* optional: T_i + d_i <= max(T_i, ceil((1 + receiver_headroom_share) r_i)) for receivers;
* s_i,staff >= r_i - T_i - d_i;  s_i,qualified >= need - Q_i - d_i,backbone - d_i,qualified;
  s_i,backbone >= need - B_i - d_i,backbone;  s_i,pe_arts >= need - E_i - d_i,pe_arts;
* sum_{i in R} out_i,backbone >= backbone_share * sum_{i in R} sum_c out_ic  (per county), and
  with ``backbone_share_scope="school"`` also out_i,backbone >= ceil(backbone_share * q_i) for
  each rotation school (its share of the rotations it must make);
* sum h_ic <= H (the county's hiring quota: ``hiring_quota`` and ``hiring_budget_yuan /
  cost_per_hire_yuan``; a single number for several counties is split in proportion to their
  staffing gaps, a dict gives each county its own);
* g_k >= ceil(P_R * U0 / 100) - B_R - sum_{i rural} d_i,backbone for each county k: the backbone
  teachers its rural schools lack to reach the urban schools' rate before the plan (U0 backbone per
  100 pupils; P_R rural pupils, B_R their backbone teachers; compulsory-education schools).

Objective, lexicographic:

1. min sum_ik w_k P_i s_ik / need_ik: the pupil-weighted shortfall, i.e. pupils times the share of
   their school's requirement that is missing, summed over the needs (weights ``need_weights``);
1b. min sum h_ic: the fewest hires that reach that shortfall (hires staff schools; they are not
   used to free more teachers for rotation);
2. min sum_k g_k: the urban-rural gap in backbone teachers per 100 pupils, linearised as the rural
   schools' shortfall against the urban rate before the plan, counted in teachers (one-sided:
   rural behind urban; a plan does not push rural schools past the urban rate for its own sake);
3. min sum x_ijc (move_weight + minute_weight * t_ij): fewest moves, shortest journeys; plus
   1e-5 per qualified or PE/arts post, so that among as many posts general ones are preferred
   where no need asks for a category.

Each stage keeps what the stages before achieved: every shortfall s_ik and every county's g_k
stay at most their values in the previous stage's plan (column bounds), and the hires at most
their number (1b and 2 are solved as one, with the weights (G + 1) on hires and 1 on the gap,
G a bound on the gap: both are whole numbers, so this orders them exactly). This keeps the
weighted optimum of stage 1 and the optimum of stage 2 exactly, and,
unlike a weighted-sum row with a tolerance, keeps the model nearly a network flow: its LP
relaxation is then usually integral, which is what makes it fast.

Decomposition: moves stay within a county (``same_county``, default), so each county is an
independent model, built as sparse arrays and solved by :func:`allocator.solver.solve_matrix`.
With ``same_county=False`` the blocks are the groups of counties linked by allowed moves. Only
pairs within the travel limit become variables.

Solving: each stage is first solved as an LP (HiGHS). An integral LP optimum is optimal for the
MIP. Otherwise the columns not touching the schools of a fractional column are fixed and the rest
is solved as a small MIP; a plan within ``mip_gap`` of the LP bound is accepted as optimal, and
failing that the stage is solved as a whole MIP from the best plan found.

Infeasibility: the model without quotas always has a solution (nobody moves). If the quotas cannot
be met, an elastic LP finds the most rotations the rules allow, and :class:`~allocator.errors.Infeasible`
says, per county, how many teachers must rotate and how many can, naming the schools and why.

Verification: after each county, with the rounded integer plan: eligibility, quotas, backbone
share, senders at their requirement, hiring quota, allowed pairs and minutes, and (on the whole
plan) conservation of every category and no negative count.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator import metrics
from allocator.errors import Infeasible, InputError, SolverError
from allocator.region import PUPIL_COLUMNS, Region
from allocator.solver import SolveInfo, SolverOptions, solve_matrix
from allocator.standards import Standard, assessment_parts, load_standard, required_staff

__all__ = ["TeacherPolicy", "TeacherPlan", "plan_teachers", "CATEGORIES", "NEEDS"]

#: Disjoint groups of teachers that move (see the module docstring).
CATEGORIES = ("backbone", "qualified", "pe_arts", "general")
#: Requirements of a school: total staff and the three 2017 teacher indicators.
NEEDS = ("staff", "qualified", "backbone", "pe_arts")
_NEED_COLUMN = {
    "staff": "teachers",
    "qualified": "teachers_qualified",
    "backbone": "teachers_backbone",
    "pe_arts": "teachers_pe_arts",
}
_NEED_INDICATOR = {
    "qualified": "qualified_per_100",
    "backbone": "backbone_per_100",
    "pe_arts": "pe_arts_per_100",
}
_AREA_RANK = {"urban": 2, "town": 1, "rural": 0}
# Stages taught, as bits: primary 1, junior 2, senior 4.
_STAGE_BITS = {
    "primary": 1,
    "teaching_point": 1,
    "junior": 2,
    "nine_year": 3,
    "senior": 4,
    "twelve_year": 7,
}
_COMPULSORY = ("primary", "junior", "nine_year", "teaching_point")
_B, _Q, _E, _G = range(4)


# =========================================================================== policy
def _policy_error(message: str, name: str, value: Any) -> InputError:
    return InputError(message, table="policy", column=name, value=value)


@dataclass(frozen=True)
class TeacherPolicy:
    """Rules and weights of a teacher posting and rotation plan (every number overridable).

    Parameters
    ----------
    standard : str or Standard
        Staffing norms and 2017 thresholds: ``"moe2017"`` (default), ``"moe2012"``, a TOML path or
        a :class:`~allocator.standards.Standard`.
    standard_overrides : dict, optional
        Nested overrides of the standard (see :func:`allocator.standards.load_standard`).
    pupils_per_teacher : dict, optional
        Band (``primary``, ``junior``, ``senior``) -> pupils per teacher, replacing the standard's
        ratios (1:19, 1:13.5, 1:12.5 by default).
    class_teacher_ratio : float, optional
        Teachers per class for teaching points and small rural schools, replacing the standard's.
    hiring_quota : int or dict, optional
        New posts: one number for the region (split among counties in proportion to their staffing
        gaps) or ``{county: posts}`` (counties not named get none). None: no limit.
    hiring_budget_yuan : float or dict, optional
        Money for new posts (same shapes); posts = floor(budget / ``cost_per_hire_yuan``). When both
        a quota and a budget are given, the smaller number of posts applies.
    cost_per_hire_yuan : float
        Yearly cost of one new teacher (110,000 yuan, the synthetic data's salary; an assumption).
    hire_categories : list of str
        Categories that can be hired: ``general``, ``qualified``, ``pe_arts`` (not ``backbone``,
        a title earned in service).
    travel_limit_minutes : float, optional
        Longest road journey of a move (60). None: any distance within the county.
    same_county : bool
        Moves only within a county (True).
    same_district : bool
        Moves only within a school district (needs a ``district`` column in the schools table).
    stage_rule : {"certificate", "same", "any"}
        Which schools a teacher may move to by stage taught (primary < junior < senior):
        ``"certificate"`` (default) a school teaching some stage at or below the highest stage of
        the sending school (a higher-stage teacher certificate covers the lower stages);
        ``"same"`` a school teaching a stage in common; ``"any"`` no rule.
    eligible_share : float
        Share of a school's teachers eligible to rotate (6+ years at the school) when the schools
        table has no ``teachers_eligible`` column (0.4; an assumption, not from a primary text).
    direction_rules : bool
        Moves only from urban to town/rural schools, town to rural, and within an area type from
        stronger to weaker schools (high-quality first, then backbone teachers per 100 pupils).
    rotation_share : float, optional
        Least share of eligible teachers of each rotation school that rotate (standard: 0.10).
    backbone_share : float, optional
        Least share of backbone teachers among those who rotate (standard: 0.20).
    backbone_share_scope : {"county", "school"}
        The backbone share holds for the rotations of all rotation schools of a county together
        (default); with ``"school"`` each rotation school also sends at least
        ``ceil(backbone_share * its quota)`` backbone teachers.
    max_rotation_share : float, optional
        Most share of a school's eligible teachers that may rotate in one plan (None: all).
    receiver_headroom_share : float, optional
        A receiving school ends with at most ``ceil((1 + share) * requirement)`` teachers (or no
        more than it had). None: no limit.
    high_quality_quantile : float
        A primary, junior or nine-year school (not a teaching point) is high-quality when its
        backbone teachers per 100 pupils are above 0 and at or above this quantile of its county's
        such schools (0.75: the top quarter), unless the schools table has a ``high_quality``
        column, which then decides.
    rotation_levels : list of str
        School levels bound by the rotation quota (compulsory education).
    term_years : int
        Length of a rotation term in years (3; reported with the plan).
    need_weights : dict
        Weight of each need (``staff``, ``qualified``, ``backbone``, ``pe_arts``) in the shortfall
        objective; 0 leaves a need out.
    move_weight, minute_weight : float
        Stage-3 cost of a move: ``move_weight + minute_weight * minutes`` (1 and 1/60).

    Examples
    --------
    >>> policy = TeacherPolicy(hiring_quota=200, travel_limit_minutes=45)
    >>> policy.rotation_share is None, policy.travel_limit_minutes
    (True, 45)
    >>> import dataclasses
    >>> dataclasses.replace(policy, direction_rules=False).direction_rules
    False
    """

    standard: str | Standard = "moe2017"
    standard_overrides: dict | None = None
    pupils_per_teacher: dict[str, float] | None = None
    class_teacher_ratio: float | None = None
    hiring_quota: int | dict[str, int] | None = None
    hiring_budget_yuan: float | dict[str, float] | None = None
    cost_per_hire_yuan: float = 110_000.0
    hire_categories: list[str] | tuple[str, ...] = ("general", "qualified", "pe_arts")
    travel_limit_minutes: float | None = 60.0
    same_county: bool = True
    same_district: bool = False
    stage_rule: str = "certificate"
    eligible_share: float = 0.4
    direction_rules: bool = True
    rotation_share: float | None = None
    backbone_share: float | None = None
    backbone_share_scope: str = "county"
    max_rotation_share: float | None = None
    receiver_headroom_share: float | None = None
    high_quality_quantile: float = 0.75
    rotation_levels: list[str] | tuple[str, ...] = _COMPULSORY
    term_years: int = 3
    need_weights: dict[str, float] = field(
        default_factory=lambda: {"staff": 1.0, "qualified": 1.0, "backbone": 1.0, "pe_arts": 1.0}
    )
    move_weight: float = 1.0
    minute_weight: float = 1.0 / 60.0

    def __post_init__(self):
        def number(name, low=0.0, high=None, low_open=False, optional=False, integer=False):
            value = getattr(self, name)
            if value is None and optional:
                return
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and (value > low if low_open else value >= low)
            ok = ok and (high is None or value <= high)
            ok = ok and (not integer or float(value).is_integer())
            if not ok:
                rng = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high else "")
                what = "a whole number" if integer else "a number"
                raise _policy_error(f"{name}={value!r}; expected {what} {rng}", name, value)

        def per_county(name):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                for county, v in value.items():
                    if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                        raise _policy_error(
                            f"{name}[{county!r}]={v!r}; expected a number >= 0", name, value
                        )
                object.__setattr__(self, name, dict(value))
            else:
                number(name, optional=True, integer=name == "hiring_quota")

        per_county("hiring_quota")
        per_county("hiring_budget_yuan")
        number("cost_per_hire_yuan", low_open=True)
        number("travel_limit_minutes", optional=True)
        number("eligible_share", high=1.0)
        number("rotation_share", high=1.0, optional=True)
        number("backbone_share", high=1.0, optional=True)
        number("max_rotation_share", high=1.0, optional=True)
        number("receiver_headroom_share", optional=True)
        number("high_quality_quantile", high=1.0)
        number("term_years", low_open=True, integer=True)
        number("class_teacher_ratio", optional=True)
        number("move_weight")
        number("minute_weight")
        for name in ("same_county", "same_district", "direction_rules"):
            if not isinstance(getattr(self, name), bool):
                raise _policy_error(
                    f"{name}={getattr(self, name)!r}; expected true or false",
                    name,
                    getattr(self, name),
                )
        if self.stage_rule not in ("certificate", "same", "any"):
            raise _policy_error(
                f"stage_rule={self.stage_rule!r}; expected 'certificate', 'same' or 'any'",
                "stage_rule",
                self.stage_rule,
            )
        if self.backbone_share_scope not in ("county", "school"):
            raise _policy_error(
                f"backbone_share_scope={self.backbone_share_scope!r}; expected 'county' or 'school'",
                "backbone_share_scope",
                self.backbone_share_scope,
            )
        hires = self.hire_categories
        if isinstance(hires, str) or not all(c in CATEGORIES for c in hires):
            raise _policy_error(
                f"hire_categories={hires!r}; expected a list of {', '.join(CATEGORIES[1:])}",
                "hire_categories",
                hires,
            )
        if "backbone" in hires:
            raise _policy_error(
                "hire_categories includes 'backbone'; backbone is a title earned in service, "
                "expected some of general, qualified, pe_arts",
                "hire_categories",
                hires,
            )
        object.__setattr__(self, "hire_categories", tuple(dict.fromkeys(hires)))
        levels = self.rotation_levels
        if isinstance(levels, str) or not all(isinstance(v, str) for v in levels):
            raise _policy_error(
                f"rotation_levels={levels!r}; expected a list of school levels",
                "rotation_levels",
                levels,
            )
        object.__setattr__(self, "rotation_levels", tuple(levels))
        weights = self.need_weights
        if not isinstance(weights, Mapping) or any(k not in NEEDS for k in weights):
            raise _policy_error(
                f"need_weights={weights!r}; expected a table with keys among {', '.join(NEEDS)}",
                "need_weights",
                weights,
            )
        for k, v in weights.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise _policy_error(
                    f"need_weights[{k!r}]={v!r}; expected a number >= 0", "need_weights", weights
                )
        object.__setattr__(self, "need_weights", {k: float(weights.get(k, 0.0)) for k in NEEDS})
        if self.pupils_per_teacher is not None:
            ppt = self.pupils_per_teacher
            if not isinstance(ppt, Mapping) or any(
                k not in ("primary", "junior", "senior") for k in ppt
            ):
                raise _policy_error(
                    f"pupils_per_teacher={ppt!r}; expected a table with keys among primary, "
                    "junior, senior",
                    "pupils_per_teacher",
                    ppt,
                )
            for k, v in ppt.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                    raise _policy_error(
                        f"pupils_per_teacher[{k!r}]={v!r}; expected a number > 0",
                        "pupils_per_teacher",
                        ppt,
                    )
        if self.travel_limit_minutes is None and not self.same_county:
            raise _policy_error(
                "travel_limit_minutes=None with same_county=false would allow a move between any "
                "two schools of the region; expected a travel limit or same_county=true",
                "travel_limit_minutes",
                None,
            )

    def load_standard(self) -> Standard:
        """The standard with this policy's overrides applied.

        Examples
        --------
        >>> TeacherPolicy(pupils_per_teacher={"junior": 12.0}).load_standard().staffing.pupils_per_teacher["junior"]
        12.0
        """
        overrides: dict = {}
        if self.standard_overrides:
            overrides = {k: v for k, v in self.standard_overrides.items()}
        staffing = dict(overrides.get("staffing", {}) or {})
        if self.pupils_per_teacher:
            staffing["pupils_per_teacher"] = {
                **dict(staffing.get("pupils_per_teacher", {})),
                **{k: float(v) for k, v in self.pupils_per_teacher.items()},
            }
        if self.class_teacher_ratio is not None:
            staffing["class_teacher_ratio"] = float(self.class_teacher_ratio)
        if staffing:
            overrides["staffing"] = staffing
        return load_standard(self.standard, overrides=overrides or None)


# =========================================================================== plan
@dataclass
class TeacherPlan:
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

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name."""
        return {
            "transfers": self.transfers,
            "hires": self.hires,
            "staffing": self.staffing,
            "allocation_r2": self.allocation_r2,
            "backbone_by_area": self.backbone_by_area,
            "counties": self.counties,
            "solves": self.solves,
        }

    # ------------------------------------------------------------------ figures
    def headline(self) -> dict[str, int | float | str]:
        """Key figures as a flat, JSON-safe dict (figures that are undefined are left out).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> plan = plan_teachers(make_region(schools=40, seed=3))
        >>> plan.headline()["hires"] == int(plan.hires["count"].sum())
        True
        """
        st = self.staffing
        tr = self.transfers
        rotated = int(tr["count"].sum())
        backbone = int(tr.loc[tr["category"] == "backbone", "count"].sum())
        out: dict[str, int | float | str] = {
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
        info = self.solve_info
        out["status"] = info.status
        if info.gap is not None:
            out["gap"] = float(info.gap)
        out["seconds"] = round(float(info.seconds), 3)
        return out

    def summary(self) -> str:
        """A short text a planner can read in half a minute."""
        h = self.headline()
        p = self.policy
        limit = (
            f"within {p.travel_limit_minutes:g} min"
            if p.travel_limit_minutes is not None
            else "any distance"
        )
        rules = [limit, "same county" if p.same_county else "across counties"]
        if p.same_district:
            rules.append("same district")
        rules.append("direction rules on" if p.direction_rules else "direction rules off")
        lines = [
            f"Teacher plan for {self.region_name or 'the region'}: {h['schools']:,} schools in "
            f"{h['counties']} counties ({self.standard.name}; moves {', '.join(rules)}; "
            f"term {p.term_years} years).",
        ]
        by_cat = self.hires.groupby("category")["count"].sum()
        cats = ", ".join(f"{c} {int(v):,}" for c, v in by_cat.items() if v)
        lines.append(f"Hires: {h['hires']:,}" + (f" ({cats})" if cats else "") + ".")
        if h["rotated_teachers"]:
            lines.append(
                f"Rotations: {h['rotated_teachers']:,} teachers in {h['moves']:,} moves, backbone "
                f"{h['backbone_rotated']:,} ({h['backbone_share_of_rotations']:.0%}), mean "
                f"{h['mean_move_minutes']:.0f} min; {h['rotation_schools']:,} urban/high-quality "
                f"schools had to rotate at least {h['rotation_required']:,}."
            )
        else:
            lines.append("Rotations: none.")
        parts = ", ".join(
            f"{n} {h[f'{n}_shortfall_before']:,} -> {h[f'{n}_shortfall_after']:,}" for n in NEEDS
        )
        lines.append(f"Teachers short of the norms: {parts}.")
        area = []
        for a in ("urban", "town", "rural"):
            if f"backbone_per_100_{a}_before" in h:
                area.append(
                    f"{a} {h[f'backbone_per_100_{a}_before']:.2f} -> "
                    f"{h[f'backbone_per_100_{a}_after']:.2f}"
                )
        if area:
            line = f"Backbone teachers per 100 pupils: {', '.join(area)}"
            if "backbone_share_rural_before" in h:
                line += (
                    f" (rural share of backbone {h['backbone_share_rural_before']:.1%} -> "
                    f"{h['backbone_share_rural_after']:.1%})"
                )
            lines.append(line + ".")
        if "r2_median_before" in h:
            lines.append(
                f"Teacher-allocation R² (median over county x level): {h['r2_median_before']:.3f} "
                f"-> {h['r2_median_after']:.3f}."
            )
        lines.append(f"Solve: {self.solve_info.describe()}, {len(self.solves)} solves.")
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region after the plan: teachers moved and hired (a new, validated Region).

        Updates ``teachers``, ``teachers_qualified``, ``teachers_backbone``, ``teachers_pe_arts``,
        ``teachers_eligible`` when present (rotating teachers leave the eligible count of their home
        school) and ``annual_cost`` (plus ``cost_per_hire_yuan`` per hire).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_teachers(region)
        >>> after = plan.apply(region)
        >>> int(after.schools["teachers"].sum() - region.schools["teachers"].sum()) == plan.headline()["hires"]
        True
        """
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


# =========================================================================== data
@dataclass
class _Data:
    """Per-school arrays of the whole region (index = row of region.schools)."""

    ids: np.ndarray
    county: np.ndarray
    area: np.ndarray
    level: np.ndarray
    node: np.ndarray
    district: np.ndarray | None
    pupils: np.ndarray  # P_i, all bands
    current: np.ndarray  # (n, 4) T, Q, B, E in NEEDS order
    need: np.ndarray  # (n, 4) r_i and category needs, NEEDS order
    movable: np.ndarray  # (n, 4) heads by CATEGORIES
    elig: np.ndarray  # (n, 4) eligible heads by category
    eligible: np.ndarray  # e_i from the data
    out_cap: np.ndarray  # most rotating out
    quota: np.ndarray  # q_i (0 if not a rotation school)
    rotation_school: np.ndarray
    high_quality: np.ndarray
    compulsory: np.ndarray
    stage_bits: np.ndarray
    area_rank: np.ndarray
    bb100: np.ndarray
    weight: np.ndarray  # (n, 4) stage-1 objective weight of a head short in each need


def _split_heads(T, Q, B, E):
    """Disjoint movable groups (backbone, qualified, pe_arts, general) and locked heads.

    Examples
    --------
    >>> m, locked = _split_heads(np.array([10, 5]), np.array([4, 4]), np.array([2, 5]),
    ...                          np.array([3, 2]))
    >>> m.tolist(), locked.tolist()
    ([[2, 2, 3, 3], [2, 0, 0, 0]], [0, 3])
    """
    T, Q, B, E = (np.asarray(v, dtype=np.int64) for v in (T, Q, B, E))
    bq = np.minimum(B, Q)
    q = Q - bq
    rest = T - np.maximum(B, Q)
    e = np.minimum(E, rest)
    extra_e = E - e  # PE/arts heads that must overlap qualified or backbone heads
    eq = np.minimum(extra_e, q)
    eb = np.minimum(extra_e - eq, bq)
    movable = np.stack([bq - eb, q - eq, e, rest - e], axis=1)
    locked = T - movable.sum(axis=1)
    return movable, locked


def _whole_column(schools: pd.DataFrame, column: str, upper: np.ndarray | None = None):
    raw = schools[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if upper is not None:
        bad |= values > upper
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        expected = "a whole number >= 0" + (" and <= teachers" if upper is not None else "")
        raise InputError(
            f"value {raw.iloc[pos]!r}; expected {expected}",
            table="schools",
            row_id=schools["school_id"].iloc[pos],
            row=pos,
            column=column,
            value=raw.iloc[pos],
        )
    return values.astype(np.int64)


def _category_needs(schools: pd.DataFrame, standard: Standard) -> np.ndarray:
    """(n, 3) heads needed for qualified, backbone, PE/arts so that every assessed part passes."""
    n = len(schools)
    out = np.zeros((n, 3), dtype=np.int64)
    parts = assessment_parts(schools, standard)
    if parts.empty:
        return out
    parts = parts[parts["in_scope"].to_numpy(bool) & (parts["share"].to_numpy(float) > 0)]
    pos = pd.Index(schools["school_id"]).get_indexer(parts["school_id"])
    for k, need in enumerate(("qualified", "backbone", "pe_arts")):
        indicator = _NEED_INDICATOR[need]
        thr = np.array(
            [standard.thresholds.get(p, {}).get(indicator, 0.0) for p in parts["part"]], float
        )
        heads = thr / 100.0 * parts["pupils"].to_numpy(float) / parts["share"].to_numpy(float)
        heads = np.ceil(np.round(heads, 9)).astype(np.int64)
        np.maximum.at(out[:, k], pos, heads)
    return out


def _prepare(region: Region, policy: TeacherPolicy, standard: Standard) -> _Data:
    s = region.schools
    n = len(s)
    T = s["teachers"].to_numpy(np.int64)
    Q = s["teachers_qualified"].to_numpy(np.int64)
    B = s["teachers_backbone"].to_numpy(np.int64)
    E = s["teachers_pe_arts"].to_numpy(np.int64)
    pupils = s[list(PUPIL_COLUMNS)].to_numpy(np.int64).sum(axis=1)
    level = s["level"].to_numpy(str).astype(object)
    area = s["area_type"].to_numpy(str).astype(object)
    county = s["county"].to_numpy(str).astype(object)
    req = required_staff(s, standard).to_numpy(np.int64)
    need = np.column_stack([req, _category_needs(s, standard)])
    current = np.column_stack([T, Q, B, E])
    movable, _ = _split_heads(T, Q, B, E)

    if "teachers_eligible" in s.columns:
        eligible = _whole_column(s, "teachers_eligible", upper=T)
    else:
        eligible = np.floor(policy.eligible_share * T + 1e-9).astype(np.int64)
    share = np.divide(eligible, T, out=np.zeros(n), where=T > 0)
    elig = np.minimum(movable, np.ceil(np.round(share[:, None] * movable, 9)).astype(np.int64))
    out_cap = np.minimum(eligible, elig.sum(axis=1))
    if policy.max_rotation_share is not None:
        out_cap = np.minimum(out_cap, np.floor(policy.max_rotation_share * eligible + 1e-9))
    out_cap = out_cap.astype(np.int64)

    stage_bits = np.array([_STAGE_BITS.get(v, 0) for v in level], dtype=np.int64)
    compulsory = (stage_bits & 3) > 0
    bb100 = np.divide(100.0 * B, pupils, out=np.zeros(n), where=pupils > 0)
    if "high_quality" in s.columns:
        raw = s["high_quality"]
        if raw.dtype == bool:
            hq = raw.to_numpy(bool)
        else:
            values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
            if not np.isin(values, (0.0, 1.0)).all():
                pos = int(np.flatnonzero(~np.isin(values, (0.0, 1.0)))[0])
                raise InputError(
                    f"value {raw.iloc[pos]!r}; expected true/false or 1/0",
                    table="schools",
                    row_id=s["school_id"].iloc[pos],
                    row=pos,
                    column="high_quality",
                    value=raw.iloc[pos],
                )
            hq = values == 1.0
    else:
        hq = np.zeros(n, dtype=bool)
        for c in dict.fromkeys(county):
            members = np.flatnonzero(
                (county == c) & compulsory & (level != "teaching_point") & (pupils > 0)
            )
            if len(members):
                cut = np.quantile(bb100[members], policy.high_quality_quantile)
                hq[members] = (bb100[members] >= cut - 1e-12) & (bb100[members] > 0)
    rotation_share = (
        standard.rotation.share if policy.rotation_share is None else policy.rotation_share
    )
    rotation_school = (
        np.isin(level, list(policy.rotation_levels)) & ((area == "urban") | hq) & (eligible > 0)
    )
    quota = np.where(rotation_school, np.ceil(np.round(rotation_share * eligible, 9)), 0).astype(
        np.int64
    )
    rotation_school &= quota > 0

    weights = np.array([policy.need_weights[k] for k in NEEDS])
    weight = np.divide(
        pupils[:, None] * weights[None, :],
        need,
        out=np.zeros((n, 4)),
        where=need > 0,
    )
    district = None
    if policy.same_district:
        if "district" not in s.columns:
            raise InputError(
                "policy.same_district is true but the schools table has no 'district' column; "
                "expected a district per school (or same_district=false)",
                table="schools",
                column="district",
            )
        if s["district"].isna().any():
            pos = int(np.flatnonzero(s["district"].isna().to_numpy())[0])
            raise InputError(
                "empty district; expected a district per school",
                table="schools",
                row_id=s["school_id"].iloc[pos],
                row=pos,
                column="district",
            )
        district = s["district"].astype(str).to_numpy().astype(object)
    return _Data(
        ids=s["school_id"].to_numpy(str).astype(object),
        county=county,
        area=area,
        level=level,
        node=s["node"].to_numpy(str).astype(object),
        district=district,
        pupils=pupils,
        current=current,
        need=need,
        movable=movable,
        elig=elig,
        eligible=eligible,
        out_cap=out_cap,
        quota=quota,
        rotation_school=rotation_school,
        high_quality=hq,
        compulsory=compulsory,
        stage_bits=stage_bits,
        area_rank=np.array([_AREA_RANK[a] for a in area], dtype=np.int64),
        bb100=bb100,
        weight=weight,
    )


def _hire_need(d: _Data) -> np.ndarray:
    """Hires that could be useful at each school: the larger of the staff gap and the hireable
    category gaps together."""
    gap = np.maximum(d.need - d.current, 0)
    return np.maximum(gap[:, 0], gap[:, 1] + gap[:, 3])


def _county_caps(policy: TeacherPolicy, d: _Data, counties: list[str]) -> dict[str, float]:
    """Hiring posts per county (inf = no limit)."""
    need = pd.Series(_hire_need(d)).groupby(d.county).sum().reindex(counties).fillna(0)
    caps = {c: math.inf for c in counties}

    def split(total: float) -> dict[str, float]:
        total = int(total)
        if len(counties) == 1:
            return {counties[0]: total}
        weights = need.to_numpy(float)
        if weights.sum() <= 0:
            weights = np.ones(len(counties))
        exact = total * weights / weights.sum()
        base = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - base), kind="stable")
        base[order[: total - int(base.sum())]] += 1
        return dict(zip(counties, base.astype(float), strict=True))

    def per_county(value, name, to_posts):
        if value is None:
            return None
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in counties]
            if unknown:
                raise InputError(
                    f"{name} names unknown county {unknown[0]!r}; expected some of "
                    f"{', '.join(counties)}",
                    table="policy",
                    column=name,
                    value=unknown[0],
                )
            return {c: float(to_posts(value.get(c, 0))) for c in counties}
        return split(to_posts(value))

    quota = per_county(policy.hiring_quota, "hiring_quota", lambda v: int(v))
    budget = per_county(
        policy.hiring_budget_yuan,
        "hiring_budget_yuan",
        lambda v: math.floor(float(v) / policy.cost_per_hire_yuan + 1e-9),
    )
    for part in (quota, budget):
        if part is not None:
            caps = {c: min(caps[c], part[c]) for c in counties}
    return caps


# =========================================================================== pairs and blocks
def _allowed(d: _Data, pi: np.ndarray, pj: np.ndarray, policy: TeacherPolicy) -> np.ndarray:
    keep = (pi != pj) & (d.out_cap[pi] > 0)
    if policy.same_county:
        keep &= d.county[pi] == d.county[pj]
    if policy.stage_rule == "same":
        keep &= (d.stage_bits[pi] & d.stage_bits[pj]) > 0
    elif policy.stage_rule == "certificate":
        highest = _highest_bit(d.stage_bits[pi])
        lowest = d.stage_bits[pj] & -d.stage_bits[pj]
        keep &= (lowest > 0) & (lowest <= highest)
    if d.district is not None:
        keep &= d.district[pi] == d.district[pj]
    if policy.direction_rules:
        ri, rj = d.area_rank[pi], d.area_rank[pj]
        hi, hj = d.high_quality[pi], d.high_quality[pj]
        bi, bj = d.bb100[pi], d.bb100[pj]
        stronger = (ri > rj) | ((ri == rj) & ((hi & ~hj) | ((hi == hj) & (bi > bj + 1e-12))))
        keep &= stronger
    return keep


def _highest_bit(bits: np.ndarray) -> np.ndarray:
    out = np.zeros_like(bits)
    for b in (1, 2, 4):
        out = np.where(bits & b, b, out)
    return out


def _pairs_from_matrix(m: sp.spmatrix, rows: np.ndarray, cols: np.ndarray):
    coo = m.tocoo()
    return rows[coo.row], cols[coo.col], coo.data.astype(float)


def _blocks(region: Region, d: _Data, policy: TeacherPolicy):
    """Yield (label, school indices, pair arrays) per independent block."""
    counties = list(dict.fromkeys(d.county))
    if policy.same_county:
        for c in counties:
            idx = np.flatnonzero(d.county == c)
            m = region.travel_minutes(d.node[idx], d.node[idx], cutoff=policy.travel_limit_minutes)
            pi, pj, pm = _pairs_from_matrix(m, idx, idx)
            keep = _allowed(d, pi, pj, policy)
            yield c, [c], idx, (pi[keep], pj[keep], pm[keep])
        return
    everyone = np.arange(len(d.ids))
    m = region.travel_minutes(d.node, d.node, cutoff=policy.travel_limit_minutes)
    pi, pj, pm = _pairs_from_matrix(m, everyone, everyone)
    keep = _allowed(d, pi, pj, policy)
    pi, pj, pm = pi[keep], pj[keep], pm[keep]
    code = {c: k for k, c in enumerate(counties)}
    ci = np.array([code[c] for c in d.county], dtype=np.int64)
    link = sp.coo_matrix((np.ones(len(pi)), (ci[pi], ci[pj])), shape=(len(counties), len(counties)))
    ncomp, label = sp.csgraph.connected_components(link, directed=False)
    for k in range(ncomp):
        members = [c for c, lab in zip(counties, label, strict=True) if lab == k]
        idx = np.flatnonzero(np.isin(d.county, members))
        inside = np.isin(ci[pi], [code[c] for c in members])
        name = members[0] if len(members) == 1 else f"{members[0]} +{len(members) - 1}"
        yield name, members, idx, (pi[inside], pj[inside], pm[inside])


# =========================================================================== block model
@dataclass
class _Model:
    """One block's model as arrays. Columns: moves x | hires h | out flows | in flows | shortfall
    s | gap g. out_ic = sum_j x_ijc and in_jc = sum_i x_ijc are columns of their own, defined by
    equality rows, so that a move column has 2 nonzeros instead of one per constraint it touches
    (the LP is then a transportation problem with side constraints on the aggregate flows)."""

    n: int
    nx: int
    nh: int
    ns: int
    ng: int
    s0: int
    g0: int
    xi: np.ndarray  # local sender
    xj: np.ndarray  # local receiver
    xc: np.ndarray
    xm: np.ndarray
    hi: np.ndarray
    hc: np.ndarray
    out_cols: np.ndarray  # column of out_ic at flat index c * n + i (-1: none)
    in_cols: np.ndarray  # column of in_jc at flat index c * n + j (-1: none)
    si: np.ndarray
    sk: np.ndarray
    A: sp.csr_matrix
    rl: np.ndarray
    ru: np.ndarray
    cl: np.ndarray
    cu: np.ndarray
    integ: np.ndarray
    groups: list
    c_short: np.ndarray
    c_gap: np.ndarray
    c_move: np.ndarray
    hire_cols: np.ndarray
    quota_rows: np.ndarray  # row index of each school's total-out row (-1: none)
    has_out: np.ndarray  # school has outgoing move columns
    share_rows: np.ndarray  # rows of the backbone-share constraints
    share_county: list  # county (or school id) of each backbone-share row
    s_rows: np.ndarray  # the row defining each shortfall column
    g_rows: np.ndarray  # the row defining each gap column
    gap_bound: float  # the sum of the gap columns cannot exceed this


def _build(d: _Data, idx: np.ndarray, pairs, counties: list[str], caps, policy, standard):
    n = len(idx)
    local = np.full(len(d.ids), -1, dtype=np.int64)
    local[idx] = np.arange(n)
    gi, gj, gm = pairs
    li, lj = local[gi], local[gj]
    elig = d.elig[idx]
    xi, xj, xc, xm = [], [], [], []
    for c in range(4):
        keep = elig[li, c] > 0
        xi.append(li[keep])
        xj.append(lj[keep])
        xc.append(np.full(int(keep.sum()), c, dtype=np.int64))
        xm.append(gm[keep])
    xi, xj, xc, xm = (np.concatenate(v) for v in (xi, xj, xc, xm))
    nx = len(xi)

    county = d.county[idx]
    hire_cats = np.array([CATEGORIES.index(c) for c in policy.hire_categories], dtype=np.int64)
    hirable = np.array([caps[c] > 0 for c in county], dtype=bool)
    h_school = np.flatnonzero(hirable)
    hi = np.repeat(h_school, len(hire_cats))
    hc = np.tile(hire_cats, len(h_school))
    nh = len(hi)

    # aggregate flows: one column per (school, category) that sends / receives
    out_flat = np.unique(xc * n + xi)
    in_flat = np.unique(xc * n + xj)
    no, ni = len(out_flat), len(in_flat)
    h0, o0 = nx, nx + nh
    i0 = o0 + no
    out_cols = np.full(4 * n, -1, dtype=np.int64)
    out_cols[out_flat] = o0 + np.arange(no)
    in_cols = np.full(4 * n, -1, dtype=np.int64)
    in_cols[in_flat] = i0 + np.arange(ni)

    # heads each school can lose at most, per need and in all (0 if it sends nobody)
    out_cat = np.zeros((n, 4), dtype=np.int64)
    oi, oc = out_flat % n, out_flat // n
    out_cat[oi, oc] = elig[oi, oc]
    has_out = out_cat.sum(axis=1) > 0
    cap = d.out_cap[idx]
    loss = np.minimum(
        cap[:, None],
        np.column_stack(
            [out_cat.sum(axis=1), out_cat[:, _B] + out_cat[:, _Q], out_cat[:, _B], out_cat[:, _E]]
        ),
    )
    need = d.need[idx]
    cur = d.current[idx]
    weight = d.weight[idx]
    # a shortfall column only where the school can be short after the plan
    si, sk = np.nonzero((need > cur - loss) & (weight > 0))
    ns = len(si)

    compulsory = d.compulsory[idx]
    pupils = d.pupils[idx].astype(float)
    area = d.area[idx]
    gap_counties = []
    for c in counties:
        in_c = (county == c) & compulsory
        pu = pupils[in_c & (area == "urban")].sum()
        pr = pupils[in_c & (area == "rural")].sum()
        if pu > 0 and pr > 0:
            gap_counties.append((c, pu, pr))
    ng = len(gap_counties)
    s0 = i0 + ni
    g0 = s0 + ns
    ncol = g0 + ng

    def rows_of(entries_row, entries_col, entries_val, nrows):
        return sp.csr_matrix((entries_val, (entries_row, entries_col)), shape=(nrows, ncol))

    # per (school, category): out column, in column, hire column (flat index c * n + i)
    def flow_rows(sign_out, sign_in, sign_hire, cats, schools):
        """Rows (one per school) summing the school's flows of the given categories."""
        r, c_, v = [], [], []
        pos = {int(i): k for k, i in enumerate(schools)}
        for cat in cats:
            flat = cat * n + schools
            for cols, sign in ((out_cols[flat], sign_out), (in_cols[flat], sign_in)):
                keep = cols >= 0
                r.append(np.flatnonzero(keep))
                c_.append(cols[keep])
                v.append(np.full(int(keep.sum()), sign, dtype=float))
        if nh and sign_hire:
            hmask = np.isin(hc, cats) & np.isin(hi, schools)
            r.append(np.array([pos[int(i)] for i in hi[hmask]], dtype=np.int64))
            c_.append(h0 + np.flatnonzero(hmask))
            v.append(np.full(int(hmask.sum()), sign_hire, dtype=float))
        return rows_of(np.concatenate(r), np.concatenate(c_), np.concatenate(v), len(schools))

    blocks, rl, ru, groups = [], [], [], []

    def add(matrix, lower, upper, group):
        matrix = sp.csr_matrix(matrix)
        if matrix.shape[0] == 0:
            return
        blocks.append(matrix)
        rl.append(np.broadcast_to(np.asarray(lower, float), (matrix.shape[0],)))
        ru.append(np.broadcast_to(np.asarray(upper, float), (matrix.shape[0],)))
        groups.extend(group if isinstance(group, list) else [group] * matrix.shape[0])

    def rows_so_far():
        return sum(b.shape[0] for b in blocks)

    # flow definitions: out_ic - sum_j x_ijc = 0 and in_jc - sum_i x_ijc = 0
    xcols = np.arange(nx)
    out_pos = np.searchsorted(out_flat, xc * n + xi)
    in_pos = np.searchsorted(in_flat, xc * n + xj)
    add(
        rows_of(
            np.concatenate([out_pos, np.arange(no)]),
            np.concatenate([xcols, o0 + np.arange(no)]),
            np.concatenate([-np.ones(nx), np.ones(no)]),
            no,
        ),
        0.0,
        0.0,
        "flow",
    )
    add(
        rows_of(
            np.concatenate([in_pos, np.arange(ni)]),
            np.concatenate([xcols, i0 + np.arange(ni)]),
            np.concatenate([-np.ones(nx), np.ones(ni)]),
            ni,
        ),
        0.0,
        0.0,
        "flow",
    )
    all_cats = np.arange(4)
    # total out of each sender: the quota, and the cap where the category caps do not bound it
    quota = d.quota[idx]
    senders = np.flatnonzero(has_out)
    total_rows = senders[(quota[senders] > 0) | (cap[senders] < out_cat[senders].sum(axis=1))]
    quota_rows = np.full(n, -1, dtype=np.int64)
    quota_rows[total_rows] = rows_so_far() + np.arange(len(total_rows))
    add(
        flow_rows(1.0, 0.0, 0.0, all_cats, total_rows),
        quota[total_rows],
        cap[total_rows],
        ["rotation_quota" if q > 0 else "eligible" for q in quota[total_rows]],
    )
    # senders keep their requirement (or where they started, if below), where they could not
    T = cur[:, 0]
    req = need[:, 0]
    keep = senders[T[senders] - loss[senders, 0] < np.minimum(req, T)[senders]]
    add(
        flow_rows(-1.0, 1.0, 1.0, all_cats, keep),
        np.minimum(req, T)[keep] - T[keep],
        np.inf,
        "sender_requirement",
    )
    if policy.receiver_headroom_share is not None:
        receivers = np.unique(xj)
        top = np.maximum(T, np.ceil(np.round((1 + policy.receiver_headroom_share) * req, 9)))
        add(
            flow_rows(-1.0, 1.0, 1.0, all_cats, receivers),
            -np.inf,
            (top - T)[receivers],
            "receiver_headroom",
        )
    # shortfall definitions: s_ik + net_k(i) >= need_ik - current_ik
    counts_for = {0: all_cats, 1: np.array([_B, _Q]), 2: np.array([_B]), 3: np.array([_E])}
    s_rows = np.zeros(ns, dtype=np.int64)
    g_rows = np.zeros(ng, dtype=np.int64)
    for k in range(4):
        rows = np.flatnonzero(sk == k)
        if len(rows) == 0:
            continue
        schools = si[rows]
        m = flow_rows(-1.0, 1.0, 1.0, counts_for[k], schools) + rows_of(
            np.arange(len(rows)), s0 + rows, np.ones(len(rows)), len(rows)
        )
        s_rows[rows] = rows_so_far() + np.arange(len(rows))
        add(m, need[schools, k] - cur[schools, k], np.inf, "shortfall")
    # backbone share among rotations of rotation schools
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    rot = d.rotation_school[idx]
    share_rows, share_label = [], []
    if beta > 0:
        for c in counties:
            members = np.flatnonzero(rot & (county == c) & has_out)
            if len(members) == 0:
                continue
            row = flow_rows(1.0, 0.0, 0.0, np.array([_B]), members).sum(axis=0) - beta * (
                flow_rows(1.0, 0.0, 0.0, all_cats, members).sum(axis=0)
            )
            share_rows.append(rows_so_far())
            share_label.append(c)
            add(sp.csr_matrix(row), 0.0, np.inf, "backbone_share")
        if policy.backbone_share_scope == "school":
            members = np.flatnonzero(rot & has_out)
            least = np.ceil(np.round(beta * quota[members], 9))
            share_rows.extend(rows_so_far() + np.arange(len(members)))
            share_label.extend(d.ids[idx][members])
            add(flow_rows(1.0, 0.0, 0.0, np.array([_B]), members), least, np.inf, "backbone_share")
    # hiring quota per county
    for c in counties:
        if math.isfinite(caps[c]) and caps[c] > 0:
            cols = h0 + np.flatnonzero(county[hi] == c)
            if len(cols):
                m = rows_of(np.zeros(len(cols), dtype=np.int64), cols, np.ones(len(cols)), 1)
                add(m, -np.inf, caps[c], "hiring_quota")
    # urban-rural gap: g_k + net backbone into rural schools >= ceil(P_R * U0 / 100) - B_R
    B_now = cur[:, 2].astype(float)
    gap_bound = 0.0
    for k, (c, pu, pr) in enumerate(gap_counties):
        in_c = (county == c) & compulsory
        urban = np.flatnonzero(in_c & (area == "urban"))
        rural = np.flatnonzero(in_c & (area == "rural"))
        row = sp.csr_matrix(flow_rows(-1.0, 1.0, 0.0, np.array([_B]), rural).sum(axis=0)) + rows_of(
            [0], [g0 + k], [1.0], 1
        )
        target = math.ceil(round(pr * B_now[urban].sum() / pu, 9))
        g_rows[k] = rows_so_far()
        add(row, target - B_now[rural].sum(), np.inf, "gap")
        # g_k is at most what rural schools lack now plus the backbone teachers they can send
        gap_bound += max(0.0, target - B_now[rural].sum()) + float(elig[rural, _B].sum())
    A = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, ncol))
    cl = np.zeros(ncol)
    cu = np.full(ncol, np.inf)
    cu[:nx] = elig[xi, xc]
    if nh:
        cu[h0 : h0 + nh] = [caps[c] for c in county[hi]]
    cu[o0 : o0 + no] = elig[oi, oc]  # only eligible teachers of each category rotate
    integ = np.zeros(ncol, dtype=bool)
    integ[: nx + nh] = True
    c_short = np.zeros(ncol)
    c_short[s0 : s0 + ns] = weight[si, sk]
    c_gap = np.zeros(ncol)
    c_gap[g0:] = 1.0
    c_move = np.zeros(ncol)
    c_move[:nx] = policy.move_weight + policy.minute_weight * xm
    c_move[h0 : h0 + nh] = 1e-5 * (hc != _G)  # keep general posts preferred (see stage 1b)
    hire_cols = np.zeros(ncol)
    hire_cols[h0 : h0 + nh] = 1.0
    return _Model(
        n=n,
        nx=nx,
        nh=nh,
        ns=ns,
        ng=ng,
        s0=s0,
        g0=g0,
        xi=xi,
        xj=xj,
        xc=xc,
        xm=xm,
        hi=hi,
        hc=hc,
        out_cols=out_cols,
        in_cols=in_cols,
        si=si,
        sk=sk,
        A=A,
        rl=np.concatenate(rl) if rl else np.zeros(0),
        ru=np.concatenate(ru) if ru else np.zeros(0),
        cl=cl,
        cu=cu,
        integ=integ,
        groups=groups,
        c_short=c_short,
        c_gap=c_gap,
        c_move=c_move,
        hire_cols=hire_cols,
        quota_rows=quota_rows,
        has_out=has_out,
        share_rows=np.array(share_rows, dtype=np.int64),
        share_county=share_label,
        s_rows=s_rows,
        g_rows=g_rows,
        gap_bound=gap_bound,
    )


def _solve_block(model: _Model, options: SolverOptions, record):
    """Solve the lexicographic stages; return the final column values (integers rounded).

    Stages 1b (hires) and 2 (gap) are solved together: both objectives are whole numbers in an
    integer plan, so ``(G + 1) * hires + gap``, with G an upper bound on the gap, orders them
    exactly, and saves a solve per county.
    """
    A, rl, ru, groups = model.A, model.rl, model.ru, list(model.groups)
    cl, cu = model.cl, model.cu.copy()
    x = None

    def run(stage, c, integral=False):
        nonlocal x
        x, info, method = _solve_stage(
            model, c, A, rl, ru, cl, cu, groups, options, x, integral=integral
        )
        record(stage, info, method)

    s0, g0 = model.s0, model.g0
    run("shortfall", model.c_short)
    cu[s0 : s0 + model.ns] = x[s0 : s0 + model.ns]  # keep every school's shortfall
    hires = float(model.hire_cols @ x) if model.nh else 0.0
    if hires > 0.5 or model.ng:
        c = model.c_gap + (model.gap_bound + 1.0) * model.hire_cols
        run("hires+gap" if hires > 0.5 else "gap", c, integral=True)
        cu[g0 : g0 + model.ng] = x[g0 : g0 + model.ng]  # keep every county's gap
    if model.nh:
        hires = round(float(model.hire_cols @ x))
        A = sp.vstack([A, sp.csr_matrix(model.hire_cols[None, :])], format="csr")
        rl, ru = np.append(rl, -np.inf), np.append(ru, hires)
        groups.append("fixed_hires")
    if model.nx or model.nh:
        run("moves", model.c_move)
    if x is None:  # nothing to decide
        x = _complete(model, np.zeros(A.shape[1]))
    return x


def _complete(model: _Model, x):
    """Round the move and hire columns; give flow, shortfall and gap columns their values."""
    x = np.array(x, dtype=float)
    n, nx, k = model.n, model.nx, model.nx + model.nh
    x[:k] = np.round(x[:k])
    x[k:] = 0.0
    for cols, school in ((model.out_cols, model.xi), (model.in_cols, model.xj)):
        flow = np.zeros(4 * n)
        np.add.at(flow, model.xc * n + school, x[:nx])
        have = cols >= 0
        x[cols[have]] = flow[have]
    r = model.A @ x
    s0, g0 = model.s0, model.g0
    x[s0 : s0 + model.ns] = np.maximum(0.0, model.rl[model.s_rows] - r[model.s_rows])
    x[g0 : g0 + model.ng] = np.maximum(0.0, model.rl[model.g_rows] - r[model.g_rows])
    return x


def _feasible(A, rl, ru, cl, cu, x) -> bool:
    if (x < cl - 1e-9).any() or (x > cu + 1e-9).any():
        return False
    r = A @ x
    return bool(
        (r >= rl - 1e-6 * (1 + np.abs(rl))).all() and (r <= ru + 1e-6 * (1 + np.abs(ru))).all()
    )


def _solve_stage(model, c, A, rl, ru, cl, cu, groups, options, previous, integral=False):
    """One stage of the MIP, solved through its LP relaxation where possible.

    The model is nearly a network flow, so the LP optimum is usually integral or has a few
    fractional columns. Then every column not touching a school of a fractional column is fixed
    at its LP value and the rest is solved as a small MIP. A result is accepted as optimal when it
    is feasible and within ``mip_gap`` of the LP bound; otherwise the whole stage is solved as a
    MIP, started from the best plan found. With ``integral`` (an objective that is a whole
    number in every integer plan) a plan is optimal exactly when it reaches the LP bound rounded
    up, and the MIP is asked to prove that.
    """
    lp = solve_matrix(c, A, rl, ru, cl, cu, None, options=options, row_groups=groups)
    bound = float(c @ lp.x)
    seconds = lp.info.seconds
    k = model.nx + model.nh
    frac = np.abs(lp.x[:k] - np.round(lp.x[:k])) > 1e-6
    candidates = [("lp", lp.x)]
    if frac.any():
        schools = np.zeros(model.n, dtype=bool)
        fx = np.flatnonzero(frac[: model.nx])
        schools[model.xi[fx]] = schools[model.xj[fx]] = True
        schools[model.hi[np.flatnonzero(frac[model.nx :])]] = True
        free = np.zeros(len(c), dtype=bool)
        free[: model.nx] = schools[model.xi] | schools[model.xj]
        free[model.nx : k] = schools[model.hi]
        free[k:] = True
        sub_l, sub_u = cl.copy(), cu.copy()
        sub_l[~free] = sub_u[~free] = np.round(lp.x[~free])
        try:
            sub = solve_matrix(c, A, rl, ru, sub_l, sub_u, model.integ, options=options)
            seconds += sub.info.seconds
            candidates = [("lp+local", sub.x)]
        except (Infeasible, SolverError):
            pass
    best = None
    for method, values in candidates:
        x = _complete(model, values)
        if not _feasible(A, rl, ru, cl, cu, x):
            continue
        objective = float(c @ x)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1.0)
        proven = objective < bound + 1.0 - 1e-6 if integral else gap <= options.mip_gap
        if proven:
            gap = 0.0 if integral else gap
            return x, SolveInfo("optimal", objective, bound, gap, seconds, lp.info.solver), method
        best = x
    if best is None and previous is not None and _feasible(A, rl, ru, cl, cu, previous):
        best = previous
    mip_options = dataclasses.replace(options, mip_gap=0.0) if integral else options
    mip = solve_matrix(
        c, A, rl, ru, cl, cu, model.integ, options=mip_options, row_groups=groups, start=best
    )
    x = _complete(model, mip.x)
    if not _feasible(A, rl, ru, cl, cu, x):
        raise SolverError("the solver's plan breaks the model after rounding teacher counts")
    info = dataclasses.replace(mip.info, seconds=mip.info.seconds + seconds)
    return x, info, "mip"


def _diagnose(d, idx, model, counties, policy, standard) -> Infeasible:
    """Elastic LP: the most rotations the rules allow; an Infeasible naming the numbers."""
    A = model.A.tocsr()
    m = A.shape[0]
    rows = model.quota_rows[model.quota_rows >= 0]
    quota_rows = rows[[g == "rotation_quota" for g in np.asarray(model.groups)[rows]]]
    elastic_rows = np.concatenate([quota_rows, model.share_rows]).astype(np.int64)
    k = len(elastic_rows)
    E = sp.csr_matrix((np.ones(k), (elastic_rows, np.arange(k))), shape=(m, k))
    A2 = sp.hstack([A, E], format="csc")
    ncol = A.shape[1]
    c = np.concatenate([np.zeros(ncol), np.ones(k)])
    cl = np.concatenate([model.cl, np.zeros(k)])
    cu = np.concatenate([model.cu, np.full(k, np.inf)])
    sol = solve_matrix(c, A2, model.rl, model.ru, cl, cu, None)
    slack = sol.x[ncol:]
    short_q = slack[: len(quota_rows)]
    short_b = slack[len(quota_rows) :]
    # map quota rows back to schools
    row_school = {int(r): i for i, r in enumerate(model.quota_rows) if r >= 0}
    g_idx = idx
    quota = d.quota[idx]
    violations: dict[str, float] = {}
    messages = []
    county = d.county[idx]
    limit = policy.travel_limit_minutes
    for c in counties:
        in_c = county == c
        required = int(quota[in_c & d.rotation_school[idx]].sum())
        eligible = int(d.eligible[idx][in_c & d.rotation_school[idx]].sum())
        nschools = int((in_c & d.rotation_school[idx]).sum())
        short_schools = []
        total_short = 0.0
        for r, v in zip(quota_rows, short_q, strict=True):
            i = row_school[int(r)]
            if county[i] == c and v > 1e-6:
                short_schools.append((v, i))
                total_short += v
        # rotation schools without any allowed move have no quota row at all
        no_row = np.flatnonzero(in_c & d.rotation_school[idx] & ~model.has_out)
        for i in no_row:
            short_schools.append((float(quota[i]), int(i)))
            total_short += quota[i]
        if total_short > 1e-6:
            short = _count(total_short)
            violations[f"{c}: rotation_quota"] = float(total_short)
            short_schools.sort(key=lambda t: -t[0])
            named = []
            for v, i in short_schools[:3]:
                gi = g_idx[i]
                T, req = d.current[gi, 0], d.need[gi, 0]
                if not (model.xi == i).any():
                    where = f"within {limit:g} minutes" if limit is not None else "in the county"
                    rules = " under the direction rules" if policy.direction_rules else ""
                    why = f"no school it may send to {where}{rules}"
                elif T < req:
                    why = f"it has {T} teachers for a requirement of {req} and nobody to replace those who leave"
                else:
                    why = f"it can spare {max(T - req, 0)} above its requirement of {req}"
                named.append(f"{d.ids[gi]} short by {_count(v)} ({why})")
            messages.append(
                f"county {c}: {required:,} eligible teachers must rotate out of {nschools} "
                f"urban/high-quality schools ({_pct(required, eligible)} of {eligible:,} eligible), "
                f"but under the rules the receiving schools can absorb only "
                f"{_count(required - total_short)} (short by {short}): " + "; ".join(named)
            )
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    for label, v in zip(model.share_county, short_b, strict=True):
        if v > 1e-6:
            violations[f"{label}: backbone_share"] = float(v)
            if label in counties:
                messages.append(
                    f"county {label}: backbone teachers must be at least {beta:.0%} of those who "
                    f"rotate, short by {_count(v)} backbone teachers (too few eligible backbone "
                    "teachers in the urban/high-quality schools)"
                )
            else:
                messages.append(
                    f"school {label}: must send at least {beta:.0%} of its required rotations as "
                    f"backbone teachers, short by {_count(v)} (too few eligible backbone teachers)"
                )
    if not messages:
        return None
    exc = Infeasible("the rotation quota cannot be met. " + " | ".join(messages), violations)
    return exc


def _count(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def _pct(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


# =========================================================================== verification
def _verify_block(d: _Data, idx, model: _Model, x, h, counties, caps, policy, standard):
    """Check the rounded plan of one block against the model; raise SolverError if violated."""
    problems = []
    n = model.n
    moved = x > 0
    xi, xj, xc = model.xi[moved], model.xj[moved], model.xc[moved]
    cnt = x[moved]
    out_c = np.zeros((n, 4), dtype=np.int64)
    in_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(out_c, (xi, xc), cnt)
    np.add.at(in_c, (xj, xc), cnt)
    hire_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(hire_c, (model.hi, model.hc), h)
    elig = d.elig[idx]
    if (out_c > elig).any():
        problems.append("more teachers of a category rotate than are eligible")
    out = out_c.sum(axis=1)
    if (out > d.out_cap[idx]).any():
        problems.append("more teachers rotate out of a school than are eligible")
    if (out < d.quota[idx]).any():
        bad = int(np.flatnonzero(out < d.quota[idx])[0])
        problems.append(f"rotation quota missed at {d.ids[idx][bad]}")
    T = d.current[idx, 0]
    after = T + (in_c - out_c + hire_c).sum(axis=1)
    senders = out > 0
    if (after[senders] < np.minimum(d.need[idx, 0], T)[senders]).any():
        problems.append("a sending school fell below its requirement")
    if policy.receiver_headroom_share is not None:
        top = np.maximum(
            T, np.ceil(np.round((1 + policy.receiver_headroom_share) * d.need[idx, 0], 9))
        )
        if (after[in_c.sum(axis=1) > 0] > top[in_c.sum(axis=1) > 0]).any():
            problems.append("a receiving school exceeds its headroom")
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    rot = d.rotation_school[idx]
    county = d.county[idx]
    for c in counties:
        mask = rot & (county == c)
        if out_c[mask, 0].sum() < beta * out[mask].sum() - 1e-9:
            problems.append(f"backbone teachers are under their share of rotations in {c}")
    if policy.backbone_share_scope == "school":
        least = np.ceil(np.round(beta * d.quota[idx], 9))
        if (out_c[rot, 0] < least[rot]).any():
            problems.append("a rotation school sends too few backbone teachers")
    for c in counties:
        if h[county[model.hi] == c].sum() > caps[c] + 1e-9:
            problems.append(f"hires in {c} exceed the hiring quota")
    gi, gj = idx[xi], idx[xj]
    if not _allowed(d, gi, gj, policy).all():
        problems.append("a move breaks the pair rules")
    if (
        policy.travel_limit_minutes is not None
        and (model.xm[moved] > policy.travel_limit_minutes + 1e-9).any()
    ):
        problems.append("a move exceeds the travel limit")
    if problems:
        raise SolverError(
            "the solver's plan fails its own rules after rounding: " + "; ".join(problems)
        )


# =========================================================================== main
def plan_teachers(
    region: Region,
    policy: TeacherPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> TeacherPlan:
    """Plan new teacher posts and rotations that staff every school and share backbone teachers.

    Parameters
    ----------
    region : Region
    policy : TeacherPolicy, optional
        Rules and weights (defaults: moe2017 norms, 60-minute moves within a county, direction
        rules on, 10 % / 20 % rotation quota, hires unlimited but minimised).
    options : SolverOptions, optional
        Solver settings; a time limit applies to each solve.
    progress : callable, optional
        Called with a short text per county (``"county 3/34 江北县"``).

    Returns
    -------
    TeacherPlan

    Raises
    ------
    Infeasible
        The rotation quota cannot be met; the message says per county how many teachers must
        rotate and how many can, and names the schools and why.
    InputError
        Bad policy values or data (e.g. ``teachers_eligible`` above ``teachers``).
    SolverError
        The solver failed, or its plan broke a rule after rounding.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=2)
    >>> plan = plan_teachers(region, TeacherPolicy(hiring_quota=10))
    >>> int(plan.hires["count"].sum()) <= 10
    True
    >>> set(plan.transfers.columns) >= {"from_school_id", "to_school_id", "category", "count", "minutes"}
    True
    """
    if not isinstance(region, Region):
        raise InputError(f"region must be an allocator Region, got {type(region).__name__}")
    policy = TeacherPolicy() if policy is None else policy
    if not isinstance(policy, TeacherPolicy):
        raise InputError(
            f"policy must be a TeacherPolicy, got {type(policy).__name__}", table="policy"
        )
    options = options or SolverOptions()
    t0 = time.perf_counter()
    standard = policy.load_standard()
    d = _prepare(region, policy, standard)
    counties = list(dict.fromkeys(d.county))
    caps = _county_caps(policy, d, counties)

    N = len(d.ids)
    moves_from, moves_to, moves_cat, moves_cnt, moves_min = [], [], [], [], []
    hires = np.zeros((N, 4), dtype=np.int64)
    solve_rows = []
    infos: list[SolveInfo] = []
    blocks = list(_blocks(region, d, policy))
    for b, (label, members, idx, pairs) in enumerate(blocks):
        if progress is not None:
            progress(f"county {b + 1}/{len(blocks)} {label}")
        model = _build(d, idx, pairs, members, caps, policy, standard)
        if (d.rotation_school[idx] & ~model.has_out).any():
            # a rotation school with nowhere to send anyone: no solve can meet its quota
            raise _diagnose(d, idx, model, members, policy, standard)

        def record(stage, info, method, label=label, model=model):
            infos.append(info)
            solve_rows.append(
                {
                    "block": label,
                    "stage": stage,
                    "method": method,
                    "status": info.status,
                    "objective": info.objective,
                    "gap": info.gap,
                    "seconds": info.seconds,
                    "columns": model.A.shape[1],
                    "rows": model.A.shape[0],
                }
            )

        try:
            x = _solve_block(model, options, record)
        except Infeasible as exc:
            diagnosis = _diagnose(d, idx, model, members, policy, standard)
            if diagnosis is None:
                raise Infeasible(f"county {label}: {exc.message}", exc.violations) from exc
            raise diagnosis from None
        xr = np.round(x[: model.nx]).astype(np.int64)
        hr = np.round(x[model.nx : model.nx + model.nh]).astype(np.int64)
        if np.abs(x[: model.nx + model.nh] - np.concatenate([xr, hr])).max(initial=0) > 1e-5:
            raise SolverError(f"county {label}: the solver returned fractional teacher counts")
        _verify_block(d, idx, model, xr, hr, members, caps, policy, standard)
        moved = xr > 0
        moves_from.append(idx[model.xi[moved]])
        moves_to.append(idx[model.xj[moved]])
        moves_cat.append(model.xc[moved])
        moves_cnt.append(xr[moved])
        moves_min.append(model.xm[moved])
        np.add.at(hires, (idx[model.hi], model.hc), hr)

    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    mf, mt, mc = cat(moves_from, np.int64), cat(moves_to, np.int64), cat(moves_cat, np.int64)
    mn, mm = cat(moves_cnt, np.int64), cat(moves_min, float)
    return _make_plan(region, d, policy, standard, mf, mt, mc, mn, mm, hires, solve_rows, infos, t0)


# =========================================================================== results
def _make_plan(region, d, policy, standard, mf, mt, mc, mn, mm, hires, solve_rows, infos, t0):
    N = len(d.ids)
    out_c = np.zeros((N, 4), dtype=np.int64)
    in_c = np.zeros((N, 4), dtype=np.int64)
    np.add.at(out_c, (mf, mc), mn)
    np.add.at(in_c, (mt, mc), mn)
    delta = in_c - out_c + hires
    mov_after = d.movable + delta
    T, Q, B, E = (d.current[:, k] for k in range(4))
    after = np.column_stack(
        [
            T + delta.sum(axis=1),
            Q + delta[:, _B] + delta[:, _Q],
            B + delta[:, _B],
            E + delta[:, _E],
        ]
    )
    # whole-plan checks: conservation per category, no negative counts, subsets within teachers
    if (mov_after < 0).any() or (after < 0).any():
        raise SolverError("the plan leaves a negative teacher count")
    if (after[:, 1:] > after[:, :1]).any():
        raise SolverError(
            "the plan leaves a school with more qualified/backbone/PE-arts than teachers"
        )
    if not np.array_equal(delta.sum(axis=0), hires.sum(axis=0)):
        raise SolverError("rotations do not conserve teachers in every category")

    ids = d.ids
    transfers = pd.DataFrame(
        {
            "from_school_id": ids[mf],
            "to_school_id": ids[mt],
            "category": np.array(CATEGORIES, dtype=object)[mc],
            "count": mn,
            "minutes": np.round(mm, 2),
            "county": d.county[mf],
        }
    )
    transfers = transfers.sort_values(["county", "from_school_id", "to_school_id", "category"])
    transfers = transfers.reset_index(drop=True)
    hi, hc = np.nonzero(hires)
    hires_df = pd.DataFrame(
        {
            "school_id": ids[hi],
            "category": np.array(CATEGORIES, dtype=object)[hc],
            "count": hires[hi, hc],
            "county": d.county[hi],
        }
    )

    short_before = np.maximum(d.need - d.current, 0)
    short_after = np.maximum(d.need - after, 0)
    staffing = pd.DataFrame(
        {
            "school_id": ids,
            "county": d.county,
            "area_type": d.area,
            "level": d.level,
            "pupils": d.pupils,
            "required_teachers": d.need[:, 0],
            "need_qualified": d.need[:, 1],
            "need_backbone": d.need[:, 2],
            "need_pe_arts": d.need[:, 3],
        }
    )
    for k, need in enumerate(NEEDS):
        col = _NEED_COLUMN[need]
        staffing[f"{col}_before"] = d.current[:, k]
        staffing[f"{col}_after"] = after[:, k]
    for k, need in enumerate(NEEDS):
        staffing[f"{need}_shortfall_before"] = short_before[:, k]
        staffing[f"{need}_shortfall_after"] = short_after[:, k]
    staffing["weighted_shortfall_before"] = (d.weight * short_before).sum(axis=1)
    staffing["weighted_shortfall_after"] = (d.weight * short_after).sum(axis=1)
    staffing["eligible"] = d.eligible
    staffing["rotation_school"] = d.rotation_school
    staffing["high_quality"] = d.high_quality
    staffing["rotation_required"] = d.quota
    staffing["sent"] = out_c.sum(axis=1)
    staffing["sent_backbone"] = out_c[:, _B]
    staffing["received"] = in_c.sum(axis=1)
    staffing["received_backbone"] = in_c[:, _B]
    staffing["hired"] = hires.sum(axis=1)

    r2 = _r2_table(d, T, after[:, 0])
    area = _area_table(d, B, after[:, 2])
    counties = _county_table(d, staffing, after)
    solves = pd.DataFrame(
        solve_rows,
        columns=[
            "block",
            "stage",
            "method",
            "status",
            "objective",
            "gap",
            "seconds",
            "columns",
            "rows",
        ],
    )
    shortfall = float(staffing["weighted_shortfall_after"].sum())
    info = SolveInfo.combine(infos, objective=shortfall, seconds=time.perf_counter() - t0)
    return TeacherPlan(
        transfers=transfers,
        hires=hires_df,
        staffing=staffing,
        allocation_r2=r2,
        backbone_by_area=area,
        counties=counties,
        solves=solves,
        solve_info=info,
        policy=policy,
        standard=standard,
        region_name=region.name,
    )


def _safe_r2(pupils, teachers) -> float:
    try:
        return metrics.allocation_r2(pupils, teachers)
    except ValueError:
        return float("nan")


def _r2_table(d: _Data, before, after) -> pd.DataFrame:
    rows = []
    frame = pd.DataFrame({"county": d.county, "level": d.level})
    for (c, lv), grp in frame.groupby(["county", "level"], sort=False):
        i = grp.index.to_numpy()
        rb = _safe_r2(d.pupils[i], before[i]) if len(i) >= 3 else float("nan")
        ra = _safe_r2(d.pupils[i], after[i]) if len(i) >= 3 else float("nan")
        rows.append(
            {
                "county": c,
                "level": lv,
                "schools": len(i),
                "r2_before": rb,
                "r2_after": ra,
                "randomness_before": 1 - rb,
                "randomness_after": 1 - ra,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "county",
            "level",
            "schools",
            "r2_before",
            "r2_after",
            "randomness_before",
            "randomness_after",
        ],
    )


def _area_table(d: _Data, before, after) -> pd.DataFrame:
    rows = []
    comp = d.compulsory
    total_b = before[comp].sum()
    total_a = after[comp].sum()
    for a in ("urban", "town", "rural"):
        m = comp & (d.area == a)
        if not m.any():
            continue
        p = d.pupils[m].sum()
        bb, ba = int(before[m].sum()), int(after[m].sum())
        rows.append(
            {
                "area_type": a,
                "schools": int(m.sum()),
                "pupils": int(p),
                "backbone_before": bb,
                "backbone_after": ba,
                "backbone_per_100_before": 100.0 * bb / p if p else float("nan"),
                "backbone_per_100_after": 100.0 * ba / p if p else float("nan"),
                "backbone_share_before": bb / total_b if total_b else float("nan"),
                "backbone_share_after": ba / total_a if total_a else float("nan"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "area_type",
            "schools",
            "pupils",
            "backbone_before",
            "backbone_after",
            "backbone_per_100_before",
            "backbone_per_100_after",
            "backbone_share_before",
            "backbone_share_after",
        ],
    )


def _gap(d: _Data, B, mask) -> float:
    u = mask & d.compulsory & (d.area == "urban")
    r = mask & d.compulsory & (d.area == "rural")
    pu, pr = d.pupils[u].sum(), d.pupils[r].sum()
    if not pu or not pr:
        return float("nan")
    return 100.0 * B[u].sum() / pu - 100.0 * B[r].sum() / pr


def _county_table(d: _Data, st: pd.DataFrame, after) -> pd.DataFrame:
    rows = []
    for c in dict.fromkeys(d.county):
        m = d.county == c
        s = st[m]
        rows.append(
            {
                "county": c,
                "schools": int(m.sum()),
                "rotation_schools": int(s["rotation_school"].sum()),
                "eligible_in_rotation_schools": int(s.loc[s["rotation_school"], "eligible"].sum()),
                "rotation_required": int(s["rotation_required"].sum()),
                "rotated": int(s["sent"].sum()),
                "rotated_from_rotation_schools": int(s.loc[s["rotation_school"], "sent"].sum()),
                "backbone_rotated": int(s["sent_backbone"].sum()),
                "hires": int(s["hired"].sum()),
                "staff_shortfall_before": int(s["staff_shortfall_before"].sum()),
                "staff_shortfall_after": int(s["staff_shortfall_after"].sum()),
                "weighted_shortfall_before": float(s["weighted_shortfall_before"].sum()),
                "weighted_shortfall_after": float(s["weighted_shortfall_after"].sum()),
                "backbone_gap_before": _gap(d, d.current[:, 2], m),
                "backbone_gap_after": _gap(d, after[:, 2], m),
            }
        )
    return pd.DataFrame(rows)
