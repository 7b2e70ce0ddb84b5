"""Schools as the assessment sees them: the assessed parts with their indicator values, and the
teachers the staffing norms require (the rules are in :mod:`allocator.standards`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.standards.norms import INDICATORS, KNOWN_INDICATORS
from allocator.standards.open_set import open_indicator_values
from allocator.standards.standard import Standard, as_standard

# --------------------------------------------------------------------------- school parts
_PART_COLUMNS = (
    "school_id",
    "part",
    "county",
    "area_type",
    "level",
    "pupils",
    *INDICATORS,
)


def _need(schools: pd.DataFrame, columns) -> None:
    if not isinstance(schools, pd.DataFrame):
        raise InputError(
            f"expected the schools table as a pandas DataFrame; got {type(schools).__name__}"
        )
    missing = [c for c in columns if c not in schools.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}", table="schools", column=missing[0]
        )


def assessment_parts(
    schools: pd.DataFrame, standard: Standard | str | Path = "moe2017"
) -> pd.DataFrame:
    """Split schools into the parts the assessment judges, with their indicator values.

    Rules by ``level``:

    * ``primary`` -> one primary part, pupils = ``pupils_lower_primary + pupils_upper_primary``;
    * ``junior`` -> one junior part, pupils = ``pupils_junior``;
    * ``nine_year`` -> a primary part and a junior part, pupils of their bands. Every resource
      (``teachers`` and its qualified / backbone / PE-arts subsets, floor area, sports area,
      equipment value, multimedia rooms) is split by the same shares: the primary part gets
      ``P / (P + w J)`` and the junior part ``w J / (P + w J)``, with P, J the primary and junior
      pupils and ``w = standard.nine_year.junior_weight`` (1.1). So a junior pupil of a nine-year
      school counts for w times a primary pupil's resources, and its per-pupil indicators are w times
      those of the primary part;
    * ``teaching_point`` -> one primary part; out of scope under
      ``standard.exclusions.teaching_point_min_pupils`` (50) pupils;
    * ``senior`` -> not assessed (no part; pupils of other bands at such a school are ignored);
    * a level in ``standard.exclusions.levels`` -> its parts are kept, out of scope.

    Pupils of bands that do not belong to the level (e.g. junior pupils of a primary school) are
    ignored. Parts with 0 pupils are dropped.

    Parameters
    ----------
    schools : pandas.DataFrame
        The schools table of a :class:`~allocator.region.Region`.
    standard : Standard or str
        Supplies the nine-year split and the exclusions.

    Returns
    -------
    pandas.DataFrame
        One row per part: ``school_id, part, county, area_type, level, pupils``, the seven
        :data:`INDICATORS`, ``teachers_per_100``, then ``in_scope`` (bool), ``excluded_because``
        (text, empty when in scope), ``share`` (fraction of the school's resources given to the
        part) and ``teachers`` (the part's share of the school's teachers, may be fractional).

    Examples
    --------
    >>> import pandas as pd
    >>> one = dict(county="A", area_type="rural", teachers=30, teachers_qualified=20,
    ...            teachers_backbone=3, teachers_pe_arts=4, floor_area_m2=4100.0,
    ...            sports_area_m2=6000.0, equipment_value=1.2e6, multimedia_rooms=12,
    ...            pupils_lower_primary=150, pupils_upper_primary=150, pupils_junior=0,
    ...            pupils_senior=0)
    >>> schools = pd.DataFrame([
    ...     dict(one, school_id="s1", level="nine_year", pupils_junior=100),
    ...     dict(one, school_id="s2", level="teaching_point", pupils_lower_primary=20,
    ...          pupils_upper_primary=10, floor_area_m2=300.0)])
    >>> parts = assessment_parts(schools)
    >>> parts[["school_id", "part", "pupils", "floor_m2_per_pupil", "in_scope"]]
      school_id     part  pupils  floor_m2_per_pupil  in_scope
    0        s1  primary     300                10.0      True
    1        s1   junior     100                11.0      True
    2        s2  primary      30                10.0     False
    """
    std = as_standard(standard)
    base_cols = [
        "school_id",
        "county",
        "area_type",
        "level",
        "pupils_lower_primary",
        "pupils_upper_primary",
        "pupils_junior",
        "teachers",
    ]
    _need(schools, base_cols + [c for c, _ in KNOWN_INDICATORS.values()])
    df = schools.reset_index(drop=True)
    frames = [
        _part_frame(df, part, mask & (pupils > 0), pupils, share)
        for part, mask, pupils, share in _part_shares(df, std)
        if (mask & (pupils > 0)).any()
    ]
    if not frames:
        return _no_parts()
    parts = pd.concat(frames, ignore_index=True).sort_values("_order", kind="stable")
    parts = parts.drop(columns="_order").reset_index(drop=True)
    reason = _exclusion_reasons(parts, std)
    columns = [*_PART_COLUMNS, "teachers_per_100"]
    result = parts[columns].copy()
    result["in_scope"] = reason == ""
    result["excluded_because"] = reason
    result["share"] = parts["share"].to_numpy()
    result["teachers"] = parts["teachers"].to_numpy()
    for name, values in _open_assessed_values(df, std).items():
        result[name] = result["school_id"].map(values).to_numpy(float)
    return result


def _part_shares(df: pd.DataFrame, std: Standard):
    """(part, which schools have it, its pupils, its share of the school's resources), per part."""
    level = df["level"].astype(str).to_numpy()
    primary_pupils = df["pupils_lower_primary"].to_numpy(float) + df[
        "pupils_upper_primary"
    ].to_numpy(float)
    junior_pupils = df["pupils_junior"].to_numpy(float)
    # levels outside the known ones (e.g. special schools in a plain table): assess the bands they
    # teach, split like a nine-year school (they are out of scope if listed in the exclusions)
    other = ~np.isin(level, ["primary", "teaching_point", "junior", "nine_year", "senior"])
    has_primary = np.isin(level, ["primary", "teaching_point", "nine_year"]) | other
    has_junior = np.isin(level, ["junior", "nine_year"]) | other
    split = (level == "nine_year") | other
    weighted = primary_pupils + std.nine_year.junior_weight * junior_pupils
    primary_share = np.divide(
        primary_pupils, weighted, out=np.zeros_like(weighted), where=weighted > 0
    )
    p_share = np.where(split, primary_share, 1.0)
    j_share = np.where(split, 1.0 - primary_share, 1.0)
    return (
        ("primary", has_primary, primary_pupils, p_share),
        ("junior", has_junior, junior_pupils, j_share),
    )


def _part_frame(df: pd.DataFrame, part: str, keep, pupils, share) -> pd.DataFrame:
    """The rows of one part type (schools ``keep``), with indicator values and an ``_order``."""
    sub = df.loc[keep]
    pup = pupils[keep]
    sh = share[keep]
    out = {
        "school_id": sub["school_id"].to_numpy(),
        "part": np.full(len(sub), part, dtype=object),
        "county": sub["county"].to_numpy(),
        "area_type": sub["area_type"].to_numpy(),
        "level": sub["level"].to_numpy(),
        "pupils": pup.astype(np.int64),
    }
    for name, (column, scale) in KNOWN_INDICATORS.items():
        out[name] = scale * sub[column].to_numpy(float) * sh / pup
    out["share"] = sh
    out["teachers"] = sub["teachers"].to_numpy(float) * sh
    out["_order"] = np.flatnonzero(keep) * 2 + (0 if part == "primary" else 1)
    return pd.DataFrame(out)


def _open_assessed_values(schools: pd.DataFrame, std: Standard) -> dict[str, dict]:
    """School id -> value of each open indicator the standard assesses (NaN where it does not
    apply), for :func:`allocator.compliance.part_verdicts` to judge."""
    if not std.open_assessed:
        return {}
    values = open_indicator_values(schools, std)
    ids = schools["school_id"].to_numpy()
    return {k: dict(zip(ids, values[k].to_numpy(float), strict=True)) for k in std.open_assessed}


def _no_parts() -> pd.DataFrame:
    """The parts table without rows (every column, typed)."""
    empty = {c: pd.Series(dtype=float) for c in (*_PART_COLUMNS, "teachers_per_100")}
    parts = pd.DataFrame(empty)
    parts["in_scope"] = pd.Series(dtype=bool)
    parts["excluded_because"] = pd.Series(dtype=object)
    parts["share"] = pd.Series(dtype=float)
    parts["teachers"] = pd.Series(dtype=float)
    return parts


def _exclusion_reasons(parts: pd.DataFrame, std: Standard) -> np.ndarray:
    """Why each part is out of scope (empty text when it is in scope)."""
    reason = np.full(len(parts), "", dtype=object)
    lv = parts["level"].astype(str).to_numpy()
    excluded_level = np.isin(lv, list(std.exclusions.levels))
    reason[excluded_level] = [f"{v} schools are not assessed" for v in lv[excluded_level]]
    small_point = (lv == "teaching_point") & (
        parts["pupils"].to_numpy() < std.exclusions.teaching_point_min_pupils
    )
    reason[small_point & ~excluded_level] = (
        f"teaching point under {std.exclusions.teaching_point_min_pupils} pupils"
    )
    return reason


# --------------------------------------------------------------------------- staffing
def _ceil(values: np.ndarray) -> np.ndarray:
    # guard against 27 / 13.5 = 2.0000000000000004 style rounding
    return np.ceil(np.round(values, 9)).astype(np.int64)


def staffing_requirements(
    schools: pd.DataFrame, standard: Standard | str | Path = "moe2017"
) -> pd.DataFrame:
    """Required teachers of each school by the staffing norms, with the rule that decided.

    * By pupils: sum over grade bands (primary = lower + upper primary, junior, senior) of
      ``ceil(pupils_band / pupils_per_teacher_band)`` (each band staffed on its own; rural schools use
      ``staffing.rural_pupils_per_teacher`` when set).
    * By classes: for teaching points, and for schools of ``staffing.class_ratio_area_types`` with
      fewer than ``staffing.small_school_max_pupils`` pupils in all: ``ceil(classes *
      class_teacher_ratio)``. The requirement is the larger of the two.

    Returns
    -------
    pandas.DataFrame
        Same index as ``schools``; columns ``by_pupils``, ``by_classes`` (0 where the class rule
        does not apply), ``required_teachers``, ``rule`` (``"pupils"`` or ``"classes"``).

    Examples
    --------
    >>> import pandas as pd
    >>> schools = pd.DataFrame(dict(
    ...     school_id=["a", "b"], level=["nine_year", "teaching_point"], area_type=["town", "rural"],
    ...     pupils_lower_primary=[100, 12], pupils_upper_primary=[90, 0], pupils_junior=[140, 0],
    ...     pupils_senior=[0, 0], classes=[12, 2]))
    >>> staffing_requirements(schools)
       by_pupils  by_classes  required_teachers     rule
    0         21           0                 21   pupils
    1          1           3                  3  classes
    """
    std = as_standard(standard)
    _need(
        schools,
        [
            "level",
            "area_type",
            "pupils_lower_primary",
            "pupils_upper_primary",
            "pupils_junior",
            "pupils_senior",
            "classes",
        ],
    )
    staffing = std.staffing
    bands = {
        "primary": schools["pupils_lower_primary"].to_numpy(float)
        + schools["pupils_upper_primary"].to_numpy(float),
        "junior": schools["pupils_junior"].to_numpy(float),
        "senior": schools["pupils_senior"].to_numpy(float),
    }
    area = schools["area_type"].astype(str).to_numpy()
    rural = area == "rural"
    by_pupils = np.zeros(len(schools), dtype=np.int64)
    for band, pupils in bands.items():
        ratio = np.full(len(schools), staffing.pupils_per_teacher[band])
        if staffing.rural_pupils_per_teacher is not None:
            ratio[rural] = staffing.rural_pupils_per_teacher[band]
        by_pupils += _ceil(pupils / ratio)
    total = sum(bands.values())
    applies = (schools["level"].astype(str).to_numpy() == "teaching_point") | (
        np.isin(area, list(staffing.class_ratio_area_types))
        & (total < staffing.small_school_max_pupils)
    )
    by_classes = np.where(
        applies, _ceil(schools["classes"].to_numpy(float) * staffing.class_teacher_ratio), 0
    )
    required = np.maximum(by_pupils, by_classes)
    return pd.DataFrame(
        {
            "by_pupils": by_pupils,
            "by_classes": by_classes.astype(np.int64),
            "required_teachers": required.astype(np.int64),
            "rule": np.where(by_classes > by_pupils, "classes", "pupils").astype(object),
        },
        index=schools.index,
    )


def required_staff(schools: pd.DataFrame, standard: Standard | str | Path = "moe2017") -> pd.Series:
    """Required teachers of each school (see :func:`staffing_requirements` for the rules).

    Returns
    -------
    pandas.Series
        ``required_teachers``, same index as ``schools``.

    Examples
    --------
    >>> import pandas as pd
    >>> schools = pd.DataFrame(dict(
    ...     level=["primary", "primary"], area_type=["urban", "rural"],
    ...     pupils_lower_primary=[600, 30], pupils_upper_primary=[540, 25], pupils_junior=[0, 0],
    ...     pupils_senior=[0, 0], classes=[26, 6]))
    >>> required_staff(schools).tolist()
    [60, 9]
    """
    return staffing_requirements(schools, standard)["required_teachers"]
