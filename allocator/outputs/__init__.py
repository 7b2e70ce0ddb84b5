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

Text cells and file names are made safe by :mod:`allocator.sheets`. Modules:
:mod:`~allocator.outputs.marker` (the marker and the marks on files),
:mod:`~allocator.outputs.target` (whether a target may be written) and
:mod:`~allocator.outputs.temporary` (writing aside and moving into place).
"""

from allocator.outputs.marker import COMMANDS, MARKER, PNG_SOFTWARE, png_metadata, read_marker
from allocator.outputs.target import check_target
from allocator.outputs.temporary import output_file, output_folder

__all__ = [
    "MARKER",
    "COMMANDS",
    "PNG_SOFTWARE",
    "output_folder",
    "output_file",
    "check_target",
    "read_marker",
    "png_metadata",
]
