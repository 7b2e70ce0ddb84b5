"""The results of a run: measures, step and scenario results, comparisons, costs and plan status.

:class:`ScenarioResult` (from :func:`allocator.pipeline.run_scenario`) and :class:`Comparison`
(from :func:`allocator.compare.compare_scenario`) hold plans, regions, measures and tables;
:func:`costs` and :func:`step_costs` read the yuan figures from each plan's ``yuan_figures``;
:func:`plan_status` reads a plan's solve status. The writers and the report read results only through this module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator.check.preschool_report import ALL as ALL_COUNTIES
from allocator.check.preschool_report import INDICATORS as PRESCHOOL_INDICATORS
from allocator.check.preschool_report import preschool_tables
from allocator.i18n import Words, status_word
from allocator.planners.base import HEADLINE_KEYS, PlanBase
from allocator.scenario import Scenario
from allocator.sheets import slug

__all__ = [
    "COST_KEYS",
    "Comparison",
    "Measures",
    "ScenarioResult",
    "StepResult",
    "costs",
    "json_safe",
    "plan_status",
    "plan_tables",
    "result_record",
    "result_tables",
    "step_costs",
]


#: Headline keys of a plan that count as its cost in yuan (summed over steps for "cost").
@dataclass
class Measures:
    """How a region stands against a standard: figures and the tables behind them.

    Attributes
    ----------
    figures : dict
        Flat, JSON-safe key figures (``parts_compliant``, ``cv_worst.primary.floor_m2_per_pupil``,
        ``rural_urban.backbone_per_100``, ``travel.lower_primary.max_minutes``, ...).
    parts : pandas.DataFrame
        In-scope assessed parts with indicator values, the verdicts of
        :func:`allocator.compliance.part_verdicts` (``<indicator>_met``, ``passes``), ``met``
        (count), ``complies`` and the values divided by their thresholds (``<indicator>_share``).
    cv : pandas.DataFrame
        ``county, part, indicator, cv, limit, within_limit, parts``.
    counties : pandas.DataFrame
        Per county and part type, :func:`allocator.compliance.county_verdicts`: ``cv_ok``,
        ``schools_ok`` and ``passes``.
    area_types : pandas.DataFrame
        ``indicator, urban, town, rural, rural_urban`` (means as shares of the threshold).
    travel : pandas.DataFrame
        ``band, pupils, mean_minutes, p95_minutes, max_minutes, limit_minutes, pupils_over_limit``.
    open : dict
        The open indicators (digital campus, safety, training) as :mod:`allocator.check` reports
        them: ``open_schools``, ``open_counties`` and ``open_gaps``, each row marked with its
        ``verdict`` (not part of the 2017 verdict unless the standard assesses it); ``{}`` when
        the region has none of their columns.
    """

    figures: dict
    parts: pd.DataFrame
    cv: pd.DataFrame
    area_types: pd.DataFrame
    travel: pd.DataFrame
    counties: pd.DataFrame | None = None
    open: dict = field(default_factory=dict)


@dataclass
class StepResult:
    """One step of a run: the plan, its timing and the measures before and after it."""

    name: str
    planner: str
    policy: Any
    plan: Any
    seconds: float
    before: Measures
    after: Measures

    @property
    def headline(self) -> dict:
        """The plan's ``headline()`` (empty if it has none)."""
        return json_safe(self.plan.headline()) if hasattr(self.plan, "headline") else {}

    @property
    def status(self) -> str:
        info = plan_status(self.plan)
        return info[0]


