"""The kindergarten plan recomputed from its tables against its model."""

from __future__ import annotations

import math

import numpy as np

from allocator.errors import SolverError
from allocator.planners.kindergartens.data import KindergartenData
from allocator.planners.kindergartens.model import Targets

__all__ = ["verify_plan"]

_TOL = 1e-6


def verify_plan(
    data: KindergartenData, tables: dict, targets: Targets, objective: float, weight: float
) -> None:
    """Raise SolverError unless the plan keeps every rule of its model.

    Checked from the tables alone: every assignment is within its settlement's walking limit;
    no settlement is placed beyond its children; no kindergarten holds more children than its
    places after the plan, nor fewer places than before; existing kindergartens stay open; the
    enrolment, inclusive and public shares reach the targets imposed; the budget holds; the cost
    recomputed from the actions plus the walking term (``weight`` yuan per
    child-minute) equals the objective.
    """
    k, s, a = tables["kindergartens"], tables["settlements"], tables["assignments"]
    share, inclusive, public, budget = targets
    far = a["walking_minutes"] > a["limit_minutes"] + _TOL
    if far.any():
        r = a[far].iloc[0]
        raise SolverError(
            f"the plan sends children of {r.settlement_id} {r.walking_minutes:.1f} minutes to "
            f"{r.kindergarten_id}, beyond the {r.limit_minutes:g}-minute limit"
        )
    placed = a.groupby("settlement_id")["children"].sum().reindex(s["settlement_id"]).fillna(0)
    if (placed.to_numpy() > s["children"].to_numpy() + _TOL).any():
        raise SolverError("the plan places more children of a settlement than live there")
    load = a.groupby("kindergarten_id")["children"].sum().reindex(k["kindergarten_id"]).fillna(0)
    over = load.to_numpy() > k["places_after"].to_numpy() + _TOL
    if over.any():
        raise SolverError(f"the plan fills {k['kindergarten_id'][over].iloc[0]} beyond its places")
    existing = k["status_before"] == "open"
    if (k.loc[existing, "places_after"] < k.loc[existing, "places_before"]).any():
        raise SolverError("the plan takes places away from an existing kindergarten")
    total = float(a["children"].sum())
    if total < share * float(s["children"].sum()) - _TOL * max(1.0, total):
        raise SolverError(f"the plan places {total:g} children, below the enrolment target")
    by_owner = a.merge(k[["kindergarten_id", "ownership_after"]], on="kindergarten_id")
    for owners, target in ((("public", "inclusive_private"), inclusive), (("public",), public)):
        got = float(by_owner.loc[by_owner["ownership_after"].isin(owners), "children"].sum())
        if got < target * total - _TOL * max(1.0, total):
            raise SolverError(f"the plan places {got:g} of {total:g} children in {owners}")
    years = data.norms.value("costs.plan_years")
    spent = float(k["capital_yuan"].sum() + years * k["subsidy_yuan_per_year"].sum())
    if budget is not None and spent > budget * (1 + 1e-9) + _TOL:
        raise SolverError(f"the plan spends {spent:,.0f} yuan, over the budget {budget:,.0f}")
    walking = float(np.dot(a["children"], a["walking_minutes"]))
    recomputed = spent + walking * weight
    if not math.isclose(recomputed, objective, rel_tol=1e-6, abs_tol=1e-3):
        raise SolverError(
            f"recomputed cost {recomputed:,.2f} differs from the model's {objective:,.2f}"
        )
