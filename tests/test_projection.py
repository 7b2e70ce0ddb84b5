"""The EPSSim-shaped projection table: a small worked example computed by hand, its totals against
the forecast's, and the refusal of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allocator.errors import InputError
from allocator.forecast import ForecastSettings, project_grades
from allocator.forecast.projection import (
    PROJECTION_COLUMNS,
    ProjectionSettings,
    projection_table,
)


def _row(table, level, grade, year):
    row = table[(table["level"] == level) & (table["grade"] == grade) & (table["year"] == year)]
    assert len(row) == 1
    return row.iloc[0]


def test_worked_example_by_hand():
    # A county sheet, two years. Settings: class size 40 primary / 50 junior, 20 / 10 pupils per
    # teacher, one shift, salary 100,000, non-salary 500 / 1,000 a pupil, a classroom 300,000
    # primary / 500,000 junior, 20 primary classrooms today.
    settings = ProjectionSettings(
        class_size={"primary": 40, "junior": 50},
        pupils_per_teacher={"primary": 20, "junior": 10},
        salary_yuan=100_000,
        non_salary_yuan_per_pupil={"primary": 500, "junior": 1_000},
        classroom_cost_yuan={"primary": 300_000, "junior": 500_000},
        existing_classrooms={"primary": 20},
    )
    grades = {1: 120, 2: 140, 3: 160, 4: 160, 5: 180, 6: 200, 7: 250, 8: 150, 9: 100}
    nxt = {1: 100, 2: 120, 3: 140, 4: 160, 5: 160, 6: 180, 7: 300, 8: 250, 9: 150}
    forecast = pd.DataFrame(
        [(2025, g, float(p)) for g, p in grades.items()]
        + [(2026, g, float(p)) for g, p in nxt.items()],
        columns=["year", "grade", "pupils"],
    )
    t = projection_table(forecast, settings)
    assert list(t.columns) == list(PROJECTION_COLUMNS)

    # grade 1, 2025: 120 pupils / 40 = 3 classes = 3 classrooms; 120 / 20 = 6 teachers;
    # recurrent 6 x 100,000 + 120 x 500 = 660,000.
    g1 = _row(t, "primary", 1, 2025)
    assert (g1.pupils, g1.classes, g1.classrooms, g1.teachers) == (120, 3, 3, 6)
    assert g1.recurrent_yuan == 660_000
    assert np.isnan(g1.capital_yuan)

    # primary 2025: 120+140+160+160+180+200 = 960 pupils, 960/40 = 24 classrooms, 960/20 = 48
    # teachers; recurrent 48 x 100,000 + 960 x 500 = 5,280,000; 20 classrooms exist: 4 new,
    # 4 x 300,000 = 1,200,000.
    p25 = _row(t, "primary", 0, 2025)
    assert (p25.pupils, p25.classrooms, p25.teachers) == (960, 24, 48)
    assert p25.recurrent_yuan == 5_280_000
    assert (p25.new_classrooms, p25.capital_yuan) == (4, 1_200_000)
    # primary 2026: 100+120+140+160+160+180 = 860 pupils, 21.5 classrooms, 43 teachers; the stock
    # is 24 now: nothing to build; recurrent 4,300,000 + 430,000 = 4,730,000.
    p26 = _row(t, "primary", 0, 2026)
    assert (p26.pupils, p26.classrooms, p26.teachers) == (860, 21.5, 43)
    assert (p26.new_classrooms, p26.capital_yuan, p26.recurrent_yuan) == (0, 0, 4_730_000)

    # junior 2025: 500 pupils, 10 classrooms (the base year's need is the stock), 50 teachers,
    # recurrent 5,000,000 + 500,000 = 5,500,000. 2026: 700 pupils, 14 classrooms, 4 new,
    # 4 x 500,000 = 2,000,000; 70 teachers, recurrent 7,000,000 + 700,000 = 7,700,000.
    j25 = _row(t, "junior", 0, 2025)
    assert (j25.pupils, j25.classrooms, j25.teachers, j25.capital_yuan) == (500, 10, 50, 0)
    assert j25.recurrent_yuan == 5_500_000
    j26 = _row(t, "junior", 0, 2026)
    assert (j26.classrooms, j26.new_classrooms, j26.capital_yuan) == (14, 4, 2_000_000)
    assert (j26.teachers, j26.recurrent_yuan) == (70, 7_700_000)
    # grade 8 of 2026: 250 pupils, 5 classes, 25 teachers, recurrent 2,500,000 + 250,000
    g8 = _row(t, "junior", 8, 2026)
    assert (g8.classes, g8.teachers, g8.recurrent_yuan) == (5, 25, 2_750_000)


def test_level_rows_are_the_sums_of_their_grades_and_totals_match_the_forecast():
    pupils = pd.DataFrame(
        {"settlement_id": np.repeat(["A", "B"], 9), "grade": list(range(1, 10)) * 2,
         "pupils": np.arange(18, dtype=float) * 7 + 3}
    )  # fmt: skip
    ages = pd.DataFrame(
        {"settlement_id": np.repeat(["A", "B"], 6), "age": list(range(6)) * 2,
         "population": np.arange(12, dtype=float) * 5 + 20}
    )  # fmt: skip
    forecast = project_grades(
        pupils, ForecastSettings(horizon=5, transition=0.95, dropout=0.01), 2025, ages=ages
    )
    t = projection_table(forecast)
    grades = t[t["grade"] > 0]
    assert np.allclose(
        grades.groupby("year")["pupils"].sum().to_numpy(),
        forecast.groupby("year")["pupils"].sum().to_numpy(),
    )
    level = t[t["grade"] == 0].set_index(["level", "year"]).sort_index()
    summed = grades.groupby(["level", "year"])[["pupils", "teachers", "recurrent_yuan"]].sum()
    for column in ("pupils", "teachers", "recurrent_yuan"):
        assert np.allclose(level[column].to_numpy(), summed[column].sort_index().to_numpy())
    # capital: new classrooms never negative, stock never shrinks
    assert (level["new_classrooms"] >= 0).all()


def test_bands_are_spread_evenly_over_their_grades():
    f = pd.DataFrame({"settlement_id": "A", "band": ["lower_primary", "junior"], "year": 2025,
                      "pupils": [90.0, 30.0]})  # fmt: skip
    t = projection_table(f)
    assert _row(t, "primary", 2, 2025).pupils == 30
    assert _row(t, "primary", 5, 2025).pupils == 0
    assert _row(t, "junior", 9, 2025).pupils == 10


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"shifts": 0}, "shifts=0; expected a number > 0"),
        ({"class_size": {"senior": 50}}, "expected a table with keys among primary, junior"),
        ({"salary_yuan": -1}, "salary_yuan=-1; expected a number >= 0"),
    ],
)
def test_bad_settings_get_one_line(kwargs, words):
    with pytest.raises(InputError, match=words) as err:
        ProjectionSettings(**kwargs)
    assert "\n" not in str(err.value)


def test_bad_forecast_gets_one_line():
    bad = pd.DataFrame({"year": [2025], "grade": [10], "pupils": [1.0]})
    with pytest.raises(InputError, match="grade 10; expected a grade of 1 to 9"):
        projection_table(bad)
    negative = pd.DataFrame({"year": [2025], "grade": [1], "pupils": [-1.0]})
    with pytest.raises(InputError, match="expected a number >= 0"):
        projection_table(negative)
