"""Arrays -> model: one block's staged LP / MIP of teacher posting and rotation.

Model (one block per county; see "Decomposition")
------------------------------------------------
Sets: schools I; categories C = (backbone, qualified, pe_arts, general); allowed moves A, the
triples (i, j, c) with i != j, road travel time t_ij <= ``travel_limit_minutes``, the same county
(and the same ``district`` when asked), the stage rule (default "certificate": the receiving school
teaches a stage no higher than the highest the sending school teaches, as a teacher certificate
of a higher stage covers the lower ones), eligible heads of c at i, and, with
``direction_rules``, key(i) > key(j) for key = (area rank urban 2 > town 1 > rural 0,
high-quality flag, backbone teachers per 100 pupils).

Data: r_i required staff (:func:`allocator.standards.required_staff`); need_ik for k in
(qualified, backbone, pe_arts) = the largest, over the school's assessed in-scope parts p, of
ceil(threshold_pk / 100 * pupils_p / share_p), share_p the part's share of the school's teachers in
the 2017 assessment (so that meeting the need meets the indicator in every part); need_i,staff = r_i.
Rotation schools R: compulsory-education schools that are urban or high-quality (a primary, junior
or nine-year school whose backbone teachers per 100 pupils are > 0 and at or above the
``high_quality_quantile`` of its county's such schools; or as a ``high_quality`` column says),
with quota q_i = ceil(rotation_share * e_i).

Variables: x_ijc >= 0 integer (teachers of c rotating i -> j); h_ic >= 0 integer (hires, c in
``hire_categories``; backbone teachers are not hired); s_ik >= 0 (shortfall); g >= 0 (gap).
With out_ic = sum_j x_ijc, in_ic = sum_j x_jic, d_ic = in_ic - out_ic + h_ic, d_i = sum_c d_ic:

* out_ic <= e_ic;  q_i <= sum_c out_ic <= min(e_i, floor(max_rotation_share * e_i))  (q_i = 0 if
  i is not in R);
* T_i + d_i >= min(r_i, T_i) for every school with outgoing moves: a sender never falls below its
  requirement (one already below it may only exchange, or rotate teachers replaced by hires);
* optional: T_i + d_i <= max(T_i, ceil((1 + receiver_headroom_share) r_i)) for receivers;
* s_i,staff >= r_i - T_i - d_i;  s_i,qualified >= need - Q_i - d_i,backbone - d_i,qualified;
  s_i,backbone >= need - B_i - d_i,backbone;  s_i,pe_arts >= need - E_i - d_i,pe_arts;
* sum_{i in R} out_i,backbone >= backbone_share * sum_{i in R} sum_c out_ic  (per county), and
  with ``backbone_share_scope="school"`` also out_i,backbone >= ceil(backbone_share * q_i) for
  each rotation school (its share of the rotations it must make);
* sum h_ic <= H (the county's hiring quota: ``hiring_quota`` and ``hiring_budget_yuan /
  cost_per_hire_yuan``; a single number for several counties is split in proportion to their
  staffing gaps, sum_i max(r_i - T_i, 0) over the county's schools, rounded by largest remainder
  (equal shares if no county has a gap), a dict gives each county its own);
* g_k >= ceil(P_R * U0 / 100) - B_R - sum_{i rural} d_i,backbone for each county k: the backbone
  teachers its rural schools lack to reach the urban schools' rate before the plan (U0 backbone per
  100 pupils; P_R rural pupils, B_R their backbone teachers; compulsory-education schools).

Objective, lexicographic:

1. min sum_ik w_k P_i s_ik / need_ik: the pupil-weighted shortfall, i.e. pupils times the share of
   their school's requirement that is missing, summed over the needs (weights ``need_weights``);
1b. min sum h_ic: the fewest hires that reach that shortfall (hires staff schools; they are not
   used to free more teachers for rotation);
2. min sum_k g_k: the urban-rural gap in backbone teachers per 100 pupils, linearised as the rural
   schools' shortfall against the urban rate before the plan, counted in teachers (one-sided:
   rural behind urban; a plan does not push rural schools past the urban rate for its own sake);
3. min sum x_ijc (move_weight + minute_weight * t_ij): fewest moves, shortest journeys; plus
   1e-5 per qualified or PE/arts post, so that among as many posts general ones are preferred
   where no need asks for a category.

Each stage keeps what the stages before achieved: every shortfall s_ik and every county's g_k
stay at most their values in the previous stage's plan (column bounds), and the hires at most
their number (1b and 2 are solved as one, with the weights (G + 1) on hires and 1 on the gap,
G a bound on the gap: both are whole numbers, so this orders them exactly). This keeps the
weighted optimum of stage 1 and the optimum of stage 2 exactly, and,
unlike a weighted-sum row with a tolerance, keeps the model nearly a network flow: its LP
relaxation is then usually integral, which is what makes it fast.

Decomposition: moves stay within a county (``same_county``, default), so each county is an
independent model, solved by :func:`allocator.solver.solve_matrix`. With ``same_county=False``
the blocks are the groups of counties linked by allowed moves. Only pairs within the travel limit
become variables.

The model of a block is built with :class:`~allocator.solver.ModelBuilder` (:func:`build_model`):
column blocks ``moves`` (x), ``hires`` (h), ``out`` and ``in`` (the aggregate flows out_ic and
in_ic, columns of their own defined by equality rows, so that a move column has 2 nonzeros instead
of one per constraint it touches: the LP is a transportation problem with side constraints on the
aggregate flows), ``shortfall`` (s) and ``gap`` (g); row groups ``flow``, ``rotation_quota`` and
``eligible`` (total out of a sender), ``sender_requirement``, ``receiver_headroom``,
``shortfall``, ``backbone_share``, ``hiring_quota`` and ``gap``. It is solved stage by stage by
:mod:`allocator.planners.teachers.solve`. The elastic variant (``elastic=True``) adds a column of
cost 1 to each rotation-quota and backbone-share row; :mod:`allocator.planners.teachers.diagnose`
minimises their sum to say by how much the quotas cannot be met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from allocator.planners.teachers.categories import (
    BACKBONE,
    CATEGORIES,
    GENERAL,
    PE_ARTS,
    QUALIFIED,
)
from allocator.planners.teachers.data import Block, TeacherData
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.solver import ColumnBlock, LinearModel, ModelBuilder
from allocator.standards import Standard

__all__ = ["BlockModel", "build_model"]


@dataclass(frozen=True, eq=False)
class BlockModel:
    """One block's model, with what the stages, the rounding and the checks need to read it.

    Attributes
    ----------
    lp : LinearModel
        The model with a zero objective (each stage sets its own). Moves and hires are its first
        ``nx + nh`` columns.
    n : int
        Schools of the block (local index k is row ``block.idx[k]`` of the schools table).
    xi, xj, xc, xm : numpy.ndarray
        Each move column's local sender, local receiver, category and minutes.
    hi, hc : numpy.ndarray
        Each hire column's local school and category.
    out_flat, in_flat : numpy.ndarray
        Each out / in flow column's ``category * n + school``.
    s_rows, g_rows : numpy.ndarray
        The row defining each shortfall / gap column.
    c_short, c_gap, c_move, hire_cols : numpy.ndarray
        Stage costs (shortfall, gap, moves) and the hire count, over all columns.
    has_out : numpy.ndarray
        Schools with a move column out.
    quota_schools : numpy.ndarray
        Local school of each rotation-quota row, in row order.
    share_labels : list of str
        County (or school id, with ``backbone_share_scope="school"``) of each backbone-share row.
    gap_bound : float
        The gap columns cannot add up to more.
    """

    lp: LinearModel
    n: int
    xi: np.ndarray
    xj: np.ndarray
    xc: np.ndarray
    xm: np.ndarray
    hi: np.ndarray
    hc: np.ndarray
    out_flat: np.ndarray
    in_flat: np.ndarray
    s_rows: np.ndarray
    g_rows: np.ndarray
    c_short: np.ndarray
    c_gap: np.ndarray
    c_move: np.ndarray
    hire_cols: np.ndarray
    has_out: np.ndarray
    quota_schools: np.ndarray
    share_labels: list
    gap_bound: float

    @property
    def nx(self) -> int:
        """Move columns."""
        return len(self.xi)

    @property
    def nh(self) -> int:
        """Hire columns."""
        return len(self.hi)


def build_model(
    d: TeacherData,
    block: Block,
    caps: dict[str, float],
    policy: TeacherPolicy,
    standard: Standard,
    elastic: bool = False,
) -> BlockModel:
    """The model of one block (see the module docstring), with its cost vector per stage.

    With ``elastic`` the rotation-quota and backbone-share rows get an elastic column each
    (blocks ``elastic_quota`` and ``elastic_share``, cost 1, the last columns).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.teachers.data import county_blocks, hiring_caps, school_arrays
    >>> region, policy = make_region(schools=30, seed=2), TeacherPolicy()
    >>> standard = policy.load_standard()
    >>> d = school_arrays(region, policy, standard)
    >>> caps = hiring_caps(policy, d, list(dict.fromkeys(d.county)))
    >>> block = next(county_blocks(region, d, policy))
    >>> model = build_model(d, block, caps, policy, standard)
    >>> model.lp.shape[1] == len(model.c_short), list(model.lp.columns)[:2]
    (True, ['moves', 'hires'])
    """
    lay = _layout(d, block, caps, policy)
    b = ModelBuilder()
    cols = _add_columns(b, lay, caps)
    _flow_rows(b, lay, cols)
    quota_rows = _out_total_rows(b, lay, cols)
    _sender_rows(b, lay, cols)
    if policy.receiver_headroom_share is not None:
        _receiver_rows(b, lay, cols, policy.receiver_headroom_share)
    s_rows = _shortfall_rows(b, lay, cols)
    share_rows, share_labels = _backbone_share_rows(b, lay, cols, d, block, policy, standard)
    _hiring_rows(b, lay, cols, block, caps)
    g_rows, gap_bound = _gap_rows(b, lay, cols)
    if elastic:
        for name, rows in (("elastic_quota", quota_rows), ("elastic_share", share_rows)):
            k = sum(r.size for r in rows)
            slack = b.add_columns(name, k, cost=1.0)
            start = 0
            for r in rows:
                b.add_terms(r, slack, (np.arange(r.size), start + np.arange(r.size), 1.0))
                start += r.size
    lp = b.build()
    return BlockModel(
        lp=lp,
        n=lay.n,
        xi=lay.xi,
        xj=lay.xj,
        xc=lay.xc,
        xm=lay.xm,
        hi=lay.hi,
        hc=lay.hc,
        out_flat=lay.out_flat,
        in_flat=lay.in_flat,
        s_rows=s_rows,
        g_rows=g_rows,
        **_stage_costs(lp, lay, policy),
        has_out=lay.has_out,
        quota_schools=lay.quota_schools,
        share_labels=share_labels,
        gap_bound=gap_bound,
    )


@dataclass
class _Layout:
    """The block's columns, as index arrays, and the block's figures its rows are made of.

    Moves x (xi -> xj, category xc, minutes xm); hires h (school hi, category hc); out / in flows
    (one per sending / receiving school and category, ``flat = c * n + i``); shortfalls s (school
    si, need sk); gaps g (one per county in ``gap_counties``).
    """

    n: int
    xi: np.ndarray
    xj: np.ndarray
    xc: np.ndarray
    xm: np.ndarray
    hi: np.ndarray
    hc: np.ndarray
    out_flat: np.ndarray
    in_flat: np.ndarray
    si: np.ndarray
    sk: np.ndarray
    gap_counties: list  # (county, urban pupils, rural pupils) with both
    county: np.ndarray
    area: np.ndarray
    compulsory: np.ndarray
    quota: np.ndarray
    elig: np.ndarray
    need: np.ndarray
    cur: np.ndarray
    weight: np.ndarray
    cap: np.ndarray
    out_cat: np.ndarray  # heads of each category a school can send (0: no move column)
    loss: np.ndarray  # heads each school can lose at most, per need
    nh: int = field(init=False)
    out_pos: np.ndarray = field(init=False)  # out column (in its block) at c * n + i, -1: none
    in_pos: np.ndarray = field(init=False)  # in column (in its block) at c * n + j, -1: none
    has_out: np.ndarray = field(init=False)
    quota_schools: np.ndarray = field(init=False)  # schools with a rotation-quota row

    def __post_init__(self):
        """Flow column positions and the schools with moves out."""
        n = self.n
        self.nh = len(self.hi)
        self.out_pos = np.full(4 * n, -1, dtype=np.int64)
        self.out_pos[self.out_flat] = np.arange(len(self.out_flat))
        self.in_pos = np.full(4 * n, -1, dtype=np.int64)
        self.in_pos[self.in_flat] = np.arange(len(self.in_flat))
        self.has_out = self.out_cat.sum(axis=1) > 0
        self.quota_schools = np.flatnonzero(self.has_out & (self.quota > 0))


class _Columns(NamedTuple):
    """The model's column blocks."""

    x: ColumnBlock
    h: ColumnBlock
    out: ColumnBlock
    into: ColumnBlock
    s: ColumnBlock
    g: ColumnBlock


