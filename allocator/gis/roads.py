"""Road networks from OpenStreetMap or a line layer: travel minutes, cleaning, snapping.

Model
-----
Each road segment e of length L_e (metres, measured in the metric projection) and highway class
h_e gets ``minutes_e = 60 * (L_e / 1000) / speed(h_e) * slope_e``, where ``speed`` comes from a
:class:`SpeedProfile` (per-class km/h; a ``maxspeed`` tag lowers a driving speed, never raises it)
and ``slope_e`` is 1 unless the nodes carry an elevation ``z`` (metres): for walking and cycling it is
Tobler's hiking function, the mean of the two directions' time factors
``exp(3.5 |s + 0.05|) / exp(3.5 * 0.05)`` at grade ``s = dz / L``; driving ignores slope.

Cleaning (in this order): classes the profile cannot use are dropped; segments of zero length merge
their two end nodes; loops are dropped; parallel and reversed duplicates keep the fastest; only the
largest connected part is kept (the others' node count is reported), or with ``keep="all"`` every
part (each node then has a part number, 0 for the largest, so points on other parts are
reported). Nodes are named by their OSM
id (or ``n<k>`` for a line layer) and carry ``x``, ``y`` in km.

Snapping (:meth:`RoadNetwork.snap`) finds the nearest kept node and reports the distance in metres.
Reading OpenStreetMap files is :mod:`allocator.gis.osm`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from allocator.errors import InputError

__all__ = [
    "SpeedProfile",
    "PROFILES",
    "profile_of",
    "RoadNetwork",
    "build_network",
    "network_from_lines",
    "network_from_osmnx",
    "network_from_frames",
    "KEEP",
]

#: What :func:`build_network` keeps of a road network in several parts.
KEEP = ("largest", "all")

_NOT_FOR_VEHICLES = (
    "footway", "path", "steps", "pedestrian", "cycleway", "corridor", "elevator", "bridleway",
    "platform", "proposed", "construction", "abandoned", "raceway",
)  # fmt: skip
_NOT_FOR_FEET = ("motorway", "motorway_link", "trunk", "trunk_link", "proposed", "construction")
_DRIVE_KMH = {
    "motorway": 100.0, "motorway_link": 60.0, "trunk": 80.0, "trunk_link": 50.0,
    "primary": 60.0, "primary_link": 40.0, "secondary": 50.0, "secondary_link": 35.0,
    "tertiary": 40.0, "tertiary_link": 30.0, "unclassified": 30.0, "residential": 25.0,
    "living_street": 10.0, "service": 15.0, "track": 15.0, "road": 30.0,
}  # fmt: skip


@dataclass(frozen=True)
class SpeedProfile:
    """Speeds (km/h) by OSM highway class for one way of travelling.

    Parameters
    ----------
    name : str
    default_kmh : float
        Speed of a class not listed in ``speeds`` (and of a line layer without classes).
    speeds : dict
        Highway class -> km/h.
    excluded : tuple of str
        Classes this traveller cannot use (dropped).
    use_maxspeed : bool
        A ``maxspeed`` tag below the class speed lowers it (driving).
    slope : bool
        Apply Tobler's slope factor where nodes carry elevation ``z``.
    osm_network : str
        pyrosm's network type used to read a .pbf (walking, cycling, driving).

    Examples
    --------
    >>> PROFILES["walk"].speed("footway"), PROFILES["drive"].speed("primary")
    (4.5, 60.0)
    """

    name: str
    default_kmh: float
    speeds: dict = field(default_factory=dict)
    excluded: tuple = ()
    use_maxspeed: bool = False
    slope: bool = False
    osm_network: str = "walking"

    def speed(self, highway) -> float:
        """km/h on a class (the default for an unknown or missing class)."""
        return float(self.speeds.get(highway, self.default_kmh))

    def with_speeds(self, speeds: dict) -> SpeedProfile:
        """A copy with some class speeds (or ``"default"``) replaced."""
        speeds = dict(speeds)
        default = float(speeds.pop("default", self.default_kmh))
        for key, value in speeds.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise InputError(
                    f"speed for {key!r} is {value!r}; expected km/h > 0", column="speeds"
                )
        return replace(self, default_kmh=default, speeds={**self.speeds, **speeds})


#: Built-in profiles. ``walk``: 4.5 km/h (steps 2 km/h); ``bicycle``: 15 km/h (footways 8, steps 2);
#: ``drive``: per-class speeds lowered by ``maxspeed``; ``school_bus``: 80 % of ``drive``, at most
#: 60 km/h (stops, care with children).
PROFILES = {
    "walk": SpeedProfile(
        "walk",
        4.5,
        {"steps": 2.0, "elevator": 1.0, "track": 4.0},
        _NOT_FOR_FEET,
        slope=True,
        osm_network="walking",
    ),
    "bicycle": SpeedProfile(
        "bicycle",
        15.0,
        {"steps": 2.0, "footway": 8.0, "pedestrian": 8.0, "path": 10.0, "track": 10.0},
        _NOT_FOR_FEET + ("elevator", "corridor"),
        slope=True,
        osm_network="cycling",
    ),
    "drive": SpeedProfile(
        "drive", 30.0, _DRIVE_KMH, _NOT_FOR_VEHICLES, use_maxspeed=True, osm_network="driving"
    ),
    "school_bus": SpeedProfile(
        "school_bus",
        24.0,
        {k: min(0.8 * v, 60.0) for k, v in _DRIVE_KMH.items()},
        _NOT_FOR_VEHICLES,
        use_maxspeed=True,
        osm_network="driving",
    ),
}


def profile_of(profile, speeds: dict | None = None) -> SpeedProfile:
    """A :class:`SpeedProfile` from a name in :data:`PROFILES` or a profile, with overrides."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise InputError(
                f"unknown speed profile {profile!r}; expected one of {', '.join(PROFILES)}",
                column="profile",
                value=profile,
            )
        profile = PROFILES[profile]
    return profile.with_speeds(speeds) if speeds else profile


