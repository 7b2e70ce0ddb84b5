"""The intervention catalogue of the budget planner: what money can buy, at what price, up to what cap.

A catalogue is a table with one row per intervention:

============== ==============================================================================
column          meaning
============== ==============================================================================
intervention    unique name, e.g. ``build_floor_area``
indicator       the indicator it raises: one of the seven 2017 indicators or an extra indicator
effect          how much one unit adds to the indicator's school column (e.g. 1 m², 1 teacher)
unit            label of one unit (``m2``, ``teacher``, ``room``, ``yuan``, ...)
cost_urban      yuan per unit at urban schools; ``cost_town`` and ``cost_rural`` likewise
category        spending category for category caps (default ones: ``capital``, ``staff``)
integer         whole units only (teachers, rooms); relaxed when ``BudgetPolicy.relax``
max_per_school  cap on units per school (empty: none) ...
max_per_pupil   ... plus this many units per compulsory-school pupil (empty: none);
                the cap is the sum of the two given terms; neither given: no cap
cap_rule        ``""``; ``untrained_teachers`` (at most teachers - backbone teachers: training
                converts an existing teacher); ``headroom`` (a score indicator may not pass its
                ``max_value``); ``up_to_target`` (at most the units that bring the school to the
                target of an open indicator: a 0/1 item is bought once, smart classrooms up to
                one a class)
adds_teachers   a unit also adds ``effect`` to the school's ``teachers`` (posting a teacher)
step            units are bought in multiples of this (default: 1 for whole-unit interventions,
                0.01 otherwise: 0.01 m², one fen of equipment, 0.01 Mbps, 0.01 score point);
                see :mod:`allocator.planners.budget.rounding`
============== ==============================================================================

A catalogue file may also carry the columns :data:`SOURCE_COLUMNS` (``cost_source``,
``cap_source``): where each price and cap comes from. They document the figures and are not read.

The default catalogue (:func:`default_catalogue`, the file ``allocator/data/catalogue.csv``,
:data:`CATALOGUE_FILE`) holds the interventions Chongqing-style bureaus fund: the seven 2017
resources, and the digital-campus and campus-safety upgrades that raise the standard's open
indicators (:mod:`allocator.standards.open_set`): a school connected, bandwidth in blocks of
100 Mbps (the tiers 100 / 500 / 1000 Mbps), smart classrooms, the public platforms, the alarm and
video system linked to the police, closed-campus works, guard posts, security guards and dormitory
night duty. Guard posts, guards, night duty and bandwidth are recurrent costs (category
``recurrent``, yuan a year: a plan buys one year of them). Its prices and
caps are ASSUMED planning values (construction and salary levels of a western Chinese municipality
around 2020), not published figures: calibrate them locally; the file says so figure by figure.
Teacher posts are costed at one year of salary and on-costs (the staff budget of one year); rural
posts cost more because of the rural teacher living allowance. Copy the file, change it and pass
its path as ``BudgetPolicy(catalogue=...)`` (or change single rows with
``intervention_overrides``).

An intervention raises one of the 2017 seven, an open indicator of the standard (named as in
``[open_indicators.<name>]``; its column, target and denominator come from the standard), or an
extra indicator: a school column with a target that neither the 2017 method nor the open set
scores (:data:`DEFAULT_EXTRA_INDICATORS`, read from ``allocator/data/catalogue_indicators.csv``,
holds none since the open set took over campus bandwidth and safety; a policy adds its own).
The former defaults ``network_mbps_per_pupil`` and ``safety_score`` (columns ``network_mbps`` and
``safety_score``, which no shipped region had) are gone: the open indicators ``bandwidth_mbps`` and
the safety items measure the same things per school, and a policy naming a former one without its
column and target is told so. Their specification (plain TOML values):

``column`` (school column), ``target`` (a number, or ``{"primary": ..., "junior": ...}``),
``per_pupil`` (true: the indicator is column / pupils x ``scale``, shared by the parts of a nine-year
school like buildings and equipment; false: a school-level score that both parts share whole),
``scale`` (default 1), ``max_value`` (for ``headroom`` caps; optional), ``enabled`` (default true).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.sheets import EXACT_FLOATS
from allocator.toml_input import read_toml

__all__ = [
    "CATALOGUE_COLUMNS",
    "SOURCE_COLUMNS",
    "CATALOGUE_FILE",
    "INDICATORS_FILE",
    "DEFAULT_CATALOGUE",
    "DEFAULT_EXTRA_INDICATORS",
    "CAP_RULES",
    "REMOVED_EXTRA_INDICATORS",
    "DEFAULT_STEP",
    "default_catalogue",
    "load_catalogue",
    "read_catalogue_file",
    "extra_indicator_specs",
]

CATALOGUE_COLUMNS = (
    "intervention",
    "indicator",
    "effect",
    "unit",
    "cost_urban",
    "cost_town",
    "cost_rural",
    "category",
    "integer",
    "max_per_school",
    "max_per_pupil",
    "cap_rule",
    "adds_teachers",
    "step",
)
#: Columns a catalogue file may carry to say where its figures come from (not read by the model).
SOURCE_COLUMNS = ("cost_source", "cap_source")
CAP_RULES = ("", "untrained_teachers", "headroom", "up_to_target")
#: Purchase step of an intervention in fractional units when the catalogue gives none.
DEFAULT_STEP = 0.01
_NAN = float("nan")
_DATA = Path(__file__).resolve().parents[2] / "data"
#: The default intervention catalogue, with the source of each price and cap.
CATALOGUE_FILE = _DATA / "catalogue.csv"
#: The default extra indicators (one row each, with the source of its target).
INDICATORS_FILE = _DATA / "catalogue_indicators.csv"

_SPEC_KEYS = ("column", "target", "per_pupil", "scale", "max_value", "enabled")


def default_catalogue() -> pd.DataFrame:
    """The default intervention catalogue as a table (a fresh copy).

    Examples
    --------
    >>> cat = default_catalogue()
    >>> cat.loc[cat["intervention"] == "train_backbone_teacher", "cap_rule"].item()
    'untrained_teachers'
    """
    return _validated(pd.DataFrame(list(DEFAULT_CATALOGUE)), "default catalogue")


def _fail(message, column=None, value=None):
    raise InputError(message, table="catalogue", column=column, value=value)


def _as_bool(value, column, name):
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0", ""):
        return False
    _fail(f"intervention {name!r}: {column}={value!r}; expected true or false", column, value)


def _validated(df: pd.DataFrame, source: str) -> pd.DataFrame:
    missing = [c for c in ("intervention", "indicator", "effect", "cost_urban") if c not in df]
    if missing:
        _fail(
            f"{source}: missing column(s) {', '.join(missing)}; expected columns "
            f"{', '.join(CATALOGUE_COLUMNS)}",
            missing[0],
        )
    unknown = [c for c in df.columns if c not in CATALOGUE_COLUMNS + SOURCE_COLUMNS]
    if unknown:
        _fail(
            f"{source}: unknown column(s) {', '.join(map(str, unknown))}; expected columns "
            f"{', '.join(CATALOGUE_COLUMNS)}",
            str(unknown[0]),
        )
    df = df.reset_index(drop=True).copy()
    for col in ("cost_town", "cost_rural"):
        df[col] = df[col].fillna(df["cost_urban"]) if col in df else df["cost_urban"]
    defaults = {
        "unit": "unit",
        "category": "capital",
        "integer": False,
        "max_per_school": _NAN,
        "max_per_pupil": _NAN,
        "cap_rule": "",
        "adds_teachers": False,
        "step": _NAN,
    }
    for col, default in defaults.items():
        if col not in df:
            df[col] = default
        elif not isinstance(default, float):
            df[col] = df[col].astype(object).where(df[col].notna(), default)
    names = df["intervention"]
    if names.isna().any() or (names.astype(str).str.strip() == "").any():
        _fail(f"{source}: an intervention has no name", "intervention")
    df["intervention"] = names.astype(str).astype(object)
    dup = df["intervention"].duplicated()
    if dup.any():
        name = df["intervention"][dup].iloc[0]
        _fail(f"{source}: intervention {name!r} appears twice", "intervention", name)
    for col in ("indicator", "unit", "category", "cap_rule"):
        df[col] = df[col].fillna("").astype(str).astype(object)
    for col in ("effect", "cost_urban", "cost_town", "cost_rural", "max_per_school"):
        df[col] = _numbers(df, col, source)
    df["max_per_pupil"] = _numbers(df, "max_per_pupil", source)
    df["step"] = _numbers(df, "step", source)
    for name, row in zip(df["intervention"], df.itertuples(index=False), strict=True):
        if not row.indicator:
            _fail(f"intervention {name!r} names no indicator", "indicator")
        if not row.effect > 0 or not math.isfinite(row.effect):
            _fail(
                f"intervention {name!r}: effect={row.effect!r}; expected a number > 0",
                "effect",
                row.effect,
            )
        for col in ("cost_urban", "cost_town", "cost_rural"):
            value = getattr(row, col)
            if not value > 0 or not math.isfinite(value):
                _fail(
                    f"intervention {name!r}: {col}={value!r}; expected yuan per unit > 0",
                    col,
                    value,
                )
        for col in ("max_per_school", "max_per_pupil"):
            value = getattr(row, col)
            if not math.isnan(value) and value < 0:
                _fail(
                    f"intervention {name!r}: {col}={value!r}; expected a cap >= 0 or empty",
                    col,
                    value,
                )
        if row.cap_rule not in CAP_RULES:
            _fail(
                f"intervention {name!r}: cap_rule={row.cap_rule!r}; expected one of "
                f"{', '.join(repr(r) for r in CAP_RULES)}",
                "cap_rule",
                row.cap_rule,
            )
    df["integer"] = [
        _as_bool(v, "integer", n) for v, n in zip(df["integer"], df["intervention"], strict=True)
    ]
    df["adds_teachers"] = [
        _as_bool(v, "adds_teachers", n)
        for v, n in zip(df["adds_teachers"], df["intervention"], strict=True)
    ]
    for name, whole, step in zip(df["intervention"], df["integer"], df["step"], strict=True):
        if math.isnan(step):
            continue
        if whole and step != 1:
            _fail(
                f"intervention {name!r}: step={step!r}; whole-unit interventions are bought "
                "one unit at a time (step 1 or empty)",
                "step",
                step,
            )
        if not (step > 0 and math.isfinite(step)):
            _fail(f"intervention {name!r}: step={step!r}; expected a number > 0", "step", step)
    df["step"] = np.where(df["integer"], 1.0, df["step"].fillna(DEFAULT_STEP))
    return df[list(CATALOGUE_COLUMNS)]


def _numbers(df, col, source):
    raw = df[col]
    values = pd.to_numeric(raw.replace("", np.nan), errors="coerce")
    bad = values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        _fail(
            f"{source}: intervention {df['intervention'].iloc[pos]!r}: {col}={raw.iloc[pos]!r} "
            "is not a number",
            col,
            raw.iloc[pos],
        )
    return values.astype(float)


def read_catalogue_file(path: str | Path) -> pd.DataFrame:
    """The rows of a catalogue file, not yet validated: a ``.csv`` file with the columns
    :data:`CATALOGUE_COLUMNS`, or a ``.toml`` file of ``[[interventions]]`` tables with those keys.

    Raises
    ------
    InputError
        Naming the file: not found, a folder, not a .csv or .toml file, or a file that does not
        parse as one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "cat.toml"
    >>> _ = f.write_text('[[interventions]]\\nintervention = "x"\\n'
    ...                  'indicator = "floor_m2_per_pupil"\\neffect = 1\\ncost_urban = 3000\\n')
    >>> read_catalogue_file(f)["intervention"].tolist()
    ['x']
    >>> read_catalogue_file("/etc/passwd")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: /etc/passwd, table 'catalogue': expected a catalogue .csv or .toml file
    """
    path = Path(path)
    expected = "a catalogue .csv or .toml file"
    if not path.exists():
        raise InputError(f"file not found; expected {expected}", table="catalogue", file=str(path))
    if path.is_dir():
        raise InputError(f"is a folder; expected {expected}", table="catalogue", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".toml":
        data = read_toml(path, "catalogue file")
        rows = data.get("interventions")
        unknown = [k for k in data if k != "interventions"]
        if unknown or not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise InputError(
                "expected [[interventions]] tables (one per intervention) and nothing else"
                + (f"; found {unknown[0]!r}" if unknown else ""),
                table="catalogue",
                file=str(path),
            )
        return pd.DataFrame(rows)
    if suffix != ".csv":
        raise InputError(f"expected {expected}", table="catalogue", file=str(path))
    try:
        return pd.read_csv(path, encoding="utf-8-sig", keep_default_na=True, **EXACT_FLOATS)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text ({exc.reason}); expected {expected}", table="catalogue", file=str(path)
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot read it as CSV ({detail}); expected {expected}",
            table="catalogue",
            file=str(path),
        ) from None


def _read_rows(path: Path) -> list[dict]:
    """The rows of a built-in CSV file as text (validated by their reader)."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _read_extra_indicators(path: Path) -> dict[str, dict]:
    """The extra indicator specifications of an indicators file (``source`` is documentation)."""
    out: dict[str, dict] = {}
    for row in _read_rows(path):
        spec = {
            "column": row["column"],
            "target": float(row["target"]),
            "per_pupil": row["per_pupil"].strip().lower() == "true",
            "scale": float(row["scale"]),
        }
        if row["max_value"].strip():
            spec["max_value"] = float(row["max_value"])
        out[row["indicator"]] = spec
    return out


