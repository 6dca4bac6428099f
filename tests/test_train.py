"""Training: deterministic on CPU, early stopping, a data-only checkpoint."""
import numpy as np
import torch

from bwkit import synth, train
from bwkit.data import load_telemetry
from bwkit.windows import prepare


def tiny_prepared(tmp_path, rows=500):
    path = tmp_path / "tiny.csv"
    synth.write_csv(synth.generate(samples=rows, seed=11), path)
    return prepare(load_telemetry(path), window_size=8)


def test_two_trainings_with_the_same_parameters_give_identical_weights_and_losses(tmp_path):
    prepared = tiny_prepared(tmp_path)
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        runs.append(train.train_model(prepared, tmp_path / name, epochs=3, hidden_size=8, progress=False))
    a, b = runs
    assert a.history["val_loss"] == b.history["val_loss"]
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    other = train.train_model(prepared, tmp_path, epochs=3, hidden_size=8, seed=7, progress=False)
    assert other.history["val_loss"] != a.history["val_loss"]


def test_early_stopping_keeps_the_best_epoch_and_the_checkpoint_loads_as_data(tmp_path):
    prepared = tiny_prepared(tmp_path)
    result = train.train_model(prepared, tmp_path, epochs=40, patience=2, learning_rate=0.05, hidden_size=8,
                               progress=False)
    val = result.history["val_loss"]
    assert result.stopped_epoch < 40 and result.stopped_epoch - result.best_epoch == 2
    assert result.best_epoch == int(np.argmin(val)) + 1
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["best_epoch"] == result.best_epoch and saved["features"] == prepared.features
    model, _ = train.load_checkpoint(result.checkpoint)
    x = torch.as_tensor(prepared.splits["val"].X)
    assert torch.equal(model(x), result.model(x))
    log = (tmp_path / "training_output.log").read_text()
    assert "early stop" in log and log.count("\nepoch") == result.stopped_epoch
