"""Enrolment forecast timings: a 15-year cohort-survival projection for a synthetic municipality.

Run: ``python benchmarks/forecast_speed.py [--schools 5000]``. Prints seconds for the projection
of every settlement, grade and year (:func:`allocator.forecast.forecast_region`, the medium birth
path, migration by area type) and for school enrolment by today's catchments
(:func:`allocator.forecast.school_enrolment`); the target is under 10 s for 5,000 schools.
"""

import argparse
import os
import platform
import time

from allocator.forecast import ForecastSettings, forecast_region, school_enrolment
from allocator.synth import make_region


def main(schools: int, seed: int = 1) -> None:
    region = make_region(schools=schools, seed=seed)
    settings = ForecastSettings(horizon=15, migration={"urban": 0.02, "town": 0.0, "rural": -0.03})
    t0 = time.perf_counter()
    by_settlement = forecast_region(region, settings, 2025, "medium")
    t_project = time.perf_counter() - t0
    t0 = time.perf_counter()
    by_school = school_enrolment(region, by_settlement)
    t_schools = time.perf_counter() - t0
    first, last = by_settlement["year"].min(), by_settlement["year"].max()
    total = by_settlement.groupby("year")["pupils"].sum()
    print(
        f"machine: {platform.machine()}, python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"region: {region!r}")
    print(
        f"projection, {len(region.settlements):,} settlements x 9 grades x 16 years: "
        f"{t_project:.2f} s ({len(by_settlement):,} rows)"
    )
    print(f"school enrolment by today's catchments: {t_schools:.2f} s ({len(by_school):,} rows)")
    print(f"total: {t_project + t_schools:.2f} s (target 10 s)")
    print(f"pupils {first}: {total[first]:,.0f}; {last}: {total[last]:,.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=5000)
    main(parser.parse_args().schools)
