"""The plan's tables from the integer moves and hires of every block.

Checks the whole plan on the way (every category conserved, no negative count, the subsets within
the teachers) and builds the tables of :class:`~allocator.planners.teachers.plan.TeacherPlan`:
``transfers``, ``hires``, ``staffing``, ``allocation_r2``, ``backbone_by_area``, ``counties`` and
``solves``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from allocator.errors import SolverError
from allocator.metrics import allocation_r2
from allocator.planners.teachers.categories import (
    BACKBONE,
    CATEGORIES,
    NEED_COLUMN,
    NEEDS,
    PE_ARTS,
    QUALIFIED,
)
from allocator.planners.teachers.data import TeacherData

__all__ = ["Moves", "SOLVE_COLUMNS", "plan_tables"]

#: Columns of ``TeacherPlan.solves`` (one row per solve).
SOLVE_COLUMNS = (
    "block",
    "stage",
    "method",
    "status",
    "objective",
    "gap",
    "seconds",
    "columns",
    "rows",
)


class Moves(NamedTuple):
    """Teachers moved, one entry per (sender, receiver, category) with a count > 0.

    ``sender`` and ``receiver`` are rows of the region's schools table; ``category`` indexes
    :data:`~allocator.planners.teachers.categories.CATEGORIES`.
    """

    sender: np.ndarray
    receiver: np.ndarray
    category: np.ndarray
    count: np.ndarray
    minutes: np.ndarray


def _counts_after(d: TeacherData, moves: Moves, hires: np.ndarray):
    """Teachers sent and received per school and category, and T, Q, B, E after the plan.

    Raises SolverError if the plan leaves a negative count, a subset above the teachers, or a
    category not conserved.
    """
    N = len(d.ids)
    out_c = np.zeros((N, 4), dtype=np.int64)
    in_c = np.zeros((N, 4), dtype=np.int64)
    np.add.at(out_c, (moves.sender, moves.category), moves.count)
    np.add.at(in_c, (moves.receiver, moves.category), moves.count)
    delta = in_c - out_c + hires
    mov_after = d.movable + delta
    T, Q, B, E = (d.current[:, k] for k in range(4))
    after = np.column_stack(
        [
            T + delta.sum(axis=1),
            Q + delta[:, BACKBONE] + delta[:, QUALIFIED],
            B + delta[:, BACKBONE],
            E + delta[:, PE_ARTS],
        ]
    )
    # whole-plan checks: conservation per category, no negative counts, subsets within teachers
    if (mov_after < 0).any() or (after < 0).any():
        raise SolverError("the plan leaves a negative teacher count")
    if (after[:, 1:] > after[:, :1]).any():
        raise SolverError(
            "the plan leaves a school with more qualified/backbone/PE-arts than teachers"
        )
    if not np.array_equal(delta.sum(axis=0), hires.sum(axis=0)):
        raise SolverError("rotations do not conserve teachers in every category")
    return out_c, in_c, after


def _transfers_table(d: TeacherData, moves: Moves) -> pd.DataFrame:
    """``transfers``: one row per move, sorted by county, sender, receiver, category."""
    ids = d.ids
    transfers = pd.DataFrame(
        {
            "from_school_id": ids[moves.sender],
            "to_school_id": ids[moves.receiver],
            "category": np.array(CATEGORIES, dtype=object)[moves.category],
            "count": moves.count,
            "minutes": np.round(moves.minutes, 2),
            "county": d.county[moves.sender],
        }
    )
    transfers = transfers.sort_values(["county", "from_school_id", "to_school_id", "category"])
    return transfers.reset_index(drop=True)


def _hires_table(d: TeacherData, hires: np.ndarray) -> pd.DataFrame:
    """``hires``: one row per school and category hired."""
    hi, hc = np.nonzero(hires)
    return pd.DataFrame(
        {
            "school_id": d.ids[hi],
            "category": np.array(CATEGORIES, dtype=object)[hc],
            "count": hires[hi, hc],
            "county": d.county[hi],
        }
    )


def _staffing_table(d: TeacherData, out_c, in_c, hires, after) -> pd.DataFrame:
    """``staffing``: one row per school with its needs, counts and shortfalls before and after."""
    short_before = np.maximum(d.need - d.current, 0)
    short_after = np.maximum(d.need - after, 0)
    staffing = pd.DataFrame(
        {
            "school_id": d.ids,
            "county": d.county,
            "area_type": d.area,
            "level": d.level,
            "pupils": d.pupils,
            "required_teachers": d.need[:, 0],
            "need_qualified": d.need[:, 1],
            "need_backbone": d.need[:, 2],
            "need_pe_arts": d.need[:, 3],
        }
    )
    for k, need in enumerate(NEEDS):
        col = NEED_COLUMN[need]
        staffing[f"{col}_before"] = d.current[:, k]
        staffing[f"{col}_after"] = after[:, k]
    for k, need in enumerate(NEEDS):
        staffing[f"{need}_shortfall_before"] = short_before[:, k]
        staffing[f"{need}_shortfall_after"] = short_after[:, k]
    staffing["weighted_shortfall_before"] = (d.weight * short_before).sum(axis=1)
    staffing["weighted_shortfall_after"] = (d.weight * short_after).sum(axis=1)
    staffing["eligible"] = d.eligible
    staffing["rotation_school"] = d.rotation_school
    staffing["high_quality"] = d.high_quality
    staffing["rotation_required"] = d.quota
    staffing["sent"] = out_c.sum(axis=1)
    staffing["sent_backbone"] = out_c[:, BACKBONE]
    staffing["received"] = in_c.sum(axis=1)
    staffing["received_backbone"] = in_c[:, BACKBONE]
    staffing["hired"] = hires.sum(axis=1)
    return staffing


def plan_tables(
    d: TeacherData, moves: Moves, hires: np.ndarray, solve_rows: list[dict]
) -> dict[str, pd.DataFrame]:
    """Every table of the plan from the moves, the hires per (school, category) and the solves.

    Raises
    ------
    SolverError
        The plan leaves a negative count or does not conserve a category.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.teachers.data import school_arrays
    >>> from allocator.planners.teachers.policy import TeacherPolicy
    >>> policy = TeacherPolicy()
    >>> d = school_arrays(make_region(schools=20, seed=1), policy, policy.load_standard())
    >>> none = np.zeros(0, dtype=np.int64)
    >>> tables = plan_tables(d, Moves(none, none, none, none, np.zeros(0)), 0 * d.movable, [])
    >>> int(tables["staffing"]["sent"].sum()), len(tables["transfers"])
    (0, 0)
    """
    out_c, in_c, after = _counts_after(d, moves, hires)
    staffing = _staffing_table(d, out_c, in_c, hires, after)
    return {
        "transfers": _transfers_table(d, moves),
        "hires": _hires_table(d, hires),
        "staffing": staffing,
        "allocation_r2": _r2_table(d, d.current[:, 0], after[:, 0]),
        "backbone_by_area": _area_table(d, d.current[:, 2], after[:, 2]),
        "counties": _county_table(d, staffing, after),
        "solves": pd.DataFrame(solve_rows, columns=list(SOLVE_COLUMNS)),
    }


def _safe_r2(pupils, teachers) -> float:
    """R^2 of teachers on pupils (NaN where undefined)."""
    try:
        return allocation_r2(pupils, teachers)
    except ValueError:
        return float("nan")


def _r2_table(d: TeacherData, before, after) -> pd.DataFrame:
    """``allocation_r2``: R^2 of teachers on pupils per county and level, before and after."""
    rows = []
    frame = pd.DataFrame({"county": d.county, "level": d.level})
    for (c, lv), grp in frame.groupby(["county", "level"], sort=False):
        i = grp.index.to_numpy()
        rb = _safe_r2(d.pupils[i], before[i]) if len(i) >= 3 else float("nan")
        ra = _safe_r2(d.pupils[i], after[i]) if len(i) >= 3 else float("nan")
        rows.append(
            {
                "county": c,
                "level": lv,
                "schools": len(i),
                "r2_before": rb,
                "r2_after": ra,
                "randomness_before": 1 - rb,
                "randomness_after": 1 - ra,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "county",
            "level",
            "schools",
            "r2_before",
            "r2_after",
            "randomness_before",
            "randomness_after",
        ],
    )


def _area_table(d: TeacherData, before, after) -> pd.DataFrame:
    """``backbone_by_area``: backbone teachers by area type (compulsory education)."""
    rows = []
    comp = d.compulsory
    total_b = before[comp].sum()
    total_a = after[comp].sum()
    for a in ("urban", "town", "rural"):
        m = comp & (d.area == a)
        if not m.any():
            continue
        p = d.pupils[m].sum()
        bb, ba = int(before[m].sum()), int(after[m].sum())
        rows.append(
            {
                "area_type": a,
                "schools": int(m.sum()),
                "pupils": int(p),
                "backbone_before": bb,
                "backbone_after": ba,
                "backbone_per_100_before": 100.0 * bb / p if p else float("nan"),
                "backbone_per_100_after": 100.0 * ba / p if p else float("nan"),
                "backbone_share_before": bb / total_b if total_b else float("nan"),
                "backbone_share_after": ba / total_a if total_a else float("nan"),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "area_type",
            "schools",
            "pupils",
            "backbone_before",
            "backbone_after",
            "backbone_per_100_before",
            "backbone_per_100_after",
            "backbone_share_before",
            "backbone_share_after",
        ],
    )


def _gap(d: TeacherData, B, mask) -> float:
    """Urban minus rural backbone teachers per 100 pupils among the schools in ``mask``."""
    u = mask & d.compulsory & (d.area == "urban")
    r = mask & d.compulsory & (d.area == "rural")
    pu, pr = d.pupils[u].sum(), d.pupils[r].sum()
    if not pu or not pr:
        return float("nan")
    return 100.0 * B[u].sum() / pu - 100.0 * B[r].sum() / pr


def _county_table(d: TeacherData, st: pd.DataFrame, after) -> pd.DataFrame:
    """``counties``: per county rotations, hires, shortfalls and the backbone gap."""
    rows = []
    for c in dict.fromkeys(d.county):
        m = d.county == c
        s = st[m]
        rows.append(
            {
                "county": c,
                "schools": int(m.sum()),
                "rotation_schools": int(s["rotation_school"].sum()),
                "eligible_in_rotation_schools": int(s.loc[s["rotation_school"], "eligible"].sum()),
                "rotation_required": int(s["rotation_required"].sum()),
                "rotated": int(s["sent"].sum()),
                "rotated_from_rotation_schools": int(s.loc[s["rotation_school"], "sent"].sum()),
                "backbone_rotated": int(s["sent_backbone"].sum()),
                "hires": int(s["hired"].sum()),
                "staff_shortfall_before": int(s["staff_shortfall_before"].sum()),
                "staff_shortfall_after": int(s["staff_shortfall_after"].sum()),
                "weighted_shortfall_before": float(s["weighted_shortfall_before"].sum()),
                "weighted_shortfall_after": float(s["weighted_shortfall_after"].sum()),
                "backbone_gap_before": _gap(d, d.current[:, 2], m),
                "backbone_gap_after": _gap(d, after[:, 2], m),
            }
        )
    return pd.DataFrame(rows)
