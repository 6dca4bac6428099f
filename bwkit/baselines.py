"""The baselines a skeptical reviewer asks for, scored on the same rows as the model.

Each takes the rows being predicted (indices into the CSV) and returns predictions
[rows, targets] in original units. Persistence and the oracle read the previous row,
which the windowing guarantees is in the same trace.
"""
from __future__ import annotations

import numpy as np

from .windows import Scaler, hour_and_weekday

RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def persistence(Y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Next = last value of the same metric."""
    return Y[rows - 1]


def oracle(oracle_next: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The generator's own best guess of row r, made at row r-1 from its hidden state."""
    return oracle_next[rows - 1]


class SeasonalMean:
    """Mean of each target by (hour of day, weekday) over the training rows.

    A (hour, weekday) cell unseen in training falls back to the hour's mean, then to
    the overall mean.
    """

    def __init__(self, timestamps: np.ndarray, Y: np.ndarray, train_rows: np.ndarray):
        self._fit(*hour_and_weekday(timestamps[train_rows]), Y[train_rows])

    @classmethod
    def of_cells(cls, hour: np.ndarray, weekday: np.ndarray, values: np.ndarray) -> "SeasonalMean":
        """The same, from each training row's hour, weekday and targets (no timestamps needed)."""
        model = cls.__new__(cls)
        model._fit(hour, weekday, values)
        return model

    def _fit(self, hour: np.ndarray, weekday: np.ndarray, values: np.ndarray) -> None:
        self.overall = values.mean(axis=0)
        self.by_hour = {h: values[hour == h].mean(axis=0) for h in np.unique(hour)}
        self.by_cell = {(h, d): values[(hour == h) & (weekday == d)].mean(axis=0)
                        for h, d in set(zip(hour.tolist(), weekday.tolist()))}

    def predict(self, timestamps: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.at(*hour_and_weekday(timestamps[rows]))

    def at(self, hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
        return np.array([self.by_cell.get((h, d), self.by_hour.get(h, self.overall))
                         for h, d in zip(hour.tolist(), weekday.tolist())])

    def table(self) -> np.ndarray:
        """Every (hour, weekday) cell's prediction, [24 x 7, targets], row hour x 7 + weekday."""
        cells = np.arange(24 * 7)
        return self.at(cells // 7, cells % 7)


class WindowRidge:
    """Ridge regression on the flattened, standardised window; alpha picked on validation.

    Fitted from sums over chunks of windows (two passes: the mean, then the centred Gram
    matrix and cross products), never from a flattened copy of every window: the solution of
    scikit-learn's `Ridge(alpha)` with an intercept on the same standardised inputs.
    """

    def __init__(self, train, val, alphas=RIDGE_ALPHAS):
        self.y_scaler = Scaler.fit(train.Y)
        ys = (train.Y.astype(np.float64) - self.y_scaler.mean) / self.y_scaler.std
        n, mean = len(train), sum(x.sum(axis=0) for _, x in _flat(train.X)) / len(train)
        gram, cross = 0.0, 0.0
        for i, x in _flat(train.X):
            centred = x - mean
            gram, cross = gram + centred.T @ centred, cross + centred.T @ ys[i:i + len(x)]
        std = np.sqrt(np.diag(gram) / n)
        self.x_scaler = Scaler(mean, np.where(std > 1e-12, std, 1.0))
        gram = gram / np.outer(self.x_scaler.std, self.x_scaler.std)   # of the standardised inputs, whose mean is 0
        cross = cross / self.x_scaler.std[:, None]
        fits = {alpha: np.linalg.solve(gram + alpha * np.eye(len(gram)), cross) for alpha in alphas}
        self.intercept = ys.mean(axis=0)   # with centred inputs, the intercept is the targets' mean
        losses = {alpha: (((self._predict(beta, val.X) - val.Y) / self.y_scaler.std) ** 2).mean()
                  for alpha, beta in fits.items()}
        self.alpha = min(losses, key=losses.get)
        self.beta = fits[self.alpha]

    def _predict(self, beta, X) -> np.ndarray:
        scaled = np.concatenate([((x - self.x_scaler.mean) / self.x_scaler.std) @ beta for _, x in _flat(X)]) \
            if len(X) else np.empty((0, beta.shape[1]))
        return (scaled + self.intercept) * self.y_scaler.std + self.y_scaler.mean

    def predict(self, X) -> np.ndarray:
        return self._predict(self.beta, X)


def _flat(X, size: int = 16384):
    """(offset, float64 [b, window x features]) chunks of windows: the ridge's inputs, a chunk at a time."""
    for i in range(0, len(X), size):
        chunk = X[i:i + size]
        yield i, np.asarray(chunk, np.float64).reshape(len(chunk), -1)
