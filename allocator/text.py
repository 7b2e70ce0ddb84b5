"""Small helpers for the text of messages: plain numbers and correct plurals.

Messages print ``-45``, not ``np.int64(-45)``, and "1 county", "2 counties".
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plain", "plural"]

_IRREGULAR = {"county": "counties", "child": "children", "person": "people"}


def plain(value: Any) -> Any:
    """The value as a plain Python object (numpy scalars become ``int``, ``float``, ``str``...).

    Use it before ``repr`` or ``f"{value!r}"`` in a message.

    Examples
    --------
    >>> plain(np.int64(-45)), plain(np.float64(2.5)), plain(np.str_("A")), plain("x")
    (-45, 2.5, 'A', 'x')
    >>> f"{plain(np.int64(-45))!r}"
    '-45'
    """
    if isinstance(value, np.generic):
        return value.item()
    return value


def plural(n: int | float, word: str, many: str | None = None) -> str:
    """``n`` followed by ``word`` in the singular or the plural, with thousands separators.

    Parameters
    ----------
    n : number
        The count.
    word : str
        The singular form.
    many : str, optional
        The plural form when it is not ``word + "s"`` (``county`` -> ``counties`` is known).

    Examples
    --------
    >>> plural(1, "county"), plural(2, "county"), plural(1, "school"), plural(12000, "school")
    ('1 county', '2 counties', '1 school', '12,000 schools')
    """
    n = plain(n)
    if many is None:
        many = _IRREGULAR.get(word) or (
            word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"
        )
    shown = f"{n:,}" if isinstance(n, int) else f"{n:,g}"
    return f"{shown} {word if n == 1 else many}"
