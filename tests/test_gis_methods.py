"""``Region.to_geodataframes`` and ``plan.to_geodataframes``: the same layers as
:func:`allocator.gis.to_geodataframes`, and one line naming the extra when geopandas is missing."""

import subprocess
import sys

import numpy as np
import pytest

from allocator.gis import to_geodataframes
from allocator.synth import make_region

CRS = "EPSG:32648"


@pytest.fixture(scope="module")
def region():
    return make_region(schools=30, seed=3)


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].drop(columns="geometry").equals(b[name].drop(columns="geometry"))
        assert a[name].geometry.geom_equals_exact(b[name].geometry, 1e-9).all()
        assert a[name].crs == b[name].crs


def xy_of(region, ids):
    return (region.schools.set_index("school_id").loc[list(ids), ["x", "y"]] * 1000).to_numpy()


def test_region_method(region):
    layers = region.to_geodataframes(crs=CRS)
    _same(layers, to_geodataframes(region, crs=CRS))
    x = layers["schools"].geometry.x.to_numpy()
    assert x == pytest.approx(region.schools["x"].to_numpy() * 1000)
    assert layers["schools"].crs.to_epsg() == 32648


def test_plan_methods(region):
    from allocator.planners.budget import BudgetPolicy, plan_budget
    from allocator.planners.districts import DistrictPolicy, plan_districts
    from allocator.planners.mergers import plan_mergers
    from allocator.planners.teachers import plan_teachers

    plans = [
        plan_budget(region, BudgetPolicy(budget=2e6)),
        plan_teachers(region),
        plan_mergers(region),
        plan_districts(region, DistrictPolicy(method="heuristic", starts=1)),
    ]
    for plan in plans:
        layers = plan.to_geodataframes(region, crs=CRS)
        _same(layers, to_geodataframes(plan, region, crs=CRS))
    budget = plans[0].to_geodataframes(region, CRS)["allocations"]
    at = xy_of(region, budget["school_id"])
    assert np.allclose(np.c_[budget.geometry.x, budget.geometry.y], at)
    transfers = plans[1].to_geodataframes(region, CRS)["transfers"]
    assert len(transfers) == len(plans[1].tables["transfers"]) > 0
    assert np.allclose(
        transfers.geometry.length,
        np.hypot(
            *(
                xy_of(region, transfers["from_school_id"])
                - xy_of(region, transfers["to_school_id"])
            ).T
        ),
    )
    merged = plans[2].to_geodataframes(region, CRS)
    closures = plans[2].closures
    assert len(merged["closures"]) == len(closures) > 0
    xy = region.schools.set_index("school_id")[["x", "y"]] * 1000
    first = merged["closures"].geometry.iloc[0]
    assert np.allclose(first.coords[0], xy.loc[closures["school_id"].iloc[0]])
    assert np.allclose(first.coords[-1], xy.loc[closures["receiving_school_id"].iloc[0]])
    districts = plans[3].to_geodataframes(region, CRS)
    assert (
        len(districts["districts_polygons"]) == plans[3].tables["districts"]["district"].nunique()
    )
    with pytest.raises(TypeError, match="drawn on a region"):
        plans[0].to_geodataframes(crs=CRS)


def test_without_the_gis_extra_the_methods_name_it():
    code = (
        "import sys; sys.modules['geopandas'] = None\n"
        "from allocator.synth import make_region\n"
        "region = make_region(schools=20, seed=1)\n"
        "try:\n"
        "    region.to_geodataframes(crs=32648)\n"
        "except ImportError as exc:\n"
        "    print(str(exc))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    assert 'pip install "edu-allocator[gis]"' in lines[0] and "geopandas" in lines[0]
