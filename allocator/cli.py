"""The ``allocator`` command: ``synth``, ``check``, ``run``, ``compare``, ``sweep`` and ``import-gis``.

Each command has a function that adds its parser (``add_*``) and one that runs it for parsed
arguments (``*_command``). Bad input ends with one readable line on stderr and exit status 2 (no
traceback); so does an output folder that may not be replaced (see :mod:`allocator.outputs`: a
folder allocator did not write is never replaced, one it wrote only when unchanged or with
``--force``). A failed step or a region without a plan ends with exit status 1. The GIS stack is
imported only when ``import-gis`` runs.
"""

from __future__ import annotations

import argparse
import sys

from allocator.check import check
from allocator.compare import compare_scenario, differing_measures
from allocator.errors import AllocatorError, InputError
from allocator.i18n import LANGUAGES, Words, status_word
from allocator.io import load_region, save_region
from allocator.outputs import check_target
from allocator.pipeline import run_scenario
from allocator.report.reading import report_language
from allocator.scenario import merge_overrides, parse_assignment
from allocator.scenario.sections import MAP_TILES
from allocator.sweep import run_sweep
from allocator.synth import make_region
from allocator.text import plain

__all__ = [
    "add_check_parser",
    "add_import_gis_parser",
    "add_run_commands",
    "build_parser",
    "check_command",
    "cli_compare",
    "cli_run",
    "cli_sweep",
    "import_gis_command",
    "main",
    "run_summary",
    "synth_command",
    "years_line",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``allocator`` argument parser with every command.

    Examples
    --------
    >>> build_parser().parse_args(["synth", "out", "--schools", "60"]).schools
    60
    """
    parser = argparse.ArgumentParser(
        prog="allocator",
        description="Balanced allocation plans, school-merger plans and district plans for schools.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("synth", help="write a synthetic region (a folder of CSV files)")
    p.add_argument(
        "out_dir",
        help="folder to write; an earlier, unchanged region written by allocator there is replaced",
    )
    p.add_argument("--schools", type=int, default=300, help="number of schools (default 300)")
    p.add_argument(
        "--counties", type=int, default=None, help="number of counties (default: 1 per 150 schools)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--force",
        action="store_true",
        help="also replace a folder allocator wrote that was changed since, or that another "
        "command wrote (never a folder allocator did not write)",
    )
    p.set_defaults(func=synth_command)
    add_check_parser(sub)
    add_run_commands(sub)
    add_import_gis_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; the exit status: 0 done, 2 bad input, 1 no plan, 130 interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (InputError, ValueError) as exc:
        print(f"allocator {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except AllocatorError as exc:
        print(f"allocator {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("allocator: interrupted", file=sys.stderr)
        return 130


# --------------------------------------------------------------------------- synth
def synth_command(args) -> int:
    """Run ``allocator synth OUT_DIR`` for parsed arguments (``schools``, ``counties``, ``seed``, ``force``)."""
    check_target(args.out_dir, "region", force=args.force)  # before the work, not after
    region = make_region(schools=args.schools, counties=args.counties, seed=args.seed)
    save_region(region, args.out_dir, force=args.force)
    print(f"wrote {region!r} to {args.out_dir}")
    return 0


# --------------------------------------------------------------------------- check
def add_check_parser(subparsers) -> None:
    """Register ``allocator check REGION [--standard moe2017] [--out DIR] [--force]`` on argparse subparsers."""
    p = subparsers.add_parser(
        "check",
        help="check a region against a standard: print the summary, write the tables",
        description="Measure a region (folder of CSV files or .xlsx) against a standard.",
    )
    p.add_argument("region", help="region folder (schools.csv, ...) or .xlsx workbook")
    p.add_argument(
        "--standard",
        default="moe2017",
        help="standard name (moe2017, moe2012) or TOML file (default moe2017)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="folder to write the report tables to (CSV); an earlier, unchanged report of "
        "`allocator check` there is replaced",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="also replace an --out folder that another allocator command wrote or that was "
        "changed since (never a folder allocator did not write)",
    )
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="language of the summary, en or zh (default en)",
    )
    p.set_defaults(func=check_command)


def check_command(args) -> int:
    """Run ``allocator check`` for parsed arguments (``region``, ``standard``, ``out``, ``force``).

    Prints the summary; writes the tables when ``out`` is set. Returns the exit status 0.
    The output folder is checked before the region is read, so a refused ``--out`` costs nothing.
    """
    out = getattr(args, "out", None)
    force = bool(getattr(args, "force", False))
    protect = [(args.region, "the region data")]
    if out:
        check_target(out, "check", source=args.region, force=force, protect=protect)
    region = load_region(args.region)
    report = check(region, args.standard)
    words = Words(getattr(args, "lang", None) or "en")
    print(report.summary(language=words.language))
    if out:
        written = report.to_csv(out, force=force, source=args.region, language=words.language)
        key = "checksum.wrote.one" if len(written) == 1 else "checksum.wrote.many"
        print("\n" + words(key, n=f"{len(written):,}", out=out))
    return 0


# --------------------------------------------------------------------------- run and compare
def _overrides_from(args) -> dict:
    parts = [parse_assignment(a) for a in (getattr(args, "set", None) or [])]
    if getattr(args, "verbose", False):  # the solver's log on stderr-side output, when asked
        parts.append(parse_assignment("solver.log=true"))
    if getattr(args, "lang", None):  # --lang zh|en: the report's language ([output] language)
        parts.append({"output": {"language": args.lang}})
    if getattr(args, "map_tiles", None):  # --map-tiles openstreetmap: [output] map_tiles
        parts.append({"output": {"map_tiles": args.map_tiles}})
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
    print(run_summary(result, report_language(result, args.lang)))
    print(f"report: {result.out / 'report.html'}")
    return 0


#: The timeline's actions counted in the terminal summary, in this order (what is counted: rows,
#: or for hires the teachers hired).
_COUNTED = ("close", "nine_year", "extend", "open", "hire", "purchase")


def years_line(timeline, first: int, last: int, words: Words) -> str:
    """What one step over years does in which year: ``2026–2030: 5 closures, in 2026 (3), 2028
    (2); ...`` from its rows of the run's timeline.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"year": [2026, 2026, 2028, 2027], "action": ["close"] * 3 + ["hire"],
    ...                   "number": [40, 12, 30, 2]})
    >>> years_line(t, 2026, 2030, Words("en"))
    '2026–2030: 3 closures, in 2026 (2), 2028 (1); 2 teachers hired, in 2027 (2)'
    >>> years_line(t[:0], 2026, 2030, Words("zh"))
    '2026—2030 年：无变化'
    """
    parts = []
    for action in _COUNTED:
        rows = timeline[timeline["action"] == action]
        if not len(rows):
            continue
        counts = (
            rows.groupby("year")["number"].sum()
            if action == "hire"
            else rows.groupby("year").size()
        )
        n = int(counts.sum())
        count = words(f"years.run.{action}.{'one' if n == 1 else 'many'}", n=plain(n))
        years = words("summary.list_sep").join(
            words("years.run.year", year=int(y), n=plain(int(k))) for y, k in counts.items()
        )
        parts.append(words("years.run.part", count=count, years=years))
    what = words("years.run.sep").join(parts) if parts else words("years.run.nothing")
    return words("years.run.line", first=first, last=last, what=what)


def run_summary(result, language: str) -> str:
    """``allocator run``'s summary: :meth:`~allocator.results.ScenarioResult.summary` with each
    step's status in the run's language and, under each step that planned over years, the years
    planned and what it does in which of them (:func:`years_line`)."""
    words = Words(language)
    lines = result.summary(language).splitlines()
    over = result.years or {}
    once = set(over.get("once", ()))
    timeline = over.get("timeline")
    out = lines[:1]
    for s in result.steps:  # one line each after the title, rewritten with the status in words
        out.append(
            "  " + words("summary.run.step", name=s.name, planner=s.planner,
                         status=status_word(s.status, words), seconds=f"{s.seconds:.1f}")
        )  # fmt: skip
        if over and s.name not in once and timeline is not None:
            mine = timeline[timeline["step"] == s.name]
            out.append("    " + years_line(mine, over["first"], over["last"], words))
    return "\n".join(out + lines[1 + len(result.steps) :])


def cli_compare(args) -> int:
    """``allocator compare SCENARIO [--out DIR] [--workers N] [--set KEY=VALUE] [--quiet] [--force]``."""
    comparison = compare_scenario(
        args.scenario,
        out=args.out,
        progress=not args.quiet,
        overrides=_overrides_from(args),
        workers=args.workers,
        variants=args.variants or None,
        scheduler=args.scheduler,
        force=args.force,
    )
    words = Words(getattr(args, "lang", None) or "en")
    top = differing_measures(comparison.table, 10)
    if top.empty:
        print(words("sweep.compare_none_differ"))
    else:
        print(words("sweep.compare_top"))
        table = top.set_index("label").drop(columns=["measure", "better"])
        table.index.name = None
        print(table.to_string(float_format=lambda v: f"{v:,.3g}" if abs(v) < 1e4 else f"{v:,.0f}"))
    for name, result in comparison.results.items():
        if getattr(result, "years", None):  # a variant over years: its years, its last year
            span = words("compare.years_of", first=result.years["first"], last=result.years["last"])
            print(f"{name}: {span}")
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

_TILES_HELP = (
    "web map tiles under the report's map: openstreetmap (the page then needs internet; only "
    "for a region with a coordinate system) or none (default: [output] map_tiles, else none)"
)
_LANG_HELP = (
    "language of the report, zh or en (default: [output] language, else zh when the region's "
    "school or county names are Chinese)"
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
    p.add_argument("--lang", choices=LANGUAGES, default=None, help=_LANG_HELP)
    p.add_argument("--map-tiles", choices=MAP_TILES, default=None, help=_TILES_HELP)
    p.set_defaults(func=cli_run)

    c = subparsers.add_parser(
        "compare", help="run every [[variants]] block of a scenario and compare them side by side"
    )
    c.add_argument("scenario", help="scenario file (.toml) with [[variants]]")
    c.add_argument(
        "--out", default=None, help="output folder (default: [output] folder + _compare)"
    )
    c.add_argument(
        "--workers", type=int, default=2, help="worker processes (default 2; 1: in this process)"
    )
    c.add_argument("--scheduler", default=None, help=_SCHEDULER_HELP)
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
    c.add_argument("--lang", choices=LANGUAGES, default=None, help=_LANG_HELP)
    c.set_defaults(func=cli_compare)
    add_sweep_parser(subparsers)


_SCHEDULER_HELP = "run on an existing Dask cluster, e.g. tcp://host:8786 (default: this machine)"


def add_sweep_parser(subparsers) -> None:
    """Add ``allocator sweep SCENARIO [--scheduler ADDR] [--resume] [--out DIR] [--workers N]``."""
    p = subparsers.add_parser(
        "sweep",
        help="run every combination of a scenario's [sweep] axes on Dask; results, report",
    )
    p.add_argument("scenario", help="scenario file (.toml) with a [sweep] table")
    p.add_argument("--out", default=None, help="output folder (default: [output] folder + _sweep)")
    p.add_argument("--scheduler", default=None, help=_SCHEDULER_HELP)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes (default: the cores; 0 or 1: in this process)",
    )
    p.add_argument(
        "--resume", action="store_true", help="keep the tasks already in OUT.sqlite, run the rest"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--force", action="store_true", help=_FORCE_HELP)
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=None,
        help="language of the report, zh or en (default: [output] language, else zh)",
    )
    p.set_defaults(func=cli_sweep)


def cli_sweep(args) -> int:
    """``allocator sweep``: run, then print the tasks by status, the store and the report."""
    result = run_sweep(
        args.scenario,
        out=args.out,
        progress=not args.quiet,
        scheduler=args.scheduler,
        workers=args.workers,
        resume=args.resume,
        force=args.force,
        language=args.lang,
    )
    words = Words(args.lang or "en")
    status = ", ".join(f"{k}: {v:,}" for k, v in result.counts().items())
    print(words("sweep.tasks", n=f"{len(result.table):,}", status=status))
    print(words("sweep.cli_store", path=str(result.store)))
    print(f"report: {result.out / 'report.html'}")
    return 0


# --------------------------------------------------------------------------- import-gis
def add_import_gis_parser(subparsers) -> None:
    """Register ``allocator import-gis CONFIG --out DIR [--gpkg FILE]`` on argparse subparsers."""
    p = subparsers.add_parser(
        "import-gis",
        help="build a region folder from GIS layers and OpenStreetMap (a TOML config)",
        description="Build a region from the layers and column mapping a TOML config names; "
        "write the region's CSV files plus filled.csv, snapping.csv, roads_cleaning.csv and "
        "crs.txt. Needs the gis extra: pip install 'edu-allocator[gis]'.",
    )
    p.add_argument("config", help="GIS import config (TOML)")
    p.add_argument(
        "--out",
        required=True,
        help="region folder to write (an earlier import's folder is replaced; never another folder)",
    )
    p.add_argument(
        "--gpkg", default=None, help="also write the region as a GeoPackage (a new file name)"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an earlier output changed since it was written",
    )
    p.set_defaults(func=import_gis_command)


def import_gis_command(args) -> int:
    """Run ``allocator import-gis`` for parsed arguments (``config``, ``out``, ``gpkg``)."""
    from allocator.gis.config import region_from_config  # the GIS stack: only when asked

    protect = [(args.config, "the GIS config")]
    if args.gpkg:
        check_target(args.gpkg, "region", protect=protect, kind="file")
    result = region_from_config(args.config)
    result.save(args.out, force=args.force, protect=protect)
    print(result.summary())
    print(f"wrote {result.region!r} to {args.out}")
    if args.gpkg:
        from allocator.gis.export import to_geodataframes, write_geopackage

        write_geopackage(
            to_geodataframes(result.region, crs=result.crs), args.gpkg, protect=protect
        )
        print(f"wrote {args.gpkg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
