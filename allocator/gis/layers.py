"""Reading point and polygon layers and mapping their columns to the region's names.

A layer is a GeoPackage / GeoJSON / shapefile (any CRS, read with pyogrio), a CSV or Excel table of
lon/lat points (UTF-8 or GBK), or a GeoDataFrame. :class:`Layer` says where it is and how to read
it: ``columns`` maps the source's column names (Chinese headers are fine) to the names the region
uses, ``coordinates`` says whether lon/lat came from a Chinese web map (GCJ-02, BD-09).

Text encodings: a shapefile with a ``.cpg`` file is read in the encoding it names; without one, as
UTF-8 if it decodes and otherwise as GB 18030 (a superset of GBK, the usual encoding of Chinese
shapefiles and Excel CSV exports). ``encoding=`` overrides both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from allocator.errors import InputError
from allocator.gis.crs import WEB_MAP_COORDINATES, to_wgs84
from allocator.gis.raster import RASTER_SUFFIXES, read_population_raster

__all__ = ["Layer", "as_layer", "read_layer", "map_columns", "points_of", "describe"]

_TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xls")
_LON_NAMES = ("lon", "lng", "longitude", "经度", "x")
_LAT_NAMES = ("lat", "latitude", "纬度", "y")


@dataclass
class Layer:
    """Where a layer is and how to read it.

    Parameters
    ----------
    source : str, path or GeoDataFrame
        A GeoPackage, GeoJSON, shapefile, CSV / Excel table of points, a population raster
        (``.tif``: settlements, see :mod:`allocator.gis.raster`) or a GeoDataFrame.
    layer : str, optional
        Layer name inside a GeoPackage (default: its first layer).
    columns : dict, optional
        Source column -> region column, e.g. ``{"学校名称": "name", "在校生数": "pupils"}``.
    encoding : str, optional
        Text encoding of a shapefile's attributes or a CSV (default: detected, see module docs).
    crs : CRS-like, optional
        The CRS of a layer that has none (a CSV of lon/lat defaults to EPSG:4326).
    coordinates : {"wgs84", "gcj02", "bd09"}
        Lon/lat from a Chinese web map are shifted back to WGS 84 (``gcj02``: Amap/Gaode,
        Tencent; ``bd09``: Baidu).
    centroids : bool
        Polygons become their centroids (default); False refuses a polygon layer.

    Examples
    --------
    >>> Layer("schools.gpkg", columns={"学校名称": "name"}).columns
    {'学校名称': 'name'}
    """

    source: object
    layer: str | None = None
    columns: dict = field(default_factory=dict)
    encoding: str | None = None
    crs: object = None
    coordinates: str = "wgs84"
    centroids: bool = True

    def __post_init__(self):
        if self.coordinates not in WEB_MAP_COORDINATES:
            raise InputError(
                f"unknown coordinates {self.coordinates!r}; expected one of "
                f"{', '.join(WEB_MAP_COORDINATES)}",
                file=describe(self.source),
                column="coordinates",
                value=self.coordinates,
            )
        if not isinstance(self.columns, Mapping):
            raise InputError(
                "columns must be a table of source column = region column", file=describe(self)
            )
        self.columns = dict(self.columns)


def describe(source) -> str:
    """A short name of a layer or source for error messages."""
    if isinstance(source, Layer):
        name = describe(source.source)
        return f"{name} [layer {source.layer}]" if source.layer else name
    if isinstance(source, gpd.GeoDataFrame | pd.DataFrame):
        return "<GeoDataFrame>"
    return str(source)


def as_layer(spec) -> Layer:
    """A :class:`Layer` from a Layer, a path, a GeoDataFrame or a dict of Layer fields."""
    if isinstance(spec, Layer):
        return spec
    if isinstance(spec, Mapping):
        known = set(Layer.__dataclass_fields__)
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InputError(
                f"unknown layer key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}",
                column=unknown[0],
            )
        if "source" not in spec:
            raise InputError("a layer needs source = <file>", column="source")
        return Layer(**spec)
    return Layer(spec)


def _read_table(path: Path, spec: Layer) -> gpd.GeoDataFrame:
    name = describe(spec)
    if path.suffix.lower() in (".xlsx", ".xls"):
        df = pd.read_excel(path, sheet_name=spec.layer or 0)
    else:
        encodings = [spec.encoding] if spec.encoding else ["utf-8-sig", "gb18030"]
        df = None
        for encoding in encodings:
            try:
                df = pd.read_csv(path, encoding=encoding)
                break
            except UnicodeDecodeError as exc:
                error = exc
        if df is None:
            raise InputError(
                f"cannot decode the text as {' or '.join(encodings)} ({error.reason}); "
                "give encoding = '...'",
                file=name,
            )
    df = map_columns(df, spec.columns, name)
    lon = next((c for c in df.columns if str(c).lower() in _LON_NAMES), None)
    lat = next((c for c in df.columns if str(c).lower() in _LAT_NAMES), None)
    if lon is None or lat is None:
        raise InputError(
            "a table of points needs lon and lat columns (map them with columns = {...}); "
            f"found {', '.join(map(str, df.columns))}",
            file=name,
            column="lon" if lon is None else "lat",
        )
    for col in (lon, lat):
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna().to_numpy()
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"value {df[col].iloc[pos]!r} is not a number; expected a coordinate",
                file=name,
                line=pos + 2,
                row=pos,
                column=str(col),
                value=df[col].iloc[pos],
            )
        df[col] = values
    geometry = gpd.points_from_xy(df[lon], df[lat])
    return gpd.GeoDataFrame(
        df.drop(columns=[lon, lat]), geometry=geometry, crs=spec.crs or "EPSG:4326"
    )


def _read_vector(path: Path, spec: Layer) -> gpd.GeoDataFrame:
    import pyogrio

    name = describe(spec)
    if not path.exists():
        raise InputError("file not found; expected a GIS layer", file=name)
    encoding = spec.encoding
    try:
        if encoding is None and path.suffix.lower() == ".shp":
            if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
                return pyogrio.read_dataframe(path, layer=spec.layer)
            try:
                return pyogrio.read_dataframe(path, layer=spec.layer, encoding="utf-8")
            except UnicodeDecodeError:
                encoding = "gb18030"
        return pyogrio.read_dataframe(path, layer=spec.layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"cannot decode the attributes as {encoding} ({exc.reason}); give encoding = '...'",
            file=name,
        ) from None
    except pyogrio.errors.DataLayerError as exc:
        raise InputError(f"cannot read layer {spec.layer!r}: {exc}", file=name) from None
    except pyogrio.errors.DataSourceError as exc:
        raise InputError(f"cannot read as a GIS layer: {exc}", file=name) from None


def read_layer(spec, table: str = "layer") -> gpd.GeoDataFrame:
    """Read a layer, rename its columns by the mapping, and undo web-map offsets.

    Parameters
    ----------
    spec : Layer, path, GeoDataFrame or dict
        The layer (see :class:`Layer`).
    table : str
        What the layer is for (``schools``, ``settlements``, ``boundaries``), for messages.

    Returns
    -------
    geopandas.GeoDataFrame
        In the layer's own CRS (WGS 84 if ``coordinates`` was ``gcj02`` or ``bd09``), with the
        mapped column names.

    Raises
    ------
    InputError
        File missing or unreadable, a mapping to a missing column, a layer without a CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> g = gpd.GeoDataFrame({"学校名称": ["一小"]}, geometry=[Point(106.5, 29.5)], crs=4490)
    >>> read_layer(Layer(g, columns={"学校名称": "name"})).columns.tolist()
    ['name', 'geometry']
    """
    spec = as_layer(spec)
    name = describe(spec)
    source = spec.source
    if isinstance(source, gpd.GeoDataFrame):
        gdf = map_columns(source.copy(), spec.columns, name)
    elif isinstance(source, pd.DataFrame):
        raise InputError(
            "expected a GeoDataFrame (or a CSV file with lon / lat columns), got a DataFrame",
            file=name,
        )
    else:
        path = Path(os.fspath(source))
        if path.suffix.lower() in _TABLE_SUFFIXES:
            if not path.exists():
                raise InputError(f"file not found; expected the {table} layer", file=name)
            gdf = _read_table(path, spec)
        elif path.suffix.lower() in RASTER_SUFFIXES:
            gdf = map_columns(read_population_raster(path, name=name), spec.columns, name)
        else:
            gdf = map_columns(_read_vector(path, spec), spec.columns, name)
    if gdf.crs is None:
        if spec.crs is None:
            raise InputError(
                f"the {table} layer has no CRS (no .prj or CRS record); expected a CRS: "
                "give crs = 'EPSG:4326' (or EPSG:4490, ...)",
                file=name,
                table=table,
            )
        gdf = gdf.set_crs(spec.crs)
    if spec.coordinates != "wgs84":
        gdf = gdf.to_crs(4326)
        gdf = gdf.set_geometry(
            shapely.transform(
                gdf.geometry.array,
                lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], spec.coordinates)),
            )
        )
    if gdf.geometry.isna().any() or gdf.geometry.is_empty.any():
        pos = int(np.flatnonzero((gdf.geometry.isna() | gdf.geometry.is_empty).to_numpy())[0])
        raise InputError(
            "empty geometry; expected a point or polygon", file=name, table=table, row=pos
        )
    return gdf.reset_index(drop=True)


def map_columns(df: pd.DataFrame, mapping: Mapping, name: str = "layer") -> pd.DataFrame:
    """Rename columns by ``{source: target}``; a source column that does not exist is an error.

    Examples
    --------
    >>> import pandas as pd
    >>> map_columns(pd.DataFrame({"学校名称": ["一小"]}), {"学校名称": "name"}).columns.tolist()
    ['name']
    """
    mapping = dict(mapping or {})
    missing = [c for c in mapping if c not in df.columns]
    if missing:
        raise InputError(
            f"column mapping names column {missing[0]!r}, which the layer does not have; "
            f"expected one of {', '.join(str(c) for c in df.columns if c != 'geometry')}",
            file=name,
            column=str(missing[0]),
        )
    return df.rename(columns=mapping)


def points_of(
    gdf: gpd.GeoDataFrame, table: str, centroids: bool = True, name: str = "layer"
) -> gpd.GeoSeries:
    """Point geometries of a layer: points as they are, polygons as centroids (in ``gdf``'s CRS).

    Call it on a layer in a metric CRS so that centroids are true centroids.

    Raises
    ------
    InputError
        Lines, or polygons when ``centroids`` is False.
    """
    kinds = gdf.geometry.geom_type.to_numpy()
    polygon = np.isin(kinds, ("Polygon", "MultiPolygon"))
    point = kinds == "Point"
    bad = ~(point | polygon)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{kinds[pos]} geometry in the {table} layer; expected points or polygons",
            file=name,
            table=table,
            row=pos,
            value=str(kinds[pos]),
        )
    if polygon.any() and not centroids:
        pos = int(np.flatnonzero(polygon)[0])
        raise InputError(
            f"{kinds[pos]} geometry in the {table} layer; expected points "
            "(or set centroids = true to use polygon centroids)",
            file=name,
            table=table,
            row=pos,
            value=str(kinds[pos]),
        )
    out = gdf.geometry.copy()
    if polygon.any():
        out[polygon] = gdf.geometry[polygon].centroid
    return out
