"""A region as the kindergarten planner's arrays: children per settlement, sites and their levels,
walking minutes within the limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from allocator.check.preschool_report import children_aged_3_5
from allocator.errors import InputError
from allocator.i18n import Words, language_of
from allocator.planners.kindergartens.policy import KindergartenPolicy
from allocator.region import Region
from allocator.standards.preschool import PreschoolStandard
from allocator.travel import straight_km_graph

__all__ = ["KindergartenData", "kindergarten_data", "children_3_5", "walking_minutes"]


@dataclass(frozen=True, eq=False)
class KindergartenData:
    """The planner's input.

    Attributes
    ----------
    settlements : pandas.DataFrame
        ``settlement_id, area_type, node, children, children_source, limit_minutes``.
    sites : pandas.DataFrame
        Existing kindergartens (``status`` open) then candidate sites: ``kindergarten_id, name,
        node, status, ownership, places, classes``.
    walk : scipy.sparse.csr_matrix
        Settlements x sites: walking minutes of the pairs within the settlement's limit (stored
        entries, 0 included).
    levels : pandas.DataFrame
        One row per level: ``site`` (row of ``sites``), ``action``, ``classes``, ``places``,
        ``ownership``, ``capital_yuan``, ``subsidy_yuan_per_year``, ``cost_yuan``, ``public``,
        ``inclusive``.
    norms : PreschoolStandard
    """

    settlements: pd.DataFrame
    sites: pd.DataFrame
    walk: sp.csr_matrix
    levels: pd.DataFrame
    norms: PreschoolStandard


def children_3_5(region: Region, policy: KindergartenPolicy, norms: PreschoolStandard):
    """Children aged 3-5 per settlement (whole numbers) and where the figure comes from.

    From the settlements' ``children_3_5`` column if present; else ``population`` x the
    standard's ``children.age_share_3_5``; else the birth forecast: a settlement's lower primary
    pupils / 3 are the children of age 6 (born in ``base_year - 6``), and the birth scenario gives
    the births of the years whose children are aged 3, 4 and 5 in ``year`` (migration ignored).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3)
    >>> kids, source = children_3_5(region, KindergartenPolicy(), KindergartenPolicy().norms())
    >>> source, bool((kids >= 0).all())
    ('forecast', True)
    """
    kids, source = children_aged_3_5(
        region,
        norms,
        base_year=policy.base_year,
        birth_scenario=policy.birth_scenario,
        year=policy.year,
    )
    return np.rint(kids), source


def walking_minutes(region: Region, sources, targets, limits, km_per_hour: float):
    """Walking minutes along the roads (edge length: the straight line between its nodes) from
    each source node to each target node, kept where within the source's limit.

    Returns a sparse sources x targets matrix (stored entries are the pairs within the limit).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> r = make_region(schools=40, seed=3)
    >>> n = r.schools["node"].iloc[0]
    >>> walking_minutes(r, [n], [n], [10.0], 4.0).toarray().tolist()
    [[0.0]]
    """
    index, minutes = region.road_matrix()
    km_graph = straight_km_graph(region.roads, index, minutes)
    sources = [index[str(n)] for n in sources]
    targets_list = [str(t) for t in targets]
    limits = np.asarray(limits, float)
    n, m = len(sources), len(targets_list)
    if n == 0 or m == 0:
        return sp.csr_matrix((n, m))
    target_rows = np.array([index[t] for t in targets_list])
    max_km = float(limits.max()) * km_per_hour / 60.0 if limits.size else 0.0
    parts = []
    for start in range(0, m, _CHUNK):  # a chunk of targets at a time: memory stays bounded
        chunk = target_rows[start : start + _CHUNK]
        dist = dijkstra(km_graph, directed=False, indices=chunk, limit=max_km + 1e-9)
        walk = dist[:, sources].T * 60.0 / km_per_hour  # sources x chunk
        rows, cols = np.nonzero(walk <= limits[:, None] + 1e-9)
        parts.append((rows, cols + start, walk[rows, cols]))
    rows, cols, values = (np.concatenate(p) for p in zip(*parts, strict=True))
    return sp.csr_matrix((values, (rows, cols)), shape=(n, m))


#: Targets per Dijkstra call in :func:`walking_minutes`.
_CHUNK = 256


def _sites(region: Region, policy: KindergartenPolicy) -> pd.DataFrame:
    cols = ["kindergarten_id", "name", "node", "status", "ownership", "places", "classes"]
    k = region.kindergartens
    table = pd.DataFrame(columns=cols) if k is None else k[cols].copy()
    s = region.settlements
    community = s.loc[s["area_type"].isin(policy.candidate_area_types), "node"]
    nodes = dict.fromkeys([*policy.candidate_nodes, *community.astype(str)])
    extra = [n for n in nodes if n not in set(table["node"])]
    for n in extra:
        if not region.roads.has_node(n):
            raise InputError(
                f"candidate node {n!r} is not in the road graph; expected a node of the roads",
                table="policy",
                column="candidate_nodes",
                value=n,
            )
    if extra:
        new = pd.DataFrame({"kindergarten_id": [f"site-{n}" for n in extra], "node": extra})
        new = new.assign(name=new["kindergarten_id"], status="reserved", ownership="public")
        table = pd.concat([table, new.assign(places=0, classes=0)[cols]], ignore_index=True)
    bad = (table["status"] != "open") & (table["places"] + table["classes"] > 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            "a candidate site has places or classes; expected 0 until it opens",
            table="kindergartens",
            row=i,
            row_id=str(table["kindergarten_id"].iloc[i]),
            column="places",
            value=int(table["places"].iloc[i]),
        )
    table["attached"] = False
    table = pd.concat([table, _attached_sites(region, policy, table)], ignore_index=True)
    order = np.argsort((table["status"] != "open").to_numpy(), kind="stable")
    return table.iloc[order].reset_index(drop=True)


#: School levels that teach the lower primary grades, where preschool classes can be attached.
PRIMARY_LEVELS = ("primary", "teaching_point", "nine_year")


def _attached_sites(region: Region, policy: KindergartenPolicy, table: pd.DataFrame):
    """Candidate preschool classes attached to the primary schools and teaching points
    (附设幼儿班) of ``policy.attached_class_area_types`` at nodes without a site already."""
    sch = region.schools
    level = sch["level"] if "level" in sch.columns else pd.Series("primary", index=sch.index)
    pick = sch[level.isin(PRIMARY_LEVELS) & sch["area_type"].isin(policy.attached_class_area_types)]
    pick = pick[~pick["node"].astype(str).isin(set(table["node"].astype(str)))]
    pick = pick.drop_duplicates("node")
    words = Words(language_of(sch["name"]))
    return pd.DataFrame(
        {
            "kindergarten_id": [f"class-{i}" for i in pick["school_id"]],
            "name": [words("kindergarten.attached_name", school=n) for n in pick["name"]],
            "node": pick["node"].astype(str).to_numpy(),
            "status": "reserved",
            "ownership": "public",
            "places": 0,
            "classes": 0,
            "attached": True,
        }
    )


def _levels(sites: pd.DataFrame, policy: KindergartenPolicy, norms) -> pd.DataFrame:
    """Each site's levels: as is / expanded / converted (existing), sizes (candidates)."""
    size, costs, attached = (norms.settings[g] for g in ("size", "costs", "attached"))
    per_class = norms.places_per_class
    module, most, cap_max = size["module_classes"], size["max_classes"], size["max_children"]
    years = costs["plan_years"]
    rows = []
    for j, s in enumerate(sites.itertuples(index=False)):
        if s.status == "open":
            options = [0]
            added = module
            while added <= policy.max_added_classes and s.classes + added <= most:
                options.append(added)
                added += module
            owners = [s.ownership]
            if s.ownership == "other" and policy.convert_private:
                owners.append("inclusive_private")
            for add in options:
                places = s.places + min(add * per_class, max(cap_max - s.places, 0))
                for owner in owners:
                    converted = owner != s.ownership
                    action = "+".join(
                        (["expand"] if add else []) + (["convert"] if converted else [])
                    )
                    rows.append((j, action or "keep", int(s.classes + add), math.floor(places),
                                 owner, add * costs["expand_yuan_per_class"],
                                 math.floor(places) * costs["inclusive_subsidy_yuan_per_place_per_year"] * converted))  # fmt: skip
        elif s.attached:  # 1 .. attached.max_classes mixed-age classes in the school's rooms
            for classes in range(1, attached["max_classes"] + 1):
                rows.append((j, "build", classes, classes * attached["places_per_class"],
                             "public", classes * attached["yuan_per_class"], 0.0))  # fmt: skip
        else:
            classes = size["min_classes"]
            while classes <= most * policy.kindergartens_per_site:
                places = math.floor(min(classes * per_class, cap_max * math.ceil(classes / most)))
                rows.append((j, "build", classes, places, "public",
                             places * costs["build_yuan_per_place"], 0.0))  # fmt: skip
                classes += module
    cols = ["site", "action", "classes", "places", "ownership", "capital_yuan"]
    levels = pd.DataFrame(rows, columns=[*cols, "subsidy_yuan_per_year"])
    levels["cost_yuan"] = levels["capital_yuan"] + years * levels["subsidy_yuan_per_year"]
    levels["public"] = levels["ownership"] == "public"
    levels["inclusive"] = levels["ownership"].isin(("public", "inclusive_private"))
    return levels


def kindergarten_data(region: Region, policy: KindergartenPolicy) -> KindergartenData:
    """The planner's input from a region (see :class:`KindergartenData`)."""
    norms = policy.norms()
    children, source = children_3_5(region, policy, norms)
    children = np.rint(children * policy.children_factor)
    s = region.settlements
    limits = np.array([norms.walking_minutes(a) for a in s["area_type"]])
    settlements = pd.DataFrame(
        {
            "settlement_id": s["settlement_id"].to_numpy(),
            "area_type": s["area_type"].to_numpy(),
            "node": s["node"].to_numpy(),
            "children": children,
            "children_source": source,
            "limit_minutes": limits,
        }
    )
    sites = _sites(region, policy)
    km_per_hour = float(norms.value("walking.km_per_hour"))
    walk = walking_minutes(region, s["node"], sites["node"], limits, km_per_hour)
    return KindergartenData(settlements, sites, walk, _levels(sites, policy, norms), norms)
