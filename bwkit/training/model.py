"""The forecaster: a stacked LSTM and a small head, scaling inside the graph.

Inputs and outputs are in original units, so the exported ONNX file needs no
side-car arithmetic: the training-set means and standard deviations are buffers.
With `residual=True` the head predicts the change from the last observed value
of each target, so an untrained model already starts at persistence. With the
predicted row's calendar among the inputs (`calendar_columns`: 24 hour then 7
weekday one-hot channels), the output can be blended, per target, with the
training rows' mean for that hour and weekday (`seasonal`, `blend`: set after
training, on validation, by `bwkit.training.train.fit_blend`; 0 leaves the network alone).
With `window_size` given (`linear_path`), a linear map of the whole standardised window (its
own columns: the calendar channels, the same at every step but the last, are left to the LSTM
and the blend) is added to the head's output, as in LSTNet's autoregressive highway: the
model then holds ridge on the flattened window as a special case, and the LSTM learns what a
linear map cannot. It starts at zero, so an untrained model is still persistence (or the mean).
With `last_to_head` (every model trained since it was added; a checkpoint without it loads as it was) the head reads
the last row's standardised inputs beside the LSTM's last output: a non-linear function of the last values without
the LSTM's saturating gates in between (lower validation loss on six of the eight data sets of docs/results.md).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bwkit.data import memory_available
from bwkit.errors import ParameterError

PREDICT_BATCH = 4096   # windows per forward pass when scoring (memory, not accuracy)
COPIES_IN_TRAINING = 5   # the weights, their gradients, Adam's two moments and the averaged weights


def parameter_count(n_features: int, n_targets: int, hidden_size: int, *, num_layers: int,
                    linear_inputs: int = 0, last_to_head: bool = False) -> int:
    """How many numbers LSTMForecaster holds (Python integers: no size overflows)."""
    lstm = sum(4 * hidden_size * ((n_features if layer == 0 else hidden_size) + hidden_size + 2)
               for layer in range(num_layers))
    head = (hidden_size + (n_features if last_to_head else 0) + 1) * hidden_size + (hidden_size + 1) * n_targets
    return lstm + head + (linear_inputs + 1) * n_targets * (linear_inputs > 0)


def check_model_fits(count: int, *, hidden_size: int, num_layers: int) -> None:
    """Refuse a model whose training state would not fit in memory, before torch tries to allocate it (a model
    loaded to predict needs a fifth of that: loading is not checked)."""
    need, have = count * 4 * COPIES_IN_TRAINING, memory_available()
    if have is not None and need > have:
        raise ParameterError(f"hidden_size={hidden_size} with num_layers={num_layers} makes a model of {count:,} "
                             f"weights, which needs about {need / 2**30:,.1f} GiB to train, and "
                             f"{have / 2**30:.1f} GiB is available; choose a smaller hidden_size or fewer layers")


class LSTMForecaster(nn.Module):
    def __init__(self, n_features: int, n_targets: int, hidden_size: int, *, num_layers: int, dropout: float,
                 target_columns: list[int] | None, calendar_columns: list[int] | None = None,
                 window_size: int | None = None, last_to_head: bool = False):
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.last_to_head = last_to_head
        self.head = nn.Sequential(nn.Linear(hidden_size + (n_features if last_to_head else 0), hidden_size), nn.ReLU(),
                                  nn.Linear(hidden_size, n_targets))
        nn.init.zeros_(self.head[-1].weight)  # start as "no change" (persistence when residual)
        nn.init.zeros_(self.head[-1].bias)
        own = [j for j in range(n_features) if j not in set(calendar_columns or [])]
        self.register_buffer("linear_columns", torch.tensor(own if window_size else [], dtype=torch.long))
        self.linear = nn.Linear(window_size * len(own), n_targets) if window_size else None
        if self.linear is not None:
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
        self.register_buffer("x_mean", torch.zeros(n_features))
        self.register_buffer("x_std", torch.ones(n_features))
        self.register_buffer("y_mean", torch.zeros(n_targets))
        self.register_buffer("y_std", torch.ones(n_targets))
        self.residual = target_columns is not None
        self.register_buffer("target_columns", torch.tensor(target_columns or [], dtype=torch.long))
        self.register_buffer("calendar_columns", torch.tensor(calendar_columns or [], dtype=torch.long))
        if calendar_columns:
            self.register_buffer("seasonal", torch.zeros(24 * 7, n_targets))   # [hour x 7 + weekday, target]
            self.register_buffer("blend", torch.zeros(n_targets))

    def seasonal_profile(self, x: torch.Tensor) -> torch.Tensor:
        """The training mean of each target for the predicted row's hour and weekday, [batch, targets]."""
        calendar = x[:, -1].index_select(1, self.calendar_columns)
        cell = (calendar[:, :24, None] * calendar[:, None, 24:]).flatten(1)   # [batch, 24 x 7]
        return cell @ self.seasonal

    def set_scalers(self, x_scaler, y_scaler) -> None:
        for name, value in (("x_mean", x_scaler.mean), ("x_std", x_scaler.std),
                            ("y_mean", y_scaler.mean), ("y_std", y_scaler.std)):
            getattr(self, name).copy_(torch.as_tensor(value, dtype=torch.float32))

    def forward_scaled(self, x: torch.Tensor) -> torch.Tensor:
        """Raw window [batch, window, features] -> standardised targets [batch, targets]."""
        scaled = (x - self.x_mean) / self.x_std
        out, _ = self.lstm(scaled)
        z = self.head(torch.cat([out[:, -1], scaled[:, -1]], dim=1) if self.last_to_head else out[:, -1])
        if self.linear is not None:
            z = z + self.linear(scaled.index_select(2, self.linear_columns).flatten(1))
        if self.residual:
            last = x[:, -1].index_select(1, self.target_columns)
            z = z + (last - self.y_mean) / self.y_std
        return z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Raw window -> targets of the next row, in original units."""
        out = self.forward_scaled(x) * self.y_std + self.y_mean
        if self.calendar_columns.numel():
            out = (1 - self.blend) * out + self.blend * self.seasonal_profile(x)
        return out


def predict(model: LSTMForecaster, X: np.ndarray) -> np.ndarray:
    """Targets of the row after each window, float64 [windows, targets], in batches."""
    with torch.no_grad():
        return np.concatenate([model(torch.as_tensor(X[i:i + PREDICT_BATCH])).numpy()
                               for i in range(0, len(X), PREDICT_BATCH)]).astype(np.float64)


def load_checkpoint(path) -> tuple[LSTMForecaster, dict]:
    """Rebuild the model from a checkpoint (`weights_only`: a checkpoint is data, never code)."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = LSTMForecaster(**saved["model"])
    state = {"calendar_columns": torch.zeros(0, dtype=torch.long),   # checkpoints from before these buffers
             "linear_columns": torch.zeros(0, dtype=torch.long), **saved["state_dict"]}
    model.load_state_dict(state)
    return model.eval(), saved