@dataclass
class RoadNetwork:
    """A cleaned road graph in a metric CRS, and what the cleaning did.

    Attributes
    ----------
    graph : networkx.Graph
        Nodes (str) with ``x``, ``y`` in km; edges with ``minutes``, ``length_m``, ``highway``.
    crs : pyproj.CRS
        The metric projection of ``x``, ``y`` (km = metres / 1000).
    stats : dict
        Counts: ``segments_read``, ``excluded_class``, ``zero_length_merged``, ``loops``,
        ``duplicates``, ``nodes_cut_off`` (outside the largest connected part), ``parts`` (connected
        parts found), ``parts_kept``, ``nodes``, ``edges``
        (and ``lines_split`` for a line layer: lines cut at shared vertices and crossings).
    """

    graph: nx.Graph
    crs: object
    stats: dict
    node_ids: np.ndarray = field(repr=False)
    xy_m: np.ndarray = field(repr=False)
    cut_off_xy_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)), repr=False)
    node_part: np.ndarray | None = field(default=None, repr=False)
    _tree: object = field(default=None, repr=False)

    def part_of(self, nodes) -> np.ndarray:
        """The connected part of each node: 0 the largest, 1 the next largest, ...

        Examples
        --------
        >>> net = build_network(["a", "b", "c", "d", "e"], np.arange(10.0).reshape(5, 2),
        ...                     [0, 1, 3], [1, 2, 4], np.ones(3), crs=32650, keep="all")
        >>> net.part_of(["e", "a"]).tolist()
        [1, 0]
        """
        if self.node_part is None:
            return np.zeros(len(nodes), dtype=np.int64)
        return self.node_part[pd.Index(self.node_ids).get_indexer(list(nodes))]

    def snap(self, xy_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node (name) and distance (m) of each point (metres, the network's CRS).

        Examples
        --------
        >>> import numpy as np
        >>> net = build_network(["a", "b"], np.array([[0.0, 0], [100, 0]]), [0], [1],
        ...                     np.array([100.0]), crs="EPSG:32650")
        >>> net.snap(np.array([[90.0, 30.0]]))
        (array(['b'], dtype=object), array([31.6227766]))
        """
        if self._tree is None:
            self._tree = cKDTree(self.xy_m)
        distance, index = self._tree.query(np.asarray(xy_m, dtype=float).reshape(-1, 2))
        return self.node_ids[index], distance

    def cut_off(self, xy_m: np.ndarray, distance_m: np.ndarray) -> np.ndarray:
        """True where a point is nearer to a road the cleaning cut off (a part not connected to
        the largest one) than to its snapped node: its own road does not reach the network."""
        if len(self.cut_off_xy_m) == 0:
            return np.zeros(len(distance_m), dtype=bool)
        other, _ = cKDTree(self.cut_off_xy_m).query(np.asarray(xy_m, dtype=float).reshape(-1, 2))
        return other < distance_m

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the kept nodes, metres."""
        lo, hi = self.xy_m.min(axis=0), self.xy_m.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _parse_maxspeed(values) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, str):
            m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph)?", value)
            if m:
                out[i] = float(m.group(1)) * (1.609344 if m.group(2) else 1.0)
        elif isinstance(value, int | float) and np.isfinite(value):
            out[i] = float(value)
    return out


