"""The budget planner's data and model: prepared arrays, measures, the LP / MILP and verification.

The model is stated in :mod:`allocator.planners.budget`, which holds the policy, the plan and the
public functions; this module turns a region and a policy into arrays (:class:`_Data`), builds and
solves the LP / MILP (:class:`_Model`) and checks every plan against it (:func:`_verify`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator import compliance, standards
from allocator.errors import Infeasible, InputError, SolverError
from allocator.fingerprint import region_fingerprint
from allocator.planners.budget_catalogue import extra_indicator_specs, load_catalogue
from allocator.planners.budget_rounding import spending_excess
from allocator.region import Region
from allocator.solver import SolveInfo, SolverOptions, solve_matrix

if TYPE_CHECKING:
    from allocator.planners.budget import BudgetPolicy

#: Spending may exceed the budget by this relative amount (solver tolerance) and no more.
_SPEND_RTOL = 1e-6


def _policy_error(column, value, message):
    raise InputError(message, table="policy", column=column, value=value)


# --------------------------------------------------------------------------- prepared data
@dataclass
class _Data:
    """Everything the models need, as arrays (built once per region and policy)."""

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

    @property
    def S(self) -> int:
        return len(self.pos)

    @property
    def J(self) -> int:
        return len(self.catalogue)

    @property
    def K(self) -> int:
        return len(self.parts)

    @property
    def n_ind(self) -> int:
        return len(self.indicators)


def _load_standard(standard, overrides):
    if isinstance(standard, standards.Standard):
        return standard if not overrides else standard.with_overrides(overrides)
    return standards.load_standard(standard, overrides)


def _prepare(region: Region, policy: BudgetPolicy, standard=None) -> _Data:
    if not isinstance(region, Region):
        raise InputError(f"expected a Region, got {type(region).__name__}", table="region")
    std = _load_standard(
        policy.standard if standard is None else standard, policy.standard_overrides
    )
    schools = region.schools
    notes: list[str] = []
    why_not: dict[str, str] = {}  # indicator -> why it is not in play

    # indicators: the standard's assessed ones, then the extras the region has columns for
    assessed = {p: set(std.assessed_indicators(p)) for p in standards.PARTS}
    std_inds = [k for k in standards.KNOWN_INDICATORS if any(k in a for a in assessed.values())]
    if not std_inds:
        notes.append(f"standard {std.name} sets no per-school thresholds: nothing of it to lift")
    for k in standards.KNOWN_INDICATORS:
        if k not in std_inds:
            why_not[k] = f"standard {std.name} does not assess {k}"
    indicators, source, scale, per_pupil = [], [], [], []
    for k in std_inds:
        col, sc = standards.KNOWN_INDICATORS[k]
        indicators.append(k)
        source.append(col)
        scale.append(sc)
        per_pupil.append(True)
    specs = extra_indicator_specs(policy.extra_indicators)
    extras = {}
    for name, spec in specs.items():
        if not spec["enabled"]:
            why_not[name] = f"extra indicator {name} is switched off"
            continue
        if name in standards.KNOWN_INDICATORS:
            _policy_error(
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
        extras[name] = spec
        indicators.append(name)
        source.append(spec["column"])
        scale.append(float(spec["scale"]))
        per_pupil.append(bool(spec["per_pupil"]))
    n_ind = len(indicators)
    ind_index = {k: i for i, k in enumerate(indicators)}

    # catalogue: keep the interventions whose indicator is in play
    cat = load_catalogue(
        policy.catalogue, policy.intervention_overrides, policy.exclude_interventions
    )
    known = set(standards.KNOWN_INDICATORS) | set(specs)
    keep = []
    for pos, row in enumerate(cat.itertuples(index=False)):
        if row.indicator not in known:
            raise InputError(
                f"intervention {row.intervention!r} raises unknown indicator {row.indicator!r}; "
                f"expected one of {', '.join(indicators)} or an extra indicator",
                table="catalogue",
                column="indicator",
                value=row.indicator,
            )
        if row.indicator in ind_index:
            keep.append(pos)
        else:
            notes.append(f"{row.intervention} not used: {why_not[row.indicator]}")
    cat = cat.iloc[keep].reset_index(drop=True)
    column_of = [source[ind_index[k]] for k in cat["indicator"]]
    for cap_key in policy.category_caps:
        if cap_key not in set(cat["category"]):
            _policy_error(
                "category_caps",
                cap_key,
                f"unknown category {cap_key!r}; the catalogue has "
                + ", ".join(sorted(set(cat["category"]))),
            )
    counties = set(schools["county"])
    for county in policy.county_caps:
        if county not in counties:
            _policy_error(
                "county_caps",
                county,
                f"unknown county {county!r}; the region has {', '.join(region.counties)}",
            )

    # parts in scope, and the candidate schools
    parts = standards.assessment_parts(schools, std)
    parts = parts[parts["in_scope"].to_numpy(bool) & (parts["pupils"].to_numpy() > 0)]
    parts = parts.reset_index(drop=True)
    row_of = pd.Series(np.arange(len(schools)), index=schools["school_id"].to_numpy())
    part_pos = row_of.loc[parts["school_id"].to_numpy()].to_numpy()
    pos, s_of_part = np.unique(part_pos, return_inverse=True)
    parts = parts.assign(s=s_of_part)
    K, S, J = len(parts), len(pos), len(cat)

    pupils = parts["pupils"].to_numpy(float)
    share = parts["share"].to_numpy(float)
    coef = np.zeros((K, n_ind))
    v0 = np.zeros((K, n_ind))
    T = np.full((K, n_ind), np.nan)
    part_names = parts["part"].to_numpy()
    for i, name in enumerate(indicators):
        if per_pupil[i]:
            coef[:, i] = scale[i] * share / pupils
        else:
            coef[:, i] = 1.0
        if name in extras:
            col = schools[source[i]].to_numpy(float)[part_pos]
            v0[:, i] = coef[:, i] * col
            target = extras[name]["target"]
            for p in standards.PARTS:
                t = target.get(p) if isinstance(target, Mapping) else target
                if t is not None:
                    T[part_names == p, i] = float(t)
        else:
            v0[:, i] = parts[name].to_numpy(float)
            for p in standards.PARTS:
                if name in assessed[p]:
                    T[part_names == p, i] = float(std.thresholds[p][name])
    is_standard = np.array([k not in extras for k in indicators], dtype=bool)

    # costs and caps per candidate school
    cand = schools.iloc[pos]
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
        if row.integer:
            c = np.floor(c + 1e-9)
        cap[:, j] = np.maximum(c, 0.0)

    # E: gain of indicator (k, i) per unit of x[s, j]; an intervention adds to its column (and to
    # ``teachers`` for teacher posts), every indicator reading that column gains
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
    if rows:
        E = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(K * n_ind, S * J),
        )
    else:
        E = sp.csr_matrix((K * n_ind, S * J))
    return _Data(
        region_fingerprint=region_fingerprint(region),
        schools=schools,
        pos=pos,
        catalogue=cat,
        column_of=column_of,
        indicators=indicators,
        is_standard=is_standard,
        source=source,
        per_pupil=np.array(per_pupil, dtype=bool),
        parts=parts,
        coef=coef,
        v0=v0,
        T=T,
        cost=cost,
        cap=cap,
        integer=cat["integer"].to_numpy(bool),
        E=E,
        standard=std,
        extras=extras,
        notes=notes,
    )


# --------------------------------------------------------------------------- measures
def _shortfall(data: _Data, v: np.ndarray) -> np.ndarray:
    """Normalised shortfall max(0, T - v) / T (0 where there is no threshold)."""
    with np.errstate(invalid="ignore"):
        sf = np.maximum(data.T - v, 0.0) / data.T
    return np.where(np.isnan(data.T), 0.0, sf)


def _unavoidable(data: _Data) -> np.ndarray:
    """Shortfall left even when every intervention is used up to its cap (ubar)."""
    cap = data.cap.ravel()
    infinite = np.isinf(cap)
    reach = data.v0 + (data.E @ np.where(infinite, 0.0, cap)).reshape(data.K, data.n_ind)
    unlimited = (abs(data.E) @ infinite.astype(float)).reshape(data.K, data.n_ind) > 0
    return np.where(unlimited, 0.0, _shortfall(data, reach))


def _gap_weights(data: _Data):
    """W (pairs x K*I) with M_urban - M_rural = W @ v, the pairs, and each pair's threshold."""
    area = data.parts["area_type"].to_numpy()
    part = data.parts["part"].to_numpy()
    p = data.parts["pupils"].to_numpy(float)
    rows, cols, vals, pairs, thresholds = [], [], [], [], []
    for pt in standards.PARTS:
        urban, rural = (part == pt) & (area == "urban"), (part == pt) & (area == "rural")
        if not urban.any() or not rural.any():
            continue
        for i, name in enumerate(data.indicators):
            t = data.T[part == pt, i]
            if np.isnan(t).all():
                continue
            r = len(pairs)
            for mask, sign in ((urban, 1.0), (rural, -1.0)):
                k = np.flatnonzero(mask)
                rows.append(np.full(len(k), r))
                cols.append(k * data.n_ind + i)
                vals.append(sign * p[k] / p[k].sum())
            pairs.append((pt, name))
            thresholds.append(float(np.nanmax(t)))
    n = len(pairs)
    if n == 0:
        return sp.csr_matrix((0, data.K * data.n_ind)), [], np.zeros(0)
    W = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, data.K * data.n_ind),
    )
    return W, pairs, np.array(thresholds)


