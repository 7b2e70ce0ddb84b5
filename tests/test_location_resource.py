"""A second resource in the levelled location model: hand-computed plans, bad input and an
independent PuLP model."""

from __future__ import annotations

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible, InputError
from allocator.location import SiteLevels, SiteResource, levelled_location

# one client of 10 units; site 0 costs 1 a unit, site 1 costs 2; both free to open
COST = np.array([[1.0, 2.0]])
LEVELS = SiteLevels(site=[0, 1], cost=[0.0, 0.0], capacity=[10.0, 10.0])


def _run(allowance, capacity=None, use=None, **kw):
    use = np.ones((1, 2)) if use is None else use
    res = SiteResource(use=use, allowance=allowance, price=5.0, capacity=capacity)
    return levelled_location(COST, [10], LEVELS, min_share=1.0, resource=res, **kw)


def test_without_resource_the_nearer_site_serves_everything():
    r = levelled_location(COST, [10], LEVELS, min_share=1.0)
    assert r.objective == pytest.approx(10.0) and r.resource_bought is None
    assert r.resource_cost == 0.0


def test_free_units_make_the_farther_site_cheaper():
    # site 1 has 10 free units: 10 * 2 = 20 against 10 * 1 + 10 * 5 = 60 at site 0
    r = _run([0.0, 10.0])
    assert r.flows.toarray().tolist() == [[0.0, 10.0]]
    assert r.objective == pytest.approx(20.0) and r.resource_cost == 0.0
    assert r.resource_bought.tolist() == [0.0, 0.0]


def test_split_where_the_free_units_run_out():
    # site 1 has 6 free: x at site 0 costs x + 5x + 2(10 - x) + 5 max(0, 4 - x); least at x = 4
    r = _run([0.0, 6.0])
    assert r.flows.toarray() == pytest.approx(np.array([[4.0, 6.0]]))
    assert r.objective == pytest.approx(36.0)
    assert r.resource_bought.tolist() == pytest.approx([4.0, 0.0])
    assert r.resource_cost == pytest.approx(20.0)
    assert r.fixed_cost + r.service_cost + r.resource_cost == pytest.approx(r.objective)


def test_resource_capacity_limits_the_site():
    # at most 5 units at site 1: x >= 5 at site 0, cost 20 + 4x, least at x = 5
    r = _run([0.0, 6.0], capacity=[100.0, 5.0])
    assert r.flows.toarray() == pytest.approx(np.array([[5.0, 5.0]]))
    assert r.objective == pytest.approx(40.0)
    assert r.resource_bought.tolist() == pytest.approx([5.0, 0.0])
    with pytest.raises(Infeasible):  # 10 units must be served but only 5 + 3 units fit
        _run([0.0, 6.0], capacity=[3.0, 5.0])


def test_use_per_unit_served_weights_the_units():
    # 0.5 units per unit served at site 0: x there costs x + 2.5x + 2(10 - x) + 5 max(0, 4 - x),
    # 40 - 3.5x up to x = 4 and 20 + 1.5x beyond: least at x = 4, 26 (2 units bought at site 0)
    r = _run([0.0, 6.0], use=sp.csr_matrix(np.array([[0.5, 1.0]])))
    assert r.flows.toarray() == pytest.approx(np.array([[4.0, 6.0]]))
    assert r.objective == pytest.approx(26.0)
    assert r.resource_bought.tolist() == pytest.approx([2.0, 0.0])


def test_budget_bounds_the_fixed_costs_only():
    lv = SiteLevels(site=[0, 0], cost=[0.0, 6.0], capacity=[4.0, 10.0])
    res = SiteResource(use=[[1.0]], allowance=[0.0, 5.0], price=2.0)
    r = levelled_location([[1.0]], [7], lv, required_sites=[0], budget=6, resource=res)
    assert r.levels.tolist() == [1] and r.fixed_cost == 6.0
    assert r.objective == pytest.approx(6.0 + 7.0 + 2.0 * 2.0)


def test_bad_resources_are_refused():
    with pytest.raises(InputError, match="resource price"):
        SiteResource(use=[[1.0, 1.0]], allowance=[0, 0], price=-1)
    with pytest.raises(InputError, match=r"resource allowance\[1\] = -2"):
        SiteResource(use=[[1.0, 1.0]], allowance=[0, -2], price=1)
    with pytest.raises(InputError, match=r"resource use has shape \(2, 2\); expected \(1, 2\)"):
        _run([0.0, 0.0], use=np.ones((2, 2)))
    with pytest.raises(InputError, match=r"resource use\[0, 1\] = inf"):
        _run([0.0, 0.0], use=np.array([[1.0, np.inf]]))
    with pytest.raises(InputError, match="resource allowance must have length 2"):
        _run([0.0, 0.0, 1.0])
    with pytest.raises(InputError, match="resource must be a SiteResource"):
        levelled_location(COST, [10], LEVELS, resource={"price": 1})


def _independent(cost, demand, lv, use, allowance, price, capacity, min_share, budget):
    """The same problem in PuLP, one flow per (client, level) and the units bought per level."""
    n, _ = cost.shape
    prob = pulp.LpProblem("check", pulp.LpMinimize)
    levels = range(lv.n_levels)
    y = [pulp.LpVariable(f"y{k}", cat="Binary") for k in levels]
    bought = [pulp.LpVariable(f"b{k}", lowBound=0) for k in levels]
    flow = {
        (i, k): pulp.LpVariable(f"x{i}_{k}", lowBound=0)
        for i in range(n)
        for k in levels
        if np.isfinite(cost[i, lv.site[k]])
    }
    zero = pulp.LpVariable("zero", lowBound=0, upBound=0)
    fixed = pulp.lpSum(float(lv.cost[k]) * y[k] for k in levels) + zero
    total = (
        fixed
        + pulp.lpSum(float(cost[i, lv.site[k]]) * v for (i, k), v in flow.items())
        + pulp.lpSum(price * b for b in bought)
    )
    served = pulp.lpSum(flow.values()) + zero
    for j in set(lv.site.tolist()):
        prob += pulp.lpSum(y[k] for k in levels if lv.site[k] == j) <= 1
    for k in levels:
        mine = [(i, v) for (i, kk), v in flow.items() if kk == k]
        prob += pulp.lpSum(v for _, v in mine) + zero <= float(lv.capacity[k]) * y[k]
        used = pulp.lpSum(float(use[i, lv.site[k]]) * v for i, v in mine) + zero
        prob += bought[k] >= used - float(allowance[k]) * y[k]
        if capacity is not None:
            prob += used <= float(capacity[k]) * y[k]
    for i in range(n):
        prob += pulp.lpSum(v for (ii, _), v in flow.items() if ii == i) + zero <= float(demand[i])
    prob += served >= min_share * float(np.sum(demand))
    solver = pulp.PULP_CBC_CMD(msg=0)
    if budget is not None:
        prob += fixed <= budget
        prob.setObjective(-served)
        prob.solve(solver)
        if pulp.LpStatus[prob.status] != "Optimal":
            return None
        prob += served >= pulp.value(served) - 1e-9
    prob.setObjective(total)
    prob.solve(solver)
    if pulp.LpStatus[prob.status] != "Optimal":
        return None
    return pulp.value(total), pulp.value(served)


@st.composite
def _instances(draw):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 10_000)))
    cost = rng.integers(1, 10, (n, m)).astype(float)
    cost[rng.random((n, m)) < 0.2] = np.inf
    use = rng.choice([0.0, 0.5, 1.0, 2.0], (n, m))
    site = np.repeat(np.arange(m), rng.integers(1, 3, m))
    k = site.size
    lv = SiteLevels(site=site, cost=rng.integers(0, 15, k).astype(float),
                    capacity=rng.integers(2, 12, k).astype(float))  # fmt: skip
    allowance = rng.integers(0, 10, k).astype(float)
    capacity = draw(st.sampled_from([None, "drawn"]))
    if capacity is not None:
        capacity = rng.integers(3, 20, k).astype(float)
    demand = rng.integers(0, 8, n).astype(float)
    price = float(draw(st.sampled_from([0.0, 1.0, 4.0])))
    min_share = draw(st.sampled_from([0.0, 0.5, 1.0]))
    budget = draw(st.sampled_from([None, 10.0]))
    return cost, demand, lv, use, allowance, price, capacity, min_share, budget


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances())
def test_agrees_with_independent_model(inst):
    cost, demand, lv, use, allowance, price, capacity, min_share, budget = inst
    expected = _independent(*inst)
    res = SiteResource(use=use, allowance=allowance, price=price, capacity=capacity)
    try:
        r = levelled_location(cost, demand, lv, min_share=min_share, budget=budget, resource=res)
    except Infeasible:
        assert expected is None
        return
    assert expected is not None
    want_cost, want_served = expected
    if budget is not None:
        assert r.total_served == pytest.approx(want_served, abs=1e-4)
    assert r.objective == pytest.approx(want_cost, abs=1e-4)
    # the units bought recomputed here from the flows and the chosen levels
    flows = r.flows.toarray()
    m = cost.shape[1]
    used = (flows * use).sum(axis=0)
    free, most = np.zeros(m), np.full(m, np.inf)
    np.add.at(free, lv.site[r.levels], allowance[r.levels])
    if capacity is not None:
        most = np.zeros(m)
        np.add.at(most, lv.site[r.levels], capacity[r.levels])
    assert (used <= most + 1e-6).all()
    assert r.resource_bought == pytest.approx(np.maximum(used - free, 0.0), abs=1e-6)
    assert r.resource_cost == pytest.approx(price * r.resource_bought.sum(), abs=1e-6)
