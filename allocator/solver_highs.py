"""HiGHS specifics for :mod:`allocator.solver`: quiet construction, options, the model hand-off,
and the checks an answer must pass before it is labelled."""

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
    from allocator.solver import SolverOptions

__all__ = [
    "new_highs",
    "supported_highs_options",
    "configured_highs",
    "pass_model",
    "integral_objective",
    "answer_problem",
]

_THREADS: int | None = None  # HiGHS thread-pool size in this process (0: HiGHS decides)


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
    global _THREADS
    threads = 0 if options.threads is None else int(options.threads)
    if _THREADS is not None and threads != _THREADS:
        # HiGHS keeps one thread pool per process, sized by the first solve: resize it on change
        # (releases before 1.8 cannot, and refuse to run with another count: keep the first)
        reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
        if reset is not None:
            reset(True)
        else:
            threads = _THREADS
    _THREADS = threads
    h.setOptionValue("threads", threads)
    if options.method != "choose":
        h.setOptionValue("solver", options.method)
    for name, value in (options.highs_options or {}).items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"HiGHS rejected option {name}={value!r}")
    return h


def pass_model(h, c, A, rl, ru, cl, cu, integ, maximize, offset):
    import highspy

    lp = highspy.HighsLp()
    lp.num_col_ = int(c.shape[0])
    lp.num_row_ = int(A.shape[0])
    lp.col_cost_ = c
    lp.col_lower_ = cl
    lp.col_upper_ = cu
    lp.row_lower_ = rl
    lp.row_upper_ = ru
    lp.offset_ = float(offset)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    if maximize:
        lp.sense_ = highspy.ObjSense.kMaximize
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
