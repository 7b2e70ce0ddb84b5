"""The teacher categories and school needs that every part of the teacher planner shares.

A school's teachers are split into disjoint groups that move as whole heads (see
:mod:`allocator.planners.teachers.data`); its needs are its required staff and the three teacher
indicators of the 2017 assessment.

Examples
--------
>>> CATEGORIES[BACKBONE], NEEDS[1], NEED_COLUMN["backbone"]
('backbone', 'qualified', 'teachers_backbone')
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = [
    "CATEGORIES",
    "NEEDS",
    "NEED_COLUMN",
    "BACKBONE",
    "QUALIFIED",
    "PE_ARTS",
    "GENERAL",
    "COMPULSORY_LEVELS",
]

#: Disjoint groups of teachers that move (see :mod:`allocator.planners.teachers.data`).
CATEGORIES = ("backbone", "qualified", "pe_arts", "general")
#: Requirements of a school: total staff and the three 2017 teacher indicators.
NEEDS = ("staff", "qualified", "backbone", "pe_arts")
#: Need -> the schools column that counts the teachers meeting it.
NEED_COLUMN = MappingProxyType(
    {
        "staff": "teachers",
        "qualified": "teachers_qualified",
        "backbone": "teachers_backbone",
        "pe_arts": "teachers_pe_arts",
    }
)
#: Positions of the categories in :data:`CATEGORIES` (columns of the per-category arrays).
BACKBONE, QUALIFIED, PE_ARTS, GENERAL = range(4)
#: School levels of compulsory education (the default levels bound by the rotation quota).
COMPULSORY_LEVELS = ("primary", "junior", "nine_year", "teaching_point")