def _move_columns(d: TeacherData, block: Block):
    """Move columns (local sender, local receiver, category, minutes): every allowed pair, for
    each category the sender has eligible heads of."""
    idx = block.idx
    local = np.full(len(d.ids), -1, dtype=np.int64)
    local[idx] = np.arange(len(idx))
    gi, gj, gm = block.pairs
    li, lj = local[gi], local[gj]
    elig = d.elig[idx]
    xi, xj, xc, xm = [], [], [], []
    for c in range(4):
        keep = elig[li, c] > 0
        xi.append(li[keep])
        xj.append(lj[keep])
        xc.append(np.full(int(keep.sum()), c, dtype=np.int64))
        xm.append(gm[keep])
    return tuple(np.concatenate(v) for v in (xi, xj, xc, xm))


def _layout(d: TeacherData, block: Block, caps, policy: TeacherPolicy) -> _Layout:
    """The block's columns: moves, hires, flows, shortfalls where a school can be short, gaps."""
    idx, n = block.idx, len(block.idx)
    xi, xj, xc, xm = _move_columns(d, block)
    county = d.county[idx]
    hire_cats = np.array([CATEGORIES.index(c) for c in policy.hire_categories], dtype=np.int64)
    h_school = np.flatnonzero(np.array([caps[c] > 0 for c in county], dtype=bool))
    # aggregate flows: one column per (school, category) that sends / receives
    out_flat = np.unique(xc * n + xi)
    elig = d.elig[idx]
    # heads each school can lose at most, per need and in all (0 if it sends nobody)
    out_cat = np.zeros((n, 4), dtype=np.int64)
    oi, oc = out_flat % n, out_flat // n
    out_cat[oi, oc] = elig[oi, oc]
    cap = d.out_cap[idx]
    B, Q, E = BACKBONE, QUALIFIED, PE_ARTS
    loss = np.minimum(
        cap[:, None],
        np.column_stack(
            [out_cat.sum(axis=1), out_cat[:, B] + out_cat[:, Q], out_cat[:, B], out_cat[:, E]]
        ),
    )
    need, cur, weight = d.need[idx], d.current[idx], d.weight[idx]
    # a shortfall column only where the school can be short after the plan
    si, sk = np.nonzero((need > cur - loss) & (weight > 0))
    compulsory, area = d.compulsory[idx], d.area[idx]
    pupils = d.pupils[idx].astype(float)
    gap_counties = []
    for c in block.counties:
        in_c = (county == c) & compulsory
        pu = pupils[in_c & (area == "urban")].sum()
        pr = pupils[in_c & (area == "rural")].sum()
        if pu > 0 and pr > 0:
            gap_counties.append((c, pu, pr))
    return _Layout(
        n=n,
        xi=xi,
        xj=xj,
        xc=xc,
        xm=xm,
        hi=np.repeat(h_school, len(hire_cats)),
        hc=np.tile(hire_cats, len(h_school)),
        out_flat=out_flat,
        in_flat=np.unique(xc * n + xj),
        si=si,
        sk=sk,
        gap_counties=gap_counties,
        county=county,
        area=area,
        compulsory=compulsory,
        quota=d.quota[idx],
        elig=elig,
        need=need,
        cur=cur,
        weight=weight,
        cap=cap,
        out_cat=out_cat,
        loss=loss,
    )


def _add_columns(b: ModelBuilder, lay: _Layout, caps) -> _Columns:
    """Column blocks with their bounds: moves and out flows at most the eligible heads, hires at
    most the county's quota; moves and hires integer."""
    oi, oc = lay.out_flat % lay.n, lay.out_flat // lay.n
    return _Columns(
        x=b.add_columns("moves", len(lay.xi), upper=lay.elig[lay.xi, lay.xc], integer=True),
        h=b.add_columns("hires", lay.nh, upper=[caps[c] for c in lay.county[lay.hi]], integer=True),
        out=b.add_columns("out", len(lay.out_flat), upper=lay.elig[oi, oc]),
        into=b.add_columns("in", len(lay.in_flat)),
        s=b.add_columns("shortfall", len(lay.si)),
        g=b.add_columns("gap", len(lay.gap_counties)),
    )


_ALL = np.arange(4)


def _flow_terms(lay: _Layout, cols: _Columns, sign_out, sign_in, sign_hire, cats, schools):
    """Terms of rows (one per school of ``schools``) summing its out / in flows and hires of
    the categories ``cats`` with the given signs (0: left out)."""
    n = lay.n
    terms = {}
    for block, pos, sign in ((cols.out, lay.out_pos, sign_out), (cols.into, lay.in_pos, sign_in)):
        if not sign:
            continue
        r, c = [], []
        for cat in cats:
            p = pos[cat * n + schools]
            keep = p >= 0
            r.append(np.flatnonzero(keep))
            c.append(p[keep])
        terms[block] = (np.concatenate(r), np.concatenate(c), float(sign))
    if lay.nh and sign_hire:
        hmask = np.isin(lay.hc, cats) & np.isin(lay.hi, schools)
        row = {int(i): k for k, i in enumerate(schools)}
        r = np.array([row[int(i)] for i in lay.hi[hmask]], dtype=np.int64)
        terms[cols.h] = (r, np.flatnonzero(hmask), float(sign_hire))
    return terms


