"""The exact method: a heuristic start, the MILP in stages, and an honest account of the result.

Stages (the model is stated in :mod:`allocator.districting.exact_model`): the heuristic's plan
(value ``V``) is the solver's start. When the heuristic finds no plan, the model without
objective runs first: it proves infeasibility, or gives the start. With both objective terms,
the compactness term is first solved alone (stage 1); its bound limits the imbalance of any
better plan. The returned plan is never worse than the start; its status, bound and gap are
settled by :func:`allocator.exact_outcome.settle_exact`.
"""

from __future__ import annotations

import dataclasses
import math
import time

from allocator.districting.exact_model import solve_exact_model
from allocator.districting.heuristic import heuristic_failed, run_heuristic, tree_count
from allocator.districting.objective import canonical_labels, model_problems, score
from allocator.districting.result import make_result
from allocator.errors import SolverError
from allocator.exact_outcome import settle_exact
from allocator.solver import SolveInfo, SolverOptions


def exact_result(inst, graph, allocation, seed, starts, deadline, t0, options, fallback):
    """The exact method: heuristic start, MILP stages, and an honest account of the result.

    The returned plan is never worse than the start, and its bound, gap and status are settled
    by :func:`allocator.exact_outcome.settle_exact`. When the MILP stops without a (valid) plan,
    ``fallback`` (``method="auto"``) runs the heuristic for the time left (at least one start),
    keeps the better of its plan and the start, and says so in ``notes``; without ``fallback``
    the start is returned (status ``feasible`` unless a bound proves it), or
    :class:`SolverError` is raised when there is no start.
    """
    heur_deadline = min(deadline, time.perf_counter() + 3.0)
    start, runs = run_heuristic(inst, allocation, int(seed), 2, heur_deadline, tree_count(inst))
    opts = options or SolverOptions(mip_gap=1e-6)
    notes = []
    if start is None:
        # no plan from the heuristic: settle feasibility first with the objective left out (a much
        # easier model); its Infeasible is a proof, its plan the start of the real solve
        bare = dataclasses.replace(inst, alpha=0.0, beta=0.0)
        try:
            start, _ = solve_exact_model(bare, None, _limited(opts, deadline, 0.3))
        except SolverError:
            start = None
        if start is not None and model_problems(inst, canonical_labels(start, inst.k), graph):
            start = None
    lb_compact = None
    if inst.alpha > 0 and inst.beta > 0:
        # stage 1: the compactness term alone (fast, tight) gives a lower bound on it and a
        # second start for the full model
        plain = dataclasses.replace(inst, beta=0.0)
        try:
            labels_c, info_c = solve_exact_model(plain, start, _limited(opts, deadline, 0.5))
        except SolverError:
            labels_c, info_c = None, None
        if labels_c is not None and model_problems(inst, canonical_labels(labels_c, inst.k), graph):
            labels_c = None  # an invalid plan is no start
        if info_c is not None:
            if info_c.bound is not None and math.isfinite(info_c.bound):
                # a model cut by the start's value bounds only plans better than the start
                lb_compact = float(info_c.bound)
                if start is not None:
                    lb_compact = min(lb_compact, score(plain, start)[0])
            better = labels_c is not None and (
                start is None or score(inst, labels_c)[0] < score(inst, start)[0]
            )
            if better:
                start = labels_c
    try:
        labels, info = solve_exact_model(
            inst, start, _limited(opts, deadline, 1.0), lb_compact=lb_compact
        )
    except SolverError as exc:
        labels, info = None, exc.info if isinstance(exc.info, SolveInfo) else None
        notes.append(f"the exact model stopped without a plan ({exc.message})")
    if labels is not None:
        problems = model_problems(inst, canonical_labels(labels, inst.k), graph)
        if problems:
            notes.append("the exact model's plan violates the model: " + "; ".join(problems[:3]))
            labels = None
    if labels is None and (fallback or start is None):
        if not fallback:
            raise SolverError("the exact model stopped without a plan: " + notes[-1], info)
        # method "auto": the heuristic for the time left (at least one start), or its start
        notes.append("method 'auto' fell back to the heuristic")
        more, more_runs = run_heuristic(
            inst, allocation, int(seed), int(starts), deadline, tree_count(inst)
        )
        found = [x for x in (more, start) if x is not None]
        if not found:
            raise heuristic_failed(inst, runs + more_runs)
        best = min(found, key=lambda x: score(inst, x)[0])
        return make_result(
            inst, best, graph, "heuristic", "local", None, None, t0, runs + more_runs, None, notes
        )
    start_value = score(inst, start)[0] if start is not None else None
    outcome = settle_exact(
        score(inst, labels)[0] if labels is not None else None,
        start_value,
        info.bound if info is not None and labels is not None else None,
        cut_by_start=start is not None,
        other_bounds=(lb_compact,),
        mip_gap=opts.mip_gap,
    )
    notes.extend(outcome.notes)
    chosen = labels if outcome.keep == "plan" else start
    return make_result(
        inst,
        chosen,
        graph,
        "exact",
        outcome.status,
        outcome.bound,
        outcome.gap,
        t0,
        runs,
        info,
        notes,
    )


def _limited(opts: SolverOptions, deadline: float, share: float) -> SolverOptions:
    """The solver options with the time limit cut to a share of what is left before deadline."""
    if not math.isfinite(deadline):
        return opts
    left = max((deadline - time.perf_counter()) * share, 0.1)
    limit = left if opts.time_limit is None else min(opts.time_limit, left)
    return dataclasses.replace(opts, time_limit=limit)
