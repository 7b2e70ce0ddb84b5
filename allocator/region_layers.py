"""Point layers of a region's optional site tables, for :meth:`allocator.region.Region.to_geodataframes`.

The ``kindergartens`` table (kindergartens and candidate sites) and the ``senior_schools`` table
(general and vocational senior schools), when the region has them: one point per row at its road
``node`` (the node's ``x``, ``y`` in km, as metres), with every column of the table. Needs the
GIS extra (geopandas).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SITE_TABLES", "site_layers"]

#: The optional tables placed at their road node, in layer order.
SITE_TABLES = ("kindergartens", "senior_schools")


def site_layers(region, crs) -> dict:
    """``{table: GeoDataFrame}`` for each table of :data:`SITE_TABLES` the region has.

    Parameters
    ----------
    region : allocator.region.Region
    crs
        The metric CRS of the region's ``x``, ``y`` (:meth:`Region.metric_crs`).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> layers = site_layers(make_region(schools=20, seed=1, kindergartens=True), "EPSG:32648")
    >>> sorted(layers), bool((layers["kindergartens"].geom_type == "Point").all())
    (['kindergartens'], True)
    """
    import geopandas as gpd

    nodes = region.roads.nodes
    layers = {}
    for table in SITE_TABLES:
        df = getattr(region, table, None)
        if df is None:
            continue
        xy = np.array(
            [(nodes[str(n)]["x"] * 1000, nodes[str(n)]["y"] * 1000) for n in df["node"]],
            dtype=float,
        ).reshape(-1, 2)
        layers[table] = gpd.GeoDataFrame(
            df.reset_index(drop=True).copy(),
            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            crs=crs,
        )
    return layers
