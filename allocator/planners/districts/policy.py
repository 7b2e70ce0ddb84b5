"""The rules of the district planner: :class:`DistrictPolicy`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.region import LEVELS

__all__ = ["DistrictPolicy", "COMPULSORY_LEVELS", "METHODS"]

#: School levels districted by default: compulsory education.
COMPULSORY_LEVELS = ("primary", "junior", "nine_year", "teaching_point")
#: Methods of :func:`allocator.districting.partition`.
METHODS = ("auto", "exact", "heuristic")


@dataclass(frozen=True)
class DistrictPolicy:
    """Rules for drawing school districts (frozen and hashable: ``districts`` given as a dict
    is kept as a read-only mapping, ``levels`` as a tuple).

    Parameters
    ----------
    districts : int or dict, optional
        Districts per county (one number for every county, or county -> number). None: from
        ``schools_per_district``.
    schools_per_district : float
        Target schools per district when ``districts`` is None (8).
    tolerance : float
        Every district's pupils within ``±tolerance`` of its county's mean per district (0.15).
    adjacency_minutes : float
        Schools at most this many road minutes apart are neighbours even if their catchments do
        not touch (15); at most ``max_trip_minutes``.
    max_trip_minutes : float
        No two schools of a district are farther apart by road (120), and no two neighbours
        (a road hub in one school's catchment does not make it the neighbour of every school
        its roads reach).
    strong_quantile : float
        Schools at or above this quantile of the county's quality index are strong (0.75).
    quality_cap : float
        Cap on each indicator's ratio to its threshold in the quality index (1.5).
    quality_weight, travel_weight : float
        Objective weights of the quality spread (per unit of index) and of the mean travel to
        the district centre (per minute).
    levels : list of str
        School levels that are districted.
    standard : str
        Standard supplying the indicator thresholds (``"moe2017"``).
    method : {"auto", "exact", "heuristic"}
        Passed to :func:`allocator.districting.partition` (auto: exact up to 60 schools).
    time_limit : float, optional
        Seconds per county (60); an exact solve stopped early reports its gap.
    seed, starts : int
        Heuristic seed and starts.

    Examples
    --------
    >>> DistrictPolicy(schools_per_district=6).tolerance
    0.15
    >>> DistrictPolicy(tolerance=2)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'tolerance': DistrictPolicy.tolerance must be in [0, 1), got 2
    """

    districts: int | Mapping[str, int] | None = None
    schools_per_district: float = 8.0
    tolerance: float = 0.15
    adjacency_minutes: float = 15.0
    max_trip_minutes: float = 120.0
    strong_quantile: float = 0.75
    quality_cap: float = 1.5
    quality_weight: float = 100.0
    travel_weight: float = 1.0
    levels: list[str] | tuple[str, ...] = COMPULSORY_LEVELS
    standard: str = "moe2017"
    method: str = "auto"
    time_limit: float | None = 60.0
    seed: int = 0
    starts: int = 4

    def __post_init__(self):
        def bad(name, expected):
            v = getattr(self, name)
            shown = v.item() if isinstance(v, np.generic) else v
            raise InputError(
                f"DistrictPolicy.{name} must be {expected}, got {shown!r}",
                table="policy",
                column=name,
                value=shown,
            )

        def number(name, lo=None, hi=None, lo_open=False, hi_open=False, expected=None):
            v = getattr(self, name)
            ok = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            ok = ok and math.isfinite(v)
            ok = ok and (lo is None or (v > lo if lo_open else v >= lo))
            ok = ok and (hi is None or (v < hi if hi_open else v <= hi))
            if not ok:
                bad(name, expected)

        number("tolerance", 0, 1, hi_open=True, expected="in [0, 1)")
        number("strong_quantile", 0, 1, hi_open=True, expected="in [0, 1)")
        number("schools_per_district", 1, expected="a number of schools, at least 1")
        number("adjacency_minutes", 0, expected="a non-negative number of minutes")
        number("max_trip_minutes", 0, lo_open=True, expected="a positive number of minutes")
        if self.adjacency_minutes > self.max_trip_minutes:
            bad(
                "adjacency_minutes",
                f"at most max_trip_minutes ({self.max_trip_minutes:g}): schools farther apart "
                "than a district's longest trip cannot be neighbours",
            )
        number("quality_cap", 1, expected="at least 1 (a ratio to the threshold)")
        number("quality_weight", 0, expected="a non-negative number")
        number("travel_weight", 0, expected="a non-negative number")
        if self.time_limit is not None:
            number("time_limit", 0, lo_open=True, expected="a positive number of seconds or None")
        if self.method not in METHODS:
            bad("method", f"one of {', '.join(METHODS)}")
        if isinstance(self.starts, bool) or not isinstance(self.starts, int) or self.starts < 1:
            bad("starts", "a positive integer")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer):
            bad("seed", "an integer")
        levels = self.levels
        if isinstance(levels, str) or not all(isinstance(v, str) for v in levels):
            bad("levels", "a list of level names")
        unknown = [v for v in levels if v not in LEVELS]
        if not levels or unknown:
            bad("levels", f"a non-empty list of {', '.join(LEVELS)}")
        object.__setattr__(self, "levels", tuple(levels))
        d = self.districts
        if isinstance(d, Mapping):
            for county, k in d.items():
                if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                    raise InputError(
                        f"DistrictPolicy.districts[{county!r}] must be a positive integer, "
                        f"got {k!r}",
                        table="policy",
                        column="districts",
                        value=k,
                    )
            object.__setattr__(self, "districts", freeze(dict(d)))
        elif d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1):
            bad("districts", "a positive integer or a dict county -> positive integer")
