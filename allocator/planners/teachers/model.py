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
independent model, built as sparse arrays and solved by :func:`allocator.solver.solve_matrix`.
With ``same_county=False`` the blocks are the groups of counties linked by allowed moves. Only
pairs within the travel limit become variables.


The model of a block is built as sparse arrays (:func:`build_model`) and solved stage by stage by
:mod:`allocator.planners.teachers.solve`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from allocator.planners.teachers.categories import BACKBONE, CATEGORIES, GENERAL, PE_ARTS, QUALIFIED
from allocator.planners.teachers.data import Block, TeacherData
from allocator.planners.teachers.policy import TeacherPolicy
from allocator.standards import Standard

__all__ = ["BlockModel", "build_model"]


@dataclass
class BlockModel:
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


def build_model(
    d: TeacherData,
    block: Block,
    caps: dict[str, float],
    policy: TeacherPolicy,
    standard: Standard,
) -> BlockModel:
    """The model of one block (see the module docstring), with its cost vector per stage.

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
    >>> model.A.shape[1] == len(model.cl)
    True
    """
    lay = _layout(d, block, caps, policy)
    rows = _Rows(lay.ncol)
    _flow_rows(rows, lay)
    quota_rows = _out_total_rows(rows, lay)
    _sender_rows(rows, lay)
    if policy.receiver_headroom_share is not None:
        _receiver_rows(rows, lay, policy.receiver_headroom_share)
    s_rows = _shortfall_rows(rows, lay)
    share_rows, share_label = _backbone_share_rows(rows, lay, d, block, policy, standard)
    _hiring_rows(rows, lay, block, caps)
    g_rows, gap_bound = _gap_rows(rows, lay)
    return BlockModel(
        n=lay.n,
        nx=lay.nx,
        nh=lay.nh,
        ns=lay.ns,
        ng=lay.ng,
        s0=lay.s0,
        g0=lay.g0,
        xi=lay.xi,
        xj=lay.xj,
        xc=lay.xc,
        xm=lay.xm,
        hi=lay.hi,
        hc=lay.hc,
        out_cols=lay.out_cols,
        in_cols=lay.in_cols,
        si=lay.si,
        sk=lay.sk,
        A=rows.matrix(),
        rl=rows.lower(),
        ru=rows.upper(),
        cl=np.zeros(lay.ncol),
        cu=_column_upper(lay, caps),
        integ=np.arange(lay.ncol) < lay.nx + lay.nh,
        groups=rows.groups,
        **_stage_costs(lay, policy),
        quota_rows=quota_rows,
        has_out=lay.has_out,
        share_rows=np.array(share_rows, dtype=np.int64),
        share_county=share_label,
        s_rows=s_rows,
        g_rows=g_rows,
        gap_bound=gap_bound,
    )


