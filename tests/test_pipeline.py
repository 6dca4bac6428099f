"""`bwkit run` end to end on tiny parameters, and every way it refuses to start."""
import json
import re

import pytest
import torch

from bwkit import cli
from bwkit.pipeline import runner as pipeline
from bwkit.runs.artifacts import RunFolder
from bwkit.data.loader import sha256_file
from bwkit.errors import ParameterError, RunError
from bwkit.runs.paths import STAGES

from conftest import TINY_RUN, write_synthetic

QUIET = {"log": lambda *_: None}


def test_run_writes_the_contract_folder(tiny_run):
    for stage in STAGES:
        assert tiny_run.notebook(stage).exists() and tiny_run.html(stage).exists()
    for path in (tiny_run.checkpoint, tiny_run.window_only_checkpoint, tiny_run.report, tiny_run.log,
                 tiny_run.onnx("v1"), tiny_run.torchscript("v1"), tiny_run.metadata("v1"), tiny_run.data,
                 tiny_run.index, *tiny_run.plots()):
        assert path.exists(), path.name
    record = json.loads(tiny_run.run_json.read_text())
    assert record["status"] == "succeeded" and record["parameters"]["epochs"] == 2
    assert list(record["stages"]) == list(STAGES)
    assert all(s["status"] == "succeeded" and s["seconds"] > 0 for s in record["stages"].values())
    assert record["data"]["sha256"] == sha256_file(tiny_run.data) and record["versions"]["torch"].startswith("2.13.0")
    assert not list(tiny_run.root.glob(".*partial"))


def test_the_saved_configuration_is_the_one_the_model_was_trained_with(tiny_run):
    """A changed parameter (hidden_size 8, known_future) reaches the weights, the checkpoint and run.json alike;
    a setting left to "auto" is saved as resolved, beside what was asked."""
    saved = torch.load(tiny_run.checkpoint, weights_only=True)
    parameters = json.loads(tiny_run.run_json.read_text())["parameters"]
    trained = {k: v for k, v in saved["config"].items() if k != "run_dir"}
    asked = saved["selection"]["asked"]
    assert asked == {"residual": "auto", "known_future": True, "linear_path": "auto"} == \
        {k: parameters[k] for k in asked}
    resolved = [k for k, v in asked.items() if v == "auto"]
    assert trained == {k: parameters[k] for k in trained if k not in resolved} | {k: trained[k] for k in resolved}
    chosen = next(c for c in saved["selection"]["candidates"] if c["chosen"])
    assert all(trained[k] is chosen[k] for k in resolved) and all(isinstance(trained[k], bool) for k in resolved)
    assert saved["config"]["hidden_size"] == 8 and saved["state_dict"]["lstm.weight_hh_l0"].shape == (32, 8)
    assert saved["config"]["known_future"] is True and saved["features"][-1] == "next_weekday_6"
    assert len(saved["history"]["epoch"]) == parameters["epochs"]


def test_html_reports_need_no_network_and_show_tables_and_plots(tiny_runs):
    root, run = tiny_runs
    for html in run.root.glob("*.html"):
        text = html.read_text()
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", text), html.name
    evaluate = run.html("03_evaluate").read_text()
    assert "<table" in evaluate and "data:image/png;base64" in evaluate and "persistence" in evaluate
    summary = run.index.read_text()
    assert "the best baseline here" in summary and "data:image/png;base64" in summary and "02_train.html" in summary
    assert "tiny/index.html" in (root / "index.html").read_text()


def test_reviewer_pages_show_outputs_only_and_the_parameters_that_differ(tiny_run):
    reviewer, with_code = tiny_run.html("02_train").read_text(), tiny_run.html_with_code("02_train").read_text()
    assert "hl-ipython3" not in reviewer and "hl-ipython3" in with_code      # code cells: only in the second
    assert reviewer.count("Parameters that differ from this notebook") == 1 and "<td>hidden_size</td>" in reviewer
    assert "# Parameters" not in reviewer and "training_output.log</a>" in reviewer
    evaluate = tiny_run.html("03_evaluate").read_text()
    assert evaluate.index("The conclusion first") < evaluate.index("The comparison table")
    assert "with code</a>" in tiny_run.index.read_text()


