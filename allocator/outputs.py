"""The one place that writes output folders and files, and the rules that keep a user's files safe.

Every folder allocator writes (``allocator run``, ``compare``, ``check --out``, ``synth``,
:func:`allocator.save_region`, ...) is written into a temporary folder beside the target and moved
into place whole by :class:`output_folder`. Inside it, the marker file :data:`MARKER` names the
command that wrote it, when, from what (the scenario or region), and a SHA-256 of every file.

An existing target is replaced only when allocator wrote it:

* a folder whose marker names the same command and source, with every file as allocator wrote it,
  is replaced (re-running a command replaces its own earlier output);
* a folder allocator wrote for another command or source, or changed since, is replaced only with
  ``force=True`` (``--force`` on the command line);
* an empty folder is replaced (nothing is lost);
* anything else (a folder without the marker, a file, a symbolic link) is never replaced;
* the current folder, the home folder, the input data, the scenario file and every folder that
  contains one of them are never replaced, whatever the flags.

A refusal, a permission problem or a failed rename raises :class:`~allocator.errors.InputError`
with one line that names the target and says how to proceed. The temporary folder is removed on
any exit, including SIGINT and SIGTERM; folders get the user's normal permissions (umask).

Text cells and file names are made safe by :mod:`allocator.sheets`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from allocator.errors import InputError
from allocator.sheets import XLSX_KEYWORD

__all__ = [
    "MARKER",
    "COMMANDS",
    "output_folder",
    "output_file",
    "check_target",
    "read_marker",
]

#: Name of the marker file inside every folder allocator writes.
MARKER = ".allocator-output.json"
#: Commands that write outputs, as shown in messages.
COMMANDS = {
    "run": "allocator run (run_scenario)",
    "compare": "allocator compare (compare_scenario)",
    "check": "allocator check --out (ComplianceReport.to_csv)",
    "region": "allocator synth (save_region)",
    "chart": "plot_budget_frontier (a PNG chart)",
}
#: The PNG text entry ``Software`` of every chart allocator writes (see :func:`png_metadata`).
PNG_SOFTWARE = f"{XLSX_KEYWORD} (matplotlib)"
_PAUSE_ENV = "ALLOCATOR_PAUSE_FOR_TEST"


# --------------------------------------------------------------------------- marker
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


def _files(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Relative path -> SHA-256 of every regular file; and entries that are not (links, ...)."""
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


def _changes(folder: Path, marker: Mapping) -> list[str]:
    """What differs from the files the marker lists (``"x.csv changed"``, ``"notes.txt added"``)."""
    listed = marker.get("files")
    if not isinstance(listed, dict):
        return ["no list of files in the marker"]
    hashes, other = _files(folder)
    out = [f"{p} added" for p in sorted(set(hashes) - set(listed))]
    out += [f"{p} added" for p in sorted(other)]
    out += [f"{p} changed" for p in sorted(set(hashes) & set(listed)) if hashes[p] != listed[p]]
    out += [f"{p} removed" for p in sorted(set(listed) - set(hashes))]
    return out


# --------------------------------------------------------------------------- target checks
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


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


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
    real = _resolved(path)
    protected = [(p, lab, _resolved(Path(os.path.abspath(p)))) for p, lab in _protected(protect)]
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
    if not os.path.lexists(path):
        return False
    if kind == "file":
        if path.is_dir():
            raise InputError(
                "a folder is there; expected a workbook file name: choose another name",
                file=str(target),
            )
        if not _file_has_marker(path):
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
    if source is not None and marker.get("source") not in (None, str(_resolved(Path(source)))):
        raise InputError(
            f"the output of {_describe(command)} for {marker.get('source')} is there" + _how(True),
            file=str(target),
        )
    changes = _changes(path, marker)
    if changes:
        shown = ", ".join(changes[:3]) + (", ..." if len(changes) > 3 else "")
        raise InputError(
            f"the output of {_describe(command)} is there, changed since it was written ({shown})"
            + _how(True),
            file=str(target),
        )
    return True


def png_metadata() -> dict:
    """The ``metadata`` to pass to matplotlib's ``savefig`` for a PNG allocator writes, so that
    :func:`check_target` knows the file as allocator's own.

    Examples
    --------
    >>> png_metadata()["Software"]
    'allocator-output (matplotlib)'
    """
    return {"Software": PNG_SOFTWARE}


def _file_has_marker(path: Path) -> bool:
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


