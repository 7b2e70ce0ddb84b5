"""The district plan: :class:`DistrictPlan`, its tables, headline and summary."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.i18n import Words
from allocator.planners.base import FrozenMap, PlanBase
from allocator.planners.districts.policy import DistrictPolicy
from allocator.region import Region
from allocator.solver import SolveInfo

__all__ = ["DistrictPlan"]


@dataclass(frozen=True, eq=False)
class DistrictPlan(PlanBase):
    """School districts for a region (frozen: :attr:`tables` gives copies).

    Attributes
    ----------
    districts : pandas.DataFrame
        One row per school of the region: ``school_id, district`` and ``county, planned``
        (False: not districted, attached to its nearest district), ``strong, quality, pupils``.
    district_summary : pandas.DataFrame
        One row per district: ``district, county, schools, strong_schools, pupils``,
        ``quality_mean`` (pupil-weighted), ``quality_min, quality_max``, ``centre_school_id``,
        ``mean_minutes_to_centre`` (pupil-weighted, along the adjacency graph),
        ``longest_minutes`` (longest road trip between two of its schools), ``detached`` (True:
        an exclave of its county districted apart, outside the balance and strong-school rules;
        see :mod:`allocator.planners.districts`) and, per indicator,
        ``<indicator>_ratio``: pupil-weighted mean of value / threshold over its schools' parts.
    counties : pandas.DataFrame
        Per county: ``county, schools, districts, detached_schools, method, status, gap,
        seconds, objective, quality_spread, mean_minutes_to_centre, notes`` (the partition's
        figures leave detached districts out); ``notes`` says when the exact model
        stopped without a plan and ``method="auto"`` fell back to the heuristic (``method`` is
        then ``heuristic``), or when the solver's plan was worse than its start and the start was
        kept.
    theil : mapping
        ``theil_before`` (school level), ``theil_after_pooling`` (between planned districts),
        ``theil_between_share_before`` (grouped by township), ``theil_between_share_after``
        (grouped by planned district).
    solve_info : SolveInfo
        Worst status and largest gap over the counties, total time.
    policy : DistrictPolicy
    partitions : mapping
        County -> :class:`allocator.districting.Partition`.
    graphs : mapping
        County -> the school adjacency graph (networkx; nodes carry ``pupils, quality, strong``,
        edges ``minutes``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.districts import DistrictPolicy, plan_districts
    >>> region = make_region(schools=40, seed=3)
    >>> plan = plan_districts(region, DistrictPolicy(method="heuristic"))
    >>> after = plan.apply(region)
    >>> bool(after.schools["district"].notna().all())
    True
    """

    districts: pd.DataFrame
    district_summary: pd.DataFrame
    counties: pd.DataFrame
    theil: Mapping
    solve_info: SolveInfo
    policy: DistrictPolicy
    partitions: Mapping = field(default_factory=FrozenMap, repr=False)
    graphs: Mapping = field(default_factory=FrozenMap, repr=False)
    region_name: str = ""
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "district plan"

    def __post_init__(self):
        for name in ("theil", "partitions", "graphs"):
            object.__setattr__(self, name, FrozenMap(getattr(self, name)))

    @property
    def objective_value(self) -> float | None:
        """Sum of the counties' objectives (quality spread and travel terms)."""
        return self.solve_info.objective

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (copies; written as CSV by the scenario runner)."""
        return {
            "districts": self.districts.copy(),
            "district_summary": self.district_summary.copy(),
            "counties": self.counties.copy(),
        }

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.districts import DistrictPolicy, plan_districts
        >>> plan = plan_districts(make_region(schools=40, seed=3), DistrictPolicy(method="heuristic"))
        >>> h = plan.headline()
        >>> h["districts"] == len(plan.district_summary)
        True
        """
        s = self.district_summary
        out = self.solve_headline()
        out["seconds"] = round(out["seconds"], 3)
        out |= {
            "districts": int(len(s)),
            "schools": int(self.districts["planned"].sum()),
            "schools_attached": int((~self.districts["planned"]).sum()),
            "largest_quality_spread": float(self.counties["quality_spread"].max()),
            "mean_minutes_to_centre": float(
                np.average(s["mean_minutes_to_centre"], weights=s["pupils"])
            )
            if len(s) and s["pupils"].sum() > 0
            else 0.0,
            "longest_minutes": float(s["longest_minutes"].max()) if len(s) else 0.0,
        }
        out.update({k: _round(v) for k, v in self.theil.items()})
        return out

    def summary(self, language: str = "en") -> str:
        """A short text a planner reads in 30 seconds (``language``: ``"en"`` or ``"zh"``).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.districts import DistrictPolicy, plan_districts
        >>> plan = plan_districts(make_region(schools=40, seed=3), DistrictPolicy(method="heuristic"))
        >>> "学区" in plan.summary("zh").splitlines()[0]
        True
        """
        w, h = Words(language), self.headline()
        na = w("summary.na")
        lines = [
            w("summary.districts.title", region=self.region_name or w("summary.the_region"),
              districts=h["districts"], schools=h["schools"], status=self.solve_info.describe(language)),
            "  " + w("summary.districts.spread", spread=f"{h['largest_quality_spread']:.3f}"),
            "  " + w("summary.districts.travel", mean=f"{h['mean_minutes_to_centre']:.1f}",
                     longest=f"{h['longest_minutes']:.0f}"),
            "  " + w("summary.districts.theil",
                     before=_pct(h["theil_between_share_before"], na),
                     after=_pct(h["theil_between_share_after"], na)),
        ]  # fmt: skip
        detached = self.district_summary.get("detached")
        if detached is not None and detached.any():
            lines.append(
                "  "
                + w(
                    "summary.districts.detached",
                    schools=int(self.district_summary.loc[detached, "schools"].sum()),
                    districts=int(detached.sum()),
                    minutes=f"{self.policy.max_trip_minutes:g}",
                )
            )
        if h["schools_attached"]:
            lines.append("  " + w("summary.districts.attached", schools=h["schools_attached"]))
        cols = ["district", "schools", "strong_schools", "pupils", "quality_mean"]
        top = self.district_summary[cols].head(12)
        top.columns = [w(f"summary.districts.col.{c}") for c in cols]
        lines.append("  " + top.to_string(index=False).replace("\n", "\n  "))
        return "\n".join(lines)

    def apply(self, region: Region) -> Region:
        """The region with a ``district`` column in its schools table (a new Region).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.districts import DistrictPolicy, plan_districts
        >>> region = make_region(schools=40, seed=3)
        >>> plan = plan_districts(region, DistrictPolicy(method="heuristic"))
        >>> "district" in region.schools.columns, "district" in plan.apply(region).schools.columns
        (False, True)
        """
        self.require_region(region)
        schools = region.schools.copy()
        mapping = dict(zip(self.districts["school_id"], self.districts["district"], strict=True))
        ids = schools["school_id"].astype(str)
        missing = [s for s in ids if s not in mapping]
        if missing:
            raise InputError(
                f"the plan has no district for {len(missing)} school(s) of this region "
                f"(e.g. {missing[0]!r}); apply a plan to the region it was made for",
                table="schools",
                column="school_id",
                row_id=missing[0],
            )
        schools["district"] = ids.map(mapping).to_numpy(object)
        return region.replace(schools=schools)


def _round(v):
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(v, 6)


def _pct(v, na: str = "n/a") -> str:
    return na if v is None else f"{v:.1%}"
