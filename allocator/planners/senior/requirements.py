"""Places each county needs and the fewest extra places that meet them (see the package)."""

from __future__ import annotations

import math

import pandas as pd

from allocator.errors import Infeasible, InputError
from allocator.standards.senior import SeniorStandard, load_senior_standard

__all__ = ["county_requirements", "extra_places", "region_cohort"]


def _counts(values, table: str, column: str) -> pd.Series:
    s = pd.Series(values, dtype="object")
    for key, v in s.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or v != int(v):
            raise InputError(
                f"{table}: {column} of county {key!r} must be a whole number >= 0, not {v!r}",
                table=table,
                column=column,
                row_id=key,
                value=v,
            )
    return s.astype("int64")


def region_cohort(region) -> pd.Series:
    """Junior graduates per county estimated from a region: a third of each county's junior
    pupils (``pupils_junior``, grades 7-9, taken as equal grades), rounded.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=20, seed=1)
    >>> c = region_cohort(region)
    >>> bool((c * 3 - region.schools.groupby("county")["pupils_junior"].sum()).abs().max() <= 1.5)
    True
    """
    junior = region.schools.groupby("county")["pupils_junior"].sum()
    return (junior / 3.0).round().astype("int64").rename("graduates")


def county_requirements(cohort, standard: SeniorStandard | None = None) -> pd.DataFrame:
    """Senior places each county needs for its cohort of junior graduates.

    Parameters
    ----------
    cohort : mapping or Series
        County -> junior graduates (grade-9 pupils, or a forecast's).
    standard : SeniorStandard, optional
        Default: ``senior2017``.

    Raises
    ------
    Infeasible
        A county's places cannot be split within the band in whole places (a narrow band and a
        small cohort); the message gives the numbers.
    InputError
        A cohort that is not a whole number >= 0.

    Returns
    -------
    DataFrame
        Indexed by county: ``cohort``, ``needed``, ``general_min``, ``general_max``,
        ``vocational_min``.

    Examples
    --------
    >>> county_requirements({"A": 1000})
       cohort  needed  general_min  general_max  vocational_min
    A    1000     920          460          552             368
    """
    std = standard or load_senior_standard()
    c = _counts(cohort, "cohort", "graduates")
    low, high = std.general_share_band
    rows = {}
    for county, n in c.items():
        needed = math.ceil(round(std.gross_enrolment_rate * n, 9))
        gmax = math.floor(round(high * needed, 9))
        gmin = math.ceil(round(low * needed, 9))
        if gmin > gmax:
            raise Infeasible(
                f"county {county!r}: {needed} senior places cannot be split within the general "
                f"share band {low:g} to {high:g}: at least {gmin} general places, at most {gmax}"
            )
        rows[county] = {
            "cohort": int(n),
            "needed": needed,
            "general_min": gmin,
            "general_max": gmax,
            "vocational_min": needed - gmax,
        }
    cols = ["cohort", "needed", "general_min", "general_max", "vocational_min"]
    return pd.DataFrame.from_dict(rows, orient="index", columns=cols).astype("int64")


def extra_places(
    requirements: pd.DataFrame, general, vocational, general_cost: float, vocational_cost: float
) -> pd.DataFrame:
    """The cheapest whole extra general and vocational places meeting each county's needs.

    Parameters
    ----------
    requirements : DataFrame
        From :func:`county_requirements`.
    general, vocational : mapping or Series
        County -> places held now (a county left out holds none).
    general_cost, vocational_cost : float
        Yuan per extra place.

    Returns
    -------
    DataFrame
        Indexed by county: ``general_extra``, ``vocational_extra``, ``cost``.

    Examples
    --------
    >>> req = county_requirements({"A": 1000})
    >>> extra_places(req, {"A": 400}, {"A": 300}, 60000, 40000)
       general_extra  vocational_extra      cost
    A             60               160  10000000
    """
    if general_cost < 0 or vocational_cost < 0:
        raise InputError(f"costs must be >= 0, not {general_cost} and {vocational_cost}")
    g_now = _counts(general, "general", "places").reindex(requirements.index, fill_value=0)
    v_now = _counts(vocational, "vocational", "places").reindex(requirements.index, fill_value=0)
    rows = {}
    for county, r in requirements.iterrows():
        g = max(0, int(r["general_min"]) - int(g_now[county]))
        v = max(0, int(r["vocational_min"]) - int(v_now[county]))
        rest = max(0, int(r["needed"]) - int(g_now[county]) - g - int(v_now[county]) - v)
        if general_cost <= vocational_cost:
            add = min(rest, max(0, int(r["general_max"]) - int(g_now[county]) - g))
            g, v = g + add, v + rest - add
        else:
            v += rest
        rows[county] = {"general_extra": g, "vocational_extra": v}
    out = pd.DataFrame.from_dict(
        rows, orient="index", columns=["general_extra", "vocational_extra"]
    )
    out = out.astype("int64")
    out["cost"] = out["general_extra"] * general_cost + out["vocational_extra"] * vocational_cost
    if float(out["cost"].sum()).is_integer():
        out["cost"] = out["cost"].astype("int64")
    return out
