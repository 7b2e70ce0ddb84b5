"""Time of a county-sized GIS import (target: under 60 s on 2 cores).

Run: ``python benchmarks/gis_speed.py [--side 224]``. Writes a synthetic OpenStreetMap XML extract
of a 40 x 40 km county near Chongqing (a jittered grid of side x side road nodes, 50,176 for the
default 224: every row and column a way, every 8th a secondary road, the rest residential or
track), 2,000 settlement points with population and 300 school points with pupil totals, then
times :func:`allocator.gis.region_from_layers` on them with the ``drive`` profile, end to end
(XML parsing, projection, cleaning, snapping, demand, defaults and Region validation).
"""

import argparse
import platform
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np

from allocator.gis import region_from_layers


def write_osm(path: Path, side: int, seed: int = 0) -> tuple[float, float, float, float]:
    rng = np.random.default_rng(seed)
    lon0, lat0 = 106.3, 29.3
    step_lat = 40.0 / side / 111.32  # about 40 km across
    step_lon = step_lat / np.cos(np.radians(lat0))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    lon = lon0 + (jj + rng.uniform(-0.3, 0.3, ii.shape)) * step_lon
    lat = lat0 + (ii + rng.uniform(-0.3, 0.3, ii.shape)) * step_lat
    ids = np.arange(side * side).reshape(side, side) + 1
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
        for k, x, y in zip(ids.ravel(), lon.ravel(), lat.ravel(), strict=True):
            f.write(f'<node id="{k}" lat="{y:.7f}" lon="{x:.7f}"/>\n')
        way = 1
        for line in list(ids) + list(ids.T):
            kind = "secondary" if way % 8 == 0 else ("residential" if way % 3 else "track")
            refs = "".join(f'<nd ref="{k}"/>' for k in line)
            f.write(f'<way id="{way}">{refs}<tag k="highway" v="{kind}"/></way>\n')
            way += 1
        f.write("</osm>\n")
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def main(side: int = 224, settlements: int = 2000, schools: int = 300, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    levels = np.array(["primary", "junior", "nine_year", "teaching_point"])
    with tempfile.TemporaryDirectory() as tmp:
        osm = Path(tmp) / "county.osm"
        x0, y0, x1, y1 = write_osm(osm, side, seed)
        villages = gpd.GeoDataFrame(
            {"population": rng.integers(200, 3000, settlements)},
            geometry=gpd.points_from_xy(
                rng.uniform(x0, x1, settlements), rng.uniform(y0, y1, settlements)
            ),
            crs=4326,
        )
        sites = gpd.GeoDataFrame(
            {"pupils": rng.integers(30, 1500, schools), "level": rng.choice(levels, schools)},
            geometry=gpd.points_from_xy(rng.uniform(x0, x1, schools), rng.uniform(y0, y1, schools)),
            crs=4326,
        )
        print(f"machine: {platform.machine()}, python {platform.python_version()}")
        t0 = time.perf_counter()
        result = region_from_layers(sites, villages, osm, profile="drive", county="benchmark")
        seconds = time.perf_counter() - t0
    stats = result.tables["roads"].iloc[0]
    print(repr(result.region))
    print(
        f"road nodes {int(stats['nodes'])}, edges {int(stats['edges'])}, "
        f"segments read {int(stats['segments_read'])}"
    )
    print(f"region_from_layers: {seconds:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=224, help="grid side (nodes = side^2)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(side=args.side, seed=args.seed)
