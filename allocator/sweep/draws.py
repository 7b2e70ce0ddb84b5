"""Forecast draws: one birth path and one set of migration rates per draw, and the region they give.

Each draw ``i`` of ``[sweep.forecast]`` (seeded by ``(seed, i)``, so a draw is the same on any
worker and in any order) samples:

* **Births**: the birth scenario's path (``births``, e.g. ``medium``:
  :func:`allocator.forecast.load_birth_scenario`) multiplied, for each year after the reference
  year (``base_year`` minus the entry age), by ``exp(W_t)``, where ``W`` is a Gaussian random walk
  with yearly steps of standard deviation ``births_sd`` (default 0.05): the region's births follow
  the national path only approximately, and less closely the further ahead.
* **Migration**: each area type's net migration a year (``migration``, default 0) plus a Gaussian
  term of standard deviation ``migration_sd`` (default 0.01), clipped to ``[-0.5, 0.5]``, drawn once
  per draw and area type.

Both are planning assumptions chosen to show how plans respond to plausible spreads; they are
not estimated from data and are not confidence intervals. The region of a draw is today's region
with the pupils of the target ``year`` (:func:`allocator.forecast.forecast_region`): settlements
get the forecast pupils of each band, and each school's pupils of a band are scaled by the change
of the enrolment its catchment gives it (:func:`allocator.forecast.school_enrolment`), so the
schools' own mix of pupils stays as recorded.
"""

from __future__ import annotations

import numpy as np

from allocator.forecast import (
    BANDS,
    ENTRY_AGE,
    BirthScenario,
    ForecastSettings,
    forecast_region,
    load_birth_scenario,
    school_enrolment,
)

__all__ = ["draw_assumptions", "draw_region"]


def draw_assumptions(settings, index: int) -> tuple[BirthScenario, ForecastSettings]:
    """The birth path and forecast settings of draw ``index`` (see the module docstring).

    Examples
    --------
    >>> from allocator.sweep.spec import DrawSettings
    >>> s = DrawSettings(draws=2, seed=3, migration={"rural": -0.02})
    >>> births, fs = draw_assumptions(s, 1)
    >>> again, _ = draw_assumptions(s, 1)
    >>> births == again, fs.horizon, births.births[2019] == load_birth_scenario("medium").births[2019]
    (True, 5, True)
    """
    rng = np.random.default_rng([settings.seed, index])
    base = load_birth_scenario(settings.births)
    reference = settings.base_year - ENTRY_AGE
    years = [y for y in sorted(base.births) if y > reference]
    walk = np.cumsum(rng.normal(0.0, settings.births_sd, len(years)))
    births = dict(base.births)
    for y, w in zip(years, walk, strict=True):
        births[y] = float(births[y]) * float(np.exp(w))
    migration = {}
    for area in ("urban", "town", "rural"):
        rate = settings.migration.get(area, 0.0) + rng.normal(0.0, settings.migration_sd)
        migration[area] = float(np.clip(rate, -0.5, 0.5))
    scenario = BirthScenario(
        f"{base.name} draw {index}",
        births,
        f"{base.source}; drawn around it (a planning assumption)",
    )
    forecast = ForecastSettings(horizon=settings.year - settings.base_year, migration=migration)
    return scenario, forecast


def draw_region(region, settings, index: int):
    """The region of draw ``index`` in the target year (see the module docstring).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.sweep.spec import DrawSettings
    >>> region = make_region(schools=30, seed=1)
    >>> after = draw_region(region, DrawSettings(draws=1, births_sd=0.0, migration_sd=0.0), 0)
    >>> after.schools["school_id"].tolist() == region.schools["school_id"].tolist()
    True
    """
    births, forecast = draw_assumptions(settings, index)
    future = forecast_region(region, forecast, settings.base_year, births)
    at = future[future["year"] == settings.year]
    settlements = region.settlements.copy()
    wide = at.pivot_table(index="settlement_id", columns="band", values="pupils", aggfunc="sum")
    ids = settlements["settlement_id"].astype(str)
    for band in BANDS:
        if band in wide.columns:
            values = ids.map(wide[band]).fillna(0.0).to_numpy(float)
            settlements[f"pupils_{band}"] = np.rint(values).astype(int)
    enrolment = school_enrolment(region, future)
    now = enrolment[enrolment["year"] == settings.base_year].set_index(["school_id", "band"])
    then = enrolment[enrolment["year"] == settings.year].set_index(["school_id", "band"])
    ratio = (then["pupils"] / now["pupils"]).replace([np.inf, -np.inf], np.nan).fillna(1.0)
    schools = region.schools.copy()
    school_ids = schools["school_id"].astype(str)
    for band in BANDS:
        col = f"pupils_{band}"
        factor = [ratio.get((sid, band), 1.0) for sid in school_ids]
        schools[col] = np.rint(schools[col].to_numpy(float) * np.asarray(factor)).astype(int)
    return region.replace(
        schools=schools, settlements=settlements, name=f"{region.name}@{settings.year}"
    )
