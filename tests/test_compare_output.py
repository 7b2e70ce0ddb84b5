"""compare's short table: the measures that differ most between the variants, or one sentence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.cli import main
from allocator.compare import differing_measures


def _table(rows):
    return pd.DataFrame(
        [
            {"measure": f"m{i}", "label": f"M{i}", "better": "low", "before": 0.0, "a": a, "b": b}
            for i, (a, b) in enumerate(rows)
        ]
    )


def test_the_measures_that_differ_most_come_first_and_equal_ones_are_left_out():
    # spreads by hand: (max - min) / max |value|
    t = _table([(1.0, 1.0), (10.0, 5.0), (2.0, 1.9), (-4.0, 4.0), (None, 3.0), (0.0, 0.0)])
    out = differing_measures(t)
    assert out["measure"].tolist() == ["m3", "m1", "m2"]  # 2.0, 0.5, 0.05
    assert differing_measures(t, n=1)["measure"].tolist() == ["m3"]
    assert differing_measures(_table([(1.0, 1.0), (None, None)])).empty


@given(st.lists(st.tuples(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9)), min_size=1, max_size=30))
def test_the_short_table_is_at_most_ten_rows_of_differing_measures_by_falling_spread(rows):
    t = _table(rows)
    out = differing_measures(t)
    assert len(out) <= 10
    spreads = []
    for a, b in zip(out["a"], out["b"], strict=True):
        assert a != b
        spreads.append(abs(a - b) / max(abs(a), abs(b)))
    assert spreads == sorted(spreads, reverse=True)
    left = t[~t["measure"].isin(out["measure"])]
    if len(out) < 10:
        assert all(
            np.isclose(a, b, rtol=1e-12, atol=0) for a, b in zip(left["a"], left["b"], strict=True)
        )


SCENARIO = """\
[region]
schools = 30
seed = 3
[[steps]]
planner = "budget"
budget = 1e6
[[variants]]
name = "one"
steps.budget.budget = 1e6
[[variants]]
name = "{other}"
steps.budget.budget = {budget}
"""


@pytest.mark.slow
def test_cli_compare_prints_the_short_table_or_one_sentence(tmp_path, capsys):
    same = tmp_path / "same.toml"
    same.write_text(SCENARIO.format(other="two", budget="1e6"), encoding="utf-8")
    assert (
        main(["compare", str(same), "--quiet", "--workers", "1", "--out", str(tmp_path / "a")]) == 0
    )
    out = capsys.readouterr().out
    assert out.startswith(
        "The variants agree on every measure; the full table is in comparison.csv."
    )
    other = tmp_path / "other.toml"
    other.write_text(SCENARIO.format(other="more", budget="8e6"), encoding="utf-8")
    assert (
        main(["compare", str(other), "--quiet", "--workers", "1", "--out", str(tmp_path / "b")])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("The measures that differ most between the variants, at most ten")
    n = len(lines) - 3
    assert 1 <= n <= 10
    assert lines[1].split()[-2:] == ["one", "more"]  # the header: label, before, the variants
    assert lines[-1].startswith("report: ")
    assert not any("seconds" in line for line in lines)
    full = pd.read_csv(tmp_path / "b" / "comparison.csv", encoding="utf-8-sig")
    assert len(full) > n