@dataclass
class ScenarioResult:
    """What :func:`allocator.pipeline.run_scenario` returns.

    Attributes
    ----------
    scenario : allocator.scenario.Scenario
    standard : allocator.standards.Standard
    steps : list of StepResult
    plans : dict
        Step name -> plan object.
    tables : dict
        ``"<step>.<table>"`` -> DataFrame for every plan table, plus ``outcomes`` (measure × stage),
        ``cv`` and ``area_types`` (all stages, long form) and ``travel``.
    regions : list of Region
        ``regions[0]`` is the region loaded; ``regions[k]`` the region after step k.
    measures : list of Measures
        One per region.
    result : dict
        The JSON-safe summary written to ``result.json``.
    out : pathlib.Path or None
        The folder written, if any.
    failure : dict or None
        For the finished part of a run whose later step failed: ``step`` (name), ``index``
        (1-based), ``planner``, ``error`` (``Infeasible`` or ``SolverError``) and ``message`` (the
        diagnosis). None for a complete run.
    years : dict or None
        For a scenario with ``years``: the tables over years of
        :meth:`allocator.years_run.YearsRun.outcome` (``timeline``, ``by_year``, ``costs``,
        ``checks``, ``projection``, ``forecast``), ``first``, ``last`` and ``once``.
    """

    scenario: Scenario
    standard: Any
    steps: list[StepResult]
    regions: list
    measures: list[Measures]
    seconds: float
    out: Path | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    result: dict = field(default_factory=dict)
    failure: dict | None = None
    years: dict | None = None

    @property
    def complete(self) -> bool:
        """False when a step failed and only the steps before it are here."""
        return self.failure is None

    @property
    def files(self) -> dict[str, str]:
        """Table name -> its CSV file name (step and table names made safe for file names).

        ``"<step>.<table>"`` -> ``"<step slug>.<table slug>.csv"``; ``outcomes`` ->
        ``outcomes.csv``; names that would collide get ``-2``, ``-3``, ...
        """
        stems = {}
        for st in self.steps:
            for name in plan_tables(st.plan):
                stems[f"{st.name}.{name}"] = f"{_step_slug(st)}.{slug(name, 'table')}"
        for key in self.tables:
            stems.setdefault(key, slug(key, "table"))
        stems = {k: v for k, v in stems.items() if k in self.tables}
        out, used = {}, set()
        for key, stem in stems.items():
            candidate, k = stem, 1
            while candidate.lower() in used:
                k += 1
                candidate = f"{stem}-{k}"
            used.add(candidate.lower())
            out[key] = f"{candidate}.csv"
        return out

    @property
    def plans(self) -> dict[str, Any]:
        return {s.name: s.plan for s in self.steps}

    @property
    def stages(self) -> list[str]:
        """Stage labels: ``before`` then ``after <step>`` for each step."""
        return ["before", *(f"after {s.name}" for s in self.steps)]

    def summary(self, language: str = "en") -> str:
        """A few lines: what ran and how the key figures moved from start to end.

        ``language`` is ``"en"`` or ``"zh"`` (labels from ``allocator/data/i18n/labels.csv``);
        the figures are the same in both.
        """
        w = Words(language)
        first, last = self.measures[0].figures, self.measures[-1].figures
        lines = [w("summary.run.title", name=self.scenario.name, steps=len(self.steps),
                   seconds=f"{self.seconds:.1f}")]  # fmt: skip
        if self.failure is not None:
            f = self.failure
            lines[0] += w("summary.run.incomplete", index=f["index"], step=f["step"])
        for s in self.steps:
            lines.append(
                "  "
                + w(
                    "summary.run.step",
                    name=s.name,
                    planner=s.planner,
                    status=status_word(s.status, w),
                    seconds=f"{s.seconds:.1f}",
                )  # fmt: skip
            )
        if self.failure is not None:
            f = self.failure
            lines.append(f"  {f['step']} ({f['planner']}): {f['error']}: {f['message']}")
        for key, label in _KEY_FIGURES:
            if key in first or key in last:
                lines.append(f"  {w(label)}: {_fmt(first.get(key))} -> {_fmt(last.get(key))}")
        return "\n".join(lines)


_KEY_FIGURES = (
    ("parts_compliant", "summary.run.parts_compliant"),
    ("compliant_share.rural", "summary.run.rural_share"),
    ("counties_cv_ok.primary", "summary.run.cv_ok_primary"),
    ("counties_cv_ok.junior", "summary.run.cv_ok_junior"),
    ("travel.lower_primary.max_minutes", "summary.run.longest_trip"),
    ("travel.lower_primary.pupils_over_limit", "summary.run.pupils_over_limit"),
    *((f"preschool.{k}", f"preschool.{k}") for k in PRESCHOOL_INDICATORS),
)


def preschool_figures(region, standard="preschool2021") -> dict:
    """The whole region's preschool figures of :class:`Measures` (``{}`` without kindergartens):
    ``preschool.<indicator>`` for each indicator of :mod:`allocator.check.preschool_report`
    (None when it has no denominator), ``preschool.indicators_met`` (how many meet their
    target), ``preschool.counties_met.<indicator>`` (counties meeting it),
    ``preschool.kindergartens`` (open), ``preschool.places`` and ``preschool.children_3_5``.
    Measured before and after every step, so a kindergarten step's effect shows in sweeps,
    comparisons and the run summary.

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> f = preschool_figures(make_region(schools=40, seed=3, kindergartens=True))
    >>> f["preschool.kindergartens"], 0 <= f["preschool.within_walk_share"] <= 1
    (30, True)
    >>> preschool_figures(make_region(schools=40, seed=3))
    {}
    """
    tables = preschool_tables(region, standard)
    if not tables:
        return {}
    counties = tables["preschool_counties"].set_index("county")
    whole = counties.loc[ALL_COUNTIES]
    ind = tables["preschool_indicators"]
    met = ind["met"].fillna(False).astype(bool)
    figures: dict[str, Any] = {
        "preschool.kindergartens": int(whole["kindergartens"]),
        "preschool.places": int(whole["places"]),
        "preschool.children_3_5": float(whole["children_3_5"]),
        "preschool.indicators_met": int(met[ind["county"] == ALL_COUNTIES].sum()),
    }
    for name in PRESCHOOL_INDICATORS:
        value = float(whole[name])
        figures[f"preschool.{name}"] = value if math.isfinite(value) else None
        per_county = (ind["indicator"] == name) & (ind["county"] != ALL_COUNTIES)
        figures[f"preschool.counties_met.{name}"] = int(met[per_county].sum())
    return figures


