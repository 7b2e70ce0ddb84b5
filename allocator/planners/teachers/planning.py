"""Plan teacher posting and rotation: region and policy in, :class:`TeacherPlan` out.

The steps: the per-school arrays (:mod:`~allocator.planners.teachers.data`), the checks that need
no solver (:mod:`~allocator.planners.teachers.verify`), then per block (a county, or counties
linked by moves) the model (:mod:`~allocator.planners.teachers.model`), its staged solve
(:mod:`~allocator.planners.teachers.solve`) and the check of its rounded plan; last the tables
(:mod:`~allocator.planners.teachers.tables`).

Infeasibility: the model without quotas always has a solution (nobody moves). Before any solve,
every rotation school whose quota exceeds the teachers that may leave it is named. A rotation
school with no school it may send to has its quota waived and listed in ``quota_waived``
(``on_infeasible="error"``: raised instead). If the quotas still cannot be met, an elastic LP
finds the most rotations the rules allow (:mod:`~allocator.planners.teachers.diagnose`), and
:class:`~allocator.errors.Infeasible` says, per county, how many teachers must rotate and how many
can, naming the schools and why; with ``on_infeasible="report"`` that county is left as it is and
listed in ``unplanned`` while the other counties are planned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import Infeasible, InputError, SolverError
from allocator.fingerprint import region_fingerprint
from allocator.planners.teachers.data import (
    Block,
    TeacherData,
    county_blocks,
    hiring_caps,
    school_arrays,
)
from allocator.planners.teachers.diagnose import diagnose
from allocator.planners.teachers.horizon import plan_over_years
from allocator.planners.teachers.horizon_plan import TeacherYearsPlan
from allocator.planners.teachers.model import BlockModel, build_model
from allocator.planners.teachers.plan import TeacherPlan
from allocator.planners.teachers.policy import TeacherPolicy, policy_error
from allocator.planners.teachers.solve import solve_block
from allocator.planners.teachers.tables import Moves, plan_tables
from allocator.planners.teachers.verify import (
    combined_error,
    quota_above_limit,
    unplanned_rows,
    verify_block,
    waived_rows,
)
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions
from allocator.standards import Standard

__all__ = ["plan_teachers"]


def plan_teachers(
    region: Region,
    policy: TeacherPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    years=None,
    forecast: pd.DataFrame | None = None,
    teacher_ages: pd.DataFrame | None = None,
) -> TeacherPlan | TeacherYearsPlan:
    """Plan new teacher posts and rotations that staff every school and share backbone teachers.

    With ``years`` the plan runs over a horizon against a forecast
    (:mod:`allocator.planners.teachers.horizon`): retirements, hires within each year's quota
    and rotations per school and year, in a :class:`TeacherYearsPlan` whose ``region_in(year)``
    is each year's region. Without it, one year on today's region, exactly as before.

    Parameters
    ----------
    region : Region
    policy : TeacherPolicy, optional
        Rules and weights (defaults: moe2017 norms, 60-minute moves within a county, direction
        rules on, 10 % / 20 % rotation quota, hires unlimited but minimised).
    options : SolverOptions, optional
        Solver settings; a time limit applies to each solve.
    progress : callable, optional
        Called with a short text per county (``"county 3/34 江北县"``), or per year.
    years : (int, int), range or list of int, optional
        Consecutive years, the region being the first year's (the one reading of
        :mod:`allocator.planners.years`): its pupils are the first year's.
    forecast : optional
        With ``years``: None (the medium birth scenario), settings, ``(settings, scenario)`` or a
        table by settlement (:func:`allocator.planners.years.forecast_table`), or a table by
        school (``school_id, band, year, pupils``) for the years after the first.
    teacher_ages : DataFrame, optional
        ``school_id, age, teachers`` in the first year; schools not listed retire by the age
        profile of their area type (illustrative, unconfirmed).

    Returns
    -------
    TeacherPlan, or TeacherYearsPlan with ``years``

    Raises
    ------
    Infeasible
        The rotation quota cannot be met; the message says per county how many teachers must
        rotate and how many can, and names the schools and why.
    InputError
        Bad policy values or data (e.g. ``teachers_eligible`` above ``teachers``).
    SolverError
        The solver failed, or its plan broke a rule after rounding.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=60, seed=2)
    >>> plan = plan_teachers(region, TeacherPolicy(hiring_quota=10))
    >>> int(plan.hires["count"].sum()) <= 10
    True
    >>> set(plan.transfers.columns) >= {"from_school_id", "to_school_id", "category", "count", "minutes"}
    True
    """
    policy = _checked_arguments(region, policy)
    if years is not None:
        return plan_over_years(
            region, policy, years, forecast, _one_year, teacher_ages, options, progress
        )
    if forecast is not None or teacher_ages is not None:
        raise InputError(
            "a forecast or teacher ages are given but no years; expected years=... to plan over "
            "years",
            table="policy",
            column="years",
        )
    return _one_year(region, policy, options, progress)


def _one_year(region, policy, options=None, progress=None) -> TeacherPlan:
    """The plan of one year on ``region`` (the steps of :func:`plan_teachers`)."""
    options = options or SolverOptions()
    t0 = time.perf_counter()
    standard = policy.load_standard()
    d = school_arrays(region, policy, standard)
    _check_quotas(d, policy, standard)
    caps = hiring_caps(policy, d, list(dict.fromkeys(d.county)))
    run = _Run(d, policy, standard, options, caps, hires=np.zeros((len(d.ids), 4), np.int64))
    blocks = list(county_blocks(region, d, policy))
    for b, block in enumerate(blocks):
        if progress is not None:
            progress(f"county {b + 1}/{len(blocks)} {block.label}")
        _plan_block(run, block)
    return _finish(region, run, t0)


@dataclass
class _Run:
    """What every block needs, and what the blocks planned so far add up to."""

    d: TeacherData
    policy: TeacherPolicy
    standard: Standard
    options: SolverOptions
    caps: dict[str, float]
    hires: np.ndarray  # (schools, categories) hired
    moves: list[Moves] = field(default_factory=list)
    solve_rows: list[dict] = field(default_factory=list)
    infos: list[SolveInfo] = field(default_factory=list)
    waived: list[pd.DataFrame] = field(default_factory=list)
    failed: list[tuple[str, np.ndarray, Infeasible]] = field(default_factory=list)


def _checked_arguments(region, policy) -> TeacherPolicy:
    """The policy (default if None), after checking the argument types."""
    if not isinstance(region, Region):
        raise InputError(f"region must be an allocator Region, got {type(region).__name__}")
    policy = TeacherPolicy() if policy is None else policy
    if not isinstance(policy, TeacherPolicy):
        raise InputError(
            f"policy must be a TeacherPolicy, got {type(policy).__name__}", table="policy"
        )
    return policy


def _check_quotas(d: TeacherData, policy: TeacherPolicy, standard: Standard) -> None:
    """Raise when a rotation quota cannot be sent whatever the other schools do."""
    share = policy.rotation_share_of(standard)
    if policy.max_rotation_share is not None and policy.max_rotation_share < share:
        raise policy_error(
            f"max_rotation_share={policy.max_rotation_share!r} is below the standard's rotation "
            f"share {share:g}: a school could not send the share it must; expected "
            "max_rotation_share >= rotation_share",
            "max_rotation_share",
            policy.max_rotation_share,
        )
    too_many = quota_above_limit(
        d.ids, d.county, d.quota, d.eligible, np.minimum(d.eligible, d.elig.sum(axis=1)),
        d.out_cap, share, policy.max_rotation_share,
    )  # fmt: skip
    if too_many is not None:
        raise too_many


def _block_model(run: _Run, block: Block) -> BlockModel:
    """The block's model, after waiving the quota of rotation schools with nowhere to send to."""
    d, idx, policy = run.d, block.idx, run.policy
    model = build_model(d, block, run.caps, policy, run.standard)
    stuck = idx[d.rotation_school[idx] & ~model.has_out & (d.quota[idx] > 0)]
    if not len(stuck):
        return model
    # a rotation school with nowhere to send anyone: no solve can meet its quota
    if policy.on_infeasible == "error":
        raise diagnose(d, block, run.caps, policy, run.standard)
    run.waived.append(waived_rows(d.ids[stuck], d.county[stuck], d.quota[stuck], policy))
    d.quota[stuck] = 0
    return build_model(d, block, run.caps, policy, run.standard)


