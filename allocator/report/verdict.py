"""The verdict a planner reads first: does each county pass, how many schools pass, what it costs,
and which limits a step breaks.

Every verdict comes from :mod:`allocator.compliance` (the one definition of "meets the standard"):
the county rows are those of :func:`allocator.compliance.county_verdicts` carried by each stage's
:class:`~allocator.results.Measures`, and a CV is over its limit exactly when
:func:`allocator.compliance.within_limit` says so. This module only words them (through
:class:`allocator.i18n.Words`) and counts.

Examples
--------
>>> import pandas as pd
>>> from allocator.i18n import Words
>>> row = {"county": "北县", "part": "primary", "schools": 10, "schools_passing": 10,
...        "cv_limit": 0.5, "cv_floor_m2_per_pupil": 0.61, "cv_ok": False, "passes": False}
>>> county_reasons(row, ["floor_m2_per_pupil"], Words("zh"))
['差异系数超限：生均教学及辅助用房面积（平方米） 0.610 > 0.50']
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from allocator.compliance import within_limit
from allocator.i18n import Words
from allocator.report.reading import indicator_name

__all__ = [
    "county_reasons",
    "county_verdict_table",
    "limit_breaches",
    "parts_passing",
]

#: The seven indicators of the 2017 standard, in the order the standard lists them.
INDICATORS = (
    "qualified_per_100",
    "backbone_per_100",
    "pe_arts_per_100",
    "floor_m2_per_pupil",
    "sports_m2_per_pupil",
    "equipment_yuan_per_pupil",
    "multimedia_per_100",
)


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def county_reasons(row, indicators: Sequence[str], words: Words) -> list[str]:
    """Why one county row of :func:`allocator.compliance.county_verdicts` fails (empty if it passes).

    The schools that miss the standard come first (``schools_passing`` of ``schools``), then every
    indicator whose CV is over the limit (as :func:`allocator.compliance.within_limit` judges; an
    undefined CV is over), worst first; with the composite rule, the composite CV.
    """
    if bool(row.get("passes")):
        return []
    out = []
    schools, passing = row.get("schools"), row.get("schools_passing")
    if passing is not None and not pd.isna(passing) and int(passing) < int(schools):
        out.append(
            words("verdict.schools_fail", failing=int(schools) - int(passing), schools=int(schools))
        )
    limit = _number(row.get("cv_limit"))
    if "composite_cv" in row and not pd.isna(row.get("composite_cv")):
        composite = _number(row["composite_cv"])
        if not within_limit(composite, limit):
            out.append(words("verdict.composite_over", cv=composite, limit=limit))
        return out
    over = []
    for k in indicators:
        if f"cv_{k}" not in row:
            continue
        cv = _number(row[f"cv_{k}"])
        if math.isnan(cv):
            over.append(
                (math.inf, words("verdict.cv_undefined", indicator=indicator_name(k, words)))
            )
        elif not within_limit(cv, limit):
            text = words("verdict.cv_over", indicator=indicator_name(k, words), cv=cv, limit=limit)
            over.append((cv, text))
    out += [text for _, text in sorted(over, key=lambda pair: -pair[0])]
    return out


def county_verdict_table(
    before: pd.DataFrame, after: pd.DataFrame, indicators: Sequence[str], words: Words
) -> pd.DataFrame:
    """One row per county and part: passes before, passes after, and why it fails after.

    Parameters
    ----------
    before, after : pandas.DataFrame
        :func:`allocator.compliance.county_verdicts` tables (``Measures.counties``) of the region
        before the plan and after its last step.
    indicators : sequence of str
        The standard's indicators (``cv_<k>`` columns).
    words : Words

    Returns
    -------
    pandas.DataFrame
        ``county, part, before, after, reason`` (``before``/``after`` bool, None when the county
        has no such part at that stage; ``reason`` the failing reasons after, joined by "; ").

    Examples
    --------
    >>> ok = {"county": "A", "part": "junior", "schools": 2, "schools_passing": 2,
    ...       "cv_limit": 0.45, "cv_x": 0.2, "cv_ok": True, "schools_ok": True, "passes": True}
    >>> bad = dict(ok, schools_passing=1, schools_ok=False, passes=False)
    >>> t = county_verdict_table(pd.DataFrame([bad]), pd.DataFrame([ok]), ["x"], Words("en"))
    >>> t[["before", "after", "reason"]].values.tolist()
    [[False, True, '']]
    """
    key = ["county", "part"]
    b = {tuple(r[c] for c in key): r for r in before.to_dict("records")} if len(before) else {}
    a = {tuple(r[c] for c in key): r for r in after.to_dict("records")} if len(after) else {}
    rows = []
    for county, part in list(dict.fromkeys([*a, *b])):
        rb, ra = b.get((county, part)), a.get((county, part))
        last = ra if ra is not None else rb
        rows.append(
            {
                "county": county,
                "part": part,
                "before": None if rb is None else bool(rb["passes"]),
                "after": None if ra is None else bool(ra["passes"]),
                "reason": "; ".join(county_reasons(last, indicators, words)),
            }
        )
    return pd.DataFrame(rows, columns=["county", "part", "before", "after", "reason"])


def parts_passing(parts: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """School parts meeting the standard, overall and by area type: ``{"all": (passing, assessed),
    "rural": (...), ...}`` from a Measures ``parts`` table (``complies`` per in-scope part).

    Examples
    --------
    >>> p = pd.DataFrame({"area_type": ["rural", "rural", "urban"], "complies": [True, False, True]})
    >>> parts_passing(p)
    {'all': (2, 3), 'rural': (1, 2), 'urban': (1, 1)}
    """
    ok = parts["complies"].astype(bool) if "complies" in parts else pd.Series(False, parts.index)
    out = {"all": (int(ok.sum()), len(parts))}
    if "area_type" in parts:
        for area, g in ok.groupby(parts["area_type"], sort=True):
            out[str(area)] = (int(g.sum()), len(g))
    return out


def _oversized_schools(schools: pd.DataFrame, large: int) -> int:
    """Schools whose mean class holds ``large`` pupils or more (大班额)."""
    pupils = schools[["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]].sum(axis=1)
    classes = schools["classes"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(classes > 0, pupils.to_numpy(float) / classes, 0.0)
    return int((mean >= large).sum())


def _pupils(schools: pd.DataFrame) -> int:
    cols = ["pupils_lower_primary", "pupils_upper_primary", "pupils_junior"]
    return int(schools[cols].to_numpy(float).sum())


def limit_breaches(result, words: Words) -> pd.DataFrame:
    """Which limits each stage breaks: one row per limit, one column per stage.

    Rows: pupils of each travel band beyond its limit (the run's travel yardstick,
    ``Measures.travel``), schools whose mean class reaches the standard's large-class size
    (``class_size.large``, 大班额), pupils left without a school (pupils before the plan minus
    pupils in schools at the stage), and the pupils a merger plan places beyond their limits (its
    ``pupils_beyond_limits`` headline). Counts, 0 when nothing breaks.

    Returns
    -------
    pandas.DataFrame
        ``limit`` (the reader's words) then one column per stage label (``result.stages``).
    """
    stages = result.stages
    rows: dict[str, list] = {}
    for k, m in enumerate(result.measures):
        for r in m.travel.itertuples():
            label = words(
                "verdict.travel_over", band=words(f"band.{r.band}"), limit=r.limit_minutes
            )
            rows.setdefault(label, [0] * len(stages))[k] = int(r.pupils_over_limit)
    large = int(result.standard.class_size.large)
    first = _pupils(result.regions[0].schools)
    oversized, unplaced = [], []
    for region in result.regions:
        oversized.append(_oversized_schools(region.schools, large))
        unplaced.append(max(first - _pupils(region.schools), 0))
    rows[words("verdict.large_classes", size=large)] = oversized
    rows[words("verdict.unplaced")] = unplaced
    beyond = [0] * len(stages)
    for k, st in enumerate(result.steps, start=1):
        value = st.headline.get("pupils_beyond_limits")
        if isinstance(value, int | float) and not isinstance(value, bool):
            beyond[k] = int(value)
    if any(beyond):
        rows[words("verdict.placed_beyond")] = beyond
    table = pd.DataFrame.from_dict(rows, orient="index", columns=stages)
    return table.rename_axis("limit").reset_index()
