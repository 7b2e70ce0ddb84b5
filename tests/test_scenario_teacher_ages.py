"""Teacher ages from a scenario: ``over_years = { teacher_ages = "ages.csv" }`` on a teacher step,
a CSV or Excel file with English or Chinese headers, checked row by row (file, line, column,
value) when the scenario is read, and used by the plan over years."""

from __future__ import annotations

import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.pipeline import run_scenario
from allocator.planners.teachers.ages import read_age_profile, read_teacher_ages, retirements
from allocator.scenario import load_scenario

SCENARIO = """\
years = [2026, 2027]
[region]
schools = 12
counties = 1
seed = 5
[[steps]]
planner = "teachers"
hiring_quota = 0
over_years = { teacher_ages = "ages.csv" }
"""


def test_a_file_with_chinese_headers_and_an_excel_workbook(tmp_path):
    f = tmp_path / "ages.csv"
    f.write_text("学校代码,年龄,教师数\nS1,58,2\nS1, 40 ,7\n", encoding="utf-8-sig")
    table = read_teacher_ages(f)
    assert table.values.tolist() == [["S1", 58, 2], ["S1", 40, 7]]
    book = tmp_path / "ages.xlsx"
    pd.DataFrame({"school id": ["S2"], "age": [33], "teachers": [4]}).to_excel(
        book, sheet_name="teacher_ages", index=False
    )
    assert read_teacher_ages(book).values.tolist() == [["S2", 33, 4]]


@pytest.mark.parametrize(
    "rows, expected",
    [
        ("S1,58,2\nS1,forty,7\n", "line 3, table 'teacher_ages', row 'S1', column 'age': value "
         "'forty' is not a whole number; expected an age from 16 to 80"),
        ("S1,58,2\nS1,95,1\n", "line 3, table 'teacher_ages', row 'S1', column 'age': value 95 "
         "cannot be right; expected an age from 16 to 80"),
        ("S1,58,-1\n", "line 2, table 'teacher_ages', row 'S1', column 'teachers': value -1 "
         "cannot be right; expected a count of teachers >= 0"),
        ("S1,58,2.5\n", "column 'teachers': value '2.5' is not a whole number"),
        ("S1,58,2\n,40,3\n", "line 3, table 'teacher_ages', column 'school_id': missing school_id"),
    ],
)  # fmt: skip
def test_a_bad_row_names_file_line_column_and_value(tmp_path, rows, expected):
    f = tmp_path / "ages.csv"
    f.write_text("school_id,age,teachers\n" + rows, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_teacher_ages(f)
    assert str(info.value).startswith(f"{f}, line ") and expected in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_column_is_named(tmp_path):
    f = tmp_path / "ages.csv"
    f.write_text("学校代码,教师数\nS1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="column 'age': no age column; expected columns"):
        read_teacher_ages(f)


def _ages_for(tmp_path, text=SCENARIO):
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_scenario_reads_the_file_and_the_plan_retires_by_it(tmp_path):
    path = _ages_for(tmp_path)
    (tmp_path / "ages.csv").write_text("school_id,age,teachers\n", encoding="utf-8")
    schools = load_scenario(path).region.load().schools
    sid, teachers = str(schools["school_id"].iloc[0]), int(schools["teachers"].iloc[0])
    # every teacher of the first school is 59 in 2026: none retires in 2026, all in 2027
    (tmp_path / "ages.csv").write_text(
        f"学校代码,年龄,教师数\n{sid},59,{teachers}\n", encoding="utf-8"
    )
    scenario = load_scenario(path)
    assert scenario.steps[0].over_years["teacher_ages"] == str(tmp_path / "ages.csv")
    result = run_scenario(scenario, write=False)
    flows = result.plans["teachers"].flows
    assert flows[flows["school_id"] == sid]["retirements"].tolist() == [0, teachers]


def test_bad_files_in_a_scenario_get_one_line(tmp_path):
    path = _ages_for(tmp_path)
    with pytest.raises(InputError) as info:
        load_scenario(path)  # no ages.csv yet
    assert str(info.value).startswith(f"{path}, line 9: steps[1].over_years.teacher_ages: ")
    assert "'ages.csv' does not exist" in str(info.value)
    (tmp_path / "ages.csv").write_text("school_id,age,teachers\nS1,60,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"ages.csv, line 2, .*column 'teachers': value 'x'"):
        load_scenario(path)
    bad = _ages_for(tmp_path, SCENARIO.replace('"ages.csv"', "3"))
    with pytest.raises(InputError, match=r"line 9: steps\[1\].over_years.teacher_ages: expected"):
        load_scenario(bad)


PROFILE = """\
area_type,age_from,age_to,share
rural,20,39,0.4
rural,40,57,0.35
rural,58,59,0.25
town,20,58,0.9
town,59,59,0.1
urban,20,59,1.0
"""


def test_an_age_profile_from_the_scenario_retires_as_the_profile_says(tmp_path):
    # the profile spread into whole teachers by age, then retired by age, gives what the
    # profile gives directly (retirements(..., profile=...)), school by school
    path = _ages_for(
        tmp_path, SCENARIO.replace('teacher_ages = "ages.csv"', 'age_profile = "p.csv"')
    )
    (tmp_path / "p.csv").write_text(PROFILE, encoding="utf-8")
    scenario = load_scenario(path)
    result = run_scenario(scenario, write=False)
    schools = scenario.region.load().schools
    profile = read_age_profile(tmp_path / "p.csv")
    expected = retirements(schools, 2, 60, profile=profile)
    flows = result.plans["teachers"].flows
    got = flows.pivot(index="school_id", columns="year", values="retirements")
    got = got.loc[schools["school_id"]].to_numpy()
    assert (got == expected).all() and expected[:, 1].sum() > 0
    (tmp_path / "p.csv").write_text(PROFILE.replace("0.1\n", "0.2\n"), encoding="utf-8")
    with pytest.raises(InputError, match=r"p.csv, table 'age_profile', row 'town', column 'share': "
                       r"the shares of town add up to 1.1; expected 1"):  # fmt: skip
        load_scenario(path)
    (tmp_path / "p.csv").write_text(PROFILE.replace("urban,20,59", "urban,20,15"), encoding="utf-8")
    with pytest.raises(InputError, match=r"p.csv, line 7, .*column 'age_to': value 15 cannot be"):
        load_scenario(path)
