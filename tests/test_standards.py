"""Standards: default numbers, overrides, the assessed parts of schools and staffing norms."""

import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import school_row
from hypothesis import given, settings
from hypothesis import strategies as st

from allocator.errors import InputError
from allocator.standards import (
    INDICATOR_SCALE,
    INDICATOR_SOURCE,
    INDICATORS,
    Standard,
    assessment_parts,
    load_standard,
    required_staff,
    staffing_requirements,
)

# --------------------------------------------------------------------------- defaults


def test_indicator_names_sources_and_scales():
    assert INDICATORS == (
        "qualified_per_100",
        "backbone_per_100",
        "pe_arts_per_100",
        "floor_m2_per_pupil",
        "sports_m2_per_pupil",
        "equipment_yuan_per_pupil",
        "multimedia_per_100",
    )
    assert dict(INDICATOR_SOURCE) == {
        "qualified_per_100": "teachers_qualified",
        "backbone_per_100": "teachers_backbone",
        "pe_arts_per_100": "teachers_pe_arts",
        "floor_m2_per_pupil": "floor_area_m2",
        "sports_m2_per_pupil": "sports_area_m2",
        "equipment_yuan_per_pupil": "equipment_value",
        "multimedia_per_100": "multimedia_rooms",
    }
    assert [INDICATOR_SCALE[k] for k in INDICATORS] == [100, 100, 100, 1, 1, 1, 100]


def test_moe2017_defaults_are_the_published_numbers():
    s = load_standard()
    assert isinstance(s, Standard) and s.name == "moe2017"
    assert dict(s.thresholds["primary"]) == dict(
        zip(INDICATORS, [4.2, 1.0, 0.9, 4.5, 7.5, 2000, 2.3], strict=True)
    )
    assert dict(s.thresholds["junior"]) == dict(
        zip(INDICATORS, [5.3, 1.0, 0.9, 5.8, 10.2, 2500, 2.4], strict=True)
    )
    assert s.indicators == INDICATORS
    assert s.min_indicators_met == 6
    assert s.floor_share is None and "floor_share" in s.unconfirmed
    assert s.cv_rule == "each" and dict(s.cv_limit) == {"primary": 0.50, "junior": 0.45}
    assert dict(s.staffing.pupils_per_teacher) == {"primary": 19, "junior": 13.5, "senior": 12.5}
    assert s.staffing.rural_pupils_per_teacher is None
    assert dict(s.class_size.max) == {"primary": 45, "junior": 50, "senior": 50}
    assert (s.class_size.large, s.class_size.super_large) == (56, 66)
    assert s.school_size.max_pupils["primary"] == 2000 == s.school_size.max_pupils["junior"]
    assert s.school_size.max_pupils["nine_year"] == 2500
    assert (s.rotation.share, s.rotation.backbone_share, s.rotation.eligible_years) == (0.1, 0.2, 6)
    assert s.travel.lower_primary_minutes == 30
    assert s.nine_year.junior_weight == 1.1
    assert set(s.exclusions.levels) == {"special", "vocational"}
    assert s.exclusions.teaching_point_min_pupils == 50


def test_moe2012_is_a_composite_cv_standard_without_school_thresholds():
    s = load_standard("moe2012")
    assert s.cv_rule == "composite" and dict(s.cv_limit) == {"primary": 0.65, "junior": 0.55}
    assert dict(s.thresholds) == {} and s.assessed_indicators("junior") == ()
    assert "teachers_per_100" in s.indicators and "multimedia_per_100" not in s.indicators
    assert dict(s.staffing.rural_pupils_per_teacher) == {
        "primary": 23,
        "junior": 18,
        "senior": 13.5,
    }


# --------------------------------------------------------------------------- overrides
def test_overrides_replace_only_what_they_name():
    s = load_standard(
        "moe2017",
        {
            "thresholds": {"primary": {"floor_m2_per_pupil": 5.0}},
            "floor_share": 0.85,
            "nine_year": {"junior_weight": 1.2},
            "staffing": {"pupils_per_teacher": {"junior": 12.0}},
        },
    )
    assert s.thresholds["primary"]["floor_m2_per_pupil"] == 5.0
    assert s.thresholds["primary"]["sports_m2_per_pupil"] == 7.5
    assert s.thresholds["junior"]["floor_m2_per_pupil"] == 5.8
    assert s.floor_share == 0.85 and s.nine_year.junior_weight == 1.2
    assert dict(s.staffing.pupils_per_teacher) == {"primary": 19, "junior": 12.0, "senior": 12.5}
    assert load_standard(s, {"floor_share": None}).floor_share is None
    assert load_standard(s, {"floor_share": False}).floor_share is None
    assert load_standard().with_overrides({"cv_limit": {"junior": 0.4}}).cv_limit["junior"] == 0.4


