"""Output folders and files written aside and moved into place whole, removed on any failure,
SIGINT or SIGTERM (the rules are in :mod:`allocator.outputs`)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from allocator.errors import InputError
from allocator.outputs.marker import MARKER, file_hashes, marker_text
from allocator.outputs.target import check_target

_PAUSE_ENV = "ALLOCATOR_PAUSE_FOR_TEST"


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
    >>> from allocator.outputs import read_marker
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
            files, _ = file_hashes(self.tmp)
            (self.tmp / MARKER).write_text(
                marker_text(self.command, self.source, files, self.complete, self.details),
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
