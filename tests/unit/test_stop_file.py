"""A STOP file beside the run ends training after the current epoch, with the best weights kept."""
from bwkit.data.loader import load_telemetry
from bwkit.features.windows import prepare
from bwkit.training import train

from conftest import FEATURES, TARGETS, train_config, write_synthetic


def _train(tmp_path, name: str, epochs: int, stop_file):
    path = write_synthetic(tmp_path / "tiny.csv", samples=300, seed=11)
    telemetry = load_telemetry(path, FEATURES, TARGETS, nan_policy="error")
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return train.train_model(prepare(telemetry, 5, False), train_config(hidden_size=4, epochs=epochs, patience=30),
                             folder / "model.pth", log_path=folder / "train.log", data_info=telemetry.info(),
                             progress=False, stop_file=stop_file)


def test_a_stop_file_ends_training_at_the_next_epoch_and_the_log_says_why(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "STOP").write_text("pruned")
    result = _train(tmp_path, "run", 30, tmp_path / "run" / "STOP")
    assert result.stopped_epoch == 1 and result.best_epoch == 1
    assert "# stopped at epoch 1: asked to by STOP" in (tmp_path / "run" / "train.log").read_text()
    assert _train(tmp_path, "other", 3, tmp_path / "other" / "STOP").stopped_epoch == 3   # no file: no stop
