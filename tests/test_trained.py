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


def test_a_later_training_in_the_folder_leaves_its_model_no_earlier_twin_report_or_bands(tmp_path):
    """02_train run again in a folder, now without the calendar: the first training's window-only twin was compared
    with the new model as if it were its own (a calendar effect that never was), and 04_export took the first
    report's bands and metrics for the new model."""
    import json
    import warnings

    from bwkit.serving.export import report_of
    from bwkit.training.model import load_checkpoint

    csv = write_synthetic(tmp_path / "d.csv", samples=300)
    files = RunFolder(tmp_path)
    trained.train_run(train_config(data_path=str(csv), known_future=True, compare_window_only=True, **TINY), files,
                      progress=False)
    assert files.window_only_checkpoint.exists() and files.window_only_log.exists()
    saved = load_checkpoint(files.checkpoint)[1]
    files.report.write_text(json.dumps({"config": saved["config"], "validation_loss": saved["history"]["val_loss"],
                                        "achieved_metrics": {"mape": 1.0}}))   # as 03_evaluate writes them
    assert report_of(files, saved)["achieved_metrics"] == {"mape": 1.0}
    trained.train_run(train_config(data_path=str(csv), known_future=False, **TINY), files, progress=False)
    assert not files.window_only_checkpoint.exists() and not files.window_only_log.exists()
    assert trained.load(files).window_only is None
    with pytest.warns(UserWarning, match="is from an earlier training than best_model.pth"):
        assert report_of(files, load_checkpoint(files.checkpoint)[1]) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert report_of(RunFolder(tmp_path / "none"), saved) == {}   # no report: nothing to say


def test_a_run_folder_moved_elsewhere_reads_its_own_copy_of_the_data(tmp_path):
    """03_evaluate and 04_export of a copied or moved run folder looked for the data at the original folder's path."""
    import shutil

    first = RunFolder(tmp_path / "first")
    first.data.parent.mkdir(parents=True)
    write_synthetic(first.data, samples=300)
    config = train_config(data_path=str(first.data), features="throughput_mbps,rtt_ms", targets="rtt_ms", **TINY)
    trained.train_run(config, first, progress=False)
    moved = RunFolder(shutil.move(first.root, tmp_path / "moved"))
    assert trained.load(moved).telemetry.path == moved.data
    write_synthetic(moved.data, samples=300, seed=9)   # not the file it was trained on: refused, as before
    with pytest.raises(DataError, match="file not found|changed since training"):
        trained.load(moved)