def _flow_rows(b: ModelBuilder, lay: _Layout, cols: _Columns) -> None:
    """flow: out_ic - sum_j x_ijc = 0 and in_jc - sum_i x_ijc = 0."""
    n, moves = lay.n, np.arange(len(lay.xi))
    for block, flat, school in ((cols.out, lay.out_flat, lay.xi), (cols.into, lay.in_flat, lay.xj)):
        k = len(flat)
        pos = np.searchsorted(flat, lay.xc * n + school)
        terms = {cols.x: (pos, moves, -1.0), block: (np.arange(k), np.arange(k), 1.0)}
        b.add_rows("flow", k, terms, lower=0.0, upper=0.0)


def _out_total_rows(b: ModelBuilder, lay: _Layout, cols: _Columns) -> list:
    """rotation_quota: q_i <= sum_c out_ic <= cap_i; eligible: sum_c out_ic <= cap_i where the
    category caps do not bound it. Returns the rotation-quota row groups (for elastic columns)."""
    quota, cap = lay.quota, lay.cap
    senders = np.flatnonzero(lay.has_out)
    capped = senders[(quota[senders] == 0) & (cap[senders] < lay.out_cat[senders].sum(axis=1))]
    rows = []
    for name, schools in (("rotation_quota", lay.quota_schools), ("eligible", capped)):
        terms = _flow_terms(lay, cols, 1.0, 0.0, 0.0, _ALL, schools)
        rows.append(b.add_rows(name, len(schools), terms, lower=quota[schools], upper=cap[schools]))
    return [r for r in rows[:1] if r.size]


