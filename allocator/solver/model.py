"""Linear models built from named blocks: :class:`ModelBuilder` and the :class:`LinearModel` it builds.

A model is ``min/max c·x + offset`` subject to ``row_lower <= A x <= row_upper`` and
``col_lower <= x <= col_upper``, some columns integer. Every model in allocator is assembled the
same way: columns come in named blocks (``add_columns("x", (n, m))`` reserves ``n * m`` columns
and remembers where), rows come in named groups whose coefficients are given per column block in
the block's own indices (``add_rows("assign", n, {x: (rows, cols, values)})``). No caller computes
a column offset by hand, and :func:`allocator.solver.solve_matrix` takes the finished model as one
object.

A row group's name up to the first ``"__"`` is the group reported when the model is infeasible
(``"capacity__junior"`` counts as ``"capacity"``).

Examples
--------
>>> import numpy as np
>>> b = ModelBuilder()
>>> x = b.add_columns("x", 2, cost=[1.0, 1.0], integer=True)
>>> _ = b.add_rows("cover", 1, {x: (0, [0, 1], [1.0, 2.0])}, lower=3.0)
>>> model = b.build()
>>> model.A.toarray().tolist(), model.row_groups
([[1.0, 2.0]], ('cover',))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

__all__ = ["ColumnBlock", "RowBlock", "ModelBuilder", "LinearModel"]


@dataclass(frozen=True)
class ColumnBlock:
    """A named run of columns, possibly shaped (``shape=(n, m)`` is ``n * m`` columns, row-major).

    Examples
    --------
    >>> x = ColumnBlock("x", 10, (2, 3))
    >>> x.size, x.stop, int(x.index(1, 2))
    (6, 16, 15)
    """

    name: str
    start: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        """Number of columns."""
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def stop(self) -> int:
        """One past the last column."""
        return self.start + self.size

    @property
    def columns(self) -> slice:
        """The block's columns in the model, as a slice."""
        return slice(self.start, self.stop)

    def index(self, *local) -> np.ndarray:
        """Model column numbers of local indices (one index array per dimension)."""
        if len(local) != len(self.shape):
            raise ValueError(
                f"block {self.name!r} has {len(self.shape)} dimensions, got {len(local)}"
            )
        flat = np.ravel_multi_index(tuple(np.asarray(i, dtype=np.int64) for i in local), self.shape)
        return self.start + np.asarray(flat, dtype=np.int64)


