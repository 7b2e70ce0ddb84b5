"""National norms for compulsory-education schools, as data that every user can override.

A :class:`Standard` bundles the numbers a county is judged by: the 2017 seven-indicator assessment
(per-school thresholds, at least 6 of 7 met, per-indicator pupil-weighted CV limits 0.50 primary /
0.45 junior, exclusions), or the 2012 composite-CV assessment; staffing ratios and the class-teacher
ratio of small schools; class and school size limits; teacher rotation; travel time; and the
1 : 1.1 split of a nine-year school's shared resources. The built-in standards live in
``allocator/data/<name>.toml``; :func:`load_standard` reads one, a user's TOML file, or either with
overrides from a nested dict. Unknown settings raise :class:`~allocator.errors.InputError` naming
the setting.

Model of the assessment (used by :mod:`allocator.check`)
----------------------------------------------------------
Each school is split into assessed parts p (primary, junior): see :func:`assessment_parts`.
Indicator k of part p is ``v_pk = scale_k * resource_k(p) / pupils(p)`` (per 100 pupils for teacher
and room counts, per pupil for areas and money). Part p meets k when ``v_pk >= t_k`` (the threshold of
its part type; one tolerance for floating-point noise, :mod:`allocator.compliance`), and passes when
it meets at least ``min_indicators_met`` indicators and, if ``floor_share`` is set, every missed one
reaches ``floor_share * t_k``. A county passes for a part
type when every in-scope part passes and the pupil-weighted CV of each indicator (rule ``"each"``) or
the mean of those CVs (rule ``"composite"``) is at most ``cv_limit[part]``.

Staffing: required teachers = sum over grade bands of ceil(pupils_band / pupils_per_teacher_band);
for teaching points and small rural schools at least ceil(classes * class_teacher_ratio).

Beside the assessed indicators a standard lists an open set (digital campus, campus safety, teacher
training): optional school columns, reported by :func:`allocator.check.check` and not part of the
verdict unless named in ``open_assessed`` (:mod:`~allocator.standards.open_set`).

Modules: :mod:`~allocator.standards.norms` (indicators and the groups of norms),
:mod:`~allocator.standards.standard` (the Standard, its schema and loading),
:mod:`~allocator.standards.open_set` (the open indicator set) and
:mod:`~allocator.standards.assessment` (assessed parts and staffing requirements).
"""

from allocator.standards.assessment import assessment_parts, required_staff, staffing_requirements
from allocator.standards.norms import (
    INDICATOR_SCALE,
    INDICATOR_SOURCE,
    INDICATOR_UNITS,
    INDICATORS,
    KNOWN_INDICATORS,
    PARTS,
    ClassSize,
    Exclusions,
    NineYear,
    Rotation,
    SchoolSize,
    Staffing,
    Travel,
)
from allocator.standards.open_set import (
    BOARDING_COLUMN,
    OPEN_GROUPS,
    OpenIndicator,
    open_indicator_values,
)
from allocator.standards.standard import Standard, load_standard, standard_names

__all__ = [
    "Standard",
    "Staffing",
    "ClassSize",
    "SchoolSize",
    "Rotation",
    "Travel",
    "NineYear",
    "Exclusions",
    "load_standard",
    "standard_names",
    "assessment_parts",
    "staffing_requirements",
    "required_staff",
    "PARTS",
    "INDICATORS",
    "INDICATOR_SOURCE",
    "INDICATOR_SCALE",
    "INDICATOR_UNITS",
    "KNOWN_INDICATORS",
    "OpenIndicator",
    "OPEN_GROUPS",
    "BOARDING_COLUMN",
    "open_indicator_values",
]
