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
    seats: sum_d P_d x_dj <= C_j y_j + sum_a C_a w_aj + u_j k_j, k_j <= the expansion limit;
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
Existing crowding is tolerated but never made worse: C_j, K_j, L_j and B_j are the larger of the
limit and what the school holds today (B_j: its boarders under the "before" rule below). A candidate site j has y_j = 0 before the plan and may open: C_j
its capacity, K_j = ceil(capacity / 45) (50 for a junior site), L_j the size cap of its level, B_j
its ``boarding_places`` (none: no limit), no classrooms added (k_j = 0), no conversion; travel limits, the funding floor and max_schools as for
any school. It serves its own county only, is never kept by a keep rule, and counts for the keep
rules of the schools near it: a school is "the only one within the day limit" of grade 1-3 pupils
only if no candidate site is either, and a township's junior school may be a new junior-teaching
site of the township. With every candidate closed the model is the model without candidates, so
candidate sites never raise the optimal cost.

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
import scipy.sparse as sp

from allocator import metrics
from allocator.errors import Infeasible, InputError, SolverError
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
    binary_values,
    solve_matrix,
    worst_status,
)

__all__ = ["MergerPolicy", "MergerPlan", "CandidateSite", "plan_mergers", "PLANNED_BANDS"]

#: Grade bands the planner re-plans (senior high is left as it is).
PLANNED_BANDS = ("lower_primary", "upper_primary", "junior")
_BAND_COLUMNS = [f"pupils_{b}" for b in PLANNED_BANDS]
_LEVEL_BANDS = {
    "primary": (True, True, False),
    "teaching_point": (True, True, False),
    "junior": (False, False, True),
    "nine_year": (True, True, True),
    "senior": (False, False, False),
}
_MOVING = (
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
    "equipment_value",
    "multimedia_rooms",
)
_SITE_MOVING = ("floor_area_m2", "sports_area_m2", "capacity", "classes")
_SENIOR_CLASS = 50
_TOL = 1e-6
_YUAN_SCALE = 1000.0
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
_CANDIDATE_TABLE = "candidate_sites"


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
                path, encoding="utf-8-sig", dtype=dict.fromkeys(text, str), na_values=[""]
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


#: Optional column of the schools and candidate-sites tables: boarders the dormitories hold.
BOARDING_COLUMN = "boarding_places"


def _boarding_places(df: pd.DataFrame, table: str, key: str) -> np.ndarray:
    """The optional ``boarding_places`` column as numbers (inf: no limit, also for a missing
    column or an empty cell), checked: numeric and >= 0."""
    if BOARDING_COLUMN not in df.columns:
        return np.full(len(df), np.inf)
    raw = df[BOARDING_COLUMN]
    empty = raw.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in raw], dtype=bool
    )
    numbers = pd.to_numeric(raw.where(~empty, np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~empty & (np.isnan(numbers) | (numbers < 0)))
    if len(bad):
        pos = int(bad[0])
        value = raw.iloc[pos]
        what = "is not numeric" if np.isnan(numbers[pos]) else "is negative"
        raise InputError(
            f"{BOARDING_COLUMN} {value!r} {what}; expected the boarders the school's dormitories "
            "hold (a number >= 0), or an empty cell for no limit",
            table=table,
            row_id=df[key].iloc[pos],
            row=pos,
            column=BOARDING_COLUMN,
            value=value,
        )
    return np.where(empty, np.inf, numbers)


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
        number limits the whole region (the counties are then solved as one model); a table
        ``{county: number}`` limits each county listed.
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
    #: The CSV file the candidate sites were read from (for error messages), if any.
    candidate_sites_file: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self):
        self._number("build_years", positive=True)
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
        Every re-planned school: ``status`` (open, closed, nine_year_host), ``kept_because``,
        pupils and class size before/after, boarders received (``boarders_after``) and boarding
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
        Per county: schools, variables, status, gap, seconds.
    solve_info : SolveInfo
        Aggregate over the counties: the worst status, the largest gap, total objective and time.
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


# ------------------------------------------------------------------------------------ data
@dataclass
class _County:
    """Arrays of one planning unit (a county, or the whole region under a global max_schools)."""

    name: str
    schools: pd.DataFrame  # re-planned schools
    settlements: pd.DataFrame
    teaches: np.ndarray  # (n_j, 3) bool
    current: np.ndarray  # (n_j, 3) pupils today
    senior: np.ndarray  # (n_j,)
    demand: np.ndarray  # (n_s, 3)
    travel: np.ndarray  # (n_s, n_j) minutes, inf where unreachable or across counties
    school_travel: np.ndarray  # (n_j, n_j)
    max_schools: int | None
    cutoff: float = np.inf
    # candidate sites are the last rows of ``schools`` (closed before the plan)
    candidate: np.ndarray | None = None  # (n_j,) bool
    new_site_cost: np.ndarray | None = None  # (n_j,) yuan a year if opened (0 for schools)
    boarding_places: np.ndarray | None = None  # (n_j,) boarders the dormitories hold (inf: any)

    def __post_init__(self):
        if self.candidate is None:
            self.candidate = np.zeros(len(self.schools), dtype=bool)
        if self.new_site_cost is None:
            self.new_site_cost = np.zeros(len(self.schools))
        if self.boarding_places is None:
            self.boarding_places = np.full(len(self.schools), np.inf)


