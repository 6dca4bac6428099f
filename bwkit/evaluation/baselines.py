"""The baselines a skeptical reviewer asks for, scored on the same rows as the model.

Each takes the rows being predicted (indices into the CSV) and returns predictions
[rows, targets] in original units. Persistence and the oracle read the previous row,
which the windowing guarantees is in the same trace.
"""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from bwkit.features import Scaler, SeasonalMean

RIDGE_ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


def persistence(Y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Next = last value of the same metric."""
    return Y[rows - 1]


def oracle(oracle_next: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The generator's own best guess of row r, made at row r-1 from its hidden state."""
    return oracle_next[rows - 1]


class WindowRidge:
    """Ridge regression on the flattened, standardised window; alpha picked on validation.

    Fitted from sums over chunks of windows, never from a flattened copy of every window: one
    pass accumulates the Gram matrix and cross products of the inputs shifted by the first chunk's
    mean (near the windows' mean, so centring afterwards cancels little), which gives the solution
    of scikit-learn's `Ridge(alpha)` with an intercept on the same standardised inputs.

    Its matrix products run on one BLAS thread: OpenBLAS sums in another order on two, and a
    process that starts a dask cluster is left with OPENBLAS_NUM_THREADS=1, so the kernels it starts
    would otherwise give a ridge that differs in the 13th digit and a reproduction that drifts.
    """

    @threadpool_limits.wrap(limits=1, user_api="blas")
    def __init__(self, train, val, alphas=RIDGE_ALPHAS):
        self.y_scaler = Scaler.fit(train.Y)
        ys = (train.Y.astype(np.float64) - self.y_scaler.mean) / self.y_scaler.std
        n, shift = len(train), None
        total, gram, cross = 0.0, 0.0, 0.0
        for i, x in _flat(train.X):
            shift = x.mean(axis=0) if shift is None else shift   # the first chunk's mean: near the windows' mean
            x = x - shift
            total, gram, cross = total + x.sum(axis=0), gram + x.T @ x, cross + x.T @ ys[i:i + len(x)]
        offset = total / n                                   # the windows' mean minus the shift
        gram -= n * np.outer(offset, offset)                 # centred
        cross -= np.outer(offset, ys.sum(axis=0))
        std = np.sqrt(np.maximum(np.diag(gram), 0.0) / n)
        self.x_scaler = Scaler(shift + offset, np.where(std > 1e-12, std, 1.0))
        gram = gram / np.outer(self.x_scaler.std, self.x_scaler.std)   # of the standardised inputs, whose mean is 0
        cross = cross / self.x_scaler.std[:, None]
        fits = [np.linalg.solve(gram + alpha * np.eye(len(gram)), cross) for alpha in alphas]
        self.intercept = ys.mean(axis=0)   # with centred inputs, the intercept is the targets' mean
        losses = np.zeros(len(alphas))   # every alpha scored in one pass over validation, a chunk at a time
        for i, predicted in self._chunks(np.concatenate(fits, axis=1), val.X, len(alphas)):
            error = (predicted.reshape(len(predicted), len(alphas), -1) - val.Y[i:i + len(predicted), None]) \
                / self.y_scaler.std
            losses += np.square(error).sum(axis=(0, 2))
        best = int(np.argmin(losses))                        # ties: the smaller alpha
        self.alpha, self.beta = alphas[best], fits[best]

    def _chunks(self, beta, X, repeat: int = 1):
        """(offset, predictions) of one or `repeat` side-by-side coefficient sets, a chunk of windows at a time."""
        intercept, scale, shift = (np.tile(v, repeat) for v in (self.intercept, self.y_scaler.std, self.y_scaler.mean))
        for i, x in _flat(X):
            yield i, (((x - self.x_scaler.mean) / self.x_scaler.std) @ beta + intercept) * scale + shift

    @threadpool_limits.wrap(limits=1, user_api="blas")
    def predict(self, X) -> np.ndarray:
        out = np.empty((len(X), self.beta.shape[1]))
        for i, predicted in self._chunks(self.beta, X):
            out[i:i + len(predicted)] = predicted
        return out


class MaskedRidge:
    """`WindowRidge` fitted where each target is observed: one fit per set of targets sharing a mask.

    Targets observed on the same training and validation windows (every target, without masks)
    share one fit, on those windows only; its alpha is chosen on their observed validation windows.
    """

    def __init__(self, train, val, alphas=RIDGE_ALPHAS):
        self.fits = []
        for columns in _mask_groups(train.observed, val.observed):
            self.fits.append((columns, WindowRidge(_only(train, columns), _only(val, columns), alphas)))

    def predict(self, X) -> np.ndarray:
        out = np.empty((len(X), sum(len(columns) for columns, _ in self.fits)))
        for columns, fit in self.fits:
            out[:, columns] = fit.predict(X)
        return out


def _mask_groups(*masks) -> list[list[int]]:
    """Target columns grouped by identical observed columns across `masks` (in first-seen order)."""
    groups: dict[bytes, list[int]] = {}
    for j in range(masks[0].shape[1]):
        key = b"".join(np.packbits(mask[:, j]).tobytes() + b"|" for mask in masks)
        groups.setdefault(key, []).append(j)
    return list(groups.values())


def _only(windows, columns: list[int]):
    """The windows where `columns` are observed, with those targets only (every window: views)."""
    rows = np.flatnonzero(windows.observed[:, columns[0]])
    part = slice(None) if len(rows) == len(windows) else rows
    taken = windows.take(part)
    return type(windows)(taken.X, taken.Y[:, columns], taken.row, taken.observed[:, columns])


def _flat(X, size: int = 16384):
    """(offset, float64 [b, window x features]) chunks of windows: the ridge's inputs, a chunk at a time."""
    for i in range(0, len(X), size):
        chunk = X[i:i + size]
        yield i, np.asarray(chunk, np.float64).reshape(len(chunk), -1)
