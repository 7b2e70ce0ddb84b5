"""The run report's senior part: the senior plan's counties and campuses, and the senior schools
on the map.

:func:`senior_section` shows, for each senior step (``planner = "senior"``), a table per county
from the plan's ``counties`` table: junior graduates (初中毕业生), places needed, general
(普通高中) and vocational (中等职业学校) places before and after, the pupils placed in each, the
general share against the 普职比 band, boarding places added and whether every target is met
(green, red otherwise); then the campuses the plan expands or builds (name, road node, kind,
places before and after, pupils, boarding places added, yuan).

:func:`senior_traces` draws the senior schools of the run's last region (its ``senior_schools``
table) against the first region's (its table, else the schools table's senior schools): general
and vocational schools as they were, the ones expanded and the new campuses, at their road nodes
(under the compulsory schools, a little down and to the left); hover gives the name, the kind and
the places (before and after when they changed) and the boarding places.

Nothing here runs unless the run has a senior step or its last region a senior_schools table.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from allocator.i18n import Words
from allocator.planners.senior.data import existing_schools
from allocator.report.interactive import hover, site_markers
from allocator.report.tables import escape, html_table

__all__ = ["KIND_COLOURS", "senior_section", "senior_traces", "county_table", "campus_table"]

#: Marker colours of the senior schools by kind.
KIND_COLOURS = {"general": "#1f77b4", "vocational": "#2ca02c"}

_PLANNER = "senior"


def _percent(value) -> str:
    return "–" if pd.isna(value) else f"{100 * float(value):.1f}%"


def _places(before: int, after: int) -> str:
    return f"{after:,}" if before == after else f"{before:,} → {after:,}"


def county_table(plan, words: Words) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The shown county table of a senior plan and its CSS classes (the verdict green or red).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.senior import plan_senior
    >>> plan = plan_senior(make_region(schools=40, seed=3, senior_schools=True))
    >>> shown, classes = county_table(plan, Words("zh"))
    >>> list(shown.columns)[:3], classes.iloc[0, -1]
    (['县区', '初中毕业生', '所需学位'], 'better')
    """
    c = plan.counties
    low, high = plan.standard.set_index("setting")["value"].reindex(
        ["ratio.general_share_low", "ratio.general_share_high"]
    )
    by = plan.schools.groupby("county")["boarding_added"].sum()
    shown = pd.DataFrame(
        {
            words("col.county"): c["county"],
            words("senior.col.cohort"): c["cohort"].astype(int),
            words("senior.col.needed"): c["needed"].astype(int),
            words("senior.col.general_places"): [
                _places(int(b), int(a))
                for b, a in zip(c["general_places_before"], c["general_places_after"], strict=True)
            ],
            words("senior.col.vocational_places"): [
                _places(int(b), int(a))
                for b, a in zip(
                    c["vocational_places_before"], c["vocational_places_after"], strict=True
                )
            ],
            words("senior.col.general_pupils"): [f"{v:,.0f}" for v in c["general_pupils"]],
            words("senior.col.vocational_pupils"): [f"{v:,.0f}" for v in c["vocational_pupils"]],
            words("senior.col.general_share"): [_percent(v) for v in c["general_share"]],
            words("senior.col.band"): f"{_percent(low)} – {_percent(high)}",
            words("senior.col.boarding_added"): [f"{int(by.get(k, 0)):,}" for k in c["county"]],
            words("senior.col.verdict"): [
                words("word.passes" if m else "word.fails") for m in c["met"]
            ],
        }
    )
    classes = pd.DataFrame("", index=range(len(shown)), columns=shown.columns)
    classes[shown.columns[-1]] = ["better" if m else "worse" for m in c["met"]]
    return shown, classes


def _name(name, node, words: Words) -> str:
    """A campus's name: the plan names a new one for a planner (its road node in its own column);
    one without a name is called after its node."""
    if not isinstance(name, str) or not name.strip():
        return words("senior.new_campus", node=node)
    return name


