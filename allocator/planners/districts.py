"""School districts (学区制): contiguous, balanced districts that each hold a strong school.

Under district management neighbouring schools form a district that shares teachers and
facilities; each district should mix strong and weak schools. This planner draws the districts
of every county separately (districts never cross a county border) with
:func:`allocator.districting.partition`.

Model (per county ``c``)
------------------------
Schools
    ``S_c``: the county's schools whose ``level`` is in ``policy.levels`` (default: primary,
    junior, nine-year schools and teaching points) and that have compulsory-education pupils.
    Other schools (senior high schools, schools without pupils) are not districted; :meth:`apply`
    attaches each to the district of its nearest districted school by road (``planned = False``
    in :attr:`DistrictPlan.districts`), so every school of the region ends with a district.
Weight
    ``p_i``: pupils of grades 1-9 (``pupils_lower_primary + pupils_upper_primary +
    pupils_junior``).
Quality index ``q_i`` (from the seven 2017 indicators, 教督〔2017〕6号)
    For every assessed part of school ``i`` (:func:`allocator.standards.assessment_parts`: a
    primary and/or a junior part; nine-year schools split their resources 1 : 1.1), each indicator
    ``k`` the standard assesses (qualified, backbone and PE/arts teachers per 100 pupils, floor and
    sports area per pupil, equipment value per pupil, multimedia rooms per 100 pupils) is divided
    by its threshold for that part and capped at ``policy.quality_cap`` (1.5), so a surplus in one
    indicator cannot hide shortfalls in others; the part's index is the mean of these ratios; the
    school's index is the pupil-weighted mean over its parts. 1 means "exactly at every threshold".
Strong schools
    ``q_i`` at or above the ``policy.strong_quantile`` (0.75: the top quarter) of ``q`` over
    ``S_c``.
Adjacency graph ``G_c`` (:mod:`allocator.district_adjacency`)
    Two schools of the county are neighbours when their catchments touch (every road node
    belongs to its nearest districted school by road time, over the whole region, and to all of
    them on a tie; catchments touch when they meet at one road node: it belongs to them or a
    road joins it to a node that does, so the catchments around a road hub all touch) or when
    they are at most ``policy.adjacency_minutes`` apart by road; in both cases they are at most
    ``policy.max_trip_minutes`` apart. Edges carry the road minutes between the two
    schools. A county whose schools still form several pieces is joined by the shortest road
    links between the pieces (every link of that length, none longer than
    ``policy.max_trip_minutes``). The graph does not depend on the order or the ids of the
    schools.
Districts
    ``k_c``: ``policy.districts`` (a number, or a number per county), or from the target size:
    ``round(|S_c| / policy.schools_per_district)`` (at least 1, at most the number of strong
    schools) or, when no valid plan has that many districts (large schools can make equal
    enrolment impossible), the nearest number that has one (fewer before more, up to 3 away).
Constraints
    every district is connected in ``G_c``; its pupils are within ``±policy.tolerance`` of the
    county mean per district; it holds at least one strong school; no two of its schools are
    more than ``policy.max_trip_minutes`` apart by road.
Objective
    ``policy.quality_weight * (max_d qbar_d - min_d qbar_d) + policy.travel_weight * T``, with
    ``qbar_d`` the pupil-weighted mean quality index of district ``d`` and ``T`` the
    pupil-weighted mean travel (minutes along ``G_c``) from each school to its district's centre
    school. The default weights (100 and 1) make 0.01 of quality spread worth one minute, so the
    spread comes first and travel decides between plans of nearly equal spread.

Theil between-district share
    Theil T of the school quality index (pupil-weighted, over every districted school of the
    region), decomposed into within- and between-group parts. Pooling teachers and facilities
    inside districts can remove at most the within-district part; the between-district share
    (between / total) is what pooling cannot reach. *Before*: schools grouped by township (the
    township centre school's management that districts replace); *after*: grouped by the planned
    districts. ``theil_after_pooling`` is the Theil left if every district pooled fully (its
    between part).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator import metrics
from allocator.district_adjacency import school_graph, touching_pairs
from allocator.districting import Partition, partition
from allocator.errors import Infeasible, InputError
from allocator.fingerprint import region_fingerprint, require_region
from allocator.region import LEVELS, Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.standards import assessment_parts, load_standard

__all__ = ["DistrictPolicy", "DistrictPlan", "plan_districts", "quality_index"]

_COMPULSORY = ("primary", "junior", "nine_year", "teaching_point")
_PUPILS = ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior")
_METHODS = ("auto", "exact", "heuristic")


# ------------------------------------------------------------------------------------ policy
@dataclass(frozen=True)
class DistrictPolicy:
    """Rules for drawing school districts.

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

    districts: int | dict[str, int] | None = None
    schools_per_district: float = 8.0
    tolerance: float = 0.15
    adjacency_minutes: float = 15.0
    max_trip_minutes: float = 120.0
    strong_quantile: float = 0.75
    quality_cap: float = 1.5
    quality_weight: float = 100.0
    travel_weight: float = 1.0
    levels: list[str] | tuple[str, ...] = _COMPULSORY
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
        if self.method not in _METHODS:
            bad("method", f"one of {', '.join(_METHODS)}")
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
            object.__setattr__(self, "districts", dict(d))
        elif d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1):
            bad("districts", "a positive integer or a dict county -> positive integer")


