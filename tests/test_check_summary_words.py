"""``allocator check --lang zh``: the whole summary in Chinese (ids, names and units aside), its
figures the same as the English one's, the counts of school parts recomputed here from the
schools table; the English summary as it was."""

from __future__ import annotations

import dataclasses
import re

import pytest

from allocator.check import check
from allocator.cli import main
from allocator.io import save_region
from allocator.standards import load_standard
from allocator.synth import make_region

#: Units and the tables a reader is sent to, which keep their names in a Chinese summary.
UNITS_AND_TABLES = {"Mbps", "open_*", "warnings", "schools", "settlements", "roads"}


def _region():
    """60 schools with kindergartens, three input warnings and two columns filled by default."""
    region = make_region(schools=60, seed=1, kindergartens=True)
    s = region.schools.copy()
    s.loc[0, "capacity"] = 0  # capacity 0 with pupils
    s.loc[1, "pupils_lower_primary"] = 9000  # more than 10,000 pupils, and crowded
    s["filled_columns"] = ""
    s.loc[3, "filled_columns"] = "teachers floor_area_m2"
    s.loc[4, "filled_columns"] = "teachers"
    return region.replace(schools=s)


@pytest.fixture(scope="module")
def report():
    return check(_region())


def _ids(report) -> set[str]:
    """Everything the Chinese summary may show in Latin letters: the region's name, the
    standard's, its unconfirmed settings, the warnings' tables and columns, the defaults'
    table.column, units and table names."""
    t = report.tables
    std = report.standard
    ids = {report.region_name, std.name, *std.unconfirmed, *UNITS_AND_TABLES}
    ids |= set(t["warnings"]["column"]) | set(t["warnings"]["table"])
    ids |= {f"{a}.{b}" for a, b in t["defaults"][["table", "column"]].itertuples(index=False)}
    return ids


def test_the_chinese_summary_has_no_english_word_but_ids_names_and_units(report):
    text = report.summary(top=10, language="zh")
    assert len(report.tables["warnings"]) >= 3 and len(report.tables["defaults"]) == 2
    for head in (
        "输入数据提示",
        "依据默认值的数据",
        "差异系数",
        "拓展指标",
        "学前教育",
        "教职工编制",
    ):
        assert head in text, head
    allowed = _ids(report)
    tokens = re.findall(r"[A-Za-z][\w.*-]*[\w*]|[A-Za-z]", text)
    english = {tok for tok in tokens if re.search("[A-Za-z]{3,}", tok) and tok not in allowed}
    assert english == set(), english
    # the same lines as in English, one for one
    assert len(text.splitlines()) == len(report.summary(top=10).splitlines())


def test_the_parts_assessed_and_out_of_scope_are_the_schools_tables(report):
    """School parts recomputed from the schools table: a primary part for each primary school,
    teaching point or nine-year school with primary pupils, a junior part for each junior or
    nine-year school with junior pupils; a teaching point under 50 pupils is out of scope."""
    s = _region().schools
    assert set(s["level"]) <= {"primary", "teaching_point", "junior", "nine_year"}
    primary = s["pupils_lower_primary"] + s["pupils_upper_primary"]
    junior = s["pupils_junior"]
    has_primary = s["level"].isin(["primary", "teaching_point", "nine_year"]) & (primary > 0)
    has_junior = s["level"].isin(["junior", "nine_year"]) & (junior > 0)
    small = (s["level"] == "teaching_point") & (primary < 50) & has_primary
    parts = int(has_primary.sum() + has_junior.sum())
    schools = int((has_primary | has_junior).sum())
    assessed, out = parts - int(small.sum()), int(small.sum())
    assert out > 0
    zh = report.summary(language="zh").splitlines()[2]
    en = report.summary().splitlines()[2]
    assert zh.startswith(
        f"学校：评估 {assessed} 个学段（{schools} 所学校；{out} 个学段不参与评估："
        "学生不足 50 人的教学点），其中 "
    ), zh
    assert en.startswith(
        f"Schools: {assessed} school parts assessed ({schools} schools; {out} out of scope: "
        "teaching point under 50 pupils). "
    ), en


