"""The run map on web tiles, only when asked: ``[output] map_tiles = "openstreetmap"``.

By default the report's map (:func:`allocator.report.maps.map_figure`) is drawn on plain axes in
km and the page fetches nothing. With OpenStreetMap tiles asked for, :func:`tile_map_figure` draws
the same layers (roads, districts, rotations, closures, schools) on a plotly ``scattermap`` whose
style is OSM's raster tiles, and the page says that the map needs internet. That needs the
region's coordinate system (a region from GIS layers or OpenStreetMap records it; see
:meth:`allocator.region.Region.metric_crs`) and ``pyproj``; a synthetic region in km has none,
so the map is drawn without tiles and one warning says why.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import plotly.graph_objects as go

from allocator.errors import InputError
from allocator.i18n import Words
from allocator.report.interactive import base_layout, figure_html, words_of
from allocator.report.maps import map_chart, map_figure
from allocator.report.tables import escape

__all__ = ["OSM_STYLE", "map_tiles", "region_crs", "tile_map_figure", "tiled_map_chart"]

#: A MapLibre style of OpenStreetMap's raster tiles (fetched by the browser from the web).
OSM_STYLE = {
    "version": 8,
    "sources": {
        "osm": {
            "type": "raster",
            "tiles": ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"],
            "tileSize": 256,
            "attribution": "© OpenStreetMap contributors",
        }
    },
    "layers": [{"id": "osm", "type": "raster", "source": "osm"}],
}
#: Trace settings carried over from the plain map (markers keep size, colour and opacity only:
#: the tile map's markers have no symbols).
_COPIED = (
    "name", "mode", "text", "hovertext", "hovertemplate", "hoverinfo", "customdata", "meta",
    "legendgroup",
    "showlegend", "visible", "fillcolor", "opacity",
)  # fmt: skip


def map_tiles(result) -> str:
    """The tiles a run's report asks for (``[output] map_tiles``; ``"none"`` when unset)."""
    return getattr(getattr(result.scenario, "output", None), "map_tiles", "none") or "none"


def region_crs(region):
    """The coordinate system of a region's ``x``, ``y`` (km), or one :class:`InputError` naming
    why there is none (a synthetic region, or one loaded from CSV files without it).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region_crs(make_region(schools=20, seed=1))
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: [output] map_tiles: the region records no coordinate system (a synthetic region in km, or one loaded from CSV files), so its places cannot be put on web tiles; expected a region built from GIS layers or OpenStreetMap
    """
    crs = region.roads.graph.get("crs")
    if crs is None:
        raise InputError(
            "[output] map_tiles: the region records no coordinate system (a synthetic region in "
            "km, or one loaded from CSV files), so its places cannot be put on web tiles; "
            "expected a region built from GIS layers or OpenStreetMap"
        )
    return crs


def _lon_lat(values_x, values_y, transformer) -> tuple[list, list]:
    """km in the region's system -> longitude, latitude; a gap (None) stays a gap."""
    x = np.array([math.nan if v is None else float(v) for v in values_x], dtype=float)
    y = np.array([math.nan if v is None else float(v) for v in values_y], dtype=float)
    lon, lat = transformer.transform(x * 1000.0, y * 1000.0)
    gap = ~np.isfinite(x) | ~np.isfinite(y)
    as_list = [[None if g else float(v) for v, g in zip(a, gap, strict=True)] for a in (lon, lat)]
    return as_list[0], as_list[1]


def tile_map_figure(result, words: Words) -> go.Figure:
    """The run's map (:func:`~allocator.report.maps.map_figure`, every layer) on OpenStreetMap
    tiles: ``scattermap`` traces in longitude and latitude, the style :data:`OSM_STYLE`.

    Raises
    ------
    InputError
        The region records no coordinate system (:func:`region_crs`), or ``pyproj`` (the GIS
        extra) is missing.
    """
    crs = region_crs(result.regions[0])
    try:
        from pyproj import Transformer
    except ImportError:  # pragma: no cover - the GIS extra brings it
        raise InputError(
            "[output] map_tiles needs pyproj; install the GIS extra: "
            'pip install "edu-allocator[gis]"'
        ) from None
    to_degrees = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    plain = map_figure(result, words)
    fig = go.Figure()
    for trace in plain.data:
        if trace.type != "scatter" or trace.x is None:
            continue
        lon, lat = _lon_lat(trace.x, trace.y, to_degrees)
        settings = {k: trace[k] for k in _COPIED if trace[k] is not None}
        if trace.fill == "toself":
            settings["fill"] = "toself"
        marker = {
            k: trace.marker[k] for k in ("size", "color", "opacity") if trace.marker[k] is not None
        }
        line = {k: trace.line[k] for k in ("width", "color") if trace.line[k] is not None}
        fig.add_trace(go.Scattermap(lon=lon, lat=lat, marker=marker, line=line, **settings))
    schools = result.regions[0].schools
    lon, lat = _lon_lat(schools["x"], schools["y"], to_degrees)
    span = max(np.ptp(lon), np.ptp(lat) * 1.3, 1e-3)
    base_layout(fig, hovermode="closest")
    fig.update_layout(
        map={
            "style": OSM_STYLE,
            "center": {"lon": float(np.mean(lon)), "lat": float(np.mean(lat))},
            "zoom": float(np.clip(math.log2(360.0 / span) - 0.5, 1, 16)),
        },
        legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top"},
        margin={"r": 10, "t": 60},
    )
    return fig


def tiled_map_chart(result, words: Words | None = None) -> str:
    """The run map for the page: on web tiles with a note that it needs internet when the run
    asks for them and the region has a coordinate system; otherwise the offline map
    (:func:`~allocator.report.maps.map_chart`), with one warning when tiles were asked for."""
    words = words if words is not None else words_of(result)
    if map_tiles(result) == "none":
        return map_chart(result, words)
    try:
        fig = tile_map_figure(result, words)
    except InputError as exc:
        warnings.warn(f"{exc.message}; the map is drawn without tiles", stacklevel=2)
        return map_chart(result, words)
    note = f"<p class='note tiles'>{escape(words('map.tiles_note'))}</p>"
    return note + figure_html(fig, height=720, scroll_zoom=True)