def _recorder(run: _Run, block: Block, model: BlockModel):
    """A callback that records each solve of the block (a row of ``TeacherPlan.solves``)."""

    def record(stage, info, method):
        run.infos.append(info)
        run.solve_rows.append(
            {
                "block": block.label,
                "stage": stage,
                "method": method,
                "status": info.status,
                "objective": info.objective,
                "gap": info.gap,
                "seconds": info.seconds,
                "columns": model.lp.shape[1],
                "rows": model.lp.shape[0],
            }
        )

    return record


def _plan_block(run: _Run, block: Block) -> None:
    """Model, solve and check one block; add its moves and hires (or its failure) to ``run``."""
    d, idx, label = run.d, block.idx, block.label
    model = _block_model(run, block)
    try:
        x = solve_block(model, run.options, _recorder(run, block, model))
    except Infeasible as exc:
        try:
            diagnosis = diagnose(d, block, run.caps, run.policy, run.standard)
        except Infeasible:
            diagnosis = None
        if diagnosis is None:
            diagnosis = Infeasible(f"county {label}: {exc.message}", exc.violations)
        run.failed.append((label, idx, diagnosis))  # the other counties are still planned
        return
    xr = np.round(x[: model.nx]).astype(np.int64)
    hr = np.round(x[model.nx : model.nx + model.nh]).astype(np.int64)
    if np.abs(x[: model.nx + model.nh] - np.concatenate([xr, hr])).max(initial=0) > 1e-5:
        raise SolverError(f"county {label}: the solver returned fractional teacher counts")
    verify_block(d, idx, model, xr, hr, block.counties, run.caps, run.policy, run.standard)
    moved = xr > 0
    run.moves.append(
        Moves(
            idx[model.xi[moved]],
            idx[model.xj[moved]],
            model.xc[moved],
            xr[moved],
            model.xm[moved],
        )
    )
    np.add.at(run.hires, (idx[model.hi], model.hc), hr)