def _step_slug(step) -> str:
    """The file-name form of a step's name (:func:`allocator.sheets.slug`)."""
    return slug(step.name, "step")


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


@dataclass
class Comparison:
    """What :func:`allocator.compare.compare_scenario` returns.

    Attributes
    ----------
    scenario : Scenario
    results : dict
        Variant name -> :class:`ScenarioResult` (plans, tables, regions of that variant).
    table : pandas.DataFrame
        One row per measure (``measure``, ``label``, ``better``), one column per variant, plus
        ``before`` (the region as loaded).
    out : pathlib.Path or None
    failures : dict
        Variant name -> why it has no plan (``Infeasible`` or ``SolverError`` message); such
        variants have no column in the table.
    """

    scenario: Scenario
    results: dict[str, ScenarioResult]
    table: pd.DataFrame
    seconds: float
    out: Path | None = None
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def variants(self) -> list[str]:
        return list(self.results)

    @property
    def plans(self) -> dict[str, dict[str, Any]]:
        """Variant -> step name -> plan."""
        return {v: r.plans for v, r in self.results.items()}

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """``comparison`` plus every variant's tables as ``"<variant>/<table>"``."""
        out = {"comparison": self.table}
        for v, r in self.results.items():
            out.update({f"{v}/{k}": df for k, df in r.tables.items()})
        return out


def plan_status(plan) -> tuple[str, float | None, float | None]:
    """A plan's solve status, relative gap and solver seconds.

    A plan of the plan protocol (:class:`allocator.planners.base.PlanBase`) gives them as the
    first of its :data:`~allocator.planners.base.HEADLINE_KEYS`; another plan from its
    ``solve_info``. A plan solved in parts (a list of :class:`~allocator.solver.SolveInfo`) reports its worst
    status, its largest gap and the seconds summed; a plan without ``solve_info`` gives
    ``("n/a", None, None)``.

    Examples
    --------
    >>> plan_status(object())
    ('n/a', None, None)
    """
    info = getattr(plan, "solve_info", None)
    if info is None:
        return "n/a", None, None
    if isinstance(plan, PlanBase) and not isinstance(info, list | tuple):
        head = plan.solve_headline()
        status, gap, seconds = (head[key] for key in HEADLINE_KEYS[:3])
        return status, gap, seconds
    if isinstance(info, list | tuple):
        order = ["optimal", "feasible", "infeasible", "unbounded", "error"]
        statuses = [getattr(i, "status", "error") for i in info] or ["n/a"]
        worst = max(statuses, key=lambda s: order.index(s) if s in order else len(order))
        gaps = [i.gap for i in info if getattr(i, "gap", None) is not None]
        secs = sum(getattr(i, "seconds", 0.0) or 0.0 for i in info)
        return worst, (max(gaps) if gaps else None), secs
    return (
        getattr(info, "status", "n/a"),
        getattr(info, "gap", None),
        getattr(info, "seconds", None),
    )