#: The default interventions as rows (read from :data:`CATALOGUE_FILE`; see the module notes).
DEFAULT_CATALOGUE: tuple[dict, ...] = tuple(
    _validated(pd.DataFrame(_read_rows(CATALOGUE_FILE)), "default catalogue").to_dict("records")
)
#: Extra indicators outside the 2017 method and the open set that the default catalogue serves
#: (read from :data:`INDICATORS_FILE`; none today).
DEFAULT_EXTRA_INDICATORS: dict[str, dict] = _read_extra_indicators(INDICATORS_FILE)
#: The former default extra indicators and what replaced each (said when a policy names one).
REMOVED_EXTRA_INDICATORS = {
    "network_mbps_per_pupil": "the open indicator bandwidth_mbps (column bandwidth_mbps, Mbps a "
    "school) is planned from the standard; give column and target to keep a per-pupil one",
    "safety_score": "the open safety indicators (alarm_video_linked, closed_campus, guard_post, "
    "security_staff, dorm_night_duty) are planned from the standard; give column and target to "
    "keep a score",
}


def load_catalogue(
    source=None,
    overrides: Mapping[str, Mapping] | None = None,
    exclude=(),
) -> pd.DataFrame:
    """Read and validate an intervention catalogue.

    Parameters
    ----------
    source : None, str or path, list of dict, or DataFrame
        None: the default catalogue; the path of a ``.csv`` or ``.toml`` file (see
        :func:`read_catalogue_file`); rows as dicts (e.g. from TOML); a table.
    overrides : dict, optional
        ``intervention -> {column: value}`` changes to single rows; an intervention not yet in the
        catalogue is added (give at least ``indicator``, ``effect`` and ``cost_urban``).
    exclude : sequence of str
        Interventions to drop.

    Returns
    -------
    pandas.DataFrame
        The columns :data:`CATALOGUE_COLUMNS`, validated.

    Raises
    ------
    InputError
        Naming the intervention, the column and the value.

    Examples
    --------
    >>> cat = load_catalogue(overrides={"build_sports_ground": {"max_per_pupil": 2.0}},
    ...                      exclude=["staff_guard_post"])
    >>> float(cat.set_index("intervention").loc["build_sports_ground", "max_per_pupil"])
    2.0
    >>> "staff_guard_post" in set(cat["intervention"])
    False
    """
    if source is None:
        df = pd.DataFrame(list(DEFAULT_CATALOGUE))
        label = "default catalogue"
    elif isinstance(source, pd.DataFrame):
        df, label = source.copy(), "catalogue"
    elif isinstance(source, str | Path):
        df, label = read_catalogue_file(source), str(source)
    elif isinstance(source, list | tuple):
        if not all(isinstance(r, Mapping) for r in source):
            _fail("catalogue rows must be tables (dicts) of column -> value", value=source)
        df, label = pd.DataFrame([dict(r) for r in source]), "catalogue"
    else:
        _fail(
            f"catalogue={source!r}; expected None, a CSV path, a list of rows or a DataFrame",
            value=source,
        )
    try:
        df = _validated(df, label)
    except InputError as exc:  # a file's rows: name the file as well
        if isinstance(source, str | Path) and exc.file is None:
            raise exc.located(str(source), None) from None
        raise
    if overrides:
        rows = {
            name: dict(row)
            for name, row in zip(df["intervention"], df.to_dict("records"), strict=True)
        }
        for name, change in overrides.items():
            if not isinstance(change, Mapping):
                _fail(f"override for {name!r} must be a table of column -> value", value=change)
            bad = [k for k in change if k not in CATALOGUE_COLUMNS or k == "intervention"]
            if bad:
                _fail(
                    f"override for {name!r}: unknown column {bad[0]!r}; expected some of "
                    + ", ".join(CATALOGUE_COLUMNS[1:]),
                    bad[0],
                )
            rows.setdefault(name, {"intervention": name}).update(change)
        df = _validated(pd.DataFrame(list(rows.values())), label)
    exclude = [exclude] if isinstance(exclude, str) else list(exclude)
    unknown = [e for e in exclude if e not in set(df["intervention"])]
    if unknown:
        _fail(
            f"cannot exclude unknown intervention {unknown[0]!r}; the catalogue has "
            + ", ".join(df["intervention"]),
            "intervention",
            unknown[0],
        )
    return df[~df["intervention"].isin(exclude)].reset_index(drop=True)


