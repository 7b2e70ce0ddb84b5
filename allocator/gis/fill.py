"""Flagged defaults for the columns a planner does not have.

Every cell filled is listed in the ``filled`` table (``table, row_id, column, value, rule``) and
each school row gets a ``filled_columns`` text column naming its filled columns, so a report can
say which figures rest on defaults.

Rules (``P_p`` primary pupils = lower + upper primary, ``P_j`` junior, ``P_s`` senior; thresholds
``t`` of the standard, default moe2017; senior pupils count with the junior thresholds):

* ``name`` = the id; ``county``, ``township``, ``area_type`` = the values given to the importer;
  ``level`` from the name (小学/初中/九年一贯/高中/教学点, and English and Finnish school words),
  else the default level. Given values such as 小学 / 初级中学 (``level``) or 城区 / 镇区 / 乡村
  (``area_type``) are mapped to the region's names and listed too.
* ``classes`` = sum over bands of ceil(pupils / the standard's largest class), ``capacity`` =
  classes x that class size.
* ``teachers`` = the larger of the staffing norm (P_p/19 + P_j/13.5 + P_s/12.5 by default, rounded
  up) and the qualified teachers below; ``teachers_qualified``, ``teachers_backbone``,
  ``teachers_pe_arts``, ``multimedia_rooms`` = ceil(P_p t_p/100 + (P_j + P_s) t_j/100) of the
  per-100-pupils indicators; ``floor_area_m2``, ``sports_area_m2``, ``equipment_value`` =
  P_p t_p + (P_j + P_s) t_j of the per-pupil ones. Filled resources therefore just meet the
  standard: a check measures the columns that were given.
* ``annual_cost`` = 110,000 yuan per teacher + 800 yuan per pupil (at least 100 pupils) + 300,000
  (the figures :mod:`allocator.synth` uses).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.gis.demand import split_pupils
from allocator.region import AREA_TYPES, LEVELS, PUPIL_COLUMNS

__all__ = ["fill_schools", "fill_settlements", "guess_level", "LEVEL_WORDS", "AREA_WORDS"]

#: Words in a school's name that give its level, first match wins.
LEVEL_WORDS = (
    ("九年一贯", "nine_year"),
    ("九年制", "nine_year"),
    ("教学点", "teaching_point"),
    ("小学", "primary"),
    ("初级中学", "junior"),
    ("初中", "junior"),
    ("高级中学", "senior"),
    ("高中", "senior"),
    ("peruskoulu", "nine_year"),
    ("ala-aste", "primary"),
    ("alakoulu", "primary"),
    ("yläaste", "junior"),
    ("yläkoulu", "junior"),
    ("lukio", "senior"),
    ("primary", "primary"),
    ("elementary", "primary"),
    ("middle school", "junior"),
    ("junior", "junior"),
    ("high school", "senior"),
)
#: Words of an area-type value (statistical urban-rural codes' names) and the type they mean.
AREA_WORDS = (
    ("城乡结合", "town"),
    ("城区", "urban"),
    ("主城", "urban"),
    ("城市", "urban"),
    ("市区", "urban"),
    ("镇区", "town"),
    ("城镇", "town"),
    ("镇", "town"),
    ("乡村", "rural"),
    ("农村", "rural"),
    ("村", "rural"),
    ("乡", "rural"),
)
_PER_100 = {
    "teachers_qualified": "qualified_per_100",
    "teachers_backbone": "backbone_per_100",
    "teachers_pe_arts": "pe_arts_per_100",
    "multimedia_rooms": "multimedia_per_100",
}
_PER_PUPIL = {
    "floor_area_m2": "floor_m2_per_pupil",
    "sports_area_m2": "sports_m2_per_pupil",
    "equipment_value": "equipment_yuan_per_pupil",
}


def guess_level(name, default: str = "primary") -> tuple[str, bool]:
    """(level, guessed_from_name) for a school name.

    Examples
    --------
    >>> guess_level("城关第一小学"), guess_level("Ressun lukio"), guess_level("X", "junior")
    (('primary', True), ('senior', True), ('junior', False))
    """
    text = str(name).lower() if isinstance(name, str) else ""
    for word, level in LEVEL_WORDS:
        if re.search(re.escape(word), text):
            return level, True
    return default, False


def _word(value, words):
    text = str(value).strip().lower()
    for word, meaning in words:
        if word in text:
            return meaning
    return None


class _Filler:
    def __init__(self, df: pd.DataFrame, table: str, key: str):
        self.df, self.table, self.key, self.rows = df, table, key, []

    def missing(self, column: str) -> np.ndarray:
        if column not in self.df.columns:
            self.df[column] = pd.Series([np.nan] * len(self.df), index=self.df.index, dtype=object)
        values = self.df[column]
        return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()

    def fill(self, column: str, values, rule: str) -> None:
        values = np.broadcast_to(np.asarray(values, dtype=object), (len(self.df),))
        mask = self.missing(column) & pd.notna(pd.Series(values)).to_numpy()
        if not mask.any():
            return
        col = self.df[column].astype(object).to_numpy(copy=True)
        col[mask] = values[mask]
        self.df[column] = col
        ids = self.df[self.key].to_numpy()
        self.rows.extend(
            (self.table, ids[i], column, _plain(values[i]), rule) for i in np.flatnonzero(mask)
        )

    def normalise(self, column: str, allowed, words) -> None:
        """Map values such as 小学 or 乡村 to the region's names (listed like filled cells)."""
        if column not in self.df.columns:
            return
        values = self.df[column].to_numpy(object)
        ids = self.df[self.key].to_numpy()
        for i, value in enumerate(values):
            if isinstance(value, str) and value not in allowed:
                meaning = _word(value, words)
                if meaning is not None:
                    values[i] = meaning
                    self.rows.append(
                        (self.table, ids[i], column, meaning, f"mapped from {value!r}")
                    )
        self.df[column] = values

    def table_rows(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["table", "row_id", "column", "value", "rule"])