@dataclass
class _Layout:
    """The columns of one block's model and the block's figures its rows are made of.

    Columns, in order: moves x (xi -> xj, category xc, minutes xm) | hires h (school hi, category
    hc) | out flows (one per sending school and category, ``out_flat = c * n + i``) | in flows |
    shortfalls s (school si, need sk) | gaps g (one per county in ``gap_counties``).
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
    nx: int = field(init=False)
    nh: int = field(init=False)
    ns: int = field(init=False)
    ng: int = field(init=False)
    h0: int = field(init=False)
    o0: int = field(init=False)
    i0: int = field(init=False)
    s0: int = field(init=False)
    g0: int = field(init=False)
    ncol: int = field(init=False)
    out_cols: np.ndarray = field(init=False)  # column of out_ic at c * n + i (-1: none)
    in_cols: np.ndarray = field(init=False)  # column of in_jc at c * n + j (-1: none)
    has_out: np.ndarray = field(init=False)

    def __post_init__(self):
        """Column counts and offsets."""
        n = self.n
        self.nx, self.nh, self.ns = len(self.xi), len(self.hi), len(self.si)
        self.ng = len(self.gap_counties)
        no, ni = len(self.out_flat), len(self.in_flat)
        self.h0 = self.nx
        self.o0 = self.h0 + self.nh
        self.i0 = self.o0 + no
        self.s0 = self.i0 + ni
        self.g0 = self.s0 + self.ns
        self.ncol = self.g0 + self.ng
        self.out_cols = np.full(4 * n, -1, dtype=np.int64)
        self.out_cols[self.out_flat] = self.o0 + np.arange(no)
        self.in_cols = np.full(4 * n, -1, dtype=np.int64)
        self.in_cols[self.in_flat] = self.i0 + np.arange(ni)
        self.has_out = self.out_cat.sum(axis=1) > 0


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


class _Rows:
    """The rows of the model, group after group, as sparse blocks over all columns."""

    def __init__(self, ncol: int):
        self.ncol = ncol
        self.blocks: list[sp.csr_matrix] = []
        self.lows: list[np.ndarray] = []
        self.highs: list[np.ndarray] = []
        self.groups: list[str] = []
        self.count = 0

    def entries(self, rows, cols, vals, nrows: int) -> sp.csr_matrix:
        """A block of ``nrows`` rows from (row, column, value) triplets."""
        return sp.csr_matrix((vals, (rows, cols)), shape=(nrows, self.ncol))

    def add(self, matrix, lower, upper, group) -> None:
        """Append rows ``lower <= matrix @ x <= upper`` of ``group`` (a name or one per row)."""
        matrix = sp.csr_matrix(matrix)
        if matrix.shape[0] == 0:
            return
        m = matrix.shape[0]
        self.blocks.append(matrix)
        self.lows.append(np.broadcast_to(np.asarray(lower, float), (m,)))
        self.highs.append(np.broadcast_to(np.asarray(upper, float), (m,)))
        self.groups.extend(group if isinstance(group, list) else [group] * m)
        self.count += m

    def matrix(self) -> sp.csr_matrix:
        """The constraint matrix."""
        if not self.blocks:
            return sp.csr_matrix((0, self.ncol))
        return sp.vstack(self.blocks, format="csr")

    def lower(self) -> np.ndarray:
        """The row lower bounds."""
        return np.concatenate(self.lows) if self.lows else np.zeros(0)

    def upper(self) -> np.ndarray:
        """The row upper bounds."""
        return np.concatenate(self.highs) if self.highs else np.zeros(0)


_ALL = np.arange(4)


def _flow_sum(rows: _Rows, lay: _Layout, sign_out, sign_in, sign_hire, cats, schools):
    """Rows (one per school) summing the school's out / in flows and hires of ``cats``."""
    n = lay.n
    r, c_, v = [], [], []
    pos = {int(i): k for k, i in enumerate(schools)}
    for cat in cats:
        flat = cat * n + schools
        for cols, sign in ((lay.out_cols[flat], sign_out), (lay.in_cols[flat], sign_in)):
            keep = cols >= 0
            r.append(np.flatnonzero(keep))
            c_.append(cols[keep])
            v.append(np.full(int(keep.sum()), sign, dtype=float))
    if lay.nh and sign_hire:
        hmask = np.isin(lay.hc, cats) & np.isin(lay.hi, schools)
        r.append(np.array([pos[int(i)] for i in lay.hi[hmask]], dtype=np.int64))
        c_.append(lay.h0 + np.flatnonzero(hmask))
        v.append(np.full(int(hmask.sum()), sign_hire, dtype=float))
    return rows.entries(np.concatenate(r), np.concatenate(c_), np.concatenate(v), len(schools))


def _flow_rows(rows: _Rows, lay: _Layout) -> None:
    """flow: out_ic - sum_j x_ijc = 0 and in_jc - sum_i x_ijc = 0."""
    n, nx = lay.n, lay.nx
    xcols = np.arange(nx)
    for flat, school, first in ((lay.out_flat, lay.xi, lay.o0), (lay.in_flat, lay.xj, lay.i0)):
        k = len(flat)
        pos = np.searchsorted(flat, lay.xc * n + school)
        matrix = rows.entries(
            np.concatenate([pos, np.arange(k)]),
            np.concatenate([xcols, first + np.arange(k)]),
            np.concatenate([-np.ones(nx), np.ones(k)]),
            k,
        )
        rows.add(matrix, 0.0, 0.0, "flow")


