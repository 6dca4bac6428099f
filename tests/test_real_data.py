"""The shipped slice of real 5G telemetry: traces, gaps, held targets, no oracle; names a user chose that are HTML
(its run doubles as the hostile-names run: one more target and feature, its trace ids, file name and run id), never
run as script in a browser; and `bwkit reproduce` of a run on an external CSV (this one): changed data is refused
before anything runs."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bwkit.pipeline import runner as pipeline
from bwkit.runs.artifacts import RunFolder
from bwkit.data.loader import sha256_file
from bwkit.data.loader import load_telemetry
from bwkit.errors import ParameterError
from bwkit.pipeline.reproduction import reproduce
from bwkit.runs.params import configure
from bwkit.runs.paths import ROOT
from bwkit.features.windows import prepare
from conftest import open_offline

PRESET = ROOT / "presets" / "irish5g.yml"


HOSTILE_TARGET = "<script>alert('target')</script>"
HOSTILE_FEATURE = "<img src=x onerror=alert('feature')>"
HOSTILE_RUN_ID = "<svg onload=alert('run')>"
HOSTILE_TRACES = ["<i id=pwned>a", "<b id=pwned>b", "<u id=pwned>c"]


@pytest.fixture(scope="module")
def real_slice(tmp_path_factory):
    """The first 250 rows of three traces, with the radio gaps the full file has; the traces' ids, the file's name
    and two more columns' names (a target: throughput at half scale with noise; a feature: noise) are HTML."""
    frame = pd.read_csv(ROOT / "data" / "irish5g" / "irish5g_download.csv.gz")
    traces = frame["trace_id"].unique()[:3]
    part = pd.concat([frame[frame["trace_id"] == t].head(250) for t in traces])
    part["trace_id"] = part["trace_id"].map(dict(zip(traces, HOSTILE_TRACES)))
    rng = np.random.default_rng(0)
    part[HOSTILE_TARGET] = 0.5 * part["throughput_mbps"] + rng.normal(size=len(part))
    part[HOSTILE_FEATURE] = rng.normal(size=len(part))
    path = tmp_path_factory.mktemp("real") / "x<img src=y onerror=alert('path')>.csv"
    part.to_csv(path, index=False)
    return path


def preset(**changes):
    return configure(changes, parameters_file=PRESET)


def test_preset_resolves_its_data_path_next_to_itself():
    assert preset()["data_path"] == str((ROOT / "data" / "irish5g" / "irish5g_download.csv.gz").resolve())
    assert preset(window_size=5)["window_size"] == 5 and preset()["nan_policy"] == "fill_flag"


def test_no_window_and_no_persistence_pair_crosses_a_trace(real_slice):
    p = preset()
    telemetry = load_telemetry(real_slice, p["features"], p["targets"], nan_policy=p["nan_policy"],
                               fresh_column=p["fresh_column"], fresh_targets=p["fresh_targets"])
    assert telemetry.segment.max() == 2 and list(telemetry.targets) == p["targets"].split(",")
    prepared = prepare(telemetry, 20, False)
    rows = np.concatenate([w.row for w in prepared.splits.values()])
    assert len(rows) == 3 * (250 - 20)              # 20 rows of each trace only start windows
    assert (telemetry.segment[rows] == telemetry.segment[rows - 20]).all()
    assert (telemetry.segment[rows] == telemetry.segment[rows - 1]).all()   # persistence's pair


