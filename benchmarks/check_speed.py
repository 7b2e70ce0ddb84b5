"""Timings of ``allocator check`` on synthetic regions (target: 5,000 schools in under 10 s).

Run: ``python benchmarks/check_speed.py``. For each size, prints the median of 3 runs of: loading
the region from its CSV folder, ``check(region)``, ``report.summary()``, ``report.to_csv``, and the
whole command end to end in a fresh Python process (start-up and imports included). Also times the
pupil-weighted CV of one indicator done per county with :func:`allocator.metrics.cv` against one
pandas groupby pass, for a ratio measured in the same run.
"""

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from allocator import metrics
from allocator.check import check
from allocator.io import load_region, save_region
from allocator.synth import make_region

END_TO_END = """
import argparse, sys
from allocator.cli import add_check_parser
p = argparse.ArgumentParser(prog="allocator")
add_check_parser(p.add_subparsers(dest="command"))
a = p.parse_args(["check", sys.argv[1], "--out", sys.argv[2]])
sys.exit(a.func(a))
"""


def _median_time(fn, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main(sizes=(1000, 5000, 20000), seed: int = 1) -> None:
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    print(
        "schools | parts | counties | load CSV s | check s | summary s | to_csv s | "
        "end-to-end s | cv loop / groupby"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            region = make_region(schools=n, seed=seed)
            folder = Path(tmp) / f"region{n}"
            save_region(region, folder)
            t_load, loaded = _median_time(lambda folder=folder: load_region(folder))
            t_check, report = _median_time(lambda loaded=loaded: check(loaded))
            t_sum, _ = _median_time(report.summary)
            out = Path(tmp) / f"out{n}"
            t_csv, _ = _median_time(lambda out=out, report=report: report.to_csv(out))
            t_e2e, _ = _median_time(
                lambda folder=folder, out=out: subprocess.run(
                    [sys.executable, "-c", END_TO_END, str(folder), str(out)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                ),
                repeat=3,
            )
            s = report.tables["schools"]
            s = s[s["in_scope"] & (s["part"] == "primary")]
            k = "floor_m2_per_pupil"

            def loop(s=s, k=k):
                return {
                    c: metrics.cv(g[k].to_numpy(), g["pupils"].to_numpy())
                    for c, g in s.groupby("county")
                }

            def grouped(s=s, k=k):
                px = (s["pupils"] * s[k]).groupby(s["county"]).sum()
                p = s.groupby("county")["pupils"].sum()
                mean = px / p
                dev = s["pupils"] * (s[k] - s["county"].map(mean)) ** 2
                return np.sqrt(dev.groupby(s["county"]).sum() / p) / mean

            t_loop, a = _median_time(loop, repeat=5)
            t_grp, b = _median_time(grouped, repeat=5)
            assert np.allclose([a[c] for c in b.index], b.to_numpy())
            print(
                f"{n:7d} | {len(report.tables['schools']):5d} | "
                f"{region.schools['county'].nunique():8d} | {t_load:10.2f} | {t_check:7.2f} | "
                f"{t_sum:9.3f} | {t_csv:8.2f} | {t_e2e:12.2f} | {t_loop / t_grp:.1f}x"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000])
    main(tuple(parser.parse_args().sizes))