def _out_total_rows(rows: _Rows, lay: _Layout) -> np.ndarray:
    """rotation_quota / eligible: q_i <= sum_c out_ic <= cap_i, where the quota or the cap binds.

    Returns each school's row (-1: none).
    """
    quota, cap = lay.quota, lay.cap
    senders = np.flatnonzero(lay.has_out)
    total = senders[(quota[senders] > 0) | (cap[senders] < lay.out_cat[senders].sum(axis=1))]
    quota_rows = np.full(lay.n, -1, dtype=np.int64)
    quota_rows[total] = rows.count + np.arange(len(total))
    rows.add(
        _flow_sum(rows, lay, 1.0, 0.0, 0.0, _ALL, total),
        quota[total],
        cap[total],
        ["rotation_quota" if q > 0 else "eligible" for q in quota[total]],
    )
    return quota_rows


def _sender_rows(rows: _Rows, lay: _Layout) -> None:
    """sender_requirement: T_i + d_i >= min(r_i, T_i) where sending could break it."""
    T, req = lay.cur[:, 0], lay.need[:, 0]
    senders = np.flatnonzero(lay.has_out)
    keep = senders[T[senders] - lay.loss[senders, 0] < np.minimum(req, T)[senders]]
    rows.add(
        _flow_sum(rows, lay, -1.0, 1.0, 1.0, _ALL, keep),
        np.minimum(req, T)[keep] - T[keep],
        np.inf,
        "sender_requirement",
    )


def _receiver_rows(rows: _Rows, lay: _Layout, headroom: float) -> None:
    """receiver_headroom: T_i + d_i <= max(T_i, ceil((1 + headroom) r_i)) for receivers."""
    T, req = lay.cur[:, 0], lay.need[:, 0]
    receivers = np.unique(lay.xj)
    top = np.maximum(T, np.ceil(np.round((1 + headroom) * req, 9)))
    rows.add(
        _flow_sum(rows, lay, -1.0, 1.0, 1.0, _ALL, receivers),
        -np.inf,
        (top - T)[receivers],
        "receiver_headroom",
    )


def _shortfall_rows(rows: _Rows, lay: _Layout) -> np.ndarray:
    """shortfall: s_ik + net_k(i) >= need_ik - current_ik. Returns the row of each s column."""
    counts_for = {
        0: _ALL,
        1: np.array([BACKBONE, QUALIFIED]),
        2: np.array([BACKBONE]),
        3: np.array([PE_ARTS]),
    }
    s_rows = np.zeros(lay.ns, dtype=np.int64)
    for k in range(4):
        cols = np.flatnonzero(lay.sk == k)
        if len(cols) == 0:
            continue
        schools = lay.si[cols]
        m = _flow_sum(rows, lay, -1.0, 1.0, 1.0, counts_for[k], schools) + rows.entries(
            np.arange(len(cols)), lay.s0 + cols, np.ones(len(cols)), len(cols)
        )
        s_rows[cols] = rows.count + np.arange(len(cols))
        rows.add(m, lay.need[schools, k] - lay.cur[schools, k], np.inf, "shortfall")
    return s_rows


def _backbone_share_rows(rows: _Rows, lay: _Layout, d: TeacherData, block, policy, standard):
    """backbone_share: per county sum out_backbone >= beta sum out over rotation schools; with
    ``backbone_share_scope="school"`` also out_i,backbone >= ceil(beta q_i) per rotation school.

    Returns the rows and their labels (county or school id).
    """
    beta = policy.backbone_share_of(standard)
    rot = d.rotation_school[block.idx]
    share_rows, share_label = [], []
    if beta <= 0:
        return share_rows, share_label
    backbone = np.array([BACKBONE])
    for c in block.counties:
        members = np.flatnonzero(rot & (lay.county == c) & lay.has_out)
        if len(members) == 0:
            continue
        row = _flow_sum(rows, lay, 1.0, 0.0, 0.0, backbone, members).sum(axis=0) - beta * (
            _flow_sum(rows, lay, 1.0, 0.0, 0.0, _ALL, members).sum(axis=0)
        )
        share_rows.append(rows.count)
        share_label.append(c)
        rows.add(sp.csr_matrix(row), 0.0, np.inf, "backbone_share")
    if policy.backbone_share_scope == "school":
        members = np.flatnonzero(rot & lay.has_out)
        least = np.ceil(np.round(beta * lay.quota[members], 9))
        share_rows.extend(rows.count + np.arange(len(members)))
        share_label.extend(d.ids[block.idx][members])
        rows.add(
            _flow_sum(rows, lay, 1.0, 0.0, 0.0, backbone, members), least, np.inf, "backbone_share"
        )
    return share_rows, share_label


