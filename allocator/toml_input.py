"""Reading TOML input (scenarios, standards, catalogues) within bounds, with file and line in errors.

A TOML file is checked before it is parsed: at most :data:`MAX_TOML_BYTES` (1 MB) and at most
:data:`MAX_TOML_DEPTH` (32) levels of nesting, counting table headers (``[a.b.c]`` is 3 levels),
dotted keys (``a.b.c = 1`` is 3), arrays and inline tables. Real input is far inside both (the
built-in standards are under 10 KB and 4 levels deep); a file beyond them is refused at once with
its file and line, instead of a ``RecursionError`` or minutes of work and gigabytes of memory. The
check is one linear pass over the text.

Examples
--------
>>> parse_toml('a = 1\\n[b]\\nc.d = [1, {e = 2}]\\n', "x.toml")
{'a': 1, 'b': {'c': {'d': [1, {'e': 2}]}}}
>>> parse_toml("k = " + "[" * 40 + "]" * 40, "deep.toml")
Traceback (most recent call last):
...
allocator.errors.InputError: deep.toml, line 1: nested more than 32 levels deep; expected at most 32 levels (tables, dotted keys, arrays and inline tables)
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from allocator.errors import InputError

__all__ = [
    "MAX_TOML_BYTES",
    "MAX_TOML_DEPTH",
    "check_toml_bounds",
    "key_lines",
    "parse_toml",
    "read_toml",
]

#: Largest TOML input accepted, in bytes (UTF-8).
MAX_TOML_BYTES = 1_000_000
#: Deepest nesting accepted (table headers, dotted keys, arrays and inline tables together).
MAX_TOML_DEPTH = 32


def _skip_string(text: str, i: int) -> int:
    """Index just after the string that starts at ``text[i]`` (a quote); handles the four kinds."""
    q = text[i]
    if text.startswith(q * 3, i):
        end = text.find(q * 3, i + 3)
        if end < 0:
            return len(text)
        end += 3
        while end < len(text) and text[end] == q:  # up to two more quotes close the string
            end += 1
        return end
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and q == '"':
            j += 2
            continue
        if c == q or c == "\n":
            return j + 1
        j += 1
    return j


def _too_deep(text: str, limit: int) -> int | None:
    """The 1-based line where the nesting first exceeds ``limit``, or None. One linear pass; the
    text need not be valid TOML (the parser reports that afterwards)."""
    n = len(text)
    i, line = 0, 1
    header = 0  # levels of the current [table] header
    stack: list[tuple[str, int]] = []  # open arrays / inline tables with the depth they sit at
    key_mode, base, segments, depth = True, 0, 1, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if not stack:
                key_mode, base, segments = True, header, 1
            i += 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            j = _skip_string(text, i)
            line += text.count("\n", i, j)
            i = j
        elif key_mode:
            if c == "[" and not stack:  # a table header: [a.b] or [[a.b]]
                j = i
                while j < n and text[j] == "[":
                    j += 1
                levels = 1
                while j < n and text[j] not in "]\n":
                    if text[j] in "\"'":
                        j = _skip_string(text, j)
                        continue
                    levels += text[j] == "."
                    j += 1
                header = levels
                if header > limit:
                    return line
                base = header
                end = text.find("\n", j)
                i = n if end < 0 else end
            elif c == ".":
                segments += 1
                if base + segments > limit:
                    return line
                i += 1
            elif c == "=":
                depth = base + segments
                if depth > limit:
                    return line
                key_mode = False
                i += 1
            elif c == "}" and stack and stack[-1][0] == "{":  # an empty inline table
                depth = stack.pop()[1]
                key_mode = False
                i += 1
            else:
                i += 1
        else:
            if c in "[{":
                stack.append((c, depth))
                depth += 1
                if depth > limit:
                    return line
                if c == "{":
                    key_mode, base, segments = True, depth, 1
            elif c in "]}" and stack:
                depth = stack.pop()[1]
            elif c == "," and stack:
                kind, outer = stack[-1]
                depth = outer + 1
                if kind == "{":
                    key_mode, base, segments = True, depth, 1
            i += 1
    return None


def check_toml_bounds(text: str, file: str | os.PathLike) -> None:
    """Refuse TOML text over :data:`MAX_TOML_BYTES` or nested deeper than :data:`MAX_TOML_DEPTH`.

    Raises
    ------
    InputError
        Naming the file (and for the depth, the line).

    Examples
    --------
    >>> check_toml_bounds("a.b.c = 1", "ok.toml")
    >>> check_toml_bounds("k" + ".k" * 40 + " = 1", "keys.toml")
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: keys.toml, line 1: nested more than 32 levels deep; expected at most 32 levels (tables, dotted keys, arrays and inline tables)
    """
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_TOML_BYTES:
        raise InputError(
            f"{size:,} bytes; expected a TOML file of at most {MAX_TOML_BYTES:,} bytes",
            file=str(file),
        )
    line = _too_deep(text, MAX_TOML_DEPTH)
    if line is not None:
        raise InputError(
            f"nested more than {MAX_TOML_DEPTH} levels deep; expected at most {MAX_TOML_DEPTH} "
            "levels (tables, dotted keys, arrays and inline tables)",
            file=str(file),
            line=line,
        )


def parse_toml(text: str, file: str | os.PathLike) -> dict:
    """Parse TOML text after :func:`check_toml_bounds`; a syntax error names the file and line.

    Raises
    ------
    InputError
        Too large, too deep, or not valid TOML.
    """
    check_toml_bounds(text, file)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise InputError(
            f"not valid TOML: {message}", file=str(file), line=int(m.group(1)) if m else None
        ) from None
    except RecursionError:  # cannot happen within the bounds; kept as a clean error regardless
        raise InputError("nested too deeply to read", file=str(file)) from None


def read_text(path: str | os.PathLike, what: str = "TOML file") -> str:
    """Read a UTF-8 TOML file (a byte-order mark is allowed), refusing one over the size bound
    before reading it. ``what`` names the file in errors ("scenario file")."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{what} not found; expected a .toml file", file=str(path)) from None
    except OSError as exc:
        raise InputError(
            f"cannot read it ({exc.strerror}); expected a {what}", file=str(path)
        ) from None
    if path.is_dir():
        raise InputError(f"is a folder; expected a {what} (.toml)", file=str(path))
    if size > MAX_TOML_BYTES:
        raise InputError(
            f"{size:,} bytes; expected a {what} of at most {MAX_TOML_BYTES:,} bytes",
            file=str(path),
        )
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text ({exc.reason}); expected a {what}", file=str(path)
        ) from None
    except OSError as exc:
        raise InputError(
            f"cannot read it ({exc.strerror}); expected a {what}", file=str(path)
        ) from None


