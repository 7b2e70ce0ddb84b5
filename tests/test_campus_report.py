"""The report's digital-campus, safety and training section, checked against the run's regions.

One demo run (40 schools) serves every test: the section's figures are recomputed here from the
schools tables of the regions before and after each step, not from the section's own sources.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from allocator.i18n import Words, labels
from allocator.pipeline import run_scenario
from allocator.report.campus import (
    campus_section,
    gap_table,
    map_points,
    purchases,
    targets_table,
    training_calendar,
    training_years,
)
from allocator.report.run_page import render_run
from allocator.standards import assessment_parts

DEMO = pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml"
AREA_KEYS = ("urban", "rural")


@pytest.fixture(scope="module")
def run():
    return run_scenario(DEMO, write=False, overrides={"region": {"schools": 40}})


def step_index(run, planner):
    return next(k for k, s in enumerate(run.steps) if s.planner == planner)


def scope(run, stage):
    """In-scope schools with a compulsory part and their pupils (the check's scope)."""
    schools = run.regions[stage].schools
    parts = assessment_parts(schools, run.standard)
    by = parts.groupby("school_id").agg(pupils=("pupils", "sum"), in_scope=("in_scope", "any"))
    by = by[by["in_scope"]]
    s = schools.set_index("school_id").loc[by.index]
    return s, by["pupils"].to_numpy(float)


def raw_values(s, name):
    """An open indicator computed here from the raw school columns."""
    per = {
        "bandwidth_mbps": s["bandwidth_mbps"],
        "security_staff": s["security_staff"],
        "alarm_video_linked": s["alarm_video_linked"],
        "smart_classrooms_per_class": s["smart_classrooms"] / s["classes"],
        "training_hours_per_teacher": s["teacher_training_hours"] / s["teachers"],
        "trained_county_share": s["teachers_trained_county"] / s["teachers"],
    }
    return per[name].to_numpy(float)


@pytest.mark.parametrize(
    "name",
    ["bandwidth_mbps", "security_staff", "alarm_video_linked", "smart_classrooms_per_class",
     "training_hours_per_teacher", "trained_county_share"],
)  # fmt: skip
def test_gap_figures_recomputed_from_the_schools(run, name):
    gaps = gap_table(run).set_index("indicator")
    for stage, when in ((0, "before"), (-1, "after")):
        s, pupils = scope(run, stage)
        v = raw_values(s, name)
        means = {}
        for area in AREA_KEYS:
            here = (s["area_type"] == area).to_numpy()
            means[area] = np.dot(v[here], pupils[here]) / pupils[here].sum()
        assert gaps.loc[name, f"urban_{when}"] == pytest.approx(means["urban"])
        assert gaps.loc[name, f"ratio_{when}"] == pytest.approx(means["rural"] / means["urban"])
        mean = np.dot(v, pupils) / pupils.sum()
        cv = np.sqrt(np.dot((v - mean) ** 2, pupils) / pupils.sum()) / mean
        assert gaps.loc[name, f"cv_{when}"] == pytest.approx(cv, abs=1e-9)
        threshold = run.standard.open_indicators[name].threshold
        if threshold is not None:
            share = np.mean(v >= threshold - 1e-9)
            assert gaps.loc[name, f"meeting_{when}"] == pytest.approx(share)


def test_purchases_are_what_the_region_gained(run):
    k = step_index(run, "budget")
    before, after = (run.regions[k].schools.set_index("school_id"),
                     run.regions[k + 1].schools.set_index("school_id"))  # fmt: skip
    columns = ["bandwidth_mbps", "alarm_video_linked"]
    gained = after[columns] - before[columns].reindex(after.index)
    buys = purchases(run)
    assert len(buys) and set(buys["step"]) == {run.steps[k].name}
    for county in buys["county"].unique():
        mine = after.index[after["county"] == county]
        bought = buys[buys["county"] == county].set_index("intervention")["units"]
        bandwidth = gained.loc[mine, "bandwidth_mbps"].sum()
        assert bandwidth == pytest.approx(100 * bought.get("bandwidth_100mbps", 0))
        alarms = gained.loc[mine, "alarm_video_linked"].sum()
        assert alarms == pytest.approx(bought.get("link_alarm_video", 0))
    spending = run.steps[k].plan.tables["spending"]
    open_rows = spending[spending["indicator"].isin(run.standard.open_indicators)]
    assert buys["cost"].sum() == pytest.approx(open_rows["cost"].sum())


def test_training_calendar_is_what_the_teachers_gained(run):
    k = step_index(run, "training")
    before, after = run.regions[k].schools, run.regions[k + 1].schools
    cal, years = training_calendar(run), training_years(run)
    gained = after["teacher_training_hours"].sum() - before["teacher_training_hours"].sum()
    assert cal["hours"].sum() == pytest.approx(gained)
    by_year = cal.groupby("year")["places"].sum()
    assert by_year.tolist() == years["places"].iloc[1:][years["places"].iloc[1:] > 0].tolist()
    assert (cal.groupby(["year", "programme"])["places"].sum() <= 2000).all()
    trained = after["teachers_trained_county"] - before["teachers_trained_county"]
    assert (trained >= 0).all() and (after["teachers_trained_county"] <= after["teachers"]).all()


def test_targets_met_after_the_plan(run):
    targets = targets_table(run)
    budget = targets[targets["source"] == run.steps[step_index(run, "budget")].name]
    assert set(budget["indicator"]) == {"bandwidth_mbps", "alarm_video_linked"}
    assert budget["met"].all()
    s, _ = scope(run, -1)
    row = budget.set_index("indicator").loc["bandwidth_mbps"]
    assert row["schools"] == len(s) and (s["bandwidth_mbps"] >= 100).all()
    boarding = s[s["boarding_school"] == 1]
    assert budget.set_index("indicator").loc["alarm_video_linked", "schools"] == len(boarding)
    standard = targets[targets["source"] == "standard"].set_index("indicator")
    hours = raw_values(s, "training_hours_per_teacher")
    assert standard.loc["training_hours_per_teacher", "meeting_after"] == (hours >= 360).sum()


def test_map_tiers_and_safety(run):
    points = map_points(run, -1).set_index("school_id")
    s, _ = scope(run, -1)
    assert set(points.index) == set(s.index)
    mbps = s.loc[points.index, "bandwidth_mbps"].to_numpy()
    expect = (mbps >= 100).astype(int) + (mbps >= 500) + (mbps >= 1000)
    assert points["tier"].tolist() == expect.tolist()
    items = ["security_staff", "closed_campus", "alarm_video_linked", "guard_post"]
    s = s.loc[points.index]
    complete = (s[items] >= 1).all(axis=1) & (
        (s["boarding_school"] == 0) | (s["dorm_night_duty"] >= 1)
    )
    assert points["safety_complete"].tolist() == complete.tolist()


def english_fragments(text):
    """The parts of a label's English text between its {placeholders} with a word in them."""
    return [f.strip(" ,.;:()") for f in re.split(r"\{[^}]*\}", text) if re.search("[A-Za-z]{3}", f)]


def test_zh_section_has_no_english_from_its_labels(run):
    section = "".join(campus_section(run, Words("zh")))
    english = "".join(campus_section(run, Words("en")))
    assert "id='campus'" in section and "乡村" in section
    for key, text in labels().items():
        if not key.startswith("campus."):
            continue
        for fragment in english_fragments(text["en"]):
            if fragment and fragment not in text["zh"]:
                assert fragment not in section, (key, fragment)
    assert "Training calendar" in english and "教师培训计划" in section


def test_demo_shows_digital_safety_and_training_before_and_after(run):
    outcomes = run.tables["outcomes"].set_index("measure")
    first, last = run.stages[0], run.stages[-1]
    for key in ("open.bandwidth_mbps.share_meeting", "open.alarm_video_linked.share_meeting",
                "open.training_hours_per_teacher.share_meeting",
                "open.trained_county_share.rural_urban"):  # fmt: skip
        assert outcomes.loc[key, last] > outcomes.loc[key, first], key
    for name in ("open_schools", "open_counties", "open_gaps"):
        assert set(run.tables[name]["stage"]) == set(run.stages)
    verdicts = set(run.tables["open_gaps"]["verdict"])
    assert verdicts == {"not part of the moe2017 verdict"}
    page = render_run(run, "zh")
    assert page.index("id='campus'") < page.index("id='tables'")
    for heading in ("数字校园、校园安全与教师培训", "规划在数字校园与校园安全方面的投入",
                    "教师培训计划", "目标是否达成", "城乡学校差距：规划前后"):  # fmt: skip
        assert heading in page


@pytest.mark.slow
def test_the_shipped_demo_shows_them_before_and_after():
    full = run_scenario(DEMO, write=False)
    outcomes = full.tables["outcomes"].set_index("measure")
    first, last = full.stages[0], full.stages[-1]
    for group in ("digital", "safety", "training"):
        names = [k for k, oi in full.standard.open_indicators.items() if oi.group == group]
        moved = [
            k for k in names
            if f"open.{k}.rural_urban" in outcomes.index
            and outcomes.loc[f"open.{k}.rural_urban", last]
            != outcomes.loc[f"open.{k}.rural_urban", first]
        ]  # fmt: skip
        assert moved, group
    targets = targets_table(full)
    assert targets[targets["source"] != "standard"]["met"].all()
    section = "".join(campus_section(full, Words("zh")))
    assert len(purchases(full)) and len(training_calendar(full)) and "教师培训计划" in section
