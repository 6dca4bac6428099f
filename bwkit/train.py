"""Train the LSTM: Adam, ReduceLROnPlateau, early stopping, gradient clipping.

Deterministic on CPU: same data and parameters give the same weights. The best
checkpoint (lowest validation loss) is a plain dict of tensors and builtins, so
`torch.load(path, weights_only=True)` reads it: a checkpoint is data, never code.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .env import hardware, pick_device, versions
from .model import LSTMForecaster
from .windows import Prepared, Scaler

CHECKPOINT = "best_model.pth"
LOG = "training_output.log"
# With known_future, the window-only twin trained for the report's comparison:
WINDOW_ONLY_CHECKPOINT = "window_only_model.pth"
WINDOW_ONLY_LOG = "training_output_window_only.log"


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


def build_model(prepared: Prepared, hidden_size: int, num_layers: int, dropout: float, residual: bool) -> LSTMForecaster:
    targets_in_features = all(t in prepared.features for t in prepared.targets)
    if residual and not targets_in_features:
        missing = [t for t in prepared.targets if t not in prepared.features]
        warnings.warn(f"residual=True needs every target among the features ({missing} are not): "
                      "the model predicts the targets directly")
    columns = [prepared.features.index(t) for t in prepared.targets] if residual and targets_in_features else None
    model = LSTMForecaster(len(prepared.features), len(prepared.targets), hidden_size, num_layers, dropout, columns)
    train = prepared.splits["train"]
    model.set_scalers(Scaler.fit(train.X), Scaler.fit(train.Y))
    return model


def _loss(model, X, Y, batch_size=4096) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            z = model.forward_scaled(X[i:i + batch_size])
            total += float(((z - (Y[i:i + batch_size] - model.y_mean) / model.y_std) ** 2).sum())
    return total / (len(X) * Y.shape[1])


def train_model(prepared: Prepared, run_dir, *, epochs=100, batch_size=64, learning_rate=1e-3, hidden_size=64,
                num_layers=1, dropout=0.0, patience=15, seed=42, device="auto", residual=True, num_threads=1,
                clip_norm=1.0, checkpoint_name=CHECKPOINT, log_name=LOG,
                config: dict | None = None, data_info: dict | None = None, progress=True) -> TrainResult:
    """Fit on the train split, select on validation, write the checkpoint and the log."""
    run_dir = Path(run_dir)
    device = pick_device(device)
    if num_threads > 0:
        torch.set_num_threads(num_threads)  # a small LSTM gains nothing from more threads on CPU (bench/bench.py)
    seed_everything(seed)
    model = build_model(prepared, hidden_size, num_layers, dropout, residual).to(device)
    as_tensor = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    Xtr, Ytr = as_tensor(prepared.splits["train"].X), as_tensor(prepared.splits["train"].Y)
    Xva, Yva = as_tensor(prepared.splits["val"].X), as_tensor(prepared.splits["val"].Y)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(patience // 3, 1))
    shuffle = torch.Generator().manual_seed(seed)

    history = {"epoch": [], "train_loss": [], "val_loss": [], "learning_rate": [], "seconds": []}
    best_val, best_epoch, best_state, epoch = float("inf"), 0, None, 0
    start = time.perf_counter()
    log = open(run_dir / log_name, "w")
    log.write(f"# training {len(Xtr)} windows, validating on {len(Xva)}; device={device}; "
              f"hidden={hidden_size} layers={num_layers} batch={batch_size} lr={learning_rate}\n")
    bar = tqdm(range(1, epochs + 1), desc="training", unit="epoch", disable=not progress)
    for epoch in bar:
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(len(Xtr), generator=shuffle).to(device)
        running = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            target = (Ytr[idx] - model.y_mean) / model.y_std
            loss = torch.nn.functional.mse_loss(model.forward_scaled(Xtr[idx]), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizer.step()
            running += float(loss.detach()) * len(idx)
        train_loss, val_loss = running / len(Xtr), _loss(model, Xva, Yva)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(val_loss)
        for key, value in zip(history, (epoch, train_loss, val_loss, lr, time.perf_counter() - epoch_start)):
            history[key].append(value)
        improved = val_loss < best_val
        if improved:
            best_val, best_epoch, best_state = val_loss, epoch, copy.deepcopy(model.state_dict())
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}", lr=f"{lr:.1e}")
        log.write(f"epoch {epoch:4d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}  lr {lr:.2e}"
                  f"{'  *best' if improved else ''}\n")
        log.flush()
        if epoch - best_epoch >= patience:
            log.write(f"# early stop: no validation improvement for {patience} epochs\n")
            break
    bar.close()
    elapsed = time.perf_counter() - start
    log.write(f"# best epoch {best_epoch} (val_loss {best_val:.6f}); {epoch} epochs in {elapsed:.1f} s\n")
    log.close()

    model.load_state_dict(best_state)
    model = model.cpu().eval()
    checkpoint = run_dir / checkpoint_name
    torch.save({
        "state_dict": model.state_dict(),
        "model": {"n_features": len(prepared.features), "n_targets": len(prepared.targets),
                  "hidden_size": hidden_size, "num_layers": num_layers, "dropout": dropout,
                  "target_columns": model.target_columns.tolist() if model.residual else None},
        "features": prepared.features, "targets": prepared.targets,
        "config": dict(config or {}), "data": dict(data_info or {}),
        "history": history, "best_epoch": best_epoch, "stopped_epoch": epoch,
        "training_time_seconds": elapsed, "versions": versions(), "hardware": hardware(device),
    }, checkpoint)
    return TrainResult(model, history, best_epoch, epoch, elapsed, checkpoint)


def load_checkpoint(path) -> tuple[LSTMForecaster, dict]:
    """Rebuild the model from a checkpoint written by `train_model` (weights_only load)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = LSTMForecaster(**saved["model"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved
