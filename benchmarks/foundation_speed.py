"""Synthetic-region generation and travel-time timings at 5,000 schools.

Run: ``python benchmarks/foundation_speed.py``. Prints seconds for make_region and for
all settlements -> all schools travel times with a 90-minute cutoff, and the same travel times by
networkx's pure-Python Dijkstra (on a sample of sources, scaled) for a ratio measured in one run.
"""

import platform
import time

import networkx as nx
import numpy as np

from allocator.synth import make_region


def main(schools: int = 5000, seed: int = 1) -> None:
    t0 = time.perf_counter()
    region = make_region(schools=schools, seed=seed)
    t_synth = time.perf_counter() - t0
    src, tgt = region.settlements["node"], region.schools["node"]
    t0 = time.perf_counter()
    matrix = region.travel_minutes(src, tgt, cutoff=90)
    t_travel = time.perf_counter() - t0
    sample = list(src[:: max(1, len(src) // 200)])
    t0 = time.perf_counter()
    for s in sample:
        nx.single_source_dijkstra_path_length(region.roads, s, cutoff=90, weight="minutes")
    t_nx = (time.perf_counter() - t0) * len(src) / len(sample)
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(f"region: {region!r}, {region.roads.number_of_edges()} road edges")
    print(f"make_region({schools}):                 {t_synth:6.2f} s")
    print(
        f"travel_minutes settlements x schools:  {t_travel:6.2f} s  ({matrix.nnz} pairs within 90 min,"
        f" {np.mean(np.diff(matrix.indptr)):.0f} schools per settlement)"
    )
    print(f"networkx Dijkstra, same work (scaled): {t_nx:6.2f} s  (ratio {t_nx / t_travel:.1f}x)")


if __name__ == "__main__":
    main()
