"""The kindergarten plan: :class:`KindergartenPlan`, its tables, headline and summary."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allocator.errors import InputError
from allocator.fingerprint import region_fingerprint
from allocator.i18n import Words
from allocator.planners.base import PlanBase
from allocator.planners.kindergartens.policy import KindergartenPolicy
from allocator.planners.kindergartens.tables import reach_rows
from allocator.region import KINDERGARTEN_COLUMNS, Region
from allocator.solver import SolveInfo

__all__ = ["KindergartenPlan", "kindergartens_digest", "SWEEP_FIGURES"]

#: The headline figures a sweep keeps of each kindergarten step (``<step>.<figure>``), so that
#: variants over e.g. ``public_share`` or ``budget_yuan`` can be compared: the enrolment rates over
#: the children within reach and over all, places added, yuan, the shares, the solve status.
SWEEP_FIGURES = (
    "gross_enrolment_rate_within_reach",
    "gross_enrolment_rate",
    "new_places",
    "capital_yuan",
    "inclusive_share",
    "public_share",
    "subsidy_yuan_per_year",
    "children_beyond_limit",
    "status",
)


def kindergartens_digest(region: Region) -> str:
    """A digest of the region's fingerprint and its kindergartens table (which the region's
    fingerprint leaves out), so that a plan is applied once, to the region it was made for.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> a = make_region(schools=30, seed=1, kindergartens=True)
    >>> kindergartens_digest(a) == kindergartens_digest(make_region(schools=30, seed=1))
    False
    """
    digest = hashlib.sha256(region_fingerprint(region).encode())
    k = region.kindergartens
    if k is not None and len(k):
        digest.update(repr(list(k.columns)).encode())
        digest.update(pd.util.hash_pandas_object(k, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class KindergartenPlan(PlanBase):
    """Kindergarten places for a region (frozen: :attr:`tables` gives copies).

    Attributes
    ----------
    kindergartens : pandas.DataFrame
        One row per kindergarten and candidate site: ``kindergarten_id, name, node``,
        ``status_before, ownership_before, places_before, classes_before``, ``action`` (keep,
        expand, convert, expand+convert, build, none), ``ownership_after, places_after,
        classes_after, capital_yuan, subsidy_yuan_per_year, children, utilisation``.
    settlements : pandas.DataFrame
        ``settlement_id, area_type, node, children`` (aged 3-5), ``children_source``,
        ``limit_minutes, placed, unplaced, within_limit`` (a kindergarten or site within the
        walking limit), ``nearest_site_minutes``.
    assignments : pandas.DataFrame
        ``settlement_id, kindergarten_id, children, walking_minutes, limit_minutes``.
    targets : pandas.DataFrame
        ``indicator, target, before, after, setting, scope`` (national or local), ``source,
        met``; "before" of the enrolment rate is today's places / children (at most 1), of the
        shares today's places by ownership.
    standard : pandas.DataFrame
        The preschool standard used: ``setting, value, scope, source, confirmed``.
    solve_info : SolveInfo
    policy : KindergartenPolicy

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.kindergartens import plan_kindergartens
    >>> region = make_region(schools=40, seed=3, kindergartens=True)
    >>> plan = plan_kindergartens(region)
    >>> after = plan.apply(region)
    >>> int(after.kindergartens["places"].sum()) >= int(region.kindergartens["places"].sum())
    True
    """

    kindergartens: pd.DataFrame
    settlements: pd.DataFrame
    assignments: pd.DataFrame
    targets: pd.DataFrame
    standard: pd.DataFrame
    solve_info: SolveInfo
    policy: KindergartenPolicy
    region_name: str = ""
    region_fingerprint: str | None = field(default=None, repr=False)

    plan_name = "kindergarten plan"

    @property
    def objective_value(self) -> float | None:
        """Yuan: building, expansion, subsidies over the plan years, plus the walking term."""
        return self.solve_info.objective

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every plan table by name (copies; written as CSV by the scenario runner)."""
        return {
            "kindergartens": self.kindergartens.copy(),
            "kindergarten_settlements": self.settlements.copy(),
            "kindergarten_assignments": self.assignments.copy(),
            "kindergarten_targets": self.targets.copy(),
            "kindergarten_reach": self.reach(),
            "preschool_standard": self.standard.copy(),
        }

    def reach(self) -> pd.DataFrame:
        """Children within walking reach of a site and beyond every limit, by area type and for
        the whole region ("all"), with the enrolment rate over each (the plan's
        ``kindergarten_reach`` table; see :func:`~.tables.reach_rows`)."""
        return reach_rows(self.settlements)

    def headline(self) -> dict:
        """Key figures as a flat, JSON-safe dict.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.kindergartens import plan_kindergartens
        >>> h = plan_kindergartens(make_region(schools=40, seed=3, kindergartens=True)).headline()
        >>> list(h)[:4], h["gross_enrolment_rate_within_reach"] >= 0.9 - 1e-9
        (['status', 'gap', 'seconds', 'objective'], True)
        """
        k, s = self.kindergartens, self.settlements
        t = self.targets.set_index("indicator")["after"]
        built = k["action"] == "build"
        out = self.solve_headline()
        out["seconds"] = round(out["seconds"], 3)
        out |= {
            "children": float(s["children"].sum()),
            "placed": round(float(s["placed"].sum()), 6),
            "children_within_reach": float(s.loc[s["within_limit"], "children"].sum()),
            "children_beyond_limit": float(s.loc[~s["within_limit"], "children"].sum()),
            "gross_enrolment_rate": round(float(t["gross_enrolment_rate"]), 6),
            "gross_enrolment_rate_within_reach": round(float(t["enrolment_rate_within_reach"]), 6),
            "inclusive_share": round(float(t["inclusive_share"]), 6),
            "public_share": round(float(t["public_share"]), 6),
            "new_kindergartens": int(built.sum()),
            "new_places": int(k["places_after"].sum() - k["places_before"].sum()),
            "expanded": int(k["action"].str.contains("expand").sum()),
            "converted": int(k["action"].str.contains("convert").sum()),
            "capital_yuan": float(k["capital_yuan"].sum()),
            "subsidy_yuan_per_year": float(k["subsidy_yuan_per_year"].sum()),
            "targets_met": bool(self.targets["met"].all()),
        }
        beyond = self.reach().set_index("area_type")["beyond_limit"]
        for key in (
            "children_beyond_limit_urban",
            "children_beyond_limit_town",
            "children_beyond_limit_rural",
        ):
            out[key] = float(beyond.get(key.rsplit("_", 1)[1], 0.0))
        return out

    def summary(self, language: str = "en") -> str:
        """A short text a planner reads in 30 seconds (``language``: en or zh)."""
        w, h = Words(language), self.headline()
        lines = [
            f"{w('kindergarten.title', region=self.region_name or 'region')} "
            f"({self.solve_info.describe(language)})",
            "  " + w("kindergarten.children", children=f"{h['children']:,.0f}",
                     placed=f"{h['placed']:,.0f}", beyond=f"{h['children_beyond_limit']:,.0f}"),
            "  " + w("kindergarten.actions", built=h["new_kindergartens"],
                     new_places=f"{h['new_places']:,}", expanded=h["expanded"],
                     converted=h["converted"]),
            "  " + w("kindergarten.cost", capital=f"{h['capital_yuan']:,.0f}",
                     subsidy=f"{h['subsidy_yuan_per_year']:,.0f}"),
        ]  # fmt: skip
        lines += ["  " + line for line in self.reach_lines(language)]
        for r in self.targets.itertuples(index=False):
            before = "-" if r.before is None or pd.isna(r.before) else f"{r.before:.1%}"
            lines.append(
                "  "
                + w(
                    "kindergarten.target",
                    indicator=w(f"kindergarten.{r.indicator}"),
                    before=before,
                    after=f"{r.after:.1%}",
                    target=f"{r.target:.0%}",
                    verdict=w("word.passes" if r.met else "word.fails"),
                )
            )
        return "\n".join(lines)

    def reach_lines(self, language: str = "en") -> list[str]:
        """The enrolment rate after the plan over the children within walking reach and over all
        children, which of the two the target counts, and the children beyond every site's
        walking limit by area type with what would reach them (``language``: en or zh).

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.kindergartens import plan_kindergartens
        >>> plan = plan_kindergartens(make_region(schools=40, seed=3, kindergartens=True))
        >>> plan.reach_lines()[0][:50]
        'enrolment rate after the plan: 90.0% of the 2,102 '
        >>> plan.reach_lines("zh")[1][:35]
        '2,381 名幼儿在所有园所和候选用地的步行范围之外（城区 642 人'
        """
        w, r = Words(language), self.reach().set_index("area_type")
        total = r.loc["all"]

        def pct(value) -> str:
            return "-" if pd.isna(value) else f"{value:.1%}"

        scope = self.policy.target_scope
        target = f"{self.targets.set_index('indicator').loc['gross_enrolment_rate', 'target']:.0%}"
        lines = [
            w(
                "kindergarten.rates",
                within=pct(total["enrolment_rate_within_reach"]),
                reachable=f"{total['within_reach']:,.0f}",
                all=pct(total["gross_enrolment_rate"]),
                children=f"{total['children']:,.0f}",
                scope=w(f"kindergarten.scope.{scope}", target=target),
            )
        ]
        far = r.drop(index="all")
        far = far[far["beyond_limit"] > 0]
        if len(far):
            sep = w("kindergarten.list_sep")
            areas = sep.join(
                w("kindergarten.beyond_area", area=w(f"area.{a}"), n=f"{n:,.0f}")
                for a, n in far["beyond_limit"].items()
            )
            hints = [w("kindergarten.hint.sites")]
            if not set(far.index) <= set(self.policy.attached_class_area_types):
                hints.append(w("kindergarten.hint.attached"))
            if scope != "all":
                hints.append(w("kindergarten.hint.all"))
            lines.append(
                w(
                    "kindergarten.beyond",
                    beyond=f"{total['beyond_limit']:,.0f}",
                    areas=areas,
                    hints=w("kindergarten.hint_sep").join(hints),
                )
            )
        return lines

    def require_region(self, region) -> None:
        """Refuse anything but the region (kindergartens table included) the plan was made for."""
        if not isinstance(region, Region):
            raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
        if self.region_fingerprint is not None and kindergartens_digest(region) != (
            self.region_fingerprint
        ):
            raise InputError(
                "this kindergarten plan was made for another region (or its kindergartens "
                "table has changed since, e.g. the plan was applied already); plan again",
                table="kindergartens",
            )

    def yuan_figures(self, policy=None) -> dict[str, float]:
        """Building and expansion (``capital_yuan``) and the yearly inclusive subsidies
        (``running_change_yuan_per_year``)."""
        k = self.kindergartens
        return {
            "capital_yuan": float(k["capital_yuan"].sum()),
            "running_change_yuan_per_year": float(k["subsidy_yuan_per_year"].sum()),
        }

    def apply(self, region: Region) -> Region:
        """The region with its kindergartens table after the plan (a new Region): places,
        classes and ownership updated, built sites open; candidate sites left unbuilt stay.

        Examples
        --------
        >>> from allocator.synth import make_region
        >>> from allocator.planners.kindergartens import plan_kindergartens
        >>> region = make_region(schools=40, seed=3, kindergartens=True)
        >>> after = plan_kindergartens(region).apply(region)
        >>> set(after.kindergartens["status"]) <= {"open", "reserved", "vacated"}
        True
        """
        self.require_region(region)
        k = self.kindergartens
        picked = k["action"] != "none"
        table = pd.DataFrame(
            {
                "kindergarten_id": k["kindergarten_id"],
                "name": k["name"],
                "node": k["node"],
                "ownership": k["ownership_after"],
                "places": np.where(picked, k["places_after"], k["places_before"]),
                "classes": np.where(picked, k["classes_after"], k["classes_before"]),
                "status": np.where(picked, "open", k["status_before"]),
            }
        )
        before = region.kindergartens
        if before is not None:
            extra = [c for c in before.columns if c not in (*KINDERGARTEN_COLUMNS, "status")]
            table = table.merge(before[["kindergarten_id", *extra]], on="kindergarten_id",
                                how="left")  # fmt: skip
        return region.replace(kindergartens=table)
