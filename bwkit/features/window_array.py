"""Windows that are never copied out: the row array plus each window's first row.

A split of 1,000,000 windows of 20 rows is 20 times its rows when materialised as
[windows, window, features]. `WindowArray` keeps the rows once and gathers only what is
indexed: a batch (`X[i:j]`, `X[idx]`), some columns of every window (`X[:, :, cols]`), or
one step (`X[:, -1]`). `TorchWindows` does the same on a device for training.

The calendar inputs of `known_future` models (the next row's hour and weekday, one-hot)
are stored as one small integer per row and expanded when gathered: 31 float32 channels
of ten million rows would be 1.2 GB.
"""
from __future__ import annotations

import numpy as np

from bwkit.features.calendar import HOURS, WEEKDAYS, hour_of, one_hot_calendar, weekday_of

CHUNK = 65536   # windows gathered at a time by whole-array reductions
class WindowArray:
    """Windows [n, window, features] (float32) of `rows`, window k covering rows starts[k] .. starts[k] + window - 1.

    calendar: optional int [rows], each row's calendar cell (hour x 7 + weekday); its 31 one-hot
    channels follow the row's own columns in every window gathered.
    """

    ndim = 3

    def __init__(self, rows: np.ndarray, starts: np.ndarray, window: int, *, calendar: np.ndarray | None = None):
        self.rows, self.starts, self.window = rows, np.asarray(starts, np.int64), int(window)
        self.calendar = calendar
        self._spreads: dict[tuple, np.ndarray] = {}

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.starts), self.window, self.rows.shape[1] + (0 if self.calendar is None else HOURS + WEEKDAYS))

    @property
    def dtype(self):
        return self.rows.dtype

    def __len__(self) -> int:
        return len(self.starts)

    def _rows(self, index: np.ndarray) -> np.ndarray:
        """The rows at `index` (any shape), calendar channels included."""
        if self.calendar is None:
            return self.rows[index]
        return np.concatenate([self.rows[index], one_hot_calendar(self.calendar[index])], axis=-1)

    def __getitem__(self, key) -> np.ndarray:
        first, *rest = key if isinstance(key, tuple) else (key,)
        starts = self.starts[first]
        steps = np.arange(self.window)[rest[0]] if rest else np.arange(self.window)
        index = np.add.outer(starts, steps)                  # [..windows, ..steps] of row numbers
        if len(rest) > 1:                                    # columns too: gather only those
            columns = np.arange(self.shape[2])[rest[1]]
            if self.calendar is not None and np.any(columns >= self.rows.shape[1]):
                return self._rows(index)[..., columns]
            return self.rows[index[..., None], columns] if np.ndim(columns) else self.rows[index, columns]
        return self._rows(index)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def last_cells(self) -> np.ndarray:
        """Each window's last step's calendar cell (the predicted row's hour x 7 + weekday), without gathering."""
        return np.asarray(self.calendar, np.int64)[self.starts + self.window - 1]

    def take(self, part) -> "WindowArray":
        return WindowArray(self.rows, self.starts[part], self.window, calendar=self.calendar)

    def batches(self, size: int = CHUNK):
        """(offset, windows [b, window, features]) over the whole array, `size` windows at a time."""
        for i in range(0, len(self), size):
            yield i, self[i:i + size]

    def spread(self, columns) -> np.ndarray:
        """Population std over each window of some columns, float64 [n, columns]; computed once per columns.

        np.std's arithmetic (mean, then the mean squared deviation), on each chunk's span of rows with
        only those columns: the bands' scale, which calibration and scoring both ask for.
        """
        key = tuple(int(c) for c in np.atleast_1d(np.arange(self.shape[2])[columns]))
        if key not in self._spreads:
            out = np.empty((len(self), len(key)))
            steps = np.arange(self.window)
            for i in range(0, len(self), CHUNK):
                starts = self.starts[i:i + CHUNK]
                first = int(starts.min())
                span = self._rows(np.arange(first, int(starts.max()) + self.window))[:, list(key)].astype(np.float64)
                x = span[np.add.outer(starts - first, steps)]
                deviation = x - x.sum(axis=1, keepdims=True) / self.window
                out[i:i + CHUNK] = np.sqrt(np.square(deviation).sum(axis=1) / self.window)
            self._spreads[key] = out
        return self._spreads[key]

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population std per feature over every (window, step), as of the materialised windows.

        Each row counts once per window holding it; two passes over the rows (mean, then deviations).
        """
        counts = np.zeros(len(self.rows) + 1, np.float64)
        np.add.at(counts, self.starts, 1.0)
        np.add.at(counts, self.starts + self.window, -1.0)
        weight = np.cumsum(counts)[:-1]                      # windows covering each row
        total = weight.sum()
        mean = np.zeros(self.rows.shape[1])
        for i in range(0, len(self.rows), CHUNK):
            mean += weight[i:i + CHUNK] @ self.rows[i:i + CHUNK].astype(np.float64)
        mean /= total
        square = np.zeros(self.rows.shape[1])
        for i in range(0, len(self.rows), CHUNK):
            square += weight[i:i + CHUNK] @ np.square(self.rows[i:i + CHUNK].astype(np.float64) - mean)
        if self.calendar is not None:   # a one-hot channel: the weight of the rows where it is 1, and the rest
            cells = np.asarray(self.calendar, np.int64)
            hot = np.concatenate([np.bincount(hour_of(cells), weights=weight, minlength=HOURS),
                                  np.bincount(weekday_of(cells), weights=weight, minlength=WEEKDAYS)])
            share = hot / total
            mean = np.concatenate([mean, share])
            square = np.concatenate([square, hot * (1 - share) ** 2 + (total - hot) * share ** 2])
        return mean, np.sqrt(square / total)


class TorchWindows:
    """A WindowArray's rows and starts as tensors on one device: batches are gathered there.

    (Windows given as a plain [n, window, features] array are moved whole and indexed as they are.)
    """

    def __init__(self, windows, device):
        import torch

        if not isinstance(windows, WindowArray):
            windows = np.asarray(windows)
            windows = WindowArray(windows.reshape(-1, windows.shape[-1]), np.arange(len(windows)) * windows.shape[1],
                                  windows.shape[1])
        self.rows = torch.as_tensor(windows.rows, device=device)
        self.starts = torch.as_tensor(windows.starts, device=device)
        self.steps = torch.arange(windows.window, device=device)
        self.calendar = None if windows.calendar is None else torch.as_tensor(windows.calendar, device=device)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, key):
        import torch
        from torch.nn.functional import one_hot

        index = self.starts[key][:, None] + self.steps
        if self.calendar is None:
            return self.rows[index]
        cells = self.calendar[index].long()
        return torch.cat([self.rows[index], one_hot(hour_of(cells), HOURS).to(self.rows.dtype),
                          one_hot(weekday_of(cells), WEEKDAYS).to(self.rows.dtype)], dim=-1)