def _teaching(schools: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    level = np.array([_LEVEL_BANDS[v] for v in schools["level"]], dtype=bool).reshape(-1, 3)
    current = schools[_BAND_COLUMNS].to_numpy(dtype=np.int64)
    return level | (current > 0), current


def _dense(matrix: sp.csr_matrix) -> np.ndarray:
    coo = matrix.tocoo()
    out = np.full(matrix.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def _make_unit(
    region: Region,
    name: str,
    school_mask,
    settlement_mask,
    max_schools,
    cutoff: float,
    sites: pd.DataFrame | None = None,
    build_years: float = 30.0,
) -> _County:
    """One planning unit's arrays; road times beyond ``cutoff`` minutes count as unreachable.

    ``sites`` (rows of :func:`_site_rows`) are appended after the schools as closed schools."""
    schools = region.schools[school_mask].reset_index(drop=True)
    teaches, current = _teaching(schools)
    planned = teaches.any(axis=1)
    schools, teaches, current = (
        schools[planned].reset_index(drop=True),
        teaches[planned],
        current[planned],
    )
    places = _boarding_places(schools, "schools", "school_id")
    candidate = new_cost = None
    if sites is not None and len(sites):
        n_old = len(schools)
        places = np.concatenate([places, _boarding_places(sites, _CANDIDATE_TABLE, "site_id")])
        schools = pd.concat([schools, sites[list(SCHOOL_COLUMNS)]], ignore_index=True)
        level = np.array([_LEVEL_BANDS[v] for v in sites["level"]], dtype=bool).reshape(-1, 3)
        teaches = np.vstack([teaches, level])
        current = np.vstack([current, np.zeros((len(sites), 3), dtype=np.int64)])
        candidate = np.arange(len(schools)) >= n_old
        new_cost = np.zeros(len(schools))
        new_cost[n_old:] = (
            sites["annual_cost"].to_numpy(float) + sites["build_cost"].to_numpy(float) / build_years
        )
    settlements = region.settlements[settlement_mask].reset_index(drop=True)
    demand = settlements[_BAND_COLUMNS].to_numpy(dtype=np.int64)
    travel = (
        _dense(region.travel_minutes(settlements["node"], schools["node"], cutoff=cutoff))
        if len(schools) and len(settlements)
        else np.full((len(settlements), len(schools)), np.inf)
    )
    # Pupils go only to schools of their own county.
    same = settlements["county"].to_numpy()[:, None] == schools["county"].to_numpy()[None, :]
    travel[~same] = np.inf
    school_travel = (
        _dense(region.travel_minutes(schools["node"], schools["node"], cutoff=cutoff))
        if len(schools)
        else np.zeros((0, 0))
    )
    cross = schools["county"].to_numpy()[:, None] != schools["county"].to_numpy()[None, :]
    school_travel[cross] = np.inf
    if candidate is not None:
        # a site without an area type takes that of its nearest settlement (rural if none)
        for j in np.flatnonzero(candidate & (schools["area_type"] == "").to_numpy()):
            t = travel[:, j]
            near = settlements["area_type"].iloc[int(np.argmin(t))] if np.isfinite(t).any() else ""
            schools.loc[j, "area_type"] = near or "rural"
    return _County(
        name=name,
        schools=schools,
        settlements=settlements,
        teaches=teaches,
        current=current,
        senior=schools["pupils_senior"].to_numpy(dtype=np.int64),
        demand=demand,
        travel=travel,
        school_travel=school_travel,
        max_schools=max_schools,
        cutoff=cutoff,
        candidate=candidate,
        new_site_cost=new_cost,
        boarding_places=places,
    )


def _site_rows(region: Region, policy: MergerPolicy) -> pd.DataFrame | None:
    """The candidate sites as rows of a schools table (no pupils, teachers or buildings yet),
    checked against the region: ids distinct from the schools', known counties and road nodes."""
    if policy.candidate_sites is None:
        return None
    sites = pd.DataFrame([dataclasses.asdict(c) for c in policy.candidate_sites])
    if sites.empty:
        return None
    file = policy.candidate_sites_file

    def fail(pos: int, column: str, message: str):
        value = sites[column].iloc[pos]
        raise InputError(
            message,
            table=_CANDIDATE_TABLE,
            row_id=sites["site_id"].iloc[pos],
            row=pos,
            column=column,
            value=value,
            file=file,
            line=None if file is None else pos + 2,
        )

    known = set(region.schools["school_id"])
    clash = np.flatnonzero(sites["site_id"].isin(known).to_numpy())
    if len(clash):
        fail(
            int(clash[0]),
            "site_id",
            f"site_id {sites['site_id'].iloc[int(clash[0])]!r} is a school of the region; "
            "expected an id no school has",
        )
    counties = region.counties
    bad = np.flatnonzero(~sites["county"].isin(counties).to_numpy())
    if len(bad):
        fail(
            int(bad[0]),
            "county",
            f"unknown county {sites['county'].iloc[int(bad[0])]!r}; expected one of "
            + ", ".join(counties),
        )
    bad = np.flatnonzero(~sites["node"].map(region.roads.has_node).to_numpy(dtype=bool))
    if len(bad):
        fail(
            int(bad[0]),
            "node",
            f"node {sites['node'].iloc[int(bad[0])]!r} is not in the road graph; expected a node "
            "of the region's roads",
        )
    sites["school_id"] = sites["site_id"]
    sites["name"] = sites["name"].where(sites["name"] != "", sites["site_id"])
    for column in SCHOOL_COLUMNS:
        if column not in sites.columns:
            sites[column] = 0
    u = np.where(sites["level"] == "junior", policy.junior_class_size, policy.primary_class_size)
    sites["classes"] = -(-sites["capacity"].to_numpy(dtype=np.int64) // u)
    return sites


# ------------------------------------------------------------------------------------ model
@dataclass
class _Model:
    unit: _County
    policy: MergerPolicy
    # pairs
    ps: np.ndarray
    pb: np.ndarray
    pj: np.ndarray
    pt: np.ndarray
    pboard: np.ndarray
    pnew: np.ndarray  # pair uses a band the school only teaches as nine-year host
    split_settlement: np.ndarray  # (n_s,) the settlement's bands may be split
    split_pair: np.ndarray
    demand_index: np.ndarray  # (n_s, 3) -> demand row or -1
    # schools
    fixed_open: np.ndarray
    kept_because: list
    min_kept: np.ndarray
    conv: np.ndarray  # (n_w, 2) absorbed a, host h
    seats: np.ndarray  # seats available C_j
    classes: np.ndarray  # K_j
    size: np.ndarray  # L_j (pupils of the planned bands)
    size_extra: np.ndarray
    room_seats: np.ndarray  # u_j
    max_rooms: np.ndarray
    site_cost: np.ndarray
    townships: list  # (name, junior school indices, conversions giving a junior)
    boarders_now: np.ndarray  # (n_j,) boarders today ("before" rule)
    boarding: np.ndarray  # B_j: max(boarding places, boarders today); inf without a limit
    # arrays for the solver
    c: np.ndarray | None = None
    A: sp.csc_matrix | None = None
    rl: np.ndarray | None = None
    ru: np.ndarray | None = None
    cl: np.ndarray | None = None
    cu: np.ndarray | None = None
    integ: np.ndarray | None = None
    groups: list | None = None
    boarding_scale: dict | None = None  # school index -> pupils per unit of its boarding row

    @property
    def always_open(self) -> np.ndarray:
        """Schools that stay open in every plan (kept, or min_size without a nine-year partner)."""
        absorbable = np.zeros(self.n_schools, dtype=bool)
        absorbable[self.conv[:, 0]] = True
        return self.fixed_open | (self.min_kept & ~absorbable)

    @property
    def n_pairs(self) -> int:
        return len(self.ps)

    @property
    def n_schools(self) -> int:
        return len(self.unit.schools)


def _nearest_before(unit: _County, policy: MergerPolicy):
    """Each settlement band's nearest school that teaches the band today (index, minutes)."""
    n_s = len(unit.settlements)
    idx = np.full((n_s, 3), -1, dtype=np.int64)
    minutes = np.full((n_s, 3), np.inf)
    if not len(unit.schools):
        return idx, minutes
    today = unit.teaches & ~unit.candidate[:, None]  # candidate sites teach nobody today
    for b in range(3):
        masked = np.where(today[:, b][None, :], unit.travel, np.inf)
        j = np.argmin(masked, axis=1)
        t = masked[np.arange(n_s), j]
        ok = np.isfinite(t)
        idx[ok, b] = j[ok]
        minutes[ok, b] = t[ok]
    return idx, minutes


def _boarders_today(unit: _County, policy: MergerPolicy, before_idx, before_minutes) -> np.ndarray:
    """Boarders each school has today under the "before" rule: the settlement bands whose nearest
    school teaching the band today is beyond the band's day limit, for bands that may board."""
    out = np.zeros(len(unit.schools))
    board = _boarding_before(before_minutes, policy) & (before_idx >= 0) & (unit.demand > 0)
    np.add.at(out, before_idx[board], unit.demand[board])
    return out


def _build(unit: _County, policy: MergerPolicy, travel_mode: bool, before=None) -> _Model:
    """The model's sets and numbers; ``before`` is :func:`_nearest_before` (computed if None)."""
    schools = unit.schools
    n_j = len(schools)
    ids = schools["school_id"].to_numpy()
    level = schools["level"].to_numpy()
    cand = unit.candidate
    total_now = unit.current.sum(axis=1) + unit.senior
    # ---- nine-year conversions: a primary and a junior school on one site
    conv = np.zeros((0, 2), dtype=np.int64)
    if policy.allow_nine_year and n_j:
        prim = np.flatnonzero((level == "primary") & ~cand)
        jun = np.flatnonzero((level == "junior") & ~cand)
        if len(prim) and len(jun):
            near = unit.school_travel[np.ix_(prim, jun)] <= policy.nine_year_site_minutes
            # the nine-year school would not be oversized at today's enrolment
            combined = total_now[prim][:, None] + total_now[jun][None, :]
            near &= combined <= policy.nine_year_school_size
            a, h = np.nonzero(near)
            pairs = [(prim[i], jun[k]) for i, k in zip(a, h, strict=True)]
            conv = np.array(pairs + [(q, p) for p, q in pairs], dtype=np.int64).reshape(-1, 2)
    # ---- keep rules
    kept_because = [[] for _ in range(n_j)]
    fixed = np.zeros(n_j, dtype=bool)
    for sid in policy.must_keep:
        hits = np.flatnonzero(ids == sid)
        for j in hits:
            fixed[j] = True
            kept_because[j].append("must keep")
    senior_school = (level == "senior") | (unit.senior > 0)
    for j in np.flatnonzero(senior_school):
        fixed[j] = True
        kept_because[j].append("teaches senior high (not re-planned)")
    lp_limit = policy.day_minutes("lower_primary")
    if policy.keep_sole_lower_primary and n_j:
        within = (unit.travel <= lp_limit) & unit.teaches[:, 0][None, :]
        has_lp = unit.demand[:, 0] > 0
        sole = has_lp & (within.sum(axis=1) == 1)
        settlement_ids = unit.settlements["settlement_id"].to_numpy()
        sole_for: dict[int, list] = {}
        # a candidate site within reach counts (the school may close into it if it opens), but
        # is never kept by this rule: the travel limits open it if nothing else can serve
        for s in np.flatnonzero(sole & ~within[:, cand].any(axis=1)):
            sole_for.setdefault(int(np.flatnonzero(within[s])[0]), []).append(settlement_ids[s])
        for j, names in sole_for.items():
            fixed[j] = True
            kept_because[j].append(
                f"only school within {lp_limit:g} min for grades 1-3 of {', '.join(names)}"
            )
    # an absorbed school must be closable
    if len(conv):
        conv = conv[~fixed[conv[:, 0]]]
    min_kept = (unit.current.sum(axis=1) >= policy.min_size) & ~fixed & (policy.min_size > 0)
    for j in np.flatnonzero(min_kept):
        kept_because[j].append(f"{int(unit.current[j].sum())} pupils >= min_size {policy.min_size}")
    # ---- teaching bands, including those a host gains
    gains = np.zeros((n_j, 3), dtype=bool)
    for a, h in conv:
        gains[h] |= unit.teaches[a] & ~unit.teaches[h]
    can = unit.teaches | gains
    # ---- pairs
    limits_day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    demand_index = np.full(unit.demand.shape, -1, dtype=np.int64)
    has = unit.demand > 0
    demand_index[has] = np.arange(int(has.sum())).reshape(-1)
    # order demands by settlement then band (np boolean indexing is row-major: that order)
    sure = fixed | min_kept
    ps, pb, pj, pt = [], [], [], []
    for b in range(3):
        ok = has[:, b][:, None] & can[:, b][None, :]
        day = ok & (unit.travel <= limits_day[b] + 1e-9)
        if policy.day_candidates is not None:
            day = _nearest_candidates(day, unit.travel, sure, policy.day_candidates)
        pairs = [day]
        if boards[b]:
            far = ok & ~day & (unit.travel <= policy.boarding_minutes + 1e-9)
            pairs.append(_nearest_candidates(far, unit.travel, sure, policy.boarding_candidates))
        s, j = np.nonzero(np.logical_or.reduce(pairs))
        ps.append(s)
        pj.append(j)
        pb.append(np.full(len(s), b))
        pt.append(unit.travel[s, j])
    ps, pb, pj, pt = (np.concatenate(v) if v else np.zeros(0) for v in (ps, pb, pj, pt))
    ps, pb, pj = ps.astype(np.int64), pb.astype(np.int64), pj.astype(np.int64)
    pt = pt.astype(float)
    order = np.lexsort((pj, pb, ps))
    ps, pb, pj, pt = ps[order], pb[order], pj[order], pt[order]
    pboard = pt > limits_day[pb] + 1e-9
    split_settlement = (
        np.full(len(unit.settlements), bool(policy.split))
        | unit.settlements["area_type"].isin(policy.split_area_types).to_numpy()
    )
    pnew = gains[pj, pb]
    # ---- capacities (never tighter than what a school holds today)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    cap_seats = schools["capacity"].to_numpy(dtype=float)
    seats = np.maximum(cap_seats, total_now) - unit.senior
    need_now = (unit.current / cap_b).sum(axis=1) + unit.senior / _SENIOR_CLASS
    classes = np.maximum(schools["classes"].to_numpy(dtype=float), need_now) - (
        unit.senior / _SENIOR_CLASS
    )
    size_cap = np.where(
        (level == "nine_year") | (level == "senior"),
        policy.nine_year_school_size,
        policy.school_size,
    ).astype(float)
    size = np.maximum(size_cap, total_now) - unit.senior
    size_extra = np.maximum(0.0, policy.nine_year_school_size - (size + unit.senior))
    room_seats = np.where(
        can[:, 0] | can[:, 1], policy.primary_class_size, policy.junior_class_size
    )
    max_rooms = np.floor(policy.max_expansion_share * cap_seats / room_seats + 1e-9)
    max_rooms[cand] = 0.0  # a new site is built at its capacity
    if "site_cost_yuan" in schools.columns:
        site_cost = pd.to_numeric(schools["site_cost_yuan"], errors="coerce").to_numpy(float)
        site_cost = np.where(np.isfinite(site_cost), site_cost, policy.site_yuan)
    else:
        site_cost = np.full(n_j, policy.site_yuan)
    site_cost = np.where(cand, unit.new_site_cost, site_cost)
    # ---- boarding places (never tighter than the boarders a school has today)
    before_idx, before_minutes = before if before is not None else _nearest_before(unit, policy)
    boarders_now = _boarders_today(unit, policy, before_idx, before_minutes)
    boarding = np.maximum(unit.boarding_places, boarders_now)
    # ---- townships keeping a junior school
    townships = []
    if policy.township_keeps_junior and n_j:
        town = schools["township"].to_numpy()
        for name in dict.fromkeys(town[unit.teaches[:, 2] & ~cand]):
            # a new junior-teaching site of the township counts as its junior school
            members = np.flatnonzero((town == name) & unit.teaches[:, 2])
            extra = [
                w
                for w, (a, h) in enumerate(conv)
                if town[h] == name and unit.teaches[a, 2] and not unit.teaches[h, 2]
            ]
            townships.append((name, members, np.array(extra, dtype=np.int64)))
    return _Model(
        unit=unit,
        policy=policy,
        ps=ps,
        pb=pb,
        pj=pj,
        pt=pt,
        pboard=pboard,
        pnew=pnew,
        split_settlement=split_settlement,
        split_pair=split_settlement[ps],
        demand_index=demand_index,
        fixed_open=fixed,
        kept_because=["; ".join(k) for k in kept_because],
        min_kept=min_kept,
        conv=conv,
        seats=seats,
        classes=classes,
        size=size,
        size_extra=size_extra,
        room_seats=room_seats.astype(float),
        max_rooms=np.maximum(max_rooms, 0.0),
        site_cost=site_cost,
        townships=townships,
        boarders_now=boarders_now,
        boarding=boarding,
    )


def _nearest_candidates(
    allowed: np.ndarray, travel: np.ndarray, sure: np.ndarray, k: int
) -> np.ndarray:
    """Per settlement, its k nearest allowed schools that surely stay open, and every allowed
    school that may close and is nearer than the k-th of them."""
    t = np.where(allowed, travel, np.inf)
    order = np.argsort(t, axis=1, kind="stable")
    t_sorted = np.take_along_axis(t, order, axis=1)
    sure_sorted = sure[order] & np.isfinite(t_sorted)
    before = np.cumsum(sure_sorted, axis=1) - sure_sorted
    keep = np.zeros_like(allowed)
    np.put_along_axis(keep, order, np.isfinite(t_sorted) & (before < k), axis=1)
    return keep


def _check_servable(model: _Model, before_minutes: np.ndarray) -> None:
    """Raise Infeasible naming the settlement bands no allowed school can serve."""
    unit, policy = model.unit, model.policy
    served = np.zeros(unit.demand.shape, dtype=bool)
    served[model.ps, model.pb] = True
    bad = (unit.demand > 0) & ~served
    if not bad.any():
        return
    sid = unit.settlements["settlement_id"].to_numpy()
    violations, words = {}, []
    for s, b in zip(*np.nonzero(bad), strict=True):
        band = PLANNED_BANDS[b]
        limit = policy.day_minutes(band)
        if band in policy.boarding_bands:
            limit = max(limit, policy.boarding_minutes)
        violations[f"{sid[s]} {band}"] = float(unit.demand[s, b])
        near = before_minutes[s, b]
        where = (
            f"nearest {near:.0f} min"
            if np.isfinite(near)
            else f"no school of its county within {unit.cutoff:g} min"
        )
        words.append(
            f"{sid[s]} ({band}, {int(unit.demand[s, b])} pupils; limit {limit:g} min, {where})"
        )
    settlements = sorted({k.split(" ")[0] for k in violations})
    message = (
        f"{unit.name}: {len(violations)} settlement band(s) in {len(settlements)} settlement(s) "
        f"cannot reach any school within the travel limits: {', '.join(words[:8])}"
        + (f" and {len(words) - 8} more" if len(words) > 8 else "")
        + "; raise the limits, allow boarding or keep a school nearer"
    )
    exc = Infeasible(message, violations)
    exc.settlements = settlements
    raise exc


def _arrays(model: _Model, travel_mode: bool) -> None:
    """The MILP as sparse arrays (see the module docstring for the model)."""
    unit, policy = model.unit, model.policy
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    split = model.split_pair
    P = unit.demand[model.ps, model.pb].astype(float)
    f = np.where(split, 1.0, P)  # pupils carried by one unit of x
    # columns: x | y | w | k | F
    X0, Y0, W0, K0, F0 = 0, n_x, n_x + n_j, n_x + n_j + n_w, n_x + 2 * n_j + n_w
    n = F0 + n_j
    rows, cols, vals = [], [], []
    rl, ru, groups = [], [], []
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    r = 0

    def block(rr, cc, vv):
        rows.append(np.asarray(rr, dtype=np.int64))
        cols.append(np.asarray(cc, dtype=np.int64))
        vals.append(np.asarray(vv, dtype=float))

    # demand rows
    d_rows = model.demand_index[model.ps, model.pb]
    n_d = int((unit.demand > 0).sum())
    block(r + d_rows, X0 + np.arange(n_x), np.ones(n_x))
    ds, db = np.nonzero(unit.demand > 0)
    rhs = np.where(model.split_settlement[ds], unit.demand[ds, db], 1).astype(float)
    rl.append(rhs)
    ru.append(rhs)
    groups += [f"serve {sid[s]} {PLANNED_BANDS[b]}" for s, b in zip(ds, db, strict=True)]
    r += n_d
    # linking: x <= y_j (closable j) or x <= sum_a w_aj (bands gained as a host)
    ub = np.where(split, P, 1.0)
    link = np.flatnonzero(~model.always_open[model.pj] & ~model.pnew)
    block(r + np.arange(len(link)), X0 + link, np.ones(len(link)))
    block(r + np.arange(len(link)), Y0 + model.pj[link], -ub[link])
    rl.append(np.full(len(link), -np.inf))
    ru.append(np.zeros(len(link)))
    groups += [f"open {ids[j]}" for j in model.pj[link]]
    r += len(link)
    gained = np.flatnonzero(model.pnew)
    if len(gained):
        hosts_of = {}
        for w, (a, h) in enumerate(model.conv):
            hosts_of.setdefault(int(h), []).append((w, a))
        rr, cc, vv = [], [], []
        for i, p in enumerate(gained):
            rr.append(r + i)
            cc.append(X0 + p)
            vv.append(1.0)
            for w, a in hosts_of[int(model.pj[p])]:
                if unit.teaches[a, model.pb[p]]:
                    rr.append(r + i)
                    cc.append(W0 + w)
                    vv.append(-ub[p])
        block(rr, cc, vv)
        rl.append(np.full(len(gained), -np.inf))
        ru.append(np.zeros(len(gained)))
        groups += [f"nine_year {ids[j]}" for j in model.pj[gained]]
        r += len(gained)
    # per-school rows: seats, classes, size, funding floor
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    absorbed = model.conv[:, 0]
    hosts = model.conv[:, 1]
    for kind, coef_x, own, from_partner, rooms in (
        ("seats", f, model.seats, model.seats, model.room_seats),
        ("classes", f / cap_b[model.pb], model.classes, model.classes, np.ones(n_j)),
        ("size", f, model.size, None, None),
    ):
        block(r + model.pj, X0 + np.arange(n_x), coef_x)
        block(r + np.arange(n_j), Y0 + np.arange(n_j), -own)
        if n_w:
            extra = own[absorbed] if from_partner is not None else model.size_extra[hosts]
            block(r + hosts, W0 + np.arange(n_w), -extra)
        if rooms is not None:
            block(r + np.arange(n_j), K0 + np.arange(n_j), -rooms)
        rl.append(np.full(n_j, -np.inf))
        ru.append(np.zeros(n_j))
        groups += [f"{kind} {i}" for i in ids]
        r += n_j
    # funding floor, in pupils: F_j >= m y_j - sum_d P_d x_dj (costs f yuan a pupil)
    block(r + model.pj, X0 + np.arange(n_x), f)
    block(
        r + np.arange(n_j), Y0 + np.arange(n_j), np.full(n_j, -float(policy.funding_floor_pupils))
    )
    block(r + np.arange(n_j), F0 + np.arange(n_j), np.ones(n_j))
    rl.append(np.zeros(n_j))
    ru.append(np.full(n_j, np.inf))
    groups += [f"funding_floor {i}" for i in ids]
    r += n_j
    # conversions
    if n_w:
        conv_schools = np.unique(absorbed)
        pos = {int(a): i for i, a in enumerate(conv_schools)}
        block(r + np.arange(len(conv_schools)), Y0 + conv_schools, np.ones(len(conv_schools)))
        block(r + np.array([pos[int(a)] for a in absorbed]), W0 + np.arange(n_w), np.ones(n_w))
        eq = model.min_kept[conv_schools]
        rl.append(np.where(eq, 1.0, -np.inf))
        ru.append(np.ones(len(conv_schools)))
        groups += [f"convert {ids[a]}" for a in conv_schools]
        r += len(conv_schools)
        block(r + np.arange(n_w), W0 + np.arange(n_w), np.ones(n_w))
        block(r + np.arange(n_w), Y0 + hosts, -np.ones(n_w))
        rl.append(np.full(n_w, -np.inf))
        ru.append(np.zeros(n_w))
        groups += [f"convert {ids[h]}" for h in hosts]
        r += n_w
        host_list = np.unique(hosts)
        hpos = {int(h): i for i, h in enumerate(host_list)}
        block(r + np.array([hpos[int(h)] for h in hosts]), W0 + np.arange(n_w), np.ones(n_w))
        rl.append(np.full(len(host_list), -np.inf))
        ru.append(np.ones(len(host_list)))
        groups += [f"convert {ids[h]}" for h in host_list]
        r += len(host_list)
    # townships keep a junior school
    for name, members, extra in model.townships:
        block(np.full(len(members), r), Y0 + members, np.ones(len(members)))
        block(np.full(len(extra), r), W0 + extra, np.ones(len(extra)))
        rl.append(np.ones(1))
        ru.append(np.full(1, np.inf))
        groups.append(f"township_junior {name}")
        r += 1
    if unit.max_schools is not None:
        block(np.full(n_j, r), Y0 + np.arange(n_j), np.ones(n_j))
        rl.append(np.full(1, -np.inf))
        ru.append(np.full(1, float(unit.max_schools)))
        groups.append("max_schools")
        r += 1
    # boarding places: boarders at j <= B_j y_j + sum_a B_a w_aj, only where B_j is finite and
    # below M_j, the most boarders j could receive. Each row is divided by 2 M_j so that the
    # solver layer's elastic diagnosis finds relaxing it cheaper than leaving a band unplaced.
    model.boarding_scale = {}
    bp = np.flatnonzero(model.pboard)
    most = np.zeros(n_j)
    np.add.at(most, model.pj[bp], P[bp])
    limited = np.flatnonzero(np.isfinite(model.boarding) & (model.boarding < most - _TOL))
    if len(limited):
        row_of = np.full(n_j, -1, dtype=np.int64)
        row_of[limited] = r + np.arange(len(limited))
        scale = 2.0 * most
        mine = bp[row_of[model.pj[bp]] >= 0]
        block(row_of[model.pj[mine]], X0 + mine, f[mine] / scale[model.pj[mine]])
        block(row_of[limited], Y0 + limited, -model.boarding[limited] / scale[limited])
        into = np.flatnonzero(row_of[hosts] >= 0) if n_w else np.zeros(0, dtype=np.int64)
        partner = np.minimum(model.boarding[absorbed[into]], most[hosts[into]])
        block(row_of[hosts[into]], W0 + into, -partner / scale[hosts[into]])
        rl.append(np.full(len(limited), -np.inf))
        ru.append(np.zeros(len(limited)))
        groups += [f"boarding {ids[j]}" for j in limited]
        model.boarding_scale = {int(j): float(scale[j]) for j in limited}
        r += len(limited)
    A = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n)
    )
    # objective
    c = np.zeros(n)
    if travel_mode:
        c[X0:Y0] = f * model.pt
    else:
        c[X0:Y0] = f * _pair_unit_cost(model.pt, model.pboard, policy)
        c[Y0 : Y0 + n_j] = model.site_cost
        c[K0 : K0 + n_j] = model.room_seats * policy.expansion_yuan_per_seat
        c[F0:] = policy.funding_yuan_per_pupil
        c /= _YUAN_SCALE  # thousands of yuan keep HiGHS's objective well scaled
    # bounds and integrality
    cl = np.zeros(n)
    cu = np.concatenate([ub, np.ones(n_j), np.ones(n_w), model.max_rooms, np.full(n_j, np.inf)])
    cl[Y0 : Y0 + n_j] = model.always_open.astype(float)
    integ = np.ones(n, dtype=bool)
    integ[X0:Y0] = ~split  # split pupils are continuous here and made whole afterwards
    integ[F0:] = False
    model.c, model.A = c, A
    model.rl, model.ru = np.concatenate(rl), np.concatenate(ru)
    model.cl, model.cu, model.integ, model.groups = cl, cu, integ, groups


def _pair_unit_cost(minutes, boarding, policy: MergerPolicy) -> np.ndarray:
    """Annual yuan per pupil of a pair: transport (+ boarding and lodging for boarders)."""
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    return minutes * policy.transport_yuan_per_pupil_minute * trips + np.where(boarding, board, 0.0)


# ------------------------------------------------------------------------------------ solve
@dataclass
class _Result:
    unit: _County
    model: _Model
    info: SolveInfo
    pupils: np.ndarray  # per pair
    open_: np.ndarray
    converted: np.ndarray  # per conversion
    rooms: np.ndarray
    before_idx: np.ndarray
    before_minutes: np.ndarray
    mip_gap: float = 1e-4


def _solve_unit(unit: _County, policy: MergerPolicy, options: SolverOptions) -> _Result:
    travel_mode = unit.max_schools is not None
    before_idx, before_minutes = _nearest_before(unit, policy)
    model = _build(unit, policy, travel_mode, (before_idx, before_minutes))
    _check_servable(model, before_minutes)
    forced = int(model.fixed_open.sum())
    if unit.max_schools is not None and forced > unit.max_schools:
        raise Infeasible(
            f"{unit.name}: max_schools={unit.max_schools} but the keep rules already keep "
            f"{forced} schools; raise max_schools or relax the keep rules",
            {"max_schools": float(forced - unit.max_schools)},
        )
    _arrays(model, travel_mode)
    t0 = time.perf_counter()
    main = options
    if model.split_pair.any():  # leave room in the gap for making split pupils whole
        main = dataclasses.replace(options, mip_gap=0.8 * options.mip_gap)
    sol = _solve(model, model.cl, model.cu, model.integ, main)
    info = sol.info
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    frac = model.split_pair & (np.abs(sol.x[:n_x] - np.round(sol.x[:n_x])) > 1e-6)
    if frac.any():
        residual = _whole_pupils(model, sol.x, options)
        info = dataclasses.replace(
            residual.info,
            status=worst_status(info.status, residual.info.status),
            bound=info.bound,  # the model above is a relaxation: its bound stays valid
            seconds=time.perf_counter() - t0,
        )
        sol = residual
    if not travel_mode:  # back from thousands of yuan
        info = dataclasses.replace(
            info,
            objective=None if info.objective is None else info.objective * _YUAN_SCALE,
            bound=None if info.bound is None else info.bound * _YUAN_SCALE,
        )
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    x = sol.x
    pupils = np.where(
        model.split_pair,
        np.round(x[:n_x]),
        binary_values(x[:n_x]) * unit.demand[model.ps, model.pb],
    ).astype(np.int64)
    open_ = binary_values(x[n_x : n_x + n_j])
    converted = binary_values(x[n_x + n_j : n_x + n_j + n_w])
    result = _Result(
        unit,
        model,
        info,
        pupils,
        open_,
        converted,
        np.zeros(n_j),
        before_idx,
        before_minutes,
        options.mip_gap,
    )
    _finish(result, travel_mode)
    return result


def _whole_pupils(model: _Model, x: np.ndarray, options: SolverOptions):
    """Make continuous split pupils whole, every other decision fixed but classrooms.

    Each split pair may round its pupils down or up (a 0/1 choice: small domains keep HiGHS
    fast); if no rounding fits, the pairs may move two pupils either way, then anything.
    """
    n_x, n_j, n_w = model.n_pairs, model.n_schools, len(model.conv)
    K0 = n_x + n_j + n_w
    cl, cu = model.cl.copy(), model.cu.copy()
    fixed = np.ones(len(model.c), dtype=bool)
    fixed[:n_x] = ~model.split_pair
    fixed[K0:] = False  # classrooms and funding floor stay free
    values = np.round(x)
    cl[fixed], cu[fixed] = values[fixed], values[fixed]
    integ = model.integ.copy()
    integ[:n_x] = True
    split = np.flatnonzero(model.split_pair)
    low, high = np.floor(x[split] + 1e-9), np.ceil(x[split] - 1e-9)
    # a small model: solve it well inside the gap left for it
    options = dataclasses.replace(options, mip_gap=0.05 * options.mip_gap)
    for slack in (1.0, None):
        if slack is None:
            cl[split], cu[split] = 0.0, model.cu[split]
        else:
            cl[split] = np.maximum(low - slack, 0.0)
            cu[split] = np.minimum(high + slack, model.cu[split])
        try:
            return _solve(model, cl, cu, integ, options)
        except Infeasible:
            if slack is None:
                raise
    raise AssertionError("unreachable")


def _solve(model: _Model, cl, cu, integ, options: SolverOptions):
    try:
        return solve_matrix(
            model.c,
            model.A,
            model.rl,
            model.ru,
            cl,
            cu,
            integ,
            options=options,
            row_groups=model.groups,
        )
    except Infeasible as exc:
        raise _explain(model, exc) from exc


def _explain(model: _Model, exc: Infeasible) -> Infeasible:
    """Restate a solver infeasibility in pupils and name the settlements and their schools."""
    unit = model.unit
    sid = unit.settlements["settlement_id"].to_numpy()
    ids = unit.schools["school_id"].to_numpy()
    ds, db = np.nonzero(unit.demand > 0)
    index = {(sid[s], PLANNED_BANDS[b]): (s, b) for s, b in zip(ds, db, strict=True)}
    violations, words, settlements = {}, [], []
    where = {sch: j for j, sch in enumerate(ids)}
    scale = model.boarding_scale or {}
    boarding = False

    def size(item):  # boarding rows are scaled: compare them in pupils
        kind, _, school = item[0].partition(" ")
        return -item[1] * (scale.get(where.get(school), 1.0) if kind == "boarding" else 1.0)

    for group, amount in sorted(exc.violations.items(), key=size):
        parts = group.split(" ", 1)
        if parts[0] == "boarding" and where.get(parts[1]) in scale:
            j = where[parts[1]]
            pupils = amount * scale[j]
            boarding = True
            violations[group] = float(pupils)
            places = unit.boarding_places[j]
            today = model.boarders_now[j]
            words.append(
                f"boarding places of {parts[1]}: {pupils:.0f} boarders more than its "
                f"{model.boarding[j]:g} places"
                + (f" ({today:g} board there today)" if today > places else "")
            )
            continue
        parts = group.split(" ")
        if parts[0] == "serve" and (parts[1], parts[2]) in index:
            s, b = index[(parts[1], parts[2])]
            pupils = amount if model.split_settlement[s] else amount * unit.demand[s, b]
            reach = ids[np.unique(model.pj[(model.ps == s) & (model.pb == b)])]
            violations[group] = float(pupils)
            settlements.append(parts[1])
            words.append(
                f"{parts[1]} {parts[2]}: {pupils:.0f} of {unit.demand[s, b]} pupils find no seat "
                f"(schools in reach: {', '.join(reach[:4])}{' ...' if len(reach) > 4 else ''})"
            )
        else:
            violations[group] = float(amount)
            words.append(f"{group} (short by {amount:.4g})")
    if not words:
        return Infeasible(f"{unit.name}: {exc.message}", exc.violations)
    message = (
        f"{unit.name}: no plan meets every requirement: {'; '.join(words[:5])}"
        + (f" and {len(words) - 5} more" if len(words) > 5 else "")
        + "; allow expansions (max_expansion_share), splitting, boarding or longer trips"
        + (" or add boarding places (column boarding_places)" if boarding else "")
    )
    out = Infeasible(message, violations)
    out.settlements = sorted(set(settlements))
    return out


def _school_loads(res: _Result):
    model = res.model
    n_j = model.n_schools
    load = np.zeros((n_j, 3))
    np.add.at(load, (model.pj, model.pb), res.pupils)
    return load


def _available(res: _Result):
    """Seats, classes and size limit each open school has (own plus absorbed partner)."""
    model = res.model
    seats = np.where(res.open_, model.seats, 0.0)
    classes = np.where(res.open_, model.classes, 0.0)
    size = np.where(res.open_, model.size, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        seats[h] += model.seats[a]
        classes[h] += model.classes[a]
        size[h] += model.size_extra[h]
    return seats, classes, size


def _boarders_after(res: _Result) -> np.ndarray:
    """Boarders each school receives in the plan."""
    model = res.model
    board = np.zeros(model.n_schools)
    np.add.at(board, model.pj, res.pupils * model.pboard)
    return board


def _boarding_room(res: _Result) -> tuple[np.ndarray, np.ndarray]:
    """Per school after the plan: the boarding places of the data (inf: no limit) and the most
    boarders the plan may place there (the larger of the places and today's boarders); a
    nine-year host adds those of the school it absorbs; closed schools hold none."""
    model, unit = res.model, res.unit
    places = unit.boarding_places.astype(float).copy()
    room = np.where(res.open_, model.boarding, 0.0)
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        places[h] += unit.boarding_places[a]
        room[h] += model.boarding[a]
    return places, room


def _finish(res: _Result, travel_mode: bool) -> None:
    """Choose the fewest classrooms the assignment needs, then verify the plan against the model."""
    model, unit, policy = res.model, res.unit, res.model.policy
    load = _school_loads(res)
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    seats, classes, size = _available(res)
    need_seats = np.ceil((load.sum(axis=1) - seats) / model.room_seats - 1e-7)
    need_classes = np.ceil((load / cap_b).sum(axis=1) - classes - 1e-7)
    res.rooms = np.maximum(0, np.maximum(need_seats, need_classes)).astype(np.int64)
    _verify(res, load, seats, classes, size)
    objective = _plan_objective(res, travel_mode)
    info = res.info
    scale = max(1.0, abs(info.objective or 0.0))
    if info.objective is not None and objective > info.objective + 1e-6 * scale:
        raise SolverError(
            f"{unit.name}: the plan's recomputed objective {objective:.6g} exceeds the solver's "
            f"{info.objective:.6g}",
            info,
        )
    bound = info.bound
    gap = info.gap
    if bound is not None and math.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
        if info.status == "optimal" and objective < bound - 1e-6 * scale:
            raise SolverError(f"{unit.name}: plan objective below the proven bound", info)
    status = info.status
    if status == "optimal" and gap is not None and gap > res.mip_gap * (1 + 1e-6) + 1e-9:
        status = "feasible"  # rounding the split pupils cost more than the tolerance allows
    res.info = dataclasses.replace(info, status=status, objective=objective, gap=gap)


def _verify(res: _Result, load, seats, classes, size) -> None:
    """Check the solved plan against the rules, independently of the solver's rows."""
    model, unit, policy = res.model, res.unit, res.model.policy
    ids = unit.schools["school_id"].to_numpy()
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)

    def fail(what: str):
        raise SolverError(f"{unit.name}: the solved plan breaks the model: {what}", res.info)

    used = res.pupils > 0
    # travel limits
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])[model.pb]
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])[model.pb]
    limit = np.where(boards, np.maximum(day, policy.boarding_minutes), day)
    real = unit.travel[model.ps, model.pj]
    if (used & ~(real <= limit + 1e-9)).any():
        p = int(np.flatnonzero(used & ~(real <= limit + 1e-9))[0])
        fail(
            f"settlement {unit.settlements['settlement_id'].iloc[model.ps[p]]} band "
            f"{PLANNED_BANDS[model.pb[p]]} travels {real[p]:.1f} min to {ids[model.pj[p]]}"
        )
    # every pupil placed
    placed = np.zeros(unit.demand.shape, dtype=np.int64)
    np.add.at(placed, (model.ps, model.pb), res.pupils)
    if (placed != unit.demand).any():
        s, b = (int(v[0]) for v in np.nonzero(placed != unit.demand))
        fail(
            f"settlement {unit.settlements['settlement_id'].iloc[s]} {PLANNED_BANDS[b]}: "
            f"{placed[s, b]} of {unit.demand[s, b]} pupils placed"
        )
    per = np.zeros(unit.demand.shape, dtype=np.int64)
    np.add.at(per, (model.ps, model.pb), used.astype(np.int64))
    if (per[~model.split_settlement] > 1).any():
        fail("a village's band is split between schools although splitting is not allowed")
    # candidate sites: nobody at a site left unbuilt; an opened site within its own limits
    cand = unit.candidate
    if cand.any():
        total = load.sum(axis=1)
        unbuilt = np.flatnonzero(cand & ~res.open_ & (total > 0))
        if len(unbuilt):
            fail(f"{int(total[unbuilt[0]])} pupils assigned to unopened site {ids[unbuilt[0]]}")
        if cand[model.conv[res.converted]].any():
            fail("a candidate site takes part in a nine-year conversion")
        sites = {c.site_id: c for c in policy.candidate_sites}
        county = unit.settlements["county"].to_numpy()
        for j in np.flatnonzero(cand & res.open_):
            c = sites[ids[j]]
            rooms_j = -(-c.capacity // (policy.junior_class_size if c.level == "junior" else
                                        policy.primary_class_size))  # fmt: skip
            if res.rooms[j] > 0 or total[j] > c.capacity + 1e-9:
                fail(f"new site {c.site_id} holds {int(total[j])} pupils, capacity {c.capacity}")
            if (load[j] / cap_b).sum() > rooms_j + 1e-6:
                fail(f"new site {c.site_id}'s {rooms_j} classes exceed the class-size cap")
            if ((load[j] > 0) & ~np.array(_LEVEL_BANDS[c.level], dtype=bool)).any():
                fail(f"new site {c.site_id} receives a band its level does not teach")
            mine = used & (model.pj == j)
            if (county[model.ps[mine]] != c.county).any():
                fail(f"new site {c.site_id} serves pupils of another county")
    # closed schools teach nobody; bands taught
    if (load.sum(axis=1)[~res.open_] > 0).any():
        fail(
            f"closed school {ids[np.flatnonzero(~res.open_ & (load.sum(axis=1) > 0))[0]]} has pupils"
        )
    teaches = unit.teaches.copy()
    for w in np.flatnonzero(res.converted):
        a, h = model.conv[w]
        if res.open_[a] or not res.open_[h]:
            fail(f"conversion {ids[a]} -> {ids[h]} with the absorbed school open or host closed")
        teaches[h] |= unit.teaches[a]
    if ((load > 0) & ~teaches).any():
        fail("a school receives a band it does not teach")
    # capacities, class sizes, school sizes
    total = load.sum(axis=1)
    rooms = res.rooms
    if (rooms > model.max_rooms + 1e-9).any():
        j = int(np.flatnonzero(rooms > model.max_rooms + 1e-9)[0])
        fail(f"{ids[j]} needs {rooms[j]} classrooms, more than the expansion limit")
    cap_b = np.array([policy.class_size(b) for b in PLANNED_BANDS], dtype=float)
    if (total > seats + model.room_seats * rooms + 1e-6).any():
        fail("a school holds more pupils than its seats")
    if ((load / cap_b).sum(axis=1) > classes + rooms + 1e-6).any():
        fail("a school's classes exceed the class-size cap")
    if (total > size + 1e-6).any():
        fail("a school exceeds the school-size cap")
    board = _boarders_after(res)
    _, room = _boarding_room(res)
    over = np.flatnonzero(board > room + 1e-6)
    if len(over):
        j = int(over[0])
        fail(
            f"{ids[j]} receives {int(board[j])} boarders, more than its {room[j]:g} boarding "
            "places (or its boarders today)"
        )
    # kept schools
    if (model.fixed_open & ~res.open_).any():
        fail(f"kept school {ids[np.flatnonzero(model.fixed_open & ~res.open_)[0]]} closed")
    absorbed = np.zeros(len(ids), dtype=bool)
    absorbed[model.conv[res.converted, 0]] = True
    if (model.min_kept & ~res.open_ & ~absorbed).any():
        fail("a school at or above min_size was closed")
    for name, members, extra in model.townships:
        if res.open_[members].sum() + res.converted[extra].sum() < 1:
            fail(f"township {name} keeps no junior school")
    if unit.max_schools is not None and res.open_.sum() > unit.max_schools:
        fail(f"{int(res.open_.sum())} schools open, more than max_schools={unit.max_schools}")


