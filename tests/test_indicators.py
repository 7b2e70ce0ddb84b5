"""The open indicator set (digital campus, campus safety, teacher training): hand-computed CVs and
ratios, the synthetic urban-rural gap, an assessed open indicator, and regions without the columns."""

import hashlib

import numpy as np
import pandas as pd
import pytest
from conftest import school_row
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.check import check
from allocator.errors import InputError
from allocator.region import SCHOOL_COLUMNS
from allocator.standards import load_standard, open_indicator_values
from allocator.synth import make_region


def _school(school_id, county, area_type, pupils, bandwidth, devices, teachers, **kw):
    return school_row(
        school_id=school_id,
        county=county,
        area_type=area_type,
        pupils_lower_primary=pupils // 2,
        pupils_upper_primary=pupils - pupils // 2,
        classes=6,
        teachers=teachers,
        bandwidth_mbps=bandwidth,
        teacher_devices=devices,
        **kw,
    )


@pytest.fixture
def small():
    return pd.DataFrame(
        [
            _school("U", "A", "urban", 100, 1000.0, 6, 6),
            _school("T", "A", "town", 200, 200.0, 8, 10),
            _school("R", "A", "rural", 100, 20.0, 3, 9),
            # a teaching point under 50 pupils: listed, not counted
            _school("P", "A", "rural", 30, 0.0, 0, 2, level="teaching_point"),
            _school("B1", "B", "urban", 300, 500.0, 15, 15),
            _school("B2", "B", "urban", 100, 100.0, 5, 5),
        ]
    )


def _cv(values, pupils):
    v, p = np.asarray(values, float), np.asarray(pupils, float)
    mean = (p * v).sum() / p.sum()
    return np.sqrt((p * (v - mean) ** 2).sum() / p.sum()) / mean


def test_open_cvs_and_ratios_match_a_hand_computation(small):
    report = check(small)
    schools = report.tables["open_schools"].set_index("school_id")
    assert schools.loc["T", "devices_per_teacher"] == pytest.approx(0.8)
    assert schools.loc["R", "bandwidth_mbps_met"] == False  # noqa: E712 (pandas boolean)
    assert schools.loc["U", "bandwidth_mbps_met"] == True  # noqa: E712
    assert schools.loc["R", "open_missed"] == "bandwidth_mbps, devices_per_teacher"
    assert not schools.loc["P", "in_scope"]
    counties = report.tables["open_counties"].set_index(["county", "indicator"])
    a = counties.loc[("A", "bandwidth_mbps")]
    assert a["cv"] == pytest.approx(_cv([1000, 200, 20], [100, 200, 100]))
    assert a["mean"] == pytest.approx((100 * 1000 + 200 * 200 + 100 * 20) / 400)
    assert (a["schools"], a["pupils"], a["schools_below"], a["pupils_below"]) == (3, 400, 1, 100)
    b = counties.loc[("B", "devices_per_teacher")]
    assert b["cv"] == pytest.approx(0.0, abs=1e-12)  # one device per teacher everywhere
    assert a["verdict"] == "not part of the moe2017 verdict"
    gaps = report.tables["open_gaps"].set_index("indicator")
    urban = (100 * 1000 + 300 * 500 + 100 * 100) / 500
    assert gaps.loc["bandwidth_mbps", "urban"] == pytest.approx(urban)
    assert gaps.loc["bandwidth_mbps", "rural_urban_ratio"] == pytest.approx(20 / urban)
    assert gaps.loc["bandwidth_mbps", "cv"] == pytest.approx(
        _cv([1000, 200, 20, 500, 100], [100, 200, 100, 300, 100])
    )
    devices = np.array([6 / 6, 8 / 10, 3 / 9, 1.0, 1.0])
    assert gaps.loc["devices_per_teacher", "cv"] == pytest.approx(
        _cv(devices, [100, 200, 100, 300, 100])
    )
    # only the indicators whose column the table has
    assert set(gaps.index) == {"bandwidth_mbps", "devices_per_teacher"}
    assert "Open indicators (2), not part of the moe2017 verdict" in report.summary()


