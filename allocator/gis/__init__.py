"""Regions from GIS data: layers, OpenStreetMap roads and population (``pip install "edu-allocator[gis]"``).

Modules, one job each: :mod:`~allocator.gis.layers` (reading and column mapping),
:mod:`~allocator.gis.crs` (projections, GCJ-02 / BD-09), :mod:`~allocator.gis.osm` (OSM files),
:mod:`~allocator.gis.roads` (road graphs and snapping), :mod:`~allocator.gis.noding` (line
layers cut at shared vertices and crossings), :mod:`~allocator.gis.demand` (pupils
from population), :mod:`~allocator.gis.raster` (settlements from a population GeoTIFF),
:mod:`~allocator.gis.fill` (flagged defaults), :mod:`~allocator.gis.build` (the entry points),
:mod:`~allocator.gis.export` (GeoDataFrames and GeoPackage) and :mod:`~allocator.gis.config`
(TOML configs). The command ``allocator import-gis`` is in :mod:`allocator.cli`.

The names below are imported on first use, so ``allocator`` itself (and its command line) never
needs geopandas.
"""

from importlib import import_module

__all__ = [
    "GisImport",
    "Layer",
    "region_from_layers",
    "region_from_osm",
    "region_from_config",
    "to_geodataframes",
    "write_geopackage",
]
_WHERE = {
    "GisImport": "build",
    "region_from_layers": "build",
    "region_from_osm": "build",
    "Layer": "layers",
    "region_from_config": "config",
    "to_geodataframes": "export",
    "write_geopackage": "export",
}


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'allocator.gis' has no attribute {name!r}")
    try:
        module = import_module(f"allocator.gis.{_WHERE[name]}")
    except ImportError as exc:
        if exc.name in ("geopandas", "pyproj", "shapely", "pyogrio"):
            raise ImportError(
                f"allocator.gis needs the GIS extra ({exc.name} is missing): "
                'pip install "edu-allocator[gis]"'
            ) from exc
        raise
    return getattr(module, name)
