"""The rules of the senior places planner: :class:`SeniorPolicy`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from allocator.errors import InputError
from allocator.frozen import freeze
from allocator.region import AREA_TYPES
from allocator.standards.senior import SeniorStandard, load_senior_standard

__all__ = ["SeniorPolicy"]

_TARGETS = {
    "gross_enrolment_rate": ("targets", "gross_enrolment_rate"),
    "general_share_low": ("ratio", "general_share_low"),
    "general_share_high": ("ratio", "general_share_high"),
    "max_pupils": ("size", "max_pupils"),
}


@dataclass(frozen=True)
class SeniorPolicy:
    """Rules for planning general (普通高中) and vocational (中职) places by county (frozen).

    Every norm left at None is read from the senior standard (``senior_standard`` with
    ``overrides``; see ``allocator/data/senior/senior2017.toml`` for the figures and sources).

    Parameters
    ----------
    senior_standard : str
        The senior standard (``"senior2017"``).
    overrides : mapping, optional
        Settings replacing the standard's, e.g. ``{"boarding": {"daily_km": 20}}``.
    gross_enrolment_rate : float, optional
        Senior places / junior graduates per county (高中阶段毛入学率, 0 to 1).
    general_share_low, general_share_high : float, optional
        The 普职比 band: least and greatest share of a county's senior pupils in general schools.
    max_pupils : int, optional
        School size limit (no school is expanded or built beyond it).
    year : int, optional
        Plan for the junior graduates of this year: the grade-9 pupils of the enrolment
        forecast (:mod:`allocator.forecast`, from ``base_year`` with ``birth_scenario``). None:
        today's, a third of each county's junior pupils (:func:`~.requirements.region_cohort`).
    base_year : int
        The year of the region's pupils.
    birth_scenario : str
        Birth scenario of the forecast (``"medium"``).
    candidate_nodes : list of str
        Road nodes of land reserved for new campuses.
    candidate_area_types : list of str
        The nodes of the region's junior, nine-year and senior schools in these area types (urban,
        town, rural) are candidate sites too (a new campus beside an existing school).
    yuan_per_pupil_km : float
        Weight of road km in the cost (1 yuan per pupil-km: a tie-breaker sending pupils to the
        nearest campus with room).
    time_limit : float, optional
        Seconds for the solver (per county).
    mip_gap : float
        Relative gap within which a plan is called optimal.

    Examples
    --------
    >>> p = SeniorPolicy(general_share_high=0.7)
    >>> p.norms().general_share_band, p.norms().max_pupils
    ((0.5, 0.7), 3000)
    >>> SeniorPolicy(candidate_area_types=["city"])
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'candidate_area_types': SeniorPolicy.candidate_area_types must be a list of area types (urban, town, rural), got ['city']
    """

    senior_standard: str = "senior2017"
    overrides: Mapping | None = None
    gross_enrolment_rate: float | None = None
    general_share_low: float | None = None
    general_share_high: float | None = None
    max_pupils: int | None = None
    year: int | None = None
    base_year: int = 2025
    birth_scenario: str = "medium"
    candidate_nodes: tuple[str, ...] = ()
    candidate_area_types: tuple[str, ...] = ("urban", "town")
    yuan_per_pupil_km: float = 1.0
    time_limit: float | None = 60.0
    mip_gap: float = 1e-4

    def __post_init__(self):
        def bad(name, expected):
            value = getattr(self, name)
            raise InputError(
                f"SeniorPolicy.{name} must be {expected}, got {value!r}",
                table="policy",
                column=name,
                value=value,
            )

        def number(name, low=0.0, high=math.inf, optional=True):
            v = getattr(self, name)
            if v is None and optional:
                return
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or not low <= v <= high:
                bad(name, f"a number from {low:g} to {high:g}" + (" or None" if optional else ""))

        for name in ("gross_enrolment_rate", "general_share_low", "general_share_high"):
            number(name, 0.0, 1.0)
        number("yuan_per_pupil_km", optional=False)
        number("time_limit", 1e-3)
        number("mip_gap", 0.0, 0.5, optional=False)
        for name in ("max_pupils", "year", "base_year"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                bad(name, "a whole number >= 1")
        if self.year is not None and self.year < self.base_year:
            bad("year", f"a year from base_year ({self.base_year}) on")
        nodes = self.candidate_nodes
        if isinstance(nodes, str) or not all(isinstance(n, str | int) for n in nodes):
            bad("candidate_nodes", "a list of road nodes")
        object.__setattr__(self, "candidate_nodes", tuple(str(n) for n in nodes))
        areas = self.candidate_area_types
        if isinstance(areas, str) or not set(areas) <= set(AREA_TYPES):
            bad("candidate_area_types", f"a list of area types ({', '.join(AREA_TYPES)})")
        object.__setattr__(self, "candidate_area_types", tuple(areas))
        if self.overrides is not None and not isinstance(self.overrides, Mapping):
            bad("overrides", "a table of senior settings")
        object.__setattr__(self, "overrides", freeze(self.overrides))
        self.norms()  # an unknown standard or setting fails here, with its name

    def norms(self) -> SeniorStandard:
        """The senior standard with this policy's overrides and targets applied."""
        extra = {g: dict(v) for g, v in dict(self.overrides or {}).items()}
        for name, (group, key) in _TARGETS.items():
            if getattr(self, name) is not None:
                extra.setdefault(group, {})[key] = getattr(self, name)
        return load_senior_standard(self.senior_standard, overrides=extra or None)
