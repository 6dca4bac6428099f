"""The reports in a real browser, offline: headless Debian Chromium driven by Playwright.

Skipped where /usr/bin/chromium is missing (.ci/run installs it; never download a browser). Names a user chose that
are HTML, in every page of a run: test_real_data.py, on its run of the real slice.
"""
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import open_offline

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")


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
    """The list of runs, the run page, every stage's reviewer page and page with code: no text under 10 px (in
    figures too), no horizontal scroll, no empty figure, and text to read on each."""
    root, run = tiny_runs
    pages = [root / "index.html", *sorted(run.root.glob("*.html"))]
    assert len(pages) == 10
    for path in pages:
        assert readable(path)["chars"] > 200, path


def test_the_runs_index_links_to_the_run_page(browser, tiny_runs):
    root, _ = tiny_runs
    page, blocked = open_offline(browser, root / "index.html")
    assert not blocked
    page.click("text=tiny")
    page.wait_for_load_state("load")
    assert page.url.endswith("/tiny/index.html") and "the best baseline here" in page.inner_text("body")
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
