"""Running a scenario over years (``years = [first, last]`` and ``[forecast]`` in the file).

What :func:`allocator.pipeline.run_scenario` does when a scenario has ``years``:

1. **One forecast.** The region's data are the first year's. Its pupils are projected once, by
   settlement, band and year, from the first year to the last
   (:func:`allocator.forecast.forecast_region` with the ``[forecast]`` settings and birth
   scenario).
2. **Each step over years.** A step whose planner takes ``years`` and ``forecast`` (its plan
   function has both parameters) is given every year from the first to the last and that
   forecast; every planner reads them alike (the region is the first year's data, see
   :mod:`allocator.planners.years`). It plans on
   the region of the first year as the steps before it left it: the plan's ``region_in(first)``
   of an earlier step over years, or the region an earlier one-year step left. This is the
   simplest honest rule: a later step sees the earlier steps' changes of the first year, and
   sees each later year's pupils through the forecast by today's catchments on that layout; it
   does not see a closure an earlier step makes in a later year (a teacher step may staff a
   school a merger step closes two years on: read both timelines together).
3. **Steps without years** run once, on the first year's region, and the report says so.
4. **Measures by year.** Each step over years is judged on every ``region_in(year)`` with
   :func:`allocator.check.check` and the staffing norms (:func:`allocator.standards.required_staff`):
   pupils, teachers and teachers needed, classes, schools, school parts meeting the standard,
   county parts passing and the worst CV of each part type against its limit.
5. **Timeline and costs.** What each step does in which year: closures, conversions, extensions
   and openings (a consolidation plan's ``timeline``), hires (a teacher plan's ``flows``) and
   purchases (a budget plan's ``purchases``); and the yuan of each year, capital (new sites'
   build cost, purchases that last) apart from recurrent (the change in a layout's annual cost
   that year, the salaries of the posts added by then, posts and services bought by the year).
   A plan that prices its own years (a consolidation plan over years: its ``costs``) is taken
   as it is: each cost once, in the year it falls (a new site's build cost and each added seat's
   ``expansion_build_yuan_per_seat`` as capital in the year built; upkeep, transport and boarding
   as recurrent), so nothing is counted twice.
6. **The EPSSim table.** :func:`allocator.forecast.projection.projection_table` of the forecast,
   the standard's class sizes and staffing ratios.

Examples
--------
>>> from allocator.synth import make_region
>>> from allocator.scenario.years import ForecastSpec
>>> run = YearsRun(make_region(schools=20, seed=1), (2026, 2028), ForecastSpec("low"))
>>> run.years, sorted(run.forecast["year"].unique().tolist())
((2026, 2027, 2028), [2026, 2027, 2028])
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from allocator.check import check
from allocator.errors import InputError
from allocator.forecast import forecast_region
from allocator.forecast.projection import ProjectionSettings, projection_table
from allocator.scenario.years import over_years_tables
from allocator.standards import required_staff

__all__ = [
    "BY_YEAR_COLUMNS",
    "COST_COLUMNS",
    "LAST_YEAR_FIGURES",
    "TIMELINE_COLUMNS",
    "YearsRun",
    "plans_over_years",
    "year_figures",
    "year_rows",
]

#: Columns of the run's timeline (one row per change).
TIMELINE_COLUMNS = ("step", "year", "county", "school_id", "action", "other", "number", "yuan")
#: Columns of the measures by year (one row per step over years and year).
BY_YEAR_COLUMNS = (
    "step", "year", "pupils", "teachers", "teachers_needed", "classes", "schools",
    "school_parts", "school_parts_passing", "county_parts", "county_parts_passing",
    "cv_worst_primary", "cv_worst_junior", "cv_limit_primary", "cv_limit_junior",
)  # fmt: skip
#: Columns of the costs by year.
COST_COLUMNS = ("step", "year", "capital_yuan", "recurrent_yuan")
_BANDS = ("pupils_lower_primary", "pupils_upper_primary", "pupils_junior")


def plans_over_years(plan_function: Callable) -> bool:
    """Whether a planner plans over years: its function takes ``years`` and ``forecast``.

    Examples
    --------
    >>> plans_over_years(lambda region, policy, years=None, forecast=None: None)
    True
    >>> plans_over_years(lambda region, policy: None)
    False
    """
    try:
        names = inspect.signature(plan_function).parameters
    except (TypeError, ValueError):
        return False
    return "years" in names and "forecast" in names


class YearsRun:
    """The state of a run over years: the forecast, the steps planned so far, their notes.

    Parameters
    ----------
    region : Region
        The region as loaded: the first year's.
    years : (int, int)
        First and last year, both included.
    forecast : ForecastSpec
        The scenario's ``[forecast]``.
    """

    def __init__(self, region, years: tuple[int, int], forecast) -> None:
        self.years = tuple(range(years[0], years[1] + 1))
        settings = forecast.settings(years)
        births = forecast.birth_scenario()
        table = forecast_region(region, settings, self.years[0], births)
        self.forecast = table[table["year"].isin(self.years)].reset_index(drop=True)
        self.steps: list[tuple[str, object, object]] = []  # (name, plan, policy) over years
        self.once: list[str] = []  # steps run once on the first year

    def plan_step(self, planner, step, region, policy, options, progress) -> tuple[object, float]:
        """Plan one step: over the years when its planner can, else once on the first year.
        Returns ``(plan, seconds)``; the caller turns an InputError into one naming the step."""
        t0 = time.perf_counter()
        if plans_over_years(planner.plan):
            plan = planner.plan(
                region,
                policy,
                options=options,
                progress=progress,
                years=list(self.years),
                forecast=self.forecast,
                **over_years_tables(step.over_years, region.schools),
            )
            self.steps.append((step.name, plan, policy))
        else:
            plan = planner.plan(region, policy, options=options, progress=progress)
            self.once.append(step.name)
        return plan, time.perf_counter() - t0

    def region_after(self, name: str, plan, region):
        """The first year's region after a step (what the next step plans on)."""
        if any(name == n for n, _, _ in self.steps):
            return plan.region_in(self.years[0])
        return plan.apply(region)

    def outcome(self, standard) -> dict:
        """The run's tables over years: ``timeline``, ``by_year``, ``costs``, ``checks`` (each
        step's own ``verify()`` of every year), ``projection`` (EPSSim-shaped), ``forecast``;
        and ``first``, ``last``, ``once`` (the steps run once on the first year)."""
        timeline = [timeline_rows(name, plan, policy) for name, plan, policy in self.steps]
        by_year = [by_year_rows(name, plan, self.years, standard) for name, plan, _ in self.steps]
        costs = [cost_rows(name, plan, policy, self.years) for name, plan, policy in self.steps]
        checks = [check_rows(name, plan) for name, plan, _ in self.steps]
        return {
            "first": self.years[0],
            "last": self.years[-1],
            "once": tuple(self.once),
            "timeline": _frame(timeline, TIMELINE_COLUMNS),
            "by_year": _frame(by_year, BY_YEAR_COLUMNS),
            "costs": _frame(costs, COST_COLUMNS),
            "checks": _frame(checks, ("step", "year", "rule", "where", "detail")),
            "projection": projection_table(self.forecast, ProjectionSettings(standard=standard)),
            "forecast": self.forecast.copy(),
        }


