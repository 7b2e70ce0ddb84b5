"""``allocator import-gis CONFIG --out DIR``: a region folder from a GIS import config.

This module imports nothing from the GIS stack until the command runs, so registering the
command costs nothing when the ``gis`` extra is not installed.
"""

from __future__ import annotations

__all__ = ["add_import_gis_parser", "import_gis_command"]


def add_import_gis_parser(subparsers) -> None:
    """Register ``allocator import-gis CONFIG --out DIR [--gpkg FILE]`` on argparse subparsers."""
    p = subparsers.add_parser(
        "import-gis",
        help="build a region folder from GIS layers and OpenStreetMap (a TOML config)",
        description="Build a region from the layers and column mapping a TOML config names; "
        "write the region's CSV files plus filled.csv, snapping.csv, roads_cleaning.csv and "
        "crs.txt. Needs the gis extra: pip install 'edu-allocator[gis]'.",
    )
    p.add_argument("config", help="GIS import config (TOML)")
    p.add_argument(
        "--out",
        required=True,
        help="region folder to write (an earlier import's folder is replaced; never another folder)",
    )
    p.add_argument(
        "--gpkg", default=None, help="also write the region as a GeoPackage (a new file name)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier output changed since it was written",
    )
    p.set_defaults(func=import_gis_command)


def import_gis_command(args) -> int:
    """Run ``allocator import-gis`` for parsed arguments (``config``, ``out``, ``gpkg``)."""
    from allocator.gis.config import region_from_config

    protect = [(args.config, "the GIS config")]
    if args.gpkg:
        from allocator.outputs import check_target

        check_target(args.gpkg, "region", protect=protect, kind="file")
    result = region_from_config(args.config)
    result.save(args.out, force=args.force, protect=protect)
    print(result.summary())
    print(f"wrote {result.region!r} to {args.out}")
    if args.gpkg:
        from allocator.gis.export import to_geodataframes, write_geopackage

        write_geopackage(
            to_geodataframes(result.region, crs=result.crs), args.gpkg, protect=protect
        )
        print(f"wrote {args.gpkg}")
    return 0
