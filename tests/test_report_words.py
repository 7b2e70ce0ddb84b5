"""The words of the reports: both languages for every label, the verdict first, hostile names."""

from __future__ import annotations

import ast
import copy
import csv
import dataclasses
import html as htmllib
import json
import pathlib
import re
import tomllib

import numpy as np
import pandas as pd
import pytest

import allocator
from allocator import cli, sheets, writers
from allocator.compare import comparison_table
from allocator.errors import InputError
from allocator.i18n import Words, labels, language_of
from allocator.report import render_comparison, render_run
from allocator.report.compare_page import best_classes, measure_label
from allocator.report.reading import indicator_name, plan_text, reader_table, report_language
from allocator.report.verdict import county_reasons, county_verdict_table, parts_passing
from allocator.results import Comparison, costs
from allocator.scenario import load_scenario
from allocator.solver import SolveInfo

ROOT = pathlib.Path(__file__).parents[1]
LABELS = ROOT / "allocator" / "data" / "i18n" / "labels.csv"
#: Label families the reports own (others' families are checked by their own tests).
REPORT_FAMILIES = (
    "area.", "band.", "col.", "compare.", "cost.", "fig.", "head.", "ind.", "kpi.", "level.",
    "part.", "planner.", "report.", "stage.", "status.", "verdict.", "word.",
)  # fmt: skip


@pytest.fixture(scope="module")
def demo():
    """The demo scenario (four steps) on a region of 40 schools."""
    path = ROOT / "scenarios" / "liangjiang_demo.toml"
    return allocator.run_scenario(path, write=False, overrides={"region": {"schools": 40}})


@pytest.fixture(scope="module")
def rendered(demo):
    """Both pages of the demo in both languages (and the workbook's summary), and every label key
    looked up meanwhile."""
    used: set[str] = set()
    original = Words.__call__

    def recording(self, key, **values):
        used.add(key)
        return original(self, key, **values)

    Words.__call__ = recording
    try:
        no_mergers = copy.copy(demo)
        comparison = Comparison(
            demo.scenario,
            {"as written": demo, "again": no_mergers},
            comparison_table({"as written": demo, "again": no_mergers}),
            1.0,
            failures={"broken": "Infeasible: no plan"},
        )
        pages = {lang: render_run(demo, lang) for lang in ("zh", "en")}
        writers.workbook_summary(demo)  # the workbook's summary sheets
        pages.update(
            {f"compare.{lang}": render_comparison(comparison, lang) for lang in ("zh", "en")}
        )
    finally:
        Words.__call__ = original
    return pages, used


def _words_literals() -> tuple[set[str], set[str]]:
    """Keys passed literally to a call of ``words``/``Words(...)``, and every string literal."""
    calls, strings = set(), set()
    for path in (ROOT / "allocator").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                strings.add(node.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "words"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                calls.add(node.args[0].value)
    return calls, strings


# --------------------------------------------------------------------------- the labels
def test_every_label_has_a_text_in_both_languages_and_one_row():
    with LABELS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["key"] for r in rows] == list(labels())
    for r in rows:
        assert r["en"].strip() and r["zh"].strip(), r["key"]
        fields = [set(re.findall(r"\{(\w+)", r[lang])) for lang in ("en", "zh")]
        assert fields[0] == fields[1], r["key"]  # both fill the same figures