def extra_indicator_specs(user: Mapping[str, Mapping] | None) -> dict[str, dict]:
    """Merge user extra-indicator specifications into the defaults.

    Each returned spec has every key of the specification plus ``explicit`` (True when the user named
    the indicator: then a missing column is an error instead of a reason to skip it).

    Examples
    --------
    >>> specs = extra_indicator_specs({"wifi_points": {"column": "wifi", "target": 4}})
    >>> specs["wifi_points"]["column"], specs["wifi_points"]["explicit"]
    ('wifi', True)
    """
    out: dict[str, dict] = {}
    for name, spec in DEFAULT_EXTRA_INDICATORS.items():
        out[name] = {"max_value": None, "enabled": True, **spec, "explicit": False}
    for name, spec in (user or {}).items():
        if name in REMOVED_EXTRA_INDICATORS and isinstance(spec, Mapping):
            if spec.get("enabled", True) is False:
                continue  # switching off a former default: nothing to do
        if not isinstance(spec, Mapping):
            raise InputError(
                f"extra indicator {name!r}: expected a table with keys {', '.join(_SPEC_KEYS)}",
                table="policy",
                column="extra_indicators",
                value=spec,
            )
        bad = [k for k in spec if k not in _SPEC_KEYS]
        if bad:
            raise InputError(
                f"extra indicator {name!r}: unknown key {bad[0]!r}; expected some of "
                + ", ".join(_SPEC_KEYS),
                table="policy",
                column="extra_indicators",
                value=bad[0],
            )
        base = out.get(name, {"scale": 1.0, "per_pupil": True, "max_value": None, "enabled": True})
        merged = {**base, **dict(spec), "explicit": True}
        for key in ("column", "target"):
            if merged.get(key) is None and name in REMOVED_EXTRA_INDICATORS:
                raise InputError(
                    f"extra indicator {name!r} is no longer a default: "
                    + REMOVED_EXTRA_INDICATORS[name],
                    table="policy",
                    column="extra_indicators",
                    value=name,
                )
            if merged.get(key) is None:
                raise InputError(
                    f"extra indicator {name!r} needs a {key!r}",
                    table="policy",
                    column="extra_indicators",
                    value=name,
                )
        _check_target(name, merged["target"])
        scale = merged.get("scale", 1.0)
        if not isinstance(scale, int | float) or not scale > 0:
            raise InputError(
                f"extra indicator {name!r}: scale={scale!r}; expected a number > 0",
                table="policy",
                column="extra_indicators",
                value=scale,
            )
        merged["enabled"] = bool(merged.get("enabled", True))
        merged["per_pupil"] = bool(merged.get("per_pupil", True))
        if not merged["enabled"]:
            merged["explicit"] = False
        out[name] = merged
    return out


def _check_target(name, target):
    values = target.values() if isinstance(target, Mapping) else [target]
    if isinstance(target, Mapping):
        bad = [k for k in target if k not in ("primary", "junior")]
        if bad:
            raise InputError(
                f"extra indicator {name!r}: target part {bad[0]!r}; expected primary or junior",
                table="policy",
                column="extra_indicators",
                value=bad[0],
            )
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
            raise InputError(
                f"extra indicator {name!r}: target {v!r}; expected a number > 0",
                table="policy",
                column="extra_indicators",
                value=v,
            )
