"""The optional kindergartens table of a synthetic region: kindergartens beside the primary
schools and reserved sites for new ones.

Drawn from a random stream of its own (seeded from the region's seed and :data:`STREAM`), after
everything else, so every other column of a region of a given seed is the same with or without it.

Calibration (planning values, unconfirmed): beside each primary school, kindergartens (at most
12 classes, places 85-100 % of classes x 30) with places for 60-90 % of as many children as the
school's lower primary pupils (three age years each); in the city 45 % public, 35 % inclusive
private, 20 % other private; a town school's first kindergarten is public (the township centre
kindergarten), the others mixed as in the city; half the village schools have a small public one.
Every urban settlement node without a kindergarten is a reserved site with probability 0.3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["STREAM", "make_kindergartens"]

#: The spawn key of the kindergartens' random stream.
STREAM = 23
OWNERSHIPS = ("public", "inclusive_private", "other")
#: Cumulative shares of urban (and town, after the first) kindergartens by ownership.
URBAN_MIX = (0.45, 0.8)


def make_kindergartens(schools: pd.DataFrame, settlements: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The kindergartens table of a synthetic region (see the module's calibration).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> k = make_kindergartens(region.schools, region.settlements, 1)
    >>> sorted(set(k["status"])) <= ["open", "reserved"], bool((k["places"] >= 0).all())
    (True, True)
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM,)))
    rows = []
    primary = schools[schools["level"].isin(("primary", "nine_year", "teaching_point"))]
    for s in primary.itertuples(index=False):
        children = s.pupils_lower_primary * rng.uniform(0.6, 0.9)  # places for 60-90 % of them
        if s.area_type == "rural" and rng.random() > 0.5:
            continue  # half the villages send their children to the township
        first = True
        while children >= 15:
            classes = int(min(12, max(1, round(children / 30))))
            places = int(round(classes * 30 * rng.uniform(0.85, 1.0)))
            if s.area_type == "urban" or (s.area_type == "town" and not first):
                ownership = OWNERSHIPS[int(np.searchsorted(URBAN_MIX, rng.random(), side="right"))]
            else:
                ownership = "public"
            rows.append(
                (f"K{len(rows) + 1:04d}", f"{s.name}幼儿园", s.node, ownership, places, classes)
            )
            children -= places
            first = False
    used = {r[2] for r in rows}
    urban = settlements[settlements["area_type"] == "urban"]
    for node in dict.fromkeys(urban["node"]):
        if node not in used and rng.random() < 0.3:
            rows.append((f"R{len(rows) + 1:04d}", f"预留用地 {node}", node, "public", 0, 0))
            used.add(node)
    out = pd.DataFrame(
        rows, columns=["kindergarten_id", "name", "node", "ownership", "places", "classes"]
    )
    out["status"] = np.where(out["kindergarten_id"].str.startswith("R"), "reserved", "open")
    return out