# --------------------------------------------------------------------------- signals
class _Guard:
    """SIGINT / SIGTERM while a temporary output exists: clean up, then end as the signal asks.

    Outside the final swap, a signal raises (``KeyboardInterrupt`` for SIGINT, ``SystemExit(143)``
    for SIGTERM) so that the ``with`` block removes its temporary folder. During the swap the
    signal waits until the swap is done. A signal the process ignores stays ignored; the previous
    handlers are restored on exit.
    """

    def __init__(self):
        self.critical = False
        self.pending: int | None = None
        self.saved: dict[int, object] = {}

    def handler(self, signum, frame):
        if self.critical:
            self.pending = signum
            return
        self.fire(signum)

    @staticmethod
    def fire(signum):
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def install(self):
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) == signal.SIG_IGN:
                continue
            try:
                self.saved[sig] = signal.signal(sig, self.handler)
            except (ValueError, OSError):  # pragma: no cover - not the main interpreter
                pass

    def restore(self):
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        self.saved = {}


def _pause(point: str) -> None:
    """Wait here when the environment asks for it (lets tests send a signal at a known point).

    ``ALLOCATOR_PAUSE_FOR_TEST=<point>[:<seconds>]`` (default 60 seconds); the points are
    ``before-move`` (files written, target untouched) and ``during-move`` (the old output moved
    aside, the new one not yet in place).
    """
    wanted, _, seconds = os.environ.get(_PAUSE_ENV, "").partition(":")
    if wanted == point:
        print(f"paused at {point}", file=sys.stderr, flush=True)
        time.sleep(float(seconds or 60))


def _oserror(exc: OSError, target, doing: str) -> InputError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return InputError(f"cannot {doing}: {reason}", file=str(target))


def _make_parents(folder: Path) -> list[Path]:
    """Create the missing parents of ``folder`` (normal permissions); return those created."""
    missing = []
    p = folder
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    created = []
    for q in reversed(missing):
        try:
            os.mkdir(q)
        except FileExistsError:
            continue
        created.append(q)
    return created[::-1]


def _remove_empty(folders: list[Path]) -> None:
    for q in folders:  # deepest first
        try:
            os.rmdir(q)
        except OSError:
            return


