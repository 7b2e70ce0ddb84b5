"""The kindergarten model on the location core (:func:`allocator.location.levelled_location`).

Clients are settlements (demand: children aged 3-5), sites are kindergartens and candidate sites,
levels are what a site can become (see :mod:`allocator.planners.kindergartens`); a pair is allowed
when the walk is within the settlement's limit, at ``yuan_per_child_minute`` per child-minute.
Tags ``public`` and ``inclusive`` carry the share targets; existing kindergartens are required
sites (they stay open); the enrolment target is the core's coverage share.
"""

from __future__ import annotations

import numpy as np

from allocator.errors import Infeasible
from allocator.location import LevelResult, SiteLevels, levelled_location
from allocator.planners.kindergartens.data import KindergartenData
from allocator.planners.kindergartens.policy import KindergartenPolicy
from allocator.solver import SolverOptions
from allocator.text import plural

__all__ = ["Targets", "targets", "solve_model", "explain_targets", "placed_today"]


class Targets(tuple):
    """(enrolment share of all children imposed, inclusive share, public share, budget)."""


def targets(data: KindergartenData, policy: KindergartenPolicy) -> Targets:
    """The shares the core imposes: the enrolment rate becomes a share of all children (with
    ``target_scope="reachable"``: the rate times the children within reach of some site)."""
    norms = data.norms
    children = data.settlements["children"].to_numpy(float)
    total = float(children.sum())
    if policy.budget_yuan is not None or total <= 0:
        share = 0.0
    elif policy.target_scope == "all":
        share = norms.gross_enrolment_rate
    else:
        reach = np.diff(data.walk.indptr) > 0
        share = norms.gross_enrolment_rate * float(children[reach].sum()) / total
    return Targets((share, norms.inclusive_share, norms.public_share, policy.budget_yuan))


def explain_targets(data: KindergartenData, policy: KindergartenPolicy) -> None:
    """Raise Infeasible in the planner's words when a count shows the targets cannot be met."""
    share, inclusive, public, budget = targets(data, policy)
    children = data.settlements["children"].to_numpy(float)
    need = share * float(children.sum())
    reach = np.diff(data.walk.indptr) > 0
    reachable = float(children[reach].sum())
    lv = data.levels
    most = lv.groupby("site")["places"].max()
    most_inclusive = lv[lv["inclusive"]].groupby("site")["places"].max().sum()
    most_public = lv[lv["public"]].groupby("site")["places"].max().sum()
    rate = data.norms.gross_enrolment_rate
    if need > reachable + 1e-9:
        raise Infeasible(
            f"the enrolment target ({rate:.0%}) needs {need:,.0f} children placed, but only "
            f"{reachable:,.0f} of {children.sum():,.0f} children aged 3-5 live within walking "
            f"reach of a kindergarten or candidate site ({plural(int((~reach).sum()), 'settlement')} "
            'beyond every limit): add candidate sites or use target_scope = "reachable"',
            {"enrolment": need - reachable},
        )
    if need > most.sum() + 1e-9:
        raise Infeasible(
            f"the enrolment target needs {need:,.0f} places, but the kindergartens and candidate "
            f"sites hold at most {most.sum():,.0f} even at their largest: add candidate sites",
            {"places": need - float(most.sum())},
        )
    for name, share_, places in (("inclusive", inclusive, most_inclusive),
                                 ("public", public, most_public)):  # fmt: skip
        if share_ * need > places + 1e-9:
            raise Infeasible(
                f"the {name} share target ({share_:.0%}) needs {share_ * need:,.0f} children in "
                f"{name} kindergartens, but those could hold at most {places:,.0f}",
                {f"{name}_share": share_ * need - float(places)},
            )


def solve_model(
    data: KindergartenData, policy: KindergartenPolicy, options: SolverOptions | None
) -> LevelResult:
    """Solve the model; an infeasible one is explained with the targets' numbers."""
    share, inclusive, public, budget = targets(data, policy)
    explain_targets(data, policy)
    lv = data.levels
    levels = SiteLevels(
        site=lv["site"].to_numpy(np.int64),
        cost=lv["cost_yuan"].to_numpy(float),
        capacity=lv["places"].to_numpy(float),
        tags={"public": lv["public"].to_numpy(), "inclusive": lv["inclusive"].to_numpy()},
    )
    required = np.flatnonzero((data.sites["status"] == "open").to_numpy())
    cost = data.walk.copy()
    cost.data = cost.data * policy.yuan_per_child_minute
    if options is None:
        options = SolverOptions(mip_gap=policy.mip_gap, time_limit=policy.time_limit)
    try:
        return levelled_location(
            cost,
            data.settlements["children"].to_numpy(float),
            levels,
            required_sites=required,
            min_share=min(share, 1.0),
            tag_shares={"inclusive": inclusive, "public": public},
            budget=budget,
            options=options,
        )
    except Infeasible as exc:
        most = levelled_location(
            cost, data.settlements["children"].to_numpy(float),
            SiteLevels(site=levels.site, cost=np.zeros(levels.n_levels), capacity=levels.capacity),
            budget=0.0, options=options,
        ).total_served  # fmt: skip
        need = min(share, 1.0) * float(data.settlements["children"].sum())
        if most < need - 1e-6:
            why = (
                f"the enrolment target needs {need:,.0f} children placed, but with every site at "
                f"its largest size at most {most:,.0f} can be placed within the walking limits "
                "(settlements with more children than the sites near them can hold)"
            )
        else:
            groups = ", ".join(f"{g} short by {v:,.0f}" for g, v in exc.violations.items())
            why = (
                f"at most {most:,.0f} children can be placed within the walking limits (the "
                f"target needs {need:,.0f}), but not with the inclusive and public shares"
                f"{' within the budget' if budget is not None else ''} ({groups})"
            )
        raise Infeasible(f"no kindergarten plan meets the targets: {why}", exc.violations) from None


def placed_today(data: KindergartenData, options: SolverOptions | None) -> float:
    """The most children today's kindergartens can take within the walking limits (no
    building, expansion or conversion; no share targets): the enrolment "before"."""
    keep = data.levels.index[data.levels["action"] == "keep"]
    lv = data.levels.loc[keep]
    if lv.empty:
        return 0.0
    levels = SiteLevels(
        site=lv["site"].to_numpy(np.int64),
        cost=np.zeros(len(lv)),
        capacity=lv["places"].to_numpy(float),
    )
    result = levelled_location(
        data.walk, data.settlements["children"].to_numpy(float), levels, budget=0.0,
        options=options,
    )  # fmt: skip
    return result.total_served
