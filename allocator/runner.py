"""The scenario runner: scenario file -> pipeline of plans -> report, CSV tables and result.json.

:func:`run_scenario` loads the region, then runs each ``[[steps]]`` planner on the region the step
before produced (``plan = planner(region, policy, options, progress)``, ``region = plan.apply(region)``)
and measures every region on the same yardstick (:func:`measure`): compliance with the standard,
each indicator's pupil-weighted CV per county against its limit, urban / town / rural means and the
rural/urban ratio, and travel to the nearest school. :func:`compare_scenario` runs each
``[[variants]]`` block in its own process and tabulates the measures side by side.

Outputs go to a temporary folder that is renamed into place whole (:class:`allocator.outputs.output_folder`),
so a failed write leaves nothing behind and never half-replaces an earlier result; a folder allocator
did not write is never replaced. When a step fails, the steps finished before it are written, marked
incomplete, with the failing step's diagnosis on the report page.

Measures (for a region and a standard)
---------------------------------------
* Parts: :func:`allocator.standards.assessment_parts`, in-scope parts only. A part *complies* when
  it passes by :func:`allocator.compliance.part_verdicts`, the definition :func:`allocator.check`
  uses: at least ``min_indicators_met`` of its assessed indicators met (within
  ``allocator.compliance.MET_RTOL``) and, if ``floor_share`` is set, each reaching ``floor_share``
  x its threshold.
* CV: ``allocator.metrics.cv`` of each indicator over the in-scope parts of one county and part type,
  weighted by pupils; "worst county" is the largest over counties. County verdicts (CV rule, every
  part passing) are :func:`allocator.compliance.county_verdicts`.
* Area types: pupil-weighted mean of each indicator divided by its threshold (so primary and junior
  parts pool), per urban / town / rural; rural/urban ratio = rural mean / urban mean (1 = no gap).
* Travel: for each settlement and band (grades 1-3, 4-6, 7-9), road minutes to the nearest school
  of its county that teaches the band (its level's bands, or any band it enrols; multi-source
  shortest paths); pupil-weighted mean, maximum and pupils beyond
  the limit (``standard.travel.lower_primary_minutes`` for grades 1-3, 60 minutes for the others).
  This is the best a pupil can reach; a merger plan's own assignment table says where pupils go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocator import compliance
from allocator.errors import Infeasible, InputError, SolverError
from allocator.metrics import _percentile_raw  # values may be inf (unreachable settlements)
from allocator.scenario import _REGISTERED as _REGISTERED_PLANNERS
from allocator.scenario import (
    Scenario,
    get_planner,
    load_scenario,
    merge_overrides,
    parse_assignment,
    register_planner,
)
from allocator.standards import PARTS, assessment_parts
from allocator.text import plural

__all__ = [
    "run_scenario",
    "compare_scenario",
    "ScenarioResult",
    "StepResult",
    "Comparison",
    "Measures",
    "measure",
    "write_run",
    "write_comparison",
    "protected_inputs",
    "add_run_commands",
    "cli_run",
    "cli_compare",
    "COST_KEYS",
    "costs",
    "step_costs",
    "comparison_table",
]

#: Headline keys of a plan that count as its cost in yuan (summed over steps for "cost").
COST_KEYS = ("spent_yuan", "cost_yuan", "total_cost_yuan", "spent", "cost")
_BANDS = {
    "lower_primary": ("primary", "nine_year", "teaching_point"),
    "upper_primary": ("primary", "nine_year", "teaching_point"),
    "junior": ("junior", "nine_year"),
}
_OTHER_BAND_LIMIT_MINUTES = 60.0
_Progress = Callable[[str], None] | bool | None


# --------------------------------------------------------------------------- measures
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
    """

    figures: dict
    parts: pd.DataFrame
    cv: pd.DataFrame
    area_types: pd.DataFrame
    travel: pd.DataFrame
    counties: pd.DataFrame | None = None


def _nearest_minutes(region, school_nodes) -> np.ndarray:
    """Minutes from every road node to the nearest of ``school_nodes`` (inf if unreachable)."""
    from scipy.sparse.csgraph import dijkstra

    index, graph = region._road_matrix()
    if len(school_nodes) == 0:
        return np.full(graph.shape[0], np.inf), index
    sources = np.unique([index[str(n)] for n in school_nodes])
    dist = dijkstra(graph, directed=False, indices=sources, min_only=True)
    return dist, index


