"""The preschool lines of ``allocator check``'s summary: each indicator per county and for the
whole region, its target, scope and verdict, in English and Chinese; the values recomputed here
from the region's tables (walks with networkx) rather than read from the report."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from allocator.check import check
from allocator.check.preschool_report import children_aged_3_5
from allocator.cli import main
from allocator.io import save_region
from allocator.standards.preschool import load_preschool_standard
from allocator.synth import make_region

NAMES_EN = {
    "gross_enrolment_rate": "gross enrolment rate of preschool",
    "inclusive_share": "share of children in inclusive kindergartens",
    "public_share": "share of children in public kindergartens",
    "within_walk_share": "children within the walking limit of a kindergarten with places",
    "class_size_share": "children in kindergartens within the class sizes",
}


@pytest.fixture(scope="module")
def region():
    return make_region(schools=40, counties=2, seed=3, kindergartens=True)


def _recomputed(region) -> dict[str, dict[str, float]]:
    """{indicator: {county or "all": value}} from the settlements, kindergartens and roads."""
    norms = load_preschool_standard()
    s, k = region.settlements, region.kindergartens
    k = k[k["status"] == "open"]
    g = region.roads
    children, _ = children_aged_3_5(region, norms)
    county_at = dict(zip(region.schools["node"], region.schools["county"], strict=True))
    county_at.update(zip(s["node"], s["county"], strict=True))

    def county_of(node):
        if node in county_at:
            return county_at[node]
        x, y = g.nodes[node]["x"], g.nodes[node]["y"]
        d = [math.hypot(g.nodes[n]["x"] - x, g.nodes[n]["y"] - y) for n in s["node"]]
        return s["county"].iloc[int(np.argmin(d))]

    for a, b, data in g.edges(data=True):
        data["km"] = math.hypot(
            g.nodes[a]["x"] - g.nodes[b]["x"], g.nodes[a]["y"] - g.nodes[b]["y"]
        )
    km = nx.multi_source_dijkstra_path_length(g, set(k.loc[k["places"] > 0, "node"]), weight="km")
    sums: dict[str, dict[str, float]] = {}
    for i, row in enumerate(s.itertuples(index=False)):
        minutes = km.get(row.node, math.inf) * 60 / norms.value("walking.km_per_hour")
        reach = minutes <= norms.walking_minutes(row.area_type) + 1e-9
        for c in (row.county, "all"):
            t = sums.setdefault(c, dict.fromkeys(["kids", "walk", "e", "inc", "pub", "ok"], 0.0))
            t["kids"] += children[i]
            t["walk"] += children[i] * reach
    for row in k.itertuples(index=False):
        for c in (county_of(row.node), "all"):
            t = sums[c]
            t["e"] += row.places
            t["inc"] += row.places * (row.ownership != "other")
            t["pub"] += row.places * (row.ownership == "public")
            t["ok"] += row.places * (row.places <= 30 * row.classes)
    return {
        "gross_enrolment_rate": {c: t["e"] / t["kids"] for c, t in sums.items()},
        "inclusive_share": {c: t["inc"] / t["e"] for c, t in sums.items()},
        "public_share": {c: t["pub"] / t["e"] for c, t in sums.items()},
        "within_walk_share": {c: t["walk"] / t["kids"] for c, t in sums.items()},
        "class_size_share": {c: t["ok"] / t["e"] for c, t in sums.items()},
    }


def test_summary_prints_each_indicator_per_county(region):
    text = check(region).summary()
    lines = text.splitlines()
    head = lines.index(next(x for x in lines if x.startswith("Preschool: ")))
    open_k = int((region.kindergartens["status"] == "open").sum())
    assert lines[head].startswith(f"Preschool: {open_k} open kindergartens, ")
    targets = {"gross_enrolment_rate": 90, "inclusive_share": 85, "public_share": 50}
    scopes = {"within_walk_share": "local"}
    expected = _recomputed(region)
    counties = list(dict.fromkeys(region.settlements["county"]))
    assert len(counties) == 2
    for name, label in NAMES_EN.items():
        line = next(x for x in lines[head:] if x.startswith(f" - {label}"))
        target = targets.get(name, 100)
        assert f"(target at least {target}%, {scopes.get(name, 'national')}):" in line
        values = line.split("): ", 1)[1].split("; ")
        assert [v.rsplit(" ", 2)[0] for v in values] == ["whole region", *counties]
        for shown, county in zip(values, ["all", *counties], strict=True):
            v = expected[name][county]
            verdict = "passes" if v >= target / 100 - 1e-9 else "fails"
            assert shown.endswith(f" {100 * v:.0f}% {verdict}"), (name, county, shown, v)


def test_summary_in_chinese_and_without_kindergartens(region):
    zh = check(region).summary(language="zh")
    assert "学前教育毛入园率（目标不低于 90%，国家标准）：全区域 " in zh
    assert "步行范围内有学位幼儿园的幼儿占比（目标不低于 100%，地方标准）" in zh
    plain = make_region(schools=40, counties=2, seed=3)
    assert "Preschool" not in check(plain).summary()


def test_check_command_prints_preschool_lines(region, tmp_path, capsys):
    save_region(region, tmp_path / "r")
    assert main(["check", str(tmp_path / "r"), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "学前教育：在办幼儿园 " in out and "普惠性幼儿园覆盖率" in out
    assert main(["check", str(tmp_path / "r")]) == 0
    assert " - share of children in public kindergartens (target at least 50%" in (
        capsys.readouterr().out
    )
