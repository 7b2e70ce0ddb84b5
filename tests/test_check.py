"""Compliance report: hand-computed small region, independent CVs, synthetic-region patterns, I/O."""

import argparse

import numpy as np
import pandas as pd
import pytest
from conftest import school_row
from scipy import stats

from allocator.check import check
from allocator.cli import add_check_parser
from allocator.outputs import MARKER
from allocator.standards import INDICATORS, load_standard


def _school(school_id, county, area_type, level="primary", **kw):
    return school_row(
        **{
            "school_id": school_id,
            "name": f"{school_id} school",
            "county": county,
            "area_type": area_type,
            "level": level,
            "classes": 6,
            **kw,
        }
    )


def _primary(school_id, county, area_type, pupils, q, b, pe, floor, sports, equip, mm, teachers):
    return _school(
        school_id,
        county,
        area_type,
        pupils_lower_primary=pupils // 2,
        pupils_upper_primary=pupils - pupils // 2,
        teachers=teachers,
        teachers_qualified=q,
        teachers_backbone=b,
        teachers_pe_arts=pe,
        floor_area_m2=floor,
        sports_area_m2=sports,
        equipment_value=equip,
        multimedia_rooms=mm,
    )


@pytest.fixture
def small():
    rows = [
        # county A: an urban school meeting all 7, a town school meeting 6 (qualified 4.0 < 4.2),
        # a rural school meeting 2 of 7, a small teaching point (out of scope), a nine-year school
        _primary("U", "A", "urban", 100, 5, 2, 1, 500.0, 800.0, 250_000.0, 3, 6),
        _primary("T", "A", "town", 200, 8, 2, 2, 1000.0, 1600.0, 400_000.0, 5, 11),
        _primary("R", "A", "rural", 100, 4, 0, 1, 400.0, 900.0, 150_000.0, 2, 9),
        _school(
            "P", "A", "rural", "teaching_point", pupils_lower_primary=30, classes=3, teachers=2
        ),
        _school(
            "N",
            "A",
            "town",
            "nine_year",
            pupils_lower_primary=50,
            pupils_upper_primary=50,
            pupils_junior=100,
            classes=8,
            teachers=21,
            teachers_qualified=21,
            teachers_backbone=4,
            teachers_pe_arts=4,
            floor_area_m2=1050.0,
            sports_area_m2=2100.0,
            equipment_value=630_000.0,
            multimedia_rooms=6,
        ),
        # county B: three identical urban schools (CV 0) of different sizes
        _primary("B1", "B", "urban", 100, 5, 2, 1, 500.0, 800.0, 250_000.0, 3, 6),
        _primary("B2", "B", "urban", 300, 15, 6, 3, 1500.0, 2400.0, 750_000.0, 9, 17),
        _primary("B3", "B", "urban", 500, 25, 10, 5, 2500.0, 4000.0, 1_250_000.0, 15, 25),
    ]
    return pd.DataFrame(rows)


