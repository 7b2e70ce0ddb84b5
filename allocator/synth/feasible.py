"""Repairs that make a synthetic region plannable under the planners' default rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_flow

from allocator.region import LEVEL_BANDS, PUPIL_COLUMNS, Region
from allocator.synth.draw import road_minutes

#: The 2017 standard's limits per band (grades 1-3, 4-6, 7-9), as the merger planner reads them:
#: grades 1-3 travel at most 30 minutes and never board; grades 4-6 and 7-9 travel 45 / 60
#: minutes by day and may board up to 90. Synthetic regions sit below the standards layer, so
#: they hold a copy; tests/test_synth_feasible.py checks it against allocator/data/moe2017.toml.
BAND_LIMIT_MINUTES = (30.0, 90.0, 90.0)
BAND_DAY_MINUTES = (30.0, 45.0, 60.0)
BAND_CLASS_SIZE = (45.0, 45.0, 50.0)
_DAY_CANDIDATES = 8
_EXPANSION_SHARE = 0.3
_LEVEL_BANDS = {
    level: tuple(b in bands for b in ("lower_primary", "upper_primary", "junior"))
    for level, bands in LEVEL_BANDS.items()
}
# Default rules of the teacher planner (TeacherPolicy): moves within 60 minutes in one county to a
# weaker school (area rank, high-quality flag, backbone teachers per 100 pupils) teaching a stage
# no higher than the sender's highest; high quality = backbone per 100 pupils at or above the
# county's 75th percentile; 40 % of a school's teachers eligible.
_ROTATION_MINUTES = 60.0
_STAGE_BITS = {"teaching_point": 1, "primary": 1, "junior": 2, "nine_year": 3, "senior": 4}
_AREA_RANK = {"urban": 2, "town": 1, "rural": 0}


def make_feasible(schools: pd.DataFrame, settlements: pd.DataFrame, graph, nodes) -> None:
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
        far = (demand > 0) & (minutes > np.array(BAND_LIMIT_MINUTES)[None, :])
        if not far.any():
            break
        for i, b in zip(*np.nonzero(far), strict=True):
            sx, sy = xy[settlements["node"].iat[i]]
            cand = np.flatnonzero(teaches[:, b] & (j_county == s_county[i]))
            if not len(cand):
                continue
            km = np.hypot(schools["x"].to_numpy()[cand] - sx, schools["y"].to_numpy()[cand] - sy)
            j = int(cand[np.argmin(km)])
            road = road_minutes(float(km.min()), settlements["area_type"].iat[i])
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
    cap_b = np.array(BAND_CLASS_SIZE)
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
            cutoff=max(BAND_DAY_MINUTES),
        ).tocsr()
        for k, i in enumerate(rows):
            lo, hi = m.indptr[k], m.indptr[k + 1]
            travel[i] = (cols[m.indices[lo:hi]], m.data[lo:hi])
    split = (settlements["area_type"] == "urban").to_numpy()

    def options_of(i, b):
        if minutes[i, b] > BAND_DAY_MINUTES[b]:  # boards at its nearest school (none: no school)
            return np.flatnonzero(np.arange(len(schools)) == nearest[i, b])
        js, ts = travel[i]
        keep = teaches[js, b] & (ts <= BAND_DAY_MINUTES[b])
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
            cutoff=max(BAND_LIMIT_MINUTES),
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
