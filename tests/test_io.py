"""Region files: exact round trips, BOM, Excel, and errors that name the file and line."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator import load_region, save_region
from allocator.errors import InputError
from allocator.synth import make_region


@pytest.fixture(scope="module")
def region():
    return make_region(schools=50, seed=4)


def test_folder_round_trip_is_exact(region, tmp_path):
    schools = region.schools.assign(motto="立德树人", score=region.schools["x"] * 1.1)
    region = region.replace(schools=schools)
    save_region(region, tmp_path / "r")
    again = load_region(tmp_path / "r")
    assert again == region
    assert again.schools["motto"].iloc[0] == "立德树人"


def test_excel_round_trip_is_exact(region, tmp_path):
    save_region(region, tmp_path / "r.xlsx")
    assert load_region(tmp_path / "r.xlsx") == region


@given(seed=st.integers(0, 100_000), schools=st.integers(5, 40))
def test_save_load_exact_property(seed, schools, tmp_path_factory):
    region = make_region(schools=schools, seed=seed)
    folder = tmp_path_factory.mktemp("rt") / "region"
    save_region(region, folder)
    assert load_region(folder) == region


def test_utf8_bom_is_read(region, tmp_path):
    save_region(region, tmp_path / "r")
    path = tmp_path / "r" / "schools.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert load_region(tmp_path / "r") == region


def test_error_names_file_and_line(region, tmp_path):
    save_region(region, tmp_path / "r")
    path = tmp_path / "r" / "schools.csv"
    df = pd.read_csv(path, dtype={"school_id": str, "node": str})
    df.loc[9, "teachers"] = -4
    df.to_csv(path, index=False)
    with pytest.raises(InputError) as info:
        load_region(tmp_path / "r")
    err = info.value
    assert err.file == str(path) and err.line == 11  # header is line 1, row 9 is line 11
    assert err.column == "teachers" and err.row_id == df.loc[9, "school_id"]
    assert f"{path}, line 11" in str(err) and "-4" in str(err)


def test_bad_road_line(region, tmp_path):
    save_region(region, tmp_path / "r")
    path = tmp_path / "r" / "roads.csv"
    lines = path.read_text().splitlines()
    u, v, _ = lines[5].split(",")
    lines[5] = f"{u},{v},0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        load_region(tmp_path / "r")
    assert info.value.file == str(path) and info.value.line == 6 and info.value.column == "minutes"


def test_unknown_edge_end_and_missing_file(region, tmp_path):
    save_region(region, tmp_path / "r")
    path = tmp_path / "r" / "roads.csv"
    path.write_text(path.read_text() + "ghost,v0,3.0\n")
    with pytest.raises(InputError, match="'ghost' is not in nodes.csv") as info:
        load_region(tmp_path / "r")
    assert info.value.line == len(path.read_text().splitlines())
    (tmp_path / "r" / "nodes.csv").unlink()
    with pytest.raises(InputError, match="file not found") as info:
        load_region(tmp_path / "r")
    assert info.value.file.endswith("nodes.csv")


def test_failed_write_leaves_existing_folder(region, tmp_path, monkeypatch):
    save_region(region, tmp_path / "r")
    before = sorted(p.name for p in (tmp_path / "r").iterdir())

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(InputError, match="r: cannot write the output: disk full"):
        save_region(region, tmp_path / "r")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
