"""The solver layer: statuses, infeasibility diagnosis, unbounded models, binary rounding."""

import numpy as np
import pulp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linprog

from allocator.errors import Infeasible, SolverError
from allocator.solver import (
    LinearModel,
    SolveInfo,
    SolverOptions,
    binary_values,
    solve_matrix,
    solve_problem,
    worst_status,
)

SOLVERS = ["highs", "cbc"]


def solve(*arrays, options=None, start=None, bound=None, **keywords):
    """solve_matrix on a model given as arrays."""
    model = LinearModel.from_arrays(*arrays, **keywords)
    return solve_matrix(model, options=options, start=start, bound=bound)


@pytest.mark.parametrize("solver", SOLVERS)
def test_small_mip(solver):
    # max 5a + 4b + 3c s.t. 2a + 3b + c <= 5, 4a + b + 2c <= 11, 3a + 4b + 2c <= 8, binary
    sol = solve(
        [5, 4, 3],
        [[2, 3, 1], [4, 1, 2], [3, 4, 2]],
        row_upper=[5, 11, 8],
        col_upper=1,
        integrality=[1, 1, 1],
        maximize=True,
        options=SolverOptions(solver=solver),
    )
    assert sol.info.status == "optimal" and sol.info.objective == pytest.approx(9.0)
    assert binary_values(sol.x).tolist() == [True, True, False]  # a + b: 9; a + c: 8; b + c: 7


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_names_the_group(solver):
    prob = pulp.LpProblem("toy", pulp.LpMinimize)
    x = prob.add_variable("x", 0, 10)
    y = prob.add_variable("y", 0, 10)
    prob += x + y
    prob += (x + y >= 30, "demand__all")
    prob += (x <= 12, "capacity__x")  # not binding: only the demand group conflicts
    with pytest.raises(Infeasible) as info:
        solve_problem(prob, SolverOptions(solver=solver))
    # bounds allow at most 20: the demand group is 10 short
    assert info.value.violations == pytest.approx({"demand": 10.0})
    assert "demand" in str(info.value) and info.value.info.status == "infeasible"


@pytest.mark.parametrize("solver", SOLVERS)
def test_unbounded(solver):
    prob = pulp.LpProblem("toy", pulp.LpMaximize)
    x = prob.add_variable("x", 0)
    y = prob.add_variable("y", 0)
    prob += x + y
    prob += (x - y <= 1, "c__1")
    with pytest.raises(SolverError) as info:
        solve_problem(prob, SolverOptions(solver=solver))
    assert info.value.info.status == "unbounded"


