"""Road line layers not split at junctions: cut every line where it meets or crosses another.

A GIS road layer is often drawn one line per road, with junctions as inner vertices (a vertex the
two roads share) or not as vertices at all (two lines that simply cross). A road graph needs a
node at each junction, so :func:`split_at_junctions` nodes the layer (``shapely.node``: every
shared vertex and every crossing becomes an end) and gives each piece the attributes of the line
it lies on. A line's ``minutes`` (if given) are shared among its pieces in proportion to their
length. Lines drawn twice over the same ground keep one piece per line, so the fastest still wins
in :func:`allocator.gis.roads.build_network`.

Crossing lines are joined even where one road passes over the other (a bridge); give
``split = false`` (a layer already split at its junctions) to keep the lines as they are.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["split_at_junctions"]


def split_at_junctions(lines: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, int]:
    """Lines cut at every shared vertex and crossing; returns (pieces, lines that were cut).

    ``lines`` holds single LineStrings in a metric CRS. Each piece keeps its line's columns; a
    ``minutes`` column is scaled by the piece's share of the line's length.

    Examples
    --------
    Two roads crossing at (50, 0) become four pieces of 50 m:

    >>> from shapely.geometry import LineString
    >>> lines = gpd.GeoDataFrame({"highway": ["primary", "track"]}, crs="EPSG:32650",
    ...     geometry=[LineString([(0, 0), (100, 0)]), LineString([(50, -50), (50, 50)])])
    >>> pieces, cut = split_at_junctions(lines)
    >>> cut, pieces["highway"].tolist(), pieces.length.tolist()
    (2, ['primary', 'primary', 'track', 'track'], [50.0, 50.0, 50.0, 50.0])
    """
    geoms = np.asarray(lines.geometry.values, dtype=object)
    if len(geoms) == 0:
        return lines, 0
    pieces = shapely.get_parts(shapely.node(shapely.multilinestrings(geoms)))
    pieces = pieces[shapely.length(pieces) > 0]
    # the line each piece lies on: its midpoint is on that line and on no other (a line through
    # the midpoint would have cut the piece there), except lines drawn over the same ground
    middle = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    piece_pos, line_pos = shapely.STRtree(geoms).query(middle, predicate="dwithin", distance=1e-6)
    order = np.lexsort((piece_pos, line_pos))
    piece_pos, line_pos = piece_pos[order], line_pos[order]
    cut = np.bincount(line_pos, minlength=len(geoms)) > 1
    if not cut.any():
        return lines, 0
    out = lines.iloc[line_pos].reset_index(drop=True)
    new = pieces[piece_pos]
    if "minutes" in out.columns:
        share = shapely.length(new) / shapely.length(geoms[line_pos])
        out["minutes"] = pd.to_numeric(out["minutes"], errors="coerce").to_numpy(float) * share
    out[lines.geometry.name] = gpd.GeoSeries(new, index=out.index, crs=lines.crs)
    return out, int(cut.sum())
