"""A training calendar recomputed against its model (:mod:`.model`): :func:`verify`.

From the places x[y, s, p] alone: seats never exceeded, at most one place a teacher a year (a
teacher's hours counted once), the year's money kept, backbone places only to teachers who are not
backbone teachers yet and only while the school is below its requirement, and the backbone
priority rule (:func:`priority_breaches`). :func:`trajectory` gives the backbone teachers and hours
after each year, the figures the plan reports.
"""

from __future__ import annotations

import numpy as np

from allocator.errors import SolverError
from allocator.planners.training.data import TrainingData

__all__ = ["trajectory", "priority_breaches", "verify"]


def trajectory(data: TrainingData, x: np.ndarray):
    """Backbone teachers and hours (H + 1, S) at the start and after each year of places ``x``.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.training.data import prepare
    >>> from allocator.planners.training.policy import TrainingPolicy
    >>> data = prepare(make_region(schools=20, seed=1), TrainingPolicy(horizon=1))
    >>> b, h = trajectory(data, np.zeros((1, data.S, len(data.programmes)), dtype=int))
    >>> bool((b[1] == data.backbone).all() and (h[1] == data.hours).all())
    True
    """
    is_bb = data.programmes["backbone"].to_numpy(bool)
    h = data.programmes["hours"].to_numpy(float)
    gained_bb = x[:, :, is_bb].sum(axis=2)
    gained_h = (x * h[None, None, :]).sum(axis=2)
    b = data.backbone[None, :] + np.vstack([np.zeros((1, data.S)), np.cumsum(gained_bb, axis=0)])
    hours = data.hours[None, :] + np.vstack([np.zeros((1, data.S)), np.cumsum(gained_h, axis=0)])
    return b.astype(np.int64), hours


def priority_breaches(data: TrainingData, x: np.ndarray) -> list[str]:
    """Where the backbone priority rule does not hold, as sentences (empty when it holds).

    In a year, school a is passed over when it still needs backbone teachers at the end of the
    year (B_a < R_a), could still take a backbone place (a teacher who is not one yet, a teacher
    without a place this year), and another school b received a backbone place when its ratio
    (B_b - 1) / R_b before that place was higher than a's ratio B_a / R_a at the end of the year
    (a's ratio only grows through the year, so it was lower still when b got the place).
    """
    is_bb = data.programmes["backbone"].to_numpy(bool)
    b, _ = trajectory(data, x)
    out = []
    n, need = data.teachers, data.required
    for y in range(x.shape[0]):
        got = x[y][:, is_bb].sum(axis=1)
        taken = x[y].sum(axis=1)
        end = b[y + 1]
        open_ = (end < need) & (end < n) & (taken < n)
        if not open_.any() or not got.any():
            continue
        lowest = np.min(end[open_] / need[open_])
        receivers = np.flatnonzero(got > 0)
        last = (end[receivers] - 1) / need[receivers]
        bad = receivers[last > lowest + 1e-12]
        if len(bad):
            sid = data.schools["school_id"].iloc[bad[0]]
            out.append(
                f"year {y + 1}: {sid} received a backbone place at ratio "
                f"{last[last > lowest + 1e-12][0]:.3f} while a school at {lowest:.3f} still needed one"
            )
    return out


def verify(data: TrainingData, x: np.ndarray) -> None:
    """Check places ``x`` (H, S, P) against every constraint of the model and its priority rule.

    Raises
    ------
    SolverError
        Naming each constraint broken.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.training.data import prepare
    >>> from allocator.planners.training.policy import TrainingPolicy
    >>> from allocator.planners.training.model import allocate
    >>> data = prepare(make_region(schools=20, seed=1), TrainingPolicy(horizon=2))
    >>> verify(data, allocate(data))  # passes silently
    """
    problems = []
    progs = data.programmes
    seats = progs["seats"].to_numpy(np.int64)
    cost = progs["cost_per_place"].to_numpy(float)
    is_bb = progs["backbone"].to_numpy(bool)
    if (x < 0).any():
        problems.append("negative places")
    over = x.sum(axis=1) > seats[None, :]
    if over.any():
        y, p = np.argwhere(over)[0]
        problems.append(f"year {y + 1}: programme {progs['programme'].iloc[p]} above its seats")
    per_teacher = x.sum(axis=2) > data.teachers[None, :]
    if per_teacher.any():
        problems.append(f"{int(per_teacher.sum())} school-years with more places than teachers")
    spent = (x * cost[None, None, :]).sum(axis=(1, 2))
    if (spent > data.budget * (1 + 1e-9) + 1e-6).any():
        problems.append(f"a year spends {spent.max():,.2f} yuan above {data.budget:,.2f}")
    b, _ = trajectory(data, x)
    if (b[-1] > np.maximum(data.teachers, data.backbone)).any():
        problems.append("more backbone teachers than teachers")
    got = x[:, :, is_bb].sum(axis=2)
    beyond = (got > 0) & (b[:-1] + got > np.maximum(data.required, data.backbone)[None, :])
    if beyond.any():
        problems.append(f"{int(beyond.sum())} backbone places beyond a school's requirement")
    problems += priority_breaches(data, x)
    if problems:
        raise SolverError("the training plan failed verification: " + "; ".join(problems))