@pytest.fixture(scope="module")
def real_run(real_slice):
    """A tiny run on the slice: an existing CSV (generation skipped, its hash recorded) named by a relative path,
    into a relative runs folder; the preset's targets and features and the slice's HTML-named ones."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(real_slice.parent)
        named = preset()
        settings = preset(data_path=real_slice.name, epochs=2, hidden_size=8, window_size=10,
                          targets=f"{named['targets']},{HOSTILE_TARGET}",
                          features=f"{named['features']},{HOSTILE_TARGET},{HOSTILE_FEATURE}")
        pipeline.run(settings, run_id=HOSTILE_RUN_ID, runs_root="relruns", log=lambda *_: None)
    return RunFolder(real_slice.parent / "relruns" / HOSTILE_RUN_ID)


def test_tiny_end_to_end_run_on_real_data_from_relative_paths(real_run, real_slice):
    run = real_run
    record = json.loads(run.run_json.read_text())
    assert record["status"] == "succeeded" and "01_generate_data" not in record["stages"]
    assert record["data"] == {"path": str(real_slice), "generated": False, "sha256": sha256_file(real_slice)}
    assert not run.notebook("01_generate_data").exists() and not run.data.exists() and run.checkpoint.exists()
    assert "samples" not in record["parameters"]   # generation's parameters would only mislead
    report = json.loads(run.report.read_text())
    assert list(report["comparison"]) == ["LSTM", "gbm", "ridge", "seasonal", "persistence"]   # no ceiling for real data
    assert any("filled" in note and "_missing" in note for note in report["data"]["notes"])
    assert "rtt_ms is scored on the" in report["summary"] and "where it is observed" in report["summary"]
    scored = report["per_target"]["rtt_ms"]["n"]
    assert 0 < scored < report["per_target"]["throughput_mbps"]["n"] == report["test_rows"]
    assert report["per_target"][HOSTILE_TARGET]["n"] == report["test_rows"]   # observed on every row


def test_names_a_user_chose_never_run_as_script_in_any_page(browser, real_run):
    pages = [real_run.root.parent / "index.html", *sorted(real_run.root.glob("*.html"))]
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


# `bwkit reproduce` of a run on an external CSV (a generated run reproduced exactly, and what drift looks like:
# test_reproduce.py)

def test_a_run_on_an_external_csv_is_reproduced_from_the_csv_it_read(real_run, real_slice, tmp_path, monkeypatch):
    """The reproduction's part for external data: the recorded parameters, with the CSV at the path recorded (checked
    by its sha256), handed to a new run beside the original, then compared. The run itself is a copy here: stages
    rerun to the last digit are test_reproduce.py's, on the tiny run."""
    from bwkit.pipeline import runner

    copy = RunFolder(shutil.copytree(real_run.root, tmp_path / "runs" / "original"))
    handed = {}

    def rerun(config, run_id, runs_root, log):
        handed.update(config=config, run_id=run_id, runs_root=runs_root)
        return RunFolder(shutil.copytree(copy.root, runs_root / run_id)).index

    monkeypatch.setattr(runner, "run", rerun)
    monkeypatch.chdir(tmp_path)   # not the folder the run started in: the recorded path is absolute
    _, result = reproduce(copy.root, log=lambda *_: None)
    recorded = json.loads(copy.run_json.read_text())["parameters"]
    assert handed["config"].to_dict() == {**recorded, "data_path": str(real_slice)}
    assert handed["run_id"] == f"{HOSTILE_RUN_ID}-reproduced" and handed["runs_root"] == copy.root.parent
    assert result["verdict"] == "reproduced exactly" and result["check"] == []


def test_changed_external_data_is_refused_before_anything_runs(real_run, real_slice, tmp_path):
    copy = RunFolder(shutil.copytree(real_run.root, tmp_path / "copy"))
    backup = real_slice.read_bytes()
    try:
        real_slice.write_bytes(backup + b"\n")   # the same rows, other bytes: not the sha256 recorded
        with pytest.raises(ParameterError, match="is not the data run <svg onload=alert.*> read"):
            reproduce(copy.root, log=lambda *_: None)
    finally:
        real_slice.write_bytes(backup)
    assert not (tmp_path / "copy-reproduced").exists()


def test_parameters_file_with_an_unknown_name_is_refused(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("epoch: 3\n")
    with pytest.raises(ParameterError, match="Did you mean 'epochs'"):
        configure(parameters_file=bad)


def test_parameters_file_values_take_the_parameters_types(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("learning_rate: 1e-3\nstart: 2025-11-03T00:00:00Z\nfeatures: [a, b]\nresidual: no\n")
    config = configure(parameters_file=path)
    assert {k: config[k] for k in ("learning_rate", "start", "features", "residual")} == {
        "learning_rate": 0.001, "start": "2025-11-03T00:00:00Z", "features": "a,b", "residual": False}
