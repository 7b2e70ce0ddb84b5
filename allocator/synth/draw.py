"""Drawing a synthetic county: township centres, schools with their resources, settlements around
the schools, and the roads between them (calibration in :mod:`allocator.synth`)."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from allocator.region import PUPIL_COLUMNS, SCHOOL_COLUMNS

#: Side of a county's square on the grid (km).
COUNTY_KM = 50.0
_SYLLABLES = list("青石白云龙凤金银桃李梅竹松柏清水长安平乐兴隆永和太康新华明德双河高峰")
#: Characters that name the county seats, in order (a county's name is its seat's character).
SEAT_NAMES = list("江北渝南巴沙九大綦长涪合永潼铜璧梁武城丰垫忠开云奉巫溪柱秀酉彭黔")

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


def draw_county(rng, c, county, n, ox, oy, urban):
    """Draw county number ``c`` (``n`` schools) in the square at (``ox``, ``oy``).

    Returns the schools (columns of :data:`allocator.region.SCHOOL_COLUMNS`), the road nodes
    (the seat first) and the road edges ``(u, v, minutes)``.
    """
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
        edges.append((node, hub, road_minutes(math.hypot(x - hx, y - hy), area)))
    return df[_ordered(df)], nodes, edges


def road_minutes(km, area):
    """Minutes to drive ``km`` (at least 0.2 km) on a road of the area type (winding, speed).

    Examples
    --------
    >>> road_minutes(10.0, "rural")
    40.8
    """
    return round(max(km, 0.2) * _WINDING[area] / _SPEED_KMH[area] * 60.0, 2)


def _ordered(df):
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


def draw_settlements(rng, schools: pd.DataFrame, per_school: float):
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
        edges.append((nodes[i], school_node[o], road_minutes(km, area[i])))
    return df, node_df, edges


def add_local_roads(graph: nx.Graph, nodes: pd.DataFrame) -> None:
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
                graph.add_edge(names[i], names[j], minutes=road_minutes(km, "rural"))
