"""``[region] kindergartens = true`` in a scenario file: a synthetic region with its kindergartens
table (as ``make_region(kindergartens=True)``), a checked key, and the run's report with its
preschool section."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from allocator.check import check
from allocator.errors import InputError
from allocator.i18n import Words
from allocator.pipeline import run_scenario
from allocator.report.maps import map_figure
from allocator.report.preschool import kindergarten_traces, preschool_section
from allocator.report.reading import stage_labels
from allocator.report.run_page import render_run
from allocator.scenario import load_scenario
from allocator.synth import make_region

SCENARIO = """
name = "kindergartens"

[region]
schools = 20
counties = 1
seed = 3
kindergartens = {flag}

[[steps]]
planner = "kindergartens"
"""


def _write(tmp_path, flag: str):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(flag=flag), encoding="utf-8")
    return path


def test_region_key_passes_through(tmp_path):
    scenario = load_scenario(_write(tmp_path, "true"))
    region = scenario.region.load()
    expected = make_region(schools=20, counties=1, seed=3, kindergartens=True)
    assert region.kindergartens.equals(expected.kindergartens)
    assert load_scenario(_write(tmp_path, "false")).region.load().kindergartens is None


def test_region_key_is_checked(tmp_path):
    with pytest.raises(InputError, match=r"line 8.*kindergartens.*expected"):
        load_scenario(_write(tmp_path, '"yes"'))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return run_scenario(_write(tmp_path_factory.mktemp("s"), "true"), write=False)


def test_report_preschool_section(run):
    assert run.failure is None and run.steps[0].planner == "kindergartens"
    before, after = check(run.regions[0]).tables, check(run.regions[1]).tables
    html = render_run(run, "zh")
    section = html[html.index("id='preschool'") : html.index("id='charts'")]
    assert "学前教育毛入园率" in section and "普惠性幼儿园" in section and "公办园" in section
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    assert len(rows) == len(after["preschool_indicators"])
    ind = {}
    for stage, tables in (("before", before), ("after", after)):
        t = tables["preschool_indicators"]
        ind[stage] = t[t["county"] == "all"].set_index("indicator")
    whole = [r for r in rows if "全区域" in r]
    cells = re.findall(r"<td( class=\"(\w+)\")?>([^<]*)</td>", whole[0])  # gross enrolment rate
    value_before, value_after = cells[2][2], cells[3][2]
    rate = "gross_enrolment_rate"
    assert value_before == f"{100 * ind['before'].loc[rate, 'value']:.1f}%"
    assert value_after == f"{100 * ind['after'].loc[rate, 'value']:.1f}%"
    assert cells[3][1] == ("better" if ind["after"].loc[rate, "met"] else "worse")
    english = "".join(preschool_section(run, stage_labels(run, Words("en")), Words("en")))
    assert "gross enrolment rate of preschool" in english and "national" in english


def test_report_map_layer(run):
    traces = {t.name: t for t in map_figure(run, Words("en")).data}
    k = run.regions[1].kindergartens
    open_ = k[k["status"] == "open"]
    kinds = [n for n in traces if "kindergarten" in n]
    assert sum(len(traces[n].x) for n in kinds) == len(open_)
    plan = run.steps[0].plan.kindergartens
    if (plan["action"] == "build").any():
        assert len(traces["kindergarten built by the plan"].x) == (plan["action"] == "build").sum()
    text = " ".join(h for n in kinds for h in traces[n].hovertext)
    assert all(name in text for name in open_["name"].head(5))


def test_no_preschool_part_without_kindergartens():
    run = SimpleNamespace(regions=[make_region(schools=20, seed=3)], steps=[])
    assert preschool_section(run, ["before"], Words("en")) == []
    assert kindergarten_traces(run, Words("en")) == []


def test_run_page_shows_every_setting_of_the_standard(run):
    standard = run.steps[0].plan.standard
    assert len(standard) > 15 and standard["setting"].str.startswith("attached.").any()
    html = render_run(run, "en")
    blocks = re.findall(r"<details><summary>([^<]*)</summary>(.*?)</details>", html, re.S)
    shown = [body for caption, body in blocks if "standard" in caption.lower()]
    assert len(shown) == 1
    assert len(re.findall(r"<tr>", shown[0])) == len(standard) + 1  # the header and every row
    assert "classes attached to a primary school (most)" in shown[0]  # attached.max_classes
