"""Enrolment forecasts (学龄人口与在校生预测): cohort-survival projection of pupils per settlement,
grade and year, birth scenarios as data, and school enrolment by today's catchments.

Examples
--------
>>> import pandas as pd
>>> from allocator.forecast import ForecastSettings, project_enrolment
>>> pupils = pd.DataFrame({"settlement_id": "A", "grade": range(1, 10), "pupils": 30.0})
>>> births = pd.DataFrame({"settlement_id": "A", "year": range(2019, 2025), "births": 20.0})
>>> out = project_enrolment(pupils, ForecastSettings(horizon=5), 2025, births=births)
>>> out[out["year"] == 2030]["pupils"].round(1).tolist()
[60.0, 70.0, 90.0]
"""

from allocator.forecast.births import (
    BirthScenario,
    birth_scenario_names,
    load_birth_scenario,
    regional_births,
)
from allocator.forecast.catchment import (
    TRAVEL_BANDS,
    forecast_region,
    nearest_schools,
    pupils_from_region,
    school_enrolment,
    teaches,
)
from allocator.forecast.cohort import by_band, project_enrolment, project_grades
from allocator.forecast.rates import (
    BANDS,
    ENTRY_AGE,
    GRADES,
    MAX_HORIZON,
    ForecastSettings,
    band_of_grade,
)

__all__ = [
    "BirthScenario",
    "birth_scenario_names",
    "load_birth_scenario",
    "regional_births",
    "BANDS",
    "ENTRY_AGE",
    "GRADES",
    "MAX_HORIZON",
    "ForecastSettings",
    "band_of_grade",
    "TRAVEL_BANDS",
    "by_band",
    "forecast_region",
    "nearest_schools",
    "pupils_from_region",
    "school_enrolment",
    "teaches",
    "project_enrolment",
    "project_grades",
]