def _hiring_rows(rows: _Rows, lay: _Layout, block: Block, caps) -> None:
    """hiring_quota: sum h_ic <= H per county with a finite quota."""
    for c in block.counties:
        if math.isfinite(caps[c]) and caps[c] > 0:
            cols = lay.h0 + np.flatnonzero(lay.county[lay.hi] == c)
            if len(cols):
                m = rows.entries(np.zeros(len(cols), dtype=np.int64), cols, np.ones(len(cols)), 1)
                rows.add(m, -np.inf, caps[c], "hiring_quota")


def _gap_rows(rows: _Rows, lay: _Layout):
    """gap: g_k + net backbone into rural schools >= ceil(P_R * U0 / 100) - B_R per county.

    Returns the row of each gap column and a bound on the sum of the gaps.
    """
    B_now = lay.cur[:, 2].astype(float)
    g_rows = np.zeros(lay.ng, dtype=np.int64)
    gap_bound = 0.0
    for k, (c, pu, pr) in enumerate(lay.gap_counties):
        in_c = (lay.county == c) & lay.compulsory
        urban = np.flatnonzero(in_c & (lay.area == "urban"))
        rural = np.flatnonzero(in_c & (lay.area == "rural"))
        row = sp.csr_matrix(
            _flow_sum(rows, lay, -1.0, 1.0, 0.0, np.array([BACKBONE]), rural).sum(axis=0)
        ) + rows.entries([0], [lay.g0 + k], [1.0], 1)
        target = math.ceil(round(pr * B_now[urban].sum() / pu, 9))
        g_rows[k] = rows.count
        rows.add(row, target - B_now[rural].sum(), np.inf, "gap")
        # g_k is at most what rural schools lack now plus the backbone teachers they can send
        gap_bound += max(0.0, target - B_now[rural].sum()) + float(lay.elig[rural, BACKBONE].sum())
    return g_rows, gap_bound


def _column_upper(lay: _Layout, caps) -> np.ndarray:
    """Column upper bounds: eligible heads for moves and out flows, the county quota for hires."""
    cu = np.full(lay.ncol, np.inf)
    cu[: lay.nx] = lay.elig[lay.xi, lay.xc]
    if lay.nh:
        cu[lay.h0 : lay.h0 + lay.nh] = [caps[c] for c in lay.county[lay.hi]]
    oi, oc = lay.out_flat % lay.n, lay.out_flat // lay.n
    cu[lay.o0 : lay.o0 + len(lay.out_flat)] = lay.elig[oi, oc]  # only eligible heads rotate
    return cu


def _stage_costs(lay: _Layout, policy: TeacherPolicy) -> dict[str, np.ndarray]:
    """The cost vector of each stage: shortfall, gap, moves, and the hires (1 per hire)."""
    ncol, h0, nh = lay.ncol, lay.h0, lay.nh
    c_short = np.zeros(ncol)
    c_short[lay.s0 : lay.s0 + lay.ns] = lay.weight[lay.si, lay.sk]
    c_gap = np.zeros(ncol)
    c_gap[lay.g0 :] = 1.0
    c_move = np.zeros(ncol)
    c_move[: lay.nx] = policy.move_weight + policy.minute_weight * lay.xm
    c_move[h0 : h0 + nh] = 1e-5 * (lay.hc != GENERAL)  # keep general posts preferred (stage 1b)
    hire_cols = np.zeros(ncol)
    hire_cols[h0 : h0 + nh] = 1.0
    return {"c_short": c_short, "c_gap": c_gap, "c_move": c_move, "hire_cols": hire_cols}