def test_every_key_the_code_uses_exists_and_no_report_row_is_unused(rendered):
    # rendering both pages in both languages (the fixture) raised no KeyError: every key looked
    # up without a fallback exists; keys written out in the code are checked here
    _, used = rendered
    calls, strings = _words_literals()
    table = labels()
    assert calls and calls - set(table) == set()
    mine = {k for k in table if k.startswith(REPORT_FAMILIES)}
    # the training programmes' levels are values of a data file, named whether or not used
    programmes = ROOT / "allocator" / "data" / "training_programmes.csv"
    with programmes.open(encoding="utf-8") as handle:
        data_values = {f"level.{row['level']}" for row in csv.DictReader(handle)}
    # so are the open indicators of the standards' files
    for standard in (ROOT / "allocator" / "data").glob("moe*.toml"):
        open_set = tomllib.loads(standard.read_text(encoding="utf-8")).get("open_indicators", {})
        data_values |= {f"ind.{name}" for name in open_set}
    # a headline figure of a planner the demo does not run is named by a key written in its code
    # (and so is a planner's name, as registered)
    data_values |= {
        f"{f}.{name}{t}" for name in strings for f in ("head", "planner") for t in ("", ".text")
    }
    assert mine - used - strings - data_values == set()


def test_the_chinese_page_shows_none_of_the_english_it_translates(rendered, demo):
    pages, used = rendered
    steps = {s.name for s in demo.steps}  # the scenario's own names are shown as written
    for name in ("zh", "compare.zh"):
        text = pages[name]
        # the charts (and their titles) are drawn by the chart module; <pre> holds a plan's text
        charts = r"id='charts'.*?id='tables'" if name == "zh" else r"<h2>图表</h2>.*?<h2>"
        text = re.sub(charts, "", text, flags=re.S)
        text = re.sub(r"<pre>.*?</pre>", "", text, flags=re.S)
        shown = {htmllib.unescape(t).strip() for t in re.findall(r">([^<>]+)<", text)}
        english = {
            labels()[k]["en"]
            for k in used & set(labels())
            if labels()[k]["en"] != labels()[k]["zh"] and "{" not in labels()[k]["en"]
        } - steps
        assert shown & english == set(), name
        headings = re.findall(r"<(h[1-3]|th|summary)[^>]*>([^<]*)<", text)
        for _, heading in headings:
            assert heading not in {"Summary", "Steps", "Tables", "Verdict", "measure", "county"}


def test_the_language_comes_from_the_scenario_the_option_or_the_names(demo, monkeypatch):
    assert language_of(["Riverside", "Hill"]) == "en" and language_of(["江区"]) == "zh"
    assert report_language(demo) == "zh" and report_language(demo, "en") == "en"
    scenario = load_scenario(
        ROOT / "scenarios" / "liangjiang_demo.toml", {"output": {"language": "en"}}
    )
    assert report_language(dataclasses.replace(demo, scenario=scenario)) == "en"
    with pytest.raises(InputError, match="output.language: unknown language 'fr'"):
        load_scenario(ROOT / "scenarios" / "liangjiang_demo.toml", {"output": {"language": "fr"}})
    seen = []

    def fake_run(path, **kw):
        seen.append(kw["overrides"])
        raise InputError("stop here")

    monkeypatch.setattr(cli, "run_scenario", fake_run)
    for argv in (["run", "s.toml", "--lang", "en"], ["run", "s.toml"]):
        assert cli.main(argv) != 0
    assert seen == [{"output": {"language": "en"}}, {}]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["compare", "s.toml", "--lang", "fr"])


# --------------------------------------------------------------------------- the verdict
def _county(**changes) -> dict:
    """A county row as allocator.compliance.county_verdicts gives it: passing unless changed."""
    row = {"county": "北县", "part": "primary", "schools": 10, "schools_passing": 10}
    row.update({"cv_qualified_per_100": 0.20, "cv_floor_m2_per_pupil": 0.30, "cv_limit": 0.50})
    row.update({"cv_failing": 0, "cv_ok": True, "schools_ok": True, "passes": True})
    row.update(changes)
    return row


INDICATORS = ["qualified_per_100", "floor_m2_per_pupil"]


