"""The consolidation planner's settings: :class:`MergerPolicy` (rules and prices) and the
:class:`CandidateSite` rows of its ``candidate_sites`` (new schools the plan may build).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.planners.mergers.columns import CANDIDATE_TABLE, PLANNED_BANDS, boarding_places
from allocator.region import (
    AREA_TYPES,
    allowed_values,
    numeric_column,
    require_columns,
    text_column,
    unique_ids,
)
from allocator.sheets import EXACT_FLOATS
from allocator.standards import Standard, load_standard


def reject(column: str, value, expected: str):
    """Raise the InputError of a policy value out of range, naming the field.

    Examples
    --------
    >>> reject("min_size", -1, "a whole number >= 0")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: ...min_size=-1; expected a whole number >= 0
    """
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
                table=CANDIDATE_TABLE,
                file=file,
            )
        text = ("site_id", "county", "township", "node", "level", "name", "area_type")
        try:
            df = pd.read_csv(
                path,
                encoding="utf-8-sig",
                dtype=dict.fromkeys(text, str),
                na_values=[""],
                **EXACT_FLOATS,
            )
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV",
                table=CANDIDATE_TABLE,
                file=file,
            ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InputError(
                f"cannot parse as CSV: {exc}", table=CANDIDATE_TABLE, file=file
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
            column=CANDIDATE_TABLE,
        )
    try:
        return _candidate_records(df), file
    except InputError as exc:
        if file is None:
            raise
        raise exc.located(file, None if exc.row is None else exc.row + 2) from None


def _candidate_records(df: pd.DataFrame) -> tuple[CandidateSite, ...]:
    table, key = CANDIDATE_TABLE, "site_id"
    require_columns(df, table, CANDIDATE_COLUMNS)
    df = df.reset_index(drop=True).copy()
    for column in ("name", "area_type"):
        if column not in df.columns:
            df[column] = ""
        df[column] = df[column].where(df[column].notna(), "")
    for column in ("site_id", "county", "township", "node", "level", "name", "area_type"):
        text_column(df, table, column, key)
    unique_ids(df, table, key)
    allowed_values(df, table, "level", key, _CANDIDATE_LEVELS)
    allowed_values(df, table, "area_type", key, ("", *AREA_TYPES))
    for column in ("x", "y"):
        numeric_column(df, table, column, key, whole=False, nonnegative=False)
    for column in ("annual_cost", "build_cost"):
        numeric_column(df, table, column, key, whole=False, nonnegative=True)
    numeric_column(df, table, "capacity", key, whole=True, nonnegative=True)
    places = boarding_places(df, table, key)
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
    lower_primary_minutes, upper_primary_minutes, junior_minutes : float, optional
        Day-travel limit (one way) per band; None (default): the standard's
        ``travel.lower_primary_minutes``, ``travel.upper_primary_minutes`` and
        ``travel.junior_minutes`` (30 / 45 / 60 minutes in ``moe2017``).
    boarding_bands : tuple of str
        Bands that may board beyond their day limit: ``("upper_primary", "junior")``. Grades 1-3
        never board (``lower_primary`` is refused).
    boarding_minutes : float, optional
        Travel limit for boarders (one way, weekly trips); None: the standard's
        ``travel.boarding_minutes`` (90).
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
    primary_class_size, junior_class_size : int, optional
        Class-size caps; None: the standard's ``class_size.max`` of ``primary`` and ``junior``
        (45 and 50).
    school_size, nine_year_school_size : int, optional
        School-size caps: ``school_size`` for primary schools, teaching points and junior schools,
        ``nine_year_school_size`` for nine-year schools (and schools teaching senior high); None:
        the standard's ``school_size.max_pupils`` of each level (2000 primary and junior, 2500
        nine-year; a teaching point has the primary cap).
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
    expansion_build_yuan_per_seat : float
        One-off cost of one added seat in a plan over several years, paid in the year it is
        built: 20,000 yuan (the figure behind ``expansion_yuan_per_seat``; assumed, unconfirmed).
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
        rule of ``expansion_yuan_per_seat``; no interest): 30. A plan over several years pays
        ``build_cost`` once, in the year the site opens, and ``annual_cost`` each year it is open.
    discount_rate : float
        Yearly rate at which a plan over several years (``plan_mergers(..., years=...)``)
        discounts later years' costs: 0.08, the social discount rate of 国家发展改革委、建设部
        《建设项目经济评价方法与参数》(第三版, 2006). Unused by a one-year plan.
    settle_years : int
        In a plan over several years, the years after a village's pupils change school during
        which they change no more (default 0: no such rule; e.g. 2): a school that received pupils
        from a closure does not close in the ``settle_years`` years after (nor are those pupils
        sent on), so no pupil moves twice within ``settle_years`` years. A hard rule, not a cost:
        the harm of a second move in a row is not a price to set against upkeep (see
        :mod:`allocator.planners.mergers.years_model`). It makes the linked model much larger
        (a 150-school county over five years: 86,000 columns and 72,000 rows instead of 49,000
        and 33,000; 0.24 % from optimal after 150 s instead of optimal in 68 s), hence off by
        default. Unused by a one-year plan.
    on_infeasible : {"report", "error"}
        What a county without a plan does. ``"report"`` (default): bands today's layout already
        fails (no school, or no seat, within their limit) go to the nearest schools beyond it,
        as few pupils as any plan allows (``plan.breaches``); a county that still has no plan is
        left as it is and listed in ``plan.unplanned`` while the others are planned. ``"error"``:
        no pupil beyond a limit, and :class:`~allocator.errors.Infeasible` naming every county
        without a plan (all are checked before the long solves).
    standard : str or Standard
        The standard the travel limits, class sizes and school sizes left at None are read from
        (``"moe2017"``, another name or the path of a TOML file; see
        :func:`allocator.standards.load_standard`). A value given explicitly wins over the
        standard's. The numbers are read when the policy is made, so the fields hold numbers
        afterwards; ``dataclasses.replace`` reads them again from the new standard unless given.
    standard_overrides : dict, optional
        Nested overrides of the standard, e.g. ``{"class_size": {"max": {"primary": 40}}}`` (a
        scenario's ``[standard] overrides`` arrive here).

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

    lower_primary_minutes: float | None = None
    upper_primary_minutes: float | None = None
    junior_minutes: float | None = None
    boarding_bands: tuple[str, ...] = ("upper_primary", "junior")
    boarding_minutes: float | None = None
    boarding_candidates: int = 4
    day_candidates: int | None = 8
    boarding_yuan_per_boarder: float = 200.0
    lodging_yuan_per_boarder: float = 3000.0
    transport_yuan_per_pupil_minute: float = 100.0
    boarder_trip_share: float = 0.2
    site_yuan: float = 300_000.0
    funding_floor_pupils: int = 100
    funding_yuan_per_pupil: float = 600.0
    primary_class_size: int | None = None
    junior_class_size: int | None = None
    school_size: int | None = None
    nine_year_school_size: int | None = None
    must_keep: tuple[str, ...] = ()
    township_keeps_junior: bool = True
    keep_sole_lower_primary: bool = True
    allow_nine_year: bool = True
    nine_year_site_minutes: float = 5.0
    min_size: int = 100
    expansion_yuan_per_seat: float = 1500.0
    expansion_build_yuan_per_seat: float = 20_000.0
    max_expansion_share: float = 0.3
    expansion_floor_m2_per_seat: float = 4.5
    max_schools: int | Mapping[str, int] | None = None
    split: bool = False
    split_area_types: tuple[str, ...] = ("urban",)
    candidate_sites: pd.DataFrame | str | Path | tuple[CandidateSite, ...] | None = None
    build_years: float = 30.0
    discount_rate: float = 0.08
    settle_years: int = 0
    on_infeasible: str = "report"
    standard: str | Standard = "moe2017"
    standard_overrides: Mapping | None = None
    #: The CSV file the candidate sites were read from (for error messages), if any.
    candidate_sites_file: str | None = field(default=None, init=False, compare=False, repr=False)
    #: The standard's travel guideline for grades 1-3 (the travel table's share within it).
    lower_primary_guideline_minutes: float = field(
        default=30.0, init=False, compare=False, repr=False
    )
    #: (school level, school-size cap) after the explicit values and the standard.
    size_caps: tuple[tuple[str, int], ...] = field(
        default=(), init=False, compare=False, repr=False
    )

    def __post_init__(self):
        if isinstance(self.standard_overrides, Mapping):
            object.__setattr__(self, "standard_overrides", freeze(self.standard_overrides))
        self._read_norms()
        self._number("build_years", positive=True)
        if self.on_infeasible not in ("report", "error"):
            reject("on_infeasible", self.on_infeasible, "'report' or 'error'")
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
            "expansion_build_yuan_per_seat",
            "max_expansion_share",
            "expansion_floor_m2_per_seat",
            "nine_year_site_minutes",
        ):
            self._number(name)
        self._number("site_yuan")
        for name in ("boarder_trip_share", "discount_rate"):
            self._number(name, upper=1.0)
        self._integer("boarding_candidates", low=1)
        if self.day_candidates is not None:
            self._integer("day_candidates", low=1)
        for name in ("funding_floor_pupils", "min_size", "settle_years"):
            self._integer(name, low=0)
        for name in ("primary_class_size", "junior_class_size", "school_size"):
            self._integer(name, low=1)
        self._integer("nine_year_school_size", low=1)
        if self.school_size < self.min_size:
            reject(
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
                reject(name, getattr(self, name), "true or false")
        bands = self.boarding_bands
        if isinstance(bands, str) or not _is_list(bands):
            reject("boarding_bands", bands, "a list of band names")
        bands = tuple(bands)
        for band in bands:
            if band == "lower_primary":
                reject("boarding_bands", bands, "no lower_primary: grades 1-3 do not board")
            if band not in PLANNED_BANDS:
                reject("boarding_bands", bands, "bands among upper_primary, junior")
        object.__setattr__(self, "boarding_bands", tuple(dict.fromkeys(bands)))
        keep = self.must_keep
        if isinstance(keep, str) or not _is_list(keep) or not all(isinstance(k, str) for k in keep):
            reject("must_keep", keep, "a list of school ids (text)")
        object.__setattr__(self, "must_keep", tuple(keep))
        areas = self.split_area_types
        if isinstance(areas, str) or not _is_list(areas) or not set(areas) <= set(AREA_TYPES):
            reject("split_area_types", areas, f"a list of area types among {', '.join(AREA_TYPES)}")
        object.__setattr__(self, "split_area_types", tuple(areas))
        p = self.max_schools
        if p is not None:
            if isinstance(p, Mapping):
                for county, value in p.items():
                    if not isinstance(county, str) or not _whole(value) or value < 1:
                        reject("max_schools", p, "a table county -> whole number >= 1")
                object.__setattr__(self, "max_schools", freeze({k: int(v) for k, v in p.items()}))
            elif not _whole(p) or p < 1:
                reject("max_schools", p, "a whole number >= 1, or a table county -> number")

    def _number(self, name: str, positive: bool = False, upper: float | None = None):
        value = getattr(self, name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (value > 0 if positive else value >= 0)
        ok = ok and (upper is None or value <= upper)
        if not ok:
            what = "a number > 0" if positive else "a number >= 0"
            if upper is not None:
                what = f"a number between 0 and {upper:g}"
            reject(name, value, what)

    def _integer(self, name: str, low: int):
        value = getattr(self, name)
        if not _whole(value) or value < low:
            reject(name, value, f"a whole number >= {low}")

    def load_standard(self) -> Standard:
        """The policy's standard with its overrides.

        Examples
        --------
        >>> MergerPolicy().load_standard().class_size.max["primary"]
        45
        """
        if not isinstance(self.standard, str | Path | Standard):
            reject("standard", self.standard, "a standard name such as 'moe2017' or a file name")
        overrides = self.standard_overrides
        if overrides is not None and not isinstance(overrides, Mapping):
            reject("standard_overrides", overrides, "a table of the standard's settings")
        return load_standard(self.standard, overrides=_plain(overrides) or None)

    def _read_norms(self) -> None:
        """Fill the norms left at None (or read from a previous standard) from the standard."""
        standard = self.load_standard()
        travel, sizes = standard.travel, standard.school_size.max_pupils
        norms = {
            "lower_primary_minutes": travel.lower_primary_minutes,
            "upper_primary_minutes": travel.upper_primary_minutes,
            "junior_minutes": travel.junior_minutes,
            "boarding_minutes": travel.boarding_minutes,
            "primary_class_size": standard.class_size.max["primary"],
            "junior_class_size": standard.class_size.max["junior"],
            "school_size": sizes["primary"],
            "nine_year_school_size": sizes["nine_year"],
        }
        given = {name for name in norms if not _is_norm(getattr(self, name))}
        for name in set(norms) - given:
            object.__setattr__(self, name, _norm(name, norms[name]))
        school = self.school_size if "school_size" in given else None
        caps = {
            "primary": school or sizes["primary"],
            "teaching_point": school or sizes["primary"],
            "junior": school or sizes["junior"],
            "nine_year": self.nine_year_school_size,
            "senior": self.nine_year_school_size,
        }
        object.__setattr__(self, "size_caps", tuple(caps.items()))
        object.__setattr__(
            self, "lower_primary_guideline_minutes", float(travel.lower_primary_minutes)
        )

    def size_cap(self, level: str) -> int:
        """The school-size cap of a school level (2000 primary, 2500 nine-year by default)."""
        return dict(self.size_caps).get(level, self.school_size)

    def day_minutes(self, band: str) -> float:
        """The day-travel limit of a band, e.g. ``policy.day_minutes("junior") == 60``."""
        return float(getattr(self, f"{band}_minutes"))

    def class_size(self, band: str) -> int:
        """The class-size cap of a band (45 for primary bands, 50 for junior)."""
        return self.junior_class_size if band == "junior" else self.primary_class_size


class _NormInt(int):
    """A policy number read from the standard, not given: read again by ``dataclasses.replace``."""

    __slots__ = ()


class _NormFloat(float):
    """A policy number read from the standard, not given: read again by ``dataclasses.replace``."""

    __slots__ = ()


def _norm(name: str, value):
    """``value`` marked as read from the standard: minutes as a float, sizes as a whole number."""
    return _NormFloat(value) if name.endswith("_minutes") else _NormInt(value)


def _is_norm(value) -> bool:
    """True for a norm to read from the standard: None or a number read from it before."""
    return value is None or isinstance(value, _NormInt | _NormFloat)


def _plain(value):
    """Read-only mappings as dicts, recursively (what ``load_standard`` takes as overrides)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _is_list(value) -> bool:
    return isinstance(value, list | tuple)


def _whole(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
    )
