"""Senior secondary places: the standard, county needs and the cheapest extra places."""

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import Infeasible, InputError
from allocator.planners.senior import county_requirements, extra_places
from allocator.standards.senior import load_senior_standard


def test_standard_figures_and_unconfirmed():
    s = load_senior_standard()
    assert s.gross_enrolment_rate == 0.92
    assert s.general_share_band == (0.5, 0.6)
    assert s.max_pupils == 3000
    assert "ratio.general_share_low" in s.unconfirmed


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"ratio": {"general_share_low": 0.7}}, "exceeds general_share_high"),
        ({"targets": {"gross_enrolment_rate": 1.5}}, "targets.gross_enrolment_rate = 1.5"),
        ({"size": {"max_pupils": "many"}}, "size.max_pupils must be a number"),
        ({"nope": {}}, "unknown group 'nope'"),
    ],
)
def test_standard_bad_overrides_one_line(overrides, words):
    with pytest.raises(InputError, match=words) as err:
        load_senior_standard(overrides=overrides)
    assert "\n" not in str(err.value)


def test_hand_computed_two_counties():
    # A: 1000 graduates -> 920 places; general 460..552; vocational >= 920 - 552 = 368.
    # B: 250 -> ceil(230.0) = 230; general ceil(115) = 115 .. floor(138) = 138; vocational 92.
    req = county_requirements({"A": 1000, "B": 250})
    assert req.loc["A"].tolist() == [1000, 920, 460, 552, 368]
    assert req.loc["B"].tolist() == [250, 230, 115, 138, 92]
    # A holds 400 general, 300 vocational: floors need 60 and 68, 92 more go to the cheaper
    # vocational places. B holds 200 general (above its high end of 138) and no vocational.
    out = extra_places(req, {"A": 400, "B": 200}, {"A": 300}, 60000, 40000)
    assert out.loc["A"].tolist() == [60, 160, 60 * 60000 + 160 * 40000]
    assert out.loc["B"].tolist() == [0, 92, 92 * 40000]


def test_bad_cohort_one_line():
    with pytest.raises(InputError, match=r"cohort: graduates of county 'A' must be a whole") as e:
        county_requirements({"A": -3})
    assert "\n" not in str(e.value)


def test_band_without_whole_split_is_explained():
    std = load_senior_standard(overrides={"ratio": {"general_share_high": 0.5}})
    with pytest.raises(Infeasible, match="at least 2 general places, at most 1"):
        county_requirements({"A": 3}, std)


def _brute(r, g_now, v_now, cg, cv):
    best = None
    top = int(r["needed"]) + 1
    for g, v in itertools.product(range(top), range(top)):
        G, V = g_now + g, v_now + v
        if G >= r["general_min"] and V >= r["vocational_min"] and G + V >= r["needed"]:
            cost = g * cg + v * cv
            if best is None or cost < best:
                best = cost
    return best


@settings(max_examples=40, deadline=None)
@given(
    cohort=st.integers(0, 40),
    g_now=st.integers(0, 30),
    v_now=st.integers(0, 30),
    cg=st.integers(0, 5),
    cv=st.integers(0, 5),
    low=st.sampled_from([0.4, 0.5, 0.6]),
    width=st.sampled_from([0.0, 0.1, 0.2]),
)
def test_agrees_with_enumeration_and_keeps_band(cohort, g_now, v_now, cg, cv, low, width):
    std = load_senior_standard(
        overrides={"ratio": {"general_share_low": low, "general_share_high": low + width}}
    )
    needed = math.ceil(round(0.92 * cohort, 9))
    if math.ceil(round(low * needed, 9)) > math.floor(round((low + width) * needed, 9)):
        with pytest.raises(Infeasible, match=f"{needed} senior places cannot be split"):
            county_requirements({"X": cohort}, std)
        return
    req = county_requirements({"X": cohort}, std)
    r = req.loc["X"]
    assert r["needed"] == math.ceil(round(0.92 * cohort, 9))
    out = extra_places(req, {"X": g_now}, {"X": v_now}, cg, cv).loc["X"]
    assert out["cost"] == _brute(r, g_now, v_now, cg, cv)
    G, V = g_now + out["general_extra"], v_now + out["vocational_extra"]
    assert G + V >= r["needed"] and G >= r["general_min"] and V >= r["vocational_min"]
    # new places never push the general places above the band's high end
    if out["general_extra"] > 0:
        assert G <= r["general_max"]