def _frame(parts: list[pd.DataFrame], columns) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(parts, ignore_index=True)[list(columns)]


def _table(plan, name: str) -> pd.DataFrame | None:
    tables = getattr(plan, "tables", None)
    tables = tables() if callable(tables) else tables
    value = (tables or {}).get(name)
    return value if isinstance(value, pd.DataFrame) else None


def timeline_rows(step: str, plan, policy) -> pd.DataFrame:
    """What one plan over years does in which year (:data:`TIMELINE_COLUMNS`): the rows of its
    ``timeline`` (closures, conversions, extensions, openings), its hires by school (``flows``)
    and its purchases."""
    rows = []
    own = getattr(plan, "timeline", None)
    if isinstance(own, pd.DataFrame):
        # a seat is built once, in the year it is added (a plan over years prices it so)
        per_seat = getattr(policy, "expansion_build_yuan_per_seat", None)
        if per_seat is None:
            per_seat = getattr(policy, "expansion_yuan_per_seat", 0.0)
        per_seat = float(per_seat or 0.0)
        builds = _build_costs(plan)
        for r in own.itertuples(index=False):
            number = r.seats if r.action in ("extend", "open") else r.pupils
            yuan = r.seats * per_seat if r.action == "extend" else 0.0
            if r.action == "open":
                yuan = builds.get(r.school_id, 0.0)
            rows.append((step, r.year, r.county, r.school_id, r.action, r.other_school_id,
                         int(number), float(yuan)))  # fmt: skip
    flows = _table(plan, "flows")
    if flows is not None and "hires" in flows.columns:
        per_hire = _per_hire(plan, flows)
        for r in flows[flows["hires"] > 0].itertuples(index=False):
            rows.append((step, r.year, r.county, r.school_id, "hire", "", int(r.hires),
                         float(r.hires * per_hire)))  # fmt: skip
    bought = _table(plan, "purchases")
    if bought is not None:
        for r in bought.itertuples(index=False):
            rows.append((step, r.year, r.county, r.school_id, "purchase", r.intervention,
                         int(round(r.units)), float(r.cost)))  # fmt: skip
    out = pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
    return out.sort_values(["year"], kind="stable").reset_index(drop=True)