def test_a_county_failing_on_one_indicators_cv_is_told_which_and_by_how_much():
    row = _county(cv_floor_m2_per_pupil=0.612, cv_failing=1, cv_ok=False, passes=False)
    assert county_reasons(row, INDICATORS, Words("en")) == [
        "CV over the limit: teaching and support floor area per pupil (m²) 0.612 > 0.50"
    ]
    assert county_reasons(row, INDICATORS, Words("zh")) == [
        "差异系数超限：生均教学及辅助用房面积（平方米） 0.612 > 0.50"
    ]


def test_a_county_failing_on_schools_says_how_many_and_cvs_come_worst_first():
    row = _county(schools_passing=7, schools_ok=False, passes=False)
    assert county_reasons(row, INDICATORS, Words("zh")) == ["10 所学校中 3 所未达标"]
    both = _county(
        schools_passing=9,
        cv_qualified_per_100=0.55,
        cv_floor_m2_per_pupil=0.71,
        passes=False,
    )
    reasons = county_reasons(both, INDICATORS, Words("en"))
    assert reasons[0] == "1 of 10 schools miss the standard"
    assert [r.split(": ")[1].split(" 0")[0] for r in reasons[1:]] == [
        "teaching and support floor area per pupil (m²)",
        "teachers above the required qualification per 100 pupils",
    ]
    # exactly at the limit is within it (allocator.compliance.within_limit)
    assert (
        county_reasons(_county(cv_qualified_per_100=0.50, passes=False), INDICATORS, Words("en"))
        == []
    )


def test_a_passing_county_has_no_reason_and_the_table_pairs_before_with_after():
    before = pd.DataFrame(
        [
            _county(),
            _county(county="江区", schools_passing=4, schools_ok=False, passes=False),
            _county(
                county="江区",
                part="junior",
                cv_limit=0.45,
                cv_qualified_per_100=float("nan"),
                passes=False,
            ),
        ]
    )
    after = pd.DataFrame([_county(), _county(county="江区")])
    table = county_verdict_table(before, after, INDICATORS, Words("en"))
    assert table.values.tolist() == [
        ["北县", "primary", True, True, ""],
        ["江区", "primary", False, True, ""],
        [
            "江区",
            "junior",
            False,
            None,
            "CV cannot be computed: teachers above the required qualification per 100 pupils",
        ],
    ]


def test_school_parts_passing_are_counted_overall_and_rural():
    parts = pd.DataFrame(
        {"area_type": ["rural", "rural", "rural", "town", "urban"], "complies": [1, 0, 0, 1, 1]}
    )
    assert parts_passing(parts) == {"all": (3, 5), "rural": (1, 3), "town": (1, 1), "urban": (1, 1)}


def test_the_first_screen_answers_pass_cost_and_breaks_with_broken_limits_in_red(demo):
    travel = demo.measures[-1].travel.copy()
    travel.loc[travel["band"] == "junior", "pupils_over_limit"] = 67
    last = dataclasses.replace(demo.measures[-1], travel=travel)
    result = dataclasses.replace(demo, measures=[*demo.measures[:-1], last])
    text = render_run(result, "zh")
    first = text[text.index("id='verdict'") : text.index("id='summary'")]
    for county in demo.regions[0].counties:
        assert f"<td>{county}</td>" in first
    assert "未达标" in first or "达标" in first
    assert "合计（建设投入加一年经费）" in first and "元" in first
    assert (
        '<td class="worse">67</td>' in first
    )  # junior pupils beyond 60 minutes, after the last step
    assert "初中7–9年级学生上学超过 60 分钟" in first and "<td>无</td>" in first
    assert "红色数字表示突破限值" in first
    counts = parts_passing(demo.measures[-1].parts)
    assert f"{counts['all'][1]} 个中 {counts['all'][0]} 个" in first
    # the key-figure boxes say how many county × part verdicts pass (as the verdict table)
    b, a = (m.counties["passes"] for m in (demo.measures[0], demo.measures[-1]))
    assert f"{int(b.sum())} / {len(b)} → {int(a.sum())} / {len(a)}</b>" in text
    # closing schools is neither better nor worse: the schools row carries no colour
    row = re.search(r"<tr><td>学校数（撤并学校不计好坏）</td>(.*?)</tr>", text).group(1)
    assert "class=" not in row