def _measures(data: _Data, v: np.ndarray, spent: float, ubar=None, gap_w=None) -> dict:
    sf = _shortfall(data, v)
    p = data.parts["pupils"].to_numpy(float)
    total = float(p.sum())
    ubar = _unavoidable(data) if ubar is None else ubar
    W, _, tg = _gap_weights(data) if gap_w is None else gap_w
    gap = float(np.mean(np.abs(W @ v.ravel()) / tg)) if len(tg) else 0.0
    return {
        "shortfall": float((p[:, None] * sf).sum() / total) if total else 0.0,
        "minimax": float(max(0.0, (sf - ubar).max(initial=0.0))),
        "max_shortfall": float(sf.max(initial=0.0)),
        "gap": gap,
        "cost": float(spent),
    }


def _passing(data: _Data, v: np.ndarray):
    """Indicators met per part and whether each part passes the standard
    (:func:`allocator.compliance.judge_values`, the definition ``check`` uses)."""
    T = np.where(data.is_standard[None, :], data.T, np.nan)
    std = data.standard
    verdict = compliance.judge_values(v, T, std.min_indicators_met, std.floor_share)
    return verdict.met_count, verdict.passes


def _spend_rows(data: _Data, policy: BudgetPolicy, cs: np.ndarray):
    """Budget (first row), category and county caps and the rural share on columns costing cs."""
    S, J = data.S, data.J
    nx = S * J
    bs = max(policy.budget, 1.0)
    blocks = [sp.csr_matrix(cs / bs)]
    lo, hi, groups = [-np.inf], [policy.budget / bs], ["budget"]
    cats = data.catalogue["category"].to_numpy()
    for name, cap in policy.category_caps.items():
        mask = np.tile(cats == name, S)
        norm = max(cap, 1.0)
        blocks.append(sp.csr_matrix(np.where(mask, cs, 0.0) / norm))
        lo.append(-np.inf)
        hi.append(cap / norm)
        groups.append(f"category_cap_{name}")
    if policy.county_caps:
        county = data.schools["county"].to_numpy()[data.pos]
        names = list(policy.county_caps)
        code = pd.Index(names).get_indexer(county)
        col = np.arange(nx)
        s = col // J
        inside = code[s] >= 0
        norms = np.array([max(policy.county_caps[c], 1.0) for c in names])
        blocks.append(
            sp.csr_matrix(
                (cs[inside] / norms[code[s[inside]]], (code[s[inside]], col[inside])),
                shape=(len(names), nx),
            )
        )
        for c in names:
            lo.append(-np.inf)
            hi.append(policy.county_caps[c] / max(policy.county_caps[c], 1.0))
            groups.append(f"county_cap_{c}")
    if policy.rural_min_share > 0:
        rural = np.repeat(data.schools["area_type"].to_numpy()[data.pos] == "rural", J)
        blocks.append(sp.csr_matrix(cs * (rural - policy.rural_min_share) / bs))
        lo.append(0.0)
        hi.append(np.inf)
        groups.append("rural_share")
    return sp.vstack(blocks, format="csr"), np.array(lo), np.array(hi), groups