def _tobler_factor(grade: np.ndarray) -> np.ndarray:
    up = np.exp(3.5 * np.abs(grade + 0.05))
    down = np.exp(3.5 * np.abs(-grade + 0.05))
    return (up + down) / 2.0 / np.exp(3.5 * 0.05)


def build_network(
    node_ids,
    xy_m: np.ndarray,
    u,
    v,
    length_m: np.ndarray,
    *,
    crs,
    highway=None,
    maxspeed=None,
    minutes=None,
    z=None,
    profile="walk",
    speeds: dict | None = None,
    keep: str = "largest",
) -> RoadNetwork:
    """Clean a segment list and compute travel minutes (the module docstring gives the model).

    Parameters
    ----------
    node_ids : sequence
        Node names; ``xy_m`` (n x 2) their coordinates in metres.
    u, v : sequence of int
        Positions (into ``node_ids``) of each segment's ends; ``length_m`` its length.
    crs : CRS-like
        The metric CRS of ``xy_m``.
    highway, maxspeed : sequence, optional
        OSM class and ``maxspeed`` tag per segment.
    minutes : sequence, optional
        Given travel minutes per segment (NaN = compute from length and speed).
    z : sequence, optional
        Node elevations in metres (NaN = unknown) for the slope factor.
    profile : str or SpeedProfile
    speeds : dict, optional
        Class speed overrides (km/h).
    keep : {"largest", "all"}
        Keep only the largest connected part (default) or every part.

    Examples
    --------
    A 2-edge path of 150 m + 300 m walked at 4.5 km/h, and a slower duplicate of the first edge:

    >>> net = build_network(["a", "b", "c"], np.array([[0.0, 0], [150, 0], [450, 0]]),
    ...                     [0, 1, 1], [1, 2, 0], np.array([150.0, 300.0, 400.0]), crs=32650)
    >>> round(net.graph.edges["a", "b"]["minutes"], 3), net.stats["duplicates"]
    (2.0, 1)
    """
    profile = profile_of(profile, speeds)
    if keep not in KEEP:
        raise InputError(
            f"keep = {keep!r}; expected one of {', '.join(KEEP)}", column="keep", value=keep
        )
    node_ids = np.asarray([str(n) for n in node_ids], dtype=object)
    xy_m = np.asarray(xy_m, dtype=float).reshape(-1, 2)
    u = np.asarray(u, dtype=np.int64)
    v = np.asarray(v, dtype=np.int64)
    length_m = np.asarray(length_m, dtype=float)
    m = len(u)
    highway = (
        np.full(m, None, dtype=object) if highway is None else np.asarray(highway, dtype=object)
    )
    highway = np.array([h[0] if isinstance(h, list | tuple) and h else h for h in highway], object)
    highway = np.array([None if isinstance(h, float) else h for h in highway], object)
    stats = {"segments_read": int(m)}
    usable = ~np.isin(highway, list(profile.excluded))
    stats["excluded_class"] = int((~usable).sum())
    mins = _segment_minutes(profile, highway, maxspeed, minutes, z, u, v, length_m)
    seg = _take((u, v, mins, length_m, highway), usable)
    seg = _merged_zero_length(seg, len(node_ids), stats)
    seg = _without_duplicates(seg, stats)
    if len(seg[0]) == 0:
        raise InputError(
            f"no road segment usable by the {profile.name!r} profile; expected roads of classes "
            f"it can use (not {', '.join(profile.excluded)})",
            table="roads",
        )
    node_keep, used, part = _kept_parts(seg, len(node_ids), keep, stats)
    seg = _take(seg, node_keep[seg[0]])
    kept = np.flatnonzero(node_keep)
    graph = nx.Graph()
    graph.add_nodes_from(
        (node_ids[i], {"x": xy_m[i, 0] / 1000.0, "y": xy_m[i, 1] / 1000.0}) for i in kept
    )
    graph.add_edges_from(
        (node_ids[i], node_ids[j], {"minutes": t, "length_m": d, "highway": h})
        for i, j, t, d, h in zip(*(x.tolist() for x in seg), strict=True)
    )
    stats["nodes"] = graph.number_of_nodes()
    stats["edges"] = graph.number_of_edges()
    graph.graph["crs"] = str(crs)
    graph.graph["profile"] = profile.name
    cut = used & ~node_keep
    return RoadNetwork(
        graph, crs, stats, node_ids[kept], xy_m[kept], xy_m[cut], node_part=part[kept]
    )