def test_school_parts_hand_computed(small):
    report = check(small)
    s = report.tables["schools"].set_index(["school_id", "part"])
    assert s.loc[("U", "primary"), "indicators_met"] == 7 and s.loc[("U", "primary"), "passes"]
    t = s.loc[("T", "primary")]
    assert t["qualified_per_100"] == pytest.approx(4.0) and not t["qualified_per_100_met"]
    assert t["qualified_per_100_gap"] == pytest.approx(0.2)
    assert (
        t["equipment_yuan_per_pupil"] == 2000.0 and t["equipment_yuan_per_pupil_met"]
    )  # "at least"
    assert t["indicators_met"] == 6 and t["passes"] and t["missed"] == "qualified_per_100"
    r = s.loc[("R", "primary")]
    assert r["indicators_met"] == 2 and not r["passes"]
    assert r["missed"] == (
        "qualified_per_100, backbone_per_100, floor_m2_per_pupil, equipment_yuan_per_pupil, "
        "multimedia_per_100"
    )
    assert r["backbone_per_100_gap"] == pytest.approx(1.0)
    assert r["equipment_yuan_per_pupil_gap"] == pytest.approx(500.0)
    p = s.loc[("P", "primary")]
    assert not p["in_scope"] and "50 pupils" in p["excluded_because"]
    # nine-year: weighted pupils 100 + 1.1 * 100 = 210
    n_p, n_j = s.loc[("N", "primary")], s.loc[("N", "junior")]
    assert n_p["floor_m2_per_pupil"] == pytest.approx(5.0)
    assert n_j["floor_m2_per_pupil"] == pytest.approx(5.5) and not n_j["floor_m2_per_pupil_met"]
    assert n_j["equipment_yuan_per_pupil"] == pytest.approx(3300.0)
    assert n_p["teachers"] + n_j["teachers"] == pytest.approx(21)
    # staffing: primary part ceil(100/19) = 6, junior ceil(100/13.5) = 8
    assert (n_p["required_teachers"], n_j["required_teachers"]) == (6, 8)
    norms = report.tables["norms"].set_index("school_id")
    assert norms.loc["N", "required_teachers"] == 14
    assert norms.loc["P", "required_teachers"] == 5  # teaching point: ceil(3 classes * 1.5)
    assert norms.loc["P", "staff_rule"] == "classes" and norms.loc["P", "staff_gap"] == 3
    assert norms.loc["U", "required_teachers"] == 6 and norms.loc["U", "staffed"]


def test_counties_hand_computed(small):
    report = check(small)
    c = report.tables["counties"].set_index(["county", "part"])
    a = c.loc[("A", "primary")]
    # in scope: U (100 pupils), T (200), R (100), N primary part (100)
    assert a["schools"] == 4 and a["pupils"] == 500 and a["schools_passing"] == 3
    w = np.array([100, 200, 100, 100.0])
    backbone = np.array([2.0, 1.0, 0.0, 100 * 4 * (100 / 210) / 100])
    mean = np.sum(w * backbone) / w.sum()
    cv = np.sqrt(np.sum(w * (backbone - mean) ** 2) / w.sum()) / mean
    assert a["cv_backbone_per_100"] == pytest.approx(cv)
    assert cv > 0.5 and not a["passes"]
    assert a["reason"].startswith("1 of 4 schools miss 6 of 7 indicators")
    assert "backbone_per_100" in a["reason"]
    b = c.loc[("B", "primary")]
    assert b["passes"] and b["cv_floor_m2_per_pupil"] == pytest.approx(0.0, abs=1e-12)
    assert b["reason"] == "" and b["share_passing"] == 1.0
    # a county passes only for the parts it has
    assert ("B", "junior") not in c.index and not report.passes
    long = report.tables["county_indicators"].set_index(["county", "part", "indicator"])
    row = long.loc[("A", "primary", "equipment_yuan_per_pupil")]
    assert row["schools_below"] == 1 and row["pupils_below"] == 100
    assert row["shortfall"] == pytest.approx(100 * 0.25 / 500)