def test_toml_file_with_base_and_overrides_file(tmp_path):
    own = tmp_path / "district.toml"
    own.write_text(
        'base = "moe2017"\nname = "district"\nfloor_share = 0.85\n'
        "[thresholds.junior]\nsports_m2_per_pupil = 9.0\n"
        "[staffing]\nrural_pupils_per_teacher = { primary = 23.0 }\n",
        encoding="utf-8",
    )
    s = load_standard(own)
    assert s.name == "district" and s.floor_share == 0.85
    assert s.thresholds["junior"]["sports_m2_per_pupil"] == 9.0
    assert s.thresholds["primary"]["sports_m2_per_pupil"] == 7.5
    # bands not named keep the unified ratio
    assert dict(s.staffing.rural_pupils_per_teacher) == {
        "primary": 23,
        "junior": 13.5,
        "senior": 12.5,
    }
    child = tmp_path / "child.toml"
    child.write_text('base = "district.toml"\n[cv_limit]\nprimary = 0.4\n', encoding="utf-8")
    c = load_standard(child)
    assert c.cv_limit["primary"] == 0.4 and c.floor_share == 0.85
    more = tmp_path / "more.toml"
    more.write_text("[rotation]\nshare = 0.15\n", encoding="utf-8")
    assert load_standard("moe2017", more).rotation.share == 0.15
    # round trip through to_dict
    assert load_standard("moe2012", c.to_dict()) == c
    complete = tmp_path / "complete.toml"
    complete.write_text(_as_toml(load_standard("moe2012").to_dict()), encoding="utf-8")
    assert load_standard(complete) == load_standard("moe2012")
    # leaving an indicator out of `indicators` drops it from the school assessment
    six = [k for k in INDICATORS if k != "multimedia_per_100"]
    assert load_standard(overrides={"indicators": six}).assessed_indicators("primary") == tuple(six)


def _as_toml(data: dict, prefix: str = "") -> str:
    """Tiny TOML writer for the nested dicts of Standard.to_dict (test helper)."""

    def value(v):
        if v is None:
            return "false"
        if isinstance(v, str):
            return '"' + v.replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {value(v)}")
    out = "\n".join(lines) + "\n"
    for k, v in tables:
        name = f"{prefix}{k}"
        out += f"[{name}]\n" + _as_toml(v, f"{name}.")
    return out


@pytest.mark.parametrize(
    "overrides, named",
    [
        (
            {"thresholds": {"primary": {"flor_m2_per_pupil": 5}}},
            "thresholds.primary.flor_m2_per_pupil",
        ),
        ({"thresholds": {"senior": {}}}, "thresholds.senior"),
        ({"cv_limits": {"primary": 0.4}}, "cv_limits"),
        ({"staffing": {"ratio": 3}}, "staffing.ratio"),
        ({"rotation": {"share": 1.5}}, "rotation.share"),
        ({"cv_limit": {"primary": 0}}, "cv_limit.primary"),
        ({"floor_share": 2}, "floor_share"),
        ({"min_indicators_met": 8}, "min_indicators_met"),
        ({"indicators": ["books_per_pupil"]}, "books_per_pupil"),
        ({"cv_rule": "mean"}, "cv_rule"),
        ({"nine_year": {"junior_weight": "1.1"}}, "nine_year.junior_weight"),
    ],
)
def test_bad_overrides_raise_input_error_naming_the_setting(overrides, named):
    with pytest.raises(InputError, match=named.replace(".", r"\.")):
        load_standard("moe2017", overrides)


