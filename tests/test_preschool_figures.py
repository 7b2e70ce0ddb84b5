"""Preschool figures of ``Measures``: measured before and after a kindergarten step, equal to the
whole-region row of the compliance report's preschool tables, and in the run summary."""

from __future__ import annotations

import math

import pytest

from allocator.check import check
from allocator.check.preschool_report import INDICATORS
from allocator.pipeline import measure, run_scenario
from allocator.results import preschool_figures
from allocator.standards import load_standard
from allocator.synth import make_region

SCENARIO = """
name = "kindergartens"

[region]
schools = 20
counties = 2
seed = 3
kindergartens = true

[[steps]]
planner = "kindergartens"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return run_scenario(path, write=False)


def _from_check(region) -> dict:
    ind = check(region).tables["preschool_indicators"]
    return {r.indicator: r.value for r in ind[ind["county"] == "all"].itertuples(index=False)}


def test_figures_before_and_after_the_step(run):
    assert run.failure is None and len(run.measures) == 2
    for region, m in zip(run.regions, run.measures, strict=True):
        expected = _from_check(region)
        for name in INDICATORS:
            assert m.figures[f"preschool.{name}"] == pytest.approx(expected[name])
        k = region.kindergartens
        open_ = k[k["status"] == "open"]
        assert m.figures["preschool.kindergartens"] == len(open_)
        assert m.figures["preschool.places"] == int(open_["places"].sum())
        ind = check(region).tables["preschool_indicators"]
        met = ind[ind["county"] != "all"].groupby("indicator")["met"].sum()
        for name in INDICATORS:
            assert m.figures[f"preschool.counties_met.{name}"] == int(met[name])
    before, after = (m.figures for m in run.measures)
    assert after["preschool.places"] > before["preschool.places"]  # the plan builds or expands
    assert after["preschool.gross_enrolment_rate"] > before["preschool.gross_enrolment_rate"]
    assert after["preschool.children_3_5"] == before["preschool.children_3_5"]
    text = run.summary()
    line = next(x for x in text.splitlines() if "gross enrolment rate of preschool" in x)
    assert line.endswith(
        f"{before['preschool.gross_enrolment_rate']:.3g} -> {after['preschool.gross_enrolment_rate']:.3g}"
    )
    assert "学前教育毛入园率" in run.summary("zh")


def test_no_figures_without_kindergartens():
    region = make_region(schools=20, seed=3)
    assert preschool_figures(region) == {}
    assert not any(k.startswith("preschool.") for k in measure(region, load_standard()).figures)


def test_undefined_share_is_none():
    region = make_region(schools=20, seed=3, kindergartens=True)
    k = region.kindergartens.assign(places=0, classes=0)
    f = preschool_figures(region.replace(kindergartens=k))
    assert f["preschool.inclusive_share"] is None and f["preschool.places"] == 0
    assert f["preschool.gross_enrolment_rate"] == 0.0 and not math.isnan(
        f["preschool.within_walk_share"]
    )
