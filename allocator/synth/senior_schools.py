"""The optional senior_schools table of a synthetic region: a general senior high school
(普通高中) for each of the region's senior schools and a vocational school (中等职业学校) in each
county.

Drawn from a random stream of its own (seeded from the region's seed and :data:`STREAM`), after
everything else, so every other column of a region of a given seed is the same with or without it.

Calibration (planning values, unconfirmed): a general school holds places for 85-105 % of its
senior pupils (at most 3,000); each county has one vocational school at a town or urban school's
node with places for 35-55 % of the county's general places (at most 3,000); boarding places
for 50-90 % of a school's places.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STREAM", "make_senior_schools"]

#: The spawn key of the senior schools' random stream.
STREAM = 29
#: Most places a synthetic school holds (the senior standard's size limit).
MOST = 3000


def make_senior_schools(schools: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The senior_schools table of a synthetic region (see the module's calibration).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=120, seed=7)
    >>> t = make_senior_schools(region.schools, 7)
    >>> sorted(set(t["kind"])), bool((t["boarding_places"] <= t["places"]).all())
    (['general', 'vocational'], True)
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM,)))
    rows = []
    for county, group in schools.groupby("county", sort=False):
        general = 0
        for s in group[group["level"] == "senior"].itertuples(index=False):
            places = int(min(MOST, round(s.pupils_senior * rng.uniform(0.85, 1.05), -1)))
            rows.append((f"G{len(rows) + 1:03d}", s.name, county, s.node, "general", places))
            general += places
        sites = group[group["area_type"].isin(("urban", "town"))]
        site = (sites if len(sites) else group).iloc[int(rng.integers(len(sites) or len(group)))]
        places = int(min(MOST, max(300, round(general * rng.uniform(0.35, 0.55), -1))))
        rows.append(
            (f"V{len(rows) + 1:03d}", f"{county}职业中学", county, site.node, "vocational", places)
        )
    out = pd.DataFrame(rows, columns=["senior_id", "name", "county", "node", "kind", "places"])
    out["boarding_places"] = np.round(out["places"] * rng.uniform(0.5, 0.9, len(out))).astype(int)
    return out