def _plan_objective(res: _Result, travel_mode: bool) -> float:
    model = res.model
    if travel_mode:
        return float((res.pupils * model.pt).sum())
    return float(sum(_cost_items_after(res).values()))


def _cost_items_after(res: _Result) -> dict[str, float]:
    model, policy = res.model, res.model.policy
    load = _school_loads(res).sum(axis=1)
    floor = policy.funding_yuan_per_pupil * np.maximum(0.0, policy.funding_floor_pupils - load)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    trips = np.where(model.pboard, policy.boarder_trip_share, 1.0)
    cand = res.unit.candidate
    return {
        "sites": float(model.site_cost[res.open_ & ~cand].sum()),
        "new_sites": float(model.site_cost[res.open_ & cand].sum()),
        "funding_floor": float(floor[res.open_].sum()),
        "expansion": float((res.rooms * model.room_seats).sum() * policy.expansion_yuan_per_seat),
        "transport": float(
            (res.pupils * model.pt * trips).sum() * policy.transport_yuan_per_pupil_minute
        ),
        "boarding": float((res.pupils * model.pboard).sum() * board),
    }


def _cost_items_before(res: _Result) -> dict[str, float]:
    unit, model, policy = res.unit, res.model, res.model.policy
    load = unit.current.sum(axis=1)
    floor = policy.funding_yuan_per_pupil * np.maximum(0.0, policy.funding_floor_pupils - load)
    minutes = res.before_minutes
    ok = np.isfinite(minutes) & (unit.demand > 0)
    boarding = _boarding_before(minutes, policy) & ok
    trips = np.where(boarding, policy.boarder_trip_share, 1.0)
    board = policy.boarding_yuan_per_boarder + policy.lodging_yuan_per_boarder
    m = np.where(ok, minutes, 0.0)
    old = ~unit.candidate  # candidate sites are closed before the plan
    return {
        "sites": float(model.site_cost[old].sum()),
        "new_sites": 0.0,
        "funding_floor": float(floor[old].sum()),
        "expansion": 0.0,
        "transport": float(
            (unit.demand * m * trips).sum() * policy.transport_yuan_per_pupil_minute
        ),
        "boarding": float((unit.demand * boarding).sum() * board),
    }


