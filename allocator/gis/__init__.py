"""Regions from GIS data: layers, OpenStreetMap roads and population (``pip install "edu-allocator[gis]"``).

Modules: :mod:`~allocator.gis.layers` (reading and column mapping), :mod:`~allocator.gis.crs`
(projections, GCJ-02 / BD-09), :mod:`~allocator.gis.roads` (road graphs and snapping),
:mod:`~allocator.gis.demand` (pupils from population), :mod:`~allocator.gis.fill` (flagged
defaults), :mod:`~allocator.gis.build` (the entry points), :mod:`~allocator.gis.export`
(GeoDataFrames and GeoPackage), :mod:`~allocator.gis.config` (TOML configs, ``allocator import-gis``).
"""

try:
    import geopandas  # noqa: F401
    import pyproj  # noqa: F401
    import shapely  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        f'allocator.gis needs the GIS extra ({exc.name} is missing): pip install "edu-allocator[gis]"'
    ) from exc

from allocator.gis.build import GisImport, region_from_layers, region_from_osm
from allocator.gis.layers import Layer

__all__ = ["GisImport", "Layer", "region_from_layers", "region_from_osm"]
