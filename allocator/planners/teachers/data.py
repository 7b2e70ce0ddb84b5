"""Region -> arrays: the per-school figures, hiring caps and allowed moves of the teacher planner.

Categories (the data give overlapping counts; people move in disjoint groups)
---------------------------------------------------------------------------
A school has ``T`` teachers of whom ``Q`` qualified (above-required qualification), ``B`` backbone
and ``E`` PE/arts; the three are subsets of ``T`` that may overlap, and only their sizes are known.
The heads are split into disjoint groups with the largest nesting "backbone inside qualified" and
PE/arts outside both where the head count allows:

* ``backbone``  = min(B, Q) - eb  (backbone and qualified; a move changes T, Q and B)
* ``qualified`` = Q - min(B, Q) - eq  (qualified, not backbone; changes T and Q)
* ``pe_arts``   = min(E, T - max(B, Q))  (PE/arts only; changes T and E)
* ``general``   = T - max(B, Q) - pe_arts  (none of the three; changes T)
* locked heads, who never move: backbone teachers beyond Q (when B > Q), and the v = E - pe_arts
  PE/arts teachers who must overlap the others, eq = min(v, Q - min(B, Q)) of them counted among
  the qualified and eb = min(v - eq, min(B, Q)) among the backbone.

Moving or hiring whole heads of these groups keeps every ``teachers_x <= teachers`` and conserves
each column exactly. Eligible teachers (column ``teachers_eligible`` if the schools table has it,
else ``floor(eligible_share * T)``) are not known by category: category c of a school may supply up
to ``min(n_c, ceil(e / T * n_c))`` heads, and all categories together at most ``e``.


Examples
--------
>>> from allocator.synth import make_region
>>> from allocator.planners.teachers.policy import TeacherPolicy
>>> region, policy = make_region(schools=30, seed=2), TeacherPolicy()
>>> data = school_arrays(region, policy, policy.load_standard())
>>> data.current.shape == (30, 4) and bool((data.movable.sum(axis=1) <= data.current[:, 0]).all())
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from allocator.errors import InputError
from allocator.planners.teachers.categories import NEEDS
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.region import PUPIL_COLUMNS, Region
from allocator.standards import Standard, assessment_parts, required_staff

__all__ = [
    "TeacherData",
    "Block",
    "split_heads",
    "school_arrays",
    "staffing_gaps",
    "hiring_caps",
    "allowed_moves",
    "county_blocks",
]

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


@dataclass
class TeacherData:
    """Per-school arrays of the whole region (index = row of ``region.schools``).

    ``current`` and ``need`` have one column per need (:data:`NEEDS`: T, Q, B, E and the
    requirements r_i, need_ik); ``movable``, ``elig`` and ``weight`` one per category or need as
    named below. ``quota`` is changed in place when a rotation school's quota is waived or its
    county is left unplanned.
    """

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


class Block(NamedTuple):
    """One independent part of the region: its counties, schools and allowed moves.

    Attributes
    ----------
    label : str
        The county, or ``"<first county> +k"`` for a group of counties linked by moves.
    counties : list of str
    idx : numpy.ndarray
        The block's schools (rows of the region's schools table).
    pairs : tuple of numpy.ndarray
        Allowed moves as (sender rows, receiver rows, minutes), rows of the schools table.
    """

    label: str
    counties: list[str]
    idx: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]


def split_heads(T, Q, B, E):
    """Disjoint movable groups (backbone, qualified, pe_arts, general) and locked heads.

    Examples
    --------
    >>> m, locked = split_heads(np.array([10, 5]), np.array([4, 4]), np.array([2, 5]),
    ...                         np.array([3, 2]))
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


def _reject(schools: pd.DataFrame, bad: np.ndarray, message, column: str, value=True) -> None:
    """Raise an InputError naming the first school flagged in ``bad`` (if any)."""
    if not bad.any():
        return
    pos = int(np.flatnonzero(bad)[0])
    raw = schools[column].iloc[pos] if column in schools.columns else None
    kwargs = {"value": raw} if value else {}
    raise InputError(
        message(raw),
        table="schools",
        row_id=schools["school_id"].iloc[pos],
        row=pos,
        column=column,
        **kwargs,
    )