def _boarding_before(minutes: np.ndarray, policy: MergerPolicy) -> np.ndarray:
    day = np.array([policy.day_minutes(b) for b in PLANNED_BANDS])
    boards = np.array([b in policy.boarding_bands for b in PLANNED_BANDS])
    return (minutes > day[None, :] + 1e-9) & boards[None, :]


# ------------------------------------------------------------------------------------ tables
def _assignments(res: _Result) -> pd.DataFrame:
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


def _travel_rows(res: _Result) -> pd.DataFrame:
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


def _school_table(res: _Result) -> pd.DataFrame:
    model, unit = res.model, res.unit
    load = _school_loads(res)
    seats, classes, _ = _available(res)
    hosts = np.zeros(model.n_schools, dtype=bool)
    hosts[model.conv[res.converted, 1]] = True
    board = _boarders_after(res)
    places, room = _boarding_room(res)
    total = load.sum(axis=1)
    classes_after = classes + res.rooms
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
            "kept_because": model.kept_because,
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


def _closures(res: _Result, travel_mode: bool) -> pd.DataFrame:
    model, unit = res.model, res.unit
    ids = unit.schools["school_id"].to_numpy()
    s = unit.schools
    load = _school_loads(res).sum(axis=1)
    _, classes, _ = _available(res)
    classes = classes + res.rooms
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


def _openings(res: _Result, closures: pd.DataFrame) -> pd.DataFrame:
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


def _expansions(res: _Result) -> pd.DataFrame:
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
        exc = Infeasible(
            f"{len(ids)} settlement(s) lie in counties without schools: {', '.join(ids[:8])}",
            {f"{s} all": 1.0 for s in ids},
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
    results = _solve_all(prepared, policy, options, progress)
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
    )


def _solve_all(units: list[_County], policy, options: SolverOptions, progress) -> list[_Result]:
    """Solve the units one after another, or (several units, several cores) in processes."""
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
            out.append(_solve_unit(unit, policy, options))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # never fork a process that ran HiGHS
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(_solve_unit, unit, policy, single): k for k, unit in enumerate(units)
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


def _cost_table(results: list[_Result], new_sites: bool = False) -> pd.DataFrame:
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