def _take(seg: tuple, which) -> tuple:
    """The segments' arrays (u, v, minutes, length, class) at ``which`` (a mask or an order)."""
    return tuple(x[which] for x in seg)


def _segment_minutes(profile, highway, maxspeed, minutes, z, u, v, length_m) -> np.ndarray:
    """Minutes of each segment: class speed (capped by ``maxspeed``), slope factor, given minutes."""
    speed = np.array([profile.speed(h) for h in highway], dtype=float)
    if profile.use_maxspeed and maxspeed is not None:
        limit = _parse_maxspeed(list(maxspeed))
        speed = np.where(np.isfinite(limit) & (limit > 0), np.fmin(speed, limit), speed)
    mins = 60.0 * (length_m / 1000.0) / speed
    if profile.slope and z is not None:
        z = np.asarray(z, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            grade = (z[v] - z[u]) / length_m
        known = np.isfinite(grade)
        mins = np.where(known, mins * _tobler_factor(np.where(known, grade, 0.0)), mins)
    if minutes is not None:
        given = np.asarray(minutes, dtype=float)
        mins = np.where(np.isfinite(given), given, mins)
    return mins


def _merged_zero_length(seg: tuple, n: int, stats: dict) -> tuple:
    """Merge the end nodes of zero-length segments (union by connected parts); drop loops."""
    u, v, mins, length_m, highway = seg
    zero = ~(length_m > 0) | ~(mins > 0)
    stats["zero_length_merged"] = int((zero & (u != v)).sum())
    if zero.any():
        joins = sp.coo_matrix((np.ones(int(zero.sum())), (u[zero], v[zero])), shape=(n, n))
        _, label = connected_components(joins, directed=False)
        first = np.full(label.max() + 1, -1)
        order = np.arange(n)[::-1]
        first[label[order]] = order  # smallest position of each group wins
        rep = first[label]
        u, v = rep[u], rep[v]
    loop = u == v
    stats["loops"] = int((loop & ~zero).sum())
    return _take((u, v, mins, length_m, highway), ~loop)


def _without_duplicates(seg: tuple, stats: dict) -> tuple:
    """Parallel and reversed duplicates: keep the fastest (ends ordered low, high)."""
    u, v, mins, length_m, highway = seg
    a, b = np.minimum(u, v), np.maximum(u, v)
    order = np.lexsort((mins, b, a))
    a, b, mins, length_m, highway = _take((a, b, mins, length_m, highway), order)
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    stats["duplicates"] = int((~first).sum())
    return _take((a, b, mins, length_m, highway), first)


def _kept_parts(seg: tuple, n: int, keep: str, stats: dict):
    """Nodes kept (the largest connected part, or all), nodes on a segment, part of each node."""
    a, b = seg[0], seg[1]
    adj = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, label = connected_components(adj, directed=False)
    used = np.zeros(n, dtype=bool)
    used[a] = used[b] = True
    sizes = np.bincount(label[used], minlength=label.max() + 1)
    big = int(np.argmax(sizes))
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))  # 0 = the largest part
    stats["parts"] = int((sizes > 0).sum())
    stats["parts_kept"] = stats["parts"] if keep == "all" else 1
    node_keep = used if keep == "all" else used & (label == big)
    stats["nodes_cut_off"] = int((used & ~node_keep).sum())
    return node_keep, used, rank[label]


# ----------------------------------------------------------------------------- sources
def network_from_frames(
    nodes: pd.DataFrame,
    segs: pd.DataFrame,
    crs,
    profile="walk",
    speeds: dict | None = None,
    keep: str = "largest",
) -> RoadNetwork:
    """A :class:`RoadNetwork` from node (``id, lon, lat``, optional ``z``) and segment (``u, v``,
    optional ``highway, maxspeed, length_m``) tables in WGS 84, projected to ``crs``."""
    profile = profile_of(profile, speeds)
    from pyproj import Transformer

    index = pd.Index(nodes["id"].astype(str))
    t = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = t.transform(nodes["lon"].to_numpy(float), nodes["lat"].to_numpy(float))
    xy = np.column_stack([x, y])
    u = index.get_indexer(segs["u"].astype(str))
    v = index.get_indexer(segs["v"].astype(str))
    length = np.hypot(*(xy[u] - xy[v]).T)
    if "length_m" in segs.columns:  # osmnx: the length along the curved edge
        given = pd.to_numeric(segs["length_m"], errors="coerce").to_numpy(float)
        length = np.where(np.isfinite(given), given, length)
    z = nodes["z"].to_numpy(float) if "z" in nodes.columns else None
    return build_network(
        index.to_numpy(),
        xy,
        u,
        v,
        length,
        crs=crs,
        highway=segs["highway"].to_numpy(object),
        maxspeed=segs["maxspeed"].to_numpy(object) if "maxspeed" in segs else None,
        z=z,
        profile=profile,
        keep=keep,
    )


