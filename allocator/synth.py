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
backbone teachers (see ``_make_feasible``); most regions need none of it.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow
from scipy.spatial import cKDTree

from allocator.errors import InputError
from allocator.region import PUPIL_COLUMNS, Region
from allocator.text import plain

__all__ = [
    "make_region",
    "check_sizes",
    "MAX_SCHOOLS",
    "MAX_COUNTIES",
    "MAX_SETTLEMENTS_PER_SCHOOL",
]

#: Upper bounds of a synthetic region (a province's worth of schools builds in under a minute and
#: well under 1 GB; larger numbers are refused before any work).
MAX_SCHOOLS = 20_000
MAX_COUNTIES = 1_000
MAX_SETTLEMENTS_PER_SCHOOL = 20.0

COUNTY_KM = 50.0
_SYLLABLES = list("青石白云龙凤金银桃李梅竹松柏清水长安平乐兴隆永和太康新华明德双河高峰")
_SEAT_NAMES = list("江北渝南巴沙九大綦长涪合永潼铜璧梁武城丰垫忠开云奉巫溪柱秀酉彭黔")

# Per-pupil resources relative to a base value, by area type: (mean factor, lognormal sigma).
# Base values are typical primary-school levels; junior schools get the junior multipliers below.
_BASE = {
    "teachers_qualified": 4.6 / 100,
    "teachers_backbone": 1.1 / 100,
    "teachers_pe_arts": 1.0 / 100,
    "floor_area_m2": 4.9,
    "sports_area_m2": 8.0,
    "equipment_value": 2300.0,
    "multimedia_rooms": 2.5 / 100,
}
_JUNIOR_FACTOR = {
    "teachers_qualified": 5.3 / 4.2,
    "teachers_backbone": 1.0,
    "teachers_pe_arts": 1.0,
    "floor_area_m2": 5.8 / 4.5,
    "sports_area_m2": 10.2 / 7.5,
    "equipment_value": 2500 / 2000,
    "multimedia_rooms": 2.4 / 2.3,
}
_AREA_FACTOR = {
    "urban": {
        "teachers_qualified": 1.2,
        "teachers_backbone": 1.55,
        "teachers_pe_arts": 1.3,
        "floor_area_m2": 1.05,
        "sports_area_m2": 0.95,
        "equipment_value": 1.45,
        "multimedia_rooms": 1.35,
    },
    "town": {
        "teachers_qualified": 1.05,
        "teachers_backbone": 1.0,
        "teachers_pe_arts": 0.95,
        "floor_area_m2": 1.0,
        "sports_area_m2": 1.05,
        "equipment_value": 1.0,
        "multimedia_rooms": 1.0,
    },
    "rural": {
        "teachers_qualified": 0.78,
        "teachers_backbone": 0.72,
        "teachers_pe_arts": 0.7,
        "floor_area_m2": 0.95,
        "sports_area_m2": 1.05,
        "equipment_value": 0.72,
        "multimedia_rooms": 0.75,
    },
}
_SIGMA = {"urban": 0.15, "town": 0.25, "rural": 0.45}
_PUPILS_PER_TEACHER = {"urban": 17.0, "town": 14.0, "rural": 11.5}
_CLASS_SIZE = {"urban": 44.0, "town": 40.0, "rural": 30.0}
_SPEED_KMH = {"urban": 22.0, "town": 30.0, "rural": 25.0}
_WINDING = {"urban": 1.3, "town": 1.4, "rural": 1.7}


def _default_counties(schools: int) -> int:
    return max(1, math.ceil(schools / 150))


def _whole(value, name: str, low: int, high: int) -> int:
    value = plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise InputError(f"{name}={value!r}; expected a whole number", column=name, value=value)
    if not low <= value <= high:
        raise InputError(
            f"{name}={value:,}; expected from {low:,} to {high:,}", column=name, value=value
        )
    return int(value)