def test_hostile_names_are_escaped_everywhere(demo):
    hostile = "<script>alert('x')</script> & \"quoted\""
    result = copy.deepcopy(demo)
    for region in result.regions:
        region.schools.loc[region.schools.index[:3], "name"] = hostile
        region.schools["county"] = region.schools["county"].replace(
            region.schools["county"].iloc[0], hostile
        )
    for m in result.measures:
        m.counties["county"] = m.counties["county"].replace(demo.regions[0].counties[0], hostile)
    text = render_run(result, "en")
    assert "<script>alert" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)" in text
    assert "&amp; &quot;quoted&quot;" in text


# --------------------------------------------------------------------------- names and numbers
def test_tables_people_read_show_names_beside_ids_and_rounded_numbers(demo, tmp_path):
    out = writers.write_run(demo, tmp_path / "out")
    schools = pd.concat([r.schools for r in demo.regions]).drop_duplicates("school_id")
    names = schools.set_index("school_id")["name"]
    closures = pd.read_csv(out / "mergers.closures.csv", encoding="utf-8-sig", dtype=str)
    assert list(closures.columns[:4]) == [
        "school_id",
        "name",
        "receiving_school_id",
        "receiving_school_name",
    ]
    assert (
        closures["receiving_school_name"].tolist()
        == names[closures["receiving_school_id"]].tolist()
    )
    transfers = pd.read_csv(out / "teachers.transfers.csv", encoding="utf-8-sig", dtype=str)
    assert transfers["to_school_name"].tolist() == names[transfers["to_school_id"]].tolist()
    for path in out.glob("*.csv"):
        text = path.read_text(encoding="utf-8-sig")
        assert not re.search(r"\d\.\d{4,}", text), path.name  # nothing past 3 decimals
        assert not re.search(r"\de[-+]\d", text), path.name  # no exponent notation
    # the page shows the same names, and in Chinese headers
    page_text = render_run(demo, "zh")
    receiving = closures["receiving_school_name"].iloc[0]
    assert "<th>接收学校</th>" in page_text and f"<td>{receiving}</td>" in page_text


def test_rounding_follows_the_unit_of_each_column():
    df = pd.DataFrame(
        {
            "spent_yuan": [39_995_835.4],
            "share_passing": [0.123456],
            "cv_after": [0.50049],
            "rural_urban": [0.98765],
            "mean_minutes": [11.969999999999999],
            "pupils": [12.0],
        }
    )
    out = sheets.rounded(df).astype(object).iloc[0].tolist()
    assert out == [39_995_835, 0.123, 0.5, 0.99, 12.0, 12]


# --------------------------------------------------------------------------- compare
def test_best_is_marked_only_where_variants_differ_beyond_the_tolerance():
    table = pd.DataFrame(
        {
            "better": ["low", "high", "one", "low", ""],
            "a": [39_995_835.0, 10.0, 0.95, 1.0, 5.0],
            "b": [40_000_000.0, 12.0, 0.80, 1.005, 1.0],
            "c": [39_999_990.0, 12.05, 1.20, 2.0, 3.0],
        }
    )
    marks = best_classes(table, ["a", "b", "c"])[["a", "b", "c"]].values.tolist()
    # 0.01 % apart: no best; 12 and 12.05 are within 1 % of each other: both best;
    # 0.95 is nearest 1; 1.0 and 1.005 both best against 2.0; no direction: never marked
    assert marks == [
        ["", "", ""],
        ["", "best", "best"],
        ["best", "", ""],
        ["best", "best", ""],
        ["", "", ""],
    ]


