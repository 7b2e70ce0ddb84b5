"""HiGHS specifics for :mod:`allocator.solver`: quiet construction, options, the model hand-off,
and the checks an answer must pass before it is labelled.

HiGHS keeps one thread pool per process, sized by the first solve, and refuses a solve asking for
another size until the pool is reset. :class:`ThreadPoolSize` mirrors that one piece of process
state (the only one in the solver layer) so a change of ``threads`` resets the pool exactly when
needed.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from allocator.solver.model import LinearModel
    from allocator.solver.options import SolverOptions

__all__ = [
    "HIGHS_THREAD_POOL",
    "ThreadPoolSize",
    "new_highs",
    "supported_highs_options",
    "configured_highs",
    "pass_model",
    "integral_objective",
    "answer_problem",
]


class ThreadPoolSize:
    """The size of HiGHS's process-wide thread pool (0: HiGHS decides; None: not started yet).

    :meth:`use` returns the thread count a new solve may ask for, resetting HiGHS's pool when the
    count changes (HiGHS refuses a solve whose ``threads`` differs from its pool's size).
    """

    def __init__(self) -> None:
        self._size: int | None = None
        self._lock = threading.Lock()

    def use(self, threads: int) -> int:
        """Make HiGHS's pool ``threads`` wide (if it is not) and return ``threads``."""
        import highspy

        with self._lock:
            if self._size is not None and threads != self._size:
                highspy.Highs.resetGlobalScheduler(True)
            self._size = threads
            return threads


#: HiGHS's pool in this process (mirrors state HiGHS itself keeps per process).
HIGHS_THREAD_POOL = ThreadPoolSize()


_QUIET = threading.Lock()


@contextlib.contextmanager
def _stdout_silenced():
    """Send the process's C-level stdout (file descriptor 1) to the null device for a moment."""
    with _QUIET:
        sys.stdout.flush()
        libc = _libc()
        try:
            saved = os.dup(1)
        except OSError:  # no stdout at all: nothing to protect
            yield
            return
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
            yield
        finally:
            if libc is not None:
                libc.fflush(None)
            os.dup2(saved, 1)
            os.close(saved)


@functools.cache
def _libc():
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def new_highs(log: bool = False):
    """A ``highspy.Highs`` object that writes nothing to stdout unless ``log`` is True.

    HiGHS prints its banner when the object is built, before any option can be set; without
    ``log`` that happens with stdout sent to the null device, and ``output_flag`` is then off.

    Examples
    --------
    >>> h = new_highs()
    >>> h.getOptionValue("output_flag") in (False, (h.getOptionValue("output_flag")[0], False))
    True
    """
    import highspy

    if log:
        h = highspy.Highs()
    else:
        with _stdout_silenced():
            h = highspy.Highs()
    h.setOptionValue("output_flag", bool(log))
    return h


def supported_highs_options(options: dict) -> dict:
    """The entries of ``options`` the installed HiGHS knows (older releases lack some).

    Examples
    --------
    >>> supported_highs_options({"mip_rel_gap": 0.01, "no_such_option": 1})
    {'mip_rel_gap': 0.01}
    """
    import highspy

    h = new_highs()
    return {
        name: value
        for name, value in options.items()
        if h.setOptionValue(name, value) == highspy.HighsStatus.kOk
    }


def configured_highs(options: SolverOptions, time_limit: float | None = None):
    """A quiet HiGHS object set up from ``options`` (time limit: ``time_limit`` seconds)."""
    import highspy

    h = new_highs(options.show_log)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    threads = HIGHS_THREAD_POOL.use(0 if options.threads is None else int(options.threads))
    h.setOptionValue("threads", threads)
    if options.method != "choose":
        h.setOptionValue("solver", options.method)
    for name, value in (options.highs_options or {}).items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {name}={value!r}")
    return h


def pass_model(h, model: LinearModel) -> None:
    """Hand ``model`` to the HiGHS object ``h`` in one call (column-wise matrix)."""
    import highspy

    c, A = model.c, model.A
    lp = highspy.HighsLp()
    lp.num_col_ = int(c.shape[0])
    lp.num_row_ = int(A.shape[0])
    lp.col_cost_ = c
    lp.col_lower_ = model.col_lower
    lp.col_upper_ = model.col_upper
    lp.row_lower_ = model.row_lower
    lp.row_upper_ = model.row_upper
    lp.offset_ = float(model.offset)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    if model.maximize:
        lp.sense_ = highspy.ObjSense.kMaximize
    integ = model.integrality
    if integ.any():
        kint, kcont = highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous
        lp.integrality_ = [kint if v else kcont for v in integ]
    h.passModel(lp)


def integral_objective(c, integ, offset) -> bool:
    """True when every plan's objective is a whole number (integer costs on integer columns)."""
    if not integ.any() or (c[~integ] != 0).any() or not float(offset).is_integer():
        return False
    costs = c[integ]
    return bool(np.all(costs == np.round(costs)))


def answer_problem(objective, reported, dual_bound, bound, maximize, c, x) -> str:
    """Why a solver's answer cannot be trusted ("" when it can).

    ``objective``: recomputed from the plan ``x``; ``reported``: the solver's; ``dual_bound``: the
    solver's bound; ``bound``: the caller's valid bound (or None).
    """
    scale = max(1.0, abs(objective), abs(reported), float(np.abs(c * x).sum()) * 1e-3)
    tol = 1e-6 * scale
    if not math.isfinite(objective) or abs(objective - reported) > tol:
        return f"recomputed objective {objective!r} differs from the solver's {reported!r}"
    sign = -1.0 if maximize else 1.0  # below a lower bound when minimising
    if bound is not None and math.isfinite(bound) and sign * (bound - objective) > tol:
        return f"objective {objective!r} beats the valid bound {bound!r}"
    if dual_bound is not None and sign * (dual_bound - objective) > tol:
        return f"the solver's bound {dual_bound!r} lies beyond its plan's objective {objective!r}"
    return ""