def _travel(region, standard) -> pd.DataFrame:
    settlements = region.settlements
    schools = region.schools
    limit_lower = float(getattr(getattr(standard, "travel", None), "lower_primary_minutes", 30.0))
    rows = []
    enrolled = schools[[c for c in schools.columns if c.startswith("pupils_")]].sum(axis=1)
    for band, levels in _BANDS.items():
        pupils = settlements[f"pupils_{band}"].to_numpy(float)
        teaches = (schools["level"].isin(levels) & (enrolled > 0)) | (schools[f"pupils_{band}"] > 0)
        limit = limit_lower if band == "lower_primary" else _OTHER_BAND_LIMIT_MINUTES
        if pupils.sum() <= 0:
            rows.append((band, 0, np.nan, np.nan, np.nan, limit, 0))
            continue
        minutes = np.full(len(settlements), np.inf)
        for county in settlements["county"].unique():
            here = (settlements["county"] == county).to_numpy()
            capable = schools.loc[teaches & (schools["county"] == county), "node"].to_numpy()
            dist, index = _nearest_minutes(region, capable)
            minutes[here] = dist[[index[str(n)] for n in settlements.loc[here, "node"]]]
        has = pupils > 0
        m, p = minutes[has], pupils[has]
        finite = np.isfinite(m)
        mean = float(np.dot(m[finite], p[finite]) / p[finite].sum()) if finite.any() else np.nan
        rows.append(
            (
                band,
                int(p.sum()),
                mean,
                _percentile_raw(m, p, 95) if p.size else np.nan,
                float(m.max()),
                limit,
                int(p[~(m <= limit + 1e-9)].sum()),
            )
        )
    return pd.DataFrame(
        rows,
        columns=[
            "band",
            "pupils",
            "mean_minutes",
            "p95_minutes",
            "max_minutes",
            "limit_minutes",
            "pupils_over_limit",
        ],
    )


def _compliance(parts: pd.DataFrame, standard) -> pd.DataFrame:
    """Parts with the verdicts of :func:`allocator.compliance.part_verdicts` (``<k>_met``,
    ``passes``), ``met`` (indicators met), ``complies`` (``passes``; NaN when no part type is
    judged) and each thresholded indicator as a share of its threshold (``<k>_share``)."""
    parts = parts.join(compliance.part_verdicts(parts, standard))
    kinds = parts["part"].to_numpy()
    shown = [k for k in standard.indicators if k in parts.columns]
    shown += [k for p in PARTS for k in standard.thresholds.get(p, {}) if k not in shown]
    for k in shown:
        if k not in parts.columns:
            continue
        t = np.array([standard.thresholds.get(p, {}).get(k, np.nan) for p in kinds], dtype=float)
        if not np.isnan(t).all():
            parts[f"{k}_share"] = parts[k].to_numpy(float) / t
    parts["met"] = parts["indicators_met"].astype(int)
    if any(standard.assessed_indicators(p) for p in PARTS):
        parts["complies"] = parts["passes"].fillna(False).astype(bool)
    else:
        parts["complies"] = np.nan
    return parts


def measure(region, standard) -> Measures:
    """Measure a region against a standard (see the module docstring for the definitions).

    Parameters
    ----------
    region : allocator.region.Region
    standard : allocator.standards.Standard

    Returns
    -------
    Measures

    Examples
    --------
    >>> from allocator.synth import make_region
    >>> from allocator.standards import load_standard
    >>> m = measure(make_region(schools=60, seed=1), load_standard())
    >>> 0 <= m.figures["parts_compliant"] <= m.figures["parts_assessed"]
    True
    """
    parts = assessment_parts(region.schools, standard)
    parts = _compliance(parts[parts["in_scope"]].reset_index(drop=True), standard)
    indicators = [k for k in standard.indicators if k in parts.columns]
    figures: dict[str, Any] = {
        "schools": int(len(region.schools)),
        "pupils": int(
            region.schools[[c for c in region.schools if c.startswith("pupils_")]].sum().sum()
        ),
        "parts_assessed": int(len(parts)),
    }
    if parts["complies"].notna().all() and len(parts):
        figures["parts_compliant"] = int(parts["complies"].sum())
        figures["compliant_share"] = float(parts["complies"].mean())
        for area in ("urban", "town", "rural"):
            sub = parts[parts["area_type"] == area]
            figures[f"compliant_share.{area}"] = float(sub["complies"].mean()) if len(sub) else None
    # CV by county, part and indicator, and the county verdicts (allocator.compliance)
    counties, long = compliance.county_verdicts(parts, standard)
    cv_rows = [
        (r.county, r.part, r.indicator, r.cv, r.cv_limit, bool(r.cv_ok))
        for r in long.itertuples(index=False)
        if r.indicator in indicators
    ]
    cv_table = pd.DataFrame(
        cv_rows, columns=["county", "part", "indicator", "cv", "limit", "within_limit"]
    )
    sizes = counties[["county", "part", "schools"]].rename(columns={"schools": "parts"})
    cv_table = cv_table.merge(sizes, on=["county", "part"], how="left")
    for part in PARTS:
        sub = cv_table[cv_table["part"] == part]
        if sub.empty:
            continue
        for k in indicators:
            values = sub.loc[sub["indicator"] == k, "cv"]
            figures[f"cv_worst.{part}.{k}"] = _num(values.max())
        here = counties[counties["part"] == part]
        figures[f"counties_cv_ok.{part}"] = int(here["cv_ok"].sum())
        figures[f"counties.{part}"] = int(len(here))
        figures[f"counties_passing.{part}"] = int(here["passes"].sum())
    # area types
    area_rows = []
    for k in indicators:
        col = f"{k}_share" if f"{k}_share" in parts.columns else k
        row = {"indicator": k}
        for area in ("urban", "town", "rural"):
            sub = parts[(parts["area_type"] == area) & parts[col].notna()]
            w = sub["pupils"].to_numpy(float)
            row[area] = float(np.dot(sub[col].to_numpy(float), w) / w.sum()) if w.sum() else np.nan
        row["rural_urban"] = row["rural"] / row["urban"] if row["urban"] else np.nan
        area_rows.append(row)
        figures[f"rural_urban.{k}"] = _num(row["rural_urban"])
    area_table = pd.DataFrame(
        area_rows, columns=["indicator", "urban", "town", "rural", "rural_urban"]
    )
    travel = _travel(region, standard)
    for row in travel.itertuples(index=False):
        figures[f"travel.{row.band}.mean_minutes"] = _num(row.mean_minutes)
        figures[f"travel.{row.band}.max_minutes"] = _num(row.max_minutes)
        figures[f"travel.{row.band}.pupils_over_limit"] = int(row.pupils_over_limit)
    return Measures(figures, parts, cv_table, area_table, travel, counties)


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- results
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
        return _json_safe(self.plan.headline()) if hasattr(self.plan, "headline") else {}

    @property
    def status(self) -> str:
        info = _solve_info(self.plan)
        return info[0]


