"""Tests of allocator.location.level_start: the dive into the relaxation gives a plan that keeps
every row of the model, is whole in its levels and costs no less than the optimum; so does the
search near the relaxation, which never costs more than its start; a levelled location solved
from them keeps its optimum."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import allocator.location.level_start as level_start
from allocator.errors import Infeasible, SolverError
from allocator.location import SiteLevels, levelled_location
from allocator.location.level_start import LevelView, dive, neighbourhood_plan
from allocator.solver import ModelBuilder, SolverOptions, solve_matrix, start_violations


def _modular_model(rng, n, m, share):
    """A facility model written here: sites of 1..3 modules (capacity k*U, cost k*C), clients
    with demand, allowed pairs with a cost per unit, a least share of all demand served."""
    unit = rng.integers(2, 7, size=m).astype(float)
    price = rng.integers(3, 9, size=m).astype(float)
    site = np.repeat(np.arange(m), 3)
    modules = np.tile([1.0, 2.0, 3.0], m)
    cost = modules * price[site]
    capacity = modules * unit[site]
    demand = rng.integers(1, 9, size=n).astype(float)
    allowed = rng.random((n, m)) < 0.7
    allowed[np.arange(n), rng.integers(0, m, size=n)] = True
    ci, sj = np.nonzero(allowed)
    b = ModelBuilder()
    y = b.add_columns("y", site.size, cost=cost, upper=1.0, integer=True)
    x = b.add_columns("x", ci.size, cost=rng.integers(0, 4, size=ci.size).astype(float))
    load = b.add_columns("load", m)
    pair, sites = np.arange(ci.size), np.arange(m)
    b.add_rows("choice", m, {y: (site, np.arange(site.size), 1.0)}, upper=1.0)
    b.add_rows("demand", n, {x: (ci, pair, 1.0)}, upper=demand)
    b.add_rows("load", m, {x: (sj, pair, 1.0), load: (sites, sites, -1.0)}, lower=0.0, upper=0.0)
    b.add_rows("capacity", m, {load: (sites, sites, 1.0), y: (site, np.arange(site.size),
                                                              -capacity)}, upper=0.0)  # fmt: skip
    b.add_rows("coverage", 1, {load: (0, sites, 1.0)}, lower=share * demand.sum())
    view = LevelView(site, cost, capacity, {}, np.array([], int))
    return b.build(), y, view


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(2, 9), st.integers(1, 5), st.sampled_from([0.5, 0.9]))
def test_the_dive_gives_a_whole_plan_that_keeps_every_row_and_costs_no_less(seed, n, m, share):
    model, y, view = _modular_model(np.random.default_rng(seed), n, m, share)
    try:
        best = solve_matrix(model, options=SolverOptions(mip_gap=1e-9)).info.objective
    except Infeasible:
        assert dive(model, y, view, SolverOptions()) is None
        return
    plan = dive(model, y, view, SolverOptions(), batch=0.5)
    assert plan is not None
    assert start_violations(model, plan) == {}
    levels = plan[y.columns]
    assert np.array_equal(levels, np.round(levels))
    assert np.bincount(view.site, weights=levels).max() <= 1
    assert float(model.c @ plan) >= best - 1e-6


def test_a_dive_out_of_rounds_rounds_the_fractional_sites_up(monkeypatch):
    """Two sites of one module (3 places, cost 3) and 4 units to serve: the relaxation opens 4/3
    modules; with no round left the dive rounds the fractional site up at once, and the
    relaxation's flows still fit."""
    monkeypatch.setattr(level_start, "MAX_ROUNDS", 0)
    b = ModelBuilder()
    y = b.add_columns("y", 2, cost=3.0, upper=1.0, integer=True)
    load = b.add_columns("load", 2, cost=[0.0, 0.1])
    b.add_rows("capacity", 2, {load: ([0, 1], [0, 1], 1.0), y: ([0, 1], [0, 1], -3.0)}, upper=0.0)
    b.add_rows("coverage", 1, {load: (0, [0, 1], 1.0)}, lower=4.0)
    model = b.build()
    view = LevelView(
        np.array([0, 1]), np.array([3.0, 3.0]), np.array([3.0, 3.0]), {}, np.array([], int)
    )
    plan = dive(model, y, view, SolverOptions())
    assert plan is not None and plan[:2].tolist() == [1.0, 1.0]
    assert start_violations(model, plan) == {}
    assert plan[2:].sum() == pytest.approx(4.0)


def test_a_rounding_that_leaves_no_plan_is_undone_and_rounded_up():
    """A required site as it is (2 places, free) or expanded (6 places, cost 6) and 3 units to
    serve: the relaxation expands a quarter (capacity 3); the nearest level, as it is, leaves no
    plan, so the dive rounds up to the expansion instead; the site is never closed."""
    b = ModelBuilder()
    y = b.add_columns("y", 2, cost=[0.0, 6.0], upper=1.0, integer=True)
    load = b.add_columns("load", 1)
    b.add_rows("choice", 1, {y: (0, [0, 1], 1.0)}, lower=1.0, upper=1.0)
    b.add_rows("capacity", 1, {load: (0, [0], 1.0), y: (0, [0, 1], [-2.0, -6.0])}, upper=0.0)
    b.add_rows("coverage", 1, {load: (0, [0], 1.0)}, lower=3.0)
    model = b.build()
    view = LevelView(np.array([0, 0]), np.array([0.0, 6.0]), np.array([2.0, 6.0]), {},
                     np.array([0]))  # fmt: skip
    plan = dive(model, y, view, SolverOptions())
    assert plan is not None and plan[:2].tolist() == [0.0, 1.0]
    assert start_violations(model, plan) == {}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(2, 9), st.integers(1, 5), st.sampled_from([0.5, 0.9]),
       st.booleans())  # fmt: skip