# ------------------------------------------------------------------------------------ quality
def quality_index(
    schools: pd.DataFrame, standard="moe2017", cap: float = 1.5
) -> tuple[pd.Series, pd.DataFrame]:
    """Quality index of each school from the seven 2017 indicators (see the module docstring).

    Parameters
    ----------
    schools : pandas.DataFrame
        A schools table (:class:`~allocator.region.Region` columns).
    standard : str or Standard
        Supplies the thresholds and the assessed indicators.
    cap : float
        Cap on each indicator's ratio to its threshold.

    Returns
    -------
    index : pandas.Series
        School id -> quality index (NaN for a school without an assessed part, e.g. a senior
        high school).
    ratios : pandas.DataFrame
        One row per assessed part: ``school_id, part, pupils`` and, for every indicator,
        ``<indicator>_ratio`` (value / threshold, uncapped).

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(school_id="s1", county="A", area_type="rural", level="primary",
    ...            pupils_lower_primary=100, pupils_upper_primary=100, pupils_junior=0,
    ...            pupils_senior=0, teachers=20, teachers_qualified=21, teachers_backbone=2,
    ...            teachers_pe_arts=2, floor_area_m2=900.0, sports_area_m2=3000.0,
    ...            equipment_value=400000.0, multimedia_rooms=46)
    >>> index, _ = quality_index(pd.DataFrame([row]))
    >>> round(float(index["s1"]), 4)  # ratios 2.5->1.5 (cap), 1, 1.111, 1, 2->1.5, 1, 10->1.5
    1.2302
    """
    std = load_standard(standard) if isinstance(standard, str) else standard
    parts = assessment_parts(schools, std)
    ids = schools["school_id"].astype(str)
    out = pd.DataFrame({"school_id": parts["school_id"], "part": parts["part"]})
    out["pupils"] = parts["pupils"].to_numpy(float)
    capped = np.zeros(len(parts))
    counted = np.zeros(len(parts))
    for k in dict.fromkeys(k for p in ("primary", "junior") for k in std.assessed_indicators(p)):
        thr = parts["part"].map(lambda p, k=k: std.thresholds.get(p, {}).get(k, np.nan))
        thr = thr.to_numpy(float)
        have = np.isfinite(thr) & (thr > 0) & [k in std.assessed_indicators(p) for p in parts.part]
        ratio = np.full(len(parts), np.nan)
        ratio[have] = parts[k].to_numpy(float)[have] / thr[have]
        out[f"{k}_ratio"] = ratio
        capped += np.where(have, np.minimum(np.nan_to_num(ratio), cap), 0.0)
        counted += have
    part_index = np.divide(capped, counted, out=np.full(len(parts), np.nan), where=counted > 0)
    frame = pd.DataFrame({"school_id": parts["school_id"], "q": part_index, "p": out["pupils"]})
    frame = frame.dropna()
    frame["qp"] = frame["q"] * frame["p"]
    sums = frame.groupby("school_id")[["qp", "p"]].sum()
    index = (sums["qp"] / sums["p"]).where(sums["p"] > 0)
    return index.reindex(ids.to_numpy()).rename("quality"), out


