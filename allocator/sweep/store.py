"""The task store of a sweep: one SQLite file, one row per finished task, written as tasks finish.

Every other output of allocator is written aside and moved into place whole
(:mod:`allocator.outputs`). The store cannot be: it is what makes a long sweep safe to interrupt,
so it must hold each finished task the moment it finishes. It is kept safe instead:

* it is a file of its own beside the output folder (``<folder>.sqlite``), created new; an existing
  file is reopened only with ``resume`` and only if it is a sweep store of the same scenario
  file, and replaced only with ``force`` and only if it is a sweep store;
* rows are keyed by the task (:func:`allocator.sweep.tasks.task_key`, the primary key), and each
  row is written in its own transaction (SQLite's journal makes a transaction all or nothing, so
  a crash or a lost worker leaves every finished row and no half row);
* only the process that runs the sweep writes (the workers send their rows back), so there is
  one writer.

The finished output folder gets a consistent copy of the store (``tasks.sqlite``, made with
SQLite's backup) together with the tables and report.

Examples
--------
>>> import tempfile, pathlib
>>> f = pathlib.Path(tempfile.mkdtemp()) / "s.sqlite"
>>> with TaskStore.open(f, scenario="a.toml") as store:
...     store.record("k1", 0, {"draw": 0}, {"status": "ok", "error": None, "seconds": 1.0,
...                                         "measures": {"cost_yuan": 5.0}, "decisions": []})
...     sorted(store.finished())
['k1']
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from allocator.errors import InputError

__all__ = ["STORE_FORMAT", "TaskStore", "read_tasks", "store_path"]

#: Written in the store's ``about`` table; a file without it is not a sweep store.
STORE_FORMAT = "allocator sweep store 1"
#: Statuses of a finished task whose result ``--resume`` keeps (``lost``: its worker died).
KEPT = ("ok", "no plan", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS about (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    axes TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    seconds REAL,
    measures TEXT NOT NULL,
    decisions TEXT NOT NULL,
    finished TEXT NOT NULL
);
"""


def store_path(folder: str | os.PathLike) -> Path:
    """The store of an output folder: ``<folder>.sqlite`` beside it.

    Examples
    --------
    >>> store_path("results/sweep").as_posix()
    'results/sweep.sqlite'
    """
    folder = Path(folder)
    return folder.with_name(folder.name + ".sqlite")


def _about(path: Path) -> dict | None:
    """The ``about`` table of a sweep store, or None for any other file."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            rows = dict(conn.execute("SELECT name, value FROM about").fetchall())
    except sqlite3.Error:
        return None
    return rows if rows.get("format") == STORE_FORMAT else None


class TaskStore:
    """An open task store (use :meth:`open`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self.conn = conn
        self.path = path

    @classmethod
    def open(
        cls, path, *, scenario, resume: bool = False, force: bool = False, fingerprint: str = ""
    ) -> TaskStore:
        """Create the store, or reopen it with ``resume`` (see the module docstring).

        ``fingerprint`` identifies what the tasks' results depend on besides their axis values
        (the scenario without its ``[sweep]`` table, the measures, the draws' settings): a store
        made with another is not resumed, since its rows would not be this sweep's.
        """
        path = Path(path)
        if os.path.lexists(path):
            about = _about(path) if path.is_file() and not path.is_symlink() else None
            if about is None:
                raise InputError(
                    "exists and is not a sweep store allocator wrote; expected a new file name "
                    "(choose another --out)",
                    file=str(path),
                )
            same = about.get("scenario") == str(Path(scenario).resolve())
            if resume and not same:
                raise InputError(
                    f"holds a sweep of {about.get('scenario')}; expected one of "
                    f"{Path(scenario).resolve()} to resume (choose another --out)",
                    file=str(path),
                )
            if resume and fingerprint and about.get("fingerprint", fingerprint) != fingerprint:
                raise InputError(
                    "holds a sweep of an earlier version of the scenario (its steps, region, "
                    "measures or forecast settings changed since); expected the same scenario to "
                    "resume, or --force to start again",
                    file=str(path),
                )
            if not resume:
                if not force:
                    raise InputError(
                        "holds an earlier sweep; expected --resume to continue it or --force to "
                        "start again",
                        file=str(path),
                    )
                path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)  # explicit transactions below
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(_SCHEMA)
        with conn:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT OR IGNORE INTO about VALUES "
                "('format', ?), ('scenario', ?), ('created', ?), ('fingerprint', ?)",
                (STORE_FORMAT, str(Path(scenario).resolve()), _now(), fingerprint),
            )
        return cls(conn, path)

    def __enter__(self) -> TaskStore:
        return self

    def __exit__(self, *exc) -> None:
        self.conn.close()

    def record(self, key: str, position: int, task: Mapping, row: Mapping) -> None:
        """Write one finished task in one transaction (replacing an earlier row of the key)."""
        values = (
            key,
            int(position),
            json.dumps(dict(task), ensure_ascii=False, sort_keys=True),
            row["status"],
            row.get("error"),
            row.get("seconds"),
            json.dumps(row.get("measures", {}), ensure_ascii=False, allow_nan=True),
            json.dumps(list(row.get("decisions", [])), ensure_ascii=False),
            _now(),
        )
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values
            )

    def finished(self) -> set[str]:
        """Keys of the tasks whose result is kept on ``--resume`` (not those of lost workers)."""
        marks = ",".join("?" for _ in KEPT)
        rows = self.conn.execute(f"SELECT key FROM tasks WHERE status IN ({marks})", KEPT)
        return {r[0] for r in rows}

    def copy_to(self, target: Path) -> None:
        """A consistent copy of the store (SQLite's online backup) at ``target``."""
        with contextlib.closing(sqlite3.connect(target)) as out:
            self.conn.backup(out)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def read_tasks(path: str | os.PathLike) -> pd.DataFrame:
    """The store's rows as a table: ``key``, ``position``, one column per axis, ``status``,
    ``error``, ``seconds``, one column per measure and ``decisions`` (a list), by position.

    Raises
    ------
    InputError
        When ``path`` is not a sweep store.
    """
    path = Path(path)
    if _about(path) is None:
        raise InputError(f"{path} is not a sweep store; expected a .sqlite file of allocator sweep")
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        raw = pd.read_sql_query("SELECT * FROM tasks ORDER BY position", conn)
    axes = pd.DataFrame([json.loads(a) for a in raw["axes"]], index=raw.index)
    measures = pd.DataFrame([json.loads(m) for m in raw["measures"]], index=raw.index)
    measures = measures.drop(columns=[c for c in measures if c in axes], errors="ignore")
    out = pd.concat(
        [raw[["key", "position"]], axes, raw[["status", "error", "seconds"]], measures], axis=1
    )
    out["decisions"] = [json.loads(d) for d in raw["decisions"]]
    return out
