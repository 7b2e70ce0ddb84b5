"""The safe reductions of the levelled location model: dominated levels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible
from allocator.location import SiteLevels, levelled_location
from allocator.location.level_ladder import chosen_levels, find_ladders, steps_taken
from allocator.location.level_presolve import undominated
from allocator.solver import ModelBuilder, solve_matrix


def test_dominated_levels_by_hand():
    # site 0: reach 100. Level 2 (cap 150 -> usable 100, cost 9) is dominated by level 1
    # (cap 120 -> usable 100, cost 7, same tags); level 0 (cost 3, cap 50) is not.
    # site 1: level 4 equals level 3 (kept: the first); level 5 has a tag the others lack: kept.
    lv = SiteLevels(
        site=[0, 0, 0, 1, 1, 1],
        cost=[3, 7, 9, 5, 5, 5],
        capacity=[50, 120, 150, 40, 40, 40],
        tags={"p": [True, True, True, False, False, True]},
    )
    assert undominated(lv, np.array([100.0, 100.0])).tolist() == [0, 1, 5]
    # a larger reach: the 150 level holds more, so it stays
    assert undominated(lv, np.array([200.0, 100.0])).tolist() == [0, 1, 2, 5]


def test_a_cheaper_level_without_the_tag_does_not_dominate():
    lv = SiteLevels(site=[0, 0], cost=[1, 2], capacity=[10, 10], tags={"p": [False, True]})
    assert undominated(lv, np.array([10.0])).tolist() == [0, 1]
    # the tagged level is needed for the share: the optimum uses it
    r = levelled_location(
        [[1.0]], [10], lv, required_sites=[0], min_share=1.0, tag_shares={"p": 1.0}
    )
    assert r.levels.tolist() == [1] and r.objective == pytest.approx(12.0)


def test_modules_that_do_not_divide_keep_the_optimum():
    # 7 units at one site: modules of 3 (3, 6, 9 places, 3 per module). 9 and 12 places are
    # both above the reach 7, so 12 (dearer) is dominated; the optimum must take 9 (not 6).
    lv = SiteLevels(site=[0, 0, 0, 0], cost=[3, 6, 9, 12], capacity=[3, 6, 9, 12])
    assert undominated(lv, np.array([7.0])).tolist() == [0, 1, 2]
    r = levelled_location([[0.0]], [7], lv, min_share=1.0)
    assert r.levels.tolist() == [2] and r.objective == pytest.approx(9.0)


def _plain(cost, demand, lv, min_share, share, required=()):
    """The same model written again without reductions: binaries per level, flows per pair."""
    n, m = cost.shape
    ci, sj = np.nonzero(np.isfinite(cost))
    b = ModelBuilder()
    y = b.add_columns("y", lv.n_levels, cost=lv.cost, upper=1.0, integer=True)
    x = b.add_columns("x", ci.size, cost=cost[ci, sj])
    t = b.add_columns("t", m)
    k = np.arange(lv.n_levels)
    must = np.zeros(m)
    must[list(required)] = 1.0
    b.add_rows("one", m, {y: (lv.site, k, 1.0)}, lower=must, upper=1.0)
    b.add_rows("demand", n, {x: (ci, np.arange(ci.size), 1.0)}, upper=demand)
    b.add_rows("cap", m, {x: (sj, np.arange(ci.size), 1.0), y: (lv.site, k, -lv.capacity)},
               upper=0.0)  # fmt: skip
    tagged = np.flatnonzero(lv.tags["p"])
    b.add_rows("tl", m, {t: (np.arange(m), np.arange(m), 1.0), x: (sj, np.arange(ci.size), -1.0)},
               upper=0.0)  # fmt: skip
    b.add_rows("tc", m, {t: (np.arange(m), np.arange(m), 1.0),
                         y: (lv.site[tagged], tagged, -lv.capacity[tagged])}, upper=0.0)  # fmt: skip
    b.add_rows("cov", 1, {x: (np.zeros(ci.size, int), np.arange(ci.size), 1.0)},
               lower=min_share * demand.sum())  # fmt: skip
    b.add_rows("share", 1, {t: (np.zeros(m, int), np.arange(m), 1.0),
                            x: (np.zeros(ci.size, int), np.arange(ci.size), -share)}, lower=0.0)  # fmt: skip
    try:
        return solve_matrix(b.build()).info.objective
    except Infeasible:
        return None


@st.composite
def _instances(draw):
    rng = np.random.default_rng(draw(st.integers(0, 100_000)))
    n, m = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    cost = rng.integers(0, 5, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.3] = np.inf
    demand = rng.integers(0, 10, n).astype(float)
    per = rng.integers(1, 5, m)
    site = np.repeat(np.arange(m), per)
    # modules: sizes 3, 6, 9, ... at a price per place (equal costs: many ties and dominations)
    size = np.concatenate([3 * np.arange(1, p + 1) for p in per]).astype(float)
    price = rng.choice([1.0, 2.0], site.size)
    lv = SiteLevels(site=site, cost=size * price, capacity=size,
                    tags={"p": rng.random(site.size) < 0.6})  # fmt: skip
    return (
        cost,
        demand,
        lv,
        draw(st.sampled_from([0.0, 0.5, 0.8])),
        draw(st.sampled_from([0.0, 0.5])),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances())
def test_reduced_model_agrees_with_the_plain_milp(inst):
    cost, demand, lv, min_share, share = inst
    want = _plain(cost, demand, lv, min_share, share)
    try:
        r = levelled_location(cost, demand, lv, min_share=min_share, tag_shares={"p": share})
    except Infeasible:
        assert want is None
        return
    assert want is not None and r.objective == pytest.approx(want, rel=1e-6, abs=1e-5)
    # every row, recomputed on the original levels
    flows = r.flows.toarray()
    assert (flows[~np.isfinite(cost)] == 0).all()
    assert (flows.sum(axis=1) <= demand + 1e-6).all()
    cap = np.zeros(cost.shape[1])
    np.add.at(cap, lv.site[r.levels], lv.capacity[r.levels])
    assert (flows.sum(axis=0) <= cap + 1e-6).all()
    assert np.bincount(lv.site[r.levels], minlength=cost.shape[1]).max(initial=0) <= 1
    assert flows.sum() >= min_share * demand.sum() - 1e-6
    on = np.zeros(cost.shape[1], bool)
    on[lv.site[r.levels[lv.tags["p"][r.levels]]]] = True
    assert flows[:, on].sum() >= share * flows.sum() - 1e-6
    assert r.objective == pytest.approx(
        lv.cost[r.levels].sum() + np.nansum(np.where(flows > 0, cost, 0) * flows), abs=1e-5
    )


@st.composite
def _ladder_instances(draw):
    """Sites whose levels climb in equal steps (some required, with a level as they are), some
    whose steps are uneven or whose tags differ (binaries), clients in reach of a few."""
    rng = np.random.default_rng(draw(st.integers(0, 100_000)))
    n, m = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    cost = rng.integers(0, 5, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.4] = np.inf
    demand = rng.integers(0, 12, n).astype(float)
    site, price, capacity, tag, required = [], [], [], [], []
    for j in range(m):
        kind = rng.integers(0, 3)  # 0: new (1..K modules), 1: existing + steps, 2: uneven
        steps = int(rng.integers(1, 4))
        step, step_cost = float(rng.integers(2, 6)), float(rng.integers(1, 8))
        base = float(rng.integers(0, 7)) if kind else 0.0
        q = np.arange(0 if kind else 1, steps + 1)
        cap = base + step * q
        if kind == 2:
            cap = cap + rng.integers(0, 2, q.size)  # uneven: binaries
        site += [j] * q.size
        capacity += cap.tolist()
        price += (float(rng.integers(0, 3)) * (kind > 0) + step_cost * q).tolist()
        tags = np.full(q.size, rng.random() < 0.6)
        if rng.random() < 0.2:
            tags[-1] = ~tags[-1]  # a last step with another tag: binaries
        tag += tags.tolist()
        if kind and rng.random() < 0.7:
            required.append(j)
    lv = SiteLevels(site=np.array(site), cost=price, capacity=capacity, tags={"p": tag})
    return (cost, demand, lv, draw(st.sampled_from([0.0, 0.5, 0.8])),
            draw(st.sampled_from([0.0, 0.5])), required)  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ladder_instances())
def test_ladder_sites_keep_the_optimum_of_the_plain_milp(inst):
    cost, demand, lv, min_share, share, required = inst
    want = _plain(cost, demand, lv, min_share, share, required)
    try:
        r = levelled_location(cost, demand, lv, required_sites=required, min_share=min_share,
                              tag_shares={"p": share})  # fmt: skip
    except Infeasible:
        assert want is None
        return
    assert want is not None and r.objective == pytest.approx(want, rel=1e-6, abs=1e-5)
    chosen = np.bincount(lv.site[r.levels], minlength=cost.shape[1])
    assert chosen.max(initial=0) <= 1 and (chosen[required] == 1).all()
    cap = np.zeros(cost.shape[1])
    np.add.at(cap, lv.site[r.levels], lv.capacity[r.levels])
    assert (r.flows.toarray().sum(axis=0) <= cap + 1e-6).all()
    assert r.objective == pytest.approx(r.fixed_cost + r.service_cost)
    assert r.fixed_cost == pytest.approx(lv.cost[r.levels].sum())


def test_ladders_found_by_hand():
    # site 0: 1..3 modules of 4 (a ladder); site 1: as is 5, +3, +6 (a ladder, required);
    # site 2: 4 and 9 places (uneven: binaries); site 3: its steps carry different tags
    lv = SiteLevels(
        site=[0, 0, 0, 1, 1, 1, 2, 2, 3, 3],
        cost=[2, 4, 6, 0, 1, 2, 1, 2, 1, 2],
        capacity=[4, 8, 12, 5, 8, 11, 4, 9, 3, 6],
        tags={"p": [1, 1, 1, 0, 0, 0, 1, 1, 0, 1]},
    )
    ladders = find_ladders(lv, required=np.array([1]), reach=np.array([9.0, 30.0, 9.0, 9.0]))
    assert ladders.site.tolist() == [0, 1]
    assert ladders.top.tolist() == [3, 2]  # 9 needs 3 modules at site 0
    assert ladders.cut_slope.tolist() == [1.0, 0.0]  # site 0: the third module adds 1 within 9
    assert ladders.on_ladder.tolist() == [True] * 6 + [False] * 4
    assert ladders.tags["p"].tolist() == [True, False]
    assert steps_taken(ladders, np.array([0, 0, 1, 1, 0, 0, 0, 0, 0, 0.0])).tolist() == [3, 0]
    assert chosen_levels(ladders, np.array([0.0, 2.0])).tolist() == [5]
    # with 9 of demand at site 0 and a coverage of all of it: 3 modules (12 places), cost 6
    r = levelled_location([[0.0]], [9], SiteLevels(site=[0, 0, 0], cost=[2, 4, 6],
                                                   capacity=[4, 8, 12]), min_share=1.0)  # fmt: skip
    assert r.levels.tolist() == [2] and r.objective == pytest.approx(6.0)
