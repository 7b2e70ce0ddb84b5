"""The optional ``senior_schools`` table of a region: existing general (普通高中) and vocational
(中等职业学校) senior secondary schools, checked once.

Columns (:data:`SENIOR_SCHOOL_COLUMNS`): ``senior_id, name, county, node`` (text), ``kind``
(``general`` or ``vocational``), ``places`` and ``boarding_places`` (whole numbers >= 0, boarding
places at most the places). Optional: ``boarding_capacity``, the most boarding places the
campus can hold (its land and buildings; a whole number at least ``boarding_places``, empty for
no limit), which the senior planner keeps its boarders within. Extra columns are kept. A region
without the table has none (None).

Examples
--------
>>> import pandas as pd
>>> import networkx as nx
>>> roads = nx.Graph([("a", "b")])
>>> t = pd.DataFrame({"senior_id": ["H1"], "name": ["一中"], "county": ["A县"], "node": ["a"],
...                   "kind": ["general"], "places": [2400], "boarding_places": [1800]})
>>> checked_senior_schools(t, roads)["places"].tolist()
[2400]
>>> checked_senior_schools(t.assign(kind="trade"), roads)
Traceback (most recent call last):
...
allocator.errors.InputError: table 'senior_schools', row 'H1', column 'kind': value 'trade': expected one of general, vocational
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.text import plain

__all__ = [
    "SENIOR_SCHOOL_COLUMNS",
    "SENIOR_KINDS",
    "BOARDING_CAPACITY",
    "checked_senior_schools",
    "same_table",
]

SENIOR_SCHOOL_COLUMNS = (
    "senior_id",
    "name",
    "county",
    "node",
    "kind",
    "places",
    "boarding_places",
)
#: The optional column: the most boarding places a school can hold (empty: no limit).
BOARDING_CAPACITY = "boarding_capacity"
#: General senior high (普通高中) and secondary vocational (中等职业学校) schools.
SENIOR_KINDS = ("general", "vocational")
_TABLE, _KEY = "senior_schools", "senior_id"


def _fail(df: pd.DataFrame, pos: int, column: str, value, expected: str):
    shown = plain(value)
    raise InputError(
        expected if value is None else f"value {shown!r}: {expected}",
        table=_TABLE,
        row=pos,
        row_id=plain(df[_KEY].iloc[pos]) if _KEY in df.columns else None,
        column=column,
        value=plain(value),
    )


def checked_senior_schools(table: pd.DataFrame | None, roads) -> pd.DataFrame | None:
    """The table checked and cleaned (a new DataFrame), or None for None.

    Raises
    ------
    InputError
        Naming the table, row, id, column and value: a missing column, an empty or repeated id,
        an unknown kind, places that are not whole numbers >= 0, boarding places above the
        places, a node not in the road graph.
    """
    if table is None:
        return None
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(table).__name__}", table=_TABLE)
    missing = [c for c in SENIOR_SCHOOL_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"missing required column(s) {', '.join(missing)}; expected columns: "
            + ", ".join(SENIOR_SCHOOL_COLUMNS),
            table=_TABLE,
            column=missing[0],
        )
    df = table.reset_index(drop=True).copy()
    for col in SENIOR_SCHOOL_COLUMNS[:5]:
        empty = df[col].isna().to_numpy()
        if empty.any():
            _fail(df, int(np.flatnonzero(empty)[0]), col, None, "empty value; expected text")
        df[col] = df[col].astype(str).astype(object)
    repeated = df[_KEY].duplicated().to_numpy()
    if repeated.any():
        pos = int(np.flatnonzero(repeated)[0])
        _fail(df, pos, _KEY, df[_KEY].iloc[pos], "repeated id; expected each id once")
    unknown = ~df["kind"].isin(SENIOR_KINDS).to_numpy()
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        _fail(df, pos, "kind", df["kind"].iloc[pos], f"expected one of {', '.join(SENIOR_KINDS)}")
    for col in ("places", "boarding_places"):
        numbers = pd.to_numeric(df[col], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            _fail(df, pos, col, df[col].iloc[pos], "expected a whole number >= 0")
        df[col] = numbers.astype(np.int64)
    over = (df["boarding_places"] > df["places"]).to_numpy()
    if over.any():
        pos = int(np.flatnonzero(over)[0])
        _fail(
            df,
            pos,
            "boarding_places",
            df["boarding_places"].iloc[pos],
            f"expected at most the school's {df['places'].iloc[pos]} places",
        )
    if BOARDING_CAPACITY in df.columns:
        _check_boarding_capacity(df)
    absent = ~df["node"].map(roads.has_node).to_numpy(dtype=bool)
    if absent.any():
        pos = int(np.flatnonzero(absent)[0])
        _fail(df, pos, "node", df["node"].iloc[pos], "expected a node of the roads table")
    return df


def _check_boarding_capacity(df: pd.DataFrame) -> None:
    """``boarding_capacity`` as floats in place (NaN: no limit), each whole and at least the
    school's boarding places."""
    raw = df[BOARDING_CAPACITY]
    given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    numbers = pd.to_numeric(raw.where(given), errors="coerce").to_numpy(float)
    bad = given & (~np.isfinite(numbers) | (numbers < 0) | (numbers != np.round(numbers)))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        _fail(df, pos, BOARDING_CAPACITY, raw.iloc[pos], "expected a whole number >= 0 or empty")
    low = given & (numbers < df["boarding_places"].to_numpy(float))
    if low.any():
        pos = int(np.flatnonzero(low)[0])
        _fail(df, pos, BOARDING_CAPACITY, raw.iloc[pos],
              f"expected at least the school's {df['boarding_places'].iloc[pos]} boarding places")  # fmt: skip
    df[BOARDING_CAPACITY] = numbers


def same_table(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    """Both None, or equal tables.

    Examples
    --------
    >>> same_table(None, None), same_table(None, pd.DataFrame())
    (True, False)
    """
    return (a is None) == (b is None) and (a is None or a.equals(b))