@pytest.mark.parametrize(("seed", "standard"), [(1, "moe2017"), (2, "moe2012"), (7, "moe2017")])
def test_each_chinese_line_has_the_figures_of_its_english_line(seed, standard):
    """Line for line the same numbers (ids such as ``pe_arts_per_100`` aside); the open
    indicators' lines hold as many items as fit 150 columns, a Chinese character taking two."""
    report = check(make_region(schools=30, seed=seed, kindergartens=seed == 2), standard)
    en = report.summary(top=5).splitlines()
    zh = report.summary(top=5, language="zh").splitlines()
    assert len(en) == len(zh)
    number = re.compile(r"\d+(?:[.,]\d+)*")
    for e, z in zip(en, zh, strict=True):
        figures_en = number.findall(re.sub(r"[A-Za-z_][\w.]*", "", e))
        figures_zh = number.findall(re.sub(r"[A-Za-z_][\w.]*", "", z))
        if z.startswith(("拓展指标", "达到拓展指标")):
            k = min(len(figures_zh), len(figures_en))  # the same items first, as many as fit
            assert k >= 2 and figures_zh[:k] == figures_en[:k], (e, z)
            assert sum(2 if "\u3400" <= c <= "\uffef" else 1 for c in z) <= 150
        else:
            assert sorted(figures_zh) == sorted(figures_en), (e, z)  # the word order differs


def test_the_english_summary_reads_as_before(report):
    lines = report.summary().splitlines()
    assert lines[0] == (
        f"Compliance of {report.region_name!r} with moe2017 (High-quality balanced development "
        "of county compulsory education (2017))"
    )
    assert (
        "Figures resting on defaults (not given; filled at import): schools.teachers (2 schools), "
        "schools.floor_area_m2 (1 school)."
    ) in lines
    warning = re.compile(
        r" - schools C00S0000 capacity: capacity 0 with [\d,]+ pupils; expected the school's capacity"
    )
    assert any(warning.fullmatch(line) for line in lines)
    assert "Input warnings: 4 values to check (table warnings):" in lines


def test_the_chinese_title_names_the_standard_in_chinese_unless_its_title_is_its_own(report):
    assert report.summary(language="zh").splitlines()[0] == (
        f"{report.region_name}：对照 moe2017（2017年县域义务教育优质均衡发展督导评估）的达标情况"
    )
    own = dataclasses.replace(load_standard("moe2017"), title="Our county's own rules")
    first = check(make_region(schools=20, seed=2), own).summary(language="zh").splitlines()[0]
    assert first.endswith("（Our county's own rules）的达标情况"), first
    basic = check(make_region(schools=20, seed=2), "moe2012").summary(language="zh")
    assert "2012年县域义务教育发展基本均衡督导评估" in basic.splitlines()[0]
    assert "综合差异系数超过限值：" in basic


def test_a_level_out_of_scope_is_named_in_chinese():
    std = load_standard("moe2017")
    std = dataclasses.replace(
        std, exclusions=dataclasses.replace(std.exclusions, levels=("junior",))
    )
    report = check(make_region(schools=30, seed=4), std)
    assert "初中不参与评估" in report.summary(language="zh")
    assert "junior schools are not assessed" in report.summary()


def test_check_lang_zh_prints_the_chinese_summary(tmp_path, capsys):
    folder = tmp_path / "region"
    save_region(make_region(schools=30, seed=1), folder)
    assert main(["check", str(folder), "--lang", "zh", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    files = len([p for p in (tmp_path / "out").iterdir() if p.is_file()])
    written = re.fullmatch(r"已将 (\d+) 个文件写入 (.+)", out.rstrip().splitlines()[-1])
    assert written and 0 < int(written[1]) <= files and written[2] == str(tmp_path / "out")
    assert out.splitlines()[0].endswith("（2017年县域义务教育优质均衡发展督导评估）的达标情况")
    assert "学校：评估 " in out and "Schools:" not in out and "Worst gaps" not in out
