"""The consolidation planner's vocabulary: the grade bands it re-plans, the bands each school
level teaches, and the optional ``boarding_places`` column of the schools and candidate sites.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.region import LEVEL_BANDS as REGION_LEVEL_BANDS

#: Grade bands the planner re-plans (senior high is left as it is).
PLANNED_BANDS = ("lower_primary", "upper_primary", "junior")
#: Columns of the schools and settlements tables holding the pupils of each planned band.
BAND_COLUMNS = [f"pupils_{b}" for b in PLANNED_BANDS]
#: The planned bands each school level teaches (lower primary, upper primary, junior).
LEVEL_BANDS = {
    level: tuple(b in bands for b in PLANNED_BANDS) for level, bands in REGION_LEVEL_BANDS.items()
}
#: Schools beyond the limit offered to a band today's layout already fails (nearest first).
BREACH_SCHOOLS = 3
#: Tolerance of the model's comparisons in pupils.
TOL = 1e-6
#: The cost-mode objective is in thousands of yuan (keeps HiGHS's objective well scaled).
YUAN_SCALE = 1000.0
#: Table name of the candidate sites in error messages.
CANDIDATE_TABLE = "candidate_sites"
#: Optional column of the schools and candidate-sites tables: boarders the dormitories hold.
BOARDING_COLUMN = "boarding_places"


def boarding_places(df: pd.DataFrame, table: str, key: str) -> np.ndarray:
    """The optional ``boarding_places`` column as numbers (inf: no limit, also for a missing
    column or an empty cell), checked: numeric and >= 0."""
    if BOARDING_COLUMN not in df.columns:
        return np.full(len(df), np.inf)
    raw = df[BOARDING_COLUMN]
    empty = raw.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in raw], dtype=bool
    )
    numbers = pd.to_numeric(raw.where(~empty, np.nan), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~empty & (np.isnan(numbers) | (numbers < 0)))
    if len(bad):
        pos = int(bad[0])
        value = raw.iloc[pos]
        what = "is not numeric" if np.isnan(numbers[pos]) else "is negative"
        raise InputError(
            f"{BOARDING_COLUMN} {value!r} {what}; expected the boarders the school's dormitories "
            "hold (a number >= 0), or an empty cell for no limit",
            table=table,
            row_id=df[key].iloc[pos],
            row=pos,
            column=BOARDING_COLUMN,
            value=value,
        )
    return np.where(empty, np.inf, numbers)
