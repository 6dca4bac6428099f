"""The four notebooks as the tiny run executed them, and as a user runs them by hand."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bwkit.evaluation import methods
from bwkit.runs import params
from bwkit.training.model import load_checkpoint
from bwkit.runs.paths import ROOT, STAGES
from bwkit.features import CALENDAR_FEATURES

from conftest import TARGETS, TINY_RUN, write_synthetic

papermill = pytest.importorskip("papermill")


def test_generate_notebook_writes_the_same_bytes_as_the_package(tiny_run, tmp_path):
    expected = write_synthetic(tmp_path / "expected.csv", samples=TINY_RUN["samples"])
    assert tiny_run.data.read_bytes() == expected.read_bytes()


def test_train_notebook_writes_a_data_only_checkpoint_its_twin_a_log_and_a_plot(tiny_run):
    saved = torch.load(tiny_run.checkpoint, weights_only=True)
    calendar = len(CALENDAR_FEATURES)
    assert saved["features"][-calendar:] == list(CALENDAR_FEATURES)
    twin = torch.load(tiny_run.window_only_checkpoint, weights_only=True)
    assert twin["config"]["known_future"] is False and len(twin["features"]) == len(saved["features"]) - calendar
    assert saved["data"]["sha256"] and saved["data"]["rows"] == TINY_RUN["samples"]
    log = tiny_run.log.read_text()
    assert "epoch    1" in log and "best epoch" in log and tiny_run.window_only_log.exists()
    assert tiny_run.plot("history").stat().st_size > 1000


def test_evaluate_notebook_reports_the_guide_fields_and_every_method(tiny_run):
    report = json.loads(tiny_run.report.read_text())
    for key in ("model", "success", "achieved_metrics", "target_metrics", "training_time_seconds", "model_size_mb"):
        assert key in report
    assert set(report["achieved_metrics"]) == {"correlation", "mape", "accuracy_percent"}
    assert list(report["comparison"]) == methods.method_names()   # synthetic data with a twin: every registered method
    assert "hour and weekday" in report["summary"] and report["model_size_mb"] > 0
    assert report["model"].endswith("the head reading the last row too)")   # the model as trained since last_to_head
    for method in report["comparison"].values():
        assert list(method["per_target"]) == TARGETS
    assert report["comparison"][methods.REFERENCE]["average"]["skill"] == pytest.approx(0.0)
    assert "<strong>ridge</strong> (baseline)" in tiny_run.html("03_evaluate").read_text()   # the registry, listed


def test_export_notebook_writes_a_lone_onnx_that_matches_torch(tiny_run):
    import onnxruntime as ort

    session = ort.InferenceSession(str(tiny_run.onnx("v1")), providers=["CPUExecutionProvider"])
    model, saved = load_checkpoint(tiny_run.checkpoint)
    window = saved["config"]["window_size"]
    x = np.random.default_rng(0).normal(size=(5, window, len(saved["features"]))).astype(np.float32) * 10 + 50
    assert np.allclose(session.run(None, {"input": x})[0], model(torch.from_numpy(x)).detach().numpy(), atol=1e-3)
    meta = json.loads(tiny_run.metadata("v1").read_text())
    assert meta["parity"]["passed"] and meta["window_size"] == window and meta["features"] == saved["features"]
    assert len(meta["scalers"]["features"]["mean"]) == len(saved["features"])
    assert meta["metrics"]["onnx_latency"]["p50_ms"] > 0


@pytest.mark.parametrize("stage", STAGES)
def test_every_notebook_checks_its_parameters_in_its_first_code_cell(stage):
    """What the check does is tested on fixture notebooks (test_stage_failures.py); here: every stage calls it first."""
    cells = [c for c in json.loads(params.notebook_path(stage).read_text())["cells"] if c["cell_type"] == "code"]
    assert "parameters" in cells[0]["metadata"]["tags"]
    check = "".join(cells[1]["source"])
    assert f'params.check_notebook(globals(), "{stage}")' in check
    # before torch, pandas' plotting and the rest: a misspelled papermill parameter costs a kernel start, no more
    assert [line for line in check.splitlines() if line.startswith(("import", "from"))] == ["from bwkit.runs import params"]


def test_papermill_cli_runs_one_stage_from_the_repo_root(tmp_path):
    """The documented command: papermill notebooks/02_train.ipynb runs/....ipynb -p epochs N."""
    csv = write_synthetic(tmp_path / "data.csv", samples=400, seed=3)
    cmd = [sys.executable, "-m", "papermill", "notebooks/02_train.ipynb", str(tmp_path / "out.ipynb"), "-k", "python3",
           "-p", "epochs", "1", "-p", "hidden_size", "8", "-p", "window_size", "8",
           "-p", "data_path", str(csv), "-p", "run_dir", str(tmp_path / "run")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.load(tmp_path / "run" / "best_model.pth", weights_only=True)["config"]["epochs"] == 1


def test_a_misspelled_papermill_parameter_stops_before_any_stage_work(tmp_path):
    """papermill's own line names the typo before a cell runs; the check cell, first, stops the kernel there."""
    cmd = [sys.executable, "-m", "papermill", "notebooks/02_train.ipynb", str(tmp_path / "out.ipynb"), "-k", "python3",
           "-p", "epochz", "3", "-p", "run_dir", str(tmp_path / "run")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert done.stderr.index("Passed unknown parameter: epochz") < done.stderr.index("Executing")
    assert done.stderr.strip().splitlines()[-1].startswith("ParameterError: unknown parameter 'epochz'")
    assert "Did you mean 'epochs'" in done.stderr
    cells = [c for c in json.loads((tmp_path / "out.ipynb").read_text())["cells"] if c["cell_type"] == "code"]
    status = [c["metadata"]["papermill"]["status"] for c in cells]
    assert status[:3] == ["completed", "completed", "failed"] and set(status[3:]) == {"pending"}
    assert not (tmp_path / "run").exists()    # nothing of the stage ran: no folder, no data generated


def test_rendering_a_notebook_never_builds_jsonschemas_iri_grammars(tiny_run, tmp_path):
    """nbformat's jsonschema would import rfc3987_syntax (38 grammars compiled, ~1.5 s of every process that runs
    or renders a notebook); bwkit's processes keep it out, and the notebook still reads, validates and renders."""
    notebook = tmp_path / "01_generate_data.ipynb"
    notebook.write_bytes(tiny_run.notebook("01_generate_data").read_bytes())
    script = ("import sys; from bwkit.reports import notebook_to_html; "
              f"page = notebook_to_html({str(notebook)!r}); "
              "import nbformat; nbformat.validate(nbformat.read(str(page.with_suffix('.ipynb')), as_version=4)); "
              "print(repr(sys.modules.get('rfc3987_syntax', 'absent')))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None" and (tmp_path / "01_generate_data.html").stat().st_size > 1000