@dataclass(frozen=True)
class RowBlock:
    """A named run of rows (a constraint group)."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        """One past the last row."""
        return self.start + self.size

    @property
    def group(self) -> str:
        """The group reported when the model is infeasible: the name up to the first ``"__"``."""
        return self.name.split("__")[0]


def _vector(values, n: int, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    arr = arr.reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected {n} values, got {arr.shape[0]}")
    return arr


def _triplets(term, n_rows: int, block: ColumnBlock, where: str):
    """(local rows, local columns, values) of one term: a triplet or a matrix (rows x block)."""
    if isinstance(term, tuple):
        if len(term) != 3:
            raise ValueError(f"{where}: a term is (rows, columns, values), got {len(term)} items")
        rows, cols, vals = (np.asarray(t) for t in term)
        rows, cols, vals = np.broadcast_arrays(rows, cols, vals.astype(float))
        rows = rows.reshape(-1).astype(np.int64)
        cols = cols.reshape(-1).astype(np.int64)
        vals = vals.reshape(-1)
    else:
        matrix = sp.coo_matrix(term)
        if matrix.shape != (n_rows, block.size):
            raise ValueError(
                f"{where}: expected a matrix of shape ({n_rows}, {block.size}), got {matrix.shape}"
            )
        rows, cols, vals = matrix.row.astype(np.int64), matrix.col.astype(np.int64), matrix.data
    if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
        raise ValueError(f"{where}: a row index lies outside 0..{n_rows - 1}")
    if cols.size and (cols.min() < 0 or cols.max() >= block.size):
        raise ValueError(
            f"{where}: a column index lies outside block {block.name!r} (0..{block.size - 1})"
        )
    return rows, cols, np.asarray(vals, dtype=float)


class ModelBuilder:
    """Assemble a :class:`LinearModel` from named column blocks and row groups.

    Examples
    --------
    Open at most one of two sites and serve one client from an open site:

    >>> b = ModelBuilder()
    >>> y = b.add_columns("open", 2, cost=[5.0, 3.0], upper=1.0, integer=True)
    >>> x = b.add_columns("serve", 2, cost=[1.0, 4.0], upper=1.0)
    >>> _ = b.add_rows("serve_once", 1, {x: (0, [0, 1], 1.0)}, lower=1.0, upper=1.0)
    >>> _ = b.add_rows("open__link", 2, {x: ([0, 1], [0, 1], 1.0), y: ([0, 1], [0, 1], -1.0)}, upper=0.0)
    >>> model = b.build()
    >>> model.shape, model.columns["serve"]
    ((3, 4), slice(2, 4, None))
    """

    def __init__(self) -> None:
        self._blocks: dict[str, ColumnBlock] = {}
        self._cost: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._integer: list[np.ndarray] = []
        self._row_blocks: list[RowBlock] = []
        self._row_lower: list[np.ndarray] = []
        self._row_upper: list[np.ndarray] = []
        self._row_groups: list[str] = []
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._n_cols = 0
        self._n_rows = 0

    @property
    def n_cols(self) -> int:
        """Columns so far."""
        return self._n_cols

    @property
    def n_rows(self) -> int:
        """Rows so far."""
        return self._n_rows

    def add_columns(
        self,
        name: str,
        shape: int | Sequence[int],
        *,
        cost=0.0,
        lower=0.0,
        upper=np.inf,
        integer: bool | Sequence[bool] = False,
    ) -> ColumnBlock:
        """Reserve a block of columns; ``cost``, ``lower``, ``upper``, ``integer`` broadcast."""
        if name in self._blocks:
            raise ValueError(f"a column block named {name!r} exists already")
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ValueError(f"block {name!r}: negative shape {shape}")
        block = ColumnBlock(name, self._n_cols, shape)
        n = block.size
        self._blocks[name] = block
        self._cost.append(_vector(cost, n, f"{name}.cost"))
        self._lower.append(_vector(lower, n, f"{name}.lower"))
        self._upper.append(_vector(upper, n, f"{name}.upper"))
        self._integer.append(np.broadcast_to(np.asarray(integer, dtype=bool), (n,)).copy())
        self._n_cols += n
        return block

    def set_cost(self, block: ColumnBlock, cost) -> None:
        """Replace the objective coefficients of one block."""
        k = list(self._blocks).index(block.name)
        self._cost[k] = _vector(cost, block.size, f"{block.name}.cost")

    def add_rows(
        self,
        name: str,
        size: int,
        terms: Mapping[ColumnBlock, object] | None = None,
        *,
        lower=-np.inf,
        upper=np.inf,
        groups: Sequence[str] | None = None,
    ) -> RowBlock:
        """Add ``size`` rows ``lower <= sum of terms <= upper``.

        ``terms`` maps a column block to its coefficients in these rows: a triplet ``(rows,
        columns, values)`` of local indices (broadcast against each other; duplicates add up) or
        a matrix of shape ``(size, block.size)``. A group of size 0 adds nothing. ``groups``:
        one label per row for infeasibility messages (``"seats S3"``) instead of the group's.
        """
        size = int(size)
        rows = RowBlock(name, self._n_rows, size)
        if size == 0:
            return rows
        labels = [rows.group] * size if groups is None else [str(g) for g in groups]
        if len(labels) != size:
            raise ValueError(f"rows {name!r}: {size} rows but {len(labels)} group labels")
        self._row_groups.extend(labels)
        self._row_blocks.append(rows)
        self._row_lower.append(_vector(lower, size, f"{name}.lower"))
        self._row_upper.append(_vector(upper, size, f"{name}.upper"))
        self._n_rows += size
        for block, term in (terms or {}).items():
            self.add_terms(rows, block, term)
        return rows

    def add_terms(self, rows: RowBlock, block: ColumnBlock, term) -> None:
        """Add coefficients of ``block`` to rows already added (same forms as :meth:`add_rows`)."""
        if self._blocks.get(block.name) != block:
            raise ValueError(f"block {block.name!r} does not belong to this model")
        r, c, v = _triplets(term, rows.size, block, f"rows {rows.name!r}, block {block.name!r}")
        self._rows.append(rows.start + r)
        self._cols.append(block.start + c)
        self._vals.append(v)

    def build(self, *, offset: float = 0.0, maximize: bool = False) -> LinearModel:
        """The finished model (the builder may go on growing; the model does not change)."""

        def cat(parts, dtype=float):
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        A = sp.csc_matrix(
            (cat(self._vals), (cat(self._rows, np.int64), cat(self._cols, np.int64))),
            shape=(self._n_rows, self._n_cols),
        )
        A.sum_duplicates()
        groups = tuple(self._row_groups)
        return LinearModel(
            c=cat(self._cost),
            A=A,
            row_lower=cat(self._row_lower),
            row_upper=cat(self._row_upper),
            col_lower=cat(self._lower),
            col_upper=cat(self._upper),
            integrality=cat(self._integer, bool),
            row_groups=groups,
            column_blocks=tuple(self._blocks.values()),
            row_blocks=tuple(self._row_blocks),
            offset=float(offset),
            maximize=bool(maximize),
        )


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A linear or mixed-integer model, ready for :func:`allocator.solver.solve_matrix`.

    Attributes
    ----------
    c : numpy.ndarray, shape (n,)
    A : scipy.sparse.csc_matrix, shape (m, n)
    row_lower, row_upper : numpy.ndarray, shape (m,)
    col_lower, col_upper : numpy.ndarray, shape (n,)
    integrality : numpy.ndarray of bool, shape (n,)
    row_groups : tuple of str
        Each row's group, used to explain infeasibility.
    column_blocks, row_blocks : tuple
        The named blocks, in model order.
    offset : float
        Constant added to the objective.
    maximize : bool

    The arrays are read-only; the ``with_*`` methods return new models.

    Examples
    --------
    >>> import numpy as np
    >>> m = LinearModel.from_arrays([1.0, 1.0], np.array([[1.0, 2.0]]), row_lower=[3.0])
    >>> m.shape, m.column_values(np.array([1.0, 1.0]), "x").tolist()
    ((1, 2), [1.0, 1.0])
    """

    c: np.ndarray
    A: sp.csc_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray
    row_groups: tuple[str, ...] = ()
    column_blocks: tuple[ColumnBlock, ...] = ()
    row_blocks: tuple[RowBlock, ...] = ()
    offset: float = 0.0
    maximize: bool = False

    def __post_init__(self):
        m, n = self.A.shape
        for name, arr, size in (
            ("c", self.c, n),
            ("row_lower", self.row_lower, m),
            ("row_upper", self.row_upper, m),
            ("col_lower", self.col_lower, n),
            ("col_upper", self.col_upper, n),
            ("integrality", self.integrality, n),
        ):
            if np.shape(arr) != (size,):
                raise ValueError(f"{name} must have length {size}, got shape {np.shape(arr)}")
            object.__setattr__(self, name, _read_only(arr))
        if len(self.row_groups) != m:
            raise ValueError(f"row_groups must have {m} labels, got {len(self.row_groups)}")
        A = self.A if sp.issparse(self.A) and self.A.format == "csc" else sp.csc_matrix(self.A)
        object.__setattr__(self, "A", A.astype(float, copy=False))

    @classmethod
    def from_arrays(
        cls,
        c,
        A,
        row_lower=None,
        row_upper=None,
        col_lower=None,
        col_upper=None,
        integrality=None,
        *,
        maximize: bool = False,
        offset: float = 0.0,
        row_groups: Sequence[str] | None = None,
    ) -> LinearModel:
        """A model from plain arrays: one column block ``"x"``; without ``row_groups`` each row is
        its own group (``"row 0"``, ``"row 1"``...)."""
        c = np.asarray(c, dtype=float).reshape(-1)
        n = c.shape[0]
        A = sp.csc_matrix(A, dtype=float) if np.size(A) or sp.issparse(A) else sp.csc_matrix((0, n))
        if A.shape[0] == 0:
            A = sp.csc_matrix((0, n))
        m = A.shape[0]
        if A.shape[1] != n:
            raise ValueError(f"A has {A.shape[1]} columns but c has {n} entries")

        def vec(values, size, default, name):
            return np.full(size, default) if values is None else _vector(values, size, name)

        groups = (
            tuple(str(g) for g in row_groups)
            if row_groups is not None
            else tuple(f"row {i}" for i in range(m))
        )
        return cls(
            c=c,
            A=A,
            row_lower=vec(row_lower, m, -np.inf, "row_lower"),
            row_upper=vec(row_upper, m, np.inf, "row_upper"),
            col_lower=vec(col_lower, n, 0.0, "col_lower"),
            col_upper=vec(col_upper, n, np.inf, "col_upper"),
            integrality=np.zeros(n, bool) if integrality is None else np.asarray(integrality, bool),
            row_groups=groups,
            column_blocks=(ColumnBlock("x", 0, (n,)),),
            row_blocks=(RowBlock("rows", 0, m),) if m else (),
            offset=float(offset),
            maximize=bool(maximize),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns)."""
        return self.A.shape

    @property
    def is_mip(self) -> bool:
        """True when some column is integer."""
        return bool(self.integrality.any())

    @property
    def columns(self) -> Mapping[str, slice]:
        """Each column block's columns by name."""
        return MappingProxyType({b.name: b.columns for b in self.column_blocks})

    def column_block(self, name: str) -> ColumnBlock:
        """The column block called ``name``."""
        for block in self.column_blocks:
            if block.name == name:
                return block
        raise KeyError(f"no column block named {name!r}")

    def column_values(self, x, name: str) -> np.ndarray:
        """The values of block ``name`` in a solution ``x`` (shaped like the block)."""
        block = self.column_block(name)
        return np.asarray(x, dtype=float)[block.columns].reshape(block.shape)

    def with_rows(self, name: str, matrix, lower=-np.inf, upper=np.inf) -> LinearModel:
        """This model with extra rows over all its columns (e.g. cuts or a fixed level)."""
        extra = sp.csc_matrix(matrix, dtype=float)
        if extra.ndim != 2 or extra.shape[1] != self.A.shape[1]:
            raise ValueError(
                f"rows {name!r}: expected {self.A.shape[1]} columns, got {extra.shape}"
            )
        k = extra.shape[0]
        rows = RowBlock(name, self.A.shape[0], k)
        return dataclasses.replace(
            self,
            A=sp.vstack([self.A, extra], format="csc"),
            row_lower=np.concatenate([self.row_lower, _vector(lower, k, f"{name}.lower")]),
            row_upper=np.concatenate([self.row_upper, _vector(upper, k, f"{name}.upper")]),
            row_groups=self.row_groups + (rows.group,) * k,
            row_blocks=self.row_blocks + ((rows,) if k else ()),
        )

    def with_objective(
        self, c, *, offset: float | None = None, maximize: bool | None = None
    ) -> LinearModel:
        """This model with another objective (``offset``, ``maximize``: unchanged when None)."""
        return dataclasses.replace(
            self,
            c=_vector(c, self.A.shape[1], "c"),
            offset=self.offset if offset is None else float(offset),
            maximize=self.maximize if maximize is None else bool(maximize),
        )

    def with_column_bounds(self, lower=None, upper=None, integrality=None) -> LinearModel:
        """This model with other column bounds or integrality (None: unchanged)."""
        n = self.A.shape[1]
        return dataclasses.replace(
            self,
            col_lower=self.col_lower if lower is None else _vector(lower, n, "col_lower"),
            col_upper=self.col_upper if upper is None else _vector(upper, n, "col_upper"),
            integrality=(
                self.integrality
                if integrality is None
                else np.broadcast_to(np.asarray(integrality, bool), (n,))
            ),
        )
