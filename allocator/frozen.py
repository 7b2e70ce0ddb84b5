"""Read-only values for frozen settings: :class:`FrozenMap` and :func:`freeze`.

Policies and standards are frozen dataclasses; a dict or list inside one would still be
changeable and would make the object unhashable (the standards' settings are FrozenMaps too). :func:`freeze` turns them into read-only,
hashable equivalents (dicts into :class:`FrozenMap`, lists and sets into tuples), recursively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FrozenMap", "freeze"]


class FrozenMap(dict):
    """A dict that refuses changes, hashes, and still pickles (and serialises as a dict).

    Examples
    --------
    >>> m = FrozenMap({"a": 1})
    >>> m["a"], m == {"a": 1}, hash(m) == hash(FrozenMap({"a": 1}))
    (1, True, True)
    >>> try:
    ...     m["a"] = 2
    ... except TypeError as exc:
    ...     print(exc)
    read-only settings: build new ones instead (for a standard: load_standard(..., overrides=...))
    """

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            "read-only settings: build new ones instead "
            "(for a standard: load_standard(..., overrides=...))"
        )

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __hash__(self) -> int:
        return hash(frozenset(self.items()))

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __repr__(self) -> str:
        return repr(dict(self))


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
