"""Preschool indicators in a compliance report: kindergarten places against the preschool standard.

Only for a region with a ``kindergartens`` table (:class:`~allocator.region.Region`); the targets
are those of a :class:`~allocator.standards.preschool.PreschoolStandard` (``preschool2021`` by
default), each marked national or local as the standard file says.

Model
-----
Settlements i with children aged 3-5 C_i (:func:`children_aged_3_5`), open kindergartens j with
children E_j (their ``children`` column when the table has one, else their ``places``: then the
figures say how many children today's places could take), ownership, classes n_j, county.
For each county c and for the whole region (the row ``county = "all"``):

* ``gross_enrolment_rate`` (学前教育毛入园率) = sum of E_j in c / sum of C_i in c; may exceed 1;
* ``inclusive_share`` (普惠性幼儿园覆盖率) = E_j of public and inclusive private kindergartens
  / E_j of all; ``public_share`` (公办园在园幼儿占比) = E_j of public ones / E_j of all;
* ``within_walk_share``: C_i of the settlements whose road walk (edge length the straight line,
  at the standard's ``walking.km_per_hour``) to an open kindergarten with places is within the
  limit of their area type (urban, town, rural) / sum of C_i; target 1 (every community);
* ``class_size_share``: E_j of the kindergartens whose children per class E_j / n_j is at most
  the mean class size of the standard (25/30/35 for the small, middle and large classes: 30)
  / E_j of all; target 1. Without classes by age this is what the table can tell.

A county's figures are sums over its settlements and kindergartens, so the region's numerators
and denominators are the sums of the counties'. A kindergarten's county is its ``county``
column when present, else that of the settlement or school at its node, else that of the
nearest settlement. An indicator with no denominator is NaN and its verdict NA.

Examples
--------
>>> from allocator.synth import make_region
>>> tables = preschool_tables(make_region(schools=40, seed=3, kindergartens=True))
>>> sorted(tables)
['preschool_counties', 'preschool_indicators', 'preschool_kindergartens']
>>> ind = tables["preschool_indicators"]
>>> ind[ind["county"] == "all"]["indicator"].tolist()[:3]
['gross_enrolment_rate', 'inclusive_share', 'public_share']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from allocator.errors import InputError
from allocator.forecast import ENTRY_AGE, load_birth_scenario
from allocator.i18n import Words
from allocator.standards.preschool import PreschoolStandard, load_preschool_standard
from allocator.travel import straight_km_graph

__all__ = [
    "ALL",
    "INDICATORS",
    "children_aged_3_5",
    "preschool_tables",
    "summary_lines",
    "walk_minutes",
]

#: The ``county`` of the whole region's row.
ALL = "all"

#: Indicator -> (numerator column, denominator column, setting of its target or None for 1).
INDICATORS = {
    "gross_enrolment_rate": ("enrolled", "children_3_5", "targets.gross_enrolment_rate"),
    "inclusive_share": ("inclusive_enrolled", "enrolled", "targets.inclusive_share"),
    "public_share": ("public_enrolled", "enrolled", "targets.public_share"),
    "within_walk_share": ("children_within_walk", "children_3_5", "walking.urban_minutes"),
    "class_size_share": ("enrolled_in_sized_classes", "enrolled", "class_size.middle"),
}

_AGES = (3, 4, 5)


def children_aged_3_5(
    region,
    standard: PreschoolStandard,
    base_year=2025,
    birth_scenario="medium",
    year: int | None = None,
):
    """Children aged 3-5 per settlement and where the figure comes from.

    The settlements' ``children_3_5`` column; else ``population`` x the standard's
    ``children.age_share_3_5``; else the birth forecast: lower primary pupils / 3 are the
    children of age 6 in ``base_year`` (born in ``base_year - 6``), and the birth scenario gives
    the births of the years whose children are aged 3, 4 and 5 in ``year`` (default
    ``base_year``; migration ignored). The kindergarten planner reads children the same way.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> kids, source = children_aged_3_5(make_region(schools=40, seed=3), load_preschool_standard())
    >>> source, bool((kids >= 0).all())
    ('forecast', True)
    """
    s = region.settlements
    if "children_3_5" in s.columns:
        values = pd.to_numeric(s["children_3_5"], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                "expected a number of children >= 0",
                table="settlements",
                row=i,
                row_id=str(s["settlement_id"].iloc[i]),
                column="children_3_5",
                value=str(s["children_3_5"].iloc[i]),
            )
        return values, "settlements"
    if "population" in s.columns:
        pop = pd.to_numeric(s["population"], errors="coerce").to_numpy(float)
        if np.isfinite(pop).all() and (pop >= 0).all():
            return np.rint(pop * float(standard.value("children.age_share_3_5"))), "population"
    scenario = load_birth_scenario(birth_scenario)
    year = base_year if year is None else year
    factor = sum(scenario.index(year - a, base_year - ENTRY_AGE) for a in _AGES)
    return np.rint(s["pupils_lower_primary"].to_numpy(float) / 3.0 * factor), "forecast"


def walk_minutes(region, sources, km_per_hour: float) -> np.ndarray:
    """Walking minutes from each settlement to the nearest of the ``sources`` nodes along the
    roads (edge length: the straight line between its nodes); inf when none is connected.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> r = make_region(schools=40, seed=3)
    >>> float(walk_minutes(r, list(r.settlements["node"][:1]), 4.0)[0])
    0.0
    """
    s = region.settlements
    if len(sources) == 0:
        return np.full(len(s), np.inf)
    index, minutes = region.road_matrix()
    graph = straight_km_graph(region.roads, index, minutes)
    starts = sorted({index[str(n)] for n in sources})
    dist = dijkstra(graph, directed=False, indices=starts, min_only=True)
    return dist[[index[str(n)] for n in s["node"]]] * 60.0 / km_per_hour


def _counties_of(region, k: pd.DataFrame) -> np.ndarray:
    """Each kindergarten's county (see the module docstring)."""
    if "county" in k.columns:
        return k["county"].astype(str).to_numpy()
    s, sch = region.settlements, region.schools
    by_node = dict(zip(sch["node"].astype(str), sch["county"].astype(str), strict=True))
    by_node.update(zip(s["node"].astype(str), s["county"].astype(str), strict=True))
    xy = np.array([(region.roads.nodes[n]["x"], region.roads.nodes[n]["y"]) for n in s["node"]])
    out = []
    for node in k["node"].astype(str):
        if node not in by_node:
            d = region.roads.nodes[node]
            nearest = int(np.argmin(np.hypot(xy[:, 0] - d["x"], xy[:, 1] - d["y"])))
            by_node[node] = str(s["county"].iloc[nearest])
        out.append(by_node[node])
    return np.array(out, dtype=object)


