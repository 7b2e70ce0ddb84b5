"""Checks of the teacher planner that need no solver: run on every county before any solve.

A rotation school must send ``ceil(rotation_share x eligible)`` teachers. It can send at most its
eligible teachers that are free to move (some heads are locked by the overlap of the categories,
see :mod:`allocator.planners.teachers`) and at most ``floor(max_rotation_share x eligible)``.
When the quota is above that limit no plan exists, whatever the other schools do: this module
names every such school of every county at once, with the two numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allocator.errors import Infeasible

if TYPE_CHECKING:
    from allocator.planners.teachers import TeacherPolicy

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
    >>> from allocator.planners.teachers import TeacherPolicy
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
