import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# The default run is derandomized so that a test run gives the same answer on every machine;
# HYPOTHESIS_PROFILE=thorough draws new random examples, and more of them.
settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    max_examples=25,
    derandomize=True,
)
settings.register_profile("thorough", deadline=None, max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def milp_stops_without_a_plan(monkeypatch):
    """Make every district MILP stop without a plan (LPs still solve), as a loaded machine can."""
    from allocator.districting import exact_model as districting
    from allocator.errors import SolverError
    from allocator.solver import SolveInfo

    real = districting.solve_matrix

    def stopped(model, **kw):
        if model.is_mip:
            info = SolveInfo("error", None, None, None, 34.0, "highs")
            raise SolverError("the solver stopped without a plan (Time limit reached)", info)
        return real(model, **kw)

    monkeypatch.setattr(districting, "solve_matrix", stopped)


def school_row(**values) -> dict:
    """One row of a schools table with every column the standards read: a rural primary school
    ``"s"`` in county ``"A"``, one class and zero everywhere else unless given.

    Test files import it (``from conftest import school_row``) and give their own defaults.
    """
    row = dict(
        school_id="s",
        county="A",
        area_type="rural",
        level="primary",
        pupils_lower_primary=0,
        pupils_upper_primary=0,
        pupils_junior=0,
        pupils_senior=0,
        classes=1,
        teachers=0,
        teachers_qualified=0,
        teachers_backbone=0,
        teachers_pe_arts=0,
        floor_area_m2=0.0,
        sports_area_m2=0.0,
        equipment_value=0.0,
        multimedia_rooms=0,
    )
    row.update(values)
    return row
