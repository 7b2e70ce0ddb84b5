"""Fingerprints of regions, so that a plan is applied only to the region it was made for.

A plan remembers the fingerprint of the region it was planned on; ``plan.apply(other)`` refuses
any region whose fingerprint differs. Applying a plan to its own result (twice) is refused too,
because the result is a different region: a budget plan applied twice would spend twice.

The fingerprint is a SHA-256 digest of the content, not the identity, of a region: its schools and
settlements tables (column names, values and order) and its road edges with their minutes. The
region's display name is not part of it, so a region loaded twice from the same folder has one
fingerprint.

Examples
--------
>>> from allocator.synth import make_region
>>> a = make_region(schools=30, seed=1)
>>> b = make_region(schools=30, seed=1)
>>> region_fingerprint(a) == region_fingerprint(b)
True
>>> region_fingerprint(a) == region_fingerprint(make_region(schools=30, seed=2))
False
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from allocator.errors import InputError

__all__ = ["region_fingerprint", "require_region"]


def _table_digest(digest, table: pd.DataFrame) -> None:
    digest.update(repr(list(map(str, table.columns))).encode())
    digest.update(repr(list(map(str, table.dtypes))).encode())
    if len(table):
        hashed = pd.util.hash_pandas_object(table, index=False).to_numpy()
        digest.update(np.ascontiguousarray(hashed).tobytes())


def region_fingerprint(region) -> str:
    """A hex digest of a region's schools, settlements and roads.

    Parameters
    ----------
    region : Region

    Returns
    -------
    str
        64 hexadecimal characters; equal for regions with the same content.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> len(region_fingerprint(make_region(schools=20, seed=3)))
    64
    """
    digest = hashlib.sha256()
    _table_digest(digest, region.schools)
    _table_digest(digest, region.settlements)
    edges = sorted(
        (min(str(u), str(v)), max(str(u), str(v)), float(data.get("minutes", np.nan)))
        for u, v, data in region.roads.edges(data=True)
    )
    digest.update(repr(edges).encode())
    return digest.hexdigest()


def require_region(expected: str | None, region, plan: str) -> None:
    """Raise :class:`InputError` unless ``region`` has the fingerprint ``expected``.

    Parameters
    ----------
    expected : str or None
        The fingerprint of the region the plan was made for (None: no check, for plans built by
        hand from tables).
    region : Region
        The region the plan is being applied to.
    plan : str
        The plan's name in the message (``"budget plan"``, ...).

    Raises
    ------
    InputError
        One line: the plan was made for another region (or has been applied already).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=3)
    >>> require_region(region_fingerprint(region), region, "budget plan")  # passes silently
    """
    if expected is None:
        return
    if region_fingerprint(region) != expected:
        raise InputError(
            f"this {plan} was made for another region (its fingerprint differs; a plan applied "
            "once has changed the region, so it cannot be applied again); apply it to the region "
            "it was made for"
        )