def test_the_search_near_the_relaxation_keeps_every_row_and_never_costs_more_than_its_start(
    seed, n, m, share, with_start
):
    model, y, view = _modular_model(np.random.default_rng(seed), n, m, share)
    try:
        best = solve_matrix(model, options=SolverOptions(mip_gap=1e-9)).info.objective
    except Infeasible:
        return
    start = dive(model, y, view, SolverOptions()) if with_start else None
    plan = neighbourhood_plan(model, start, SolverOptions(mip_gap=1e-9))
    if plan is None:  # no start, and no plan with the levels near the relaxation
        assert start is None
        return
    assert start_violations(model, plan) == {}
    assert float(model.c @ plan) >= best - 1e-6
    if start is not None:
        assert float(model.c @ plan) <= float(model.c @ start) + 1e-9


def _three_pockets():
    """Three sites of one 3-place step (cost 3 each), each within reach of 1 unit, and a class
    total n = z0 + z1 + z2; all 3 units must be served. The relaxation takes a third of a step
    at each site (n = 1, whole); every plan takes a whole step at each (n = 3)."""
    b = ModelBuilder()
    z = b.add_columns("z", 3, cost=3.0, upper=1.0, integer=True)
    total = b.add_columns("n", 1, upper=3.0, integer=True)
    load = b.add_columns("load", 3, upper=1.0)
    b.add_rows("capacity", 3, {load: ([0, 1, 2], [0, 1, 2], 1.0),
                               z: ([0, 1, 2], [0, 1, 2], -3.0)}, upper=0.0)  # fmt: skip
    b.add_rows("class", 1, {total: (0, [0], 1.0), z: (0, [0, 1, 2], -1.0)}, lower=0.0, upper=0.0)
    b.add_rows("coverage", 1, {load: (0, [0, 1, 2], 1.0)}, lower=3.0)
    return b.build(), z


def test_the_search_leaves_a_total_free_when_told():
    model, z = _three_pockets()
    assert neighbourhood_plan(model, None, SolverOptions()) is None  # n held at 1: no plan
    plan = neighbourhood_plan(model, None, SolverOptions(), columns=np.arange(z.start, z.stop))
    assert plan[:4].tolist() == [1.0, 1.0, 1.0, 3.0]
    assert float(model.c @ plan) == 9.0


def test_a_dive_out_of_time_in_a_relaxation_rounds_up_from_the_last_one(monkeypatch):
    """The second relaxation runs out of time: the dive rounds the sites still fractional in
    the first one up, and the plan keeps every row."""
    model, y, view = _modular_model(np.random.default_rng(7), 8, 5, 0.9)
    real = level_start.IncrementalModel.solve
    calls = []

    def solve(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise SolverError("out of time")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(level_start.IncrementalModel, "solve", solve)
    plan = dive(model, y, view, SolverOptions())
    assert len(calls) == 2
    assert plan is not None and start_violations(model, plan) == {}
    levels = plan[y.columns]
    assert np.array_equal(levels, np.round(levels))


@st.composite
def _levelled(draw):
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    n, m = draw(st.integers(2, 6)), draw(st.integers(2, 4))
    cost = rng.integers(0, 6, size=(n, m)).astype(float)
    cost[rng.random((n, m)) < 0.3] = np.inf
    site = np.repeat(np.arange(m), 3)
    modules = np.tile([1, 2, 3], m)
    lv = SiteLevels(
        site=site,
        cost=modules * rng.integers(5, 15, size=m)[site],
        capacity=modules * rng.integers(2, 6, size=m)[site],
        tags={"t": np.repeat(rng.random(m) < 0.6, 3)},
    )
    demand = rng.integers(0, 8, size=n).astype(float)
    share = draw(st.sampled_from([0.3, 0.6, 0.9]))
    shares = draw(st.sampled_from([{}, {"t": 0.5}]))
    return cost, demand, lv, share, shares


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_levelled())
def test_starting_from_the_dive_keeps_the_optimum(monkeypatch_module, inst):
    cost, demand, lv, share, shares = inst
    options = SolverOptions(mip_gap=1e-9)

    def solve():
        return levelled_location(cost, demand, lv, min_share=share, tag_shares=shares,
                                 options=options)  # fmt: skip

    try:
        plain = solve()
    except Infeasible:
        return
    with monkeypatch_module.context() as patch:
        patch.setattr(level_start, "DIVE_FROM_LEVELS", 0)
        started = solve()
    assert started.objective == pytest.approx(plain.objective, rel=1e-6, abs=1e-5)
    assert started.total_served >= share * demand.sum() - 1e-6


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch
