"""`bwkit reproduce`: the same record gives the same run, a tampered record drifts, changed data is refused."""
import json
import shutil

import pytest

from bwkit import cli
from bwkit.pipeline import runner as pipeline
from bwkit.runs.artifacts import RunFolder
from bwkit.errors import RunError
from bwkit.pipeline.reproduction import reproduce

from conftest import write_synthetic

SMALL = {"epochs": 1, "window_size": 5, "hidden_size": 4}


@pytest.fixture(scope="module")
def external_run(tmp_path_factory):
    """A tiny run on an external CSV (reproduce's other data path)."""
    folder = tmp_path_factory.mktemp("repro")
    csv = write_synthetic(folder / "data.csv", samples=300, seed=4)
    pipeline.run({**SMALL, "data_path": str(csv)}, run_id="ext", runs_root=folder / "runs", log=lambda *_: None)
    return RunFolder(folder / "runs" / "ext"), csv


def test_a_run_reproduces_exactly_on_the_same_machine(tiny_run, capsys):
    assert cli.main(["reproduce", str(tiny_run.root), "--run-id", "tiny-again"]) == 0
    out = capsys.readouterr().out
    assert "reproduced exactly: " in out and "[1/4] 01_generate_data" in out
    again = RunFolder(tiny_run.root.parent / "tiny-again")
    result = json.loads(again.run_json.read_text())["reproduction"]
    assert result["of"] == "tiny" and result["drift"] == [] and result["compared"] > 100
    assert result["check"] == []                                  # bwkit check passes on the new folder
    assert "reproduced exactly" in again.index.read_text()


def test_a_tampered_parameter_is_reported_as_drift(external_run, tmp_path):
    run, _ = external_run
    copy = RunFolder(shutil.copytree(run.root, tmp_path / "tampered"))
    record = json.loads(copy.run_json.read_text())
    record["parameters"]["seed"] = 7
    copy.run_json.write_text(json.dumps(record))
    _, result = reproduce(copy.root, log=lambda *_: None)
    assert result["verdict"].startswith("drifted")
    drifted = {row["what"] for row in result["drift"]}
    assert "ONNX outputs on the test windows" in drifted and any(w.startswith("weights ") for w in drifted)
    assert "data sha256" not in drifted


def test_changed_external_data_is_refused_before_anything_runs(external_run, tmp_path):
    run, csv = external_run
    copy = RunFolder(shutil.copytree(run.root, tmp_path / "copy"))
    backup = csv.read_bytes()
    try:
        write_synthetic(csv, samples=300, seed=5)
        with pytest.raises(RunError, match="is not the data run ext read"):
            reproduce(copy.root, log=lambda *_: None)
    finally:
        csv.write_bytes(backup)
    assert not (tmp_path / "copy-reproduced").exists()
