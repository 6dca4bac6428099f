"""The reports in a real browser, offline: headless Debian Chromium driven by Playwright.

Skipped where /usr/bin/chromium is missing (.ci/run installs it; never download a browser).
"""
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import CHROMIUM_FLAGS as FLAGS

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")


def open_offline(browser, path):
    """Load a file with every non-file request blocked and recorded; return (page, blocked urls)."""
    page = browser.new_page()
    blocked = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(("file:", "data:")):
            return request_route.continue_()
        blocked.append(url)
        return request_route.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, blocked


def test_every_report_renders_offline_with_its_images_and_tables(browser, tiny_runs):
    root, _ = tiny_runs
    pages = sorted((root / "tiny").glob("*.html"))
    assert len(pages) == 9   # the run page, and each stage's reviewer page and page with code
    for path in pages:
        page, blocked = open_offline(browser, path)
        assert blocked == [], (path.name, blocked)
        images = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        assert all(images), path.name
        if path.name in {"index.html", "03_evaluate.html", "02_train.html"}:
            assert images, f"{path.name} shows no plot"
        page.close()
    page, _ = open_offline(browser, root / "tiny" / "03_evaluate.html")
    tables = " ".join(page.eval_on_selector_all("table", "els => els.map(e => e.innerText)"))
    assert "persistence" in tables and "oracle" in tables
    page.close()


def test_every_page_of_a_run_reads_at_1400_by_900(readable, tiny_runs):
    """The list of runs, the run page, every stage's reviewer page and page with code: screenshotted, no text
    under 10 px (in figures too), no horizontal scroll, no empty figure."""
    root, run = tiny_runs
    pages = [root / "index.html", *sorted(run.root.glob("*.html"))]
    assert len(pages) == 10
    for path in pages:
        assert readable(path).stat().st_size > 10_000


def test_the_runs_index_links_to_the_run_page(browser, tiny_runs):
    root, _ = tiny_runs
    page, blocked = open_offline(browser, root / "index.html")
    assert not blocked
    page.click("text=tiny")
    page.wait_for_load_state("load")
    assert page.url.endswith("/tiny/index.html") and "the best baseline here" in page.inner_text("body")
    page.close()


HOSTILE_TARGET = "<script>alert('target')</script>"
HOSTILE_FEATURE = "<img src=x onerror=alert('feature')>"
HOSTILE_RUN_ID = "<svg onload=alert('run')>"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A tiny run whose columns, trace ids, file name and run id are all HTML."""
    import numpy as np
    import pandas as pd

    from bwkit.pipeline import runner as pipeline

    folder = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    rows = 400
    frame = pd.DataFrame({"timestamp": 1_700_000_000 + 60 * np.arange(rows),
                          "trace_id": ["<i id=pwned>a"] * 200 + ["<b id=pwned>b"] * 200,
                          HOSTILE_TARGET: np.cumsum(rng.normal(size=rows)),
                          HOSTILE_FEATURE: rng.normal(size=rows)})
    csv = folder / "x<img src=y onerror=alert('path')>.csv"
    frame.to_csv(csv, index=False)
    pipeline.run({"data_path": str(csv), "features": f"{HOSTILE_TARGET},{HOSTILE_FEATURE}", "targets": HOSTILE_TARGET,
                  "epochs": 1, "window_size": 5, "hidden_size": 4}, run_id=HOSTILE_RUN_ID, runs_root=folder / "runs",
                 log=lambda *_: None)
    return folder / "runs"


def test_names_a_user_chose_never_run_as_script_in_any_page(browser, hostile_run):
    pages = [hostile_run / "index.html", *sorted((hostile_run / HOSTILE_RUN_ID).glob("*.html"))]
    assert len(pages) == 8   # the list of runs, the run page, 02, 03 and 04 (with and without code)
    for path in pages:
        page, blocked = open_offline(browser, path)
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.reload()
        page.wait_for_load_state("load")
        injected = page.eval_on_selector_all("script:not(#bwkit-sort), svg, #pwned, img[src='x'], img[src^='y']",
                                             "els => els.length")
        assert (dialogs, injected, blocked) == ([], 0, []), path.name
        if path != pages[0] and path.name in {"index.html", "03_evaluate.html"}:
            text = page.eval_on_selector("body", "e => e.textContent")   # folded details included
            assert HOSTILE_TARGET in text, path.name                       # shown as text, not run
        assert HOSTILE_RUN_ID in page.inner_text("body") or path.name != "index.html", path
        page.close()


def test_the_run_page_answers_on_its_first_screen_and_every_link_resolves(browser, tiny_runs):
    root, run = tiny_runs
    page, _ = open_offline(browser, run.index)
    page.set_viewport_size({"width": 1400, "height": 900})
    first_screen = page.evaluate("""() => [...document.querySelectorAll('h2, p, td')]
        .filter(e => e.getBoundingClientRect().bottom <= 900 && e.offsetParent !== null).map(e => e.innerText).join(' ')""")
    assert "The LSTM" in first_screen and "the best baseline here" in first_screen   # the model against the best
    assert "original guide's rule" in first_screen and "persistence" in first_screen and "gbm" in first_screen
    assert "Quick test" in first_screen   # the tiny run trains for 2 epochs: said on the first screen
    # the plots one column, each at its own size; the split table and every detail folded
    assert page.evaluate("document.body.scrollHeight") <= 5 * 900
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    assert len(hrefs) >= 15
    for href in hrefs:
        target = Path(unquote(urlparse(href).path))
        assert target.exists(), href
    assert run.index.stat().st_size < 400_000
    page.close()


def test_reviewer_pages_have_no_input_cells(browser, tiny_runs):
    _, run = tiny_runs
    for stage in ("02_train", "03_evaluate"):
        page, _ = open_offline(browser, run.html(stage))
        assert page.eval_on_selector_all(".jp-CodeCell .jp-InputArea", "els => els.length") == 0
        page.close()


def test_the_list_of_runs_sorts_when_a_header_is_clicked(browser, tmp_path):
    import json

    from bwkit.runs.artifacts import RunFolder
    from bwkit.reports.pages import write_runs_index

    for name, epochs in (("b", 5), ("a", 50), ("c", 20)):
        folder = tmp_path / name
        folder.mkdir()
        record = {"run_id": name, "status": "failed", "started": f"2026-01-0{ord(name) - 96}T00:00:00Z",
                  "parameters": {"epochs": epochs}, "error": f"stopped {name}", "stages": {}}
        RunFolder(folder).run_json.write_text(json.dumps(record))
    page, blocked = open_offline(browser, write_runs_index(tmp_path))
    column = lambda: page.eval_on_selector_all("tbody tr td:first-child", "els => els.map(e => e.innerText)")  # noqa
    page.click("th:text('run')")
    assert column() == ["a", "b", "c"]
    page.click("th:text('run')")
    assert column() == ["c", "b", "a"] and not blocked
    assert "stopped a" in page.inner_text("body") and "epochs=50" in page.inner_text("body")
    page.close()
