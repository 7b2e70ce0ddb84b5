"""The run report in a real browser: headless Chromium opens the demo report from a file.

Nothing may go wrong on the page (no JavaScript error, no console error, no request that fails or
leaves the file), the map and the charts must be drawn, a table sorts, filters and downloads as
CSV, and Chinese text is drawn with a CJK font. Screenshots are saved in the test's temporary
folder. Skipped when Chromium (``/usr/bin/chromium``) or the playwright package is missing, except
under CI (the environment variable ``CI`` set), where that is a failure.
"""

from __future__ import annotations

import csv
import io
import os
import pathlib
import shutil

import pytest

import allocator
from allocator.report import render_run

ROOT = pathlib.Path(__file__).parents[1]
CHROMIUM = os.environ.get("ALLOCATOR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _browser_or_skip():
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "the playwright package is not installed"
        sync_playwright = None
    if why is None and not pathlib.Path(CHROMIUM).exists():
        why = f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test cannot run under CI: {why}")
        pytest.skip(why)
    return sync_playwright


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    scenario = ROOT / "scenarios" / "liangjiang_demo.toml"
    overrides = {"region": {"schools": 40, "kindergartens": True}}  # the preschool section too
    result = allocator.run_scenario(scenario, write=False, overrides=overrides)
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_run(result), encoding="utf-8")
    return path, result


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for the module (a second Playwright inside the first is refused)."""
    sync_playwright = _browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser_page(report_file, chromium):
    path, result = report_file
    problems: list[str] = []
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))

    def local(request):
        if not request.url.startswith(("file:", "data:", "blob:", "about:")):
            problems.append(f"request leaves the file: {request.url}")

    page.on("request", local)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "document.querySelectorAll('.plotly-graph-div .main-svg').length >= "
        "document.querySelectorAll('.plotly-graph-div').length * 1"
    )
    yield page, problems, result
    context.close()


def test_the_page_loads_with_no_error_and_no_request_leaving_the_file(browser_page):
    page, problems, _ = browser_page
    page.wait_for_timeout(200)
    assert problems == []


def test_every_figure_is_drawn_with_its_marks(browser_page, tmp_path):
    page, problems, result = browser_page
    figures = page.eval_on_selector_all(
        ".plotly-graph-div",
        """divs => divs.map(d => {
            const r = d.getBoundingClientRect();
            return {w: r.width, h: r.height,
                    marks: d.querySelectorAll('.point, .box, .bars path, .js-line').length,
                    traces: (d.data || []).length};
        })""",
    )
    # by area type, CV by county, Lorenz, the map, indicator map, the campus map and gap chart
    assert len(figures) == 7
    for f in figures:
        assert f["w"] > 300 and f["h"] > 300 and f["traces"] > 0 and f["marks"] > 0, f
    # the map draws one point per school open after the plan, and one cross per closed school
    after = result.regions[-1].schools
    closed = set(result.regions[0].schools["school_id"]) - set(after["school_id"])
    drawn = page.evaluate(
        """() => {
            const d = document.querySelectorAll('.plotly-graph-div')[3];
            const n = meta => d.calcdata.filter(c => c[0].trace.meta === meta)
                                        .reduce((s, c) => s + c.length, 0);
            return {schools: n('schools'), closed: n('closed')};
        }"""
    )
    assert drawn == {"schools": len(after), "closed": len(closed)}
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=tmp_path / "first_screen.png")
    page.locator(".plotly-graph-div").nth(3).screenshot(path=tmp_path / "map.png")
    assert (tmp_path / "map.png").stat().st_size > 10_000
    assert problems == []


def test_hovering_a_school_names_it(browser_page):
    page, problems, result = browser_page
    figure = page.locator(".plotly-graph-div").nth(3)
    figure.scroll_into_view_if_needed()
    # the first school of the first area type's trace is the first urban school open after
    curve = page.evaluate(
        "document.querySelectorAll('.plotly-graph-div')[3].data.findIndex(t => t.meta === 'schools')"
    )
    after = result.regions[-1].schools
    first = after[after["area_type"] == "urban"].iloc[0]
    figure.locator(".scatterlayer .trace").nth(curve).locator(".point").first.hover(force=True)
    page.wait_for_timeout(150)
    label = " ".join(figure.locator(".hoverlayer").all_text_contents())
    assert first["name"] in label and first["school_id"] in label and first["county"] in label


def _table_rows(page, index):
    return page.evaluate(
        """i => Array.from(document.querySelectorAll('table')[i].tBodies[0].rows)
                 .filter(r => r.style.display !== 'none')
                 .map(r => Array.from(r.cells).map(c => c.innerText.trim()))""",
        index,
    )


def test_a_table_sorts_filters_and_downloads_as_csv(browser_page, tmp_path):
    page, problems, result = browser_page
    # the travel table: its last table on the page, with numbers in its columns
    index = page.evaluate("document.querySelectorAll('table').length") - 1
    table = page.locator("table").nth(index)
    table.scroll_into_view_if_needed()
    headers = table.locator("thead th")
    column = headers.count() - 1
    headers.nth(column).click()
    values = [float(r[column].replace(",", "")) for r in _table_rows(page, index)]
    assert values == sorted(values) and len(values) > 1
    headers.nth(column).click()
    values = [float(r[column].replace(",", "")) for r in _table_rows(page, index)]
    assert values == sorted(values, reverse=True)

    box = page.locator(".table-tools input").nth(index)
    rows = _table_rows(page, index)
    word = rows[0][0]
    box.fill(word)
    shown = _table_rows(page, index)
    assert 0 < len(shown) <= len(rows)
    assert shown == [r for r in rows if any(word.lower() in c.lower() for c in r)]

    with page.expect_download() as info:
        page.locator(".table-tools button").nth(index).click()
    data = pathlib.Path(info.value.path()).read_bytes()
    assert data.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert read[0] == [headers.nth(j).inner_text().strip() for j in range(headers.count())]
    assert read[1:] == shown
    box.fill("")
    assert len(_table_rows(page, index)) == len(rows)
    assert problems == []


def test_chinese_text_is_drawn_with_a_cjk_font(browser_page, tmp_path):
    page, problems, result = browser_page
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '两江新区')")
    page.locator(".plotly-graph-div").nth(1).screenshot(path=tmp_path / "cv.png")
    assert problems == []
    # Which fonts Chromium really drew the page's first Chinese text with (not what the page asked
    # for). DevTools' CSS domain re-reads the file and logs that as a console error of its own:
    # the page is checked above, before it.
    found = page.evaluate(
        """() => {
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const node = walker.currentNode;
                if (/[\u4e00-\u9fff]/.test(node.textContent) && node.parentElement.offsetWidth) {
                    node.parentElement.id = "first-chinese-text";
                    return node.textContent;
                }
            }
            return null;
        }"""
    )
    assert found, "no Chinese text on the page"
    devtools = page.context.new_cdp_session(page)
    devtools.send("DOM.enable")
    devtools.send("CSS.enable")
    root = devtools.send("DOM.getDocument")["root"]["nodeId"]
    node = devtools.send("DOM.querySelector", {"nodeId": root, "selector": "#first-chinese-text"})
    fonts = devtools.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
    devtools.detach()
    assert any("CJK" in f["familyName"] or "Hei" in f["familyName"] for f in fonts), fonts


def test_a_sweep_report_draws_its_figures_offline_with_no_error(tmp_path, chromium):
    """A sweep report of a hand-made task table: four figures drawn, names read as written."""
    import pandas as pd

    from allocator.report.sweep_page import render_sweep
    from allocator.sweep import decision_shares, robust_plan

    budget, hostile = "steps.budget.budget", "<b>渝北</b>区"
    rows = [
        {
            "county": county,
            budget: b,
            "draw": d,
            "status": "ok",
            "error": None,
            "compliant_share": 0.2 + 0.1 * d + b / 1e7 + c * 0.05,
            "cost_yuan": b * (0.8 + 0.05 * d),
            "decisions": ["close m S1"] + (["buy budget S2 rooms"] if d else []),
        }
        for c, county in enumerate(["两江新区", hostile])
        for b in (1e6, 2e6, 4e6)
        for d in range(3)
    ]
    table = pd.DataFrame(rows)
    shares = decision_shares(table, ("compliant_share", "cost_yuan"))
    axes = ["county", budget, "draw"]
    html = render_sweep(
        "扫描", table, axes, ["compliant_share", "cost_yuan"], shares, robust_plan(shares, 0.8), 0.8
    )
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    problems: list[str] = []
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith(("file:", "data:", "blob:", "about:"))
            else problems.append(f"request leaves the file: {r.url}")
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(
        "document.querySelectorAll('.plotly-graph-div .main-svg').length >= "
        "document.querySelectorAll('.plotly-graph-div').length"
    )
    figures = page.eval_on_selector_all(
        ".plotly-graph-div",
        """divs => divs.map(d => ({
            w: d.getBoundingClientRect().width,
            marks: d.querySelectorAll('.point, .bars path, .js-line, .js-fill').length,
            names: (d.data || []).map(t => t.name),
            bars: (d.data || []).filter(t => t.type === 'bar').map(t => t.y.length),
            legend: Array.from(d.querySelectorAll('.legendtext')).map(e => e.textContent),
        }))""",
    )
    page.screenshot(path=tmp_path / "sweep.png", full_page=True)
    page.close()
    assert len(figures) == 4  # by axis, frontier, fans, robustness
    for f in figures:
        assert f["w"] > 300 and f["marks"] > 0, f
    assert sorted(figures[1]["legend"]) == sorted(["两江新区", hostile])  # read as written
    assert figures[3]["bars"] == [shares["decision"].nunique()]
    assert problems == []
