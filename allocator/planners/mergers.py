"""School consolidation (撤点并校): which small schools merge into which receiving school.

The planner reads a :class:`~allocator.region.Region` and a :class:`MergerPolicy` and proposes which
primary schools, junior schools and teaching points close, where each settlement's pupils of each
grade band go (as day pupils or boarders), which primary and junior schools on one site become a
nine-year school (九年一贯制), and which receiving schools add classrooms. The optimiser proposes;
people decide: every closure in the plan says what it implies (pupils and teachers moved, the
receiving school, its class sizes and boarders, travel before and after).

Model (one mixed-integer program per county; counties do not share pupils)
--------------------------------------------------------------------------
Sets: demands d = (settlement s, band b) with P_d > 0 pupils, b in {lower_primary, upper_primary,
junior}; schools j of the county that teach one of those bands, and the county's candidate sites
for new schools (``candidate_sites``: closed before the plan, teaching the bands of their level);
candidate nine-year conversions (a, h): a primary and a junior school on one site (at most
``nine_year_site_minutes`` apart), school a absorbed by host h (existing schools only); allowed
pairs (d, j): j teaches b (or can, as a nine-year host) and the travel time t_sj <= the band's day
limit (day pupils) or, for bands that may board, <= the boarding limit (boarders); of these, each
demand keeps its ``day_candidates`` (8) nearest day schools and ``boarding_candidates`` (4) nearest
boarding schools among those the keep rules hold open, plus every nearer school that may close.
Only allowed pairs become variables.

Variables: x_dj in {0, 1} (the whole band goes to school j) for villages; for settlements that may
be split (urban communities by default, every settlement with ``split``) x_dj >= 0 is a count of
pupils; y_j in {0, 1} school j open; w_ah in {0, 1} conversion; k_j >= 0 integer classrooms added
(each adds u_j = 45 seats, 50 at junior-only schools); F_j >= 0 the funding-floor top-up.

Objective (cost mode): minimise annual yuan =
    sum_j site_cost_j y_j + sum_j F_j + sum_j e u_j k_j
    + sum_dj P_d x_dj (tau t_sj [rho if boarding] + [beta + lambda if boarding]),
with site_cost_j the yearly cost of keeping a site (``site_yuan``, or the schools' column
``site_cost_yuan`` where given: upkeep, administration, utilities; teachers' salaries are not saved,
as teachers move with the pupils; for a candidate site its ``annual_cost + build_cost /
build_years``: the one-off build cost spread evenly over ``build_years`` = 30 years, no
interest), e the annualised cost per added seat, tau the transport cost per pupil and minute of
one-way travel, rho the boarders' share of trips (they go home weekly), beta the extra
funding per boarder (200 yuan a year) and lambda the lodging cost. With ``max_schools = p``:
minimise pupil-minutes sum P_d t_sj x_dj subject to sum_j y_j <= p (expansions and new sites then
cost nothing, an opened candidate site counts as an open school, and the plan builds only the
classrooms its assignment needs).

Constraints:
    every demand placed: sum_j x_dj = 1;
    closed schools serve nobody: x_dj <= y_j (for a band a host only teaches after conversion:
    x_dj <= sum_a w_ah);
    seats: sum_d P_d x_dj <= max(C_j y_j + sum_a C_a w_aj + u_j k_j, N_j y_j + sum_a N_a w_aj),
    k_j <= the expansion limit (C_j the capacity less senior pupils, N_j the grade 1-9 pupils
    today: a school over its seats today may keep its pupils, and grows past them only within its
    seats; where N_j > C_j the max is two rows with a binary g_j);
    class sizes: sum_d P_d x_dj / cap_b <= K_j y_j + sum_a K_a w_aj + k_j (cap 45 primary, 50 junior;
    K_j the school's classes);
    school size: sum_d P_d x_dj <= L_j y_j + (2500 - L_j)+ sum_a w_aj (2000 primary/junior, 2500
    nine-year);
    funding floor: F_j >= f (m y_j - sum_d P_d x_dj) (schools under m = 100 pupils are funded as if
    they had 100);
    boarding places, for schools with a limit: sum of P_d x_dj over j's boarding pairs
    <= B_j y_j + sum_a B_a w_aj (B the ``boarding_places`` column; a nine-year host gains the
    places of the school it absorbs, and has no limit if that school has none);
    conversions: y_a + sum_h w_ah <= 1, w_ah <= y_h, sum_a w_ah <= 1;
    kept schools: y_j = 1 for must-keep schools, for the only school within the day limit of some
    grade 1-3 pupils, and for schools that also teach senior high; schools with at least
    ``min_size`` pupils stay open or become part of a nine-year school (y_j + sum_h w_jh = 1);
    every township that has a junior school keeps one: sum of its junior-teaching y_j (and hosts that
    absorb a junior school) >= 1.
Existing crowding is tolerated but never made worse: K_j, L_j and B_j are the larger of the
limit and what the school holds today (B_j: its boarders under the "before" rule below); seats as
above, so that ``seats_after`` in the plan is the capacity ``apply`` gives (less senior pupils).
A candidate site j has y_j = 0 before the plan and may open: C_j its capacity, K_j = ceil(capacity / 45) (50 for a junior site), L_j the size cap of its level, B_j
its ``boarding_places`` (none: no limit), no classrooms added (k_j = 0), no conversion; travel limits, the funding floor and max_schools as for
any school. It serves its own county only, is never kept by a keep rule, and counts for the keep
rules of the schools near it: a school is "the only one within the day limit" of grade 1-3 pupils
only if no candidate site is either, and a township's junior school may be a new junior-teaching
site of the township. With every candidate closed the model is the model without candidates, so
candidate sites never raise the optimal cost.

Before the MILPs every county is checked (:mod:`allocator.planners.mergers_check`): bands that
today's layout already fails (no school, or no seat, within their limit, even with every school
open) also get pairs x_dj to their nearest schools beyond the limit, at a penalty per pupil larger
than anything a plan can save per pupil, so that as few pupils as possible go there; counties
without a plan are left out and listed (or raise, with ``on_infeasible="error"``).

Solving: the split counts are continuous in the MILP (general integer variables with large domains
make HiGHS's root reduced-cost bookkeeping very slow); afterwards, with every other decision fixed,
each split count may round down or up by one pupil and a small integer program picks the rounding
that keeps every row (anything else if none does). The MILP is a relaxation of the whole-pupil
model, so its bound stays valid and the gap reported is that of the plan returned. A plan whose
gap exceeds ``mip_gap`` is labelled ``feasible``, never ``optimal``.

Why a model of its own rather than :mod:`allocator.location`: the generic core knows one demand per
client and one capacity per site. Here a settlement has three bands with different travel limits,
some may board at extra cost, a site's capacity is shared by bands with different class-size caps,
sites can be merged into nine-year schools that gain bands, and keep rules couple sites by
township. None of that fits ``facility_location`` without losing the rules, so the model is built
here as sparse arrays and solved through :func:`allocator.solver.solve_matrix` (one call per
county, 3-10 s for a county of 150 schools; a rounded-LP start was tried and made HiGHS slower).
The location core is the independent reference in the tests: with one band, no capacities and
``max_schools = p`` the model is exactly p-median.

Rules and definitions the plan follows
--------------------------------------
* Senior high is not re-planned: schools that teach only senior high are left out and unchanged;
  a school that teaches senior high and junior keeps its senior pupils (they hold seats and
  classes) and stays open. Settlements' senior pupils are ignored.
* A school teaches the bands of its level (primary and teaching point: grades 1-6, junior: 7-9,
  nine-year: 1-9) and any band it enrols today. Pupils go only to schools of their own county.
* "Before" travel: each settlement band attends the nearest school of its county that teaches the
  band today (the data hold no settlement-to-school enrolment); beyond the day limit a band that may
  board counts as boarders. "Before" costs use the schools' current enrolment for the funding floor.
* A closed school's receiving school is the school that receives most of the pupils of the
  settlement bands it was nearest to; if it was nobody's nearest, the nearest open school that
  teaches one of its bands. In a nine-year conversion the receiver is the host.
* A closed school may name a new site as its receiving school. New sites are listed in
  ``openings``; their annualised cost is the cost item ``new_sites`` (0 before the plan).
* :meth:`MergerPlan.apply`: closed schools are removed; their teachers (all categories), equipment
  value, multimedia rooms and their annual cost less the site cost move to the receiving school;
  floor and sports area stay with the empty buildings, except in a nine-year conversion, where the
  two schools share one site and floor area, sports area, seats and classes move too. Pupil band
  counts of every re-planned school are recomputed from the assignments; expansions add seats,
  classrooms and ``expansion_floor_m2_per_seat`` of floor area per seat; hosts become
  ``nine_year``. Teachers of kept schools stay where they are: posting them is the teacher
  planner's job. A new site becomes a school (id = site_id) with its capacity, classrooms, floor
  area ``capacity x expansion_floor_m2_per_seat``, no sports area and its ``annual_cost``; it
  starts without teachers or equipment and receives those of the schools closing into it.
* Boarding places: an optional ``boarding_places`` column of the schools table (and of the
  candidate sites) gives the boarders a school's dormitories hold; a missing column or an empty
  cell means no limit. A school never receives more boarders than its places, or than it has today
  if that is more (such a school is reported, not forced to send boarders away). The plan does not
  build dormitories: the ``schools`` table reports ``boarders_before``, ``boarders_after``,
  ``boarding_places`` and ``boarding_limit`` (what the plan may fill) so that lodging can be built
  before a closure, and ``summary`` names the schools whose places are full. In a nine-year
  conversion the places of the absorbed school join the host's (``apply`` adds them); the places
  of any other closed school stay with its buildings.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator import metrics
from allocator.errors import Infeasible, InputError
from allocator.fingerprint import region_fingerprint, require_region
from allocator.planners.mergers_check import (
    BREACH_COLUMNS,
    UNPLANNED_COLUMNS,
    breach_table,
    check_county,
    combined_error,
    solve_county,
    summary_lines,
    unplanned_table,
)
from allocator.planners.mergers_model import (
    _BAND_COLUMNS,
    _CANDIDATE_TABLE,
    BOARDING_COLUMN,
    PLANNED_BANDS,
    County,
    CountyResult,
    _available,
    _boarders_after,
    _boarding_before,
    _boarding_places,
    _boarding_room,
    _cost_items_after,
    _cost_items_before,
    _make_unit,
    _school_loads,
    _site_rows,
    classrooms_after,
)
from allocator.region import (
    AREA_TYPES,
    SCHOOL_COLUMNS,
    Region,
    _allowed,
    _numeric_column,
    _require_columns,
    _text_column,
    _unique_ids,
)
from allocator.solver import (
    SolveInfo,
    SolverOptions,
)

__all__ = ["MergerPolicy", "MergerPlan", "CandidateSite", "plan_mergers", "PLANNED_BANDS"]

_MOVING = (
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
    "equipment_value",
    "multimedia_rooms",
)
_SITE_MOVING = ("floor_area_m2", "sports_area_m2", "capacity", "classes")
_CLOSURE_COLUMNS = (
    "school_id", "receiving_school_id", "pupils", "teachers", "reason", "detail", "name", "level",
    "county", "township", "area_type", "boarders", "mean_minutes_before", "mean_minutes_after",
    "receiving_pupils_after", "receiving_class_size_after",
)  # fmt: skip
_ASSIGNMENT_COLUMNS = ("settlement_id", "band", "school_id", "pupils", "minutes", "boarding")
_EXPANSION_COLUMNS = ("school_id", "seats", "cost", "classrooms")
_OPENING_COLUMNS = (
    "site_id", "county", "township", "level", "pupils", "annual_cost", "build_cost",
    "annualised_cost", "name", "area_type", "capacity", "classes", "class_size_after", "boarders",
    "receives_from", "boarding_places",
)  # fmt: skip
_SCHOOL_TABLE_COLUMNS = (
    "school_id", "name", "county", "township", "area_type", "level", "status", "kept_because",
    "site_cost_yuan", "pupils_before", "pupils_after", "class_size_before", "class_size_after",
    "seats_after", "boarders_after", "boarders_before", "boarding_places", "boarding_limit",
)  # fmt: skip
#: Default solver settings: a relative gap of 0.1 % of the annual cost (on a county of 150 schools
#: about a fifth of one site's cost), far below the precision of travel times and prices.
DEFAULT_OPTIONS = SolverOptions(mip_gap=1e-3)
#: Largest settlements x schools for a single whole-region max_schools model (dense arrays).
_WHOLE_REGION_CELLS = 4_000_000
#: Guideline for grades 1-3 used in the travel statistics (share of pupils within it).
LOWER_PRIMARY_GUIDELINE_MINUTES = 30.0


# ------------------------------------------------------------------------------------ policy
def _bad(column: str, value, expected: str):
    raise InputError(
        f"{column}={value!r}; expected {expected}", table="policy", column=column, value=value
    )


#: Required columns of the candidate-sites table; ``name`` and ``area_type`` are optional.
CANDIDATE_COLUMNS = (
    "site_id", "county", "township", "node", "x", "y", "level", "capacity", "annual_cost",
    "build_cost",
)  # fmt: skip
_CANDIDATE_LEVELS = ("primary", "junior", "nine_year")


@dataclass(frozen=True)
class CandidateSite:
    """One site where a new school may be built (a row of ``MergerPolicy.candidate_sites``).

    ``capacity`` is in pupils (grades 1-9); the classrooms are ``ceil(capacity / 45)`` (50 for a
    junior school); ``annual_cost`` is the yearly cost of running the site once open (like the
    schools' site cost: teachers move with the pupils) and ``build_cost`` the one-off cost of
    building it. ``area_type`` may be empty (then the area type of the nearest settlement).
    ``boarding_places`` is the number of boarders its dormitories would hold (None: no limit).
    """

    site_id: str
    county: str
    township: str
    node: str
    x: float
    y: float
    level: str
    capacity: int
    annual_cost: float
    build_cost: float
    name: str = ""
    area_type: str = ""
    boarding_places: float | None = None


def _read_candidates(value) -> tuple[tuple[CandidateSite, ...], str | None]:
    """The candidate sites of a table, a CSV path or a list of records, validated on their own
    (ids, columns, numbers, levels); checks against the region come at planning time."""
    file = None
    if isinstance(value, str | Path):
        file = str(value)
        path = Path(value)
        if not path.is_file():
            raise InputError(
                "file not found; expected a CSV file of candidate sites (UTF-8) with columns "
                + ", ".join(CANDIDATE_COLUMNS),
                table=_CANDIDATE_TABLE,
                file=file,
            )
        text = ("site_id", "county", "township", "node", "level", "name", "area_type")
        try:
            df = pd.read_csv(
                path,
                encoding="utf-8-sig",
                dtype=dict.fromkeys(text, str),
                na_values=[""],
                float_precision="round_trip",
            )
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV",
                table=_CANDIDATE_TABLE,
                file=file,
            ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(
                f"cannot parse as CSV: {exc}", table=_CANDIDATE_TABLE, file=file
            ) from None
    elif isinstance(value, pd.DataFrame):
        df = value
    elif _is_list(value) and all(isinstance(v, CandidateSite) for v in value):
        return tuple(value), None
    elif _is_list(value) and all(isinstance(v, Mapping) for v in value):
        df = pd.DataFrame(list(value))
    else:
        raise InputError(
            f"expected a table, a CSV file name or a list of sites, got {type(value).__name__}",
            table="policy",
            column=_CANDIDATE_TABLE,
        )
    try:
        return _candidate_records(df), file
    except InputError as exc:
        if file is None:
            raise
        raise exc.located(file, None if exc.row is None else exc.row + 2) from None


def _candidate_records(df: pd.DataFrame) -> tuple[CandidateSite, ...]:
    table, key = _CANDIDATE_TABLE, "site_id"
    _require_columns(df, table, CANDIDATE_COLUMNS)
    df = df.reset_index(drop=True).copy()
    for column in ("name", "area_type"):
        if column not in df.columns:
            df[column] = ""
        df[column] = df[column].where(df[column].notna(), "")
    for column in ("site_id", "county", "township", "node", "level", "name", "area_type"):
        _text_column(df, table, column, key)
    _unique_ids(df, table, key)
    _allowed(df, table, "level", key, _CANDIDATE_LEVELS)
    _allowed(df, table, "area_type", key, ("", *AREA_TYPES))
    for column in ("x", "y"):
        _numeric_column(df, table, column, key, whole=False, nonnegative=False)
    for column in ("annual_cost", "build_cost"):
        _numeric_column(df, table, column, key, whole=False, nonnegative=True)
    _numeric_column(df, table, "capacity", key, whole=True, nonnegative=True)
    places = _boarding_places(df, table, key)
    empty = np.flatnonzero(df["capacity"].to_numpy() < 1)
    if len(empty):
        pos = int(empty[0])
        raise InputError(
            "capacity 0; expected the pupils the new school would seat (a whole number >= 1)",
            table=table,
            row_id=df[key].iloc[pos],
            row=pos,
            column="capacity",
            value=0,
        )
    return tuple(
        CandidateSite(
            site_id=r.site_id,
            county=r.county,
            township=r.township,
            node=r.node,
            x=float(r.x),
            y=float(r.y),
            level=r.level,
            capacity=int(r.capacity),
            annual_cost=float(r.annual_cost),
            build_cost=float(r.build_cost),
            name=r.name,
            area_type=r.area_type,
            boarding_places=None if math.isinf(b) else float(b),
        )
        for r, b in zip(df.itertuples(index=False), places, strict=True)
    )


@dataclass(frozen=True)
class MergerPolicy:
    """Rules and prices of a consolidation plan; every number can be overridden.

    Parameters
    ----------
    lower_primary_minutes, upper_primary_minutes, junior_minutes : float
        Day-travel limit (one way) per band: 30 / 45 / 60 minutes.
    boarding_bands : tuple of str
        Bands that may board beyond their day limit: ``("upper_primary", "junior")``. Grades 1-3
        never board (``lower_primary`` is refused).
    boarding_minutes : float
        Travel limit for boarders (one way, weekly trips): 90.
    day_candidates : int or None
        Each settlement band considers, within its day limit, its 8 nearest schools that the keep
        rules hold open and every nearer school that may close (None: every school within the
        limit). On synthetic counties of 150 schools 8 gave the same optimum as all schools at
        half the solve time.
    boarding_candidates : int
        Boarders attend one of the 4 nearest schools beyond their day limit that the keep rules hold
        open (or a nearer school that may close): boarding schools are few, and the restriction
        keeps the model small.
    boarding_yuan_per_boarder : float
        Extra annual funding per boarder: 200 yuan (domain norm).
    lodging_yuan_per_boarder : float
        Annual lodging cost per boarder (dormitory, meals, life teachers): 3000 yuan (a planning
        assumption, unconfirmed; set your own).
    transport_yuan_per_pupil_minute : float
        Annual cost of one minute of one-way daily travel for one pupil (two trips a school day,
        about 190 days): 100 yuan (assumption; set your own).
    boarder_trip_share : float
        Boarders' trips as a share of day pupils' (weekly instead of daily): 0.2.
    site_yuan : float
        Annual cost of keeping a school site open that closing it saves (administration, upkeep,
        utilities, guards, canteen): 300,000 yuan (assumption; set your own). A ``site_cost_yuan``
        column in the schools table overrides it per school. Teachers' salaries are not part of it:
        teachers move with the pupils.
    funding_floor_pupils, funding_yuan_per_pupil : int, float
        Schools with fewer than 100 pupils are funded as if they had 100; per-pupil public funding
        600 yuan a year (central and western primary benchmark).
    primary_class_size, junior_class_size : int
        Class-size caps: 45 and 50.
    school_size, nine_year_school_size : int
        School-size caps: 2000 pupils (primary, junior) and 2500 (nine-year).
    must_keep : tuple of str
        School ids that stay open whatever it costs.
    township_keeps_junior : bool
        Every township that has a junior-teaching school keeps one (True).
    keep_sole_lower_primary : bool
        Keep a school or teaching point that is the only one within the day limit of some grade 1-3
        pupils (True).
    allow_nine_year : bool
        Let a primary and a junior school on one site become one nine-year school (True).
    nine_year_site_minutes : float
        Two schools at most this far apart by road count as one site: 5 minutes.
    min_size : int
        Schools with fewer pupils (grades 1-9) than this are proposed for merging; schools at or
        above it stay open (or become part of a nine-year school on their own site): 100. Use 0 to
        let the optimiser consider every school.
    expansion_yuan_per_seat : float
        Annualised cost of one added seat: 1500 yuan a year (about 20,000 yuan a seat repaid over
        20 years at about 5 % interest; an assumed figure).
    max_expansion_share : float
        Seats a school may add, as a share of its capacity: 0.3.
    expansion_floor_m2_per_seat : float
        Floor area each added seat brings (applied by ``apply``): 4.5 m².
    max_schools : int or dict, optional
        Minimise pupil travel with at most this many schools open instead of minimising cost. A
        number limits the whole region (the counties are then solved as one model, with dense
        travel arrays: refused above 4 million settlement x school pairs, about 1,400 schools);
        a table ``{county: number}`` limits each county listed.
    split : bool
        Let every settlement's band be split between schools (False: a village's children go to
        the same school).
    split_area_types : tuple of str
        Settlements of these area types may be split even when ``split`` is False: ``("urban",)``
        (city catchments follow streets, and a community of hundreds of pupils per band often
        fills more than one school's spare seats).
    candidate_sites : pandas.DataFrame, str or Path, optional
        Sites where a new school may be built (None: none). A table, or the name of a CSV file
        (UTF-8, a byte-order mark is allowed), one row per site: ``site_id`` (unique, not a
        school id), ``county``, ``township``, ``node`` (a road node), ``x``, ``y``, ``level``
        (``primary``, ``junior`` or ``nine_year``: the bands it would teach), ``capacity``
        (pupils; its classrooms are capacity / 45 rounded up, / 50 for a junior school),
        ``annual_cost`` (yuan a year of running the site once open, like ``site_yuan``:
        teachers move with the pupils) and ``build_cost`` (one-off yuan); optional ``name`` and
        ``area_type`` (default: that of the nearest settlement) and ``boarding_places`` (boarders
        its dormitories hold; empty: no limit). A site is closed before the plan;
        the optimiser may open it at ``annual_cost + build_cost / build_years`` a year, and it
        then serves pupils of its own county like any school (travel limits, seats, class sizes,
        funding floor; no expansion, no nine-year conversion). Stored as a tuple of
        :class:`CandidateSite` (so that the policy stays immutable and comparable); a file is read
        when the policy is made.
    build_years : float
        Years over which a new site's ``build_cost`` is spread (straight line, like the 20-year
        rule of ``expansion_yuan_per_seat``; no interest): 30.
    on_infeasible : {"report", "error"}
        What a county without a plan does. ``"report"`` (default): bands today's layout already
        fails (no school, or no seat, within their limit) go to the nearest schools beyond it,
        as few pupils as any plan allows (``plan.breaches``); a county that still has no plan is
        left as it is and listed in ``plan.unplanned`` while the others are planned. ``"error"``:
        no pupil beyond a limit, and :class:`~allocator.errors.Infeasible` naming every county
        without a plan (all are checked before the long solves).

    Raises
    ------
    InputError
        A value out of range, naming the field.

    Examples
    --------
    >>> import dataclasses
    >>> policy = MergerPolicy(min_size=150, must_keep=["C00S0003"])
    >>> policy.must_keep
    ('C00S0003',)
    >>> dataclasses.replace(policy, junior_minutes=50).junior_minutes
    50

    A central school that may be built in township T01 (30 million yuan spread over 30 years):

    >>> import pandas as pd
    >>> sites = pd.DataFrame([{"site_id": "NEW1", "county": "C00", "township": "T01",
    ...     "node": "n12", "x": 3.0, "y": 4.0, "level": "nine_year", "capacity": 900,
    ...     "annual_cost": 400_000, "build_cost": 30_000_000}])
    >>> policy = MergerPolicy(candidate_sites=sites)
    >>> policy.candidate_sites[0].capacity, policy.candidate_sites[0].build_cost / policy.build_years
    (900, 1000000.0)
    >>> policy == MergerPolicy(candidate_sites=sites.copy())
    True
    """

    lower_primary_minutes: float = 30.0
    upper_primary_minutes: float = 45.0
    junior_minutes: float = 60.0
    boarding_bands: tuple[str, ...] = ("upper_primary", "junior")
    boarding_minutes: float = 90.0
    boarding_candidates: int = 4
    day_candidates: int | None = 8
    boarding_yuan_per_boarder: float = 200.0
    lodging_yuan_per_boarder: float = 3000.0
    transport_yuan_per_pupil_minute: float = 100.0
    boarder_trip_share: float = 0.2
    site_yuan: float = 300_000.0
    funding_floor_pupils: int = 100
    funding_yuan_per_pupil: float = 600.0
    primary_class_size: int = 45
    junior_class_size: int = 50
    school_size: int = 2000
    nine_year_school_size: int = 2500
    must_keep: tuple[str, ...] = ()
    township_keeps_junior: bool = True
    keep_sole_lower_primary: bool = True
    allow_nine_year: bool = True
    nine_year_site_minutes: float = 5.0
    min_size: int = 100
    expansion_yuan_per_seat: float = 1500.0
    max_expansion_share: float = 0.3
    expansion_floor_m2_per_seat: float = 4.5
    max_schools: int | dict[str, int] | None = None
    split: bool = False
    split_area_types: tuple[str, ...] = ("urban",)
    candidate_sites: pd.DataFrame | str | Path | tuple[CandidateSite, ...] | None = None
    build_years: float = 30.0
    on_infeasible: str = "report"
    #: The CSV file the candidate sites were read from (for error messages), if any.
    candidate_sites_file: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self):
        self._number("build_years", positive=True)
        if self.on_infeasible not in ("report", "error"):
            _bad("on_infeasible", self.on_infeasible, "'report' or 'error'")
        if self.candidate_sites is not None:
            sites, file = _read_candidates(self.candidate_sites)
            object.__setattr__(self, "candidate_sites", sites)
            object.__setattr__(self, "candidate_sites_file", file)
        for name in ("lower_primary_minutes", "upper_primary_minutes", "junior_minutes"):
            self._number(name, positive=True)
        self._number("boarding_minutes", positive=True)
        for name in (
            "boarding_yuan_per_boarder",
            "lodging_yuan_per_boarder",
            "transport_yuan_per_pupil_minute",
            "funding_yuan_per_pupil",
            "expansion_yuan_per_seat",
            "max_expansion_share",
            "expansion_floor_m2_per_seat",
            "nine_year_site_minutes",
        ):
            self._number(name)
        self._number("site_yuan")
        for name in ("boarder_trip_share",):
            self._number(name, upper=1.0)
        self._integer("boarding_candidates", low=1)
        if self.day_candidates is not None:
            self._integer("day_candidates", low=1)
        for name in ("funding_floor_pupils", "min_size"):
            self._integer(name, low=0)
        for name in ("primary_class_size", "junior_class_size", "school_size"):
            self._integer(name, low=1)
        self._integer("nine_year_school_size", low=1)
        if self.school_size < self.min_size:
            _bad(
                "school_size",
                self.school_size,
                f"at least min_size={self.min_size}: schools of min_size pupils or more stay "
                "open, so the size cap cannot be below it",
            )
        for name in (
            "township_keeps_junior",
            "keep_sole_lower_primary",
            "allow_nine_year",
            "split",
        ):
            if not isinstance(getattr(self, name), bool):
                _bad(name, getattr(self, name), "true or false")
        bands = self.boarding_bands
        if isinstance(bands, str) or not _is_list(bands):
            _bad("boarding_bands", bands, "a list of band names")
        bands = tuple(bands)
        for band in bands:
            if band == "lower_primary":
                _bad("boarding_bands", bands, "no lower_primary: grades 1-3 do not board")
            if band not in PLANNED_BANDS:
                _bad("boarding_bands", bands, "bands among upper_primary, junior")
        object.__setattr__(self, "boarding_bands", tuple(dict.fromkeys(bands)))
        keep = self.must_keep
        if isinstance(keep, str) or not _is_list(keep) or not all(isinstance(k, str) for k in keep):
            _bad("must_keep", keep, "a list of school ids (text)")
        object.__setattr__(self, "must_keep", tuple(keep))
        areas = self.split_area_types
        if isinstance(areas, str) or not _is_list(areas) or not set(areas) <= set(AREA_TYPES):
            _bad("split_area_types", areas, f"a list of area types among {', '.join(AREA_TYPES)}")
        object.__setattr__(self, "split_area_types", tuple(areas))
        p = self.max_schools
        if p is not None:
            if isinstance(p, Mapping):
                for county, value in p.items():
                    if not isinstance(county, str) or not _whole(value) or value < 1:
                        _bad("max_schools", p, "a table county -> whole number >= 1")
                object.__setattr__(self, "max_schools", {k: int(v) for k, v in p.items()})
            elif not _whole(p) or p < 1:
                _bad("max_schools", p, "a whole number >= 1, or a table county -> number")

    def _number(self, name: str, positive: bool = False, upper: float | None = None):
        value = getattr(self, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > 0 if positive else value >= 0)
        ok = ok and (upper is None or value <= upper)
        if not ok:
            what = "a number > 0" if positive else "a number >= 0"
            if upper is not None:
                what = f"a number between 0 and {upper:g}"
            _bad(name, value, what)

    def _integer(self, name: str, low: int):
        value = getattr(self, name)
        if not _whole(value) or value < low:
            _bad(name, value, f"a whole number >= {low}")

    def day_minutes(self, band: str) -> float:
        """The day-travel limit of a band, e.g. ``policy.day_minutes("junior") == 60``."""
        return float(getattr(self, f"{band}_minutes"))

    def class_size(self, band: str) -> int:
        """The class-size cap of a band (45 for primary bands, 50 for junior)."""
        return self.junior_class_size if band == "junior" else self.primary_class_size


def _is_list(value) -> bool:
    return isinstance(value, list | tuple)


def _whole(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
    )


# ------------------------------------------------------------------------------------ the plan
@dataclass
class MergerPlan:
    """A consolidation plan: closures, assignments, expansions, costs and travel before/after.

    Attributes
    ----------
    closures : pandas.DataFrame
        One row per closed school: ``school_id, receiving_school_id, pupils, teachers, reason`` and
        what the closure implies (``name, level, township, area_type, boarders,
        mean_minutes_before, mean_minutes_after, receiving_pupils_after,
        receiving_class_size_after``). ``reason`` is ``small_school``, ``nine_year`` or
        ``max_schools``; ``detail`` says it in words.
    assignments : pandas.DataFrame
        ``settlement_id, band, school_id, pupils, minutes, boarding`` (one row per settlement band
        and school).
    expansions : pandas.DataFrame
        ``school_id, seats, cost`` (annualised yuan) and ``classrooms``.
    openings : pandas.DataFrame
        One row per candidate site the plan builds (``MergerPolicy.candidate_sites``):
        ``site_id, county, township, level, pupils, annual_cost, build_cost``, then
        ``annualised_cost`` (annual cost + build cost / build_years), ``name, area_type, capacity,
        classes, class_size_after, boarders``, ``receives_from`` (the closed schools whose
        receiving school it is, joined by ``;``) and ``boarding_places`` (NaN: no limit). Empty
        without candidate sites.
    schools : pandas.DataFrame
        Every re-planned school: ``status`` (open, closed, nine_year_host), ``kept_because`` (the
        keep rule of an open school; empty for a closed one), pupils and class size before/after,
        ``seats_after`` (the capacity after ``apply`` less senior pupils: pupils_after never
        exceeds it unless the school, with an absorbed partner, holds more than that today), boarders received (``boarders_after``) and boarding
        today (``boarders_before``), ``boarding_places`` (of the data, with those of an absorbed
        school for a nine-year host; NaN: no limit) and ``boarding_limit`` (the most boarders the
        plan may place there: the places, or today's boarders if more; NaN: no limit; 0 when
        closed).
    costs : pandas.DataFrame
        Annual cost by item (sites, funding_floor, expansion, transport, boarding, total; with
        candidate sites also new_sites, their annualised cost): ``before, after, change`` in yuan.
    travel : pandas.DataFrame
        By ``area_type`` (of the settlement; ``all`` for everyone) and ``stage`` (before/after):
        pupils, mean, 95th percentile and maximum one-way minutes (pupil-weighted), boarders, share of
        grade 1-3 pupils within 30 minutes.
    counties : pandas.DataFrame
        Per planned county: schools, variables, status, gap, seconds.
    unplanned : pandas.DataFrame
        Counties left as they are because no plan meets the rules there (only with
        ``on_infeasible="report"``): ``county, schools, settlements``, the ``requirement`` that
        fails most, the ``amount`` it fails by (pupils, schools, ...) and the ``reason`` in words.
        Their schools are not in the other tables and ``apply`` leaves them unchanged.
    breaches : pandas.DataFrame
        Where today's layout already breaks a rule, so that the plan must too (empty with
        ``on_infeasible="error"``): ``county, settlement_id, band, pupils, school_id, minutes,
        limit_minutes, rule, reason``. ``rule`` is ``travel_limit`` for pupils placed beyond
        their band's limit (no school, or no seat, within it; as few as any plan allows) and
        ``whole_village`` for a village band split between schools because no plan, not even
        with today's schools all open, puts every whole band at one school.
    solve_info : SolveInfo
        Aggregate over the planned counties: the worst status, the largest gap, total objective
        (with a penalty for every pupil beyond a limit) and time.
    policy : MergerPolicy

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_mergers(region)
    >>> after = plan.apply(region)
    >>> len(after.schools) == len(region.schools) - len(plan.closures)
    True
    >>> int(plan.assignments["pupils"].sum()) == int(region.settlements[
    ...     ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].to_numpy().sum())
    True
    """

    closures: pd.DataFrame
    assignments: pd.DataFrame
    expansions: pd.DataFrame
    schools: pd.DataFrame
    costs: pd.DataFrame
    travel: pd.DataFrame
    counties: pd.DataFrame
    solve_info: SolveInfo
    policy: MergerPolicy
    region_name: str = ""
    openings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_OPENING_COLUMNS))
    unplanned: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(UNPLANNED_COLUMNS))
    )
    breaches: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(BREACH_COLUMNS))
    )
    region_fingerprint: str | None = field(default=None, repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (written as CSV by the scenario runner)."""
        return {
            "closures": self.closures,
            "assignments": self.assignments,
            "expansions": self.expansions,
            "openings": self.openings,
            "schools": self.schools,
            "costs": self.costs,
            "travel": self.travel,
            "counties": self.counties,
            "unplanned": self.unplanned,
            "breaches": self.breaches,
        }

    # ------------------------------------------------------------------ figures
    def _travel_value(self, stage: str, column: str, area: str = "all") -> float:
        row = self.travel[(self.travel["stage"] == stage) & (self.travel["area_type"] == area)]
        return float(row[column].iloc[0]) if len(row) else float("nan")

    def _cost(self, item: str, stage: str) -> float:
        return float(self.costs.loc[self.costs["item"] == item, stage].iloc[0])

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict (for result files and comparisons).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> plan = plan_mergers(make_region(schools=40, seed=3))
        >>> h = plan.headline()
        >>> h["schools_after"] == h["schools_before"] - h["schools_closed"] + h["new_schools_built"]
        True
        """
        info = self.solve_info
        opened = int(len(self.openings))
        out = {
            "mode": "travel" if self.policy.max_schools is not None else "cost",
            "schools_before": int(len(self.schools)),
            "schools_after": int((self.schools["status"] != "closed").sum()) + opened,
            "schools_closed": int(len(self.closures)),
            "new_schools_built": opened,
            "nine_year_conversions": int((self.closures["reason"] == "nine_year").sum()),
            "pupils_of_closed_schools": int(self.closures["pupils"].sum()),
            "teachers_moved": int(self.closures["teachers"].sum()),
            "expansion_seats": int(self.expansions["seats"].sum()),
            "annual_cost_before_yuan": round(self._cost("total", "before"), 2),
            "annual_cost_after_yuan": round(self._cost("total", "after"), 2),
            "annual_saving_yuan": round(-self._cost("total", "change"), 2),
        }
        for stage in ("before", "after"):
            out[f"boarders_{stage}"] = int(self._travel_value(stage, "boarders"))
            out[f"mean_minutes_{stage}"] = round(self._travel_value(stage, "mean_minutes"), 3)
            out[f"p95_minutes_{stage}"] = round(self._travel_value(stage, "p95_minutes"), 3)
            out[f"max_minutes_{stage}"] = round(self._travel_value(stage, "max_minutes"), 3)
            out[f"lower_primary_within_30_{stage}"] = round(
                self._travel_value(stage, "lower_primary_within_30_share"), 4
            )
        out["unplanned_counties"] = int(len(self.unplanned))
        beyond = self.breaches["rule"] == "travel_limit"
        out["pupils_beyond_limits"] = int(self.breaches.loc[beyond, "pupils"].sum())
        out.update(
            status=info.status,
            gap=None if info.gap is None else float(info.gap),
            seconds=round(float(info.seconds), 3),
        )
        return out

    def summary(self) -> str:
        """A short text a planner reads in 30 seconds."""
        h = self.headline()
        lines = [
            f"School consolidation plan for {self.region_name or 'the region'} "
            f"({h['mode']} mode; {self.solve_info.describe()})",
            f"  schools: {h['schools_before']} -> {h['schools_after']} "
            f"({h['schools_closed']} closed, {h['nine_year_conversions']} of them into nine-year "
            f"schools"
            + (
                f"; {h['new_schools_built']} new school{'s' if h['new_schools_built'] > 1 else ''} "
                "built"
                if h["new_schools_built"]
                else ""
            )
            + f"); {h['pupils_of_closed_schools']} pupils and {h['teachers_moved']} teachers "
            "of closed schools move",
            f"  annual cost: {h['annual_cost_before_yuan'] / 1e6:,.2f} -> "
            f"{h['annual_cost_after_yuan'] / 1e6:,.2f} million yuan"
            + (f"; {h['expansion_seats']} seats added" if h["expansion_seats"] else ""),
            f"  travel (one way, pupil-weighted): mean {h['mean_minutes_before']:.1f} -> "
            f"{h['mean_minutes_after']:.1f} min, 95th percentile {h['p95_minutes_before']:.1f} -> "
            f"{h['p95_minutes_after']:.1f} min, max {h['max_minutes_before']:.1f} -> "
            f"{h['max_minutes_after']:.1f} min",
            f"  grades 1-3 within 30 min: {h['lower_primary_within_30_before']:.1%} -> "
            f"{h['lower_primary_within_30_after']:.1%}; boarders {h['boarders_before']} -> "
            f"{h['boarders_after']}",
        ]
        if len(self.closures):
            lines.append(
                "  largest closures (school -> receiver, pupils, minutes before -> after):"
            )
            top = self.closures.sort_values("pupils", ascending=False).head(5)
            for r in top.itertuples():
                lines.append(
                    f"    {r.school_id} {r.name} -> {r.receiving_school_id}: {r.pupils} pupils, "
                    f"{r.mean_minutes_before:.0f} -> {r.mean_minutes_after:.0f} min, "
                    f"{r.boarders} boarders ({r.reason})"
                )
        full = self._full_dormitories()
        if len(full):
            words = [
                f"{r.school_id} {r.boarders_after}/{r.boarding_places:g}"
                + (
                    f" ({r.boarders_before} board there today)"
                    if r.boarders_before > r.boarding_places
                    else ""
                )
                for r in full.head(8).itertuples()
            ]
            lines.append(
                f"  at the boarding limit ({len(full)} school{'s' if len(full) > 1 else ''}, "
                "boarders/places): " + ", ".join(words) + (" ..." if len(full) > 8 else "")
            )
        if len(self.openings):
            lines.append(
                "  new schools (site, level, pupils, build cost, yearly cost with building):"
            )
            for r in self.openings.itertuples():
                lines.append(
                    f"    {r.site_id} {r.name} ({r.township}, {r.level}): {r.pupils} pupils of "
                    f"{r.capacity} seats, build {r.build_cost / 1e6:,.2f} million yuan, "
                    f"{r.annualised_cost / 1e6:,.2f} million a year"
                    + (
                        f", receives {r.receives_from.replace(';', ', ')}"
                        if r.receives_from
                        else ""
                    )
                )
        lines += summary_lines(self.breaches, self.unplanned)
        lines.append("  The optimiser proposes; closures need review, hearings and approval.")
        return "\n".join(lines)

    def _full_dormitories(self) -> pd.DataFrame:
        """Open schools with a boarding limit that has no room for one more boarder."""
        s = self.schools
        if "boarding_limit" not in s.columns or not len(s):
            return s.iloc[:0]
        limit = s["boarding_limit"].to_numpy(dtype=float)
        board = s["boarders_after"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            full = (s["status"] != "closed").to_numpy() & (limit > 0) & (board + 1 > limit + 1e-9)
        return s[full]

    # ------------------------------------------------------------------ after the plan
    def _new_school_rows(self, schools: pd.DataFrame) -> pd.DataFrame:
        """Rows of the schools table for the sites the plan builds (pupils filled in later)."""
        sites = {c.site_id: c for c in self.policy.candidate_sites or ()}
        rows = []
        for r in self.openings.itertuples():
            c = sites[r.site_id]
            row = dict.fromkeys(schools.columns, np.nan)
            row.update(dict.fromkeys(SCHOOL_COLUMNS, 0))
            row.update(
                school_id=c.site_id,
                name=r.name,
                county=c.county,
                township=c.township,
                area_type=r.area_type,
                level=c.level,
                node=c.node,
                x=c.x,
                y=c.y,
                classes=int(r.classes),
                capacity=int(c.capacity),
                floor_area_m2=c.capacity * self.policy.expansion_floor_m2_per_seat,
                sports_area_m2=0.0,
                equipment_value=0.0,
                annual_cost=c.annual_cost,
            )
            if "site_cost_yuan" in schools.columns:
                row["site_cost_yuan"] = c.annual_cost
            if BOARDING_COLUMN in schools.columns and c.boarding_places is not None:
                row[BOARDING_COLUMN] = c.boarding_places
            rows.append(row)
        return pd.DataFrame(rows, columns=schools.columns)

    def to_geodataframes(self, region: Region | None = None, crs=None) -> dict:
        """The plan's tables as GeoDataFrames placed on ``region`` (the region it was made for).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); the layers are those of
        :func:`allocator.gis.export.plan_geodataframes`.
        """
        from allocator.gis import to_geodataframes

        return to_geodataframes(self, region, crs)

    def apply(self, region: Region) -> Region:
        """The region after the plan (a new, validated Region).

        Closed schools are removed. Their teachers (every category), equipment value, multimedia
        rooms and their annual cost less the site cost move to the receiving school; floor and
        sports area stay with the buildings, except in a nine-year conversion (one site), where
        floor area, sports area, seats and classes move too. Pupil bands of every re-planned
        school are the sums of its assignments (senior high unchanged); expansions add seats,
        classrooms and floor area; hosts of conversions become ``nine_year``.

        Each new school the plan builds (``openings``) becomes a row of the schools table:
        ``school_id`` = ``site_id``, its level, node, coordinates, capacity and classrooms, floor
        area ``capacity x expansion_floor_m2_per_seat``, no sports area, its ``annual_cost``;
        pupils from the assignments. It starts with no teachers or equipment: like any receiving
        school it gets those of the schools that close into it (teachers move with their pupils).
        Pupils it takes from schools that stay open come without teachers (posting teachers is the
        teacher planner's job).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_mergers(region)
        >>> after = plan.apply(region)
        >>> int(after.schools["teachers"].sum()) == int(region.schools["teachers"].sum())
        True
        """
        require_region(self.region_fingerprint, region, "merger plan")
        schools = region.schools.copy()
        index = pd.Index(schools["school_id"])
        missing = set(self.schools["school_id"]) - set(index)
        if missing:
            raise InputError(
                f"the plan names schools the region does not have: {sorted(missing)[:5]}; "
                "apply a plan to the region it was made for",
                table="schools",
                column="school_id",
            )
        if len(self.openings):
            built = set(self.openings["site_id"]) & set(index)
            if built:
                raise InputError(
                    f"the region already has schools {sorted(built)[:5]} the plan would build; "
                    "apply a plan to the region it was made for",
                    table="schools",
                    column="school_id",
                )
            sites = {c.site_id: c for c in self.policy.candidate_sites or ()}
            limited = any(sites[s].boarding_places is not None for s in self.openings["site_id"])
            if limited and BOARDING_COLUMN not in schools.columns:
                schools[BOARDING_COLUMN] = np.nan  # no limit for the schools of the region
            schools = pd.concat([schools, self._new_school_rows(schools)], ignore_index=True)
            index = pd.Index(schools["school_id"])
        pos = {sid: i for i, sid in enumerate(index)}
        planned = [pos[s] for s in (*self.schools["school_id"], *self.openings["site_id"])]
        totals = (
            self.assignments.groupby(["school_id", "band"])["pupils"].sum().unstack(fill_value=0)
        )
        for band, column in zip(PLANNED_BANDS, _BAND_COLUMNS, strict=True):
            values = np.zeros(len(schools), dtype=np.int64)
            if band in totals.columns:
                for sid, v in totals[band].items():
                    values[pos[sid]] = int(v)
            col = schools[column].to_numpy().copy()
            col[planned] = values[planned]
            schools[column] = col
        site = dict(zip(self.schools["school_id"], self.schools["site_cost_yuan"], strict=True))
        for r in self.closures.itertuples():
            a, h = pos[r.school_id], pos[r.receiving_school_id]
            moving = _MOVING + (_SITE_MOVING if r.reason == "nine_year" else ())
            for column in moving:
                schools.loc[h, column] = schools.loc[h, column] + schools.loc[a, column]
            schools.loc[h, "annual_cost"] += max(
                0.0, schools.loc[a, "annual_cost"] - site[r.school_id]
            )
            if r.reason == "nine_year" and BOARDING_COLUMN in schools.columns:
                # one site: the dormitories are the host's (an empty cell, no limit, stays one)
                own, extra = (
                    pd.to_numeric(schools.loc[i, BOARDING_COLUMN], errors="coerce") for i in (h, a)
                )
                schools.loc[h, BOARDING_COLUMN] = own + extra
        for r in self.expansions.itertuples():
            h = pos[r.school_id]
            schools.loc[h, "capacity"] += int(r.seats)
            schools.loc[h, "classes"] += int(r.classrooms)
            schools.loc[h, "floor_area_m2"] += (
                float(r.seats) * self.policy.expansion_floor_m2_per_seat
            )
        for sid in self.closures.loc[self.closures["reason"] == "nine_year", "receiving_school_id"]:
            schools.loc[pos[sid], "level"] = "nine_year"
        closed = [pos[s] for s in self.closures["school_id"]]
        keep = np.ones(len(schools), dtype=bool)
        keep[closed] = False
        return region.replace(schools=schools[keep].reset_index(drop=True))


# ------------------------------------------------------------------------------------ tables
def _assignments(res: CountyResult) -> pd.DataFrame:
    model, unit = res.model, res.unit
    used = res.pupils > 0
    return pd.DataFrame(
        {
            "settlement_id": unit.settlements["settlement_id"].to_numpy()[model.ps[used]],
            "band": np.array(PLANNED_BANDS, dtype=object)[model.pb[used]],
            "school_id": unit.schools["school_id"].to_numpy()[model.pj[used]],
            "pupils": res.pupils[used].astype(np.int64),
            "minutes": np.round(model.pt[used], 3),
            "boarding": model.pboard[used],
        }
    )


def _travel_rows(res: CountyResult) -> pd.DataFrame:
    """Per pupil group (settlement, band): area type, pupils, minutes and boarding, both stages."""
    model, unit, policy = res.model, res.unit, res.model.policy
    area = unit.settlements["area_type"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    before = pd.DataFrame(
        {
            "stage": "before",
            "area_type": area[ds],
            "band": db,
            "pupils": unit.demand[ds, db],
            "minutes": res.before_minutes[ds, db],
            "boarding": _boarding_before(res.before_minutes, policy)[ds, db],
        }
    )
    used = res.pupils > 0
    after = pd.DataFrame(
        {
            "stage": "after",
            "area_type": area[model.ps[used]],
            "band": model.pb[used],
            "pupils": res.pupils[used],
            "minutes": model.pt[used],
            "boarding": model.pboard[used],
        }
    )
    return pd.concat([before, after], ignore_index=True)


def _reachable_p95(values: np.ndarray, weights: np.ndarray) -> float:
    """Pupil-weighted 95th percentile of the reachable trips (NaN when there are none)."""
    ok = np.isfinite(values) & (weights > 0)
    return metrics.percentile(values[ok], 95, weights=weights[ok]) if ok.any() else float("nan")


def _travel_table(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for stage in ("before", "after"):
        for area in ("urban", "town", "rural", "all"):
            g = rows[(rows["stage"] == stage) & ((rows["area_type"] == area) | (area == "all"))]
            m = g["minutes"].to_numpy(dtype=float)
            w = g["pupils"].to_numpy(dtype=float)
            reach = np.isfinite(m)
            lp = (g["band"].to_numpy() == 0) & reach
            lp_total = w[g["band"].to_numpy() == 0].sum()
            within = w[lp & (m <= LOWER_PRIMARY_GUIDELINE_MINUTES + 1e-9)].sum()
            if not len(g):
                continue
            out.append(
                {
                    "stage": stage,
                    "area_type": area,
                    "pupils": int(w.sum()),
                    "mean_minutes": float((m[reach] * w[reach]).sum() / max(w[reach].sum(), 1e-12)),
                    "p95_minutes": _reachable_p95(m, w),
                    "max_minutes": float(m[reach & (w > 0)].max())
                    if (reach & (w > 0)).any()
                    else np.nan,
                    "boarders": int(w[g["boarding"].to_numpy(dtype=bool)].sum()),
                    "lower_primary_within_30_share": float(within / lp_total)
                    if lp_total
                    else np.nan,
                    "unreachable_pupils": int(w[~reach].sum()),
                }
            )
    return pd.DataFrame(out)


def _school_table(res: CountyResult) -> pd.DataFrame:
    model, unit = res.model, res.unit
    load = _school_loads(res)
    seats, _, _ = _available(res)
    hosts = np.zeros(model.n_schools, dtype=bool)
    hosts[model.conv[res.converted, 1]] = True
    board = _boarders_after(res)
    places, room = _boarding_room(res)
    total = load.sum(axis=1)
    classes_after = classrooms_after(res)  # as apply counts them
    s = unit.schools
    before_classes = s["classes"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "school_id": s["school_id"].to_numpy(),
            "name": s["name"].to_numpy(),
            "county": s["county"].to_numpy(),
            "township": s["township"].to_numpy(),
            "area_type": s["area_type"].to_numpy(),
            "level": s["level"].to_numpy(),
            "status": np.where(~res.open_, "closed", np.where(hosts, "nine_year_host", "open")),
            # a rule that would keep a school says nothing once it closes into a nine-year school
            "kept_because": np.where(res.open_, np.array(model.kept_because, dtype=object), ""),
            "site_cost_yuan": model.site_cost,
            "pupils_before": unit.current.sum(axis=1),
            "pupils_after": total.astype(np.int64),
            "class_size_before": np.round(
                unit.current.sum(axis=1) / np.maximum(before_classes, 1), 1
            ),
            "class_size_after": np.where(
                res.open_, np.round(total / np.maximum(classes_after, 1), 1), np.nan
            ),
            "seats_after": np.where(res.open_, seats + res.rooms * model.room_seats, 0).astype(
                np.int64
            ),
            "boarders_after": board.astype(np.int64),
            "boarders_before": model.boarders_now.astype(np.int64),
            "boarding_places": np.where(np.isfinite(places), places, np.nan),
            "boarding_limit": np.where(np.isfinite(room), room, np.nan),
        }
    )
    return table[~unit.candidate].reset_index(drop=True)  # new sites are in ``openings``


def _closures(res: CountyResult, travel_mode: bool) -> pd.DataFrame:
    model, unit = res.model, res.unit
    ids = unit.schools["school_id"].to_numpy()
    s = unit.schools
    load = _school_loads(res).sum(axis=1)
    classes = classrooms_after(res)
    host_of = {int(model.conv[w, 0]): int(model.conv[w, 1]) for w in np.flatnonzero(res.converted)}
    rows = []
    for a in np.flatnonzero(~res.open_ & ~unit.candidate):
        mine = res.before_idx == a  # (n_s, 3): settlement bands that attended a before
        pair_mine = mine[model.ps, model.pb] & (res.pupils > 0)
        if a in host_of:
            receiver, reason = host_of[a], "nine_year"
            detail = f"becomes one nine-year school with {ids[host_of[a]]} on the same site"
        else:
            got = np.zeros(model.n_schools)
            np.add.at(got, model.pj[pair_mine], res.pupils[pair_mine])
            if got.sum() > 0:
                receiver = int(np.argmax(got))
            else:
                usable = res.open_ & (unit.teaches & unit.teaches[a]).any(axis=1)
                usable = usable if usable.any() else res.open_
                cand = np.where(usable, unit.school_travel[a], np.inf)
                # the nearest usable school (the first usable one if none is within reach)
                receiver = (
                    int(np.argmin(cand)) if np.isfinite(cand).any() else int(np.argmax(usable))
                )
            if travel_mode:
                reason = "max_schools"
                detail = f"closed to keep at most {unit.max_schools} schools with least travel"
            else:
                reason = "small_school"
                detail = (
                    f"{int(unit.current[a].sum())} pupils; serving them from nearby schools "
                    "costs less a year than keeping the site"
                )
        p = res.pupils[pair_mine]
        t_after = model.pt[pair_mine]
        bands_mine = np.nonzero(mine & (unit.demand > 0))
        p_before = unit.demand[bands_mine]
        t_before = res.before_minutes[bands_mine]
        rows.append(
            {
                "school_id": ids[a],
                "receiving_school_id": ids[receiver],
                "pupils": int(unit.current[a].sum()),
                "teachers": int(s["teachers"].iloc[a]),
                "reason": reason,
                "detail": detail,
                "name": s["name"].iloc[a],
                "level": s["level"].iloc[a],
                "county": s["county"].iloc[a],
                "township": s["township"].iloc[a],
                "area_type": s["area_type"].iloc[a],
                "boarders": int((p * model.pboard[pair_mine]).sum()),
                "mean_minutes_before": float((p_before * t_before).sum() / p_before.sum())
                if p_before.sum()
                else np.nan,
                "mean_minutes_after": float((p * t_after).sum() / p.sum()) if p.sum() else np.nan,
                "receiving_pupils_after": int(load[receiver]),
                "receiving_class_size_after": round(
                    float(load[receiver] / max(classes[receiver], 1)), 1
                ),
            }
        )
    return pd.DataFrame(rows, columns=list(_CLOSURE_COLUMNS))


def _openings(res: CountyResult, closures: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate site the plan opens (a new school to build)."""
    model, unit, policy = res.model, res.unit, res.model.policy
    j = np.flatnonzero(res.open_ & unit.candidate)
    s = unit.schools
    load = _school_loads(res)
    board = _boarders_after(res)
    ids = s["school_id"].to_numpy()
    sites = {c.site_id: c for c in policy.candidate_sites or ()}
    into = (
        closures.groupby("receiving_school_id")["school_id"].agg(";".join) if len(closures) else {}
    )
    rows = []
    for k in j:
        c = sites[ids[k]]
        pupils = int(load[k].sum())
        rows.append(
            {
                "site_id": c.site_id,
                "county": c.county,
                "township": c.township,
                "level": c.level,
                "pupils": pupils,
                "annual_cost": c.annual_cost,
                "build_cost": c.build_cost,
                "annualised_cost": float(model.site_cost[k]),
                "name": s["name"].iloc[k],
                "area_type": s["area_type"].iloc[k],
                "capacity": c.capacity,
                "classes": int(s["classes"].iloc[k]),
                "class_size_after": round(pupils / max(int(s["classes"].iloc[k]), 1), 1),
                "boarders": int(board[k]),
                "receives_from": into.get(c.site_id, "") if len(closures) else "",
                "boarding_places": np.nan if c.boarding_places is None else c.boarding_places,
            }
        )
    return pd.DataFrame(rows, columns=list(_OPENING_COLUMNS))


def _expansions(res: CountyResult) -> pd.DataFrame:
    model, unit, policy = res.model, res.unit, res.model.policy
    j = np.flatnonzero(res.rooms > 0)
    seats = (res.rooms[j] * model.room_seats[j]).astype(np.int64)
    return pd.DataFrame(
        {
            "school_id": unit.schools["school_id"].to_numpy()[j],
            "seats": seats,
            "cost": seats * policy.expansion_yuan_per_seat,
            "classrooms": res.rooms[j].astype(np.int64),
        }
    )


# ------------------------------------------------------------------------------------ planner
def plan_mergers(
    region: Region,
    policy: MergerPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> MergerPlan:
    """Plan school closures, receiving schools, nine-year conversions and expansions.

    Each county is solved as its own model (pupils stay in their county), so a municipality is
    decomposed by county; with a single ``max_schools`` number the whole region is one model.

    Parameters
    ----------
    region : Region
    policy : MergerPolicy, optional
        Rules and prices (None: the defaults).
    options : SolverOptions, optional
        Solver settings for each county's model (None: :data:`DEFAULT_OPTIONS`, HiGHS with a
        relative gap of 0.1 %). ``time_limit`` applies to each county. ``threads`` greater than 1
        solves that many counties at once in separate processes, one solver thread each (scripts
        that do this need the usual ``if __name__ == "__main__":`` guard); None or 1 solves them
        one after another.
    progress : callable, optional
        Called with a short string at each county, e.g. ``"county 3/34 江北县"``.

    Returns
    -------
    MergerPlan

    Raises
    ------
    Infeasible
        Some settlement bands cannot reach any school within the travel limits (their ids are in
        the message, in ``violations`` as ``"<settlement_id> <band>" -> pupils`` and in
        ``settlements``), or the keep rules, capacities and limits cannot all hold.
    InputError
        A must-keep school id or a max_schools county the region does not have.
    SolverError
        The solver stopped without a plan, or the plan failed the post-solve check.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_mergers(region, MergerPolicy(min_size=80))
    >>> plan.solve_info.status
    'optimal'
    >>> bool((plan.assignments.query("band == 'lower_primary'")["minutes"] <= 30).all())
    True
    """
    t0 = time.perf_counter()
    policy = policy or MergerPolicy()
    options = options or DEFAULT_OPTIONS
    if not isinstance(region, Region):
        raise InputError(f"region must be a Region, got {type(region).__name__}")
    if not isinstance(policy, MergerPolicy):
        raise InputError(f"policy must be a MergerPolicy, got {type(policy).__name__}")
    known = set(region.schools["school_id"])
    unknown = [s for s in policy.must_keep if s not in known]
    if unknown:
        _bad("must_keep", unknown, "ids of schools in the region")
    _boarding_places(region.schools, "schools", "school_id")  # checked before any solve
    counties = region.counties
    orphan = ~region.settlements["county"].isin(counties) & (
        region.settlements[_BAND_COLUMNS].sum(axis=1) > 0
    )
    if orphan.any():
        ids = region.settlements.loc[orphan, "settlement_id"].tolist()
        pupils = region.settlements.loc[orphan, _BAND_COLUMNS].sum(axis=1).astype(int).tolist()
        words = [f"{s} ({n} pupils)" for s, n in zip(ids, pupils, strict=True)]
        exc = Infeasible(
            f"{len(ids)} settlement{'s' if len(ids) != 1 else ''} with {sum(pupils)} pupils of "
            f"grades 1-9 {'lie' if len(ids) != 1 else 'lies'} in counties "
            f"without schools: {', '.join(words[:8])}" + (" ..." if len(ids) > 8 else ""),
            {f"{s} all": float(n) for s, n in zip(ids, pupils, strict=True)},
        )
        exc.settlements = ids
        raise exc
    p = policy.max_schools
    if isinstance(p, dict):
        bad = [c for c in p if c not in counties]
        if bad:
            _bad("max_schools", p, f"counties of the region ({', '.join(counties)})")
    units = []
    if p is not None and not isinstance(p, dict):
        cells = len(region.settlements) * len(region.schools)
        if cells > _WHOLE_REGION_CELLS:
            _bad(
                "max_schools",
                p,
                f"a table {{county: number}} for a region this large: one number plans the whole "
                f"region as one model, with dense travel times for {len(region.settlements):,} "
                f"settlements x {len(region.schools):,} schools ({cells:,} pairs; at most "
                f"{_WHOLE_REGION_CELLS:,})",
            )
        units.append(("region", slice(None), slice(None), int(p)))
    else:
        for name in counties:
            units.append(
                (
                    name,
                    (region.schools["county"] == name).to_numpy(),
                    (region.settlements["county"] == name).to_numpy(),
                    None if p is None else p.get(name),
                )
            )
    # "Before" travel looks for the nearest school up to twice the longest allowed trip.
    cutoff = 2.0 * max(
        [policy.day_minutes(b) for b in PLANNED_BANDS]
        + ([policy.boarding_minutes] if policy.boarding_bands else [])
    )
    sites = _site_rows(region, policy)
    prepared = []
    for name, smask, vmask, limit in units:
        sm = np.ones(len(region.schools), bool) if isinstance(smask, slice) else smask
        vm = np.ones(len(region.settlements), bool) if isinstance(vmask, slice) else vmask
        mine = None
        if sites is not None:
            mine = sites if isinstance(smask, slice) else sites[sites["county"] == name]
        unit = _make_unit(region, name, sm, vm, limit, cutoff, mine, policy.build_years)
        if len(unit.schools):
            prepared.append(unit)
    allow = policy.on_infeasible == "report"
    failed = []
    ready = []
    for unit in prepared:  # every county, before any long solve
        unit, exc = check_county(unit, policy, options, allow)
        if exc is None:
            ready.append(unit)
        else:
            failed.append((unit, exc))
    if failed and not allow:
        raise combined_error(failed)
    outcomes = _solve_all(ready, policy, options, progress)
    results = [r for r in outcomes if not isinstance(r, Infeasible)]
    failed += [(u, r) for u, r in zip(ready, outcomes, strict=True) if isinstance(r, Infeasible)]
    if failed and not allow:
        raise combined_error(failed)
    order = {unit.name: k for k, unit in enumerate(prepared)}
    failed.sort(key=lambda f: order[f[0].name])
    rows = [
        {
            "county": r.unit.name,
            "schools": r.model.n_schools,
            "settlements": len(r.unit.settlements),
            "variables": int(len(r.model.c)),
            "rows": int(r.model.A.shape[0]),
            "mode": "travel" if r.unit.max_schools is not None else "cost",
            "status": r.info.status,
            "objective": r.info.objective,
            "gap": r.info.gap,
            "seconds": round(r.info.seconds, 3),
            "closed": int((~r.open_ & ~r.unit.candidate).sum()),
            **({"opened": int((r.open_ & r.unit.candidate).sum())} if sites is not None else {}),
        }
        for r in results
    ]
    travel_mode = p is not None
    costs = _cost_table(results, new_sites=policy.candidate_sites is not None)
    travel = _travel_table(
        pd.concat([_travel_rows(r) for r in results], ignore_index=True)
        if results
        else pd.DataFrame(columns=["stage", "area_type", "band", "pupils", "minutes", "boarding"])
    )
    info = SolveInfo.combine([r.info for r in results])
    info = dataclasses.replace(info, seconds=time.perf_counter() - t0)

    def cat(frames, columns):
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)

    closures = [_closures(r, travel_mode) for r in results]
    return MergerPlan(
        closures=cat(closures, _CLOSURE_COLUMNS),
        assignments=cat([_assignments(r) for r in results], _ASSIGNMENT_COLUMNS),
        expansions=cat([_expansions(r) for r in results], _EXPANSION_COLUMNS),
        schools=cat([_school_table(r) for r in results], _SCHOOL_TABLE_COLUMNS),
        costs=costs,
        travel=travel,
        counties=pd.DataFrame(rows),
        solve_info=info,
        policy=policy,
        region_name=region.name,
        openings=cat(
            [_openings(r, c) for r, c in zip(results, closures, strict=True)], _OPENING_COLUMNS
        ),
        unplanned=unplanned_table(failed),
        breaches=cat([breach_table(r) for r in results], list(BREACH_COLUMNS)),
        region_fingerprint=region_fingerprint(region),
    )


def _solve_all(
    units: list[County], policy, options: SolverOptions, progress
) -> list[CountyResult | Infeasible]:
    """Solve the units one after another, or (several units, several cores) in processes; a
    unit without a plan gives its Infeasible."""
    workers = max(1, min(options.threads or 1, len(units)))
    single = dataclasses.replace(options, threads=1)
    n = len(units)

    def label(i, unit):
        return "whole region" if unit.name == "region" else f"county {i}/{n} {unit.name}"

    if workers == 1:
        out = []
        for i, unit in enumerate(units, start=1):
            if progress is not None:
                progress(label(i, unit))
            out.append(solve_county(unit, policy, options))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # never fork a process that ran HiGHS
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(solve_county, unit, policy, single): k for k, unit in enumerate(units)
        }
        out: list = [None] * n
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                k = futures[future]
                out[k] = future.result()
                if progress is not None:
                    progress(f"{label(done, units[k])} solved")
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return out


def _cost_table(results: list[CountyResult], new_sites: bool = False) -> pd.DataFrame:
    items = ("sites", "funding_floor", "expansion", "transport", "boarding")
    if new_sites:  # only when candidate sites were given: the table is unchanged otherwise
        items = ("sites", "new_sites", *items[1:])
    before = dict.fromkeys(items, 0.0)
    after = dict.fromkeys(items, 0.0)
    for r in results:
        for k, v in _cost_items_before(r).items():
            before[k] = before.get(k, 0.0) + v
        for k, v in _cost_items_after(r).items():
            after[k] = after.get(k, 0.0) + v
    table = pd.DataFrame(
        {"item": [*items, "total"],
         "before": [*(before[k] for k in items), sum(before.values())],
         "after": [*(after[k] for k in items), sum(after.values())]}
    )  # fmt: skip
    table["change"] = table["after"] - table["before"]
    return table
