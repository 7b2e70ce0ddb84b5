"""The marker file in every folder allocator writes, and the marks on the files it writes.

A folder's marker (:data:`MARKER`) names the command that wrote it, when, from what, and a SHA-256
of every file; a workbook carries :data:`allocator.sheets.XLSX_KEYWORD` in its document properties
and a PNG chart :data:`PNG_SOFTWARE` in its text entries.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

from allocator.sheets import XLSX_KEYWORD
from allocator.version import __version__

#: Name of the marker file inside every folder allocator writes.
MARKER = ".allocator-output.json"
#: Commands that write outputs, as shown in messages.
COMMANDS = {
    "run": "allocator run (run_scenario)",
    "compare": "allocator compare (compare_scenario)",
    "sweep": "allocator sweep (run_sweep)",
    "check": "allocator check --out (ComplianceReport.to_csv)",
    "region": "allocator synth (save_region)",
    "chart": "plot_budget_frontier (a PNG chart)",
}
#: The PNG text entry ``Software`` of every chart allocator writes (see :func:`png_metadata`).
PNG_SOFTWARE = f"{XLSX_KEYWORD} (matplotlib)"


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The marker of a folder allocator wrote (a dict), or None if there is none.

    A marker that cannot be read counts as one of an unknown command (``{"command": None}``).
    """
    path = Path(folder) / MARKER
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"command": None}
    return data if isinstance(data, dict) else {"command": None}


def _hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_hashes(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Relative path -> SHA-256 of every regular file of ``folder`` (the marker left out); and the
    entries that are not regular files (links, ...)."""
    hashes, other = {}, []
    for root, dirs, files in os.walk(folder):
        for name in list(dirs):
            if os.path.islink(os.path.join(root, name)):
                other.append(os.path.relpath(os.path.join(root, name), folder))
                dirs.remove(name)
        for name in files:
            full = os.path.join(root, name)
            rel = Path(os.path.relpath(full, folder)).as_posix()
            if rel == MARKER:
                continue
            if os.path.islink(full) or not os.path.isfile(full):
                other.append(rel)
            else:
                hashes[rel] = _hash(Path(full))
    return hashes, other


def changes_since(folder: Path, marker: Mapping) -> list[str]:
    """What differs from the files the marker lists (``"x.csv changed"``, ``"notes.txt added"``)."""
    listed = marker.get("files")
    if not isinstance(listed, dict):
        return ["no list of files in the marker"]
    hashes, other = file_hashes(folder)
    out = [f"{p} added" for p in sorted(set(hashes) - set(listed))]
    out += [f"{p} added" for p in sorted(other)]
    out += [f"{p} changed" for p in sorted(set(hashes) & set(listed)) if hashes[p] != listed[p]]
    out += [f"{p} removed" for p in sorted(set(listed) - set(hashes))]
    return out


def resolved_path(path: Path) -> Path:
    """``path`` with links resolved (its absolute form when it cannot be resolved)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def png_metadata() -> dict:
    """The ``metadata`` to pass to matplotlib's ``savefig`` for a PNG allocator writes, so that
    :func:`check_target` knows the file as allocator's own.

    Examples
    --------
    >>> png_metadata()["Software"]
    'allocator-output (matplotlib)'
    """
    return {"Software": PNG_SOFTWARE}


def file_has_marker(path: Path) -> bool:
    """True for a workbook or a PNG chart that carries allocator's marker."""
    if path.suffix.lower() == ".png":
        from PIL import Image  # a dependency of matplotlib

        try:
            with Image.open(path) as image:
                return getattr(image, "text", {}).get("Software") == PNG_SOFTWARE
        except (OSError, ValueError):
            return False
    try:
        with zipfile.ZipFile(path) as z:
            core = z.read("docProps/core.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return XLSX_KEYWORD in core


def marker_text(command: str, source, files: dict, complete: bool, extra: Mapping | None) -> str:
    """The JSON text of a folder's marker (``files``: relative path -> SHA-256)."""
    data = {
        "written_by": f"allocator {__version__}",
        "command": command,
        "source": None if source is None else str(resolved_path(Path(source))),
        "time": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": bool(complete),
        **dict(extra or {}),
        "files": files,
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