def test_unknown_base_and_bad_file(tmp_path):
    with pytest.raises(InputError, match="moe2019"):
        load_standard("moe2019")
    bad = tmp_path / "bad.toml"
    bad.write_text('base = "moe2017"\n[cv_limit]\nprimary = \n', encoding="utf-8")
    with pytest.raises(InputError, match="not valid TOML"):
        load_standard(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('base = "moe2017"\n[travel]\nlower_primary_minute = 25\n', encoding="utf-8")
    with pytest.raises(InputError, match="travel.lower_primary_minute") as info:
        load_standard(typo)
    assert info.value.file == str(typo)


def test_standard_is_frozen_and_pickles():
    s = load_standard()
    with pytest.raises(AttributeError):
        s.min_indicators_met = 5
    with pytest.raises(TypeError):
        s.thresholds["primary"]["floor_m2_per_pupil"] = 1.0
    assert pickle.loads(pickle.dumps(s)) == s


# --------------------------------------------------------------------------- assessment parts


def test_nine_year_school_is_split_one_to_one_point_one():
    schools = pd.DataFrame(
        [
            school_row(
                school_id="n",
                level="nine_year",
                area_type="town",
                pupils_lower_primary=150,
                pupils_upper_primary=250,
                pupils_junior=300,
                teachers=51,
                teachers_qualified=46,
                teachers_backbone=8,
                teachers_pe_arts=6,
                floor_area_m2=3660.0,
                sports_area_m2=7320.0,
                equipment_value=1_464_000.0,
                multimedia_rooms=22,
            )
        ]
    )
    parts = assessment_parts(schools).set_index("part")
    assert list(parts.index) == ["primary", "junior"]
    assert parts.loc["primary", "pupils"] == 400 and parts.loc["junior", "pupils"] == 300
    # weighted pupils 400 + 1.1 * 300 = 730: primary gets 400/730 of every resource
    assert parts.loc["primary", "floor_m2_per_pupil"] == pytest.approx(3660 / 730)
    assert parts.loc["junior", "floor_m2_per_pupil"] == pytest.approx(1.1 * 3660 / 730)
    assert parts.loc["primary", "equipment_yuan_per_pupil"] == pytest.approx(1_464_000 / 730)
    assert parts.loc["primary", "qualified_per_100"] == pytest.approx(100 * 46 / 730)
    assert parts.loc["junior", "multimedia_per_100"] == pytest.approx(100 * 1.1 * 22 / 730)
    assert parts.loc["primary", "share"] == pytest.approx(400 / 730)
    assert parts["teachers"].sum() == pytest.approx(51)
    for k in INDICATORS:
        assert parts.loc["junior", k] == pytest.approx(1.1 * parts.loc["primary", k])
    other = assessment_parts(
        schools, load_standard(overrides={"nine_year": {"junior_weight": 1.0}})
    )
    assert other.loc[0, "floor_m2_per_pupil"] == pytest.approx(3660 / 700)


def test_levels_scope_and_dropped_parts():
    schools = pd.DataFrame(
        [
            school_row(
                school_id="p",
                level="primary",
                pupils_lower_primary=200,
                pupils_upper_primary=190,
                pupils_junior=7,
                floor_area_m2=1950.0,
            ),
            school_row(school_id="j", level="junior", pupils_junior=500, pupils_upper_primary=3),
            school_row(school_id="tp49", level="teaching_point", pupils_lower_primary=49),
            school_row(
                school_id="tp50",
                level="teaching_point",
                pupils_lower_primary=30,
                pupils_upper_primary=20,
            ),
            school_row(school_id="hs", level="senior", pupils_senior=900, pupils_junior=10),
            school_row(school_id="empty", level="junior"),
            school_row(school_id="n0", level="nine_year", pupils_junior=80, floor_area_m2=800.0),
            school_row(school_id="sp", level="special", pupils_lower_primary=40),
        ]
    )
    parts = assessment_parts(schools)
    got = list(zip(parts["school_id"], parts["part"], parts["in_scope"], strict=True))
    assert got == [
        ("p", "primary", True),
        ("j", "junior", True),
        ("tp49", "primary", False),
        ("tp50", "primary", True),
        ("n0", "junior", True),
        ("sp", "primary", False),
    ]
    assert parts.loc[0, "pupils"] == 390 and parts.loc[0, "floor_m2_per_pupil"] == 5.0
    # a nine-year school without primary pupils: its junior part gets everything
    assert parts.loc[4, "floor_m2_per_pupil"] == pytest.approx(10.0)
    assert "50 pupils" in parts.loc[2, "excluded_because"]
    assert parts.loc[5, "excluded_because"].startswith("special")
    stricter = assessment_parts(
        schools, load_standard(overrides={"exclusions": {"teaching_point_min_pupils": 60}})
    )
    assert not stricter.set_index("school_id").loc["tp50", "in_scope"]


schools_strategy = st.lists(
    st.tuples(
        st.sampled_from(["primary", "junior", "nine_year", "teaching_point", "senior"]),
        st.integers(0, 900),
        st.integers(0, 900),
        st.integers(0, 900),
        st.integers(0, 120),
        st.floats(0, 50_000),
        st.floats(0, 5e6),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(rows=schools_strategy, weight=st.floats(0.5, 2.0))
def test_parts_conserve_every_resource(rows, weight):
    schools = pd.DataFrame(
        [
            school_row(
                school_id=f"s{i}",
                level=lv,
                pupils_lower_primary=lo,
                pupils_upper_primary=up,
                pupils_junior=jr,
                teachers=t,
                teachers_qualified=t // 2,
                multimedia_rooms=t // 5,
                floor_area_m2=f,
                sports_area_m2=2 * f,
                equipment_value=e,
            )
            for i, (lv, lo, up, jr, t, f, e) in enumerate(rows)
        ]
    )
    std = load_standard(overrides={"nine_year": {"junior_weight": weight}})
    parts = assessment_parts(schools, std)
    assert (parts["pupils"] > 0).all()
    for k in INDICATORS:
        resource = parts[k] * parts["pupils"] / INDICATOR_SCALE[k]
        totals = resource.groupby(parts["school_id"]).sum()
        source = schools.set_index("school_id")[INDICATOR_SOURCE[k]]
        for sid, total in totals.items():
            assert total == pytest.approx(source[sid], rel=1e-9, abs=1e-6), (k, sid)
    # every school with pupils in its own bands appears; senior never does
    lv = schools["level"]
    prim = schools["pupils_lower_primary"] + schools["pupils_upper_primary"]
    expected = int(
        ((lv.isin(["primary", "teaching_point", "nine_year"])) & (prim > 0)).sum()
        + ((lv.isin(["junior", "nine_year"])) & (schools["pupils_junior"] > 0)).sum()
    )
    assert len(parts) == expected


# --------------------------------------------------------------------------- staffing
def test_required_staff_hand_computed():
    schools = pd.DataFrame(
        [
            school_row(
                area_type="urban", pupils_lower_primary=600, pupils_upper_primary=540, classes=26
            ),
            school_row(
                area_type="rural", pupils_lower_primary=30, pupils_upper_primary=25, classes=6
            ),
            school_row(
                area_type="rural", level="teaching_point", pupils_lower_primary=12, classes=2
            ),
            school_row(
                area_type="town",
                level="nine_year",
                pupils_lower_primary=100,
                pupils_upper_primary=90,
                pupils_junior=140,
                classes=12,
            ),
            school_row(area_type="urban", level="junior", pupils_junior=27, classes=1),
            school_row(area_type="urban", level="senior", pupils_senior=1000, classes=20),
            school_row(
                area_type="town", pupils_lower_primary=30, pupils_upper_primary=25, classes=6
            ),
            school_row(
                area_type="rural", pupils_lower_primary=60, pupils_upper_primary=60, classes=6
            ),
        ]
    )
    # 1140/19 = 60; small rural: max(ceil(55/19)=3, ceil(6*1.5)=9); teaching point: max(1, 3);
    # nine-year: ceil(190/19) + ceil(140/13.5) = 10 + 11; 27/13.5 = 2 exactly; 1000/12.5 = 80;
    # a small town school is staffed by pupils only; a rural school of 120 is not "small"
    assert required_staff(schools).tolist() == [60, 9, 3, 21, 2, 80, 3, 7]
    detail = staffing_requirements(schools)
    assert detail["rule"].tolist()[:3] == ["pupils", "classes", "classes"]
    bigger = load_standard(
        overrides={"staffing": {"small_school_max_pupils": 150, "class_teacher_ratio": 2.0}}
    )
    assert required_staff(schools, bigger).tolist() == [60, 12, 4, 21, 2, 80, 3, 12]
    pre2014 = load_standard("moe2012")
    # rural primary at 1:23: 55 pupils -> 3 but classes decide (9); 120 pupils -> ceil(120/23) = 6
    assert required_staff(schools, pre2014).tolist() == [60, 9, 3, 21, 2, 80, 3, 6]
    assert required_staff(
        schools.iloc[[7]], load_standard("moe2012", {"staffing": {"small_school_max_pupils": 10}})
    ).tolist() == [6]  # ceil(120 / 23)


def test_required_staff_keeps_the_index_and_names_missing_columns():
    schools = pd.DataFrame([school_row(pupils_lower_primary=38, area_type="urban")], index=[41])
    out = required_staff(schools)
    assert out.index.tolist() == [41] and out.tolist() == [2] and out.name == "required_teachers"
    with pytest.raises(InputError, match="classes"):
        required_staff(schools.drop(columns="classes"))


def test_parts_on_a_synthetic_region_have_finite_values():
    from allocator.synth import make_region

    region = make_region(schools=120, seed=3)
    parts = assessment_parts(region.schools)
    assert np.isfinite(parts[list(INDICATORS)].to_numpy()).all()
    assert set(parts["part"]) <= {"primary", "junior"}
    assert (
        not parts["school_id"]
        .isin(region.schools.loc[region.schools["level"] == "senior", "school_id"])
        .any()
    )