def _sender_rows(b: ModelBuilder, lay: _Layout, cols: _Columns) -> None:
    """sender_requirement: T_i + d_i >= min(r_i, T_i) where sending could break it."""
    T, req = lay.cur[:, 0], lay.need[:, 0]
    senders = np.flatnonzero(lay.has_out)
    keep = senders[T[senders] - lay.loss[senders, 0] < np.minimum(req, T)[senders]]
    terms = _flow_terms(lay, cols, -1.0, 1.0, 1.0, _ALL, keep)
    b.add_rows("sender_requirement", len(keep), terms, lower=np.minimum(req, T)[keep] - T[keep])


def _receiver_rows(b: ModelBuilder, lay: _Layout, cols: _Columns, headroom: float) -> None:
    """receiver_headroom: T_i + d_i <= max(T_i, ceil((1 + headroom) r_i)) for receivers."""
    T, req = lay.cur[:, 0], lay.need[:, 0]
    receivers = np.unique(lay.xj)
    top = np.maximum(T, np.ceil(np.round((1 + headroom) * req, 9)))
    terms = _flow_terms(lay, cols, -1.0, 1.0, 1.0, _ALL, receivers)
    b.add_rows("receiver_headroom", len(receivers), terms, upper=(top - T)[receivers])


def _shortfall_rows(b: ModelBuilder, lay: _Layout, cols: _Columns) -> np.ndarray:
    """shortfall: s_ik + net_k(i) >= need_ik - current_ik. Returns the row of each s column."""
    counts_for = {
        0: _ALL,
        1: np.array([BACKBONE, QUALIFIED]),
        2: np.array([BACKBONE]),
        3: np.array([PE_ARTS]),
    }
    s_rows = np.zeros(len(lay.si), dtype=np.int64)
    for k in range(4):
        s_cols = np.flatnonzero(lay.sk == k)
        schools = lay.si[s_cols]
        terms = _flow_terms(lay, cols, -1.0, 1.0, 1.0, counts_for[k], schools)
        terms[cols.s] = (np.arange(len(s_cols)), s_cols, 1.0)
        low = lay.need[schools, k] - lay.cur[schools, k]
        rows = b.add_rows("shortfall", len(s_cols), terms, lower=low)
        s_rows[s_cols] = rows.start + np.arange(len(s_cols))
    return s_rows