def _plain(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _numbers(df: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(df[column], errors="coerce").to_numpy(float)


def fill_schools(
    schools: pd.DataFrame,
    *,
    county: str = "county",
    township: str | None = None,
    area_type: str = "urban",
    level: str = "primary",
    standard="moe2017",
    age_shares=None,
    enrolment=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill missing school columns and cells with flagged defaults (rules in the module docs).

    ``schools`` needs ``school_id``; the pupil band columns, or a ``pupils`` total (split over the
    bands of the school's level in proportion to the age shares), or ``enrolment``: a function of
    the labelled schools table returning the band columns (e.g. from catchments). Everything else
    may be missing. Returns ``(schools, filled)``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"school_id": ["A"], "name": ["一小"], "pupils_lower_primary": [90],
    ...                   "pupils_upper_primary": [90], "pupils_junior": [0], "pupils_senior": [0]})
    >>> out, filled = fill_schools(s)
    >>> int(out.loc[0, "teachers"]), int(out.loc[0, "classes"]), out.loc[0, "level"]
    (10, 4, 'primary')
    >>> sorted(filled["column"])[:3]
    ['annual_cost', 'area_type', 'capacity']
    """
    from allocator.standards import load_standard

    std = load_standard(standard) if isinstance(standard, str) else standard
    if area_type not in AREA_TYPES:
        raise ValueError(f"area_type must be one of {', '.join(AREA_TYPES)}, got {area_type!r}")
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    df = schools.reset_index(drop=True).copy()
    f = _Filler(df, "schools", "school_id")
    _fill_labels(f, df, county, township, area_type, level)
    _fill_pupils(f, df, age_shares, enrolment)
    _fill_resources(f, df, std)
    filled = f.table_rows()
    by_id = filled.groupby("row_id")["column"].apply(lambda c: " ".join(c))
    df["filled_columns"] = df["school_id"].map(by_id).fillna("").astype(object)
    return df, filled


def _fill_labels(f: _Filler, df: pd.DataFrame, county, township, area_type, level) -> None:
    """Name, county, township, area type and level (from a word in the name, else the default)."""
    f.fill("name", df["school_id"].astype(str).to_numpy(), "the school id")
    f.fill("county", county, "the county given to the importer")
    f.fill("township", township or county, "the township given to the importer (or the county)")
    f.fill("area_type", area_type, "the area type given to the importer")
    f.normalise("area_type", AREA_TYPES, AREA_WORDS)
    f.normalise("level", LEVELS, LEVEL_WORDS)
    if f.missing("level").any():
        guesses = [guess_level(n, level) for n in df["name"]]
        mask = f.missing("level")
        levels = np.array([g[0] for g in guesses], dtype=object)
        named = np.array([g[1] for g in guesses])
        f.fill("level", np.where(named, levels, None), "from a word in the school name")
        if (mask & ~named).any():
            f.fill("level", level, "the default level given to the importer")


def _fill_pupils(f: _Filler, df: pd.DataFrame, age_shares, enrolment) -> None:
    """The band columns: from a pupils total, or from ``enrolment`` (catchments), if missing."""
    if any(c not in df.columns for c in PUPIL_COLUMNS):
        if "pupils" in df.columns and f.missing("pupils").any():
            pos = int(np.flatnonzero(f.missing("pupils"))[0])
            raise InputError(
                "empty pupils; expected a whole number (or leave the column out to estimate "
                "every school's pupils from its catchment)",
                table="schools",
                row_id=df["school_id"].iloc[pos],
                row=pos,
                column="pupils",
            )
        if "pupils" in df.columns:
            bands = split_pupils(_numbers(df, "pupils"), df["level"], age_shares)
            rule = "the pupils total split over the level's bands by age shares"
        elif enrolment is not None:
            bands = enrolment(df)
            rule = "the pupils of the settlements nearest to the school (catchment)"
        else:
            raise InputError(
                "schools have no pupil numbers; expected the band columns "
                f"({', '.join(PUPIL_COLUMNS)}) or a pupils column",
                table="schools",
                column="pupils",
            )
        for column in PUPIL_COLUMNS:
            f.fill(column, bands[column].to_numpy(), rule)


def _fill_resources(f: _Filler, df: pd.DataFrame, std) -> None:
    """Classes, capacity, teachers, the standard's indicators and the annual cost."""
    pupils = {c: _numbers(df, c) for c in PUPIL_COLUMNS}
    p_p = pupils["pupils_lower_primary"] + pupils["pupils_upper_primary"]
    p_j = pupils["pupils_junior"]
    p_s = pupils["pupils_senior"]
    cmax = std.class_size.max
    classes = (
        np.ceil(p_p / cmax.get("primary", 45))
        + np.ceil(p_j / cmax.get("junior", 50))
        + np.ceil(p_s / cmax.get("senior", 50))
    )
    f.fill("classes", classes.astype(np.int64), "ceil(pupils / largest class) per band")
    classes = _numbers(df, "classes")
    f.fill(
        "capacity",
        (np.ceil(p_p / cmax.get("primary", 45)) * cmax.get("primary", 45)
         + np.ceil((p_j + p_s) / cmax.get("junior", 50)) * cmax.get("junior", 50)).astype(np.int64),
        "classes x largest class",
    )  # fmt: skip
    t_p = std.thresholds.get("primary", {})
    t_j = std.thresholds.get("junior", t_p)

    def need(indicator: str, per: float) -> np.ndarray:
        return p_p * t_p.get(indicator, 0.0) / per + (p_j + p_s) * t_j.get(indicator, 0.0) / per

    qualified = np.ceil(need("qualified_per_100", 100.0) - 1e-9)
    ratio = std.staffing.pupils_per_teacher
    norm = np.ceil(p_p / ratio["primary"] + p_j / ratio["junior"] + p_s / ratio["senior"] - 1e-9)
    f.fill(
        "teachers",
        np.maximum(norm, qualified).astype(np.int64),
        "the staffing norm (at least the qualified teachers the standard asks for)",
    )
    teachers = _numbers(df, "teachers")
    for column, indicator in _PER_100.items():
        value = np.ceil(need(indicator, 100.0) - 1e-9)
        if column != "multimedia_rooms":
            value = np.minimum(value, teachers)
        f.fill(column, value.astype(np.int64), f"the standard's {indicator} threshold")
    for column, indicator in _PER_PUPIL.items():
        f.fill(column, need(indicator, 1.0), f"the standard's {indicator} threshold")
    total = p_p + p_j + p_s
    f.fill(
        "annual_cost",
        teachers * 110_000.0 + np.maximum(total, 100) * 800.0 + 300_000.0,
        "110,000 per teacher + 800 per pupil (at least 100) + 300,000 yuan",
    )


def fill_settlements(
    settlements: pd.DataFrame,
    *,
    county: str = "county",
    township: str | None = None,
    area_type: str = "urban",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill ``county``, ``township`` and ``area_type`` of settlements; returns (settlements, filled).

    Examples
    --------
    >>> import pandas as pd
    >>> out, filled = fill_settlements(pd.DataFrame({"settlement_id": ["V1"]}), county="K")
    >>> out.loc[0, "township"], len(filled)
    ('K', 3)
    """
    df = settlements.reset_index(drop=True).copy()
    f = _Filler(df, "settlements", "settlement_id")
    f.fill("county", county, "the county given to the importer")
    f.fill("township", township or county, "the township given to the importer (or the county)")
    f.fill("area_type", area_type, "the area type given to the importer")
    f.normalise("area_type", AREA_TYPES, AREA_WORDS)
    return df, f.table_rows()
