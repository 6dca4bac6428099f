"""Shared pytest fixtures for the bwkit test suite.

Sections:
  * The order of the files: the slowest first
  * Defaults, read through the one configuration path (`params.configure`)
  * Telemetry CSV fixtures (unit tests of bwkit)
  * The tiny run: one `bwkit run` shared by every test that needs a run folder
  * Stand-in stages, for tests of how runs are orchestrated
  * Pages in a real browser
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bwkit.lazy import without_iri_grammars

without_iri_grammars()   # as in the kit's own processes: test modules import nbformat (papermill, nbconvert) too

from bwkit.pipeline import runner as pipeline  # noqa: E402
from bwkit import synth  # noqa: E402
from bwkit.runs.artifacts import RunFolder  # noqa: E402
from bwkit.data.loader import split_names  # noqa: E402
from bwkit.runs.params import Config, configure  # noqa: E402

# ---------------------------------------------------------------------------
# The order of the files: the slowest first
# ---------------------------------------------------------------------------

# `make test` runs pytest-xdist with --dist loadfile: each file goes whole to one of two workers, in the order
# collected. The files that take longest go first, so that the short ones fill in at the end and neither worker
# waits alone on a long file (xdist's own order, by number of tests, sent these last). test_tracking.py second: it
# builds the shared tiny run at once (most files need it later) while the other worker runs the grid's sweep,
# which does not. Measured on two cores.
SLOWEST_FIRST = ["tests/test_sweep.py", "tests/test_tracking.py", "tests/test_tune.py", "tests/test_interruptions.py",
                 "tests/test_browser.py", "tests/test_real_data.py", "tests/test_reproduce.py",
                 "tests/test_sweep_faults.py", "tests/test_jupyterlab.py", "tests/test_predictor.py",
                 "tests/test_service.py", "tests/test_cli_faults.py", "tests/test_notebooks.py", "tests/test_methods.py",
                 "tests/test_pipeline.py"]


def pytest_configure(config):
    if hasattr(config.option, "loadscopereorder"):   # pytest-xdist's reordering would undo SLOWEST_FIRST
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))   # stable: a file's order kept


# ---------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------

TRAIN_DEFAULTS = configure(stage="02_train")
FEATURES, TARGETS = split_names(TRAIN_DEFAULTS["features"]), split_names(TRAIN_DEFAULTS["targets"])


def generate(**changes) -> pd.DataFrame:
    """Synthetic telemetry with 01_generate_data's defaults, changed where asked."""
    g = configure(changes, stage="01_generate_data")
    return synth.generate(g["samples"], g["seed"], g["profile"], start=g["start"])


def write_synthetic(path, **changes):
    synth.write_csv(generate(**changes), path)
    return path


def train_config(**changes) -> Config:
    """02_train's checked configuration, changed where asked; settings that default to "auto" are fixed here
    (residual, no calendar, the linear path) unless given, for tests that call train_model without selection."""
    return configure({"residual": True, "known_future": False, "linear_path": True, **changes}, stage="02_train")


# ---------------------------------------------------------------------------
# Telemetry CSV fixtures
# ---------------------------------------------------------------------------

START = pd.Timestamp("2025-11-03T00:00:00Z")  # a Monday


