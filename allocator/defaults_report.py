"""Which school figures rest on defaults rather than on the planner's data.

A region imported by :mod:`allocator.gis` carries a ``filled_columns`` school column: the
columns filled with a flagged default for that school, separated by spaces (the full list, with
values and rules, is the import's ``filled.csv``). The column is an ordinary school column, so it
survives saving and loading a region folder. :func:`defaults_table` counts it per column and
:func:`defaults_line` is the line :func:`allocator.check.check` puts in its summary.
"""

from __future__ import annotations

import pandas as pd

from allocator.text import plural

__all__ = ["DEFAULTS_COLUMNS", "defaults_table", "defaults_line"]

#: Columns of :func:`defaults_table`.
DEFAULTS_COLUMNS = ["table", "column", "schools", "school_ids"]


def defaults_table(schools: pd.DataFrame) -> pd.DataFrame:
    """One row per school column filled with a default for at least one school.

    Columns: ``table`` (``"schools"``), ``column``, ``schools`` (how many schools) and
    ``school_ids`` (space-separated). Most-filled first, then in order of first appearance.
    Empty when the schools have no ``filled_columns`` column or nothing was filled.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"school_id": ["A", "B", "C"],
    ...                   "filled_columns": ["teachers floor_area_m2", "", "teachers"]})
    >>> defaults_table(s).to_dict("records")[0]
    {'table': 'schools', 'column': 'teachers', 'schools': 2, 'school_ids': 'A C'}
    """
    if "filled_columns" not in schools.columns:
        return pd.DataFrame(columns=DEFAULTS_COLUMNS)
    ids: dict[str, list[str]] = {}
    for school, cell in zip(schools["school_id"], schools["filled_columns"], strict=True):
        if not isinstance(cell, str):
            continue  # an empty cell reads back as missing
        for column in dict.fromkeys(cell.split()):
            ids.setdefault(column, []).append(str(school))
    rows = sorted(ids.items(), key=lambda item: -len(item[1]))  # stable: first appearance next
    return pd.DataFrame(
        [("schools", c, len(i), " ".join(i)) for c, i in rows], columns=DEFAULTS_COLUMNS
    )


def defaults_line(table: pd.DataFrame) -> str | None:
    """The summary line for a :func:`defaults_table` (None when nothing rests on defaults).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"school_id": ["A", "B"], "filled_columns": ["teachers", "teachers"]})
    >>> defaults_line(defaults_table(s))
    'Figures resting on defaults (not given; filled at import): schools.teachers (2 schools).'
    """
    if table is None or not len(table):
        return None
    text = ", ".join(
        f"{t}.{c} ({plural(int(n), 'school')})"
        for t, c, n in table[["table", "column", "schools"]].itertuples(index=False)
    )
    return f"Figures resting on defaults (not given; filled at import): {text}."