def campus_table(plan, words: Words) -> pd.DataFrame:
    """The campuses a senior plan expands or builds, as shown (empty when it only keeps).

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.planners.senior import plan_senior
    >>> plan = plan_senior(make_region(schools=40, seed=3, senior_schools=True))
    >>> len(campus_table(plan, Words("en"))) == int(plan.schools["added_places"].gt(0).sum())
    True
    """
    k = plan.schools[plan.schools["action"].isin(("expand", "build"))]
    shown = pd.DataFrame(
        {
            words("col.county"): k["county"].to_numpy(),
            words("senior.col.campus"): [
                _name(n, node, words) for n, node in zip(k["name"], k["node"], strict=True)
            ],
            words("senior.col.node"): k["node"].astype(str).to_numpy(),
            words("senior.col.kind"): [words(f"senior.kind.{v}") for v in k["kind"]],
            words("senior.col.action"): [words(f"senior.action.{v}") for v in k["action"]],
            words("senior.col.places_before"): k["places_before"].astype(int).to_numpy(),
            words("senior.col.places_after"): k["places_after"].astype(int).to_numpy(),
            words("senior.col.pupils"): [f"{v:,.0f}" for v in k["pupils"]],
            words("senior.col.boarding_added"): k["boarding_added"].astype(int).to_numpy(),
            words("senior.col.capital"): [f"{v:,.0f}" for v in k["capital_yuan"]],
        }
    )
    limit = plan.schools.get("boarding_capacity")
    if limit is not None and limit.notna().any():  # the schools' dormitory limits, where given
        shown.insert(
            shown.columns.get_loc(words("senior.col.boarding_added")) + 1,
            words("col.boarding_limit"),
            ["-" if pd.isna(v) else f"{v:,.0f}" for v in k["boarding_capacity"]],
        )
    return shown


def senior_section(result, stages, words: Words) -> list[str]:
    """The report's senior part (see the module docstring); [] without a senior step.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> senior_section(SimpleNamespace(steps=[]), ["before"], Words("en"))
    []
    """
    steps = [st for st in result.steps if getattr(st, "planner", "") == _PLANNER]
    steps = [st for st in steps if hasattr(getattr(st, "plan", None), "counties")]
    if not steps:
        return []
    out = [
        f"<h2 id='senior'>{escape(words('senior.heading'))}</h2>",
        f"<p class='note'>{escape(words('senior.note'))}</p>",
    ]
    for st in steps:
        out.append(f"<h3>{escape(words('senior.step', step=st.name))}</h3>")
        shown, classes = county_table(st.plan, words)
        out.append(html_table(shown, classes=classes, words=words))
        campuses = campus_table(st.plan, words)
        if len(campuses):
            out.append(html_table(campuses, words=words))
        else:
            out.append(f"<p class='note'>{escape(words('senior.no_campus'))}</p>")
    return out


def senior_traces(result, words: Words, offset: float = 0.0) -> list[go.Scatter]:
    """The senior schools after the run: general and vocational ones as they were, those
    expanded and the new campuses (see the module docstring); [] when the last region has no
    senior_schools table. ``offset`` (km) moves each marker down and left of its node.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from allocator.synth import make_region
    >>> region = make_region(schools=120, seed=7, senior_schools=True)
    >>> [t.name for t in senior_traces(SimpleNamespace(regions=[region]), Words("en"))]
    ['general senior high school', 'vocational school']
    """
    last = getattr(result.regions[-1], "senior_schools", None)
    if last is None:
        return []
    was = existing_schools(result.regions[0]).set_index("senior_id")["places"]
    now = last.reset_index(drop=True)
    before = now["senior_id"].map(was)
    built, expanded = before.isna(), before.notna() & (now["places"] > before)

    def text(i):
        row = now.iloc[i]
        places = f"{int(row['places']):,}"
        if expanded.iloc[i]:
            places = f"{int(before.iloc[i]):,} → {places}"
        return hover(
            words(
                "senior.hover",
                name=_name(row["name"], row["node"], words),
                kind=words(f"senior.kind.{row['kind']}"),
                places=places,
                boarding=f"{int(row['boarding_places']):,}",
            )
        )  # fmt: skip

    layers = [(words(f"senior.map.{k}"), now["kind"].eq(k) & ~built & ~expanded,
               {"symbol": "triangle-up", "size": 11, "color": c})
              for k, c in KIND_COLOURS.items()]  # fmt: skip
    layers += [
        (words("senior.map.expanded"), expanded,
         {"symbol": "triangle-up", "size": 15, "color": "#111",
          "line": {"width": 2, "color": "#ff0"}}),
        (words("senior.map.built"), built, {"symbol": "star", "size": 16, "color": "#111"}),
    ]  # fmt: skip
    return site_markers(result.regions[-1], now["node"], layers, text, offset=-offset,
                        meta="senior_schools")  # fmt: skip
