"""The run report's preschool part: the preschool indicators by county before and after each
kindergarten step, and the kindergartens on the map.

:func:`preschool_section` shows, for each kindergarten step (or, in a run without one, for the
region before and after the run), the figures of :func:`allocator.check.preschool_report.
preschool_tables` per county and for the whole region: gross enrolment rate (学前教育毛入园率),
the inclusive (普惠性幼儿园) and public (公办园) shares, the children within the walking limit of a
kindergarten with places and those in kindergartens within the class sizes, each with its target
and whether the standard sets it nationally or locally, passes green and fails red as the
compulsory verdict is. The step's policy gives the preschool standard (its overrides included) and
the year of the children. A stage whose region has no kindergartens table counts none.

:func:`kindergarten_traces` draws the kindergartens open after the run by kind (public,
inclusive private, other), the ones the plan built and the ones it expanded, at their road nodes
(the map draws them under the schools, a little up and to the right); hover gives the name, the kind and the places (before and after when they changed).

Nothing here runs unless a region of the run has a kindergartens table.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from allocator.check.preschool_report import ALL, preschool_tables
from allocator.i18n import Words
from allocator.region import KINDERGARTEN_COLUMNS
from allocator.report.interactive import hover, site_markers
from allocator.report.tables import escape, html_table

__all__ = ["KIND_COLOURS", "preschool_section", "preschool_comparison", "kindergarten_traces"]

#: Marker colours of the kindergartens by ownership.
KIND_COLOURS = {"public": "#d62728", "inclusive_private": "#ff7f0e", "other": "#9467bd"}

_PLANNER = "kindergartens"


def _has_kindergartens(result) -> bool:
    return any(getattr(r, "kindergartens", None) is not None for r in result.regions)


def _with_table(region):
    """``region``, with an empty kindergartens table when it has none (a stage before any)."""
    if region.kindergartens is not None:
        return region
    return region.replace(kindergartens=pd.DataFrame(columns=[*KINDERGARTEN_COLUMNS, "status"]))


def _tables(region, policy) -> dict:
    norms = policy.norms() if hasattr(policy, "norms") else "preschool2021"
    kwargs = {}
    if hasattr(policy, "base_year"):
        kwargs = {
            "base_year": policy.year or policy.base_year,
            "birth_scenario": policy.birth_scenario,
        }
    return preschool_tables(_with_table(region), norms, **kwargs)


def preschool_comparison(before, after, policy=None) -> pd.DataFrame:
    """The preschool indicators of two regions side by side: ``county, indicator, before,
    after, target, scope, met_before, met_after`` (the whole region's rows last).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=40, seed=3, kindergartens=True)
    >>> t = preschool_comparison(region, region)
    >>> bool((t["before"].fillna(0) == t["after"].fillna(0)).all()), t["county"].iloc[-1]
    (True, 'all')
    """
    keys = ["county", "indicator"]
    b = _tables(before, policy)["preschool_indicators"].set_index(keys)
    a = _tables(after, policy)["preschool_indicators"].set_index(keys)
    order = list(dict.fromkeys([*a.index, *b.index]))
    order = [k for k in order if k[0] != ALL] + [k for k in order if k[0] == ALL]
    a, b = a.reindex(order), b.reindex(order)
    return pd.DataFrame(
        {
            "before": b["value"],
            "after": a["value"],
            "target": a["target"].fillna(b["target"]),
            "scope": a["scope"].fillna(b["scope"]),
            "met_before": b["met"],
            "met_after": a["met"],
        }
    ).reset_index()


def _percent(value) -> str:
    """A share in percent with one decimal (89.6 % must not read as a target of 90 % met)."""
    return "–" if pd.isna(value) else f"{100 * float(value):.1f}%"


def _table_html(table: pd.DataFrame, labels: tuple[str, str], words: Words) -> str:
    shown = pd.DataFrame(
        {
            words("col.county"): [
                words("preschool.all") if c == ALL else c for c in table["county"]
            ],
            words("col.indicator"): [words(f"preschool.{k}") for k in table["indicator"]],
            labels[0]: [_percent(v) for v in table["before"]],
            labels[1]: [_percent(v) for v in table["after"]],
            words("preschool.target"): [_percent(v) for v in table["target"]],
            words("preschool.scope"): [words(f"preschool.scope.{s}") for s in table["scope"]],
        }
    )
    classes = pd.DataFrame("", index=range(len(shown)), columns=shown.columns)
    for col, met in ((labels[0], table["met_before"]), (labels[1], table["met_after"])):
        classes[col] = ["" if pd.isna(m) else "better" if m else "worse" for m in met]
    return html_table(shown, classes=classes, words=words)


def preschool_section(result, stages, words: Words) -> list[str]:
    """The report's preschool part (see the module docstring); [] when no region of the run has
    a kindergartens table.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from types import SimpleNamespace
    >>> region = make_region(schools=40, seed=3, kindergartens=True)
    >>> run = SimpleNamespace(regions=[region], steps=[])
    >>> html = "".join(preschool_section(run, ["before"], Words("zh")))
    >>> "学前教育毛入园率" in html and "普惠性幼儿园" in html
    True
    """
    if not _has_kindergartens(result):
        return []
    out = [
        f"<h2 id='preschool'>{escape(words('preschool.heading'))}</h2>",
        f"<p class='note'>{escape(words('preschool.note'))}</p>",
    ]
    regions, steps = result.regions, list(result.steps)
    pairs = [
        (k, st) for k, st in enumerate(steps, start=1) if getattr(st, "planner", "") == _PLANNER
    ]
    if not pairs:
        pairs = [(len(regions) - 1, None)]
    for k, st in pairs:
        policy = getattr(st, "policy", None)
        if st is not None:
            out.append(f"<h3>{escape(words('preschool.step', step=st.name))}</h3>")
        table = preschool_comparison(regions[k - 1] if k else regions[0], regions[k], policy)
        if k == 0:  # a run without steps: today only
            table["after"], table["met_after"] = table["before"], table["met_before"]
        out.append(_table_html(table, (stages[k - 1] if k else stages[0], stages[k]), words))
    last = preschool_tables(_with_table(regions[-1]))
    if (
        len(last["preschool_kindergartens"])
        and (last["preschool_kindergartens"]["enrolled_from"] == "places").all()
    ):
        out.append(f"<p class='note'>{escape(words('preschool.from_places'))}</p>")
    return out


def kindergarten_traces(result, words: Words, offset: float = 0.0) -> list[go.Scatter]:
    """The kindergartens open after the run by kind, those built and those expanded (see the
    module docstring); [] when the last region has no kindergartens table. ``offset`` (km) moves
    each marker up and right of its node, so that a school at the same node stays in sight.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from types import SimpleNamespace
    >>> region = make_region(schools=40, seed=3, kindergartens=True)
    >>> traces = kindergarten_traces(SimpleNamespace(regions=[region]), Words("en"))
    >>> [t.name for t in traces][:2]
    ['public kindergarten', 'inclusive private kindergarten']
    """
    last = getattr(result.regions[-1], "kindergartens", None)
    if last is None:
        return []
    first = getattr(result.regions[0], "kindergartens", None)
    if first is None:
        first = pd.DataFrame(columns=[*KINDERGARTEN_COLUMNS, "status"])
    was_open = first[first["status"] == "open"].set_index("kindergarten_id")["places"]
    now = last[last["status"] == "open"].reset_index(drop=True)
    before = now["kindergarten_id"].map(was_open)
    built, expanded = before.isna(), before.notna() & (now["places"] > before)
    kinds = {k: words(f"preschool.kind.{k}") for k in KIND_COLOURS}

    def text(i):
        row = now.iloc[i]
        places = f"{int(row['places']):,}"
        if expanded.iloc[i]:
            places = f"{int(before.iloc[i]):,} → {places}"
        return hover(
            words("preschool.hover", name=row["name"], kind=kinds[row["ownership"]], places=places)
        )

    layers = [(words(f"preschool.kind.{k}"), now["ownership"].eq(k) & ~built & ~expanded,
               {"symbol": "square", "size": 8, "color": c}) for k, c in KIND_COLOURS.items()]  # fmt: skip
    layers += [
        (words("preschool.built"), built, {"symbol": "diamond", "size": 13, "color": "#111"}),
        (words("preschool.expanded"), expanded,
         {"symbol": "square", "size": 12, "color": "#111", "line": {"width": 2, "color": "#ff0"}}),
    ]  # fmt: skip
    return site_markers(result.regions[-1], now["node"], layers, text, offset=offset,
                        meta="kindergartens")  # fmt: skip
