"""Training: deterministic on CPU, early stopping, a data-only checkpoint."""
import numpy as np
import torch

from bwkit.training import train
from bwkit.data.loader import load_telemetry
from bwkit.training.model import load_checkpoint
from bwkit.features.windows import prepare

from conftest import FEATURES, TARGETS, train_config, write_synthetic


def tiny_prepared(tmp_path, rows=500):
    path = write_synthetic(tmp_path / "tiny.csv", samples=rows, seed=11)
    telemetry = load_telemetry(path, FEATURES, TARGETS, nan_policy="error")
    return prepare(telemetry, 8, False), telemetry.info()


def fit(prepared, info, folder, **changes):
    folder.mkdir(exist_ok=True)
    return train.train_model(prepared, train_config(hidden_size=8, **changes), folder / "model.pth",
                             log_path=folder / "train.log", data_info=info, progress=False)


def test_two_trainings_with_the_same_parameters_give_identical_weights_and_losses(tmp_path):
    prepared, info = tiny_prepared(tmp_path)
    a, b = (fit(prepared, info, tmp_path / name, epochs=3) for name in ("a", "b"))
    assert a.history["val_loss"] == b.history["val_loss"]
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key]), key
    other = fit(prepared, info, tmp_path / "c", epochs=3, seed=7)
    assert other.history["val_loss"] != a.history["val_loss"]


def test_early_stopping_keeps_the_best_epoch_and_the_checkpoint_loads_as_data(tmp_path):
    prepared, info = tiny_prepared(tmp_path)
    result = fit(prepared, info, tmp_path / "run", epochs=40, patience=2, learning_rate=0.05, ema_epochs=0.0)  # raw weights overfit
    val = result.history["val_loss"]
    assert result.stopped_epoch < 40 and result.stopped_epoch - result.best_epoch == 2
    assert result.best_epoch == int(np.argmin(val)) + 1
    saved = torch.load(result.checkpoint, weights_only=True)
    assert saved["best_epoch"] == result.best_epoch and saved["features"] == prepared.features
    assert saved["config"]["patience"] == 2 and saved["data"] == info
    model, _ = load_checkpoint(result.checkpoint)
    x = torch.as_tensor(np.asarray(prepared.splits["val"].X))
    assert torch.equal(model(x), result.model(x))
    log = (tmp_path / "run" / "train.log").read_text()
    assert "early stop" in log and log.count("\nepoch") == result.stopped_epoch


def test_a_checkpoint_from_before_the_calendar_blend_and_the_linear_path_still_loads(tmp_path):
    prepared, info = tiny_prepared(tmp_path)
    result = fit(prepared, info, tmp_path / "run", epochs=1, linear_path=False)
    saved = torch.load(result.checkpoint, weights_only=True)
    del saved["state_dict"]["calendar_columns"]        # what an older kit wrote
    saved["model"].pop("calendar_columns")
    saved["model"].pop("window_size")
    del saved["state_dict"]["linear_columns"]
    torch.save(saved, tmp_path / "old.pth")
    model, _ = load_checkpoint(tmp_path / "old.pth")
    x = torch.as_tensor(np.asarray(prepared.splits["val"].X))
    assert torch.equal(model(x), result.model(x))


def test_the_kept_weights_are_a_moving_average_that_smooths_the_validation_curve(tmp_path):
    """A high learning rate makes the last step's weights swing; their moving average over an epoch swings less."""
    prepared, info = tiny_prepared(tmp_path)
    raw, averaged = (fit(prepared, info, tmp_path / name, epochs=12, patience=30, learning_rate=0.05, ema_epochs=e)
                     for name, e in (("raw", 0.0), ("averaged", 1.0)))
    swing = lambda losses: float(np.abs(np.diff(losses)).sum())   # noqa: E731
    assert swing(averaged.history["val_loss"]) < swing(raw.history["val_loss"])
    saved = torch.load(averaged.checkpoint, weights_only=True)
    model, _ = load_checkpoint(averaged.checkpoint)   # the kept weights are the average's, and load as saved
    assert saved["best_epoch"] == averaged.best_epoch
    x = torch.as_tensor(np.asarray(prepared.splits["val"].X))
    assert torch.equal(model(x), averaged.model(x))


def test_the_moving_average_follows_a_short_training_and_settles_over_its_horizon():
    update = train.moving_average(steps=100)
    average = torch.zeros(1)
    for n in range(5):   # warm-up: the first steps move it most of the way
        average = update(average, torch.ones(1), n)
    assert float(average) > 0.3
    for n in range(5, 2000):
        average = update(average, torch.full((1,), 2.0), n)
    assert abs(float(average) - 2.0) < 1e-6
    one_step = update(torch.zeros(1), torch.ones(1), 10_000)
    assert abs(float(one_step) - 0.01) < 1e-9   # past the warm-up: 1 / steps of each new value


def test_a_model_too_big_to_train_here_is_refused_by_name_before_torch_allocates_it(tmp_path, monkeypatch):
    """hidden_size=1e23 printed torch's C++ stack as the run's error; a large one asked the allocator for terabytes."""
    import pytest

    from bwkit.errors import ParameterError
    from bwkit.training import model as model_module

    prepared, _ = tiny_prepared(tmp_path)
    monkeypatch.setattr(model_module, "memory_available", lambda: 2**30)   # 1 GiB, whatever this machine has
    model = train.build_model(prepared, train_config(hidden_size=32))   # 0.7 MB to train: built
    assert sum(p.numel() for p in model.parameters()) == model_module.parameter_count(
        len(prepared.features), len(TARGETS), 32, num_layers=1, last_to_head=True,
        linear_inputs=prepared.splits["train"].X.shape[1] * len(prepared.features))
    for hidden in (10**4, 2**40):   # about 10 GB of training state; far past any machine
        with pytest.raises(ParameterError, match=rf"hidden_size={hidden} with num_layers=1 makes a model of .* 1.0 GiB "
                                                 "is available; choose a smaller hidden_size"):
            train.build_model(prepared, train_config(hidden_size=hidden))
    assert model_module.LSTMForecaster(5, 2, 2500, num_layers=1, dropout=0.0, target_columns=None)   # loading: free