def test_time_limit_reports_gap_and_not_optimal():
    rng = np.random.default_rng(0)
    n = 60
    w = rng.integers(20, 100, n)
    v = w + rng.uniform(-5, 5, n)  # fractional values: no whole-number bound closes the gap
    # a hard knapsack-like MIP with many equal-ratio items, stopped after its first node
    A = np.vstack([w, rng.integers(1, 50, n)])
    sol = solve(
        v,
        A,
        row_upper=[w.sum() // 2 + 0.5, 700],
        col_upper=1,
        integrality=np.ones(n),
        maximize=True,
        options=SolverOptions(mip_gap=0.0, highs_options={"mip_max_nodes": 1}),
    )
    if sol.info.status == "feasible":
        assert sol.info.gap is not None and sol.info.gap > 0
        assert sol.info.bound >= sol.info.objective - 1e-9
    else:
        assert sol.info.status == "optimal" and sol.info.gap <= 1e-9


def test_lp_duals():
    sol = solve([1, 1], [[1, 2]], row_lower=[3])
    assert sol.info.objective == pytest.approx(1.5)
    assert sol.row_duals[0] == pytest.approx(0.5)


def test_binary_rounding_never_uses_positive():
    assert binary_values([1e-14, 0.4999, 0.5, 1 - 1e-9]).tolist() == [False, False, True, True]


@given(seed=st.integers(0, 10_000))
def test_lp_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    m, n = 4, 6
    A = rng.uniform(0, 1, (m, n))
    b = rng.uniform(1, 3, m)
    c = -rng.uniform(0, 1, n)
    ours = solve(c, A, row_upper=b, col_upper=5)
    ref = linprog(c, A_ub=A, b_ub=b, bounds=[(0, 5)] * n, method="highs")
    assert ours.info.objective == pytest.approx(ref.fun, abs=1e-7)
    assert (A @ ours.x <= b + 1e-7).all()


def test_options_validation():
    with pytest.raises(ValueError, match="solver"):
        SolverOptions(solver="gurobi")
    with pytest.raises(ValueError, match="time_limit"):
        SolverOptions(time_limit=0)


def test_thread_count_can_change_between_solves():
    for threads in (1, 2, None, 1):
        sol = solve(
            [1, 1],
            [[1, 2]],
            row_lower=[3],
            integrality=[1, 1],
            options=SolverOptions(threads=threads),
        )
        assert sol.info.status == "optimal" and sol.info.objective == 2.0


def test_highs_options_are_passed_and_checked():
    sol = solve(
        [1, 1],
        [[1, 2]],
        row_lower=[3],
        integrality=[1, 1],
        options=SolverOptions(highs_options={"mip_heuristic_effort": 0.0}),
    )
    assert sol.info.objective == 2.0
    with pytest.raises(ValueError, match="nonsense"):
        solve([1, 1], [[1, 2]], row_lower=[3], options=SolverOptions(highs_options={"nonsense": 1}))


def test_combine_parts_solved_one_by_one():
    a = SolveInfo("optimal", 10.0, 10.0, 0.0, 1.0, "highs")
    b = SolveInfo("feasible", 5.0, 4.0, 0.2, 2.0, "highs")
    c = SolveInfo("feasible", 7.0, None, None, 0.5, "heuristic")
    both = SolveInfo.combine([a, b])
    assert (both.status, both.objective, both.bound, both.gap, both.seconds) == (
        "feasible",
        15.0,
        14.0,
        0.2,
        3.0,
    )
    # a part without a bound or gap: the whole has none (never a smaller gap than the truth)
    three = SolveInfo.combine([a, b, c], seconds=9.0)
    assert three.bound is None and three.gap is None and three.seconds == 9.0
    assert three.solver == "heuristic+highs"
    # a recomputed objective: bound only when every part is optimal
    assert SolveInfo.combine([a, a], objective=3.0).bound == 3.0
    assert SolveInfo.combine([a, b], objective=3.0).bound is None
    empty = SolveInfo.combine([], objective=2.0)
    assert (empty.status, empty.objective, empty.bound, empty.gap) == ("optimal", 2.0, 2.0, 0.0)
    assert worst_status("optimal", "infeasible", "feasible") == "infeasible"


# ---------------------------------------------------------------------------------------------
# answers are checked before they are labelled
# ---------------------------------------------------------------------------------------------

# min x0 + 2 x1 + 3 x2, x0 + x1 + x2 >= 2, binary: optimum 3 (x0 + x1); the start x1 + x2 costs 5
_C, _A, _START = [1.0, 2.0, 3.0], [[1.0, 1.0, 1.0]], [0.0, 1.0, 1.0]


def _with_fake_first_answer(monkeypatch, fake):
    """Make the first HiGHS run return ``fake(start, real answer)``; later runs are real."""
    import allocator.solver.matrix as matrix

    real = matrix.run_highs
    calls = []

    def run(h, model, start, t0):
        answer = real(h, model, start, t0)
        calls.append(start)
        return fake(start, answer) if len(calls) == 1 else answer

    monkeypatch.setattr(matrix, "run_highs", run)
    return calls


def test_start_returned_with_a_too_low_objective_is_solved_again(monkeypatch):
    # what HiGHS 1.16 did on pmed10: "optimal", objective and bound 1214 < 1255, plan = the start
    def fake(start, answer):
        return "optimal", 2.0, 2.0, np.asarray(start, dtype=float), None

    calls = _with_fake_first_answer(monkeypatch, fake)
    sol = solve(_C, _A, row_lower=[2], col_upper=1, integrality=[1, 1, 1], start=_START)
    assert len(calls) == 2 and calls[0] is not None and calls[1] is None  # again, no start
    assert sol.info.status == "optimal" and sol.info.objective == 3.0
    assert binary_values(sol.x).tolist() == [True, True, False]


def test_objective_beating_the_callers_bound_is_solved_again(monkeypatch):
    # a consistent-looking answer (plan and objective agree) that beats a valid bound of 3
    def fake(start, answer):
        return "optimal", 2.0, 2.0, np.array([0.0, 1.0, 0.0]), None

    calls = _with_fake_first_answer(monkeypatch, fake)
    sol = solve(_C, _A, row_lower=[2], col_upper=1, integrality=[1, 1, 1], start=_START, bound=3.0)
    assert len(calls) == 2 and sol.info.objective == 3.0 and sol.info.status == "optimal"


def test_every_attempt_failing_the_check_is_never_optimal(monkeypatch):
    import allocator.solver.matrix as matrix

    def lying(h, model, start, t0):
        return "optimal", 1.0, 1.0, np.array([1.0, 1.0, 1.0]), None  # the plan costs 6

    monkeypatch.setattr(matrix, "run_highs", lying)
    with pytest.warns(RuntimeWarning, match="failed its check"):
        sol = solve(_C, _A, row_lower=[2], col_upper=1, integrality=[1, 1, 1], start=_START)
    assert sol.info.status == "feasible" and sol.info.objective == 6.0 and sol.info.bound is None


def test_optimal_only_within_the_gap_asked(monkeypatch):
    # HiGHS said "optimal" with a relative gap of 1.6e-3 where 1e-4 was asked
    def fake(start, answer):
        return "optimal", 1000.0, 998.4, np.array([2000.0]), None

    _with_fake_first_answer(monkeypatch, fake)
    sol = solve([0.5], np.zeros((0, 1)), integrality=[1], options=SolverOptions(mip_gap=1e-4))
    assert sol.info.status == "feasible" and sol.info.gap == pytest.approx(1.6e-3)


def test_gap_is_absolute_near_zero():
    from allocator.solver import relative_gap, within_gap

    assert relative_gap(1.6e-9, 0.6e-9) == pytest.approx(1e-9)  # not 62 %
    assert relative_gap(-400.0, -500.0) == pytest.approx(0.25)
    assert relative_gap(5.0, None) is None and relative_gap(5.0, -np.inf) is None
    assert within_gap(1.6e-9, 0.6e-9, 1e-4) and not within_gap(0.5, 0.3, 1e-4)
    info = SolveInfo("feasible", 1.6e-9, 0.6e-9, relative_gap(1.6e-9, 0.6e-9), 1.0, "highs")
    assert info.describe() == "feasible, gap 1e-09 (absolute) (highs, 1.00 s)"
    big = SolveInfo("feasible", 200.0, 150.0, relative_gap(200.0, 150.0), 1.0, "highs")
    assert big.describe() == "feasible, gap 25.00% (highs, 1.00 s)"


_STDOUT_SCRIPT = """
import numpy as np
from allocator.errors import Infeasible
from allocator.solver import LinearModel, SolverOptions, solve_matrix
model = LinearModel.from_arrays([1, 1], np.array([[1, 2]]), row_lower=[3], integrality=[1, 1])
sol = solve_matrix(model, options=SolverOptions(log={log}))
try:  # the infeasibility diagnosis builds HiGHS objects of its own
    solve_matrix(LinearModel.from_arrays([1, 1], np.array([[1, 1]]), row_lower=[3], col_upper=1))
except Infeasible:
    print("objective", sol.info.objective)
"""


@pytest.mark.parametrize("log", [False, True])
def test_stdout_carries_results_only(log):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run(
        [sys.executable, "-c", _STDOUT_SCRIPT.format(log=log)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    if log:
        assert "HiGHS" in out and "objective 2.0" in out
    else:
        assert out == "objective 2.0\n"


def test_integral_objective_closes_a_fractional_gap(monkeypatch):
    # integer costs on integer columns: a bound of 2.5 proves a plan of 3 optimal
    def fake(start, answer):
        return "feasible", 3.0, 2.5, np.array([1.0, 1.0, 0.0]), None

    _with_fake_first_answer(monkeypatch, fake)
    sol = solve(_C, _A, row_lower=[2], col_upper=1, integrality=[1, 1, 1])
    assert sol.info.status == "optimal" and sol.info.bound == 3.0 and sol.info.gap == 0.0


# ---------------------------------------------------------------------------------------------
# the model builder
# ---------------------------------------------------------------------------------------------


def test_builder_places_blocks_and_rows_where_named():
    from allocator.solver import ModelBuilder

    b = ModelBuilder()
    y = b.add_columns("open", 2, cost=[5.0, 3.0], upper=1.0, integer=True)
    x = b.add_columns("serve", (2, 2), cost=[[1.0, 4.0], [2.0, 2.0]], upper=1.0)
    # each client (row of x) served once; x[i, j] <= y[j]
    b.add_rows("serve_once", 2, {x: ([0, 0, 1, 1], [0, 1, 2, 3], 1.0)}, lower=1.0, upper=1.0)
    link = b.add_rows("open__link", 4, {x: (np.arange(4), np.arange(4), 1.0)}, upper=0.0)
    b.add_terms(link, y, (np.arange(4), [0, 1, 0, 1], -1.0))
    model = b.build()
    assert model.shape == (6, 6)
    assert model.columns == {"open": slice(0, 2), "serve": slice(2, 6)}
    assert model.row_groups == ("serve_once",) * 2 + ("open",) * 4
    dense = model.A.toarray()
    assert dense[0].tolist() == [0, 0, 1, 1, 0, 0] and dense[5].tolist() == [0, -1, 0, 0, 0, 1]
    assert model.c.tolist() == [5, 3, 1, 4, 2, 2] and model.integrality.tolist() == [
        1,
        1,
        0,
        0,
        0,
        0,
    ]
    assert int(x.index(1, 0)) == 4
    sol = solve_matrix(model)
    # open site 1 (3) and serve both clients there (4 + 2): 9; site 0 alone: 5 + 1 + 2 = 8
    assert sol.info.objective == pytest.approx(8.0)
    assert binary_values(model.column_values(sol.x, "open")).tolist() == [True, False]
    assert model.column_values(sol.x, "serve").shape == (2, 2)


def test_builder_refuses_what_cannot_be_right():
    from allocator.solver import ModelBuilder

    b = ModelBuilder()
    x = b.add_columns("x", 3)
    with pytest.raises(ValueError, match="exists already"):
        b.add_columns("x", 1)
    with pytest.raises(ValueError, match="outside block 'x'"):
        b.add_rows("r", 1, {x: (0, 3, 1.0)})
    with pytest.raises(ValueError, match="row index"):
        b.add_rows("s", 1, {x: (1, 0, 1.0)})
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        b.add_rows("t", 2, {x: np.ones((3, 3))})
    other = ModelBuilder().add_columns("y", 3)
    with pytest.raises(ValueError, match="does not belong"):
        b.add_rows("u", 1, {other: (0, 0, 1.0)})


@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 4), st.floats(-5, 5)), max_size=30),
    st.integers(0, 4),
)
def test_builder_matrix_equals_the_terms_added(entries, split):
    # terms on two blocks, duplicates adding up, equal a dense matrix filled by hand
    from allocator.solver import ModelBuilder

    b = ModelBuilder()
    left = b.add_columns("left", split)
    right = b.add_columns("right", 5 - split)
    expected = np.zeros((3, 5))
    rows = b.add_rows("r", 3)
    for r, c, v in entries:
        expected[r, c] += v
        block, local = (left, c) if c < split else (right, c - split)
        b.add_terms(rows, block, (r, local, v))
    assert np.allclose(b.build().A.toarray(), expected)


