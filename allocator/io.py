"""Reading and writing regions: a folder of CSV files or one Excel workbook.

Format (folder): ``schools.csv``, ``settlements.csv``, ``roads.csv`` (columns ``u, v, minutes``) and
``nodes.csv`` (``node, x, y``); UTF-8 with or without a byte-order mark (Excel writes one). A workbook
(``.xlsx``) has one sheet per table with the same names. ``load_region(save_region(r))`` equals ``r``
(for a workbook: numbers with at most 15 significant digits, which is what Excel stores).

An optional ``kindergartens.csv`` (sheet ``kindergartens``) holds kindergartens and candidate sites
(:class:`~allocator.region.Region`'s ``kindergartens`` table); a region without one has none. So
does an optional ``senior_schools.csv`` (senior schools: :mod:`allocator.senior_schools`).

Errors name the file and the line (line 1 is the header) as well as the table, row, column and value.
Outputs are written beside the target and moved into place whole (:mod:`allocator.outputs`).
"""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.outputs import output_file, output_folder
from allocator.plausibility import WARNING_COLUMNS
from allocator.region import Region
from allocator.sheets import EXACT_FLOATS, inside, restore_frame, write_csv, write_xlsx
from allocator.text import plain

__all__ = ["load_region", "save_region", "write_region_csv"]

TABLES = ("schools", "settlements", "roads", "nodes")
_TEXT_COLUMNS = {
    "schools": ["school_id", "name", "county", "township", "area_type", "level", "node"],
    "settlements": ["settlement_id", "county", "township", "area_type", "node"],
    "roads": ["u", "v"],
    "nodes": ["node"],
    "kindergartens": ["kindergarten_id", "name", "node", "ownership", "status"],
    "senior_schools": ["senior_id", "name", "county", "node", "kind"],
}
#: Tables a region folder or workbook may leave out.
OPTIONAL_TABLES = ("kindergartens", "senior_schools")
_REQUIRED = {"roads": ("u", "v", "minutes"), "nodes": ("node", "x", "y")}


def _read_csv(path: Path, table: str) -> pd.DataFrame:
    if not path.exists():
        raise InputError(
            f"file not found; expected the {table} table as {path.name}",
            table=table,
            file=str(path),
        )
    try:
        df = pd.read_csv(
            path,
            encoding="utf-8-sig",
            dtype={c: str for c in _TEXT_COLUMNS[table]},
            keep_default_na=False,  # ids are text as written: NA, None, null stay; only "" is empty
            na_values=[""],
            **EXACT_FLOATS,
        )
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV",
            table=table,
            file=str(path),
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot parse as CSV: {exc}", table=table, file=str(path)) from None
    return df