def _marker_text(command: str, source, files: dict, complete: bool, extra: Mapping | None) -> str:
    from allocator import __version__

    data = {
        "written_by": f"allocator {__version__}",
        "command": command,
        "source": None if source is None else str(_resolved(Path(source))),
        "time": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "complete": bool(complete),
        **dict(extra or {}),
        "files": files,
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


# --------------------------------------------------------------------------- writers
class _TemporaryOutput:
    """What a folder and a file output share: the target, its check, the signal guard, and the
    clean-up of the temporary path (and of parent folders made for it) on any failure."""

    kind = "folder"

    def __init__(self, target, command, *, source=None, force=False, protect=()):
        self.shown = target
        self.target = Path(os.path.abspath(target))
        self.command = command
        self.source = source
        self.force = force
        self.protect = tuple(protect)
        self.tmp: Path | None = None
        self.created: list[Path] = []
        self.guard = _Guard()

    def _check(self) -> bool:
        return check_target(
            self.shown,
            self.command,
            source=self.source,
            force=self.force,
            protect=self.protect,
            kind=self.kind,
        )

    def _remove_tmp(self) -> None:
        raise NotImplementedError

    def _cleanup(self) -> None:
        if self.tmp is not None and os.path.lexists(self.tmp):
            self._remove_tmp()
        self.tmp = None
        _remove_empty(self.created)
        self.guard.restore()

    def _failed(self, exc) -> bool:
        """``__exit__`` after an exception in the ``with`` block: clean up, re-raise."""
        self._cleanup()
        if isinstance(exc, OSError):
            raise _oserror(exc, self.shown, "write the output") from None
        return False


class output_folder(_TemporaryOutput):
    """Context manager: write into a temporary folder beside ``target``, then move it into place.

    The target is checked with :func:`check_target` first (same parameters). Inside the ``with``
    block, write the files into the folder it yields (use :func:`allocator.sheets.inside` for
    names made from data). On success the marker :data:`MARKER` is added and the folder replaces
    ``target`` whole; on any exception, SIGINT or SIGTERM, the temporary folder (and any parent
    folder it created) is removed and ``target`` is untouched. ``OSError`` becomes a one-line
    ``InputError``.
    Write tables with :func:`allocator.sheets.write_csv` / :func:`~allocator.sheets.write_xlsx`.

    Parameters
    ----------
    target, command, source, force, protect
        As in :func:`check_target`.
    complete : bool
        Recorded in the marker (False for the finished part of a run whose later step failed).
    details : mapping, optional
        More JSON-safe facts for the marker.

    Examples
    --------
    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "out")
    >>> with output_folder(target, "check") as tmp:
    ...     _ = (tmp / "a.txt").write_text("hello")
    >>> sorted(os.listdir(target))
    ['.allocator-output.json', 'a.txt']
    >>> read_marker(target)["command"]
    'check'
    """

    def __init__(
        self,
        target: str | os.PathLike,
        command: str,
        *,
        source: str | os.PathLike | None = None,
        force: bool = False,
        protect: Sequence[tuple[str | os.PathLike, str]] = (),
        complete: bool = True,
        details: Mapping | None = None,
    ):
        super().__init__(target, command, source=source, force=force, protect=protect)
        self.complete = complete
        self.details = details

    def __enter__(self) -> Path:
        self._check()
        self.guard.install()
        try:
            try:
                self.created = _make_parents(self.target.parent)
            except OSError as exc:
                raise _oserror(exc, self.shown, "create the folder that holds it") from None
            for _ in range(100):
                tmp = self.target.with_name(
                    f".{self.target.name}.allocator-tmp-{secrets.token_hex(4)}"
                )
                try:
                    os.mkdir(tmp)  # mode 0o777 less the umask, like any folder the user makes
                except FileExistsError:
                    continue
                except OSError as exc:
                    raise _oserror(exc, self.shown, "write beside it") from None
                self.tmp = tmp
                return tmp
            raise InputError("cannot find a free temporary name beside it", file=str(self.shown))
        except BaseException:
            self._cleanup()
            raise

    def _remove_tmp(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return self._failed(exc)
        try:
            _pause("before-move")
            files, _ = _files(self.tmp)
            (self.tmp / MARKER).write_text(
                _marker_text(self.command, self.source, files, self.complete, self.details),
                encoding="utf-8",
            )
            replace = self._check()  # again: the target may have changed while we wrote
        except OSError as exc:
            self._cleanup()
            raise _oserror(exc, self.shown, "write the output") from None
        except BaseException:
            self._cleanup()
            raise
        self._swap(replace)
        return False

    def _swap(self, replace: bool) -> None:
        guard = self.guard
        guard.critical = True
        old = None
        try:
            try:
                if replace and os.path.lexists(self.target):
                    old = self.target.with_name(
                        f".{self.target.name}.allocator-old-{secrets.token_hex(4)}"
                    )
                    os.replace(self.target, old)
                _pause("during-move")
                try:
                    os.replace(self.tmp, self.target)
                except OSError:
                    if old is not None:
                        os.replace(old, self.target)
                        old = None
                    raise
                self.tmp = None
                self.created = []  # they hold the output now
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
            except OSError as exc:
                raise _oserror(exc, self.shown, "move the output into place") from None
            finally:
                guard.critical = False
                self._cleanup()
        finally:
            pending, guard.pending = guard.pending, None
        if pending is not None:
            guard.fire(pending)


class output_file(_TemporaryOutput):
    """Context manager for one output file (an ``.xlsx`` workbook, a chart, a GeoPackage): a
    temporary file beside ``target`` that replaces it whole on success and is removed on any
    failure or signal.

    An existing file is replaced only if allocator wrote it: a workbook whose document properties
    carry :data:`allocator.sheets.XLSX_KEYWORD`, and only with ``force`` (it may have been edited);
    a PNG chart saved with :func:`png_metadata`. Any other existing file is never replaced. Write
    a workbook with :func:`allocator.sheets.write_xlsx`.
    """

    kind = "file"

    def __init__(
        self,
        target: str | os.PathLike,
        command: str,
        *,
        force: bool = False,
        protect: Sequence[tuple[str | os.PathLike, str]] = (),
    ):
        super().__init__(target, command, force=force, protect=protect)

    def __enter__(self) -> Path:
        self._check()
        self.guard.install()
        try:
            self.created = _make_parents(self.target.parent)
            while True:  # a name nobody uses: _cleanup removes it
                tmp = self.target.with_name(
                    f".{self.target.stem}.allocator-tmp-{secrets.token_hex(4)}{self.target.suffix}"
                )
                if not os.path.lexists(tmp):
                    self.tmp = tmp
                    return tmp
        except OSError as exc:
            self._cleanup()
            raise _oserror(exc, self.shown, "create the folder that holds it") from None

    def _remove_tmp(self) -> None:
        os.remove(self.tmp)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            return self._failed(exc)
        try:
            _pause("before-move")
            self._check()
            self.guard.critical = True
            os.replace(self.tmp, self.target)
            self.tmp = None
        except OSError as exc:
            raise _oserror(exc, self.shown, "move the output into place") from None
        finally:
            self.guard.critical = False
            self._cleanup()
            pending, self.guard.pending = self.guard.pending, None
            if pending is not None:
                self.guard.fire(pending)
        return False