def _whole_column(schools: pd.DataFrame, column: str, upper: np.ndarray | None = None):
    """A column of whole numbers >= 0 (and <= ``upper``), as int64."""
    values = pd.to_numeric(schools[column], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if upper is not None:
        bad |= values > upper
    expected = "a whole number >= 0" + (" and <= teachers" if upper is not None else "")
    _reject(schools, bad, lambda raw: f"value {raw!r}; expected {expected}", column)
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


def _eligible_heads(s: pd.DataFrame, T, movable, policy: TeacherPolicy):
    """Eligible teachers per school, eligible heads per category, and the most that may leave."""
    n = len(s)
    if "teachers_eligible" in s.columns:
        eligible = _whole_column(s, "teachers_eligible", upper=T)
    else:
        eligible = np.floor(policy.eligible_share * T + 1e-9).astype(np.int64)
    share = np.divide(eligible, T, out=np.zeros(n), where=T > 0)
    elig = np.minimum(movable, np.ceil(np.round(share[:, None] * movable, 9)).astype(np.int64))
    out_cap = np.minimum(eligible, elig.sum(axis=1))
    if policy.max_rotation_share is not None:
        out_cap = np.minimum(out_cap, np.floor(policy.max_rotation_share * eligible + 1e-9))
    return eligible, elig, out_cap.astype(np.int64)


def _high_quality(s: pd.DataFrame, county, level, pupils, compulsory, bb100, policy):
    """High-quality schools: the ``high_quality`` column, else the county's top backbone rates."""
    n = len(s)
    if "high_quality" in s.columns:
        raw = s["high_quality"]
        if raw.dtype == bool:
            return raw.to_numpy(bool)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        _reject(
            s,
            ~np.isin(values, (0.0, 1.0)),
            lambda v: f"value {v!r}; expected true/false or 1/0",
            "high_quality",
        )
        return values == 1.0
    hq = np.zeros(n, dtype=bool)
    for c in dict.fromkeys(county):
        members = np.flatnonzero(
            (county == c) & compulsory & (level != "teaching_point") & (pupils > 0)
        )
        if len(members):
            cut = np.quantile(bb100[members], policy.high_quality_quantile)
            hq[members] = (bb100[members] >= cut - 1e-12) & (bb100[members] > 0)
    return hq


def _districts(s: pd.DataFrame, policy: TeacherPolicy) -> np.ndarray | None:
    """Each school's district when moves must stay within one (else None)."""
    if not policy.same_district:
        return None
    if "district" not in s.columns:
        raise InputError(
            "policy.same_district is true but the schools table has no 'district' column; "
            "expected a district per school (or same_district=false)",
            table="schools",
            column="district",
        )
    _reject(
        s,
        s["district"].isna().to_numpy(),
        lambda _: "empty district; expected a district per school",
        "district",
        value=False,
    )
    return s["district"].astype(str).to_numpy().astype(object)


def school_arrays(region: Region, policy: TeacherPolicy, standard: Standard) -> TeacherData:
    """The per-school arrays of ``region`` under ``policy`` and the norms of ``standard``.

    Parameters
    ----------
    region : Region
    policy : TeacherPolicy
    standard : Standard
        The norms (``policy.load_standard()``): required staff, 2017 thresholds, rotation share.

    Returns
    -------
    TeacherData

    Raises
    ------
    InputError
        A bad ``teachers_eligible``, ``high_quality`` or ``district`` value.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> policy = TeacherPolicy()
    >>> d = school_arrays(make_region(schools=20, seed=1), policy, policy.load_standard())
    >>> bool((d.quota[~d.rotation_school] == 0).all())
    True
    """
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
    movable, _ = split_heads(T, Q, B, E)
    eligible, elig, out_cap = _eligible_heads(s, T, movable, policy)

    stage_bits = np.array([_STAGE_BITS.get(v, 0) for v in level], dtype=np.int64)
    compulsory = (stage_bits & 3) > 0
    bb100 = np.divide(100.0 * B, pupils, out=np.zeros(n), where=pupils > 0)
    hq = _high_quality(s, county, level, pupils, compulsory, bb100, policy)
    rotation_share = policy.rotation_share_of(standard)
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
    district = _districts(s, policy)
    return TeacherData(
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


def staffing_gaps(d: TeacherData) -> np.ndarray:
    """Each school's staffing gap: the teachers it lacks to reach its required staff (>= 0).

    A single hiring quota or budget for several counties is split in proportion to the sum of
    these gaps over each county's schools (see :func:`hiring_caps`).
    """
    return np.maximum(d.need[:, 0] - d.current[:, 0], 0)


def hiring_caps(policy: TeacherPolicy, d: TeacherData, counties: list[str]) -> dict[str, float]:
    """Hiring posts per county (inf = no limit).

    A single number for several counties is split in proportion to the counties' staffing gaps
    (teachers short of the required staff, summed over their schools; equal shares when no
    county has a gap), rounded by largest remainder (ties to the county listed first), so that the
    shares add up to the number.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> policy = TeacherPolicy(hiring_quota=10)
    >>> d = school_arrays(make_region(schools=30, seed=2), policy, policy.load_standard())
    >>> counties = list(dict.fromkeys(d.county))
    >>> int(sum(hiring_caps(policy, d, counties).values()))
    10
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


def allowed_moves(
    d: TeacherData, pi: np.ndarray, pj: np.ndarray, policy: TeacherPolicy
) -> np.ndarray:
    """Which moves ``pi[k] -> pj[k]`` (rows of the schools table) the policy allows.

    A move needs a sender with eligible teachers, the same county and district when asked, the
    stage rule, and with ``direction_rules`` a stronger sender (area type, then high quality,
    then backbone teachers per 100 pupils). The travel limit is applied by :func:`county_blocks`.
    """
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
    """The highest stage bit of each school."""
    out = np.zeros_like(bits)
    for b in (1, 2, 4):
        out = np.where(bits & b, b, out)
    return out


def _pairs_from_matrix(m: sp.spmatrix, rows: np.ndarray, cols: np.ndarray):
    """The stored entries of a travel-time matrix as (row, column, minutes) arrays."""
    coo = m.tocoo()
    return rows[coo.row], cols[coo.col], coo.data.astype(float)


def county_blocks(region: Region, d: TeacherData, policy: TeacherPolicy) -> Iterator[Block]:
    """Yield each independent :class:`Block` with its moves within the travel limit.

    Moves stay within a county (``same_county``, default), so each county is a block. With
    ``same_county=False`` the blocks are the groups of counties linked by allowed moves.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region, policy = make_region(schools=30, seed=2), TeacherPolicy()
    >>> d = school_arrays(region, policy, policy.load_standard())
    >>> [b.label for b in county_blocks(region, d, policy)] == list(dict.fromkeys(d.county))
    True
    """
    counties = list(dict.fromkeys(d.county))
    if policy.same_county:
        for c in counties:
            idx = np.flatnonzero(d.county == c)
            m = region.travel_minutes(d.node[idx], d.node[idx], cutoff=policy.travel_limit_minutes)
            pi, pj, pm = _pairs_from_matrix(m, idx, idx)
            keep = allowed_moves(d, pi, pj, policy)
            yield Block(c, [c], idx, (pi[keep], pj[keep], pm[keep]))
        return
    everyone = np.arange(len(d.ids))
    m = region.travel_minutes(d.node, d.node, cutoff=policy.travel_limit_minutes)
    pi, pj, pm = _pairs_from_matrix(m, everyone, everyone)
    keep = allowed_moves(d, pi, pj, policy)
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
        yield Block(name, members, idx, (pi[inside], pj[inside], pm[inside]))
