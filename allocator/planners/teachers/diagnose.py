"""Why a block has no plan: an elastic LP finds the most rotations the rules allow.

The model without quotas always has a solution (nobody moves). When the quotas (or the backbone
share) cannot be met, the quota and backbone-share rows get an elastic column each; minimising
their sum gives, per county, how many teachers must rotate and how many can, and the schools
short the most with the reason (no school within reach, below its requirement, too few above
it). Checks that need no solver are in :mod:`allocator.planners.teachers.verify`.
"""

from __future__ import annotations

import numpy as np

from allocator.errors import Infeasible
from allocator.planners.teachers.data import Block, TeacherData
from allocator.planners.teachers.model import BlockModel, build_model
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.solver import solve_matrix
from allocator.standards import Standard

__all__ = ["diagnose"]


def diagnose(
    d: TeacherData,
    block: Block,
    caps: dict[str, float],
    policy: TeacherPolicy,
    standard: Standard,
) -> Infeasible | None:
    """Elastic LP: the most rotations the rules allow; an Infeasible naming the numbers.

    Returns None when the elastic LP meets every quota and backbone share (the block is then
    infeasible for another reason, which the caller reports as the solver gave it).
    """
    model = build_model(d, block, caps, policy, standard, elastic=True)
    lp = model.lp
    sol = solve_matrix(lp.with_column_bounds(integrality=False))
    short_q = lp.column_values(sol.x, "elastic_quota")
    short_b = lp.column_values(sol.x, "elastic_share")
    violations: dict[str, float] = {}
    messages = []
    for c in block.counties:
        found = _quota_shortage(d, block.idx, model, short_q, c, policy)
        if found is not None:
            violations[f"{c}: rotation_quota"], message = found
            messages.append(message)
    beta = policy.backbone_share_of(standard)
    for label, v in zip(model.share_labels, short_b, strict=True):
        if v > 1e-6:
            violations[f"{label}: backbone_share"] = float(v)
            if label in block.counties:
                messages.append(
                    f"county {label}: backbone teachers must be at least {beta:.0%} of those who "
                    f"rotate, short by {_count(v)} backbone teachers (too few eligible backbone "
                    "teachers in the urban/high-quality schools)"
                )
            else:
                messages.append(
                    f"school {label}: must send at least {beta:.0%} of its required rotations as "
                    f"backbone teachers, short by {_count(v)} (too few eligible backbone teachers)"
                )
    if not messages:
        return None
    return Infeasible("the rotation quota cannot be met. " + " | ".join(messages), violations)


def _quota_shortage(d: TeacherData, idx, model: BlockModel, short_q, c: str, policy):
    """(teachers short, message) for county ``c``'s rotation quota, or None if it is met."""
    quota, county = d.quota[idx], d.county[idx]
    rotation = (county == c) & d.rotation_school[idx]
    short_schools = []
    total_short = 0.0
    for i, v in zip(model.quota_schools, short_q, strict=True):
        if county[i] == c and v > 1e-6:
            short_schools.append((v, i))
            total_short += v
    # rotation schools without any allowed move have no quota row at all
    for i in np.flatnonzero(rotation & ~model.has_out):
        short_schools.append((float(quota[i]), int(i)))
        total_short += quota[i]
    if total_short <= 1e-6:
        return None
    required = int(quota[rotation].sum())
    eligible = int(d.eligible[idx][rotation].sum())
    short_schools.sort(key=lambda t: -t[0])
    named = [
        f"{d.ids[idx[i]]} short by {_count(v)} ({_why_short(d, idx[i], model, i, policy)})"
        for v, i in short_schools[:3]
    ]
    message = (
        f"county {c}: {required:,} eligible teachers must rotate out of {int(rotation.sum())} "
        f"urban/high-quality schools ({_pct(required, eligible)} of {eligible:,} eligible), "
        f"but under the rules the receiving schools can absorb only "
        f"{_count(required - total_short)} (short by {_count(total_short)}): " + "; ".join(named)
    )
    return float(total_short), message


def _why_short(d: TeacherData, row: int, model: BlockModel, i: int, policy) -> str:
    """Why school ``i`` of the block (row ``row`` of the schools table) cannot send its quota."""
    T, req = d.current[row, 0], d.need[row, 0]
    if not (model.xi == i).any():
        limit = policy.travel_limit_minutes
        where = f"within {limit:g} minutes" if limit is not None else "in the county"
        rules = " under the direction rules" if policy.direction_rules else ""
        return f"no school it may send to {where}{rules}"
    if T < req:
        return (
            f"it has {T} teachers for a requirement of {req} and nobody to replace those who leave"
        )
    return f"it can spare {max(T - req, 0)} above its requirement of {req}"


def _count(v: float) -> str:
    """A teacher count: whole when it is one, else one decimal."""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def _pct(a: float, b: float) -> str:
    """``a / b`` as a percentage (n/a for b = 0)."""
    return f"{a / b:.0%}" if b else "n/a"