def network_from_osmnx(
    graph, crs, profile="drive", speeds: dict | None = None, keep: str = "largest"
) -> RoadNetwork:
    """A :class:`RoadNetwork` from an osmnx graph (unprojected: nodes with lon ``x``, lat ``y``).

    Edge ``length`` (metres, along the edge) is used where present; node ``elevation`` (metres)
    gives the slope factor.
    """
    nodes = pd.DataFrame(
        [(str(n), d["x"], d["y"], d.get("elevation", np.nan)) for n, d in graph.nodes(data=True)],
        columns=["id", "lon", "lat", "z"],
    )
    segs = pd.DataFrame(
        [
            (str(a), str(b), d.get("highway"), d.get("maxspeed"), d.get("length", np.nan))
            for a, b, d in graph.edges(data=True)
        ],
        columns=["u", "v", "highway", "maxspeed", "length_m"],
    )
    return network_from_frames(nodes, segs, crs, profile, speeds, keep)


def network_from_lines(
    lines: gpd.GeoDataFrame,
    crs,
    profile="drive",
    speeds: dict | None = None,
    tolerance_m: float = 0.5,
    name: str = "roads",
    split: bool = True,
    keep: str = "largest",
) -> RoadNetwork:
    """A :class:`RoadNetwork` from a line layer (each line a segment between its two ends).

    Ends closer than ``tolerance_m`` are one node; 3-D lines give node elevations (slope factor).
    Optional columns: ``highway`` (class),
    ``maxspeed``, ``speed_kmh`` (overrides the class speed) and ``minutes`` (overrides both).
    With ``split`` (the default) lines are first cut where they share a vertex or cross
    (:func:`allocator.gis.noding.split_at_junctions`; ``stats["lines_split"]`` counts the lines
    cut); ``split=False`` takes a layer already split at its junctions as it is (two lines that
    cross without a junction, such as a bridge, then stay apart). Other inner vertices only shape
    the length.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> lines = gpd.GeoDataFrame({"highway": ["primary", "track"]}, crs="EPSG:32650",
    ...     geometry=[LineString([(0, 0), (1000, 0)]), LineString([(1000, 0), (1000, 500)])])
    >>> net = network_from_lines(lines, "EPSG:32650", "drive")
    >>> sorted(round(m, 2) for _, _, m in net.graph.edges(data="minutes"))
    [1.0, 2.0]
    """
    profile = profile_of(profile, speeds)
    lines = lines.to_crs(crs).explode(index_parts=False).reset_index(drop=True)
    kinds = lines.geometry.geom_type.to_numpy()
    bad = kinds != "LineString"
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{kinds[pos]} geometry in the roads layer; expected lines",
            file=name,
            table="roads",
            row=pos,
            value=str(kinds[pos]),
        )
    import shapely

    lines_split = 0
    if split:
        from allocator.gis.noding import split_at_junctions

        lines, lines_split = split_at_junctions(lines)
    start = shapely.get_coordinates(shapely.get_point(lines.geometry.array, 0), include_z=True)
    end = shapely.get_coordinates(shapely.get_point(lines.geometry.array, -1), include_z=True)
    ends3 = np.vstack([start, end])
    ends = ends3[:, :2]
    key = np.round(ends / tolerance_m).astype(np.int64)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    m = len(lines)
    length = lines.geometry.length.to_numpy(float)
    minutes = None
    if "minutes" in lines.columns:
        minutes = pd.to_numeric(lines["minutes"], errors="coerce").to_numpy(float)
    if "speed_kmh" in lines.columns:
        kmh = pd.to_numeric(lines["speed_kmh"], errors="coerce").to_numpy(float)
        from_speed = 60.0 * length / 1000.0 / kmh
        minutes = (
            from_speed if minutes is None else np.where(np.isfinite(minutes), minutes, from_speed)
        )
    net = build_network(
        [f"n{k}" for k in range(len(first))],
        ends[first],
        inverse[:m],
        inverse[m:],
        length,
        crs=crs,
        highway=lines["highway"].to_numpy(object) if "highway" in lines.columns else None,
        maxspeed=lines["maxspeed"].to_numpy(object) if "maxspeed" in lines.columns else None,
        minutes=minutes,
        z=ends3[first, 2] if np.isfinite(ends3[:, 2]).any() else None,
        profile=profile,
        keep=keep,
    )
    net.stats["lines_split"] = lines_split
    return net
