"""``[region] kindergartens = true`` in a scenario file: a synthetic region with its kindergartens
table (as ``make_region(kindergartens=True)``), a checked key, and the run's report with its
preschool section."""

from __future__ import annotations

import pytest

from allocator.errors import InputError
from allocator.scenario import load_scenario
from allocator.synth import make_region

SCENARIO = """
name = "kindergartens"

[region]
schools = 20
counties = 1
seed = 3
kindergartens = {flag}

[[steps]]
planner = "kindergartens"
"""


def _write(tmp_path, flag: str):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(flag=flag), encoding="utf-8")
    return path


def test_region_key_passes_through(tmp_path):
    scenario = load_scenario(_write(tmp_path, "true"))
    region = scenario.region.load()
    expected = make_region(schools=20, counties=1, seed=3, kindergartens=True)
    assert region.kindergartens.equals(expected.kindergartens)
    assert load_scenario(_write(tmp_path, "false")).region.load().kindergartens is None


def test_region_key_is_checked(tmp_path):
    with pytest.raises(InputError, match=r"line 8.*kindergartens.*expected"):
        load_scenario(_write(tmp_path, '"yes"'))
