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
    """Ridge regression on the flattened, standardised window; alpha picked on validation."""

    def __init__(self, train, val, alphas=RIDGE_ALPHAS):
        from sklearn.linear_model import Ridge   # imported when fitted: reading the registry stays light

        self.x_scaler = Scaler.fit(train.X.reshape(len(train), -1))
        self.y_scaler = Scaler.fit(train.Y)
        fits = {}
        for alpha in alphas:
            fit = Ridge(alpha=alpha).fit(self._inputs(train.X), (train.Y - self.y_scaler.mean) / self.y_scaler.std)
            fits[alpha] = (((self._predict(fit, val.X) - val.Y) / self.y_scaler.std) ** 2).mean(), fit
        self.alpha = min(fits, key=lambda a: fits[a][0])
        self.fit = fits[self.alpha][1]

    def _inputs(self, X):
        return (X.reshape(len(X), -1) - self.x_scaler.mean) / self.x_scaler.std

    def _predict(self, fit, X):
        scaled = fit.predict(self._inputs(X)).reshape(len(X), -1)  # sklearn drops the axis of a single target
        return scaled * self.y_scaler.std + self.y_scaler.mean

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._predict(self.fit, X)
