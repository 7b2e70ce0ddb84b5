"""The teacher planner's data and model: per-school arrays, the staged LP / MIP per county block,
its infeasibility diagnosis and the verification of each block's plan.

The model is stated in :mod:`allocator.planners.teachers`, which holds the policy, the plan and
:func:`~allocator.planners.teachers.plan_teachers`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import Infeasible, InputError, SolverError
from allocator.region import PUPIL_COLUMNS, Region
from allocator.solver import SolveInfo, SolverOptions, solve_matrix
from allocator.standards import Standard, assessment_parts, required_staff

if TYPE_CHECKING:
    from allocator.planners.teachers import TeacherPolicy

#: Disjoint groups of teachers that move (see the module docstring).
CATEGORIES = ("backbone", "qualified", "pe_arts", "general")
#: Requirements of a school: total staff and the three 2017 teacher indicators.
NEEDS = ("staff", "qualified", "backbone", "pe_arts")
_NEED_COLUMN = {
    "staff": "teachers",
    "qualified": "teachers_qualified",
    "backbone": "teachers_backbone",
    "pe_arts": "teachers_pe_arts",
}
_NEED_INDICATOR = {
    "qualified": "qualified_per_100",
    "backbone": "backbone_per_100",
    "pe_arts": "pe_arts_per_100",
}
_AREA_RANK = {"urban": 2, "town": 1, "rural": 0}
# Stages taught, as bits: primary 1, junior 2, senior 4.
_STAGE_BITS = {
    "primary": 1,
    "teaching_point": 1,
    "junior": 2,
    "nine_year": 3,
    "senior": 4,
    "twelve_year": 7,
}
_COMPULSORY = ("primary", "junior", "nine_year", "teaching_point")
_B, _Q, _E, _G = range(4)


# =========================================================================== data
@dataclass
class _Data:
    """Per-school arrays of the whole region (index = row of region.schools)."""

    ids: np.ndarray
    county: np.ndarray
    area: np.ndarray
    level: np.ndarray
    node: np.ndarray
    district: np.ndarray | None
    pupils: np.ndarray  # P_i, all bands
    current: np.ndarray  # (n, 4) T, Q, B, E in NEEDS order
    need: np.ndarray  # (n, 4) r_i and category needs, NEEDS order
    movable: np.ndarray  # (n, 4) heads by CATEGORIES
    elig: np.ndarray  # (n, 4) eligible heads by category
    eligible: np.ndarray  # e_i from the data
    out_cap: np.ndarray  # most rotating out
    quota: np.ndarray  # q_i (0 if not a rotation school)
    rotation_school: np.ndarray
    high_quality: np.ndarray
    compulsory: np.ndarray
    stage_bits: np.ndarray
    area_rank: np.ndarray
    bb100: np.ndarray
    weight: np.ndarray  # (n, 4) stage-1 objective weight of a head short in each need


def _split_heads(T, Q, B, E):
    """Disjoint movable groups (backbone, qualified, pe_arts, general) and locked heads.

    Examples
    --------
    >>> m, locked = _split_heads(np.array([10, 5]), np.array([4, 4]), np.array([2, 5]),
    ...                          np.array([3, 2]))
    >>> m.tolist(), locked.tolist()
    ([[2, 2, 3, 3], [2, 0, 0, 0]], [0, 3])
    """
    T, Q, B, E = (np.asarray(v, dtype=np.int64) for v in (T, Q, B, E))
    bq = np.minimum(B, Q)
    q = Q - bq
    rest = T - np.maximum(B, Q)
    e = np.minimum(E, rest)
    extra_e = E - e  # PE/arts heads that must overlap qualified or backbone heads
    eq = np.minimum(extra_e, q)
    eb = np.minimum(extra_e - eq, bq)
    movable = np.stack([bq - eb, q - eq, e, rest - e], axis=1)
    locked = T - movable.sum(axis=1)
    return movable, locked


def _whole_column(schools: pd.DataFrame, column: str, upper: np.ndarray | None = None):
    raw = schools[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if upper is not None:
        bad |= values > upper
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        expected = "a whole number >= 0" + (" and <= teachers" if upper is not None else "")
        raise InputError(
            f"value {raw.iloc[pos]!r}; expected {expected}",
            table="schools",
            row_id=schools["school_id"].iloc[pos],
            row=pos,
            column=column,
            value=raw.iloc[pos],
        )
    return values.astype(np.int64)


def _category_needs(schools: pd.DataFrame, standard: Standard) -> np.ndarray:
    """(n, 3) heads needed for qualified, backbone, PE/arts so that every assessed part passes."""
    n = len(schools)
    out = np.zeros((n, 3), dtype=np.int64)
    parts = assessment_parts(schools, standard)
    if parts.empty:
        return out
    parts = parts[parts["in_scope"].to_numpy(bool) & (parts["share"].to_numpy(float) > 0)]
    pos = pd.Index(schools["school_id"]).get_indexer(parts["school_id"])
    for k, need in enumerate(("qualified", "backbone", "pe_arts")):
        indicator = _NEED_INDICATOR[need]
        thr = np.array(
            [standard.thresholds.get(p, {}).get(indicator, 0.0) for p in parts["part"]], float
        )
        heads = thr / 100.0 * parts["pupils"].to_numpy(float) / parts["share"].to_numpy(float)
        heads = np.ceil(np.round(heads, 9)).astype(np.int64)
        np.maximum.at(out[:, k], pos, heads)
    return out


def _prepare(region: Region, policy: TeacherPolicy, standard: Standard) -> _Data:
    s = region.schools
    n = len(s)
    T = s["teachers"].to_numpy(np.int64)
    Q = s["teachers_qualified"].to_numpy(np.int64)
    B = s["teachers_backbone"].to_numpy(np.int64)
    E = s["teachers_pe_arts"].to_numpy(np.int64)
    pupils = s[list(PUPIL_COLUMNS)].to_numpy(np.int64).sum(axis=1)
    level = s["level"].to_numpy(str).astype(object)
    area = s["area_type"].to_numpy(str).astype(object)
    county = s["county"].to_numpy(str).astype(object)
    req = required_staff(s, standard).to_numpy(np.int64)
    need = np.column_stack([req, _category_needs(s, standard)])
    current = np.column_stack([T, Q, B, E])
    movable, _ = _split_heads(T, Q, B, E)

    if "teachers_eligible" in s.columns:
        eligible = _whole_column(s, "teachers_eligible", upper=T)
    else:
        eligible = np.floor(policy.eligible_share * T + 1e-9).astype(np.int64)
    share = np.divide(eligible, T, out=np.zeros(n), where=T > 0)
    elig = np.minimum(movable, np.ceil(np.round(share[:, None] * movable, 9)).astype(np.int64))
    out_cap = np.minimum(eligible, elig.sum(axis=1))
    if policy.max_rotation_share is not None:
        out_cap = np.minimum(out_cap, np.floor(policy.max_rotation_share * eligible + 1e-9))
    out_cap = out_cap.astype(np.int64)

    stage_bits = np.array([_STAGE_BITS.get(v, 0) for v in level], dtype=np.int64)
    compulsory = (stage_bits & 3) > 0
    bb100 = np.divide(100.0 * B, pupils, out=np.zeros(n), where=pupils > 0)
    if "high_quality" in s.columns:
        raw = s["high_quality"]
        if raw.dtype == bool:
            hq = raw.to_numpy(bool)
        else:
            values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
            if not np.isin(values, (0.0, 1.0)).all():
                pos = int(np.flatnonzero(~np.isin(values, (0.0, 1.0)))[0])
                raise InputError(
                    f"value {raw.iloc[pos]!r}; expected true/false or 1/0",
                    table="schools",
                    row_id=s["school_id"].iloc[pos],
                    row=pos,
                    column="high_quality",
                    value=raw.iloc[pos],
                )
            hq = values == 1.0
    else:
        hq = np.zeros(n, dtype=bool)
        for c in dict.fromkeys(county):
            members = np.flatnonzero(
                (county == c) & compulsory & (level != "teaching_point") & (pupils > 0)
            )
            if len(members):
                cut = np.quantile(bb100[members], policy.high_quality_quantile)
                hq[members] = (bb100[members] >= cut - 1e-12) & (bb100[members] > 0)
    rotation_share = (
        standard.rotation.share if policy.rotation_share is None else policy.rotation_share
    )
    rotation_school = (
        np.isin(level, list(policy.rotation_levels)) & ((area == "urban") | hq) & (eligible > 0)
    )
    quota = np.where(rotation_school, np.ceil(np.round(rotation_share * eligible, 9)), 0).astype(
        np.int64
    )
    rotation_school &= quota > 0

    weights = np.array([policy.need_weights[k] for k in NEEDS])
    weight = np.divide(
        pupils[:, None] * weights[None, :],
        need,
        out=np.zeros((n, 4)),
        where=need > 0,
    )
    district = None
    if policy.same_district:
        if "district" not in s.columns:
            raise InputError(
                "policy.same_district is true but the schools table has no 'district' column; "
                "expected a district per school (or same_district=false)",
                table="schools",
                column="district",
            )
        if s["district"].isna().any():
            pos = int(np.flatnonzero(s["district"].isna().to_numpy())[0])
            raise InputError(
                "empty district; expected a district per school",
                table="schools",
                row_id=s["school_id"].iloc[pos],
                row=pos,
                column="district",
            )
        district = s["district"].astype(str).to_numpy().astype(object)
    return _Data(
        ids=s["school_id"].to_numpy(str).astype(object),
        county=county,
        area=area,
        level=level,
        node=s["node"].to_numpy(str).astype(object),
        district=district,
        pupils=pupils,
        current=current,
        need=need,
        movable=movable,
        elig=elig,
        eligible=eligible,
        out_cap=out_cap,
        quota=quota,
        rotation_school=rotation_school,
        high_quality=hq,
        compulsory=compulsory,
        stage_bits=stage_bits,
        area_rank=np.array([_AREA_RANK[a] for a in area], dtype=np.int64),
        bb100=bb100,
        weight=weight,
    )


def staffing_gaps(d: _Data) -> np.ndarray:
    """Each school's staffing gap: the teachers it lacks to reach its required staff (>= 0).

    A single hiring quota or budget for several counties is split in proportion to the sum of
    these gaps over each county's schools (see :func:`_county_caps`).
    """
    return np.maximum(d.need[:, 0] - d.current[:, 0], 0)


def _county_caps(policy: TeacherPolicy, d: _Data, counties: list[str]) -> dict[str, float]:
    """Hiring posts per county (inf = no limit).

    A single number for several counties is split in proportion to the counties' staffing gaps
    (teachers short of the required staff, summed over their schools; equal shares when no
    county has a gap), rounded by largest remainder (ties to the county listed first), so that the
    shares add up to the number.
    """
    need = pd.Series(staffing_gaps(d)).groupby(d.county).sum().reindex(counties).fillna(0)
    caps = {c: math.inf for c in counties}

    def split(total: float) -> dict[str, float]:
        total = int(total)
        if len(counties) == 1:
            return {counties[0]: total}
        weights = need.to_numpy(float)
        if weights.sum() <= 0:
            weights = np.ones(len(counties))
        exact = total * weights / weights.sum()
        base = np.floor(exact).astype(np.int64)
        order = np.argsort(-(exact - base), kind="stable")
        base[order[: total - int(base.sum())]] += 1
        return dict(zip(counties, base.astype(float), strict=True))

    def per_county(value, name, to_posts):
        if value is None:
            return None
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in counties]
            if unknown:
                raise InputError(
                    f"{name} names unknown county {unknown[0]!r}; expected some of "
                    f"{', '.join(counties)}",
                    table="policy",
                    column=name,
                    value=unknown[0],
                )
            return {c: float(to_posts(value.get(c, 0))) for c in counties}
        return split(to_posts(value))

    quota = per_county(policy.hiring_quota, "hiring_quota", lambda v: int(v))
    budget = per_county(
        policy.hiring_budget_yuan,
        "hiring_budget_yuan",
        lambda v: math.floor(float(v) / policy.cost_per_hire_yuan + 1e-9),
    )
    for part in (quota, budget):
        if part is not None:
            caps = {c: min(caps[c], part[c]) for c in counties}
    return caps


# =========================================================================== pairs and blocks
def _allowed(d: _Data, pi: np.ndarray, pj: np.ndarray, policy: TeacherPolicy) -> np.ndarray:
    keep = (pi != pj) & (d.out_cap[pi] > 0)
    if policy.same_county:
        keep &= d.county[pi] == d.county[pj]
    if policy.stage_rule == "same":
        keep &= (d.stage_bits[pi] & d.stage_bits[pj]) > 0
    elif policy.stage_rule == "certificate":
        highest = _highest_bit(d.stage_bits[pi])
        lowest = d.stage_bits[pj] & -d.stage_bits[pj]
        keep &= (lowest > 0) & (lowest <= highest)
    if d.district is not None:
        keep &= d.district[pi] == d.district[pj]
    if policy.direction_rules:
        ri, rj = d.area_rank[pi], d.area_rank[pj]
        hi, hj = d.high_quality[pi], d.high_quality[pj]
        bi, bj = d.bb100[pi], d.bb100[pj]
        stronger = (ri > rj) | ((ri == rj) & ((hi & ~hj) | ((hi == hj) & (bi > bj + 1e-12))))
        keep &= stronger
    return keep


def _highest_bit(bits: np.ndarray) -> np.ndarray:
    out = np.zeros_like(bits)
    for b in (1, 2, 4):
        out = np.where(bits & b, b, out)
    return out


def _pairs_from_matrix(m: sp.spmatrix, rows: np.ndarray, cols: np.ndarray):
    coo = m.tocoo()
    return rows[coo.row], cols[coo.col], coo.data.astype(float)


def _blocks(region: Region, d: _Data, policy: TeacherPolicy):
    """Yield (label, school indices, pair arrays) per independent block."""
    counties = list(dict.fromkeys(d.county))
    if policy.same_county:
        for c in counties:
            idx = np.flatnonzero(d.county == c)
            m = region.travel_minutes(d.node[idx], d.node[idx], cutoff=policy.travel_limit_minutes)
            pi, pj, pm = _pairs_from_matrix(m, idx, idx)
            keep = _allowed(d, pi, pj, policy)
            yield c, [c], idx, (pi[keep], pj[keep], pm[keep])
        return
    everyone = np.arange(len(d.ids))
    m = region.travel_minutes(d.node, d.node, cutoff=policy.travel_limit_minutes)
    pi, pj, pm = _pairs_from_matrix(m, everyone, everyone)
    keep = _allowed(d, pi, pj, policy)
    pi, pj, pm = pi[keep], pj[keep], pm[keep]
    code = {c: k for k, c in enumerate(counties)}
    ci = np.array([code[c] for c in d.county], dtype=np.int64)
    link = sp.coo_matrix((np.ones(len(pi)), (ci[pi], ci[pj])), shape=(len(counties), len(counties)))
    ncomp, label = sp.csgraph.connected_components(link, directed=False)
    for k in range(ncomp):
        members = [c for c, lab in zip(counties, label, strict=True) if lab == k]
        idx = np.flatnonzero(np.isin(d.county, members))
        inside = np.isin(ci[pi], [code[c] for c in members])
        name = members[0] if len(members) == 1 else f"{members[0]} +{len(members) - 1}"
        yield name, members, idx, (pi[inside], pj[inside], pm[inside])


# =========================================================================== block model
@dataclass
class _Model:
    """One block's model as arrays. Columns: moves x | hires h | out flows | in flows | shortfall
    s | gap g. out_ic = sum_j x_ijc and in_jc = sum_i x_ijc are columns of their own, defined by
    equality rows, so that a move column has 2 nonzeros instead of one per constraint it touches
    (the LP is then a transportation problem with side constraints on the aggregate flows)."""

    n: int
    nx: int
    nh: int
    ns: int
    ng: int
    s0: int
    g0: int
    xi: np.ndarray  # local sender
    xj: np.ndarray  # local receiver
    xc: np.ndarray
    xm: np.ndarray
    hi: np.ndarray
    hc: np.ndarray
    out_cols: np.ndarray  # column of out_ic at flat index c * n + i (-1: none)
    in_cols: np.ndarray  # column of in_jc at flat index c * n + j (-1: none)
    si: np.ndarray
    sk: np.ndarray
    A: sp.csr_matrix
    rl: np.ndarray
    ru: np.ndarray
    cl: np.ndarray
    cu: np.ndarray
    integ: np.ndarray
    groups: list
    c_short: np.ndarray
    c_gap: np.ndarray
    c_move: np.ndarray
    hire_cols: np.ndarray
    quota_rows: np.ndarray  # row index of each school's total-out row (-1: none)
    has_out: np.ndarray  # school has outgoing move columns
    share_rows: np.ndarray  # rows of the backbone-share constraints
    share_county: list  # county (or school id) of each backbone-share row
    s_rows: np.ndarray  # the row defining each shortfall column
    g_rows: np.ndarray  # the row defining each gap column
    gap_bound: float  # the sum of the gap columns cannot exceed this


def _build(d: _Data, idx: np.ndarray, pairs, counties: list[str], caps, policy, standard):
    n = len(idx)
    local = np.full(len(d.ids), -1, dtype=np.int64)
    local[idx] = np.arange(n)
    gi, gj, gm = pairs
    li, lj = local[gi], local[gj]
    elig = d.elig[idx]
    xi, xj, xc, xm = [], [], [], []
    for c in range(4):
        keep = elig[li, c] > 0
        xi.append(li[keep])
        xj.append(lj[keep])
        xc.append(np.full(int(keep.sum()), c, dtype=np.int64))
        xm.append(gm[keep])
    xi, xj, xc, xm = (np.concatenate(v) for v in (xi, xj, xc, xm))
    nx = len(xi)

    county = d.county[idx]
    hire_cats = np.array([CATEGORIES.index(c) for c in policy.hire_categories], dtype=np.int64)
    hirable = np.array([caps[c] > 0 for c in county], dtype=bool)
    h_school = np.flatnonzero(hirable)
    hi = np.repeat(h_school, len(hire_cats))
    hc = np.tile(hire_cats, len(h_school))
    nh = len(hi)

    # aggregate flows: one column per (school, category) that sends / receives
    out_flat = np.unique(xc * n + xi)
    in_flat = np.unique(xc * n + xj)
    no, ni = len(out_flat), len(in_flat)
    h0, o0 = nx, nx + nh
    i0 = o0 + no
    out_cols = np.full(4 * n, -1, dtype=np.int64)
    out_cols[out_flat] = o0 + np.arange(no)
    in_cols = np.full(4 * n, -1, dtype=np.int64)
    in_cols[in_flat] = i0 + np.arange(ni)

    # heads each school can lose at most, per need and in all (0 if it sends nobody)
    out_cat = np.zeros((n, 4), dtype=np.int64)
    oi, oc = out_flat % n, out_flat // n
    out_cat[oi, oc] = elig[oi, oc]
    has_out = out_cat.sum(axis=1) > 0
    cap = d.out_cap[idx]
    loss = np.minimum(
        cap[:, None],
        np.column_stack(
            [out_cat.sum(axis=1), out_cat[:, _B] + out_cat[:, _Q], out_cat[:, _B], out_cat[:, _E]]
        ),
    )
    need = d.need[idx]
    cur = d.current[idx]
    weight = d.weight[idx]
    # a shortfall column only where the school can be short after the plan
    si, sk = np.nonzero((need > cur - loss) & (weight > 0))
    ns = len(si)

    compulsory = d.compulsory[idx]
    pupils = d.pupils[idx].astype(float)
    area = d.area[idx]
    gap_counties = []
    for c in counties:
        in_c = (county == c) & compulsory
        pu = pupils[in_c & (area == "urban")].sum()
        pr = pupils[in_c & (area == "rural")].sum()
        if pu > 0 and pr > 0:
            gap_counties.append((c, pu, pr))
    ng = len(gap_counties)
    s0 = i0 + ni
    g0 = s0 + ns
    ncol = g0 + ng

    def rows_of(entries_row, entries_col, entries_val, nrows):
        return sp.csr_matrix((entries_val, (entries_row, entries_col)), shape=(nrows, ncol))

    # per (school, category): out column, in column, hire column (flat index c * n + i)
    def flow_rows(sign_out, sign_in, sign_hire, cats, schools):
        """Rows (one per school) summing the school's flows of the given categories."""
        r, c_, v = [], [], []
        pos = {int(i): k for k, i in enumerate(schools)}
        for cat in cats:
            flat = cat * n + schools
            for cols, sign in ((out_cols[flat], sign_out), (in_cols[flat], sign_in)):
                keep = cols >= 0
                r.append(np.flatnonzero(keep))
                c_.append(cols[keep])
                v.append(np.full(int(keep.sum()), sign, dtype=float))
        if nh and sign_hire:
            hmask = np.isin(hc, cats) & np.isin(hi, schools)
            r.append(np.array([pos[int(i)] for i in hi[hmask]], dtype=np.int64))
            c_.append(h0 + np.flatnonzero(hmask))
            v.append(np.full(int(hmask.sum()), sign_hire, dtype=float))
        return rows_of(np.concatenate(r), np.concatenate(c_), np.concatenate(v), len(schools))

    blocks, rl, ru, groups = [], [], [], []

    def add(matrix, lower, upper, group):
        matrix = sp.csr_matrix(matrix)
        if matrix.shape[0] == 0:
            return
        blocks.append(matrix)
        rl.append(np.broadcast_to(np.asarray(lower, float), (matrix.shape[0],)))
        ru.append(np.broadcast_to(np.asarray(upper, float), (matrix.shape[0],)))
        groups.extend(group if isinstance(group, list) else [group] * matrix.shape[0])

    def rows_so_far():
        return sum(b.shape[0] for b in blocks)

    # flow definitions: out_ic - sum_j x_ijc = 0 and in_jc - sum_i x_ijc = 0
    xcols = np.arange(nx)
    out_pos = np.searchsorted(out_flat, xc * n + xi)
    in_pos = np.searchsorted(in_flat, xc * n + xj)
    add(
        rows_of(
            np.concatenate([out_pos, np.arange(no)]),
            np.concatenate([xcols, o0 + np.arange(no)]),
            np.concatenate([-np.ones(nx), np.ones(no)]),
            no,
        ),
        0.0,
        0.0,
        "flow",
    )
    add(
        rows_of(
            np.concatenate([in_pos, np.arange(ni)]),
            np.concatenate([xcols, i0 + np.arange(ni)]),
            np.concatenate([-np.ones(nx), np.ones(ni)]),
            ni,
        ),
        0.0,
        0.0,
        "flow",
    )
    all_cats = np.arange(4)
    # total out of each sender: the quota, and the cap where the category caps do not bound it
    quota = d.quota[idx]
    senders = np.flatnonzero(has_out)
    total_rows = senders[(quota[senders] > 0) | (cap[senders] < out_cat[senders].sum(axis=1))]
    quota_rows = np.full(n, -1, dtype=np.int64)
    quota_rows[total_rows] = rows_so_far() + np.arange(len(total_rows))
    add(
        flow_rows(1.0, 0.0, 0.0, all_cats, total_rows),
        quota[total_rows],
        cap[total_rows],
        ["rotation_quota" if q > 0 else "eligible" for q in quota[total_rows]],
    )
    # senders keep their requirement (or where they started, if below), where they could not
    T = cur[:, 0]
    req = need[:, 0]
    keep = senders[T[senders] - loss[senders, 0] < np.minimum(req, T)[senders]]
    add(
        flow_rows(-1.0, 1.0, 1.0, all_cats, keep),
        np.minimum(req, T)[keep] - T[keep],
        np.inf,
        "sender_requirement",
    )
    if policy.receiver_headroom_share is not None:
        receivers = np.unique(xj)
        top = np.maximum(T, np.ceil(np.round((1 + policy.receiver_headroom_share) * req, 9)))
        add(
            flow_rows(-1.0, 1.0, 1.0, all_cats, receivers),
            -np.inf,
            (top - T)[receivers],
            "receiver_headroom",
        )
    # shortfall definitions: s_ik + net_k(i) >= need_ik - current_ik
    counts_for = {0: all_cats, 1: np.array([_B, _Q]), 2: np.array([_B]), 3: np.array([_E])}
    s_rows = np.zeros(ns, dtype=np.int64)
    g_rows = np.zeros(ng, dtype=np.int64)
    for k in range(4):
        rows = np.flatnonzero(sk == k)
        if len(rows) == 0:
            continue
        schools = si[rows]
        m = flow_rows(-1.0, 1.0, 1.0, counts_for[k], schools) + rows_of(
            np.arange(len(rows)), s0 + rows, np.ones(len(rows)), len(rows)
        )
        s_rows[rows] = rows_so_far() + np.arange(len(rows))
        add(m, need[schools, k] - cur[schools, k], np.inf, "shortfall")
    # backbone share among rotations of rotation schools
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    rot = d.rotation_school[idx]
    share_rows, share_label = [], []
    if beta > 0:
        for c in counties:
            members = np.flatnonzero(rot & (county == c) & has_out)
            if len(members) == 0:
                continue
            row = flow_rows(1.0, 0.0, 0.0, np.array([_B]), members).sum(axis=0) - beta * (
                flow_rows(1.0, 0.0, 0.0, all_cats, members).sum(axis=0)
            )
            share_rows.append(rows_so_far())
            share_label.append(c)
            add(sp.csr_matrix(row), 0.0, np.inf, "backbone_share")
        if policy.backbone_share_scope == "school":
            members = np.flatnonzero(rot & has_out)
            least = np.ceil(np.round(beta * quota[members], 9))
            share_rows.extend(rows_so_far() + np.arange(len(members)))
            share_label.extend(d.ids[idx][members])
            add(flow_rows(1.0, 0.0, 0.0, np.array([_B]), members), least, np.inf, "backbone_share")
    # hiring quota per county
    for c in counties:
        if math.isfinite(caps[c]) and caps[c] > 0:
            cols = h0 + np.flatnonzero(county[hi] == c)
            if len(cols):
                m = rows_of(np.zeros(len(cols), dtype=np.int64), cols, np.ones(len(cols)), 1)
                add(m, -np.inf, caps[c], "hiring_quota")
    # urban-rural gap: g_k + net backbone into rural schools >= ceil(P_R * U0 / 100) - B_R
    B_now = cur[:, 2].astype(float)
    gap_bound = 0.0
    for k, (c, pu, pr) in enumerate(gap_counties):
        in_c = (county == c) & compulsory
        urban = np.flatnonzero(in_c & (area == "urban"))
        rural = np.flatnonzero(in_c & (area == "rural"))
        row = sp.csr_matrix(flow_rows(-1.0, 1.0, 0.0, np.array([_B]), rural).sum(axis=0)) + rows_of(
            [0], [g0 + k], [1.0], 1
        )
        target = math.ceil(round(pr * B_now[urban].sum() / pu, 9))
        g_rows[k] = rows_so_far()
        add(row, target - B_now[rural].sum(), np.inf, "gap")
        # g_k is at most what rural schools lack now plus the backbone teachers they can send
        gap_bound += max(0.0, target - B_now[rural].sum()) + float(elig[rural, _B].sum())
    A = sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, ncol))
    cl = np.zeros(ncol)
    cu = np.full(ncol, np.inf)
    cu[:nx] = elig[xi, xc]
    if nh:
        cu[h0 : h0 + nh] = [caps[c] for c in county[hi]]
    cu[o0 : o0 + no] = elig[oi, oc]  # only eligible teachers of each category rotate
    integ = np.zeros(ncol, dtype=bool)
    integ[: nx + nh] = True
    c_short = np.zeros(ncol)
    c_short[s0 : s0 + ns] = weight[si, sk]
    c_gap = np.zeros(ncol)
    c_gap[g0:] = 1.0
    c_move = np.zeros(ncol)
    c_move[:nx] = policy.move_weight + policy.minute_weight * xm
    c_move[h0 : h0 + nh] = 1e-5 * (hc != _G)  # keep general posts preferred (see stage 1b)
    hire_cols = np.zeros(ncol)
    hire_cols[h0 : h0 + nh] = 1.0
    return _Model(
        n=n,
        nx=nx,
        nh=nh,
        ns=ns,
        ng=ng,
        s0=s0,
        g0=g0,
        xi=xi,
        xj=xj,
        xc=xc,
        xm=xm,
        hi=hi,
        hc=hc,
        out_cols=out_cols,
        in_cols=in_cols,
        si=si,
        sk=sk,
        A=A,
        rl=np.concatenate(rl) if rl else np.zeros(0),
        ru=np.concatenate(ru) if ru else np.zeros(0),
        cl=cl,
        cu=cu,
        integ=integ,
        groups=groups,
        c_short=c_short,
        c_gap=c_gap,
        c_move=c_move,
        hire_cols=hire_cols,
        quota_rows=quota_rows,
        has_out=has_out,
        share_rows=np.array(share_rows, dtype=np.int64),
        share_county=share_label,
        s_rows=s_rows,
        g_rows=g_rows,
        gap_bound=gap_bound,
    )


