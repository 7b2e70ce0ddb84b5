"""What a solve is asked for and what it achieved: :class:`SolverOptions`, :class:`SolveInfo`,
:class:`MatrixSolution`, and the arithmetic of gaps and 0/1 values every caller shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from allocator.i18n import Words

__all__ = [
    "SolverOptions",
    "SolveInfo",
    "MatrixSolution",
    "worst_status",
    "binary_values",
    "relative_gap",
    "within_gap",
]

_SOLVERS = ("highs", "cbc")
_METHODS = ("choose", "simplex", "ipm")


@dataclass(frozen=True)
class SolverOptions:
    """How to solve a model.

    Parameters
    ----------
    solver : {"highs", "cbc"}
        HiGHS (through highspy) is the default; CBC (bundled with PuLP) is the fallback.
    time_limit : float, optional
        Seconds; a MIP stopped by the limit returns its best plan with status ``feasible`` and its gap.
    mip_gap : float
        Relative MIP gap at which a plan counts as optimal.
    threads : int, optional
        Solver threads (None: the solver decides).
    msg : bool
        Show the solver log (on stdout).
    method : {"choose", "simplex", "ipm"}
        LP algorithm for HiGHS; ``"ipm"`` (interior point) pays on large LPs.
    highs_options : dict, optional
        Further HiGHS options by name (e.g. ``{"mip_heuristic_effort": 0.0}``), set last.
    log : bool
        Show the solver log, like ``msg``. Without either, the solver writes nothing to stdout
        (not even its banner), so stdout carries results only.

    Examples
    --------
    >>> SolverOptions(time_limit=30, mip_gap=0.01).solver
    'highs'
    """

    solver: str = "highs"
    time_limit: float | None = None
    mip_gap: float = 1e-4
    threads: int | None = None
    msg: bool = False
    method: str = "choose"
    highs_options: dict | None = None
    log: bool = False

    @property
    def show_log(self) -> bool:
        """True when the solver log was asked for (``msg`` or ``log``)."""
        return bool(self.msg or self.log)

    def __post_init__(self):
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {_SOLVERS}, got {self.solver!r}")
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.time_limit is not None and not self.time_limit > 0:
            raise ValueError(
                f"time_limit must be a positive number of seconds, got {self.time_limit!r}"
            )
        if not 0 <= self.mip_gap < 1:
            raise ValueError(f"mip_gap must be in [0, 1), got {self.mip_gap!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")


@dataclass(frozen=True)
class SolveInfo:
    """What a solve achieved.

    Attributes
    ----------
    status : str
        ``optimal``, ``feasible`` (stopped early; see ``gap``), ``infeasible``, ``unbounded`` or ``error``.
    objective : float or None
        Objective value of the returned solution.
    bound : float or None
        Best proven bound on the objective (equals ``objective`` for a solved LP).
    gap : float or None
        Gap between ``objective`` and ``bound`` (see :func:`relative_gap`): relative,
        ``|objective - bound| / |objective|``, when ``|objective| >= 1``, absolute below (a relative
        gap means nothing near zero); 0 for an LP solved to optimality. A MIP is ``optimal`` only
        when this gap is within the ``mip_gap`` asked (or the absolute gap within HiGHS's
        ``mip_abs_gap``), whatever the solver says.
    seconds : float
        Wall time of the solve.
    solver : str
        The solver that ran.
    nodes, iterations : int or None
        Branch-and-bound nodes and LP (simplex) iterations the solver reports (HiGHS's
        ``mip_node_count`` and ``simplex_iteration_count``): deterministic measures of a solve's
        work, unlike ``seconds``; None where the solver gave none. Left out of the repr and of
        comparisons.
    """

    status: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solver: str
    nodes: int | None = field(default=None, repr=False, compare=False)
    iterations: int | None = field(default=None, repr=False, compare=False)

    @property
    def is_optimal(self) -> bool:
        return self.status == "optimal"

    @classmethod
    def combine(
        cls, infos: Sequence[SolveInfo], *, objective: float | None = None, seconds=None
    ) -> SolveInfo:
        """One figure for independent parts solved one by one (e.g. one model per county).

        The status is the worst part's (see :func:`worst_status`); objectives add up, and so do
        the bounds when every part has one; the gap is the largest part's, or None when a part
        that is not optimal reports none; seconds add up. ``objective`` and ``seconds`` replace
        the sums when the caller has measured them (a recomputed objective, a wall time); the
        bound is then that objective if every part is optimal, else None.

        Examples
        --------
        >>> a = SolveInfo("optimal", 10.0, 10.0, 0.0, 1.0, "highs")
        >>> b = SolveInfo("feasible", 5.0, 4.0, 0.2, 2.0, "highs")
        >>> SolveInfo.combine([a, b])
        SolveInfo(status='feasible', objective=15.0, bound=14.0, gap=0.2, seconds=3.0, solver='highs')
        """
        infos = list(infos)
        if not infos:
            value = 0.0 if objective is None else float(objective)
            return cls("optimal", value, value, 0.0, float(seconds or 0.0), "none")
        status = worst_status(*(i.status for i in infos))
        if objective is None:
            objective = float(sum(i.objective or 0.0 for i in infos))
            bounds = [i.bound for i in infos]
            bound = None if any(b is None for b in bounds) else float(sum(bounds))
        else:
            objective = float(objective)
            bound = objective if status == "optimal" else None
        gaps = [i.gap for i in infos if i.gap is not None]
        unknown = any(i.gap is None for i in infos if i.status != "optimal")
        gap = None if unknown or not gaps else max(gaps)
        if seconds is None:
            seconds = sum(i.seconds for i in infos)
        solver = "+".join(sorted({i.solver for i in infos}))
        return cls(status, objective, bound, gap, float(seconds), solver)

    def describe(self, language: str = "en") -> str:
        """One line for a summary in ``language`` (``"en"`` or ``"zh"``), the words from
        :class:`allocator.i18n.Words` (``solver.*``); a status without a label is shown as it is.

        Examples
        --------
        >>> info = SolveInfo("feasible", 10.0, 9.8, 0.02, 0.4167, "highs")
        >>> info.describe()
        'feasible, gap 2.00% (highs, 0.42 s)'
        >>> info.describe("zh")
        '可行，间隙 2.00%（highs，0.42 秒）'
        """
        words = Words(language)
        try:
            status = words(f"solver.status.{self.status}")
        except KeyError:
            status = self.status
        try:  # a method rather than a solver (heuristic, lp+local) has a name
            solver = words(f"method.{self.solver}")
        except KeyError:
            solver = self.solver
        where = {"solver": solver, "seconds": f"{self.seconds:.2f}"}
        if self.status == "feasible" and self.gap is not None:
            near_zero = self.objective is not None and abs(self.objective) < 1
            gap = (
                words("solver.gap_absolute", gap=f"{self.gap:.3g}")
                if near_zero
                else f"{self.gap:.2%}"
            )
            return words("solver.describe_gap", status=status, gap=gap, **where)
        return words("solver.describe", status=status, **where)


_STATUS_RANK = {"optimal": 0, "feasible": 1}


def worst_status(*statuses: str) -> str:
    """The least good of some solve statuses: optimal < feasible < anything else.

    Examples
    --------
    >>> worst_status("optimal", "feasible", "optimal")
    'feasible'
    """
    return max(statuses, key=lambda s: _STATUS_RANK.get(s, 2))


@dataclass
class MatrixSolution:
    """Result of :func:`solve_matrix`: the figures, the column values and (for LPs) the row duals."""

    info: SolveInfo
    x: np.ndarray
    row_duals: np.ndarray | None = field(default=None)


def binary_values(values: np.ndarray | Sequence[float]) -> np.ndarray:
    """Read 0/1 decisions from solver values by rounding at 0.5 (never ``> 0``).

    Examples
    --------
    >>> binary_values([1e-14, 0.9999999, 0.51]).tolist()
    [False, True, True]
    """
    return np.asarray(values, dtype=float) >= 0.5


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Gap between a plan's objective and a bound on the optimum: relative away from zero.

    ``|objective - bound| / |objective|`` when ``|objective| >= 1``, else the absolute gap
    ``|objective - bound|`` (on an objective of 1.6e-9 a "relative gap" of 62 % says nothing).
    None when either is missing or the bound is infinite.

    Examples
    --------
    >>> relative_gap(200.0, 150.0)
    0.25
    >>> relative_gap(1.6e-9, 0.6e-9)  # near zero: absolute
    1e-09
    """
    if objective is None or bound is None or not math.isfinite(bound):
        return None
    return abs(objective - bound) / max(abs(objective), 1.0)


def within_gap(objective: float, bound: float | None, mip_gap: float, abs_gap: float = 0.0) -> bool:
    """True when ``bound`` proves ``objective`` optimal within ``mip_gap`` (see :func:`relative_gap`).

    ``abs_gap``: an absolute gap that also counts as closed (HiGHS's ``mip_abs_gap``).

    Examples
    --------
    >>> within_gap(1000.0, 999.95, 1e-4), within_gap(1000.0, 998.4, 1e-4)
    (True, False)
    """
    gap = relative_gap(objective, bound)
    if gap is None:
        return False
    slack = 1e-9 * max(1.0, abs(objective))
    return gap <= mip_gap * (1 + 1e-9) + 1e-12 or abs(objective - bound) <= abs_gap + slack