def _backbone_share_rows(
    b: ModelBuilder,
    lay: _Layout,
    cols: _Columns,
    d: TeacherData,
    block: Block,
    policy: TeacherPolicy,
    standard: Standard,
):
    """backbone_share: per county sum out_backbone >= beta sum out over rotation schools; with
    ``backbone_share_scope="school"`` also out_i,backbone >= ceil(beta q_i) per rotation school.

    Returns the row groups and the label of each row (county or school id).
    """
    beta = policy.backbone_share_of(standard)
    if beta <= 0:
        return [], []
    rot = d.rotation_school[block.idx]
    backbone = np.array([BACKBONE])
    rows_r, cols_c, vals, labels = [], [], [], []
    for c in block.counties:
        members = np.flatnonzero(rot & (lay.county == c) & lay.has_out)
        if len(members) == 0:
            continue
        for cats, value in ((backbone, 1.0), (_ALL, -beta)):
            _, out_cols, _ = _flow_terms(lay, cols, 1.0, 0.0, 0.0, cats, members)[cols.out]
            rows_r.append(np.full(len(out_cols), len(labels)))
            cols_c.append(out_cols)
            vals.append(np.full(len(out_cols), value))
        labels.append(c)
    terms = {cols.out: tuple(np.concatenate(p) for p in (rows_r, cols_c, vals))} if labels else {}
    groups = [b.add_rows("backbone_share__county", len(labels), terms, lower=0.0)]
    if policy.backbone_share_scope == "school":
        members = np.flatnonzero(rot & lay.has_out)
        least = np.ceil(np.round(beta * lay.quota[members], 9))
        terms = _flow_terms(lay, cols, 1.0, 0.0, 0.0, backbone, members)
        groups.append(b.add_rows("backbone_share__school", len(members), terms, lower=least))
        labels.extend(d.ids[block.idx][members])
    return [g for g in groups if g.size], labels


