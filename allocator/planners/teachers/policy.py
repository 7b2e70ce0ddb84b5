"""The teacher planner's policy: rules and weights of a posting and rotation plan.

Every number is a setting with a default; the norms themselves (staffing ratios, 2017 thresholds,
rotation shares) come from the policy's standard (:meth:`TeacherPolicy.load_standard`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.planners.teachers.categories import CATEGORIES, COMPULSORY_LEVELS, NEEDS
from allocator.standards import Standard, load_standard

__all__ = ["TeacherPolicy", "policy_error"]


def policy_error(message: str, name: str, value: Any) -> InputError:
    """An :class:`~allocator.errors.InputError` about the policy setting ``name``.

    Examples
    --------
    >>> policy_error("eligible_share=2; expected a number >= 0 and <= 1", "eligible_share", 2).column
    'eligible_share'
    """
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
    hiring_quota_by_year : dict, optional
        Plans over years: ``{year: posts}`` or ``{year: {county: posts}}``, that year's quota in
        the shapes of ``hiring_quota`` (split among counties the same way); a year not named
        uses ``hiring_quota``. ``hiring_quota`` and ``hiring_budget_yuan`` apply to each year.
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
    retirement_age : int
        Age at which a teacher retires, for plans over years (60: the statutory age of men, 国发
        〔1978〕104号; women in cadre posts retired at 55, both rising by up to three years from 2025
        under the 2024 decision of the NPC Standing Committee; with a mostly female teaching force
        60 understates retirements: set the county's own; unconfirmed for any one county).
    surplus_years : int
        Plans over years: a hire is made only if the school, with that hire and less the
        retirements to come, stays within its requirement plus ``surplus_slack`` in its year and
        each of the next ``surplus_years`` years of the horizon (3; a hard rule of the model).
    surplus_slack : int
        Teachers a school may have above its requirement when a hire is made (0).
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
    hiring_quota_by_year: dict | None = None
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
    rotation_levels: list[str] | tuple[str, ...] = COMPULSORY_LEVELS
    term_years: int = 3
    need_weights: dict[str, float] = field(
        default_factory=lambda: {"staff": 1.0, "qualified": 1.0, "backbone": 1.0, "pe_arts": 1.0}
    )
    move_weight: float = 1.0
    minute_weight: float = 1.0 / 60.0
    on_infeasible: str = "report"
    retirement_age: int = 60
    surplus_years: int = 3
    surplus_slack: int = 0

    def __post_init__(self):
        """Check every setting (the first bad one raises); store tables and lists read-only."""
        self._check_hiring()
        self._check_numbers()
        self._check_choices()
        self._check_hire_categories()
        self._check_rotation_levels()
        self._check_need_weights()
        self._check_pupils_per_teacher()
        self._check_combinations()
        for name in ("standard_overrides", "pupils_per_teacher"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    def _check_number(
        self, name, low=0.0, high=None, low_open=False, optional=False, integer=False
    ):
        """Raise unless setting ``name`` is a finite number in the range (None if optional)."""
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
            raise policy_error(f"{name}={value!r}; expected {what} {rng}", name, value)

    def _check_per_county(self, name):
        """A number, or ``{county: number >= 0}`` (stored read-only)."""
        value = getattr(self, name)
        if isinstance(value, Mapping):
            for county, v in value.items():
                if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                    raise policy_error(
                        f"{name}[{county!r}]={v!r}; expected a number >= 0", name, value
                    )
            object.__setattr__(self, name, freeze(value))
        else:
            self._check_number(name, optional=True, integer=name == "hiring_quota")

    def _check_hiring(self):
        """The hiring quota and budget: a number or one per county."""
        self._check_per_county("hiring_quota")
        self._check_per_county("hiring_budget_yuan")
        by_year = self.hiring_quota_by_year
        if by_year is None:
            return
        if not isinstance(by_year, Mapping):
            raise policy_error(
                f"hiring_quota_by_year={by_year!r}; expected a table {{year: posts}}",
                "hiring_quota_by_year",
                by_year,
            )
        by_year = {  # TOML keys are text: "2028" is the year 2028
            int(y) if isinstance(y, str) and y.strip().isdigit() else y: v
            for y, v in by_year.items()
        }
        for year, value in by_year.items():
            whole = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            if isinstance(value, Mapping):
                whole = all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= 0
                    for v in value.values()
                )
            if isinstance(year, bool) or not isinstance(year, int) or not whole:
                raise policy_error(
                    f"hiring_quota_by_year[{year!r}]={value!r}; expected a whole year and a whole "
                    "number >= 0 of posts (or one per county)",
                    "hiring_quota_by_year",
                    by_year,
                )
        object.__setattr__(self, "hiring_quota_by_year", freeze(by_year))

    def _check_numbers(self):
        """Costs, limits, shares and weights: numbers in their ranges."""
        self._check_number("cost_per_hire_yuan", low_open=True)
        self._check_number("travel_limit_minutes", optional=True)
        self._check_number("eligible_share", high=1.0)
        self._check_number("rotation_share", high=1.0, optional=True)
        self._check_number("backbone_share", high=1.0, optional=True)
        self._check_number("max_rotation_share", high=1.0, optional=True)
        self._check_number("receiver_headroom_share", optional=True)
        self._check_number("high_quality_quantile", high=1.0)
        self._check_number("term_years", low_open=True, integer=True)
        self._check_number("class_teacher_ratio", optional=True)
        self._check_number("retirement_age", low=20, high=80, integer=True)
        self._check_number("surplus_years", integer=True)
        self._check_number("surplus_slack", integer=True)
        self._check_number("move_weight")
        self._check_number("minute_weight")

    def _check_choices(self):
        """The switches are booleans and the named choices among their options."""
        for name in ("same_county", "same_district", "direction_rules"):
            if not isinstance(getattr(self, name), bool):
                raise policy_error(
                    f"{name}={getattr(self, name)!r}; expected true or false",
                    name,
                    getattr(self, name),
                )
        if self.on_infeasible not in ("report", "error"):
            raise policy_error(
                f"on_infeasible={self.on_infeasible!r}; expected 'report' or 'error'",
                "on_infeasible",
                self.on_infeasible,
            )
        if self.stage_rule not in ("certificate", "same", "any"):
            raise policy_error(
                f"stage_rule={self.stage_rule!r}; expected 'certificate', 'same' or 'any'",
                "stage_rule",
                self.stage_rule,
            )
        if self.backbone_share_scope not in ("county", "school"):
            raise policy_error(
                f"backbone_share_scope={self.backbone_share_scope!r}; expected 'county' or 'school'",
                "backbone_share_scope",
                self.backbone_share_scope,
            )

    def _check_hire_categories(self):
        """Hired categories: some of general, qualified, pe_arts (stored as a tuple)."""
        hires = self.hire_categories
        if isinstance(hires, str) or not all(c in CATEGORIES for c in hires):
            raise policy_error(
                f"hire_categories={hires!r}; expected a list of {', '.join(CATEGORIES[1:])}",
                "hire_categories",
                hires,
            )
        if "backbone" in hires:
            raise policy_error(
                "hire_categories includes 'backbone'; backbone is a title earned in service, "
                "expected some of general, qualified, pe_arts",
                "hire_categories",
                hires,
            )
        object.__setattr__(self, "hire_categories", tuple(dict.fromkeys(hires)))

    def _check_rotation_levels(self):
        """Rotation levels: a list of level names (stored as a tuple)."""
        levels = self.rotation_levels
        if isinstance(levels, str) or not all(isinstance(v, str) for v in levels):
            raise policy_error(
                f"rotation_levels={levels!r}; expected a list of school levels",
                "rotation_levels",
                levels,
            )
        object.__setattr__(self, "rotation_levels", tuple(levels))

    def _check_need_weights(self):
        """Need weights: numbers >= 0 keyed by need (stored with every need, 0 if not given)."""
        weights = self.need_weights
        if not isinstance(weights, Mapping) or any(k not in NEEDS for k in weights):
            raise policy_error(
                f"need_weights={weights!r}; expected a table with keys among {', '.join(NEEDS)}",
                "need_weights",
                weights,
            )
        for k, v in weights.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise policy_error(
                    f"need_weights[{k!r}]={v!r}; expected a number >= 0", "need_weights", weights
                )
        weights = {k: float(weights.get(k, 0.0)) for k in NEEDS}
        object.__setattr__(self, "need_weights", freeze(weights))

    def _check_pupils_per_teacher(self):
        """Pupils per teacher: numbers > 0 keyed by band (primary, junior, senior)."""
        if self.pupils_per_teacher is None:
            return
        ppt = self.pupils_per_teacher
        if not isinstance(ppt, Mapping) or any(
            k not in ("primary", "junior", "senior") for k in ppt
        ):
            raise policy_error(
                f"pupils_per_teacher={ppt!r}; expected a table with keys among primary, "
                "junior, senior",
                "pupils_per_teacher",
                ppt,
            )
        for k, v in ppt.items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise policy_error(
                    f"pupils_per_teacher[{k!r}]={v!r}; expected a number > 0",
                    "pupils_per_teacher",
                    ppt,
                )

    def _check_combinations(self):
        """Settings that contradict each other."""
        if (
            self.rotation_share is not None
            and self.max_rotation_share is not None
            and self.max_rotation_share < self.rotation_share
        ):
            raise policy_error(
                f"max_rotation_share={self.max_rotation_share!r} is below "
                f"rotation_share={self.rotation_share!r}: a school could not send the share it "
                "must; expected max_rotation_share >= rotation_share",
                "max_rotation_share",
                self.max_rotation_share,
            )
        if self.travel_limit_minutes is None and not self.same_county:
            raise policy_error(
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

    def rotation_share_of(self, standard: Standard) -> float:
        """The least share of eligible teachers that rotate: the policy's, else the standard's.

        Examples
        --------
        >>> policy = TeacherPolicy()
        >>> policy.rotation_share_of(policy.load_standard())
        0.1
        """
        return standard.rotation.share if self.rotation_share is None else self.rotation_share

    def backbone_share_of(self, standard: Standard) -> float:
        """The least share of backbone teachers among rotations: the policy's, else the standard's.

        Examples
        --------
        >>> TeacherPolicy(backbone_share=0.3).backbone_share_of(load_standard("moe2017"))
        0.3
        """
        if self.backbone_share is None:
            return standard.rotation.backbone_share
        return self.backbone_share