def check_sizes(
    schools, counties=None, settlements_per_school=2.0, seed=0
) -> tuple[int, int, float, int]:
    """Check the sizes of a synthetic region; return ``(schools, counties, settlements_per_school,
    seed)`` with the default counties filled in.

    Bounds: 5 <= ``schools`` <= :data:`MAX_SCHOOLS` (20,000); 1 <= ``counties`` <=
    min(schools / 5, :data:`MAX_COUNTIES`) (1,000); 1 <= ``settlements_per_school`` <=
    :data:`MAX_SETTLEMENTS_PER_SCHOOL` (20); ``seed`` a whole number >= 0.

    Raises
    ------
    InputError
        Whose ``column`` is the argument concerned.

    Examples
    --------
    >>> check_sizes(300)
    (300, 2, 2.0, 0)
    >>> check_sizes(10_000_000_000)
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: column 'schools': schools=10,000,000,000; expected from 5 to 20,000
    """
    schools = _whole(schools, "schools", 5, MAX_SCHOOLS)
    if counties is None:
        counties = _default_counties(schools)
    counties = _whole(counties, "counties", 1, min(schools // 5, MAX_COUNTIES))
    per = plain(settlements_per_school)
    if (
        isinstance(per, bool)
        or not isinstance(per, int | float)
        or not (1 <= per <= MAX_SETTLEMENTS_PER_SCHOOL)
    ):
        raise InputError(
            f"settlements_per_school={per!r}; expected a number from 1 to "
            f"{MAX_SETTLEMENTS_PER_SCHOOL:g}",
            column="settlements_per_school",
            value=per,
        )
    seed = _whole(seed, "seed", 0, 2**63 - 1)
    return schools, counties, float(per), seed


def make_region(
    schools: int = 300,
    counties: int | None = None,
    seed: int = 0,
    settlements_per_school: float = 2.0,
    urban_district: bool | None = None,
    name: str | None = None,
) -> Region:
    """Build a realistic synthetic region.

    Parameters
    ----------
    schools : int
        Number of schools, from 5 to :data:`MAX_SCHOOLS` (20,000).
    counties : int, optional
        Number of counties, at most one per 5 schools and :data:`MAX_COUNTIES` (1,000); default
        grows with the schools (one per 150 schools).
    seed : int
        Random seed; the same seed gives the same region.
    settlements_per_school : float
        Settlements (villages, communities) per school, from 1 to 20.
    urban_district : bool, optional
        Make the first county an urban district; default when there are 3 or more counties.
    name : str, optional
        Region name (default ``"synthetic-<schools>-<seed>"``).

    Returns
    -------
    Region

    Raises
    ------
    InputError
        A size out of its bounds (see :func:`check_sizes`), before any work.

    Examples
    --------
    >>> region = make_region(schools=120, seed=7)
    >>> len(region.schools), region.schools["county"].nunique()
    (120, 1)
    >>> urban = region.schools[region.schools["area_type"] == "urban"]
    >>> int(urban["pupils_lower_primary"].sum()) > 0
    True
    """
    schools, counties, settlements_per_school, seed = check_sizes(
        schools, counties, settlements_per_school, seed
    )
    rng = np.random.default_rng(seed)
    if urban_district is None:
        urban_district = counties >= 3
    per_county = np.full(counties, schools // counties)
    per_county[: schools % counties] += 1

    school_parts, node_parts, edge_parts = [], [], []
    grid = math.ceil(math.sqrt(counties))
    for c in range(counties):
        ox, oy = (c % grid) * COUNTY_KM, (c // grid) * COUNTY_KM
        county = (
            f"{_SEAT_NAMES[c % len(_SEAT_NAMES)]}{'区' if (urban_district and c == 0) else '县'}"
            + (f"{c // len(_SEAT_NAMES) + 1}" if c >= len(_SEAT_NAMES) else "")
        )
        s, nodes, edges = _county(
            rng, c, county, int(per_county[c]), ox, oy, urban=urban_district and c == 0
        )
        school_parts.append(s)
        node_parts.append(nodes)
        edge_parts.extend(edges)
    # Highways between neighbouring county seats.
    seats = [n.iloc[0] for n in node_parts]
    for c in range(counties):
        for d in (c + 1, c + grid):
            if d < counties and (d != c + 1 or (c + 1) % grid):
                a, b = seats[c], seats[d]
                km = math.hypot(a.x - b.x, a.y - b.y)
                edge_parts.append((a.node, b.node, round(km * 1.3 / 60.0 * 60.0, 2)))
    school_df = pd.concat(school_parts, ignore_index=True)
    node_df = pd.concat(node_parts, ignore_index=True)

    settlement_df, extra_nodes, extra_edges = _settlements(rng, school_df, settlements_per_school)
    node_df = pd.concat([node_df, extra_nodes], ignore_index=True)
    edge_parts.extend(extra_edges)
    graph = nx.Graph()
    graph.add_nodes_from(
        (n, {"x": x, "y": y})
        for n, x, y in zip(node_df["node"], node_df["x"], node_df["y"], strict=True)
    )
    for u, v, minutes in edge_parts:
        if u != v and (not graph.has_edge(u, v) or graph[u][v]["minutes"] > minutes):
            graph.add_edge(u, v, minutes=max(float(minutes), 0.5))
    _add_local_roads(graph, node_df)
    _make_feasible(school_df, settlement_df, graph, node_df)
    return Region(school_df, settlement_df, graph, name=name or f"synthetic-{schools}-{seed}")


def _area_split(rng, n, urban):
    if urban:
        shares = np.array([0.8, 0.15, 0.05])
    else:
        shares = np.array([0.12, 0.28, 0.60]) + rng.uniform(-0.03, 0.03, 3)
        shares /= shares.sum()
    counts = np.floor(shares * n).astype(int)
    counts[2] += n - counts.sum()
    if counts[1] < 2 and n >= 10:
        counts[1], counts[2] = 2, counts[2] - (2 - counts[1])
    return int(counts[0]), int(counts[1]), int(counts[2])


def _name(rng, k=2):
    return "".join(rng.choice(_SYLLABLES, k))


def _county(rng, c, county, n, ox, oy, urban):
    n_urban, n_town, n_rural = _area_split(rng, n, urban)
    townships = max(1, (n_town + 1) // 2)
    seat = np.array([ox + COUNTY_KM / 2, oy + COUNTY_KM / 2])
    angles = rng.uniform(0, 2 * np.pi, townships)
    radii = rng.uniform(8, 21, townships)
    centres = seat + np.c_[np.cos(angles) * radii, np.sin(angles) * radii]
    tnames = [f"{_name(rng)}镇" for _ in range(townships)]
    hub_nodes = [f"c{c}h0"] + [f"c{c}h{t + 1}" for t in range(townships)]
    nodes = pd.DataFrame(
        {
            "node": hub_nodes,
            "x": np.round([seat[0], *centres[:, 0]], 3),
            "y": np.round([seat[1], *centres[:, 1]], 3),
        }
    )
    edges = []
    for t in range(townships):
        km = float(np.hypot(*(centres[t] - seat)))
        edges.append((hub_nodes[0], hub_nodes[t + 1], round(km * 1.4 / 40 * 60, 2)))
    rows = []

    def add(area, level, township, pos, pupils):
        rows.append((area, level, township, pos[0], pos[1], pupils))

    seat_township = f"{county[:1]}城街道"
    for _ in range(n_urban):
        level = rng.choice(["primary", "junior", "nine_year", "senior"], p=[0.55, 0.25, 0.08, 0.12])
        pos = seat + rng.normal(0, 2.5, 2)
        base = {
            "primary": (1500, 3000),
            "junior": (1200, 2400),
            "nine_year": (1800, 2500),
            "senior": (1500, 3000),
        }[level]
        add("urban", level, seat_township, pos, int(rng.integers(*base)))
    town_levels = []
    for t in range(n_town):
        if t < townships:
            town_levels.append("primary")
        elif t < 2 * townships:
            town_levels.append("junior" if rng.random() < 0.7 else "nine_year")
        else:
            town_levels.append("primary")
    for t, level in enumerate(town_levels):
        k = t % townships
        pos = centres[k] + rng.normal(0, 0.8, 2)
        lo, hi = (500, 1500) if level != "junior" else (400, 1200)
        add("town", level, tnames[k], pos, int(rng.integers(lo, hi)))
    for _ in range(n_rural):
        k = int(rng.integers(townships))
        if rng.random() < 0.45:
            level, pupils = "teaching_point", int(rng.integers(8, 60))
            dist = rng.uniform(6, 14)
        else:
            level, pupils = "primary", int(rng.integers(50, 300))
            dist = rng.uniform(2.5, 9)
        ang = rng.uniform(0, 2 * np.pi)
        pos = centres[k] + dist * np.array([np.cos(ang), np.sin(ang)])
        add("rural", level, tnames[k], pos, pupils)

    df = pd.DataFrame(rows, columns=["area_type", "level", "township", "x", "y", "pupils"])
    df["x"] = df["x"].clip(ox + 0.5, ox + COUNTY_KM - 0.5).round(3)
    df["y"] = df["y"].clip(oy + 0.5, oy + COUNTY_KM - 0.5).round(3)
    df["county"] = county
    df["school_id"] = [f"C{c:02d}S{i:04d}" for i in range(len(df))]
    df["node"] = [f"c{c}s{i}" for i in range(len(df))]
    _fill_school(rng, df)
    nodes = pd.concat([nodes, df[["node", "x", "y"]]], ignore_index=True)
    # Each school is linked to its township centre (or the county seat) by a road.
    hub_of = {name: hub_nodes[t + 1] for t, name in enumerate(tnames)}
    hub_xy = dict(zip(nodes["node"], zip(nodes["x"], nodes["y"], strict=True), strict=True))
    for node, township, area, x, y in zip(
        df["node"], df["township"], df["area_type"], df["x"], df["y"], strict=True
    ):
        hub = hub_of.get(township, hub_nodes[0])
        hx, hy = hub_xy[hub]
        edges.append((node, hub, _minutes(math.hypot(x - hx, y - hy), area)))
    return df[_ordered(df)], nodes, edges


def _minutes(km, area):
    return round(max(km, 0.2) * _WINDING[area] / _SPEED_KMH[area] * 60.0, 2)


def _ordered(df):
    from allocator.region import SCHOOL_COLUMNS

    return list(SCHOOL_COLUMNS)


def _fill_school(rng, df):
    n = len(df)
    pupils = df.pop("pupils").to_numpy()
    level = df["level"].to_numpy()
    area = df["area_type"].to_numpy()
    bands = np.zeros((n, 4), dtype=np.int64)
    for i in range(n):
        p = pupils[i]
        if level[i] == "primary":
            lower = int(round(p * rng.uniform(0.46, 0.54)))
            bands[i, :2] = lower, p - lower
        elif level[i] == "teaching_point":
            lower = int(round(p * rng.uniform(0.6, 1.0)))
            bands[i, :2] = lower, p - lower
        elif level[i] == "junior":
            bands[i, 2] = p
        elif level[i] == "nine_year":
            lower = int(round(p * 0.34))
            upper = int(round(p * 0.33))
            bands[i, :3] = lower, upper, p - lower - upper
        else:
            bands[i, 3] = p
    for j, col in enumerate(PUPIL_COLUMNS):
        df[col] = bands[:, j]
    class_size = np.array([_CLASS_SIZE[a] for a in area])
    grades = np.where(
        level == "teaching_point",
        3,
        np.where(level == "nine_year", 9, np.where(level == "primary", 6, 3)),
    )
    classes = np.maximum(np.ceil(pupils / class_size), np.minimum(grades, np.ceil(pupils / 8)))
    df["classes"] = classes.astype(np.int64)
    spare = np.where(
        area == "urban",
        rng.uniform(0.98, 1.1, n),
        np.where(area == "town", rng.uniform(1.05, 1.3, n), rng.uniform(1.2, 1.9, n)),
    )
    df["capacity"] = np.ceil(pupils * spare).astype(np.int64)
    ratio = np.array([_PUPILS_PER_TEACHER[a] for a in area]) * rng.uniform(0.85, 1.15, n)
    teachers = np.maximum(np.ceil(pupils / ratio), np.ceil(classes * 1.3)).astype(np.int64)
    teachers = np.maximum(teachers, 1)
    df["teachers"] = teachers
    junior_share = (bands[:, 2] + bands[:, 3]) / np.maximum(pupils, 1)
    sigma = np.array([_SIGMA[a] for a in area])
    for col, base in _BASE.items():
        factor = np.array([_AREA_FACTOR[a][col] for a in area])
        junior = 1 + junior_share * (_JUNIOR_FACTOR[col] - 1)
        noise = rng.lognormal(-(sigma**2) / 2, sigma)
        value = base * factor * junior * noise * pupils
        if col.startswith("teachers_"):
            df[col] = np.minimum(np.round(value).astype(np.int64), teachers)
        elif col == "multimedia_rooms":
            df[col] = np.round(value).astype(np.int64)
        else:
            df[col] = np.round(value, 1)
    df["annual_cost"] = (teachers * 110_000.0 + np.maximum(pupils, 100) * 800.0 + 300_000.0).round(
        0
    )
    names = {
        "primary": "小学",
        "junior": "中学",
        "nine_year": "九年制学校",
        "senior": "高级中学",
        "teaching_point": "教学点",
    }
    prefix = {"urban": "实验", "town": "中心", "rural": "村"}
    df["name"] = [
        f"{_name(rng)}{prefix[a] if lv != 'teaching_point' else ''}{names[lv]}"
        for a, lv in zip(area, level, strict=True)
    ]


def _settlements(rng, schools: pd.DataFrame, per_school: float):
    """Settlements around schools whose band pupils add up to the school enrolments."""
    n = len(schools)
    count = int(round(n * per_school))
    owner = (
        np.concatenate([np.arange(n), rng.integers(0, n, count - n)]) if count > n else np.arange(n)
    )
    owner.sort()
    area = schools["area_type"].to_numpy()[owner]
    spread = np.where(area == "urban", 1.2, np.where(area == "town", 2.0, 2.5))
    ang = rng.uniform(0, 2 * np.pi, len(owner))
    dist = spread * np.sqrt(rng.uniform(0.05, 1.0, len(owner)))
    x = (schools["x"].to_numpy()[owner] + dist * np.cos(ang)).round(3)
    y = (schools["y"].to_numpy()[owner] + dist * np.sin(ang)).round(3)
    sid = [f"V{i:05d}" for i in range(len(owner))]
    nodes = [f"v{i}" for i in range(len(owner))]
    df = pd.DataFrame(
        {
            "settlement_id": sid,
            "county": schools["county"].to_numpy()[owner],
            "township": schools["township"].to_numpy()[owner],
            "area_type": area,
            "node": nodes,
        }
    )
    # Pupils: each school's band pupils split among its own settlements (most) and, for schools
    # drawing wider (junior, senior, urban), a share from nearby settlements of the same county.
    tree = cKDTree(np.c_[x, y])
    pupils = np.zeros((len(owner), 4), dtype=np.int64)
    own = {}
    for i, o in enumerate(owner):
        own.setdefault(int(o), []).append(i)
    sx, sy = schools["x"].to_numpy(), schools["y"].to_numpy()
    county = df["county"].to_numpy()
    school_county = schools["county"].to_numpy()
    band_values = schools[list(PUPIL_COLUMNS)].to_numpy()
    level = schools["level"].to_numpy()
    for s in range(n):
        mine = own[s]
        wide = level[s] in ("junior", "senior", "nine_year")
        k = min(len(owner), 8 if wide else 3)
        _, near = tree.query([sx[s], sy[s]], k=k)
        near = [int(j) for j in np.atleast_1d(near) if county[j] == school_county[s]]
        pool = list(dict.fromkeys(mine + (near if wide else near[:1])))
        weights = np.where(np.isin(pool, mine), 3.0, 1.0) * rng.uniform(0.5, 1.5, len(pool))
        weights /= weights.sum()
        for b in range(4):
            total = int(band_values[s, b])
            if total:
                pupils[pool, b] += rng.multinomial(total, weights)
    for b, col in enumerate(PUPIL_COLUMNS):
        df[col] = pupils[:, b]
    node_df = pd.DataFrame({"node": nodes, "x": x, "y": y})
    edges = []
    school_node = schools["node"].to_numpy()
    for i, o in enumerate(owner):
        km = math.hypot(x[i] - sx[o], y[i] - sy[o])
        edges.append((nodes[i], school_node[o], _minutes(km, area[i])))
    return df, node_df, edges


def _add_local_roads(graph: nx.Graph, nodes: pd.DataFrame) -> None:
    """Link each node to its 3 nearest neighbours by winding local roads (same county square)."""
    xy = nodes[["x", "y"]].to_numpy()
    tree = cKDTree(xy)
    _, near = tree.query(xy, k=min(4, len(xy)))
    cell = np.floor(xy / COUNTY_KM)
    names = nodes["node"].to_numpy()
    for i in range(len(xy)):
        for j in near[i, 1:]:
            if (cell[i] == cell[j]).all() and not graph.has_edge(names[i], names[j]):
                km = float(np.hypot(*(xy[i] - xy[j])))
                graph.add_edge(names[i], names[j], minutes=_minutes(km, "rural"))


# Default limits of the merger planner (MergerPolicy): grades 1-3 travel at most 30 minutes and
# never board; grades 4-6 and junior pupils may board up to 90 minutes. Class sizes 45 and 50.
_BAND_LIMIT = (30.0, 90.0, 90.0)
_BAND_CLASS = (45.0, 45.0, 50.0)
_BAND_DAY = (30.0, 45.0, 60.0)
_DAY_CANDIDATES = 8
_EXPANSION_SHARE = 0.3
_LEVEL_BANDS = {
    "primary": (True, True, False),
    "teaching_point": (True, True, False),
    "junior": (False, False, True),
    "nine_year": (True, True, True),
    "senior": (False, False, False),
}
# Default rules of the teacher planner (TeacherPolicy): moves within 60 minutes in one county to a
# weaker school (area rank, high-quality flag, backbone teachers per 100 pupils) teaching a stage
# no higher than the sender's highest; high quality = backbone per 100 pupils at or above the
# county's 75th percentile; 40 % of a school's teachers eligible.
_ROTATION_MINUTES = 60.0
_STAGE_BITS = {"teaching_point": 1, "primary": 1, "junior": 2, "nine_year": 3, "senior": 4}
_AREA_RANK = {"urban": 2, "town": 1, "rural": 0}


def _make_feasible(schools: pd.DataFrame, settlements: pd.DataFrame, graph, nodes) -> None:
    """Make the region plannable under the planners' default rules (in place).

    Real layouts do break limits (the planners report such breaches); a synthetic region should
    not, so that tests on it exercise plans rather than breach reports. Three repairs, each only
    where needed, leave most regions as drawn:

    * a settlement band whose nearest school teaching the band is beyond the band's limit gets a
      local road to the nearest such school of its county (as the crow flies);
    * every school gets the seats and classes for the band pupils whose nearest school it is
      (grades 1-9, whole settlement bands), plus its senior pupils;
    * an urban or high-quality compulsory school with no weaker school within the rotation limit
      to send teachers to loses backbone teachers until it is no longer high quality.
    """
    bands = [c for c in PUPIL_COLUMNS if c != "pupils_senior"]
    teaches = np.array([_LEVEL_BANDS[v] for v in schools["level"]], dtype=bool).reshape(-1, 3)
    teaches |= schools[bands].to_numpy() > 0
    demand = settlements[bands].to_numpy(dtype=np.int64)
    xy = dict(zip(nodes["node"], zip(nodes["x"], nodes["y"], strict=True), strict=True))
    s_county = settlements["county"].to_numpy()
    j_county = schools["county"].to_numpy()
    for _ in range(3):
        nearest, minutes, region = _nearest_by_band(schools, settlements, graph, teaches)
        far = (demand > 0) & (minutes > np.array(_BAND_LIMIT)[None, :])
        if not far.any():
            break
        for i, b in zip(*np.nonzero(far), strict=True):
            sx, sy = xy[settlements["node"].iat[i]]
            cand = np.flatnonzero(teaches[:, b] & (j_county == s_county[i]))
            if not len(cand):
                continue
            km = np.hypot(schools["x"].to_numpy()[cand] - sx, schools["y"].to_numpy()[cand] - sy)
            j = int(cand[np.argmin(km)])
            road = _minutes(float(km.min()), settlements["area_type"].iat[i])
            u, v = settlements["node"].iat[i], schools["node"].iat[j]
            if not graph.has_edge(u, v) or graph[u][v]["minutes"] > road:
                graph.add_edge(u, v, minutes=max(road, 0.5))
    else:
        nearest, minutes, region = _nearest_by_band(schools, settlements, graph, teaches)
    _add_seats(schools, settlements, region, teaches, nearest, minutes)
    _give_receivers(schools, region)


def _add_seats(schools, settlements, region, teaches, nearest, minutes) -> None:
    """Raise capacity and classes where the merger planner could not seat every whole settlement
    band with all of today's schools open (in place).

    The band pupils are placed whole, largest band first, at the nearest of the band's 8 nearest
    schools within its day limit that still has room (seats, classes and school size, with the
    classrooms a school may add); a band with no school within its day limit boards at its
    nearest school; urban bands may be split between schools (as the planner splits city
    catchments). Only a school that must take pupils it has no room for is enlarged, to hold what
    it was given.
    """
    bands = [c for c in PUPIL_COLUMNS if c != "pupils_senior"]
    demand = settlements[bands].to_numpy(dtype=np.int64)
    current = schools[bands].to_numpy(dtype=float)
    senior = schools["pupils_senior"].to_numpy(dtype=float)
    capacity = schools["capacity"].to_numpy(dtype=float)
    level = schools["level"].to_numpy()
    today = current.sum(axis=1)
    cap_b = np.array(_BAND_CLASS)
    room_seats = np.where(teaches[:, 0] | teaches[:, 1], cap_b[0], cap_b[2])
    rooms = np.floor(_EXPANSION_SHARE * capacity / room_seats + 1e-9)
    seat_room = np.maximum(today, np.maximum(capacity - senior, 0.0) + rooms * room_seats)
    class_room = (
        np.maximum(schools["classes"].to_numpy(dtype=float), (current / cap_b).sum(axis=1)) + rooms
    )
    size_cap = np.where((level == "nine_year") | (level == "senior"), 2500.0, 2000.0)
    size_room = np.maximum(size_cap, today + senior) - senior
    load = np.zeros(len(schools))
    classes = np.zeros(len(schools))
    short = np.zeros(len(schools), dtype=bool)
    s_county = settlements["county"].to_numpy()
    j_county = schools["county"].to_numpy()
    travel = {}
    for county in dict.fromkeys(s_county):
        rows, cols = np.flatnonzero(s_county == county), np.flatnonzero(j_county == county)
        m = region.travel_minutes(
            settlements["node"].to_numpy()[rows],
            schools["node"].to_numpy()[cols],
            cutoff=max(_BAND_DAY),
        ).tocsr()
        for k, i in enumerate(rows):
            lo, hi = m.indptr[k], m.indptr[k + 1]
            travel[i] = (cols[m.indices[lo:hi]], m.data[lo:hi])
    split = (settlements["area_type"] == "urban").to_numpy()

    def options_of(i, b):
        if minutes[i, b] > _BAND_DAY[b]:  # boards at its nearest school (none: no school)
            return np.flatnonzero(np.arange(len(schools)) == nearest[i, b])
        js, ts = travel[i]
        keep = teaches[js, b] & (ts <= _BAND_DAY[b])
        js, ts = js[keep], ts[keep]
        return js[np.lexsort((js, ts))][:_DAY_CANDIDATES]

    def room_of(options, b):
        return np.minimum(
            np.minimum(seat_room[options], size_room[options]) - load[options],
            (class_room[options] - classes[options]) * cap_b[b],
        )

    def place(j, pupils, b):
        load[j] += pupils
        classes[j] += pupils / cap_b[b]

    whole = [(i, b) for i, b in zip(*np.nonzero(demand), strict=True) if not split[i]]
    for i, b in sorted(whole, key=lambda ib: -demand[ib]):
        pupils = float(demand[i, b])
        options = options_of(i, b)
        if not len(options):
            continue
        fits = room_of(options, b) + 1e-9 >= pupils
        if fits.any():
            j = int(options[np.argmax(fits)])
        else:
            j = int(options[np.argmax(seat_room[options] - load[options])])
            short[j] = True
        place(j, pupils, b)
    # city bands may split between schools: a maximum flow places as many pupils as fit
    parts = [(i, b) for i, b in zip(*np.nonzero(demand), strict=True) if split[i]]
    if parts:
        n_j, n_p = len(schools), len(parts)
        room = np.floor(np.maximum(room_of(np.arange(n_j), 0), 0.0) + 1e-9).astype(np.int64)
        src, dst, cap = [], [], []
        opts = [options_of(i, b) for i, b in parts]
        for k, ((i, b), options) in enumerate(zip(parts, opts, strict=True)):
            src += [0] + [1 + k] * len(options)
            dst += [1 + k] + list(1 + n_p + options)
            cap += [int(demand[i, b])] * (1 + len(options))
        src += list(1 + n_p + np.arange(n_j))
        dst += [1 + n_p + n_j] * n_j
        cap += list(room)
        size = 2 + n_p + n_j
        graph_flow = sp.csr_matrix(
            (np.array(cap, dtype=np.int32), (np.array(src), np.array(dst))), shape=(size, size)
        )
        flow = maximum_flow(graph_flow, 0, size - 1).flow.tocsr()
        for k, ((i, b), options) in enumerate(zip(parts, opts, strict=True)):
            sent = np.asarray(flow[1 + k, 1 + n_p + options].todense()).ravel()
            for j, pupils in zip(options, sent, strict=True):
                if pupils > 0:
                    place(int(j), float(pupils), b)
            rest = float(demand[i, b] - sent.sum())
            if rest > 0 and len(options):
                j = int(options[np.argmax(seat_room[options] - load[options])])
                short[j] = True
                place(j, rest, b)
    need = np.ceil(load + senior - 1e-9).astype(np.int64)
    schools["capacity"] = np.where(
        short, np.maximum(schools["capacity"].to_numpy(), need), schools["capacity"].to_numpy()
    )
    need_classes = np.ceil(classes - 1e-9).astype(np.int64)
    schools["classes"] = np.where(
        short,
        np.maximum(schools["classes"].to_numpy(), need_classes),
        schools["classes"].to_numpy(),
    )


def _nearest_by_band(schools, settlements, graph, teaches):
    """Each settlement's nearest school of its county teaching each band (index or -1, minutes),
    ties to the first school, as the merger planner takes them."""
    region = Region(schools, settlements, graph)
    n_s = len(settlements)
    nearest = np.full((n_s, 3), -1, dtype=np.int64)
    minutes = np.full((n_s, 3), np.inf)
    s_county = settlements["county"].to_numpy()
    j_county = schools["county"].to_numpy()
    for county in dict.fromkeys(s_county):
        rows, cols = np.flatnonzero(s_county == county), np.flatnonzero(j_county == county)
        if not len(cols):
            continue
        m = region.travel_minutes(
            settlements["node"].to_numpy()[rows],
            schools["node"].to_numpy()[cols],
            cutoff=max(_BAND_LIMIT),
        ).tocoo()
        dense = np.full((len(rows), len(cols)), np.inf)
        dense[m.row, m.col] = m.data
        for b in range(3):
            masked = np.where(teaches[cols, b][None, :], dense, np.inf)
            j = np.argmin(masked, axis=1)
            t = masked[np.arange(len(rows)), j]
            ok = np.isfinite(t)
            nearest[rows[ok], b] = cols[j[ok]]
            minutes[rows[ok], b] = t[ok]
    return nearest, minutes, region


def _give_receivers(schools: pd.DataFrame, region: Region) -> None:
    """Lower the backbone teachers of rotation schools that have no school they may send teachers
    to until they are no longer high quality (in place)."""
    level = schools["level"].to_numpy()
    area = schools["area_type"].to_numpy()
    county = schools["county"].to_numpy()
    bits = np.array([_STAGE_BITS[v] for v in level], dtype=np.int64)
    highest = np.where(bits & 4, 4, np.where(bits & 2, 2, np.where(bits & 1, 1, 0)))
    lowest = bits & -bits
    rank = np.array([_AREA_RANK[a] for a in area])
    pupils = schools[list(PUPIL_COLUMNS)].to_numpy().sum(axis=1)
    teachers = schools["teachers"].to_numpy()
    eligible = np.floor(0.4 * teachers + 1e-9)
    members = ((bits & 3) > 0) & (level != "teaching_point") & (pupils > 0)
    near = [np.zeros(0, dtype=np.int64)] * len(schools)
    for c in dict.fromkeys(county):
        idx = np.flatnonzero(county == c)
        node = schools["node"].to_numpy()[idx]
        m = region.travel_minutes(node, node, cutoff=_ROTATION_MINUTES).tocsr()
        for k, i in enumerate(idx):
            j = idx[m.indices[m.indptr[k] : m.indptr[k + 1]]]
            near[i] = j[j != i]
    backbone = schools["teachers_backbone"].to_numpy().copy()
    for _ in range(len(schools)):
        bb100 = np.divide(100.0 * backbone, pupils, out=np.zeros(len(pupils)), where=pupils > 0)
        hq = np.zeros(len(schools), dtype=bool)
        for c in dict.fromkeys(county):
            m = np.flatnonzero(members & (county == c))
            if len(m):
                cut = np.quantile(bb100[m], 0.75)
                hq[m] = (bb100[m] >= cut - 1e-12) & (bb100[m] > 0)
        rotation = ((bits & 3) > 0) & ((area == "urban") | hq) & (eligible > 0)
        stuck = []
        for i in np.flatnonzero(rotation):
            j = near[i]
            if len(j):
                ok = (lowest[j] > 0) & (lowest[j] <= highest[i])
                ok &= (rank[i] > rank[j]) | (
                    (rank[i] == rank[j])
                    & ((hq[i] & ~hq[j]) | ((hq[i] == hq[j]) & (bb100[i] > bb100[j] + 1e-12)))
                )
                if ok.any():
                    continue
            stuck.append(i)
        stuck = [i for i in stuck if hq[i] and area[i] != "urban"]
        if not stuck:
            break
        for i in stuck:  # one fewer backbone teacher, until no longer high quality
            backbone[i] -= 1
    schools["teachers_backbone"] = backbone
