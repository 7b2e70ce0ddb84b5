"""Variants over years: a variant overrides ``years`` and ``[forecast]`` (checked with file and
line like every key), and the comparison shows each variant's years and its last year's figures,
recomputed here from each variant's own yearly regions."""

from __future__ import annotations

import pytest

from allocator.cli import main
from allocator.compare import compare_scenario
from allocator.errors import InputError
from allocator.report.compare_page import render_comparison
from allocator.scenario import parse_scenario
from allocator.standards import required_staff

SCENARIO = """\
name = "two variants over years"
years = [2026, 2028]
[region]
schools = 16
counties = 1
seed = 5
[forecast]
births = "medium"
migration = { rural = -0.05 }
[[steps]]
planner = "teachers"
hiring_quota = 4

[[variants]]
name = "low births"
forecast = { births = "low" }

[[variants]]
name = "shorter"
years = [2026, 2027]
"""


def test_a_variant_overrides_years_and_forecast_and_keeps_the_rest():
    scenario = parse_scenario(SCENARIO, "v.toml")
    low, short = scenario.variant("low births"), scenario.variant("shorter")
    assert (scenario.years, low.years, short.years) == ((2026, 2028), (2026, 2028), (2026, 2027))
    assert low.forecast.birth_scenario().name == "low"
    assert dict(low.forecast.options) == {"migration": {"rural": -0.05}}  # merged, not replaced
    assert short.forecast.birth_scenario().name == "medium"


@pytest.mark.parametrize(
    "block, expected",
    [
        ("years = [2030, 2026]", "v.toml, line 24: variants[3].years: [2030, 2026] runs backwards"),
        ("years = [2026, 2050]", "v.toml, line 24: variants[3].years: [2026, 2050] spans 24 years"),
        ('forecast = { births = "lowest" }', "line 24: variants[3].forecast.births: unknown birth"),
        ("forecast = { migration = { rural = 3 } }", "line 24: variants[3].forecast.migration: "),
        ("forecast = 3", "line 24: variants[3].forecast: expected a table ([forecast])"),
        ("forecast = { horizon = 3 }", "line 24: variants[3].forecast.horizon: unknown key"),
    ],
)
def test_a_bad_variant_year_or_forecast_names_file_line_and_key(block, expected):
    text = SCENARIO + f'\n[[variants]]\nname = "bad"\n{block}\n'
    with pytest.raises(InputError) as info:
        parse_scenario(text, "v.toml")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_forecast_variant_needs_years():
    text = SCENARIO.replace("years = [2026, 2028]\n", "").replace(
        '[forecast]\nbirths = "medium"\nmigration = { rural = -0.05 }\n', ""
    )
    text = text.replace('name = "shorter"\nyears = [2026, 2027]\n', 'name = "shorter"\n')
    with pytest.raises(InputError, match=r"line 12: variants\[1\].forecast: a forecast needs"):
        parse_scenario(text, "v.toml")


@pytest.mark.slow
def test_the_comparison_shows_each_variants_years_and_last_year(tmp_path, capsys):
    path = tmp_path / "v.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    c = compare_scenario(path, write=False, workers=1)
    table = c.table.set_index("measure")
    assert table.loc["years.first", ["low births", "shorter"]].tolist() == [2026, 2026]
    assert table.loc["years.last", ["low births", "shorter"]].tolist() == [2028, 2027]
    for name, last in (("low births", 2028), ("shorter", 2027)):
        region = c.results[name].plans["teachers"].region_in(last)  # recomputed from the region
        schools = region.schools
        need = int(required_staff(schools, c.results[name].standard).sum())
        row = "last_year.last.teachers."  # the variants end in different years
        assert table.loc[row + "teachers", name] == int(schools["teachers"].sum())
        assert table.loc[row + "teachers_needed", name] == need
        assert table.loc[row + "schools", name] == len(schools)
    html = render_comparison(c, "en")
    assert "(plans 2026–2028)" in html and "(plans 2026–2027)" in html
    assert "<td>2028</td>" in html and "teachers: teachers in the last year" in html
    zh = render_comparison(c, "zh")
    assert "规划 2026—2027 年" in zh and "teachers：末年按编制标准应配教师数" in zh
    # the same last year: the row names it
    same = compare_scenario(path, write=False, workers=1, variants=["low births"])
    assert "last_year.2028.teachers.pupils" in set(same.table["measure"])
    assert "teachers: pupils in 2028" in render_comparison(same, "en")
    assert main(["compare", str(path), "--out", str(tmp_path / "out"), "--workers", "1",
                 "--quiet"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "low births: plans 2026–2028" in printed and "shorter: plans 2026–2027" in printed