# ------------------------------------------------------------------------------------ the plan
@dataclass
class DistrictPlan:
    """School districts for a region.

    Attributes
    ----------
    districts : pandas.DataFrame
        One row per school of the region: ``school_id, district`` and ``county, planned``
        (False: not districted, attached to its nearest district), ``strong, quality, pupils``.
    district_summary : pandas.DataFrame
        One row per district: ``district, county, schools, strong_schools, pupils``,
        ``quality_mean`` (pupil-weighted), ``quality_min, quality_max``, ``centre_school_id``,
        ``mean_minutes_to_centre`` (pupil-weighted, along the adjacency graph),
        ``longest_minutes`` (longest road trip between two of its schools) and, per indicator,
        ``<indicator>_ratio``: pupil-weighted mean of value / threshold over its schools' parts.
    counties : pandas.DataFrame
        Per county: ``county, schools, districts, method, status, gap, seconds, objective,
        quality_spread, mean_minutes_to_centre, notes``; ``notes`` says when the exact model
        stopped without a plan and ``method="auto"`` fell back to the heuristic (``method`` is
        then ``heuristic``), or when the solver's plan was worse than its start and the start was
        kept.
    theil : dict
        ``theil_before`` (school level), ``theil_after_pooling`` (between planned districts),
        ``theil_between_share_before`` (grouped by township), ``theil_between_share_after``
        (grouped by planned district).
    solve_info : SolveInfo
        Worst status and largest gap over the counties, total time.
    policy : DistrictPolicy
    partitions : dict
        County -> :class:`allocator.districting.Partition`.
    graphs : dict
        County -> the school adjacency graph (networkx; nodes carry ``pupils, quality, strong``,
        edges ``minutes``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_districts(region, DistrictPolicy(method="heuristic"))
    >>> after = plan.apply(region)
    >>> bool(after.schools["district"].notna().all())
    True
    """

    districts: pd.DataFrame
    district_summary: pd.DataFrame
    counties: pd.DataFrame
    theil: dict
    solve_info: SolveInfo
    policy: DistrictPolicy
    partitions: dict = field(default_factory=dict, repr=False)
    graphs: dict = field(default_factory=dict, repr=False)
    region_name: str = ""
    region_fingerprint: str | None = field(default=None, repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (written as CSV by the scenario runner)."""
        return {
            "districts": self.districts,
            "district_summary": self.district_summary,
            "counties": self.counties,
        }

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> plan = plan_districts(make_region(schools=40, seed=3), DistrictPolicy(method="heuristic"))
        >>> h = plan.headline()
        >>> h["districts"] == len(plan.district_summary)
        True
        """
        s = self.district_summary
        info = self.solve_info
        out = {
            "districts": int(len(s)),
            "schools": int(self.districts["planned"].sum()),
            "schools_attached": int((~self.districts["planned"]).sum()),
            "largest_quality_spread": float(self.counties["quality_spread"].max()),
            "mean_minutes_to_centre": float(
                np.average(s["mean_minutes_to_centre"], weights=s["pupils"])
            )
            if len(s) and s["pupils"].sum() > 0
            else 0.0,
            "longest_minutes": float(s["longest_minutes"].max()) if len(s) else 0.0,
        }
        out.update({k: _round(v) for k, v in self.theil.items()})
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
            f"School districts for {self.region_name or 'the region'}: {h['districts']} districts "
            f"of {h['schools']} schools ({self.solve_info.describe()})",
            f"  largest spread of district mean quality within a county: "
            f"{h['largest_quality_spread']:.3f} (index 1 = every indicator at its threshold)",
            f"  travel to the district centre school: {h['mean_minutes_to_centre']:.1f} min "
            f"(pupil-weighted); longest trip inside a district {h['longest_minutes']:.0f} min",
            f"  Theil between-group share of quality inequality: townships "
            f"{_pct(h['theil_between_share_before'])} -> districts "
            f"{_pct(h['theil_between_share_after'])} (what pooling inside districts cannot reach)",
        ]
        if h["schools_attached"]:
            lines.append(
                f"  {h['schools_attached']} school(s) outside the districted levels are attached "
                "to their nearest district"
            )
        cols = ["district", "schools", "strong_schools", "pupils", "quality_mean"]
        top = self.district_summary[cols].head(12)
        lines.append("  " + top.to_string(index=False).replace("\n", "\n  "))
        return "\n".join(lines)

    def to_geodataframes(self, region: Region | None = None, crs=None) -> dict:
        """The plan's tables as GeoDataFrames placed on ``region`` (the region it was made for).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); the layers are those of
        :func:`allocator.gis.export.plan_geodataframes`.
        """
        from allocator.gis import to_geodataframes

        return to_geodataframes(self, region, crs)

    def apply(self, region: Region) -> Region:
        """The region with a ``district`` column in its schools table (a new Region).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_districts(region, DistrictPolicy(method="heuristic"))
        >>> "district" in region.schools.columns, "district" in plan.apply(region).schools.columns
        (False, True)
        """
        require_region(self.region_fingerprint, region, "district plan")
        schools = region.schools.copy()
        mapping = dict(zip(self.districts["school_id"], self.districts["district"], strict=True))
        ids = schools["school_id"].astype(str)
        missing = [s for s in ids if s not in mapping]
        if missing:
            raise InputError(
                f"the plan has no district for {len(missing)} school(s) of this region "
                f"(e.g. {missing[0]!r}); apply a plan to the region it was made for",
                table="schools",
                column="school_id",
                row_id=missing[0],
            )
        schools["district"] = ids.map(mapping).to_numpy(object)
        return region.replace(schools=schools)


