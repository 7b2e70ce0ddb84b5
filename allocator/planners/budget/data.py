"""From a region and a policy to the arrays the budget models read: :func:`prepare`.

The steps, each its own function:

1. :func:`_select_indicators`: the standard's assessed indicators, then the extra indicators the
   region has columns for, then the standard's open indicators that an intervention raises, a
   target names or the standard assesses (:func:`_open_indicators`; with the reason each other one
   is not in play);
2. :func:`_select_interventions`: the catalogue's interventions whose indicator is in play, and a
   check that the policy's category and county caps name categories and counties that exist;
3. :func:`_indicator_values`: the in-scope assessed parts, their indicators before the plan, their
   thresholds and the gain of each indicator per unit of its school column;
4. :func:`_costs_and_caps`: unit cost and unit cap of each intervention at each candidate school;
5. :func:`_gain_matrix`: ``E``, the gain of indicator (k, i) per unit of intervention j at school s;
6. the policy's targets as rows (:func:`allocator.planners.budget.targets.build_targets`).

An open indicator is a school value: its column as it is (``per = "school"``) or per class, both
parts of a nine-year school sharing it whole; it is judged (``T``) where its denominator is above 0
and, for a boarding-only indicator, at boarding schools only. A missing or negative value in an
open column that a plan or target uses is refused naming the school and column.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

import allocator.standards as standards
from allocator.errors import InputError
from allocator.fingerprint import region_fingerprint
from allocator.planners.budget.catalogue import extra_indicator_specs, load_catalogue
from allocator.planners.budget.policy import BudgetPolicy, reject_policy
from allocator.planners.budget.targets import build_targets
from allocator.region import Region, numeric_column

#: Indicators the default catalogue's interventions raise.
_DEFAULT_OPEN = frozenset(load_catalogue()["indicator"]) - set(standards.KNOWN_INDICATORS)

__all__ = [
    "BudgetData",
    "prepare",
    "resolve_standard",
]


@dataclass
class BudgetData:
    """Everything the models need, as arrays (built once per region and policy by :func:`prepare`).

    S candidate schools, J interventions, K in-scope assessed parts, I indicators; unit columns
    are ordered school by school (column ``s * J + j``), indicator rows part by part
    (row ``k * I + i``).
    """

    schools: pd.DataFrame  # the region's schools (all)
    pos: np.ndarray  # (S,) positions in ``schools`` of the candidate schools
    catalogue: pd.DataFrame  # active interventions (J rows)
    column_of: list[str]  # (J,) school column each intervention adds to
    indicators: list[str]  # (I,)
    is_standard: np.ndarray  # (I,) bool: assessed by the standard (counts for passing)
    source: list[str]  # (I,) school column of each indicator
    per_pupil: np.ndarray  # (I,) bool
    parts: pd.DataFrame  # (K,) in-scope parts with column ``s`` (candidate index)
    coef: np.ndarray  # (K, I) indicator gain per unit of its source column
    v0: np.ndarray  # (K, I)
    T: np.ndarray  # (K, I) threshold, NaN where the part is not judged on the indicator
    cost: np.ndarray  # (S, J)
    cap: np.ndarray  # (S, J), inf for none
    integer: np.ndarray  # (J,)
    E: sp.csr_matrix  # (K*I, S*J): indicator gain of each unit
    standard: standards.Standard
    extras: dict
    notes: list[str]
    region_fingerprint: str | None = None  # of the region planned on (plans refuse others)
    targets: list = field(default_factory=list)  # the policy's targets as rows (targets.Target)
    floor: np.ndarray | None = None  # (S*J,) least units meeting the targets (floor.target_floor)

    @property
    def S(self) -> int:
        """Number of candidate schools."""
        return len(self.pos)

    @property
    def J(self) -> int:
        """Number of interventions in play."""
        return len(self.catalogue)

    @property
    def K(self) -> int:
        """Number of in-scope assessed parts."""
        return len(self.parts)

    @property
    def n_ind(self) -> int:
        """Number of indicators (I)."""
        return len(self.indicators)


@dataclass
class _Indicators:
    """The indicators in play (:func:`_select_indicators`), in their order."""

    names: list[str]
    source: list[str]  # school column of each
    scale: list[float]
    per_pupil: list[bool]
    extras: dict  # extra indicator -> its specification
    specs: dict  # every extra indicator specification, in play or not
    assessed: dict  # part -> set of the standard's assessed indicators
    why_not: dict  # indicator -> why it is not in play
    notes: list[str]


def resolve_standard(standard, overrides) -> standards.Standard:
    """A :class:`~allocator.standards.Standard` from a name, path or Standard, with overrides.

    Examples
    --------
    >>> resolve_standard("moe2017", None).name
    'moe2017'
    """
    if isinstance(standard, standards.Standard):
        return standard if not overrides else standard.with_overrides(overrides)
    return standards.load_standard(standard, overrides)


def _select_indicators(schools: pd.DataFrame, std, policy, catalogue) -> _Indicators:
    """The standard's assessed indicators, then the extra indicators the schools have columns for,
    then the open indicators of :func:`_open_indicators`.

    A default extra indicator whose column is missing is skipped (and noted); one the policy names
    must have its column.
    """
    extra_indicators = policy.extra_indicators
    notes: list[str] = []
    why_not: dict[str, str] = {}
    assessed = {p: set(std.assessed_indicators(p)) for p in standards.PARTS}
    std_inds = [k for k in standards.KNOWN_INDICATORS if any(k in a for a in assessed.values())]
    if not std_inds:
        notes.append(f"standard {std.name} sets no per-school thresholds: nothing of it to lift")
    for k in standards.KNOWN_INDICATORS:
        if k not in std_inds:
            why_not[k] = f"standard {std.name} does not assess {k}"
    out = _Indicators([], [], [], [], {}, {}, assessed, why_not, notes)
    for k in std_inds:
        col, sc = standards.KNOWN_INDICATORS[k]
        out.names.append(k)
        out.source.append(col)
        out.scale.append(sc)
        out.per_pupil.append(True)
    out.specs = extra_indicator_specs(extra_indicators)
    for name, spec in out.specs.items():
        if not spec["enabled"]:
            why_not[name] = f"extra indicator {name} is switched off"
            continue
        if name in standards.KNOWN_INDICATORS:
            reject_policy(
                "extra_indicators", name, f"{name!r} is a standard indicator, not an extra one"
            )
        if spec["column"] not in schools.columns:
            if spec["explicit"]:
                raise InputError(
                    f"extra indicator {name!r} needs column {spec['column']!r}, which the "
                    "schools table lacks; add it (region.replace) or name another column",
                    table="schools",
                    column=spec["column"],
                )
            why_not[name] = f"the schools table has no {spec['column']!r} column"
            continue
        values = pd.to_numeric(schools[spec["column"]], errors="coerce").to_numpy(float)
        if not np.isfinite(values).all() or (values < 0).any():
            raise InputError(
                f"column {spec['column']!r} of extra indicator {name!r} must hold numbers >= 0",
                table="schools",
                column=spec["column"],
            )
        out.extras[name] = spec
        out.names.append(name)
        out.source.append(spec["column"])
        out.scale.append(float(spec["scale"]))
        out.per_pupil.append(bool(spec["per_pupil"]))
    _open_indicators(schools, std, policy, set(catalogue["indicator"]), out)
    return out


def _open_indicators(schools, std, policy, bought: set, out: _Indicators) -> None:
    """Add to ``out`` the open indicators of the standard that an intervention raises (``bought``),
    a target of the policy names or the standard assesses; a target or an assessed one must have
    its column (and ``boarding_school`` where it applies to boarding schools only)."""
    known = std.open_indicators
    for name in bought - set(known) - set(out.names) - set(out.specs):
        if name in _DEFAULT_OPEN:  # a default upgrade for an indicator this standard lacks
            out.why_not[name] = f"standard {std.name} has no open indicator {name}"
    for name in policy.targets:
        if name not in known:
            reject_policy(
                "targets",
                name,
                f"target {name!r} is not an open indicator of standard {std.name}; expected one of "
                + ", ".join(known),
            )
    chosen = set(known) if policy.open_indicators == "all" else set(policy.open_indicators)
    for name in chosen - set(known):
        reject_policy(
            "open_indicators",
            name,
            f"{name!r} is not an open indicator of standard {std.name}; expected one of "
            + ", ".join(known),
        )
    for name, oi in known.items():
        if name not in policy.targets and name not in std.open_assessed:
            if name not in bought:
                continue
            if name not in chosen:
                out.why_not[name] = f"open indicator {name} is not in the policy's open_indicators"
                continue
        if name in out.names:
            continue  # a user's extra indicator of the same name
        required = name in policy.targets or name in std.open_assessed
        boarding = oi.applies_to == "boarding" or (
            policy.targets.get(name, {}).get("schools") == "boarding"
        )
        columns = [oi.column] + (["boarding_school"] if boarding else [])
        lacking = [c for c in columns if c not in schools.columns]
        if lacking:
            if required:
                raise InputError(
                    f"open indicator {name!r} is a target or assessed, but the schools table has "
                    f"no {lacking[0]!r} column",
                    table="schools",
                    column=lacking[0],
                )
            out.why_not[name] = f"the schools table has no {lacking[0]!r} column"
            continue
        level = policy.targets.get(name, {}).get("at_least")
        if oi.threshold is None and level is None:
            out.why_not[name] = f"open indicator {name} has no target"
            continue
        checked = schools[["school_id", *columns]].reset_index(drop=True)
        for col in columns:
            numeric_column(checked, "schools", col, "school_id", whole=False, nonnegative=True)
        target = oi.threshold if oi.threshold is not None else level
        spec = {"column": oi.column, "target": target, "per_pupil": False, "scale": 1.0}
        spec.update(max_value=None, per=oi.per, applies_to=oi.applies_to, open=True)
        spec["goal"] = max(target, level if level is not None else 0.0)
        out.extras[name] = spec
        out.names.append(name)
        out.source.append(oi.column)
        out.scale.append(1.0)
        out.per_pupil.append(False)


def _select_interventions(
    region: Region, policy: BudgetPolicy, ind: _Indicators, cat: pd.DataFrame
) -> pd.DataFrame:
    """The policy's catalogue restricted to interventions whose indicator is in play.

    Also checks that the policy's category and county caps name what exists; an intervention left
    out is noted in ``ind.notes``.
    """
    known = set(standards.KNOWN_INDICATORS) | set(ind.specs) | set(ind.why_not) | set(ind.extras)
    in_play = set(ind.names)
    keep = []
    for pos, row in enumerate(cat.itertuples(index=False)):
        if row.indicator not in known:
            raise InputError(
                f"intervention {row.intervention!r} raises unknown indicator {row.indicator!r}; "
                f"expected one of {', '.join(ind.names)} or an extra indicator",
                table="catalogue",
                column="indicator",
                value=row.indicator,
            )
        if row.indicator in in_play:
            keep.append(pos)
        else:
            ind.notes.append(f"{row.intervention} not used: {ind.why_not[row.indicator]}")
    cat = cat.iloc[keep].reset_index(drop=True)
    for cap_key in policy.category_caps:
        if cap_key not in set(cat["category"]):
            reject_policy(
                "category_caps",
                cap_key,
                f"unknown category {cap_key!r}; the catalogue has "
                + ", ".join(sorted(set(cat["category"]))),
            )
    counties = set(region.schools["county"])
    for county in policy.county_caps:
        if county not in counties:
            reject_policy(
                "county_caps",
                county,
                f"unknown county {county!r}; the region has {', '.join(region.counties)}",
            )
    return cat


def _indicator_values(schools: pd.DataFrame, std, ind: _Indicators):
    """The in-scope parts and, per part and indicator, the gain per unit of column, value, target.

    Returns
    -------
    parts : DataFrame
        The in-scope assessed parts with pupils, with column ``s`` (candidate school index).
    pos : (S,) array
        Positions in ``schools`` of the candidate schools.
    coef, v0, T : (K, I) arrays
        Gain of the indicator per unit of its school column, value before, threshold (NaN where
        the part is not judged on the indicator).
    """
    parts = standards.assessment_parts(schools, std)
    parts = parts[parts["in_scope"].to_numpy(bool) & (parts["pupils"].to_numpy() > 0)]
    parts = parts.reset_index(drop=True)
    row_of = pd.Series(np.arange(len(schools)), index=schools["school_id"].to_numpy())
    part_pos = row_of.loc[parts["school_id"].to_numpy()].to_numpy()
    pos, s_of_part = np.unique(part_pos, return_inverse=True)
    parts = parts.assign(s=s_of_part)
    K, n_ind = len(parts), len(ind.names)
    pupils = parts["pupils"].to_numpy(float)
    share = parts["share"].to_numpy(float)
    coef = np.zeros((K, n_ind))
    v0 = np.zeros((K, n_ind))
    T = np.full((K, n_ind), np.nan)
    part_names = parts["part"].to_numpy()
    for i, name in enumerate(ind.names):
        coef[:, i] = ind.scale[i] * share / pupils if ind.per_pupil[i] else 1.0
        if ind.extras.get(name, {}).get("open"):
            coef[:, i], v0[:, i], T[:, i] = _open_values(schools, part_pos, ind.extras[name])
        elif name in ind.extras:
            col = schools[ind.source[i]].to_numpy(float)[part_pos]
            v0[:, i] = coef[:, i] * col
            target = ind.extras[name]["target"]
            for p in standards.PARTS:
                t = target.get(p) if isinstance(target, Mapping) else target
                if t is not None:
                    T[part_names == p, i] = float(t)
        else:
            v0[:, i] = parts[name].to_numpy(float)
            for p in standards.PARTS:
                if name in ind.assessed[p]:
                    T[part_names == p, i] = float(std.thresholds[p][name])
    return parts, pos, coef, v0, T


def _denominator(schools: pd.DataFrame, per: str) -> np.ndarray:
    """What an open indicator is counted per, at each school (1, classes or teachers)."""
    if per == "school":
        return np.ones(len(schools))
    return schools[{"class": "classes", "teacher": "teachers"}[per]].to_numpy(float)


def _open_values(schools, part_pos, spec):
    """Gain per unit of column, value and target (NaN where not judged) of an open indicator."""
    den = _denominator(schools, spec["per"])[part_pos]
    judged = den > 0
    if spec["applies_to"] == "boarding":
        judged &= schools["boarding_school"].to_numpy(float)[part_pos] == 1
    coef = np.divide(1.0, den, out=np.zeros(len(den)), where=den > 0)
    v0 = coef * schools[spec["column"]].to_numpy(float)[part_pos]
    return coef, v0, np.where(judged, float(spec["target"]), np.nan)


def _costs_and_caps(cand: pd.DataFrame, cat: pd.DataFrame, column_of, extras):
    """Unit cost (S, J) at each candidate school's area type and unit cap (S, J), inf for none.

    The cap is ``max_per_school`` plus ``max_per_pupil`` per compulsory pupil, then the cap rule
    (``untrained_teachers``, ``headroom``); whole-unit caps are rounded down.
    """
    S, J = len(cand), len(cat)
    area = cand["area_type"].to_numpy()
    cost = np.zeros((S, J))
    for a in ("urban", "town", "rural"):
        cost[area == a] = cat[f"cost_{a}"].to_numpy(float)
    comp_pupils = (
        cand["pupils_lower_primary"].to_numpy(float)
        + cand["pupils_upper_primary"].to_numpy(float)
        + cand["pupils_junior"].to_numpy(float)
    )
    cap = np.full((S, J), np.inf)
    for j, row in enumerate(cat.itertuples(index=False)):
        terms = []
        if not math.isnan(row.max_per_school):
            terms.append(np.full(S, row.max_per_school))
        if not math.isnan(row.max_per_pupil):
            terms.append(row.max_per_pupil * comp_pupils)
        c = sum(terms) if terms else np.full(S, np.inf)
        if row.cap_rule == "untrained_teachers":
            untrained = cand["teachers"].to_numpy(float) - cand["teachers_backbone"].to_numpy(float)
            c = np.minimum(c, np.maximum(untrained, 0.0) / row.effect)
        elif row.cap_rule == "headroom":
            spec = extras.get(row.indicator)
            if spec is None or spec.get("max_value") is None:
                raise InputError(
                    f"intervention {row.intervention!r} has cap_rule 'headroom' but indicator "
                    f"{row.indicator!r} has no max_value",
                    table="catalogue",
                    column="cap_rule",
                    value=row.cap_rule,
                )
            current = cand[column_of[j]].to_numpy(float)
            c = np.minimum(c, np.maximum(float(spec["max_value"]) - current, 0.0) / row.effect)
        elif row.cap_rule == "up_to_target":
            c = np.minimum(c, _up_to_target(cand, row, extras.get(row.indicator)))
        if row.integer:
            c = np.floor(c + 1e-9)
        cap[:, j] = np.maximum(c, 0.0)
    return cost, cap


def _up_to_target(cand, row, spec) -> np.ndarray:
    """Units of an intervention that bring each school to its open indicator's goal (the target,
    or a higher policy target); none where the indicator does not apply."""
    if spec is None or not spec.get("open"):
        raise InputError(
            f"intervention {row.intervention!r} has cap_rule 'up_to_target' but {row.indicator!r} "
            "is not an open indicator of the standard",
            table="catalogue",
            column="cap_rule",
            value=row.cap_rule,
        )
    den = _denominator(cand, spec["per"])
    applies = den > 0
    if spec["applies_to"] == "boarding":
        applies &= cand["boarding_school"].to_numpy(float) == 1
    lack = spec["goal"] * den - cand[spec["column"]].to_numpy(float)
    return np.where(applies, np.ceil(np.maximum(lack, 0.0) / row.effect - 1e-9), 0.0)


def _gain_matrix(cat, column_of, source, coef, s_of_part, S) -> sp.csr_matrix:
    """E (K*I, S*J): gain of indicator (k, i) per unit of x[s, j].

    An intervention adds to its column (and to ``teachers`` for teacher posts); every indicator
    reading that column gains.
    """
    K, n_ind = coef.shape
    J = len(cat)
    rows, cols, vals = [], [], []
    k_idx = np.arange(K)
    for j, row in enumerate(cat.itertuples(index=False)):
        adds = {column_of[j]: row.effect}
        if row.adds_teachers:
            adds["teachers"] = adds.get("teachers", 0.0) + row.effect
        for i in range(n_ind):
            amount = adds.get(source[i])
            if amount:
                rows.append(k_idx * n_ind + i)
                cols.append(s_of_part * J + j)
                vals.append(coef[:, i] * amount)
    if not rows:
        return sp.csr_matrix((K * n_ind, S * J))
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(K * n_ind, S * J),
    )


def prepare(region: Region, policy: BudgetPolicy, standard=None) -> BudgetData:
    """The arrays of the budget models for a region and a policy.

    Parameters
    ----------
    region : Region
    policy : BudgetPolicy
    standard : str, path or Standard, optional
        Instead of ``policy.standard`` (its ``standard_overrides`` still apply).

    Returns
    -------
    BudgetData

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> data = prepare(make_region(schools=30, seed=1), BudgetPolicy(budget=1e6))
    >>> data.E.shape == (data.K * data.n_ind, data.S * data.J)
    True
    """
    if not isinstance(region, Region):
        raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
    std = resolve_standard(
        policy.standard if standard is None else standard, policy.standard_overrides
    )
    schools = region.schools
    cat = load_catalogue(
        policy.catalogue, policy.intervention_overrides, policy.exclude_interventions
    )
    ind = _select_indicators(schools, std, policy, cat)
    index = {k: i for i, k in enumerate(ind.names)}
    cat = _select_interventions(region, policy, ind, cat)
    column_of = [ind.source[index[k]] for k in cat["indicator"]]
    parts, pos, coef, v0, T = _indicator_values(schools, std, ind)
    cost, cap = _costs_and_caps(schools.iloc[pos], cat, column_of, ind.extras)
    E = _gain_matrix(cat, column_of, ind.source, coef, parts["s"].to_numpy(), len(pos))
    return BudgetData(
        region_fingerprint=region_fingerprint(region),
        schools=schools,
        pos=pos,
        catalogue=cat,
        column_of=column_of,
        indicators=ind.names,
        is_standard=np.array([k not in ind.extras for k in ind.names], dtype=bool),
        source=ind.source,
        per_pupil=np.array(ind.per_pupil, dtype=bool),
        parts=parts,
        coef=coef,
        v0=v0,
        T=T,
        cost=cost,
        cap=cap,
        integer=cat["integer"].to_numpy(bool),
        E=E,
        standard=std,
        extras=ind.extras,
        notes=ind.notes,
        targets=build_targets(
            schools.iloc[pos], policy.targets, std.open_indicators, cat, column_of
        ),
    )
