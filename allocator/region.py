"""The Region: schools, settlements and the road network of a planning area, validated once.

A :class:`Region` is either fully valid or not created. It is never changed in place: planners return
new regions from ``plan.apply(region)``, and :meth:`Region.replace` builds a modified copy (validated
again).

Conventions
-----------
* Ids (``school_id``, ``settlement_id``) and road-graph nodes are strings.
* Counts (pupils, classes, seats, teachers, rooms) are whole numbers >= 0; areas, money and
  coordinates are floats. Coordinates are in km; road edges carry ``minutes`` (> 0).
* Optional extra columns are kept and carried through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import InputError
from allocator.plausibility import (
    WARNING_COLUMNS,
    checked_road_graph,
    hard_range,
    shown_number,
)
from allocator.region_layers import site_layers
from allocator.senior_schools import checked_senior_schools, same_table
from allocator.text import plain, plural
from allocator.travel import road_matrix, shortest_minutes

__all__ = [
    "Region",
    "AREA_TYPES",
    "LEVELS",
    "BANDS",
    "PUPIL_COLUMNS",
    "SCHOOL_COLUMNS",
    "SETTLEMENT_COLUMNS",
]

AREA_TYPES = ("urban", "town", "rural")
LEVELS = ("primary", "junior", "nine_year", "senior", "teaching_point")
#: Grade bands: lower primary (grades 1-3), upper primary (4-6), junior (7-9), senior high.
BANDS = ("lower_primary", "upper_primary", "junior", "senior")
#: The grade bands each school level teaches (the one table every step reads).
LEVEL_BANDS = {
    "primary": ("lower_primary", "upper_primary"),
    "teaching_point": ("lower_primary", "upper_primary"),
    "junior": ("junior",),
    "nine_year": ("lower_primary", "upper_primary", "junior"),
    "senior": ("senior",),
}
PUPIL_COLUMNS = tuple(f"pupils_{b}" for b in BANDS)

_SCHOOL_TEXT = ("school_id", "name", "county", "township", "area_type", "level", "node")
_SCHOOL_FLOAT = ("x", "y", "floor_area_m2", "sports_area_m2", "equipment_value", "annual_cost")
_SCHOOL_COUNT = (
    *PUPIL_COLUMNS,
    "classes",
    "capacity",
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
    "multimedia_rooms",
)
SCHOOL_COLUMNS = (
    *_SCHOOL_TEXT[:6],
    "node",
    "x",
    "y",
    *PUPIL_COLUMNS,
    "classes",
    "capacity",
    "teachers",
    "teachers_qualified",
    "teachers_backbone",
    "teachers_pe_arts",
    "floor_area_m2",
    "sports_area_m2",
    "equipment_value",
    "multimedia_rooms",
    "annual_cost",
)
_SETTLEMENT_TEXT = ("settlement_id", "county", "township", "area_type", "node")
SETTLEMENT_COLUMNS = (*_SETTLEMENT_TEXT[:4], "node", *PUPIL_COLUMNS)
_TEACHER_SUBSETS = ("teachers_qualified", "teachers_backbone", "teachers_pe_arts")
KINDERGARTEN_COLUMNS = ("kindergarten_id", "name", "node", "ownership", "places", "classes")
OWNERSHIPS = ("public", "inclusive_private", "other")
KINDERGARTEN_STATUSES = ("open", "reserved", "vacated")


def _fail(message, table, df, pos, id_column, column=None, value=None):
    row_id = df[id_column].iloc[pos] if id_column in df.columns and pos is not None else None
    raise InputError(
        message, table=table, row_id=plain(row_id), row=pos, column=column, value=plain(value)
    )


def require_columns(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    """Raise InputError unless ``df`` is a DataFrame with every one of ``columns``."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}", table=table)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)}; expected columns: {', '.join(columns)}",
            table=table,
            column=missing[0],
        )


def text_column(df, table, column, id_column):
    """Check that ``column`` has no empty cell and store it as text (in place)."""
    values = df[column]
    bad = values.isna().to_numpy()
    if bad.any():
        _fail(
            "empty value; expected text", table, df, int(np.flatnonzero(bad)[0]), id_column, column
        )
    df[column] = values.astype(str).astype(object)


