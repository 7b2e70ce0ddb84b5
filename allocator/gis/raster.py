"""Settlements from a population raster (a WorldPop-style GeoTIFF of people per cell).

Each cell with a population above ``min_population`` (default 0) becomes a settlement at the
cell's centre, with ``population`` = the cell value and ``settlement_id`` = ``r<row>c<col>``
(row and column in the raster, from 0). Cells that are nodata, NaN or at most ``min_population``
are left out. Pupils then follow from population by age shares (:mod:`allocator.gis.demand`).
Reading needs ``rasterio`` (part of ``pip install "edu-allocator[gis]"``); a layer whose source
ends in ``.tif`` or ``.tiff`` is read this way by :func:`allocator.gis.layers.read_layer`.

A 100 m grid over a county has many cells; every one is snapped and routed, so a coarser grid
(WorldPop's 1 km product, or cells summed in a GIS) keeps an import quick.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np

from allocator.errors import InputError

__all__ = ["RASTER_SUFFIXES", "read_population_raster"]

#: File endings read as a population raster.
RASTER_SUFFIXES = (".tif", ".tiff")


def read_population_raster(
    path: str | os.PathLike, *, band: int = 1, min_population: float = 0.0, name: str | None = None
) -> gpd.GeoDataFrame:
    """Populated cells of a raster as points at their centres (rules in the module docs).

    Parameters
    ----------
    path : str or path-like
        A GeoTIFF of people per cell.
    band : int
        The band to read (from 1).
    min_population : float
        Cells with at most this many people are left out.
    name : str, optional
        The file's name in messages.

    Returns
    -------
    geopandas.GeoDataFrame
        ``settlement_id``, ``population`` and point geometry, in the raster's CRS (None if the
        file has none).

    Raises
    ------
    InputError
        rasterio missing, file missing or unreadable as a raster, or no populated cell.

    Examples
    --------
    >>> import os, tempfile, numpy as np, rasterio
    >>> from rasterio.transform import from_origin
    >>> path = os.path.join(tempfile.mkdtemp(), "pop.tif")
    >>> with rasterio.open(path, "w", driver="GTiff", height=1, width=2, count=1,
    ...                    dtype="float32", crs="EPSG:32650",
    ...                    transform=from_origin(0, 100, 100, 100)) as out:
    ...     out.write(np.array([[12.5, 0]], dtype="float32"), 1)
    >>> cells = read_population_raster(path)
    >>> cells["settlement_id"].tolist(), cells["population"].tolist(), cells.geometry.x.tolist()
    (['r0c0'], [12.5], [50.0])
    """
    name = name or str(path)
    try:
        import rasterio
        from rasterio.transform import xy
    except ImportError:
        raise InputError(
            'reading a population raster needs rasterio: pip install "edu-allocator[gis]"',
            file=name,
        ) from None
    if not Path(os.fspath(path)).exists():
        raise InputError("file not found; expected a population raster (GeoTIFF)", file=name)
    try:
        with rasterio.open(path) as data:
            if not 1 <= band <= data.count:
                raise InputError(
                    f"band {band} requested; the raster has {data.count} band(s)",
                    file=name,
                    value=band,
                )
            values = np.ma.filled(data.read(band, masked=True).astype(float), np.nan)
            transform, crs = data.transform, data.crs
    except rasterio.errors.RasterioError as exc:
        raise InputError(f"cannot read as a raster: {exc}", file=name) from None
    rows, cols = np.nonzero(np.isfinite(values) & (values > min_population))
    if len(rows) == 0:
        raise InputError(
            f"no cell with more than {min_population:g} people; expected a population raster",
            file=name,
        )
    x, y = xy(transform, rows, cols, offset="center")
    return gpd.GeoDataFrame(
        {
            "settlement_id": [
                f"r{r}c{c}" for r, c in zip(rows.tolist(), cols.tolist(), strict=True)
            ],
            "population": values[rows, cols],
        },
        geometry=gpd.points_from_xy(np.asarray(x, float), np.asarray(y, float)),
        crs=crs.to_wkt() if crs is not None else None,
    )
