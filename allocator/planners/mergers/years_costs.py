"""What a consolidation plan over years costs, each cost once, in the year it falls.

* **Recurrent** (each year, times the year's weight :func:`~allocator.planners.years.year_weights`,
  the discount factors of the calendar years a planning year stands for): the upkeep of every
  open site (``site_yuan``, a school's ``site_cost_yuan``, a new site's ``annual_cost``), the
  funding-floor top-up, transport, boarding and lodging of that year's pupils.
* **Capital** (once, in the planning year it falls, times that year's discount factor
  ``D_t = (1 + discount_rate) ** -(year - first year)``): a new site's ``build_cost`` in the year
  it opens; ``expansion_build_yuan_per_seat`` for each seat added in the year it is built.
* **Residual value** (回收固定资产余值, as in 《建设项目经济评价方法与参数》: what is built keeps
  its value after the horizon), credited at the end of the last planning year (factor ``D_end``,
  the discount factor of the year after it): the share of a build not used up by then, straight
  line over its life (``build_years`` = 30 for a site, :data:`SEAT_LIFE_YEARS` = 20 for a seat).
  Without it a seat built in the last year would carry its whole price against one year's saving.

A one-year plan spreads capital over the years instead (``build_cost / build_years`` and
``expansion_yuan_per_seat`` a year); within a plan over years that would count an extension only
as a yearly charge and a new site's cost twice once its build cost is also shown in the year it is
paid. In the linked model a build of ``C`` in year t costs ``g_t = C (D_t - D_end r_t)`` (``r_t``
its residual share); for a quantity ``a`` that only grows (rooms built, a site opened) the sum
``g_t (a_t - a_t-1)`` over the years is ``a_t (g_t - g_t+1)`` (``g`` after the last year is 0): a
coefficient on each year's column, no new column.

Examples
--------
>>> year_factors((2026, 2027, 2029), 0.08).round(4).tolist()
[1.0, 0.9259, 0.7938]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocator.planners.mergers.columns import YUAN_SCALE
from allocator.planners.mergers.result import CountyResult, cost_items_after

__all__ = [
    "COST_COLUMNS", "SEAT_LIFE_YEARS", "year_factors", "capital_steps", "price_years", "year_costs",
]  # fmt: skip

#: Columns of :func:`year_costs` (and ``MergerYearsPlan.costs``): ``residual_yuan`` is in the last
#: year's row, credited at the end of that year.
COST_COLUMNS = (
    "year", "recurrent_yuan", "capital_yuan", "residual_yuan", "discount_factor", "weight",
)  # fmt: skip
#: Life of an added seat: the 20 years over which ``expansion_yuan_per_seat`` repays it.
SEAT_LIFE_YEARS = 20.0


def year_factors(years, rate: float) -> np.ndarray:
    """The discount factor of each planning year: ``(1 + rate) ** -(year - first)``."""
    span = np.asarray(years, dtype=float) - float(years[0])
    return (1.0 + float(rate)) ** -span


def capital_steps(years, rate: float, life: float) -> np.ndarray:
    """Coefficient of each year's cumulative quantity for a build of 1 yuan paid when the
    quantity grows, less its residual value at the end (see the module docstring).

    Examples
    --------
    Two years at 0 %, a 4-year life: built in the first year 1 - 0.5 (half left), in the second
    1 - 0.75; the first year's coefficient is their difference.

    >>> capital_steps((2026, 2027), 0.0, 4.0).tolist()
    [0.25, 0.25]
    """
    years = np.asarray(years, dtype=float)
    factors = year_factors(years, rate)
    end = (1.0 + float(rate)) ** -(years[-1] + 1.0 - years[0])
    residual = np.maximum(0.0, 1.0 - (years[-1] + 1.0 - years) / float(life))
    g = factors - end * residual
    return g - np.append(g[1:], 0.0)


def _site_upkeep(model) -> np.ndarray:
    """Yuan a year of keeping each site open, a new site's build cost left out."""
    unit, policy = model.unit, model.policy
    return np.where(unit.candidate, model.site_cost - unit.new_site_build / policy.build_years,
                    model.site_cost)  # fmt: skip


def price_years(c: np.ndarray, parts, offsets, weights, years, rate: float) -> np.ndarray:
    """The linked model's costs (thousands of yuan) with each cost counted once: a site's upkeep
    and every other yearly cost times the year's weight (as stacked), a new site's build cost and
    added rooms' build cost as capital in the year they fall, less their residual value at the end
    of ``years`` (see the module docstring).

    ``parts`` have ``model`` (a ``CountyModel``) and ``linear`` (its ``LinearModel``)."""
    out = np.array(c, dtype=float)
    policy = parts[0].model.policy
    sites = capital_steps(years, rate, policy.build_years)
    seats = capital_steps(years, rate, SEAT_LIFE_YEARS)
    for t, (part, off) in enumerate(zip(parts, offsets, strict=True)):
        model = part.model
        y, k = part.linear.columns["y"], part.linear.columns["k"]
        build = model.unit.new_site_build
        out[y.start + off : y.stop + off] = (
            weights[t] * _site_upkeep(model) + sites[t] * build
        ) / YUAN_SCALE
        room = model.room_seats * policy.expansion_build_yuan_per_seat
        out[k.start + off : k.stop + off] = seats[t] * room / YUAN_SCALE
    return out


def _recurrent(res: CountyResult) -> tuple[float, float]:
    """(recurrent yuan of the year, the penalty of pupils beyond their limits)."""
    model = res.model
    items = cost_items_after(res)
    upkeep = _site_upkeep(model)
    yearly = sum(v for k, v in items.items() if k not in ("sites", "new_sites", "expansion"))
    yearly += float(upkeep[res.open_].sum())
    beyond = float((res.pupils * model.pbreach).sum()) * model.breach_penalty
    return float(yearly), beyond


def year_costs(results: list[CountyResult], years, weights, rate: float):
    """Yuan by year of one county's plan (:data:`COST_COLUMNS`) and its objective: recurrent yuan
    (with the penalty of pupils beyond their limits) times the weights, plus capital yuan times
    the discount factors, less the residual value times the factor of the end of the horizon.
    ``results`` are the years' results with the rooms built by then (``rooms``, never fewer than
    the year before)."""
    factors = year_factors(years, rate)
    end = (1.0 + float(rate)) ** -(years[-1] + 1.0 - years[0])
    policy = results[0].model.policy
    rows, objective, residual = [], 0.0, 0.0
    rooms_before = np.zeros(results[0].model.n_schools)
    open_before = np.zeros(results[0].model.n_schools, dtype=bool)
    for res, year, w, f in zip(results, years, weights, factors, strict=True):
        model, used = res.model, years[-1] + 1.0 - year
        recurrent, beyond = _recurrent(res)
        added = float((np.maximum(res.rooms - rooms_before, 0) * model.room_seats).sum())
        opened = res.open_ & res.unit.candidate & ~open_before
        built = float(res.unit.new_site_build[opened].sum())
        seats = added * policy.expansion_build_yuan_per_seat
        capital = seats + built
        residual += seats * max(0.0, 1.0 - used / SEAT_LIFE_YEARS)
        residual += built * max(0.0, 1.0 - used / policy.build_years)
        rooms_before, open_before = np.asarray(res.rooms), open_before | res.open_
        objective += w * (recurrent + beyond) + f * capital
        rows.append([int(year), recurrent, capital, 0.0, float(f), float(w)])
    rows[-1][3] = residual
    objective -= end * residual
    return pd.DataFrame(rows, columns=list(COST_COLUMNS)), float(objective)
