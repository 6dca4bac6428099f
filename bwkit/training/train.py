"""Train the LSTM: Adam, ReduceLROnPlateau, early stopping, gradient clipping.

With `ema_epochs` above 0 the weights validated and kept are an exponential moving average of
the weights over about that many epochs of steps (torch's `AveragedModel`): on noisy, small
real data the last step's weights swing from epoch to epoch, and early stopping then picks a
lucky swing. The horizon is in epochs so that it means the same at 500 rows or 10 million.

Deterministic on CPU: same data and parameters give the same weights. The best
checkpoint (lowest validation loss) is a plain dict of tensors and builtins, so
`torch.load(path, weights_only=True)` reads it: a checkpoint is data, never code.
It stores the configuration it was trained with, exactly as given.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from bwkit.errors import ParameterError
from bwkit.features import CALENDAR_FEATURES, HOURS, Prepared, Scaler, SeasonalMean, TorchWindows, WindowArray, Windows, cell
from bwkit.runs import Config, hardware, pick_device, versions
from bwkit.training.model import LSTMForecaster, PREDICT_BATCH, check_model_fits, parameter_count, predict

CLIP_NORM = 1.0   # gradient norm clipping; keeps the first epochs of a residual LSTM stable


@dataclass
class TrainResult:
    model: LSTMForecaster
    history: dict[str, list[float]]
    best_epoch: int
    stopped_epoch: int
    training_time_seconds: float
    checkpoint: Path


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def build_model(prepared: Prepared, config: Config) -> LSTMForecaster:
    """The configured LSTM with its scalers fit on the training windows."""
    columns = prepared.target_columns if config.residual else None
    if config.residual and columns is None:
        missing = [t for t in prepared.targets if t not in prepared.features]
        warnings.warn(f"residual=True needs every target among the features ({missing} are not): "
                      "the model predicts the targets directly")
    calendar = [prepared.features.index(c) for c in CALENDAR_FEATURES] if config.known_future else None
    train = prepared.splits["train"]
    linear_inputs = train.X.shape[1] * (len(prepared.features) - len(calendar or [])) if config.linear_path else 0
    check_model_fits(parameter_count(len(prepared.features), len(prepared.targets), config.hidden_size,
                                     num_layers=config.num_layers, linear_inputs=linear_inputs, last_to_head=True),
                     hidden_size=config.hidden_size, num_layers=config.num_layers)
    model = LSTMForecaster(len(prepared.features), len(prepared.targets), config.hidden_size,
                           num_layers=config.num_layers, dropout=config.dropout, target_columns=columns,
                           calendar_columns=calendar, window_size=train.X.shape[1] if config.linear_path else None,
                           last_to_head=True)
    model.set_scalers(Scaler.fit(train.X), Scaler.fit(train.Y, train.observed))
    return model


BLEND_GRID = np.linspace(0.0, 1.0, 11)   # weights of the seasonal profile tried, per target


def _cells(model: LSTMForecaster, X: np.ndarray) -> np.ndarray:
    """Each window's predicted calendar cell, from its last step's one-hot calendar."""
    if isinstance(X, WindowArray) and X.calendar is not None:   # the cells the channels are expanded from
        return X.last_cells()
    calendar = X[:, -1, model.calendar_columns.numpy()]
    return cell(calendar[:, :HOURS].argmax(1), calendar[:, HOURS:].argmax(1))


def fit_blend(model: LSTMForecaster, train: Windows, val: Windows) -> dict[int, float]:
    """Fill the seasonal table from the training windows and pick each target's blend weight on validation.

    A cell never seen in training takes its hour's mean, then the overall mean (as the
    seasonal baseline does). Returns {target index: weight}; 0 keeps the network's output.
    """
    cells = _cells(model, train.X)
    table = SeasonalMean.of_cells(cells, train.Y.astype(np.float64), train.observed).table()
    model.seasonal.copy_(torch.as_tensor(table, dtype=torch.float32))
    model.blend.zero_()
    network, profile = predict(model, val.X), table[_cells(model, val.X)]
    seen = val.observed   # each target's weight chosen where it is observed
    weights = [round(float(BLEND_GRID[np.argmin([(((1 - w) * network[seen[:, j], j] + w * profile[seen[:, j], j]
                                                   - val.Y[seen[:, j], j]) ** 2).mean() for w in BLEND_GRID])]), 2)
               for j in range(table.shape[1])]
    model.blend.copy_(torch.as_tensor(weights, dtype=torch.float32))
    return dict(enumerate(weights))


def _blend(model: LSTMForecaster, prepared: Prepared, log_path) -> dict[str, float] | None:
    """With calendar inputs: the seasonal blend, chosen on validation and logged; else None."""
    if not model.calendar_columns.numel():
        return None
    weights = fit_blend(model, prepared.splits["train"], prepared.splits["val"])
    blend = {prepared.targets[j]: w for j, w in weights.items()}
    with open(log_path, "a") as log:
        log.write("# blend with the training mean for the predicted hour and weekday (chosen on validation): "
                  + ", ".join(f"{t} {w:.1f}" for t, w in blend.items()) + "\n")
    return blend


def _loss(model, X, Y, *, observed=None) -> float:
    """Mean squared error on standardised targets, without gradients; over the observed values (mask) only."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(X), PREDICT_BATCH):
            z = model.forward_scaled(X[i:i + PREDICT_BATCH])
            error = (z - (Y[i:i + PREDICT_BATCH] - model.y_mean) / model.y_std) ** 2
            total += float((error if observed is None else error[observed[i:i + PREDICT_BATCH]]).sum())
    return total / (len(X) * Y.shape[1] if observed is None else max(float(observed.sum()), 1.0))


