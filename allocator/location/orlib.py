"""Readers for the OR-Library p-median (pmed) and capacitated warehouse location (cap) files."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from allocator.errors import InputError


class PMedianInstance(NamedTuple):
    """An OR-Library p-median instance: the all-pairs shortest-path cost matrix and p."""

    cost: np.ndarray
    p: int


class CapInstance(NamedTuple):
    """An OR-Library capacitated warehouse location instance (OR-Library cost convention)."""

    service_cost: np.ndarray
    open_cost: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray


def read_orlib_pmed(path) -> PMedianInstance:
    """Read an OR-Library p-median file (pmed1 ... pmed40) into a shortest-path cost matrix.

    The first line is ``n edges p``; each further line ``i j cost`` is an undirected edge between
    vertices numbered from 1. When a pair appears more than once, the last line sets its cost.
    The cost matrix holds all-pairs shortest-path lengths over that graph.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    PMedianInstance
        ``(cost, p)`` with ``cost`` an n x n float array.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
    ...     _ = fh.write("3 3 1\\n1 2 5\\n2 3 1\\n1 2 2\\n")
    >>> inst = read_orlib_pmed(fh.name); os.unlink(fh.name)
    >>> inst.p, inst.cost[0].tolist()
    (1, [0.0, 2.0, 3.0])
    """
    from scipy.sparse.csgraph import shortest_path

    tokens = Path(path).read_text().split()
    if len(tokens) < 3:
        raise InputError(f"{path}: expected a first line 'n edges p'")
    n, n_edges, p = (int(t) for t in tokens[:3])
    data = np.asarray(tokens[3:], dtype=float)
    if data.size != 3 * n_edges:
        raise InputError(f"{path}: header announces {n_edges} edges, found {data.size / 3:g}")
    edges = data.reshape(-1, 3)
    i = edges[:, 0].astype(np.int64) - 1
    j = edges[:, 1].astype(np.int64) - 1
    if i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= n:
        raise InputError(f"{path}: vertex numbers must lie in 1..{n}")
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    key = lo * n + hi
    # the last line for a pair wins: keep the last occurrence of each key
    _, last_rev = np.unique(key[::-1], return_index=True)
    last = key.size - 1 - last_rev
    lo, hi, w = lo[last], hi[last], edges[last, 2]
    graph = sp.coo_matrix((w, (lo, hi)), shape=(n, n)).tocsr()
    cost = shortest_path(graph, method="D", directed=False)
    return PMedianInstance(cost, p)


def read_orlib_cap(path, capacity: float | None = None) -> CapInstance:
    """Read an OR-Library capacitated warehouse location file (cap41 ... cap134, capa/b/c).

    Format: ``m n``; m lines ``capacity fixed_cost``; then per customer its demand followed by m
    costs of serving all of its demand from each site. capa/b/c write the word ``capacity``
    instead of a number: pass ``capacity`` to set it (it also overrides numeric capacities).

    Parameters
    ----------
    path : str or pathlib.Path
    capacity : float, optional
        Capacity of every site; required when the file writes ``capacity``.

    Returns
    -------
    CapInstance
        ``service_cost`` (customers x sites), ``open_cost``, ``demand``, ``capacity``.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
    ...     _ = fh.write("2 1\\n 10 7.5\\n 20 3\\n 4\\n 1.5 2.5\\n")
    >>> inst = read_orlib_cap(fh.name); os.unlink(fh.name)
    >>> inst.capacity.tolist(), inst.open_cost.tolist(), inst.service_cost.tolist()
    ([10.0, 20.0], [7.5, 3.0], [[1.5, 2.5]])
    """
    tokens = Path(path).read_text().split()
    m, n = int(tokens[0]), int(tokens[1])
    site = tokens[2 : 2 + 2 * m]
    cap_tokens, fixed = site[0::2], np.asarray(site[1::2], dtype=float)
    if capacity is not None:
        cap = np.full(m, float(capacity))
    elif any(t.lower() == "capacity" for t in cap_tokens):
        raise InputError(f"{path} gives no numeric capacities; pass capacity=...")
    else:
        cap = np.asarray(cap_tokens, dtype=float)
    rest = np.asarray(tokens[2 + 2 * m :], dtype=float)
    if rest.size != n * (m + 1):
        raise InputError(f"{path}: expected {n} customers x (1 + {m}) numbers, found {rest.size}")
    block = rest.reshape(n, m + 1)
    return CapInstance(block[:, 1:].copy(), fixed, block[:, 0].copy(), cap)