@dataclass
class ScenarioResult:
    """What :func:`run_scenario` returns.

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
        from allocator.sheets import slug

        stems = {}
        for st in self.steps:
            for name in _plan_tables(st.plan):
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

    def summary(self) -> str:
        """A few lines: what ran and how the key figures moved from start to end."""
        first, last = self.measures[0].figures, self.measures[-1].figures
        lines = [f"{self.scenario.name}: {len(self.steps)} step(s) in {self.seconds:.1f} s"]
        if self.failure is not None:
            f = self.failure
            lines[0] += f" (INCOMPLETE: step {f['index']} {f['step']} failed)"
        for s in self.steps:
            lines.append(f"  {s.name} ({s.planner}): {s.status}, {s.seconds:.1f} s")
        if self.failure is not None:
            f = self.failure
            lines.append(f"  {f['step']} ({f['planner']}): {f['error']}: {f['message']}")
        for key, label in _KEY_FIGURES:
            if key in first or key in last:
                lines.append(f"  {label}: {_fmt(first.get(key))} -> {_fmt(last.get(key))}")
        return "\n".join(lines)


_KEY_FIGURES = (
    ("parts_compliant", "compliant school parts"),
    ("compliant_share.rural", "rural parts compliant (share)"),
    ("counties_cv_ok.primary", "counties within every primary CV limit"),
    ("counties_cv_ok.junior", "counties within every junior CV limit"),
    ("travel.lower_primary.max_minutes", "longest trip, grades 1-3 (min)"),
    ("travel.lower_primary.pupils_over_limit", "grade 1-3 pupils beyond the limit"),
)


def _step_slug(step) -> str:
    """The file-name form of a step's name (:func:`allocator.sheets.slug`)."""
    from allocator.sheets import slug

    return slug(step.name, "step")


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _solve_info(plan) -> tuple[str, float | None, float | None]:
    info = getattr(plan, "solve_info", None)
    if info is None:
        return "n/a", None, None
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


def _json_safe(value):
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _json_safe(value.to_dict(orient="records"))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int | str | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    return str(value)


# --------------------------------------------------------------------------- progress
def _progress_printer(progress: _Progress) -> Callable[[str], None]:
    if progress is None or progress is False:
        return lambda _message: None
    if progress is True:
        start = time.perf_counter()

        def emit(message: str) -> None:
            print(f"[{time.perf_counter() - start:6.1f} s] {message}", file=sys.stderr, flush=True)

        return emit
    return progress


