"""Where tracking logs by default, and the training log read back as MLflow's (and the pruner's) curve."""
from bwkit.experiments import tracking_uri
from bwkit.training import epochs_trained, read_epochs


def test_the_default_store_is_sqlite_under_the_runs_root_unless_a_uri_or_the_environment_names_one(tmp_path,
                                                                                                    monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri(None, tmp_path) == "http://127.0.0.1:5000"
    assert tracking_uri("http://127.0.0.1:6000", tmp_path) == "http://127.0.0.1:6000"


def test_the_training_log_reads_back_per_epoch_including_selection_and_skips_a_half_written_line(tmp_path):
    log = tmp_path / "training_output.log"
    log.write_text("# training 344 windows\n"
                   "epoch    1  train_loss 0.900000  val_loss 0.800000  lr 1.00e-03  (selection)\n"
                   "epoch    2  train_loss 0.700000  val_loss 0.600000  lr 1.00e-03  *best\n"
                   "# best epoch 2 (val_loss 0.600000); 2 epochs in 0.3 s\n"
                   "epoch    3  train_loss 0.6")
    assert read_epochs(log) == [{"epoch": 1, "val_loss": 0.8, "train_loss": 0.9, "learning_rate": 1e-3},
                                {"epoch": 2, "val_loss": 0.6, "train_loss": 0.7, "learning_rate": 1e-3}]
    assert read_epochs(tmp_path / "missing.log") == []
    (tmp_path / "bandwidth_predictor_report.json").write_text(
        '{"selection": {"epochs": 3, "candidates": [{"chosen": true}, {"chosen": false}]}}')
    (tmp_path / "training_output_window_only.log").write_text("epoch    1  train_loss 1.0  val_loss 1.0  lr 1e-3\n")
    assert epochs_trained(tmp_path) == 2 + 1 + 3   # kept model, twin, the other candidate's 3 selection epochs


def test_tracking_is_a_notebook_parameter_that_set_turns_off():
    from bwkit.runs import configure, notebook_parameters

    assert notebook_parameters("04_export")["tracking"].default is True
    assert configure(sets=["tracking=off"])["tracking"] is False
    assert configure(sets=["tracking=on"])["tracking"] is True


def test_a_run_with_tracking_off_warms_no_store(tmp_path):
    from types import SimpleNamespace

    from bwkit.experiments import Tracker

    tracker = Tracker(runs_root=tmp_path)
    tracker.begin(SimpleNamespace(data={"parameters": {"tracking": False}}))
    assert tracker._warming is None and not list(tmp_path.iterdir())


def test_epochs_trained_counts_the_twin_across_the_linear_path_that_was_not_kept(tmp_path):
    (tmp_path / "training_output.log").write_text("".join(
        f"epoch {e:4d}  train_loss 0.5  val_loss 0.4  lr 1e-3\n" for e in range(1, 21)))
    (tmp_path / "bandwidth_predictor_report.json").write_text(
        '{"selection": {"epochs": 3, "candidates": [{"chosen": true, "linear_path": true}, '
        '{"chosen": false, "linear_path": false}, {"chosen": false, "linear_path": true}], '
        '"linear_path": {"true": {"epochs": 20}, "false": {"epochs": 17}}}}')
    assert epochs_trained(tmp_path) == 20 + 2 * 3 + (17 - 3)   # kept, two raced candidates, the twin past the race

