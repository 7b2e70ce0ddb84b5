"""Writing runs and comparisons: report, CSV tables, workbook, region and ``result.json``.

Outputs go to a temporary folder that is renamed into place whole
(:class:`allocator.outputs.output_folder`), so a failed write leaves nothing behind and never
half-replaces an earlier result; a folder allocator did not write is never replaced, nor any input
of the scenario (:func:`protected_inputs`). An incomplete run (a later step failed) says so in the
folder's marker, in ``result.json`` and on the report page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from allocator.i18n import Words
from allocator.io import write_region_csv
from allocator.outputs import output_folder
from allocator.results import Comparison, ScenarioResult, costs, json_safe
from allocator.scenario import Scenario
from allocator.sheets import (
    decimals,
    inside,
    rounded,
    unique_slugs,
    with_names,
    write_csv,
    write_workbook,
)

__all__ = ["protected_inputs", "readable_tables", "write_comparison", "write_run"]


def protected_inputs(scenario: Scenario) -> list[tuple[Path, str]]:
    """The scenario's inputs that an output may never replace: the scenario file and its folder,
    the region data (a folder or a workbook), and files the steps read (``(path, label)`` pairs).

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "liangjiang_demo.toml"
    >>> from allocator.scenario import load_scenario
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


def readable_tables(result: ScenarioResult) -> dict[str, pd.DataFrame]:
    """The run's tables as a person reads them in a CSV file or workbook: each column of school
    ids with the schools' names beside it (:func:`allocator.sheets.with_names`, names from every
    stage of the region, so closed schools keep theirs) and numbers rounded to the unit that
    matters (:func:`allocator.sheets.rounded`). Column names stay the machine names.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.pipeline import run_scenario
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> list(readable_tables(result)["budget.allocations"].columns[:2])
    ['school_id', 'name']
    """
    frames = [r.schools[["school_id", "name"]] for r in result.regions]
    names = pd.concat(frames).drop_duplicates("school_id", keep="last")
    lookup = names.set_index("school_id")["name"]
    return {k: rounded(with_names(df, lookup)) for k, df in result.tables.items()}


def workbook_summary(result: ScenarioResult) -> tuple[dict, dict, dict]:
    """The sheets a run's workbook opens with, in the report's language: the summary (every
    measure at every stage, then what the plan costs) and the county verdicts before and after;
    and the sheet titles of every table (Chinese when the report is) and the summary's row units.

    Returns
    -------
    (tables, titles, row_units)
        For :func:`allocator.sheets.write_workbook`.
    """
    from allocator.report.compare_page import measure_label
    from allocator.report.reading import reader_table, report_language, stage_labels
    from allocator.report.verdict import county_verdict_table

    words = Words(report_language(result))
    stages = stage_labels(result, words)
    outcomes = result.tables["outcomes"]
    rows = [
        [measure_label(m, m, words), m, *(outcomes.iloc[i][s] for s in result.stages)]
        for i, m in enumerate(outcomes["measure"])
    ]
    for key, value in costs(result).items():
        name = key if key == "cost_yuan" else f"cost.{key}"
        rows.append([measure_label(name, name, words), name, *[None] * (len(stages) - 1), value])
    summary = pd.DataFrame(rows, columns=[words("col.measure"), "measure", *stages])
    units = [
        m.split(".")[0] if m.startswith(("cv_worst.", "rural_urban.")) else m
        for m in summary["measure"]
    ]
    values = summary[stages].to_numpy(dtype=float, copy=True)
    for i, unit in enumerate(units):  # each row rounded to its own unit
        values[i] = values[i].round(decimals(unit))
    summary[stages] = values
    first, last = result.measures[0].counties, result.measures[-1].counties
    verdicts = pd.DataFrame()
    if first is not None and last is not None:
        table = county_verdict_table(first, last, list(result.standard.indicators), words)
        verdicts = reader_table(table, words)
        for col in ("before", "after"):
            verdicts[col] = [
                "" if v is None else words("word.passes") if v else words("word.fails")
                for v in table[col]
            ]
        verdicts.columns = [
            words("col.county"),
            words("col.part"),
            stages[0],
            stages[-1],
            words("col.reason"),
        ]
    titles = {"summary": words("sheet.summary"), "verdicts": words("sheet.verdicts")}
    for key in result.tables:  # English keeps the tables' own names (as the CSV files)
        if words.language == "en":
            continue
        step, _, table = key.rpartition(".")
        try:
            name = words(f"sheet.{table}")
        except KeyError:
            name = table
        titles[key] = f"{step}.{name}" if step else name
    return {"summary": summary, "verdicts": verdicts}, titles, {"summary": units}


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
        As in :func:`allocator.pipeline.run_scenario` (the same rules decide whether ``folder`` may be replaced).

    Raises
    ------
    InputError
        When the folder may not be replaced, or on a permission or rename failure.

    Examples
    --------
    >>> import pathlib
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.pipeline import run_scenario
    >>> result = run_scenario(f, write=False, overrides={"region": {"schools": 40}})
    >>> import tempfile
    >>> folder = write_run(result, pathlib.Path(tempfile.mkdtemp()) / "out")
    >>> sorted(p.name for p in folder.iterdir())[:3]
    ['.allocator-output.json', 'area_types.csv', 'budget.allocations.csv']
    """
    from allocator.report import render_run  # the report sits above the run layer

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
        tables = readable_tables(result)
        if "csv" in formats:
            for name, df in tables.items():
                write_csv(df, inside(tmp, names[name]), bom=True)
                files.append(names[name])
        if "xlsx" in formats:
            summary, titles, units = workbook_summary(result)
            write_workbook({**summary, **tables}, inside(tmp, "tables.xlsx"), "run", titles, units)
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


def write_comparison(
    comparison: Comparison, folder: str | os.PathLike, *, force: bool = False
) -> Path:
    """Write ``report.html``, ``comparison.csv`` and ``result.json`` of a comparison atomically.

    Each variant's tables (as :func:`readable_tables`) and its own ``report.html`` go to a
    sub-folder named after the variant, made safe for a file name
    (:func:`allocator.sheets.unique_slugs`); the comparison page links to those reports. The same rules as :func:`write_run` decide whether
    an existing ``folder`` may be replaced (``InputError`` otherwise).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> f = pathlib.Path(__file__).parents[1] / "scenarios" / "budget_policy_comparison.toml"
    >>> from allocator.compare import compare_scenario
    >>> c = compare_scenario(f, write=False, workers=1, variants=["minimax"],
    ...                      overrides={"region": {"schools": 40}})
    >>> folder = write_comparison(c, pathlib.Path(tempfile.mkdtemp()) / "cmp")
    >>> sorted(p.name for p in folder.iterdir())
    ['.allocator-output.json', 'comparison.csv', 'minimax', 'report.html', 'result.json']
    """
    from allocator.report import render_comparison, render_run  # the report sits below

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
        write_csv(rounded(comparison.table), inside(tmp, "comparison.csv"), bom=True)
        for v, r in comparison.results.items():
            if not {"csv", "html"} & set(formats):
                break
            sub = inside(tmp, subfolders[v])
            sub.mkdir()
            if "csv" in formats:
                names = r.files
                for name, df in readable_tables(r).items():
                    write_csv(df, inside(sub, names[name]), bom=True)
            if "html" in formats:  # the comparison page links to each variant's own report
                inside(sub, "report.html").write_text(render_run(r), encoding="utf-8")
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
            json.dumps(json_safe(data), ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return folder