def _round(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(v, 6)


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.1%}"


# ------------------------------------------------------------------------------------ planner
def _district_counts(policy: DistrictPolicy, county: str, n: int, strong: int) -> list[int]:
    """Numbers of districts to try, in order.

    A fixed ``policy.districts`` gives one number. A target size gives ``round(n / target)``
    first, then the numbers around it (nearest first, fewer before more, up to 3 away): the
    nearest count for which a valid plan exists wins.
    """
    d = policy.districts
    if isinstance(d, dict):
        if county not in d:
            raise InputError(
                f"policy.districts has no entry for county {county!r}; expected a number for "
                f"every county ({', '.join(map(str, d))} given)",
                table="schools",
                column="county",
                value=county,
            )
        return [int(d[county])]
    if d is not None:
        return [int(d)]
    top = max(1, min(strong, n))
    k0 = max(1, min(int(round(n / policy.schools_per_district)), top))
    out = [k0]
    for step in (1, 2, 3):
        out += [k for k in (k0 - step, k0 + step) if 1 <= k <= top]
    return out


def plan_districts(
    region: Region,
    policy: DistrictPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> DistrictPlan:
    """Group each county's schools into contiguous, balanced districts with a strong school each.

    The model is stated in the module docstring.

    Parameters
    ----------
    region : Region
    policy : DistrictPolicy, optional
        Rules and weights (None: the defaults).
    options : SolverOptions, optional
        Solver settings for counties solved exactly.
    progress : callable, optional
        Called with a short string at each county.

    Returns
    -------
    DistrictPlan

    Raises
    ------
    Infeasible
        A county's schools cannot be split as asked (the county and the reason are named: more
        districts than strong schools, a school with more pupils than a district may have, ...).
    InputError
        ``policy.districts`` misses a county, or the region has no school to district.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> plan = plan_districts(region, DistrictPolicy(schools_per_district=10, method="heuristic"))
    >>> bool(plan.district_summary["strong_schools"].min() >= 1)
    True
    """
    t0 = time.perf_counter()
    policy = policy or DistrictPolicy()
    std = load_standard(policy.standard)
    schools = region.schools.copy()
    schools["school_id"] = schools["school_id"].astype(str)
    quality, ratios = quality_index(schools, std, policy.quality_cap)
    schools["quality"] = quality.to_numpy(float)
    schools["_pupils"] = schools[list(_PUPILS)].to_numpy(np.int64).sum(axis=1)
    inscope = (
        schools["level"].isin(policy.levels) & (schools["_pupils"] > 0) & schools["quality"].notna()
    )
    if not inscope.any():
        raise InputError(
            f"no school to district: none of level {', '.join(policy.levels)} with pupils",
            table="schools",
            column="level",
        )
    scope = schools[inscope].set_index("school_id", drop=False)
    where = dict(zip(scope["school_id"], scope["node"].astype(str), strict=True))
    touching = touching_pairs(region.roads, where)
    rows, summaries, county_rows, infos, partitions, graphs = [], [], [], [], {}, {}
    counties = list(dict.fromkeys(scope["county"]))
    for county in counties:  # a missing entry is reported before any county is solved
        _district_counts(policy, county, 1, 1)
    for c_no, county in enumerate(counties, start=1):
        if progress is not None:
            progress(f"county {c_no}/{len(counties)} {county}")
        sub = scope[scope["county"] == county].copy()
        cut = np.quantile(sub["quality"].to_numpy(float), policy.strong_quantile)
        sub["strong"] = sub["quality"] >= cut - 1e-12
        n_strong = int(sub["strong"].sum())
        nodes = sub["node"].astype(str).tolist()
        minutes = _dense_minutes(region.travel_minutes(nodes, nodes))
        np.fill_diagonal(minutes, 0.0)
        minutes = np.minimum(minutes, minutes.T)  # the same trip both ways, to the last digit
        graph = school_graph(
            sub["school_id"].tolist(),
            minutes,
            touching,
            policy.adjacency_minutes,
            policy.max_trip_minutes,
            {
                s: {"pupils": float(p), "quality": float(q), "strong": bool(st)}
                for s, p, q, st in zip(
                    sub["school_id"], sub["_pupils"], sub["quality"], sub["strong"], strict=True
                )
            },
        )
        ids = sub["school_id"].tolist()
        apart = [
            (ids[i], ids[j])
            for i, j in np.argwhere(np.isfinite(minutes) & (minutes > policy.max_trip_minutes))
            if i < j
        ]
        part, k, tried = None, None, []
        for k in _district_counts(policy, county, len(sub), n_strong):
            try:
                part = partition(
                    graph,
                    k,
                    "pupils",
                    tolerance=policy.tolerance,
                    anchor="strong",
                    attribute="quality",
                    distance="minutes",
                    compactness_weight=policy.travel_weight,
                    imbalance_weight=policy.quality_weight,
                    method=policy.method,
                    seed=policy.seed,
                    starts=policy.starts,
                    time_limit=policy.time_limit,
                    options=options,
                    conflicts=apart,
                )
                break
            except Infeasible as exc:
                tried.append((k, exc))
        if part is None:
            k_last, last = tried[-1]
            ks = ", ".join(str(t[0]) for t in tried)
            raise Infeasible(
                f"county {county!r} ({len(sub)} schools, {n_strong} strong) cannot be split into "
                f"{ks} district(s) within ±{policy.tolerance:.0%} of equal enrolment; for "
                f"{k_last}: {last.message}",
                {f"{county}: {g}": float(v) for g, v in last.violations.items()}
                or {f"{county}: districts": float(k_last)},
            ) from last
        partitions[county] = part
        graphs[county] = graph
        infos.append(_county_info(part))
        names = {p: f"{county}-D{p + 1:02d}" for p in range(part.k)}
        sub["district"] = [names[part.assignment[s]] for s in sub["school_id"]]
        county_rows.append(
            {
                "county": county,
                "schools": len(sub),
                "districts": part.k,
                "method": part.method,
                "status": infos[-1].status,
                "gap": part.gap,
                "seconds": part.seconds,
                "objective": part.objective,
                "quality_spread": part.imbalance,
                "mean_minutes_to_centre": part.mean_distance,
                "notes": "; ".join(part.notes),
            }
        )
        summaries.append(_summary_rows(sub, part, names, minutes, ratios, graph))
        rows.append(sub)
    planned = pd.concat(rows)
    districts = _all_schools(schools, planned, region)
    summary = pd.concat(summaries, ignore_index=True)
    theil = _theil(planned)
    info = SolveInfo.combine(infos, seconds=time.perf_counter() - t0)
    return DistrictPlan(
        districts=districts,
        district_summary=summary,
        counties=pd.DataFrame(county_rows),
        theil=theil,
        solve_info=info,
        policy=policy,
        partitions=partitions,
        graphs=graphs,
        region_name=region.name,
        region_fingerprint=region_fingerprint(region),
    )


def _county_info(part: Partition) -> SolveInfo:
    if part.method == "exact":
        info = part.solve_info
        return SolveInfo(
            part.status, part.objective, part.bound, part.gap, part.seconds, info.solver
        )
    # a heuristic plan is feasible and verified, never proven optimal
    return SolveInfo("feasible", part.objective, None, None, part.seconds, "heuristic")


def _dense_minutes(reach: sp.csr_matrix) -> np.ndarray:
    """Dense minutes from a sparse travel matrix: stored entries (zeros too) are reachable."""
    coo = reach.tocoo()
    out = np.full(reach.shape, np.inf)
    out[coo.row, coo.col] = coo.data
    return out


def _summary_rows(sub, part: Partition, names, minutes, ratios, graph) -> pd.DataFrame:
    pos = {s: t for t, s in enumerate(sub["school_id"])}
    ratio_cols = [c for c in ratios.columns if c.endswith("_ratio")]
    rows = []
    for p in range(part.k):
        members = list(part.parts[p])
        m = sub.loc[members]
        w = m["_pupils"].to_numpy(float)
        idx = [pos[s] for s in members]
        longest = float(minutes[np.ix_(idx, idx)].max()) if len(idx) > 1 else 0.0
        lengths = nx.single_source_dijkstra_path_length(graph, part.centres[p], weight="minutes")
        to_centre = np.array([lengths[s] for s in members])
        r = ratios[ratios["school_id"].isin(members)]
        row = {
            "district": names[p],
            "county": m["county"].iloc[0],
            "schools": len(members),
            "strong_schools": int(m["strong"].sum()),
            "pupils": int(w.sum()),
            "quality_mean": float(np.average(m["quality"], weights=w)),
            "quality_min": float(m["quality"].min()),
            "quality_max": float(m["quality"].max()),
            "centre_school_id": part.centres[p],
            "mean_minutes_to_centre": float(np.dot(w, to_centre) / max(w.sum(), 1e-12)),
            "longest_minutes": longest,
        }
        for c in ratio_cols:
            ok = r[c].notna() & (r["pupils"] > 0)
            row[c] = (
                float(np.average(r.loc[ok, c], weights=r.loc[ok, "pupils"])) if ok.any() else np.nan
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _all_schools(schools: pd.DataFrame, planned: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Every school with its district; schools not districted join their nearest district."""
    out = pd.DataFrame(
        {
            "school_id": schools["school_id"].to_numpy(),
            "county": schools["county"].to_numpy(),
            "quality": schools["quality"].to_numpy(float),
            "pupils": schools["_pupils"].to_numpy(np.int64),
        }
    )
    dmap = dict(zip(planned["school_id"], planned["district"], strict=True))
    smap = dict(zip(planned["school_id"], planned["strong"], strict=True))
    out["district"] = out["school_id"].map(dmap)
    out["planned"] = out["district"].notna()
    out["strong"] = out["school_id"].map(smap).fillna(False).astype(bool)
    for t in np.flatnonzero(~out["planned"].to_numpy()):
        county = out["county"].iloc[t]
        cand = planned[planned["county"] == county]
        if cand.empty:  # a county with no districted school: its own district
            out.loc[out.index[t], "district"] = f"{county}-D00"
            continue
        src = [str(schools["node"].iloc[t])]
        best = _dense_minutes(region.travel_minutes(src, cand["node"].astype(str).tolist()))[0]
        j = int(np.argmin(best))
        out.loc[out.index[t], "district"] = cand["district"].iloc[j]
    cols = ["school_id", "district", "county", "planned", "strong", "quality", "pupils"]
    return out[cols]


def _theil(planned: pd.DataFrame) -> dict:
    q = planned["quality"].to_numpy(float)
    w = planned["_pupils"].to_numpy(float)
    after = metrics.theil_decomposition(q, planned["district"].to_numpy(object), w, zeros="limit")
    out = {
        "theil_before": float(after.total),
        "theil_after_pooling": float(after.between),
        "theil_between_share_after": float(after.between_share),
        "theil_between_share_before": None,
    }
    if "township" in planned.columns and planned["township"].notna().all():
        town = (planned["county"].astype(str) + "/" + planned["township"].astype(str)).to_numpy(
            object
        )
        before = metrics.theil_decomposition(q, town, w, zeros="limit")
        out["theil_between_share_before"] = float(before.between_share)
    return out