def _joined(parts: list[Moves]) -> Moves:
    """The moves of every block as one set of arrays."""
    dtypes = (np.int64, np.int64, np.int64, np.int64, float)
    if not parts:
        return Moves(*(np.zeros(0, dtype) for dtype in dtypes))
    columns = zip(*parts, strict=True)
    return Moves(
        *(np.concatenate(c).astype(dtype) for c, dtype in zip(columns, dtypes, strict=True))
    )


def _finish(region: Region, run: _Run, t0: float) -> TeacherPlan:
    """The plan from every block's moves and hires (or the error for the counties that failed)."""
    d, policy = run.d, run.policy
    moves = _joined(run.moves)
    if run.failed and policy.on_infeasible == "error":
        raise combined_error([exc for _, _, exc in run.failed])
    unplanned = unplanned_rows([(label, len(idx), exc) for label, idx, exc in run.failed])
    for _, idx, _ in run.failed:
        d.quota[idx] = 0  # left as they are: no rotation required by this plan
    tables = plan_tables(d, moves, run.hires, run.solve_rows)
    shortfall = float(tables["staffing"]["weighted_shortfall_after"].sum())
    info = SolveInfo.combine(run.infos, objective=shortfall, seconds=time.perf_counter() - t0)
    extra = {"quota_waived": pd.concat(run.waived, ignore_index=True)} if run.waived else {}
    return TeacherPlan(
        **tables,
        solve_info=info,
        policy=policy,
        standard=run.standard,
        region_name=region.name,
        unplanned=unplanned,
        region_fingerprint=region_fingerprint(region),
        **extra,
    )