def test_boarding_items_apply_to_boarding_schools_only(small):
    table = small.assign(boarding_school=[0, 1, 1, 0, 0, 0], dorm_night_duty=[0, 1, 0, 0, 0, 0])
    values = open_indicator_values(table, load_standard())
    assert values["dorm_night_duty"].tolist()[:3] == [pytest.approx(np.nan, nan_ok=True), 1, 0]
    assert values["dorm_night_duty"].isna().sum() == 4
    # without boarding_school the boarding items are not reported at all
    assert "dorm_night_duty" not in open_indicator_values(
        table.drop(columns="boarding_school"), load_standard()
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_synthetic_regions_show_the_urban_rural_gap(seed):
    gaps = check(make_region(schools=120, seed=seed)).tables["open_gaps"].set_index("indicator")
    ratios = gaps["rural_urban_ratio"].dropna()
    assert len(ratios) >= 12
    assert (ratios <= 1).all()
    strict = ratios.drop("internet_access")  # nearly every school is online
    assert (strict < 1).all(), strict[strict >= 1]
    assert gaps.loc["bandwidth_mbps", "rural"] < gaps.loc["bandwidth_mbps", "town"]


def _digest(region) -> str:
    h = hashlib.sha256()
    for df in (region.schools[list(SCHOOL_COLUMNS)], region.settlements):
        h.update(df.to_csv(index=False).encode())
    h.update(
        repr(sorted((u, v, d["minutes"]) for u, v, d in region.roads.edges(data=True))).encode()
    )
    return h.hexdigest()


def test_existing_columns_are_the_same_for_a_seed():
    region = make_region(schools=60, seed=3)
    plain = make_region(schools=60, seed=3, open_columns=False)
    assert list(plain.schools.columns) == list(SCHOOL_COLUMNS)
    pd.testing.assert_frame_equal(region.schools[list(SCHOOL_COLUMNS)], plain.schools)
    # the digest of this region before the open columns existed
    assert _digest(region) == "cff4e6026e1406987f9c9ca6dca85aaac9a28801ffa3be78aeaaf6992a818437"


def test_reports_are_unchanged_without_the_columns():
    region = make_region(schools=80, seed=5)
    plain = make_region(schools=80, seed=5, open_columns=False)
    full, bare = check(region), check(plain)
    assert not any(name.startswith("open_") for name in bare.tables)
    assert set(full.tables) - set(bare.tables) == {"open_schools", "open_counties", "open_gaps"}
    for name, table in bare.tables.items():
        pd.testing.assert_frame_equal(full.tables[name], table)
    text = bare.summary()
    assert "open" not in text.lower()
    assert text.splitlines()[-1].startswith("Unconfirmed defaults in this standard: floor_share,")
    assert text.splitlines()[-1].endswith("staffing.small_school_max_pupils.")
    kept = [line for line in full.summary().splitlines() if "open" not in line.lower()]
    assert "\n".join(kept).rstrip() == "\n".join(text.splitlines()[:-1]).rstrip()


def test_assessing_an_open_indicator_fails_exactly_the_schools_below_it(tmp_path):
    region = make_region(schools=150, seed=2)
    path = tmp_path / "bureau.toml"
    path.write_text(
        'base = "moe2017"\nopen_assessed = ["bandwidth_mbps"]\n'
        "[open_indicators.bandwidth_mbps]\nthreshold = 500.0\n",
        encoding="utf-8",
    )
    before, after = check(region), check(region, path)
    old, new = before.tables["schools"], after.tables["schools"]
    bandwidth = region.schools.set_index("school_id")["bandwidth_mbps"]
    below = (bandwidth.reindex(old["school_id"]) < 500).to_numpy()
    judged = old["passes"].notna().to_numpy()
    old_pass = old["passes"].fillna(False).to_numpy(bool)
    new_pass = new["passes"].fillna(False).to_numpy(bool)
    assert (new["passes"].notna().to_numpy() == judged).all()
    assert (new_pass == (old_pass & ~below)).all()
    changed = old_pass != new_pass
    assert changed.any() and (changed == (old_pass & below)).all()
    assert (new.loc[changed, "open_missed"] == "bandwidth_mbps").all()
    # counties can only lose, and the report says the indicator is assessed
    c_old = before.tables["counties"].set_index(["county", "part"])["passes"]
    c_new = after.tables["counties"].set_index(["county", "part"])["passes"]
    assert (c_new <= c_old).all()
    gaps = after.tables["open_gaps"].set_index("indicator")["verdict"]
    assert gaps["bandwidth_mbps"] == "assessed (moe2017)"
    assert gaps["closed_campus"] == "not part of the moe2017 verdict"
    # a region without the column cannot be judged on it
    plain = make_region(schools=40, seed=2, open_columns=False)
    with pytest.raises(InputError, match="bandwidth_mbps") as err:
        check(plain, path)
    assert err.value.column == "bandwidth_mbps"


def test_bad_open_values_are_refused_naming_the_school(small):
    bad = small.assign(bandwidth_mbps=[100.0, -5.0, 20.0, 0.0, 1.0, 1.0])
    with pytest.raises(InputError, match="negative value") as err:
        check(bad)
    assert (err.value.column, err.value.row_id) == ("bandwidth_mbps", "T")
    with pytest.raises(InputError, match="expected 0 or 1") as err:
        check(small.assign(boarding_school=[0, 2, 0, 0, 0, 0]))
    assert (err.value.column, err.value.row_id) == ("boarding_school", "T")


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"open_indicators": {"x": {"per": "pupil"}}}, "open_indicators.x"),
        ({"open_assessed": ["wifi"]}, "unknown open indicator 'wifi'"),
        ({"open_assessed": ["trained_county_share"]}, "has no threshold"),
        (
            {"open_indicators": {"bandwidth_mbps": {"per": "pupil"}}},
            "open_indicators.bandwidth_mbps.per",
        ),
        (
            {"open_indicators": {"bandwidth_mbps": {"threshold": -1}}},
            "open_indicators.bandwidth_mbps.threshold",
        ),
    ],
)
def test_bad_open_settings_are_named(overrides, named):
    with pytest.raises(InputError, match=named.replace(".", r"\.")):
        load_standard("moe2017", overrides)