def _solve_block(model: _Model, options: SolverOptions, record):
    """Solve the lexicographic stages; return the final column values (integers rounded).

    Stages 1b (hires) and 2 (gap) are solved together: both objectives are whole numbers in an
    integer plan, so ``(G + 1) * hires + gap``, with G an upper bound on the gap, orders them
    exactly, and saves a solve per county.
    """
    A, rl, ru, groups = model.A, model.rl, model.ru, list(model.groups)
    cl, cu = model.cl, model.cu.copy()
    x = None

    def run(stage, c, integral=False):
        nonlocal x
        x, info, method = _solve_stage(
            model, c, A, rl, ru, cl, cu, groups, options, x, integral=integral
        )
        record(stage, info, method)

    s0, g0 = model.s0, model.g0
    run("shortfall", model.c_short)
    cu[s0 : s0 + model.ns] = x[s0 : s0 + model.ns]  # keep every school's shortfall
    hires = float(model.hire_cols @ x) if model.nh else 0.0
    if hires > 0.5 or model.ng:
        c = model.c_gap + (model.gap_bound + 1.0) * model.hire_cols
        run("hires+gap" if hires > 0.5 else "gap", c, integral=True)
        cu[g0 : g0 + model.ng] = x[g0 : g0 + model.ng]  # keep every county's gap
    if model.nh:
        hires = round(float(model.hire_cols @ x))
        A = sp.vstack([A, sp.csr_matrix(model.hire_cols[None, :])], format="csr")
        rl, ru = np.append(rl, -np.inf), np.append(ru, hires)
        groups.append("fixed_hires")
    if model.nx or model.nh:
        run("moves", model.c_move)
    if x is None:  # nothing to decide
        x = _complete(model, np.zeros(A.shape[1]))
    return x