def _hiring_rows(b: ModelBuilder, lay: _Layout, cols: _Columns, block: Block, caps) -> None:
    """hiring_quota: sum h_ic <= H per county with a finite quota."""
    rows, hires, limits = [], [], []
    for c in block.counties:
        if math.isfinite(caps[c]) and caps[c] > 0:
            h = np.flatnonzero(lay.county[lay.hi] == c)
            if len(h):
                rows.append(np.full(len(h), len(limits)))
                hires.append(h)
                limits.append(caps[c])
    terms = {cols.h: (np.concatenate(rows), np.concatenate(hires), 1.0)} if limits else {}
    b.add_rows("hiring_quota", len(limits), terms, upper=np.array(limits, dtype=float))


def _gap_rows(b: ModelBuilder, lay: _Layout, cols: _Columns):
    """gap: g_k + net backbone into rural schools >= ceil(P_R * U0 / 100) - B_R per county.

    Returns the row of each gap column and a bound on the sum of the gaps.
    """
    B_now = lay.cur[:, 2].astype(float)
    gap_bound = 0.0
    parts = {cols.out: ([], []), cols.into: ([], [])}
    lower = []
    for k, (c, pu, pr) in enumerate(lay.gap_counties):
        in_c = (lay.county == c) & lay.compulsory
        urban = np.flatnonzero(in_c & (lay.area == "urban"))
        rural = np.flatnonzero(in_c & (lay.area == "rural"))
        terms = _flow_terms(lay, cols, -1.0, 1.0, 0.0, np.array([BACKBONE]), rural)
        for block, (_, flow_cols, _) in terms.items():
            parts[block][0].append(np.full(len(flow_cols), k))
            parts[block][1].append(flow_cols)
        target = math.ceil(round(pr * B_now[urban].sum() / pu, 9))
        lower.append(target - B_now[rural].sum())
        # g_k is at most what rural schools lack now plus the backbone teachers they can send
        gap_bound += max(0.0, target - B_now[rural].sum()) + float(lay.elig[rural, BACKBONE].sum())
    ng = len(lay.gap_counties)
    terms = {cols.g: (np.arange(ng), np.arange(ng), 1.0)}
    for block, sign in ((cols.out, -1.0), (cols.into, 1.0)):
        if parts[block][0]:
            terms[block] = (np.concatenate(parts[block][0]), np.concatenate(parts[block][1]), sign)
    rows = b.add_rows("gap", ng, terms, lower=np.array(lower, dtype=float))
    return rows.start + np.arange(ng), gap_bound


def _stage_costs(lp: LinearModel, lay: _Layout, policy: TeacherPolicy) -> dict[str, np.ndarray]:
    """The cost vector of each stage: shortfall, gap, moves, and the hires (1 per hire)."""
    ncol = lp.shape[1]
    cols = lp.columns
    c_short = np.zeros(ncol)
    c_short[cols["shortfall"]] = lay.weight[lay.si, lay.sk]
    c_gap = np.zeros(ncol)
    c_gap[cols["gap"]] = 1.0
    c_move = np.zeros(ncol)
    c_move[cols["moves"]] = policy.move_weight + policy.minute_weight * lay.xm
    c_move[cols["hires"]] = 1e-5 * (lay.hc != GENERAL)  # keep general posts preferred (stage 1b)
    hire_cols = np.zeros(ncol)
    hire_cols[cols["hires"]] = 1.0
    return {"c_short": c_short, "c_gap": c_gap, "c_move": c_move, "hire_cols": hire_cols}