def test_area_types_and_allocation_hand_computed(small):
    report = check(small)
    areas = report.tables["area_types"].set_index(["part", "area_type"])
    # urban primary: U and B1..B3 all at 5.0 m2; rural primary: R only (P is out of scope)
    assert areas.loc[("primary", "urban"), "floor_m2_per_pupil"] == pytest.approx(5.0)
    assert areas.loc[("primary", "rural"), "floor_m2_per_pupil"] == pytest.approx(4.0)
    assert areas.loc[("primary", "rural"), "schools"] == 1
    assert areas.loc[("primary", "town"), "pupils"] == 300
    gaps = report.tables["area_gaps"].set_index(["part", "indicator"])
    g = gaps.loc[("primary", "floor_m2_per_pupil")]
    assert g["rural_urban_ratio"] == pytest.approx(0.8)
    # Theil between-share by its formula: s_g ln(mu_g / mu) summed over area types
    x = np.array([5.0, 5.0, 4.0, 5.0, 5.0, 5.0, 5.0])  # U, T, R, N-primary, B1, B2, B3
    p = np.array([100, 200, 100, 100, 100, 300, 500.0])
    area = np.array(["urban", "town", "rural", "town", "urban", "urban", "urban"])
    mu = np.sum(p * x) / p.sum()
    total = np.sum(p / p.sum() * (x / mu) * np.log(x / mu))
    between = 0.0
    for a in ("urban", "town", "rural"):
        sel = area == a
        s_g = np.sum(p[sel] * x[sel]) / np.sum(p * x)
        between += s_g * np.log(np.sum(p[sel] * x[sel]) / p[sel].sum() / mu)
    assert g["theil_between_share"] == pytest.approx(between / total)
    # the backbone indicator has a school at 0: counted with the 0 ln 0 limit, and said so
    assert "1 school(s) at 0" in gaps.loc[("primary", "backbone_per_100"), "note"]
    r2 = report.tables["allocation_r2"].set_index(["county", "part"])
    ref = stats.linregress([100, 300, 500], [6, 17, 25]).rvalue ** 2
    assert r2.loc[("B", "primary"), "r2"] == pytest.approx(ref)
    # county A primary includes the small teaching point (allocation is about every school)
    assert r2.loc[("A", "primary"), "schools"] == 5
    assert r2.loc[("A", "junior"), "note"].startswith("allocation_r2 needs at least 3")


def test_floor_share_and_moe2012(small):
    strict = load_standard(overrides={"thresholds": {"primary": {"qualified_per_100": 5.0}}})
    s = check(small, strict).tables["schools"].set_index(["school_id", "part"])
    assert s.loc[("T", "primary"), "passes"]  # 6 of 7: qualified 4.0 < 5.0 is the one missed
    floor = load_standard(strict, {"floor_share": 0.85})
    s = check(small, floor).tables["schools"].set_index(["school_id", "part"])
    assert not s.loc[("T", "primary"), "passes"]  # 4.0 < 0.85 * 5.0
    assert not s.loc[("T", "primary"), "floor_ok"] and s.loc[("U", "primary"), "floor_ok"]
    old = check(small, "moe2012")
    c = old.tables["counties"].set_index(["county", "part"])
    a = c.loc[("A", "primary")]
    cvs = [a[f"cv_{k}"] for k in load_standard("moe2012").indicators]
    assert a["composite_cv"] == pytest.approx(np.mean(cvs)) and a["cv_limit"] == 0.65
    assert a["passes"] == (np.mean(cvs) <= 0.65)
    assert old.tables["schools"]["passes"].isna().all()
    assert "composite" in old.summary().lower()


# --------------------------------------------------------------------------- synthetic region
@pytest.fixture(scope="module")
def synthetic():
    from allocator.synth import make_region

    region = make_region(schools=600, seed=4)
    return region, check(region)


def test_failures_concentrate_in_rural_schools(synthetic):
    _, report = synthetic
    s = report.tables["schools"]
    s = s[s["in_scope"]]
    fail = ~s["passes"].astype(bool)
    rate = fail.groupby(s["area_type"]).mean()
    assert rate["rural"] > rate["town"] > rate["urban"]
    assert rate["rural"] > 0.5 and rate["urban"] < 0.5
    assert (s.loc[fail, "area_type"] == "rural").mean() > (s["area_type"] == "rural").mean()
    gaps = report.tables["area_gaps"]
    prim = gaps[gaps["part"] == "primary"].set_index("indicator")
    for k in ("qualified_per_100", "backbone_per_100", "equipment_yuan_per_pupil"):
        assert prim.loc[k, "rural_urban_ratio"] < 1


