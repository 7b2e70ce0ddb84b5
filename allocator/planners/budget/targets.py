"""Targets a budget plan must reach on the open indicators: every school at a bandwidth tier, every
boarding school with the full safety set.

A policy sets ``targets = {bandwidth_mbps = {at_least = 1000, schools = "all"},
alarm_video_linked = {at_least = 1, schools = "boarding"}}``: each key an open indicator of the
standard (:mod:`allocator.standards.open_set`), ``at_least`` the value every chosen school must
reach, ``schools`` which ones (:data:`TARGET_SCHOOLS`: all, boarding schools, or the urban, town or
rural ones). Only schools the plan can fund (those with an in-scope compulsory part) are chosen, and
a boarding-only indicator is asked only of boarding schools.

Model
-----
For target t on indicator i (school column c_s, denominator n_s: 1, classes or teachers) and each
chosen school s with n_s > 0 and ``at_least * n_s > c_s``:

    sum_j effect_j x[s, j] >= at_least * n_s - c_s      over the interventions j that add to c

A target per teacher counts the teachers the plan's posts add (t_j per unit of post j): the row
``c_s + sum_j effect_j x >= at_least (n_s + sum_j t_j x)`` stays linear as

    sum_j (effect_j - at_least t_j) x[s, j] >= at_least * n_s - c_s

and is kept at every chosen school, short or not (a post can bring a school below the target).

A target is met first, at least cost: :func:`allocator.planners.budget.floor.target_floor` solves the MILP "min sum c[s,j] x[s,j]
subject to every target row, the unit caps and the category and county caps" (no budget row), and
the plan's model then keeps those units as lower bounds of x while its objective spends the rest
of the budget. Before that solve, a school whose target stays out of reach with every intervention
at its cap is named (:class:`~allocator.errors.Infeasible`, ``violations`` the schools short per
target); after it, the least cost is compared with the budget (short by how many yuan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from allocator.errors import InputError
from allocator.planners.base import freeze
from allocator.text import plural

__all__ = [
    "TARGET_SCHOOLS",
    "Target",
    "check_targets",
    "build_targets",
    "add_coupled_rows",
    "unmet",
]

#: Which schools a target applies to.
TARGET_SCHOOLS = ("all", "boarding", "urban", "town", "rural")
_KEYS = ("at_least", "schools")


def _reject(name, value, message):
    raise InputError(f"target {name!r}: {message}", table="policy", column="targets", value=value)


def check_targets(targets) -> Mapping:
    """The policy's ``targets`` checked and frozen: name -> {at_least, schools}.

    Examples
    --------
    >>> dict(check_targets({"bandwidth_mbps": {"at_least": 1000}})["bandwidth_mbps"])
    {'at_least': 1000.0, 'schools': 'all'}
    >>> check_targets({"guard_post": {"at_least": 1, "schools": "city"}})
    Traceback (most recent call last):
    ...
    allocator.errors.InputError: table 'policy', column 'targets': target 'guard_post': schools='city'; expected one of all, boarding, urban, town, rural
    """
    if targets is None:
        return freeze({})
    if not isinstance(targets, Mapping):
        raise InputError(
            f"targets={targets!r}; expected a table of indicator -> {{at_least, schools}}",
            table="policy",
            column="targets",
            value=targets,
        )
    out = {}
    for name, spec in targets.items():
        if not isinstance(spec, Mapping):
            _reject(name, spec, f"{spec!r}; expected a table with at_least and schools")
        bad = [k for k in spec if k not in _KEYS]
        if bad:
            _reject(name, bad[0], f"unknown key {bad[0]!r}; expected at_least and schools")
        level = spec.get("at_least")
        if isinstance(level, bool) or not isinstance(level, int | float) or not level >= 0:
            _reject(name, level, f"at_least={level!r}; expected a number >= 0")
        schools = spec.get("schools", "all")
        if schools not in TARGET_SCHOOLS:
            _reject(
                name, schools, f"schools={schools!r}; expected one of {', '.join(TARGET_SCHOOLS)}"
            )
        out[str(name)] = {"at_least": float(level), "schools": schools}
    return freeze(out)


@dataclass(frozen=True)
class Target:
    """One target's rows: candidate schools ``s`` that fall short, by ``need`` column units."""

    name: str
    at_least: float
    schools: str
    column: str
    s: np.ndarray  # (R,) candidate school index of each row
    need: np.ndarray  # (R,) column units the school lacks
    gain: np.ndarray  # (J,) column units one unit of each intervention adds
    chosen: int  # schools the target asks of (short or not)

    def matrix(self, S: int) -> sp.csr_matrix:
        """The rows on unit columns (R, S*J), ordered school by school."""
        J = len(self.gain)
        js = np.flatnonzero(self.gain != 0)
        rows = np.repeat(np.arange(len(self.s)), len(js))
        cols = (self.s[:, None] * J + js[None, :]).ravel()
        vals = np.tile(self.gain[js], len(self.s))
        return sp.csr_matrix((vals, (rows, cols)), shape=(len(self.s), S * J))