# --------------------------------------------------------------------------- run
def run_scenario(
    path: str | os.PathLike | Scenario,
    out: str | os.PathLike | None = None,
    progress: _Progress = None,
    *,
    variant: str | None = None,
    overrides: Mapping | None = None,
    write: bool = True,
    force: bool = False,
) -> ScenarioResult:
    """Run a scenario's pipeline and write its report, tables and result.json.

    Parameters
    ----------
    path : str, path-like or Scenario
        The scenario file (or an already loaded scenario).
    out : str or path-like, optional
        Output folder, written beside and moved into place whole. Default: the scenario's
        ``[output] folder``. It is checked before anything runs: an existing folder is replaced
        only if it is this scenario's earlier output that nobody changed since (or, with
        ``force``, any folder allocator wrote); never a folder allocator did not write, the
        current folder, the region data, the scenario's folder or a folder containing them
        (:func:`allocator.outputs.check_target`).
    progress : callable, bool or None
        ``True`` prints one line per stage (step, county) to stderr; a callable receives each line;
        ``None`` is silent.
    variant : str, optional
        Apply the ``[[variants]]`` block of this name first.
    overrides : mapping, optional
        Further overrides in the layout of a variant block, e.g. ``{"region": {"schools": 60}}``.
    write : bool
        ``False`` computes without writing anything.
    force : bool
        Replace an output folder allocator wrote even if it was changed since or made by another
        command or scenario.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    InputError
        Bad scenario, or an output folder that may not be replaced (nothing is written).
    Infeasible, SolverError
        From a planner, prefixed with the step that failed. The steps finished before it are
        written (report, tables, result.json, marked incomplete, with the diagnosis on the
        report page); the message says where, and the exception's ``partial`` attribute holds
        that :class:`ScenarioResult` (``failure`` says what failed).

    Examples
    --------
    >>> import pathlib
    >>> demo = pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml"
    >>> result = run_scenario(demo, write=False, overrides={"region": {"schools": 40}})
    >>> list(result.plans)
    ['mergers', 'districts', 'budget', 'teachers']
    """
    started = time.perf_counter()
    emit = _progress_printer(progress)
    scenario = path if isinstance(path, Scenario) else load_scenario(path, overrides)
    if isinstance(path, Scenario) and overrides:
        scenario = load_scenario(path.path, overrides)
    if variant is not None:
        scenario = scenario.variant(variant)
    folder = None
    if write:
        from allocator.outputs import check_target

        folder = Path(out) if out is not None else scenario.output.folder
        check_target(
            folder, "run", source=scenario.path, force=force, protect=protected_inputs(scenario)
        )
    emit(f"scenario {scenario.name}" + (f" / variant {variant}" if variant else ""))
    standard = scenario.standard.load()
    try:
        region = scenario.region.load()
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"[region]: {exc}", file=str(scenario.path)) from None
    emit(
        f"region {region.name}: {plural(len(region.schools), 'school')}, "
        f"{plural(len(region.counties), 'county')}"
    )
    regions = [region]
    measures = [measure(region, standard)]
    steps: list[StepResult] = []
    active = [s for s in scenario.steps if s.enabled]
    for k, step in enumerate(active, start=1):
        planner = get_planner(step.planner)
        policy = step.policy()
        label = f"step {k}/{len(active)} {step.name}"
        emit(f"{label}: planning")
        t0 = time.perf_counter()
        try:
            plan = planner.plan(
                region,
                policy,
                options=scenario.solver_options(step),
                progress=lambda message, label=label: emit(f"{label}: {message}"),
            )
        except InputError as exc:  # a policy setting the region refutes: name its line and key
            raise scenario.step_error(step, exc) from None
        except (Infeasible, SolverError) as exc:
            failure = {
                "step": step.name,
                "index": k,
                "planner": step.planner,
                "error": type(exc).__name__,
                "message": exc.message,
            }
            if isinstance(exc, Infeasible):
                error = Infeasible(f"{label} ({step.planner}): {exc.message}", exc.violations)
            else:
                error = SolverError(f"{label} ({step.planner}): {exc.message}", exc.info)
            partial = ScenarioResult(
                scenario, standard, steps, regions, measures, time.perf_counter() - started
            )
            partial.failure = failure
            partial.tables = _tables(partial)
            partial.result = _result_dict(partial)
            error.partial = partial
            if folder is not None:
                write_run(partial, folder, force=force)
                partial.out = folder
                done = ", ".join(st.name for st in steps) or "none"
                error.message += (
                    f"; the finished steps ({done}) are written to {folder} (marked incomplete)"
                )
                error.args = (error.message,)
                emit(f"wrote {folder} (incomplete)")
            raise error from None
        seconds = time.perf_counter() - t0
        status = _solve_info(plan)[0]
        emit(f"{label}: {status} in {seconds:.1f} s; applying")
        region = plan.apply(region)
        regions.append(region)
        measures.append(measure(region, standard))
        steps.append(
            StepResult(step.name, step.planner, policy, plan, seconds, measures[-2], measures[-1])
        )
    result = ScenarioResult(
        scenario, standard, steps, regions, measures, time.perf_counter() - started
    )
    result.tables = _tables(result)
    result.result = _result_dict(result)
    if folder is not None:
        write_run(result, folder, force=force)
        result.out = folder
        emit(f"wrote {folder}")
    return result


def protected_inputs(scenario: Scenario) -> list[tuple[Path, str]]:
    """The scenario's inputs that an output may never replace: the scenario file and its folder,
    the region data (a folder or a workbook), and files the steps read (``(path, label)`` pairs).

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml"
    >>> [label for _, label in protected_inputs(load_scenario(f))]
    ['the scenario file', "the scenario's folder"]
    """
    out = [
        (Path(scenario.path), "the scenario file"),
        (Path(scenario.path).parent, "the scenario's folder"),
    ]
    if scenario.region.data is not None:
        out.append((Path(scenario.region.data), "the region data"))
    for step in scenario.steps:
        for key, value in step.params.items():
            if isinstance(value, Path):
                out.append((value, f"the file of steps.{step.name}.{key}"))
    return out