def test_each_variant_links_to_its_own_report_inside_the_comparison_folder(demo, tmp_path):
    comparison = Comparison(
        demo.scenario,
        {"as written": demo, "a/b": demo},
        comparison_table({"as written": demo}),
        1.0,
    )
    comparison.table["a/b"] = comparison.table["as written"]
    out = writers.write_comparison(comparison, tmp_path / "cmp")
    page_text = (out / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'<a href="([^"]+)">', page_text)
    assert links == ["as_written/report.html", "a_b/report.html"]
    for link in links:
        assert (out / link).is_file()
    assert (
        measure_label("travel.junior.max_minutes", "x", Words("zh"))
        == "初中7–9年级：最长上学用时（分钟）"
    )


# --------------------------------------------------------------------------- Excel
def test_the_workbook_opens_with_a_summary_and_is_formatted(demo, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    output = dataclasses.replace(demo.scenario.output, formats=("xlsx",))
    result = dataclasses.replace(demo, scenario=dataclasses.replace(demo.scenario, output=output))
    out = writers.write_run(result, tmp_path / "out")
    book = openpyxl.load_workbook(out / "tables.xlsx")
    assert book.sheetnames[:3] == ["概要", "县域评估结论", "mergers.撤并学校"]
    assert len(book.sheetnames) == len(demo.tables) + 2
    summary = book["概要"]
    assert all(book[name].freeze_panes == "A2" for name in book.sheetnames)
    assert summary["A1"].value == "指标" and summary["A1"].font.bold
    rows = {r[1].value: r for r in summary.iter_rows(min_row=2)}
    assert rows["compliant_share"][2].value == round(demo.measures[0].figures["compliant_share"], 3)
    assert rows["compliant_share"][2].number_format == "#,##0.000"
    assert rows["cost_yuan"][-1].number_format == "#,##0"
    assert rows["cost_yuan"][-1].value == pytest.approx(costs(demo)["cost_yuan"], abs=0.5)
    assert summary.column_dimensions["A"].width > 20  # as wide as its Chinese labels
    closures = book["mergers.撤并学校"]
    header = [c.value for c in closures[1]]
    assert header[:4] == ["school_id", "name", "receiving_school_id", "receiving_school_name"]
    verdicts = book["县域评估结论"]
    assert {c.value for c in verdicts["C"][1:]} <= {"达标", "未达标"}


def test_comparison_cells_are_rounded_by_their_measure(rendered, demo):
    pages, _ = rendered
    text = pages["compare.zh"]
    share = demo.steps[2].headline["spent_rural_share"]
    row = re.search(r"<td>budget: 乡村学校资金占比</td>(.*?)</tr>", text).group(1)
    assert f"<td>{share:.3f}</td>" in row  # a share: 3 decimals, not yuan
    row = re.search(r"<td>mergers: 目标值</td>(.*?)</tr>", text).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row)[1].replace(",", "").isdigit()  # yuan whole


def test_one_helper_names_every_indicator_in_full_or_short():
    defined = sorted(
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "allocator").rglob("*.py")
        if "def indicator_name(" in p.read_text(encoding="utf-8")
    )
    assert defined == ["allocator/report/reading.py"]
    zh = Words("zh")
    assert indicator_name("floor_m2_per_pupil", zh) == labels()["ind.floor_m2_per_pupil"]["zh"]
    assert indicator_name("floor_m2_per_pupil", zh, short=True) == "生均教学辅助用房"
    assert indicator_name("no_such_indicator", zh, short=True) == "no_such_indicator"  # as is


