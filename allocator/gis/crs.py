"""Coordinates: a metric projection for a layer, and Chinese web-map offsets back to WGS 84.

* :func:`metric_crs` picks a projection in metres for an area: a CGCS2000 3-degree Gauss-Krüger
  zone (EPSG:4534-4554, central meridians 75°E-135°E) when the data are in CGCS2000 (EPSG:4490 or a
  CGCS2000 projection), otherwise the WGS 84 UTM zone of the area's centre.
* Chinese web maps (Amap/Gaode, Tencent, Google China) publish GCJ-02 coordinates, offset from
  WGS 84 by a few hundred metres; Baidu adds a second offset (BD-09). :func:`gcj02_to_wgs84` and
  :func:`bd09_to_wgs84` undo them (to about 1 cm by iteration); the forward offsets
  :func:`wgs84_to_gcj02` and :func:`wgs84_to_bd09` are the published formulas. Outside China the
  offsets are not applied (as the web maps do). Give ``coordinates = "gcj02"`` or ``"bd09"`` on a
  layer whose lon/lat came from such a map.
"""

from __future__ import annotations

import numpy as np
import pyproj

__all__ = [
    "metric_crs",
    "is_cgcs2000",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "to_wgs84",
    "WEB_MAP_COORDINATES",
]

#: Values of the ``coordinates`` option of a layer: which lon/lat the layer's points are in.
WEB_MAP_COORDINATES = ("wgs84", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky semi-major axis, as in the GCJ-02 formula
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0


def is_cgcs2000(crs) -> bool:
    """True when a CRS is CGCS2000 (EPSG:4490) or based on its datum.

    Examples
    --------
    >>> is_cgcs2000("EPSG:4490"), is_cgcs2000("EPSG:4326")
    (True, False)
    """
    crs = pyproj.CRS.from_user_input(crs)
    geodetic = crs.geodetic_crs
    names = (crs.name, geodetic.name if geodetic is not None else "")
    return any("CGCS2000" in n or "China Geodetic Coordinate System 2000" in n for n in names)


def metric_crs(lon: float, lat: float, source_crs=None) -> pyproj.CRS:
    """A projected CRS in metres for an area centred at (lon, lat) in degrees.

    Parameters
    ----------
    lon, lat : float
        Centre of the area (degrees).
    source_crs : CRS-like, optional
        The data's CRS. If it is CGCS2000 (EPSG:4490), the CGCS2000 3-degree Gauss-Krüger zone
        (EPSG:4534 + (CM - 75) / 3) is chosen; otherwise the WGS 84 UTM zone.

    Examples
    --------
    >>> metric_crs(24.94, 60.17).to_epsg()
    32635
    >>> metric_crs(106.55, 29.56, "EPSG:4490").to_epsg()  # Chongqing: zone of CM 108E
    4545
    """
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lat) > 90:
        raise ValueError(f"cannot choose a projection for lon={lon}, lat={lat}")
    if source_crs is not None and is_cgcs2000(source_crs):
        cm = int(np.clip(np.floor(lon / 3.0 + 0.5) * 3, 75, 135))
        return pyproj.CRS.from_epsg(4534 + (cm - 75) // 3)
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _out_of_china(lon, lat):
    return ~((lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271))


def _offset(lon, lat):
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _arrays(lon, lat):
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def wgs84_to_gcj02(lon, lat):
    """WGS 84 lon/lat (degrees, scalars or arrays) to GCJ-02.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.5272106, 31.1774276)  # Shanghai
    >>> round(float(lon), 6), round(float(lat), 6)
    (121.531542, 31.175304)
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _offset(lon, lat)
    out = _out_of_china(lon, lat)
    return np.where(out, lon, lon + dlon), np.where(out, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, tolerance_deg: float = 1e-9):
    """GCJ-02 lon/lat to WGS 84, by fixed-point iteration of the forward offset (to ~0.1 mm).

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(121.531541859215, 31.17530398364597)
    >>> round(float(lon), 6), round(float(lat), 6)
    (121.527211, 31.177428)
    """
    lon, lat = _arrays(lon, lat)
    wlon, wlat = lon.copy(), lat.copy()
    for _ in range(30):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = glon - lon, glat - lat
        wlon, wlat = wlon - elon, wlat - elat
        if np.all(np.abs(elon) < tolerance_deg) and np.all(np.abs(elat) < tolerance_deg):
            break
    return wlon, wlat


def gcj02_to_bd09(lon, lat):
    """GCJ-02 lon/lat to Baidu BD-09."""
    lon, lat = _arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat):
    """Baidu BD-09 lon/lat to GCJ-02 (the published inverse formula).

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(116.404, 39.915)
    >>> round(float(lon), 6), round(float(lat), 6)
    (116.397627, 39.908657)
    """
    lon, lat = _arrays(lon, lat)
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def wgs84_to_bd09(lon, lat):
    """WGS 84 lon/lat to Baidu BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Baidu BD-09 lon/lat to WGS 84."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon, lat, coordinates: str):
    """Undo a web map's offset: ``coordinates`` is ``"wgs84"`` (no change), ``"gcj02"`` or ``"bd09"``.

    Examples
    --------
    >>> [float(v) for v in to_wgs84(24.94, 60.17, "gcj02")]  # outside China: unchanged
    [24.94, 60.17]
    """
    if coordinates == "wgs84":
        return _arrays(lon, lat)
    if coordinates == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if coordinates == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise ValueError(
        f"unknown coordinates {coordinates!r}; expected one of {', '.join(WEB_MAP_COORDINATES)}"
    )