def _plan_tables(plan) -> dict[str, pd.DataFrame]:
    """A plan's tables (``plan.tables``, a dict or a method returning one), DataFrames only."""
    plan_tables = getattr(plan, "tables", {}) or {}
    if callable(plan_tables):
        plan_tables = plan_tables()
    return {str(k): df for k, df in plan_tables.items() if isinstance(df, pd.DataFrame)}


def _tables(result: ScenarioResult) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for s in result.steps:
        for name, df in _plan_tables(s.plan).items():
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
    return tables


def _result_dict(result: ScenarioResult) -> dict:
    s = result.scenario
    region = result.regions[0]
    return _json_safe(
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
                    "status": _solve_info(st.plan)[0],
                    "gap": _solve_info(st.plan)[1],
                    "seconds": round(st.seconds, 3),
                    "policy": st.policy,
                    "headline": st.headline,
                }
                for st in result.steps
            ],
            "costs": costs(result),
            "stages": result.stages,
            "measures": {
                stage: m.figures for stage, m in zip(result.stages, result.measures, strict=True)
            },
        }
    )


def step_costs(step: StepResult) -> dict[str, float]:
    """The yuan figures of one step: ``capital_yuan``, ``hiring_yuan_per_year``, ``running_change_yuan_per_year``.

    Budget plans: the money spent (``spent_yuan``). Teacher plans: hires x ``cost_per_hire_yuan`` (or
    ``hiring_cost_yuan``). Merger plans: annual cost after minus before (negative: a saving).
    Other planners: the first of :data:`COST_KEYS` in their headline, counted as capital.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> step_costs(result.steps[0])["capital_yuan"] <= 4e7 * (1 + 1e-6)
    True
    """
    head = step.headline
    out: dict[str, float] = {}

    def number(key):
        value = head.get(key)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None

    if (
        number("annual_cost_after_yuan") is not None
        and number("annual_cost_before_yuan") is not None
    ):
        out["running_change_yuan_per_year"] = number("annual_cost_after_yuan") - number(
            "annual_cost_before_yuan"
        )
    if number("hiring_cost_yuan") is not None:
        out["hiring_yuan_per_year"] = number("hiring_cost_yuan")
    elif number("hires") is not None and hasattr(step.policy, "cost_per_hire_yuan"):
        out["hiring_yuan_per_year"] = number("hires") * float(step.policy.cost_per_hire_yuan)
    if not out:
        for key in COST_KEYS:
            if number(key) is not None:
                out["capital_yuan"] = number(key)
                break
    return out


def costs(result: ScenarioResult) -> dict[str, float]:
    """Yuan figures summed over the steps, and ``cost_yuan``: their total (None if none).

    ``cost_yuan`` adds the capital spent to one year of hiring and of the change in running costs.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> figures = costs(result)
    >>> figures["cost_yuan"] == figures["capital_yuan"]
    True
    """
    out: dict[str, float] = {}
    for s in result.steps:
        for key, value in step_costs(s).items():
            out[key] = out.get(key, 0.0) + value
    out["cost_yuan"] = sum(out.values()) if out else None
    return out


def write_run(result: ScenarioResult, folder: str | os.PathLike, *, force: bool = False) -> Path:
    """Write a run's outputs (formats of the scenario's ``[output]``) into ``folder`` atomically.

    File names come from :attr:`ScenarioResult.files` (step names made safe) and stay inside the
    folder; text cells that a spreadsheet would evaluate are written with a leading ``'``; Excel
    sheet names are unique and at most 31 characters. The folder carries allocator's marker
    (:data:`allocator.outputs.MARKER`); an incomplete run says so there, in ``result.json`` and
    on the report page.

    Parameters
    ----------
    result : ScenarioResult
    folder : str or path-like
    force : bool
        As in :func:`run_scenario` (the same rules decide whether ``folder`` may be replaced).

    Raises
    ------
    InputError
        When the folder may not be replaced, or on a permission or rename failure.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> import tempfile
    >>> folder = write_run(result, pathlib.Path(tempfile.mkdtemp()) / "out")
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['.allocator-output.json', 'area_types.csv', 'budget.allocations.csv']
    """
    from allocator.io import write_region_csv
    from allocator.outputs import output_folder
    from allocator.report import render_run
    from allocator.sheets import inside, write_csv, write_xlsx

    formats = result.scenario.output.formats
    folder = Path(folder)
    details = {"scenario": result.scenario.name, "variant": result.scenario.variant_name}
    if result.failure is not None:
        details["failure"] = result.failure
    names = result.files
    with output_folder(
        folder,
        "run",
        source=result.scenario.path,
        force=force,
        protect=protected_inputs(result.scenario),
        complete=result.failure is None,
        details=details,
    ) as tmp:
        files = []
        if "csv" in formats:
            for name, df in result.tables.items():
                write_csv(df, inside(tmp, names[name]), bom=True)
                files.append(names[name])
        if "xlsx" in formats:
            write_xlsx(result.tables, inside(tmp, "tables.xlsx"), "run")
            files.append("tables.xlsx")
        if "region" in formats:
            region_dir = inside(tmp, "region_after")
            region_dir.mkdir()
            write_region_csv(result.regions[-1], region_dir)
            files.append("region_after/")
        if "html" in formats:
            inside(tmp, "report.html").write_text(render_run(result), encoding="utf-8")
            files.append("report.html")
        if "json" in formats:
            data = dict(result.result, files=files)
            inside(tmp, "result.json").write_text(
                json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
            )
    return folder


