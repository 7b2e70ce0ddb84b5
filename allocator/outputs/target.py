"""Whether a target may be written: the rules that keep a user's files safe (listed in
:mod:`allocator.outputs`)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from allocator.errors import InputError
from allocator.outputs.marker import (
    COMMANDS,
    changes_since,
    file_has_marker,
    read_marker,
    resolved_path,
)


def _protected(extra: Iterable[tuple[str | os.PathLike, str]]) -> list[tuple[Path, str]]:
    try:
        out = [(Path.cwd(), "the current folder")]
    except OSError:  # the current folder was removed
        out = []
    home = os.path.expanduser("~")
    if home and home != "~":
        out.append((Path(home), "your home folder"))
    out += [(Path(p), label) for p, label in extra if p is not None]
    return out


def _how(force_hint: bool) -> str:
    return (
        "; add --force (force=True in Python) to replace it, or choose another output folder"
        if force_hint
        else ""
    )


def _describe(command) -> str:
    return COMMANDS.get(command, f"an unknown allocator command ({command})")


def check_target(
    target: str | os.PathLike,
    command: str,
    *,
    source: str | os.PathLike | None = None,
    force: bool = False,
    protect: Sequence[tuple[str | os.PathLike, str]] = (),
    kind: str = "folder",
) -> bool:
    """Check that ``target`` may be written; True if something is there that will be replaced.

    Parameters
    ----------
    target : str or path-like
        The folder (or, with ``kind="file"``, the workbook) to write.
    command : str
        ``"run"``, ``"compare"``, ``"check"`` or ``"region"`` (see :data:`COMMANDS`).
    source : str or path-like, optional
        The scenario or region the output is made from; an earlier output of the same command
        from another source needs ``force``.
    force : bool
        Replace an output allocator wrote even if it was for another command or source, or was
        changed since.
    protect : sequence of (path, label)
        Inputs that must survive (the region data, the scenario file): the target may be neither
        one of them nor a folder that contains one, whatever ``force`` says.
    kind : {"folder", "file"}

    Raises
    ------
    InputError
        With one line saying what is there and how to proceed.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "notes.txt"), "w").write("mine")
    >>> try:
    ...     check_target(folder, "run")
    ... except InputError as exc:
    ...     print(exc.message)
    a folder allocator did not write is there (1 entry: notes.txt); it is never replaced: choose another output folder, or move it away first
    """
    path = Path(os.path.abspath(target))
    _refuse_protected(path, protect, target)
    _refuse_unwritable_parent(path, target)
    if not os.path.lexists(path):
        return False
    if kind == "file":
        return _file_may_be_replaced(path, force, target)
    return _folder_may_be_replaced(path, command, source, force, target)


def _refuse_protected(path: Path, protect, target) -> None:
    """Refuse a protected input, a folder that contains one, and a symbolic link."""
    real = resolved_path(path)
    protected = [
        (p, lab, resolved_path(Path(os.path.abspath(p)))) for p, lab in _protected(protect)
    ]
    same = [f"is {lab}" for _, lab, rp in protected if real == rp]
    above = [f"contains {lab} ({p})" for p, lab, rp in protected if real in rp.parents]
    if same or above:
        raise InputError(
            f"this {(same or above)[0]}; allocator never writes its output over it, whatever "
            "the flags: choose another output folder",
            file=str(target),
        )
    if os.path.islink(path):
        raise InputError(
            "a symbolic link is there; allocator never replaces it: choose another output folder",
            file=str(target),
        )


def _refuse_unwritable_parent(path: Path, target) -> None:
    """Refuse a target whose nearest existing parent is a file or may not be written in."""
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(
            f"{parent} is a file, not a folder; choose another output folder", file=str(target)
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(
            f"cannot write in {parent}: permission denied; choose another output folder",
            file=str(target),
        )


def _file_may_be_replaced(path: Path, force: bool, target) -> bool:
    """An existing file: a chart allocator drew, or a workbook it wrote (with ``force``)."""
    if path.is_dir():
        raise InputError(
            "a folder is there; expected a workbook file name: choose another name",
            file=str(target),
        )
    if not file_has_marker(path):
        raise InputError(
            "a file allocator did not write is there; it is never replaced: choose another "
            "file name, or move it away first",
            file=str(target),
        )
    if path.suffix.lower() == ".png":  # a chart allocator drew: drawn again by default
        return True
    if not force:
        raise InputError(
            "a workbook allocator wrote earlier is there (it may have been edited since)"
            + _how(True),
            file=str(target),
        )
    return True


def _folder_may_be_replaced(path: Path, command: str, source, force: bool, target) -> bool:
    """An existing folder: empty, or allocator's output of this command and source, unchanged
    (any of allocator's outputs with ``force``)."""
    if not path.is_dir():
        raise InputError(
            "a file is there; allocator writes a folder and never replaces a file: choose another "
            "output folder, or move the file away first",
            file=str(target),
        )
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise InputError(
            f"cannot read the folder that is there: {exc.strerror}", file=str(target)
        ) from None
    if not entries:
        return True
    marker = read_marker(path)
    if marker is None:
        n = len(entries)
        shown = ", ".join(entries[:3]) + (", ..." if n > 3 else "")
        raise InputError(
            f"a folder allocator did not write is there ({n} {'entry' if n == 1 else 'entries'}: "
            f"{shown}); it is never replaced: choose another output folder, or move it away first",
            file=str(target),
        )
    if force:
        return True
    if marker.get("command") != command:
        raise InputError(
            f"the output of {_describe(marker.get('command'))} is there" + _how(True),
            file=str(target),
        )
    if source is not None and marker.get("source") not in (
        None,
        str(resolved_path(Path(source))),
    ):
        raise InputError(
            f"the output of {_describe(command)} for {marker.get('source')} is there" + _how(True),
            file=str(target),
        )
    changes = changes_since(path, marker)
    if changes:
        shown = ", ".join(changes[:3]) + (", ..." if len(changes) > 3 else "")
        raise InputError(
            f"the output of {_describe(command)} is there, changed since it was written ({shown})"
            + _how(True),
            file=str(target),
        )
    return True