def _kindergarten_rows(region, norms: PreschoolStandard) -> pd.DataFrame:
    k = region.kindergartens
    k = k[k["status"] == "open"].reset_index(drop=True)
    if "children" in k.columns:
        enrolled = pd.to_numeric(k["children"], errors="coerce").to_numpy(float)
        bad = ~np.isfinite(enrolled) | (enrolled < 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                "expected a number of children >= 0",
                table="kindergartens",
                row=i,
                row_id=str(k["kindergarten_id"].iloc[i]),
                column="children",
                value=str(k["children"].iloc[i]),
            )
        source = "children"
    else:
        enrolled, source = k["places"].to_numpy(float), "places"
    classes = k["classes"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(classes > 0, enrolled / classes, np.where(enrolled > 0, np.inf, 0.0))
    return pd.DataFrame(
        {
            "kindergarten_id": k["kindergarten_id"],
            "name": k["name"],
            "county": _counties_of(region, k),
            "ownership": k["ownership"],
            "places": k["places"].astype(int),
            "classes": k["classes"].astype(int),
            "enrolled": enrolled,
            "enrolled_from": source,
            "children_per_class": per_class,
            "class_size_ok": per_class <= norms.places_per_class + 1e-9,
        }
    )


def _county_table(region, kg: pd.DataFrame, norms, children: np.ndarray) -> pd.DataFrame:
    s = region.settlements
    with_places = kg.loc[kg["places"] > 0, "kindergarten_id"]
    nodes = region.kindergartens.set_index("kindergarten_id").loc[with_places, "node"]
    minutes = walk_minutes(region, list(nodes), float(norms.value("walking.km_per_hour")))
    limits = np.array([norms.walking_minutes(a) for a in s["area_type"]])
    settle = pd.DataFrame(
        {
            "county": s["county"].astype(str).to_numpy(),
            "children_3_5": children,
            "children_within_walk": np.where(minutes <= limits + 1e-9, children, 0.0),
        }
    )
    e = kg["enrolled"]
    kids = pd.DataFrame(
        {
            "county": kg["county"],
            "kindergartens": 1,
            "places": kg["places"],
            "classes": kg["classes"],
            "enrolled": e,
            "inclusive_enrolled": e.where(kg["ownership"] != "other", 0.0),
            "public_enrolled": e.where(kg["ownership"] == "public", 0.0),
            "enrolled_in_sized_classes": e.where(kg["class_size_ok"], 0.0),
        }
    )
    counties = list(dict.fromkeys([*settle["county"], *kids["county"]]))
    table = pd.concat(
        [settle.groupby("county").sum(), kids.groupby("county").sum()], axis=1
    ).reindex(counties)
    table = table.fillna(0.0).rename_axis("county").reset_index()
    total = table.drop(columns="county").sum().to_frame().T.assign(county=ALL)
    table = pd.concat([table, total[table.columns]], ignore_index=True)
    for col in ("kindergartens", "places", "classes"):
        table[col] = table[col].astype(int)
    for name, (num, den, _) in INDICATORS.items():
        d = table[den].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            table[name] = np.where(
                d > 0, table[num].to_numpy(float) / np.where(d > 0, d, 1), np.nan
            )
    return table


def _target(norms: PreschoolStandard, setting: str) -> float:
    return float(norms.value(setting)) if setting.startswith("targets.") else 1.0


def _indicator_rows(table: pd.DataFrame, norms: PreschoolStandard) -> pd.DataFrame:
    rows = []
    for r in table.to_dict("records"):
        for name, (_, _, setting) in INDICATORS.items():
            target, value = _target(norms, setting), r[name]
            met = pd.NA if pd.isna(value) else bool(value >= target - 1e-9)
            rows.append((r["county"], name, value, target, met, norms.scope_of(setting),
                         norms.source_of(setting), setting not in norms.unconfirmed))  # fmt: skip
    cols = ["county", "indicator", "value", "target", "met", "scope", "source", "confirmed"]
    out = pd.DataFrame(rows, columns=cols)
    out["met"] = out["met"].astype("boolean")
    return out


def preschool_tables(
    region,
    standard: PreschoolStandard | str = "preschool2021",
    *,
    base_year: int = 2025,
    birth_scenario: str = "medium",
) -> dict[str, pd.DataFrame]:
    """The preschool tables of a compliance report (see the module docstring); ``{}`` when the
    region has no kindergartens table.

    Parameters
    ----------
    region : Region
    standard : PreschoolStandard or str
        A preschool standard or the name of a built-in one.
    base_year, birth_scenario
        For children aged 3-5 from the birth forecast (:func:`children_aged_3_5`).

    Returns
    -------
    dict
        ``preschool_counties`` (per county and ``all``: children, enrolled, places, the sums
        behind each indicator and the indicators), ``preschool_indicators`` (per county and
        indicator: ``value, target, met, scope, source, confirmed``) and
        ``preschool_kindergartens`` (the open kindergartens with county, children per class
        and ``class_size_ok``).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> preschool_tables(make_region(schools=40, seed=3))
    {}
    """
    if getattr(region, "kindergartens", None) is None:
        return {}
    norms = (
        standard if isinstance(standard, PreschoolStandard) else load_preschool_standard(standard)
    )
    children, source = children_aged_3_5(region, norms, base_year, birth_scenario)
    kg = _kindergarten_rows(region, norms)
    table = _county_table(region, kg, norms, children)
    table.insert(1, "children_from", source)
    return {
        "preschool_counties": table,
        "preschool_indicators": _indicator_rows(table, norms),
        "preschool_kindergartens": kg,
    }


def _share(value, words: Words) -> str:
    return words("summary.na") if pd.isna(value) else f"{100 * float(value):.0f}%"


def _count(words: Words, key: str, n: int) -> str:
    return words(f"{key}.{'one' if n == 1 else 'many'}", n=f"{n:,}")


def summary_lines(tables: dict, language: str = "en") -> list[str]:
    """The preschool lines of ``allocator check``'s summary, in ``language``: one line for the
    kindergartens and children, then per indicator its target, scope, and the value and verdict
    of the whole region and of each county; ``[]`` without the preschool tables.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> lines = summary_lines(preschool_tables(make_region(schools=40, seed=3, kindergartens=True)))
    >>> lines[1].startswith("Preschool: "), lines[-5].startswith(" - gross enrolment rate")
    (True, True)
    >>> summary_lines({})
    []
    """
    if "preschool_indicators" not in tables:
        return []
    words = Words(language)
    counties, ind = tables["preschool_counties"], tables["preschool_indicators"]
    whole = counties[counties["county"] == ALL].iloc[0]
    kgs = tables["preschool_kindergartens"]
    head = words(
        "preschool.summary.head",
        kindergartens=_count(words, "preschool.summary.kindergartens", len(kgs)),
        children=_count(words, "preschool.summary.children", int(round(whole["children_3_5"]))),
        source=words(f"preschool.summary.from.{whole['children_from']}"),
    )
    lines = ["", head]
    if len(kgs) and (kgs["enrolled_from"] == "places").all():
        lines.append(" " + words("preschool.from_places"))
    verdict = {True: words("word.passes"), False: words("word.fails")}
    order = [ALL] + [c for c in counties["county"] if c != ALL]
    for name in INDICATORS:
        rows = ind[ind["indicator"] == name].set_index("county").reindex(order)
        first = rows.iloc[0]
        values = [
            words(
                "preschool.summary.value",
                county=words("preschool.all") if county == ALL else county,
                value=_share(r["value"], words),
                verdict=words("summary.na") if pd.isna(r["met"]) else verdict[bool(r["met"])],
            )
            for county, r in rows.iterrows()
        ]
        lines.append(
            " - "
            + words(
                "preschool.summary.row",
                indicator=words(f"preschool.{name}"),
                target=_share(first["target"], words),
                scope=words(f"preschool.scope.{first['scope']}"),
                values=words("preschool.summary.sep").join(values),
            )
        )
    return lines