# --------------------------------------------------------------------------- compare
@dataclass
class Comparison:
    """What :func:`compare_scenario` returns.

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


def _comparison_rows(standard) -> list[tuple[str, str, str]]:
    """(measure key, label, better) rows of the comparison table; better: low, high, one."""
    from allocator.standards import INDICATORS

    rows = [
        ("cost_yuan", "cost (yuan): capital + one year of hiring and running-cost change", "low"),
        ("cost.capital_yuan", "capital spent (yuan)", "low"),
        ("cost.hiring_yuan_per_year", "hiring (yuan a year)", "low"),
        (
            "cost.running_change_yuan_per_year",
            "running-cost change after mergers (yuan a year)",
            "low",
        ),
        ("parts_compliant", "compliant school parts", "high"),
        ("compliant_share", "compliant share", "high"),
        ("compliant_share.rural", "compliant share, rural", "high"),
    ]
    for part in ("primary", "junior"):
        rows.append((f"counties_cv_ok.{part}", f"counties within all CV limits, {part}", "high"))
        for k in INDICATORS:
            rows.append((f"cv_worst.{part}.{k}", f"CV {k}, {part} (worst county)", "low"))
    for k in INDICATORS:
        rows.append((f"rural_urban.{k}", f"rural/urban {k}", "one"))
    for band in _BANDS:
        rows.append((f"travel.{band}.mean_minutes", f"travel {band}, mean (min)", "low"))
        rows.append((f"travel.{band}.max_minutes", f"travel {band}, max (min)", "low"))
        rows.append((f"travel.{band}.pupils_over_limit", f"{band} pupils beyond the limit", "low"))
    return rows


def comparison_table(results: Mapping[str, ScenarioResult]) -> pd.DataFrame:
    """The measure × variant table: a ``before`` column then the final measures of each variant.

    Rows: cost, compliance, each indicator's worst-county CV per part, rural/urban ratios, travel,
    then every plan headline figure (``<step>.<key>``). ``better`` says which way is better.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> table = comparison_table({"as written": result})
    >>> list(table.columns)
    ['measure', 'label', 'better', 'before', 'as written']
    """
    first = next(iter(results.values()))
    rows = _comparison_rows(first.standard)
    data = {}
    before = dict(first.measures[0].figures)
    data["before"] = before
    for name, r in results.items():
        figures = dict(r.measures[-1].figures)
        figures.update({f"cost.{k}" if k != "cost_yuan" else k: v for k, v in costs(r).items()})
        for s in r.steps:
            for key, value in s.headline.items():
                figures[f"{s.name}.{key}"] = value
        data[name] = figures
    extra = list(
        dict.fromkeys(
            k
            for n, f in data.items()
            if n != "before"
            for k in f
            if "." in k and k.split(".")[0] in {s.name for r in results.values() for s in r.steps}
        )
    )
    all_rows = [r for r in rows if any(r[0] in f for f in data.values())]
    all_rows += [(k, k, "") for k in extra]
    table = pd.DataFrame(
        {
            "measure": [r[0] for r in all_rows],
            "label": [r[1] for r in all_rows],
            "better": [r[2] for r in all_rows],
            **{name: [f.get(r[0]) for r in all_rows] for name, f in data.items()},
        }
    )
    return table


def _variant_worker(path, variant, overrides, registered, progress):
    for name, (plan, policy) in registered.items():
        register_planner(name, plan, policy)
    emit = _progress_printer(progress)
    try:
        result = run_scenario(
            path,
            progress=(lambda m: emit(f"[{variant}] {m}")) if progress else None,
            variant=variant,
            overrides=overrides,
            write=False,
        )
    except (Infeasible, SolverError) as exc:
        exc.__dict__.pop("partial", None)  # regions and plans: too heavy to send back
        raise

    for r in result.regions:  # caches are rebuilt on demand; keep the pickle small
        r._travel_cache = {}
    return result


@contextlib.contextmanager
def _main_module_hidden(registered: Mapping):
    """Keep spawned workers from re-running the caller's script (``__main__``).

    A spawned process normally imports the parent's main module again: a script without an
    ``if __name__ == "__main__"`` guard would run again in every worker, and code typed at a
    prompt or piped in cannot be imported at all. The workers need only allocator and the
    planners' modules, so the main module is hidden while they start, unless a registered planner
    is defined in it.
    """
    main = sys.modules.get("__main__")
    needed = any(
        getattr(obj, "__module__", None) == "__main__"
        for pair in registered.values()
        for obj in pair
    )
    if main is None or needed:
        yield
        return
    saved = {a: main.__dict__[a] for a in ("__file__", "__spec__") if a in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def compare_scenario(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    progress: _Progress = None,
    *,
    variants: list[str] | None = None,
    overrides: Mapping | None = None,
    workers: int = 2,
    write: bool = True,
    force: bool = False,
) -> Comparison:
    """Run every ``[[variants]]`` block of a scenario (in parallel processes) and compare them.

    Parameters
    ----------
    path : str or path-like
        The scenario file; it must define at least one variant.
    out : str or path-like, optional
        Output folder; default: the scenario's ``[output] folder`` with ``_compare`` appended.
    progress : callable, bool or None
        As in :func:`run_scenario`; lines are prefixed with the variant name.
    variants : list of str, optional
        Only these variants (default: all, in file order).
    overrides : mapping, optional
        Applied to every variant (e.g. a smaller region).
    workers : int
        Processes (at most 2; 1 runs in this process). Without a ``threads`` setting each
        worker's solver uses one thread, so two workers share two cores.
    write : bool
        ``False`` computes without writing.
    force : bool
        As in :func:`run_scenario`: the output folder is checked before anything runs.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> c = compare_scenario(f, write=False, workers=1, overrides={"region": {"schools": 40}})
    >>> len(c.variants) >= 4
    True
    """
    started = time.perf_counter()
    emit = _progress_printer(progress)
    scenario = load_scenario(path, overrides)
    names = [v.name for v in scenario.variants]
    if not names:
        raise InputError(
            "no [[variants]] to compare; expected at least one [[variants]] block",
            file=str(scenario.path),
        )
    if variants:
        for v in variants:
            scenario.variant(v)  # raises for an unknown name
        names = [n for n in names if n in variants]
    folder = None
    if write:
        from allocator.outputs import check_target

        folder = Path(out) if out is not None else Path(f"{scenario.output.folder}_compare")
        check_target(
            folder,
            "compare",
            source=scenario.path,
            force=force,
            protect=protected_inputs(scenario),
        )
    workers = max(1, min(int(workers), 2, len(names)))
    over = dict(overrides or {})
    if workers > 1 and "threads" not in scenario.solver:
        over = merge_overrides(over, {"solver": {"threads": 1}})
    registered = {n: (p.plan, p.policy) for n, p in _REGISTERED_PLANNERS.items()}
    emit(f"comparing {len(names)} variants of {scenario.name} with {workers} process(es)")
    results: dict[str, ScenarioResult] = {}
    failures: dict[str, str] = {}

    def collect(name, get):
        try:
            results[name] = get()
            emit(f"variant {name}: done")
        except (Infeasible, SolverError) as exc:
            # A variant without a plan is a finding, not a reason to drop the others.
            failures[name] = f"{type(exc).__name__}: {exc.message}"
            emit(f"variant {name}: no plan ({failures[name]})")

    args = (scenario.path, over, registered, progress is not None)
    if workers == 1:
        for name in names:
            collect(name, lambda name=name: _variant_worker(args[0], name, *args[1:]))
    else:
        context = multiprocessing.get_context("spawn")
        with (
            _main_module_hidden(registered),
            ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
        ):
            futures = {
                name: pool.submit(_variant_worker, args[0], name, *args[1:]) for name in names
            }
            for name, future in futures.items():
                collect(name, future.result)
    if not results:
        name, message = next(iter(failures.items()))
        raise Infeasible(f"no variant has a plan; variant {name!r}: {message}")
    table = comparison_table(results)
    comparison = Comparison(
        scenario, results, table, time.perf_counter() - started, failures=failures
    )
    if folder is not None:
        write_comparison(comparison, folder, force=force)
        comparison.out = folder
        emit(f"wrote {folder}")
    return comparison


def write_comparison(
    comparison: Comparison, folder: str | os.PathLike, *, force: bool = False
) -> Path:
    """Write ``report.html``, ``comparison.csv`` and ``result.json`` of a comparison atomically.

    Each variant's tables go to a sub-folder named after the variant, made safe for a file name
    (:func:`allocator.sheets.unique_slugs`). The same rules as :func:`write_run` decide whether
    an existing ``folder`` may be replaced (``InputError`` otherwise).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> c = compare_scenario(f, write=False, workers=1, variants=["minimax"],
    ...                      overrides={"region": {"schools": 40}})
    >>> folder = write_comparison(c, pathlib.Path(tempfile.mkdtemp()) / "cmp")
    >>> sorted(p.name for p in folder.iterdir())
    ['.allocator-output.json', 'comparison.csv', 'minimax', 'report.html', 'result.json']
    """
    from allocator.outputs import output_folder
    from allocator.report import render_comparison
    from allocator.sheets import inside, unique_slugs, write_csv

    folder = Path(folder)
    formats = comparison.scenario.output.formats
    subfolders = unique_slugs(comparison.results, "variant")
    with output_folder(
        folder,
        "compare",
        source=comparison.scenario.path,
        force=force,
        protect=protected_inputs(comparison.scenario),
        details={"scenario": comparison.scenario.name},
    ) as tmp:
        write_csv(comparison.table, inside(tmp, "comparison.csv"), bom=True)
        if "csv" in formats:
            for v, r in comparison.results.items():
                sub = inside(tmp, subfolders[v])
                sub.mkdir()
                names = r.files
                for name, df in r.tables.items():
                    write_csv(df, inside(sub, names[name]), bom=True)
        if "html" in formats:
            inside(tmp, "report.html").write_text(render_comparison(comparison), encoding="utf-8")
        data = {
            "scenario": comparison.scenario.name,
            "file": str(comparison.scenario.path),
            "seconds": round(comparison.seconds, 3),
            "variants": {v: r.result for v, r in comparison.results.items()},
            "folders": subfolders,
            "failures": comparison.failures,
            "comparison": comparison.table.to_dict(orient="records"),
        }
        inside(tmp, "result.json").write_text(
            json.dumps(_json_safe(data), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return folder


# --------------------------------------------------------------------------- command line
def _overrides_from(args) -> dict:
    parts = [parse_assignment(a) for a in (getattr(args, "set", None) or [])]
    if getattr(args, "verbose", False):  # the solver's log on stderr-side output, when asked
        parts.append(parse_assignment("solver.log=true"))
    return merge_overrides(*parts) if parts else {}


def cli_run(args) -> int:
    """``allocator run SCENARIO [--out DIR] [--variant NAME] [--set KEY=VALUE] [--quiet] [--force]``.

    A failed step ends with exit status 1 after the finished steps are written (marked
    incomplete); the message says where.
    """
    result = run_scenario(
        args.scenario,
        out=args.out,
        progress=not args.quiet,
        variant=args.variant,
        overrides=_overrides_from(args),
        force=args.force,
    )
    print(result.summary())
    print(f"report: {result.out / 'report.html'}")
    return 0


def cli_compare(args) -> int:
    """``allocator compare SCENARIO [--out DIR] [--workers N] [--set KEY=VALUE] [--quiet] [--force]``."""
    comparison = compare_scenario(
        args.scenario,
        out=args.out,
        progress=not args.quiet,
        overrides=_overrides_from(args),
        workers=args.workers,
        variants=args.variants or None,
        force=args.force,
    )
    table = comparison.table.set_index("label").drop(columns=["measure", "better"])
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_rows", 60):
        print(table.to_string(float_format=lambda v: f"{v:,.3g}" if abs(v) < 1e4 else f"{v:,.0f}"))
    for name, why in comparison.failures.items():
        print(f"variant {name!r} has no plan: {why}")
    print(f"report: {comparison.out / 'report.html'}")
    return 0


_VERBOSE_HELP = "show the solver's own log (HiGHS or CBC); without it only results are printed"
_FORCE_HELP = (
    "also replace an output folder allocator wrote that was changed since or made by another "
    "command or scenario (never a folder allocator did not write; by default only this "
    "scenario's own unchanged output is replaced)"
)


def add_run_commands(subparsers) -> None:
    """Add the ``run`` and ``compare`` subcommands to an argparse subparsers object.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="allocator")
    >>> add_run_commands(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["run", "s.toml", "--set", "region.schools=60"]).set
    ['region.schools=60']
    """
    common = dict(metavar="KEY=VALUE", action="append", default=[])
    p = subparsers.add_parser(
        "run", help="run a scenario: plans, report.html, CSV tables and result.json"
    )
    p.add_argument("scenario", help="scenario file (.toml)")
    p.add_argument("--out", default=None, help="output folder (default: [output] folder)")
    p.add_argument("--variant", default=None, help="apply this [[variants]] block first")
    p.add_argument(
        "--set",
        help="override a scenario value, e.g. --set region.schools=60 "
        "or --set steps.budget.budget=2e8 (repeatable)",
        **common,
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    p.add_argument("--force", action="store_true", help=_FORCE_HELP)
    p.set_defaults(func=cli_run)

    c = subparsers.add_parser(
        "compare", help="run every [[variants]] block of a scenario and compare them side by side"
    )
    c.add_argument("scenario", help="scenario file (.toml) with [[variants]]")
    c.add_argument(
        "--out", default=None, help="output folder (default: [output] folder + _compare)"
    )
    c.add_argument("--workers", type=int, default=2, help="parallel processes, 1 or 2 (default 2)")
    c.add_argument(
        "--variant",
        dest="variants",
        action="append",
        default=[],
        help="only this variant (repeatable)",
    )
    c.add_argument("--set", help="override a scenario value (repeatable)", **common)
    c.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    c.add_argument("--verbose", action="store_true", help=_VERBOSE_HELP)
    c.add_argument("--force", action="store_true", help=_FORCE_HELP)
    c.set_defaults(func=cli_compare)
