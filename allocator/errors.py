"""Typed errors that carry the facts a planner needs to fix the input or the policy."""

from __future__ import annotations

from typing import Any


class AllocatorError(Exception):
    """Base class of every error raised on purpose by allocator."""


class InputError(AllocatorError, ValueError):
    """Bad input data: names where the problem is and what was expected.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    table, column : str, optional
        The table (``schools``, ``settlements``, ``roads``, ``nodes``) and column concerned.
    row_id : object, optional
        The id of the offending row (``school_id``, ``settlement_id``, ...).
    row : int, optional
        The 0-based position of the row in its table (the I/O layer turns it into a file line).
    value : object, optional
        The offending value.
    file : str, optional
        The file the table was read from (set by :mod:`allocator.io`).
    line : int, optional
        The 1-based line in that file.
    """

    def __init__(
        self,
        message: str,
        *,
        table: str | None = None,
        column: str | None = None,
        row_id: Any = None,
        row: int | None = None,
        value: Any = None,
        file: str | None = None,
        line: int | None = None,
    ):
        self.message = message
        self.table = table
        self.column = column
        self.row_id = row_id
        self.row = row
        self.value = value
        self.file = file
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"{self.file}" + (f", line {self.line}" if self.line is not None else ""))
        if self.table is not None:
            where.append(f"table {self.table!r}")
        if self.row_id is not None:
            where.append(f"row {self.row_id!r}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(self, file: str, line: int | None) -> InputError:
        """Return a copy of this error that also names the file and line."""
        return InputError(
            self.message,
            table=self.table,
            column=self.column,
            row_id=self.row_id,
            row=self.row,
            value=self.value,
            file=file,
            line=line,
        )


class Infeasible(AllocatorError):
    """No plan satisfies every requirement.

    Parameters
    ----------
    message : str
        Which requirement cannot be met and by how much.
    violations : dict, optional
        Requirement (constraint group) -> amount by which it cannot be met, where known.
    """

    def __init__(self, message: str, violations: dict[str, float] | None = None):
        self.message = message
        self.violations = dict(violations or {})
        super().__init__(message)


class SolverError(AllocatorError):
    """The solver failed, stopped without a solution, or found the model unbounded."""

    def __init__(self, message: str, info: Any = None):
        self.message = message
        self.info = info
        super().__init__(message)