def test_county_cv_matches_an_independent_groupby(synthetic):
    region, report = synthetic
    s = report.tables["schools"]
    s = s[s["in_scope"]].copy()
    counties = report.tables["counties"].set_index(["county", "part"])
    for k in INDICATORS:
        s["_px"] = s["pupils"] * s[k]
        g = s.groupby(["county", "part"])
        mean = g["_px"].sum() / g["pupils"].sum()
        s["_dev"] = (
            s["pupils"]
            * (s[k] - mean.reindex(pd.MultiIndex.from_frame(s[["county", "part"]])).to_numpy()) ** 2
        )
        sd = np.sqrt(s.groupby(["county", "part"])["_dev"].sum() / g["pupils"].sum())
        expected = (sd / mean).sort_index()
        got = counties[f"cv_{k}"].sort_index()
        np.testing.assert_allclose(
            got.to_numpy(), expected.reindex(got.index).to_numpy(), rtol=1e-9
        )
    # county pass <=> every CV within its limit and every school passing
    for (_county, part), row in counties.iterrows():
        limit = 0.5 if part == "primary" else 0.45
        ok = (
            all(row[f"cv_{k}"] <= limit for k in INDICATORS)
            and row["schools_passing"] == row["schools"]
        )
        assert row["passes"] == ok


def test_summary_is_short_and_lists_the_worst_gap_first(synthetic):
    _, report = synthetic
    text = report.summary()
    lines = text.splitlines()
    assert len(lines) <= 25 and max(len(line) for line in lines) < 160
    s = report.tables["schools"]
    s = s[s["in_scope"]]
    std = report.standard
    worst = None
    for part in ("primary", "junior"):
        d = s[s["part"] == part]
        for k in INDICATORS:
            t = std.thresholds[part][k]
            short = np.average(np.maximum(1 - d[k] / t, 0), weights=d["pupils"])
            if worst is None or short > worst[0]:
                worst = (short, part, k)
    first = next(line for line in lines if line.startswith(" 1. "))
    assert f"{worst[2]} ({worst[1]}" in first
    assert "rural" in text and "R²" in text


def test_to_csv_writes_every_table_and_replaces_the_folder(synthetic, tmp_path):
    _, report = synthetic
    target = tmp_path / "report"
    report.to_csv(target)
    (target / "summary.txt").write_text("old", encoding="utf-8")  # changed since: needs force
    written = report.to_csv(target, force=True)
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([f"{n}.csv" for n in report.tables] + ["summary.txt", MARKER])
    assert sorted(p.name for p in written) == [n for n in names if n != MARKER]
    back = pd.read_csv(target / "counties.csv")
    pd.testing.assert_series_equal(
        back["cv_floor_m2_per_pupil"], report.tables["counties"]["cv_floor_m2_per_pupil"]
    )
    assert (target / "summary.txt").read_text(encoding="utf-8").strip() == report.summary()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # in Chinese when asked
    report.to_csv(target, language="zh")
    text = (target / "summary.txt").read_text(encoding="utf-8").strip()
    assert text == report.summary(language="zh") and text != report.summary()


def test_cli_check_command(tmp_path, capsys):
    from allocator.io import save_region
    from allocator.synth import make_region

    region = make_region(schools=150, seed=2)
    save_region(region, tmp_path / "region")
    parser = argparse.ArgumentParser(prog="allocator")
    add_check_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check", str(tmp_path / "region"), "--out", str(tmp_path / "out")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("Compliance of 'region' with moe2017")
    assert (tmp_path / "out" / "schools.csv").exists()
    assert (
        pd.read_csv(tmp_path / "out" / "schools.csv")["school_id"]
        .isin(region.schools["school_id"])
        .all()
    )


def test_degenerate_regions(small):
    points = pd.DataFrame([r for r in small.to_dict("records") if r["school_id"] == "P"])
    report = check(points)
    assert report.tables["counties"].empty and not report.passes
    assert "no school part is in scope" in report.summary()
    # every school without multimedia rooms: the CV is undefined and the county fails on it
    bare = small[small["county"] == "B"].assign(multimedia_rooms=0)
    c = check(bare).tables["counties"].iloc[0]
    assert np.isnan(c["cv_multimedia_per_100"]) and c["cv_failing"] == 1 and not c["passes"]
    assert "CV of multimedia_per_100 undefined" in c["reason"]