def test_open_set_in_both_standards_round_trips():
    for name in ("moe2017", "moe2012"):
        std = load_standard(name)
        assert len(std.open_indicators) == 13 and std.open_assessed == ()
        assert load_standard(name, std.to_dict()) == std
        assert hash(std) == hash(load_standard(name))
        unconfirmed = {u.split(".")[1] for u in std.unconfirmed if u.startswith("open_")}
        assert unconfirmed <= set(std.open_indicators)
        assert all(oi.source for oi in std.open_indicators.values())
    std = load_standard("moe2017")
    assert std.open_indicators["training_hours_per_teacher"].threshold == 360.0
    lowered = load_standard(
        "moe2017", {"open_indicators": {"bandwidth_mbps": {"threshold": 1000.0}}}
    )
    assert lowered.open_indicators["bandwidth_mbps"].threshold == 1000.0
    assert (
        lowered.open_indicators["bandwidth_mbps"].unit == std.open_indicators["bandwidth_mbps"].unit
    )


def test_a_bureau_defines_its_own_open_indicator(small):
    own = {
        "group": "digital",
        "column": "wifi_rooms",
        "per": "class",
        "threshold": 0.5,
        "unit": "classrooms with wifi per class",
        "source": "district plan (local figure)",
    }
    std = load_standard("moe2017", {"open_indicators": {"wifi_per_class": own}})
    assert std.open_indicators["wifi_per_class"].applies_to == "all"
    report = check(small.assign(wifi_rooms=[6, 3, 0, 0, 6, 6]), std)
    schools = report.tables["open_schools"].set_index("school_id")
    assert schools["wifi_per_class"].tolist() == [1.0, 0.5, 0.0, 0.0, 1.0, 1.0]
    assert schools["wifi_per_class_met"].tolist() == [True, True, False, False, True, True]


@settings(max_examples=25)
@given(
    bandwidth=st.lists(st.sampled_from([0, 20, 99, 100, 500]), min_size=6, max_size=6),
    threshold=st.sampled_from([1.0, 100.0, 500.0]),
)
def test_assessed_open_indicator_only_removes_passes_below_it(bandwidth, threshold):
    rows = []
    for i, b in enumerate(bandwidth):
        p = 100 + 50 * i
        rows.append(
            _school(
                f"s{i}",
                "AB"[i % 2],
                ("urban", "town", "rural")[i % 3],
                p,
                float(b),
                6,
                -(-6 * p // 100),
                teachers_qualified=-(-5 * p // 100),
                teachers_backbone=-(-12 * p // 1000),
                teachers_pe_arts=-(-p // 100),
                multimedia_rooms=-(-25 * p // 1000),
                floor_area_m2=5.0 * p * (i % 3 != 0),  # s0 misses two indicators and fails
                sports_area_m2=8.0 * p * (i % 2),
                equipment_value=2500.0 * p,
            )
        )
    table = pd.DataFrame(rows)
    std = load_standard(
        "moe2017",
        {
            "open_assessed": ["bandwidth_mbps"],
            "open_indicators": {"bandwidth_mbps": {"threshold": threshold}},
        },
    )
    old = check(table).tables["schools"]["passes"].fillna(False).to_numpy(bool)
    new = check(table, std).tables["schools"]["passes"].fillna(False).to_numpy(bool)
    below = np.array(bandwidth, float) < threshold
    assert old.tolist() == [False] + [True] * 5
    assert (new == (old & ~below)).all()


def test_every_verdict_of_the_library_applies_an_assessed_open_indicator(tmp_path):
    # the run's yardstick (pipeline.measure) judges as check does, and so does a budget plan
    from allocator.pipeline import measure
    from allocator.planners.budget import BudgetPolicy, plan_budget
    from allocator.standards import load_standard

    region = make_region(schools=60, seed=2)
    bureau = {
        "open_assessed": ["bandwidth_mbps"],
        "open_indicators": {"bandwidth_mbps": {"threshold": 500.0}},
    }
    std = load_standard(overrides=bureau)
    key = ["school_id", "part"]
    by_run = measure(region, std).parts.set_index(key)["passes"].astype("boolean")
    by_check = check(region, std).tables["schools"].set_index(key)["passes"].astype("boolean")
    assert len(by_run) > 20
    assert by_check.reindex(by_run.index).equals(by_run)
    plain = check(region).tables["schools"].set_index(key)["passes"].astype("boolean")
    bit = plain.reindex(by_run.index).fillna(False) & ~by_run.fillna(False)
    assert bit.any()  # the open threshold decides some part
    plan = plan_budget(region, BudgetPolicy(budget=1e6, standard_overrides=bureau))
    by_plan = plan.parts.set_index(key)["passes_after"]
    after = check(plan.apply(region), std).tables["schools"].set_index(key)["passes"]
    assert (after.reindex(by_plan.index).fillna(False).to_numpy(bool) == by_plan.to_numpy()).all()
