"""Read-only values for frozen settings: :class:`FrozenMap` and :func:`freeze`.

Policies and standards are frozen dataclasses; a dict or list inside one would still be
changeable and would make the object unhashable. :func:`freeze` turns them into read-only,
hashable equivalents (dicts into :class:`FrozenMap`, lists and sets into tuples), recursively.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["FrozenMap", "freeze"]


class FrozenMap(Mapping):
    """A read-only, hashable mapping that compares equal to a dict with the same items.

    Examples
    --------
    >>> m = FrozenMap({"a": 1})
    >>> m["a"], m == {"a": 1}, hash(m) == hash(FrozenMap({"a": 1}))
    (1, True, True)
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping | None = None):
        object.__setattr__(self, "_items", dict(items or {}))

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self) -> Iterator:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __setattr__(self, name, value):
        raise TypeError("a FrozenMap cannot be changed")

    def __reduce__(self):
        return (type(self), (self._items,))

    def __repr__(self) -> str:
        return repr(self._items)


def freeze(value: Any) -> Any:
    """``value`` made read-only: dicts become :class:`FrozenMap`, lists, tuples and sets become
    tuples (sets sorted when they can be), recursively; anything else is returned as it is.

    Examples
    --------
    >>> freeze({"rural": [1, 2], "urban": {"x": 3}})
    {'rural': (1, 2), 'urban': {'x': 3}}
    >>> hash(freeze({"rural": [1, 2]})) == hash(freeze({"rural": (1, 2)}))
    True
    """
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, set | frozenset):
        try:
            return tuple(sorted(freeze(v) for v in value))
        except TypeError:
            return tuple(freeze(v) for v in value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value
