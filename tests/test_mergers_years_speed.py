"""MIP starts for the five-year merger plan: a start never changes the optimum, a wrong start is
refused with what it breaks, and the rolling-horizon plan is a feasible start of the linked
model."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible
from allocator.planners.mergers import MergerPolicy, plan_mergers, years_model
from allocator.planners.mergers import planner as merger_planner
from allocator.solver import (
    LinearModel,
    SolverOptions,
    checked_start,
    completed_start,
    solve_matrix,
    start_violations,
)
from allocator.synth import make_region

EXACT = SolverOptions(mip_gap=1e-9)


def cover_model(costs, need) -> LinearModel:
    """min sum c_j x_j, x_j in {0..3} integer, plus a continuous slack s >= 0 costing 100:
    sum x_j + s >= need (so every integer vector can be completed)."""
    n = len(costs)
    A = np.ones((1, n + 1))
    return LinearModel.from_arrays(
        list(costs) + [100.0],
        A,
        row_lower=[float(need)],
        col_upper=[3.0] * n + [np.inf],
        integrality=[True] * n + [False],
        row_groups=["cover"],
    )


def test_hand_start_keeps_the_optimum():
    # costs 5, 7, 2; need 4: the cheapest is x = (0, 0, 3) and one unit of x_0: 2*3 + 5 = 11
    model = cover_model([5.0, 7.0, 2.0], 4)
    start = completed_start(model, [0.0, 0.0, 0.0, 0.0])  # all from the slack: 400
    assert start.tolist() == [0.0, 0.0, 0.0, 4.0]
    assert float(model.c @ start) == 400.0
    plain = solve_matrix(model, options=EXACT)
    started = solve_matrix(model, options=EXACT, start=checked_start(model, start))
    assert plain.info.objective == started.info.objective == 11.0
    assert started.info.status == "optimal"


def test_an_infeasible_start_is_refused_with_the_rows_it_breaks():
    model = cover_model([5.0, 7.0, 2.0], 4)
    with pytest.raises(ValueError, match=r"cover broken by 3"):
        checked_start(model, [1.0, 0.0, 0.0, 0.0])
    assert start_violations(model, [0.5, 0.0, 0.0, 4.0]) == {"integrality": 0.5}
    assert start_violations(model, [4.0, 0.0, 0.0, 0.0]) == {"column bounds": 1.0}
    with pytest.raises(ValueError, match="4 values"):
        start_violations(model, [1.0, 2.0])


def test_a_start_whose_integers_fit_no_plan_is_refused():
    # x_0 + x_1 = 1 exactly, both integer: (1, 1) cannot be completed
    model = LinearModel.from_arrays(
        [1.0, 1.0], [[1.0, 1.0]], row_lower=[1.0], row_upper=[1.0],
        integrality=[True, True], row_groups=["one"],
    )  # fmt: skip
    with pytest.raises(Infeasible, match="integer values of the start"):
        completed_start(model, [1.0, 1.0])


@settings(max_examples=25, deadline=None)
@given(
    costs=st.lists(st.integers(1, 30), min_size=2, max_size=5),
    need=st.integers(0, 10),
    seed=st.integers(0, 2**16),
)
def test_any_feasible_start_leaves_the_optimum_unchanged(costs, need, seed):
    model = cover_model([float(c) for c in costs], need)
    rng = np.random.default_rng(seed)
    guess = np.append(rng.integers(0, 4, len(costs)).astype(float), 0.0)
    start = checked_start(model, completed_start(model, guess))
    plain = solve_matrix(model, options=EXACT)
    started = solve_matrix(model, options=EXACT, start=start)
    assert started.info.status == "optimal"
    assert started.info.objective == pytest.approx(plain.info.objective, abs=1e-9)
    assert started.info.objective <= float(model.c @ start) + 1e-9


def test_the_rolling_plan_starts_the_linked_model_and_keeps_its_optimum(monkeypatch):
    region = make_region(schools=20, seed=2)
    policy = MergerPolicy(min_size=80)
    years = (2026, 2028)
    whole = plan_mergers(region, policy, EXACT, years=years, method="whole")
    starts = []
    original = years_model.rolling_start

    def recording(*args):
        out = original(*args)
        starts.append((out[0], args[0]))
        return out

    monkeypatch.setattr(years_model, "rolling_start", recording)
    started_county = functools.partial(years_model.plan_county, start=True)
    monkeypatch.setattr(merger_planner, "plan_county", started_county)
    started = plan_mergers(region, policy, EXACT, years=years, method="whole")
    assert len(starts) == 1
    start, linked = starts[0]
    assert start is not None and start_violations(linked, start) == {}
    # the start is the rolling plan: never better than the optimum
    assert float(linked.c @ start) + linked.offset >= whole.solve_info.objective / 1000 - 1e-6
    assert started.solve_info.status == whole.solve_info.status == "optimal"
    assert started.solve_info.objective == pytest.approx(whole.solve_info.objective, rel=1e-6)
    assert started.verify().empty
