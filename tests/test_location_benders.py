"""Tests of the Benders decomposition of the radius formulation (allocator.location.benders)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible, InputError
from allocator.location import (
    benders_facility_location,
    benders_p_median,
    p_median,
    read_orlib_pmed,
)
from allocator.location.benders import plan_objective
from allocator.location.common import allowed_pairs
from allocator.location.radius import deepest_cuts, plan_costs, sort_pairs
from allocator.solver import ModelBuilder, SolverOptions, solve_matrix
from allocator.solver.incremental import IncrementalModel

ORLIB = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "orlib" / "pmed"
OPTIMA = {"pmed1": 5819, "pmed2": 4093, "pmed3": 4250, "pmed4": 3034, "pmed5": 1355}


def test_optima_table_matches_the_data():
    lines = (ORLIB / "pmedopt.txt").read_text().splitlines()[1:]
    table = {a: float(b) for a, b in (line.split() for line in lines if line.strip())}
    assert {k: table[k] for k in OPTIMA} == OPTIMA


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_orlib_optimum_proven_and_equal_to_p_median(name):
    cost, p = read_orlib_pmed(ORLIB / f"{name}.txt")
    r = benders_p_median(cost, p)
    assert r.status == "optimal" and r.objective == OPTIMA[name] and r.bound == OPTIMA[name]
    assert r.sites.size == p
    # the objective recomputed here from the assignment, and the assignment is the cheapest
    assert cost[np.arange(cost.shape[0]), r.assignment].sum() == r.objective
    assert (cost[np.arange(cost.shape[0]), r.assignment] == cost[:, r.sites].min(axis=1)).all()
    assert p_median(cost, p).objective == r.objective


def test_orlib_with_a_radius_agrees_with_p_median_on_sparse_pairs():
    cost, _ = read_orlib_pmed(ORLIB / "pmed2.txt")
    limited = np.where(cost <= 60, cost, np.inf)  # 26 sites at least cover every client
    p = 30
    sparse = sp.csr_matrix(np.where(np.isfinite(limited), limited + 1, 0.0))
    sparse.data -= 1  # stored entries are the allowed pairs, zeros included
    assert sparse.nnz == np.isfinite(limited).sum()
    a, b = benders_p_median(sparse, p), p_median(limited, p)
    assert a.status == b.status == "optimal" and a.objective == b.objective


def _brute(cost, w, f, p):
    """(best cost, fewest sites covering every client) by enumerating site sets."""
    n, m = cost.shape
    best, fewest = math.inf, math.inf
    sizes = [p] if p is not None else range(1, m + 1)
    for k in range(1, m + 1):
        for sites in itertools.combinations(range(m), k):
            each = cost[:, sites].min(axis=1)
            if not np.isfinite(each).all():
                continue
            fewest = min(fewest, k)
            if k in sizes:
                best = min(best, f[list(sites)].sum() + float(w @ each))
    return best, fewest


@st.composite
def instances(draw):
    n = draw(st.integers(1, 7))
    m = draw(st.integers(1, 5))
    values = draw(
        st.lists(st.integers(0, 20), min_size=n * m, max_size=n * m).map(
            lambda v: np.array(v, dtype=float).reshape(n, m)
        )
    )
    mask = draw(
        st.lists(st.booleans(), min_size=n * m, max_size=n * m).map(
            lambda v: np.array(v).reshape(n, m)
        )
    )
    mask[np.arange(n), draw(st.lists(st.integers(0, m - 1), min_size=n, max_size=n))] = True
    cost = np.where(mask, values, np.inf)
    w = np.array(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n)), dtype=float)
    if draw(st.booleans()):
        w = w + 0.25  # fractional data: no rounding of the bound
    return cost, w


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.integers(1, 5), st.booleans())
def test_p_median_equals_enumeration(instance, p, as_sparse):
    cost, w = instance
    m = cost.shape[1]
    p = min(p, m)
    best, fewest = _brute(cost, w, np.zeros(m), p)
    given_cost = cost
    if as_sparse:
        given_cost = sp.csr_matrix(np.where(np.isfinite(cost), cost + 1, 0.0))
        given_cost.data -= 1
    if not math.isfinite(best):
        with pytest.raises(Infeasible) as err:
            benders_p_median(given_cost, p, w)
        assert err.value.violations == {"open_sites": float(fewest - p)}
        assert f"takes {fewest} site" in str(err.value)
        return
    r = benders_p_median(given_cost, p, w)
    assert r.status == "optimal" and r.sites.size == p
    assert r.objective == pytest.approx(best, abs=1e-9)
    assert r.bound <= r.objective + 1e-9 and r.bound >= best - 1e-4 * max(1, best)
    each = cost[np.arange(cost.shape[0]), r.assignment]
    assert float(w @ each) == pytest.approx(r.objective)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.lists(st.integers(0, 30), min_size=5, max_size=5))
def test_facility_location_equals_enumeration(instance, opening):
    cost, w = instance
    f = np.array(opening[: cost.shape[1]], dtype=float)
    best, _ = _brute(cost, w, f, None)
    r = benders_facility_location(cost, f, w)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best, abs=1e-9)
    each = cost[np.arange(cost.shape[0]), r.assignment]
    assert f[r.sites].sum() + float(w @ each) == pytest.approx(r.objective)
    assert set(r.assignment.tolist()) <= set(r.sites.tolist())


@settings(max_examples=80, deadline=None)
@given(instances(), st.lists(st.floats(0, 1), min_size=5, max_size=5), st.booleans())
def test_deepest_cut_is_the_best_radius_cut(instance, share, whole):
    cost, _ = instance
    n, m = cost.shape
    y = np.round(np.array(share[:m])) if whole else np.array(share[:m])
    cuts = deepest_cuts(sort_pairs(allowed_pairs(cost, "cost")), y)
    for i in range(n):
        allowed = np.isfinite(cost[i])
        levels = np.unique(cost[i, allowed])
        # every cut D - sum_{c < D} (D - c) y, recomputed; the deepest is the largest
        values = [D - float(((D - cost[i, allowed]).clip(0) * y[allowed]).sum()) for D in levels]
        assert cuts.value[i] == pytest.approx(max(values), abs=1e-9)
        if whole and (y[allowed] > 0).any():  # at a plan the cut is the client's cost
            assert cuts.value[i] == pytest.approx(cost[i, allowed][y[allowed] > 0].min())


def test_hand_computed_cut_and_plan_costs():
    cost = np.array([[1.0, 4.0, 6.0], [np.inf, 2.0, 3.0]])
    s = sort_pairs(allowed_pairs(cost, "cost"))
    cuts = deepest_cuts(s, np.array([0.5, 0.0, 1.0]))
    # client 0: shares 0.5 at 1, 0.5 at 4, 1.5 at 6: D = 6, 6 - 5 * 0.5 = 3.5
    # client 1: share 0 at 2, 1 at 3: D = 3, 3 - 1 * 0 = 3
    assert cuts.value.tolist() == [3.5, 3.0] and cuts.level.tolist() == [6.0, 3.0]
    assert cuts.covered.tolist() == [True, True]
    costs, sites = plan_costs(s, np.array([0]))
    assert costs.tolist() == [1.0, math.inf] and sites.tolist() == [0, -1]
    pairs = allowed_pairs(cost, "cost")
    assert plan_objective(pairs, np.ones(2), np.array([2.0, 0, 0]), [0, 2], [0, 2]) == 6.0
    assert plan_objective(pairs, np.ones(2), np.zeros(3), [0, 1], [0, 0]) == math.inf


def test_infeasible_coverage_is_explained():
    # three clients, each with its own site only: p = 1 cannot serve them all
    cost = np.array([[1.0, np.inf, np.inf], [np.inf, 2.0, np.inf], [np.inf, np.inf, 3.0]])
    with pytest.raises(Infeasible) as err:
        benders_p_median(cost, 1)
    assert str(err.value) == (
        "opening 1 site cannot give every one of the 3 clients an allowed open site: "
        "covering them all takes 3 sites (2 more)"
    )
    assert err.value.violations == {"open_sites": 2.0}
    with pytest.raises(Infeasible, match="client 1 has no allowed site"):
        benders_p_median(np.array([[1.0], [np.inf]]), 1)


def test_bad_input_is_named():
    with pytest.raises(InputError, match="p must be a positive integer"):
        benders_p_median(np.ones((2, 2)), 0)
    with pytest.raises(InputError, match=r"opening_cost\[1\] = -1.0"):
        benders_facility_location(np.ones((2, 2)), [1.0, -1.0])
    with pytest.raises(InputError, match=r"weights\[0\] = -2.0"):
        benders_facility_location(np.ones((2, 2)), [1.0, 1.0], weights=[-2.0, 1.0])


def test_city_sized_sparse_instance_agrees_with_p_median():
    rng = np.random.default_rng(3)
    xy, sites = rng.uniform(0, 10, (600, 2)), rng.uniform(0, 10, (150, 2))
    d = np.hypot(*(xy[:, None, :] - sites[None, :, :]).transpose(2, 0, 1))
    cost = sp.csr_matrix(np.where(d <= 2.0, np.round(d * 10) + 1, 0.0))
    cost.data -= 1
    keep = np.diff(cost.indptr) > 0
    cost, w = cost[keep], rng.integers(1, 50, int(keep.sum())).astype(float)
    a = benders_p_median(cost, 40, w)
    b = p_median(cost, 40, w)
    assert a.status == b.status == "optimal" and a.objective == b.objective
    u = benders_facility_location(cost, np.full(150, 200.0), w)
    assert u.status == "optimal" and u.gap <= 1e-4


def test_time_limit_never_claims_more_than_proven():
    rng = np.random.default_rng(5)
    cost = rng.integers(1, 100, (80, 40)).astype(float)
    r = benders_p_median(cost, 8, options=SolverOptions(time_limit=0.001, mip_gap=1e-4))
    assert r.status in ("optimal", "feasible")
    if r.status == "optimal":
        assert r.gap is not None and r.gap <= 1e-4
    assert r.objective == cost[np.arange(80), r.assignment].sum()


def test_incremental_model_matches_one_solve_of_the_whole_model():
    b = ModelBuilder()
    x = b.add_columns("x", 3, cost=[2.0, 3.0, 4.0], upper=5.0)
    b.add_rows("demand", 1, {x: (0, [0, 1, 2], 1.0)}, lower=4.0)
    inc = IncrementalModel(b.build(), SolverOptions())
    assert inc.solve().objective == 8.0
    extra = sp.csr_matrix([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    inc.add_rows(extra, [-np.inf, 2.5], [1.0, np.inf])
    b.add_rows("extra", 2, {x: extra}, lower=[-np.inf, 2.5], upper=[1.0, np.inf])
    whole = solve_matrix(b.build()).info.objective
    assert inc.solve().objective == whole == 2.0 + 3.0 * 3.0
    inc.set_integer([0, 1, 2])
    inc.set_bounds([1], 0.0, 2.0)
    ans = inc.solve()
    assert ans.objective == 2.0 + 3.0 * 2.0 + 4.0 * 1.0 and ans.bound == pytest.approx(12.0)


def test_no_lp_in_time_gives_a_plan_without_a_bound(monkeypatch):
    from allocator.errors import SolverError
    from allocator.location import benders

    def stopped(self, *args, **kwargs):
        raise SolverError("the solver stopped without a plan (Time limit reached)")

    monkeypatch.setattr(benders.IncrementalModel, "solve", stopped)
    cost = np.array([[0, 5, 9], [4, 0, 5], [9, 5, 0], [8, 4, 1]], dtype=float)
    r = benders_p_median(cost, 2)
    assert r.status == "feasible" and r.bound is None and r.objective == 5.0
    u = benders_facility_location(cost, [5.0, 5.0, 5.0])
    assert u.status == "feasible" and u.bound is None
    assert u.objective == 5.0 * u.sites.size + cost[np.arange(4), u.assignment].sum()
