"""Regions and plans as GeoDataFrames, and GeoPackage files that open in QGIS or ArcGIS.

A region's ``x``, ``y`` are km in a metric CRS: the CRS a GIS import chose (kept on the road graph
as ``roads.graph["crs"]`` and written as ``crs.txt`` beside the CSV files) or one you give.

Layers of a region: ``schools`` and ``settlements`` (points, every column), ``kindergartens`` and
``senior_schools`` when the region has them (points at their road node, every column:
:mod:`allocator.region_layers`), ``roads`` (lines ``u``-``v`` with ``minutes``). Layers of a plan, from its tables: a table with ``school_id`` and
``receiving_school_id`` (merger ``closures``) or ``from_school_id`` and ``to_school_id`` (teacher
``transfers``) gives lines between the two schools; ``settlement_id`` and ``school_id``
(``assignments``) lines from settlement to school; a table with ``school_id`` points; a table with
``district`` and ``school_id`` also gives ``<table>_multipoints`` (one multipoint per district) and
``<table>_polygons`` (the union of the district's schools' Voronoi cells, clipped to the region's
extent plus 1 km). Kindergarten plans' tables (a kindergarten is placed at its road ``node``):
``settlement_id`` and ``kindergarten_id`` (``kindergarten_assignments``) give lines from
settlement to kindergarten; a table with ``kindergarten_id`` and ``node`` (``kindergartens``:
kindergartens and candidate sites, with the plan's action) points at the node; a table with
``settlement_id`` and no school (``kindergarten_settlements``) points at the settlements.
Senior plans' tables likewise (a senior school or candidate site is placed at its road ``node``):
``settlement_id`` and ``senior_id`` (``senior_assignments``) give lines from settlement to campus,
a table with ``senior_id`` and ``node`` (``senior_schools``, with the plan's action, kind and
places) points at the node.
Tables without place columns are left out.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from allocator.outputs import output_file
from allocator.region import Region

__all__ = ["to_geodataframes", "region_geodataframes", "plan_geodataframes", "write_geopackage"]


def region_geodataframes(region: Region, crs=None) -> dict[str, gpd.GeoDataFrame]:
    """``schools``, ``settlements`` (points) and ``roads`` (lines) of a region.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> layers = region_geodataframes(make_region(schools=60, seed=1), crs="EPSG:32648")
    >>> sorted(layers), layers["roads"].geom_type.iloc[0]
    (['roads', 'schools', 'settlements'], 'LineString')
    """
    return region.to_geodataframes(crs)


def _xy(region: Region, ids: pd.Series, table: str) -> np.ndarray:
    df = region.schools if table == "schools" else region.settlements
    key = "school_id" if table == "schools" else "settlement_id"
    pos = pd.Index(df[key]).get_indexer(ids.astype(str))
    out = np.full((len(ids), 2), np.nan)
    ok = pos >= 0
    out[ok] = region.place_metres(table)[pos[ok]]
    return out


def _node_xy(region: Region, nodes) -> np.ndarray:
    """Metres (n x 2) of road nodes; NaN for a node not in the graph."""
    graph = region.roads
    out = np.full((len(nodes), 2), np.nan)
    for k, n in enumerate(pd.Series(nodes).astype(str)):
        if graph.has_node(n):
            out[k] = graph.nodes[n]["x"] * 1000, graph.nodes[n]["y"] * 1000
    return out


def _kindergarten_nodes(plan, region: Region) -> dict:
    """Kindergarten id -> node: the plan's ``kindergartens`` table (candidate sites included)
    over the region's."""
    out = {}
    for df in (region.kindergartens, getattr(plan, "tables", {}).get("kindergartens")):
        if isinstance(df, pd.DataFrame) and {"kindergarten_id", "node"} <= set(df.columns):
            out.update(zip(df["kindergarten_id"].astype(str), df["node"].astype(str), strict=True))
    return out


def _points(df, pts, crs) -> gpd.GeoDataFrame:
    keep = np.isfinite(pts).all(axis=1)
    return gpd.GeoDataFrame(
        df[keep].reset_index(drop=True),
        geometry=gpd.points_from_xy(pts[keep, 0], pts[keep, 1]),
        crs=crs,
    )


def _senior_layer(df, plan, region: Region, crs) -> gpd.GeoDataFrame | None:
    """The layer of a senior plan's table with ``senior_id`` (rules in the module docs), else
    None."""
    cols = set(df.columns)
    if "senior_id" not in cols:
        return None
    if "node" in cols:
        return _points(df, _node_xy(region, df["node"]), crs)
    nodes = {}
    for t in (region.senior_schools, getattr(plan, "tables", {}).get("senior_schools")):
        if isinstance(t, pd.DataFrame) and {"senior_id", "node"} <= set(t.columns):
            nodes.update(zip(t["senior_id"].astype(str), t["node"].astype(str), strict=True))
    at = _node_xy(region, [nodes.get(str(k), "") for k in df["senior_id"]])
    if "settlement_id" in cols:
        return _lines(df, _xy(region, df["settlement_id"], "settlements"), at, crs)
    return _points(df, at, crs)


def _kindergarten_layer(df, plan, region: Region, crs) -> gpd.GeoDataFrame | None:
    """The layer of a kindergarten plan's table (rules in the module docs), else None."""
    cols = set(df.columns)
    if "school_id" in cols or not cols & {"kindergarten_id", "settlement_id"}:
        return None
    if "kindergarten_id" in cols:
        nodes = _kindergarten_nodes(plan, region)
        at = _node_xy(region, [nodes.get(str(k), "") for k in df["kindergarten_id"]])
        if "settlement_id" in cols:
            return _lines(df, _xy(region, df["settlement_id"], "settlements"), at, crs)
        if "node" in cols:
            return _points(df, _node_xy(region, df["node"]), crs)
        return _points(df, at, crs)
    return _points(df, _xy(region, df["settlement_id"], "settlements"), crs)


def _lines(df, a, b, crs) -> gpd.GeoDataFrame:
    keep = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    lines = shapely.linestrings(np.stack([a[keep], b[keep]], axis=1))
    return gpd.GeoDataFrame(df[keep].reset_index(drop=True), geometry=lines, crs=crs)


def _district_layers(df, region, crs):
    pts = _xy(region, df["school_id"], "schools")
    ok = np.isfinite(pts).all(axis=1)
    df, pts = df[ok].reset_index(drop=True), pts[ok]
    groups = df.groupby("district", sort=False).indices
    multi = gpd.GeoDataFrame(
        {"district": list(groups), "schools": [len(i) for i in groups.values()]},
        geometry=[shapely.multipoints(pts[i]) for i in groups.values()],
        crs=crs,
    )
    if "county" in df.columns:
        multi.insert(1, "county", [df["county"].iloc[i[0]] for i in groups.values()])
    every = np.vstack([region.place_metres("schools"), region.place_metres("settlements")])
    extent = shapely.buffer(shapely.envelope(shapely.multipoints(every)), 1000.0)
    unique, first = np.unique(pts, axis=0, return_index=True)
    cells = shapely.voronoi_polygons(shapely.multipoints(unique), extend_to=extent)
    cell_of = {}
    for cell in shapely.get_parts(cells):
        inside = shapely.contains_xy(cell, unique[:, 0], unique[:, 1])
        for k in np.flatnonzero(inside):
            cell_of[tuple(unique[k])] = shapely.intersection(cell, extent)
    polygons = [
        shapely.union_all([cell_of[tuple(pts[k])] for k in i if tuple(pts[k]) in cell_of])
        for i in groups.values()
    ]
    poly = gpd.GeoDataFrame(multi.drop(columns="geometry"), geometry=polygons, crs=crs)
    return multi, poly