def _complete(model: _Model, x):
    """Round the move and hire columns; give flow, shortfall and gap columns their values."""
    x = np.array(x, dtype=float)
    n, nx, k = model.n, model.nx, model.nx + model.nh
    x[:k] = np.round(x[:k])
    x[k:] = 0.0
    for cols, school in ((model.out_cols, model.xi), (model.in_cols, model.xj)):
        flow = np.zeros(4 * n)
        np.add.at(flow, model.xc * n + school, x[:nx])
        have = cols >= 0
        x[cols[have]] = flow[have]
    r = model.A @ x
    s0, g0 = model.s0, model.g0
    x[s0 : s0 + model.ns] = np.maximum(0.0, model.rl[model.s_rows] - r[model.s_rows])
    x[g0 : g0 + model.ng] = np.maximum(0.0, model.rl[model.g_rows] - r[model.g_rows])
    return x


def _feasible(A, rl, ru, cl, cu, x) -> bool:
    if (x < cl - 1e-9).any() or (x > cu + 1e-9).any():
        return False
    r = A @ x
    return bool(
        (r >= rl - 1e-6 * (1 + np.abs(rl))).all() and (r <= ru + 1e-6 * (1 + np.abs(ru))).all()
    )


def _solve_stage(model, c, A, rl, ru, cl, cu, groups, options, previous, integral=False):
    """One stage of the MIP, solved through its LP relaxation where possible.

    The model is nearly a network flow, so the LP optimum is usually integral or has a few
    fractional columns. Then every column not touching a school of a fractional column is fixed
    at its LP value and the rest is solved as a small MIP. A result is accepted as optimal when it
    is feasible and within ``mip_gap`` of the LP bound; otherwise the whole stage is solved as a
    MIP, started from the best plan found. With ``integral`` (an objective that is a whole
    number in every integer plan) a plan is optimal exactly when it reaches the LP bound rounded
    up, and the MIP is asked to prove that.
    """
    lp = solve_matrix(c, A, rl, ru, cl, cu, None, options=options, row_groups=groups)
    bound = float(c @ lp.x)
    seconds = lp.info.seconds
    k = model.nx + model.nh
    frac = np.abs(lp.x[:k] - np.round(lp.x[:k])) > 1e-6
    candidates = [("lp", lp.x)]
    if frac.any():
        schools = np.zeros(model.n, dtype=bool)
        fx = np.flatnonzero(frac[: model.nx])
        schools[model.xi[fx]] = schools[model.xj[fx]] = True
        schools[model.hi[np.flatnonzero(frac[model.nx :])]] = True
        free = np.zeros(len(c), dtype=bool)
        free[: model.nx] = schools[model.xi] | schools[model.xj]
        free[model.nx : k] = schools[model.hi]
        free[k:] = True
        sub_l, sub_u = cl.copy(), cu.copy()
        sub_l[~free] = sub_u[~free] = np.round(lp.x[~free])
        try:
            sub = solve_matrix(c, A, rl, ru, sub_l, sub_u, model.integ, options=options)
            seconds += sub.info.seconds
            candidates = [("lp+local", sub.x)]
        except (Infeasible, SolverError):
            pass
    best = None
    for method, values in candidates:
        x = _complete(model, values)
        if not _feasible(A, rl, ru, cl, cu, x):
            continue
        objective = float(c @ x)
        gap = max(objective - bound, 0.0) / max(abs(objective), 1.0)
        proven = objective < bound + 1.0 - 1e-6 if integral else gap <= options.mip_gap
        if proven:
            gap = 0.0 if integral else gap
            return x, SolveInfo("optimal", objective, bound, gap, seconds, lp.info.solver), method
        best = x
    if best is None and previous is not None and _feasible(A, rl, ru, cl, cu, previous):
        best = previous
    mip_options = dataclasses.replace(options, mip_gap=0.0) if integral else options
    mip = solve_matrix(
        c, A, rl, ru, cl, cu, model.integ, options=mip_options, row_groups=groups, start=best
    )
    x = _complete(model, mip.x)
    if not _feasible(A, rl, ru, cl, cu, x):
        raise SolverError("the solver's plan breaks the model after rounding teacher counts")
    info = dataclasses.replace(mip.info, seconds=mip.info.seconds + seconds)
    return x, info, "mip"


