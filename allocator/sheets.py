"""Safe spreadsheet text and file names for everything allocator writes.

Cells of text that a spreadsheet would evaluate (starting with ``=``, ``+``, ``-``, ``@``, a tab, a
carriage return or a line feed) are written with a leading ``'`` (:func:`neutralise_frame`, the
OWASP rule against CSV / formula injection); :func:`restore_frame` undoes exactly that when data are
read back (:func:`allocator.load_region`). File names made from step and variant names go through
:func:`slug` (the original name is kept for display), :func:`inside` checks that a name stays in
its folder, and :func:`sheet_names` makes unique Excel sheet names of at most 31 characters.
:func:`write_csv` and :func:`write_xlsx` write tables with these rules; folders are written by
:mod:`allocator.outputs`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from allocator.errors import InputError

__all__ = [
    "neutralise_text",
    "restore_text",
    "neutralise_frame",
    "restore_frame",
    "slug",
    "unique_slugs",
    "sheet_names",
    "inside",
    "write_csv",
    "write_xlsx",
    "mark_workbook",
    "XLSX_KEYWORD",
    "EXACT_FLOATS",
    "decimals",
    "rounded",
    "with_names",
    "write_workbook",
    "number_format",
]

#: ``pd.read_csv`` keywords that read every float exactly as written: pandas < 3 reads
#: ``30.137800000000002`` as ``30.1378`` unless asked for round-trip parsing; pandas 3 reads
#: exactly by default and deprecates the keyword.
EXACT_FLOATS: dict[str, str] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)

#: Keyword stored in the document properties of a workbook allocator writes.
XLSX_KEYWORD = "allocator-output"
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")  # OWASP, plus LF: XLSX turns CR into LF
# Texts Excel stores as error values, not text (a school id "#N/A" would come back empty).
_EXCEL_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
)
_SHEET_BAD = "[]:*?/\\"
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{d}{i}" for d in ("com", "lpt") for i in range(10)
}


# --------------------------------------------------------------------------- spreadsheet text
def neutralise_text(value):
    """Prefix ``'`` to a text a spreadsheet would evaluate; other values are returned unchanged.

    A text starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or a line feed gets a
    leading ``'``, and so does a text Excel would store as an error value (``#N/A``, ``#REF!``
    ...); so does a text that already starts with ``'`` followed by one of those or by ``'``, so
    that :func:`restore_text` gives back exactly the original.

    Examples
    --------
    >>> neutralise_text('=HYPERLINK("http://x")'), neutralise_text("-45"), neutralise_text(-45)
    ('\\'=HYPERLINK("http://x")', "'-45", -45)
    >>> neutralise_text("O'Brien school"), neutralise_text("'=1")
    ("O'Brien school", "''=1")
    """
    if not isinstance(value, str) or not value:
        return value
    if (
        value[0] in _TRIGGERS
        or value in _EXCEL_ERRORS
        or (
            value[0] == "'"
            and len(value) > 1
            and (value[1] in (*_TRIGGERS, "'") or value[1:] in _EXCEL_ERRORS)
        )
    ):
        return "'" + value
    return value


def restore_text(value):
    """Undo :func:`neutralise_text`: drop the one ``'`` before a character it protects.

    Examples
    --------
    >>> restore_text("'=SUM(A1)"), restore_text("''=1"), restore_text("'s-Hertogenbosch")
    ('=SUM(A1)', "'=1", "'s-Hertogenbosch")
    """
    if (
        isinstance(value, str)
        and len(value) > 1
        and value[0] == "'"
        and (value[1] in (*_TRIGGERS, "'") or value[1:] in _EXCEL_ERRORS)
    ):
        return value[1:]
    return value


def _map_text(df: pd.DataFrame, fn) -> pd.DataFrame:
    out = None
    for i in range(df.shape[1]):
        s = df.iloc[:, i]
        dtype = s.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            cats = [fn(c) for c in dtype.categories]
            if cats != list(dtype.categories):
                out = df.copy() if out is None else out
                out.isetitem(i, s.cat.rename_categories(cats))
            continue
        is_object = pd.api.types.is_object_dtype(dtype)
        if not (is_object or pd.api.types.is_string_dtype(dtype)):
            continue
        mapped = s.map(fn, na_action="ignore")
        changed = (mapped != s) & s.notna()
        if changed.any():
            out = df.copy() if out is None else out
            out.isetitem(i, mapped if is_object else mapped.astype(dtype))
    names = [fn(c) for c in df.columns]
    if names != list(df.columns):
        out = df.copy() if out is None else out
        out.columns = names
    return df if out is None else out


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`neutralise_text` applied to every text cell and column name.

    Numbers are left alone (``-45`` stays a number); ``df`` itself is never changed.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["=CMD()", "Xinqiao"], "n": [-1, 2]})
    >>> neutralise_frame(df)["name"].tolist(), neutralise_frame(df)["n"].tolist()
    (["'=CMD()", 'Xinqiao'], [-1, 2])
    """
    return _map_text(df, neutralise_text)


def restore_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_frame` on a table read back from CSV or XLSX.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"name": ["=CMD()", "'x", "@a"]})
    >>> restore_frame(neutralise_frame(df)).equals(df)
    True
    """
    return _map_text(df, restore_text)


# --------------------------------------------------------------------------- tables people read
def decimals(column: str) -> int:
    """The decimals a number of column ``column`` is worth, read from its name.

    Shares, CVs, gaps, Gini and Theil indices 3 (a share of the money spent too); yuan and costs
    whole; minutes 1; ratios and per-100 or per-pupil indicators 2; anything else 3.

    Examples
    --------
    >>> [decimals(c) for c in ("spent_yuan", "cost", "share_passing", "cv_after", "rural_urban")]
    [0, 0, 3, 3, 2]
    >>> decimals("spent_rural_share"), decimals("equipment_yuan_per_pupil")
    (3, 0)
    >>> [decimals(c) for c in ("mean_minutes", "floor_m2_per_pupil", "quality", "rural")]
    [1, 2, 3, 3]
    """
    name = str(column).lower()
    words = set(name.replace(".", "_").split("_"))
    if words & {"share", "cv", "gini", "theil", "gap", "shortfall", "r2", "within"}:
        return 3
    if "yuan" in words or "cost" in words or "spent" in words or name in ("objective", "value"):
        return 0
    if "minutes" in words:
        return 1
    if words & {"ratio", "per", "size"} or "rural_urban" in name:
        return 2
    return 3


def rounded(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every float column rounded to :func:`decimals` of its name (a column
    whose rounded values are all whole numbers becomes integers; missing values stay missing);
    ``df`` itself is unchanged.

    Examples
    --------
    >>> df = pd.DataFrame({"cost": [11.969999999999999], "cv": [0.123456], "n": [3.0]})
    >>> rounded(df).astype(object).values.tolist()
    [[12, 0.123, 3]]
    >>> str(rounded(df)["n"].dtype)
    'Int64'
    """
    out = df.copy()
    for i, column in enumerate(df.columns):
        s = df.iloc[:, i]
        if not pd.api.types.is_float_dtype(s.dtype):
            continue
        r = s.round(decimals(column))
        finite = r.dropna()
        whole = np.isfinite(finite).all() and (finite == finite.round()).all()
        if len(finite) and whole and (finite.abs() < 2**53).all():
            r = r.astype("Int64")
        out.isetitem(i, r)
    return out


def _id_columns(df: pd.DataFrame) -> list[str]:
    return [str(c) for c in df.columns if str(c) == "school_id" or str(c).endswith("_school_id")]


def with_names(df: pd.DataFrame, names) -> pd.DataFrame:
    """``df`` with each school's name beside each column of school ids.

    A column ``school_id`` gets ``name`` right after it (an existing ``name`` column is moved
    there); ``<role>_school_id`` gets ``<role>_school_name``. Ids without a name stay blank.

    Parameters
    ----------
    df : pandas.DataFrame
    names : mapping
        School id -> name (e.g. ``region.schools.set_index("school_id")["name"]``).

    Examples
    --------
    >>> df = pd.DataFrame({"school_id": ["S1"], "receiving_school_id": ["S2"], "pupils": [40]})
    >>> with_names(df, {"S1": "东小", "S2": "西小"}).astype(str).iloc[0].tolist()
    ['S1', '东小', 'S2', '西小', '40']
    """
    ids = _id_columns(df)
    if not ids:
        return df
    lookup = dict(names.items()) if hasattr(names, "items") else dict(names)
    out = df.copy()
    for column in ids:
        target = "name" if column == "school_id" else column[: -len("id")] + "name"
        values = out.pop(target) if target in out.columns else out[column].map(lookup)
        out.insert(list(out.columns).index(column) + 1, target, values)
    return out


# --------------------------------------------------------------------------- names
def slug(name: str, default: str = "x", max_bytes: int = 64) -> str:
    """A safe file-name part made from ``name``: letters (any script), digits, ``-`` and ``_``.

    Every other character becomes ``_``; leading and trailing ``_`` go; the result is cut to
    ``max_bytes`` bytes of UTF-8; a Windows device name (``con``, ``nul``, ...) gains a ``_``; an
    empty result is ``default``. The original name is kept for display elsewhere.

    Examples
    --------
    >>> slug("/any/absolute/path/pwned"), slug("../../evil"), slug("rural priority"), slug("预算")
    ('any_absolute_path_pwned', 'evil', 'rural_priority', '预算')
    >>> slug(".."), slug("NUL")
    ('x', 'NUL_')
    """
    text = "".join(c if (c.isalnum() and c.isprintable()) or c in "-_" else "_" for c in str(name))
    text = text.strip("_")
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    text = text.rstrip("_")
    if text.lower() in _WINDOWS_RESERVED:
        text += "_"
    return text or default


def unique_slugs(names: Iterable[str], default: str = "x", max_bytes: int = 64) -> dict[str, str]:
    """Name -> :func:`slug`, made unique (ignoring case) by a ``-2``, ``-3``, ... suffix.

    Examples
    --------
    >>> unique_slugs(["a b", "a_b", "A-B"])
    {'a b': 'a_b', 'a_b': 'a_b-2', 'A-B': 'A-B'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = slug(name, default, max_bytes)
        candidate, k = base, 1
        while candidate.lower() in used:
            k += 1
            suffix = f"-{k}"
            stem = base
            while len((stem + suffix).encode("utf-8")) > max_bytes:
                stem = stem[:-1]
            candidate = stem + suffix
        used.add(candidate.lower())
        out[name] = candidate
    return out


def sheet_names(names: Iterable[str]) -> dict[str, str]:
    """Name -> an Excel sheet name: at most 31 characters, none of ``[]:*?/\\``, unique ignoring case.

    Examples
    --------
    >>> long = "a step name of more than thirty-one characters"
    >>> sheets = sheet_names([f"{long}.allocations", f"{long}.schools", "outcomes"])
    >>> [len(s) <= 31 for s in sheets.values()], len(set(sheets.values()))
    ([True, True, True], 3)
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        if name in out:
            continue
        base = "".join("_" if c in _SHEET_BAD or not c.isprintable() else c for c in str(name))
        base = base.strip("'") or "sheet"
        if base.lower() == "history":
            base += "_"
        candidate, k = base[:31], 1
        while candidate.lower() in used:
            k += 1
            suffix = f"~{k}"
            candidate = base[: 31 - len(suffix)] + suffix
        used.add(candidate.lower())
        out[name] = candidate
    return out


def inside(folder: str | os.PathLike, *parts: str) -> Path:
    """``folder / parts``, checked to stay inside ``folder`` (no ``..``, no absolute part).

    Raises
    ------
    InputError
        When the joined path would leave ``folder``.

    Examples
    --------
    >>> inside("out", "budget.allocations.csv").as_posix()
    'out/budget.allocations.csv'
    >>> inside("out", "../evil.csv")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: ../evil.csv: a file name that leaves the output folder out; expected a name inside it
    """
    base = Path(folder)
    path = base.joinpath(*parts)
    root = Path(os.path.abspath(base))
    full = Path(os.path.abspath(path))
    if full == root or root not in full.parents or any(p in ("", ".", "..") for p in parts):
        raise InputError(
            f"a file name that leaves the output folder {base}; expected a name inside it",
            file="/".join(parts),
        )
    return path


def mark_workbook(book, command: str) -> None:
    """Mark an openpyxl workbook as allocator's output (document properties), before it is saved."""
    book.properties.creator = "allocator"
    book.properties.keywords = f"{XLSX_KEYWORD} {command}"


def write_csv(df: pd.DataFrame, path: str | os.PathLike, *, bom: bool = False) -> None:
    """Write a table as CSV (UTF-8, with a byte-order mark if ``bom``), text cells neutralised.

    Lines end with ``\\n``, or ``\\r\\n`` when a text holds a carriage return (so that it is quoted).

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> write_csv(pd.DataFrame({"name": ["=1+1"]}), path)
    >>> open(path, encoding="utf-8").read()
    "name\\n'=1+1\\n"
    """
    df = neutralise_frame(df)
    # A text holding a carriage return is quoted only if CR is part of the line terminator
    # (Python's csv module); unquoted, a reader would split the row there.
    has_cr = any(
        df[c].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for c in df.columns[
            [pd.api.types.is_object_dtype(t) or pd.api.types.is_string_dtype(t) for t in df.dtypes]
        ]
    ) or any("\r" in str(c) for c in df.columns)
    df.to_csv(
        path,
        index=False,
        encoding="utf-8-sig" if bom else "utf-8",
        lineterminator="\r\n" if has_cr else "\n",
    )


def write_xlsx(
    tables: Mapping[str, pd.DataFrame], path: str | os.PathLike, command: str
) -> dict[str, str]:
    """Write tables as sheets of one workbook (unique sheet names, text cells neutralised).

    Returns
    -------
    dict
        Table name -> sheet name.
    """
    sheets = sheet_names(tables)
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, df in tables.items():
            neutralise_frame(df).to_excel(writer, sheet_name=sheets[name], index=False)
        mark_workbook(writer.book, command)
    return sheets


def number_format(column: str) -> str:
    """The Excel number format of a column: grouped thousands and :func:`decimals` places.

    Examples
    --------
    >>> number_format("spent_yuan"), number_format("cv_after"), number_format("mean_minutes")
    ('#,##0', '#,##0.000', '#,##0.0')
    """
    places = decimals(column)
    return "#,##0" + ("." + "0" * places if places else "")


def _width(value) -> int:
    text = "" if value is None else str(value)
    return sum(2 if ord(c) > 0x2E7F else 1 for c in text)  # CJK characters are twice as wide


def write_workbook(
    tables: Mapping[str, pd.DataFrame],
    path: str | os.PathLike,
    command: str,
    titles: Mapping[str, str] | None = None,
    row_units: Mapping[str, list] | None = None,
) -> dict[str, str]:
    """Write tables as one formatted workbook a person reads: one sheet per table in the order
    given (put the summary first), text cells neutralised, the header row bold and frozen,
    numbers in the format of their column (:func:`number_format`; whole-number columns without
    decimals), columns as wide as their contents (at most 60 characters).

    Parameters
    ----------
    tables : mapping
        Table key -> DataFrame, in sheet order.
    path : path-like
    command : str
        Stored in the document properties (:func:`mark_workbook`).
    titles : mapping, optional
        Table key -> the sheet's name before it is made safe (:func:`sheet_names`), e.g. Chinese
        names; the key itself by default.
    row_units : mapping, optional
        Table key -> one name per row whose :func:`number_format` formats that row's numbers,
        for a table whose rows mix units (yuan, shares, minutes) and whose columns do not.

    Returns
    -------
    dict
        Table key -> sheet name.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> path = os.path.join(tempfile.mkdtemp(), "t.xlsx")
    >>> df = pd.DataFrame({"school_id": ["S1"], "cost": [1234.5]})
    >>> write_workbook({"summary": df, "costs": df}, path, "run", {"summary": "概要"})
    {'summary': '概要', 'costs': 'costs'}
    >>> sheet = openpyxl.load_workbook(path)["costs"]
    >>> sheet.freeze_panes, sheet["B2"].number_format
    ('A2', '#,##0')
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    titles = dict(titles or {})
    named = sheet_names(titles.get(k, k) for k in tables)
    sheets = {k: named[titles.get(k, k)] for k in tables}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for key, df in tables.items():
            neutralise_frame(df).to_excel(writer, sheet_name=sheets[key], index=False)
            sheet = writer.sheets[sheets[key]]
            sheet.freeze_panes = "A2"
            for j, column in enumerate(df.columns, start=1):
                letter = get_column_letter(j)
                sheet[f"{letter}1"].font = Font(bold=True)
                values = df.iloc[:200, j - 1]
                width = max([_width(column), *(_width(v) for v in values)])
                sheet.column_dimensions[letter].width = min(max(width + 2, 8), 60)
                series = df.iloc[:, j - 1]
                units = (row_units or {}).get(key)
                if units is not None and pd.api.types.is_numeric_dtype(series.dtype):
                    for i, unit in enumerate(units, start=2):
                        whole = (
                            float(series.iloc[i - 2]).is_integer()
                            if series.notna().iloc[i - 2]
                            else False
                        )
                        sheet.cell(i, j).number_format = "#,##0" if whole else number_format(unit)
                    continue
                if pd.api.types.is_float_dtype(series.dtype):
                    fmt = number_format(str(column))
                elif pd.api.types.is_integer_dtype(series.dtype):
                    fmt = "#,##0"
                else:
                    continue
                for cell in sheet.iter_rows(min_row=2, min_col=j, max_col=j):
                    cell[0].number_format = fmt
        mark_workbook(writer.book, command)
    return sheets
