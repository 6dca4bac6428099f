"""A run folder read back: default data on demand, a changed CSV refused, an empty folder trained first."""
import pytest

from bwkit.runs import params
from bwkit.training import trained
from bwkit.runs.artifacts import RunFolder
from bwkit.errors import DataError

from conftest import train_config, write_synthetic

TINY = {"epochs": 1, "hidden_size": 4, "window_size": 8}


def test_missing_default_data_is_generated_once_and_said(tmp_path, monkeypatch):
    monkeypatch.setattr(trained, "default_data_path", lambda *args: tmp_path / "default.csv")
    said = []
    path = trained.ensure_data("", log=said.append)
    assert path == str(tmp_path / "default.csv") and (tmp_path / "default.csv").stat().st_size > 100_000
    assert "generating the default dwcp data (15,000 rows, seed 42)" in said[0]
    said.clear()
    assert trained.ensure_data("", log=said.append) == path and not said
    assert trained.ensure_data("mine.csv") == str((tmp_path.cwd() / "mine.csv").resolve())


def test_a_run_whose_data_changed_since_training_is_refused(tmp_path):
    csv = write_synthetic(tmp_path / "d.csv", samples=300)
    files = RunFolder(tmp_path)
    config = train_config(data_path=str(csv), features="throughput_mbps,rtt_ms", targets="rtt_ms", **TINY)
    trained.train_run(config, files, progress=False)
    assert trained.load(files).telemetry.rows == 300
    write_synthetic(csv, samples=300, seed=9)
    with pytest.raises(DataError, match="changed since training"):
        trained.load(files)


def test_an_empty_folder_is_trained_first_with_02s_defaults_in_process(tmp_path, monkeypatch):
    """03_evaluate and 04_export run alone: the folder gets a model by the library, not by another kernel."""
    csv = write_synthetic(tmp_path / "d.csv", samples=300)
    real = params.configure
    monkeypatch.setattr(trained, "configure",   # stand-in "defaults": tiny, so the test stays fast
                        lambda values=None, **kw: real({**(values or {}), "data_path": str(csv), **TINY}, **kw))
    said = []
    run = trained.load(RunFolder.open(str(tmp_path / "empty")), log=said.append)
    assert "No best_model.pth in" in said[0] and "02_train's defaults" in said[0]
    assert run.saved["config"]["run_dir"] == str(tmp_path / "empty") and run.saved["config"]["epochs"] == 1
    assert run.window_only is None and len(run.prepared.splits["test"]) > 0


def test_a_notebook_says_which_model_it_scores_and_warns_of_a_quick_test(tiny_run):
    said = []
    trained.load(tiny_run, log=said.append)
    assert said[-1].startswith(f"Model: {tiny_run.checkpoint} (trained ")
    assert "epochs=2" in said[-1] and "telemetry.csv (500 rows, sha256 " in said[-1]
    assert "looks like a quick test" in said[-1]
