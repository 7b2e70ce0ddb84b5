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
  staffing gaps, sum_i max(r_i - T_i, 0) over the county's schools, rounded by largest remainder
  (equal shares if no county has a gap), a dict gives each county its own);
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

Infeasibility: the model without quotas always has a solution (nobody moves). Before any solve,
every rotation school whose quota exceeds the teachers that may leave it is named
(:mod:`allocator.planners.teachers_check`). A rotation school with no school it may send to has
its quota waived and listed in ``quota_waived`` (``on_infeasible="error"``: raised instead). If
the quotas still cannot be met, an elastic LP finds the most rotations the rules allow, and
:class:`~allocator.errors.Infeasible` says, per county, how many teachers must rotate and how many
can, naming the schools and why.

Verification: after each county, with the rounded integer plan: eligibility, quotas, backbone
share, senders at their requirement, hiring quota, allowed pairs and minutes, and (on the whole
plan) conservation of every category and no negative count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocator import metrics
from allocator.errors import Infeasible, InputError, SolverError
from allocator.fingerprint import region_fingerprint, require_region
from allocator.planners.teachers_check import (
    UNPLANNED_COLUMNS,
    WAIVED_COLUMNS,
    combined_error,
    quota_above_limit,
    unplanned_rows,
    waived_rows,
)
from allocator.planners.teachers_model import (
    _B,
    _COMPULSORY,
    _E,
    _NEED_COLUMN,
    _Q,
    CATEGORIES,
    NEEDS,
    _blocks,
    _build,
    _county_caps,
    _Data,
    _diagnose,
    _prepare,
    _solve_block,
    _verify_block,
)
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.standards import Standard, load_standard

__all__ = ["TeacherPolicy", "TeacherPlan", "plan_teachers", "CATEGORIES", "NEEDS"]


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
        New posts: one number for the region, split among counties in proportion to their staffing
        gaps (the teachers their schools lack to reach the required staff, whatever the category
        needs), rounded by largest remainder so that the shares add up to the number; or
        ``{county: posts}`` (counties not named get none). None: no limit.
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
    on_infeasible : {"report", "error"}
        A rotation school that today's layout leaves with no school it may send a teacher to
        (none within the travel limit, the county, the district and the direction rules): with
        ``"report"`` (default) its quota is waived and the plan lists it (``quota_waived``); with
        ``"error"`` the plan raises :class:`~allocator.errors.Infeasible`. A county whose quotas
        the receivers cannot absorb is, with ``"report"``, left as it is and listed
        (``unplanned``) while the other counties are planned; with ``"error"`` one Infeasible
        names every such county with the numbers. A quota above what may leave a school raises in
        both cases (before any solve).

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
    on_infeasible: str = "report"

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
        if self.on_infeasible not in ("report", "error"):
            raise _policy_error(
                f"on_infeasible={self.on_infeasible!r}; expected 'report' or 'error'",
                "on_infeasible",
                self.on_infeasible,
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
        if (
            self.rotation_share is not None
            and self.max_rotation_share is not None
            and self.max_rotation_share < self.rotation_share
        ):
            raise _policy_error(
                f"max_rotation_share={self.max_rotation_share!r} is below "
                f"rotation_share={self.rotation_share!r}: a school could not send the share it "
                "must; expected max_rotation_share >= rotation_share",
                "max_rotation_share",
                self.max_rotation_share,
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
            "quota_waived": self.quota_waived,
            "unplanned": self.unplanned,
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
        u = self.unplanned
        if len(u):
            n = len(u)
            lines.append(
                f"Not planned, left as they are: {n} {'county' if n == 1 else 'counties'} "
                f"({', '.join(u['county'])}): " + " | ".join(u["reason"].head(3)) + "."
            )
        w = self.quota_waived
        if len(w):
            n = len(w)
            lines.append(
                f"Rotation quota waived at {n} school{'s' if n != 1 else ''} that today's layout "
                f"leaves no school to send to ({int(w['rotation_required'].sum())} rotations): "
                + "; ".join(f"{r.school_id} ({r.reason})" for r in w.head(3).itertuples())
                + (" ..." if n > 3 else "")
                + "."
            )
        lines.append(f"Solve: {self.solve_info.describe()}, {len(self.solves)} solves.")
        return "\n".join(lines)

    def to_geodataframes(self, region: Region | None = None, crs=None) -> dict:
        """The plan's tables as GeoDataFrames placed on ``region`` (the region it was made for).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); the layers are those of
        :func:`allocator.gis.export.plan_geodataframes`.
        """
        from allocator.gis import to_geodataframes

        return to_geodataframes(self, region, crs)

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
        require_region(self.region_fingerprint, region, "teacher plan")
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
    share = standard.rotation.share if policy.rotation_share is None else policy.rotation_share
    if policy.max_rotation_share is not None and policy.max_rotation_share < share:
        raise _policy_error(
            f"max_rotation_share={policy.max_rotation_share!r} is below the standard's rotation "
            f"share {share:g}: a school could not send the share it must; expected "
            "max_rotation_share >= rotation_share",
            "max_rotation_share",
            policy.max_rotation_share,
        )
    too_many = quota_above_limit(
        d.ids, d.county, d.quota, d.eligible, np.minimum(d.eligible, d.elig.sum(axis=1)),
        d.out_cap, share, policy.max_rotation_share,
    )  # fmt: skip
    if too_many is not None:
        raise too_many
    counties = list(dict.fromkeys(d.county))
    caps = _county_caps(policy, d, counties)

    N = len(d.ids)
    moves_from, moves_to, moves_cat, moves_cnt, moves_min = [], [], [], [], []
    hires = np.zeros((N, 4), dtype=np.int64)
    solve_rows = []
    infos: list[SolveInfo] = []
    waived: list[pd.DataFrame] = []
    failed: list[tuple[str, np.ndarray, Infeasible]] = []
    blocks = list(_blocks(region, d, policy))
    for b, (label, members, idx, pairs) in enumerate(blocks):
        if progress is not None:
            progress(f"county {b + 1}/{len(blocks)} {label}")
        model = _build(d, idx, pairs, members, caps, policy, standard)
        stuck = idx[d.rotation_school[idx] & ~model.has_out & (d.quota[idx] > 0)]
        if len(stuck):
            # a rotation school with nowhere to send anyone: no solve can meet its quota
            if policy.on_infeasible == "error":
                raise _diagnose(d, idx, model, members, policy, standard)
            waived.append(waived_rows(d.ids[stuck], d.county[stuck], d.quota[stuck], policy))
            d.quota[stuck] = 0
            model = _build(d, idx, pairs, members, caps, policy, standard)

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
            try:
                diagnosis = _diagnose(d, idx, model, members, policy, standard)
            except Infeasible:
                diagnosis = None
            if diagnosis is None:
                diagnosis = Infeasible(f"county {label}: {exc.message}", exc.violations)
            failed.append((label, idx, diagnosis))  # the other counties are still planned
            continue
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
    if failed and policy.on_infeasible == "error":
        raise combined_error([exc for _, _, exc in failed])
    unplanned = unplanned_rows([(label, len(idx), exc) for label, idx, exc in failed])
    for _, idx, _ in failed:
        d.quota[idx] = 0  # left as they are: no rotation required by this plan
    plan = _make_plan(region, d, policy, standard, mf, mt, mc, mn, mm, hires, solve_rows, infos, t0)
    if waived:
        plan.quota_waived = pd.concat(waived, ignore_index=True)
    plan.unplanned = unplanned
    return plan


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
        region_fingerprint=region_fingerprint(region),
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