def build_targets(cand, targets: Mapping, indicators: Mapping, catalogue, column_of) -> list:
    """The :class:`Target` rows of a policy's targets on the candidate schools ``cand``.

    ``indicators`` maps each targeted open indicator to its
    :class:`~allocator.standards.OpenIndicator`; ``column_of`` is each intervention's column.
    """
    out = []
    area = cand["area_type"].to_numpy()
    boarding = (
        cand["boarding_school"].to_numpy(float) == 1
        if "boarding_school" in cand
        else np.zeros(len(cand), bool)
    )
    for name, spec in targets.items():
        oi = indicators[name]
        den = (
            np.ones(len(cand))
            if oi.per == "school"
            else cand[{"class": "classes", "teacher": "teachers"}[oi.per]].to_numpy(float)
        )
        chosen = den > 0
        if spec["schools"] in ("urban", "town", "rural"):
            chosen &= area == spec["schools"]
        if spec["schools"] == "boarding" or oi.applies_to == "boarding":
            chosen &= boarding
        need = spec["at_least"] * den - cand[oi.column].to_numpy(float)
        short = chosen & (need > 1e-9 * np.maximum(1.0, spec["at_least"] * den))
        gain = np.array(
            [
                row.effect if column_of[j] == oi.column else 0.0
                for j, row in enumerate(catalogue.itertuples(index=False))
            ]
        )
        if oi.per == "teacher":  # a post bought raises the denominator: at_least more needed
            gain = gain - spec["at_least"] * _teachers_added(catalogue)
        if (gain < 0).any():  # a school meeting the target now may fall below it with new posts
            short = chosen
        short = np.flatnonzero(short)
        out.append(
            Target(name, spec["at_least"], spec["schools"], oi.column, short, need[short], gain,
                   int(chosen.sum()))
        )  # fmt: skip
    return out


def add_coupled_rows(b, x, data, scale) -> None:
    """Add the rows of the targets that purchases can also lower (per-teacher targets, which
    teacher posts dilute) on unit columns ``x`` scaled by ``scale``: the least-cost floor of
    the other targets is enough (more units only raise them), these must hold for every plan."""
    for t in data.targets:
        if len(t.s) and (t.gain < 0).any():
            b.add_rows(f"target_{t.name}", len(t.s), {x: t.matrix(data.S) @ sp.diags(scale)},
                       lower=t.need)  # fmt: skip


def _teachers_added(catalogue) -> np.ndarray:
    """(J,) teachers one unit of each intervention adds (teacher posts: their effect)."""
    adds = catalogue["adds_teachers"].to_numpy(bool)
    return np.where(adds, catalogue["effect"].to_numpy(float), 0.0)


def unmet(data, units) -> str:
    """Which targets ``units`` leave unmet (empty when every row holds), for messages.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.budget.data import prepare
    >>> from allocator.planners.budget.policy import BudgetPolicy
    >>> import numpy as np
    >>> policy = BudgetPolicy(budget=1e7, targets={"guard_post": {"at_least": 1}})
    >>> data = prepare(make_region(schools=30, seed=1), policy)
    >>> unmet(data, np.zeros(data.S * data.J))
    'guard_post at 8 schools'
    """
    out = []
    for t in data.targets:
        got = t.matrix(data.S) @ units
        short = got < t.need * (1 - 1e-9)
        if short.any():
            out.append(f"{t.name} at {plural(int(short.sum()), 'school')}")
    return "; ".join(out)