def test_an_existing_run_id_is_never_overwritten_and_is_a_usage_error(tiny_runs, monkeypatch, capsys):
    root, run = tiny_runs
    before = run.run_json.read_text()
    with pytest.raises(ParameterError, match="already exists"):
        pipeline.run(TINY_RUN, run_id="tiny", runs_root=root)
    monkeypatch.setenv("BWKIT_RUNS", str(root))
    assert cli.main(["run", "--run-id", "tiny", "--set", "tracking=off"]) == 2   # as for any argument it refuses
    assert "already exists" in capsys.readouterr().err
    assert run.run_json.read_text() == before


@pytest.mark.parametrize("overrides, message", [
    ({"run_dir": "/tmp/x"}, "set by bwkit run"), ({"output": "x.csv"}, "set by bwkit run"),
    ({"epoch": 3}, "Did you mean 'epochs'"), ({"epochs": "3"}, "expects int"),
])
def test_bad_parameters_are_refused_before_a_folder_exists(tmp_path, overrides, message):
    with pytest.raises(ParameterError, match=message):
        pipeline.run(overrides, runs_root=tmp_path / "runs", **QUIET)
    assert not (tmp_path / "runs").exists()


def test_bad_data_fails_the_run_before_any_training_with_one_message(tmp_path, monkeypatch, capsys):
    csv = write_synthetic(tmp_path / "broken.csv", samples=300, seed=1)
    lines = csv.read_text().splitlines()
    header, row = lines[0].split(","), lines[41].split(",")
    row[header.index("rtt_ms")] = "fast"
    lines[41] = ",".join(row)
    csv.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    # tracking off: a failed run's MLflow record is test_tracking.py's; here it would cost a new store's set-up
    assert cli.main(["run", "--run-id", "bad", "--set", f"data_path={csv}", "--set", "epochs=1",
                     "--set", "tracking=off"]) == 1
    err = capsys.readouterr().err
    assert "broken.csv, column 'rtt_ms', row 41" in err and "'fast' is not a number" in err
    run = RunFolder(tmp_path / "runs" / "bad")
    record = json.loads(run.run_json.read_text())
    assert record["status"] == "failed" and record["failure"]["stage"] == "data check"
    assert record["error"].startswith("data check before 02_train: ") and "row 41" in record["error"]
    assert record["stages"] == {} and not run.notebook("02_train").exists()   # nothing was trained
    assert "failed" in run.index.read_text() and "row 41" in run.index.read_text()


@pytest.mark.parametrize("run_id", ["index.html", ".hidden", "a/b", "..", "x" * 129, "", "sweeps", "studies",
                                    "comparisons", "mlflow.db", "mlflow.db-journal", "mlartifacts", "scratch", "new\nline",
                                    "tab\there"])
def test_a_run_id_that_is_not_a_plain_folder_name_is_refused(tmp_path, run_id):
    with pytest.raises(ParameterError, match="plain folder name"):
        pipeline.run(TINY_RUN, run_id=run_id, runs_root=tmp_path, **QUIET)
    assert list(tmp_path.iterdir()) == []


def test_a_runs_folder_that_is_a_file_is_the_kits_error(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(RunError, match="cannot create a run folder"):
        pipeline.run(TINY_RUN, runs_root=tmp_path / "runs", **QUIET)


def test_every_json_file_of_a_run_is_strict_json(tiny_run):
    def refuse(constant):
        raise ValueError(f"bare {constant} in strict JSON")

    for path in [tiny_run.run_json, tiny_run.report, tiny_run.metadata("v1")]:
        json.loads(path.read_text(), parse_constant=refuse)
