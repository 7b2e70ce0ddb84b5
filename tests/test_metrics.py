"""Equity metrics: reference values, PySAL agreement, brute force, and invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inequality.atkinson import atkinson as pysal_atkinson
from inequality.gini import Gini as PysalGini
from inequality.theil import Theil as PysalTheil
from inequality.theil import TheilD as PysalTheilD
from scipy import stats

from allocator import metrics as m

# --------------------------------------------------------------------------- reference values


def test_cv_worked_example_of_the_assessment_is_pupil_weighted():
    pupils = np.array([45, 37, 89, 76, 55])
    books = np.array([279, 137, 935, 160, 402])
    per_pupil = books / pupils
    assert m.cv(per_pupil, weights=pupils) == pytest.approx(0.515, abs=5e-4)
    # hand computation of the same formula
    mean = books.sum() / pupils.sum()
    s = np.sqrt(np.sum(pupils / pupils.sum() * (per_pupil - mean) ** 2))
    assert m.cv(per_pupil, weights=pupils) == pytest.approx(s / mean, rel=1e-12)
    # the unweighted school average gives a different (wrong for the assessment) answer
    assert round(m.cv(per_pupil), 3) == 0.489


def test_hand_computed_small_values():
    assert m.gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # pupils 3 at 1 and 1 at 3: mu = 1.5, sum w_i w_j |xi - xj| = 2 * 3/4 * 1/4 * 2 = 0.75
    assert m.gini([1, 3], weights=[3, 1]) == pytest.approx(0.75 / (2 * 1.5))
    assert m.theil([1, 2, 3, 4]) == pytest.approx(
        np.mean([r * np.log(r) for r in np.array([1, 2, 3, 4]) / 2.5])
    )
    assert m.theil_l([1, 2, 3, 4]) == pytest.approx(np.mean(np.log(2.5 / np.array([1, 2, 3, 4]))))
    assert m.value_range([3, 9, 4], weights=[1, 0, 1]) == 1.0
    assert m.restricted_range(np.arange(1, 101)) == 90.0
    assert m.federal_range_ratio(np.arange(1, 101)) == pytest.approx(90.0 / 5.0)
    # median 4: below = {2} -> 2/4; above = {8} -> 8/4
    assert m.mcloone([2, 4, 4, 8]) == 0.5
    assert m.verstegen([2, 4, 4, 8]) == 2.0
    # pupil weighted: pupils 10 at 1, 30 at 2, 60 at 5 -> median 5 (cum share 0.1, 0.4, 1.0)
    assert m.mcloone([1, 2, 5], weights=[10, 30, 60]) == pytest.approx((10 * 1 + 30 * 2) / (5 * 40))
    assert m.verstegen([1, 2, 5], weights=[10, 30, 60]) == 1.0
    assert m.atkinson([3, 3, 3], epsilon=2) == pytest.approx(0.0)
    assert m.atkinson([1, 4], epsilon=0) == 0.0


def test_percentile_is_numpy_inverted_cdf():
    rng = np.random.default_rng(5)
    for _ in range(30):
        x = rng.gamma(2.0, 3.0, size=rng.integers(1, 40))
        w = rng.integers(1, 50, size=x.size).astype(float)
        for q in (0, 5, 25, 50, 95, 100):
            assert m.percentile(x, q) == np.percentile(x, q, method="inverted_cdf")
            replicated = np.repeat(x, w.astype(int))  # whole weights: the same on numpy 1 and 2
            assert m.percentile(x, q, w) == np.percentile(replicated, q, method="inverted_cdf")


def test_weighted_cv_and_gini_match_independent_formulas():
    rng = np.random.default_rng(11)
    x = rng.lognormal(1.0, 0.5, size=60)
    w = rng.integers(0, 500, size=60).astype(float)
    mean = np.average(x, weights=w)
    sd = np.sqrt(np.cov(x, aweights=w, bias=True))
    assert m.cv(x, w) == pytest.approx(sd / mean, rel=1e-10)
    p = w / w.sum()
    brute = np.sum(p[:, None] * p[None, :] * np.abs(x[:, None] - x[None, :])) / (2 * mean)
    assert m.gini(x, w) == pytest.approx(brute, rel=1e-10)


# --------------------------------------------------------------------------- PySAL agreement
@pytest.mark.parametrize("seed", range(5))
def test_unweighted_agrees_with_pysal_inequality(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 200))
    x = rng.lognormal(0.0, 0.8, size=n)
    groups = rng.choice(["urban", "town", "rural"], size=n)
    # PySAL's Gini is (2 sum i x_(i) - (n + 1) sum x) / (n sum x) = sum_ij |xi - xj| / (2 n^2 mu):
    # the population Gini with no n / (n - 1) factor, so it must match exactly.
    assert m.gini(x) == pytest.approx(PysalGini(x).g, rel=1e-10)
    assert m.theil(x) == pytest.approx(float(PysalTheil(x).T), rel=1e-10)
    d = m.theil_decomposition(x, groups)
    ref = PysalTheilD(x, groups)
    assert d.total == pytest.approx(float(np.ravel(ref.T)[0]), rel=1e-10)
    assert d.between == pytest.approx(float(np.ravel(ref.bg)[0]), rel=1e-9, abs=1e-14)
    assert d.within == pytest.approx(float(np.ravel(ref.wg)[0]), rel=1e-9, abs=1e-14)
    for eps in (0.5, 1.0, 2.0):
        assert m.atkinson(x, eps) == pytest.approx(pysal_atkinson(x, eps), rel=1e-10)


# --------------------------------------------------------------------------- decomposition
def test_theil_decomposition_weighted_parts_add_up_and_match_group_formulas():
    rng = np.random.default_rng(3)
    x = rng.lognormal(1.0, 0.6, size=80)
    w = rng.integers(1, 300, size=80).astype(float)
    g = rng.choice(["a", "b", "c", "d"], size=80)
    for measure, index in (("T", m.theil), ("L", m.theil_l)):
        d = m.theil_decomposition(x, g, w, measure=measure)
        assert d.total == pytest.approx(index(x, w), rel=1e-12)
        assert d.within + d.between == pytest.approx(d.total, rel=1e-10)
        assert d.between_share == pytest.approx(d.between / d.total)
        mu = np.average(x, weights=w)
        between = 0.0
        for label in "abcd":
            sel = g == label
            mu_g = np.average(x[sel], weights=w[sel])
            pupil_share = w[sel].sum() / w.sum()
            resource_share = (w[sel] * x[sel]).sum() / (w * x).sum()
            row = d.groups.loc[label]
            assert row["mean"] == pytest.approx(mu_g)
            assert row["resource_share"] == pytest.approx(resource_share)
            assert row["theil"] == pytest.approx(index(x[sel], w[sel]))
            if measure == "T":
                between += resource_share * np.log(mu_g / mu)
            else:
                between += pupil_share * np.log(mu / mu_g)
        assert d.between == pytest.approx(between, rel=1e-10)
        assert d.between >= -1e-12


def test_theil_decomposition_between_share_extremes():
    all_between = m.theil_decomposition([1, 1, 3, 3], ["r", "r", "u", "u"])
    assert all_between.between_share == pytest.approx(1.0)
    all_within = m.theil_decomposition([1, 3, 1, 3], ["r", "r", "u", "u"])
    assert all_within.between_share == pytest.approx(0.0, abs=1e-12)
    flat = m.theil_decomposition([2, 2, 2], ["r", "u", "u"])
    assert flat.total == 0.0 and flat.between_share == 0.0


# --------------------------------------------------------------------------- allocation R^2
def test_allocation_r2_matches_linregress():
    rng = np.random.default_rng(8)
    pupils = rng.integers(20, 2000, size=50)
    teachers = np.round(pupils / 17 + rng.normal(0, 8, size=50)).clip(1)
    r = stats.linregress(pupils, teachers).rvalue
    assert m.allocation_r2(pupils, teachers) == pytest.approx(r**2, rel=1e-10)
    assert m.allocation_r2(pupils, pupils / 19.0) == pytest.approx(1.0)
    assert m.allocation_r2(pupils, rng.permutation(teachers)) < m.allocation_r2(pupils, teachers)


# --------------------------------------------------------------------------- errors
def test_undefined_cases_raise_clear_errors():
    with pytest.raises(ValueError, match="empty"):
        m.cv([])
    with pytest.raises(ValueError, match="mean"):
        m.cv([0, 0, 0])
    with pytest.raises(ValueError, match="mean"):
        m.gini([0.0, 0.0])
    with pytest.raises(ValueError, match="x = 0"):
        m.theil([0, 1, 2])
    with pytest.raises(ValueError, match="x = 0"):
        m.theil_l([0, 1, 2])
    with pytest.raises(ValueError, match="x = 0"):
        m.atkinson([0, 1, 2], epsilon=1)
    with pytest.raises(ValueError, match="x = 0"):
        m.atkinson([0, 1, 2], epsilon=2)
    assert 0 < m.atkinson([0, 1, 2], epsilon=0.5) < 1  # defined for eps < 1
    with pytest.raises(ValueError, match="x = 0"):
        m.theil_decomposition([0, 1, 2], ["a", "a", "b"])
    # a zero value at a school without pupils is not part of the statistic
    assert m.theil([0, 1, 2], weights=[0, 1, 1]) == pytest.approx(m.theil([1, 2]))
    with pytest.raises(ValueError, match="negative"):
        m.cv([1, 2], weights=[1, -1])
    with pytest.raises(ValueError, match="sum to 0"):
        m.cv([1, 2], weights=[0, 0])
    with pytest.raises(ValueError, match="one weight per school"):
        m.cv([1, 2], weights=[1, 2, 3])
    with pytest.raises(ValueError, match="nan"):
        m.gini([1, float("nan")])
    with pytest.raises(ValueError, match="negative"):
        m.gini([1, -2])
    with pytest.raises(ValueError, match="epsilon"):
        m.atkinson([1, 2], epsilon=-1)
    with pytest.raises(ValueError, match="5th percentile"):
        m.federal_range_ratio([0] * 10 + [1] * 10)
    with pytest.raises(ValueError, match="median"):
        m.mcloone([0, 0, 0, 1])
    with pytest.raises(ValueError, match="at least 3"):
        m.allocation_r2([1, 2], [1, 2])
    with pytest.raises(ValueError, match="same number of teachers"):
        m.allocation_r2([1, 2, 3], [4, 4, 4])
    with pytest.raises(ValueError, match="q="):
        m.percentile([1, 2], 101)
    with pytest.raises(ValueError, match="low="):
        m.restricted_range([1, 2], low=60, high=40)


# --------------------------------------------------------------------------- properties
values = st.lists(
    st.floats(min_value=0.01, max_value=1e4, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=25,
)


@st.composite
def weighted_data(draw):
    x = draw(values)
    w = draw(st.lists(st.integers(0, 6), min_size=len(x), max_size=len(x)))
    if sum(w) == 0:
        w[draw(st.integers(0, len(x) - 1))] = 1
    return np.array(x), np.array(w)


WEIGHTED = {
    "cv": m.cv,
    "gini": m.gini,
    "theil": m.theil,
    "theil_l": m.theil_l,
    "atkinson_0.5": lambda x, w=None: m.atkinson(x, 0.5, w),
    "atkinson_1": lambda x, w=None: m.atkinson(x, 1.0, w),
    "atkinson_2": lambda x, w=None: m.atkinson(x, 2.0, w),
    "mcloone": m.mcloone,
    "verstegen": m.verstegen,
    "value_range": m.value_range,
    "restricted_range": m.restricted_range,
    "restricted_range_10_90": lambda x, w=None: m.restricted_range(x, w, low=10, high=90),
    "federal_range_ratio": m.federal_range_ratio,
    "weighted_mean": m.weighted_mean,
    "median": lambda x, w=None: m.percentile(x, 50, w),
}
EXACT = {"value_range", "restricted_range", "restricted_range_10_90", "median"}


@settings(max_examples=80, deadline=None)
@given(data=weighted_data())
def test_pupil_weighting_equals_repeating_each_school_once_per_pupil(data):
    x, w = data
    repeated = np.repeat(x, w)
    for name, f in WEIGHTED.items():
        weighted, plain = f(x, w), f(repeated)
        if name in EXACT:
            assert weighted == plain, name
        else:
            assert weighted == pytest.approx(plain, rel=1e-9, abs=1e-12), name


@settings(max_examples=40, deadline=None)
@given(data=weighted_data(), groups=st.lists(st.sampled_from("urt"), min_size=25, max_size=25))
def test_theil_decomposition_weighting_equals_repetition(data, groups):
    x, w = data
    g = np.array(groups[: x.size])
    for measure in ("T", "L"):
        a = m.theil_decomposition(x, g, w, measure=measure)
        b = m.theil_decomposition(np.repeat(x, w), np.repeat(g, w), measure=measure)
        for field in ("total", "within", "between"):
            assert getattr(a, field) == pytest.approx(getattr(b, field), rel=1e-9, abs=1e-12)
        assert list(a.groups.index) == list(b.groups.index)
        assert a.groups["schools"].tolist() == [
            int(np.count_nonzero((g == k) & (w > 0))) for k in a.groups.index
        ]
        for col in ("pupil_share", "resource_share", "mean", "theil"):
            np.testing.assert_allclose(a.groups[col], b.groups[col], rtol=1e-9, atol=1e-12)


SCALE_FREE = [
    "cv",
    "gini",
    "theil",
    "theil_l",
    "atkinson_0.5",
    "atkinson_1",
    "atkinson_2",
    "mcloone",
    "verstegen",
    "federal_range_ratio",
]


@settings(max_examples=60, deadline=None)
@given(data=weighted_data(), c=st.floats(min_value=1e-3, max_value=1e3))
def test_scale_invariance(data, c):
    x, w = data
    for name in SCALE_FREE:
        f = WEIGHTED[name]
        assert f(c * x, w) == pytest.approx(f(x, w), rel=1e-7, abs=1e-9), name
    assert m.value_range(c * x, w) == pytest.approx(c * m.value_range(x, w), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(data=weighted_data())
def test_bounds_and_equality(data):
    x, w = data
    assert 0 <= m.gini(x, w) < 1
    assert m.theil(x, w) >= -1e-12 and m.theil_l(x, w) >= -1e-12
    a1, a2 = m.atkinson(x, 0.5, w), m.atkinson(x, 2.0, w)
    assert -1e-12 <= a1 <= a2 + 1e-12 < 1 + 1e-12  # more aversion, more measured inequality
    assert m.mcloone(x, w) <= 1 <= m.verstegen(x, w)
    flat = np.full(x.size, x[0])
    for name in SCALE_FREE:
        assert WEIGHTED[name](flat, w) == pytest.approx(
            0.0 if name not in ("mcloone", "verstegen") else 1.0, abs=1e-9
        ), name


def test_theil_zero_values_by_explicit_limit_match_pysal_and_brute_force():
    rng = np.random.default_rng(21)
    x = rng.lognormal(0.0, 0.7, size=60)
    x[rng.choice(60, size=9, replace=False)] = 0.0
    groups = rng.choice(["urban", "town", "rural"], size=60)
    with pytest.raises(ValueError, match="x = 0"):
        m.theil(x)
    mu = x.mean()
    nz = x[x > 0] / mu
    brute = np.sum(nz * np.log(nz)) / x.size
    assert m.theil(x, zeros="limit") == pytest.approx(brute, rel=1e-12)
    # PySAL replaces a 0 by the smallest positive float, i.e. takes the same limit
    assert m.theil(x, zeros="limit") == pytest.approx(float(PysalTheil(x).T), rel=1e-9)
    d = m.theil_decomposition(x, groups, zeros="limit")
    ref = PysalTheilD(x, groups)
    assert d.between == pytest.approx(float(np.ravel(ref.bg)[0]), rel=1e-9)
    assert d.within == pytest.approx(float(np.ravel(ref.wg)[0]), rel=1e-9)
    assert d.zero_values == 9
    # on positive data the option changes nothing
    y = np.abs(x) + 0.5
    assert m.theil(y, zeros="limit") == m.theil(y)
    # a group with nothing at all has resource share 0 and contributes no within-inequality
    e = m.theil_decomposition([0, 0, 1, 3], ["r", "r", "u", "u"], zeros="limit")
    assert e.groups.loc["r", "resource_share"] == 0 and e.groups.loc["r", "theil"] == 0
    assert e.total == pytest.approx(m.theil([0, 0, 1, 3], zeros="limit"))
    assert e.within + e.between == pytest.approx(e.total)
    with pytest.raises(ValueError, match="Theil T only"):
        m.theil_decomposition(x, groups, measure="L", zeros="limit")
    with pytest.raises(ValueError, match="zeros="):
        m.theil(x, zeros="skip")


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0, 40.0]), min_size=2, max_size=15),
    seed=st.integers(0, 10_000),
)
def test_theil_limit_weighting_equals_repetition(x, seed):
    x = np.array(x)
    if not (x > 0).any():
        x[0] = 1.0
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 5, size=x.size)
    g = rng.choice(["u", "t", "r"], size=x.size)
    a = m.theil_decomposition(x, g, w, zeros="limit")
    b = m.theil_decomposition(np.repeat(x, w), np.repeat(g, w), zeros="limit")
    assert a.total == pytest.approx(b.total, rel=1e-9, abs=1e-12)
    assert a.between == pytest.approx(b.between, rel=1e-9, abs=1e-12)
    assert m.theil(x, w, zeros="limit") == pytest.approx(a.total, rel=1e-12, abs=1e-15)
