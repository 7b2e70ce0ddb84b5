"""The entry point of the kindergarten planner: :func:`plan_kindergartens`."""

from __future__ import annotations

from collections.abc import Callable

from allocator.errors import InputError
from allocator.planners.kindergartens.data import kindergarten_data
from allocator.planners.kindergartens.model import placed_today, solve_model, targets
from allocator.planners.kindergartens.plan import KindergartenPlan, kindergartens_digest
from allocator.planners.kindergartens.policy import KindergartenPolicy
from allocator.planners.kindergartens.tables import plan_tables, target_rows
from allocator.planners.kindergartens.verify import verify_plan
from allocator.region import Region
from allocator.solver import SolverOptions

__all__ = ["plan_kindergartens"]


def plan_kindergartens(
    region: Region,
    policy: KindergartenPolicy | None = None,
    options: SolverOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> KindergartenPlan:
    """Plan kindergarten places: which sites to build, which kindergartens to expand or make
    inclusive, and which settlement's children go where within the walking limits.

    The model is stated in :mod:`allocator.planners.kindergartens`.

    Parameters
    ----------
    region : Region
        With a ``kindergartens`` table (:class:`~allocator.region.Region`) or candidate nodes
        in the policy.
    policy : KindergartenPolicy, optional
    options : SolverOptions, optional
        Default: HiGHS, gap 1e-6, the policy's time limit.
    progress : callable, optional
        Called with a short string at each stage.

    Returns
    -------
    KindergartenPlan

    Raises
    ------
    Infeasible
        The targets cannot be met; the message gives the numbers (children within reach, the
        largest places possible, inclusive and public places at most).
    InputError
        No kindergartens and no candidate sites, or malformed data.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3, kindergartens=True)
    >>> plan = plan_kindergartens(region)
    >>> bool(plan.targets["met"].iloc[1:].all()), plan.solve_info.status
    (True, 'optimal')
    """
    if not isinstance(region, Region):
        raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
    policy = policy or KindergartenPolicy()
    if not isinstance(policy, KindergartenPolicy):
        raise InputError(
            f"expected a KindergartenPolicy, got {type(policy).__name__}", table="policy"
        )
    say = progress or (lambda _msg: None)
    say("kindergartens: reading children, sites and walking times")
    data = kindergarten_data(region, policy)
    if data.sites.empty:
        raise InputError(
            "the region has no kindergartens table and the policy no candidate_nodes; expected "
            "kindergartens or sites to plan",
            table="kindergartens",
        )
    say("kindergartens: solving")
    result = solve_model(data, policy, options)
    tables = plan_tables(data, result)
    imposed = targets(data, policy)
    verify_plan(data, tables, imposed, result.objective, policy.yuan_per_child_minute)
    tables["targets"] = target_rows(data, tables, placed_today(data, options))
    return KindergartenPlan(
        kindergartens=tables["kindergartens"],
        settlements=tables["settlements"],
        assignments=tables["assignments"],
        targets=tables["targets"],
        standard=tables["standard"],
        solve_info=result.info,
        policy=policy,
        region_name=region.name,
        region_fingerprint=kindergartens_digest(region),
    )