# --------------------------------------------------------------------------- no English on zh
#: Texts the Chinese page showed in English: a solve's status, a merger plan's mode, why a school
#: closes or stays open, why pupils travel beyond a limit, a budget's objective, the stages and
#: Gini in chart legends (found anywhere in a shown text or a chart's text).
ENGLISH_FRAGMENTS = (
    "optimal (", "feasible (", "feasible, gap", "(absolute)", "cost 模式", "travel 模式",
    "pupils; serving them from nearby schools", "nine-year school with", "with least travel",
    "pupils >= min_size", "only school within", "teaches senior high", "no school teaching",
    "have no seat left", "lexicographic", "minimax", "（shortfall", "Gini", "heuristic",
    # the open indicators, in the budget plan's text too
    "internet_access", "bandwidth_mbps", "smart_classrooms", "platform_access", "security_staff",
    "closed_campus", "alarm_video", "guard_post", "dorm_night_duty",
)  # fmt: skip
#: Cells, headers and legend names that were English as a whole: the open indicators, a
#: spending category, solve methods, the training plan's figures, stage names.
ENGLISH_TEXTS = {
    "alarm_video_linked", "bandwidth_mbps", "closed_campus", "dorm_night_duty", "guard_post",
    "internet_access", "platform_access", "security_staff", "smart_classrooms_per_class",
    "recurrent", "heuristic", "lp+local", "cost", "years", "places", "backbone places",
    "cost yuan", "programme", "year", "hours", "hours_behind", "backbone_places",
    "schools backbone met before", "schools backbone met after", "schools on track after",
    "before", "after", "must keep",
}  # fmt: skip


