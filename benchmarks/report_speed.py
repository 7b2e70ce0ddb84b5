"""The report of a 5,000-school municipality run: time to write it, its size, time to draw it.

Run: ``python benchmarks/report_speed.py`` (on a quiet machine; targets: rendered in under 10 s,
under 15 MB). Plans the demo scenario (``scenarios/liangjiang_demo.toml``) on a synthetic
municipality (``--schools``, ``--counties``), then prints: the median of 3 runs of
:func:`allocator.render_run` (the HTML text, charts and maps included), the file's size and
what of it is plotly.js, and, when Chromium and the playwright package are there, the seconds
from opening the file until every figure is drawn (median of 3), with the browser's JavaScript
heap. The planning itself is timed once, for scale, and is not part of the targets.

``--results PATH`` keeps the planned run: the first call plans and pickles it to ``PATH`` (a
new file; an existing file that is not such a pickle is refused), later calls load it and time
only the report, so the report can be timed on a quiet machine apart from the planning.
"""

import argparse
import pickle
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import plotly

from allocator.errors import AllocatorError
from allocator.pipeline import run_scenario
from allocator.report import render_run
from allocator.report.interactive import plotly_script

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def _median_time(fn, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _browser_seconds(path: Path, repeat: int = 3):
    """Seconds from opening the report until every figure is drawn (median), and the JS heap MB."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, None
    if not Path(CHROMIUM).exists():
        return None, None
    times, heap = [], None
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        for _ in range(repeat):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(d => d.querySelector('.main-svg'))",
                timeout=120_000,
            )
            times.append(time.perf_counter() - t0)
            heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : null")
            page.close()
        browser.close()
    return statistics.median(times), (heap / 1e6 if heap else None)


def _planned(overrides: dict, results: Path | None):
    """The planned run and the planning seconds (None when loaded from ``results``)."""
    if results is not None and results.exists():
        with results.open("rb") as f:
            loaded = pickle.load(f)
        if not isinstance(loaded, dict) or loaded.get("overrides") != overrides:
            sys.exit(f"{results}: not a run this script pickled with these settings")
        return loaded["result"], None
    scenario = ROOT / "scenarios" / "liangjiang_demo.toml"
    t0 = time.perf_counter()
    try:
        result = run_scenario(scenario, write=False, overrides=overrides)
    except AllocatorError as exc:  # a step without a plan: report the steps that finished
        result = getattr(exc, "partial", None)
        if result is None:
            raise
        print(f"planning stopped ({type(exc).__name__}): {exc}; the finished steps are reported")
    planning = time.perf_counter() - t0
    if results is not None:
        part = results.with_name(results.name + ".part")
        with part.open("xb") as f:  # a new file: an existing one is never written over
            try:
                pickle.dump({"overrides": overrides, "result": result}, f)
            except BaseException:
                f.close()
                part.unlink()  # the half-written file this run created
                raise
        if results.exists():
            part.unlink()
            sys.exit(f"{results}: appeared while planning; kept as it is")
        part.rename(results)
    return result, planning


def main(schools: int = 5000, counties: int = 20, seed: int = 7, results: Path | None = None):
    print(
        f"machine: {platform.machine()}, python {platform.python_version()}, plotly "
        f"{plotly.__version__}"
    )
    overrides = {
        "region": {"schools": schools, "counties": counties, "seed": seed},
        "solver": {"time_limit": 600},
    }
    result, planning = _planned(overrides, results)
    seconds, text = _median_time(lambda: render_run(result))
    size = len(text.encode("utf-8"))
    js = len(plotly_script().encode("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(text, encoding="utf-8")
        browser, heap = _browser_seconds(path)
    print(
        f"{len(result.regions[0].schools):,} schools, {len(result.regions[0].counties)} counties, "
        f"{len(result.steps)} steps (planning "
        + (f"{planning:.1f} s, once)" if planning is not None else "loaded)")
    )
    print(f"render_run: {seconds:.2f} s (median of 3; target < 10 s)")
    print(
        f"report.html: {size / 1e6:.2f} MB, of which plotly.js {js / 1e6:.2f} MB (target < 15 MB)"
    )
    if browser is None:
        print("browser: not measured (no Chromium or no playwright)")
    else:
        heap_text = f", JS heap {heap:.0f} MB" if heap else ""
        print(f"Chromium, open to every figure drawn: {browser:.2f} s (median of 3){heap_text}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schools", type=int, default=5000)
    parser.add_argument("--counties", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--results", type=Path, default=None, help="pickle of the planned run")
    args = parser.parse_args()
    main(args.schools, args.counties, args.seed, args.results)
    sys.exit(0)
