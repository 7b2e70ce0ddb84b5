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
from allocator.planners.teachers.model import build_model
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
    idx, counties = block.idx, block.counties
    model = build_model(d, block, caps, policy, standard, elastic=True)
    lp = model.lp
    sol = solve_matrix(lp.with_column_bounds(integrality=False))
    short_q = lp.column_values(sol.x, "elastic_quota")
    short_b = lp.column_values(sol.x, "elastic_share")
    g_idx = idx
    quota = d.quota[idx]
    violations: dict[str, float] = {}
    messages = []
    county = d.county[idx]
    limit = policy.travel_limit_minutes
    for c in counties:
        in_c = county == c
        required = int(quota[in_c & d.rotation_school[idx]].sum())
        eligible = int(d.eligible[idx][in_c & d.rotation_school[idx]].sum())
        nschools = int((in_c & d.rotation_school[idx]).sum())
        short_schools = []
        total_short = 0.0
        for i, v in zip(model.quota_schools, short_q, strict=True):
            if county[i] == c and v > 1e-6:
                short_schools.append((v, i))
                total_short += v
        # rotation schools without any allowed move have no quota row at all
        no_row = np.flatnonzero(in_c & d.rotation_school[idx] & ~model.has_out)
        for i in no_row:
            short_schools.append((float(quota[i]), int(i)))
            total_short += quota[i]
        if total_short > 1e-6:
            short = _count(total_short)
            violations[f"{c}: rotation_quota"] = float(total_short)
            short_schools.sort(key=lambda t: -t[0])
            named = []
            for v, i in short_schools[:3]:
                gi = g_idx[i]
                T, req = d.current[gi, 0], d.need[gi, 0]
                if not (model.xi == i).any():
                    where = f"within {limit:g} minutes" if limit is not None else "in the county"
                    rules = " under the direction rules" if policy.direction_rules else ""
                    why = f"no school it may send to {where}{rules}"
                elif T < req:
                    why = f"it has {T} teachers for a requirement of {req} and nobody to replace those who leave"
                else:
                    why = f"it can spare {max(T - req, 0)} above its requirement of {req}"
                named.append(f"{d.ids[gi]} short by {_count(v)} ({why})")
            messages.append(
                f"county {c}: {required:,} eligible teachers must rotate out of {nschools} "
                f"urban/high-quality schools ({_pct(required, eligible)} of {eligible:,} eligible), "
                f"but under the rules the receiving schools can absorb only "
                f"{_count(required - total_short)} (short by {short}): " + "; ".join(named)
            )
    beta = policy.backbone_share_of(standard)
    for label, v in zip(model.share_labels, short_b, strict=True):
        if v > 1e-6:
            violations[f"{label}: backbone_share"] = float(v)
            if label in counties:
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
    exc = Infeasible("the rotation quota cannot be met. " + " | ".join(messages), violations)
    return exc


def _count(v: float) -> str:
    """A teacher count: whole when it is one, else one decimal."""
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def _pct(a: float, b: float) -> str:
    """``a / b`` as a percentage (n/a for b = 0)."""
    return f"{a / b:.0%}" if b else "n/a"