def _shown_texts(page_text: str) -> set[str]:
    """Every text a reader sees: text between tags (outside scripts and styles, plan texts
    included) and the names, titles and hover texts of the charts' figures."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page_text, flags=re.S)
    shown = {htmllib.unescape(t).strip() for t in re.findall(r">([^<>]+)<", body)}
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", page_text, flags=re.S):
        if "newPlot" not in script or len(script) > 1_000_000:  # plotly.js itself
            continue
        for value in re.findall(
            r'"(?:name|text|hovertemplate|label)":\s*("(?:[^"\\]|\\.)*")', script
        ):
            shown.add(json.loads(value))
    return shown


def _english_on(page_text: str, own: set[str]) -> set[str]:
    """The English of :data:`ENGLISH_FRAGMENTS` and :data:`ENGLISH_TEXTS` a page shows, leaving
    out the texts a user wrote (``own``: scenario and step names, descriptions)."""
    found = set()
    for text in _shown_texts(page_text):
        if text in own:
            continue
        if text in ENGLISH_TEXTS or text.startswith("after "):
            found.add(text)
        found |= {f for f in ENGLISH_FRAGMENTS if f in text}
    return found


@pytest.fixture(scope="module")
def scenario_pages(demo):
    """The Chinese page of every scenario with a report (the kindergarten scenario's tables are
    its planner's own and are checked there), each with the texts its user wrote."""
    pages = {"liangjiang_demo": (render_run(demo, "zh"), demo)}
    for name in (
        "rural_county_consolidation",
        "smart_campus_programme",
        "budget_policy_comparison",
        "teacher_rotation",
    ):
        path = ROOT / "scenarios" / f"{name}.toml"
        result = allocator.run_scenario(path, write=False, overrides={"region": {"schools": 40}})
        pages[name] = (render_run(result, "zh"), result)
    return pages


def test_no_english_is_left_on_the_chinese_page_of_any_scenario(scenario_pages):
    for name, (page_text, result) in scenario_pages.items():
        scenario = result.scenario
        own = {scenario.name, scenario.description, *(s.name for s in result.steps)}
        assert _english_on(page_text, own) == set(), name


def test_a_closures_reasons_and_a_solves_status_are_worded_from_their_codes(demo):
    zh, en = Words("zh"), Words("en")
    closures = demo.steps[0].plan.tables["closures"]
    shown = reader_table(closures, zh)
    for raw, row, worded in zip(
        closures["detail"], closures.itertuples(), shown["detail"], strict=True
    ):
        if row.reason == "nine_year":
            assert worded == f"与同址的 {row.receiving_school_id} 合并为一所九年一贯制学校"
        else:
            assert worded.startswith(f"学生 {row.pupils} 名；")
        assert reader_table(closures, en)["detail"].tolist() == closures["detail"].tolist()
        assert raw != worded
    kept = demo.steps[0].plan.tables["schools"]["kept_because"]
    several = "only school within 30 min for grades 1-3 of V1, V2; 120 pupils >= min_size 100"
    worded = reader_table(pd.DataFrame({"kept_because": [several]}), zh)["kept_because"].iloc[0]
    assert (
        worded == "V1, V2 的小学1–3年级学生 30 分钟内唯一的学校；学生 120 名，不少于最小规模 100 名"
    )
    assert not any("pupils" in v for v in reader_table(kept.to_frame(), zh)["kept_because"])
    info = SolveInfo("feasible", 0.5, 0.4, 0.01, 2.0, "heuristic")
    assert info.describe() == "feasible, gap 0.01 (absolute) (heuristic, 2.00 s)"
    assert info.describe("zh") == "可行，间隙 0.01（绝对值）（启发式，2.00 秒）"
    assert (
        SolveInfo("stopped", None, None, None, 1.0, "cbc").describe("zh")
        == "stopped（cbc，1.00 秒）"
    )


def test_a_budget_plans_notes_are_worded_with_their_nested_reasons():
    class Plan:
        def summary(self, language):
            note = Words(language)("summary.budget.note", note="{}")
            return "\n".join(
                note.format(n)
                for n in (
                    "guard_post_works not used: the schools table has no 'gate' column",
                    "staff_guard_post not used: standard moe2012 does not assess guard_post",
                    "a note nobody foresaw",
                )
            )

    assert plan_text(Plan(), "zh").split("\n") == [
        "注：未采用“guard_post_works”：学校表缺少 'gate' 列",  # no such intervention: as is
        "注：未采用“校门警务室值守（一年）”：标准 moe2012 不评估“护学岗”",
        "注：a note nobody foresaw",
    ]
    assert plan_text(Plan(), "en").startswith("Note: guard_post_works not used: the schools")


def test_the_kindergarten_pages_tables_are_in_chinese():
    path = ROOT / "scenarios" / "new_area_kindergartens.toml"
    result = allocator.run_scenario(path, write=False)
    page = render_run(result, "zh")
    body = re.sub(r"<(script|style)\b.*?</\1>", "", page, flags=re.S)
    shown = {htmllib.unescape(t).strip() for t in re.findall(r">([^<>]+)<", body)}
    own = {result.scenario.name, result.scenario.description, *(s.name for s in result.steps)}
    sites = set(result.steps[0].plan.tables["kindergartens"]["kindergarten_id"])
    english = {
        t
        for t in shown - own - sites
        if re.search(r"[A-Za-z]{3,}", t) and not re.search(r"[\u4e00-\u9fff]", t)
    }
    assert english == set()
    # the table's own words: a kindergarten's places are not training places
    assert "规划后学位" in shown and "培训名额" not in page
    assert "新建" in shown and "学前三年毛入园率" in shown and "城区步行限值（分钟）" in shown


@pytest.mark.parametrize("limit", [60.0, None])
@pytest.mark.parametrize("rules", [True, False])
@pytest.mark.parametrize("district", [True, False])
def test_every_rotation_waiver_reason_is_worded_in_chinese(limit, rules, district):
    from allocator.planners.teachers import TeacherPolicy
    from allocator.planners.teachers.verify import waived_rows

    policy = TeacherPolicy(
        travel_limit_minutes=limit, direction_rules=rules, same_district=district
    )
    rows = waived_rows(np.array(["S1"]), np.array(["A"]), np.array([2]), policy)
    worded = reader_table(rows, Words("zh"))["reason"].iloc[0]
    assert not re.search(r"[A-Za-z]", worded), worded
    assert ("60" in worded) == (limit is not None)
    assert ("学区" in worded) == district and ("交流方向" in worded) == rules
