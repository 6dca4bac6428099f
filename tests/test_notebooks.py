"""Every notebook executed through papermill with tiny parameters, as a user would."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

papermill = pytest.importorskip("papermill")
from bwkit import synth  # noqa: E402
from bwkit.paths import NOTEBOOKS, ROOT  # noqa: E402

TINY_TRAIN = {"epochs": 2, "window_size": 8, "hidden_size": 8, "batch_size": 32, "patience": 5}


def execute(stage, tmp_path, **parameters):
    out = tmp_path / f"{stage}.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / f"{stage}.ipynb"), str(out), parameters=parameters,
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """01 -> 02 -> 03 -> 04 on 600 synthetic rows, in one folder, with the known-future calendar inputs."""
    run = tmp_path_factory.mktemp("run")
    csv = run / "data.csv"
    execute("01_generate_data", run, output=str(csv), samples=600)
    execute("02_train", run, data_path=str(csv), run_dir=str(run), known_future=True, **TINY_TRAIN)
    execute("03_evaluate", run, run_dir=str(run))
    execute("04_export", run, run_dir=str(run))
    return run


def test_generate_notebook_writes_the_same_bytes_as_the_package(tiny_run, tmp_path):
    expected = tmp_path / "expected.csv"
    synth.write_csv(synth.generate(samples=600), expected)
    assert (tiny_run / "data.csv").read_bytes() == expected.read_bytes()


def test_train_notebook_writes_a_data_only_checkpoint_log_and_plot(tiny_run):
    saved = torch.load(tiny_run / "best_model.pth", weights_only=True)
    assert saved["config"]["epochs"] == 2 and saved["config"]["window_size"] == 8
    assert saved["features"][-4:] == ["next_hour_sin", "next_hour_cos", "next_weekday_sin", "next_weekday_cos"]
    twin = torch.load(tiny_run / "window_only_model.pth", weights_only=True)
    assert twin["config"]["known_future"] is False and len(twin["features"]) == len(saved["features"]) - 4
    assert saved["data"]["sha256"] and len(saved["history"]["val_loss"]) >= 1
    log = (tiny_run / "training_output.log").read_text()
    assert "epoch    1" in log and "best epoch" in log
    assert (tiny_run / "training_history.png").stat().st_size > 1000


def test_evaluate_notebook_reports_the_guide_fields_and_every_method(tiny_run):
    report = json.loads((tiny_run / "bandwidth_predictor_report.json").read_text())
    for key in ("model", "success", "achieved_metrics", "target_metrics", "training_time_seconds", "model_size_mb"):
        assert key in report
    assert set(report["achieved_metrics"]) == {"correlation", "mape", "accuracy_percent"}
    assert list(report["comparison"]) == ["oracle", "LSTM", "LSTM (window only)", "ridge", "seasonal", "persistence"]
    assert "hour and weekday" in report["summary"]
    for method in report["comparison"].values():
        assert set(method["per_target"]) == set(synth.TARGETS)
    assert report["comparison"]["persistence"]["average"]["skill"] == pytest.approx(0.0)
    assert (tiny_run / "predictions_scatter.png").exists()


def test_export_notebook_writes_a_lone_onnx_that_matches_torch(tiny_run):
    import onnxruntime as ort
    from bwkit.train import load_checkpoint

    onnx_path = tiny_run / "bandwidth_lstm_v1.onnx"
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    model, saved = load_checkpoint(tiny_run / "best_model.pth")
    x = np.random.default_rng(0).normal(size=(5, 8, len(saved["features"]))).astype(np.float32) * 10 + 50
    assert np.allclose(session.run(None, {"input": x})[0], model(torch.from_numpy(x)).detach().numpy(), atol=1e-3)
    meta = json.loads((tiny_run / "model_metadata_v1.json").read_text())
    assert meta["parity"]["passed"] and meta["window_size"] == 8 and meta["features"] == saved["features"]
    assert len(meta["scalers"]["features"]["mean"]) == len(saved["features"])
    assert (tiny_run / "bandwidth_lstm_v1.pt").exists()


@pytest.mark.parametrize("flag, value, message", [
    ("epoch", 3, "unknown parameter 'epoch'"),
    ("epochs", "many", "parameter 'epochs' expects int"),
    ("learning_rate", True, "parameter 'learning_rate' expects float"),
])
def test_a_bad_parameter_stops_the_notebook_in_its_first_code_cell(tmp_path, flag, value, message):
    with pytest.raises(papermill.PapermillExecutionError) as error:
        execute("02_train", tmp_path, run_dir=str(tmp_path), **{flag: value})
    assert message in str(error.value)
    nb = json.loads((tmp_path / "02_train.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
            and "injected-parameters" not in c["metadata"].get("tags", [])]
    assert code[0]["outputs"][0]["output_type"] == "error"
    assert not (tmp_path / "best_model.pth").exists()


def test_papermill_cli_runs_one_stage_from_the_repo_root(tmp_path):
    """The README's command: papermill notebooks/02_train.ipynb out.ipynb -p epochs N."""
    csv = tmp_path / "data.csv"
    synth.write_csv(synth.generate(samples=400, seed=3), csv)
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "papermill", "notebooks/02_train.ipynb", str(out), "-k", "python3",
           "-p", "epochs", "1", "-p", "hidden_size", "8", "-p", "window_size", "8",
           "-p", "data_path", str(csv), "-p", "run_dir", str(tmp_path / "run")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "run" / "best_model.pth").exists()