# --------------------------------------------------------------------------- the LP / MILP
class _Model:
    """Matrices of the budget model on scaled x columns; columns x | u | g."""

    def __init__(self, data: _Data, policy: BudgetPolicy, relax: bool):
        self.data, self.policy = data, policy
        S, J, K, n_ind = data.S, data.J, data.K, data.n_ind
        self.nx = S * J
        integer = np.tile(data.integer & (not relax), S)
        self.integer_x = integer
        # scale continuous columns to "one unit lifts the school's indicator by one threshold"
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = data.E.multiply(1.0 / np.nan_to_num(data.T, nan=np.inf).reshape(-1, 1))
        norm = sp.csr_matrix(norm)
        gain = np.asarray(abs(norm).max(axis=0).todense()).ravel() if self.nx else np.zeros(0)
        scale = np.where(gain > 0, 1.0 / np.where(gain > 0, gain, 1.0), 1.0)
        self.scale = np.where(integer, 1.0, scale)
        self.cost = data.cost.ravel()
        self.cs = self.cost * self.scale
        self.xub = data.cap.ravel() / self.scale
        finite = self.xub > 0
        self.cost_norm = float(self.cs[finite].max()) if finite.any() else 1.0
        sf0 = _shortfall(data, data.v0).ravel()
        self.ubar = _unavoidable(data)
        self.d = np.flatnonzero(sf0 > 0)
        self.nd = len(self.d)
        self.sf0_d = sf0[self.d]
        self.ubar_d = self.ubar.ravel()[self.d]
        p = data.parts["pupils"].to_numpy(float)
        self.w_d = (p / p.sum())[self.d // n_ind] if K else np.zeros(0)
        self.A_short = norm[self.d] @ sp.diags(self.scale)
        # minimax rows that can bind: sum_j a x >= sf0 - ubar - z
        self.live = np.flatnonzero(self.sf0_d - self.ubar_d > 0)
        self.r_live = self.sf0_d[self.live] - self.ubar_d[self.live]
        self._rounding_cuts()
        self.gap_w = _gap_weights(data)
        W, _, tg = self.gap_w
        self.ng = len(tg)
        if self.ng:
            self.D = sp.diags(1.0 / tg) @ (W @ data.E) @ sp.diags(self.scale)
            self.d0 = (W @ data.v0.ravel()) / tg
        self.n = self.nx + self.nd + self.ng
        self.g_col = self.nx + self.nd
        self.R, self.R_lo, self.R_hi, self.R_groups = _spend_rows(data, policy, self.cs)
        self.budget_scale = max(policy.budget, 1.0)

    def _rounding_cuts(self):
        """Rounding cuts for whole units: a shortfall row u + a x >= sf0 on one integer column x
        with sf0 = a k + rho (k whole, 0 < rho < a) also implies u >= rho (k + 1 - x) at every
        whole x. They make the LP relaxation the convex hull of each such row and close most of
        the integrality gap (teachers and rooms at small schools)."""
        self.cut_rows = np.zeros(0, np.int64)
        if not self.integer_x.any() or not self.nd:
            return
        A = self.A_short.tocsr()
        single = np.flatnonzero(np.diff(A.indptr) == 1)
        col = A.indices[A.indptr[single]]
        a = A.data[A.indptr[single]]
        keep = self.integer_x[col] & (a > 0)
        single, col, a = single[keep], col[keep], a[keep]
        sf0 = self.sf0_d[single]
        k = np.floor(sf0 / a + 1e-12)
        rho = sf0 - a * k
        keep = (rho > 1e-9) & (k + 1 <= self.xub[col] + 1e-9)
        self.cut_rows, self.cut_col = single[keep], col[keep]
        self.cut_rho, self.cut_rhs = rho[keep], rho[keep] * (k[keep] + 1)

    def _pad(self, A_x=None, A_u=None, A_g=None, m=None):
        blocks = []
        for A, width in ((A_x, self.nx), (A_u, self.nd), (A_g, self.ng)):
            blocks.append(sp.csr_matrix((m, width)) if A is None else sp.csr_matrix(A))
        return sp.hstack(blocks, format="csr")

    def solve(self, objective, options, fix_z=None, fix_s=None, start=None):
        """Solve one stage (shortfall, gap or cost); returns (MatrixSolution, budget row index)."""
        blocks, lo, hi, groups = [], [], [], []
        if self.nd and objective != "gap":
            blocks.append(self._pad(A_x=self.A_short, A_u=sp.identity(self.nd), m=self.nd))
            lo.append(self.sf0_d)
            hi.append(np.full(self.nd, np.inf))
            groups += ["shortfall"] * self.nd
        if objective in ("shortfall", "cost") and len(self.cut_rows):
            n_cut = len(self.cut_rows)
            rows = np.arange(n_cut)
            cut_x = sp.csr_matrix((self.cut_rho, (rows, self.cut_col)), shape=(n_cut, self.nx))
            cut_u = sp.csr_matrix((np.ones(n_cut), (rows, self.cut_rows)), shape=(n_cut, self.nd))
            blocks.append(self._pad(A_x=cut_x, A_u=cut_u, m=n_cut))
            lo.append(self.cut_rhs)
            hi.append(np.full(n_cut, np.inf))
            groups += ["shortfall_cut"] * n_cut
        budget_row = sum(len(v) for v in lo)
        blocks.append(self._pad(A_x=self.R, m=self.R.shape[0]))
        lo.append(self.R_lo)
        hi.append(self.R_hi)
        groups += self.R_groups
        if objective == "gap" and self.ng:
            eye = sp.identity(self.ng)
            blocks.append(self._pad(A_x=-self.D, A_g=eye, m=self.ng))
            blocks.append(self._pad(A_x=self.D, A_g=eye, m=self.ng))
            lo += [self.d0, -self.d0]
            hi += [np.full(self.ng, np.inf)] * 2
            groups += ["gap"] * (2 * self.ng)
        if fix_z is not None and len(self.live):
            # keep the minimax level: sum_j a x >= sf0 - ubar - z* (rows on one column are bounds)
            blocks.append(self._pad(A_x=self.A_short[self.live], m=len(self.live)))
            lo.append(self.r_live - fix_z)
            hi.append(np.full(len(self.live), np.inf))
            groups += ["stage_minimax"] * len(self.live)
        if fix_s is not None and self.nd:
            blocks.append(self._pad(A_u=self.w_d.reshape(1, -1), m=1))
            lo.append([-np.inf])
            hi.append([fix_s])
            groups.append("stage_shortfall")
        A = sp.vstack(blocks, format="csc")
        c = np.zeros(self.n)
        if objective == "shortfall":
            c[self.nx : self.g_col] = self.w_d
        elif objective == "gap":
            c[self.g_col :] = 1.0 / max(self.ng, 1)
        elif objective == "cost":
            c[: self.nx] = self.cs / self.cost_norm
        else:
            raise ValueError(f"unknown stage objective {objective!r}")
        cu = np.concatenate([self.xub, np.full(self.nd + self.ng, np.inf)])
        integ = np.concatenate([self.integer_x, np.zeros(self.nd + self.ng, bool)])
        sol = solve_matrix(
            c,
            A,
            np.concatenate([np.asarray(v, float) for v in lo]),
            np.concatenate([np.asarray(v, float) for v in hi]),
            np.zeros(self.n),
            cu,
            integ,
            options=options,
            row_groups=groups,
            start=start,
        )
        return sol, budget_row

    # ----------------------------------------------------------------- minimax by its cost curve
    def least_cost(self, z, options, integer):
        """Least yuan with every avoidable shortfall <= z (no budget row).

        Returns (cost, bound, slope, units) or None when the caps make z unreachable; ``slope`` is
        -dC/dz from the LP duals (None for a MIP)."""
        L = len(self.live)
        if not hasattr(self, "_q"):
            R = self.R[1:]
            self._q = (
                sp.vstack([self.A_short[self.live], R], format="csc"),
                np.concatenate([np.full(L, np.inf), self.R_hi[1:]]),
                np.concatenate([self.R_lo[1:]]),
                ["minimax"] * L + self.R_groups[1:],
            )
        A, ru, r_lo, groups = self._q
        rl = np.concatenate([self.r_live - z, r_lo])
        integ = self.integer_x if integer else np.zeros(self.nx, bool)
        try:
            sol = solve_matrix(
                self.cs / self.cost_norm,
                A,
                rl,
                ru,
                np.zeros(self.nx),
                self.xub,
                integ,
                options=options,
                row_groups=groups,
            )
        except Infeasible:
            return None
        cost = sol.info.objective * self.cost_norm
        bound = cost if sol.info.bound is None else sol.info.bound * self.cost_norm
        slope = None
        if sol.row_duals is not None and not integ.any():
            slope = float(np.maximum(sol.row_duals[:L], 0.0).sum()) * self.cost_norm
        return cost, bound, slope, sol.x, sol.info

    def minimax(self, options: SolverOptions, say):
        """Smallest avoidable shortfall level z the budget can reach, and the cheapest plan for it.

        C(z), the least cost of keeping every normalised shortfall within z (+ its unavoidable
        part), is convex, piecewise linear and falls with z in the LP; z* is the least z with
        C(z) <= B. Newton steps from the left on C (its slope is the sum of the LP duals) stay
        at or below z* and end on it; for whole units, bisection on the MIP cost between the LP
        optimum (a lower bound) and a rounded-down LP plan (an upper bound).
        Returns (units, SolveInfo, z, budget_dual)."""
        t0 = time.perf_counter()
        B = self.policy.budget
        slack = 1e-9 * max(B, 1.0)
        seconds, solver = 0.0, options.solver
        if len(self.live) == 0:
            info = SolveInfo("optimal", 0.0, 0.0, 0.0, 0.0, solver)
            return np.zeros(self.nx), info, 0.0, 0.0
        lp_opts = dataclasses.replace(options, time_limit=None)
        lo, hi = 0.0, float(self.r_live.max())
        x_hi, slope_hi = np.zeros(self.nx), 0.0
        q = self.least_cost(0.0, lp_opts, integer=False)
        steps = 1
        if q is not None and q[0] <= B + slack:
            hi, x_hi, slope_hi = 0.0, q[3], q[2]
        else:
            newton = q
            while hi - lo > 1e-12 * max(hi, 1.0) and steps < 200:
                if newton is not None and newton[2] and newton[2] > 0:
                    z = min(lo + (newton[0] - B) / newton[2], hi)
                    step = "newton"
                    if z <= lo:
                        z, step = 0.5 * (lo + hi), "bisect"
                else:
                    z, step = 0.5 * (lo + hi), "bisect"
                q = self.least_cost(z, lp_opts, integer=False)
                steps += 1
                if q is not None and q[0] <= B + slack:
                    hi, x_hi, slope_hi = z, q[3], q[2]
                    if step == "newton":
                        lo = z
                        break
                else:
                    lo, newton = z, q
        say(f"minimax LP: level {hi:.6g} after {steps} least-cost solves")
        if not self.integer_x.any():
            seconds = time.perf_counter() - t0
            gap = (hi - lo) / max(hi, 1e-9) if hi > lo else 0.0
            info = SolveInfo("optimal", hi, lo, gap, seconds, solver)
            dual = -1.0 / slope_hi if slope_hi else 0.0
            return x_hi * self.scale, info, hi, dual
        # whole units: the LP level is a lower bound; the LP plan rounded down is feasible
        proven_lo = lo_m = lo
        x_lp = x_hi * self.scale
        x_round = np.where(self.integer_x, np.floor(x_lp + 1e-9), x_lp) / self.scale
        z_round = self._level(x_round)
        hi_m, x_best = float(z_round), x_round
        target = options.mip_gap
        mip_opts = dataclasses.replace(options, mip_gap=min(options.mip_gap, 1e-6))
        status = "optimal"
        while hi_m - proven_lo > max(target * hi_m, 1e-9):
            if options.time_limit is not None:
                left = options.time_limit - (time.perf_counter() - t0)
                if left <= 0:
                    status = "feasible"
                    break
                mip_opts = dataclasses.replace(mip_opts, time_limit=left)
            z = 0.5 * (lo_m + hi_m)
            q = self.least_cost(z, mip_opts, integer=True)
            steps += 1
            if q is not None and q[0] <= B + slack:
                hi_m, x_best = z, q[3]
            else:
                lo_m = z
                if q is None or q[1] > B + slack:
                    proven_lo = z
            if hi_m - lo_m <= max(target * hi_m, 1e-9) * 1e-3:
                break  # the MIP cannot prove the rest
        seconds = time.perf_counter() - t0
        hi_m = min(hi_m, self._level(x_best))  # whole units may overshoot the level asked for
        gap = (hi_m - proven_lo) / max(hi_m, 1e-9) if hi_m > proven_lo else 0.0
        if gap > target + 1e-12:
            status = "feasible"
        say(f"minimax MIP: level {hi_m:.6g}, gap {gap:.2%} after {steps} least-cost solves")
        info = SolveInfo(status, hi_m, proven_lo, gap, seconds, solver)
        return x_best * self.scale, info, hi_m, None

    def _level(self, x_scaled) -> float:
        """The minimax level (largest avoidable shortfall) of scaled units."""
        if not len(self.live):
            return 0.0
        return float(max(0.0, (self.r_live - self.A_short[self.live] @ x_scaled).max()))

    def units(self, sol) -> np.ndarray:
        x = sol.x[: self.nx] * self.scale
        return _clean_units(x, self.data, self.integer_x, self.scale)

    def start_from(self, units: np.ndarray) -> np.ndarray:
        """A full column vector for a MIP start from units (u and g at their implied values)."""
        data = self.data
        v = data.v0 + (data.E @ units).reshape(data.K, data.n_ind)
        sf = _shortfall(data, v).ravel()[self.d]
        g = np.abs(self.gap_w[0] @ v.ravel()) / self.gap_w[2] if self.ng else np.zeros(0)
        return np.concatenate([units / self.scale, sf, g])


def _clean_units(x, data: _Data, integer_x, scale) -> np.ndarray:
    """Round whole units at 0.5, clip solver noise at 0 and at the caps, drop dust.

    Noise is judged on the solver's (scaled) columns: up to 1e-6 of a scaled unit or of the value
    (CBC reports about 8 significant digits); anything larger is left for the verification."""
    cap = data.cap.ravel()
    noise = 1e-6 * np.maximum(scale, np.abs(x))
    x = np.where(integer_x, np.round(x), x)
    x = np.where((x < 0) & (x > -noise), 0.0, x)
    x = np.where(np.abs(x) < 1e-9 * np.maximum(1.0, np.where(np.isinf(cap), 1.0, cap)), 0.0, x)
    over = (x > cap) & (x <= cap + noise)
    x = np.where(over, cap, x)
    dust = (~integer_x) & (x * data.cost.ravel() < 1e-3)
    return np.where(dust, 0.0, x)


# --------------------------------------------------------------------------- verification
def applied_values(data: _Data, units: np.ndarray) -> np.ndarray:
    """Indicators (K, I) of the region after ``BudgetPlan.apply`` (whole counts rounded down)."""
    return _recompute(data, _changed_schools(data, units, whole_counts=True))


def _changed_schools(data: _Data, units: np.ndarray, whole_counts: bool) -> pd.DataFrame:
    """The schools table with the plan's resources added (fractional unless whole_counts)."""
    schools = data.schools.copy()
    x = units.reshape(data.S, data.J)
    added: dict[str, np.ndarray] = {}
    for j, row in enumerate(data.catalogue.itertuples(index=False)):
        amount = x[:, j] * row.effect
        for col in [data.column_of[j]] + (["teachers"] if row.adds_teachers else []):
            added[col] = added.get(col, np.zeros(data.S)) + amount
    for col, amount in added.items():
        full = np.zeros(len(schools))
        full[data.pos] = amount
        current = schools[col].to_numpy()
        if whole_counts and np.issubdtype(current.dtype, np.integer):
            schools[col] = current + np.floor(full + 1e-9).astype(np.int64)
        else:
            schools[col] = current.astype(float) + full
    return schools


def _recompute(data: _Data, schools: pd.DataFrame) -> np.ndarray:
    """Indicators of the candidate parts recomputed from a schools table (the standard's code)."""
    parts = standards.assessment_parts(schools, data.standard)
    key = pd.MultiIndex.from_arrays([parts["school_id"], parts["part"]])
    want = pd.MultiIndex.from_arrays([data.parts["school_id"], data.parts["part"]])
    idx = key.get_indexer(want)
    if (idx < 0).any():
        raise SolverError("verification failed: an assessed part disappeared after the plan")
    v = np.zeros((data.K, data.n_ind))
    part_pos = data.pos[data.parts["s"].to_numpy()]
    for i, name in enumerate(data.indicators):
        if data.is_standard[i]:
            v[:, i] = parts[name].to_numpy(float)[idx]
        else:
            v[:, i] = data.coef[:, i] * schools[data.source[i]].to_numpy(float)[part_pos]
    return v


def _verify(
    data: _Data,
    policy: BudgetPolicy | None,
    units: np.ndarray,
    integral: np.ndarray,
    purchases: bool = False,
    with_budget: bool = True,
):
    """Check a plan against its model; returns the recomputed indicators (K, I).

    The solver's units (``purchases=False``) may exceed the money by the solver's tolerance
    (1e-6 relative); rounded purchases (``purchases=True``) are compared at the fen and may not
    exceed the budget (unless ``with_budget`` is False), any cap or the rural share at all."""
    problems = []
    cap = data.cap.ravel()
    cost = data.cost.ravel()
    if (units < 0).any():
        problems.append(f"{int((units < 0).sum())} negative unit counts")
    if (units > cap * (1 + 1e-9) + 1e-9).any():
        problems.append(f"{int((units > cap * (1 + 1e-9) + 1e-9).sum())} caps exceeded")
    if (integral & (units != np.round(units))).any():
        problems.append("fractional units of a whole-unit intervention")
    spend = units * cost
    spent = float(spend.sum())
    if purchases:
        for name, over in spending_excess(data, policy, units, with_budget):
            problems.append(f"{name} exceeded by {over:,.2f} yuan")
    elif policy is not None:
        if spent > policy.budget * (1 + _SPEND_RTOL) + 1e-6:
            problems.append(f"spent {spent:,.2f} yuan above the budget {policy.budget:,.2f}")
        by_school = spend.reshape(data.S, data.J)
        cats = data.catalogue["category"].to_numpy()
        for name, capv in policy.category_caps.items():
            got = float(by_school[:, cats == name].sum())
            if got > capv * (1 + _SPEND_RTOL) + 1e-6:
                problems.append(f"category {name}: {got:,.2f} yuan above its cap {capv:,.2f}")
        county = data.schools["county"].to_numpy()[data.pos]
        for name, capv in policy.county_caps.items():
            got = float(by_school[county == name].sum())
            if got > capv * (1 + _SPEND_RTOL) + 1e-6:
                problems.append(f"county {name}: {got:,.2f} yuan above its cap {capv:,.2f}")
        if policy.rural_min_share > 0:
            rural = data.schools["area_type"].to_numpy()[data.pos] == "rural"
            got = float(by_school[rural].sum())
            if got < policy.rural_min_share * spent - _SPEND_RTOL * max(spent, 1.0):
                problems.append(f"rural share {got / spent:.4f} below {policy.rural_min_share}")
    predicted = data.v0 + (data.E @ units).reshape(data.K, data.n_ind)
    recomputed = _recompute(data, _changed_schools(data, units, whole_counts=False))
    err = np.abs(recomputed - predicted) / np.maximum(1.0, np.abs(predicted))
    if err.size and err.max() > 1e-7:
        k, i = np.unravel_index(int(err.argmax()), err.shape)
        problems.append(
            f"indicator {data.indicators[i]} of {data.parts['school_id'].iloc[k]} recomputes "
            f"to {recomputed[k, i]:.6g}, the model says {predicted[k, i]:.6g}"
        )
    if problems:
        raise SolverError("the plan failed verification against its model: " + "; ".join(problems))
    return recomputed