def numeric_column(df, table, column, id_column, whole: bool, nonnegative: bool):
    """Check ``column`` holds plausible numbers (``whole``, ``nonnegative``); store them."""
    raw = df[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    what = "a whole number" if whole else "a number"

    def reject(mask, message, values=raw) -> None:
        """Fail on the first row where ``mask`` holds; ``message`` formats its value."""
        if mask.any():
            pos = int(np.flatnonzero(mask)[0])
            value = plain(values.iloc[pos] if isinstance(values, pd.Series) else values[pos])
            _fail(message(value), table, df, pos, id_column, column, value)

    missing = numbers.isna().to_numpy()
    reject(
        missing,
        lambda v: (
            f"missing value (NaN); expected {what}"
            if pd.isna(v)
            else f"value {v!r} is not numeric; expected {what}"
        ),
    )
    arr = numbers.to_numpy(dtype=float)
    reject(~np.isfinite(arr), lambda v: f"value {v!r} is not finite", values=arr)
    if nonnegative:
        kind = "a count" if whole else "a number"
        reject(arr < 0, lambda v: f"negative value {v!r}; expected {kind} >= 0")
    bounds = hard_range(table, column)
    if bounds is not None:
        low, high = bounds
        reject(
            (arr < low) | (arr > high),
            lambda v: (
                f"value {v!r} cannot be right; expected {what} from {shown_number(low)} to "
                f"{shown_number(high)}"
            ),
        )
    if whole:
        reject(
            arr != np.round(arr), lambda v: f"value {v!r} is not a whole number; expected a count"
        )
        df[column] = arr.astype(np.int64)
    else:
        df[column] = arr


def unique_ids(df, table, id_column):
    """Raise InputError naming the first repeated id of ``id_column``."""
    dup = df[id_column].duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        _fail(
            f"duplicate id {df[id_column].iloc[pos]!r}; ids must be unique",
            table,
            df,
            pos,
            id_column,
            id_column,
            df[id_column].iloc[pos],
        )


def allowed_values(df, table, column, id_column, allowed):
    """Raise InputError naming the first value of ``column`` that is not in ``allowed``."""
    bad = ~df[column].isin(allowed).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        value = df[column].iloc[pos]
        _fail(
            f"unknown value {value!r}; expected one of {', '.join(allowed)}",
            table,
            df,
            pos,
            id_column,
            column,
            value,
        )


def _nodes_in_graph(df, table, id_column, graph):
    bad = ~df["node"].map(graph.has_node).to_numpy(dtype=bool)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        value = df["node"].iloc[pos]
        message = f"node {value!r} is not in the road graph; expected a node of the roads table"
        _fail(message, table, df, pos, id_column, "node", value)


def _validate_kindergartens(k: pd.DataFrame, roads) -> pd.DataFrame:
    table, key = "kindergartens", "kindergarten_id"
    require_columns(k, table, KINDERGARTEN_COLUMNS)
    k = k.assign(status=k.get("status", "open")).fillna({"status": "open"}).reset_index(drop=True)
    for col in (*KINDERGARTEN_COLUMNS[:4], "status"):
        text_column(k, table, col, key)
    unique_ids(k, table, key)
    for col, allowed in (("ownership", OWNERSHIPS), ("status", KINDERGARTEN_STATUSES)):
        allowed_values(k, table, col, key, allowed)
    for col in ("places", "classes"):
        numeric_column(k, table, col, key, whole=True, nonnegative=True)
    _nodes_in_graph(k, table, key, roads)
    return k


def _vacated(given, kindergartens, before: pd.DataFrame, after) -> pd.DataFrame | None:
    """``given``, else ``kindergartens`` with the schools ``after`` drops as vacated sites."""
    if given is not None or kindergartens is None or after is None:
        return kindergartens if given is None else given
    kept = {*after["school_id"].astype(str), *kindergartens["kindergarten_id"]}
    gone = before[~before["school_id"].isin(kept) & before["level"].ne("senior")]
    rows = gone[["school_id", "name", "node"]].rename(columns={"school_id": "kindergarten_id"})
    rows = rows.assign(ownership="public", places=0, classes=0, status="vacated")
    return pd.concat([kindergartens, rows], ignore_index=True) if len(rows) else kindergartens


def _validate_roads(roads: nx.Graph) -> nx.Graph:
    """A checked, frozen copy of the road graph, marked so that derived regions reuse it."""
    graph = nx.freeze(checked_road_graph(roads))
    graph._allocator_valid = True
    graph._components = None
    return graph


class Region:
    """Schools, settlements and roads of a planning area, validated on construction.

    Parameters
    ----------
    schools : pandas.DataFrame
        One row per school with the columns in :data:`SCHOOL_COLUMNS` (extra columns are kept).
    settlements : pandas.DataFrame
        Villages and urban communities where pupils live, columns :data:`SETTLEMENT_COLUMNS`.
    roads : networkx.Graph
        Nodes carry ``x`` and ``y`` (km); edges carry ``minutes`` (> 0).
    name : str, optional
        A label for reports.
    sources : dict, optional
        Table -> the file it was read from (set by :func:`allocator.io.load_region`); warnings
        then name the file and line.
    load_warnings : pandas.DataFrame, optional
        Warnings found while reading the files (duplicate roads), in the layout of
        :func:`allocator.plausibility.region_warnings`; :func:`allocator.check.check` lists them.
    kindergartens : pandas.DataFrame, optional
        :data:`KINDERGARTEN_COLUMNS` and ``status`` (open; or a ``reserved`` or ``vacated`` site:
        :meth:`replace` keeps the schools it drops as vacated sites, so plans chain).
    senior_schools : pandas.DataFrame, optional
        General and vocational senior schools (:mod:`allocator.senior_schools`).

    Values that cannot be right (outside :data:`allocator.plausibility.HARD_RANGES`, or node
    coordinates that look like degrees) are refused; values that are only unusual are left to
    :func:`allocator.plausibility.region_warnings`.

    Raises
    ------
    InputError
        Naming the table, row id, column, value and what was expected.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> bool(region.schools["area_type"].isin(["urban", "town", "rural"]).all())
    True
    """

    def __init__(
        self,
        schools: pd.DataFrame,
        settlements: pd.DataFrame,
        roads: nx.Graph,
        name: str = "region",
        *,
        sources: dict[str, str] | None = None,
        load_warnings: pd.DataFrame | None = None,
        kindergartens: pd.DataFrame | None = None,
        senior_schools: pd.DataFrame | None = None,
    ):
        self.name = str(name)
        self.sources = dict(sources or {})
        self.load_warnings = (
            pd.DataFrame(columns=list(WARNING_COLUMNS))
            if load_warnings is None
            else load_warnings.reset_index(drop=True)
        )
        # A graph this class validated and froze is reused as is (plans derive many regions).
        self.roads = roads if getattr(roads, "_allocator_valid", False) else _validate_roads(roads)
        self.schools = self._validate_schools(schools)
        self.settlements = self._validate_settlements(settlements)
        self._check_reachability()
        self.kindergartens = (
            None if kindergartens is None else _validate_kindergartens(kindergartens, self.roads)
        )
        self.senior_schools = checked_senior_schools(senior_schools, self.roads)
        self._travel_cache: dict = {}
        self._csgraph = None

    # ----------------------------------------------------------------- validation
    def _validate_schools(self, schools: pd.DataFrame) -> pd.DataFrame:
        table, key = "schools", "school_id"
        require_columns(schools, table, SCHOOL_COLUMNS)
        df = schools.reset_index(drop=True).copy()
        for col in _SCHOOL_TEXT:
            text_column(df, table, col, key)
        unique_ids(df, table, key)
        allowed_values(df, table, "area_type", key, AREA_TYPES)
        allowed_values(df, table, "level", key, LEVELS)
        for col in ("x", "y"):
            numeric_column(df, table, col, key, whole=False, nonnegative=False)
        for col in _SCHOOL_FLOAT[2:]:
            numeric_column(df, table, col, key, whole=False, nonnegative=True)
        for col in _SCHOOL_COUNT:
            numeric_column(df, table, col, key, whole=True, nonnegative=True)
        for col in _TEACHER_SUBSETS:
            over = (df[col] > df["teachers"]).to_numpy()
            if over.any():
                pos = int(np.flatnonzero(over)[0])
                _fail(
                    f"{col}={df[col].iloc[pos]} exceeds teachers={df['teachers'].iloc[pos]}; "
                    "expected at most the school's teachers",
                    table,
                    df,
                    pos,
                    key,
                    col,
                    df[col].iloc[pos],
                )
        _nodes_in_graph(df, table, key, self.roads)
        return df

    def _validate_settlements(self, settlements: pd.DataFrame) -> pd.DataFrame:
        table, key = "settlements", "settlement_id"
        require_columns(settlements, table, SETTLEMENT_COLUMNS)
        df = settlements.reset_index(drop=True).copy()
        for col in _SETTLEMENT_TEXT:
            text_column(df, table, col, key)
        unique_ids(df, table, key)
        allowed_values(df, table, "area_type", key, AREA_TYPES)
        for col in PUPIL_COLUMNS:
            numeric_column(df, table, col, key, whole=True, nonnegative=True)
        _nodes_in_graph(df, table, key, self.roads)
        return df

    def _check_reachability(self) -> None:
        if self.settlements.empty:
            return
        if self.schools.empty:
            raise InputError("the region has settlements but no schools", table="schools")
        component = self.roads._components
        if component is None:
            component = {}
            for i, nodes in enumerate(nx.connected_components(self.roads)):
                for node in nodes:
                    component[node] = i
            self.roads._components = component
        with_school = {component[n] for n in self.schools["node"]}
        reach = self.settlements["node"].map(component).isin(with_school).to_numpy()
        if not reach.all():
            pos, s = int(np.flatnonzero(~reach)[0]), self.settlements
            message = "cannot reach any school by road; expected a road path to at least one school"
            _fail(message, "settlements", s, pos, "settlement_id", "node", s["node"].iloc[pos])

    # ----------------------------------------------------------------- derived copies
    def replace(
        self,
        schools: pd.DataFrame | None = None,
        settlements: pd.DataFrame | None = None,
        roads: nx.Graph | None = None,
        name: str | None = None,
        kindergartens: pd.DataFrame | None = None,
        senior_schools: pd.DataFrame | None = None,
    ) -> Region:
        """Return a new, validated region with some parts replaced.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=60, seed=1)
        >>> fewer = region.replace(schools=region.schools.iloc[:-1])
        >>> len(fewer.schools) == len(region.schools) - 1
        True
        """
        new = Region(
            self.schools if schools is None else schools,
            self.settlements if settlements is None else settlements,
            self.roads if roads is None else roads,
            name=self.name if name is None else name,
            kindergartens=_vacated(kindergartens, self.kindergartens, self.schools, schools),
            senior_schools=self.senior_schools if senior_schools is None else senior_schools,
        )
        if roads is None and self._csgraph is not None:
            new._csgraph = self._csgraph
            new._travel_cache = self._travel_cache
        return new

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Region):
            return NotImplemented
        return (
            self.schools.equals(other.schools)
            and self.settlements.equals(other.settlements)
            and _graph_key(self.roads) == _graph_key(other.roads)
            and (self.kindergartens is None) == (other.kindergartens is None)
            and (self.kindergartens is None or self.kindergartens.equals(other.kindergartens))
            and same_table(self.senior_schools, other.senior_schools)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Region({self.name!r}: {plural(len(self.schools), 'school')}, "
            f"{plural(len(self.settlements), 'settlement')}, "
            f"{plural(self.roads.number_of_nodes(), 'road node')})"
        )

    def metric_crs(self, crs=None):
        """The metric CRS of ``x``, ``y``: ``crs`` if given, else the one a GIS import recorded.

        Raises
        ------
        InputError
            When neither is there (a region loaded from CSV files: the import wrote ``crs.txt``).
        """
        crs = crs or self.roads.graph.get("crs")
        if crs is None:
            raise InputError(
                "the region does not record its CRS (a region loaded from CSV files); give crs= "
                "(the import wrote it to crs.txt)",
                table="nodes",
            )
        return crs

    def place_metres(self, table: str) -> np.ndarray:
        """Metres (n x 2) of each row of ``"schools"`` or ``"settlements"``: the row's own ``x``,
        ``y`` where it has them, else its road node's.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> make_region(schools=20, seed=1).place_metres("schools").shape
        (20, 2)
        """
        df = self.schools if table == "schools" else self.settlements
        graph = self.roads
        node_xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in df["node"]], float)
        if {"x", "y"} <= set(df.columns):
            own = df[["x", "y"]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
            node_xy = np.where(np.isfinite(own), own, node_xy.reshape(own.shape))
        return node_xy.reshape(-1, 2) * 1000

    def to_geodataframes(self, crs=None) -> dict:
        """``schools``, ``settlements`` (points), ``kindergartens`` and ``senior_schools`` when
        present (points at their node: :mod:`allocator.region_layers`) and ``roads`` (lines).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); ``crs`` is the metric CRS of
        ``x``, ``y`` (default: the one a GIS import recorded). Plans have theirs through
        :func:`allocator.gis.export.to_geodataframes`.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> sorted(make_region(schools=20, seed=1, kindergartens=True).to_geodataframes(crs=32648))
        ['kindergartens', 'roads', 'schools', 'settlements']
        """
        try:
            import geopandas as gpd
            import shapely
        except ImportError as exc:  # the same words as allocator.gis
            raise ImportError(
                f"allocator.gis needs the GIS extra ({exc.name} is missing): "
                'pip install "edu-allocator[gis]"'
            ) from exc
        crs = self.metric_crs(crs)
        xy = {n: (d["x"] * 1000, d["y"] * 1000) for n, d in self.roads.nodes(data=True)}
        edges = list(self.roads.edges(data="minutes"))
        lines = shapely.linestrings(
            np.array([[xy[u], xy[v]] for u, v, _ in edges], dtype=float).reshape(-1, 2, 2)
        )
        ends = {"u": [u for u, _, _ in edges], "v": [v for _, v, _ in edges]}
        roads = gpd.GeoDataFrame(
            {**ends, "minutes": [m for _, _, m in edges]}, geometry=lines, crs=crs
        )
        layers = {}
        for table in ("schools", "settlements"):
            df, place = getattr(self, table), self.place_metres(table)
            geometry = gpd.points_from_xy(place[:, 0], place[:, 1])
            layers[table] = gpd.GeoDataFrame(
                df.reset_index(drop=True).copy(), geometry=geometry, crs=crs
            )
        return {**layers, **site_layers(self, crs), "roads": roads}

    @property
    def counties(self) -> list[str]:
        """County names in order of first appearance."""
        return list(dict.fromkeys(self.schools["county"]))

    def county(self, name: str) -> Region:
        """The sub-region of one county (its schools and settlements; the whole road graph).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=400, seed=2)
        >>> sub = region.county(region.counties[0])
        >>> sub.schools["county"].nunique()
        1
        """
        if name not in set(self.schools["county"]):
            raise InputError(
                f"unknown county {name!r}; expected one of {', '.join(self.counties)}",
                table="schools",
                column="county",
                value=name,
            )
        return self.replace(
            schools=self.schools[self.schools["county"] == name],
            settlements=self.settlements[self.settlements["county"] == name],
            name=f"{self.name}/{name}",
            kindergartens=self.kindergartens,
            senior_schools=self.senior_schools,
        )

    # ----------------------------------------------------------------- travel times
    def road_matrix(self) -> tuple[dict, sp.csr_matrix]:
        """(road node -> row number, the road graph as a sparse matrix of minutes), built once."""
        if self._csgraph is None:
            self._csgraph = road_matrix(self.roads)
        return self._csgraph

    def travel_minutes(self, sources: Iterable, targets: Iterable, cutoff: float | None = None):
        """Shortest road times from each source node to each target node.

        Parameters
        ----------
        sources, targets : iterable of node ids
            Road-graph nodes (e.g. ``region.settlements["node"]`` and ``region.schools["node"]``).
        cutoff : float, optional
            Pairs farther than this many minutes are left out.

        Returns
        -------
        scipy.sparse.csr_matrix, shape (len(sources), len(targets))
            Stored entries are the pairs within the cutoff; a stored entry may be 0 (same node),
            so test reachability by the sparsity structure, not by value. The result is cached.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> region = make_region(schools=60, seed=1)
        >>> t = region.travel_minutes(region.settlements["node"], region.schools["node"], cutoff=45)
        >>> t.shape == (len(region.settlements), len(region.schools))
        True
        """
        sources = [str(s) for s in sources]
        targets = [str(t) for t in targets]
        key = (tuple(sources), tuple(targets), cutoff)
        if key not in self._travel_cache:
            index, graph = self.road_matrix()
            self._travel_cache[key] = shortest_minutes(index, graph, sources, targets, cutoff)
        return self._travel_cache[key]

    def __getstate__(self) -> dict:
        """Pickles carry the tables and roads, not the travel caches (rebuilt on demand)."""
        return {**self.__dict__, "_csgraph": None, "_travel_cache": {}}


def _graph_key(graph: nx.Graph):
    nodes = sorted((n, d.get("x"), d.get("y")) for n, d in graph.nodes(data=True))
    edges = sorted((min(u, v), max(u, v), d.get("minutes")) for u, v, d in graph.edges(data=True))
    return nodes, edges