def _build_costs(plan) -> dict:
    """New sites' one-off build cost, by site id, from each year's plan's openings."""
    out = {}
    for one in getattr(plan, "plans", {}).values():
        openings = getattr(one, "openings", None)
        if isinstance(openings, pd.DataFrame) and "build_cost" in openings.columns:
            out.update(zip(openings["site_id"], openings["build_cost"].astype(float), strict=True))
    return out


def _per_hire(plan, flows: pd.DataFrame) -> float:
    """Yuan a year of one hire, from the plan's own ``yuan_figures`` (hires x cost a year)."""
    hires = float(flows["hires"].sum())
    figures = plan.yuan_figures() if callable(getattr(plan, "yuan_figures", None)) else {}
    return float(figures.get("hiring_yuan_per_year", 0.0)) / hires if hires else 0.0


def by_year_rows(step: str, plan, years: tuple[int, ...], standard) -> pd.DataFrame:
    """Each year's region after one plan (``region_in``), measured (:data:`BY_YEAR_COLUMNS`)."""
    rows = []
    for year in years:
        region = plan.region_in(year)
        schools = region.schools
        report = check(region, standard)
        parts = report.tables["schools"]
        parts = parts[parts["in_scope"]]
        counties = report.tables["counties"]
        cv = report.tables["county_indicators"]
        worst = {}
        for part in ("primary", "junior"):
            sub = cv[cv["part"] == part]
            worst[part] = float(sub["cv"].max()) if len(sub) else np.nan
            worst[f"limit_{part}"] = float(sub["cv_limit"].max()) if len(sub) else np.nan
        rows.append((
            step, year, int(schools[list(_BANDS)].to_numpy().sum()),
            int(schools["teachers"].sum()), int(required_staff(schools, standard).sum()),
            int(schools["classes"].sum()), len(schools), len(parts),
            int(parts["passes"].fillna(False).astype(bool).sum()), len(counties),
            int(counties["passes"].sum()), worst["primary"], worst["junior"],
            worst["limit_primary"], worst["limit_junior"],
        ))  # fmt: skip
    return pd.DataFrame(rows, columns=list(BY_YEAR_COLUMNS))


