"""The indicators of the assessment and the groups of norms a :class:`~allocator.standards.Standard`
is made of (staffing, class and school size, rotation, travel, nine-year split, exclusions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

#: Assessed parts of a school.
PARTS = ("primary", "junior")

#: The seven indicators of the 2017 assessment.
INDICATORS = (
    "qualified_per_100",
    "backbone_per_100",
    "pe_arts_per_100",
    "floor_m2_per_pupil",
    "sports_m2_per_pupil",
    "equipment_yuan_per_pupil",
    "multimedia_per_100",
)
#: Indicator -> the school column it is computed from.
INDICATOR_SOURCE = MappingProxyType(
    {
        "qualified_per_100": "teachers_qualified",
        "backbone_per_100": "teachers_backbone",
        "pe_arts_per_100": "teachers_pe_arts",
        "floor_m2_per_pupil": "floor_area_m2",
        "sports_m2_per_pupil": "sports_area_m2",
        "equipment_yuan_per_pupil": "equipment_value",
        "multimedia_per_100": "multimedia_rooms",
    }
)
#: Indicator -> multiplier of resource per pupil (100 for "per 100 pupils").
INDICATOR_SCALE = MappingProxyType(
    {k: (100.0 if k.endswith("_per_100") else 1.0) for k in INDICATOR_SOURCE}
)
#: Every indicator a standard may name: the seven plus all teachers per 100 pupils (2012 师生比).
KNOWN_INDICATORS = MappingProxyType(
    {
        **{k: (INDICATOR_SOURCE[k], INDICATOR_SCALE[k]) for k in INDICATORS},
        "teachers_per_100": ("teachers", 100.0),
    }
)
#: Human-readable unit of each indicator.
INDICATOR_UNITS = MappingProxyType(
    {
        "qualified_per_100": "qualified teachers per 100 pupils",
        "backbone_per_100": "backbone teachers per 100 pupils",
        "pe_arts_per_100": "PE/arts teachers per 100 pupils",
        "floor_m2_per_pupil": "m² teaching floor area per pupil",
        "sports_m2_per_pupil": "m² sports ground per pupil",
        "equipment_yuan_per_pupil": "yuan of equipment per pupil",
        "multimedia_per_100": "multimedia classrooms per 100 pupils",
        "teachers_per_100": "teachers per 100 pupils",
    }
)

#: Grade bands of the staffing norms and class sizes.
STAFFING_BANDS = ("primary", "junior", "senior")
#: School levels a school-size limit may name.
SIZE_LEVELS = ("primary", "junior", "nine_year", "senior", "teaching_point", "twelve_year")


# --------------------------------------------------------------------------- dataclasses
@dataclass(frozen=True)
class Staffing:
    """Teacher staffing norms (编制标准).

    Attributes
    ----------
    pupils_per_teacher : Mapping[str, float]
        Band (``primary``, ``junior``, ``senior``) -> pupils per teacher (19, 13.5, 12.5 since 2014).
    rural_pupils_per_teacher : Mapping[str, float] or None
        If set, used instead for rural schools (pre-2014: 23, 18, 13.5).
    class_teacher_ratio : float
        Teachers per class (班师比) for teaching points and small rural schools (provincial).
    small_school_max_pupils : int
        A school in ``class_ratio_area_types`` with fewer pupils than this is staffed by classes too.
    class_ratio_area_types : tuple of str
        Area types whose small schools get the class-teacher ratio (default rural).
    """

    pupils_per_teacher: Mapping[str, float]
    rural_pupils_per_teacher: Mapping[str, float] | None
    class_teacher_ratio: float
    small_school_max_pupils: int
    class_ratio_area_types: tuple[str, ...]


@dataclass(frozen=True)
class ClassSize:
    """Class size limits: ``max`` by band, "large" (>= 56) and "super-large" (>= 66) classes."""

    max: Mapping[str, int]
    large: int
    super_large: int


@dataclass(frozen=True)
class SchoolSize:
    """School size limits: ``max_pupils`` by level (2000 primary/junior, 2500 nine-year)."""

    max_pupils: Mapping[str, int]


@dataclass(frozen=True)
class Rotation:
    """Teacher rotation: ``share`` of eligible teachers a year, ``backbone_share`` of rotations at
    least, eligibility after ``eligible_years`` at one school."""

    share: float
    backbone_share: float
    eligible_years: int


@dataclass(frozen=True)
class Travel:
    """Travel limits, one way by road, in minutes: the one place every step reads them from.

    Attributes
    ----------
    lower_primary_minutes : float
        Grades 1-3 attend nearby and do not board: 30 (national guidance of 2018).
    upper_primary_minutes, junior_minutes : float
        Day-travel limits for grades 4-6 and 7-9: 45 and 60 (planning values, not a national
        figure; unconfirmed).
    boarding_minutes : float
        Limit for boarders' weekly trips: 90 (planning value; unconfirmed).
    """

    lower_primary_minutes: float
    upper_primary_minutes: float = 45.0
    junior_minutes: float = 60.0
    boarding_minutes: float = 90.0

    def day_minutes(self, band: str) -> float:
        """The day-travel limit of a band (``lower_primary``, ``upper_primary``, ``junior``)."""
        return float(getattr(self, f"{band}_minutes"))


@dataclass(frozen=True)
class NineYear:
    """Split of a nine-year school's resources: primary pupil : junior pupil = 1 : junior_weight."""

    junior_weight: float


@dataclass(frozen=True)
class Exclusions:
    """Schools out of the assessment: these ``levels``, and teaching points under
    ``teaching_point_min_pupils`` pupils."""

    levels: tuple[str, ...]
    teaching_point_min_pupils: int
