"""Checking scenario values: key paths, types of TOML values and errors that name file and line.

:class:`KeyLocator` turns a key path (``("steps", 1, "budget")``) into an
:class:`~allocator.errors.InputError` naming the file, the line and the path as written
(``steps[2].budget``); :func:`check_keys` and :func:`check_type` refuse unknown keys and values of
the wrong type through it.

Examples
--------
>>> show_path(("steps", 1, "budget"))
'steps[2].budget'
>>> conforms([1, 2.5], list[float]), describe_hint(list[str])
(True, 'a list of text')
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from allocator.errors import InputError

__all__ = [
    "KeyLocator",
    "check_keys",
    "check_type",
    "conforms",
    "describe_hint",
    "element_hint",
    "is_money_key",
    "kind_of",
    "show_path",
    "sub_table",
]


def show_path(path: tuple) -> str:
    """A key path as written in messages: ``steps[2].budget`` (list indices counted from 1)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def kind_of(value: Any) -> str:
    """What a TOML value is, for messages: ``a number (3)``, ``text ('x')``, ``a list``."""
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def conforms(value: Any, hint: Any) -> bool:
    """Whether a TOML value fits a type hint (numbers, text, lists, tables, literals, unions)."""
    if hint is Any or hint is object:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return value in args
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        if not isinstance(value, list):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(map(conforms, value, args))
        return not args or all(conforms(v, args[0]) for v in value)
    if origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable"):
        return isinstance(value, list) and (not args or all(conforms(v, args[0]) for v in value))
    if origin is dict or hint is dict or getattr(origin, "__name__", "") == "Mapping":
        if not isinstance(value, dict):
            return False
        return len(args) != 2 or all(conforms(v, args[1]) for v in value.values())
    return True  # other types (tables, dataclasses): the policy's own checks decide


def describe_hint(hint: Any) -> str:
    """A type hint in words, for messages: ``a number``, ``a list of text``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe_hint(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is float:
        return "a number"
    if hint is int:
        return "a whole number"
    if hint is str:
        return "text"
    if hint is bool:
        return "true or false"
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        return (
            f"a list of {describe_hint(args[0])}" if args and args[0] is not Ellipsis else "a list"
        )
    if origin is dict or hint is dict:
        return f"a table of {describe_hint(args[1])}" if len(args) == 2 else "a table"
    return getattr(hint, "__name__", str(hint))


def element_hint(hint: Any) -> Any:
    """The item type of a list hint (also inside a union with one list type), else None."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        lists = [a for a in args if typing.get_origin(a) in (list, tuple, set, frozenset)]
        return element_hint(lists[0]) if len(lists) == 1 else None
    if origin in (list, tuple, set, frozenset) and args and (len(args) == 1 or args[-1] is ...):
        return args[0]
    return None


def is_money_key(key: str) -> bool:
    """Whether a policy key holds yuan (``budget``, ``*_yuan``): such values must be >= 0."""
    return "budget" in key or key.endswith("_yuan")


class KeyLocator:
    """Turns a key path into an InputError naming the file, line and key."""

    def __init__(self, path: Path, lines: dict, prefix: tuple, label: str | None = None):
        self.path = path
        self.lines = lines
        self.prefix = prefix
        self.label = label

    def line(self, path: tuple) -> int | None:
        full = (*self.prefix, *path)
        for k in range(len(full), 0, -1):
            if full[:k] in self.lines:
                return self.lines[full[:k]]
        return None

    def error(self, path: tuple, message: str) -> InputError:
        key = show_path((*self.prefix, *path))
        if self.label:
            key = f"{self.label} {key}"
        return InputError(f"{key}: {message}", file=str(self.path), line=self.line(path))


def check_keys(table: Mapping, allowed, where: KeyLocator, path: tuple, what: str) -> None:
    """Refuse a key of ``table`` not in ``allowed``, naming a close match if there is one."""
    for key in table:
        if key not in allowed:
            close = [a for a in allowed if a.startswith(key[:3])]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise where.error(
                (*path, key),
                f"unknown key{hint}; expected one of {', '.join(allowed)} in {what}",
            )


def check_type(value, kind, where: KeyLocator, path: tuple) -> None:
    """Refuse a value that does not fit ``kind``, naming the first wrong list item if any."""
    if conforms(value, kind):
        return
    inner = element_hint(kind)
    if isinstance(value, list) and inner is not None:
        for j, item in enumerate(value):
            if not conforms(item, inner):
                raise where.error(
                    (*path, j), f"expected {describe_hint(inner)} in the list, got {kind_of(item)}"
                )
    raise where.error(path, f"expected {describe_hint(kind)}, got {kind_of(value)}")


def sub_table(raw: Mapping, key: str, where: KeyLocator, path: tuple = ()) -> dict:
    """The table ``raw[key]`` (empty when absent); refuses a value that is not a table."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise where.error((*path, key), f"expected a table ([{key}]), got {kind_of(value)}")
    return value