def plan_geodataframes(plan, region: Region, crs=None) -> dict[str, gpd.GeoDataFrame]:
    """Layers of a plan's tables (rules in the module docs), placed on ``region``.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.districts import plan_districts
    >>> region = make_region(schools=60, seed=1)
    >>> layers = plan_geodataframes(plan_districts(region), region, crs="EPSG:32648")
    >>> layers["districts_polygons"].geom_type.isin(["Polygon", "MultiPolygon"]).all()
    np.True_
    """
    crs = region.metric_crs(crs)
    out = {}
    for name, df in plan.tables.items():
        if not isinstance(df, pd.DataFrame) or df.empty:
            continue
        cols = set(df.columns)
        site_layer = _senior_layer(df, plan, region, crs)
        if site_layer is None:
            site_layer = _kindergarten_layer(df, plan, region, crs)
        if site_layer is not None:
            out[name] = site_layer
        elif {"school_id", "receiving_school_id"} <= cols:
            a, b = (
                _xy(region, df["school_id"], "schools"),
                _xy(region, df["receiving_school_id"], "schools"),
            )
            out[name] = _lines(df, a, b, crs)
        elif {"from_school_id", "to_school_id"} <= cols:
            a, b = (
                _xy(region, df["from_school_id"], "schools"),
                _xy(region, df["to_school_id"], "schools"),
            )
            out[name] = _lines(df, a, b, crs)
        elif {"settlement_id", "school_id"} <= cols:
            a = _xy(region, df["settlement_id"], "settlements")
            out[name] = _lines(df, a, _xy(region, df["school_id"], "schools"), crs)
        elif "school_id" in cols:
            out[name] = _points(df, _xy(region, df["school_id"], "schools"), crs)
            if "district" in cols:
                multi, poly = _district_layers(df, region, crs)
                out[f"{name}_multipoints"], out[f"{name}_polygons"] = multi, poly
    return out


def to_geodataframes(obj, region: Region | None = None, crs=None) -> dict[str, gpd.GeoDataFrame]:
    """GeoDataFrames of a Region, or of a plan (give the region it was planned on).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> sorted(to_geodataframes(make_region(schools=60, seed=1), crs=32648))
    ['roads', 'schools', 'settlements']
    """
    if isinstance(obj, Region):
        return region_geodataframes(obj, crs)
    if region is None:
        raise TypeError("a plan is drawn on a region: to_geodataframes(plan, region)")
    return plan_geodataframes(obj, region, crs)


def _gpkg_safe(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    gdf = gdf.copy()
    for col in gdf.columns:
        if col == gdf.geometry.name:
            continue
        if gdf[col].dtype == object:
            gdf[col] = gdf[col].map(
                lambda v: v if v is None or isinstance(v, str | int | float) else str(v)
            )
    return gdf


def write_geopackage(
    layers: dict[str, gpd.GeoDataFrame],
    path: str | os.PathLike,
    *,
    protect=(),
) -> Path:
    """Write GeoDataFrames as the layers of one GeoPackage (written aside, moved into place whole).

    An existing file is never replaced (allocator cannot tell a GeoPackage it wrote from one it
    did not): choose a new name. ``protect`` lists inputs (path, label) the output may not be.

    Raises
    ------
    InputError
        When a file is there, or on a permission failure (one line).

    Examples
    --------
    >>> import os, tempfile
    >>> from allocator.synth import make_region
    >>> path = os.path.join(tempfile.mkdtemp(), "region.gpkg")
    >>> _ = write_geopackage(to_geodataframes(make_region(schools=60, seed=1), crs=32648), path)
    >>> import pyogrio; sorted(name for name, _ in pyogrio.list_layers(path))
    ['roads', 'schools', 'settlements']
    """
    with output_file(path, "region", protect=protect) as tmp:
        for name, gdf in layers.items():
            _gpkg_safe(gdf).to_file(tmp, layer=name, driver="GPKG")
    return Path(path)