def telemetry_frame(rows: int = 300, seed: int = 0, start=START) -> pd.DataFrame:
    """`rows` rows of default-schema telemetry, one per minute, ISO timestamps."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(start, periods=rows, freq="min")
    frame = pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ")})
    frame["throughput_mbps"] = 500 + 50 * rng.standard_normal(rows)
    frame["rtt_ms"] = 40 + 5 * rng.standard_normal(rows)
    frame["packet_loss"] = rng.uniform(0, 0.01, rows)
    frame["jitter_ms"] = rng.uniform(1, 5, rows)
    frame["time_of_day"] = stamps.hour
    frame["day_of_week"] = stamps.dayofweek
    frame["congestion_window"] = rng.integers(100, 2000, rows)
    frame["queue_depth"] = rng.integers(0, 200, rows)
    frame["retransmits"] = rng.integers(0, 20, rows)
    return frame


@pytest.fixture
def make_frame():
    """make_frame(rows=300, seed=0, start=START) -> a default-schema DataFrame."""
    return telemetry_frame


@pytest.fixture
def write_csv(tmp_path):
    """write_csv(frame, name="t.csv") -> path of the frame written as CSV under tmp_path."""
    def write(frame: pd.DataFrame, name: str = "telemetry.csv"):
        path = tmp_path / name
        frame.to_csv(path, index=False)
        return path
    return write


@pytest.fixture
def telemetry_csv(write_csv):
    """A good 300-row default-schema CSV; returns (path, frame)."""
    frame = telemetry_frame()
    return write_csv(frame), frame


# ---------------------------------------------------------------------------
# The tiny run
# ---------------------------------------------------------------------------

# known_future on, so the window-only twin (its training, checkpoint and table row) is covered too.
TINY_RUN = {"samples": 500, "epochs": 2, "window_size": 8, "hidden_size": 8, "batch_size": 64,
            "known_future": True}


def build_tiny_run(root: Path) -> None:
    pipeline.run(TINY_RUN, run_id="tiny", runs_root=root, log=lambda *_: None)


def built_once(shared: Path, build) -> Path:
    """`build(shared)` run once for every pytest-xdist worker of this session: the first worker to take the lock
    builds, the others wait for it and find it built. A failed build leaves no mark, so the next worker tries too."""
    import fcntl

    shared.parent.mkdir(parents=True, exist_ok=True)
    done = shared.with_name(shared.name + ".built")
    with open(shared.with_name(shared.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)
            build(shared)
            done.touch()
    return shared


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """(runs root, RunFolder) of one tiny end-to-end run with id 'tiny'; tests only read it (or write beside it).

    Under pytest-xdist the run is made once for all workers (four kernel starts, not four per worker); each worker
    gets its own copy of the runs root, so what one worker's tests add beside the run never reaches another's."""
    root = tmp_path_factory.mktemp("runs")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        build_tiny_run(root)
    else:
        shared = built_once(tmp_path_factory.getbasetemp().parent / "shared-tiny-runs", build_tiny_run)
        shutil.copytree(shared, root, dirs_exist_ok=True)
    return root, RunFolder(root / "tiny")


@pytest.fixture(scope="session")
def tiny_run(tiny_runs):
    return tiny_runs[1]


def train_and_export(folder, telemetry, prepared, config) -> object:
    """Train `prepared` (from `telemetry`) with `config` and export it into `folder` as 04_export does, without a
    kernel: the ONNX file, its calibrated bands and input recipe in the metadata. Returns the torch model."""
    from bwkit.evaluation import calibration, shipped_bands
    from bwkit.features import training_recipe
    from bwkit.serving import export
    from bwkit.training import train_model

    window = config.window_size
    result = train_model(prepared, config, folder / "best_model.pth", log_path=folder / "log.txt",
                         data_info=telemetry.info(), progress=False)
    onnx_path = export.export_onnx(result.model, window, len(prepared.features), path=folder / "model.onnx")
    shipped = shipped_bands(calibration(result.model, prepared, telemetry))
    saved = {"features": prepared.features, "targets": prepared.targets, "config": config.to_dict(), "best_epoch": 1,
             "state_dict": result.model.state_dict(), "model": {}, "data": {}, "versions": {}, "hardware": {}}
    recipe = training_recipe(telemetry, prepared.features, window).to_dict()
    export.write_metadata(folder / "model_metadata_v1.json", saved, window, metrics={}, parity_result={},
                          onnx_name=onnx_path.name, intervals=shipped, recipe=recipe)
    return result.model


# The first lines of a script run in a fresh interpreter where importing torch fails: what needs no torch is shown to.
WITHOUT_TORCH = """import sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, Blocked())
"""


# ---------------------------------------------------------------------------
# Stand-in stages: tests of how runs are orchestrated, not of what the stages compute
# ---------------------------------------------------------------------------

STAND_IN_STAGES = Path(__file__).parent / "notebooks" / "stand_in_stages"


@pytest.fixture
def stand_in_stages(monkeypatch):
    """Runs this test starts (here, in its subprocesses and on the Dask workers it starts) execute the stand-ins in
    tests/notebooks/stand_in_stages/ for 02_train, 03_evaluate and 04_export: seconds where the real stages take a
    minute, for tests of sweeps, a killed client or resume, whose stages' work the tiny run's tests check. Each
    stand-in writes stand_in_<stage>.txt into the run folder, so a test can tell they ran; 03_evaluate's lasts
    BWKIT_STAND_IN_SECONDS (3 here, 0 elsewhere), so that a test can signal the run while it is under way."""
    monkeypatch.setenv(pipeline.STAND_INS, str(STAND_IN_STAGES))
    monkeypatch.setenv("BWKIT_STAND_IN_SECONDS", "3")
    return STAND_IN_STAGES


def stand_ins_for(folder: Path, *stages: str) -> Path:
    """A folder holding the stand-ins of `stages` alone, to name in BWKIT_STAGE_NOTEBOOKS: the other stages run
    for real (a search's pruner reads the real 02_train's epochs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stage in stages:
        shutil.copy(STAND_IN_STAGES / f"{stage}.ipynb", folder)
    return folder


# ---------------------------------------------------------------------------
# Pages in a real browser (Debian's Chromium driven by Playwright; never a downloaded browser)
# ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 900}
SMALLEST_TEXT_PX = 10

# Every text's computed size, every image's display scale, and whatever reaches past the viewport's width.
LAYOUT_PROBE = """() => {
  const small = [], wide = [], images = [], width = document.documentElement.clientWidth;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement, text = walker.currentNode.textContent.trim();
    if (!text || !el || ['SCRIPT', 'STYLE'].includes(el.tagName)) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < %(px)d) small.push(`${el.tagName} ${size}px: ${text.slice(0, 50)}`);
  }
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (el.offsetParent !== null && box.width > 0 && box.right > width + 1) wide.push(`${el.tagName}.${el.className} ${Math.round(box.right)}px`);
  }
  for (const img of document.images) {
    const shown = img.offsetParent !== null;
    images.push({alt: img.alt, loaded: img.complete && img.naturalWidth > 0, shown,
                 scale: shown && img.naturalWidth ? img.getBoundingClientRect().width / img.naturalWidth : null});
  }
  const empty = [...document.querySelectorAll('figure, .jp-RenderedImage')].filter(f => !f.querySelector('img')).length;
  return {small, wide: wide.slice(0, 10), images, empty, scroll: document.documentElement.scrollWidth, width,
          chars: document.body.innerText.length};
}""" % {"px": SMALLEST_TEXT_PX}


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for this module's tests (skipped where /usr/bin/chromium is missing)."""
    import shutil

    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


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


@pytest.fixture
def readable(browser, tmp_path):
    """readable(path) opens a page offline at 1400 x 900 and asserts what a reviewer needs: no text under 10 px
    (figures' included: each shown at a scale that keeps their smallest font at 10 px or more), nothing wider than
    the viewport, no figure without its image, nothing fetched from the network. Where one fails, the page is
    screenshotted whole and the assertion names the file (a screenshot of every page cost half a second each).
    Returns what it measured: the probe's findings and the page's text length (`chars`)."""
    from bwkit.reports import plots

    smallest_figure_px = plots.SMALLEST_FONT_PT * plots.DPI / 72

    def check(path) -> dict:
        page = browser.new_page(viewport=VIEWPORT)
        blocked = []
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                   else (blocked.append(r.request.url), r.abort()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        found = page.evaluate(LAYOUT_PROBE)
        too_small = [i for i in found["images"] if i["shown"] and i["scale"] * smallest_figure_px < SMALLEST_TEXT_PX]
        problems = {"fetched": blocked, "small text": found["small"][:10], "wider than the viewport": found["wide"],
                    "empty figures": found["empty"], "images not loaded": [i for i in found["images"] if not i["loaded"]],
                    "figures shown too small to read": too_small}
        problems, shot = {k: v for k, v in problems.items() if v}, None
        if found["scroll"] > found["width"]:
            problems["scrolls sideways"] = (found["scroll"], found["width"])
        if problems:
            shot = tmp_path / f"{path.parent.name}-{path.stem}.png"
            page.screenshot(path=shot, full_page=True)
        page.close()
        assert not problems, (f"{path} (screenshot {shot})", problems)
        return found
    return check
