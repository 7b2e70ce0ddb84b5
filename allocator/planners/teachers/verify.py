"""Checks of the teacher planner: before any solve, and of each block's rounded plan after it.

Before: rotation quotas above what may leave a school (no solver needed). After each block:
eligibility, quotas, backbone share, senders at their requirement, hiring quota, allowed pairs
and minutes (:func:`verify_block`); conservation of every category and no negative count are
checked on the whole plan by :func:`allocator.planners.teachers.tables.plan_tables`.

A rotation school must send ``ceil(rotation_share x eligible)`` teachers. It can send at most its
eligible teachers that are free to move (some heads are locked by the overlap of the categories,
see :mod:`allocator.planners.teachers.data`) and at most ``floor(max_rotation_share x eligible)``.
When the quota is above that limit no plan exists, whatever the other schools do: this module
names every such school of every county at once, with the two numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.errors import Infeasible, SolverError
from allocator.planners.teachers.data import TeacherData, allowed_moves
from allocator.planners.teachers.model import BlockModel
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.standards import Standard

__all__ = [
    "UNPLANNED_COLUMNS",
    "WAIVED_COLUMNS",
    "quota_above_limit",
    "waived_rows",
    "combined_error",
    "unplanned_rows",
    "verify_block",
]

#: Columns of ``TeacherPlan.unplanned``.
UNPLANNED_COLUMNS = ("county", "schools", "requirement", "amount", "reason")
#: Columns of ``TeacherPlan.quota_waived``.
WAIVED_COLUMNS = ("county", "school_id", "rotation_required", "reason")


def quota_above_limit(
    ids: np.ndarray,
    county: np.ndarray,
    quota: np.ndarray,
    eligible: np.ndarray,
    movable: np.ndarray,
    out_cap: np.ndarray,
    rotation_share: float,
    max_rotation_share: float | None,
) -> Infeasible | None:
    """The rotation schools whose quota exceeds the teachers they may send, as an Infeasible.

    Parameters
    ----------
    ids, county : numpy.ndarray
        School ids and counties.
    quota : numpy.ndarray
        Teachers each school must rotate (0: not a rotation school).
    eligible : numpy.ndarray
        Eligible teachers of each school.
    movable : numpy.ndarray
        Eligible teachers free to move (every category together).
    out_cap : numpy.ndarray
        Most teachers that may leave each school (movable, and the max_rotation_share cap).
    rotation_share, max_rotation_share : float
        The policy's shares (for the message).

    Returns
    -------
    Infeasible or None
        None when every quota can be sent. Otherwise ``violations`` maps
        ``"<county>: rotation_quota <school_id>"`` to the teachers missing.

    Examples
    --------
    >>> exc = quota_above_limit(
    ...     np.array(["S1", "S2"]), np.array(["A", "A"]), np.array([9, 2]), np.array([10, 20]),
    ...     np.array([8, 20]), np.array([8, 20]), 0.9, None)
    >>> exc.violations
    {'A: rotation_quota S1': 1.0}
    """
    bad = np.flatnonzero(quota > out_cap)
    if not len(bad):
        return None
    violations: dict[str, float] = {}
    per_county: dict[str, list[str]] = {}
    for i in bad:
        short = int(quota[i] - out_cap[i])
        violations[f"{county[i]}: rotation_quota {ids[i]}"] = float(short)
        why = []
        if max_rotation_share is not None and out_cap[i] >= np.floor(
            max_rotation_share * eligible[i] + 1e-9
        ):
            why.append(f"max_rotation_share {max_rotation_share:g}")
        if movable[i] < quota[i]:
            why.append(f"{int(movable[i])} of its eligible teachers are free to move")
        per_county.setdefault(str(county[i]), []).append(
            f"{ids[i]} must rotate {int(quota[i])} ({rotation_share:.0%} of {int(eligible[i])} "
            f"eligible) but at most {int(out_cap[i])} may leave ({'; '.join(why)}), "
            f"short by {short}"
        )
    n = len(per_county)
    parts = [
        f"county {c}: "
        + "; ".join(words[:5])
        + (f" and {len(words) - 5} more" if len(words) > 5 else "")
        for c, words in per_county.items()
    ]
    message = (
        f"the rotation quota cannot be met in {n} {'county' if n == 1 else 'counties'}: "
        + " | ".join(parts)
        + "; lower rotation_share or raise max_rotation_share"
    )
    return Infeasible(message, violations)


def waived_rows(
    ids: np.ndarray, county: np.ndarray, quota: np.ndarray, policy: TeacherPolicy
) -> pd.DataFrame:
    """Rows of ``TeacherPlan.quota_waived`` for rotation schools with no allowed receiver.

    Examples
    --------
        >>> rows = waived_rows(np.array(["S1"]), np.array(["A"]), np.array([3]), TeacherPolicy())
    >>> rows.astype(str).iloc[0].tolist()
    ['A', 'S1', '3', 'no school it may send to within 60 minutes under the direction rules']
    """
    limit = policy.travel_limit_minutes
    where = f"within {limit:g} minutes" if limit is not None else "in the county"
    rules = " under the direction rules" if policy.direction_rules else ""
    district = " in its district" if policy.same_district else ""
    reason = f"no school it may send to {where}{district}{rules}"
    return pd.DataFrame(
        {
            "county": county,
            "school_id": ids,
            "rotation_required": quota.astype(np.int64),
            "reason": reason,
        },
        columns=list(WAIVED_COLUMNS),
    )


def combined_error(errors: list[Infeasible]) -> Infeasible:
    """One Infeasible for every county without a plan (the county's own if only one).

    Examples
    --------
    >>> e = combined_error([Infeasible("county A: x", {"A: q": 1.0}), Infeasible("B", {"B: q": 2.0})])
    >>> e.message, e.violations
    ('2 counties have no plan: county A: x | B', {'A: q': 1.0, 'B: q': 2.0})
    """
    if len(errors) == 1:
        return errors[0]
    violations: dict[str, float] = {}
    for exc in errors:
        violations.update({k: float(v) for k, v in exc.violations.items()})
    message = f"{len(errors)} counties have no plan: " + " | ".join(e.message for e in errors)
    return Infeasible(message, violations)


def unplanned_rows(failed: list[tuple[str, int, Infeasible]]) -> pd.DataFrame:
    """Rows of ``TeacherPlan.unplanned``: per county (label, schools, error), the requirement
    that fails most and by how many teachers.

    Examples
    --------
    >>> rows = unplanned_rows([("A", 3, Infeasible("county A: short", {"A: rotation_quota": 2.0}))])
    >>> rows.astype(str).iloc[0].tolist()
    ['A', '3', 'A: rotation_quota', '2.0', 'county A: short']
    """
    rows = []
    for label, schools, exc in failed:
        key, amount = max(exc.violations.items(), key=lambda kv: kv[1], default=("", np.nan))
        rows.append(
            {
                "county": label,
                "schools": int(schools),
                "requirement": key,
                "amount": float(amount),
                "reason": exc.message,
            }
        )
    return pd.DataFrame(rows, columns=list(UNPLANNED_COLUMNS))


def verify_block(
    d: TeacherData,
    idx: np.ndarray,
    model: BlockModel,
    x: np.ndarray,
    h: np.ndarray,
    counties: list[str],
    caps: dict[str, float],
    policy: TeacherPolicy,
    standard: Standard,
) -> None:
    """Check the rounded plan of one block against the rules; raise SolverError if violated.

    ``x`` and ``h`` are the block's integer moves and hires, in the model's column order.
    """
    problems = []
    n = model.n
    moved = x > 0
    xi, xj, xc = model.xi[moved], model.xj[moved], model.xc[moved]
    cnt = x[moved]
    out_c = np.zeros((n, 4), dtype=np.int64)
    in_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(out_c, (xi, xc), cnt)
    np.add.at(in_c, (xj, xc), cnt)
    hire_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(hire_c, (model.hi, model.hc), h)
    elig = d.elig[idx]
    if (out_c > elig).any():
        problems.append("more teachers of a category rotate than are eligible")
    out = out_c.sum(axis=1)
    if (out > d.out_cap[idx]).any():
        problems.append("more teachers rotate out of a school than are eligible")
    if (out < d.quota[idx]).any():
        bad = int(np.flatnonzero(out < d.quota[idx])[0])
        problems.append(f"rotation quota missed at {d.ids[idx][bad]}")
    T = d.current[idx, 0]
    after = T + (in_c - out_c + hire_c).sum(axis=1)
    senders = out > 0
    if (after[senders] < np.minimum(d.need[idx, 0], T)[senders]).any():
        problems.append("a sending school fell below its requirement")
    if policy.receiver_headroom_share is not None:
        top = np.maximum(
            T, np.ceil(np.round((1 + policy.receiver_headroom_share) * d.need[idx, 0], 9))
        )
        if (after[in_c.sum(axis=1) > 0] > top[in_c.sum(axis=1) > 0]).any():
            problems.append("a receiving school exceeds its headroom")
    beta = policy.backbone_share_of(standard)
    rot = d.rotation_school[idx]
    county = d.county[idx]
    for c in counties:
        mask = rot & (county == c)
        if out_c[mask, 0].sum() < beta * out[mask].sum() - 1e-9:
            problems.append(f"backbone teachers are under their share of rotations in {c}")
    if policy.backbone_share_scope == "school":
        least = np.ceil(np.round(beta * d.quota[idx], 9))
        if (out_c[rot, 0] < least[rot]).any():
            problems.append("a rotation school sends too few backbone teachers")
    for c in counties:
        if h[county[model.hi] == c].sum() > caps[c] + 1e-9:
            problems.append(f"hires in {c} exceed the hiring quota")
    gi, gj = idx[xi], idx[xj]
    if not allowed_moves(d, gi, gj, policy).all():
        problems.append("a move breaks the pair rules")
    if (
        policy.travel_limit_minutes is not None
        and (model.xm[moved] > policy.travel_limit_minutes + 1e-9).any()
    ):
        problems.append("a move exceeds the travel limit")
    if problems:
        raise SolverError(
            "the solver's plan fails its own rules after rounding: " + "; ".join(problems)
        )
