"""Web tiles under the run map, only when asked (``[output] map_tiles``, ``--map-tiles``)."""

from __future__ import annotations

import copy
import dataclasses
import pathlib
import re
import warnings

import numpy as np
import pytest

import allocator
from allocator import cli
from allocator.errors import InputError
from allocator.i18n import Words
from allocator.report import render_run
from allocator.report.tiles import OSM_STYLE, tile_map_figure
from allocator.scenario import load_scenario

pyproj = pytest.importorskip("pyproj")

ROOT = pathlib.Path(__file__).parents[1]
SCENARIO = ROOT / "scenarios" / "rural_county_consolidation.toml"
CRS = "EPSG:32648"  # UTM 48N, metres: Chongqing's zone
TILE_URL = "tile.openstreetmap.org"


@pytest.fixture(scope="module")
def plain():
    """A run on a synthetic region (km, no coordinate system), tiles not asked for."""
    return allocator.run_scenario(SCENARIO, write=False, overrides={"region": {"schools": 40}})


def _with(result, tiles: str, crs: str | None):
    out = copy.deepcopy(result)
    output = dataclasses.replace(out.scenario.output, map_tiles=tiles)
    out.scenario = dataclasses.replace(out.scenario, output=output)
    for region in out.regions:
        if crs is not None:
            region.roads.graph["crs"] = crs
    return out


def _page(result, language: str) -> str:
    """The page without plotly.js itself (which names OSM's tile server among its styles)."""
    text = render_run(result, language)
    big = re.compile(r"<script>.*?</script>", flags=re.S)
    return big.sub(lambda m: "" if len(m.group(0)) > 1_000_000 else m.group(0), text)


def test_without_tiles_the_page_asks_nothing_of_the_web(plain):
    assert plain.scenario.output.map_tiles == "none"
    page = _page(plain, "zh")
    assert TILE_URL not in page and "scattermap" not in page and "需要联网" not in page


def test_tiles_put_every_school_where_its_coordinate_system_says(plain):
    result = _with(plain, "openstreetmap", CRS)
    fig = tile_map_figure(result, Words("zh"))
    assert fig.layout.map.style == OSM_STYLE
    assert {t.type for t in fig.data} == {"scattermap"}
    # each school's point, back in the region's metres, is a school's x, y (km)
    to_metres = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    last = result.regions[-1].schools
    places = last[["x", "y"]].to_numpy(float)
    points = [
        (lon, lat)
        for t in fig.data
        if t.meta == "schools"
        for lon, lat in zip(t.lon, t.lat, strict=True)
    ]
    assert len(points) == len(last)
    for lon, lat in points:
        x, y = to_metres.transform(lon, lat)
        assert np.hypot(places[:, 0] - x / 1000, places[:, 1] - y / 1000).min() < 1e-6
    page = _page(result, "zh")
    assert TILE_URL in page and "此地图从网络加载 OpenStreetMap 底图，需要联网" in page


def test_tiles_on_a_region_in_km_draw_the_offline_map_with_one_warning(plain):
    result = _with(plain, "openstreetmap", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = _page(result, "en")
    said = [str(w.message) for w in caught if "map_tiles" in str(w.message)]
    assert len(said) == 1 and "records no coordinate system" in said[0]
    assert TILE_URL not in page


def test_a_bad_map_tiles_value_is_one_line_naming_file_key_value_and_choices(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "t"\n[region]\nschools = 20\n[[steps]]\nplanner = "mergers"\n[output]\nmap_tiles = "google"\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert text.startswith(f"{path}, line 7") and "\n" not in text
    assert (
        "output.map_tiles: unknown map tiles 'google'; expected one of 'none', 'openstreetmap'"
        in text
    )
    assert load_scenario(SCENARIO, {"output": {"map_tiles": "openstreetmap"}}).output.map_tiles == (
        "openstreetmap"
    )


def test_the_run_command_passes_map_tiles_on(monkeypatch):
    seen = []

    def fake_run(path, **kw):
        seen.append(kw["overrides"])
        raise InputError("stop here")

    monkeypatch.setattr(cli, "run_scenario", fake_run)
    assert cli.main(["run", "s.toml", "--map-tiles", "openstreetmap"]) != 0
    assert seen == [{"output": {"map_tiles": "openstreetmap"}}]
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "s.toml", "--map-tiles", "google"])
