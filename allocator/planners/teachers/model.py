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
from dataclasses import dataclass

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
    idx, pairs, counties = block.idx, block.pairs, block.counties
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
            [
                out_cat.sum(axis=1),
                out_cat[:, BACKBONE] + out_cat[:, QUALIFIED],
                out_cat[:, BACKBONE],
                out_cat[:, PE_ARTS],
            ]
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
    counts_for = {
        0: all_cats,
        1: np.array([BACKBONE, QUALIFIED]),
        2: np.array([BACKBONE]),
        3: np.array([PE_ARTS]),
    }
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
    beta = policy.backbone_share_of(standard)
    rot = d.rotation_school[idx]
    share_rows, share_label = [], []
    if beta > 0:
        for c in counties:
            members = np.flatnonzero(rot & (county == c) & has_out)
            if len(members) == 0:
                continue
            row = flow_rows(1.0, 0.0, 0.0, np.array([BACKBONE]), members).sum(axis=0) - beta * (
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
            add(
                flow_rows(1.0, 0.0, 0.0, np.array([BACKBONE]), members),
                least,
                np.inf,
                "backbone_share",
            )
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
        row = sp.csr_matrix(
            flow_rows(-1.0, 1.0, 0.0, np.array([BACKBONE]), rural).sum(axis=0)
        ) + rows_of([0], [g0 + k], [1.0], 1)
        target = math.ceil(round(pr * B_now[urban].sum() / pu, 9))
        g_rows[k] = rows_so_far()
        add(row, target - B_now[rural].sum(), np.inf, "gap")
        # g_k is at most what rural schools lack now plus the backbone teachers they can send
        gap_bound += max(0.0, target - B_now[rural].sum()) + float(elig[rural, BACKBONE].sum())
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
    c_move[h0 : h0 + nh] = 1e-5 * (hc != GENERAL)  # keep general posts preferred (see stage 1b)
    hire_cols = np.zeros(ncol)
    hire_cols[h0 : h0 + nh] = 1.0
    return BlockModel(
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