def read_toml(path: str | os.PathLike, what: str = "TOML file") -> dict:
    """Read and parse a TOML file within the bounds (see :func:`parse_toml`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = f.write_text("[a]\\nb = 1\\n")
    >>> read_toml(f)
    {'a': {'b': 1}}
    """
    return parse_toml(read_text(path, what), path)


# --------------------------------------------------------------------------- key -> line
class _KeyPositions:
    """Recursive-descent walk over valid TOML text recording the line of every key."""

    def __init__(self, text: str):
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self.arrays: dict[tuple, int] = {}

    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_space(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.advance()
            else:
                return

    def string(self) -> str:
        q = self.peek()
        if self.s.startswith(q * 3, self.i):
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            while self.s.startswith(q, end + 3):  # up to two quotes may close the string
                end += 1
            text = self.s[self.i : end]
            self.advance(end + 3 - self.i)
            return text
        self.advance()
        out = []
        while self.i < len(self.s) and self.peek() != q:
            if q == '"' and self.peek() == "\\":
                out.append(self.s[self.i : self.i + 2])
                self.advance(2)
                continue
            out.append(self.peek())
            self.advance()
        self.advance()
        return "".join(out)

    def key(self) -> tuple[str, ...]:
        parts = []
        while True:
            self.skip_space(False)
            if self.peek() in "\"'":
                parts.append(self.string())
            else:
                m = re.compile(r"[A-Za-z0-9_\-]+").match(self.s, self.i)
                parts.append(m.group(0) if m else "")
                self.advance(len(parts[-1]) or 1)
            self.skip_space(False)
            if self.peek() != ".":
                return tuple(parts)
            self.advance()

    def resolve(self, keys: tuple[str, ...]) -> tuple:
        path: tuple = ()
        for k in keys:
            path = (*path, k)
            if path in self.arrays:
                path = (*path, self.arrays[path])
        return path

    def value(self, path: tuple) -> None:
        self.skip_space(False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip_space(True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.lines.setdefault((*path, index), self.line)
                self.value((*path, index))
                self.skip_space(True)
                if self.peek() == ",":
                    self.advance()
                    index += 1
        elif c == "{":
            self.advance()
            while True:
                self.skip_space(False)
                if self.peek() == "}":
                    self.advance()
                    return
                if self.peek() == ",":
                    self.advance()
                    continue
                self.keyvalue(path)
        else:
            while self.i < len(self.s) and self.peek() not in ",]}\n#":
                self.advance()

    def keyvalue(self, prefix: tuple) -> None:
        line = self.line
        keys = self.key()
        for k in range(1, len(keys) + 1):
            self.lines.setdefault((*prefix, *keys[:k]), line)
        self.skip_space(False)
        self.advance()  # "="
        self.value((*prefix, *keys))

    def run(self) -> dict[tuple, int]:
        prefix: tuple = ()
        while True:
            self.skip_space(True)
            if self.i >= len(self.s):
                return self.lines
            line = self.line
            if self.s.startswith("[[", self.i):
                self.advance(2)
                keys = self.key()
                self.advance(2)
                base = self.resolve(keys[:-1]) + (keys[-1],)
                index = self.arrays.get(base, -1) + 1
                self.arrays[base] = index
                prefix = (*base, index)
                self.lines.setdefault(base, line)
                self.lines[prefix] = line
            elif self.peek() == "[":
                self.advance()
                prefix = self.resolve(self.key())
                self.advance()
                self.lines.setdefault(prefix, line)
            else:
                self.keyvalue(prefix)


def key_lines(text: str) -> dict[tuple, int]:
    """Map each key path of a (valid) TOML text to the 1-based line where it is written.

    Array elements (``[[steps]]`` blocks, list items) are indexed from 0 in the paths.

    Examples
    --------
    >>> lines = key_lines('a = 1\\n[[steps]]\\nplanner = "x"\\n[[steps]]\\nb = { c = 2 }\\n')
    >>> lines[("steps", 1, "b", "c")], lines[("steps", 0, "planner")]
    (5, 3)
    """
    try:
        return _KeyPositions(text).run()
    except Exception:  # positions are a courtesy; never let them hide the real error
        return {}