def _masked_mse(predicted, target, observed):
    """Mean squared error over the observed entries of a batch (a batch with none adds no gradient)."""
    weight = observed.to(predicted.dtype)
    return ((predicted - target) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)


def _epoch(model, optimizer, X, *, Y, order, batch_size: int, observed=None, average=None) -> float:
    """One pass over the training windows in `order`; returns the mean training loss (observed values only).
    average: an `AveragedModel` updated after every step."""
    model.train()
    running = 0.0
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        target = (Y[idx] - model.y_mean) / model.y_std
        loss = torch.nn.functional.mse_loss(model.forward_scaled(X[idx]), target) if observed is None else \
            _masked_mse(model.forward_scaled(X[idx]), target, observed[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        optimizer.step()
        if average is not None:
            average.update_parameters(model)
        running += float(loss.detach()) * len(idx)
    return running / len(X)


def _sizes(config: Config) -> str:
    return (f"hidden={config.hidden_size} layers={config.num_layers} batch={config.batch_size} "
            f"lr={config.learning_rate}")


def _close_as_done(bar, epochs_run: int) -> None:
    """Early stopping is success: end the bar full (a notebook shows a bar closed short in red)."""
    if epochs_run < (bar.total or 0):
        bar.n = bar.total = epochs_run
        bar.refresh()
    bar.close()


def moving_average(steps: float):
    """An `AveragedModel` rule: the exponential moving average over about `steps` steps, warmed up over the first
    ones (decay (1 + n) / (10 + n) until that is the smaller) so that a short training's average still moves."""
    def update(averaged, current, n):
        decay = min(1.0 - 1.0 / max(steps, 1.0), (1.0 + float(n)) / (10.0 + float(n)))
        return averaged + (current - averaged) * (1.0 - decay)
    return update


def _mask(observed: np.ndarray, device):
    """The observed mask as a bool tensor (one byte per window and target); None where every value is observed."""
    return None if observed.all() else torch.as_tensor(observed, dtype=torch.bool, device=device)


class Fit:
    """One model's training state, advanced an epoch at a time.

    Selection runs a few epochs of several fits and continues the best one, so a
    fit trained in pieces is the same as one trained in one go.
    """

    def __init__(self, prepared: Prepared, config: Config, device: str):
        unresolved = [k for k in ("residual", "known_future", "linear_path") if not isinstance(config[k], bool)]
        if unresolved:
            raise ParameterError(f"{', '.join(unresolved)} must be True or False here (got "
                                 f"{', '.join(repr(config[k]) for k in unresolved)}); bwkit.training.selection.choose "
                                 "resolves 'auto' on validation")
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)  # a small LSTM gains nothing from more threads on CPU
        seed_everything(config.seed)
        self.prepared, self.config, self.device = prepared, config, device
        self.model = build_model(prepared, config).to(device)
        (self.Xtr, self.Ytr, self.Mtr), (self.Xva, self.Yva, self.Mva) = (   # on the device once; batches gathered there
            (TorchWindows(w.X, device), torch.as_tensor(w.Y, device=device), _mask(w.observed, device))
            for w in (prepared.splits["train"], prepared.splits["val"]))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        steps = config.ema_epochs * -(-len(self.Xtr) // config.batch_size)   # epochs of steps averaged over
        self.average = AveragedModel(self.model, avg_fn=moving_average(steps)) if config.ema_epochs else None
        self.kept = self.average.module if self.average is not None else self.model   # what is validated and kept
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=0.5, patience=max(config.patience // 3, 1))
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.history = {"epoch": [], "train_loss": [], "val_loss": [], "learning_rate": [], "seconds": []}
        self.best_val, self.best_epoch, self.best_state, self.epoch = float("inf"), 0, None, 0

    def step(self) -> str:
        """Train one epoch, validate, keep the best weights; returns the epoch's log line."""
        start = time.perf_counter()
        self.epoch += 1
        order = torch.randperm(len(self.Xtr), generator=self.shuffle).to(self.device)
        train_loss = _epoch(self.model, self.optimizer, self.Xtr, Y=self.Ytr, order=order,
                            batch_size=self.config.batch_size, observed=self.Mtr, average=self.average)
        val_loss, lr = _loss(self.kept, self.Xva, self.Yva, observed=self.Mva), self.optimizer.param_groups[0]["lr"]
        self.scheduler.step(val_loss)
        for key, value in zip(self.history, (self.epoch, train_loss, val_loss, lr, time.perf_counter() - start)):
            self.history[key].append(value)
        improved = val_loss < self.best_val
        if improved:
            self.best_val, self.best_epoch = val_loss, self.epoch
            self.best_state = copy.deepcopy(self.kept.state_dict())
        return (f"epoch {self.epoch:4d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}  lr {lr:.2e}"
                f"{'  *best' if improved else ''}")

    @property
    def stalled(self) -> bool:
        return self.epoch - self.best_epoch >= self.config.patience

    @property
    def seconds(self) -> float:
        return float(sum(self.history["seconds"]))


def log_selection(log, fit: Fit) -> None:
    """The epochs a fit trained during selection, one line each, in the format of the rest of the log."""
    history = fit.history
    for epoch in range(fit.epoch):
        log.write(f"epoch {epoch + 1:4d}  train_loss {history['train_loss'][epoch]:.6f}  val_loss "
                  f"{history['val_loss'][epoch]:.6f}  lr {history['learning_rate'][epoch]:.2e}  (selection)\n")


def stop_asked(stop_file, fit: Fit) -> bool:
    """A stop file beside the run (a search pruning this trial, or a user) ends training once an epoch is kept."""
    return stop_file is not None and fit.best_state is not None and Path(stop_file).exists()


def train_model(prepared: Prepared, config: Config, checkpoint, *, log_path, data_info: dict,
                progress: bool = True, fit: Fit | None = None, selection: dict | None = None,
                stop_file=None) -> TrainResult:
    """Fit on the train split, select on validation; write the checkpoint and one log line per epoch.

    config: 02_train's checked configuration (params.configure); it is saved in the checkpoint as given.
    fit: a fit already started (by `bwkit.training.selection`), continued here; its epochs so far are logged first.
    selection: what chose this model's settings on validation, saved in the checkpoint.
    stop_file: when this file appears, training ends after the current epoch, as early stopping does.
    """
    fit = fit or Fit(prepared, config, pick_device(config.device))
    with open(log_path, "w") as log:
        log.write(f"# training {len(fit.Xtr)} windows, validating on {len(fit.Xva)}; device={fit.device}; "
                  f"{_sizes(config)}\n")
        log_selection(log, fit)
        bar = tqdm(total=config.epochs, initial=fit.epoch, desc="training", unit="epoch", disable=not progress)
        while fit.epoch < config.epochs and not fit.stalled and not stop_asked(stop_file, fit):
            log.write(fit.step() + "\n")
            log.flush()
            bar.update()
            bar.set_postfix(train=f"{fit.history['train_loss'][-1]:.4f}", val=f"{fit.history['val_loss'][-1]:.4f}",
                            lr=f"{fit.history['learning_rate'][-1]:.1e}")
        if fit.stalled:
            log.write(f"# early stop: no validation improvement for {config.patience} epochs\n")
        elif stop_asked(stop_file, fit):
            log.write(f"# stopped at epoch {fit.epoch}: asked to by {Path(stop_file).name} (pruned by a search)\n")
        _close_as_done(bar, fit.epoch)
        log.write(f"# best epoch {fit.best_epoch} (val_loss {fit.best_val:.6f}); {fit.epoch} epochs in "
                  f"{fit.seconds:.1f} s\n")
    fit.model.load_state_dict(fit.best_state)
    blend = _blend(fit.model.cpu().eval(), prepared, log_path)
    seconds = fit.seconds + (selection or {}).get("other_seconds", 0.0)   # the candidates not kept count too
    result = TrainResult(fit.model.cpu().eval(), fit.history, fit.best_epoch, fit.epoch, seconds, Path(checkpoint))
    _save(result, prepared, config, data_info=data_info, device=fit.device,
          chosen={"selection": selection, "blend": blend})
    return result


def _save(result: TrainResult, prepared: Prepared, config: Config, *, data_info: dict, device: str,
          chosen: dict) -> None:
    model = result.model
    torch.save({
        "state_dict": model.state_dict(),
        "model": {"n_features": len(prepared.features), "n_targets": len(prepared.targets),
                  "hidden_size": config.hidden_size, "num_layers": config.num_layers,
                  "dropout": config.dropout,
                  "target_columns": model.target_columns.tolist() if model.residual else None,
                  "calendar_columns": model.calendar_columns.tolist() or None,
                  "window_size": model.linear.in_features // len(model.linear_columns) if model.linear is not None
                  else None, "last_to_head": model.last_to_head},
        "features": prepared.features, "targets": prepared.targets,
        "config": config.to_dict(), "data": dict(data_info),
        "history": result.history, "best_epoch": result.best_epoch, "stopped_epoch": result.stopped_epoch,
        "training_time_seconds": result.training_time_seconds, **chosen,
        "versions": versions(), "hardware": hardware(device),
    }, result.checkpoint)