def _read_tables(path: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    if path.is_dir():
        files = {t: path / f"{t}.csv" for t in TABLES}
        files |= {t: path / f"{t}.csv" for t in OPTIONAL_TABLES if (path / f"{t}.csv").exists()}
        return {t: _read_csv(f, t) for t, f in files.items()}, {t: str(f) for t, f in files.items()}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        if not path.exists():
            raise InputError("file not found; expected an Excel workbook", file=str(path))
        try:
            sheets = pd.read_excel(
                path,
                sheet_name=None,
                dtype={c: str for cols in _TEXT_COLUMNS.values() for c in cols},
                keep_default_na=False,  # as for CSV: only an empty cell is missing
                na_values=[""],
            )
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise InputError(f"cannot read the workbook: {exc}", file=str(path)) from None
        missing = [t for t in TABLES if t not in sheets]
        if missing:
            raise InputError(
                f"missing sheet(s) {', '.join(missing)}; expected sheets {', '.join(TABLES)}",
                file=str(path),
            )
        found = [*TABLES, *(t for t in OPTIONAL_TABLES if t in sheets)]
        return {t: sheets[t] for t in found}, {t: f"{path} [sheet {t}]" for t in found}
    raise InputError("expected a folder of CSV files or an .xlsx workbook", file=str(path))


#: Default of ``load_region(duplicate_road_factor=...)``.
DUPLICATE_ROAD_FACTOR = 3.0


def _duplicate_roads(
    roads: pd.DataFrame, file: str, factor: float
) -> tuple[np.ndarray, list[dict]]:
    """Rows to keep where a road is listed more than once (either way round), and the warnings.

    The fastest listing is kept. Listings whose times differ by more than ``factor`` cannot both be
    right: an error naming the slower one.
    """
    n = len(roads)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep, []
    u = roads["u"].astype(str).to_numpy()
    v = roads["v"].astype(str).to_numpy()
    forward = u <= v
    a, b = np.where(forward, u, v), np.where(forward, v, u)
    minutes = pd.to_numeric(roads["minutes"], errors="coerce").to_numpy(float)
    valid = np.isfinite(minutes) & (minutes > 0)
    frame = pd.DataFrame({"a": a, "b": b, "m": np.where(valid, minutes, -np.inf)})
    dup = frame.duplicated(["a", "b"], keep=False).to_numpy()
    if not dup.any():
        return keep, []
    warnings = []
    for _, group in frame[dup].groupby(["a", "b"], sort=False):
        # a listing without a valid time goes first, so that the region names its line
        order = group.sort_values("m", kind="stable").index.to_numpy()
        keep[order[1:]] = False
        if not valid[order].all():
            continue
        fast, slow = order[0], order[-1]
        lines = ", ".join(str(i + 2) for i in sorted(order))
        reversed_ = " (both ways round)" if len(set(forward[order])) > 1 else ""
        if minutes[slow] > factor * minutes[fast]:
            raise InputError(
                f"road {u[slow]}-{v[slow]} is listed {len(order)} times{reversed_} (lines {lines}) "
                f"with {minutes[slow]:g} and {minutes[fast]:g} minutes, "
                f"{minutes[slow] / minutes[fast]:.1f} times as long: more than "
                f"duplicate_road_factor={factor:g}; expected one travel time per road (or a larger "
                "duplicate_road_factor)",
                table="roads",
                row=int(slow),
                row_id=f"{u[slow]}-{v[slow]}",
                column="minutes",
                value=plain(roads["minutes"].iloc[slow]),
                file=file,
                line=int(slow) + 2,
            )
        for drop in order[1:]:
            warnings.append(
                {
                    "table": "roads",
                    "row_id": f"{u[drop]}-{v[drop]}",
                    "column": "minutes",
                    "value": float(minutes[drop]),
                    "warning": f"road listed {len(order)} times{reversed_} (lines {lines}); kept "
                    f"the fastest, {minutes[fast]:g} minutes on line {fast + 2}",
                    "file": file,
                    "line": int(drop) + 2,
                }
            )
    return keep, sorted(warnings, key=lambda w: w["line"])


def _graph(
    nodes: pd.DataFrame,
    roads: pd.DataFrame,
    files: dict[str, str],
    duplicate_road_factor: float = DUPLICATE_ROAD_FACTOR,
    warnings: list | None = None,
) -> nx.Graph:
    for table, df in (("nodes", nodes), ("roads", roads)):
        missing = [c for c in _REQUIRED[table] if c not in df.columns]
        if missing:
            raise InputError(
                f"missing required column(s) {', '.join(missing)}",
                table=table,
                column=missing[0],
                file=files[table],
                line=1,
            )
    names = nodes["node"].to_numpy()
    empty = pd.isna(nodes["node"]).to_numpy()
    if empty.any():
        pos = int(np.flatnonzero(empty)[0])
        raise InputError(
            "empty node id",
            table="nodes",
            column="node",
            row=pos,
            file=files["nodes"],
            line=pos + 2,
        )
    dup = nodes["node"].duplicated().to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        raise InputError(
            f"duplicate node {names[pos]!r}",
            table="nodes",
            column="node",
            row=pos,
            row_id=names[pos],
            value=names[pos],
            file=files["nodes"],
            line=pos + 2,
        )
    known = set(names)
    for column in ("u", "v"):
        unknown = ~roads[column].isin(known).to_numpy()
        if unknown.any():
            pos = int(np.flatnonzero(unknown)[0])
            u, v = roads["u"].iloc[pos], roads["v"].iloc[pos]
            end = roads[column].iloc[pos]
            raise InputError(
                f"edge end {end!r} is not in nodes.csv; expected a listed node",
                table="roads",
                row=pos,
                row_id=f"{u}-{v}",
                column=column,
                value=end,
                file=files["roads"],
                line=pos + 2,
            )
    keep, found = _duplicate_roads(roads, files["roads"], duplicate_road_factor)
    if warnings is not None:
        warnings.extend(found)
    lines = np.arange(2, len(roads) + 2)[keep]
    roads = roads[keep]
    graph = nx.Graph()
    graph.add_nodes_from(
        (n, {"x": x, "y": y})
        for n, x, y in zip(names, nodes["x"].to_numpy(), nodes["y"].to_numpy(), strict=True)
    )
    graph.add_edges_from(
        (u, v, {"minutes": m, "_line": line})
        for u, v, m, line in zip(
            roads["u"].to_numpy(),
            roads["v"].to_numpy(),
            roads["minutes"].to_numpy(),
            lines.tolist(),
            strict=True,
        )
    )
    return graph


def load_region(
    path: str | os.PathLike,
    name: str | None = None,
    duplicate_road_factor: float = DUPLICATE_ROAD_FACTOR,
) -> Region:
    """Load a region from a folder of CSV files or an Excel workbook.

    Ids and other text columns are read as written (``NA``, ``None``, ``null``, ``0012`` stay text);
    only an empty cell is missing. A road listed more than once (either way round) keeps its
    fastest time and is reported in ``region.load_warnings`` (and so by
    :func:`allocator.check.check`); listings whose times differ by more than
    ``duplicate_road_factor`` are an error.

    Parameters
    ----------
    path : str or path-like
        A folder with ``schools.csv``, ``settlements.csv``, ``roads.csv``, ``nodes.csv``, or an
        ``.xlsx`` workbook with sheets of those names.
    name : str, optional
        Region name (default: the folder or file name).
    duplicate_road_factor : float
        The largest ratio of the slowest to the fastest time of a road listed more than once
        that is taken as a duplicate (default 3); above it the listings contradict each other.

    Returns
    -------
    Region

    Raises
    ------
    InputError
        Naming the file and line, the table, row id, column, value and what was expected.

    Examples
    --------
    >>> import tempfile
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=1)
    >>> folder = tempfile.mkdtemp()
    >>> save_region(region, folder)
    >>> load_region(folder) == region
    True
    """
    factor = plain(duplicate_road_factor)
    if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 1:
        raise InputError(f"duplicate_road_factor={factor!r}; expected a number >= 1", value=factor)
    path = Path(path)
    tables, files = _read_tables(path)
    tables = {t: restore_frame(df) for t, df in tables.items()}  # undo a leading ' (sheets.py)
    try:
        found: list[dict] = []
        graph = _graph(tables["nodes"], tables["roads"], files, float(factor), found)
        graph = _clean_graph(graph)
        region = Region(
            tables["schools"],
            tables["settlements"],
            graph,
            name=name or path.stem,
            sources=files,
            load_warnings=pd.DataFrame(found, columns=list(WARNING_COLUMNS)),
            kindergartens=tables.get("kindergartens"),
            senior_schools=tables.get("senior_schools"),
        )
        region.roads.graph.pop("_lines", None)
        return region
    except InputError as exc:
        if exc.file is not None:
            raise
        table = exc.table or "schools"
        line = None
        if exc.row is not None and table in (*TABLES, *OPTIONAL_TABLES):
            line = exc.row + 2
            if table == "roads" and isinstance(exc.row_id, str):
                line = _edge_line(graph, exc.row_id) or line
        if table == "nodes" and exc.row_id is not None:
            matches = np.flatnonzero(
                tables["nodes"]["node"].astype(str).to_numpy() == str(exc.row_id)
            )
            line = int(matches[0]) + 2 if len(matches) else None
        raise exc.located(files.get(table, str(path)), line) from None


def _clean_graph(graph: nx.Graph) -> nx.Graph:
    lines = {}
    for u, v, data in graph.edges(data=True):
        lines[(str(u), str(v))] = lines[(str(v), str(u))] = data.pop("_line")
    graph.graph["_lines"] = lines
    return graph


def _edge_line(graph, row_id: str):
    lines = graph.graph.get("_lines", {})
    u, _, v = row_id.partition("-")
    return lines.get((u, v))


def _tables_of(region: Region) -> dict[str, pd.DataFrame]:
    nodes = pd.DataFrame(
        [(n, d["x"], d["y"]) for n, d in region.roads.nodes(data=True)], columns=["node", "x", "y"]
    )
    roads = pd.DataFrame(
        [(u, v, d["minutes"]) for u, v, d in region.roads.edges(data=True)],
        columns=["u", "v", "minutes"],
    )
    tables = {
        "schools": region.schools,
        "settlements": region.settlements,
        "roads": roads,
        "nodes": nodes,
    }
    if region.kindergartens is not None:
        tables["kindergartens"] = region.kindergartens
    if region.senior_schools is not None:
        tables["senior_schools"] = region.senior_schools
    return tables


def write_region_csv(region: Region, folder: str | os.PathLike) -> None:
    """Write the CSV files of a region (four, and those of its optional tables) into an existing folder (no marker, not atomic).

    Used inside a folder that is itself written whole (:func:`save_region`, a run's
    ``region_after``). Text cells a spreadsheet would evaluate are written with a leading ``'``
    (:func:`allocator.sheets.neutralise_text`); :func:`load_region` reads them back exactly.
    """
    for table, df in _tables_of(region).items():
        write_csv(df, inside(folder, f"{table}.csv"))


def save_region(region: Region, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write a region as a folder of CSV files, or as an ``.xlsx`` workbook if the path ends so.

    The output is written beside ``path`` and moved into place whole, with the marker file
    :data:`allocator.outputs.MARKER` in the folder. An existing target is replaced only if
    allocator wrote it (:func:`allocator.outputs.check_target`): a region folder it wrote and
    nobody changed since is replaced; one changed since (or a workbook) only with ``force=True``;
    anything else never. Text cells that a spreadsheet would evaluate (``=``, ``+``, ``-``, ``@``
    ...) are written with a leading ``'`` and read back exactly by :func:`load_region`.

    Raises
    ------
    InputError
        When the target may not be replaced, or on a permission or rename failure.

    Examples
    --------
    >>> import tempfile, os
    >>> from allocator.synth import make_region
    >>> folder = os.path.join(tempfile.mkdtemp(), "region")
    >>> save_region(make_region(schools=60, seed=1), folder)
    >>> sorted(os.listdir(folder))
    ['.allocator-output.json', 'nodes.csv', 'roads.csv', 'schools.csv', 'settlements.csv']
    """
    if Path(path).suffix.lower() == ".xlsx":
        with output_file(path, "region", force=force) as tmp:
            write_xlsx(_tables_of(region), tmp, "region")
        return
    with output_folder(path, "region", force=force) as tmp:
        write_region_csv(region, tmp)
