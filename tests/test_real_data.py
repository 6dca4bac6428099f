"""The shipped slice of real 5G telemetry: traces, gaps, held targets, no oracle; and `bwkit reproduce` of a run on
an external CSV (this one): a tampered record drifts, changed data is refused."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from bwkit.pipeline import runner as pipeline
from bwkit.runs.artifacts import RunFolder
from bwkit.data.loader import sha256_file
from bwkit.data.loader import load_telemetry
from bwkit.errors import ParameterError, RunError
from bwkit.pipeline.reproduction import reproduce
from bwkit.runs.params import configure
from bwkit.runs.paths import ROOT
from bwkit.features.windows import prepare

PRESET = ROOT / "presets" / "irish5g.yml"


@pytest.fixture(scope="module")
def real_slice(tmp_path_factory):
    """The first 250 rows of three traces, with the radio gaps the full file has."""
    frame = pd.read_csv(ROOT / "data" / "irish5g" / "irish5g_download.csv.gz")
    traces = frame["trace_id"].unique()[:3]
    part = pd.concat([frame[frame["trace_id"] == t].head(250) for t in traces])
    path = tmp_path_factory.mktemp("real") / "irish5g_slice.csv"
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
    assert telemetry.segment.max() == 2
    prepared = prepare(telemetry, 20, False)
    rows = np.concatenate([w.row for w in prepared.splits.values()])
    assert len(rows) == 3 * (250 - 20)              # 20 rows of each trace only start windows
    assert (telemetry.segment[rows] == telemetry.segment[rows - 20]).all()
    assert (telemetry.segment[rows] == telemetry.segment[rows - 1]).all()   # persistence's pair


@pytest.fixture(scope="module")
def real_run(real_slice):
    """A tiny run on the slice: an existing CSV (generation skipped, its hash recorded) named by a relative path,
    into a relative runs folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(real_slice.parent)
        settings = preset(data_path=real_slice.name, epochs=2, hidden_size=8, window_size=10)
        pipeline.run(settings, run_id="real", runs_root="relruns", log=lambda *_: None)
    return RunFolder(real_slice.parent / "relruns" / "real")


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


# `bwkit reproduce` of a run on an external CSV (a generated run reproduced exactly: test_reproduce.py)

def test_a_tampered_parameter_is_reported_as_drift(real_run, tmp_path):
    copy = RunFolder(shutil.copytree(real_run.root, tmp_path / "tampered"))
    record = json.loads(copy.run_json.read_text())
    record["parameters"]["seed"] = 7
    copy.run_json.write_text(json.dumps(record))
    _, result = reproduce(copy.root, log=lambda *_: None)
    assert result["verdict"].startswith("drifted")
    drifted = {row["what"] for row in result["drift"]}
    assert "ONNX outputs on the test windows" in drifted and any(w.startswith("weights ") for w in drifted)
    assert "data sha256" not in drifted


def test_changed_external_data_is_refused_before_anything_runs(real_run, real_slice, tmp_path):
    copy = RunFolder(shutil.copytree(real_run.root, tmp_path / "copy"))
    backup = real_slice.read_bytes()
    try:
        real_slice.write_bytes(backup + b"\n")   # the same rows, other bytes: not the sha256 recorded
        with pytest.raises(RunError, match="is not the data run real read"):
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
