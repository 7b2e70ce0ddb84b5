"""What every plan has in common: the plan protocol.

A planner (budget, teachers, mergers, districts, or one you add) returns a frozen plan object
built on :class:`PlanBase`. Every plan

* has a ``solve_info`` (:class:`~allocator.solver.SolveInfo`) and an ``objective_value``;
* gives a ``headline()`` dict whose first keys are :data:`HEADLINE_KEYS` (status, gap, seconds,
  objective), then its own figures (JSON-safe numbers and strings);
* gives ``tables`` (name -> DataFrame; copies, so changing them changes nothing in the plan) and a
  ``summary(language="en")`` (text for a person, in ``"en"`` or ``"zh"``; any other language
  raises one :class:`~allocator.errors.InputError`);
* ``apply(region)`` returns the region after the plan, refusing any region other than the one the
  plan was made for (:meth:`PlanBase.require_region`, by ``region_fingerprint``);
* ``to_geodataframes(region, crs)`` gives its map layers;
* ``yuan_figures(policy)`` gives what it costs, for a run's cost summary.

Policies are frozen dataclasses too, holding only read-only values (see :func:`freeze`), so a
policy can be hashed, compared and shipped to another process unchanged.
"""

from __future__ import annotations

from allocator.errors import InputError
from allocator.fingerprint import require_region
from allocator.frozen import FrozenMap, freeze
from allocator.region import Region

__all__ = ["HEADLINE_KEYS", "PlanBase", "FrozenMap", "freeze"]

#: The keys every plan's headline starts with, in this order.
HEADLINE_KEYS = ("status", "gap", "seconds", "objective")


class PlanBase:
    """Mixin for plan dataclasses (``@dataclass(frozen=True, eq=False)``).

    A subclass sets ``plan_name`` (used in messages, e.g. ``"budget plan"``) and has the fields
    ``solve_info`` and ``region_fingerprint`` and an ``objective_value`` (field or property).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from allocator.solver import SolveInfo
    >>> @dataclass(frozen=True, eq=False)
    ... class ToyPlan(PlanBase):
    ...     solve_info: SolveInfo
    ...     objective_value: float
    ...     region_fingerprint: str | None = None
    ...     plan_name = "toy plan"
    >>> ToyPlan(SolveInfo("optimal", 3.0, 3.0, 0.0, 0.25, "highs"), 3.0).solve_headline()
    {'status': 'optimal', 'gap': 0.0, 'seconds': 0.25, 'objective': 3.0}
    """

    plan_name = "plan"

    def solve_headline(self) -> dict:
        """``status``, ``gap``, ``seconds`` and ``objective``: the start of every headline."""
        info = self.solve_info
        objective = self.objective_value
        return {
            "status": info.status,
            "gap": None if info.gap is None else float(info.gap),
            "seconds": float(info.seconds),
            "objective": None if objective is None else float(objective),
        }

    def to_geodataframes(self, region: Region | None = None, crs=None) -> dict:
        """The plan's tables as GeoDataFrames placed on ``region`` (the region it was made for).

        Needs the GIS extra (``pip install "edu-allocator[gis]"``); the layers are those of
        :func:`allocator.gis.export.plan_geodataframes`.
        """
        from allocator.gis import to_geodataframes

        return to_geodataframes(self, region, crs)

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """Money for a run's cost summary, by key: ``capital_yuan``, ``hiring_yuan_per_year``,
        ``running_change_yuan_per_year``. A plan that spends nothing keeps this default ({})."""
        return {}

    def require_region(self, region) -> None:
        """Refuse (:class:`~allocator.errors.InputError`, one line) anything but a
        :class:`~allocator.region.Region`, and a region other than the one this plan was made
        for; plans built by hand (no fingerprint) are checked for the type only."""
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        require_region(self.region_fingerprint, region, self.plan_name)
