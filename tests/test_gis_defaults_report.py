"""``check`` says which figures rest on defaults filled by a GIS import, also after the region
folder is saved and loaded back."""

import pandas as pd
from test_gis_export_cli import _county

from allocator.check import check
from allocator.cli import main
from allocator.io import load_region, save_region
from allocator.synth import make_region


def test_defaults_table_and_line_count_the_filled_columns(tmp_path):
    region = make_region(schools=20, seed=1)
    schools = region.schools.copy()
    ids = schools["school_id"].tolist()
    schools["filled_columns"] = ""
    schools.loc[0, "filled_columns"] = "teachers floor_area_m2"
    schools.loc[1, "filled_columns"] = "floor_area_m2"
    schools.loc[5, "filled_columns"] = "floor_area_m2 equipment_value"
    region = region.replace(schools=schools)
    expected = pd.DataFrame(
        {
            "table": ["schools"] * 3,
            "column": ["floor_area_m2", "teachers", "equipment_value"],
            "schools": [3, 1, 1],
            "school_ids": [f"{ids[0]} {ids[1]} {ids[5]}", ids[0], ids[5]],
        }
    )
    report = check(region)
    pd.testing.assert_frame_equal(report.tables["defaults"], expected)
    line = (
        "Figures resting on defaults (not given; filled at import): schools.floor_area_m2 "
        "(3 schools), schools.teachers (1 school), schools.equipment_value (1 school)."
    )
    assert line in report.summary().splitlines()
    # saved and loaded back: empty cells read as missing, the counts stay
    save_region(region, tmp_path / "r")
    again = check(load_region(tmp_path / "r"))
    pd.testing.assert_frame_equal(again.tables["defaults"], expected)
    # the schools line stays the third line of the summary
    assert again.summary().splitlines()[2].startswith("Schools:")


def test_a_region_without_defaults_has_an_empty_table_and_no_line():
    report = check(make_region(schools=20, seed=1))
    assert report.tables["defaults"].empty
    assert "resting on defaults" not in report.summary()


def test_import_gis_folder_keeps_the_defaults_for_check(tmp_path, capsys):
    out = tmp_path / "region"
    assert main(["import-gis", str(_county(tmp_path)), "--out", str(out)]) == 0
    filled = pd.read_csv(out / "filled.csv")
    by_column = filled[filled["table"] == "schools"].groupby("column")["row_id"].nunique()
    report = check(load_region(out))
    table = report.tables["defaults"].set_index("column")["schools"]
    # every school column the import filled, with the number of schools filled
    assert table.sort_index().to_dict() == by_column.sort_index().to_dict()
    # the mapping gave names and pupils only: teachers and every resource rest on defaults
    for column in ("teachers", "floor_area_m2", "equipment_value", "level", "classes"):
        assert table[column] == 2
    # names were given; the band columns were split from the pupils total
    assert "name" not in table.index and table["pupils_junior"] == 2
    summary = report.summary()
    assert "schools.teachers (2 schools)" in summary
    capsys.readouterr()
    assert main(["check", str(out)]) == 0
    assert "schools.floor_area_m2 (2 schools)" in capsys.readouterr().out
