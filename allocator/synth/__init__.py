"""Synthetic regions modelled on Chongqing districts and counties.

The generator lays counties out on a grid of 50 km squares. The first county of a municipality is an
urban district (like Yuzhong or Liangjiang: mostly large, well-resourced urban schools); the others are
mountainous counties with a county seat (urban core), township centres (town schools: a centre primary
school and a junior or nine-year school) and villages with small primary schools and teaching points.

Calibration (see the domain notes): urban primary schools 1,500-3,000 pupils, town centre schools
500-1,500, village schools 50-300, teaching points under 50. Rural schools are teacher-rich by head
count (about 11.5 pupils a teacher) but poor in qualified, backbone and PE/arts teachers, equipment and
multimedia rooms: backbone teachers per 100 pupils are about half the urban figure. Village roads are
slow (about 25 km/h on winding mountain roads), roads between townships and the county seat faster.

Settlements (villages and urban communities) are placed around the schools, and each school's pupils
live in its two nearest settlements and, for a share, in its neighbours' - so settlement pupils add up
exactly to school enrolments band by band.

Every region is plannable under the planners' default rules, strictly: where the drawing leaves a
village band without a school within its travel limit, a school without the seats or classes for
the whole village bands that must go to it, or a high-quality school with no weaker school to send
teachers to, the generator adds the local road, the seats and classes, or lowers that school's
backbone teachers (see :func:`allocator.synth.feasible.make_feasible`); most regions need none of
it.

Schools also carry the optional columns of the open indicator set (internet access and bandwidth,
smart classrooms, devices, platform access, campus-safety items, boarding, training hours) with an
urban-town-rural gap, drawn from a random stream of their own so that the other columns do not
depend on them (:mod:`~allocator.synth.open_columns`; ``make_region(open_columns=False)`` leaves
them out).

``make_region(kindergartens=True)`` adds a kindergartens table (kindergartens beside the primary
schools, reserved sites in the city), from a stream of its own too
(:mod:`~allocator.synth.kindergartens`); ``make_region(senior_schools=True)`` a senior_schools
table (general and vocational senior schools, :mod:`~allocator.synth.senior_schools`).

Modules: :mod:`~allocator.synth.build` (sizes and the region), :mod:`~allocator.synth.draw`
(counties, schools, settlements, roads), :mod:`~allocator.synth.feasible` (the repairs),
:mod:`~allocator.synth.open_columns` (the open-indicator columns) and
:mod:`~allocator.synth.kindergartens` (the kindergartens table).
"""

from allocator.synth.build import (
    MAX_COUNTIES,
    MAX_SCHOOLS,
    MAX_SETTLEMENTS_PER_SCHOOL,
    check_sizes,
    make_region,
)

__all__ = [
    "make_region",
    "check_sizes",
    "MAX_SCHOOLS",
    "MAX_COUNTIES",
    "MAX_SETTLEMENTS_PER_SCHOOL",
]
