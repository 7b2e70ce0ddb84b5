"""The training allocation: a year's places, programme by programme, to schools, for each year of
the calendar.

Model
-----
Sets: schools s (with teachers), programmes p (seats_p places a year, h_p hours and c_p yuan a
place, backbone or not), plan years y = 1 .. H. Regions hold counts, so places are counts per
school, programme and year: x[y,s,p] >= 0 whole.

Constraints (every year y):
    sum_s x[y,s,p] <= seats_p                               (seats)
    sum_p x[y,s,p] <= n_s                                   (a teacher takes one place a year, so
                                                             a teacher's hours are counted once)
    sum_{s,p} c_p x[y,s,p] <= budget                        (yuan a year)
    sum_{y,p backbone} x[y,s,p] <= n_s - B_s                (a backbone place trains a teacher who
                                                             is not one yet)
    backbone places only while B_s(y) < R_s                 (none beyond the standard's threshold)
State: B_s(y) = B_s + backbone places so far; H_s(y) = H_s + sum of h_p x over the years so far.

Priority rule (the objective, applied place by place each year):

1. Backbone places first, each to the school with the lowest backbone ratio B_s(y) / R_s among
   those still below R_s that may take a place (ties: rural, then town, then urban, then table
   order), from the first backbone programme (table order) with a seat left that the year's money
   covers. The ratio is updated after every place (water-filling), so no school with a lower ratio
   is passed over for one with a higher ratio while it still needs places, and no place goes to a
   school that has reached R_s: the threshold is reached everywhere as fast as the seats allow.
2. Then the other programmes' places, each to the school whose teachers are furthest behind,
   (T_s - H_s(y)) / n_s per teacher, among schools still behind that may take a place, from the
   first such programme (table order) with a seat left that the money covers. T_s = n_s x
   cycle_hours x (years of the cycle by the end of the calendar) / cycle_years is what the
   school's teachers need by the end of the calendar to be on track for 360 hours in five years;
   aiming at it from year 1 uses every year's seats (a teacher takes one place a year, so hours
   left to the last year could not all be taken then).

The allocation is what the rule gives (there is no solver and no gap); :mod:`.verify` recomputes
every constraint and the priority rule from the calendar.
"""

from __future__ import annotations

import heapq

import numpy as np

from allocator.planners.training.data import TrainingData

__all__ = ["allocate"]


def _first_programme(progs, seats_left, money, cost) -> int | None:
    """The first programme of ``progs`` with a seat left whose place the money covers."""
    for p in progs:
        if seats_left[p] > 0 and cost[p] <= money + 1e-9:
            return p
    return None


def _backbone_year(data, x, seats_left, money, taken, backbone, hours):
    """Step 1 of the rule for one year; returns the money left."""
    progs = np.flatnonzero(data.programmes["backbone"].to_numpy(bool))
    cost = data.programmes["cost_per_place"].to_numpy(float)
    h = data.programmes["hours"].to_numpy(float)
    n, need = data.teachers, data.required

    def eligible(s):
        return backbone[s] < need[s] and backbone[s] < n[s] and taken[s] < n[s]

    heap = [(backbone[s] / need[s], data.rank[s], s) for s in range(data.S) if eligible(s)]
    heapq.heapify(heap)
    while heap:
        p = _first_programme(progs, seats_left, money, cost)
        if p is None:
            break
        _, _, s = heapq.heappop(heap)
        x[s, p] += 1
        seats_left[p] -= 1
        money -= cost[p]
        taken[s] += 1
        backbone[s] += 1
        hours[s] += h[p]
        if eligible(s):
            heapq.heappush(heap, (backbone[s] / need[s], data.rank[s], s))
    return money


def _hours_year(data, x, seats_left, money, taken, hours):
    """Step 2 of the rule for one year."""
    progs = np.flatnonzero(~data.programmes["backbone"].to_numpy(bool))
    cost = data.programmes["cost_per_place"].to_numpy(float)
    h = data.programmes["hours"].to_numpy(float)
    n = data.teachers
    target = data.on_track_hours(data.horizon)

    def behind(s):
        return hours[s] < target[s] - 1e-9 and taken[s] < n[s]

    heap = [(-(target[s] - hours[s]) / n[s], data.rank[s], s) for s in range(data.S) if behind(s)]
    heapq.heapify(heap)
    while heap:
        p = _first_programme(progs, seats_left, money, cost)
        if p is None:
            break
        _, _, s = heapq.heappop(heap)
        x[s, p] += 1
        seats_left[p] -= 1
        money -= cost[p]
        taken[s] += 1
        hours[s] += h[p]
        if behind(s):
            heapq.heappush(heap, (-(target[s] - hours[s]) / n[s], data.rank[s], s))


def allocate(data: TrainingData) -> np.ndarray:
    """Places x[y, s, p] (H, S, P) by the priority rule of the module notes.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.training.data import prepare
    >>> from allocator.planners.training.policy import TrainingPolicy
    >>> data = prepare(make_region(schools=30, seed=1), TrainingPolicy(horizon=2))
    >>> x = allocate(data)
    >>> x.shape == (2, data.S, len(data.programmes))
    True
    >>> bool((x.sum(axis=1) <= data.programmes["seats"].to_numpy()).all())
    True
    """
    P = len(data.programmes)
    seats = data.programmes["seats"].to_numpy(np.int64)
    out = np.zeros((data.horizon, data.S, P), dtype=np.int64)
    backbone = data.backbone.astype(np.int64).copy()
    hours = data.hours.astype(float).copy()
    for y in range(data.horizon):
        x = out[y]
        seats_left = seats.copy()
        taken = np.zeros(data.S, dtype=np.int64)
        money = _backbone_year(data, x, seats_left, data.budget, taken, backbone, hours)
        _hours_year(data, x, seats_left, money, taken, hours)
    return out
