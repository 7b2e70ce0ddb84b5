"""The run report's senior part and map layer: figures recomputed from the plan's tables, both
languages, no English on the Chinese side, nothing without a senior step."""

from __future__ import annotations

import html as htmllib
import re
from types import SimpleNamespace

import pytest

from allocator.i18n import Words
from allocator.pipeline import run_scenario
from allocator.report.maps import map_figure
from allocator.report.reading import stage_labels
from allocator.report.run_page import render_run
from allocator.report.senior import senior_section, senior_traces
from allocator.synth import make_region

SCENARIO = """
name = "senior"

[region]
schools = 40
counties = 1
seed = 3
senior_schools = true

[[steps]]
planner = "senior"
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    path = tmp_path_factory.mktemp("s") / "s.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    return run_scenario(path, write=False)


def _section(html: str) -> str:
    start = html.index("id='senior'")
    return html[start : html.index("<h2", start + 1)]


def _cells(row: str) -> list[tuple[str, str]]:
    return [
        (cls, htmllib.unescape(text))
        for _, cls, text in re.findall(r"<td( class=\"(\w+)\")?>([^<]*)</td>", row)
    ]


def test_county_and_campus_tables_recomputed_from_the_plan(run):
    assert run.failure is None and run.steps[0].planner == "senior"
    plan = run.steps[0].plan
    section = _section(render_run(run, "zh"))
    assert "高中阶段学位" in section and "普职比" in section and "初中毕业生" in section
    tables = re.findall(r"<table>(.*?)</table>", section, flags=re.S)
    county_rows = re.findall(r"<tr>(.*?)</tr>", tables[0])[1:]
    assert len(county_rows) == len(plan.counties)
    c, k = plan.counties.iloc[0], plan.schools
    cells = _cells(county_rows[0])
    assert [t for _, t in cells[:3]] == [c["county"], f"{c['cohort']:,}", f"{c['needed']:,}"]
    general_before = int(k.loc[(k["status_before"] == "open") & (k["kind"] == "general"),
                               "places_before"].sum())  # fmt: skip
    general_after = int(k.loc[k["kind"] == "general", "places_after"].sum())
    assert cells[3][1] == f"{general_before:,} → {general_after:,}"
    general = plan.assignments.merge(k[["senior_id", "kind"]], on="senior_id")
    pupils = general.loc[general["kind"] == "general", "pupils"].sum()
    assert cells[5][1] == f"{pupils:,.0f}"
    assert cells[7][1] == f"{100 * pupils / c['needed']:.1f}%"
    assert cells[8][1] == "50.0% – 60.0%"
    assert cells[9][1] == f"{int(k['boarding_added'].sum()):,}"
    assert cells[10] == ("better", "达标") and bool(c["met"])
    campus_rows = re.findall(r"<tr>(.*?)</tr>", tables[1])[1:]
    changed = k[k["action"].isin(("expand", "build"))]
    assert len(campus_rows) == len(changed) > 0
    capital = sum(float(_cells(r)[-1][1].replace(",", "")) for r in campus_rows)
    assert capital == pytest.approx(changed["capital_yuan"].sum(), abs=len(changed))
    english = "".join(senior_section(run, stage_labels(run, Words("en")), Words("en")))
    assert "junior graduates" in english and "general share band" in english


def test_no_english_on_the_chinese_side(run):
    section = _section(render_run(run, "zh"))
    texts = [htmllib.unescape(t) for t in re.findall(r">([^<>]+)<", section)]
    traces = senior_traces(run, Words("zh"))
    texts += [t.name for t in traces] + [h for t in traces for h in t.hovertext]
    own = {s.name for s in run.steps}  # the scenario's own step names are shown as written
    for name in own:
        texts = [t.replace(name, "") for t in texts]
    latin = {w for t in texts for w in re.findall(r"[A-Za-z]{2,}", t)}
    assert latin == set()


def test_map_layer_counts_the_plan_actions(run):
    plan = run.steps[0].plan
    k = plan.schools
    traces = {t.name: t for t in map_figure(run, Words("en")).data if t.meta == "senior_schools"}
    counts = {name: len(t.x) for name, t in traces.items()}
    kept = k[k["action"] == "keep"]
    expected = {
        "general senior high school": int((kept["kind"] == "general").sum()),
        "vocational school": int((kept["kind"] == "vocational").sum()),
        "senior school expanded": int((k["action"] == "expand").sum()),
        "new senior campus": int((k["action"] == "build").sum()),
    }
    assert counts == {n: v for n, v in expected.items() if v}
    built = k[k["action"] == "build"]
    text = " ".join(traces["new senior campus"].hovertext)
    for row in built.itertuples(index=False):
        assert f"{row.places_after:,} places" in text and f"{row.name}: " in text  # its name
    graph = run.regions[-1].roads
    t = traces["new senior campus"]
    xs = sorted(graph.nodes[str(n)]["x"] for n in built["node"])
    offset = xs[0] - min(t.x)
    assert sorted(t.x) == pytest.approx([x - offset for x in xs]) and offset > 0


def test_nothing_without_a_senior_step_or_table():
    run = SimpleNamespace(regions=[make_region(schools=20, seed=3)], steps=[])
    assert senior_section(run, ["before"], Words("en")) == []
    assert senior_traces(run, Words("en")) == []


def test_the_campus_table_shows_the_dormitory_limits_where_given():
    from allocator.planners.senior import SeniorPolicy, plan_senior
    from allocator.report.senior import campus_table

    region = make_region(schools=40, seed=3, senior_schools=True)
    t = region.senior_schools
    plain = plan_senior(region, SeniorPolicy())
    assert "boarding limit" not in campus_table(plain, Words("en")).columns
    limits = (t["boarding_places"] + 5000).astype(float)
    limits.iloc[1:] = float("nan")  # one school with a limit, the others without
    plan = plan_senior(region.replace(senior_schools=t.assign(boarding_capacity=limits)))
    shown = campus_table(plan, Words("zh"))
    column = shown["寄宿上限"].tolist()
    k = plan.schools[plan.schools["action"].isin(("expand", "build"))]
    want = ["-" if v != v else f"{v:,.0f}" for v in k["boarding_capacity"]]
    assert column == want and len(column) == len(k)
    assert "-" in column and any(c != "-" for c in column)  # a limit shown, and its absence
    assert list(shown.columns).index("寄宿上限") == list(shown.columns).index("新增寄宿床位") + 1
