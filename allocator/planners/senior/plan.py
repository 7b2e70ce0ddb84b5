"""The senior plan: :class:`SeniorPlan`, its tables, headline and summary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.fingerprint import region_fingerprint
from allocator.i18n import Words
from allocator.planners.base import PlanBase
from allocator.planners.senior.policy import SeniorPolicy
from allocator.planners.senior.verify import verify_tables
from allocator.region import Region
from allocator.senior_schools import SENIOR_SCHOOL_COLUMNS
from allocator.solver import SolveInfo

__all__ = ["SeniorPlan", "senior_digest"]


def senior_digest(region: Region) -> str:
    """A digest of the region's fingerprint and its senior_schools table (which the region's
    fingerprint leaves out), so that a plan is applied once, to the region it was made for.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> a = make_region(schools=30, seed=1, senior_schools=True)
    >>> senior_digest(a) == senior_digest(make_region(schools=30, seed=1))
    False
    """
    digest = hashlib.sha256(region_fingerprint(region).encode())
    t = region.senior_schools
    if t is not None and len(t):
        digest.update(repr(list(t.columns)).encode())
        digest.update(pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class SeniorPlan(PlanBase):
    """General and vocational senior places for a region (frozen: :attr:`tables` gives copies).

    Attributes
    ----------
    schools : pandas.DataFrame
        One row per senior school and candidate site: ``senior_id, name, county, node,
        status_before`` (open, candidate), ``places_before, boarding_before,
        boarding_capacity`` (the most boarding places allowed; NaN: no limit), ``action`` (keep,
        expand, build, none), ``kind`` (general, vocational; empty for a site left unbuilt),
        ``places_after, added_places, pupils, pupils_beyond_daily_km, boarding_needed,
        boarding_after, boarding_added, places_yuan, boarding_yuan, capital_yuan, utilisation``.
    counties : pandas.DataFrame
        ``county, cohort`` (junior graduates), ``needed, general_min, general_max,
        vocational_min``, places by kind before and after, pupils by kind, ``placed,
        general_share, met``.
    assignments : pandas.DataFrame
        ``settlement_id, county, senior_id, name, pupils, km, boards`` (beyond the daily limit).
    settlements : pandas.DataFrame
        ``settlement_id, county, node, graduates, pupils`` (places needed), ``placed,
        nearest_site_km``.
    standard : pandas.DataFrame
        The senior standard used: ``setting, value, confirmed``.
    solve_info : SolveInfo
        The counties' solves together.
    policy : SeniorPolicy
    source : str
        Where the cohort comes from (``region`` or ``forecast <year>``).
    """

    schools: pd.DataFrame
    counties: pd.DataFrame
    assignments: pd.DataFrame
    settlements: pd.DataFrame
    standard: pd.DataFrame
    solve_info: SolveInfo
    policy: SeniorPolicy
    source: str = "region"
    region_name: str = ""
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "senior plan"

    @property
    def objective_value(self) -> float | None:
        """Yuan: places built and added, the km term and the boarding places the pupils need
        beyond those each campus holds (before rounding to whole places; see
        :mod:`allocator.planners.senior`)."""
        return self.solve_info.objective

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (copies; written as CSV by the scenario runner)."""
        return {
            "senior_schools": self.schools.copy(),
            "senior_counties": self.counties.copy(),
            "senior_assignments": self.assignments.copy(),
            "senior_settlements": self.settlements.copy(),
            "senior_standard": self.standard.copy(),
        }

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.senior import plan_senior
        >>> h = plan_senior(make_region(schools=40, seed=3, senior_schools=True)).headline()
        >>> list(h)[:4], h["targets_met"]
        (['status', 'gap', 'seconds', 'objective'], True)
        """
        k, c = self.schools, self.counties
        out = self.solve_headline()
        out["seconds"] = round(out["seconds"], 3)
        placed = float(c["placed"].sum())
        general = float(c["general_pupils"].sum())
        out |= {
            "graduates": int(c["cohort"].sum()),
            "places_needed": int(c["needed"].sum()),
            "placed": round(placed, 6),
            "general_share": round(general / placed, 6) if placed else None,
            "new_campuses": int((k["action"] == "build").sum()),
            "expanded": int((k["action"] == "expand").sum()),
            "new_places": int(k["added_places"].sum()),
            "boarding_added": int(k["boarding_added"].sum()),
            "capital_yuan": float(k["capital_yuan"].sum()),
            "counties": len(c),
            "targets_met": bool(c["met"].all()),
        }
        return out

    def summary(self, language: str = "en") -> str:
        """A short text a planner reads in 30 seconds (``language``: en or zh)."""
        w, h = Words(language), self.headline()
        lines = [
            f"{w('senior.title', region=self.region_name or 'region')} "
            f"({self.solve_info.describe()})",
            "  " + w("senior.cohort", graduates=f"{h['graduates']:,}",
                     needed=f"{h['places_needed']:,}", placed=f"{h['placed']:,.0f}"),
            "  " + w("senior.actions", built=h["new_campuses"], expanded=h["expanded"],
                     new_places=f"{h['new_places']:,}", boarding=f"{h['boarding_added']:,}"),
            "  " + w("senior.cost", capital=f"{h['capital_yuan']:,.0f}"),
        ]  # fmt: skip
        for r in self.counties.itertuples(index=False):
            share = "-" if pd.isna(r.general_share) else f"{r.general_share:.1%}"
            lines.append(
                "  "
                + w(
                    "senior.county",
                    county=r.county,
                    needed=f"{r.needed:,}",
                    general=f"{r.general_pupils:,.0f}",
                    vocational=f"{r.vocational_pupils:,.0f}",
                    share=share,
                    verdict=w("word.passes" if r.met else "word.fails"),
                )
            )
        return "\n".join(lines)

    def verify(self) -> None:
        """Recompute the plan from its tables: every pupil placed in the county within reach,
        places kept, the 普职比 band, the size limit, boarding places and the cost (raises
        :class:`~allocator.errors.SolverError` on the first breach).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.senior import plan_senior
        >>> plan_senior(make_region(schools=40, seed=3, senior_schools=True)).verify()
        """
        own = {"schools": self.schools, "counties": self.counties, "standard": self.standard,
               "assignments": self.assignments, "settlements": self.settlements}  # fmt: skip
        verify_tables(own, self.objective_value, self.policy.yuan_per_pupil_km)

    def require_region(self, region) -> None:
        """Refuse anything but the region (senior_schools table included) the plan was made for."""
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        if self.region_fingerprint is not None and senior_digest(region) != (
            self.region_fingerprint
        ):
            raise InputError(
                "this senior plan was made for another region (or its senior_schools table has "
                "changed since, e.g. the plan was applied already); plan again",
                table="senior_schools",
            )

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """Places built and added and boarding places added (``capital_yuan``)."""
        return {"capital_yuan": float(self.schools["capital_yuan"].sum())}

    def apply(self, region: Region) -> Region:
        """The region with its senior_schools table after the plan (a new Region): places and
        boarding places updated, new campuses added; candidate sites left unbuilt are not kept, and
        the schools of counties outside the plan stay as they are.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.senior import plan_senior
        >>> region = make_region(schools=40, seed=3, senior_schools=True)
        >>> after = plan_senior(region).apply(region)
        >>> int(after.senior_schools["places"].sum()) >= int(region.senior_schools["places"].sum())
        True
        """
        self.require_region(region)
        k = self.schools[self.schools["action"] != "none"]
        table = pd.DataFrame(
            {
                "senior_id": k["senior_id"],
                "name": k["name"],
                "county": k["county"],
                "node": k["node"],
                "kind": k["kind"],
                "places": k["places_after"].astype(np.int64),
                "boarding_places": k["boarding_after"].astype(np.int64),
            }
        )
        before = region.senior_schools
        if before is not None:
            extra = [c for c in before.columns if c not in SENIOR_SCHOOL_COLUMNS]
            table = table.merge(before[["senior_id", *extra]], on="senior_id", how="left")
            kept = before[~before["senior_id"].isin(table["senior_id"])]  # other counties'
            table = pd.concat([kept, table], ignore_index=True)
        return region.replace(senior_schools=table.reset_index(drop=True))