def _diagnose(d, idx, model, counties, policy, standard) -> Infeasible:
    """Elastic LP: the most rotations the rules allow; an Infeasible naming the numbers."""
    A = model.A.tocsr()
    m = A.shape[0]
    rows = model.quota_rows[model.quota_rows >= 0]
    quota_rows = rows[[g == "rotation_quota" for g in np.asarray(model.groups)[rows]]]
    elastic_rows = np.concatenate([quota_rows, model.share_rows]).astype(np.int64)
    k = len(elastic_rows)
    E = sp.csr_matrix((np.ones(k), (elastic_rows, np.arange(k))), shape=(m, k))
    A2 = sp.hstack([A, E], format="csc")
    ncol = A.shape[1]
    c = np.concatenate([np.zeros(ncol), np.ones(k)])
    cl = np.concatenate([model.cl, np.zeros(k)])
    cu = np.concatenate([model.cu, np.full(k, np.inf)])
    sol = solve_matrix(c, A2, model.rl, model.ru, cl, cu, None)
    slack = sol.x[ncol:]
    short_q = slack[: len(quota_rows)]
    short_b = slack[len(quota_rows) :]
    # map quota rows back to schools
    row_school = {int(r): i for i, r in enumerate(model.quota_rows) if r >= 0}
    g_idx = idx
    quota = d.quota[idx]
    violations: dict[str, float] = {}
    messages = []
    county = d.county[idx]
    limit = policy.travel_limit_minutes
    for c in counties:
        in_c = county == c
        required = int(quota[in_c & d.rotation_school[idx]].sum())
        eligible = int(d.eligible[idx][in_c & d.rotation_school[idx]].sum())
        nschools = int((in_c & d.rotation_school[idx]).sum())
        short_schools = []
        total_short = 0.0
        for r, v in zip(quota_rows, short_q, strict=True):
            i = row_school[int(r)]
            if county[i] == c and v > 1e-6:
                short_schools.append((v, i))
                total_short += v
        # rotation schools without any allowed move have no quota row at all
        no_row = np.flatnonzero(in_c & d.rotation_school[idx] & ~model.has_out)
        for i in no_row:
            short_schools.append((float(quota[i]), int(i)))
            total_short += quota[i]
        if total_short > 1e-6:
            short = _count(total_short)
            violations[f"{c}: rotation_quota"] = float(total_short)
            short_schools.sort(key=lambda t: -t[0])
            named = []
            for v, i in short_schools[:3]:
                gi = g_idx[i]
                T, req = d.current[gi, 0], d.need[gi, 0]
                if not (model.xi == i).any():
                    where = f"within {limit:g} minutes" if limit is not None else "in the county"
                    rules = " under the direction rules" if policy.direction_rules else ""
                    why = f"no school it may send to {where}{rules}"
                elif T < req:
                    why = f"it has {T} teachers for a requirement of {req} and nobody to replace those who leave"
                else:
                    why = f"it can spare {max(T - req, 0)} above its requirement of {req}"
                named.append(f"{d.ids[gi]} short by {_count(v)} ({why})")
            messages.append(
                f"county {c}: {required:,} eligible teachers must rotate out of {nschools} "
                f"urban/high-quality schools ({_pct(required, eligible)} of {eligible:,} eligible), "
                f"but under the rules the receiving schools can absorb only "
                f"{_count(required - total_short)} (short by {short}): " + "; ".join(named)
            )
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    for label, v in zip(model.share_county, short_b, strict=True):
        if v > 1e-6:
            violations[f"{label}: backbone_share"] = float(v)
            if label in counties:
                messages.append(
                    f"county {label}: backbone teachers must be at least {beta:.0%} of those who "
                    f"rotate, short by {_count(v)} backbone teachers (too few eligible backbone "
                    "teachers in the urban/high-quality schools)"
                )
            else:
                messages.append(
                    f"school {label}: must send at least {beta:.0%} of its required rotations as "
                    f"backbone teachers, short by {_count(v)} (too few eligible backbone teachers)"
                )
    if not messages:
        return None
    exc = Infeasible("the rotation quota cannot be met. " + " | ".join(messages), violations)
    return exc