def cost_rows(step: str, plan, policy, years: tuple[int, ...]) -> pd.DataFrame:
    """Yuan of each year, capital apart from recurrent (see the module docstring). A plan that
    prices its own years (a ``costs`` table with ``year, capital_yuan, recurrent_yuan``, as a
    consolidation plan over years has: each cost once, in the year it falls) is taken as it is."""
    own = getattr(plan, "costs", None)
    if isinstance(own, pd.DataFrame) and {"year", "capital_yuan", "recurrent_yuan"} <= set(own):
        by_year = own.groupby("year")[["capital_yuan", "recurrent_yuan"]].sum()
        return pd.DataFrame(
            [(step, y, float(by_year["capital_yuan"].get(y, 0.0)),
              float(by_year["recurrent_yuan"].get(y, 0.0))) for y in years],
            columns=list(COST_COLUMNS),
        )  # fmt: skip
    capital = dict.fromkeys(years, 0.0)
    recurrent = dict.fromkeys(years, 0.0)
    timeline = timeline_rows(step, plan, policy)
    bought = _table(plan, "purchases")
    budgets = _table(plan, "budgets")
    for r in timeline.itertuples(index=False):
        if r.action in ("open", "extend"):  # built once, in the year it is added
            capital[r.year] += r.yuan
    if bought is not None:
        lasting = bought[~bought["yearly"].astype(bool)].groupby("year")["cost"].sum()
        yearly = bought[bought["yearly"].astype(bool)].groupby("year")["cost"].sum()
        for year in years:
            capital[year] += float(lasting.get(year, 0.0))
            recurrent[year] += float(yearly.get(year, 0.0))
    if budgets is not None:
        for year, running in zip(budgets["year"], budgets["running"], strict=True):
            recurrent[int(year)] += float(running)
    hires = timeline[timeline["action"] == "hire"].groupby("year")["yuan"].sum()
    for year in years:
        recurrent[year] += float(hires[hires.index <= year].sum()) if len(hires) else 0.0
        one = getattr(plan, "plans", {}).get(year)
        if one is not None and bought is None and callable(getattr(one, "yuan_figures", None)):
            change = one.yuan_figures(policy).get("running_change_yuan_per_year", 0.0)
            recurrent[year] += float(change)
    return pd.DataFrame(
        [(step, y, capital[y], recurrent[y]) for y in years], columns=list(COST_COLUMNS)
    )


def check_rows(step: str, plan) -> pd.DataFrame:
    """The problems a plan's own ``verify()`` finds in each year (none: no row); a plan that
    checks itself when made (and raises) has no ``verify``."""
    verify = getattr(plan, "verify", None)
    if not callable(verify):
        return pd.DataFrame(columns=["step", "year", "rule", "where", "detail"])
    found = verify()
    if not isinstance(found, pd.DataFrame):
        raise InputError(
            f"step {step!r}: verify() returned {type(found).__name__}; expected a table"
        )
    return found.assign(step=step)


#: The measures of a step over years shown for its last year (columns of the run's ``by_year``),
#: with which way is better.
LAST_YEAR_FIGURES = (
    ("pupils", ""),
    ("teachers", ""),
    ("teachers_needed", ""),
    ("schools", ""),
    ("school_parts_passing", "high"),
    ("county_parts_passing", "high"),
)


def year_figures(results: Mapping) -> dict[str, dict]:
    """The years of each variant that plans over years, and each step's figures of its last year.

    Keys: ``years.first``, ``years.last``, and ``last_year.<year>.<step>.<figure>`` where every
    variant over years ends in the same year, else ``last_year.last.<step>.<figure>`` (the
    ``years.last`` row then names each variant's year). A variant without years has none.

    Examples
    --------
    >>> year_figures({"as written": type("R", (), {"years": None})()})
    {'as written': {}}
    """
    lasts = {int(r.years["last"]) for r in results.values() if getattr(r, "years", None)}
    tag = str(lasts.pop()) if len(lasts) == 1 else "last"
    out = {}
    for name, r in results.items():
        years = getattr(r, "years", None)
        figures: dict = {}
        if years:
            figures["years.first"] = int(years["first"])
            figures["years.last"] = int(years["last"])
            by_year = years["by_year"]
            last = by_year[by_year["year"] == int(years["last"])]
            for row in last.itertuples(index=False):
                for column, _ in LAST_YEAR_FIGURES:
                    figures[f"last_year.{tag}.{row.step}.{column}"] = int(getattr(row, column))
        out[name] = figures
    return out


def year_rows(over_years: Mapping[str, dict]) -> list[tuple[str, str, str]]:
    """(measure, label, better) rows of :func:`year_figures`, in the order first seen."""
    better = dict(LAST_YEAR_FIGURES)
    keys = list(dict.fromkeys(k for f in over_years.values() for k in f))
    rows = []
    for k in keys:
        parts = k.split(".")
        if parts[0] == "years":
            rows.append((k, f"{parts[1]} year planned", ""))
        else:
            year = "the last year" if parts[1] == "last" else parts[1]
            rows.append((k, f"{parts[2]}: {parts[3]} in {year}", better.get(parts[3], "")))
    return rows
