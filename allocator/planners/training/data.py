"""From a region and a training policy to the arrays of the allocation: :func:`prepare`.

Per school with teachers: teachers n_s, backbone teachers B_s, the teachers' continuing-education
hours of the current cycle H_s (column ``teacher_training_hours``, all teachers together), the
backbone teachers the 2017 standard requires R_s and the area type. R_s is the least whole number
of backbone teachers with which every in-scope part of the school meets its ``backbone_per_100``
threshold t: a part with p pupils and share w of the school's resources (nine-year schools split
them, :func:`allocator.standards.assessment_parts`) has 100 w B / p backbone teachers per 100
pupils, so R_s = ceil(max over its parts of t p / (100 w)); 0 for a school without such a part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

import allocator.standards as standards
from allocator.errors import InputError
from allocator.fingerprint import region_fingerprint
from allocator.planners.training.policy import TrainingPolicy
from allocator.region import Region, numeric_column

__all__ = ["HOURS_COLUMN", "AREA_RANK", "TrainingData", "prepare", "backbone_required"]

#: The school column with the teachers' hours of the current cycle (all teachers together).
HOURS_COLUMN = "teacher_training_hours"
#: Ties in priority go to rural schools first, then town, then urban.
AREA_RANK = {"rural": 0, "town": 1, "urban": 2}


@dataclass
class TrainingData:
    """The arrays of a training allocation (S schools with teachers, P programmes, H years)."""

    schools: pd.DataFrame  # school_id, name, county, area_type, level of the S schools
    teachers: np.ndarray  # (S,) int
    backbone: np.ndarray  # (S,) int, before the plan
    hours: np.ndarray  # (S,) float, before the plan
    required: np.ndarray  # (S,) int, backbone teachers the standard requires
    rank: np.ndarray  # (S,) tie-break: AREA_RANK of the area type
    programmes: pd.DataFrame
    horizon: int
    cycle_year: int
    cycle_years: int
    cycle_hours: float
    budget: float  # yuan a year (inf: no limit)
    standard: standards.Standard
    region_fingerprint: str | None = None

    @property
    def S(self) -> int:
        """Number of schools with teachers."""
        return len(self.teachers)

    def on_track_hours(self, year: int) -> np.ndarray:
        """Hours (S,) each school's teachers together need by the end of plan year ``year``."""
        years = min(self.cycle_year - 1 + year, self.cycle_years)
        return self.teachers * self.cycle_hours * years / self.cycle_years


def backbone_required(schools: pd.DataFrame, std) -> pd.Series:
    """Backbone teachers each school needs to meet the standard's ``backbone_per_100`` threshold.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.standards import load_standard, assessment_parts
    >>> schools = make_region(schools=20, seed=1).schools
    >>> need = backbone_required(schools, load_standard())
    >>> primary = assessment_parts(schools, load_standard()).query("level == 'primary'").iloc[0]
    >>> int(need[primary["school_id"]]) == math.ceil(primary["pupils"] / 100 - 1e-9)
    True
    """
    scale = standards.KNOWN_INDICATORS["backbone_per_100"][1]
    parts = standards.assessment_parts(schools, std)
    parts = parts[parts["in_scope"].to_numpy(bool) & (parts["pupils"].to_numpy() > 0)]
    need = pd.Series(0, index=schools["school_id"].to_numpy(), dtype=np.int64)
    for row in parts.itertuples(index=False):
        if "backbone_per_100" not in std.assessed_indicators(row.part):
            continue
        t = float(std.thresholds[row.part]["backbone_per_100"])
        b = math.ceil(t * row.pupils / (scale * row.share) - 1e-9)
        need[row.school_id] = max(int(need[row.school_id]), b)
    return need


def prepare(region: Region, policy: TrainingPolicy) -> TrainingData:
    """The arrays of :mod:`.model` for a region and a policy.

    Raises
    ------
    InputError
        A region without the ``teacher_training_hours`` column, or a missing or negative value in
        it, naming the school.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> data = prepare(make_region(schools=20, seed=1), TrainingPolicy())
    >>> bool((data.required >= 0).all()), data.cycle_hours
    (True, 360.0)
    """
    if not isinstance(region, Region):
        raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
    if not isinstance(policy, TrainingPolicy):
        raise InputError(
            f"expected a TrainingPolicy, got {type(policy).__name__}", table="policy", value=policy
        )
    std = standards.load_standard(policy.standard, policy.standard_overrides)
    schools = region.schools
    if HOURS_COLUMN not in schools.columns:
        raise InputError(
            f"the training plan needs the teachers' hours of the current cycle in column "
            f"{HOURS_COLUMN!r}, which the schools table lacks",
            table="schools",
            column=HOURS_COLUMN,
        )
    checked = schools[["school_id", HOURS_COLUMN]].reset_index(drop=True)
    numeric_column(checked, "schools", HOURS_COLUMN, "school_id", whole=False, nonnegative=True)
    hours_target = policy.cycle_hours
    if hours_target is None:
        oi = std.open_indicators.get("training_hours_per_teacher")
        hours_target = 360.0 if oi is None or oi.threshold is None else oi.threshold
    keep = schools["teachers"].to_numpy() > 0
    kept = schools[keep].reset_index(drop=True)
    need = backbone_required(schools, std).reindex(kept["school_id"]).to_numpy(np.int64)
    budget = math.inf if policy.budget_per_year is None else policy.budget_per_year
    return TrainingData(
        schools=kept[["school_id", "name", "county", "area_type", "level"]].copy(),
        teachers=kept["teachers"].to_numpy(np.int64),
        backbone=kept["teachers_backbone"].to_numpy(np.int64),
        hours=checked[HOURS_COLUMN].to_numpy(float)[keep],
        required=need,
        rank=np.array([AREA_RANK.get(a, 3) for a in kept["area_type"]], dtype=np.int64),
        programmes=policy.programme_table(),
        horizon=policy.horizon,
        cycle_year=policy.cycle_year,
        cycle_years=policy.cycle_years,
        cycle_hours=float(hours_target),
        budget=budget,
        standard=std,
        region_fingerprint=region_fingerprint(region),
    )