def _count(v: float) -> str:
    return f"{v:,.0f}" if abs(v - round(v)) < 1e-6 else f"{v:,.1f}"


def _pct(a: float, b: float) -> str:
    return f"{a / b:.0%}" if b else "n/a"


# =========================================================================== verification
def _verify_block(d: _Data, idx, model: _Model, x, h, counties, caps, policy, standard):
    """Check the rounded plan of one block against the model; raise SolverError if violated."""
    problems = []
    n = model.n
    moved = x > 0
    xi, xj, xc = model.xi[moved], model.xj[moved], model.xc[moved]
    cnt = x[moved]
    out_c = np.zeros((n, 4), dtype=np.int64)
    in_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(out_c, (xi, xc), cnt)
    np.add.at(in_c, (xj, xc), cnt)
    hire_c = np.zeros((n, 4), dtype=np.int64)
    np.add.at(hire_c, (model.hi, model.hc), h)
    elig = d.elig[idx]
    if (out_c > elig).any():
        problems.append("more teachers of a category rotate than are eligible")
    out = out_c.sum(axis=1)
    if (out > d.out_cap[idx]).any():
        problems.append("more teachers rotate out of a school than are eligible")
    if (out < d.quota[idx]).any():
        bad = int(np.flatnonzero(out < d.quota[idx])[0])
        problems.append(f"rotation quota missed at {d.ids[idx][bad]}")
    T = d.current[idx, 0]
    after = T + (in_c - out_c + hire_c).sum(axis=1)
    senders = out > 0
    if (after[senders] < np.minimum(d.need[idx, 0], T)[senders]).any():
        problems.append("a sending school fell below its requirement")
    if policy.receiver_headroom_share is not None:
        top = np.maximum(
            T, np.ceil(np.round((1 + policy.receiver_headroom_share) * d.need[idx, 0], 9))
        )
        if (after[in_c.sum(axis=1) > 0] > top[in_c.sum(axis=1) > 0]).any():
            problems.append("a receiving school exceeds its headroom")
    beta = (
        standard.rotation.backbone_share if policy.backbone_share is None else policy.backbone_share
    )
    rot = d.rotation_school[idx]
    county = d.county[idx]
    for c in counties:
        mask = rot & (county == c)
        if out_c[mask, 0].sum() < beta * out[mask].sum() - 1e-9:
            problems.append(f"backbone teachers are under their share of rotations in {c}")
    if policy.backbone_share_scope == "school":
        least = np.ceil(np.round(beta * d.quota[idx], 9))
        if (out_c[rot, 0] < least[rot]).any():
            problems.append("a rotation school sends too few backbone teachers")
    for c in counties:
        if h[county[model.hi] == c].sum() > caps[c] + 1e-9:
            problems.append(f"hires in {c} exceed the hiring quota")
    gi, gj = idx[xi], idx[xj]
    if not _allowed(d, gi, gj, policy).all():
        problems.append("a move breaks the pair rules")
    if (
        policy.travel_limit_minutes is not None
        and (model.xm[moved] > policy.travel_limit_minutes + 1e-9).any()
    ):
        problems.append("a move exceeds the travel limit")
    if problems:
        raise SolverError(
            "the solver's plan fails its own rules after rounding: " + "; ".join(problems)
        )