def test_model_variants_leave_the_original_alone():
    model = LinearModel.from_arrays([1.0, 1.0], [[1.0, 2.0]], row_lower=[3.0], integrality=[1, 1])
    cut = model.with_rows("cut", [[1.0, 0.0]], lower=2.0)
    assert model.shape == (1, 2) and cut.shape == (2, 2) and cut.row_groups[-1] == "cut"
    assert solve_matrix(cut).info.objective == 3.0 and solve_matrix(model).info.objective == 2.0
    flipped = model.with_objective([-1.0, -1.0], maximize=True)
    assert flipped.maximize and not model.maximize
    with pytest.raises(ValueError):
        model.c[0] = 5.0  # read-only


def test_row_labels_name_the_rows_an_infeasibility_comes_from():
    from allocator.errors import Infeasible
    from allocator.solver import ModelBuilder

    b = ModelBuilder()
    x = b.add_columns("seats", 2, upper=[10.0, 25.0])
    # school A needs 30 seats but holds at most 10; school B needs 20 and holds 25
    b.add_rows(
        "need", 2, {x: ([0, 1], [0, 1], 1.0)}, lower=[30.0, 20.0], groups=["need A", "need B"]
    )
    with pytest.raises(ValueError, match="2 rows but 1 group labels"):
        b.add_rows("other", 2, {x: ([0, 1], [0, 1], 1.0)}, groups=["only one"])
    model = b.build()
    assert model.row_groups == ("need A", "need B")
    with pytest.raises(Infeasible) as info:
        solve_matrix(model)
    assert info.value.violations == pytest.approx({"need A": 20.0})