def json_safe(value):
    """``value`` as plain JSON data: mappings, lists, finite floats (others None), text for the rest.

    Examples
    --------
    >>> json_safe({"a": (1, float("inf")), 2: Path("x")})
    {'a': [1, None], '2': 'x'}
    """
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return json_safe(value.to_dict(orient="records"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    return str(value)


def plan_tables(plan) -> dict[str, pd.DataFrame]:
    """A plan's tables (``plan.tables``, a dict or a method returning one), DataFrames only.

    Examples
    --------
    >>> plan_tables(object())
    {}
    """
    plan_tables = getattr(plan, "tables", {}) or {}
    if callable(plan_tables):
        plan_tables = plan_tables()
    return {str(k): df for k, df in plan_tables.items() if isinstance(df, pd.DataFrame)}


def result_tables(result: ScenarioResult) -> dict[str, pd.DataFrame]:
    """Every table of a run: ``"<step>.<table>"`` for each plan table, ``outcomes`` (measure x
    stage) and ``cv``, ``area_types`` and ``travel`` over all stages (long form), and the open
    indicators' ``open_schools``, ``open_counties`` and ``open_gaps`` when the region has them."""
    tables: dict[str, pd.DataFrame] = {}
    for s in result.steps:
        for name, df in plan_tables(s.plan).items():
            tables[f"{s.name}.{name}"] = df
    stages = result.stages
    keys = list(dict.fromkeys(k for m in result.measures for k in m.figures))
    tables["outcomes"] = pd.DataFrame(
        {
            stage: [m.figures.get(k) for k in keys]
            for stage, m in zip(stages, result.measures, strict=True)
        },
        index=pd.Index(keys, name="measure"),
    ).reset_index()
    for name in ("cv", "area_types", "travel"):
        frames = [
            getattr(m, name).assign(stage=stage)
            for stage, m in zip(stages, result.measures, strict=True)
        ]
        df = pd.concat(frames, ignore_index=True)
        tables[name] = df[["stage", *[c for c in df.columns if c != "stage"]]]
    for name in ("open_schools", "open_counties", "open_gaps"):
        frames = [
            m.open[name].assign(stage=stage)
            for stage, m in zip(stages, result.measures, strict=True)
            if name in m.open
        ]
        if frames:
            df = pd.concat(frames, ignore_index=True)
            tables[name] = df[["stage", *[c for c in df.columns if c != "stage"]]]
    for name, df in (result.years or {}).items():  # a run over years: its tables by year
        if isinstance(df, pd.DataFrame):
            tables[f"years.{name}"] = df
    return tables


def result_record(result: ScenarioResult) -> dict:
    """The JSON-safe record of a run written to ``result.json``: scenario, region, standard,
    steps (status, gap, policy, headline), costs and every stage's measures."""
    s = result.scenario
    region = result.regions[0]
    return json_safe(
        {
            "scenario": s.name,
            "file": str(s.path),
            "variant": s.variant_name,
            "complete": result.failure is None,
            "failure": result.failure,
            "seconds": round(result.seconds, 3),
            "region": {
                "name": region.name,
                "schools": len(region.schools),
                "settlements": len(region.settlements),
                "counties": region.counties,
            },
            "standard": {"base": s.standard.base, "overrides": s.standard.overrides},
            "steps": [
                {
                    "name": st.name,
                    "planner": st.planner,
                    "status": plan_status(st.plan)[0],
                    "gap": plan_status(st.plan)[1],
                    "seconds": round(st.seconds, 3),
                    "policy": st.policy,
                    "headline": st.headline,
                }
                for st in result.steps
            ],
            "costs": costs(result),
            "years": {
                k: v for k, v in (result.years or {}).items() if not isinstance(v, pd.DataFrame)
            }
            or None,
            "stages": result.stages,
            "measures": {
                stage: m.figures for stage, m in zip(result.stages, result.measures, strict=True)
            },
        }
    )


#: Headline keys read as the capital spent by a plan that has no ``yuan_figures`` method.
COST_KEYS = ("spent_yuan", "cost_yuan", "total_cost_yuan")


def step_costs(step: StepResult) -> dict[str, float]:
    """The yuan figures of one step, from its plan's ``yuan_figures(policy)`` method:
    ``capital_yuan``, ``hiring_yuan_per_year``, ``running_change_yuan_per_year``. A plan without
    the method (one not built on :class:`~allocator.planners.base.PlanBase`) has its capital read
    from the first of :data:`COST_KEYS` in its headline.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.pipeline import run_scenario
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> step_costs(result.steps[0])["capital_yuan"] <= 4e7 * (1 + 1e-6)
    True
    """
    own = getattr(step.plan, "yuan_figures", None)
    if callable(own):
        figures = own(step.policy)
    else:
        head = step.headline
        spent = [
            head[k]
            for k in COST_KEYS
            if isinstance(head.get(k), int | float) and not isinstance(head.get(k), bool)
        ]
        figures = {"capital_yuan": spent[0]} if spent else {}
    return {str(k): float(v) for k, v in figures.items() if v is not None and math.isfinite(v)}


def costs(result: ScenarioResult) -> dict[str, float]:
    """Yuan figures summed over the steps, and ``cost_yuan``: their total (None if none).

    ``cost_yuan`` adds the capital spent to one year of hiring and of the change in running costs.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.pipeline import run_scenario
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> figures = costs(result)
    >>> parts = ("capital_yuan", "hiring_yuan_per_year", "running_change_yuan_per_year")
    >>> abs(figures["cost_yuan"] - sum(figures[k] for k in parts)) < 1e-6
    True
    """
    out: dict[str, float] = {}
    for s in result.steps:
        for key, value in step_costs(s).items():
            out[key] = out.get(key, 0.0) + value
    out["cost_yuan"] = sum(out.values()) if out else None
    return out
